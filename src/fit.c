/*
 * fit.c
 *	  Fit a model from a state of statistics, of one term or of a formula:
 *	  order every term's levels deterministically, run the core fit, and
 *	  turn its result (or its failure) into an lmm_model value (or an error
 *	  in the user's terms).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"

#include "core/lmm_fit.h"
#include "core/lmm_index.h"
#include "state.h"

/* A key's value (integer keys) and its level, sorted together so the sort reads memory in order. */
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
 * qsort_arg comparator: order level numbers by their keys' btree order.
 * A collation's comparisons can take seconds over millions of levels, so
 * a pending cancel is honoured every 65,536 of them.
 */
static int
compare_keys(const void *a, const void *b, void *arg)
{
	void	  **ctx = (void **) arg;
	const LmmLevels *lv = ctx[0];
	FmgrInfo   *cmp = ctx[1];
	static uint32 calls = 0;

	if ((++calls & 65535) == 0)
		CHECK_FOR_INTERRUPTS();

	return DatumGetInt32(FunctionCall2Coll(cmp, lv->collation,
										   lv->keys[*(const int64 *) a],
										   lv->keys[*(const int64 *) b]));
}

/* qsort_arg comparator: order level numbers by their keys' bytes (text under "C"). */
static int
compare_bytes(const void *a, const void *b, void *arg)
{
	const LmmLevels *lv = arg;
	const char *ka = DatumGetPointer(lv->keys[*(const int64 *) a]);
	const char *kb = DatumGetPointer(lv->keys[*(const int64 *) b]);
	size_t		la = VARSIZE_ANY_EXHDR(ka);
	size_t		lb = VARSIZE_ANY_EXHDR(kb);
	int			c = memcmp(VARDATA_ANY(ka), VARDATA_ANY(kb), Min(la, lb));

	return c != 0 ? c : (la > lb) - (la < lb);
}

/* qsort_arg comparator: order level numbers by their keys' text forms. */
static int
compare_texts(const void *a, const void *b, void *arg)
{
	char	  **texts = arg;

	return strcmp(texts[*(const int64 *) a], texts[*(const int64 *) b]);
}

/*
 * The integer value of level j's key: the key itself for an integer key
 * type, or the integer its text reads as when a formula says its keys are
 * integers (an error when it is not one of that type).
 */
static int64
int_key(const LmmAggState *st, int t, int64 j, const char *text)
{
	const LmmLevels *lv = &st->levels[t];
	Oid			type = st->key_type[t];
	int64		lo = type == INT2OID ? PG_INT16_MIN : type == INT4OID ? PG_INT32_MIN : PG_INT64_MIN;
	int64		hi = type == INT2OID ? PG_INT16_MAX : type == INT4OID ? PG_INT32_MAX : PG_INT64_MAX;
	int64		v;

	if (lv->type == INT8OID)
		return DatumGetInt64(lv->keys[j]);
	if (lv->type == INT4OID)
		return DatumGetInt32(lv->keys[j]);
	if (lv->type == INT2OID)
		return DatumGetInt16(lv->keys[j]);
	if (!lmm_index_parse_int((const unsigned char *) text, strlen(text), &v) ||
		v < lo || v > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("key \"%s\" of grouping factor \"%s\" is not a value of type %s as it prints",
						text, st->grp[t], format_type_be(type)),
				 errhint("Pass the keys of a term with \"key_type\" %s as key::text, or leave \"key_type\" out of the spec.",
						 format_type_be(type))));
	return v;
}

/*
 * Integer keys in order of value from the level table's direct map, when
 * it holds every level (the keys are dense in a range): a pass over the
 * map instead of a sort, the levels into perm and their keys into v.
 * False when it does not.
 */
