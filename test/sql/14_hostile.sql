-- Hostile input for every SQL-callable function and aggregate (issue 7).
-- Each case runs through pg_temp.try, which returns "ok: <result>" or
-- "SQLSTATE: message" (marked "[no detail or hint]" when the error has
-- neither) and logs the outcome.  The end checks that no case raised XX000,
-- lists the errors without a detail or hint (all raised by PostgreSQL
-- itself, before or around our code), and checks that every function of
-- the extension was fed something.  Cases already in 02_model_io,
-- 03_input_rules, 05_interrupts, 07_stats and 10_formula are not repeated.
SET extra_float_digits = 0;
SET client_min_messages = warning;

CREATE TABLE hostile_log (n serial, sql text, state text, helped bool);
GRANT ALL ON hostile_log, hostile_log_n_seq TO PUBLIC;
CREATE FUNCTION pg_temp.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text;
	st text;
	msg text;
	det text;
	hnt text;
BEGIN
	EXECUTE sql INTO result;
	INSERT INTO hostile_log (sql, state) VALUES (sql, 'ok');
	RETURN 'ok: ' || coalesce(result, 'NULL');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
	INSERT INTO hostile_log (sql, state, helped)
		VALUES (sql, st, coalesce(det, '') <> '' OR coalesce(hnt, '') <> '');
	RETURN st || ': ' || msg
		|| CASE WHEN coalesce(det, '') <> '' OR coalesce(hnt, '') <> '' THEN '' ELSE ' [no detail or hint]' END;
END $$;
-- the same for a statement that may run in parallel workers (EXECUTE ...
-- INTO never does): row numbers, which depend on the worker, are hidden
CREATE FUNCTION pg_temp.try_parallel(sql text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
	ctx text;
BEGIN
	RETURN QUERY EXECUTE 'SELECT ''ok: '' || coalesce(r::text, ''NULL'') FROM (' || sql || ') s(r)';
	INSERT INTO hostile_log (sql, state) VALUES (sql, 'ok');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		det = PG_EXCEPTION_DETAIL, ctx = PG_EXCEPTION_CONTEXT;
	INSERT INTO hostile_log (sql, state, helped) VALUES (sql, st, coalesce(det, '') <> '');
	RETURN NEXT st || ': ' || regexp_replace(msg, 'row \d+', 'row N')
		|| CASE WHEN ctx ~ 'parallel worker' THEN ' (raised in a parallel worker)' ELSE '' END;
END $$;
-- short, stable descriptions of a model and of statistics
CREATE FUNCTION pg_temp.num(v float8) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN abs(v) < 1e6 THEN round(v::numeric, 3)::text ELSE trim(to_char(v, '9.999EEEE')) END $$;
CREATE FUNCTION pg_temp.brief(m lmm_model) RETURNS text LANGUAGE sql STRICT PARALLEL SAFE AS $$
	SELECT format('n=%s groups=%s dropped=%s beta=%s', s.n_obs, s.n_groups, s.n_dropped,
		(SELECT string_agg(pg_temp.num(estimate), ',') FROM lmm_fixef(m)))
	FROM lmm_summary(m) s $$;
CREATE FUNCTION pg_temp.brief(s lmm_stats) RETURNS text LANGUAGE sql STRICT PARALLEL SAFE AS $$
	SELECT format('stats n=%s groups=%s dropped=%s p=%s q=%s', i.n_obs,
		coalesce(i.n_levels[1], 0), i.n_dropped, coalesce(cardinality(i.x_names), 0),
		coalesce(i.q[1], 0))
	FROM lmm_stats_info(s) i $$;

-- 240 rows, 12 groups with a real group effect
CREATE TABLE hx AS
SELECT i AS id, i % 12 AS g, (i % 7)::float8 AS x1, ((i * 13) % 11)::float8 AS x2,
	10 + 0.5 * (i % 7) + ((i % 12) * 5 % 7) + ((i * 37) % 13) / 4.0 AS y
FROM generate_series(1, 240) i;

-- 1. lmm_fit and lmm_stats, every signature: NULLs, non-finite and huge
-- values, array shapes, widths, and data shapes.  The same arguments go
-- to both aggregates (lmm_stats only keeps the statistics, so it accepts
-- shapes that cannot be fitted).
SELECT c AS args,
	pg_temp.try(format('SELECT pg_temp.brief(lmm_fit%s) FROM hx', c)) AS lmm_fit,
	pg_temp.try(format('SELECT pg_temp.brief(lmm_stats%s) FROM hx', c)) AS lmm_stats
FROM (VALUES
	('(y, ARRAY[x1], g)'),
	('(y, ARRAY[x1], g, NULL::text)'),
	('(y, ARRAY[x1], g, ARRAY[x2], NULL::text)'),
	('(y, ARRAY[x1], g, CASE WHEN id > 1 THEN ''x_names=a'' END)'),
	('(y, ARRAY[x1], g, ARRAY[CASE WHEN id % 10 = 0 THEN NULL ELSE x2 END])'),
	('(y, ARRAY[x1], NULL)'),
	('(y, ARRAY[x1], NULL::int)'),
	('(NULL::float8, NULL::float8[], NULL::text, NULL::float8[], NULL::text)'),
	('(CASE WHEN id = 7 THEN ''Infinity''::float8 ELSE y END, ARRAY[x1], g)'),
	('(y, ARRAY[CASE WHEN id = 8 THEN ''-Infinity''::float8 ELSE x1 END], g)'),
	('(y, ARRAY[x1], g, ARRAY[CASE WHEN id = 9 THEN ''NaN''::float8 ELSE x2 END])'),
	('(y * 1e300, ARRAY[x1], g)'),
	('(y, ARRAY[x1 * 1e300], g)'),
	('(y, ARRAY[x1], g, ARRAY[x2 * 1e300])'),
	('(y * 1e150, ARRAY[x1], g)'),
	('(y * 1e-300, ARRAY[x1], g)'),
	('(y, ARRAY[x1], g, ARRAY[x2 * 1e8])'),
	('(y, ''{}''::float8[], g)'),
	('(y, ARRAY[x1], g, ''{}''::float8[])'),
	('(y, CASE WHEN id = 1 THEN ''{}''::float8[] ELSE ARRAY[x1] END, g)'),
	('(y, ARRAY[x1], g, ARRAY[[x2]])'),
	('(y, array_fill(x1, ARRAY[1], ARRAY[7]), g)'),
	('(y, array_fill(x1, ARRAY[1000]), g)'),
	('(y, array_fill(x1, ARRAY[100000]), g)'),
	('(y, ARRAY[x1], g) FILTER (WHERE false)'),
	('(y, ARRAY[x1], g) FILTER (WHERE id = 1)'),
	('(y, ARRAY[x1], 1)'),
	('(y, ARRAY[x1], id)'),
	('(y, ARRAY[x1], CASE WHEN id <= 200 THEN 0 ELSE id END)'),
	('(7.5, ARRAY[x1], g)'),
	('(y, ARRAY[x1, x1], g)'),
	('(y, ARRAY[x1, (g = 3)::int], g)'),
	('(y, ARRAY[x1, g], g)'),
	('(y, (SELECT array_agg((hx.g = k)::int) FROM generate_series(0, 11) k), g)'),
	('(y, ARRAY[x1], g, ARRAY[1.0])'),
	('(y, ARRAY[x1], g, ARRAY[(g = 3)::int])')
) v(c);
SELECT 1 AS server_answers;

-- the widest x there is (999 elements) fits, and finds the coefficients
-- of data made from two of them (read by lmm_predict at unit vectors:
-- lmm_fixef's Satterthwaite df cost seconds at p = 999); q = 20 (19
-- elements in z) is accepted
SELECT setseed(0.12);
CREATE TABLE hwide AS
SELECT i, i % 20 AS g, x, 2 * x[1] - x[999] + 0.01 * ((i % 20) / 4.0 + 2 * random()) AS y
FROM (SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 999) k WHERE k > -i) AS x
	  FROM generate_series(1, 1100) i) s;
