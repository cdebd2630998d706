/*
 * lmm_polish.c
 *	  A Newton polish of BOBYQA's optimum on the analytic gradient
 *	  (lmm_gradient.c).
 *
 * Why: BOBYQA stops (at lme4's tolerances) somewhere within about 1e-7 of
 * the optimum on flat criteria, and where exactly depends on the last bits
 * of the statistics, so the same data summed in another order (a parallel
 * plan, merged parts) would give variance components that differ in the
 * seventh digit.  Function values cannot locate the optimum more closely
 * than sqrt(machine epsilon); the gradient can, to about machine epsilon.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/* Newton steps of the polish at most; it normally needs two or three. */
#define POLISH_STEPS 6

/* Nonzero when every entry of v is finite. */
static int
finite_vector(const double *v, int n)
{
	int			k;

	for (k = 0; k < n; k++)
		if (!isfinite(v[k]))
			return 0;
	return 1;
}

/*
 * Newton's method on the gradient from BOBYQA's theta, over the parameters
 * not held at their bound, with a forward-difference Hessian of the
 * analytic gradient (one term, lmm_gradient.c, or several,
 * lmm_blocked_grad.c).  The result replaces theta (and fmin) only when
 * every step stayed feasible and finite and the criterion is no worse;
 * otherwise theta is left as BOBYQA found it.  Returns 1 when the polished
 * theta was taken.
 */
int
lmm_polish(Work *w, const double *lb, double *theta, double *fmin)
{
	int			nt = w->ntheta;
	int		   *free_k = lmm_alloc(sizeof(int) * nt);
	double	   *x = lmm_alloc(sizeof(double) * nt);
	double	   *grad = lmm_alloc(sizeof(double) * nt);
	double	   *gp = lmm_alloc(sizeof(double) * nt);
	double	   *H = NULL;
	double	   *step = NULL;
	double		f,
				last = 0.0;
	int			nf = 0;
	int			ok = 1,
				taken = 0;
	int			a,
				b,
				it;

	for (a = 0; a < nt; a++)
		if (!(lb[a] == 0.0 && theta[a] <= 0.0))
			free_k[nf++] = a;
	if (nf == 0)
		goto done;
	H = lmm_alloc(sizeof(double) * nf * nf);
	step = lmm_alloc(sizeof(double) * nf);
	memcpy(x, theta, sizeof(double) * nt);

	/*
	 * Hessian by forward differences of the gradient from the first Newton
	 * step's own gradient, symmetrized: nf gradients.  Its error, about
	 * 1e-5 relative, only slows the Newton steps' convergence to machine
	 * precision by a step or so; central differences would cost nf more.
	 */
	ok = isfinite(lmm_criterion_grad(w, x, grad)) && finite_vector(grad, nt);
	for (a = 0; a < nf && ok; a++)
	{
		int			k = free_k[a];
		double		h = 1e-5 * fmax(1.0, fabs(x[k]));

		x[k] = theta[k] + h;
		ok = isfinite(lmm_criterion_grad(w, x, gp)) && finite_vector(gp, nt);
		x[k] = theta[k];
		for (b = 0; b < nf && ok; b++)
			H[b * nf + a] = (gp[free_k[b]] - grad[free_k[b]]) / h;
	}
	for (a = 0; a < nf && ok; a++)
		for (b = 0; b < a; b++)
			H[a * nf + b] = H[b * nf + a] = 0.5 * (H[a * nf + b] + H[b * nf + a]);
	ok = ok && lmm_chol_lower(nf, H, 0.0) < 0;

	/* Newton steps with that Hessian until the step is at rounding level */
	for (it = 0; it < POLISH_STEPS && ok; it++)
	{
		double		biggest = 0.0;

		if (it > 0)
			ok = isfinite(lmm_criterion_grad(w, x, grad)) && finite_vector(grad, nt);
		if (!ok)
			break;
		for (a = 0; a < nf; a++)
			step[a] = -grad[free_k[a]];
		lmm_forward_solve(nf, 1, H, step);
		lmm_backward_solve(nf, 1, H, step);
		for (a = 0; a < nf; a++)
		{
			int			k = free_k[a];

			x[k] += step[a];
			if (!isfinite(x[k]) || (lb[k] == 0.0 && x[k] < 0.0))
				ok = 0;
			biggest = fmax(biggest, fabs(step[a]) / fmax(1.0, fabs(x[k])));
		}
		/* done at rounding level, or when the steps stop shrinking (rounding noise) */
		if (biggest < 1e-15 || (it > 0 && biggest > 0.1 * last))
			break;
		last = biggest;
	}

	if (ok && !w->interrupted)
	{
		f = lmm_criterion(w, x);
		/* no worse than BOBYQA's point, allowing for rounding in the criterion */
		if (isfinite(f) && f <= *fmin + 1e-12 * fabs(*fmin))
		{
			memcpy(theta, x, sizeof(double) * nt);
			*fmin = f;
			taken = 1;
		}
	}

done:
	lmm_free(free_k);
	lmm_free(x);
	lmm_free(grad);
	lmm_free(gp);
	lmm_free(H);
	lmm_free(step);
	return taken;
}

/*
 * Where some bounded theta is near its bound (0 < theta < 1e-5, lme4's
 * boundary.tol), the polish with those on the bound (lmm_polish), taken
 * when its criterion is no worse than fmin's (ties at rounding level go to
 * the bound, where the criterion is flat).  Why: BOBYQA and its
 * continuation stop at such a theta or at 0 depending on the last bits of
 * the statistics, and the boundary.tol check compares unpolished criteria;
 * comparing with the polished optimum on the bound makes the choice the
 * same for any order of the sums.  Returns 1 when theta was replaced.
 */
int
lmm_polish_bound(Work *w, const double *lb, double *theta, double *fmin)
{
	int			nt = w->ntheta;
	double	   *probe = lmm_alloc(sizeof(double) * nt);
	double		fp;
	int			near = 0,
				taken = 0,
				k;

	memcpy(probe, theta, sizeof(double) * nt);
	for (k = 0; k < nt; k++)
		if (lb[k] == 0.0 && theta[k] > 0.0 && theta[k] < 1e-5)
		{
			probe[k] = 0.0;
			near = 1;
		}
	if (near && !w->interrupted)
	{
		w->n_eval++;
		fp = lmm_criterion(w, probe);
		if (isfinite(fp) && lmm_polish(w, lb, probe, &fp) &&
			fp <= *fmin + 1e-14 * fabs(*fmin))
		{
			memcpy(theta, probe, sizeof(double) * nt);
			*fmin = fp;
			taken = 1;
		}
	}
	lmm_free(probe);
	return taken;
}

/* The criterion and its gradient at theta, from statistics (for tests and callers). */
LmmStatus
lmm_criterion_gradient(const LmmStats *s, int reml, const double *theta,
					   double *f, double *grad)
{
	Gram		g;
	Work		w;

	lmm_build_gram(s, &g);
	lmm_work_init(&w, &g, reml);
	*f = lmm_criterion_grad(&w, theta, grad);
	lmm_work_free(&w);
	lmm_free_gram(&g);
	return w.interrupted ? LMM_ERR_INTERRUPTED : LMM_OK;
}
