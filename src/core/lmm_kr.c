/*
 * lmm_kr.c
 *	  Kenward-Roger's adjusted covariance of the fixed effects and its
 *	  degrees of freedom, as pbkrtest 0.5 (vcovAdj, Lb_ddf, KRmodcomp)
 *	  computes them, from Z'Z, Z'X and X'X (docs/math.md, "Kenward-Roger").
 *
 * Write B = [Z X], W = Sigma^-1 = sigma^-2 (I - Z M Z') with
 * M = Lambda (Lambda'Z'Z Lambda + I)^-1 Lambda', and A = B'WB (blocks
 * A_ZZ, A_ZX, A_XX).  Then, with E_i the pattern of G_i = Z E_i Z':
 *	 X'W G_i W X			= A_ZX' E_i A_ZX					(-P_i)
 *	 X'W G_i W G_j W X		= A_ZX' E_i A_ZZ E_j A_ZX			(Q_ij)
 *	 X'W G_i W W X			= A_ZX' E_i sigma^-2 (A_ZX - A_ZZ M Z'X)
 *	 X'W W X				= sigma^-2 (A_XX - A_ZX' M Z'X)		(-P_sigma)
 *	 X'W W W X				= U'AU, U = sigma^-2 [-M Z'X; I]
 *	 tr(W G_i W G_j)		= tr(E_i A_ZZ E_j A_ZZ)
 *	 tr(W G_i W)			= sigma^-2 tr(E_i A_ZZ (I - M Z'Z))
 *	 tr(W W)				= sigma^-4 (n - 2 tr(M Z'Z) + tr((M Z'Z)^2))
 * With one term every matrix of the random effects is block diagonal by
 * level, so the sums run level by level (O(levels)); with several, Z'Z is
 * one dense block of all random effects, up to LMM_KR_MAX_DENSE.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_infer.h"
#include "lmm_kr.h"

/* Eigenvalues of the information at or below this make pbkrtest take its generalized inverse. */
#define KR_CONDI_TOL 1e-10

/* Blocks wider than this poll the host between their cubic steps. */
#define POLL_BLOCK 64

/* Most doubles of the products Q_ij (ngamma^2 p^2): 1 GB. */
#define KR_MAX_Q ((double) (1 << 27))

/* The entries (r, c) of every E_i, parameter by parameter: E_i = sum e_r e_c'. */
typedef struct Support
{
	int			npar;
	int64_t    *start;			/* npar + 1 */
	int		   *r;
	int		   *c;
} Support;

/* What the blocks add up, and their scratch space. */
typedef struct Acc
{
	int			p;
	int			nr;				/* random-effects parameters */
	int			ng;				/* nr + 1 */
	double		is2;			/* sigma^-2 */
	double	   *RR;				/* sum RZX'RZX */
	double	   *S1;				/* sum A_ZX' M Z'X */
	double	   *Qrr;			/* the Z part of U'AU */
	double	   *P;				/* ng * p * p */
	double	   *Q;				/* ng * ng * p * p, i <= j */
	double	   *K;				/* ng * ng traces */
	double		trMC;
	double		trMCMC;
	/* scratch for a block of at most smax random effects */
	double	   *tmp,
			   *H,
			   *X1,			/* Lc^-T R1 = H^-1 Lam'C */
			   *R1,
			   *Azz,
			   *MC;
	double	   *RZX,
			   *Azx,
			   *MZX,
			   *U0z,
			   *AU0z,
			   *T1;
	double	   *Y,
			   *AY;				/* nr * smax * p */
} Acc;

/* C = alpha op(A) op(B) + beta C, row-major, ld = columns as stored. */
static void
gemm(int ta, int tb, int m, int n, int k, double alpha, const double *A,
	 const double *B, double beta, double *C)
{
	if (m == 0 || n == 0)
		return;
	cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
				tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, A,
				ta ? m : k, B, tb ? k : n, beta, C, n);
}

/*
 * The patterns of the random-effects parameters: term t (q[t] columns,
 * nlev[t] levels from coordinate off[t]) has one per entry (a, b), a >= b,
 * of its covariance matrix, each with the entries of every level.
 */
static void
build_support(int nterms, const int *q, const int64_t *nlev,
			  const int64_t *off, Support *sup)
{
	int64_t		n = 0,
				l;
	int			t,
				a,
				b,
				i = 0;

	sup->npar = 0;
	for (t = 0; t < nterms; t++)
	{
		sup->npar += q[t] * (q[t] + 1) / 2;
		n += nlev[t] * q[t] * q[t];
	}
	sup->start = lmm_alloc(sizeof(int64_t) * (sup->npar + 1));
	sup->r = lmm_alloc(sizeof(int) * (n + 1));
	sup->c = lmm_alloc(sizeof(int) * (n + 1));
	n = 0;
	for (t = 0; t < nterms; t++)
		for (b = 0; b < q[t]; b++)
			for (a = b; a < q[t]; a++, i++)
			{
				sup->start[i] = n;
				for (l = 0; l < nlev[t]; l++)
				{
					int			base = (int) (off[t] + l * q[t]);

					sup->r[n] = base + a;
					sup->c[n++] = base + b;
					if (a != b)
					{
						sup->r[n] = base + b;
						sup->c[n++] = base + a;
					}
				}
			}
	sup->start[sup->npar] = n;
}

