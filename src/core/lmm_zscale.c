/*
 * lmm_zscale.c
 *	  The optimization of a one-term fit in standardized z, for random-slope
 *	  columns far from the intercept's scale.
 *
 * Why: with z = days + 1000, or days x 1e5, the elements of theta differ by
 * orders of magnitude and are strongly coupled, and BOBYQA (lme4's as well
 * as ours) stops far from the optimum while reporting convergence.  Reading
 * each z column as zt = (z - zc) / zs, zc and zs its mean and standard
 * deviation, is only a reparametrization while the intercept is in the term:
 * Z = Zt A with A = [1 zc'; 0 diag(zs)], so b = A^-1 bt and the relative
 * covariance factor is any lower-triangular T with TT' = BB', B = A^-1 Tt.
 * T is the L of B's LQ factorization, each column's sign chosen so that
 * its diagonal is not negative (TT' does not see the signs).  The optimum
 * found in zt is then polished in z with the analytic gradient, so the
 * answer is the fit's own, to rounding, however z was scaled.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/* z columns within these bounds of the intercept's scale are left alone. */
#define ZSCALE_MAX_SHIFT 10.0	/* |mean| / sd */
#define ZSCALE_MIN_SD	1e-2
#define ZSCALE_MAX_SD	1e2

/* Overall mean and standard deviation of each z column, from the levels' statistics. */
static void
z_moments(const LmmStats *s, double *zc, double *zs)
{
	int			nz = s->q - 1;
	int64_t		j;
	int			k;

	for (k = 0; k < nz; k++)
	{
		double		sum = 0.0,
					ss = 0.0;

		for (j = 0; j < s->nlevels; j++)
		{
			const double *rec = s->level + (size_t) j * s->stride;

			sum += LMM_LEVEL_N(rec) * LMM_LEVEL_MEAN(rec)[k];
		}
		zc[k] = sum / s->n;
		for (j = 0; j < s->nlevels; j++)
		{
			const double *rec = s->level + (size_t) j * s->stride;
			double		dm = LMM_LEVEL_MEAN(rec)[k] - zc[k];

			ss += LMM_LEVEL_COMOM(rec, s->d)[k * s->d + k] + LMM_LEVEL_N(rec) * dm * dm;
		}
		zs[k] = sqrt(ss / s->n);
	}
}

/*
 * Nonzero when some z column is far from the intercept's scale: its mean
 * more than ZSCALE_MAX_SHIFT standard deviations from 0, or its standard
 * deviation outside [ZSCALE_MIN_SD, ZSCALE_MAX_SD].  A constant column (sd
 * 0) is left to the usual checks.
 */
int
lmm_z_badly_scaled(const LmmStats *s)
{
	double		zc[LMM_MAX_RANDOM],
				zs[LMM_MAX_RANDOM];
	int			k;

	if (s->q < 2)
		return 0;
	z_moments(s, zc, zs);
	for (k = 0; k < s->q - 1; k++)
	{
		if (!(zs[k] > 0.0) || !isfinite(zs[k]) || !isfinite(zc[k]))
			return 0;
		if (fabs(zc[k]) > ZSCALE_MAX_SHIFT * zs[k] ||
			zs[k] < ZSCALE_MIN_SD || zs[k] > ZSCALE_MAX_SD)
			return 1;
	}
	return 0;
}

/*
 * theta of z from theta of zt: T = L of the LQ factorization of
 * B = A^-1 Tt, A^-1 = [1 -zc'/zs'; 0 diag(1/zs)], with non-negative
 * diagonal.  Returns 0 when LAPACK fails.
 */
static int
theta_from_scaled(int q, const double *zc, const double *zs, const double *theta_t,
				  double *theta)
{
	double		Tt[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		B[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		tau[LMM_MAX_RANDOM];
	int			i,
				j,
				k = 0;

	lmm_theta_to_T(q, theta_t, Tt);
	/* B = A^-1 Tt: row 0 is Tt's row 0 less sum_k zc_k / zs_k times row k + 1 */
	for (j = 0; j < q; j++)
	{
		double		s = Tt[j];

		for (i = 1; i < q; i++)
		{
			s -= zc[i - 1] / zs[i - 1] * Tt[i * q + j];
			B[i * q + j] = Tt[i * q + j] / zs[i - 1];
		}
		B[j] = s;
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

/*
 * The optimum of w's criterion (z as given) found through the statistics s
 * with z standardized: the usual optimization in zt, its theta carried back,
 * and a Newton polish in z.  Same contract as lmm_optimize_theta.
 */
LmmStatus
lmm_scaled_optimum(const LmmStats *s, Work *w, double *theta, double *fmin,
				   int *converged)
{
	int			nt = w->ntheta;
	double		zc[LMM_MAX_RANDOM],
				zs[LMM_MAX_RANDOM];
	double	   *theta_t = lmm_alloc(sizeof(double) * nt);
	double	   *lb = lmm_alloc(sizeof(double) * nt);
	Gram		gs;
	Work		ws;
	LmmStatus	status;
	int			k;

	z_moments(s, zc, zs);
	lmm_build_gram_z(s, &gs, zc, zs);
	lmm_work_init(&ws, &gs, w->reml);
	status = lmm_optimize_theta(&ws, theta_t, fmin, converged);
	w->n_eval += ws.n_eval;
	if (ws.interrupted)
		w->interrupted = 1;
	if (ws.not_pd)
		w->not_pd = 1;
	lmm_work_free(&ws);
	lmm_free_gram(&gs);

	if (status == LMM_OK && !theta_from_scaled(w->g->q, zc, zs, theta_t, theta))
		status = LMM_ERR_OPTIMIZER;
	if (status == LMM_OK)
	{
		for (k = 0; k < nt; k++)
			lb[k] = lmm_theta_bounded(w->g, k) ? 0.0 : -HUGE_VAL;
		w->n_eval++;
		*fmin = lmm_criterion(w, theta);
		lmm_polish(w, lb, theta, fmin);
		if (w->interrupted)
			status = LMM_ERR_INTERRUPTED;
	}
	lmm_free(theta_t);
	lmm_free(lb);
	return status;
}
