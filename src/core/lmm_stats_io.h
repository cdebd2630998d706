/*
 * lmm_stats_io.h
 *	  The binary form of lmm 0.6's one-term statistics ("LMMs"), the payload
 *	  of lmm_stats values it stored, read and converted to the statistics of
 *	  every model (lmm_terms_io.h has the form lmm writes now).
 *
 * Group keys are opaque to the core: the host stores each key as bytes
 * (PostgreSQL's binary send form of the key type) and names the key type.
 */
#ifndef LMM_STATS_IO_H
#define LMM_STATS_IO_H

#include <stddef.h>
#include <stdint.h>

#include "lmm_stats.h"
#include "lmm_terms.h"

#define LMM_STATS_MAGIC		0x4C4D4D73u	/* "LMMs" */
#define LMM_STATS_VERSION	1u

/* flag: the aggregate state of lmm_fit(..., 'method=ml'); never in lmm_stats values */
#define LMM_STATS_ML		0x1u
#define LMM_STATS_FLAGS		0x1u

/* Names and counts that travel with the statistics. */
typedef struct LmmStatsMeta
{
	uint32_t	flags;			/* LMM_STATS_* bits */
	int64_t		n_dropped;		/* rows skipped for NULLs */
	char	   *g_name;			/* name of the grouping factor */
	char	   *key_type;		/* SQL type of the group keys */
	int			n_x_names;		/* -1: not given, else p - 1 */
	char	  **x_names;
	int			n_z_names;		/* -1: not given, else q - 1 */
	char	  **z_names;
} LmmStatsMeta;

/* The keys of the levels, as byte strings in level order. */
typedef struct LmmStatsKeys
{
	const unsigned char **data;
	uint32_t   *len;
} LmmStatsKeys;

extern const char *lmm_stats_unpack(const unsigned char *buf, size_t len,
									LmmStats *s, LmmStatsMeta *meta,
									LmmStatsKeys *keys);
extern const char *lmm_stats_check(const LmmStats *s, const LmmStatsMeta *meta);
extern void lmm_stats_meta_free(LmmStatsMeta *meta);
extern void lmm_stats_to_terms(const LmmStats *s, LmmTermStats *out);

#endif							/* LMM_STATS_IO_H */
