-- lmm_ls_means(m, which, options): lmerTest's ls_means(m, which, pairwise)
-- against lmerTest 3.1 (test/data/lsmeans.ref.csv, made by
-- make_lsmeans_refs.R on fits run to convergence) to 1e-6 in every number:
-- cake's recipe * temperature (balanced, and with every 7th row dropped:
-- an unbalanced two-factor interaction), recipe nested in temperature,
-- recipe + temp (a numeric covariate), Machines, Oats (nitro * variety,
-- nitro held at its mean; without an intercept; variety:nitro + block,
-- where nitro has no column of its own), REML and ML, every term of
-- factors, cells and pairwise differences.  Then the options, the model's
-- factors in its text form, and what a model that lacks them gives.
SET client_min_messages = warning;
SET extra_float_digits = 0;

CREATE TABLE lsm_ref (model text, method text, term text, pairwise bool, level text, kind text, value float8);
\copy lsm_ref FROM 'test/data/lsmeans.ref.csv' CSV HEADER
CREATE TABLE lsm_cake (id serial, replicate int, recipe text, temperature text, angle float8, temp float8);
\copy lsm_cake (replicate, recipe, temperature, angle, temp) FROM 'test/data/cake.csv' CSV HEADER
CREATE VIEW lsm_cake_unbalanced AS SELECT * FROM lsm_cake WHERE id % 7 <> 0;
CREATE TABLE lsm_machines (score float8, machine text, worker text);
\copy lsm_machines FROM 'test/data/machines.csv' CSV HEADER
CREATE TABLE lsm_oats (yield float8, nitro float8, variety text, block text);
\copy lsm_oats FROM 'test/data/oats.csv' CSV HEADER

CREATE TABLE lsm_models (model text, method text, m lmm_model);
INSERT INTO lsm_models
SELECT mo, upper(me), lmm(f, src, 'method=' || me)
FROM (VALUES ('cake', 'angle ~ recipe * temperature + (1 | recipe:replicate)', 'lsm_cake'),
			 ('cake_unbalanced', 'angle ~ recipe * temperature + (1 | recipe:replicate)', 'lsm_cake_unbalanced'),
			 ('cake_nested', 'angle ~ temperature + recipe:temperature + (1 | recipe:replicate)', 'lsm_cake_unbalanced'),
			 ('cake_temp', 'angle ~ recipe + temp + (1 | recipe:replicate)', 'lsm_cake'),
			 ('machines', 'score ~ machine + (1 | worker) + (1 | worker:machine)', 'lsm_machines'),
			 ('oats', 'yield ~ nitro * variety + (1 | block) + (1 | block:variety)', 'lsm_oats'),
			 ('oats_no_intercept', 'yield ~ 0 + variety + nitro + (1 | block) + (1 | block:variety)', 'lsm_oats'),
			 ('oats_slope_factor', 'yield ~ variety:nitro + block + (1 | block:variety)', 'lsm_oats')) v(mo, f, src),
	unnest(ARRAY['reml', 'ml']) me;

-- Every number against lmerTest's, relative: a p-value below 1e-6 by its
-- log (as 20_contrast), an estimate or bound on the scale of its standard
-- error at least and a t value on the scale of 1 (a difference of two
-- equal cell means is 0 to rounding on both sides); and how many were
-- compared: every row of lmerTest's has its row here, and no other.
CREATE TEMP TABLE lsm_out AS
SELECT lm.model, lm.method, r.pairwise, l.*
FROM lsm_models lm
CROSS JOIN (SELECT DISTINCT model, term, pairwise FROM lsm_ref) r
CROSS JOIN LATERAL lmm_ls_means(lm.m, r.term, 'pairwise=' || r.pairwise) l
WHERE r.model = lm.model;
SELECT o.model, o.method, o.pairwise, count(DISTINCT (o.term, o.level)) AS rows, count(*) AS numbers,
	max(CASE WHEN r.kind = 'p_value' AND r.value < 1e-6
		THEN abs(ln(v.value) - ln(r.value)) / abs(ln(r.value))
		WHEN r.kind IN ('estimate', 'conf_low', 'conf_high')
		THEN abs(v.value - r.value) / greatest(abs(r.value), o.std_error)
		WHEN r.kind = 't_value' THEN abs(v.value - r.value) / greatest(abs(r.value), 1)
		ELSE abs(v.value - r.value) / abs(r.value) END) < 1e-6 AS agrees_with_lmertest
