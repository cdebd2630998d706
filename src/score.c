/*
 * score.c
 *	  Use a model where the rows are: predictions, one group's conditional
 *	  mode, and residuals, one row at a time, for models with one
 *	  random-effects term or several.
 *
 * Each call site keeps the model it last saw in fn_extra: unpacked, and
 * every term's levels in an index from key to conditional modes, so a query
 * that scores many rows with one model detoasts, parses and indexes it
 * once and finds each key in O(1).  The cache is keyed by the model's
 * identity (its TOAST pointer when it is stored out of line, else its
 * bytes), so a different model in the next row is noticed.
 *
 * Loading is what a query with a large model pays once: a model stored out
 * of line is fetched only as far as its terms' level records go (a one-term
 * model's statistics, as large again, are neither read nor decompressed),
 * every term is indexed straight from its level records, and a term whose
 * keys are integers is indexed by value, one probe of one table per row,
 * with no text form of the key made (a key passed as text is read as an
 * integer without the type's input function when it is one as integers
 * print).
 *
 * A row's x holds the fixed-effect values without the intercept, and its z
 * the values of every term's columns without the term's intercept, term
 * after term; an intercept is a first column named "(Intercept)".
 */
#include "postgres.h"

#include <math.h>

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "parser/parse_type.h"
#include "utils/array.h"
#include "utils/arrayaccess.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "core/lmm_index.h"
#include "lmm_pg.h"

#define INTERCEPT "(Intercept)"

/* One random-effects term as scoring sees it. */
typedef struct ScoreTerm
{
	LmmModelTerm v;				/* its factor and columns (not its levels) */
	char	   *name;			/* as lmm_varcorr names it ("g.1" for a repeat) */
	int			zskip;			/* 1 when its first column is an intercept */
	bool		int_keys;		/* indexed by integer value in iix, else in ix */
	LmmIndex	ix;
	LmmIntIndex iix;
	/* how a group key argument becomes a level, set up at the term's first key */
	Oid			keytype;		/* the term's key type, InvalidOid if unknown */
	int32		key_typmod;
	bool		resolved;
	bool		direct;			/* a text key of a text-keyed term: its bytes */
	bool		parse_text;		/* key passed as text: read it as the key type */
	bool		cast;			/* key's type casts implicitly to the key type */
	FmgrInfo	key_cast;		/* ... through this function */
	FmgrInfo	key_out;
	FmgrInfo	key_in;
	Oid			key_ioparam;
} ScoreTerm;

typedef struct ScoreCache
{
	MemoryContext cxt;			/* holds the model and index; reset on a change */
	bool		loaded;
	/* identity of the cached model datum */
	bool		ondisk;
	struct varatt_external toast;	/* when stored out of line */
	struct varlena *raw;		/* a copy of its bytes otherwise */
	LmmModel	m;
	int			nterms;
	ScoreTerm	term[LMM_MAX_TERMS];
	int			xskip;			/* 1 when the first fixed effect is an intercept */
	int			nz;				/* z values a row passes, all terms together */
	Oid			argtype;		/* type of the group key argument */
	double		b[LMM_MAX_RANDOM];	/* a text-indexed level's modes, as found */
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
 * Decide how keys of type argtype reach the levels of term st: through
 * their own output function when their type is the term's key type (as
 * they are when both are text), through the implicit cast that made the
 * fit's keys when they have a type the fit's key form took that way
 * (char(n), varchar or name keys of a text-keyed fit), through the key
 * type's input and output functions when they are text; any other type is
 * an error naming both.
 */
