-- The parametric bootstrap (lmm_bootstrap) against lme4 1.1-31's
-- confint(m, method = "boot", nsim = 2000, oldNames = FALSE)
-- (test/data/make_boot_refs.R, boot.ref.csv): sleepstudy with a random
-- slope, Penicillin (crossed), Dyestuff by REML and by ML.
-- Both sides are Monte Carlo estimates of the same percentiles from 2000
-- replicates each, with independent random numbers.  Each end's Monte
-- Carlo standard error se is R's (the order-statistic error of a sample
-- quantile, in the reference file); the two ends differ by sqrt(2) se in
-- standard deviation, and must agree within 4 of those: 4 sqrt(2) se.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lmm;
BEGIN;

CREATE TEMP TABLE sleepstudy (reaction float8, days float8, subject text);
\copy sleepstudy FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TEMP TABLE penicillin (diameter float8, plate text, sample text);
\copy penicillin FROM 'test/data/penicillin.csv' CSV HEADER
CREATE TEMP TABLE dyestuff (batch text, yield float8);
\copy dyestuff FROM 'test/data/dyestuff.csv' CSV HEADER
CREATE TEMP TABLE bref (ord serial, fit text, parameter text, estimate float8, lower float8,
	upper float8, boot_mean float8, boot_sd float8, se_lower float8, se_upper float8,
	nsim int, failed int);
\copy bref (fit, parameter, estimate, lower, upper, boot_mean, boot_sd, se_lower, se_upper, nsim, failed) FROM 'test/data/boot.ref.csv' CSV HEADER

CREATE TEMP TABLE bfits AS
SELECT f.fit, lmm(f.formula, f.source::regclass, f.options) AS m
FROM (VALUES ('sleepstudy', 'reaction ~ days + (days | subject)', 'sleepstudy', 'method=reml'),
			 ('penicillin', 'diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin', 'method=reml'),
			 ('dyestuff', 'yield ~ 1 + (1 | batch)', 'dyestuff', 'method=reml'),
			 ('dyestuff_ml', 'yield ~ 1 + (1 | batch)', 'dyestuff', 'method=ml')) f(fit, formula, source, options);
CREATE TEMP TABLE bours AS
SELECT f.fit, lower(b.parameter) AS parameter, b.estimate, b.lower, b.upper, b.method, b.ord
FROM bfits f, lmm_bootstrap(f.m, 2000) WITH ORDINALITY b(parameter, estimate, lower, upper, method, ord);
CREATE TEMP TABLE bcmp AS
SELECT r.fit, r.parameter, o.lower - r.lower AS d_lower, o.upper - r.upper AS d_upper,
	4 * sqrt(2) * r.se_lower AS tol_lower, 4 * sqrt(2) * r.se_upper AS tol_upper,
	abs(o.estimate - r.estimate) / greatest(abs(r.estimate), 1) AS d_estimate
FROM bref r JOIN bours o USING (fit, parameter);

SELECT plan(9);

SELECT is((SELECT count(*) FROM bcmp), (SELECT count(*) FROM bref),
		  'every lme4 bootstrap interval has ours, under lme4''s name');
SELECT is((SELECT count(*) FROM bours), (SELECT count(*) FROM bref),
		  'and we report no parameter lme4 does not');
SELECT is((SELECT count(*) FROM
			(SELECT fit, array_agg(parameter ORDER BY ord) AS names FROM bref GROUP BY 1) r
			JOIN (SELECT fit, array_agg(parameter ORDER BY ord) AS names FROM bours GROUP BY 1) o
			USING (fit) WHERE r.names = o.names),
		  4::bigint, 'parameters in lme4''s order: sd and cor term by term, sigma, fixed effects');
SELECT cmp_ok((SELECT max(d_estimate) FROM bcmp), '<', 1e-4::float8,
			  'the generating estimates are lme4''s (to its optimizer''s stopping point)');
SELECT is((SELECT count(*) FROM bcmp WHERE (abs(d_lower) > tol_lower + 1e-12 OR abs(d_upper) > tol_upper + 1e-12)
			 AND fit = 'sleepstudy'), 0::bigint,
		  'sleepstudy (random slope): both ends within 4 sqrt(2) Monte Carlo SE of lme4''s');
SELECT is((SELECT count(*) FROM bcmp WHERE (abs(d_lower) > tol_lower + 1e-12 OR abs(d_upper) > tol_upper + 1e-12)
			 AND fit = 'penicillin'), 0::bigint,
		  'Penicillin (crossed): both ends within 4 sqrt(2) Monte Carlo SE of lme4''s');
SELECT is((SELECT count(*) FROM bcmp WHERE (abs(d_lower) > tol_lower + 1e-12 OR abs(d_upper) > tol_upper + 1e-12)
			 AND fit IN ('dyestuff', 'dyestuff_ml')), 0::bigint,
		  'Dyestuff, REML and ML refits: both ends within 4 sqrt(2) Monte Carlo SE of lme4''s, sd''s lower end 0');
-- the tolerance is a few percent of each parameter's bootstrap spread, not a free pass
SELECT cmp_ok((SELECT max(greatest(tol_lower, tol_upper) / r.boot_sd) FROM bcmp JOIN bref r USING (fit, parameter)),
			  '<', 0.6::float8, 'no tolerance exceeds 0.6 bootstrap SDs');
SELECT is((SELECT count(*) FROM bours WHERE method <> 'percentile' OR NOT (lower <= estimate AND estimate <= upper)),
		  0::bigint, 'every interval is a percentile interval that holds the estimate');

SELECT * FROM finish();
ROLLBACK;
