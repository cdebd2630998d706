/*
 * lmm_criterion.c
 *	  The profiled REML/ML criterion at theta: the loop over the first
 *	  term's levels, and the several-term system after it (lmm_blocked.c).
 *
 * The per-level loop is the whole cost of an evaluation once the groups
 * are many (a million levels: a million small factorizations), so q = 1
 * and q = 2 have their own loops with the algebra written out; other q go
 * through lmm_level_factor (lmm_dense.c).  All matrices are row-major.
 */
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

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
