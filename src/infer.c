/*
 * infer.c
 *	  Likelihood-ratio tests between two models (lme4's anova), confidence
 *	  intervals (lme4's confint) and the parametric bootstrap (confint's
 *	  method = "boot"), from the statistics a model carries: refits never
 *	  rescan the table.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "core/lmm_boot.h"
#include "core/lmm_dist.h"
#include "core/lmm_infer.h"
#include "core/lmm_kr.h"
#include "lmm_pg.h"

/* The error for a model that lacks the statistics a refit needs. */
static void
require_stats(const LmmModel *m, const char *what)
{
	lmm_require_lmm(m, what);
	if (m->tstats == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s needs a model that carries its statistics", what),
				 errdetail("This model was stored by lmm 0.2 or earlier, or fitted by lmm() or lmm_fit_terms in lmm 0.6 or earlier."),
				 errhint("Refit it (with lmm_fit, lmm() or lmm_fit_terms) to use %s.", what)));
}

/*
 * Raise a refit's failure.  The statistics fitted once, so apart from a
 * cancel this means lost precision, or statistics that were edited and no
 * longer belong to the model.
 */
static void
refit_failed(LmmStatus status)
{
	switch (status)
	{
		case LMM_ERR_INTERRUPTED:
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("canceling the refit on request"),
					 errdetail("The refit was interrupted; run the statement again.")));
			break;
		case LMM_ERR_NONFINITE:
		case LMM_ERR_INCONSISTENT:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the model's statistics cannot be refitted in double precision"),
					 errdetail("Refit the model on centered or rescaled data.")));
			break;
		case LMM_ERR_OPTIMIZER:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("the optimizer (NLopt BOBYQA) failed in the refit"),
					 errdetail("Try rescaling the covariates; report the data if it persists.")));
			break;
		default:
			lmm_model_corrupt("its statistics do not describe a model that can be fitted");
	}
}

/* What a likelihood-ratio test needs of one model, refitted by ML if it was REML. */
typedef struct MlFit
{
	char	   *label;
	int			npar;
	double		deviance;
	double		n;
} MlFit;

/* The ML deviance of m: its own if fitted by ML, else that of an ML refit of its statistics. */
static MlFit
ml_fit(const char *arg, const LmmModel *m)
{
	MlFit		r;

	r.label = psprintf("%s: %s", arg, lmm_model_formula(m));
	/* a GLMM has no residual scale to estimate */
	r.npar = m->p + lmm_model_ntheta(m) + (m->family == LMM_FAMILY_GAUSSIAN ? 1 : 0);
	r.n = (double) m->n_obs;
	if (m->flags & LMM_MODEL_REML)
	{
		LmmFit		fit;
		LmmStatus	status;

		if (m->tstats == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("lmm_anova cannot refit model %s by maximum likelihood", arg),
					 errdetail("Models stored by lmm 0.2 or earlier, and models of lmm() or lmm_fit_terms stored by lmm 0.6 or earlier, do not carry the statistics a refit needs."),
					 errhint("Refit the model, or fit both models with the option 'method=ml', as lme4's anova compares ML fits.")));
		status = lmm_fit(m->tstats, 0, 0, &fit);

		if (status != LMM_OK)
			refit_failed(status);
		r.deviance = fit.criterion;
		lmm_fit_free(&fit);
	}
	else
		r.deviance = m->criterion;
	return r;
}

/*
 * The mean of the response and its sum of squares about the mean, from the
 * statistics the model carries; false when it carries none.
 */
static bool
response_moments(const LmmModel *m, double *mean, double *ss)
{
	if (m->tstats)
	{
		const LmmTermStats *s = m->tstats;
		int			p = s->p;
		double		sy = s->sum[p];

		*mean = s->shift[p] + sy / s->n;
		*ss = s->cross[p * (p + 1) + p] - sy * sy / s->n;
		return true;
	}
	return false;
}

/* Nonzero if a and b agree to about 1e-10 relative (sums in another row order differ by rounding). */
static bool
close_enough(double a, double b)
{
	return fabs(a - b) <= 1e-10 * fmax(fabs(a), fabs(b)) + 1e-300;
}

