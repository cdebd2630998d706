/*
 * lmm_satt.c
 *	  Satterthwaite degrees of freedom for the fixed effects, as lmerTest
 *	  computes them.
 *
 * With varpar = (theta, sigma), lmerTest takes
 *	 H = the Hessian of the -2 log-likelihood with sigma not profiled,
 *	 A = 2 H^+ (Moore-Penrose, eigenvalues above 1e-8),
 *	 J_i = d C / d varpar_i where C(varpar) = sigma^2 (RX'RX)^-1,
 * and for a contrast L: df = 2 (L'CL)^2 / (g'Ag) with g_i = L'J_iL.  H and J
 * come from Richardson-extrapolated central differences with numDeriv's
 * steps (hessian: d = 0.1, jacobian: d = 1e-4, both r = 4, v = 2), so that
 * the numbers follow lmerTest's to many digits, also at a boundary.  Every
 * evaluation reuses the per-level computation of the fit: the cost grows
 * with the number of levels, not of rows.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_infer.h"

/* numDeriv's defaults: zero.tol = sqrt(DBL_EPSILON / 7e-7), eps = 1e-4. */
#define ND_ZERO_TOL 1.7806239779902e-05
#define ND_EPS		1e-4
#define ND_R		4

/* Eigenvalues of H at or below this are left out of its inverse (lmerTest's tol). */
#define HESS_TOL	1e-8

/*
 * -2 log-likelihood at varpar = (theta, sigma), sigma not profiled
 * (lmerTest's devfun_vp): log|L|^2 + pwrss/sigma^2 + n log(2 pi sigma^2),
 * plus log|RX|^2 - p log(2 pi sigma^2) under REML.
 */
static double
dev_varpar(Work *w, const double *vp)
{
	const Gram *g = w->g;
	double		sigma2 = vp[w->ntheta] * vp[w->ntheta];
	double		l2ps = log(2.0 * M_PI * sigma2);
	double		dev;

	if (!isfinite(lmm_criterion(w, vp)))
		return NAN;
	dev = w->ldL2 + w->pwrss / sigma2 + g->n * l2ps;
	if (w->reml)
		dev += w->ldRX2 - g->p * l2ps;
	return dev;
}

/* C(varpar) = sigma^2 (RX'RX)^-1 in the user's coordinates; 0 if degenerate. */
static int
covbeta_varpar(Work *w, const double *vp, double *C)
{
	double		sigma = vp[w->ntheta];

	if (!isfinite(lmm_criterion(w, vp)))
		return 0;
	lmm_vcov_user(w, sigma * sigma, C);
	return 1;
}

/* Richardson extrapolation of a[0..r-1] (steps halving) in place; result in a[0]. */
static void
richardson(double *a, int r)
{
	int			m,
				k;

	for (m = 1; m < r; m++)
	{
		double		f = pow(4.0, m);

		for (k = 0; k < r - m; k++)
			a[k] = (a[k + 1] * f - a[k]) / (f - 1.0);
	}
}

/* numDeriv's first step for each coordinate: d |x| plus eps where x is near zero. */
static void
first_steps(int n, const double *x, double d, double *h)
{
	int			i;

	for (i = 0; i < n; i++)
		h[i] = fabs(d * x[i]) + (fabs(x[i]) < ND_ZERO_TOL ? ND_EPS : 0.0);
}

/*
 * The Hessian of dev_varpar at x (n = ntheta + 1) as numDeriv's genD: the
 * diagonal from central second differences, each off-diagonal pair from a
 * step along both coordinates less the diagonal terms.  0 if the deviance
 * was undefined at a step.
 */