SELECT n_obs, converged,
	round((lmm_predict(m, e1) - lmm_predict(m, e0))::numeric, 2) AS x1,
	round((lmm_predict(m, e999) - lmm_predict(m, e0))::numeric, 2) AS x999
FROM (SELECT lmm_fit(y, x, g) AS m FROM hwide) w, lmm_summary(m),
	(SELECT array_fill(0.0::float8, ARRAY[999]) AS e0,
			array_fill(0.0::float8, ARRAY[998]) || 1.0::float8 AS e999,
			1.0::float8 || array_fill(0.0::float8, ARRAY[998]) AS e1) e;
SELECT pg_temp.try('SELECT pg_temp.brief(lmm_stats(y, x[1:1], g, x[1:19])) FROM hwide');
DROP TABLE hwide;
SELECT 1 AS server_answers;

-- 2. group keys of many types: levels, their order, and the same levels
-- through lmm_stats (keys in binary form) and back
CREATE TYPE hkey AS (a int, b text);
CREATE DOMAIN hkey_dom AS int CHECK (VALUE >= 0);
CREATE TYPE hcolor AS ENUM ('red', 'green', 'blue');
SELECT c AS key, pg_temp.try(format($q$
	SELECT (SELECT count(*) || ' levels: '
				|| string_agg(replace(left(level, 12), E'\n', '\n'), ' | ' ORDER BY ord) FILTER (WHERE ord <= 4)
			FROM lmm_ranef(m) WITH ORDINALITY r(grp, level, term, estimate, cond_sd, ord))
		|| CASE WHEN (SELECT array_agg(level) FROM lmm_ranef(lmm_fit(s)))
				   = (SELECT array_agg(level) FROM lmm_ranef(m))
				THEN ' (same through lmm_stats)' ELSE ' (DIFFERENT through lmm_stats)' END
	FROM (SELECT lmm_fit(y, ARRAY[x1], %1$s) AS m, lmm_stats(y, ARRAY[x1], %1$s) AS s FROM hx) t $q$, c)) AS outcome
FROM (VALUES
	('g % 3 * CASE WHEN id % 2 = 0 THEN 1.0 ELSE 1.000 END'),
	('CASE g % 4 WHEN 0 THEN ''NaN''::float8 WHEN 1 THEN ''-0''::float8 WHEN 2 THEN 0 ELSE ''Infinity'' END'),
	('CASE WHEN id % 2 = 0 THEN interval ''1 day'' ELSE interval ''24 hours'' END * (g % 3)'),
	('(ARRAY[E''a"b'', E''back\\slash'', E''new\nline'', E''ctl\u0001'', '''', ''é🙂''])[g % 6 + 1]'),
	('repeat(''k'', 100000) || g % 3'),
	('ARRAY[g % 2, g % 3]'),
	('jsonb_build_object(''g'', g % 3)'),
	('int4range(g % 3, 5)'),
	('g % 3 = 0'),
	('decode(''00'' || lpad((g % 3)::text, 2, ''0''), ''hex'')'),
	('(g % 3)::hkey_dom'),
	('(ARRAY[''red'', ''green'', ''blue'']::hcolor[])[3 - g % 3]'),
	('ROW(CASE WHEN g % 3 > 0 THEN g % 3 END, NULL)::hkey'),
	('json_build_object(''g'', g % 3)'),
	('(''<g>'' || g || ''</g>'')::xml'),
	('ROW(g, ''anonymous'')')
) v(c);
SELECT pg_temp.try('SELECT pg_temp.brief(lmm_fit(y, ARRAY[x1], CASE WHEN g > 0 THEN ROW(g, ''k'')::hkey END)) FROM hx');
SELECT 1 AS server_answers;

-- 3. lmm_merge and lmm_fit(lmm_stats): NULLs, values of no usable rows,
-- one group, options
CREATE TABLE hstats AS
SELECT 'all' AS part, lmm_stats(y, ARRAY[x1], g) AS s FROM hx
UNION ALL SELECT 'dropped', lmm_stats(NULL::float8, ARRAY[x1], g) FROM hx
UNION ALL SELECT 'one group', lmm_stats(y, ARRAY[x1], 1) FROM hx
UNION ALL SELECT 'null', NULL;
SELECT c AS "case", pg_temp.try(c) AS outcome FROM (VALUES
	('SELECT pg_temp.brief(lmm_merge(s)) FROM hstats'),
	('SELECT pg_temp.brief(lmm_merge(s)) FROM hstats WHERE part IN (''dropped'', ''null'')'),
	('SELECT pg_temp.brief(lmm_merge(s)) FROM hstats WHERE part = ''null'''),
	('SELECT pg_temp.brief(lmm_merge(s)) FROM hstats WHERE false'),
	('SELECT pg_temp.brief(lmm_merge(s)) FROM (SELECT s FROM hstats WHERE part = ''all'' UNION ALL SELECT s FROM hstats WHERE part = ''all'') t'),
	('SELECT pg_temp.brief(lmm_fit(s, NULL)) FROM hstats WHERE part = ''all'''),
	('SELECT pg_temp.brief(lmm_fit(s, ''method=ml, method=ml'')) FROM hstats WHERE part = ''all'''),
	('SELECT pg_temp.brief(lmm_fit(s)) FROM hstats WHERE part = ''dropped'''),
	('SELECT pg_temp.brief(lmm_fit(s)) FROM hstats WHERE part = ''one group'''),
	('SELECT pg_temp.brief(lmm_fit(NULL::lmm_stats, ''method=ml''))'),
	('SELECT pg_temp.brief(lmm_fit(lmm_merge(s))) FROM hstats WHERE part IN (''all'', ''one group'')')
) v(c);
SELECT 1 AS server_answers;

-- 4. lmm_fit_terms: the spec, the arrays, the keys, the options
CREATE FUNCTION pg_temp.terms(args text, spec text DEFAULT
	'{"x": ["(Intercept)", "x1"], "terms": [{"group": "g", "z": ["(Intercept)"]}, {"group": "h", "z": ["(Intercept)"]}]}')
RETURNS text LANGUAGE sql AS $$
	SELECT pg_temp.try(format('SELECT pg_temp.brief(lmm_fit_terms(%s)) FROM hx',
		replace(args, 'SPEC', quote_literal(spec)))) $$;
SELECT c AS args, pg_temp.terms(c) AS outcome FROM (VALUES
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], NULL'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC, NULL'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC, ''method=ml'''),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC, ''x_names=a'''),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC, ''method=fast'''),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC, CASE WHEN id > 1 THEN ''method=ml'' END'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], CASE WHEN id > 1 THEN SPEC END'),
	('y, ARRAY[x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0], SPEC'),
	('y, ARRAY[[1, x1]], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[[g::text, (id % 5)::text]], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[[1.0, 1.0]], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, CASE WHEN id % 10 > 0 THEN (id % 5)::text END], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, CASE WHEN id % 10 > 0 THEN x1 END], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, (ARRAY['''', ''é'', ''🙂'', ''a:b'', E''\n''])[id % 5 + 1]], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, CASE WHEN id = 3 THEN ''NaN'' ELSE 1.0 END], SPEC'),
	('y, ARRAY[1, CASE WHEN id = 4 THEN ''-Infinity'' ELSE x1 END], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('CASE WHEN id = 5 THEN ''Infinity'' ELSE y END, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('y * 1e300, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1 * 1e300], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1e300], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC) FILTER (WHERE false'),
	('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC) FILTER (WHERE id = 1'),
	('y, ARRAY[1, x1], ARRAY[g::text, ''one''], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, id::text], ARRAY[1.0, 1.0], SPEC'),
	('7.5, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, 1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC'),
	('y, ARRAY[1, x1], ARRAY[g::text, g::text], ARRAY[1.0, 1.0], SPEC')
) v(c);
SELECT left(c, 60) AS spec, pg_temp.terms('y, ARRAY[1, x1], ARRAY[g::text, (id % 5)::text], ARRAY[1.0, 1.0], SPEC', c) AS outcome
FROM (VALUES
	('not json'), ('[]'), ('{}'), ('{"x": [], "terms": []}'),
	('{"x": ["a", "b"], "terms": [{"group": "g", "z": []}]}'),
	('{"x": ["a", 5], "terms": [{"group": "g", "z": ["a"]}, {"group": "h", "z": ["b"]}]}'),
	('{"x": ["a", "b"], "terms": [{"group": "g", "z": ["a"], "more": 1}]}'),
	('{"x": ["a", "b"], "terms": [{"group": "g", "z": ["a"]}, {"group": "h", "z": ["b"]}], "formula": 5}'),
	('{"x": ["a", "b"], "terms": ' || (SELECT jsonb_agg(jsonb_build_object('group', 'g' || k, 'z', '["a"]'::jsonb)) FROM generate_series(1, 9) k)::text || '}'),
	('{"x": ["a", "b"], "terms": [{"group": "g", "z": ' || (SELECT jsonb_agg('z' || k) FROM generate_series(1, 21) k)::text || '}]}'),
	('{"x": ' || (SELECT jsonb_agg('x' || k) FROM generate_series(1, 1001) k)::text || ', "terms": [{"group": "g", "z": ["a"]}]}'),
	('{"x": ["a", "b"], "terms": [{"group": "g", "z": ["a"]}, {"group": "h", "z": ["b"]}], "x": ["c", "d"]}'),
	(repeat('[', 100000))
) v(c);
SELECT 1 AS server_answers;

