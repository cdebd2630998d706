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
#include "core/lmm_kr.h"
#include "lmm_pg.h"

/* The df of fixed effect k's row, and its p-value and 95% interval when they are usable. */
static void
fixef_row_df(const LmmModel *m, int k, double df, LmmFixefRow *r)
{
	r->has_df = r->has_t && df > 0.0 && isfinite(df);
	if (r->has_df)
	{
		double		half = lmm_qt(0.975, df) * r->se;

		r->df = df;
		r->p = lmm_pt_two_sided(r->t, df);
		r->conf_low = lmm_finite_result(m->beta[k] - half, "a confidence bound");
		r->conf_high = lmm_finite_result(m->beta[k] + half, "a confidence bound");
	}
}

/*
 * Fixed effect k as lmm_fixef reports it, so that lmm_print shows the same
 * numbers; L is a zeroed scratch vector of m->p, left zeroed.
 */
void
lmm_fixef_row(const LmmModel *m, int k, double *L, LmmFixefRow *r)
{
	double		df;

	memset(r, 0, sizeof(*r));
	r->estimate = m->beta[k];
	r->se = sqrt(m->vcov[k * m->p + k]);
	r->has_t = r->se > 0.0;
	if (r->has_t)
		r->t = lmm_finite_result(m->beta[k] / r->se, "a t value");
	if (m->family != LMM_FAMILY_GAUSSIAN)
	{
		/* a GLMM's Wald z: p-value and interval from the normal, no df (glmer's summary) */
		double		half = lmm_qnorm(0.975) * r->se;

		r->has_df = r->has_t;
		r->df = NAN;
		r->p = erfc(fabs(r->t) / M_SQRT2);
		r->conf_low = lmm_finite_result(m->beta[k] - half, "a confidence bound");
		r->conf_high = lmm_finite_result(m->beta[k] + half, "a confidence bound");
		return;
	}
	L[k] = 1.0;
	df = lmm_satterthwaite_df(m->ninf, m->p, m->vcov_varpar, m->jac, m->vcov, L);
	L[k] = 0.0;
	fixef_row_df(m, k, df, r);
}

/*
 * Fixed effect k with Kenward-Roger's adjusted standard error and df
 * (lmerTest's summary with ddf = "Kenward-Roger"); L as in lmm_fixef_row.
 */
static void
fixef_row_kr(const LmmModel *m, const LmmKr *kr, int k, double *L, LmmFixefRow *r)
{
	double		df,
				fscale;

	memset(r, 0, sizeof(*r));
	r->estimate = m->beta[k];
	if (!(kr->phia[k * m->p + k] >= 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the Kenward-Roger adjusted variance of \"%s\" is not a positive number", m->x_names[k]),
				 errdetail("The adjustment of the covariance of the fixed effects is larger than the covariance itself; the small-sample correction breaks down for this model."),
				 errhint("Use ddf=satterthwaite.")));
	r->se = lmm_finite_result(sqrt(kr->phia[k * m->p + k]), "a standard error");
	r->has_t = r->se > 0.0;
	if (r->has_t)
		r->t = lmm_finite_result(m->beta[k] / r->se, "a t value");
	L[k] = 1.0;
	df = lmm_kr_df(kr, 1, L, &fscale);
	L[k] = 0.0;
	fixef_row_df(m, k, df, r);
}

PG_FUNCTION_INFO_V1(lmm_fixef);

/*
 * lmm_fixef(m [, options]): one row per fixed effect, intercept first:
 * estimate, SE, t, and lmerTest's df with the two-sided p-value and the
 * 95% interval from the t distribution.  ddf=satterthwaite (the default;
 * NULL df for models without what they need), ddf=kenward-roger
 * (pbkrtest's adjusted SE and df) or ddf=none (no df).
 */
