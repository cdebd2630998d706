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
 * The aggregate runs in parallel and on Citus workers: its state is an
 * lmm_stats value (state.c), which travels as the packed form of
 * core/lmm_terms_io.h (statistics, keys, counts, spec and options), and
 * the leader merges the workers' states exactly.  The state, its level
 * tables, merges and the fit are every aggregate's (state.c, fit.c).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "parser/parse_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "state.h"

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
	LmmAggState *st;
	ArrayType  *xa,
			   *ka,
			   *za;
	text	   *options;
	Datum	   *keys;
	bool	   *knulls;
	int			nkeys;
	int64		level[LMM_MAX_TERMS];
	double		y;
	int			t;

	/* (y, x, keys, z [, weight, offset], spec [, options]) */
	int			wt_arg = PG_NARGS() >= 8 ? 5 : -1;
	int			spec_arg = wt_arg > 0 ? 7 : 5;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_terms_trans called in non-aggregate context"),
				 errdetail("Call the aggregate lmm_fit_terms instead.")));
	if (PG_ARGISNULL(spec_arg))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the spec of lmm_fit_terms must not be NULL"),
				 errdetail("Name the x columns and the terms, e.g. '{\"x\": [\"(Intercept)\"], \"terms\": [{\"group\": \"g\", \"z\": [\"(Intercept)\"]}]}'.")));

	options = (PG_NARGS() > spec_arg + 1 && !PG_ARGISNULL(spec_arg + 1)) ?
		PG_GETARG_TEXT_PP(spec_arg + 1) : NULL;
	st = lmm_state_arg(fcinfo, 0, aggctx, true);
	if (st == NULL)
		st = lmm_state_formula(lmm_state_context(aggctx),
							   text_to_cstring(PG_GETARG_TEXT_PP(spec_arg)),
							   options ? text_to_cstring(options) : NULL);
	else
	{
		if (st->one_term)
			lmm_state_mismatch("lmm_terms_trans");
		if (!same_text(PG_GETARG_TEXT_PP(spec_arg), st->spec))
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

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) || PG_ARGISNULL(4) ||
		(wt_arg > 0 && (PG_ARGISNULL(wt_arg) || PG_ARGISNULL(wt_arg + 1))))
	{
		st->n_dropped++;
		PG_RETURN_DATUM(lmm_state_datum(st));
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
		PG_RETURN_DATUM(lmm_state_datum(st));
	}
	check_finite(&y, 1, "y", st->n_rows);
	check_finite((const double *) ARR_DATA_PTR(xa), st->p, "x", st->n_rows);
	check_finite((const double *) ARR_DATA_PTR(za), st->nz, "z", st->n_rows);

	/* the key texts, read in place (the per-row context frees the array) */
	deconstruct_array(ka, TEXTOID, -1, false, TYPALIGN_INT, &keys, &knulls, &nkeys);
	if (wt_arg > 0)
		lmm_state_keep_rows(st);
	else if (st->opts.weights != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lmm_fit_terms takes prior weights as an argument, not the option \"weights\""),
				 errdetail("Call lmm_fit_terms(y, x, keys, z, weight, offset, spec, options), or lmm() with weights=<column>.")));
	if (st->keep_rows)
	{
		double		wt = wt_arg > 0 ? PG_GETARG_FLOAT8(wt_arg) : 1.0;
		double		off = wt_arg > 0 ? PG_GETARG_FLOAT8(wt_arg + 1) : 0.0;

		/* checked before the levels are looked up: a dropped row adds none */
		if (lmm_state_row_ok(st, &y, wt, off))
		{
			for (t = 0; t < st->k; t++)
				level[t] = lmm_state_level(st, t, keys[t]);
			lmm_state_add_row(st, (const double *) ARR_DATA_PTR(xa), y, wt, off,
							  level, (const double *) ARR_DATA_PTR(za));
		}
	}
	else
	{
		MemoryContext old;

		for (t = 0; t < st->k; t++)
			level[t] = lmm_state_level(st, t, keys[t]);
		old = MemoryContextSwitchTo(st->ctx);
		lmm_terms_add_row(&st->stats, (const double *) ARR_DATA_PTR(xa), y, level,
						  (const double *) ARR_DATA_PTR(za));
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_DATUM(lmm_state_datum(st));
}

/*
 * The support and final functions of lmm_fit_terms are every aggregate's
 * (agg.c): one state, one merge, one packed form.  These names stay
 * because the scripts of lmm 0.6 and earlier bind them.
 */

PG_FUNCTION_INFO_V1(lmm_terms_combine);

/* lmm_fit_terms' combine function: lmm_agg_combine. */
Datum
lmm_terms_combine(PG_FUNCTION_ARGS)
{
	return lmm_agg_combine(fcinfo);
}

PG_FUNCTION_INFO_V1(lmm_terms_serialize);

/* lmm_fit_terms' serialize function: lmm_agg_serialize. */
Datum
lmm_terms_serialize(PG_FUNCTION_ARGS)
{
	return lmm_agg_serialize(fcinfo);
}

PG_FUNCTION_INFO_V1(lmm_terms_deserialize);

/* lmm_fit_terms' deserialize function: lmm_agg_deserialize. */
Datum
lmm_terms_deserialize(PG_FUNCTION_ARGS)
{
	return lmm_agg_deserialize(fcinfo);
}

PG_FUNCTION_INFO_V1(lmm_terms_final);

/* lmm_fit_terms' final function: lmm_fit_final (fit; NULL without usable rows). */
Datum
lmm_terms_final(PG_FUNCTION_ARGS)
{
	return lmm_fit_final(fcinfo);
}
