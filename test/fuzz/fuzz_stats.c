/*
 * fuzz_stats.c
 *	  libFuzzer harness for the unpacking of lmm_stats values, as the glue
 *	  does it for every stored value, every one that lmm_stats_recv takes
 *	  off the wire and the serialized state of lmm_fit and lmm_merge: by the
 *	  magic, one-term statistics (LMMs) through lmm_stats_unpack and
 *	  several-term statistics (LMMt, from lmm_stats(formula, source) and
 *	  lmm_stats_terms) through lmm_terms_unpack.  Any input must be refused
 *	  with a message or accepted; accepted statistics must pack back to the
 *	  same bytes and merge with themselves as lmm_merge does; one-term ones
 *	  (when small, to keep each run short) also go through the fit that
 *	  lmm_fit(lmm_stats) runs on them.  (fuzz_model fits several-term
 *	  statistics, those that models carry, which unpack the same way.)
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_fit.h"
#include "lmm_host.h"
#include "lmm_infer.h"
#include "lmm_model.h"
#include "lmm_stats.h"
#include "lmm_stats_io.h"
#include "lmm_terms_io.h"

/* Largest statistics the harness fits: a fit of more takes too long per input. */
#define FIT_MAX_LEVELS 64
#define FIT_MAX_P 4
#define FIT_MAX_Q 3

/* Abort (a crash libFuzzer reports) when an invariant fails. */
static void
require(int ok)
{
	if (!ok)
		abort();
}

/* Pack accepted statistics and check that they give back the input's bytes. */
static void
check_repack(const LmmStats *s, const LmmStatsMeta *meta, const LmmStatsKeys *keys,
			 const uint8_t *data, size_t size)
{
	size_t		len = lmm_stats_packed_size(s, meta, keys);
	unsigned char *buf = malloc(len);

	lmm_stats_pack(s, meta, keys, buf);
	require(len == size && memcmp(buf, data, size) == 0);
	free(buf);
}

/* Merge the statistics with a copy of themselves, level by level, as lmm_merge does. */
static void
check_merge(const LmmStats *s)
{
	LmmStats	m;
	int64_t		j;

	if (s->p == 0)
		return;
	lmm_stats_init(&m, s->p, s->q);
	for (j = 0; j < s->nlevels; j++)
	{
		int64_t		level = lmm_stats_add_level(&m);

		lmm_stats_merge_level(&m, level, s->level + (size_t) j * s->stride);
		lmm_stats_merge_level(&m, level, s->level + (size_t) j * s->stride);
	}
	lmm_stats_merge_overall(&m, s->n, s->mean, s->comom);
	lmm_stats_merge_overall(&m, s->n, s->mean, s->comom);
	require(m.nlevels == s->nlevels && m.n == 2.0 * s->n);
	lmm_stats_free(&m);
}

/*
 * The model lmm_state_fit makes of a fit and the statistics: it must pass
 * lmm_model_check, or lmm_fit would report valid statistics as overflowing.
 */
static void
check_model(const LmmStats *s, const LmmFit *fit, char **keys)
{
	static char *names[LMM_MAX_COLUMNS];
	LmmModel	m;
	int			k;

	for (k = 0; k < LMM_MAX_COLUMNS; k++)
		names[k] = "x";
	memset(&m, 0, sizeof(m));
	m.flags = LMM_MODEL_REML | (fit->converged ? LMM_MODEL_CONVERGED : 0) |
		(fit->singular ? LMM_MODEL_SINGULAR : 0);
	m.p = fit->p;
	m.q = fit->q;
	m.nlevels = fit->nlevels;
	m.n_obs = (int64_t) s->n;
	m.n_eval = fit->n_eval;
	m.criterion = fit->criterion;
	m.loglik = fit->loglik;
	m.aic = fit->aic;
	m.bic = fit->bic;
	m.sigma = fit->sigma;
	m.grp = "g";
	m.key_type = "text";
	m.x_names = names;
	m.z_names = names;
	m.beta = fit->beta;
	m.vcov = fit->vcov;
	m.theta = fit->theta;
	m.levels = keys;
	m.b = fit->b;
	m.condvar = fit->condvar;
	m.ninf = fit->ninf;
	m.vcov_varpar = fit->vcov_varpar;
	m.jac = fit->jac;
	m.stats = (LmmStats *) s;
	require(lmm_model_check(&m) == NULL);
}

