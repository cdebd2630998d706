/*
 * agg.c
 *	  The lmm_fit aggregate: stream rows into per-level sufficient
 *	  statistics, then fit in the final function.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "core/lmm_fit.h"
#include "core/lmm_stats.h"
#include "lmm_pg.h"

/* One group key and the index of its level record. */
typedef struct LevelEntry
{
	Datum		key;
	uint32		hash;
	char		status;
	int64		index;
} LevelEntry;

struct levelhash_hash;

static uint32 level_hash(struct levelhash_hash *tb, Datum key);
static bool level_equal(struct levelhash_hash *tb, Datum a, Datum b);

#define SH_PREFIX levelhash
#define SH_ELEMENT_TYPE LevelEntry
#define SH_KEY_TYPE Datum
#define SH_KEY key
#define SH_HASH_KEY(tb, key) level_hash(tb, key)
#define SH_EQUAL(tb, a, b) level_equal(tb, a, b)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) a->hash
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* The aggregate's transition state, in the aggregate memory context. */
typedef struct LmmAggState
{
	MemoryContext ctx;
	bool		has_z;
	bool		started;		/* stats initialized by a first usable row */
	int			nx;				/* length of x (p - 1) */
	int			nz;				/* length of z (q - 1) */
	LmmStats	stats;
	int64		n_rows;			/* rows seen, usable or not */
	int64		n_dropped;		/* rows skipped for NULLs */
	text	   *options;		/* options of the first row, or NULL */
	LmmOptions	opts;
	Oid			key_type;
	int16		key_typlen;
	bool		key_byval;
	Oid			collation;
	FmgrInfo	hash_fn;
	FmgrInfo	eq_fn;
	levelhash_hash *levels;
	Datum	   *keys;			/* by level index */
	int64		keys_cap;
	double	   *v;				/* one row: z, x, y */
} LmmAggState;

/* Hash a group key with its type's hash function (32 bits suffice for simplehash). */
static uint32
level_hash(struct levelhash_hash *tb, Datum key)
{
	LmmAggState *st = (LmmAggState *) tb->private_data;

	return DatumGetUInt32(FunctionCall1Coll(&st->hash_fn, st->collation, key));
}

/* Compare two group keys with their type's equality operator. */
static bool
level_equal(struct levelhash_hash *tb, Datum a, Datum b)
{
	LmmAggState *st = (LmmAggState *) tb->private_data;

	return DatumGetBool(FunctionCall2Coll(&st->eq_fn, st->collation, a, b));
}

/* Create the state on the first row: key type support, options, hash table. */
static LmmAggState *
create_state(FunctionCallInfo fcinfo, MemoryContext aggctx, bool has_z,
			 int opt_arg)
{
	MemoryContext old = MemoryContextSwitchTo(aggctx);
	LmmAggState *st = palloc0(sizeof(LmmAggState));
	TypeCacheEntry *tce;

	st->ctx = aggctx;
	st->has_z = has_z;
	st->key_type = get_fn_expr_argtype(fcinfo->flinfo, 3);
	st->collation = PG_GET_COLLATION();
	tce = lookup_type_cache(st->key_type,
							TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	if (!OidIsValid(tce->hash_proc) || !OidIsValid(tce->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a hash function for group keys of type %s",
						format_type_be(st->key_type)),
				 errdetail("Group keys need a type with a default hash operator class; cast the key, for example to text.")));
	fmgr_info_cxt(tce->hash_proc, &st->hash_fn, aggctx);
	fmgr_info_cxt(get_opcode(tce->eq_opr), &st->eq_fn, aggctx);
	get_typlenbyval(st->key_type, &st->key_typlen, &st->key_byval);
	st->levels = levelhash_create(aggctx, 256, st);

	if (opt_arg > 0 && !PG_ARGISNULL(opt_arg))
	{
		st->options = PG_GETARG_TEXT_P_COPY(opt_arg);
		lmm_parse_options(text_to_cstring(st->options), &st->opts);
	}
	else
		lmm_parse_options(NULL, &st->opts);
	MemoryContextSwitchTo(old);
	return st;
}

/*
 * Read a float8[] argument in place: its length, or -1 (with the row to be
 * dropped) when it holds a NULL element.  Multi-dimensional arrays are errors.
 */
