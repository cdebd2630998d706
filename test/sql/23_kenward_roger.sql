-- Kenward-Roger (ddf=kenward-roger) in lmm_fixef, lmm_contrast and
-- lmm_anova, computed from the model's statistics, against pbkrtest 0.5's
-- vcovAdj and Lb_ddf and lmerTest 3.1's ddf = "Kenward-Roger"
-- (test/data/kr_*.ref.csv, made by make_kr_refs.R on REML fits run to
-- convergence) to 1e-6 relative in every number: sleepstudy with a
-- correlated slope (one term: the per-level computation) and with two
-- terms of one factor, cake's recipe * temperature (balanced and not),
-- Machines and Oats (crossed terms), Penicillin (crossed, intercept only),
-- ratings (a correlated random slope crossed with an intercept).
-- Then: Satterthwaite stays the default, ddf=none, a model of lmm_fit, ML
-- fits and models stored without statistics, and the limit of the dense
-- computation.
SET client_min_messages = warning;
SET extra_float_digits = 0;

CREATE TABLE kr_fixef_ref (model text, term text, kind text, value float8);
\copy kr_fixef_ref FROM 'test/data/kr_fixef.ref.csv' CSV HEADER
CREATE TABLE kr_contrast_ref (model text, contrast text, kind text, value float8);
\copy kr_contrast_ref FROM 'test/data/kr_contrast.ref.csv' CSV HEADER
CREATE TABLE kr_anova_ref (model text, type text, term text, kind text, value float8);
\copy kr_anova_ref FROM 'test/data/kr_anova.ref.csv' CSV HEADER

CREATE TABLE kr_sleep (reaction float8, days float8, subject text);
\copy kr_sleep FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TABLE kr_cake (id serial, replicate int, recipe text, temperature text, angle float8, temp float8);
\copy kr_cake (replicate, recipe, temperature, angle, temp) FROM 'test/data/cake.csv' CSV HEADER
CREATE VIEW kr_cake_unbalanced AS SELECT * FROM kr_cake WHERE id % 7 <> 0;
CREATE TABLE kr_machines (score float8, machine text, worker text);
\copy kr_machines FROM 'test/data/machines.csv' CSV HEADER
CREATE TABLE kr_oats (yield float8, nitro float8, variety text, block text);
\copy kr_oats FROM 'test/data/oats.csv' CSV HEADER
CREATE TABLE kr_penicillin (diameter float8, plate text, sample text);
\copy kr_penicillin FROM 'test/data/penicillin.csv' CSV HEADER
CREATE TABLE kr_ratings (y float8, x float8, a text, b text);
\copy kr_ratings FROM 'test/data/ratings.csv' CSV HEADER

CREATE TABLE kr_models (model text, m lmm_model);
INSERT INTO kr_models
SELECT mo, lmm(f, src)
FROM (VALUES ('sleep_slope', 'reaction ~ days + (days | subject)', 'kr_sleep'),
			 ('sleep_two_terms', 'reaction ~ days + (1 | subject) + (0 + days | subject)', 'kr_sleep'),
			 ('cake', 'angle ~ recipe * temperature + (1 | recipe:replicate)', 'kr_cake'),
			 ('cake_unbalanced', 'angle ~ recipe * temperature + (1 | recipe:replicate)', 'kr_cake_unbalanced'),
			 ('machines', 'score ~ machine + (1 | worker) + (1 | worker:machine)', 'kr_machines'),
			 ('oats', 'yield ~ nitro * variety + (1 | block) + (1 | block:variety)', 'kr_oats'),
			 ('penicillin', 'diameter ~ 1 + (1 | plate) + (1 | sample)', 'kr_penicillin'),
			 ('ratings', 'y ~ x + (x | a) + (1 | b)', 'kr_ratings')) v(mo, f, src);