static bool
direct_order(const LmmLevels *lv, int64 J, int64 *perm, int64 *v)
{
	int64		n = 0,
				off;

	if (lv->direct == NULL)
		return false;
	for (off = 0; off < lv->direct_n && n <= J; off++)
	{
		if ((off & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		if (lv->direct[off] > 0 && n < J)
		{
			perm[n] = lv->direct[off] - 1;
			/* in uint64: the map may start near the bottom of bigint */
			v[n] = (int64) ((uint64) lv->direct_lo + (uint64) off);
		}
		n += lv->direct[off] > 0;
	}
	return n == J;
}

/*
 * perm: level numbers in order of their integer keys v (J of them), and v
 * rewritten in that order.  Keys already in increasing order are left so,
 * keys dense in a range (at most 4 slots a level) are placed by value in
 * a pass; others, and keys that repeat, are
 * sorted.
 */
static void
int_order(int64 *v, int64 J, int64 *perm)
{
	int64		lo = J > 0 ? v[0] : 0,
				hi = lo,
				j;
	bool		increasing = true;
	IntKey	   *k;

	for (j = 1; j < J; j++)
	{
		increasing = increasing && v[j] > v[j - 1];
		lo = Min(lo, v[j]);
		hi = Max(hi, v[j]);
	}
	if (increasing)
	{
		for (j = 0; j < J; j++)
			perm[j] = j;
		return;
	}
	/* in uint64: int8 keys may span more than int64 holds */
	if ((uint64) hi - (uint64) lo < (uint64) 4 * J)
	{
		int64		span = hi - lo + 1;
		int64	   *slot = palloc_extended(sizeof(int64) * span, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		int64		n = 0,
					off;

		for (j = 0; j < J && slot[v[j] - lo] == 0; j++)
			slot[v[j] - lo] = j + 1;
		if (j == J)
		{
			for (off = 0; off < span; off++)
			{
				if ((off & 65535) == 0)
					CHECK_FOR_INTERRUPTS();
				if (slot[off] > 0)
				{
					perm[n] = slot[off] - 1;
					v[n++] = lo + off;
				}
			}
			pfree(slot);
			return;
		}
		pfree(slot);
	}
	k = palloc_extended(sizeof(IntKey) * (J + 1), MCXT_ALLOC_HUGE);
	for (j = 0; j < J; j++)
	{
		k[j].key = v[j];
		k[j].level = j;
	}
	qsort(k, J, sizeof(IntKey), compare_int_keys);
	for (j = 0; j < J; j++)
	{
		perm[j] = k[j].level;
		v[j] = k[j].key;
	}
	pfree(k);
}

/* Whether a level table's keys are of an integer type (not text read as integers). */
static bool
int_typed(const LmmLevels *lv)
{
	return lv->type == INT2OID || lv->type == INT4OID || lv->type == INT8OID;
}

/*
 * The text forms of J integer keys v of a table, as their output function
 * writes them, into one buffer rather than an allocation each.
 */
static char **
int_texts(const LmmLevels *lv, const int64 *v, int64 J)
{
	char	  **texts = palloc_extended(sizeof(char *) * (J + 1), MCXT_ALLOC_HUGE);
	/* "-9223372036854775808" and "-2147483648", with their NULs */
	size_t		width = lv->type == INT8OID ? 21 : 12;
	char	   *w = palloc_extended(width * (J + 1), MCXT_ALLOC_HUGE);
	int64		j;

	for (j = 0; j < J; j++)
	{
		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		texts[j] = w;
		w += pg_lltoa(v[j], w) + 1;
	}
	return texts;
}

/*
 * The levels of term t in a deterministic order, whatever order the rows
 * came in (so serial and parallel scans give the same model): integers by
 * value, text of a formula bytewise, other keys in their type's btree order
 * under their collation where the type has one, else by their text forms.
 * Fills texts with the keys' text forms in that order, unless texts_out is
 * NULL.
 */
static int64 *
sorted_levels(const LmmAggState *st, int t, char ***texts_out)
{
	const LmmLevels *lv = &st->levels[t];
	int64		J = st->stats.term[t].nlevels;
	int64	   *perm = palloc_extended(sizeof(int64) * (J + 1), MCXT_ALLOC_HUGE);
	char	  **texts = NULL;
	char	  **sorted;
	Oid			kt = st->key_type[t];
	bool		int_kt = kt == INT8OID || kt == INT4OID || kt == INT2OID;
	int64	   *v = NULL;
	int64		j;
	bool		c_text = lv->kind == LMM_KEY_TEXT && lv->collation == C_COLLATION_OID;
	TypeCacheEntry *tce = int_kt || c_text ? NULL :
		lookup_type_cache(lv->type, TYPECACHE_CMP_PROC_FINFO);

	/*
	 * Integer-typed keys are written once in order; others' texts are made
	 * first, where the model wants them or the order is made from them.
	 */
	if (!(int_kt && int_typed(lv)) &&
		(texts_out != NULL || int_kt || (tce != NULL && !OidIsValid(tce->cmp_proc))))
	{
		Oid			outfn;
		bool		isvarlena;
		FmgrInfo	out;

		texts = palloc_extended(sizeof(char *) * (J + 1), MCXT_ALLOC_HUGE);
		getTypeOutputInfo(lv->type, &outfn, &isvarlena);
		fmgr_info(outfn, &out);
		for (j = 0; j < J; j++)
		{
			if ((j & 4095) == 0)
				CHECK_FOR_INTERRUPTS();
			texts[j] = OutputFunctionCall(&out, lv->keys[j]);
		}
	}
	if (int_kt)
	{
		v = palloc_extended(sizeof(int64) * (J + 1), MCXT_ALLOC_HUGE);
		if (!(kt != INT2OID && direct_order(lv, J, perm, v)))
		{
			for (j = 0; j < J; j++)
				v[j] = int_key(st, t, j, texts ? texts[j] : NULL);
			int_order(v, J, perm);
		}
	}
	else if (c_text)
	{
		for (j = 0; j < J; j++)
			perm[j] = j;
		qsort_arg(perm, J, sizeof(int64), compare_bytes, (void *) lv);
	}
	else
	{
		for (j = 0; j < J; j++)
			perm[j] = j;
		if (OidIsValid(tce->cmp_proc))
		{
			void	   *ctx[2] = {(void *) lv, &tce->cmp_proc_finfo};

			qsort_arg(perm, J, sizeof(int64), compare_keys, ctx);
		}
		else
			qsort_arg(perm, J, sizeof(int64), compare_texts, texts);
	}
	if (texts_out == NULL)
	{
		if (texts != NULL)
		{
			for (j = 0; j < J; j++)
				pfree(texts[j]);
			pfree(texts);
		}
		if (v != NULL)
			pfree(v);
		return perm;
	}
	if (texts == NULL)
		sorted = int_texts(lv, v, J);
	else
	{
		sorted = palloc_extended(sizeof(char *) * (J + 1), MCXT_ALLOC_HUGE);
		for (j = 0; j < J; j++)
			sorted[j] = texts[perm[j]];
		pfree(texts);
	}
	if (v != NULL)
		pfree(v);
	*texts_out = sorted;
	return perm;
}

/*
 * Term t's levels in the order a model lists them (sorted_levels): what
 * lmm_stats stores them in, so that a fit of a stored value finds them in
 * order and need not move them.
 */
int64 *
lmm_level_order(const LmmAggState *st, int t)
{
	return sorted_levels(st, t, NULL);
}

/*
 * Each term's map from a level's number to its place in sorted order
 * (sorted_levels), with the keys' texts in that order into texts[t]: what
 * makes a model independent of the order of its rows.  The sorted orders
 * themselves go to perm[t] when perm is not NULL.
 */
static void
level_maps(const LmmAggState *st, int64 **map, char ***texts, int64 **perm)
{
	int			t;
	int64		j;

	for (t = 0; t < st->stats.nterms; t++)
	{
		int64		J = st->stats.term[t].nlevels;
		int64	   *order = sorted_levels(st, t, &texts[t]);

		map[t] = palloc_extended(sizeof(int64) * (J + 1), MCXT_ALLOC_HUGE);
		for (j = 0; j < J; j++)
			map[t][order[j]] = j;
		if (perm != NULL)
			perm[t] = order;
		else
			pfree(order);
	}
}

/* Ask the cache for a record of n doubles that a loop will soon read. */
static inline void
prefetch_record(const double *rec, int n)
{
#if defined(__GNUC__) || defined(__clang__)
	int			i;

	for (i = 0; i < n; i += 8)
		__builtin_prefetch(rec + i);
	__builtin_prefetch(rec + n - 1);
#endif
}

/*
 * Put n records of stride doubles in the order perm (out[j] = in[perm[j]])
 * in place, cycle by cycle, each value written as x + 0.0 (see
 * sorted_stats).  Levels already in order (the usual case for statistics
 * stored by lmm_stats) cost one pass that finds nothing to move.
 */
static void
permute_records(double *rec, int stride, int64 n, const int64 *perm, bool zero)
{
	uint64	   *done = palloc0_array(uint64, n / 64 + 1);
	double	   *tmp = palloc_array(double, stride);
	int64		j0,
				moved = 0;
	int			i;

	for (j0 = 0; j0 < n; j0++)
	{
		int64		j = j0;
		double	   *at = rec + (size_t) j0 * stride;

		if (done[j0 / 64] & ((uint64) 1 << (j0 % 64)))
			continue;
		memcpy(tmp, at, sizeof(double) * stride);
		while (perm[j] != j0)
		{
			double	   *from = rec + (size_t) perm[j] * stride;

			/* a cycle may hold most levels: poll within it (the state is thrown away on error) */
			if ((++moved & 65535) == 0)
				CHECK_FOR_INTERRUPTS();
			at = rec + (size_t) j * stride;
			for (i = 0; i < stride; i++)
				at[i] = zero ? 0.0 : from[i] + 0.0;
			done[j / 64] |= (uint64) 1 << (j % 64);
			j = perm[j];
		}
		at = rec + (size_t) j * stride;
		for (i = 0; i < stride; i++)
			at[i] = zero ? 0.0 : tmp[i] + 0.0;
		done[j / 64] |= (uint64) 1 << (j % 64);
		if ((++moved & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(done);
	pfree(tmp);
}

/*
 * The statistics with every term's levels in sorted order (their key
 * texts into texts[t]), so that the model does not depend on the order of
 * the rows: a copy, or where the caller owns the state (consume), the
 * state's own level records put in order in place and moved to out (the
 * state keeps its counts, for messages, but no records), which spares a
 * copy as large as the statistics.  A copy gathers the records in that
 * order (one pass that reads them out of order); the merge into the empty
 * copy adds the rest, the overall sums and the pairs.  A merge of the
 * records would add each to zeros, and zero shifts to that: x + 0.0, which
 * is x except that -0 becomes +0, so the gather writes x + 0.0 and has its
 * bits.
 */
static void
sorted_stats(LmmAggState *st, bool consume, LmmTermStats *out, char ***texts)
{
	LmmTermStats *s = &st->stats;
	LmmTermStats rest = *s;
	int64	   *map[LMM_MAX_TERMS];
	int64	   *perm[LMM_MAX_TERMS];
	int			q[LMM_MAX_TERMS];
	int			t,
				i;
	int64		j;

	level_maps(st, map, texts, perm);
	for (t = 0; t < s->nterms; t++)
		q[t] = s->term[t].q;
	lmm_terms_init(out, s->p, s->nterms, q);
	for (t = 0; t < s->nterms; t++)
	{
		LmmTermLevels *lv = &s->term[t];
		int			stride = lv->stride;
		double	   *rec;

		if (consume)
		{
			permute_records(lv->rec, stride, lv->nlevels, perm[t], s->n == 0.0);
			Assert(out->term[t].rec == NULL);
			out->term[t].rec = lv->rec;
			out->term[t].capacity = lv->capacity;
			lv->rec = NULL;
			lv->capacity = 0;
		}
		else
		{
			lmm_terms_reserve_levels(out, t, lv->nlevels);
			rec = out->term[t].rec;
			for (j = 0; j < lv->nlevels; j++)
			{
				const double *from = lv->rec + (size_t) perm[t][j] * stride;

				/* the records are read out of order: ask for a later one early */
				if (j + 8 < lv->nlevels)
					prefetch_record(lv->rec + (size_t) perm[t][j + 8] * stride, stride);
				if ((j & 65535) == 0)
					CHECK_FOR_INTERRUPTS();
				/* statistics without rows merge as nothing: their levels stay zero */
				for (i = 0; i < stride; i++)
					rec[i] = s->n != 0.0 ? from[i] + 0.0 : 0.0;
				rec += stride;
			}
		}
		out->term[t].nlevels = lv->nlevels;
		rest.term[t].nlevels = 0;
		pfree(perm[t]);
	}
	lmm_terms_merge(out, &rest, (int64_t *const *) map);
	for (t = 0; t < s->nterms; t++)
		pfree(map[t]);
}

static Datum fit_stats(LmmAggState *st, bool reml, double sum_log_w, bool consume);

/* Raise the error for a failed fit of lmm_fit(y, x, g ...), in its terms. */
static void
report_one_term_error(LmmStatus status, const LmmAggState *st, const LmmFit *fit)
{
	int			col = fit->bad_column;
	const char *colname = (col >= 1 && col < st->p) ? st->x_names[col] : psprintf("x%d", col);
	long long	J = (long long) st->stats.term[0].nlevels;

	switch (status)
	{
		case LMM_ERR_FEW_GROUPS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("lmm_fit needs at least two groups, got %lld", J),
					 errdetail("A variance between groups cannot be estimated from one group; use ordinary regression instead.")));
			break;
		case LMM_ERR_LEVELS_GE_NOBS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("number of groups (%lld) must be less than the number of observations (%.0f)",
							J, st->stats.n),
					 errdetail("With one observation per group the group variance is not identifiable from the residual variance (lme4 refuses this too).")));
			break;
		case LMM_ERR_RE_GE_NOBS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("number of random effects (%lld groups x %d terms) must be less than the number of observations (%.0f)",
							J, st->q[0], st->stats.n),
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
		case LMM_ERR_INTERRUPTED:
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("canceling lmm_fit on request"),
					 errdetail("The fit was interrupted; run the statement again.")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("the optimizer (NLopt BOBYQA) failed"),
					 errdetail("Try rescaling the covariates; report the data if it persists.")));
	}
}

