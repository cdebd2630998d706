-- Several-term models keep their keys' types: integer keys of lmm() (and
-- of lmm_fit_terms with "key_type" in the spec) are ordered by value,
-- recorded in the model and scored through the integer index; composite
-- keys (a:b, a/b) and keys of other types stay text.
SET extra_float_digits = 0;
CREATE TABLE tk AS
SELECT i, a, b, a::int2 AS a2, a::bigint * 1000000000000 AS a8, a::text AS at,
	md5(a::text)::uuid AS au, b::text AS bt, x,
	1 + 0.5 * x + sin(a * 1.7) + 0.6 * cos(b * 2.3) + 0.4 * sin(i * 2.9) AS y
FROM (SELECT i, i % 12 + 1 AS a, (i * 7) % 5 + 1 AS b, sin(i * 0.37) AS x
	  FROM generate_series(1, 240) i) s;

-- integer keys come out in numeric order, as text they sort as text
CREATE TABLE tk_models (name text PRIMARY KEY, m lmm_model NOT NULL);
INSERT INTO tk_models VALUES
	('int4', lmm('y ~ x + (1 | a) + (1 | b)', 'tk')),
	('int2', lmm('y ~ x + (1 | a2) + (1 | b)', 'tk')),
	('int8', lmm('y ~ x + (1 | a8) + (1 | b)', 'tk')),
	('text', lmm('y ~ x + (1 | at) + (1 | bt)', 'tk')),
	('uuid', lmm('y ~ x + (1 | au) + (1 | b)', 'tk')),
	('nested', lmm('y ~ x + (1 | a/b)', 'tk'));
SELECT name, string_agg(level, ',' ORDER BY ord) AS levels
FROM tk_models, lmm_ranef(m) WITH ORDINALITY r(grp, level, term, estimate, cond_sd, ord)
WHERE name IN ('int4', 'int2', 'text') AND grp IN ('a', 'a2', 'at')
GROUP BY name ORDER BY name;
SELECT string_agg(level, ',' ORDER BY ord) AS int8_levels
FROM tk_models, lmm_ranef(m) WITH ORDINALITY r(grp, level, term, estimate, cond_sd, ord)
WHERE name = 'int8' AND grp = 'a8' AND ord <= 3;
-- each term's key type, in the text form too; a:b stays text
SELECT name, string_agg(r->>'grp' || ' ' || (r->>'key_type'), ', ') AS key_types
FROM tk_models, jsonb_array_elements(m::text::jsonb->'random') r
GROUP BY name ORDER BY name;

-- the same numbers with text keys score the same to the last bit: the int4
-- model made text-keyed through its text form
WITH t AS (SELECT m AS typed, replace(m::text, '"key_type": "integer"', '"key_type": "text"')::lmm_model AS as_text
		   FROM tk_models WHERE name = 'int4')
SELECT count(*) AS rows,
	max(abs(lmm_predict(typed, ARRAY[x], ARRAY[a::text, b::text])
			- lmm_predict(as_text, ARRAY[x], ARRAY[a::text, b::text]))) AS max_diff,
	max(abs(lmm_blup(typed, a, 'a') - lmm_blup(as_text, a::text, 'a'))) AS max_blup_diff
FROM tk, t;
-- and match the model's own fitted values, fixed part plus both terms' modes
WITH m AS (SELECT name, m FROM tk_models WHERE name IN ('int4', 'int2', 'int8', 'text', 'uuid')),
f AS (SELECT name, max(estimate) FILTER (WHERE term = '(Intercept)') AS b0,
			 max(estimate) FILTER (WHERE term = 'x') AS b1 FROM m, lmm_fixef(m.m) GROUP BY name),
r AS (SELECT name, grp, level, estimate FROM m, lmm_ranef(m.m))
SELECT m.name, count(*) AS rows,
	max(abs(CASE m.name
			WHEN 'int4' THEN lmm_predict(m.m, ARRAY[t.x], ARRAY[t.a::text, t.b::text])
			WHEN 'int2' THEN lmm_predict(m.m, ARRAY[t.x], ARRAY[t.a2::text, t.b::text])
			WHEN 'int8' THEN lmm_predict(m.m, ARRAY[t.x], ARRAY[t.a8::text, t.b::text])
			WHEN 'text' THEN lmm_predict(m.m, ARRAY[t.x], ARRAY[t.at, t.bt])
			ELSE lmm_predict(m.m, ARRAY[t.x], ARRAY[t.au::text, t.b::text]) END
		- (f.b0 + f.b1 * t.x + ra.estimate + rb.estimate))) < 1e-12 AS fitted
FROM tk t, m JOIN f USING (name)
JOIN r ra ON ra.name = m.name AND ra.grp IN ('a', 'a2', 'a8', 'at', 'au')
JOIN r rb ON rb.name = m.name AND rb.grp IN ('b', 'bt')
WHERE ra.level = CASE m.name WHEN 'int4' THEN t.a::text WHEN 'int2' THEN t.a2::text
		WHEN 'int8' THEN t.a8::text WHEN 'text' THEN t.at ELSE t.au::text END
	AND rb.level = t.b::text
