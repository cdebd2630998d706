/*
 * lmm_polish.c
 *	  The analytic gradient of the profiled criterion, and a Newton polish of
 *	  BOBYQA's optimum that uses it.
 *
 * Why: BOBYQA stops (at lme4's tolerances) somewhere within about 1e-7 of
 * the optimum on flat criteria, and where exactly depends on the last bits
 * of the statistics, so the same data summed in another order (a parallel
 * plan, merged parts) would give variance components that differ in the
 * seventh digit.  Function values cannot locate the optimum more closely
 * than sqrt(machine epsilon); the gradient can, to about machine epsilon.
 *
 * With Lambda = T, A_j = Z_j'Z_j, M_j = T'A_jT + I = L_jL_j', W_j = T'Z_j'X,
 * V = (RX'RX)^-1, and theta_k the element (r, c) of T, the derivatives are
 *	 d log|M_j|		= 2 (M_j^-1 T'A_j)[c][r]
 *	 d log|RX'RX|	= -sum_j 2 (Q_j Z_j'X')[c][r] - 2 (P_j T'A_j)[c][r],
 *					  G_j = M_j^-1 W_j = L_j'^-1 RZX_j, Q_j = G_j V, P_j = Q_j G_j'
 *	 d pwrss		= -2 sum_j u_j[c] (Z_j'r_j)[r]	(envelope theorem),
 *					  u_j the conditional mode, r_j the level's residuals.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/* Newton steps of the polish at most; it normally needs two or three. */
#define POLISH_STEPS 6

/*
 * Gradient of the criterion at theta into grad (ntheta entries).  Returns
 * the criterion, or HUGE_VAL/NaN where it is undefined or on interrupt.
 */
static double
gradient(Work *w, const double *theta, double *grad)
{
	const Gram *g = w->g;
	int			p = g->p;
	int			q = g->q;
	double		f = lmm_criterion(w, theta);
	double	   *betac = lmm_alloc(sizeof(double) * p);
	double	   *V = lmm_alloc(sizeof(double) * p * p);
	double	   *D = lmm_alloc0(sizeof(double) * q * q);
	double	   *Dpw = lmm_alloc0(sizeof(double) * q * q);
	double	   *Linv = lmm_alloc(sizeof(double) * q * q);
	double	   *TA = lmm_alloc(sizeof(double) * q * q);
	double	   *G = lmm_alloc(sizeof(double) * q * p);
	double	   *Q = lmm_alloc(sizeof(double) * q * p);
	double	   *u = lmm_alloc(sizeof(double) * q);
	double	   *Tu = lmm_alloc(sizeof(double) * q);
	double		coef;
	int64_t		j;
	int			a,
				b,
				c,
				r,
				k;

	if (!isfinite(f) || w->interrupted)
		goto done;

	/* betac from RX betac = cbeta; V = (RX'RX)^-1 from the factor in w->RX */
	for (a = p - 1; a >= 0; a--)
	{
		double		s = w->cbeta[a];

		for (k = a + 1; k < p; k++)
			s -= w->RX[a * p + k] * betac[k];
		betac[a] = s / w->RX[a * p + a];
	}
	memcpy(V, w->RX, sizeof(double) * p * p);
	LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', p, V, p);
	for (a = 0; a < p; a++)
		for (b = 0; b < a; b++)
			V[a * p + b] = V[b * p + a];

	for (j = 0; j < g->nlevels; j++)
	{
		const double *A = g->ZtZ + (size_t) j * q * q;
		const double *ZtX = g->ZtX + (size_t) j * q * p;
		const double *Zty = g->Zty + (size_t) j * q;
		const double *T = w->T;
		const double *L = w->L;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
		{
			w->interrupted = 1;
			f = HUGE_VAL;
			goto done;
		}
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

	/* theta lists T's lower triangle column by column */
	coef = (w->reml ? g->n - p : g->n) / w->pwrss;
	k = 0;
	for (c = 0; c < q; c++)
		for (r = c; r < q; r++)
			grad[k++] = D[c * q + r] - 2.0 * coef * Dpw[c * q + r];

done:
	lmm_free(betac);
	lmm_free(V);
	lmm_free(D);
	lmm_free(Dpw);
	lmm_free(Linv);
	lmm_free(TA);
	lmm_free(G);
	lmm_free(Q);
	lmm_free(u);
	lmm_free(Tu);
	return f;
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
 * Newton's method on the gradient from BOBYQA's theta, over the parameters
 * not held at their bound, with a central-difference Hessian of the
 * analytic gradient.  The result replaces theta (and fmin) only when every
 * step stayed feasible and finite and the criterion is no worse; otherwise
 * theta is left as BOBYQA found it.
 */
void
lmm_polish(Work *w, const double *lb, double *theta, double *fmin)
{
	int			nt = w->ntheta;
	int		   *free_k = lmm_alloc(sizeof(int) * nt);
	double	   *x = lmm_alloc(sizeof(double) * nt);
	double	   *grad = lmm_alloc(sizeof(double) * nt);
	double	   *gp = lmm_alloc(sizeof(double) * nt);
	double	   *gm = lmm_alloc(sizeof(double) * nt);
	double	   *H = NULL;
	double	   *step = NULL;
	double		f;
	int			nf = 0;
	int			ok = 1;
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

	/* Hessian by central differences of the gradient, symmetrized */
	for (a = 0; a < nf && ok; a++)
	{
		int			k = free_k[a];
		double		h = 1e-5 * fmax(1.0, fabs(x[k]));

		if (lb[k] == 0.0 && x[k] - h <= 0.0)
			ok = 0;				/* too close to the bound to difference */
		x[k] = theta[k] + h;
		ok = ok && isfinite(gradient(w, x, gp)) && finite_vector(gp, nt);
		x[k] = theta[k] - h;
		ok = ok && isfinite(gradient(w, x, gm)) && finite_vector(gm, nt);
		x[k] = theta[k];
		for (b = 0; b < nf && ok; b++)
			H[b * nf + a] = (gp[free_k[b]] - gm[free_k[b]]) / (2.0 * h);
	}
	for (a = 0; a < nf && ok; a++)
		for (b = 0; b < a; b++)
			H[a * nf + b] = H[b * nf + a] = 0.5 * (H[a * nf + b] + H[b * nf + a]);
	ok = ok && lmm_chol_lower(nf, H, 0.0) < 0;

	/* Newton steps with that Hessian until the step is at rounding level */
	for (it = 0; it < POLISH_STEPS && ok; it++)
	{
		double		biggest = 0.0;

		ok = isfinite(gradient(w, x, grad)) && finite_vector(grad, nt);
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
		if (biggest < 1e-15)
			break;
	}

	if (ok && !w->interrupted)
	{
		f = lmm_criterion(w, x);
		/* no worse than BOBYQA's point, allowing for rounding in the criterion */
		if (isfinite(f) && f <= *fmin + 1e-12 * fabs(*fmin))
		{
			memcpy(theta, x, sizeof(double) * nt);
			*fmin = f;
		}
	}

done:
	lmm_free(free_k);
	lmm_free(x);
	lmm_free(grad);
	lmm_free(gp);
	lmm_free(gm);
	lmm_free(H);
	lmm_free(step);
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
	*f = gradient(&w, theta, grad);
	lmm_work_free(&w);
	lmm_free_gram(&g);
	return w.interrupted ? LMM_ERR_INTERRUPTED : LMM_OK;
}
