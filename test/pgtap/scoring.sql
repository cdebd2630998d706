-- Scoring with a model: lmm_predict, lmm_blup and lmm_residual against
-- lme4's predict() (new rows, new levels; test/data/make_predict_refs.R) and
-- fitted() (the training rows; make_refs.R), against X beta + Z b computed
-- independently from lmm_fixef and lmm_ranef, and the per-call-site model
-- cache under models that change from row to row.
\set QUIET 1
\set ON_ERROR_STOP 1
BEGIN;
\i test/pgtap/setup.psql

CREATE TEMP TABLE pref (fit text, method text, g text, x1 float8, x2 float8,
	cond float8, pop float8);
\copy pref FROM 'test/data/predict_new.ref.csv' CSV HEADER

-- A fit's conditional prediction with its own arrays: x1 (and x2) as fixed
-- effects, and as random slopes for the slope fits.
CREATE FUNCTION pg_temp.predict(fit text, m lmm_model, x1 float8, x2 float8, g text)
RETURNS float8 LANGUAGE sql STABLE AS $$
	SELECT CASE fit
		WHEN 'dyestuff' THEN lmm_predict(m, ARRAY[]::float8[], g)
		WHEN 'sleep_int' THEN lmm_predict(m, ARRAY[x1], g)
		WHEN 'sleep_slope' THEN lmm_predict(m, ARRAY[x1], g, ARRAY[x1])
		ELSE lmm_predict(m, ARRAY[x1, x2], g, ARRAY[x1, x2]) END
$$;

-- Ours on the reference grid.
CREATE TEMP VIEW pred_new AS
SELECT r.fit, r.method, r.cond, r.pop,
	pg_temp.predict(r.fit, f.m, r.x1, r.x2, r.g) AS our_cond,
	CASE r.fit
		WHEN 'dyestuff' THEN lmm_predict(f.m, ARRAY[]::float8[])
		WHEN 'unbalanced' THEN lmm_predict(f.m, ARRAY[r.x1, r.x2])
		ELSE lmm_predict(f.m, ARRAY[r.x1]) END AS our_pop
FROM pref r JOIN fits f USING (fit, method);

