/*
 * lmm_rows.h
 *	  The rows of a generalized linear mixed model, kept for its fit.
 *
 * A GLMM's working statistics depend on beta and the random effects through
 * the link, so one pass of sums cannot summarize it (docs/math.md, "Why a
 * GLMM keeps its rows"); its aggregate keeps each row compactly instead and
 * the fit makes its passes over them.  A row is the fixed-effects row x
 * (p entries), the response y (a proportion for the binomial family), the
 * prior weight (the number of trials for a proportion), the offset, for
 * every term the number of its level and, unless the term is an intercept
 * only, its z values.  Weights and offsets take no space until a row has
 * one other than 1 and 0.  Levels are numbered in the order they are added,
 * as in lmm_terms.h; the host keeps their keys.
 */
#ifndef LMM_ROWS_H
#define LMM_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "lmm_limits.h"

/* Most levels a term of kept rows may have: level numbers are int32. */
#define LMM_ROWS_MAX_LEVELS 2147483647

typedef struct LmmRows
{
	int			p;
	int			nterms;
	int			q[LMM_MAX_TERMS];
	int			ones[LMM_MAX_TERMS];	/* the term's z is the constant 1 (not stored) */
	int			zoff[LMM_MAX_TERMS];	/* its first stored z column */
	int			nz;				/* z values stored per row */
	int64_t		nlevels[LMM_MAX_TERMS];
	int64_t		n;
	int64_t		capacity;
	double	   *x;				/* n * p */
	double	   *y;				/* n */
	double	   *wt;				/* n prior weights, or NULL while all are 1 */
	double	   *off;			/* n offsets, or NULL while all are 0 */
	int32_t    *lev;			/* n * nterms */
	double	   *z;				/* n * nz, or NULL when nz = 0 */
	int			grouped;		/* rows are in order of the first term's level */
} LmmRows;

extern void lmm_rows_init(LmmRows *r, int p, int nterms, const int *q,
						  const int *ones);
extern void lmm_rows_free(LmmRows *r);
extern void lmm_rows_add(LmmRows *r, const double *x, double y, double wt,
						 double off, const int64_t *level, const double *z);
extern void lmm_rows_merge(LmmRows *r, const LmmRows *other,
						   int64_t *const *map);
extern void lmm_rows_sorted(LmmRows *r, const LmmRows *src,
							int64_t *const *map);
extern size_t lmm_rows_bytes_per_row(const LmmRows *r);

#endif							/* LMM_ROWS_H */
