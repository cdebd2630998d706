/*
 * lmm_blocked_pairs.c
 *	  The first term's contribution to M, by column of M, when every term is
 *	  scalar.
 *
 * Why: the level-by-level update M -= W_j'W_j writes a few hundred entries
 * of M scattered over the whole matrix per level; with a dense part of a
 * thousand rows or more that is a cache miss each.  With scalar terms W_j = (theta_0 / L_j) raw_j S,
 * raw_j the level's constant cross-products with [Z_D | X | y] and S the
 * diagonal of theta_u on the dense terms' columns (1 on X and y), so
 *	 W_j'W_j = omega_j S raw_j'raw_j S,	omega_j = theta_0^2 / L_j^2,
 *	 L_j^2 = theta_0^2 Z_j'Z_j + 1.
 * The products raw_ja raw_jb are listed once, sorted by the column b of M
 * (a >= b), so that each evaluation walks M a column at a time.  The same
 * list gives sums over the levels with other weights (lmm_blocked_grad.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_fit_int.h"
#include "lmm_host.h"

/*
 * The list is built when it has at most PAIRS_MAX products, or at most
 * PAIRS_MAX_RATIO times M's entries; else the level-by-level update runs.
 */
#define PAIRS_MAX		((int64_t) 1 << 22)
#define PAIRS_MAX_RATIO 4

/*
 * The M columns of level j's cross-products (increasing) into col and their
 * values into raw; returns how many.
 */
static int
level_columns(const Gram *g, const Blocks *bk, int64_t j, int64_t *col, double *raw)
{
	int			p = g->p;
	int			n = 0,
				b;
	int64_t		e;

	for (e = bk->xptr[j]; e < bk->xptr[j + 1]; e++)
	{
		col[n] = bk->xcol[e];
		raw[n++] = bk->xval[bk->xvoff[e]];
	}
	for (b = 0; b < p; b++)
	{
		col[n] = bk->m + b;
		raw[n++] = g->ZtX[j * p + b];
	}
	col[n] = bk->N - 1;
	raw[n++] = g->Zty[j];
	return n;
}

/* A level's Z_j'Z_j and index, to sort levels into classes. */
typedef struct LevelKey
{
	double		ztz;
	int64_t		j;
} LevelKey;

/* qsort order of LevelKey: by Z_j'Z_j, then by level. */
static int
cmp_level_key(const void *x, const void *y)
{
	const LevelKey *a = x,
			   *b = y;

	if (a->ztz != b->ztz)
		return a->ztz < b->ztz ? -1 : 1;
	return a->j < b->j ? -1 : a->j > b->j;
}

/* qsort order of int32_t. */
static int
cmp_int32(const void *x, const void *y)
{
	int32_t		a = *(const int32_t *) x,
				b = *(const int32_t *) y;

	return a < b ? -1 : a > b;
}

/*
 * Build the list of products for statistics of several terms that are all
 * scalar, unless it is too long (PAIRS_MAX).  omega_j depends on the level only
 * through Z_j'Z_j, so the levels fall into classes of equal Z_j'Z_j and
 * the products of one entry of M and one class are summed once here.
 * Column by column of M: the levels holding the column (in class order),
 * each one's rows from the column down, grouped by row.
 */
