/*
 * lmm_fit_int.h
 *	  Internals shared by the layers of the fit (src/core/LAYERS,
 *	  docs/architecture.md): the cross-products, the evaluation workspace and
 *	  the routines of each layer.  Not part of the core's interface.
 */
#ifndef LMM_FIT_INT_H
#define LMM_FIT_INT_H

#include <stdint.h>

#include <nlopt.h>

#include "lmm_fit.h"
#include "lmm_host.h"
#include "lmm_terms.h"

/* How many levels the per-level loops process between interrupt checks. */
#define LMM_INTERRUPT_EVERY 4096

/*
 * Levels per thread at least in a pass split over threads: below that a
 * thread's start costs more than its share of the pass.
 */
#define LMM_LEVELS_PER_THREAD 32768

/*
 * Eight doubles in one vector, for the per-level kernels whose rows have
 * at most eight entries, and the attribute that compiles such a kernel
 * twice, for AVX-512 where the CPU has it and for the baseline, picked at
 * load.
 */
typedef double lmm_v8d __attribute__((vector_size(8 * sizeof(double))));

#if defined(__x86_64__) && defined(__GNUC__)
#define LMM_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define LMM_SIMD_CLONES
#endif

/* One constant block of M (lmm_blocked.c), scaled by its terms' T at each evaluation. */
typedef struct DenseBlock
{
	int64_t		r0;				/* first row in M */
	int64_t		c0;				/* first column in M */
	int			tr;				/* term whose T' scales the rows, or -1 */
	int			tc;				/* term whose T scales the columns, or -1 */
	int			nr;
	int			nc;
	const double *val;			/* nr x nc, row-major */
} DenseBlock;

/* M's sparse factor where it pays (lmm_sparse.c); opaque. */
typedef struct SparseM SparseM;

/* The random-effects terms of a several-term fit and its workspace. */
typedef struct Blocks
{
	int			k;				/* terms, sorted by decreasing levels */
	int			src[LMM_MAX_TERMS]; /* each term's index in the statistics */
	int			q[LMM_MAX_TERMS];
	int64_t		J[LMM_MAX_TERMS];	/* levels */
	int			toff[LMM_MAX_TERMS];	/* first theta of each term */
	int64_t		off[LMM_MAX_TERMS]; /* first row in M of terms 1.. */
	int64_t		m;				/* Z rows of the dense part */
	int64_t		N;				/* m + p + 1 */
	/* the first term's cross blocks with the dense part, by level (CSR) */
	int64_t    *xptr;			/* J[0] + 1 */
	int64_t    *xcol;			/* first column in M of each block */
	int		   *xterm;			/* its term */
	int64_t    *xvoff;			/* its q[0] x q[u] values in xval */
	double	   *xval;
	int		   *ncols;			/* J[0]: columns of W_j */
	int			maxcols;
	/* the constant blocks of M */
	int64_t		ndense;
	DenseBlock *dense;
	double	   *dval;
	double	   *centre;			/* p: what Gram.centre points to */
	/* workspace */
	double	   *T[LMM_MAX_TERMS];
	SparseM    *sp;				/* M sparse (lmm_sparse.c), or NULL: M dense */
	double		need;			/* bytes the factor of M and its inverse take */
	double	   *M;				/* N x N, column-major, lower triangle (dense only) */
	int			mvalid;			/* M holds the factor at mtheta */
	double	   *mtheta;			/* the theta M was last factored at */
	double		ld0;			/* the first term's sum_j log|L_j|^2 there */
	int64_t		sinv_n;			/* Sinv holds the inverse of that factor's
								 * leading sinv_n rows (0: not yet) */
	double	   *W;				/* q[0] x maxcols */
	int64_t    *widx;			/* maxcols */
	double	   *tmp;
	double	   *scratch;
	/* all terms scalar: W_j'W_j's products by entry of M, or NULL (lmm_blocked_pairs.c) */
	int64_t    *pptr;			/* N + 1: each column's first pair */
	int32_t    *prow;			/* each pair's row in M */
	int64_t    *eptr;			/* each pair's first product */
	int32_t    *elev;			/* each product's class of levels */
	double	   *eval;			/* sum of raw_ja raw_jb over the class */
	int64_t		ncls;			/* classes: levels of equal Z_j'Z_j */
	double	   *pz;				/* each class's Z_j'Z_j */
	double	   *pcount;			/* its levels */
	double	   *pS;				/* N: column scales at the last theta */
	double	   *pomega;			/* omega of each class at the last theta */
	/* the gradient's workspace (lmm_blocked_grad.c), allocated on first use */
	double	   *Sinv;			/* (m + p) x (m + p) */
	double	   *uD;				/* m */
	/* the Hessian's (lmm_blocked_hess.c), allocated on first use */
	double	   *hG;				/* (m + p) x (m + p) */
	double	   *hY;				/* (m + p) x (m + p) */
} Blocks;

