/*
 * agg.c
 *	  The aggregates lmm_fit, lmm_stats and lmm_merge: stream rows (or
 *	  statistics) into per-group sufficient statistics; combine, serialize
 *	  and deserialize them for parallel query; fit or pack them at the end.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/primnodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "state.h"

/* Error unless called as part of an aggregate; returns the aggregate context. */
MemoryContext
lmm_agg_context(FunctionCallInfo fcinfo, const char *fn, const char *agg)
{
	MemoryContext aggctx;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in non-aggregate context", fn),
				 errdetail("Call the aggregate %s instead.", agg)));
	return aggctx;
}

/*
 * Read a float8[] argument in place: its length, or -1 (with the row to be
 * dropped) when it holds a NULL element.  Multi-dimensional arrays are errors.
 */
int
lmm_read_vector(FunctionCallInfo fcinfo, int argno, const char *what,
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

/*
 * Error for a state that is not this transition function's own (an
 * aggregate defined with another's INITCOND): its keys would be read as
 * another type.
 */
void
lmm_state_mismatch(const char *fn)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("%s got a state of another kind of aggregate", fn),
			 errdetail("The state's statistics have other group keys or terms than the function's arguments."),
			 errhint("Use lmm's own aggregates, which start without a state.")));
}

/* Which optional arguments a call site of lmm_fit_trans passes, and the key type. */
typedef struct TransForm
{
	bool		has_z;			/* z is passed */
	int			wt_arg;			/* argument number of the weight, or -1 */
	int			off_arg;		/* argument number of the offset, or -1 */
	int			opt_arg;		/* argument number of options, or -1 */
	Oid			key_type;		/* the type of g */
} TransForm;

/*
 * The aggregate that Citus's worker_partial_agg names in its first
 * argument (a constant regprocedure), or InvalidOid.
 */
static Oid
named_aggregate(Aggref *aggref)
{
	Node	   *arg;

	if (aggref == NULL || aggref->args == NIL)
		return InvalidOid;
	arg = (Node *) castNode(TargetEntry, linitial(aggref->args))->expr;
	if (arg != NULL && IsA(arg, RelabelType))
		arg = (Node *) ((RelabelType *) arg)->arg;
	if (arg == NULL || !IsA(arg, Const) || ((Const *) arg)->constisnull ||
		(((Const *) arg)->consttype != OIDOID &&
		 ((Const *) arg)->consttype != REGPROCEDUREOID))
		return InvalidOid;
	return DatumGetObjectId(((Const *) arg)->constvalue);
}

/*
 * The key type an aggregate declares (its third argument), if its
 * transition function is fn, else InvalidOid: a foreign aggregate never
 * decides the type.
 */
static Oid
declared_key_type(Oid agg, Oid fn)
{
	HeapTuple	tp;
	bool		ours;
	Oid		   *argtypes;
	Oid			type;
	int			nargs;

	if (!OidIsValid(agg))
		return InvalidOid;
	tp = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(agg));
	if (!HeapTupleIsValid(tp))
		return InvalidOid;
	ours = ((Form_pg_aggregate) GETSTRUCT(tp))->aggtransfn == fn;
	ReleaseSysCache(tp);
	if (!ours)
		return InvalidOid;
	get_func_signature(agg, &argtypes, &nargs);
	type = nargs >= 3 ? argtypes[2] : InvalidOid;
	pfree(argtypes);
	return IsPolymorphicType(type) ? InvalidOid : type;
}

/*
 * The forms last read under Citus, which calls the transition function with
 * a new FmgrInfo (and no expression) for every row: kept per function and
 * the aggregate it runs for (a query may push down several), until
 * pg_proc or pg_aggregate changes.
 */
#define NAMED_FORMS 8
typedef struct NamedForm
{
	Oid			fn;
	Oid			agg;
	TransForm	form;
} NamedForm;
static NamedForm named_forms[NAMED_FORMS];
static int	named_forms_next = 0;
static bool named_forms_watched = false;

/* Syscache callback: pg_proc or pg_aggregate changed, so forget named_forms. */
static void
forget_named_forms(Datum arg, int cacheid, uint32 hashvalue)
{
	memset(named_forms, 0, sizeof(named_forms));
}

/* The kept form for fn running for aggregate agg, or NULL. */
static const TransForm *
named_form(Oid fn, Oid agg)
{
	int			i;

	for (i = 0; i < NAMED_FORMS; i++)
		if (named_forms[i].fn == fn && named_forms[i].agg == agg && OidIsValid(agg))
			return &named_forms[i].form;
	return NULL;
}