-- 5. lmm(formula, source [, options]): formulas that do not parse, names
-- that are not columns, quotes, comments and semicolons, sizes; sources
-- that are not tables; NULL arguments.  (10_formula has an unbalanced
-- parenthesis, unknown columns, an injection attempt and a source the
-- caller may not read.)
CREATE TABLE hf AS SELECT *, 'c' || (id % 3) AS f, point(id, id) AS pt, ('k' || id % 4) AS "Odd ""name"";" FROM hx;
SELECT left(c, 50) AS formula, pg_temp.try(format('SELECT pg_temp.brief(lmm(%L, ''hf''))', c)) AS outcome
FROM (VALUES
	(''), ('   '), ('~'), ('y ~'), ('~ x1'), ('y ~ x1 ~ x2'), ('y ~ x1 + (1 | g))'), ('y ~ x1 + ((1 | g)'),
	('y ~ (x1 + (1 | g)'), ('y ~ x1 + (1 | )'), ('y ~ x1 + ( | g)'), ('y ~ x1 + (1 | g | x2)'), ('y ~ x1 + (1 | g) +'),
	('y ~ `x1 + (1 | g)'), ('y ~ "x1" + (1 | g)'), ('y ~ ''x1'' + (1 | g)'), ('y ~ x1 -- comment' || chr(10) || '+ (1 | g)'),
	('y ~ x1 /* comment */ + (1 | g)'), ('y ~ $$x1$$ + (1 | g)'), ('y ~ x1 + (1 | `Odd "name";`)'),
	('y ~ x1 + (1 | `y; SELECT pg_sleep(10)`)'), ('y ~ x1 + (1 | g)' || chr(233)), (E'y\t~\tx1\n+ (1 | g)'),
	('y ~ x1 + (1 | ' || repeat('a', 64) || ')'), (repeat('(', 100000) || 'y ~ 1'),
	('y ~ ' || repeat('(', 50000) || 'x1' || repeat(')', 50000) || ' + (1 | g)'),
	('y ~ ' || repeat('x1 + ', 100) || '(1 | g)'), ('y ~ x1 + ' || repeat('(1 | g) + ', 9) || '(1 | g)'),
	('y ~ x1*x2*x1*x2*x1*x2*x1*x2*x1 + (1 | g)'), ('y ~ (x1 + x2)^999999999999 + (1 | g)'),
	('y ~ a:b:c:d:e:h:i:j:k + (1 | g)'), ('y ~ factor(id) + (1 | g)'), ('y ~ x1 + (factor(id) | g)'),
	('y ~ pt + (1 | g)'), ('y ~ x1 + (1 | pt)'), ('f ~ x1 + (1 | g)'), ('y ~ 0 + (1 | g)'), ('y ~ x1 + (0 | g)'),
	('y ~ x1'), ('y ~ x1 + (1 | G)'), ('y ~ I(x1^2) + (1 | g)'), ('y ~ . + (1 | g)')
) v(c);
CREATE INDEX hf_g ON hf (g);
CREATE SEQUENCE hseq;
CREATE VIEW hview AS SELECT * FROM hf WHERE id > 40;
CREATE MATERIALIZED VIEW hmat AS SELECT * FROM hf WHERE id <= 200;
CREATE TABLE hempty (LIKE hf);
SELECT c AS "case", pg_temp.try(c) AS outcome FROM (VALUES
	('SELECT pg_temp.brief(lmm(NULL, ''hf''))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g)'', NULL))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g)'', ''hf'', NULL))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g)'', ''hf'', ''method=ml''))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g)'', ''hf'', ''x_names=a''))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g)'', 0))'),
	('SELECT pg_temp.brief(lmm(''g ~ 1 + (1 | g)'', ''hf_g''))'),
	('SELECT pg_temp.brief(lmm(''last_value ~ 1 + (1 | is_called)'', ''hseq''))'),
	('SELECT pg_temp.brief(lmm(''a ~ 1 + (1 | b)'', ''hkey''))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g)'', ''hview''))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g)'', ''hmat''))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g)'', ''hempty''))'),
	('SELECT pg_temp.brief(lmm(''y ~ f + (1 | g)'', ''hempty''))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g) + (1 | f)'', ''hf''))'),
	('SELECT count(*)::text FROM hf')
) v(c);
SELECT 1 AS server_answers;

-- 6. what reads a model: NULL models and options, option values, models
-- of other data, and scoring with NULL, NaN, infinite, huge, misshapen or
-- mistyped arguments
CREATE TABLE hm AS
SELECT lmm_fit(y, ARRAY[x1], g, ARRAY[x2]) AS m, lmm_fit(y, ARRAY[x1], g) AS m1,
	lmm_fit(y, ARRAY[x1 / 1000], g) AS m2, lmm('y ~ x1 + (1 | g)', 'hx') AS mt,
	lmm('y ~ f + (1 | g)', 'hf') AS mf FROM hx;
