/*
 * host.c
 *	  The numerical core's host interface (core/lmm_host.h) for a backend:
 *	  memory from the current context through the huge-allocation API, and
 *	  interrupts from the backend's pending flag.
 */
#include "postgres.h"

#include <limits.h>
#include <stdarg.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "optimizer/cost.h"
#include "utils/guc.h"

#include "core/lmm_host.h"
#include "core/lmm_threads.h"
#include "numlib.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* lmm.blas_threads: threads OpenBLAS may use in this backend. */
static int	blas_threads = 1;

/*
 * lmm.fit_threads: threads a fit may split a pass over a grouping factor's
 * levels between; -1 for as many as parallel query may use processes.
 */
static int	fit_threads = -1;

/* lmm.max_factor_memory, in MB: the largest factor of a fit's later terms. */
static int	max_factor_memory = 2048;

/* lmm.sparse_factor: the later terms' factor by fill, always dense, always sparse. */
static int	sparse_factor = 0;

static const struct config_enum_entry sparse_factor_options[] = {
	{"auto", 0, false},
	{"off", 1, false},
	{"on", 2, false},
	{NULL, 0, false}
};

/* lmm.fit_threads takes -1 (as parallel query) or a count of threads, not 0. */
static bool
check_fit_threads(int *newval, void **extra, GucSource source)
{
	if (*newval != 0)
		return true;
	GUC_check_errdetail("lmm.fit_threads is -1 (as many as a parallel query may use processes) or 1 to %d.",
						LMM_MAX_THREADS);
	return false;
}

/* Apply lmm.blas_threads (numlib.c: now, or when OpenBLAS is loaded). */
static void
assign_blas_threads(int newval, void *extra)
{
	lmm_numlib_set_threads(newval);
}

/*
 * Module load: the lmm.blas_threads setting.  One thread by default: a
 * database server runs many backends, and parallel query already spreads a
 * fit over processes, so a BLAS thread pool per backend mostly competes with
 * them (its idle threads spin).
 */
void
_PG_init(void)
{
	lmm_numlib_init();
	DefineCustomIntVariable("lmm.blas_threads",
							"Threads the BLAS (OpenBLAS) may use in each backend for lmm's dense algebra.",
							"Raise it on an otherwise idle machine to speed up fits whose dense block is large (several crossed grouping factors).",
							&blas_threads, 1, 1, 64, PGC_USERSET, 0,
							NULL, assign_blas_threads, NULL);
	DefineCustomIntVariable("lmm.fit_threads",
							"Threads a fit may use for its passes over the levels of a grouping factor.",
							"-1 (the default) takes as many as a parallel query may use processes (max_parallel_workers_per_gather, at most max_parallel_workers, + 1, at most 8); 1 keeps every fit on the backend's own thread. Only factors of at least 65,536 levels are split.",
							&fit_threads, -1, -1, LMM_MAX_THREADS, PGC_USERSET, 0,
							check_fit_threads, NULL, NULL);
	DefineCustomIntVariable("lmm.max_factor_memory",
							"Memory a fit's factor of its random-effects terms after the largest may take.",
							"The factor (dense, or sparse where that is smaller) and its inverse; a model that needs more is refused. Raise it for more crossed levels.",
							&max_factor_memory, 2048, 1, INT_MAX, PGC_USERSET, GUC_UNIT_MB,
							NULL, NULL, NULL);
	DefineCustomEnumVariable("lmm.sparse_factor",
							 "Whether a fit factors its random-effects terms after the largest sparsely.",
							 "auto (the default) takes the sparse factor where its fill is low, off always the dense one, on always the sparse one.",
							 &sparse_factor, 0, sparse_factor_options, PGC_USERSET, 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("lmm");
}

/* Core allocations may exceed 1 GB for millions of levels, so allow huge chunks. */
void *
lmm_alloc(size_t size)
{
	return palloc_extended(size, MCXT_ALLOC_HUGE);
}

/* Zeroed huge-capable allocation. */
void *
lmm_alloc0(size_t size)
{
	return palloc_extended(size, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

/* Resize within the chunk's own memory context. */
void *
lmm_realloc(void *ptr, size_t size)
{
	if (ptr == NULL)
		return lmm_alloc(size);
	return repalloc_huge(ptr, size);
}

/* Free a core allocation; NULL is allowed. */
void
lmm_free(void *ptr)
{
	if (ptr != NULL)
		pfree(ptr);
}

/*
 * The core polls this in its long loops and, when it says yes, stops and
 * returns cleanly; the caller then runs CHECK_FOR_INTERRUPTS, which raises
 * the error.  Only a cancel (statement_timeout, pg_cancel_backend) or a
 * termination that CHECK_FOR_INTERRUPTS will act on now counts: other
 * interrupts wait until the fit is done.
 */
int
lmm_interrupt_pending(void)
{
	return ((QueryCancelPending || ProcDiePending) &&
			InterruptHoldoffCount == 0 && CritSectionCount == 0 &&
			QueryCancelHoldoffCount == 0) ? 1 : 0;
}

/*
 * lmm.fit_threads for the core: by default what a parallel query may use
 * (its workers, as max_parallel_workers_per_gather and max_parallel_workers
 * allow, and the leader), so that a fit takes no more cores than the
 * server's parallel settings give one query, and none more where either
 * turns parallel query off.
 */
int
lmm_level_threads(void)
{
	if (fit_threads >= 1)
		return fit_threads;
	return Min(Min(max_parallel_workers_per_gather, max_parallel_workers) + 1,
			   LMM_MAX_THREADS);
}

/* lmm.max_factor_memory in bytes. */
double
lmm_factor_memory_limit(void)
{
	return (double) max_factor_memory * 1048576.0;
}

/* lmm.sparse_factor for the core. */
int
lmm_factor_choice(void)
{
	return sparse_factor;
}

/* The core's notes go to the server log and client at DEBUG1. */
void
lmm_note(const char *fmt,...)
{
	char		buf[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	elog(DEBUG1, "%s", buf);
}
