-- The README's pg_cron schedule for nightly statistics, as written: the job
-- is registered with pg_cron, and its command, run as pg_cron would run it,
-- adds yesterday's statistics (idempotently) so that a fit over the stored
-- days equals the fit over the raw rows.
\set QUIET 1
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
CREATE EXTENSION IF NOT EXISTS lmm;
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT plan(6);

CREATE TABLE events AS
SELECT i AS id, current_date - (i % 3) AS day, i % 25 AS g, (i * 37 % 100) / 10.0 AS x1,
	cos(i * 0.5) AS x2, 1 + 0.3 * ((i * 37 % 100) / 10.0) + sin((i % 25) * 2.1) + sin(i * 1.3) AS y
FROM generate_series(1, 3000) i;
CREATE TABLE daily_stats (day date PRIMARY KEY, s lmm_stats);
INSERT INTO daily_stats SELECT current_date - 2, lmm_stats(y, ARRAY[x1, x2], g) FROM events WHERE day = current_date - 2;

-- README, section "Incremental fits": the nightly job
SELECT cron.schedule('lmm-nightly-stats', '10 0 * * *', $$
    INSERT INTO daily_stats
    SELECT current_date - 1, lmm_stats(y, ARRAY[x1, x2], g)
    FROM events WHERE day = current_date - 1
    ON CONFLICT (day) DO UPDATE SET s = EXCLUDED.s
$$) \gset

SELECT is(schedule, '10 0 * * *', 'pg_cron holds the nightly job') FROM cron.job WHERE jobname = 'lmm-nightly-stats';
SELECT lives_ok(command, 'the job''s command runs') FROM cron.job WHERE jobname = 'lmm-nightly-stats';
SELECT lives_ok(command, 'and runs again (a rerun replaces the day)') FROM cron.job WHERE jobname = 'lmm-nightly-stats';
SELECT is(count(*)::int, 2, 'two days stored, one row per day') FROM daily_stats;
SELECT is((lmm_summary(lmm_fit(lmm_merge(s)))).n_obs, 2000::bigint, 'the stored days cover 2000 rows') FROM daily_stats;
SELECT cmp_ok(max(abs(a.estimate - b.estimate) / abs(b.estimate)), '<', 1e-10::float8,
	'fit from the stored days equals the fit from their rows')
FROM lmm_fixef((SELECT lmm_fit(lmm_merge(s)) FROM daily_stats)) a
JOIN lmm_fixef((SELECT lmm_fit(y, ARRAY[x1, x2], g) FROM events WHERE day >= current_date - 2 AND day < current_date)) b
	USING (term);

SELECT * FROM finish();
ROLLBACK;