/* Keep the form of fn running for aggregate agg, replacing the oldest. */
static void
keep_named_form(Oid fn, Oid agg, const TransForm *form)
{
	if (!named_forms_watched)
	{
		CacheRegisterSyscacheCallback(PROCOID, forget_named_forms, (Datum) 0);
		CacheRegisterSyscacheCallback(AGGFNOID, forget_named_forms, (Datum) 0);
		named_forms_watched = true;
	}
	named_forms[named_forms_next].fn = fn;
	named_forms[named_forms_next].agg = agg;
	named_forms[named_forms_next].form = *form;
	named_forms_next = (named_forms_next + 1) % NAMED_FORMS;
}

/*
 * The argument form of this call site, read from the function's declared
 * argument types on the first call and kept in fn_extra.  Every
 * lmm_fit_trans is polymorphic in g, whose type comes from the call's
 * expression, or where Citus calls the transition function without one,
 * from the declaration of the aggregate its worker_partial_agg names:
 * every form with an lmm_stats state declares a concrete key type.
 */
static const TransForm *
trans_form(FunctionCallInfo fcinfo)
{
	TransForm  *f = (TransForm *) fcinfo->flinfo->fn_extra;
	Oid			fn = fcinfo->flinfo->fn_oid;
	Oid			named = InvalidOid;

	if (f == NULL)
	{
		HeapTuple	tp;
		Form_pg_proc proc;
		int			nargs;

		if (fcinfo->flinfo->fn_expr == NULL)
		{
			const TransForm *kept;

			named = named_aggregate(AggGetAggref(fcinfo));
			kept = named_form(fn, named);
			if (kept != NULL)
			{
				f = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(TransForm));
				*f = *kept;
				fcinfo->flinfo->fn_extra = f;
				return f;
			}
		}
		tp = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
		if (!HeapTupleIsValid(tp))
			elog(ERROR, "cache lookup failed for function %u", fn);
		proc = (Form_pg_proc) GETSTRUCT(tp);
		nargs = proc->pronargs;
		f = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(TransForm));
		f->has_z = nargs >= 5 && proc->proargtypes.values[4] == FLOAT8ARRAYOID;
		f->wt_arg = nargs == 7 ? 4 : nargs == 8 ? 5 : -1;
		f->off_arg = f->wt_arg > 0 ? f->wt_arg + 1 : -1;
		f->opt_arg = nargs >= 6 ? nargs - 1 : (nargs == 5 && !f->has_z) ? 4 : -1;
		ReleaseSysCache(tp);
		if (fcinfo->flinfo->fn_expr != NULL)
			f->key_type = get_fn_expr_argtype(fcinfo->flinfo, 3);
		else
		{
			f->key_type = declared_key_type(named, fn);
			if (OidIsValid(f->key_type))
				keep_named_form(fn, named, f);
		}
		if (!OidIsValid(f->key_type))
			ereport(ERROR,
					(errcode(ERRCODE_INDETERMINATE_DATATYPE),
					 errmsg("could not determine the type of the group keys of lmm_fit"),
					 errdetail("The caller passed neither the call's expression nor an aggregate that declares the key's type."),
					 errhint("Give the key type forms of its own with lmm_create_key_forms, or fit with lmm().")));
		fcinfo->flinfo->fn_extra = f;
	}
	return f;
}

/* A new state for the first row: key type, collation and options. */
static LmmAggState *
create_state(FunctionCallInfo fcinfo, MemoryContext aggctx, const TransForm *form)
{
	int			opt_arg = form->opt_arg;

	return lmm_state_one_term(lmm_state_context(aggctx), form->key_type,
							  PG_GET_COLLATION(),
							  (opt_arg > 0 && !PG_ARGISNULL(opt_arg)) ?
							  text_to_cstring(PG_GETARG_TEXT_PP(opt_arg)) : NULL);
}

PG_FUNCTION_INFO_V1(lmm_fit_trans);

/*
 * lmm_fit_trans(state, y, x, g [, z] [, options]): add one row, for lmm_fit
 * and lmm_stats alike.  Rows with a NULL y, g, array or array element are
 * counted and skipped.
 */
