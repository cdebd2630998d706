-- Sharded fits: two real PostgreSQL servers (started by test/shards/run.sh)
-- each hold part of a table; this server, the coordinator, merges their
-- lmm_stats through dblink and fits.  The answer must equal the fit of the
-- whole table on one server.
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lmm;
CREATE EXTENSION IF NOT EXISTS dblink;
BEGIN;
SELECT plan(13);

-- The same rows on every server, without random(): measurements 1..6000 in
-- 40 groups crossed with 13 batches; shard 1 holds ids up to 2500, shard 2
-- the rest, so every group is split across the shards.
CREATE FUNCTION pg_temp.rows_sql(cond text) RETURNS text LANGUAGE sql AS $$
	SELECT format($q$CREATE TABLE measurements AS
		SELECT i AS id, 'site-' || (i %% 40) AS g, 'batch-' || (i %% 13) AS h,
			(i * 7919 %% 1000) / 100.0 AS x1, 10 * sin(i * 0.37) AS x2,
			3 + 0.5 * ((i * 7919 %% 1000) / 100.0) - 0.2 * 10 * sin(i * 0.37)
				+ 2 * sin((i %% 40) * 1.3) + 0.3 * cos((i %% 40) * 0.7) * ((i * 7919 %% 1000) / 100.0)
				+ 0.7 * cos((i %% 13) * 2.1) + 0.8 * sin(i * 1.7) AS y
		FROM generate_series(1, 6000) i WHERE %s$q$, cond) $$;

SELECT lives_ok(format('SELECT dblink_connect(%L, %L)', 'shard1', :'shard1'), 'connect to shard 1');
SELECT lives_ok(format('SELECT dblink_connect(%L, %L)', 'shard2', :'shard2'), 'connect to shard 2');
\o /dev/null
SELECT dblink_exec('shard1', 'DROP TABLE IF EXISTS measurements; CREATE EXTENSION IF NOT EXISTS lmm');
SELECT dblink_exec('shard2', 'DROP TABLE IF EXISTS measurements; CREATE EXTENSION IF NOT EXISTS lmm');
SELECT dblink_exec('shard1', pg_temp.rows_sql('i <= 2500'));
SELECT dblink_exec('shard2', pg_temp.rows_sql('i > 2500'));
SELECT pg_temp.rows_sql('true') \gexec
\o
SELECT is((SELECT n FROM dblink('shard1', 'SELECT count(*) FROM measurements') AS r(n bigint))
	+ (SELECT n FROM dblink('shard2', 'SELECT count(*) FROM measurements') AS r(n bigint)),
	6000::bigint, 'the shards hold 6000 rows between them');

-- Largest relative difference of fixed effects, variances, BLUPs and criterion.
CREATE FUNCTION pg_temp.maxrel(a lmm_model, b lmm_model) RETURNS float8 LANGUAGE sql AS $$
	SELECT max(abs(x - y) / greatest(scale, 1e-300)) FROM (
		SELECT fa.estimate x, fb.estimate y, abs(fb.estimate) scale
			FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term)
		UNION ALL
		SELECT va.variance, vb.variance, abs(vb.variance) FROM lmm_varcorr(a) va JOIN lmm_varcorr(b) vb
			ON va.grp IS NOT DISTINCT FROM vb.grp AND va.term1 IS NOT DISTINCT FROM vb.term1
				AND va.term2 IS NOT DISTINCT FROM vb.term2
		UNION ALL
		SELECT ra.estimate, rb.estimate, max(abs(rb.estimate)) OVER (PARTITION BY term)
			FROM lmm_ranef(a) ra JOIN lmm_ranef(b) rb USING (grp, level, term)
		UNION ALL
		SELECT (lmm_summary(a)).criterion, (lmm_summary(b)).criterion, abs((lmm_summary(b)).criterion)) d $$;

CREATE TEMP TABLE single AS
SELECT lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1]) AS m FROM measurements;

-- The README's sharded example, as written (section "Sharded fits").
CREATE TEMP TABLE sharded AS
SELECT lmm_fit(lmm_merge(s)) AS m FROM (
    SELECT s FROM dblink('shard1', 'SELECT lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1])::text FROM measurements') AS r(s lmm_stats)
    UNION ALL
    SELECT s FROM dblink('shard2', 'SELECT lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1])::text FROM measurements') AS r(s lmm_stats)
) u;

