-- lmm 0.4.0 -> 0.5.0: parallel lmm_fit_terms (combine, serialize,
-- deserialize) and scoring of models with several random-effects terms.

\echo Use "ALTER EXTENSION lmm UPDATE TO '0.5.0'" to load this file. \quit

-- Parallel lmm_fit_terms --------------------------------------------------

CREATE FUNCTION lmm_terms_combine(internal, internal)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_terms_combine'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lmm_terms_serialize(internal)
	RETURNS bytea AS 'MODULE_PATHNAME', 'lmm_terms_serialize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_terms_deserialize(bytea, internal)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_terms_deserialize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_terms_combine(internal, internal) IS 'combine two partial states of lmm_fit_terms exactly (levels by key, pair blocks by level)';
COMMENT ON FUNCTION lmm_terms_serialize(internal) IS 'serialize a partial lmm_fit_terms state (portable, versioned binary form)';
COMMENT ON FUNCTION lmm_terms_deserialize(bytea, internal) IS 'deserialize and validate a partial lmm_fit_terms state';

-- ALTER AGGREGATE cannot add support functions: the aggregates are made
-- again (an object that uses one, such as a view, makes this fail; drop it
-- first and make it again after the update).
DROP AGGREGATE lmm_fit_terms(float8, float8[], text[], float8[], text);
DROP AGGREGATE lmm_fit_terms(float8, float8[], text[], float8[], text, text);
CREATE AGGREGATE lmm_fit_terms(y float8, x float8[], keys text[], z float8[], spec text) (
	SFUNC = lmm_terms_trans, STYPE = internal, FINALFUNC = lmm_terms_final,
	COMBINEFUNC = lmm_terms_combine, SERIALFUNC = lmm_terms_serialize,
	DESERIALFUNC = lmm_terms_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit_terms(y float8, x float8[], keys text[], z float8[], spec text, options text) (
	SFUNC = lmm_terms_trans, STYPE = internal, FINALFUNC = lmm_terms_final,
	COMBINEFUNC = lmm_terms_combine, SERIALFUNC = lmm_terms_serialize,
	DESERIALFUNC = lmm_terms_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE lmm_fit_terms(float8, float8[], text[], float8[], text) IS 'REML fit of a model with several random-effects terms: x the fixed-effects row, keys the level of each term, z the terms'' columns, spec their names (JSON)';
COMMENT ON AGGREGATE lmm_fit_terms(float8, float8[], text[], float8[], text, text) IS 'fit of a model with several random-effects terms, with options (method=reml|ml)';
