-- statement_timeout stops a long final solve promptly: the fit below needs
-- about 20 s here (300,000 groups with three correlated random effects),
-- the timeout fires at 3 s, and the statement ends well before 12 s.
--
-- Every bound below is generous enough for a machine whose cores are busy
-- with other work (a stop takes well under a second on an idle one), and
-- far below what the uninterrupted statement takes.  A cancel is counted
-- once per client backend: a parallel plan's workers stop with their
-- leader, and whether the plan is parallel does not matter here.
CREATE TABLE big AS
SELECT (i % 300000) AS g, (i % 7)::float8 AS x1, ((i * 13) % 11)::float8 AS x2,
	((i * 31) % 101)::float8 + (i % 300000) % 17 AS y
FROM generate_series(1, 1200000) i;
SET statement_timeout = '3s';
SELECT clock_timestamp() AS t0 \gset
SELECT lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1, x2]) FROM big;
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '12 s' AS stopped_promptly;
SELECT 'still alive' AS server;

-- pg_cancel_backend() from another session stops it the same way
CREATE EXTENSION dblink;
SELECT dblink_connect('bg', format('host=%s port=%s dbname=%s',
	split_part(current_setting('unix_socket_directories'), ',', 1),
	current_setting('port'), current_database())) AS connected;
SELECT dblink_send_query('bg', 'SELECT lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1, x2]) FROM big') AS sent;
SELECT pg_sleep(3);
SELECT clock_timestamp() AS t1 \gset
SELECT count(pg_cancel_backend(pid)) AS cancelled FROM pg_stat_activity
WHERE query LIKE 'SELECT lmm_fit(y, ARRAY[x1, x2], g%'
	AND backend_type = 'client backend' AND pid <> pg_backend_pid();
SELECT * FROM dblink_get_result('bg') AS r(m text);
SELECT clock_timestamp() - :'t1'::timestamptz < interval '8 s' AS cancelled_promptly;
SELECT dblink_disconnect('bg');
-- interrupts that are not cancels (here the client-connection check) do
-- not stop or restart the fit
SET client_connection_check_interval = '100ms';
SET statement_timeout = '120s';
SELECT converged FROM lmm_summary((SELECT lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1, x2]) FROM big WHERE g < 30000));
RESET statement_timeout;
RESET client_connection_check_interval;
SELECT 'still alive' AS server;

-- the scan stops as promptly: lmm_fit, lmm_fit_terms and lmm() over 24
-- million rows (about 20 s of scanning) end within seconds of a 1 s
-- statement_timeout
SET statement_timeout = '1s';
SELECT clock_timestamp() AS t2 \gset
SELECT lmm_fit(y, ARRAY[x1, x2], g) FROM big, generate_series(1, 20);
SELECT clock_timestamp() - :'t2'::timestamptz < interval '6 s' AS lmm_fit_scan_stopped;
SELECT clock_timestamp() AS t3 \gset
SELECT lmm_fit_terms(y, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0],
	'{"x": ["(Intercept)", "x1"], "terms": [{"group": "g", "z": ["(Intercept)"]}]}')
FROM big, generate_series(1, 20);
SELECT clock_timestamp() - :'t3'::timestamptz < interval '6 s' AS lmm_fit_terms_scan_stopped;
CREATE VIEW big20 AS SELECT big.* FROM big, generate_series(1, 20);
SELECT clock_timestamp() AS t4 \gset
SELECT lmm('y ~ x1 + (1 | g)', 'big20');
SELECT clock_timestamp() - :'t4'::timestamptz < interval '6 s' AS lmm_scan_stopped;
RESET statement_timeout;
-- and at pg_cancel_backend() from another session, one second into the scan
-- (the leader and any parallel workers)
SELECT dblink_connect('bg', format('host=%s port=%s dbname=%s',
	split_part(current_setting('unix_socket_directories'), ',', 1),
	current_setting('port'), current_database())) AS connected;
SELECT dblink_send_query('bg', 'SELECT lmm_fit(y, ARRAY[x1, x2], g) IS NULL FROM big20') AS sent;
SELECT pg_sleep(1);
SELECT clock_timestamp() AS t7 \gset
SELECT count(pg_cancel_backend(pid)) AS cancelled FROM pg_stat_activity
WHERE query LIKE 'SELECT lmm_fit(y, ARRAY[x1, x2], g) IS NULL FROM big20%'
	AND backend_type = 'client backend' AND pid <> pg_backend_pid();
SELECT * FROM dblink_get_result('bg') AS r(m bool);
SELECT clock_timestamp() - :'t7'::timestamptz < interval '5 s' AS scan_cancelled_promptly;
SELECT dblink_disconnect('bg');
DROP VIEW big20;

-- and lmm()'s final solve (three correlated random effects per group: the
-- scan takes about 1.5 s, the solve 40 s) stops at a 3 s statement_timeout
-- and at pg_cancel_backend()
SET statement_timeout = '3s';
SELECT clock_timestamp() AS t5 \gset
SELECT lmm('y ~ x1 + x2 + (x1 + x2 | g)', 'big');
SELECT clock_timestamp() - :'t5'::timestamptz < interval '10 s' AS lmm_solve_stopped;
RESET statement_timeout;
SELECT dblink_connect('bg', format('host=%s port=%s dbname=%s',
	split_part(current_setting('unix_socket_directories'), ',', 1),
	current_setting('port'), current_database())) AS connected;
SELECT dblink_send_query('bg', 'SELECT lmm(''y ~ x1 + x2 + (x1 + x2 | g)'', ''big'') IS NULL') AS sent;
SELECT pg_sleep(3);
SELECT clock_timestamp() AS t6 \gset
SELECT count(pg_cancel_backend(pid)) AS cancelled FROM pg_stat_activity
WHERE query LIKE 'SELECT lmm(''y ~ x1 + x2 + (x1 + x2 | g)''%'
	AND backend_type = 'client backend' AND pid <> pg_backend_pid();
SELECT * FROM dblink_get_result('bg') AS r(m bool);
SELECT clock_timestamp() - :'t6'::timestamptz < interval '5 s' AS lmm_cancelled_promptly;
SELECT dblink_disconnect('bg');
SELECT 'still alive' AS server;
