/*
 * numlib.c
 *	  The numerical libraries (OpenBLAS, LAPACKE, CHOLMOD, NLopt), loaded
 *	  the first time a fit needs them rather than with lmm.
 *
 * Why: loading OpenBLAS takes a backend about 15 ms of CPU, most of it the
 * dynamic linker resolving the 14,000 symbolic relocations of its kernel
 * tables (perf: do_lookup_x); linked to lmm.so, every process that calls
 * any lmm function paid it, a parallel query's workers too, although they
 * only add rows to sums.  Now a backend that only aggregates, scores or
 * reads models never loads them, and a worker never does.
 *
 * Every function the core calls is defined here under its own name, with
 * hidden visibility (nothing leaves lmm.so), as a call through a pointer
 * that lmm_numlib_load fills.  The core itself is unchanged and its tests
 * link the libraries directly.  The libraries are opened by the sonames
 * the build finds (numlib_sonames.h), RTLD_LOCAL, so that their symbols
 * stay out of the server's global scope.
 */
#include "postgres.h"

#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#pragma GCC visibility push(hidden)
#include <cblas.h>
#include <lapacke.h>
#include <nlopt.h>
#include <suitesparse/cholmod.h>

#include "numlib.h"
#include "numlib_sonames.h"

/* Every function the core calls: library, return type, name, parameters, arguments. */
#define LMM_NUMLIB_FUNCTIONS(FR, FV) \
	FR(LAPACKE, lapack_int, LAPACKE_dgelqf, (int matrix_layout, lapack_int m, lapack_int n, double *a, lapack_int lda, double *tau), (matrix_layout, m, n, a, lda, tau)) \
	FR(LAPACKE, lapack_int, LAPACKE_dgesv, (int matrix_layout, lapack_int n, lapack_int nrhs, double *a, lapack_int lda, lapack_int *ipiv, double *b, lapack_int ldb), (matrix_layout, n, nrhs, a, lda, ipiv, b, ldb)) \
	FR(LAPACKE, lapack_int, LAPACKE_dgetrf, (int matrix_layout, lapack_int m, lapack_int n, double *a, lapack_int lda, lapack_int *ipiv), (matrix_layout, m, n, a, lda, ipiv)) \
	FR(LAPACKE, lapack_int, LAPACKE_dgetri, (int matrix_layout, lapack_int n, double *a, lapack_int lda, const lapack_int *ipiv), (matrix_layout, n, a, lda, ipiv)) \
	FR(LAPACKE, lapack_int, LAPACKE_dposv, (int matrix_layout, char uplo, lapack_int n, lapack_int nrhs, double *a, lapack_int lda, double *b, lapack_int ldb), (matrix_layout, uplo, n, nrhs, a, lda, b, ldb)) \
	FR(LAPACKE, lapack_int, LAPACKE_dpotrf, (int matrix_layout, char uplo, lapack_int n, double *a, lapack_int lda), (matrix_layout, uplo, n, a, lda)) \
	FR(LAPACKE, lapack_int, LAPACKE_dpotrf_work, (int matrix_layout, char uplo, lapack_int n, double *a, lapack_int lda), (matrix_layout, uplo, n, a, lda)) \
	FR(LAPACKE, lapack_int, LAPACKE_dpotri, (int matrix_layout, char uplo, lapack_int n, double *a, lapack_int lda), (matrix_layout, uplo, n, a, lda)) \
	FR(LAPACKE, lapack_int, LAPACKE_dpotri_work, (int matrix_layout, char uplo, lapack_int n, double *a, lapack_int lda), (matrix_layout, uplo, n, a, lda)) \
	FR(LAPACKE, lapack_int, LAPACKE_dpotrs, (int matrix_layout, char uplo, lapack_int n, lapack_int nrhs, const double *a, lapack_int lda, double *b, lapack_int ldb), (matrix_layout, uplo, n, nrhs, a, lda, b, ldb)) \
	FR(LAPACKE, lapack_int, LAPACKE_dpotrs_work, (int matrix_layout, char uplo, lapack_int n, lapack_int nrhs, const double *a, lapack_int lda, double *b, lapack_int ldb), (matrix_layout, uplo, n, nrhs, a, lda, b, ldb)) \
	FR(LAPACKE, lapack_int, LAPACKE_dpstrf, (int matrix_layout, char uplo, lapack_int n, double *a, lapack_int lda, lapack_int *piv, lapack_int *rank, double tol), (matrix_layout, uplo, n, a, lda, piv, rank, tol)) \
	FR(LAPACKE, lapack_int, LAPACKE_dstev, (int matrix_layout, char jobz, lapack_int n, double *d, double *e, double *z, lapack_int ldz), (matrix_layout, jobz, n, d, e, z, ldz)) \
	FR(LAPACKE, lapack_int, LAPACKE_dsyev, (int matrix_layout, char jobz, char uplo, lapack_int n, double *a, lapack_int lda, double *w), (matrix_layout, jobz, uplo, n, a, lda, w)) \
	FR(LAPACKE, lapack_int, LAPACKE_dsytrf, (int matrix_layout, char uplo, lapack_int n, double *a, lapack_int lda, lapack_int *ipiv), (matrix_layout, uplo, n, a, lda, ipiv)) \
	FR(LAPACKE, lapack_int, LAPACKE_dsytri, (int matrix_layout, char uplo, lapack_int n, double *a, lapack_int lda, const lapack_int *ipiv), (matrix_layout, uplo, n, a, lda, ipiv)) \
	FR(LAPACKE, lapack_int, LAPACKE_dtrtrs_work, (int matrix_layout, char uplo, char trans, char diag, lapack_int n, lapack_int nrhs, const double *a, lapack_int lda, double *b, lapack_int ldb), (matrix_layout, uplo, trans, diag, n, nrhs, a, lda, b, ldb)) \
	FV(BLAS, void, cblas_dgemm, (const enum CBLAS_ORDER Order, const enum CBLAS_TRANSPOSE TransA, const enum CBLAS_TRANSPOSE TransB, const blasint M, const blasint N, const blasint K, const double alpha, const double *A, const blasint lda, const double *B, const blasint ldb, const double beta, double *C, const blasint ldc), (Order, TransA, TransB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)) \
	FV(BLAS, void, cblas_dsymm, (const enum CBLAS_ORDER Order, const enum CBLAS_SIDE Side, const enum CBLAS_UPLO Uplo, const blasint M, const blasint N, const double alpha, const double *A, const blasint lda, const double *B, const blasint ldb, const double beta, double *C, const blasint ldc), (Order, Side, Uplo, M, N, alpha, A, lda, B, ldb, beta, C, ldc)) \
	FV(BLAS, void, cblas_dsyrk, (const enum CBLAS_ORDER Order, const enum CBLAS_UPLO Uplo, const enum CBLAS_TRANSPOSE Trans, const blasint N, const blasint K, const double alpha, const double *A, const blasint lda, const double beta, double *C, const blasint ldc), (Order, Uplo, Trans, N, K, alpha, A, lda, beta, C, ldc)) \
	FV(BLAS, void, cblas_dtrsm, (const enum CBLAS_ORDER Order, const enum CBLAS_SIDE Side, const enum CBLAS_UPLO Uplo, const enum CBLAS_TRANSPOSE TransA, const enum CBLAS_DIAG Diag, const blasint M, const blasint N, const double alpha, const double *A, const blasint lda, double *B, const blasint ldb), (Order, Side, Uplo, TransA, Diag, M, N, alpha, A, lda, B, ldb)) \
	FR(CHOLMOD, cholmod_dense *, cholmod_allocate_dense, (size_t nrow, size_t ncol, size_t d, int xtype, cholmod_common *Common), (nrow, ncol, d, xtype, Common)) \
	FR(CHOLMOD, cholmod_triplet *, cholmod_allocate_triplet, (size_t nrow, size_t ncol, size_t nzmax, int stype, int xtype, cholmod_common *Common), (nrow, ncol, nzmax, stype, xtype, Common)) \
	FR(CHOLMOD, cholmod_factor *, cholmod_analyze, (cholmod_sparse *A, cholmod_common *Common), (A, Common)) \
	FR(CHOLMOD, int, cholmod_change_factor, (int to_xtype, int to_ll, int to_super, int to_packed, int to_monotonic, cholmod_factor *L, cholmod_common *Common), (to_xtype, to_ll, to_super, to_packed, to_monotonic, L, Common)) \
	FR(CHOLMOD, cholmod_factor *, cholmod_copy_factor, (cholmod_factor *L, cholmod_common *Common), (L, Common)) \
	FR(CHOLMOD, int, cholmod_factorize, (cholmod_sparse *A, cholmod_factor *L, cholmod_common *Common), (A, L, Common)) \
	FR(CHOLMOD, int, cholmod_finish, (cholmod_common *Common), (Common)) \
	FR(CHOLMOD, int, cholmod_free_dense, (cholmod_dense **X, cholmod_common *Common), (X, Common)) \
	FR(CHOLMOD, int, cholmod_free_factor, (cholmod_factor **L, cholmod_common *Common), (L, Common)) \
	FR(CHOLMOD, int, cholmod_free_sparse, (cholmod_sparse **A, cholmod_common *Common), (A, Common)) \
	FR(CHOLMOD, int, cholmod_free_triplet, (cholmod_triplet **T, cholmod_common *Common), (T, Common)) \
	FR(CHOLMOD, long, cholmod_nnz, (cholmod_sparse *A, cholmod_common *Common), (A, Common)) \
	FR(CHOLMOD, cholmod_dense *, cholmod_solve, (int sys, cholmod_factor *L, cholmod_dense *B, cholmod_common *Common), (sys, L, B, Common)) \
	FR(CHOLMOD, cholmod_sparse *, cholmod_triplet_to_sparse, (cholmod_triplet *T, size_t nzmax, cholmod_common *Common), (T, nzmax, Common)) \
	FR(NLOPT, nlopt_opt, nlopt_create, (nlopt_algorithm algorithm, unsigned n), (algorithm, n)) \
	FV(NLOPT, void, nlopt_destroy, (nlopt_opt opt), (opt)) \
	FR(NLOPT, nlopt_result, nlopt_force_stop, (nlopt_opt opt), (opt)) \
	FR(NLOPT, nlopt_result, nlopt_optimize, (nlopt_opt opt, double *x, double *opt_f), (opt, x, opt_f)) \
	FR(NLOPT, nlopt_result, nlopt_set_ftol_abs, (nlopt_opt opt, double tol), (opt, tol)) \
	FR(NLOPT, nlopt_result, nlopt_set_ftol_rel, (nlopt_opt opt, double tol), (opt, tol)) \
	FR(NLOPT, nlopt_result, nlopt_set_initial_step, (nlopt_opt opt, const double *dx), (opt, dx)) \
	FR(NLOPT, nlopt_result, nlopt_set_lower_bounds, (nlopt_opt opt, const double *lb), (opt, lb)) \
	FR(NLOPT, nlopt_result, nlopt_set_maxeval, (nlopt_opt opt, int maxeval), (opt, maxeval)) \
	FR(NLOPT, nlopt_result, nlopt_set_min_objective, (nlopt_opt opt, nlopt_func f, void *f_data), (opt, f, f_data)) \
	FR(NLOPT, nlopt_result, nlopt_set_upper_bounds, (nlopt_opt opt, const double *ub), (opt, ub)) \
	FR(NLOPT, nlopt_result, nlopt_set_xtol_abs1, (nlopt_opt opt, double tol), (opt, tol)) \
	FR(NLOPT, nlopt_result, nlopt_set_xtol_rel, (nlopt_opt opt, double tol), (opt, tol))

