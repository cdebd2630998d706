/*
 * lmm_system.c
 *	  The pieces of the penalized system that every stage shares: the
 *	  first term's cross-products (Gram, built by lmm_blocks.c), the
 *	  evaluation workspace, which theta are bounded, the theta map of
 *	  standardized z, the profiled criterion from its parts, and beta and
 *	  its covariance from a factored system.
 *
 * All matrices are row-major.  The cross-products are formed about the
 * overall means of the x and y columns (z columns keep their origin, since
 * moving it would change the random-effects model); the intercept absorbs
 * the shift and is moved back at the end (lmm_beta_user).
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/* Release the cross-products. */
void
lmm_free_gram(Gram *g)
{
	lmm_free(g->ZtZ);
	lmm_free(g->ZtX);
	lmm_free(g->Zty);
	lmm_free(g->XtX);
	lmm_free(g->Xty);
}

/* Allocate the evaluation workspace. */
void
lmm_work_init(Work *w, const Gram *g, int reml)
{
	int			p = g->p;
	int			q = g->q;

	memset(w, 0, sizeof(Work));
	w->g = g;
	w->reml = reml;
	w->ntheta = g->blk->toff[g->blk->k - 1] + LMM_NTHETA(g->blk->q[g->blk->k - 1]);
	w->T = lmm_alloc(sizeof(double) * q * q);
	w->L = lmm_alloc0(sizeof(double) * q * q);
	w->B = lmm_alloc(sizeof(double) * q * q);
	w->RZX = lmm_alloc(sizeof(double) * q * p);
	w->cu = lmm_alloc(sizeof(double) * q);
	w->RX = lmm_alloc(sizeof(double) * p * p);
	w->cbeta = lmm_alloc(sizeof(double) * p);
}

/* Release the evaluation workspace. */
void
lmm_work_free(Work *w)
{
	lmm_free(w->T);
	lmm_free(w->L);
	lmm_free(w->B);
	lmm_free(w->RZX);
	lmm_free(w->cu);
	lmm_free(w->RX);
	lmm_free(w->cbeta);
}

/* Nonzero if theta index k is a diagonal element of T (bounded below by 0). */
int
lmm_theta_is_diagonal(int q, int k)
{
	int			j;

	for (j = 0; j < q; j++)
	{
		if (k == 0)
			return 1;
		if (k < q - j)
			return 0;
		k -= q - j;
	}
	return 0;
}

/* Nonzero if theta index k of the fit's terms is bounded below by 0 (a diagonal of some T). */
int
lmm_theta_bounded(const Gram *g, int k)
{
	const Blocks *bk = g->blk;
	int			t;

	for (t = bk->k - 1; t > 0 && k < bk->toff[t]; t--)
		;
	return lmm_theta_is_diagonal(bk->q[t], k - bk->toff[t]);
}

/* The centred fixed effects at the theta last evaluated: RX betac = cbeta. */
void
lmm_solve_beta(const Work *w, double *betac)
{
	int			p = w->g->p;
	int			i,
				k;

	for (i = p - 1; i >= 0; i--)
	{
		double		s = w->cbeta[i];

		for (k = i + 1; k < p; k++)
			s -= w->RX[i * p + k] * betac[k];
		betac[i] = s / w->RX[i * p + i];
	}
}

/* Centred fixed effects moved to the user's origin: beta_0 = betac_0 + c_y - sum c_b betac_b. */
void
lmm_beta_user(const Gram *g, const double *betac, double *beta)
{
	int			p = g->p;
	int			b;

	memcpy(beta, betac, sizeof(double) * p);
	beta[0] += g->centre[p - 1];
	for (b = 1; b < p; b++)
		beta[0] -= g->centre[b - 1] * betac[b];
}

/*
 * sigma2 (RX'RX)^-1 at the theta last evaluated, in the user's coordinates:
 * A V A' where A is I but for row 0 = (1, -c_1, ..., -c_{p-1}).
 */
void
lmm_vcov_user(const Work *w, double sigma2, double *vcov)
{
	int			p = w->g->p;
	double	   *V = lmm_alloc(sizeof(double) * p * p);
	int			a,
				b;

	memcpy(V, w->RX, sizeof(double) * p * p);
	LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', p, V, p);
	for (a = 0; a < p; a++)
		for (b = 0; b <= a; b++)
			V[a * p + b] = V[b * p + a] = sigma2 * V[b * p + a];
	lmm_vcov_centred_to_user(w->g, V, vcov);
	lmm_free(V);
}

