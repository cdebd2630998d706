/*
 * state.c
 *	  The statistics of a model keyed by each term's levels (state.h):
 *	  creation of both kinds of state, the level tables, exact merges, and
 *	  the one packed form (core/lmm_terms_io.h) of lmm_stats values and of
 *	  serialized aggregate states; lmm 0.6's one-term values ("LMMs") are
 *	  read and converted.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "state.h"

/* One group key and the number of its level. */
typedef struct LevelEntry
{
	Datum		key;
	uint32		hash;
	char		status;
	int64		index;
} LevelEntry;

static inline uint32 level_hash(struct levelhash_hash *tb, Datum key);
static inline bool level_equal(struct levelhash_hash *tb, Datum a, Datum b);

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

/* The type name in errors about values. */
static const char T[] = "lmm_stats";

static void bad_packed(LmmPackedSource source, const char *problem);
static void partial_state_refused(void);

#define SPEC "lmm_fit_terms spec"

/* Mix 64 bits into 32 (MurmurHash3's finalizer, then the low half). */
static inline uint32
mix64(uint64 k)
{
	k ^= k >> 33;
	k *= UINT64CONST(0xff51afd7ed558ccd);
	k ^= k >> 33;
	k *= UINT64CONST(0xc4ceb9fe1a85ec53);
	k ^= k >> 33;
	return (uint32) k;
}

/*
 * Hash a group key: int, bigint and text inline, other types with their
 * hash function (32 bits suffice for simplehash).  The hash never leaves
 * the table, so it need not match the type's own.
 */
static inline uint32
level_hash(struct levelhash_hash *tb, Datum key)
{
	LmmLevels  *lv = (LmmLevels *) tb->private_data;

	switch (lv->kind)
	{
		case LMM_KEY_INT4:
			return murmurhash32((uint32) DatumGetInt32(key));
		case LMM_KEY_INT8:
			return mix64((uint64) DatumGetInt64(key));
		case LMM_KEY_TEXT:
			return hash_bytes((const unsigned char *) VARDATA_ANY(DatumGetPointer(key)),
							  VARSIZE_ANY_EXHDR(DatumGetPointer(key)));
		default:
			return DatumGetUInt32(FunctionCall1Coll(&lv->hash_fn, lv->collation, key));
	}
}

/* Compare two group keys: int, bigint and text inline, others with their equality operator. */
static inline bool
level_equal(struct levelhash_hash *tb, Datum a, Datum b)
{
	LmmLevels  *lv = (LmmLevels *) tb->private_data;

	switch (lv->kind)
	{
		case LMM_KEY_INT4:
			return DatumGetInt32(a) == DatumGetInt32(b);
		case LMM_KEY_INT8:
			return DatumGetInt64(a) == DatumGetInt64(b);
		case LMM_KEY_TEXT:
			return VARSIZE_ANY_EXHDR(DatumGetPointer(a)) == VARSIZE_ANY_EXHDR(DatumGetPointer(b)) &&
				memcmp(VARDATA_ANY(DatumGetPointer(a)), VARDATA_ANY(DatumGetPointer(b)),
					   VARSIZE_ANY_EXHDR(DatumGetPointer(a))) == 0;
		default:
			return DatumGetBool(FunctionCall2Coll(&lv->eq_fn, lv->collation, a, b));
	}
}

/*
 * Set up an empty level table in ctx for keys of type, compared under
 * collation (the type's default when invalid).  Text under a deterministic
 * collation compares by bytes, so it is hashed inline.
 */
static void
levels_init(LmmLevels *lv, MemoryContext ctx, Oid type, Oid collation)
{
	TypeCacheEntry *tce;

	memset(lv, 0, sizeof(LmmLevels));
	lv->ctx = ctx;
	lv->type = type;
	lv->collation = OidIsValid(collation) ? collation : get_typcollation(type);
	get_typlenbyval(type, &lv->typlen, &lv->byval);
	lv->raw = getBaseType(type) == TEXTOID || getBaseType(type) == VARCHAROID ||
		getBaseType(type) == BPCHAROID;
	if (type == INT4OID)
		lv->kind = LMM_KEY_INT4;
	else if (type == INT8OID && FLOAT8PASSBYVAL)
		lv->kind = LMM_KEY_INT8;
	else if (type == TEXTOID && (!OidIsValid(lv->collation) ||
								 get_collation_isdeterministic(lv->collation)))
		lv->kind = LMM_KEY_TEXT;
	else
	{
		lv->kind = LMM_KEY_OTHER;
		tce = lookup_type_cache(type, TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
		if (!OidIsValid(tce->hash_proc) || !OidIsValid(tce->eq_opr))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("could not identify a hash function for group keys of type %s",
							format_type_be(type)),
					 errdetail("Group keys need a type with a default hash operator class; cast the key, for example to text.")));
		fmgr_info_cxt(tce->hash_proc, &lv->hash_fn, ctx);
		fmgr_info_cxt(get_opcode(tce->eq_opr), &lv->eq_fn, ctx);
	}
}

/* Room for n keys in a table's key array. */
static void
levels_reserve(LmmLevels *lv, int64 n)
{
	if (n <= lv->cap)
		return;
	lv->cap = n;
	lv->keys = lv->keys == NULL ?
		MemoryContextAllocHuge(lv->ctx, sizeof(Datum) * lv->cap) :
		repalloc_huge(lv->keys, sizeof(Datum) * lv->cap);
}

/* Record key as level j's, growing the key array as needed. */
static void
levels_set_key(LmmLevels *lv, int64 j, Datum key)
{
	if (j >= lv->cap)
		levels_reserve(lv, lv->cap == 0 ? 256 : lv->cap * 2);
	lv->keys[j] = key;
}

/* Levels past which integer keys are hashed only (the map stores int32). */
#define LMM_DIRECT_MAX_LEVELS (INT64CONST(1) << 26)
#define LMM_DIRECT_SLOTS 16
#define LMM_DIRECT_EXTRA_SLOTS (INT64CONST(1) << 22)

/* An integer key's value (LMM_KEY_INT4 or LMM_KEY_INT8). */
static inline int64
int_key(const LmmLevels *lv, Datum key)
{
	return lv->kind == LMM_KEY_INT4 ? (int64) DatumGetInt32(key) : DatumGetInt64(key);
}

/*
 * Index integer keys by value where they are dense (ids 1..n, say): an
 * array lookup per row instead of a hash probe.  Made again as the levels
 * double from 1024, over the keys' range and room beyond its ends, when
 * that range is at most 16 slots a level, but no more than 4 a level plus
 * LMM_DIRECT_EXTRA_SLOTS (4 bytes a slot; a level's statistics take 32
 * bytes or more): a parallel worker's share of ids 1..n (a third of the
 * rows holds about 28% of the ids) is then indexed by value from 2^16
 * levels on, and a big map costs what it did at 4 slots a level.
 */