static int
hessian(Work *w, const double *x, double *H)
{
	int			n = w->ntheta + 1;
	double	   *h0 = lmm_alloc(sizeof(double) * n);
	double	   *xs = lmm_alloc(sizeof(double) * n);
	double		dv[ND_R];
	double		f0 = dev_varpar(w, x);
	int			i,
				j,
				k,
				ok = isfinite(f0);

	first_steps(n, x, 0.1, h0);
	for (i = 0; i < n && ok; i++)
	{
		double		h = h0[i];

		for (k = 0; k < ND_R; k++, h /= 2.0)
		{
			double		f1,
						f2;

			memcpy(xs, x, sizeof(double) * n);
			xs[i] = x[i] + h;
			f1 = dev_varpar(w, xs);
			xs[i] = x[i] - h;
			f2 = dev_varpar(w, xs);
			dv[k] = (f1 - 2.0 * f0 + f2) / (h * h);
		}
		richardson(dv, ND_R);
		H[i * n + i] = dv[0];
	}
	for (i = 0; i < n && ok; i++)
		for (j = 0; j < i; j++)
		{
			double		hi = h0[i],
						hj = h0[j];

			for (k = 0; k < ND_R; k++, hi /= 2.0, hj /= 2.0)
			{
				double		f1,
							f2;

				memcpy(xs, x, sizeof(double) * n);
				xs[i] += hi;
				xs[j] += hj;
				f1 = dev_varpar(w, xs);
				memcpy(xs, x, sizeof(double) * n);
				xs[i] -= hi;
				xs[j] -= hj;
				f2 = dev_varpar(w, xs);
				dv[k] = (f1 - 2.0 * f0 + f2 - H[i * n + i] * hi * hi -
						 H[j * n + j] * hj * hj) / (2.0 * hi * hj);
			}
			richardson(dv, ND_R);
			H[i * n + j] = H[j * n + i] = dv[0];
		}
	for (i = 0; i < n * n && ok; i++)
		ok = isfinite(H[i]);
	lmm_free(h0);
	lmm_free(xs);
	return ok && !w->interrupted;
}

/*
 * The Jacobian of C(varpar) at x as numDeriv's jacobian: jac holds n blocks
 * of p * p, block i being dC/dvarpar_i.  0 if C was undefined at a step.
 */
static int
jacobian(Work *w, const double *x, double *jac)
{
	int			n = w->ntheta + 1;
	int			pp = w->g->p * w->g->p;
	double	   *h = lmm_alloc(sizeof(double) * n);
	double	   *xs = lmm_alloc(sizeof(double) * n);
	double	   *C1 = lmm_alloc(sizeof(double) * pp);
	double	   *C2 = lmm_alloc(sizeof(double) * pp);
	double	   *a = lmm_alloc(sizeof(double) * (size_t) ND_R * n * pp);
	double		dv[ND_R];
	int			i,
				k,
				e,
				ok = 1;

	first_steps(n, x, 1e-4, h);
	for (k = 0; k < ND_R && ok; k++)
	{
		for (i = 0; i < n && ok; i++)
		{
			memcpy(xs, x, sizeof(double) * n);
			xs[i] = x[i] + h[i];
			ok = covbeta_varpar(w, xs, C1);
			xs[i] = x[i] - h[i];
			ok = ok && covbeta_varpar(w, xs, C2);
			for (e = 0; e < pp && ok; e++)
				a[((size_t) k * n + i) * pp + e] = (C1[e] - C2[e]) / (2.0 * h[i]);
		}
		for (i = 0; i < n; i++)
			h[i] /= 2.0;
	}
	for (i = 0; i < n && ok; i++)
		for (e = 0; e < pp; e++)
		{
			for (k = 0; k < ND_R; k++)
				dv[k] = a[((size_t) k * n + i) * pp + e];
			richardson(dv, ND_R);
			jac[(size_t) i * pp + e] = dv[0];
			ok = ok && isfinite(dv[0]);
		}
	lmm_free(h);
	lmm_free(xs);
	lmm_free(C1);
	lmm_free(C2);
	lmm_free(a);
	return ok && !w->interrupted;
}

/*
 * H and the Jacobian as above where the gradient is analytic (one term,
 * lmm_gradient.c, or several terms, lmm_blocked_grad.c and
 * lmm_blocked_vgrad.c): central differences of the gradient in
 * each theta (step 1e-4 |theta|, or 1e-4 at 0), the sigma row exactly,
 *	 d2 dev / dtheta_a dsigma = -2 dpwrss_a / sigma^3,
 *	 d2 dev / dsigma^2 = 6 pwrss / sigma^4 - 2 nu / sigma^2,
 * nu = n - p (REML) or n, and dC/dsigma = 2 C / sigma.  2 ntheta gradient
 * evaluations against numDeriv's hundred or so criterion evaluations;
 * differences are O(h^2), about 1e-8 relative.
 */
