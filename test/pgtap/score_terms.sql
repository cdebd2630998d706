-- Scoring models with several random-effects terms: lmm_predict, lmm_residual
-- and lmm_blup against lme4's predict() (new rows, new levels of either
-- factor; test/data/make_terms_predict_refs.R), against X beta + sum of
-- Z_t b_t computed independently from lmm_fixef and lmm_ranef, the model
-- cache under models that change from row to row, NULLs and errors.
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lmm;

CREATE TEMP TABLE penicillin (diameter float8, plate text, sample text);
\copy penicillin FROM 'test/data/penicillin.csv' CSV HEADER
CREATE TEMP TABLE pastes (strength float8, batch text, cask text, sample text);
\copy pastes FROM 'test/data/pastes.csv' CSV HEADER
CREATE TEMP TABLE ratings (y float8, x float8, a text, b text);
\copy ratings FROM 'test/data/ratings.csv' CSV HEADER
CREATE TEMP TABLE sleepstudy ("Reaction" float8, "Days" float8, "Subject" text);
\copy sleepstudy FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TEMP TABLE tref (fit text, method text, g1 text, g2 text, x float8, cond float8, pop float8);
\copy tref FROM 'test/data/predict_terms.ref.csv' CSV HEADER

CREATE TEMP TABLE tfits (fit text, method text, m lmm_model);
INSERT INTO tfits
SELECT f.fit, meth, lmm(f.formula, f.source::regclass, 'method=' || lower(meth))
FROM (VALUES ('penicillin', 'diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin'),
			 ('pastes', 'strength ~ 1 + (1 | batch/cask)', 'pastes'),
			 ('ratings', 'y ~ x + (x | a) + (1 | b)', 'ratings'),
			 ('sleep_uncor', 'Reaction ~ Days + (Days || Subject)', 'sleepstudy')) f(fit, formula, source),
	 (VALUES ('REML'), ('ML')) AS me(meth);

-- One row of a fit scored with lmm_predict: the keys in lmm_varcorr's term
-- order, z every term's non-intercept columns in term order.
CREATE FUNCTION pg_temp.predict(fit text, m lmm_model, g1 text, g2 text, x float8)
RETURNS float8 LANGUAGE sql STABLE AS $$
	SELECT CASE fit
		WHEN 'penicillin' THEN lmm_predict(m, ARRAY[]::float8[], ARRAY[g1, g2])
		WHEN 'pastes' THEN lmm_predict(m, ARRAY[]::float8[], ARRAY[g2 || ':' || g1, g1])
		WHEN 'ratings' THEN lmm_predict(m, ARRAY[x], ARRAY[g1, g2], ARRAY[x])
		ELSE lmm_predict(m, ARRAY[x], ARRAY[g1, g1], ARRAY[x]) END
$$;
-- The same with lmm_residual, for y.
CREATE FUNCTION pg_temp.residual(fit text, m lmm_model, y float8, g1 text, g2 text, x float8)
RETURNS float8 LANGUAGE sql STABLE AS $$
	SELECT CASE fit
		WHEN 'penicillin' THEN lmm_residual(m, y, ARRAY[]::float8[], ARRAY[g1, g2])
		WHEN 'pastes' THEN lmm_residual(m, y, ARRAY[]::float8[], ARRAY[g2 || ':' || g1, g1])
		WHEN 'ratings' THEN lmm_residual(m, y, ARRAY[x], ARRAY[g1, g2], ARRAY[x])
		ELSE lmm_residual(m, y, ARRAY[x], ARRAY[g1, g1], ARRAY[x]) END
$$;

-- ours on lme4's grid
CREATE TEMP VIEW pred_new AS
SELECT r.*, pg_temp.predict(r.fit, f.m, r.g1, r.g2, r.x) AS our_cond,
	CASE WHEN r.x IS NULL THEN lmm_predict(f.m, ARRAY[]::float8[]) ELSE lmm_predict(f.m, ARRAY[r.x]) END AS our_pop
FROM tref r JOIN tfits f USING (fit, method);

