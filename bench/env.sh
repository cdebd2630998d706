# bench/env.sh: sourced by the benchmarks that time lmm against lme4, so
# that both sides run the same OpenBLAS kernels, the ones this CPU can run.
#
# Why: OpenBLAS built with DYNAMIC_ARCH (Debian's 0.3.21) picks its kernels
# from the CPU's family and model, and falls back to its generic Prescott
# kernels (SSE3) on a CPU it does not know, such as a recent Xeon (family 6
# model 207), although the CPU has AVX-512: dpotrf then runs at a fifth of
# its speed.  OPENBLAS_CORETYPE overrides the choice.  PostgreSQL started by
# pg_ctlcluster (and pg_virtualenv) gets only the variables of the cluster's
# environment file, not the caller's, so the server needs the variable in
# that file and R in its own environment.
#
# After sourcing:
#   bench_start            makes the scratch directory $work (readable by
#                          postgres, removed on exit), builds the probe there
#                          and runs bench_blas_setup;
#   bench_blas_setup       decides OPENBLAS_CORETYPE (exports it when the
#                          library misdetects the CPU) and sets BENCH_BLAS_NOTE;
#   bench_pg_env_file F    writes a pg_createcluster environment file F with
#                          the same variable (pg_virtualenv -c "--environment=F");
#   bench_psql_file FILE   runs the psql script FILE as postgres, in a new
#                          database of the running server if PGPORT is set,
#                          else in a throwaway pg_virtualenv cluster given
#                          OPENBLAS_CORETYPE; sets BENCH_SERVER_CORE;
#   bench_server_core PSQL...  prints the core the server that the command
#                          PSQL... (psql and its options) connects to runs
#                          (it reads the postmaster's environment: the server
#                          on this machine, a superuser, /proc/PID/environ
#                          readable).
# BENCH_BLAS_PROBE names where the probe program is built (default: a new
# temporary directory).  LMM_BENCH_CORETYPE=asis leaves the library's own choice (to measure it);
# an OPENBLAS_CORETYPE already set is kept.

# The OpenBLAS core a process would run with the environment given as
# arguments (NAME=VALUE ...), or "not-openblas" / "none".
bench_blas_core() {
	[ -n "${BENCH_BLAS_PROBE:-}" ] || BENCH_BLAS_PROBE=$(mktemp -d)/blas_core
	if [ ! -x "$BENCH_BLAS_PROBE" ]; then
		cat > "$BENCH_BLAS_PROBE.c" <<'C'
#include <dlfcn.h>
#include <stdio.h>
/* Prints the kernel set the system BLAS picked, if it is OpenBLAS. */
int
main(void)
{
	void	   *h = dlopen("libblas.so.3", RTLD_NOW);
	char	   *(*f) (void);

	if (h == NULL)
		return puts("none") < 0;
	f = (char *(*) (void)) dlsym(h, "openblas_get_corename");
	return puts(f ? f() : "not-openblas") < 0;
}
C
		cc -O1 -o "$BENCH_BLAS_PROBE" "$BENCH_BLAS_PROBE.c" -ldl || return 1
		chmod -R a+rx "$(dirname "$BENCH_BLAS_PROBE")"
	fi
	env -u OPENBLAS_CORETYPE "$@" "$BENCH_BLAS_PROBE"
}

# The OpenBLAS core name for this CPU's instruction set, from /proc/cpuinfo
# (empty when the CPU has neither AVX-512 nor AVX2).
bench_cpu_core() {
	local flags f n=0
	flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
	for f in avx512f avx512dq avx512bw avx512vl; do
		case "$flags" in *" $f "*) n=$((n + 1)) ;; esac
	done
	if [ "$n" = 4 ]; then
		echo SkylakeX
	else
		case "$flags" in *" avx2 "*) echo Haswell ;; *) echo "" ;; esac
	fi
}

