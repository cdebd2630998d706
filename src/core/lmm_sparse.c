/*
 * lmm_sparse.c
 *	  The dense part M of lmm_blocked.c as a sparse matrix when its factor
 *	  is sparse: a CHOLMOD factor of the later terms' block, the X and y
 *	  border kept dense through its Schur complement.
 *
 * Why: the terms after the first are one block A (m rows) of M once the
 * first term's levels are folded into it.  Crossed in bands (items sold in
 * nearby stores, pupils in schools of one district) A's factor keeps few
 * entries, and a dense dpotrf of A costs m^3 / 3 flops and 8 m^2 bytes
 * where a fill-reducing order and a sparse factor cost a small fraction.
 * With B the border rows of M below A (X's, then y's) and C the trailing
 * (p + 1) x (p + 1) block:
 *	 P A P' = L L' (CHOLMOD, ordered by AMD or METIS, as CHOLMOD picks),
 *	 Y = L^-1 P B' (m x (p + 1)),  C - Y'Y = L_C L_C' (LAPACK),
 * so that L_C holds RX', cbeta' and sqrt(pwrss) as the trailing rows of the
 * dense factor of M do, and log|A| = sum 2 log L_ii.  The symbolic
 * analysis (the order and the factor's pattern) is done once per fit, the
 * numeric factor at every theta.
 *
 * The derivatives read entries of S^-1, S the leading m (ML) or m + p
 * (REML) rows of M, only where M has entries (a term's diagonal blocks,
 * each first-term level's columns of W_j): those of A^-1 lie in the
 * pattern of L, where Takahashi's recurrences give them from L at about
 * the cost of the factor; the X rows are added as in
 * lmm_blocked_share_inverse.
 *
 * lmm_sparse_plan measures the fill of L from the symbolic analysis (or,
 * where A alone has too many entries, from a count of them: on a dense
 * block, building and analysing the pattern costs several of its dense
 * factors) and takes the sparse path where A has at least SPARSE_MIN_ROWS rows and L at
 * most SPARSE_MAX_FILL of a dense triangle's entries (the dense dpotrf is
 * faster per flop), or where only the sparse factor fits in the host's
 * memory limit; the host may force either (lmm_factor_choice).
 */
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>
#include <suitesparse/cholmod.h>
#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "lmm_fit_int.h"
#include "lmm_host.h"

/* The sparse path needs a factor with at most this share of a dense triangle's entries. */
#define SPARSE_MAX_FILL 0.2

/* Up to this many rows of A its entries are counted before any analysis (a bitmap of 4 MB). */
#define COUNT_MAX_ROWS 8192

/* Below this many rows of A the dense factor costs too little to replace. */
#define SPARSE_MIN_ROWS 1000

/* The factor of M's later terms and what the evaluation at theta derives from it. */
struct SparseM
{
	cholmod_common cc;
	cholmod_sparse *A;			/* lower triangle of A, sorted columns */
	cholmod_factor *L;			/* symbolic once, numeric at each theta */
	cholmod_factor *Ls;			/* L as simplicial LL' (its inverse's pattern) */
	cholmod_dense *Y;			/* L^-1 P B' */
	int64_t		m;
	int			n1;				/* p + 1 */
	double	   *B;				/* m x n1, column-major: column c is border row m + c */
	double	   *C;				/* n1 x n1, column-major lower; then its factor */
	double		ldA;			/* log|A| */
	int		   *pinv;			/* row i of A is row pinv[i] of P A P' */
	double	   *Zx;				/* A^-1 permuted, on Ls's pattern */
	double	   *V;				/* m x p: L^-T Y_X L_XX^-T (REML's correction) */
	double	   *VE;				/* m x p: V L_XX^-1 */
	double	   *EE;				/* p x p: (L_XX L_XX')^-1, lower */
	int			inv_ok;			/* Zx, V, VE, EE hold the inverse at this factor */
	double		lnz;			/* entries of L */
};