/* Allocate the sums and the scratch space for blocks of up to smax random effects. */
static void
acc_init(Acc *a, int p, int nr, double sigma, int64_t smax)
{
	size_t		pp = (size_t) p * p;
	size_t		ss = (size_t) smax * smax;
	size_t		sp = (size_t) smax * p;

	memset(a, 0, sizeof(*a));
	a->p = p;
	a->nr = nr;
	a->ng = nr + 1;
	a->is2 = 1.0 / (sigma * sigma);
	a->RR = lmm_alloc0(sizeof(double) * pp);
	a->S1 = lmm_alloc0(sizeof(double) * pp);
	a->Qrr = lmm_alloc0(sizeof(double) * pp);
	a->P = lmm_alloc0(sizeof(double) * pp * a->ng);
	a->Q = lmm_alloc0(sizeof(double) * pp * a->ng * a->ng);
	a->K = lmm_alloc0(sizeof(double) * a->ng * a->ng);
	a->tmp = lmm_alloc(sizeof(double) * ss);
	a->H = lmm_alloc(sizeof(double) * ss);
	a->X1 = lmm_alloc(sizeof(double) * ss);
	a->R1 = lmm_alloc(sizeof(double) * ss);
	a->Azz = lmm_alloc(sizeof(double) * ss);
	a->MC = lmm_alloc(sizeof(double) * ss);
	a->RZX = lmm_alloc(sizeof(double) * sp);
	a->Azx = lmm_alloc(sizeof(double) * sp);
	a->MZX = lmm_alloc(sizeof(double) * sp);
	a->U0z = lmm_alloc(sizeof(double) * sp);
	a->AU0z = lmm_alloc(sizeof(double) * sp);
	a->T1 = lmm_alloc(sizeof(double) * sp);
	a->Y = lmm_alloc(sizeof(double) * sp * (nr + 1));
	a->AY = lmm_alloc(sizeof(double) * sp * (nr + 1));
}

/* Release what acc_init allocated. */
static void
acc_free(Acc *a)
{
	double	   *all[] = {a->RR, a->S1, a->Qrr, a->P, a->Q, a->K, a->tmp, a->H,
		a->X1, a->R1, a->Azz, a->MC, a->RZX, a->Azx, a->MZX, a->U0z,
	a->AU0z, a->T1, a->Y, a->AY};
	size_t		i;

	for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		lmm_free(all[i]);
}

/* out = Lam' B (B: s x n); Lam is block diagonal, row r's block [bs[r], bs[r] + bl[r]). */
static void
lam_t_left(int s, int n, const double *Lam, const int *bs, const int *bl,
		   const double *B, double *out)
{
	int			r,
				c,
				j;

	memset(out, 0, sizeof(double) * s * n);
	for (r = 0; r < s; r++)
		for (c = bs[r]; c < bs[r] + bl[r]; c++)
		{
			double		l = Lam[(size_t) c * s + r];

			if (l != 0.0)
				for (j = 0; j < n; j++)
					out[(size_t) r * n + j] += l * B[(size_t) c * n + j];
		}
}

/* out = Lam B (B: s x n), Lam as in lam_t_left. */
static void
lam_left(int s, int n, const double *Lam, const int *bs, const int *bl,
		 const double *B, double *out)
{
	int			r,
				c,
				j;

	memset(out, 0, sizeof(double) * s * n);
	for (r = 0; r < s; r++)
		for (c = bs[r]; c < bs[r] + bl[r]; c++)
		{
			double		l = Lam[(size_t) r * s + c];

			if (l != 0.0)
				for (j = 0; j < n; j++)
					out[(size_t) r * n + j] += l * B[(size_t) c * n + j];
		}
}

/* out = B Lam (B: s x s), Lam as in lam_t_left. */
static void
lam_right(int s, const double *Lam, const int *bs, const int *bl,
		  const double *B, double *out)
{
	int			i,
				r,
				c;

	for (i = 0; i < s; i++)
		for (c = 0; c < s; c++)
		{
			double		v = 0.0;

			for (r = bs[c]; r < bs[c] + bl[c]; r++)
				v += B[(size_t) i * s + r] * Lam[(size_t) r * s + c];
			out[(size_t) i * s + c] = v;
		}
}

