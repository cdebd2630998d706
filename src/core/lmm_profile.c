/*
 * lmm_profile.c
 *	  Likelihood-profile confidence intervals, as lme4's confint().
 *
 * lme4 profiles the ML deviance (refitting a REML model by ML) on the scale
 * of standard deviations, correlations and sigma, and separately for each
 * fixed effect.  The signed root zeta(x) = sign(x - xhat) sqrt(dev(x) -
 * dev(xhat)) of the profiled deviance is found where it equals the normal
 * quantile of the level; lme4 interpolates a spline through profile points,
 * we solve for the ends directly (secant steps out, then regula falsi).
 *
 * Holding a variance parameter at x, the deviance (sigma not profiled,
 * lme4's devfun2) is minimized over the others with BOBYQA.  Holding a
 * fixed effect beta_j at v, the other fixed effects and sigma are profiled
 * out exactly: the penalized residual sum of squares at theta becomes
 * pwrss + (v - betahat_j)^2 / [(RX'RX)^-1]_jj, and BOBYQA minimizes the
 * ML deviance over theta.  Each evaluation is one evaluation of the fit's
 * criterion (lmm_criterion), one term's or several terms' alike, so one
 * profile serves every model; with several terms the parameters are every
 * term's sd/cor in the fit's order, then sigma and the fixed effects.
 */
#include <math.h>
#include <string.h>

#include <nlopt.h>

#include "lmm_dist.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_infer.h"

/* Evaluations at which the inner minimizations and the end searches give up. */
#define INNER_MAXEVAL	20000
#define END_MAXSTEP		80

/* The profile of one parameter: what is held, at what value, and the work. */
typedef struct Prof
{
	Work	   *w;
	int			nterms;
	int			q[LMM_MAX_TERMS];	/* z columns of each term, in the fit's order */
	int			toff[LMM_MAX_TERMS];	/* its first theta */
	int			nt;
	int			p;
	int			which;			/* 0..nt: variance parameter; nt+1+j: beta_j */
	double		held;			/* its value */
	double		base;			/* ML deviance at the optimum */
	double	   *full;			/* nt + 1: sd/cor and sigma being evaluated */
	double	   *theta;			/* nt */
	double	   *betac;			/* p */
	double	   *beta;			/* p */
	double	   *z;				/* p */
	int			failed;			/* an inner optimization could not run */
	nlopt_opt	opt;			/* the running inner optimizer, to stop it */
} Prof;

/* Row and column of theta index k (lower triangle, column by column). */
static void
theta_pos(int q, int k, int *row, int *col)
{
	int			c = 0;

	while (k >= q - c)
	{
		k -= q - c;
		c++;
	}
	*col = c;
	*row = c + k;
}

