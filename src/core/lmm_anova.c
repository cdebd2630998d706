/*
 * lmm_anova.c
 *	  lmerTest's anova(m): for every fixed-effect term a matrix of
 *	  hypotheses L, then its F test (lmm_contrast_ftest, lmerTest's
 *	  contestMD).  The hypotheses, as lmerTest 3.1 builds them:
 *
 *	  type 1	the rows of t(L) for the term's columns, L the unit lower
 *				factor of the Doolittle decomposition of X'X: each term
 *				adjusted for the terms before it;
 *	  type 2	the same, with X'X's columns reordered so that the term and
 *				the terms containing it come last: each term adjusted for
 *				every term that does not contain it (a term no other
 *				contains: its own columns);
 *	  type 3	the over-parametrized cell indicators of every term written
 *				in X's columns (exact under treatment contrasts when every
 *				term's marginal terms are in the model), each term's part
 *				made orthogonal to the terms containing it, highest order
 *				first.
 *
 * A term is contained in another when its variables are a proper subset of
 * the other's with the same numeric covariates.  lme4's own table (ddf=none)
 * is sequential too, but on R_X, R_X'R_X = sigma^2 vcov(beta)^-1.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_anova.h"
#include "lmm_dist.h"
#include "lmm_host.h"
#include "lmm_infer.h"
#include "lmm_kr.h"

/* lmerTest's tolerance in its Doolittle decomposition (absolute). */
#define DOOLITTLE_EPS 1e-6

/* Rows of L whose absolute sum is below this are dropped, as lmerTest does. */
#define ROW_EPS 1e-8

/* Most entries of type 3's table of cells (level combinations x columns): 1 GB. */
#define ANOVA_MAX_CELLS ((double) (1 << 27))

/*
 * Whether a variable of a term counts for containment: as in R's terms()
 * "factors" matrix, which lmerTest reads, a variable marked 1, not one
 * marked 2 (coded by every level for a missing margin, numerics too).
 */
static int
counts(const LmmAnovaVar *v)
{
	return !v->margin;
}

/*
 * Nonzero when term a is contained in term b: b's counted variables
 * include a's and more, with as many counted numeric covariates (lmerTest's
 * term_contain).
 */
static int
contained(const LmmAnovaTerm *a, const LmmAnovaTerm *b)
{
	int			i,
				j,
				na = 0,
				nb = 0,
				ca = 0,
				cb = 0;

	for (i = 0; i < a->nvars; i++)
	{
		if (!counts(&a->var[i]))
			continue;
		ca++;
		for (j = 0; j < b->nvars && !(counts(&b->var[j]) && b->var[j].id == a->var[i].id); j++)
			;
		if (j == b->nvars)
			return 0;
	}
	for (j = 0; j < b->nvars; j++)
		cb += counts(&b->var[j]);
	for (i = 0; i < a->nvars; i++)
		na += a->var[i].nlevels == 0 && counts(&a->var[i]);
	for (j = 0; j < b->nvars; j++)
		nb += b->var[j].nlevels == 0 && counts(&b->var[j]);
	return cb > ca && na == nb;
}

/*
 * The unit lower factor L of x (n x n, row-major) by lmerTest's Doolittle
 * decomposition, entries below DOOLITTLE_EPS zeroed, into L.  Returns 0
 * when the host asks to stop.
 */
static int
doolittle(int n, const double *x, double *L)
{
	double	   *U = lmm_alloc0(sizeof(double) * n * n);
	double	   *ucol = lmm_alloc(sizeof(double) * (n + 1));
	int			i,
				j,
				k;

	memset(L, 0, sizeof(double) * n * n);
	for (i = 0; i < n; i++)
		L[i * n + i] = 1.0;
	for (i = 0; i < n; i++)
	{
		if (lmm_interrupt_pending())
		{
			lmm_free(U);
			lmm_free(ucol);
			return 0;
		}
		/* row i of U: x's row less the earlier rows of U, row by row */
		memcpy(U + i * n, x + i * n, sizeof(double) * n);
		for (k = 0; k < i; k++)
		{
			double		lik = L[i * n + k];

			if (lik != 0.0)
				for (j = 0; j < n; j++)
					U[i * n + j] -= lik * U[k * n + j];
		}
		/* column i of L below the diagonal, from column i of U taken once */
		for (k = 0; k < i; k++)
			ucol[k] = U[k * n + i];
		for (j = i + 1; j < n; j++)
		{
			double		l = x[j * n + i];

			for (k = 0; k < i; k++)
				l -= L[j * n + k] * ucol[k];
			L[j * n + i] = fabs(U[i * n + i]) < DOOLITTLE_EPS ? 0.0 : l / U[i * n + i];
		}
	}
	for (i = 0; i < n * n; i++)
		if (fabs(L[i]) < DOOLITTLE_EPS)
			L[i] = 0.0;
	lmm_free(U);
	lmm_free(ucol);
	return 1;
}