/*
 * A p x p symmetric matrix V about the centred x's (a covariance of the
 * centred fixed effects, or its derivative) moved to the user's
 * coordinates: A V A', A being I but for row 0 = (1, -c_1, ..., -c_{p-1}).
 */
void
lmm_vcov_centred_to_user(const Gram *g, const double *V, double *vcov)
{
	int			p = g->p;
	double		v00 = 0.0;
	int			a,
				b;

	for (b = 0; b < p; b++)
	{
		double		s = 0.0;

		for (a = 0; a < p; a++)
			s += (a == 0 ? 1.0 : -g->centre[a - 1]) * V[a * p + b];
		vcov[b] = s;			/* row 0, before the column transform */
	}
	for (b = 0; b < p; b++)
		v00 += vcov[b] * (b == 0 ? 1.0 : -g->centre[b - 1]);
	for (a = 1; a < p; a++)
		for (b = 1; b < p; b++)
			vcov[a * p + b] = V[a * p + b];
	for (b = 1; b < p; b++)
		vcov[b * p] = vcov[b];
	vcov[0] = v00;
}

/* REML criterion or ML deviance from the pwrss and log-determinants in w. */
double
lmm_profiled_criterion(const Work *w)
{
	double		n = w->g->n;
	int			p = w->g->p;

	if (!(w->pwrss > 0.0) || !isfinite(w->pwrss))
		return HUGE_VAL;
	if (w->reml)
	{
		double		nmp = n - p;

		return w->ldL2 + w->ldRX2 + nmp * (1.0 + log(2.0 * M_PI * w->pwrss / nmp));
	}
	return w->ldL2 + n * (1.0 + log(2.0 * M_PI * w->pwrss / n));
}

/* Nonzero when every term has one z column, which the gradient needs. */
int
lmm_blocked_scalar(const Blocks *bk)
{
	int			t;

	for (t = 0; t < bk->k; t++)
		if (bk->q[t] != 1)
			return 0;
	return 1;
}

/* theta of z from the optimizer's theta: the mapped terms' blocks replaced. */
void
lmm_zmap_apply(const ZMap *zm, int ntheta, const double *theta_t, double *theta)
{
	int			m;

	memcpy(theta, theta_t, sizeof(double) * ntheta);
	for (m = 0; m < zm->nterms; m++)
		if (!lmm_theta_from_scaled(zm->q[m], zm->i0[m], zm->zc[m], zm->zs[m],
							   theta_t + zm->toff[m], theta + zm->toff[m]))
			theta[zm->toff[m]] = NAN;
}

/*
 * theta of one term's z from theta of its standardized z: T = L of the LQ
 * factorization of B = A^-1 Tt, A^-1 the identity but for column k's 1 / zs[k]
 * on the diagonal and -zc[k] / zs[k] in the intercept's row i0, with
 * non-negative diagonal.  zc and zs are by z column (i0's unused).  Returns
 * 0 when LAPACK fails.
 */
int
lmm_theta_from_scaled(int q, int i0, const double *zc, const double *zs,
				  const double *theta_t, double *theta)
{
	double		Tt[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		B[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		tau[LMM_MAX_RANDOM];
	int			i,
				j,
				k = 0;

	lmm_theta_to_T(q, theta_t, Tt);
	for (j = 0; j < q; j++)
	{
		double		s = Tt[i0 * q + j];

		for (i = 0; i < q; i++)
		{
			if (i == i0)
				continue;
			s -= zc[i] / zs[i] * Tt[i * q + j];
			B[i * q + j] = Tt[i * q + j] / zs[i];
		}
		B[i0 * q + j] = s;
	}
	if (LAPACKE_dgelqf(LAPACK_ROW_MAJOR, q, q, B, q, tau) != 0)
		return 0;
	/* T = L with columns turned to a non-negative diagonal */
	for (j = 0; j < q; j++)
	{
		double		sign = B[j * q + j] < 0.0 ? -1.0 : 1.0;

		for (i = j; i < q; i++)
			theta[k++] = sign * B[i * q + j];
	}
	return 1;
}
