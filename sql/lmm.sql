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
	AS 'MODULE_PATHNAME', 'lmm_packed_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE lmm_model (
	INPUT = lmm_model_in,
	OUTPUT = lmm_model_out,
	RECEIVE = lmm_model_recv,
	SEND = lmm_model_send,
	INTERNALLENGTH = VARIABLE,
	-- out of line and uncompressed (0.6.0): scoring then reads only the
	-- level records of a large model, without decompressing it all
	STORAGE = external
);

COMMENT ON TYPE lmm_model IS 'a fitted linear mixed model; its text form is JSON';
COMMENT ON FUNCTION lmm_model_in(cstring) IS 'parse and validate the JSON text form of lmm_model';
COMMENT ON FUNCTION lmm_model_out(lmm_model) IS 'JSON text form of lmm_model (exact float8 round trip)';
COMMENT ON FUNCTION lmm_model_recv(internal) IS 'binary input of lmm_model, validated as the text input is';
COMMENT ON FUNCTION lmm_model_send(lmm_model) IS 'binary output of lmm_model (portable, big-endian)';

-- Streamed statistics as a value ------------------------------------------

CREATE TYPE lmm_stats;

-- STABLE: group keys are read and written with their type's I/O functions,
-- which may follow DateStyle or TimeZone
CREATE FUNCTION lmm_stats_in(cstring) RETURNS lmm_stats
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_stats_out(lmm_stats) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_stats_recv(internal) RETURNS lmm_stats
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_stats_send(lmm_stats) RETURNS bytea
	AS 'MODULE_PATHNAME', 'lmm_packed_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE lmm_stats (
	INPUT = lmm_stats_in,
	OUTPUT = lmm_stats_out,
	RECEIVE = lmm_stats_recv,
	SEND = lmm_stats_send,
	INTERNALLENGTH = VARIABLE,
	STORAGE = extended
);

COMMENT ON TYPE lmm_stats IS 'per-level sufficient statistics of a linear mixed model with one random-effects term or several: mergeable, storable, shippable; its text form is JSON';
COMMENT ON FUNCTION lmm_stats_in(cstring) IS 'parse and validate the JSON text form of lmm_stats';
COMMENT ON FUNCTION lmm_stats_out(lmm_stats) IS 'JSON text form of lmm_stats (exact float8 round trip)';
COMMENT ON FUNCTION lmm_stats_recv(internal) IS 'binary input of lmm_stats, validated as the text input is';
COMMENT ON FUNCTION lmm_stats_send(lmm_stats) IS 'binary output of lmm_stats (portable, big-endian; keys in their type''s binary form)';

-- Support functions of the aggregates -------------------------------------
-- A row's transition (lmm_fit_trans, lmm_terms_trans) costs about ten
-- simple operators (measured: about 100 ns a row against about 10 ns for
-- sum()'s), and says so (COST 10), so that the planner splits a fit over
-- parallel workers where that pays.

CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, text)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[])
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[], text)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_agg_combine(internal, internal)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_agg_combine'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION lmm_agg_serialize(internal)
	RETURNS bytea AS 'MODULE_PATHNAME', 'lmm_agg_serialize'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_agg_deserialize(bytea, internal)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_agg_deserialize'
	LANGUAGE C STABLE STRICT PARALLEL SAFE;
-- STABLE: level labels come from the key type's output function, which may
-- follow DateStyle or TimeZone
CREATE FUNCTION lmm_fit_final(internal) RETURNS lmm_model
	AS 'MODULE_PATHNAME', 'lmm_fit_final'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lmm_stats_final(internal) RETURNS lmm_stats
	AS 'MODULE_PATHNAME', 'lmm_stats_final'
	LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement) IS 'lmm_fit/lmm_stats transition: add one row to the per-group statistics';
COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, text) IS 'lmm_fit/lmm_stats transition: add one row to the per-group statistics';
COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[]) IS 'lmm_fit/lmm_stats transition: add one row to the per-group statistics';
COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[], text) IS 'lmm_fit/lmm_stats transition: add one row to the per-group statistics';
COMMENT ON FUNCTION lmm_agg_combine(internal, internal) IS 'combine two partial states of lmm_fit, lmm_stats or lmm_merge exactly (Chan et al.)';
COMMENT ON FUNCTION lmm_agg_serialize(internal) IS 'serialize a partial aggregate state (the lmm_stats binary form)';
COMMENT ON FUNCTION lmm_agg_deserialize(bytea, internal) IS 'deserialize and validate a partial aggregate state';
COMMENT ON FUNCTION lmm_fit_final(internal) IS 'lmm_fit final: optimize the REML/ML criterion and solve the mixed model equations';
COMMENT ON FUNCTION lmm_stats_final(internal) IS 'lmm_stats/lmm_merge final: the statistics as an lmm_stats value';

-- The aggregates ----------------------------------------------------------

CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement, options text) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement, z float8[]) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement, z float8[], options text) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);

COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement) IS 'REML fit of y ~ 1 + x + (1 | g)';
COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement, text) IS 'fit of y ~ 1 + x + (1 | g) with options (method=reml|ml, x_names=..., g_name=...)';
COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement, float8[]) IS 'REML fit of y ~ 1 + x + (1 + z | g), correlated random effects';
COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement, float8[], text) IS 'fit of y ~ 1 + x + (1 + z | g) with options (method=reml|ml, x_names=..., z_names=..., g_name=...)';

CREATE AGGREGATE lmm_stats(y float8, x float8[], g anyelement) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_stats_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_stats(y float8, x float8[], g anyelement, options text) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_stats_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_stats(y float8, x float8[], g anyelement, z float8[]) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_stats_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_stats(y float8, x float8[], g anyelement, z float8[], options text) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_stats_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);

COMMENT ON AGGREGATE lmm_stats(float8, float8[], anyelement) IS 'sufficient statistics of y ~ 1 + x + (1 | g), to store, merge and fit later';
COMMENT ON AGGREGATE lmm_stats(float8, float8[], anyelement, text) IS 'sufficient statistics of y ~ 1 + x + (1 | g) with options (x_names=..., g_name=...)';
COMMENT ON AGGREGATE lmm_stats(float8, float8[], anyelement, float8[]) IS 'sufficient statistics of y ~ 1 + x + (1 + z | g)';
COMMENT ON AGGREGATE lmm_stats(float8, float8[], anyelement, float8[], text) IS 'sufficient statistics of y ~ 1 + x + (1 + z | g) with options (x_names=..., z_names=..., g_name=...)';


-- STABLE: level labels come from the key type's output function
CREATE FUNCTION lmm_fit(s lmm_stats, options text DEFAULT NULL) RETURNS lmm_model
	AS 'MODULE_PATHNAME', 'lmm_fit_stats'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION lmm_fit(lmm_stats, text) IS 'fit from statistics of one term or of several (REML by default; options: method=reml|ml); NULL statistics give NULL';

-- STABLE: key type names come from the catalog
CREATE FUNCTION lmm_stats_info(s lmm_stats,
	OUT formula text, OUT n_obs bigint, OUT n_dropped bigint, OUT x_names text[],
	OUT groups text[], OUT key_types text[], OUT n_levels bigint[], OUT q int[])
	RETURNS record
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_stats_info(lmm_stats) IS 'what statistics describe without fitting them: the formula (NULL for lmm_stats(y, x, g ...)), rows used and dropped, the fixed-effect columns, and per term its grouping factor, key type, number of levels and random-effect columns';

-- Results as rows -------------------------------------------------------

