/*
 * lmm_blocked_grad.c
 *	  The analytic gradient of the profiled criterion for several terms that
 *	  are all scalar (one z column each: random intercepts, uncorrelated
 *	  slopes), with the blocked factor of lmm_blocked.c.
 *
 * Why: a large fit (InstEval: 4,100 levels, a dense part of 1,145 rows)
 * spends its time in evaluations, and BOBYQA needs a hundred or more where
 * a quasi-Newton method on the gradient needs a few dozen.
 *
 * With Lambda = theta_k on the levels of term k, K = Lambda~'C Lambda~ + J
 * the whole penalized system (Lambda~ = diag(Lambda, I_p), C the cross-
 * products of [Z X], J = diag(I, 0)), and u the spherical conditional
 * modes at beta-hat(theta), for theta_k != 0:
 *	 d log|K| / d theta_k	= 2 (J_k - sum_{i in k} (K^-1)_ii) / theta_k
 *	 d pwrss / d theta_k	= -2 sum_{i in k} u_i^2 / theta_k	(envelope theorem)
 * where J_k is the number of levels of term k: with K - J = Lambda~'C
 * Lambda~, K^-1 dK/dtheta_k = (I - K^-1 J) Lambda~^-1 dLambda~/dtheta_k.
 * REML's log|L|^2 + log|RX|^2 is log|K|; ML's log|L|^2 is log|A|, A the
 * leading Z block of K, and uses A^-1 the same way.  The criterion is even
 * in each theta_k, so both derivatives are 0 where theta_k = 0.
 *
 * The diagonal of K^-1 (or A^-1): on the dense rows it is that of S^-1,
 * S = L_S L_S' the Schur complement left in M by the first term's levels;
 * on level j of the first term it is (1 + W_j S^-1 W_j') / L_j^2, W_j the
 * level's row of cross columns (lmm_blocked_level_rhs).
 */
#include <math.h>
#include <string.h>


#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/*
 * BFGS iterations at most, and the largest step in any theta relative to
 * its size, that size being taken as at least BFGS_STEP_FLOOR.
 */
#define BFGS_MAX_ITER	200
#define BFGS_MAX_STEP	1.0
#define BFGS_STEP_FLOOR 0.1

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

/*
 * The first term's part of the gradient when M's update is listed by pair
 * (lmm_blocked_pairs.c): per level, u_j = theta_0 (Z_j'y - Z_j'X betac -
 * sum theta_u Z_j'Z_u u_u) / L_j^2, and over the levels, with psi_j =
 * omega_j / L_j^2 (by class of levels), sum_j W_j S^-1 W_j' / L_j^2 =
 * sum_ab S^-1_ab G_ab.
 * Adds to trK[0] and uu[0], fills gp's sums when gp is not NULL; 0 on
 * interrupt.
 */
static int
first_term_by_pairs(Work *w, double theta0, int64_t nS, const double *betac,
					double *trK, double *uu, GradParts *gp)
{
	const Gram *g = w->g;
	Blocks	   *bk = g->blk;
	int			p = g->p;
	int64_t		J0 = g->nlevels;
	double	   *psi = lmm_alloc(sizeof(double) * (size_t) (2 * bk->ncls));
	double		t2 = theta0 * theta0,
				out[2];
	int64_t		j,
				e;
	int			b,
				ok;

	for (j = 0; j < J0; j++)
	{
		double		L2 = t2 * g->ZtZ[j] + 1.0;
		double		r = g->Zty[j];

		for (b = 0; b < p; b++)
			r -= g->ZtX[j * p + b] * betac[b];
		for (e = bk->xptr[j]; e < bk->xptr[j + 1]; e++)
			r -= bk->pS[bk->xcol[e]] * bk->xval[bk->xvoff[e]] * bk->uD[bk->xcol[e]];
		r *= theta0 / L2;
		uu[0] += r * r;
		trK[0] += 1.0 / L2;
		if (gp != NULL)
		{
			gp->u0[j] = r;
			gp->inv4 += 1.0 / (L2 * L2);
		}
	}
	for (j = 0; j < bk->ncls; j++)
	{
		double		L2 = t2 * bk->pz[j] + 1.0;

		psi[j] = bk->pomega[j] / L2;
		psi[bk->ncls + j] = psi[j] / L2;
	}
	ok = lmm_blocked_pairs_traces(bk, nS, bk->pS, psi, psi + bk->ncls, bk->Sinv,
								  gp != NULL ? gp->G : NULL, out);
	trK[0] += out[0];
	if (gp != NULL)
		gp->s4 = out[1];
	lmm_free(psi);
	if (!ok)
		w->interrupted = 1;
	return ok;
}