/* Raise the error for a failed fit of a formula, in the user's terms. */
static void
report_formula_error(LmmStatus status, const LmmAggState *st, const LmmFit *fit)
{
	const char *grp = (fit->bad_term >= 0) ? st->grp[fit->bad_term] : "?";
	long long	J = (fit->bad_term >= 0) ? (long long) st->stats.term[fit->bad_term].nlevels : 0;
	int			col = fit->bad_column;
	const char *colname = (col >= 0 && col < st->p) ? st->x_names[col] : "?";

	switch (status)
	{
		case LMM_ERR_FEW_GROUPS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("grouping factor \"%s\" has %lld level(s); a random-effects term needs at least two",
							grp, J),
					 errdetail("Drop the term (1 | %s) or use data with more levels.", grp)));
			break;
		case LMM_ERR_LEVELS_GE_NOBS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("grouping factor \"%s\" has as many levels as observations (%.0f)",
							grp, st->stats.n),
					 errdetail("Its variance is not identifiable from the residual variance (lme4 refuses this too).")));
			break;
		case LMM_ERR_RE_GE_NOBS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("random effects of \"%s\" (levels x columns) must be fewer than the observations (%.0f)",
							grp, st->stats.n),
					 errdetail("The model is not identifiable; drop random slopes or collect more rows per level.")));
			break;
		case LMM_ERR_TOO_MANY_LEVELS:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the random-effects terms after the largest need %.0f MB for their Cholesky factor, more than lmm.max_factor_memory (%s)",
							ceil(fit->factor_bytes / 1048576.0),
							GetConfigOptionByName("lmm.max_factor_memory", NULL, false)),
					 errdetail("The factor is sparse where their levels cross in few combinations, dense otherwise."),
					 errhint("Raise lmm.max_factor_memory (SET lmm.max_factor_memory = '%.0fMB'), or keep only one grouping factor with very many levels.",
							 ceil(fit->factor_bytes / 1048576.0))));
			break;
		case LMM_ERR_CONSTANT_Y:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the response is constant"),
					 errdetail("A model needs a response that varies.")));
			break;
		case LMM_ERR_CONSTANT_X:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("fixed-effect column \"%s\" is constant", colname),
					 errdetail("A constant column duplicates the intercept; remove it from the formula.")));
			break;
		case LMM_ERR_COLLINEAR_X:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("fixed-effect column \"%s\" is a linear combination of earlier columns", colname),
					 errdetail("The fixed-effect design is rank deficient; remove that term from the formula.")));
			break;
		case LMM_ERR_PERFECT_FIT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the model fits the data exactly (zero residual variance)"),
					 errdetail("Check that the response is not a function of the covariates and the groups.")));
			break;
		case LMM_ERR_NONFINITE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("sums of squares overflow double precision"),
					 errdetail("Rescale the response or the covariates (values near 1e154 or above square to infinity).")));
			break;
		case LMM_ERR_INTERRUPTED:
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("canceling lmm fit on request"),
					 errdetail("The fit was interrupted; run the statement again.")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("the fit failed (status %d)", (int) status),
					 errdetail("Try rescaling the covariates; report the data if it persists.")));
	}
}

