/*
 * state.c
 *	  Statistics keyed by group: creation, the key hash table, exact merges
 *	  of two states, and the packed form shared by lmm_stats values and the
 *	  serialized aggregate state.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "state.h"

/* One group key and the index of its level record. */
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
 * Hash a group key: int and bigint inline, other types with their hash
 * function (32 bits suffice for simplehash).  The hash never leaves the
 * table, so it need not match the type's own.
 */
static inline uint32
level_hash(struct levelhash_hash *tb, Datum key)
{
	LmmAggState *st = (LmmAggState *) tb->private_data;

	if (st->key_kind == LMM_KEY_INT4)
		return murmurhash32((uint32) DatumGetInt32(key));
	if (st->key_kind == LMM_KEY_INT8)
		return mix64((uint64) DatumGetInt64(key));
	return DatumGetUInt32(FunctionCall1Coll(&st->hash_fn, st->collation, key));
}

/* Compare two group keys: int and bigint inline, others with their equality operator. */
static inline bool
level_equal(struct levelhash_hash *tb, Datum a, Datum b)
{
	LmmAggState *st = (LmmAggState *) tb->private_data;

	if (st->key_kind == LMM_KEY_INT4)
		return DatumGetInt32(a) == DatumGetInt32(b);
	if (st->key_kind == LMM_KEY_INT8)
		return DatumGetInt64(a) == DatumGetInt64(b);
	return DatumGetBool(FunctionCall2Coll(&st->eq_fn, st->collation, a, b));
}

/* How keys of a type are hashed and compared: inline for int and bigint. */
static char
key_kind_of(Oid key_type)
{
	if (key_type == INT4OID)
		return LMM_KEY_INT4;
	if (key_type == INT8OID && FLOAT8PASSBYVAL)
		return LMM_KEY_INT8;
	return LMM_KEY_OTHER;
}

/*
 * A new empty state in ctx for keys of key_type, compared under collation
 * (the key type's default when invalid), with default options.
 */
LmmAggState *
lmm_state_create(MemoryContext ctx, Oid key_type, Oid collation)
{
	MemoryContext old = MemoryContextSwitchTo(ctx);
	LmmAggState *st = palloc0(sizeof(LmmAggState));
	TypeCacheEntry *tce;

	st->magic = LMM_STATS_MAGIC;
	st->ctx = ctx;
	st->key_type = key_type;
	st->collation = OidIsValid(collation) ? collation : get_typcollation(key_type);
	st->key_kind = key_kind_of(key_type);
	tce = lookup_type_cache(key_type,
							TYPECACHE_HASH_PROC_FINFO | TYPECACHE_EQ_OPR_FINFO);
	if (!OidIsValid(tce->hash_proc) || !OidIsValid(tce->eq_opr))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify a hash function for group keys of type %s",
						format_type_be(key_type)),
				 errdetail("Group keys need a type with a default hash operator class; cast the key, for example to text.")));
	fmgr_info_cxt(tce->hash_proc, &st->hash_fn, ctx);
	fmgr_info_cxt(get_opcode(tce->eq_opr), &st->eq_fn, ctx);
	get_typlenbyval(key_type, &st->key_typlen, &st->key_byval);
	st->levels = levelhash_create(ctx, 256, st);
	lmm_parse_options(NULL, &st->opts);
	MemoryContextSwitchTo(old);
	return st;
}

/* Fix p and q from the first usable row and check the options against them. */
void
lmm_state_start(LmmAggState *st, int nx, int nz)
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

/* Record key as level index, growing the key array as needed. */
static void
set_key(LmmAggState *st, int64 index, Datum key)
{
	if (index >= st->keys_cap)
	{
		st->keys_cap = st->keys_cap == 0 ? 256 : st->keys_cap * 2;
		st->keys = st->keys == NULL ?
			MemoryContextAllocHuge(st->ctx, sizeof(Datum) * st->keys_cap) :
			repalloc_huge(st->keys, sizeof(Datum) * st->keys_cap);
	}
	st->keys[index] = key;
}

