-- The data for the README's quick start, then its statements verbatim.
SET extra_float_digits = 0;
CREATE TABLE sleepstudy (reaction float8, days int, subject text);
\copy sleepstudy FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TABLE dyestuff (batch text, yield float8);
\copy dyestuff FROM 'test/data/dyestuff.csv' CSV HEADER

-- A synthetic "patients" table: mobility by age, marital status and sex,
-- with a random intercept per doctor, in two regions.
SELECT setseed(0.42);
CREATE TABLE doctors AS
SELECT d AS doctor_id, (d % 2 = 0)::int AS region_even, 3 * (random() - 0.5) AS effect
FROM generate_series(1, 40) d;
CREATE TABLE patients AS
SELECT row_number() OVER () AS id, d.doctor_id,
	CASE WHEN d.region_even = 1 THEN 'north' ELSE 'south' END AS region,
	a.age, a.married, a.sex,
	10 - 0.05 * a.age + 0.8 * a.married - 0.5 * a.sex + d.effect + (random() - 0.5) * 4 AS mobility
FROM doctors d,
	LATERAL (SELECT 30 + (random() * 50)::int AS age, (random() < 0.6)::int AS married,
				(random() < 0.5)::int AS sex, i
			 FROM generate_series(1, 5 + d.doctor_id % 7) i) a;

-- The README's quick start, verbatim (README.md, section Quick start); its
-- full-precision output goes to /dev/null (errors still show), rounded checks follow.
\o /dev/null
-- random intercept per doctor, REML (the default); the intercept is implied, as in an R formula
SELECT lmm_fit(mobility, ARRAY[age, married, sex], doctor_id) FROM patients;
-- the same by maximum likelihood, with names for the terms
SELECT lmm_fit(mobility, ARRAY[age, married, sex], doctor_id,
               'method=ml, x_names=age,married,sex, g_name=doctor') FROM patients;
-- correlated random intercept and slope per subject: lme4's (1 + days | subject)
SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days]) FROM sleepstudy;
SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days], 'method=ml') FROM sleepstudy;
-- intercept-only fixed part
SELECT lmm_fit(yield, ARRAY[]::float8[], batch) FROM dyestuff;
-- one model per region, in one pass
SELECT region, lmm_fit(mobility, ARRAY[age, sex], doctor_id) FROM patients GROUP BY region;

-- keep a model, then read it as rows
CREATE TABLE models AS
SELECT 'mobility' AS name,
       lmm_fit(mobility, ARRAY[age, married, sex], doctor_id,
               'x_names=age,married,sex, g_name=doctor') AS m
FROM patients;
SELECT t.* FROM models, lmm_fixef(m) t;      -- term, estimate, std_error, t_value
SELECT v.* FROM models, lmm_varcorr(m) v;    -- grp, term1, term2, variance, std_dev, corr
SELECT r.* FROM models, lmm_ranef(m) r;      -- grp, level, term, estimate, cond_sd
SELECT s.* FROM models, lmm_summary(m) s;    -- method, n_obs, ..., converged, singular

-- BLUPs joined back to the table
SELECT p.*, r.estimate AS doctor_effect
FROM patients p
JOIN lmm_ranef((SELECT m FROM models WHERE name = 'mobility')) r
  ON r.level = p.doctor_id::text AND r.term = '(Intercept)';
\o

-- checks on the fits above
SELECT term, round(estimate::numeric, 4) AS estimate, round(std_error::numeric, 4) AS se
FROM models, lmm_fixef(m) ORDER BY term;
SELECT method, n_obs, n_groups, n_dropped, converged, singular FROM models, lmm_summary(m);
SELECT term, round(estimate::numeric, 4) AS estimate, round(std_error::numeric, 4) AS se, round(t_value::numeric, 3) AS t
FROM lmm_fixef((SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days], 'x_names=days, z_names=days, g_name=subject') FROM sleepstudy));
SELECT grp, term1, term2, round(variance::numeric, 3) AS variance, round(std_dev::numeric, 3) AS std_dev, round(corr::numeric, 3) AS corr
FROM lmm_varcorr((SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days], 'method=ml') FROM sleepstudy));
SELECT method, round(criterion::numeric, 4) AS reml_criterion, round(sigma::numeric, 4) AS sigma, round(theta[1]::numeric, 5) AS theta
FROM lmm_summary((SELECT lmm_fit(yield, ARRAY[]::float8[], batch) FROM dyestuff));
SELECT region, (lmm_summary(lmm_fit(mobility, ARRAY[age, sex], doctor_id))).n_groups
FROM patients GROUP BY region ORDER BY region;
-- every patient gets its doctor's effect; the effects sum to about zero
SELECT count(*) AS rows_joined, count(DISTINCT doctor_id) AS doctors
FROM patients p
JOIN lmm_ranef((SELECT m FROM models WHERE name = 'mobility')) r
	ON r.level = p.doctor_id::text AND r.term = '(Intercept)';
SELECT count(*) AS levels, abs(sum(estimate)) < 1e-6 AS centred
FROM lmm_ranef((SELECT m FROM models WHERE name = 'mobility'));
