/*
 * lmm_start.c
 *	  A starting theta for the derivative-based searches, from moments of
 *	  the statistics the fit already holds.
 *
 * For each term, as if it were the only one: the residuals of the
 * ordinary least-squares fit summed by level, r_j = Z_j'(y - X beta_ols),
 * whitened by the level's own factor, v_j = L_j^-1 r_j with L_j L_j' =
 * Z_j'Z_j.  Under the model r_j = Z_j'Z_j b_j + Z_j'e, so
 *	  E[sum_j v_j v_j'] ~ J sigma^2 I + sum_j L_j' Sigma L_j,
 * with Sigma the covariance of b_j, and sigma^2 from what the levels leave
 * of the residual sum of squares (RSS - sum_j v_j'v_j over n - p - q J
 * degrees of freedom).  This is the one-way analysis of variance, made
 * multivariate; for a scalar term it is its textbook form.  Solved for
 * Sigma (q (q + 1) / 2 linear equations), T T' = Sigma / sigma^2 gives
 * the start.  Other terms' variance inflates these sums, so it is a start,
 * not an estimate: on InstEval it lands within a factor of two of the
 * optimum, where BFGS from lme4's start (T = I) spends half its iterations
 * getting there.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/*
 * The smallest and largest diagonal of a start's T: BFGS works on log
 * theta, steps at most tenfold, and finds a variance at 0 from here in a
 * few steps.
 */
#define START_MIN 0.05
#define START_MAX 20.0

/* One term's sums over its levels. */
typedef struct TermMoments
{
	int			q;
	int			ns;				/* q (q + 1) / 2: Sigma's free entries */
	double		levels;			/* levels whose Z_j'Z_j is positive definite */
	double		vv;				/* sum_j v_j'v_j */
	double	   *V;				/* q x q: sum_j v_j v_j' */
	double	   *K;				/* ns x ns: Sigma's coefficients, row-major */
	double	   *ZZ;				/* q x q: sum_j Z_j'Z_j */
	double	   *S;				/* q x q: Sigma / sigma2e (moments_solve) */
	double	   *L;				/* q x q scratch */
	double	   *v;				/* q scratch */
	int		   *ia;				/* ns: each free entry's row */
	int		   *ib;				/* ns: and column (ia >= ib) */
} TermMoments;

/* Set up the sums of a term of q columns. */
static void
moments_init(TermMoments *tm, int q)
{
	int			a,
				b,
				s = 0;

	tm->q = q;
	tm->ns = q * (q + 1) / 2;
	tm->levels = 0.0;
	tm->vv = 0.0;
	tm->V = lmm_alloc0(sizeof(double) * q * q);
	tm->K = lmm_alloc0(sizeof(double) * tm->ns * tm->ns);
	tm->ZZ = lmm_alloc0(sizeof(double) * q * q);
	tm->S = lmm_alloc(sizeof(double) * q * q);
	tm->L = lmm_alloc(sizeof(double) * q * q);
	tm->v = lmm_alloc(sizeof(double) * q);
	tm->ia = lmm_alloc(sizeof(int) * tm->ns);
	tm->ib = lmm_alloc(sizeof(int) * tm->ns);
	for (b = 0; b < q; b++)
		for (a = b; a < q; a++)
		{
			tm->ia[s] = a;
			tm->ib[s] = b;
			s++;
		}
}

/* Release a term's sums. */
static void
moments_free(TermMoments *tm)
{
	lmm_free(tm->V);
	lmm_free(tm->K);
	lmm_free(tm->ZZ);
	lmm_free(tm->S);
	lmm_free(tm->L);
	lmm_free(tm->v);
	lmm_free(tm->ia);
	lmm_free(tm->ib);
}

/*
 * Add one level: ZtZ (q x q, row-major), its z'x column b of entry a at
 * zx[a * xa + b * xb], its z'y zy (q).  A level whose ZtZ is not positive
 * definite tells nothing of Sigma's every entry and is left out.
 */
