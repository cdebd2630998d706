-- Scoring benchmark for models of several terms: 1,000,000 rows scored with
-- lmm_predict(m, x, keys text[]) and lmm_blup against a model of two
-- crossed terms, 100,000 levels in the first and 1,000 in the second, keyed
-- by integers (as lmm() makes it for integer columns) and by text (as
-- lmm() made it before keys kept their type).  The models are made through
-- the text form from a small fit (no fit of 100,000 levels is timed); a
-- version of lmm that refuses integer keys in a later term times only the
-- text-keyed one.  Run by bench/score.sh after score.sql; prints one line
-- per query with the median and the fastest of 5 runs, in wall-clock time
-- and in the backend's CPU time (from /proc/self/stat, so Linux and a
-- superuser only; NULL otherwise): on a machine shared with other work the
-- fastest run is the one least disturbed.
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET max_parallel_workers_per_gather = 0;
CREATE EXTENSION IF NOT EXISTS lmm;
DROP TABLE IF EXISTS bench_terms_fit, bench_terms_score, bench_terms_models;

CREATE TABLE bench_terms_fit AS
SELECT i, i % 7 AS a, i % 5 AS b, sin(i * 0.37) AS x,
	sin(i * 0.37) + sin((i % 7) * 1.7) + cos((i % 5) * 2.3) + 0.5 * sin(i * 2.9) AS y
FROM generate_series(1, 200) i;
CREATE TABLE bench_terms_models (name text PRIMARY KEY, m lmm_model);

-- a template with two scalar terms, its terms replaced by large ones
CREATE FUNCTION pg_temp.big_model(key_type text) RETURNS lmm_model
LANGUAGE sql AS $$
SELECT jsonb_set(jsonb_set(jsonb_set(jsonb_set(lmm('y ~ x + (1 | a) + (1 | b)', 'bench_terms_fit')::text::jsonb - 'terms_stats', '{lmm_model}', '3'),
	'{n_obs}', '3000000'), '{n_groups}', '100000'),
	'{random}', jsonb_build_array(
		(SELECT jsonb_build_object('grp', 'a', 'key_type', key_type, 'terms', '["(Intercept)"]'::jsonb,
				'theta', '[0.8]'::jsonb,
				'levels', jsonb_agg(j::text ORDER BY j),
				'b', jsonb_agg(jsonb_build_array(sin(j * 1.7)) ORDER BY j),
				'condvar', jsonb_agg(jsonb_build_array(0.1 + 0.01 * cos(j)) ORDER BY j))
		 FROM generate_series(1, 100000) j),
		(SELECT jsonb_build_object('grp', 'b', 'key_type', key_type, 'terms', '["(Intercept)"]'::jsonb,
				'theta', '[0.5]'::jsonb,
				'levels', jsonb_agg(j::text ORDER BY j),
				'b', jsonb_agg(jsonb_build_array(cos(j * 2.3)) ORDER BY j),
				'condvar', jsonb_agg(jsonb_build_array(0.05) ORDER BY j))
		 FROM generate_series(1, 1000) j)))::text::lmm_model
$$;
INSERT INTO bench_terms_models VALUES ('text', pg_temp.big_model('text'));
DO $$
BEGIN
	INSERT INTO bench_terms_models VALUES ('integer', pg_temp.big_model('integer'));
EXCEPTION WHEN invalid_text_representation THEN
	RAISE WARNING 'this lmm refuses integer keys in a later term: only the text-keyed model is timed';
END $$;
DROP TABLE bench_terms_fit;

-- rows to score: keys spread over both terms' levels
CREATE TABLE bench_terms_score AS
SELECT i AS id, ((i::bigint * 7919) % 100000)::int + 1 AS a, i % 1000 + 1 AS b, sin(i * 0.11) AS x
FROM generate_series(1, 1000000) i;
VACUUM ANALYZE bench_terms_score;
VACUUM ANALYZE bench_terms_models;
SELECT name, pg_size_pretty(pg_column_size(m)::bigint) AS stored_size FROM bench_terms_models ORDER BY name;
DO $$ BEGIN EXECUTE 'CHECKPOINT'; EXCEPTION WHEN insufficient_privilege THEN NULL; END $$;

