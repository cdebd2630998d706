/*
 * lmm_terms.h
 *	  Streamed, mergeable sufficient statistics for a linear mixed model with
 *	  several random-effects terms (crossed or nested grouping factors).
 *
 * A row brings the fixed-effects row x (p entries, an intercept being a
 * column of ones like any other), the response y, and for every term t the
 * number of its level and its z values (q_t entries, a random intercept
 * being a z of one).  Levels are numbered in the order they are added; the
 * host keeps the keys that name them, in their own type.  With v = (x, y) and a shift c (the first row's v, which
 * keeps the sums of squares about a typical value and so free of
 * cancellation) the statistics are
 *	 overall:		n, sum (v - c), sum (v - c)(v - c)'
 *	 per level j of term t:
 *					sum z, sum z z', sum z (x - c)', sum z (y - c_y)
 *	 per pair of terms t < u, per pair of levels (j, k) met in one row:
 *					sum z_t z_u'		(the sparse Z_t'Z_u of the math doc)
 * Two states with different shifts merge exactly (lmm_terms_merge).  These
 * are the statistics of every model, one term or several: one-term fits
 * are k = 1.
 */
#ifndef LMM_TERMS_H
#define LMM_TERMS_H

#include <stddef.h>
#include <stdint.h>

#include "lmm_limits.h"

/* Open-addressing hash from an entry's hash to its index (plus one; 0 is empty). */
typedef struct LmmSlots
{
	int64_t		nslots;			/* a power of two, or 0 */
	int64_t    *slot;
} LmmSlots;

/* The levels of one term and their statistics. */
typedef struct LmmTermLevels
{
	int			q;				/* z columns of the term */
	int			stride;			/* doubles per level: q (2 + q + p) */
	int64_t		nlevels;
	int64_t		capacity;
	double	   *rec;			/* nlevels records of stride doubles */
} LmmTermLevels;

/*
 * A level record, at rec + j * stride:
 *	 [0 .. q)				sum z
 *	 [q .. q + q^2)			sum z z'
 *	 [.. + q p)				sum z (x - c)'
 *	 [.. + q)				sum z (y - c_y)
 */
#define LMM_TREC_SZ(rec)			(rec)
#define LMM_TREC_ZZ(rec, q)			((rec) + (q))
#define LMM_TREC_ZX(rec, q)			((rec) + (q) + (q) * (q))
#define LMM_TREC_ZY(rec, q, p)		((rec) + (q) + (q) * (q) + (q) * (p))

/* The cross-products of two terms, one block per pair of levels seen together. */
typedef struct LmmTermPair
{
	int			t;
	int			u;
	int			bsize;			/* q_t * q_u */
	int64_t		npairs;
	int64_t		capacity;
	int64_t    *jt;				/* level of term t */
	int64_t    *ju;				/* level of term u */
	LmmSlots	index;
	double	   *blk;			/* npairs blocks of q_t x q_u, row-major */
} LmmTermPair;

typedef struct LmmTermStats
{
	int			p;				/* fixed-effect columns */
	int			nterms;
	int			first_is_one;	/* x_0 has been 1 on every row so far */
	double		n;
	double	   *shift;			/* p + 1: c */
	double	   *sum;			/* p + 1: sum (v - c) */
	double	   *cross;			/* (p + 1)^2: sum (v - c)(v - c)' */
	LmmTermLevels term[LMM_MAX_TERMS];
	LmmTermPair *pair;			/* nterms (nterms - 1) / 2, (0,1), (0,2), ... */
} LmmTermStats;

/* Index of the pair (t, u), t < u, in LmmTermStats.pair. */
#define LMM_PAIR_INDEX(k, t, u) ((t) * (2 * (k) - (t) - 1) / 2 + (u) - (t) - 1)

extern void lmm_terms_init(LmmTermStats *s, int p, int nterms, const int *q);
extern void lmm_terms_free(LmmTermStats *s);
extern void lmm_terms_order(const LmmTermStats *s, int *src);
extern void lmm_terms_reserve_levels(LmmTermStats *s, int t, int64_t n);
extern int64_t lmm_terms_add_level(LmmTermStats *s, int t);
extern int64_t lmm_terms_pair_block(LmmTermPair *pr, int64_t jt, int64_t ju);
extern void lmm_terms_add_row(LmmTermStats *s, const double *x, double y,
							  const int64_t *level, const double *z);
extern void lmm_terms_merge(LmmTermStats *s, const LmmTermStats *other,
							int64_t *const *map);

#endif							/* LMM_TERMS_H */
