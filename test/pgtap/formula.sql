-- lmm(formula, source): crossed, nested, crossed with a random slope,
-- uncorrelated and categorical models against lme4 1.1-31
-- (test/data/make_formula_refs.R, formula.ref.csv).  Estimates are compared
-- with lme4 run to convergence ("tight") to 1e-6 relative; our criterion must
-- be no worse than lme4's with its default settings.  Satterthwaite df are
-- compared with lmerTest's (make_formula_df_refs.R, formula_df.ref.csv).
-- The design columns come in R's order, names and values: terms by degree,
-- the first factor of an interaction varying fastest, R's choice of
-- contrasts or every level (make_formula_order_refs.R, formula_order.ref.csv).
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lmm;

CREATE TEMP TABLE fref (fit text, method text, control text, kind text, grp text,
	var1 text, var2 text, level text, value float8);
\copy fref FROM 'test/data/formula.ref.csv' CSV HEADER
CREATE TEMP TABLE dfref (fit text, method text, coef text, df float8, se float8);
\copy dfref FROM 'test/data/formula_df.ref.csv' CSV HEADER
CREATE TEMP TABLE penicillin (diameter float8, plate text, sample text);
\copy penicillin FROM 'test/data/penicillin.csv' CSV HEADER
CREATE TEMP TABLE pastes (strength float8, batch text, cask text, sample text);
\copy pastes FROM 'test/data/pastes.csv' CSV HEADER
CREATE TEMP TABLE cake (replicate int, recipe text, temperature text, angle float8, temp float8);
\copy cake FROM 'test/data/cake.csv' CSV HEADER
CREATE TEMP TABLE ratings (y float8, x float8, a text, b text);
\copy ratings FROM 'test/data/ratings.csv' CSV HEADER
CREATE TEMP TABLE sleepstudy ("Reaction" float8, "Days" float8, "Subject" text);
\copy sleepstudy FROM 'test/data/sleepstudy.csv' CSV HEADER

CREATE TEMP TABLE ffits (fit text, method text, m lmm_model);
INSERT INTO ffits
SELECT f.fit, meth, lmm(f.formula, f.source::regclass, 'method=' || lower(meth))
FROM (VALUES ('penicillin', 'diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin'),
			 ('pastes', 'strength ~ 1 + (1 | batch/cask)', 'pastes'),
			 ('ratings', 'y ~ x + (x | a) + (1 | b)', 'ratings'),
			 ('sleep_uncor', 'Reaction ~ Days + (Days || Subject)', 'sleepstudy'),
			 ('cake', 'angle ~ recipe + temp + (1 | recipe:replicate)', 'cake')) f(fit, formula, source),
	 (VALUES ('REML'), ('ML')) AS me(meth);

-- relative difference, safe near zero
CREATE FUNCTION pg_temp.rel(a float8, b float8) RETURNS float8
	LANGUAGE sql IMMUTABLE AS $$ SELECT abs(a - b) / greatest(abs(b), 1e-300) $$;

SELECT plan(25);

SELECT is((SELECT count(*) FROM ffits WHERE m IS NOT NULL), 10::bigint, 'ten formula fits');

-- every tight reference value has its counterpart, and the worst agreement is below 1e-6
CREATE TEMP VIEW ours AS
SELECT fit, method, 'beta' AS kind, NULL::text AS grp, term AS var1, NULL::text AS var2, NULL::text AS level, estimate AS value
FROM ffits, lmm_fixef(m)
UNION ALL
SELECT fit, method, 'se', NULL, term, NULL, NULL, std_error FROM ffits, lmm_fixef(m)
UNION ALL
SELECT fit, method, 'sdcor', v.grp, v.term1, v.term2, NULL, coalesce(v.std_dev, v.corr)
FROM ffits, lmm_varcorr(m) v
UNION ALL
SELECT fit, method, 'sigma', NULL, NULL, NULL, NULL, (lmm_summary(m)).sigma FROM ffits
UNION ALL
SELECT fit, method, 'criterion', NULL, NULL, NULL, NULL, (lmm_summary(m)).criterion FROM ffits
UNION ALL
SELECT fit, method, 'ranef', r.grp, r.term, NULL, r.level, r.estimate FROM ffits, lmm_ranef(m) r
UNION ALL
SELECT fit, method, 'condsd', r.grp, r.term, NULL, r.level, r.cond_sd FROM ffits, lmm_ranef(m) r;

CREATE TEMP TABLE cmp AS
SELECT r.fit, r.method, r.kind, r.grp, r.var1, r.var2, r.level, r.value AS ref, o.value AS ours,
	   pg_temp.rel(o.value, r.value) AS err
