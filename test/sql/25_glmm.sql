-- Generalized linear mixed models against glmer (test/data/make_glmm_refs.R,
-- glmm.ref.csv; make_glmm_polish_refs.R, glmm_polish.ref.csv): fixed
-- effects to 1e-5 of max(|beta|, SE) and standard errors to 1e-4, random-effect
-- SDs, BLUPs and conditional SDs to 1e-3, and a log-likelihood never worse
-- than glmer's tight run less 1e-7.  Through lmm() (cbind, weights=, offset(),
-- a boolean response, crossed terms) and the aggregates (weights, offsets,
-- a random slope, quadrature, nagq=0).
SET extra_float_digits = 0;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE glmm_ref (model text, kind text, name text, value float8);
\copy glmm_ref FROM 'test/data/glmm.ref.csv' CSV HEADER
CREATE TABLE glmm_cbpp (herd int, incidence int, size int, period text, failures int, prop float8);
\copy glmm_cbpp FROM 'test/data/cbpp.csv' CSV HEADER
CREATE TABLE glmm_grouse (index int, ticks int, brood int, height float8, cheight float8, year int, location int);
\copy glmm_grouse FROM 'test/data/grouseticks.csv' CSV HEADER
CREATE TABLE glmm_verbagg (id int, item text, anger float8, gender text, btype text, situ text, r2 boolean);
\copy glmm_verbagg FROM 'test/data/verbagg.csv' CSV HEADER
CREATE TABLE glmm_hdp (did int, age float8, il6 float8, crp float8, lengthofstay int, remission int);
\copy glmm_hdp FROM 'test/data/hdp.csv' CSV HEADER
CREATE TABLE glmm_pois (g int, x float8, exposure float8, logexp float8, y int);
\copy glmm_pois FROM 'test/data/poisson_offset.csv' CSV HEADER
CREATE TABLE glmm_bslope (g int, x float8, t float8, y int);
\copy glmm_bslope FROM 'test/data/binary_slope.csv' CSV HEADER
CREATE TABLE glmm_wlmm (g int, x float8, w float8, y float8);
\copy glmm_wlmm FROM 'test/data/weighted.csv' CSV HEADER
-- 12 groups of 400 Poisson rows (make_glmm_large_levels_refs.R)
\copy glmm_ref FROM 'test/data/glmm_large_levels.ref.csv' CSV HEADER
CREATE TABLE glmm_large (g int, x float8, y int);
\copy glmm_large FROM 'test/data/poisson_large_levels.csv' CSV HEADER

CREATE TABLE glmm_fits (model text, m lmm_model);
-- lmm(): cbind(successes, failures) and a proportion with weights=trials
INSERT INTO glmm_fits SELECT 'cbpp', lmm('cbind(incidence, failures) ~ factor(period) + (1 | herd)', 'glmm_cbpp', 'family=binomial');
INSERT INTO glmm_fits SELECT 'cbpp_prop', lmm('prop ~ factor(period) + (1 | herd)', 'glmm_cbpp', 'family=binomial, weights=size');
INSERT INTO glmm_fits SELECT 'cbpp_probit', lmm('cbind(incidence, failures) ~ factor(period) + (1 | herd)', 'glmm_cbpp', 'family=binomial, link=probit');
-- the aggregate: a proportion with its trials as the weight
INSERT INTO glmm_fits SELECT 'cbpp_agq25', lmm_fit(prop, ARRAY[(period = '2')::int, (period = '3')::int, (period = '4')::int]::float8[],
	herd, size::float8, 0::float8, 'family=binomial, nagq=25, x_names=period2,period3,period4, g_name=herd') FROM glmm_cbpp;
INSERT INTO glmm_fits SELECT 'cbpp_nagq0', lmm_fit(prop, ARRAY[(period = '2')::int, (period = '3')::int, (period = '4')::int]::float8[],
	herd, size::float8, 0::float8, 'family=binomial, nagq=0, x_names=period2,period3,period4, g_name=herd') FROM glmm_cbpp;
INSERT INTO glmm_fits SELECT 'cbpp_cloglog', lmm_fit(prop, ARRAY[(period = '2')::int, (period = '3')::int, (period = '4')::int]::float8[],
	herd, size::float8, 0::float8, 'family=binomial, link=cloglog, x_names=period2,period3,period4, g_name=herd') FROM glmm_cbpp;
