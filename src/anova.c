/*
 * anova.c
 *	  lmm_anova(m, options): lmerTest's anova(m), an F test per fixed-effect
 *	  term (core/lmm_anova.h).  The terms of a model of lmm() come from its
 *	  formula and its column names, as R's model.matrix made them; a model
 *	  of lmm_fit has one numeric term per column of x.
 */
#include "postgres.h"

#include <math.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "core/lmm_formula.h"
#include "core/lmm_kr.h"
#include "lmm_pg.h"

/* The error for a model whose columns cannot be matched to its formula's terms. */
static void
unreadable_terms(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot tell which columns of the model belong to which term: %s", why),
			 errhint("Test the columns with lmm_contrast instead.")));
}

/* The name R gives a variable in a term: the column, or factor(column). */
static const char *
var_label(const LmmFVar *v)
{
	return v->factor ? psprintf("factor(%s)", v->name) : v->name;
}

/* The index of level in vl, added when new. */
static int
level_index(LmmDesignVar *vl, const char *level)
{
	int			i;

	for (i = 0; i < vl->nseen; i++)
		if (strcmp(vl->seen[i], level) == 0)
			return i;
	vl->seen[vl->nseen] = pstrdup(level);
	return vl->nseen++;
}

/*
 * Nonzero when part also starts with the name of another variable longer
 * than vl's: a column "ax" is variable ax's, not a level "x" of a.
 */
static bool
longer_prefix(const LmmDesignVar *vars, int nvars, const LmmDesignVar *vl, const char *part)
{
	size_t		len = strlen(vl->name);
	int			i;

	for (i = 0; i < nvars; i++)
	{
		size_t		li = strlen(vars[i].name);

		if (&vars[i] != vl && li > len && strncmp(part, vars[i].name, li) == 0)
			return true;
	}
	return false;
}

/*
 * The design of m's fixed part: its terms (labels into *labels), each
 * column's term and levels, and its variables by id (into *vars, *nvars):
 * shared by lmm_anova and lmm_ls_means.
 */
