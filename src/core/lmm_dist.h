/*
 * lmm_dist.h
 *	  The distribution functions inference needs (normal, Student t,
 *	  chi-square, F), computed to near double precision in their tails, where
 *	  p-values live.
 */
#ifndef LMM_DIST_H
#define LMM_DIST_H

extern double lmm_qnorm(double prob);
extern double lmm_pt_two_sided(double t, double df);
extern double lmm_qt(double prob, double df);
extern double lmm_pchisq_upper(double x, double df);
extern double lmm_pf_upper(double f, double df1, double df2);

#endif							/* LMM_DIST_H */