Datum
lmm_fixef(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	LmmModel	m;
	LmmKr		kr;
	LmmDdf		ddf = LMM_DDF_SATTERTHWAITE;
	double	   *L;
	int			k;

	if (PG_NARGS() > 1)
		lmm_parse_test_options(text_to_cstring(PG_GETARG_TEXT_PP(1)), "lmm_fixef",
							   NULL, &ddf);
	InitMaterializedSRF(fcinfo, 0);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	if (ddf == LMM_DDF_KENWARD_ROGER)
		lmm_model_kr(&m, "lmm_fixef", &kr);
	L = palloc0(sizeof(double) * m.p);
	for (k = 0; k < m.p; k++)
	{
		Datum		values[8];
		bool		nulls[8] = {false, false, false, true, true, true, true, true};
		LmmFixefRow r;

		CHECK_FOR_INTERRUPTS();
		if (ddf == LMM_DDF_KENWARD_ROGER)
			fixef_row_kr(&m, &kr, k, L, &r);
		else
			lmm_fixef_row(&m, k, L, &r);
		values[0] = CStringGetTextDatum(m.x_names[k]);
		values[1] = Float8GetDatum(r.estimate);
		values[2] = Float8GetDatum(r.se);
		if (r.has_t)
		{
			values[3] = Float8GetDatum(r.t);
			nulls[3] = false;
		}
		if (r.has_df && ddf != LMM_DDF_NONE)
		{
			values[4] = Float8GetDatum(r.df);
			values[5] = Float8GetDatum(r.p);
			values[6] = Float8GetDatum(r.conf_low);
			values[7] = Float8GetDatum(r.conf_high);
			nulls[4] = isnan(r.df);
			nulls[5] = nulls[6] = nulls[7] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	if (ddf == LMM_DDF_KENWARD_ROGER)
		lmm_kr_free(&kr);
	return (Datum) 0;
}

/* Random-effects covariance sigma^2 T T' entry (a, b) of a term. */
double
lmm_re_cov(const LmmModelTerm *t, double sigma, int a, int b)
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
 * The correlation of columns a and b of a term, false where a variance is
 * zero and it is undefined.  From T alone: sigma^2 cancels, and may overflow.
 */
bool
lmm_re_corr(const LmmModelTerm *t, int a, int b, double *corr)
{
	double		r = lmm_re_cov(t, 1.0, a, b);
	double		sd = sqrt(lmm_re_cov(t, 1.0, a, a)) * sqrt(lmm_re_cov(t, 1.0, b, b));

	if (!(sd > 0.0))
		return false;
	*corr = lmm_finite_result(r / sd, "a correlation");
	return true;
}

/* One side of a formula: the columns' names, "1" for an intercept, "0" first if there is none. */
static void
append_columns(StringInfo buf, char **names, int n)
{
	bool		intercept = false;
	int			k;

	for (k = 0; k < n; k++)
		intercept |= strcmp(names[k], "(Intercept)") == 0;
	if (!intercept)
		appendStringInfoChar(buf, '0');
	for (k = 0; k < n; k++)
		appendStringInfo(buf, "%s%s", (k > 0 || !intercept) ? " + " : "",
						 strcmp(names[k], "(Intercept)") == 0 ? "1" : names[k]);
}

/*
 * The model as an lme4 formula: the formula of lmm() or of the statistics
 * it was fitted from, else the right-hand side its terms spell, as "~ 1 +
 * days + (1 + days | subject)" (the response is not recorded).
 */
char *
lmm_model_formula(const LmmModel *m)
{
	StringInfoData buf;
	int			t;

	if (m->formula != NULL && m->formula[0] != '\0')
		return m->formula;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "~ ");
	append_columns(&buf, m->x_names, m->p);
	for (t = 0; t <= m->nextra; t++)
	{
		LmmModelTerm term = lmm_model_term(m, t);

		appendStringInfoString(&buf, " + (");
		append_columns(&buf, term.z_names, term.q);
		appendStringInfo(&buf, " | %s)", term.grp);
	}
	return buf.data;
}

/*
 * The name lme4's VarCorr gives term t: its grouping factor, with ".1",
 * ".2", ... when an earlier term has the same factor (as (x || g) makes).
 */
char *
lmm_varcorr_name(const LmmModel *m, int t)
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
		Datum		grp = CStringGetTextDatum(lmm_varcorr_name(&m, t));

		for (a = 0; a < term.q; a++)
		{
			double		v = lmm_finite_result(lmm_re_cov(&term, m.sigma, a, a), "a variance");

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
				double		c = lmm_finite_result(lmm_re_cov(&term, m.sigma, b, a), "a covariance");
				double		r;

				memset(nulls, false, sizeof(nulls));
				values[0] = grp;
				values[1] = CStringGetTextDatum(term.z_names[a]);
				values[2] = CStringGetTextDatum(term.z_names[b]);
				values[3] = Float8GetDatum(c);
				nulls[4] = true;
				if (lmm_re_corr(&term, b, a, &r))
					values[5] = Float8GetDatum(r);
				else
					nulls[5] = true;
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
			}
	}
	/* a GLMM's scale is fixed: glmer's VarCorr has no Residual row */
	if (m.family != LMM_FAMILY_GAUSSIAN)
		return (Datum) 0;
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
	values[0] = CStringGetTextDatum(m.family == LMM_FAMILY_GAUSSIAN ?
									((m.flags & LMM_MODEL_REML) ? "REML" : "ML") :
									m.nagq == 0 ? "nAGQ=0" : m.nagq == 1 ? "Laplace" :
									psprintf("AGQ(%d)", m.nagq));
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
