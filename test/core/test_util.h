/*
 * test_util.h
 *	  What the unit tests, the fuzz harnesses and the benchmarks share about
 *	  building statistics, header-only so that each program compiles it in:
 *	  a map from text keys to level numbers (the host keeps keys, the core
 *	  only numbers levels), a one-term row in lmm 0.6's layout, and a writer
 *	  of lmm 0.6's "LMMs" values (lmm now only reads them) from rows.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_bytes.h"
#include "lmm_stats_io.h"
#include "lmm_terms.h"
#include "lmm_terms_io.h"

/* The keys of every term's levels, by level number, with a hash from key to level. */
typedef struct TestKeys
{
	int64_t		n[LMM_MAX_TERMS];	/* levels of each term */
	int64_t		cap[LMM_MAX_TERMS];
	char	  **key[LMM_MAX_TERMS]; /* NUL-terminated copies, by level */
	uint32_t   *len[LMM_MAX_TERMS];
	int64_t		nslots[LMM_MAX_TERMS];
	int64_t    *slot[LMM_MAX_TERMS];	/* level + 1; 0 is empty */
} TestKeys;

/* FNV-1a of a key's bytes. */
static inline uint64_t
test_key_hash(const char *key, uint32_t len)
{
	uint64_t	h = 0xCBF29CE484222325ULL;
	uint32_t	i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char) key[i]) * 0x100000001B3ULL;
	return h;
}

/* Empty maps. */
static inline void
test_keys_init(TestKeys *k)
{
	memset(k, 0, sizeof(TestKeys));
}

/* Release the maps' keys and arrays. */
static inline void
test_keys_free(TestKeys *k)
{
	int			t;
	int64_t		j;

	for (t = 0; t < LMM_MAX_TERMS; t++)
	{
		for (j = 0; j < k->n[t]; j++)
			lmm_free(k->key[t][j]);
		lmm_free(k->key[t]);
		lmm_free(k->len[t]);
		lmm_free(k->slot[t]);
	}
	memset(k, 0, sizeof(TestKeys));
}

/* The level of term t named by key (len bytes), or -1. */
static inline int64_t
test_keys_find(const TestKeys *k, int t, const char *key, uint32_t len)
{
	uint64_t	at;

	if (k->nslots[t] == 0)
		return -1;
	for (at = test_key_hash(key, len) & (uint64_t) (k->nslots[t] - 1);
		 k->slot[t][at] != 0; at = (at + 1) & (uint64_t) (k->nslots[t] - 1))
	{
		int64_t		j = k->slot[t][at] - 1;

		if (k->len[t][j] == len && memcmp(k->key[t][j], key, len) == 0)
			return j;
	}
	return -1;
}

/* Put level j of term t into the hash (room assured). */
static inline void
test_keys_slot(TestKeys *k, int t, int64_t j)
{
	uint64_t	at = test_key_hash(k->key[t][j], k->len[t][j]) &
		(uint64_t) (k->nslots[t] - 1);

	while (k->slot[t][at] != 0)
		at = (at + 1) & (uint64_t) (k->nslots[t] - 1);
	k->slot[t][at] = j + 1;
}

/* Record key as the next level of term t, without looking it up; returns its level. */
static inline int64_t
test_keys_append(TestKeys *k, int t, const char *key, uint32_t len)
{
	int64_t		j = k->n[t];

	if (j == k->cap[t])
	{
		k->cap[t] = k->cap[t] ? 2 * k->cap[t] : 64;
		k->key[t] = lmm_realloc(k->key[t], sizeof(char *) * (size_t) k->cap[t]);
		k->len[t] = lmm_realloc(k->len[t], sizeof(uint32_t) * (size_t) k->cap[t]);
	}
	k->key[t][j] = lmm_alloc((size_t) len + 1);
	memcpy(k->key[t][j], key, len);
	k->key[t][j][len] = '\0';
	k->len[t][j] = len;
	k->n[t] = j + 1;
	if (2 * k->n[t] > k->nslots[t])
	{
		int64_t		i;

		lmm_free(k->slot[t]);
		k->nslots[t] = k->nslots[t] ? 2 * k->nslots[t] : 128;
		k->slot[t] = lmm_alloc0(sizeof(int64_t) * (size_t) k->nslots[t]);
		for (i = 0; i <= j; i++)
			test_keys_slot(k, t, i);
	}
	else
		test_keys_slot(k, t, j);
	return j;
}