CREATE FUNCTION lmm_fixef(m lmm_model,
	OUT term text, OUT estimate float8, OUT std_error float8, OUT t_value float8,
	OUT df float8, OUT p_value float8, OUT conf_low float8, OUT conf_high float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION lmm_fixef(lmm_model) IS 'fixed effects, intercept first: estimate, standard error, t value, Satterthwaite df (as lmerTest), two-sided p-value and 95% t interval';

CREATE FUNCTION lmm_fixef(m lmm_model, options text,
	OUT term text, OUT estimate float8, OUT std_error float8, OUT t_value float8,
	OUT df float8, OUT p_value float8, OUT conf_low float8, OUT conf_high float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'lmm_fixef' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION lmm_fixef(lmm_model, text) IS 'fixed effects as lmm_fixef(m) with option ddf=satterthwaite (default), kenward-roger (pbkrtest''s vcovAdj standard errors and Kenward-Roger df, as lmerTest''s summary with ddf = "Kenward-Roger") or none (no df, p-value or interval)';

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

CREATE FUNCTION lmm_print(m lmm_model) RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_print(lmm_model) IS 'the fit as lme4''s summary() prints it, with lmerTest''s Satterthwaite df and p-values: formula, REML criterion or AIC/BIC/logLik, random effects, counts, fixed effects; rounded as R rounds';

-- Inference ------------------------------------------------------------

CREATE FUNCTION lmm_anova(a lmm_model, b lmm_model,
	OUT model text, OUT npar int, OUT aic float8, OUT bic float8,
	OUT loglik float8, OUT deviance float8, OUT chisq float8, OUT df int,
	OUT p_value float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 2;
COMMENT ON FUNCTION lmm_anova(lmm_model, lmm_model) IS 'likelihood-ratio test of two models of the same data, as lme4''s anova(a, b): REML fits are refitted by ML from their statistics';

CREATE FUNCTION lmm_confint(m lmm_model, options text DEFAULT '',
	OUT parameter text, OUT estimate float8, OUT lower float8, OUT upper float8,
	OUT method text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION lmm_confint(lmm_model, text) IS 'confidence intervals as lme4''s confint: options method=profile (default; every sd, correlation, sigma and fixed effect) or method=wald (fixed effects), level=0.95';

CREATE FUNCTION lmm_bootstrap(m lmm_model, nsim int, options text DEFAULT '',
	OUT parameter text, OUT estimate float8, OUT lower float8, OUT upper float8,
	OUT method text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION lmm_bootstrap(lmm_model, int, text) IS 'parametric bootstrap as lme4''s confint(m, method = "boot"): nsim replicates drawn from the model''s statistics (never its rows) and refitted, percentile intervals for every sd, correlation, sigma and fixed effect; options level=0.95, seed=42 (the same seed, the same intervals), method=percentile';

CREATE FUNCTION lmm_contrast(m lmm_model, l float8[], options text DEFAULT '',
	OUT estimate float8, OUT std_error float8, OUT t_value float8,
	OUT num_df int, OUT den_df float8, OUT f_value float8, OUT p_value float8)
	RETURNS record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_contrast(lmm_model, float8[], text) IS 'test of contrasts of the fixed effects as lmerTest''s contest: a one-dimensional l (lmm_fixef''s order) is contest1D (estimate, standard error, t; Satterthwaite df), a two-dimensional l an F test of its rows (contestMD); option ddf=satterthwaite (default), kenward-roger (pbkrtest''s adjusted covariance, df and scaled F) or none';

CREATE FUNCTION lmm_anova(m lmm_model, options text DEFAULT '',
	OUT term text, OUT sum_sq float8, OUT mean_sq float8, OUT num_df int,
	OUT den_df float8, OUT f_value float8, OUT p_value float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'lmm_anova_model' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 4;
COMMENT ON FUNCTION lmm_anova(lmm_model, text) IS 'F test of every fixed-effect term as lmerTest''s anova(m): options type=3 (default), 2 or 1, and ddf=satterthwaite (default), kenward-roger (lmerTest''s ddf = "Kenward-Roger") or none (lme4''s anova(m), without df and p-value)';

CREATE FUNCTION lmm_ls_means(m lmm_model, which text, options text DEFAULT '',
	OUT term text, OUT level text, OUT estimate float8, OUT std_error float8,
	OUT df float8, OUT t_value float8, OUT p_value float8,
	OUT conf_low float8, OUT conf_high float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'lmm_ls_means' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 6;
COMMENT ON FUNCTION lmm_ls_means(lmm_model, text, text) IS 'least-squares means of a term of factors as lmerTest''s ls_means(m, which = term): each cell averaged over the other factors'' levels with covariates at their means, with standard error, Satterthwaite df, t, p and interval; options pairwise=true (the pairwise differences, "recipeA - recipeB"), level=0.95, ddf=satterthwaite';

-- Using the model where the rows are ------------------------------------

CREATE FUNCTION lmm_predict(m lmm_model, x float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_predict(m lmm_model, x float8[], g anyelement) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_predict(m lmm_model, x float8[], g anyelement, z float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_predict(m lmm_model, x float8[], g text) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_predict(m lmm_model, x float8[], g text, z float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_predict(lmm_model, float8[]) IS 'population prediction: the fixed part for one row''s x (without the intercept)';
COMMENT ON FUNCTION lmm_predict(lmm_model, float8[], anyelement) IS 'conditional prediction: fixed part plus group g''s intercept effect; a level the model never saw gets the population prediction';
COMMENT ON FUNCTION lmm_predict(lmm_model, float8[], anyelement, float8[]) IS 'conditional prediction with random slopes: fixed part plus group g''s effects at the row''s z; an unseen level gets the population prediction';
COMMENT ON FUNCTION lmm_predict(lmm_model, float8[], text) IS 'conditional prediction for a key given as text (read as the model''s key type)';
COMMENT ON FUNCTION lmm_predict(lmm_model, float8[], text, float8[]) IS 'conditional prediction with random slopes for a key given as text (read as the model''s key type)';

CREATE FUNCTION lmm_blup(m lmm_model, g anyelement) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_blup(m lmm_model, g anyelement, term text) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_blup(m lmm_model, g text) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_blup(m lmm_model, g text, term text) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_blup(lmm_model, anyelement) IS 'conditional mode (BLUP) of group g''s random intercept; NULL for a level the model never saw';
COMMENT ON FUNCTION lmm_blup(lmm_model, anyelement, text) IS 'conditional mode (BLUP) of group g for the named random-effect term, or for a model with several terms the intercept of the named grouping factor; NULL for a level the model never saw';
COMMENT ON FUNCTION lmm_blup(lmm_model, text) IS 'BLUP of the random intercept for a key given as text (read as the model''s key type)';
COMMENT ON FUNCTION lmm_blup(lmm_model, text, text) IS 'BLUP of a named random-effect term (several terms: of the named grouping factor''s intercept) for a key given as text (read as the model''s key type)';

CREATE FUNCTION lmm_residual(m lmm_model, y float8, x float8[], g anyelement) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_residual(m lmm_model, y float8, x float8[], g anyelement, z float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_residual(m lmm_model, y float8, x float8[], g text) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION lmm_residual(m lmm_model, y float8, x float8[], g text, z float8[]) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_residual(lmm_model, float8, float8[], anyelement) IS 'conditional residual: y minus the conditional prediction';
COMMENT ON FUNCTION lmm_residual(lmm_model, float8, float8[], anyelement, float8[]) IS 'conditional residual with random slopes: y minus the conditional prediction at the row''s z';
COMMENT ON FUNCTION lmm_residual(lmm_model, float8, float8[], text) IS 'conditional residual for a key given as text (read as the model''s key type)';
COMMENT ON FUNCTION lmm_residual(lmm_model, float8, float8[], text, float8[]) IS 'conditional residual with random slopes for a key given as text (read as the model''s key type)';

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

-- Several random-effects terms and formulas (0.4.0) ------------------------


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

-- Statistics of any model, stored, merged and fitted (0.7.0) ---------------


-- STABLE: reads the source in the calling statement's snapshot; PARALLEL
-- RESTRICTED: runs its own query through SPI
CREATE FUNCTION lmm_stats(formula text, source regclass) RETURNS lmm_stats
	AS 'MODULE_PATHNAME', 'lmm_formula_stats'
	LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION lmm_stats(text, regclass) IS 'sufficient statistics of an lme4 formula over the source''s rows (the grammar of lmm()), to store, merge with lmm_merge and fit later with lmm_fit';

-- Generalized linear mixed models (binomial, Poisson) and prior weights and
-- offsets: the same aggregates, with the weight and offset of each row.
CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8, float8, text)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[], float8, float8, text)
	RETURNS internal AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C IMMUTABLE PARALLEL SAFE COST 10;
COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8, float8, text) IS 'lmm_fit transition with a prior weight and an offset: keep one row';
COMMENT ON FUNCTION lmm_fit_trans(internal, float8, float8[], anyelement, float8[], float8, float8, text) IS 'lmm_fit transition with z, a prior weight and an offset: keep one row';

CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement, weight float8, "offset" float8, options text) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit(y float8, x float8[], g anyelement, z float8[], weight float8, "offset" float8, options text) (
	SFUNC = lmm_fit_trans, STYPE = internal, FINALFUNC = lmm_fit_final,
	COMBINEFUNC = lmm_agg_combine, SERIALFUNC = lmm_agg_serialize,
	DESERIALFUNC = lmm_agg_deserialize, PARALLEL = SAFE
);
COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement, float8, float8, text) IS 'fit of y ~ 1 + x + (1 | g) with a prior weight and an offset per row and options (family=gaussian|binomial|poisson, link, nagq, method)';
COMMENT ON AGGREGATE lmm_fit(float8, float8[], anyelement, float8[], float8, float8, text) IS 'fit of y ~ 1 + x + (1 + z | g) with a prior weight and an offset per row and options (family, link, nagq, method)';

CREATE FUNCTION lmm_inverse_link(m lmm_model, eta float8) RETURNS float8
	AS 'MODULE_PATHNAME', 'lmm_inverse_link' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_inverse_link(lmm_model, float8) IS 'the mean at a linear predictor (lmm_predict''s link scale, plus any offset): glmer''s predict(type = "response"); eta itself for an LMM';
CREATE FUNCTION lmm_residual(m lmm_model, y float8, eta float8, type text DEFAULT 'deviance',
	weight float8 DEFAULT 1) RETURNS float8
	AS 'MODULE_PATHNAME', 'lmm_residual_eta' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION lmm_residual(lmm_model, float8, float8, text, float8) IS 'a row''s residual at its linear predictor eta (offset included), as lme4''s residuals(): type deviance (default), pearson or response; weight the prior weight (a proportion''s trials)';

-- Aggregates whose state is an lmm_stats value (0.7.0) ----------------------
-- The state is held in memory as an expanded object, updated in place by
-- each row, and flattened (to its packed form, options and kept rows
-- included) only to leave the aggregate: to a parallel query's leader, or
-- as text to a Citus coordinator, which then runs the aggregate on its
-- workers (worker_partial_agg) and merges one state per shard.  Citus
-- checks a call's argument types against the declared ones, which a
-- polymorphic form never passes: lmm_fit and lmm_stats have forms of their
-- own for smallint, integer and bigint keys, and their anyelement forms
-- keep an internal state (Citus gathers their rows).  SSPACE: a state of a
-- few levels takes about 16 kB, which hash aggregation plans with.

-- STABLE: a flat state is unpacked, reading its keys with the key type's
-- receive function
CREATE FUNCTION lmm_agg_combine(lmm_stats, lmm_stats)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_agg_combine'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lmm_fit_final(lmm_stats) RETURNS lmm_model
	AS 'MODULE_PATHNAME', 'lmm_fit_final'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lmm_stats_final(lmm_stats) RETURNS lmm_stats
	AS 'MODULE_PATHNAME', 'lmm_stats_final'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lmm_merge_trans(lmm_stats, lmm_stats)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_merge_trans'
	LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION lmm_terms_trans(lmm_stats, float8, float8[], text[], float8[], text)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_terms_trans'
	LANGUAGE C STABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_terms_trans(lmm_stats, float8, float8[], text[], float8[], text, text)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_terms_trans'
	LANGUAGE C STABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_terms_trans(lmm_stats, float8, float8[], text[], float8[], float8, float8, text, text)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_terms_trans'
	LANGUAGE C STABLE PARALLEL SAFE COST 10;
COMMENT ON FUNCTION lmm_agg_combine(lmm_stats, lmm_stats) IS 'combine two partial states of an lmm aggregate exactly (parallel workers, partitions, Citus shards)';
COMMENT ON FUNCTION lmm_fit_final(lmm_stats) IS 'final function of lmm_fit and lmm_fit_terms: fit the model (REML/ML, or a GLMM''s Laplace/AGQ)';
COMMENT ON FUNCTION lmm_stats_final(lmm_stats) IS 'final function of lmm_stats, lmm_stats_terms and lmm_merge: the statistics as an lmm_stats value';
COMMENT ON FUNCTION lmm_merge_trans(lmm_stats, lmm_stats) IS 'lmm_merge transition: merge one lmm_stats value exactly';
COMMENT ON FUNCTION lmm_terms_trans(lmm_stats, float8, float8[], text[], float8[], text) IS 'lmm_fit_terms transition: add one row to the statistics of every random-effects term and pair of terms';
COMMENT ON FUNCTION lmm_terms_trans(lmm_stats, float8, float8[], text[], float8[], text, text) IS 'lmm_fit_terms transition: add one row to the statistics of every random-effects term and pair of terms';
COMMENT ON FUNCTION lmm_terms_trans(lmm_stats, float8, float8[], text[], float8[], float8, float8, text, text) IS 'lmm_fit_terms transition with a prior weight and an offset: keep one row';

CREATE AGGREGATE lmm_merge(s lmm_stats) (
	SFUNC = lmm_merge_trans, STYPE = lmm_stats, SSPACE = 16384, FINALFUNC = lmm_stats_final,
	COMBINEFUNC = lmm_agg_combine, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit_terms(y float8, x float8[], keys text[], z float8[], spec text) (
	SFUNC = lmm_terms_trans, STYPE = lmm_stats, SSPACE = 16384, FINALFUNC = lmm_fit_final,
	COMBINEFUNC = lmm_agg_combine, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit_terms(y float8, x float8[], keys text[], z float8[], spec text, options text) (
	SFUNC = lmm_terms_trans, STYPE = lmm_stats, SSPACE = 16384, FINALFUNC = lmm_fit_final,
	COMBINEFUNC = lmm_agg_combine, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_fit_terms(y float8, x float8[], keys text[], z float8[], weight float8, "offset" float8, spec text, options text) (
	SFUNC = lmm_terms_trans, STYPE = lmm_stats, SSPACE = 16384, FINALFUNC = lmm_fit_final,
	COMBINEFUNC = lmm_agg_combine, PARALLEL = SAFE
);
CREATE AGGREGATE lmm_stats_terms(y float8, x float8[], keys text[], z float8[], spec text) (
	SFUNC = lmm_terms_trans, STYPE = lmm_stats, SSPACE = 16384, FINALFUNC = lmm_stats_final,
	COMBINEFUNC = lmm_agg_combine, PARALLEL = SAFE
);
COMMENT ON AGGREGATE lmm_merge(lmm_stats) IS 'exact merge of lmm_stats values of one model (groups and level pairs split across values combine); NULL values are skipped';
COMMENT ON AGGREGATE lmm_fit_terms(float8, float8[], text[], float8[], text) IS 'REML fit of a model with several random-effects terms: x the fixed-effects row, keys the level of each term, z the terms'' columns, spec their names (JSON)';
COMMENT ON AGGREGATE lmm_fit_terms(float8, float8[], text[], float8[], text, text) IS 'fit of a model with several random-effects terms, with options (method=reml|ml)';
COMMENT ON AGGREGATE lmm_fit_terms(float8, float8[], text[], float8[], float8, float8, text, text) IS 'fit of a model with several random-effects terms with a prior weight and an offset per row and options (family, link, nagq, method)';
COMMENT ON AGGREGATE lmm_stats_terms(float8, float8[], text[], float8[], text) IS 'sufficient statistics of a model with several random-effects terms (the arguments of lmm_fit_terms), to store, merge with lmm_merge and fit later with lmm_fit';

-- lmm_fit and lmm_stats forms with a key type of their own.  Citus runs an
-- aggregate on its workers only when the call's argument types equal the
-- declared ones, which a polymorphic form never passes; a form declared
-- for the key's type, with an lmm_stats state, passes.  The forms share one
-- transition function per argument list, polymorphic in the key (the form
-- fixes the key's type; under Citus, which calls the transition without the
-- query's expression, lmm_fit_trans reads it from the form's declaration).
CREATE FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C STABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, text)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C STABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, float8[])
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C STABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, float8[], text)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C STABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, float8, float8, text)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C STABLE PARALLEL SAFE COST 10;
CREATE FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, float8[], float8, float8, text)
	RETURNS lmm_stats AS 'MODULE_PATHNAME', 'lmm_fit_trans'
	LANGUAGE C STABLE PARALLEL SAFE COST 10;
COMMENT ON FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement) IS 'transition of the lmm_fit/lmm_stats forms with a key type of their own: add one row';
COMMENT ON FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, text) IS 'transition of the lmm_fit/lmm_stats forms with a key type of their own: add one row';
COMMENT ON FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, float8[]) IS 'transition of the lmm_fit/lmm_stats forms with a key type of their own: add one row';
COMMENT ON FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, float8[], text) IS 'transition of the lmm_fit/lmm_stats forms with a key type of their own: add one row';
COMMENT ON FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, float8, float8, text) IS 'transition of the lmm_fit forms with a key type of their own, a prior weight and an offset: add one row';
COMMENT ON FUNCTION lmm_fit_trans(lmm_stats, float8, float8[], anyelement, float8[], float8, float8, text) IS 'transition of the lmm_fit forms with a key type of their own, z, a prior weight and an offset: add one row';

