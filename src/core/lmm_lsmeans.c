/*
 * lmm_lsmeans.c
 *	  The hypotheses of lmerTest's ls_means(m, which = term): lmerTest
 *	  builds the model matrix of an expand.grid of every factor's levels
 *	  and every numeric covariate's mean, and averages its rows over each
 *	  cell of the term.  A column of X is a product of its term's
 *	  variables, so its average over a cell factors: an indicator for a
 *	  factor of the term (the cell's level against the column's), 1 /
 *	  levels for any other factor (the grid is balanced), the mean for a
 *	  numeric covariate.  No grid is built.
 */
#include <string.h>

#include "lmm_lsmeans.h"

/* The number of cells of term t: the product of its factors' levels (0 if it has a numeric). */
double
lmm_lsmeans_ncells(const LmmAnovaDesign *d, int t)
{
	double		n = 1.0;
	int			v;

	for (v = 0; v < d->term[t].nvars; v++)
	{
		if (d->term[t].var[v].nlevels == 0)
			return 0.0;
		n *= d->term[t].var[v].nlevels;
	}
	return n;
}

/*
 * The mean of each numeric variable (by id, nvars of them; factors'
 * entries are left alone) from the means of X's columns: the column of
 * the variable alone, or the sum of the columns of a term of the variable
 * and factors coded by every level, whose cells cover every row.
 * Returns -1, or the id of a numeric variable whose mean neither gives.
 */
int
lmm_lsmeans_var_means(const LmmAnovaDesign *d, int nvars, const double *colmean,
					  double *mean)
{
	int			id,
				t,
				v,
				a;

	for (id = 0; id < nvars; id++)
	{
		int			numeric = 0,
					found = -1;

		for (t = 0; t < d->nterms; t++)
			for (v = 0; v < d->term[t].nvars; v++)
				if (d->term[t].var[v].id == id && d->term[t].var[v].nlevels == 0)
					numeric = 1;
		if (!numeric)
			continue;
		/* a term of id and factors coded by every level, the fewest factors first */
		for (t = 0; t < d->nterms; t++)
		{
			int			has = 0,
						ok = 1;

			for (v = 0; v < d->term[t].nvars; v++)
			{
				const LmmAnovaVar *var = &d->term[t].var[v];

				if (var->id == id)
					has = 1;
				else if (var->nlevels == 0 || !var->full)
					ok = 0;
			}
			if (has && ok && (found < 0 || d->term[t].nvars < d->term[found].nvars))
				found = t;
		}
		if (found < 0)
			return id;
		mean[id] = 0.0;
		for (a = 0; a < d->p; a++)
			if (d->col_term[a] == found)
				mean[id] += colmean[a];
	}
	return -1;
}

/*
 * The rows of term t's cells (lmm_lsmeans_ncells of them, the first
 * variable's level fastest, each level numbered as the design numbers it)
 * into L, one row of d->p per cell: the average of X's row over the
 * balanced grid within the cell, numeric variables at mean (by id).
 */
void
lmm_lsmeans_cells(const LmmAnovaDesign *d, int t, const double *mean, double *L)
{
	const LmmAnovaTerm *tt = &d->term[t];
	int			ncell = (int) lmm_lsmeans_ncells(d, t);
	int			c,
				a,
				v,
				w;

	for (c = 0; c < ncell; c++)
	{
		int			lev[LMM_ANOVA_MAX_VARS];
		int			rest = c;
		double	   *row = L + (size_t) c * d->p;

		for (v = 0; v < tt->nvars; v++)
		{
			lev[v] = rest % tt->var[v].nlevels;
			rest /= tt->var[v].nlevels;
		}
		for (a = 0; a < d->p; a++)
		{
			const LmmAnovaTerm *ta;
			double		x = 1.0;

			row[a] = 1.0;
			if (d->col_term[a] < 0)
				continue;		/* the intercept */
			ta = &d->term[d->col_term[a]];
			for (w = 0; w < ta->nvars && x != 0.0; w++)
			{
				const LmmAnovaVar *var = &ta->var[w];
				int			level = d->col_level[a * LMM_ANOVA_MAX_VARS + w];

				if (var->nlevels == 0)
				{
					x *= mean[var->id];
					continue;
				}
				for (v = 0; v < tt->nvars && tt->var[v].id != var->id; v++)
					;
				if (v < tt->nvars)
					x *= (lev[v] == level) ? 1.0 : 0.0;
				else
					x /= var->nlevels;
			}
			row[a] = x;
		}
	}
}