/*
 * Add one block of s random effects (its Z'Z C, Z'X ZX and block-diagonal
 * relative factor Lam, blocks bs/bl) to the sums.  With G = Lam'C and
 * Lc Lc' = G Lam + I: R1 = Lc^-1 G, RZX = Lc^-1 Lam'ZX, and
 * M C = Lam Lc^-T R1, M ZX = Lam Lc^-T RZX, so that M itself is never
 * formed.  Returns 1, 0 when Lc does not exist (statistics not of real
 * data), or -1 when the host asked to stop (polled between the cubic steps
 * of a large block).
 */
static int
add_block(Acc *a, int s, const double *C, const double *ZX, const double *Lam,
		  const int *bs, const int *bl, const Support *sup)
{
	int			p = a->p,
				nr = a->nr,
				ng = a->ng;
	size_t		pp = (size_t) p * p,
				sp = (size_t) s * p;
	double		is2 = a->is2;
	int			i,
				j,
				x,
				y;

	/* G = Lam'C (in tmp), H = G Lam + I and its lower Cholesky factor Lc */
	lam_t_left(s, s, Lam, bs, bl, C, a->tmp);
	lam_right(s, Lam, bs, bl, a->tmp, a->H);
	for (x = 0; x < s; x++)
		a->H[(size_t) x * s + x] += 1.0;
	if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', s, a->H, s) != 0)
		return 0;
	if (s > POLL_BLOCK && lmm_interrupt_pending())
		return -1;

	/* R1 = Lc^-1 G, RZX = Lc^-1 Lam'ZX; A_ZZ = (C - R1'R1)/sigma^2, A_ZX likewise */
	memcpy(a->R1, a->tmp, sizeof(double) * s * s);
	cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans,
				CblasNonUnit, s, s, 1.0, a->H, s, a->R1, s);
	lam_t_left(s, p, Lam, bs, bl, ZX, a->RZX);
	if (p > 0)
		cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans,
					CblasNonUnit, s, p, 1.0, a->H, s, a->RZX, p);
	memcpy(a->Azz, C, sizeof(double) * s * s);
	cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, s, s, -1.0, a->R1, s,
				1.0, a->Azz, s);
	for (x = 0; x < s; x++)
		for (y = 0; y <= x; y++)
			a->Azz[(size_t) y * s + x] = a->Azz[(size_t) x * s + y] *= is2;
	memcpy(a->Azx, ZX, sizeof(double) * sp);
	gemm(1, 0, s, p, s, -is2, a->R1, a->RZX, is2, a->Azx);
	gemm(1, 0, p, p, s, 1.0, a->RZX, a->RZX, 1.0, a->RR);
	if (s > POLL_BLOCK && lmm_interrupt_pending())
		return -1;

	/* MC = Lam Lc^-T R1 and MZX = Lam Lc^-T RZX */
	memcpy(a->X1, a->R1, sizeof(double) * s * s);
	cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans,
				CblasNonUnit, s, s, 1.0, a->H, s, a->X1, s);
	lam_left(s, s, Lam, bs, bl, a->X1, a->MC);
	memcpy(a->T1, a->RZX, sizeof(double) * sp);
	if (p > 0)
		cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans,
					CblasNonUnit, s, p, 1.0, a->H, s, a->T1, p);
	lam_left(s, p, Lam, bs, bl, a->T1, a->MZX);
	gemm(1, 0, p, p, s, 1.0, a->Azx, a->MZX, 1.0, a->S1);

	/* U_Z = -M Z'X / sigma^2; (AU)_Z = A_ZX / sigma^2 + A_ZZ U_Z */
	for (x = 0; x < (int) sp; x++)
	{
		a->U0z[x] = -is2 * a->MZX[x];
		a->AU0z[x] = is2 * a->Azx[x];
	}
	gemm(0, 0, s, p, s, 1.0, a->Azz, a->U0z, 1.0, a->AU0z);
	gemm(0, 0, s, p, s, 1.0, a->Azz, a->U0z, 0.0, a->T1);
	gemm(1, 0, p, p, s, 1.0, a->U0z, a->T1, 1.0, a->Qrr);
	gemm(1, 0, p, p, s, is2, a->U0z, a->Azx, 1.0, a->Qrr);
	gemm(1, 0, p, p, s, is2, a->Azx, a->U0z, 1.0, a->Qrr);

	/* Y_i = E_i A_ZX, A_ZZ Y_i; P_i, Q_ij, Q_i,sigma */
	for (i = 0; i < nr; i++)
	{
		double	   *Yi = a->Y + i * sp;
		int64_t		e;

		memset(Yi, 0, sizeof(double) * sp);
		for (e = sup->start[i]; e < sup->start[i + 1]; e++)
			for (y = 0; y < p; y++)
				Yi[(size_t) sup->r[e] * p + y] += a->Azx[(size_t) sup->c[e] * p + y];
		gemm(0, 0, s, p, s, 1.0, a->Azz, Yi, 0.0, a->AY + i * sp);
		gemm(1, 0, p, p, s, -1.0, a->Azx, Yi, 1.0, a->P + i * pp);
	}
	for (i = 0; i < nr; i++)
	{
		for (j = i; j < nr; j++)
			gemm(1, 0, p, p, s, 1.0, a->Y + i * sp, a->AY + j * sp, 1.0,
				 a->Q + (size_t) (i * ng + j) * pp);
		gemm(1, 0, p, p, s, 1.0, a->Y + i * sp, a->AU0z, 1.0,
			 a->Q + (size_t) (i * ng + nr) * pp);
	}

	/* the traces: tr(E_i A E_j A), tr(E_i A_ZZ (I - M C)) / sigma^2, tr(MC), tr(MCMC) */
	for (i = 0; i < nr; i++)
	{
		int64_t		e,
					f;
		double		tr = 0.0;

		for (j = i; j < nr; j++)
		{
			double		t2 = 0.0;

			for (e = sup->start[i]; e < sup->start[i + 1]; e++)
				for (f = sup->start[j]; f < sup->start[j + 1]; f++)
					t2 += a->Azz[(size_t) sup->c[e] * s + sup->r[f]] *
						a->Azz[(size_t) sup->c[f] * s + sup->r[e]];
			a->K[i * ng + j] += t2;
		}
		for (e = sup->start[i]; e < sup->start[i + 1]; e++)
		{
			int			r = sup->r[e],
						c = sup->c[e];
			double		amc = 0.0;

			for (x = 0; x < s; x++)
				amc += a->Azz[(size_t) x * s + c] * a->MC[(size_t) x * s + r];
			tr += a->Azz[(size_t) c * s + r] - amc;
		}
		a->K[i * ng + nr] += is2 * tr;
	}
	for (x = 0; x < s; x++)
	{
		a->trMC += a->MC[(size_t) x * s + x];
		for (y = 0; y < s; y++)
			a->trMCMC += a->MC[(size_t) x * s + y] * a->MC[(size_t) y * s + x];
	}
	return 1;
}

