-- lmm_stats values: incremental fits from stored statistics, exact merges
-- whichever way the rows are split, text and binary round trips, and
-- validation of every input.
SET extra_float_digits = 0;
SELECT setseed(0.29);
CREATE TABLE events AS
SELECT i AS id, current_date - (i % 5) AS day, 'g' || (i % 40) AS g, x1, x2,
	2 + 0.4 * x1 + 0.1 * x2 + e.u + 0.3 * e.v * x1 + random() AS y
FROM (SELECT i, random() * 3 AS x1, random() * 20 AS x2 FROM generate_series(1, 3000) i) s
JOIN (SELECT j, random() AS u, random() AS v FROM generate_series(0, 39) j) e ON e.j = s.i % 40;

-- Largest relative difference of fixed effects, variances and BLUPs (as in 06_parallel).
CREATE FUNCTION pg_temp.maxrel(a lmm_model, b lmm_model) RETURNS float8 LANGUAGE sql AS $$
	SELECT max(abs(x - y) / greatest(scale, 1e-300)) FROM (
		SELECT fa.estimate x, fb.estimate y, abs(fb.estimate) scale
			FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term)
		UNION ALL
		SELECT va.variance, vb.variance, abs(vb.variance) FROM lmm_varcorr(a) va JOIN lmm_varcorr(b) vb
			ON va.grp IS NOT DISTINCT FROM vb.grp AND va.term1 IS NOT DISTINCT FROM vb.term1
				AND va.term2 IS NOT DISTINCT FROM vb.term2
		UNION ALL
		SELECT ra.estimate, rb.estimate, max(abs(rb.estimate)) OVER (PARTITION BY term)
			FROM lmm_ranef(a) ra JOIN lmm_ranef(b) rb USING (grp, level, term)) d $$;

-- The README's incremental example, as written (section "Incremental fits").
CREATE TABLE daily_stats (day date PRIMARY KEY, s lmm_stats);
INSERT INTO daily_stats
SELECT day, lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1], 'x_names=x1,x2, z_names=x1, g_name=g')
FROM events GROUP BY day;
SELECT count(*) AS days, sum(pg_column_size(s)) > 0 AS stored FROM daily_stats;
\o /dev/null
SELECT lmm_fit(lmm_merge(s)) FROM daily_stats WHERE day > current_date - 90;
SELECT lmm_fit(lmm_merge(s), 'method=ml') FROM daily_stats;
\o

CREATE TABLE ref AS
SELECT 'reml'::text AS method, lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1], 'x_names=x1,x2, z_names=x1, g_name=g') AS m FROM events
UNION ALL
SELECT 'ml', lmm_fit(y, ARRAY[x1, x2], g, ARRAY[x1], 'method=ml, x_names=x1,x2, z_names=x1, g_name=g') FROM events;

-- merged daily statistics equal the fit from the raw rows (every group's
-- rows are spread over all five days)
SELECT r.method, pg_temp.maxrel(
	(SELECT lmm_fit(lmm_merge(d.s), 'method=' || r.method) FROM daily_stats d), r.m) < 1e-10 AS merged_equals_raw
FROM ref r ORDER BY 1;
-- other splits: by id parity, by single rows of one group, everything in one part
SELECT pg_temp.maxrel(lmm_fit(lmm_merge(s)), (SELECT m FROM ref WHERE method = 'reml')) < 1e-10 AS by_parity
FROM (SELECT lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1], 'x_names=x1,x2, z_names=x1, g_name=g') s
	  FROM events GROUP BY id % 2) u;
SELECT pg_temp.maxrel(lmm_fit(lmm_merge(s)), (SELECT m FROM ref WHERE method = 'reml')) < 1e-10 AS by_row_for_g7
FROM (SELECT lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1], 'x_names=x1,x2, z_names=x1, g_name=g') s
	  FROM events GROUP BY CASE WHEN g = 'g7' THEN id ELSE -1 END) u;
SELECT lmm_fit(lmm_stats(y, ARRAY[x1, x2], g, ARRAY[x1], 'x_names=x1,x2, z_names=x1, g_name=g'))::text
	= (SELECT m::text FROM ref WHERE method = 'reml') AS one_part_is_bitwise_the_raw_fit
FROM events;
-- merging is order-free: another order of the parts gives the same model
SELECT pg_temp.maxrel(
	(SELECT lmm_fit(lmm_merge(s ORDER BY day)) FROM daily_stats),
	(SELECT lmm_fit(lmm_merge(s ORDER BY day DESC)) FROM daily_stats)) < 1e-10 AS order_free;

-- text round trip is exact; binary round trip (COPY BINARY) too
SELECT s::text::lmm_stats::text = s::text AS text_round_trip FROM daily_stats LIMIT 1;
COPY (SELECT day, s FROM daily_stats) TO '/tmp/lmm_stats_07.bin' (FORMAT binary);
CREATE TABLE daily_copy (day date, s lmm_stats);
COPY daily_copy FROM '/tmp/lmm_stats_07.bin' (FORMAT binary);
SELECT bool_and(c.s::text = d.s::text) AND count(*) = 5 AS binary_round_trip
FROM daily_copy c JOIN daily_stats d USING (day);

