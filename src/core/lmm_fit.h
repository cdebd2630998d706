/*
 * lmm_fit.h
 *	  Profiled REML/ML fit of a linear mixed model with k >= 1
 *	  random-effects terms from its sufficient statistics (lmm_terms.h), by
 *	  the one blocked engine (docs/architecture.md).
 *
 * Notation follows Bates et al. (2015) and ../shared/docs/lmm-math.md:
 * T is the q x q lower-triangular relative covariance factor, theta its
 * lower triangle column by column; per level L_j = chol(T'Z_j'Z_jT + I),
 * RZX_j = L_j^-1 T'Z_j'X_j, cu_j = L_j^-1 T'Z_j'y_j; RX'RX = X'X - sum
 * RZX_j'RZX_j; pwrss = y'y - sum |cu_j|^2 - |c_beta|^2.
 */
#ifndef LMM_FIT_H
#define LMM_FIT_H

#include "lmm_terms.h"

typedef enum LmmStatus
{
	LMM_OK = 0,
	LMM_ERR_FEW_GROUPS,			/* fewer than two levels */
	LMM_ERR_LEVELS_GE_NOBS,		/* as many levels as observations */
	LMM_ERR_RE_GE_NOBS,			/* levels * q >= observations */
	LMM_ERR_CONSTANT_Y,			/* the response does not vary */
	LMM_ERR_CONSTANT_X,			/* fixed-effect column bad_column is constant */
	LMM_ERR_COLLINEAR_X,		/* column bad_column depends on earlier ones */
	LMM_ERR_PERFECT_FIT,		/* residual sum of squares is zero */
	LMM_ERR_NONFINITE,			/* a statistic overflowed */
	LMM_ERR_OPTIMIZER,			/* NLopt could not run */
	LMM_ERR_INCONSISTENT,		/* the statistics are not those of real data */
	LMM_ERR_INTERRUPTED,		/* the host asked us to stop */
	LMM_ERR_TOO_MANY_LEVELS		/* the later terms' factor exceeds the memory
								 * limit (lmm_factor_memory_limit) */
} LmmStatus;

/* The conditional modes of one random-effects term of a fit. */
typedef struct LmmFitTerm
{
	int			src;			/* the term's index in the statistics */
	int			q;
	int64_t		nlevels;
	double	   *b;				/* nlevels * q conditional modes */
	double	   *condvar;		/* nlevels * q * q conditional covariances */
} LmmFitTerm;

typedef struct LmmFit
{
	int			p;
	int			q;
	int			ntheta;
	int64_t		nlevels;
	int			reml;
	double		n;
	double	   *beta;			/* p, in the user's (uncentred) coordinates */
	double	   *vcov;			/* p * p */
	double	   *theta;			/* ntheta */
	double		sigma;
	double		criterion;		/* REML criterion or ML deviance */
	double		loglik;
	double		aic;
	double		bic;
	double	   *b;				/* nlevels * q conditional modes */
	double	   *condvar;		/* nlevels * q * q conditional covariances */
	int			ninf;			/* ntheta + 1, or 0 if Satterthwaite failed */
	double	   *vcov_varpar;	/* ninf * ninf: 2 H^-1 of varpar (theta, sigma) */
	double	   *jac;			/* ninf * p * p: d vcov(beta) / d varpar */
	int			n_eval;
	int			converged;
	int			singular;
	int			bad_column;		/* for LMM_ERR_CONSTANT_X / COLLINEAR_X */
	int			bad_term;		/* for LMM_ERR_FEW_GROUPS and the like */
	double		factor_bytes;	/* memory of the later terms' factor and its
								 * inverse (also for LMM_ERR_TOO_MANY_LEVELS) */
	int			factor_sparse;	/* that factor is sparse (lmm_sparse.c) */
	/* terms in lme4's order (decreasing levels); term[0].b is b */
	int			nterms;
	LmmFitTerm	term[LMM_MAX_TERMS];
} LmmFit;

/*
 * Most Z rows the terms after the first may have in all: CHOLMOD's int
 * indices; the memory limit (lmm_factor_memory_limit) binds long before.
 */
#define LMM_MAX_SPARSE 100000000

/* Tolerance below which a diagonal element of T makes a fit singular (lme4's isSingular). */
#define LMM_SINGULAR_TOL 1e-4

extern LmmStatus lmm_fit(const LmmTermStats *s, int reml, int with_df,
						 LmmFit *fit);
extern LmmStatus lmm_criterion_gradient(const LmmTermStats *s, int reml,
										const double *theta, double *f,
										double *grad);
extern LmmStatus lmm_criterion_hessian(const LmmTermStats *s, int reml,
									   const double *theta, double *f,
									   double *grad, double *hess);
extern void lmm_fit_free(LmmFit *fit);

#endif							/* LMM_FIT_H */
