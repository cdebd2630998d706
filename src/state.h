/*
 * state.h
 *	  The streamed statistics with their group keys, as the aggregates keep
 *	  them in memory: the transition state of lmm_fit, lmm_stats and
 *	  lmm_merge, and the unpacked form of an lmm_stats value.
 */
#ifndef LMM_STATE_H
#define LMM_STATE_H

#include "postgres.h"

#include "fmgr.h"

#include "core/lmm_stats.h"
#include "core/lmm_stats_io.h"
#include "lmm_pg.h"

struct levelhash_hash;

/* Statistics per level of the grouping factor, keyed by the group keys. */
typedef struct LmmAggState
{
	uint32		magic;			/* LMM_STATS_MAGIC, telling it from a TermsState */
	MemoryContext ctx;			/* where the state and its keys live */
	bool		started;		/* p and q fixed by a first usable row */
	int			nx;				/* length of x (p - 1) */
	int			nz;				/* length of z (q - 1) */
	LmmStats	stats;
	int64		n_rows;			/* rows seen, usable or not */
	int64		n_dropped;		/* rows skipped for NULLs */
	text	   *options;		/* options text of the first row, or NULL */
	LmmOptions	opts;			/* what the options say */
	Oid			key_type;
	int16		key_typlen;
	bool		key_byval;
	Oid			collation;		/* for hashing, comparing and sorting keys */
	char		key_kind;		/* LMM_KEY_INT4, LMM_KEY_INT8 or LMM_KEY_OTHER */
	FmgrInfo	hash_fn;
	FmgrInfo	eq_fn;
	struct levelhash_hash *levels;	/* key -> level; NULL in unpacked values */
	Datum	   *keys;			/* by level index */
	int64		keys_cap;
	double	   *v;				/* scratch for one row: z, x, y */
} LmmAggState;

/*
 * Key types hashed and compared inline, without a function call per row;
 * every other type goes through its hash and equality functions.
 */
#define LMM_KEY_OTHER	0
#define LMM_KEY_INT4	1
#define LMM_KEY_INT8	2

/* How a packed value reached us, which decides the error we raise if it is bad. */
typedef enum LmmPackedSource
{
	LMM_FROM_STATE,				/* our own serialized aggregate state */
	LMM_FROM_STORED,			/* a stored lmm_stats datum */
	LMM_FROM_WIRE,				/* binary input from a client or another server */
	LMM_FROM_TEXT				/* text input (several-term values only) */
} LmmPackedSource;

extern LmmAggState *lmm_state_create(MemoryContext ctx, Oid key_type,
									 Oid collation);
extern void lmm_state_start(LmmAggState *st, int nx, int nz);
extern int64 lmm_state_level(LmmAggState *st, Datum key);
extern void lmm_state_merge(LmmAggState *dst, const LmmAggState *src);
extern LmmAggState *lmm_state_copy_empty(MemoryContext ctx,
										 const LmmAggState *src, Oid collation);
extern LmmAggState *lmm_state_from_parts(const LmmStats *s,
										 const LmmStatsMeta *meta);
extern bytea *lmm_state_pack(const LmmAggState *st, bool ml);
extern LmmAggState *lmm_state_unpack(const char *data, size_t len,
									 LmmPackedSource source);
extern void lmm_state_check_unique(const LmmAggState *st, bool binary);

extern Datum lmm_state_fit(LmmAggState *st, bool reml);

#endif							/* LMM_STATE_H */
