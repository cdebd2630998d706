/*
 * lmm_fit.c
 *	  A fit from its statistics, in stages: build the system (lmm_system.c,
 *	  lmm_blocks.c), check it, optimize theta (lmm_optimize.c, or in
 *	  standardized z, lmm_zscale.c), and assemble the solution at the
 *	  optimum (beta, sigma, the conditional modes and variances, and
 *	  Satterthwaite's ingredients).  Also the core's entry points that
 *	  evaluate the criterion and its derivatives from statistics.
 *
 * All matrices are row-major.
 */
#include "lmm_fit.h"

#include <math.h>
#include <string.h>

#include <lapacke.h>
#include <nlopt.h>

#include "lmm_fit_int.h"
#include "lmm_host.h"

/* Nonzero when every cross-product of the terms after the first is finite. */
static int
blocks_are_finite(const Blocks *bk)
{
	int64_t		e;
	size_t		i;

	for (e = 0; e < bk->ndense; e++)
		for (i = 0; i < (size_t) bk->dense[e].nr * bk->dense[e].nc; i++)
			if (!isfinite(bk->dense[e].val[i]))
				return 0;
	for (e = 0; e < bk->xptr[bk->J[0]]; e++)
		for (i = 0; i < (size_t) bk->q[0] * bk->q[bk->xterm[e]]; i++)
			if (!isfinite(bk->xval[bk->xvoff[e] + i]))
				return 0;
	return 1;
}

/* Nonzero when every cross-product is finite (values near 1e300 overflow their squares). */
static int
gram_is_finite(const Gram *g)
{
	size_t		i;
	size_t		nq = (size_t) g->nlevels * g->q;

	for (i = 0; i < nq * g->q; i++)
		if (!isfinite(g->ZtZ[i]))
			return 0;
	for (i = 0; i < nq * g->p; i++)
		if (!isfinite(g->ZtX[i]))
			return 0;
	for (i = 0; i < nq; i++)
		if (!isfinite(g->Zty[i]))
			return 0;
	for (i = 0; i < (size_t) g->p * g->p; i++)
		if (!isfinite(g->XtX[i]))
			return 0;
	for (i = 0; i < (size_t) g->p; i++)
		if (!isfinite(g->Xty[i]) || !isfinite(g->centre[i]))
			return 0;
	return isfinite(g->yty) && blocks_are_finite(g->blk);
}

/*
 * Check that X has full column rank: Cholesky of the correlation matrix of
 * the centred x columns (of the uncentred ones without an intercept),
 * flagging a column whose part not explained by the earlier ones is below
 * 1e-12 of its variance (lme4 uses a QR tolerance of 1e-7 on the same
 * scale, i.e. 1e-14 here; we are a little stricter).
 */
static LmmStatus
check_rank(const Gram *g, int *bad_column)
{
	int			p = g->p;
	int			f = g->intercept ? 1 : 0;
	int			m = p - f;
	double	   *R;
	int			a,
				b,
				k;
	LmmStatus	status = LMM_OK;

	for (a = f; a < p; a++)
		if (!(g->XtX[a * p + a] > 0.0))
		{
			*bad_column = a;
			return LMM_ERR_CONSTANT_X;
		}
	if (m == 0)
		return LMM_OK;

	R = lmm_alloc(sizeof(double) * m * m);
	for (a = 0; a < m; a++)
		for (b = 0; b < m; b++)
			R[a * m + b] = g->XtX[(a + f) * p + b + f] /
				sqrt(g->XtX[(a + f) * p + a + f] * g->XtX[(b + f) * p + b + f]);
	k = lmm_chol_lower(m, R, 1e-12);
	if (k >= 0)
	{
		*bad_column = k + f;
		status = LMM_ERR_COLLINEAR_X;
	}
	lmm_free(R);
	return status;
}

/*
 * At the optimum: beta, sigma, vcov(beta) and the conditional modes and
 * covariances per level, with beta and vcov moved back to the user's origin.
 */
static void
solve_at_optimum(Work *w, const double *theta, LmmFit *fit)
{
	const Gram *g = w->g;
	int			p = g->p;
	double	   *betac = lmm_alloc(sizeof(double) * p);
	double		sigma2;

	fit->criterion = lmm_criterion(w, theta);
	lmm_solve_beta(w, betac);
	sigma2 = w->pwrss / (w->reml ? g->n - p : g->n);
	fit->sigma = sqrt(sigma2);
	lmm_beta_user(g, betac, fit->beta);
	lmm_vcov_user(w, sigma2, fit->vcov);
	lmm_blocked_modes(w, betac, sigma2, fit);
	lmm_free(betac);
}

/*
 * What fit_gram releases on every way out: the system in standardized z
 * (when zsys is not NULL) and the theta it was fitted at, the work and the
 * cross-products.
 */
