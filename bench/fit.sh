#!/usr/bin/env bash
# Fit-speed benchmark (issues 8, 22, 23).  For every (rows, groups) pair it
# makes an UNLOGGED table with generate_series and deterministic, hash-based
# pseudo-random numbers (reruns make the same data): g int, x1..x6, and
# y1 = X b + u0[g] + e (q = 1), y2 = y1 + u1[g] * x1 (q = 2); p = 7 fixed
# effects with the intercept.  For q = 1 and q = 2 it times, as medians of
# RUNS alternating rounds:
#   baseline  the same scan with lmm_fit(y, X, g[, Z]) replaced by
#             sum(array_length(X, 1)), [sum(array_length(Z, 1)),] count(g), sum(y):
#             reading the rows and building the arrays, which no aggregate
#             avoids; serial, and with PostgreSQL's default parallel
#             settings (its own aggregates' speed-up on this machine, now)
#   serial    lmm_fit(y, X, g[, Z]), max_parallel_workers_per_gather = 0
#   parallel  the same with PostgreSQL's default parallel settings (2
#             workers and the leader); EXPLAIN tells how many were planned
#   solve     lmm_fit(s) on the precomputed lmm_stats s (the final solve alone),
#             with PostgreSQL's default parallel settings (so lmm.fit_threads'
#             default splits a factor of 65,536 levels or more between
#             max_parallel_workers_per_gather + 1 threads), and again with
#             lmm.fit_threads = 1; and the state size, pg_column_size(s)
#   lme4      where R has lme4: lmer() on the same rows, exported once with
#             \copy, fit time only (data already in R), median of LME4_RUNS
# then prints one table and which of the issues' targets are met.  A
# benchmark, not a test: nothing fails on a timing.
#
# Run as root (it makes a throwaway cluster of the installed extension with
# pg_virtualenv, as postgres):
#   bash bench/fit.sh
# or against a running server with lmm installed, chosen by PGHOST/PGPORT
# (and PGDATABASE, PGUSER):
#   PGHOST=/tmp PGPORT=5497 bash bench/fit.sh
# PAIRS lists rows:groups; q = 2 runs where there are at least 3 rows a
# group.  Defaults: PAIRS="1e6:1e4 1e6:1e6 3e6:1e6" (the issues' sizes: 10^6
# rows in 10^4 groups; 10^6 groups), QS="1 2", RUNS=3, LME4_RUNS=2,
# LME4_MAX_ROWS=1e6, LME4_MAX_GROUPS=1e4 (lmer at 10^6 groups takes many
# minutes a fit), LME4=0 skips R.  About 10 minutes on 2 idle cores.
# PRELOAD=1 starts the throwaway cluster with shared_preload_libraries =
# 'lmm', so parallel workers inherit the loaded library (and OpenBLAS)
# instead of loading it each (about 10 ms a worker here).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${PGHOST:-}" ] && [ -z "${PGPORT:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "fit.sh: run as root (for a throwaway cluster), or set PGHOST/PGPORT to a server with lmm installed" >&2
		exit 1
	fi
	# both sides on the OpenBLAS kernels this CPU runs (bench/env.sh)
	. bench/env.sh
	bench_start
	cp bench/fit.sh bench/fit.R "$work/"
	chmod 644 "$work/fit.sh" "$work/fit.R"
	bench_pg_env_file "$work/pgenv"
	preload=()
	[ "${PRELOAD:-0}" = 1 ] && preload=(-o shared_preload_libraries=lmm)
	runuser -u postgres -- env PRELOAD="${PRELOAD:-0}" ${OPENBLAS_CORETYPE:+OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE} \
		pg_virtualenv -c "--environment=$work/pgenv" "${preload[@]}" -v 15 bash "$work/fit.sh"
	exit
fi

PAIRS=${PAIRS:-"1e6:1e4 1e6:1e6 3e6:1e6"}
QS=${QS:-"1 2"}
RUNS=${RUNS:-3}
LME4=${LME4:-1}
LME4_RUNS=${LME4_RUNS:-2}
LME4_MAX_ROWS=${LME4_MAX_ROWS:-1e6}
LME4_MAX_GROUPS=${LME4_MAX_GROUPS:-1e4}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results	# rows groups q baseline serial parallel workers solve bytes lme4 baseline_par solve1
: > "$results"

# An integer from 1e6-style notation.
num() { awk -v x="$1" 'BEGIN { printf "%d", x }'; }

# The median of the numbers on stdin ("-" when there are none).
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

