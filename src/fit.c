/*
 * fit.c
 *	  Fit a model from a state of streamed statistics: order the levels
 *	  deterministically, run the core fit, and turn its result (or its
 *	  failure) into an lmm_model value (or an error in the user's terms).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "core/lmm_fit.h"
#include "state.h"

/* qsort_arg comparator: order level indexes by their keys' btree order. */
static int
compare_keys(const void *a, const void *b, void *arg)
{
	void	  **ctx = (void **) arg;
	LmmAggState *st = ctx[0];
	FmgrInfo   *cmp = ctx[1];
	Datum		ka = st->keys[*(const int64 *) a];
	Datum		kb = st->keys[*(const int64 *) b];

	return DatumGetInt32(FunctionCall2Coll(cmp, st->collation, ka, kb));
}

/* An integer key and its level, sorted together so the sort reads memory in order. */
typedef struct IntKey
{
	int64		key;
	int64		level;
} IntKey;

/* qsort comparator: integer keys in numeric order (their btree order). */
static int
compare_int_keys(const void *a, const void *b)
{
	int64		ka = ((const IntKey *) a)->key;
	int64		kb = ((const IntKey *) b)->key;

	return (ka > kb) - (ka < kb);
}

/*
 * Order the levels of smallint, integer or bigint keys without the btree
 * comparator: at a million levels, calling it through fmgr on keys read in
 * random order took a tenth of the final solve.
 */
static void
sort_int_levels(const LmmAggState *st, int64 *perm)
{
	int64		J = st->stats.nlevels;
	IntKey	   *k = palloc_extended(sizeof(IntKey) * J, MCXT_ALLOC_HUGE);
	int64		j;

	for (j = 0; j < J; j++)
	{
		Datum		d = st->keys[j];

		k[j].key = st->key_type == INT8OID ? DatumGetInt64(d) :
			st->key_type == INT4OID ? DatumGetInt32(d) : DatumGetInt16(d);
		k[j].level = j;
	}
	qsort(k, J, sizeof(IntKey), compare_int_keys);
	for (j = 0; j < J; j++)
		perm[j] = k[j].level;
	pfree(k);
}

/* qsort_arg comparator: order level indexes by their keys' text forms. */
static int
compare_texts(const void *a, const void *b, void *arg)
{
	char	  **texts = arg;

	return strcmp(texts[*(const int64 *) a], texts[*(const int64 *) b]);
}

/*
 * The levels in a deterministic order, whatever order the rows came in (so
 * serial and parallel scans give the same model): the key type's btree
 * order where it has one, else the text order.  Fills texts by position.
 */
static int64 *
sorted_levels(LmmAggState *st, char ***texts_out)
{
	int64		J = st->stats.nlevels;
	int64	   *perm = palloc_extended(sizeof(int64) * J, MCXT_ALLOC_HUGE);
	char	  **texts = palloc_extended(sizeof(char *) * J, MCXT_ALLOC_HUGE);
	char	  **sorted = palloc_extended(sizeof(char *) * J, MCXT_ALLOC_HUGE);
	TypeCacheEntry *tce = lookup_type_cache(st->key_type, TYPECACHE_CMP_PROC_FINFO);
	Oid			outfn;
	bool		isvarlena;
	FmgrInfo	out;
	int64		j;

	getTypeOutputInfo(st->key_type, &outfn, &isvarlena);
	fmgr_info(outfn, &out);
	for (j = 0; j < J; j++)
	{
		if (j % 4096 == 0)
			CHECK_FOR_INTERRUPTS();
		perm[j] = j;
		texts[j] = OutputFunctionCall(&out, st->keys[j]);
	}
	if (st->key_type == INT8OID || st->key_type == INT4OID || st->key_type == INT2OID)
		sort_int_levels(st, perm);
	else if (OidIsValid(tce->cmp_proc))
	{
		void	   *ctx[2] = {st, &tce->cmp_proc_finfo};

		qsort_arg(perm, J, sizeof(int64), compare_keys, ctx);
	}
	else
		qsort_arg(perm, J, sizeof(int64), compare_texts, texts);
	for (j = 0; j < J; j++)
		sorted[j] = texts[perm[j]];
	pfree(texts);
	*texts_out = sorted;
	return perm;
}

