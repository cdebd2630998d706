/*
 * lmm_dense.c
 *	  The small dense algebra of the factor: T from theta, Cholesky factors
 *	  and triangular solves of small matrices, and one level's block of the
 *	  factor (L_j, RZX_j, cu_j) for the current T.  All matrices are
 *	  row-major.
 *
 * The per-level factor is the whole cost of an evaluation once the groups
 * are many (a million levels: a million small factorizations), so q = 1
 * and q = 2 have their own kernels in lmm_levels.c; other q, and the first
 * term's levels that meet another term, come through here.
 */
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/* Fill the lower-triangular T from theta, listed column by column. */
void
lmm_theta_to_T(int q, const double *theta, double *T)
{
	int			i,
				j,
				k = 0;

	memset(T, 0, sizeof(double) * q * q);
	for (j = 0; j < q; j++)
		for (i = j; i < q; i++)
			T[i * q + j] = theta[k++];
}

/*
 * In-place lower Cholesky factor of a small dense n x n matrix.  Returns -1
 * on success, or the first column whose pivot is not above tol (the matrix
 * is then not positive definite, or that column depends on earlier ones).
 */
int
lmm_chol_lower(int n, double *A, double tol)
{
	int			i,
				j,
				k;

	for (j = 0; j < n; j++)
	{
		double		s = A[j * n + j];

		for (k = 0; k < j; k++)
			s -= A[j * n + k] * A[j * n + k];
		if (!(s > tol))
			return j;
		s = sqrt(s);
		A[j * n + j] = s;
		for (i = j + 1; i < n; i++)
		{
			double		t = A[i * n + j];

			for (k = 0; k < j; k++)
				t -= A[i * n + k] * A[j * n + k];
			A[i * n + j] = t / s;
		}
		for (i = 0; i < j; i++)
			A[i * n + j] = 0.0;
	}
	return -1;
}

/* Solve L X = B in place for a lower-triangular n x n L and n x m right-hand sides. */
void
lmm_forward_solve(int n, int m, const double *L, double *B)
{
	int			i,
				k,
				c;

	for (i = 0; i < n; i++)
	{
		for (k = 0; k < i; k++)
		{
			double		lik = L[i * n + k];

			for (c = 0; c < m; c++)
				B[i * m + c] -= lik * B[k * m + c];
		}
		for (c = 0; c < m; c++)
			B[i * m + c] /= L[i * n + i];
	}
}

/* Solve L' X = B in place for a lower-triangular n x n L and n x m right-hand sides. */
void
lmm_backward_solve(int n, int m, const double *L, double *B)
{
	int			i,
				k,
				c;

	for (i = n - 1; i >= 0; i--)
	{
		for (k = i + 1; k < n; k++)
		{
			double		lki = L[k * n + i];

			for (c = 0; c < m; c++)
				B[i * m + c] -= lki * B[k * m + c];
		}
		for (c = 0; c < m; c++)
			B[i * m + c] /= L[i * n + i];
	}
}

/*
 * Per-level factorization for the current T: L = chol(T'ZtZ T + I),
 * RZX = L^-1 T'ZtX, cu = L^-1 T'Zty.  Returns log|L|^2 of the level.
 */
double
lmm_level_factor(Work *w, const double *ZtZ, const double *ZtX, const double *Zty)
{
	int			q = w->g->q;
	int			p = w->g->p;
	const double *T = w->T;
	double	   *L = w->L;
	double	   *B = w->B;
	double	   *RZX = w->RZX;
	double	   *cu = w->cu;
	double		ld = 0.0;
	int			i,
				j,
				k;

	/* B = ZtZ T; T is lower, so column j of T starts at row j */
	for (i = 0; i < q; i++)
		for (j = 0; j < q; j++)
		{
			double		s = 0.0;

			for (k = j; k < q; k++)
				s += ZtZ[i * q + k] * T[k * q + j];
			B[i * q + j] = s;
		}
	/* L = T'B + I (lower triangle), then its Cholesky factor */
	for (i = 0; i < q; i++)
		for (j = 0; j <= i; j++)
		{
			double		s = (i == j) ? 1.0 : 0.0;

			for (k = i; k < q; k++)
				s += T[k * q + i] * B[k * q + j];
			L[i * q + j] = s;
		}
	/* T'ZtZT + I is positive definite for any real data */
	if (lmm_chol_lower(q, L, 0.0) >= 0)
	{
		w->not_pd = 1;
		return NAN;
	}

	/* RZX = T'ZtX and cu = T'Zty, then solve with L */
	for (i = 0; i < q; i++)
	{
		for (j = 0; j < p; j++)
		{
			double		s = 0.0;

			for (k = i; k < q; k++)
				s += T[k * q + i] * ZtX[k * p + j];
			RZX[i * p + j] = s;
		}
		{
			double		s = 0.0;

			for (k = i; k < q; k++)
				s += T[k * q + i] * Zty[k];
			cu[i] = s;
		}
	}
	lmm_forward_solve(q, p, L, RZX);
	lmm_forward_solve(q, 1, L, cu);

	for (i = 0; i < q; i++)
		ld += log(L[i * q + i]);
	return 2.0 * ld;
}