static void
moments_add(TermMoments *tm, const double *ZtZ, const double *zx, int xa, int xb,
			const double *zy, const double *beta, int p)
{
	int			q = tm->q;
	double	   *L = tm->L,
			   *v = tm->v;
	int			a,
				b,
				s,
				u;

	memcpy(L, ZtZ, sizeof(double) * q * q);
	if (lmm_chol_lower(q, L, 1e-12 * fabs(ZtZ[0]) + 1e-300) >= 0)
		return;
	for (a = 0; a < q * q; a++)
		tm->ZZ[a] += ZtZ[a];
	for (a = 0; a < q; a++)
	{
		v[a] = zy[a];
		for (b = 0; b < p; b++)
			v[a] -= zx[a * xa + b * xb] * beta[b];
	}
	lmm_forward_solve(q, 1, L, v);
	for (a = 0; a < q; a++)
	{
		tm->vv += v[a] * v[a];
		for (b = 0; b < q; b++)
			tm->V[a * q + b] += v[a] * v[b];
	}
	/* (L' Sigma L)_ab = sum_cd L_ca Sigma_cd L_db, Sigma symmetric */
	for (s = 0; s < tm->ns; s++)
		for (u = 0; u < tm->ns; u++)
		{
			int			ra = tm->ia[s],
						rb = tm->ib[s],
						c = tm->ia[u],
						d = tm->ib[u];
			double		k = L[c * q + ra] * L[d * q + rb];

			if (c != d)
				k += L[d * q + ra] * L[c * q + rb];
			tm->K[s * tm->ns + u] += k;
		}
	tm->levels += 1.0;
}

/*
 * Solve for the term's Sigma / sigma2e, sigma2e the residual variance its
 * levels leave (which holds the other terms' variance), into tm->S.
 * Returns 0 where the moments say nothing.
 */
static int
moments_solve(TermMoments *tm, double sigma2e)
{
	int			q = tm->q,
				ns = tm->ns;
	double	   *rhs = lmm_alloc(sizeof(double) * ns);
	lapack_int *piv = lmm_alloc(sizeof(lapack_int) * ns);
	int			s,
				ok;

	for (s = 0; s < ns; s++)
		rhs[s] = tm->V[tm->ia[s] * q + tm->ib[s]] -
			(tm->ia[s] == tm->ib[s] ? tm->levels * sigma2e : 0.0);
	ok = sigma2e > 0.0 && tm->levels > (double) ns &&
		LAPACKE_dgesv(LAPACK_ROW_MAJOR, ns, 1, tm->K, ns, piv, rhs, 1) == 0;
	for (s = 0; s < ns && ok; s++)
		tm->S[tm->ia[s] * q + tm->ib[s]] = tm->S[tm->ib[s] * q + tm->ia[s]] =
			rhs[s] / sigma2e;
	lmm_free(rhs);
	lmm_free(piv);
	return ok;
}

/*
 * Write the term's start into theta (its q (q + 1) / 2 entries, column by
 * column): T T' = f S, its diagonal clamped; T = I where the moments said
 * nothing (ok 0).
 */
static void
moments_theta(TermMoments *tm, int ok, double f, double *theta)
{
	int			q = tm->q;
	double	   *S = tm->S;
	double	   *d = tm->v;
	int			a,
				b;

	for (a = 0; a < q; a++)
	{
		for (b = 0; b < q; b++)
			S[a * q + b] = ok ? f * S[a * q + b] : (a == b);
		d[a] = S[a * q + a] = fmin(fmax(S[a * q + a], START_MIN * START_MIN),
								   START_MAX * START_MAX);
	}
	if (lmm_chol_lower(q, S, 0.0) >= 0)
	{
		/* a correlation the clamp made impossible: the diagonal alone */
		memset(S, 0, sizeof(double) * q * q);
		for (a = 0; a < q; a++)
			S[a * q + a] = sqrt(d[a]);
	}
	for (a = 0; a < tm->ns; a++)
		theta[a] = S[tm->ia[a] * q + tm->ib[a]];
}

