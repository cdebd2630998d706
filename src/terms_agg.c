/*
 * terms_agg.c
 *	  The aggregate lmm_fit_terms: the general model with several
 *	  random-effects terms (crossed or nested factors), streamed row by row
 *	  into lmm_terms.h statistics and fitted at the end.  lmm() in formula.c
 *	  builds its arguments from a formula.
 *
 *	  lmm_fit_terms(y, x float8[], keys text[], z float8[], spec text
 *					[, options text])
 * x holds the fixed-effects row (an intercept is a first x of 1 on every
 * row); keys the level of each term; z the terms' z values one term after
 * another; spec names them:
 *	  {"x": ["(Intercept)", "days"],
 *	   "terms": [{"group": "subject", "z": ["(Intercept)", "days"]}, ...],
 *	   "formula": "reaction ~ days + (days | subject)"}		(formula optional)
 * A term may add "key_type": "integer" (or "smallint", "bigint"; "text" is
 * the default) when its keys are the text forms of integers: its levels
 * are then ordered by value and the model records the type, so scoring
 * indexes them by value.
 *
 * The aggregate runs in parallel: a worker's state travels as the binary
 * form of core/lmm_terms_io.h (statistics, counts, spec and options), and
 * the leader merges the workers' states exactly.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "parser/parse_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "core/lmm_fit.h"
#include "core/lmm_index.h"
#include "core/lmm_terms_io.h"
#include "terms_state.h"

#define SPEC "lmm_fit_terms spec"

/* The key type a term's "key_type" names: an integer type or text. */
static Oid
spec_key_type(const char *name)
{
	Oid			type;
	int32		typmod;

	parseTypeString(name, &type, &typmod, true);
	if (type != INT2OID && type != INT4OID && type != INT8OID && type != TEXTOID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s: \"key_type\" is \"%s\", not an integer type or text", SPEC, name),
				 errhint("Use \"smallint\", \"integer\" or \"bigint\" for keys that are the text of integers, or leave \"key_type\" out.")));
	return type;
}

/* Read the spec into st (in the aggregate context), checking its shape. */
static void
parse_spec(TermsState *st, const char *text)
{
	JsonbContainer *root = lmm_json_parse(SPEC, text, -1);
	JsonbContainer *terms;
	JsonbValue	v;
	int64		n;
	int			t;

	st->x_names = lmm_json_str_array(SPEC, lmm_json_key(SPEC, root, "x"), -1, &n, "x");
	if (n < 1 || n > LMM_MAX_COLUMNS)
		lmm_json_bad(SPEC, "\"x\" must name between 1 and 1000 columns");
	st->p = (int) n;
	terms = lmm_json_container(SPEC, lmm_json_key(SPEC, root, "terms"), true, -1, "terms");
	n = JsonContainerSize(terms);
	if (n < 1 || n > LMM_MAX_TERMS)
		lmm_json_bad(SPEC, "\"terms\" must have between 1 and 8 random-effects terms");
	st->k = (int) n;
	st->nz = 0;
	for (t = 0; t < st->k; t++)
	{
		JsonbContainer *o = lmm_json_container(SPEC, lmm_json_elem(terms, t), false, -1, "terms[]");

		st->grp[t] = lmm_json_str(SPEC, lmm_json_key(SPEC, o, "group"), "group");
		st->key_type[t] = TEXTOID;
		if (JsonContainerSize(o) == 3 &&
			getKeyJsonValueFromContainer(o, "key_type", 8, &v) != NULL)
			st->key_type[t] = spec_key_type(lmm_json_str(SPEC, v, "key_type"));
		else if (JsonContainerSize(o) != 2)
			lmm_json_bad(SPEC, "a term must have \"group\" and \"z\", and may have \"key_type\"");
		st->z_names[t] = lmm_json_str_array(SPEC, lmm_json_key(SPEC, o, "z"), -1, &n, "z");
		if (n < 1 || n > LMM_MAX_RANDOM)
			lmm_json_bad(SPEC, "\"z\" of a term must name between 1 and 20 columns");
		st->q[t] = (int) n;
		st->nz += st->q[t];
	}
	st->formula = "";
	if (getKeyJsonValueFromContainer(root, "formula", 7, &v) != NULL)
		st->formula = lmm_json_str(SPEC, v, "formula");
}

/*
 * A new state in ctx for a spec and options text (NULL for none), both
 * parsed and checked, with empty statistics of the shape the spec gives.
 */
