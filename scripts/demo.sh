#!/usr/bin/env bash
# Install what is missing, build and install lmm, then fit the bundled
# sleepstudy and Dyestuff data in a throwaway cluster and print the results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
make -s
make -s install
pg_virtualenv -t -v 15 psql -X -q -v ON_ERROR_STOP=1 -f scripts/demo.sql
