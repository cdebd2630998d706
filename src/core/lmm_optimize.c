/*
 * lmm_optimize.c
 *	  The search for the optimum of the profiled criterion over theta.
 *
 * The strategy is picked from a table by what the derivatives offer
 * (lmm_derivs), never by the kind of model:
 *	  per-level gradient	BFGS in log theta from the Hessian by
 *							differences, then a Newton polish on the
 *							analytic gradient (lmm_polish); where that is not
 *							taken (bfgs_taken), BOBYQA with lme4's settings,
 *							restarted from the bounds it stops on, and the
 *							polish;
 *	  analytic Hessian		BFGS in log theta from the analytic Hessian,
 *							then Newton steps on it (bfgs); a
 *							polish of the free parameters when one is on its
 *							bound;
 *	  vector gradient		BOBYQA and the polish, BOBYQA again at rounding
 *							tolerances where the polish fails, then the
 *							polish on the bound (lmm_polish_bound).
 * For badly scaled z columns it runs on the system in standardized z, a
 * reparametrization of theta (lmm_zscale.c).
 *
 * Why polish: BOBYQA stops (at lme4's tolerances) somewhere within about
 * 1e-7 of the optimum on flat criteria, and where exactly depends on the
 * last bits of the statistics, so the same data summed in another order (a
 * parallel plan, merged parts) would give variance components that differ
 * in the seventh digit.  Function values cannot locate the optimum more
 * closely than sqrt(machine epsilon); the gradient can, to about machine
 * epsilon.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>
#include <nlopt.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/* Newton steps of the polish at most; it normally needs two or three. */
#define POLISH_STEPS 6

/*
 * BFGS iterations at most, and the largest step in any log theta: a theta
 * changes at most tenfold a step.
 */
#define BFGS_MAX_ITER	200
#define BFGS_MAX_STEP	2.302585092994046	/* log 10 */

/*
 * Parameters BFGS works on at most: every scalar term's (at most
 * LMM_MAX_TERMS), or one term's of at most three effects (six).
 */
#define BFGS_MAX_THETA	LMM_MAX_TERMS

/* BOBYQA evaluations of a fit between two looks along the ray of the best theta. */
#define RAY_EVERY(ntheta) (100 * ((ntheta) + 1))

/* Points c theta, c = 4, 16, ..., 4^RAY_STEPS, that a look along the ray may take. */
#define RAY_STEPS 16

/* How a fit searches for its optimum, by what its derivatives offer. */
typedef struct Strategy
{
	int			bfgs;			/* first run: BFGS on the Hessian, else BOBYQA */
	int			polish;			/* 1: always; 2: only with a theta on its bound */
	int			tight;			/* BOBYQA at rounding tolerances if the polish fails */
	int			bound;			/* lmm_polish_bound after */
} Strategy;

static const Strategy strategies[] = {
	[LMM_DERIVS_LEVELS] = {0, 1, 0, 0},
	[LMM_DERIVS_HESSIAN] = {1, 2, 0, 0},
	[LMM_DERIVS_VECTOR] = {0, 1, 1, 1},
};

/* One term's first search: BFGS in log theta, then the polish. */
static const Strategy levels_bfgs = {1, 1, 0, 0};

static int	bfgs(Work *w, double *theta, double *fmin);

/* One BOBYQA run: its best point so far. */
typedef struct BobyqaRun
{
	Work	   *w;
	double		fbest;
	double	   *best;			/* ntheta */
} BobyqaRun;

/*
 * Nonzero when, along the ray c theta (c = 4, 16, ...), the criterion
 * reaches a point whose penalized residual is at most 1e-12 of y'y (what
 * fit_gram refuses as an exact fit) and whose criterion is below fbest.
 * Why: where the fixed and random effects can reproduce y, the criterion
 * may keep falling as theta grows without bound, towards zero residual
 * variance, and BOBYQA follows it one small step at a time for as long as
 * its tolerances allow.  The look stops as soon as the residual falls more
 * slowly than it does when y is reproduced (as 1 / c^2), so that a fit
 * with a residual spends few evaluations on it, or when the criterion is
 * no longer finite that far out; a level found not positive definite there
 * is rounding, not the statistics, and is forgotten.
 */
