/*
 * test_vgrad.c
 *	  Unit tests of the several-term fit with vector-valued terms (random
 *	  slopes): the analytic gradient (lmm_blocked_vgrad.c) against central
 *	  differences of the criterion (at singular T too, over the thetas off
 *	  their bound), and the optimum it polishes to the same point whatever
 *	  the order the statistics were summed in, singular fits included.
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

/* Rows of the synthetic data, and levels of its two grouping factors. */
#define VG_ROWS		600
#define VG_LEVELS_A 30
#define VG_LEVELS_B 7

/* A uniform number in [0, 1) from a 64-bit LCG, so the data are the same everywhere. */
static double
lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double) (*s >> 11) / 9007199254740992.0;
}

/*
 * Statistics of y ~ x + (z_a | a) + (z_b | b) on VG_ROWS synthetic rows
 * (a with VG_LEVELS_A levels, b with VG_LEVELS_B, crossed), rows [from, to)
 * in the given order (backwards when reverse), z_a of qa columns and z_b of
 * qb from (1, x, x2).  When flat, y has random intercepts only, so that a
 * slope's variance is estimated as 0: a singular fit.
 */
static void
vg_stats(LmmTermStats *st, TestKeys *keys, int qa, int qb, int from, int to,
		 int reverse, int flat)
{
	static double x[VG_ROWS],
				x2[VG_ROWS],
				y[VG_ROWS],
				yflat[VG_ROWS];
	static int	made = 0;
	int			q[2] = {qa, qb};
	int			i,
				k;

	if (!made)
	{
		uint64_t	s = 12345;
		double		ua[VG_LEVELS_A][3],
					ub[VG_LEVELS_B][3];

		for (i = 0; i < VG_LEVELS_A; i++)
			for (k = 0; k < 3; k++)
				ua[i][k] = (2.0 * lcg(&s) - 1.0) * (k == 0 ? 2.0 : 0.6);
		for (i = 0; i < VG_LEVELS_B; i++)
			for (k = 0; k < 3; k++)
				ub[i][k] = (2.0 * lcg(&s) - 1.0) * (k == 0 ? 1.5 : 0.4);
		for (i = 0; i < VG_ROWS; i++)
		{
			int			a = i % VG_LEVELS_A,
						b = (i / 3) % VG_LEVELS_B;
			double		e;

			x[i] = 2.0 * lcg(&s);
			x2[i] = lcg(&s) - 0.5;
			e = lcg(&s) - 0.5;
			y[i] = 1.0 + 0.5 * x[i] + ua[a][0] + ua[a][1] * x[i] + ua[a][2] * x2[i] +
				ub[b][0] + ub[b][1] * x[i] + ub[b][2] * x2[i] + e;
			yflat[i] = 1.0 + 0.5 * x[i] + ua[a][0] + ub[b][0] + e;
		}
		made = 1;
	}
	lmm_terms_init(st, 2, 2, q);
	test_keys_init(keys);
	for (k = from; k < to; k++)
	{
		int			r = reverse ? to - 1 - (k - from) : k;
		double		xr[2] = {1.0, x[r]};
		double		z[6],
					zr[3] = {1.0, x[r], x2[r]};
		char		ka[16],
					kb[16];
		const char *kp[2] = {ka, kb};
		uint32_t	kl[2];

		snprintf(ka, sizeof(ka), "a%d", r % VG_LEVELS_A);
		snprintf(kb, sizeof(kb), "b%d", (r / 3) % VG_LEVELS_B);
		kl[0] = (uint32_t) strlen(ka);
		kl[1] = (uint32_t) strlen(kb);
		memcpy(z, zr, sizeof(double) * qa);
		memcpy(z + qa, zr, sizeof(double) * qb);
		test_keys_add_row(st, keys, xr, flat ? yflat[r] : y[r], kp, kl, z);
	}
}

/*
 * The analytic gradient against central differences of the criterion at
 * theta (nt entries), worst relative difference over the thetas not held
 * at their bound 0 (free not NULL: its nonzero entries).
 */
