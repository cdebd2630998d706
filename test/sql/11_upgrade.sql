-- ALTER EXTENSION lmm UPDATE from 0.2.0 (through every later version)
-- gives the objects of a fresh install of the current version: functions
-- and the aggregates' support functions.  It drops the extension (and the
-- tables using it); the tests after it run on the updated extension.
SET client_min_messages = warning;
CREATE TEMP TABLE fresh AS
SELECT p.oid::regprocedure::text AS fn, pg_get_function_result(p.oid) AS result, p.proargnames,
	p.provolatile, p.proisstrict, p.proparallel, p.procost, obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'lmm';
CREATE TEMP VIEW aggs AS
SELECT a.aggfnoid::regprocedure::text AS agg, a.aggtransfn::regprocedure::text AS trans,
	a.aggfinalfn::regproc::text AS final, a.aggcombinefn::regproc::text AS combine,
	a.aggserialfn::regproc::text AS serial, a.aggdeserialfn::regproc::text AS deserial
FROM pg_aggregate a JOIN pg_depend d ON d.objid = a.aggfnoid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'lmm';
CREATE TEMP TABLE fresh_aggs AS SELECT * FROM aggs;
CREATE TEMP TABLE fresh_types AS
SELECT typname, typstorage FROM pg_type WHERE typname IN ('lmm_model', 'lmm_stats');
DROP EXTENSION lmm CASCADE;
CREATE EXTENSION lmm VERSION '0.2.0';
SELECT proargnames AS fixef_0_2 FROM pg_proc WHERE oid = 'lmm_fixef(lmm_model)'::regprocedure;
-- statistics stored before the update load and fit after it
CREATE TABLE stored_stats AS
SELECT lmm_stats(reaction, ARRAY[days], subject, ARRAY[days], 'x_names=days') AS s FROM sleepstudy;
ALTER EXTENSION lmm UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'lmm';
-- the types' storage too (lmm_model's is external since 0.6.0)
SELECT t.typname, t.typstorage AS upgraded, f.typstorage AS fresh
FROM pg_type t JOIN fresh_types f USING (typname) ORDER BY 1;
CREATE TEMP TABLE upgraded AS
SELECT p.oid::regprocedure::text AS fn, pg_get_function_result(p.oid) AS result, p.proargnames,
	p.provolatile, p.proisstrict, p.proparallel, p.procost, obj_description(p.oid, 'pg_proc') AS comment
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'lmm';
SELECT count(*) AS functions FROM fresh;
(SELECT * FROM fresh EXCEPT SELECT * FROM upgraded)
UNION ALL
(SELECT * FROM upgraded EXCEPT SELECT * FROM fresh);
SELECT count(*) AS aggregates, count(combine) FILTER (WHERE combine <> '-') AS parallel FROM fresh_aggs;
(SELECT * FROM fresh_aggs EXCEPT SELECT * FROM aggs)
UNION ALL
(SELECT * FROM aggs EXCEPT SELECT * FROM fresh_aggs);
-- the new functions of 0.7.0 exist and work after the update
SELECT 'lmm_stats(text, regclass)'::regprocedure AS formula_stats,
	'lmm_stats_terms(float8, float8[], text[], float8[], text)'::regprocedure AS stats_terms;
SELECT (lmm_summary(lmm_fit(lmm_merge(s)))).n_obs AS merged_terms_rows
FROM (SELECT lmm_stats('reaction ~ days + (days | subject)', 'sleepstudy') s
	  UNION ALL SELECT lmm_stats('reaction ~ days + (days | subject)', 'sleepstudy')) u;
SELECT count(*) AS bootstrap_rows
FROM lmm_bootstrap(lmm('reaction ~ days + (days | subject)', 'sleepstudy'), 5);
SELECT level, round(estimate::numeric, 4) AS ls_mean
FROM lmm_ls_means(lmm('angle ~ recipe + temp + (1 | replicate)', 'cake'), 'recipe');
-- the upgraded extension fits and tests
SELECT term, round(df::numeric, 3) AS df, p_value < 1e-6 AS small_p
FROM lmm_fixef((SELECT lmm_fit(reaction, ARRAY[days], subject, ARRAY[days], 'x_names=days') FROM sleepstudy));
SELECT term, round(estimate::numeric, 6) AS stored_before_update
FROM lmm_fixef((SELECT lmm_fit(s) FROM stored_stats));
DROP TABLE stored_stats;
