/*
 * test_kr.c
 *	  Kenward-Roger from the statistics (lmm_kr.c) against pbkrtest's
 *	  vcovAdj_internal written out on the rows: Sigma, its derivatives G_i
 *	  and every product as n x n matrices, on small made-up data with one
 *	  term (the per-level path) and with two crossed terms (the dense
 *	  path), at a theta that is not an optimum (the algebra holds anywhere).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_kr.h"
#include "lmm_terms.h"
#include "test_core.h"

#define N 36
#define P 3

/* C = A B (m x k times k x n), row-major. */
static void
mul(int m, int k, int n, const double *A, const double *B, double *C)
{
	int			i,
				j,
				l;

	for (i = 0; i < m; i++)
		for (j = 0; j < n; j++)
		{
			double		v = 0.0;

			for (l = 0; l < k; l++)
				v += A[i * k + l] * B[l * n + j];
			C[i * n + j] = v;
		}
}

/* A' (m x n) into B (n x m). */
static void
transpose(int m, int n, const double *A, double *B)
{
	int			i,
				j;

	for (i = 0; i < m; i++)
		for (j = 0; j < n; j++)
			B[j * m + i] = A[i * n + j];
}

/* The inverse of the n x n symmetric positive-definite A in place. */
static void
inverse(int n, double *A)
{
	int			i,
				j;

	LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', n, A, n);
	LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', n, A, n);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			A[i * n + j] = A[j * n + i];
}

/* A row's design: x = (1, x1, x2), the terms' levels and z values. */
typedef struct Row
{
	double		x[P];
	int			lev[2];
	double		z[3];			/* term 0: (1, x1) or (1); term 1: (1) */
} Row;

/*
 * pbkrtest's vcovAdj on the rows: nterms terms of q[t] columns, theta in that order, sigma; returns Phi_A into phia.
 */
static void
brute_vcovadj(const Row *rows, int nterms, const int *q, const double *theta, double sigma, double *phia)
{
	static double Sigma[N * N],
				Si[N * N],
				G[8][N * N],
				H[8][N * N],
				tmp[N * N];
	double		X[N * P],
				TT[N * P],
				OO[8][N * P],
				PP[8][P * P],
				QQ[8][8][P * P],
				Phi[P * P],
				Xt[P * N],
				Ot[P * N],
				t1[P * N],
				IE2[64],
				W[64],
				UU[P * P],
				pp1[P * P],
				pp2[P * P];
	int			ng = 0,
				i,
				j,
				r,
				c,
				t,
				a,
				b,
				th = 0,
				x,
				y;

	for (r = 0; r < N; r++)
		memcpy(X + r * P, rows[r].x, sizeof(double) * P);
	/* the G_i: term by term, entries (a, b), a >= b, column by column */
	for (t = 0; t < nterms; t++)
	{
		int			zoff = t == 0 ? 0 : q[0];

		for (b = 0; b < q[t]; b++)
			for (a = b; a < q[t]; a++, ng++)
				for (r = 0; r < N; r++)
					for (c = 0; c < N; c++)
					{
						const Row  *u = &rows[r],
								   *v = &rows[c];

						G[ng][r * N + c] = u->lev[t] != v->lev[t] ? 0.0 :
							u->z[zoff + a] * v->z[zoff + b] +
							(a != b ? u->z[zoff + b] * v->z[zoff + a] : 0.0);
					}
	}
	for (r = 0; r < N * N; r++)
		G[ng][r] = r % (N + 1) == 0 ? 1.0 : 0.0;
	ng++;
	/* Sigma = sum gamma_i G_i, gamma the covariance entries sigma^2 (T T')_ab, then sigma^2 */
	memset(Sigma, 0, sizeof(Sigma));
	i = 0;
	for (t = 0; t < nterms; t++)
	{
		double		T[9] = {0};
		int			k = 0;

		for (b = 0; b < q[t]; b++)
			for (a = b; a < q[t]; a++)
				T[a * q[t] + b] = theta[th + k++];
		th += k;
		for (b = 0; b < q[t]; b++)
			for (a = b; a < q[t]; a++, i++)
			{
				double		g = 0.0;

				for (k = 0; k < q[t]; k++)
					g += T[a * q[t] + k] * T[b * q[t] + k];
				for (r = 0; r < N * N; r++)
					Sigma[r] += sigma * sigma * g * G[i][r];
			}
	}
	for (r = 0; r < N * N; r++)
		Sigma[r] += sigma * sigma * G[ng - 1][r];
	memcpy(Si, Sigma, sizeof(Si));
	inverse(N, Si);

	/* as vcovAdj_internal */
	mul(N, N, P, Si, X, TT);
	transpose(N, P, X, Xt);
	mul(P, N, P, Xt, TT, Phi);
	inverse(P, Phi);
	for (i = 0; i < ng; i++)
	{
		mul(N, N, N, G[i], Si, H[i]);
		mul(N, N, P, H[i], X, OO[i]);
	}
	for (i = 0; i < ng; i++)
	{
		transpose(N, P, OO[i], Ot);
		mul(P, N, P, Ot, TT, PP[i]);
		for (x = 0; x < P * P; x++)
			PP[i][x] = -PP[i][x];
		mul(P, N, N, Ot, Si, t1);
		for (j = i; j < ng; j++)
			mul(P, N, P, t1, OO[j], QQ[i][j]);
	}
	for (i = 0; i < ng; i++)
		for (j = i; j < ng; j++)
		{
			double		k = 0.0,
						v;

			transpose(N, N, H[i], tmp);
			for (x = 0; x < N * N; x++)
				k += tmp[x] * H[j][x];
			v = k;
			for (x = 0; x < P * P; x++)
				v -= 2.0 * Phi[x] * QQ[i][j][x];
			mul(P, P, P, Phi, PP[i], pp1);
			mul(P, P, P, PP[j], Phi, pp2);
			for (x = 0; x < P * P; x++)
				v += pp1[x] * pp2[x];
			IE2[i * ng + j] = IE2[j * ng + i] = v;
		}
	memcpy(W, IE2, sizeof(double) * ng * ng);
	inverse(ng, W);
	for (x = 0; x < ng * ng; x++)
		W[x] *= 2.0;
	memset(UU, 0, sizeof(UU));
	for (i = 0; i < ng; i++)
		for (j = i; j < ng; j++)
		{
			mul(P, P, P, PP[i], Phi, pp1);
			mul(P, P, P, pp1, PP[j], pp2);
			for (x = 0; x < P; x++)
				for (y = 0; y < P; y++)
				{
					double		v = W[i * ng + j] * (QQ[i][j][x * P + y] - pp2[x * P + y]);

					UU[x * P + y] += v;
					if (j != i)
						UU[y * P + x] += v;
				}
		}
	mul(P, P, P, Phi, UU, pp1);
	mul(P, P, P, pp1, Phi, pp2);
	for (x = 0; x < P * P; x++)
		phia[x] = Phi[x] + 2.0 * pp2[x];
}

