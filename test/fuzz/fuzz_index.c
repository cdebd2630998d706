/*
 * fuzz_index.c
 *	  libFuzzer harness for the scoring path: lmm_model_unpack_head and
 *	  lmm_index_build read a stored model's head and level records straight
 *	  from its bytes, without lmm_model_unpack's full check.  Any input must
 *	  be refused with a message or indexed; when the full unpack accepts the
 *	  same bytes, the index must hold every level with its conditional modes
 *	  (or refuse a repeated level), and probes of other keys must stay in
 *	  bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_index.h"
#include "lmm_model.h"

/* Abort (a crash libFuzzer reports) when an invariant fails. */
static void
require(int ok)
{
	if (!ok)
		abort();
}

/* Nonzero if two levels of the model have the same key. */
static int
has_repeated_level(const LmmModel *m)
{
	int64_t		i,
				j;

	for (i = 0; i < m->nlevels; i++)
		for (j = i + 1; j < m->nlevels; j++)
			if (strcmp(m->levels[i], m->levels[j]) == 0)
				return 1;
	return 0;
}

/* The index of an accepted model finds every level with its b, bit for bit. */
static void
check_against_model(const LmmIndex *ix, const LmmModel *m)
{
	int64_t		j;
	int			k;

	for (j = 0; j < m->nlevels; j++)
	{
		const unsigned char *rec = lmm_index_find(ix, m->levels[j], strlen(m->levels[j]));

		require(rec != NULL);
		for (k = 0; k < m->q; k++)
		{
			double		b = lmm_index_b(rec, k);

			require(memcmp(&b, &m->b[j * m->q + k], sizeof(double)) == 0);
		}
	}
}

/* One input: a candidate lmm_model value, read as the scoring functions read it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LmmModel	head,
				full;
	LmmIndex	ix;
	size_t		at = 0;
	const char *problem = lmm_model_unpack_head(data, size, &head, &at);
	const char *full_problem = lmm_model_unpack(data, size, &full);
	int			built = 0;

	if (problem == NULL && !(head.flags & LMM_MODEL_SEVERAL))
	{
		require(at <= size);
		problem = lmm_index_build(&ix, data + at, size - at, head.nlevels, head.q);
		built = (problem == NULL);
		if (built)
		{
			/* probes: the empty key, and keys cut from the input */
			size_t		n;

			(void) lmm_index_find(&ix, "", 0);
			for (n = 1; n <= 8 && n <= size; n++)
				(void) lmm_index_find(&ix, (const char *) data + size - n, n);
		}
	}
	if (full_problem == NULL && !(full.flags & LMM_MODEL_SEVERAL))
	{
		require(built || has_repeated_level(&full));
		if (built)
			check_against_model(&ix, &full);
	}
	if (built)
		lmm_index_free(&ix);
	lmm_model_free(&head);
	lmm_model_free(&full);
	return 0;
}