/* R's zapsmall(x) (7 digits) over n entries: round to 7 digits of the largest. */
static void
zapsmall(double *x, int n)
{
	double		mx = 0.0,
				scale;
	int			i;

	for (i = 0; i < n; i++)
		mx = fmax(mx, fabs(x[i]));
	if (!(mx > 0.0))
		return;
	scale = pow(10.0, fmax(0.0, 7.0 - ceil(log10(mx))));
	for (i = 0; i < n; i++)
		x[i] = round(x[i] * scale) / scale;
}

/*
 * Type 1 or 2 hypotheses of term t into H (rows of p), from X'X; returns
 * the number of rows, -1 when the host asks to stop.  Type 1 reads the
 * factor of X'X in its own order, L1, made once for every term; type 2
 * moves the term's columns, then those of the terms containing it, to the
 * end and factors that.
 */
static int
sequential_rows(const LmmAnovaDesign *d, int type, int t, const double *XtX,
				const double *L1, double *H)
{
	int			p = d->p;
	int		   *order = lmm_alloc(sizeof(int) * p);
	int		   *role = lmm_alloc0(sizeof(int) * p);
	double	   *x = NULL;
	double	   *L = NULL;
	const double *F = L1;
	int			n = 0,
				rows = 0,
				a,
				b,
				u;

	/* role: 1 the term's columns, 2 those of a term containing it */
	for (a = 0; a < p; a++)
		if (d->col_term[a] == t)
			role[a] = 1;
		else if (type == 2 && d->col_term[a] >= 0 &&
				 contained(&d->term[t], &d->term[d->col_term[a]]))
			role[a] = 2;
	for (a = 0; a < p; a++)
		order[a] = a;

	if (type == 2)
	{
		/* a term no other contains: its columns themselves, as lmerTest */
		for (a = 0; a < p && role[a] != 2; a++)
			;
		if (a == p)
		{
			for (a = 0; a < p; a++)
				if (role[a] == 1)
				{
					memset(H + (size_t) rows * p, 0, sizeof(double) * p);
					H[(size_t) rows++ * p + a] = 1.0;
				}
			lmm_free(order);
			lmm_free(role);
			return rows;
		}
		for (a = 0; a < p; a++)
			if (role[a] == 0)
				order[n++] = a;
		for (a = 0; a < p; a++)
			if (role[a] == 1)
				order[n++] = a;
		for (u = 0; u < d->nterms; u++)
			for (a = 0; a < p; a++)
				if (role[a] == 2 && d->col_term[a] == u)
					order[n++] = a;
		x = lmm_alloc(sizeof(double) * p * p);
		L = lmm_alloc(sizeof(double) * p * p);
		for (a = 0; a < p; a++)
			for (b = 0; b < p; b++)
				x[a * p + b] = XtX[order[a] * p + order[b]];
		if (!doolittle(p, x, L))
			rows = -1;
		F = L;
	}
	/* rows of t(F) for the term's columns, back in X's column order */
	for (a = 0; a < p && rows >= 0; a++)
		if (role[order[a]] == 1)
		{
			for (b = 0; b < p; b++)
				H[(size_t) rows * p + order[b]] = F[b * p + a];
			rows++;
		}
	lmm_free(order);
	lmm_free(role);
	lmm_free(x);
	lmm_free(L);
	return rows;
}

/* The column of term u at the levels lev (by variable id, -1: none), or -1. */
static int
find_column(const LmmAnovaDesign *d, int u, const int *lev_by_id, int maxid)
{
	const LmmAnovaTerm *tu = &d->term[u];
	int			a,
				v;

	for (a = 0; a < d->p; a++)
	{
		if (d->col_term[a] != u)
			continue;
		for (v = 0; v < tu->nvars; v++)
		{
			int			id = tu->var[v].id;

			if (tu->var[v].nlevels > 0 &&
				(id >= maxid || d->col_level[a * LMM_ANOVA_MAX_VARS + v] != lev_by_id[id]))
				break;
		}
		if (v == tu->nvars)
			return a;
	}
	return -1;
}

