/*
 * host.c
 *	  The core's host interface for standalone tests: plain malloc, and an
 *	  interrupt only when a driver sets a budget of polls.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "lmm_host.h"

/* Abort on exhaustion: a test has nothing better to do. */
static void *
checked(void *p)
{
	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return p;
}

/* malloc that never returns NULL. */
void *
lmm_alloc(size_t size)
{
	return checked(malloc(size ? size : 1));
}

/* calloc that never returns NULL. */
void *
lmm_alloc0(size_t size)
{
	return checked(calloc(1, size ? size : 1));
}

/* realloc that never returns NULL. */
void *
lmm_realloc(void *ptr, size_t size)
{
	return checked(realloc(ptr, size ? size : 1));
}

/* free. */
void
lmm_free(void *ptr)
{
	free(ptr);
}

/*
 * Polls of lmm_interrupt_pending left before it reports an interrupt, as
 * statement_timeout would stop a fit in the server; negative (the default)
 * for never.  A fuzzer sets it around a fit so that no input runs long.
 */
long		host_polls_left = -1;

/* An interrupt once the budget of polls is spent; never without one. */
int
lmm_interrupt_pending(void)
{
	if (host_polls_left < 0)
		return 0;
	if (host_polls_left == 0)
		return 1;
	host_polls_left--;
	return 0;
}

/*
 * The factor memory limit a driver may set (bytes); 2 GB by default, as
 * the server's lmm.max_factor_memory.
 */
double		host_factor_limit = 2048.0 * 1048576.0;

/* The driver's limit. */
double
lmm_factor_memory_limit(void)
{
	return host_factor_limit;
}

/* The factor a driver forces (lmm_factor_choice): 0 by fill, 1 dense, 2 sparse. */
int			host_factor_choice = 0;

/* The driver's choice. */
int
lmm_factor_choice(void)
{
	return host_factor_choice;
}

/* Notes go to stderr when LMM_NOTES is set in the environment. */
void
lmm_note(const char *fmt,...)
{
	va_list		ap;

	if (getenv("LMM_NOTES") == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Threads a pass over levels may take: 1 unless a test asks for more. */
int			host_threads = 1;

/* The test driver's allowance of threads. */
int
lmm_level_threads(void)
{
	return host_threads;
}
