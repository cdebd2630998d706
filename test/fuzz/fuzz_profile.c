/*
 * fuzz_profile.c
 *	  libFuzzer harness for lmm_confint's likelihood profile of a stored
 *	  model's statistics: lmm_model_unpack, then lmm_profile on the
 *	  statistics of what it accepted (one term or several; lmm 0.6's
 *	  converted on reading).  A profile is some dozens of fits, so only small models are
 *	  profiled, in a harness of their own that leaves fuzz_model fast.
 */
#include <stdint.h>
#include <stdlib.h>

#include "lmm_infer.h"
#include "lmm_model.h"

/* Largest statistics the harness profiles. */
#define PROFILE_MAX_LEVELS 16
#define PROFILE_MAX_P 2
#define PROFILE_MAX_Q 2

/* Abort (a crash libFuzzer reports) when an invariant fails. */
static void
require(int ok)
{
	if (!ok)
		abort();
}

/* Nonzero when m carries statistics and is small enough to profile. */
static int
small(const LmmModel *m)
{
	int64_t		n = 0;
	int			t;

	if (m->tstats == NULL)
		return 0;
	for (t = 0; t <= m->nextra; t++)
	{
		LmmModelTerm v = lmm_model_term(m, t);

		n += v.nlevels;
		if (v.q > PROFILE_MAX_Q)
			return 0;
	}
	return n <= PROFILE_MAX_LEVELS && m->p <= PROFILE_MAX_P;
}

/* One input: a candidate lmm_model value with statistics. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LmmModel	m;
	LmmProfile	prof;
	int			k;

	if (lmm_model_unpack(data, size, &m) == NULL && small(&m) &&
		lmm_profile(m.tstats, 0.95, &prof) == LMM_OK)
	{
		require(prof.npar == lmm_model_ntheta(&m) + 1 + m.p);
		for (k = 0; k < prof.npar; k++)
			require(!(prof.lower[k] > prof.upper[k]));
		lmm_profile_free(&prof);
	}
	lmm_model_free(&m);
	return 0;
}