static void
levels_direct(LmmLevels *lv, int64 nlevels)
{
	int64		lo,
				hi,
				span,
				extra,
				below,
				above,
				j;

	if ((lv->kind != LMM_KEY_INT4 && lv->kind != LMM_KEY_INT8) || nlevels < 1024 ||
		nlevels >= LMM_DIRECT_MAX_LEVELS)
		return;
	lo = hi = int_key(lv, lv->keys[0]);
	for (j = 1; j < nlevels; j++)
	{
		int64		k = int_key(lv, lv->keys[j]);

		lo = Min(lo, k);
		hi = Max(hi, k);
	}
	/* in uint64: int8 keys may span more than int64 holds */
	if ((uint64) hi - (uint64) lo >
		(uint64) (Min(LMM_DIRECT_SLOTS * nlevels, 4 * nlevels + LMM_DIRECT_EXTRA_SLOTS) + 1024))
		return;
	/* room beyond the ends for keys to come, half below and half above, within int64 */
	extra = Min(hi - lo + 1 + 64, 4 * nlevels + 1024);
	below = (int64) Min((uint64) extra / 2, (uint64) lo - (uint64) PG_INT64_MIN);
	above = (int64) Min((uint64) (extra - extra / 2), (uint64) PG_INT64_MAX - (uint64) hi);
	lo -= below;
	span = hi - lo + 1 + above;
	if (lv->direct != NULL)
		pfree(lv->direct);
	lv->direct = MemoryContextAllocExtended(lv->ctx, sizeof(int32) * span,
											MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	lv->direct_lo = lo;
	lv->direct_n = span;
	for (j = 0; j < nlevels; j++)
		lv->direct[(uint64) int_key(lv, lv->keys[j]) - (uint64) lo] = (int32) (j + 1);
}

/*
 * Index a table's keys (an unpacked value's, on its first look-up): by
 * value where levels_direct takes them, which then holds every key and
 * leaves the hash to keys outside its range; else in a hash sized for
 * room more to come without a rehash.
 */
static void
levels_index(LmmLevels *lv, int64 nlevels, int64 room)
{
	int64		j;

	if (nlevels < LMM_DIRECT_MAX_LEVELS)
		levels_direct(lv, nlevels);
	if (lv->direct != NULL)
	{
		lv->hash = levelhash_create(lv->ctx, 256, lv);
		return;
	}
	lv->hash = levelhash_create(lv->ctx, Max(256, (nlevels + room) * 2), lv);
	for (j = 0; j < nlevels; j++)
	{
		bool		found;
		LevelEntry *e;

		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		e = levelhash_insert(lv->hash, lv->keys[j], &found);
		e->index = j;
	}
}

/* Record key as a new level of term t; its number. */
static int64
levels_add(LmmAggState *st, int t, Datum key)
{
	LmmLevels  *lv = &st->levels[t];
	MemoryContext old = MemoryContextSwitchTo(lv->ctx);
	Datum		copy = datumCopy(key, lv->byval, lv->typlen);
	int64		j = lmm_terms_add_level(&st->stats, t);

	levels_set_key(lv, j, copy);
	MemoryContextSwitchTo(old);
	return j;
}

/*
 * The level of term t with this key, added (with zero statistics, the key
 * copied) when it is new.  Integer keys in the direct map's range live in
 * the map alone; the hash holds the others.  The map is made again as the
 * levels double; past LMM_DIRECT_MAX_LEVELS every key goes to the hash.
 */
int64
lmm_state_level(LmmAggState *st, int t, Datum key)
{
	LmmLevels  *lv = &st->levels[t];
	bool		found;
	LevelEntry *e;
	int64		j;

	if (lv->direct != NULL)
	{
		uint64		off = (uint64) int_key(lv, key) - (uint64) lv->direct_lo;

		if (off < (uint64) lv->direct_n)
		{
			if (lv->direct[off] > 0)
				return lv->direct[off] - 1;
			j = levels_add(st, t, key);
			if (j + 1 >= LMM_DIRECT_MAX_LEVELS)
			{
				/* too many for the map: every key into a hash of its own */
				pfree(lv->direct);
				lv->direct = NULL;
				levelhash_destroy(lv->hash);
				levels_index(lv, j + 1, 0);
				return j;
			}
			/* in the map first: a rebuild may find the range too wide and keep it */
			lv->direct[off] = (int32) (j + 1);
			if (((j + 1) & j) == 0)
				levels_direct(lv, j + 1);
			return j;
		}
	}
	if (lv->typlen == -1)
		key = PointerGetDatum(PG_DETOAST_DATUM_PACKED(DatumGetPointer(key)));
	if (lv->hash == NULL)
	{
		levels_index(lv, st->stats.term[t].nlevels, 0);
		if (lv->direct != NULL)
			return lmm_state_level(st, t, key);
	}
	e = levelhash_insert(lv->hash, key, &found);
	if (found)
		return e->index;
	j = levels_add(st, t, key);
	e->key = lv->keys[j];
	e->index = j;
	if (((j + 1) & j) == 0 && j + 1 < LMM_DIRECT_MAX_LEVELS)
		levels_direct(lv, j + 1);
	return j;
}

/* The key type a formula's term names: an integer type or text. */
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

/* Read a formula's spec into st, checking its shape. */
static void
parse_spec(LmmAggState *st, const char *text)
{
	JsonbContainer *root = lmm_json_parse(SPEC, text, -1);
	JsonbContainer *terms;
	JsonbValue	v;
	int64		n;
	int			t;

	/* one-term statistics carry a spec of their own, told apart by this key */
	if (getKeyJsonValueFromContainer(root, "g_name", 6, &v) != NULL)
		lmm_json_bad(SPEC, "\"g_name\" is not a key of a spec");

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
	st->cbind = getKeyJsonValueFromContainer(root, "cbind", 5, &v) != NULL &&
		lmm_json_bool(SPEC, v, "cbind");
	st->formula = "";
	if (getKeyJsonValueFromContainer(root, "formula", 7, &v) != NULL)
		st->formula = lmm_json_str(SPEC, v, "formula");
	st->nfactors = 0;
	st->factors = NULL;
	if (getKeyJsonValueFromContainer(root, "factors", 7, &v) != NULL)
		st->factors = lmm_json_factors(SPEC, v, &st->nfactors);
}

/*
 * A new formula state in ctx for a spec and options text (NULL for none),
 * both parsed and checked, with empty statistics of the shape the spec
 * gives.  Its keys are text, compared bytewise.
 */
LmmAggState *
lmm_state_formula(MemoryContext ctx, const char *spec, const char *options)
{
	MemoryContext old = MemoryContextSwitchTo(ctx);
	LmmAggState *st = palloc0(sizeof(LmmAggState));
	int			t;

	st->ctx = ctx;
	st->spec = pstrdup(spec);
	parse_spec(st, st->spec);
	st->options = options ? pstrdup(options) : NULL;
	lmm_parse_options(st->options, &st->opts);
	if (st->opts.n_x_names >= 0 || st->opts.n_z_names >= 0 || st->opts.g_name_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lmm_fit_terms and lmm() take only the options \"method\", \"family\", \"link\", \"nagq\" and \"weights\""),
				 errdetail("The names of the columns and terms come from the spec (in lmm(), from the formula).")));
	if (st->cbind && st->opts.family != LMM_FAMILY_BINOMIAL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a cbind(successes, failures) response needs family=binomial"),
				 errdetail("Give the option family=binomial.")));
	lmm_terms_init(&st->stats, st->p, st->k, st->q);
	for (t = 0; t < st->k; t++)
		levels_init(&st->levels[t], ctx, TEXTOID, C_COLLATION_OID);
	st->started = true;
	if (st->opts.family != LMM_FAMILY_GAUSSIAN)
		lmm_state_keep_rows(st);
	MemoryContextSwitchTo(old);
	return st;
}

/* The type a packed value names for its keys, which must exist and not be a pseudo-type. */
static Oid
named_key_type(const char *name)
{
	Oid			key_type;
	int32		typmod;

	parseTypeString(name, &key_type, &typmod, true);
	if (!OidIsValid(key_type))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the group key type \"%s\" of these statistics does not exist", name),
				 errdetail("Create the type on this server, or compute the statistics with keys cast to text.")));
	if (get_typtype(key_type) == TYPTYPE_PSEUDO)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the group key type \"%s\" of these statistics is a pseudo-type", name),
				 errdetail("Group keys have an ordinary type with a default hash operator class, such as integer, text or date; recompute the statistics with lmm_stats.")));
	return key_type;
}

