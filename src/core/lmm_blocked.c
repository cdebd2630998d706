/*
 * lmm_blocked.c
 *	  The profiled criterion (lmm_criterion) and the solution at the optimum
 *	  of any model (k >= 1 random-effects terms), with the blocked Cholesky
 *	  factor of the math doc.
 *
 * Terms are sorted by decreasing number of levels (lme4's order).  The first
 * term is factored level by level (a kernel of lmm_levels.c for the levels
 * that meet no other term, lmm_blocked_pairs.c when every term is scalar,
 * W_j below otherwise).  The other
 * terms' Z rows, then the X columns, then y form one dense symmetric matrix
 *	 M = [Lambda_D'Z_D'Z_D Lambda_D + I, .. ; X'Z_D Lambda_D, X'X ; y'Z_D Lambda_D, y'X, y'y]
 * from which, level j of the first term at a time, W_j'W_j is taken with
 *	 W_j = L_j^-1 T_0'Z_j'[Z_D Lambda_D | X | y] = [L_Dj' | RZX_j | cu_j],
 * L_j = chol(T_0'Z_j'Z_jT_0 + I).  One LAPACK Cholesky of M then gives
 * L_DD, RX' and cbeta' in its trailing rows, and sqrt(pwrss) as its last
 * diagonal element (the response appended to X, as in MixedModels.jl).
 * With one term M is [X'X X'y; y'X y'y] and that Cholesky gives RX and cbeta.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_terms.h"

/* out (nr x nc) = S_r' B S_c for lower-triangular T's, or the identity where a term is -1. */
static void
scale_block(const Blocks *bk, const DenseBlock *db, double *out)
{
	int			nr = db->nr;
	int			nc = db->nc;
	double	   *tmp = bk->tmp;
	int			i,
				j,
				a;

	if (db->tr < 0 && db->tc < 0)
	{
		memcpy(out, db->val, sizeof(double) * nr * nc);
		return;
	}

	/* tmp = B S_c; column j of a lower-triangular T starts at row j */
	for (i = 0; i < nr; i++)
		for (j = 0; j < nc; j++)
		{
			double		s = 0.0;

			if (db->tc < 0)
				s = db->val[i * nc + j];
			else
				for (a = j; a < nc; a++)
					s += db->val[i * nc + a] * bk->T[db->tc][a * nc + j];
			tmp[i * nc + j] = s;
		}
	for (i = 0; i < nr; i++)
		for (j = 0; j < nc; j++)
		{
			double		s = 0.0;

			if (db->tr < 0)
				s = tmp[i * nc + j];
			else
				for (a = i; a < nr; a++)
					s += bk->T[db->tr][a * nr + i] * tmp[a * nc + j];
			out[i * nc + j] = s;
		}
}

/*
 * W_j for level j of the first term, from the level factor just computed
 * into w (L, RZX, cu): cross blocks L_j^-1 T_0' B T_u, then RZX_j, then cu_j.
 * Its column numbers in M go to bk->widx; returns the number of columns.
 */
int
lmm_blocked_level_rhs(Work *w, Blocks *bk, int64_t j)
{
	int			q0 = bk->q[0];
	int			p = w->g->p;
	int			ncol = bk->ncols[j];
	double	   *W = bk->W;
	double	   *C = bk->scratch;
	int64_t		e;
	int			col = 0,
				a,
				b,
				c;

	for (e = bk->xptr[j]; e < bk->xptr[j + 1]; e++)
	{
		int			u = bk->xterm[e];
		int			qu = bk->q[u];
		DenseBlock	db = {0, 0, 0, u, q0, qu, bk->xval + bk->xvoff[e]};

		scale_block(bk, &db, C);
		lmm_forward_solve(q0, qu, w->L, C);
		for (a = 0; a < q0; a++)
			for (c = 0; c < qu; c++)
				W[a * ncol + col + c] = C[a * qu + c];
		for (c = 0; c < qu; c++)
			bk->widx[col + c] = bk->xcol[e] + c;
		col += qu;
	}
	for (a = 0; a < q0; a++)
	{
		for (b = 0; b < p; b++)
			W[a * ncol + col + b] = w->RZX[a * p + b];
		W[a * ncol + col + p] = w->cu[a];
	}
	for (b = 0; b <= p; b++)
		bk->widx[col + b] = bk->m + b;
	return ncol;
}

