/*
 * lmm_stats.h
 *	  The one-term statistics of lmm 0.6 ("LMMs" values and the statistics
 *	  of version 2 and 3 models), which lmm now only reads: they are
 *	  converted on loading to the statistics of every model (lmm_terms.h).
 *
 * A row contributes the vector v = (z_1..z_{q-1}, x_1..x_{p-1}, y) of
 * d = p + q - 1 numbers (the intercept columns of X and Z are implied).
 * For every level of the grouping factor we keep n_j, the level means of v
 * and the centred co-moments of the z entries against all of v (Welford's
 * update; Chan et al.'s formula merges two partial states exactly).  Over
 * all rows we keep n, the means of the x and y entries and their centred
 * co-moment matrix.  Cross-products about any centre follow exactly from
 * these (see lmm_system.c), so adding a constant to y or to an x column costs
 * no accuracy.
 */
#ifndef LMM_STATS_H
#define LMM_STATS_H

#include <stdint.h>

#include "lmm_limits.h"

typedef struct LmmStats
{
	int			p;				/* fixed-effect columns, intercept included */
	int			q;				/* random-effect columns, intercept included */
	int			d;				/* entries of v per row: p + q - 1 */
	int			stride;			/* doubles per level record: 1 + q * d */
	double		n;				/* rows over all levels */
	double	   *mean;			/* p: overall means of x_1..x_{p-1}, y */
	double	   *comom;			/* p * p: overall centred co-moments (upper
								 * triangle used) */
	int64_t		nlevels;		/* levels seen */
	int64_t		capacity;		/* level records allocated */
	double	   *level;			/* nlevels records of stride doubles */
} LmmStats;

/*
 * A level record, at level + j * stride:
 *	 [0]				n_j
 *	 [1 .. d]			means of v within the level
 *	 [1 + d ..]			(q - 1) rows of d co-moments: z_a against every v_k
 */
#define LMM_LEVEL_N(rec)		((rec)[0])
#define LMM_LEVEL_MEAN(rec)		((rec) + 1)
#define LMM_LEVEL_COMOM(rec, d)	((rec) + 1 + (d))

extern void lmm_stats_init(LmmStats *s, int p, int q);
extern void lmm_stats_free(LmmStats *s);

#endif							/* LMM_STATS_H */
