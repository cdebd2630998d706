/*
 * extract.c
 *	  Set-returning and composite views of an lmm_model: fixed effects,
 *	  variance components, conditional modes and the fit summary.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "core/lmm_dist.h"
#include "core/lmm_infer.h"
#include "lmm_pg.h"

PG_FUNCTION_INFO_V1(lmm_fixef);

/*
 * lmm_fixef(m): one row per fixed effect, intercept first: estimate, SE, t,
 * and lmerTest's Satterthwaite df with the two-sided p-value and the 95%
 * interval from the t distribution (NULL for models without what df need).
 */
Datum
lmm_fixef(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LmmModel	m;
	double	   *L;
	int			k;

	InitMaterializedSRF(fcinfo, 0);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	L = palloc0(sizeof(double) * m.p);
	for (k = 0; k < m.p; k++)
	{
		Datum		values[8];
		bool		nulls[8] = {false, false, false, false, true, true, true, true};
		double		se = sqrt(m.vcov[k * m.p + k]);
		double		df;

		values[0] = CStringGetTextDatum(m.x_names[k]);
		values[1] = Float8GetDatum(m.beta[k]);
		values[2] = Float8GetDatum(se);
		if (se > 0.0)
			values[3] = Float8GetDatum(lmm_finite_result(m.beta[k] / se, "a t value"));
		else
			nulls[3] = true;
		L[k] = 1.0;
		df = lmm_satterthwaite_df(m.ninf, m.p, m.vcov_varpar, m.jac, m.vcov, L);
		L[k] = 0.0;
		if (se > 0.0 && df > 0.0 && isfinite(df))
		{
			double		half = lmm_qt(0.975, df) * se;

			values[4] = Float8GetDatum(df);
			values[5] = Float8GetDatum(lmm_pt_two_sided(m.beta[k] / se, df));
			values[6] = Float8GetDatum(lmm_finite_result(m.beta[k] - half, "a confidence bound"));
			values[7] = Float8GetDatum(lmm_finite_result(m.beta[k] + half, "a confidence bound"));
			nulls[4] = nulls[5] = nulls[6] = nulls[7] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Random-effects covariance sigma^2 T T' entry (a, b) of a term. */
static double
re_cov(const LmmModelTerm *t, double sigma, int a, int b)
{
	int			q = t->q;
	double		s = 0.0;
	int			k;

	/* T[i][k] for k <= i is theta[k*q - k(k-1)/2 + (i - k)] */
	for (k = 0; k <= a && k <= b; k++)
	{
		int			col = k * q - k * (k - 1) / 2;

		s += t->theta[col + a - k] * t->theta[col + b - k];
	}
	return sigma * sigma * s;
}

/*
 * The name lme4's VarCorr gives term t: its grouping factor, with ".1",
 * ".2", ... when an earlier term has the same factor (as (x || g) makes).
 */
static char *
varcorr_name(const LmmModel *m, int t)
{
	LmmModelTerm self = lmm_model_term(m, t);
	int			u,
				repeats = 0;

	for (u = 0; u < t; u++)
		if (strcmp(lmm_model_term(m, u).grp, self.grp) == 0)
			repeats++;
	return repeats == 0 ? self.grp : psprintf("%s.%d", self.grp, repeats);
}

PG_FUNCTION_INFO_V1(lmm_varcorr);

/*
 * lmm_varcorr(m): as lme4's as.data.frame(VarCorr(m)): for every term in
 * turn its variances, then its covariances (with correlations) in
 * lower-triangle column order; the residual last.
 */
Datum
lmm_varcorr(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LmmModel	m;
	int			a,
				b,
				t;
	Datum		values[6];
	bool		nulls[6];

	InitMaterializedSRF(fcinfo, 0);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	for (t = 0; t <= m.nextra; t++)
	{
		LmmModelTerm term = lmm_model_term(&m, t);
		Datum		grp = CStringGetTextDatum(varcorr_name(&m, t));

		for (a = 0; a < term.q; a++)
		{
			double		v = lmm_finite_result(re_cov(&term, m.sigma, a, a), "a variance");

			memset(nulls, false, sizeof(nulls));
			values[0] = grp;
			values[1] = CStringGetTextDatum(term.z_names[a]);
			nulls[2] = true;
			values[3] = Float8GetDatum(v);
			values[4] = Float8GetDatum(sqrt(v));
			nulls[5] = true;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		for (a = 0; a < term.q; a++)
			for (b = a + 1; b < term.q; b++)
			{
				double		c = lmm_finite_result(re_cov(&term, m.sigma, b, a), "a covariance");

				/* the correlation from T alone: sigma^2 cancels, and may overflow */
				double		r = re_cov(&term, 1.0, b, a);
				double		sd = sqrt(re_cov(&term, 1.0, a, a)) * sqrt(re_cov(&term, 1.0, b, b));

				memset(nulls, false, sizeof(nulls));
				values[0] = grp;
				values[1] = CStringGetTextDatum(term.z_names[a]);
				values[2] = CStringGetTextDatum(term.z_names[b]);
				values[3] = Float8GetDatum(c);
				nulls[4] = true;
				if (sd > 0.0)
					values[5] = Float8GetDatum(lmm_finite_result(r / sd, "a correlation"));
				else
					nulls[5] = true;
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
	}
	memset(nulls, false, sizeof(nulls));
	values[0] = CStringGetTextDatum("Residual");
	nulls[1] = nulls[2] = nulls[5] = true;
	values[3] = Float8GetDatum(lmm_finite_result(m.sigma * m.sigma, "the residual variance"));
	values[4] = Float8GetDatum(m.sigma);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(lmm_ranef);

/*
 * lmm_ranef(m): the conditional mode and conditional SD of every level and
 * column of every term, grp naming the term's grouping factor.
 */
Datum
lmm_ranef(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LmmModel	m;
	int64		j;
	int			k,
				t;

	InitMaterializedSRF(fcinfo, 0);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	for (t = 0; t <= m.nextra; t++)
	{
		LmmModelTerm term = lmm_model_term(&m, t);
		int			q = term.q;
		Datum		grp = CStringGetTextDatum(term.grp);
		Datum	   *names = palloc(sizeof(Datum) * q);

		for (k = 0; k < q; k++)
			names[k] = CStringGetTextDatum(term.z_names[k]);
		for (j = 0; j < term.nlevels; j++)
		{
			Datum		level = CStringGetTextDatum(term.levels[j]);

			if ((j & 4095) == 0)
				CHECK_FOR_INTERRUPTS();
			for (k = 0; k < q; k++)
			{
				Datum		values[5];
				bool		nulls[5] = {false, false, false, false, false};

				values[0] = grp;
				values[1] = level;
				values[2] = names[k];
				values[3] = Float8GetDatum(term.b[j * q + k]);
				values[4] = Float8GetDatum(sqrt(term.condvar[(j * q + k) * q + k]));
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
		}
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(lmm_summary);

/* lmm_summary(m): one row describing the fit, as lme4's summary header. */
Datum
lmm_summary(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	LmmModel	m;
	Datum		values[13];
	bool		nulls[13];
	Datum	   *theta;
	int			k,
				t;
	int			nt;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_summary must be called where a record is expected"),
				 errdetail("Use SELECT * FROM lmm_summary(m).")));
	tupdesc = BlessTupleDesc(tupdesc);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);

	/* theta of every term in turn, as lme4's getME(m, "theta") */
	nt = lmm_model_ntheta(&m);
	theta = palloc(sizeof(Datum) * nt);
	for (k = 0, t = 0; t <= m.nextra; t++)
	{
		LmmModelTerm term = lmm_model_term(&m, t);
		int			i;

		for (i = 0; i < LMM_NTHETA(term.q); i++)
			theta[k++] = Float8GetDatum(term.theta[i]);
	}

	memset(nulls, false, sizeof(nulls));
	values[0] = CStringGetTextDatum((m.flags & LMM_MODEL_REML) ? "REML" : "ML");
	values[1] = Int64GetDatum(m.n_obs);
	values[2] = Int64GetDatum(m.nlevels);
	values[3] = Int64GetDatum(m.n_dropped);
	values[4] = Float8GetDatum(m.criterion);
	values[5] = Float8GetDatum(m.loglik);
	values[6] = Float8GetDatum(m.aic);
	values[7] = Float8GetDatum(m.bic);
	values[8] = Float8GetDatum(m.sigma);
	values[9] = PointerGetDatum(construct_array(theta, nt, FLOAT8OID, 8,
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[10] = Int32GetDatum(m.n_eval);
	values[11] = BoolGetDatum((m.flags & LMM_MODEL_CONVERGED) != 0);
	values[12] = BoolGetDatum((m.flags & LMM_MODEL_SINGULAR) != 0);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