/* X'X about the origin (p x p) from the statistics' sums about their shift. */
static void
raw_xtx(const LmmTermStats *s, double *XX)
{
	int			p = s->p,
				n1 = p + 1,
				a,
				b;

	/* the statistics keep the upper triangle of their cross-products */
	for (a = 0; a < p; a++)
		for (b = 0; b < p; b++)
			XX[a * p + b] = s->cross[a <= b ? a * n1 + b : b * n1 + a] +
				s->shift[a] * s->sum[b] + s->sum[a] * s->shift[b] +
				s->n * s->shift[a] * s->shift[b];
}

/* Z'X of one level about the origin (q x p) from its record. */
static void
raw_zx(const LmmTermStats *s, const double *rec, int q, double *ZX)
{
	const double *sz = LMM_TREC_SZ(rec);
	const double *zx = LMM_TREC_ZX(rec, q);
	int			a,
				b,
				p = s->p;

	for (a = 0; a < q; a++)
		for (b = 0; b < p; b++)
			ZX[a * p + b] = zx[a * p + b] + sz[a] * s->shift[b];
}

/*
 * The dense Z'Z, Z'X and Lambda of a several-term model, coordinates term
 * by term (model order src), level by level, column by column.
 */
static void
dense_parts(const LmmTermStats *s, const int *src, const int64_t *off,
			double T[][LMM_MAX_RANDOM * LMM_MAX_RANDOM], int64_t nre,
			double *C, double *ZX, double *Lam)
{
	int			k = s->nterms,
				p = s->p;
	int			pos[LMM_MAX_TERMS];
	int			t,
				u,
				a,
				b;
	int64_t		j,
				blk;

	memset(C, 0, sizeof(double) * nre * nre);
	memset(Lam, 0, sizeof(double) * nre * nre);
	for (t = 0; t < k; t++)
		pos[src[t]] = t;
	for (t = 0; t < k; t++)
	{
		const LmmTermLevels *lv = &s->term[src[t]];
		int			q = lv->q;

		for (j = 0; j < lv->nlevels; j++)
		{
			const double *rec = lv->rec + (size_t) j * lv->stride;
			int64_t		base = off[t] + j * q;

			raw_zx(s, rec, q, ZX + base * p);
			for (a = 0; a < q; a++)
				for (b = 0; b < q; b++)
				{
					C[(base + a) * nre + base + b] = LMM_TREC_ZZ(rec, q)[a * q + b];
					Lam[(base + a) * nre + base + b] = T[t][a * q + b];
				}
		}
	}
	/* the pair blocks sum z_t z_u' of the statistics' terms t < u */
	for (t = 0; t < k; t++)
		for (u = t + 1; u < k; u++)
		{
			const LmmTermPair *pr = &s->pair[LMM_PAIR_INDEX(k, t, u)];
			int			qt = s->term[t].q,
						qu = s->term[u].q;

			for (blk = 0; blk < pr->npairs; blk++)
			{
				const double *m = pr->blk + (size_t) blk * pr->bsize;
				int64_t		rt = off[pos[t]] + pr->jt[blk] * qt;
				int64_t		ru = off[pos[u]] + pr->ju[blk] * qu;

				for (a = 0; a < qt; a++)
					for (b = 0; b < qu; b++)
						C[(rt + a) * nre + ru + b] = C[(ru + b) * nre + rt + a] = m[a * qu + b];
			}
		}
}