/*
 * Fill M at theta, take the first term's levels out of it and factor it;
 * returns the first term's log-determinant sum_j log|L_j|^2, HUGE_VAL
 * when M is not positive definite or on interrupt (w->interrupted).
 */
static double
factor_M(Work *w, const double *theta)
{
	const Gram *g = w->g;
	Blocks	   *bk = g->blk;
	int			p = g->p;
	int			q0 = bk->q[0];
	int64_t		N = bk->N;
	int64_t		m = bk->m;
	double	   *M = bk->M;
	double	   *out = bk->scratch;
	SparseM    *sp = bk->sp;
	int64_t		i,
				j,
				e;
	int			t,
				a,
				b,
				r;
	lapack_int	info;

	for (t = 0; t < bk->k; t++)
		lmm_theta_to_T(bk->q[t], theta + bk->toff[t], bk->T[t]);
	memcpy(w->T, bk->T[0], sizeof(double) * q0 * q0);

	if (sp)
		lmm_sparse_clear(bk);
	else
		memset(M, 0, sizeof(double) * (size_t) N * (size_t) N);
	for (e = 0; e < bk->ndense; e++)
	{
		const DenseBlock *db = &bk->dense[e];

		scale_block(bk, db, out);
		for (a = 0; a < db->nr; a++)
			for (b = 0; b < db->nc; b++)
			{
				if (!sp)
					M[(db->r0 + a) + (db->c0 + b) * N] = out[a * db->nc + b];
				else if (db->r0 + a >= db->c0 + b)
					*lmm_sparse_at(bk, db->r0 + a, db->c0 + b) = out[a * db->nc + b];
			}
	}
	for (i = 0; i < m; i++)
	{
		if (sp)
			*lmm_sparse_at(bk, i, i) += 1.0;
		else
			M[i + i * N] += 1.0;
	}

	if (bk->pptr != NULL)
	{
		/* all terms scalar: the update column by column (lmm_blocked_pairs.c) */
		w->ldL2 = lmm_blocked_pairs_weights(bk, theta, bk->pS, bk->pomega);
		if (!lmm_blocked_pairs_update(bk, bk->pS, bk->pomega, sp ? NULL : M))
		{
			w->interrupted = 1;
			return HUGE_VAL;
		}
	}
	else
	{
		/* the levels that meet no other term, by the kernel for q0 (lmm_levels.c) */
		double	   *C = bk->scratch;
		int64_t		n1 = p + 1;

		memset(C, 0, sizeof(double) * n1 * n1);
		w->ldL2 = 0.0;
		if (!lmm_levels_fold(w, &w->ldL2, C))
		{
			w->interrupted = 1;
			return HUGE_VAL;
		}
		if (w->not_pd)
			return HUGE_VAL;
		for (b = 0; b < n1; b++)
			for (a = b; a < n1; a++)
			{
				if (sp)
					*lmm_sparse_at(bk, m + a, m + b) -= C[b + a * n1];
				else
					M[(m + a) + (m + b) * N] -= C[b + a * n1];
			}
	}
	/* the levels that do, through W_j and its columns of M */
	for (j = 0; j < g->nlevels && bk->pptr == NULL && bk->xptr[g->nlevels] > 0; j++)
	{
		int			ncol;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
		{
			w->interrupted = 1;
			return HUGE_VAL;
		}
		if (bk->xptr[j] == bk->xptr[j + 1])
			continue;
		w->ldL2 += lmm_level_factor(w, g->ZtZ + (size_t) j * q0 * q0,
									g->ZtX + (size_t) j * q0 * p,
									g->Zty + (size_t) j * q0);
		if (w->not_pd)
			return HUGE_VAL;
		ncol = lmm_blocked_level_rhs(w, bk, j);
		/*
		 * M -= W_j'W_j on W_j's columns, lower triangle: the columns are in
		 * increasing order, so walk M down each column.
		 */
		for (b = 0; b < ncol; b++)
		{
			double	   *Mc = sp ? NULL : M + bk->widx[b] * N;

			for (a = b; a < ncol; a++)
			{
				double		s = 0.0;

				for (r = 0; r < q0; r++)
					s += bk->W[r * ncol + a] * bk->W[r * ncol + b];
				if (sp)
					*lmm_sparse_at(bk, bk->widx[a], bk->widx[b]) -= s;
				else
					Mc[bk->widx[a]] -= s;
			}
		}
	}

	if (lmm_interrupt_pending())
	{
		w->interrupted = 1;
		return HUGE_VAL;
	}
	if (sp)
		return lmm_sparse_factor(bk) ? w->ldL2 : HUGE_VAL;
	info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', (lapack_int) N, M, (lapack_int) N);
	return info == 0 ? w->ldL2 : HUGE_VAL;
}

