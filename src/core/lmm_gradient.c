/*
 * lmm_gradient.c
 *	  The analytic gradient of the profiled criterion where the factor L is
 *	  block-diagonal (one term, no dense part: lmm_derivs), as its two
 *	  parts: the derivatives of the log-determinants and of pwrss.  It holds
 *	  at a singular T.
 *
 * With Lambda = T, A_j = Z_j'Z_j, M_j = T'A_jT + I = L_jL_j', X_j = Z_j'X,
 * P_j = M_j^-1 T', V = (RX'RX)^-1, S_j = X_j V X_j', and theta_k the
 * element (r, c) of T, the derivatives are
 *	 d log|M_j|		= 2 (P_j A_j)[c][r]
 *	 d log|RX'RX|	= -2 (P_j S_j)[c][r] + 2 (P_j S_j P_j' T'A_j)[c][r]
 *	 d pwrss		= -2 sum_j u_j[c] (Z_j'r_j)[r]	(envelope theorem),
 * u_j = P_j e_j the conditional mode, e_j = Z_j'y - X_j betac, and
 * Z_j'r_j = e_j - A_j T u_j the level's residuals seen through Z_j.  As in
 * the criterion, q = 1 and q = 2 have their own loops with the algebra
 * written out; the general loop goes through the factor L_j.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_infer.h"
#include "lmm_threads.h"

/*
 * One thread's share of the levels (sp): what every level loop
 * reads, the fixed effects and V at the current theta (shared), its own
 * scratch, and its own sums, added in the parts' order by lmm_gradient.
 */
typedef struct GradCtx
{
	LevelSpan	sp;
	const double *betac;		/* p */
	const double *V;			/* p x p, both triangles */
	const double *E;			/* p x p: RX'^-1, lower, row-major */
	const lmm_v8d *Ev;			/* p <= 8: E's columns, zero past p; else NULL */
	double	   *v0;				/* p scratch */
	double	   *v1;				/* p scratch */
	double	   *D;				/* q x q: d log-determinants, [c][r] */
	double	   *Dpw;			/* q x q: sum u[c] (Z'r)[r] */
} GradCtx;

/*
 * v = RX'^-1 x = E x, so that x' V y = v . (RX'^-1 y): the quadratic forms
 * of S = X V X' from one triangular product per row of X, half the work of
 * multiplying by V.  A product with the explicit inverse E (made once per
 * gradient) rather than a substitution, so that v's entries do not wait
 * for each other.
 */
static inline void
mult_E(int p, const double *E, const double *x, double *v)
{
	int			i,
				a;

	for (i = 0; i < p; i++)
	{
		double		s = 0.0;

		for (a = 0; a <= i; a++)
			s += E[i * p + a] * x[a];
		v[i] = s;
	}
}

/* Dot product of two p-vectors. */
static inline double
dot(int p, const double *x, const double *y)
{
	double		s = 0.0;
	int			k;

	for (k = 0; k < p; k++)
		s += x[k] * y[k];
	return s;
}

/* Dot product of two vectors of eight, summed pairwise. */
static inline double
dot8(const lmm_v8d *a, const lmm_v8d *b)
{
	lmm_v8d		m = *a * *b;

	return ((m[0] + m[1]) + (m[2] + m[3])) + ((m[4] + m[5]) + (m[6] + m[7]));
}

/*
 * v = E x for a row x of X (p <= 8): the sum of E's columns weighted by
 * x's entries, eight rows of E at once.  Each entry is summed in the order
 * mult_E sums it.
 */
static inline void
mult_Ev(int p, const lmm_v8d *Ev, const double *x, lmm_v8d *v)
{
	lmm_v8d		s = {0};
	int			k;

	for (k = 0; k < p; k++)
		s += x[k] * Ev[k];
	*v = s;
}

