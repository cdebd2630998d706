-- lmm_anova(m, options): lmerTest's anova(m), types 3 (the default), 2
-- and 1 with Satterthwaite's df, and lme4's anova(m) (ddf=none), against
-- lmerTest 3.1 (test/data/anova.ref.csv, made by make_anova_refs.R on fits
-- run to convergence) to 1e-6 in every number: cake's recipe * temperature
-- (balanced, and with every 7th row dropped), recipe nested in temperature
-- (the interaction codes temperature by every level), the same without an
-- intercept (recipe coded by every level), Machines (two crossed
-- terms), Oats (a numeric covariate times a factor; nitro + nitro:variety,
-- where R marks nitro 2 in the interaction; without an intercept), and
-- variety:nitro + block, which lmerTest calls contained in block), REML
-- and ML.  Then models
-- of lmm_fit, what a model without its statistics or its marginal terms
-- gives, and bad options.
SET client_min_messages = warning;
SET extra_float_digits = 0;

CREATE TABLE anova_ref (model text, method text, type text, term text, kind text, value float8);
\copy anova_ref FROM 'test/data/anova.ref.csv' CSV HEADER
CREATE TABLE cake_rows (id serial, replicate int, recipe text, temperature text, angle float8, temp float8);
\copy cake_rows (replicate, recipe, temperature, angle, temp) FROM 'test/data/cake.csv' CSV HEADER
CREATE VIEW cake_unbalanced AS SELECT * FROM cake_rows WHERE id % 7 <> 0;
CREATE TABLE machines (score float8, machine text, worker text);
\copy machines FROM 'test/data/machines.csv' CSV HEADER
CREATE TABLE oats (yield float8, nitro float8, variety text, block text);
\copy oats FROM 'test/data/oats.csv' CSV HEADER

CREATE TABLE anova_models (model text, method text, m lmm_model);
INSERT INTO anova_models
SELECT mo, upper(me), lmm(f, src, 'method=' || me)
FROM (VALUES ('cake', 'angle ~ recipe * temperature + (1 | recipe:replicate)', 'cake_rows'),
			 ('cake_unbalanced', 'angle ~ recipe * temperature + (1 | recipe:replicate)', 'cake_unbalanced'),
			 ('cake_nested', 'angle ~ temperature + recipe:temperature + (1 | recipe:replicate)', 'cake_unbalanced'),
			 ('cake_no_intercept', 'angle ~ 0 + recipe * temperature + (1 | recipe:replicate)', 'cake_unbalanced'),
			 ('machines', 'score ~ machine + (1 | worker) + (1 | worker:machine)', 'machines'),
			 ('oats', 'yield ~ nitro * variety + (1 | block) + (1 | block:variety)', 'oats'),
			 ('oats_slopes', 'yield ~ nitro + nitro:variety + (1 | block) + (1 | block:variety)', 'oats'),
			 ('oats_no_intercept', 'yield ~ 0 + variety + nitro + (1 | block) + (1 | block:variety)', 'oats'),
			 ('oats_slope_factor', 'yield ~ variety:nitro + block + (1 | block:variety)', 'oats')) v(mo, f, src),
	unnest(ARRAY['reml', 'ml']) me;

-- Every number against lmerTest's (below 1e-12 a p-value's log, as in
-- 20_contrast), and how many were compared.
SELECT am.model, am.method, t.type, count(*) AS numbers,
	max(CASE WHEN r.kind = 'p_value' AND r.value < 1e-12
		THEN abs(ln(v.value) - ln(r.value)) / abs(ln(r.value))
		ELSE abs(v.value - r.value) / abs(r.value) END) < 1e-6 AS agrees_with_lmertest
FROM anova_models am
CROSS JOIN (VALUES ('3', 'type=3'), ('2', 'type=2'), ('1', 'type=1'), ('none', 'ddf=none')) t(type, opts)
CROSS JOIN LATERAL lmm_anova(am.m, t.opts) a
CROSS JOIN LATERAL (VALUES ('sum_sq', a.sum_sq), ('mean_sq', a.mean_sq), ('num_df', a.num_df),
	('den_df', a.den_df), ('f_value', a.f_value), ('p_value', a.p_value)) v(kind, value)
JOIN anova_ref r ON r.model = am.model AND r.method = am.method AND r.type = t.type
	AND r.term = a.term AND r.kind = v.kind
WHERE r.value IS NOT NULL OR v.value IS NOT NULL
GROUP BY am.model, am.method, t.type ORDER BY am.model, am.method, t.type DESC;

-- Every term of every model and type has its row, and ddf=none has no df.
SELECT count(*) AS rows, count(*) FILTER (WHERE type = 'none' AND (den_df IS NOT NULL OR p_value IS NOT NULL)) AS none_with_df
FROM anova_models am
CROSS JOIN (VALUES ('3'), ('2'), ('1'), ('none')) t(type)
CROSS JOIN LATERAL lmm_anova(am.m, CASE WHEN t.type = 'none' THEN 'ddf=none' ELSE 'type=' || t.type END) a;

-- The default is type 3.
SELECT (SELECT array_agg(f_value) FROM lmm_anova(m)) = (SELECT array_agg(f_value) FROM lmm_anova(m, 'type=3')) AS default_is_type3
FROM anova_models WHERE model = 'oats' AND method = 'REML';

-- A model of lmm_fit: each column of x is a term; a one-column term's F is
-- its t value squared, on lmm_fixef's df.
SELECT a.term, a.num_df, abs(a.f_value - f.t_value ^ 2) < 1e-10 * a.f_value AS f_is_t_squared,
	abs(a.den_df - f.df) < 1e-9 * f.df AS df_is_fixef_df
FROM lmm_anova((SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days], 'x_names=days') FROM sleepstudy)) a
JOIN lmm_fixef((SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days], 'x_names=days') FROM sleepstudy)) f
	ON f.term = a.term;

-- A model without its statistics (of lmm() stored by lmm 0.6) has types
-- 3 and none, the same as with them, and not 1 or 2, which need X'X.
CREATE TEMP TABLE old_oats AS
SELECT (jsonb_set(m::text::jsonb - 'terms_stats' - 'factors', '{lmm_model}', '3'))::text::lmm_model AS m, m AS now
FROM anova_models WHERE model = 'oats' AND method = 'REML';
SELECT (SELECT array_agg(f_value) FROM lmm_anova(m)) = (SELECT array_agg(f_value) FROM lmm_anova(now)) AS type3_same,
	(SELECT array_agg(f_value) FROM lmm_anova(m, 'ddf=none')) = (SELECT array_agg(f_value) FROM lmm_anova(now, 'ddf=none')) AS none_same
FROM old_oats;
\set VERBOSITY default
SELECT * FROM lmm_anova((SELECT m FROM old_oats), 'type=1');

-- Bad options.
SELECT * FROM lmm_anova((SELECT m FROM anova_models LIMIT 1), 'type=4');
SELECT * FROM lmm_anova((SELECT m FROM anova_models LIMIT 1), 'type=1, type=2');
SELECT * FROM lmm_anova((SELECT m FROM anova_models WHERE method = 'ML' LIMIT 1), 'ddf=kenward-roger');
SELECT * FROM lmm_anova((SELECT m FROM anova_models LIMIT 1), 'level=0.9');
-- lmm_anova(a, b), the likelihood-ratio test, is still the two-model form.
SELECT count(*) AS lrt_rows FROM anova_models a, anova_models b, lmm_anova(a.m, b.m) x
WHERE a.model = 'oats' AND b.model = 'oats' AND a.method = 'ML' AND b.method = 'ML';
