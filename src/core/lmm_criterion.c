/*
 * lmm_criterion.c
 *	  The profiled REML/ML criterion of a one-term fit, and the small dense
 *	  algebra of its per-level factors.
 *
 * The per-level loop is the whole cost of an evaluation once the groups
 * are many (a million levels: a million small factorizations), so q = 1
 * and q = 2 have their own loops with the algebra written out; other q go
 * through the general routines.  All matrices are row-major.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"
/* Fill the lower-triangular T from theta, listed column by column. */
void
lmm_theta_to_T(int q, const double *theta, double *T)
{
	int			i,
				j,
				k = 0;

	memset(T, 0, sizeof(double) * q * q);
	for (j = 0; j < q; j++)
		for (i = j; i < q; i++)
			T[i * q + j] = theta[k++];
}

/*
 * In-place lower Cholesky factor of a small dense n x n matrix.  Returns -1
 * on success, or the first column whose pivot is not above tol (the matrix
 * is then not positive definite, or that column depends on earlier ones).
 */
int
lmm_chol_lower(int n, double *A, double tol)
{
	int			i,
				j,
				k;

	for (j = 0; j < n; j++)
	{
		double		s = A[j * n + j];

		for (k = 0; k < j; k++)
			s -= A[j * n + k] * A[j * n + k];
		if (!(s > tol))
			return j;
		s = sqrt(s);
		A[j * n + j] = s;
		for (i = j + 1; i < n; i++)
		{
			double		t = A[i * n + j];

			for (k = 0; k < j; k++)
				t -= A[i * n + k] * A[j * n + k];
			A[i * n + j] = t / s;
		}
		for (i = 0; i < j; i++)
			A[i * n + j] = 0.0;
	}
	return -1;
}

/* Solve L X = B in place for a lower-triangular n x n L and n x m right-hand sides. */
void
lmm_forward_solve(int n, int m, const double *L, double *B)
{
	int			i,
				k,
				c;

	for (i = 0; i < n; i++)
	{
		for (k = 0; k < i; k++)
		{
			double		lik = L[i * n + k];

			for (c = 0; c < m; c++)
				B[i * m + c] -= lik * B[k * m + c];
		}
		for (c = 0; c < m; c++)
			B[i * m + c] /= L[i * n + i];
	}
}

/* Solve L' X = B in place for a lower-triangular n x n L and n x m right-hand sides. */
void
lmm_backward_solve(int n, int m, const double *L, double *B)
{
	int			i,
				k,
				c;

	for (i = n - 1; i >= 0; i--)
	{
		for (k = i + 1; k < n; k++)
		{
			double		lki = L[k * n + i];

			for (c = 0; c < m; c++)
				B[i * m + c] -= lki * B[k * m + c];
		}
		for (c = 0; c < m; c++)
			B[i * m + c] /= L[i * n + i];
	}
}

/*
 * Per-level factorization for the current T: L = chol(T'ZtZ T + I),
 * RZX = L^-1 T'ZtX, cu = L^-1 T'Zty.  Returns log|L|^2 of the level.
 */
double
lmm_level_factor(Work *w, const double *ZtZ, const double *ZtX, const double *Zty)
{
	int			q = w->g->q;
	int			p = w->g->p;
	const double *T = w->T;
	double	   *L = w->L;
	double	   *B = w->B;
	double	   *RZX = w->RZX;
	double	   *cu = w->cu;
	double		ld = 0.0;
	int			i,
				j,
				k;

	/* B = ZtZ T; T is lower, so column j of T starts at row j */
	for (i = 0; i < q; i++)
		for (j = 0; j < q; j++)
		{
			double		s = 0.0;

			for (k = j; k < q; k++)
				s += ZtZ[i * q + k] * T[k * q + j];
			B[i * q + j] = s;
		}
	/* L = T'B + I (lower triangle), then its Cholesky factor */
	for (i = 0; i < q; i++)
		for (j = 0; j <= i; j++)
		{
			double		s = (i == j) ? 1.0 : 0.0;

			for (k = i; k < q; k++)
				s += T[k * q + i] * B[k * q + j];
			L[i * q + j] = s;
		}
	/* T'ZtZT + I is positive definite for any real data */
	if (lmm_chol_lower(q, L, 0.0) >= 0)
	{
		w->not_pd = 1;
		return NAN;
	}

	/* RZX = T'ZtX and cu = T'Zty, then solve with L */
	for (i = 0; i < q; i++)
	{
		for (j = 0; j < p; j++)
		{
			double		s = 0.0;

			for (k = i; k < q; k++)
				s += T[k * q + i] * ZtX[k * p + j];
			RZX[i * p + j] = s;
		}
		{
			double		s = 0.0;

			for (k = i; k < q; k++)
				s += T[k * q + i] * Zty[k];
			cu[i] = s;
		}
	}
	lmm_forward_solve(q, p, L, RZX);
	lmm_forward_solve(q, 1, L, cu);

	for (i = 0; i < q; i++)
		ld += log(L[i * q + i]);
	return 2.0 * ld;
}