/*
 * The profiled criterion at theta (REML criterion or ML deviance) of any
 * model: M filled and factored (factor_M), and RX, cbeta, pwrss, log|L|^2
 * and log|RX|^2 left in w.  HUGE_VAL where the model is degenerate at
 * theta, or when the host asked to stop.  M is kept with the theta it was
 * factored at, so that evaluating there again (the solution at the optimum,
 * then Satterthwaite's step) reads it instead of factoring it anew.
 */
double
lmm_criterion(Work *w, const double *theta)
{
	const Gram *g = w->g;
	Blocks	   *bk = g->blk;
	int			p = g->p;
	int64_t		N = bk->N;
	int64_t		m = bk->m;
	double	   *M = bk->M;
	int64_t		i;
	int			a,
				b;

	if (!bk->mvalid || memcmp(bk->mtheta, theta, sizeof(double) * w->ntheta) != 0)
	{
		bk->mvalid = 0;
		bk->sinv_n = 0;
		bk->ld0 = factor_M(w, theta);
		if (!isfinite(bk->ld0))
			return HUGE_VAL;
		memcpy(bk->mtheta, theta, sizeof(double) * w->ntheta);
		bk->mvalid = 1;
	}
	memcpy(w->T, bk->T[0], sizeof(double) * bk->q[0] * bk->q[0]);
	w->ldL2 = bk->ld0;
	if (bk->sp)
	{
		/* the trailing factor of the Schur complement (lmm_sparse.c) */
		const double *C = lmm_sparse_tail(bk);
		int			n1 = p + 1;

		w->ldL2 += lmm_sparse_logdet(bk);
		w->ldRX2 = 0.0;
		for (a = 0; a < p; a++)
		{
			for (b = 0; b <= a; b++)
				w->RX[a + b * p] = C[a + b * n1];
			w->cbeta[a] = C[p + a * n1];
			w->ldRX2 += 2.0 * log(C[a + a * n1]);
		}
		w->pwrss = C[p + p * n1] * C[p + p * n1];
		return lmm_profiled_criterion(w);
	}
	for (i = 0; i < m; i++)
		w->ldL2 += 2.0 * log(M[i + i * N]);
	w->ldRX2 = 0.0;
	for (a = 0; a < p; a++)
	{
		for (b = 0; b <= a; b++)
			w->RX[a + b * p] = M[(m + a) + (m + b) * N];
		w->cbeta[a] = M[(N - 1) + (m + a) * N];
		w->ldRX2 += 2.0 * log(M[(m + a) + (m + a) * N]);
	}
	w->pwrss = M[(N - 1) + (N - 1) * N] * M[(N - 1) + (N - 1) * N];
	return lmm_profiled_criterion(w);
}

/*
 * The dense terms' spherical modes at the theta last factored, for the
 * centred fixed effects betac: u_D = L_S'^-1 (cu_D - L_XD' betac), into uD
 * (m entries).
 */
void
lmm_blocked_dense_modes(const Blocks *bk, int p, const double *betac, double *uD)
{
	int64_t		N = bk->N;
	int64_t		m = bk->m;
	const double *M = bk->M;
	int64_t		i;
	int			a;

	if (bk->sp)
	{
		lmm_sparse_modes(bk, p, betac, uD);
		return;
	}
	for (i = 0; i < m; i++)
	{
		double		s = M[(N - 1) + i * N];

		for (a = 0; a < p; a++)
			s -= M[(m + a) + i * N] * betac[a];
		uD[i] = s;
	}
	if (m > 0)
		LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'L', 'T', 'N', (lapack_int) m, 1,
							M, (lapack_int) N, uD, (lapack_int) m);
}

/*
 * The inverse of the matrix whose Cholesky factor is the leading n x n block
 * of the factor in M (lower triangle, n x n column-major into Sinv); 0 if
 * LAPACK refuses it.
 */
int
lmm_blocked_inverse(const Blocks *bk, int64_t n, double *Sinv)
{
	int64_t		i;

	for (i = 0; i < n; i++)
		memcpy(Sinv + i * n, bk->M + i * bk->N, sizeof(double) * (size_t) n);
	return n == 0 ||
		LAPACKE_dpotri_work(LAPACK_COL_MAJOR, 'L', (lapack_int) n, Sinv, (lapack_int) n) == 0;
}