-- lmm_fixef: lmerTest's summary(m, ddf = "Kenward-Roger") coefficient by
-- coefficient (pbkrtest's vcovAdj standard errors, Lb_ddf df), and how
-- many numbers were compared (below 1e-12 a p-value's log).
SELECT km.model, count(*) AS numbers,
	max(CASE WHEN r.kind = 'p_value' AND r.value < 1e-12
		THEN abs(ln(v.value) - ln(r.value)) / abs(ln(r.value))
		ELSE abs(v.value - r.value) / abs(r.value) END) < 1e-6 AS agrees_with_pbkrtest
FROM kr_models km
CROSS JOIN LATERAL lmm_fixef(km.m, 'ddf=kenward-roger') f
CROSS JOIN LATERAL (VALUES ('estimate', f.estimate), ('std_error', f.std_error), ('df', f.df),
	('t_value', f.t_value), ('p_value', f.p_value), ('conf_low', f.conf_low),
	('conf_high', f.conf_high)) v(kind, value)
JOIN kr_fixef_ref r ON r.model = km.model AND r.term = f.term AND r.kind = v.kind
GROUP BY km.model ORDER BY km.model;

-- Every entry of vcovAdj, through the variance of b_a + b_b (lmm_contrast's
-- standard error): va_aa + va_bb + 2 va_ab.
WITH pairs AS MATERIALIZED (
	SELECT km.model, n.terms[a] AS ta, n.terms[b] AS tb, c.std_error
	FROM kr_models km
	CROSS JOIN LATERAL (SELECT array_agg(term ORDER BY o) AS terms
						FROM lmm_fixef(km.m) WITH ORDINALITY f(term, e, s, t, d, p, l, h, o)) n
	CROSS JOIN LATERAL (SELECT a, b FROM generate_subscripts(n.terms, 1) a,
						generate_subscripts(n.terms, 1) b WHERE a <= b) ab
	CROSS JOIN LATERAL lmm_contrast(km.m,
		ARRAY(SELECT CASE WHEN i = a THEN 1.0 ELSE 0.0 END + CASE WHEN i = b THEN 1.0 ELSE 0.0 END
			  FROM generate_subscripts(n.terms, 1) i ORDER BY i)::float8[], 'ddf=kenward-roger') c),
refs AS MATERIALIZED (
	SELECT model, term, substr(kind, 10) AS term2, value FROM kr_fixef_ref WHERE kind LIKE 'vcov_adj.%')
SELECT p.model, count(*) AS pairs,
	max(abs(p.std_error ^ 2 - (raa.value + rbb.value + 2 * rab.value)) /
		(raa.value + rbb.value + 2 * rab.value)) < 1e-6 AS vcov_adj_agrees
FROM pairs p
JOIN refs raa ON raa.model = p.model AND raa.term = p.ta AND raa.term2 = p.ta
JOIN refs rbb ON rbb.model = p.model AND rbb.term = p.tb AND rbb.term2 = p.tb
JOIN refs rab ON rab.model = p.model AND rab.term = p.ta AND rab.term2 = p.tb
GROUP BY p.model ORDER BY p.model;

-- lmm_contrast: lmerTest's contest1D (one-dimensional l: estimate, the
-- adjusted standard error, t, KR df, p) and contestMD (KRmodcomp's scaled
-- F, its df and p) with ddf = "Kenward-Roger".
CREATE TABLE kr_contrasts (model text, contrast text, l float8[]);
INSERT INTO kr_contrasts VALUES
	('sleep_slope', 'days', '{0, 1}'),
	('sleep_slope', 'both', '{{1, 0}, {0, 1}}'),
	('sleep_slope', 'sum', '{1, 10}'),
	('sleep_two_terms', 'days', '{0, 1}'),
	('sleep_two_terms', 'both', '{{1, 0}, {0, 1}}'),
	('cake', 'recipe', '{{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}'),
	('cake', 'b_minus_c', '{0, 1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}'),
	('cake', 'temperature', '{{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}'),
	('cake_unbalanced', 'b_minus_c', '{0, 1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}'),
	('cake_unbalanced', 'recipe', '{{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}'),
	('machines', 'b_minus_c', '{0, 1, -1}'),
	('machines', 'machine', '{{0, 1, 0}, {0, 0, 1}}'),
	('oats', 'nitro', '{0, 1, 0, 0, 0, 0}'),
	('oats', 'interaction', '{{0, 0, 0, 0, 1, 0}, {0, 0, 0, 0, 0, 1}}'),
	('penicillin', 'intercept', '{1}'),
	('ratings', 'x', '{0, 1}'),
	('ratings', 'both', '{{1, 0}, {0, 1}}');
SELECT kc.model, kc.contrast, count(*) AS numbers,
	max(CASE WHEN r.kind IN ('p_value', 'p_value_f') AND r.value < 1e-12
		THEN abs(ln(v.value) - ln(r.value)) / abs(ln(r.value))
		ELSE abs(v.value - r.value) / abs(r.value) END) < 1e-6 AS agrees_with_lmertest
FROM kr_contrasts kc JOIN kr_models km USING (model)
CROSS JOIN LATERAL lmm_contrast(km.m, kc.l, 'ddf=kenward-roger') c
CROSS JOIN LATERAL lmm_contrast(km.m,
	CASE WHEN array_ndims(kc.l) = 1 THEN ARRAY[kc.l] ELSE kc.l END, 'ddf=kenward-roger') f
CROSS JOIN LATERAL (VALUES ('estimate', c.estimate), ('std_error', c.std_error),
	('t_value', c.t_value), ('df', CASE WHEN array_ndims(kc.l) = 1 THEN c.den_df END),
	('p_value', CASE WHEN array_ndims(kc.l) = 1 THEN c.p_value END),
	('num_df', f.num_df), ('den_df', f.den_df), ('f_value', f.f_value),
	('p_value_f', f.p_value)) v(kind, value)
JOIN kr_contrast_ref r ON r.model = kc.model AND r.contrast = kc.contrast AND r.kind = v.kind
WHERE v.value IS NOT NULL
GROUP BY kc.model, kc.contrast ORDER BY kc.model, kc.contrast;

-- A one-dimensional l is contest1D: F = t^2 with the t test's p-value;
-- the same l as one row of a matrix is KRmodcomp's F (scaled, by a factor
-- near 1 for one row) on the same df.
SELECT abs(c.f_value - c.t_value ^ 2) < 1e-9 * c.f_value AS f_is_t_squared,
	abs(c.den_df - f.den_df) < 1e-9 * f.den_df AS same_df