void
lmm_blocked_pairs_build(const Gram *g, Blocks *bk)
{
	int64_t		N = bk->N;
	int64_t		J0 = g->nlevels;
	LevelKey   *key;
	int32_t    *cls,
			   *lcol,
			   *clev,
			   *cpos,
			   *used,
			   *trow,
			   *tcls;
	int64_t    *lptr,
			   *cptr,
			   *rowcnt,
			   *col;
	double	   *lraw,
			   *raw,
			   *tval;
	int64_t		j,
				e,
				E = 0,
				U = 0,
				V = 0,
				maxE = 0;
	int			a,
				b,
				n,
				nu,
				interrupted = 0;

	/* one term: the q = 1 kernel of lmm_levels.c, without a list that doubles the memory */
	if (!lmm_blocked_scalar(bk) || bk->m == 0)
		return;
	bk->mvalid = 0;				/* M is to be built the other way */
	for (j = 0; j < J0; j++)
		E += (int64_t) bk->ncols[j] * (bk->ncols[j] + 1) / 2;
	if (E > PAIRS_MAX && E > PAIRS_MAX_RATIO * N * N)
		return;

	/* classes of equal Z_j'Z_j, ascending */
	key = lmm_alloc(sizeof(LevelKey) * (size_t) J0);
	cls = lmm_alloc(sizeof(int32_t) * (size_t) J0);
	bk->pz = lmm_alloc(sizeof(double) * (size_t) J0);
	bk->pcount = lmm_alloc(sizeof(double) * (size_t) J0);
	for (j = 0; j < J0; j++)
	{
		key[j].ztz = g->ZtZ[j];
		key[j].j = j;
	}
	qsort(key, (size_t) J0, sizeof(LevelKey), cmp_level_key);
	bk->ncls = 0;
	for (j = 0; j < J0; j++)
	{
		if (j == 0 || key[j].ztz != key[j - 1].ztz)
		{
			bk->pz[bk->ncls] = key[j].ztz;
			bk->pcount[bk->ncls++] = 0.0;
		}
		cls[key[j].j] = bk->ncls - 1;
		bk->pcount[bk->ncls - 1] += 1.0;
	}

	/* each level's columns and values, then each column's levels in class order */
	col = lmm_alloc(sizeof(int64_t) * bk->maxcols);
	raw = lmm_alloc(sizeof(double) * bk->maxcols);
	lptr = lmm_alloc(sizeof(int64_t) * (size_t) (J0 + 1));
	lptr[0] = 0;
	for (j = 0; j < J0; j++)
		lptr[j + 1] = lptr[j] + bk->ncols[j];
	lcol = lmm_alloc(sizeof(int32_t) * (size_t) (lptr[J0] + 1));
	lraw = lmm_alloc(sizeof(double) * (size_t) (lptr[J0] + 1));
	cptr = lmm_alloc0(sizeof(int64_t) * (size_t) (N + 1));
	for (j = 0; j < J0; j++)
	{
		n = level_columns(g, bk, j, col, raw);
		for (a = 0; a < n; a++)
		{
			lcol[lptr[j] + a] = (int32_t) col[a];
			lraw[lptr[j] + a] = raw[a];
			cptr[col[a] + 1]++;
		}
	}
	for (j = 0; j < N; j++)
		cptr[j + 1] += cptr[j];
	clev = lmm_alloc(sizeof(int32_t) * (size_t) (lptr[J0] + 1));
	cpos = lmm_alloc(sizeof(int32_t) * (size_t) (lptr[J0] + 1));
	rowcnt = lmm_alloc0(sizeof(int64_t) * (size_t) (N + 1));
	for (e = 0; e < J0; e++)
	{
		j = key[e].j;
		for (a = 0; a < bk->ncols[j]; a++)
		{
			int64_t		at = cptr[lcol[lptr[j] + a]] + rowcnt[lcol[lptr[j] + a]]++;

			clev[at] = (int32_t) j;
			cpos[at] = a;
		}
	}
	for (b = 0; b < N; b++)
	{
		int64_t		nb = 0;

		rowcnt[b] = 0;
		for (e = cptr[b]; e < cptr[b + 1]; e++)
			nb += bk->ncols[clev[e]] - cpos[e];
		if (nb > maxE)
			maxE = nb;
	}

	/* column by column: the products grouped by row, merged by class */
	used = lmm_alloc(sizeof(int32_t) * (size_t) (N + 1));
	trow = lmm_alloc(sizeof(int32_t) * (size_t) (maxE + 1));
	tcls = lmm_alloc(sizeof(int32_t) * (size_t) (maxE + 1));
	tval = lmm_alloc(sizeof(double) * (size_t) (maxE + 1));
	bk->pptr = lmm_alloc(sizeof(int64_t) * (size_t) (N + 1));
	bk->prow = lmm_alloc(sizeof(int32_t) * (size_t) (E + 1));
	bk->eptr = lmm_alloc(sizeof(int64_t) * (size_t) (E + 1));
	bk->elev = lmm_alloc(sizeof(int32_t) * (size_t) (E + 1));
	bk->eval = lmm_alloc(sizeof(double) * (size_t) (E + 1));
	for (b = 0; b < N && !interrupted; b++)
	{
		int64_t		nb = 0,
					at;
		int			r;

		if (b % 256 == 0 && lmm_interrupt_pending())
			interrupted = 1;
		bk->pptr[b] = U;
		nu = 0;
		for (e = cptr[b]; e < cptr[b + 1]; e++)
			for (a = cpos[e]; a < bk->ncols[clev[e]]; a++)
				if (rowcnt[lcol[lptr[clev[e]] + a]]++ == 0)
					used[nu++] = lcol[lptr[clev[e]] + a];
		qsort(used, (size_t) nu, sizeof(int32_t), cmp_int32);
		for (r = 0; r < nu; r++)
		{
			int64_t		c = rowcnt[used[r]];

			rowcnt[used[r]] = nb;	/* now the row's next slot */
			nb += c;
		}
		for (e = cptr[b]; e < cptr[b + 1]; e++)
		{
			int64_t		l0 = lptr[clev[e]];
			double		vb = lraw[l0 + cpos[e]];

			for (a = cpos[e]; a < bk->ncols[clev[e]]; a++)
			{
				at = rowcnt[lcol[l0 + a]]++;
				trow[at] = lcol[l0 + a];
				tcls[at] = cls[clev[e]];
				tval[at] = lraw[l0 + a] * vb;
			}
		}
		for (at = 0; at < nb; at++)
		{
			if (at == 0 || trow[at] != trow[at - 1])
			{
				bk->prow[U] = trow[at];
				bk->eptr[U++] = V;
			}
			else if (tcls[at] == bk->elev[V - 1])
			{
				bk->eval[V - 1] += tval[at];
				continue;
			}
			bk->elev[V] = tcls[at];
			bk->eval[V++] = tval[at];
		}
		for (r = 0; r < nu; r++)
			rowcnt[used[r]] = 0;
	}
	bk->pptr[N] = U;
	bk->eptr[U] = V;
	bk->pS = lmm_alloc(sizeof(double) * (size_t) N);
	bk->pomega = lmm_alloc(sizeof(double) * (size_t) bk->ncls);
	lmm_free(key);
	lmm_free(cls);
	lmm_free(col);
	lmm_free(raw);
	lmm_free(lptr);
	lmm_free(lcol);
	lmm_free(lraw);
	lmm_free(cptr);
	lmm_free(clev);
	lmm_free(cpos);
	lmm_free(rowcnt);
	lmm_free(used);
	lmm_free(trow);
	lmm_free(tcls);
	lmm_free(tval);
	/* an interrupted build is dropped: the fit's own checks then stop it */
	if (interrupted)
		lmm_blocked_pairs_free(bk);
}

