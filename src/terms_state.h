/*
 * terms_state.h
 *	  The state of the aggregates over several random-effects terms
 *	  (lmm_fit_terms, lmm_stats_terms) and of lmm_merge on their statistics:
 *	  the statistics of core/lmm_terms.h with the spec that names them.
 */
#ifndef LMM_TERMS_STATE_H
#define LMM_TERMS_STATE_H

#include "postgres.h"

#include "fmgr.h"

#include "core/lmm_terms_io.h"
#include "lmm_pg.h"
#include "state.h"

/* The aggregate's state: the statistics and what the spec and options say. */
typedef struct TermsState
{
	uint32		magic;			/* LMM_TERMS_MAGIC, telling it from an LmmAggState */
	LmmTermStats stats;
	char	   *spec;			/* the first row's spec, to compare later rows' */
	char	   *options;		/* the first row's options, or NULL */
	LmmOptions	opts;
	int			p;
	int			k;
	int			q[LMM_MAX_TERMS];
	int			nz;				/* sum of q */
	char	  **x_names;
	char	   *grp[LMM_MAX_TERMS];
	char	  **z_names[LMM_MAX_TERMS];
	Oid			key_type[LMM_MAX_TERMS];	/* INT2OID, INT4OID, INT8OID or TEXTOID */
	char	   *formula;
	int64		n_rows;
	int64		n_dropped;
} TermsState;

/* Whether an aggregate's internal state is a TermsState (else an LmmAggState). */
#define LMM_IS_TERMS_STATE(p) (*(const uint32 *) (p) == LMM_TERMS_MAGIC)

extern TermsState *lmm_terms_state_new(MemoryContext ctx, const char *spec,
									   const char *options);
extern const char *lmm_terms_state_unpack(const char *data, size_t len,
										  TermsState **out);
extern Datum lmm_terms_state_fit(TermsState *st, bool reml);

/* Several-term lmm_stats values (terms_stats.c). */
extern bool lmm_is_terms_stats(const char *data, size_t len);
extern TermsState *lmm_tstats_unpack(const char *data, size_t len,
									 LmmPackedSource source);
extern void lmm_tstats_check(const LmmTermStats *s);
extern bytea *lmm_tstats_pack(const TermsState *st, bool partial);
extern TermsState *lmm_tstats_merge(MemoryContext ctx, TermsState *dst,
									const TermsState *src);
extern void lmm_tstats_mixed(void) pg_attribute_noreturn();
extern char *lmm_tstats_out(const char *data, size_t len);
extern bytea *lmm_tstats_in(JsonbContainer *root);

#endif							/* LMM_TERMS_STATE_H */
