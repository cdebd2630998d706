-- Scoring benchmark (issue 5): 500,000 rows scored with lmm_predict against
-- a model of 10,000 groups and one of 1,000,000 groups (keys 0 .. n - 1, and
-- again with keys spread over the bigint range), next to the cost of
-- building and measuring the same arrays, SELECT sum(array_length(ARRAY[...], 1)).
-- Run by bench/score.sh; prints one line per query with the median of 5 runs.
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
CREATE EXTENSION IF NOT EXISTS lmm;
DROP TABLE IF EXISTS bench_fit, bench_score, bench_score_by_group, bench_score_spread, bench_models;

-- training rows: 10,000 groups x 10 rows and 1,000,000 groups x 3 rows
CREATE TABLE bench_fit AS
SELECT s.size, i % s.size AS g, sin(i * 0.37) AS x1, cos(i * 1.13) AS x2,
	1 + 0.5 * sin(i * 0.37) - 0.2 * cos(i * 1.13) + sin((i % s.size) * 1.7) + 0.5 * sin(i * 2.9) AS y
FROM (VALUES (10000, 100000), (1000000, 3000000)) s(size, nrow), generate_series(1, s.nrow) i;
CREATE TABLE bench_models (name text PRIMARY KEY, m lmm_model);
\timing on
\echo fit 10k groups (100,000 rows)
INSERT INTO bench_models SELECT 'g10k', lmm_fit(y, ARRAY[x1, x2], g) FROM bench_fit WHERE size = 10000;
\echo fit 1M groups (3,000,000 rows)
INSERT INTO bench_models SELECT 'g1m', lmm_fit(y, ARRAY[x1, x2], g) FROM bench_fit WHERE size = 1000000;
\echo fit 1M groups, keys spread over the bigint range (3,000,000 rows)
INSERT INTO bench_models SELECT 'g1m_spread', lmm_fit(y, ARRAY[x1, x2], (g::bigint * 2654435761) % 4294967291)
FROM bench_fit WHERE size = 1000000;
\timing off
-- the training rows are done with: dropped so that autovacuum does not
-- visit them while the queries below are timed
DROP TABLE bench_fit;
-- rows to score: keys spread over the 1M groups (a tenth of them in the 10k model)
CREATE TABLE bench_score AS
SELECT i AS id, ((i::bigint * 7919) % 1000000)::int AS g, sin(i * 0.11) AS x1, cos(i * 0.53) AS x2
FROM generate_series(1, 500000) i;
-- the same rows stored in group order (as a table loaded group by group is)
CREATE TABLE bench_score_by_group AS SELECT * FROM bench_score ORDER BY g;
-- the same rows with the spread keys: too far apart to address directly
CREATE TABLE bench_score_spread AS
SELECT id, (g::bigint * 2654435761) % 4294967291 AS g, x1, x2 FROM bench_score;
VACUUM ANALYZE bench_score;
VACUUM ANALYZE bench_score_by_group;
VACUUM ANALYZE bench_score_spread;
VACUUM ANALYZE bench_models;
SELECT name, pg_size_pretty(pg_column_size(m)::bigint) AS stored_size FROM bench_models ORDER BY name;
-- write out what the set-up dirtied now, not while the queries are timed
-- (needs superuser or pg_checkpoint; skipped otherwise)
DO $$ BEGIN EXECUTE 'CHECKPOINT'; EXCEPTION WHEN insufficient_privilege THEN NULL; END $$;

CREATE FUNCTION pg_temp.median_ms(q text, runs int DEFAULT 5) RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
	t float8[] := '{}';
	t0 timestamptz;
BEGIN
	EXECUTE q;		-- warm the cache
	FOR k IN 1..runs LOOP
		t0 := clock_timestamp();
		EXECUTE q;
		t := t || extract(epoch FROM clock_timestamp() - t0) * 1000;
	END LOOP;
	RETURN (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(t) x);
END $$;

CREATE TEMP TABLE timings AS
SELECT q.label, pg_temp.median_ms(q.sql) AS ms
FROM (VALUES
	(1, 'baseline: sum(array_length(ARRAY[x1, x2], 1))',
	 'SELECT sum(array_length(ARRAY[x1, x2], 1)) FROM bench_score'),
	(2, 'lmm_predict, 10k-group model',
	 'SELECT sum(lmm_predict(m.m, ARRAY[s.x1, s.x2], s.g)) FROM bench_score s, bench_models m WHERE m.name = ''g10k'''),
	(3, 'lmm_predict, 1M-group model',
	 'SELECT sum(lmm_predict(m.m, ARRAY[s.x1, s.x2], s.g)) FROM bench_score s, bench_models m WHERE m.name = ''g1m'''),
	(4, 'lmm_blup, 1M-group model',
	 'SELECT sum(lmm_blup(m.m, s.g)) FROM bench_score s, bench_models m WHERE m.name = ''g1m'''),
	(5, 'lmm_predict, 1M-group model, rows stored in group order',
	 'SELECT sum(lmm_predict(m.m, ARRAY[s.x1, s.x2], s.g)) FROM bench_score_by_group s, bench_models m WHERE m.name = ''g1m'''),
	(6, 'lmm_predict, 1M-group model, keys spread over bigint (hashed)',
	 'SELECT sum(lmm_predict(m.m, ARRAY[s.x1, s.x2], s.g)) FROM bench_score_spread s, bench_models m WHERE m.name = ''g1m_spread'''),
	(7, 'model load alone (one row), 1M-group model',
	 'SELECT lmm_blup(m, 5) FROM bench_models WHERE name = ''g1m'''),
	(8, 'model load alone (one row), 1M-group model, spread keys',
	 'SELECT lmm_blup(m, 5::bigint) FROM bench_models WHERE name = ''g1m_spread'''),
	(9, 'join lmm_ranef on level = key::text, 1M-group model',
	 'SELECT sum(r.estimate) FROM bench_score s JOIN lmm_ranef((SELECT m FROM bench_models WHERE name = ''g1m'')) r ON r.level = s.g::text')
) q(ord, label, sql) ORDER BY q.ord;

SELECT label, round(ms::numeric, 1) AS median_ms,
	round((ms / (SELECT ms FROM timings WHERE label LIKE 'baseline%'))::numeric, 2) AS x_baseline
FROM timings;
DROP TABLE bench_score, bench_score_by_group, bench_score_spread, bench_models;