/* The name a model records for term t's key type. */
static char *
model_key_type(const LmmAggState *st, int t)
{
	return st->one_term ? format_type_be_qualified(st->key_type[t]) :
		format_type_be(st->key_type[t]);
}

/*
 * What every model takes from its fit and state: counts, criteria,
 * estimates, names and the random-effects terms in lme4's order, labelled
 * by each term's sorted key texts.  The caller sets the rest (flags, n_obs,
 * and what its kind of model carries).
 */
static void
model_of_fit(const LmmAggState *st, const LmmFit *fit, char ***texts, LmmModel *m)
{
	int			t,
				toff = 0;

	memset(m, 0, sizeof(LmmModel));
	m->p = fit->p;
	m->n_dropped = st->n_dropped;
	m->n_eval = fit->n_eval;
	m->criterion = fit->criterion;
	m->loglik = fit->loglik;
	m->aic = fit->aic;
	m->bic = fit->bic;
	m->sigma = fit->sigma;
	m->x_names = st->x_names;
	m->beta = fit->beta;
	m->vcov = fit->vcov;
	m->formula = st->formula;
	m->nfactors = st->nfactors;
	m->factors = st->factors;
	m->nextra = fit->nterms - 1;
	m->extra = palloc0(sizeof(LmmModelTerm) * fit->nterms);
	for (t = 0; t < fit->nterms; t++)
	{
		const LmmFitTerm *ft = &fit->term[t];
		int			src = ft->src;

		if (t == 0)
		{
			m->grp = st->grp[src];
			m->key_type = model_key_type(st, src);
			m->q = ft->q;
			m->z_names = st->z_names[src];
			m->theta = fit->theta;
			m->nlevels = ft->nlevels;
			m->levels = texts[src];
			m->b = ft->b;
			m->condvar = ft->condvar;
		}
		else
		{
			LmmModelTerm *mt = &m->extra[t - 1];

			mt->grp = st->grp[src];
			mt->key_type = model_key_type(st, src);
			mt->q = ft->q;
			mt->z_names = st->z_names[src];
			mt->theta = fit->theta + toff;
			mt->nlevels = ft->nlevels;
			mt->levels = texts[src];
			mt->b = ft->b;
			mt->condvar = ft->condvar;
		}
		toff += LMM_NTHETA(ft->q);
	}
}

