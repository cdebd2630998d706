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
 *
 * A one-term fit optimizes on cross-products formed in zt from the
 * statistics; several terms only map theta inside the criterion (ZMap).
 * Mapping theta alone for one term too was tried: the criterion matched,
 * but sigma, the fixed effects and the slope's SD ended up to 1e-6 away at
 * days + 1000 and days x 1e5, because the optimizer then sees the criterion
 * as evaluated in the badly scaled z.
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
 * Nonzero when a column of z, of mean zc and standard deviation zs, is far
 * from the intercept's scale: its mean more than ZSCALE_MAX_SHIFT standard
 * deviations from 0, or its standard deviation outside [ZSCALE_MIN_SD,
 * ZSCALE_MAX_SD].  A constant or non-finite column is left to the usual
 * checks.
 */
static int
far_from_scale(double zc, double zs)
{
	if (!(zs > 0.0) || !isfinite(zs) || !isfinite(zc))
		return 0;
	return fabs(zc) > ZSCALE_MAX_SHIFT * zs || zs < ZSCALE_MIN_SD || zs > ZSCALE_MAX_SD;
}

/* Nonzero when a one-term fit has a z column far from the intercept's scale. */
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
		if (!(zs[k] > 0.0) || !isfinite(zs[k]) || !isfinite(zc[k]))
			return 0;
	for (k = 0; k < s->q - 1; k++)
		if (far_from_scale(zc[k], zs[k]))
			return 1;
	return 0;
}

/*
 * The map of a several-term fit: its terms with a random intercept and a
 * slope far from scale, each z column's mean and standard deviation taken
 * from the levels' sums.  The intercept is the column that is 1 on every row
 * (its sum and its sum of squares are n).  Returns the number of terms
 * mapped; 0 leaves the fit as it is.
 */
int
lmm_zmap_terms(const LmmTermStats *s, const Blocks *bk, ZMap *zm)
{
	int			t;

	memset(zm, 0, sizeof(ZMap));
	for (t = 0; t < bk->k; t++)
	{
		const LmmTermLevels *tl = &s->term[bk->src[t]];
		int			q = tl->q;
		double		sz[LMM_MAX_RANDOM] = {0},
					szz[LMM_MAX_RANDOM] = {0};
		int			i0 = -1,
					far = 0,
					k,
					m = zm->nterms;
		int64_t		j;

		if (q < 2)
			continue;
		for (j = 0; j < tl->nlevels; j++)
		{
			const double *rec = tl->rec + (size_t) j * tl->stride;

			for (k = 0; k < q; k++)
			{
				sz[k] += LMM_TREC_SZ(rec)[k];
				szz[k] += LMM_TREC_ZZ(rec, q)[k * q + k];
			}
		}
		for (k = 0; k < q; k++)
			if (i0 < 0 && sz[k] == s->n && szz[k] == s->n)
				i0 = k;
		if (i0 < 0)
			continue;
		for (k = 0; k < q; k++)
		{
			double		mean = sz[k] / s->n;

			zm->zc[m][k] = mean;
			zm->zs[m][k] = sqrt(fmax(szz[k] / s->n - mean * mean, 0.0));
			if (k != i0 && far_from_scale(zm->zc[m][k], zm->zs[m][k]))
				far = 1;
		}
		for (k = 0; k < q && far; k++)
			if (k != i0 && !(zm->zs[m][k] > 0.0 && isfinite(zm->zs[m][k])))
				far = 0;
		if (!far)
			continue;
		zm->toff[m] = bk->toff[t];
		zm->q[m] = q;
		zm->i0[m] = i0;
		zm->nterms++;
	}
	return zm->nterms;
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

	/* by z column, the intercept's (0) unused */
	for (k = w->g->q - 1; k > 0; k--)
	{
		zc[k] = zc[k - 1];
		zs[k] = zs[k - 1];
	}
	if (status == LMM_OK && !lmm_theta_from_scaled(w->g->q, 0, zc, zs, theta_t, theta))
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

/*
 * The optimum of a several-term fit with the optimizer in standardized z for
 * the terms zm maps: lmm_optimize_theta on the mapped criterion (BOBYQA and
 * its continuation at rounding-level tolerances), its theta carried back to
 * z, and a Newton polish there on the analytic gradient (which is of theta
 * of z).  Same contract as lmm_optimize_theta.
 */
LmmStatus
lmm_mapped_optimum(Work *w, const ZMap *zm, double *theta, double *fmin,
				   int *converged)
{
	int			nt = w->ntheta;
	double	   *theta_t = lmm_alloc(sizeof(double) * nt);
	double	   *lb = lmm_alloc(sizeof(double) * nt);
	LmmStatus	status;
	int			k;

	w->zmap = zm;
	status = lmm_optimize_theta(w, theta_t, fmin, converged);
	w->zmap = NULL;
	lmm_zmap_apply(zm, nt, theta_t, theta);
	if (status == LMM_OK)
	{
		for (k = 0; k < nt; k++)
			lb[k] = lmm_theta_bounded(w->g, k) ? 0.0 : -HUGE_VAL;
		w->n_eval++;
		*fmin = lmm_criterion(w, theta);
		if (isfinite(*fmin))
		{
			lmm_polish(w, lb, theta, fmin);
			lmm_polish_bound(w, lb, theta, fmin);
		}
		if (w->interrupted)
			status = LMM_ERR_INTERRUPTED;
	}
	lmm_free(theta_t);
	lmm_free(lb);
	return status;
}
