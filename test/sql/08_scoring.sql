-- The README's "Use the model" statements verbatim (on the quick start's
-- patients, doctors and sleepstudy tables), then checks: predictions equal
-- X beta + Z b from lmm_fixef and lmm_ranef, lmm_blup equals lmm_ranef, an
-- unseen level gets the population prediction, and scoring in parallel
-- workers equals scoring in the leader.
SET extra_float_digits = 0;
\o /dev/null
-- stored models: one row per model, refitted when you like
CREATE TABLE fitted_models (
    name      text PRIMARY KEY,
    fitted_at timestamptz NOT NULL DEFAULT now(),
    m         lmm_model NOT NULL
);
INSERT INTO fitted_models (name, m)
SELECT 'mobility', lmm_fit(mobility, ARRAY[age, married, sex], doctor_id,
                           'x_names=age,married,sex, g_name=doctor')
FROM patients;
INSERT INTO fitted_models (name, m)
SELECT 'sleep', lmm_fit(reaction, ARRAY[days], subject, ARRAY[days],
                        'x_names=days, z_names=days, g_name=subject')
FROM sleepstudy;

-- conditional prediction: fixed part + the row's group effect
-- (a doctor the model never saw gets the population prediction)
SELECT p.id, lmm_predict(m.m, ARRAY[p.age, p.married, p.sex], p.doctor_id) AS predicted
FROM patients p, fitted_models m WHERE m.name = 'mobility';
-- population-level prediction (fixed effects only)
SELECT lmm_predict(m, ARRAY[50, 1, 0]) FROM fitted_models WHERE name = 'mobility';
-- with random slopes: pass the row's z values after the key
SELECT s.subject, s.days, lmm_predict(m.m, ARRAY[s.days], s.subject, ARRAY[s.days])
FROM sleepstudy s, fitted_models m WHERE m.name = 'sleep';
-- a group's effect, without a set-returning function (NULL for an unseen level)
SELECT d.*, lmm_blup(m.m, d.doctor_id) AS doctor_effect
FROM doctors d, fitted_models m WHERE m.name = 'mobility';
SELECT lmm_blup(m, '308', 'days') FROM fitted_models WHERE name = 'sleep';   -- a named term
-- the rows the model explains worst
SELECT p.id, lmm_residual(m.m, p.mobility, ARRAY[p.age, p.married, p.sex], p.doctor_id) AS residual
FROM patients p, fitted_models m WHERE m.name = 'mobility'
ORDER BY abs(lmm_residual(m.m, p.mobility, ARRAY[p.age, p.married, p.sex], p.doctor_id)) DESC
LIMIT 5;
-- keep the predictions with the rows
ALTER TABLE patients ADD COLUMN predicted float8;
UPDATE patients p SET predicted = lmm_predict(m.m, ARRAY[p.age, p.married, p.sex], p.doctor_id)
FROM fitted_models m WHERE m.name = 'mobility';
-- the same group effects by a join (integer keys match on key::text); lmm_blup is faster
SELECT d.doctor_id, r.estimate AS doctor_effect
FROM doctors d
JOIN lmm_ranef((SELECT m FROM fitted_models WHERE name = 'mobility')) r
  ON r.level = d.doctor_id::text AND r.term = '(Intercept)';
\o

-- every patient was scored, as X beta + b of its doctor
WITH fe AS (
	SELECT array_agg(f.estimate ORDER BY f.ord) AS beta
	FROM fitted_models m, lmm_fixef(m.m) WITH ORDINALITY f(term, estimate, se, t, df, p, lo, hi, ord)
	WHERE m.name = 'mobility'
)
SELECT count(*) AS patients, count(p.predicted) AS scored,
	max(abs(p.predicted - (fe.beta[1] + fe.beta[2] * p.age + fe.beta[3] * p.married
						   + fe.beta[4] * p.sex + r.estimate))) < 1e-10 AS equals_x_beta_plus_b
FROM patients p CROSS JOIN fe
JOIN lmm_ranef((SELECT m FROM fitted_models WHERE name = 'mobility')) r
	ON r.level = p.doctor_id::text;
-- the residuals are the rows' mobility minus the stored predictions
SELECT max(abs(lmm_residual(m.m, p.mobility, ARRAY[p.age, p.married, p.sex], p.doctor_id)
			   - (p.mobility - p.predicted))) < 1e-12 AS residual_is_y_minus_prediction
FROM patients p, fitted_models m WHERE m.name = 'mobility';
-- lmm_blup and the join give the same effects
SELECT count(*) AS doctors,
	count(*) FILTER (WHERE lmm_blup(m.m, d.doctor_id) = r.estimate) AS same_as_join
FROM doctors d, fitted_models m,
	lmm_ranef(m.m) r
WHERE m.name = 'mobility' AND r.level = d.doctor_id::text;
-- numbers: a population prediction, the named-term BLUP of subject 308 (lme4:
-- 9.19897), and an unseen doctor, who gets the population prediction
SELECT round(lmm_predict(m, ARRAY[50, 1, 0])::numeric, 6) AS population,
	lmm_blup(m, 4000) AS unseen_blup,
	lmm_predict(m, ARRAY[50, 1, 0], 4000) = lmm_predict(m, ARRAY[50, 1, 0]) AS unseen_is_population
FROM fitted_models WHERE name = 'mobility';
SELECT round(lmm_blup(m, '308', 'days')::numeric, 5) AS days_308,
	round(lmm_blup(m, '308')::numeric, 5) AS intercept_308
