/*
 * lmm_boot.c
 *	  Parametric bootstrap from the statistics (lmm_boot.h).
 *
 * A replicate's response y* = X beta + Z b* + e, b* ~ N(0, sigma^2 Lambda
 * Lambda'), e ~ N(0, sigma^2 I), enters the statistics only through
 * A'(y* - c_y) and |y* - c_y|^2, A = [Z X1], X1 = [X - 1 c_x', 1].  With
 * gamma = (b*, beta, c_x'beta - c_y), y* - c_y = A gamma + e, so
 *	 A'(y* - c_y) = G gamma + w,		|y* - c_y|^2 = gamma'G gamma + 2 gamma'w + e'e
 * with G = A'A and w = A'e ~ N(0, sigma^2 G).  Writing G = F F' (F of
 * rank r), w = sigma F xi with xi ~ N(0, I_r), and e'e - |xi|^2 sigma^2 is
 * sigma^2 chi^2(n - r), independent of w (docs/math.md derives it).  So a
 * replicate costs the nonzeros of G and r + 1 random numbers, never a row.
 *
 * G is factored once per model, blocked as the fit blocks Z: the term with
 * most levels (b0) level by level, G_jj = F_j F_j' by a pivoted Cholesky
 * that reveals each level's rank (a level with one row and a random slope
 * has rank 1); R_j = F_j^+ G_j,D on the rest of the columns (the dense
 * part D: the other terms' levels, then X1); and the dense part's Schur
 * complement S = G_DD - sum R_j'R_j = F_S F_S', as dense as the fit's own.
 * Ranks are judged relative to G's diagonal (LAPACK's dpstrf on the matrix
 * scaled to unit diagonal, tolerance 1e-10).
 *
 * Only lmm_boot_simulate writes statistics (and lmm_boot_plan reads the
 * design): they are where the statistics' record layout is known.
 */
#include "lmm_boot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_dist.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_infer.h"

/* Pivots at or below this fraction of a column's own square sum count as dependent. */
#define RANK_TOL 1e-10

/* Most replicate values lmm_boot_run keeps (nsim x parameters). */
#define MAX_VALUES ((int64_t) 1 << 25)

/* A 64-bit rotation, for xoshiro256**. */
static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Seed the generator from one number through splitmix64, as xoshiro's authors advise. */
void
lmm_rng_seed(LmmRng *r, uint64_t seed)
{
	int			i;

	for (i = 0; i < 4; i++)
	{
		uint64_t	z = (seed += 0x9E3779B97F4A7C15ULL);

		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
		r->s[i] = z ^ (z >> 31);
	}
	r->has_spare = 0;
	r->spare = 0.0;
}

