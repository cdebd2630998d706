/*
 * lmm_threads.h
 *	  Work split over threads of the backend's own process: the passes over
 *	  a term's levels, and a GLMM's per-level kernel.
 */
#ifndef LMM_THREADS_H
#define LMM_THREADS_H

#include <stddef.h>
#include <stdint.h>

/* Threads one pass may use at most, whatever the host allows. */
#define LMM_MAX_THREADS 8

/*
 * How many threads a pass over n items should take: the host's allowance
 * (lmm_level_threads), at most one per min_per_thread items, at least 1.
 */
extern int	lmm_threads_for(int64_t n, int64_t min_per_thread);

/*
 * fn(args + k * stride) for k = 0 .. n - 1: k = 0 on the caller's thread,
 * the others on threads of their own with every signal blocked (the
 * server's handlers must run on its own thread); a thread that cannot
 * start runs on the caller's.  Returns when all are done.  fn must not
 * allocate through the host nor poll it except from k = 0.
 */
extern void lmm_run_threads(int n, void (*fn) (void *), void *args, size_t stride);

/*
 * The first write to every page of a fresh block of bytes (uninitialized
 * memory: a byte of each page is overwritten), split between the threads a
 * pass may use, for blocks of 64 MB or more.  After lmm_advise_huge, so
 * that the pages come huge.
 */
extern void lmm_first_touch(void *p, size_t bytes);

#endif							/* LMM_THREADS_H */