-- this backend's user and system CPU time in ms (clock ticks of 10 ms)
CREATE FUNCTION pg_temp.cpu_ms() RETURNS float8
LANGUAGE plpgsql AS $$
DECLARE
	f text[];
BEGIN
	f := string_to_array(split_part(pg_read_file('/proc/self/stat'), ') ', 2), ' ');
	RETURN (f[12]::float8 + f[13]::float8) * 10;
EXCEPTION WHEN OTHERS THEN
	RETURN NULL;
END $$;

-- the median and least of runs of q: wall-clock ms and CPU ms
CREATE FUNCTION pg_temp.median_ms(q text, runs int DEFAULT 5, OUT ms float8, OUT cpu_ms float8,
								  OUT min_ms float8, OUT min_cpu_ms float8)
LANGUAGE plpgsql AS $$
DECLARE
	t float8[] := '{}';
	c float8[] := '{}';
	t0 timestamptz;
	c0 float8;
BEGIN
	EXECUTE q;		-- warm the cache
	FOR k IN 1..runs LOOP
		c0 := pg_temp.cpu_ms();
		t0 := clock_timestamp();
		EXECUTE q;
		t := t || extract(epoch FROM clock_timestamp() - t0) * 1000;
		c := c || (pg_temp.cpu_ms() - c0);
	END LOOP;
	ms := (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(t) x);
	cpu_ms := (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(c) x);
	min_ms := (SELECT min(x) FROM unnest(t) x);
	min_cpu_ms := (SELECT min(x) FROM unnest(c) x);
END $$;

-- run q n times, each a query of its own: a new load of the model each time
CREATE FUNCTION pg_temp.repeat(q text, n int) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	FOR k IN 1..n LOOP
		EXECUTE q;
	END LOOP;
END $$;

CREATE TEMP TABLE timings AS
SELECT q.ord, q.label, q.per, t.*
FROM (VALUES
	(1, 'baseline: sum(array_length(ARRAY[a::text, b::text], 1))',
	 $q$SELECT sum(array_length(ARRAY[a::text, b::text], 1)) FROM bench_terms_score$q$, 1),
	(2, 'lmm_predict(m, x, keys), text keys',
	 $q$SELECT sum(lmm_predict(m.m, ARRAY[s.x], ARRAY[s.a::text, s.b::text])) FROM bench_terms_score s, bench_terms_models m WHERE m.name = 'text'$q$, 1),
	(3, 'lmm_predict(m, x, keys), integer keys',
	 $q$SELECT sum(lmm_predict(m.m, ARRAY[s.x], ARRAY[s.a::text, s.b::text])) FROM bench_terms_score s, bench_terms_models m WHERE m.name = 'integer'$q$, 1),
	(4, 'lmm_blup(m, a::text, ''a''), text keys',
	 $q$SELECT sum(lmm_blup(m.m, s.a::text, 'a')) FROM bench_terms_score s, bench_terms_models m WHERE m.name = 'text'$q$, 1),
	(5, 'lmm_blup(m, a, ''a''), integer keys',
	 $q$SELECT sum(lmm_blup(m.m, s.a, 'a')) FROM bench_terms_score s, bench_terms_models m WHERE m.name = 'integer'$q$, 1),
	(6, 'model load alone (one row, mean of 20 loads), text keys',
	 $q$SELECT pg_temp.repeat($r$SELECT lmm_blup(m, '5', 'a') FROM bench_terms_models WHERE name = 'text'$r$, 20)$q$, 20),
	(7, 'model load alone (one row, mean of 20 loads), integer keys',
	 $q$SELECT pg_temp.repeat($r$SELECT lmm_blup(m, 5, 'a') FROM bench_terms_models WHERE name = 'integer'$r$, 20)$q$, 20)
) q(ord, label, sql, per),
LATERAL pg_temp.median_ms(q.sql) t
WHERE q.sql NOT LIKE '%''integer''%' OR EXISTS (SELECT FROM bench_terms_models WHERE name = 'integer')
ORDER BY q.ord;

SELECT label, round((ms / per)::numeric, 1) AS median_ms, round((cpu_ms / per)::numeric, 1) AS median_cpu_ms,
	round((min_ms / per)::numeric, 1) AS min_ms, round((min_cpu_ms / per)::numeric, 1) AS min_cpu_ms
FROM timings ORDER BY ord;
DROP TABLE bench_terms_score, bench_terms_models;
