/*
 * test_sparse.c
 *	  Unit tests of the sparse factor of the later terms (lmm_sparse.c):
 *	  on the same statistics of a banded crossing, the sparse and the dense
 *	  path give the same criterion, gradient, Hessian, optimum, modes,
 *	  conditional variances and Satterthwaite ingredients; the choice by
 *	  fill; the memory limit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_terms.h"
#include "test_core.h"
#include "test_util.h"

extern int	host_factor_choice;
extern double host_factor_limit;
extern int	host_threads;

/*
 * Rows, and levels of the two crossed factors (b in bands along a), of the
 * data the paths are compared on; the choice by fill is tested on data
 * SP_SCALE times larger, above lmm_sparse.c's least size.
 */
#define SP_ROWS		2400
#define SP_LEVELS_A 600
#define SP_LEVELS_B 240
#define SP_SCALE	5

/* A uniform number in [0, 1) from a 64-bit LCG, so the data are the same everywhere. */
static double
sp_lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (*s >> 11) / 9007199254740992.0;
}

/*
 * Statistics of y ~ x + (z_a | a) + (z_b | b), z_a of qa columns of (1, x)
 * and z_b of qb:
 * row i in level a = i mod SP_LEVELS_A and in one of the four levels of b
 * around a's place in b's range, or anywhere in b's range when random.
 */
static void
sp_stats(LmmTermStats *st, TestKeys *keys, int qa, int qb, int random, int scale)
{
	static double ua[SP_SCALE * SP_LEVELS_A][2],
				ub[SP_SCALE * SP_LEVELS_B];
	uint64_t	s = 2024;
	int			q[2] = {qa, qb};
	int			na = scale * SP_LEVELS_A,
				nb = scale * SP_LEVELS_B;
	int			i;

	for (i = 0; i < na; i++)
	{
		ua[i][0] = 2.0 * sp_lcg(&s) - 1.0;
		ua[i][1] = 0.4 * sp_lcg(&s) - 0.2;
	}
	for (i = 0; i < nb; i++)
		ub[i] = 1.5 * sp_lcg(&s) - 0.75;
	lmm_terms_init(st, 2, 2, q);
	test_keys_init(keys);
	for (i = 0; i < scale * SP_ROWS; i++)
	{
		int			a = i % na;
		int			b = random ? (int) (sp_lcg(&s) * nb) :
			(int) (((int64_t) a * nb / na + (i / na)) % nb);
		double		x = 2.0 * sp_lcg(&s);
		double		xr[2] = {1.0, x};
		double		z[4] = {1.0, x, 1.0, x};
		double		y = 1.0 + 0.5 * x + ua[a][0] + ua[a][1] * x + ub[b] + (sp_lcg(&s) - 0.5);
		char		ka[16],
					kb[16];
		const char *kp[2] = {ka, kb};
		uint32_t	kl[2];

		snprintf(ka, sizeof(ka), "a%d", a);
		snprintf(kb, sizeof(kb), "b%d", b);
		kl[0] = (uint32_t) strlen(ka);
		kl[1] = (uint32_t) strlen(kb);
		if (qa == 1)
			memmove(z + 1, z + 2, sizeof(double) * 2);
		test_keys_add_row(st, keys, xr, y, kp, kl, z);
	}
}

/* Largest difference of n values relative to scale, or to each |b| when scale is 0. */
static double
rel(const double *a, const double *b, int64_t n, double scale)
{
	double		worst = 0.0;
	int64_t		i;

	for (i = 0; i < n; i++)
		worst = fmax(worst, fabs(a[i] - b[i]) /
					 (scale > 0.0 ? scale : fmax(1e-300, fabs(b[i]))));
	return worst;
}

/*
 * The criterion and gradient at a few thetas by both paths, with the
 * first term's update by pair and level by level (scalar terms), or the
 * vector gradient.
 */
static void
check_derivatives(const LmmTermStats *st, int reml, int nt, const char *name)
{
	static const double at[3][6] = {{1.0, 1.0, 1.0, 1.0, 0.0, 0.5},
	{0.3, 0.1, 0.2, 2.5, 0.3, 0.2}, {1.7, -0.2, 0.5, 0.4, -0.1, 0.3}};
	double		worst = 0.0;
	int			i,
				v,
				list;

	for (list = 0; list < 2; list++)
		for (i = 0; i < 3; i++)
		{
			double		f[2],
						grad[2][6];

			for (v = 0; v < 2; v++)
			{
				Gram		g;
				Blocks		bk;
				Work		w;
				int			bad = -1;
				double		th[6];

				/* theta of (1 | a) + (1 | b): the first and last of at */
				memcpy(th, at[i], sizeof(th));
				if (nt == 2)
					th[1] = at[i][3];
				host_factor_choice = v == 0 ? 2 : 1;
				if (lmm_blocked_build(st, &g, &bk, &bad) != LMM_OK)
				{
					check(0, "sparse: blocks build");
					return;
				}
				check((bk.sp != NULL) == (v == 0), "sparse: the forced path is taken");
				if (list == 1)
					lmm_blocked_pairs_free(&bk);
				lmm_work_init(&w, &g, reml);
				f[v] = lmm_criterion(&w, th);
				f[v] = lmm_criterion_grad(&w, th, grad[v]);
				lmm_work_free(&w);
				lmm_blocked_free(&g, &bk);
			}
			worst = fmax(worst, fabs(f[0] - f[1]) / fabs(f[1]));
			worst = fmax(worst, rel(grad[0], grad[1], nt, fmax(1.0, fabs(grad[1][0]))));
		}
	host_factor_choice = 0;
	printf("sparse %s %s: criterion and gradient, sparse vs dense %.3g\n", name,
		   reml ? "REML" : "ML", worst);
	check(worst < 1e-10, "sparse: criterion and gradient equal the dense path's");
}

