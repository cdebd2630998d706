-- A model's levels are in key order whatever order the rows came in:
-- integer keys by value.  Statistics read back from storage have no index
-- of their keys, so their order is found again at the fit: keys already
-- in order are kept, keys dense in a range are placed by value, others
-- (sparse, or spanning the whole of bigint) are sorted.  Every path gives
-- the levels in numeric order and the very model the rows' aggregate gives.
SET extra_float_digits = 0;
CREATE TABLE lo AS
SELECT i, k, sin(i * 0.7) AS x,
	1 + 0.4 * sin(i * 0.7) + sin(k * 1.3) + 0.5 * cos(i * 2.1) AS y,
	(i * 7919) % 3301 AS shuffle
FROM (SELECT i, i % 1100 + 1 AS k FROM generate_series(1, 3300) i) s;

CREATE FUNCTION pg_temp.ordered(m lmm_model) RETURNS boolean LANGUAGE sql AS $$
	SELECT bool_and(n > p) FROM (SELECT level::numeric AS n, lag(level::numeric) OVER (ORDER BY ord) AS p
		FROM lmm_ranef(m) WITH ORDINALITY r(grp, level, term, estimate, cond_sd, ord)) z WHERE p IS NOT NULL $$;

CREATE TABLE lo_fits AS
SELECT 'dense, shuffled' AS keys, lmm_fit(y, ARRAY[x], k ORDER BY shuffle) AS rows,
	lmm_fit(lmm_stats(y, ARRAY[x], k ORDER BY shuffle)) AS stored FROM lo
UNION ALL SELECT 'sparse, increasing', lmm_fit(y, ARRAY[x], k * 1000 ORDER BY k),
	lmm_fit(lmm_stats(y, ARRAY[x], k * 1000 ORDER BY k)) FROM lo
UNION ALL SELECT 'sparse, decreasing', lmm_fit(y, ARRAY[x], k * 100003 ORDER BY k DESC),
	lmm_fit(lmm_stats(y, ARRAY[x], k * 100003 ORDER BY k DESC)) FROM lo
UNION ALL SELECT 'negative, shuffled', lmm_fit(y, ARRAY[x], -k - 5 ORDER BY shuffle),
	lmm_fit(lmm_stats(y, ARRAY[x], -k - 5 ORDER BY shuffle)) FROM lo
UNION ALL SELECT 'smallint, shuffled', lmm_fit(y, ARRAY[x], (k - 600)::int2 ORDER BY shuffle),
	lmm_fit(lmm_stats(y, ARRAY[x], (k - 600)::int2 ORDER BY shuffle)) FROM lo
UNION ALL SELECT 'bigint past integer, shuffled', lmm_fit(y, ARRAY[x], k + 5000000000000 ORDER BY shuffle),
	lmm_fit(lmm_stats(y, ARRAY[x], k + 5000000000000 ORDER BY shuffle)) FROM lo
UNION ALL SELECT 'bigint extremes', lmm_fit(y, ARRAY[x], g ORDER BY shuffle), lmm_fit(lmm_stats(y, ARRAY[x], g ORDER BY shuffle))
	FROM (SELECT *, CASE k WHEN 1 THEN -9223372036854775808 WHEN 2 THEN 9223372036854775807 ELSE k END AS g FROM lo) e
UNION ALL SELECT 'integer text of a formula, dense', lmm_fit_terms(y, ARRAY[1, x], ARRAY[k::text], ARRAY[1],
		'{"x": ["(Intercept)", "x"], "terms": [{"group": "k", "z": ["(Intercept)"], "key_type": "integer"}]}' ORDER BY shuffle),
	lmm_fit(lmm_stats_terms(y, ARRAY[1, x], ARRAY[k::text], ARRAY[1],
		'{"x": ["(Intercept)", "x"], "terms": [{"group": "k", "z": ["(Intercept)"], "key_type": "integer"}]}' ORDER BY shuffle)) FROM lo;

SELECT keys, pg_temp.ordered(stored) AS ordered,
	lmm_model_send(stored) = lmm_model_send(rows) AS same_model,
	(SELECT string_agg(level, ',' ORDER BY ord) FROM lmm_ranef(stored) WITH ORDINALITY r(grp, level, term, estimate, cond_sd, ord)
	 WHERE ord <= 3) AS first_levels
FROM lo_fits;
-- one set of numbers whatever the keys: the variance of the groups
SELECT count(DISTINCT round((lmm_summary(stored)).criterion::numeric, 8)) AS criteria FROM lo_fits;
