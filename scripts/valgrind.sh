#!/usr/bin/env bash
# Run pg_regress tests against a server under valgrind's memcheck, and report
# every error whose stack passes through lmm.  Not part of the test command
# (it takes about half an hour); run by hand as root after `make install`:
#
#   bash scripts/valgrind.sh                 # every pg_regress test but 05 and 15
#   bash scripts/valgrind.sh 08_scoring ...  # the tests named
#
# The server runs as postgres in a throwaway data directory on port 5495,
# each backend under memcheck (valgrind follows the postmaster's forks).
# PostgreSQL built without USE_VALGRIND writes padding bytes it never set
# (WAL records, pages, messages): scripts/valgrind.supp suppresses those
# system-call reports only.  05_interrupts (timings) and 15_big (a million
# groups) are left out of the default list: under memcheck they take hours.
# Exits non-zero when a test fails or lmm has a valgrind error.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
bin=$(pg_config --bindir)
work=$(mktemp -d)
chmod 755 "$work"
trap 'runuser -u postgres -- "$bin/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
	mapfile -t tests < <(ls test/sql | sed 's/\.sql$//' | grep -v -e '^05_interrupts$' -e '^15_big$')
fi

mkdir "$work/vg"
cp scripts/valgrind.supp "$work/"
chown -R postgres "$work"
runuser -u postgres -- "$bin/initdb" -D "$work/data" -A trust >/dev/null
runuser -u postgres -- env OPENBLAS_NUM_THREADS=1 valgrind --quiet --trace-children=yes \
	--error-limit=no --num-callers=30 --suppressions="$work/valgrind.supp" \
	--log-file="$work/vg/%p.log" "$bin/postgres" -D "$work/data" -p 5495 -k "$work" \
	-c max_parallel_workers_per_gather=2 >"$work/server.log" 2>&1 &
for i in $(seq 1 60); do
	runuser -u postgres -- psql -h "$work" -p 5495 -X -q -c 'SELECT 1' postgres >/dev/null 2>&1 && break
	sleep 1
done
runuser -u postgres -- psql -h "$work" -p 5495 -X -q -c 'SELECT 1' postgres >/dev/null ||
	{ cat "$work/server.log" "$work"/vg/*.log; exit 1; }

cp -r . "$work/src" && chown -R postgres "$work/src"
status=0
(cd "$work/src" && runuser -u postgres -- "$(pg_config --pkglibdir)/pgxs/src/test/regress/pg_regress" \
	--bindir="$bin" --host="$work" --port=5495 --inputdir=test --load-extension=lmm \
	--dbname=contrib_regression "${tests[@]}") || { status=1; cat "$work/src/regression.diffs" | head -100; }

# an error report names its kind on the line after the "==PID== " prefix;
# keep the reports whose stack mentions lmm
lmm_errors=$(cat "$work"/vg/*.log 2>/dev/null |
	awk '/^==[0-9]+== [A-Z]/ {if (rep != "" && rep ~ /lmm/) {print rep; n++} rep = $0 "\n"; next}
		 /^==[0-9]+==    (at|by) / {rep = rep $0 "\n"; next}
		 {if (rep != "" && rep ~ /lmm/) {print rep; n++} rep = ""}
		 END {if (rep ~ /lmm/) print rep}')
total=$(cat "$work"/vg/*.log 2>/dev/null | grep -cE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Syscall param|Mismatched|Source and destination)' || true)
if [ -n "$lmm_errors" ]; then
	echo "$lmm_errors"
	echo "valgrind: errors in lmm (above)"
	status=1
else
	echo "valgrind: no error in lmm (${total} error reports in all, outside lmm)"
fi
exit $status
