/*
 * lmm_infer.h
 *	  Inference on a fitted model: Satterthwaite degrees of freedom for
 *	  contrasts of the fixed effects (lmerTest) and likelihood-profile
 *	  confidence intervals (lme4's confint(method = "profile")).
 */
#ifndef LMM_INFER_H
#define LMM_INFER_H

#include "lmm_fit.h"
#include "lmm_limits.h"
#include "lmm_terms.h"

/* Most variance parameters (theta and sigma) a model has. */
#define LMM_MAX_INF (LMM_MAX_RANDOM * (LMM_MAX_RANDOM + 1) / 2 + 1)

extern double lmm_satterthwaite_df(int ninf, int p, const double *vcov_varpar,
								   const double *jac, const double *vcov,
								   const double *L);
extern void lmm_scale_rows(int nrow, int p, const double *L, double *Ls);
extern int	lmm_contrast_ftest(int p, const double *beta, const double *vcov,
							   int ninf, const double *vcov_varpar,
							   const double *jac, int nrow, const double *L,
							   double *f, double *ddf);

/*
 * Profile intervals for every parameter in lme4's order: the standard
 * deviations and correlations of the random effects (theta's order), sigma,
 * then the fixed effects.  The profile is of the ML deviance (a REML model
 * is refitted by ML first, as lme4 does); estimate holds the ML values.
 * An end the profile never reaches within a parameter's bounds is that
 * bound (0 for a standard deviation, -1 or 1 for a correlation).
 */
typedef struct LmmProfile
{
	int			npar;			/* ntheta + 1 + p */
	double	   *estimate;
	double	   *lower;
	double	   *upper;
	double		deviance;		/* ML deviance at the optimum */
} LmmProfile;

extern LmmStatus lmm_profile(const LmmTermStats *s, double level,
							 LmmProfile *prof);
extern void lmm_profile_free(LmmProfile *prof);
extern void lmm_theta_to_sdcor(int q, const double *theta, double sigma,
							   double *sdcor);

#endif							/* LMM_INFER_H */
