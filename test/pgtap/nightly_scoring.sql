-- The README's pg_cron job that refits nightly and rescores, as written: the
-- job is registered with pg_cron, and its command, run as pg_cron would run
-- it, replaces the stored model with a fit of today's rows and stores every
-- row's prediction from that new model.
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lmm;
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT plan(7);

CREATE TABLE patients AS
SELECT i AS id, i % 30 AS doctor_id, 30 + i % 47 AS age, (i % 3 = 0)::int AS married, i % 2 AS sex,
	10 - 0.05 * (30 + i % 47) + 0.8 * (i % 3 = 0)::int - 0.5 * (i % 2) + sin((i % 30) * 1.9) + sin(i * 0.7) AS mobility
FROM generate_series(1, 900) i;
ALTER TABLE patients ADD COLUMN predicted float8;
CREATE TABLE fitted_models (
    name      text PRIMARY KEY,
    fitted_at timestamptz NOT NULL DEFAULT now(),
    m         lmm_model NOT NULL
);

-- README, section "Use the model": the nightly job
SELECT cron.schedule('lmm-nightly-refit', '30 1 * * *', $$
    WITH refit AS (
        INSERT INTO fitted_models (name, m)
        SELECT 'mobility', lmm_fit(mobility, ARRAY[age, married, sex], doctor_id,
                                   'x_names=age,married,sex, g_name=doctor')
        FROM patients
        ON CONFLICT (name) DO UPDATE SET m = EXCLUDED.m, fitted_at = now()
        RETURNING m
    )
    UPDATE patients p SET predicted = lmm_predict(r.m, ARRAY[p.age, p.married, p.sex], p.doctor_id)
    FROM refit r
$$) \gset

SELECT is(schedule, '30 1 * * *', 'pg_cron holds the nightly refit') FROM cron.job WHERE jobname = 'lmm-nightly-refit';
SELECT lives_ok(command, 'the job''s command runs (first fit)') FROM cron.job WHERE jobname = 'lmm-nightly-refit';
SELECT is(count(predicted)::int, 900, 'every row is scored') FROM patients;
SELECT is(max(abs(p.predicted - lmm_predict(m.m, ARRAY[p.age, p.married, p.sex], p.doctor_id))), 0::float8,
	'the stored predictions are the stored model''s')
FROM patients p, fitted_models m;

-- a day of new rows, then the job again: one model, refitted, and rescored
INSERT INTO patients (id, doctor_id, age, married, sex, mobility)
SELECT i, i % 31, 30 + i % 41, (i % 4 = 0)::int, i % 2, 9 + sin((i % 31) * 1.3) + cos(i * 0.9)
FROM generate_series(901, 1200) i;
SELECT lives_ok(command, 'the job''s command runs again (refit)') FROM cron.job WHERE jobname = 'lmm-nightly-refit';
SELECT is((lmm_summary(m)).n_obs, 1200::bigint, 'the one stored model is refitted on every row') FROM fitted_models;
SELECT is(max(abs(p.predicted - lmm_predict(m.m, ARRAY[p.age, p.married, p.sex], p.doctor_id))), 0::float8,
	'every row, new doctor 30 included, is rescored with the new model')
FROM patients p, fitted_models m;

SELECT * FROM finish();
ROLLBACK;
