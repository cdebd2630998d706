-- lmm against lme4 1.1-31 (R 4.2) on sleepstudy, Dyestuff and two synthetic
-- sets (unbalanced groups with single-row groups and three correlated random
-- effects; a singular fit), REML and ML.
\set QUIET 1
\set ON_ERROR_STOP 1
BEGIN;
\i test/pgtap/setup.psql

-- Where lme4's BOBYQA stops short of the optimum (ftol_abs = 1e-8 on a flat
-- criterion), our criterion is lower and theta-derived numbers may differ
-- by a few 1e-4; elsewhere we follow lme4's optimizer path to 1e-6.
CREATE FUNCTION pg_temp.tol(fit text, method text, kind text) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN (fit, method) IN (('sleep_slope', 'ML'), ('unbalanced', 'REML'), ('unbalanced', 'ML'))
			THEN CASE WHEN kind = 'fixef' THEN 1e-5 ELSE 5e-4 END
		ELSE 1e-6 END
$$;

SELECT plan((SELECT 2 * count(*)::int FROM agreement) + 2 * (SELECT count(*)::int FROM fits) + 1);

SELECT is(count(*)::int, 10, 'ten reference fits') FROM fits WHERE m IS NOT NULL;

SELECT is(n_matched, n_ref, format('%s %s %s: every lme4 value has ours', fit, method, kind))
FROM agreement ORDER BY fit, method, kind;

SELECT cmp_ok(max_err, '<=', pg_temp.tol(fit, method, kind),
			  format('%s %s %s within %s of lme4', fit, method, kind, pg_temp.tol(fit, method, kind)))
FROM agreement ORDER BY fit, method, kind;

-- our criterion is never worse than lme4's
SELECT cmp_ok(s.criterion, '<=', r.value + 1e-10 * abs(r.value),
			  format('%s %s criterion no worse than lme4''s', f.fit, f.method))
FROM fits f, lmm_summary(f.m) s, ref r
WHERE r.fit = f.fit AND r.method = f.method AND r.kind = 'crit'
ORDER BY f.fit, f.method;

SELECT ok(s.converged, format('%s %s converged', f.fit, f.method))
FROM fits f, lmm_summary(f.m) s ORDER BY f.fit, f.method;

SELECT * FROM finish();
ROLLBACK;