-- Creates the forms for one key type in lmm's schema (each with its
-- anyelement form's comment) and lists them; forms that exist already, in
-- lmm's schema or another one (not another session's temporary schema),
-- are listed as not created.  Calls for one type wait for each other.  The
-- type must have binary I/O (statistics store keys in binary form) and
-- hashing.  VOLATILE and PARALLEL UNSAFE: it runs DDL.
CREATE FUNCTION lmm_create_key_forms(key_type regtype)
	RETURNS TABLE (form regprocedure, created boolean)
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
AS $$
DECLARE
	ns text;
	ns_oid oid;
	stats_type oid;
	t record;
	f record;
	more text;
BEGIN
	SELECT n.nspname, n.oid, ty.oid INTO ns, ns_oid, stats_type
	  FROM pg_catalog.pg_extension e
	  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
	  JOIN pg_catalog.pg_type ty ON ty.typnamespace = n.oid AND ty.typname = 'lmm_stats'
	 WHERE e.extname = 'lmm';
	SELECT ty.typtype, ty.typsend, ty.typreceive, ty.typisdefined INTO t
	  FROM pg_catalog.pg_type ty WHERE ty.oid = key_type;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'type with OID % does not exist', key_type::oid
			USING ERRCODE = 'undefined_object',
				  HINT = 'Pass the type by name, for example lmm_create_key_forms(''my_enum'').';
	END IF;
	IF t.typtype = 'p' OR NOT t.typisdefined THEN
		RAISE EXCEPTION 'cannot create lmm_fit forms for keys of type %', key_type
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = pg_catalog.format('%s is a pseudo-type or a shell type, not the type of a column.', key_type),
				  HINT = 'Name the grouping column''s type, for example an enum type.';
	END IF;
	IF t.typsend = 0 OR t.typreceive = 0 THEN
		RAISE EXCEPTION 'group keys of type % have no binary input and output functions', key_type
			USING ERRCODE = 'undefined_function',
				  DETAIL = 'Statistics store keys in binary form.',
				  HINT = 'Cast the keys to text, which has forms of its own.';
	END IF;
	-- one call at a time for a type: a second one then finds the first's forms
	PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('lmm_create_key_forms'),
											 pg_catalog.hashtext(key_type::pg_catalog.text));
	FOR f IN SELECT * FROM (VALUES
		('lmm_fit', 'lmm_fit_final', '', ARRAY[]::pg_catalog.regtype[]),
		('lmm_fit', 'lmm_fit_final', ', options text', ARRAY['text']::pg_catalog.regtype[]),
		('lmm_fit', 'lmm_fit_final', ', z float8[]', ARRAY['float8[]']::pg_catalog.regtype[]),
		('lmm_fit', 'lmm_fit_final', ', z float8[], options text', ARRAY['float8[]', 'text']::pg_catalog.regtype[]),
		('lmm_fit', 'lmm_fit_final', ', weight float8, "offset" float8, options text', ARRAY['float8', 'float8', 'text']::pg_catalog.regtype[]),
		('lmm_fit', 'lmm_fit_final', ', z float8[], weight float8, "offset" float8, options text', ARRAY['float8[]', 'float8', 'float8', 'text']::pg_catalog.regtype[]),
		('lmm_stats', 'lmm_stats_final', '', ARRAY[]::pg_catalog.regtype[]),
		('lmm_stats', 'lmm_stats_final', ', options text', ARRAY['text']::pg_catalog.regtype[]),
		('lmm_stats', 'lmm_stats_final', ', z float8[]', ARRAY['float8[]']::pg_catalog.regtype[]),
		('lmm_stats', 'lmm_stats_final', ', z float8[], options text', ARRAY['float8[]', 'text']::pg_catalog.regtype[])
	) AS v(agg, final, args, more) LOOP
		SELECT p.oid INTO form
		  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
		 WHERE p.proname = f.agg AND a.aggtranstype = stats_type
		   AND p.proargtypes::pg_catalog.text = pg_catalog.array_to_string(
			   (ARRAY['float8', 'float8[]', key_type]::pg_catalog.regtype[] || f.more)::pg_catalog.oid[], ' ')
		   AND NOT pg_catalog.pg_is_other_temp_schema(p.pronamespace)
		 ORDER BY p.pronamespace = ns_oid DESC, p.oid
		 LIMIT 1;
		created := form IS NULL;
		IF created THEN
			more := pg_catalog.array_to_string(f.more::text[], ', ');
			more := CASE WHEN more = '' THEN '' ELSE ', ' || more END;
			EXECUTE pg_catalog.format('CREATE AGGREGATE %I.%I(y float8, x float8[], g %s%s) ('
									  'SFUNC = %I.lmm_fit_trans, STYPE = %I.lmm_stats, SSPACE = 16384, '
									  'FINALFUNC = %I.%I, COMBINEFUNC = %I.lmm_agg_combine, PARALLEL = SAFE)',
									  ns, f.agg, key_type, f.args, ns, ns, ns, f.final, ns);
			form := pg_catalog.format('%I.%I(float8, float8[], %s%s)', ns, f.agg, key_type, more)::pg_catalog.regprocedure;
			EXECUTE pg_catalog.format('COMMENT ON AGGREGATE %s IS %L', form,
									  pg_catalog.obj_description(pg_catalog.format('%I.%I(float8, float8[], anyelement%s)',
																				   ns, f.agg, more)::pg_catalog.regprocedure, 'pg_proc'));
		END IF;
		RETURN NEXT;
	END LOOP;
	-- a call with a NULL key makes a state, which checks the type's
	-- hashing as a fit would; an error undoes the forms
	EXECUTE pg_catalog.format('SELECT %I.lmm_stats(1::pg_catalog.float8, ARRAY[1]::pg_catalog.float8[], NULL::%s)',
							  ns, key_type);
END
$$;
COMMENT ON FUNCTION lmm_create_key_forms(regtype) IS 'create lmm_fit and lmm_stats forms for group keys of one type (an enum, for example), with an lmm_stats state that Citus runs on its workers; lists the forms, and which it created';

-- The built-in types a grouping column takes (integers, text, uuid, dates
-- and times, numbers, boolean, network addresses, bytea) have such forms.
-- A key of a type that casts implicitly to text (varchar, char(n), name,
-- citext) resolves to the text form and groups as its text, as lmm() groups
-- every key; "char" and macaddr8 (which casts implicitly to macaddr) have
-- forms so that they stay unambiguous.  Keys of other types (enums,
-- composites, arrays, ...) take the anyelement forms until
-- lmm_create_key_forms gives their type forms of its own.
SELECT count(*) FROM unnest(ARRAY['smallint', 'integer', 'bigint', 'text', 'uuid', 'date',
	'timestamp', 'timestamptz', 'numeric', '"char"', 'real', 'double precision', 'boolean',
	'time', 'interval', 'inet', 'cidr', 'macaddr', 'macaddr8', 'bytea']::regtype[]) AS k,
	LATERAL lmm_create_key_forms(k);