-- the training rows with their keys, y and covariate
CREATE TEMP VIEW train AS
SELECT 'penicillin' AS fit, diameter AS y, plate AS g1, sample AS g2, NULL::float8 AS x FROM penicillin
UNION ALL SELECT 'pastes', strength, batch, cask, NULL FROM pastes
UNION ALL SELECT 'ratings', y, a, b, x FROM ratings
UNION ALL SELECT 'sleep_uncor', "Reaction", "Subject", NULL, "Days" FROM sleepstudy;

-- X beta + sum over terms of Z_t b_t from lmm_fixef and lmm_ranef alone:
-- the level of each term joined by its text, slopes times the covariate
CREATE TEMP VIEW by_hand AS
WITH fe AS (
	SELECT f.fit, f.method,
		max(x.estimate) FILTER (WHERE x.term = '(Intercept)') AS b0,
		coalesce(max(x.estimate) FILTER (WHERE x.term <> '(Intercept)'), 0) AS b1
	FROM tfits f, lmm_fixef(f.m) x GROUP BY 1, 2
), re AS (
	SELECT f.fit, f.method, r.grp, r.level, r.term, r.estimate FROM tfits f, lmm_ranef(f.m) r
)
SELECT t.fit, f.method, t.y, t.g1, t.g2, t.x,
	pg_temp.predict(t.fit, f.m, t.g1, t.g2, t.x) AS pred,
	pg_temp.residual(t.fit, f.m, t.y, t.g1, t.g2, t.x) AS resid,
	fe.b0 + fe.b1 * coalesce(t.x, 0) + (
		SELECT sum(re.estimate * CASE WHEN re.term = '(Intercept)' THEN 1 ELSE t.x END)
		FROM re WHERE re.fit = t.fit AND re.method = f.method AND
			(re.grp, re.level) IN ((CASE t.fit WHEN 'penicillin' THEN 'plate' WHEN 'pastes' THEN 'batch'
										WHEN 'ratings' THEN 'a' ELSE 'Subject' END, t.g1),
								   (CASE t.fit WHEN 'penicillin' THEN 'sample' WHEN 'pastes' THEN 'cask:batch'
										ELSE 'b' END,
									CASE t.fit WHEN 'pastes' THEN t.g2 || ':' || t.g1 ELSE t.g2 END))) AS hand
FROM train t JOIN tfits f USING (fit) JOIN fe USING (fit, method);

-- each penicillin row scored by each model alone, to score again with the
-- models alternating row by row
CREATE TEMP TABLE alone AS
SELECT f.method, p.plate, p.sample, lmm_predict(f.m, ARRAY[]::float8[], ARRAY[p.plate, p.sample]) AS pred
FROM tfits f, penicillin p WHERE f.fit = 'penicillin';

SELECT plan(5 + 8 * 3 + 4 + 1 + 5 + 4 + 12 + 2);

-- (1) the term order the keys follow is lmm_varcorr's (lme4's)
SELECT is((SELECT array_agg(grp ORDER BY o) FROM tfits f, lmm_varcorr(f.m) WITH ORDINALITY v(grp, t1, t2, va, sd, co, o)
		   WHERE f.fit = 'penicillin' AND f.method = 'REML'), ARRAY['plate', 'sample', 'Residual'],
		  'penicillin: plate, then sample');
SELECT is((SELECT array_agg(grp ORDER BY o) FROM tfits f, lmm_varcorr(f.m) WITH ORDINALITY v(grp, t1, t2, va, sd, co, o)
		   WHERE f.fit = 'pastes' AND f.method = 'REML' AND t2 IS NULL),
		  ARRAY['cask:batch', 'batch', 'Residual'], 'pastes: cask:batch (keys cask:batch), then batch');
SELECT is((SELECT array_agg(grp ORDER BY o) FROM tfits f, lmm_varcorr(f.m) WITH ORDINALITY v(grp, t1, t2, va, sd, co, o)
		   WHERE f.fit = 'ratings' AND f.method = 'REML' AND t2 IS NULL),
		  ARRAY['a', 'a', 'b', 'Residual'], 'ratings: a (intercept and x), then b');
