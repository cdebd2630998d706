#!/usr/bin/env bash
# Large crossed factors (issue: several grouping factors): 200,000 rows,
# y ~ x + (1 | a) + (1 | b) with a of 20,011 levels and b of 5,003 (the
# size the issue asks the dense part to handle), fitted once by lmer() in R
# and once by lmm() with lmm.blas_threads = 1 (BLAS_THREADS=N for N), in
# two layouts:
#   random: each row's a and b drawn at random (the factor has little
#           sparsity to exploit; both fits are dense in effect);
#   banded: a = i mod 20011, b = 7 i mod 5003, so each level of a meets an
#           arithmetic run of b's and the Cholesky factor stays banded,
#           which lme4's sparse factor exploits and lmm's dense block does not.
# Needs R with lme4 and the installed extension; run as root (the cluster
# runs as postgres), or with PGPORT (and PGHOST) set to use a running server
# as in bench/insteval.sh.  Takes several minutes.  A benchmark, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
blas_threads=${BLAS_THREADS:-1}
# Both sides on the OpenBLAS kernels this CPU runs (bench/env.sh).
. bench/env.sh
bench_start

cat > "$work/bench.sql" <<SQL
CREATE EXTENSION lmm;
SET lmm.blas_threads = $blas_threads;
SELECT setseed(0.5);
CREATE TABLE random AS SELECT i, a, b, x, sin(a) + 0.5 * cos(b) + random() AS y
FROM (SELECT i, (random() * 20010)::int AS a, (random() * 5002)::int AS b, random() AS x
	FROM generate_series(1, 200000) i) s;
CREATE TABLE banded AS SELECT i, i % 20011 AS a, (i * 7) % 5003 AS b, random() AS x,
	sin(i % 20011) + 0.5 * cos((i * 7) % 5003) + random() AS y
FROM generate_series(1, 200000) i;
\\copy random TO '$work/random.csv' CSV HEADER
\\copy banded TO '$work/banded.csv' CSV HEADER
CREATE TEMP TABLE t (layout text, secs float8, crit float8);
DO \$\$
DECLARE
	t0 timestamptz;
	m lmm_model;
	l text;
BEGIN
	FOREACH l IN ARRAY ARRAY['random', 'banded'] LOOP
		t0 := clock_timestamp();
		m := lmm('y ~ x + (1 | a) + (1 | b)', l::regclass);
		INSERT INTO t VALUES (l, extract(epoch FROM clock_timestamp() - t0), (lmm_summary(m)).criterion);
	END LOOP;
END \$\$;
\\o $work/lmm.txt
SELECT format('%s %s %s', layout, round(secs::numeric, 1), crit) FROM t ORDER BY layout DESC;
SQL
chmod 644 "$work/bench.sql"
touch "$work/lmm.txt" "$work/random.csv" "$work/banded.csv" && chmod 666 "$work"/*.txt "$work"/*.csv
bench_psql_file "$work/bench.sql" >/dev/null

cat > "$work/fit.R" <<'R'
suppressMessages(library(lme4))
for (l in c("random", "banded")) {
	d <- read.csv(file.path(commandArgs(TRUE)[1], paste0(l, ".csv")))
	d$a <- factor(d$a); d$b <- factor(d$b)
	t <- system.time(m <- suppressWarnings(lmer(y ~ x + (1 | a) + (1 | b), d)))[["elapsed"]]
	cat(sprintf("%s %.1f %.10f\n", l, t, m@devcomp$cmp[["REML"]]))
}
R
Rscript "$work/fit.R" "$work" > "$work/lme4.txt"

printf '%-8s %12s %12s %22s %22s\n' layout "lme4 s" "lmm s" "lme4 REML criterion" "lmm REML criterion"
join <(sort "$work/lme4.txt") <(sort "$work/lmm.txt") |
	awk '{ printf "%-8s %12s %12s %22s %22s\n", $1, $2, $4, $3, $5 }'
echo "lmm.blas_threads = $blas_threads; R's OpenBLAS threads: ${OPENBLAS_NUM_THREADS:-default (all $(nproc) cores)}"
echo "$BENCH_BLAS_NOTE; the server ran core $BENCH_SERVER_CORE"
