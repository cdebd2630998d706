/*
 * lmm_index.c
 *	  Build and probe the scoring index: linear probing over a table at most
 *	  half full, keyed by a 32-bit hash of the key bytes.
 */
#include "lmm_index.h"

#include <math.h>
#include <string.h>

#include "lmm_bytes.h"
#include "lmm_host.h"

/* Records are addressed by 32-bit offsets. */
#define LMM_INDEX_MAX_RECS ((size_t) 0xFFFFFFFE)

/* FNV-1a over the bytes, then a murmur3 finalizer to spread short keys. */
static uint32_t
hash_key(const unsigned char *key, size_t len)
{
	uint64_t	h = UINT64_C(14695981039346656037);
	size_t		i;

	for (i = 0; i < len; i++)
	{
		h ^= key[i];
		h *= UINT64_C(1099511628211);
	}
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32_t) h;
}

/* Nonzero if the record at rec holds the len-byte key. */
static int
rec_is(const unsigned char *rec, const unsigned char *key, size_t len)
{
	uint32_t	reclen;

	memcpy(&reclen, rec, 4);
	return reclen == len && memcmp(rec + 4, key, len) == 0;
}

/*
 * Put the record at offset off, whose key hashes to h, into a free slot;
 * returns NULL, or the problem when an earlier record holds the same key.
 */
static const char *
insert(LmmIndex *ix, uint32_t h, size_t off)
{
	const unsigned char *rec = ix->recs + off;
	uint32_t	keylen;
	uint64_t	i;

	memcpy(&keylen, rec, 4);
	for (i = h & ix->mask;; i = (i + 1) & ix->mask)
	{
		LmmIndexSlot *s = &ix->slots[i];

		if (s->rec1 == 0)
		{
			s->hash = h;
			s->rec1 = (uint32_t) off + 1;
			return NULL;
		}
		if (s->hash == h && rec_is(ix->recs + s->rec1 - 1, rec + 4, keylen))
			return "a level appears twice";
	}
}

/* How many levels ahead the slot of a level is prefetched while inserting. */
#define PREFETCH_AHEAD 16

/*
 * Set up an empty index for nlevels levels (a table at most half full)
 * whose records take at most len bytes; NULL or the problem.
 */
static const char *
index_alloc(LmmIndex *ix, size_t len, int64_t nlevels)
{
	uint64_t	nslots = 16;

	memset(ix, 0, sizeof(LmmIndex));
	if (len > LMM_INDEX_MAX_RECS)
		return "lmm_model value is too large to index";
	while (nslots < 2 * (uint64_t) nlevels)
		nslots *= 2;
	ix->nlevels = nlevels;
	ix->mask = nslots - 1;
	ix->slots = lmm_alloc0(sizeof(LmmIndexSlot) * nslots);
	ix->recs = lmm_alloc(len > 0 ? len : 1);
	return NULL;
}

/*
 * Insert the nlevels records whose keys hash to hash[j] at offsets off[j],
 * with the slots of later ones prefetched (with a million levels each slot
 * is a cache miss); frees hash and off, and the index on a problem.
 */
static const char *
index_insert_all(LmmIndex *ix, uint32_t *hash, size_t *off, int64_t nlevels,
				 const char *problem)
{
	int64_t		j;

	for (j = 0; j < nlevels && problem == NULL; j++)
	{
#ifdef __GNUC__
		if (j + PREFETCH_AHEAD < nlevels)
			__builtin_prefetch(&ix->slots[hash[j + PREFETCH_AHEAD] & ix->mask], 1);
#endif
		problem = insert(ix, hash[j], off[j]);
	}
	lmm_free(hash);
	lmm_free(off);
	if (problem != NULL)
		lmm_index_free(ix);
	return problem;
}

/*
 * Index the nlevels level records of a model's binary form (len bytes at
 * levels: u32 key length, key, q f8 b, q*q f8 conditional covariances, all
 * big-endian), reading every byte within bounds.  Returns NULL on success or
 * a description of the problem (more levels than the bytes can hold,
 * truncation, a key with a NUL byte, a non-finite b, a repeated key), having
 * freed what it allocated.
 */
