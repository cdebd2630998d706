/*
 * test_threads.c
 *	  Unit tests of the passes over levels split between threads
 *	  (lmm_threads.c): a fit of 100,000 levels on one thread and on three
 *	  gives the same estimates to rounding, and an interrupt stops it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "lmm_fit.h"
#include "lmm_infer.h"
#include "lmm_terms.h"
#include "test_core.h"

extern int	host_threads;

/* A deterministic uniform number in (0, 1) from two integers (splitmix64). */
static double
unif(uint64_t i, uint64_t s)
{
	uint64_t	z = i * 0x9E3779B97F4A7C15ULL + s * 0xBF58476D1CE4E5B9ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return ((double) (z >> 11) + 0.5) / 9007199254740992.0;
}

/* A standard normal number from two integers (Box-Muller). */
static double
normal(uint64_t i, uint64_t s)
{
	return sqrt(-2.0 * log(unif(i, s))) * cos(2.0 * M_PI * unif(i, s + 1000));
}

/*
 * Statistics of y = 1 + 0.5 x1 - 0.3 x2 + u0 + u1 t + e over J levels of 3
 * rows, random intercepts (q = 1) or intercepts and slopes on t (q = 2).
 */
static void
make_stats(LmmTermStats *s, int64_t J, int q)
{
	int64_t		j;
	int			r;

	lmm_terms_init(s, 3, 1, &q);
	lmm_terms_reserve_levels(s, 0, J);
	for (j = 0; j < J; j++)
		lmm_terms_add_level(s, 0);
	for (j = 0; j < J; j++)
		for (r = 0; r < 3; r++)
		{
			uint64_t	i = (uint64_t) j * 3 + r;
			double		x1 = normal(i, 1),
						x2 = normal(i, 3),
						t = unif(i, 5);
			double		x[3] = {1.0, x1, x2};
			double		z[2] = {1.0, t};
			double		y = 1.0 + 0.5 * x1 - 0.3 * x2 + 0.8 * normal(j, 11) +
				(q == 2 ? 0.6 * normal(j, 12) * t : 0.0) + normal(i, 7);

			lmm_terms_add_row(s, x, y, &j, z);
		}
}

/* The largest relative difference of two fits' estimates and Satterthwaite's df. */
static double
fit_difference(const LmmFit *a, const LmmFit *b)
{
	double		d = fabs(a->criterion - b->criterion) / fabs(a->criterion);
	double		L[3] = {0.0, 1.0, 0.0};
	int			k;

	for (k = 0; k < a->ntheta; k++)
		d = fmax(d, fabs(a->theta[k] - b->theta[k]) / fmax(fabs(a->theta[k]), 1e-3));
	for (k = 0; k < 3; k++)
		d = fmax(d, fabs(a->beta[k] - b->beta[k]) / fmax(fabs(a->beta[k]), 1e-3));
	d = fmax(d, fabs(a->sigma - b->sigma) / a->sigma);
	if (a->ninf > 0 && b->ninf > 0)
	{
		double		da = lmm_satterthwaite_df(a->ninf, 3, a->vcov_varpar, a->jac, a->vcov, L);
		double		db = lmm_satterthwaite_df(b->ninf, 3, b->vcov_varpar, b->jac, b->vcov, L);

		d = fmax(d, fabs(da - db) / da);
	}
	else
		d = INFINITY;
	return d;
}

/* One thread against three for q = 1 and q = 2, REML and ML; an interrupt under threads. */
void
test_threads(void)
{
	int			q;

	for (q = 1; q <= 2; q++)
	{
		LmmTermStats s;
		int			reml;

		make_stats(&s, 100000, q);
		for (reml = 0; reml <= 1; reml++)
		{
			LmmFit		one,
						three;
			char		what[160];
			double		d;
			int			ok;

			host_threads = 1;
			ok = lmm_fit(&s, reml, 1, &one) == LMM_OK;
			host_threads = 3;
			ok = ok && lmm_fit(&s, reml, 1, &three) == LMM_OK;
			host_threads = 1;
			d = ok ? fit_difference(&one, &three) : INFINITY;
			printf("threads q = %d %s: 1 against 3 threads, max rel diff %.3g (theta %.10g, %d evaluations)\n",
				   q, reml ? "REML" : "ML", d, ok ? one.theta[0] : NAN, ok ? one.n_eval : -1);
			snprintf(what, sizeof(what),
					 "threads: q = %d %s fit on 3 threads equals 1 thread's to 1e-9", q, reml ? "REML" : "ML");
			check(ok && d < 1e-9, what);
			if (ok)
			{
				lmm_fit_free(&one);
				lmm_fit_free(&three);
			}
		}

		/* an interrupt seen by the caller's thread stops a threaded fit cleanly */
		{
			LmmFit		fit;
			LmmStatus	st;

			host_threads = 3;
			host_polls_left = 40;
			st = lmm_fit(&s, 1, 1, &fit);
			host_polls_left = -1;
			host_threads = 1;
			check(st == LMM_ERR_INTERRUPTED, q == 1 ?
				  "threads: q = 1 fit on 3 threads stops on an interrupt" :
				  "threads: q = 2 fit on 3 threads stops on an interrupt");
			if (st == LMM_OK)
				lmm_fit_free(&fit);
		}
		lmm_terms_free(&s);
	}
}
