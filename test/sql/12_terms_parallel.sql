-- lmm_fit_terms and lmm() in parallel: Partial Aggregates in the workers, a
-- Finalize Aggregate in the leader merging their statistics exactly, and the
-- parallel fit equal to the serial one.  Runs after 11_upgrade, so on an
-- extension updated from 0.2.0: the updated aggregates are the ones tested.
SET client_min_messages = warning;
SET extra_float_digits = 0;
\i test/helpers/plan.psql

\i test/helpers/maxrel.psql

-- Penicillin-like crossed data: 240 plates, each with an intercept and a
-- slope on x, crossed with 13 samples; rows of every plate and sample on
-- every page, so each worker sees part of every level and of most pairs.
-- Every 1000th row has a NULL x (dropped and counted).  flat is diameter
-- without the plates' slopes: (x | plate) fits it with a slope variance of
-- 0, a singular fit.
SELECT setseed(0.3);
CREATE TABLE terms_par AS
SELECT id, plate, sample, x, diameter, diameter - v * x AS flat FROM (
	SELECT i AS id, 'p' || (i % 240) AS plate, 's' || (i % 37 / 3) AS sample,
		CASE WHEN i % 1000 = 0 THEN NULL ELSE x END AS x, pe.v,
		20 + 0.5 * x + pe.u + se.u + pe.v * x + random() AS diameter
	FROM (SELECT i, random() * 3 AS x FROM generate_series(1, 30000) i) r
	JOIN (SELECT j, 2 * random() AS u, 0.3 * random() AS v FROM generate_series(0, 239) j) pe
		ON pe.j = i % 240
	JOIN (SELECT j, 3 * random() AS u FROM generate_series(0, 12) j) se ON se.j = i % 37 / 3) d;
ANALYZE terms_par;

CREATE TABLE specs (name text PRIMARY KEY, spec text);
INSERT INTO specs VALUES
	('intercepts', '{"x": ["(Intercept)", "x"], "terms": [{"group": "plate", "z": ["(Intercept)"]}, {"group": "sample", "z": ["(Intercept)"]}]}'),
	('slope', '{"x": ["(Intercept)", "x"], "terms": [{"group": "plate", "z": ["(Intercept)", "x"]}, {"group": "sample", "z": ["(Intercept)"]}]}'),
	('penicillin', '{"x": ["(Intercept)"], "terms": [{"group": "plate", "z": ["(Intercept)"]}, {"group": "sample", "z": ["(Intercept)"]}]}');

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;

-- both forms run as partial aggregates in 2 workers
SELECT pg_temp.plan($$SELECT lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, 1],
	(SELECT spec FROM specs WHERE name = 'intercepts')) FROM terms_par$$);
SELECT pg_temp.plan($$SELECT lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope'), 'method=ml') FROM terms_par$$);

-- each parallel fit made by a CREATE TABLE AS, whose workers EXPLAIN ANALYZE shows
SELECT pg_temp.plan($$CREATE TABLE tfit1 AS SELECT 'intercepts reml'::text AS form, 'parallel'::text AS how,
	lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, 1],
		(SELECT spec FROM specs WHERE name = 'intercepts')) AS m FROM terms_par$$);
SELECT pg_temp.plan($$CREATE TABLE tfit2 AS SELECT 'slope reml'::text AS form, 'parallel'::text AS how,
	lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
		(SELECT spec FROM specs WHERE name = 'slope')) AS m FROM terms_par$$);
SELECT pg_temp.plan($$CREATE TABLE tfit3 AS SELECT 'slope ml'::text AS form, 'parallel'::text AS how,
	lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
		(SELECT spec FROM specs WHERE name = 'slope'), 'method=ml') AS m FROM terms_par$$);
SELECT pg_temp.plan($$CREATE TABLE tfit5 AS SELECT 'slope singular reml'::text AS form, 'parallel'::text AS how,
	lmm_fit_terms(flat, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
		(SELECT spec FROM specs WHERE name = 'slope')) AS m FROM terms_par$$);
-- lmm() runs the same aggregate through SPI, in parallel too (no worker
-- count to show here: auto_explain's log_nested_statements shows 2)
CREATE TABLE tfit4 AS SELECT 'slope reml'::text AS form, 'lmm parallel'::text AS how,
	lmm('diameter ~ x + (x | plate) + (1 | sample)', 'terms_par') AS m;
CREATE TABLE tfits AS
SELECT * FROM tfit1 UNION ALL SELECT * FROM tfit2 UNION ALL SELECT * FROM tfit3
UNION ALL SELECT * FROM tfit4 UNION ALL SELECT * FROM tfit5;

SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.plan($$SELECT lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, 1],
	(SELECT spec FROM specs WHERE name = 'intercepts')) FROM terms_par$$);
INSERT INTO tfits
SELECT 'intercepts reml', 'serial', lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, 1],
	(SELECT spec FROM specs WHERE name = 'intercepts')) FROM terms_par;