static int
read_vector(FunctionCallInfo fcinfo, int argno, const char *what,
			const double **data)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(argno);
	int			n;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array, not %d-dimensional",
						what, ARR_NDIM(a)),
				 errdetail("Pass one row's values as ARRAY[a, b, ...].")));
	if (ARR_HASNULL(a))
		return -1;
	n = (ARR_NDIM(a) == 0) ? 0 : ARR_DIMS(a)[0];
	*data = (const double *) ARR_DATA_PTR(a);
	return n;
}

/* Error for a NaN or infinite input value, naming the argument and position. */
static void
check_finite(double value, const char *what, int pos, int64 row)
{
	if (isfinite(value))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s is %s in input row %lld",
					pos > 0 ? psprintf("%s[%d]", what, pos) : what,
					isnan(value) ? "NaN" : "infinite", (long long) row),
			 errdetail("lmm_fit needs finite numbers; filter the row out or replace the value, e.g. with NULLIF or a WHERE clause.")));
}

/* Fix p and q from the first usable row and check the options against them. */
static void
start_stats(LmmAggState *st, int nx, int nz)
{
	MemoryContext old;

	if (nx + 1 > LMM_MAX_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many fixed-effect columns: x has %d elements", nx),
				 errdetail("lmm_fit supports at most %d elements in x.", LMM_MAX_COLUMNS - 1)));
	if (nz + 1 > LMM_MAX_RANDOM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many random-effect columns: z has %d elements", nz),
				 errdetail("lmm_fit supports at most %d elements in z (the covariance of %d random effects has %d parameters).",
						   LMM_MAX_RANDOM - 1, LMM_MAX_RANDOM, LMM_NTHETA(LMM_MAX_RANDOM))));
	if (st->opts.n_x_names >= 0 && st->opts.n_x_names != nx)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("x_names has %d names but x has %d elements",
						st->opts.n_x_names, nx),
				 errdetail("Give one name per element of x, in order.")));
	if (st->opts.n_z_names >= 0 && st->opts.n_z_names != nz)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("z_names has %d names but z has %d elements",
						st->opts.n_z_names, nz),
				 errdetail("Give one name per element of z, in order; z_names needs the z argument.")));
	old = MemoryContextSwitchTo(st->ctx);
	st->nx = nx;
	st->nz = nz;
	lmm_stats_init(&st->stats, nx + 1, nz + 1);
	st->v = palloc(sizeof(double) * st->stats.d);
	st->started = true;
	MemoryContextSwitchTo(old);
}

/* The level index of a key, adding a level (and copying the key) when it is new. */
static int64
level_index(LmmAggState *st, Datum key)
{
	bool		found;
	LevelEntry *e = levelhash_insert(st->levels, key, &found);

	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(st->ctx);

		e->key = datumCopy(key, st->key_byval, st->key_typlen);
		e->index = lmm_stats_add_level(&st->stats);
		if (e->index >= st->keys_cap)
		{
			st->keys_cap = st->keys_cap == 0 ? 256 : st->keys_cap * 2;
			st->keys = st->keys == NULL ?
				palloc_extended(sizeof(Datum) * st->keys_cap, MCXT_ALLOC_HUGE) :
				repalloc_huge(st->keys, sizeof(Datum) * st->keys_cap);
		}
		st->keys[e->index] = e->key;
		MemoryContextSwitchTo(old);
	}
	return e->index;
}

PG_FUNCTION_INFO_V1(lmm_fit_trans);

/*
 * lmm_fit_trans(state, y, x, g [, z] [, options]): add one row.  Rows with
 * a NULL y, g, array or array element are counted and skipped.
 */
