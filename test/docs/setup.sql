-- The tables that the examples of README.md and docs/*.md run against
-- (test/docs/run.sh loads this file inside the transaction that it rolls
-- back at the end).  The data sets are the bundled ones of test/data; the
-- synthetic tables are made as the pg_regress tests make them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;

CREATE TABLE sleepstudy (reaction float8, days int, subject text);
\copy sleepstudy FROM 'test/data/sleepstudy.csv' CSV HEADER
CREATE TABLE dyestuff (batch text, yield float8);
\copy dyestuff FROM 'test/data/dyestuff.csv' CSV HEADER
CREATE TABLE penicillin (diameter float8, plate text, sample text);
\copy penicillin FROM 'test/data/penicillin.csv' CSV HEADER
CREATE TABLE pastes (strength float8, batch text, cask text, sample text);
\copy pastes FROM 'test/data/pastes.csv' CSV HEADER
CREATE TABLE cake (replicate int, recipe text, temperature text, angle float8, temp float8);
\copy cake FROM 'test/data/cake.csv' CSV HEADER
CREATE TABLE ratings (y float8, x float8, a text, b text);
\copy ratings FROM 'test/data/ratings.csv' CSV HEADER
CREATE TABLE oats (yield float8, nitro float8, variety text, block text);
\copy oats FROM 'test/data/oats.csv' CSV HEADER
CREATE TABLE machines (score float8, machine text, worker text);
\copy machines FROM 'test/data/machines.csv' CSV HEADER
-- generalized models (docs/glmm.md): lme4's cbpp, a Poisson set with exposures
CREATE TABLE cbpp (herd int, incidence int, size int, period text, failures int, prop float8);
\copy cbpp FROM 'test/data/cbpp.csv' CSV HEADER
CREATE TABLE visits (clinic int, x float8, exposure float8, logexp float8, events int);
\copy visits FROM 'test/data/poisson_offset.csv' CSV HEADER

-- patients of 40 doctors in two regions, y a mobility score (the data of
-- test/sql/01_quickstart.sql)
SELECT setseed(0.42);
CREATE TABLE doctors AS
SELECT d AS doctor_id, (d % 2 = 0)::int AS region_even, 3 * (random() - 0.5) AS effect
FROM generate_series(1, 40) d;
CREATE TABLE patients AS
SELECT row_number() OVER () AS id, d.doctor_id,
	CASE WHEN d.region_even = 1 THEN 'north' ELSE 'south' END AS region,
	a.age, a.married, a.sex,
	10 - 0.05 * a.age + 0.8 * a.married - 0.5 * a.sex + d.effect + (random() - 0.5) * 4 AS y
FROM doctors d,
	LATERAL (SELECT 30 + (random() * 50)::int AS age, (random() < 0.6)::int AS married,
				(random() < 0.5)::int AS sex, i
			 FROM generate_series(1, 5 + d.doctor_id % 7) i) a;

-- events of the last five days, 40 groups with a random intercept and slope
-- (as test/sql/07_stats.sql)
SELECT setseed(0.29);
CREATE TABLE events AS
SELECT i AS id, current_date - (i % 5) AS day, 'g' || (i % 40) AS g, x1, x2,
	2 + 0.4 * x1 + 0.1 * x2 + e.u + 0.3 * e.v * x1 + random() AS y
FROM (SELECT i, random() * 3 AS x1, random() * 20 AS x2 FROM generate_series(1, 3000) i) s
JOIN (SELECT j, random() AS u, random() AS v FROM generate_series(0, 39) j) e ON e.j = s.i % 40;

-- 300 groups spread over every page (as test/sql/06_parallel.sql, smaller);
-- measurements is the same table under the name of the sharding examples
SELECT setseed(0.17);
CREATE TABLE par AS
SELECT i AS id, i % 300 AS g, x1, x2,
	5 + 0.7 * x1 - 0.3 * x2 + e.u0 + e.u1 * x1 + random() AS y
FROM (SELECT i, random() * 4 AS x1, random() * 10 AS x2 FROM generate_series(1, 12000) i) s
JOIN (SELECT j, random() AS u0, 0.5 * random() AS u1 FROM generate_series(0, 299) j) e
	ON e.j = s.i % 300;
CREATE TABLE measurements AS SELECT *, (id % 7)::text AS h FROM par;

-- 60 plates with a random slope on x crossed with 13 samples, in two halves
-- (as test/sql/17_terms_stats.sql)
SELECT setseed(0.17);
CREATE TABLE crossed AS
SELECT id, plate, sample, x, 20 + 0.5 * x + pe.u + se.u + pe.v * x + random() AS y
FROM (SELECT i AS id, 'p' || (i % 60) AS plate, 's' || (i % 37 / 3) AS sample, random() * 3 AS x
	  FROM generate_series(1, 5000) i) r
JOIN (SELECT j, 2 * random() AS u, 0.3 * random() AS v FROM generate_series(0, 59) j) pe ON 'p' || pe.j = plate
JOIN (SELECT j, 3 * random() AS u FROM generate_series(0, 12) j) se ON 's' || se.j = sample;
CREATE VIEW first_half AS SELECT * FROM crossed WHERE id <= 2500;
CREATE VIEW second_half AS SELECT * FROM crossed WHERE id > 2500;
RESET client_min_messages;
