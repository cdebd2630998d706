-- lmm_stats of models with several random-effects terms: lmm_stats(formula,
-- source) and the aggregate lmm_stats_terms make them, lmm_merge merges them
-- exactly (NULLs skipped, other models refused), lmm_fit fits them as lmm()
-- and lmm_fit_terms do on the same rows; serially and in parallel; their
-- text and binary forms round-trip and are checked; lmm_stats values of
-- 0.6.0 keep loading.  Runs after 11_upgrade, on the updated extension.
SET client_min_messages = warning;
SET extra_float_digits = 0;
\i test/helpers/plan.psql
\i test/helpers/maxrel.psql

-- Every kind of number of two models agrees to 1e-10, and the models have
-- the same formula, names, levels and counts.
CREATE FUNCTION pg_temp.same(a lmm_model, b lmm_model) RETURNS text LANGUAGE sql AS $$
	SELECT CASE
		WHEN a IS NULL OR b IS NULL THEN 'missing model'
		WHEN a::text::jsonb->'formula' IS DISTINCT FROM b::text::jsonb->'formula' THEN 'formula differs'
		WHEN (SELECT array_agg(term) FROM lmm_fixef(a)) <> (SELECT array_agg(term) FROM lmm_fixef(b)) THEN 'fixed-effect names differ'
		WHEN (SELECT array_agg(row(grp, term1, term2)::text) FROM lmm_varcorr(a))
			<> (SELECT array_agg(row(grp, term1, term2)::text) FROM lmm_varcorr(b)) THEN 'terms differ'
		WHEN (SELECT array_agg(row(grp, level, term)::text) FROM lmm_ranef(a))
			<> (SELECT array_agg(row(grp, level, term)::text) FROM lmm_ranef(b)) THEN 'levels differ'
		WHEN row((lmm_summary(a)).method, (lmm_summary(a)).n_obs, (lmm_summary(a)).n_groups, (lmm_summary(a)).n_dropped)::text
			<> row((lmm_summary(b)).method, (lmm_summary(b)).n_obs, (lmm_summary(b)).n_groups, (lmm_summary(b)).n_dropped)::text
			THEN 'counts differ'
		ELSE (SELECT coalesce(string_agg(kind || ' differs by ' || d::text, ', '), 'same to 1e-10')
			FROM (SELECT kind, pg_temp.maxrel(a, b, kind) d
				FROM unnest(ARRAY['fixef', 'se', 'varcorr', 'ranef', 'condsd', 'criterion', 'sigma']) kind) k
			WHERE NOT d < 1e-10) END $$;

-- Crossed data with a random slope: 60 plates with an intercept and a
-- slope on x, crossed with 13 samples; every 500th row has a NULL x
-- (dropped and counted).
SELECT setseed(0.17);
CREATE TABLE crossed AS
SELECT id, plate, sample, x, 20 + 0.5 * coalesce(x, 0) + pe.u + se.u + pe.v * coalesce(x, 0) + random() AS y
FROM (SELECT i AS id, 'p' || (i % 60) AS plate, 's' || (i % 37 / 3) AS sample,
		CASE WHEN i % 500 = 0 THEN NULL ELSE random() * 3 END AS x
	  FROM generate_series(1, 5000) i) r
JOIN (SELECT j, 2 * random() AS u, 0.3 * random() AS v FROM generate_series(0, 59) j) pe ON 'p' || pe.j = plate
JOIN (SELECT j, 3 * random() AS u FROM generate_series(0, 12) j) se ON 's' || se.j = sample;
ANALYZE crossed;
CREATE VIEW first_half AS SELECT * FROM crossed WHERE id <= 2500;
CREATE VIEW second_half AS SELECT * FROM crossed WHERE id > 2500;

CREATE TABLE whole AS
SELECT 'reml'::text AS method, lmm('y ~ x + (x | plate) + (1 | sample)', 'crossed') AS m
UNION ALL
SELECT 'ml', lmm('y ~ x + (x | plate) + (1 | sample)', 'crossed', 'method=ml');

-- statistics of the two halves, stored: the README's example, as written
-- (section "Parallel, incremental and distributed fits")
CREATE TABLE half_stats (part text PRIMARY KEY, s lmm_stats);
INSERT INTO half_stats VALUES
    ('first', lmm_stats('y ~ x + (x | plate) + (1 | sample)', 'first_half')),
    ('second', lmm_stats('y ~ x + (x | plate) + (1 | sample)', 'second_half'));