/*
 * Flush denormal numbers to zero from here to ftz_end (x86's MXCSR FTZ and
 * DAZ bits), returning the state to restore.  Why: the factor of a banded
 * A and its inverse hold entries that decay geometrically away from the
 * band, down through the denormal range, where each operation costs about
 * a hundred times a normal one: at a 2,000,000-row fit's optimum the
 * factor took 7 times as long.  Values below 2.2e-308 change nothing the
 * fit reports.
 */
static unsigned int
ftz_begin(void)
{
#if defined(__SSE2__)
	unsigned int csr = _mm_getcsr();

	_mm_setcsr(csr | 0x8040);
	return csr;
#else
	return 0;
#endif
}

/* Restore the floating-point state ftz_begin saved. */
static void
ftz_end(unsigned int csr)
{
#if defined(__SSE2__)
	_mm_setcsr(csr);
#endif
}

/* CHOLMOD's calloc through the host's allocator. */
static void *
host_calloc(size_t n, size_t size)
{
	return lmm_alloc0(n * size);
}

/* Route CHOLMOD's memory through the host, so the server accounts for it and frees it on error. */
static void
sparse_start(cholmod_common *cc)
{
	SuiteSparse_config.malloc_func = lmm_alloc;
	SuiteSparse_config.calloc_func = host_calloc;
	SuiteSparse_config.realloc_func = lmm_realloc;
	SuiteSparse_config.free_func = lmm_free;
	cholmod_start(cc);
	cc->print = 0;
	cc->error_handler = NULL;
	cc->final_ll = 1;
	cc->quick_return_if_not_posdef = 1;
	cc->supernodal = CHOLMOD_AUTO;
}

/* A visitor of A's entries (for_each_entry): nonzero stops the walk. */
typedef int (*EntryVisit) (void *arg, int64_t r, int64_t c);

/*
 * Visit A's pattern, (r, c) in either order and some more than once: its
 * diagonal, the constant blocks inside it, and each first-term level's
 * columns of W_j pairwise (the fold M -= W_j'W_j writes there).  Returns
 * 1 when every entry was visited, 0 when the visitor stopped the walk, -1
 * on interrupt.
 */
static int
for_each_entry(const Blocks *bk, EntryVisit visit, void *arg)
{
	int64_t		m = bk->m;
	int64_t		j,
				e,
				f;
	int			a,
				b;

	for (j = 0; j < m; j++)
		if (visit(arg, j, j))
			return 0;
	for (e = 0; e < bk->ndense; e++)
	{
		const DenseBlock *db = &bk->dense[e];

		if (db->r0 >= m)
			continue;
		for (a = 0; a < db->nr; a++)
			for (b = 0; b < db->nc; b++)
				if (db->r0 + a >= db->c0 + b && visit(arg, db->r0 + a, db->c0 + b))
					return 0;
	}
	for (j = 0; j < bk->J[0]; j++)
	{
		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
			return -1;
		for (e = bk->xptr[j]; e < bk->xptr[j + 1]; e++)
			for (f = bk->xptr[j]; f <= e; f++)
				for (a = 0; a < bk->q[bk->xterm[e]]; a++)
					for (b = 0; b < bk->q[bk->xterm[f]]; b++)
						if (visit(arg, bk->xcol[e] + a, bk->xcol[f] + b))
							return 0;
	}
	return 1;
}

/* Append the lower-triangle entry (r, c) of A to the triplets (arg). */
static int
add_entry(void *arg, int64_t r, int64_t c)
{
	cholmod_triplet *T = arg;
	int		   *ti = T->i,
			   *tj = T->j;

	ti[T->nnz] = (int) (r > c ? r : c);
	tj[T->nnz] = (int) (r > c ? c : r);
	((double *) T->x)[T->nnz] = 1.0;
	T->nnz++;
	return 0;
}

