-- Big input (issue 7): a million groups, as many as half the rows, through
-- lmm_fit, lmm() and lmm_stats; the memory of each fit is released when
-- the statement ends; a state past 1 GB is built with the huge-allocation
-- API and refused cleanly when it cannot become a value.
SET extra_float_digits = 0;
SELECT setseed(0.5);
-- 2,000,000 rows, 1,000,000 groups of two rows: group effects with
-- variance 8.3 (sd 2.9), noise with variance 1.33 (sd 1.15)
CREATE TABLE big1m AS
SELECT i % 1000000 AS g, (i % 7)::float8 AS x,
	((i % 1000000) * 7919 % 1000) / 100.0 + 0.3 * (i % 7) + random() * 4 AS y
FROM generate_series(1::bigint, 2000000) i;
ANALYZE big1m;
SET max_parallel_workers_per_gather = 0;

-- the memory this backend holds, and a small fit first so that the caches
-- a first fit fills do not count as growth
CREATE FUNCTION pg_temp.backend_bytes() RETURNS bigint LANGUAGE sql AS $$
	SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;
CREATE TABLE big_warm AS SELECT * FROM big1m WHERE g < 1000;
SELECT n_groups FROM lmm_summary((SELECT lmm_fit(y, ARRAY[x], g) FROM big_warm));
SELECT n_groups FROM lmm_summary(lmm('y ~ x + (1 | g)', 'big_warm'));
SELECT n_groups FROM lmm_summary((SELECT lmm_fit(lmm_stats(y, ARRAY[x], g)) FROM big_warm));
DROP TABLE big_warm;
SELECT pg_temp.backend_bytes() AS before \gset

-- lmm_fit: the sd ratio is about 2.5, sigma about 1.15
SELECT clock_timestamp() AS t0 \gset
SELECT n_obs, n_groups, round(sigma::numeric, 2) AS sigma, round(theta[1]::numeric, 2) AS theta,
	converged
FROM lmm_summary((SELECT lmm_fit(y, ARRAY[x], g) FROM big1m));
SELECT clock_timestamp() - :'t0'::timestamptz < interval '60 s' AS lmm_fit_under_a_minute;
SELECT pg_temp.backend_bytes() - :before < 1048576 AS lmm_fit_memory_released;

-- lmm(), through lmm_fit_terms
SELECT clock_timestamp() AS t1 \gset
SELECT n_obs, n_groups, round(sigma::numeric, 2) AS sigma, round(theta[1]::numeric, 2) AS theta,
	converged
FROM lmm_summary(lmm('y ~ x + (1 | g)', 'big1m'));
SELECT clock_timestamp() - :'t1'::timestamptz < interval '60 s' AS lmm_under_a_minute;
SELECT pg_temp.backend_bytes() - :before < 1048576 AS lmm_memory_released;

-- lmm_stats: a value of a million groups (36 bytes each at p = 2, q = 1),
-- then its fit
CREATE TABLE big_stats AS SELECT lmm_stats(y, ARRAY[x], g) AS s FROM big1m;
SELECT length(lmm_stats_send(s)) / 1000000 AS megabytes FROM big_stats;
SELECT n_obs, n_groups, round(sigma::numeric, 2) AS sigma, round(theta[1]::numeric, 2) AS theta
FROM big_stats, lmm_summary(lmm_fit(s));
SELECT pg_temp.backend_bytes() - :before < 1048576 AS lmm_stats_memory_released;
DROP TABLE big_stats, big1m;

-- a state of 170,000 groups with 31 fixed and 20 random effects holds
-- 1.4 GB of statistics, grown with the huge-allocation API; it cannot
-- become an lmm_stats value (1 GB at most), which is an error saying what
-- to do, and its memory is released all the same
SELECT pg_column_size(lmm_stats(i::float8, array_fill(1.0::float8, ARRAY[30]), i,
	array_fill(1.5::float8, ARRAY[19])))
FROM generate_series(1, 170000) i;
SELECT pg_temp.backend_bytes() - :before < 1048576 AS huge_state_memory_released;
SELECT 'still alive' AS server;
