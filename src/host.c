/*
 * host.c
 *	  The numerical core's host interface (core/lmm_host.h) for a backend:
 *	  memory from the current context through the huge-allocation API, and
 *	  interrupts from the backend's pending flag.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "core/lmm_host.h"

PG_MODULE_MAGIC;

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
