#!/usr/bin/env bash
# The documentation's checks, as TAP (scripts/test.sh counts its "ok" and
# "not ok" lines as the stage "docs"): every ```sql block of README.md and
# docs/*.md runs against test/docs/setup.sql's tables, its output compared
# with the ```text block that follows it, if any; and every function of the
# extension is documented in docs/reference.md.  docs/testing.md describes
# the conventions.  Needs a server with lmm and pg_cron available (PGHOST,
# PGPORT; database postgres by default, where pg_cron lives).
set -uo pipefail
cd "$(dirname "$0")/../.."
export PGDATABASE=${PGDATABASE:-postgres}
exec perl test/docs/run.pl "$@"