/*
 * The derivatives of the criterion's log-determinant part (dld: log|K|
 * under REML, log|A| under ML) and of pwrss by each theta_k, at the theta
 * the criterion was last evaluated at, its value being f: the factor in M
 * is reused.  When gp is not NULL it also receives the sums the Hessian
 * builds on (GradParts; all terms scalar only).  Terms with q > 1 go to
 * lmm_blocked_vgrad.c.  Returns f, or HUGE_VAL (derivatives undefined) on
 * interrupt, NAN where a vector term's T is singular.
 */
double
lmm_blocked_gradient_parts(Work *w, const double *theta, double f, double *dld,
						   double *dpw, GradParts *gp)
{
	const Gram *g = w->g;
	Blocks	   *bk = g->blk;
	int			p = g->p;
	int64_t		m = bk->m;
	int64_t		nS = m + (w->reml ? p : 0);
	double		betac[LMM_MAX_COLUMNS];
	double		trK[LMM_MAX_TERMS] = {0};
	double		uu[LMM_MAX_TERMS] = {0};
	double	   *Sinv,
			   *uD;
	int64_t		i,
				j;
	int			t,
				a,
				b;

	if (!isfinite(f))
		return f;
	if (!lmm_blocked_scalar(bk))
		return gp == NULL ? lmm_blocked_vgradient_parts(w, f, dld, dpw) : HUGE_VAL;
	if (bk->Sinv == NULL)
	{
		bk->Sinv = lmm_alloc(sizeof(double) * (size_t) (m + p) * (size_t) (m + p));
		bk->uD = lmm_alloc(sizeof(double) * (size_t) (m > 0 ? m : 1));
	}
	Sinv = bk->Sinv;
	uD = bk->uD;
	lmm_solve_beta(w, betac);

	/* u_D, and S^-1 from the factor's leading nS rows */
	lmm_blocked_dense_modes(bk, p, betac, uD);
	if (bk->sinv_n != nS)
	{
		if (!lmm_blocked_inverse(bk, nS, Sinv))
			return HUGE_VAL;
		bk->sinv_n = nS;
	}
	for (t = 1; t < bk->k; t++)
		for (j = 0; j < bk->J[t]; j++)
		{
			i = bk->off[t] + j;
			trK[t] += Sinv[i + i * nS];
			uu[t] += uD[i] * uD[i];
		}

	/* the first term, level by level: u_j and (K^-1)_jj */
	if (bk->pptr != NULL &&
		!first_term_by_pairs(w, theta[0], nS, betac, trK, uu, gp))
		return HUGE_VAL;
	for (j = 0; j < g->nlevels && bk->pptr == NULL; j++)
	{
		int			ncol,
					nx,
					nw;
		double		Lj,
					r,
					s = 0.0;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
		{
			w->interrupted = 1;
			return HUGE_VAL;
		}
		lmm_level_factor(w, g->ZtZ + (size_t) j, g->ZtX + (size_t) j * p,
						 g->Zty + (size_t) j);
		ncol = lmm_blocked_level_rhs(w, bk, j);
		nx = ncol - p - 1;
		nw = w->reml ? nx + p : nx;
		Lj = w->L[0];
		r = bk->W[ncol - 1];
		for (a = 0; a < p; a++)
			r -= bk->W[nx + a] * betac[a];
		for (a = 0; a < nx; a++)
			r -= bk->W[a] * uD[bk->widx[a]];
		r /= Lj;
		uu[0] += r * r;
		for (a = 0; a < nw; a++)
		{
			int64_t		ra = bk->widx[a];
			double		wa = bk->W[a];
			double		row = 0.0;

			for (b = 0; b < a; b++)
			{
				int64_t		cb = bk->widx[b];

				row += bk->W[b] * (ra >= cb ? Sinv[ra + cb * nS] : Sinv[cb + ra * nS]);
			}
			s += wa * (2.0 * row + wa * Sinv[ra + ra * nS]);
		}
		trK[0] += (1.0 + s) / (Lj * Lj);
		if (gp != NULL)
		{
			double		L2 = Lj * Lj;

			/* G += W_j'W_j / L_j^2, both triangles */
			for (b = 0; b < nw; b++)
			{
				double		wb = bk->W[b] / L2;

				for (a = 0; a < nw; a++)
					gp->G[bk->widx[a] + bk->widx[b] * nS] += bk->W[a] * wb;
			}
			gp->u0[j] = r;
			gp->inv4 += 1.0 / (L2 * L2);
			gp->s4 += s / (L2 * L2);
		}
	}
	if (gp != NULL)
	{
		memcpy(gp->trK, trK, sizeof(trK));
		memcpy(gp->uu, uu, sizeof(uu));
	}

	for (t = 0; t < bk->k; t++)
	{
		int			k = bk->toff[t];

		if (theta[k] == 0.0)
			dld[k] = dpw[k] = 0.0;
		else
		{
			dld[k] = 2.0 * ((double) bk->J[t] - trK[t]) / theta[k];
			dpw[k] = -2.0 * uu[t] / theta[k];
		}
	}
	return f;
}

