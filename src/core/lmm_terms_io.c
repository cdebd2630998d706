/*
 * lmm_terms_io.c
 *	  Pack, unpack and validate the binary form of the several-term
 *	  statistics.
 *
 * Layout (all integers and doubles big-endian):
 *	 u32 magic, u32 version (2), u32 flags,
 *	 u64 n_rows, u64 n_dropped, str spec, u32 has_options, [str options],
 *	 u32 p, u32 nterms, nterms x u32 q, u32 first_is_one,
 *	 f8 n, (p + 1) f8 shift, (p + 1) f8 sum,
 *	 (p + 1)(p + 2)/2 f8 cross (upper triangle by rows),
 *	 per term: [str key type], u32 packing (version 2), u64 nlevels,
 *	 nlevels x ([bytes key], the level record's packed doubles),
 *	 per pair of terms (0,1), (0,2), ...: u64 npairs,
 *	 npairs x (u64 level of the first term, u64 level of the second,
 *	 q_t q_u f8 block)
 * where str is a u32 length and that many bytes (no NUL among them), bytes
 * the same without that rule, and the parts in [] are left out under
 * LMM_TERMS_NO_KEYS.  A term's packing word says which parts of its level
 * records are left out because they repeat others bitwise in every level
 * (PACK_*: with an intercept in z and x, as lme4's terms have, a record
 * keeps n_j once and drops the zero sums of x_0 - c_0), so the value
 * takes what lmm 0.6's centred one-term form took; unpacking rebuilds
 * the record exactly.  Version 1 (lmm 0.7 development) had no flags, no
 * key type (its keys were text), no packing word and a str key per level;
 * it is still read.
 * Levels and pairs keep the order of the state, so a round trip changes
 * nothing.
 */
#include "lmm_terms_io.h"

#include <math.h>
#include <string.h>

#include "lmm_bytes.h"
#include "lmm_host.h"

/* Largest whole count a double holds exactly. */
#define EXACT_COUNT 9007199254740992.0

/* A level record's parts that a term's packing leaves out, every level alike. */
#define PACK_SZ_IS_ZZ0	0x1u	/* sum z equals the first row of sum z z' */
#define PACK_ZX0_ZERO	0x2u	/* sum z (x_0 - c_0) is zero */
#define PACK_ZZ_SYM		0x4u	/* sum z z' is symmetric: its upper triangle */
#define PACK_ALL		0x7u

/* Doubles of the upper triangle of the (p + 1) x (p + 1) cross-products. */
static size_t
cross_doubles(int p)
{
	return (size_t) (p + 1) * (p + 2) / 2;
}

/* Which parts one level record (of q z and p x columns) repeats (PACK_* bits). */
static uint32_t
record_packing(const double *rec, int p, int q)
{
	const double *zz = LMM_TREC_ZZ(rec, q);
	uint32_t	packing = p < 1 ? PACK_ALL & ~PACK_ZX0_ZERO : PACK_ALL;
	int			a,
				b;

	for (a = 0; a < q; a++)
	{
		if (memcmp(&LMM_TREC_SZ(rec)[a], &zz[a], sizeof(double)) != 0)
			packing &= ~PACK_SZ_IS_ZZ0;
		if (p >= 1 && LMM_TREC_ZX(rec, q)[a * p] != 0.0)
			packing &= ~PACK_ZX0_ZERO;
		for (b = a + 1; b < q; b++)
			if (memcmp(&zz[a * q + b], &zz[b * q + a], sizeof(double)) != 0)
				packing &= ~PACK_ZZ_SYM;
	}
	return packing;
}

/* Which parts of term t's level records every level repeats (PACK_* bits). */
static uint32_t
term_packing(const LmmTermStats *s, int t)
{
	const LmmTermLevels *lv = &s->term[t];
	uint32_t	packing = s->p < 1 ? PACK_ALL & ~PACK_ZX0_ZERO : PACK_ALL;
	int64_t		j;

	for (j = 0; j < lv->nlevels && packing != 0; j++)
		packing &= record_packing(lv->rec + (size_t) j * lv->stride, s->p, lv->q);
	return packing;
}