PG_FUNCTION_INFO_V1(lmm_anova);

/*
 * lmm_anova(a, b): lme4's anova(a, b) for two models of the same data, the
 * one with fewer parameters first; REML fits are compared after refitting
 * them by ML, as lme4 does.
 */
Datum
lmm_anova(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LmmModel	ma,
				mb;
	MlFit		f[2];
	int			order[2] = {0, 1};
	double		mean_a,
				mean_b,
				ss_a,
				ss_b;
	int			r;

	InitMaterializedSRF(fcinfo, 0);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &ma);
	lmm_model_from_datum(PG_GETARG_DATUM(1), &mb);
	/*
	 * The same rows: the count, as lme4 checks, and where both models carry
	 * their statistics the response's mean and spread too.
	 */
	if (ma.n_obs != mb.n_obs ||
		(response_moments(&ma, &mean_a, &ss_a) && response_moments(&mb, &mean_b, &ss_b) &&
		 (!close_enough(mean_a, mean_b) || !close_enough(ss_a, ss_b))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("models were not fitted to the same data"),
				 errdetail("Model a has %lld rows and model b %lld, or their responses differ; a likelihood-ratio test compares fits of the same rows and response.",
						   (long long) ma.n_obs, (long long) mb.n_obs)));

	if (ma.family != mb.family || ma.link != mb.link || ma.nagq != mb.nagq)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("models of different families, links or nagq cannot be compared"),
				 errdetail("A likelihood-ratio test compares two fits of one likelihood; fit both models with the same family, link and nagq.")));
	f[0] = ml_fit("a", &ma);
	f[1] = ml_fit("b", &mb);
	if (f[1].npar < f[0].npar)
	{
		order[0] = 1;
		order[1] = 0;
	}
	for (r = 0; r < 2; r++)
	{
		const MlFit *x = &f[order[r]];
		Datum		values[9];
		bool		nulls[9] = {false, false, false, false, false, false, true, true, true};

		values[0] = CStringGetTextDatum(x->label);
		values[1] = Int32GetDatum(x->npar);
		values[2] = Float8GetDatum(lmm_finite_result(x->deviance + 2.0 * x->npar, "AIC"));
		values[3] = Float8GetDatum(lmm_finite_result(x->deviance + x->npar * log(x->n), "BIC"));
		values[4] = Float8GetDatum(-x->deviance / 2.0);
		values[5] = Float8GetDatum(x->deviance);
		if (r == 1)
		{
			const MlFit *s = &f[order[0]];
			double		chisq = lmm_finite_result(fmax(0.0, s->deviance - x->deviance),
												  "the chi-square statistic");
			int			df = x->npar - s->npar;

			values[6] = Float8GetDatum(chisq);
			values[7] = Int32GetDatum(df);
			nulls[6] = nulls[7] = false;
			if (df > 0)
			{
				values[8] = Float8GetDatum(lmm_pchisq_upper(chisq, df));
				nulls[8] = false;
			}
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* lme4's name of variance parameter k (theta's order, term by term), or "sigma" after them. */
static char *
varpar_name(const LmmModel *m, int k)
{
	int			t,
				col = 0;
	LmmModelTerm v;

	for (t = 0; t <= m->nextra; t++)
	{
		v = lmm_model_term(m, t);
		if (k < LMM_NTHETA(v.q))
			break;
		k -= LMM_NTHETA(v.q);
	}
	if (t > m->nextra)
		return "sigma";
	while (k >= v.q - col)
	{
		k -= v.q - col;
		col++;
	}
	if (k == 0)
		return psprintf("sd_%s|%s", v.z_names[col], v.grp);
	return psprintf("cor_%s.%s|%s", v.z_names[col + k], v.z_names[col], v.grp);
}

/* Emit one interval row; a bound the profile could not find is NULL. */
static void
put_interval(ReturnSetInfo *rsinfo, const char *name, double est, double lo,
			 double hi, const char *method)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, !isfinite(lo), !isfinite(hi), false};

	values[0] = CStringGetTextDatum(name);
	values[1] = Float8GetDatum(lmm_finite_result(est, "an estimate"));
	values[2] = Float8GetDatum(lo);
	values[3] = Float8GetDatum(hi);
	values[4] = CStringGetTextDatum(method);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(lmm_confint);