void
lmm_model_design(const LmmModel *m, LmmAnovaDesign *d, char ***labels,
				 LmmDesignVar **vars_out, int *nvars_out)
{
	LmmAnovaTerm *terms;
	int		   *col_term = palloc(sizeof(int) * m->p);
	int		   *col_level = palloc0(sizeof(int) * m->p * LMM_ANOVA_MAX_VARS);
	int			col = 0,
				t,
				v,
				a;

	memset(d, 0, sizeof(LmmAnovaDesign));
	d->p = m->p;
	d->intercept = m->p > 0 && strcmp(m->x_names[0], "(Intercept)") == 0;
	if (d->intercept)
		col_term[col++] = -1;

	if (m->formula == NULL || m->formula[0] == '\0')
	{
		/* lmm_fit: every column its own numeric term */
		d->nterms = m->p - col;
		terms = palloc0(sizeof(LmmAnovaTerm) * (d->nterms + 1));
		*labels = palloc(sizeof(char *) * (d->nterms + 1));
		*vars_out = palloc0(sizeof(LmmDesignVar) * (d->nterms + 1));
		*nvars_out = d->nterms;
		for (t = 0; t < d->nterms; t++, col++)
		{
			terms[t].nvars = 1;
			terms[t].var[0].id = t;
			(*labels)[t] = m->x_names[col];
			(*vars_out)[t].name = m->x_names[col];
			(*vars_out)[t].known = true;
			col_term[col] = t;
		}
	}
	else
	{
		LmmFormula *f = palloc(sizeof(LmmFormula));
		char		err[256];
		LmmDesignVar  *vars = palloc0(sizeof(LmmDesignVar) * LMM_FORMULA_MAX_TERMS * LMM_FORMULA_MAX_VARS);
		int			nvars = 0,
					full_term = -1,
					pass;
		int		   *var_of = palloc(sizeof(int) * LMM_FORMULA_MAX_TERMS * LMM_FORMULA_MAX_VARS);
		char	  **col_name = palloc0(sizeof(char *) * m->p * LMM_ANOVA_MAX_VARS);

		if (lmm_formula_parse(m->formula, f, err, sizeof(err)) != NULL)
			unreadable_terms("its formula does not parse");
		if ((f->intercept != 0) != d->intercept)
			unreadable_terms("its intercept and its formula disagree");
		d->nterms = f->nfixed;
		terms = palloc0(sizeof(LmmAnovaTerm) * (d->nterms + 1));
		*labels = palloc(sizeof(char *) * (d->nterms + 1));

		/* variables by name, shared across terms */
		for (t = 0; t < f->nfixed; t++)
		{
			StringInfoData lab;

			initStringInfo(&lab);
			if (f->fixed[t].nvars > LMM_ANOVA_MAX_VARS)
				unreadable_terms("a term has too many variables");
			terms[t].nvars = f->fixed[t].nvars;
			for (v = 0; v < f->fixed[t].nvars; v++)
			{
				const char *label = var_label(&f->fixed[t].var[v]);
				int			i;

				for (i = 0; i < nvars && strcmp(vars[i].name, label) != 0; i++)
					;
				if (i == nvars)
				{
					vars[nvars].name = label;
					vars[nvars].seen = palloc(sizeof(char *) * (m->p + 1));
					nvars++;
				}
				var_of[t * LMM_FORMULA_MAX_VARS + v] = i;
				terms[t].var[v].id = i;
				appendStringInfo(&lab, "%s%s", v > 0 ? ":" : "", label);
			}
			(*labels)[t] = lab.data;
		}

		/* the columns, term by term: "label level" parts joined by ':' */
		for (t = 0; t < f->nfixed; t++)
		{
			int			start = col;

			while (col < m->p)
			{
				char	   *name = pstrdup(m->x_names[col]);
				char	   *part = name;
				bool		match = true;

				for (v = 0; v < f->fixed[t].nvars && match; v++)
				{
					LmmDesignVar  *vl = &vars[var_of[t * LMM_FORMULA_MAX_VARS + v]];
					char	   *colon = strchr(part, ':');
					size_t		len = strlen(vl->name);
					const char *level;

					if ((colon != NULL) != (v < f->fixed[t].nvars - 1))
					{
						match = false;
						break;
					}
					if (colon != NULL)
						*colon = '\0';
					if (strncmp(part, vl->name, len) != 0 ||
						longer_prefix(vars, nvars, vl, part))
					{
						match = false;
						break;
					}
					level = part + len;
					if (vl->known && vl->factor != (*level != '\0'))
					{
						match = false;
						break;
					}
					col_name[col * LMM_ANOVA_MAX_VARS + v] = pstrdup(level);
					part = colon != NULL ? colon + 1 : part;
				}
				if (!match)
					break;
				/* the term's variables are now known to be numeric or factors */
				name = pstrdup(m->x_names[col]);
				part = name;
				for (v = 0; v < f->fixed[t].nvars; v++)
				{
					LmmDesignVar  *vl = &vars[var_of[t * LMM_FORMULA_MAX_VARS + v]];
					char	   *colon = strchr(part, ':');

					if (colon != NULL)
						*colon = '\0';
					vl->factor = part[strlen(vl->name)] != '\0';
					vl->known = true;
					part = colon != NULL ? colon + 1 : part;
				}
				col_term[col++] = t;
			}
			if (col == start)
				unreadable_terms(psprintf("no column matches the term \"%s\"", (*labels)[t]));
		}
		if (col != m->p)
			unreadable_terms(psprintf("column \"%s\" matches no term", m->x_names[col]));

		/* full coding: as the formula marks it, or R's first factor without an intercept */
		if (!d->intercept)
			for (t = 0; t < f->nfixed && full_term < 0; t++)
				for (v = 0; v < f->fixed[t].nvars; v++)
					if (vars[terms[t].var[v].id].factor)
					{
						full_term = t;
						terms[t].var[v].full = 1;
						break;
					}
		for (t = 0; t < f->nfixed; t++)
			for (v = 0; v < f->fixed[t].nvars; v++)
				if (f->fixed[t].var[v].full)
					terms[t].var[v].full = terms[t].var[v].margin = 1;
		for (t = 0; t < f->nfixed; t++)
			for (v = 0; v < f->fixed[t].nvars; v++)
				if (terms[t].var[v].full)
					vars[terms[t].var[v].id].full = true;

		/*
		 * Level numbers, in R's order of the levels: a factor coded by every
		 * level in some term takes that term's order, its first level the
		 * reference 0 of the contrasts elsewhere; a factor coded by contrasts
		 * only has a reference without a column, 0, and its other levels in
		 * the order they come, 1, 2, ...
		 */
		for (pass = 0; pass < 2; pass++)
			for (a = 0; a < m->p; a++)
				if (col_term[a] >= 0)
					for (v = 0; v < terms[col_term[a]].nvars; v++)
					{
						LmmDesignVar  *vl = &vars[terms[col_term[a]].var[v].id];

						if (vl->factor && (pass == 0) == terms[col_term[a]].var[v].full)
							level_index(vl, col_name[a * LMM_ANOVA_MAX_VARS + v]);
					}
		for (t = 0; t < f->nfixed; t++)
			for (v = 0; v < f->fixed[t].nvars; v++)
			{
				LmmDesignVar  *vl = &vars[terms[t].var[v].id];

				terms[t].var[v].nlevels = !vl->factor ? 0 :
					vl->full ? vl->nseen : vl->nseen + 1;
			}
		for (a = 0; a < m->p; a++)
			if (col_term[a] >= 0)
				for (v = 0; v < terms[col_term[a]].nvars; v++)
				{
					LmmDesignVar  *vl = &vars[terms[col_term[a]].var[v].id];

					if (vl->factor)
						col_level[a * LMM_ANOVA_MAX_VARS + v] =
							level_index(vl, col_name[a * LMM_ANOVA_MAX_VARS + v]) +
							(vl->full ? 0 : 1);
				}
		*vars_out = vars;
		*nvars_out = nvars;
	}
	d->term = terms;
	d->col_term = col_term;
	d->col_level = col_level;
}

