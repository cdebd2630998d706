/*
 * lsmeans.c
 *	  lmm_ls_means(m, term, options): lmerTest's ls_means(m, which = term),
 *	  the least-squares mean of each cell of a term of factors, or with
 *	  pairwise=true their pairwise differences, each a contrast tested as
 *	  lmm_contrast tests one (Satterthwaite's df).  The design comes from
 *	  the model's formula and columns (lmm_model_design), every factor's
 *	  levels from the model's factors, the covariates' means from its
 *	  statistics.
 */
#include "postgres.h"

#include <math.h>

#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "core/lmm_dist.h"
#include "core/lmm_infer.h"
#include "core/lmm_kr.h"
#include "core/lmm_lsmeans.h"
#include "lmm_pg.h"

/* Most rows one call returns. */
#define LSMEANS_MAX_ROWS 1000000

/* The labels of the model's terms of factors only, for a hint. */
static char *
factor_terms(const LmmAnovaDesign *d, char **labels)
{
	StringInfoData buf;
	int			t;

	initStringInfo(&buf);
	for (t = 0; t < d->nterms; t++)
		if (lmm_lsmeans_ncells(d, t) > 0.0)
			appendStringInfo(&buf, "%s\"%s\"", buf.len > 0 ? ", " : "", labels[t]);
	return buf.len > 0 ? buf.data : "none";
}

/*
 * The stored levels of every factor of the design, by variable id (NULL
 * for numerics), after checking that the columns name them in R's order:
 * a factor coded by contrasts has a column for every level but the first,
 * one coded by every level somewhere a column for each.
 */
static char ***
factor_levels(const LmmModel *m, const LmmAnovaDesign *d, const LmmDesignVar *vars, int nvars)
{
	char	 ***levels = palloc0(sizeof(char **) * (nvars + 1));
	int			id,
				k,
				i;

	for (id = 0; id < nvars; id++)
	{
		const LmmModelFactor *f = NULL;
		int			off = vars[id].full ? 0 : 1;

		if (!vars[id].factor)
			continue;
		if (m->nfactors == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("lmm_ls_means needs every level of the model's factors, which this model does not carry"),
					 errdetail("Models fitted before lmm 0.7, and models of lmm_fit_terms whose spec has no \"factors\", know only the levels that have a column, not the reference level."),
					 errhint("Refit the model with lmm().")));
		for (k = 0; k < m->nfactors && strcmp(m->factors[k].name, vars[id].name) != 0; k++)
			;
		if (k < m->nfactors)
			f = &m->factors[k];
		for (i = 0; f != NULL && f->nlevels == vars[id].nseen + off && i < vars[id].nseen &&
			 strcmp(vars[id].seen[i], f->levels[i + off]) == 0; i++)
			;
		if (f == NULL || f->nlevels != vars[id].nseen + off || i < vars[id].nseen)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the levels the model records for factor \"%s\" do not match its columns", vars[id].name),
					 errdetail("Its columns name the levels after the reference, in order; the model must list the reference first, then those."),
					 errhint("Refit the model with lmm(); with lmm_fit_terms, give every factor's levels in the spec's \"factors\" as its columns name them, the reference first.")));
		levels[id] = f->levels;
	}
	return levels;
}

/*
 * The mean of every numeric variable of the design (by id) from the
 * statistics the model carries: the model frame's means, as lmerTest
 * uses them.
 */
