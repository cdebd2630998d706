#!/usr/bin/env bash
# InstEval benchmark (issue: several grouping factors): lme4's InstEval,
# 73,421 rows, y ~ service + (1 | s) + (1 | d) + (1 | dept), fitted by
# lmer() in R and by lmm() in a throwaway PostgreSQL cluster, in one run on
# one machine.  Prints the median of 3 runs of each and both REML criteria.
# Needs R with lme4 (apt-get install r-cran-lme4) and the installed
# extension; run as root (the cluster runs as postgres).  With PGPORT set
# (and PGHOST, e.g. /tmp), the lmm side runs in a new database of that
# running server instead, e.g. one whose extension was installed with
# DESTDIR.  A benchmark, not a test: nothing fails on a timing.
set -euo pipefail
cd "$(dirname "$0")/.."
# lmm runs on one BLAS thread (lmm.blas_threads, the server's default) and
# R's OpenBLAS on every core, its default; BLAS_THREADS=N gives lmm N.
blas_threads=${BLAS_THREADS:-1}
# Both sides on the OpenBLAS kernels this CPU runs (bench/env.sh).
. bench/env.sh
bench_start

Rscript -e '
suppressMessages(library(lme4))
d <- InstEval
write.csv(data.frame(y = d$y, service = as.character(d$service), s = as.character(d$s),
                     d = as.character(d$d), dept = as.character(d$dept)),
          file.path(commandArgs(TRUE)[1], "insteval.csv"), row.names = FALSE, quote = FALSE)
t <- replicate(3, system.time(m <<- lmer(y ~ service + (1 | s) + (1 | d) + (1 | dept), d))[["elapsed"]])
cat(sprintf("lme4 %.3f %.10f\n", median(t), m@devcomp$cmp[["REML"]]),
    file = file.path(commandArgs(TRUE)[1], "lme4.txt"))
' "$work"
chmod 644 "$work/insteval.csv" "$work/lme4.txt"

cat > "$work/bench.sql" <<SQL
CREATE EXTENSION lmm;
SET lmm.blas_threads = $blas_threads;
CREATE TABLE insteval (y float8, service text, s text, d text, dept text);
\\copy insteval FROM '$work/insteval.csv' CSV HEADER
VACUUM ANALYZE insteval;
CREATE TEMP TABLE t (secs float8, crit float8);
DO \$\$
DECLARE
	t0 timestamptz;
	m lmm_model;
BEGIN
	FOR i IN 1..3 LOOP
		t0 := clock_timestamp();
		m := lmm('y ~ service + (1 | s) + (1 | d) + (1 | dept)', 'insteval');
		INSERT INTO t VALUES (extract(epoch FROM clock_timestamp() - t0), (lmm_summary(m)).criterion);
	END LOOP;
END \$\$;
\\o $work/lmm.txt
SELECT format('lmm %s %s', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY secs)::numeric, 3), max(crit)) FROM t;
SQL
chmod 644 "$work/bench.sql"
touch "$work/lmm.txt" && chmod 666 "$work/lmm.txt"
bench_psql_file "$work/bench.sql" >/dev/null

read -r _ lme4_s lme4_crit < "$work/lme4.txt"
read -r _ lmm_s lmm_crit < "$work/lmm.txt"
printf '%-8s %10s %22s\n' fit seconds "REML criterion"
printf '%-8s %10s %22s\n' lme4 "$lme4_s" "$lme4_crit"
printf '%-8s %10s %22s\n' lmm "$lmm_s" "$lmm_crit"
echo "lmm.blas_threads = $blas_threads; R's OpenBLAS threads: ${OPENBLAS_NUM_THREADS:-default (all $(nproc) cores)}"
echo "$BENCH_BLAS_NOTE; the server ran core $BENCH_SERVER_CORE"
awk -v a="$lme4_s" -v b="$lmm_s" 'BEGIN { printf "lmm takes %.2f of lme4'"'"'s time (target: at most 0.10)\n", b / a }'
awk -v a="$lme4_crit" -v b="$lmm_crit" 'BEGIN { printf "criterion difference lmm - lme4: %.3g (must not be positive beyond rounding)\n", b - a }'
