/*
 * lmm_index.c
 *	  Build and probe the scoring index: linear probing over a table at most
 *	  half full, keyed by a 32-bit hash of the key bytes.
 */
#include "lmm_index.h"

#include <math.h>
#include <string.h>
#ifdef __linux__
#endif

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
 * Read one level record at r (u32 key length, key, q f8 b, q*q f8
 * conditional covariances, big-endian) within bounds: its key and where its
 * b start.  NULL or the problem (truncation, a key with a NUL byte, a
 * non-finite b); the builders share it so that both refuse the same values.
 */
static const char *
read_level(LmmReader *r, int q, const unsigned char **key, uint32_t *keylen,
		   const unsigned char **b)
{
	int			k;

	*keylen = lmm_get_u32(r);
	*key = r->p;
	if (r->failed || *keylen > lmm_left(r) ||
		lmm_left(r) - *keylen < 8 * ((size_t) q + (size_t) q * q))
		return "lmm_model value is truncated";
	if (memchr(*key, '\0', *keylen) != NULL)
		return "a level key holds a NUL byte";
	r->p += *keylen;
	*b = r->p;
	for (k = 0; k < q; k++)
		if (!isfinite(lmm_get_f8(r)))
			return "estimates must be finite numbers";
	r->p += 8 * (size_t) q * q;
	return NULL;
}

/*
 * Index the nlevels level records of a model's binary form (len bytes at
 * levels), reading every byte within bounds.  Returns NULL on success or a
 * description of the problem (more levels than the bytes can hold,
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
	const char *problem = NULL;
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
		const unsigned char *key,
				   *b;
		uint32_t	keylen;
		unsigned char *rec = ix->recs + used;
		LmmReader	br;

		if ((problem = read_level(&r, q, &key, &keylen, &b)) != NULL)
			break;
		br.p = b;
		br.end = r.end;
		br.failed = 0;
		memcpy(rec, &keylen, 4);
		memcpy(rec + 4, key, keylen);
		for (k = 0; k < q; k++)
		{
			double		bk = lmm_get_f8(&br);

			memcpy(rec + 4 + keylen + 8 * k, &bk, 8);
		}
		hash[j] = hash_key(key, keylen);
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

/*
 * Set *v to the integer whose text, as int2out, int4out and int8out write
 * it, is the len bytes at s, and return 1; 0 when they are not such a text
 * ("007", "+7", "-0", " 7", out of range), which no integer key's text can
 * equal.
 */
int
lmm_index_parse_int(const unsigned char *s, size_t len, int64_t *v)
{
	size_t		i = 0;
	int			neg = 0;
	uint64_t	acc = 0;

	if (len > 0 && s[0] == '-')
	{
		neg = 1;
		i = 1;
	}
	if (i == len || len - i > 19 || (s[i] == '0' && (len - i > 1 || neg)))
		return 0;
	for (; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return 0;
		acc = acc * 10 + (uint64_t) (s[i] - '0');	/* 19 digits fit in 64 bits */
	}
	if (acc > (uint64_t) INT64_MAX + (uint64_t) neg)
		return 0;
	*v = neg ? -(int64_t) (acc - 1) - 1 : (int64_t) acc;
	return 1;
}

/* Home slot of an integer key: Fibonacci hashing, the product's top bits. */
static inline uint64_t
int_slot(const LmmIntIndex *ix, int64_t key)
{
	return ((uint64_t) key * UINT64_C(0x9E3779B97F4A7C15)) >> ix->shift;
}

/*
 * Put key and its q conditional modes b into the hashed integer index;
 * NULL, or the problem when the key is there already.
 */
static const char *
int_insert(LmmIntIndex *ix, int64_t key, const double *b)
{
	double	   *dest = NULL;
	uint64_t	i;
	int			k;

	if (key == LMM_INDEX_EMPTY)
	{
		if (ix->has_empty_key)
			return "a level appears twice";
		ix->has_empty_key = 1;
		dest = ix->empty_b;
	}
	for (i = int_slot(ix, key); dest == NULL; i = (i + 1) & ix->mask)
	{
		double	   *e = ix->table + i * (1 + (size_t) ix->q);
		int64_t		slot_key;

		memcpy(&slot_key, e, 8);
		if (slot_key == key)
			return "a level appears twice";
		if (slot_key == LMM_INDEX_EMPTY)
		{
			memcpy(e, &key, 8);
			dest = e + 1;
		}
	}
	for (k = 0; k < ix->q; k++)
		dest[k] = b[k];
	return NULL;
}