/* The term whose variables are exactly those set in used (by id), or -1. */
static int
find_term(const LmmAnovaDesign *d, const int *used, int maxid)
{
	int			u,
				v,
				id,
				n = 0;

	for (id = 0; id < maxid; id++)
		n += used[id];
	for (u = 0; u < d->nterms; u++)
	{
		if (d->term[u].nvars != n)
			continue;
		for (v = 0; v < n && used[d->term[u].var[v].id]; v++)
			;
		if (v == n)
			return u;
	}
	return -1;
}

/*
 * Add sign times the product of the indicators set in used (variable id at
 * level lev_by_id[id]) and the numerics, written in X's columns, to row:
 * the column of the term with exactly those variables at those levels, or,
 * where a factor is at the reference level of that term's contrasts,
 * 1 minus its other levels' indicators, expanded again.  Returns 0 when
 * some product has no column (a marginal term missing).
 */
static int
add_monomial(const LmmAnovaDesign *d, int *used, int *lev_by_id, int maxid,
			 double sign, double *row)
{
	int			u = find_term(d, used, maxid);
	int			a,
				v,
				l;

	if (u < 0)
	{
		for (a = 0; a < maxid && !used[a]; a++)
			;
		if (a < maxid)
			return 0;
		if (d->intercept)
		{
			row[0] += sign;		/* every indicator gone: the intercept */
			return 1;
		}
		/* no intercept: 1 is the sum of the indicators of a factor coded by every level */
		for (u = 0; u < d->nterms; u++)
			if (d->term[u].nvars == 1 && d->term[u].var[0].nlevels > 0 &&
				d->term[u].var[0].full)
			{
				const LmmAnovaVar *var = &d->term[u].var[0];
				int			ok = 1;

				used[var->id] = 1;
				for (l = 0; l < var->nlevels && ok; l++)
				{
					lev_by_id[var->id] = l;
					ok = add_monomial(d, used, lev_by_id, maxid, sign, row);
				}
				used[var->id] = 0;
				return ok;
			}
		return 0;
	}
	a = find_column(d, u, lev_by_id, maxid);
	if (a >= 0)
	{
		row[a] += sign;
		return 1;
	}
	for (v = 0; v < d->term[u].nvars; v++)
	{
		const LmmAnovaVar *var = &d->term[u].var[v];
		int			ok;

		if (var->nlevels == 0 || var->full || lev_by_id[var->id] != 0)
			continue;
		used[var->id] = 0;
		ok = add_monomial(d, used, lev_by_id, maxid, sign, row);
		used[var->id] = 1;
		for (l = 1; l < var->nlevels && ok; l++)
		{
			lev_by_id[var->id] = l;
			ok = add_monomial(d, used, lev_by_id, maxid, -sign, row);
		}
		lev_by_id[var->id] = 0;
		return ok;
	}
	return 0;
}

/* Add the cell of term t at levels lev (one per variable) in X's columns to row. */
static int
expand_cell(const LmmAnovaDesign *d, int t, const int *lev, int *used,
			int *lev_by_id, int maxid, double *row)
{
	const LmmAnovaTerm *tt = &d->term[t];
	int			v,
				ok;

	for (v = 0; v < tt->nvars; v++)
	{
		used[tt->var[v].id] = 1;
		lev_by_id[tt->var[v].id] = lev[v];
	}
	ok = add_monomial(d, used, lev_by_id, maxid, 1.0, row);
	for (v = 0; v < tt->nvars; v++)
		used[tt->var[v].id] = 0;
	return ok;
}

/*
 * Columns a of M (r x p, row-major) in cols less their least-squares fit
 * on the columns in on.  Returns 0 when the host asks to stop.
 */