static void
resolve_key(ScoreCache *c, ScoreTerm *st, Oid argtype)
{
	Oid			keytype = st->keytype;
	Oid			fn;
	bool		isvarlena;
	CoercionPathType path = COERCION_PATH_NONE;

	if (argtype != keytype && argtype != TEXTOID && OidIsValid(keytype))
		path = find_coercion_pathway(keytype, argtype, COERCION_IMPLICIT, &fn);
	if (path == COERCION_PATH_FUNC)
	{
		st->cast = true;
		fmgr_info_cxt(fn, &st->key_cast, c->cxt);
	}
	if (argtype == keytype || path == COERCION_PATH_RELABELTYPE || path == COERCION_PATH_FUNC)
	{
		argtype = keytype;
		st->parse_text = false;
		st->direct = (argtype == TEXTOID);
		getTypeOutputInfo(argtype, &fn, &isvarlena);
		fmgr_info_cxt(fn, &st->key_out, c->cxt);
		st->resolved = true;
		return;
	}
	if (argtype != TEXTOID || !OidIsValid(keytype))
	{
		const char *keyname = OidIsValid(keytype) ? format_type_be(keytype) : st->v.key_type;

		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 c->nterms > 1 ?
				 errmsg("group key of type %s does not match the key type %s of grouping factor \"%s\"",
						format_type_be(argtype), keyname, st->name) :
				 errmsg("group key of type %s does not match the model's key type %s",
						format_type_be(argtype), keyname),
				 OidIsValid(keytype) ?
				 errdetail("Cast the key to %s (or pass it as text).", keyname) :
				 errdetail("Type %s does not exist in this database; create it, or pass keys as text to a model fitted on text keys.",
						   keyname)));
	}
	st->parse_text = true;
	st->direct = false;
	getTypeInputInfo(keytype, &fn, &st->key_ioparam);
	fmgr_info_cxt(fn, &st->key_in, c->cxt);
	getTypeOutputInfo(keytype, &fn, &isvarlena);
	fmgr_info_cxt(fn, &st->key_out, c->cxt);
	st->resolved = true;
}

/*
 * Index every term of the model whose binary form (total bytes) starts
 * with the len bytes at data, straight from its level records: after only
 * the head of a one-term model is read (the fast path for millions of
 * levels), after the parts before and between the records of a model of
 * several terms.  A term whose keys are integers is indexed by value when
 * keys will be looked up (with_key).  NULL or the problem.
 */
static const char *
index_model(ScoreCache *c, const unsigned char *data, size_t len, size_t total,
			bool with_key)
{
	size_t		at[LMM_MAX_TERMS];
	size_t		need;
	const char *problem = lmm_model_unpack_head(data, len, &c->m, &at[0]);
	int			t,
				u;

	if (problem != NULL)
		return problem;
	if (c->m.flags & LMM_MODEL_SEVERAL)
	{
		lmm_model_free(&c->m);
		problem = lmm_model_unpack_terms(data, len, total, &c->m, at, &need);
		if (problem == NULL && need > 0)
			problem = "lmm_model value is truncated";
		if (problem != NULL)
			return problem;
	}

	c->nterms = c->m.nextra + 1;
	c->xskip = strcmp(c->m.x_names[0], INTERCEPT) == 0 ? 1 : 0;
	c->nz = 0;
	for (t = 0; t < c->nterms; t++)
	{
		ScoreTerm  *st = &c->term[t];
		int			repeats = 0;

		memset(st, 0, sizeof(ScoreTerm));
		st->v = lmm_model_term(&c->m, t);
		st->keytype = InvalidOid;
		if (with_key)
			parseTypeString(st->v.key_type ? st->v.key_type : "text",
							&st->keytype, &st->key_typmod, true);
		st->int_keys = st->keytype == INT2OID || st->keytype == INT4OID ||
			st->keytype == INT8OID;
		problem = st->int_keys ?
			lmm_int_index_build(&st->iix, data + at[t], len - at[t], st->v.nlevels, st->v.q) :
			lmm_index_build(&st->ix, data + at[t], len - at[t], st->v.nlevels, st->v.q);
		if (problem != NULL)
			return problem;
		st->zskip = strcmp(st->v.z_names[0], INTERCEPT) == 0 ? 1 : 0;
		c->nz += st->v.q - st->zskip;
		for (u = 0; u < t; u++)
			if (strcmp(c->term[u].v.grp, st->v.grp) == 0)
				repeats++;
		st->name = repeats == 0 ? st->v.grp : psprintf("%s.%d", st->v.grp, repeats);
	}
	return NULL;
}

/* What of a model stored out of line is fetched first: enough for its head. */
#define HEAD_SLICE 8192

/*
 * The first bytes of a several-term model stored out of line (total bytes;
 * head holds its first ones) that hold everything scoring reads, fetched
 * piece by piece as lmm_model_unpack_terms asks for more; NULL when it
 * finds a problem (the whole value is then read, and its problems
 * reported).
 */