/* The largest relative difference of n numbers. */
static double
rel_diff(int n, const double *a, const double *b)
{
	double		d = 0.0,
				big = 0.0;
	int			i;

	for (i = 0; i < n; i++)
	{
		d = fmax(d, fabs(a[i] - b[i]));
		big = fmax(big, fabs(b[i]));
	}
	return d / big;
}

/* Made-up rows: x1 a trend, x2 a wobble, levels crossed and unbalanced. */
static void
make_rows(Row *rows, int slope)
{
	int			r;

	for (r = 0; r < N; r++)
	{
		Row		   *w = &rows[r];

		w->x[0] = 1.0;
		w->x[1] = (r % 6) * 0.5 + 0.1 * (r % 5);
		w->x[2] = sin(0.7 * r);
		w->lev[0] = (r * 7) % 6;
		w->lev[1] = (r / 3 + r % 2) % 4;
		w->z[0] = 1.0;
		w->z[1] = slope ? w->x[1] : 1.0;
		w->z[2] = 1.0;
	}
}

/* Terms of nlev[t] levels, numbered 0, 1, ... (the rows' level numbers). */
static void
add_levels(LmmTermStats *s, int nterms, const int *nlev)
{
	int			t,
				j;

	for (t = 0; t < nterms; t++)
		for (j = 0; j < nlev[t]; j++)
			lmm_terms_add_level(s, t);
}

/* The statistics of the rows for nterms terms (term 0 of q0 columns). */
static void
stats_of(const Row *rows, int nterms, int q0, LmmTermStats *s)
{
	int			q[2] = {q0, 1},
				nlev[2] = {6, 4};
	int			r;

	lmm_terms_init(s, P, nterms, q);
	add_levels(s, nterms, nlev);
	for (r = 0; r < N; r++)
	{
		int64_t		level[2] = {rows[r].lev[0], rows[r].lev[1]};
		double		z[3];

		/* term 0's q0 values, then term 1's intercept */
		z[0] = 1.0;
		z[1] = q0 == 2 ? rows[r].z[1] : 1.0;
		z[2] = 1.0;
		lmm_terms_add_row(s, rows[r].x, 3.0 + rows[r].x[1] + cos(r), level, z);
	}
}

