-- lmm 0.2.0 -> 0.3.0: inference.  lmm_fixef gains Satterthwaite df,
-- p-values and intervals; lmm_anova and lmm_confint are new.  Models stored
-- by 0.2.0 (binary format 1) stay readable; they lack what df and refits
-- need, so those columns are NULL and lmm_anova / profile intervals ask for
-- a refit.

\echo Use "ALTER EXTENSION lmm UPDATE TO '0.3.0'" to load this file. \quit

DROP FUNCTION lmm_fixef(lmm_model);
CREATE FUNCTION lmm_fixef(m lmm_model,
	OUT term text, OUT estimate float8, OUT std_error float8, OUT t_value float8,
	OUT df float8, OUT p_value float8, OUT conf_low float8, OUT conf_high float8)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;
COMMENT ON FUNCTION lmm_fixef(lmm_model) IS 'fixed effects, intercept first: estimate, standard error, t value, Satterthwaite df (as lmerTest), two-sided p-value and 95% t interval';

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
