/*
 * lmm_blocked_hess.c
 *	  The analytic Hessian of the profiled criterion's parts for several
 *	  scalar terms, and the derivatives of (RX'RX)^-1, with the blocked
 *	  factor of lmm_blocked.c.
 *
 * Why: central differences of the gradient cost two gradient evaluations
 * per theta (each a dense factor and inverse); the Hessian costs one
 * gradient and one dense product.  BFGS starts from it and Satterthwaite's
 * df are built on it (lmm_satt.c).
 *
 * Notation as in lmm_blocked_grad.c: K = Lambda~'C Lambda~ + J, P_a the
 * projector on term a's rows, t_a = tr(P_a K^-1), U_a = |P_a u|^2, and for
 * theta_a, theta_b != 0 (dK/dtheta_b = (P_b (K - J) + (K - J) P_b) / theta_b):
 *	 K^-1 dK/dtheta_b K^-1 = (K^-1 P_b + P_b K^-1 - 2 K^-1 P_b K^-1) / theta_b
 *	 d2 log|K| / dtheta_a dtheta_b
 *		 = 2 (delta_ab (3 t_a - J_a) - 2 F_ab) / (theta_a theta_b),
 *	 F_ab = sum_{i in a, k in b} (K^-1)_ik^2,
 *	 d[u; beta] / dtheta_b = (2 K^-1 P_b u - P_b u) / theta_b,
 *	 d2 pwrss / dtheta_a dtheta_b
 *		 = (6 delta_ab U_a - 8 (P_a u)'K^-1 (P_b u)) / (theta_a theta_b),
 *	 d (K^-1)_XX / dtheta_b = 2 sum_{i in b} (K^-1)_Xi (K^-1)_iX / theta_b.
 * ML's log|A| follows the same formula with A (J = I) in place of K.
 *
 * F from the blocked factor, with D = diag(1 / L_j^2) on the first term,
 * W_j its level's cross row, S^-1 the inverse of the dense part's Schur
 * complement and G = sum_j W_j'W_j / L_j^2:
 *	 K^-1 on the first term = D + V S^-1 V', V's rows W_j / L_j, so
 *	 F_00 = sum_j 1 / L_j^4 + 2 sum_j W_j S^-1 W_j' / L_j^4 + tr((S^-1 G)^2),
 *	 F_0b = sum_{i in b} (S^-1 G S^-1)_ii, and on the dense terms F_ab is a
 *	 sum over a block of S^-1 squared.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_threads.h"

/* The side of the square tiles in which a matrix and its transpose are read. */
#define TILE 64

/*
 * Solve K Z = R for nr right-hand sides in place (columns of nK = J[0] + m
 * + p: the first term's levels, then M's rows), M holding the factor at
 * the theta last evaluated; block elimination of the first term, then the
 * dense factor.  Returns 0 on interrupt.
 */
static int
blocked_solve(Work *w, int nr, double *Z)
{
	const Gram *g = w->g;
	Blocks	   *bk = g->blk;
	int			p = g->p;
	int64_t		J0 = g->nlevels;
	int64_t		nK = J0 + bk->m + p;
	int			pass,
				c,
				r;
	int64_t		j;

	/* forward over the levels, the dense solve, then backward over the levels */
	for (pass = 0; pass < 2; pass++)
	{
		if (pass == 1)
			LAPACKE_dpotrs_work(LAPACK_COL_MAJOR, 'L', (lapack_int) (bk->m + p), nr,
								bk->M, (lapack_int) bk->N, Z + J0, (lapack_int) nK);
		for (j = 0; j < J0; j++)
		{
			int			ncol;
			double		Lj;

			if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
			{
				w->interrupted = 1;
				return 0;
			}
			lmm_level_factor(w, g->ZtZ + (size_t) j, g->ZtX + (size_t) j * p,
							 g->Zty + (size_t) j);
			ncol = lmm_blocked_level_rhs(w, bk, j) - 1;
			Lj = w->L[0];
			for (r = 0; r < nr; r++)
			{
				double	   *z = Z + r * nK;

				if (pass == 0)
				{
					z[j] /= Lj;
					for (c = 0; c < ncol; c++)
						z[J0 + bk->widx[c]] -= bk->W[c] * z[j];
				}
				else
				{
					double		s = z[j];

					for (c = 0; c < ncol; c++)
						s -= bk->W[c] * z[J0 + bk->widx[c]];
					z[j] = s / Lj;
				}
			}
		}
	}
	return 1;
}

/*
 * The rows of a sparse product taken together, and G's density above which
 * the dense product (the BLAS) is faster.
 */