/* The level index of a key, adding a level (and copying the key) when it is new. */
int64
lmm_state_level(LmmAggState *st, Datum key)
{
	bool		found;
	LevelEntry *e = levelhash_insert(st->levels, key, &found);

	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(st->ctx);

		e->key = datumCopy(key, st->key_byval, st->key_typlen);
		e->index = lmm_stats_add_level(&st->stats);
		set_key(st, e->index, e->key);
		MemoryContextSwitchTo(old);
	}
	return e->index;
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

/* Error unless two states describe the same model shape; says what differs. */
static void
check_same_shape(const LmmAggState *a, const LmmAggState *b)
{
	const char *what = NULL;
	char	   *mine = NULL;
	char	   *theirs = NULL;

	if (a->key_type != b->key_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("cannot merge statistics with group keys of type %s and %s",
						format_type_be(a->key_type), format_type_be(b->key_type)),
				 errdetail("Compute every part's lmm_stats with the same key type, e.g. cast the keys to text everywhere.")));
	if (a->started && b->started && (a->nx != b->nx || a->nz != b->nz))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge statistics of different shape: %d and %d fixed-effect columns, %d and %d random-effect columns",
						a->nx + 1, b->nx + 1, a->nz + 1, b->nz + 1),
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

/*
 * Merge src into dst exactly (Chan et al.): levels with equal keys combine,
 * new levels are added.  dst takes src's shape if it has seen no usable row.
 */
void
lmm_state_merge(LmmAggState *dst, const LmmAggState *src)
{
	int64		j;

	check_same_shape(dst, src);
	dst->n_rows += src->n_rows;
	dst->n_dropped += src->n_dropped;
	if (!src->started)
		return;
	if (!dst->started)
		lmm_state_start(dst, src->nx, src->nz);
	for (j = 0; j < src->stats.nlevels; j++)
	{
		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		lmm_stats_merge_level(&dst->stats, lmm_state_level(dst, src->keys[j]),
							  src->stats.level + (size_t) j * src->stats.stride);
	}
	lmm_stats_merge_overall(&dst->stats, src->stats.n, src->stats.mean,
							src->stats.comom);
}

/* Copy n names into the current memory context. */
static char **
copy_names(int n, char **names)
{
	char	  **out;
	int			k;

	if (n < 0)
		return NULL;
	out = palloc(sizeof(char *) * (n + 1));
	for (k = 0; k < n; k++)
		out[k] = pstrdup(names[k]);
	return out;
}

/*
 * An empty state in ctx with src's key type and options, ready for
 * lmm_state_merge(result, src): a combine function's way to adopt a state
 * that lives in a shorter-lived context.
 */
