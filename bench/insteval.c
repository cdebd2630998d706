/*
 * insteval.c
 *	  The final solve of InstEval's model on the PostgreSQL-free core:
 *	  y ~ service + (1 | s) + (1 | d) + (1 | dept) by REML, from a CSV with
 *	  columns y, service, s, d, dept (bench/insteval.sh writes one from R).
 *	  Prints the time of the fit with and without Satterthwaite's
 *	  ingredients (wall clock and CPU), the criterion, theta and the
 *	  evaluations; median of 3.
 *	  Usage: bench/insteval FILE.csv
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lmm_fit.h"
#include "lmm_terms.h"
#include "../test/core/test_util.h"

/* Wall-clock seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Read the CSV into statistics with x = (1, service == "1") and z = 1 for each term. */
static int
load(const char *path, LmmTermStats *s, TestKeys *keys)
{
	FILE	   *f = fopen(path, "r");
	char		line[256];
	int			q[3] = {1, 1, 1};

	if (f == NULL)
		return 0;
	lmm_terms_init(s, 2, 3, q);
	test_keys_init(keys);
	if (fgets(line, sizeof(line), f) == NULL)
	{
		fclose(f);
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *field[5];
		const char *key[3];
		uint32_t	keylen[3];
		double		x[2],
					z[3] = {1.0, 1.0, 1.0};
		char	   *save = NULL;
		int			i;

		line[strcspn(line, "\r\n")] = '\0';
		for (i = 0; i < 5; i++)
			if ((field[i] = strtok_r(i == 0 ? line : NULL, ",", &save)) == NULL)
				break;
		if (i < 5)
			continue;
		x[0] = 1.0;
		x[1] = strcmp(field[1], "1") == 0 ? 1.0 : 0.0;
		for (i = 0; i < 3; i++)
		{
			key[i] = field[2 + i];
			keylen[i] = (uint32_t) strlen(field[2 + i]);
		}
		test_keys_add_row(s, keys, x, atof(field[0]), key, keylen, z);
	}
	fclose(f);
	return 1;
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
	LmmTermStats s;
	TestKeys	keys;
	int			with_df;

	if (argc != 2 || !load(argv[1], &s, &keys))
	{
		fprintf(stderr, "usage: bench/insteval FILE.csv\n");
		return 2;
	}
	printf("rows %.0f\n", s.n);
	for (with_df = 0; with_df <= 1; with_df++)
	{
		double		t[3],
					c[3];
		int			r;

		for (r = 0; r < 3; r++)
		{
			LmmFit		fit;
			LmmStatus	st;
			double		t0 = now();
			clock_t		c0 = clock();

			st = lmm_fit(&s, 1, with_df, &fit);
			t[r] = now() - t0;
			c[r] = (double) (clock() - c0) / CLOCKS_PER_SEC;
			if (st != LMM_OK)
			{
				fprintf(stderr, "fit failed: %d\n", (int) st);
				return 1;
			}
			if (r == 0)
				printf("criterion %.10f theta %.8f %.8f %.8f evals %d\n",
					   fit.criterion, fit.theta[0], fit.theta[1], fit.theta[2],
					   fit.n_eval);
			lmm_fit_free(&fit);
		}
		printf("%s %.3f s (CPU %.3f s)\n", with_df ? "fit with df" : "fit",
			   median3(t[0], t[1], t[2]), median3(c[0], c[1], c[2]));
	}
	lmm_terms_free(&s);
	test_keys_free(&keys);
	return 0;
}
