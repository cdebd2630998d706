/*
 * lmm_deriv.c
 *	  The derivatives of the profiled criterion at theta, for any model:
 *	  the gradient (and the Hessian where it is derived, every term
 *	  scalar), from the kernel the factor's shape calls for (lmm_derivs).
 *
 *	  L block-diagonal (no dense part, m = 0), any q
 *						lmm_gradient (lmm_gradient.c), the per-level
 *						kernels; holds at a singular T
 *	  every term scalar	lmm_blocked_gradient_parts (lmm_blocked_grad.c), with
 *						the analytic Hessian (lmm_blocked_hess.c), which
 *						needs every theta nonzero
 *	  a vector term		lmm_blocked_vgradient_parts (lmm_blocked_vgrad.c),
 *	  and a dense part	and at a singular T lmm_blocked_singular_grad below
 *
 * The criterion is f = ld + nu log pwrss (nu = n - p for REML, n for ML),
 * so its gradient is dld + nu dpw / pwrss from the parts each kernel gives.
 *
 * Where some vector term's T is singular (a diagonal of theta at its bound
 * 0) the vector identities do not hold, but the criterion is smooth there
 * and even in each column of T_k: flipping the sign of column c leaves
 * Lambda Lambda' unchanged.  So lmm_blocked_singular_grad evaluates the
 * gradient with each zero diagonal at +delta and at -delta (T_k invertible
 * both times) and averages: the O(delta) terms cancel, leaving O(delta^2),
 * which Richardson's extrapolation with 2 delta removes too (four gradients
 * in all).  delta = 1e-4 of the term's largest theta keeps the 1/delta
 * entries of T_k^-1 harmless; test_vgrad.c checks the result against
 * five-point differences of the criterion.
 */
#include <math.h>
#include <string.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_infer.h"

/* The zero diagonals' offset in lmm_blocked_singular_grad, relative to the term's scale. */
#define SINGULAR_DELTA 1e-4

/* Which derivatives the factor's shape offers (see the header). */
LmmDerivs
lmm_derivs(const Blocks *bk)
{
	if (bk->m == 0)
		return LMM_DERIVS_LEVELS;
	return lmm_blocked_scalar(bk) ? LMM_DERIVS_HESSIAN : LMM_DERIVS_VECTOR;
}

/*
 * The criterion at theta, with the derivatives of its log-determinant part
 * and of pwrss by each theta_k, from the kernel lmm_derivs names.  Leaves w
 * as lmm_criterion does.  Returns HUGE_VAL where the criterion is
 * undefined, or on interrupt.
 */
double
lmm_blocked_gradient(Work *w, const double *theta, double *dld, double *dpw)
{
	double		f = lmm_criterion(w, theta);

	if (lmm_derivs(w->g->blk) == LMM_DERIVS_LEVELS)
		return lmm_gradient(w, f, dld, dpw);
	return lmm_blocked_gradient_parts(w, theta, f, dld, dpw, NULL);
}

/* The gradient of the criterion (ntheta entries) at the theta last evaluated, whose value is f. */
double
lmm_blocked_grad_at(Work *w, const double *theta, double f, double *grad)
{
	double	   *dld = lmm_alloc(sizeof(double) * 2 * w->ntheta);
	double	   *dpw = dld + w->ntheta;
	double		nu = w->reml ? w->g->n - w->g->p : w->g->n;
	int			k;

	f = lmm_derivs(w->g->blk) == LMM_DERIVS_LEVELS ? lmm_gradient(w, f, dld, dpw) :
		lmm_blocked_gradient_parts(w, theta, f, dld, dpw, NULL);
	for (k = 0; k < w->ntheta && isfinite(f); k++)
		grad[k] = dld[k] + nu * dpw[k] / w->pwrss;
	lmm_free(dld);
	return f;
}

/*
 * The profiled criterion at theta and its gradient (ntheta entries); where
 * a vector term's T is singular, by lmm_blocked_singular_grad.
 */
double
lmm_criterion_grad(Work *w, const double *theta, double *grad)
{
	if (lmm_blocked_singular(w, theta))
		return lmm_blocked_singular_grad(w, theta, grad);
	return lmm_blocked_grad_at(w, theta, lmm_criterion(w, theta), grad);
}

/*
 * g and B as lmm_blocked_hess_at, B by central differences of the analytic
 * gradient (step 1e-5 |theta_a|, O(h^2): about 1e-10 relative), for the
 * sparse path (lmm_sparse.c), whose S^-1 holds only the entries in M's
 * pattern where the analytic Hessian needs all.  Every theta nonzero, as
 * the analytic Hessian needs.  Leaves w at theta.
 */
static double
hess_by_differences(Work *w, const double *theta, double f, double *g, double *B)
{
	int			n = w->ntheta;
	double		x[LMM_MAX_TERMS],
				gp[LMM_MAX_TERMS],
				gm[LMM_MAX_TERMS];
	int			a,
				b,
				ok;

	for (a = 0; a < n; a++)
		if (theta[a] == 0.0)
			return HUGE_VAL;
	ok = isfinite(lmm_blocked_grad_at(w, theta, f, g));
	memcpy(x, theta, sizeof(double) * n);
	for (a = 0; a < n && ok; a++)
	{
		double		h = 1e-5 * fabs(theta[a]);

		x[a] = theta[a] + h;
		ok = isfinite(lmm_criterion_grad(w, x, gp));
		x[a] = theta[a] - h;
		ok = ok && isfinite(lmm_criterion_grad(w, x, gm));
		x[a] = theta[a];
		for (b = 0; b < n && ok; b++)
			B[b * n + a] = (gp[b] - gm[b]) / (2.0 * h);
	}
	for (a = 0; a < n && ok; a++)
		for (b = 0; b < a; b++)
			B[a * n + b] = B[b * n + a] = 0.5 * (B[a * n + b] + B[b * n + a]);
	if (!isfinite(lmm_criterion(w, theta)) || !ok)
		return HUGE_VAL;
	return f;
}

