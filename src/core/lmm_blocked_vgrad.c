/*
 * lmm_blocked_vgrad.c
 *	  The analytic gradient of the profiled criterion for several terms some
 *	  of which are vector-valued (q_k > 1: correlated random slopes), with
 *	  the blocked factor of lmm_blocked.c.
 *
 * Why: BOBYQA alone stops within about 1e-7 of the optimum, and where
 * exactly depends on the last bits of the statistics, so a parallel fit
 * (the same rows summed in another order) would differ from the serial
 * one in the sixth digit of its variance components.  The gradient lets a
 * Newton polish (lmm_optimize.c) find the optimum to rounding level.
 *
 * As in lmm_blocked_grad.c, K = Lambda~'C Lambda~ + J is the whole
 * penalized system (REML; ML takes A, its Z block), and Lambda = T_k on
 * each level of term k.  For theta_i at (r, c) of T_k, E_i = e_r e_c', and
 * T_k nonsingular, K^-1 dK/dtheta_i = (I - K^-1 J) Lambda~^-1 dLambda~/dtheta_i
 * gives
 *	 d log|K| / d theta_i	= 2 (J_k (T_k^-1)_cr - (D_k T_k^-1)_cr),
 *	 d pwrss / d theta_i	= -2 (T_k^-T U_k)_rc	(envelope theorem),
 * with J_k the levels of term k, D_k = sum_j (K^-1)_jj over its levels'
 * q_k x q_k diagonal blocks, and U_k = sum_j u_j u_j' over its spherical
 * conditional modes at beta-hat(theta): the optimal u has
 * Lambda'Z'r = u, so Z'r = Lambda^-T u and -2 r'Z dLambda u = -2 u'
 * Lambda^-1 dLambda u.
 *
 * The diagonal blocks of K^-1: on the dense rows (terms 1..) those of S^-1,
 * S = L_S L_S' the Schur complement left in M; on level j of the first
 * term L_j^-T (I + W_j S^-1 W_j') L_j^-1, W_j the level's q_0 x nS rows of
 * cross (and, under REML, X) columns (lmm_blocked_level_rhs).
 *
 * Where some T_k is singular (a diagonal of theta at its bound 0) these
 * identities do not hold (lmm_blocked_vgradient_parts returns NAN); the
 * gradient there is lmm_blocked_singular_grad's (lmm_deriv.c).
 */
#include <math.h>
#include <string.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/*
 * T^-1 (q x q, lower, row-major) of one term's T; 0 when a diagonal is 0
 * and T is singular.
 */
static int
invert_T(int q, const double *T, double *Tinv)
{
	int			a;

	for (a = 0; a < q; a++)
		if (T[a * q + a] == 0.0 || !isfinite(T[a * q + a]))
			return 0;
	memset(Tinv, 0, sizeof(double) * q * q);
	for (a = 0; a < q; a++)
		Tinv[a * q + a] = 1.0;
	lmm_forward_solve(q, q, T, Tinv);
	return 1;
}

/*
 * The first term's share of D and U: for each level the spherical modes
 * u_j = L_j^-T (cu_j - RZX_j betac - L_Dj' u_D) into U, and L_j^-T (I +
 * W_j S^-1 W_j') L_j^-1 into D.  0 on interrupt.
 */
