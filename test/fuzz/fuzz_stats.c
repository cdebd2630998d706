/*
 * fuzz_stats.c
 *	  libFuzzer harness for the unpacking of lmm_stats values, as the glue
 *	  does it for every stored value, every one that lmm_stats_recv takes
 *	  off the wire and the serialized state of every aggregate: by the
 *	  magic, the statistics lmm writes (LMMt: one term or several, with keys
 *	  or, as a model stores them, without) through lmm_terms_unpack, and lmm
 *	  0.6's one-term statistics (LMMs), which lmm only reads, through
 *	  lmm_stats_unpack and their conversion (lmm_stats_to_terms).  Any input
 *	  must be refused with a message or accepted; accepted statistics must
 *	  pack back to the same bytes (LMMs with lmm 0.6's writer, a copy in
 *	  test/core/test_util.h; LMMt of the current version) and merge with
 *	  themselves as lmm_merge does; one-term ones (when small, to keep each
 *	  run short) also go through the fit that lmm_fit(lmm_stats) runs on
 *	  them.  (fuzz_model fits several-term statistics, those that models
 *	  carry, which unpack the same way.)
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
#include "../core/test_util.h"

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

/* Pack accepted LMMs statistics as lmm 0.6 did and check that they give back the input's bytes. */
static void
check_repack(const LmmStats *s, const LmmStatsMeta *meta, const LmmStatsKeys *keys,
			 const uint8_t *data, size_t size)
{
	size_t		len;
	unsigned char *buf = test_legacy_pack(s, meta, keys, &len);

	require(len == size && memcmp(buf, data, size) == 0);
	free(buf);
}

/* Merge the statistics with a copy of themselves, level by level, as lmm_merge does. */
static void
check_merge(const LmmTermStats *s)
{
	LmmTermStats m;
	int64_t    *map[LMM_MAX_TERMS];
	int			q[LMM_MAX_TERMS];
	int			t;
	int64_t		j;

	for (t = 0; t < s->nterms; t++)
		q[t] = s->term[t].q;
	lmm_terms_init(&m, s->p, s->nterms, q);
	for (t = 0; t < s->nterms; t++)
	{
		map[t] = malloc(sizeof(int64_t) * (size_t) (s->term[t].nlevels + 1));
		for (j = 0; j < s->term[t].nlevels; j++)
			map[t][j] = lmm_terms_add_level(&m, t);
	}
	lmm_terms_merge(&m, s, map);
	lmm_terms_merge(&m, s, map);
	require(m.n == 2.0 * s->n);
	for (t = 0; t < s->nterms; t++)
	{
		require(m.term[t].nlevels == s->term[t].nlevels);
		free(map[t]);
	}
	lmm_terms_free(&m);
}

/*
 * The model the final function makes of a one-term fit and the
 * statistics: it must pass lmm_model_check, or lmm_fit would report valid
 * statistics as overflowing.
 */
static void
check_model(const LmmTermStats *s, const LmmFit *fit, char **keys)
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
	m.formula = "";
	m.tstats = (LmmTermStats *) s;
	require(lmm_model_check(&m) == NULL);
}

/* The REML fit with Satterthwaite's ingredients that lmm_fit(lmm_stats) runs on one-term statistics. */
static void
check_fit(const LmmTermStats *s)
{
	LmmFit		fit;
	LmmStatus	status;

	if (s->nterms != 1 || s->term[0].nlevels > FIT_MAX_LEVELS || s->p > FIT_MAX_P ||
		s->term[0].q > FIT_MAX_Q)
		return;
	status = lmm_fit(s, 1, 1, &fit);
	if (status == LMM_OK)
	{
		double	   *L = calloc(s->p, sizeof(double));
		char	   *keys[FIT_MAX_LEVELS];
		int64_t		j;

		require(isfinite(fit.criterion) && isfinite(fit.sigma));
		L[0] = 1.0;
		(void) lmm_satterthwaite_df(fit.ninf, fit.p, fit.vcov_varpar, fit.jac, fit.vcov, L);
		free(L);
		for (j = 0; j < s->term[0].nlevels; j++)
			keys[j] = "k";
		check_model(s, &fit, keys);
	}
	lmm_fit_free(&fit);
}

/*
 * LMMt statistics: accepted ones pass the packers' check, pack back to the
 * input's bytes (of the current version; a version 1 value to bytes that
 * read as the same statistics), merge with themselves into twice the rows
 * and the same levels, and (one term, small) fit.
 */
static void
check_terms(const uint8_t *data, size_t size)
{
	LmmTermStats s;
	LmmTermsMeta meta;
	const char *problem = lmm_terms_unpack(data, size, &s, &meta);

	if (problem == NULL)
	{
		size_t		len = lmm_terms_packed_size(&s, &meta);
		unsigned char *buf = malloc(len);

		require(lmm_terms_check(&s) == NULL);
		lmm_terms_pack(&s, &meta, buf);
		if (size >= 8 && data[4] == 0 && data[5] == 0 && data[6] == 0 &&
			data[7] == LMM_TERMS_VERSION)
			require(len == size && memcmp(buf, data, size) == 0);
		else
		{
			LmmTermStats back;
			LmmTermsMeta bmeta;
			size_t		len2;
			unsigned char *buf2;

			require(lmm_terms_unpack(buf, len, &back, &bmeta) == NULL);
			len2 = lmm_terms_packed_size(&back, &bmeta);
			buf2 = malloc(len2);
			lmm_terms_pack(&back, &bmeta, buf2);
			require(len2 == len && memcmp(buf, buf2, len) == 0);
			free(buf2);
			lmm_terms_free(&back);
			lmm_terms_meta_free(&bmeta);
		}
		free(buf);
		check_merge(&s);
		check_fit(&s);
	}
	else
		require(strlen(problem) > 0);
	lmm_terms_free(&s);
	lmm_terms_meta_free(&meta);
}

/*
 * LMMs statistics: accepted ones count at most 2^53 rows, pass their check,
 * pack back to the input's bytes, and convert to statistics of one term
 * (or, without rows, of none) that merge with themselves and fit; a
 * conversion that overflows fails the packers' check, which the glue must
 * then refuse.
 */
static void
check_legacy(const uint8_t *data, size_t size)
{
	LmmStats	s;
	LmmStatsMeta meta;
	LmmStatsKeys keys;
	const char *problem = lmm_stats_unpack(data, size, &s, &meta, &keys);

	if (problem == NULL)
	{
		LmmTermStats conv;

		/* counts are exact in a double, and the glue converts them to int64 */
		require(s.n <= LMM_MAX_ROWS);
		require(lmm_stats_check(&s, &meta) == NULL);
		check_repack(&s, &meta, &keys, data, size);
		lmm_stats_to_terms(&s, &conv);
		require(conv.n == s.n && conv.p == s.p && conv.nterms == (s.p > 0 ? 1 : 0));
		require(s.p == 0 || (conv.term[0].q == s.q && conv.term[0].nlevels == s.nlevels));
		if (lmm_terms_check(&conv) == NULL)
		{
			check_merge(&conv);
			check_fit(&conv);
		}
		lmm_terms_free(&conv);
	}
	else
		require(strlen(problem) > 0);
	lmm_stats_free(&s);
	lmm_stats_meta_free(&meta);
	lmm_free(keys.data);
	lmm_free(keys.len);
}

/* One input: a candidate lmm_stats value, read by its magic. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size >= 4 && ((uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
					  (uint32_t) data[2] << 8 | data[3]) == LMM_TERMS_MAGIC)
		check_terms(data, size);
	else
		check_legacy(data, size);
	return 0;
}