/* The level of term t named by key, added to s (and to the map) when new. */
static inline int64_t
test_keys_level(TestKeys *k, LmmTermStats *s, int t, const char *key, uint32_t len)
{
	int64_t		j = test_keys_find(k, t, key, len);

	if (j >= 0)
		return j;
	j = lmm_terms_add_level(s, t);
	if (test_keys_append(k, t, key, len) != j)
		abort();				/* the map and the statistics disagree */
	return j;
}

/* Add a row whose level in term t is named by key[t] (len[t] bytes; NULL len: strlen). */
static inline void
test_keys_add_row(LmmTermStats *s, TestKeys *k, const double *x, double y,
				  const char *const *key, const uint32_t *len, const double *z)
{
	int64_t		level[LMM_MAX_TERMS];
	int			t;

	for (t = 0; t < s->nterms; t++)
		level[t] = test_keys_level(k, s, t, key[t],
								   len ? len[t] : (uint32_t) strlen(key[t]));
	lmm_terms_add_row(s, x, y, level, z);
}

/* Merge other (keys ko) into s (keys ks), matching levels by key as the host does. */
static inline void
test_keys_merge(LmmTermStats *s, TestKeys *ks, const LmmTermStats *other,
				const TestKeys *ko)
{
	int64_t    *map[LMM_MAX_TERMS];
	int			t;
	int64_t		j;

	for (t = 0; t < s->nterms; t++)
	{
		map[t] = malloc(sizeof(int64_t) * (size_t) (other->term[t].nlevels + 1));
		for (j = 0; j < other->term[t].nlevels; j++)
			map[t][j] = test_keys_level(ks, s, t, ko->key[t][j], ko->len[t][j]);
	}
	lmm_terms_merge(s, other, map);
	for (t = 0; t < s->nterms; t++)
		free(map[t]);
}

/* Point meta's keys at the map's, as text (for packing; not for lmm_terms_meta_free). */
static inline void
test_keys_meta(const TestKeys *k, int nterms, LmmTermsMeta *meta)
{
	int			t;

	for (t = 0; t < nterms; t++)
	{
		meta->keys[t].type = (char *) "text";
		meta->keys[t].data = (const unsigned char **) k->key[t];
		meta->keys[t].len = k->len[t];
	}
}

/* The map of the keys an unpacked value carries (levels in their order). */
static inline void
test_keys_from_meta(TestKeys *k, const LmmTermStats *s, const LmmTermsMeta *meta)
{
	int			t;
	int64_t		j;

	test_keys_init(k);
	for (t = 0; t < s->nterms; t++)
		for (j = 0; j < s->term[t].nlevels; j++)
			test_keys_append(k, t, (const char *) meta->keys[t].data[j],
							 meta->keys[t].len[j]);
}

/*
 * Add a row of a one-term model (k = 1) in lmm 0.6's layout: v holds the z
 * columns after the intercept, then the x columns after the intercept,
 * then y (q - 1 + p - 1 + 1 numbers); the intercepts are the ones.
 */
static inline void
test_add_row1(LmmTermStats *s, int64_t level, const double *v)
{
	int			p = s->p;
	int			q = s->term[0].q;
	double		x[LMM_MAX_COLUMNS];
	double		z[LMM_MAX_RANDOM];
	int			a;

	x[0] = 1.0;
	z[0] = 1.0;
	for (a = 1; a < q; a++)
		z[a] = v[a - 1];
	for (a = 1; a < p; a++)
		x[a] = v[q - 1 + a - 1];
	lmm_terms_add_row(s, x, v[q - 1 + p - 1], &level, z);
}

/* Append an empty record to legacy statistics (as lmm 0.6 did); returns its index. */
static inline int64_t
test_legacy_add_level(LmmStats *s)
{
	if (s->nlevels == s->capacity)
	{
		s->capacity = s->capacity ? 2 * s->capacity : 64;
		s->level = lmm_realloc(s->level, sizeof(double) * (size_t) s->stride * (size_t) s->capacity);
	}
	memset(s->level + (size_t) s->stride * s->nlevels, 0, sizeof(double) * s->stride);
	return s->nlevels++;
}

/*
 * lmm 0.6's Welford update of one row v (its layout: z after the
 * intercept, x after the intercept, y) into its level and the overall
 * statistics, so that tests can write LMMs values as lmm 0.6 wrote them.
 */