bench_blas_setup() {
	local picked want
	picked=$(bench_blas_core) || picked=unknown
	want=$(bench_cpu_core)
	if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
		BENCH_BLAS_NOTE="OpenBLAS core $(bench_blas_core OPENBLAS_CORETYPE="$OPENBLAS_CORETYPE") (OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE as given) for R and the server"
	elif [ "${LMM_BENCH_CORETYPE:-}" = asis ] || [ -z "$want" ] || [ "$picked" = not-openblas ] || [ "$picked" = none ]; then
		BENCH_BLAS_NOTE="BLAS core $picked as the library picked it (CPU's: ${want:-no AVX2})"
	else
		case "$want:$(echo "$picked" | tr 'A-Z' 'a-z')" in
		SkylakeX:skylakex | SkylakeX:cooperlake | SkylakeX:sapphirerapids | \
			Haswell:haswell | Haswell:zen | Haswell:skylakex | Haswell:cooperlake)
			BENCH_BLAS_NOTE="OpenBLAS core $picked as the library picked it, for R and the server"
			;;
		*)
			export OPENBLAS_CORETYPE=$want
			BENCH_BLAS_NOTE="OpenBLAS picked $picked on a CPU with $([ "$want" = SkylakeX ] && echo AVX-512 || echo AVX2); OPENBLAS_CORETYPE=$want for R and the server (core $(bench_blas_core OPENBLAS_CORETYPE="$want"))"
			;;
		esac
	fi
	echo "bench/env.sh: $BENCH_BLAS_NOTE" >&2
}

# The scratch directory $work, removed when the script exits, and both
# sides' OpenBLAS kernels decided (its probe built in $work).
bench_start() {
	work=$(mktemp -d)
	chmod 755 "$work"
	trap 'rm -rf "$work"' EXIT
	BENCH_BLAS_PROBE=$work/blas_core
	bench_blas_setup
}

# A pg_createcluster environment file carrying OPENBLAS_CORETYPE, if set.
bench_pg_env_file() {
	{
		echo "# environment variables for postgres processes (bench/env.sh)"
		[ -z "${OPENBLAS_CORETYPE:-}" ] || echo "OPENBLAS_CORETYPE = '$OPENBLAS_CORETYPE'"
	} > "$1"
	chmod 644 "$1"
}

bench_server_core() {
	local dir pid var
	dir=$("$@" -X -At -c 'SHOW data_directory' 2>/dev/null) || { echo unknown; return; }
	pid=$(head -1 "$dir/postmaster.pid" 2>/dev/null) || { echo unknown; return; }
	[ -r "/proc/$pid/environ" ] || { echo unknown; return; }
	var=$(tr '\0' '\n' < "/proc/$pid/environ" | grep '^OPENBLAS_CORETYPE=' || true)
	bench_blas_core ${var:+"$var"}
}

bench_psql_file() {
	local file=$1 dir db
	dir=$(dirname "$file")
	: > "$dir/server_core.txt"
	chmod 666 "$dir/server_core.txt"
	if [ -n "${PGPORT:-}" ]; then
		db=lmm_bench_$$
		runuser -u postgres -- createdb "$db"
		bench_server_core runuser -u postgres -- psql -d "$db" > "$dir/server_core.txt"
		runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -f "$file"
		runuser -u postgres -- dropdb "$db"
	else
		bench_pg_env_file "$dir/pgenv"
		declare -f bench_blas_core bench_server_core > "$dir/run.sh"
		cat >> "$dir/run.sh" <<SH
BENCH_BLAS_PROBE='$BENCH_BLAS_PROBE'
bench_server_core psql > '$dir/server_core.txt'
psql -X -q -At -v ON_ERROR_STOP=1 -f '$file'
SH
		chmod 644 "$dir/run.sh"
		runuser -u postgres -- pg_virtualenv -c "--environment=$dir/pgenv" bash "$dir/run.sh"
	fi
	BENCH_SERVER_CORE=$(cat "$dir/server_core.txt")
}
