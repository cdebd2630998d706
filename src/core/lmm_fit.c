/*
 * lmm_fit.c
 *	  The cross-products of a fit, the optimization of the profiled REML/ML
 *	  criterion over theta, and the mixed-model solution at the optimum.
 *
 * All matrices are row-major.  The cross-products are formed about the
 * overall means of the x and y columns (z columns keep their origin, since
 * moving it would change the random-effects model); the intercept absorbs
 * the shift and is moved back at the end.
 */
#include "lmm_fit.h"

#include <math.h>
#include <string.h>

#include <lapacke.h>
#include <nlopt.h>

#include "lmm_fit_int.h"
#include "lmm_host.h"


/*
 * The criterion at the optimizer's theta, which is of standardized z for
 * the terms w->zmap maps (lmm_zscale.c), and of z itself otherwise.
 */
static double
optimizer_criterion(Work *w, const double *x)
{
	double	   *theta;
	double		f;

	if (w->zmap == NULL)
		return lmm_criterion(w, x);
	theta = lmm_alloc(sizeof(double) * w->ntheta);
	lmm_zmap_apply(w->zmap, w->ntheta, x, theta);
	f = lmm_criterion(w, theta);
	lmm_free(theta);
	return f;
}

/* BOBYQA evaluations of a fit between two looks along the ray of the best theta. */
#define RAY_EVERY(ntheta) (100 * ((ntheta) + 1))

/* Points c theta, c = 4, 16, ..., 4^RAY_STEPS, that a look along the ray may take. */
#define RAY_STEPS 16

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
		f = optimizer_criterion(w, ray);
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
	f = optimizer_criterion(w, theta);
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
 * Form the per-level and overall cross-products about the centre from the
 * statistics, with each z column k read as (z_k - zc[k]) / zs[k] when zc
 * and zs are given (scaled_optimum), computed from the levels' means and
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
	return isfinite(g->yty) && (g->blk == NULL || blocks_are_finite(g->blk));
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