static bytea *
terms_prefix(struct varlena *v, bytea *head, size_t total)
{
	bytea	   *buf = head;
	size_t		have = VARSIZE_ANY_EXHDR(head);

	for (;;)
	{
		LmmModel	m;
		size_t		at[LMM_MAX_TERMS];
		size_t		need;
		const char *problem = lmm_model_unpack_terms((const unsigned char *) VARDATA_ANY(buf),
													 have, total, &m, at, &need);
		struct varlena *more;

		lmm_model_free(&m);
		if (problem != NULL)
		{
			pfree(buf);
			return NULL;
		}
		if (need == 0)
			return buf;
		CHECK_FOR_INTERRUPTS();
		more = detoast_attr_slice(v, have, need - have);
		buf = repalloc_huge(buf, VARHDRSZ + need);
		memcpy(VARDATA(buf) + have, VARDATA_ANY(more), need - have);
		SET_VARSIZE(buf, VARHDRSZ + need);
		pfree(more);
		have = need;
	}
}

/*
 * The bytes of model datum v that scoring reads, *total the size of the
 * whole value: a model stored out of line is fetched (and, when
 * compressed, decompressed) only up to where its terms' level records end,
 * leaving out a one-term model's statistics, about half of it.
 */
static bytea *
scoring_bytes(struct varlena *v, size_t *total)
{
	if (VARATT_IS_EXTERNAL_ONDISK(v))
	{
		Size		len = toast_raw_datum_size(PointerGetDatum(v)) - VARHDRSZ;
		bytea	   *head;
		bytea	   *terms;
		size_t		prefix;

		*total = len;
		if (len <= HEAD_SLICE)
			return (bytea *) detoast_attr(v);
		head = (bytea *) detoast_attr_slice(v, 0, HEAD_SLICE);
		prefix = lmm_model_scoring_prefix((const unsigned char *) VARDATA_ANY(head),
										  VARSIZE_ANY_EXHDR(head), len);
		if (prefix > 0)
		{
			pfree(head);
			return (bytea *) detoast_attr_slice(v, 0, prefix);
		}
		if ((terms = terms_prefix(v, head, len)) != NULL)
			return terms;
	}
	*total = toast_raw_datum_size(PointerGetDatum(v)) - VARHDRSZ;
	return DatumGetByteaPP(PointerGetDatum(v));
}

/*
 * The model of argument 0, from the call site's cache or loaded into it;
 * with_key, keys ready to be looked up: those of argument key_arg, or text
 * keys (a text[] of them) when key_arg is -1; their type is asked for only
 * when a model is loaded, not every row.  When
 * the prefix of a stored model does not hold its level records (a model
 * whose tail is smaller than lmm_fit's), the whole value is read instead,
 * and its problems, if any, are the ones reported.
 */
static ScoreCache *
score_model(FunctionCallInfo fcinfo, bool with_key, int key_arg)
{
	ScoreCache *c = (ScoreCache *) fcinfo->flinfo->fn_extra;
	struct varlena *v = (struct varlena *) PG_GETARG_POINTER(0);
	MemoryContext old;
	bytea	   *flat;
	size_t		total;
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
	flat = scoring_bytes(v, &total);
	problem = index_model(c, (const unsigned char *) VARDATA_ANY(flat),
						  VARSIZE_ANY_EXHDR(flat), total, with_key);
	if (problem != NULL && VARSIZE_ANY_EXHDR(flat) < total)
	{
		pfree(flat);
		flat = DatumGetByteaPP(PointerGetDatum(v));
		problem = index_model(c, (const unsigned char *) VARDATA_ANY(flat),
							  VARSIZE_ANY_EXHDR(flat), total, with_key);
	}
	if (problem != NULL)
		lmm_model_corrupt(problem);
	if (flat != (bytea *) v)
		pfree(flat);
	c->argtype = key_arg >= 0 ? get_fn_expr_argtype(fcinfo->flinfo, key_arg) : TEXTOID;
	if (with_key && !OidIsValid(c->argtype))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("could not determine the type of the group key"),
				 errdetail("Call the function with a key whose type is known, e.g. a column or a cast value.")));
	MemoryContextSwitchTo(old);
	c->loaded = true;
	return c;
}

/* Nonzero when v is within the range of integer type type. */
static bool
int_in_range(Oid type, int64 v)
{
	if (type == INT2OID)
		return v >= PG_INT16_MIN && v <= PG_INT16_MAX;
	if (type == INT4OID)
		return v >= PG_INT32_MIN && v <= PG_INT32_MAX;
	return true;
}

/*
 * The conditional modes of the level of a key in term t, or NULL for a
 * level the model never saw.  A text-indexed level's are copied into the
 * cache, valid until the next call.
 */
