/*
 * lmm_anova.h
 *	  lmerTest's anova(m) for a fitted model: the hypotheses of type 1
 *	  (sequential), 2 and 3 for every fixed-effect term, each tested with
 *	  lmm_contrast_ftest (Satterthwaite's df) or lmm_kr_ftest (Kenward and
 *	  Roger's), and lme4's anova table (F without df) from vcov(beta).
 *
 * The host describes the fixed part: its terms in model.matrix order, each
 * with its variables (factors with their levels, or numeric covariates),
 * and for every column of X its term and the level of each of the term's
 * factors.  Treatment contrasts are assumed, as R's default: a factor that
 * is not coded by every level ("full") has a reference level, level 0,
 * which has no column.
 */
#ifndef LMM_ANOVA_H
#define LMM_ANOVA_H

/* Variables of one term at most (the formula's own limit). */
#define LMM_ANOVA_MAX_VARS 8

typedef struct LmmAnovaVar
{
	int			id;				/* the variable, the same in every term */
	int			nlevels;		/* a factor's levels, reference included; 0: numeric */
	int			full;			/* coded by every level (no reference) */
	int			margin;			/* R's terms() factors entry 2: the term
								 * without it is not in the model (a factor
								 * is then coded by every level) */
} LmmAnovaVar;

typedef struct LmmAnovaTerm
{
	int			nvars;
	LmmAnovaVar var[LMM_ANOVA_MAX_VARS];
} LmmAnovaTerm;

typedef struct LmmAnovaDesign
{
	int			p;				/* columns of X */
	int			intercept;		/* column 0 is the intercept */
	int			nterms;
	const LmmAnovaTerm *term;
	const int  *col_term;		/* p: each column's term (-1 for the intercept) */
	const int  *col_level;		/* p * LMM_ANOVA_MAX_VARS: each column's level of
								 * each of its term's variables (0 for numerics) */
} LmmAnovaDesign;

/* One row of the table. */
typedef struct LmmAnovaRow
{
	double		sum_sq;
	double		mean_sq;
	int			num_df;			/* 0: the term's hypotheses are empty */
	double		den_df;			/* NaN without the df's ingredients */
	double		f_value;
	double		p_value;
} LmmAnovaRow;

struct LmmKr;
extern const char *lmm_anova_table(const LmmAnovaDesign *d, int type,
								   const double *XtX, const double *beta,
								   const double *vcov, double sigma, int ninf,
								   const double *vcov_varpar, const double *jac,
								   const struct LmmKr *kr, LmmAnovaRow *rows);
extern const char *lmm_anova_lme4(const LmmAnovaDesign *d, const double *beta,
								  const double *vcov, double sigma,
								  LmmAnovaRow *rows);

#endif							/* LMM_ANOVA_H */
