/*
 * lmm_blocked_grad.c
 *	  The analytic gradient of the profiled criterion for several terms that
 *	  are all scalar (one z column each: random intercepts, uncorrelated
 *	  slopes), with the blocked factor of lmm_blocked.c.
 *
 * Why: a large fit spends its time in evaluations, and BOBYQA needs a
 * hundred or more where a quasi-Newton method on the gradient needs a few
 * dozen.
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
	ok = lmm_blocked_pairs_traces(bk, nS, bk->pS, psi, psi + bk->ncls,
								  bk->sp ? NULL : bk->Sinv,
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
	double	   *uD;
	int64_t		i,
				j;
	int			t,
				a,
				b;

	if (!isfinite(f))
		return f;
	if (!lmm_blocked_scalar(bk))
		return gp == NULL ? lmm_blocked_vgradient_parts(w, f, dld, dpw) : HUGE_VAL;
	lmm_solve_beta(w, betac);

	/* S^-1 from the factor's leading nS rows, and u_D */
	if (!lmm_blocked_sinv(w, nS))
		return HUGE_VAL;
	uD = bk->uD;
	lmm_blocked_dense_modes(bk, p, betac, uD);
	for (t = 1; t < bk->k; t++)
		for (j = 0; j < bk->J[t]; j++)
		{
			i = bk->off[t] + j;
			trK[t] += lmm_sinv_at(bk, nS, i, i);
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

				row += bk->W[b] * lmm_sinv_at(bk, nS, ra, cb);
			}
			s += wa * (2.0 * row + wa * lmm_sinv_at(bk, nS, ra, ra));
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
