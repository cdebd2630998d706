/*
 * score.c
 *	  Use a model where the rows are: predictions, one group's conditional
 *	  mode, and residuals, one row at a time.
 *
 * Each call site keeps the model it last saw in fn_extra: its head unpacked
 * and its levels in an index from key to conditional modes, so a query that
 * scores many rows with one model detoasts, parses and indexes it once.  The cache is keyed
 * by the model's identity (its TOAST pointer when it is stored out of line,
 * else its bytes), so a different model in the next row is noticed.
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "parser/parse_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/lmm_index.h"
#include "lmm_pg.h"

typedef struct ScoreCache
{
	MemoryContext cxt;			/* holds the model and index; reset on a change */
	bool		loaded;
	/* identity of the cached model datum */
	bool		ondisk;
	struct varatt_external toast;	/* when stored out of line */
	struct varlena *raw;		/* a copy of its bytes otherwise */
	LmmModel	m;
	LmmIndex	ix;
	/* how a group key argument becomes the text form the levels have */
	bool		parse_text;		/* key passed as text: read it as the key type */
	FmgrInfo	key_out;
	FmgrInfo	key_in;
	Oid			key_ioparam;
	int32		key_typmod;
} ScoreCache;

/* Nonzero if the datum v is the model the cache holds. */
static bool
same_model(const ScoreCache *c, struct varlena *v)
{
	if (!c->loaded)
		return false;
	if (VARATT_IS_EXTERNAL_ONDISK(v))
	{
		struct varatt_external t;

		VARATT_EXTERNAL_GET_POINTER(t, v);
		return c->ondisk && memcmp(&t, &c->toast, sizeof(t)) == 0;
	}
	return !c->ondisk && VARSIZE_ANY(v) == VARSIZE_ANY(c->raw) &&
		memcmp(v, c->raw, VARSIZE_ANY(v)) == 0;
}

/*
 * Decide how keys of the argument at argno reach the model's level texts:
 * through their own output function when their type is the model's key
 * type, through the key type's input and output functions when they are
 * text; any other type is an error naming both.
 */
static void
resolve_key(ScoreCache *c, FunctionCallInfo fcinfo, int argno)
{
	Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, argno);
	Oid			keytype;
	Oid			fn;
	bool		isvarlena;

	if (!OidIsValid(argtype))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("could not determine the type of the group key"),
				 errdetail("Call the function with a key whose type is known, e.g. a column or a cast value.")));
	parseTypeString(c->m.key_type, &keytype, &c->key_typmod, true);
	if (argtype == keytype)
	{
		c->parse_text = false;
		getTypeOutputInfo(argtype, &fn, &isvarlena);
		fmgr_info_cxt(fn, &c->key_out, c->cxt);
		return;
	}
	if (argtype != TEXTOID || !OidIsValid(keytype))
	{
		const char *keyname = OidIsValid(keytype) ? format_type_be(keytype) : c->m.key_type;

		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("group key of type %s does not match the model's key type %s",
						format_type_be(argtype), keyname),
				 OidIsValid(keytype) ?
				 errdetail("Cast the key to %s (or pass it as text).", keyname) :
				 errdetail("Type %s does not exist in this database; create it, or pass keys as text to a model fitted on text keys.",
						   keyname)));
	}
	c->parse_text = true;
	getTypeInputInfo(keytype, &fn, &c->key_ioparam);
	fmgr_info_cxt(fn, &c->key_in, c->cxt);
	getTypeOutputInfo(keytype, &fn, &isvarlena);
	fmgr_info_cxt(fn, &c->key_out, c->cxt);
}

/*
 * The model of argument 0, from the call site's cache or loaded into it; for
 * key_arg >= 0 also ready to look up keys passed at that argument.
 */