/* Raise the error for a failed fit, in the user's terms. */
static void
report_fit_error(LmmStatus status, const LmmAggState *st, const LmmFit *fit)
{
	const LmmStats *s = &st->stats;
	int			col = fit->bad_column;
	const char *colname = (col >= 1 && st->opts.n_x_names > 0) ?
		st->opts.x_names[col - 1] : psprintf("x%d", col);

	switch (status)
	{
		case LMM_ERR_FEW_GROUPS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("lmm_fit needs at least two groups, got %lld",
							(long long) s->nlevels),
					 errdetail("A variance between groups cannot be estimated from one group; use ordinary regression instead.")));
			break;
		case LMM_ERR_LEVELS_GE_NOBS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("number of groups (%lld) must be less than the number of observations (%.0f)",
							(long long) s->nlevels, s->n),
					 errdetail("With one observation per group the group variance is not identifiable from the residual variance (lme4 refuses this too).")));
			break;
		case LMM_ERR_RE_GE_NOBS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("number of random effects (%lld groups x %d terms) must be less than the number of observations (%.0f)",
							(long long) s->nlevels, s->q, s->n),
					 errdetail("The model is not identifiable; drop random slopes or collect more rows per group.")));
			break;
		case LMM_ERR_CONSTANT_Y:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the response y is constant"),
					 errdetail("A model needs a response that varies.")));
			break;
		case LMM_ERR_CONSTANT_X:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("fixed-effect column \"%s\" (x[%d]) is constant", colname, col),
					 errdetail("A constant column duplicates the intercept; remove it from x.")));
			break;
		case LMM_ERR_COLLINEAR_X:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("fixed-effect column \"%s\" (x[%d]) is a linear combination of the intercept and earlier columns",
							colname, col),
					 errdetail("The fixed-effect design is rank deficient; remove that column from x.")));
			break;
		case LMM_ERR_PERFECT_FIT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the model fits the data exactly (zero residual variance)"),
					 errdetail("Check that y is not a function of x and the groups.")));
			break;
		case LMM_ERR_NONFINITE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("sums of squares overflow double precision"),
					 errdetail("Rescale y, x or z (values near 1e154 or above square to infinity).")));
			break;
		case LMM_ERR_INCONSISTENT:
			/* real rows give consistent sums: this is lost precision (or edited statistics) */
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("a group's cross-product matrix is not positive definite in double precision"),
					 errdetail("This happens when the columns of z (or x) have very different scales, e.g. values near 1e8 next to an intercept; center or rescale them. Statistics edited by hand can cause it too: recompute them with lmm_stats.")));
			break;
		case LMM_ERR_OPTIMIZER:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("the optimizer (NLopt BOBYQA) failed"),
					 errdetail("Try rescaling the covariates; report the data if it persists.")));
			break;
		default:
			break;
	}
}

/* A copy of the statistics whose level records follow perm, co-moments made symmetric. */
static LmmStats
permuted_stats(const LmmStats *s, const int64 *perm)
{
	LmmStats	t = *s;
	int64		j;

	t.capacity = s->nlevels;
	/* the co-moments' upper triangle is what counts; store them symmetric */
	t.comom = palloc(sizeof(double) * s->p * s->p);
	for (j = 0; j < s->p * s->p; j++)
	{
		int			a = j / s->p,
					b = j % s->p;

		t.comom[j] = s->comom[a <= b ? j : b * s->p + a];
	}
	t.level = palloc_extended(sizeof(double) * s->stride * (s->nlevels > 0 ? s->nlevels : 1),
							  MCXT_ALLOC_HUGE);
	for (j = 0; j < s->nlevels; j++)
	{
		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		memcpy(t.level + (size_t) j * s->stride,
			   s->level + (size_t) perm[j] * s->stride, sizeof(double) * s->stride);
	}
	return t;
}

/* Term names: the options' names, else x1, x2, ... / z1, z2, ... after "(Intercept)". */
static char **
term_names(int n, char **given, const char *prefix)
{
	char	  **names = palloc(sizeof(char *) * (n + 1));
	int			k;

	names[0] = "(Intercept)";
	for (k = 0; k < n; k++)
		names[k + 1] = given ? given[k] : psprintf("%s%d", prefix, k + 1);
	return names;
}

/*
 * Fit the model of st by REML or ML and return it as an lmm_model datum.
 * The state itself is left as it was.
 */
Datum
lmm_state_fit(LmmAggState *st, bool reml)
{
	LmmStats	sorted;
	LmmFit		fit;
	LmmModel	m;
	LmmStatus	status;
	char	  **level_texts;
	int64	   *perm;

	perm = sorted_levels(st, &level_texts);
	sorted = permuted_stats(&st->stats, perm);

	/* the core stops cleanly on a pending cancel, which we then raise */
	status = lmm_fit(&sorted, reml, &fit);
	if (status == LMM_ERR_INTERRUPTED)
	{
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling lmm_fit on request"),
				 errdetail("The fit was interrupted; run the statement again.")));
	}
	if (status != LMM_OK)
		report_fit_error(status, st, &fit);

	memset(&m, 0, sizeof(m));
	m.flags = (reml ? LMM_MODEL_REML : 0) |
		(fit.converged ? LMM_MODEL_CONVERGED : 0) |
		(fit.singular ? LMM_MODEL_SINGULAR : 0);
	m.p = fit.p;
	m.q = fit.q;
	m.nlevels = fit.nlevels;
	m.n_obs = (int64) st->stats.n;
	m.n_dropped = st->n_dropped;
	m.n_eval = fit.n_eval;
	m.criterion = fit.criterion;
	m.loglik = fit.loglik;
	m.aic = fit.aic;
	m.bic = fit.bic;
	m.sigma = fit.sigma;
	m.grp = st->opts.g_name;
	m.key_type = format_type_be_qualified(st->key_type);
	m.x_names = term_names(st->nx, st->opts.n_x_names > 0 ? st->opts.x_names : NULL, "x");
	m.z_names = term_names(st->nz, st->opts.n_z_names > 0 ? st->opts.z_names : NULL, "z");
	m.beta = fit.beta;
	m.vcov = fit.vcov;
	m.theta = fit.theta;
	m.levels = level_texts;
	m.b = fit.b;
	m.condvar = fit.condvar;
	m.ninf = fit.ninf;
	m.vcov_varpar = fit.vcov_varpar;
	m.jac = fit.jac;
	m.stats = &sorted;
	/* a model too big with its statistics keeps its estimates, without refits */
	if (lmm_model_packed_size(&m) > MaxAllocSize - VARHDRSZ)
		m.stats = NULL;
	return PointerGetDatum(lmm_model_to_datum(&m));
}
