-- The aggregates' state is a real type, lmm_stats, so a distributed planner
-- (Citus) can run an aggregate on each shard and ship its state as text:
-- worker_partial_agg is the aggregate without its final function, and
-- coord_combine_agg reads the states back with lmm_stats_in, combines them
-- and applies the final function.  Both are emulated here on one server
-- with aggregates built from lmm's own support functions, and the answers
-- must equal the one-server fit to 1e-10.  test/citus/run.sh checks the
-- same with a real Citus cluster.
SET extra_float_digits = 0;
SELECT setseed(0.26);
CREATE TABLE so AS
SELECT i AS id, i % 8 AS shard, i % 150 AS g, (i % 150)::bigint AS g8, (i % 150)::smallint AS g2,
	'grp' || (i % 150) AS gt, i % 23 AS b, x1, t,
	2 + 0.5 * x1 + e.u0 + (0.3 + e.u1) * t + random() AS y,
	(random() < 1 / (1 + exp(-(x1 - 1 + e.u0)))) AS hit
FROM (SELECT i, random() * 2 AS x1, random() * 3 AS t FROM generate_series(1, 6000) i) s
JOIN (SELECT j, random() AS u0, 0.3 * random() AS u1 FROM generate_series(0, 149) j) e ON e.j = s.i % 150;

-- keys of the common types (integers of every width, text, uuid, dates
-- and times, numeric, "char") use forms with an lmm_stats state; other key
-- types keep the anyelement forms (an internal state)
SELECT p.proname AS aggregate, a.aggtranstype::regtype AS state,
	string_agg(DISTINCT coalesce(substring(pg_get_function_identity_arguments(p.oid) from 'g ([^,]+)'), '-'), ', ') AS keys,
	count(*) AS forms
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE p.proname LIKE 'lmm%'
GROUP BY 1, 2 ORDER BY 1, 2;

-- the key's width does not change the fit (smallint, integer, bigint, text)
CREATE FUNCTION pg_temp.same(a lmm_model, b lmm_model) RETURNS float8 LANGUAGE sql AS $$
	SELECT max(abs(x - y) / greatest(abs(y), 1e-300)) FROM (
		SELECT fa.estimate x, fb.estimate y FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term)
		UNION ALL SELECT fa.std_error, fb.std_error FROM lmm_fixef(a) fa JOIN lmm_fixef(b) fb USING (term)
		UNION ALL SELECT va.variance, vb.variance FROM lmm_varcorr(a) va JOIN lmm_varcorr(b) vb
			ON va.grp IS NOT DISTINCT FROM vb.grp AND va.term1 IS NOT DISTINCT FROM vb.term1
				AND va.term2 IS NOT DISTINCT FROM vb.term2
		UNION ALL SELECT (lmm_summary(a)).criterion, (lmm_summary(b)).criterion) d $$;
SELECT pg_temp.same(lmm_fit(y, ARRAY[x1, t], g, ARRAY[t]), lmm_fit(y, ARRAY[x1, t], g8, ARRAY[t])) < 1e-12 AS int8_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1, t], g, ARRAY[t]), lmm_fit(y, ARRAY[x1, t], g2, ARRAY[t])) < 1e-12 AS int2_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1, t], g, ARRAY[t]), lmm_fit(y, ARRAY[x1, t], gt, ARRAY[t])) < 1e-12 AS text_same
FROM so;
-- keys of a type that casts implicitly to text (varchar, char(n), name)
-- take the text form and group as their text; "char" and date keys have
-- forms of their own; a model scores the keys it was fitted on
CREATE TEMP TABLE so_keys AS
SELECT id, y, x1, g, gt, gt::varchar(10) AS gv, gt::char(10) AS gc, gt::name AS gn,
	chr(65 + g % 20)::"char" AS gch, date '2001-01-01' + g AS gd