/*
 * The derivation, one term and two; the df and F invariant under a change
 * of the hypotheses' basis; interrupts and the dense limit.
 */
void
test_kr(const char *dir)
{
	Row			rows[N];
	LmmTermStats s;
	LmmKr		kr;
	double		phia[P * P];
	double		theta1[3] = {0.8, 0.3, 0.5};
	double		theta2[2] = {0.7, 1.3};
	int			q1[1] = {2},
				q2[2] = {1, 1};
	char		what[160];
	double		L[P] = {0, 1, 0},
				fs,
				df;

	/* one term with a correlated slope: the per-level path */
	make_rows(rows, 1);
	stats_of(rows, 1, 2, &s);
	check(lmm_kr(&s, theta1, 1.7, &kr) == LMM_KR_OK && kr.ngamma == 4,
		  "kr: one term: status and parameters");
	brute_vcovadj(rows, 1, q1, theta1, 1.7, phia);
	snprintf(what, sizeof(what), "kr: one term: vcovAdj from the statistics matches pbkrtest's on the rows (%.2g)",
			 rel_diff(P * P, kr.phia, phia));
	check(rel_diff(P * P, kr.phia, phia) < 1e-10, what);
	df = lmm_kr_df(&kr, 1, L, &fs);
	check(isfinite(df) && df > 0.0 && fs > 0.0, "kr: one term: a finite df and scale");
	{
		double		L3[P] = {0, 3, 0},
					rows[2 * P] = {0, 1, 0, 0, 0, 1},
					turned[2 * P] = {0, 1, 1, 0, 2, -1},
					beta[P] = {1.0, -0.5, 2.0},
					fs3,
					f1,
					s1,
					d1,
					f2,
					s2,
					d2;

		check(fabs(lmm_kr_df(&kr, 1, L3, &fs3) - df) < 1e-10 * df && fabs(fs3 - fs) < 1e-12,
			  "kr: one term: df and scale of 3 L are those of L");
		check(lmm_kr_ftest(&kr, beta, 2, rows, &f1, &s1, &d1) == 2 &&
			  lmm_kr_ftest(&kr, beta, 2, turned, &f2, &s2, &d2) == 2 &&
			  fabs(f1 - f2) < 1e-10 * f1 && fabs(s1 - s2) < 1e-10 && fabs(d1 - d2) < 1e-10 * d1,
			  "kr: one term: F, scale and df of two hypotheses do not depend on their basis");
	}
	lmm_kr_free(&kr);
	host_polls_left = 0;
	check(lmm_kr(&s, theta1, 1.7, &kr) == LMM_KR_INTERRUPTED, "kr: one term: an interrupt stops it");
	host_polls_left = -1;
	lmm_terms_free(&s);

	/* two crossed terms: the dense path */
	make_rows(rows, 0);
	stats_of(rows, 2, 1, &s);
	check(lmm_kr(&s, theta2, 0.9, &kr) == LMM_KR_OK && kr.ngamma == 3 && kr.nre == 10,
		  "kr: two terms: status and parameters");
	brute_vcovadj(rows, 2, q2, theta2, 0.9, phia);
	snprintf(what, sizeof(what), "kr: two terms: vcovAdj from the statistics matches pbkrtest's on the rows (%.2g)",
			 rel_diff(P * P, kr.phia, phia));
	check(rel_diff(P * P, kr.phia, phia) < 1e-10, what);
	lmm_kr_free(&kr);
	host_polls_left = 0;
	check(lmm_kr(&s, theta2, 0.9, &kr) == LMM_KR_INTERRUPTED, "kr: two terms: an interrupt stops it");
	host_polls_left = -1;
	lmm_terms_free(&s);

	/* more random effects than the dense computation takes */
	{
		int			q[2] = {1, 1},
					nlev[2] = {2050, 3},
					r;

		lmm_terms_init(&s, 1, 2, q);
		add_levels(&s, 2, nlev);
		for (r = 0; r < 4100; r++)
		{
			int64_t		level[2] = {r % 2050, r % 3};
			double		x = 1.0,
						z[2] = {1.0, 1.0};

			lmm_terms_add_row(&s, &x, sin(r), level, z);
		}
		check(lmm_kr(&s, theta2, 1.0, &kr) == LMM_KR_TOO_MANY && kr.nre == 2053,
			  "kr: 2,053 random effects of two terms are past the dense limit");
		lmm_terms_free(&s);
	}
	(void) dir;
}
