-- The sparse factor of the random-effects terms after the largest
-- (src/core/lmm_sparse.c): y ~ x + (1 | a) + (1 | b) on 12,000 rows, a of
-- 3,001 levels crossed in bands with b of 1,201, the data a formula of the
-- row number (test/data/make_sparse_refs.R computes the same rows).  The
-- choice shows at DEBUG1; the answers agree with lme4 and lmerTest
-- (test/data/sparse.ref.csv) and with the dense factor's to 1e-9; the
-- memory limit replaces the old cap of 10,000 levels.
SET client_min_messages = warning;
SET extra_float_digits = 0;
\i test/helpers/maxrel.psql

CREATE TABLE sparse_data AS
SELECT i % 3001 AS a, (7 * i) % 1201 AS b, ((37 * i) % 101)::float8 / 100 AS x,
	sin((i % 3001)::float8) + cos(((7 * i) % 1201)::float8) / 2 +
	0.3 * (((37 * i) % 101)::float8 / 100) + ((7919 * i) % 1000)::float8 / 1000 AS y
FROM generate_series(1, 12000) i;
CREATE TABLE sparse_ref (method text, what text, term text, value float8);
\copy sparse_ref FROM 'test/data/sparse.ref.csv' CSV HEADER
CREATE TABLE sparse_fit (method text, sparse lmm_model, dense lmm_model);

-- by fill: the sparse factor (the DEBUG1 note says which and why)
INSERT INTO sparse_fit (method) VALUES ('REML'), ('ML');
SET client_min_messages = debug1;
UPDATE sparse_fit SET sparse = lmm('y ~ x + (1 | a) + (1 | b)', 'sparse_data', 'method=' || method);
SET client_min_messages = warning;

-- the dense factor of the same statistics
SET lmm.sparse_factor = off;
UPDATE sparse_fit SET dense = lmm('y ~ x + (1 | a) + (1 | b)', 'sparse_data', 'method=' || method);
RESET lmm.sparse_factor;

-- against lme4 and lmerTest: criterion, theta, sigma, estimates, standard errors, df
SELECT f.method, r.what, r.term, round(v.value::numeric, 6) AS lmm,
	abs(v.value - r.value) / abs(r.value) < CASE r.what
		WHEN 'criterion' THEN 1e-10 WHEN 'theta' THEN 1e-5 WHEN 'df' THEN 1e-4
		ELSE 1e-6 END AS agrees
FROM sparse_fit f
CROSS JOIN LATERAL (
	SELECT 'criterion' AS what, NULL AS term, (lmm_summary(f.sparse)).criterion AS value
	UNION ALL SELECT 'theta', 'a', (lmm_summary(f.sparse)).theta[1]
	UNION ALL SELECT 'theta', 'b', (lmm_summary(f.sparse)).theta[2]
	UNION ALL SELECT 'sigma', NULL, (lmm_summary(f.sparse)).sigma
	UNION ALL SELECT 'estimate', term, estimate FROM lmm_fixef(f.sparse)
	UNION ALL SELECT 'std_error', term, std_error FROM lmm_fixef(f.sparse)
	UNION ALL SELECT 'df', term, df FROM lmm_fixef(f.sparse)) v
JOIN sparse_ref r ON r.method = f.method AND r.what = v.what
	AND r.term IS NOT DISTINCT FROM v.term
ORDER BY f.method DESC, r.what, r.term;

-- no worse than lme4's criterion, to the rounding of one evaluation (the
-- same theta's criterion by lme4's sums and by the statistics' differs by
-- about 2e-13 of it)
SELECT f.method, (lmm_summary(f.sparse)).criterion <= r.value * (1 + 1e-12) AS no_worse
FROM sparse_fit f JOIN sparse_ref r ON r.method = f.method AND r.what = 'criterion'
ORDER BY f.method DESC;

-- sparse against dense: every output, modes and conditional SDs included
SELECT method, kind, pg_temp.maxrel(sparse, dense, kind) < 1e-9 AS same
FROM sparse_fit,
	unnest(ARRAY['fixef', 'se', 'varcorr', 'ranef', 'condsd', 'criterion', 'sigma']) kind
ORDER BY method DESC, kind;

-- the memory limit: the dense factor (1,204^2 doubles, and its inverse) is
-- refused, saying what to raise; the sparse one fits under the same limit
SET lmm.max_factor_memory = '1MB';
SET lmm.sparse_factor = off;
SELECT lmm('y ~ x + (1 | a) + (1 | b)', 'sparse_data') IS NOT NULL;
RESET lmm.sparse_factor;
SELECT (lmm_summary(lmm('y ~ x + (1 | a) + (1 | b)', 'sparse_data'))).criterion =
	(SELECT (lmm_summary(sparse)).criterion FROM sparse_fit WHERE method = 'REML') AS fits;
RESET lmm.max_factor_memory;
