/*
 * lmm_blocked_pairs.c
 *	  The first term's contribution to M, by column of M, when every term is
 *	  scalar.
 *
 * Why: the level-by-level update M -= W_j'W_j writes a few hundred entries
 * of M scattered over the whole matrix per level; on InstEval (a dense part
 * of 1,145 rows, 2,972 levels) that is a cache miss each and as slow as
 * the factorization.  With scalar terms W_j = (theta_0 / L_j) raw_j S,
 * raw_j the level's constant cross-products with [Z_D | X | y] and S the
 * diagonal of theta_u on the dense terms' columns (1 on X and y), so
 *	 W_j'W_j = omega_j S raw_j'raw_j S,	omega_j = theta_0^2 / L_j^2,
 *	 L_j^2 = theta_0^2 Z_j'Z_j + 1.
 * The products raw_ja raw_jb are listed once, sorted by the column b of M
 * (a >= b), so that each evaluation walks M a column at a time.  The same
 * list gives sums over the levels with other weights (lmm_blocked_grad.c).
 */
#include <math.h>
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

/*
 * Build the list of products for statistics whose terms are all scalar,
 * unless it is too long (PAIRS_MAX): the entries
 * (level, raw_ja raw_jb) are sorted by row a, then stably by column b, and
 * grouped by pair (a, b).
 */
void
lmm_blocked_pairs_build(const Gram *g, Blocks *bk)
{
	int64_t		N = bk->N;
	int64_t    *col,
			   *cnt;
	int32_t    *ka,
			   *kb;
	double	   *raw;
	int32_t    *tlev,
			   *rows;
	double	   *tval;
	int64_t		j,
				e,
				at,
				E = 0,
				U = 0;
	int			a,
				b,
				n;

	if (!lmm_blocked_scalar(bk))
		return;
	for (j = 0; j < g->nlevels; j++)
		E += (int64_t) bk->ncols[j] * (bk->ncols[j] + 1) / 2;
	if (E > PAIRS_MAX && E > PAIRS_MAX_RATIO * N * N)
		return;

	col = lmm_alloc(sizeof(int64_t) * bk->maxcols);
	raw = lmm_alloc(sizeof(double) * bk->maxcols);
	cnt = lmm_alloc(sizeof(int64_t) * (size_t) (N + 1));
	ka = lmm_alloc(sizeof(int32_t) * (size_t) (E + 1));
	kb = lmm_alloc(sizeof(int32_t) * (size_t) (E + 1));
	tlev = lmm_alloc(sizeof(int32_t) * (size_t) (E + 1));
	tval = lmm_alloc(sizeof(double) * (size_t) (E + 1));
	rows = lmm_alloc(sizeof(int32_t) * (size_t) (E + 1));
	bk->elev = lmm_alloc(sizeof(int32_t) * (size_t) (E + 1));
	bk->eval = lmm_alloc(sizeof(double) * (size_t) (E + 1));

	/* by row a: counts, offsets, then the entries into the temporaries */
	memset(cnt, 0, sizeof(int64_t) * (size_t) (N + 1));
	for (j = 0; j < g->nlevels; j++)
	{
		n = level_columns(g, bk, j, col, raw);
		for (a = 0; a < n; a++)
			cnt[col[a] + 1] += a + 1;
	}
	for (j = 0; j < N; j++)
		cnt[j + 1] += cnt[j];
	for (j = 0; j < g->nlevels; j++)
	{
		n = level_columns(g, bk, j, col, raw);
		for (b = 0; b < n; b++)
			for (a = b; a < n; a++)
			{
				at = cnt[col[a]]++;
				ka[at] = (int32_t) col[a];
				kb[at] = (int32_t) col[b];
				tlev[at] = (int32_t) j;
				tval[at] = raw[a] * raw[b];
			}
	}

	/* stably by column b, with the rows into rows */
	memset(cnt, 0, sizeof(int64_t) * (size_t) (N + 1));
	for (e = 0; e < E; e++)
		cnt[kb[e] + 1]++;
	for (j = 0; j < N; j++)
		cnt[j + 1] += cnt[j];
	bk->pptr = lmm_alloc(sizeof(int64_t) * (size_t) (N + 1));
	memcpy(bk->pptr, cnt, sizeof(int64_t) * (size_t) (N + 1));
	for (e = 0; e < E; e++)
	{
		at = cnt[kb[e]]++;
		bk->elev[at] = tlev[e];
		bk->eval[at] = tval[e];
		rows[at] = ka[e];
	}

	/* group equal (a, b): pptr counts pairs by column, eptr entries by pair */
	bk->prow = lmm_alloc(sizeof(int32_t) * (size_t) (E + 1));
	bk->eptr = lmm_alloc(sizeof(int64_t) * (size_t) (E + 1));
	for (b = 0; b < N; b++)
	{
		int64_t		first = U;

		for (e = bk->pptr[b]; e < bk->pptr[b + 1]; e++)
			if (U == first || bk->prow[U - 1] != rows[e])
			{
				bk->prow[U] = rows[e];
				bk->eptr[U++] = e;
			}
		bk->pptr[b] = first;
	}
	bk->pptr[N] = U;
	bk->eptr[U] = E;
	bk->pS = lmm_alloc(sizeof(double) * (size_t) N);
	bk->pomega = lmm_alloc(sizeof(double) * (size_t) g->nlevels);
	lmm_free(col);
	lmm_free(raw);
	lmm_free(cnt);
	lmm_free(ka);
	lmm_free(kb);
	lmm_free(tlev);
	lmm_free(tval);
	lmm_free(rows);
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
	bk->pptr = NULL;
	bk->prow = bk->elev = NULL;
	bk->eptr = NULL;
	bk->eval = bk->pS = bk->pomega = NULL;
}