/*
 * lmm_confint(m, options): lme4's confint.  method=profile (default): the
 * likelihood profile of every standard deviation, correlation, sigma and
 * fixed effect; method=wald: the fixed effects' normal-theory intervals.
 */
Datum
lmm_confint(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *opts = text_to_cstring(PG_GETARG_TEXT_PP(1));
	LmmModel	m;
	bool		profile;
	double		level;
	int			nt,
				k,
				t;

	lmm_parse_confint_options(opts, &profile, &level);
	InitMaterializedSRF(fcinfo, 0);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	nt = lmm_model_ntheta(&m);
	if (!profile)
	{
		double		zq = -lmm_qnorm((1.0 - level) / 2.0);

		for (k = 0; k < m.p; k++)
		{
			double		se = sqrt(m.vcov[k * m.p + k]);

			put_interval(rsinfo, m.x_names[k], m.beta[k],
						 lmm_finite_result(m.beta[k] - zq * se, "a Wald bound"),
						 lmm_finite_result(m.beta[k] + zq * se, "a Wald bound"), "wald");
		}
	}
	else
	{
		LmmProfile	prof;
		LmmStatus	status;
		double	   *est = palloc(sizeof(double) * (nt + 1));
		double		sdcor[LMM_MAX_INF];

		require_stats(&m, "lmm_confint(method=profile)");
		status = lmm_profile(m.tstats, level, &prof);
		if (status != LMM_OK)
			refit_failed(status);
		if (prof.npar != nt + 1 + m.p)
			lmm_model_corrupt("its statistics do not describe its terms");
		for (t = 0, k = 0; t <= m.nextra; t++)
		{
			LmmModelTerm v = lmm_model_term(&m, t);

			lmm_theta_to_sdcor(v.q, v.theta, m.sigma, sdcor);
			memcpy(est + k, sdcor, sizeof(double) * LMM_NTHETA(v.q));
			k += LMM_NTHETA(v.q);
		}
		est[nt] = m.sigma;
		for (k = 0; k <= nt; k++)
			put_interval(rsinfo, varpar_name(&m, k), est[k], prof.lower[k],
						 prof.upper[k], "profile");
		for (k = 0; k < m.p; k++)
			put_interval(rsinfo, m.x_names[k], m.beta[k], prof.lower[nt + 1 + k],
						 prof.upper[nt + 1 + k], "profile");
		lmm_profile_free(&prof);
	}
	return (Datum) 0;
}

/*
 * The contrast matrix of lmm_contrast from l: a one-dimensional array is one
 * hypothesis (*nrow 1, *one_d), a two-dimensional one a hypothesis per row;
 * every row has p entries, none NULL or non-finite.
 */
static double *
contrast_rows(ArrayType *arr, int p, int *nrow, bool *one_d)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;
	int			ndim = ARR_NDIM(arr);
	int			rowlen = ndim >= 1 ? ARR_DIMS(arr)[ndim - 1] : 0;
	double	   *L;

	if (ndim != 1 && ndim != 2)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("lmm_contrast takes a one- or two-dimensional array, not %d dimensions", ndim),
				 errhint("Give one contrast as ARRAY[...] or several as ARRAY[[...], [...]], a coefficient per fixed effect in lmm_fixef's order.")));
	if (rowlen != p)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the contrast has %d coefficients per row but the model has %d fixed effects", rowlen, p),
				 errhint("Give a coefficient per fixed effect, in lmm_fixef's order.")));
	*one_d = ndim == 1;
	*nrow = ndim == 1 ? 1 : ARR_DIMS(arr)[0];
	if (*nrow > LMM_MAX_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the contrast has %d rows, more than the %d lmm_contrast takes", *nrow, LMM_MAX_COLUMNS),
				 errhint("Drop rows that repeat others: only the rank of the rows counts.")));
	deconstruct_array(arr, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	L = palloc(sizeof(double) * (size_t) n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the contrast has a NULL coefficient at position %d", i + 1),
					 errhint("Give 0 for a fixed effect the contrast leaves out.")));
		L[i] = DatumGetFloat8(elems[i]);
		if (!isfinite(L[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the contrast has a non-finite coefficient at position %d", i + 1),
					 errhint("Every coefficient must be a finite number.")));
	}
	return L;
}