/* Release the list; the level-by-level update runs from then on. */
void
lmm_blocked_pairs_free(Blocks *bk)
{
	lmm_free(bk->pptr);
	lmm_free(bk->prow);
	lmm_free(bk->eptr);
	lmm_free(bk->elev);
	lmm_free(bk->eval);
	lmm_free(bk->pS);
	lmm_free(bk->pomega);
	lmm_free(bk->pz);
	lmm_free(bk->pcount);
	bk->pptr = NULL;
	bk->prow = bk->elev = NULL;
	bk->eptr = NULL;
	bk->eval = bk->pS = bk->pomega = bk->pz = bk->pcount = NULL;
	bk->mvalid = 0;				/* M is to be built the other way */
}

/*
 * For theta (all terms scalar): each column's scale into S (N entries: the
 * term's theta on the dense rows, 1 on X and y) and omega for each class
 * of levels into omega; returns log|L|^2 = sum_j log L_j^2.
 */
double
lmm_blocked_pairs_weights(const Blocks *bk, const double *theta, double *S,
						  double *omega)
{
	double		t2 = theta[0] * theta[0];
	double		ld = 0.0;
	int64_t		i,
				c;
	int			t;

	for (t = 1; t < bk->k; t++)
		for (i = bk->off[t]; i < bk->off[t] + bk->J[t]; i++)
			S[i] = theta[t];
	for (i = bk->m; i < bk->N; i++)
		S[i] = 1.0;
	for (c = 0; c < bk->ncls; c++)
	{
		double		L2 = t2 * bk->pz[c] + 1.0;

		omega[c] = t2 / L2;
		ld += bk->pcount[c] * log(L2);
	}
	return ld;
}