FROM kr_models km,
	lmm_contrast(km.m, ARRAY[0, 1, -1]::float8[], 'ddf=kenward-roger') c,
	lmm_contrast(km.m, ARRAY[[0, 1, -1]]::float8[], 'ddf=kenward-roger') f
WHERE km.model = 'machines';

-- Rows that repeat others count once (pbkrtest would stop at them): the
-- same test as the rows without the repeat.
SELECT (SELECT row(num_df, round(den_df::numeric, 9), round(f_value::numeric, 9))
		FROM lmm_contrast(m, ARRAY[[0, 1, 0], [0, 0, 1], [0, 1, 1]]::float8[], 'ddf=kenward-roger')) =
	(SELECT row(num_df, round(den_df::numeric, 9), round(f_value::numeric, 9))
		FROM lmm_contrast(m, ARRAY[[0, 1, 0], [0, 0, 1]]::float8[], 'ddf=kenward-roger')) AS rank_counts
FROM kr_models WHERE model = 'machines';

-- lmm_anova: lmerTest's anova(m, type, ddf = "Kenward-Roger"), every term
-- of types 3, 2 and 1.
SELECT km.model, t.type, count(*) AS numbers,
	max(CASE WHEN r.kind = 'p_value' AND r.value < 1e-12
		THEN abs(ln(v.value) - ln(r.value)) / abs(ln(r.value))
		ELSE abs(v.value - r.value) / abs(r.value) END) < 1e-6 AS agrees_with_lmertest
FROM kr_models km
CROSS JOIN (VALUES ('3'), ('2'), ('1')) t(type)
CROSS JOIN LATERAL lmm_anova(km.m, 'ddf=kenward-roger, type=' || t.type) a
CROSS JOIN LATERAL (VALUES ('sum_sq', a.sum_sq), ('mean_sq', a.mean_sq), ('num_df', a.num_df),
	('den_df', a.den_df), ('f_value', a.f_value), ('p_value', a.p_value)) v(kind, value)
JOIN kr_anova_ref r ON r.model = km.model AND r.type = t.type AND r.term = a.term AND r.kind = v.kind
GROUP BY km.model, t.type ORDER BY km.model, t.type DESC;