/*
 * What the gradient of several scalar terms (lmm_blocked_grad.c) leaves for
 * their Hessian (lmm_blocked_hess.c); G and u0 are filled only when set.
 */
typedef struct GradParts
{
	double		trK[LMM_MAX_TERMS]; /* sum over each term's rows of diag(K^-1) */
	double		uu[LMM_MAX_TERMS];	/* sum over each term of u_i^2 */
	double		inv4;			/* sum over the first term's levels of 1 / L_j^4 */
	double		s4;				/* sum of W_j S^-1 W_j' / L_j^4 */
	double	   *G;				/* nS x nS: sum of W_j'W_j / L_j^2 */
	double	   *u0;				/* J[0]: the first term's spherical modes */
} GradParts;

/* Cross-products of (1, z), (1, x - centre) and y - centre per level and overall. */
typedef struct Gram
{
	int			p;
	int			q;
	int64_t		nlevels;
	double		n;
	double	   *ZtZ;			/* nlevels * q * q */
	double	   *ZtX;			/* nlevels * q * p */
	double	   *Zty;			/* nlevels * q */
	double	   *XtX;			/* p * p */
	double	   *Xty;			/* p */
	double		yty;
	const double *centre;		/* p: x_1..x_{p-1} centres, then y's */
	int			intercept;		/* x_0 is the intercept (centres apply) */
	Blocks	   *blk;			/* the terms and the dense part (k >= 1) */
} Gram;

/*
 * The terms of a fit whose slopes are far from their intercept's scale,
 * with each z column's centre and scale (lmm_zscale.c): the optimizer sees
 * the system with those z standardized, and its theta is mapped back to
 * theta of z term by term.
 */
typedef struct ZMap
{
	int			nterms;			/* terms mapped */
	int			term[LMM_MAX_TERMS];	/* each one's term in the fit */
	int			toff[LMM_MAX_TERMS];	/* its first theta */
	int			q[LMM_MAX_TERMS];
	int			i0[LMM_MAX_TERMS];	/* the intercept's z column */
	double		zc[LMM_MAX_TERMS][LMM_MAX_RANDOM];	/* by z column; unused at i0 */
	double		zs[LMM_MAX_TERMS][LMM_MAX_RANDOM];
} ZMap;

/*
 * What the derivatives of a fit's criterion offer, by the shape of its
 * factor (lmm_deriv.c); the optimizer's strategy and Satterthwaite's
 * construction are picked by it, never by how the model was specified.
 */
typedef enum LmmDerivs
{
	LMM_DERIVS_LEVELS,			/* L block-diagonal (no dense part): the
								 * per-level gradient, at any T */
	LMM_DERIVS_HESSIAN,			/* every term scalar: gradient and analytic
								 * Hessian (every theta nonzero) */
	LMM_DERIVS_VECTOR			/* a vector term and a dense part: gradient,
								 * mirrored at a singular T */
} LmmDerivs;

/* State of one criterion evaluation, reused across evaluations. */
typedef struct Work
{
	const Gram *g;
	int			reml;
	int			ntheta;
	double	   *T;				/* q * q relative covariance factor */
	double	   *L;				/* q * q per-level Cholesky factor */
	double	   *B;				/* q * q scratch */
	double	   *RZX;			/* q * p */
	double	   *cu;				/* q */
	double	   *RX;				/* p * p: factor of X'X - sum RZX'RZX, RX upper read
								 * row-major */
	double	   *cbeta;			/* p */
	double		pwrss;
	double		ldL2;
	double		ldRX2;
	int			n_eval;
	int			interrupted;
	int			not_pd;			/* a level's T'Z'ZT + I was not positive definite */
	int			n_bobyqa;		/* of n_eval, BOBYQA's */
	int			exact;			/* BOBYQA stopped where the fit tends to zero
								 * residual (lmm_optimize.c) */
	nlopt_opt	opt;			/* the running optimizer, to stop it */
	/*
	 * the analytic gradient at known_theta (where BFGS, which runs for at
	 * most LMM_MAX_TERMS thetas, stopped), for the polish
	 */
	int			known_grad;
	double		known_theta[LMM_MAX_TERMS];
	double		known_g[LMM_MAX_TERMS];
} Work;