FROM lsm_out o
CROSS JOIN LATERAL (VALUES ('estimate', o.estimate), ('std_error', o.std_error), ('df', o.df),
	('t_value', o.t_value), ('p_value', o.p_value), ('conf_low', o.conf_low),
	('conf_high', o.conf_high)) v(kind, value)
JOIN lsm_ref r ON r.model = o.model AND r.method = o.method AND r.term = o.term
	AND r.pairwise = o.pairwise AND r.level = o.level AND r.kind = v.kind
GROUP BY o.model, o.method, o.pairwise ORDER BY o.model, o.method DESC, o.pairwise;
SELECT (SELECT count(*) FROM lsm_out) AS rows_here, (SELECT count(*) / 7 FROM lsm_ref) AS rows_in_lmertest;

-- The same by Kenward-Roger (ddf=kenward-roger: pbkrtest's adjusted
-- covariance and df), REML fits, against lmerTest's ls_means(m, ddf =
-- "Kenward-Roger") (test/data/lsmeans_kr.ref.csv), the same measures.
CREATE TABLE lsm_kr_ref (model text, method text, term text, pairwise bool, level text, kind text, value float8);
\copy lsm_kr_ref FROM 'test/data/lsmeans_kr.ref.csv' CSV HEADER
CREATE TEMP TABLE lsm_kr_out AS
SELECT lm.model, r.pairwise, l.*
FROM lsm_models lm
CROSS JOIN (SELECT DISTINCT model, term, pairwise FROM lsm_kr_ref) r
CROSS JOIN LATERAL lmm_ls_means(lm.m, r.term, 'ddf=kenward-roger, pairwise=' || r.pairwise) l
WHERE r.model = lm.model AND lm.method = 'REML';
SELECT o.model, o.pairwise, count(DISTINCT (o.term, o.level)) AS rows,
	max(CASE WHEN r.kind = 'p_value' AND r.value < 1e-6
		THEN abs(ln(v.value) - ln(r.value)) / abs(ln(r.value))
		WHEN r.kind IN ('estimate', 'conf_low', 'conf_high')
		THEN abs(v.value - r.value) / greatest(abs(r.value), o.std_error)
		WHEN r.kind = 't_value' THEN abs(v.value - r.value) / greatest(abs(r.value), 1)
		ELSE abs(v.value - r.value) / abs(r.value) END) < 1e-6 AS agrees_with_lmertest_kr
FROM lsm_kr_out o
CROSS JOIN LATERAL (VALUES ('estimate', o.estimate), ('std_error', o.std_error), ('df', o.df),
	('t_value', o.t_value), ('p_value', o.p_value), ('conf_low', o.conf_low),
	('conf_high', o.conf_high)) v(kind, value)
JOIN lsm_kr_ref r ON r.model = o.model AND r.term = o.term
	AND r.pairwise = o.pairwise AND r.level = o.level AND r.kind = v.kind
GROUP BY o.model, o.pairwise ORDER BY o.model, o.pairwise;
SELECT (SELECT count(*) FROM lsm_kr_out) AS kr_rows_here, (SELECT count(*) / 7 FROM lsm_kr_ref) AS kr_rows_in_lmertest;
-- an ML fit has no Kenward-Roger (as lmerTest)
SELECT count(*) FROM lmm_ls_means((SELECT m FROM lsm_models WHERE model = 'cake' AND method = 'ML'),
	'recipe', 'ddf=kenward-roger');

-- The cells of an interaction, first factor fastest, and the pairs in
-- lmerTest's order.
SELECT term, level, round(estimate::numeric, 4) AS estimate, round(std_error::numeric, 4) AS std_error,
	round(df::numeric, 2) AS df
FROM lmm_ls_means((SELECT m FROM lsm_models WHERE model = 'cake_unbalanced' AND method = 'REML'),
				  'recipe:temperature') LIMIT 4;