/* The Hessian (scalar terms): the sparse path's differences of the gradient against the dense path's analytic one. */
static void
check_hessian(const LmmTermStats *st, int reml)
{
	static const double th[2] = {0.8, 0.6};
	double		f[2],
				grad[2][2],
				hess[2][4],
				worst;
	int			v;

	for (v = 0; v < 2; v++)
	{
		host_factor_choice = v == 0 ? 2 : 1;
		check(lmm_criterion_hessian(st, reml, th, &f[v], grad[v], hess[v]) == LMM_OK,
			  "sparse: Hessian defined");
	}
	host_factor_choice = 0;
	worst = rel(hess[0], hess[1], 4, fmax(fabs(hess[1][0]), fabs(hess[1][3])));
	printf("sparse %s: Hessian, sparse (differences) vs dense (analytic) %.3g\n",
		   reml ? "REML" : "ML", worst);
	check(worst < 1e-9, "sparse: the Hessian equals the dense path's to the differences' error");
}

/*
 * The analytic Hessian on the dense factor where the later term's levels
 * are many and meet few of the first's (a random crossing of 3,000 x 1,200
 * levels): the product S^-1 G over G's nonzeros, split between threads in
 * blocks of rows.  Against central differences of the analytic gradient,
 * and the same bits on one thread and on three.
 */
static void
check_sparse_product(int reml)
{
	static const double th[2] = {1.3, 0.7};
	LmmTermStats st;
	TestKeys	keys;
	double		f,
				grad[2],
				hess[2][4],
				worst = 0.0;
	int			a,
				b,
				v;

	sp_stats(&st, &keys, 1, 1, 1, SP_SCALE);
	host_factor_choice = 1;
	for (v = 0; v < 2; v++)
	{
		host_threads = v == 0 ? 1 : 3;
		check(lmm_criterion_hessian(&st, reml, th, &f, grad, hess[v]) == LMM_OK,
			  "sparse: Hessian of the random crossing defined");
	}
	host_threads = 1;
	for (b = 0; b < 2; b++)
	{
		double		h = 1e-4 * th[b],
					t[2] = {th[0], th[1]},
					gp[2],
					gm[2];

		t[b] = th[b] + h;
		lmm_criterion_gradient(&st, reml, t, &f, gp);
		t[b] = th[b] - h;
		lmm_criterion_gradient(&st, reml, t, &f, gm);
		for (a = 0; a < 2; a++)
			worst = fmax(worst, fabs(hess[0][a * 2 + b] - (gp[a] - gm[a]) / (2.0 * h)) /
						 fmax(1.0, fabs(hess[0][a * 2 + b])));
	}
	host_factor_choice = 0;
	printf("sparse %s: Hessian of a random crossing (product over G's nonzeros) vs differences %.3g\n",
		   reml ? "REML" : "ML", worst);
	check(worst < 1e-5, "sparse: the Hessian by G's nonzeros matches differences of the gradient");
	check(memcmp(hess[0], hess[1], sizeof(hess[0])) == 0,
		  "sparse: the Hessian by G's nonzeros is the same on one thread and on three");
	lmm_terms_free(&st);
	test_keys_free(&keys);
}

