/*
 * lmm_terms.c
 *	  Row updates and exact merges of the statistics of a model
 *	  (lmm_terms.h): level records, sparse pair blocks, shifts.
 */
#include "lmm_terms.h"

#include <string.h>

#include "lmm_host.h"
#include "lmm_threads.h"

/* splitmix64's finalizer: the hash of a pair of level numbers. */
static uint64_t
pair_hash(int64_t jt, int64_t ju)
{
	uint64_t	h = (uint64_t) jt * 0x9E3779B97F4A7C15ULL ^ (uint64_t) ju;

	h ^= h >> 30;
	h *= 0xBF58476D1CE4E5B9ULL;
	h ^= h >> 27;
	h *= 0x94D049BB133111EBULL;
	h ^= h >> 31;
	return h;
}

/* Rebuild an index of nslots slots over n entries whose hashes hash_of gives. */
static void
slots_rebuild(LmmSlots *ix, int64_t nslots, int64_t n,
			  uint64_t (*hash_of) (const void *, int64_t), const void *arg)
{
	int64_t		i;

	lmm_free(ix->slot);
	ix->nslots = nslots;
	ix->slot = lmm_alloc0(sizeof(int64_t) * (size_t) nslots);
	for (i = 0; i < n; i++)
	{
		uint64_t	at = hash_of(arg, i) & (uint64_t) (nslots - 1);

		while (ix->slot[at] != 0)
			at = (at + 1) & (uint64_t) (nslots - 1);
		ix->slot[at] = i + 1;
	}
}

/* The hash of pair i (for slots_rebuild). */
static uint64_t
pair_hash_of(const void *arg, int64_t i)
{
	const LmmTermPair *pr = arg;

	return pair_hash(pr->jt[i], pr->ju[i]);
}

/* Set up empty statistics for p fixed columns and nterms terms of q[t] columns. */
void
lmm_terms_init(LmmTermStats *s, int p, int nterms, const int *q)
{
	int			t,
				u;

	memset(s, 0, sizeof(LmmTermStats));
	s->p = p;
	s->nterms = nterms;
	s->first_is_one = 1;
	s->shift = lmm_alloc0(sizeof(double) * (p + 1));
	s->sum = lmm_alloc0(sizeof(double) * (p + 1));
	s->cross = lmm_alloc0(sizeof(double) * (p + 1) * (p + 1));
	for (t = 0; t < nterms; t++)
	{
		s->term[t].q = q[t];
		s->term[t].stride = q[t] * (2 + q[t] + p);
	}
	s->pair = lmm_alloc0(sizeof(LmmTermPair) * (nterms * (nterms - 1) / 2 + 1));
	for (t = 0; t < nterms; t++)
		for (u = t + 1; u < nterms; u++)
		{
			LmmTermPair *pr = &s->pair[LMM_PAIR_INDEX(nterms, t, u)];

			pr->t = t;
			pr->u = u;
			pr->bsize = q[t] * q[u];
		}
}

/*
 * The fit's order of the statistics' terms, lme4's: src[t] is the term at
 * position t, by decreasing levels, ties in the statistics' order.
 */
void
lmm_terms_order(const LmmTermStats *s, int *src)
{
	int			t,
				u;

	for (t = 0; t < s->nterms; t++)
		src[t] = t;
	for (t = 1; t < s->nterms; t++)
		for (u = t; u > 0 && s->term[src[u]].nlevels > s->term[src[u - 1]].nlevels; u--)
		{
			int			keep = src[u];

			src[u] = src[u - 1];
			src[u - 1] = keep;
		}
}

/* Release everything the statistics hold. */
void
lmm_terms_free(LmmTermStats *s)
{
	int			t;

	for (t = 0; t < s->nterms; t++)
		lmm_free(s->term[t].rec);
	for (t = 0; t < s->nterms * (s->nterms - 1) / 2; t++)
	{
		lmm_free(s->pair[t].jt);
		lmm_free(s->pair[t].ju);
		lmm_free(s->pair[t].index.slot);
		lmm_free(s->pair[t].blk);
	}
	lmm_free(s->pair);
	lmm_free(s->shift);
	lmm_free(s->sum);
	lmm_free(s->cross);
	memset(s, 0, sizeof(LmmTermStats));
}

