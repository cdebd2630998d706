/*
 * state.h
 *	  The statistics of a model as the aggregates keep them in memory: the
 *	  core's statistics (core/lmm_terms.h) with each term's level table,
 *	  keyed by values of the term's own key type, and what names the
 *	  columns and terms.  One state serves every aggregate (lmm_fit,
 *	  lmm_stats, lmm_merge, lmm_fit_terms, lmm_stats_terms) and is the
 *	  unpacked form of every lmm_stats value.
 *
 * A state is of one of two kinds, which never merge with each other:
 *	- one-term (lmm_fit(y, x, g [, z]), lmm_stats(y, x, g ...)): x and z
 *	  without their intercepts, names from the options, keys of any type
 *	  with a default hash operator class; its spec is the JSON
 *	  {"g_name": ..., "x_names": [...] or null, "z_names": [...] or null};
 *	- formula (lmm_fit_terms, lmm(), lmm_stats(formula, source)): the spec
 *	  of lmm_fit_terms, keys passed as text (terms_agg.c).
 */
#ifndef LMM_STATE_H
#define LMM_STATE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/expandeddatum.h"

#include "core/lmm_stats_io.h"
#include "core/lmm_rows.h"
#include "core/lmm_terms_io.h"
#include "lmm_pg.h"

struct levelhash_hash;

/*
 * Key types hashed and compared inline, without a function call per row;
 * every other type goes through its hash and equality functions.
 */
#define LMM_KEY_OTHER	0
#define LMM_KEY_INT4	1
#define LMM_KEY_INT8	2
#define LMM_KEY_TEXT	3			/* text under a deterministic collation */

/* The levels of one term: their keys by level number, and the hash of them. */
typedef struct LmmLevels
{
	Oid			type;			/* the keys' type */
	int16		typlen;
	bool		byval;
	Oid			collation;		/* for hashing, comparing and sorting keys */
	char		kind;			/* LMM_KEY_* */
	bool		raw;			/* stored as its bytes in the database encoding
								 * (text, varchar, char and domains over them),
								 * not by its send function, which converts to
								 * the client's encoding */
	FmgrInfo	hash_fn;		/* LMM_KEY_OTHER only */
	FmgrInfo	eq_fn;
	struct levelhash_hash *hash;	/* key -> level; built on first look-up */
	int32	   *direct;			/* integer keys in a dense range: level + 1
								 * by key - direct_lo (0: not there), ahead
								 * of the hash */
	int64		direct_lo;
	int64		direct_n;
	MemoryContext ctx;			/* where the keys live */
	Datum	   *keys;			/* by level number */
	int64		cap;
} LmmLevels;

/*
 * An aggregate's state is an lmm_stats value held as an expanded object:
 * rows update it in place, and it is flattened (to the packed form of a
 * partial state) only when it leaves the aggregate: to a parallel query's
 * leader, or as text to a Citus coordinator.
 */
typedef struct LmmAggState
{
	ExpandedObjectHeader hdr;	/* first: the state is an expanded object */
	bytea	   *flat;			/* its packed form, once asked for its size */
	MemoryContext ctx;			/* where the state and its keys live (an
								 * expanded state's own context) */
	bool		one_term;		/* of lmm_fit(y, x, g ...) rather than a formula */
	bool		started;		/* shape fixed (one-term: by a first usable row) */
	LmmTermStats stats;
	LmmLevels	levels[LMM_MAX_TERMS];
	char	   *spec;			/* the spec text (one-term: the names' JSON) */
	char	   *options;		/* the options text as given, or NULL */
	LmmOptions	opts;			/* what the options say */
	int			p;				/* x columns (one-term: the intercept included) */
	int			k;				/* terms */
	int			q[LMM_MAX_TERMS];
	int			nz;				/* sum of q */
	char	  **x_names;		/* p */
	char	   *grp[LMM_MAX_TERMS];
	char	  **z_names[LMM_MAX_TERMS];
	Oid			key_type[LMM_MAX_TERMS];	/* the type a model records:
											 * keys of a formula are text,
											 * read as integers when it says
											 * so */
	char	   *formula;		/* "" when none */
	int			nfactors;		/* the spec's "factors", for the model */
	LmmModelFactor *factors;
	int64		n_rows;			/* rows seen, usable or not */
	int64		n_dropped;		/* rows skipped for NULLs */
	double	   *row;			/* one-term scratch: x with its intercept, then z */
	/* a GLMM, or a model with weights or offsets, keeps its rows as well */
	bool		keep_rows;
	bool		cbind;			/* y is successes and the weight trials (lmm()'s cbind) */
	LmmRows		rows;
	int64		n_zero_weight;	/* rows dropped for a zero prior weight */
	int			n_partials;		/* parallel partial states combined into this one */
} LmmAggState;