PG_FUNCTION_INFO_V1(lmm_contrast);

/*
 * lmm_contrast(m, l, options): lmerTest's contest.  A one-dimensional l is
 * contest1D: l'beta, its standard error and t value, with the df, F = t^2
 * on 1 df.  A two-dimensional l is contestMD: the F test of every row's
 * l'beta = 0 jointly, on the rank of its rows.  ddf=satterthwaite (the
 * default), ddf=kenward-roger (pbkrtest's adjusted covariance and df; the
 * F of several rows scaled as KRmodcomp's) or ddf=none (lme4's statistics
 * without df and p-value).
 */
Datum
lmm_contrast(PG_FUNCTION_ARGS)
{
	char	   *opts = text_to_cstring(PG_GETARG_TEXT_PP(2));
	LmmModel	m;
	LmmKr		kr;
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7] = {true, true, true, true, true, true, true};
	LmmDdf		ddf_kind;
	bool		one_d;
	int			nrow,
				q;
	double	   *L;
	const double *vcov;
	double		f,
				ddf;

	lmm_parse_test_options(opts, "lmm_contrast", NULL, &ddf_kind);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "lmm_contrast must return a composite type");
	desc = BlessTupleDesc(desc);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	L = contrast_rows(PG_GETARG_ARRAYTYPE_P(1), m.p, &nrow, &one_d);
	vcov = m.vcov;
	if (ddf_kind == LMM_DDF_KENWARD_ROGER)
	{
		double		fu,
					fscale;

		lmm_model_kr(&m, "lmm_contrast", &kr);
		vcov = kr.phia;
		q = lmm_kr_ftest(&kr, m.beta, nrow, L, &fu, &fscale, &ddf);
		/* one row: contest1D's t^2 on the adjusted variance; several: KRmodcomp's scaled F */
		f = one_d ? fu : fu * fscale;
	}
	else
		q = lmm_contrast_ftest(m.p, m.beta, m.vcov,
							   ddf_kind == LMM_DDF_SATTERTHWAITE ? m.ninf : 0,
							   m.vcov_varpar, m.jac, nrow, L, &f, &ddf);
	if (one_d)
	{
		double		est = 0.0,
					var = 0.0;
		int			a,
					b;

		for (a = 0; a < m.p; a++)
		{
			est += L[a] * m.beta[a];
			for (b = 0; b < m.p; b++)
				var += L[a] * vcov[a * m.p + b] * L[b];
		}
		if (ddf_kind == LMM_DDF_KENWARD_ROGER && var < 0.0)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the contrast's Kenward-Roger adjusted variance is negative"),
					 errdetail("The adjustment of the covariance of the fixed effects is larger than the covariance itself; the small-sample correction breaks down for this model."),
					 errhint("Use ddf=satterthwaite.")));
		values[0] = Float8GetDatum(lmm_finite_result(est, "a contrast's estimate"));
		values[1] = Float8GetDatum(lmm_finite_result(sqrt(var), "a contrast's standard error"));
		nulls[0] = nulls[1] = false;
		if (var > 0.0)
		{
			values[2] = Float8GetDatum(lmm_finite_result(est / sqrt(var), "a t value"));
			nulls[2] = false;
		}
	}
	if (q > 0)
	{
		values[3] = Int32GetDatum(q);
		values[5] = Float8GetDatum(lmm_finite_result(f, "an F value"));
		nulls[3] = nulls[5] = false;
		if (m.family != LMM_FAMILY_GAUSSIAN)
		{
			/* a GLMM's Wald test: q F on q df from the chi-square, no den_df */
			values[6] = Float8GetDatum(lmm_finite_result(lmm_pchisq_upper(q * f, q), "a p-value"));
			nulls[6] = false;
		}
		else if (ddf > 0.0 && isfinite(ddf))
		{
			values[4] = Float8GetDatum(ddf);
			values[6] = Float8GetDatum(lmm_finite_result(lmm_pf_upper(f, q, ddf), "a p-value"));
			nulls[4] = nulls[6] = false;
		}
	}
	if (ddf_kind == LMM_DDF_KENWARD_ROGER)
		lmm_kr_free(&kr);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* Most replicates lmm_bootstrap draws in one call. */