run_psql() { PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

have_lme4=0
if [ "$LME4" = 1 ] && command -v Rscript >/dev/null &&
	Rscript -e 'suppressMessages(library(lme4))' >/dev/null 2>&1; then
	have_lme4=1
fi
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

run_psql -c "CREATE EXTENSION IF NOT EXISTS lmm"
model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
started="$(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# The psql lines that time one statement and print "label seconds".
timed() {
	printf 'SELECT clock_timestamp() AS t0 \\gset\n\\o /dev/null\n%s;\n\\o\n' "$2"
	printf "SELECT '%s ' || extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);\n" "$1"
}

for pair in $PAIRS; do
		n=$(num "${pair%%:*}")
		G=$(num "${pair##*:}")
		tab=fit_bench_${n}_${G}
		echo "== $n rows, $G groups: making $tab" >&2
		run_psql <<SQL
CREATE OR REPLACE FUNCTION pg_temp.u(i bigint, s bigint) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS \$\$ SELECT ((hashint8extended(i, s) & 4503599627370495)::float8 + 0.5) / 4503599627370496.0 \$\$;
CREATE OR REPLACE FUNCTION pg_temp.n(i bigint, s bigint) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
	AS \$\$ SELECT sqrt(-2 * ln(pg_temp.u(i, s))) * cos(2 * pi() * pg_temp.u(i, s + 1000)) \$\$;
DROP TABLE IF EXISTS $tab;
CREATE UNLOGGED TABLE $tab AS
SELECT g, x1, x2, x3, x4, x5, x6,
	2 + 0.5 * x1 - 0.3 * x2 + 0.2 * x3 + 0.1 * x4 - 0.4 * x5 + 0.8 * pg_temp.n(g, 11) + e AS y1,
	2 + 0.5 * x1 - 0.3 * x2 + 0.2 * x3 + 0.1 * x4 - 0.4 * x5 + 0.8 * pg_temp.n(g, 11)
		+ 0.4 * pg_temp.n(g, 12) * x1 + e AS y2
FROM (SELECT ((hashint8extended(i, 99) & 4503599627370495) % $G)::int AS g,
		pg_temp.n(i, 1) AS x1, 4 * pg_temp.u(i, 2) AS x2, pg_temp.n(i, 3) AS x3,
		pg_temp.u(i, 4) AS x4, pg_temp.n(i, 5) AS x5, pg_temp.n(i, 7) AS x6, pg_temp.n(i, 6) AS e
	FROM generate_series(1, $n) i) s;
VACUUM ANALYZE $tab;
SQL
		lme4_csv=""
		if [ "$have_lme4" = 1 ] && [ "$n" -le "$(num "$LME4_MAX_ROWS")" ] &&
			[ "$G" -le "$(num "$LME4_MAX_GROUPS")" ]; then
			lme4_csv=$tmp/$tab.csv
			run_psql -c "\\copy $tab TO '$lme4_csv' CSV HEADER"
		fi
		for q in $QS; do
			[ "$q" = 1 ] || [ "$n" -ge $((3 * G)) ] || continue
			X="ARRAY[x1, x2, x3, x4, x5, x6]"
			if [ "$q" = 1 ]; then
				args="y1, $X, g"
				base="sum(array_length($X, 1)), count(g), sum(y1)"
			else
				args="y2, $X, g, ARRAY[x1]"
				base="sum(array_length($X, 1)), sum(array_length(ARRAY[x1], 1)), count(g), sum(y2)"
			fi
			echo "== $n rows, $G groups, q = $q" >&2
			{
				echo "RESET ALL;"
				echo "\\o $tmp/explain"
				echo "EXPLAIN (COSTS OFF) SELECT pg_column_size(lmm_fit($args)) FROM $tab;"
				echo "\\o"
				echo "SELECT $base FROM $tab \\g /dev/null"
				for ((r = 1; r <= RUNS; r++)); do
					echo "SET max_parallel_workers_per_gather = 0;"
					timed baseline "SELECT $base FROM $tab"
					timed serial "SELECT pg_column_size(lmm_fit($args)) FROM $tab"
					echo "RESET max_parallel_workers_per_gather;"
					timed baseline_par "SELECT $base FROM $tab"
					timed parallel "SELECT pg_column_size(lmm_fit($args)) FROM $tab"
				done
				echo "SET max_parallel_workers_per_gather = 0;"
				echo "CREATE TEMP TABLE st AS SELECT lmm_stats($args) AS s FROM $tab;"
				echo "SELECT 'bytes ' || pg_column_size(s) FROM st;"
				echo "RESET max_parallel_workers_per_gather;"
				for ((r = 1; r <= RUNS; r++)); do
					timed solve "SELECT pg_column_size(lmm_fit(s)) FROM st"
					echo "SET lmm.fit_threads = 1;"
					timed solve1 "SELECT pg_column_size(lmm_fit(s)) FROM st"
					echo "RESET lmm.fit_threads;"
				done
				echo "SELECT 'crit ' || (m).criterion || ' ' || (m).n_eval FROM (SELECT lmm_summary(lmm_fit(s)) AS m FROM st OFFSET 0) t;"
			} > "$tmp/run.sql"
			run_psql -f "$tmp/run.sql" > "$tmp/out"
			workers=$(sed -n 's/.*Workers Planned: \([0-9]*\).*/\1/p' "$tmp/explain")
			pick() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/out" | median; }
			read -r _ crit n_eval < <(grep '^crit ' "$tmp/out")
			echo "   lmm: REML criterion $crit, $n_eval evaluations; medians: baseline $(pick baseline) s (parallel $(pick baseline_par) s), serial $(pick serial) s, parallel $(pick parallel) s, solve $(pick solve) s (one thread $(pick solve1) s)" >&2
			lme4_s=-
			if [ -n "$lme4_csv" ]; then
				echo "== lme4 on $n rows, $G groups, q = $q" >&2
				read -r _ lme4_s lme4_crit < <(Rscript "$script_dir/fit.R" "$lme4_csv" "$q" "$LME4_RUNS")
				awk -v a="$lme4_crit" -v b="$crit" -v t="$lme4_s" \
					'BEGIN { printf "   lme4: %.3f s, REML criterion %.6f (lmm - lme4 = %.3g)\n", t, a, b - a }' >&2
			fi
			echo "$n $G $q $(pick baseline) $(pick serial) $(pick parallel) ${workers:-0} $(pick solve) $(pick bytes) $lme4_s $(pick baseline_par) $(pick solve1)" >> "$results"
		done
		run_psql -c "DROP TABLE $tab"
		rm -f "$lme4_csv"
done

echo
echo "${model:-unknown CPU}, $(nproc) cores; lmm $(run_psql -c "SELECT extversion FROM pg_extension WHERE extname = 'lmm'"); shared_preload_libraries '$(run_psql -c "SHOW shared_preload_libraries")'; started $started; ended $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
awk '
function fmt(x, d) { return x == "-" ? "-" : sprintf("%." d "f", x) }
function ratio(a, b) { return (a == "-" || b == "-" || b == 0) ? "-" : sprintf("%.2f", a / b) }
BEGIN {
	printf "| rows | groups | q | baseline s | serial s | × baseline | parallel s | lmm speed-up | baseline parallel s | sum() speed-up | lmm / sum() speed-up | final solve s | final solve, 1 thread s | state bytes | lme4 s | lme4 / serial |\n"
	printf "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
}
{
	n = $1; G = $2; q = $3; b = $4; s = $5; par = $6; w = $7; sol = $8; by = $9; l = $10; bp = $11; sol1 = $12
	sl = s / par; sb = b / bp
	printf "| %d | %d | %d | %s | %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %d | %s | %s |\n", n, G, q, fmt(b, 3), fmt(s, 3),
		ratio(s, b), fmt(par, 3), w == 2 ? "" : " (" w " workers)", ratio(s, par), fmt(bp, 3), ratio(b, bp),
		ratio(sl, sb), fmt(sol, 3), fmt(sol1, 3), by, fmt(l, 2), ratio(l, s)
	if (n == 1000000 && G == 10000) {
		lim = q == 1 ? 1.3 : 1.6
		tgt[++nt] = sprintf("issue 23: lmm_fit <= %.1fx the scan, %d rows, %d groups, q = %d: %.2fx", lim, n, G, q, s / b)
		met[nt] = s / b <= lim
		tgt[++nt] = sprintf("issue 22: lmm speed-up >= 0.9 of sum()%ss, %d rows, q = %d: %.2f vs %.2f (%.2f)", "\047", n, q, sl, sb, sl / sb)
		met[nt] = sl >= 0.9 * sb && w == 2
		if (sb >= 1.8) {
			tgt[++nt] = sprintf("issue 22: where sum() gains >= 1.8x, lmm gains >= 1.6x, q = %d: %.2f", q, sl)
			met[nt] = sl >= 1.6
		}
	}
	if (G == 1000000 && sb > 1) {
		tgt[++nt] = sprintf("issue 22: 2 workers no slower than one process at %d groups, %d rows, q = %d (sum() gains %.2fx): %.2fx", G, n, q, sb, sl)
		met[nt] = sl >= 1
	}
	if (G == 1000000 && q == 2) {
		tgt[++nt] = sprintf("issue 23: final solve < 2 s, %d groups, q = 2 (%d rows): %.2f s", G, n, sol)
		met[nt] = sol < 2
	}
}
END {
	print ""
	if (nt == 0)
		print "(this grid covers none of the targets)"
	for (i = 1; i <= nt; i++)
		printf "- %s: %s\n", met[i] ? "met" : "NOT met", tgt[i]
}' "$results"