/*
 * M -= sum_j W_j'W_j on the lower triangle, column by column, from the
 * weights of lmm_blocked_pairs_weights (M NULL: into the sparse path's
 * entries, lmm_sparse.c); 0 on interrupt.
 */
int
lmm_blocked_pairs_update(const Blocks *bk, const double *S, const double *omega,
						 double *M)
{
	int64_t		N = bk->N;
	int64_t		b,
				u,
				e;

	for (b = 0; b < N; b++)
	{
		double	   *Mc = M == NULL ? NULL : M + b * N;
		double		sb = S[b];

		if (b % 256 == 0 && lmm_interrupt_pending())
			return 0;
		for (u = bk->pptr[b]; u < bk->pptr[b + 1]; u++)
		{
			double		acc = 0.0;

			for (e = bk->eptr[u]; e < bk->eptr[u + 1]; e++)
				acc += omega[bk->elev[e]] * bk->eval[e];
			if (Mc != NULL)
				Mc[bk->prow[u]] -= sb * S[bk->prow[u]] * acc;
			else
				*lmm_sparse_at(bk, bk->prow[u], b) -= sb * S[bk->prow[u]] * acc;
		}
	}
	return 1;
}

/*
 * For the gradient and the Hessian: with H_ab = S_a S_b sum_j psi_j raw_ja
 * raw_jb over rows and columns below nS (psi = psi1, then psi2, given for
 * each class of levels), the sums
 * sum_ab A_ab H_ab for the symmetric nS x nS A (lower triangle, leading
 * dimension nS; NULL: S^-1 on the sparse path, lmm_sparse.c) into out[0], out[1]; when G is not NULL, H for psi1 into
 * it (both triangles).  0 on interrupt.
 */
int
lmm_blocked_pairs_traces(const Blocks *bk, int64_t nS, const double *S,
						 const double *psi1, const double *psi2, const double *A,
						 double *G, double *out)
{
	int64_t		b,
				u,
				e;

	out[0] = out[1] = 0.0;
	for (b = 0; b < nS; b++)
	{
		const double *Ac = A == NULL ? NULL : A + b * nS;
		double		sb = S[b];

		if (b % 256 == 0 && lmm_interrupt_pending())
			return 0;
		for (u = bk->pptr[b]; u < bk->pptr[b + 1] && bk->prow[u] < nS; u++)
		{
			int64_t		a = bk->prow[u];
			double		acc1 = 0.0,
						acc2 = 0.0,
						s = sb * S[a],
						m = (a == b ? 1.0 : 2.0) * s *
				(Ac != NULL ? Ac[a] : lmm_sparse_sinv(bk, nS, a, b));

			for (e = bk->eptr[u]; e < bk->eptr[u + 1]; e++)
			{
				acc1 += psi1[bk->elev[e]] * bk->eval[e];
				acc2 += psi2[bk->elev[e]] * bk->eval[e];
			}
			out[0] += m * acc1;
			out[1] += m * acc2;
			if (G != NULL)
				G[a + b * nS] = G[b + a * nS] = s * acc1;
		}
	}
	return 1;
}