static double
gradient_error(const LmmTermStats *st, int reml, int nt, const double *theta,
			   const int *free)
{
	double		f,
				fp,
				fm,
				grad[16],
				gd[16],
				th[16],
				worst = 0.0;
	int			k;

	if (lmm_criterion_gradient(st, reml, theta, &f, grad) != LMM_OK || !isfinite(f))
		return HUGE_VAL;
	for (k = 0; k < nt; k++)
	{
		double		h = (free ? 1e-3 : 1e-5) * fmax(fabs(theta[k]), 0.1),
					d;

		if (free != NULL && !free[k])
			continue;
		memcpy(th, theta, sizeof(double) * nt);
		th[k] = theta[k] + h;
		lmm_criterion_gradient(st, reml, th, &fp, gd);
		th[k] = theta[k] - h;
		lmm_criterion_gradient(st, reml, th, &fm, gd);
		d = (fp - fm) / (2.0 * h);
		if (free != NULL)
		{
			/* at a singular T: the five-point stencil, O(h^4) */
			th[k] = theta[k] + 2.0 * h;
			lmm_criterion_gradient(st, reml, th, &fp, gd);
			th[k] = theta[k] - 2.0 * h;
			lmm_criterion_gradient(st, reml, th, &fm, gd);
			d = (4.0 * d - (fp - fm) / (4.0 * h)) / 3.0;
		}
		worst = fmax(worst, fabs(grad[k] - d) / fmax(1.0, fabs(grad[k])));
	}
	return worst;
}

/*
 * One shape of terms: the gradient at two thetas (in lme4's order: the
 * term with more levels, a, first), REML and ML; then the fit of all rows
 * (with Satterthwaite's ingredients) against the fit of the rows reversed
 * and of two merged parts, which must agree to rounding level, and its
 * gradient at the optimum near 0.  y has no random slopes when flat.  Where
 * the optimum is singular (as it must be when expect_singular, and only
 * then), all three fits must have the same thetas on their bound, and the
 * gradient there over the free thetas is checked against differences too.
 */