LmmAggState *
lmm_state_copy_empty(MemoryContext ctx, const LmmAggState *src, Oid collation)
{
	LmmAggState *st = lmm_state_create(ctx, src->key_type,
									   OidIsValid(collation) ? collation : src->collation);
	MemoryContext old = MemoryContextSwitchTo(ctx);

	st->opts = src->opts;
	st->opts.g_name = pstrdup(src->opts.g_name);
	st->opts.x_names = copy_names(src->opts.n_x_names, src->opts.x_names);
	st->opts.z_names = copy_names(src->opts.n_z_names, src->opts.z_names);
	MemoryContextSwitchTo(old);
	return st;
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

/* The key type's name as another server can parse it back. */
static char *
key_type_name(Oid key_type)
{
	return format_type_be_qualified(key_type);
}

/*
 * The packed binary form of a state, as a new bytea: the lmm_stats payload,
 * with the ML flag set only for lmm_fit's own serialized state.  Keys travel
 * in their type's binary send form.
 */
bytea *
lmm_state_pack(const LmmAggState *st, bool ml)
{
	LmmStatsMeta meta;
	LmmStatsKeys keys;
	int64		J = st->started ? st->stats.nlevels : 0;
	Oid			sendfn;
	bool		isvarlena;
	FmgrInfo	send;
	size_t		size;
	bytea	   *result;
	const char *problem;
	int64		j;

	meta.flags = ml ? LMM_STATS_ML : 0;
	meta.n_dropped = st->n_dropped;
	meta.g_name = st->opts.g_name;
	meta.key_type = key_type_name(st->key_type);
	meta.n_x_names = st->opts.n_x_names;
	meta.x_names = st->opts.x_names;
	meta.n_z_names = st->opts.n_z_names;
	meta.z_names = st->opts.z_names;

	/* never write a value that reading it back would refuse */
	problem = st->started ? lmm_stats_check(&st->stats, &meta) : NULL;
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the statistics overflow double precision: %s", problem),
				 errdetail("Values near 1e154 or above square to infinity; rescale y, x or z.")));

	keys.data = palloc_extended(sizeof(unsigned char *) * (J + 1), MCXT_ALLOC_HUGE);
	keys.len = palloc_extended(sizeof(uint32_t) * (J + 1), MCXT_ALLOC_HUGE);
	if (J > 0)
	{
		if (!has_binary_io(st->key_type))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FUNCTION),
					 errmsg("group keys of type %s have no binary input and output functions",
							format_type_be(st->key_type)),
					 errdetail("Statistics store keys in binary form; cast the keys, for example to text.")));
		getTypeBinaryOutputInfo(st->key_type, &sendfn, &isvarlena);
		fmgr_info(sendfn, &send);
	}
	for (j = 0; j < J; j++)
	{
		bytea	   *b;

		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		b = SendFunctionCall(&send, st->keys[j]);
		keys.data[j] = (const unsigned char *) VARDATA(b);
		keys.len[j] = VARSIZE(b) - VARHDRSZ;
	}

	size = lmm_stats_packed_size(&st->stats, &meta, &keys);
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("statistics of %lld groups would take %zu bytes, more than a value can hold",
						(long long) J, size),
				 errdetail("A value is limited to 1 GB; compute lmm_stats for parts of the groups and fit with lmm_merge.")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	lmm_stats_pack(&st->stats, &meta, &keys, (unsigned char *) VARDATA(result));
	return result;
}

/*
 * A state (without a hash table) in the current memory context holding s
 * and meta, for keys of the type meta names; the caller fills the keys.
 */
LmmAggState *
lmm_state_from_parts(const LmmStats *s, const LmmStatsMeta *meta)
{
	LmmAggState *st = palloc0(sizeof(LmmAggState));
	Oid			key_type;
	int32		typmod;

	parseTypeString(meta->key_type, &key_type, &typmod, true);
	if (!OidIsValid(key_type))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the group key type \"%s\" of these statistics does not exist",
						meta->key_type),
				 errdetail("Create the type on this server, or compute the statistics with keys cast to text.")));
	if (get_typtype(key_type) == TYPTYPE_PSEUDO)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the group key type \"%s\" of these statistics is a pseudo-type",
						meta->key_type),
				 errdetail("Group keys have an ordinary type with a default hash operator class, such as integer, text or date; recompute the statistics with lmm_stats.")));
	st->magic = LMM_STATS_MAGIC;
	st->ctx = CurrentMemoryContext;
	st->key_type = key_type;
	st->collation = get_typcollation(key_type);
	st->key_kind = key_kind_of(key_type);
	get_typlenbyval(key_type, &st->key_typlen, &st->key_byval);
	lmm_parse_options(NULL, &st->opts);
	st->opts.reml = !(meta->flags & LMM_STATS_ML);
	st->opts.g_name = meta->g_name;
	st->opts.n_x_names = meta->n_x_names;
	st->opts.x_names = meta->x_names;
	st->opts.n_z_names = meta->n_z_names;
	st->opts.z_names = meta->z_names;
	st->n_dropped = meta->n_dropped;
	st->stats = *s;
	st->started = s->p > 0;
	st->nx = st->started ? s->p - 1 : 0;
	st->nz = st->started ? s->q - 1 : 0;
	st->keys_cap = s->nlevels;
	st->keys = palloc_extended(sizeof(Datum) * (s->nlevels + 1), MCXT_ALLOC_HUGE);
	return st;
}