/*
 * The gradient g and the Hessian B of the criterion at theta (all entries
 * nonzero), where it was last evaluated (its value being f), from the
 * analytic second derivatives (lmm_blocked_hessian):
 *	 f = ld + nu log pwrss, so B = d2ld + nu (d2pw / pwrss - dpw dpw' / pwrss^2).
 * Returns f, HUGE_VAL when the Hessian is not available.
 */
double
lmm_blocked_hess_at(Work *w, const double *theta, double f, double *g, double *B)
{
	int			n = w->ntheta;
	int			p = w->g->p;
	double		nu = w->reml ? w->g->n - p : w->g->n;
	double		dld[LMM_MAX_TERMS],
				dpw[LMM_MAX_TERMS],
				d2ld[LMM_MAX_TERMS * LMM_MAX_TERMS],
				d2pw[LMM_MAX_TERMS * LMM_MAX_TERMS];
	double	   *dV = lmm_alloc(sizeof(double) * n * p * p);
	int			a,
				b,
				ok;

	ok = lmm_blocked_hessian(w, theta, f, dld, dpw, d2ld, d2pw, dV);
	lmm_free(dV);
	if (!ok && w->g->blk->sp != NULL && !w->interrupted)
		return hess_by_differences(w, theta, f, g, B);
	if (!ok)
		return HUGE_VAL;
	for (a = 0; a < n; a++)
	{
		g[a] = dld[a] + nu * dpw[a] / w->pwrss;
		for (b = 0; b < n; b++)
			B[a * n + b] = d2ld[a * n + b] + nu * (d2pw[a * n + b] / w->pwrss -
												   dpw[a] * dpw[b] / (w->pwrss * w->pwrss));
	}
	return f;
}

/*
 * Nonzero when some diagonal of theta is 0 (on its bound) in a fit with a
 * vector-valued term and a dense part, where lmm_blocked_vgradient_parts
 * is undefined (lmm_gradient holds at a singular T).
 */
int
lmm_blocked_singular(const Work *w, const double *theta)
{
	int			k;

	if (lmm_derivs(w->g->blk) != LMM_DERIVS_VECTOR)
		return 0;
	for (k = 0; k < w->ntheta; k++)
		if (theta[k] == 0.0 && lmm_theta_bounded(w->g, k))
			return 1;
	return 0;
}

/*
 * The mean of the gradients (ntheta entries) at theta with its zero bounded
 * diagonals at +h and at -h, h being delta times their term's scale.
 */
static double
mirrored_grad(Work *w, const double *theta, const double *scale, double delta,
			  double *grad)
{
	int			nt = w->ntheta;
	double	   *x = lmm_alloc(sizeof(double) * 2 * nt);
	double	   *gm = x + nt;
	double		f;
	int			k;

	memcpy(x, theta, sizeof(double) * nt);
	for (k = 0; k < nt; k++)
		if (scale[k] > 0.0)
			x[k] = delta * scale[k];
	f = lmm_criterion_grad(w, x, grad);
	for (k = 0; k < nt; k++)
		if (scale[k] > 0.0)
			x[k] = -x[k];
	if (isfinite(f))
		f = lmm_criterion_grad(w, x, gm);
	for (k = 0; k < nt && isfinite(f); k++)
		grad[k] = 0.5 * (grad[k] + gm[k]);
	lmm_free(x);
	return f;
}

/*
 * The criterion at a singular theta (lmm_blocked_singular) and its gradient
 * (ntheta entries): (4 g(delta) - g(2 delta)) / 3 of the mirrored gradients
 * (see the header).  Leaves w at theta.  Returns the criterion, or
 * HUGE_VAL / NAN where a gradient is undefined.
 */
double
lmm_blocked_singular_grad(Work *w, const double *theta, double *grad)
{
	const Blocks *bk = w->g->blk;
	int			nt = w->ntheta;
	double	   *scale = lmm_alloc0(sizeof(double) * 2 * nt);
	double	   *g2 = scale + nt;
	double		f;
	int			t,
				k;

	for (t = 0; t < bk->k; t++)
	{
		int			n = bk->q[t] * (bk->q[t] + 1) / 2;
		double		s = 0.0;

		for (k = bk->toff[t]; k < bk->toff[t] + n; k++)
			s = fmax(s, fabs(theta[k]));
		for (k = bk->toff[t]; k < bk->toff[t] + n; k++)
			if (theta[k] == 0.0 && lmm_theta_bounded(w->g, k))
				scale[k] = s > 0.0 ? s : 1.0;
	}
	f = mirrored_grad(w, theta, scale, SINGULAR_DELTA, grad);
	if (isfinite(f))
		f = mirrored_grad(w, theta, scale, 2.0 * SINGULAR_DELTA, g2);
	for (k = 0; k < nt && isfinite(f); k++)
		grad[k] = (4.0 * grad[k] - g2[k]) / 3.0;
	if (isfinite(f))
		f = lmm_criterion(w, theta);
	lmm_free(scale);
	return f;
}