/* Append a JSON array of names, or null when none were given. */
static void
append_names(StringInfo buf, int n, char **names)
{
	if (n < 0)
		appendStringInfoString(buf, "null");
	else
		lmm_json_append_str_array(buf, names, n);
}

/* The spec of a one-term state: its key type and the names its options give, as JSON. */
static char *
one_term_spec(const LmmOptions *opts, Oid key_type)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"g_name\": ");
	escape_json(&buf, opts->g_name);
	appendStringInfoString(&buf, ", \"key_type\": ");
	escape_json(&buf, format_type_be_qualified(key_type));
	appendStringInfoString(&buf, ", \"x_names\": ");
	append_names(&buf, opts->n_x_names, opts->x_names);
	appendStringInfoString(&buf, ", \"z_names\": ");
	append_names(&buf, opts->n_z_names, opts->z_names);
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* A JSON array of names of lmm_stats, or null, into *n (-1 for null) and the names. */
char	  **
lmm_json_names(JsonbContainer *root, const char *key, int *n)
{
	JsonbValue	v = lmm_json_key(T, root, key);
	int64		len;
	char	  **names;

	if (v.type == jbvNull)
	{
		*n = -1;
		return NULL;
	}
	names = lmm_json_str_array(T, v, -1, &len, key);
	if (len > LMM_MAX_COLUMNS)
		lmm_json_bad(T, psprintf("\"%s\" has too many names", key));
	*n = (int) len;
	return names;
}

/* Read a one-term spec (one_term_spec's JSON) into opts' names; returns the key type. */
static Oid
parse_one_term_spec(const char *text, LmmOptions *opts)
{
	JsonbContainer *root = lmm_json_parse(T, text, 4);
	char	   *name = lmm_json_str(T, lmm_json_key(T, root, "key_type"), "key_type");
	Oid			key_type = named_key_type(name);

	/* one value, one binary form: the type as lmm names it */
	if (strcmp(name, format_type_be_qualified(key_type)) != 0)
		lmm_json_bad(T, "the key type is not named as lmm names it");

	opts->g_name = lmm_json_str(T, lmm_json_key(T, root, "g_name"), "g_name");
	opts->x_names = lmm_json_names(root, "x_names", &opts->n_x_names);
	opts->z_names = lmm_json_names(root, "z_names", &opts->n_z_names);
	return key_type;
}

/* The version word of packed statistics (after the magic), 0 when short. */
static uint32
lmm_terms_version(const unsigned char *b)
{
	return ((uint32) b[4] << 24) | ((uint32) b[5] << 16) | ((uint32) b[6] << 8) | b[7];
}

/* Nonzero when a spec is a one-term state's (its names' JSON). */
static bool
is_one_term_spec(const char *spec)
{
	return strncmp(spec, "{\"g_name\"", 9) == 0;
}

/*
 * A new one-term state in ctx for keys of key_type compared under
 * collation, with its options text (NULL for none) parsed; the shape comes
 * with the first usable row (lmm_state_start).
 */
LmmAggState *
lmm_state_one_term(MemoryContext ctx, Oid key_type, Oid collation,
				   const char *options)
{
	MemoryContext old = MemoryContextSwitchTo(ctx);
	LmmAggState *st = palloc0(sizeof(LmmAggState));

	st->ctx = ctx;
	st->one_term = true;
	st->options = options ? pstrdup(options) : NULL;
	lmm_parse_options(st->options, &st->opts);
	st->spec = one_term_spec(&st->opts, key_type);
	st->formula = "";
	levels_init(&st->levels[0], ctx, key_type, collation);
	lmm_terms_init(&st->stats, 0, 0, NULL);
	MemoryContextSwitchTo(old);
	return st;
}

/* Names "(Intercept)", then the given ones or prefix1, prefix2, ... */
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
 * Fix a one-term state's shape from its first usable row: nx x values and
 * nz z values, each array with its intercept in front; check the options'
 * names against them.
 */
void
lmm_state_start(LmmAggState *st, int nx, int nz)
{
	MemoryContext old;
	int			q = nz + 1;

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
	st->p = nx + 1;
	st->k = 1;
	st->q[0] = st->nz = q;
	st->x_names = term_names(nx, st->opts.n_x_names >= 0 ? st->opts.x_names : NULL, "x");
	st->grp[0] = st->opts.g_name;
	st->z_names[0] = term_names(nz, st->opts.n_z_names >= 0 ? st->opts.z_names : NULL, "z");
	st->key_type[0] = st->levels[0].type;
	lmm_terms_free(&st->stats);
	lmm_terms_init(&st->stats, st->p, 1, &q);
	st->row = palloc(sizeof(double) * (st->p + q));
	st->row[0] = 1.0;
	st->row[st->p] = 1.0;
	st->started = true;
	MemoryContextSwitchTo(old);
	if (st->opts.family != LMM_FAMILY_GAUSSIAN)
		lmm_state_keep_rows(st);
}

/*
 * Keep the rows as well as the statistics (a generalized family, or prior
 * weights or offsets): each term's z is stored unless it is the intercept
 * alone.
 */
void
lmm_state_keep_rows(LmmAggState *st)
{
	int			ones[LMM_MAX_TERMS];
	int			t;

	if (st->keep_rows)
		return;
	for (t = 0; t < st->k; t++)
		ones[t] = st->q[t] == 1 && (st->one_term || strcmp(st->z_names[t][0], "(Intercept)") == 0);
	lmm_rows_init(&st->rows, st->p, st->k, st->q, ones);
	st->keep_rows = true;
}

/* Error for a response, weight or offset a model cannot take, naming the row. */
static void
bad_row(const LmmAggState *st, const char *what, double v, const char *rule)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s %g in input row %lld %s", what, v, (long long) st->n_rows, rule),
			 errdetail("Filter the row out or correct the value, e.g. with a WHERE clause.")));
}

/*
 * Check one row of a state that keeps rows before its levels are looked up:
 * the response against the family (binomial: a proportion in [0, 1], or
 * with cbind whole successes and failures, turned into the proportion;
 * Poisson: a count that is not negative), the weight (finite, not
 * negative) and the offset.  False for a row of zero weight, which is
 * dropped and counted (its levels are not added).
 */
bool
lmm_state_row_ok(LmmAggState *st, double *y, double wt, double off)
{
	if (!isfinite(wt) || wt < 0.0)
		bad_row(st, "weight", wt, "is not a finite number of at least 0");
	if (!isfinite(off))
		bad_row(st, "offset", off, "is not finite");
	if (st->cbind)
	{
		double		fails = wt - *y;

		if (*y < 0.0 || *y != floor(*y))
			bad_row(st, "successes", *y, "is not a whole number of at least 0");
		if (fails < 0.0 || fails != floor(fails))
			bad_row(st, "failures", fails, "is not a whole number of at least 0");
		*y = wt > 0.0 ? *y / wt : 0.0;
	}
	else if (st->opts.family == LMM_FAMILY_BINOMIAL && (*y < 0.0 || *y > 1.0))
		bad_row(st, "binomial response", *y, "is outside [0, 1]");
	else if (st->opts.family == LMM_FAMILY_POISSON && *y < 0.0)
		bad_row(st, "Poisson response", *y, "is a negative count");
	if (wt == 0.0)
	{
		st->n_zero_weight++;
		st->n_dropped++;
		return false;
	}
	return true;
}