/* X'X about the origin (p x p, row-major) from the statistics m carries, or NULL. */
static double *
model_xtx(const LmmModel *m)
{
	int			p = m->p;
	double	   *X = palloc(sizeof(double) * p * p);
	int			a,
				b;

	if (m->tstats != NULL && m->tstats->p == p)
	{
		const LmmTermStats *s = m->tstats;
		int			n1 = p + 1;

		/* the statistics keep the upper triangle of their cross-products */
		for (a = 0; a < p; a++)
			for (b = 0; b < p; b++)
				X[a * p + b] = s->cross[(a <= b ? a * n1 + b : b * n1 + a)] +
					s->shift[a] * s->sum[b] + s->sum[a] * s->shift[b] +
					s->n * s->shift[a] * s->shift[b];
		return X;
	}
	return NULL;
}

PG_FUNCTION_INFO_V1(lmm_anova_model);

/*
 * lmm_anova(m, options): lmerTest's anova(m), a row per fixed-effect term:
 * sums of squares, mean square, numerator and denominator df, F and p;
 * type=3 (default), 2 or 1; ddf=satterthwaite (default), kenward-roger
 * (pbkrtest's scaled F and df, lmerTest's ddf = "Kenward-Roger") or none
 * (lme4's anova(m), sequential, no df or p-value).
 */
Datum
lmm_anova_model(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *opts = text_to_cstring(PG_GETARG_TEXT_PP(1));
	LmmModel	m;
	LmmAnovaDesign d;
	LmmAnovaRow *rows;
	char	  **labels;
	LmmDesignVar *vars;
	int			nvars;
	const char *problem;
	double	   *XtX;
	LmmDdf		ddf;
	LmmKr		kr;
	int			type,
				t;

	lmm_parse_test_options(opts, "lmm_anova", &type, &ddf);
	InitMaterializedSRF(fcinfo, 0);
	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	lmm_model_design(&m, &d, &labels, &vars, &nvars);
	rows = palloc0(sizeof(LmmAnovaRow) * (d.nterms + 1));
	XtX = model_xtx(&m);
	if (ddf == LMM_DDF_KENWARD_ROGER)
		lmm_model_kr(&m, "lmm_anova", &kr);
	if (ddf == LMM_DDF_NONE)
		problem = lmm_anova_lme4(&d, m.beta, m.vcov, m.sigma, rows);
	else if ((type != 3 || d.p <= 1 || d.nterms <= 1) && XtX == NULL &&
			 m.family != LMM_FAMILY_GAUSSIAN)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_anova type %d is not available for a generalized model", type != 3 ? type : 1),
				 errdetail("Its tests need X'X, which a generalized model (family %s) does not keep.",
						   lmm_family_name(m.family)),
				 errhint("Use type=3, whose Wald tests a generalized model has, or lmm_anova(a, b).")));
	else if ((type != 3 || d.p <= 1 || d.nterms <= 1) && XtX == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_anova type %d needs a model that carries its statistics",
						type != 3 ? type : 1),
				 errdetail("This model was stored by lmm 0.2 or earlier, or fitted by lmm() in lmm 0.6 or earlier."),
				 errhint("Use type=3, or refit the model.")));
	else
		problem = lmm_anova_table(&d, type, XtX, m.beta, m.vcov, m.sigma, m.ninf,
								  m.vcov_varpar, m.jac,
								  ddf == LMM_DDF_KENWARD_ROGER ? &kr : NULL, rows);
	if (ddf == LMM_DDF_KENWARD_ROGER)
		lmm_kr_free(&kr);
	if (problem != NULL && strcmp(problem, "interrupted") == 0)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling lmm_anova on request"),
				 errdetail("The tests were interrupted; run the statement again.")));
	}
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_anova type %d is not available for this model: %s", type, problem),
				 errhint("Add the missing marginal terms to the formula, or use type=1 or type=2.")));
	for (t = 0; t < d.nterms; t++)
	{
		Datum		values[7];
		bool		nulls[7] = {false, true, true, true, true, true, true};
		LmmAnovaRow *r = &rows[t];

		values[0] = CStringGetTextDatum(labels[t]);
		if (r->num_df > 0)
		{
			values[1] = Float8GetDatum(lmm_finite_result(r->sum_sq, "a sum of squares"));
			values[2] = Float8GetDatum(lmm_finite_result(r->mean_sq, "a mean square"));
			values[3] = Int32GetDatum(r->num_df);
			values[5] = Float8GetDatum(lmm_finite_result(r->f_value, "an F value"));
			nulls[1] = nulls[2] = nulls[3] = nulls[5] = false;
			if (r->den_df > 0.0 && isfinite(r->den_df))
			{
				values[4] = Float8GetDatum(r->den_df);
				values[6] = Float8GetDatum(lmm_finite_result(r->p_value, "a p-value"));
				nulls[4] = nulls[6] = false;
			}
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
