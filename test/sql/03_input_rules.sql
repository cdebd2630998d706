-- Which rows are skipped, and the errors for bad input.
CREATE TABLE r (y float8, x1 float8, x2 float8, g int, z float8);
INSERT INTO r SELECT reaction, days, (days * 7) % 5, subject::int, days FROM sleepstudy;

-- NULL y, NULL g, NULL array, NULL element: skipped and counted
SELECT n_obs, n_dropped FROM lmm_summary((
	SELECT lmm_fit(y, ARRAY[x1, x2], g) FROM (
		SELECT * FROM r
		UNION ALL SELECT NULL, 1, 1, 308, 1
		UNION ALL SELECT 250, 1, 1, NULL, 1
		UNION ALL SELECT 250, NULL, 1, 308, 1) s));
SELECT n_obs, n_dropped FROM lmm_summary((
	SELECT lmm_fit(y, CASE WHEN g = 308 AND x1 = 0 THEN NULL ELSE ARRAY[x1] END, g, ARRAY[z]) FROM r));
SELECT n_obs, n_dropped FROM lmm_summary((
	SELECT lmm_fit(y, ARRAY[x1], g, CASE WHEN x1 = 9 THEN NULL::float8[] ELSE ARRAY[z] END) FROM r));
-- skipped rows leave the fit as if they were absent
SELECT (SELECT array_agg(estimate) FROM lmm_fixef(a)) = (SELECT array_agg(estimate) FROM lmm_fixef(b)) AS same
FROM (SELECT lmm_fit(y, ARRAY[x1], g) AS a FROM r) s1,
	 (SELECT lmm_fit(y, ARRAY[x1], g) AS b FROM (SELECT * FROM r UNION ALL SELECT NULL, 3, 3, 309, 3) t) s2;

-- no rows, or no usable rows: NULL
SELECT lmm_fit(y, ARRAY[x1], g) IS NULL AS no_rows FROM r WHERE false;
SELECT lmm_fit(y, ARRAY[x1], g) IS NULL AS all_null FROM (SELECT NULL::float8 AS y, x1, g FROM r) s;

-- integer and numeric arrays work by implicit cast; any hashable key type
SELECT round(estimate::numeric, 6) FROM lmm_fixef((SELECT lmm_fit(y, ARRAY[x1::int], g::bigint) FROM r)) WHERE term = 'x1';
SELECT round(estimate::numeric, 6) FROM lmm_fixef((SELECT lmm_fit(y, ARRAY[x1::numeric], g::text) FROM r)) WHERE term = 'x1';
SELECT round(estimate::numeric, 6) FROM lmm_fixef((SELECT lmm_fit(y, ARRAY[x1], md5(g::text)::uuid) FROM r)) WHERE term = 'x1';
SELECT round(estimate::numeric, 6) FROM lmm_fixef((SELECT lmm_fit(y, ARRAY[x1], date '2020-01-01' + g) FROM r)) WHERE term = 'x1';
CREATE TYPE key_pair AS (a int, b text);
SELECT round(estimate::numeric, 6) FROM lmm_fixef((SELECT lmm_fit(y, ARRAY[x1], ROW(g, 'k')::key_pair) FROM r)) WHERE term = 'x1';
SELECT level FROM lmm_ranef((SELECT lmm_fit(y, ARRAY[x1], ROW(g, 'k')::key_pair) FROM r)) LIMIT 1;
SELECT level FROM lmm_ranef((SELECT lmm_fit(y, ARRAY[x1], CASE WHEN g = 308 THEN '' ELSE 'ü' || g END) FROM r)) LIMIT 2;
-- integer keys are ordered as integers, text keys as text
SELECT array_agg(level) FROM (SELECT level FROM lmm_ranef((SELECT lmm_fit(y, ARRAY[x1], g % 12) FROM r)) LIMIT 4) s;