Datum
lmm_fit_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	LmmAggState *st;
	int			nargs = PG_NARGS();
	bool		has_z = nargs >= 6 ||
		(nargs == 5 && get_fn_expr_argtype(fcinfo->flinfo, 4) != TEXTOID);
	int			opt_arg = (nargs == 6) ? 5 : (nargs == 5 && !has_z) ? 4 : -1;
	const double *x = NULL;
	const double *z = NULL;
	int			nx,
				nz = 0;
	double		y;
	int			k;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_fit_trans called in non-aggregate context"),
				 errdetail("Call the aggregate lmm_fit instead.")));

	st = PG_ARGISNULL(0) ? create_state(fcinfo, aggctx, has_z, opt_arg) :
		(LmmAggState *) PG_GETARG_POINTER(0);
	st->n_rows++;

	/* options are fixed by the first row; a change later is a mistake */
	if (opt_arg > 0)
	{
		bool		isnull = PG_ARGISNULL(opt_arg);
		text	   *o = isnull ? NULL : PG_GETARG_TEXT_PP(opt_arg);

		if ((o == NULL) != (st->options == NULL) ||
			(o != NULL && (VARSIZE_ANY_EXHDR(o) != VARSIZE_ANY_EXHDR(st->options) ||
						   memcmp(VARDATA_ANY(o), VARDATA_ANY(st->options),
								  VARSIZE_ANY_EXHDR(o)) != 0)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("lmm_fit options differ between rows"),
					 errdetail("Pass the same options text for every row, e.g. as a constant.")));
	}

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		(has_z && PG_ARGISNULL(4)))
	{
		st->n_dropped++;
		PG_RETURN_POINTER(st);
	}
	nx = read_vector(fcinfo, 2, "x", &x);
	if (has_z)
		nz = read_vector(fcinfo, 4, "z", &z);
	if (nx < 0 || nz < 0)
	{
		st->n_dropped++;
		PG_RETURN_POINTER(st);
	}
	if (!st->started)
		start_stats(st, nx, nz);
	else if (nx != st->nx || nz != st->nz)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s has %d elements in input row %lld but %d in the first row",
						nx != st->nx ? "x" : "z", nx != st->nx ? nx : nz,
						(long long) st->n_rows, nx != st->nx ? st->nx : st->nz),
				 errdetail("Every row must pass arrays of the same length.")));

	y = PG_GETARG_FLOAT8(1);
	check_finite(y, "y", 0, st->n_rows);
	for (k = 0; k < nz; k++)
	{
		check_finite(z[k], "z", k + 1, st->n_rows);
		st->v[k] = z[k];
	}
	for (k = 0; k < nx; k++)
	{
		check_finite(x[k], "x", k + 1, st->n_rows);
		st->v[nz + k] = x[k];
	}
	st->v[nz + nx] = y;

	lmm_stats_add_row(&st->stats, level_index(st, PG_GETARG_DATUM(3)), st->v);
	PG_RETURN_POINTER(st);
}

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
	if (OidIsValid(tce->cmp_proc))
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

/* A copy of the statistics whose level records follow perm. */
static LmmStats
permuted_stats(const LmmStats *s, const int64 *perm)
{
	LmmStats	t = *s;
	int64		j;

	t.capacity = s->nlevels;
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

PG_FUNCTION_INFO_V1(lmm_fit_final);

/* lmm_fit's final function: fit the model; NULL when no row was usable. */
Datum
lmm_fit_final(PG_FUNCTION_ARGS)
{
	LmmAggState *st;
	LmmStats	sorted;
	LmmFit		fit;
	LmmModel	m;
	LmmStatus	status;
	char	  **level_texts;
	int64	   *perm;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_fit_final called in non-aggregate context"),
				 errdetail("Call the aggregate lmm_fit instead.")));
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (LmmAggState *) PG_GETARG_POINTER(0);
	if (!st->started || st->stats.n == 0)
		PG_RETURN_NULL();

	perm = sorted_levels(st, &level_texts);
	sorted = permuted_stats(&st->stats, perm);

	/* the core stops cleanly on a pending cancel, which we then raise */
	status = lmm_fit(&sorted, st->opts.reml, &fit);
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
	m.flags = (st->opts.reml ? LMM_MODEL_REML : 0) |
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
	m.key_type = format_type_be(st->key_type);
	m.x_names = term_names(st->nx, st->opts.n_x_names > 0 ? st->opts.x_names : NULL, "x");
	m.z_names = term_names(st->nz, st->opts.n_z_names > 0 ? st->opts.z_names : NULL, "z");
	m.beta = fit.beta;
	m.vcov = fit.vcov;
	m.theta = fit.theta;
	m.levels = level_texts;
	m.b = fit.b;
	m.condvar = fit.condvar;
	PG_RETURN_BYTEA_P(lmm_model_to_datum(&m));
}