FROM fref r LEFT JOIN ours o
  ON o.fit = r.fit AND o.method = r.method AND o.kind = r.kind
 AND o.grp IS NOT DISTINCT FROM nullif(r.grp, '')
 AND o.var1 IS NOT DISTINCT FROM nullif(r.var1, '')
 AND o.var2 IS NOT DISTINCT FROM nullif(r.var2, '')
 AND o.level IS NOT DISTINCT FROM nullif(r.level, '')
WHERE r.control = 'tight' AND r.kind IN ('beta', 'se', 'sdcor', 'sigma', 'criterion', 'ranef', 'condsd');

SELECT is((SELECT count(*) FROM cmp WHERE ours IS NULL), 0::bigint,
		  'every lme4 estimate (beta, se, sd/cor, sigma, criterion, BLUP, conditional SD) has our counterpart with lme4''s names');
SELECT cmp_ok((SELECT max(err) FROM cmp WHERE kind IN ('beta', 'sigma', 'criterion')), '<', 1e-6::float8,
			  'fixed effects, sigma and criterion agree with lme4 to 1e-6');
SELECT cmp_ok((SELECT max(err) FROM cmp WHERE kind = 'se'), '<', 1e-6::float8,
			  'standard errors agree with lme4 to 1e-6');
SELECT cmp_ok((SELECT max(err) FROM cmp WHERE kind = 'sdcor'), '<', 1e-6::float8,
			  'standard deviations and correlations agree with lme4 to 1e-6');
SELECT cmp_ok((SELECT max(abs(ours - ref) / greatest(abs(ref), 1e-3)) FROM cmp WHERE kind = 'ranef'), '<', 1e-5::float8,
			  'conditional modes (BLUPs) agree with lme4 to 1e-5');
SELECT cmp_ok((SELECT max(err) FROM cmp WHERE kind = 'condsd'), '<', 1e-6::float8,
			  'conditional SDs of every term agree with lme4''s condVar to 1e-6');
SELECT is((SELECT count(*) FROM fref r JOIN ffits f USING (fit, method)
		   WHERE r.control = 'default' AND r.kind = 'criterion'
			 AND (lmm_summary(f.m)).criterion > r.value + 1e-7), 0::bigint,
		  'our REML criterion / ML deviance is no worse than lme4''s default fit, every model');

-- Satterthwaite df: lmerTest differentiates numerically (numDeriv), as we do
-- for models with a random slope; scalar terms use differences of the
-- analytic gradient.  Both agree with lmerTest to within its own accuracy.
SELECT is((SELECT count(*) FROM dfref r LEFT JOIN (ffits f CROSS JOIN lmm_fixef(f.m) x)
			 ON f.fit = r.fit AND f.method = r.method AND x.term = r.coef
		   WHERE x.df IS NULL), 0::bigint, 'every lmerTest df has our counterpart');
SELECT cmp_ok((SELECT max(pg_temp.rel(x.df, r.df)) FROM dfref r
			   JOIN ffits f ON f.fit = r.fit AND f.method = r.method
			   CROSS JOIN lmm_fixef(f.m) x WHERE x.term = r.coef), '<', 1e-6::float8,
			  'Satterthwaite df of every coefficient agree with lmerTest to 1e-6');

-- a crossed model whose second factor has no variance: theta on its bound,
-- as lme4's (make_crossed_singular_refs.R), and no worse a criterion
CREATE TEMP TABLE crossed_singular (y float8, g1 text, g2 text);
\copy crossed_singular FROM 'test/data/crossed_singular.csv' CSV HEADER
CREATE TEMP TABLE sref (method text, theta1 float8, theta2 float8, criterion float8, sigma float8);
\copy sref FROM 'test/data/crossed_singular.ref.csv' CSV HEADER
CREATE TEMP TABLE sfits AS
SELECT f.method AS fit_method, (x).* FROM (
	SELECT method, lmm_summary(lmm('y ~ 1 + (1 | g1) + (1 | g2)', 'crossed_singular', 'method=' || lower(method))) AS x
	FROM sref) f;
SELECT is((SELECT count(*) FROM sfits JOIN sref ON sref.method = sfits.fit_method
		   WHERE sfits.theta[2] = 0 AND sfits.singular
			 AND pg_temp.rel(sfits.theta[1], sref.theta1) < 1e-6 AND pg_temp.rel(sfits.sigma, sref.sigma) < 1e-6),
		  2::bigint, 'singular crossed fit: the empty factor''s theta is 0, the rest as lme4, REML and ML');