/* Next capacity of a growing array: 64, then doubling. */
static int64_t
grow(int64_t capacity)
{
	return capacity == 0 ? 64 : capacity * 2;
}

/* Room for n levels of term t in one allocation (a merge knows how many may come). */
void
lmm_terms_reserve_levels(LmmTermStats *s, int t, int64_t n)
{
	LmmTermLevels *lv = &s->term[t];

	if (n > lv->capacity)
	{
		size_t		had = sizeof(double) * (size_t) lv->stride * (size_t) lv->capacity;
		size_t		want = sizeof(double) * (size_t) lv->stride * (size_t) n;

		lv->rec = lmm_realloc(lv->rec, want);
		lv->capacity = n;
		lmm_advise_huge(lv->rec, want);
		/* the new records only: the old ones hold levels */
		lmm_first_touch((char *) lv->rec + had, want - had);
	}
}

/* Append a level with zero statistics to term t; returns its number. */
int64_t
lmm_terms_add_level(LmmTermStats *s, int t)
{
	LmmTermLevels *lv = &s->term[t];

	if (lv->nlevels == lv->capacity)
	{
		int64_t		cap = grow(lv->capacity);

		lv->rec = lmm_realloc(lv->rec, sizeof(double) * (size_t) lv->stride * (size_t) cap);
		lv->capacity = cap;
		lmm_advise_huge(lv->rec, sizeof(double) * (size_t) lv->stride * (size_t) cap);
	}
	memset(lv->rec + (size_t) lv->nlevels * lv->stride, 0, sizeof(double) * lv->stride);
	return lv->nlevels++;
}

/* The block of the pair of levels (jt, ju), added as zeros when new. */
int64_t
lmm_terms_pair_block(LmmTermPair *pr, int64_t jt, int64_t ju)
{
	uint64_t	h = pair_hash(jt, ju);
	uint64_t	mask;
	uint64_t	at;
	int64_t		i;

	if (2 * (pr->npairs + 1) > pr->index.nslots)
		slots_rebuild(&pr->index, pr->index.nslots == 0 ? 128 : 2 * pr->index.nslots,
					  pr->npairs, pair_hash_of, pr);
	mask = (uint64_t) pr->index.nslots - 1;
	for (at = h & mask; pr->index.slot[at] != 0; at = (at + 1) & mask)
	{
		i = pr->index.slot[at] - 1;
		if (pr->jt[i] == jt && pr->ju[i] == ju)
			return i;
	}
	if (pr->npairs == pr->capacity)
	{
		int64_t		cap = grow(pr->capacity);

		pr->jt = lmm_realloc(pr->jt, sizeof(int64_t) * (size_t) cap);
		pr->ju = lmm_realloc(pr->ju, sizeof(int64_t) * (size_t) cap);
		pr->blk = lmm_realloc(pr->blk, sizeof(double) * (size_t) pr->bsize * (size_t) cap);
		pr->capacity = cap;
	}
	i = pr->npairs++;
	pr->jt[i] = jt;
	pr->ju[i] = ju;
	memset(pr->blk + (size_t) i * pr->bsize, 0, sizeof(double) * pr->bsize);
	pr->index.slot[at] = i + 1;
	return i;
}

/*
 * The overall sums of one row, v = (x - c, y - c_y): sum += v and the upper
 * triangle of cross += v v', over v's entries from a0 on (cross's rows n1
 * apart).  Inlined with p and a0 constant (add_row_fixed), every loop
 * unrolls: no loop control is left per row.
 */
static inline __attribute__((always_inline)) void
add_moments(LmmTermStats *s, const double *restrict v, int p, int a0)
{
	int			n1 = p + 1;
	double	   *restrict cross = s->cross;
	double	   *restrict sum = s->sum;
	int			a,
				b;

	s->n += 1.0;
#pragma GCC unroll 8
	for (a = a0; a <= p; a++)
	{
		double		va = v[a];

		sum[a] += va;
#pragma GCC unroll 8
		for (b = a; b <= p; b++)
			cross[a * n1 + b] += va * v[b];
	}
}

