/*
 * numlib.h
 *	  Loading the numerical libraries when a fit first needs them (numlib.c).
 */
#ifndef LMM_NUMLIB_H
#define LMM_NUMLIB_H

/* Remember the backend's thread; at module load. */
extern void lmm_numlib_init(void);

/* Load the libraries now (a no-op once loaded); raises an error where one is missing. */
extern void lmm_numlib_load(void);

/* lmm.blas_threads for OpenBLAS, now or when it is loaded. */
extern void lmm_numlib_set_threads(int n);

#endif							/* LMM_NUMLIB_H */
