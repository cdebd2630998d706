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

-- Scoring models with several random-effects terms (0.5.0) ----------------

CREATE FUNCTION lmm_predict(m lmm_model, x float8[], keys text[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'lmm_predict_keys' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_predict(m lmm_model, x float8[], keys text[], z float8[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'lmm_predict_keys' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_predict(lmm_model, float8[], text[]) IS 'conditional prediction with one key per random-effects term (lmm_varcorr''s order): fixed part plus every term''s intercept effect; a level a term never saw adds nothing';
COMMENT ON FUNCTION lmm_predict(lmm_model, float8[], text[], float8[]) IS 'conditional prediction with one key per term and z, every term''s non-intercept columns in term order: fixed part plus every term''s effects';

CREATE FUNCTION lmm_residual(m lmm_model, y float8, x float8[], keys text[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'lmm_residual_keys' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_residual(m lmm_model, y float8, x float8[], keys text[], z float8[]) RETURNS float8
	AS 'MODULE_PATHNAME', 'lmm_residual_keys' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_residual(lmm_model, float8, float8[], text[]) IS 'conditional residual with one key per random-effects term: y minus lmm_predict(m, x, keys)';
COMMENT ON FUNCTION lmm_residual(lmm_model, float8, float8[], text[], float8[]) IS 'conditional residual with one key per term and the terms'' z values: y minus lmm_predict(m, x, keys, z)';

CREATE FUNCTION lmm_blup(m lmm_model, g anyelement, grp text, term text) RETURNS float8
	AS 'MODULE_PATHNAME', 'lmm_blup_term' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_blup(m lmm_model, g text, grp text, term text) RETURNS float8
	AS 'MODULE_PATHNAME', 'lmm_blup_term' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_blup(lmm_model, anyelement, text, text) IS 'conditional mode (BLUP) of level g of grouping factor grp (as lmm_ranef names it) for the column term; NULL for a level the model never saw';
COMMENT ON FUNCTION lmm_blup(lmm_model, text, text, text) IS 'BLUP of level g of grouping factor grp for the column term, for a key given as text (read as the model''s key type)';

-- lmm_blup(m, g, name) also names a grouping factor of a model with several terms
COMMENT ON FUNCTION lmm_blup(lmm_model, anyelement, text) IS 'conditional mode (BLUP) of group g for the named random-effect term, or for a model with several terms the intercept of the named grouping factor; NULL for a level the model never saw';
COMMENT ON FUNCTION lmm_blup(lmm_model, text, text) IS 'BLUP of a named random-effect term (several terms: of the named grouping factor''s intercept) for a key given as text (read as the model''s key type)';
