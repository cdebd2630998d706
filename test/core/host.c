/*
 * host.c
 *	  The core's host interface for standalone tests: plain malloc, and no
 *	  interrupts.
 */
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

/* Standalone runs are never interrupted. */
int
lmm_interrupt_pending(void)
{
	return 0;
}
