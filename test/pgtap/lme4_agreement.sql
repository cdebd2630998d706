-- lmm against lme4 1.1-31 (R 4.2) on sleepstudy, Dyestuff and two synthetic
-- sets (unbalanced groups with single-row groups and three correlated random
-- effects; a singular fit), REML and ML: against lme4 with its default
-- optimizer settings, and against lme4 run to convergence (tight).
\set QUIET 1
\set ON_ERROR_STOP 1
BEGIN;
\i test/pgtap/setup.psql

SELECT plan((SELECT 2 * count(*)::int FROM agreement) + 2 * (SELECT count(*)::int FROM fits)
	+ (SELECT count(*)::int FROM ref WHERE run = 'tight' AND kind = 'crit') + 1);

SELECT is(count(*)::int, 10, 'ten reference fits') FROM fits WHERE m IS NOT NULL;

SELECT is(n_matched, n_ref, format('%s %s %s: every lme4 (%s) value has ours', fit, method, kind, run))
FROM agreement ORDER BY run, fit, method, kind;

SELECT cmp_ok(max_err, '<=', pg_temp.tol(run, fit, kind),
			  format('%s %s %s within %s of lme4 (%s)', fit, method, kind, pg_temp.tol(run, fit, kind), run))
FROM agreement ORDER BY run, fit, method, kind;

-- our criterion is never worse than lme4's default run
SELECT cmp_ok(s.criterion, '<=', r.value + 1e-10 * abs(r.value),
			  format('%s %s criterion no worse than lme4''s', f.fit, f.method))
FROM fits f, lmm_summary(f.m) s, ref r
WHERE r.run = 'default' AND r.fit = f.fit AND r.method = f.method AND r.kind = 'crit'
ORDER BY f.fit, f.method;

-- and equals the criterion at lme4's converged optimum
SELECT cmp_ok(abs(s.criterion - r.value), '<=', 1e-11 * abs(r.value),
			  format('%s %s criterion equals converged lme4''s to 1e-11', f.fit, f.method))
FROM fits f, lmm_summary(f.m) s, ref r
WHERE r.run = 'tight' AND r.fit = f.fit AND r.method = f.method AND r.kind = 'crit'
ORDER BY f.fit, f.method;

SELECT ok(s.converged, format('%s %s converged', f.fit, f.method))
FROM fits f, lmm_summary(f.m) s ORDER BY f.fit, f.method;

SELECT * FROM finish();
ROLLBACK;