/*
 * Keep one row that lmm_state_row_ok passed, with the level numbers the
 * level tables gave, in the rows and the statistics.
 */
void
lmm_state_add_row(LmmAggState *st, const double *x, double y, double wt,
				  double off, const int64 *level, const double *z)
{
	MemoryContext old;
	int			t;

	for (t = 0; t < st->k; t++)
		if (level[t] >= LMM_ROWS_MAX_LEVELS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("grouping factor \"%s\" has more than %d levels", st->grp[t], LMM_ROWS_MAX_LEVELS),
					 errdetail("A model that keeps its rows numbers levels with 32 bits; fit a sample of the groups.")));
	old = MemoryContextSwitchTo(st->ctx);
	lmm_rows_add(&st->rows, x, y, wt, off, level, z);
	lmm_terms_add_row(&st->stats, x, y, level, z);
	MemoryContextSwitchTo(old);
}

/* Names as "(a, b)" for messages; "(not given)" for a missing list. */
static char *
names_text(int n, char **names)
{
	StringInfoData buf;
	int			k;

	if (n < 0)
		return "(not given)";
	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	for (k = 0; k < n; k++)
		appendStringInfo(&buf, "%s%s", k > 0 ? ", " : "", names[k]);
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/* Nonzero when two name lists are the same (both absent counts as the same). */
static bool
names_equal(int na, char **a, int nb, char **b)
{
	int			k;

	if (na != nb)
		return false;
	for (k = 0; k < na; k++)
		if (strcmp(a[k], b[k]) != 0)
			return false;
	return true;
}

/* Raise the error for merging one-term statistics with a formula's. */
static void
lmm_state_mixed(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot merge statistics of one grouping factor with statistics of a formula"),
			 errdetail("Values of the lmm_stats(y, x, g ...) aggregate and values of lmm_stats(formula, source) or lmm_stats_terms have different forms."),
			 errhint("Compute every part the same way: all with lmm_stats(formula, source) (or lmm_stats_terms), or all with lmm_stats(y, x, g ...).")));
}

/* Error unless two one-term states describe the same model shape; says what differs. */
static void
check_same_one_term(const LmmAggState *a, const LmmAggState *b)
{
	const char *what = NULL;
	char	   *mine = NULL;
	char	   *theirs = NULL;

	if (a->levels[0].type != b->levels[0].type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot merge statistics with group keys of type %s and %s",
						format_type_be(a->levels[0].type), format_type_be(b->levels[0].type)),
				 errdetail("Compute every part's lmm_stats with the same key type, e.g. cast the keys to text everywhere.")));
	if (a->started && b->started && (a->p != b->p || a->nz != b->nz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge statistics of different shape: %d and %d fixed-effect columns, %d and %d random-effect columns",
						a->p, b->p, a->nz, b->nz),
				 errdetail("Merge only statistics computed with the same x and z arrays.")));
	if (strcmp(a->opts.g_name, b->opts.g_name) != 0)
	{
		what = "g_name";
		mine = a->opts.g_name;
		theirs = b->opts.g_name;
	}
	else if (!names_equal(a->opts.n_x_names, a->opts.x_names,
						  b->opts.n_x_names, b->opts.x_names))
	{
		what = "x_names";
		mine = names_text(a->opts.n_x_names, a->opts.x_names);
		theirs = names_text(b->opts.n_x_names, b->opts.x_names);
	}
	else if (!names_equal(a->opts.n_z_names, a->opts.z_names,
						  b->opts.n_z_names, b->opts.z_names))
	{
		what = "z_names";
		mine = names_text(a->opts.n_z_names, a->opts.z_names);
		theirs = names_text(b->opts.n_z_names, b->opts.z_names);
	}
	else if (a->opts.reml != b->opts.reml)
	{
		what = "method";
		mine = a->opts.reml ? "reml" : "ml";
		theirs = b->opts.reml ? "reml" : "ml";
	}
	if (what != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge statistics with different %s: %s and %s",
						what, mine, theirs),
				 errdetail("Use the same options for every part.")));
}

/* Error unless two formula states describe the same model; says what differs. */
static void
check_same_formula(const LmmAggState *a, const LmmAggState *b)
{
	if (a->opts.reml != b->opts.reml)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine lmm_fit_terms states with different options: %s and %s",
						a->options ? a->options : "(none)",
						b->options ? b->options : "(none)"),
				 errdetail("One fit has one set of options; pass them as a constant.")));
	if (strcmp(a->spec, b->spec) == 0)
		return;
	if (a->formula[0] != '\0' && b->formula[0] != '\0' &&
		strcmp(a->formula, b->formula) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge statistics of different formulas: \"%s\" and \"%s\"",
						a->formula, b->formula),
				 errdetail("Statistics merge only when they describe the same model."),
				 errhint("Compute every part with the same formula.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot merge statistics with different specs: %s and %s", a->spec, b->spec),
			 errdetail("Statistics merge only when their fixed-effect columns and terms are the same."),
			 errhint("Compute every part with the same spec; with lmm_stats(formula, source), give every source the same categorical levels.")));
}

/*
 * Merge src into dst exactly: levels with equal keys combine, new levels
 * are added, pair blocks follow their levels.  A one-term dst takes src's
 * shape if it has seen no usable row.
 */
void
lmm_state_merge(LmmAggState *dst, const LmmAggState *src)
{
	MemoryContext old;
	int64	   *map[LMM_MAX_TERMS];
	int			t;
	int64		j;

	if (dst->one_term != src->one_term)
		lmm_state_mixed();
	if (dst->one_term)
		check_same_one_term(dst, src);
	else
		check_same_formula(dst, src);
	if (pg_add_s64_overflow(dst->n_rows, src->n_rows, &dst->n_rows) ||
		pg_add_s64_overflow(dst->n_dropped, src->n_dropped, &dst->n_dropped))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("merged statistics would count more than 2^63 rows"),
				 errdetail("Merge fewer values.")));
	if (!src->started)
		return;
	if (!dst->started)
		lmm_state_start(dst, src->p - 1, src->nz - 1);
	old = MemoryContextSwitchTo(dst->ctx);
	for (t = 0; t < src->k; t++)
	{
		int64		J = src->stats.term[t].nlevels;
		LmmLevels  *lv = &dst->levels[t];
		int64		want = (dst->stats.term[t].nlevels + J) * 2;

		/*
		 * room for src's levels up front: one allocation of the records and
		 * keys, and one rehash at most, not one per doubling
		 */
		lmm_terms_reserve_levels(&dst->stats, t, dst->stats.term[t].nlevels + J);
		levels_reserve(lv, dst->stats.term[t].nlevels + J);
		if (lv->hash == NULL)
			levels_index(lv, dst->stats.term[t].nlevels, J);
		else if (lv->direct == NULL && want > lv->hash->size)
			levelhash_grow(lv->hash, want);

		map[t] = palloc_extended(sizeof(int64) * (J + 1), MCXT_ALLOC_HUGE);
		for (j = 0; j < J; j++)
		{
			if ((j & 65535) == 0)
				CHECK_FOR_INTERRUPTS();
			map[t][j] = lmm_state_level(dst, t, src->levels[t].keys[j]);
		}
	}
	lmm_terms_merge(&dst->stats, &src->stats, (int64_t *const *) map);
	if (src->keep_rows)
	{
		lmm_state_keep_rows(dst);
		dst->n_zero_weight += src->n_zero_weight;
		lmm_rows_merge(&dst->rows, &src->rows, (int64_t *const *) map);
	}
	for (t = 0; t < src->k; t++)
		pfree(map[t]);
	MemoryContextSwitchTo(old);
}