/* Allocate the evaluation workspace. */
void
lmm_work_init(Work *w, const Gram *g, int reml)
{
	int			p = g->p;
	int			q = g->q;

	memset(w, 0, sizeof(Work));
	w->g = g;
	w->reml = reml;
	w->ntheta = LMM_NTHETA(q);
	if (g->blk != NULL)
		w->ntheta = g->blk->toff[g->blk->k - 1] + LMM_NTHETA(g->blk->q[g->blk->k - 1]);
	w->T = lmm_alloc(sizeof(double) * q * q);
	w->L = lmm_alloc0(sizeof(double) * q * q);
	w->B = lmm_alloc(sizeof(double) * q * q);
	w->RZX = lmm_alloc(sizeof(double) * q * p);
	w->cu = lmm_alloc(sizeof(double) * q);
	w->SXX = lmm_alloc(sizeof(double) * p * p);
	w->SXy = lmm_alloc(sizeof(double) * p);
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
	lmm_free(w->SXX);
	lmm_free(w->SXy);
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

	if (bk == NULL)
		return lmm_theta_is_diagonal(g->q, k);
	for (t = bk->k - 1; t > 0 && k < bk->toff[t]; t--)
		;
	return lmm_theta_is_diagonal(bk->q[t], k - bk->toff[t]);
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
 * The optimizer's run from theta: L-BFGS on the analytic gradient where
 * every term is scalar and there are several, else BOBYQA as lme4.
 */
static nlopt_result
first_run(Work *w, const double *lb, double *theta, double *fmin)
{
	if (w->g->blk != NULL && lmm_blocked_scalar(w->g->blk))
	{
		int			r = lmm_blocked_optimize(w, theta, fmin);

		return r > 0 ? NLOPT_SUCCESS : r == 0 ? NLOPT_MAXEVAL_REACHED : NLOPT_FORCED_STOP;
	}
	return run_bobyqa(w, lb, theta, fmin, 1e-8);
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
 * Minimize the criterion over theta as lme4's lmer does by default: BOBYQA
 * from T = I with xtol_abs = ftol_abs = 1e-8 (so that we follow lme4's path
 * and stop where it stops), a restart when a parameter sits on its bound
 * but the criterion falls towards the interior (restart_edge), and then
 * near-bound parameters moved onto the bound when that is better
 * (boundary.tol = 1e-5).
 */
LmmStatus
lmm_optimize_theta(Work *w, double *theta, double *fmin, int *converged)
{
	int			nt = w->ntheta;
	double	   *lb = lmm_alloc(sizeof(double) * nt);
	double	   *probe = lmm_alloc(sizeof(double) * nt);
	double		f0 = 0.0;
	int			k,
				restart = 0;
	nlopt_result res;
	LmmStatus	status = LMM_OK;

	for (k = 0; k < nt; k++)
	{
		int			diag = lmm_theta_bounded(w->g, k);

		lb[k] = diag ? 0.0 : -HUGE_VAL;
		theta[k] = diag ? 1.0 : 0.0;
	}

	res = first_run(w, lb, theta, fmin);

	/* restart_edge: a bound parameter whose one-sided slope is negative */
	for (k = 0; k < nt && !w->interrupted && res > 0; k++)
	{
		if (lb[k] == 0.0 && theta[k] == 0.0)
		{
			if (!restart)
			{
				w->n_eval++;
				f0 = optimizer_criterion(w, theta);
			}
			memcpy(probe, theta, sizeof(double) * nt);
			probe[k] = 1e-5;
			w->n_eval++;
			if ((optimizer_criterion(w, probe) - f0) / 1e-5 < 0.0)
				restart = 1;
		}
	}
	if (restart && !w->interrupted)
		res = first_run(w, lb, theta, fmin);

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
				if (optimizer_criterion(w, probe) <= fopt + 1e-14 * fabs(fopt))
					continue;
				probe[k] = keep;
			}
		}
		if (memcmp(probe, theta, sizeof(double) * nt) != 0)
		{
			memcpy(theta, probe, sizeof(double) * nt);
			*fmin = optimizer_criterion(w, theta);
		}
		if (w->interrupted)
			status = LMM_ERR_INTERRUPTED;
	}
	/*
	 * Newton polish on the analytic gradient: the optimum to rounding level.
	 * Several terms with a vector-valued one are polished the same way (a
	 * singular T_k too, over the thetas off their bound); where that fails
	 * (the optimum is on a bound BOBYQA did not reach), or in a mapped
	 * parameterization (lmm_mapped_optimum polishes after mapping back),
	 * BOBYQA goes on from its optimum with tolerances at rounding level
	 * instead.  Near-bound thetas are then tried on their bound, polished
	 * (lmm_polish_bound).  BFGS polished scalar terms with Newton steps on
	 * the exact Hessian, which needs every theta nonzero; where one is 0 (on
	 * its bound: a singular fit), the others are polished here.
	 */
	if (status == LMM_OK && (w->g->blk == NULL ||
							 (lmm_blocked_scalar(w->g->blk) && has_zero(theta, nt))))
		lmm_polish(w, lb, theta, fmin);
	else if (status == LMM_OK && !lmm_blocked_scalar(w->g->blk) &&
			 (w->zmap != NULL || !lmm_polish(w, lb, theta, fmin)))
	{
		double		f = *fmin;

		memcpy(probe, theta, sizeof(double) * nt);
		if (run_bobyqa(w, lb, probe, &f, 1e-12) > 0 && f <= *fmin)
		{
			memcpy(theta, probe, sizeof(double) * nt);
			*fmin = f;
		}
		*fmin = optimizer_criterion(w, theta);
	}
	if (status == LMM_OK && w->g->blk != NULL && !lmm_blocked_scalar(w->g->blk) &&
		w->zmap == NULL)
		lmm_polish_bound(w, lb, theta, fmin);
	if (status == LMM_OK && w->interrupted)
		status = LMM_ERR_INTERRUPTED;
	else if (status == LMM_OK && w->exact)
		status = LMM_ERR_PERFECT_FIT;
	lmm_free(lb);
	lmm_free(probe);
	return status;
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

/*
 * At the optimum: beta, sigma, vcov(beta) and the conditional modes and
 * covariances per level, with beta and vcov moved back to the user's origin.
 */