-- non-finite values: an error naming the argument and position
SELECT lmm_fit(CASE WHEN x1 = 3 THEN 'NaN' ELSE y END, ARRAY[x1], g) FROM r;
SELECT lmm_fit(y, ARRAY[x1, CASE WHEN x1 = 3 THEN 'Infinity' ELSE x2 END], g) FROM r;
SELECT lmm_fit(y, ARRAY[x1], g, ARRAY[CASE WHEN x1 = 3 THEN '-Infinity' ELSE z END]) FROM r;
-- array shape
SELECT lmm_fit(y, CASE WHEN g = 310 THEN ARRAY[x1] ELSE ARRAY[x1, x2] END, g) FROM r;
SELECT lmm_fit(y, ARRAY[x1], g, CASE WHEN g = 310 THEN ARRAY[z, z] ELSE ARRAY[z] END) FROM r;
SELECT lmm_fit(y, ARRAY[[x1, x2]], g) FROM r;
-- identifiability
SELECT lmm_fit(y, ARRAY[x1], 1) FROM r;
SELECT lmm_fit(y, ARRAY[x1], g) FROM (SELECT y, x1, row_number() OVER () AS g FROM r) s;
SELECT lmm_fit(y, ARRAY[x1], g % 100, ARRAY[x1, x2]) FROM (SELECT y, x1, x2, row_number() OVER () AS g FROM r) s;
SELECT lmm_fit(7.5, ARRAY[x1], g) FROM r;
SELECT lmm_fit(y, ARRAY[x1, 2.0], g, 'x_names=days,two') FROM r;
SELECT lmm_fit(y, ARRAY[x1, x2, x1 + 2 * x2], g) FROM r;
SELECT lmm_fit(3 + 2 * x1 - x2, ARRAY[x1, x2], g) FROM r;
-- more random effects than the optimizer is allowed
SELECT lmm_fit(y, ARRAY[x1], g, array_fill(x1, ARRAY[20])) FROM r;
-- options
SELECT lmm_fit(y, ARRAY[x1, x2], g, 'x_names=a,,b') FROM r;
SELECT lmm_fit(y, ARRAY[x1], g, 'method=bayes') FROM r;
SELECT lmm_fit(y, ARRAY[x1], g, 'methd=ml') FROM r;
SELECT lmm_fit(y, ARRAY[x1], g, 'method=ml, method=reml') FROM r;
SELECT lmm_fit(y, ARRAY[x1], g, 'x_names=a,b') FROM r;
SELECT lmm_fit(y, ARRAY[x1], g, 'z_names=a') FROM r;
SELECT lmm_fit(y, ARRAY[x1], g, 'ml') FROM r;
SELECT lmm_fit(y, ARRAY[x1], g, CASE WHEN g = 310 THEN 'method=ml' ELSE 'method=reml' END) FROM r;
-- a key type without hashing
SELECT lmm_fit(y, ARRAY[x1], point(g, g)) FROM r;
-- integer keys come out in numeric order (negative, zero, beyond int4), as text keys in text order
WITH d AS (SELECT i, (ARRAY[-5, 3, -100, 1099511627776, 0, 42])[1 + i % 6] AS k, i % 7 + (i * 0.37) % 1 AS y
			 FROM generate_series(1, 60) i)
SELECT t, string_agg(level, ',' ORDER BY ord) AS levels
FROM (SELECT 'bigint' AS t, lmm_fit(y, ARRAY[]::float8[], k::bigint) AS m FROM d
	  UNION ALL SELECT 'integer', lmm_fit(y, ARRAY[]::float8[], (k % 1000)::int) FROM d
	  UNION ALL SELECT 'smallint', lmm_fit(y, ARRAY[]::float8[], (k % 1000)::smallint) FROM d
	  UNION ALL SELECT 'text', lmm_fit(y, ARRAY[]::float8[], k::text) FROM d) f,
	lmm_ranef(m) WITH ORDINALITY r(grp, level, term, value, se, ord)
GROUP BY t ORDER BY t;
SELECT 'still alive' AS server;
