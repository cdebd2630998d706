/*
 * lmm_index.h
 *	  The scoring index of a model: each level's key (its text form) and
 *	  conditional modes b, packed next to each other, and an open-addressing
 *	  hash table over them, so scoring finds a row's group in O(1) with few
 *	  cache misses.  Built straight from the level records of the model's
 *	  binary form (the first term), or from an unpacked term's arrays.
 */
#ifndef LMM_INDEX_H
#define LMM_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* One slot: the key's hash and its record's offset plus one (0 = empty). */
typedef struct LmmIndexSlot
{
	uint32_t	hash;
	uint32_t	rec1;
} LmmIndexSlot;

typedef struct LmmIndex
{
	int64_t		nlevels;
	uint64_t	mask;			/* slot count minus one (a power of two) */
	LmmIndexSlot *slots;
	/* records, one per level: u32 key length, key bytes, q native doubles */
	unsigned char *recs;
} LmmIndex;

extern const char *lmm_index_build(LmmIndex *ix, const unsigned char *levels,
								   size_t len, int64_t nlevels, int q);
extern const char *lmm_index_build_arrays(LmmIndex *ix, char *const *levels,
										  const double *b, int64_t nlevels, int q);
extern const unsigned char *lmm_index_find(const LmmIndex *ix, const char *key,
										   size_t len);
extern double lmm_index_b(const unsigned char *rec, int k);
extern void lmm_index_free(LmmIndex *ix);

#endif							/* LMM_INDEX_H */