/*
 * log|L|^2 summed over levels from the levels' |L|^2, with one log per
 * ~1e100 of product instead of one per level: the log is the dearest part
 * of a q = 1 level.  Factors outside [1e-100, 1e100] (or NaN) are logged at
 * once, so the product can neither overflow nor lose its scale.
 */
typedef struct LogDet
{
	double		sum;
	double		prod;
} LogDet;

static inline void
logdet_add(LogDet *ld, double d)
{
	if (!(d >= 1e-100 && d <= 1e100))
		ld->sum += log(d);
	else
	{
		ld->prod *= d;
		if (ld->prod > 1e100 || ld->prod < 1e-100)
		{
			ld->sum += log(ld->prod);
			ld->prod = 1.0;
		}
	}
}

/* Add the rank-one term c r r' to the upper triangle of SXX and c r ci to SXy. */
static inline void
add_outer(int p, double *SXX, double *SXy, const double *r, double ci, double c)
{
	int			a,
				b;

	for (a = 0; a < p; a++)
	{
		double		ra = c * r[a];

		for (b = a; b < p; b++)
			SXX[a * p + b] += ra * r[b];
		SXy[a] += ra * ci;
	}
}

/*
 * Levels of a q = 1 fit: M_j = t^2 A_j + 1, and RZX'RZX = (t^2 / M_j) ZtX
 * ZtX' needs neither the square root nor the division of the factor.
 * Returns 0 on interrupt.
 */
static int
levels_q1(Work *w, LogDet *ld, double *syy)
{
	const Gram *g = w->g;
	int			p = g->p;
	double		t2 = w->T[0] * w->T[0];
	int64_t		j;

	for (j = 0; j < g->nlevels; j++)
	{
		const double *X = g->ZtX + (size_t) j * p;
		double		y = g->Zty[j];
		double		m = t2 * g->ZtZ[j] + 1.0;
		double		c = t2 / m;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
			return 0;
		if (!(m > 0.0))
			w->not_pd = 1;
		logdet_add(ld, m);
		add_outer(p, w->SXX, w->SXy, X, y, c);
		*syy += c * y * y;
	}
	return 1;
}

/*
 * Levels of a q = 2 fit, T = [t0 0; t1 t2]: the 2 x 2 factor L of
 * M_j = T'A_jT + I, RZX = L^-1 T'ZtX and cu = L^-1 T'Zty written out.
 * Returns 0 on interrupt.
 */
static int
levels_q2(Work *w, LogDet *ld, double *syy)
{
	const Gram *g = w->g;
	int			p = g->p;
	double		t0 = w->T[0],
				t1 = w->T[2],
				t2 = w->T[3];
	double	   *r0 = w->RZX,
			   *r1 = w->RZX + p;
	int64_t		j;
	int			k;

	for (j = 0; j < g->nlevels; j++)
	{
		const double *A = g->ZtZ + (size_t) j * 4;
		const double *X0 = g->ZtX + (size_t) j * 2 * p;
		const double *X1 = X0 + p;
		const double *y = g->Zty + (size_t) j * 2;
		double		b00 = A[0] * t0 + A[1] * t1;
		double		b10 = A[2] * t0 + A[3] * t1;
		double		m00 = t0 * b00 + t1 * b10 + 1.0;
		double		m10 = t2 * b10;
		double		m11 = t2 * A[3] * t2 + 1.0;
		double		l00,
					l10,
					s11,
					il00,
					il11,
					c0,
					c1;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
			return 0;
		l00 = sqrt(m00);
		l10 = m10 / l00;
		s11 = m11 - l10 * l10;
		if (!(m00 > 0.0 && s11 > 0.0))
		{
			w->not_pd = 1;
			continue;
		}
		il00 = 1.0 / l00;
		il11 = 1.0 / sqrt(s11);
		logdet_add(ld, m00 * s11);
		for (k = 0; k < p; k++)
		{
			r0[k] = (t0 * X0[k] + t1 * X1[k]) * il00;
			r1[k] = (t2 * X1[k] - l10 * r0[k]) * il11;
		}
		c0 = (t0 * y[0] + t1 * y[1]) * il00;
		c1 = (t2 * y[1] - l10 * c0) * il11;
		add_outer(p, w->SXX, w->SXy, r0, c0, 1.0);
		add_outer(p, w->SXX, w->SXy, r1, c1, 1.0);
		*syy += c0 * c0 + c1 * c1;
	}
	return 1;
}