/* Copy n names into the current memory context. */
static char **
copy_names(int n, char **names)
{
	char	  **out = palloc(sizeof(char *) * (n + 1));
	int			k;

	for (k = 0; k < n; k++)
		out[k] = pstrdup(names[k]);
	return out;
}

/*
 * An empty state in ctx of src's kind, spec, key types and options, ready
 * for lmm_state_merge(result, src): a combine function's way to adopt a
 * state that lives in a shorter-lived context.
 */
LmmAggState *
lmm_state_copy_empty(MemoryContext ctx, const LmmAggState *src, Oid collation)
{
	LmmAggState *st;
	MemoryContext old;

	if (!src->one_term)
		return lmm_state_formula(ctx, src->spec, src->options);
	st = lmm_state_one_term(ctx, src->levels[0].type,
							OidIsValid(collation) ? collation : src->levels[0].collation,
							NULL);
	old = MemoryContextSwitchTo(ctx);
	st->options = src->options ? pstrdup(src->options) : NULL;
	st->opts = src->opts;
	st->opts.g_name = pstrdup(src->opts.g_name);
	if (src->opts.n_x_names >= 0)
		st->opts.x_names = copy_names(src->opts.n_x_names, src->opts.x_names);
	if (src->opts.n_z_names >= 0)
		st->opts.z_names = copy_names(src->opts.n_z_names, src->opts.z_names);
	st->spec = pstrdup(src->spec);
	MemoryContextSwitchTo(old);
	return st;
}

/*
 * Error unless statistics can be packed: sums of huge values overflow to
 * infinity, and a value that unpacking refuses must never be written.
 */
void
lmm_stats_check_numbers(const LmmTermStats *s)
{
	const char *problem = lmm_terms_check(s);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the statistics overflow double precision: %s", problem),
				 errdetail("Values near 1e154 or above square to infinity."),
				 errhint("Rescale y, x or z (the response or the covariates).")));
}

/* Nonzero when a type has binary send and receive functions (most types do). */
static bool
has_binary_io(Oid type)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	bool		result;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", type);
	result = OidIsValid(((Form_pg_type) GETSTRUCT(tup))->typsend) &&
		OidIsValid(((Form_pg_type) GETSTRUCT(tup))->typreceive);
	ReleaseSysCache(tup);
	return result;
}

/*
 * The keys of a table as byte strings: the type's binary send form (int and
 * bigint written here, text as its bytes in the database encoding).
 */
static void
levels_to_bytes(const LmmLevels *lv, int64 J, LmmTermsKeys *out)
{
	FmgrInfo	send;
	unsigned char *ints = NULL;
	int64		j;

	out->type = format_type_be_qualified(lv->type);
	out->data = palloc_extended(sizeof(unsigned char *) * (J + 1), MCXT_ALLOC_HUGE);
	out->len = palloc_extended(sizeof(uint32_t) * (J + 1), MCXT_ALLOC_HUGE);
	/* integer keys in their big-endian send form, one buffer for all */
	if (lv->kind == LMM_KEY_INT4 || lv->kind == LMM_KEY_INT8)
		ints = palloc_extended((size_t) 8 * (J + 1), MCXT_ALLOC_HUGE);
	if (lv->kind == LMM_KEY_OTHER && !lv->raw && J > 0)
	{
		Oid			sendfn;
		bool		isvarlena;

		if (!has_binary_io(lv->type))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("group keys of type %s have no binary input and output functions",
							format_type_be(lv->type)),
					 errdetail("Statistics store keys in binary form; cast the keys, for example to text.")));
		getTypeBinaryOutputInfo(lv->type, &sendfn, &isvarlena);
		fmgr_info(sendfn, &send);
	}
	for (j = 0; j < J; j++)
	{
		Datum		key = lv->keys[j];

		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		if (lv->kind == LMM_KEY_INT4 || lv->kind == LMM_KEY_INT8)
		{
			int			n = lv->kind == LMM_KEY_INT4 ? 4 : 8;
			uint64		v = lv->kind == LMM_KEY_INT4 ?
				(uint64) (uint32) DatumGetInt32(key) : (uint64) DatumGetInt64(key);
			unsigned char *b = ints + (size_t) j * n;
			int			i;

			for (i = 0; i < n; i++)
				b[i] = (unsigned char) (v >> (8 * (n - 1 - i)));
			out->data[j] = b;
			out->len[j] = n;
		}
		else if (lv->raw)
		{
			out->data[j] = (const unsigned char *) VARDATA_ANY(DatumGetPointer(key));
			out->len[j] = VARSIZE_ANY_EXHDR(DatumGetPointer(key));
		}
		else
		{
			bytea	   *b = SendFunctionCall(&send, key);

			out->data[j] = (const unsigned char *) VARDATA(b);
			out->len[j] = VARSIZE(b) - VARHDRSZ;
		}
	}
}

/* Append n bytes to a partial state being written. */
static char *
put_bytes(char *w, const void *p, size_t n)
{
	if (n > 0)
		memcpy(w, p, n);
	return w + n;
}

/* Written in the packing machine's byte order after LMM_ROWS_MAGIC. */
#define LMM_ROWS_ORDER 0x01020304u

/*
 * A partial state that keeps rows: LMM_ROWS_MAGIC, LMM_ROWS_ORDER, the
 * statistics' packed size (u64) and form, then the rows in the packing
 * machine's layout (it travels between the processes of one server, or
 * between Citus nodes of one architecture): u64 n, u8 has weights, u8 has
 * offsets, i64 rows dropped for zero weight, then x, y, the weights, the
 * offsets, the level numbers and z.
 */
static bytea *
pack_rows(const LmmAggState *st, const LmmTermsMeta *meta, size_t ssize)
{
	const LmmRows *r = &st->rows;
	uint64		n = (uint64) r->n;
	uint8		hw = r->wt != NULL,
				ho = r->off != NULL;
	size_t		size = 4 + 4 + 8 + ssize + 8 + 2 + 8 +
		(size_t) r->n * lmm_rows_bytes_per_row(r);
	bytea	   *result;
	char	   *w;
	static const unsigned char magic[4] = {'L', 'M', 'M', 'r'};
	uint32		order = LMM_ROWS_ORDER;
	uint64		ss = ssize;

	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a parallel worker's rows would take %zu bytes, more than a value can hold", size),
				 errdetail("A worker hands its rows to the leader as one value, of at most 1 GB."),
				 errhint("Fit without parallel workers: SET max_parallel_workers_per_gather = 0.")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	w = VARDATA(result);
	w = put_bytes(w, magic, 4);
	w = put_bytes(w, &order, 4);
	w = put_bytes(w, &ss, 8);
	lmm_terms_pack(&st->stats, meta, (unsigned char *) w);
	w += ssize;
	w = put_bytes(w, &n, 8);
	w = put_bytes(w, &hw, 1);
	w = put_bytes(w, &ho, 1);
	w = put_bytes(w, &st->n_zero_weight, 8);
	w = put_bytes(w, r->x, sizeof(double) * n * r->p);
	w = put_bytes(w, r->y, sizeof(double) * n);
	if (hw)
		w = put_bytes(w, r->wt, sizeof(double) * n);
	if (ho)
		w = put_bytes(w, r->off, sizeof(double) * n);
	w = put_bytes(w, r->lev, sizeof(int32) * n * r->nterms);
	put_bytes(w, r->z, sizeof(double) * n * r->nz);
	return result;
}