static void
release_fit(ZScaled *zsys, double *theta_t, Work *w, Gram *g)
{
	if (zsys != NULL)
	{
		lmm_zscale_end(zsys);
		lmm_free(theta_t);
	}
	lmm_work_free(w);
	lmm_blocked_free(g, g->blk);
}

/*
 * The fit proper, from the cross-products (which it releases): checks,
 * optimization, the solution at the optimum, Satterthwaite's ingredients
 * only when with_df (a refit for a likelihood-ratio test or a profile does
 * not need them) and only while their Jacobian stays below 2^24 doubles.
 * Where random slopes are far from their intercept's scale (lmm_zscale.c)
 * all of it is done on the system in standardized z (at theta_t), and
 * theta, the modes and Satterthwaite's ingredients are mapped to z; beta,
 * sigma, their covariance and the criterion are the same in both.
 */
static LmmStatus
fit_gram(Gram *g, const LmmTermStats *s, int reml, int with_df, LmmFit *fit)
{
	Work		w;
	ZMap		zm;
	ZScaled		zsys;
	ZScaled    *zp = NULL;
	LmmStatus	status;
	int			p = g->p;
	int			nt;
	double		fmin;
	double	   *theta_t;
	int			converged = 0;
	int			k,
				t;

	if (!gram_is_finite(g))
		status = LMM_ERR_NONFINITE;
	else if (!(g->yty > 0.0))
		status = LMM_ERR_CONSTANT_Y;
	else
		status = check_rank(g, &fit->bad_column);
	if (status != LMM_OK)
	{
		lmm_blocked_free(g, g->blk);
		return status;
	}

	lmm_work_init(&w, g, reml);
	nt = fit->ntheta = w.ntheta;
	fit->theta = theta_t = lmm_alloc(sizeof(double) * nt);
	if (lmm_zmap_terms(s, g->blk, &zm) > 0)
	{
		zp = &zsys;
		lmm_zscale_begin(&w, &zm, zp);
		theta_t = lmm_alloc(sizeof(double) * nt);
	}
	status = lmm_optimize_theta(&w, theta_t, &fmin, &converged);
	fit->n_eval = w.n_eval;
	if (zp != NULL)
	{
		lmm_zmap_apply(&zm, nt, theta_t, fit->theta);
		for (k = 0; k < nt && status == LMM_OK; k++)
			if (!isfinite(fit->theta[k]))
				status = LMM_ERR_OPTIMIZER;
	}
	if (status == LMM_OK && w.not_pd)
		status = LMM_ERR_INCONSISTENT;
	else if (status == LMM_OK && !isfinite(fmin))
		status = LMM_ERR_PERFECT_FIT;
	if (status != LMM_OK)
	{
		lmm_free(fit->theta);
		fit->theta = NULL;
		release_fit(zp, theta_t, &w, g);
		return status;
	}

	fit->beta = lmm_alloc(sizeof(double) * p);
	fit->vcov = lmm_alloc(sizeof(double) * p * p);
	for (t = 0; t < fit->nterms; t++)
	{
		LmmFitTerm *ft = &fit->term[t];

		ft->b = lmm_alloc(sizeof(double) * (size_t) ft->nlevels * ft->q);
		ft->condvar = lmm_alloc(sizeof(double) * (size_t) ft->nlevels * ft->q * ft->q);
	}
	fit->b = fit->term[0].b;
	fit->condvar = fit->term[0].condvar;
	solve_at_optimum(&w, theta_t, fit);
	if (w.interrupted || w.not_pd || !isfinite(fit->criterion) ||
		w.pwrss <= 1e-12 * g->yty)
	{
		status = w.interrupted ? LMM_ERR_INTERRUPTED :
			w.not_pd ? LMM_ERR_INCONSISTENT : LMM_ERR_PERFECT_FIT;
		lmm_fit_free(fit);
		release_fit(zp, theta_t, &w, g);
		return status;
	}
	if (zp != NULL)
		lmm_zmap_modes(&zm, fit);

	/* what Satterthwaite's df need, once per fit (lmm_satt.c) */
	fit->ninf = (with_df && (size_t) (nt + 1) * p * p <= ((size_t) 1 << 24)) ? nt + 1 : 0;
	if (fit->ninf > 0)
	{
		fit->vcov_varpar = lmm_alloc(sizeof(double) * fit->ninf * fit->ninf);
		fit->jac = lmm_alloc(sizeof(double) * fit->ninf * p * p);
		if (!lmm_satterthwaite(&w, theta_t, fit->sigma, fit->vcov_varpar, fit->jac) ||
			(zp != NULL && !lmm_zmap_inference(&zm, &w, theta_t, p, fit->ninf,
											   fit->vcov_varpar, fit->jac)))
			fit->ninf = 0;
	}
	if (w.interrupted)
	{
		lmm_fit_free(fit);
		release_fit(zp, theta_t, &w, g);
		return LMM_ERR_INTERRUPTED;
	}

	fit->n_eval = w.n_eval;
	fit->converged = converged;
	fit->singular = 0;
	/* judged in standardized z, where it does not depend on z's units */
	for (k = 0; k < nt; k++)
		if (lmm_theta_bounded(g, k) && theta_t[k] < LMM_SINGULAR_TOL)
			fit->singular = 1;
	fit->loglik = -fit->criterion / 2.0;
	fit->aic = fit->criterion + 2.0 * (p + nt + 1);
	fit->bic = fit->criterion + (p + nt + 1) * log(g->n);

	release_fit(zp, theta_t, &w, g);
	return LMM_OK;
}