FROM so;
SELECT pg_temp.same(lmm_fit(y, ARRAY[x1], gt), lmm_fit(y, ARRAY[x1], gv)) < 1e-12 AS varchar_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], gt), lmm_fit(y, ARRAY[x1], gc)) < 1e-12 AS char_n_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], gt), lmm_fit(y, ARRAY[x1], gn)) < 1e-12 AS name_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], gd)) < 1e-12 AS date_same,
	(lmm_summary(lmm_fit(y, ARRAY[x1], gch))).n_groups AS char_groups
FROM so_keys;
WITH m AS (SELECT lmm_fit(y, ARRAY[x1], gc) AS mc, lmm_fit(y, ARRAY[x1], gn) AS mn,
		lmm_fit(y, ARRAY[x1], gd) AS md FROM so_keys)
SELECT bool_and(lmm_predict(mc, ARRAY[x1], gc) = lmm_predict(mc, ARRAY[x1], gt)) AS char_n_predict,
	bool_and(lmm_predict(mn, ARRAY[x1], gn) = lmm_predict(mn, ARRAY[x1], gt)) AS name_predict,
	bool_and(lmm_predict(md, ARRAY[x1], gd) <> lmm_predict(md, ARRAY[x1], gd + 1000)) AS date_predict
FROM so_keys, m;
-- numbers, booleans, times, intervals, network addresses and bytea have
-- forms of their own too; an enum keeps the anyelement form.  Which form
-- a call resolves to is read from a view's dependencies.
CREATE TYPE pg_temp.so_mood AS ENUM ('calm', 'busy', 'loud', 'odd');
CREATE TEMP TABLE so_more AS
SELECT id, y, x1, g, g::float8 AS gf, g::real AS gr, g % 2 = 0 AS gb,
	time '08:00' + g * interval '1 minute' AS gtm, g * interval '1 hour' AS giv,
	('10.1.' || g / 100 || '.' || g % 100)::inet AS gi, ('10.1.' || g || '.0/24')::cidr AS gci,
	('08:00:2b:01:02:' || lpad(to_hex(g), 2, '0'))::macaddr AS gm,
	('08:00:2b:01:02:03:04:' || lpad(to_hex(g), 2, '0'))::macaddr8 AS gm8, convert_to(gt, 'UTF8') AS gy,
	(enum_range(NULL::pg_temp.so_mood))[1 + g % 4] AS ge
FROM so;
CREATE TEMP VIEW so_forms AS
SELECT lmm_fit(y, ARRAY[x1], gf) f, lmm_fit(y, ARRAY[x1], gr) r, lmm_fit(y, ARRAY[x1], gb) b,
	lmm_fit(y, ARRAY[x1], gtm) tm, lmm_fit(y, ARRAY[x1], giv) iv, lmm_fit(y, ARRAY[x1], gi) i,
	lmm_fit(y, ARRAY[x1], gci) ci, lmm_fit(y, ARRAY[x1], gm) m, lmm_fit(y, ARRAY[x1], gm8) m8,
	lmm_fit(y, ARRAY[x1], gy) yb,
	lmm_stats(y, ARRAY[x1], gi, 'method=ml') si, lmm_fit(y, ARRAY[x1], ge) e
FROM so_more;
-- the aggregate forms a view calls, with their states
CREATE FUNCTION pg_temp.forms(v regclass) RETURNS TABLE (form regprocedure, state regtype)
LANGUAGE sql AS $$
SELECT d.refobjid::regprocedure, a.aggtranstype::regtype
FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
	JOIN pg_aggregate a ON a.aggfnoid = d.refobjid
WHERE r.ev_class = v
ORDER BY d.refobjid::regprocedure::text $$;
SELECT * FROM pg_temp.forms('so_forms');
SELECT pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], gf)) < 1e-12 AS float8_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], gr)) < 1e-12 AS real_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], gtm)) < 1e-12 AS time_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], giv)) < 1e-12 AS interval_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], gi)) < 1e-12 AS inet_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], gci)) < 1e-12 AS cidr_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], gm)) < 1e-12 AS macaddr_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], gm8)) < 1e-12 AS macaddr8_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g), lmm_fit(y, ARRAY[x1], gy)) < 1e-12 AS bytea_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g % 2), lmm_fit(y, ARRAY[x1], gb)) < 1e-12 AS boolean_same,
	pg_temp.same(lmm_fit(y, ARRAY[x1], g % 4), lmm_fit(y, ARRAY[x1], ge)) < 1e-12 AS enum_same