/* Doubles a level record of term t takes under a packing. */
static size_t
packed_doubles(int p, int q, uint32_t packing)
{
	size_t		n = (packing & PACK_SZ_IS_ZZ0) ? 0 : (size_t) q;

	n += (packing & PACK_ZZ_SYM) ? (size_t) q * (q + 1) / 2 : (size_t) q * q;
	n += (size_t) q * ((packing & PACK_ZX0_ZERO) ? p - 1 : p);
	return n + (size_t) q;
}

/* Append a level record under a packing. */
static unsigned char *
put_record(unsigned char *w, const double *rec, int p, int q, uint32_t packing)
{
	const double *zz = LMM_TREC_ZZ(rec, q);
	int			a,
				b;

	if (!(packing & PACK_SZ_IS_ZZ0))
		for (a = 0; a < q; a++)
			w = lmm_put_f8(w, LMM_TREC_SZ(rec)[a]);
	for (a = 0; a < q; a++)
		for (b = (packing & PACK_ZZ_SYM) ? a : 0; b < q; b++)
			w = lmm_put_f8(w, zz[a * q + b]);
	for (a = 0; a < q; a++)
		for (b = (packing & PACK_ZX0_ZERO) ? 1 : 0; b < p; b++)
			w = lmm_put_f8(w, LMM_TREC_ZX(rec, q)[a * p + b]);
	for (a = 0; a < q; a++)
		w = lmm_put_f8(w, LMM_TREC_ZY(rec, q, p)[a]);
	return w;
}