static int
tends_to_exact(Work *w, const double *theta, double fbest)
{
	int			nt = w->ntheta;
	int			not_pd = w->not_pd;
	double	   *ray = lmm_alloc(sizeof(double) * nt);
	double		c = 1.0,
				last = HUGE_VAL;
	int			found = 0,
				step,
				k;

	for (step = 0; step < RAY_STEPS && !found && !w->interrupted; step++)
	{
		double		f;

		c *= 4.0;
		for (k = 0; k < nt; k++)
			ray[k] = c * theta[k];
		w->n_eval++;
		f = lmm_criterion(w, ray);
		if (!isfinite(f) || !(w->pwrss < 0.25 * last))
			break;
		last = w->pwrss;
		found = w->pwrss <= 1e-12 * w->g->yty && f < fbest;
	}
	w->not_pd = not_pd;
	lmm_free(ray);
	return found;
}

/*
 * NLopt's view of the criterion: counts evaluations, stops on interrupts,
 * and every RAY_EVERY evaluations of the fit looks along the ray of the
 * run's best theta (once the run has one), stopping with w->exact set when
 * the fit tends to zero residual there (tends_to_exact).
 */
static double
nlopt_criterion(unsigned n, const double *theta, double *grad, void *data)
{
	BobyqaRun  *run = data;
	Work	   *w = run->w;
	double		f;

	(void) grad;
	if (w->n_bobyqa > 0 && w->n_bobyqa % RAY_EVERY(w->ntheta) == 0 &&
		run->fbest < HUGE_VAL && tends_to_exact(w, run->best, run->fbest))
	{
		w->exact = 1;
		nlopt_force_stop(w->opt);
		return run->fbest;
	}
	w->n_bobyqa++;
	w->n_eval++;
	f = lmm_criterion(w, theta);
	if (f < run->fbest)
	{
		run->fbest = f;
		memcpy(run->best, theta, sizeof(double) * n);
	}
	if (w->interrupted && w->opt != NULL)
		nlopt_force_stop(w->opt);
	return f;
}

/*
 * One BOBYQA run from theta with lme4's nloptwrap settings (xtol_abs =
 * ftol_abs = tol = 1e-8), or tighter; returns NLopt's code.
 */
static nlopt_result
run_bobyqa(Work *w, const double *lb, double *theta, double *fmin, double tol)
{
	nlopt_opt	opt = nlopt_create(NLOPT_LN_BOBYQA, (unsigned) w->ntheta);
	BobyqaRun	run = {w, HUGE_VAL, NULL};
	nlopt_result res;

	if (opt == NULL)
		return NLOPT_OUT_OF_MEMORY;
	run.best = lmm_alloc(sizeof(double) * w->ntheta);
	memcpy(run.best, theta, sizeof(double) * w->ntheta);
	nlopt_set_lower_bounds(opt, lb);
	nlopt_set_min_objective(opt, nlopt_criterion, &run);
	nlopt_set_xtol_abs1(opt, tol);
	nlopt_set_ftol_abs(opt, tol);
	nlopt_set_maxeval(opt, 100000);
	w->opt = opt;
	res = nlopt_optimize(opt, theta, fmin);
	w->opt = NULL;
	nlopt_destroy(opt);
	lmm_free(run.best);
	return res;
}

/*
 * The optimizer's run from theta: the strategy's BFGS, or BOBYQA as lme4
 * (stopping at tol).
 */
static nlopt_result
first_run(Work *w, const Strategy *st, const double *lb, double *theta,
		  double *fmin, double tol)
{
	if (st->bfgs)
	{
		int			r = bfgs(w, theta, fmin);

		return r > 0 ? NLOPT_SUCCESS : r == 0 ? NLOPT_MAXEVAL_REACHED : NLOPT_FORCED_STOP;
	}
	return run_bobyqa(w, lb, theta, fmin, tol);
}

/* Nonzero when some of the n entries of theta is 0. */
static int
has_zero(const double *theta, int n)
{
	int			k;

	for (k = 0; k < n; k++)
		if (theta[k] == 0.0)
			return 1;
	return 0;
}