Datum
lmm_fit_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = lmm_agg_context(fcinfo, "lmm_fit_trans", "lmm_fit");
	LmmAggState *st;
	const TransForm *form = trans_form(fcinfo);
	bool		has_z = form->has_z;
	int			opt_arg = form->opt_arg;
	const double *x = NULL;
	const double *z = NULL;
	int			nx,
				nz = 0;
	double		y;
	int64		level;
	int			k;

	st = lmm_state_arg(fcinfo, 0, aggctx, true);
	if (st == NULL)
		st = create_state(fcinfo, aggctx, form);
	else if (!st->one_term || st->levels[0].type != form->key_type)
		lmm_state_mismatch("lmm_fit_trans");
	st->n_rows++;

	/* options are fixed by the first row; a change later is a mistake */
	if (opt_arg > 0)
	{
		bool		isnull = PG_ARGISNULL(opt_arg);
		text	   *o = isnull ? NULL : PG_GETARG_TEXT_PP(opt_arg);

		if ((o == NULL) != (st->options == NULL) ||
			(o != NULL && (VARSIZE_ANY_EXHDR(o) != strlen(st->options) ||
						   memcmp(VARDATA_ANY(o), st->options, VARSIZE_ANY_EXHDR(o)) != 0)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("lmm_fit options differ between rows"),
					 errdetail("Pass the same options text for every row, e.g. as a constant.")));
	}

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		(has_z && PG_ARGISNULL(4)) ||
		(form->wt_arg > 0 && (PG_ARGISNULL(form->wt_arg) || PG_ARGISNULL(form->off_arg))))
	{
		st->n_dropped++;
		PG_RETURN_DATUM(lmm_state_datum(st));
	}
	nx = lmm_read_vector(fcinfo, 2, "x", &x);
	if (has_z)
		nz = lmm_read_vector(fcinfo, 4, "z", &z);
	if (nx < 0 || nz < 0)
	{
		st->n_dropped++;
		PG_RETURN_DATUM(lmm_state_datum(st));
	}
	if (!st->started)
		lmm_state_start(st, nx, nz);
	else if (nx != st->p - 1 || nz != st->nz - 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s has %d elements in input row %lld but %d in the first row",
						nx != st->p - 1 ? "x" : "z", nx != st->p - 1 ? nx : nz,
						(long long) st->n_rows, nx != st->p - 1 ? st->p - 1 : st->nz - 1),
				 errdetail("Every row must pass arrays of the same length.")));

	/* the row with its intercepts: x = (1, x), z = (1, z) */
	y = PG_GETARG_FLOAT8(1);
	check_finite(y, "y", 0, st->n_rows);
	for (k = 0; k < nx; k++)
	{
		check_finite(x[k], "x", k + 1, st->n_rows);
		st->row[1 + k] = x[k];
	}
	for (k = 0; k < nz; k++)
	{
		check_finite(z[k], "z", k + 1, st->n_rows);
		st->row[st->p + 1 + k] = z[k];
	}

	if (st->opts.weights != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lmm_fit takes prior weights as an argument, not the option \"weights\""),
				 errdetail("Call lmm_fit(y, x, g [, z], weight, offset, options), or lmm() with weights=<column>.")));
	if (form->wt_arg > 0)
		lmm_state_keep_rows(st);
	if (st->keep_rows)
	{
		double		wt = form->wt_arg > 0 ? PG_GETARG_FLOAT8(form->wt_arg) : 1.0;
		double		off = form->wt_arg > 0 ? PG_GETARG_FLOAT8(form->off_arg) : 0.0;

		/* checked before the level is looked up: a dropped row adds no level */
		if (lmm_state_row_ok(st, &y, wt, off))
		{
			level = lmm_state_level(st, 0, PG_GETARG_DATUM(3));
			lmm_state_add_row(st, st->row, y, wt, off, &level, st->row + st->p);
		}
	}
	else
	{
		level = lmm_state_level(st, 0, PG_GETARG_DATUM(3));
		lmm_terms_add_row(&st->stats, st->row, y, &level, st->row + st->p);
	}
	PG_RETURN_DATUM(lmm_state_datum(st));
}

PG_FUNCTION_INFO_V1(lmm_merge_trans);

/*
 * lmm_merge_trans(state, s): merge one lmm_stats value; NULL values are
 * skipped.  One-term statistics and a formula's never mix.
 */
Datum
lmm_merge_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = lmm_agg_context(fcinfo, "lmm_merge_trans", "lmm_merge");
	LmmAggState *st = lmm_state_arg(fcinfo, 0, aggctx, true);
	bytea	   *v;
	LmmAggState *src;

	if (PG_ARGISNULL(1))
	{
		if (st == NULL)
			PG_RETURN_NULL();
		PG_RETURN_DATUM(lmm_state_datum(st));
	}
	v = PG_GETARG_BYTEA_PP(1);
	src = lmm_state_unpack(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), LMM_FROM_STORED);
	if (st == NULL)
		st = lmm_state_copy_empty(lmm_state_context(aggctx), src, InvalidOid);
	lmm_state_merge(st, src);
	PG_RETURN_DATUM(lmm_state_datum(st));
}

