/*
 * lmm_pg.h
 *	  Declarations shared by the PostgreSQL glue around the numerical core.
 */
#ifndef LMM_PG_H
#define LMM_PG_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

#include "core/lmm_anova.h"
#include "core/lmm_glmm.h"
#include "core/lmm_model.h"

/* What the options text of lmm_fit says. */
typedef struct LmmOptions
{
	bool		reml;			/* method=reml (default) or method=ml */
	bool		method_given;
	bool		g_name_given;
	char	   *g_name;			/* name of the grouping factor, "g" by default */
	int			n_x_names;		/* -1 when x_names was not given */
	char	  **x_names;
	int			n_z_names;		/* -1 when z_names was not given */
	char	  **z_names;
	LmmFamily	family;			/* family= (gaussian by default) */
	LmmLink		link;			/* link= (the family's canonical one by default) */
	int			nagq;			/* nagq= (1, the Laplace approximation, by default) */
	bool		nagq_given;
	char	   *weights;		/* weights=<column> (lmm() only), or NULL */
} LmmOptions;

extern const char *lmm_family_name(LmmFamily family);
extern const char *lmm_link_name(LmmLink link);
extern bool lmm_family_from_name(const char *name, LmmFamily *family);
extern bool lmm_link_from_name(const char *name, LmmLink *link);

extern void lmm_parse_options(const char *text, LmmOptions *opts);
extern void lmm_parse_confint_options(const char *text, bool *profile, double *level);
/* The df of a test (option ddf): lmerTest's Satterthwaite, Kenward-Roger, or none. */
typedef enum LmmDdf
{
	LMM_DDF_SATTERTHWAITE,
	LMM_DDF_KENWARD_ROGER,
	LMM_DDF_NONE
} LmmDdf;

extern void lmm_parse_test_options(const char *text, const char *fn, int *type,
								   LmmDdf *ddf);
extern void lmm_parse_boot_options(const char *text, double *level, int64 *seed);
extern void lmm_parse_lsmeans_options(const char *text, bool *pairwise, double *level,
									  LmmDdf *ddf);

/* A float8[] argument read in place (agg.c); -1 if it holds a NULL. */
extern int	lmm_read_vector(FunctionCallInfo fcinfo, int argno, const char *what,
							const double **data);

/* lmm_model values: flat varlena holding the packed binary form. */
extern bytea *lmm_model_to_datum(const LmmModel *m);
extern bytea *lmm_fitted_model_to_datum(LmmModel *m);
extern void lmm_model_from_datum(Datum d, LmmModel *m);
extern void lmm_model_corrupt(const char *problem) pg_attribute_noreturn();
extern void lmm_require_lmm(const LmmModel *m, const char *what);
extern double lmm_finite_result(double v, const char *what);
extern void lmm_verify_encoding(const char *type, const char *s);

/* Views of an lmm_model (extract.c), shared with lmm_anova and lmm_print. */
typedef struct LmmFixefRow
{
	double		estimate;
	double		se;
	bool		has_t;			/* se > 0 */
	double		t;
	bool		has_df;			/* Satterthwaite's df, and with them p and the interval */
	double		df;
	double		p;
	double		conf_low;
	double		conf_high;
} LmmFixefRow;

extern void lmm_fixef_row(const LmmModel *m, int k, double *L, LmmFixefRow *r);

/* Kenward-Roger's ingredients of a model (kr.c), or an error saying why there are none. */
struct LmmKr;
extern void lmm_model_kr(const LmmModel *m, const char *fn, struct LmmKr *kr);
extern double lmm_re_cov(const LmmModelTerm *t, double sigma, int a, int b);
extern bool lmm_re_corr(const LmmModelTerm *t, int a, int b, double *corr);
extern char *lmm_varcorr_name(const LmmModel *m, int t);
extern char *lmm_model_formula(const LmmModel *m);

/* JSON text forms (json_io.c). */
extern void lmm_json_append_f8(StringInfo buf, double v);
extern void lmm_json_append_f8_array(StringInfo buf, const double *v, int n);
extern void lmm_json_append_str_array(StringInfo buf, char **s, int64 n);
extern void lmm_json_bad(const char *type, const char *problem) pg_attribute_noreturn();
extern JsonbContainer *lmm_json_parse(const char *type, const char *text, int nkeys);
extern JsonbValue lmm_json_key(const char *type, JsonbContainer *obj, const char *key);
extern JsonbContainer *lmm_json_container(const char *type, JsonbValue v,
										  bool array, int64 n, const char *what);
extern double lmm_json_f8(const char *type, JsonbValue v, const char *what);
extern int64 lmm_json_count(const char *type, JsonbValue v, const char *what);
extern char *lmm_json_str(const char *type, JsonbValue v, const char *what);
extern bool lmm_json_bool(const char *type, JsonbValue v, const char *what);
extern JsonbValue lmm_json_elem(JsonbContainer *arr, int64 i);
extern void lmm_json_f8_array(const char *type, JsonbValue v, int64 n,
							  double *out, const char *what);
extern char **lmm_json_str_array(const char *type, JsonbValue v, int64 n,
								 int64 *n_out, const char *what);
extern void lmm_json_check_rows(const char *type, JsonbValue v, int64 n, int w,
								const char *what);
extern char *lmm_json_hex(const char *type, JsonbValue v, const char *what,
						  size_t *len);
extern void lmm_json_f8_rows(const char *type, JsonbValue v, int64 n, int w,
							 double *out, const char *what);

/* A variable of the fixed part and the levels its columns name (anova.c). */
typedef struct LmmDesignVar
{
	const char *name;			/* as R names it: "recipe", "factor(x)" */
	bool		factor;
	bool		known;			/* numeric or factor decided */
	bool		full;			/* coded by every level somewhere */
	int			nseen;
	char	  **seen;			/* levels with a column: p at most */
} LmmDesignVar;

extern void lmm_model_design(const LmmModel *m, LmmAnovaDesign *d, char ***labels,
							 LmmDesignVar **vars, int *nvars);

/* The fixed part's factors in JSON (factors.c). */
extern LmmModelFactor *lmm_json_factors(const char *type, JsonbValue v, int *n);
extern void lmm_json_append_factors(StringInfo buf, int nfactors,
									const LmmModelFactor *factors);
extern void lmm_verify_factors_encoding(const char *type, int nfactors,
										const LmmModelFactor *factors);

#define PG_GETARG_LMM_MODEL_P(n) DatumGetByteaPP(PG_GETARG_DATUM(n))

#endif							/* LMM_PG_H */