-- an offset, through lmm() and through the aggregate (with quadrature)
INSERT INTO glmm_fits SELECT 'poisson_offset', lmm('y ~ x + offset(logexp) + (1 | g)', 'glmm_pois', 'family=poisson');
INSERT INTO glmm_fits SELECT 'poisson_offset_agq10', lmm_fit(y, ARRAY[x], g, 1::float8, logexp, 'family=poisson, nagq=10, x_names=x') FROM glmm_pois;
-- a correlated random slope
INSERT INTO glmm_fits SELECT 'binary_slope', lmm_fit(y, ARRAY[x, t], g, ARRAY[t], 1::float8, 0::float8, 'family=binomial, x_names=x,t, z_names=t') FROM glmm_bslope;
-- many groups
INSERT INTO glmm_fits SELECT 'hdp', lmm_fit(remission, ARRAY[age, il6, crp, lengthofstay], did, 1::float8, 0::float8,
	'family=binomial, x_names=age,il6,crp,lengthofstay, g_name=did') FROM glmm_hdp;
-- a weighted LMM: residual variance sigma^2 / w, through lmm() and the aggregate
INSERT INTO glmm_fits SELECT 'weighted_lmm', lmm('y ~ x + (1 | g)', 'glmm_wlmm', 'weights=w');
INSERT INTO glmm_fits SELECT 'weighted_lmm_ml', lmm_fit(y, ARRAY[x], g, w, 0::float8, 'method=ml, x_names=x') FROM glmm_wlmm;
-- large levels: the kernel's warm start from theta = 0 must not overflow
INSERT INTO glmm_fits SELECT 'large_levels', lmm_fit(y, ARRAY[x], g, 1::float8, 0::float8, 'family=poisson, x_names=x') FROM glmm_large;
-- crossed terms through lmm(): three for the Poisson counts, two for a boolean response
INSERT INTO glmm_fits SELECT 'grouse', lmm('ticks ~ factor(year) + cheight + (1 | brood) + (1 | index) + (1 | location)', 'glmm_grouse', 'family=poisson');
INSERT INTO glmm_fits SELECT 'verbagg', lmm('r2 ~ anger + gender + btype + situ + (1 | id) + (1 | item)', 'glmm_verbagg', 'family=binomial');

-- R's names for the coefficients of factors
CREATE FUNCTION glmm_rname(t text) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT regexp_replace(t, '^factor\((\w+)\)', '\1') $$;
-- glmer's optimum and vcov computed to more digits (make_glmm_polish_refs.R)
CREATE TABLE glmm_polish (model text, kind text, name text, value float8);
\copy glmm_polish FROM 'test/data/glmm_polish.ref.csv' CSV HEADER

-- fixed effects to 1e-5 of max(|beta|, SE) and standard errors to 1e-4 of
-- glmer's optimum and vcov (polished where make_glmm_polish_refs.R has the
-- model); the standard errors glmer's summary prints, from its noisier
-- Hessian, to 5e-3
SELECT f.model,
	max(abs(x.estimate - coalesce(pb.value, b.value)) / greatest(abs(coalesce(pb.value, b.value)), x.std_error)) < 1e-5 AS beta_ok,
	max(abs(x.std_error - coalesce(ps.value, s.value)) / coalesce(ps.value, s.value)) < 1e-4 AS se_ok,
	max(abs(x.std_error - s.value) / s.value) < 5e-3 AS se_glmer_ok,
	bool_and(pb.value IS NOT NULL) AS polished,
	count(*) AS n_coef
FROM glmm_fits f CROSS JOIN LATERAL lmm_fixef(f.m) x
JOIN glmm_ref b ON b.model = f.model AND b.kind = 'beta' AND b.name = glmm_rname(x.term)
JOIN glmm_ref s ON s.model = f.model AND s.kind = 'se' AND s.name = glmm_rname(x.term)
LEFT JOIN glmm_polish pb ON pb.model = f.model AND pb.kind = 'beta' AND pb.name = glmm_rname(x.term)
LEFT JOIN glmm_polish ps ON ps.model = f.model AND ps.kind = 'se' AND ps.name = glmm_rname(x.term)
GROUP BY f.model ORDER BY f.model;

-- random-effect SDs and the slope's correlation to 1e-3, and the
-- log-likelihood: never below glmer's tight runs (less 1e-7), above its
-- default run's
SELECT f.model,
	bool_and(abs(v.std_dev - r.value) / r.value < 1e-3) AS sd_ok,
	count(*) AS n_sd
