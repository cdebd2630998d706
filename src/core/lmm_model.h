/*
 * lmm_model.h
 *	  A fitted model as the SQL type lmm_model carries it, and its portable
 *	  binary form (big-endian, versioned), which is both the on-disk payload
 *	  and the send/recv wire format.
 */
#ifndef LMM_MODEL_H
#define LMM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define LMM_MODEL_MAGIC		0x4C4D4D6Du	/* "LMMm" */
#define LMM_MODEL_VERSION	4u

#include "lmm_limits.h"
#include "lmm_terms.h"

#define LMM_MODEL_REML		0x1u
#define LMM_MODEL_CONVERGED	0x2u
#define LMM_MODEL_SINGULAR	0x4u
#define LMM_MODEL_SEVERAL	0x8u	/* more than one random-effects term */
/* a GLMM's link (lmm_glmm.h's code, 0 for an LMM) in bits 4-6, so that scoring, which reads the head only, knows it */
#define LMM_MODEL_LINK_SHIFT 4
#define LMM_MODEL_LINK_MASK	0x70u
#define LMM_MODEL_FLAGS		0x7Fu

/* Marks the optional section of the terms' key types after the terms (version 3). */
#define LMM_MODEL_KEYS_MAGIC 0x4C4D4D6Bu	/* "LMMk" */

/*
 * Marks the optional section of the fixed part's factors after the
 * statistics (format 4), and its own version.
 */
#define LMM_MODEL_FACTORS_MAGIC 0x4C4D4D66u	/* "LMMf" */
#define LMM_MODEL_FACTORS_VERSION 1u

/*
 * Marks the optional section of a generalized model's family (format 4):
 * u32 magic, u32 family, u32 link, u32 nagq (lmm_glmm.h's codes); absent
 * for the Gaussian family's LMM.
 */
#define LMM_MODEL_FAMILY_MAGIC 0x4C4D4D67u	/* "LMMg" */

/* Most factors, and levels of one factor, the factors section holds. */
#define LMM_MODEL_MAX_FACTORS 256
#define LMM_MODEL_MAX_FACTOR_LEVELS 1000

/*
 * A categorical variable of the fixed part with every level, the reference
 * level of its treatment contrasts first, in R's order: what x_names alone
 * cannot tell, as the reference has no column.
 */
typedef struct LmmModelFactor
{
	char	   *name;			/* as R names the variable: "recipe", "factor(x)" */
	int			nlevels;
	char	  **levels;			/* as R prints them, e.g. "A", "TRUE" */
} LmmModelFactor;

/* A random-effects term after the first (version 3), in lme4's order. */
typedef struct LmmModelTerm
{
	char	   *grp;			/* name of the grouping factor, e.g. "batch" */
	char	   *key_type;		/* SQL type of its keys; NULL reads as "text" */
	int			q;
	char	  **z_names;		/* q */
	double	   *theta;			/* q (q + 1) / 2 */
	int64_t		nlevels;
	char	  **levels;			/* nlevels, text form of the keys */
	double	   *b;				/* nlevels * q */
	double	   *condvar;		/* nlevels * q * q */
} LmmModelTerm;

typedef struct LmmModel
{
	uint32_t	flags;			/* LMM_MODEL_* bits */
	int			p;				/* fixed-effect terms, intercept first */
	int			q;				/* random-effect terms per level */
	int64_t		nlevels;
	int64_t		n_obs;
	int64_t		n_dropped;
	int			n_eval;
	double		criterion;		/* REML criterion or ML deviance */
	double		loglik;
	double		aic;
	double		bic;
	double		sigma;
	char	   *grp;			/* name of the grouping factor */
	char	   *key_type;		/* SQL type of the group key */
	char	  **x_names;		/* p */
	char	  **z_names;		/* q */
	double	   *beta;			/* p */
	double	   *vcov;			/* p * p */
	double	   *theta;			/* q (q + 1) / 2 */
	char	  **levels;			/* nlevels, text form of the keys */
	double	   *b;				/* nlevels * q */
	double	   *condvar;		/* nlevels * q * q */
	/* version 2: Satterthwaite's ingredients */
	int			ninf;			/* 0 (not available) or q(q+1)/2 + 1 */
	double	   *vcov_varpar;	/* ninf * ninf */
	double	   *jac;			/* ninf * p * p */
	/* version 3: the formula, and the terms after the first */
	char	   *formula;		/* "" for a model of lmm_fit */
	int			nextra;
	LmmModelTerm *extra;
	/* the statistics, for refits (version 4; read from version 2 on) */
	LmmTermStats *tstats;		/* NULL, or with each term's levels in model order */
	/* optional (format 4): the fixed part's factors, by name in strcmp order */
	int			nfactors;
	LmmModelFactor *factors;
	/* optional (format 4): a GLMM's family (0: Gaussian, an LMM), link and nagq */
	int			family;
	int			link;
	int			nagq;
} LmmModel;

/* Variance parameters of all terms: theta of the first and of every extra term. */
extern int	lmm_model_ntheta(const LmmModel *m);
extern LmmModelTerm lmm_model_term(const LmmModel *m, int t);

extern size_t lmm_model_packed_size(const LmmModel *m);
extern void lmm_model_pack(const LmmModel *m, unsigned char *buf);
extern const char *lmm_model_unpack_head(const unsigned char *buf, size_t len,
										 LmmModel *m, size_t *levels_at);
extern size_t lmm_model_scoring_prefix(const unsigned char *buf, size_t headlen,
									   size_t len);
extern const char *lmm_model_unpack_terms(const unsigned char *buf, size_t len,
										  size_t total, LmmModel *m,
										  size_t *levels_at, size_t *need);
extern const char *lmm_model_unpack(const unsigned char *buf, size_t len,
									LmmModel *m);
extern size_t lmm_model_tstats_size(const LmmModel *m);
extern void lmm_model_tstats_pack(const LmmModel *m, unsigned char *buf);
extern const char *lmm_model_tstats_unpack(const unsigned char *buf, size_t len,
										   LmmModel *m);
extern const char *lmm_model_check(const LmmModel *m);
extern const char *lmm_model_check_factors(int nfactors,
										   const LmmModelFactor *factors);
extern const char *lmm_model_check_unique_levels(const LmmModel *m);
extern void lmm_model_free(LmmModel *m);

#endif							/* LMM_MODEL_H */