static void
solve_at_optimum(Work *w, const double *theta, LmmFit *fit)
{
	const Gram *g = w->g;
	int			p = g->p;
	int			q = g->q;
	double	   *betac = lmm_alloc(sizeof(double) * p);
	double	   *r = lmm_alloc(sizeof(double) * q);
	double		sigma2;
	int64_t		j;
	int			a,
				b,
				i,
				k;

	fit->criterion = lmm_criterion(w, theta);
	lmm_solve_beta(w, betac);
	sigma2 = w->pwrss / (w->reml ? g->n - p : g->n);
	fit->sigma = sqrt(sigma2);
	lmm_beta_user(g, betac, fit->beta);
	lmm_vcov_user(w, sigma2, fit->vcov);
	if (g->blk != NULL)
	{
		lmm_blocked_modes(w, betac, sigma2, fit);
		lmm_free(betac);
		lmm_free(r);
		return;
	}

	/* per level: b_j = T L_j'^-1 (cu_j - RZX_j betac); condvar = sigma^2 T (L L')^-1 T' */
	for (j = 0; j < g->nlevels; j++)
	{
		double	   *bj = fit->b + (size_t) j * q;
		double	   *cv = fit->condvar + (size_t) j * q * q;
		double	   *Linv = w->B;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
		{
			w->interrupted = 1;
			break;
		}
		lmm_level_factor(w, g->ZtZ + (size_t) j * q * q,
					 g->ZtX + (size_t) j * q * p, g->Zty + (size_t) j * q);
		for (i = 0; i < q; i++)
		{
			double		s = w->cu[i];

			for (k = 0; k < p; k++)
				s -= w->RZX[i * p + k] * betac[k];
			r[i] = s;
		}
		lmm_backward_solve(q, 1, w->L, r);
		for (i = 0; i < q; i++)
		{
			double		s = 0.0;

			for (k = 0; k <= i; k++)
				s += w->T[i * q + k] * r[k];
			bj[i] = s;
		}

		/* Linv = L^-1 column by column, then W = T Linv' into r-sized rows of cv */
		for (i = 0; i < q * q; i++)
			Linv[i] = 0.0;
		for (i = 0; i < q; i++)
			Linv[i * q + i] = 1.0;
		lmm_forward_solve(q, q, w->L, Linv);
		for (a = 0; a < q; a++)
			for (b = 0; b <= a; b++)
			{
				/* (T Linv')(T Linv')' [a][b] = sum_m (T Linv')[a][m] (T Linv')[b][m] */
				double		s = 0.0;
				int			m;

				for (m = 0; m < q; m++)
				{
					double		wa = 0.0,
								wb = 0.0;

					for (k = 0; k < q; k++)
					{
						wa += w->T[a * q + k] * Linv[m * q + k];
						wb += w->T[b * q + k] * Linv[m * q + k];
					}
					s += wa * wb;
				}
				cv[a * q + b] = cv[b * q + a] = sigma2 * s;
			}
	}
	lmm_free(betac);
	lmm_free(r);
}

/*
 * Fit the model to the statistics by REML (reml != 0) or ML.  On LMM_OK the
 * caller owns fit's arrays (lmm_fit_free); on an error nothing is left
 * allocated, fit->bad_column may name the offending x column (1-based, the
 * intercept being 0) and fit->n_eval counts the evaluations made.
 */
LmmStatus
lmm_fit(const LmmStats *s, int reml, LmmFit *fit)
{
	return lmm_fit_ex(s, reml, 1, fit);
}

/*
 * Release the cross-products of a fit, with the several-term blocks when
 * there are any.
 */
static void
free_gram_blocks(Gram *g)
{
	if (g->blk != NULL)
		lmm_blocked_free(g, g->blk);
	else
		lmm_free_gram(g);
}

/*
 * The fit proper, from the cross-products (which it releases): checks,
 * optimization, the solution at the optimum, Satterthwaite's ingredients
 * only when with_df (a refit for a likelihood-ratio test or a profile does
 * not need them) and only while their Jacobian stays below 2^24 doubles.
 */