SELECT c AS "case", pg_temp.try('SELECT ' || c || ' FROM hm') AS outcome FROM (VALUES
	('(SELECT count(*)::text FROM lmm_fixef(NULL))'),
	('(SELECT count(*)::text FROM lmm_varcorr(NULL))'),
	('(SELECT count(*)::text FROM lmm_ranef(NULL))'),
	('(SELECT count(*)::text FROM lmm_summary(NULL))'),
	('coalesce(lmm_print(NULL), ''NULL'')'),
	('(SELECT count(*)::text FROM lmm_anova(m, NULL))'),
	('(SELECT count(*)::text FROM lmm_confint(NULL))'),
	('(SELECT count(*)::text FROM lmm_confint(m1, NULL))'),
	('(SELECT string_agg(round(lower::numeric, 2) || '','' || round(upper::numeric, 2), '' '') FROM lmm_confint(m1, '' ''))'),
	('(SELECT count(*)::text FROM lmm_confint(m1, '',''))'),
	('(SELECT count(*)::text FROM lmm_confint(m1, ''method=wald,''))'),
	('(SELECT count(*)::text FROM lmm_confint(m1, ''level=nan''))'),
	('(SELECT count(*)::text FROM lmm_confint(m1, ''level=inf''))'),
	('(SELECT count(*)::text FROM lmm_confint(m1, ''level=1e-300''))'),
	('(SELECT count(*)::text FROM lmm_confint(m1, ''=wald''))'),
	('(SELECT count(*)::text FROM lmm_anova(m1, m1))'),
	('(SELECT count(*)::text FROM lmm_anova(m1, ''type=2''))'),
	('(SELECT count(*)::text FROM lmm_anova(m1, ''type=''))'),
	('(SELECT count(*)::text FROM lmm_anova(m1, ''ddf=none,ddf=none''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(NULL, ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(mt, NULL))'),
	('(SELECT count(*)::text FROM lmm_ls_means(mt, ''x1'', NULL))'),
	('(SELECT count(*)::text FROM lmm_ls_means(mt, ''x1''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(m1, ''''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(mt, repeat(''x1:'', 100000)))'),
	('(SELECT string_agg(level, '' '') FROM lmm_ls_means(lmm(''y ~ f * x1 + (1 | g)'', ''hf''), ''f'', ''pairwise=true''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(lmm(''y ~ f:x1 + (1 | g)'', ''hf''), ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(mf, ''f'', ''pairwise=''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(mf, ''f'', ''level=nan''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(mf, ''f'', ''ddf=kenward-roger''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(mf, ''f'', ''pairwise=on, level=0.5''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(jsonb_set(mf::text::jsonb, ''{factors,f}'', ''["c0"]'')::text::lmm_model, ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(jsonb_set(mf::text::jsonb, ''{factors,f}'', ''["c0", "c0", "c1"]'')::text::lmm_model, ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(jsonb_set(mf::text::jsonb, ''{factors,f}'', ''["c0", "c1", "c2", "c3"]'')::text::lmm_model, ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(jsonb_set(mf::text::jsonb, ''{factors,f}'', ''[0, 1, 2]'')::text::lmm_model, ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(jsonb_set(mf::text::jsonb, ''{factors}'', ''{}'')::text::lmm_model, ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(jsonb_set(mf::text::jsonb, ''{factors}'', ''["f"]'')::text::lmm_model, ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(jsonb_set(mf::text::jsonb, ''{factors,""}'', ''["a", "b"]'')::text::lmm_model, ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(jsonb_set(mf::text::jsonb, ''{factors,f}'', (SELECT jsonb_agg(k::text) FROM generate_series(1, 1001) k))::text::lmm_model, ''f''))'),
	('(SELECT count(*)::text FROM lmm_ls_means(jsonb_set(jsonb_set(mf::text::jsonb, ''{factors}'', ''{"f": ["c0", "c1", "c2"]}''), ''{lmm_model}'', ''3'')::text::lmm_model, ''f''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(NULL, 10))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, NULL))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, NULL))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(m1, 5))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 0))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, -2147483648))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 2147483647))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 1000001))'),
	('(SELECT string_agg(round(lower::numeric, 2) || '','' || round(upper::numeric, 2), '' '') FROM lmm_bootstrap(mt, 20, '' ''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, '',''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''=''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''level=1''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''level=nan''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''level=1e-300''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''seed=abc''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''seed=''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''seed=99999999999999999999''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''seed=-9223372036854775808''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''seed=1, seed=1''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''method=bca''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''method=PERCENTILE''))'),
	('(SELECT count(*)::text FROM lmm_bootstrap(mt, 5, ''nsim=5''))'),
	('(SELECT count(*)::text FROM lmm_contrast(m1, NULL))'),
	('(SELECT count(*)::text FROM lmm_contrast(NULL, ARRAY[1.0, 0.0]))'),
	('(SELECT estimate::text FROM lmm_contrast(m1, ARRAY[1e308, 1e308]))'),
	('(SELECT concat_ws('','', num_df, f_value IS NOT NULL) FROM lmm_contrast(m1, ARRAY[[1.0, 0.0], [0.0, 1.0]], ''ddf=none''))'),
	('(SELECT count(*)::text FROM lmm_contrast(m1, ARRAY[1.0, 0.0], '',''))'),
	('(SELECT count(*)::text FROM lmm_fixef(m1, NULL))'),
	('(SELECT count(*)::text FROM lmm_fixef(m1, ''ddf=''))'),
	('(SELECT count(df)::text FROM lmm_fixef(m1, ''ddf=none''))'),
	('(SELECT count(*)::text FROM lmm_fixef(m1, ''ddf=kenward-roger''))'),
	('(SELECT count(*)::text FROM lmm_fixef(lmm(''y ~ x1 + (1 | g)'', ''hx'', ''method=ml''), ''ddf=kenward-roger''))'),
	('(SELECT string_agg(pg_temp.num(df), '','') FROM lmm_fixef(lmm(''y ~ x1 + (x1 | f)'', ''hf''), ''ddf=kenward-roger''))'),
	('(SELECT estimate::text FROM lmm_contrast(lmm(''y ~ x1 + (1 | g)'', ''hx''), ARRAY[1e308, 1e308], ''ddf=kenward-roger''))'),
	('(SELECT concat_ws('','', num_df, f_value) FROM lmm_contrast(lmm(''y ~ x1 + (1 | g)'', ''hx''), ARRAY[[0.0, 0.0]], ''ddf=kenward-roger''))'),
	('(SELECT concat_ws('','', num_df, pg_temp.num(den_df)) FROM lmm_contrast(lmm(''y ~ x1 + (1 | g)'', ''hx''), ARRAY[[1e-300, 0.0], [0.0, 1e300]], ''ddf=kenward-roger''))'),
	('(SELECT string_agg(concat_ws('','', num_df, pg_temp.num(den_df)), '';'') FROM lmm_anova(lmm(''y ~ x1 + x2 + (1 | g) + (1 | f)'', ''hf''), ''ddf=kenward-roger, type=1''))'),
	('(SELECT count(*)::text FROM lmm_anova(m1, (SELECT lmm_fit(y, ARRAY[x1], g) FROM hx WHERE id > 1)))'),
	('(SELECT count(*)::text FROM lmm_anova(m1, (SELECT lmm_fit(y * 2, ARRAY[x1], g) FROM hx)))'),
	('lmm_predict(m, NULL)'),
	('lmm_predict(NULL, ARRAY[1.0])'),
	('lmm_predict(m, ARRAY[NULL::float8])'),
	('lmm_predict(m, ARRAY[''NaN''::float8])'),
	('lmm_predict(m, ARRAY[''Infinity''::float8])'),
	('round((lmm_predict(m2, ARRAY[1e300]) / 1e300)::numeric, 1)'),
	('lmm_predict(m2, ARRAY[1e306])'),
	('lmm_predict(m, ''{}''::float8[])'),
	('lmm_predict(m, ARRAY[[1.0]])'),
	('lmm_predict(m, ARRAY[1.0], 3)'),
	('lmm_predict(m, ARRAY[1.0], NULL::int, ARRAY[1.0])'),
	('lmm_predict(m, ARRAY[1.0], 3, NULL)'),
	('lmm_predict(m, ARRAY[1.0], 3, ARRAY[''-Infinity''::float8])'),
	('lmm_predict(m, ARRAY[1.0], 3, ARRAY[1.0, 2.0])'),
	('lmm_predict(m, ARRAY[1.0], 3::bigint, ARRAY[1.0])'),
	('lmm_predict(m, ARRAY[1.0], ''abc''::text, ARRAY[1.0])'),
	('round(lmm_predict(m, ARRAY[1.0], 300, ARRAY[1.0])::numeric, 3)'),
	('round(lmm_predict(m1, ARRAY[1.0], ''3'')::numeric, 3)'),
	('lmm_blup(m, NULL::int)'),
	('lmm_blup(m, 3, NULL)'),
	('lmm_blup(m, 3, ''no such term'')'),
	('lmm_blup(m, 3.5)'),
	('lmm_blup(m, 300)'),
	('lmm_blup(m, ''''::text)'),
	('lmm_residual(m, ''NaN'', ARRAY[1.0], 3, ARRAY[1.0])'),
	('lmm_residual(m2, 1.7e308, ARRAY[-3e305], 3)'),
	('lmm_residual(m, NULL, ARRAY[1.0], 3, ARRAY[1.0])'),
	('lmm_residual(m1, 1.0, ARRAY[1.0], 3, ARRAY[1.0])'),
	('lmm_residual(m, 1.0, ARRAY[1.0], 3)')
) v(c);
SELECT 1 AS server_answers;

