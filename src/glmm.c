/*
 * glmm.c
 *	  What a generalized model adds to scoring: the response scale of a
 *	  prediction (lmm_inverse_link) and lme4's residuals of a row from its
 *	  linear predictor (lmm_residual(m, y, eta, type, weight)).  Both read
 *	  only the model's head, whose flags carry the link.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "utils/builtins.h"

#include "core/lmm_bytes.h"
#include "lmm_pg.h"

/* The link of a model from the flags in its head (identity for an LMM). */
static LmmLink
model_link(Datum d)
{
	bytea	   *head = DatumGetByteaPSlice(d, 0, 12);
	const unsigned char *b = (const unsigned char *) VARDATA_ANY(head);
	uint32		magic,
				flags;

	if (VARSIZE_ANY_EXHDR(head) < 12)
		lmm_model_corrupt("lmm_model value is truncated");
	magic = ((uint32) b[0] << 24) | ((uint32) b[1] << 16) | ((uint32) b[2] << 8) | b[3];
	flags = ((uint32) b[8] << 24) | ((uint32) b[9] << 16) | ((uint32) b[10] << 8) | b[11];
	if (magic != LMM_MODEL_MAGIC)
		lmm_model_corrupt("not an lmm_model value");
	flags = (flags & LMM_MODEL_LINK_MASK) >> LMM_MODEL_LINK_SHIFT;
	if (flags > LMM_LINK_LOG)
		lmm_model_corrupt("lmm_model value has an unknown link");
	return (LmmLink) flags;
}

/* A link's family: logit, probit and cloglog are binomial's, log Poisson's. */
static LmmFamily
link_family(LmmLink link)
{
	return link == LMM_LINK_IDENTITY ? LMM_FAMILY_GAUSSIAN :
		link == LMM_LINK_LOG ? LMM_FAMILY_POISSON : LMM_FAMILY_BINOMIAL;
}

/* Error for a number a residual or prediction cannot take. */
static void
check_number(double v, const char *what)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number, not %g", what, v),
				 errdetail("Filter the row out or replace the value.")));
}

/* Error for a linear predictor whose mean overflows (the log link's exp beyond about 709). */
static void
check_mean(LmmLink link, double eta)
{
	if (!isfinite(lmm_link_inverse(link, eta)))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the mean at eta = %g overflows double precision", eta),
				 errdetail("The log link's mean exp(eta) is finite only for eta below about 709.")));
}

PG_FUNCTION_INFO_V1(lmm_inverse_link);

/* lmm_inverse_link(m, eta): the mean at linear predictor eta (eta itself for an LMM). */
Datum
lmm_inverse_link(PG_FUNCTION_ARGS)
{
	LmmLink		link = model_link(PG_GETARG_DATUM(0));
	double		eta = PG_GETARG_FLOAT8(1);

	check_number(eta, "eta");
	check_mean(link, eta);
	PG_RETURN_FLOAT8(lmm_link_inverse(link, eta));
}

PG_FUNCTION_INFO_V1(lmm_residual_eta);

/*
 * lmm_residual(m, y, eta, type, weight): the row's response, Pearson or
 * deviance residual at linear predictor eta (offset included), as lme4's
 * residuals(); weight is the prior weight (the trials of a proportion).
 */
Datum
lmm_residual_eta(PG_FUNCTION_ARGS)
{
	LmmLink		link = model_link(PG_GETARG_DATUM(0));
	LmmFamily	family = link_family(link);
	double		y = PG_GETARG_FLOAT8(1);
	double		eta = PG_GETARG_FLOAT8(2);
	char	   *type = text_to_cstring(PG_GETARG_TEXT_PP(3));
	double		wt = PG_GETARG_FLOAT8(4);
	LmmResidType rt;

	if (pg_strcasecmp(type, "response") == 0)
		rt = LMM_RESID_RESPONSE;
	else if (pg_strcasecmp(type, "pearson") == 0)
		rt = LMM_RESID_PEARSON;
	else if (pg_strcasecmp(type, "deviance") == 0)
		rt = LMM_RESID_DEVIANCE;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown residual type \"%s\"", type),
				 errdetail("Use 'deviance' (the default), 'pearson' or 'response', as lme4's residuals().")));
	if (family == LMM_FAMILY_GAUSSIAN && rt != LMM_RESID_RESPONSE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("residual type \"%s\" needs a generalized model", type),
				 errdetail("An LMM's residual from eta is the response residual y - eta; divide it by lmm_summary(m).sigma for a Pearson residual.")));
	check_number(y, "y");
	check_number(eta, "eta");
	if (!isfinite(wt) || wt < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("weight %g is not a finite number of at least 0", wt),
				 errdetail("Pass the row's prior weight (for a proportion, its number of trials).")));
	if (family == LMM_FAMILY_BINOMIAL && (y < 0.0 || y > 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("binomial response %g is outside [0, 1]", y),
				 errdetail("Pass the proportion of successes, with its trials as the weight.")));
	if (family == LMM_FAMILY_POISSON && y < 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("Poisson response %g is a negative count", y),
				 errdetail("Counts are at least 0.")));
	check_mean(link, eta);
	PG_RETURN_FLOAT8(lmm_glmm_residual(family, rt, y, lmm_link_inverse(link, eta), wt));
}
