/*
 * test_zscale.c
 *	  Badly scaled random slopes (lmm_zscale.c): on sleepstudy, z = days +
 *	  1000, days x 1e5 and days x 1e-6 next to the intercept are the model
 *	  of z = days reparametrized, so their fits must be the days fit mapped
 *	  analytically: theta through z's affine map, the same beta, sigma and
 *	  criterion, the slope's SD divided by the scale, each level's modes
 *	  b = A^-1 b_days.  Checked for lmm 0.6's one-term statistics
 *	  (converted, lmm_stats_to_terms) and statistics with one term, with the
 *	  slope's term first next to (1 | days), and second after
 *	  (1 | subject:half).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_fit.h"
#include "lmm_infer.h"
#include "lmm_stats.h"
#include "lmm_stats_io.h"
#include "lmm_terms.h"
#include "test_core.h"
#include "test_util.h"

/*
 * Largest relative errors allowed.  The fits reach 3e-13 in theta, beta,
 * sigma, the slope's SD, the criterion and the modes (relative to each
 * column's largest), 2e-11 at days + 1e5 (the several-term statistics' raw
 * sums of z z' there hold 1e11): the whole fit is done in standardized z,
 * where the criterion is as smooth as days'.  Optimizing in z itself
 * misses by 1e-7 to 1e-5.  The df come from differences of the gradient
 * (1e-8 apart between any two fits); in z they were 0.007 for 17.
 */
#define ZSCALE_TOL 1e-10
#define ZSCALE_DF_TOL 1e-6

typedef struct SleepRows
{
	int			n;
	double		reaction[200];
	double		days[200];
	int			subject[200];
} SleepRows;

/* sleepstudy.csv: Reaction, Days, "Subject"; -1 on failure. */
static int
read_rows(const char *dir, SleepRows *s)
{
	char		path[1024];
	char		line[256];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/sleepstudy.csv", dir);
	if ((f = fopen(path, "r")) == NULL || fgets(line, sizeof(line), f) == NULL)
		return -1;
	s->n = 0;
	while (s->n < 200 && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lf,%lf,\"%d\"", &s->reaction[s->n], &s->days[s->n],
				   &s->subject[s->n]) == 3)
			s->n++;
	fclose(f);
	return s->n == 180 ? 0 : -1;
}

/* The model's forms: lmm 0.6's one-term statistics converted, then statistics of terms. */
enum
{
	ONE_TERM,					/* (z | subject), from lmm 0.6's statistics */
	TERMS_ONE,					/* (z | subject) */
	TERMS_FIRST,				/* (z | subject) + (1 | days) */
	TERMS_SECOND,				/* (1 | subject:half) + (z | subject) */
	NFORMS
};
static const char *const form_name[NFORMS] = {
	"(z | subject), lmm 0.6's statistics", "(z | subject), statistics of one term",
	"(z | subject) + (1 | days)", "(1 | subject:half) + (z | subject)"
};

/* Fit form to sleepstudy with z = c + s days as the subject term's slope. */
static LmmStatus
fit_form(const SleepRows *r, int form, int reml, double c, double s, LmmFit *fit)
{
	LmmStatus	status;
	int			i;

	if (form == ONE_TERM)
	{
		LmmStats	st;
		LmmTermStats conv;
		int64_t		level[400];

		for (i = 0; i < 400; i++)
			level[i] = -1;
		lmm_stats_init(&st, 2, 2);
		for (i = 0; i < r->n; i++)
		{
			double		v[3] = {c + s * r->days[i], r->days[i], r->reaction[i]};

			if (level[r->subject[i]] < 0)
				level[r->subject[i]] = test_legacy_add_level(&st);
			test_legacy_add_row(&st, level[r->subject[i]], v);
		}
		lmm_stats_to_terms(&st, &conv);
		status = lmm_fit(&conv, reml, 1, fit);
		lmm_terms_free(&conv);
		lmm_stats_free(&st);
	}
	else
	{
		LmmTermStats st;
		TestKeys	keys;
		int			q[2] = {2, 1};

		lmm_terms_init(&st, 2, form == TERMS_ONE ? 1 : 2, q);
		test_keys_init(&keys);
		for (i = 0; i < r->n; i++)
		{
			double		x[2] = {1.0, r->days[i]};
			double		z[3] = {1.0, c + s * r->days[i], 1.0};
			char		k0[16],
						k1[16];
			const char *key[2] = {k0, k1};
			uint32_t	keylen[2];

			snprintf(k0, sizeof(k0), "%d", r->subject[i]);
			if (form == TERMS_FIRST)
				snprintf(k1, sizeof(k1), "%d", (int) r->days[i]);
			else
				snprintf(k1, sizeof(k1), "%d:%d", r->subject[i], r->days[i] >= 5.0);
			keylen[0] = (uint32_t) strlen(k0);
			keylen[1] = (uint32_t) strlen(k1);
			test_keys_add_row(&st, &keys, x, r->reaction[i], key, keylen, z);
		}
		status = lmm_fit(&st, reml, 1, fit);
		lmm_terms_free(&st);
		test_keys_free(&keys);
	}
	return status;
}

