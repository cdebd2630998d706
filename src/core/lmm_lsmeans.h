/*
 * lmm_lsmeans.h
 *	  lmerTest's least-squares means (ls_means): for a term of factors, the
 *	  contrast of each of its cells, averaged over a balanced grid of the
 *	  other factors' levels with every numeric covariate at its mean, in
 *	  the columns of X (treatment contrasts, as the design describes them).
 */
#ifndef LMM_LSMEANS_H
#define LMM_LSMEANS_H

#include "lmm_anova.h"

extern double lmm_lsmeans_ncells(const LmmAnovaDesign *d, int t);
extern int	lmm_lsmeans_var_means(const LmmAnovaDesign *d, int nvars,
								  const double *colmean, double *mean);
extern void lmm_lsmeans_cells(const LmmAnovaDesign *d, int t,
							  const double *mean, double *L);

#endif							/* LMM_LSMEANS_H */