SELECT level, round(estimate::numeric, 4) AS estimate, round(p_value::numeric, 4) AS p_value
FROM lmm_ls_means((SELECT m FROM lsm_models WHERE model = 'machines' AND method = 'REML'), 'machine', 'pairwise=true');

-- level sets the interval: a 90% interval is inside the 95% one, around the same estimate.
SELECT bool_and(a.conf_low > b.conf_low AND a.conf_high < b.conf_high AND a.estimate = b.estimate) AS narrower,
	bool_and(abs((a.conf_high - a.estimate) / a.std_error - 1.6448536269514722) < 0.1) AS near_normal_quantile
FROM lmm_ls_means((SELECT m FROM lsm_models WHERE model = 'cake' AND method = 'REML'), 'temperature', 'level=0.9') a
JOIN lmm_ls_means((SELECT m FROM lsm_models WHERE model = 'cake' AND method = 'REML'), 'temperature') b USING (level);
-- ddf=satterthwaite is the default.
SELECT (SELECT array_agg(df) FROM lmm_ls_means(m, 'variety')) = (SELECT array_agg(df) FROM lmm_ls_means(m, 'variety', 'ddf=Satterthwaite')) AS default_satterthwaite
FROM lsm_models WHERE model = 'oats' AND method = 'ML';

-- The model keeps every factor's levels, the reference first, in its
-- text form, which reads back to the same means.
SELECT (m::text::jsonb) -> 'factors' AS factors FROM lsm_models WHERE model = 'cake_temp' AND method = 'REML';
SELECT (SELECT array_agg(estimate) FROM lmm_ls_means(m::text::lmm_model, 'recipe')) =
	(SELECT array_agg(estimate) FROM lmm_ls_means(m, 'recipe')) AS text_form_same
FROM lsm_models WHERE model = 'cake_temp' AND method = 'REML';
-- a model without factors has no "factors" key
SELECT (lmm('angle ~ temp + (1 | recipe)', 'lsm_cake')::text::jsonb) ? 'factors' AS has_factors;

\set VERBOSITY default
-- A model that lacks its factors (stored before 0.7, or of lmm_fit_terms
-- without "factors"), factors that do not match the columns, and terms
-- that are not terms of factors.
SELECT * FROM lmm_ls_means((SELECT (m::text::jsonb - 'factors')::text::lmm_model FROM lsm_models
	WHERE model = 'cake' AND method = 'REML'), 'recipe');
SELECT * FROM lmm_ls_means((SELECT jsonb_set(m::text::jsonb, '{factors,recipe}', '["B", "A", "C"]')::text::lmm_model
	FROM lsm_models WHERE model = 'cake' AND method = 'REML'), 'recipe');
SELECT * FROM lmm_ls_means((SELECT m FROM lsm_models WHERE model = 'oats' AND method = 'REML'), 'nitro');
SELECT * FROM lmm_ls_means((SELECT m FROM lsm_models WHERE model = 'oats' AND method = 'REML'), 'variety:nitro');
SELECT * FROM lmm_ls_means((SELECT m FROM lsm_models WHERE model = 'cake' AND method = 'REML'), 'temperature:recipe');
SELECT * FROM lmm_ls_means((SELECT lmm_fit(angle, ARRAY[temp], recipe) FROM lsm_cake), 'x1');
-- Bad options.
SELECT * FROM lmm_ls_means((SELECT m FROM lsm_models LIMIT 1), 'recipe', 'pairwise=maybe');
SELECT * FROM lmm_ls_means((SELECT m FROM lsm_models LIMIT 1), 'recipe', 'level=1');
SELECT count(*) AS kr_rows FROM lmm_ls_means((SELECT m FROM lsm_models WHERE model = 'cake' AND method = 'REML'), 'recipe', 'ddf=kenward-roger');
SELECT * FROM lmm_ls_means((SELECT m FROM lsm_models LIMIT 1), 'recipe', 'ddf=none');
SELECT * FROM lmm_ls_means((SELECT m FROM lsm_models LIMIT 1), 'recipe', 'level=0.9, level=0.8');
SELECT * FROM lmm_ls_means((SELECT m FROM lsm_models LIMIT 1), 'recipe', 'type=3');
DROP TABLE lsm_ref, lsm_models, lsm_machines, lsm_oats, lsm_cake CASCADE;