SELECT is((SELECT array_agg(grp ORDER BY o) FROM tfits f, lmm_varcorr(f.m) WITH ORDINALITY v(grp, t1, t2, va, sd, co, o)
		   WHERE f.fit = 'sleep_uncor' AND f.method = 'REML'),
		  ARRAY['Subject', 'Subject.1', 'Residual'], 'sleep_uncor: Subject (intercept), then Subject.1 (Days)');
SELECT is((SELECT count(*) FROM tfits WHERE m IS NOT NULL), 8::bigint, 'eight fits');

-- (2) new rows, seen and new levels of either factor, against lme4 run to
-- convergence (measured: conditional 5.9e-9, population 1.1e-10 at worst)
SELECT is(count(our_cond)::int, count(*)::int, format('%s %s: a prediction for every reference row', fit, method))
FROM pred_new GROUP BY fit, method ORDER BY fit, method;
SELECT cmp_ok(max(abs(our_cond - cond)) / max(abs(cond)), '<=', 2e-8::float8,
			  format('%s %s: conditional predictions within 2e-8 of lme4''s predict(allow.new.levels = TRUE)', fit, method))
FROM pred_new GROUP BY fit, method ORDER BY fit, method;
SELECT cmp_ok(max(abs(our_pop - pop)) / max(abs(pop)), '<=', 1e-9::float8,
			  format('%s %s: population predictions within 1e-9 of lme4''s predict(re.form = NA)', fit, method))
FROM pred_new GROUP BY fit, method ORDER BY fit, method;

-- (3) the training rows: lmm_predict is X beta + sum Z_t b_t, lmm_residual y minus it
SELECT cmp_ok(max(abs(pred - hand) / abs(hand)), '<=', 1e-14::float8,
			  format('%s: lmm_predict equals X beta + sum of Z_t b_t from lmm_fixef and lmm_ranef', fit))
FROM by_hand GROUP BY fit ORDER BY fit;
SELECT is(max(abs(resid - (y - pred))), 0::float8, 'lmm_residual is y - lmm_predict, every row of every fit')
FROM by_hand;

-- (4) a new level adds nothing: with every factor new, the population
-- prediction exactly; with one new, the fixed part plus the other's effect
SELECT is(count(*) FILTER (WHERE our_cond <> our_pop)::int, 0, 'every factor new: the population prediction')
FROM pred_new WHERE g1 = 'new' AND coalesce(g2, 'new') = 'new';
SELECT is(count(*) FILTER (WHERE abs(our_cond - (our_pop + lmm_blup(f.m, g2, 'sample'))) > 1e-12)::int, 0,
		  'penicillin, new plate: the population prediction plus the sample''s BLUP')
FROM pred_new JOIN tfits f USING (fit, method) WHERE fit = 'penicillin' AND g1 = 'new' AND g2 <> 'new';
SELECT is(count(*) FILTER (WHERE abs(our_cond - (our_pop + lmm_blup(f.m, g1, 'a')
											 + x * lmm_blup(f.m, g1, 'a', 'x'))) > 1e-12)::int, 0,
		  'ratings, new b: the population prediction plus a''s intercept and slope')
FROM pred_new JOIN tfits f USING (fit, method) WHERE fit = 'ratings' AND g1 <> 'new' AND g2 = 'new';
SELECT is(lmm_blup(m, 'new', 'plate'), NULL, 'a new level has no BLUP (NULL)')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';
SELECT is(lmm_predict(m, ARRAY[]::float8[], ARRAY['a', NULL]), NULL, 'a NULL key gives NULL')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';

-- (5) lmm_blup names the factor as lmm_ranef (and lmm_varcorr) do
SELECT is(count(*) FILTER (WHERE lmm_blup(f.m, r.level, r.grp, r.term) IS DISTINCT FROM r.estimate)::int, 0,
		  'lmm_blup(m, level, grp, term) equals lmm_ranef for every level, factor and column of every fit')
FROM tfits f, lmm_ranef(f.m) r;
SELECT is(count(*) FILTER (WHERE lmm_blup(f.m, r.level, r.grp) IS DISTINCT FROM r.estimate)::int, 0,
		  'lmm_blup(m, level, grp) is the factor''s intercept, for every level of every intercept term')
