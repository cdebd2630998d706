/*
 * lmm_glmm.c
 *	  A GLMM fit from its kept rows, in glmer's stages: PIRLS at fixed theta
 *	  over beta and the modes (nagq = 0, theta optimized), then the Laplace
 *	  or adaptive Gauss-Hermite deviance optimized over (theta, beta) with
 *	  PIRLS over the modes only; the covariance of beta from the Hessian of
 *	  that deviance, as glmer's vcov.
 *
 * Every PIRLS step is one pass over the rows: working weights w and
 * working response from the current linear predictor, the rows scaled by
 * sqrt(w) streamed into the statistics of lmm_terms.h, and the one blocked
 * engine factors Lambda'Z'WZ Lambda + I at theta and solves for beta and
 * the modes (lmm_blocked.c), whatever the terms are.  docs/math.md derives
 * the deviances.
 */
#include "lmm_glmm.h"

#include <float.h>
#include <math.h>
#include <string.h>


#include <lapacke.h>
#include <nlopt.h>

#include "lmm_dist.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/* R's thresholds for the logit link's inverse and derivative. */
#define LOGIT_THRESH 30.0

/*
 * PIRLS takes Newton steps until no row's eta moves by more than
 * PIRLS_STEP_TOL, halving a step only when it raises the penalized deviance
 * by more than PIRLS_TOL relatively (less is rounding: near the mode the
 * deviance changes as the square of the step).
 */
#define PIRLS_TOL 1e-12
#define PIRLS_STEP_TOL 1e-11

/*
 * Under a canonical link Fisher scoring is Newton's method, so once a
 * level's step is below this the mode it reached is within about its
 * square: the kernel stops there.
 */
#define KERNEL_STEP_TOL 1e-7

#define PIRLS_MAXIT 200

/* Step to the finite-difference Hessian of the deviance (glmer's deriv12 uses 1e-4; 1e-3 keeps PIRLS's rounding out of it). */
#define HESS_STEP 1e-3

/* mu and dmu/deta at eta, with R's clamps so that extreme rows stay finite. */
static void
link_eval(LmmLink link, double eta, double *mu, double *dmu)
{
	double		e;

	switch (link)
	{
		case LMM_LINK_LOGIT:
			if (eta < -LOGIT_THRESH || eta > LOGIT_THRESH)
			{
				*mu = eta < 0 ? DBL_EPSILON : 1.0 / (1.0 + DBL_EPSILON);
				*dmu = DBL_EPSILON;
			}
			else
			{
				e = exp(eta);
				*mu = e / (1.0 + e);
				*dmu = e / ((1.0 + e) * (1.0 + e));
			}
			break;
		case LMM_LINK_PROBIT:
			{
				double		th = -lmm_qnorm(DBL_EPSILON);
				double		ec = eta < -th ? -th : (eta > th ? th : eta);
				double		d = exp(-0.5 * eta * eta) / sqrt(2.0 * M_PI);

				*mu = 0.5 * erfc(-ec / M_SQRT2);
				*dmu = d > DBL_EPSILON ? d : DBL_EPSILON;
			}
			break;
		case LMM_LINK_CLOGLOG:
			e = -expm1(-exp(eta));
			*mu = e > 1.0 - DBL_EPSILON ? 1.0 - DBL_EPSILON : (e < DBL_EPSILON ? DBL_EPSILON : e);
			e = eta < 700.0 ? eta : 700.0;
			e = exp(e) * exp(-exp(e));
			*dmu = e > DBL_EPSILON ? e : DBL_EPSILON;
			break;
		case LMM_LINK_LOG:
			e = exp(eta);
			*mu = *dmu = e > DBL_EPSILON ? e : DBL_EPSILON;
			break;
		default:
			*mu = eta;
			*dmu = 1.0;
			break;
	}
}

/* mu at eta (for predictions on the response scale). */
double
lmm_link_inverse(LmmLink link, double eta)
{
	double		mu,
				dmu;

	link_eval(link, eta, &mu, &dmu);
	return mu;
}

/* The link at mu, for PIRLS's first linear predictor. */
static double
link_fun(LmmLink link, double mu)
{
	switch (link)
	{
		case LMM_LINK_LOGIT:
			return log(mu / (1.0 - mu));
		case LMM_LINK_PROBIT:
			return lmm_qnorm(mu);
		case LMM_LINK_CLOGLOG:
			return log(-log1p(-mu));
		case LMM_LINK_LOG:
			return log(mu);
		default:
			return mu;
	}
}

/* The family's variance function. */
static double
variance(LmmFamily family, double mu)
{
	switch (family)
	{
		case LMM_FAMILY_BINOMIAL:
			return mu * (1.0 - mu);
		case LMM_FAMILY_POISSON:
			return mu;
		default:
			return 1.0;
	}
}

/* y log(y / mu), 0 at y = 0. */
static double
ylogy(double y, double mu)
{
	return y > 0.0 ? y * log(y / mu) : 0.0;
}

/* The row's deviance residual squared (R's family()$dev.resids). */
static double
dev_resid(LmmFamily family, double y, double mu, double wt)
{
	switch (family)
	{
		case LMM_FAMILY_BINOMIAL:
			return 2.0 * wt * (ylogy(y, mu) + ylogy(1.0 - y, 1.0 - mu));
		case LMM_FAMILY_POISSON:
			return 2.0 * wt * (ylogy(y, mu) - (y - mu));
		default:
			return wt * (y - mu) * (y - mu);
	}
}

/*
 * The row's -2 log density (R's family()$aic terms): binomial with wt
 * trials of which wt y succeeded, Poisson with prior weight wt.
 */
static double
neg2ll(LmmFamily family, double y, double mu, double wt)
{
	switch (family)
	{
		case LMM_FAMILY_BINOMIAL:
			{
				double		m = nearbyint(wt);
				double		k = nearbyint(wt * y);
				int			sg;

				if (!(wt > 0.0))
					return 0.0;

				return -2.0 * (lgamma_r(m + 1.0, &sg) - lgamma_r(k + 1.0, &sg) - lgamma_r(m - k + 1.0, &sg) +
							   (k > 0.0 ? k * log(mu) : 0.0) +
							   (m - k > 0.0 ? (m - k) * log1p(-mu) : 0.0));
			}
		case LMM_FAMILY_POISSON:
			{
				int			sg;

				return -2.0 * wt * ((y > 0.0 ? y * log(mu) : 0.0) - mu - lgamma_r(y + 1.0, &sg));
			}
		default:
			return wt * (y - mu) * (y - mu);
	}
}

/* A response, Pearson or deviance residual, as lme4's residuals(). */
double
lmm_glmm_residual(LmmFamily family, LmmResidType type, double y, double mu,
				  double wt)
{
	double		d;

	switch (type)
	{
		case LMM_RESID_PEARSON:
			return (y - mu) * sqrt(wt) / sqrt(variance(family, mu));
		case LMM_RESID_DEVIANCE:
			d = dev_resid(family, y, mu, wt);
			return (y > mu ? 1.0 : (y < mu ? -1.0 : 0.0)) * sqrt(d > 0.0 ? d : 0.0);
		default:
			return y - mu;
	}
}

/* The fit in progress: rows, current solution, and the engine's order of terms. */
typedef struct Glmm
{
	const LmmRows *r;
	LmmFamily	family;
	LmmLink		link;
	int			p;
	int			k;
	int			ntheta;
	int			src[LMM_MAX_TERMS]; /* the engine's order of the rows' terms */
	int			toff[LMM_MAX_TERMS];	/* first theta of each, in that order */
	double	   *eta;			/* n: X beta + Z b, without the offset */
	double	   *beta;			/* p */
	double	   *b[LMM_MAX_TERMS];	/* by engine term: nlevels * q modes */
	LmmFit		modes;			/* the last solve's modes, engine order */
	double		ldL2;			/* log |L|^2 of the last factor */
	double		sqru;			/* |u|^2 at the current modes */
	double		aic;			/* sum of -2 log densities at the current mu */
	int			sat_exact;		/* -2 log densities = deviance residuals + a constant */
	double		sat;			/* that constant, summed over the rows */
	double	   *vcov_rx;		/* p * p: (RX'RX)^-1 of the last factor */
	int			fresh;			/* eta is a start, not X beta + Z b */
	int			failed;
	volatile int interrupted;	/* read by the kernel's threads */
	int			n_eval;
	nlopt_opt	opt;
	/* adaptive quadrature (one scalar term) */
	int			nagq;
	double		node[LMM_MAX_NAGQ];
	double		wnode[LMM_MAX_NAGQ];
	int64_t    *gptr;			/* nlevels + 1: each level's first row in grow */
	int64_t    *grow;
	/* stage 2 works on theta then beta; stage 1 on theta only */
	double	   *theta_b;		/* the theta g->b was found at */
	/* the per-level kernel of one term (rows grouped by level) */
	int			kernel;
	int			kgrad;			/* its analytic gradient (q = 1, canonical link, Laplace) */
	double	   *xb;				/* n: x beta + offset at the beta last evaluated */
	double	   *ul;				/* nlevels * q spherical modes, the next start */
	double	   *ul0;			/* the modes of the last evaluation that succeeded */
	LmmFit	   *store;			/* when set, the evaluation writes its modes here */
	double		scale[LMM_MAX_COLUMNS + LMM_MAX_RANDOM];	/* L-BFGS's units */
	int			threads;		/* the kernel's threads */
	int			want_condvar;	/* the engine's solves fill the modes' covariances */
	/* with the gradient: each level's d u / d (theta, beta) and where */
	double	   *du;				/* nlevels * (1 + p), or NULL */
	double		du_at[LMM_MAX_COLUMNS + 1];
	double		du_at0[LMM_MAX_COLUMNS + 1];
	int			du_valid;
} Glmm;

