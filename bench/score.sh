#!/usr/bin/env bash
# Scoring benchmark.  As root: install what is missing, build, install, and
# run bench/score.sql and bench/score_terms.sql in a throwaway cluster.
# With --here: run them against the server the PG* environment variables
# point at (lmm installed there).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--here" ]; then
	exec psql -X -f bench/score.sql -f bench/score_terms.sql
fi
bash scripts/deps.sh
make -s
make -s install
exec pg_virtualenv -t -v 15 psql -X -f bench/score.sql -f bench/score_terms.sql
