/*
 * lmm_terms_io.h
 *	  The portable binary form of the several-term statistics (lmm_terms.h)
 *	  with what the final fit needs besides them: the serialized state of the
 *	  lmm_fit_terms aggregate between parallel workers.
 *
 * The spec and options texts are opaque to the core: it stores them and
 * checks only that they are strings; the host parses them.
 */
#ifndef LMM_TERMS_IO_H
#define LMM_TERMS_IO_H

#include <stddef.h>
#include <stdint.h>

#include "lmm_terms.h"

#define LMM_TERMS_MAGIC		0x4C4D4D74u	/* "LMMt" */
#define LMM_TERMS_VERSION	1u

/* What travels with the statistics. */
typedef struct LmmTermsMeta
{
	int64_t		n_rows;			/* rows seen, usable or not */
	int64_t		n_dropped;		/* rows skipped for NULLs */
	char	   *spec;			/* the aggregate's spec text */
	char	   *options;		/* its options text, or NULL */
} LmmTermsMeta;

extern size_t lmm_terms_packed_size(const LmmTermStats *s,
									const LmmTermsMeta *meta);
extern void lmm_terms_pack(const LmmTermStats *s, const LmmTermsMeta *meta,
						   unsigned char *buf);
extern const char *lmm_terms_unpack(const unsigned char *buf, size_t len,
									LmmTermStats *s, LmmTermsMeta *meta);
extern const char *lmm_terms_check(const LmmTermStats *s);
extern void lmm_terms_meta_free(LmmTermsMeta *meta);

#endif							/* LMM_TERMS_IO_H */
