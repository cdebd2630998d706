/*
 * lmm_levels.c
 *	  The first term's diagonal blocks of the factor, level by level, for
 *	  the levels that meet no other term (every level of a one-term model):
 *	  each level's log|L_j|^2 and its rows [RZX_j | cu_j], folded into
 *	  sum_j [RZX_j | cu_j]'[RZX_j | cu_j], which lmm_blocked.c takes out of
 *	  the trailing block of M.
 *
 * The per-level loop is the whole cost of an evaluation once the groups
 * are many (a million levels: a million small factorizations), so the
 * kernel is chosen by the block's size: q = 1 and q = 2 have their own
 * loops with the algebra written out; other q go through lmm_level_factor
 * (lmm_dense.c).  All matrices are row-major.
 */
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_threads.h"

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
 * folded into C = sum [RZX | cu]'[RZX | cu].  Adding each level's outer
 * products straight into C costs a load and a store per element and level;
 * the fold keeps its sums in registers.  Rows of at most FOLD_W entries
 * (p <= 7) are padded to FOLD_W with zeros and folded by fold_rows, the
 * wider ones by dsyrk.
 */
#define STACK_ROWS 256
#define FOLD_W 8

typedef struct Stack
{
	int			n;				/* p + 1 */
	int			ld;				/* row length in A: FOLD_W, or n if wider */
	int			k;				/* rows waiting */
	double	   *A;				/* rows of ld entries, zero past n */
	double	   *C;				/* n x n, column-major, upper triangle */
	double		C8[FOLD_W * FOLD_W];	/* fold_rows' sums, both triangles */
} Stack;

/*
 * C8 += sum of the k rows' outer products (rows of FOLD_W entries, C8
 * FOLD_W x FOLD_W): one vector of sums per row of C8, all eight in
 * registers through the rows.  Why not dsyrk: its kernels are shaped for
 * large matrices, and on a 7 x 7 result it packs every row twice and runs
 * its edge cases (about 30 ns a row against 2 with AVX-512, 7 with SSE2).
 * An AVX-512 clone where the CPU has it (one register per row of C8).
 */
LMM_SIMD_CLONES
static void
fold_rows(const double *R, int k, double *C8)
{
	lmm_v8d		c0,
				c1,
				c2,
				c3,
				c4,
				c5,
				c6,
				c7;
	int			i;

	memcpy(&c0, C8, sizeof(lmm_v8d));
	memcpy(&c1, C8 + FOLD_W, sizeof(lmm_v8d));
	memcpy(&c2, C8 + 2 * FOLD_W, sizeof(lmm_v8d));
	memcpy(&c3, C8 + 3 * FOLD_W, sizeof(lmm_v8d));
	memcpy(&c4, C8 + 4 * FOLD_W, sizeof(lmm_v8d));
	memcpy(&c5, C8 + 5 * FOLD_W, sizeof(lmm_v8d));
	memcpy(&c6, C8 + 6 * FOLD_W, sizeof(lmm_v8d));
	memcpy(&c7, C8 + 7 * FOLD_W, sizeof(lmm_v8d));
	for (i = 0; i < k; i++)
	{
		const double *r = R + (size_t) i * FOLD_W;
		lmm_v8d		v;

		memcpy(&v, r, sizeof(lmm_v8d));
		c0 += r[0] * v;
		c1 += r[1] * v;
		c2 += r[2] * v;
		c3 += r[3] * v;
		c4 += r[4] * v;
		c5 += r[5] * v;
		c6 += r[6] * v;
		c7 += r[7] * v;
	}
	memcpy(C8, &c0, sizeof(lmm_v8d));
	memcpy(C8 + FOLD_W, &c1, sizeof(lmm_v8d));
	memcpy(C8 + 2 * FOLD_W, &c2, sizeof(lmm_v8d));
	memcpy(C8 + 3 * FOLD_W, &c3, sizeof(lmm_v8d));
	memcpy(C8 + 4 * FOLD_W, &c4, sizeof(lmm_v8d));
	memcpy(C8 + 5 * FOLD_W, &c5, sizeof(lmm_v8d));
	memcpy(C8 + 6 * FOLD_W, &c6, sizeof(lmm_v8d));
	memcpy(C8 + 7 * FOLD_W, &c7, sizeof(lmm_v8d));
}