INSERT INTO tfits
SELECT 'slope reml', 'serial', lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope')) FROM terms_par;
INSERT INTO tfits
SELECT 'slope ml', 'serial', lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope'), 'method=ml') FROM terms_par;
INSERT INTO tfits
SELECT 'slope singular reml', 'serial', lmm_fit_terms(flat, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope')) FROM terms_par;
-- the serial fit of the same rows in another order, for scale
INSERT INTO tfits
SELECT 'slope reml', 'serial shuffled', lmm_fit_terms(diameter, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope'))
FROM (SELECT * FROM terms_par ORDER BY md5(id::text)) s;

-- Parallel equals serial.  The workers' sums of the same rows come in
-- another order, so the statistics differ in their last bits.  The
-- optimum is found to rounding level: with intercepts only by BFGS on the
-- analytic gradient, run until its steps or gradient reach rounding level;
-- with a random slope ('slope': several terms, one vector-valued) BOBYQA's
-- optimum is polished by Newton steps on the analytic gradient
-- (lmm_blocked_vgrad.c).  So everything follows to 1e-10 or better
-- (measured at most: fixef 1.5e-11, sigma 2.1e-13, criterion 9.9e-13,
-- varcorr 1.1e-12, se 8.1e-12, condsd 1.9e-13), BLUPs to 3e-9 (measured
-- 3.3e-11 in parallel, 2.9e-10 for the shuffled rows: the sample BLUPs of
-- about 1.5 share the fixed intercept's 3e-10 absolute difference).  With
-- intercepts only, BFGS used to stop once the gradient was below 1e-11 of
-- the criterion, and variance components then followed only to 1.0e-6.
SELECT p.form, p.how,
	pg_temp.maxrel(p.m, s.m, 'fixef') < 1e-10 AS fixef,
	pg_temp.maxrel(p.m, s.m, 'sigma') < 1e-11 AS sigma,
	pg_temp.maxrel(p.m, s.m, 'criterion') < 1e-11 AS criterion,
	pg_temp.maxrel(p.m, s.m, 'varcorr') < 1e-10 AS varcorr,
	pg_temp.maxrel(p.m, s.m, 'se') < 1e-10 AS se,
	pg_temp.maxrel(p.m, s.m, 'ranef') < 3e-9 AS ranef,
	pg_temp.maxrel(p.m, s.m, 'condsd') < 1e-11 AS condsd,
	(lmm_summary(p.m)).n_obs AS n_obs, p.m::text::jsonb -> 'n_dropped' AS n_dropped,
	(lmm_summary(p.m)).method, (lmm_summary(p.m)).singular AS singular
FROM tfits p JOIN tfits s ON s.form = p.form AND s.how = 'serial'
WHERE p.how <> 'serial' ORDER BY 1, 2;

-- Penicillin itself fits in one page: one worker reads it all, and the
-- leader's merge into an empty state adds to zeros, so the parallel model
-- is the serial one bit for bit (through serialize and deserialize)
-- (statistics and a worker count fixed, so that the plan does not depend on
-- whether autovacuum has analyzed the table yet)
ALTER TABLE penicillin SET (parallel_workers = 2);
ALTER TABLE pastes SET (parallel_workers = 2);
ANALYZE penicillin, pastes;
SET max_parallel_workers_per_gather = 2;
SELECT pg_temp.plan($$SELECT lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1],
	(SELECT spec FROM specs WHERE name = 'penicillin')) FROM penicillin$$);
CREATE TABLE pen_par AS
SELECT 'penicillin'::text AS fit, lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1],
	(SELECT spec FROM specs WHERE name = 'penicillin')) AS m FROM penicillin;
INSERT INTO pen_par SELECT 'pastes', lmm('strength ~ 1 + (1 | batch/cask)', 'pastes');
SET max_parallel_workers_per_gather = 0;
SELECT fit, m::text = CASE fit
		WHEN 'penicillin' THEN (SELECT lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1],
			(SELECT spec FROM specs WHERE name = 'penicillin')) FROM penicillin)::text
		ELSE lmm('strength ~ 1 + (1 | batch/cask)', 'pastes')::text END AS identical
FROM pen_par ORDER BY fit;

-- The combine function also merges the partial aggregates of partitions
-- (serially, deterministically).  States of different specs or options
-- cannot be merged: each partition here has its own.
CREATE TABLE pen_parts (spec text, options text, diameter float8, plate text, sample text)
	PARTITION BY LIST (plate);
CREATE TABLE pen_a_l PARTITION OF pen_parts FOR VALUES IN ('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l');
CREATE TABLE pen_m_x PARTITION OF pen_parts DEFAULT;
INSERT INTO pen_parts
SELECT (SELECT spec FROM specs WHERE name = 'penicillin'),
	CASE WHEN plate < 'm' THEN 'method=ml' ELSE 'method=reml' END, diameter, plate, sample
FROM penicillin;
ANALYZE pen_parts;
SET enable_partitionwise_aggregate = on;
SELECT pg_temp.plan($$SELECT lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1], spec) FROM pen_parts$$);
SELECT kind, pg_temp.maxrel(p.m, s.m, kind) < 1e-6 AS partitions_equal_serial
FROM (SELECT lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1], spec) AS m FROM pen_parts) p,
	(SELECT lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin') AS m) s,
	unnest(ARRAY['fixef', 'se', 'sigma', 'varcorr', 'ranef', 'condsd', 'criterion']) kind ORDER BY kind;
\set VERBOSITY default
SELECT lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1], spec, options) FROM pen_parts;
UPDATE pen_parts SET spec = replace(spec, '"sample"', '"Sample"') WHERE plate >= 'm';
SELECT lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1], spec) FROM pen_parts;
-- serially, a spec or options that change between rows are errors too
SET enable_partitionwise_aggregate = off;
SELECT lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1],
	(SELECT spec FROM specs WHERE name = 'penicillin'), options) FROM pen_parts;
DROP TABLE terms_par, specs, tfit1, tfit2, tfit3, tfit4, tfit5, tfits, pen_par, pen_parts;