/* The fit's term with the slope (q = 2). */
static int
slope_term(const LmmFit *fit)
{
	int			t;

	for (t = 0; t < fit->nterms; t++)
		if (fit->term[t].q == 2)
			return t;
	return 0;
}

/* The first theta of the fit's term t. */
static int
theta_offset(const LmmFit *fit, int t)
{
	int			u,
				off = 0;

	for (u = 0; u < t; u++)
		off += LMM_NTHETA(fit->term[u].q);
	return off;
}

/*
 * theta of (1, z) from theta of (1, days), z = c + s days: Z = Z_days A^-1
 * with A^-1 = [1 c; 0 s], so T is the lower-triangular factor with
 * T T' = B B', B = A T_days (A = [1 -c/s; 0 1/s]), i.e. the L of B's LQ,
 * written out for 2 x 2 in long double.
 */
static void
map_theta(const double *t0, double c, double s, double *t)
{
	long double b00 = t0[0] - (long double) c / s * t0[1];
	long double b01 = -(long double) c / s * t0[2];
	long double b10 = t0[1] / (long double) s;
	long double b11 = t0[2] / (long double) s;
	long double l00 = sqrtl(b00 * b00 + b01 * b01);

	t[0] = (double) l00;
	t[1] = (double) ((b10 * b00 + b11 * b01) / l00);
	t[2] = (double) fabsl((b00 * b11 - b01 * b10) / l00);
}

/* Relative error, or absolute where the reference is 0. */
static double
err_of(double got, double want)
{
	return fabs(got - want) / (want != 0.0 ? fabs(want) : 1.0);
}

/* Badly scaled z against the days fit mapped analytically, every form, REML and ML. */
/*
 * fuzz corpus regress_singular_zscale_condvar: a fit whose slope is far
 * from its scale, singular (theta at 0), so its conditional covariance in
 * standardized z is singular; mapped to z, rounding left a variance at
 * -3e-18, which a stored model refuses.  Every variance must be >= 0.
 */
static void
check_singular_condvar(const char *dir)
{
	char		path[1024];
	unsigned char buf[4096];
	LmmStats	s;
	LmmStatsMeta meta;
	LmmStatsKeys keys;
	LmmTermStats conv;
	LmmFit		fit;
	FILE	   *f;
	size_t		n;
	int64_t		j;
	int			a,
				ok = 1;

	snprintf(path, sizeof(path), "%s/../fuzz/corpus/stats/regress_singular_zscale_condvar", dir);
	f = fopen(path, "rb");
	n = f != NULL ? fread(buf, 1, sizeof(buf), f) : 0;
	if (f != NULL)
		fclose(f);
	if (n == 0 || lmm_stats_unpack(buf, n, &s, &meta, &keys) != NULL)
	{
		check(0, "zscale: read regress_singular_zscale_condvar");
		return;
	}
	lmm_stats_to_terms(&s, &conv);
	if (lmm_fit(&conv, 1, 1, &fit) != LMM_OK)
		ok = 0;
	else
	{
		for (j = 0; j < fit.nlevels; j++)
			for (a = 0; a < fit.q; a++)
				ok = ok && fit.condvar[(j * fit.q + a) * fit.q + a] >= 0.0;
		ok = ok && fit.singular;
		lmm_fit_free(&fit);
	}
	check(ok, "zscale: a singular fit in standardized z has no negative variance");
	lmm_stats_meta_free(&meta);
	free(keys.data);
	free(keys.len);
	lmm_terms_free(&conv);
	lmm_stats_free(&s);
}

