-- lmm_model's text (JSON) and binary forms round-trip exactly, and every
-- malformed input is an error.
CREATE TABLE io_models AS
SELECT 1 AS id, lmm_fit(reaction, ARRAY[days], subject, ARRAY[days], 'x_names=days, z_names=days') AS m FROM sleepstudy
UNION ALL
SELECT 2, lmm_fit(yield, ARRAY[]::float8[], batch, 'method=ml') FROM dyestuff;

-- the text form is JSON that json tools read
SELECT id, (m::text::jsonb)->>'method' AS method, (m::text::jsonb)->'fixef'->'terms' AS terms,
	jsonb_array_length((m::text::jsonb)->'random'->0->'levels') AS levels
FROM io_models ORDER BY id;

-- text round trip: identical value, identical float8s
SELECT id, m::text::lmm_model::text = m::text AS same_text,
	(SELECT array_agg(estimate) FROM lmm_ranef(m::text::lmm_model)) = (SELECT array_agg(estimate) FROM lmm_ranef(m)) AS same_blups,
	(SELECT array_agg(std_error) FROM lmm_fixef(m::text::lmm_model)) = (SELECT array_agg(std_error) FROM lmm_fixef(m)) AS same_se
FROM io_models ORDER BY id;

-- binary round trip through COPY
\copy io_models TO 'results/io_models.bin' WITH (FORMAT binary)
CREATE TABLE io_back (LIKE io_models);
\copy io_back FROM 'results/io_models.bin' WITH (FORMAT binary)
SELECT a.id, a.m::text = b.m::text AS same FROM io_models a JOIN io_back b USING (id) ORDER BY a.id;
SELECT lmm_model_send(m) = lmm_model_send(m::text::lmm_model) AS same_bytes FROM io_models WHERE id = 1;

-- malformed binary input: truncated, wrong version, claimed sizes, trailing bytes
CREATE TABLE bad_bin (id int, b bytea);
INSERT INTO bad_bin
SELECT 1, substring(lmm_model_send(m) FROM 1 FOR 100) FROM io_models WHERE id = 2
UNION ALL SELECT 2, overlay(lmm_model_send(m) PLACING '\x00000009'::bytea FROM 5) FROM io_models WHERE id = 2
UNION ALL SELECT 3, overlay(lmm_model_send(m) PLACING '\x7fffffffffffffff'::bytea FROM 21) FROM io_models WHERE id = 2
UNION ALL SELECT 4, lmm_model_send(m) || '\x00'::bytea FROM io_models WHERE id = 2
UNION ALL SELECT 5, '\xdeadbeef'::bytea
UNION ALL SELECT 6, overlay(lmm_model_send(m) PLACING '\x7ff0000000000000'::bytea FROM 57) FROM io_models WHERE id = 2;
CREATE TABLE bad_model (m lmm_model);
\copy (SELECT b FROM bad_bin WHERE id = 1) TO 'results/bad.bin' WITH (FORMAT binary)
\copy bad_model FROM 'results/bad.bin' WITH (FORMAT binary)
\copy (SELECT b FROM bad_bin WHERE id = 2) TO 'results/bad.bin' WITH (FORMAT binary)
\copy bad_model FROM 'results/bad.bin' WITH (FORMAT binary)
\copy (SELECT b FROM bad_bin WHERE id = 3) TO 'results/bad.bin' WITH (FORMAT binary)
\copy bad_model FROM 'results/bad.bin' WITH (FORMAT binary)
\copy (SELECT b FROM bad_bin WHERE id = 4) TO 'results/bad.bin' WITH (FORMAT binary)
\copy bad_model FROM 'results/bad.bin' WITH (FORMAT binary)
\copy (SELECT b FROM bad_bin WHERE id = 5) TO 'results/bad.bin' WITH (FORMAT binary)
\copy bad_model FROM 'results/bad.bin' WITH (FORMAT binary)
\copy (SELECT b FROM bad_bin WHERE id = 6) TO 'results/bad.bin' WITH (FORMAT binary)
\copy bad_model FROM 'results/bad.bin' WITH (FORMAT binary)
SELECT count(*) AS accepted FROM bad_model;
-- a level twice (batch B relabelled A): refused in binary as in text
CREATE TABLE dup_level AS
SELECT overlay(b PLACING '\x0000000141'::bytea FROM position('\x0000000142'::bytea IN b)) AS b
FROM (SELECT lmm_model_send(m) AS b FROM io_models WHERE id = 2) s;
\copy (SELECT b FROM dup_level) TO 'results/bad.bin' WITH (FORMAT binary)
\copy bad_model FROM 'results/bad.bin' WITH (FORMAT binary)
SELECT jsonb_set((m::text)::jsonb, '{random,0,levels,1}', (m::text)::jsonb->'random'->0->'levels'->0)::text::lmm_model
FROM io_models WHERE id = 2;

-- malformed text input
SELECT 'not json'::lmm_model;
SELECT '[1, 2]'::lmm_model;
SELECT '{}'::lmm_model;
SELECT jsonb_set((m::text)::jsonb, '{lmm_model}', '5')::text::lmm_model FROM io_models WHERE id = 2;
SELECT jsonb_set((m::text)::jsonb, '{sigma}', '-1')::text::lmm_model FROM io_models WHERE id = 2;
SELECT jsonb_set((m::text)::jsonb, '{sigma}', '"x"')::text::lmm_model FROM io_models WHERE id = 2;
SELECT jsonb_set((m::text)::jsonb, '{n_groups}', '7')::text::lmm_model FROM io_models WHERE id = 2;
SELECT jsonb_set((m::text)::jsonb, '{method}', '"OLS"')::text::lmm_model FROM io_models WHERE id = 2;
SELECT jsonb_set((m::text)::jsonb, '{fixef,estimate}', '[1, 2]')::text::lmm_model FROM io_models WHERE id = 2;
SELECT jsonb_set((m::text)::jsonb, '{random,0,b,0}', '[1e400]')::text::lmm_model FROM io_models WHERE id = 2;
SELECT ((m::text)::jsonb || '{"extra": 1}')::text::lmm_model FROM io_models WHERE id = 2;
SELECT ((m::text)::jsonb - 'criterion')::text::lmm_model FROM io_models WHERE id = 2;
SELECT 'still alive' AS server;