/* A's pattern as a CHOLMOD matrix (its lower triangle), or NULL. */
static cholmod_sparse *
sparse_pattern(const Blocks *bk, cholmod_common *cc)
{
	int64_t		m = bk->m;
	int64_t		ntrip = m,
				j,
				e;
	cholmod_triplet *T;
	cholmod_sparse *A;

	for (e = 0; e < bk->ndense; e++)
		if (bk->dense[e].r0 < m)
			ntrip += (int64_t) bk->dense[e].nr * bk->dense[e].nc;
	for (j = 0; j < bk->J[0]; j++)
	{
		int64_t		c = bk->ncols[j] - (bk->N - m);

		ntrip += c * c;
	}
	T = cholmod_allocate_triplet((size_t) m, (size_t) m, (size_t) (ntrip > 0 ? ntrip : 1),
								 -1, CHOLMOD_REAL, cc);
	if (T == NULL)
		return NULL;
	if (for_each_entry(bk, add_entry, T) < 0)
	{
		cholmod_free_triplet(&T, cc);
		return NULL;
	}
	A = cholmod_triplet_to_sparse(T, (size_t) T->nnz, cc);
	cholmod_free_triplet(&T, cc);
	return A;
}

/* A's distinct entries counted in a bitmap of its lower triangle, up to a limit. */
typedef struct EntryCount
{
	uint64_t   *bits;
	double		n;
	double		limit;
} EntryCount;

/* Count (r, c) once; stop past the limit. */
static int
count_entry(void *arg, int64_t r, int64_t c)
{
	EntryCount *ec = arg;
	int64_t		hi = r > c ? r : c,
				lo = r > c ? c : r,
				k = hi * (hi + 1) / 2 + lo;
	uint64_t	bit = (uint64_t) 1 << (k & 63);

	if (!(ec->bits[k >> 6] & bit))
	{
		ec->bits[k >> 6] |= bit;
		ec->n += 1.0;
	}
	return ec->n > ec->limit;
}

/*
 * 1 when A has more than limit distinct entries in its lower triangle, 0
 * when not, -1 on interrupt; 0 without a look where A is too large for a
 * bitmap of COUNT_MAX_ROWS rows.  A dense block's pattern costs several of
 * its dense factors to build and analyse, its count a small fraction.
 */
static int
entries_exceed(const Blocks *bk, double limit)
{
	EntryCount	ec;
	int			r;

	if (bk->m > COUNT_MAX_ROWS)
		return 0;
	ec.bits = lmm_alloc0(sizeof(uint64_t) * (size_t) ((bk->m * (bk->m + 1) / 2 + 63) / 64));
	ec.n = 0.0;
	ec.limit = limit;
	r = for_each_entry(bk, count_entry, &ec);
	lmm_free(ec.bits);
	return r < 0 ? -1 : r == 0;
}

/* Release the sparse path's state. */
void
lmm_sparse_free(Blocks *bk)
{
	SparseM    *sp = bk->sp;

	if (sp == NULL)
		return;
	cholmod_free_sparse(&sp->A, &sp->cc);
	cholmod_free_factor(&sp->L, &sp->cc);
	cholmod_free_factor(&sp->Ls, &sp->cc);
	cholmod_free_dense(&sp->Y, &sp->cc);
	cholmod_finish(&sp->cc);
	lmm_free(sp->B);
	lmm_free(sp->C);
	lmm_free(sp->pinv);
	lmm_free(sp->Zx);
	lmm_free(sp->V);
	lmm_free(sp->VE);
	lmm_free(sp->EE);
	lmm_free(sp);
	bk->sp = NULL;
}

/*
 * Pick the factor of M for bk (built but for its workspace): the sparse
 * one (bk->sp set) or the dense one, by the fill of A's symbolic factor
 * (see the header).  *need gets the bytes the chosen factor and its
 * inverse take.  Returns LMM_ERR_TOO_MANY_LEVELS when even the smaller
 * exceeds limit bytes, LMM_ERR_INTERRUPTED on interrupt.
 */
