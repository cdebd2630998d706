-- Inference against lmerTest 3.1-3 and lme4 1.1-31 (test/data/make_inference_refs.R):
-- Satterthwaite df, t, p-values and 95% t intervals (lmm_fixef), Wald and
-- profile intervals (lmm_confint) and likelihood-ratio tests (lmm_anova) on
-- Dyestuff, sleepstudy (intercept; intercept and slope), three correlated
-- random effects (unbalanced) and a singular fit, REML and ML.
\set QUIET 1
\set ON_ERROR_STOP 1
BEGIN;
\i test/pgtap/setup.psql

CREATE TEMP TABLE iref (fit text, method text, kind text, parameter text, level text, value float8);
\copy iref FROM 'test/data/inference.ref.csv' CSV HEADER
UPDATE iref SET level = coalesce(level, '');

-- Our numbers in the reference's long format.  df_tight / p_tight are
-- lmerTest's at lme4 fits run to convergence: the same columns of ours.
CREATE TEMP TABLE ours AS
SELECT f.fit, f.method, k.kind, x.term AS parameter, k.level, k.v AS value
FROM fits f, lmm_fixef(f.m) x,
	LATERAL (VALUES ('df', '', x.df), ('t', '', x.t_value), ('p', '', x.p_value),
					('conf_low', '0.95', x.conf_low), ('conf_high', '0.95', x.conf_high),
					('df_tight', '', x.df), ('p_tight', '', x.p_value)) k(kind, level, v)
UNION ALL
SELECT f.fit, f.method, c.method || '_' || s.side, c.parameter, l.level,
	CASE s.side WHEN 'lower' THEN c.lower ELSE c.upper END
FROM fits f, (VALUES ('0.95'), ('0.90')) l(level), (VALUES ('profile'), ('wald')) mt(method),
	lmm_confint(f.m, format('method=%s, level=%s', mt.method, l.level)) c,
	(VALUES ('lower'), ('upper')) s(side);

-- Tolerances (relative).  The issue's targets are 1e-4 for df and p and
-- 1e-3 for profile intervals.  Where lme4's default BOBYQA stops short of the
-- optimum (sleep_slope ML, unbalanced; see lme4_agreement.sql) its theta, and
-- so lmerTest's df, differ from the optimum's by up to 1.6e-4; against lme4
-- run to convergence (df_tight, p_tight) we agree to 1.3e-7 and 4e-6, and
-- unbalanced's coefficients and standard errors differ by 2e-5.  Tiny
-- p-values magnify a t difference by about t^2, hence their wider margin in
-- the default run.  Two profile ends are lme4's own approximations: lme4
-- warns "non-monotonic profile" for unbalanced's cor_x2.(Intercept) and falls
-- back to linear interpolation, and for the singular REML fit its ML refit
-- stops at sd = 3e-8 instead of 0 (we find ends 0.4% and 0.25% away).
CREATE FUNCTION pg_temp.itol(fit text, method text, kind text, parameter text) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE
		WHEN kind IN ('df_tight') THEN 1e-6
		WHEN kind IN ('p_tight') THEN 1e-5
		WHEN kind LIKE 'profile%' AND ((fit = 'unbalanced' AND parameter = 'cor_x2.(Intercept)|g')
			OR (fit = 'singular' AND method = 'REML')) THEN 5e-3
		WHEN kind LIKE 'profile%' THEN 1e-3
		WHEN fit IN ('unbalanced') AND kind = 'df' THEN 2e-4
		WHEN (fit = 'unbalanced' OR (fit, method) = ('sleep_slope', 'ML')) AND kind = 'p' THEN 5e-3
		WHEN fit = 'sleep_slope' AND kind = 'p' THEN 1e-3
		WHEN kind IN ('df', 'p', 't') THEN 1e-4
		WHEN fit = 'unbalanced' THEN 5e-5	-- intervals around lme4's stopped-short beta
		ELSE 1e-5				-- intervals from the t or normal quantile
	END $$;

CREATE TEMP VIEW icmp AS
SELECT r.fit, r.method, r.kind, count(*) AS n_ref, count(o.value) AS n_matched,
	max(abs(o.value - r.value) / greatest(abs(r.value), 1e-300)
		/ pg_temp.itol(r.fit, r.method, r.kind, r.parameter)) AS worst
FROM iref r
LEFT JOIN ours o USING (fit, method, kind, parameter, level)
WHERE r.fit IN (SELECT fit FROM fits) AND r.kind <> 'profile_estimate'
GROUP BY r.fit, r.method, r.kind;