/*
 * The start: theta (w->ntheta) as the header says; where the ordinary
 * least-squares fit is undefined (X'X not positive definite in the system's
 * centred form) or the residual variance is not positive, T = I, as in
 * lme4.
 */
void
lmm_start_theta(const Work *w, double *theta)
{
	const Gram *g = w->g;
	const Blocks *bk = g->blk;
	int			p = g->p;
	double	   *R = lmm_alloc(sizeof(double) * (p * p + p));
	double	   *beta = R + p * p;
	TermMoments tm[LMM_MAX_TERMS];
	double		rss,
				df,
				V,
				sigma2;
	double		c[LMM_MAX_TERMS];
	int			ok[LMM_MAX_TERMS];
	int			t,
				b;
	int64_t		j,
				e;

	for (t = 0; t < bk->k; t++)
		moments_init(&tm[t], bk->q[t]);
	memcpy(R, g->XtX, sizeof(double) * p * p);
	memcpy(beta, g->Xty, sizeof(double) * p);
	rss = -1.0;
	if (p == 0 || lmm_chol_lower(p, R, 0.0) < 0)
	{
		lmm_forward_solve(p, 1, R, beta);
		lmm_backward_solve(p, 1, R, beta);
		rss = g->yty;
		for (b = 0; b < p; b++)
			rss -= beta[b] * g->Xty[b];
	}

	/* the first term's levels: the Gram's per-level cross-products */
	for (j = 0; j < bk->J[0] && rss > 0.0; j++)
	{
		int			q = bk->q[0];

		moments_add(&tm[0], g->ZtZ + j * q * q, g->ZtX + j * q * p, p, 1,
					g->Zty + j * q, beta, p);
	}

	/*
	 * The later terms': each level's Z'Z block on M's diagonal, then its
	 * [X y]'Z block ((p + 1) x q, row-major) next in the list.
	 */
	for (e = 0; e + 1 < bk->ndense && rss > 0.0; e++)
	{
		const DenseBlock *d = &bk->dense[e];
		const DenseBlock *x = &bk->dense[e + 1];

		if (d->tr >= 1 && d->tr == d->tc && d->r0 == d->c0 &&
			x->tr == -1 && x->tc == d->tc && x->c0 == d->c0)
			moments_add(&tm[d->tr], d->val, x->val, 1, d->nc,
						x->val + p * d->nc, beta, p);
	}

	/*
	 * Each term's residual variance holds the others' (crossed terms vary
	 * within its levels): with V = RSS / (n - p) = sigma^2 + sum_t c_t and
	 * c_t = tr(Sigma_t sum_j Z_j'Z_j) / n, the variance its z carries per
	 * row, Sigma_t = S_t (V - c_t) gives c_t = g_t V / (1 + g_t), g_t =
	 * tr(S_t sum_j Z_j'Z_j) / n, and sigma^2 = V - sum_t c_t.  Where that
	 * leaves sigma^2 below a tenth of V the terms overlap too much for
	 * this (nested terms) and the S_t stand alone.
	 */
	V = rss / (g->n - p);
	sigma2 = V;
	for (t = 0; t < bk->k; t++)
	{
		int			q = tm[t].q,
					a;
		double		gt = 0.0;

		df = g->n - p - q * tm[t].levels;
		ok[t] = rss > 0.0 && df > 0.0 &&
			moments_solve(&tm[t], (rss - tm[t].vv) / df);
		for (a = 0; a < q * q && ok[t]; a++)
			gt += tm[t].S[a] * tm[t].ZZ[a] / g->n;
		c[t] = ok[t] && gt > 0.0 ? gt * V / (1.0 + gt) : 0.0;
		sigma2 -= c[t];
	}
	for (t = 0; t < bk->k; t++)
	{
		moments_theta(&tm[t], ok[t], sigma2 > 0.1 * V ? (V - c[t]) / sigma2 : 1.0,
					  theta + bk->toff[t]);
		moments_free(&tm[t]);
	}
	lmm_free(R);
}