static ScoreCache *
score_model(FunctionCallInfo fcinfo, int key_arg)
{
	ScoreCache *c = (ScoreCache *) fcinfo->flinfo->fn_extra;
	struct varlena *v = (struct varlena *) PG_GETARG_POINTER(0);
	MemoryContext old;
	bytea	   *flat;
	const unsigned char *data;
	size_t		len;
	size_t		at;
	const char *problem;

	if (VARATT_IS_EXTERNAL(v) && !VARATT_IS_EXTERNAL_ONDISK(v))
		v = detoast_external_attr(v);
	if (c == NULL)
	{
		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(ScoreCache));
		c->cxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt, "lmm model cache",
									   ALLOCSET_DEFAULT_SIZES);
		fcinfo->flinfo->fn_extra = c;
	}
	else if (same_model(c, v))
		return c;

	c->loaded = false;
	MemoryContextReset(c->cxt);
	old = MemoryContextSwitchTo(c->cxt);
	c->ondisk = VARATT_IS_EXTERNAL_ONDISK(v);
	if (c->ondisk)
		VARATT_EXTERNAL_GET_POINTER(c->toast, v);
	else
	{
		c->raw = palloc_extended(VARSIZE_ANY(v), MCXT_ALLOC_HUGE);
		memcpy(c->raw, v, VARSIZE_ANY(v));
	}
	flat = DatumGetByteaPP(PointerGetDatum(v));
	data = (const unsigned char *) VARDATA_ANY(flat);
	len = VARSIZE_ANY_EXHDR(flat);
	problem = lmm_model_unpack_head(data, len, &c->m, &at);
	if (problem == NULL && (c->m.flags & LMM_MODEL_SEVERAL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("scoring a model with several random-effects terms is not supported yet"),
				 errdetail("Join lmm_ranef(m) on each grouping factor's level and add the effects to the fixed part from lmm_fixef(m).")));
	if (problem == NULL)
		problem = lmm_index_build(&c->ix, data + at, len - at, c->m.nlevels, c->m.q);
	if (problem != NULL)
		lmm_model_corrupt(problem);
	if (flat != (bytea *) v)
		pfree(flat);
	if (key_arg >= 0)
		resolve_key(c, fcinfo, key_arg);
	MemoryContextSwitchTo(old);
	c->loaded = true;
	return c;
}

/* The index record of the key at argument argno, or NULL for a level the model never saw. */
static const unsigned char *
key_level(ScoreCache *c, FunctionCallInfo fcinfo, int argno)
{
	Datum		key = PG_GETARG_DATUM(argno);
	char	   *s;
	const unsigned char *level;

	if (c->parse_text)
	{
		char	   *t = TextDatumGetCString(key);

		key = InputFunctionCall(&c->key_in, t, c->key_ioparam, c->key_typmod);
		pfree(t);
	}
	s = OutputFunctionCall(&c->key_out, key);
	level = lmm_index_find(&c->ix, s, strlen(s));
	pfree(s);
	return level;
}

/* Error for a NaN or infinite input value (as the aggregates refuse them). */
static void
check_finite(double v, const char *what, int pos)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is %s", pos > 0 ? psprintf("%s[%d]", what, pos) : what,
						isnan(v) ? "NaN" : "infinite"),
				 errdetail("Scoring needs finite numbers; filter the row out or replace the value, e.g. with NULLIF or a WHERE clause.")));
}

/*
 * Read the float8[] argument argno, which must hold exactly n finite
 * values; false if it holds a NULL (the answer is then NULL).
 */
static bool
row_values(FunctionCallInfo fcinfo, int argno, const char *what, int n,
		   const double **values)
{
	int			len = lmm_read_vector(fcinfo, argno, what, values);
	int			k;

	if (len >= 0 && len != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s has %d elements but the model has %d", what, len, n),
				 errdetail("Pass the %s values in the order the model was fitted with, without the intercept.",
						   strcmp(what, "x") == 0 ? "fixed-effect" : "random-effect")));
	for (k = 0; k < len; k++)
		check_finite((*values)[k], what, k + 1);
	return len >= 0;
}