/*
 * Make S^-1, the inverse of the leading nS rows of M's factor, readable by
 * lmm_sinv_at at the theta last factored: LAPACK's inverse of the dense
 * factor, or the entries the derivatives read on the sparse path
 * (lmm_sparse.c).  Also allocates the dense terms' modes bk->uD.  Returns
 * 0 when LAPACK refuses it or on interrupt (w->interrupted).
 */
int
lmm_blocked_sinv(Work *w, int64_t nS)
{
	Blocks	   *bk = w->g->blk;
	int64_t		m = bk->m;
	int			p = w->g->p;

	if (bk->uD == NULL)
		bk->uD = lmm_alloc(sizeof(double) * (size_t) (m > 0 ? m : 1));
	if (bk->sp != NULL)
	{
		if (!lmm_sparse_inverse(bk, p))
		{
			if (lmm_interrupt_pending())
				w->interrupted = 1;
			return 0;
		}
		bk->sinv_n = nS;
		return 1;
	}
	if (bk->Sinv == NULL)
		bk->Sinv = lmm_alloc(sizeof(double) * (size_t) (m + p) * (size_t) (m + p));
	if (bk->sinv_n != nS)
	{
		if (!lmm_blocked_inverse(bk, nS, bk->Sinv))
			return 0;
		bk->sinv_n = nS;
	}
	return 1;
}

/*
 * From S_D^-1 (m x m, lower), the inverse of the leading m rows of M's
 * factor, the inverse of its leading nS = m (+ p under REML) rows into
 * bk->Sinv, which the gradient at the same theta then reads instead of
 * inverting anew.  With that factor [L_DD 0; L_XD L_XX], E = L_XX^-1 and
 * C = -E L_XD L_DD^-1, the inverse is [S_D^-1 + C'C, C'E; E'C, E'E]:
 * additions only, O(m^2 p).
 */
void
lmm_blocked_share_inverse(Work *w, const double *SDinv)
{
	Blocks	   *bk = w->g->blk;
	int			p = w->g->p;
	int64_t		m = bk->m;
	int64_t		N = bk->N;
	int64_t		nS = m + (w->reml ? p : 0);
	const double *M = bk->M;
	double	   *Sinv,
			   *Y,
			   *E;
	int64_t		i,
				j;
	int			x,
				y,
				z;

	if (bk->Sinv == NULL)
		bk->Sinv = lmm_alloc(sizeof(double) * (size_t) (m + p) * (size_t) (m + p));
	if (bk->uD == NULL)
		bk->uD = lmm_alloc(sizeof(double) * (size_t) (m > 0 ? m : 1));
	Sinv = bk->Sinv;
	for (j = 0; j < m; j++)
		memcpy(Sinv + j + j * nS, SDinv + j + j * m, sizeof(double) * (size_t) (m - j));
	if (nS > m)
	{
		/* Y = L_DD^-T L_XD' L_XX^-T = -C' (m x p) */
		Y = lmm_alloc(sizeof(double) * (size_t) (m > 0 ? m : 1) * p);
		E = lmm_alloc(sizeof(double) * p * p);
		for (x = 0; x < p; x++)
			for (i = 0; i < m; i++)
				Y[i + x * m] = M[(m + x) + i * N];
		if (m > 0)
			LAPACKE_dtrtrs_work(LAPACK_COL_MAJOR, 'L', 'T', 'N', (lapack_int) m, p,
								M, (lapack_int) N, Y, (lapack_int) m);
		for (i = 0; i < m; i++)
			for (x = 0; x < p; x++)
			{
				double		v = Y[i + x * m];

				for (z = 0; z < x; z++)
					v -= M[(m + x) + (m + z) * N] * Y[i + z * m];
				Y[i + x * m] = v / M[(m + x) + (m + x) * N];
			}
		/* E = L_XX^-1, lower */
		for (x = 0; x < p; x++)
			for (y = 0; y < p; y++)
			{
				double		v = x == y ? 1.0 : 0.0;

				for (z = y; z < x; z++)
					v -= M[(m + x) + (m + z) * N] * E[z * p + y];
				E[x * p + y] = x < y ? 0.0 : v / M[(m + x) + (m + x) * N];
			}
		for (j = 0; j < m; j++)
			for (i = j; i < m; i++)
			{
				double		v = 0.0;

				for (x = 0; x < p; x++)
					v += Y[i + x * m] * Y[j + x * m];
				Sinv[i + j * nS] += v;
			}
		for (x = 0; x < p; x++)
		{
			for (j = 0; j < m; j++)
			{
				double		v = 0.0;

				for (z = x; z < p; z++)
					v -= E[z * p + x] * Y[j + z * m];
				Sinv[(m + x) + j * nS] = v;
			}
			for (y = 0; y <= x; y++)
			{
				double		v = 0.0;

				for (z = x; z < p; z++)
					v += E[z * p + x] * E[z * p + y];
				Sinv[(m + x) + (m + y) * nS] = v;
			}
		}
		lmm_free(Y);
		lmm_free(E);
	}
	bk->sinv_n = nS;
}