/*
 * One thread's share of a pass over the first term's levels, j0 .. j1 - 1
 * (lmm_levels.c, lmm_gradient.c): only the caller's thread (poll) asks the
 * host about interrupts, and done turns 0 when the share stops for one.
 */
typedef struct LevelSpan
{
	Work	   *w;
	int64_t		j0;
	int64_t		j1;
	int			poll;
	int			done;
} LevelSpan;

/* Share k of nt of the first term's levels, in order, the first polling. */
static inline LevelSpan
lmm_level_span(Work *w, int k, int nt)
{
	LevelSpan	s = {w, w->g->nlevels * k / nt, w->g->nlevels * (k + 1) / nt, k == 0, 1};

	return s;
}

/* True, with the share marked stopped, when it polls at j and the host wants the pass to stop. */
static inline int
lmm_span_stop(LevelSpan *s, int64_t j)
{
	if (s->poll && j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
	{
		s->done = 0;
		return 1;
	}
	return 0;
}

/*
 * What standardizing a fit's mapped terms in place (lmm_zscale.c)
 * overwrote, to restore it.
 */
typedef struct ZScaled
{
	Work	   *w;				/* the fit's work */
	double	   *ZtZ;			/* the first term's, when mapped */
	double	   *ZtX;
	double	   *Zty;
	double	   *dval;			/* the constant blocks of M */
	size_t		ndval;
	double	   *xval;			/* the first term's cross blocks */
	size_t		nxval;
} ZScaled;

extern LmmStatus lmm_sparse_plan(Blocks *bk, double limit, double *need);
extern void lmm_sparse_free(Blocks *bk);
extern void lmm_sparse_clear(Blocks *bk);
extern double *lmm_sparse_at(const Blocks *bk, int64_t r, int64_t c);
extern int	lmm_sparse_factor(Blocks *bk);
extern double lmm_sparse_logdet(const Blocks *bk);
extern const double *lmm_sparse_tail(const Blocks *bk);
extern void lmm_sparse_modes(const Blocks *bk, int p, const double *betac,
							 double *uD);
extern int	lmm_sparse_inverse(Blocks *bk, int p);
extern double lmm_sparse_sinv(const Blocks *bk, int64_t nS, int64_t x, int64_t y);
extern int	lmm_blocked_sinv(Work *w, int64_t nS);

/*
 * Entry (x, y) of S^-1, the inverse of the leading nS rows of M's factor
 * (lmm_blocked_sinv made it ready): the dense lower triangle, or on the
 * sparse path where M has an entry.
 */
static inline double
lmm_sinv_at(const Blocks *bk, int64_t nS, int64_t x, int64_t y)
{
	if (bk->sp != NULL)
		return lmm_sparse_sinv(bk, nS, x, y);
	return x >= y ? bk->Sinv[x + y * nS] : bk->Sinv[y + x * nS];
}

extern void lmm_free_gram(Gram *g);
extern void lmm_work_init(Work *w, const Gram *g, int reml);
extern void lmm_work_free(Work *w);
extern void lmm_theta_to_T(int q, const double *theta, double *T);
extern int	lmm_chol_lower(int n, double *A, double tol);
extern void lmm_forward_solve(int n, int m, const double *L, double *B);
extern void lmm_backward_solve(int n, int m, const double *L, double *B);
extern double lmm_level_factor(Work *w, const double *ZtZ, const double *ZtX,
							   const double *Zty);
extern double lmm_profiled_criterion(const Work *w);
extern LmmStatus lmm_blocked_build(const LmmTermStats *s, Gram *g, Blocks *bk,
								   int *bad_term);
extern LmmStatus lmm_blocked_build_for(const LmmTermStats *s, Gram *g,
									   Blocks *bk, int *bad_term, int for_lmm);
extern void lmm_blocked_free(Gram *g, Blocks *bk);
extern int	lmm_levels_fold(Work *w, double *ld, double *C);
extern int	lmm_levels_modes(Work *w, const double *betac, double sigma2,
							 double *b, double *cv);
extern double lmm_criterion(Work *w, const double *theta);
extern void lmm_blocked_modes(Work *w, const double *betac, double sigma2,
							  LmmFit *fit);
extern int	lmm_blocked_level_rhs(Work *w, Blocks *bk, int64_t j);
extern void lmm_blocked_level_u(Work *w, const Blocks *bk, int ncol,
								const double *betac, const double *uD, double *r);
extern void lmm_blocked_dense_modes(const Blocks *bk, int p, const double *betac,
									double *uD);
extern int	lmm_blocked_inverse(const Blocks *bk, int64_t n, double *Sinv);
extern void lmm_blocked_share_inverse(Work *w, const double *SDinv);
extern int	lmm_blocked_scalar(const Blocks *bk);
extern void lmm_blocked_pairs_build(const Gram *g, Blocks *bk);
extern void lmm_blocked_pairs_free(Blocks *bk);
extern double lmm_blocked_pairs_weights(const Blocks *bk, const double *theta,
										double *S, double *omega);
extern int	lmm_blocked_pairs_update(const Blocks *bk, const double *S,
									 const double *omega, double *M);
extern int	lmm_blocked_pairs_traces(const Blocks *bk, int64_t nS, const double *S,
									 const double *psi1, const double *psi2,
									 const double *A, double *G, double *out);
extern double lmm_blocked_gradient(Work *w, const double *theta, double *dld,
								   double *dpw);
extern double lmm_blocked_grad_at(Work *w, const double *theta, double f,
								  double *grad);
extern double lmm_blocked_hess_at(Work *w, const double *theta, double f,
								  double *g, double *B);
extern double lmm_blocked_gradient_parts(Work *w, const double *theta, double f,
										 double *dld, double *dpw, GradParts *gp);
extern double lmm_blocked_vgradient_parts(Work *w, double f, double *dld,
										  double *dpw);
extern LmmDerivs lmm_derivs(const Blocks *bk);
extern int	lmm_blocked_singular(const Work *w, const double *theta);
extern double lmm_blocked_singular_grad(Work *w, const double *theta,
										double *grad);
extern int	lmm_blocked_hessian(Work *w, const double *theta, double f,
								double *dld, double *dpw, double *d2ld,
								double *d2pw, double *dV);
extern void lmm_vcov_centred_to_user(const Gram *g, const double *V,
									 double *vcov);
extern int	lmm_theta_is_diagonal(int q, int k);
extern int	lmm_theta_bounded(const Gram *g, int k);
extern void lmm_start_theta(const Work *w, double *theta);
extern double lmm_gradient(Work *w, double f, double *dld, double *dpw);
extern double lmm_criterion_grad(Work *w, const double *theta, double *grad);
extern LmmStatus lmm_optimize_theta(Work *w, double *theta, double *fmin,
									int *converged);
extern int	lmm_zmap_terms(const LmmTermStats *s, const Blocks *bk, ZMap *zm);
extern int	lmm_theta_from_scaled(int q, int i0, const double *zc,
								  const double *zs, const double *theta_t,
								  double *theta);
extern void lmm_zmap_apply(const ZMap *zm, int ntheta, const double *theta_t,
						   double *theta);
extern void lmm_zscale_begin(Work *w, const ZMap *zm, ZScaled *zsys);
extern void lmm_zscale_end(ZScaled *zsys);
extern void lmm_zmap_modes(const ZMap *zm, LmmFit *fit);
extern int	lmm_zmap_inference(const ZMap *zm, const Work *wt, const double *theta_t,
							   int p, int ninf, double *vcov_varpar, double *jac);
extern int	lmm_polish(Work *w, const double *lb, double *theta, double *fmin);
extern int	lmm_polish_bound(Work *w, const double *lb, double *theta,
							 double *fmin);
extern void lmm_solve_beta(const Work *w, double *betac);
extern void lmm_beta_user(const Gram *g, const double *betac, double *beta);
extern void lmm_vcov_user(const Work *w, double sigma2, double *vcov);
extern int	lmm_satterthwaite(Work *w, const double *theta, double sigma,
							  double *vcov_varpar, double *jac);

#endif							/* LMM_FIT_INT_H */
