/*
 * lmm_index.h
 *	  The scoring index of a model: each level's key (its text form) and
 *	  conditional modes b, packed next to each other, and an open-addressing
 *	  hash table over them, so scoring finds a row's group in O(1) with few
 *	  cache misses.  Built straight from a term's level records in the
 *	  model's binary form.
 *
 *	  A model whose keys are integers also gets an integer index: each
 *	  level's key as a number and its conditional modes side by side in the
 *	  hash table itself, so finding a key touches one place in memory and
 *	  needs no text form of the key.
 */
#ifndef LMM_INDEX_H
#define LMM_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "lmm_limits.h"

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

/*
 * Integer keys, in one of two tables.  Dense keys (their span no more than
 * a hash table would take) are addressed directly: span entries of q
 * doubles, the modes of key base + i at entry i, NaN where no level has
 * that key.  Other keys are hashed: nslots entries of 1 + q doubles each,
 * the key's int64 bits then its q conditional modes; an entry whose key is
 * LMM_INDEX_EMPTY is free, and a level with that very key is kept aside in
 * empty_b.
 */
typedef struct LmmIntIndex
{
	int64_t		nlevels;		/* levels indexed (those with canonical keys) */
	int			q;
	int			dense;			/* addressed by key - base, not hashed */
	int64_t		base;			/* the smallest key, when dense */
	uint64_t	span;			/* entries of the dense table */
	int			shift;			/* 64 minus log2 of the slot count */
	uint64_t	mask;			/* slot count minus one */
	double	   *table;			/* 64-byte aligned, within table_mem */
	void	   *table_mem;
	int			has_empty_key;
	double		empty_b[LMM_MAX_RANDOM];	/* b of the level keyed LMM_INDEX_EMPTY */
} LmmIntIndex;

#define LMM_INDEX_EMPTY INT64_MIN

extern const char *lmm_index_build(LmmIndex *ix, const unsigned char *levels,
								   size_t len, int64_t nlevels, int q);
extern const unsigned char *lmm_index_find(const LmmIndex *ix, const char *key,
										   size_t len);
extern double lmm_index_b(const unsigned char *rec, int k);
extern void lmm_index_free(LmmIndex *ix);
extern const char *lmm_int_index_build(LmmIntIndex *ix,
									   const unsigned char *levels, size_t len,
									   int64_t nlevels, int q);
extern int	lmm_index_parse_int(const unsigned char *s, size_t len, int64_t *v);
extern const double *lmm_int_index_find(const LmmIntIndex *ix, int64_t key);
extern void lmm_int_index_free(LmmIntIndex *ix);

#endif							/* LMM_INDEX_H */
