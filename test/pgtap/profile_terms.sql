-- Likelihood-profile intervals (lmm_confint, method=profile) of models of
-- lmm() and lmm_fit_terms against lme4 1.1-31's confint(m, method =
-- "profile", oldNames = FALSE) (test/data/make_profile_terms_refs.R,
-- profile_terms.ref.csv): Penicillin (crossed), Pastes (nested), a crossed
-- model with a random slope and (Days || Subject) (two terms of one
-- factor), REML and ML, levels 0.95 and 0.90.
-- Such models carry their statistics (format 4); those stored by lmm 0.6
-- (format 3) still load, without refits.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lmm;
BEGIN;

CREATE TEMP TABLE penicillin (diameter float8, plate text, sample text);
\copy penicillin FROM 'test/data/penicillin.csv' CSV HEADER
CREATE TEMP TABLE pastes (strength float8, batch text, cask text, sample text);
\copy pastes FROM 'test/data/pastes.csv' CSV HEADER
CREATE TEMP TABLE ratings (y float8, x float8, a text, b text);
\copy ratings FROM 'test/data/ratings.csv' CSV HEADER
CREATE TEMP TABLE sleepstudy ("Reaction" float8, "Days" float8, "Subject" text);
\copy sleepstudy FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TEMP TABLE pref (ord serial, fit text, method text, level text, parameter text,
	estimate float8, lower float8, upper float8);
\copy pref (fit, method, level, parameter, estimate, lower, upper) FROM 'test/data/profile_terms.ref.csv' CSV HEADER

CREATE TEMP TABLE pfits AS
SELECT f.fit, me.method, lmm(f.formula, f.source::regclass, 'method=' || lower(me.method)) AS m
FROM (VALUES ('penicillin', 'diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin'),
			 ('pastes', 'strength ~ 1 + (1 | batch/cask)', 'pastes'),
			 ('ratings', 'y ~ x + (x | a) + (1 | b)', 'ratings'),
			 ('sleep_uncor', 'Reaction ~ Days + (Days || Subject)', 'sleepstudy')) f(fit, formula, source),
	 (VALUES ('REML'), ('ML')) me(method);

CREATE TEMP TABLE pours AS
SELECT f.fit, f.method, l.level, c.*
FROM pfits f, (VALUES ('0.95'), ('0.90')) l(level),
	lmm_confint(f.m, 'method=profile, level=' || l.level)
		WITH ORDINALITY c(parameter, estimate, lower, upper, method_used, ord);

-- relative difference; an end of 0 (a standard deviation whose profile
-- never reaches the quantile) must be 0 exactly
CREATE FUNCTION pg_temp.rel(a float8, b float8) RETURNS float8
	LANGUAGE sql IMMUTABLE AS $$ SELECT abs(a - b) / greatest(abs(b), 1e-300) $$;

SELECT plan(15);

SELECT is((SELECT count(*) FROM pref r JOIN pours o USING (fit, method, level, parameter)),
		  (SELECT count(*) FROM pref),
		  'every lme4 profile interval has ours, under lme4''s name');
SELECT is((SELECT count(*) FROM pours), (SELECT count(*) FROM pref),
		  'and we report no parameter lme4 does not');
SELECT is((SELECT count(*) FROM
			(SELECT fit, method, level, array_agg(parameter ORDER BY ord) AS names FROM pref GROUP BY 1, 2, 3) r
			JOIN (SELECT fit, method, level, array_agg(parameter ORDER BY ord) AS names FROM pours GROUP BY 1, 2, 3) o
			USING (fit, method, level) WHERE r.names = o.names),
		  16::bigint, 'parameters in lme4''s order: sd and cor term by term, sigma, fixed effects');

-- the tolerance of the one-term profile tests (inference.sql): lme4
-- interpolates a spline through profile points, we solve for the ends
SELECT cmp_ok((SELECT max(greatest(pg_temp.rel(o.lower, r.lower), pg_temp.rel(o.upper, r.upper)))
			   FROM pref r JOIN pours o USING (fit, method, level, parameter) WHERE r.fit = 'penicillin'),
			  '<=', 1e-3::float8, 'Penicillin (crossed): profile intervals agree with lme4 to 1e-3');
SELECT cmp_ok((SELECT max(greatest(pg_temp.rel(o.lower, r.lower), pg_temp.rel(o.upper, r.upper)))
			   FROM pref r JOIN pours o USING (fit, method, level, parameter) WHERE r.fit = 'pastes'),
			  '<=', 1e-3::float8, 'Pastes (nested): profile intervals agree with lme4 to 1e-3, the lower end of sd|batch 0');
