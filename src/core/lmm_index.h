/*
 * lmm_index.h
 *	  An open-addressing hash index from a model's level keys (their text
 *	  forms) to level numbers, so scoring finds a row's group in O(1).
 */
#ifndef LMM_INDEX_H
#define LMM_INDEX_H

#include <stddef.h>
#include <stdint.h>

/* One slot: the key's hash and its level number plus one (0 = empty). */
typedef struct LmmIndexSlot
{
	uint32_t	hash;
	uint32_t	level1;
} LmmIndexSlot;

typedef struct LmmIndex
{
	char	  **levels;			/* the keys, borrowed from the model */
	int64_t		nlevels;
	uint64_t	mask;			/* slot count minus one (a power of two) */
	LmmIndexSlot *slots;
} LmmIndex;

/* Largest number of levels an index holds (level numbers fit in 32 bits). */
#define LMM_INDEX_MAX_LEVELS ((int64_t) 0x7FFFFFFF)

extern int64_t lmm_index_build(LmmIndex *ix, char **levels, int64_t nlevels);
extern int64_t lmm_index_find(const LmmIndex *ix, const char *key, size_t len);
extern void lmm_index_free(LmmIndex *ix);

#endif							/* LMM_INDEX_H */