static int
residualize(double *M, int r, int p, const int *cols, int ncols, const int *on, int non)
{
	double	   *Q = lmm_alloc(sizeof(double) * (size_t) r * (non > 0 ? non : 1));
	double	   *Y = lmm_alloc(sizeof(double) * (size_t) r * ncols);
	int			nq = 0,
				i,
				j,
				k;

	/* an orthonormal basis of the columns on (modified Gram-Schmidt, dependent ones dropped) */
	for (j = 0; j < non; j++)
	{
		double		n0 = 0.0,
					n1 = 0.0;

		if (lmm_interrupt_pending())
		{
			lmm_free(Q);
			lmm_free(Y);
			return 0;
		}

		for (i = 0; i < r; i++)
		{
			Q[(size_t) i * non + nq] = M[(size_t) i * p + on[j]];
			n0 += Q[(size_t) i * non + nq] * Q[(size_t) i * non + nq];
		}
		for (k = 0; k < nq; k++)
		{
			double		s = 0.0;

			for (i = 0; i < r; i++)
				s += Q[(size_t) i * non + k] * Q[(size_t) i * non + nq];
			for (i = 0; i < r; i++)
				Q[(size_t) i * non + nq] -= s * Q[(size_t) i * non + k];
		}
		for (i = 0; i < r; i++)
			n1 += Q[(size_t) i * non + nq] * Q[(size_t) i * non + nq];
		if (!(n1 > 1e-14 * n0) || n1 == 0.0)
			continue;
		for (i = 0; i < r; i++)
			Q[(size_t) i * non + nq] /= sqrt(n1);
		nq++;
	}
	for (j = 0; j < ncols; j++)
	{
		for (i = 0; i < r; i++)
			Y[(size_t) i * ncols + j] = M[(size_t) i * p + cols[j]];
		for (k = 0; k < nq; k++)
		{
			double		s = 0.0;

			for (i = 0; i < r; i++)
				s += Q[(size_t) i * non + k] * Y[(size_t) i * ncols + j];
			for (i = 0; i < r; i++)
				Y[(size_t) i * ncols + j] -= s * Q[(size_t) i * non + k];
		}
	}
	zapsmall(Y, r * ncols);
	for (j = 0; j < ncols; j++)
		for (i = 0; i < r; i++)
			M[(size_t) i * p + cols[j]] = Y[(size_t) i * ncols + j];
	lmm_free(Q);
	lmm_free(Y);
	return 1;
}

/*
 * Type 3 hypotheses of every term: into H, term after term, with the rows
 * of each counted in nrows[t].  Returns NULL or the problem.
 */