static int
hessian_jacobian_grad(Work *w, const double *theta, double sigma, double *H,
					  double *jac)
{
	int			nt = w->ntheta;
	int			n = nt + 1;
	int			pp = w->g->p * w->g->p;
	double		nu = w->reml ? w->g->n - w->g->p : w->g->n;
	double		s2 = sigma * sigma;
	double		x[LMM_MAX_INF],
				dld[2][LMM_MAX_INF],
				dpw[2][LMM_MAX_INF];
	double	   *C = lmm_alloc(sizeof(double) * 2 * pp);
	double		pwrss;
	int			a,
				b,
				e,
				side,
				ok;

	ok = isfinite(lmm_blocked_gradient(w, theta, dld[0], dpw[0]));
	pwrss = w->pwrss;
	for (a = 0; a < nt && ok; a++)
	{
		H[a * n + nt] = H[nt * n + a] = -2.0 * dpw[0][a] / (s2 * sigma);
		ok = isfinite(H[a * n + nt]);
	}
	H[nt * n + nt] = 6.0 * pwrss / (s2 * s2) - 2.0 * nu / s2;
	if (ok)
	{
		lmm_vcov_user(w, s2, C);
		for (e = 0; e < pp; e++)
			jac[(size_t) nt * pp + e] = 2.0 * C[e] / sigma;
	}

	memcpy(x, theta, sizeof(double) * nt);
	for (a = 0; a < nt && ok; a++)
	{
		double		h = 1e-4 * (fabs(theta[a]) > ND_ZERO_TOL ? fabs(theta[a]) : 1.0);

		for (side = 0; side < 2 && ok; side++)
		{
			x[a] = side == 0 ? theta[a] + h : theta[a] - h;
			ok = isfinite(lmm_blocked_gradient(w, x, dld[side], dpw[side]));
			if (ok)
				lmm_vcov_user(w, s2, C + side * pp);
		}
		x[a] = theta[a];
		for (b = 0; b < nt && ok; b++)
			H[b * n + a] = ((dld[0][b] + dpw[0][b] / s2) -
							(dld[1][b] + dpw[1][b] / s2)) / (2.0 * h);
		for (e = 0; e < pp && ok; e++)
			jac[(size_t) a * pp + e] = (C[e] - C[pp + e]) / (2.0 * h);
	}
	for (a = 0; a < nt && ok; a++)
		for (b = 0; b < a; b++)
			H[a * n + b] = H[b * n + a] = 0.5 * (H[a * n + b] + H[b * n + a]);
	lmm_free(C);
	return ok && !w->interrupted;
}

/*
 * H and the Jacobian as hessian_jacobian_grad, from the analytic Hessian
 * (lmm_blocked_hess.c): one gradient and one dense product in place of
 * 2 ntheta gradients, and exact.  Returns 0 (and the caller takes the
 * differences) when a theta is 0, where that Hessian is not defined.
 */
static int
hessian_jacobian_exact(Work *w, const double *theta, double sigma, double *H,
					   double *jac)
{
	int			nt = w->ntheta;
	int			n = nt + 1;
	int			p = w->g->p;
	int			pp = p * p;
	double		nu = w->reml ? w->g->n - p : w->g->n;
	double		s2 = sigma * sigma;
	double		dld[LMM_MAX_TERMS],
				dpw[LMM_MAX_TERMS],
				d2ld[LMM_MAX_TERMS * LMM_MAX_TERMS],
				d2pw[LMM_MAX_TERMS * LMM_MAX_TERMS];
	double	   *dV = lmm_alloc(sizeof(double) * nt * pp);
	int			a,
				b,
				e,
				ok;

	ok = lmm_blocked_hessian(w, theta, lmm_criterion(w, theta), dld, dpw,
							 d2ld, d2pw, dV);
	for (a = 0; a < nt && ok; a++)
	{
		for (b = 0; b < nt; b++)
			H[a * n + b] = d2ld[a * nt + b] + d2pw[a * nt + b] / s2;
		H[a * n + nt] = H[nt * n + a] = -2.0 * dpw[a] / (s2 * sigma);
		for (e = 0; e < pp; e++)
			dV[a * pp + e] *= s2;
		lmm_vcov_centred_to_user(w->g, dV + a * pp, jac + (size_t) a * pp);
	}
	if (ok)
	{
		H[nt * n + nt] = 6.0 * w->pwrss / (s2 * s2) - 2.0 * nu / s2;
		lmm_vcov_user(w, s2, jac + (size_t) nt * pp);
		for (e = 0; e < pp; e++)
			jac[(size_t) nt * pp + e] *= 2.0 / sigma;
	}
	for (a = 0; a < n * n && ok; a++)
		ok = isfinite(H[a]);
	lmm_free(dV);
	return ok;
}

/*
 * A = 2 H^+ and the Jacobian of vcov(beta) at the optimum (theta, sigma) of
 * the criterion w evaluates; returns 0 (and leaves the outputs undefined)
 * when the deviance is undefined near the optimum or H cannot be decomposed.
 */