/* The next 64 random bits (xoshiro256**, Blackman and Vigna). */
uint64_t
lmm_rng_next(LmmRng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* A uniform number in (0, 1), never 0 or 1: 53 random bits and a half. */
double
lmm_rng_uniform(LmmRng *r)
{
	return ((double) (lmm_rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* A standard normal number (Marsaglia's polar method; the pair's second is kept). */
double
lmm_rng_normal(LmmRng *r)
{
	double		u,
				v,
				s;

	if (r->has_spare)
	{
		r->has_spare = 0;
		return r->spare;
	}
	do
	{
		u = 2.0 * lmm_rng_uniform(r) - 1.0;
		v = 2.0 * lmm_rng_uniform(r) - 1.0;
		s = u * u + v * v;
	} while (s >= 1.0 || s == 0.0);
	s = sqrt(-2.0 * log(s) / s);
	r->spare = v * s;
	r->has_spare = 1;
	return u * s;
}

/* A Gamma(a, 1) number, a > 0 (Marsaglia and Tsang; a < 1 through Gamma(a + 1) U^(1/a)). */
static double
rng_gamma(LmmRng *r, double a)
{
	double		d,
				c;

	if (a < 1.0)
		return rng_gamma(r, a + 1.0) * pow(lmm_rng_uniform(r), 1.0 / a);
	d = a - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;)
	{
		double		x = lmm_rng_normal(r);
		double		v = 1.0 + c * x;
		double		u;

		if (v <= 0.0)
			continue;
		v = v * v * v;
		u = lmm_rng_uniform(r);
		if (u < 1.0 - 0.0331 * x * x * x * x ||
			log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

/* A chi-square number on df >= 0 degrees of freedom (0 for df 0). */
double
lmm_rng_chisq(LmmRng *r, double df)
{
	return df > 0.0 ? 2.0 * rng_gamma(r, df / 2.0) : 0.0;
}

/*
 * A rank-revealing factor of the symmetric positive semidefinite m x m A
 * (column-major; its lower triangle is read and overwritten): with
 * s = sqrt(ref), A = diag(s) P L L' P' diag(s) with L m x rank lower
 * trapezoidal in pivoted order (column-major in A), piv[k] the column at
 * pivoted position k.  A column whose ref is not positive is zero.  So
 * F = diag(s) P L: row piv[k] of F is scale[piv[k]] L[k, 0..rank).
 */
static void
psd_factor(int m, double *A, const double *ref, int *piv, double *scale,
		   int *rank)
{
	lapack_int *lpiv = lmm_alloc(sizeof(lapack_int) * (m > 0 ? m : 1));
	lapack_int	lrank = 0;
	lapack_int	info;
	int			i,
				c;

	for (i = 0; i < m; i++)
		scale[i] = (ref[i] > 0.0 && isfinite(ref[i])) ? sqrt(ref[i]) : 0.0;
	for (c = 0; c < m; c++)
		for (i = c; i < m; i++)
			A[(size_t) c * m + i] = (scale[i] > 0.0 && scale[c] > 0.0) ?
				A[(size_t) c * m + i] / (scale[i] * scale[c]) : 0.0;
	info = m > 0 ? LAPACKE_dpstrf(LAPACK_COL_MAJOR, 'L', m, A, m, lpiv, &lrank, RANK_TOL) : 0;
	*rank = info < 0 ? 0 : (int) lrank;
	for (i = 0; i < m; i++)
		piv[i] = info < 0 ? i : (int) lpiv[i] - 1;
	lmm_free(lpiv);
}

/* v = L[:, 0..rank) xi in pivoted order, scattered as w[piv[k]] += f scale[piv[k]] v_k. */
static void
factor_times(int m, const double *L, const int *piv, const double *scale,
			 int rank, const double *xi, double f, double *w)
{
	int			k,
				c;

	for (k = 0; k < m; k++)
	{
		double		v = 0.0;
		int			last = k < rank ? k : rank - 1;

		for (c = 0; c <= last; c++)
			v += L[(size_t) c * m + k] * xi[c];
		w[piv[k]] += f * scale[piv[k]] * v;
	}
}

/* Nonzero when every number of the statistics is finite. */
static int
stats_finite(const LmmTermStats *s)
{
	int			p = s->p,
				t,
				i;
	int64_t		j;

	if (!isfinite(s->n))
		return 0;
	for (i = 0; i <= p; i++)
		if (!isfinite(s->shift[i]) || !isfinite(s->sum[i]))
			return 0;
	for (i = 0; i < (p + 1) * (p + 1); i++)
		if (!isfinite(s->cross[i]))
			return 0;
	for (t = 0; t < s->nterms; t++)
		for (j = 0; j < s->term[t].nlevels * s->term[t].stride; j++)
			if (!isfinite(s->term[t].rec[j]))
				return 0;
	for (t = 0; t < s->nterms * (s->nterms - 1) / 2; t++)
		for (j = 0; j < s->pair[t].npairs * s->pair[t].bsize; j++)
			if (!isfinite(s->pair[t].blk[j]))
				return 0;
	return 1;
}

/* The dense column of term t's level l, column a (t not the block term). */
static int64_t
dense_col(const LmmBootPlan *pl, const LmmTermStats *s, int t, int64_t l, int a)
{
	return pl->off[t] + l * s->term[t].q + a - (pl->N - pl->m);
}

/*
 * The block term's cross-products with the dense part, level by level (the
 * CSR rptr/rcol/rval, q0 rows of values per level): every pair block of a
 * level with another term's level, then its z x' and sum z.
 */
static void
collect_cross(LmmBootPlan *pl, const LmmTermStats *s)
{
	int			b0 = pl->b0,
				p = pl->p,
				k = s->nterms,
				q0 = s->term[b0].q,
				t,
				a,
				c;
	const LmmTermLevels *lv0 = &s->term[b0];
	int64_t		J0 = lv0->nlevels,
				j,
				e;
	int64_t    *fill = lmm_alloc0(sizeof(int64_t) * (size_t) (J0 + 1));
	int64_t		xd = pl->xo - (pl->N - pl->m);

	pl->rptr = lmm_alloc0(sizeof(int64_t) * (size_t) (J0 + 1));
	/* count each level's columns */
	for (t = 0; t < k * (k - 1) / 2; t++)
	{
		const LmmTermPair *pr = &s->pair[t];

		if (pr->t != b0 && pr->u != b0)
			continue;
		for (e = 0; e < pr->npairs; e++)
			pl->rptr[(pr->t == b0 ? pr->jt[e] : pr->ju[e]) + 1] +=
				s->term[pr->t == b0 ? pr->u : pr->t].q;
	}
	for (j = 0; j < J0; j++)
		pl->rptr[j + 1] += pl->rptr[j] + p + 1;
	pl->rcol = lmm_alloc(sizeof(int64_t) * (size_t) (pl->rptr[J0] + 1));
	pl->rvoff = lmm_alloc(sizeof(int64_t) * (size_t) (J0 + 1));
	for (j = 0; j < J0; j++)
		pl->rvoff[j] = pl->rptr[j] * q0;
	pl->rval = lmm_alloc0(sizeof(double) * (size_t) (pl->rptr[J0] * q0 + 1));

	/* fill: values q0 rows by the level's ncols columns, row-major */
	for (t = 0; t < k * (k - 1) / 2; t++)
	{
		const LmmTermPair *pr = &s->pair[t];
		int			first = pr->t == b0;
		int			o = first ? pr->u : pr->t;
		int			qo = s->term[o].q;

		if (pr->t != b0 && pr->u != b0)
			continue;
		for (e = 0; e < pr->npairs; e++)
		{
			const double *blk = pr->blk + (size_t) e * pr->bsize;
			int64_t		lj = first ? pr->jt[e] : pr->ju[e];
			int64_t		lo = first ? pr->ju[e] : pr->jt[e];
			int64_t		nc = pl->rptr[lj + 1] - pl->rptr[lj];
			int64_t		at = fill[lj];

			for (c = 0; c < qo; c++)
			{
				pl->rcol[pl->rptr[lj] + at + c] = dense_col(pl, s, o, lo, c);
				for (a = 0; a < q0; a++)
					pl->rval[pl->rvoff[lj] + a * nc + at + c] =
						first ? blk[a * qo + c] : blk[c * q0 + a];
			}
			fill[lj] += qo;
		}
	}
	for (j = 0; j < J0; j++)
	{
		const double *rec = lv0->rec + (size_t) j * lv0->stride;
		int64_t		nc = pl->rptr[j + 1] - pl->rptr[j];
		int64_t		at = fill[j];

		for (c = 0; c <= p; c++)
		{
			pl->rcol[pl->rptr[j] + at + c] = xd + c;
			for (a = 0; a < q0; a++)
				pl->rval[pl->rvoff[j] + a * nc + at + c] =
					c < p ? LMM_TREC_ZX(rec, q0)[a * p + c] : LMM_TREC_SZ(rec)[a];
		}
	}
	lmm_free(fill);
}

/*
 * Each block-term level's factor F_j of Z_j'Z_j, and R_j = F_j^+ G_j,D in
 * place of G_j,D (its first rank_j rows): forward substitution on F_j's
 * pivoted leading rows, which G_j,D lies in the range of.
 */
static int
factor_levels(LmmBootPlan *pl, const LmmTermStats *s)
{
	const LmmTermLevels *lv0 = &s->term[pl->b0];
	int			q = lv0->q;
	int64_t		J0 = lv0->nlevels,
				j;
	double		ref[LMM_MAX_RANDOM];
	double	   *tmp = NULL;
	int64_t		tmpsize = 0;

	pl->rank0 = lmm_alloc(sizeof(int) * (size_t) J0);
	pl->L0 = lmm_alloc(sizeof(double) * (size_t) (J0 * q * q));
	pl->piv0 = lmm_alloc(sizeof(int) * (size_t) (J0 * q));
	pl->scale0 = lmm_alloc(sizeof(double) * (size_t) (J0 * q));
	for (j = 0; j < J0; j++)
	{
		const double *rec = lv0->rec + (size_t) j * lv0->stride;
		double	   *L = pl->L0 + j * q * q;
		int		   *piv = pl->piv0 + j * q;
		double	   *scale = pl->scale0 + j * q;
		int64_t		nc = pl->rptr[j + 1] - pl->rptr[j];
		double	   *B = pl->rval + pl->rvoff[j];
		int			a,
					c,
					r;
		int64_t		e;

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
		{
			lmm_free(tmp);
			return 0;
		}
		memcpy(L, LMM_TREC_ZZ(rec, q), sizeof(double) * q * q);
		for (a = 0; a < q; a++)
			ref[a] = L[a * q + a];
		psd_factor(q, L, ref, piv, scale, &pl->rank0[j]);
		r = pl->rank0[j];
		if (nc * q > tmpsize)
		{
			lmm_free(tmp);
			tmpsize = nc * q;
			tmp = lmm_alloc(sizeof(double) * (size_t) tmpsize);
		}
		memcpy(tmp, B, sizeof(double) * (size_t) (nc * q));
		memset(B, 0, sizeof(double) * (size_t) (nc * q));
		for (a = 0; a < r; a++)
		{
			double		sa = scale[piv[a]];
			double		d = L[a * q + a];

			for (e = 0; e < nc; e++)
			{
				double		x = tmp[piv[a] * nc + e] / sa;

				for (c = 0; c < a; c++)
					x -= L[c * q + a] * B[c * nc + e];
				B[a * nc + e] = x / d;
			}
		}
	}
	lmm_free(tmp);
	return 1;
}

/*
 * The dense part's Gram (the other terms' levels, x about the shift, ones),
 * less sum R_j'R_j, in pl->LS (column-major, lower triangle), and its
 * diagonal before the subtraction in ref.
 */
static int
schur_dense(LmmBootPlan *pl, const LmmTermStats *s, double *ref)
{
	int64_t		m = pl->m,
				d0 = pl->N - pl->m,
				xd = pl->xo - d0,
				od = xd + pl->p,
				j,
				l,
				e,
				f;
	int			p = pl->p,
				k = s->nterms,
				t,
				a,
				b;
	double	   *S = pl->LS;
	const LmmTermLevels *lv0 = &s->term[pl->b0];

#define SL(i, c) S[(size_t) ((i) > (c) ? (c) : (i)) * m + ((i) > (c) ? (i) : (c))]
	for (t = 0; t < k; t++)
	{
		const LmmTermLevels *lv = &s->term[t];
		int			q = lv->q;

		if (t == pl->b0)
			continue;
		for (l = 0; l < lv->nlevels; l++)
		{
			const double *rec = lv->rec + (size_t) l * lv->stride;
			int64_t		base = dense_col(pl, s, t, l, 0);

			for (a = 0; a < q; a++)
			{
				for (b = 0; b <= a; b++)
					SL(base + a, base + b) = LMM_TREC_ZZ(rec, q)[a * q + b];
				for (b = 0; b < p; b++)
					SL(base + a, xd + b) = LMM_TREC_ZX(rec, q)[a * p + b];
				SL(base + a, od) = LMM_TREC_SZ(rec)[a];
			}
		}
	}
	for (t = 0; t < k * (k - 1) / 2; t++)
	{
		const LmmTermPair *pr = &s->pair[t];
		int			qt = s->term[pr->t].q,
					qu = s->term[pr->u].q;

		if (pr->t == pl->b0 || pr->u == pl->b0)
			continue;
		for (e = 0; e < pr->npairs; e++)
		{
			int64_t		bt = dense_col(pl, s, pr->t, pr->jt[e], 0);
			int64_t		bu = dense_col(pl, s, pr->u, pr->ju[e], 0);

			for (a = 0; a < qt; a++)
				for (b = 0; b < qu; b++)
					SL(bt + a, bu + b) = pr->blk[(size_t) e * pr->bsize + a * qu + b];
		}
	}
	for (a = 0; a < p; a++)
	{
		for (b = a; b < p; b++)
			SL(xd + a, xd + b) = s->cross[a * (p + 1) + b];
		SL(xd + a, od) = s->sum[a];
	}
	SL(od, od) = s->n;
	for (j = 0; j < m; j++)
		ref[j] = S[(size_t) j * m + j];

	for (j = 0; j < lv0->nlevels; j++)
	{
		int64_t		nc = pl->rptr[j + 1] - pl->rptr[j];
		const int64_t *col = pl->rcol + pl->rptr[j];
		const double *R = pl->rval + pl->rvoff[j];
		int			r = pl->rank0[j];

		if (j % LMM_INTERRUPT_EVERY == 0 && lmm_interrupt_pending())
			return 0;
		for (e = 0; e < nc; e++)
			for (f = 0; f <= e; f++)
			{
				double		x = 0.0;

				for (a = 0; a < r; a++)
					x += R[a * nc + e] * R[a * nc + f];
				SL(col[e], col[f]) -= x;
			}
	}
#undef SL
	return 1;
}

/*
 * Plan the bootstrap of the model fitted to s with theta (lme4's term
 * order, the fit's), beta (user's coordinates) and sigma: the generating
 * parameters and G's factor.  LMM_ERR_NONFINITE for statistics that are
 * not finite, LMM_ERR_TOO_MANY_LEVELS when the dense part would exceed the
 * host's memory limit (lmm_factor_memory_limit), LMM_ERR_INCONSISTENT when G's rank exceeds the rows,
 * LMM_ERR_INTERRUPTED on the host's request.  On LMM_OK the caller frees
 * the plan (lmm_boot_plan_free); on an error nothing is left allocated.
 */
LmmStatus
lmm_boot_plan(const LmmTermStats *s, const double *theta, const double *beta,
			  double sigma, LmmBootPlan *pl)
{
	int			src[LMM_MAX_TERMS];
	int			p = s->p,
				k = s->nterms,
				t,
				i,
				rank;
	int64_t		col = 0,
				j;
	const double *th = theta;
	double	   *ref;
	double		a = -s->shift[p];

	memset(pl, 0, sizeof(LmmBootPlan));
	if (k < 1 || !(s->n > 0.0) || !stats_finite(s) || !isfinite(sigma) || sigma < 0.0)
		return LMM_ERR_NONFINITE;
	lmm_terms_order(s, src);
	pl->p = p;
	pl->k = k;
	pl->b0 = src[0];
	pl->sigma = sigma;
	pl->order[0] = src[0];
	for (t = 0, i = 1; t < k; t++)
		if (t != src[0])
			pl->order[i++] = t;
	for (i = 0; i < k; i++)
	{
		t = pl->order[i];
		pl->off[t] = col;
		col += s->term[t].nlevels * s->term[t].q;
	}
	pl->xo = col;
	pl->N = col + p + 1;
	pl->m = pl->N - s->term[pl->b0].nlevels * s->term[pl->b0].q;
	if (8.0 * (double) pl->m * (double) pl->m > lmm_factor_memory_limit())
		return LMM_ERR_TOO_MANY_LEVELS;

	/* the generating parameters, theta in the fit's order */
	for (i = 0; i < k; i++)
	{
		int			q = s->term[src[i]].q;

		pl->T[src[i]] = lmm_alloc(sizeof(double) * q * q);
		lmm_theta_to_T(q, th, pl->T[src[i]]);
		th += LMM_NTHETA(q);
	}
	pl->gamma = lmm_alloc0(sizeof(double) * (size_t) pl->N);
	for (i = 0; i < p; i++)
	{
		pl->gamma[pl->xo + i] = beta[i];
		a += s->shift[i] * beta[i];
	}
	pl->gamma[pl->xo + p] = a;
	for (j = 0; j < pl->N; j++)
		if (!isfinite(pl->gamma[j]))
		{
			lmm_boot_plan_free(pl);
			return LMM_ERR_NONFINITE;
		}

	collect_cross(pl, s);
	pl->LS = lmm_alloc0(sizeof(double) * (size_t) pl->m * (size_t) pl->m);
	pl->pivS = lmm_alloc(sizeof(int) * (size_t) pl->m);
	pl->scaleS = lmm_alloc(sizeof(double) * (size_t) pl->m);
	ref = lmm_alloc(sizeof(double) * (size_t) pl->m);
	if (!factor_levels(pl, s) || !schur_dense(pl, s, ref))
	{
		lmm_free(ref);
		lmm_boot_plan_free(pl);
		return LMM_ERR_INTERRUPTED;
	}
	psd_factor((int) pl->m, pl->LS, ref, pl->pivS, pl->scaleS, &pl->rankS);
	lmm_free(ref);
	rank = pl->rankS;
	for (j = 0; j < s->term[pl->b0].nlevels; j++)
		rank += pl->rank0[j];
	pl->chi_df = s->n - rank;
	pl->g = lmm_alloc(sizeof(double) * (size_t) pl->N);
	pl->w = lmm_alloc(sizeof(double) * (size_t) pl->N);
	pl->v = lmm_alloc(sizeof(double) * (size_t) (pl->m + LMM_MAX_RANDOM));
	if (pl->chi_df < 0.0)
	{
		lmm_boot_plan_free(pl);
		return LMM_ERR_INCONSISTENT;
	}
	return LMM_OK;
}

/* Release a plan. */
void
lmm_boot_plan_free(LmmBootPlan *pl)
{
	int			t;

	for (t = 0; t < LMM_MAX_TERMS; t++)
		lmm_free(pl->T[t]);
	lmm_free(pl->gamma);
	lmm_free(pl->rank0);
	lmm_free(pl->L0);
	lmm_free(pl->piv0);
	lmm_free(pl->scale0);
	lmm_free(pl->rptr);
	lmm_free(pl->rcol);
	lmm_free(pl->rvoff);
	lmm_free(pl->rval);
	lmm_free(pl->LS);
	lmm_free(pl->pivS);
	lmm_free(pl->scaleS);
	lmm_free(pl->g);
	lmm_free(pl->w);
	lmm_free(pl->v);
	memset(pl, 0, sizeof(LmmBootPlan));
}

/*
 * Draw one replicate's response as statistics: out (a copy of s, as
 * lmm_boot_stats_copy makes it) gets the y parts of a fresh y* -- every
 * level's sum z (y - c_y), the overall sum (y - c_y), sum (x - c)(y - c_y)
 * and sum (y - c_y)^2 -- and keeps s's design.  The one place that writes
 * the statistics' y entries.
 */
void
lmm_boot_simulate(LmmBootPlan *pl, const LmmTermStats *s, LmmRng *rng,
				  LmmTermStats *out)
{
	int			p = pl->p,
				k = s->nterms,
				t,
				a,
				b;
	int64_t		N = pl->N,
				xo = pl->xo,
				d0 = pl->N - pl->m,
				l,
				e;
	double	   *gam = pl->gamma,
			   *g = pl->g,
			   *w = pl->w,
			   *xi = pl->v;
	double		sigma = pl->sigma,
				ss = 0.0,
				yy = 0.0;
	const LmmTermLevels *lv0 = &s->term[pl->b0];
	int			q0 = lv0->q;

	/* b* = sigma T u per level */
	for (t = 0; t < k; t++)
	{
		const LmmTermLevels *lv = &s->term[t];
		int			q = lv->q;
		const double *T = pl->T[t];

		for (l = 0; l < lv->nlevels; l++)
		{
			double		u[LMM_MAX_RANDOM];
			double	   *bt = gam + pl->off[t] + l * q;

			for (a = 0; a < q; a++)
				u[a] = lmm_rng_normal(rng);
			for (a = 0; a < q; a++)
			{
				double		x = 0.0;

				for (b = 0; b <= a; b++)
					x += T[a * q + b] * u[b];
				bt[a] = sigma * x;
			}
		}
	}

	/* g = G gamma, from the design's cross-products */
	memset(g, 0, sizeof(double) * (size_t) N);
	for (t = 0; t < k; t++)
	{
		const LmmTermLevels *lv = &s->term[t];
		int			q = lv->q;

		for (l = 0; l < lv->nlevels; l++)
		{
			const double *rec = lv->rec + (size_t) l * lv->stride;
			int64_t		base = pl->off[t] + l * q;

			for (a = 0; a < q; a++)
			{
				double		x = LMM_TREC_SZ(rec)[a] * gam[xo + p];
				const double *zx = LMM_TREC_ZX(rec, q) + a * p;

				for (b = 0; b < q; b++)
					x += LMM_TREC_ZZ(rec, q)[a * q + b] * gam[base + b];
				for (b = 0; b < p; b++)
				{
					x += zx[b] * gam[xo + b];
					g[xo + b] += zx[b] * gam[base + a];
				}
				g[xo + p] += LMM_TREC_SZ(rec)[a] * gam[base + a];
				g[base + a] += x;
			}
		}
	}
	for (t = 0; t < k * (k - 1) / 2; t++)
	{
		const LmmTermPair *pr = &s->pair[t];
		int			qt = s->term[pr->t].q,
					qu = s->term[pr->u].q;

		for (e = 0; e < pr->npairs; e++)
		{
			const double *blk = pr->blk + (size_t) e * pr->bsize;
			int64_t		bt = pl->off[pr->t] + pr->jt[e] * qt;
			int64_t		bu = pl->off[pr->u] + pr->ju[e] * qu;

			for (a = 0; a < qt; a++)
				for (b = 0; b < qu; b++)
				{
					g[bt + a] += blk[a * qu + b] * gam[bu + b];
					g[bu + b] += blk[a * qu + b] * gam[bt + a];
				}
		}
	}
	for (a = 0; a < p; a++)
	{
		for (b = 0; b < p; b++)
			g[xo + a] += s->cross[a < b ? a * (p + 1) + b : b * (p + 1) + a] * gam[xo + b];
		g[xo + a] += s->sum[a] * gam[xo + p];
		g[xo + p] += s->sum[a] * gam[xo + a];
	}
	g[xo + p] += s->n * gam[xo + p];

	/* w = A'e = sigma F xi: the block term level by level, then the dense part */
	memset(w, 0, sizeof(double) * (size_t) N);
	for (l = 0; l < lv0->nlevels; l++)
	{
		int			r = pl->rank0[l];
		int64_t		nc = pl->rptr[l + 1] - pl->rptr[l];
		const double *R = pl->rval + pl->rvoff[l];
		const int64_t *col = pl->rcol + pl->rptr[l];

		for (a = 0; a < r; a++)
		{
			xi[a] = lmm_rng_normal(rng);
			ss += xi[a] * xi[a];
		}
		factor_times(q0, pl->L0 + l * q0 * q0, pl->piv0 + l * q0, pl->scale0 + l * q0,
					 r, xi, sigma, w + l * q0);
		for (e = 0; e < nc; e++)
		{
			double		x = 0.0;

			for (a = 0; a < r; a++)
				x += R[a * nc + e] * xi[a];
			w[d0 + col[e]] += sigma * x;
		}
	}
	for (a = 0; a < pl->rankS; a++)
	{
		xi[a] = lmm_rng_normal(rng);
		ss += xi[a] * xi[a];
	}
	factor_times((int) pl->m, pl->LS, pl->pivS, pl->scaleS, pl->rankS, xi, sigma, w + d0);

	/* the response's statistics: A'(y - c_y) = g + w, |y - c_y|^2 */
	for (e = 0; e < N; e++)
		yy += gam[e] * (g[e] + 2.0 * w[e]);
	yy += sigma * sigma * (ss + lmm_rng_chisq(rng, pl->chi_df));
	for (t = 0; t < k; t++)
	{
		LmmTermLevels *lv = &out->term[t];
		int			q = lv->q;

		for (l = 0; l < lv->nlevels; l++)
		{
			double	   *zy = LMM_TREC_ZY(lv->rec + (size_t) l * lv->stride, q, p);
			int64_t		base = pl->off[t] + l * q;

			for (a = 0; a < q; a++)
				zy[a] = g[base + a] + w[base + a];
		}
	}
	for (a = 0; a < p; a++)
		out->cross[a * (p + 1) + p] = g[xo + a] + w[xo + a];
	out->sum[p] = g[xo + p] + w[xo + p];
	out->cross[p * (p + 1) + p] = yy;
}

/* A copy of s with the same levels and pairs in the same places (a merge into empty statistics). */
void
lmm_boot_stats_copy(const LmmTermStats *s, LmmTermStats *copy)
{
	int			q[LMM_MAX_TERMS];
	int64_t    *map[LMM_MAX_TERMS];
	int			t;
	int64_t		j;

	for (t = 0; t < s->nterms; t++)
		q[t] = s->term[t].q;
	lmm_terms_init(copy, s->p, s->nterms, q);
	for (t = 0; t < s->nterms; t++)
	{
		map[t] = lmm_alloc(sizeof(int64_t) * (size_t) (s->term[t].nlevels + 1));
		for (j = 0; j < s->term[t].nlevels; j++)
			map[t][j] = lmm_terms_add_level(copy, t);
	}
	lmm_terms_merge(copy, s, (int64_t *const *) map);
	for (t = 0; t < s->nterms; t++)
		lmm_free(map[t]);
}

/* qsort's order of doubles. */
static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * The percentile interval of the n values t (sorted here) at the level, as
 * the boot package's boot.ci(type = "perc") forms it (norm.inter): the
 * order statistic at (n + 1) alpha, interpolated between neighbours on the
 * normal quantile scale, the extreme ones beyond them.
 */
void
lmm_percentile_interval(double *t, int n, double level, double *lower,
						double *upper)
{
	double		alpha[2];
	double	   *out[2] = {lower, upper};
	int			i;

	qsort(t, n, sizeof(double), cmp_double);
	alpha[0] = (1.0 + -level) / 2.0;
	alpha[1] = (1.0 + level) / 2.0;
	for (i = 0; i < 2; i++)
	{
		double		rk = (n + 1) * alpha[i];
		double		kd = trunc(rk);
		long		k = (long) kd;

		if (k <= 0)
			*out[i] = t[0];
		else if (k >= n)
			*out[i] = t[n - 1];
		else if (kd == rk)
			*out[i] = t[k - 1];
		else
		{
			double		z = lmm_qnorm(alpha[i]),
						z1 = lmm_qnorm(kd / (n + 1)),
						z2 = lmm_qnorm((kd + 1.0) / (n + 1));

			*out[i] = t[k - 1] + (z - z1) / (z2 - z1) * (t[k] - t[k - 1]);
		}
	}
}

/* The parameters of a fit in lme4's order: every term's sd/cor, sigma, the fixed effects. */
static int
fit_parameters(int nterms, const int *q, const double *theta, double sigma,
			   int p, const double *beta, double *par)
{
	double		sdcor[LMM_MAX_INF];
	int			t,
				i,
				k = 0;

	for (t = 0; t < nterms; t++)
	{
		lmm_theta_to_sdcor(q[t], theta, sigma, sdcor);
		memcpy(par + k, sdcor, sizeof(double) * LMM_NTHETA(q[t]));
		theta += LMM_NTHETA(q[t]);
		k += LMM_NTHETA(q[t]);
	}
	par[k++] = sigma;
	memcpy(par + k, beta, sizeof(double) * p);
	k += p;
	for (i = 0; i < k; i++)
		if (!isfinite(par[i]))
			return 0;
	return 1;
}

/*
 * The parametric bootstrap of the model fitted to s (REML when reml) with
 * theta, beta and sigma: nsim replicates drawn by lmm_boot_simulate from
 * the generator seeded with seed, each refitted as the model was; a
 * replicate whose refit fails or does not converge is counted in nfailed
 * and left out.  Percentile intervals at the level over the rest.  The host
 * is asked between replicates whether to stop (LMM_ERR_INTERRUPTED).
 */
LmmStatus
lmm_boot_run(const LmmTermStats *s, int reml, const double *theta,
			  const double *beta, double sigma, int nsim, uint64_t seed,
			  double level, LmmBoot *out)
{
	LmmBootPlan pl;
	LmmTermStats ws;
	LmmRng		rng;
	LmmStatus	status;
	int			src[LMM_MAX_TERMS],
				q[LMM_MAX_TERMS];
	int			nt = 0,
				npar,
				i,
				k;
	double	   *col;

	memset(out, 0, sizeof(LmmBoot));
	lmm_terms_order(s, src);
	for (i = 0; i < s->nterms; i++)
	{
		q[i] = s->term[src[i]].q;
		nt += LMM_NTHETA(q[i]);
	}
	npar = nt + 1 + s->p;
	if (nsim < 1 || (int64_t) nsim * npar > MAX_VALUES)
		return LMM_ERR_TOO_MANY_LEVELS;
	status = lmm_boot_plan(s, theta, beta, sigma, &pl);
	if (status != LMM_OK)
		return status;
	out->npar = npar;
	out->nsim = nsim;
	out->estimate = lmm_alloc(sizeof(double) * npar);
	out->lower = lmm_alloc(sizeof(double) * npar);
	out->upper = lmm_alloc(sizeof(double) * npar);
	out->rep = lmm_alloc(sizeof(double) * (size_t) nsim * npar);
	fit_parameters(s->nterms, q, theta, sigma, s->p, beta, out->estimate);
	lmm_boot_stats_copy(s, &ws);
	lmm_rng_seed(&rng, seed);
	for (i = 0; i < nsim && status == LMM_OK; i++)
	{
		LmmFit		fit;
		LmmStatus	st;

		if (lmm_interrupt_pending())
		{
			status = LMM_ERR_INTERRUPTED;
			break;
		}
		lmm_boot_simulate(&pl, s, &rng, &ws);
		st = lmm_fit(&ws, reml, 0, &fit);
		if (st == LMM_ERR_INTERRUPTED)
			status = st;
		else if (st != LMM_OK)
			out->nfailed++;
		else
		{
			if (fit.converged &&
				fit_parameters(fit.nterms, q, fit.theta, fit.sigma, s->p, fit.beta,
							   out->rep + (size_t) out->nok * npar))
				out->nok++;
			else
				out->nfailed++;
			lmm_fit_free(&fit);
		}
	}
	lmm_terms_free(&ws);
	lmm_boot_plan_free(&pl);
	if (status != LMM_OK)
	{
		lmm_boot_free(out);
		return status;
	}
	if (out->nok > 0)
	{
		col = lmm_alloc(sizeof(double) * (size_t) out->nok);
		for (k = 0; k < npar; k++)
		{
			for (i = 0; i < out->nok; i++)
				col[i] = out->rep[(size_t) i * npar + k];
			lmm_percentile_interval(col, out->nok, level, &out->lower[k], &out->upper[k]);
		}
		lmm_free(col);
	}
	return LMM_OK;
}

/* Release what lmm_boot_run allocated. */
void
lmm_boot_free(LmmBoot *b)
{
	lmm_free(b->estimate);
	lmm_free(b->rep);
	lmm_free(b->lower);
	lmm_free(b->upper);
	memset(b, 0, sizeof(LmmBoot));
}