-- The training rows in file order (the row numbers of lme4's fitted values).
CREATE TEMP VIEW train AS
SELECT 'sleep_int' AS fit, row_number() OVER (ORDER BY ctid) AS rn, reaction AS y,
	days::float8 AS x1, NULL::float8 AS x2, subject AS g FROM sleepstudy
UNION ALL
SELECT 'sleep_slope', row_number() OVER (ORDER BY ctid), reaction, days, NULL, subject FROM sleepstudy
UNION ALL
SELECT 'unbalanced', row_number() OVER (ORDER BY ctid), y, x1, x2, g FROM unbalanced
UNION ALL
SELECT 'dyestuff', row_number() OVER (ORDER BY ctid), yield, NULL, NULL, batch FROM dyestuff;

CREATE TEMP VIEW pred_train AS
SELECT t.fit, f.method, t.rn, t.y, t.x1, t.x2, t.g,
	pg_temp.predict(t.fit, f.m, t.x1, t.x2, t.g) AS pred,
	CASE t.fit
		WHEN 'dyestuff' THEN lmm_residual(f.m, t.y, ARRAY[]::float8[], t.g)
		WHEN 'sleep_int' THEN lmm_residual(f.m, t.y, ARRAY[t.x1], t.g)
		WHEN 'sleep_slope' THEN lmm_residual(f.m, t.y, ARRAY[t.x1], t.g, ARRAY[t.x1])
		ELSE lmm_residual(f.m, t.y, ARRAY[t.x1, t.x2], t.g, ARRAY[t.x1, t.x2]) END AS resid
FROM train t JOIN fits f USING (fit)
UNION ALL
SELECT 'singular', f.method, row_number() OVER (PARTITION BY f.method ORDER BY s.ctid), s.y, s.x, NULL,
	s.g::text, lmm_predict(f.m, ARRAY[s.x], s.g), lmm_residual(f.m, s.y, ARRAY[s.x], s.g)
FROM singular s JOIN fits f ON f.fit = 'singular';

-- X beta + Z b from the model's rows, without lmm_predict: the fixed effects
-- in term order, the level's conditional modes in term order.
CREATE TEMP VIEW by_hand AS
WITH fe AS (
	SELECT f.fit, f.method, array_agg(x.estimate ORDER BY x.ord) AS beta
	FROM fits f, lmm_fixef(f.m) WITH ORDINALITY x(term, estimate, se, t, df, p, lo, hi, ord) GROUP BY 1, 2
), re AS (
	SELECT f.fit, f.method, r.level, array_agg(r.estimate ORDER BY r.ord) AS b
	FROM fits f, lmm_ranef(f.m) WITH ORDINALITY r(grp, level, term, estimate, cond_sd, ord)
	GROUP BY 1, 2, 3
)
SELECT p.fit, p.method, p.rn, p.pred,
	fe.beta[1] + coalesce(fe.beta[2] * p.x1, 0) + coalesce(fe.beta[3] * p.x2, 0)
	+ re.b[1] + coalesce(re.b[2] * p.x1, 0) + coalesce(re.b[3] * p.x2, 0) AS hand
FROM pred_train p JOIN fe USING (fit, method) JOIN re ON re.fit = p.fit AND re.method = p.method AND re.level = p.g;

CREATE TEMP TABLE cache_models AS
SELECT k, lmm_fit(y, ARRAY[x], g, 'x_names=x') AS m
FROM (SELECT k, i % 3000 AS g, sin(i * 0.37) AS x,
			 k + 0.5 * sin(i * 0.37) + sin((i % 3000) * (1.7 + k)) + 0.3 * cos(i * 2.3) AS y
	  FROM generate_series(1, 2) k, generate_series(1, 12000) i) d
GROUP BY k;

SELECT plan(8 * 3 + 10 * 2 + 5 + 1 + 1 + 7 + 4 + 11 + 4);

-- (1) new rows, seen and unseen levels, against lme4 run to convergence
SELECT is(count(our_cond)::int, count(*)::int, format('%s %s: a prediction for every reference row', fit, method))
FROM pred_new GROUP BY fit, method ORDER BY fit, method;
SELECT cmp_ok(max(abs(our_cond - cond)) / max(abs(cond)), '<=', 2e-6::float8,
			  format('%s %s: conditional predictions within 2e-6 of lme4''s predict(allow.new.levels = TRUE)', fit, method))
FROM pred_new GROUP BY fit, method ORDER BY fit, method;
SELECT cmp_ok(max(abs(our_pop - pop)) / max(abs(pop)), '<=', 2e-6::float8,
			  format('%s %s: population predictions within 2e-6 of lme4''s predict(re.form = NA)', fit, method))
FROM pred_new GROUP BY fit, method ORDER BY fit, method;

-- (2) the training rows against lme4's fitted(), within the agreement tiers
SELECT is(count(p.pred)::int, count(*)::int, format('%s %s: every fitted value of lme4 has ours', r.fit, r.method))
FROM ref r LEFT JOIN pred_train p ON p.fit = r.fit AND p.method = r.method AND p.rn = r.level::int
WHERE r.run = 'default' AND r.kind = 'predict' GROUP BY r.fit, r.method ORDER BY r.fit, r.method;
SELECT cmp_ok(max(abs(p.pred - r.value)) / max(abs(r.value)), '<=', pg_temp.tol('default', r.fit, 'predict'),
			  format('%s %s: fitted values within %s of lme4''s', r.fit, r.method, pg_temp.tol('default', r.fit, 'predict')))
FROM ref r JOIN pred_train p ON p.fit = r.fit AND p.method = r.method AND p.rn = r.level::int
WHERE r.run = 'default' AND r.kind = 'predict' GROUP BY r.fit, r.method ORDER BY r.fit, r.method;

-- (3) lmm_predict is X beta + Z b of lmm_fixef and lmm_ranef
SELECT cmp_ok(max(abs(pred - hand) / abs(hand)), '<=', 1e-13::float8,
			  format('%s: lmm_predict equals X beta + Z b from lmm_fixef and lmm_ranef', fit))
FROM by_hand GROUP BY fit ORDER BY fit;

-- (4) residuals are y minus the conditional prediction
SELECT is(max(abs(resid - (y - pred))), 0::float8, 'lmm_residual is y - lmm_predict') FROM pred_train;

-- (5) lmm_blup is lmm_ranef, term by term, for every level of every fit
SELECT is(count(*) FILTER (WHERE b IS DISTINCT FROM r.estimate)::int, 0,
		  'lmm_blup(m, level, term) equals lmm_ranef for every level and term')
FROM fits f, lmm_ranef(f.m) r,
	LATERAL (SELECT CASE WHEN f.fit = 'singular' THEN lmm_blup(f.m, r.level::int, r.term)
				ELSE lmm_blup(f.m, r.level, r.term) END AS b) l;

-- (6) integer keys: the key itself, its text, and the join on level = key::text
SELECT is(lmm_blup(m, 3), lmm_blup(m, '3'::text), 'an integer key and its text find the same level')
FROM fits WHERE fit = 'singular' AND method = 'REML';
SELECT is(lmm_blup(m, 3), lmm_blup(m, '+03'::text), 'a key passed as text is read as the key type')
FROM fits WHERE fit = 'singular' AND method = 'REML';
SELECT is(lmm_predict(m, ARRAY[0.5], '3'), lmm_predict(m, ARRAY[0.5], 3), 'an untyped literal key works')
FROM fits WHERE fit = 'singular' AND method = 'REML';
SELECT is(lmm_blup(m, '308'::varchar, 'Days'), lmm_blup(m, '308'::text, 'Days'), 'a varchar key works for a text model')
FROM fits WHERE fit = 'sleep_slope' AND method = 'REML';
SELECT is(count(*) FILTER (WHERE lmm_blup(f.m, s.g) IS DISTINCT FROM r.estimate)::int, 0,
		  'lmm_blup agrees with joining lmm_ranef on level = key::text')
FROM singular s JOIN fits f ON f.fit = 'singular'
JOIN lmm_ranef(f.m) r ON r.level = s.g::text AND r.term = '(Intercept)';
WITH dm AS (SELECT lmm_fit(reaction, ARRAY[days], date '2020-01-01' + subject::int) AS m FROM sleepstudy)
SELECT is(lmm_blup(dm.m, date '2020-01-01' + 308), r.estimate, 'a date-keyed model is scored with date keys')
FROM dm, lmm_ranef(dm.m) r WHERE r.level = (date '2020-01-01' + 308)::text;
SELECT ok(lmm_blup(m, 9999) IS NULL AND lmm_blup(m, '9998'::text) IS NULL,
		  'an unseen level has no BLUP (NULL)')
FROM fits f WHERE (fit, method) IN (('singular', 'REML'));

-- (7) NULL in, NULL out
SELECT ok(lmm_predict(m, ARRAY[NULL::float8], '308'::text) IS NULL, 'a NULL x element gives NULL')
FROM fits WHERE fit = 'sleep_int' AND method = 'REML';
SELECT ok(lmm_predict(m, ARRAY[1.0], NULL::text) IS NULL, 'a NULL group key gives NULL')
FROM fits WHERE fit = 'sleep_int' AND method = 'REML';
SELECT ok(lmm_predict(NULL::lmm_model, ARRAY[1.0]) IS NULL, 'a NULL model gives NULL');
SELECT ok(lmm_residual(m, NULL, ARRAY[1.0], '308'::text) IS NULL, 'a NULL y gives a NULL residual')
FROM fits WHERE fit = 'sleep_int' AND method = 'REML';

-- (8) bad input is a clear error
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[1.0, 2.0])', m), '2202E',
				 'x has 2 elements but the model has 1', 'x of the wrong length')