/*
 * BOBYQA's stopping tolerance (xtol_abs) in the first search of a strategy
 * that always polishes: the Newton polish converges from within about 1e-5
 * of the optimum as well as from within 1e-8, and BOBYQA spends a third or
 * more of its evaluations on the last three digits.  Where that polish
 * fails, the search runs again at lme4's 1e-8.
 */
#define LOOSE_TOL 1e-5

/*
 * One search, as lme4's lmer does by default: BOBYQA from T = I stopping
 * at xtol_abs = ftol_abs = tol (lme4: 1e-8, so that we follow its path and
 * stop where it stops), or BFGS from the moments' start (lmm_start.c: it
 * needs no path to follow, and from T = I spends half its iterations
 * getting near the optimum), a restart when a parameter sits on its bound but
 * the criterion falls towards the interior (restart_edge), and then
 * near-bound parameters moved onto the bound when that is better
 * (boundary.tol = 1e-5); then the strategy's polish.  *polished tells
 * whether the Newton polish was taken.
 */
static LmmStatus
search(Work *w, const Strategy *st, double tol, double *theta, double *fmin,
	   int *converged, int *polished)
{
	int			nt = w->ntheta;
	double	   *lb = lmm_alloc(sizeof(double) * nt);
	double	   *probe = lmm_alloc(sizeof(double) * nt);
	double		f0 = 0.0;
	int			k,
				restart = 0;
	nlopt_result res;
	LmmStatus	status = LMM_OK;

	*polished = 0;
	for (k = 0; k < nt; k++)
	{
		int			diag = lmm_theta_bounded(w->g, k);

		lb[k] = diag ? 0.0 : -HUGE_VAL;
		theta[k] = diag ? 1.0 : 0.0;
	}
	if (st->bfgs)
		lmm_start_theta(w, theta);

	res = first_run(w, st, lb, theta, fmin, tol);

	/* restart_edge: a bound parameter whose one-sided slope is negative */
	for (k = 0; k < nt && !w->interrupted && res > 0; k++)
	{
		if (lb[k] == 0.0 && theta[k] == 0.0)
		{
			if (!restart)
			{
				w->n_eval++;
				f0 = lmm_criterion(w, theta);
			}
			memcpy(probe, theta, sizeof(double) * nt);
			probe[k] = 1e-5;
			w->n_eval++;
			if ((lmm_criterion(w, probe) - f0) / 1e-5 < 0.0)
				restart = 1;
		}
	}
	if (restart && !w->interrupted)
		res = first_run(w, st, lb, theta, fmin, tol);

	if (w->interrupted)
		status = LMM_ERR_INTERRUPTED;
	else if (w->exact)
		status = LMM_ERR_PERFECT_FIT;
	else if (res < 0 && res != NLOPT_ROUNDOFF_LIMITED)
		status = LMM_ERR_OPTIMIZER;
	*converged = (res > 0 && res != NLOPT_MAXEVAL_REACHED &&
				  res != NLOPT_MAXTIME_REACHED);

	/* boundary.tol: try each near-bound parameter on its bound */
	if (status == LMM_OK)
	{
		double		fopt = *fmin;

		memcpy(probe, theta, sizeof(double) * nt);
		for (k = 0; k < nt; k++)
		{
			if (lb[k] == 0.0 && theta[k] > 0.0 && theta[k] < 1e-5)
			{
				double		keep = probe[k];

				probe[k] = 0.0;
				w->n_eval++;
				/* ties at rounding level go to the bound: the criterion is flat there */
				if (lmm_criterion(w, probe) <= fopt + 1e-14 * fabs(fopt))
					continue;
				probe[k] = keep;
			}
		}
		if (memcmp(probe, theta, sizeof(double) * nt) != 0)
		{
			memcpy(theta, probe, sizeof(double) * nt);
			*fmin = lmm_criterion(w, theta);
		}
		if (w->interrupted)
			status = LMM_ERR_INTERRUPTED;
	}
	/*
	 * Newton polish on the analytic gradient: the optimum to rounding level
	 * (a singular T too, over the thetas off their bound).  BFGS polished
	 * with Newton steps on the exact Hessian, which needs every theta
	 * nonzero; where one is 0 (on its bound: a singular fit), the others are
	 * polished here.  Where the polish fails with a vector term (the optimum
	 * is on a bound BOBYQA did not reach), BOBYQA goes on from its optimum
	 * with tolerances at rounding level instead; near-bound thetas are then
	 * tried on their bound, polished (lmm_polish_bound).
	 */
	if (status == LMM_OK && (st->polish == 1 || has_zero(theta, nt)))
		*polished = lmm_polish(w, lb, theta, fmin);
	if (status == LMM_OK && st->polish == 1 && !*polished && st->tight)
	{
		double		f = *fmin;

		memcpy(probe, theta, sizeof(double) * nt);
		if (run_bobyqa(w, lb, probe, &f, 1e-12) > 0 && f <= *fmin)
		{
			memcpy(theta, probe, sizeof(double) * nt);
			*fmin = f;
		}
		*fmin = lmm_criterion(w, theta);
	}
	if (status == LMM_OK && st->bound)
		lmm_polish_bound(w, lb, theta, fmin);
	if (status == LMM_OK && w->interrupted)
		status = LMM_ERR_INTERRUPTED;
	else if (status == LMM_OK && w->exact)
		status = LMM_ERR_PERFECT_FIT;
	lmm_free(lb);
	lmm_free(probe);
	return status;
}