void
test_zscale(const char *dir)
{
	static SleepRows r;
	const double shift[4] = {1000.0, 1e5, 0.0, 0.0};
	const double scale[4] = {1.0, 1.0, 1e5, 1e-6};
	int			form,
				reml,
				i;

	check_singular_condvar(dir);
	if (read_rows(dir, &r) != 0)
	{
		check(0, "zscale: read sleepstudy.csv");
		return;
	}
	for (form = 0; form < NFORMS; form++)
		for (reml = 0; reml <= 1; reml++)
		{
			LmmFit		ref;
			int			ts,
						o;

			if (fit_form(&r, form, reml, 0.0, 1.0, &ref) != LMM_OK)
			{
				check(0, "zscale: the days fit");
				continue;
			}
			ts = slope_term(&ref);
			o = theta_offset(&ref, ts);
			for (i = 0; i < 4; i++)
			{
				double		c = shift[i],
							s = scale[i];
				double		want[3],
							eth = 0.0,
							eother = 0.0,
							ebeta = 0.0,
							esig,
							esd,
							ecrit,
							edf = 0.0,
							eb = 0.0,
							bmax[2] = {0.0, 0.0};
				double		sd,
							sd_want;
				LmmFit		fit;
				char		what[256];
				int64_t		j;
				int			k;

				if (fit_form(&r, form, reml, c, s, &fit) != LMM_OK ||
					fit.ntheta != ref.ntheta || slope_term(&fit) != ts)
				{
					check(0, "zscale: the badly scaled fit");
					continue;
				}
				map_theta(ref.theta + o, c, s, want);
				for (k = 0; k < 3; k++)
					eth = fmax(eth, err_of(fit.theta[o + k], want[k]));
				for (k = 0; k < ref.ntheta; k++)
					if (k < o || k >= o + 3)
						eother = fmax(eother, err_of(fit.theta[k], ref.theta[k]));
				for (k = 0; k < 2; k++)
					ebeta = fmax(ebeta, err_of(fit.beta[k], ref.beta[k]));
				esig = err_of(fit.sigma, ref.sigma);
				ecrit = err_of(fit.criterion, ref.criterion);
				sd = fit.sigma * hypot(fit.theta[o + 1], fit.theta[o + 2]);
				sd_want = ref.sigma * hypot(ref.theta[o + 1], ref.theta[o + 2]) / s;
				esd = err_of(sd, sd_want);

				/* Satterthwaite's df of the intercept and the slope */
				for (k = 0; k < 2; k++)
				{
					double		L[2] = {k == 0, k == 1};
					double		df = lmm_satterthwaite_df(fit.ninf, 2, fit.vcov_varpar, fit.jac,
														  fit.vcov, L);
					double		df_want = lmm_satterthwaite_df(ref.ninf, 2, ref.vcov_varpar,
															   ref.jac, ref.vcov, L);

					edf = fmax(edf, fit.ninf > 0 ? err_of(df, df_want) : HUGE_VAL);
				}

				/* modes: b = A^-1 b_days, relative to each column's largest */
				for (j = 0; j < ref.term[ts].nlevels; j++)
					for (k = 0; k < 2; k++)
						bmax[k] = fmax(bmax[k], fabs(ref.term[ts].b[j * 2 + k]) / (k ? s : 1.0));
				for (j = 0; j < ref.term[ts].nlevels; j++)
				{
					const double *b0 = ref.term[ts].b + j * 2;
					const double *b = fit.term[ts].b + j * 2;

					eb = fmax(eb, fabs(b[1] - b0[1] / s) / bmax[1]);
					eb = fmax(eb, fabs(b[0] - (b0[0] - c / s * b0[1])) /
							  fmax(bmax[0], fabs(c) * bmax[1]));
				}

				printf("zscale %s %s, z = %g + %g days: theta %.2g, other theta %.2g, beta %.2g, "
					   "sigma %.2g, slope SD %.2g, criterion %.2g, modes %.2g, df %.2g\n",
					   form_name[form], reml ? "REML" : "ML", c, s, eth, eother, ebeta,
					   esig, esd, ecrit, eb, edf);
				snprintf(what, sizeof(what),
						 "zscale: %s %s, z = %g + %g days: the days fit mapped, to %g (df %g)",
						 form_name[form], reml ? "REML" : "ML", c, s, ZSCALE_TOL, ZSCALE_DF_TOL);
				check(eth < ZSCALE_TOL && eother < ZSCALE_TOL && ebeta < ZSCALE_TOL &&
					  esig < ZSCALE_TOL && esd < ZSCALE_TOL && ecrit < ZSCALE_TOL &&
					  eb < ZSCALE_TOL && edf < ZSCALE_DF_TOL &&
					  fit.singular == ref.singular, what);
				lmm_fit_free(&fit);
			}
			lmm_fit_free(&ref);
		}
}