LmmStatus
lmm_sparse_plan(Blocks *bk, double limit, double *need)
{
	int64_t		m = bk->m;
	double		dense_need = 8.0 * 2.0 * (double) bk->N * (double) bk->N;
	double		sparse_need;
	SparseM    *sp;
	int64_t		i;
	int			choice = lmm_factor_choice();

	*need = dense_need;
	if (m == 0 || choice == 1 ||
		(choice == 0 && m < SPARSE_MIN_ROWS && dense_need <= limit))
		return dense_need <= limit ? LMM_OK : LMM_ERR_TOO_MANY_LEVELS;
	if (choice == 0 && dense_need <= limit)
	{
		/* L holds A's pattern at least: past the fill limit, dense without analysis */
		int			r = entries_exceed(bk, SPARSE_MAX_FILL * 0.5 * (double) m * (double) (m + 1));

		if (r < 0)
			return LMM_ERR_INTERRUPTED;
		if (r > 0)
		{
			lmm_note("lmm: dense factor of the later terms (%lld rows, over %.0f%% of a dense triangle's entries)",
					 (long long) m, 100.0 * SPARSE_MAX_FILL);
			return LMM_OK;
		}
	}
	sp = lmm_alloc0(sizeof(SparseM));
	bk->sp = sp;
	sparse_start(&sp->cc);
	sp->m = m;
	sp->n1 = (int) (bk->N - m);
	sp->A = sparse_pattern(bk, &sp->cc);
	if (sp->A == NULL)
	{
		lmm_sparse_free(bk);
		return lmm_interrupt_pending() ? LMM_ERR_INTERRUPTED : LMM_ERR_TOO_MANY_LEVELS;
	}
	sp->L = cholmod_analyze(sp->A, &sp->cc);
	if (sp->L == NULL)
	{
		lmm_sparse_free(bk);
		return LMM_ERR_TOO_MANY_LEVELS;
	}
	sp->lnz = sp->cc.lnz;
	/* L and its inverse's entries with their row numbers, Y, V and VE */
	sparse_need = 2.0 * 12.0 * sp->lnz + 8.0 * 4.0 * (double) m * sp->n1;
	lmm_note("lmm: the later terms' block has %lld rows, %.0f entries; its factor %.0f (%.2f%% of dense), ordered by %s",
			 (long long) m, (double) cholmod_nnz(sp->A, &sp->cc), sp->lnz,
			 100.0 * sp->lnz / (0.5 * (double) m * (double) (m + 1)),
			 sp->cc.method[sp->cc.selected].ordering == CHOLMOD_METIS ? "METIS" :
			 sp->cc.method[sp->cc.selected].ordering == CHOLMOD_NESDIS ? "NESDIS" : "AMD");
	if (choice == 0 &&
		(!(sp->lnz <= SPARSE_MAX_FILL * 0.5 * (double) m * (double) (m + 1) ||
		   dense_need > limit) || sparse_need >= dense_need))
	{
		lmm_note("lmm: dense factor of the later terms (%lld rows)", (long long) m);
		lmm_sparse_free(bk);
		return dense_need <= limit ? LMM_OK : LMM_ERR_TOO_MANY_LEVELS;
	}
	*need = sparse_need;
	if (sparse_need > limit)
	{
		lmm_sparse_free(bk);
		return LMM_ERR_TOO_MANY_LEVELS;
	}
	lmm_note("lmm: sparse factor of the later terms (%lld rows, %.0f MB)",
			 (long long) m, sparse_need / 1048576.0);
	sp->B = lmm_alloc(sizeof(double) * (size_t) m * sp->n1);
	sp->C = lmm_alloc(sizeof(double) * sp->n1 * sp->n1);
	sp->pinv = lmm_alloc(sizeof(int) * (size_t) m);
	for (i = 0; i < m; i++)
		sp->pinv[((int *) sp->L->Perm)[i]] = (int) i;
	return LMM_OK;
}

/* Zero M's entries before an evaluation fills them. */
void
lmm_sparse_clear(Blocks *bk)
{
	SparseM    *sp = bk->sp;

	memset(sp->A->x, 0, sizeof(double) * ((int *) sp->A->p)[sp->m]);
	memset(sp->B, 0, sizeof(double) * (size_t) sp->m * sp->n1);
	memset(sp->C, 0, sizeof(double) * sp->n1 * sp->n1);
	sp->inv_ok = 0;
}

/*
 * Where entry (r, c), r >= c, of M is kept on the sparse path: A's
 * column c (found by bisection), the border or the trailing block.
 */