/*
 * One pass: the rows' weighted statistics at the current eta, factored by
 * the engine at theta; beta from the solve (beta_in NULL) or beta_in, and
 * the modes for it into g->modes.  0 when the engine refuses.
 */
static int
weighted_solve(Glmm *g, const double *theta, const double *beta_in, double *beta)
{
	const LmmRows *r = g->r;
	int			p = r->p;
	int			k = r->nterms;
	LmmTermStats st;
	Gram		gram;
	Blocks	   *bk = lmm_alloc0(sizeof(Blocks));
	Work		w;
	double		xs[LMM_MAX_COLUMNS];
	double		zs[LMM_MAX_TERMS * LMM_MAX_RANDOM];
	int64_t		lev[LMM_MAX_TERMS];
	double	   *betac = lmm_alloc0(sizeof(double) * (p > 0 ? p : 1));
	int			qz[LMM_MAX_TERMS];
	int			zo[LMM_MAX_TERMS];
	int			nzall = 0;
	int64_t		i,
				j;
	int			t,
				a,
				ok = 0,
				bad = -1;

	for (t = 0; t < k; t++)
	{
		qz[t] = r->q[t];
		zo[t] = nzall;
		nzall += r->q[t];
	}
	lmm_terms_init(&st, p, k, qz);
	for (t = 0; t < k; t++)
		for (j = 0; j < r->nlevels[t]; j++)
			lmm_terms_add_level(&st, t);
	for (i = 0; i < r->n; i++)
	{
		const double *x = r->x + (size_t) i * p;
		double		wt = r->wt != NULL ? r->wt[i] : 1.0;
		double		off = r->off != NULL ? r->off[i] : 0.0;
		double		mu,
					dmu,
					sw,
					zw;

		if ((i & 65535) == 0 && lmm_interrupt_pending())
		{
			g->interrupted = 1;
			goto done;
		}
		link_eval(g->link, g->eta[i] + off, &mu, &dmu);
		sw = sqrt(wt * dmu * dmu / variance(g->family, mu));
		zw = g->eta[i] + (r->y[i] - mu) / dmu;
		for (a = 0; a < p; a++)
			xs[a] = sw * x[a];
		for (t = 0; t < k; t++)
		{
			lev[t] = r->lev[(size_t) i * k + t];
			if (r->ones[t])
				zs[zo[t]] = sw;
			else
				for (a = 0; a < r->q[t]; a++)
					zs[zo[t] + a] = sw * r->z[(size_t) i * r->nz + r->zoff[t] + a];
		}
		lmm_terms_add_row(&st, xs, sw * zw, lev, zs);
	}
	if (lmm_blocked_build_for(&st, &gram, bk, &bad, 0) != LMM_OK)
	{
		lmm_blocked_free(&gram, bk);
		goto done;
	}
	for (t = 0; t < k; t++)
		if (bk->src[t] != g->src[t])
		{
			lmm_blocked_free(&gram, bk);
			goto done;
		}
	lmm_work_init(&w, &gram, 0);
	if (lmm_criterion(&w, theta) != HUGE_VAL && isfinite(w.ldL2) && !w.interrupted)
	{
		if (beta_in == NULL)
		{
			lmm_solve_beta(&w, betac);
			lmm_beta_user(&gram, betac, beta);
		}
		else
		{
			/* the inverse of lmm_beta_user */
			memcpy(betac, beta_in, sizeof(double) * p);
			if (p > 0 && gram.intercept)
			{
				betac[0] -= gram.centre[p - 1];
				for (a = 1; a < p; a++)
					betac[0] += gram.centre[a - 1] * beta_in[a];
			}
			memcpy(beta, beta_in, sizeof(double) * p);
		}
		{
			LmmFit		m = g->modes;
			int			e;

			/* the covariances only for the final solve */
			for (e = 0; e < g->k && !g->want_condvar; e++)
				m.term[e].condvar = NULL;
			lmm_blocked_modes(&w, betac, 1.0, &m);
		}
		g->ldL2 = w.ldL2;
		lmm_vcov_user(&w, 1.0, g->vcov_rx);
		ok = 1;
	}
	g->interrupted |= w.interrupted;
	lmm_work_free(&w);
	lmm_blocked_free(&gram, bk);
done:
	lmm_terms_free(&st);
	lmm_free(bk);
	lmm_free(betac);
	return ok;
}

/* X beta + Z b for every row, into eta. */
static void
linear_predictor(const Glmm *g, const double *beta, double *const *b, double *eta)
{
	const LmmRows *r = g->r;
	int			p = r->p;
	int			k = r->nterms;
	const double *bt[LMM_MAX_TERMS];
	int64_t		i;
	int			a,
				t;

	/* each term's modes by its index in the rows (b is in the engine's order) */
	for (t = 0; t < k; t++)
		bt[g->src[t]] = b[t];
	for (i = 0; i < r->n; i++)
	{
		const double *x = r->x + (size_t) i * p;
		double		s = 0.0;

		for (a = 0; a < p; a++)
			s += x[a] * beta[a];
		for (t = 0; t < k; t++)
		{
			int			q = r->q[t];
			const double *bj = bt[t] + (size_t) r->lev[(size_t) i * k + t] * q;

			if (r->ones[t])
				s += bj[0];
			else
				for (a = 0; a < q; a++)
					s += bj[a] * r->z[(size_t) i * r->nz + r->zoff[t] + a];
		}
		eta[i] = s;
	}
}

