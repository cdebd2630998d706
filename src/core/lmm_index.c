/*
 * lmm_index.c
 *	  Build and probe the level index: linear probing over a table at most
 *	  half full, keyed by a 32-bit hash of the key bytes.
 */
#include "lmm_index.h"

#include <string.h>

#include "lmm_host.h"

/* FNV-1a over the bytes, then a murmur3 finalizer to spread short keys. */
static uint32_t
hash_key(const char *key, size_t len)
{
	uint64_t	h = UINT64_C(14695981039346656037);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= (unsigned char) key[i];
		h *= UINT64_C(1099511628211);
	}
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32_t) h;
}

/*
 * Index nlevels keys (which stay owned by the caller and must outlive the
 * index).  Returns -1 on success, or the number of the first key that repeats
 * an earlier one (a model never holds a level twice), or -2 if there are too
 * many levels.
 */
int64_t
lmm_index_build(LmmIndex *ix, char **levels, int64_t nlevels)
{
	uint64_t	nslots = 16;
	int64_t		j;

	memset(ix, 0, sizeof(LmmIndex));
	if (nlevels < 0 || nlevels > LMM_INDEX_MAX_LEVELS)
		return -2;
	while (nslots < 2 * (uint64_t) nlevels)
		nslots *= 2;
	ix->levels = levels;
	ix->nlevels = nlevels;
	ix->mask = nslots - 1;
	ix->slots = lmm_alloc0(sizeof(LmmIndexSlot) * nslots);
	for (j = 0; j < nlevels; j++)
	{
		size_t		len = strlen(levels[j]);
		uint32_t	h = hash_key(levels[j], len);
		uint64_t	i = h & ix->mask;

		for (;; i = (i + 1) & ix->mask)
		{
			LmmIndexSlot *s = &ix->slots[i];

			if (s->level1 == 0)
			{
				s->hash = h;
				s->level1 = (uint32_t) (j + 1);
				break;
			}
			if (s->hash == h && strcmp(levels[s->level1 - 1], levels[j]) == 0)
				return j;
		}
	}
	return -1;
}

/* The level number of the len-byte key, or -1 if the model has no such level. */
int64_t
lmm_index_find(const LmmIndex *ix, const char *key, size_t len)
{
	uint32_t	h = hash_key(key, len);
	uint64_t	i = h & ix->mask;

	for (;; i = (i + 1) & ix->mask)
	{
		const LmmIndexSlot *s = &ix->slots[i];

		if (s->level1 == 0)
			return -1;
		if (s->hash == h)
		{
			const char *level = ix->levels[s->level1 - 1];

			if (strncmp(level, key, len) == 0 && level[len] == '\0')
				return (int64_t) s->level1 - 1;
		}
	}
}

/* Release the slots (the keys belong to the caller). */
void
lmm_index_free(LmmIndex *ix)
{
	lmm_free(ix->slots);
	memset(ix, 0, sizeof(LmmIndex));
}
