-- Parallel query: the planner splits lmm_fit, lmm_stats and lmm_merge into
-- Partial Aggregates in the workers and a Finalize Aggregate in the leader,
-- and the parallel fit equals the serial one.
SET extra_float_digits = 0;
SELECT setseed(0.17);
-- 300 groups whose rows are spread over every page, so every worker sees
-- part of every group and the combine merges each group's statistics
CREATE TABLE par AS
SELECT i AS id, i % 300 AS g, x1, x2,
	5 + 0.7 * x1 - 0.3 * x2 + e.u0 + e.u1 * x1 + random() AS y
FROM (SELECT i, random() * 4 AS x1, random() * 10 AS x2 FROM generate_series(1, 40000) i) s
JOIN (SELECT j, random() AS u0, 0.5 * random() AS u1 FROM generate_series(0, 299) j) e
	ON e.j = s.i % 300;
ANALYZE par;

\i test/helpers/plan.psql

-- Largest relative difference between two models' numbers of one kind
-- (BLUPs relative to the largest BLUP of their term, as some are near zero).
CREATE FUNCTION pg_temp.maxrel(a lmm_model, b lmm_model, kind text) RETURNS float8 LANGUAGE sql AS $$
	SELECT max(abs(x - y) / greatest(scale, 1e-300)) FROM (
		SELECT fa.estimate x, fb.estimate y, abs(fb.estimate) scale
			FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term) WHERE kind = 'fixef'
		UNION ALL
		SELECT fa.std_error, fb.std_error, fb.std_error
			FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term) WHERE kind = 'fixef'
		UNION ALL
		SELECT va.variance, vb.variance, abs(vb.variance) FROM lmm_varcorr(a) va JOIN lmm_varcorr(b) vb
			ON va.grp IS NOT DISTINCT FROM vb.grp AND va.term1 IS NOT DISTINCT FROM vb.term1
				AND va.term2 IS NOT DISTINCT FROM vb.term2
			WHERE kind = 'varcorr'
		UNION ALL
		SELECT ra.estimate, rb.estimate, max(abs(rb.estimate)) OVER (PARTITION BY term)
			FROM lmm_ranef(a) ra JOIN lmm_ranef(b) rb USING (grp, level, term) WHERE kind = 'ranef'
		UNION ALL
		SELECT ra.cond_sd, rb.cond_sd, rb.cond_sd
			FROM lmm_ranef(a) ra JOIN lmm_ranef(b) rb USING (grp, level, term) WHERE kind = 'ranef'
		UNION ALL
		SELECT (lmm_summary(a)).criterion, (lmm_summary(b)).criterion, abs((lmm_summary(b)).criterion)
			WHERE kind = 'criterion') d $$;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;

-- every form of lmm_fit and lmm_stats runs as a partial aggregate in 2 workers
SELECT pg_temp.plan('SELECT lmm_fit(y, ARRAY[x1, x2], g) FROM par');
SELECT pg_temp.plan($$SELECT lmm_fit(y, ARRAY[x1, x2], g, 'method=ml') FROM par$$);
SELECT pg_temp.plan('SELECT lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1]) FROM par');
SELECT pg_temp.plan($$SELECT lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1], 'x_names=x1,x2, z_names=x1') FROM par$$);
SELECT pg_temp.plan('SELECT lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1]) FROM par');

-- INSERT ... SELECT never runs in parallel, but CREATE TABLE AS does: each
-- parallel fit is made by one, and EXPLAIN ANALYZE shows its workers
SELECT pg_temp.plan($$CREATE TABLE fit1 AS SELECT 'q1 reml'::text AS form, 'parallel'::text AS how,
	lmm_fit(y, ARRAY[x1, x2], g) AS m FROM par$$);
SELECT pg_temp.plan($$CREATE TABLE fit2 AS SELECT 'q1 ml'::text AS form, 'parallel'::text AS how,
	lmm_fit(y, ARRAY[x1, x2], g, 'method=ml') AS m FROM par$$);
SELECT pg_temp.plan($$CREATE TABLE fit3 AS SELECT 'q2 reml'::text AS form, 'parallel'::text AS how,
	lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1]) AS m FROM par$$);
SELECT pg_temp.plan($$CREATE TABLE fit4 AS SELECT 'q2 ml'::text AS form, 'parallel'::text AS how,
	lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1], 'method=ml') AS m FROM par$$);
SELECT pg_temp.plan($$CREATE TABLE fit5 AS SELECT 'q2 reml'::text AS form, 'parallel stats'::text AS how,
	lmm_fit(lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1])) AS m FROM par$$);
CREATE TABLE fits AS
SELECT * FROM fit1 UNION ALL SELECT * FROM fit2 UNION ALL SELECT * FROM fit3
UNION ALL SELECT * FROM fit4 UNION ALL SELECT * FROM fit5;

SET max_parallel_workers_per_gather = 0;
SELECT pg_temp.plan('SELECT lmm_fit(y, ARRAY[x1, x2], g) FROM par');
INSERT INTO fits SELECT 'q1 reml', 'serial', lmm_fit(y, ARRAY[x1, x2], g) FROM par;
INSERT INTO fits SELECT 'q1 ml', 'serial', lmm_fit(y, ARRAY[x1, x2], g, 'method=ml') FROM par;
INSERT INTO fits SELECT 'q2 reml', 'serial', lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1]) FROM par;
INSERT INTO fits SELECT 'q2 ml', 'serial', lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1], 'method=ml') FROM par;

-- parallel equals serial: estimates, standard errors, variance components
-- and the criterion to 1e-11, BLUPs and their conditional SDs to 1e-10
-- (measured: 4e-12, 3e-13, 1e-15 and 1.4e-11)
SELECT p.form, p.how,
	pg_temp.maxrel(p.m, s.m, 'fixef') < 1e-11 AS fixef,
	pg_temp.maxrel(p.m, s.m, 'criterion') < 1e-11 AS criterion,
	pg_temp.maxrel(p.m, s.m, 'varcorr') < 1e-11 AS varcorr,
	pg_temp.maxrel(p.m, s.m, 'ranef') < 1e-10 AS ranef,
	(lmm_summary(p.m)).n_obs = 40000 AND (lmm_summary(p.m)).n_groups = 300 AS counts
FROM fits p JOIN fits s ON s.form = p.form AND s.how = 'serial'
WHERE p.how <> 'serial' ORDER BY 1, 2;

-- lmm_merge runs in parallel too: statistics per id range, 400 values,
-- every group split across many of them
SET max_parallel_workers_per_gather = 2;
CREATE TABLE part_stats AS
SELECT id / 100 AS part, lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1]) AS s
FROM par GROUP BY id / 100;
ANALYZE part_stats;
SELECT pg_temp.plan($$CREATE TABLE merged AS SELECT lmm_fit(lmm_merge(s)) AS m FROM part_stats$$);
SELECT kind, pg_temp.maxrel(m.m, s.m, kind) < CASE kind WHEN 'ranef' THEN 1e-10 ELSE 1e-11 END AS merged_equals_serial
FROM merged m, fits s, unnest(ARRAY['fixef', 'varcorr', 'ranef', 'criterion']) kind
WHERE s.form = 'q2 reml' AND s.how = 'serial' ORDER BY kind;
