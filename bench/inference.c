/*
 * inference.c
 *	  What inference adds to a fit, on the PostgreSQL-free core: the time of
 *	  lmm_fit (which includes the Satterthwaite step), of the Satterthwaite
 *	  step alone, and of profile intervals, for growing numbers of groups.
 *	  Synthetic data: 10 rows per group, p = 3 (intercept and two
 *	  covariates), q = 2 (random intercept and slope).  Prints one table row
 *	  per size; median of 3 runs.  Build and run: bash bench/inference.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_infer.h"
#include "lmm_terms.h"

/* Wall-clock seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A standard normal draw (Box-Muller on rand_r, reproducible). */
static double
normal(unsigned *seed)
{
	double		u = (rand_r(seed) + 1.0) / (RAND_MAX + 2.0);
	double		v = (rand_r(seed) + 1.0) / (RAND_MAX + 2.0);

	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Statistics of G groups of 10 rows: y = 5 + 1.5 x1 - 0.7 x2 + b0 + b1 x1 + e. */
static void
make_stats(LmmTermStats *s, int64_t G)
{
	unsigned	seed = 20261121;
	int			q = 2;
	int64_t		j;

	lmm_terms_init(s, 3, 1, &q);
	for (j = 0; j < G; j++)
	{
		int64_t		lv = lmm_terms_add_level(s, 0);
		double		b0 = 2.0 * normal(&seed),
					b1 = 0.5 * normal(&seed);
		int			i;

		for (i = 0; i < 10; i++)
		{
			double		x1 = normal(&seed),
						x2 = 10.0 * rand_r(&seed) / RAND_MAX;
			double		x[3] = {1.0, x1, x2};
			double		z[2] = {1.0, x1};
			double		y = 5.0 + 1.5 * x1 - 0.7 * x2 + b0 + b1 * x1 + normal(&seed);

			lmm_terms_add_row(s, x, y, &lv, z);
		}
	}
}

/* Median of three. */
static double
median3(double a, double b, double c)
{
	return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

int
main(int argc, char **argv)
{
	int64_t		sizes[8] = {1000, 10000, 100000};
	int			nsizes = 3;
	int			k;

	/* sizes from the command line, if given */
	if (argc > 1)
		for (nsizes = 0; nsizes < argc - 1 && nsizes < 8; nsizes++)
			sizes[nsizes] = atoll(argv[nsizes + 1]);

	printf("| groups | rows | lmm_fit (ms) | of which Satterthwaite (ms) | profile intervals, 9 parameters (ms) |\n");
	printf("|---:|---:|---:|---:|---:|\n");
	for (k = 0; k < nsizes; k++)
	{
		LmmTermStats s;
		double		t_fit[3],
					t_satt[3],
					t_prof[3];
		int			r;

		make_stats(&s, sizes[k]);
		for (r = 0; r < 3; r++)
		{
			LmmFit		fit;
			LmmProfile	prof;
			Gram		g;
			Blocks	   *bk = calloc(1, sizeof(Blocks));
			Work		w;
			int			bad_term = -1;
			double		t0 = now();
			double	   *A,
					   *J;

			if (lmm_fit(&s, 1, 1, &fit) != LMM_OK)
				return 1;
			t_fit[r] = now() - t0;

			/* the Satterthwaite step again, alone, at the fit's optimum */
			if (lmm_blocked_build(&s, &g, bk, &bad_term) != LMM_OK)
				return 1;
			lmm_work_init(&w, &g, 1);
			A = malloc(sizeof(double) * fit.ninf * fit.ninf);
			J = malloc(sizeof(double) * fit.ninf * 9);
			lmm_criterion(&w, fit.theta);
			t0 = now();
			lmm_satterthwaite(&w, fit.theta, fit.sigma, A, J);
			t_satt[r] = now() - t0;
			free(A);
			free(J);
			lmm_work_free(&w);
			lmm_blocked_free(&g, bk);
			free(bk);
			lmm_fit_free(&fit);

			t0 = now();
			if (lmm_profile(&s, 0.95, &prof) != LMM_OK)
				return 1;
			t_prof[r] = now() - t0;
			lmm_profile_free(&prof);
		}
		printf("| %lld | %lld | %.1f | %.1f | %.0f |\n", (long long) sizes[k],
			   (long long) sizes[k] * 10, 1e3 * median3(t_fit[0], t_fit[1], t_fit[2]),
			   1e3 * median3(t_satt[0], t_satt[1], t_satt[2]),
			   1e3 * median3(t_prof[0], t_prof[1], t_prof[2]));
		fflush(stdout);
		lmm_terms_free(&s);
	}
	return 0;
}