#define LMM_BOOT_MAX_NSIM 1000000

PG_FUNCTION_INFO_V1(lmm_bootstrap);

/*
 * lmm_bootstrap(m, nsim, options): lme4's confint(m, method = "boot"), a
 * parametric bootstrap with percentile intervals for every standard
 * deviation, correlation, sigma and fixed effect.  Each replicate's
 * response is drawn as the statistics it would have (lmm_boot.c), never as
 * rows, and refitted as m was (REML or ML).  Replicates whose refit fails
 * are left out and counted in a NOTICE.
 */
Datum
lmm_bootstrap(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		nsim = PG_GETARG_INT32(1);
	char	   *opts = text_to_cstring(PG_GETARG_TEXT_PP(2));
	LmmModel	m;
	LmmBoot		b;
	LmmStatus	status;
	double		level;
	int64		seed;
	double	   *theta;
	int			nt,
				k,
				t;

	lmm_parse_boot_options(opts, &level, &seed);
	if (nsim < 1 || nsim > LMM_BOOT_MAX_NSIM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lmm_bootstrap needs between 1 and %d replicates, not %d", LMM_BOOT_MAX_NSIM, nsim),
				 errhint("lme4's confint(method = \"boot\") draws 500 by default; 1000 to 2000 give stable 95%% intervals.")));
	InitMaterializedSRF(fcinfo, 0);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	require_stats(&m, "lmm_bootstrap");
	nt = lmm_model_ntheta(&m);
	theta = palloc(sizeof(double) * nt);
	for (t = 0, k = 0; t <= m.nextra; t++)
	{
		LmmModelTerm v = lmm_model_term(&m, t);

		memcpy(theta + k, v.theta, sizeof(double) * LMM_NTHETA(v.q));
		k += LMM_NTHETA(v.q);
	}
	if ((int64) nsim * (nt + 1 + m.p) > ((int64) 1 << 25))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("lmm_bootstrap would keep %lld estimates, more than %d", (long long) nsim * (nt + 1 + m.p), 1 << 25),
				 errhint("Draw fewer replicates: the model has %d parameters.", nt + 1 + m.p)));

	status = lmm_boot_run(m.tstats, (m.flags & LMM_MODEL_REML) != 0, theta, m.beta,
						   m.sigma, nsim, (uint64) seed, level, &b);
	switch (status)
	{
		case LMM_OK:
			break;
		case LMM_ERR_TOO_MANY_LEVELS:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("lmm_bootstrap's dense factor of the random-effects terms after the largest would exceed lmm.max_factor_memory (%s)",
							GetConfigOptionByName("lmm.max_factor_memory", NULL, false)),
					 errhint("Raise lmm.max_factor_memory, or give the term with most levels the most levels.")));
			break;
		default:
			refit_failed(status);
	}
	if (b.nok == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("no bootstrap replicate of %d could be refitted", nsim),
				 errdetail("Every refit failed or did not converge."),
				 errhint("Check the model with lmm_print; a model at the edge of what its data support may need simpler random effects.")));
	if (b.nfailed > 0)
		ereport(NOTICE,
				(errmsg("%d of %d bootstrap replicates were left out: their refit failed or did not converge", b.nfailed, nsim)));
	for (k = 0; k <= nt; k++)
		put_interval(rsinfo, varpar_name(&m, k), b.estimate[k], b.lower[k], b.upper[k],
					 "percentile");
	for (k = 0; k < m.p; k++)
		put_interval(rsinfo, m.x_names[k], b.estimate[nt + 1 + k], b.lower[nt + 1 + k],
					 b.upper[nt + 1 + k], "percentile");
	lmm_boot_free(&b);
	return (Datum) 0;
}