FROM glmm_fits f, lmm_varcorr(f.m) v
JOIN glmm_ref r ON r.kind = 'sd' AND r.name = v.grp || ':' || coalesce(v.term1, '')
WHERE r.model = f.model AND v.term2 IS NULL AND v.grp <> 'Residual'
GROUP BY f.model ORDER BY f.model;
SELECT f.model, abs(v.corr - r.value) < 1e-3 AS corr_ok
FROM glmm_fits f, lmm_varcorr(f.m) v JOIN glmm_ref r ON r.kind = 'cor'
WHERE r.model = f.model AND v.corr IS NOT NULL;
SELECT f.model, s.method,
	s.loglik >= greatest(r.value, coalesce(p.value, r.value)) - 1e-7 AS loglik_not_worse,
	s.loglik > d.value AS beats_default, round(s.loglik::numeric, 4) AS loglik
FROM glmm_fits f CROSS JOIN lmm_summary(f.m) s
JOIN glmm_ref r ON r.model = f.model AND r.kind = 'loglik'
JOIN glmm_ref d ON d.model = f.model AND d.kind = 'loglik_default'
LEFT JOIN glmm_polish p ON p.model = f.model AND p.kind = 'loglik'
ORDER BY f.model;

-- conditional modes and their SDs (ranef(m, condVar = TRUE)) to 1e-3
SELECT f.model,
	max(abs(e.estimate - r.value)) < 1e-3 AS ranef_ok,
	max(abs(e.cond_sd - c.value) / c.value) < 1e-3 AS condsd_ok,
	count(*) AS n_modes
FROM glmm_fits f, lmm_ranef(f.m) e
JOIN glmm_ref r ON r.kind = 'ranef' AND r.name = e.grp || ':' || e.level || ':' || e.term
JOIN glmm_ref c ON c.kind = 'condsd' AND c.name = e.grp || ':' || e.level || ':' || e.term
WHERE r.model = f.model AND c.model = f.model
GROUP BY f.model ORDER BY f.model;

-- predictions on the link and response scales and lme4's residuals, first
-- ten rows: cbpp (a proportion of trials) and the Poisson counts with an offset
CREATE TABLE glmm_rows AS
SELECT 'cbpp' AS model, row_number() OVER () AS i, prop AS y, size::float8 AS wt,
	lmm_predict(m, ARRAY[(period = '2')::int, (period = '3')::int, (period = '4')::int]::float8[], ARRAY[herd::text]) AS eta
FROM (SELECT * FROM glmm_cbpp LIMIT 10) c, glmm_fits WHERE model = 'cbpp'
UNION ALL
SELECT 'poisson_offset', row_number() OVER (), y, 1, lmm_predict(m, ARRAY[x], ARRAY[g::text]) + logexp
FROM (SELECT * FROM glmm_pois LIMIT 10) p, glmm_fits WHERE model = 'poisson_offset';
SELECT r.model,
	max(abs(r.eta - l.value)) < 1e-5 AS link_ok,
	max(abs(lmm_inverse_link(f.m, r.eta) - u.value)) < 1e-5 AS response_ok,
	max(abs(lmm_residual(f.m, r.y, r.eta, 'response', r.wt) - a.value)) < 1e-5 AS resid_response_ok,
	max(abs(lmm_residual(f.m, r.y, r.eta, 'pearson', r.wt) - b.value)) < 1e-5 AS resid_pearson_ok,
	max(abs(lmm_residual(f.m, r.y, r.eta, 'deviance', r.wt) - c.value)) < 1e-5 AS resid_deviance_ok,
	count(*) AS n_rows
FROM glmm_rows r JOIN glmm_fits f USING (model)
JOIN glmm_ref l ON l.model = r.model AND l.kind = 'fitted_link' AND l.name = r.i::text
JOIN glmm_ref u ON u.model = r.model AND u.kind = 'fitted_resp' AND u.name = r.i::text
JOIN glmm_ref a ON a.model = r.model AND a.kind = 'resid_response' AND a.name = r.i::text
JOIN glmm_ref b ON b.model = r.model AND b.kind = 'resid_pearson' AND b.name = r.i::text
JOIN glmm_ref c ON c.model = r.model AND c.kind = 'resid_deviance' AND c.name = r.i::text
GROUP BY r.model ORDER BY r.model;

-- glmer's likelihood-ratio test: cbpp against its intercept-only model
SELECT npar, round(aic::numeric, 4) AS aic, round(loglik::numeric, 5) AS loglik,
	abs(chisq - (SELECT value FROM glmm_ref WHERE model = 'cbpp_lrt' AND kind = 'chisq')) < 1e-6 AS chisq_ok, df,
	abs(p_value / (SELECT value FROM glmm_ref WHERE model = 'cbpp_lrt' AND kind = 'p') - 1) < 1e-6 AS p_ok