/* The REML fit with Satterthwaite's ingredients that lmm_fit(lmm_stats) runs. */
static void
check_fit(const LmmStats *s)
{
	LmmFit		fit;
	LmmStatus	status;

	if (s->p == 0 || s->nlevels > FIT_MAX_LEVELS || s->p > FIT_MAX_P || s->q > FIT_MAX_Q)
		return;
	status = lmm_fit(s, 1, &fit);
	if (status == LMM_OK)
	{
		double	   *L = calloc(s->p, sizeof(double));
		char	   *keys[FIT_MAX_LEVELS];
		int64_t		j;

		require(isfinite(fit.criterion) && isfinite(fit.sigma));
		L[0] = 1.0;
		(void) lmm_satterthwaite_df(fit.ninf, fit.p, fit.vcov_varpar, fit.jac, fit.vcov, L);
		free(L);
		for (j = 0; j < s->nlevels; j++)
			keys[j] = "k";
		check_model(s, &fit, keys);
	}
	lmm_fit_free(&fit);
}

/*
 * Several-term statistics: accepted ones pass the packers' check, pack back
 * to the input's bytes, and merge with themselves into twice the rows and
 * the same levels.
 */
static void
check_terms(const uint8_t *data, size_t size)
{
	LmmTermStats s;
	LmmTermStats m;
	LmmTermsMeta meta;
	const char *problem = lmm_terms_unpack(data, size, &s, &meta);

	if (problem == NULL)
	{
		size_t		len = lmm_terms_packed_size(&s, &meta);
		unsigned char *buf = malloc(len);
		int			q[LMM_MAX_TERMS];
		int			t;

		require(lmm_terms_check(&s) == NULL);
		lmm_terms_pack(&s, &meta, buf);
		require(len == size && memcmp(buf, data, size) == 0);
		free(buf);
		for (t = 0; t < s.nterms; t++)
			q[t] = s.term[t].q;
		lmm_terms_init(&m, s.p, s.nterms, q);
		lmm_terms_merge(&m, &s);
		lmm_terms_merge(&m, &s);
		require(m.n == 2.0 * s.n);
		for (t = 0; t < s.nterms; t++)
			require(m.term[t].nlevels == s.term[t].nlevels);
		lmm_terms_free(&m);
	}
	else
		require(strlen(problem) > 0);
	lmm_terms_free(&s);
	lmm_terms_meta_free(&meta);
}

/* One input: a candidate lmm_stats value, of one term or of several by its magic. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LmmStats	s;
	LmmStatsMeta meta;
	LmmStatsKeys keys;
	const char *problem;

	if (size >= 4 && ((uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
					  (uint32_t) data[2] << 8 | data[3]) == LMM_TERMS_MAGIC)
	{
		check_terms(data, size);
		return 0;
	}
	problem = lmm_stats_unpack(data, size, &s, &meta, &keys);

	if (problem == NULL)
	{
		/* counts are exact in a double, and the glue converts them to int64 */
		require(s.n <= LMM_MAX_ROWS);
		require(lmm_stats_check(&s, &meta) == NULL);
		check_repack(&s, &meta, &keys, data, size);
		check_merge(&s);
		check_fit(&s);
	}
	else
		require(strlen(problem) > 0);
	lmm_stats_free(&s);
	lmm_stats_meta_free(&meta);
	lmm_free(keys.data);
	lmm_free(keys.len);
	return 0;
}