/* Whether n values are all finite. */
static bool
all_finite(const double *v, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return false;
	return true;
}

/*
 * Read the rows of a partial state (pack_rows' form after the statistics)
 * into st, checking sizes, level numbers and values before using them.
 */
static void
unpack_rows(LmmAggState *st, const unsigned char *b, size_t len,
			LmmPackedSource source)
{
	LmmRows    *r;
	uint64		n;
	uint8		hw,
				ho;
	size_t		per;
	int64		i;
	int			t;

	lmm_state_keep_rows(st);
	r = &st->rows;
	if (len < 18)
		bad_packed(source, "its rows are truncated");
	memcpy(&n, b, 8);
	hw = b[8];
	ho = b[9];
	memcpy(&st->n_zero_weight, b + 10, 8);
	b += 18;
	len -= 18;
	per = sizeof(double) * (r->p + 1 + r->nz + (hw != 0) + (ho != 0)) + sizeof(int32) * r->nterms;
	if (hw > 1 || ho > 1 || st->n_zero_weight < 0 || n > len / per || n * per != len)
		bad_packed(source, "its rows have the wrong size");
	for (i = 0; i < (int64) n; i++)
	{
		double		x[LMM_MAX_COLUMNS];
		double		z[LMM_MAX_TERMS * LMM_MAX_RANDOM];
		int64		lev[LMM_MAX_TERMS];
		double		y,
					wt = 1.0,
					off = 0.0;
		const unsigned char *at;

		if ((i & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		memcpy(x, b + sizeof(double) * i * r->p, sizeof(double) * r->p);
		at = b + sizeof(double) * n * r->p;
		memcpy(&y, at + sizeof(double) * i, sizeof(double));
		at += sizeof(double) * n;
		if (hw)
		{
			memcpy(&wt, at + sizeof(double) * i, sizeof(double));
			at += sizeof(double) * n;
		}
		if (ho)
		{
			memcpy(&off, at + sizeof(double) * i, sizeof(double));
			at += sizeof(double) * n;
		}
		for (t = 0; t < r->nterms; t++)
		{
			int32		j;

			memcpy(&j, at + sizeof(int32) * (i * r->nterms + t), sizeof(int32));
			if (j < 0 || j >= st->stats.term[t].nlevels)
				bad_packed(source, "a row names a level the statistics lack");
			lev[t] = j;
		}
		at += sizeof(int32) * n * r->nterms;
		memcpy(z, at + sizeof(double) * i * r->nz, sizeof(double) * r->nz);
		if (!isfinite(y) || !isfinite(wt) || !(wt > 0.0) || !isfinite(off) ||
			!all_finite(x, r->p) || !all_finite(z, r->nz) ||
			(st->opts.family == LMM_FAMILY_BINOMIAL && (y < 0.0 || y > 1.0)) ||
			(st->opts.family == LMM_FAMILY_POISSON && y < 0.0))
			bad_packed(source, "a row holds a value no row can have");
		lmm_rows_add(r, x, y, wt, off, lev, z);
	}
}

/*
 * The packed form of a state, as a new bytea: an lmm_stats value, or a
 * parallel worker's partial state when partial (which keeps the options,
 * and differs in what a state too large for a value tells the user to do).
 */
bytea *
lmm_state_pack(const LmmAggState *st, bool partial)
{
	LmmTermsMeta meta;
	size_t		size;
	bytea	   *result;
	int			t;

	lmm_stats_check_numbers(&st->stats);
	if (st->keep_rows && !partial)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_stats cannot summarize a model with family %s, prior weights or offsets",
						lmm_family_name(st->opts.family)),
				 errdetail("Such a model is fitted from its rows: its working statistics change with the estimates."),
				 errhint("Fit it with lmm_fit(...) or lmm(...) directly.")));
	if (!partial && st->one_term && st->started &&
		OidIsValid(st->levels[0].collation) &&
		!get_collation_isdeterministic(st->levels[0].collation))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_stats values do not keep a nondeterministic collation of their group keys"),
				 errdetail("Merging and fitting stored statistics compare keys under their type's default collation, which would split groups the collation joins."),
				 errhint("Give the keys a deterministic collation, or normalize them first, e.g. lower(g).")));
	memset(&meta, 0, sizeof(meta));
	meta.n_rows = st->n_rows;
	meta.n_dropped = st->n_dropped;
	meta.spec = st->spec;
	meta.options = partial ? st->options : NULL;
	for (t = 0; t < st->stats.nterms; t++)
		levels_to_bytes(&st->levels[t], st->stats.term[t].nlevels, &meta.keys[t]);
	/* a value lists its levels as a model does: its fit then moves none */
	for (t = 0; t < st->stats.nterms && !partial && !st->keep_rows; t++)
		meta.order[t] = lmm_level_order(st, t);
	size = lmm_terms_packed_size(&st->stats, &meta);
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("statistics of %lld groups would take %zu bytes, more than a value can hold",
						(long long) (st->k > 0 ? st->stats.term[0].nlevels : 0), size),
				 errdetail("A value is limited to 1 GB."),
				 partial ?
				 errhint("Fit without parallel workers: SET max_parallel_workers_per_gather = 0.") :
				 st->one_term ?
				 errhint("Compute lmm_stats for parts of the groups and fit with lmm_merge.") :
				 errhint("Fit from the rows with lmm() or lmm_fit_terms, which keep the statistics in memory only.")));
	if (st->keep_rows)
		return pack_rows(st, &meta, size);
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	lmm_terms_pack(&st->stats, &meta, (unsigned char *) VARDATA(result));
	for (t = 0; t < st->stats.nterms; t++)
		if (meta.order[t] != NULL)
			pfree(unconstify(int64 *, meta.order[t]));
	return result;
}

/* The size of an expanded state's flat form: its packed partial form, kept until flattened. */
static Size
state_flat_size(ExpandedObjectHeader *eohptr)
{
	LmmAggState *st = (LmmAggState *) eohptr;

	if (st->flat == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(st->ctx);

		st->flat = lmm_state_pack(st, true);
		MemoryContextSwitchTo(old);
	}
	return VARSIZE(st->flat);
}

/* Write an expanded state's flat form where the caller asks. */
static void
state_flatten(ExpandedObjectHeader *eohptr, void *result, Size allocated_size)
{
	LmmAggState *st = (LmmAggState *) eohptr;
	Size		size = state_flat_size(eohptr);

	if (allocated_size != size)
		elog(ERROR, "lmm_stats state flattened into %zu bytes, not %zu",
			 allocated_size, size);
	memcpy(result, st->flat, size);
	pfree(st->flat);
	st->flat = NULL;
}

static const ExpandedObjectMethods state_methods = {
	state_flat_size,
	state_flatten
};

/* The name of the context that holds an aggregate context's states. */
#define STATES "lmm_stats states"

/*
 * The memory context for an aggregate's states: one child of the aggregate
 * context, shared by every state (group) in it, made on first use.  The
 * executor keeps an expanded object without a copy when its context is a
 * child of the aggregate context; one context for all, not one per state,
 * because a hash aggregate measures its memory over every child context
 * at each new group.  The states are never freed one by one: nothing
 * deletes a transition value the function returned unchanged, and the
 * context goes with the aggregate context's reset.
 */
MemoryContext
lmm_state_context(MemoryContext aggctx)
{
	MemoryContext c;

	for (c = aggctx->firstchild; c != NULL; c = c->nextchild)
		if (strcmp(c->name, STATES) == 0)
			return c;
	return AllocSetContextCreate(aggctx, STATES, ALLOCSET_DEFAULT_SIZES);
}