/*
 * One term of one or two columns (a random intercept, or an intercept and
 * a slope: lmm_fit's commonest models), for p and a0 known at the call:
 * the row's v from x and y, its overall sums, and its level's record (sum
 * z, sum z z', then sum z (x - c) and sum z (y - c_y) side by side, so
 * that one loop adds both).  Writes what the general loop of
 * lmm_terms_add_row writes.
 */
static inline __attribute__((always_inline)) void
add_row_fixed(LmmTermStats *s, const double *x, double y, int64_t level,
			  const double *z, int q, int p, int a0)
{
	double		v[LMM_MAX_COLUMNS + 1];
	double	   *restrict rec = s->term[0].rec + (size_t) level * s->term[0].stride;
	int			b;

	v[0] = 0.0;
#pragma GCC unroll 8
	for (b = a0; b < p; b++)
		v[b] = x[b] - s->shift[b];
	v[p] = y - s->shift[p];
	add_moments(s, v, p, a0);
	if (q == 1)
	{
		double		za = z[0];

		rec[0] += za;
		rec[1] += za * za;
#pragma GCC unroll 8
		for (b = a0; b <= p; b++)
			rec[2 + b] += za * v[b];
	}
	else
	{
		double	   *restrict zx0 = rec + 6;
		double	   *restrict zx1 = rec + 6 + p;
		double		z0 = z[0],
					z1 = z[1];

		rec[0] += z0;
		rec[1] += z1;
		rec[2] += z0 * z0;
		rec[3] += z0 * z1;
		rec[4] += z1 * z0;
		rec[5] += z1 * z1;
#pragma GCC unroll 8
		for (b = a0; b < p; b++)
		{
			zx0[b] += z0 * v[b];
			zx1[b] += z1 * v[b];
		}
		rec[6 + 2 * p] += z0 * v[p];
		rec[7 + 2 * p] += z1 * v[p];
	}
}

/* add_row_fixed's instances for p = P, with and without the intercept's skip */
#define ADD_ROW_CASES(P) \
	case 4 * (P): add_row_fixed(s, x, y, level[0], z, 1, (P), 0); return; \
	case 4 * (P) + 1: add_row_fixed(s, x, y, level[0], z, 1, (P), 1); return; \
	case 4 * (P) + 2: add_row_fixed(s, x, y, level[0], z, 2, (P), 0); return; \
	case 4 * (P) + 3: add_row_fixed(s, x, y, level[0], z, 2, (P), 1); return;

/*
 * Add one row: x (p), y, the number of its level in each term, and the
 * terms' z values one after another.  While x_0 is 1 and the shift's x_0
 * is 1 (an intercept), x_0 - c_0 is exactly 0 and its sums are left alone:
 * they stay exactly what adding it would make them.
 */
void
lmm_terms_add_row(LmmTermStats *s, const double *x, double y,
				  const int64_t *level, const double *z)
{
	int			p = s->p;
	int			k = s->nterms;
	double		v[LMM_MAX_COLUMNS + 1];
	const double *zt[LMM_MAX_TERMS];
	int			a0,
				a,
				b,
				t,
				u;

	if (s->n == 0.0)
	{
		memcpy(s->shift, x, sizeof(double) * p);
		s->shift[p] = y;
	}
	if (p > 0 && x[0] != 1.0)
		s->first_is_one = 0;
	a0 = (p > 0 && x[0] == 1.0 && s->shift[0] == 1.0) ? 1 : 0;

	/* one term of one or two columns, p up to 7: unrolled */
	if (k == 1 && s->term[0].q <= 2)
	{
		switch (4 * p + 2 * (s->term[0].q - 1) + a0)
		{
				ADD_ROW_CASES(1)
				ADD_ROW_CASES(2)
				ADD_ROW_CASES(3)
				ADD_ROW_CASES(4)
				ADD_ROW_CASES(5)
				ADD_ROW_CASES(6)
				ADD_ROW_CASES(7)
			default:
				add_row_fixed(s, x, y, level[0], z, s->term[0].q, p, a0);
				return;
		}
	}

	v[0] = 0.0;
	for (a = a0; a < p; a++)
		v[a] = x[a] - s->shift[a];
	v[p] = y - s->shift[p];
	add_moments(s, v, p, a0);

	for (t = 0; t < k; t++)
	{
		LmmTermLevels *lv = &s->term[t];
		int			q = lv->q;
		double	   *restrict rec = lv->rec + (size_t) level[t] * lv->stride;
		double	   *restrict zz = LMM_TREC_ZZ(rec, q);

		zt[t] = z;
		for (a = 0; a < q; a++)
		{
			double		za = z[a];
			double	   *restrict zx = LMM_TREC_ZX(rec, q) + a * p;

			rec[a] += za;
			for (b = 0; b < q; b++)
				zz[a * q + b] += za * z[b];
			for (b = a0; b < p; b++)
				zx[b] += za * v[b];
			LMM_TREC_ZY(rec, q, p)[a] += za * v[p];
		}
		z += q;
	}

	for (t = 0; t < k; t++)
		for (u = t + 1; u < k; u++)
		{
			LmmTermPair *pr = &s->pair[LMM_PAIR_INDEX(k, t, u)];
			int			qt = s->term[t].q;
			int			qu = s->term[u].q;
			int64_t		at = lmm_terms_pair_block(pr, level[t], level[u]);
			double	   *blk = pr->blk + (size_t) pr->bsize * at;

			for (a = 0; a < qt; a++)
				for (b = 0; b < qu; b++)
					blk[a * qu + b] += zt[t][a] * zt[u][b];
		}
}