/* Fold the waiting rows into C (into C8 for narrow rows). */
static void
stack_flush(Stack *st)
{
	if (st->k > 0 && st->ld == FOLD_W)
		fold_rows(st->A, st->k, st->C8);
	else if (st->k > 0)
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
	return st->A + (size_t) st->k++ * st->ld;
}

/* The first term's cross-block offsets, or NULL when no level has one (one term). */
static inline const int64_t *
cross_blocks(const Blocks *bk)
{
	return bk->xptr[bk->J[0]] > 0 ? bk->xptr : NULL;
}

/*
 * One thread's share of a pass: levels j0 .. j1 - 1, with sums of its own
 * (combined in the parts' order by lmm_levels_fold); a cache line of its
 * own for each, as every level updates them.
 */
typedef struct __attribute__((aligned(64))) Part
{
	LevelSpan	sp;
	int			not_pd;			/* a level's M was not positive definite */
	LogDet		ld;
	Stack		st;
} Part;

/*
 * Levels of a q = 1 term: M_j = t^2 A_j + 1 and the row is (t / sqrt(M_j))
 * [ZtX_j | Zty_j].
 */
static void
levels_q1(void *arg)
{
	Part	   *pt = arg;
	Work	   *w = pt->sp.w;
	const Gram *g = w->g;
	const int64_t *xptr = cross_blocks(g->blk);
	int			p = g->p;
	double		t = w->T[0];
	int64_t		j;
	int			k;

	for (j = pt->sp.j0; j < pt->sp.j1; j++)
	{
		const double *X = g->ZtX + (size_t) j * p;
		double		m = t * t * g->ZtZ[j] + 1.0;
		double		c,
				   *r;

		if (lmm_span_stop(&pt->sp, j))
			return;
		if (xptr != NULL && xptr[j] != xptr[j + 1])
			continue;
		if (!(m > 0.0))
		{
			pt->not_pd = 1;
			continue;
		}
		logdet_add(&pt->ld, m);
		c = t / sqrt(m);
		r = stack_row(&pt->st);
		for (k = 0; k < p; k++)
			r[k] = c * X[k];
		r[p] = c * g->Zty[j];
	}
}

/*
 * Levels of a q = 2 term, T = [t0 0; t1 t2]: the 2 x 2 factor L of
 * M_j = T'A_jT + I, RZX = L^-1 T'ZtX and cu = L^-1 T'Zty written out.
 */
static void
levels_q2(void *arg)
{
	Part	   *pt = arg;
	Work	   *w = pt->sp.w;
	const Gram *g = w->g;
	const int64_t *xptr = cross_blocks(g->blk);
	int			p = g->p;
	double		t0 = w->T[0],
				t1 = w->T[2],
				t2 = w->T[3];
	int64_t		j;
	int			k;

	for (j = pt->sp.j0; j < pt->sp.j1; j++)
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

		if (lmm_span_stop(&pt->sp, j))
			return;
		if (xptr != NULL && xptr[j] != xptr[j + 1])
			continue;
		if (!(m00 > 0.0 && det > 0.0))
		{
			pt->not_pd = 1;
			continue;
		}
		/* L = [l00 0; l10 l11], l00^2 = m00, l11^2 = det / m00: two short chains */
		il00 = 1.0 / sqrt(m00);
		il11 = sqrt(m00 / det);
		l10 = m10 * il00;
		logdet_add(&pt->ld, det);
		r0 = stack_row(&pt->st);
		r1 = stack_row(&pt->st);
		for (k = 0; k < p; k++)
		{
			r0[k] = (t0 * X0[k] + t1 * X1[k]) * il00;
			r1[k] = (t2 * X1[k] - l10 * r0[k]) * il11;
		}
		r0[p] = (t0 * y[0] + t1 * y[1]) * il00;
		r1[p] = (t2 * y[1] - l10 * r0[p]) * il11;
	}
}

/*
 * Levels of any q, through the general per-level factor (in w's scratch,
 * so on one thread only).
 */