/*
 * Nonzero when a bounded theta is within 10 LOOSE_TOL of its bound (or on
 * it): there a search stopped at LOOSE_TOL may settle on the bound (by the
 * boundary.tol test) where lme4's tolerances end in the interior, or the
 * other way round, so the loose search's answer is not taken.  A perfect
 * fit is found at the same evaluation either way (the paths agree until
 * the loose one stops).
 */
static int
near_bound(Work *w, const double *theta)
{
	int			k;

	for (k = 0; k < w->ntheta; k++)
		if (lmm_theta_bounded(w->g, k) && theta[k] < 10.0 * LOOSE_TOL)
			return 1;
	return 0;
}

/*
 * Nonzero when a one-term search by BFGS ended where its answer can be
 * taken: the polish reached the optimum, no bounded theta is near its bound
 * (there lme4's BOBYQA and the boundary.tol test decide, see near_bound)
 * and no theta ran off towards a perfect fit (which BOBYQA's look along
 * the ray of theta detects).
 */
static int
bfgs_taken(Work *w, const double *theta, LmmStatus status, int polished)
{
	int			k;

	if (status != LMM_OK || !polished || near_bound(w, theta))
		return 0;
	for (k = 0; k < w->ntheta; k++)
		if (fabs(theta[k]) > 1e4)
			return 0;
	return 1;
}

/* Forget what a search that is not taken left in w. */
static void
forget_search(Work *w)
{
	w->known_grad = 0;
	w->exact = 0;
	w->not_pd = 0;
	w->n_bobyqa = 0;
}

/*
 * Minimize the criterion over theta (search).  Where the polish always
 * runs and has no fallback of its own (one term): first BFGS in log theta
 * on the analytic gradient (for at most three effects), whose answer stands
 * where bfgs_taken says so; then BOBYQA stopping at LOOSE_TOL, whose answer
 * stands where the polish took it to the optimum away from the bounds; and
 * otherwise the search is made again from the start at lme4's tolerances,
 * so that a fit whose optimum the polish cannot reach (on a bound BOBYQA
 * had not yet found) ends where lme4's would.
 */
LmmStatus
lmm_optimize_theta(Work *w, double *theta, double *fmin, int *converged)
{
	const Strategy *st = &strategies[lmm_derivs(w->g->blk)];
	LmmStatus	status;
	int			polished;

	if (st->polish == 1 && !st->bfgs && !st->tight)
	{
		if (w->ntheta <= BFGS_MAX_THETA)
		{
			status = search(w, &levels_bfgs, LOOSE_TOL, theta, fmin, converged, &polished);
			if (bfgs_taken(w, theta, status, polished) || status == LMM_ERR_INTERRUPTED)
				return status;
			forget_search(w);
		}
		status = search(w, st, LOOSE_TOL, theta, fmin, converged, &polished);
		if ((status == LMM_OK && polished && !near_bound(w, theta)) ||
			status == LMM_ERR_INTERRUPTED || status == LMM_ERR_PERFECT_FIT)
			return status;
		forget_search(w);
	}
	return search(w, st, 1e-8, theta, fmin, converged, &polished);
}

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
 * The Hessian (nf x nf) over the entries idx of theta by forward
 * differences of the analytic gradient g at theta, symmetrized: nf more
 * gradients, about 1e-5 relative.  x holds theta, and holds it again on
 * return.  0 where a gradient is undefined.
 */