static const double *
find_level(ScoreCache *c, int t, Datum key)
{
	ScoreTerm  *st = &c->term[t];
	char	   *s;
	const unsigned char *level;
	int			k;

	if (!st->resolved)
		resolve_key(c, st, c->argtype);
	if (st->cast)
		key = FunctionCall1(&st->key_cast, key);
	if (st->direct)
	{
		text	   *kt = DatumGetTextPP(key);

		level = lmm_index_find(&st->ix, VARDATA_ANY(kt), VARSIZE_ANY_EXHDR(kt));
	}
	else
	{
		if (st->parse_text)
		{
			text	   *kt = DatumGetTextPP(key);
			char	   *txt;
			int64		v;

			/* an integer as integers print: no input function needed */
			if (st->int_keys &&
				lmm_index_parse_int((const unsigned char *) VARDATA_ANY(kt),
									VARSIZE_ANY_EXHDR(kt), &v) &&
				int_in_range(st->keytype, v))
				return lmm_int_index_find(&st->iix, v);
			txt = text_to_cstring(kt);
			key = InputFunctionCall(&st->key_in, txt, st->key_ioparam, st->key_typmod);
			pfree(txt);
		}
		if (st->int_keys)
			return lmm_int_index_find(&st->iix,
									  st->keytype == INT8OID ? DatumGetInt64(key) :
									  st->keytype == INT4OID ? DatumGetInt32(key) :
									  DatumGetInt16(key));
		s = OutputFunctionCall(&st->key_out, key);
		level = lmm_index_find(&st->ix, s, strlen(s));
		pfree(s);
	}
	if (level == NULL)
		return NULL;
	for (k = 0; k < st->v.q; k++)
		c->b[k] = lmm_index_b(level, k);
	return c->b;
}

/* The terms' names, "a, b", for messages. */
static char *
term_names(const ScoreCache *c)
{
	StringInfoData buf;
	int			t;

	initStringInfo(&buf);
	for (t = 0; t < c->nterms; t++)
		appendStringInfo(&buf, "%s%s", t > 0 ? ", " : "", c->term[t].name);
	return buf.data;
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
				 strcmp(what, "x") == 0 ?
				 errdetail("Pass the fixed-effect values in the order the model was fitted with, without the intercept.") :
				 errdetail("Pass the random-effect values of every term in the model's order (lmm_varcorr's), without intercepts.")));
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
 * The fixed part x'beta of the row whose x is at argument x_arg, and the
 * row's z values from z_arg (-1: none; an error when the terms need them).
 * False when an array holds a NULL.
 */
static bool
fixed_part(ScoreCache *c, FunctionCallInfo fcinfo, int x_arg, int z_arg,
		   bool need_z, double *eta, const double **z)
{
	const LmmModel *m = &c->m;
	const double *x;
	double		sum = c->xskip ? m->beta[0] : 0.0;
	int			k;

	if (!row_values(fcinfo, x_arg, "x", m->p - c->xskip, &x))
		return false;
	if (need_z && z_arg < 0 && c->nz > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the model has random slopes, so the row's z values are needed"),
				 errdetail("Pass %d z value(s) after the key(s): every term's columns but its intercept, in term order.",
						   c->nz)));
	*z = NULL;
	if (z_arg >= 0 && !row_values(fcinfo, z_arg, "z", c->nz, z))
		return false;
	for (k = c->xskip; k < m->p; k++)
		sum += m->beta[k] * x[k - c->xskip];
	*eta = finite_score(sum, "prediction");
	return true;
}

/*
 * Add what a level of a term contributes, at the term's z values, to the
 * sum so far: effect by effect, in the order the one-term scoring always
 * added them, so its predictions stay the same to the last bit.
 */
static double
add_term(double sum, const ScoreTerm *st, const double *b, const double *z)
{
	int			k;

	if (st->zskip)
		sum += b[0];
	for (k = st->zskip; k < st->v.q; k++)
		sum += b[k] * z[k - st->zskip];
	return sum;
}

/* Error for a model of several terms scored with one key. */
static void
one_key_for_several(const ScoreCache *c, const char *fn)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the model has %d random-effects terms (%s), so one key is not enough",
					c->nterms, term_names(c)),
			 errhint("Pass one key per term, in this order, as text[]: %s(m, %sx, ARRAY[...]::text[]%s).",
					 fn, strcmp(fn, "lmm_residual") == 0 ? "y, " : "",
					 c->nz > 0 ? ", z" : "")));
}

/*
 * Compute the prediction for one row into *eta: x at argument x_arg, one
 * group key at g_arg (-1: none, the population prediction) and z at z_arg
 * (-1 when absent).  False when an array holds a NULL.
 */