static void
levels_any(void *arg)
{
	Part	   *pt = arg;
	Work	   *w = pt->sp.w;
	const Gram *g = w->g;
	const int64_t *xptr = cross_blocks(g->blk);
	int			p = g->p;
	int			q = g->q;
	int64_t		j;
	int			i;

	for (j = pt->sp.j0; j < pt->sp.j1; j++)
	{
		if (lmm_span_stop(&pt->sp, j))
			return;
		if (xptr != NULL && xptr[j] != xptr[j + 1])
			continue;
		pt->ld.sum += lmm_level_factor(w, g->ZtZ + (size_t) j * q * q,
									   g->ZtX + (size_t) j * q * p,
									   g->Zty + (size_t) j * q);
		for (i = 0; i < q; i++)
		{
			double	   *r = stack_row(&pt->st);

			memcpy(r, w->RZX + i * p, sizeof(double) * p);
			r[p] = w->cu[i];
		}
	}
}

/*
 * The first term's levels that meet no other term, at T = w->T: adds their
 * sum_j log|L_j|^2 to *ld and their sum [RZX_j | cu_j]'[RZX_j | cu_j] to C
 * ((p + 1) x (p + 1), column-major, upper triangle).  q = 1 and q = 2 with
 * rows of at most FOLD_W entries split the levels over the host's threads
 * (lmm_threads_for), each part with sums of its own, added in the parts'
 * order.  Returns 0 on interrupt; sets w->not_pd where a level's factor
 * fails.
 */
int
lmm_levels_fold(Work *w, double *ld, double *C)
{
	int			n = w->g->p + 1;
	int			q = w->g->q;
	int64_t		J = w->g->nlevels;
	int			ldw = n <= FOLD_W ? FOLD_W : n;
	int			nt = (q <= 2 && ldw == FOLD_W) ? lmm_threads_for(J, LMM_LEVELS_PER_THREAD) : 1;
	Part		part[LMM_MAX_THREADS];
	double		C8[FOLD_W * FOLD_W] = {0};
	double		sum = 0.0;
	int			done = 1,
				k,
				a,
				b;

	for (k = 0; k < nt; k++)
	{
		Part	   *pt = &part[k];

		pt->sp = lmm_level_span(w, k, nt);
		pt->not_pd = 0;
		pt->ld.sum = 0.0;
		pt->ld.prod = 1.0;
		pt->st.n = n;
		pt->st.ld = ldw;
		pt->st.k = 0;
		pt->st.A = lmm_alloc0(sizeof(double) * ldw * STACK_ROWS);
		pt->st.C = C;
		memset(pt->st.C8, 0, sizeof(pt->st.C8));
	}
	lmm_run_threads(nt, q == 1 ? levels_q1 : q == 2 ? levels_q2 : levels_any,
					part, sizeof(Part));
	for (k = 0; k < nt; k++)
	{
		Part	   *pt = &part[k];

		stack_flush(&pt->st);
		for (a = 0; a < FOLD_W * FOLD_W; a++)
			C8[a] += pt->st.C8[a];
		sum += pt->ld.sum + log(pt->ld.prod);
		done &= pt->sp.done;
		w->not_pd |= pt->not_pd;
		lmm_free(pt->st.A);
	}
	if (ldw == FOLD_W)
		for (b = 0; b < n; b++)
			for (a = 0; a <= b; a++)
				C[b * n + a] += C8[a * FOLD_W + b];
	*ld += sum;
	return done;
}

/* One thread's share of the modes: levels j0 .. j1 - 1. */
typedef struct ModesPart
{
	LevelSpan	sp;
	const double *betac;		/* p, centred */
	double		sigma2;
	double	   *b;				/* nlevels * q: the modes */
	double	   *cv;				/* nlevels * q * q, or NULL */
} ModesPart;

/*
 * Modes and conditional covariances of a q = 1 or q = 2 term's levels that
 * meet no other term: with e_j = Zty_j - ZtX_j betac and M_j = T'A_jT + I,
 * u_j = M_j^-1 T'e_j, b_j = T u_j and condvar_j = sigma^2 T M_j^-1 T'
 * (for q = 2 from the 2 x 2 inverse written out).
 */
