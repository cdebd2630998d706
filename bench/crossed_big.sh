#!/usr/bin/env bash
# A second factor far past the old cap of 10,000 levels (issue: a sparse
# factor for the later terms): 2,000,000 rows, y ~ x + (1 | a) + (1 | b)
# with a of 200,003 levels and b of 100,003, crossed in bands as in
# bench/crossed.sh (a = i mod 200003, b = 7 i mod 100003: each level of a
# meets ten levels of b, 21 apart), fitted once by lmer() in R and once by
# lmm() with lmm.blas_threads = 1 (BLAS_THREADS=N for N).  lmm takes the
# sparse factor (its DEBUG1 note is printed).  Needs R with lme4 and the
# installed extension; run as root (the cluster runs as postgres), or with
# PGPORT (and PGHOST) set to use a running server.  Takes about five
# minutes, most of it lme4's.  A benchmark, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
blas_threads=${BLAS_THREADS:-1}
# Both sides on the OpenBLAS kernels this CPU runs (bench/env.sh).
. bench/env.sh
bench_start

cat > "$work/bench.sql" <<SQL
CREATE EXTENSION lmm;
SET lmm.blas_threads = $blas_threads;
SELECT setseed(0.25);
CREATE TABLE big AS SELECT i, i % 200003 AS a, (i * 7) % 100003 AS b, random() AS x,
	sin(i % 200003) + 0.5 * cos((i * 7) % 100003) + random() AS y
FROM generate_series(1, 2000000) i;
\\copy big TO '$work/big.csv' CSV HEADER
CREATE TEMP TABLE t (layout text, secs float8, crit float8);
SET client_min_messages = debug1;
DO \$\$
DECLARE
	t0 timestamptz;
	m lmm_model;
BEGIN
	t0 := clock_timestamp();
	m := lmm('y ~ x + (1 | a) + (1 | b)', 'big'::regclass);
	INSERT INTO t VALUES ('big', extract(epoch FROM clock_timestamp() - t0), (lmm_summary(m)).criterion);
END \$\$;
RESET client_min_messages;
\\o $work/lmm.txt
SELECT format('%s %s %s', layout, round(secs::numeric, 1), crit) FROM t;
SQL
chmod 644 "$work/bench.sql"
touch "$work/lmm.txt" "$work/big.csv" && chmod 666 "$work"/*.txt "$work"/*.csv
bench_psql_file "$work/bench.sql" 2>&1 >/dev/null | grep -F 'lmm:' || true
BENCH_SERVER_CORE=$(cat "$work/server_core.txt")

cat > "$work/fit.R" <<'R'
suppressMessages(library(lme4))
d <- read.csv(file.path(commandArgs(TRUE)[1], "big.csv"))
d$a <- factor(d$a); d$b <- factor(d$b)
t <- system.time(m <- suppressWarnings(lmer(y ~ x + (1 | a) + (1 | b), d)))[["elapsed"]]
cat(sprintf("big %.1f %.10f\n", t, m@devcomp$cmp[["REML"]]))
R
Rscript "$work/fit.R" "$work" > "$work/lme4.txt"

printf '%-8s %12s %12s %22s %22s\n' layout "lme4 s" "lmm s" "lme4 REML criterion" "lmm REML criterion"
join <(sort "$work/lme4.txt") <(sort "$work/lmm.txt") |
	awk '{ printf "%-8s %12s %12s %22s %22s\n", $1, $2, $4, $3, $5 }'
echo "lmm.blas_threads = $blas_threads; R's OpenBLAS threads: ${OPENBLAS_NUM_THREADS:-default (all $(nproc) cores)}"
echo "$BENCH_BLAS_NOTE; the server ran core $BENCH_SERVER_CORE"
