#!/usr/bin/env bash
# Parametric-bootstrap benchmark (issue 24): 1,000 replicates of a
# random-intercept model on 10^5 rows in 10^3 groups, y ~ x + (1 | g),
# lmm_bootstrap(m, 1000) against lme4's bootMer(m, FUN, nsim = 1000) on the
# same rows, FUN returning what confint(method = "boot") collects (sd, sigma,
# fixed effects).  Both start from the fitted model: lmm's time is
# lmm_bootstrap alone (the model in a table), R's bootMer alone (the data
# and the lmer fit already in R).  The target: lmm at most 1/50 of
# bootMer's time.  The table (UNLOGGED) is made with generate_series and
# hash-based pseudo-random numbers, so reruns make the same data.  A
# benchmark, not a test: nothing fails on a timing.
#
# Run as root (a throwaway cluster of the installed extension, with
# pg_virtualenv, as postgres):
#   bash bench/bootstrap.sh
# or against a running server with lmm installed, chosen by PGHOST/PGPORT:
#   PGHOST=/var/run/postgresql PGPORT=5511 PGDATABASE=boot bash bench/bootstrap.sh
# ROWS (1e5), NGROUPS (1e3), NSIM (1000), RUNS (3: lmm's median),
# LME4=0 skips R.  OPENBLAS_NUM_THREADS=1 for both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1

if [ -z "${PGHOST:-}" ] && [ -z "${PGPORT:-}" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "bootstrap.sh: run as root (for a throwaway cluster), or set PGHOST/PGPORT to a server with lmm installed" >&2
		exit 1
	fi
	work=$(mktemp -d)
	chmod 755 "$work"
	trap 'rm -rf "$work"' EXIT
	cp bench/bootstrap.sh "$work/"
	chmod 644 "$work/bootstrap.sh"
	runuser -u postgres -- pg_virtualenv -v 15 bash "$work/bootstrap.sh"
	exit
fi

ROWS=$(awk -v x="${ROWS:-1e5}" 'BEGIN { printf "%d", x }')
NGROUPS=$(awk -v x="${NGROUPS:-1e3}" 'BEGIN { printf "%d", x }')
NSIM=${NSIM:-1000}
RUNS=${RUNS:-3}
LME4=${LME4:-1}
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

run_psql() { PGOPTIONS="-c client_min_messages=warning" psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

run_psql <<SQL
CREATE EXTENSION IF NOT EXISTS lmm;
DROP TABLE IF EXISTS boot_bench, boot_bench_model;
-- a uniform number in [0, 1) from an integer, by hashing (the same data every run)
CREATE UNLOGGED TABLE boot_bench AS
WITH u AS (
	SELECT i, i % $NGROUPS AS g,
		(hashint8(i) & 2147483647)::float8 / 2147483648 AS u1,
		(hashint8(i + 1000000007) & 2147483647)::float8 / 2147483648 AS u2,
		(hashint8(i + 2000000014) & 2147483647)::float8 / 2147483648 AS u3,
		(hashint8((i % $NGROUPS) + 3000000021) & 2147483647)::float8 / 2147483648 AS v1,
		(hashint8((i % $NGROUPS) + 4000000028) & 2147483647)::float8 / 2147483648 AS v2
	FROM generate_series(1, $ROWS) i)
SELECT g, 10 * u1 AS x,
	-- Box-Muller normals: a group effect (sd 2) and a residual (sd 3)
	5 + 0.5 * 10 * u1 + 2 * sqrt(-2 * ln(1 - v1)) * cos(2 * pi() * v2)
		+ 3 * sqrt(-2 * ln(1 - u2)) * cos(2 * pi() * u3) AS y
FROM u;
CREATE UNLOGGED TABLE boot_bench_model AS SELECT lmm('y ~ x + (1 | g)', 'boot_bench') AS m;
SQL
run_psql -c "\\copy boot_bench TO '$tmp/boot_bench.csv' CSV HEADER"

times=""
for r in $(seq "$RUNS"); do
	t=$(run_psql <<SQL | tail -1
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM boot_bench_model, lmm_bootstrap(m, $NSIM, 'seed=$r') \g /dev/null
SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz);
SQL
)
	times="$times $t"
done
lmm_s=$(echo $times | tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "lmm_bootstrap, $NSIM replicates of $ROWS rows in $NGROUPS groups: runs$times s, median $lmm_s s"
run_psql -c "SELECT parameter, round(lower::numeric, 4) AS lower, round(upper::numeric, 4) AS upper FROM boot_bench_model, lmm_bootstrap(m, $NSIM)"

if [ "$LME4" = 1 ] && command -v Rscript >/dev/null; then
	cat > "$tmp/boot.R" <<'RSCRIPT'
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
d$g <- factor(d$g)
nsim <- as.integer(args[2])
m <- lmer(y ~ x + (1 | g), data = d)
fun <- function(x) c(lme4:::Cv_to_Sv(x@theta, n = lengths(x@cnms), s = sigma(x)), fixef(x))
t <- system.time(bb <- bootMer(m, fun, nsim = nsim, seed = 1))[["elapsed"]]
ci <- t(sapply(seq_along(bb$t0), function(i) boot::boot.ci(bb, type = "perc", index = i)$percent[4:5]))
cat(sprintf("bootMer %.3f\n", t))
print(cbind(estimate = bb$t0, lower = ci[, 1], upper = ci[, 2]))
RSCRIPT
	out=$(Rscript "$tmp/boot.R" "$tmp/boot_bench.csv" "$NSIM" 2>&1)
	echo "$out"
	r_s=$(echo "$out" | awk '/^bootMer / { print $2 }')
	echo "bootMer, $NSIM replicates: $r_s s"
	awk -v l="$lmm_s" -v r="$r_s" 'BEGIN { printf "lmm / bootMer = 1/%.0f (target: at most 1/50) %s\n", r / l, (r / l >= 50 ? "met" : "NOT met") }'
fi
run_psql -c "DROP TABLE boot_bench, boot_bench_model"