FROM lmm_anova(lmm('cbind(incidence, failures) ~ 1 + (1 | herd)', 'glmm_cbpp', 'family=binomial'),
	(SELECT m FROM glmm_fits WHERE model = 'cbpp'));

-- glmer's summary: z in t_value, no df, p and interval from the normal, no Residual row
SELECT lmm_print(m) FROM glmm_fits WHERE model = 'cbpp';
SELECT term, round(estimate::numeric, 5) AS estimate, round(std_error::numeric, 5) AS std_error,
	round(t_value::numeric, 3) AS z_value, df, round(p_value::numeric, 6) AS p_value,
	round(conf_low::numeric, 4) AS conf_low, round(conf_high::numeric, 4) AS conf_high
FROM glmm_fits, lmm_fixef(m) WHERE model = 'cbpp';
SELECT grp, term1, round(std_dev::numeric, 5) AS std_dev FROM glmm_fits, lmm_varcorr(m) WHERE model = 'cbpp';
SELECT model, method, n_obs, n_groups, round(criterion::numeric, 5) AS deviance, round(aic::numeric, 4) AS aic
FROM glmm_fits, lmm_summary(m) WHERE model IN ('cbpp', 'cbpp_agq25', 'cbpp_nagq0') ORDER BY model;

-- the model's text form keeps the family
SELECT (m::text::lmm_model)::text = m::text AS text_round_trip,
	m::text LIKE '%"family": {"family": "binomial", "link": "logit", "nagq": 1}%' AS has_family
FROM glmm_fits WHERE model = 'cbpp';

-- parallel workers keep their rows and merge them: the same fit
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT abs((lmm_summary(p)).loglik - (lmm_summary(s.m)).loglik) < 1e-9 AS parallel_same
FROM (SELECT lmm_fit(remission, ARRAY[age, il6, crp, lengthofstay], did, 1::float8, 0::float8,
	'family=binomial, x_names=age,il6,crp,lengthofstay, g_name=did') p FROM glmm_hdp) q, glmm_fits s WHERE s.model = 'hdp';
RESET max_parallel_workers_per_gather;

-- a singular fit: no variance between groups (test/data/make_glmm_singular_refs.R)
CREATE TABLE glmm_singular (g int, x float8, y int);
\copy glmm_singular FROM 'test/data/glmm_singular.csv' CSV HEADER
CREATE TABLE glmm_singular_ref (model text, kind text, name text, value float8);
\copy glmm_singular_ref FROM 'test/data/glmm_singular.ref.csv' CSV HEADER
WITH m AS (SELECT lmm('y ~ x + (1 | g)', 'glmm_singular', 'family=binomial') AS m)
SELECT s.singular, s.theta[1] < 1e-4 AS theta_zero,
	s.loglik >= (SELECT value FROM glmm_singular_ref WHERE kind = 'loglik') - 1e-7 AS loglik_not_worse,
	(SELECT bool_and(abs(f.estimate - b.value) <= 1e-5 * greatest(abs(b.value), f.std_error)
	                 AND abs(f.std_error / e.value - 1) < 1e-4)
	 FROM lmm_fixef(m) f
	 JOIN glmm_singular_ref b ON b.kind = 'beta' AND b.name = f.term
	 JOIN glmm_singular_ref e ON e.kind = 'se' AND e.name = f.term) AS fixef_ok
FROM m, lmm_summary(m) s;

-- Wald inference of a GLMM: intervals, a contrast's z (chi-square), least-squares means, type 3 tests
SELECT parameter, round(lower::numeric, 4) AS lower, round(upper::numeric, 4) AS upper, method
FROM glmm_fits, lmm_confint(m, 'method=wald') WHERE model = 'cbpp';
SELECT round(estimate::numeric, 5) AS estimate, round(std_error::numeric, 5) AS std_error,
	round(t_value::numeric, 4) AS z_value, num_df, den_df, round(p_value::numeric, 6) AS p_value