/*
 * Allocate the integer index's table of ndoubles, aligned to a cache line so
 * that an entry of one or three modes never straddles two, and on huge pages
 * where the kernel offers them (a probe of a large table then rarely
 * misses the TLB as well).
 */
static void
int_table_alloc(LmmIntIndex *ix, size_t ndoubles)
{
	ix->table_mem = lmm_alloc(sizeof(double) * ndoubles + 64);
	ix->table = (double *) (((uintptr_t) ix->table_mem + 63) & ~(uintptr_t) 63);
	lmm_advise_huge(ix->table, sizeof(double) * ndoubles);
}

/*
 * Set up an empty hashed integer index for n levels of q conditional modes:
 * a table at most half full, so that a probe rarely goes past its home
 * cache line.
 */
static void
int_index_alloc(LmmIntIndex *ix, int64_t n, int q)
{
	uint64_t	nslots = 16;
	size_t		w = 1 + (size_t) q;
	uint64_t	i;
	int64_t		empty = LMM_INDEX_EMPTY;
	int			bits = 4;

	while (nslots < 2 * (uint64_t) n)
	{
		nslots *= 2;
		bits++;
	}
	ix->q = q;
	ix->shift = 64 - bits;
	ix->mask = nslots - 1;
	int_table_alloc(ix, w * nslots);
	for (i = 0; i < nslots; i++)
		memcpy(ix->table + i * w, &empty, 8);
}

/*
 * Set up an empty dense integer index for the keys base .. base + span - 1,
 * q modes each, every entry NaN (no level): a row's look-up is then one
 * subtraction and one load from a table a quarter the size of a hashed one
 * when the keys are consecutive, as surrogate keys usually are.
 */
static void
int_dense_alloc(LmmIntIndex *ix, int64_t base, uint64_t span, int q)
{
	size_t		i;

	ix->q = q;
	ix->dense = 1;
	ix->base = base;
	ix->span = span;
	int_table_alloc(ix, (size_t) span * q);
	for (i = 0; i < (size_t) span * q; i++)
		ix->table[i] = NAN;
}

/*
 * Put key and its q finite conditional modes b into the dense index, which
 * covers it; NULL, or the problem when the key is there already.
 */
static const char *
dense_insert(LmmIntIndex *ix, int64_t key, const double *b)
{
	double	   *e = ix->table + ((uint64_t) key - (uint64_t) ix->base) * ix->q;
	int			k;

	if (!isnan(e[0]))
		return "a level appears twice";
	for (k = 0; k < ix->q; k++)
		e[k] = b[k];
	return NULL;
}

/*
 * Insert the n keys with their modes (q each, row by row in b) into
 * a dense table when their span is no larger than a hashed table would be
 * (span q <= 2 n (1 + q) doubles), else into a hashed one.  NULL or the
 * problem.
 */
static const char *
int_index_fill(LmmIntIndex *ix, const int64_t *keys, const double *b,
			   int64_t n, int q)
{
	const char *problem = NULL;
	int64_t		lo = n > 0 ? keys[0] : 0,
				hi = lo,
				j;
	uint64_t	span;

	for (j = 1; j < n; j++)
	{
		lo = keys[j] < lo ? keys[j] : lo;
		hi = keys[j] > hi ? keys[j] : hi;
	}
	span = (uint64_t) hi - (uint64_t) lo + 1;
	ix->nlevels = n;
	if (n > 0 && span != 0 && span <= 2 * (uint64_t) n * (1 + q) / q)
	{
		int_dense_alloc(ix, lo, span, q);
		for (j = 0; j < n && problem == NULL; j++)
			problem = dense_insert(ix, keys[j], b + j * q);
		return problem;
	}
	int_index_alloc(ix, n, q);
	/* each insert is a cache miss with a million levels: prefetch ahead */
	for (j = 0; j < n && problem == NULL; j++)
	{
#ifdef __GNUC__
		if (j + PREFETCH_AHEAD < n)
			__builtin_prefetch(ix->table + int_slot(ix, keys[j + PREFETCH_AHEAD]) * (1 + (size_t) q), 1);
#endif
		problem = int_insert(ix, keys[j], b + j * q);
	}
	return problem;
}