-- the text form: JSON with the hex digits of the binary form (version 2,
-- "LMMt", the statistics of every model)
SELECT (j->>'lmm_stats')::int AS version,
	convert_from(substr(decode(j->>'hex', 'hex'), 1, 4), 'SQL_ASCII') AS magic,
	length(decode(j->>'hex', 'hex')) = pg_column_size(s) - 4 AS all_bytes
FROM (SELECT s, s::text::jsonb AS j FROM daily_stats ORDER BY day LIMIT 1) t;

-- size per group, independent of the rows: 1,000 groups of 1 and of 10 rows
SELECT rows_per_group, pg_column_size(s) / 1000 AS bytes_per_group_q1
FROM (SELECT 1 AS rows_per_group, lmm_stats(random(), ARRAY[random(), random()], i) s FROM generate_series(1, 1000) i
	  UNION ALL
	  SELECT 10, lmm_stats(random(), ARRAY[random(), random()], i % 1000) FROM generate_series(1, 10000) i) t
ORDER BY 1;
SELECT pg_column_size(lmm_stats(random(), ARRAY[random(), random()], i % 1000, ARRAY[random()])) / 1000 AS bytes_per_group_q2
FROM generate_series(1, 10000) i;

-- NULLs: skipped values, NULL statistics, rows dropped everywhere
SELECT lmm_fit(NULL::lmm_stats) IS NULL AS null_stats_null_model;
SELECT lmm_merge(s) IS NULL AS all_null_merge FROM (VALUES (NULL::lmm_stats), (NULL)) v(s);
SELECT (lmm_summary(lmm_fit(lmm_merge(s)))).n_dropped
FROM (SELECT s FROM daily_stats
	  UNION ALL SELECT lmm_stats(NULL::float8, ARRAY[1.0, 2.0], 'gx'::text, ARRAY[1.0], 'x_names=x1,x2, z_names=x1, g_name=g')
	  UNION ALL SELECT NULL) u;
SELECT s::text AS only_dropped_rows FROM (SELECT lmm_stats(y, ARRAY[x1], g) s
	FROM (VALUES (NULL::float8, 1.0::float8, 'a'::text), (2.0, NULL, 'b')) v(y, x1, g)) t;
SELECT lmm_fit(lmm_stats(y, ARRAY[x1], g)) IS NULL AS no_usable_rows_null_model
FROM (VALUES (NULL::float8, 1.0::float8, 'a'::text)) v(y, x1, g);

-- keys of other types: integers keep their numeric order; dates; uuid
SELECT (SELECT string_agg(level, ',' ORDER BY ord) FROM
	(SELECT level, row_number() OVER () ord FROM lmm_ranef(lmm_fit(lmm_merge(s)))) r) AS int_levels
FROM (SELECT lmm_stats(y, ARRAY[x1], id % 12) s FROM events GROUP BY id % 3) u;
SELECT pg_temp.maxrel(lmm_fit(lmm_merge(s)), (SELECT lmm_fit(y, ARRAY[x1], day) FROM events)) < 1e-10 AS date_keys
FROM (SELECT lmm_stats(y, ARRAY[x1], day) s FROM events GROUP BY id % 4) u;

-- errors: shapes that differ, options in the wrong place, wrong use
SELECT lmm_merge(s) FROM (SELECT lmm_stats(y, ARRAY[x1], g) s FROM events
	UNION ALL SELECT lmm_stats(y, ARRAY[x1, x2], g) FROM events) u;
SELECT lmm_merge(s) FROM (SELECT lmm_stats(y, ARRAY[x1], g) s FROM events
	UNION ALL SELECT lmm_stats(y, ARRAY[x1], g, ARRAY[x1]) FROM events) u;
SELECT lmm_merge(s) FROM (SELECT lmm_stats(y, ARRAY[x1], g, 'x_names=age') s FROM events
	UNION ALL SELECT lmm_stats(y, ARRAY[x1], g, 'x_names=weight') FROM events) u;
SELECT lmm_merge(s) FROM (SELECT lmm_stats(y, ARRAY[x1], g, 'g_name=doctor') s FROM events
	UNION ALL SELECT lmm_stats(y, ARRAY[x1], g) FROM events) u;
SELECT lmm_merge(s) FROM (SELECT lmm_stats(y, ARRAY[x1], g) s FROM events
	UNION ALL SELECT lmm_stats(y, ARRAY[x1], id) FROM events) u;
SELECT lmm_stats(y, ARRAY[x1], g, 'method=ml') FROM events;
SELECT lmm_fit(s, 'x_names=a') FROM daily_stats LIMIT 1;
SELECT lmm_fit(s, 'method=fast') FROM daily_stats LIMIT 1;