static int
first_term(Work *w, int64_t nS, const double *betac, double *D, double *U)
{
	const Gram *g = w->g;
	Blocks	   *bk = g->blk;
	int			p = g->p;
	int			q0 = bk->q[0];
	const double *uD = bk->uD;
	double	   *G = lmm_alloc(sizeof(double) * q0 * (bk->maxcols + q0));
	double	   *H = lmm_alloc(sizeof(double) * q0 * q0);
	double	   *P = lmm_alloc(sizeof(double) * q0 * q0);
	double	   *r = lmm_alloc(sizeof(double) * q0);
	int64_t		j;
	int			a,
				b,
				c,
				d,
				ok = 1;

	for (j = 0; j < g->nlevels; j++)
	{
		int			ncol,
					nx,
					nw;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
		{
			w->interrupted = 1;
			ok = 0;
			break;
		}
		lmm_level_factor(w, g->ZtZ + (size_t) j * q0 * q0,
						 g->ZtX + (size_t) j * q0 * p, g->Zty + (size_t) j * q0);
		ncol = lmm_blocked_level_rhs(w, bk, j);
		nx = ncol - p - 1;
		nw = w->reml ? nx + p : nx;

		/* u_j, and U += u_j u_j' */
		lmm_blocked_level_u(w, bk, ncol, betac, uD, r);
		for (a = 0; a < q0; a++)
			for (b = 0; b < q0; b++)
				U[a * q0 + b] += r[a] * r[b];

		/* H = I + W_j S^-1 W_j' over the nw columns, by G = W_j S^-1 */
		for (a = 0; a < q0; a++)
			for (c = 0; c < nw; c++)
			{
				double		s = 0.0;

				for (d = 0; d < nw; d++)
					s += bk->W[a * ncol + d] * lmm_sinv_at(bk, nS, bk->widx[c], bk->widx[d]);
				G[a * nw + c] = s;
			}
		for (a = 0; a < q0; a++)
			for (b = 0; b <= a; b++)
			{
				double		s = (a == b) ? 1.0 : 0.0;

				for (c = 0; c < nw; c++)
					s += G[a * nw + c] * bk->W[b * ncol + c];
				H[a * q0 + b] = H[b * q0 + a] = s;
			}

		/* D += P'H P with P = L_j^-1 */
		memset(P, 0, sizeof(double) * q0 * q0);
		for (a = 0; a < q0; a++)
			P[a * q0 + a] = 1.0;
		lmm_forward_solve(q0, q0, w->L, P);
		for (a = 0; a < q0; a++)
			for (b = 0; b < q0; b++)
			{
				double		s = 0.0;

				for (c = 0; c < q0; c++)
					s += H[a * q0 + c] * P[c * q0 + b];
				G[a * q0 + b] = s;
			}
		for (a = 0; a < q0; a++)
			for (b = 0; b <= a; b++)
			{
				double		s = 0.0;

				for (c = 0; c < q0; c++)
					s += P[c * q0 + a] * G[c * q0 + b];
				D[a * q0 + b] += s;
				if (b < a)
					D[b * q0 + a] += s;
			}
	}
	lmm_free(G);
	lmm_free(H);
	lmm_free(P);
	lmm_free(r);
	return ok;
}

/*
 * The derivatives of the log-determinant part (dld) and of pwrss (dpw) by
 * each theta, for terms of any q, at the theta the criterion was last
 * evaluated at (its value f; M's factor and the T_k are reused).  Returns f; HUGE_VAL on
 * interrupt, NAN where some T_k is singular and the gradient undefined.
 */
double
lmm_blocked_vgradient_parts(Work *w, double f, double *dld, double *dpw)
{
	const Gram *g = w->g;
	Blocks	   *bk = g->blk;
	int			p = g->p;
	int64_t		m = bk->m;
	int64_t		nS = m + (w->reml ? p : 0);
	double		betac[LMM_MAX_COLUMNS];
	double		Tinv[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	double	   *D[LMM_MAX_TERMS],
			   *U[LMM_MAX_TERMS];
	int64_t		j;
	int			t,
				a,
				b,
				c,
				ok = 1;

	if (!isfinite(f))
		return f;
	lmm_solve_beta(w, betac);
	if (!lmm_blocked_sinv(w, nS))
		return HUGE_VAL;
	lmm_blocked_dense_modes(bk, p, betac, bk->uD);
	for (t = 0; t < bk->k; t++)
	{
		D[t] = lmm_alloc0(sizeof(double) * bk->q[t] * bk->q[t]);
		U[t] = lmm_alloc0(sizeof(double) * bk->q[t] * bk->q[t]);
	}

	/* the dense terms: D_t and U_t from S^-1's diagonal blocks and u_D */
	for (t = 1; t < bk->k; t++)
	{
		int			q = bk->q[t];

		for (j = 0; j < bk->J[t]; j++)
		{
			int64_t		at = bk->off[t] + j * q;

			for (a = 0; a < q; a++)
				for (b = 0; b < q; b++)
				{
					D[t][a * q + b] += lmm_sinv_at(bk, nS, at + a, at + b);
					U[t][a * q + b] += bk->uD[at + a] * bk->uD[at + b];
				}
		}
	}
	if (!first_term(w, nS, betac, D[0], U[0]))
	{
		f = HUGE_VAL;
		ok = 0;
	}

	/* theta_i at (r, c) of T_t, column by column as in lmm_theta_to_T */
	for (t = 0; t < bk->k && ok; t++)
	{
		int			q = bk->q[t];
		int			i = bk->toff[t];
		int			r;

		if (!invert_T(q, bk->T[t], Tinv))
		{
			f = NAN;
			break;
		}
		for (c = 0; c < q; c++)
			for (r = c; r < q; r++, i++)
			{
				double		DTi = 0.0,
							TiU = 0.0;

				for (a = 0; a < q; a++)
				{
					DTi += D[t][c * q + a] * Tinv[a * q + r];
					TiU += Tinv[a * q + r] * U[t][a * q + c];
				}
				dld[i] = 2.0 * ((double) bk->J[t] * Tinv[c * q + r] - DTi);
				dpw[i] = -2.0 * TiU;
			}
	}
	for (t = 0; t < bk->k; t++)
	{
		lmm_free(D[t]);
		lmm_free(U[t]);
	}
	return f;
}