SELECT is((SELECT count(*) FROM sfits JOIN sref ON sref.method = sfits.fit_method
		   WHERE sfits.criterion <= sref.criterion + 1e-12 * abs(sref.criterion)),
		  2::bigint, 'singular crossed fit: criterion no worse than lme4''s converged fit');

-- likelihood-ratio tests between fits with several terms, as lme4's
-- anova(a, b) (make_anova_terms_refs.R): ML fits compared as they are, REML
-- fits after refitting both by ML from the statistics they carry (lme4's
-- refit = TRUE), a one-term fit of lmm_fit against one of lmm() included
CREATE TEMP TABLE aref (test text, row int, npar int, aic float8, bic float8,
	loglik float8, deviance float8, chisq float8, df int, p float8);
\copy aref FROM 'test/data/anova_terms.ref.csv' CSV HEADER
CREATE TEMP TABLE aours AS
SELECT 'penicillin'::text AS test, row_number() OVER () AS row, a.*
FROM lmm_anova(lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin', 'method=ml'),
			   lmm('diameter ~ 1 + (1 | plate)', 'penicillin', 'method=ml')) a
UNION ALL
SELECT 'pastes', row_number() OVER (), a.*
FROM lmm_anova(lmm('strength ~ 1 + (1 | batch)', 'pastes', 'method=ml'),
			   lmm('strength ~ 1 + (1 | batch/cask)', 'pastes', 'method=ml')) a
UNION ALL
SELECT 'penicillin_reml', row_number() OVER (), a.*
FROM lmm_anova(lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin'),
			   (SELECT lmm_fit(diameter, ARRAY[]::float8[], plate, 'g_name=plate') FROM penicillin)) a
UNION ALL
SELECT 'pastes_reml', row_number() OVER (), a.*
FROM lmm_anova(lmm('strength ~ 1 + (1 | batch)', 'pastes'),
			   lmm('strength ~ 1 + (1 | batch/cask)', 'pastes')) a
UNION ALL
SELECT 'ratings_reml', row_number() OVER (), a.*
FROM lmm_anova((SELECT m FROM ffits WHERE fit = 'ratings' AND method = 'REML'),
			   lmm('y ~ x + (1 | a) + (1 | b)', 'ratings')) a;
SELECT is((SELECT count(*) FROM aref r JOIN aours o USING (test, row)
		   WHERE o.npar = r.npar AND o.df IS NOT DISTINCT FROM r.df), 10::bigint,
		  'lmm_anova with several terms: the smaller model first, npar and df as lme4');
SELECT cmp_ok((SELECT max(greatest(pg_temp.rel(o.aic, r.aic), pg_temp.rel(o.bic, r.bic),
								   pg_temp.rel(o.loglik, r.loglik), pg_temp.rel(o.deviance, r.deviance),
								   coalesce(pg_temp.rel(o.chisq, r.chisq), 0)))
			   FROM aref r JOIN aours o USING (test, row)), '<', 1e-8::float8,
			  'lmm_anova with several terms, ML or refitted from REML: AIC, BIC, logLik, deviance and Chisq agree with lme4 to 1e-8');
SELECT cmp_ok((SELECT max(pg_temp.rel(o.p_value, r.p)) FROM aref r JOIN aours o USING (test, row)
			   WHERE r.row = 2), '<', 1e-6::float8,
			  'lmm_anova with several terms: p-values agree with lme4 to 1e-6');
CREATE TEMP VIEW penicillin_doubled AS SELECT 2 * diameter AS diameter, plate, sample FROM penicillin;
SELECT throws_ok($$SELECT * FROM lmm_anova(lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin'),
											lmm('diameter ~ 1 + (1 | plate)', 'penicillin_doubled'))$$,
				 '22023', 'models were not fitted to the same data',
				 'lmm_anova refuses fits of lmm() with as many rows but another response');

-- names and order as lme4 reports them
SELECT is((SELECT array_agg(grp ORDER BY ord) FROM ffits, lmm_varcorr(m) WITH ORDINALITY v(grp, t1, t2, va, sd, co, ord)
		   WHERE fit = 'pastes' AND method = 'REML'),
		  ARRAY['cask:batch', 'batch', 'Residual'], 'nested (1 | batch/cask): cask:batch then batch, as lme4');
SELECT is((SELECT array_agg(grp ORDER BY ord) FROM ffits, lmm_varcorr(m) WITH ORDINALITY v(grp, t1, t2, va, sd, co, ord)
		   WHERE fit = 'sleep_uncor' AND method = 'REML'),
		  ARRAY['Subject', 'Subject.1', 'Residual'], '(Days || Subject): Subject and Subject.1, as lme4');