FROM so_more;
-- their statistics travel as text and back, keys and all, and score
SELECT s::text::lmm_stats::text = s::text AS inet_text_round_trip,
	(SELECT string_agg(level, ', ') FROM (SELECT level FROM lmm_ranef(lmm_fit(s)) OFFSET 8 LIMIT 4) r) AS inet_levels_9_to_12
FROM (SELECT lmm_stats(y, ARRAY[x1], gi) s FROM so_more) v;
WITH m AS (SELECT lmm_fit(y, ARRAY[x1], g) AS mg, lmm_fit(y, ARRAY[x1], gi) AS mi,
		lmm_fit(y, ARRAY[x1], gr) AS mr FROM so_more)
SELECT max(abs(lmm_predict(mi, ARRAY[x1], gi) - lmm_predict(mg, ARRAY[x1], g))) < 1e-9 AS inet_predict,
	max(abs(lmm_predict(mr, ARRAY[x1], gr) - lmm_predict(mg, ARRAY[x1], g))) < 1e-9 AS real_predict,
	min(abs(lmm_predict(mi, ARRAY[x1], gi) - lmm_predict(mi, ARRAY[x1]))) > 0 AS inet_levels_found
FROM so_more, m;
-- integer keys dense in a range (from 1024 levels) are looked up by value,
-- others by hash: negative, sparse, huge bigint keys and a range that
-- changes as levels arrive all group as their text forms do
SELECT e AS keys, pg_temp.same(a, b) < 1e-12 AS same_fit,
	(SELECT count(*) FROM lmm_ranef(a)) = (SELECT count(*) FROM lmm_ranef(b)) AS same_levels