\o /dev/null
SELECT lmm_fit(lmm_merge(s)) FROM half_stats;   -- = lmm('y ~ x + (x | plate) + (1 | sample)', 'crossed')
\o
-- a NULL among them is skipped
INSERT INTO half_stats VALUES ('missing', NULL);
SELECT part, s IS NOT NULL AS computed, pg_column_size(s) > 0 AS stored FROM half_stats ORDER BY part;

-- merged and fitted: the model of the whole table
SELECT method, pg_temp.same((SELECT lmm_fit(lmm_merge(s), 'method=' || method) FROM half_stats), m) AS halves_merged
FROM whole ORDER BY 1;
SELECT term, round(estimate::numeric, 6) AS estimate, round(std_error::numeric, 6) AS std_error
FROM lmm_fixef((SELECT lmm_fit(lmm_merge(s)) FROM half_stats));
SELECT grp, term1, term2, round(variance::numeric, 6) AS variance
FROM lmm_varcorr((SELECT lmm_fit(lmm_merge(s)) FROM half_stats));
SELECT method, n_obs, n_groups, n_dropped, round(criterion::numeric, 6) AS criterion
FROM lmm_summary((SELECT lmm_fit(lmm_merge(s)) FROM half_stats));
-- in either order; the whole table's statistics give the same model too
SELECT pg_temp.same((SELECT lmm_fit(lmm_merge(s ORDER BY part DESC)) FROM half_stats),
	(SELECT m FROM whole WHERE method = 'reml')) AS reversed,
	pg_temp.same(lmm_fit(lmm_stats('y ~ x + (x | plate) + (1 | sample)', 'crossed')),
	(SELECT m FROM whole WHERE method = 'reml')) AS whole_stats;

-- the aggregate lmm_stats_terms takes lmm_fit_terms' arguments
CREATE TABLE specs (name text PRIMARY KEY, spec text);
INSERT INTO specs VALUES
	('slope', '{"x": ["(Intercept)", "x"], "terms": [{"group": "plate", "z": ["(Intercept)", "x"]}, {"group": "sample", "z": ["(Intercept)"]}]}'),
	('intercepts', '{"x": ["(Intercept)", "x"], "terms": [{"group": "plate", "z": ["(Intercept)"]}, {"group": "sample", "z": ["(Intercept)"]}]}');
CREATE TABLE terms_ref AS
SELECT lmm_fit_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope')) AS m FROM crossed;
SELECT pg_temp.same(lmm_fit(lmm_merge(s)), (SELECT m FROM terms_ref)) AS terms_merged
FROM (SELECT lmm_stats_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
		(SELECT spec FROM specs WHERE name = 'slope')) AS s
	  FROM crossed GROUP BY id % 3) parts;

-- In parallel: lmm_stats_terms as partial aggregates in the workers, and
-- lmm_merge of stored statistics, the workers' partial states travelling in
-- the lmm_stats binary form.  A padding column spreads the stored values
-- over pages, so that both workers read some.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
SELECT pg_temp.plan($$CREATE TABLE par_stats AS SELECT lmm_stats_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope')) AS s FROM crossed$$);
SELECT pg_temp.same(lmm_fit(s), (SELECT m FROM terms_ref)) AS parallel_stats FROM par_stats;
CREATE TABLE group_stats (part int, s lmm_stats, pad text);
ALTER TABLE group_stats ALTER pad SET STORAGE PLAIN;
INSERT INTO group_stats
SELECT id % 40, lmm_stats_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope')), repeat('.', 3000)
FROM crossed GROUP BY id % 40;
INSERT INTO group_stats VALUES (-1, NULL, repeat('.', 3000));
ANALYZE group_stats;
SELECT pg_temp.plan($$CREATE TABLE par_merged AS SELECT lmm_merge(s) AS s FROM group_stats$$);
SELECT pg_temp.same(lmm_fit(s), (SELECT m FROM terms_ref)) AS parallel_merge FROM par_merged;
SELECT pg_temp.same(lmm_fit(s, 'method=ml'),
	(SELECT lmm_fit_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
		(SELECT spec FROM specs WHERE name = 'slope'), 'method=ml') FROM crossed)) AS parallel_merge_ml
FROM par_merged;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