FROM tfits f, lmm_ranef(f.m) r WHERE r.term = '(Intercept)' AND f.fit <> 'sleep_uncor';
SELECT is(lmm_blup(m, '308', 'Subject.1'), lmm_blup(m, '308', 'Subject', 'Days'),
		  '(Days || Subject): Subject.1 is the Days term')
FROM tfits WHERE fit = 'sleep_uncor' AND method = 'REML';
SELECT is(lmm_blup(m, 'a', 'plate'::text), lmm_blup(m, 'a'::text, 'plate', '(Intercept)'),
		  'untyped keys and names resolve to the text forms')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';

-- (6) bad input is a clear error
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[]::float8[], ARRAY[%L])', m, 'a'), '2202E',
				 'keys has 1 elements but the model has 2 random-effects terms (plate, sample)', 'one key for two terms')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[]::float8[], ARRAY[[%L, %L]])', m, 'a', 'F'), '2202E',
				 'keys must be a one-dimensional array, not 2-dimensional', 'a two-dimensional keys array')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[]::float8[], %L)', m, '{a,F}'), '22023',
				 'the model has 2 random-effects terms (plate, sample), so one key is not enough',
				 'an untyped literal is one key (text), which is not enough')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_residual(%L::lmm_model, 1.0, ARRAY[]::float8[], %L::text)', m, 'a'), '22023',
				 'the model has 2 random-effects terms (plate, sample), so one key is not enough',
				 'lmm_residual with one key')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[1.0], ARRAY[%L, %L])', m, 'a01', 'b01'), '22023',
				 'the model has random slopes, so the row''s z values are needed', 'a slope model without z')
FROM tfits WHERE fit = 'ratings' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[1.0], ARRAY[%L, %L], ARRAY[1.0, 1.0])', m, 'a01', 'b01'), '2202E',
				 'z has 2 elements but the model has 1', 'z of the wrong length')
FROM tfits WHERE fit = 'ratings' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[1.0, 2.0], ARRAY[%L, %L], ARRAY[1.0])', m, 'a01', 'b01'), '2202E',
				 'x has 2 elements but the model has 1', 'x of the wrong length')
FROM tfits WHERE fit = 'ratings' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_blup(%L::lmm_model, %L::text)', m, 'a'), '22023',
				 'the model has 2 random-effects terms (plate, sample), so the grouping factor must be named',
				 'lmm_blup without the factor')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_blup(%L::lmm_model, %L::text, %L)', m, 'a', 'plates'), '42704',
				 'the model has no grouping factor "plates"', 'an unknown factor')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_blup(%L::lmm_model, %L::text, %L, %L)', m, 'a01', 'a', 'z'), '42704',
				 'the model has no random-effect term "z"', 'an unknown column of a factor')
FROM tfits WHERE fit = 'ratings' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_blup(%L::lmm_model, 3, %L)', m, 'plate'), '42804',
				 'group key of type integer does not match the key type text of grouping factor "plate"', 'an integer key for text levels')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[]::float8[], ARRAY[%L::varchar, %L::varchar])', m, 'a', 'F'),
				 '42725', NULL, 'varchar[] keys are ambiguous (cast them to text[])')
FROM tfits WHERE fit = 'penicillin' AND method = 'REML';

-- (7) the model cache notices a different model in the next row
SELECT is(count(*) FILTER (WHERE lmm_predict(s.m, ARRAY[]::float8[], ARRAY[s.plate, s.sample])
								 IS DISTINCT FROM s.pred)::int, 0,
		  'alternating REML and ML models row by row: every prediction uses its own row''s model')
FROM (SELECT f.m, a.plate, a.sample, a.pred FROM alone a JOIN tfits f ON f.fit = 'penicillin' AND f.method = a.method
	  ORDER BY a.plate, a.sample, a.method) s;
SELECT is(count(*) FILTER (WHERE r.pred <> m.pred)::int, 144,
		  'and the two models'' predictions differ on every row')
FROM alone r JOIN alone m USING (plate, sample) WHERE r.method = 'REML' AND m.method = 'ML';

SELECT * FROM finish();
ROLLBACK;