-- 7. malformed lmm_model and lmm_stats text: explicit input and output
-- calls, deep nesting, huge claimed sizes, non-finite numbers, types that
-- cannot be group keys
CREATE TABLE hsmall AS
SELECT lmm_fit(y, ARRAY[x1], g % 3, ARRAY[x2]) AS m, lmm_stats(y, ARRAY[x1], g % 3) AS s FROM hx;
-- the same statistics in lmm 0.6's JSON text form (means and co-moments),
-- which is still read: its hostile variants go through that reader
ALTER TABLE hsmall ADD COLUMN sj jsonb;
UPDATE hsmall SET sj = (
	SELECT jsonb_build_object('lmm_stats', 1, 'key_type', 'integer', 'g_name', 'g',
		'x_names', NULL, 'z_names', NULL, 'n_dropped', 0, 'p', 2, 'q', 1, 'n', count(*),
		'mean', jsonb_build_array(avg(x1), avg(y)),
		'comom', jsonb_build_array(
			jsonb_build_array(var_pop(x1) * count(*), covar_pop(x1, y) * count(*)),
			jsonb_build_array(covar_pop(x1, y) * count(*), var_pop(y) * count(*))),
		'keys', (SELECT jsonb_agg(k::text ORDER BY k) FROM (SELECT DISTINCT g % 3 AS k FROM hx) u),
		'levels', (SELECT jsonb_agg(jsonb_build_array(n, mx, my) ORDER BY k)
				   FROM (SELECT g % 3 AS k, count(*) AS n, avg(x1) AS mx, avg(y) AS my FROM hx GROUP BY 1) l))
	FROM hx);
SELECT pg_temp.brief(sj::text::lmm_stats) AS legacy_text_reads FROM hsmall;
SELECT left(c, 90) AS "case", pg_temp.try(c) AS outcome FROM (VALUES
	('SELECT (length(lmm_model_out(m)::text) > 0)::text FROM hsmall'),
	('SELECT (lmm_model_in(lmm_model_out(m))::text = m::text)::text FROM hsmall'),
	('SELECT (length(lmm_stats_out(s)::text) > 0)::text FROM hsmall'),
	('SELECT (lmm_stats_in(lmm_stats_out(s))::text = s::text)::text FROM hsmall'),
	('SELECT (lmm_model_send(m) = lmm_model_send(m::text::lmm_model))::text FROM hsmall'),
	('SELECT (lmm_stats_send(s) = lmm_stats_send(s::text::lmm_stats))::text FROM hsmall'),
	('SELECT lmm_model_in(NULL)::text'),
	('SELECT lmm_model_in('''')::text'),
	('SELECT lmm_stats_in(''{"lmm_stats": 1'')::text'),
	('SELECT ' || quote_literal(repeat('[', 100000)) || '::lmm_model::text'),
	('SELECT ' || quote_literal(repeat('{"a": ', 100000)) || '::lmm_stats::text'),
	('SELECT jsonb_set(m::text::jsonb, ''{n_groups}'', ''1e15'')::text::lmm_model::text FROM hsmall'),
	('SELECT jsonb_set(m::text::jsonb, ''{n_obs}'', ''-5'')::text::lmm_model::text FROM hsmall'),
	('SELECT jsonb_set(m::text::jsonb, ''{sigma}'', ''"NaN"'')::text::lmm_model::text FROM hsmall'),
	('SELECT jsonb_set(m::text::jsonb, ''{random,0,theta,0}'', ''1e400'')::text::lmm_model::text FROM hsmall'),
	('SELECT jsonb_set(m::text::jsonb, ''{random,0,terms}'', (SELECT jsonb_agg(''z'' || k) FROM generate_series(1, 21) k))::text::lmm_model::text FROM hsmall'),
	('SELECT jsonb_set(m::text::jsonb, ''{fixef,terms}'', (SELECT jsonb_agg(''x'' || k) FROM generate_series(1, 1000) k))::text::lmm_model::text FROM hsmall'),
	('SELECT jsonb_set(sj, ''{mean,0}'', ''1e400'')::text::lmm_stats::text FROM hsmall'),
	('SELECT jsonb_set(jsonb_set(sj, ''{p}'', ''1000''), ''{q}'', ''20'')::text::lmm_stats::text FROM hsmall'),
	('SELECT jsonb_set(sj, ''{keys}'', (SELECT jsonb_agg(''''::text) FROM generate_series(1, 100000) k))::text::lmm_stats::text FROM hsmall'),
	('SELECT jsonb_set(sj, ''{n_dropped}'', ''-1'')::text::lmm_stats::text FROM hsmall'),
	('SELECT jsonb_set(sj, ''{x_names}'', (SELECT jsonb_agg(''x'' || k) FROM generate_series(1, 1001) k))::text::lmm_stats::text FROM hsmall')
) v(c);
-- the key type of statistics as text: pseudo-types, types without hashing,
-- names that do not parse, the type itself
SELECT c AS key_type, pg_temp.try(format('SELECT pg_temp.brief(%L::lmm_stats)',
	jsonb_set(sj, '{key_type}', to_jsonb(c))::text)) AS outcome
FROM hsmall, (VALUES ('bigint'), ('text'), ('internal'), ('anyelement'), ('cstring'), ('void'),
	('record'), ('trigger'), ('lmm_stats'), ('integer[]'), ('bit(1)'), ('hkey'), (''), ('(Intercept)'),
	('int; DROP TABLE hx')) v(c);
SELECT 1 AS server_answers;

-- 8. mutations of the JSON text: every value of a small model and of small
-- statistics replaced by each of a few hostile values.  Every mutation is
-- refused (22P02; 42704 for a key type that does not exist) or accepted;
-- every accepted model then goes through every function that reads a
-- model, which return finite numbers or an error, never NaN or Infinity.
CREATE FUNCTION pg_temp.paths(j jsonb, prefix text[] DEFAULT '{}') RETURNS SETOF text[]
LANGUAGE sql AS $$
	SELECT prefix WHERE prefix <> '{}'
	UNION ALL
	SELECT p FROM jsonb_each(CASE WHEN jsonb_typeof(j) = 'object' THEN j ELSE '{}' END) e,
		pg_temp.paths(e.value, prefix || e.key) p
	UNION ALL
	SELECT p FROM jsonb_array_elements(CASE WHEN jsonb_typeof(j) = 'array' THEN j ELSE '[]' END)
		WITH ORDINALITY a(v, i), pg_temp.paths(a.v, prefix || (a.i - 1)::text) p $$;
CREATE TABLE hmut AS
SELECT t.kind, p, v, jsonb_set(t.j, p, v::jsonb)::text AS txt
FROM (SELECT 'lmm_model' AS kind, m::text::jsonb AS j FROM hsmall
	  UNION ALL SELECT 'lmm_stats', sj FROM hsmall) t,
	pg_temp.paths(t.j) p,
	unnest(ARRAY['-1', '0', '0.5', '1e308', '-1e-320', '123456789012', '"x"', 'null', '[]', '{}', 'true']) v;
