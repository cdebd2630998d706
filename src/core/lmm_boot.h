/*
 * lmm_boot.h
 *	  Parametric bootstrap of a fitted model from its statistics (lme4's
 *	  bootMer and confint(method = "boot")): each replicate's response is
 *	  drawn as its statistics, never as rows (docs/math.md, "The parametric
 *	  bootstrap from the statistics"), refitted, and the replicates'
 *	  percentile intervals formed as the boot package forms them.
 */
#ifndef LMM_BOOT_H
#define LMM_BOOT_H

#include <stdint.h>

#include "lmm_fit.h"
#include "lmm_terms.h"

/* xoshiro256** state, with the second normal of the last polar pair. */
typedef struct LmmRng
{
	uint64_t	s[4];
	int			has_spare;
	double		spare;
} LmmRng;

extern void lmm_rng_seed(LmmRng *r, uint64_t seed);
extern uint64_t lmm_rng_next(LmmRng *r);
extern double lmm_rng_uniform(LmmRng *r);
extern double lmm_rng_normal(LmmRng *r);
extern double lmm_rng_chisq(LmmRng *r, double df);

/*
 * What drawing a replicate's statistics needs, made once per model: the
 * generating parameters and a factor F of G = [Z X1]'[Z X1] (X1: the x
 * columns about the statistics' shift, then a column of ones), blocked as
 * the fit blocks Z: the term with most levels level by level, the rest
 * (the "dense part", other terms' levels, x, ones) as one dense Schur
 * complement.  Internal layout: see lmm_boot.c.
 */
typedef struct LmmBootPlan
{
	int			p;
	int			k;
	int			b0;				/* the statistics' term factored level by level */
	int			order[LMM_MAX_TERMS];	/* the terms in column order, b0 first */
	int64_t		off[LMM_MAX_TERMS]; /* each term's first column, by statistics' term */
	int64_t		xo;				/* first x column; the ones column is xo + p */
	int64_t		N;				/* columns of G */
	int64_t		m;				/* columns of the dense part: N - J_b0 q_b0 */
	double		sigma;
	double	   *T[LMM_MAX_TERMS];	/* by statistics' term: q x q, row-major */
	double	   *gamma;			/* N: (b, beta, c_x'beta - c_y); b redrawn */
	/* the block term's levels: G_jj = F_j F_j', F_j from a pivoted Cholesky */
	int		   *rank0;			/* J_b0 */
	double	   *L0;				/* J_b0 q^2: each level's factor, column-major */
	int		   *piv0;			/* J_b0 q */
	double	   *scale0;			/* J_b0 q */
	/* R_j = F_j^+ G_j,dense, sparse by level: columns and rank x ncols values */
	int64_t    *rptr;			/* J_b0 + 1: first column entry of each level */
	int64_t    *rcol;			/* dense column (0 .. m) */
	int64_t    *rvoff;			/* J_b0: first value of each level */
	double	   *rval;
	/* the dense part's Schur complement S = F_S F_S' */
	double	   *LS;				/* m x m, column-major */
	int		   *pivS;			/* m */
	double	   *scaleS;			/* m */
	int			rankS;
	double		chi_df;			/* n - rank G */
	/* per-replicate scratch */
	double	   *g;				/* N */
	double	   *w;				/* N */
	double	   *v;				/* max(m, q) */
} LmmBootPlan;

/* The result of lmm_boot_run: per parameter in lme4's order (as LmmProfile). */
typedef struct LmmBoot
{
	int			npar;			/* ntheta + 1 + p */
	int			nsim;
	int			nok;			/* replicates refitted */
	int			nfailed;		/* replicates whose refit failed or did not converge */
	double	   *estimate;		/* npar: the generating model's */
	double	   *rep;			/* nok x npar: the replicates' estimates */
	double	   *lower;			/* npar: percentile interval */
	double	   *upper;
} LmmBoot;

extern LmmStatus lmm_boot_plan(const LmmTermStats *s, const double *theta,
							   const double *beta, double sigma,
							   LmmBootPlan *plan);
extern void lmm_boot_simulate(LmmBootPlan *plan, const LmmTermStats *s,
							  LmmRng *rng, LmmTermStats *out);
extern void lmm_boot_plan_free(LmmBootPlan *plan);
extern void lmm_boot_stats_copy(const LmmTermStats *s, LmmTermStats *copy);
extern LmmStatus lmm_boot_run(const LmmTermStats *s, int reml,
							   const double *theta, const double *beta,
							   double sigma, int nsim, uint64_t seed,
							   double level, LmmBoot *out);
extern void lmm_percentile_interval(double *t, int n, double level,
									double *lower, double *upper);
extern void lmm_boot_free(LmmBoot *b);

#endif							/* LMM_BOOT_H */