FROM glmm_fits, lmm_contrast(m, ARRAY[0, 1, -1, 0]::float8[]) WHERE model = 'cbpp';
SELECT num_df, den_df, round(f_value::numeric, 4) AS f_value, round(p_value::numeric, 8) AS p_value
FROM glmm_fits, lmm_contrast(m, ARRAY[[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]::float8[]) WHERE model = 'cbpp';
SELECT level, round(estimate::numeric, 4) AS estimate, round(std_error::numeric, 4) AS std_error, df,
	round(p_value::numeric, 6) AS p_value, round(conf_low::numeric, 4) AS conf_low
FROM glmm_fits, lmm_ls_means(m, 'factor(period)') WHERE model = 'cbpp';
SELECT lmm_confint(m) FROM glmm_fits WHERE model = 'cbpp';
SELECT lmm_bootstrap(m, 10) FROM glmm_fits WHERE model = 'cbpp';
SELECT lmm_fixef(m, 'ddf=kenward-roger') FROM glmm_fits WHERE model = 'cbpp';
SELECT lmm_anova(m, 'type=1') FROM glmm_fits WHERE model = 'cbpp';

-- a window of growing frames refits a weighted model from one state, left as it was
CREATE TABLE glmm_wt AS SELECT i AS id, i % 20 AS g, (i % 7)::float8 AS x, (1 + i % 3)::float8 AS w,
	sin(i * 1.7) + (i % 20) * 0.3 AS y FROM generate_series(1, 400) i;
SELECT count(*) AS frames, count(DISTINCT round((lmm_summary(m)).criterion::numeric, 8)) AS fits,
	bool_and(id > 100 OR round((lmm_summary(m)).criterion::numeric, 8) =
		(SELECT round((lmm_summary(lmm_fit(y, ARRAY[x], g, w, 0::float8, NULL))).criterion::numeric, 8)
		 FROM glmm_wt WHERE id <= 100)) AS first_frame_ok
FROM (SELECT id, lmm_fit(y, ARRAY[x], g, w, 0::float8, NULL) OVER (ORDER BY greatest(id, 100)) m FROM glmm_wt) s;
-- a zero weight drops its row before its levels: an observation-level term keeps one level a row
CREATE TABLE glmm_ol AS SELECT i AS id, i % 10 AS g, (i % 4)::float8 AS y,
	CASE WHEN i = 5 THEN 0 ELSE 1 END::float8 AS w FROM generate_series(1, 100) i;
SELECT n_obs, n_groups, n_dropped FROM lmm_summary(lmm('y ~ 1 + (1 | g) + (1 | id)', 'glmm_ol', 'family=poisson, weights=w'));
-- fractional binomial counts (R rounds their density): the Laplace fit is no worse than nagq=0's
CREATE TABLE glmm_fr AS SELECT i % 30 AS g, (i % 7)::float8 / 7 AS x,
	CASE WHEN i % 3 = 0 THEN 0.1 ELSE 0.8 END AS y FROM generate_series(1, 600) i;
SELECT l.criterion <= z.criterion AS laplace_not_worse, l.converged
FROM lmm_summary((SELECT lmm_fit(y, ARRAY[x], g, 'family=binomial') FROM glmm_fr)) l,
	lmm_summary((SELECT lmm_fit(y, ARRAY[x], g, 'family=binomial, nagq=0') FROM glmm_fr)) z;
SELECT lmm_fit(y, ARRAY[x], g, 'weights=w') FROM glmm_wt;

-- bad input: each a clear error
SELECT lmm_fit(y, ARRAY[x], g, 1::float8, 0::float8, 'family=binomial') FROM (VALUES (1.5, 0.1, 1), (0, 0.2, 2)) v(y, x, g);
SELECT lmm_fit(y, ARRAY[x], g, 1::float8, 0::float8, 'family=poisson') FROM (VALUES (-1, 0.1, 1), (0, 0.2, 2)) v(y, x, g);
SELECT lmm_fit(y, ARRAY[x], g, -1::float8, 0::float8, 'family=poisson') FROM (VALUES (1, 0.1, 1)) v(y, x, g);
SELECT lmm_fit(y, ARRAY[x], g, 1::float8, 'NaN'::float8, 'family=poisson') FROM (VALUES (1, 0.1, 1)) v(y, x, g);
SELECT lmm_fit(y, ARRAY[x], g, 'family=gamma') FROM (VALUES (1, 0.1, 1)) v(y, x, g);
SELECT lmm_fit(y, ARRAY[x], g, 'family=poisson, link=logit') FROM (VALUES (1, 0.1, 1)) v(y, x, g);
SELECT lmm_fit(y, ARRAY[x], g, 'family=binomial, nagq=26') FROM (VALUES (1, 0.1, 1)) v(y, x, g);
SELECT lmm_fit(y, ARRAY[x], g, 'nagq=2') FROM (VALUES (1, 0.1, 1)) v(y, x, g);
SELECT lmm_fit(y, ARRAY[x], g, 'family=binomial, method=reml') FROM (VALUES (1, 0.1, 1), (0, 0.2, 2), (1, 0.3, 2)) v(y, x, g);
SELECT lmm('r2 ~ anger + (1 | id) + (1 | item)', 'glmm_verbagg', 'family=binomial, nagq=5');
SELECT lmm('r2 ~ anger + (1 | id)', 'glmm_verbagg');
SELECT lmm('cbind(incidence, failures) ~ 1 + (1 | herd)', 'glmm_cbpp');
SELECT lmm('cbind(incidence, failures) ~ 1 + (1 | herd)', 'glmm_cbpp', 'family=binomial, weights=size');
SELECT lmm('cbind(incidence, period) ~ 1 + (1 | herd)', 'glmm_cbpp', 'family=binomial');
SELECT lmm('cbind(incidence) ~ 1 + (1 | herd)', 'glmm_cbpp', 'family=binomial');
SELECT lmm('y ~ x + offset(g x) + (1 | g)', 'glmm_pois', 'family=poisson');
SELECT lmm('incidence ~ 1 + (1 | herd)', 'glmm_cbpp', 'family=binomial');
SELECT lmm_stats('y ~ x + offset(logexp) + (1 | g)', 'glmm_pois');
SELECT lmm_stats(y, ARRAY[x], g, 'family=binomial') FROM (VALUES (1, 0.1, 1)) v(y, x, g);
SELECT lmm_residual(m, 0.5, 0.1, 'working') FROM glmm_fits WHERE model = 'cbpp';
SELECT lmm_residual(m, 2, 0.1) FROM glmm_fits WHERE model = 'cbpp';
SELECT lmm_residual(m, 0.5, ARRAY[0, 0, 0]::float8[], ARRAY['1']) FROM glmm_fits WHERE model = 'cbpp';
SELECT lmm_anova((SELECT m FROM glmm_fits WHERE model = 'cbpp'), (SELECT m FROM glmm_fits WHERE model = 'cbpp_probit'));
-- zero weights drop their rows, counted
SELECT n_obs, n_dropped FROM lmm_summary((SELECT lmm_fit(prop, ARRAY[(period = '2')::int]::float8[], herd,
	CASE WHEN herd = 1 THEN 0 ELSE size END::float8, 0::float8, 'family=binomial') FROM glmm_cbpp));

-- the row order does not move a GLMM's answer beyond rounding: the kernel's
-- Newton steps run to the optimum (a parallel plan or Citus shards hand the
-- rows over in another order)
CREATE FUNCTION pg_temp.glmm_diff(a lmm_model, b lmm_model) RETURNS float8 LANGUAGE sql AS $$
	SELECT max(d) FROM (
		SELECT abs(x.estimate - y.estimate) / greatest(abs(y.estimate), y.std_error) d
			FROM lmm_fixef(a) x JOIN lmm_fixef(b) y USING (term)
		UNION ALL SELECT abs(x.std_error - y.std_error) / y.std_error
			FROM lmm_fixef(a) x JOIN lmm_fixef(b) y USING (term)
		UNION ALL SELECT abs(x.std_dev - y.std_dev) / greatest(y.std_dev, 1e-8)
			FROM lmm_varcorr(a) x JOIN lmm_varcorr(b) y USING (grp, term1)
		UNION ALL SELECT abs((lmm_summary(a)).loglik - (lmm_summary(b)).loglik) / abs((lmm_summary(b)).loglik)) s $$;
SELECT 'large_levels' AS model, pg_temp.glmm_diff(
	(SELECT lmm_fit(y, ARRAY[x], g, 1::float8, 0::float8, 'family=poisson, x_names=x') FROM (SELECT * FROM glmm_large ORDER BY md5(x::text)) s),
	(SELECT m FROM glmm_fits WHERE model = 'large_levels')) < 1e-10 AS order_free
UNION ALL
SELECT 'hdp', pg_temp.glmm_diff(
	(SELECT lmm_fit(remission, ARRAY[age, il6, crp, lengthofstay], did, 1::float8, 0::float8,
		'family=binomial, x_names=age,il6,crp,lengthofstay, g_name=did') FROM (SELECT * FROM glmm_hdp ORDER BY md5(age::text || il6::text)) s),
	(SELECT m FROM glmm_fits WHERE model = 'hdp')) < 1e-10;