/*
 * The spherical conditional modes u_j of the first term's level whose rows
 * lmm_blocked_level_rhs just left in bk->W (ncol columns: the dense rows',
 * then X's, then the right-hand side), given the centred beta and the
 * dense rows' modes uD, into r (q0 values): L_j' u_j = c_j - W_j [uD; beta].
 * Shared by the modes and the gradient of vector-valued terms.
 */
void
lmm_blocked_level_u(Work *w, const Blocks *bk, int ncol, const double *betac,
					const double *uD, double *r)
{
	int			q0 = bk->q[0];
	int			p = w->g->p;
	int			nx = ncol - p - 1;
	int			a,
				c;

	for (a = 0; a < q0; a++)
	{
		double		s = bk->W[a * ncol + ncol - 1];

		for (c = 0; c < p; c++)
			s -= bk->W[a * ncol + nx + c] * betac[c];
		for (c = 0; c < nx; c++)
			s -= bk->W[a * ncol + c] * uD[bk->widx[c]];
		r[a] = s;
	}
	lmm_backward_solve(q0, 1, w->L, r);
}

/* Entry (x, y) of S_D^-1 for the modes: Sinv's lower triangle (m x m), or the sparse path's. */
static inline double
modes_sinv(const Blocks *bk, const double *Sinv, int64_t x, int64_t y)
{
	int64_t		m = bk->m;

	if (bk->sp)
		return lmm_sparse_sinv(bk, m, x, y);
	return x >= y ? Sinv[x + y * m] : Sinv[y + x * m];
}

/*
 * The conditional modes and covariances of every term at the theta last
 * evaluated (M factored), for the centred fixed effects betac:
 *	 u_D = L_DD'^-1 (cu_D - L_XD' betac),
 *	 u_j = L_j'^-1 (cu_j - RZX_j betac - L_Dj' u_D) for the first term,
 *	 condvar = sigma^2 T P^-1_jj T' with P^-1 from S^-1 = (L_DD L_DD')^-1:
 *	 P^-1_jj = L_j'^-1 (I + V_j S^-1 V_j') L_j^-1, V_j = L_Dj', for the first
 *	 term, and the diagonal blocks of S^-1 for the others.
 */