/* Levels of a q = 1 fit: P = t / M, everything a scalar. */
LMM_SIMD_CLONES
static void
grad_q1_levels(GradCtx *cx)
{
	Work	   *w = cx->sp.w;
	const Gram *g = w->g;
	int			p = g->p;
	double		t = w->T[0];
	double		D = 0.0,
				Dpw = 0.0;
	int64_t		j;

	for (j = cx->sp.j0; j < cx->sp.j1; j++)
	{
		const double *X = g->ZtX + (size_t) j * p;
		double		a = g->ZtZ[j];
		double		P = t / (t * t * a + 1.0);
		double		e = g->Zty[j] - dot(p, X, cx->betac);
		double		u = P * e;

		if (lmm_span_stop(&cx->sp, j))
			return;
		D += 2.0 * P * a;
		Dpw += u * (e - a * t * u);
		if (w->reml)
		{
			double		S;

			if (cx->Ev != NULL)
			{
				lmm_v8d		v;

				mult_Ev(p, cx->Ev, X, &v);
				S = dot8(&v, &v);
			}
			else
			{
				mult_E(p, cx->E, X, cx->v0);
				S = dot(p, cx->v0, cx->v0);
			}

			D -= 2.0 * P * S - 2.0 * P * S * P * t * a;
		}
	}
	cx->D[0] = D;
	cx->Dpw[0] = Dpw;
}

/*
 * Levels of a q = 2 fit, T = [t0 0; t1 t2]: M^-1 from the 2 x 2 M directly
 * and P = M^-1 T'.
 */
static inline __attribute__((always_inline)) void
grad_q2_p(GradCtx *cx, int p)
{
	Work	   *w = cx->sp.w;
	const Gram *g = w->g;
	double		t0 = w->T[0],
				t1 = w->T[2],
				t2 = w->T[3];
	double		D00 = 0.0,
				D01 = 0.0,
				D11 = 0.0,
				W00 = 0.0,
				W01 = 0.0,
				W11 = 0.0;
	int64_t		j;

	for (j = cx->sp.j0; j < cx->sp.j1; j++)
	{
		const double *A = g->ZtZ + (size_t) j * 4;
		const double *X0 = g->ZtX + (size_t) j * 2 * p;
		const double *X1 = X0 + p;
		const double *y = g->Zty + (size_t) j * 2;
		/* M = T'AT + I and its inverse */
		double		m00 = t0 * (A[0] * t0 + A[1] * t1) + t1 * (A[2] * t0 + A[3] * t1) + 1.0;
		double		m10 = t2 * (A[2] * t0 + A[3] * t1);
		double		m11 = t2 * A[3] * t2 + 1.0;
		double		id = 1.0 / (m00 * m11 - m10 * m10);
		double		i00 = m11 * id,
					i01 = -m10 * id,
					i11 = m00 * id;
		/* P = M^-1 T', T' = [t0 t1; 0 t2] */
		double		p00 = i00 * t0,
					p01 = i00 * t1 + i01 * t2,
					p10 = i01 * t0,
					p11 = i01 * t1 + i11 * t2;
		/* PA, e, u = P e, Z'r = e - A T u */
		double		pa00 = p00 * A[0] + p01 * A[2],
					pa01 = p00 * A[1] + p01 * A[3],
					pa11 = p10 * A[1] + p11 * A[3];
		double		e0 = y[0] - dot(p, X0, cx->betac),
					e1 = y[1] - dot(p, X1, cx->betac);
		double		u0 = p00 * e0 + p01 * e1,
					u1 = p10 * e0 + p11 * e1;
		double		tu0 = t0 * u0,
					tu1 = t1 * u0 + t2 * u1;
		double		z0 = e0 - A[0] * tu0 - A[1] * tu1,
					z1 = e1 - A[2] * tu0 - A[3] * tu1;

		if (lmm_span_stop(&cx->sp, j))
			return;
		D00 += 2.0 * pa00;
		D01 += 2.0 * pa01;
		D11 += 2.0 * pa11;
		W00 += u0 * z0;
		W01 += u0 * z1;
		W11 += u1 * z1;
		if (w->reml)
		{
			/* S = X V X'; R = P S; D -= 2 R - 2 R P' T'A */
			double		s00,
						s01,
						s11,
						r00,
						r01,
						r10,
						r11;

			/* K = P' T'A = P' (T'A); T'A = [t0 A00 + t1 A10, t0 A01 + t1 A11; t2 A10, t2 A11] */
			double		ta00 = t0 * A[0] + t1 * A[2],
						ta01 = t0 * A[1] + t1 * A[3],
						ta10 = t2 * A[2],
						ta11 = t2 * A[3];
			double		k00 = p00 * ta00 + p10 * ta10,
						k01 = p00 * ta01 + p10 * ta11,
						k10 = p01 * ta00 + p11 * ta10,
						k11 = p01 * ta01 + p11 * ta11;

			if (cx->Ev != NULL)
			{
				lmm_v8d		v0,
							v1;

				mult_Ev(p, cx->Ev, X0, &v0);
				mult_Ev(p, cx->Ev, X1, &v1);
				s00 = dot8(&v0, &v0);
				s01 = dot8(&v0, &v1);
				s11 = dot8(&v1, &v1);
			}
			else
			{
				mult_E(p, cx->E, X0, cx->v0);
				mult_E(p, cx->E, X1, cx->v1);
				s00 = dot(p, cx->v0, cx->v0);
				s01 = dot(p, cx->v0, cx->v1);
				s11 = dot(p, cx->v1, cx->v1);
			}
			r00 = p00 * s00 + p01 * s01;
			r01 = p00 * s01 + p01 * s11;
			r10 = p10 * s00 + p11 * s01;
			r11 = p10 * s01 + p11 * s11;
			D00 -= 2.0 * r00 - 2.0 * (r00 * k00 + r01 * k10);
			D01 -= 2.0 * r01 - 2.0 * (r00 * k01 + r01 * k11);
			D11 -= 2.0 * r11 - 2.0 * (r10 * k01 + r11 * k11);
		}
	}
	cx->D[0] = D00;
	cx->D[1] = D01;
	cx->D[3] = D11;
	cx->Dpw[0] = W00;
	cx->Dpw[1] = W01;
	cx->Dpw[3] = W11;
}

