-- lmm(formula, source [, options]): the README's formula examples, the
-- aggregate lmm_fit_terms, errors with their positions, and the caller's
-- rights.  Agreement with lme4 is in test/pgtap/formula.sql.
SET client_min_messages = warning;
SET extra_float_digits = 0;
CREATE TABLE penicillin (diameter float8, plate text, sample text);
\copy penicillin FROM 'test/data/penicillin.csv' CSV HEADER
CREATE TABLE pastes (strength float8, batch text, cask text, sample text);
\copy pastes FROM 'test/data/pastes.csv' CSV HEADER
CREATE TABLE cake (replicate int, recipe text, temperature text, angle float8, temp float8);
\copy cake FROM 'test/data/cake.csv' CSV HEADER
CREATE TABLE ratings (y float8, x float8, a text, b text);
\copy ratings FROM 'test/data/ratings.csv' CSV HEADER
CREATE TABLE assay (y float8, x float8, z float8, k int, sample text, dilut text,
	trt text, flag boolean, g text);
\copy assay FROM 'test/data/assay.csv' CSV HEADER

-- crossed: plate and sample
SELECT grp, term1, round(std_dev::numeric, 5) AS sd
FROM lmm_varcorr(lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin'));
-- nested: (1 | batch/cask) is (1 | batch) + (1 | cask:batch)
SELECT grp, term1, round(std_dev::numeric, 5) AS sd
FROM lmm_varcorr(lmm('strength ~ 1 + (1 | batch/cask)', 'pastes'));
-- crossed, random slope on one factor, ML
SELECT grp, term1, term2, round(std_dev::numeric, 4) AS sd, round(corr::numeric, 4) AS corr
FROM lmm_varcorr(lmm('y ~ x + (x | a) + (1 | b)', 'ratings', 'method=ml'));
-- uncorrelated intercept and slope: two terms on one factor
SELECT grp, term1, round(std_dev::numeric, 4) AS sd
FROM lmm_varcorr(lmm('reaction ~ days + (days || subject)', 'sleepstudy'));
-- categorical fixed effect and an interaction as the grouping factor
SELECT term, round(estimate::numeric, 5) AS estimate, round(std_error::numeric, 5) AS se
FROM lmm_fixef(lmm('angle ~ recipe + temp + (1 | recipe:replicate)', 'cake'));
-- BLUPs of every term join back by level
SELECT grp, level, round(estimate::numeric, 5) AS blup
FROM lmm_ranef(lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin'))
WHERE level IN ('a', 'F') ORDER BY grp;
-- the summary: counts of the first (largest) factor, theta of every term
SELECT method, n_obs, n_groups, round(criterion::numeric, 4) AS criterion,
	   array_length(theta, 1) AS n_theta
FROM lmm_summary(lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin'));

-- interactions of covariates, no intercept, factor() and - 1
SELECT term FROM lmm_fixef(lmm('angle ~ temp * factor(replicate) + (1 | recipe)', 'cake')) LIMIT 4;
SELECT term FROM lmm_fixef(lmm('angle ~ 0 + recipe + temp + (1 | replicate)', 'cake'));
SELECT term FROM lmm_fixef(lmm('angle ~ recipe:temp - 1 + (1 | replicate)', 'cake'));
SELECT term FROM lmm_fixef(lmm('angle ~ temp + recipe:temp + (1 | replicate)', 'cake'));

-- the columns in R's model.matrix order (names and values; test/pgtap/formula.sql
-- checks them against R): main effects first, then interactions by degree, the
-- first factor varying fastest; a factor whose margin is missing gets every level
SELECT f, string_agg(term, ' ' ORDER BY ord) AS columns
FROM (VALUES ('y ~ x * trt + z + sample + (1 | g)'), ('y ~ sample * dilut + (1 | g)'),
			 ('y ~ dilut:sample + sample + (1 | g)'), ('y ~ 0 + sample + dilut + (1 | g)'),
			 ('y ~ (trt + sample):x + (1 | g)'), ('y ~ (x + z + sample)^2 + (1 | g)')) v(f),
	 lmm_fixef(lmm(f, 'assay')) WITH ORDINALITY x(term, e, s, t, df, p, lo, hi, ord)
GROUP BY f ORDER BY f;
-- and a random term's columns likewise
SELECT grp, term1 FROM lmm_varcorr(lmm('y ~ x * trt + (trt * x | g)', 'assay'))
WHERE term2 IS NULL;

-- rows with NULLs in a used column are dropped and counted
CREATE TABLE pen_nulls AS SELECT * FROM penicillin;
UPDATE pen_nulls SET sample = NULL WHERE plate = 'a' AND sample = 'A';
UPDATE pen_nulls SET diameter = NULL WHERE plate = 'b' AND sample = 'B';
SELECT (lmm_summary(m)).n_obs, m::text::jsonb -> 'n_dropped' AS n_dropped
FROM (SELECT lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'pen_nulls') AS m) s;

-- the aggregate: per group of rows (here one fit per half of the plates)
SELECT plate < 'm' AS first_half,
	   round((lmm_summary(lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1],
			'{"x": ["(Intercept)"], "terms": [{"group": "plate", "z": ["(Intercept)"]}, {"group": "sample", "z": ["(Intercept)"]}]}'))).sigma::numeric, 5) AS sigma