/*
 * For theta (all terms scalar): each column's scale into S (N entries: the
 * term's theta on the dense rows, 1 on X and y) and omega_j (J[0]) into
 * omega; returns log|L|^2 = sum_j log L_j^2.
 */
double
lmm_blocked_pairs_weights(const Gram *g, const Blocks *bk, const double *theta,
						  double *S, double *omega)
{
	double		t2 = theta[0] * theta[0];
	double		ld = 0.0;
	int64_t		i,
				j;
	int			t;

	for (t = 1; t < bk->k; t++)
		for (i = bk->off[t]; i < bk->off[t] + bk->J[t]; i++)
			S[i] = theta[t];
	for (i = bk->m; i < bk->N; i++)
		S[i] = 1.0;
	for (j = 0; j < g->nlevels; j++)
	{
		double		L2 = t2 * g->ZtZ[j] + 1.0;

		omega[j] = t2 / L2;
		ld += log(L2);
	}
	return ld;
}

/*
 * M -= sum_j W_j'W_j on the lower triangle, column by column, from the
 * weights of lmm_blocked_pairs_weights; 0 on interrupt.
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
		double	   *Mc = M + b * N;
		double		sb = S[b];

		if (b % 256 == 0 && lmm_interrupt_pending())
			return 0;
		for (u = bk->pptr[b]; u < bk->pptr[b + 1]; u++)
		{
			double		acc = 0.0;

			for (e = bk->eptr[u]; e < bk->eptr[u + 1]; e++)
				acc += omega[bk->elev[e]] * bk->eval[e];
			Mc[bk->prow[u]] -= sb * S[bk->prow[u]] * acc;
		}
	}
	return 1;
}

/*
 * For the gradient and the Hessian: with H_ab = S_a S_b sum_j psi_j raw_ja
 * raw_jb over rows and columns below nS (psi = psi1, then psi2), the sums
 * sum_ab A_ab H_ab for the symmetric nS x nS A (lower triangle, leading
 * dimension nS) into out[0], out[1]; when G is not NULL, H for psi1 into
 * its lower triangle.  0 on interrupt.
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
		const double *Ac = A + b * nS;
		double		sb = S[b];

		if (b % 256 == 0 && lmm_interrupt_pending())
			return 0;
		for (u = bk->pptr[b]; u < bk->pptr[b + 1] && bk->prow[u] < nS; u++)
		{
			int64_t		a = bk->prow[u];
			double		acc1 = 0.0,
						acc2 = 0.0,
						s = sb * S[a],
						m = (a == b ? 1.0 : 2.0) * Ac[a] * s;

			for (e = bk->eptr[u]; e < bk->eptr[u + 1]; e++)
			{
				acc1 += psi1[bk->elev[e]] * bk->eval[e];
				acc2 += psi2[bk->elev[e]] * bk->eval[e];
			}
			out[0] += m * acc1;
			out[1] += m * acc2;
			if (G != NULL)
				G[a + b * nS] = s * acc1;
		}
	}
	return 1;
}