/*
 * Index the nlevels level records of a model whose keys are integers (len
 * bytes at levels, as lmm_index_build reads them, refusing what it
 * refuses) by the keys' values.  A level whose text is not an integer as
 * the integer types print it can never match a key, so it is left out.
 * Returns NULL or the problem, having freed what it allocated.
 */
const char *
lmm_int_index_build(LmmIntIndex *ix, const unsigned char *levels, size_t len,
					int64_t nlevels, int q)
{
	const unsigned char *p = levels,
			   *end = levels + len;
	size_t		rest = 8 * ((size_t) q + (size_t) q * q);
	int64_t    *keys;
	double	   *b;
	const char *problem = NULL;
	int64_t		n = 0,
				j;
	int			k;

	memset(ix, 0, sizeof(LmmIntIndex));
	if (q < 1 || q > LMM_MAX_RANDOM || nlevels < 0 ||
		(uint64_t) nlevels > len / (4 + rest))
		return "lmm_model value claims more levels than it holds";
	keys = lmm_alloc(sizeof(int64_t) * (nlevels + 1));
	b = lmm_alloc(sizeof(double) * q * (nlevels + 1));
	/* read_level's checks, with the modes decoded once (a million levels) */
	for (j = 0; j < nlevels && problem == NULL; j++)
	{
		uint32_t	keylen;

		if (end - p < 4)
		{
			problem = "lmm_model value is truncated";
			break;
		}
		keylen = ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) |
			((uint32_t) p[2] << 8) | (uint32_t) p[3];
		p += 4;
		if (keylen > (size_t) (end - p) || (size_t) (end - p) - keylen < rest)
			problem = "lmm_model value is truncated";
		else if (lmm_index_parse_int(p, keylen, &keys[n]))
		{
			for (k = 0; k < q; k++)
			{
				LmmReader	r = {p + keylen + 8 * k, end, 0};

				b[n * q + k] = lmm_get_f8(&r);
				if (!isfinite(b[n * q + k]))
					problem = "estimates must be finite numbers";
			}
			n++;
		}
		else
		{
			/* a level no integer key can match; refused as read_level would */
			LmmReader	r = {p - 4, end, 0};
			const unsigned char *key,
					   *bb;

			problem = read_level(&r, q, &key, &keylen, &bb);
		}
		p += keylen + rest;
	}
	if (problem == NULL)
		problem = int_index_fill(ix, keys, b, n, q);
	lmm_free(keys);
	lmm_free(b);
	if (problem != NULL)
		lmm_int_index_free(ix);
	return problem;
}

/*
 * The q conditional modes of the level keyed key, or NULL if the model has
 * no such level: one load from the dense table, or one probe of the hashed
 * one, usually within one cache line.
 */
const double *
lmm_int_index_find(const LmmIntIndex *ix, int64_t key)
{
	size_t		w = 1 + (size_t) ix->q;
	uint64_t	i;

	if (ix->dense)
	{
		uint64_t	off = (uint64_t) key - (uint64_t) ix->base;

		if (off >= ix->span || isnan(ix->table[off * ix->q]))
			return NULL;
		return ix->table + off * ix->q;
	}
	if (key == LMM_INDEX_EMPTY)
		return ix->has_empty_key ? ix->empty_b : NULL;
	for (i = int_slot(ix, key);; i = (i + 1) & ix->mask)
	{
		const double *e = ix->table + i * w;
		int64_t		slot_key;

		memcpy(&slot_key, e, 8);
		if (slot_key == key)
			return e + 1;
		if (slot_key == LMM_INDEX_EMPTY)
			return NULL;
	}
}

/* Release what the integer index allocated. */
void
lmm_int_index_free(LmmIntIndex *ix)
{
	lmm_free(ix->table_mem);
	memset(ix, 0, sizeof(LmmIntIndex));
}