FROM penicillin GROUP BY 1 ORDER BY 1;

-- the model's text form round-trips exactly
SELECT m::text::lmm_model::text = m::text AS text_round_trip
FROM (SELECT lmm('strength ~ 1 + (1 | batch/cask)', 'pastes') AS m) s;

-- errors: each names the problem and where it is
\set VERBOSITY default
SELECT lmm('diameter ~ 1 + (1 | plate', 'penicillin');
SELECT lmm('diameter ~ agee + (1 | plate)', 'penicillin');
SELECT lmm('diameter ~ 1 + (1 | plate) + (1 | sample)); DROP TABLE penicillin; --', 'penicillin');
SELECT lmm('diameter ~ 1 + (1 | plate) - x', 'penicillin');
SELECT lmm('diameter ~ plate', 'penicillin');
SELECT lmm('plate ~ 1 + (1 | sample)', 'penicillin');
SELECT lmm('diameter ~ 1 + (1 | plate)', 'no_such_table');
SELECT lmm('diameter ~ 1 + (1 | plate)', 'penicillin', 'method=fast');
SELECT lmm('y ~ x + (1 | a) + (1 | b)', 'ratings') IS NOT NULL AS fits_after_errors;
SELECT count(*) AS penicillin_rows FROM penicillin;
-- a quoted name with a quote and a semicolon is just a (missing) column name
SELECT lmm('diameter ~ `x''; DROP TABLE penicillin; --` + (1 | plate)', 'penicillin');
-- a factor with one level, a grouping factor with one level
CREATE TABLE one_level AS SELECT diameter, plate, 'S'::text AS s FROM penicillin;
SELECT lmm('diameter ~ 1 + (1 | plate) + (1 | s)', 'one_level');
SELECT lmm('diameter ~ s + (1 | plate)', 'one_level');
-- a model of several terms needs one key per term (see 13_score_terms)
SELECT lmm_predict(lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin'), ARRAY[]::float8[], 'a'::text);

-- the caller's rights: no SELECT on the source, no fit
CREATE ROLE lmm_formula_reader;
GRANT USAGE ON SCHEMA public TO lmm_formula_reader;
SET ROLE lmm_formula_reader;
SELECT lmm('diameter ~ 1 + (1 | plate)', 'penicillin');
RESET ROLE;
GRANT SELECT ON penicillin TO lmm_formula_reader;
SET ROLE lmm_formula_reader;
SELECT lmm('diameter ~ 1 + (1 | plate)', 'penicillin') IS NOT NULL AS fits_with_select;
RESET ROLE;
REVOKE ALL ON penicillin FROM lmm_formula_reader;
REVOKE USAGE ON SCHEMA public FROM lmm_formula_reader;
DROP ROLE lmm_formula_reader;
DROP TABLE pen_nulls, one_level;

-- lmm.blas_threads: one BLAS thread per backend by default; more threads
-- change how fast the dense block is factored, not the answer
SHOW lmm.blas_threads;
CREATE TEMP TABLE threads AS
SELECT 1 AS n, lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin') AS m;
SET lmm.blas_threads = 2;
INSERT INTO threads SELECT 2, lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin');
RESET lmm.blas_threads;
SELECT abs((lmm_summary(a.m)).criterion - (lmm_summary(b.m)).criterion) < 1e-9 AS same_fit
FROM threads a, threads b WHERE a.n = 1 AND b.n = 2;
SET lmm.blas_threads = 0;
-- a slope far from the intercept's scale (days + 1000, x 1e5, x 1e-6): the
-- optimizer works in standardized z, so the fit is the same model's as with
-- days, alone or next to another term
CREATE TEMP VIEW sleep_scaled AS
SELECT reaction, days, days + 1000 AS d1000, days * 1e5 AS dbig, days * 1e-6 AS dsmall, subject FROM sleepstudy;
SELECT f, abs((lmm_summary(lmm(f, 'sleep_scaled'))).criterion -
			  (lmm_summary(lmm(replace(replace(replace(f, 'd1000', 'days'), 'dbig', 'days'), 'dsmall', 'days'),
							   'sleep_scaled'))).criterion) < 1e-8 AS same_criterion
FROM (VALUES ('reaction ~ days + (d1000 | subject)'), ('reaction ~ days + (dbig | subject)'),
			 ('reaction ~ days + (dsmall | subject)'), ('reaction ~ days + (d1000 | subject) + (1 | days)')) v(f);