double *
lmm_sparse_at(const Blocks *bk, int64_t r, int64_t c)
{
	const SparseM *sp = bk->sp;
	int64_t		m = sp->m;
	const int  *Ap,
			   *Ai;
	int64_t		lo,
				hi;

	if (c >= m)
		return sp->C + (r - m) + (c - m) * sp->n1;
	if (r >= m)
		return sp->B + c + (r - m) * m;
	Ap = sp->A->p;
	Ai = sp->A->i;
	lo = Ap[c];
	hi = Ap[c + 1] - 1;
	while (lo < hi)
	{
		int64_t		mid = (lo + hi) / 2;

		if (Ai[mid] < r)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (double *) sp->A->x + lo;
}

/* Column j's diagonal entry in a numeric LL' factor, simplicial or supernodal. */
static double
factor_diag(const cholmod_factor *L, int64_t j, int64_t *super)
{
	const double *x = L->x;

	if (!L->is_super)
		return x[((int *) L->p)[j]];
	{
		const int  *sup = L->super,
				   *pi = L->pi,
				   *px = L->px;
		int64_t		s = *super;
		int64_t		nsrow,
					k;

		while (sup[s + 1] <= j)
			s++;
		*super = s;
		nsrow = pi[s + 1] - pi[s];
		k = j - sup[s];
		return x[px[s] + k + k * nsrow];
	}
}

/*
 * Factor M as filled: A by CHOLMOD, the border through Y and the Schur
 * complement C - Y'Y by LAPACK.  Returns 0 when M is not positive definite.
 */
int
lmm_sparse_factor(Blocks *bk)
{
	SparseM    *sp = bk->sp;
	int64_t		m = sp->m;
	int			n1 = sp->n1;
	cholmod_dense Bd = {(size_t) m, (size_t) n1, (size_t) m * n1, (size_t) m, sp->B,
	NULL, CHOLMOD_REAL, CHOLMOD_DOUBLE};
	cholmod_dense *PB;
	int64_t		j,
				s = 0;
	unsigned int csr;
	int			ok;

	sp->inv_ok = 0;
	csr = ftz_begin();
	ok = cholmod_factorize(sp->A, sp->L, &sp->cc) &&
		sp->cc.status != CHOLMOD_NOT_POSDEF && (int64_t) sp->L->minor >= m;
	if (!ok)
	{
		ftz_end(csr);
		return 0;
	}
	sp->ldA = 0.0;
	for (j = 0; j < m; j++)
		sp->ldA += 2.0 * log(factor_diag(sp->L, j, &s));
	PB = cholmod_solve(CHOLMOD_P, sp->L, &Bd, &sp->cc);
	cholmod_free_dense(&sp->Y, &sp->cc);
	sp->Y = PB == NULL ? NULL : cholmod_solve(CHOLMOD_L, sp->L, PB, &sp->cc);
	cholmod_free_dense(&PB, &sp->cc);
	ftz_end(csr);
	if (sp->Y == NULL)
		return 0;
	if (m > 0)
		cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, n1, (int) m, -1.0,
					sp->Y->x, (int) m, 1.0, sp->C, n1);
	return LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', n1, sp->C, n1) == 0;
}

/* log|A| at the last factor. */
double
lmm_sparse_logdet(const Blocks *bk)
{
	return bk->sp->ldA;
}

/* The trailing (p + 1) x (p + 1) factor (column-major lower): RX', cbeta', sqrt(pwrss). */
const double *
lmm_sparse_tail(const Blocks *bk)
{
	return bk->sp->C;
}

/*
 * The later terms' spherical modes for the centred betac: A^-1 (B_y -
 * B_X betac) = P' L^-T (Y_y - Y_X betac), into uD (m entries).
 */