-- text and binary forms: exact round trips
SELECT s::text::lmm_stats::text = s::text AS text_round_trip,
	lmm_stats_send(s::text::lmm_stats) = lmm_stats_send(s) AS same_bytes,
	s::text::jsonb->>'lmm_stats' AS format,
	left(s::text::jsonb->>'hex', 16) AS magic_version
FROM half_stats WHERE part = 'first';
COPY (SELECT part, s FROM half_stats) TO '/tmp/lmm_stats_17.bin' (FORMAT binary);
CREATE TABLE half_copy (part text, s lmm_stats);
COPY half_copy FROM '/tmp/lmm_stats_17.bin' (FORMAT binary);
SELECT count(*) AS values, bool_and(c.s::text IS NOT DISTINCT FROM h.s::text) AS binary_round_trip
FROM half_copy c JOIN half_stats h USING (part);

-- NULLs and empty statistics: rows that are all dropped give statistics
-- without rows, which merge as nothing and fit to NULL
SELECT lmm_merge(s) IS NULL AS all_null_merge FROM (VALUES (NULL::lmm_stats), (NULL)) v(s);
CREATE TABLE dropped_only AS
SELECT lmm_stats_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope')) AS s FROM crossed WHERE x IS NULL;
SELECT lmm_fit(s) IS NULL AS no_usable_rows_null_model FROM dropped_only;
SELECT pg_temp.same(lmm_fit(lmm_merge(s)), (SELECT m FROM terms_ref)) AS with_empty
FROM (SELECT s FROM dropped_only UNION ALL
	  SELECT lmm_stats_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
		(SELECT spec FROM specs WHERE name = 'slope')) FROM crossed WHERE x IS NOT NULL) u;
SELECT lmm_stats_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
	(SELECT spec FROM specs WHERE name = 'slope')) IS NULL AS no_rows_null FROM crossed WHERE false;

-- errors: other formulas, other specs, one-term with several-term
-- statistics (either first), options
SELECT lmm_merge(s) FROM (SELECT lmm_stats('y ~ x + (x | plate) + (1 | sample)', 'first_half') s
	UNION ALL SELECT lmm_stats('y ~ x + (1 | plate) + (1 | sample)', 'second_half')) u;
SELECT lmm_merge(s) FROM (SELECT lmm_stats_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, x, 1],
		(SELECT spec FROM specs WHERE name = 'slope')) s FROM crossed
	UNION ALL SELECT lmm_stats_terms(y, ARRAY[1, x], ARRAY[plate, sample], ARRAY[1, 1],
		(SELECT spec FROM specs WHERE name = 'intercepts')) FROM crossed) u;
SELECT lmm_merge(s) FROM (SELECT lmm_stats('y ~ x + (1 | plate)', 'first_half') s
	UNION ALL SELECT lmm_stats(y, ARRAY[x], plate) FROM second_half) u;
SELECT lmm_merge(s) FROM (SELECT lmm_stats(y, ARRAY[x], plate) s FROM first_half
	UNION ALL SELECT lmm_stats('y ~ x + (1 | plate)', 'second_half')) u;
SELECT lmm_fit(lmm_stats('y ~ x + (1 | plate)', 'crossed'), 'x_names=a');
SELECT lmm_stats('y ~ x + (1 | nothing)', 'crossed');