#define PRODUCT_ROWS 32			/* four vectors of eight */
#define SPARSE_DENSITY 0.25

/* Eight doubles read from memory aligned as doubles are (palloc's). */
typedef double v8d_unaligned __attribute__((vector_size(8 * sizeof(double)), aligned(sizeof(double))));

/* G's nonzeros by column: rows and values. */
typedef struct SparseCols
{
	int64_t    *ptr;			/* nS + 1 */
	int32_t    *row;
	double	   *val;
} SparseCols;

/*
 * Rows r0 .. r0 + nr - 1 (nr <= PRODUCT_ROWS) of Y = S^-1 G, column by
 * column of G: each nonzero G_rc adds G_rc S^-1[rows, r] to Y[rows, c],
 * kept in registers.  P holds S^-1[rows, r] at P + r PRODUCT_ROWS, copied
 * from S^-1's columns (S^-1 symmetric, held in full), so that what a
 * column of G reads is one compact block that stays in cache; the rows
 * past nr (the last block's) are zeros there and are not written out.
 */
LMM_SIMD_CLONES static void
product_rows_simd(int64_t nS, const double *Sinv, const SparseCols *G, int64_t r0,
				  int nr, double *P, double *Y)
{
	int64_t		c,
				e,
				r;
	int			i;

	for (i = 0; i < nr; i++)
	{
		const double *col = Sinv + (size_t) (r0 + i) * nS;

		for (r = 0; r < nS; r++)
			P[r * PRODUCT_ROWS + i] = col[r];
	}
	for (; i < PRODUCT_ROWS; i++)
		for (r = 0; r < nS; r++)
			P[r * PRODUCT_ROWS + i] = 0.0;
	for (c = 0; c < nS; c++)
	{
		/* four named accumulators: an array of them would live in memory */
		lmm_v8d		y0 = {0},
					y1 = {0},
					y2 = {0},
					y3 = {0};
		double		all[PRODUCT_ROWS];
		double	   *out = Y + (size_t) c * nS + r0;

		for (e = G->ptr[c]; e < G->ptr[c + 1]; e++)
		{
			const v8d_unaligned *pr = (const v8d_unaligned *) (P + (size_t) G->row[e] * PRODUCT_ROWS);
			double		v = G->val[e];

			y0 += v * pr[0];
			y1 += v * pr[1];
			y2 += v * pr[2];
			y3 += v * pr[3];
		}
		if (nr == PRODUCT_ROWS)
		{
			memcpy(out, &y0, sizeof(y0));
			memcpy(out + 8, &y1, sizeof(y1));
			memcpy(out + 16, &y2, sizeof(y2));
			memcpy(out + 24, &y3, sizeof(y3));
			continue;
		}
		memcpy(all, &y0, sizeof(y0));
		memcpy(all + 8, &y1, sizeof(y1));
		memcpy(all + 16, &y2, sizeof(y2));
		memcpy(all + 24, &y3, sizeof(y3));
		memcpy(out, all, sizeof(double) * nr);
	}
}

/* One thread's share of the row blocks of the sparse product. */
typedef struct ProductPart
{
	int64_t		nS;
	const double *Sinv;
	const SparseCols *G;
	double	   *Y;
	double	   *P;				/* nS x PRODUCT_ROWS, the thread's own */
	int64_t		b0;				/* row blocks b0 .. b1 - 1 */
	int64_t		b1;
} ProductPart;

/* A thread's row blocks (plain entry to the SIMD clones: a clone's address is never taken). */
static void
product_part(void *arg)
{
	ProductPart *pp = (ProductPart *) arg;
	int64_t		b;

	for (b = pp->b0; b < pp->b1; b++)
		product_rows_simd(pp->nS, pp->Sinv, pp->G, b * PRODUCT_ROWS,
						  (int) (pp->nS - b * PRODUCT_ROWS < PRODUCT_ROWS ?
								 pp->nS - b * PRODUCT_ROWS : PRODUCT_ROWS),
						  pp->P, pp->Y);
}

/*
 * Y = S^-1 G for symmetric S^-1 (held in full) and G.  G = sum_j W_j'W_j /
 * L_j^2 has a nonzero only where two dense rows meet at a level of the
 * first term, few of them when the later terms' levels are many: then
 * the product over G's nonzeros (about nS nnz(G) multiplications) costs a
 * fraction of the dense one (nS^3).
 */