static bool
predict_one(FunctionCallInfo fcinfo, const char *fn, int x_arg, int g_arg,
			int z_arg, double *eta)
{
	ScoreCache *c = score_model(fcinfo, g_arg >= 0, g_arg);
	const double *z;
	const double *level;

	if (g_arg >= 0 && c->nterms > 1)
		one_key_for_several(c, fn);
	if (!fixed_part(c, fcinfo, x_arg, z_arg, g_arg >= 0, eta, &z))
		return false;
	if (g_arg >= 0 && (level = find_level(c, 0, PG_GETARG_DATUM(g_arg))) != NULL)
		*eta = finite_score(add_term(*eta, &c->term[0], level, z), "prediction");
	return true;
}

/*
 * Compute the prediction for one row into *eta with one key per term: x at
 * argument x_arg, the keys (text[]) at keys_arg, z at z_arg (-1 when
 * absent).  A level a term never saw adds nothing.  False when an array
 * holds a NULL, a NULL key included.
 */
static bool
predict_keys(FunctionCallInfo fcinfo, int x_arg, int keys_arg, int z_arg,
			 double *eta)
{
	ScoreCache *c = score_model(fcinfo, true, -1);
	ArrayType  *keys = PG_GETARG_ARRAYTYPE_P(keys_arg);
	int			nkeys = ARR_NDIM(keys) == 0 ? 0 : ARR_DIMS(keys)[0];
	array_iter	it;
	const double *z;
	int			t;

	if (ARR_NDIM(keys) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("keys must be a one-dimensional array, not %d-dimensional",
						ARR_NDIM(keys)),
				 errdetail("Pass one key per term, ARRAY[k1, k2, ...].")));
	if (nkeys != c->nterms)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("keys has %d elements but the model has %d random-effects terms (%s)",
						nkeys, c->nterms, term_names(c)),
				 errdetail("Pass one key per term, in this order (lmm_varcorr's).")));
	if (!fixed_part(c, fcinfo, x_arg, z_arg, true, eta, &z))
		return false;
	array_iter_setup(&it, (AnyArrayType *) keys);
	for (t = 0; t < c->nterms; t++)
	{
		const ScoreTerm *st = &c->term[t];
		bool		isnull;
		Datum		key = array_iter_next(&it, &isnull, t, -1, false, TYPALIGN_INT);
		const double *level;

		if (isnull)
			return false;
		if ((level = find_level(c, t, key)) != NULL)
			*eta = finite_score(add_term(*eta, st, level, z), "prediction");
		if (z != NULL)
			z += st->v.q - st->zskip;
	}
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

	if (!predict_one(fcinfo, "lmm_predict", 1, nargs >= 3 ? 2 : -1,
					 nargs >= 4 ? 3 : -1, &eta))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(eta);
}

PG_FUNCTION_INFO_V1(lmm_predict_keys);

/*
 * lmm_predict(m, x, keys text[] [, z]): the fixed part plus every term's
 * conditional modes at the row's level of that term.
 */
Datum
lmm_predict_keys(PG_FUNCTION_ARGS)
{
	double		eta;

	if (!predict_keys(fcinfo, 1, 2, PG_NARGS() >= 4 ? 3 : -1, &eta))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(eta);
}

/*
 * Error unless the model scored (cached by the prediction) is an LMM: a
 * GLMM's residual depends on the offset, the weight and the type, which
 * lmm_residual(m, y, eta, type, weight) takes.
 */
static void
residual_of_lmm(FunctionCallInfo fcinfo)
{
	const ScoreCache *c = (const ScoreCache *) fcinfo->flinfo->fn_extra;

	if (c != NULL && (c->m.flags & LMM_MODEL_LINK_MASK) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("lmm_residual(m, y, x, g) is a linear mixed model's residual; this model is generalized"),
				 errhint("Use lmm_residual(m, y, lmm_predict(m, x, g) + offset, 'deviance' or 'pearson' or 'response', weight).")));
}

PG_FUNCTION_INFO_V1(lmm_residual);

/* lmm_residual(m, y, x, g [, z]): y minus the conditional prediction. */
Datum
lmm_residual(PG_FUNCTION_ARGS)
{
	double		eta;

	if (!predict_one(fcinfo, "lmm_residual", 2, 3, PG_NARGS() >= 5 ? 4 : -1, &eta))
		PG_RETURN_NULL();
	residual_of_lmm(fcinfo);
	check_finite(PG_GETARG_FLOAT8(1), "y", 0);
	PG_RETURN_FLOAT8(finite_score(PG_GETARG_FLOAT8(1) - eta, "residual"));
}