enum
{
	LIB_BLAS,
	LIB_LAPACKE,
	LIB_CHOLMOD,
	LIB_NLOPT,
	NLIBS
};

static const char *const sonames[NLIBS] = {
	LMM_SONAME_BLAS, LMM_SONAME_LAPACKE, LMM_SONAME_CHOLMOD, LMM_SONAME_NLOPT
};

/* The pointers the definitions below call through, filled by lmm_numlib_load. */
#define POINTER(lib, ret, name, params, args) static __typeof__(&name) p_##name;
LMM_NUMLIB_FUNCTIONS(POINTER, POINTER)

static __typeof__(&cholmod_start) p_cholmod_start;

/*
 * CHOLMOD takes its allocator from SuiteSparse's global configuration,
 * which the core sets before cholmod_start: its writes land in this copy,
 * and cholmod_start passes them on to the library's own (found at load).
 */
struct SuiteSparse_config_struct SuiteSparse_config;
static struct SuiteSparse_config_struct *library_config;

/* Every pointer above filled: set on the backend's thread before any of the core's threads starts. */
static bool loaded = false;

/* lmm.blas_threads, applied when OpenBLAS is loaded and whenever it changes after. */
static int	blas_threads = 1;
static int	applied_threads = 0;
static void (*set_threads) (int) = NULL;
static int	(*stop_pool) (void) = NULL;