void
lmm_blocked_modes(Work *w, const double *betac, double sigma2, LmmFit *fit)
{
	const Gram *g = w->g;
	Blocks	   *bk = g->blk;
	int			p = g->p;
	int			q0 = bk->q[0];
	int64_t		m = bk->m;
	int			want_cv = fit->term[0].condvar != NULL;
	double	   *uD = lmm_alloc(sizeof(double) * (size_t) (m > 0 ? m : 1));
	double	   *Sinv = bk->sp || !want_cv ? NULL : lmm_alloc(sizeof(double) * (size_t) (m > 0 ? m * m : 1));
	double	   *r = lmm_alloc(sizeof(double) * q0);
	double	   *G = lmm_alloc(sizeof(double) * q0 * (bk->maxcols + q0));
	double	   *H = lmm_alloc(sizeof(double) * q0 * q0);
	double	   *P = lmm_alloc(sizeof(double) * q0 * q0);
	int64_t		j;
	int			fast,
				t,
				a,
				b,
				c,
				k;

	/* u_D and S^-1 from the leading m x m block of the factor, shared with the gradient */
	lmm_blocked_dense_modes(bk, p, betac, uD);
	if (!want_cv)
		;
	else if (bk->sp)
	{
		if (!lmm_sparse_inverse(bk, p))
			w->interrupted = 1;
	}
	else if (lmm_blocked_inverse(bk, m, Sinv))
		lmm_blocked_share_inverse(w, Sinv);

	/* the dense terms: b = T u, condvar = sigma^2 T S^-1_jj T' */
	for (t = 1; t < bk->k && !w->interrupted; t++)
	{
		int			q = bk->q[t];
		const double *T = bk->T[t];

		for (j = 0; j < bk->J[t]; j++)
		{
			int64_t		at = bk->off[t] + j * q;
			double	   *bj = fit->term[t].b + (size_t) j * q;
			double	   *cv = fit->term[t].condvar + (size_t) j * q * q;

			for (a = 0; a < q; a++)
			{
				double		s = 0.0;

				for (k = 0; k <= a; k++)
					s += T[a * q + k] * uD[at + k];
				bj[a] = s;
			}
			for (a = 0; a < q && want_cv; a++)
				for (b = 0; b < q; b++)
				{
					double		s = 0.0;
					int			l;

					for (k = 0; k <= a; k++)
						for (l = 0; l <= b; l++)
						{
							int64_t		x = at + k,
										y = at + l;

							s += T[a * q + k] * T[b * q + l] * modes_sinv(bk, Sinv, x, y);
						}
					cv[a * q + b] = sigma2 * s;
				}
		}
	}

	/*
	 * the first term, level by level: those that meet no other term by
	 * lmm_levels_modes where q is 1 or 2
	 */
	fast = w->interrupted ? 0 :
		lmm_levels_modes(w, betac, sigma2, fit->term[0].b,
						 want_cv ? fit->term[0].condvar : NULL);
	if (fast < 0)
		w->interrupted = 1;
	for (j = 0; j < g->nlevels && !w->interrupted; j++)
	{
		int			ncol;
		int			nx = bk->ncols[j] - p - 1;
		double	   *bj = fit->term[0].b + (size_t) j * q0;
		double	   *cv = fit->term[0].condvar + (size_t) j * q0 * q0;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
		{
			w->interrupted = 1;
			break;
		}
		if (fast && bk->xptr[j] == bk->xptr[j + 1])
			continue;
		lmm_level_factor(w, g->ZtZ + (size_t) j * q0 * q0,
						 g->ZtX + (size_t) j * q0 * p, g->Zty + (size_t) j * q0);
		ncol = lmm_blocked_level_rhs(w, bk, j);
		lmm_blocked_level_u(w, bk, ncol, betac, uD, r);
		for (a = 0; a < q0; a++)
		{
			double		s = 0.0;

			for (k = 0; k <= a; k++)
				s += w->T[a * q0 + k] * r[k];
			bj[a] = s;
		}
		if (!want_cv)
			continue;

		/* H = I + V S^-1 V', with V the cross columns of W_j */
		for (a = 0; a < q0; a++)
			for (c = 0; c < nx; c++)
			{
				double		s = 0.0;
				int			d;

				for (d = 0; d < nx; d++)
				{
					int64_t		x = bk->widx[c],
								y = bk->widx[d];

					s += bk->W[a * ncol + d] * modes_sinv(bk, Sinv, x, y);
				}
				G[a * nx + c] = s;
			}
		for (a = 0; a < q0; a++)
			for (b = 0; b < q0; b++)
			{
				double		s = (a == b) ? 1.0 : 0.0;

				for (c = 0; c < nx; c++)
					s += G[a * nx + c] * bk->W[b * ncol + c];
				H[a * q0 + b] = s;
			}
		/* K = L_j^-1, E = K T_0', condvar = sigma^2 E'H E */
		for (a = 0; a < q0 * q0; a++)
			P[a] = (a % (q0 + 1) == 0) ? 1.0 : 0.0;
		lmm_forward_solve(q0, q0, w->L, P);
		for (a = 0; a < q0; a++)
			for (b = 0; b < q0; b++)
			{
				double		s = 0.0;

				for (k = 0; k < q0; k++)
					s += P[a * q0 + k] * w->T[b * q0 + k];
				G[a * q0 + b] = s;
			}
		for (a = 0; a < q0; a++)
			for (b = 0; b < q0; b++)
			{
				double		s = 0.0;
				int			d;

				for (c = 0; c < q0; c++)
					for (d = 0; d < q0; d++)
						s += G[c * q0 + a] * H[c * q0 + d] * G[d * q0 + b];
				cv[a * q0 + b] = sigma2 * s;
			}
	}
	lmm_free(uD);
	lmm_free(Sinv);
	lmm_free(r);
	lmm_free(G);
	lmm_free(H);
	lmm_free(P);
}