-- Likelihood-ratio tests: the model pairs of make_inference_refs.R.
CREATE TEMP TABLE pairs (pair text, method text, small lmm_model, big lmm_model);
INSERT INTO pairs
SELECT 'sleep_null_vs_int', 'REML',
	(SELECT lmm_fit(reaction, ARRAY[]::float8[], subject, 'g_name=Subject') FROM sleepstudy),
	(SELECT m FROM fits WHERE fit = 'sleep_int' AND method = 'REML')
UNION ALL
SELECT 'sleep_int_vs_slope', 'REML',
	(SELECT m FROM fits WHERE fit = 'sleep_int' AND method = 'REML'),
	(SELECT m FROM fits WHERE fit = 'sleep_slope' AND method = 'REML')
UNION ALL
SELECT 'unbal_int_vs_full', 'REML',
	(SELECT lmm_fit(y, ARRAY[x1, x2], g, 'x_names=x1,x2') FROM unbalanced),
	(SELECT m FROM fits WHERE fit = 'unbalanced' AND method = 'REML')
UNION ALL
SELECT 'unbal_drop_x2', 'ML',
	(SELECT lmm_fit(y, ARRAY[x1], g, ARRAY[x1], 'x_names=x1, z_names=x1, method=ml') FROM unbalanced),
	(SELECT lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1], 'x_names=x1,x2, z_names=x1, method=ml') FROM unbalanced);

-- rows of lmm_anova(big, small): the smaller model must come first anyway
CREATE TEMP TABLE lrt AS
SELECT p.pair, p.method, CASE WHEN a.ord = 1 THEN 'small' ELSE 'big' END AS parameter, k.kind, k.v AS value
FROM pairs p, lmm_anova(p.big, p.small) WITH ORDINALITY a(model, npar, aic, bic, loglik, deviance, chisq, df, p_value, ord),
	LATERAL (VALUES ('npar', a.npar::float8), ('AIC', a.aic), ('BIC', a.bic), ('logLik', a.loglik),
					('deviance', a.deviance), ('Chisq', a.chisq), ('Df', a.df::float8),
					('p', a.p_value)) k(kind, v);

SELECT plan((SELECT 2 * count(*)::int FROM icmp) + 5 + 4 + 8);

SELECT is(n_matched, n_ref, format('%s %s %s: every reference value has ours', fit, method, kind))
FROM icmp ORDER BY fit, method, kind;
SELECT cmp_ok(worst, '<=', 1::float8,
			  format('%s %s %s within %s of lmerTest/lme4', fit, method, kind,
					 pg_temp.itol(fit, method, kind, '')))
FROM icmp ORDER BY fit, method, kind;