/*
 * The state as an lmm_stats datum: a read-write pointer to it as an
 * expanded object, whose context is lmm_state_context's.
 */
Datum
lmm_state_datum(LmmAggState *st)
{
	if (st->hdr.eoh_context == NULL)
		EOH_init_header(&st->hdr, &state_methods, st->ctx);
	return EOHPGetRWDatum(&st->hdr);
}

/*
 * The state an aggregate support function gets as argument argno (NULL for
 * SQL NULL): our expanded object, used in place, or a flat value (Citus's
 * copies, a parallel worker's state), validated and unpacked: into a new
 * state context under aggctx, to keep, or into the current context when
 * aggctx is NULL.  update drops a packed form kept from before.
 */
LmmAggState *
lmm_state_arg(FunctionCallInfo fcinfo, int argno, MemoryContext aggctx,
			  bool update)
{
	Datum		d;
	LmmAggState *st;
	MemoryContext ctx,
				old;
	bytea	   *v;

	if (PG_ARGISNULL(argno))
		return NULL;
	d = PG_GETARG_DATUM(argno);
	if (VARATT_IS_EXTERNAL_EXPANDED(DatumGetPointer(d)))
	{
		ExpandedObjectHeader *eoh = DatumGetEOHP(d);

		if (eoh->eoh_methods != &state_methods)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("an lmm aggregate got an expanded value that is not its state"),
					 errdetail("Only lmm's own aggregates create lmm_stats states.")));
		st = (LmmAggState *) eoh;
		if (update && st->flat != NULL)
		{
			pfree(st->flat);
			st->flat = NULL;
		}
		return st;
	}
	ctx = aggctx != NULL ? lmm_state_context(aggctx) : CurrentMemoryContext;
	old = MemoryContextSwitchTo(ctx);
	v = PG_GETARG_BYTEA_PP(argno);
	st = lmm_state_unpack(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), LMM_FROM_STATE);
	MemoryContextSwitchTo(old);
	return st;
}

/* Raise the error for a packed value that fails validation, by where it came from. */
static void
bad_packed(LmmPackedSource source, const char *problem)
{
	if (strcmp(problem, "interrupted") == 0)
		CHECK_FOR_INTERRUPTS();
	if (source == LMM_FROM_TEXT)
		lmm_json_bad(T, problem);
	if (source == LMM_FROM_WIRE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary lmm_stats value: %s", problem),
				 errdetail("Send the bytes that lmm_stats's binary output produced.")));
	if (source == LMM_FROM_STATE)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupt lmm partial aggregate state: %s", problem),
				 errdetail("A partial state from a parallel worker or another node did not arrive intact."),
				 errhint("Run the query again; to avoid parallel workers, SET max_parallel_workers_per_gather = 0.")));
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt lmm_stats value: %s", problem),
			 errdetail("Recompute the statistics with lmm_stats.")));
}

/*
 * Error for an aggregate's partial state (which carries its options, and
 * may carry rows) where statistics are expected.
 */
static void
partial_state_refused(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("this lmm_stats value is an aggregate's partial state, not statistics"),
			 errdetail("Partial states carry their aggregate's options or rows; they pass between the nodes of a query."),
			 errhint("Finish it with the aggregate that made it, or compute statistics with lmm_stats.")));
}

/* Decode a table's keys from their byte strings (levels_to_bytes' form). */
static void
levels_from_bytes(LmmLevels *lv, const LmmTermsKeys *in, int64 J,
				  LmmPackedSource source)
{
	FmgrInfo	recv;
	Oid			ioparam = InvalidOid;
	int64		j;

	if (lv->kind == LMM_KEY_OTHER && !lv->raw && J > 0)
	{
		Oid			recvfn;

		if (!has_binary_io(lv->type))
			bad_packed(source, "the group key type has no binary input and output functions");
		getTypeBinaryInputInfo(lv->type, &recvfn, &ioparam);
		fmgr_info(recvfn, &recv);
	}
	lv->cap = J;
	lv->keys = palloc_extended(sizeof(Datum) * (J + 1), MCXT_ALLOC_HUGE);
	for (j = 0; j < J; j++)
	{
		const unsigned char *b = in->data[j];
		uint32		n = in->len[j];

		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		if (lv->kind == LMM_KEY_INT4 || lv->kind == LMM_KEY_INT8)
		{
			uint64		v = 0;
			uint32		i;

			if (n != (lv->kind == LMM_KEY_INT4 ? 4 : 8))
				bad_packed(source, "a group key has the wrong length for its type");
			for (i = 0; i < n; i++)
				v = (v << 8) | b[i];
			lv->keys[j] = lv->kind == LMM_KEY_INT4 ?
				Int32GetDatum((int32) (uint32) v) : Int64GetDatum((int64) v);
		}
		else if (lv->raw)
		{
			if (source == LMM_FROM_WIRE || source == LMM_FROM_TEXT)
			{
				if (memchr(b, '\0', n) != NULL)
					bad_packed(source, "a group key holds a NUL byte");
				if (!pg_verifymbstr((const char *) b, n, true))
					ereport(ERROR,
							(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
							 errmsg("invalid %s lmm_stats value: a group key is not valid in encoding \"%s\"",
									source == LMM_FROM_WIRE ? "binary" : "text",
									GetDatabaseEncodingName()),
							 errdetail("Send the bytes that lmm_stats's output produced on a server with the same encoding.")));
			}
			lv->keys[j] = PointerGetDatum(cstring_to_text_with_len((const char *) b, n));
		}
		else
		{
			StringInfoData buf;

			/* the receive function wants a terminated buffer it may read to the end */
			initStringInfo(&buf);
			appendBinaryStringInfo(&buf, (const char *) b, n);
			lv->keys[j] = ReceiveFunctionCall(&recv, &buf, ioparam, -1);
			if (buf.cursor != buf.len)
				bad_packed(source, "a group key has trailing bytes");
			pfree(buf.data);
		}
	}
}

/* Check the strings a value from outside brings against the database encoding. */
static void
verify_strings(const LmmAggState *st)
{
	lmm_verify_encoding(T, st->spec);
	if (st->options)
		lmm_verify_encoding(T, st->options);
}

static LmmAggState *unpack_stats(const char *data, size_t len, LmmPackedSource source);

/*
 * Unpack and fully validate packed statistics (or a partial state) into a
 * state in the current memory context: the form lmm_state_pack writes, or
 * lmm 0.6's one-term form, converted.  A state whose options keep rows
 * (a GLMM's) must bring them, as many as its statistics count.
 */
LmmAggState *
lmm_state_unpack(const char *data, size_t len, LmmPackedSource source)
{
	LmmAggState *st = unpack_stats(data, len, source);

	if (st->keep_rows && (st->rows.n != (int64) st->stats.n))
		bad_packed(source, "its rows do not match its statistics");
	return st;
}