static inline void
test_legacy_add_row(LmmStats *s, int64_t level, const double *v)
{
	int			d = s->d;
	int			p = s->p;
	int			nz = s->q - 1;
	double	   *rec = s->level + (size_t) s->stride * (size_t) level;
	double	   *mean = LMM_LEVEL_MEAN(rec);
	double	   *comom = LMM_LEVEL_COMOM(rec, d);
	double		delta[2 * LMM_MAX_COLUMNS];
	double		dev[2 * LMM_MAX_COLUMNS];
	const double *vxy = v + nz;
	double		n,
				inv;
	int			a,
				k;

	n = LMM_LEVEL_N(rec) + 1.0;
	LMM_LEVEL_N(rec) = n;
	inv = 1.0 / n;
	for (k = 0; k < d; k++)
	{
		delta[k] = v[k] - mean[k];
		mean[k] += delta[k] * inv;
		dev[k] = v[k] - mean[k];
	}
	for (a = 0; a < nz; a++)
		for (k = 0; k < d; k++)
			comom[(size_t) a * d + k] += delta[a] * dev[k];
	n = s->n + 1.0;
	s->n = n;
	inv = 1.0 / n;
	for (k = 0; k < p; k++)
	{
		delta[k] = vxy[k] - s->mean[k];
		s->mean[k] += delta[k] * inv;
		dev[k] = vxy[k] - s->mean[k];
	}
	for (a = 0; a < p; a++)
		for (k = a; k < p; k++)
			s->comom[(size_t) a * p + k] += delta[a] * dev[k];
}

/* Bytes of a name list of the LMMs form (n < 0: none). */
static inline size_t
test_legacy_names_size(int n, char **names)
{
	size_t		size = 4;
	int			k;

	for (k = 0; k < n; k++)
		size += 4 + strlen(names[k]);
	return size;
}

/* Append a name list of the LMMs form. */
static inline unsigned char *
test_legacy_put_names(unsigned char *w, int n, char **names)
{
	int			k;

	w = lmm_put_u32(w, n < 0 ? 0xFFFFFFFFu : (uint32_t) n);
	for (k = 0; k < n; k++)
		w = lmm_put_str(w, names[k]);
	return w;
}

/*
 * lmm 0.6's binary form of s with meta and keys (lmm_stats_io.c describes
 * it), in a new buffer of *size bytes (malloc'd).
 */
static inline unsigned char *
test_legacy_pack(const LmmStats *s, const LmmStatsMeta *meta,
				 const LmmStatsKeys *keys, size_t *size)
{
	int			p = s->p;
	unsigned char *buf,
			   *w;
	int64_t		j;
	int			a,
				k;

	*size = 5 * 4 + 2 * 8 + 4 + strlen(meta->g_name) + 4 + strlen(meta->key_type) +
		test_legacy_names_size(meta->n_x_names, meta->x_names) +
		test_legacy_names_size(meta->n_z_names, meta->z_names) +
		8 * ((size_t) p + (size_t) p * (p + 1) / 2);
	for (j = 0; j < s->nlevels; j++)
		*size += 4 + keys->len[j] + (p > 0 ? 8 * (size_t) s->stride : 0);
	w = buf = malloc(*size + 1);
	w = lmm_put_u32(w, LMM_STATS_MAGIC);
	w = lmm_put_u32(w, LMM_STATS_VERSION);
	w = lmm_put_u32(w, meta->flags);
	w = lmm_put_u32(w, (uint32_t) p);
	w = lmm_put_u32(w, (uint32_t) s->q);
	w = lmm_put_u64(w, (uint64_t) s->nlevels);
	w = lmm_put_u64(w, (uint64_t) meta->n_dropped);
	w = lmm_put_str(w, meta->g_name);
	w = lmm_put_str(w, meta->key_type);
	w = test_legacy_put_names(w, meta->n_x_names, meta->x_names);
	w = test_legacy_put_names(w, meta->n_z_names, meta->z_names);
	for (k = 0; k < p; k++)
		w = lmm_put_f8(w, s->mean[k]);
	for (a = 0; a < p; a++)
		for (k = a; k < p; k++)
			w = lmm_put_f8(w, s->comom[(size_t) a * p + k]);
	for (j = 0; j < s->nlevels; j++)
	{
		const double *rec = s->level + (size_t) j * s->stride;

		w = lmm_put_u32(w, keys->len[j]);
		memcpy(w, keys->data[j], keys->len[j]);
		w += keys->len[j];
		for (k = 0; k < s->stride; k++)
			w = lmm_put_f8(w, rec[k]);
	}
	return buf;
}

#endif							/* TEST_UTIL_H */
