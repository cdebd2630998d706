-- Scoring models with several random-effects terms: the README's statements
-- verbatim (on 10_formula's tables), then checks: numbers against lme4's
-- predict(), how the overloads resolve, one-term models through the keys
-- form, models without an intercept, and scoring in parallel workers.
-- Agreement with lme4 on grids of new rows is in test/pgtap/score_terms.sql.
SET extra_float_digits = 0;
\o /dev/null
-- models of several grouping factors are stored and scored like any other
CREATE TABLE formula_models (name text PRIMARY KEY, m lmm_model NOT NULL);
INSERT INTO formula_models VALUES
    ('penicillin', lmm('diameter ~ 1 + (1 | plate) + (1 | sample)', 'penicillin')),
    ('pastes',     lmm('strength ~ 1 + (1 | batch/cask)', 'pastes')),
    ('ratings',    lmm('y ~ x + (x | a) + (1 | b)', 'ratings'));
-- the terms, in the order that keys and z follow: lmm_varcorr's (lme4's)
SELECT grp, term1 FROM lmm_varcorr((SELECT m FROM formula_models WHERE name = 'ratings'))
WHERE term2 IS NULL AND grp <> 'Residual';
--  a | (Intercept)
--  a | x
--  b | (Intercept)
-- one key per term, as text[]: the fixed part plus every term's effect
SELECT p.*, lmm_predict(m.m, ARRAY[]::float8[], ARRAY[p.plate, p.sample]) AS predicted
FROM penicillin p, formula_models m WHERE m.name = 'penicillin';
-- random slopes: z holds every term's columns but its intercept, term after term
SELECT r.*, lmm_predict(m.m, ARRAY[r.x], ARRAY[r.a, r.b], ARRAY[r.x]) AS predicted
FROM ratings r, formula_models m WHERE m.name = 'ratings';
-- nested factors: a level of cask:batch is 'cask:batch', as lmm_ranef shows it
SELECT s.*, lmm_residual(m.m, s.strength, ARRAY[]::float8[], ARRAY[s.cask || ':' || s.batch, s.batch]) AS residual
FROM pastes s, formula_models m WHERE m.name = 'pastes';
-- a level that a term never saw adds nothing (lme4's allow.new.levels = TRUE)
SELECT lmm_predict(m, ARRAY[]::float8[], ARRAY['a', 'a new sample'])
FROM formula_models WHERE name = 'penicillin';
-- a BLUP: name the grouping factor, and the column for a slope
SELECT lmm_blup(m, 'F', 'sample') FROM formula_models WHERE name = 'penicillin';
SELECT lmm_blup(m, 'a01', 'a', 'x') FROM formula_models WHERE name = 'ratings';
\o

-- Penicillin (REML): plate a with sample F, with a new sample, both new,
-- and the population prediction; lme4's predict(allow.new.levels = TRUE)
-- gives 20.7730250940, 23.7767692635, 22.9722222222 (test/data/predict_terms.ref.csv)
SELECT round(lmm_predict(m, '{}', ARRAY['a', 'F'])::numeric, 6) AS a_f,
	round(lmm_predict(m, '{}', ARRAY['a', 'new'])::numeric, 6) AS a_new,
	round(lmm_predict(m, '{}', ARRAY['new', 'new'])::numeric, 6) AS new_new,
	round(lmm_predict(m, '{}')::numeric, 6) AS population,
	lmm_predict(m, '{}', ARRAY['new', 'new']) = lmm_predict(m, '{}') AS new_is_population
FROM formula_models WHERE name = 'penicillin';
-- ratings (REML) at x = 5.5 for a01, b01; lme4: 20.0898741735
SELECT round(lmm_predict(m, ARRAY[5.5], ARRAY['a01', 'b01'], ARRAY[5.5])::numeric, 6) AS a01_b01
FROM formula_models WHERE name = 'ratings';
-- the README's examples: every row scored, residuals are y minus predictions
SELECT count(*) AS rows,
	count(lmm_predict(m.m, ARRAY[r.x], ARRAY[r.a, r.b], ARRAY[r.x])) AS predicted,
	max(abs(lmm_residual(m.m, r.y, ARRAY[r.x], ARRAY[r.a, r.b], ARRAY[r.x])
			- (r.y - lmm_predict(m.m, ARRAY[r.x], ARRAY[r.a, r.b], ARRAY[r.x])))) AS residual_error
FROM ratings r, formula_models m WHERE m.name = 'ratings';
SELECT round(lmm_blup(m, 'F', 'sample')::numeric, 6) AS sample_f,
	round(lmm_blup(m, 'F', 'sample', '(Intercept)')::numeric, 6) AS sample_f_intercept,
	lmm_blup(m, 'F', 'plate') AS plate_f
FROM formula_models WHERE name = 'penicillin';

-- the overloads: a text[] of keys (ARRAY of literals or of text columns)
-- takes the several-term form; an untyped literal is one key; varchar[]
-- needs a cast
SELECT lmm_predict(m, '{}', ARRAY['a', 'F']) = lmm_predict(m, '{}', '{a,F}'::text[]) AS literal_array,
	lmm_predict(m, '{}', ARRAY['a', 'F']) = lmm_predict(m, '{}', ARRAY['a'::varchar, 'F']::text[]) AS cast_varchar
FROM formula_models WHERE name = 'penicillin';
\set VERBOSITY default
SELECT lmm_predict(m, '{}', '{a,F}') FROM formula_models WHERE name = 'penicillin';
SELECT lmm_predict(m, '{}', ARRAY['a'::varchar, 'F']) FROM formula_models WHERE name = 'penicillin';
SELECT lmm_predict(m, '{}', ARRAY['a', 'F', 'x']) FROM formula_models WHERE name = 'penicillin';
SELECT lmm_blup(m, 'F') FROM formula_models WHERE name = 'penicillin';
\set VERBOSITY terse

-- a one-term model takes the keys form too, with its key read as its key
-- type (here integer), and gives what the one-key form gives
WITH s AS (SELECT lmm_fit(reaction, ARRAY[days], subject::int, ARRAY[days]) AS m FROM sleepstudy)
SELECT count(*) AS rows,
	count(*) FILTER (WHERE lmm_predict(s.m, ARRAY[t.days], ARRAY[t.subject], ARRAY[t.days])
					 = lmm_predict(s.m, ARRAY[t.days], t.subject::int, ARRAY[t.days])) AS same
FROM sleepstudy t, s;
-- (days || subject): two terms on one factor, so the key twice
WITH s AS (SELECT lmm('reaction ~ days + (days || subject)', 'sleepstudy') AS m)
SELECT round(lmm_predict(m, ARRAY[3], ARRAY['308', '308'], ARRAY[3])::numeric, 6) AS subject_308_day_3,
	round((SELECT sum(estimate * CASE term WHEN 'days' THEN 3 ELSE 1 END) FROM lmm_fixef(m))::numeric
		  + lmm_blup(m, '308', 'subject')::numeric + 3 * lmm_blup(m, '308', 'subject.1')::numeric, 6) AS by_hand
FROM s;

-- a model without an intercept: x and z hold every column
WITH s AS (SELECT lmm('y ~ 0 + x + (0 + x | a) + (1 | b)', 'ratings') AS m)
SELECT round(lmm_predict(m, ARRAY[2.0], ARRAY['a01', 'b01'], ARRAY[2.0])::numeric, 6) AS predicted,
	round((2 * (SELECT estimate FROM lmm_fixef(m)) + 2 * lmm_blup(m, 'a01', 'a')
		   + lmm_blup(m, 'b01', 'b'))::numeric, 6) AS by_hand
FROM s;
WITH s AS (SELECT lmm('y ~ 0 + x + (1 | a)', 'ratings') AS m)
SELECT round(lmm_predict(m, ARRAY[2.0], 'a01'::text)::numeric, 6) AS one_term_predicted,
	round((2 * (SELECT estimate FROM lmm_fixef(m)) + lmm_blup(m, 'a01'))::numeric, 6) AS by_hand
FROM s;

-- scoring in parallel workers equals scoring in the leader
\i test/helpers/plan.psql
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT pg_temp.plan($$CREATE TABLE scored AS
	SELECT r.*, lmm_predict(m.m, ARRAY[r.x], ARRAY[r.a, r.b], ARRAY[r.x]) AS predicted
	FROM ratings r, formula_models m WHERE m.name = 'ratings'$$);
SET max_parallel_workers_per_gather = 0;
SELECT count(*) AS rows,
	count(*) FILTER (WHERE s.predicted = lmm_predict(m.m, ARRAY[s.x], ARRAY[s.a, s.b], ARRAY[s.x])) AS same
FROM scored s, formula_models m WHERE m.name = 'ratings';
DROP TABLE scored, formula_models;