SELECT is((SELECT array_agg(term ORDER BY ord) FROM ffits, lmm_fixef(m) WITH ORDINALITY f(term, e, s, t, df, p, lo, hi, ord)
		   WHERE fit = 'cake' AND method = 'REML'),
		  ARRAY['(Intercept)', 'recipeB', 'recipeC', 'temp'], 'categorical recipe: treatment contrasts named as R names them');
SELECT is((SELECT count(DISTINCT level) FROM ffits, lmm_ranef(m) WHERE fit = 'pastes' AND method = 'ML' AND grp = 'cask:batch'),
		  30::bigint, 'nested levels are the pairs, e.g. a:A');

-- the aggregate directly gives the same model as lmm()
SELECT is((SELECT lmm_fit_terms(diameter, ARRAY[1], ARRAY[plate, sample], ARRAY[1, 1],
			 '{"x": ["(Intercept)"], "terms": [{"group": "plate", "z": ["(Intercept)"]}, {"group": "sample", "z": ["(Intercept)"]}], "formula": "diameter ~ 1 + (1 | plate) + (1 | sample)"}')::text
		   FROM penicillin),
		  (SELECT m::text FROM ffits WHERE fit = 'penicillin' AND method = 'REML'),
		  'lmm_fit_terms with the spec lmm() builds gives the same model');

-- the order of the design columns: model.matrix's for fixed effects, lme4's
-- for the columns of every random term, on 23 formulas of assay.csv
CREATE TEMP TABLE assay (y float8, x float8, z float8, k int, sample text, dilut text,
	trt text, flag boolean, g text);
\copy assay FROM 'test/data/assay.csv' CSV HEADER
CREATE TEMP TABLE oref (fit text, formula text, kind text, ord int, grp text, name text, value float8);
\copy oref FROM 'test/data/formula_order.ref.csv' CSV HEADER
CREATE TEMP TABLE ofits AS
SELECT fit, lmm(formula, 'assay') AS m FROM (SELECT DISTINCT fit, formula FROM oref) f;
CREATE TEMP TABLE ocols AS
SELECT fit, 'x' AS kind, ord::int, NULL::text AS grp, term AS name, estimate AS value
FROM ofits, lmm_fixef(m) WITH ORDINALITY f(term, estimate, s, t, df, p, lo, hi, ord)
UNION ALL
SELECT fit, 'z', row_number() OVER (PARTITION BY fit ORDER BY ord)::int, grp, term1, NULL
FROM ofits, lmm_varcorr(m) WITH ORDINALITY v(grp, term1, term2, va, sd, co, ord)
WHERE term2 IS NULL AND grp <> 'Residual';

SELECT is((SELECT count(*) FROM ofits WHERE m IS NOT NULL), 23::bigint, '23 fits of formulas on assay.csv');
SELECT is((SELECT string_agg(DISTINCT fit, ', ') FROM (
			 (SELECT fit, ord, name FROM oref WHERE kind = 'x'
			  EXCEPT SELECT fit, ord, name FROM ocols WHERE kind = 'x')
			 UNION
			 (SELECT fit, ord, name FROM ocols WHERE kind = 'x'
			  EXCEPT SELECT fit, ord, name FROM oref WHERE kind = 'x')) d), NULL,
		  'fixed-effect columns in model.matrix''s order with its names: main effects first, first factor fastest, R''s contrasts');
SELECT is((SELECT string_agg(DISTINCT fit, ', ') FROM (
			 (SELECT fit, ord, grp, name FROM oref WHERE kind = 'z'
			  EXCEPT SELECT fit, ord, grp, name FROM ocols WHERE kind = 'z')
			 UNION
			 (SELECT fit, ord, grp, name FROM ocols WHERE kind = 'z'
			  EXCEPT SELECT fit, ord, grp, name FROM oref WHERE kind = 'z')) d), NULL,
		  'random terms'' columns in lme4''s order with its names, (trt * x | g), (x:trt | g) and (x + trt || g) among them');
SELECT cmp_ok(greatest((SELECT max(pg_temp.rel(o.value, r.value)) FROM oref r
						JOIN ocols o ON o.fit = r.fit AND o.kind = 'x' AND o.ord = r.ord AND o.name = r.name
						WHERE r.kind = 'beta'),
					   (SELECT max(pg_temp.rel((lmm_summary(f.m)).criterion, r.value)) FROM oref r
						JOIN ofits f USING (fit) WHERE r.kind = 'criterion')), '<', 1e-6::float8,
			  'fixed effects column by column and REML criteria agree with lme4 to 1e-6');

SELECT * FROM finish();
