/*
 * lmm_limits.h
 *	  The sizes every part of the core agrees on.
 */
#ifndef LMM_LIMITS_H
#define LMM_LIMITS_H

/* Largest p the core accepts; keeps every size computation far from overflow. */
#define LMM_MAX_COLUMNS 1000

/*
 * Largest q: BOBYQA's workspace, which NLopt takes with malloc outside the
 * server's memory accounting, grows as the square of q(q+1)/2 parameters.
 */
#define LMM_MAX_RANDOM 20

/* Largest number of random-effects terms in one model. */
#define LMM_MAX_TERMS 8

/* Most rows statistics may count: 2^53, so counts stay exact and fit in int64. */
#define LMM_MAX_ROWS 9007199254740992.0

/* Parameters of a q x q lower-triangular factor. */
#define LMM_NTHETA(q) ((q) * ((q) + 1) / 2)

#endif							/* LMM_LIMITS_H */