/* lmm_state_unpack's work, without the check of rows against statistics. */
static LmmAggState *
unpack_stats(const char *data, size_t len, LmmPackedSource source)
{
	const unsigned char *b = (const unsigned char *) data;
	uint32		magic = len >= 4 ?
		((uint32) b[0] << 24) | ((uint32) b[1] << 16) | ((uint32) b[2] << 8) | b[3] : 0;
	LmmTermStats stats;
	LmmTermsMeta meta;
	const char *problem;
	LmmAggState *st;
	int			t;

	if (magic == LMM_ROWS_MAGIC)
	{
		uint64		ss;
		uint32		order;

		if (source == LMM_FROM_STORED)
			partial_state_refused();
		if (len < 16)
			bad_packed(source, "its rows are truncated");
		memcpy(&order, b + 4, 4);
		if (order != LMM_ROWS_ORDER)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("this lmm_stats partial state keeps rows packed on a machine of another byte order"),
					 errdetail("A partial state that keeps its rows (a GLMM's) holds them in the byte order of the node that made it."),
					 errhint("Run the aggregate on nodes of one architecture, or on one node.")));
		memcpy(&ss, b + 8, 8);
		if (ss > len - 16)
			bad_packed(source, "its statistics are truncated");
		st = unpack_stats(data + 16, ss, source);
		unpack_rows(st, b + 16 + ss, len - 16 - ss, source);
		return st;
	}
	if (magic == LMM_STATS_MAGIC)
	{
		LmmStats	s;
		LmmStatsMeta smeta;
		LmmStatsKeys skeys;
		LmmTermsKeys keys;

		problem = lmm_stats_unpack(b, len, &s, &smeta, &skeys);
		if (problem == NULL && (smeta.flags & LMM_STATS_ML) && source != LMM_FROM_STATE)
			problem = "unknown flag bits";
		if (problem != NULL)
			bad_packed(source, problem);
		if (source == LMM_FROM_WIRE || source == LMM_FROM_TEXT)
			lmm_verify_encoding(T, smeta.key_type);
		st = lmm_state_from_legacy(&s, &smeta);
		keys.type = smeta.key_type;
		keys.data = skeys.data;
		keys.len = skeys.len;
		if (st->started)
			levels_from_bytes(&st->levels[0], &keys, st->stats.term[0].nlevels, source);
		if (source == LMM_FROM_WIRE || source == LMM_FROM_TEXT)
			verify_strings(st);
		return st;
	}

	problem = lmm_terms_unpack(b, len, &stats, &meta);
	if (problem == NULL && (meta.flags & LMM_TERMS_NO_KEYS))
		problem = "statistics without keys are a model's, not a value of their own";
	if (problem != NULL)
		bad_packed(source, problem);
	if (source == LMM_FROM_WIRE || source == LMM_FROM_TEXT)
		lmm_verify_encoding(T, meta.spec);
	if (meta.options != NULL && source == LMM_FROM_STORED)
		partial_state_refused();
	if (is_one_term_spec(meta.spec))
	{
		Oid			key_type;

		LmmOptions	names;

		if (stats.nterms > 1 || (stats.nterms == 1 && stats.first_is_one != 1))
			bad_packed(source, "one-term statistics have one term and an intercept");
		key_type = parse_one_term_spec(meta.spec, &names);
		if (stats.nterms == 1 && strcmp(meta.keys[0].type, format_type_be_qualified(key_type)) != 0)
			bad_packed(source, "the keys' type is not the one the spec names, as lmm names it");
		st = lmm_state_one_term(CurrentMemoryContext, key_type, InvalidOid, meta.options);
		st->opts.g_name = names.g_name;
		st->opts.n_x_names = names.n_x_names;
		st->opts.x_names = names.x_names;
		st->opts.n_z_names = names.n_z_names;
		st->opts.z_names = names.z_names;
		st->spec = meta.spec;
		if (stats.nterms == 1)
		{
			if (stats.p < 1)
				bad_packed(source, "one-term statistics have an intercept");
			if ((st->opts.n_x_names >= 0 && st->opts.n_x_names != stats.p - 1) ||
				(st->opts.n_z_names >= 0 && st->opts.n_z_names != stats.term[0].q - 1))
				bad_packed(source, "the number of names does not match the number of columns");
			lmm_state_start(st, stats.p - 1, stats.term[0].q - 1);
		}
	}
	else
	{
		st = lmm_state_formula(CurrentMemoryContext, meta.spec, meta.options);
		if (stats.p != st->p || stats.nterms != st->k)
			bad_packed(source, "the statistics do not have the spec's shape");
		for (t = 0; t < st->k; t++)
			if (stats.term[t].q != st->q[t] ||
				strcmp(meta.keys[t].type, lmm_terms_version(b) == 1 ? "text" : "pg_catalog.text") != 0)
				bad_packed(source, "the statistics do not have the spec's shape");
	}
	lmm_terms_free(&st->stats);
	st->stats = stats;
	st->n_rows = meta.n_rows;
	st->n_dropped = meta.n_dropped;
	for (t = 0; t < stats.nterms; t++)
		levels_from_bytes(&st->levels[t], &meta.keys[t], stats.term[t].nlevels, source);
	return st;
}

/*
 * A one-term state in the current memory context holding lmm 0.6's
 * statistics s, converted, with meta's names; its keys (of the type meta
 * names) are the caller's to fill.
 */
LmmAggState *
lmm_state_from_legacy(const LmmStats *s, const LmmStatsMeta *meta)
{
	Oid			key_type = named_key_type(meta->key_type);
	LmmAggState *st = lmm_state_one_term(CurrentMemoryContext, key_type, InvalidOid, NULL);

	st->opts.g_name = meta->g_name;
	st->opts.n_x_names = meta->n_x_names;
	st->opts.x_names = meta->x_names;
	st->opts.n_z_names = meta->n_z_names;
	st->opts.z_names = meta->z_names;
	st->opts.reml = !(meta->flags & LMM_STATS_ML);
	if (!st->opts.reml)
		st->options = "method=ml";
	st->spec = one_term_spec(&st->opts, key_type);
	st->n_dropped = meta->n_dropped;
	if (pg_add_s64_overflow((int64) s->n, meta->n_dropped, &st->n_rows))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupt lmm_stats value: it counts more than 2^63 rows"),
				 errdetail("Recompute the statistics with lmm_stats.")));
	if (s->p > 0)
	{
		lmm_state_start(st, s->p - 1, s->q - 1);
		lmm_terms_free(&st->stats);
		lmm_stats_to_terms(s, &st->stats);
		/* means near 1e154 pass lmm 0.6's checks but overflow as sums */
		lmm_stats_check_numbers(&st->stats);
		st->levels[0].cap = s->nlevels;
		st->levels[0].keys = palloc_extended(sizeof(Datum) * (s->nlevels + 1), MCXT_ALLOC_HUGE);
	}
	return st;
}

/* Error if two levels of a term of an unpacked state have equal keys (hostile or corrupt input). */
void
lmm_state_check_unique(const LmmAggState *st, bool binary)
{
	int			t;

	for (t = 0; t < st->stats.nterms; t++)
	{
		const LmmLevels *lv = &st->levels[t];
		LmmLevels	probe;
		int64		j;

		levels_init(&probe, CurrentMemoryContext, lv->type, lv->collation);
		probe.hash = levelhash_create(CurrentMemoryContext, 256, &probe);
		for (j = 0; j < st->stats.term[t].nlevels; j++)
		{
			bool		found;

			if ((j & 65535) == 0)
				CHECK_FOR_INTERRUPTS();
			levelhash_insert(probe.hash, lv->keys[j], &found);
			if (found)
			{
				Oid			outfn;
				bool		isvarlena;

				getTypeOutputInfo(lv->type, &outfn, &isvarlena);
				ereport(ERROR,
						(errcode(binary ? ERRCODE_INVALID_BINARY_REPRESENTATION :
								 ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("lmm_stats value lists the group key %s twice",
								OidOutputFunctionCall(outfn, lv->keys[j])),
						 errdetail("Each group appears once in valid statistics; recompute them with lmm_stats.")));
			}
		}
		levelhash_destroy(probe.hash);
	}
}