/*
 * grad_q2 with p a constant for p <= 8, so that the loops over a row of X
 * unroll.
 */
LMM_SIMD_CLONES
static void
grad_q2_levels(GradCtx *cx)
{
	switch (cx->sp.w->g->p)
	{
		case 1:
			grad_q2_p(cx, 1);
			break;
		case 2:
			grad_q2_p(cx, 2);
			break;
		case 3:
			grad_q2_p(cx, 3);
			break;
		case 4:
			grad_q2_p(cx, 4);
			break;
		case 5:
			grad_q2_p(cx, 5);
			break;
		case 6:
			grad_q2_p(cx, 6);
			break;
		case 7:
			grad_q2_p(cx, 7);
			break;
		case 8:
			grad_q2_p(cx, 8);
			break;
		default:
			grad_q2_p(cx, cx->sp.w->g->p);
			break;
	}
}

/*
 * A part's levels for lmm_run_threads, which takes the address of plain
 * functions only (not of the clones above: an address of a function with
 * target_clones is an indirect function, which LLVM's bitcode summary of
 * the module does not handle).
 */
static void
grad_q1(void *arg)
{
	grad_q1_levels(arg);
}

/* As grad_q1, for q = 2. */
static void
grad_q2(void *arg)
{
	grad_q2_levels(arg);
}

