#!/usr/bin/env bash
# lmm on Citus: start a throwaway Citus cluster on loopback (a coordinator and
# two workers), distribute simulated tables by their grouping column, and check
#  - that every whole-table aggregate form is split into partial aggregates on
#    the workers (worker_partial_agg in the shard queries), lmm() included;
#  - that the distributed fits equal the single-server fits of the same rows
#    (fixed effects and their SEs, variance components, logLik) to 1e-10,
#    relative to max(1, |value|).
# Prints one "ok"/"not ok" line per check, timings and bytes as "#" comments,
# and "N passed, N failed"; exits non-zero on any failure.  The cluster is
# stopped and removed on exit.  Without Citus installed it says so and exits 0.
#
# Settings (environment):
#   LMM_CITUS_PORT     the coordinator's port; the workers take the next two (5701)
#   LMM_DESTDIR        a DESTDIR that `make install DESTDIR=...` filled, for an
#                      lmm that is not installed in the system
#   LMM_SERVER_OPTIONS more server options (scripts/test.sh sets it)
#   LMM_CITUS_ROWS, LMM_CITUS_GROUPS  size of the simulated table (200000, 500)
#   LMM_CITUS_SHARDS   shards per distributed table (8)
#   LMM_CITUS_KEEP=1   leave the cluster running (and say where) for measurements
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=$(pg_config --bindir)
pkglib=$(pg_config --pkglibdir)
share=$(pg_config --sharedir)
if [ ! -f "$pkglib/citus.so" ] || [ ! -f "$share/extension/citus.control" ]; then
	echo "# skip: Citus is not installed for $(pg_config --version) (no citus.so in $pkglib or citus.control in $share/extension); see docs/distributed.md"
	echo "1..0 # SKIP Citus is not installed"
	exit 0
fi
destdir=${LMM_DESTDIR:-}
if [ -z "$destdir" ]; then
	destdir=$(sed -n 's/.*extension_destdir=\([^ ]*\).*/\1/p' <<<"${LMM_SERVER_OPTIONS:-}")
fi
if [ ! -f "$destdir$share/extension/lmm.control" ]; then
	echo "# lmm is not installed: no $destdir$share/extension/lmm.control." >&2
	echo "# Run 'make install', or 'make install DESTDIR=/some/dir' and set LMM_DESTDIR=/some/dir." >&2
	exit 1
fi
port0=${LMM_CITUS_PORT:-5701}
rows=${LMM_CITUS_ROWS:-200000}
groups=${LMM_CITUS_GROUPS:-500}
shards=${LMM_CITUS_SHARDS:-8}
dir=$(mktemp -d /tmp/lmm-citus.XXXXXX)
chmod 755 "$dir"
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
[ "$(id -u)" = 0 ] && chown postgres "$dir"
nodes=(coord worker1 worker2)
stop() {
	if [ "${LMM_CITUS_KEEP:-0}" = 1 ]; then
		echo "# cluster left running in $dir (ports $port0-$((port0 + 2)))"
		return
	fi
	for n in "${nodes[@]}"; do
		[ -d "$dir/$n" ] && as_pg "$bin/pg_ctl" -D "$dir/$n" -m immediate stop >/dev/null 2>&1
	done
	rm -rf "$dir"
}
trap stop EXIT

for i in 0 1 2; do
	n=${nodes[$i]}
	as_pg "$bin/initdb" -D "$dir/$n" -A trust -U postgres >/dev/null || exit 1
	{
		echo "port = $((port0 + i))"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$dir'"
		echo "shared_preload_libraries = 'citus'"
		echo "max_worker_processes = 16"
		echo "max_connections = 100"
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = off"
		echo "citus.node_conninfo = 'sslmode=disable'"
		echo "citus.shard_count = $shards"
		if [ -n "$destdir" ]; then
			echo "extension_destdir = '$destdir'"
			echo "dynamic_library_path = '$destdir$pkglib:$pkglib'"
		fi
	} | as_pg tee -a "$dir/$n/postgresql.conf" >/dev/null
	as_pg "$bin/pg_ctl" -D "$dir/$n" -w -l "$dir/$n.log" -o "${LMM_SERVER_OPTIONS:-}" start >/dev/null || {
		cat "$dir/$n.log"
		exit 1
	}