/*
 * The criterion at theta, with the derivatives of its log-determinant part
 * and of pwrss by each theta_k (lmm_blocked_gradient_parts).  Leaves w as lmm_criterion
 * does.  Returns HUGE_VAL where the criterion is undefined, or on interrupt.
 */
double
lmm_blocked_gradient(Work *w, const double *theta, double *dld, double *dpw)
{
	return lmm_blocked_gradient_parts(w, theta, lmm_blocked_criterion(w, theta),
									  dld, dpw, NULL);
}

/* The gradient of the criterion (ntheta entries) at the theta last evaluated, whose value is f. */
static double
criterion_grad_here(Work *w, const double *theta, double f, double *grad)
{
	double	   *dld = lmm_alloc(sizeof(double) * 2 * w->ntheta);
	double	   *dpw = dld + w->ntheta;
	double		nu = w->reml ? w->g->n - w->g->p : w->g->n;
	int			k;

	f = lmm_blocked_gradient_parts(w, theta, f, dld, dpw, NULL);
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
lmm_blocked_criterion_grad(Work *w, const double *theta, double *grad)
{
	if (lmm_blocked_singular(w, theta))
		return lmm_blocked_singular_grad(w, theta, grad);
	return criterion_grad_here(w, theta, lmm_blocked_criterion(w, theta), grad);
}

/*
 * The gradient g and the Hessian B of the criterion at theta (all entries
 * nonzero), where it was last evaluated (its value being f), from the
 * analytic second derivatives (lmm_blocked_hessian):
 *	 f = ld + nu log pwrss, so B = d2ld + nu (d2pw / pwrss - dpw dpw' / pwrss^2).
 * Returns f, HUGE_VAL when the Hessian is not available.
 */
static double
hessian_here(Work *w, const double *theta, double f, double *g, double *B)
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
 * The starting point of BFGS at theta (no entry 0): the criterion f, the
 * gradient g and the inverse Hessian H, from the analytic Hessian when it
 * is positive definite, else the identity scaled by its diagonal (or so
 * that the first step moves theta by 0.1).  Returns f, HUGE_VAL where the
 * criterion is undefined.
 */
static double
starting_point(Work *w, const double *theta, double *g, double *H)
{
	int			n = w->ntheta;
	double		B[LMM_MAX_TERMS * LMM_MAX_TERMS];
	double		D[LMM_MAX_TERMS];
	double		f,
				gmax = 0.0;
	int			a;

	w->n_eval++;
	f = hessian_here(w, theta, lmm_blocked_criterion(w, theta), g, B);
	if (!isfinite(f))
		return f;
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
 * more than 1e-6 of theta (the next would be about its square: on
 * InstEval 1.6e-7 was followed by 1.9e-14), at most three, each kept only
 * if the criterion is no worse (allowing for its rounding).  BFGS stops where its line search can no longer tell the
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
		if (!isfinite(hessian_here(w, theta, lmm_blocked_criterion(w, theta), g, B)) ||
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
		fx = lmm_blocked_criterion(w, x);
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
 * The criterion is even in each scalar term's theta, so the search runs
 * unbounded and folds theta back to |theta| at the end: a bound would make
 * theta_k = 0, where the gradient vanishes, a trap a projected step could
 * fall into; for the same reason no step comes close to 0, and a start
 * there (a restart from a bound) moves to 0.1.  Steps are capped so that
 * no theta changes by more than BFGS_MAX_STEP times its size (at least
 * BFGS_STEP_FLOOR): a small theta, near the flat middle of the even
 * criterion, would otherwise be thrown far past the optimum and back (on
 * InstEval, 19 evaluations instead of 14).  They are backtracked (on the
 * criterion alone, the cheaper evaluation) until the Armijo condition
 * holds; the inverse Hessian starts from the analytic one (starting_point).
 */
int
lmm_blocked_optimize(Work *w, double *theta, double *fmin)
{
	int			n = w->ntheta;
	double		H[LMM_MAX_TERMS * LMM_MAX_TERMS];
	double		g[LMM_MAX_TERMS],
				gn[LMM_MAX_TERMS],
				d[LMM_MAX_TERMS],
				xn[LMM_MAX_TERMS],
				sv[LMM_MAX_TERMS],
				yv[LMM_MAX_TERMS],
				Hy[LMM_MAX_TERMS];
	double		f,
				fn;
	int			it,
				a,
				b,
				result = 0;

	/* a start on theta_k = 0 would stay there: start such terms at 0.1 */
	for (a = 0; a < n; a++)
		if (theta[a] == 0.0)
			theta[a] = 0.1;
	f = starting_point(w, theta, g, H);
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
			big = fmax(big, fabs(d[a]) / fmax(fabs(theta[a]), BFGS_STEP_FLOOR));
		if (big > BFGS_MAX_STEP)
		{
			for (a = 0; a < n; a++)
				d[a] *= BFGS_MAX_STEP / big;
			slope *= BFGS_MAX_STEP / big;
		}

		/* backtrack on the criterion alone, then the gradient at the point taken */
		for (k = 0; k < 40; k++)
		{
			int			near_zero = 0;

			/*
			 * No step comes within a tenth of a theta's size of 0, where the
			 * gradient vanishes by symmetry (a saddle when 0 is no minimum):
			 * theta falls at most tenfold a step, and a singular fit's theta
			 * reaches the boundary check below 1e-5 in a few steps.
			 */
			for (a = 0; a < n; a++)
			{
				xn[a] = theta[a] + t * d[a];
				if (fabs(xn[a]) < 0.1 * fabs(theta[a]))
					near_zero = 1;
			}
			if (near_zero)
			{
				t *= 0.5;
				continue;
			}
			w->n_eval++;
			fn = lmm_blocked_criterion(w, xn);
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
		fn = criterion_grad_here(w, xn, fn, gn);
		if (w->interrupted)
			return -1;
		if (!isfinite(fn))
			break;

		for (a = 0; a < n; a++)
		{
			sv[a] = xn[a] - theta[a];
			yv[a] = gn[a] - g[a];
			sy += sv[a] * yv[a];
			move = fmax(move, fabs(sv[a]) / fmax(1.0, fabs(xn[a])));
			gmax = fmax(gmax, fabs(gn[a]) * fmax(1.0, fabs(xn[a])));
		}
		memcpy(theta, xn, sizeof(double) * n);
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
	if (result == 1 && newton_polish(w, theta, &f) < 0)
		return -1;
	for (a = 0; a < n; a++)
		theta[a] = fabs(theta[a]);
	*fmin = f;
	return result;
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
			hessian_here(&w, theta, lmm_blocked_criterion(&w, theta), grad, hess) :
			lmm_blocked_criterion_grad(&w, theta, grad);
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
lmm_terms_criterion_gradient(const LmmTermStats *s, int reml, const double *theta,
							 double *f, double *grad)
{
	return terms_derivatives(s, reml, theta, f, grad, NULL);
}

/* The criterion, its gradient and its Hessian (terms_derivatives), for tests. */
LmmStatus
lmm_terms_criterion_hessian(const LmmTermStats *s, int reml, const double *theta,
							double *f, double *grad, double *hess)
{
	return terms_derivatives(s, reml, theta, f, grad, hess);
}