static const char *
type3_rows(const LmmAnovaDesign *d, double *H, int *nrows)
{
	int			p = d->p;
	int			maxid = 0,
				ncell = d->intercept ? 1 : 0,
				t,
				u,
				v,
				a,
				i;
	int		   *cell_of_col = lmm_alloc(sizeof(int) * p);
	int		   *first_cell = lmm_alloc(sizeof(int) * (d->nterms + 1));
	int		   *used,
			   *lev_by_id,
			   *cols,
			   *on,
			   *order;
	double	   *Lf;
	double		cells = d->intercept ? 1.0 : 0.0;
	const char *problem = NULL;

	for (t = 0; t < d->nterms; t++)
		for (v = 0; v < d->term[t].nvars; v++)
			if (d->term[t].var[v].id + 1 > maxid)
				maxid = d->term[t].var[v].id + 1;
	used = lmm_alloc0(sizeof(int) * (maxid + 1));
	lev_by_id = lmm_alloc0(sizeof(int) * (maxid + 1));

	/* the cells: the intercept, then every level combination of each term, first variable fastest */
	for (t = 0; t < d->nterms; t++)
	{
		double		n = 1.0;

		for (v = 0; v < d->term[t].nvars; v++)
			if (d->term[t].var[v].nlevels > 0)
				n *= d->term[t].var[v].nlevels;
		cells += n;
	}
	if (cells * p > ANOVA_MAX_CELLS)
	{
		lmm_free(cell_of_col);
		lmm_free(first_cell);
		lmm_free(used);
		lmm_free(lev_by_id);
		return "the terms have too many level combinations for type 3";
	}
	for (t = 0; t < d->nterms; t++)
	{
		int			n = 1;

		first_cell[t] = ncell;
		for (v = 0; v < d->term[t].nvars; v++)
			if (d->term[t].var[v].nlevels > 0)
				n *= d->term[t].var[v].nlevels;
		ncell += n;
	}
	first_cell[d->nterms] = ncell;
	Lf = lmm_alloc0(sizeof(double) * (size_t) ncell * p);
	if (d->intercept)
		Lf[0] = 1.0;
	for (t = 0; t < d->nterms && problem == NULL; t++)
		for (i = first_cell[t]; i < first_cell[t + 1] && problem == NULL; i++)
		{
			int			lev[LMM_ANOVA_MAX_VARS];
			int			rest = i - first_cell[t];

			if (i % 4096 == 0 && lmm_interrupt_pending())
			{
				problem = "interrupted";
				break;
			}

			for (v = 0; v < d->term[t].nvars; v++)
			{
				int			nl = d->term[t].var[v].nlevels;

				lev[v] = nl > 0 ? rest % nl : 0;
				rest = nl > 0 ? rest / nl : rest;
			}
			if (!expand_cell(d, t, lev, used, lev_by_id, maxid, Lf + (size_t) i * p))
				problem = "a term's marginal terms are not all in the model";
		}

	/* each column's own cell: the intercept, or its term's cell at its levels */
	for (a = 0; a < p && problem == NULL; a++)
	{
		int			tt = d->col_term[a];
		int			idx = 0,
					stride = 1;

		if (tt < 0)
		{
			cell_of_col[a] = 0;
			continue;
		}
		for (v = 0; v < d->term[tt].nvars; v++)
		{
			int			nl = d->term[tt].var[v].nlevels;

			if (nl > 0)
			{
				idx += d->col_level[a * LMM_ANOVA_MAX_VARS + v] * stride;
				stride *= nl;
			}
		}
		cell_of_col[a] = first_cell[tt] + idx;
	}

	/* highest order first, each term less what the terms containing it explain */
	cols = lmm_alloc(sizeof(int) * p);
	on = lmm_alloc(sizeof(int) * p);
	order = lmm_alloc(sizeof(int) * (d->nterms + 1));
	for (i = 0, v = LMM_ANOVA_MAX_VARS; v >= 1; v--)
		for (t = 0; t < d->nterms; t++)
			if (d->term[t].nvars == v)
				order[i++] = t;
	for (i = 0; i < d->nterms && problem == NULL; i++)
	{
		int			nc = 0,
					no = 0;

		t = order[i];
		for (a = 0; a < p; a++)
			if (d->col_term[a] == t)
				cols[nc++] = a;
		for (u = 0; u < d->nterms; u++)
			if (contained(&d->term[t], &d->term[u]))
				for (a = 0; a < p; a++)
					if (d->col_term[a] == u)
						on[no++] = a;
		if (no > 0 && !residualize(Lf, ncell, p, cols, nc, on, no))
			problem = "interrupted";
	}

	/* the term's rows: for each of its columns a, entry b is Lf at b's own cell */
	for (t = 0, i = 0; t < d->nterms && problem == NULL; t++)
	{
		nrows[t] = 0;
		for (a = 0; a < p; a++)
		{
			double		sum = 0.0;
			int			b;

			if (d->col_term[a] != t)
				continue;
			for (b = 0; b < p; b++)
			{
				H[(size_t) i * p + b] = Lf[(size_t) cell_of_col[b] * p + a];
				sum += fabs(H[(size_t) i * p + b]);
			}
			if (sum > ROW_EPS)
			{
				i++;
				nrows[t]++;
			}
		}
	}
	lmm_free(cell_of_col);
	lmm_free(first_cell);
	lmm_free(used);
	lmm_free(lev_by_id);
	lmm_free(Lf);
	lmm_free(cols);
	lmm_free(on);
	lmm_free(order);
	return problem;
}

/*
 * The F test of one term's hypotheses into row: lmm_contrast_ftest, or
 * with kr lmm_kr_ftest, whose mean square is of the unscaled F and whose F
 * is scaled (lmerTest's contestMD with ddf = "Kenward-Roger").
 */
static void
test_rows(const LmmAnovaDesign *d, const double *H, int nrows, const double *beta,
		  const double *vcov, double sigma, int ninf, const double *vcov_varpar,
		  const double *jac, const LmmKr *kr, LmmAnovaRow *row)
{
	double		f = NAN,
				fscale = 1.0,
				ddf = NAN;

	if (nrows == 0)
		row->num_df = 0;
	else if (kr != NULL)
		row->num_df = lmm_kr_ftest(kr, beta, nrows, H, &f, &fscale, &ddf);
	else
		row->num_df = lmm_contrast_ftest(d->p, beta, vcov, ninf, vcov_varpar, jac,
										 nrows, H, &f, &ddf);
	row->f_value = f * fscale;
	row->den_df = ddf;
	row->mean_sq = f * sigma * sigma;
	row->sum_sq = row->mean_sq * row->num_df;
	row->p_value = row->num_df > 0 && ddf > 0.0 ?
		lmm_pf_upper(row->f_value, row->num_df, ddf) : NAN;
}