TermsState *
lmm_terms_state_new(MemoryContext ctx, const char *spec, const char *options)
{
	MemoryContext old = MemoryContextSwitchTo(ctx);
	TermsState *st = palloc0(sizeof(TermsState));

	st->magic = LMM_TERMS_MAGIC;
	st->spec = pstrdup(spec);
	parse_spec(st, st->spec);
	st->options = options ? pstrdup(options) : NULL;
	lmm_parse_options(st->options, &st->opts);
	if (st->opts.n_x_names >= 0 || st->opts.n_z_names >= 0 || st->opts.g_name_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lmm_fit_terms and lmm() take only the option \"method\""),
				 errdetail("The names of the columns and terms come from the spec (in lmm(), from the formula).")));
	lmm_terms_init(&st->stats, st->p, st->k, st->q);
	MemoryContextSwitchTo(old);
	return st;
}

/* Nonzero when a text argument holds exactly the C string s (NULL for none). */
static bool
same_text(text *t, const char *s)
{
	if (t == NULL || s == NULL)
		return t == NULL && s == NULL;
	return VARSIZE_ANY_EXHDR(t) == strlen(s) &&
		memcmp(VARDATA_ANY(t), s, VARSIZE_ANY_EXHDR(t)) == 0;
}

/* The length of a one-dimensional array argument; error for more dimensions. */
static int
array_length1(ArrayType *a, const char *what)
{
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array, not %d-dimensional",
						what, ARR_NDIM(a)),
				 errdetail("Pass one row's values as ARRAY[a, b, ...].")));
	return ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
}

/* Error unless an array argument has the length the spec gives it. */
static void
check_length(int got, int want, const char *what, int64 row)
{
	if (got != want)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s has %d elements in input row %lld, but the spec names %d",
						what, got, (long long) row, want),
				 errdetail("Every row must give one value per name in the spec.")));
}

/* Error for a NaN or infinite value, naming the argument and position. */
static void
check_finite(const double *v, int n, const char *what, int64 row)
{
	int			i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s[%d] is %s in input row %lld", what, i + 1,
							isnan(v[i]) ? "NaN" : "infinite", (long long) row),
					 errdetail("lmm needs finite numbers; filter the row out or replace the value.")));
}

PG_FUNCTION_INFO_V1(lmm_terms_trans);

/*
 * lmm_fit_terms' transition: add one row.  A NULL y, array or element drops
 * the row (counted in the model's n_dropped).
 */
Datum
lmm_terms_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	TermsState *st;
	ArrayType  *xa,
			   *ka,
			   *za;
	text	   *options;
	Datum	   *keys;
	bool	   *knulls;
	int			nkeys;
	const char *kp[LMM_MAX_TERMS];
	uint32_t	kl[LMM_MAX_TERMS];
	double		y;
	int			t;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_terms_trans called in non-aggregate context"),
				 errdetail("Call the aggregate lmm_fit_terms instead.")));
	if (PG_ARGISNULL(5))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the spec of lmm_fit_terms must not be NULL"),
				 errdetail("Name the x columns and the terms, e.g. '{\"x\": [\"(Intercept)\"], \"terms\": [{\"group\": \"g\", \"z\": [\"(Intercept)\"]}]}'.")));

	options = (PG_NARGS() > 6 && !PG_ARGISNULL(6)) ? PG_GETARG_TEXT_PP(6) : NULL;
	if (PG_ARGISNULL(0))
		st = lmm_terms_state_new(aggctx, text_to_cstring(PG_GETARG_TEXT_PP(5)),
								 options ? text_to_cstring(options) : NULL);
	else
	{
		st = (TermsState *) PG_GETARG_POINTER(0);
		if (!same_text(PG_GETARG_TEXT_PP(5), st->spec))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the spec of lmm_fit_terms changed between rows"),
					 errdetail("One fit has one spec; pass it as a constant.")));
		if (!same_text(options, st->options))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the options of lmm_fit_terms changed between rows"),
					 errdetail("One fit has one set of options; pass them as a constant.")));
	}
	st->n_rows++;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4))
	{
		st->n_dropped++;
		PG_RETURN_POINTER(st);
	}
	y = PG_GETARG_FLOAT8(1);
	xa = PG_GETARG_ARRAYTYPE_P(2);
	ka = PG_GETARG_ARRAYTYPE_P(3);
	za = PG_GETARG_ARRAYTYPE_P(4);
	check_length(array_length1(xa, "x"), st->p, "x", st->n_rows);
	check_length(array_length1(ka, "keys"), st->k, "keys", st->n_rows);
	check_length(array_length1(za, "z"), st->nz, "z", st->n_rows);
	if (ARR_HASNULL(xa) || ARR_HASNULL(ka) || ARR_HASNULL(za))
	{
		st->n_dropped++;
		PG_RETURN_POINTER(st);
	}
	check_finite(&y, 1, "y", st->n_rows);
	check_finite((const double *) ARR_DATA_PTR(xa), st->p, "x", st->n_rows);
	check_finite((const double *) ARR_DATA_PTR(za), st->nz, "z", st->n_rows);

	/* the key texts, read in place (the per-row context frees the array) */
	deconstruct_array(ka, TEXTOID, -1, false, TYPALIGN_INT, &keys, &knulls, &nkeys);
	for (t = 0; t < st->k; t++)
	{
		text	   *k = DatumGetTextPP(keys[t]);

		kp[t] = VARDATA_ANY(k);
		kl[t] = (uint32_t) VARSIZE_ANY_EXHDR(k);
	}
	{
		MemoryContext old = MemoryContextSwitchTo(aggctx);

		lmm_terms_add_row(&st->stats, (const double *) ARR_DATA_PTR(xa), y, kp, kl,
						  (const double *) ARR_DATA_PTR(za));
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_POINTER(st);
}