/* A big-endian double at b, whose 8 bytes the caller has checked are there. */
static inline double
be_f8(const unsigned char *b)
{
	uint64_t	bits = ((uint64_t) b[0] << 56) | ((uint64_t) b[1] << 48) |
		((uint64_t) b[2] << 40) | ((uint64_t) b[3] << 32) |
		((uint64_t) b[4] << 24) | ((uint64_t) b[5] << 16) |
		((uint64_t) b[6] << 8) | (uint64_t) b[7];
	double		v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

/*
 * Read a level record under a packing, rebuilding what it left out, from
 * b, which holds packed_doubles(p, q, packing) doubles (checked by the
 * caller: no check per double).  Returns the bytes after it.
 */
static const unsigned char *
get_record(const unsigned char *b, double *rec, int p, int q, uint32_t packing)
{
	double	   *zz = LMM_TREC_ZZ(rec, q);
	int			a,
				c;

	if (!(packing & PACK_SZ_IS_ZZ0))
		for (a = 0; a < q; a++, b += 8)
			LMM_TREC_SZ(rec)[a] = be_f8(b);
	for (a = 0; a < q; a++)
		for (c = (packing & PACK_ZZ_SYM) ? a : 0; c < q; c++, b += 8)
			zz[a * q + c] = be_f8(b);
	if (packing & PACK_ZZ_SYM)
		for (a = 0; a < q; a++)
			for (c = 0; c < a; c++)
				zz[a * q + c] = zz[c * q + a];
	if (packing & PACK_SZ_IS_ZZ0)
		for (a = 0; a < q; a++)
			LMM_TREC_SZ(rec)[a] = zz[a];
	for (a = 0; a < q; a++)
	{
		if (packing & PACK_ZX0_ZERO)
			LMM_TREC_ZX(rec, q)[a * p] = 0.0;
		for (c = (packing & PACK_ZX0_ZERO) ? 1 : 0; c < p; c++, b += 8)
			LMM_TREC_ZX(rec, q)[a * p + c] = be_f8(b);
	}
	for (a = 0; a < q; a++, b += 8)
		LMM_TREC_ZY(rec, q, p)[a] = be_f8(b);
	return b;
}

/* Bytes lmm_terms_pack will write. */
size_t
lmm_terms_packed_size(const LmmTermStats *s, const LmmTermsMeta *meta)
{
	size_t		size = 3 * 4 + 2 * 8 + 4 + strlen(meta->spec) + 4;
	int			keyed = !(meta->flags & LMM_TERMS_NO_KEYS);
	int			t;
	int64_t		j;

	if (meta->options != NULL)
		size += 4 + strlen(meta->options);
	size += 4 + 4 + 4 * (size_t) s->nterms + 4;
	size += 8 * (1 + 2 * (size_t) (s->p + 1) + cross_doubles(s->p));
	for (t = 0; t < s->nterms; t++)
	{
		const LmmTermLevels *lv = &s->term[t];

		size += 4 + 8;
		if (keyed)
		{
			size += 4 + strlen(meta->keys[t].type);
			for (j = 0; j < lv->nlevels; j++)
				size += 4 + meta->keys[t].len[j];
		}
		size += 8 * (size_t) lv->nlevels *
			packed_doubles(s->p, lv->q, term_packing(s, t));
	}
	for (t = 0; t < s->nterms * (s->nterms - 1) / 2; t++)
		size += 8 + (size_t) s->pair[t].npairs * (16 + 8 * (size_t) s->pair[t].bsize);
	return size;
}

/*
 * Bytes of the binary form without keys of statistics with one term of q
 * columns, p fixed-effect columns and nlevels levels, an empty spec and no
 * options, when every part the packing may leave out is left out (as with
 * intercepts in x and z): the least a one-term model's statistics take
 * (lmm_model.c).
 */
size_t
lmm_terms_keyless_size(int p, int q, int64_t nlevels)
{
	return 3 * 4 + 2 * 8 + 4 + 4 + 4 + 4 + 4 + 4 +
		8 * (1 + 2 * (size_t) (p + 1) + cross_doubles(p)) +
		4 + 8 + 8 * (size_t) nlevels * packed_doubles(p, q, p >= 1 ? PACK_ALL : PACK_ALL & ~PACK_ZX0_ZERO);
}

/*
 * Write the binary form into buf, which holds lmm_terms_packed_size() bytes,
 * each term's levels in meta->order[t] where that is given.
 */
void
lmm_terms_pack(const LmmTermStats *s, const LmmTermsMeta *meta,
			   unsigned char *buf)
{
	unsigned char *w = buf;
	int			p = s->p;
	int			keyed = !(meta->flags & LMM_TERMS_NO_KEYS);
	int64_t    *place[LMM_MAX_TERMS] = {NULL};
	int			a,
				b,
				t;
	int64_t		j;
	size_t		i;

	w = lmm_put_u32(w, LMM_TERMS_MAGIC);
	w = lmm_put_u32(w, LMM_TERMS_VERSION);
	w = lmm_put_u32(w, meta->flags);
	w = lmm_put_u64(w, (uint64_t) meta->n_rows);
	w = lmm_put_u64(w, (uint64_t) meta->n_dropped);
	w = lmm_put_str(w, meta->spec);
	w = lmm_put_u32(w, meta->options != NULL ? 1 : 0);
	if (meta->options != NULL)
		w = lmm_put_str(w, meta->options);
	w = lmm_put_u32(w, (uint32_t) p);
	w = lmm_put_u32(w, (uint32_t) s->nterms);
	for (t = 0; t < s->nterms; t++)
		w = lmm_put_u32(w, (uint32_t) s->term[t].q);
	w = lmm_put_u32(w, s->first_is_one ? 1 : 0);
	w = lmm_put_f8(w, s->n);
	for (a = 0; a <= p; a++)
		w = lmm_put_f8(w, s->shift[a]);
	for (a = 0; a <= p; a++)
		w = lmm_put_f8(w, s->sum[a]);
	for (a = 0; a <= p; a++)
		for (b = a; b <= p; b++)
			w = lmm_put_f8(w, s->cross[a * (p + 1) + b]);
	for (t = 0; t < s->nterms; t++)
	{
		const LmmTermLevels *lv = &s->term[t];
		uint32_t	packing = term_packing(s, t);

		if (keyed)
			w = lmm_put_str(w, meta->keys[t].type);
		w = lmm_put_u32(w, packing);
		w = lmm_put_u64(w, (uint64_t) lv->nlevels);
		for (j = 0; j < lv->nlevels; j++)
		{
			int64_t		l = meta->order[t] != NULL ? meta->order[t][j] : j;
			const double *rec = lv->rec + (size_t) l * lv->stride;

			if (keyed)
			{
				w = lmm_put_u32(w, meta->keys[t].len[l]);
				memcpy(w, meta->keys[t].data[l], meta->keys[t].len[l]);
				w += meta->keys[t].len[l];
			}
			w = put_record(w, rec, p, lv->q, packing);
		}
		/* the pairs name a level by its place in the packed order */
		if (meta->order[t] != NULL)
		{
			place[t] = lmm_alloc(sizeof(int64_t) * (size_t) (lv->nlevels + 1));
			for (j = 0; j < lv->nlevels; j++)
				place[t][meta->order[t][j]] = j;
		}
	}
	for (t = 0; t < s->nterms * (s->nterms - 1) / 2; t++)
	{
		const LmmTermPair *pr = &s->pair[t];

		w = lmm_put_u64(w, (uint64_t) pr->npairs);
		for (j = 0; j < pr->npairs; j++)
		{
			w = lmm_put_u64(w, (uint64_t) (place[pr->t] ? place[pr->t][pr->jt[j]] : pr->jt[j]));
			w = lmm_put_u64(w, (uint64_t) (place[pr->u] ? place[pr->u][pr->ju[j]] : pr->ju[j]));
			for (i = 0; i < (size_t) pr->bsize; i++)
				w = lmm_put_f8(w, pr->blk[(size_t) j * pr->bsize + i]);
		}
	}
	for (t = 0; t < s->nterms; t++)
		lmm_free(place[t]);
}

/* Nonzero if all n doubles are finite. */
static int
all_finite(const double *v, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/*
 * Nonzero when the n x n Gram matrix G (row stride ld) is plausible: a
 * diagonal >= 0 and |g_ab| <= sqrt(g_aa g_bb), with room for rounding.
 */
static int
gram_valid(const double *G, int n, int ld)
{
	int			a,
				b;

	for (a = 0; a < n; a++)
	{
		double		gaa = G[(size_t) a * ld + a];

		if (gaa < 0.0)
			return 0;
		for (b = a + 1; b < n; b++)
		{
			double		gab = G[(size_t) a * ld + b];

			if (gab * gab > gaa * G[(size_t) b * ld + b] * (1.0 + 1e-9) + 1e-300)
				return 0;
		}
	}
	return 1;
}

/*
 * The first problem that unpacking would find in the numbers of s, or NULL:
 * packers check first, so that they never write a value reading refuses
 * (sums of huge values overflow to infinity).
 */
const char *
lmm_terms_check(const LmmTermStats *s)
{
	int			p = s->p;
	int			a,
				t;
	int64_t		j;

	if (!all_finite(s->shift, p + 1) || !all_finite(s->sum, p + 1) ||
		!all_finite(s->cross, (size_t) (p + 1) * (p + 1)))
		return "sums must be finite numbers";
	if (!gram_valid(s->cross, p + 1, p + 1))
		return "cross-products are not those of real data";
	for (a = 0; a <= p; a++)
		if (s->sum[a] * s->sum[a] > s->n * s->cross[a * (p + 1) + a] * (1.0 + 1e-9) + 1e-300)
			return "sums are not those of real data";
	for (t = 0; t < s->nterms; t++)
	{
		const LmmTermLevels *lv = &s->term[t];

		for (j = 0; j < lv->nlevels; j++)
		{
			const double *rec = lv->rec + (size_t) j * lv->stride;

			if (!all_finite(rec, lv->stride))
				return "level sums must be finite numbers";
			if (!gram_valid(LMM_TREC_ZZ(rec, lv->q), lv->q, lv->q))
				return "level cross-products are not those of real data";
		}
	}
	for (t = 0; t < s->nterms * (s->nterms - 1) / 2; t++)
		if (!all_finite(s->pair[t].blk, (size_t) s->pair[t].npairs * s->pair[t].bsize))
			return "level pair sums must be finite numbers";
	return NULL;
}

/* Read the overall part (after the shape words): n, shift, sum, cross; checked. */
static const char *
unpack_overall(LmmReader *r, LmmTermStats *s, const LmmTermsMeta *meta)
{
	int			p = s->p;
	int			a,
				b;

	if (1 + 2 * (size_t) (p + 1) + cross_doubles(p) > lmm_left(r) / 8)
		return "the statistics are truncated";
	s->n = lmm_get_f8(r);
	for (a = 0; a <= p; a++)
		s->shift[a] = lmm_get_f8(r);
	for (a = 0; a <= p; a++)
		s->sum[a] = lmm_get_f8(r);
	for (a = 0; a <= p; a++)
		for (b = a; b <= p; b++)
			s->cross[a * (p + 1) + b] = lmm_get_f8(r);
	if (!(s->n >= 0.0 && s->n <= EXACT_COUNT && s->n == floor(s->n)))
		return "the row count must be a whole number";
	if (s->n != (double) (meta->n_rows - meta->n_dropped))
		return "the row count must be the rows seen minus the rows dropped";
	if (!all_finite(s->shift, p + 1) || !all_finite(s->sum, p + 1) ||
		!all_finite(s->cross, (size_t) (p + 1) * (p + 1)))
		return "sums must be finite numbers";
	if (!gram_valid(s->cross, p + 1, p + 1))
		return "cross-products are not those of real data";
	if (s->n == 0.0)
		for (a = 0; a <= p; a++)
			if (s->cross[a * (p + 1) + a] != 0.0)
				return "statistics without rows must be zero";
	for (a = 0; a <= p; a++)
		if (s->sum[a] * s->sum[a] > s->n * s->cross[a * (p + 1) + a] * (1.0 + 1e-9) + 1e-300)
			return "sums are not those of real data";
	return NULL;
}

/*
 * Read the levels of term t (with their keys into keys unless keys is NULL;
 * version 1 keys are text, without a NUL byte); checked.
 */
static const char *
unpack_levels(LmmReader *r, LmmTermStats *s, int t, LmmTermsKeys *keys,
			  int version)
{
	LmmTermLevels *lv = &s->term[t];
	int			q = lv->q;
	uint64_t	nlevels;
	uint64_t	j;
	int64_t		at;
	uint32_t	packing = 0;
	uint32_t	repeats = s->p < 1 ? PACK_ALL & ~PACK_ZX0_ZERO : PACK_ALL;
	size_t		nrec;

	if (keys != NULL)
	{
		keys->type = version == 1 ? lmm_alloc(5) : lmm_get_str(r);
		if (version == 1)
			memcpy(keys->type, "text", 5);
	}
	if (version > 1)
		packing = lmm_get_u32(r);
	nlevels = lmm_get_u64(r);
	if (r->failed)
		return "the statistics are truncated";
	if (packing & ~PACK_ALL || ((packing & PACK_ZX0_ZERO) && s->p < 1))
		return "unknown packing of level records";
	nrec = packed_doubles(s->p, q, packing);
	/* each level takes at least its key length word and its record */
	if (nlevels > lmm_left(r) / ((keys ? 4 : 0) + 8 * nrec))
		return "the statistics claim more levels than they hold";
	if ((double) nlevels > s->n)
		return "a term has more levels than rows";
	if (keys != NULL)
	{
		keys->data = lmm_alloc(sizeof(unsigned char *) * (nlevels + 1));
		keys->len = lmm_alloc(sizeof(uint32_t) * (nlevels + 1));
	}
	/* room for them all at once: the bytes bound their number */
	lmm_terms_reserve_levels(s, t, (int64_t) nlevels);
	for (j = 0; j < nlevels; j++)
	{
		uint32_t	keylen = keys ? lmm_get_u32(r) : 0;
		const unsigned char *key = r->p;
		double	   *rec;

		if (r->failed || keylen > lmm_left(r) ||
			nrec > (lmm_left(r) - keylen) / 8)
			return "the statistics are truncated";
		if (version == 1 && memchr(key, '\0', keylen) != NULL)
			return "a level key holds a NUL byte";
		if ((j & 4095) == 0 && lmm_interrupt_pending())
			return "interrupted";
		if (keys != NULL)
		{
			keys->data[j] = key;
			keys->len[j] = keylen;
		}
		r->p += keylen;
		at = lmm_terms_add_level(s, t);
		rec = lv->rec + (size_t) at * lv->stride;
		r->p = get_record(r->p, rec, s->p, q, packing);
		if (!all_finite(rec, lv->stride))
			return "level sums must be finite numbers";
		if (!gram_valid(LMM_TREC_ZZ(rec, q), q, q))
			return "level cross-products are not those of real data";
		repeats &= record_packing(rec, s->p, q);
	}
	/* one value, one binary form: the packing is all that the records allow */
	if (version > 1 && repeats != packing)
		return "the level records are not packed as lmm packs them";
	return NULL;
}

/* Read the pair blocks of the pair at index k, terms t < u; checked. */
static const char *
unpack_pairs(LmmReader *r, LmmTermStats *s, int k)
{
	LmmTermPair *pr = &s->pair[k];
	uint64_t	nt = (uint64_t) s->term[pr->t].nlevels;
	uint64_t	nu = (uint64_t) s->term[pr->u].nlevels;
	uint64_t	npairs = lmm_get_u64(r);
	uint64_t	m;

	if (r->failed)
		return "the statistics are truncated";
	if (npairs > lmm_left(r) / (16 + 8 * (size_t) pr->bsize))
		return "the statistics claim more level pairs than they hold";
	if ((double) npairs > s->n)
		return "a pair of terms has more level pairs than rows";
	for (m = 0; m < npairs; m++)
	{
		uint64_t	jt = lmm_get_u64(r);
		uint64_t	ju = lmm_get_u64(r);
		double	   *blk;
		int			i;

		if (jt >= nt || ju >= nu)
			return "a level pair names a level that does not exist";
		if ((m & 4095) == 0 && lmm_interrupt_pending())
			return "interrupted";
		if (lmm_terms_pair_block(pr, (int64_t) jt, (int64_t) ju) != (int64_t) m)
			return "a level pair appears twice";
		blk = pr->blk + (size_t) m * pr->bsize;
		for (i = 0; i < pr->bsize; i++)
			blk[i] = lmm_get_f8(r);
		if (!all_finite(blk, pr->bsize))
			return "level pair sums must be finite numbers";
	}
	return NULL;
}

/*
 * Parse len bytes into s and meta, checking every size against the bytes
 * left before allocating and every value after reading; returns NULL on
 * success or a description of the problem ("interrupted" when the host
 * asked to stop).  Whatever the outcome, release with lmm_terms_free and
 * lmm_terms_meta_free.
 */
const char *
lmm_terms_unpack(const unsigned char *buf, size_t len, LmmTermStats *s,
				 LmmTermsMeta *meta)
{
	LmmReader	r = {buf, buf + len, 0};
	uint64_t	n_rows,
				n_dropped;
	uint32_t	version,
				has_options,
				p,
				nterms,
				first;
	int			q[LMM_MAX_TERMS];
	const char *problem;
	int			t;

	memset(s, 0, sizeof(LmmTermStats));
	memset(meta, 0, sizeof(LmmTermsMeta));
	if (lmm_get_u32(&r) != LMM_TERMS_MAGIC)
		return "not statistics of lmm (bad magic number)";
	version = lmm_get_u32(&r);
	if (version != 1 && version != LMM_TERMS_VERSION)
		return "unsupported version of the statistics";
	meta->flags = lmm_get_u32(&r);
	if (meta->flags & ~LMM_TERMS_NO_KEYS || (version == 1 && meta->flags != 0))
		return "unknown flag bits";
	n_rows = lmm_get_u64(&r);
	n_dropped = lmm_get_u64(&r);
	meta->spec = lmm_get_str(&r);
	has_options = lmm_get_u32(&r);
	if (has_options == 1)
		meta->options = lmm_get_str(&r);
	p = lmm_get_u32(&r);
	nterms = lmm_get_u32(&r);
	if (r.failed)
		return "the statistics are truncated";
	if (has_options > 1)
		return "bad options marker";
	if (n_rows > (uint64_t) INT64_MAX || n_dropped > n_rows)
		return "the row counts are inconsistent";
	meta->n_rows = (int64_t) n_rows;
	meta->n_dropped = (int64_t) n_dropped;
	/* p = nterms = 0: statistics of a one-term aggregate that saw no usable row */
	if (!(p == 0 && nterms == 0 && version > 1) &&
		(p < 1 || p > LMM_MAX_COLUMNS || nterms < 1 || nterms > LMM_MAX_TERMS))
		return "number of fixed-effect columns or of terms out of range";
	for (t = 0; t < (int) nterms; t++)
	{
		uint32_t	qt = lmm_get_u32(&r);

		if (qt < 1 || qt > LMM_MAX_RANDOM)
			return r.failed ? "the statistics are truncated" :
				"number of random-effect columns out of range";
		q[t] = (int) qt;
	}
	first = lmm_get_u32(&r);
	if (r.failed)
		return "the statistics are truncated";
	if (first > 1)
		return "bad intercept marker";
	lmm_terms_init(s, (int) p, (int) nterms, q);
	s->first_is_one = (int) first;
	if ((problem = unpack_overall(&r, s, meta)) != NULL)
		return problem;
	/* statistics without terms saw no usable row: nothing but zeros */
	if (s->nterms == 0 &&
		(s->n != 0.0 || s->shift[0] != 0.0 || s->sum[0] != 0.0 || s->cross[0] != 0.0))
		return "statistics without terms must be zero";
	for (t = 0; t < s->nterms; t++)
		if ((problem = unpack_levels(&r, s, t,
									 (meta->flags & LMM_TERMS_NO_KEYS) ? NULL : &meta->keys[t],
									 (int) version)) != NULL)
			return problem;
	for (t = 0; t < s->nterms * (s->nterms - 1) / 2; t++)
		if ((problem = unpack_pairs(&r, s, t)) != NULL)
			return problem;
	if (r.failed)
		return "the statistics are truncated";
	if (r.p != r.end)
		return "the statistics have trailing bytes";
	return NULL;
}

/* Release the strings and key arrays of meta (any may be NULL). */
void
lmm_terms_meta_free(LmmTermsMeta *meta)
{
	int			t;

	lmm_free(meta->spec);
	lmm_free(meta->options);
	for (t = 0; t < LMM_MAX_TERMS; t++)
	{
		lmm_free(meta->keys[t].type);
		lmm_free(meta->keys[t].data);
		lmm_free(meta->keys[t].len);
	}
	memset(meta, 0, sizeof(LmmTermsMeta));
}
