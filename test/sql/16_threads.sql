-- lmm.blas_threads (default 1): every BLAS call runs on the backend's own
-- thread.  OpenBLAS starts its pool of threads when lmm.so loads; with one
-- BLAS thread those threads must stay asleep through a fit whose dense
-- block (600 levels of a second crossed factor) OpenBLAS would otherwise
-- split between them, so a busy machine loses no CPU to them spinning.
SET max_parallel_workers_per_gather = 0;
LOAD 'lmm';
SHOW lmm.blas_threads;
SELECT setseed(0.25);
CREATE TABLE thr AS
SELECT i % 3000 AS a, (i * 7) % 600 AS b, (i % 5)::float8 AS x,
	(i % 3000) % 13 * 0.1 + ((i * 7) % 600) % 11 * 0.2 + random() AS y
FROM generate_series(1, 30000) i;
SELECT pg_backend_pid() AS pid \gset
\setenv LMM_PID :pid
SELECT pg_sleep(1);
\! bash test/helpers/blas_threads.sh mark $LMM_PID
SELECT n_groups, converged FROM lmm_summary(lmm('y ~ x + (1 | a) + (1 | b)', 'thr'));
\! bash test/helpers/blas_threads.sh check $LMM_PID
DROP TABLE thr;