/* Raise the error for a packed value that fails validation, by where it came from. */
static void
bad_packed(LmmPackedSource source, const char *problem)
{
	if (source == LMM_FROM_WIRE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary lmm_stats value: %s", problem),
				 errdetail("Send the bytes that lmm_stats's binary output produced.")));
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt lmm_stats value: %s", problem),
			 errdetail("Recompute the statistics with the lmm_stats aggregate.")));
}

/*
 * Unpack and fully validate a packed value into a state in the current
 * memory context, decoding each key with its type's receive function.
 */
LmmAggState *
lmm_state_unpack(const char *data, size_t len, LmmPackedSource source)
{
	LmmStats	s;
	LmmStatsMeta meta;
	LmmStatsKeys keys;
	const char *problem = lmm_stats_unpack((const unsigned char *) data, len,
										   &s, &meta, &keys);
	LmmAggState *st;
	Oid			recvfn;
	Oid			ioparam;
	FmgrInfo	recv;
	int64		j;
	int			k;

	if (problem == NULL && (meta.flags & LMM_STATS_ML) && source != LMM_FROM_STATE)
		problem = "unknown flag bits";
	if (problem != NULL)
		bad_packed(source, problem);
	if (source == LMM_FROM_WIRE)
	{
		lmm_verify_encoding("lmm_stats", meta.g_name);
		lmm_verify_encoding("lmm_stats", meta.key_type);
		for (k = 0; k < meta.n_x_names; k++)
			lmm_verify_encoding("lmm_stats", meta.x_names[k]);
		for (k = 0; k < meta.n_z_names; k++)
			lmm_verify_encoding("lmm_stats", meta.z_names[k]);
	}
	st = lmm_state_from_parts(&s, &meta);
	if (s.nlevels == 0)
		return st;

	if (!has_binary_io(st->key_type))
		bad_packed(source, "the group key type has no binary input and output functions");
	getTypeBinaryInputInfo(st->key_type, &recvfn, &ioparam);
	fmgr_info(recvfn, &recv);
	for (j = 0; j < s.nlevels; j++)
	{
		StringInfoData buf;

		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		/* the receive function wants a terminated buffer it may read to the end */
		initStringInfo(&buf);
		appendBinaryStringInfo(&buf, (const char *) keys.data[j], keys.len[j]);
		st->keys[j] = ReceiveFunctionCall(&recv, &buf, ioparam, -1);
		if (buf.cursor != buf.len)
			bad_packed(source, "a group key has trailing bytes");
		pfree(buf.data);
	}
	return st;
}

/* Error if two levels of an unpacked state have equal keys (hostile or corrupt input). */
void
lmm_state_check_unique(const LmmAggState *st, bool binary)
{
	LmmAggState *probe = lmm_state_create(CurrentMemoryContext, st->key_type,
										  st->collation);
	int64		j;

	for (j = 0; j < st->stats.nlevels; j++)
	{
		bool		found;

		if ((j & 65535) == 0)
			CHECK_FOR_INTERRUPTS();
		levelhash_insert(probe->levels, st->keys[j], &found);
		if (found)
		{
			Oid			outfn;
			bool		isvarlena;

			getTypeOutputInfo(st->key_type, &outfn, &isvarlena);
			ereport(ERROR,
					(errcode(binary ? ERRCODE_INVALID_BINARY_REPRESENTATION :
							 ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("lmm_stats value lists the group key %s twice",
							OidOutputFunctionCall(outfn, st->keys[j])),
					 errdetail("Each group appears once in valid statistics; recompute them with lmm_stats.")));
		}
	}
	levelhash_destroy(probe->levels);
}
