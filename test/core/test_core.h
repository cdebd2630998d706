/*
 * test_core.h
 *	  What the core unit tests share: the check counter and the test groups
 *	  that live in their own files.
 */
#ifndef TEST_CORE_H
#define TEST_CORE_H

extern long host_polls_left;

extern void check(int ok, const char *what);
extern void test_terms(const char *dir);
extern void test_formula(const char *dir);
extern void test_terms_io(const char *dir);
extern void test_vgrad(const char *dir);
extern void test_zscale(const char *dir);
extern void test_boot(void);
extern void test_kr(const char *dir);
extern void test_glmm(const char *dir);
extern void test_sparse(void);
extern void test_threads(void);

#endif							/* TEST_CORE_H */