int
lmm_satterthwaite(Work *w, const double *theta, double sigma,
				  double *vcov_varpar, double *jac)
{
	int			n = w->ntheta + 1;
	double	   *x = lmm_alloc(sizeof(double) * n);
	double	   *H = lmm_alloc(sizeof(double) * n * n);
	double	   *ev = lmm_alloc(sizeof(double) * n);
	int			ok,
				exact = 0,
				a,
				b,
				k;

	memcpy(x, theta, sizeof(double) * w->ntheta);
	x[w->ntheta] = sigma;
	if (lmm_derivs(w->g->blk) == LMM_DERIVS_HESSIAN)
	{
		exact = hessian_jacobian_exact(w, theta, sigma, H, jac);
		ok = exact ||
			(!w->interrupted && hessian_jacobian_grad(w, theta, sigma, H, jac));
	}
	else if (lmm_derivs(w->g->blk) == LMM_DERIVS_LEVELS)
		ok = hessian_jacobian_grad(w, theta, sigma, H, jac);
	else
	{
		/*
		 * vector-valued terms: differences of the analytic gradient
		 * (lmm_blocked_vgrad.c), or numDeriv's differences of the criterion
		 * where that is undefined (a singular T) or too long for its arrays
		 */
		ok = w->ntheta < LMM_MAX_INF && hessian_jacobian_grad(w, theta, sigma, H, jac);
		if (!ok && !w->interrupted)
			ok = hessian(w, x, H) && jacobian(w, x, jac);
	}

	/* H = V diag(ev) V'; eigenvectors come back in the columns (row-major: V[a*n+k]) */
	if (ok)
		ok = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', n, H, n, ev) == 0;
	for (a = 0; a < n && ok; a++)
		for (b = 0; b < n; b++)
		{
			double		s = 0.0;

			for (k = 0; k < n; k++)
				if (ev[k] > HESS_TOL)
					s += H[a * n + k] * H[b * n + k] / ev[k];
			vcov_varpar[a * n + b] = 2.0 * s;
		}

	/* leave w at the optimum, as the caller had it (the analytic Hessian did) */
	if (!exact)
		lmm_criterion(w, theta);
	lmm_free(x);
	lmm_free(H);
	lmm_free(ev);
	return ok;
}

/*
 * Satterthwaite's df for the contrast L (p numbers) from what
 * lmm_satterthwaite stored: 2 (L'VL)^2 / (g'Ag), g_i = L'J_iL, V = vcov(beta).
 * Infinite when g'Ag is zero (the variance of L'beta does not depend on the
 * variance parameters); NaN when nothing was stored.
 */
double
lmm_satterthwaite_df(int ninf, int p, const double *vcov_varpar,
					 const double *jac, const double *vcov, const double *L)
{
	double		var = 0.0,
				den = 0.0;
	double		g[LMM_MAX_INF];
	int			nz[LMM_MAX_COLUMNS];
	int			nnz = 0,
				i,
				a,
				b;

	if (ninf < 1 || ninf > LMM_MAX_INF || p > LMM_MAX_COLUMNS)
		return NAN;
	/* the quadratic forms over L's nonzero entries: one coefficient costs O(ninf) */
	for (a = 0; a < p; a++)
		if (L[a] != 0.0)
			nz[nnz++] = a;
	for (a = 0; a < nnz; a++)
		for (b = 0; b < nnz; b++)
			var += L[nz[a]] * vcov[nz[a] * p + nz[b]] * L[nz[b]];
	for (i = 0; i < ninf; i++)
	{
		const double *J = jac + (size_t) i * p * p;

		g[i] = 0.0;
		for (a = 0; a < nnz; a++)
			for (b = 0; b < nnz; b++)
				g[i] += L[nz[a]] * J[nz[a] * p + nz[b]] * L[nz[b]];
	}
	for (a = 0; a < ninf; a++)
		for (b = 0; b < ninf; b++)
			den += g[a] * vcov_varpar[a * ninf + b] * g[b];
	if (den <= 0.0)
		return den == 0.0 ? INFINITY : NAN;
	return 2.0 * var * var / den;
}

/*
 * Satterthwaite's df of an F statistic from the df nu of its independent
 * components, as lmerTest's get_Fstat_ddf: with E = sum nu / (nu - 2),
 * 2 E / (E - q); 2 when some nu is at most 2; their mean when they agree to
 * 1e-8 (one component: its own).
 */
