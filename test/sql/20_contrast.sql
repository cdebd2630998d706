-- lmm_contrast: lmerTest's contest1D and contestMD, checked against
-- lmerTest 3.1 (test/data/contrast.ref.csv, made by make_contrast_refs.R on
-- fits run to convergence) to 1e-6 in every number, for a one-term model
-- fitted both ways (lmm_fit and lmm()), a model with two terms and a model
-- with factors; then ddf=none and bad input.
SET client_min_messages = warning;
SET extra_float_digits = 0;

CREATE TABLE contrast_ref (model text, method text, contrast text, kind text, value float8);
\copy contrast_ref FROM 'test/data/contrast.ref.csv' CSV HEADER
CREATE VIEW sleep_d2 AS
SELECT reaction, days, days * days / 10.0 AS d2, subject FROM sleepstudy;

CREATE TABLE contrast_models (model text, method text, via text, m lmm_model);
INSERT INTO contrast_models
SELECT 'slope', upper(me), 'lmm()', lmm('reaction ~ days + (days | subject)', 'sleepstudy', 'method=' || me)
FROM unnest(ARRAY['reml', 'ml']) me
UNION ALL
SELECT 'slope', upper(me), 'lmm_fit',
	(SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days], 'method=' || me) FROM sleepstudy)
FROM unnest(ARRAY['reml', 'ml']) me
UNION ALL
SELECT 'two_terms', upper(me), 'lmm()',
	lmm('reaction ~ days + d2 + (1 | subject) + (0 + days | subject)', 'sleep_d2', 'method=' || me)
FROM unnest(ARRAY['reml', 'ml']) me
UNION ALL
SELECT 'cake', upper(me), 'lmm()',
	lmm('angle ~ recipe + temperature + (1 | recipe:replicate)', 'cake', 'method=' || me)
FROM unnest(ARRAY['reml', 'ml']) me;

-- The contrasts of make_contrast_refs.R, in lmm_fixef's order.
CREATE TABLE contrasts (model text, contrast text, l float8[]);
INSERT INTO contrasts VALUES
	('slope', 'days', '{0, 1}'),
	('slope', 'both', '{{1, 0}, {0, 1}}'),
	('slope', 'sum', '{1, 10}'),
	('slope', 'repeated', '{{0, 1}, {0, 2}, {1, 0}}'),
	('two_terms', 'all', '{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}'),
	('two_terms', 'slopes', '{{0, 1, 0}, {0, 0, 1}}'),
	('two_terms', 'd2', '{0, 0, 1}'),
	('cake', 'recipe', '{{0, 1, 0, 0, 0, 0, 0, 0}, {0, 0, 1, 0, 0, 0, 0, 0}}'),
	('cake', 'temperature', '{{0, 0, 0, 1, 0, 0, 0, 0}, {0, 0, 0, 0, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 1, 0, 0}, {0, 0, 0, 0, 0, 0, 1, 0}, {0, 0, 0, 0, 0, 0, 0, 1}}'),
	('cake', 'b_minus_c', '{0, 1, -1, 0, 0, 0, 0, 0}');

-- Every number against lmerTest's: the largest relative difference per
-- model (below 1e-12 a p-value's log, as a p-value of 1e-30 moves 1e-6
-- relative with 1e-8 in the df, which is all lmerTest's numerical
-- Hessian gives), and how many numbers were compared.
SELECT cm.model, cm.method, cm.via, count(*) AS numbers,
	max(CASE WHEN r.value < 1e-12 AND r.kind LIKE 'p_value%'
		THEN abs(ln(v.value) - ln(r.value)) / abs(ln(r.value))
		ELSE abs(v.value - r.value) / abs(r.value) END) < 1e-6 AS agrees_with_lmertest
FROM contrast_models cm
JOIN contrasts c USING (model)
CROSS JOIN LATERAL lmm_contrast(cm.m, c.l) t
CROSS JOIN LATERAL (VALUES ('estimate', t.estimate), ('std_error', t.std_error),
	('t_value', t.t_value), ('df', CASE WHEN array_ndims(c.l) = 1 THEN t.den_df END),
	('p_value', CASE WHEN array_ndims(c.l) = 1 THEN t.p_value END),
	('f_value', t.f_value), ('num_df', t.num_df), ('den_df', t.den_df),
	('p_value_f', t.p_value)) v(kind, value)
JOIN contrast_ref r ON r.model = cm.model AND r.method = cm.method
	AND r.contrast = c.contrast AND r.kind = v.kind
GROUP BY cm.model, cm.method, cm.via ORDER BY cm.model, cm.method, cm.via;

-- A contrast of one coefficient is lmm_fixef's row: estimate, SE, t, df, p.
SELECT f.term, abs(t.estimate - f.estimate) < 1e-12 * abs(f.estimate) AS estimate,
	abs(t.std_error - f.std_error) < 1e-12 * f.std_error AS se,
	abs(t.den_df - f.df) < 1e-9 * f.df AS df,
	abs(t.p_value - f.p_value) < 1e-9 * f.p_value AS p, t.num_df,
	abs(t.f_value - t.t_value ^ 2) < 1e-12 * t.f_value AS f_is_t_squared
FROM contrast_models cm, LATERAL lmm_fixef(cm.m) WITH ORDINALITY f,
	LATERAL lmm_contrast(cm.m, (SELECT array_agg(CASE WHEN i = f.ordinality THEN 1.0 ELSE 0.0 END::float8 ORDER BY i)
		FROM generate_series(1, 2) i)) t
WHERE cm.model = 'slope' AND cm.method = 'REML' AND cm.via = 'lmm_fit';

-- Rows that repeat others count once: the rank is the numerator df.
SELECT num_df FROM contrast_models, lmm_contrast(m, '{{0, 1}, {0, 2}, {0, -3}}')
WHERE model = 'slope' AND method = 'REML' AND via = 'lmm()';

-- ddf=none: lme4's statistics without df or p-value.
SELECT round(estimate::numeric, 6) AS estimate, round(t_value::numeric, 6) AS t_value,
	num_df, den_df, round(f_value::numeric, 6) AS f_value, p_value
FROM contrast_models, lmm_contrast(m, '{0, 1}', 'ddf=none')
WHERE model = 'slope' AND method = 'REML' AND via = 'lmm()';

-- Bad input: a clear error each, and the server stays up.
\set VERBOSITY default
SELECT * FROM lmm_contrast((SELECT m FROM contrast_models LIMIT 1), '{1, 0, 0}');
SELECT * FROM lmm_contrast((SELECT m FROM contrast_models LIMIT 1), '{1, NULL}');
SELECT * FROM lmm_contrast((SELECT m FROM contrast_models LIMIT 1), '{1, NaN}');
SELECT * FROM lmm_contrast((SELECT m FROM contrast_models LIMIT 1), '{{{1, 0}}}');
SELECT * FROM lmm_contrast((SELECT m FROM contrast_models LIMIT 1), '{}');
SELECT * FROM lmm_contrast((SELECT m FROM contrast_models WHERE method = 'ML' LIMIT 1), '{0, 1}', 'ddf=kenward-roger');
SELECT * FROM lmm_contrast((SELECT m FROM contrast_models LIMIT 1), '{0, 1}', 'ddf=wrong');
SELECT * FROM lmm_contrast((SELECT m FROM contrast_models LIMIT 1), '{0, 1}', 'level=0.9');
-- A zero contrast has nothing to test: its estimate and SE are 0, no F.
SELECT * FROM lmm_contrast((SELECT m FROM contrast_models LIMIT 1), '{0, 0}');
SELECT 1 AS still_up;