/* Error unless two states come from the same spec and options. */
static void
check_same_fit(const TermsState *a, const TermsState *b)
{
	if (strcmp(a->spec, b->spec) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine lmm_fit_terms states with different specs"),
				 errdetail("One fit has one spec; pass it as a constant.")));
	if ((a->options == NULL) != (b->options == NULL) ||
		(a->options != NULL && strcmp(a->options, b->options) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine lmm_fit_terms states with different options: %s and %s",
						a->options ? a->options : "(none)",
						b->options ? b->options : "(none)"),
				 errdetail("One fit has one set of options; pass them as a constant.")));
}

PG_FUNCTION_INFO_V1(lmm_terms_combine);

/*
 * Combine two partial states of lmm_fit_terms (parallel workers) exactly.
 * Not strict: a NULL first state adopts the second, copied into the
 * aggregate context, since the second may live in a shorter-lived one.
 */
Datum
lmm_terms_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	MemoryContext old;
	TermsState *dst;
	TermsState *src;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_terms_combine called in non-aggregate context"),
				 errdetail("Call the aggregate lmm_fit_terms instead.")));
	dst = PG_ARGISNULL(0) ? NULL : (TermsState *) PG_GETARG_POINTER(0);
	src = PG_ARGISNULL(1) ? NULL : (TermsState *) PG_GETARG_POINTER(1);
	if (src == NULL)
	{
		if (dst == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(dst);
	}
	if (dst == NULL)
		dst = lmm_terms_state_new(aggctx, src->spec, src->options);
	check_same_fit(dst, src);
	old = MemoryContextSwitchTo(aggctx);
	lmm_terms_merge(&dst->stats, &src->stats);
	MemoryContextSwitchTo(old);
	dst->n_rows += src->n_rows;
	dst->n_dropped += src->n_dropped;
	PG_RETURN_POINTER(dst);
}

PG_FUNCTION_INFO_V1(lmm_terms_serialize);

/* Serialize a partial state for the leader: the binary form of lmm_terms_io.h. */
Datum
lmm_terms_serialize(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_terms_serialize called in non-aggregate context"),
				 errdetail("Call the aggregate lmm_fit_terms instead.")));
	PG_RETURN_BYTEA_P(lmm_tstats_pack((TermsState *) PG_GETARG_POINTER(0), true));
}

/* Raise the error for a partial state that fails validation. */
static void
bad_state(const char *problem)
{
	if (strcmp(problem, "interrupted") == 0)
		CHECK_FOR_INTERRUPTS();
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt lmm_fit_terms partial state: %s", problem),
			 errdetail("A parallel worker's state did not arrive intact."),
			 errhint("Run the query again; to avoid parallel workers, SET max_parallel_workers_per_gather = 0.")));
}

/*
 * Unpack and validate the binary form into a new state in the current
 * context, checking the statistics against the shape the spec gives:
 * returns NULL, or the problem (with *out unset) when the bytes are bad.
 */
const char *
lmm_terms_state_unpack(const char *data, size_t len, TermsState **out)
{
	LmmTermStats stats;
	LmmTermsMeta meta;
	const char *problem;
	TermsState *st;
	int			t;

	problem = lmm_terms_unpack((const unsigned char *) data, len, &stats, &meta);
	if (problem != NULL)
		return problem;
	st = lmm_terms_state_new(CurrentMemoryContext, meta.spec, meta.options);
	if (stats.p != st->p || stats.nterms != st->k)
		return "the statistics do not have the spec's shape";
	for (t = 0; t < st->k; t++)
		if (stats.term[t].q != st->q[t])
			return "the statistics do not have the spec's shape";
	lmm_terms_free(&st->stats);
	st->stats = stats;
	st->n_rows = meta.n_rows;
	st->n_dropped = meta.n_dropped;
	*out = st;
	return NULL;
}