/* Levels of any q, through the general per-level factor.  Returns 0 on interrupt. */
static int
levels_any(Work *w, LogDet *ld, double *syy)
{
	const Gram *g = w->g;
	int			p = g->p;
	int			q = g->q;
	int64_t		j;
	int			i;

	for (j = 0; j < g->nlevels; j++)
	{
		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
			return 0;
		ld->sum += lmm_level_factor(w, g->ZtZ + (size_t) j * q * q,
									g->ZtX + (size_t) j * q * p,
									g->Zty + (size_t) j * q);
		for (i = 0; i < q; i++)
		{
			add_outer(p, w->SXX, w->SXy, w->RZX + i * p, w->cu[i], 1.0);
			*syy += w->cu[i] * w->cu[i];
		}
	}
	return 1;
}

/*
 * The profiled criterion at theta: REML criterion or ML deviance.  Leaves
 * RX, cbeta and pwrss of this theta in w.  HUGE_VAL where the model is
 * degenerate at theta, or when the host asked to stop.
 */
double
lmm_criterion(Work *w, const double *theta)
{
	const Gram *g = w->g;
	int			p = g->p;
	int			q = g->q;
	double		syy = 0.0;
	LogDet		ld = {0.0, 1.0};
	int			a,
				b,
				i;
	lapack_int	info;

	if (g->blk != NULL)
		return lmm_blocked_criterion(w, theta);
	lmm_theta_to_T(q, theta, w->T);
	memset(w->SXX, 0, sizeof(double) * p * p);
	memset(w->SXy, 0, sizeof(double) * p);

	if (!(q == 1 ? levels_q1(w, &ld, &syy) :
		  q == 2 ? levels_q2(w, &ld, &syy) : levels_any(w, &ld, &syy)))
	{
		w->interrupted = 1;
		return HUGE_VAL;
	}
	w->ldL2 = ld.sum + log(ld.prod);

	/* RX'RX = X'X - sum RZX'RZX; symmetric, so row- or column-major alike */
	for (a = 0; a < p; a++)
		for (b = a; b < p; b++)
			w->RX[a * p + b] = w->RX[b * p + a] = g->XtX[a * p + b] - w->SXX[a * p + b];
	if (w->not_pd)
		return HUGE_VAL;
	info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', p, w->RX, p);
	if (info != 0)
		return HUGE_VAL;

	/* RX' cbeta = X'y - sum RZX'cu; RX[r][c] (c >= r) is w->RX[r * p + c] */
	w->ldRX2 = 0.0;
	for (i = 0; i < p; i++)
	{
		double		s = g->Xty[i] - w->SXy[i];

		for (a = 0; a < i; a++)
			s -= w->RX[a * p + i] * w->cbeta[a];
		w->cbeta[i] = s / w->RX[i * p + i];
		w->ldRX2 += 2.0 * log(w->RX[i * p + i]);
	}

	w->pwrss = g->yty - syy;
	for (i = 0; i < p; i++)
		w->pwrss -= w->cbeta[i] * w->cbeta[i];
	return lmm_profiled_criterion(w);
}

/* REML criterion or ML deviance from the pwrss and log-determinants in w. */
double
lmm_profiled_criterion(const Work *w)
{
	double		n = w->g->n;
	int			p = w->g->p;

	if (!(w->pwrss > 0.0) || !isfinite(w->pwrss))
		return HUGE_VAL;
	if (w->reml)
	{
		double		nmp = n - p;

		return w->ldL2 + w->ldRX2 + nmp * (1.0 + log(2.0 * M_PI * w->pwrss / nmp));
	}
	return w->ldL2 + n * (1.0 + log(2.0 * M_PI * w->pwrss / n));
}