FROM fits WHERE fit = 'sleep_int' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[1.0], %L::text, ARRAY[1.0, 2.0])', m, '308'), '2202E',
				 'z has 2 elements but the model has 1', 'z of the wrong length')
FROM fits WHERE fit = 'sleep_slope' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[[1.0]])', m), '2202E',
				 'x must be a one-dimensional array, not 2-dimensional', 'a two-dimensional x')
FROM fits WHERE fit = 'sleep_int' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[1.0], 308)', m), '42804',
				 'group key of type integer does not match the model''s key type text', 'a key of another type')
FROM fits WHERE fit = 'sleep_int' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_blup(%L::lmm_model, 3::bigint)', m), '42804',
				 'group key of type bigint does not match the model''s key type integer', 'bigint keys for an integer model')
FROM fits WHERE fit = 'singular' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_blup(%L::lmm_model, %L::text)', m, 'three'), '22P02',
				 NULL, 'a text key that is not an integer, for an integer model')
FROM fits WHERE fit = 'singular' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[1.0], %L::text)', m, '308'), '22023',
				 'the model has random slopes, so the row''s z values are needed', 'a slope model without z')
FROM fits WHERE fit = 'sleep_slope' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_residual(%L::lmm_model, 1.0, ARRAY[1.0], %L::text)', m, '308'), '22023',
				 'the model has random slopes, so the row''s z values are needed', 'a residual of a slope model without z')