/* Marks a partial state that carries kept rows after its statistics. */
#define LMM_ROWS_MAGIC 0x4C4D4D72u	/* "LMMr" */

/* How a packed value reached us, which decides the error we raise if it is bad. */
typedef enum LmmPackedSource
{
	LMM_FROM_STATE,				/* our own serialized aggregate state */
	LMM_FROM_STORED,			/* a stored lmm_stats datum */
	LMM_FROM_WIRE,				/* binary input from a client or another server */
	LMM_FROM_TEXT				/* text input */
} LmmPackedSource;

/* state.c */
extern LmmAggState *lmm_state_formula(MemoryContext ctx, const char *spec,
									  const char *options);
extern LmmAggState *lmm_state_one_term(MemoryContext ctx, Oid key_type,
									   Oid collation, const char *options);
extern void lmm_state_start(LmmAggState *st, int nx, int nz);
extern int64 lmm_state_level(LmmAggState *st, int t, Datum key);
extern void lmm_state_merge(LmmAggState *dst, const LmmAggState *src);
extern LmmAggState *lmm_state_copy_empty(MemoryContext ctx,
										 const LmmAggState *src, Oid collation);
extern bytea *lmm_state_pack(const LmmAggState *st, bool partial);
extern LmmAggState *lmm_state_unpack(const char *data, size_t len,
									 LmmPackedSource source);
extern LmmAggState *lmm_state_from_legacy(const LmmStats *s,
										  const LmmStatsMeta *meta);
extern void lmm_state_check_unique(const LmmAggState *st, bool binary);
extern void lmm_state_keep_rows(LmmAggState *st);
extern bool lmm_state_row_ok(LmmAggState *st, double *y, double wt, double off);
extern void lmm_state_add_row(LmmAggState *st, const double *x, double y,
							  double wt, double off, const int64 *level,
							  const double *z);
extern void lmm_stats_check_numbers(const LmmTermStats *s);
extern MemoryContext lmm_state_context(MemoryContext aggctx);
extern Datum lmm_state_datum(LmmAggState *st);
extern LmmAggState *lmm_state_arg(FunctionCallInfo fcinfo, int argno,
								  MemoryContext aggctx, bool update);
extern char **lmm_json_names(JsonbContainer *root, const char *key, int *n);

/* fit.c */
extern Datum lmm_state_fit(LmmAggState *st, bool reml);
extern Datum lmm_state_fit_owned(LmmAggState *st, bool reml);
extern int64 *lmm_level_order(const LmmAggState *st, int t);
extern Datum lmm_state_fit_glmm(LmmAggState *st);

/* agg.c: every aggregate's support and final functions */
extern MemoryContext lmm_agg_context(FunctionCallInfo fcinfo, const char *fn,
									 const char *agg);
extern void lmm_state_mismatch(const char *fn);
extern Datum lmm_agg_combine(PG_FUNCTION_ARGS);
extern Datum lmm_agg_serialize(PG_FUNCTION_ARGS);
extern Datum lmm_agg_deserialize(PG_FUNCTION_ARGS);
extern Datum lmm_fit_final(PG_FUNCTION_ARGS);
extern Datum lmm_stats_final(PG_FUNCTION_ARGS);

#endif							/* LMM_STATE_H */
