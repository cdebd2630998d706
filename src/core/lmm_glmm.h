/*
 * lmm_glmm.h
 *	  Generalized linear mixed models (binomial, Poisson) by the Laplace
 *	  approximation or adaptive Gauss-Hermite quadrature, as lme4's glmer,
 *	  from kept rows (lmm_rows.h), on the one blocked engine: each PIRLS
 *	  step hands the engine the rows' weighted statistics.
 */
#ifndef LMM_GLMM_H
#define LMM_GLMM_H

#include "lmm_fit.h"
#include "lmm_rows.h"
#include "lmm_threads.h"

typedef enum LmmFamily
{
	LMM_FAMILY_GAUSSIAN = 0,
	LMM_FAMILY_BINOMIAL,
	LMM_FAMILY_POISSON
} LmmFamily;

typedef enum LmmLink
{
	LMM_LINK_IDENTITY = 0,
	LMM_LINK_LOGIT,
	LMM_LINK_PROBIT,
	LMM_LINK_CLOGLOG,
	LMM_LINK_LOG
} LmmLink;

/* Most quadrature nodes (glmer's limit). */
#define LMM_MAX_NAGQ 25

/* The residuals lme4's residuals() offers for a GLMM. */
typedef enum LmmResidType
{
	LMM_RESID_RESPONSE = 0,
	LMM_RESID_PEARSON,
	LMM_RESID_DEVIANCE
} LmmResidType;

/*
 * How to fit: nagq = 0 is glmer's first stage only (beta from PIRLS),
 * 1 the Laplace approximation, > 1 adaptive quadrature with that many
 * nodes (one scalar term only); threads > 1 splits a one-term model's
 * levels between that many threads (the host's parallel workers' share).
 */
typedef struct LmmGlmmSpec
{
	LmmFamily	family;
	LmmLink		link;
	int			nagq;
	int			threads;		/* for a model of one term: the levels in this many threads */
} LmmGlmmSpec;

extern double lmm_link_inverse(LmmLink link, double eta);
extern double lmm_glmm_residual(LmmFamily family, LmmResidType type, double y,
								double mu, double wt);
extern LmmStatus lmm_glmm_fit(const LmmRows *r, const LmmGlmmSpec *spec,
							  LmmFit *fit);

#endif							/* LMM_GLMM_H */