SELECT cmp_ok((SELECT max(greatest(pg_temp.rel(o.lower, r.lower), pg_temp.rel(o.upper, r.upper)))
			   FROM pref r JOIN pours o USING (fit, method, level, parameter) WHERE r.fit = 'ratings'),
			  '<=', 1e-3::float8, 'crossed with a random slope: profile intervals agree with lme4 to 1e-3');
SELECT cmp_ok((SELECT max(greatest(pg_temp.rel(o.lower, r.lower), pg_temp.rel(o.upper, r.upper)))
			   FROM pref r JOIN pours o USING (fit, method, level, parameter) WHERE r.fit = 'sleep_uncor'),
			  '<=', 1e-3::float8, '(Days || Subject): profile intervals agree with lme4 to 1e-3, both terms named by Subject');
SELECT is((SELECT count(*) FROM pours WHERE method_used <> 'profile' OR lower IS NULL OR upper IS NULL
			 OR NOT (lower <= estimate AND estimate <= upper)),
		  0::bigint, 'every interval found, and it holds the model''s estimate');

-- one term through lmm(): the several-term profile equals the one-term engine's
SELECT cmp_ok((SELECT max(greatest(pg_temp.rel(a.lower, b.lower), pg_temp.rel(a.upper, b.upper)))
			   FROM lmm_confint(lmm('diameter ~ 1 + (1 | plate)', 'penicillin')) a
			   JOIN lmm_confint((SELECT lmm_fit(diameter, ARRAY[]::float8[], plate, 'g_name=plate')
								 FROM penicillin)) b USING (parameter)),
			  '<=', 1e-6::float8, 'one term: lmm() and lmm_fit give the same profile intervals');

-- what a profile needs survives the text and binary round trips exactly
-- (the profile itself to 1e-10: BLAS may round differently at other
-- addresses)
SELECT ok((SELECT m::text::lmm_model::text = m::text FROM pfits WHERE fit = 'ratings' AND method = 'REML')
		  AND (SELECT max(greatest(pg_temp.rel(c.lower, o.lower), pg_temp.rel(c.upper, o.upper)))
			   FROM pfits f, lmm_confint(f.m::text::lmm_model) c
			   JOIN pours o ON o.parameter = c.parameter
			   WHERE f.fit = 'penicillin' AND f.method = 'ML' AND o.fit = 'penicillin'
				 AND o.method = 'ML' AND o.level = '0.95') < 1e-10,
		  'text round trip: the same value and the same profile');
\copy (SELECT fit, method, m FROM pfits) TO '/tmp/lmm_profile_terms.bin' WITH (FORMAT binary)
CREATE TEMP TABLE pback (fit text, method text, m lmm_model);
\copy pback FROM '/tmp/lmm_profile_terms.bin' WITH (FORMAT binary)
SELECT is((SELECT count(*) FROM pfits a JOIN pback b USING (fit, method)
		   WHERE lmm_model_send(a.m) = lmm_model_send(b.m)), 8::bigint,
		  'binary round trip: the same bytes');

-- a model of lmm() stored by lmm 0.6 (format 3): no statistics, no refits
CREATE TEMP TABLE v3 AS
SELECT (jsonb_set(m::text::jsonb - 'terms_stats' - 'factors', '{lmm_model}', '3'))::text::lmm_model AS m
FROM pfits WHERE fit = 'pastes' AND method = 'REML';
SELECT is((SELECT array_agg(round(estimate::numeric, 6)) FROM v3, lmm_fixef(m)),
		  (SELECT array_agg(round(estimate::numeric, 6)) FROM pfits, lmm_fixef(m) WHERE fit = 'pastes' AND method = 'REML'),
		  'a format 3 model of lmm() loads, with its estimates');
SELECT throws_ok($$SELECT * FROM lmm_confint((SELECT m FROM v3))$$, '0A000',
	'lmm_confint(method=profile) needs a model that carries its statistics',
	'profile intervals of a format 3 model of lmm() ask for a refit');

-- statistics that are not the model's are refused
SELECT throws_ok($$SELECT (jsonb_set(m::text::jsonb, '{terms_stats}', '"4c4d4d7"'))::text::lmm_model
				   FROM pfits WHERE fit = 'pastes' AND method = 'ML'$$, '22P02', NULL,
	'terms_stats must be whole hex bytes');
SELECT throws_ok($$SELECT (jsonb_set(a.m::text::jsonb, '{terms_stats}', b.m::text::jsonb->'terms_stats'))::text::lmm_model
				   FROM pfits a, pfits b WHERE a.fit = 'pastes' AND b.fit = 'penicillin'
				   AND a.method = 'ML' AND b.method = 'ML'$$, '22P02', NULL,
	'another model''s statistics are refused');

SELECT * FROM finish();
ROLLBACK;