static void
modes_q12(void *arg)
{
	ModesPart  *pt = arg;
	Work	   *w = pt->sp.w;
	const Gram *g = w->g;
	const int64_t *xptr = cross_blocks(g->blk);
	int			p = g->p;
	int			q = g->q;
	const double *T = w->T;
	int64_t		j;
	int			k;

	for (j = pt->sp.j0; j < pt->sp.j1; j++)
	{
		const double *A = g->ZtZ + (size_t) j * q * q;
		const double *X = g->ZtX + (size_t) j * q * p;
		const double *y = g->Zty + (size_t) j * q;
		double	   *b = pt->b + (size_t) j * q;
		double		e0 = y[0];

		if (lmm_span_stop(&pt->sp, j))
			return;
		if (xptr != NULL && xptr[j] != xptr[j + 1])
			continue;
		for (k = 0; k < p; k++)
			e0 -= X[k] * pt->betac[k];
		if (q == 1)
		{
			double		t = T[0];
			double		im = 1.0 / (t * t * A[0] + 1.0);

			b[0] = t * (im * (t * e0));
			if (pt->cv != NULL)
				pt->cv[j] = pt->sigma2 * t * im * t;
		}
		else
		{
			double		t0 = T[0],
						t1 = T[2],
						t2 = T[3];
			double		e1 = y[1];
			double		b00 = A[0] * t0 + A[1] * t1;
			double		b10 = A[2] * t0 + A[3] * t1;
			double		m00 = t0 * b00 + t1 * b10 + 1.0;
			double		m10 = t2 * b10;
			double		m11 = t2 * A[3] * t2 + 1.0;
			double		id = 1.0 / (m00 * m11 - m10 * m10);
			double		i00 = m11 * id,
						i01 = -m10 * id,
						i11 = m00 * id;
			double		f0,
						f1,
						u0,
						u1;

			for (k = 0; k < p; k++)
				e1 -= X[p + k] * pt->betac[k];
			/* T'e, then u = M^-1 T'e, b = T u */
			f0 = t0 * e0 + t1 * e1;
			f1 = t2 * e1;
			u0 = i00 * f0 + i01 * f1;
			u1 = i01 * f0 + i11 * f1;
			b[0] = t0 * u0;
			b[1] = t1 * u0 + t2 * u1;
			if (pt->cv != NULL)
			{
				/* T M^-1 T' with T = [t0 0; t1 t2] */
				double	   *cv = pt->cv + (size_t) j * 4;
				double		c00 = t0 * i00 * t0;
				double		c10 = t0 * (t1 * i00 + t2 * i01);
				double		c11 = t1 * (t1 * i00 + t2 * i01) + t2 * (t1 * i01 + t2 * i11);

				cv[0] = pt->sigma2 * c00;
				cv[1] = cv[2] = pt->sigma2 * c10;
				cv[3] = pt->sigma2 * c11;
			}
		}
	}
}

/*
 * The first term's modes (b, nlevels * q) and conditional covariances (cv,
 * nlevels * q * q, or NULL) at the theta last evaluated, for the levels
 * that meet no other term, when q is 1 or 2 (split over threads as
 * lmm_levels_fold); the caller's general loop does the levels with cross
 * blocks.  Returns 0 when q > 2 (nothing done), -1 on interrupt, else 1.
 */
int
lmm_levels_modes(Work *w, const double *betac, double sigma2, double *b,
				 double *cv)
{
	int64_t		J = w->g->nlevels;
	int			nt = lmm_threads_for(J, LMM_LEVELS_PER_THREAD);
	ModesPart	part[LMM_MAX_THREADS];
	int			done = 1,
				k;

	if (w->g->q > 2)
		return 0;
	for (k = 0; k < nt; k++)
	{
		ModesPart  *pt = &part[k];

		pt->sp = lmm_level_span(w, k, nt);
		pt->betac = betac;
		pt->sigma2 = sigma2;
		pt->b = b;
		pt->cv = cv;
	}
	lmm_run_threads(nt, modes_q12, part, sizeof(ModesPart));
	for (k = 0; k < nt; k++)
		done &= part[k].sp.done;
	return done ? 1 : -1;
}