const char *
lmm_index_build(LmmIndex *ix, const unsigned char *levels, size_t len,
				int64_t nlevels, int q)
{
	LmmReader	r = {levels, levels + len, 0};
	uint32_t   *hash;
	size_t	   *off;
	size_t		used = 0;
	const char *problem;
	int64_t		j;
	int			k;

	memset(ix, 0, sizeof(LmmIndex));
	if (q < 1 || nlevels < 0 ||
		(uint64_t) nlevels > len / (4 + 8 * ((size_t) q + (size_t) q * q)))
		return "lmm_model value claims more levels than it holds";
	/* a record takes at most its source's bytes: no more than len in all */
	if ((problem = index_alloc(ix, len, nlevels)) != NULL)
		return problem;
	hash = lmm_alloc(sizeof(uint32_t) * (nlevels + 1));
	off = lmm_alloc(sizeof(size_t) * (nlevels + 1));
	for (j = 0; j < nlevels && problem == NULL; j++)
	{
		uint32_t	keylen = lmm_get_u32(&r);
		const unsigned char *key = r.p;
		unsigned char *rec = ix->recs + used;

		if (r.failed || keylen > lmm_left(&r) ||
			lmm_left(&r) - keylen < 8 * ((size_t) q + (size_t) q * q))
		{
			problem = "lmm_model value is truncated";
			break;
		}
		if (memchr(key, '\0', keylen) != NULL)
			problem = "a level key holds a NUL byte";
		memcpy(rec, &keylen, 4);
		memcpy(rec + 4, key, keylen);
		r.p += keylen;
		for (k = 0; k < q; k++)
		{
			double		b = lmm_get_f8(&r);

			if (!isfinite(b))
				problem = "estimates must be finite numbers";
			memcpy(rec + 4 + keylen + 8 * k, &b, 8);
		}
		r.p += 8 * (size_t) q * q;
		hash[j] = hash_key(key, keylen);
		off[j] = used;
		used += 4 + keylen + 8 * (size_t) q;
	}
	return index_insert_all(ix, hash, off, nlevels, problem);
}

/*
 * Index the levels of a term of an unpacked model: nlevels keys (C
 * strings) and their q conditional modes each, b row by row.  Returns NULL
 * or the problem (a non-finite b, a repeated key, too large), having freed
 * what it allocated.
 */
const char *
lmm_index_build_arrays(LmmIndex *ix, char *const *levels, const double *b,
					   int64_t nlevels, int q)
{
	size_t		len = 0;
	uint32_t   *hash;
	size_t	   *off;
	size_t		used = 0;
	const char *problem = NULL;
	int64_t		j;

	memset(ix, 0, sizeof(LmmIndex));
	if (q < 1 || nlevels < 0)
		return "number of random-effect columns out of range";
	for (j = 0; j < nlevels; j++)
		len += 4 + strlen(levels[j]) + 8 * (size_t) q;
	if ((problem = index_alloc(ix, len, nlevels)) != NULL)
		return problem;
	hash = lmm_alloc(sizeof(uint32_t) * (nlevels + 1));
	off = lmm_alloc(sizeof(size_t) * (nlevels + 1));
	for (j = 0; j < nlevels; j++)
	{
		uint32_t	keylen = (uint32_t) strlen(levels[j]);
		unsigned char *rec = ix->recs + used;
		int			k;

		for (k = 0; k < q; k++)
			if (!isfinite(b[j * q + k]))
				problem = "estimates must be finite numbers";
		memcpy(rec, &keylen, 4);
		memcpy(rec + 4, levels[j], keylen);
		memcpy(rec + 4 + keylen, b + j * q, 8 * (size_t) q);
		hash[j] = hash_key((const unsigned char *) levels[j], keylen);
		off[j] = used;
		used += 4 + keylen + 8 * (size_t) q;
	}
	return index_insert_all(ix, hash, off, nlevels, problem);
}

/* The record of the len-byte key, or NULL if the model has no such level. */
const unsigned char *
lmm_index_find(const LmmIndex *ix, const char *key, size_t len)
{
	uint32_t	h = hash_key((const unsigned char *) key, len);
	uint64_t	i;

	for (i = h & ix->mask;; i = (i + 1) & ix->mask)
	{
		const LmmIndexSlot *s = &ix->slots[i];

		if (s->rec1 == 0)
			return NULL;
		if (s->hash == h && rec_is(ix->recs + s->rec1 - 1,
								   (const unsigned char *) key, len))
			return ix->recs + s->rec1 - 1;
	}
}

/* Conditional mode k of the level whose record lmm_index_find returned. */
double
lmm_index_b(const unsigned char *rec, int k)
{
	uint32_t	keylen;
	double		b;

	memcpy(&keylen, rec, 4);
	memcpy(&b, rec + 4 + keylen + 8 * (size_t) k, 8);
	return b;
}

/* Release what the index allocated. */
void
lmm_index_free(LmmIndex *ix)
{
	lmm_free(ix->slots);
	lmm_free(ix->recs);
	memset(ix, 0, sizeof(LmmIndex));
}
