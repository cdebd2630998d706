#!/usr/bin/env bash
# Scoring benchmark: bash bench/score.sh (as root: builds, installs, and runs
# bench/score.sql in a throwaway cluster; or set PGDATABASE etc. and pass
# --here to use a running server where lmm is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--here" ]; then
	exec psql -X -f bench/score.sql
fi
make -s && make -s install
chmod -R a+rX .
exec runuser -u postgres -- pg_virtualenv -v 15 psql -X -f bench/score.sql