static double
fstat_ddf(const double *nu, int q)
{
	double		e = 0.0;
	int			m;

	for (m = 1; m < q && fabs(nu[m] - nu[m - 1]) < 1e-8; m++)
		;
	if (m == q)
	{
		for (m = 0; m < q; m++)
			e += nu[m];
		return e / q;
	}
	for (m = 0; m < q; m++)
	{
		if (!(nu[m] > 2.0))
			return 2.0;
		e += nu[m] / (nu[m] - 2.0);
	}
	return 2.0 * e / (e - q);
}

/*
 * Ls: each of the nrow rows of L (p columns) divided by its largest
 * magnitude, a change of basis of the hypotheses that keeps rows of 1e200
 * or 1e-170 from overflowing or underflowing in L V L'.
 */
void
lmm_scale_rows(int nrow, int p, const double *L, double *Ls)
{
	int			r,
				a;

	for (r = 0; r < nrow; r++)
	{
		double		big = 0.0;

		for (a = 0; a < p; a++)
			big = fmax(big, fabs(L[(size_t) r * p + a]));
		for (a = 0; a < p; a++)
			Ls[(size_t) r * p + a] = big > 0.0 ? L[(size_t) r * p + a] / big : 0.0;
	}
}

/*
 * The F test of L beta = 0, L being nrow hypotheses of p coefficients
 * (row-major), as lmerTest's contestMD: on the eigenvectors P of L V L'
 * (V = vcov(beta)) whose eigenvalues d exceed sqrt(eps) of the largest,
 * F = sum (P'L beta)^2 / d / q over those q, and the denominator df from
 * each component's Satterthwaite df (lmm_satterthwaite_df, fstat_ddf).
 * Returns q, the numerator df (0 when L V L' is 0 or LAPACK fails); *ddf is
 * NaN where the model has no Satterthwaite ingredients (ninf = 0).
 */
int
lmm_contrast_ftest(int p, const double *beta, const double *vcov, int ninf,
				   const double *vcov_varpar, const double *jac, int nrow,
				   const double *L, double *f, double *ddf)
{
	double	   *Ls = lmm_alloc(sizeof(double) * (size_t) nrow * p);
	double	   *VL = lmm_alloc(sizeof(double) * (size_t) nrow * p);
	double	   *A = lmm_alloc(sizeof(double) * (size_t) nrow * nrow);
	double	   *d = lmm_alloc(sizeof(double) * nrow);
	double	   *PtL = lmm_alloc(sizeof(double) * p);
	double	   *nu = lmm_alloc(sizeof(double) * nrow);
	double		sum = 0.0;
	int			q = 0,
				r,
				s,
				a,
				b,
				m;

	/*
	 * Each row scaled by its largest entry, which changes neither F nor the
	 * df (only the basis of the hypotheses), so that rows of 1e200 or 1e-170
	 * neither overflow nor underflow; then A = L V L', symmetric (row-major).
	 */
	lmm_scale_rows(nrow, p, L, Ls);
	L = Ls;
	for (r = 0; r < nrow; r++)
		for (b = 0; b < p; b++)
		{
			double		v = 0.0;

			for (a = 0; a < p; a++)
				v += L[(size_t) r * p + a] * vcov[a * p + b];
			VL[(size_t) r * p + b] = v;
		}
	for (r = 0; r < nrow; r++)
		for (s = 0; s <= r; s++)
		{
			double		v = 0.0;

			for (b = 0; b < p; b++)
				v += VL[(size_t) r * p + b] * L[(size_t) s * p + b];
			A[r * nrow + s] = A[s * nrow + r] = v;
		}
	/* eigenvalues ascending, eigenvectors in A's columns: take them from the largest */
	if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', nrow, A, nrow, d) == 0 && d[nrow - 1] > 0.0)
	{
		double		tol = sqrt(DBL_EPSILON) * d[nrow - 1];

		for (m = nrow - 1; m >= 0 && d[m] > tol; m--, q++)
		{
			double		est = 0.0;

			for (b = 0; b < p; b++)
			{
				double		v = 0.0;

				for (r = 0; r < nrow; r++)
					v += A[r * nrow + m] * L[(size_t) r * p + b];
				PtL[b] = v;
				est += v * beta[b];
			}
			sum += est * est / d[m];
			nu[q] = ninf > 0 ? lmm_satterthwaite_df(ninf, p, vcov_varpar, jac, vcov, PtL) : NAN;
		}
	}
	*f = q > 0 ? sum / q : NAN;
	*ddf = q > 0 && ninf > 0 ? fstat_ddf(nu, q) : NAN;
	lmm_free(Ls);
	lmm_free(VL);
	lmm_free(A);
	lmm_free(d);
	lmm_free(PtL);
	lmm_free(nu);
	return q;
}