FROM fitted_models WHERE name = 'sleep';
-- the five worst-explained patients
SELECT p.id, round(lmm_residual(m.m, p.mobility, ARRAY[p.age, p.married, p.sex], p.doctor_id)::numeric, 4) AS residual
FROM patients p, fitted_models m WHERE m.name = 'mobility'
ORDER BY abs(lmm_residual(m.m, p.mobility, ARRAY[p.age, p.married, p.sex], p.doctor_id)) DESC
LIMIT 5;

\i test/helpers/plan.psql

-- scoring in parallel workers equals scoring in the leader
CREATE TABLE scored_rows AS
SELECT i AS id, i % 60 AS doctor_id, 30 + i % 50 AS age, i % 2 AS married, (i / 2) % 2 AS sex
FROM generate_series(1, 20000) i;
ANALYZE scored_rows;
CREATE TEMP TABLE serial_sum AS
SELECT sum(lmm_predict(m.m, ARRAY[s.age, s.married, s.sex], s.doctor_id)) AS total
FROM scored_rows s, fitted_models m WHERE m.name = 'mobility';
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT pg_temp.plan($$SELECT sum(lmm_predict(m.m, ARRAY[s.age, s.married, s.sex], s.doctor_id))
	FROM scored_rows s, fitted_models m WHERE m.name = 'mobility'$$) AS plan;
CREATE TABLE parallel_sum AS
SELECT sum(lmm_predict(m.m, ARRAY[s.age, s.married, s.sex], s.doctor_id)) AS total
FROM scored_rows s, fitted_models m WHERE m.name = 'mobility';
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
SELECT abs(p.total - s.total) / abs(s.total) < 1e-12 AS parallel_equals_serial
FROM parallel_sum p, serial_sum s;
DROP TABLE scored_rows, parallel_sum;

-- A model stored out of line, as large ones are: uncompressed (lmm_model's
-- storage), compressed (a column set to EXTENDED) and one without
-- statistics.  Scoring fetches only the level records of the first two and
-- all of the third; every way scores as the value in memory does.
CREATE TABLE many_groups AS
SELECT i % 3000 - 1500 AS g, sin(i * 0.7) AS x, (i % 3000) % 17 + sin(i * 3.1) AS y
FROM generate_series(1, 12000) i;
CREATE TABLE stored_models (how text, m lmm_model);
INSERT INTO stored_models SELECT 'external', lmm_fit(y, ARRAY[x], g) FROM many_groups;
INSERT INTO stored_models
SELECT 'no statistics', jsonb_set(m::text::jsonb, '{stats}', 'null')::text::lmm_model
FROM stored_models;
ALTER TABLE stored_models ALTER COLUMN m SET STORAGE EXTENDED;
INSERT INTO stored_models SELECT 'compressed', m FROM stored_models WHERE how = 'external';
SELECT how, pg_column_size(m) > 10000 AS out_of_line, pg_column_compression(m) AS compression
FROM stored_models ORDER BY how;
WITH fitted AS MATERIALIZED (SELECT lmm_fit(y, ARRAY[x], g) AS m FROM many_groups),
scored AS (
	SELECT s.how, k.g, lmm_predict(s.m, ARRAY[0.5], k.g) AS stored,
		lmm_predict(f.m, ARRAY[0.5], k.g) AS in_memory,
		lmm_blup(s.m, k.g::text) AS blup_text_key, lmm_blup(f.m, k.g) AS blup
	FROM stored_models s, fitted f, generate_series(-1600, 1600) k(g))
SELECT how, count(*) FILTER (WHERE stored IS DISTINCT FROM in_memory
		OR blup_text_key IS DISTINCT FROM blup) AS differ,
	count(blup) AS levels_found, count(DISTINCT stored) > 2900 AS group_effects
FROM scored GROUP BY how ORDER BY how;
-- keys of the other integer types (the smallest bigint among them, which
-- spreads m8's keys too far for a dense table: m8 is hashed, m2 and m4 are
-- addressed directly), keys as text with leading zeros, and level texts
-- that no integer prints as ("007", "-0"), which no integer key matches
WITH m AS MATERIALIZED (
	SELECT lmm_fit(y, ARRAY[x], g) AS m4, lmm_fit(y, ARRAY[x], g::smallint) AS m2,
		lmm_fit(y, ARRAY[x], CASE WHEN g = -1500 THEN -9223372036854775808 ELSE g END) AS m8
	FROM many_groups)
SELECT count(*) FILTER (WHERE abs(lmm_blup(m2, k.g::smallint) - lmm_blup(m4, k.g)) < 1e-9) AS smallint_keys,
	count(*) FILTER (WHERE abs(lmm_blup(m8, CASE WHEN k.g = -1500 THEN -9223372036854775808 ELSE k.g END)
		- lmm_blup(m4, k.g)) < 1e-9) AS bigint_keys,
	count(*) FILTER (WHERE lmm_blup(m4, lpad(k.g::text, 6, '0')) = lmm_blup(m4, k.g)) AS text_keys
FROM m, generate_series(0, 1499) k(g);
SELECT lmm_blup(m, 7) AS seven, lmm_blup(m, '7'::text) AS seven_as_text,
	lmm_blup(m, 8) AS eight, lmm_blup(m, 0) IS NOT NULL AS zero
FROM (SELECT replace(replace(lmm_fit(y, ARRAY[x], g)::text, '"7"', '"007"'), '"8"', '"-0"')::lmm_model AS m
	FROM many_groups WHERE g BETWEEN 0 AND 20) s;
DROP TABLE many_groups, stored_models;