/*
 * Add another state's statistics to ours (same p, terms and q): its level j
 * of term t is our level map[t][j] (which the host found or added by key),
 * its pair blocks go to their levels' new numbers, its x and y sums move to
 * our shift on the way.
 */
void
lmm_terms_merge(LmmTermStats *s, const LmmTermStats *other,
				int64_t *const *map)
{
	int			p = s->p;
	int			n1 = p + 1;
	int			k = s->nterms;
	double		d[LMM_MAX_COLUMNS + 1];
	int			a,
				b,
				t,
				u,
				i;
	int64_t		j;

	if (other->n == 0.0)
		return;
	if (s->n == 0.0)
		memcpy(s->shift, other->shift, sizeof(double) * n1);
	if (!other->first_is_one)
		s->first_is_one = 0;

	/* other's v - c_o, plus d = c_o - c, is v - c */
	for (a = 0; a < n1; a++)
		d[a] = other->shift[a] - s->shift[a];
	for (a = 0; a < n1; a++)
		for (b = a; b < n1; b++)
			s->cross[a * n1 + b] += other->cross[a * n1 + b] +
				d[a] * other->sum[b] + other->sum[a] * d[b] +
				other->n * d[a] * d[b];
	for (a = 0; a < n1; a++)
		s->sum[a] += other->sum[a] + other->n * d[a];
	s->n += other->n;

	for (t = 0; t < k; t++)
	{
		const LmmTermLevels *ol = &other->term[t];
		LmmTermLevels *lv = &s->term[t];
		int			q = lv->q;

		for (j = 0; j < ol->nlevels; j++)
		{
			const double *orec = ol->rec + (size_t) j * lv->stride;
			double	   *rec = lv->rec + (size_t) map[t][j] * lv->stride;

			for (i = 0; i < lv->stride; i++)
				rec[i] += orec[i];
			for (a = 0; a < q; a++)
			{
				double		sz = LMM_TREC_SZ(orec)[a];

				for (b = 0; b < p; b++)
					LMM_TREC_ZX(rec, q)[a * p + b] += sz * d[b];
				LMM_TREC_ZY(rec, q, p)[a] += sz * d[p];
			}
		}
	}

	for (t = 0; t < k; t++)
		for (u = t + 1; u < k; u++)
		{
			const LmmTermPair *op = &other->pair[LMM_PAIR_INDEX(k, t, u)];
			LmmTermPair *pr = &s->pair[LMM_PAIR_INDEX(k, t, u)];
			int64_t		m;

			for (m = 0; m < op->npairs; m++)
			{
				int64_t		at = lmm_terms_pair_block(pr, map[t][op->jt[m]],
												  map[u][op->ju[m]]);
				double	   *blk = pr->blk + (size_t) pr->bsize * at;

				for (i = 0; i < pr->bsize; i++)
					blk[i] += op->blk[(size_t) m * pr->bsize + i];
			}
		}
}