/* |u|^2 of modes b (engine order) at theta: u solves T u = b per level; a zero pivot gives u = 0. */
static double
sum_sq_u(const Glmm *g, const double *theta, double *const *b)
{
	double		T[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		u[LMM_MAX_RANDOM];
	double		s = 0.0;
	int			e,
				a,
				c;
	int64_t		j;

	for (e = 0; e < g->k; e++)
	{
		int			t = g->src[e];
		int			q = g->r->q[t];

		lmm_theta_to_T(q, theta + g->toff[e], T);
		for (j = 0; j < g->r->nlevels[t]; j++)
		{
			const double *bj = b[e] + (size_t) j * q;

			for (a = 0; a < q; a++)
			{
				double		v = bj[a];

				for (c = 0; c < a; c++)
					v -= T[a * q + c] * u[c];
				u[a] = T[a * q + a] != 0.0 ? v / T[a * q + a] : 0.0;
				s += u[a] * u[a];
			}
		}
	}
	return s;
}

/* Sum of deviance residuals (pdev's data part) and of -2 log densities at eta. */
static double
data_deviance(const Glmm *g, const double *eta, double *aic)
{
	const LmmRows *r = g->r;
	double		d = 0.0,
				a = 0.0;
	int64_t		i;

	for (i = 0; i < r->n; i++)
	{
		double		wt = r->wt != NULL ? r->wt[i] : 1.0;
		double		mu,
					dmu;

		link_eval(g->link, eta[i] + (r->off != NULL ? r->off[i] : 0.0), &mu, &dmu);
		d += dev_resid(g->family, r->y[i], mu, wt);
		if (!g->sat_exact)
			a += neg2ll(g->family, r->y[i], mu, wt);
	}
	*aic = g->sat_exact ? d + g->sat : a;
	return d;
}

/*
 * Carry the current modes to a new theta as lme4 does, keeping the
 * spherical u = T^-1 b and setting b = T(theta) u (a zero pivot gives
 * u = 0), so that PIRLS starts from a solution consistent with theta.
 */
static void
rescale_modes(Glmm *g, const double *theta)
{
	double		T0[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		T1[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		u[LMM_MAX_RANDOM];
	int			e,
				a,
				c;
	int64_t		j;

	if (memcmp(theta, g->theta_b, sizeof(double) * g->ntheta) == 0)
		return;
	for (e = 0; e < g->k; e++)
	{
		int			q = g->r->q[g->src[e]];

		lmm_theta_to_T(q, g->theta_b + g->toff[e], T0);
		lmm_theta_to_T(q, theta + g->toff[e], T1);
		for (j = 0; j < g->r->nlevels[g->src[e]]; j++)
		{
			double	   *bj = g->b[e] + (size_t) j * q;

			for (a = 0; a < q; a++)
			{
				double		v = bj[a];

				for (c = 0; c < a; c++)
					v -= T0[a * q + c] * u[c];
				u[a] = T0[a * q + a] != 0.0 ? v / T0[a * q + a] : 0.0;
			}
			for (a = 0; a < q; a++)
			{
				double		v = 0.0;

				for (c = 0; c <= a; c++)
					v += T1[a * q + c] * u[c];
				bj[a] = v;
			}
		}
	}
	memcpy(g->theta_b, theta, sizeof(double) * g->ntheta);
}

/*
 * PIRLS at theta: beta and the modes (beta_in NULL), or the modes for
 * beta_in, from the current solution; step-halving keeps the penalized
 * deviance from rising.  Leaves the solution, its |u|^2, sum of -2 log
 * densities and the factor's log |L|^2 in g; 0 when it fails.
 */
static int
pirls(Glmm *g, const double *theta, const double *beta_in)
{
	const LmmRows *r = g->r;
	int			p = r->p;
	int			k = g->k;
	int64_t		n = r->n;
	double	   *beta1 = lmm_alloc(sizeof(double) * (p > 0 ? p : 1));
	double	   *eta1 = lmm_alloc(sizeof(double) * (size_t) n);
	double	   *b0[LMM_MAX_TERMS];
	double		pdev0 = HUGE_VAL,
				aic1 = 0.0;
	int			e,
				it,
				half,
				ok = 0;

	for (e = 0; e < k; e++)
		b0[e] = lmm_alloc(sizeof(double) * (size_t) g->modes.term[e].nlevels * g->modes.term[e].q);
	if (!g->fresh)
	{
		rescale_modes(g, theta);
		if (beta_in != NULL)
			memcpy(g->beta, beta_in, sizeof(double) * p);
		linear_predictor(g, g->beta, g->b, g->eta);
		pdev0 = data_deviance(g, g->eta, &aic1) + sum_sq_u(g, theta, g->b);
	}
	else
		memcpy(g->theta_b, theta, sizeof(double) * g->ntheta);
	for (it = 0; it < PIRLS_MAXIT; it++)
	{
		double		pdev1,
					slack = PIRLS_TOL * (fabs(pdev0) + 1.0),
					step,
					sqru1 = 0.0;
		int64_t		i;

		if (!weighted_solve(g, theta, beta_in, beta1))
			break;
		for (e = 0; e < k; e++)
			memcpy(b0[e], g->modes.term[e].b,
				   sizeof(double) * (size_t) g->modes.term[e].nlevels * g->modes.term[e].q);
		linear_predictor(g, beta1, b0, eta1);
		sqru1 = sum_sq_u(g, theta, b0);
		pdev1 = data_deviance(g, eta1, &aic1) + sqru1;
		/* step-halving toward the current solution while the deviance rises */
		for (half = 0; !g->fresh && pdev1 > pdev0 + slack && half < 30; half++)
		{
			int			a;

			for (a = 0; a < p; a++)
				beta1[a] = 0.5 * (beta1[a] + g->beta[a]);
			for (e = 0; e < k; e++)
			{
				size_t		m = (size_t) g->modes.term[e].nlevels * g->modes.term[e].q;
				size_t		c;

				for (c = 0; c < m; c++)
					b0[e][c] = 0.5 * (b0[e][c] + g->b[e][c]);
			}
			for (i = 0; i < n; i++)
				eta1[i] = 0.5 * (eta1[i] + g->eta[i]);
			sqru1 = sum_sq_u(g, theta, b0);
			pdev1 = data_deviance(g, eta1, &aic1) + sqru1;
		}
		if (!isfinite(pdev1))
			break;
		step = 0.0;
		for (i = 0; i < n; i++)
			if (fabs(eta1[i] - g->eta[i]) > step)
				step = fabs(eta1[i] - g->eta[i]);
		if (pdev1 <= pdev0 + slack || g->fresh)
		{
			memcpy(g->beta, beta1, sizeof(double) * p);
			for (e = 0; e < k; e++)
				memcpy(g->b[e], b0[e], sizeof(double) * (size_t) g->modes.term[e].nlevels * g->modes.term[e].q);
			memcpy(g->eta, eta1, sizeof(double) * (size_t) n);
			g->sqru = sqru1;
			g->aic = aic1;
		}
		if (!g->fresh && (pdev1 > pdev0 + slack || step < PIRLS_STEP_TOL))
		{
			ok = 1;
			break;
		}
		g->fresh = 0;
		pdev0 = pdev1;
	}
	for (e = 0; e < k; e++)
		lmm_free(b0[e]);
	lmm_free(beta1);
	lmm_free(eta1);
	return ok && !g->interrupted;
}

/*
 * The adaptive Gauss-Hermite deviance of one scalar term at the modes PIRLS
 * left, theta and beta: per level, 2 log L_j + f(u_j) - 2 log sum_k
 * w_k exp(-(f(u_j + t_k / L_j) - f(u_j) - t_k^2) / 2), f(u) the level's
 * deviance residuals plus u^2.  As glmer's, it leaves out the rows'
 * saturated log-likelihoods, which the Laplace deviance keeps.
 */
static double
agq_deviance(const Glmm *g, const double *theta)
{
	const LmmRows *r = g->r;
	int			p = r->p;
	double		th = theta[0];
	double		dev = 0.0;
	int64_t		j,
				c;
	int			a,
				kn;

	for (j = 0; j < r->nlevels[0]; j++)
	{
		double		uh = th != 0.0 ? g->b[0][j] / th : 0.0;
		double		wsum = 0.0,
					f0 = uh * uh,
					L,
					s = 0.0;

		for (c = g->gptr[j]; c < g->gptr[j + 1]; c++)
		{
			int64_t		i = g->grow[c];
			double		wt = r->wt != NULL ? r->wt[i] : 1.0;
			double		z = r->ones[0] ? 1.0 : r->z[(size_t) i * r->nz];
			double		mu,
						dmu;

			link_eval(g->link, g->eta[i] + (r->off != NULL ? r->off[i] : 0.0), &mu, &dmu);
			wsum += wt * dmu * dmu / variance(g->family, mu) * z * z;
			f0 += dev_resid(g->family, r->y[i], mu, wt);
		}
		L = sqrt(1.0 + th * th * wsum);
		for (kn = 0; kn < g->nagq; kn++)
		{
			double		u = uh + g->node[kn] / L;
			double		f = u * u;

			for (c = g->gptr[j]; c < g->gptr[j + 1]; c++)
			{
				int64_t		i = g->grow[c];
				const double *x = r->x + (size_t) i * p;
				double		wt = r->wt != NULL ? r->wt[i] : 1.0;
				double		z = r->ones[0] ? 1.0 : r->z[(size_t) i * r->nz];
				double		eta = th * u * z + (r->off != NULL ? r->off[i] : 0.0),
							mu,
							dmu;

				for (a = 0; a < p; a++)
					eta += x[a] * g->beta[a];
				link_eval(g->link, eta, &mu, &dmu);
				f += dev_resid(g->family, r->y[i], mu, wt);
			}
			s += g->wnode[kn] * exp(-0.5 * (f - f0 - g->node[kn] * g->node[kn]));
		}
		dev += 2.0 * log(L) + f0 - 2.0 * log(s);
	}
	return dev;
}

/* The deviance at the solution PIRLS left: Laplace, or quadrature when nagq > 1. */
static double
deviance_now(const Glmm *g, const double *theta)
{
	if (g->nagq > 1)
		return agq_deviance(g, theta);
	return g->aic + g->sqru + g->ldL2;
}

/*
 * One level's Laplace (or quadrature) deviance at theta (T) and the rows'
 * x beta + offset in g->xb, its spherical modes u (q, the start, left at
 * the mode) found by Fisher scoring with step-halving on the level's rows
 * alone: the factor of a model of one term is block-diagonal, a q x q block
 * per level.  With gsum (q = 1, canonical link) adds what the level
 * contributes to the gradient in (theta, beta).  HUGE_VAL when it fails.
 */
static double
level_deviance(Glmm *g, const double *T, double th, int64_t j, double *u,
			   double *gsum, double *du, double *cv)
{
	const LmmRows *r = g->r;
	int			p = r->p;
	int			q = r->q[0];
	int64_t		i0 = g->gptr[j],
				i1 = g->gptr[j + 1],
				i;
	double		A[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double		bv[LMM_MAX_RANDOM];
	double		up[LMM_MAX_RANDOM];
	double		zt[LMM_MAX_RANDOM];
	double		Wx[LMM_MAX_COLUMNS],
				W2x[LMM_MAX_COLUMNS],
				Apx[LMM_MAX_COLUMNS];
	double		S = 0.0,
				W3 = 0.0,
				Ap = 0.0;
	double		pdev = 0.0,
				pdev0 = HUGE_VAL,
				aic = 0.0,
				uu,
				ld = 0.0,
				step = HUGE_VAL;
	int			it,
				half = 0,
				restarted = 0,
				a,
				c;

	for (it = 0; it < 200; it++)
	{
		memset(A, 0, sizeof(double) * q * q);
		memset(bv, 0, sizeof(double) * q);
		if (gsum != NULL || du != NULL)
		{
			/* the gradient's sums, of which the last pass's (at the mode) are used */
			memset(Wx, 0, sizeof(double) * p);
			memset(W2x, 0, sizeof(double) * p);
			memset(Apx, 0, sizeof(double) * p);
			S = W3 = Ap = 0.0;
		}
		pdev = aic = 0.0;
		for (i = i0; i < i1 && q == 1; i++)
		{
			/* a scalar term, the commonest: its block is a number */
			double		wt = r->wt != NULL ? r->wt[i] : 1.0;
			double		z = r->ones[0] ? 1.0 : r->z[(size_t) i * r->nz];
			double		z1 = T[0] * z;
			double		rr = z1 * u[0],
						mu,
						dmu,
						w;

			link_eval(g->link, g->xb[i] + rr, &mu, &dmu);
			w = wt * dmu * dmu / variance(g->family, mu);
			rr += (r->y[i] - mu) / dmu;
			A[0] += w * z1 * z1;
			bv[0] += w * z1 * rr;
			pdev += dev_resid(g->family, r->y[i], mu, wt);
			if (!g->sat_exact && g->nagq <= 1)
				aic += neg2ll(g->family, r->y[i], mu, wt);
			if (gsum != NULL || du != NULL)
			{
				/* the gradient's sums (q = 1, a canonical link: a' = -2 wt (y - mu), a'' = 2w) */
				const double *x = r->x + (size_t) i * p;
				double		dw = g->family == LMM_FAMILY_BINOMIAL ? w * (1.0 - 2.0 * mu) : w;
				double		ap = -2.0 * wt * (r->y[i] - mu);
				double		wz = w * z,
							dwz2 = dw * z * z;

				S += wz * z;
				W3 += dwz2 * z;
				Ap += ap * z;
				for (a = 0; a < p; a++)
				{
					Wx[a] += wz * x[a];
					W2x[a] += dwz2 * x[a];
					Apx[a] += ap * x[a];
				}
			}
		}
		for (i = q == 1 ? i1 : i0; i < i1; i++)
		{
			double		wt = r->wt != NULL ? r->wt[i] : 1.0;
			double		eta = g->xb[i],
						mu,
						dmu,
						w,
						rr = 0.0;

			for (a = 0; a < q; a++)
			{
				double		v = 0.0;

				for (c = a; c < q; c++)
					v += T[c * q + a] * (r->ones[0] ? 1.0 : r->z[(size_t) i * r->nz + c]);
				zt[a] = v;
				rr += v * u[a];
			}
			eta += rr;
			link_eval(g->link, eta, &mu, &dmu);
			w = wt * dmu * dmu / variance(g->family, mu);
			rr += (r->y[i] - mu) / dmu;
			for (a = 0; a < q; a++)
			{
				for (c = 0; c <= a; c++)
					A[a * q + c] += w * zt[a] * zt[c];
				bv[a] += w * zt[a] * rr;
			}
			pdev += dev_resid(g->family, r->y[i], mu, wt);
			if (!g->sat_exact && g->nagq <= 1)
				aic += neg2ll(g->family, r->y[i], mu, wt);
		}
		uu = 0.0;
		for (a = 0; a < q; a++)
			uu += u[a] * u[a];
		pdev += uu;
		if (!isfinite(pdev))
		{
			/* a step that overflowed is halved back; a start that did (a
			 * warm start extrapolated too far) is dropped for u = 0 */
			if (pdev0 < HUGE_VAL && half < 30)
			{
				for (a = 0; a < q; a++)
					u[a] = 0.5 * (u[a] + up[a]);
				half++;
				continue;
			}
			if (pdev0 < HUGE_VAL || restarted)
				return HUGE_VAL;
			memset(u, 0, sizeof(double) * q);
			restarted = 1;
			continue;
		}
		/* a step that raised the deviance is halved back toward the last point */
		if (pdev > pdev0 + PIRLS_TOL * (fabs(pdev0) + 1.0) && half < 30)
		{
			for (a = 0; a < q; a++)
				u[a] = 0.5 * (u[a] + up[a]);
			half++;
			continue;
		}
		for (a = 0; a < q; a++)
			A[a * q + a] += 1.0;
		if (lmm_chol_lower(q, A, 0.0) >= 0)
			return HUGE_VAL;
		if (step < (g->kgrad ? KERNEL_STEP_TOL : PIRLS_STEP_TOL) || half >= 30)
			break;
		half = 0;
		pdev0 = pdev;
		memcpy(up, u, sizeof(double) * q);
		memcpy(u, bv, sizeof(double) * q);
		lmm_forward_solve(q, 1, A, u);
		lmm_backward_solve(q, 1, A, u);
		step = 0.0;
		for (a = 0; a < q; a++)
			if (fabs(u[a] - up[a]) > step)
				step = fabs(u[a] - up[a]);
	}
	for (a = 0; a < q; a++)
		ld += 2.0 * log(A[a * q + a]);
	if (cv != NULL)
	{
		/* the conditional covariance T (A)^-1 T' (A = T'Z'WZT + I, factored) */
		double		Ai[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
		int			b;

		memset(Ai, 0, sizeof(double) * q * q);
		for (a = 0; a < q; a++)
			Ai[a * q + a] = 1.0;
		lmm_forward_solve(q, q, A, Ai);
		lmm_backward_solve(q, q, A, Ai);
		for (a = 0; a < q; a++)
			for (b = 0; b < q; b++)
			{
				double		v = 0.0;
				int			k1,
							k2;

				for (k1 = 0; k1 <= a; k1++)
					for (k2 = 0; k2 <= b; k2++)
						v += T[a * q + k1] * Ai[k1 * q + k2] * T[b * q + k2];
				cv[a * q + b] = v;
			}
	}
	if (gsum != NULL || du != NULL)
	{
		/*
		 * the derivatives of the level's deviance (docs/math.md), and of its
		 * mode, which start the next evaluation's scoring near its mode
		 */
		double		L2 = A[0] * A[0],
					Fu = 2.0 * th * th * S + 2.0,
					dudt = -(Ap + 2.0 * th * S * u[0]) / Fu;

		if (gsum != NULL)
			gsum[0] += Ap * u[0] + (2.0 * th * S + th * th * W3 * (u[0] + th * dudt)) / L2;
		if (du != NULL)
			du[0] = dudt;
		for (a = 0; a < p; a++)
		{
			double		dudb = -2.0 * th * Wx[a] / Fu;

			if (gsum != NULL)
				gsum[1 + a] += Apx[a] + th * th * (W2x[a] + th * W3 * dudb) / L2;
			if (du != NULL)
				du[1 + a] = dudb;
		}
	}
	if (g->nagq > 1)
	{
		/* adaptive quadrature about the mode, scaled by the curvature L */
		double		L = A[0],
					f0 = pdev,
					sum = 0.0;
		int			kn;

		for (kn = 0; kn < g->nagq; kn++)
		{
			double		uk = u[0] + g->node[kn] / L;
			double		f = uk * uk;

			for (i = i0; i < i1; i++)
			{
				double		wt = r->wt != NULL ? r->wt[i] : 1.0;
				double		z = r->ones[0] ? 1.0 : r->z[(size_t) i * r->nz];
				double		mu,
							dmu;

				link_eval(g->link, g->xb[i] + th * z * uk, &mu, &dmu);
				f += dev_resid(g->family, r->y[i], mu, wt);
			}
			sum += g->wnode[kn] * exp(-0.5 * (f - f0 - g->node[kn] * g->node[kn]));
		}
		return 2.0 * log(L) + f0 - 2.0 * log(sum);
	}
	/* the Laplace deviance less the saturated constant where it is one (kernel_deviance adds it) */
	return (g->sat_exact ? pdev : aic + uu) + ld;
}

/* One thread's share of a kernel evaluation: the levels [j0, j1) and what they sum to. */
typedef struct KernelChunk
{
	Glmm	   *g;
	const double *T;
	const double *theta;
	const double *beta;
	int64_t		j0;
	int64_t		j1;
	int			want_grad;
	int			poll;			/* the calling thread's chunk polls for interrupts */
	double		dev;
	double		grad[LMM_MAX_COLUMNS + 1];
} KernelChunk;

/*
 * Evaluate a chunk of levels: x beta + offset for their rows, each level's
 * deviance (and gradient terms, modes and covariances as asked).  Touches
 * only the chunk's rows and levels, and nothing of the host but the
 * interrupt poll of the calling thread, so chunks run in threads.
 */
static void
kernel_chunk(void *arg)
{
	KernelChunk *ck = arg;
	Glmm	   *g = ck->g;
	const LmmRows *r = g->r;
	int			p = r->p;
	int			q = r->q[0];
	int64_t		i,
				j;
	int			a,
				c;

	ck->dev = 0.0;
	if (ck->want_grad)
		memset(ck->grad, 0, sizeof(double) * (1 + p));
	for (i = g->gptr[ck->j0]; i < g->gptr[ck->j1]; i++)
	{
		const double *x = r->x + (size_t) i * p;
		double		v = r->off != NULL ? r->off[i] : 0.0;

		for (a = 0; a < p; a++)
			v += x[a] * ck->beta[a];
		g->xb[i] = v;
	}
	for (j = ck->j0; j < ck->j1; j++)
	{
		double	   *u = g->ul + (size_t) j * q;
		double		d;

		if (ck->poll && (j & 4095) == 0 && lmm_interrupt_pending())
			g->interrupted = 1;
		if (g->interrupted)
		{
			ck->dev = HUGE_VAL;
			break;
		}
		if (g->du != NULL && g->du_valid)
		{
			/*
			 * first order from the last evaluation's mode, where that is a
			 * step of less than one unit of u (a standard deviation of the
			 * level's effect): farther, as from theta = 0, it misleads
			 */
			const double *dj = g->du + (size_t) j * (1 + p);
			double		du = dj[0] * (ck->theta[0] - g->du_at[0]);

			for (a = 0; a < p; a++)
				du += dj[1 + a] * (ck->beta[a] - g->du_at[1 + a]);
			if (fabs(du) < 1.0)
				u[0] += du;
		}
		d = level_deviance(g, ck->T, ck->theta[0], j, u, ck->want_grad ? ck->grad : NULL,
						   g->du != NULL ? g->du + (size_t) j * (1 + p) : NULL,
						   g->store ? g->store->term[0].condvar + (size_t) j * q * q : NULL);
		if (!isfinite(d))
		{
			ck->dev = HUGE_VAL;
			break;
		}
		ck->dev += d;
		if (g->store)
			for (a = 0; a < q; a++)
			{
				double		v = 0.0;

				for (c = 0; c <= a; c++)
					v += ck->T[a * q + c] * u[c];
				g->store->term[0].b[(size_t) j * q + a] = v;
			}
	}
}

/*
 * The deviance of a model of one term at (theta, beta) by the per-level
 * kernel, and its gradient when grad is not NULL (g->kgrad); with g->store
 * set, the modes b = T u and their covariances go there.  The levels are
 * split into g->threads chunks of about equal rows, the first evaluated by
 * the calling thread, the others by threads that block every signal (the
 * host's handlers stay with its own thread); their sums are added in chunk
 * order, so a thread count gives one answer.
 */
static double
kernel_deviance(Glmm *g, const double *theta, const double *beta, double *grad)
{
	const LmmRows *r = g->r;
	int			p = r->p;
	int			q = r->q[0];
	int64_t		J = r->nlevels[0];
	double		T[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	KernelChunk ck[LMM_MAX_THREADS];
	int			nt = g->threads > 1 && J >= 2 * g->threads ? g->threads : 1;
	double		dev = 0.0;
	int64_t		j = 0;
	int			k,
				a;

	lmm_theta_to_T(q, theta, T);
	for (k = 0; k < nt; k++)
	{
		int64_t		target = r->n * (k + 1) / nt;

		ck[k].g = g;
		ck[k].T = T;
		ck[k].theta = theta;
		ck[k].beta = beta;
		ck[k].want_grad = grad != NULL;
		ck[k].poll = k == 0;
		ck[k].j0 = j;
		while (j < J && (k == nt - 1 || g->gptr[j + 1] <= target))
			j++;
		ck[k].j1 = k == nt - 1 ? J : j;
	}
	lmm_run_threads(nt, kernel_chunk, ck, sizeof(KernelChunk));
	if (grad != NULL)
		memset(grad, 0, sizeof(double) * (1 + p));
	for (k = 0; k < nt; k++)
	{
		dev += ck[k].dev;
		if (grad != NULL)
			for (a = 0; a <= p; a++)
				grad[a] += ck[k].grad[a];
	}
	if (!isfinite(dev) || g->interrupted)
	{
		/* the next evaluation starts from the last modes that worked */
		memcpy(g->ul, g->ul0, sizeof(double) * (size_t) J * q);
		memcpy(g->du_at, g->du_at0, sizeof(g->du_at));
		return HUGE_VAL;
	}
	memcpy(g->ul0, g->ul, sizeof(double) * (size_t) J * q);
	if (g->du != NULL)
	{
		g->du_at[0] = theta[0];
		memcpy(g->du_at + 1, beta, sizeof(double) * p);
		memcpy(g->du_at0, g->du_at, sizeof(g->du_at));
		g->du_valid = 1;
	}
	return g->sat_exact && g->nagq <= 1 ? dev + g->sat : dev;
}

/* Stage 1's objective: PIRLS over beta and the modes at theta. */
static double
stage1(unsigned n, const double *x, double *grad, void *data)
{
	Glmm	   *g = data;

	(void) n;
	(void) grad;
	g->n_eval++;
	if (!pirls(g, x, NULL))
	{
		if (g->interrupted)
			nlopt_force_stop(g->opt);
		return HUGE_VAL;
	}
	return g->aic + g->sqru + g->ldL2;
}

/*
 * Stage 2's objective: (theta, beta), PIRLS over the modes only; for a
 * model of one term by the per-level kernel, with its gradient when the
 * optimizer asks.
 */
static double
stage2(unsigned n, const double *x, double *grad, void *data)
{
	Glmm	   *g = data;

	(void) n;
	g->n_eval++;
	if (g->kernel)
	{
		double		f = kernel_deviance(g, x, x + g->ntheta, grad);

		if (g->interrupted && g->opt != NULL)
			nlopt_force_stop(g->opt);
		return f;
	}
	if (!pirls(g, x, x + g->ntheta))
	{
		if (g->interrupted)
			nlopt_force_stop(g->opt);
		return HUGE_VAL;
	}
	return deviance_now(g, x);
}

/*
 * Minimize f over d parameters from x (lower bounds lb) with NLopt: BOBYQA
 * from first steps dx, to glmer's tight tolerances, or L-BFGS with f's
 * gradient, to about 1e-7 (Newton steps finish its work).
 */
static int
minimize(Glmm *g, nlopt_algorithm alg, nlopt_func f, int d, const double *lb,
		 const double *dx, double *x, double *fmin)
{
	nlopt_opt	opt = nlopt_create(alg, d);
	int			res;

	if (opt == NULL)
		return NLOPT_FAILURE;
	g->opt = opt;
	nlopt_set_lower_bounds(opt, lb);
	nlopt_set_min_objective(opt, f, g);
	if (alg == NLOPT_LN_BOBYQA)
	{
		nlopt_set_initial_step(opt, dx);
		nlopt_set_ftol_abs(opt, 1e-13);
		nlopt_set_xtol_rel(opt, 1e-11);
		nlopt_set_maxeval(opt, 20000);
	}
	else
	{
		nlopt_set_ftol_rel(opt, 1e-11);
		nlopt_set_xtol_rel(opt, 1e-7);
		nlopt_set_maxeval(opt, 5000);
	}
	res = nlopt_optimize(opt, x, fmin);
	nlopt_destroy(opt);
	g->opt = NULL;
	return res;
}

/* Gauss-Hermite nodes and weights for the standard normal (Golub-Welsch). */
static int
gauss_hermite(int n, double *node, double *wnode)
{
	double		e[LMM_MAX_NAGQ];
	double		V[LMM_MAX_NAGQ * LMM_MAX_NAGQ];
	int			i;

	for (i = 0; i < n; i++)
	{
		node[i] = 0.0;
		e[i] = sqrt((double) (i + 1));
	}
	if (n > 1 && LAPACKE_dstev(LAPACK_COL_MAJOR, 'V', n, node, e, V, n) != 0)
		return 0;
	for (i = 0; i < n; i++)
		wnode[i] = n > 1 ? V[i * n] * V[i * n] : 1.0;
	return 1;
}

/* Each level's rows of the first term (CSR), for quadrature. */
static void
group_rows(Glmm *g)
{
	const LmmRows *r = g->r;
	int64_t		J = r->nlevels[0];
	int64_t		i,
				j;
	int64_t    *fill;

	g->gptr = lmm_alloc0(sizeof(int64_t) * (size_t) (J + 1));
	g->grow = lmm_alloc(sizeof(int64_t) * (size_t) (r->n > 0 ? r->n : 1));
	for (i = 0; i < r->n; i++)
		g->gptr[r->lev[(size_t) i * r->nterms] + 1]++;
	for (j = 0; j < J; j++)
		g->gptr[j + 1] += g->gptr[j];
	fill = lmm_alloc(sizeof(int64_t) * (size_t) (J > 0 ? J : 1));
	memcpy(fill, g->gptr, sizeof(int64_t) * (size_t) J);
	for (i = 0; i < r->n; i++)
		g->grow[fill[r->lev[(size_t) i * r->nterms]]++] = i;
	lmm_free(fill);
}

/*
 * vcov of beta from the Hessian H (d x d, row-major) of the deviance in
 * (theta, beta), as glmer's vcov: the beta block of 2 H^-1 when it is
 * positive definite (H itself may not be, at a theta on its bound); 0
 * otherwise.  H is overwritten.
 */
static int
vcov_from_hessian(int nt, int p, double *H, double *vcov)
{
	int			d = nt + p;
	lapack_int *ipiv = lmm_alloc(sizeof(lapack_int) * d);
	double	   *V = lmm_alloc(sizeof(double) * (p > 0 ? p * p : 1));
	int			a,
				b,
				ok = 0;

	if (LAPACKE_dsytrf(LAPACK_ROW_MAJOR, 'L', d, H, d, ipiv) == 0 &&
		LAPACKE_dsytri(LAPACK_ROW_MAJOR, 'L', d, H, d, ipiv) == 0)
	{
		for (a = 0; a < p; a++)
			for (b = 0; b <= a; b++)
				V[a * p + b] = V[b * p + a] = 2.0 * H[(nt + a) * d + nt + b];
		memcpy(vcov, V, sizeof(double) * p * p);
		/* positive definite: its Cholesky factor exists */
		ok = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', p, V, p) == 0;
	}
	lmm_free(ipiv);
	lmm_free(V);
	return ok;
}

/*
 * vcov of beta as glmer's: the beta block of 2 H^-1, H the central
 * finite-difference Hessian of the deviance in (theta, beta) at x; 0 when H
 * is not positive definite (the caller keeps the factor's vcov).
 */
static int
hessian_vcov(Glmm *g, const double *x, double f0, double *vcov)
{
	int			d = g->ntheta + g->p;
	double	   *H = lmm_alloc(sizeof(double) * d * d);
	double	   *xs = lmm_alloc(sizeof(double) * d);
	double	   *h = lmm_alloc(sizeof(double) * d);
	int			a,
				b,
				ok = 0;

	for (a = 0; a < d; a++)
		h[a] = HESS_STEP * (fabs(x[a]) > 1.0 ? fabs(x[a]) : 1.0);
	for (a = 0; a < d && !g->interrupted; a++)
	{
		double		fp,
					fm;

		memcpy(xs, x, sizeof(double) * d);
		xs[a] = x[a] + h[a];
		fp = stage2(d, xs, NULL, g);
		xs[a] = x[a] - h[a];
		fm = stage2(d, xs, NULL, g);
		H[a * d + a] = (fp - 2.0 * f0 + fm) / (h[a] * h[a]);
		for (b = 0; b < a; b++)
		{
			double		fpp,
						fpm,
						fmp,
						fmm;

			memcpy(xs, x, sizeof(double) * d);
			xs[a] = x[a] + h[a];
			xs[b] = x[b] + h[b];
			fpp = stage2(d, xs, NULL, g);
			xs[b] = x[b] - h[b];
			fpm = stage2(d, xs, NULL, g);
			xs[a] = x[a] - h[a];
			fmm = stage2(d, xs, NULL, g);
			xs[b] = x[b] + h[b];
			fmp = stage2(d, xs, NULL, g);
			H[a * d + b] = H[b * d + a] = (fpp - fpm - fmp + fmm) / (4.0 * h[a] * h[b]);
		}
	}
	ok = !g->interrupted && vcov_from_hessian(g->ntheta, g->p, H, vcov);
	lmm_free(H);
	lmm_free(xs);
	lmm_free(h);
	return ok;
}

/*
 * The first (theta, beta) of the per-level kernel's optimization: beta of
 * the GLM without random effects (IRLS from glm's start), theta 1.
 */
static int
glm_start(Glmm *g, double *beta)
{
	const LmmRows *r = g->r;
	int			p = r->p;
	double	   *XtWX = lmm_alloc(sizeof(double) * p * p);
	double	   *XtWz = lmm_alloc(sizeof(double) * p);
	int64_t		i;
	int			it,
				a,
				b,
				ok = 0;

	memset(beta, 0, sizeof(double) * p);
	for (it = 0; it < 100 && !g->interrupted; it++)
	{
		double		step = 0.0;

		memset(XtWX, 0, sizeof(double) * p * p);
		memset(XtWz, 0, sizeof(double) * p);
		for (i = 0; i < r->n; i++)
		{
			const double *x = r->x + (size_t) i * p;
			double		wt = r->wt != NULL ? r->wt[i] : 1.0;
			double		off = r->off != NULL ? r->off[i] : 0.0;
			double		eta = off,
						mu,
						dmu,
						w,
						z;

			if ((i & 65535) == 0 && lmm_interrupt_pending())
				g->interrupted = 1;
			if (it == 0)
				eta = g->eta[i] + off;
			else
				for (a = 0; a < p; a++)
					eta += x[a] * beta[a];
			link_eval(g->link, eta, &mu, &dmu);
			w = wt * dmu * dmu / variance(g->family, mu);
			z = eta - off + (r->y[i] - mu) / dmu;
			for (a = 0; a < p; a++)
			{
				for (b = 0; b <= a; b++)
					XtWX[a * p + b] += w * x[a] * x[b];
				XtWz[a] += w * x[a] * z;
			}
		}
		if (lmm_chol_lower(p, XtWX, 0.0) >= 0)
			break;
		lmm_forward_solve(p, 1, XtWX, XtWz);
		lmm_backward_solve(p, 1, XtWX, XtWz);
		for (a = 0; a < p; a++)
		{
			if (fabs(XtWz[a] - beta[a]) > step)
				step = fabs(XtWz[a] - beta[a]);
			beta[a] = XtWz[a];
		}
		if (it > 0 && step < 1e-10)
		{
			ok = 1;
			break;
		}
	}
	/* the GLM's standard errors: sqrt of diag((X'WX)^-1), from its factor */
	for (a = 0; a < p; a++)
	{
		double		v = 0.0;

		memset(XtWz, 0, sizeof(double) * p);
		XtWz[a] = 1.0;
		lmm_forward_solve(p, 1, XtWX, XtWz);
		for (b = 0; b < p; b++)
			v += XtWz[b] * XtWz[b];
		g->scale[g->ntheta + a] = v > 0.0 && isfinite(v) ? sqrt(v) : 1.0;
	}
	for (a = 0; a < g->ntheta; a++)
		g->scale[a] = 1.0;
	lmm_free(XtWX);
	lmm_free(XtWz);
	return ok || it == 100;
}

/*
 * The Hessian of the kernel's deviance at x by central differences of its
 * analytic gradient, symmetrized, into H (d x d, row-major); the gradient
 * at x into gx.  0 when an evaluation fails.
 */
static int
kernel_hessian(Glmm *g, const double *x, double *gx, double *H)
{
	int			d = g->ntheta + g->p;
	double	   *xs = lmm_alloc(sizeof(double) * d);
	double	   *gp = lmm_alloc(sizeof(double) * d);
	double	   *gm = lmm_alloc(sizeof(double) * d);
	int			a,
				b,
				ok = isfinite(stage2(d, x, gx, g));

	for (a = 0; a < d && ok; a++)
	{
		double		h = 1e-4 * (fabs(x[a]) > 1.0 ? fabs(x[a]) : 1.0);

		memcpy(xs, x, sizeof(double) * d);
		xs[a] = x[a] + h;
		ok = isfinite(stage2(d, xs, gp, g));
		xs[a] = x[a] - h;
		ok = ok && isfinite(stage2(d, xs, gm, g));
		for (b = 0; b < d; b++)
			H[b * d + a] = (gp[b] - gm[b]) / (2.0 * h);
	}
	for (a = 0; a < d; a++)
		for (b = 0; b < a; b++)
			H[a * d + b] = H[b * d + a] = 0.5 * (H[a * d + b] + H[b * d + a]);
	lmm_free(xs);
	lmm_free(gp);
	lmm_free(gm);
	return ok && !g->interrupted;
}

/* Stage 2 in coordinates x / scale, for L-BFGS: every parameter about the size of its standard error. */
static double
scaled_stage2(unsigned n, const double *zs, double *grad, void *data)
{
	Glmm	   *g = data;
	double		xs[LMM_MAX_COLUMNS + LMM_MAX_RANDOM] = {0};
	double		f;
	unsigned	a;

	for (a = 0; a < n; a++)
		xs[a] = zs[a] * g->scale[a];
	f = stage2(n, xs, grad, g);
	if (grad != NULL)
		for (a = 0; a < n; a++)
			grad[a] *= g->scale[a];
	return f;
}

/*
 * The kernel's fit with its gradient: L-BFGS from glm_start to about 1e-7,
 * then Newton steps on the Hessian of differenced gradients while they
 * lower the deviance (or, once small, leave it within its rounding), until
 * a step is below 1e-9 (the optimum to rounding, whatever order the rows
 * came in); vcov of beta as glmer's from the last Hessian.  0 on failure.
 */
static int
kernel_optimize(Glmm *g, double *x, double *fmin, double *vcov, int *converged)
{
	int			nt = g->ntheta,
				p = g->p,
				d = nt + p;
	double	   *lb = lmm_alloc(sizeof(double) * d);
	double	   *gx = lmm_alloc(sizeof(double) * d);
	double	   *H = lmm_alloc(sizeof(double) * d * d);
	double	   *xn = lmm_alloc(sizeof(double) * d);
	double	   *C = lmm_alloc(sizeof(double) * d * d);
	int			a,
				b,
				it,
				rc,
				ok;

	/*
	 * theta from 1 by halving (and doubling) while the deviance falls, beta
	 * at the GLM's: L-BFGS from theta = 1 against a bound at 0 can creep
	 * when theta is small and the levels large (its first trial goes to
	 * the bound, then it backtracks a little per step); theta is then in
	 * units of that start
	 */
	{
		double		f0 = stage2(d, x, NULL, g),
					t0 = x[0];

		for (it = 0; it < 2 && isfinite(f0); it++)
		{
			double		mult = it == 0 ? 0.5 : 2.0;
			int			k;

			for (k = 0; k < 12; k++)
			{
				double		f;

				x[0] = t0 * mult;
				f = stage2(d, x, NULL, g);
				if (!(f < f0))
					break;
				f0 = f;
				t0 = x[0];
			}
			if (k > 0)
				break;
		}
		x[0] = t0;
		g->scale[0] = t0;
	}
	for (a = 0; a < d; a++)
	{
		lb[a] = a < nt ? 0.0 : -HUGE_VAL;
		xn[a] = x[a] / g->scale[a];
	}
	rc = minimize(g, NLOPT_LD_LBFGS, scaled_stage2, d, lb, NULL, xn, fmin);
	ok = isfinite(*fmin);
	*converged = rc > 0 && rc != NLOPT_MAXEVAL_REACHED;
	for (a = 0; a < d; a++)
		x[a] = xn[a] * g->scale[a];
	for (it = 0; ok && it < 6; it++)
	{
		double		fn,
					step = 0.0;

		if (!kernel_hessian(g, x, gx, H))
		{
			ok = 0;
			break;
		}
		memcpy(C, H, sizeof(double) * d * d);
		if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', d, C, d) != 0)
			break;
		memcpy(xn, gx, sizeof(double) * d);
		LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'L', d, 1, C, d, xn, 1);
		for (a = 0; a < d; a++)
		{
			if (fabs(xn[a]) > step)
				step = fabs(xn[a]);
			xn[a] = x[a] - xn[a];
		}
		/* a scalar term's deviance is even in its theta */
		for (a = 0; a < nt; a++)
			xn[a] = fabs(xn[a]);
		fn = stage2(d, xn, NULL, g);

		/*
		 * A step in the quadratic range changes the deviance by less than
		 * its rounding: it is taken unless the deviance rises by more
		 */
		if (!(fn < *fmin) &&
			!(step < 1e-4 && fn <= *fmin + 1e-12 * (fabs(*fmin) + 1.0)))
			break;
		memcpy(x, xn, sizeof(double) * d);
		if (fn < *fmin)
			*fmin = fn;
		/* quadratic convergence: after a step this small the next is rounding */
		if (step < 1e-9)
		{
			*converged = 1;
			break;
		}
		if (step < 1e-6)
			*converged = 1;
	}
	if (ok)
	{
		/*
		 * vcov of beta: the beta block of 2 H^-1 where it is positive
		 * definite (glmer's rule); else 2 H_beta^-1, beta's own block: the
		 * covariance at the estimated theta, as glmer falls back to
		 */
		memcpy(C, H, sizeof(double) * d * d);
		if (!vcov_from_hessian(nt, p, C, vcov))
		{
			for (a = 0; a < p; a++)
				for (b = 0; b < p; b++)
					C[a * p + b] = H[(nt + a) * d + nt + b];
			if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', p, C, p) != 0 ||
				LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', p, C, p) != 0)
				ok = 0;
			else
				for (a = 0; a < p; a++)
					for (b = 0; b <= a; b++)
						vcov[a * p + b] = vcov[b * p + a] = 2.0 * C[a * p + b];
		}
	}
	lmm_free(lb);
	lmm_free(gx);
	lmm_free(H);
	lmm_free(xn);
	lmm_free(C);
	return ok && !g->interrupted;
}

/* Release the fit in progress. */
static void
glmm_free(Glmm *g)
{
	int			e;

	for (e = 0; e < g->k; e++)
		lmm_free(g->b[e]);
	lmm_free(g->eta);
	lmm_free(g->beta);
	lmm_free(g->vcov_rx);
	lmm_free(g->gptr);
	lmm_free(g->grow);
	lmm_free(g->theta_b);
	lmm_free(g->xb);
	lmm_free(g->ul);
	lmm_free(g->ul0);
	lmm_free(g->du);
}

/*
 * Fit the GLMM of the rows: nagq = 0 stops after the first stage; else the
 * second stage with the Laplace approximation (1) or quadrature (> 1, one
 * scalar term).  On LMM_OK fit is filled as lmm_fit fills it (sigma 1, no
 * Satterthwaite), criterion being the deviance -2 log L.
 */
LmmStatus
lmm_glmm_fit(const LmmRows *r, const LmmGlmmSpec *spec, LmmFit *fit)
{
	Glmm		g;
	LmmTermStats probe;
	int			p = r->p;
	int			k = r->nterms;
	int			nt = 0,
				d,
				e,
				a,
				t;
	double	   *x,
			   *lb,
			   *dx;
	double		fmin = HUGE_VAL;
	int64_t		i;
	int			res;
	LmmStatus	status = LMM_OK;

	memset(fit, 0, sizeof(LmmFit));
	memset(&g, 0, sizeof(Glmm));
	fit->p = p;
	fit->n = (double) r->n;
	fit->bad_term = -1;
	for (t = 0; t < k; t++)
		if (r->nlevels[t] < 2)
		{
			fit->bad_term = t;
			return LMM_ERR_FEW_GROUPS;
		}
	if (spec->nagq > 1 && (k != 1 || r->q[0] != 1))
		return LMM_ERR_INCONSISTENT;

	g.r = r;
	g.family = spec->family;
	g.link = spec->link;
	g.p = p;
	g.k = k;
	g.nagq = spec->nagq;
	g.threads = spec->threads < 1 ? 1 : spec->threads > LMM_MAX_THREADS ? LMM_MAX_THREADS : spec->threads;
	lmm_terms_init(&probe, p, k, r->q);
	for (t = 0; t < k; t++)
		probe.term[t].nlevels = r->nlevels[t];
	lmm_terms_order(&probe, g.src);
	lmm_terms_free(&probe);
	fit->nterms = k;
	for (e = 0; e < k; e++)
	{
		t = g.src[e];
		g.toff[e] = nt;
		nt += LMM_NTHETA(r->q[t]);
		fit->term[e].src = g.modes.term[e].src = t;
		fit->term[e].q = g.modes.term[e].q = r->q[t];
		fit->term[e].nlevels = g.modes.term[e].nlevels = r->nlevels[t];
		g.b[e] = lmm_alloc0(sizeof(double) * (size_t) r->nlevels[t] * r->q[t]);
		fit->term[e].b = lmm_alloc(sizeof(double) * (size_t) r->nlevels[t] * r->q[t]);
		fit->term[e].condvar = lmm_alloc(sizeof(double) * (size_t) r->nlevels[t] * r->q[t] * r->q[t]);
		g.modes.term[e].b = fit->term[e].b;
		g.modes.term[e].condvar = fit->term[e].condvar;
	}
	g.modes.nterms = k;
	fit->b = fit->term[0].b;
	fit->condvar = fit->term[0].condvar;
	fit->q = fit->term[0].q;
	fit->nlevels = fit->term[0].nlevels;
	g.ntheta = fit->ntheta = nt;
	g.theta_b = lmm_alloc0(sizeof(double) * (nt > 0 ? nt : 1));
	d = nt + p;
	g.eta = lmm_alloc(sizeof(double) * (size_t) (r->n > 0 ? r->n : 1));
	g.beta = lmm_alloc0(sizeof(double) * (p > 0 ? p : 1));
	g.vcov_rx = lmm_alloc0(sizeof(double) * (p > 0 ? p * p : 1));
	x = lmm_alloc(sizeof(double) * d);
	lb = lmm_alloc(sizeof(double) * d);
	dx = lmm_alloc(sizeof(double) * d);
	/*
	 * -2 log p(y | mu) is the deviance residual plus a constant (the
	 * saturated model's), unless a binomial row has a fractional count,
	 * which R's density rounds
	 */
	g.sat_exact = 1;
	for (i = 0; i < r->n; i++)
	{
		double		wt = r->wt != NULL ? r->wt[i] : 1.0;
		double		mu0 = g.family == LMM_FAMILY_BINOMIAL ? 0.5 : 1.0;

		if (g.family == LMM_FAMILY_BINOMIAL &&
			(wt != nearbyint(wt) || wt * r->y[i] != nearbyint(wt * r->y[i])))
			g.sat_exact = 0;
		g.sat += neg2ll(g.family, r->y[i], mu0, wt) - dev_resid(g.family, r->y[i], mu0, wt);
	}

	/* one term and rows grouped by its level: the per-level kernel */
	g.kernel = k == 1 && r->grouped;
	g.kgrad = g.kernel && r->q[0] == 1 && g.nagq == 1 && g.sat_exact &&
		((g.family == LMM_FAMILY_BINOMIAL && g.link == LMM_LINK_LOGIT) ||
		 (g.family == LMM_FAMILY_POISSON && g.link == LMM_LINK_LOG));
	if (g.kernel)
	{
		int64_t		J = r->nlevels[0];

		g.xb = lmm_alloc(sizeof(double) * (size_t) (r->n > 0 ? r->n : 1));
		g.ul = lmm_alloc0(sizeof(double) * (size_t) J * r->q[0]);
		g.ul0 = lmm_alloc0(sizeof(double) * (size_t) J * r->q[0]);
		g.gptr = lmm_alloc0(sizeof(int64_t) * (size_t) (J + 1));
		if (g.kgrad)
			g.du = lmm_alloc0(sizeof(double) * (size_t) J * (1 + p));
		for (i = 0; i < r->n; i++)
			g.gptr[r->lev[i] + 1]++;
		for (i = 0; i < J; i++)
			g.gptr[i + 1] += g.gptr[i];
	}
	if (g.nagq > 1)
	{
		if (!gauss_hermite(g.nagq, g.node, g.wnode))
			status = LMM_ERR_OPTIMIZER;
		if (!g.kernel)
			group_rows(&g);
	}

	/* PIRLS's start: mu from y, as glm's mustart */
	for (i = 0; i < r->n; i++)
	{
		double		wt = r->wt != NULL ? r->wt[i] : 1.0;
		double		mu = g.family == LMM_FAMILY_BINOMIAL ? (wt * r->y[i] + 0.5) / (wt + 1.0) :
			g.family == LMM_FAMILY_POISSON ? r->y[i] + 0.1 : r->y[i];

		g.eta[i] = link_fun(g.link, mu) - (r->off != NULL ? r->off[i] : 0.0);
	}
	g.fresh = 1;

	/* stage 1: theta, with beta from PIRLS */
	for (e = 0; e < k; e++)
	{
		int			q = r->q[g.src[e]];
		int			c,
					rr,
					j = g.toff[e];

		for (c = 0; c < q; c++)
			for (rr = c; rr < q; rr++, j++)
			{
				x[j] = rr == c ? 1.0 : 0.0;
				lb[j] = rr == c ? 0.0 : -HUGE_VAL;
				dx[j] = 0.25;
			}
	}
	if (status == LMM_OK && !(g.kgrad && g.nagq > 0))
	{
		res = minimize(&g, NLOPT_LN_BOBYQA, stage1, nt, lb, dx, x, &fmin);
		if (g.interrupted)
			status = LMM_ERR_INTERRUPTED;
		else if (res < 0 || !isfinite(fmin) || !pirls(&g, x, NULL))
			status = LMM_ERR_OPTIMIZER;
		fit->converged = res > 0 && res != NLOPT_MAXEVAL_REACHED;
	}
	fit->beta = lmm_alloc(sizeof(double) * (p > 0 ? p : 1));
	fit->vcov = lmm_alloc(sizeof(double) * (p > 0 ? p * p : 1));
	fit->theta = lmm_alloc(sizeof(double) * (nt > 0 ? nt : 1));

	/* the kernel with its gradient: from the GLM, L-BFGS then Newton */
	if (status == LMM_OK && g.kgrad && g.nagq > 0)
	{
		if (!glm_start(&g, x + nt))
			status = g.interrupted ? LMM_ERR_INTERRUPTED : LMM_ERR_OPTIMIZER;
		x[0] = 1.0;
		if (status == LMM_OK && !kernel_optimize(&g, x, &fmin, fit->vcov, &fit->converged))
			status = g.interrupted ? LMM_ERR_INTERRUPTED : LMM_ERR_OPTIMIZER;
		if (status == LMM_OK)
		{
			g.store = fit;
			fmin = stage2(d, x, NULL, &g);
			g.store = NULL;
			memcpy(g.beta, x + nt, sizeof(double) * p);
			if (!isfinite(fmin))
				status = LMM_ERR_OPTIMIZER;
		}
		goto assemble;
	}
	/* the kernel without: its modes start from stage 1's */
	if (status == LMM_OK && g.kernel)
	{
		double		T[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
		int			q = r->q[0];
		int64_t		j;

		lmm_theta_to_T(q, x, T);
		for (j = 0; j < r->nlevels[0]; j++)
			for (a = 0; a < q; a++)
			{
				double		v = g.b[0][j * q + a];
				int			c;

				for (c = 0; c < a; c++)
					v -= T[a * q + c] * g.ul[j * q + c];
				g.ul[j * q + a] = T[a * q + a] != 0.0 ? v / T[a * q + a] : 0.0;
			}
		memcpy(g.ul0, g.ul, sizeof(double) * (size_t) r->nlevels[0] * q);
	}

	/* stage 2: (theta, beta) on the Laplace or quadrature deviance */
	if (status == LMM_OK && g.nagq > 0)
	{
		for (a = 0; a < p; a++)
		{
			double		se = sqrt(g.vcov_rx[a * p + a]);

			x[nt + a] = g.beta[a];
			lb[nt + a] = -HUGE_VAL;
			dx[nt + a] = isfinite(se) && se > 0.0 ? 0.5 * se : 0.1;
		}
		for (a = 0; a < nt; a++)
			dx[a] = 0.1 * (x[a] > 0.1 ? x[a] : 0.1);
		res = minimize(&g, NLOPT_LN_BOBYQA, stage2, d, lb, dx, x, &fmin);
		if (g.interrupted)
			status = LMM_ERR_INTERRUPTED;
		else if (res < 0 || !isfinite(fmin))
			status = LMM_ERR_OPTIMIZER;
		fit->converged = res > 0 && res != NLOPT_MAXEVAL_REACHED;
	}

	if (status == LMM_OK)
	{
		if (g.nagq > 0)
		{
			int			hess_ok;

			fmin = stage2(d, x, NULL, &g);
			hess_ok = isfinite(fmin) && hessian_vcov(&g, x, fmin, fit->vcov);
			/* back to the optimum for the modes and their variances */
			g.store = g.kernel ? fit : NULL;
			g.want_condvar = 1;
			fmin = stage2(d, x, NULL, &g);
			g.store = NULL;
			if (g.kernel)
				memcpy(g.beta, x + nt, sizeof(double) * p);
			/* glmer's fallback: (RX'RX)^-1 at the optimum, from one solve there */
			if (!hess_ok)
			{
				if (g.kernel && !pirls(&g, x, x + nt))
					status = LMM_ERR_OPTIMIZER;
				memcpy(fit->vcov, g.vcov_rx, sizeof(double) * p * p);
			}
		}
		else
		{
			g.want_condvar = 1;
			fmin = stage1(nt, x, NULL, &g);
			memcpy(fit->vcov, g.vcov_rx, sizeof(double) * p * p);
		}
		if (g.interrupted)
			status = LMM_ERR_INTERRUPTED;
		else if (!isfinite(fmin))
			status = LMM_ERR_OPTIMIZER;
	}
assemble:
	if (status != LMM_OK)
	{
		lmm_fit_free(fit);
		lmm_free(x);
		lmm_free(lb);
		lmm_free(dx);
		glmm_free(&g);
		return status;
	}

	memcpy(fit->theta, x, sizeof(double) * nt);
	/* the engine's modes (the kernel wrote its own into fit) */
	for (e = 0; e < k && !(g.kernel && g.nagq > 0); e++)
		memcpy(fit->term[e].b, g.b[e],
			   sizeof(double) * (size_t) fit->term[e].nlevels * fit->term[e].q);
	memcpy(fit->beta, g.beta, sizeof(double) * p);
	fit->sigma = 1.0;
	fit->criterion = fmin;
	fit->loglik = -fmin / 2.0;
	fit->aic = fmin + 2.0 * (p + nt);
	fit->bic = fmin + (p + nt) * log((double) r->n);
	fit->n_eval = g.n_eval;
	fit->singular = 0;
	for (e = 0; e < k; e++)
	{
		int			q = r->q[g.src[e]];
		int			c,
					j = g.toff[e];

		for (c = 0; c < q; c++)
		{
			if (x[j] < LMM_SINGULAR_TOL)
				fit->singular = 1;
			j += q - c;
		}
	}
	lmm_free(x);
	lmm_free(lb);
	lmm_free(dx);
	glmm_free(&g);
	return LMM_OK;
}