SELECT is((SELECT (lmm_summary(m)).n_obs FROM sharded), 6000::bigint, 'the sharded fit saw every row');
SELECT is((SELECT (lmm_summary(m)).n_groups FROM sharded), 40::bigint, 'groups split across shards are merged, not duplicated');
SELECT cmp_ok(pg_temp.maxrel(s.m, o.m), '<', 1e-10::float8,
	'sharded fit equals the single-server fit to 1e-10') FROM sharded s, single o;

-- What Citus does for a table distributed by the grouping column: each
-- shard computes one statistics value per group; the coordinator merges.
CREATE TEMP TABLE per_group AS
SELECT lmm_fit(lmm_merge(s), 'method=ml') AS m FROM (
    SELECT s FROM dblink('shard1', 'SELECT lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1])::text FROM measurements GROUP BY g') AS r(s lmm_stats)
    UNION ALL
    SELECT s FROM dblink('shard2', 'SELECT lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1])::text FROM measurements GROUP BY g') AS r(s lmm_stats)
) u;
SELECT cmp_ok(pg_temp.maxrel(p.m, (SELECT lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1], 'method=ml') FROM measurements)),
	'<', 1e-10::float8, 'per-group statistics from each shard, merged: equals the single-server ML fit')
FROM per_group p;

-- A model of several terms: each shard computes the statistics of the
-- formula; the coordinator merges and fits them as lmm() fits the whole
-- table, to 1e-10 in standard errors too.
CREATE FUNCTION pg_temp.se_rel(a lmm_model, b lmm_model) RETURNS float8 LANGUAGE sql AS $$
	SELECT max(abs(fa.std_error - fb.std_error) / fb.std_error)
	FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term) $$;
CREATE TEMP TABLE crossed_single AS
SELECT lmm('y ~ x1 + x2 + (x1 | g) + (1 | h)', 'measurements') AS m;
CREATE TEMP TABLE crossed_sharded AS
SELECT lmm_fit(lmm_merge(s)) AS m FROM (
    SELECT s FROM dblink('shard1', $q$SELECT lmm_stats('y ~ x1 + x2 + (x1 | g) + (1 | h)', 'measurements')::text$q$) AS r(s lmm_stats)
    UNION ALL
    SELECT s FROM dblink('shard2', $q$SELECT lmm_stats('y ~ x1 + x2 + (x1 | g) + (1 | h)', 'measurements')::text$q$) AS r(s lmm_stats)
) u;
SELECT is((SELECT row((lmm_summary(m)).n_obs,
		(SELECT count(DISTINCT grp || '/' || level) FROM lmm_ranef(m)))::text FROM crossed_sharded),
	'(6000,53)', 'the sharded several-term fit saw every row and every level of both factors once');
SELECT is((SELECT m::text::jsonb->'formula' FROM crossed_sharded), (SELECT m::text::jsonb->'formula' FROM crossed_single),
	'the sharded several-term fit carries the formula');
SELECT cmp_ok(greatest(pg_temp.maxrel(s.m, o.m), pg_temp.se_rel(s.m, o.m)), '<', 1e-10::float8,
	'sharded statistics of a crossed formula, merged: equal lmm() on one server to 1e-10') FROM crossed_sharded s, crossed_single o;
SELECT throws_ok($$SELECT lmm_merge(s) FROM (
    SELECT s FROM dblink('shard1', 'SELECT lmm_stats(y, ARRAY[x1, x2], g)::text FROM measurements') AS r(s lmm_stats)
    UNION ALL
    SELECT s FROM dblink('shard2', $q$SELECT lmm_stats('y ~ x1 + x2 + (1 | g)', 'measurements')::text$q$) AS r(s lmm_stats)) u$$,
	'22023', 'cannot merge statistics of one grouping factor with statistics of a formula',
	'one-term statistics and statistics of a formula are refused');

-- a shard whose statistics have another shape is refused with the reason
SELECT throws_ok($$SELECT lmm_merge(s) FROM (
    SELECT s FROM dblink('shard1', 'SELECT lmm_stats(y, ARRAY[x1, x2], g)::text FROM measurements') AS r(s lmm_stats)
    UNION ALL
    SELECT s FROM dblink('shard2', 'SELECT lmm_stats(y, ARRAY[x1], g)::text FROM measurements') AS r(s lmm_stats)) u$$,
	'22023', 'cannot merge statistics of different shape: 3 and 2 fixed-effect columns, 1 and 1 random-effect columns',
	'statistics of different shape are refused');
SELECT ok((SELECT count(*) FROM dblink('shard1', 'SELECT 1') AS r(x int)) = 1, 'shard 1 still answers');

\o /dev/null
SELECT dblink_disconnect('shard1');
SELECT dblink_disconnect('shard2');
\o
SELECT * FROM finish();
ROLLBACK;