/* A prediction or residual must be finite: products of huge values overflow. */
static double
finite_score(double v, const char *what)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the %s is out of range for type double precision", what),
				 errdetail("The row's values times the model's estimates overflow; rescale x or z (and refit).")));
	return v;
}

/*
 * Compute the prediction for one row into *eta: x at argument x_arg, the
 * group key at g_arg and z at z_arg (-1 when absent).  False when an array
 * holds a NULL.
 */
static bool
predict_row(FunctionCallInfo fcinfo, int x_arg, int g_arg, int z_arg,
			double *eta)
{
	ScoreCache *c = score_model(fcinfo, g_arg);
	const LmmModel *m = &c->m;
	const double *x;
	const double *z = NULL;
	double		sum = m->beta[0];
	const unsigned char *level;
	int			k;

	if (!row_values(fcinfo, x_arg, "x", m->p - 1, &x))
		return false;
	if (g_arg >= 0 && z_arg < 0 && m->q > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the model has random slopes, so the row's z values are needed"),
				 errdetail("Pass them after the group key, e.g. lmm_predict(m, x, g, ARRAY[...]).")));
	if (z_arg >= 0 && !row_values(fcinfo, z_arg, "z", m->q - 1, &z))
		return false;
	for (k = 1; k < m->p; k++)
		sum += m->beta[k] * x[k - 1];
	if (g_arg >= 0 && (level = key_level(c, fcinfo, g_arg)) != NULL)
	{
		sum += lmm_index_b(level, 0);
		for (k = 1; k < m->q; k++)
			sum += lmm_index_b(level, k) * z[k - 1];
	}
	*eta = finite_score(sum, "prediction");
	return true;
}

PG_FUNCTION_INFO_V1(lmm_predict);

/*
 * lmm_predict(m, x [, g [, z]]): the fixed part x'beta, plus the group's
 * conditional modes when g is given and the model saw that level (an unseen
 * level gets the population prediction, as lme4's allow.new.levels).
 */
Datum
lmm_predict(PG_FUNCTION_ARGS)
{
	int			nargs = PG_NARGS();
	double		eta;

	if (!predict_row(fcinfo, 1, nargs >= 3 ? 2 : -1, nargs >= 4 ? 3 : -1, &eta))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(eta);
}

PG_FUNCTION_INFO_V1(lmm_residual);

/* lmm_residual(m, y, x, g [, z]): y minus the conditional prediction. */
Datum
lmm_residual(PG_FUNCTION_ARGS)
{
	double		eta;

	if (!predict_row(fcinfo, 2, 3, PG_NARGS() >= 5 ? 4 : -1, &eta))
		PG_RETURN_NULL();
	check_finite(PG_GETARG_FLOAT8(1), "y", 0);
	PG_RETURN_FLOAT8(finite_score(PG_GETARG_FLOAT8(1) - eta, "residual"));
}

PG_FUNCTION_INFO_V1(lmm_blup);

/*
 * lmm_blup(m, g [, term]): the conditional mode of group g for a random-effect
 * term (the intercept by default); NULL for a level the model never saw.
 */
Datum
lmm_blup(PG_FUNCTION_ARGS)
{
	ScoreCache *c = score_model(fcinfo, 1);
	int			term = 0;
	const unsigned char *level;

	if (PG_NARGS() >= 3)
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(2));
		StringInfoData terms;

		for (term = 0; term < c->m.q; term++)
			if (strcmp(c->m.z_names[term], name) == 0)
				break;
		if (term == c->m.q)
		{
			initStringInfo(&terms);
			for (term = 0; term < c->m.q; term++)
				appendStringInfo(&terms, "%s\"%s\"", term > 0 ? ", " : "",
								 c->m.z_names[term]);
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the model has no random-effect term \"%s\"", name),
					 errdetail("Its terms for %s are: %s.", c->m.grp, terms.data)));
		}
		pfree(name);
	}
	level = key_level(c, fcinfo, 1);
	if (level == NULL)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(lmm_index_b(level, term));
}