ALTER TABLE hmut ADD COLUMN outcome text;
UPDATE hmut SET outcome = pg_temp.try(format('SELECT length(%L::%s::text)', txt, kind));
SELECT kind, count(*) > 300 AS many_mutations, string_agg(DISTINCT split_part(outcome, ':', 1), ', ') AS outcomes
FROM hmut GROUP BY kind ORDER BY kind;
CREATE TABLE hused AS
SELECT f, pg_temp.try(format(sql, txt)) AS outcome
FROM hmut, (VALUES
	('fixef', $q$SELECT string_agg(concat_ws(',', estimate, std_error, t_value, df, p_value, conf_low, conf_high), ';') FROM lmm_fixef(%L::lmm_model)$q$),
	('varcorr', $q$SELECT string_agg(concat_ws(',', variance, std_dev, corr), ';') FROM lmm_varcorr(%L::lmm_model)$q$),
	('ranef', $q$SELECT string_agg(concat_ws(',', estimate, cond_sd), ';') FROM lmm_ranef(%L::lmm_model)$q$),
	('summary', $q$SELECT concat_ws(',', criterion, loglik, aic, bic, sigma, theta) FROM lmm_summary(%L::lmm_model)$q$),
	('print', $q$SELECT lmm_print(%L::lmm_model)$q$),
	('confint wald', $q$SELECT string_agg(concat_ws(',', estimate, lower, upper), ';') FROM lmm_confint(%L::lmm_model, 'method=wald')$q$),
	('confint profile', $q$SELECT string_agg(concat_ws(',', estimate, lower, upper), ';') FROM lmm_confint(%L::lmm_model)$q$),
	('anova', $q$SELECT string_agg(concat_ws(',', aic, bic, loglik, deviance, chisq, p_value), ';') FROM lmm_anova(%L::lmm_model, (SELECT m FROM hsmall))$q$),
	('anova F', $q$SELECT string_agg(concat_ws(',', sum_sq, den_df, f_value, p_value), ';') FROM lmm_anova(%L::lmm_model, 'type=1')$q$),
	('bootstrap', $q$SELECT string_agg(concat_ws(',', estimate, lower, upper), ';') FROM lmm_bootstrap(%L::lmm_model, 3)$q$),
	('contrast', $q$SELECT concat_ws(',', c.estimate, c.std_error, c.den_df, c.p_value) FROM (SELECT %L::lmm_model AS m) s, lmm_contrast(s.m, array_fill(1.0::float8, ARRAY[(SELECT count(*)::int FROM lmm_fixef(s.m))])) c$q$),
	('fixef kr', $q$SELECT string_agg(concat_ws(',', estimate, std_error, t_value, df, p_value, conf_low, conf_high), ';') FROM lmm_fixef(%L::lmm_model, 'ddf=kenward-roger')$q$),
	('score', $q$SELECT concat_ws(',', lmm_predict(m, ARRAY[1.0]), lmm_predict(m, ARRAY[1.0], 1, ARRAY[2.0]), lmm_blup(m, 2, 'z1'), lmm_residual(m, 1, ARRAY[1.0], '0', ARRAY[1.0])) FROM (SELECT %L::lmm_model AS m) s$q$)
) fs(f, sql)
WHERE kind = 'lmm_model' AND outcome LIKE 'ok%';
SELECT f AS reader, count(*) > 100 AS many_accepted_models,
	count(*) FILTER (WHERE outcome ~* 'nan|infinity') AS non_finite_outputs,
	string_agg(DISTINCT split_part(outcome, ':', 1), ', ') AS outcomes
FROM hused GROUP BY f ORDER BY f;
SELECT count(*) > 10 AS some_accepted_statistics,
	count(*) FILTER (WHERE pg_temp.try(format('SELECT pg_temp.brief(lmm_fit(%L::lmm_stats))', txt)) ~* 'nan|infinity') AS non_finite_fits
FROM hmut WHERE kind = 'lmm_stats' AND outcome LIKE 'ok%';
SELECT 1 AS server_answers;

-- 9. malformed binary input (COPY ... FORMAT binary, the types' receive
-- functions): every truncation, and every byte inverted in turn
CREATE TABLE hbin_model (m lmm_model);
CREATE TABLE hbin_stats (s lmm_stats);
CREATE FUNCTION pg_temp.copy_in(tbl text, payload bytea, label text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	f bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea
		|| '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea;
	path text := '/tmp/lmm_14_hostile_' || pg_backend_pid() || '.bin';
	lo oid := lo_from_bytea(0, f);
	st text;
	det text;
BEGIN
	PERFORM lo_export(lo, path);
	PERFORM lo_unlink(lo);
	BEGIN
		EXECUTE format('COPY %I FROM %L (FORMAT binary)', tbl, path);
		INSERT INTO hostile_log (sql, state) VALUES (label, 'ok');
		RETURN 'ok';
	EXCEPTION WHEN OTHERS THEN
		GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, det = PG_EXCEPTION_DETAIL;
		INSERT INTO hostile_log (sql, state, helped) VALUES (label, st, coalesce(det, '') <> '');
		RETURN st;
	END;
END $$;
CREATE TABLE hbytes AS
SELECT 'hbin_model' AS tbl, 'lmm_model_recv' AS fn, lmm_model_send(m) AS b FROM hsmall
UNION ALL SELECT 'hbin_stats', 'lmm_stats_recv', lmm_stats_send(s) FROM hsmall;
SELECT fn,
	(SELECT string_agg(DISTINCT pg_temp.copy_in(tbl, substring(b FROM 1 FOR n), fn || ' truncated'), ', ')
	 FROM generate_series(0, length(b) - 1) n) AS every_truncation,
	(SELECT string_agg(DISTINCT pg_temp.copy_in(tbl, set_byte(b, n, 255 - get_byte(b, n)), fn || ' byte inverted'), ', ')
	 FROM generate_series(0, length(b) - 1) n) AS every_byte_inverted,
	pg_temp.copy_in(tbl, b, fn || ' intact') AS intact
FROM hbytes ORDER BY fn;
-- what was accepted reads and fits without NaN or Infinity
SELECT count(*) > 100 AS many_accepted_models,
	count(*) FILTER (WHERE pg_temp.try(format('SELECT string_agg(concat_ws('','', estimate, std_error, t_value, df, conf_low, conf_high), '';'') FROM lmm_fixef(%L::lmm_model)', m::text)) ~* 'nan|infinity') AS non_finite_fixef,
	count(*) FILTER (WHERE pg_temp.try(format('SELECT string_agg(concat_ws('','', variance, std_dev, corr), '';'') FROM lmm_varcorr(%L::lmm_model)', m::text)) ~* 'nan|infinity') AS non_finite_varcorr
FROM hbin_model;
SELECT count(*) > 10 AS some_accepted_statistics,
	count(*) FILTER (WHERE pg_temp.try(format('SELECT pg_temp.brief(lmm_fit(%L::lmm_stats))', s::text)) ~* 'nan|infinity') AS non_finite_fits
FROM hbin_stats;
SELECT 1 AS server_answers;

-- 10. errors raised in parallel workers keep their SQLSTATE; a NULL
-- partial state and options that differ between workers' rows
CREATE TABLE hpar AS SELECT * FROM hx, generate_series(1, 20) rep;
ANALYZE hpar;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
\i test/helpers/plan.psql
SELECT pg_temp.plan('SELECT lmm_fit(y, ARRAY[x1], g) FROM hpar') AS plan;
SELECT c AS "case", pg_temp.try_parallel(c) AS outcome FROM (VALUES
	('SELECT pg_temp.brief(lmm_fit(y, ARRAY[x1], g)) FROM hpar'),
	('SELECT pg_temp.brief(lmm_fit(CASE WHEN rep = 20 AND id = 240 THEN ''NaN'' ELSE y END, ARRAY[x1], g)) FROM hpar'),
	('SELECT pg_temp.brief(lmm_fit(y * 1e300, ARRAY[x1], g)) FROM hpar'),
	('SELECT pg_temp.brief(lmm_fit(y, ARRAY[x1], g, ARRAY[[x2]])) FROM hpar'),
	('SELECT pg_temp.brief(lmm_fit(CASE WHEN rep < 20 THEN y END, ARRAY[x1], g)) FROM hpar'),
	('SELECT pg_temp.brief(lmm_fit(NULL::float8, ARRAY[x1], g)) FROM hpar'),
	('SELECT pg_temp.brief(lmm_stats(y, ARRAY[x1], (g, rep)::hkey)) FROM hpar'),
	('SELECT pg_temp.brief(lmm_fit(lmm_merge(s))) FROM (SELECT lmm_stats(y, ARRAY[x1], g) s FROM hpar GROUP BY rep) t'),
	('SELECT pg_temp.brief(lmm_fit(lmm_stats_terms(y * 1e300, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0], ''{"x": ["a", "b"], "terms": [{"group": "g", "z": ["a"]}]}''))) FROM hpar'),
	('SELECT pg_temp.brief(lmm_fit(lmm_merge(s))) FROM (SELECT lmm_stats_terms(y, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0], ''{"x": ["a", "b"], "terms": [{"group": "g", "z": ["a"]}]}'') s FROM hpar GROUP BY rep) t')
) v(c);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
DROP TABLE hpar;
-- the aggregates' support functions take "internal" and cannot be called from SQL
SELECT pg_temp.try('SELECT lmm_fit_final(NULL::internal)');
SELECT 1 AS server_answers;

-- lmm_create_key_forms with awkward types: pseudo-types, a shell type, no
-- type at all, a
-- type without binary input and output, and an enum whose schema's and
-- own names hold quotes and spaces, whose forms then fit
SELECT pg_temp.try($q$SELECT count(*) FROM lmm_create_key_forms('record')$q$);
SELECT pg_temp.try($q$SELECT count(*) FROM lmm_create_key_forms('internal')$q$);
CREATE TYPE hostile_shell;
SELECT pg_temp.try($q$SELECT count(*) FROM lmm_create_key_forms((SELECT oid FROM pg_type WHERE typname = 'hostile_shell')::regtype)$q$);
SELECT pg_temp.try($q$SELECT count(*) FROM lmm_create_key_forms(4000000000::oid::regtype)$q$);
DROP TYPE hostile_shell;
SELECT pg_temp.try($q$SELECT count(*) FROM lmm_create_key_forms('gtsvector')$q$);
CREATE SCHEMA "we""ird schema";
CREATE TYPE "we""ird schema"."odd ""type""" AS ENUM ('a b', 'c"d', 'e');
SELECT pg_temp.try($q$SELECT count(*) FILTER (WHERE created) FROM lmm_create_key_forms('"we""ird schema"."odd ""type"""')$q$);
SELECT pg_temp.try($q$SELECT string_agg(level, '|') FROM lmm_ranef((SELECT lmm_fit(i % 5 + i % 3 * 0.5 + sin(i), ARRAY[cos(i)], (enum_range(NULL::"we""ird schema"."odd ""type"""))[1 + i % 3]) FROM generate_series(1, 60) i))$q$);
DROP SCHEMA "we""ird schema" CASCADE;

-- 11. privileges: no function runs with its owner's rights or its own
-- settings; lmm() reads with the caller's rights, so row-level security
-- and column privileges hold (10_formula: a role without SELECT gets
-- "permission denied")
SELECT p.proname AS security_definer_or_set
FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lmm')
  AND (p.prosecdef OR p.proconfig IS NOT NULL);
CREATE ROLE lmm_hostile_reader;
GRANT USAGE ON SCHEMA public TO lmm_hostile_reader;
GRANT SELECT (y, x1, g, f) ON hf TO lmm_hostile_reader;
ALTER TABLE hf ENABLE ROW LEVEL SECURITY;
CREATE POLICY hf_half ON hf FOR SELECT TO lmm_hostile_reader USING (id <= 120);
SET ROLE lmm_hostile_reader;
SELECT c AS "case", pg_temp.try(c) AS outcome FROM (VALUES
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | g)'', ''hf''))'),
	('SELECT pg_temp.brief(lmm(''y ~ f + (1 | g)'', ''hf''))'),
	('SELECT pg_temp.brief(lmm(''y ~ x1 + (1 | id)'', ''hf''))'),
	('SELECT pg_temp.brief(lmm(''y ~ x2 + (1 | g)'', ''hf''))'),
	('SELECT pg_temp.brief(lmm_fit(lmm_stats(''y ~ x1 + (1 | g)'', ''hf'')))'),
	('SELECT pg_temp.brief(lmm_fit(lmm_stats(''y ~ x2 + (1 | g)'', ''hf'')))'),
	('SELECT pg_temp.brief(lmm_fit(y, ARRAY[x1], g)) FROM hf'),
	('SELECT pg_temp.brief(lmm_fit(y, ARRAY[x1], g)) FROM hx')
) v(c);
RESET ROLE;
DROP POLICY hf_half ON hf;
REVOKE ALL ON hf FROM lmm_hostile_reader;
REVOKE ALL ON hostile_log, hostile_log_n_seq FROM PUBLIC;
REVOKE USAGE ON SCHEMA public FROM lmm_hostile_reader;
DROP ROLE lmm_hostile_reader;
SELECT 1 AS server_answers;

