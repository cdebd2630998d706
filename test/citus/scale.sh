#!/usr/bin/env bash
# Measurements behind docs/distributed.md's "Planning at scale", on one plain
# PostgreSQL server with lmm installed (PGHOST/PGPORT/PGUSER/PGDATABASE as for
# psql; it creates and drops tables named lmm_scale_*).  Prints
#  1. the bytes of an lmm_stats value (binary and text form) for q = 1, 2 and
#     p = 3, 7 as the number of groups grows;
#  2. for 10^4, 10^5 and 10^6 groups (4 rows each; LMM_SCALE_GROUPS to change):
#     the time to compute 16 partial values (as 16 shards would), to write and
#     read them as text (what Citus ships), to merge them (lmm_merge) and to
#     fit the merged value (lmm_fit), each with the backend's peak resident
#     memory, and the bytes of the merged value and of the model.
# Nothing is asserted: these are numbers for the documentation.
set -uo pipefail
export OPENBLAS_NUM_THREADS=1
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
P() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# A table of groups*per rows: six covariates, a slope covariate t.
make_rows() {
	local groups=$1 per=$2
	P <<SQL
DROP TABLE IF EXISTS lmm_scale_rows;
CREATE UNLOGGED TABLE lmm_scale_rows AS
SELECT i % $groups + 1 AS g, (i / $groups) % $per AS k, sin(i * 0.37) AS x1, cos(i * 0.53) AS x2,
       sin(i * 0.71) AS x3, cos(i * 0.97) AS x4, sin(i * 1.31) AS x5, ((i / $groups) % 10)::float8 AS t,
       2 * sin((i % $groups + 1) * 1.7) + 0.4 * x + (hashint4(i) & 65535) / 16384.0 AS y
FROM (SELECT i, sin(i * 0.37) AS x FROM generate_series(0, $groups * $per - 1) i) s;
SQL
}

echo "# 1. bytes of one lmm_stats value (integer keys)"
echo "# groups q p binary_bytes text_bytes binary_per_group"
for groups in 1 10 100 1000 10000 100000; do
	make_rows "$groups" 3
	P -F ' ' <<SQL
SELECT $groups, q, p, pg_column_size(s), octet_length(s::text),
       round((pg_column_size(s))::numeric / $groups, 1)
FROM (SELECT 1 AS q, 3 AS p, lmm_stats(y, ARRAY[x1, t], g) AS s FROM lmm_scale_rows
      UNION ALL
      SELECT 2, 3, lmm_stats(y, ARRAY[x1, t], g, ARRAY[t]) FROM lmm_scale_rows
      UNION ALL
      SELECT 1, 7, lmm_stats(y, ARRAY[x1, x2, x3, x4, x5, t], g) FROM lmm_scale_rows
      UNION ALL
      SELECT 2, 7, lmm_stats(y, ARRAY[x1, x2, x3, x4, x5, t], g, ARRAY[t]) FROM lmm_scale_rows) v
ORDER BY q, p;
SQL
done

# One statement in a fresh backend: prints its time in seconds and the
# backend's peak resident memory in kB (shared buffers it touched included).
timed() {
	local pid_file out
	pid_file=$(mktemp)
	out=$(P <<SQL
\o $pid_file
SELECT pg_backend_pid();
\o
\timing on
$1;
\! grep VmHWM /proc/\$(cat $pid_file)/status
SQL
)
	rm -f "$pid_file"
	echo "$(grep '^Time' <<<"$out" | tail -1 | awk '{ printf "%.3f", $2 / 1000 }') $(grep -o 'VmHWM:[[:space:]]*[0-9]*' <<<"$out" | awk '{ print $2 }')"
}

echo "# 2. coordinator work for 16 partial values (as from 16 shards), p = 3, q = 2"
echo "# columns: groups rows; seconds to compute the 16 values from the rows; seconds and peak kB to"
echo "# write them as text, to read that text back, to merge the 16 values (lmm_merge) into one,"
echo "# to fit the merged value (lmm_fit); bytes of the merged value and of the model"
for groups in ${LMM_SCALE_GROUPS:-10000 100000 1000000}; do
	make_rows "$groups" 4
	# values stored uncompressed (STORAGE EXTERNAL), so that sizes and times
	# are those of the values themselves
	P -c "DROP TABLE IF EXISTS lmm_scale_parts, lmm_scale_text, lmm_scale_merged" \
		-c "CREATE UNLOGGED TABLE lmm_scale_parts (part int, s lmm_stats)" \
		-c "ALTER TABLE lmm_scale_parts ALTER s SET STORAGE EXTERNAL" \
		-c "CREATE UNLOGGED TABLE lmm_scale_text (part int, s text)" \
		-c "ALTER TABLE lmm_scale_text ALTER s SET STORAGE EXTERNAL" \
		-c "CREATE UNLOGGED TABLE lmm_scale_merged (s lmm_stats)" \
		-c "ALTER TABLE lmm_scale_merged ALTER s SET STORAGE EXTERNAL"
	partial=$(timed "INSERT INTO lmm_scale_parts SELECT g % 16, lmm_stats(y, ARRAY[x1, t], g, ARRAY[t]) FROM lmm_scale_rows GROUP BY 1" | cut -d' ' -f1)
	P -c "INSERT INTO lmm_scale_text SELECT part, s::text FROM lmm_scale_parts"
	text_out=$(timed "SELECT sum(octet_length(s::text)) FROM lmm_scale_parts")
	text_in=$(timed "SELECT sum(pg_column_size(s::lmm_stats)) FROM lmm_scale_text")
	merge=$(timed "INSERT INTO lmm_scale_merged SELECT lmm_merge(s) FROM lmm_scale_parts")
	fit=$(timed "SELECT (lmm_summary(lmm_fit(s))).n_groups FROM lmm_scale_merged")
	bytes=$(P -F ' ' -c "SELECT pg_column_size(s), pg_column_size(lmm_fit(s)) FROM lmm_scale_merged")
	echo "$groups $((groups * 4)) partial $partial; text_out $text_out; text_in $text_in; merge $merge; fit $fit; bytes $bytes"
done
P -c "DROP TABLE IF EXISTS lmm_scale_rows, lmm_scale_parts, lmm_scale_text, lmm_scale_merged"