static void
sinv_times_g(int64_t nS, const double *Sinv, const double *G, double *Y)
{
	SparseCols	sc;
	ProductPart part[LMM_MAX_THREADS];
	char	   *Pmem;
	double	   *P;
	int64_t		nb,
				nnz = 0,
				i,
				c,
				e;
	int			nt,
				k;

	for (i = 0; i < nS * nS; i++)
		nnz += G[i] != 0.0;
	if ((double) nnz > SPARSE_DENSITY * (double) nS * (double) nS)
	{
		cblas_dsymm(CblasColMajor, CblasLeft, CblasLower, (int) nS, (int) nS, 1.0,
					Sinv, (int) nS, G, (int) nS, 0.0, Y, (int) nS);
		return;
	}
	sc.ptr = lmm_alloc(sizeof(int64_t) * (size_t) (nS + 1));
	sc.row = lmm_alloc(sizeof(int32_t) * (size_t) (nnz > 0 ? nnz : 1));
	sc.val = lmm_alloc(sizeof(double) * (size_t) (nnz > 0 ? nnz : 1));
	e = 0;
	for (c = 0; c < nS; c++)
	{
		sc.ptr[c] = e;
		for (i = 0; i < nS; i++)
			if (G[i + c * nS] != 0.0)
			{
				sc.row[e] = (int32_t) i;
				sc.val[e++] = G[i + c * nS];
			}
	}
	sc.ptr[nS] = e;
	nb = (nS + PRODUCT_ROWS - 1) / PRODUCT_ROWS;
	nt = lmm_threads_for(nb, 16);
	/* on a cache line: a vector that straddled two would cost two reads */
	Pmem = lmm_alloc(sizeof(double) * (size_t) nS * PRODUCT_ROWS * nt + 64);
	P = (double *) (Pmem + (64 - (uintptr_t) Pmem % 64) % 64);
	for (k = 0; k < nt; k++)
	{
		part[k].nS = nS;
		part[k].Sinv = Sinv;
		part[k].G = &sc;
		part[k].Y = Y;
		part[k].P = P + (size_t) k * nS * PRODUCT_ROWS;
		part[k].b0 = nb * k / nt;
		part[k].b1 = nb * (k + 1) / nt;
	}
	lmm_run_threads(nt, product_part, part, sizeof(ProductPart));
	lmm_free(sc.ptr);
	lmm_free(sc.row);
	lmm_free(sc.val);
	lmm_free(Pmem);
}

/* F_ab = sum of (K^-1)_ik^2 over term a's rows i and b's rows k (see the header). */
static void
trace_products(const Blocks *bk, const GradParts *gp, int64_t nS, double *Sinv,
			   double *Y, double *F)
{
	int			k = bk->k;
	int64_t		i,
				l,
				i0,
				l0;
	int			a,
				b;

	/* S^-1 in full (its upper triangle from the lower, in tiles), then Y = S^-1 G */
	for (l0 = 0; l0 < nS; l0 += TILE)
		for (i0 = l0; i0 < nS; i0 += TILE)
			for (l = l0; l < l0 + TILE && l < nS; l++)
				for (i = i0 > l + 1 ? i0 : l + 1; i < i0 + TILE && i < nS; i++)
					Sinv[l + i * nS] = Sinv[i + l * nS];
	if (nS > 0)					/* the BLAS refuses leading dimensions of 0 */
		sinv_times_g(nS, Sinv, gp->G, Y);

	/* tr(Y Y) = sum Y_il Y_li, in tiles so that both stay in cache */
	F[0] = gp->inv4 + 2.0 * gp->s4;
	for (l0 = 0; l0 < nS; l0 += TILE)
		for (i0 = 0; i0 < nS; i0 += TILE)
			for (l = l0; l < l0 + TILE && l < nS; l++)
				for (i = i0; i < i0 + TILE && i < nS; i++)
					F[0] += Y[i + l * nS] * Y[l + i * nS];
	for (b = 1; b < k; b++)
	{
		double		s = 0.0;

		/* (S^-1 G S^-1)_ii = sum_l Y_il S^-1_li, S^-1 being symmetric */
		for (l = 0; l < nS; l++)
			for (i = bk->off[b]; i < bk->off[b] + bk->J[b]; i++)
				s += Y[i + l * nS] * Sinv[i + l * nS];
		F[b] = F[b * k] = s;
	}
	for (a = 1; a < k; a++)
		for (b = 1; b <= a; b++)
		{
			double		s = 0.0;

			for (l = bk->off[b]; l < bk->off[b] + bk->J[b]; l++)
				for (i = bk->off[a]; i < bk->off[a] + bk->J[a]; i++)
					s += Sinv[i + l * nS] * Sinv[i + l * nS];
			F[a * k + b] = F[b * k + a] = s;
		}
}