static void
check_shape(int qa, int qb, const double at[2][7], const char *name,
			int flat, int expect_singular)
{
	int			nt = qa * (qa + 1) / 2 + qb * (qb + 1) / 2;
	int			na = qa * (qa + 1) / 2;
	int			reml,
				i,
				k;

	for (reml = 0; reml <= 1; reml++)
	{
		LmmTermStats st,
					rev,
					a,
					b;
		TestKeys	kst,
					krev,
					ka,
					kb;
		LmmFit		fit,
					fr,
					fm;
		double		worst = 0.0,
					far = 0.0,
					fdiff,
					grad[16],
					f;
		LmmFit	   *singular;
		int			free[16],
					same_bound = 1;

		vg_stats(&st, &kst, qa, qb, 0, VG_ROWS, 0, flat);
		for (i = 0; i < 2; i++)
			worst = fmax(worst, gradient_error(&st, reml, nt, at[i], NULL));
		printf("%s %s: gradient vs differences %.3g\n", name, reml ? "REML" : "ML", worst);
		check(worst < 1e-5, "vgrad: analytic gradient of vector terms matches central differences");

		vg_stats(&rev, &krev, qa, qb, 0, VG_ROWS, 1, flat);
		vg_stats(&a, &ka, qa, qb, 0, 250, 1, flat);
		vg_stats(&b, &kb, qa, qb, 250, VG_ROWS, 0, flat);
		test_keys_merge(&a, &ka, &b, &kb);
		check(lmm_fit(&st, reml, 1, &fit) == LMM_OK &&
			  lmm_fit(&rev, reml, 0, &fr) == LMM_OK &&
			  lmm_fit(&a, reml, 0, &fm) == LMM_OK,
			  "vgrad: vector terms fit");
		singular = NULL;
		for (k = 0; k < nt; k++)
		{
			far = fmax(far, fabs(fit.theta[k] - fr.theta[k]) / fmax(fabs(fit.theta[k]), 0.1));
			far = fmax(far, fabs(fit.theta[k] - fm.theta[k]) / fmax(fabs(fit.theta[k]), 0.1));
			if (fit.theta[k] == 0.0 || fr.theta[k] == 0.0 || fm.theta[k] == 0.0)
				singular = fit.theta[k] == 0.0 ? &fit : fr.theta[k] == 0.0 ? &fr : &fm;
			if ((fit.theta[k] == 0.0) != (fr.theta[k] == 0.0) ||
				(fit.theta[k] == 0.0) != (fm.theta[k] == 0.0))
				same_bound = 0;
		}
		far = fmax(far, fabs(fit.sigma - fm.sigma) / fit.sigma);
		fdiff = fmax(fabs(fit.criterion - fr.criterion), fabs(fit.criterion - fm.criterion)) /
			fabs(fit.criterion);
		f = NAN;
		lmm_criterion_gradient(&st, reml, (singular ? singular : &fit)->theta, &f, grad);
		for (k = 0; k < nt; k++)
			free[k] = !((singular ? singular : &fit)->theta[k] == 0.0 &&
						(k < na ? lmm_theta_is_diagonal(qa, k) :
						 lmm_theta_is_diagonal(qb, k - na)));
		for (k = 0, worst = 0.0; k < nt && isfinite(f); k++)
			if (free[k])
				worst = fmax(worst, fabs(grad[k]));
		printf("%s %s: %stheta reordered/merged vs whole %.3g, criterion %.3g, |gradient| at the optimum %.3g (%d evaluations)\n",
			   name, reml ? "REML" : "ML", singular ? "singular, " : "", far, fdiff,
			   isfinite(f) ? worst : NAN, fit.n_eval);
		/* Satterthwaite's ingredients: from the gradient, or numDeriv's where it is undefined */
		check(fit.ninf == nt + 1 && isfinite(fit.vcov_varpar[0]) && isfinite(fit.jac[0]),
			  "vgrad: Satterthwaite's ingredients of vector terms, singular or not");
		check((singular != NULL) == (expect_singular != 0),
			  "vgrad: the fit is singular where y has no random slopes, and only there");
		check(far < 1e-11 && fdiff < (flat ? 1e-12 : 1e-13),
			  "vgrad: reordered and merged statistics fit to the same optimum to 1e-11");
		check(isfinite(f) && worst < 1e-7,
			  "vgrad: the gradient (over the free thetas) vanishes at the polished optimum");
		if (singular != NULL)
		{
			/* the singular T's gradient: +-delta averaged, against differences */
			double		err = gradient_error(&st, reml, nt, singular->theta, free);

			printf("%s %s: singular gradient vs differences %.3g\n", name,
				   reml ? "REML" : "ML", err);
			check(err < 1e-7, "vgrad: the gradient at a singular T matches differences of the criterion");
			check(same_bound, "vgrad: reordered and merged fits hold the same thetas on their bound");
		}
		lmm_fit_free(&fit);
		lmm_fit_free(&fr);
		lmm_fit_free(&fm);
		lmm_terms_free(&st);
		lmm_terms_free(&rev);
		lmm_terms_free(&a);
		lmm_terms_free(&b);
		test_keys_free(&kst);
		test_keys_free(&krev);
		test_keys_free(&ka);
		test_keys_free(&kb);
	}
}

/* Vector terms first, second, and of three columns. */
void
test_vgrad(const char *dir)
{
	/* a: (1 + x | a) first, then (1 | b) */
	static const double at21[2][7] = {{0.8, 0.3, 0.6, 1.2}, {1.5, -0.4, 0.2, 0.5}};
	/* a: (1 | a) first, then (1 + x | b) dense */
	static const double at12[2][7] = {{1.1, 0.7, -0.2, 0.9}, {0.4, 1.3, 0.5, 0.3}};
	/* (1 + x + x2 | a), then (1 | b) */
	static const double at31[2][7] = {{0.9, 0.2, -0.1, 0.7, 0.3, 0.5, 1.3},
	{1.2, -0.3, 0.4, 0.4, -0.2, 0.8, 0.6}};
	/* (1 | a), then (1 + x + x2 | b) */
	static const double at13[2][7] = {{1.0, 0.9, 0.2, -0.1, 0.7, 0.3, 0.5},
	{0.6, 1.2, -0.3, 0.4, 0.4, -0.2, 0.8}};

	(void) dir;
	check_shape(2, 1, at21, "vgrad (x | a) + (1 | b)", 0, 0);
	check_shape(1, 2, at12, "vgrad (1 | a) + (x | b)", 0, 0);
	check_shape(3, 1, at31, "vgrad (x + x2 | a) + (1 | b)", 0, 0);
	check_shape(1, 3, at13, "vgrad (1 | a) + (x + x2 | b)", 0, 1);
	/* no random slopes in y: a slope's variance estimated as 0 */
	check_shape(2, 1, at21, "vgrad flat (x | a) + (1 | b)", 1, 1);
}
