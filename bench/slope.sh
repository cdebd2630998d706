#!/usr/bin/env bash
# Issue 23's random-slope comparison: 200,000 rows in 2,000 groups,
# y ~ x + t + (1 + t | g), lmm through psql, connection included (the wall
# time of a psql process that connects, fits and prints the criterion),
# against lmer() with the data already in R.  Medians of RUNS (default 5),
# alternating; both sides on the OpenBLAS kernels this CPU runs
# (bench/env.sh).  A benchmark, not a test.
#   bash bench/slope.sh            (as root: a throwaway cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
. bench/env.sh
bench_start
bench_pg_env_file "$work/pgenv"

cat > "$work/run.sh" <<SH
set -euo pipefail
psql -X -q -c "CREATE EXTENSION lmm"
psql -X -q <<'SQL'
CREATE TABLE slope AS
SELECT g, x, t, 10 + 0.5 * x + 0.8 * t + u0 + u1 * t + e AS y
FROM (SELECT i % 2000 AS g, (hashint8extended(i, 1) % 1000) / 1000.0::float8 AS x,
		((i / 2000) % 10)::float8 AS t,
		((hashint8extended(i, 2) & 65535) / 65536.0::float8 - 0.5) * 2 AS e FROM generate_series(1, 200000) i) r
JOIN (SELECT j, ((hashint8extended(j, 3) & 65535) / 65536.0::float8 - 0.5) * 3 AS u0,
		((hashint8extended(j, 4) & 65535) / 65536.0::float8 - 0.5) AS u1 FROM generate_series(0, 1999) j) s ON s.j = r.g;
ANALYZE slope;
\\copy slope TO '$work/slope.csv' CSV HEADER
SQL
for ((r = 1; r <= $RUNS; r++)); do
	t0=\$(date +%s.%N)
	crit=\$(psql -X -At -c "SELECT (lmm_summary(lmm_fit(y, ARRAY[x, t], g, ARRAY[t]))).criterion FROM slope")
	echo "lmm \$(echo "\$(date +%s.%N) - \$t0" | bc) \$crit"
done > '$work/lmm.txt'
SH
touch "$work/slope.csv" "$work/lmm.txt"; chmod 666 "$work/slope.csv" "$work/lmm.txt"; chmod 644 "$work/run.sh"
runuser -u postgres -- env OPENBLAS_NUM_THREADS=1 pg_virtualenv -c "--environment=$work/pgenv" -v 15 bash "$work/run.sh" >/dev/null
Rscript -e "suppressMessages(library(lme4)); d <- read.csv('$work/slope.csv'); d\$g <- factor(d\$g);
t <- replicate($RUNS, system.time(m <<- lmer(y ~ x + t + (1 + t | g), d, REML = TRUE))[['elapsed']]);
cat(sprintf('lme4 %.3f %.10f\n', median(t), m@devcomp\$cmp[['REML']]))" > "$work/lme4.txt"
lmm_s=$(awk '{print $2}' "$work/lmm.txt" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')
lmm_c=$(awk 'NR==1 {print $3}' "$work/lmm.txt")
read -r _ lme4_s lme4_c < "$work/lme4.txt"
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $BENCH_BLAS_NOTE; $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v a="$lmm_s" -v b="$lme4_s" -v c="$lmm_c" -v d="$lme4_c" 'BEGIN {
	printf "lmm through psql (connection included): %.3f s; lmer (data in R): %.3f s; lmer / lmm = %.1f (target >= 30)\n", a, b, b / a
	printf "REML criterion: lmm %.10f, lme4 %.10f (lmm - lme4 = %.3g)\n", c, d, c - d }'
