-- lmm: linear mixed models fitted where the data live.
-- The Makefile copies this file to lmm--VERSION.sql.

\echo Use "CREATE EXTENSION lmm" to load this file. \quit

-- The fitted model -------------------------------------------------------

CREATE TYPE lmm_model;

CREATE FUNCTION lmm_model_in(cstring) RETURNS lmm_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_model_out(lmm_model) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_model_recv(internal) RETURNS lmm_model
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_model_send(lmm_model) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE lmm_model (
	INPUT = lmm_model_in,
	OUTPUT = lmm_model_out,
	RECEIVE = lmm_model_recv,
	SEND = lmm_model_send,
	INTERNALLENGTH = VARIABLE,
	STORAGE = extended
);

COMMENT ON TYPE lmm_model IS 'a fitted linear mixed model; its text form is JSON';
COMMENT ON FUNCTION lmm_model_in(cstring) IS 'parse and validate the JSON text form of lmm_model';
COMMENT ON FUNCTION lmm_model_out(lmm_model) IS 'JSON text form of lmm_model (exact float8 round trip)';
COMMENT ON FUNCTION lmm_model_recv(internal) IS 'binary input of lmm_model, validated as the text input is';
COMMENT ON FUNCTION lmm_model_send(lmm_model) IS 'binary output of lmm_model (portable, big-endian)';

-- The lmm_fit aggregate -----------------------------------------------------

CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, text)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[])
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[], text)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
-- STABLE: level labels come from the key type's output function, which may
-- follow DateStyle or TimeZone
CREATE FUNCTION lmm_fit_final(internal) RETURNS lmm_model
	AS 'MODULE_PATHNAME', 'lmm_fit_final'
	LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement) IS 'lmm_fit transition: add one row to the per-group statistics';
COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, text) IS 'lmm_fit transition: add one row to the per-group statistics';
COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[]) IS 'lmm_fit transition: add one row to the per-group statistics';
COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[], text) IS 'lmm_fit transition: add one row to the per-group statistics';
COMMENT ON FUNCTION lmm_fit_final(internal) IS 'lmm_fit final: optimize the REML/ML criterion and solve the mixed model equations';

CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement, options text) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement, z float8[]) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement, z float8[], options text) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement) IS 'REML fit of y ~ 1 + x + (1 | g)';
COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement, text) IS 'fit of y ~ 1 + x + (1 | g) with options (method=reml|ml, x_names=..., g_name=...)';
COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement, float8[]) IS 'REML fit of y ~ 1 + x + (1 + z | g), correlated random effects';
COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement, float8[], text) IS 'fit of y ~ 1 + x + (1 + z | g) with options (method=reml|ml, x_names=..., z_names=..., g_name=...)';

-- Results as rows -------------------------------------------------------

CREATE FUNCTION lmm_fixef(m lmm_model,
	OUT term text, OUT estimate float8, OUT std_error float8, OUT t_value float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION lmm_fixef(lmm_model) IS 'fixed effects: estimate, standard error and t value per term, intercept first';

CREATE FUNCTION lmm_varcorr(m lmm_model,
	OUT grp text, OUT term1 text, OUT term2 text,
	OUT variance float8, OUT std_dev float8, OUT corr float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION lmm_varcorr(lmm_model) IS 'variance components as lme4''s as.data.frame(VarCorr(m)): variances, covariances with correlations, residual';

CREATE FUNCTION lmm_ranef(m lmm_model,
	OUT grp text, OUT level text, OUT term text,
	OUT estimate float8, OUT cond_sd float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 1000;
COMMENT ON FUNCTION lmm_ranef(lmm_model) IS 'conditional modes (BLUPs) and conditional SDs per group level and term';

CREATE FUNCTION lmm_summary(m lmm_model,
	OUT method text, OUT n_obs bigint, OUT n_groups bigint, OUT n_dropped bigint,
	OUT criterion float8, OUT loglik float8, OUT aic float8, OUT bic float8,
	OUT sigma float8, OUT theta float8[], OUT n_eval int,
	OUT converged bool, OUT singular bool)
	RETURNS record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_summary(lmm_model) IS 'fit summary: method, counts, REML criterion or ML deviance, logLik, AIC, BIC, sigma, theta, convergence and singularity';
