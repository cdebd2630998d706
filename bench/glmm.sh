#!/usr/bin/env bash
# GLMM speed benchmark (issue 21): a binary random-intercept model,
#   y ~ Bernoulli(plogis(-0.5 + 0.3 x1 - 0.2 x2 + 0.1 t + u_g)), u_g ~ N(0, 1),
# x1, x2 ~ N(0, 1), t a whole number from 0 to 9, g = 1 + i mod G (p = 4 with
# the intercept), made in PostgreSQL with setseed (reruns make the same data)
# at every size of SIZES, with G = rows / 100 groups.  On the same rows it times:
#   lmm serial   SELECT lmm_fit(y, ARRAY[x1, x2, t], g, 1::float8, 0::float8,
#                'family=binomial') FROM sim (Laplace), scan included, with
#                max_parallel_workers_per_gather = 0
#   lmm 2 wk.    the same with max_parallel_workers_per_gather = 2 and every
#                other parallel setting at its default: the planner picks the
#                workers from the table's size, as for any user (EXPLAIN's
#                "Workers Planned" is printed; below 8 MB, about 1.2e5 rows
#                here, it plans none)
#   sum() serial / 2 workers: SELECT sum(y + x1 + x2 + t + g) FROM sim, the
#                gain PostgreSQL's own aggregate gets from the same workers
#   glmer        lme4's glmer(y ~ x1 + x2 + t + (1 | g), family = binomial),
#                default control, on the same rows exported with \copy,
#                system.time around the fit alone (bench/glmm.R), one run
# as the best of RUNS alternating runs (every run is printed), then one table
# with lmm's and glmer's log-likelihoods side by side and which of the
# issue's targets are met.  A benchmark, not a test: nothing fails on a timing.
#
# Run as root (it makes a throwaway cluster of the installed extension with
# pg_virtualenv, as postgres):
#   OPENBLAS_NUM_THREADS=1 bash bench/glmm.sh
# or against a running server with lmm installed, chosen by PGHOST/PGPORT
# (and PGDATABASE, PGUSER):
#   runuser -u postgres -- env PGPORT=5496 OPENBLAS_NUM_THREADS=1 bash bench/glmm.sh
# Settings: SIZES="1e5 1e6" (glmer takes about 15 s at 1e5 and 200 s at 1e6),
# RUNS=3, BLAS_THREADS=1 (lmm.blas_threads), GLMER=0 skips R.
set -euo pipefail
cd "$(dirname "$0")/.."