/* The symmetric inverse of the p x p positive-definite A in place; 0 if it is not. */
static int
spd_inverse(int p, double *A)
{
	int			a,
				b;

	if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', p, A, p) != 0 ||
		LAPACKE_dpotri(LAPACK_ROW_MAJOR, 'L', p, A, p) != 0)
		return 0;
	for (a = 0; a < p; a++)
		for (b = a + 1; b < p; b++)
			A[a * p + b] = A[b * p + a];
	return 1;
}

/*
 * From the sums, as pbkrtest's vcovAdj_internal: Phi, P_sigma and Q_sigma,
 * the REML information IE2_ij = tr(W G_i W G_j) - 2 tr(Phi Q_ij) +
 * tr(Phi P_i Phi P_j), W = 2 IE2^-1 (its generalized inverse when an
 * eigenvalue is within 1e-10 of zero), and Phi_A = Phi + 2 Phi U Phi with
 * U = sum_ij W_ij (Q_ij - P_i Phi P_j).
 */
static int
finish(Acc *a, const LmmTermStats *s, LmmKr *kr)
{
	int			p = a->p,
				ng = a->ng,
				nr = a->nr;
	size_t		pp = (size_t) p * p;
	double	   *AXX = lmm_alloc(sizeof(double) * pp);
	double	   *Phi = lmm_alloc(sizeof(double) * pp);
	double	   *FP = lmm_alloc(sizeof(double) * pp * ng);
	double	   *IE2 = lmm_alloc(sizeof(double) * ng * ng);
	double	   *ev = lmm_alloc(sizeof(double) * ng);
	double	   *UU = lmm_alloc0(sizeof(double) * pp);
	double	   *D = lmm_alloc(sizeof(double) * pp);
	double	   *W = lmm_alloc(sizeof(double) * ng * ng);
	double	   *V = lmm_alloc(sizeof(double) * ng * ng);
	double		is2 = a->is2,
				condi,
				big = 0.0;
	int			i,
				j,
				x,
				y,
				ok;

	raw_xtx(s, AXX);
	for (x = 0; x < (int) pp; x++)
	{
		AXX[x] = is2 * (AXX[x] - a->RR[x]);
		Phi[x] = AXX[x];
	}
	ok = spd_inverse(p, Phi);

	/* P_sigma = -(A_XX - S1)/sigma^2; Q_sigma,sigma = Qrr + A_XX/sigma^4; K_sigma,sigma */
	for (x = 0; x < (int) pp; x++)
	{
		a->P[nr * pp + x] = -is2 * (AXX[x] - a->S1[x]);
		a->Q[(size_t) (nr * ng + nr) * pp + x] = a->Qrr[x] + is2 * is2 * AXX[x];
	}
	a->K[nr * ng + nr] = is2 * is2 * (s->n - 2.0 * a->trMC + a->trMCMC);

	/* P_i symmetric (as pbkrtest's forceSymmetric), F_i = Phi P_i */
	for (i = 0; i < ng && ok; i++)
	{
		double	   *Pi = a->P + i * pp;

		for (x = 0; x < p; x++)
			for (y = x + 1; y < p; y++)
				Pi[x * p + y] = Pi[y * p + x] = 0.5 * (Pi[x * p + y] + Pi[y * p + x]);
		gemm(0, 0, p, p, p, 1.0, Phi, Pi, 0.0, FP + i * pp);
	}
	for (i = 0; i < ng && ok; i++)
		for (j = i; j < ng; j++)
		{
			const double *Q = a->Q + (size_t) (i * ng + j) * pp;
			double		v = a->K[i * ng + j];

			for (x = 0; x < (int) pp; x++)
				v -= 2.0 * Phi[x] * Q[x];
			for (x = 0; x < p; x++)
				for (y = 0; y < p; y++)
					v += FP[i * pp + x * p + y] * FP[j * pp + y * p + x];
			IE2[i * ng + j] = IE2[j * ng + i] = v;
		}

	/* W = 2 IE2^-1, or 2 ginv(IE2) (eigenvalues above sqrt(eps) of the largest) */
	if (ok)
	{
		memcpy(W, IE2, sizeof(double) * ng * ng);
		ok = LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', ng, W, ng, ev) == 0;
	}
	if (ok)
	{
		condi = INFINITY;
		for (x = 0; x < ng; x++)
		{
			condi = fmin(condi, fabs(ev[x]));
			big = fmax(big, fabs(ev[x]));
		}
		memcpy(V, W, sizeof(double) * ng * ng);
		for (i = 0; i < ng; i++)
			for (j = 0; j < ng; j++)
			{
				double		v = 0.0;

				for (x = 0; x < ng; x++)
					if (condi > KR_CONDI_TOL || fabs(ev[x]) > sqrt(DBL_EPSILON) * big)
						v += V[i * ng + x] * V[j * ng + x] / ev[x];
				W[i * ng + j] = 2.0 * v;
			}
	}

	/* U, then Phi_A */
	for (i = 0; i < ng && ok; i++)
		for (j = i; j < ng; j++)
		{
			const double *Q = a->Q + (size_t) (i * ng + j) * pp;
			double		w = W[i * ng + j];

			gemm(0, 0, p, p, p, 1.0, a->P + i * pp, FP + j * pp, 0.0, D);
			for (x = 0; x < p; x++)
				for (y = 0; y < p; y++)
				{
					double		v = w * (Q[x * p + y] - D[x * p + y]);

					UU[x * p + y] += v;
					if (j != i)
						UU[y * p + x] += v;
				}
		}
	if (ok)
	{
		kr->phi = Phi;
		kr->phia = lmm_alloc(sizeof(double) * pp);
		gemm(0, 0, p, p, p, 1.0, Phi, UU, 0.0, D);
		memcpy(kr->phia, Phi, sizeof(double) * pp);
		gemm(0, 0, p, p, p, 2.0, D, Phi, 1.0, kr->phia);
		kr->P = lmm_alloc(sizeof(double) * pp * ng);
		memcpy(kr->P, a->P, sizeof(double) * pp * ng);
		kr->W = W;
	}
	else
	{
		lmm_free(Phi);
		lmm_free(W);
	}
	lmm_free(AXX);
	lmm_free(FP);
	lmm_free(IE2);
	lmm_free(ev);
	lmm_free(UU);
	lmm_free(D);
	lmm_free(V);
	return ok;
}