/*
 * Fit the statistics of a state that has rows by REML or ML and return the
 * model as an lmm_model datum: the final step of every fitting aggregate
 * and of lmm_fit on statistics.  The state itself is left as it was.
 */
Datum
lmm_state_fit(LmmAggState *st, bool reml)
{
	return fit_stats(st, reml, 0.0, false);
}

/*
 * The same for a state of the caller's own (unpacked from a stored
 * value), which the fit may take apart: its level records become the
 * model's, put in sorted order in place.
 */
Datum
lmm_state_fit_owned(LmmAggState *st, bool reml)
{
	return fit_stats(st, reml, 0.0, true);
}

/*
 * The fit of a state's statistics, its criterion less sum_log_w (prior
 * weights' log-likelihood term: a weighted LMM's statistics are of the rows
 * scaled by the square roots of their weights, whose likelihood differs by
 * that constant from the weighted model's).
 */
static Datum
fit_stats(LmmAggState *st, bool reml, double sum_log_w, bool consume)
{
	LmmTermStats sorted;
	char	  **texts[LMM_MAX_TERMS];
	LmmFit		fit;
	LmmModel	m;
	LmmStatus	status;

	sorted_stats(st, consume, &sorted, texts);
	status = lmm_fit(&sorted, reml, 1, &fit);
	if (status != LMM_OK && st->one_term)
		report_one_term_error(status, st, &fit);
	if (status != LMM_OK)
		report_formula_error(status, st, &fit);

	model_of_fit(st, &fit, texts, &m);
	m.flags = (reml ? LMM_MODEL_REML : 0) |
		(fit.converged ? LMM_MODEL_CONVERGED : 0) |
		(fit.singular ? LMM_MODEL_SINGULAR : 0) |
		(fit.nterms > 1 ? LMM_MODEL_SEVERAL : 0);
	m.n_obs = (int64) sorted.n;
	m.criterion -= sum_log_w;
	m.loglik += sum_log_w / 2.0;
	m.aic -= sum_log_w;
	m.bic -= sum_log_w;
	m.ninf = fit.ninf;
	m.vcov_varpar = fit.vcov_varpar;
	m.jac = fit.jac;
	m.tstats = &sorted;
	/* a model too big with its statistics keeps its estimates, without refits */
	return PointerGetDatum(lmm_fitted_model_to_datum(&m));
}