/* The backend's own thread, the only one that loads (and can raise an error). */
static pthread_t backend_thread;

/*
 * OpenBLAS's thread count where it changed, then its pool stopped (the
 * count first: setting it starts the pool again).  The pool's idle threads
 * spin for about 0.1 s of CPU each before they sleep, on cores the query
 * needs; OpenBLAS starts them again at its first call that asks for more
 * than one thread (lmm.blas_threads > 1).  Threads it starts here inherit
 * every signal blocked: the server's handlers must run on the backend's
 * thread.
 */
static void
apply_threads(void)
{
	sigset_t	all,
				old;

	if (set_threads == NULL || blas_threads == applied_threads)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	set_threads(blas_threads);
	if (stop_pool != NULL && blas_threads <= 1)
		stop_pool();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	applied_threads = blas_threads;
}

/*
 * Load the libraries now (a no-op once loaded) and resolve every function;
 * an error where one is missing.  OpenBLAS's own functions are looked for
 * in each library as it opens (it may come as the BLAS or behind LAPACK),
 * and found by name, so that another BLAS simply has none; its pool is
 * stopped as soon as it is there, a failed load after it included.
 */
void
lmm_numlib_load(void)
{
	void	   *h[NLIBS];
	sigset_t	all,
				old;
	int			i;

	if (loaded)
		return;
	for (i = 0; i < NLIBS; i++)
	{
		/* OpenBLAS starts its pool as it opens: with every signal blocked */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		h[i] = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (h[i] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("could not load library \"%s\" for lmm's fits: %s", sonames[i], dlerror()),
					 errhint("Install the libraries lmm was built with (scripts/deps.sh lists the packages).")));
		if (set_threads == NULL)
		{
			set_threads = (void (*) (int)) dlsym(h[i], "openblas_set_num_threads");
			stop_pool = (int (*) (void)) dlsym(h[i], "blas_thread_shutdown_");
			apply_threads();
		}
	}