static double *
covariate_means(const LmmModel *m, const LmmAnovaDesign *d, const LmmDesignVar *vars, int nvars)
{
	double	   *mean = palloc0(sizeof(double) * (nvars + 1));
	double	   *colmean = palloc0(sizeof(double) * (d->p + 1));
	int			id,
				a,
				missing;

	for (id = 0; id < nvars && vars[id].factor; id++)
		;
	if (id == nvars)
		return mean;
	if (m->tstats == NULL || m->tstats->p != d->p)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_ls_means needs the means of the model's covariates, which this model does not carry"),
				 errdetail("Models stored by lmm 0.2 or earlier, and models of lmm() stored by lmm 0.6 or earlier, carry no statistics."),
				 errhint("Refit the model with lmm().")));
	for (a = 0; a < d->p; a++)
		colmean[a] = m->tstats->sum[a] / m->tstats->n + m->tstats->shift[a];
	missing = lmm_lsmeans_var_means(d, nvars, colmean, mean);
	if (missing >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_ls_means cannot tell the mean of covariate \"%s\" from the model's columns", vars[missing].name),
				 errdetail("The covariate has no column of its own, nor one per level of the factors it interacts with."),
				 errhint("Add \"%s\" as a term of its own to the formula.", vars[missing].name)));
	return mean;
}

/*
 * One row of the result: the contrast L of the model's fixed effects,
 * tested as lmerTest's contest1D, with Satterthwaite's df or, when kr is
 * given, Kenward-Roger's adjusted covariance and df.
 */
