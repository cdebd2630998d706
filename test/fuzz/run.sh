#!/bin/bash
# test/fuzz/run.sh [fixed | SECONDS] [HARNESS...]: build the libFuzzer
# harnesses of the PostgreSQL-free core with clang's fuzzer, address and
# undefined-behaviour sanitizers, then run each (or those named), one after
# the other, on a scratch copy of its seed corpus:
#   fixed    (the test command) replay every committed input, then mutate
#            for a fixed number of runs from a fixed seed, so that the same
#            commit always gives the same result, on a busy machine too;
#   SECONDS  (make fuzz) open-ended: mutate for SECONDS each from a random
#            seed, to look for new bugs.
# Prints one line per harness and exits non-zero if any crashed; a crashing
# input is kept in test/fuzz/artifacts/.  Run from anywhere; installs clang's
# fuzzer runtime when it is missing and we are root.
set -u

MODE=${1:-fixed}
HARNESSES="fuzz_model fuzz_stats fuzz_index fuzz_formula fuzz_profile fuzz_terms"
[ $# -gt 1 ] && { shift; HARNESSES="$*"; }
case "$MODE" in
fixed) ;;
*[!0-9]* | "")
	echo "usage: test/fuzz/run.sh [fixed | SECONDS] [HARNESS...]" >&2
	exit 2
	;;
esac
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD="$HERE/build"
ARTIFACTS="$HERE/artifacts"
CC=${FUZZ_CC:-clang}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
CFLAGS="-g -O1 -Wall -Wextra -Wno-missing-field-initializers -I$TOP/src/core"
LIBS="-llapacke -llapack -lblas -lcholmod -lsuitesparseconfig -lnlopt -lm -pthread"
CORE=$(cd "$TOP/src/core" && ls *.c | sed 's/\.c$//')

# One BLAS thread: the fits are tiny, and OpenBLAS's idle threads spinning
# on a busy machine turn milliseconds into seconds (and into timeouts).
export OPENBLAS_NUM_THREADS=1

# Mutation runs of the fixed mode, per harness: about ten seconds each on
# an idle machine of two cores.
fixed_runs() {
	case "$1" in
	fuzz_model) echo 150000 ;;
	fuzz_stats) echo 200000 ;;
	fuzz_index) echo 300000 ;;
	fuzz_formula) echo 200000 ;;
	fuzz_profile) echo 5000 ;;
	fuzz_terms) echo 1500 ;;
	*) echo 10000 ;;
	esac
}

# Nonzero status unless CC links a libFuzzer program with the sanitizers.
can_fuzz() {
	local dir
	dir=$(mktemp -d)
	printf '%s\n' '#include <stdint.h>' '#include <stddef.h>' \
		'#include <lapacke.h>' '#include <nlopt.h>' \
		'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }' >"$dir/t.c"
	"$CC" -fsanitize=fuzzer $SAN -o "$dir/t" "$dir/t.c" $LIBS >/dev/null 2>&1
	local rc=$?
	rm -rf "$dir"
	return $rc
}

if ! can_fuzz; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "fuzz: installing clang, its fuzzer runtime, LAPACKE and NLopt" >&2
		pkgs="clang libclang-rt-14-dev liblapacke-dev libnlopt-dev"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs >/dev/null ||
			{ apt-get update -q >/dev/null &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pkgs >/dev/null; }
	fi
	if ! can_fuzz; then
		echo "fuzz: $CC cannot build libFuzzer programs (install clang and libclang-rt-14-dev)" >&2
		exit 2
	fi
fi

# Build: the core and the host with coverage for the fuzzer, then each harness.
mkdir -p "$BUILD" "$ARTIFACTS"
objs=""
for f in $CORE; do
	"$CC" $CFLAGS -fsanitize=fuzzer-no-link $SAN -c "$TOP/src/core/$f.c" -o "$BUILD/$f.o" || exit 2
	objs="$objs $BUILD/$f.o"
done
"$CC" $CFLAGS $SAN -c "$TOP/test/core/host.c" -o "$BUILD/host.o" || exit 2
for h in $HARNESSES; do
	"$CC" $CFLAGS -fsanitize=fuzzer $SAN -o "$BUILD/$h" "$HERE/$h.c" $objs "$BUILD/host.o" $LIBS ||
		exit 2
done

# Run each harness on a scratch copy, so new inputs never land in the
# committed corpus.  The timeout only catches a hang: the fixed mode's
# result must not depend on how busy the machine is.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=0
for h in $HARNESSES; do
	name=${h#fuzz_}
	scratch=$(mktemp -d)
	cp "$HERE/corpus/$name/"* "$scratch/"
	dict=""
	[ -f "$HERE/$name.dict" ] && dict="-dict=$HERE/$name.dict"
	common="-timeout=120 -rss_limit_mb=2048 -artifact_prefix=$ARTIFACTS/$h- $dict"
	if [ "$MODE" = fixed ]; then
		# every committed input once, each a test of its own
		"$BUILD/$h" $common "$HERE/corpus/$name/"* >"$BUILD/$h.replay.log" 2>&1
		rc=$?
		replayed=$(ls "$HERE/corpus/$name" | wc -l)
		if [ $rc -eq 0 ]; then
			"$BUILD/$h" $common -seed=1 -runs="$(fixed_runs "$h")" -print_final_stats=1 \
				"$scratch" >"$BUILD/$h.log" 2>&1
			rc=$?
		else
			cp "$BUILD/$h.replay.log" "$BUILD/$h.log"
		fi
		what="$replayed inputs replayed, seed 1"
	else
		"$BUILD/$h" $common -max_total_time="$MODE" -print_final_stats=1 \
			"$scratch" >"$BUILD/$h.log" 2>&1
		rc=$?
		what="random seed"
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$BUILD/$h.log" | tail -1)
	if [ $rc -eq 0 ]; then
		echo "$h: ok ($what, ${runs:-0} runs)"
	else
		failed=1
		echo "$h: CRASH (see $BUILD/$h.log and $ARTIFACTS/)"
		grep -m1 -E 'ERROR: |runtime error|deadly signal|Test unit written' "$BUILD/$h.log" | sed 's/^/  /'
	fi
	rm -rf "$scratch"
done
exit $failed