#define RESOLVE(lib, ret, name, params, args) \
	if ((p_##name = (__typeof__(&name)) dlsym(h[LIB_##lib], #name)) == NULL) \
		ereport(ERROR, \
				(errcode(ERRCODE_UNDEFINED_FUNCTION), \
				 errmsg("could not find function \"%s\" in library \"%s\"", #name, sonames[LIB_##lib]), \
				 errhint("Install the libraries lmm was built with (scripts/deps.sh lists the packages).")));
	LMM_NUMLIB_FUNCTIONS(RESOLVE, RESOLVE)
	RESOLVE(CHOLMOD, int, cholmod_start, (cholmod_common *Common), (Common))
	if ((library_config = dlsym(h[LIB_CHOLMOD], "SuiteSparse_config")) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("could not find \"SuiteSparse_config\" in library \"%s\"", sonames[LIB_CHOLMOD]),
				 errhint("Install the libraries lmm was built with (scripts/deps.sh lists the packages).")));
	loaded = true;
}

/* lmm.blas_threads: applied now if OpenBLAS is loaded, else when it is. */
void
lmm_numlib_set_threads(int n)
{
	blas_threads = n;
	apply_threads();
}

/* Remember the backend's thread (at module load). */
void
lmm_numlib_init(void)
{
	backend_thread = pthread_self();
}

/*
 * Before a call: the libraries loaded.  None of the core's threads calls
 * them (the bodies lmm_run_threads runs use the core's own small kernels),
 * so the first call comes on the backend's thread, where a failed load is
 * an error.  A first call from another thread would break that rule, and
 * no error can be raised there: the process stops with the reason.
 */
static inline void
ready(void)
{
	if (likely(loaded))
		return;
	if (!pthread_equal(pthread_self(), backend_thread))
	{
		fputs("lmm: a numerical library was first called off the backend's thread\n", stderr);
		abort();
	}
	lmm_numlib_load();
}

#define DEFINE_R(lib, ret, name, params, args) \
	ret name params { ready(); return p_##name args; }
#define DEFINE_V(lib, ret, name, params, args) \
	ret name params { ready(); p_##name args; }
LMM_NUMLIB_FUNCTIONS(DEFINE_R, DEFINE_V)

/* cholmod_start, with the allocator the core chose passed on to CHOLMOD first. */
int
cholmod_start(cholmod_common *Common)
{
	ready();
	library_config->malloc_func = SuiteSparse_config.malloc_func;
	library_config->calloc_func = SuiteSparse_config.calloc_func;
	library_config->realloc_func = SuiteSparse_config.realloc_func;
	library_config->free_func = SuiteSparse_config.free_func;
	return p_cholmod_start(Common);
}

#pragma GCC visibility pop