FROM (SELECT 'id / 3' e, lmm_fit(y, ARRAY[x1, t], id / 3) a, lmm_fit(y, ARRAY[x1, t], (id / 3)::text) b FROM so
	UNION ALL SELECT '-(id / 3) - 5', lmm_fit(y, ARRAY[x1, t], -(id / 3) - 5), lmm_fit(y, ARRAY[x1, t], (-(id / 3) - 5)::text) FROM so
	UNION ALL SELECT 'id / 3 * 100003', lmm_fit(y, ARRAY[x1, t], id / 3 * 100003), lmm_fit(y, ARRAY[x1, t], (id / 3 * 100003)::text) FROM so
	UNION ALL SELECT 'id / 3 * 12', lmm_fit(y, ARRAY[x1, t], id / 3 * 12), lmm_fit(y, ARRAY[x1, t], (id / 3 * 12)::text) FROM so
	UNION ALL SELECT '(id / 3 * 15) # 7', lmm_fit(y, ARRAY[x1, t], (id / 3 * 15) # 7), lmm_fit(y, ARRAY[x1, t], ((id / 3 * 15) # 7)::text) FROM so
	UNION ALL SELECT 'id / 3 + 2^62', lmm_fit(y, ARRAY[x1, t], id / 3 + 4611686018427387904), lmm_fit(y, ARRAY[x1, t], (id / 3 + 4611686018427387904)::text) FROM so
	UNION ALL SELECT 'extremes', lmm_fit(y, ARRAY[x1, t], CASE WHEN id < 4 THEN -9223372036854775808 WHEN id < 7 THEN 9223372036854775807 ELSE id / 3 END),
		lmm_fit(y, ARRAY[x1, t], (CASE WHEN id < 4 THEN -9223372036854775808 WHEN id < 7 THEN 9223372036854775807 ELSE id / 3 END)::text) FROM so
	UNION ALL SELECT 'dense, then far', lmm_fit(y, ARRAY[x1, t], CASE WHEN id > 4500 THEN id / 3 + 1000000 ELSE id / 3 END),
		lmm_fit(y, ARRAY[x1, t], (CASE WHEN id > 4500 THEN id / 3 + 1000000 ELSE id / 3 END)::text) FROM so
	UNION ALL SELECT 'g', lmm_fit(y, ARRAY[x1, t], g), lmm_fit(y, ARRAY[x1, t], g::text) FROM so) z;
-- a new key inside the map's range that is the 2^k-th level while a key
-- in the hash makes the whole range too wide to map again (ids 1..1024,
-- 10^12, 1025..1568, -543..0, in that order, and again) is found again
-- the next time; keys up to the top of bigint and then its bottom, and
-- keys from its bottom up, keep their numeric order
CREATE TEMP TABLE so_seq AS
SELECT id, y, x1, t, CASE WHEN i <= 1024 THEN i WHEN i = 1025 THEN 1000000000000
	WHEN i <= 1569 THEN i - 1 ELSE i - 2113 END AS k,
	CASE WHEN id <= 5000 THEN 9223372036854775807 - (id % 1200) ELSE -9223372036854775808 + id % 7 END AS top,
	-9223372036854775808 + (id * 7919) % 1500 AS bottom
FROM (SELECT *, (id - 1) % 2113 + 1 AS i FROM so) s;
SELECT pg_temp.same(a, b) < 1e-12 AS outlier_same_fit,
	(SELECT count(*) FROM lmm_ranef(a)) AS levels, (SELECT count(DISTINCT k) FROM so_seq) AS distinct_keys
FROM (SELECT lmm_fit(y, ARRAY[x1, t], k) a, lmm_fit(y, ARRAY[x1, t], k::text) b
	  FROM (SELECT * FROM so_seq ORDER BY id) o) z;
SELECT pg_temp.same(a, b) < 1e-12 AS top_same_fit,
	(SELECT bool_and(level::numeric > prev) FROM (SELECT level, lag(level::numeric) OVER (ORDER BY n) AS prev
		FROM lmm_ranef(a) WITH ORDINALITY r(grp, level, term, estimate, cond_sd, n)) l) AS top_in_order
FROM (SELECT lmm_fit(y, ARRAY[x1, t], top) a, lmm_fit(y, ARRAY[x1, t], top::text) b
	  FROM (SELECT * FROM so_seq ORDER BY id) o) z;
SELECT pg_temp.same(a, b) < 1e-12 AS bottom_same_fit, (SELECT count(*) FROM lmm_ranef(a)) AS bottom_levels,
	(SELECT bool_and(level::numeric > prev) FROM (SELECT level, lag(level::numeric) OVER (ORDER BY n) AS prev
		FROM lmm_ranef(a) WITH ORDINALITY r(grp, level, term, estimate, cond_sd, n)) l) AS bottom_in_order
FROM (SELECT lmm_fit(y, ARRAY[x1, t], bottom) a, lmm_fit(y, ARRAY[x1, t], bottom::text) b
	  FROM (SELECT * FROM so_seq ORDER BY id) o) z;
DROP TABLE so_seq;
-- the model records the key type it was given
SELECT lmm_blup(lmm_fit(y, ARRAY[x1], g8), 7::bigint, 'g', '(Intercept)') =
	lmm_blup(lmm_fit(y, ARRAY[x1], g), 7, 'g', '(Intercept)') AS int8_blup FROM so;

-- Citus's two phases, emulated: a "worker" aggregate without a final
-- function (its result is the flat state), shipped as text, and a
-- "coordinator" aggregate that combines the states and fits.
CREATE AGGREGATE pg_temp.w_fit(float8, float8[], int, float8[], text) (
	SFUNC = lmm_fit_trans, STYPE = lmm_stats);
CREATE AGGREGATE pg_temp.w_fit_text(float8, float8[], text, float8[], text) (
	SFUNC = lmm_fit_trans, STYPE = lmm_stats);
CREATE AGGREGATE pg_temp.w_fit_uuid(float8, float8[], uuid) (
	SFUNC = lmm_fit_trans, STYPE = lmm_stats);
CREATE AGGREGATE pg_temp.w_glmm(float8, float8[], int, float8, float8, text) (
	SFUNC = lmm_fit_trans, STYPE = lmm_stats);
CREATE AGGREGATE pg_temp.w_terms(float8, float8[], text[], float8[], text, text) (
	SFUNC = lmm_terms_trans, STYPE = lmm_stats);
CREATE AGGREGATE pg_temp.w_merge(lmm_stats) (SFUNC = lmm_merge_trans, STYPE = lmm_stats);
CREATE AGGREGATE pg_temp.c_fit(lmm_stats) (
	SFUNC = lmm_agg_combine, STYPE = lmm_stats, FINALFUNC = lmm_fit_final);
CREATE AGGREGATE pg_temp.c_stats(lmm_stats) (
	SFUNC = lmm_agg_combine, STYPE = lmm_stats, FINALFUNC = lmm_stats_final);

-- one-term LMM with a random slope and options: 8 shards' states as text
CREATE TABLE so_states AS
SELECT shard, pg_temp.w_fit(y, ARRAY[x1, t], g, ARRAY[t], 'method=ml,x_names=x1,t')::text AS state
FROM so GROUP BY shard;
SELECT count(*) AS shards, bool_and(state LIKE '{"lmm_stats": 2, "hex": "%') AS json_text FROM so_states;
SELECT pg_temp.same(
	(SELECT pg_temp.c_fit(state::lmm_stats) FROM so_states),
	(SELECT lmm_fit(y, ARRAY[x1, t], g, ARRAY[t], 'method=ml,x_names=x1,t') FROM so)) < 1e-10 AS lmm_same;
-- the options travel with the state: the combined fit is ML, with the names
WITH c AS (SELECT pg_temp.c_fit(state::lmm_stats) AS m FROM so_states)
SELECT (lmm_summary(m)).method, (SELECT array_agg(term ORDER BY term) FROM lmm_fixef(m)) AS terms FROM c;
-- text and binary forms of a partial state round trip exactly
SELECT bool_and(state::lmm_stats::text = state) AS text_round_trip,
	bool_and(lmm_stats_send(state::lmm_stats) = lmm_stats_send(state::lmm_stats::text::lmm_stats)) AS binary_same
FROM so_states;
-- a partial state is not statistics: the plain functions refuse it
SELECT lmm_fit(state::lmm_stats) FROM so_states LIMIT 1;
SELECT * FROM lmm_stats_info((SELECT state::lmm_stats FROM so_states LIMIT 1));

-- text keys (a varchar key takes the text form, as Citus's shard query
-- casts it) and uuid keys travel the same way
SELECT pg_temp.same(
	(SELECT pg_temp.c_fit(state::lmm_stats) FROM
		(SELECT pg_temp.w_fit_text(y, ARRAY[x1, t], gt::varchar, ARRAY[t], NULL)::text AS state FROM so GROUP BY shard) w),
	(SELECT lmm_fit(y, ARRAY[x1, t], gt, ARRAY[t]) FROM so)) < 1e-10 AS text_keys_same,
	pg_temp.same(
	(SELECT pg_temp.c_fit(state::lmm_stats) FROM
		(SELECT pg_temp.w_fit_uuid(y, ARRAY[x1, t], md5(gt)::uuid)::text AS state FROM so GROUP BY shard) w),
	(SELECT lmm_fit(y, ARRAY[x1, t], g) FROM so)) < 1e-10 AS uuid_keys_same;

-- a GLMM's state keeps its rows (with weights and offsets); they travel too
CREATE TABLE so_glmm AS
SELECT shard, pg_temp.w_glmm(hit::int::float8, ARRAY[x1], g, 1.0, 0.1 * t, 'family=binomial')::text AS state
FROM so GROUP BY shard;
SELECT pg_temp.same(
	(SELECT pg_temp.c_fit(state::lmm_stats) FROM so_glmm),
	(SELECT lmm_fit(hit::int::float8, ARRAY[x1], g, 1.0, 0.1 * t, 'family=binomial') FROM so)) < 1e-10 AS glmm_same;
SELECT (lmm_summary(pg_temp.c_fit(state::lmm_stats))).method AS glmm_method FROM so_glmm;

-- crossed terms (lmm_fit_terms, as lmm() runs it)
CREATE TABLE so_terms AS
SELECT shard, pg_temp.w_terms(y, ARRAY[1, x1], ARRAY[g::text, b::text], ARRAY[1, 1]::float8[],
	'{"x": ["(Intercept)", "x1"], "terms": [{"group": "g", "z": ["(Intercept)"]}, {"group": "b", "z": ["(Intercept)"]}]}',
	NULL)::text AS state
FROM so GROUP BY shard;
SELECT pg_temp.same(
	(SELECT pg_temp.c_fit(state::lmm_stats) FROM so_terms),
	lmm('y ~ x1 + (1 | g) + (1 | b)', 'so')) < 1e-10 AS crossed_same;

-- stored statistics merged per shard, then across shards
CREATE TABLE so_stored AS
SELECT g, lmm_stats(y, ARRAY[x1, t], g, ARRAY[t]) AS s FROM so GROUP BY g;
SELECT pg_temp.same(
	(SELECT lmm_fit(pg_temp.c_stats(p::lmm_stats))
	 FROM (SELECT pg_temp.w_merge(s)::text AS p FROM so_stored GROUP BY g % 8) w),
	(SELECT lmm_fit(y, ARRAY[x1, t], g, ARRAY[t]) FROM so)) < 1e-10 AS merge_same;

-- a damaged partial state is refused with the input's error, never trusted
SELECT (regexp_replace(state, '"hex": "(.{40})..', '"hex": "\1zz'))::lmm_stats FROM so_states LIMIT 1;
SELECT pg_temp.c_fit(('{"lmm_stats": 2, "hex": "' || substr(encode(lmm_stats_send(state::lmm_stats), 'hex'), 1, 200) || '"}')::lmm_stats)
FROM so_glmm LIMIT 1;
-- a transition function refuses a state of another aggregate (an INITCOND
-- with text keys for an integer-key transition), rather than read its keys
-- as integers
SELECT lmm_stats(y, ARRAY[x1], gt)::text AS text_keyed FROM so WHERE id < 100 \gset
CREATE AGGREGATE pg_temp.other_state(float8, float8[], int) (SFUNC = lmm_fit_trans,
	STYPE = lmm_stats, INITCOND = :'text_keyed', FINALFUNC = lmm_stats_final);
SELECT pg_temp.other_state(y, ARRAY[x1], g) FROM so WHERE id < 100;
SELECT lmm_stats(y, ARRAY[x1], g)::text AS int_keyed FROM so WHERE id < 100 \gset
CREATE AGGREGATE pg_temp.other_text_state(float8, float8[], text) (SFUNC = lmm_fit_trans,
	STYPE = lmm_stats, INITCOND = :'int_keyed', FINALFUNC = lmm_stats_final);
SELECT pg_temp.other_text_state(y, ARRAY[x1], gt) FROM so WHERE id < 100;
CREATE AGGREGATE pg_temp.other_terms(float8, float8[], text[], float8[], text) (SFUNC = lmm_terms_trans,
	STYPE = lmm_stats, INITCOND = :'text_keyed', FINALFUNC = lmm_stats_final);
SELECT pg_temp.other_terms(y, ARRAY[1, x1], ARRAY[gt], ARRAY[1.0], '{"x": ["(Intercept)", "x1"], "terms": [{"group": "gt", "z": ["(Intercept)"]}]}') FROM so WHERE id < 100;
-- a GLMM's partial state must bring its rows, as many as its statistics
-- count, with responses its family allows
CREATE FUNCTION pg_temp.u64(b bytea, at int) RETURNS bigint LANGUAGE sql AS
$$ SELECT sum(get_byte(b, at + i)::bigint << (8 * i))::bigint FROM generate_series(0, 6) i $$;
CREATE TEMP TABLE so_parts AS
SELECT b, pg_temp.u64(b, 8) AS ss, pg_temp.u64(b, 16 + pg_temp.u64(b, 8)::int) AS nrows
FROM (SELECT lmm_stats_send(state::lmm_stats) AS b FROM so_glmm ORDER BY shard LIMIT 1) s;
-- its statistics without the rows
SELECT pg_temp.c_fit(('{"lmm_stats": 2, "hex": "' || encode(substr(b, 17, ss::int), 'hex') || '"}')::lmm_stats)
FROM so_parts;
-- a row's response set to 5 (x holds 2 columns a row, y follows)
SELECT pg_temp.c_fit(('{"lmm_stats": 2, "hex": "' ||
	encode(overlay(b PLACING '\x0000000000001440'::bytea FROM (16 + ss + 18 + nrows * 16 + 1)::int), 'hex') || '"}')::lmm_stats)
FROM so_parts;
-- many groups: one state context for all (hash aggregation measures its
-- memory over every child context at each new group)
SELECT count(s) AS groups, count(DISTINCT (lmm_stats_info(s)).n_obs) AS sizes
FROM (SELECT id, lmm_stats(y, ARRAY[x1], id % 7) s FROM so GROUP BY id) z;
-- rows packed on a machine of the other byte order are refused
SELECT regexp_replace(state, '"hex": "4c4d4d7204030201', '"hex": "4c4d4d7201020304')::lmm_stats
FROM so_glmm LIMIT 1;
-- every byte of a GLMM's partial state (statistics, keys, rows) set to 0xff
-- in turn: each is read back as some state or refused with the input's
-- SQLSTATE, and a state read back combines and fits or is refused cleanly
CREATE TEMP TABLE so_mut (pos int, state text, fitted text);
DO $$
DECLARE
	b bytea := (SELECT lmm_stats_send(state::lmm_stats) FROM so_glmm ORDER BY shard LIMIT 1);
	v lmm_stats;
	i int;
	r text;
BEGIN
	FOR i IN 0 .. length(b) - 1 BY greatest(1, length(b) / 400) LOOP
		BEGIN
			v := ('{"lmm_stats": 2, "hex": "' || encode(set_byte(b, i, 255), 'hex') || '"}')::lmm_stats;
			BEGIN
				PERFORM pg_temp.c_fit(s) FROM (VALUES (v), (v)) t(s);
				r := 'fits';
			EXCEPTION WHEN OTHERS THEN
				r := SQLSTATE;
			END;
			INSERT INTO so_mut VALUES (i, 'read', r);
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO so_mut VALUES (i, SQLSTATE, NULL);
		END;
	END LOOP;
END
$$;
SELECT count(*) > 300 AS many_cases,
	count(*) FILTER (WHERE state = 'read') > 10 AS some_read,
	count(*) FILTER (WHERE state <> 'read') > 10 AS some_refused,
	count(*) FILTER (WHERE state NOT IN ('read', '22P02', '22021', '54000', '22P03', '0A000')) AS other_input_errors,
	count(*) FILTER (WHERE fitted NOT IN ('fits', '22023', '22P02', '22003', '2201E', '54000', '22P03', '22012')) AS other_fit_errors
FROM so_mut;

-- lmm_create_key_forms gives a type of the user's (here an enum) forms of
-- its own, with an lmm_stats state, which Citus runs on its workers: the
-- same fits as the anyelement forms gave, the two phases emulated as
-- above, and a second call creates nothing
CREATE TYPE so_level AS ENUM ('calm', 'busy', 'loud', 'odd');
CREATE TABLE so_enum AS
SELECT y, x1, t, g, shard, (enum_range(NULL::so_level))[1 + g % 4] AS ge FROM so;
CREATE TABLE so_enum_before AS
SELECT lmm_fit(y, ARRAY[x1], ge) AS m, lmm_fit(y, ARRAY[x1, t], ge, ARRAY[t], 'method=ml') AS mz FROM so_enum;
SELECT form, created FROM lmm_create_key_forms('so_level') ORDER BY form::text;
SELECT count(*) AS forms, count(*) FILTER (WHERE created) AS created_again FROM lmm_create_key_forms('so_level');
SELECT count(*) AS created_for_integer FROM lmm_create_key_forms('integer') WHERE created;
CREATE TEMP VIEW so_enum_forms AS
SELECT lmm_fit(y, ARRAY[x1], ge) a, lmm_fit(y, ARRAY[x1, t], ge, ARRAY[t], 'method=ml') b,
	lmm_stats(y, ARRAY[x1], ge) c
FROM so_enum;
SELECT * FROM pg_temp.forms('so_enum_forms');
SELECT pg_temp.same((SELECT m FROM so_enum_before), lmm_fit(y, ARRAY[x1], ge)) < 1e-12 AS enum_same,
	pg_temp.same((SELECT mz FROM so_enum_before), lmm_fit(y, ARRAY[x1, t], ge, ARRAY[t], 'method=ml')) < 1e-12 AS enum_slope_same,
	(SELECT string_agg(level, ', ') FROM lmm_ranef(lmm_fit(y, ARRAY[x1], ge))) AS levels
FROM so_enum;
SELECT pg_temp.same(c, (SELECT lmm_fit(y, ARRAY[x1], ge) FROM so_enum)) < 1e-10 AS enum_two_phases
FROM (SELECT pg_temp.c_fit(s::text::lmm_stats) AS c
	  FROM (SELECT lmm_stats(y, ARRAY[x1], ge) AS s FROM so_enum GROUP BY shard) w) v;
-- in a schema whose name needs quoting, and after the extension moved:
-- forms made before are found where they are
CREATE TYPE so_level2 AS ENUM ('x', 'y');
CREATE SCHEMA "so ""lmm""";
ALTER EXTENSION lmm SET SCHEMA "so ""lmm""";
SELECT form, created FROM "so ""lmm""".lmm_create_key_forms('so_level2') WHERE form::text LIKE '%lmm_fit(%' ORDER BY form::text LIMIT 2;
SELECT count(*) FILTER (WHERE created) AS created, count(*) AS forms FROM "so ""lmm""".lmm_create_key_forms('so_level');
ALTER EXTENSION lmm SET SCHEMA public;
SELECT count(*) FILTER (WHERE created) AS created_after_move_back FROM lmm_create_key_forms('so_level2');
SET client_min_messages = warning;
DROP TYPE so_level2 CASCADE;
RESET client_min_messages;
DROP SCHEMA "so ""lmm""";
-- what the function refuses
SELECT * FROM lmm_create_key_forms('anyelement');
SELECT * FROM lmm_create_key_forms('aclitem');
SELECT * FROM lmm_create_key_forms('json');
SELECT count(*) AS json_forms_left FROM pg_proc WHERE proname IN ('lmm_fit', 'lmm_stats')
	AND pg_get_function_identity_arguments(oid) LIKE '%json%';
SELECT * FROM lmm_create_key_forms(NULL);
-- the forms depend on the type
\set VERBOSITY terse
DROP TYPE so_level;
\set VERBOSITY default
SET client_min_messages = warning;
DROP TYPE so_level CASCADE;
RESET client_min_messages;
SELECT count(*) AS forms_left FROM pg_proc WHERE proname IN ('lmm_fit', 'lmm_stats')
	AND pg_get_function_identity_arguments(oid) LIKE '%so_level%';
DROP TABLE so_enum_before;
DROP TABLE so, so_states, so_glmm, so_terms, so_stored, so_mut, so_parts, so_enum;