static LmmStatus
fit_gram(Gram *g, const LmmStats *zsrc, const LmmTermStats *tsrc, int reml,
		 int with_df, LmmFit *fit)
{
	Work		w;
	ZMap		zm;
	LmmStatus	status;
	int			p = g->p;
	int			nt;
	double		fmin;
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
		free_gram_blocks(g);
		return status;
	}

	lmm_work_init(&w, g, reml);
	nt = fit->ntheta = w.ntheta;
	fit->theta = lmm_alloc(sizeof(double) * nt);
	if (zsrc != NULL && lmm_z_badly_scaled(zsrc))
		status = lmm_scaled_optimum(zsrc, &w, fit->theta, &fmin, &converged);
	else if (tsrc != NULL && lmm_zmap_terms(tsrc, g->blk, &zm) > 0)
		status = lmm_mapped_optimum(&w, &zm, fit->theta, &fmin, &converged);
	else
		status = lmm_optimize_theta(&w, fit->theta, &fmin, &converged);
	fit->n_eval = w.n_eval;
	if (status == LMM_OK && w.not_pd)
		status = LMM_ERR_INCONSISTENT;
	else if (status == LMM_OK && !isfinite(fmin))
		status = LMM_ERR_PERFECT_FIT;
	if (status != LMM_OK)
	{
		lmm_free(fit->theta);
		fit->theta = NULL;
		lmm_work_free(&w);
		free_gram_blocks(g);
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
	solve_at_optimum(&w, fit->theta, fit);
	if (w.interrupted || w.not_pd || !isfinite(fit->criterion) ||
		w.pwrss <= 1e-12 * g->yty)
	{
		status = w.interrupted ? LMM_ERR_INTERRUPTED :
			w.not_pd ? LMM_ERR_INCONSISTENT : LMM_ERR_PERFECT_FIT;
		lmm_fit_free(fit);
		lmm_work_free(&w);
		free_gram_blocks(g);
		return status;
	}

	/* what Satterthwaite's df need, once per fit (lmm_satt.c) */
	fit->ninf = (with_df && (size_t) (nt + 1) * p * p <= ((size_t) 1 << 24)) ? nt + 1 : 0;
	if (fit->ninf > 0)
	{
		fit->vcov_varpar = lmm_alloc(sizeof(double) * fit->ninf * fit->ninf);
		fit->jac = lmm_alloc(sizeof(double) * fit->ninf * p * p);
		if (!lmm_satterthwaite(&w, fit->theta, fit->sigma, fit->vcov_varpar, fit->jac))
			fit->ninf = 0;
	}
	if (w.interrupted)
	{
		lmm_fit_free(fit);
		lmm_work_free(&w);
		free_gram_blocks(g);
		return LMM_ERR_INTERRUPTED;
	}

	fit->n_eval = w.n_eval;
	fit->converged = converged;
	fit->singular = 0;
	for (k = 0; k < nt; k++)
		if (lmm_theta_bounded(g, k) && fit->theta[k] < LMM_SINGULAR_TOL)
			fit->singular = 1;
	fit->loglik = -fit->criterion / 2.0;
	fit->aic = fit->criterion + 2.0 * (p + nt + 1);
	fit->bic = fit->criterion + (p + nt + 1) * log(g->n);

	lmm_work_free(&w);
	free_gram_blocks(g);
	return LMM_OK;
}

/* lmm_fit, with Satterthwaite's ingredients only when with_df. */
LmmStatus
lmm_fit_ex(const LmmStats *s, int reml, int with_df, LmmFit *fit)
{
	Gram		g;

	memset(fit, 0, sizeof(LmmFit));
	fit->p = s->p;
	fit->q = s->q;
	fit->nlevels = s->nlevels;
	fit->reml = reml;
	fit->n = s->n;
	fit->nterms = 1;
	fit->term[0].q = s->q;
	fit->term[0].nlevels = s->nlevels;

	if (s->nlevels < 2)
		return LMM_ERR_FEW_GROUPS;
	if ((double) s->nlevels >= s->n)
		return LMM_ERR_LEVELS_GE_NOBS;
	if (s->q > 1 && (double) s->nlevels * s->q >= s->n)
		return LMM_ERR_RE_GE_NOBS;

	lmm_build_gram(s, &g);
	return fit_gram(&g, s, NULL, reml, with_df, fit);
}

/*
 * Fit a model with several random-effects terms (lmm_terms.h) by REML or
 * ML.  The fit's terms are in lme4's order; term[t].src names the
 * statistics' term, as fit->bad_term does on an error about one term.
 */
LmmStatus
lmm_fit_terms(const LmmTermStats *s, int reml, int with_df, LmmFit *fit)
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
	status = fit_gram(&g, NULL, s, reml, with_df, fit);
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
