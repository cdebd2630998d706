/*
 * lmm_kr.h
 *	  Kenward and Roger's (1997) small-sample inference for the fixed
 *	  effects of a REML fit, as pbkrtest computes it: the adjusted
 *	  covariance of beta (vcovAdj), the df of a contrast (Lb_ddf) and the
 *	  scaled F test of several (KRmodcomp), from the model's statistics
 *	  (lmm_terms.h), never its rows.
 *
 * pbkrtest writes the covariance of y as Sigma = sum_i gamma_i G_i: for
 * every random-effects term and every entry (a, b), a >= b, of its q x q
 * covariance matrix (lower triangle column by column, theta's order) the
 * derivative G_i = Z_t (I (x) (e_a e_b' + e_b e_a')) Z_t' (e_a e_a' on the
 * diagonal), and last sigma^2 with G = I.  docs/math.md derives how every
 * product of Sigma^-1, G_i and X reduces to Z'Z, Z'X and X'X.
 */
#ifndef LMM_KR_H
#define LMM_KR_H

#include <stdint.h>

#include "lmm_terms.h"

/* Most random effects (all terms' levels times their q) of a several-term model: its dense part. */
#define LMM_KR_MAX_DENSE 2000

typedef enum LmmKrStatus
{
	LMM_KR_OK = 0,
	LMM_KR_TOO_MANY,			/* a several-term model above LMM_KR_MAX_DENSE */
	LMM_KR_TOO_WIDE,			/* ngamma^2 p^2 products above 1 GB */
	LMM_KR_DEGENERATE,			/* X'Sigma^-1 X or a factor is not positive definite */
	LMM_KR_INTERRUPTED			/* the host asked us to stop */
} LmmKrStatus;

typedef struct LmmKr
{
	int			p;
	int			ngamma;			/* variance parameters, sigma^2 last */
	int64_t		nre;			/* random effects of the model */
	double	   *phi;			/* p * p: (X' Sigma^-1 X)^-1, vcov(beta) */
	double	   *phia;			/* p * p: pbkrtest's vcovAdj */
	double	   *P;				/* ngamma blocks of p * p: -X'Sigma^-1 G_i Sigma^-1 X */
	double	   *W;				/* ngamma * ngamma: 2 (REML information)^-1 */
} LmmKr;

extern LmmKrStatus lmm_kr(const LmmTermStats *s, const double *theta,
						  double sigma, LmmKr *kr);
extern double lmm_kr_df(const LmmKr *kr, int nrow, const double *L,
						double *fscale);
extern int	lmm_kr_ftest(const LmmKr *kr, const double *beta, int nrow,
						 const double *L, double *fu, double *fscale,
						 double *ddf);
extern void lmm_kr_free(LmmKr *kr);

#endif							/* LMM_KR_H */
