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

#include <cblas.h>
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

/*
 * Rows [RZX_j | cu_j] of the levels, stacked STACK_ROWS at a time and
 * folded into C = sum [RZX | cu]'[RZX | cu] by one dsyrk: C holds SXX,
 * SXy and syy.  Adding each level's outer products straight into SXX costs
 * a load and a store per element and level, which was most of an
 * evaluation with p = 6; dsyrk keeps its sums in registers.
 */
#define STACK_ROWS 256

typedef struct Stack
{
	int			n;				/* p + 1 */
	int			k;				/* rows waiting */
	double	   *A;				/* n x STACK_ROWS, column-major: a row per column */
	double	   *C;				/* n x n, column-major, upper triangle */
} Stack;

/* Fold the waiting rows into C. */
static void
stack_flush(Stack *st)
{
	if (st->k > 0)
		cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, st->n, st->k,
					1.0, st->A, st->n, 1.0, st->C, st->n);
	st->k = 0;
}

/* Room for the next row, folding the stack first when it is full. */
static inline double *
stack_row(Stack *st)
{
	if (st->k == STACK_ROWS)
		stack_flush(st);
	return st->A + (size_t) st->k++ * st->n;
}

/*
 * Levels of a q = 1 fit: M_j = t^2 A_j + 1 and the row is (t / sqrt(M_j))
 * [ZtX_j | Zty_j].  Returns 0 on interrupt.
 */
static int
levels_q1(Work *w, LogDet *ld, Stack *st)
{
	const Gram *g = w->g;
	int			p = g->p;
	double		t = w->T[0];
	int64_t		j;
	int			k;

	for (j = 0; j < g->nlevels; j++)
	{
		const double *X = g->ZtX + (size_t) j * p;
		double		m = t * t * g->ZtZ[j] + 1.0;
		double		c,
				   *r;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
			return 0;
		if (!(m > 0.0))
		{
			w->not_pd = 1;
			continue;
		}
		logdet_add(ld, m);
		c = t / sqrt(m);
		r = stack_row(st);
		for (k = 0; k < p; k++)
			r[k] = c * X[k];
		r[p] = c * g->Zty[j];
	}
	return 1;
}

/*
 * Levels of a q = 2 fit, T = [t0 0; t1 t2]: the 2 x 2 factor L of
 * M_j = T'A_jT + I, RZX = L^-1 T'ZtX and cu = L^-1 T'Zty written out.
 * Returns 0 on interrupt.
 */
static int
levels_q2(Work *w, LogDet *ld, Stack *st)
{
	const Gram *g = w->g;
	int			p = g->p;
	double		t0 = w->T[0],
				t1 = w->T[2],
				t2 = w->T[3];
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
		double		det = m00 * m11 - m10 * m10;
		double		il00,
					il11,
					l10,
				   *r0,
				   *r1;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
			return 0;
		if (!(m00 > 0.0 && det > 0.0))
		{
			w->not_pd = 1;
			continue;
		}
		/* L = [l00 0; l10 l11], l00^2 = m00, l11^2 = det / m00: two short chains */
		il00 = 1.0 / sqrt(m00);
		il11 = sqrt(m00 / det);
		l10 = m10 * il00;
		logdet_add(ld, det);
		r0 = stack_row(st);
		r1 = stack_row(st);
		for (k = 0; k < p; k++)
		{
			r0[k] = (t0 * X0[k] + t1 * X1[k]) * il00;
			r1[k] = (t2 * X1[k] - l10 * r0[k]) * il11;
		}
		r0[p] = (t0 * y[0] + t1 * y[1]) * il00;
		r1[p] = (t2 * y[1] - l10 * r0[p]) * il11;
	}
	return 1;
}

/* Levels of any q, through the general per-level factor.  Returns 0 on interrupt. */
static int
levels_any(Work *w, LogDet *ld, Stack *st)
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
			double	   *r = stack_row(st);

			memcpy(r, w->RZX + i * p, sizeof(double) * p);
			r[p] = w->cu[i];
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
	double		syy;
	LogDet		ld = {0.0, 1.0};
	Stack		st;
	int			a,
				b,
				i,
				done;
	lapack_int	info;

	if (g->blk != NULL)
		return lmm_blocked_criterion(w, theta);
	lmm_theta_to_T(q, theta, w->T);
	st.n = p + 1;
	st.k = 0;
	st.A = lmm_alloc(sizeof(double) * st.n * STACK_ROWS);
	st.C = lmm_alloc0(sizeof(double) * st.n * st.n);
	done = q == 1 ? levels_q1(w, &ld, &st) :
		q == 2 ? levels_q2(w, &ld, &st) : levels_any(w, &ld, &st);
	stack_flush(&st);
	for (a = 0; a < p; a++)
	{
		for (b = a; b < p; b++)
			w->SXX[a * p + b] = st.C[a + b * st.n];
		w->SXy[a] = st.C[a + p * st.n];
	}
	syy = st.C[p + p * st.n];
	lmm_free(st.A);
	lmm_free(st.C);
	if (!done)
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
