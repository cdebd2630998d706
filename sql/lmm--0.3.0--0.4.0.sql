-- lmm 0.3.0 -> 0.4.0: several random-effects terms (lmm_fit_terms) and formulas (lmm).

\echo Use "ALTER EXTENSION lmm UPDATE TO '0.4.0'" to load this file. \quit

-- Several random-effects terms and formulas (0.4.0) ------------------------

CREATE FUNCTION lmm_terms_trans(internal, float8, float8[], text[], float8[], text)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_terms_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lmm_terms_trans(internal, float8, float8[], text[], float8[], text, text)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_terms_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lmm_terms_final(internal) RETURNS lmm_model
	AS 'MODULE_PATHNAME', 'lmm_terms_final'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION lmm_terms_trans(internal, float8, float8[], text[], float8[], text) IS 'lmm_fit_terms transition: add one row to the statistics of every random-effects term and pair of terms';
COMMENT ON FUNCTION lmm_terms_trans(internal, float8, float8[], text[], float8[], text, text) IS 'lmm_fit_terms transition: add one row to the statistics of every random-effects term and pair of terms';
COMMENT ON FUNCTION lmm_terms_final(internal) IS 'lmm_fit_terms final: fit several crossed or nested random-effects terms with a blocked Cholesky factor';

CREATE AGGREGATE lmm_fit_terms(y float8, x float8[], keys text[], z float8[], spec text) (
	SFUNC = lmm_terms_trans, STYPE = internal, FINALFUNC = lmm_terms_final,
	PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit_terms(y float8, x float8[], keys text[], z float8[], spec text, options text) (
	SFUNC = lmm_terms_trans, STYPE = internal, FINALFUNC = lmm_terms_final,
	PARALLEL = SAFE
);
COMMENT ON AGGREGATE lmm_fit_terms(float8, float8[], text[], float8[], text) IS 'REML fit of a model with several random-effects terms: x the fixed-effects row, keys the level of each term, z the terms'' columns, spec their names (JSON)';
COMMENT ON AGGREGATE lmm_fit_terms(float8, float8[], text[], float8[], text, text) IS 'fit of a model with several random-effects terms, with options (method=reml|ml)';

-- STABLE: reads the source in the calling statement's snapshot; PARALLEL
-- RESTRICTED: runs its own query through SPI
CREATE FUNCTION lmm(formula text, source regclass) RETURNS lmm_model
	AS 'MODULE_PATHNAME', 'lmm_formula_fit'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION lmm(formula text, source regclass, options text) RETURNS lmm_model
	AS 'MODULE_PATHNAME', 'lmm_formula_fit'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION lmm(text, regclass) IS 'REML fit of an lme4 formula, e.g. lmm(''y ~ x + (1 | a) + (1 | b)'', ''t''), reading the source with the caller''s rights';
COMMENT ON FUNCTION lmm(text, regclass, text) IS 'fit of an lme4 formula with options (method=reml|ml), reading the source with the caller''s rights';