/*
 * lmerTest's anova(m, type) into rows (one per term): type 1, 2 or 3 (see
 * the header); XtX (p x p, uncentred, row-major) is needed for types 1
 * and 2 only.  kr, when not NULL, gives Kenward and Roger's tests in
 * place of Satterthwaite's.  With at most one term, or one column, every
 * type is type 1, as in lmerTest.  Returns NULL or the problem ("interrupted" when the
 * host asked to stop).
 */
const char *
lmm_anova_table(const LmmAnovaDesign *d, int type, const double *XtX,
				const double *beta, const double *vcov, double sigma, int ninf,
				const double *vcov_varpar, const double *jac, const LmmKr *kr,
				LmmAnovaRow *rows)
{
	int			p = d->p;
	double	   *H = lmm_alloc(sizeof(double) * (size_t) p * p);
	double	   *L1 = NULL;
	int		   *nrows = lmm_alloc0(sizeof(int) * (d->nterms + 1));
	const char *problem = NULL;
	int			t,
				off = 0;

	if (p <= 1 || d->nterms <= 1)
		type = 1;
	if (type != 3 && XtX == NULL)
		problem = "types 1 and 2 need the model's statistics";
	else if (type == 3)
		problem = type3_rows(d, H, nrows);
	else if (type == 1)
	{
		L1 = lmm_alloc(sizeof(double) * (size_t) p * p);
		if (!doolittle(p, XtX, L1))
			problem = "interrupted";
	}
	for (t = 0; t < d->nterms && problem == NULL; t++)
	{
		if (type != 3)
		{
			nrows[t] = sequential_rows(d, type, t, XtX, L1, H);
			if (nrows[t] < 0)
				problem = "interrupted";
			off = 0;
		}
		if (problem == NULL)
			test_rows(d, H + (size_t) off * p, nrows[t], beta, vcov, sigma, ninf,
					  vcov_varpar, jac, kr, &rows[t]);
		if (type == 3)
			off += nrows[t];
	}
	lmm_free(H);
	lmm_free(L1);
	lmm_free(nrows);
	return problem;
}

/*
 * lme4's anova(m): sequential sums of squares of R_X beta by term,
 * R_X'R_X = sigma^2 vcov(beta)^-1; mean squares per column, F = MS /
 * sigma^2, no df.  Returns NULL or the problem.
 */
const char *
lmm_anova_lme4(const LmmAnovaDesign *d, const double *beta, const double *vcov,
			   double sigma, LmmAnovaRow *rows)
{
	int			p = d->p;
	double	   *R = lmm_alloc(sizeof(double) * p * p);
	const char *problem = NULL;
	int			a,
				b,
				t;

	/* R = chol(sigma^2 vcov^-1), upper: invert vcov through its Cholesky factor */
	memcpy(R, vcov, sizeof(double) * p * p);
	if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', p, R, p) != 0 ||
		LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'U', p, R, p) != 0)
		problem = "vcov(beta) is not positive definite";
	for (a = 0; a < p && problem == NULL; a++)
		for (b = a; b < p; b++)
			R[b * p + a] = R[a * p + b] = R[a * p + b] * sigma * sigma;
	if (problem == NULL && LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', p, R, p) != 0)
		problem = "vcov(beta) is not positive definite";
	for (t = 0; t < d->nterms && problem == NULL; t++)
	{
		double		ss = 0.0;
		int			n = 0;

		for (a = 0; a < p; a++)
		{
			double		s = 0.0;

			if (d->col_term[a] != t)
				continue;
			for (b = a; b < p; b++)
				s += R[a * p + b] * beta[b];
			ss += s * s;
			n++;
		}
		rows[t].num_df = n;
		rows[t].sum_sq = ss;
		rows[t].mean_sq = n > 0 ? ss / n : NAN;
		rows[t].f_value = rows[t].mean_sq / (sigma * sigma);
		rows[t].den_df = NAN;
		rows[t].p_value = NAN;
	}
	lmm_free(R);
	return problem;
}