PG_FUNCTION_INFO_V1(lmm_terms_deserialize);

/*
 * Deserialize a worker's partial state, validating every byte.  The result
 * lives in the current (per-call) context: the combine function copies
 * what it keeps.
 */
Datum
lmm_terms_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *v;
	const char *problem;
	TermsState *st = NULL;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_terms_deserialize called in non-aggregate context"),
				 errdetail("Call the aggregate lmm_fit_terms instead.")));
	v = PG_GETARG_BYTEA_PP(0);
	problem = lmm_terms_state_unpack(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), &st);
	if (problem != NULL)
		bad_state(problem);
	PG_RETURN_POINTER(st);
}

/* qsort comparator for level keys (C strings, byte order). */
static int
compare_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* An integer key's value and its text, sorted together. */
typedef struct IntKey
{
	int64		value;
	char	   *text;
} IntKey;

/* qsort comparator: integer keys in numeric order. */
static int
compare_int_keys(const void *a, const void *b)
{
	int64		x = ((const IntKey *) a)->value;
	int64		y = ((const IntKey *) b)->value;

	return (x > y) - (x < y);
}

/*
 * Order the nlevels keys of a term whose key type is an integer type by
 * value, in place; an error for a key that is not an integer of that type
 * as the type prints it (the text lmm() casts to).
 */
static void
sort_int_keys(char **keys, int64 nlevels, Oid type, const char *grp)
{
	IntKey	   *k = palloc_extended(sizeof(IntKey) * (nlevels + 1), MCXT_ALLOC_HUGE);
	int64		lo = type == INT2OID ? PG_INT16_MIN : type == INT4OID ? PG_INT32_MIN : PG_INT64_MIN;
	int64		hi = type == INT2OID ? PG_INT16_MAX : type == INT4OID ? PG_INT32_MAX : PG_INT64_MAX;
	int64		j;

	for (j = 0; j < nlevels; j++)
	{
		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		if (!lmm_index_parse_int((const unsigned char *) keys[j], strlen(keys[j]), &k[j].value) ||
			k[j].value < lo || k[j].value > hi)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("key \"%s\" of grouping factor \"%s\" is not a value of type %s as it prints",
							keys[j], grp, format_type_be(type)),
					 errhint("Pass the keys of a term with \"key_type\" %s as key::text, or leave \"key_type\" out of the spec.",
							 format_type_be(type))));
		k[j].text = keys[j];
	}
	qsort(k, nlevels, sizeof(IntKey), compare_int_keys);
	for (j = 0; j < nlevels; j++)
		keys[j] = k[j].text;
	pfree(k);
}

/*
 * A copy of the statistics with every term's levels in the order of their
 * keys (by value for integer keys, else bytewise), so that the model does
 * not depend on the order of the rows.
 */
static void
sorted_stats(const TermsState *st, LmmTermStats *out)
{
	const LmmTermStats *s = &st->stats;
	int			q[LMM_MAX_TERMS];
	int			t;
	int64		j;

	for (t = 0; t < s->nterms; t++)
		q[t] = s->term[t].q;
	lmm_terms_init(out, s->p, s->nterms, q);
	for (t = 0; t < s->nterms; t++)
	{
		const LmmTermLevels *lv = &s->term[t];
		char	  **keys = palloc_extended(sizeof(char *) * (lv->nlevels + 1), MCXT_ALLOC_HUGE);

		for (j = 0; j < lv->nlevels; j++)
			keys[j] = lv->key[j];
		if (st->key_type[t] == TEXTOID)
			qsort(keys, lv->nlevels, sizeof(char *), compare_cstr);
		else
			sort_int_keys(keys, lv->nlevels, st->key_type[t], st->grp[t]);
		for (j = 0; j < lv->nlevels; j++)
		{
			if ((j & 65535) == 0)
				CHECK_FOR_INTERRUPTS();
			lmm_terms_level(&out->term[t], keys[j], (uint32_t) strlen(keys[j]));
		}
		pfree(keys);
	}
	lmm_terms_merge(out, s);
}