FROM fits WHERE fit = 'sleep_slope' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_blup(%L::lmm_model, %L::text, %L)', m, '308', 'Dayz'), '42704',
				 'the model has no random-effect term "Dayz"', 'an unknown term')
FROM fits WHERE fit = 'sleep_slope' AND method = 'REML';
SELECT throws_ok(format('SELECT lmm_predict(%L::lmm_model, ARRAY[]::float8[])', m), '2202E',
				 'x has 0 elements but the model has 2', 'an empty x for a model with covariates')
FROM fits WHERE fit = 'unbalanced' AND method = 'REML';
SELECT throws_ok($$SELECT lmm_predict(lmm_model_in('{}'), ARRAY[1.0])$$, '22P02', NULL,
				 'a malformed model is refused before scoring');

-- (9) the model cache notices a different model in the next row: models
-- stored out of line (3000 groups each, TOASTed), and models made in the query
SELECT cmp_ok(pg_column_size(m), '>', 8192, format('cache model %s is large enough to be stored out of line', k))
FROM cache_models ORDER BY k;
SELECT is(count(*) FILTER (WHERE abs(lmm_predict(c.m, ARRAY[0.5], i % 3000)
									 - (fe.estimate + 0.5 * fx.estimate + r.estimate)) > 1e-12)::int, 0,
		  'alternating stored models row by row: every prediction uses its own row''s model')
FROM generate_series(1, 6000) i
JOIN cache_models c ON c.k = 1 + i % 2
JOIN LATERAL lmm_fixef(c.m) fe ON fe.term = '(Intercept)'
JOIN LATERAL lmm_fixef(c.m) fx ON fx.term = 'x'
JOIN LATERAL lmm_ranef(c.m) r ON r.level = (i % 3000)::text;
WITH made AS MATERIALIZED (
	SELECT method, lmm_fit(reaction, ARRAY[days], subject, 'method=' || method) AS m
	FROM sleepstudy, (VALUES ('reml'), ('ml')) v(method) GROUP BY method
)
SELECT is(count(*) FILTER (WHERE lmm_predict(made.m, ARRAY[s.days], s.subject)
								 IS DISTINCT FROM lmm_predict(f.m, ARRAY[s.days], s.subject))::int, 0,
		  'alternating models computed in the query give the same predictions as the stored ones')
FROM sleepstudy s, made JOIN fits f ON f.fit = 'sleep_int' AND f.method = upper(made.method);

SELECT * FROM finish();
ROLLBACK;