/*
 * Kenward-Roger's ingredients for the REML fit (theta in the fit's order of
 * terms, lmm_terms_order; sigma) of the statistics s.  On LMM_KR_OK, kr
 * holds Phi, Phi_A, P and W (lmm_kr_free releases them).
 */
LmmKrStatus
lmm_kr(const LmmTermStats *s, const double *theta, double sigma, LmmKr *kr)
{
	int			p = s->p,
				k = s->nterms;
	int			src[LMM_MAX_TERMS],
				q[LMM_MAX_TERMS];
	int64_t		nlev[LMM_MAX_TERMS],
				off[LMM_MAX_TERMS],
				one = 1,
				zero = 0;
	double		T[LMM_MAX_TERMS][LMM_MAX_RANDOM * LMM_MAX_RANDOM];
	int			t,
				nr = 0,
				ok = 1;
	int64_t		nre = 0;
	Support		sup;
	Acc			a;

	memset(kr, 0, sizeof(*kr));
	lmm_terms_order(s, src);
	for (t = 0; t < k; t++)
	{
		q[t] = s->term[src[t]].q;
		nlev[t] = s->term[src[t]].nlevels;
		off[t] = nre;
		nre += nlev[t] * q[t];
		lmm_theta_to_T(q[t], theta + nr, T[t]);
		nr += q[t] * (q[t] + 1) / 2;
	}
	kr->p = p;
	kr->ngamma = nr + 1;
	kr->nre = nre;
	if (k > 1 && nre > LMM_KR_MAX_DENSE)
		return LMM_KR_TOO_MANY;
	if ((double) kr->ngamma * kr->ngamma * p * p > KR_MAX_Q)
		return LMM_KR_TOO_WIDE;

	if (k == 1)
	{
		const LmmTermLevels *lv = &s->term[0];
		double	   *ZX = lmm_alloc(sizeof(double) * q[0] * p);
		int			bs[LMM_MAX_RANDOM],
					bl[LMM_MAX_RANDOM];
		int64_t		j;

		for (t = 0; t < q[0]; t++)
		{
			bs[t] = 0;
			bl[t] = q[0];
		}
		build_support(1, q, &one, &zero, &sup);
		acc_init(&a, p, nr, sigma, q[0]);
		for (j = 0; j < lv->nlevels && ok == 1; j++)
		{
			const double *rec = lv->rec + (size_t) j * lv->stride;

			if ((j & 1023) == 1023 && lmm_interrupt_pending())
			{
				ok = -1;
				break;
			}
			raw_zx(s, rec, q[0], ZX);
			ok = add_block(&a, q[0], LMM_TREC_ZZ(rec, q[0]), ZX, T[0], bs, bl, &sup);
		}
		lmm_free(ZX);
	}
	else
	{
		double	   *C = lmm_alloc(sizeof(double) * nre * nre);
		double	   *ZX = lmm_alloc(sizeof(double) * nre * p);
		double	   *Lam = lmm_alloc(sizeof(double) * nre * nre);
		int		   *bs = lmm_alloc(sizeof(int) * nre);
		int		   *bl = lmm_alloc(sizeof(int) * nre);
		int64_t		r;

		/* each coordinate's block of Lambda: its term's level */
		for (t = 0; t < k; t++)
			for (r = 0; r < nlev[t] * q[t]; r++)
			{
				bs[off[t] + r] = (int) (off[t] + r - r % q[t]);
				bl[off[t] + r] = q[t];
			}
		build_support(k, q, nlev, off, &sup);
		acc_init(&a, p, nr, sigma, nre);
		dense_parts(s, src, off, T, nre, C, ZX, Lam);
		ok = lmm_interrupt_pending() ? -1 :
			add_block(&a, (int) nre, C, ZX, Lam, bs, bl, &sup);
		lmm_free(C);
		lmm_free(bs);
		lmm_free(bl);
		lmm_free(ZX);
		lmm_free(Lam);
	}
	if (ok == 1 && lmm_interrupt_pending())
		ok = -1;
	if (ok == 1)
		ok = finish(&a, s, kr);
	acc_free(&a);
	lmm_free(sup.start);
	lmm_free(sup.r);
	lmm_free(sup.c);
	return ok == 1 ? LMM_KR_OK : ok < 0 ? LMM_KR_INTERRUPTED : LMM_KR_DEGENERATE;
}