-- malformed text input
SELECT '{}'::lmm_stats;
SELECT 'not json'::lmm_stats;
-- lmm 0.6's text form (one-term JSON, version 1) is still read, with all
-- its checks: this is lmm_stats(y, ARRAY[x1], id % 3) of the first 12 events
CREATE TABLE good AS SELECT '{"lmm_stats": 1, "key_type": "integer", "g_name": "g", "x_names": null, "z_names": null, "n_dropped": 0, "p": 2, "q": 1, "n": 12, "mean": [1.443281260570516, 5.1466858517596465], "comom": [[7.373355313901864, 3.4459905886217514], [3.4459905886217514, 4.221314269945095]], "keys": ["1", "2", "0"], "levels": [[4, 1.1049121824162151, 5.320429846579772], [4, 1.3883056426978377, 4.800571168802996], [4, 1.8366259565974947, 5.319056539896173]]}'::text AS s;
SELECT pg_temp.maxrel(lmm_fit(s::lmm_stats),
	(SELECT lmm_fit(y, ARRAY[x1], id % 3) FROM events WHERE id <= 12)) < 1e-10 AS legacy_text_fits_the_same
FROM good;
SELECT replace(s::text, '"lmm_stats": 1', '"lmm_stats": 3')::lmm_stats FROM good;
SELECT replace(s::text, '"n": 12', '"n": 13')::lmm_stats FROM good;
SELECT replace(s::text, '"keys": ["1", "2", "0"]', '"keys": ["1", "2", "2"]')::lmm_stats FROM good;
SELECT replace(s::text, '"keys": ["1", "2", "0"]', '"keys": ["1", "2", "two"]')::lmm_stats FROM good;
SELECT replace(s::text, '"keys": ["1", "2", "0"]', '"keys": ["1", "2"]')::lmm_stats FROM good;
SELECT replace(s::text, '"integer"', '"no_such_type"')::lmm_stats FROM good;
SELECT replace(s::text, '"p": 2', '"p": 5000')::lmm_stats FROM good;
SELECT replace(regexp_replace(s::text, '"levels": \[\[4,', '"levels": [[-4,'), '"n": 12', '"n": 4')::lmm_stats FROM good;
SELECT replace(regexp_replace(s::text, '"levels": \[\[4,', '"levels": [[4.5,'), '"n": 12', '"n": 12.5')::lmm_stats FROM good;
SELECT regexp_replace(s::text, '"levels": \[\[4, [^,]*,', '"levels": [[4, 1e400,')::lmm_stats FROM good;
SELECT regexp_replace(s::text, '"comom": \[\[[^,]*,', '"comom": [[-1,')::lmm_stats FROM good;

-- malformed binary input: truncated, wrong magic, and a huge claimed level count
CREATE TEMP TABLE bad_in (s lmm_stats);
CREATE FUNCTION pg_temp.copy_in(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	f bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
		|| '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea;
	lo oid := lo_from_bytea(0, f);
BEGIN
	PERFORM lo_export(lo, '/tmp/lmm_stats_07_bad.bin');
	PERFORM lo_unlink(lo);
	COPY bad_in FROM '/tmp/lmm_stats_07_bad.bin' (FORMAT binary);
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TABLE goodb AS SELECT s::lmm_stats AS s FROM good;
SELECT pg_temp.copy_in(lmm_stats_send(s)) FROM goodb;
SELECT pg_temp.copy_in(substring(lmm_stats_send(s) FROM 1 FOR 60)) FROM goodb;
SELECT pg_temp.copy_in(overlay(lmm_stats_send(s) PLACING '\x00000000'::bytea FROM 1)) FROM goodb;
-- the level count follows the key type's name (a length word, "integer")
-- and the packing word
SELECT pg_temp.copy_in(overlay(lmm_stats_send(s) PLACING '\x7fffffffffffffff'::bytea
	FROM position('\x00000007696e7465676572'::bytea IN lmm_stats_send(s)) + 15)) FROM goodb;
SELECT 'server still up' AS status;

-- A nondeterministic collation of text keys joins groups in one pass, but a
-- stored value would compare its keys under the type's default collation:
-- lmm_stats refuses it (the fit from the rows keeps it).
CREATE COLLATION lmm_case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
SELECT (lmm_summary(lmm_fit(y, ARRAY[x1], (CASE WHEN id % 2 = 0 THEN upper(g) ELSE lower(g) END) COLLATE lmm_case_insensitive))).n_groups
	= (SELECT count(DISTINCT lower(g)) FROM events) AS groups_joined_by_the_collation
FROM events;
SELECT lmm_stats(y, ARRAY[x1], (CASE WHEN id % 2 = 0 THEN upper(g) ELSE lower(g) END) COLLATE lmm_case_insensitive) FROM events;
DROP COLLATION lmm_case_insensitive;
-- a spec of lmm_fit_terms cannot pass for one-term statistics
SELECT lmm_fit_terms(y, ARRAY[1, x1], ARRAY[g], ARRAY[1],
	'{"g_name": "g", "x": ["(Intercept)", "x1"], "terms": [{"group": "g", "z": ["(Intercept)"]}]}') FROM events;