GROUP BY m.name ORDER BY m.name;
-- integer- and text-keyed fits of the same data are the same model
SELECT max(abs(lmm_predict(i.m, ARRAY[t.x], ARRAY[t.a::text, t.b::text])
			   - lmm_predict(s.m, ARRAY[t.x], ARRAY[t.at, t.bt]))) < 1e-6 AS same_fit
FROM tk t, tk_models i, tk_models s WHERE i.name = 'int4' AND s.name = 'text';

-- BLUPs by a key of the term's type, or as text; a key of another type is an error
SELECT lmm_blup(m, 10, 'a') = lmm_blup(m, '10', 'a') AS int4_key,
	lmm_blup(m, '010', 'a') = lmm_blup(m, 10, 'a') AS read_as_integer,
	lmm_blup(m, 99, 'a') IS NULL AS unseen,
	lmm_blup(m, 3, 'b', '(Intercept)') = lmm_blup(m, '3', 'b') AS by_column
FROM tk_models WHERE name = 'int4';
SELECT lmm_blup(m, 10::int2, 'a2') = lmm_blup(m, '10', 'a2') AS int2_key FROM tk_models WHERE name = 'int2';
SELECT lmm_blup(m, 10000000000000::bigint, 'a8') = lmm_blup(m, '10000000000000', 'a8') AS int8_key
FROM tk_models WHERE name = 'int8';
SELECT lmm_blup(m, md5('10')::uuid::text, 'au') IS NOT NULL AS uuid_key_as_text FROM tk_models WHERE name = 'uuid';
\set VERBOSITY default
SELECT lmm_blup(m, 10::bigint, 'a') FROM tk_models WHERE name = 'int4';
SELECT lmm_predict(m, ARRAY[0.5], ARRAY['ten', '1']) FROM tk_models WHERE name = 'int4';
SELECT lmm_blup(m, '70000', 'a2') FROM tk_models WHERE name = 'int2';
\set VERBOSITY terse
-- a nested term's key is 'a:b' text; its outer factor keeps the integer type
SELECT lmm_predict(m, ARRAY[0.5], ARRAY['3:2', '3']) = lmm_predict(m, ARRAY[0.5], ARRAY['3:2', '03']) AS nested
FROM tk_models WHERE name = 'nested';

-- the binary and text forms round trip
SELECT name, m::text::lmm_model::text = m::text AS same_text,
	lmm_model_send(m) = lmm_model_send(m::text::lmm_model) AS same_bytes
FROM tk_models ORDER BY name;

-- lmm_fit_terms takes a term's key type in the spec
SELECT string_agg(level, ',' ORDER BY ord) AS levels
FROM (SELECT lmm_fit_terms(y, ARRAY[1, x], ARRAY[a::text, b::text], ARRAY[1.0, 1.0],
		'{"x": ["(Intercept)", "x"], "terms": [{"group": "a", "z": ["(Intercept)"], "key_type": "bigint"},
		  {"group": "b", "z": ["(Intercept)"]}]}') AS m FROM tk) s,
	lmm_ranef(m) WITH ORDINALITY r(grp, level, term, estimate, cond_sd, ord)
WHERE grp = 'a';
\set VERBOSITY default
SELECT lmm_fit_terms(y, ARRAY[1, x], ARRAY[CASE WHEN i = 7 THEN '07' ELSE a::text END, b::text], ARRAY[1.0, 1.0],
	'{"x": ["(Intercept)", "x"], "terms": [{"group": "a", "z": ["(Intercept)"], "key_type": "integer"},
	  {"group": "b", "z": ["(Intercept)"]}]}') FROM tk;
SELECT lmm_fit_terms(y, ARRAY[1, x], ARRAY[a::text, b::text], ARRAY[1.0, 1.0],
	'{"x": ["(Intercept)", "x"], "terms": [{"group": "a", "z": ["(Intercept)"], "key_type": "uuid"},
	  {"group": "b", "z": ["(Intercept)"]}]}') FROM tk;
\set VERBOSITY terse

-- a model stored out of line is read piece by piece up to its last level
-- records: the same predictions as the model in memory
CREATE TABLE tk_big AS
SELECT i, i % 3000 AS a, (i * 7) % 40 AS b, sin(i * 0.37) AS x,
	1 + 0.5 * sin(i * 0.37) + sin((i % 3000) * 1.7) + 0.3 * cos(((i * 7) % 40) * 2.3) + 0.4 * sin(i * 2.9) AS y
FROM generate_series(1, 12000) i;
CREATE TABLE tk_big_model AS SELECT lmm('y ~ x + (1 | a) + (1 | b)', 'tk_big') AS m;
SELECT pg_column_size(m) > 8192 AS out_of_line FROM tk_big_model;
WITH mem AS MATERIALIZED (SELECT lmm('y ~ x + (1 | a) + (1 | b)', 'tk_big') AS m)
SELECT count(*) AS rows,
	count(*) FILTER (WHERE lmm_predict(s.m, ARRAY[t.x], ARRAY[t.a::text, t.b::text])
					 = lmm_predict(mem.m, ARRAY[t.x], ARRAY[t.a::text, t.b::text])) AS same,
	count(*) FILTER (WHERE lmm_blup(s.m, t.a, 'a') = lmm_blup(mem.m, t.a, 'a')) AS same_blups
FROM tk_big t, tk_big_model s, mem;
DROP TABLE tk, tk_models, tk_big, tk_big_model;