/* x / y, or 1 when both are within 1e-14 of zero (pbkrtest's .divZero). */
static double
div_zero(double x, double y)
{
	return fabs(x) < 1e-14 && fabs(y) < 1e-14 ? 1.0 : x / y;
}

/*
 * Kenward-Roger's denominator df of the nrow hypotheses L beta = 0 (L of
 * full row rank, row-major), as pbkrtest's Lb_ddf and .KR_adjust: with
 * Theta = L'(L Phi L')^-1 L and u_i = Theta Phi P_i Phi,
 * A1 = sum W_ij tr(u_i) tr(u_j), A2 = sum W_ij tr(u_i u_j), and from them
 * rho and df = 4 + (q + 2) / (q rho - 1).  *fscale is the F statistic's
 * scale, df (1 - A2/q) / (df - 2) (1 when df is within 0.01 of 2).  NaN
 * when L Phi L' is singular.
 */
double
lmm_kr_df(const LmmKr *kr, int nrow, const double *L, double *fscale)
{
	int			p = kr->p,
				ng = kr->ngamma;
	size_t		pp = (size_t) p * p;
	double	   *LP = lmm_alloc(sizeof(double) * nrow * p);
	double	   *LPL = lmm_alloc(sizeof(double) * nrow * nrow);
	double	   *X = lmm_alloc(sizeof(double) * nrow * p);
	double	   *TP = lmm_alloc(sizeof(double) * pp);
	double	   *tmp = lmm_alloc(sizeof(double) * pp);
	double	   *u = lmm_alloc(sizeof(double) * pp * ng);
	double	   *tr = lmm_alloc(sizeof(double) * ng);
	double		A1 = 0.0,
				A2 = 0.0,
				q = nrow,
				B,
				g,
				den,
				c1,
				c2,
				c3,
				V0,
				V1,
				V2,
				rho,
				df = NAN;
	int			i,
				j,
				x,
				y;

	*fscale = NAN;
	gemm(0, 0, nrow, p, p, 1.0, L, kr->phi, 0.0, LP);
	gemm(0, 1, nrow, nrow, p, 1.0, LP, L, 0.0, LPL);
	memcpy(X, L, sizeof(double) * nrow * p);
	if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', nrow, p, LPL, nrow, X, p) == 0)
	{
		/* Theta Phi = L'(L Phi L')^-1 (L Phi) */
		gemm(1, 0, p, p, nrow, 1.0, X, LP, 0.0, TP);
		for (i = 0; i < ng; i++)
		{
			gemm(0, 0, p, p, p, 1.0, TP, kr->P + i * pp, 0.0, tmp);
			gemm(0, 0, p, p, p, 1.0, tmp, kr->phi, 0.0, u + i * pp);
			tr[i] = 0.0;
			for (x = 0; x < p; x++)
				tr[i] += u[i * pp + x * p + x];
		}
		for (i = 0; i < ng; i++)
			for (j = 0; j < ng; j++)
			{
				double		t2 = 0.0;

				for (x = 0; x < p; x++)
					for (y = 0; y < p; y++)
						t2 += u[i * pp + x * p + y] * u[j * pp + y * p + x];
				A1 += kr->W[i * ng + j] * tr[i] * tr[j];
				A2 += kr->W[i * ng + j] * t2;
			}
		B = (A1 + 6.0 * A2) / (2.0 * q);
		g = ((q + 1.0) * A1 - (q + 4.0) * A2) / ((q + 2.0) * A2);
		den = 3.0 * q + 2.0 * (1.0 - g);
		c1 = g / den;
		c2 = (q - g) / den;
		c3 = (q + 2.0 - g) / den;
		V0 = 1.0 + c1 * B;
		V1 = 1.0 - c2 * B;
		V2 = 1.0 - c3 * B;
		if (fabs(V0) < 1e-10)
			V0 = 0.0;
		rho = 1.0 / q * pow(div_zero(1.0 - A2 / q, V1), 2) * V0 / V2;
		df = 4.0 + (q + 2.0) / (q * rho - 1.0);
		*fscale = fabs(df - 2.0) < 0.01 ? 1.0 : df * (1.0 - A2 / q) / (df - 2.0);
	}
	lmm_free(LP);
	lmm_free(LPL);
	lmm_free(X);
	lmm_free(TP);
	lmm_free(tmp);
	lmm_free(u);
	lmm_free(tr);
	return df;
}

