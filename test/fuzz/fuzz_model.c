/*
 * fuzz_model.c
 *	  libFuzzer harness for lmm_model_unpack, which reads every stored
 *	  lmm_model value and every one that lmm_model_recv takes off the wire.
 *	  Any input must be refused with a message or accepted; an accepted
 *	  value must pack back to the same bytes (format 4) and survive what the
 *	  extraction functions compute from it: Satterthwaite's df, the
 *	  standard deviations and correlations, and the ML refit of its
 *	  statistics, one term's (those of format 2 and 3 converted from lmm
 *	  0.6's) or several terms' (for small models, to keep each run short).  What scoring reads of a model of several terms,
 *	  piece by piece, must agree.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_dist.h"
#include "lmm_fit.h"
#include "lmm_infer.h"
#include "lmm_model.h"

/* Largest statistics the harness refits: a fit of more takes too long per input. */
#define REFIT_MAX_LEVELS 64
#define REFIT_MAX_P 4
#define REFIT_MAX_Q 3

/* Abort (a crash libFuzzer reports) when an invariant fails. */
static void
require(int ok)
{
	if (!ok)
		abort();
}

/* Pack m, and check that the bytes unpack and pack again to themselves. */
static void
check_repack(const LmmModel *m, const uint8_t *data, size_t size)
{
	size_t		len = lmm_model_packed_size(m);
	unsigned char *buf = malloc(len);
	unsigned char *again;
	LmmModel	back;

	lmm_model_pack(m, buf);
	/* format 4 is canonical: an accepted value packs to its own bytes */
	if (size >= 8 && data[4] == 0 && data[5] == 0 && data[6] == 0 && data[7] == LMM_MODEL_VERSION)
		require(len == size && memcmp(buf, data, size) == 0);
	require(lmm_model_unpack(buf, len, &back) == NULL);
	require(lmm_model_packed_size(&back) == len);
	again = malloc(len);
	lmm_model_pack(&back, again);
	require(memcmp(buf, again, len) == 0);
	lmm_model_free(&back);
	free(again);
	free(buf);
}

/* What lmm_fixef (df, p-values, intervals) and lmm_varcorr compute from an accepted model. */
static void
check_extraction(const LmmModel *m)
{
	double	   *L = calloc(m->p, sizeof(double));
	double		sdcor[LMM_MAX_INF];
	int			k,
				t;

	for (k = 0; k < m->p; k++)
	{
		double		se = sqrt(m->vcov[k * m->p + k]);
		double		df;

		L[k] = 1.0;
		df = lmm_satterthwaite_df(m->ninf, m->p, m->vcov_varpar, m->jac, m->vcov, L);
		L[k] = 0.0;
		if (se > 0.0 && df > 0.0)
		{
			double		pv = lmm_pt_two_sided(m->beta[k] / se, df);
			double		half = lmm_qt(0.975, df) * se;

			require(!(pv < 0.0 || pv > 1.0) && !(half < 0.0));
		}
	}
	free(L);
	for (t = 0; t <= m->nextra; t++)
	{
		LmmModelTerm term = lmm_model_term(m, t);

		require(term.q >= 1 && term.q <= LMM_MAX_RANDOM);
		lmm_theta_to_sdcor(term.q, term.theta, m->sigma, sdcor);
	}
}

/* Levels of all terms of a model, and its largest q. */
static int64_t
model_levels(const LmmModel *m, int *maxq)
{
	int64_t		n = 0;
	int			t;

	*maxq = 0;
	for (t = 0; t <= m->nextra; t++)
	{
		LmmModelTerm v = lmm_model_term(m, t);

		n += v.nlevels;
		if (v.q > *maxq)
			*maxq = v.q;
	}
	return n;
}

/* lmm_anova's ML refit of a REML model's statistics, for small ones. */
static void
check_refit(const LmmModel *m)
{
	LmmFit		fit;
	int			maxq;

	if (m->tstats == NULL || model_levels(m, &maxq) > REFIT_MAX_LEVELS ||
		m->p > REFIT_MAX_P || maxq > REFIT_MAX_Q)
		return;
	if (lmm_fit(m->tstats, 0, 0, &fit) == LMM_OK)
	{
		require(isfinite(fit.criterion));
		require(fit.ntheta == lmm_model_ntheta(m));
	}
	lmm_fit_free(&fit);
}

/*
 * What scoring reads of a model of several terms: lmm_model_unpack_terms
 * on the whole value, and on prefixes growing as it asks, must agree with
 * lmm_model_unpack (ok is nonzero when that accepted the value); every
 * term's level records must begin with their level's key.
 */
static void
check_terms(const LmmModel *full, int ok, const uint8_t *data, size_t size)
{
	LmmModel	m;
	size_t		at[LMM_MAX_TERMS];
	size_t		have = size < 64 ? size : 64;
	size_t		need;
	const char *problem;
	int			t;

	for (;;)
	{
		problem = lmm_model_unpack_terms(data, have, size, &m, at, &need);
		if (problem != NULL || need == 0)
			break;
		require(need > have && need <= size);
		lmm_model_free(&m);
		have = need;
	}
	if (ok && (full->flags & LMM_MODEL_SEVERAL))
	{
		require(problem == NULL);
		require(m.nextra == full->nextra && lmm_model_ntheta(&m) == lmm_model_ntheta(full));
		for (t = 0; t <= m.nextra; t++)
		{
			LmmModelTerm a = lmm_model_term(&m, t);
			LmmModelTerm b = lmm_model_term(full, t);
			size_t		len = strlen(b.levels[0]);

			require(a.nlevels == b.nlevels && a.q == b.q);
			require(strcmp(a.key_type ? a.key_type : "text", b.key_type ? b.key_type : "text") == 0);
			require(at[t] + 4 + len <= size && memcmp(data + at[t] + 4, b.levels[0], len) == 0);
		}
	}
	else if (problem == NULL)
		require(m.nextra >= 1);
	lmm_model_free(&m);
}

/* One input: a candidate lmm_model value. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LmmModel	m;
	const char *problem = lmm_model_unpack(data, size, &m);

	if (problem == NULL)
	{
		require(lmm_model_check(&m) == NULL);
		check_repack(&m, data, size);
		check_extraction(&m);
		check_refit(&m);
	}
	else
		require(strlen(problem) > 0);
	check_terms(&m, problem == NULL, data, size);
	lmm_model_free(&m);
	return 0;
}