-- 12. statistics of several terms: lmm_stats(formula, source) and
-- lmm_stats_terms on hostile arguments, lmm_merge and lmm_fit of what they
-- make, and every third byte of a small value's binary form set to 0xff in
-- its text form (each refused with a reason, or accepted and fitted)
CREATE TABLE htstats AS
SELECT 'formula'::text AS part, lmm_stats('y ~ x1 + (1 | g) + (1 | f)', 'hf') AS s
UNION ALL
SELECT 'terms', lmm_stats_terms(y, ARRAY[1, x1], ARRAY[g::text, f], ARRAY[1.0, 1.0],
	'{"x": ["(Intercept)", "x1"], "terms": [{"group": "g", "z": ["(Intercept)"]}, {"group": "f", "z": ["(Intercept)"]}]}') FROM hf;
SELECT c AS "case", pg_temp.try(c) AS outcome FROM (VALUES
	('SELECT pg_temp.brief(lmm_fit(s)) FROM htstats WHERE part = ''formula'''),
	('SELECT pg_temp.brief(lmm_fit(s, ''method=ml'')) FROM htstats WHERE part = ''terms'''),
	('SELECT pg_temp.brief(lmm_fit(s, ''g_name=a'')) FROM htstats WHERE part = ''terms'''),
	('SELECT pg_temp.brief(lmm_fit(lmm_merge(s))) FROM htstats'),
	('SELECT pg_temp.brief(lmm_fit(lmm_merge(s))) FROM (SELECT s FROM htstats WHERE part = ''terms'' UNION ALL SELECT s FROM hstats) u'),
	('SELECT pg_temp.brief(lmm_fit(lmm_merge(s))) FROM (SELECT s FROM hstats UNION ALL SELECT s FROM htstats WHERE part = ''terms'') u'),
	('SELECT pg_temp.brief(lmm_fit(lmm_merge(s))) FROM (SELECT s FROM htstats WHERE part = ''formula'' UNION ALL SELECT NULL) u'),
	('SELECT pg_temp.brief(lmm_fit(lmm_stats(''y ~ x1 + (1 | g)'', ''hempty'')))'),
	('SELECT lmm_stats(NULL, ''hf'')::text'),
	('SELECT lmm_stats(''y ~ x1 + (1 | g)'', NULL)::text'),
	('SELECT lmm_stats(''y ~ x1 + (1 | g)'', 0)::text'),
	('SELECT lmm_stats(''y ~ pt + (1 | g)'', ''hf'')::text'),
	('SELECT lmm_stats(''y ~ x1 + (1 | g)'', ''hseq'')::text'),
	('SELECT pg_temp.brief(lmm_fit(lmm_stats(''y ~ x1 + (1 | g) + (1 | id)'', ''hf'')))'),
	('SELECT row(i.*)::text FROM lmm_stats_info(NULL::lmm_stats) i'),
	('SELECT row(i.*)::text FROM lmm_stats_info(''{"lmm_stats": 2, "hex": "4c4d4d74"}''::lmm_stats) i'),
	('SELECT row(i.*)::text FROM lmm_stats_info((SELECT lmm_stats(y, ARRAY[x1], g) FROM hf WHERE false)) i'),
	('SELECT row(i.*)::text FROM hf, lmm_stats_info(lmm_stats(''y ~ x1 + (1 | g)'', ''hf'')) i LIMIT 1'),
	('SELECT pg_temp.brief(lmm_fit(lmm_stats_terms(y, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0], NULL))) FROM hf'),
	('SELECT pg_temp.brief(lmm_fit(lmm_stats_terms(y, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0, 2.0], ''{"x": ["a", "b"], "terms": [{"group": "g", "z": ["a"]}]}''))) FROM hf'),
	('SELECT pg_temp.brief(lmm_fit(lmm_stats_terms(y * 1e300, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0], ''{"x": ["a", "b"], "terms": [{"group": "g", "z": ["a"]}]}''))) FROM hf'),
	('SELECT pg_temp.brief(lmm_fit(lmm_stats_terms(y, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0], ''{"x": ["a", "b"], "terms": [{"group": "g", "z": ["a"]}]}'') FILTER (WHERE false))) FROM hf')
) v(c);
CREATE TABLE htmut AS
SELECT k, pg_temp.try(format('SELECT pg_temp.brief(lmm_fit(%L::lmm_stats))',
	overlay(t PLACING 'ff' FROM 40 + 2 * k FOR 2))) AS outcome
