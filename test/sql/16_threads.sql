-- The numerical libraries load with a backend's first fit, not with lmm:
-- loading lmm, adding rows and reading models leave OpenBLAS out of the
-- process (its map of memory), a fit brings it in.
\c
LOAD 'lmm';
CREATE FUNCTION pg_temp.has_openblas() RETURNS boolean LANGUAGE sql AS
	$$ SELECT pg_read_file('/proc/self/maps') LIKE '%libopenblas%' $$;
SELECT pg_temp.has_openblas() AS after_load;
SELECT lmm_stats(reaction, ARRAY[days], subject) IS NOT NULL AS stats, pg_temp.has_openblas() AS after_stats
FROM sleepstudy;
SELECT lmm_fit(reaction, ARRAY[days], subject) IS NOT NULL AS fit FROM sleepstudy;
SELECT pg_temp.has_openblas() AS after_fit;

-- lmm.blas_threads (default 1): every BLAS call runs on the backend's own
-- thread.  OpenBLAS starts a pool of threads when it loads, whose idle
-- threads spin; lmm stops the pool as it loads OpenBLAS, so a backend runs
-- no other thread.  With one BLAS thread none starts, or runs, during a
-- fit whose dense block (600 levels of a second crossed factor) OpenBLAS
-- would otherwise split between threads, so a busy machine loses no CPU
-- to them.
SET max_parallel_workers_per_gather = 0;
SHOW lmm.blas_threads;
SELECT pg_backend_pid() AS pid \gset
\setenv LMM_PID :pid
\! bash test/helpers/blas_threads.sh count $LMM_PID
SELECT setseed(0.25);
CREATE TABLE thr AS
SELECT i % 3000 AS a, (i * 7) % 600 AS b, (i % 5)::float8 AS x,
	(i % 3000) % 13 * 0.1 + ((i * 7) % 600) % 11 * 0.2 + random() AS y
FROM generate_series(1, 30000) i;
\! bash test/helpers/blas_threads.sh mark $LMM_PID
CREATE TEMP TABLE thr_fits AS
SELECT 1 AS blas_threads, lmm('y ~ x + (1 | a) + (1 | b)', 'thr') AS m;
SELECT n_groups, converged FROM lmm_summary((SELECT m FROM thr_fits));
\! bash test/helpers/blas_threads.sh check $LMM_PID
\! bash test/helpers/blas_threads.sh count $LMM_PID
-- two BLAS threads: OpenBLAS starts its pool again for the dense block;
-- the same fit to rounding; back at one thread, the pool is stopped again
SET lmm.blas_threads = 2;
INSERT INTO thr_fits SELECT 2, lmm('y ~ x + (1 | a) + (1 | b)', 'thr');
\! bash test/helpers/blas_threads.sh count $LMM_PID
RESET lmm.blas_threads;
\! bash test/helpers/blas_threads.sh count $LMM_PID
SELECT abs((lmm_summary(a.m)).criterion - (lmm_summary(b.m)).criterion) < 1e-8 AS same_criterion
FROM thr_fits a, thr_fits b WHERE a.blas_threads = 1 AND b.blas_threads = 2;
DROP TABLE thr, thr_fits;

-- lmm.fit_threads (default -1: max_parallel_workers_per_gather + 1): a
-- fit's passes over a factor of at least 65,536 levels split between
-- threads.  70,000 groups of 3 rows fit on 1 and on 3 threads: the same
-- estimates, variance components and Satterthwaite df to rounding; the
-- setting's range is checked.
SHOW lmm.fit_threads;
CREATE TABLE thr2 AS
SELECT i / 3 AS g, sin(i) AS x, (i % 3)::float8 AS t,
	1 + 0.5 * sin(i) + sin(i / 3 * 7) + 0.3 * cos(i / 3 * 5) * (i % 3) + cos(i * 11) AS y
FROM generate_series(0, 209999) i;
SET lmm.fit_threads = 1;
CREATE TEMP TABLE fit1 AS SELECT lmm_fit(y, ARRAY[x], g, ARRAY[t]) AS m FROM thr2;
SET lmm.fit_threads = 3;
CREATE TEMP TABLE fit3 AS SELECT lmm_fit(y, ARRAY[x], g, ARRAY[t]) AS m FROM thr2;
RESET lmm.fit_threads;
SELECT (lmm_summary(a.m)).n_groups,
	abs((lmm_summary(a.m)).criterion - (lmm_summary(b.m)).criterion) < 1e-9 * abs((lmm_summary(a.m)).criterion) AS same_criterion
FROM fit1 a, fit3 b;
SELECT fa.term, round(fa.estimate::numeric, 6) AS estimate,
	abs(fa.estimate - fb.estimate) < 1e-9 AS same_estimate,
	abs(fa.df - fb.df) < 1e-6 * fa.df AS same_df
FROM fit1 a, fit3 b, lmm_fixef(a.m) fa JOIN lmm_fixef(b.m) fb USING (term)
ORDER BY fa.term;
SELECT va.grp, va.term1, va.term2,
	abs(va.variance - vb.variance) < 1e-9 * abs(va.variance) AS same_variance
FROM fit1 a, fit3 b, lmm_varcorr(a.m) va JOIN lmm_varcorr(b.m) vb
	ON va.grp IS NOT DISTINCT FROM vb.grp AND va.term1 IS NOT DISTINCT FROM vb.term1
	AND va.term2 IS NOT DISTINCT FROM vb.term2
ORDER BY 1, 2, 3;
SET lmm.fit_threads = 9;
SET lmm.fit_threads = 0;
DROP TABLE thr2;
