/*
 * lmm_system.c
 *	  The pieces of the penalized system that every stage shares: the
 *	  first term's cross-products (Gram) from one-term statistics, the
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

/*
 * Form the per-level and overall cross-products about the centre from the
 * statistics, with each z column k read as (z_k - zc[k]) / zs[k] when zc
 * and zs are given (lmm_zscale_begin), computed from the levels' means and
 * co-moments rather than by transforming the cross-products, so no digit is
 * lost to the shift.
 */
static void
build_gram(const LmmStats *s, Gram *g, const double *zc, const double *zs)
{
	int			p = s->p;
	int			q = s->q;
	int			d = s->d;
	int			nz = q - 1;
	double		e[1 + 2 * LMM_MAX_COLUMNS];
	int64_t		j;
	int			a,
				b;

	g->p = p;
	g->q = q;
	g->nlevels = s->nlevels;
	g->n = s->n;
	g->centre = s->mean;
	g->intercept = 1;
	g->blk = NULL;
	g->ZtZ = lmm_alloc(sizeof(double) * (size_t) s->nlevels * q * q);
	g->ZtX = lmm_alloc(sizeof(double) * (size_t) s->nlevels * q * p);
	g->Zty = lmm_alloc(sizeof(double) * (size_t) s->nlevels * q);
	g->XtX = lmm_alloc0(sizeof(double) * p * p);
	g->Xty = lmm_alloc0(sizeof(double) * p);

	for (j = 0; j < s->nlevels; j++)
	{
		const double *rec = s->level + (size_t) j * s->stride;
		double		nj = LMM_LEVEL_N(rec);
		const double *mean = LMM_LEVEL_MEAN(rec);
		const double *C = LMM_LEVEL_COMOM(rec, d);
		double	   *ZtZ = g->ZtZ + (size_t) j * q * q;
		double	   *ZtX = g->ZtX + (size_t) j * q * p;
		double	   *Zty = g->Zty + (size_t) j * q;
		int			k;

		/* e = (1, level means of v less the centre; z keeps its origin) */
		e[0] = 1.0;
		for (k = 0; k < d; k++)
			e[1 + k] = (k >= nz) ? mean[k] - s->mean[k - nz] :
				zc ? (mean[k] - zc[k]) / zs[k] : mean[k];

		/* sum over the level of u u' = n_j e e' + co-moments (zero for the intercept) */
		for (a = 0; a < q; a++)
		{
			for (b = 0; b < q; b++)
			{
				double		c = 0.0;

				if (a > 0 && b > 0)
					c = ((a <= b) ? C[(a - 1) * d + (b - 1)] : C[(b - 1) * d + (a - 1)]) *
						(zs ? 1.0 / (zs[a - 1] * zs[b - 1]) : 1.0);
				ZtZ[a * q + b] = nj * e[a] * e[b] + c;
			}
			for (b = 0; b < p; b++)
			{
				double		xe = (b == 0) ? 1.0 : e[nz + b];
				double		c = (a > 0 && b > 0) ? C[(a - 1) * d + nz + b - 1] *
					(zs ? 1.0 / zs[a - 1] : 1.0) : 0.0;

				ZtX[a * p + b] = nj * e[a] * xe + c;
			}
			Zty[a] = nj * e[a] * e[d] + ((a > 0) ? C[(a - 1) * d + d - 1] *
										 (zs ? 1.0 / zs[a - 1] : 1.0) : 0.0);
		}
	}

	/* overall, about the overall means: the intercept column is orthogonal */
	g->XtX[0] = s->n;
	for (a = 1; a < p; a++)
	{
		for (b = a; b < p; b++)
			g->XtX[a * p + b] = g->XtX[b * p + a] = s->comom[(a - 1) * p + (b - 1)];
		g->Xty[a] = s->comom[(a - 1) * p + p - 1];
	}
	g->yty = s->comom[(p - 1) * p + p - 1];
}

/* Form the cross-products of the statistics, z at its own origin and scale. */
void
lmm_build_gram(const LmmStats *s, Gram *g)
{
	build_gram(s, g, NULL, NULL);
}

/* Form the cross-products of the statistics with z read as (z - zc) / zs. */
void
lmm_build_gram_z(const LmmStats *s, Gram *g, const double *zc, const double *zs)
{
	build_gram(s, g, zc, zs);
}

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