void
lmm_sparse_modes(const Blocks *bk, int p, const double *betac, double *uD)
{
	SparseM    *sp = bk->sp;
	int64_t		m = sp->m;
	const double *Y = sp->Y->x;
	cholmod_dense *r = cholmod_allocate_dense((size_t) m, 1, (size_t) m, CHOLMOD_REAL, &sp->cc);
	cholmod_dense *u,
			   *v;
	double	   *rx = r->x;
	int64_t		i;
	int			a;
	unsigned int csr;

	for (i = 0; i < m; i++)
	{
		double		s = Y[i + (size_t) p * m];

		for (a = 0; a < p; a++)
			s -= Y[i + (size_t) a * m] * betac[a];
		rx[i] = s;
	}
	csr = ftz_begin();
	u = cholmod_solve(CHOLMOD_Lt, sp->L, r, &sp->cc);
	v = cholmod_solve(CHOLMOD_Pt, sp->L, u, &sp->cc);
	ftz_end(csr);
	memcpy(uD, v->x, sizeof(double) * (size_t) m);
	cholmod_free_dense(&r, &sp->cc);
	cholmod_free_dense(&u, &sp->cc);
	cholmod_free_dense(&v, &sp->cc);
}

/*
 * Takahashi's recurrences: the entries of (L L')^-1 on the pattern of the
 * simplicial L (sorted columns, diagonal first) into Z, last column first.
 * For column j with rows s_j below the diagonal,
 *	 Z_ij = -(sum_{k in s_j} L_kj Z_ik) / L_jj,	 i in s_j,
 *	 Z_jj = 1 / L_jj^2 - (sum_{k in s_j} L_kj Z_kj) / L_jj,
 * each Z_ik (i, k in s_j) lying in column min(i, k), whose pattern holds
 * s_j's rows from there on.  Returns 0 on interrupt.
 */
static int
takahashi(const cholmod_factor *L, double *Z, double *acc)
{
	const int  *Lp = L->p,
			   *Li = L->i;
	const double *Lx = L->x;
	int64_t		n = L->n,
				j;

	for (j = n - 1; j >= 0; j--)
	{
		int64_t		p0 = Lp[j],
					p1 = Lp[j + 1],
					t,
					u;
		double		ljj = Lx[p0],
					d = 0.0;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
			return 0;
		for (t = p0 + 1; t < p1; t++)
			acc[t - p0] = 0.0;
		/* for each k = Li[t] in s_j, the rows i >= k of s_j, walking column k */
		for (t = p0 + 1; t < p1; t++)
		{
			int64_t		k = Li[t],
						q = Lp[k];
			double		lkj = Lx[t];

			for (u = t; u < p1; u++)
			{
				int64_t		i = Li[u];
				double		z;

				while (Li[q] < i)
					q++;
				z = Z[q];
				acc[u - p0] += lkj * z;
				if (u != t)
					acc[t - p0] += Lx[u] * z;
			}
		}
		for (t = p0 + 1; t < p1; t++)
		{
			Z[t] = -acc[t - p0] / ljj;
			d += Lx[t] * Z[t];
		}
		Z[p0] = 1.0 / (ljj * ljj) - d / ljj;
	}
	return 1;
}

/*
 * The entries of S^-1 the derivatives read (see the header), at the last
 * factor, with p X columns; returns 0 on interrupt.
 */