static void
put_row(ReturnSetInfo *rsinfo, const LmmModel *m, const LmmKr *kr, const char *term,
		const char *level, const double *L, double conf)
{
	const double *V = kr ? kr->phia : m->vcov;
	double		fscale;
	Datum		values[9];
	bool		nulls[9] = {false, false, false, false, true, true, true, true, true};
	double		est = 0.0,
				var = 0.0,
				se,
				df;
	int			a,
				b;

	for (a = 0; a < m->p; a++)
	{
		if (L[a] == 0.0)
			continue;
		est += L[a] * m->beta[a];
		for (b = 0; b < m->p; b++)
			var += L[a] * V[a * m->p + b] * L[b];
	}
	se = sqrt(fmax(var, 0.0));
	df = kr ? lmm_kr_df(kr, 1, L, &fscale) :
		lmm_satterthwaite_df(m->ninf, m->p, m->vcov_varpar, m->jac, m->vcov, L);
	values[0] = CStringGetTextDatum(term);
	values[1] = CStringGetTextDatum(level);
	values[2] = Float8GetDatum(lmm_finite_result(est, "a least-squares mean"));
	values[3] = Float8GetDatum(lmm_finite_result(se, "a standard error"));
	if (se > 0.0)
	{
		double		t = lmm_finite_result(est / se, "a t value");

		values[5] = Float8GetDatum(t);
		nulls[5] = false;
		if (m->family != LMM_FAMILY_GAUSSIAN)
		{
			/* a GLMM's Wald z: p-value and interval from the normal, no df */
			double		half = lmm_qnorm(1.0 - (1.0 - conf) / 2.0) * se;

			values[6] = Float8GetDatum(erfc(fabs(t) / M_SQRT2));
			values[7] = Float8GetDatum(lmm_finite_result(est - half, "a confidence bound"));
			values[8] = Float8GetDatum(lmm_finite_result(est + half, "a confidence bound"));
			nulls[6] = nulls[7] = nulls[8] = false;
		}
		else if (df > 0.0 && isfinite(df))
		{
			double		half = lmm_qt(1.0 - (1.0 - conf) / 2.0, df) * se;

			values[4] = Float8GetDatum(df);
			values[6] = Float8GetDatum(lmm_pt_two_sided(t, df));
			values[7] = Float8GetDatum(lmm_finite_result(est - half, "a confidence bound"));
			values[8] = Float8GetDatum(lmm_finite_result(est + half, "a confidence bound"));
			nulls[4] = nulls[6] = nulls[7] = nulls[8] = false;
		}
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

PG_FUNCTION_INFO_V1(lmm_ls_means);

/*
 * lmm_ls_means(m, term, options): lmerTest's ls_means(m, which = term), a
 * row per cell of a term of factors (level "recipeA", "recipeA:temp175"),
 * or with pairwise=true a row per pair of cells ("recipeA - recipeB"), in
 * lmerTest's order; options level (0.95) and ddf=satterthwaite (the
 * default) or kenward-roger.
 */
Datum
lmm_ls_means(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *term = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *opts = text_to_cstring(PG_GETARG_TEXT_PP(2));
	LmmModel	m;
	LmmAnovaDesign d;
	LmmDesignVar *vars;
	char	  **labels;
	char	 ***levels;
	char	  **names;
	double	   *mean,
			   *L,
			   *diff;
	double		conf,
				ncells,
				nrows;
	bool		pairwise;
	LmmDdf		ddf;
	LmmKr		kr;
	int			nvars,
				t,
				c,
				c2,
				v;

	lmm_parse_lsmeans_options(opts, &pairwise, &conf, &ddf);
	InitMaterializedSRF(fcinfo, 0);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	if (ddf == LMM_DDF_KENWARD_ROGER)
		lmm_model_kr(&m, "lmm_ls_means", &kr);
	lmm_model_design(&m, &d, &labels, &vars, &nvars);
	for (t = 0; t < d.nterms && strcmp(labels[t], term) != 0; t++)
		;
	if (t == d.nterms)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the model has no fixed-effect term \"%s\"", term),
				 errdetail("Its terms of factors are %s.", factor_terms(&d, labels)),
				 errhint("Name a term as lmm_anova lists it, e.g. \"recipe\" or \"recipe:temperature\".")));
	ncells = lmm_lsmeans_ncells(&d, t);
	if (ncells == 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("term \"%s\" has a numeric covariate, and least-squares means are for terms of factors only", term),
				 errdetail("Its terms of factors are %s.", factor_terms(&d, labels)),
				 errhint("Covariates are held at their means; use lmm_contrast for a slope.")));
	nrows = pairwise ? ncells * (ncells - 1.0) / 2.0 : ncells;
	if (nrows > LSMEANS_MAX_ROWS || ncells * d.p > (double) (1 << 27))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("term \"%s\" would give %.0f rows, more than lmm_ls_means returns", term, nrows),
				 errhint("At most %d rows: ask for a term with fewer cells%s.", LSMEANS_MAX_ROWS,
						 pairwise ? ", or leave out pairwise=true" : "")));
	levels = factor_levels(&m, &d, vars, nvars);
	mean = covariate_means(&m, &d, vars, nvars);

	L = palloc(sizeof(double) * (size_t) ncells * d.p);
	lmm_lsmeans_cells(&d, t, mean, L);

	/* each cell's name: the term's variables with their levels, as R joins them */
	names = palloc(sizeof(char *) * (size_t) ncells);
	for (c = 0; c < (int) ncells; c++)
	{
		StringInfoData buf;
		int			rest = c;

		initStringInfo(&buf);
		for (v = 0; v < d.term[t].nvars; v++)
		{
			const LmmAnovaVar *var = &d.term[t].var[v];

			appendStringInfo(&buf, "%s%s%s", v > 0 ? ":" : "", vars[var->id].name,
							 levels[var->id][rest % var->nlevels]);
			rest /= var->nlevels;
		}
		names[c] = buf.data;
	}

	if (!pairwise)
		for (c = 0; c < (int) ncells; c++)
		{
			CHECK_FOR_INTERRUPTS();
			put_row(rsinfo, &m, ddf == LMM_DDF_KENWARD_ROGER ? &kr : NULL, labels[t],
					names[c], L + (size_t) c * d.p, conf);
		}
	else
	{
		/* R's combn order: (1, 2), (1, 3), ..., (2, 3), ... */
		diff = palloc(sizeof(double) * d.p);
		for (c = 0; c < (int) ncells; c++)
			for (c2 = c + 1; c2 < (int) ncells; c2++)
			{
				int			a;

				CHECK_FOR_INTERRUPTS();
				for (a = 0; a < d.p; a++)
					diff[a] = L[(size_t) c * d.p + a] - L[(size_t) c2 * d.p + a];
				put_row(rsinfo, &m, ddf == LMM_DDF_KENWARD_ROGER ? &kr : NULL, labels[t],
						psprintf("%s - %s", names[c], names[c2]), diff, conf);
			}
	}
	if (ddf == LMM_DDF_KENWARD_ROGER)
		lmm_kr_free(&kr);
	return (Datum) 0;
}