/* Levels of any q, through the level's factor L (in w's scratch, so on one thread only). */
static void
grad_any(void *arg)
{
	GradCtx    *cx = arg;
	Work	   *w = cx->sp.w;
	const Gram *g = w->g;
	int			p = g->p;
	int			q = g->q;
	const double *betac = cx->betac;
	const double *V = cx->V;
	double	   *D = cx->D;
	double	   *Dpw = cx->Dpw;
	double	   *Linv = lmm_alloc(sizeof(double) * q * q);
	double	   *TA = lmm_alloc(sizeof(double) * q * q);
	double	   *G = lmm_alloc(sizeof(double) * q * p);
	double	   *Q = lmm_alloc(sizeof(double) * q * p);
	double	   *u = lmm_alloc(sizeof(double) * q);
	double	   *Tu = lmm_alloc(sizeof(double) * q);
	int64_t		j;
	int			a,
				b,
				c,
				r,
				k;

	for (j = cx->sp.j0; j < cx->sp.j1; j++)
	{
		const double *A = g->ZtZ + (size_t) j * q * q;
		const double *ZtX = g->ZtX + (size_t) j * q * p;
		const double *Zty = g->Zty + (size_t) j * q;
		const double *T = w->T;
		const double *L = w->L;

		if (lmm_span_stop(&cx->sp, j))
			break;
		lmm_level_factor(w, A, ZtX, Zty);

		/* Linv = L^-1; TA = T'A */
		for (a = 0; a < q; a++)
			for (b = 0; b < q; b++)
				Linv[a * q + b] = (a == b) ? 1.0 : 0.0;
		lmm_forward_solve(q, q, L, Linv);
		for (a = 0; a < q; a++)
			for (b = 0; b < q; b++)
			{
				double		s = 0.0;

				for (k = a; k < q; k++)
					s += T[k * q + a] * A[k * q + b];
				TA[a * q + b] = s;
			}

		/* log|M_j|: D += 2 M^-1 T'A with M^-1 = Linv'Linv */
		for (c = 0; c < q; c++)
			for (r = 0; r < q; r++)
			{
				double		s = 0.0;

				for (a = 0; a < q; a++)
				{
					double		mca = 0.0;

					for (k = (a > c ? a : c); k < q; k++)
						mca += Linv[k * q + c] * Linv[k * q + a];
					s += mca * TA[a * q + r];
				}
				D[c * q + r] += 2.0 * s;
			}

		/* u = L'^-1 (cu - RZX betac); Z'r = Zty - ZtX betac - A T u */
		for (a = 0; a < q; a++)
		{
			double		s = w->cu[a];

			for (k = 0; k < p; k++)
				s -= w->RZX[a * p + k] * betac[k];
			u[a] = s;
		}
		lmm_backward_solve(q, 1, L, u);
		for (a = 0; a < q; a++)
		{
			double		s = 0.0;

			for (k = 0; k <= a; k++)
				s += T[a * q + k] * u[k];
			Tu[a] = s;
		}
		for (r = 0; r < q; r++)
		{
			double		zr = Zty[r];

			for (k = 0; k < p; k++)
				zr -= ZtX[r * p + k] * betac[k];
			for (k = 0; k < q; k++)
				zr -= A[r * q + k] * Tu[k];
			for (c = 0; c < q; c++)
				Dpw[c * q + r] += u[c] * zr;
		}

		if (!w->reml)
			continue;

		/* G = L'^-1 RZX, Q = G V; D -= 2 Q ZtX' - 2 (Q G') T'A */
		memcpy(G, w->RZX, sizeof(double) * q * p);
		lmm_backward_solve(q, p, L, G);
		for (a = 0; a < q; a++)
			for (b = 0; b < p; b++)
			{
				double		s = 0.0;

				for (k = 0; k < p; k++)
					s += G[a * p + k] * V[k * p + b];
				Q[a * p + b] = s;
			}
		for (c = 0; c < q; c++)
			for (r = 0; r < q; r++)
			{
				double		qz = 0.0;
				double		pta = 0.0;

				for (k = 0; k < p; k++)
					qz += Q[c * p + k] * ZtX[r * p + k];
				for (a = 0; a < q; a++)
				{
					double		pca = 0.0;

					for (k = 0; k < p; k++)
						pca += Q[c * p + k] * G[a * p + k];
					pta += pca * TA[a * q + r];
				}
				D[c * q + r] -= 2.0 * qz - 2.0 * pta;
			}
	}

	lmm_free(Linv);
	lmm_free(TA);
	lmm_free(G);
	lmm_free(Q);
	lmm_free(u);
	lmm_free(Tu);
}