/* Raise the error for a failed fit of several terms, in the user's terms. */
static void
report_terms_error(LmmStatus status, const TermsState *st, const LmmFit *fit)
{
	const char *grp = (fit->bad_term >= 0) ? st->grp[fit->bad_term] : "?";
	const LmmTermLevels *lv = (fit->bad_term >= 0) ? &st->stats.term[fit->bad_term] : NULL;
	int			col = fit->bad_column;
	const char *colname = (col >= 0 && col < st->p) ? st->x_names[col] : "?";

	switch (status)
	{
		case LMM_ERR_FEW_GROUPS:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("grouping factor \"%s\" has %lld level(s); a random-effects term needs at least two",
							grp, (long long) (lv ? lv->nlevels : 0)),
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
					 errmsg("the random-effects terms after the largest have more than %d levels x columns in all",
							LMM_MAX_DENSE),
					 errdetail("Their part of the Cholesky factor is dense; keep only one factor with very many levels.")));
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

/* The level keys of a term in model order (the sorted statistics' order). */
static char **
level_keys(const LmmTermLevels *lv)
{
	char	  **keys = palloc_extended(sizeof(char *) * (lv->nlevels + 1), MCXT_ALLOC_HUGE);
	int64		j;

	for (j = 0; j < lv->nlevels; j++)
		keys[j] = lv->key[j];
	return keys;
}

/*
 * Fit the statistics of a state that has rows and return the model: the
 * final step of lmm_fit_terms and of lmm_fit on several-term lmm_stats.
 */
Datum
lmm_terms_state_fit(TermsState *st, bool reml)
{
	LmmTermStats sorted;
	LmmFit		fit;
	LmmModel	m;
	LmmStatus	status;
	int			t,
				toff;

	sorted_stats(st, &sorted);
	status = lmm_fit_terms(&sorted, reml, 1, &fit);
	if (status != LMM_OK)
		report_terms_error(status, st, &fit);

	memset(&m, 0, sizeof(m));
	m.flags = (reml ? LMM_MODEL_REML : 0) |
		(fit.converged ? LMM_MODEL_CONVERGED : 0) |
		(fit.singular ? LMM_MODEL_SINGULAR : 0) |
		(fit.nterms > 1 ? LMM_MODEL_SEVERAL : 0);
	m.p = fit.p;
	m.n_obs = (int64) sorted.n;
	m.n_dropped = st->n_dropped;
	m.n_eval = fit.n_eval;
	m.criterion = fit.criterion;
	m.loglik = fit.loglik;
	m.aic = fit.aic;
	m.bic = fit.bic;
	m.sigma = fit.sigma;
	m.x_names = st->x_names;
	m.beta = fit.beta;
	m.vcov = fit.vcov;
	m.ninf = fit.ninf;
	m.vcov_varpar = fit.vcov_varpar;
	m.jac = fit.jac;
	m.formula = st->formula;
	m.tstats = &sorted;
	m.nextra = fit.nterms - 1;
	m.extra = palloc0(sizeof(LmmModelTerm) * fit.nterms);
	toff = 0;
	for (t = 0; t < fit.nterms; t++)
	{
		const LmmFitTerm *ft = &fit.term[t];
		int			src = ft->src;

		if (t == 0)
		{
			m.grp = st->grp[src];
			m.key_type = format_type_be(st->key_type[src]);
			m.q = ft->q;
			m.z_names = st->z_names[src];
			m.theta = fit.theta;
			m.nlevels = ft->nlevels;
			m.levels = level_keys(&sorted.term[src]);
			m.b = ft->b;
			m.condvar = ft->condvar;
		}
		else
		{
			LmmModelTerm *mt = &m.extra[t - 1];

			mt->grp = st->grp[src];
			mt->key_type = format_type_be(st->key_type[src]);
			mt->q = ft->q;
			mt->z_names = st->z_names[src];
			mt->theta = fit.theta + toff;
			mt->nlevels = ft->nlevels;
			mt->levels = level_keys(&sorted.term[src]);
			mt->b = ft->b;
			mt->condvar = ft->condvar;
		}
		toff += LMM_NTHETA(ft->q);
	}
	/* a model too big with its statistics keeps its estimates, without refits */
	if (lmm_model_packed_size(&m) > MaxAllocSize - VARHDRSZ)
		m.tstats = NULL;
	return PointerGetDatum(lmm_model_to_datum(&m));
}

PG_FUNCTION_INFO_V1(lmm_terms_final);

/* lmm_fit_terms' final function: fit and return the model; NULL without usable rows. */
Datum
lmm_terms_final(PG_FUNCTION_ARGS)
{
	TermsState *st;

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_terms_final called in non-aggregate context"),
				 errdetail("Call the aggregate lmm_fit_terms instead.")));
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	st = (TermsState *) PG_GETARG_POINTER(0);
	if (st->stats.n == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(lmm_terms_state_fit(st, st->opts.reml));
}