PG_FUNCTION_INFO_V1(lmm_residual_keys);

/* lmm_residual(m, y, x, keys text[] [, z]): y minus the prediction of every term. */
Datum
lmm_residual_keys(PG_FUNCTION_ARGS)
{
	double		eta;

	if (!predict_keys(fcinfo, 2, 3, PG_NARGS() >= 5 ? 4 : -1, &eta))
		PG_RETURN_NULL();
	residual_of_lmm(fcinfo);
	PG_RETURN_FLOAT8(PG_GETARG_FLOAT8(1) - eta);
}

/* The column of term t named name, or an error listing the term's columns. */
static int
term_column(const ScoreCache *c, int t, const char *name)
{
	const ScoreTerm *st = &c->term[t];
	StringInfoData cols;
	int			k;

	for (k = 0; k < st->v.q; k++)
		if (strcmp(st->v.z_names[k], name) == 0)
			return k;
	initStringInfo(&cols);
	for (t = 0; t < c->nterms; t++)
		if (strcmp(c->term[t].v.grp, st->v.grp) == 0)
			for (k = 0; k < c->term[t].v.q; k++)
				appendStringInfo(&cols, "%s\"%s\"", cols.len > 0 ? ", " : "",
								 c->term[t].v.z_names[k]);
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("the model has no random-effect term \"%s\"", name),
			 errdetail("Its terms for %s are: %s.", st->v.grp, cols.data)));
	return -1;
}

/*
 * The term whose factor is named grp (as lmm_ranef's grp, or as
 * lmm_varcorr's with ".1" for a repeat) and, when column is not NULL, which
 * has that column: the first such; an error naming the factors otherwise.
 */
static int
find_term(const ScoreCache *c, const char *grp, const char *column, int *k)
{
	int			t,
				first = -1;

	for (t = 0; t < c->nterms; t++)
	{
		const ScoreTerm *st = &c->term[t];
		int			j;

		if (strcmp(st->v.grp, grp) != 0 && strcmp(st->name, grp) != 0)
			continue;
		if (first < 0)
			first = t;
		if (column == NULL)
		{
			*k = 0;
			return t;
		}
		for (j = 0; j < st->v.q; j++)
			if (strcmp(st->v.z_names[j], column) == 0)
			{
				*k = j;
				return t;
			}
	}
	if (first < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the model has no grouping factor \"%s\"", grp),
				 errdetail("Its grouping factors are: %s.", term_names(c))));
	*k = term_column(c, first, column);
	return first;
}

PG_FUNCTION_INFO_V1(lmm_blup);

/*
 * lmm_blup(m, g [, name]): the conditional mode of group g.  With one term,
 * name is a column of it (the intercept by default); with several, name is
 * the grouping factor, and the answer is its first column (its intercept).
 * NULL for a level the model never saw.
 */
Datum
lmm_blup(PG_FUNCTION_ARGS)
{
	ScoreCache *c = score_model(fcinfo, true, 1);
	int			t = 0,
				k = 0;
	const double *level;

	if (PG_NARGS() < 3 && c->nterms > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the model has %d random-effects terms (%s), so the grouping factor must be named",
						c->nterms, term_names(c)),
				 errhint("Name it after the key: lmm_blup(m, g, '%s') or, for a column, lmm_blup(m, g, '%s', '%s').",
						 c->term[0].name, c->term[0].v.grp, c->term[0].v.z_names[0])));
	if (PG_NARGS() >= 3)
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(2));

		if (c->nterms > 1)
			t = find_term(c, name, NULL, &k);
		else
			k = term_column(c, 0, name);
	}
	level = find_level(c, t, PG_GETARG_DATUM(1));
	if (level == NULL)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(level[k]);
}

PG_FUNCTION_INFO_V1(lmm_blup_term);

/*
 * lmm_blup(m, g, grp, term): the conditional mode of level g of grouping
 * factor grp for the column term; NULL for a level the model never saw.
 */
Datum
lmm_blup_term(PG_FUNCTION_ARGS)
{
	ScoreCache *c = score_model(fcinfo, true, 1);
	char	   *grp = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *column = text_to_cstring(PG_GETARG_TEXT_PP(3));
	int			k;
	int			t = find_term(c, grp, column, &k);
	const double *level = find_level(c, t, PG_GETARG_DATUM(1));

	if (level == NULL)
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(level[k]);
}