export LMM_COMMIT=${LMM_COMMIT:-$(git -c safe.directory='*' rev-parse --short HEAD 2>/dev/null || echo unknown)}
if [ -z "${PGHOST:-}" ] && [ -z "${PGPORT:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "glmm.sh: run as root (for a throwaway cluster), or set PGHOST/PGPORT to a server with lmm installed" >&2
		exit 1
	fi
	work=$(mktemp -d)
	chmod 755 "$work"
	trap 'rm -rf "$work"' EXIT
	cp bench/glmm.sh bench/glmm.R "$work/"
	chmod 644 "$work/glmm.sh" "$work/glmm.R"
	runuser -u postgres -- pg_virtualenv -v 15 bash "$work/glmm.sh"
	exit
fi

SIZES=${SIZES:-"1e5 1e6"}
RUNS=${RUNS:-3}
BLAS_THREADS=${BLAS_THREADS:-1}
GLMER=${GLMER:-1}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results	# rows groups serial parallel workers sum_serial sum_parallel sum_workers loglik glmer_s glmer_loglik
: > "$results"

# An integer from 1e6-style notation.
num() { awk -v x="$1" 'BEGIN { printf "%d", x }'; }

run_psql() { PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

have_lme4=0
if [ "$GLMER" = 1 ] && command -v Rscript >/dev/null &&
	Rscript -e 'suppressMessages(library(lme4))' >/dev/null 2>&1; then
	have_lme4=1
fi
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

run_psql -c "CREATE EXTENSION IF NOT EXISTS lmm"
model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
started="$(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"

# The psql lines that run one statement, whose one column is named v, and
# print "label seconds v" (v: lmm_fit's logLik, method, SD, evaluations and
# convergence; sum()'s sum).
timed() {
	printf 'SELECT clock_timestamp() AS t0 \\gset\n%s \\gset\n' "$2"
	printf "SELECT '%s ' || extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) || ' ' || :'v';\n" "$1"
}

fit="SELECT s.loglik || ' ' || s.method || ' ' || s.theta[1] || ' ' || s.n_eval || ' ' || s.converged AS v FROM (SELECT lmm_fit(y, ARRAY[x1, x2, t], g, 1::float8, 0::float8, 'family=binomial') AS m FROM sim) f, lmm_summary(f.m) s"
sum="SELECT sum(y + x1 + x2 + t + g) AS v FROM sim"

for size in $SIZES; do
	n=$(num "$size")
	G=$((n / 100))
	echo "== $n rows, $G groups: making sim" >&2
	run_psql <<SQL
SELECT setseed(0.21);
DROP TABLE IF EXISTS sim, sim_groups;
CREATE UNLOGGED TABLE sim_groups AS
SELECT g, sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS u FROM generate_series(1, $G) g;
CREATE UNLOGGED TABLE sim AS
SELECT (random() < 1 / (1 + exp(-(-0.5 + 0.3 * x1 - 0.2 * x2 + 0.1 * t + u))))::int::float8 AS y, x1, x2, t, g
FROM (SELECT 1 + i % $G AS g,
		sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS x1,
		sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS x2,
		floor(10 * random()) AS t
	FROM generate_series(1, $n) i OFFSET 0) r JOIN sim_groups USING (g);
DROP TABLE sim_groups;
VACUUM ANALYZE sim;
SQL
	csv=""
	if [ "$have_lme4" = 1 ]; then
		csv=$tmp/sim.csv
		run_psql -c "\\copy sim TO '$csv' CSV HEADER"
	fi
	echo "== $n rows, $G groups: $(run_psql -c "SELECT pg_size_pretty(pg_table_size('sim')) || ' table, ' || round(avg(y)::numeric, 3) || ' mean y' FROM sim")" >&2
	{
		echo "SET lmm.blas_threads = $BLAS_THREADS;"
		echo "SET max_parallel_workers_per_gather = 2;"
		echo "\\o $tmp/explain_fit"
		echo "EXPLAIN (COSTS OFF) $fit;"
		echo "\\o $tmp/explain_sum"
		echo "EXPLAIN (COSTS OFF) $sum;"
		echo "\\o"
		echo "SELECT count(*) FROM sim \\g /dev/null"
		for ((r = 1; r <= RUNS; r++)); do
			echo "SET max_parallel_workers_per_gather = 0;"
			timed serial "$fit"
			echo "SET max_parallel_workers_per_gather = 2;"
			timed parallel "$fit"
			echo "SET max_parallel_workers_per_gather = 0;"
			timed sum_serial "$sum"
			echo "SET max_parallel_workers_per_gather = 2;"
			timed sum_parallel "$sum"
		done
	} > "$tmp/run.sql"
	run_psql -f "$tmp/run.sql" > "$tmp/out"
	fit_workers=$(sed -n 's/.*Workers Planned: \([0-9]*\).*/\1/p' "$tmp/explain_fit")
	sum_workers=$(sed -n 's/.*Workers Planned: \([0-9]*\).*/\1/p' "$tmp/explain_sum")
	best() { awk -v k="$1" '$1 == k { print $2 }' "$tmp/out" | sort -g | head -1; }
	for k in serial parallel sum_serial sum_parallel; do
		echo "   $k: $(awk -v k="$k" '$1 == k { printf "%s%.3f", sep, $2; sep = ", " }' "$tmp/out") s" >&2
	done
	read -r _ _ loglik method theta n_eval converged < <(grep '^serial ' "$tmp/out")
	echo "   lmm: $method, logLik $loglik, SD(g) $theta, $n_eval evaluations, converged $converged;" \
		"logLik of every run: $(awk '$1 == "serial" || $1 == "parallel" { printf "%s%s", sep, $3; sep = " " }' "$tmp/out");" \
		"workers planned: lmm_fit ${fit_workers:-0}, sum() ${sum_workers:-0}" >&2
	glmer_s=- glmer_ll=-
	if [ -n "$csv" ]; then
		echo "== glmer on $n rows, $G groups" >&2
		read -r _ glmer_s glmer_ll glmer_sd glmer_warn < <(Rscript "$script_dir/glmm.R" "$csv")
		echo "   glmer: $glmer_s s, logLik $glmer_ll, SD(g) $glmer_sd, $glmer_warn warnings" >&2
		rm -f "$csv"
	fi
	echo "$n $G $(best serial) $(best parallel) ${fit_workers:-0} $(best sum_serial) $(best sum_parallel) ${sum_workers:-0} $loglik $glmer_s $glmer_ll" >> "$results"
	run_psql -c "DROP TABLE sim"
done

echo
echo "${model:-unknown CPU}, $(nproc) cores; lmm $(run_psql -c "SELECT extversion FROM pg_extension WHERE extname = 'lmm'") at commit $LMM_COMMIT;" \
	"lmm.blas_threads = $BLAS_THREADS, OPENBLAS_NUM_THREADS = ${OPENBLAS_NUM_THREADS:-unset};" \
	"$(Rscript -e 'cat(R.version.string, "lme4", format(packageVersion("lme4")))' 2>/dev/null || echo "no R");" \
	"started $started; ended $(date -u '+%H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg); best of $RUNS runs"
echo
awk '
function fmt(x, d) { return x == "-" ? "-" : sprintf("%." d "f", x) }
function ratio(a, b) { return (a == "-" || b == "-" || b == 0) ? "-" : sprintf("%.2f", a / b) }
function wk(w) { return w == 2 ? "" : " (" w " workers planned)" }
BEGIN {
	printf "| rows | groups | lmm serial s | lmm 2 workers s | lmm speed-up | sum() speed-up | glmer s | lmm serial / glmer | logLik lmm | logLik glmer |\n"
	printf "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
}
{
	n = $1; G = $2; s = $3; par = $4; w = $5; ss = $6; sp = $7; sw = $8; ll = $9; gs = $10; gll = $11
	printf "| %d | %d | %s | %s%s | %s | %s%s | %s | %s | %s | %s |\n", n, G, fmt(s, 3), fmt(par, 3), wk(w),
		ratio(s, par), ratio(ss, sp), wk(sw), fmt(gs, 2), ratio(s, gs), fmt(ll, 4), fmt(gll, 4)
	if (gs != "-") {
		tgt[++nt] = sprintf("lmm serial <= 1/20 of glmer, %d rows: 1/%.1f", n, gs / s)
		met[nt] = gs / s >= 20
		tgt[++nt] = sprintf("logLik lmm >= glmer (within 1e-6 relative), %d rows: lmm - glmer = %.3g", n, ll - gll)
		met[nt] = ll - gll >= -1e-6 * (gll < 0 ? -gll : gll)
	}
	if (w == 2 && sw == 2) {
		tgt[++nt] = sprintf("2 workers gain >= 0.9 of sum()'"'"'s gain, %d rows: %.2f / %.2f = %.2f", n, s / par, ss / sp, (s / par) / (ss / sp))
		met[nt] = (s / par) / (ss / sp) >= 0.9
	} else {
		tgt[++nt] = sprintf("2 workers gain >= 0.9 of sum()'"'"'s gain, %d rows: not measured, the planner chose %d workers for lmm_fit and %d for sum()", n, w, sw)
		met[nt] = -1
	}
}
END {
	print ""
	for (i = 1; i <= nt; i++)
		printf "- %s: %s\n", met[i] < 0 ? "n/a" : met[i] ? "met" : "NOT met", tgt[i]
}' "$results"
