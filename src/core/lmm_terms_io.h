/*
 * lmm_terms_io.h
 *	  The portable binary form of the statistics of a model (lmm_terms.h)
 *	  with what the final fit needs besides them: the payload of lmm_stats
 *	  values, the serialized state of every aggregate between parallel
 *	  workers, and (without keys) the statistics a model keeps for refits.
 *
 * The spec and options texts and the level keys are opaque to the core: it
 * stores them and checks only their sizes; the host parses them.  A key is
 * its type's binary send form, and each term names its key type.
 */
#ifndef LMM_TERMS_IO_H
#define LMM_TERMS_IO_H

#include <stddef.h>
#include <stdint.h>

#include "lmm_terms.h"

#define LMM_TERMS_MAGIC		0x4C4D4D74u	/* "LMMt" */
#define LMM_TERMS_VERSION	2u

/* flag: the levels carry no keys (a model's statistics: its levels name them) */
#define LMM_TERMS_NO_KEYS	0x1u

/* The keys of one term's levels, as byte strings in level order. */
typedef struct LmmTermsKeys
{
	char	   *type;			/* the keys' SQL type, as the host names it */
	const unsigned char **data;
	uint32_t   *len;
} LmmTermsKeys;

/* What travels with the statistics. */
typedef struct LmmTermsMeta
{
	uint32_t	flags;			/* LMM_TERMS_* bits */
	int64_t		n_rows;			/* rows seen, usable or not */
	int64_t		n_dropped;		/* rows skipped for NULLs */
	char	   *spec;			/* the aggregate's spec text */
	char	   *options;		/* its options text, or NULL */
	LmmTermsKeys keys[LMM_MAX_TERMS];	/* unused with LMM_TERMS_NO_KEYS */
	const int64_t *order[LMM_MAX_TERMS];	/* pack only: each term's levels
											 * in this order, or NULL */
} LmmTermsMeta;

extern size_t lmm_terms_packed_size(const LmmTermStats *s,
									const LmmTermsMeta *meta);
extern size_t lmm_terms_keyless_size(int p, int q, int64_t nlevels);
extern void lmm_terms_pack(const LmmTermStats *s, const LmmTermsMeta *meta,
						   unsigned char *buf);
extern const char *lmm_terms_unpack(const unsigned char *buf, size_t len,
									LmmTermStats *s, LmmTermsMeta *meta);
extern const char *lmm_terms_check(const LmmTermStats *s);
extern void lmm_terms_meta_free(LmmTermsMeta *meta);

#endif							/* LMM_TERMS_IO_H */