PG_FUNCTION_INFO_V1(lmm_agg_combine);

/*
 * Combine two partial states (parallel workers, partitions, Citus shards)
 * of any of the aggregates.  Not strict: a NULL first state adopts the
 * second, copied into a state of the aggregate's.  The second is read
 * where it is (another node's state) or unpacked for this call (a flat
 * value from a worker).
 */
Datum
lmm_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = lmm_agg_context(fcinfo, "lmm_agg_combine", "lmm_fit");
	LmmAggState *dst = lmm_state_arg(fcinfo, 0, aggctx, true);
	LmmAggState *src;

	/*
	 * A first flat state is unpacked into a state of the aggregate's and
	 * kept as it is, with nothing to merge, unless the call compares its
	 * keys under another collation than the type's.
	 */
	if (dst == NULL && !PG_ARGISNULL(1) &&
		!VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(PG_GETARG_DATUM(1))))
	{
		dst = lmm_state_arg(fcinfo, 1, aggctx, true);
		if (!dst->one_term || !OidIsValid(PG_GET_COLLATION()) ||
			dst->levels[0].collation == PG_GET_COLLATION())
		{
			dst->n_partials = Max(dst->n_partials, 1);
			PG_RETURN_DATUM(lmm_state_datum(dst));
		}
		src = dst;
		dst = NULL;
	}
	else
		src = lmm_state_arg(fcinfo, 1, NULL, false);

	if (src == NULL)
	{
		if (dst == NULL)
			PG_RETURN_NULL();
		PG_RETURN_DATUM(lmm_state_datum(dst));
	}
	if (dst == NULL)
		dst = lmm_state_copy_empty(lmm_state_context(aggctx), src, PG_GET_COLLATION());
	lmm_state_merge(dst, src);
	dst->n_partials += Max(src->n_partials, 1);
	PG_RETURN_DATUM(lmm_state_datum(dst));
}

PG_FUNCTION_INFO_V1(lmm_agg_serialize);

/*
 * The serialize function of lmm 0.6's aggregates, whose state type was
 * internal (their scripts bind it, and a server may run them until ALTER
 * EXTENSION lmm UPDATE): the state's flat form.
 */
Datum
lmm_agg_serialize(PG_FUNCTION_ARGS)
{
	lmm_agg_context(fcinfo, "lmm_agg_serialize", "lmm_fit");
	PG_RETURN_BYTEA_P(lmm_state_pack(lmm_state_arg(fcinfo, 0, NULL, false), true));
}

PG_FUNCTION_INFO_V1(lmm_agg_deserialize);

/*
 * lmm 0.6's deserialize function: the flat form travels on as it is, and
 * the combine function validates it as it does any flat state.
 */
Datum
lmm_agg_deserialize(PG_FUNCTION_ARGS)
{
	lmm_agg_context(fcinfo, "lmm_agg_deserialize", "lmm_fit");
	PG_RETURN_POINTER(PG_GETARG_BYTEA_P(0));
}

PG_FUNCTION_INFO_V1(lmm_fit_final);

/* lmm_fit's final function: fit the model; NULL when no row was usable. */
Datum
lmm_fit_final(PG_FUNCTION_ARGS)
{
	LmmAggState *st;

	lmm_agg_context(fcinfo, "lmm_fit_final", "lmm_fit");
	st = lmm_state_arg(fcinfo, 0, NULL, false);
	if (st == NULL)
		PG_RETURN_NULL();
	if (!st->started || st->stats.n == 0)
		PG_RETURN_NULL();
	if (st->keep_rows)
		PG_RETURN_DATUM(lmm_state_fit_glmm(st));
	PG_RETURN_DATUM(lmm_state_fit(st, st->opts.reml));
}

PG_FUNCTION_INFO_V1(lmm_stats_final);

/*
 * Final function of lmm_stats, lmm_merge and lmm_stats_terms: the
 * statistics as an lmm_stats value (NULL when there were no rows at all).
 * The method belongs to the fit, so lmm_stats refuses it.
 */
Datum
lmm_stats_final(PG_FUNCTION_ARGS)
{
	LmmAggState *st;

	lmm_agg_context(fcinfo, "lmm_stats_final", "lmm_stats");
	st = lmm_state_arg(fcinfo, 0, NULL, false);
	if (st == NULL)
		PG_RETURN_NULL();
	if (st->one_term && st->opts.method_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lmm_stats does not take the option \"method\""),
				 errdetail("Choose the method when fitting: lmm_fit(s, 'method=ml').")));
	PG_RETURN_BYTEA_P(lmm_state_pack(st, false));
}