-- the LRT: counts exactly, log-likelihoods to 1e-9 (our ML refit ends at
-- the optimum; lme4's refitML stops within 1e-9), chi-square to 1e-6
SELECT is(count(l.kind), count(*), 'every anova value of lme4 has ours (NULL where lme4 has NA)')
FROM iref r LEFT JOIN lrt l ON l.pair = r.fit AND l.method = r.method AND l.parameter = r.parameter
	AND l.kind = r.kind AND (l.value IS NOT NULL) = (r.value IS NOT NULL)
WHERE r.fit IN (SELECT pair FROM pairs) AND r.kind NOT IN ('ml_theta', 'ml_deviance');
SELECT ok(bool_and(l.value = r.value), 'npar and Df equal lme4''s')
FROM iref r JOIN lrt l ON l.pair = r.fit AND l.parameter = r.parameter AND l.kind = r.kind
WHERE r.kind IN ('npar', 'Df');
SELECT cmp_ok(max(abs(l.value - r.value) / abs(r.value)), '<=', 1e-9::float8,
			  'AIC, BIC, logLik and deviance equal lme4''s to 1e-9')
FROM iref r JOIN lrt l ON l.pair = r.fit AND l.parameter = r.parameter AND l.kind = r.kind
WHERE r.kind IN ('AIC', 'BIC', 'logLik', 'deviance');
SELECT cmp_ok(max(abs(l.value - r.value) / abs(r.value)), '<=', 1e-6::float8,
			  'chi-square and its p-value equal lme4''s to 1e-6')
FROM iref r JOIN lrt l ON l.pair = r.fit AND l.parameter = r.parameter AND l.kind = r.kind
WHERE r.kind IN ('Chisq', 'p') AND r.value IS NOT NULL;
SELECT cmp_ok(max(l.value - r.value), '<=', 1e-9::float8,
			  'our ML refit deviances are no worse than lme4''s refitML')
FROM iref r JOIN lrt l ON l.pair = r.fit AND l.parameter = r.parameter AND l.kind = 'deviance'
WHERE r.kind = 'ml_deviance';

-- argument order does not matter; the labels say which argument is which
SELECT results_eq(
	$$SELECT npar, aic, chisq, df, p_value FROM pairs, lmm_anova(small, big) WHERE pair = 'unbal_drop_x2'$$,
	$$SELECT npar, aic, chisq, df, p_value FROM pairs, lmm_anova(big, small) WHERE pair = 'unbal_drop_x2'$$,
	'lmm_anova(a, b) and lmm_anova(b, a) give the same table');
SELECT is(array_agg(model ORDER BY npar),
	ARRAY['b: ~ 1 + x1 + (1 + x1 | g)', 'a: ~ 1 + x1 + x2 + (1 + x1 | g)'],
	'models are labelled by argument and terms')
FROM pairs, lmm_anova(big, small) WHERE pair = 'unbal_drop_x2';
-- Wald intervals are the fixed effects only, profile intervals every parameter
SELECT is((SELECT count(*)::int FROM fits, lmm_confint(m, 'method=wald') WHERE fit = 'unbalanced'),
	6, 'Wald intervals: one per fixed effect');
SELECT is((SELECT array_agg(parameter ORDER BY ord) FROM fits,
		lmm_confint(m) WITH ORDINALITY c(parameter, estimate, lower, upper, method, ord)
		WHERE fit = 'sleep_slope' AND fits.method = 'REML'),
	ARRAY['sd_(Intercept)|Subject', 'cor_Days.(Intercept)|Subject', 'sd_Days|Subject', 'sigma',
		  '(Intercept)', 'Days'],
	'profile intervals: lme4''s parameters, in lme4''s order');

-- errors
SELECT throws_ok(
	$$SELECT * FROM lmm_anova((SELECT m FROM fits WHERE fit = 'sleep_int' AND method = 'REML'),
							  (SELECT m FROM fits WHERE fit = 'dyestuff' AND method = 'REML'))$$,
	'22023', 'models were not fitted to the same data', 'lmm_anova refuses models of different data');
SELECT throws_ok(
	$$SELECT * FROM lmm_anova((SELECT m FROM fits WHERE fit = 'sleep_int' AND method = 'REML'),
		(SELECT lmm_fit(reaction * 2, ARRAY[days], subject) FROM sleepstudy))$$,
	'22023', 'models were not fitted to the same data', 'lmm_anova refuses a different response');
SELECT throws_ok($$SELECT * FROM lmm_confint((SELECT m FROM fits LIMIT 1), 'level=1')$$,
	'22023', 'invalid value "1" for lmm_confint option "level"', 'a level of 1 is refused');
SELECT throws_ok($$SELECT * FROM lmm_confint((SELECT m FROM fits LIMIT 1), 'method=boot')$$,
	'22023', 'invalid value "boot" for lmm_confint option "method"', 'an unknown method is refused');

-- a model stored by lmm 0.2 (format 1): no df, no refits, clear errors
CREATE TEMP TABLE old AS
SELECT (jsonb_set(m::text::jsonb - 'inference' - 'stats' - 'formula' - 'terms_stats', '{lmm_model}', '1'))::text::lmm_model AS m
FROM fits WHERE fit = 'sleep_int' AND method = 'REML';
SELECT is((SELECT count(*)::int FROM old, lmm_fixef(m) WHERE df IS NULL AND p_value IS NULL AND t_value IS NOT NULL),
	2, 'a format 1 model has estimates and t but NULL df and p');
SELECT throws_ok($$SELECT * FROM lmm_confint((SELECT m FROM old))$$, '0A000',
	'lmm_confint(method=profile) needs a model that carries its statistics',
	'profile intervals of a format 1 model ask for a refit');
SELECT throws_ok($$SELECT * FROM lmm_anova((SELECT m FROM old), (SELECT m FROM old))$$, '0A000',
	'lmm_anova cannot refit model a by maximum likelihood', 'lmm_anova of a format 1 model asks for a refit');
SELECT is((SELECT count(*)::int FROM old, lmm_confint(m, 'method=wald')), 2,
	'Wald intervals need nothing more');

SELECT * FROM finish();
ROLLBACK;
