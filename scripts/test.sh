#!/usr/bin/env bash
# The whole test suite: install what is missing, build, install into a
# scratch directory, run the core unit tests, replay the fuzzers' corpus and
# fuzz from a fixed seed (test/fuzz), then pg_regress and pgTAP in a
# throwaway cluster that loads lmm from that directory (with two more
# throwaway servers as shards for the sharded test), and the documentation's
# checks (test/docs: every SQL example runs, every function is in
# docs/reference.md), and, where Citus is installed, test/citus/run.sh's
# distributed fits.  Nothing is installed
# into the system's PostgreSQL, so runs from two checkouts never collide.
# Ends with one line "N passed, M failed"; exits non-zero on any failure.
# The result depends only on the commit, not on how busy the machine is:
# one BLAS thread in every process, fuzzing by run count from a fixed seed,
# and time bounds only where a test is about stopping promptly.
set -uo pipefail
cd "$(dirname "$0")/.."
# OpenBLAS's idle threads spin; on busy cores that turns milliseconds into
# seconds.  The servers get one thread from lmm.blas_threads' default.
export OPENBLAS_NUM_THREADS=1
started=$(date +%s)
bash scripts/deps.sh || exit 1
make -s || exit 1
# Debian's PostgreSQL looks for extensions under extension_destdir first.
LMM_DESTDIR=$(mktemp -d /tmp/lmm-install.XXXXXX)
chmod 755 "$LMM_DESTDIR"
trap 'rm -rf "$LMM_DESTDIR"' EXIT
make -s install DESTDIR="$LMM_DESTDIR" >/dev/null || exit 1
export LMM_SERVER_OPTIONS="-c extension_destdir=$LMM_DESTDIR -c dynamic_library_path=$LMM_DESTDIR$(pg_config --pkglibdir):$(pg_config --pkglibdir)"

log=$(mktemp -d)
status=0

echo "== the core's layers (src/core/LAYERS): no call to a module on its own layer or above"
bash scripts/check_layers.sh | tee "$log/layers" || status=1

echo "== core unit tests"
make -s test/core/test_core || exit 1
test/core/test_core test/data | tee "$log/core" || status=1

echo "== fuzzing the core's parsers and fits (libFuzzer, ASan, UBSan): the corpus, then a fixed seed"
bash test/fuzz/run.sh fixed | tee "$log/fuzz" || status=1

echo "== pg_regress and pgTAP in a throwaway cluster"
echo "   (pg_cron preloaded; two more servers as shards for the sharded test; then the docs' examples)"
# -t: a temporary cluster directory even as root, so that runs never collide
pg_virtualenv -t -v 15 -o shared_preload_libraries=pg_cron \
	-o "extension_destdir=$LMM_DESTDIR" \
	-o "dynamic_library_path=$LMM_DESTDIR$(pg_config --pkglibdir):$(pg_config --pkglibdir)" bash -c '
	make -s installcheck; r=$?
	[ $r -ne 0 ] && cat regression.diffs 2>/dev/null | head -200
	psql -X -q -c "CREATE EXTENSION IF NOT EXISTS pgtap" >/dev/null
	pg_prove -v test/pgtap/*.sql > "'"$log"'/pgtap" 2>&1; p=$?
	bash test/shards/run.sh >> "'"$log"'/pgtap" 2>&1; s=$?
	bash test/docs/run.sh > "'"$log"'/docs" 2>&1; d=$?
	grep -E "^(not ok|# )" "'"$log"'/pgtap" | head -50
	grep -E "^(Files|Result)" "'"$log"'/pgtap"
	grep -E "^(not ok|# )" "'"$log"'/docs" | head -50
	exit $(( r || p || s || d ))' 2>&1 | tee "$log/cluster"
cluster_rc=${PIPESTATUS[0]}

echo "== Citus: a coordinator and two workers on loopback (test/citus/run.sh; skipped where Citus is not installed)"
citus_port=5701
while ss -ltn 2>/dev/null | grep -qE ":($citus_port|$((citus_port + 1))|$((citus_port + 2)))\b"; do
	citus_port=$((citus_port + 10))
done
LMM_CITUS_PORT=$citus_port LMM_DESTDIR="$LMM_DESTDIR" bash test/citus/run.sh > "$log/citus" 2>&1
citus_rc=$?
grep -E "^(not ok|1\.\.0|[0-9]+ passed)" "$log/citus"
citus_pass=$(grep -cE '^ok ' "$log/citus")
citus_fail=$(grep -cE '^not ok ' "$log/citus")
[ "$citus_rc" -ne 0 ] && [ "$citus_fail" -eq 0 ] && citus_fail=1

core_pass=$(sed -n 's/^core: \([0-9]*\) passed.*/\1/p' "$log/core")
core_fail=$(sed -n 's/^core: [0-9]* passed, \([0-9]*\) failed.*/\1/p' "$log/core")
reg_pass=$(grep -cE '^(ok|test) .* \.\.\. ok' "$log/cluster")
reg_fail=$(grep -cE '\.\.\. FAILED' "$log/cluster")
tap_pass=$(grep -cE '^ok ' "$log/pgtap")
tap_fail=$(grep -cE '^not ok ' "$log/pgtap")
docs_pass=$(grep -cE '^ok ' "$log/docs" 2>/dev/null)
docs_fail=$(grep -cE '^not ok ' "$log/docs" 2>/dev/null)
docs_pass=${docs_pass:-0}; docs_fail=${docs_fail:-0}
[ "$docs_pass" -eq 0 ] && docs_fail=$(( docs_fail + 1 ))
fuzz_pass=$(grep -cE '^fuzz_[a-z]+: ok' "$log/fuzz")
fuzz_fail=$(grep -cE '^fuzz_[a-z]+: CRASH' "$log/fuzz")
[ "$fuzz_pass" -eq 0 ] && fuzz_fail=$(( fuzz_fail + 1 ))
layers_pass=$(grep -c '^layers: ok' "$log/layers")
layers_fail=$(grep '^layers: ' "$log/layers" | grep -vc '^layers: ok')
[ $(( layers_pass + layers_fail )) -eq 0 ] && layers_fail=1
passed=$(( layers_pass + ${core_pass:-0} + fuzz_pass + reg_pass + tap_pass + docs_pass + citus_pass ))
failed=$(( layers_fail + ${core_fail:-1} + fuzz_fail + reg_fail + tap_fail + docs_fail + citus_fail ))
# a suite that failed without a failing test (a crash, a TAP parse error) counts once
if [ "$cluster_rc" -ne 0 ] && [ $(( reg_fail + tap_fail + docs_fail )) -eq 0 ]; then
	echo "the pg_regress/pgTAP run failed outside any single test"
	failed=$(( failed + 1 ))
fi
[ $failed -ne 0 ] && status=1
echo "layers $layers_pass/$((layers_pass + layers_fail)), core $core_pass/$((core_pass + core_fail)), fuzz $fuzz_pass/$((fuzz_pass + fuzz_fail)), pg_regress $reg_pass/$((reg_pass + reg_fail)), pgTAP $tap_pass/$((tap_pass + tap_fail)), docs $docs_pass/$((docs_pass + docs_fail)), citus $citus_pass/$((citus_pass + citus_fail))"
echo "took $(( $(date +%s) - started )) s (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
echo "$passed passed, $failed failed"
rm -rf "$log"
exit $status
