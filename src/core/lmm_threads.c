/*
 * lmm_threads.c
 *	  Work split over threads of the backend's own process (lmm_threads.h).
 *
 * A thread is started per part and joined at the end of the pass, so
 * nothing waits or spins between passes; the parts' sums are combined by
 * the caller in the parts' order, so a fit with the same number of threads
 * gives the same bits every time.
 */
#include "lmm_threads.h"

#include <pthread.h>
#include <signal.h>

#include "lmm_host.h"

/* One part of the work, as pthread_create wants it. */
typedef struct Part
{
	void		(*fn) (void *);
	void	   *arg;
} Part;

/* pthread_create's entry: one part. */
static void *
run_part(void *arg)
{
	Part	   *part = arg;

	part->fn(part->arg);
	return NULL;
}

int
lmm_threads_for(int64_t n, int64_t min_per_thread)
{
	int64_t		nt = lmm_level_threads();

	if (nt > LMM_MAX_THREADS)
		nt = LMM_MAX_THREADS;
	if (min_per_thread > 0 && nt > n / min_per_thread)
		nt = n / min_per_thread;
	return nt < 1 ? 1 : (int) nt;
}

void
lmm_run_threads(int n, void (*fn) (void *), void *args, size_t stride)
{
	Part		part[LMM_MAX_THREADS];
	pthread_t	tid[LMM_MAX_THREADS];
	int			started[LMM_MAX_THREADS] = {0};
	int			k;

	if (n > LMM_MAX_THREADS)
		n = LMM_MAX_THREADS;
	if (n > 1)
	{
		sigset_t	all,
					old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (k = 1; k < n; k++)
		{
			part[k].fn = fn;
			part[k].arg = (char *) args + (size_t) k * stride;
			started[k] = pthread_create(&tid[k], NULL, run_part, &part[k]) == 0;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	fn(args);
	for (k = 1; k < n; k++)
	{
		if (started[k])
			pthread_join(tid[k], NULL);
		else
			fn((char *) args + (size_t) k * stride);
	}
}

/*
 * Blocks smaller than this are touched by whoever writes them: a thread's
 * start costs more than its share.
 */
#define FIRST_TOUCH_MIN ((size_t) 64 << 20)

/* One thread's share of a block to touch. */
typedef struct Touch
{
	volatile char *p;
	size_t		len;
} Touch;

/* Write a byte of every 4 kB page of the share, so the kernel provides each. */
static void
touch_part(void *arg)
{
	Touch	   *t = arg;
	size_t		off;

	for (off = 0; off < t->len; off += 4096)
		t->p[off] = 0;
}

/*
 * Why: the kernel clears a page when it is first written, and on a virtual
 * machine that first write also makes the host provide it, about a
 * millisecond a megabyte here; a fit that copies its statistics into a few
 * arrays of 150 MB would pay it on one thread, while a pass over them is
 * split between several.
 */
void
lmm_first_touch(void *p, size_t bytes)
{
	Touch		part[LMM_MAX_THREADS];
	int			nt,
				k;
	size_t		at = 0;

	if (p == NULL || bytes < FIRST_TOUCH_MIN)
		return;
	nt = lmm_threads_for((int64_t) (bytes >> 20), 16);
	if (nt < 2)
		return;
	for (k = 0; k < nt; k++)
	{
		/* shares end on 2 MB boundaries of memory, so no huge page is split between two */
		size_t		end = k == nt - 1 ? bytes :
			(((uintptr_t) p + bytes / nt * (k + 1)) & ~(((uintptr_t) 2 << 20) - 1)) - (uintptr_t) p;

		if (end < at)
			end = at;
		part[k].p = (volatile char *) p + at;
		part[k].len = end - at;
		at = end;
	}
	lmm_run_threads(nt, touch_part, part, sizeof(Touch));
}