/*
 * Fit the model of the statistics (k >= 1 terms, lmm_terms.h) by REML
 * (reml != 0) or ML, with Satterthwaite's ingredients only when with_df.
 * The fit's terms are in lme4's order; term[t].src names the statistics'
 * term, as fit->bad_term does on an error about one term.  On LMM_OK the
 * caller owns fit's arrays (lmm_fit_free); on an error nothing is left
 * allocated, fit->bad_column may name the offending x column and
 * fit->n_eval counts the evaluations made.
 */
LmmStatus
lmm_fit(const LmmTermStats *s, int reml, int with_df, LmmFit *fit)
{
	Gram		g;
	Blocks	   *bk = lmm_alloc0(sizeof(Blocks));
	LmmStatus	status;
	int			t;

	memset(fit, 0, sizeof(LmmFit));
	fit->p = s->p;
	fit->reml = reml;
	fit->n = s->n;
	fit->bad_term = -1;
	status = lmm_blocked_build(s, &g, bk, &fit->bad_term);
	fit->factor_bytes = bk->need;
	fit->factor_sparse = bk->sp != NULL;
	if (status != LMM_OK)
	{
		lmm_blocked_free(&g, bk);
		lmm_free(bk);
		return status;
	}
	fit->q = bk->q[0];
	fit->nlevels = bk->J[0];
	fit->nterms = bk->k;
	for (t = 0; t < bk->k; t++)
	{
		fit->term[t].src = bk->src[t];
		fit->term[t].q = bk->q[t];
		fit->term[t].nlevels = bk->J[t];
	}
	status = fit_gram(&g, s, reml, with_df, fit);
	lmm_free(bk);
	return status;
}

/* Release what a successful lmm_fit allocated. */
void
lmm_fit_free(LmmFit *fit)
{
	int			t;

	lmm_free(fit->beta);
	lmm_free(fit->vcov);
	lmm_free(fit->theta);
	lmm_free(fit->b);
	lmm_free(fit->condvar);
	lmm_free(fit->vcov_varpar);
	lmm_free(fit->jac);
	for (t = 1; t < fit->nterms; t++)
	{
		lmm_free(fit->term[t].b);
		lmm_free(fit->term[t].condvar);
		fit->term[t].b = fit->term[t].condvar = NULL;
	}
	fit->term[0].b = fit->term[0].condvar = NULL;
	fit->beta = fit->vcov = fit->theta = fit->b = fit->condvar = NULL;
	fit->vcov_varpar = fit->jac = NULL;
}

/*
 * The criterion, its gradient and, when hess is not NULL, its Hessian
 * (ntheta x ntheta; needs every theta nonzero) at theta (in lme4's term
 * order) from statistics, for tests; the Hessian needs every term scalar
 * (LMM_ERR_INCONSISTENT otherwise).
 */
static LmmStatus
terms_derivatives(const LmmTermStats *s, int reml, const double *theta,
				  double *f, double *grad, double *hess)
{
	Gram		g;
	Blocks	   *bk = lmm_alloc0(sizeof(Blocks));
	Work		w;
	int			bad_term = -1;
	LmmStatus	status = lmm_blocked_build(s, &g, bk, &bad_term);

	if (status == LMM_OK && hess != NULL && !lmm_blocked_scalar(bk))
		status = LMM_ERR_INCONSISTENT;
	if (status == LMM_OK)
	{
		lmm_work_init(&w, &g, reml);
		*f = hess != NULL ?
			lmm_blocked_hess_at(&w, theta, lmm_criterion(&w, theta), grad, hess) :
			lmm_criterion_grad(&w, theta, grad);
		if (w.interrupted)
			status = LMM_ERR_INTERRUPTED;
		lmm_work_free(&w);
	}
	lmm_blocked_free(&g, bk);
	lmm_free(bk);
	return status;
}

/* The criterion and its gradient (terms_derivatives), for tests. */
LmmStatus
lmm_criterion_gradient(const LmmTermStats *s, int reml, const double *theta,
							 double *f, double *grad)
{
	return terms_derivatives(s, reml, theta, f, grad, NULL);
}

/* The criterion, its gradient and its Hessian (terms_derivatives), for tests. */
LmmStatus
lmm_criterion_hessian(const LmmTermStats *s, int reml, const double *theta,
							double *f, double *grad, double *hess)
{
	return terms_derivatives(s, reml, theta, f, grad, hess);
}