static int
diff_hessian(Work *w, double *x, const int *idx, int nf, const double *g, double *H)
{
	double	   *gp = lmm_alloc(sizeof(double) * w->ntheta);
	int			ok = 1,
				a,
				b;

	for (a = 0; a < nf && ok; a++)
	{
		int			k = idx[a];
		double		xk = x[k],
					h = 1e-5 * fmax(1.0, fabs(xk));

		x[k] = xk + h;
		ok = isfinite(lmm_criterion_grad(w, x, gp)) && finite_vector(gp, w->ntheta);
		x[k] = xk;
		for (b = 0; b < nf && ok; b++)
			H[b * nf + a] = (gp[idx[b]] - g[idx[b]]) / h;
	}
	for (a = 0; a < nf && ok; a++)
		for (b = 0; b < a; b++)
			H[a * nf + b] = H[b * nf + a] = 0.5 * (H[a * nf + b] + H[b * nf + a]);
	lmm_free(gp);
	return ok;
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
	double	   *H = NULL;
	double	   *step = NULL;
	double	   *prev = NULL;
	double		f,
				last = 0.0;
	int			nf = 0;
	int			ok = 1,
				taken = 0;
	int			a,
				it;

	for (a = 0; a < nt; a++)
		if (!(lb[a] == 0.0 && theta[a] <= 0.0))
			free_k[nf++] = a;
	if (nf == 0)
		goto done;
	H = lmm_alloc(sizeof(double) * nf * nf);
	step = lmm_alloc(sizeof(double) * nf);
	prev = lmm_alloc(sizeof(double) * nf);
	memcpy(x, theta, sizeof(double) * nt);

	/*
	 * Hessian by forward differences of the gradient from the first Newton
	 * step's own gradient.  Its error, about 1e-5 relative, only slows the
	 * Newton steps' convergence to machine precision by a step or so;
	 * central differences would cost nf more gradients.
	 */
	if (w->known_grad && memcmp(x, w->known_theta, sizeof(double) * nt) == 0)
		memcpy(grad, w->known_g, sizeof(double) * nt);
	else if (!isfinite(lmm_criterion_grad(w, x, grad)))
		ok = 0;
	ok = ok && finite_vector(grad, nt) &&
		diff_hessian(w, x, free_k, nf, grad, H) &&
		lmm_chol_lower(nf, H, 0.0) < 0;

	/* Newton steps with that Hessian until the step is at rounding level */
	for (it = 0; it < POLISH_STEPS && ok; it++)
	{
		double		biggest = 0.0,
					rate = 0.0;

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
			double		rel;

			x[k] += step[a];
			if (!isfinite(x[k]) || (lb[k] == 0.0 && x[k] < 0.0))
				ok = 0;
			rel = fabs(step[a]) / fmax(1.0, fabs(x[k]));
			biggest = fmax(biggest, rel);
			/* how much each entry's step shrank: the slowest sets the rate */
			if (it > 0)
				rate = fmax(rate, prev[a] > 0.0 ? rel / prev[a] : rel > 0.0 ? HUGE_VAL : 0.0);
			prev[a] = rel;
		}
		/*
		 * Done at rounding level, when the steps stop shrinking (rounding
		 * noise), or when the next step, every entry shrinking as it just
		 * did, would be at rounding level: its gradient would only confirm
		 * it.
		 */
		if (biggest < 1e-15 ||
			(it > 0 && (biggest > 0.1 * last || rate * biggest < 1e-16)))
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
	lmm_free(H);
	lmm_free(step);
	lmm_free(prev);
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

/*
 * The Hessian B of the criterion at theta, its value f and gradient g
 * there: analytic where every term is scalar (lmm_blocked_hess_at), else by
 * forward differences of the analytic gradient (ntheta more gradients;
 * about 1e-5 relative, enough to start BFGS; w is then left at the last of
 * them).  Returns f, HUGE_VAL where the criterion or a gradient is
 * undefined.
 */
static double
hessian_at(Work *w, const double *theta, double *g, double *B)
{
	int			n = w->ntheta;
	double		x[BFGS_MAX_THETA];
	int			idx[BFGS_MAX_THETA];
	double		f;
	int			a;

	w->n_eval++;
	if (lmm_derivs(w->g->blk) == LMM_DERIVS_HESSIAN)
		return lmm_blocked_hess_at(w, theta, lmm_criterion(w, theta), g, B);
	f = lmm_criterion_grad(w, theta, g);
	memcpy(x, theta, sizeof(double) * n);
	for (a = 0; a < n; a++)
		idx[a] = a;
	if (!isfinite(f) || !finite_vector(g, n) || !diff_hessian(w, x, idx, n, g, B))
		return HUGE_VAL;
	return f;
}

/*
 * The starting point of BFGS at theta (bounded entries positive), in x:
 * log theta for the bounded entries (logk), theta for the others.  The
 * criterion f, its gradient g in x (theta * df/dtheta where logged) and
 * the inverse Hessian H, from the Hessian B in theta (in x: J B J +
 * diag(g where logged), J the Jacobian of theta in x) when that is
 * positive definite, else the identity scaled by its diagonal (or so that
 * the first step moves x by 0.1).  Returns f, HUGE_VAL where the criterion
 * is undefined.
 */
static double
starting_point(Work *w, const double *theta, const int *logk, double *g, double *H)
{
	int			n = w->ntheta;
	double		B[BFGS_MAX_THETA * BFGS_MAX_THETA];
	double		D[BFGS_MAX_THETA];
	double		J[BFGS_MAX_THETA];
	double		f,
				gmax = 0.0;
	int			a,
				b;

	f = hessian_at(w, theta, g, B);
	if (!isfinite(f))
		return f;
	for (a = 0; a < n; a++)
		J[a] = logk[a] ? theta[a] : 1.0;
	for (a = 0; a < n; a++)
	{
		for (b = 0; b < n; b++)
			B[a * n + b] *= J[a] * J[b];
		g[a] *= J[a];
		if (logk[a])
			B[a * n + a] += g[a];
	}
	memset(H, 0, sizeof(double) * n * n);
	for (a = 0; a < n; a++)
	{
		D[a] = B[a * n + a];
		gmax = fmax(gmax, fabs(g[a]));
	}
	if (lmm_chol_lower(n, B, 0.0) < 0)
	{
		/* H = B^-1 = L'^-1 L^-1, column by column */
		for (a = 0; a < n; a++)
			H[a * n + a] = 1.0;
		lmm_forward_solve(n, n, B, H);
		lmm_backward_solve(n, n, B, H);
		return f;
	}
	for (a = 0; a < n; a++)
		H[a * n + a] = fabs(D[a]) > 0.0 ? 1.0 / fabs(D[a]) :
			gmax > 0.0 ? 0.1 / gmax : 1.0;
	return f;
}

/*
 * Newton steps on the exact Hessian from BFGS's optimum, while a step is
 * more than 1e-6 of theta (Newton converges quadratically, so the next
 * step would be about its square), at most three, each kept only if the
 * criterion is no worse (allowing for its rounding).  BFGS stops where its
 * line search can no longer tell the
 * criterion's values apart, which on a flat criterion leaves theta about
 * 1e-7 from the optimum, at a point that depends on the last bits of the
 * statistics (a parallel fit's differ); the gradient locates the optimum to
 * rounding level.  Not where a theta is 0 (the Hessian needs all nonzero).
 * Returns 1 when theta moved, 0 when not, -1 on interrupt.
 */
static int
newton_polish(Work *w, double *theta, double *fmin)
{
	int			n = w->ntheta;
	double		B[LMM_MAX_TERMS * LMM_MAX_TERMS];
	double		g[LMM_MAX_TERMS],
				x[LMM_MAX_TERMS];
	double		f = *fmin;
	int			it,
				a,
				moved = 0;

	for (a = 0; a < n; a++)
		if (theta[a] == 0.0)
			return 0;
	for (it = 0; it < 3; it++)
	{
		double		biggest = 0.0,
					fx;

		/* the Hessian is taken where the criterion was last evaluated */
		w->n_eval++;
		if (!isfinite(lmm_blocked_hess_at(w, theta, lmm_criterion(w, theta), g, B)) ||
			lmm_chol_lower(n, B, 0.0) >= 0)
			break;
		for (a = 0; a < n; a++)
			x[a] = -g[a];
		lmm_forward_solve(n, 1, B, x);
		lmm_backward_solve(n, 1, B, x);
		for (a = 0; a < n; a++)
		{
			biggest = fmax(biggest, fabs(x[a]) / fabs(theta[a]));
			x[a] += theta[a];
		}
		/* a step that would cross or near 0 is no Newton step to trust */
		if (biggest > 0.5)
			break;
		w->n_eval++;
		fx = lmm_criterion(w, x);
		if (w->interrupted)
			return -1;
		if (!(fx <= f + 1e-12 * fabs(f)))
			break;
		memcpy(theta, x, sizeof(double) * n);
		f = fx;
		moved = 1;
		if (biggest < 1e-6)
			break;
	}
	*fmin = f;
	return w->interrupted ? -1 : moved;
}

/*
 * Minimize the criterion from theta by BFGS on the analytic gradient; on
 * return theta and fmin hold the best point found.  Returns 1 when the
 * steps or the gradient reached rounding level, 0 when the iterations ran
 * out or the criterion became undefined, -1 on interrupt.
 *
 * The search runs in x: log theta for the bounded entries (every scalar
 * term's, a vector term's diagonal), theta for the others.  The criterion
 * is even in each bounded theta, so |theta| is all that matters there, and
 * x keeps it off 0, where the gradient vanishes, a trap a bounded search
 * could fall into; a start there (a restart from a bound) moves to 0.1.
 * In x the criterion is much closer to quadratic than in theta (a variance
 * component's scale is a factor, not a distance): from theta = 1 to an
 * optimum at 2.4 and 1.2 with 200,000 rows, BFGS takes 6 iterations in x
 * and 11 in theta.  Steps are capped at BFGS_MAX_STEP in any x, so that no
 * bounded theta changes more than tenfold a step: a singular fit's theta
 * reaches the boundary check below 1e-5 in a few steps, and a small theta
 * is not thrown far past the optimum and back.  They are backtracked (on
 * the criterion alone, the cheaper evaluation) until the Armijo condition
 * holds; the inverse Hessian starts from the Hessian at the start
 * (starting_point).  The tests of convergence are made in theta: x's
 * gradient, theta times theta's, vanishes as theta does.  Where every
 * term is scalar, Newton steps on the exact Hessian follow
 * (newton_polish); the caller polishes the others (lmm_polish).
 */
static int
bfgs(Work *w, double *theta, double *fmin)
{
	int			n = w->ntheta;
	double		H[BFGS_MAX_THETA * BFGS_MAX_THETA];
	double		x[BFGS_MAX_THETA],
				g[BFGS_MAX_THETA],
				gn[BFGS_MAX_THETA],
				d[BFGS_MAX_THETA],
				xn[BFGS_MAX_THETA],
				tn[BFGS_MAX_THETA],
				sv[BFGS_MAX_THETA],
				yv[BFGS_MAX_THETA],
				Hy[BFGS_MAX_THETA];
	int			logk[BFGS_MAX_THETA];
	double		f,
				fn;
	int			it,
				a,
				b,
				result = 0;

	for (a = 0; a < n; a++)
	{
		logk[a] = lmm_theta_bounded(w->g, a);
		if (logk[a])
		{
			theta[a] = theta[a] == 0.0 ? 0.1 : fabs(theta[a]);
			x[a] = log(theta[a]);
		}
		else
			x[a] = theta[a];
	}
	w->known_grad = 0;
	f = starting_point(w, theta, logk, g, H);
	if (!isfinite(f))
	{
		/* undefined at the start: the gradient was never written */
		*fmin = f;
		return w->interrupted ? -1 : 0;
	}
	for (it = 0; it < BFGS_MAX_ITER && isfinite(f); it++)
	{
		double		big = 0.0,
					slope = 0.0,
					t = 1.0,
					tq,
					sy = 0.0,
					yHy = 0.0,
					move = 0.0,
					gmax = 0.0;
		int			k;

		/* d = -H g, capped; a direction that does not descend restarts H */
		for (a = 0; a < n; a++)
		{
			d[a] = 0.0;
			for (b = 0; b < n; b++)
				d[a] -= H[a * n + b] * g[b];
			slope += d[a] * g[a];
		}
		if (!(slope < 0.0))
		{
			memset(H, 0, sizeof(H));
			for (a = 0; a < n; a++)
			{
				H[a * n + a] = 1.0;
				d[a] = -g[a];
			}
			slope = 0.0;
			for (a = 0; a < n; a++)
				slope -= g[a] * g[a];
		}
		if (-slope <= 1e-15 * fabs(f))
		{
			/* the decrease d promises is at rounding level: theta is the optimum */
			result = 1;
			break;
		}
		for (a = 0; a < n; a++)
			big = fmax(big, fabs(d[a]));
		if (big > BFGS_MAX_STEP)
		{
			for (a = 0; a < n; a++)
				d[a] *= BFGS_MAX_STEP / big;
			slope *= BFGS_MAX_STEP / big;
		}

		/* backtrack on the criterion alone, then the gradient at the point taken */
		for (k = 0; k < 40; k++)
		{
			for (a = 0; a < n; a++)
			{
				xn[a] = x[a] + t * d[a];
				tn[a] = logk[a] ? exp(xn[a]) : xn[a];
			}
			w->n_eval++;
			fn = lmm_criterion(w, tn);
			if (w->interrupted)
				return -1;
			if (fn <= f + 1e-4 * t * slope)
				break;
			/* the minimum of the quadratic through f, slope and fn, within [t/10, t/2] */
			tq = isfinite(fn) ? -slope * t * t / (2.0 * (fn - f - slope * t)) : 0.5 * t;
			t = tq < 0.1 * t ? 0.1 * t : tq > 0.5 * t ? 0.5 * t : tq;
			if (-t * slope < 1e-15 * fabs(f))
				k = 40;
		}
		if (k >= 40)
		{
			/* no decrease along d: theta is the optimum to rounding level */
			result = 1;
			break;
		}
		fn = lmm_blocked_grad_at(w, tn, fn, gn);
		if (w->interrupted)
			return -1;
		if (!isfinite(fn) || !finite_vector(gn, n))
			break;
		/* the polish starts from the gradient where BFGS stops: keep the last */
		memcpy(w->known_theta, tn, sizeof(double) * n);
		memcpy(w->known_g, gn, sizeof(double) * n);
		w->known_grad = 1;

		for (a = 0; a < n; a++)
		{
			/* convergence in theta: its step and gradient */
			move = fmax(move, fabs(tn[a] - theta[a]) / fmax(1.0, fabs(tn[a])));
			gmax = fmax(gmax, fabs(gn[a]) * fmax(1.0, fabs(tn[a])));
			if (logk[a])
				gn[a] *= tn[a];
			sv[a] = xn[a] - x[a];
			yv[a] = gn[a] - g[a];
			sy += sv[a] * yv[a];
		}
		memcpy(x, xn, sizeof(double) * n);
		memcpy(theta, tn, sizeof(double) * n);
		memcpy(g, gn, sizeof(double) * n);
		f = fn;
		if (move < 1e-11 || gmax < 1e-11 * fabs(f))
		{
			result = 1;
			break;
		}
		if (sy <= 0.0)
			continue;
		/* H = (I - rho s y') H (I - rho y s') + rho s s', rho = 1 / y's */
		for (a = 0; a < n; a++)
		{
			Hy[a] = 0.0;
			for (b = 0; b < n; b++)
				Hy[a] += H[a * n + b] * yv[b];
			yHy += yv[a] * Hy[a];
		}
		for (a = 0; a < n; a++)
			for (b = 0; b < n; b++)
				H[a * n + b] += ((sy + yHy) * sv[a] * sv[b] / sy -
								 Hy[a] * sv[b] - sv[a] * Hy[b]) / sy;
	}
	if (result == 1 && lmm_derivs(w->g->blk) == LMM_DERIVS_HESSIAN &&
		newton_polish(w, theta, &f) < 0)
		return -1;
	*fmin = f;
	return result;
}