static int
sparse_inverse(Blocks *bk, int p)
{
	SparseM    *sp = bk->sp;
	int64_t		m = sp->m;
	double	   *acc;
	int64_t		i,
				maxcol = 0;
	int			ok;

	if (sp->inv_ok)
		return 1;
	cholmod_free_factor(&sp->Ls, &sp->cc);
	sp->Ls = cholmod_copy_factor(sp->L, &sp->cc);
	if (sp->Ls == NULL ||
		!cholmod_change_factor(CHOLMOD_REAL, 1, 0, 1, 1, sp->Ls, &sp->cc))
		return 0;
	lmm_free(sp->Zx);
	sp->Zx = lmm_alloc(sizeof(double) * (sp->Ls->nzmax > 0 ? sp->Ls->nzmax : 1));
	for (i = 0; i < m; i++)
	{
		int64_t		c = ((int *) sp->Ls->p)[i + 1] - ((int *) sp->Ls->p)[i];

		if (c > maxcol)
			maxcol = c;
	}
	acc = lmm_alloc(sizeof(double) * (size_t) (maxcol + 1));
	ok = takahashi(sp->Ls, sp->Zx, acc);
	lmm_free(acc);
	if (!ok)
		return 0;

	/* REML's X rows: V = L^-T Y_X L_XX^-T, VE = V L_XX^-1, EE = (L_XX L_XX')^-1 */
	if (p > 0 && m > 0)
	{
		cholmod_dense X = {(size_t) m, (size_t) p, (size_t) m * p, (size_t) m, NULL, NULL,
		CHOLMOD_REAL, CHOLMOD_DOUBLE};
		cholmod_dense *Vd;
		double	   *Xv = lmm_alloc(sizeof(double) * (size_t) m * p);
		int			a,
					b;

		memcpy(Xv, sp->Y->x, sizeof(double) * (size_t) m * p);
		cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
					(int) m, p, 1.0, sp->C, sp->n1, Xv, (int) m);
		X.x = Xv;
		Vd = cholmod_solve(CHOLMOD_Lt, sp->L, &X, &sp->cc);
		lmm_free(Xv);
		if (Vd == NULL)
			return 0;
		if (sp->V == NULL)
		{
			sp->V = lmm_alloc(sizeof(double) * (size_t) m * p);
			sp->VE = lmm_alloc(sizeof(double) * (size_t) m * p);
			sp->EE = lmm_alloc(sizeof(double) * p * p);
		}
		memcpy(sp->V, Vd->x, sizeof(double) * (size_t) m * p);
		cholmod_free_dense(&Vd, &sp->cc);
		memcpy(sp->VE, sp->V, sizeof(double) * (size_t) m * p);
		cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasNoTrans, CblasNonUnit,
					(int) m, p, 1.0, sp->C, sp->n1, sp->VE, (int) m);
		for (b = 0; b < p; b++)
			for (a = 0; a < p; a++)
				sp->EE[a + b * p] = sp->C[a + b * sp->n1];
		if (LAPACKE_dpotri_work(LAPACK_COL_MAJOR, 'L', p, sp->EE, p) != 0)
			return 0;
	}
	sp->inv_ok = 1;
	return 1;
}

/* sparse_inverse with denormals flushed (ftz_begin). */
int
lmm_sparse_inverse(Blocks *bk, int p)
{
	unsigned int csr;
	int			ok;

	if (bk->sp->inv_ok)
		return 1;
	csr = ftz_begin();
	ok = sparse_inverse(bk, p);
	ftz_end(csr);
	return ok;
}

/* Entry (pi, pj) of the permuted A^-1, both in the pattern of the simplicial L. */
static inline double
zinv(const SparseM *sp, int64_t pi, int64_t pj)
{
	const int  *Lp = sp->Ls->p,
			   *Li = sp->Ls->i;
	int64_t		r = pi > pj ? pi : pj,
				c = pi > pj ? pj : pi,
				lo = Lp[c],
				hi = Lp[c + 1] - 1;

	while (lo < hi)
	{
		int64_t		mid = (lo + hi) / 2;

		if (Li[mid] < r)
			lo = mid + 1;
		else
			hi = mid;
	}
	return Li[lo] == r ? sp->Zx[lo] : NAN;
}

/*
 * Entry (x, y) of S^-1, S the leading nS rows of M (m, or m + p under
 * REML), where M has an entry (see the header); NAN elsewhere.
 */
double
lmm_sparse_sinv(const Blocks *bk, int64_t nS, int64_t x, int64_t y)
{
	const SparseM *sp = bk->sp;
	int64_t		m = sp->m;
	int			p = (int) (nS - m),
				a;

	if (x < m && y < m)
	{
		int64_t		px = sp->pinv[x],
					py = sp->pinv[y];
		double		v = zinv(sp, px, py);

		for (a = 0; a < p; a++)
			v += sp->V[px + a * m] * sp->V[py + a * m];
		return v;
	}
	if (x >= m && y >= m)
		return x >= y ? sp->EE[(x - m) + (y - m) * p] : sp->EE[(y - m) + (x - m) * p];
	if (x >= m)
		return -sp->VE[sp->pinv[y] + (x - m) * m];
	return -sp->VE[sp->pinv[x] + (y - m) * m];
}
