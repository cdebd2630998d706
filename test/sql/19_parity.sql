-- One engine: the same model through lmm_fit(y, x, g [, z]) and through
-- lmm() gives the same answers in every output, and the same
-- capabilities.  Random intercept, correlated slope, two slopes (q = 3)
-- and a singular fit, by REML and ML.  Both stream the rows into the same
-- statistics (core/lmm_terms.h) and run the same code from there on, so
-- every number agrees to 1e-12: estimates, standard errors, variance
-- parameters, modes, criteria, Satterthwaite's df with their p-values and
-- intervals, Wald and profile intervals.
SET client_min_messages = warning;
SET extra_float_digits = 0;
\i test/helpers/maxrel.psql

CREATE TABLE singular_data (y float8, x float8, g int);
\copy singular_data FROM 'test/data/singular.csv' CSV HEADER
CREATE VIEW sleep3 AS
SELECT reaction, days, days * days / 10.0 AS d2, subject FROM sleepstudy;

CREATE TABLE parity (name text, method text, a lmm_model, b lmm_model);
INSERT INTO parity
SELECT 'intercept', m,
	(SELECT lmm_fit(reaction, ARRAY[days], subject,
		'x_names=days, g_name=subject, method=' || m) FROM sleepstudy),
	lmm('reaction ~ days + (1 | subject)', 'sleepstudy', 'method=' || m)
FROM unnest(ARRAY['reml', 'ml']) m
UNION ALL
SELECT 'slope', m,
	(SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days],
		'x_names=days, z_names=days, g_name=subject, method=' || m) FROM sleepstudy),
	lmm('reaction ~ days + (days | subject)', 'sleepstudy', 'method=' || m)
FROM unnest(ARRAY['reml', 'ml']) m
UNION ALL
SELECT 'two slopes', m,
	(SELECT lmm_fit(reaction, ARRAY[days, d2], subject, ARRAY[days, d2],
		'x_names=days,d2, z_names=days,d2, g_name=subject, method=' || m) FROM sleep3),
	lmm('reaction ~ days + d2 + (days + d2 | subject)', 'sleep3', 'method=' || m)
FROM unnest(ARRAY['reml', 'ml']) m
UNION ALL
SELECT 'singular', m,
	(SELECT lmm_fit(y, ARRAY[x], g, ARRAY[x],
		'x_names=x, z_names=x, g_name=g, method=' || m) FROM singular_data),
	lmm('y ~ x + (x | g)', 'singular_data', 'method=' || m)
FROM unnest(ARRAY['reml', 'ml']) m;

-- Largest relative difference of two sets of numbers matched by key.
CREATE FUNCTION pg_temp.rel(x float8, y float8) RETURNS float8 LANGUAGE sql AS
$$ SELECT abs(x - y) / greatest(abs(y), 1e-300) $$;

-- Every number both models print, by kind, against its tolerance: the
-- kinds that differ, or 'same'.
CREATE FUNCTION pg_temp.parity(a lmm_model, b lmm_model) RETURNS text LANGUAGE sql AS $$
	SELECT coalesce(string_agg(kind || ' differs by ' || d::text, ', '), 'same')
	FROM (
		SELECT kind, pg_temp.maxrel(a, b, kind) d, 1e-12 tol
			FROM unnest(ARRAY['fixef', 'se', 'varcorr', 'ranef', 'condsd', 'criterion', 'sigma']) kind
		UNION ALL
		SELECT 'theta', max(pg_temp.rel(ta, tb)), 1e-12
			FROM unnest((lmm_summary(a)).theta, (lmm_summary(b)).theta) t(ta, tb)
		UNION ALL
		SELECT 'loglik, aic, bic', greatest(pg_temp.rel(sa.loglik, sb.loglik),
				pg_temp.rel(sa.aic, sb.aic), pg_temp.rel(sa.bic, sb.bic)), 1e-12
			FROM lmm_summary(a) sa, lmm_summary(b) sb
		UNION ALL
		SELECT 'flags', CASE WHEN row(sa.method, sa.n_obs, sa.n_groups, sa.converged, sa.singular)::text
				= row(sb.method, sb.n_obs, sb.n_groups, sb.converged, sb.singular)::text THEN 0 ELSE 1 END, 0.5
			FROM lmm_summary(a) sa, lmm_summary(b) sb
		UNION ALL
		SELECT 'names', CASE WHEN (SELECT array_agg(row(grp, term1, term2)::text) FROM lmm_varcorr(a))
				= (SELECT array_agg(row(grp, term1, term2)::text) FROM lmm_varcorr(b))
				AND (SELECT array_agg(term) FROM lmm_fixef(a)) = (SELECT array_agg(term) FROM lmm_fixef(b))
				THEN 0 ELSE 1 END, 0.5
		UNION ALL
		SELECT 't', max(pg_temp.rel(fa.t_value, fb.t_value)), 1e-12
			FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term)
		UNION ALL
		SELECT 'df', max(pg_temp.rel(fa.df, fb.df)), 1e-12
			FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term)
		UNION ALL
		SELECT 'p, t intervals', max(greatest(pg_temp.rel(fa.p_value, fb.p_value),
				pg_temp.rel(fa.conf_low, fb.conf_low), pg_temp.rel(fa.conf_high, fb.conf_high))), 1e-12
			FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term)
		UNION ALL
		SELECT 'wald intervals', max(greatest(pg_temp.rel(ca.lower, cb.lower), pg_temp.rel(ca.upper, cb.upper))), 1e-12
			FROM lmm_confint(a, 'method=wald') ca JOIN lmm_confint(b, 'method=wald') cb USING (parameter)
		UNION ALL
		SELECT 'profile intervals', max(greatest(pg_temp.rel(ca.lower, cb.lower), pg_temp.rel(ca.upper, cb.upper))), 1e-12
			FROM lmm_confint(a, 'method=profile') ca JOIN lmm_confint(b, 'method=profile') cb USING (parameter)
		UNION ALL
		SELECT 'profile parameters', CASE WHEN (SELECT count(*) FROM lmm_confint(a, 'method=profile'))
				= (SELECT count(*) FROM lmm_confint(b, 'method=profile')) THEN 0 ELSE 1 END, 0.5
	) k
	WHERE NOT coalesce(d <= tol, false) $$;

SELECT name, method, pg_temp.parity(a, b) FROM parity ORDER BY name, method;

-- The same capabilities: lmm_anova refits REML models of either kind by
-- ML from their statistics, to the deviance of the ML fit; and the two
-- fits of one model are one model (chi-square 0 between them).
SELECT r.name,
	(SELECT max(pg_temp.rel(x.deviance, (lmm_summary(m.a)).criterion)) < 1e-12
		FROM lmm_anova(r.a, r.a) x) AS lmm_fit_refit_is_ml_fit,
	(SELECT max(pg_temp.rel(x.deviance, (lmm_summary(m.b)).criterion)) < 1e-12
		FROM lmm_anova(r.b, r.b) x) AS lmm_refit_is_ml_fit,
	(SELECT max(x.chisq) < 1e-9 FROM lmm_anova(r.a, r.b) x) AS chisq_zero
FROM parity r JOIN parity m ON m.name = r.name AND m.method = 'ml'
WHERE r.method = 'reml' ORDER BY r.name;

-- What was compared: the singular fits are singular, the others are not.
SELECT name, method, (lmm_summary(a)).singular, (lmm_summary(b)).singular AS singular_lmm,
	array_length((lmm_summary(a)).theta, 1) AS ntheta
FROM parity ORDER BY name, method;