/* sd/cor/sigma from theta: Cov(b) = sigma^2 T T', in theta's order then sigma. */
void
lmm_theta_to_sdcor(int q, const double *theta, double sigma, double *sdcor)
{
	int			nt = q * (q + 1) / 2;
	double		T[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		sd[LMM_MAX_RANDOM];
	int			k,
				i;

	lmm_theta_to_T(q, theta, T);
	for (i = 0; i < q; i++)
	{
		double		s = 0.0;

		for (k = 0; k <= i; k++)
			s += T[i * q + k] * T[i * q + k];
		sd[i] = sigma * sqrt(s);
	}
	for (k = 0; k < nt; k++)
	{
		int			r,
					c;
		double		cov = 0.0;

		theta_pos(q, k, &r, &c);
		if (r == c)
		{
			sdcor[k] = sd[r];
			continue;
		}
		for (i = 0; i <= c; i++)
			cov += T[r * q + i] * T[c * q + i];
		cov *= sigma * sigma;
		sdcor[k] = (sd[r] > 0.0 && sd[c] > 0.0) ? cov / (sd[r] * sd[c]) : 0.0;
	}
	sdcor[nt] = sigma;
}

/*
 * theta of one term from its sd/cor and sigma: the Cholesky factor of
 * Cov(b) / sigma^2, a zero column where a standard deviation is zero.  0 if
 * the correlations do not form a positive semidefinite matrix.
 */
static int
term_sdcor_to_theta(int q, const double *sdcor, double sigma, double *theta)
{
	int			nt = q * (q + 1) / 2;
	double		A[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		sd[LMM_MAX_RANDOM];
	int			k,
				i,
				j;

	for (k = 0; k < nt; k++)
	{
		int			r,
					c;

		theta_pos(q, k, &r, &c);
		if (r == c)
			sd[r] = sdcor[k] / sigma;
	}
	for (k = 0; k < nt; k++)
	{
		int			r,
					c;

		theta_pos(q, k, &r, &c);
		A[r * q + c] = A[c * q + r] = (r == c) ? sd[r] * sd[r] : sdcor[k] * sd[r] * sd[c];
	}
	/* in-place lower Cholesky, tolerating a zero pivot with a zero column */
	for (j = 0; j < q; j++)
	{
		double		d = A[j * q + j];

		for (k = 0; k < j; k++)
			d -= A[j * q + k] * A[j * q + k];
		if (d < -1e-12 * (1.0 + A[j * q + j]))
			return 0;
		d = d > 0.0 ? sqrt(d) : 0.0;
		A[j * q + j] = d;
		for (i = j + 1; i < q; i++)
		{
			double		s = A[i * q + j];

			for (k = 0; k < j; k++)
				s -= A[i * q + k] * A[j * q + k];
			if (d > 0.0)
				A[i * q + j] = s / d;
			else if (fabs(s) > 1e-12 * (1.0 + fabs(A[i * q + i])))
				return 0;
			else
				A[i * q + j] = 0.0;
		}
	}
	for (k = 0; k < nt; k++)
	{
		int			r,
					c;

		theta_pos(q, k, &r, &c);
		theta[k] = A[r * q + c];
	}
	return 1;
}

/* theta of every term from the sd/cor of every term followed by sigma. */
static int
sdcor_to_theta(const Prof *pr, const double *full, double *theta)
{
	int			t;

	for (t = 0; t < pr->nterms; t++)
		if (!term_sdcor_to_theta(pr->q[t], full + pr->toff[t], full[pr->nt],
								 theta + pr->toff[t]))
			return 0;
	return 1;
}

/* lme4's devfun2: the ML deviance at sd/cor/sigma, the fixed effects profiled out. */
static double
dev_sdcor(Prof *pr, const double *full)
{
	Work	   *w = pr->w;
	double		sigma = full[pr->nt];
	double		sigma2 = sigma * sigma;

	if (!(sigma > 0.0) || !sdcor_to_theta(pr, full, pr->theta) ||
		!isfinite(lmm_criterion(w, pr->theta)))
		return HUGE_VAL;
	return w->ldL2 + w->pwrss / sigma2 + w->g->n * log(2.0 * M_PI * sigma2);
}

/* The ML deviance at theta with beta_j held at v, sigma and the other betas profiled out. */
static double
dev_beta_held(Prof *pr, const double *theta)
{
	Work	   *w = pr->w;
	const Gram *g = w->g;
	int			p = pr->p;
	int			j = pr->which - pr->nt - 1;
	double		gjj = 0.0,
				r2;
	int			i,
				k;

	if (!isfinite(lmm_criterion(w, theta)))
		return HUGE_VAL;
	lmm_solve_beta(w, pr->betac);
	lmm_beta_user(g, pr->betac, pr->beta);

	/* [(RX'RX)^-1]_jj in the user's coordinates: |RX'^-1 a|^2, a = row j of the origin shift */
	for (i = 0; i < p; i++)
	{
		double		s = (j == 0) ? (i == 0 ? 1.0 : -g->centre[i - 1]) : (i == j ? 1.0 : 0.0);

		for (k = 0; k < i; k++)
			s -= w->RX[k * p + i] * pr->z[k];
		pr->z[i] = s / w->RX[i * p + i];
		gjj += pr->z[i] * pr->z[i];
	}
	r2 = w->pwrss + (pr->held - pr->beta[j]) * (pr->held - pr->beta[j]) / gjj;
	return w->ldL2 + g->n * (1.0 + log(2.0 * M_PI * r2 / g->n));
}

/* NLopt's view of the profiled deviance over the parameters not held. */
static double
inner_objective(unsigned m, const double *x, double *grad, void *data)
{
	Prof	   *pr = data;
	int			k,
				i = 0;

	(void) grad;
	if (pr->w->interrupted)
	{
		nlopt_force_stop(pr->opt);
		return HUGE_VAL;
	}
	if (pr->which > pr->nt)
		return dev_beta_held(pr, x);
	for (k = 0; k <= pr->nt; k++)
		pr->full[k] = (k == pr->which) ? pr->held : x[i++];
	(void) m;
	return dev_sdcor(pr, pr->full);
}

/*
 * The profiled deviance with parameter pr->which held at x, minimized from
 * start (updated to the minimizer); HUGE_VAL if it cannot be evaluated.
 */
static double
profiled(Prof *pr, double x, double *start, const double *lb, const double *ub,
		 const double *step)
{
	int			m = pr->nt;
	nlopt_opt	opt = nlopt_create(NLOPT_LN_BOBYQA, (unsigned) m);
	double		fmin = HUGE_VAL;
	nlopt_result res;

	if (opt == NULL)
	{
		pr->failed = 1;
		return HUGE_VAL;
	}
	pr->held = x;
	nlopt_set_lower_bounds(opt, lb);
	nlopt_set_upper_bounds(opt, ub);
	nlopt_set_initial_step(opt, step);
	nlopt_set_min_objective(opt, inner_objective, pr);
	nlopt_set_xtol_rel(opt, 1e-10);
	nlopt_set_ftol_abs(opt, 1e-12);
	nlopt_set_maxeval(opt, INNER_MAXEVAL);
	pr->opt = opt;
	res = nlopt_optimize(opt, start, &fmin);
	pr->opt = NULL;
	nlopt_destroy(opt);
	if (res < 0 && res != NLOPT_ROUNDOFF_LIMITED && res != NLOPT_FORCED_STOP)
		pr->failed = 1;
	return fmin;
}

/* The signed root of the deviance increase at x. */
static double
zeta_at(Prof *pr, double x, double xhat, double *start, const double *lb,
		const double *ub, const double *step)
{
	double		d = profiled(pr, x, start, lb, ub, step) - pr->base;

	if (!isfinite(d))
		return x > xhat ? HUGE_VAL : -HUGE_VAL;
	d = d > 0.0 ? sqrt(d) : 0.0;
	return x > xhat ? d : -d;
}

/*
 * The end of the interval on side dir (+1 or -1): the x between xhat and
 * bound where zeta(x) = dir * z.  Secant steps out from xhat (capped at four
 * times the last step) until zeta passes the target, then regula falsi
 * (Illinois) on the bracket.  Returns bound if zeta never gets there.
 */
static double
find_end(Prof *pr, int dir, double z, double xhat, double step0, double bound,
		 const double *start0, const double *lb, const double *ub,
		 const double *step)
{
	double	   *start = lmm_alloc(sizeof(double) * pr->nt);
	double		target = dir * z;
	double		xa = xhat,
				za = 0.0,
				xb,
				zb,
				end = NAN;
	int			bracketed = 0,
				side = 0,
				i;

	memcpy(start, start0, sizeof(double) * pr->nt);
	xb = xhat + dir * step0;
	if ((xb - bound) * dir > 0.0)
		xb = bound;
	zb = zeta_at(pr, xb, xhat, start, lb, ub, step);
	for (i = 0; i < END_MAXSTEP && !pr->failed && !pr->w->interrupted; i++)
	{
		double		xn,
					zn;

		if ((zb - target) * dir >= 0.0)
			bracketed = 1;
		if (!bracketed)
		{
			double		last = xb - xa;

			if (xb == bound)
			{
				end = bound;
				break;
			}
			xn = (zb - za) * dir > 0.0 ?
				xb + (target - zb) * last / (zb - za) : xb + 4.0 * last;
			if ((xn - xb) * dir > 4.0 * fabs(last))
				xn = xb + 4.0 * last;
			if ((xn - bound) * dir > 0.0)
				xn = bound;
			xa = xb;
			za = zb;
			xb = xn;
			zb = zeta_at(pr, xb, xhat, start, lb, ub, step);
			continue;
		}
		/* regula falsi between a (short of the target) and b (past it) */
		if (!isfinite(zb))
			xn = 0.5 * (xa + xb);
		else
			xn = xa + (target - za) * (xb - xa) / (zb - za);
		zn = zeta_at(pr, xn, xhat, start, lb, ub, step);
		if (fabs(zn - target) < 1e-9)
		{
			end = xn;
			break;
		}
		if (fabs(xb - xa) < 1e-13 * (1.0 + fabs(xn)))
		{
			/* converged onto where the deviance stops being defined: unknown */
			end = isfinite(zb) && isfinite(zn) ? xn : NAN;
			break;
		}
		if ((zn - target) * dir < 0.0)
		{
			xa = xn;
			za = zn;
			if (side == -1)
				zb = target + 0.5 * (zb - target);
			side = -1;
		}
		else
		{
			xb = xn;
			zb = zn;
			if (side == 1)
				za = target + 0.5 * (za - target);
			side = 1;
		}
	}
	lmm_free(start);
	return end;
}

/* Bounds, starts and first steps for the parameters not held, in the inner problem's order. */
static void
inner_setup(Prof *pr, const double *sdcor_hat, const double *theta_hat,
			double *start, double *lb, double *ub, double *step)
{
	int			nt = pr->nt;
	int			k,
				i = 0;

	if (pr->which > nt)
	{
		for (k = 0; k < nt; k++)
		{
			int			diag = lmm_theta_bounded(pr->w->g, k);

			start[k] = theta_hat[k];
			lb[k] = diag ? 0.0 : -HUGE_VAL;
			ub[k] = HUGE_VAL;
			step[k] = fmax(0.1 * fabs(theta_hat[k]), 0.02);
		}
		return;
	}
	for (k = 0; k <= nt; k++)
	{
		double		sigma = sdcor_hat[nt];

		if (k == pr->which)
			continue;
		start[i] = sdcor_hat[k];
		if (k == nt)
		{
			lb[i] = 1e-8 * sigma;
			ub[i] = HUGE_VAL;
			step[i] = 0.05 * sigma;
		}
		else if (lmm_theta_bounded(pr->w->g, k))
		{
			lb[i] = 0.0;
			ub[i] = HUGE_VAL;
			step[i] = fmax(0.1 * sdcor_hat[k], 0.01 * sigma);
		}
		else
		{
			lb[i] = -1.0;
			ub[i] = 1.0;
			step[i] = 0.05;
			/* BOBYQA needs its start strictly inside a bound it may step over */
			start[i] = fmin(fmax(start[i], -1.0 + 0.05), 1.0 - 0.05);
		}
		i++;
	}
}

/*
 * Profile intervals at the given level (see lmm_infer.h) of the ML fit fit,
 * whose cross-products g are (one term, or several in the fit's order).
 */
static LmmStatus
profile_fit(const Gram *g, const LmmFit *fit, double level, LmmProfile *prof)
{
	LmmStatus	status = LMM_OK;
	Work		w;
	Prof		pr;
	int			nt = fit->ntheta,
				p = fit->p,
				npar = nt + 1 + p,
				k,
				t;
	double		z = -lmm_qnorm((1.0 - level) / 2.0);
	double		sdcor[LMM_MAX_INF];
	double	   *start,
			   *lb,
			   *ub,
			   *step;

	prof->npar = npar;
	prof->deviance = fit->criterion;
	prof->estimate = lmm_alloc(sizeof(double) * npar);
	prof->lower = lmm_alloc(sizeof(double) * npar);
	prof->upper = lmm_alloc(sizeof(double) * npar);

	lmm_work_init(&w, g, 0);
	memset(&pr, 0, sizeof(pr));
	pr.w = &w;
	pr.nterms = fit->nterms;
	for (t = 0; t < fit->nterms; t++)
	{
		pr.q[t] = fit->term[t].q;
		pr.toff[t] = t == 0 ? 0 : pr.toff[t - 1] + LMM_NTHETA(pr.q[t - 1]);
		lmm_theta_to_sdcor(pr.q[t], fit->theta + pr.toff[t], fit->sigma, sdcor);
		memcpy(prof->estimate + pr.toff[t], sdcor, sizeof(double) * LMM_NTHETA(pr.q[t]));
	}
	prof->estimate[nt] = fit->sigma;
	memcpy(prof->estimate + nt + 1, fit->beta, sizeof(double) * p);
	pr.nt = nt;
	pr.p = p;
	pr.base = fit->criterion;
	pr.full = lmm_alloc(sizeof(double) * (nt + 1));
	pr.theta = lmm_alloc(sizeof(double) * nt);
	pr.betac = lmm_alloc(sizeof(double) * p);
	pr.beta = lmm_alloc(sizeof(double) * p);
	pr.z = lmm_alloc(sizeof(double) * p);
	start = lmm_alloc(sizeof(double) * nt);
	lb = lmm_alloc(sizeof(double) * nt);
	ub = lmm_alloc(sizeof(double) * nt);
	step = lmm_alloc(sizeof(double) * nt);

	for (k = 0; k < npar && !pr.failed && !w.interrupted; k++)
	{
		double		xhat = prof->estimate[k];
		double		lo = -HUGE_VAL,
					hi = HUGE_VAL,
					step0;

		pr.which = k;
		inner_setup(&pr, prof->estimate, fit->theta, start, lb, ub, step);
		if (k > nt)
			step0 = sqrt(fit->vcov[(k - nt - 1) * (p + 1)]);
		else if (k == nt)
		{
			lo = 0.0;
			step0 = 0.1 * xhat;
		}
		else if (lmm_theta_bounded(g, k))
		{
			lo = 0.0;
			step0 = xhat > 0.0 ? 0.3 * xhat : 0.1 * fit->sigma;
		}
		else
		{
			lo = -1.0;
			hi = 1.0;
			step0 = 0.1;
		}
		prof->lower[k] = (xhat <= lo) ? lo :
			find_end(&pr, -1, z, xhat, fmin(step0, 0.5 * (xhat - lo)), lo,
					 start, lb, ub, step);
		prof->upper[k] = (xhat >= hi) ? hi :
			find_end(&pr, 1, z, xhat, fmin(step0, 0.5 * (hi - xhat)), hi,
					 start, lb, ub, step);
	}
	if (w.interrupted)
		status = LMM_ERR_INTERRUPTED;
	else if (pr.failed)
		status = LMM_ERR_OPTIMIZER;

	lmm_free(pr.full);
	lmm_free(pr.theta);
	lmm_free(pr.betac);
	lmm_free(pr.beta);
	lmm_free(pr.z);
	lmm_free(start);
	lmm_free(lb);
	lmm_free(ub);
	lmm_free(step);
	lmm_work_free(&w);
	if (status != LMM_OK)
		lmm_profile_free(prof);
	return status;
}

/*
 * Profile intervals at the given level for the model of the statistics s
 * (see lmm_infer.h), its parameters in the order of lmm_fit's fit (lme4's).
 * The statistics must be those the model was fitted to.
 */
LmmStatus
lmm_profile(const LmmTermStats *s, double level, LmmProfile *prof)
{
	LmmFit		fit;
	LmmStatus	status = lmm_fit(s, 0, 0, &fit);
	Gram		g;
	Blocks	   *bk;
	int			bad_term;

	memset(prof, 0, sizeof(LmmProfile));
	if (status != LMM_OK)
		return status;
	bk = lmm_alloc0(sizeof(Blocks));
	status = lmm_blocked_build(s, &g, bk, &bad_term);
	if (status == LMM_OK)
		status = profile_fit(&g, &fit, level, prof);
	lmm_blocked_free(&g, bk);
	lmm_free(bk);
	lmm_fit_free(&fit);
	return status;
}

/* Release what lmm_profile allocated. */
void
lmm_profile_free(LmmProfile *prof)
{
	lmm_free(prof->estimate);
	lmm_free(prof->lower);
	lmm_free(prof->upper);
	prof->estimate = prof->lower = prof->upper = NULL;
}
