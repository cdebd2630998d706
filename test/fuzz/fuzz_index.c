/*
 * fuzz_index.c
 *	  libFuzzer harness for the scoring path: lmm_model_unpack_head,
 *	  lmm_index_build and lmm_int_index_build read a stored model's head and
 *	  level records straight from its bytes, without lmm_model_unpack's full
 *	  check.  Any input must be refused with a message or indexed, the
 *	  integer index refusing no more than the text index does; when the full
 *	  unpack accepts the same bytes, the text index must hold every level
 *	  with its conditional modes (or refuse a repeated level), the integer
 *	  index every level whose text an integer prints as, and probes of other
 *	  keys must stay in bounds.
 */
#include <stdint.h>
#include <stdio.h>
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

/*
 * The integer index of an accepted model finds, by value, every level whose
 * text is an integer as int8out prints it, with its b bit for bit.
 */
static void
check_int_against_model(const LmmIntIndex *ix, const LmmModel *m)
{
	int64_t		j;
	int			k;

	for (j = 0; j < m->nlevels; j++)
	{
		char	   *end;
		char		printed[32];
		long long	v = strtoll(m->levels[j], &end, 10);
		const double *b;

		snprintf(printed, sizeof(printed), "%lld", v);
		if (strcmp(printed, m->levels[j]) != 0)
			continue;
		b = lmm_int_index_find(ix, (int64_t) v);
		require(b != NULL);
		for (k = 0; k < m->q; k++)
			require(memcmp(&b[k], &m->b[j * m->q + k], sizeof(double)) == 0);
	}
}

/* One input: a candidate lmm_model value, read as the scoring functions read it. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LmmModel	head,
				full;
	LmmIndex	ix;
	LmmIntIndex iix;
	size_t		at = 0;
	const char *problem = lmm_model_unpack_head(data, size, &head, &at);
	const char *full_problem = lmm_model_unpack(data, size, &full);
	int			built = 0,
				int_built = 0;

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
		int_built = lmm_int_index_build(&iix, data + at, size - at,
										head.nlevels, head.q) == NULL;
		require(int_built || !built);
		if (int_built)
		{
			/* probes: the extremes, and keys cut from the input */
			size_t		n;

			(void) lmm_int_index_find(&iix, INT64_MIN);
			(void) lmm_int_index_find(&iix, INT64_MAX);
			for (n = 0; n + 8 <= size && n < 64; n += 8)
			{
				int64_t		key;

				memcpy(&key, data + n, 8);
				(void) lmm_int_index_find(&iix, key);
			}
		}
	}
	if (full_problem == NULL && !(full.flags & LMM_MODEL_SEVERAL))
	{
		require(built || has_repeated_level(&full));
		if (built)
			check_against_model(&ix, &full);
		if (int_built)
			check_int_against_model(&iix, &full);
	}
	if (built)
		lmm_index_free(&ix);
	if (int_built)
		lmm_int_index_free(&iix);
	lmm_model_free(&head);
	lmm_model_free(&full);
	return 0;
}