-- malformed text and binary input of several-term statistics
CREATE TABLE small AS SELECT lmm_stats('y ~ x + (1 | plate) + (1 | sample)', 'crossed') AS s;
SELECT '{"lmm_stats_terms": 1}'::lmm_stats;
SELECT '{"lmm_stats_terms": 2, "terms_stats": "00"}'::lmm_stats;
SELECT '{"lmm_stats_terms": 1, "terms_stats": "4c4d4d7"}'::lmm_stats;
SELECT '{"lmm_stats_terms": 1, "terms_stats": "4C4D4D74"}'::lmm_stats;
SELECT '{"lmm_stats_terms": 1, "terms_stats": "4c4d4d7400000001"}'::lmm_stats;
SELECT regexp_replace(s::text, '"}$', '00"}')::lmm_stats FROM small;
SELECT regexp_replace(s::text, '"hex": "4c4d4d7400000002', '"hex": "4c4d4d7400000003')::lmm_stats FROM small;
CREATE TEMP TABLE bad_in (s lmm_stats);
CREATE FUNCTION pg_temp.copy_in(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	f bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
		|| '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea;
	lo oid := lo_from_bytea(0, f);
BEGIN
	PERFORM lo_export(lo, '/tmp/lmm_stats_17_bad.bin');
	PERFORM lo_unlink(lo);
	COPY bad_in FROM '/tmp/lmm_stats_17_bad.bin' (FORMAT binary);
	RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.copy_in(lmm_stats_send(s)) FROM small;
SELECT pg_temp.copy_in(substring(lmm_stats_send(s) FROM 1 FOR 200)) FROM small;
SELECT pg_temp.copy_in(lmm_stats_send(s) || '\x00'::bytea) FROM small;
SELECT pg_temp.copy_in(overlay(lmm_stats_send(s) PLACING '\x7fffffffffffffff'::bytea FROM 13)) FROM small;
-- a level key (the first, "p1") that is not valid in the database encoding
SELECT pg_temp.copy_in(overlay(lmm_stats_send(s) PLACING '\xff'::bytea FROM position('\x7031'::bytea IN lmm_stats_send(s)))) LIKE '22021:%'
	OR getdatabaseencoding() = 'SQL_ASCII' AS bad_encoding_refused FROM small;
SELECT 'server still up' AS status;

-- A value that lmm 0.6.0 stored (one grouping factor), as text and in
-- binary, still loads and fits as the rows it came from do.
CREATE TABLE stored_06 (form text, s lmm_stats);
INSERT INTO stored_06 VALUES ('text', '{"lmm_stats": 1, "key_type": "pg_catalog.text", "g_name": "site", "x_names": ["dose"], "z_names": null, "n_dropped": 0, "p": 2, "q": 1, "n": 60, "mean": [2.9666666666666663, 5.5079816579495935], "comom": [[229.9333333333333, 117.8549632613985], [117.8549632613985, 114.95771844129827]], "keys": ["site-1", "site-2", "site-3", "site-4", "site-5", "site-0"], "levels": [[10, 2.8000000000000003, 4.934994078359941], [10, 2.4, 4.999875538884807], [10, 2.6999999999999997, 5.4149393352350135], [10, 3, 6.027867321879412], [10, 3.3000000000000003, 6.746469850959364], [10, 3.5999999999999996, 4.923743822379026]]}');
SELECT pg_temp.copy_in(decode('4c4d4d73000000010000000000000002000000010000000000000006000000000000000000000004736974650000000f70675f636174616c6f672e746578740000000100000004646f7365ffffffff4007bbbbbbbbbbbb4016082c57ff7209406cbddddddddddd405d76b7b7d3bf3c405cbd4b424a09bd00000006736974652d31402400000000000040066666666666674013bd6f167209d700000006736974652d32402400000000000040033333333333334013ffdf5f8e528f00000006736974652d33402400000000000040059999999999994015a8e5db6aa22a00000006736974652d344024000000000000400800000000000040181c894050658f00000006736974652d354024000000000000400a666666666667401afc6297b5482700000006736974652d304024000000000000400ccccccccccccc4013b1e9e68bfff3', 'hex'));
INSERT INTO stored_06 SELECT 'binary', s FROM bad_in WHERE (lmm_summary(lmm_fit(s))).n_obs = 60;
SELECT form, pg_temp.same(lmm_fit(s),
	(SELECT lmm_fit(3 + 0.5 * (i % 7) + sin(i * 1.3) + (i % 6) * 0.4, ARRAY[(i % 7)::float8], 'site-' || (i % 6), 'x_names=dose, g_name=site')
	 FROM generate_series(1, 60) i)) AS fits_as_its_rows
FROM stored_06 ORDER BY form;
SELECT term, round(estimate::numeric, 6) AS estimate, round(std_error::numeric, 6) AS std_error
FROM lmm_fixef((SELECT lmm_fit(s) FROM stored_06 WHERE form = 'binary'));
SELECT pg_temp.same(lmm_fit(lmm_merge(s)),
	(SELECT lmm_fit(3 + 0.5 * (i % 7) + sin(i * 1.3) + (i % 6) * 0.4, ARRAY[(i % 7)::float8], 'site-' || (i % 6), 'x_names=dose, g_name=site')
	 FROM generate_series(1, 60) i CROSS JOIN generate_series(1, 2))) AS merged_twice
FROM stored_06;
DROP TABLE crossed, whole, half_stats, specs, terms_ref, par_stats, group_stats, par_merged,
	half_copy, dropped_only, small, stored_06 CASCADE;