/* The whole fit by both paths: optimum, estimates, modes, conditional variances, Satterthwaite's ingredients. */
static void
check_fit(const LmmTermStats *st, int reml, const char *name)
{
	LmmFit		fit[2];
	double		worst = 0.0,
				wmode = 0.0,
				wsat = 0.0;
	int			v,
				t;

	for (v = 0; v < 2; v++)
	{
		host_factor_choice = v == 0 ? 2 : 1;
		check(lmm_fit(st, reml, 1, &fit[v]) == LMM_OK, "sparse: the fit succeeds");
		check(fit[v].factor_sparse == (v == 0), "sparse: the fit reports its path");
	}
	host_factor_choice = 0;
	worst = fmax(worst, rel(fit[0].theta, fit[1].theta, fit[1].ntheta, 1.0));
	worst = fmax(worst, rel(fit[0].beta, fit[1].beta, fit[1].p, 1.0));
	worst = fmax(worst, rel(&fit[0].sigma, &fit[1].sigma, 1, 0.0));
	worst = fmax(worst, rel(&fit[0].criterion, &fit[1].criterion, 1, 0.0));
	for (t = 0; t < fit[1].nterms; t++)
	{
		int64_t		n = fit[1].term[t].nlevels * fit[1].term[t].q;

		wmode = fmax(wmode, rel(fit[0].term[t].b, fit[1].term[t].b, n, 1.0));
		wmode = fmax(wmode, rel(fit[0].term[t].condvar, fit[1].term[t].condvar,
								n * fit[1].term[t].q, 1.0));
	}
	check(fit[0].ninf == fit[1].ninf && fit[1].ninf > 0, "sparse: Satterthwaite's ingredients on both paths");
	if (fit[0].ninf == fit[1].ninf && fit[1].ninf > 0)
	{
		int			n = fit[1].ninf;

		wsat = rel(fit[0].vcov_varpar, fit[1].vcov_varpar, n * n, 1.0);
		wsat = fmax(wsat, rel(fit[0].jac, fit[1].jac, n * fit[1].p * fit[1].p, 1.0));
	}
	printf("sparse %s %s: fit %.3g (theta %.10g %.10g), modes and condvar %.3g, Satterthwaite %.3g\n",
		   name, reml ? "REML" : "ML", worst, fit[0].theta[0],
		   fit[0].theta[fit[0].ntheta - 1], wmode, wsat);
	check(worst < 1e-8, "sparse: the optimum equals the dense path's");
	check(wmode < 1e-8, "sparse: modes and conditional variances equal the dense path's");
	check(wsat < 1e-8, "sparse: Satterthwaite's ingredients equal the dense path's");
	lmm_fit_free(&fit[0]);
	lmm_fit_free(&fit[1]);
}

/* The choice by fill, and the memory limit. */
static void
check_choice(void)
{
	LmmTermStats st;
	TestKeys	keys;
	LmmFit		fit;
	double		limit = host_factor_limit;

	sp_stats(&st, &keys, 1, 1, 0, SP_SCALE);
	check(lmm_fit(&st, 1, 0, &fit) == LMM_OK && fit.factor_sparse,
		  "sparse: a banded crossing takes the sparse factor");
	lmm_fit_free(&fit);
	host_factor_limit = 1e5;
	check(lmm_fit(&st, 1, 0, &fit) == LMM_ERR_TOO_MANY_LEVELS && fit.factor_bytes > 1e5,
		  "sparse: a factor over the memory limit is refused, saying what it needs");
	lmm_fit_free(&fit);
	host_factor_choice = 1;
	check(lmm_fit(&st, 1, 0, &fit) == LMM_ERR_TOO_MANY_LEVELS &&
		  fit.factor_bytes >= 16.0 * SP_SCALE * SP_LEVELS_B * SP_SCALE * SP_LEVELS_B,
		  "sparse: the dense factor's limit is memory too");
	lmm_fit_free(&fit);
	host_factor_choice = 0;
	host_factor_limit = limit;
	lmm_terms_free(&st);
	test_keys_free(&keys);

	sp_stats(&st, &keys, 1, 1, 1, SP_SCALE);
	check(lmm_fit(&st, 1, 0, &fit) == LMM_OK && !fit.factor_sparse,
		  "sparse: a random crossing (dense fill) keeps the dense factor");
	lmm_fit_free(&fit);
	lmm_terms_free(&st);
	test_keys_free(&keys);
}

/* The sparse factor's tests. */
void
test_sparse(void)
{
	LmmTermStats st;
	TestKeys	keys;
	int			reml;

	sp_stats(&st, &keys, 1, 1, 0, 1);
	for (reml = 0; reml < 2; reml++)
	{
		check_derivatives(&st, reml, 2, "(1 | a) + (1 | b)");
		check_hessian(&st, reml);
		check_fit(&st, reml, "(1 | a) + (1 | b)");
	}
	lmm_terms_free(&st);
	test_keys_free(&keys);

	sp_stats(&st, &keys, 2, 1, 0, 1);
	for (reml = 0; reml < 2; reml++)
	{
		check_derivatives(&st, reml, 4, "(1 + x | a) + (1 | b)");
		check_fit(&st, reml, "(1 + x | a) + (1 | b)");
	}
	lmm_terms_free(&st);
	test_keys_free(&keys);

	sp_stats(&st, &keys, 2, 2, 0, 1);
	check_derivatives(&st, 1, 6, "(1 + x | a) + (1 + x | b)");
	check_fit(&st, 1, "(1 + x | a) + (1 + x | b)");
	lmm_terms_free(&st);
	test_keys_free(&keys);
	check_choice();
	check_sparse_product(0);
	check_sparse_product(1);
}