/*
 * At theta, all of whose entries are nonzero, for several scalar terms,
 * where the criterion was last evaluated (its value being f, M holding
 * the factor): the first derivatives of the log-determinant part and of pwrss (dld,
 * dpw, as lmm_blocked_gradient), their second derivatives (d2ld, d2pw:
 * ntheta x ntheta) and the derivatives of the centred (RX'RX)^-1 by each
 * theta (dV: ntheta blocks of p x p).  Returns 0 when the criterion is
 * undefined there, a theta is 0, M is sparse (lmm_sparse.c), or on
 * interrupt.
 */
int
lmm_blocked_hessian(Work *w, const double *theta, double f, double *dld,
					double *dpw, double *d2ld, double *d2pw, double *dV)
{
	const Gram *g = w->g;
	Blocks	   *bk = g->blk;
	int			p = g->p;
	int			k = bk->k;
	int64_t		J0 = g->nlevels;
	int64_t		m = bk->m;
	int64_t		nS = m + (w->reml ? p : 0);
	int64_t		nK = J0 + m + p;
	int			nr = k + p;
	GradParts	gp;
	double		F[LMM_MAX_TERMS * LMM_MAX_TERMS];
	double	   *Y,
			   *Z;
	int64_t		i;
	int			a,
				b,
				x,
				y,
				ok;

	for (a = 0; a < k; a++)
		if (theta[a] == 0.0)
			return 0;
	/* F needs all of S^-1: on the sparse path the caller takes differences */
	if (bk->sp != NULL)
		return 0;
	if (bk->hG == NULL)
	{
		bk->hG = lmm_alloc(sizeof(double) * (size_t) (m + p) * (size_t) (m + p));
		bk->hY = lmm_alloc(sizeof(double) * (size_t) (m + p) * (size_t) (m + p));
	}
	memset(&gp, 0, sizeof(gp));
	gp.G = bk->hG;
	memset(gp.G, 0, sizeof(double) * (size_t) nS * (size_t) nS);
	gp.u0 = lmm_alloc(sizeof(double) * (size_t) J0);
	Y = bk->hY;
	Z = lmm_alloc0(sizeof(double) * (size_t) nK * nr);
	ok = isfinite(lmm_blocked_gradient_parts(w, theta, f, dld, dpw, &gp));
	if (ok)
	{
		trace_products(bk, &gp, nS, bk->Sinv, Y, F);

		/* right-hand sides: P_b u for each term, then e_x for each X column */
		memcpy(Z, gp.u0, sizeof(double) * (size_t) J0);
		for (b = 1; b < k; b++)
			for (i = bk->off[b]; i < bk->off[b] + bk->J[b]; i++)
				Z[b * nK + J0 + i] = bk->uD[i];
		for (x = 0; x < p; x++)
			Z[(k + x) * nK + J0 + m + x] = 1.0;
		ok = blocked_solve(w, nr, Z);
	}
	for (a = 0; a < k && ok; a++)
	{
		int64_t		a0 = a == 0 ? 0 : J0 + bk->off[a];
		int64_t		a1 = a == 0 ? J0 : a0 + bk->J[a];

		for (b = 0; b < k; b++)
		{
			double		q = 0.0;

			/* (P_a u)'K^-1 (P_b u), u on term a's rows */
			for (i = a0; i < a1; i++)
				q += (a == 0 ? gp.u0[i] : bk->uD[i - J0]) * Z[b * nK + i];
			d2ld[a * k + b] = 2.0 * ((a == b ? 3.0 * gp.trK[a] - bk->J[a] : 0.0) -
									 2.0 * F[a * k + b]) / (theta[a] * theta[b]);
			d2pw[a * k + b] = ((a == b ? 6.0 * gp.uu[a] : 0.0) - 8.0 * q) /
				(theta[a] * theta[b]);
		}
		/* d(K^-1)_XX / dtheta_a from the X columns of K^-1 on a's rows */
		for (x = 0; x < p; x++)
			for (y = 0; y < p; y++)
			{
				double		s = 0.0;

				for (i = a0; i < a1; i++)
					s += Z[(k + x) * nK + i] * Z[(k + y) * nK + i];
				dV[(a * p + x) * p + y] = 2.0 * s / theta[a];
			}
	}
	for (a = 0; a < k && ok; a++)
		for (b = 0; b < a; b++)
		{
			d2ld[a * k + b] = d2ld[b * k + a] = 0.5 * (d2ld[a * k + b] + d2ld[b * k + a]);
			d2pw[a * k + b] = d2pw[b * k + a] = 0.5 * (d2pw[a * k + b] + d2pw[b * k + a]);
		}
	lmm_free(gp.u0);
	lmm_free(Z);
	return ok && !w->interrupted;
}