-- Satterthwaite stays the default of all three; ddf=none has no df.
SELECT bool_and((SELECT array_agg(row(std_error, df)) FROM lmm_fixef(m)) =
		(SELECT array_agg(row(std_error, df)) FROM lmm_fixef(m, 'ddf=satterthwaite'))) AS fixef_default,
	bool_and((SELECT array_agg(row(std_error, df)) FROM lmm_fixef(m)) <>
		(SELECT array_agg(row(std_error, df)) FROM lmm_fixef(m, 'ddf=kenward-roger'))) AS kr_differs,
	bool_and((SELECT count(*) FROM lmm_fixef(m, 'ddf=none') WHERE df IS NULL AND p_value IS NULL
		AND conf_low IS NULL AND std_error IS NOT NULL) = (SELECT count(*) FROM lmm_fixef(m))) AS none_without_df
FROM kr_models;
SELECT (SELECT array_agg(den_df) FROM lmm_anova(m)) = (SELECT array_agg(den_df) FROM lmm_anova(m, 'ddf=satterthwaite')) AS anova_default,
	(SELECT den_df FROM lmm_contrast(m, '{0, 1, 0, 0, 0, 0}')) =
		(SELECT den_df FROM lmm_contrast(m, '{0, 1, 0, 0, 0, 0}', 'ddf=Satterthwaite')) AS contrast_default
FROM kr_models WHERE model = 'oats';

-- A model of lmm_fit carries the same statistics as one of lmm(): the
-- same Kenward-Roger numbers.
SELECT max(abs(f.std_error - l.std_error) / l.std_error) < 1e-9 AS same_std_error,
	max(abs(f.df - l.df) / l.df) < 1e-7 AS same_df
FROM lmm_fixef((SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days], 'x_names=days') FROM kr_sleep),
			   'ddf=kenward-roger') f
JOIN lmm_fixef((SELECT m FROM kr_models WHERE model = 'sleep_slope'), 'ddf=kenward-roger') l USING (term);

-- What has no Kenward-Roger: an ML fit (lmerTest refuses it too), a model
-- stored without its statistics (by lmm 0.6), and a several-term model
-- with more random effects than the dense computation takes.
\set VERBOSITY default
SELECT * FROM lmm_fixef(lmm('reaction ~ days + (days | subject)', 'kr_sleep', 'method=ml'), 'ddf=kenward-roger');
SELECT * FROM lmm_anova(lmm('score ~ machine + (1 | worker) + (1 | worker:machine)', 'kr_machines', 'method=ml'), 'ddf=kenward-roger');
SELECT * FROM lmm_contrast((SELECT (jsonb_set(m::text::jsonb - 'terms_stats' - 'factors', '{lmm_model}', '3'))::text::lmm_model
							FROM kr_models WHERE model = 'oats'), '{0, 1, 0, 0, 0, 0}', 'ddf=kenward-roger');
CREATE TABLE kr_wide AS
SELECT i, (i % 2011)::text AS a, (i % 7)::text AS b, sin(i) + (i % 7) * 0.1 + (i % 2011) * 1e-4 AS y
FROM generate_series(1, 4022) i;
SELECT * FROM lmm_fixef(lmm('y ~ 1 + (1 | a) + (1 | b)', 'kr_wide'), 'ddf=kenward-roger');
-- a model of one term has no such limit
SELECT count(*) AS rows, bool_and(df > 0 AND std_error > 0) AS finite
FROM lmm_fixef(lmm('y ~ 1 + (1 | a)', 'kr_wide'), 'ddf=kenward-roger');
-- bad options
SELECT * FROM lmm_fixef((SELECT m FROM kr_models LIMIT 1), 'ddf=kenward');
SELECT * FROM lmm_fixef((SELECT m FROM kr_models LIMIT 1), 'type=3');
SELECT * FROM lmm_fixef((SELECT m FROM kr_models LIMIT 1), 'ddf=none, ddf=kenward-roger');
\set VERBOSITY terse
DROP TABLE kr_fixef_ref, kr_contrast_ref, kr_anova_ref, kr_models, kr_contrasts, kr_wide,
	kr_sleep, kr_machines, kr_oats, kr_penicillin, kr_ratings CASCADE;
DROP TABLE kr_cake CASCADE;