/*
 * The gradient of the criterion at the theta it was last evaluated at (its
 * value being f; the factors in w are reused), in two parts: dld, the
 * derivative of the log-determinants (log|L|^2, plus log|RX|^2 for REML),
 * and dpw, that of pwrss.  The criterion's gradient is dld + nu dpw / pwrss.
 * Returns f, or HUGE_VAL/NaN where it is undefined or on interrupt (the
 * parts are then undefined).
 */
double
lmm_gradient(Work *w, double f, double *dld, double *dpw)
{
	const Gram *g = w->g;
	int			p = g->p;
	int			q = g->q;
	double	   *betac = lmm_alloc(sizeof(double) * p);
	double	   *V = lmm_alloc(sizeof(double) * p * p);
	double	   *E = lmm_alloc0(sizeof(double) * p * p);
	double	   *D = lmm_alloc0(sizeof(double) * q * q);
	double	   *Dpw = lmm_alloc0(sizeof(double) * q * q);
	int			nt = q <= 2 ? lmm_threads_for(g->nlevels, LMM_LEVELS_PER_THREAD) : 1;
	GradCtx		part[LMM_MAX_THREADS];
	lmm_v8d		Ev[8];
	int			done = 1,
				a,
				b,
				c,
				r,
				k;

	if (!isfinite(f) || w->interrupted)
		goto out;

	/* betac from RX betac = cbeta; V = (RX'RX)^-1 from the factor in w->RX */
	lmm_solve_beta(w, betac);
	memcpy(V, w->RX, sizeof(double) * p * p);
	LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', p, V, p);
	for (a = 0; a < p; a++)
		for (b = 0; b < a; b++)
			V[a * p + b] = V[b * p + a];
	/* E = RX'^-1 column by column: RX' E_c = e_c by forward substitution (RX upper, row-major) */
	for (c = 0; c < p; c++)
		for (r = c; r < p; r++)
		{
			double		s = r == c ? 1.0 : 0.0;

			for (a = c; a < r; a++)
				s -= w->RX[a * p + r] * E[a * p + c];
			E[r * p + c] = s / w->RX[r * p + r];
		}
	if (p <= 8)
	{
		memset(Ev, 0, sizeof(Ev));
		for (c = 0; c < p; c++)
			for (r = c; r < p; r++)
				Ev[c][r] = E[r * p + c];
	}

	/* the levels in nt parts (lmm_threads.c), their sums added in order */
	for (k = 0; k < nt; k++)
	{
		GradCtx    *cx = &part[k];

		cx->sp = lmm_level_span(w, k, nt);
		cx->betac = betac;
		cx->V = V;
		cx->E = E;
		cx->Ev = p <= 8 ? Ev : NULL;
		cx->v0 = lmm_alloc(sizeof(double) * 2 * p);
		cx->v1 = cx->v0 + p;
		cx->D = lmm_alloc0(sizeof(double) * q * q);
		cx->Dpw = lmm_alloc0(sizeof(double) * q * q);
	}
	lmm_run_threads(nt, q == 1 ? grad_q1 : q == 2 ? grad_q2 : grad_any,
					part, sizeof(GradCtx));
	for (k = 0; k < nt; k++)
	{
		for (a = 0; a < q * q; a++)
		{
			D[a] += part[k].D[a];
			Dpw[a] += part[k].Dpw[a];
		}
		done &= part[k].sp.done;
		lmm_free(part[k].v0);
		lmm_free(part[k].D);
		lmm_free(part[k].Dpw);
	}
	if (!done)
	{
		w->interrupted = 1;
		f = HUGE_VAL;
		goto out;
	}

	/* theta lists T's lower triangle column by column */
	k = 0;
	for (c = 0; c < q; c++)
		for (r = c; r < q; r++)
		{
			dld[k] = D[c * q + r];
			dpw[k++] = -2.0 * Dpw[c * q + r];
		}

out:
	lmm_free(betac);
	lmm_free(V);
	lmm_free(E);
	lmm_free(D);
	lmm_free(Dpw);
	return f;
}