FROM (SELECT s::text AS t, length(s::text) AS len
	  FROM (SELECT lmm_stats('y ~ 1 + (1 | g) + (1 | f)', 'hf') AS s) v) v,
	generate_series(0, (len - 42) / 2 - 1, 3) k;
SELECT count(*) > 100 AS mutations, count(*) FILTER (WHERE outcome LIKE 'ok:%') > 0 AS some_accepted,
	count(*) FILTER (WHERE outcome ~ '^22P02: invalid input syntax for type lmm_stats') > 0 AS some_refused,
	count(*) FILTER (WHERE outcome ~ '^XX') AS internal_errors
FROM htmut;
DROP TABLE htstats, htmut;
SELECT 1 AS server_answers;

-- 12b. generalized models: hostile options, responses, weights, offsets,
-- formulas, residuals and family sections
CREATE TABLE hglmm AS SELECT id, g, x1, (y > 13)::int AS b, (id % 5)::float8 AS cnt,
	(id % 4)::float8 AS w, ln(1 + id % 3) AS lo, (y > 13) AS yb
FROM hx;
CREATE TABLE hgm AS SELECT lmm('cnt ~ x1 + offset(lo) + (1 | g)', 'hglmm', 'family=poisson') AS m;
SELECT c AS "case", pg_temp.try(c) AS outcome FROM (VALUES
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ''family=binomial, family=poisson'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ''family=binomial, link='')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ''family=binomial, link=log'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ''family=binomial, nagq=-1'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ''family=binomial, nagq=1.5'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ''weights='')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ''family=binomial, nagq=0'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, w, lo, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ''NaN''::float8, 0::float8, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ''Infinity''::float8, 0::float8, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, NULL::float8, 0::float8, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, 0::float8, 0::float8, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, ARRAY[x1], 1::float8, ''-Infinity''::float8, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(cnt * 1e300, ARRAY[x1], g, 1::float8, 0::float8, ''family=poisson'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1 * 1e300], g, 1::float8, 0::float8, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], g, 1::float8, 1e300::float8, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(b, ARRAY[x1], 1, 1::float8, 0::float8, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit(0, ARRAY[x1], g, 1::float8, 0::float8, ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit_terms(b, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0], 1::float8, 0::float8, ''{"x": ["a", "b"], "cbind": true, "terms": [{"group": "g", "z": ["a"]}]}'', ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit_terms(b, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0], 1::float8, 0::float8, ''{"x": ["a", "b"], "cbind": 1, "terms": [{"group": "g", "z": ["a"]}]}'', ''family=binomial'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm_fit_terms(b, ARRAY[1, x1], ARRAY[g::text], ARRAY[1.0], ''{"x": ["a", "b"], "terms": [{"group": "g", "z": ["a"]}]}'', ''family=binomial, weights=w'')) FROM hglmm'),
	('SELECT pg_temp.brief(lmm(''cbind(cnt, w) ~ x1 + (1 | g)'', ''hglmm'', ''family=binomial''))'),
	('SELECT pg_temp.brief(lmm(''yb ~ x1 + offset(lo) + offset(lo) + (1 | g)'', ''hglmm'', ''family=binomial''))'),
	('SELECT pg_temp.brief(lmm(''cnt ~ x1 + offset(yb) + (1 | g)'', ''hglmm'', ''family=poisson''))'),
	('SELECT pg_temp.brief(lmm(''cnt ~ x1 + (1 | g)'', ''hglmm'', ''family=poisson, weights=nosuch''))'),
	('SELECT pg_temp.brief(lmm(''cnt ~ x1 + (1 | g)'', ''hglmm'', ''family=poisson, weights=yb''))'),
	('SELECT pg_temp.brief(lmm(''cbind(cnt, w ~ x1 + (1 | g)'', ''hglmm'', ''family=binomial''))'),
	('SELECT pg_temp.brief(lmm(''cnt ~ offset() + (1 | g)'', ''hglmm'', ''family=poisson''))'),
	('SELECT pg_temp.brief(lmm(''cnt ~ x1 + (1 | g) + (1 | id)'', ''hglmm'', ''family=poisson, nagq=3''))'),
	('SELECT lmm_inverse_link(m, ''NaN'') FROM hgm'),
	('SELECT lmm_inverse_link(m, 1e308) FROM hgm'),
	('SELECT lmm_inverse_link(NULL, 1)'),
	('SELECT lmm_inverse_link(lmm_fit(y, ARRAY[x1], g), 1.5) FROM hx'),
	('SELECT lmm_residual(m, ''NaN'', 0.5) FROM hgm'),
	('SELECT lmm_residual(m, 1, 0.5, ''deviance'', -1) FROM hgm'),
	('SELECT lmm_residual(m, -1, 0.5) FROM hgm'),
	('SELECT lmm_residual(m, 1, 0.5, NULL) FROM hgm'),
	('SELECT lmm_residual(m, 1, 0.5, ''PEARSON'', 2) FROM hgm'),
	('SELECT lmm_residual(lmm_fit(y, ARRAY[x1], g), 1, 0.5, ''pearson'') FROM hx'),
	('SELECT pg_temp.brief(replace(m::text, ''"link": "log"'', ''"link": "logit"'')::lmm_model) FROM hgm'),
	('SELECT pg_temp.brief(replace(m::text, ''"nagq": 1'', ''"nagq": 99'')::lmm_model) FROM hgm'),
	('SELECT pg_temp.brief(replace(m::text, ''"family": "poisson"'', ''"family": "gaussian"'')::lmm_model) FROM hgm'),
	('SELECT pg_temp.brief(replace(m::text, '', "family": {"family": "poisson", "link": "log", "nagq": 1}'', '''')::lmm_model) FROM hgm'),
	('SELECT length(lmm_model_send(m)) > 0 FROM hgm'),
	('SELECT * FROM lmm_anova((SELECT m FROM hgm), (SELECT lmm(''cnt ~ x1 + (1 | g)'', ''hglmm'')))')
) v(c);

-- 13. every function and aggregate of the extension (but the aggregates'
-- support functions, run by the aggregates above, in parallel too) was
-- fed something here
SELECT DISTINCT p.proname AS never_called
FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE d.refclassid = 'pg_extension'::regclass
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lmm')
  AND NOT EXISTS (SELECT 1 FROM pg_aggregate a
				  WHERE p.oid IN (a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn))
  AND NOT EXISTS (SELECT 1 FROM hostile_log l WHERE l.sql ~ ('\m' || p.proname || '\M'));
-- no error was XX000 (internal), and these are all the errors without a
-- detail or hint: PostgreSQL's own (parser, key types' input functions,
-- privileges, object kinds), raised before or around our code
SELECT count(*) > 5000 AS many_cases, count(*) FILTER (WHERE state = 'XX000') AS internal_errors
FROM hostile_log;
SELECT state, min(left(regexp_replace(sql, '\s+', ' ', 'g'), 90)) AS example
FROM hostile_log WHERE state <> 'ok' AND NOT helped GROUP BY state ORDER BY state;
DROP TABLE hostile_log, hx, hstats, hf, hempty, hm, hsmall, hmut, hused, hbin_model, hbin_stats, hbytes CASCADE;
DROP SEQUENCE hseq;
DROP TYPE hkey, hcolor;
DROP DOMAIN hkey_dom;
SELECT 'still alive' AS server;