/*
 * A Gaussian model with prior weights or offsets: its rows, y less the
 * offset, scaled by the square roots of their weights, are an ordinary
 * LMM's (residual variance sigma^2 / w, as lmer(weights = w)); fit their
 * statistics, with the weights' term of the likelihood.
 */
static Datum
fit_weighted(LmmAggState *st)
{
	const LmmRows *r = &st->rows;
	double		xs[LMM_MAX_COLUMNS];
	double		zs[LMM_MAX_TERMS * LMM_MAX_RANDOM];
	int64		lev[LMM_MAX_TERMS];
	volatile double sum_log_w = 0.0;
	int			zo[LMM_MAX_TERMS];
	int			nzall = 0;
	int64		i,
				j;
	int			a,
				t;

	LmmTermStats kept = st->stats;
	LmmTermStats ws;
	Datum		result;

	/* the weighted statistics in a copy: a final function leaves its state as it was */
	lmm_terms_init(&ws, st->p, st->k, st->q);
	for (t = 0; t < st->k; t++)
	{
		zo[t] = nzall;
		nzall += st->q[t];
		for (j = 0; j < kept.term[t].nlevels; j++)
			lmm_terms_add_level(&ws, t);
	}
	for (i = 0; i < r->n; i++)
	{
		double		wt = r->wt != NULL ? r->wt[i] : 1.0;
		double		sw = sqrt(wt);

		if ((i & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		sum_log_w += log(wt);
		for (a = 0; a < st->p; a++)
			xs[a] = sw * r->x[(size_t) i * st->p + a];
		for (t = 0; t < st->k; t++)
		{
			lev[t] = r->lev[(size_t) i * st->k + t];
			for (a = 0; a < st->q[t]; a++)
				zs[zo[t] + a] = sw * (r->ones[t] ? 1.0 : r->z[(size_t) i * r->nz + r->zoff[t] + a]);
		}
		lmm_terms_add_row(&ws, xs,
						  sw * (r->y[i] - (r->off != NULL ? r->off[i] : 0.0)), lev, zs);
	}
	st->stats = ws;
	PG_TRY();
	{
		result = fit_stats(st, st->opts.reml, sum_log_w, false);
	}
	PG_FINALLY();
	{
		st->stats = kept;
	}
	PG_END_TRY();
	lmm_terms_free(&ws);
	return result;
}

/*
 * Error unless a GLMM's response varies: all 0 (or all 1 for a binomial
 * proportion) has no finite maximum-likelihood estimate.
 */
static void
check_response_varies(const LmmAggState *st)
{
	const LmmRows *r = &st->rows;
	int64		i;

	for (i = 1; i < r->n; i++)
		if (r->y[i] != r->y[0])
			return;
	if (r->n == 0 || (st->opts.family == LMM_FAMILY_POISSON && r->y[0] > 0.0) ||
		(st->opts.family == LMM_FAMILY_BINOMIAL && r->y[0] > 0.0 && r->y[0] < 1.0))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("every response is %g, so the %s model has no finite estimates",
					r->n > 0 ? r->y[0] : 0.0, lmm_family_name(st->opts.family)),
			 errdetail("The likelihood keeps rising as the intercept goes to %s; a model needs responses that vary.",
					   r->n > 0 && r->y[0] > 0.0 ? "+infinity" : "-infinity")));
}