done

export OPENBLAS_NUM_THREADS=1
psql_at() {
	local port=$1
	shift
	psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}
q() { psql_at "$port0" "$@"; }

n=0
failed=0
check() {
	local ok=$1 name=$2 diag=${3:-}
	n=$((n + 1))
	if [ "$ok" = 1 ]; then
		echo "ok $n - $name"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name"
		[ -n "$diag" ] && sed 's/^/#   /' <<<"$diag"
	fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# The cluster: Citus on every node, the workers added, lmm created on the
# coordinator (Citus creates it on the workers).
for i in 0 1 2; do
	psql_at $((port0 + i)) -c "CREATE EXTENSION citus" || exit 1
done
q >/dev/null <<SQL || exit 1
SELECT citus_set_coordinator_host('127.0.0.1', $port0);
SELECT citus_add_node('127.0.0.1', $((port0 + 1)));
SELECT citus_add_node('127.0.0.1', $((port0 + 2)));
CREATE EXTENSION lmm;
SQL
echo "# $(q -c "SELECT 'Citus ' || extversion FROM pg_extension WHERE extname = 'citus'"), lmm $(q -c "SELECT extversion FROM pg_extension WHERE extname = 'lmm'"), $(pg_config --version)"
workers_lmm=$(for i in 1 2; do psql_at $((port0 + i)) -c "SELECT count(*) FROM pg_extension WHERE extname = 'lmm'"; done | tr -d '\n')
check "$([ "$workers_lmm" = 11 ] && echo 1 || echo 0)" "CREATE EXTENSION lmm on the coordinator reached both workers"

# The data: plain tables made deterministically in SQL, copied into
# distributed tables of the same rows.
t0=$(now)
q >/dev/null <<SQL || exit 1
CREATE TABLE sim_local AS
SELECT g, x1, t, 10 + 2 * x1 + 0.5 * t + 2 * sin(g * 1.7) + 0.3 * cos(g * 2.3) * t
       + (e1 + e2 + e3 - 1.5) * 2 AS y
FROM (SELECT i % $groups + 1 AS g, sin(i * 0.37) AS x1, ((i / $groups) % 10)::float8 AS t,
             abs((sin(i * 12.9898) * 43758.5453)::numeric % 1)::float8 AS e1,
             abs((sin(i * 78.233) * 24634.6345)::numeric % 1)::float8 AS e2,
             abs((sin(i * 39.3468) * 11937.2231)::numeric % 1)::float8 AS e3
      FROM generate_series(1, $rows) i) s;
-- a binary response and a count for the GLMMs
ALTER TABLE sim_local ADD COLUMN hit boolean, ADD COLUMN n int;
UPDATE sim_local SET hit = y > 10 + 2 * x1 + 0.5 * t, n = (abs(y) * 0.3)::int;
-- the group as keys of other types: text, varchar, uuid, date, inet
ALTER TABLE sim_local ADD COLUMN gt text, ADD COLUMN gv varchar(12), ADD COLUMN gu uuid, ADD COLUMN gd date,
	ADD COLUMN gi inet;
UPDATE sim_local SET gt = 'g' || g, gv = 'g' || g, gu = md5(g::text)::uuid, gd = date '2000-01-01' + g,
	gi = ('10.' || g / 250 || '.' || g % 250 || '.1')::inet;
CREATE TABLE cr_local AS
SELECT a, b, x, 5 + 0.8 * x + 1.5 * sin(a * 1.3) + 0.8 * cos(b * 0.7)
       + (abs((sin(i * 12.9898) * 43758.5453)::numeric % 1)::float8 - 0.5) * 3 AS y
FROM (SELECT i, i % 300 + 1 AS a, (i / 300) % 40 + 1 AS b, cos(i * 0.91) AS x
      FROM generate_series(1, 50000) i) s;
CREATE TABLE sleep_local (reaction float8, days int, subject text);
\copy sleep_local FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TABLE sim (LIKE sim_local);
CREATE TABLE cr (LIKE cr_local);
CREATE TABLE sleep (LIKE sleep_local);
SELECT create_distributed_table('sim', 'g');
SELECT create_distributed_table('cr', 'a');
SELECT create_distributed_table('sleep', 'subject');
INSERT INTO sim SELECT * FROM sim_local;
INSERT INTO cr SELECT * FROM cr_local;
INSERT INTO sleep SELECT * FROM sleep_local;
-- one statistics value per group, stored in a table colocated with sim
CREATE TABLE st (g int, s lmm_stats);
SELECT create_distributed_table('st', 'g', colocate_with => 'sim');
INSERT INTO st SELECT g, lmm_stats(y, ARRAY[x1, t], g, ARRAY[t]) FROM sim GROUP BY g;
CREATE TABLE st_local AS SELECT g, lmm_stats(y, ARRAY[x1, t], g, ARRAY[t]) AS s FROM sim_local GROUP BY g;
ANALYZE;
-- fits of both kinds, to compare
CREATE TABLE fits (name text, how text, m lmm_model, secs float8);
-- the largest difference of two fits' fixed effects, SEs, variance
-- components and logLik, relative to max(1, |value|); missing rows count
-- as infinitely different
CREATE FUNCTION fit_diff(a lmm_model, b lmm_model) RETURNS float8 LANGUAGE sql STABLE AS \$\$
SELECT greatest(
  (SELECT max(coalesce(greatest(abs(x.estimate - y.estimate) / greatest(1, abs(y.estimate)),
                                abs(x.std_error - y.std_error) / greatest(1, abs(y.std_error))),
                       'Infinity'))
   FROM lmm_fixef(a) x FULL JOIN lmm_fixef(b) y USING (term)),
  (SELECT max(coalesce(abs(x.variance - y.variance) / greatest(1, abs(y.variance)), 'Infinity'))
   FROM (SELECT grp, coalesce(term1, '') t1, coalesce(term2, '') t2, variance FROM lmm_varcorr(a)) x
   FULL JOIN (SELECT grp, coalesce(term1, '') t1, coalesce(term2, '') t2, variance FROM lmm_varcorr(b)) y
   USING (grp, t1, t2)),
  (SELECT abs(x.loglik - y.loglik) / greatest(1, abs(y.loglik)) FROM lmm_summary(a) x, lmm_summary(b) y))
\$\$;
SQL
echo "# tables: sim $rows rows, $groups groups; cr 50000 rows, 300 x 40 crossed levels; sleepstudy 180 rows; $shards shards each; $(elapsed "$t0") s to build"

# 1. Partial aggregation pushed down: the shard queries of EXPLAIN VERBOSE
pushdown() {
	local name=$1 query=$2 out
	out=$(q -c "EXPLAIN (VERBOSE, COSTS OFF) $query" 2>&1)
	if grep -q worker_partial_agg <<<"$out"; then
		check 1 "pushed down: $name"
	else
		check 0 "pushed down: $name" "no worker_partial_agg in the shard query: $(grep -m1 -o 'Query: .*' <<<"$out" | cut -c1-200)"
	fi
}
spec1='{"x": ["(Intercept)", "x1", "t"], "terms": [{"group": "g", "z": ["(Intercept)", "t"], "key_type": "integer"}]}'
spec2='{"x": ["(Intercept)", "x"], "terms": [{"group": "a", "z": ["(Intercept)"], "key_type": "integer"}, {"group": "b", "z": ["(Intercept)"], "key_type": "integer"}]}'
pushdown "lmm_fit(y, x, g)" "SELECT lmm_fit(y, ARRAY[x1, t], g) FROM sim"
pushdown "lmm_fit(y, x, g, z)" "SELECT lmm_fit(y, ARRAY[x1, t], g, ARRAY[t]) FROM sim"
pushdown "lmm_fit(y, x, g, options)" "SELECT lmm_fit(y, ARRAY[x1, t], g, 'method=ml') FROM sim"
pushdown "lmm_fit(y, x, g, z, options)" "SELECT lmm_fit(y, ARRAY[x1, t], g, ARRAY[t], 'method=ml, x_names=x1,t, z_names=t, g_name=g') FROM sim"
pushdown "GLMM lmm_fit(y, x, g, weight, offset, family=binomial)" "SELECT lmm_fit(hit::int::float8, ARRAY[x1], g, 1.0, 0.05 * t, 'family=binomial') FROM sim"
pushdown "lmm_stats(y, x, g, z)" "SELECT lmm_stats(y, ARRAY[x1, t], g, ARRAY[t]) FROM sim"
pushdown "lmm_stats(y, x, g, options)" "SELECT lmm_stats(y, ARRAY[x1, t], g, 'x_names=x1,t') FROM sim"
pushdown "lmm_fit(y, x, g text, z)" "SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days]) FROM sleep"
pushdown "lmm_fit(y, x, g varchar, options)" "SELECT lmm_fit(y, ARRAY[x1, t], gv, 'method=ml') FROM sim"
pushdown "lmm_fit(y, x, g uuid)" "SELECT lmm_fit(y, ARRAY[x1, t], gu) FROM sim"
pushdown "lmm_fit(y, x, g date, z)" "SELECT lmm_fit(y, ARRAY[x1, t], gd, ARRAY[t]) FROM sim"
pushdown "lmm_fit(y, x, g inet, z)" "SELECT lmm_fit(y, ARRAY[x1, t], gi, ARRAY[t]) FROM sim"
pushdown "lmm_stats(y, x, g boolean)" "SELECT lmm_stats(y, ARRAY[x1, t], g % 3 = 0) FROM sim"
pushdown "lmm_stats(y, x, g text)" "SELECT lmm_stats(y, ARRAY[x1, t], gt) FROM sim"
pushdown "lmm_merge(s) of stored statistics" "SELECT lmm_fit(lmm_merge(s)) FROM st"
pushdown "lmm_merge over per-group lmm_stats (GROUP BY g)" "SELECT lmm_fit(lmm_merge(s)) FROM (SELECT lmm_stats(y, ARRAY[x1, t], g, ARRAY[t]) AS s FROM sim GROUP BY g) p"
pushdown "lmm_fit_terms (one term with a slope)" "SELECT lmm_fit_terms(y, ARRAY[1, x1, t], ARRAY[g::text], ARRAY[1, t], '$spec1') FROM sim"
pushdown "lmm_fit_terms (crossed, options)" "SELECT lmm_fit_terms(y, ARRAY[1, x], ARRAY[a::text, b::text], ARRAY[1, 1], '$spec2', 'method=ml') FROM cr"
pushdown "lmm_stats_terms (crossed)" "SELECT lmm_stats_terms(y, ARRAY[1, x], ARRAY[a::text, b::text], ARRAY[1, 1], '$spec2') FROM cr"

# lmm() plans its lmm_fit_terms query itself: the remote commands show it
# (keys travel as text there, so text keys such as sleepstudy's push down too)
lmm_pushdown() {
	local formula=$1 table=$2 options=${3:-} out
	out=$(q -c "SET citus.log_remote_commands = on" -c "SELECT (lmm_summary(lmm('$formula', '$table'${options:+, '$options'}))).n_obs" 2>&1)
	if grep -q worker_partial_agg <<<"$out"; then
		check 1 "pushed down: lmm('$formula', '$table'${options:+, '$options'}) (citus.log_remote_commands)"
	else
		check 0 "pushed down: lmm('$formula', '$table'${options:+, '$options'}) (citus.log_remote_commands)" \
			"no worker_partial_agg in the remote commands: $(grep -m1 -o 'issuing SELECT.*' <<<"$out" | cut -c1-200)"
	fi
}
lmm_pushdown 'y ~ x1 + t + (t | g)' sim
lmm_pushdown 'hit ~ x1 + (1 | g)' sim 'family=binomial'
lmm_pushdown 'y ~ x + (1 | a) + (1 | b)' cr
lmm_pushdown 'reaction ~ days + (days | subject)' sleep

# 2. The answers: each distributed fit against the single-server fit
fit() {
	local name=$1 how=$2 query=$3 t
	t=$(now)
	q -c "INSERT INTO fits SELECT \$n\$$name\$n\$, '$how', ($query), NULL" || return 1
	q -c "UPDATE fits SET secs = $(elapsed "$t") WHERE name = \$n\$$name\$n\$ AND how = '$how'"
}
same() {
	local name=$1 dist=$2 local_=$3 d
	fit "$name" dist "$dist"
	fit "$name" local "$local_"
	d=$(q -c "SELECT coalesce(fit_diff(d.m, l.m)::text, 'no fit') FROM fits d JOIN fits l USING (name) WHERE name = \$n\$$name\$n\$ AND d.how = 'dist' AND l.how = 'local'")
	if awk -v d="$d" 'BEGIN { exit !(d + 0 == d && d <= 1e-10) }'; then
		check 1 "same fit: $name (largest relative difference $d)"
	else
		check 0 "same fit: $name" "largest relative difference: ${d:-none}"
	fi
}
same "lmm_fit(y, x, g)" \
	"SELECT lmm_fit(y, ARRAY[x1, t], g) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], g) FROM sim_local"
same "lmm_fit(y, x, g, z)" \
	"SELECT lmm_fit(y, ARRAY[x1, t], g, ARRAY[t]) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], g, ARRAY[t]) FROM sim_local"
same "lmm_fit(y, x, g, z, 'method=ml')" \
	"SELECT lmm_fit(y, ARRAY[x1, t], g, ARRAY[t], 'method=ml') FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], g, ARRAY[t], 'method=ml') FROM sim_local"
same "per-group form lmm_fit(lmm_merge(lmm_stats ... GROUP BY g))" \
	"SELECT lmm_fit(lmm_merge(s)) FROM (SELECT lmm_stats(y, ARRAY[x1, t], g, ARRAY[t]) AS s FROM sim GROUP BY g) p" \
	"SELECT lmm_fit(y, ARRAY[x1, t], g, ARRAY[t]) FROM sim_local"
same "lmm_fit(lmm_merge(s)) of a distributed table of statistics" \
	"SELECT lmm_fit(lmm_merge(s)) FROM st" \
	"SELECT lmm_fit(lmm_merge(s)) FROM st_local"
same "GLMM lmm_fit(hit, x, g, weight, offset, 'family=binomial')" \
	"SELECT lmm_fit(hit::int::float8, ARRAY[x1], g, 1.0, 0.05 * t, 'family=binomial') FROM sim" \
	"SELECT lmm_fit(hit::int::float8, ARRAY[x1], g, 1.0, 0.05 * t, 'family=binomial') FROM sim_local"
same "GLMM lmm('n ~ x1 + (1 | g)', 'family=poisson')" \
	"SELECT lmm('n ~ x1 + (1 | g)', 'sim', 'family=poisson')" \
	"SELECT lmm('n ~ x1 + (1 | g)', 'sim_local', 'family=poisson')"
same "lmm('y ~ x1 + t + (t | g)')" \
	"SELECT lmm('y ~ x1 + t + (t | g)', 'sim')" \
	"SELECT lmm('y ~ x1 + t + (t | g)', 'sim_local')"
same "lmm_fit_terms (one term with a slope)" \
	"SELECT lmm_fit_terms(y, ARRAY[1, x1, t], ARRAY[g::text], ARRAY[1, t], '$spec1') FROM sim" \
	"SELECT lmm_fit_terms(y, ARRAY[1, x1, t], ARRAY[g::text], ARRAY[1, t], '$spec1') FROM sim_local"
same "crossed lmm('y ~ x + (1 | a) + (1 | b)')" \
	"SELECT lmm('y ~ x + (1 | a) + (1 | b)', 'cr')" \
	"SELECT lmm('y ~ x + (1 | a) + (1 | b)', 'cr_local')"
same "crossed lmm_fit_terms(..., 'method=ml')" \
	"SELECT lmm_fit_terms(y, ARRAY[1, x], ARRAY[a::text, b::text], ARRAY[1, 1], '$spec2', 'method=ml') FROM cr" \
	"SELECT lmm_fit_terms(y, ARRAY[1, x], ARRAY[a::text, b::text], ARRAY[1, 1], '$spec2', 'method=ml') FROM cr_local"
same "lmm_fit(y, x, g text, z)" \
	"SELECT lmm_fit(y, ARRAY[x1, t], gt, ARRAY[t]) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], gt, ARRAY[t]) FROM sim_local"
same "lmm_fit(y, x, g uuid)" \
	"SELECT lmm_fit(y, ARRAY[x1, t], gu) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], gu) FROM sim_local"
same "lmm_fit(y, x, g inet, z)" \
	"SELECT lmm_fit(y, ARRAY[x1, t], gi, ARRAY[t]) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], gi, ARRAY[t]) FROM sim_local"
same "lmm_fit(y, x, g date, z, 'method=ml')" \
	"SELECT lmm_fit(y, ARRAY[x1, t], gd, ARRAY[t], 'method=ml') FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], gd, ARRAY[t], 'method=ml') FROM sim_local"
same "sleepstudy lmm_fit(reaction, days, subject, days)" \
	"SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days]) FROM sleep" \
	"SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days]) FROM sleep_local"
same "sleepstudy lmm('Reaction ~ Days + (Days | Subject)')" \
	"SELECT lmm('reaction ~ days + (days | subject)', 'sleep')" \
	"SELECT lmm('reaction ~ days + (days | subject)', 'sleep_local')"
# lme4's numbers for sleepstudy (REML criterion 1743.6283, fixef 251.405105, 10.467286)
ok=$(q -c "SELECT bool_and(abs(d - r) < 1e-4) FROM (VALUES
	((SELECT (lmm_summary(m)).criterion FROM fits WHERE name LIKE 'sleepstudy lmm(%' AND how = 'dist'), 1743.6282721),
	((SELECT estimate FROM fits, lmm_fixef(m) WHERE name LIKE 'sleepstudy lmm(%' AND how = 'dist' AND term = '(Intercept)'), 251.405105),
	((SELECT estimate FROM fits, lmm_fixef(m) WHERE name LIKE 'sleepstudy lmm(%' AND how = 'dist' AND term = 'days'), 10.467286)) v(d, r)")
check "$([ "$ok" = t ] && echo 1 || echo 0)" "distributed sleepstudy fit gives lme4's criterion and fixed effects"

# Timings and bytes, for docs/distributed.md (not asserted)
q -F ' ' -c "SELECT '# time: ' || rpad(name, 60) || ' distributed ' || round(d.secs::numeric, 3) || ' s, single server ' || round(l.secs::numeric, 3) || ' s'
	FROM fits d JOIN fits l USING (name) WHERE d.how = 'dist' AND l.how = 'local' ORDER BY name"
# What the shards ship for a whole-table form: worker_partial_agg hands each
# shard's state over in its text form (EXPLAIN ANALYZE cannot show it: Citus
# issue 4043, "column field_0 has pseudo-type cstring")
b=$(q -c "SELECT sum(result::bigint) FROM run_command_on_shards('sim',
	\$c\$SELECT octet_length(lmm_stats(y, ARRAY[x1, t], g, ARRAY[t])::text) FROM %s\$c\$)")
echo "# shipped: $b bytes of text states from $shards shards for lmm_fit(y, ARRAY[x1, t], g, ARRAY[t]) over sim ($groups groups)"
# Key types without a form of their own (here an enum) take the anyelement
# aggregates, whose internal state Citus cannot ship: their rows are
# gathered to the coordinator (as docs/distributed.md says), with the same
# answer
# 24 labels: a slope's variance is then well determined, so the distributed
# fit equals the single server's to 1e-10 (checked at 2*10^5 and 10^6 rows;
# with 3 labels it differed by 9.7e-10 at 10^6)
q -c "CREATE TYPE sim_mood AS ENUM ($(seq -f "'m%02g'" -s, 1 24))" >/dev/null
q -c "CREATE TYPE sim_pair AS (a int, b text)" >/dev/null
q -c "CREATE TYPE sim_mood_pair AS (m sim_mood, k int)" >/dev/null
mood="(enum_range(NULL::sim_mood))[1 + g % 24]"
out=$(q -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT lmm_fit(y, ARRAY[x1], $mood) FROM sim" 2>&1)
if grep -q "Citus" <<<"$out" && ! grep -q worker_partial_agg <<<"$out"; then
	check 1 "enum keys (anyelement form): rows gathered to the coordinator, as documented"
else
	check 0 "enum keys (anyelement form): rows gathered to the coordinator, as documented" "$(head -c 300 <<<"$out")"
fi
same "lmm_fit(y, x, g enum), rows gathered" \
	"SELECT lmm_fit(y, ARRAY[x1], $mood) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1], $mood) FROM sim_local"
# lmm_create_key_forms gives a type forms of its own, which Citus creates on
# the workers and pushes down: an enum, an array and a composite type
made=$(q -c "SELECT count(*) FILTER (WHERE created) FROM unnest(ARRAY['sim_mood', 'integer[]', 'sim_pair', 'sim_mood[]', 'sim_mood_pair']::regtype[]) k, lmm_create_key_forms(k)")
on_workers=$(q -c "SELECT string_agg(result, ',') FROM run_command_on_workers(\$c\$SELECT count(*) FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
	WHERE p.proname IN ('lmm_fit', 'lmm_stats') AND p.proargtypes[2] IN ('sim_mood'::regtype, 'integer[]'::regtype, 'sim_pair'::regtype,
		'sim_mood[]'::regtype, 'sim_mood_pair'::regtype)\$c\$)")
check "$([ "$made:$on_workers" = "50:50,50" ] && echo 1 || echo 0)" \
	"lmm_create_key_forms: 10 forms each for an enum, arrays and composites (of built-in and user types), on the coordinator and every worker" \
	"created $made; on the workers $on_workers"
pushdown "lmm_fit(y, x, g enum) after lmm_create_key_forms" "SELECT lmm_fit(y, ARRAY[x1], $mood) FROM sim"
pushdown "lmm_fit(y, x, g enum, z, options) after lmm_create_key_forms" "SELECT lmm_fit(y, ARRAY[x1, t], $mood, ARRAY[t], 'method=ml') FROM sim"
pushdown "lmm_stats(y, x, g enum) after lmm_create_key_forms" "SELECT lmm_stats(y, ARRAY[x1], $mood) FROM sim"
pushdown "lmm_fit(y, x, g integer[]) after lmm_create_key_forms" "SELECT lmm_fit(y, ARRAY[x1, t], ARRAY[g % 7, g % 5]) FROM sim"
pushdown "lmm_fit(y, x, g composite) after lmm_create_key_forms" "SELECT lmm_fit(y, ARRAY[x1, t], ROW(g % 7, 'p' || g % 5)::sim_pair) FROM sim"
same "lmm_fit(y, x, g enum), pushed down" \
	"SELECT lmm_fit(y, ARRAY[x1], $mood) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1], $mood) FROM sim_local"
d=$(q -c "SELECT fit_diff(a.m, b.m) FROM fits a, fits b WHERE a.name = 'lmm_fit(y, x, g enum), pushed down' AND a.how = 'dist'
	AND b.name = 'lmm_fit(y, x, g enum), rows gathered' AND b.how = 'dist'")
check "$(awk -v d="$d" 'BEGIN { print (d + 0 == d && d <= 1e-10) ? 1 : 0 }')" \
	"enum keys: the pushed-down fit equals the gathered one (largest relative difference $d)"
same "lmm_fit(y, x, g enum, z, 'method=ml'), pushed down" \
	"SELECT lmm_fit(y, ARRAY[x1, t], $mood, ARRAY[t], 'method=ml') FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], $mood, ARRAY[t], 'method=ml') FROM sim_local"
same "lmm_fit(y, x, g integer[]), pushed down" \
	"SELECT lmm_fit(y, ARRAY[x1, t], ARRAY[g % 7, g % 5]) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], ARRAY[g % 7, g % 5]) FROM sim_local"
# arrays and composites of a user type: their binary forms name the
# element types by OID, which differ between nodes (see docs/distributed.md)
oids=$(q -c "SELECT 'sim_mood'::regtype::oid || ' ' || string_agg(result, ' ') FROM run_command_on_workers(\$c\$SELECT 'sim_mood'::regtype::oid\$c\$)")
check "$(awk '{ print ($1 != $2 && $1 != $3) ? 1 : 0 }' <<<"$oids")" \
	"the enum's OID differs between the coordinator and the workers ($oids), so its arrays' and composites' binary forms differ" "$oids"
pushdown "lmm_fit(y, x, g enum[]) after lmm_create_key_forms" "SELECT lmm_fit(y, ARRAY[x1, t], ARRAY[$mood]) FROM sim"
pushdown "lmm_fit(y, x, g composite of an enum) after lmm_create_key_forms" "SELECT lmm_fit(y, ARRAY[x1, t], ROW($mood, g % 2)::sim_mood_pair) FROM sim"
same "lmm_fit(y, x, g enum[]), pushed down" \
	"SELECT lmm_fit(y, ARRAY[x1, t], ARRAY[$mood]) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], ARRAY[$mood]) FROM sim_local"
same "lmm_fit(y, x, g composite of an enum), pushed down" \
	"SELECT lmm_fit(y, ARRAY[x1, t], ROW($mood, g % 2)::sim_mood_pair) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], ROW($mood, g % 2)::sim_mood_pair) FROM sim_local"
# two forms pushed down in one query, each with its own key type
two=$(q -c "SELECT fit_diff(a, c) <= 1e-10 AND fit_diff(lmm_fit(b), lmm_fit(d)) <= 1e-10
	FROM (SELECT lmm_fit(y, ARRAY[x1], $mood) a, lmm_stats(y, ARRAY[x1, t], gu) b FROM sim) p,
	     (SELECT lmm_fit(y, ARRAY[x1], $mood) c, lmm_stats(y, ARRAY[x1, t], gu) d FROM sim_local) l" 2>&1)
plan=$(q -c "EXPLAIN (VERBOSE, COSTS OFF) SELECT lmm_fit(y, ARRAY[x1], $mood), lmm_stats(y, ARRAY[x1, t], gu) FROM sim" 2>&1)
check "$([ "$two" = t ] && [ "$(grep -o 'worker_partial_agg(' <<<"$plan" | wc -l)" -ge 2 ] && echo 1 || echo 0)" \
	"two forms in one pushed-down query (enum lmm_fit, uuid lmm_stats): both equal one server's" "$two"
same "lmm_fit(y, x, g composite), pushed down" \
	"SELECT lmm_fit(y, ARRAY[x1, t], ROW(g % 7, 'p' || g % 5)::sim_pair) FROM sim" \
	"SELECT lmm_fit(y, ARRAY[x1, t], ROW(g % 7, 'p' || g % 5)::sim_pair) FROM sim_local"

echo "$((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