/*
 * Kenward-Roger's F test of L beta = 0 (nrow hypotheses, row-major), as
 * pbkrtest's KRmodcomp: on the rows P'L of lmm_contrast_ftest's basis (the
 * eigenvectors of L Phi L' above sqrt(eps) of the largest eigenvalue, so
 * that rows repeating others count once), *fu = (L beta)'(L Phi_A L')^-1
 * (L beta) / q, the unscaled F; *fscale its scale and *ddf the df
 * (lmm_kr_df).  Returns q, the numerator df (0 when L Phi L' is 0).
 */
int
lmm_kr_ftest(const LmmKr *kr, const double *beta, int nrow, const double *L,
			 double *fu, double *fscale, double *ddf)
{
	int			p = kr->p;
	double	   *Ls = lmm_alloc(sizeof(double) * (size_t) nrow * p);
	double	   *VL = lmm_alloc(sizeof(double) * (size_t) nrow * p);
	double	   *A = lmm_alloc(sizeof(double) * (size_t) nrow * nrow);
	double	   *d = lmm_alloc(sizeof(double) * nrow);
	double	   *PtL = lmm_alloc(sizeof(double) * (size_t) nrow * p);
	double	   *lb = lmm_alloc(sizeof(double) * nrow);
	int			q = 0,
				r,
				m,
				b;

	*fu = *fscale = *ddf = NAN;
	/* rows scaled by their largest entry (a change of basis only), then A = L Phi L' */
	lmm_scale_rows(nrow, p, L, Ls);
	gemm(0, 0, nrow, p, p, 1.0, Ls, kr->phi, 0.0, VL);
	gemm(0, 1, nrow, nrow, p, 1.0, VL, Ls, 0.0, A);
	if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'U', nrow, A, nrow, d) == 0 &&
		d[nrow - 1] > 0.0)
	{
		double		tol = sqrt(DBL_EPSILON) * d[nrow - 1];

		for (m = nrow - 1; m >= 0 && d[m] > tol; m--, q++)
			for (b = 0; b < p; b++)
			{
				double		v = 0.0;

				for (r = 0; r < nrow; r++)
					v += A[r * nrow + m] * Ls[(size_t) r * p + b];
				PtL[(size_t) q * p + b] = v;
			}
	}
	if (q > 0)
	{
		*ddf = lmm_kr_df(kr, q, PtL, fscale);
		/* the Wald statistic on Phi_A */
		gemm(0, 0, q, p, p, 1.0, PtL, kr->phia, 0.0, VL);
		gemm(0, 1, q, q, p, 1.0, VL, PtL, 0.0, A);
		gemm(0, 0, q, 1, p, 1.0, PtL, beta, 0.0, lb);
		memcpy(d, lb, sizeof(double) * q);
		if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', q, 1, A, q, d, 1) == 0)
		{
			double		w = 0.0;

			for (r = 0; r < q; r++)
				w += lb[r] * d[r];
			*fu = w / q;
		}
	}
	lmm_free(Ls);
	lmm_free(VL);
	lmm_free(A);
	lmm_free(d);
	lmm_free(PtL);
	lmm_free(lb);
	return q;
}

/* Release what lmm_kr allocated. */
void
lmm_kr_free(LmmKr *kr)
{
	lmm_free(kr->phi);
	lmm_free(kr->phia);
	lmm_free(kr->P);
	lmm_free(kr->W);
	memset(kr, 0, sizeof(*kr));
}
