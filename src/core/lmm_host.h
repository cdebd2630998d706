/*
 * lmm_host.h
 *	  What the numerical core needs from whoever hosts it.
 *
 * The core never includes PostgreSQL headers.  The host (the PostgreSQL
 * glue in src/, or a standalone test driver) links in these functions:
 * memory comes from the host's allocator so that the server can account for
 * it and release it on error, and long loops ask the host whether the user
 * wants the computation to stop.
 */
#ifndef LMM_HOST_H
#define LMM_HOST_H

#include <stddef.h>
#include <stdint.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* Allocate size bytes; never returns NULL (the host raises its own error). */
extern void *lmm_alloc(size_t size);

/* Allocate size zeroed bytes; never returns NULL. */
extern void *lmm_alloc0(size_t size);

/* Resize a block from lmm_alloc; never returns NULL. */
extern void *lmm_realloc(void *ptr, size_t size);

/* Release a block from lmm_alloc (NULL is allowed). */
extern void lmm_free(void *ptr);

/*
 * Ask for huge pages over the 2 MB-aligned middle of a large block that is
 * streamed through or grown level by level (Linux's transparent huge pages
 * in madvise mode): fewer page faults and TLB misses.  A hint only.
 */
static inline void
lmm_advise_huge(void *p, size_t bytes)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
	const uintptr_t huge = (uintptr_t) 2 * 1024 * 1024;
	uintptr_t	lo = ((uintptr_t) p + huge - 1) & ~(huge - 1);
	uintptr_t	hi = ((uintptr_t) p + bytes) & ~(huge - 1);

	if (hi > lo)
		(void) madvise((void *) lo, hi - lo, MADV_HUGEPAGE);
#else
	(void) p;
	(void) bytes;
#endif
}

/* Nonzero when the host wants a long computation to stop soon. */
extern int	lmm_interrupt_pending(void);

/*
 * Bytes a fit's factor of its later random-effects terms (and that
 * factor's inverse) may take; a larger one is refused with
 * LMM_ERR_TOO_MANY_LEVELS.
 */
extern double lmm_factor_memory_limit(void);

/*
 * Which factor of the later random-effects terms a fit takes: 0 by fill
 * (lmm_sparse.c), 1 always the dense one, 2 always the sparse one.
 */
extern int	lmm_factor_choice(void);

/*
 * Threads a fit may split a pass over a grouping factor's levels between
 * (lmm_threads.c); 1 keeps it on the caller's thread.
 */
extern int	lmm_level_threads(void);

/* A note on how a fit is computed, for whoever debugs it (printf-style). */
extern void lmm_note(const char *fmt,...) __attribute__((format(printf, 1, 2)));

#endif							/* LMM_HOST_H */