/*
 * Fit a state that kept its rows: a GLMM (lmm_glmm.h) with every term's
 * levels in sorted order, or a Gaussian model with weights or offsets
 * (fit_weighted).  Returns the model as an lmm_model datum.
 */
Datum
lmm_state_fit_glmm(LmmAggState *st)
{
	LmmRows		sorted;
	LmmGlmmSpec spec;
	char	  **texts[LMM_MAX_TERMS];
	int64	   *map[LMM_MAX_TERMS];
	LmmFit		fit;
	LmmModel	m;
	LmmStatus	status;
	int			t;

	if (st->opts.family == LMM_FAMILY_GAUSSIAN)
		return fit_weighted(st);
	if (st->opts.method_given && st->opts.reml)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("family %s is fitted by maximum likelihood, not REML",
						lmm_family_name(st->opts.family)),
				 errdetail("Leave out method=reml (glmer has no REML either).")));
	if (st->opts.nagq > 1 && (st->k != 1 || st->q[0] != 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nagq = %d needs a model with one scalar random-effects term", st->opts.nagq),
				 errdetail("Adaptive quadrature integrates over one random effect per group; this model has %d term(s) of %d column(s) first.",
						   st->k, st->q[0]),
				 errhint("Use nagq=1 (the Laplace approximation) or nagq=0, as glmer requires.")));
	check_response_varies(st);
	level_maps(st, map, texts, NULL);
	lmm_rows_init(&sorted, st->p, st->k, st->q, st->rows.ones);
	for (t = 0; t < st->k; t++)
		sorted.nlevels[t] = st->stats.term[t].nlevels;
	lmm_rows_sorted(&sorted, &st->rows, (int64_t *const *) map);
	for (t = 0; t < st->k; t++)
		pfree(map[t]);
	spec.family = st->opts.family;
	spec.link = st->opts.link;
	spec.nagq = st->opts.nagq;
	/* the fit takes as many threads as the parallel plan had processes scanning */
	spec.threads = st->n_partials > 1 ? (int) Min(st->n_partials, LMM_MAX_THREADS) : 1;
	status = lmm_glmm_fit(&sorted, &spec, &fit);
	lmm_rows_free(&sorted);
	if (status == LMM_ERR_OPTIMIZER)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the %s model's fit found no finite estimates", lmm_family_name(st->opts.family)),
				 errdetail("The deviance or its working weights overflowed, or the likelihood keeps rising without bound (complete separation)."),
				 errhint("Rescale the covariates and offsets (values near 1e300 overflow), or drop a covariate that separates the outcomes.")));
	if (status != LMM_OK && st->one_term)
		report_one_term_error(status, st, &fit);
	if (status != LMM_OK)
		report_formula_error(status, st, &fit);

	model_of_fit(st, &fit, texts, &m);
	m.flags = (fit.converged ? LMM_MODEL_CONVERGED : 0) |
		(fit.singular ? LMM_MODEL_SINGULAR : 0) |
		(fit.nterms > 1 ? LMM_MODEL_SEVERAL : 0) |
		((uint32) st->opts.link << LMM_MODEL_LINK_SHIFT);
	m.n_obs = st->rows.n;
	m.family = st->opts.family;
	m.link = st->opts.link;
	m.nagq = st->opts.nagq;
	return PointerGetDatum(lmm_model_to_datum(&m));
}
