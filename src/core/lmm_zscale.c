/*
 * lmm_zscale.c
 *	  A fit whose random slopes are far from their intercept's scale, done
 *	  on its system in standardized z.
 *
 * Reading each z column of such a term as zt = (z - zc) / zs, zc and zs
 * its mean and standard deviation, is only a reparametrization while the
 * intercept is in the term: Z = Zt A with A = [1 zc'; 0 diag(zs)], so
 * b = A^-1 bt and the relative covariance factor is any lower-triangular T
 * with TT' = BB', B = A^-1 Tt: T is the L of B's LQ factorization, each
 * column's sign chosen so that its diagonal is not negative
 * (lmm_theta_from_scaled).  One mechanism serves every fit (lmm_fit.c): the
 * terms to map (ZMap, lmm_zmap_terms), the system with their z standardized
 * (lmm_zscale_begin), the whole fit on it (the optimization with its
 * Newton polish, the solution, Satterthwaite's ingredients), and what
 * depends on the parametrization mapped back to z: theta (lmm_zmap_apply),
 * the modes and their covariances (lmm_zmap_modes), and Satterthwaite's
 * covariance of (theta, sigma) and Jacobian (lmm_zmap_inference).  beta,
 * sigma, vcov(beta), the criterion and the df are the same in both.  The
 * fit's system is transformed in place (Zt'Zt = A^-T Z'Z A^-1,
 * Zt'[X y] = A^-T Z'[X y], and the blocks between terms alike, in long
 * double) and restored after (lmm_zscale_end).
 *
 * Why standardize: in z the elements of theta differ by orders of
 * magnitude and are strongly coupled, so BOBYQA stops far from the optimum
 * while reporting convergence, and lme4 does too.
 *
 * Why the system, not only theta: with z = days + 1000 each level's
 * Z_j'Z_j has condition 1e11 and forming T'Z_j'Z_jT cancels ten digits, so
 * the criterion evaluated in z is rounding noise far above an ulp, its
 * gradient noisier still, and the Hessian in theta of z is near singular;
 * with z = days x 1e5 theta of z is below the polish's difference step.
 * Function values locate an optimum to sqrt(eps) at best, and a polish in
 * z can get no closer than that noise; what is solved at the optimum
 * (sigma, the df from differences of the gradient) suffers alike.  Done in
 * zt, the fit is the plain fit mapped analytically, to rounding in theta,
 * beta, sigma, the slope's SD, the criterion and the modes, and to the
 * differences' accuracy in the df (test/core/test_zscale.c).  The
 * statistics' raw sums of z z' bound how close a fit with a far offset
 * (days + 1e5) can come.
 */
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"

/* z columns within these bounds of the intercept's scale are left alone. */
#define ZSCALE_MAX_SHIFT 10.0	/* |mean| / sd */
#define ZSCALE_MIN_SD	1e-2
#define ZSCALE_MAX_SD	1e2

/*
 * Nonzero when a column of z, of mean zc and standard deviation zs, is far
 * from the intercept's scale: its mean more than ZSCALE_MAX_SHIFT standard
 * deviations from 0, or its standard deviation outside [ZSCALE_MIN_SD,
 * ZSCALE_MAX_SD].  A constant or non-finite column is left to the usual
 * checks.
 */
static int
far_from_scale(double zc, double zs)
{
	if (!(zs > 0.0) || !isfinite(zs) || !isfinite(zc))
		return 0;
	return fabs(zc) > ZSCALE_MAX_SHIFT * zs || zs < ZSCALE_MIN_SD || zs > ZSCALE_MAX_SD;
}

/*
 * The map of a fit: its terms with a random intercept and a
 * slope far from scale, each z column's mean and standard deviation taken
 * from the levels' sums.  The intercept is the column that is 1 on every row
 * (its sum and its sum of squares are n).  Returns the number of terms
 * mapped; 0 leaves the fit as it is.
 */
int
lmm_zmap_terms(const LmmTermStats *s, const Blocks *bk, ZMap *zm)
{
	int			t;

	memset(zm, 0, sizeof(ZMap));
	for (t = 0; t < bk->k; t++)
	{
		const LmmTermLevels *tl = &s->term[bk->src[t]];
		int			q = tl->q;
		double		sz[LMM_MAX_RANDOM] = {0},
					szz[LMM_MAX_RANDOM] = {0};
		int			i0 = -1,
					far = 0,
					k,
					m = zm->nterms;
		int64_t		j;

		if (q < 2)
			continue;
		for (j = 0; j < tl->nlevels; j++)
		{
			const double *rec = tl->rec + (size_t) j * tl->stride;

			for (k = 0; k < q; k++)
			{
				sz[k] += LMM_TREC_SZ(rec)[k];
				szz[k] += LMM_TREC_ZZ(rec, q)[k * q + k];
			}
		}
		for (k = 0; k < q; k++)
			if (i0 < 0 && sz[k] == s->n && szz[k] == s->n)
				i0 = k;
		if (i0 < 0)
			continue;
		for (k = 0; k < q; k++)
		{
			double		mean = sz[k] / s->n;

			zm->zc[m][k] = mean;
			zm->zs[m][k] = sqrt(fmax(szz[k] / s->n - mean * mean, 0.0));
			if (k != i0 && far_from_scale(zm->zc[m][k], zm->zs[m][k]))
				far = 1;
		}
		for (k = 0; k < q && far; k++)
			if (k != i0 && !(zm->zs[m][k] > 0.0 && isfinite(zm->zs[m][k])))
				far = 0;
		if (!far)
			continue;
		zm->term[m] = t;
		zm->toff[m] = bk->toff[t];
		zm->q[m] = q;
		zm->i0[m] = i0;
		zm->nterms++;
	}
	return zm->nterms;
}

/*
 * One side of a block's transform to standardized z: the term's map, or
 * NULL for a side that is not of a mapped term.  Row (or column) a of
 * Z'[...] becomes (a - zc[a] i0) / zs[a], a != i0; i0's stays.
 */
typedef struct ZSide
{
	int			i0;
	const double *zc;
	const double *zs;
} ZSide;

/*
 * The nr x nc block V (row-major) in standardized z, in place:
 * A_r^-T V A_c^-1 for the sides given, A^-1 being the identity but for
 * 1 / zs[k] on the diagonal and -zc[k] / zs[k] in the intercept's row
 * (lmm_theta_from_scaled).  Each entry is one sum of at most four
 * products, in long double: the shift cancels most of the digits of a
 * badly scaled z's cross-products, and computing the rows and then the
 * columns in double would leave that rounding in the result.  out is
 * scratch of nr x nc.
 */
static void
standardize_block(double *V, int nr, int nc, const ZSide *row, const ZSide *col,
				  double *out)
{
	int			a,
				b;

	for (a = 0; a < nr; a++)
		for (b = 0; b < nc; b++)
		{
			int			rs = row != NULL && a != row->i0;
			int			cs = col != NULL && b != col->i0;
			long double s = V[a * nc + b];

			if (rs)
				s -= (long double) row->zc[a] * V[row->i0 * nc + b];
			if (cs)
				s -= (long double) col->zc[b] * V[a * nc + col->i0];
			if (rs && cs)
				s += (long double) row->zc[a] * col->zc[b] * V[row->i0 * nc + col->i0];
			if (rs)
				s /= row->zs[a];
			if (cs)
				s /= col->zs[b];
			out[a * nc + b] = (double) s;
		}
	memcpy(V, out, sizeof(double) * nr * nc);
}

/* The map's side for term t of the fit, or NULL when t is not mapped. */
static const ZSide *
side_of(const ZMap *zm, const ZSide *sides, int t)
{
	int			m;

	if (t < 0)
		return NULL;
	for (m = 0; m < zm->nterms; m++)
		if (zm->term[m] == t)
			return &sides[m];
	return NULL;
}

/*
 * A several-term system's cross-products with the mapped terms' z
 * standardized, in place: the first term's levels (g), the constant blocks
 * of M on a mapped term's rows or columns, and the first term's cross
 * blocks.  What it overwrites is kept in zs for restore_system.
 */
static void
standardize_system(Gram *g, const ZMap *zm, ZScaled *saved)
{
	Blocks	   *bk = g->blk;
	ZSide		sides[LMM_MAX_TERMS];
	const ZSide *s0;
	int			p = g->p;
	int			q0 = bk->q[0];
	int			maxq = 1;
	double	   *out;
	int64_t		j,
				e;
	int			m,
				t;

	
	for (t = 0; t < bk->k; t++)
		if (bk->q[t] > maxq)
			maxq = bk->q[t];
	/* the largest block: q x q, or (p + 1) x q of X and y against a term */
	out = lmm_alloc(sizeof(double) * maxq * (maxq > p + 1 ? maxq : p + 1));
	for (m = 0; m < zm->nterms; m++)
	{
		sides[m].i0 = zm->i0[m];
		sides[m].zc = zm->zc[m];
		sides[m].zs = zm->zs[m];
	}
	s0 = side_of(zm, sides, 0);

	/* the first term's levels */
	if (s0 != NULL)
	{
		size_t		J = (size_t) g->nlevels;

		saved->ZtZ = lmm_alloc(sizeof(double) * J * q0 * q0);
		saved->ZtX = lmm_alloc(sizeof(double) * J * q0 * (p > 0 ? p : 1));
		saved->Zty = lmm_alloc(sizeof(double) * J * q0);
		memcpy(saved->ZtZ, g->ZtZ, sizeof(double) * J * q0 * q0);
		memcpy(saved->ZtX, g->ZtX, sizeof(double) * J * q0 * p);
		memcpy(saved->Zty, g->Zty, sizeof(double) * J * q0);
		for (j = 0; j < g->nlevels; j++)
		{
			standardize_block(g->ZtZ + (size_t) j * q0 * q0, q0, q0, s0, s0, out);
			standardize_block(g->ZtX + (size_t) j * q0 * p, q0, p, s0, NULL, out);
			standardize_block(g->Zty + (size_t) j * q0, q0, 1, s0, NULL, out);
		}
	}

	/* the constant blocks of M, stored one after another in dval */
	for (e = 0; e < bk->ndense; e++)
		saved->ndval += (size_t) bk->dense[e].nr * bk->dense[e].nc;
	saved->dval = lmm_alloc(sizeof(double) * (saved->ndval + 1));
	memcpy(saved->dval, bk->dval, sizeof(double) * saved->ndval);
	for (e = 0; e < bk->ndense; e++)
	{
		DenseBlock *db = &bk->dense[e];
		const ZSide *r = side_of(zm, sides, db->tr);
		const ZSide *c = side_of(zm, sides, db->tc);

		if (r != NULL || c != NULL)
			standardize_block((double *) db->val, db->nr, db->nc, r, c, out);
	}

	/* the first term's cross blocks, q0 x q_u each */
	saved->nxval = 0;
	for (e = 0; e < bk->xptr[bk->J[0]]; e++)
		saved->nxval += (size_t) q0 * bk->q[bk->xterm[e]];
	saved->xval = lmm_alloc(sizeof(double) * (saved->nxval + 1));
	memcpy(saved->xval, bk->xval, sizeof(double) * saved->nxval);
	for (e = 0; e < bk->xptr[bk->J[0]]; e++)
	{
		const ZSide *c = side_of(zm, sides, bk->xterm[e]);

		if (s0 != NULL || c != NULL)
			standardize_block(bk->xval + bk->xvoff[e], q0, bk->q[bk->xterm[e]], s0, c, out);
	}
	lmm_free(out);
	bk->mvalid = 0;
	bk->sinv_n = 0;
}

/* The system as standardize_system found it. */
static void
restore_system(Gram *g, ZScaled *saved)
{
	Blocks	   *bk = g->blk;
	size_t		J = (size_t) g->nlevels;
	int			q0 = g->q;

	if (saved->ZtZ != NULL)
	{
		memcpy(g->ZtZ, saved->ZtZ, sizeof(double) * J * q0 * q0);
		memcpy(g->ZtX, saved->ZtX, sizeof(double) * J * q0 * g->p);
		memcpy(g->Zty, saved->Zty, sizeof(double) * J * q0);
	}
	memcpy(bk->dval, saved->dval, sizeof(double) * saved->ndval);
	memcpy(bk->xval, saved->xval, sizeof(double) * saved->nxval);
	bk->mvalid = 0;
	bk->sinv_n = 0;
	lmm_free(saved->ZtZ);
	lmm_free(saved->ZtX);
	lmm_free(saved->Zty);
	lmm_free(saved->dval);
	lmm_free(saved->xval);
}

/*
 * Transform the fit's system (w's own) in place to the terms zm maps in
 * standardized z, until lmm_zscale_end.  The fit is then done on it
 * (optimization, solution, Satterthwaite's ingredients) and its outputs
 * mapped to z (lmm_zmap_apply, lmm_zmap_modes, lmm_zmap_inference).
 */
void
lmm_zscale_begin(Work *w, const ZMap *zm, ZScaled *zsys)
{
	memset(zsys, 0, sizeof(ZScaled));
	zsys->w = w;
	standardize_system((Gram *) w->g, zm, zsys);
}

/* Restore the system lmm_zscale_begin transformed. */
void
lmm_zscale_end(ZScaled *zsys)
{
	restore_system((Gram *) zsys->w->g, zsys);
	memset(zsys, 0, sizeof(ZScaled));
}

/*
 * The conditional modes and covariances of the mapped terms, found in
 * standardized z, moved to z: b = A^-1 bt and C = A^-1 Ct A^-T per level.
 */
void
lmm_zmap_modes(const ZMap *zm, LmmFit *fit)
{
	int			m;

	for (m = 0; m < zm->nterms; m++)
	{
		LmmFitTerm *ft = &fit->term[zm->term[m]];
		int			q = zm->q[m];
		int			i0 = zm->i0[m];
		double		M[LMM_MAX_RANDOM * LMM_MAX_RANDOM] = {0};
		double		tmp[LMM_MAX_RANDOM * LMM_MAX_RANDOM];
		int64_t		j;
		int			a,
					b,
					k;

		/* M = A^-1: 1 / zs on the diagonal, -zc / zs in row i0 */
		for (a = 0; a < q; a++)
		{
			M[a * q + a] = a == i0 ? 1.0 : 1.0 / zm->zs[m][a];
			if (a != i0)
				M[i0 * q + a] = -zm->zc[m][a] / zm->zs[m][a];
		}
		for (j = 0; j < ft->nlevels; j++)
		{
			double	   *bj = ft->b + (size_t) j * q;
			double	   *C = ft->condvar + (size_t) j * q * q;

			for (a = 0; a < q; a++)
			{
				long double s = 0.0;

				for (k = 0; k < q; k++)
					s += (long double) M[a * q + k] * bj[k];
				tmp[a] = (double) s;
			}
			memcpy(bj, tmp, sizeof(double) * q);
			/* tmp = M C, then C = tmp M' */
			for (a = 0; a < q; a++)
				for (b = 0; b < q; b++)
				{
					long double s = 0.0;

					for (k = 0; k < q; k++)
						s += (long double) M[a * q + k] * C[k * q + b];
					tmp[a * q + b] = (double) s;
				}
			for (a = 0; a < q; a++)
				for (b = 0; b <= a; b++)
				{
					long double s = 0.0;

					for (k = 0; k < q; k++)
						s += (long double) tmp[a * q + k] * M[b * q + k];
					C[a * q + b] = C[b * q + a] = (double) s;
				}
			/*
			 * Where C is singular (theta at 0) rounding can leave a variance
			 * a few ulps of the terms below 0: it is 0.
			 */
			for (a = 0; a < q; a++)
				if (C[a * q + a] < 0.0)
					C[a * q + a] = 0.0;
		}
	}
}

/*
 * Satterthwaite's ingredients found in standardized z at theta_t moved to
 * the parameters (theta of z, sigma): with J = d theta / d theta_t (by
 * differences of lmm_zmap_apply, second order, one-sided towards the
 * interior at a bound), vcov_varpar = J V_t J' and jac_k = sum_l jac_t,l
 * (J^-1)_lk.  The df (lmm_satterthwaite_df) are invariant under this change
 * of parameters, so they are those of the standardized fit exactly; they
 * cannot be had in z itself, where the differences of the gradient are
 * rounding noise.
 * Returns 0 when J cannot be inverted or the result overflows.
 */
int
lmm_zmap_inference(const ZMap *zm, const Work *wt, const double *theta_t,
				   int p, int ninf, double *vcov_varpar, double *jac)
{
	int			nt = ninf - 1;
	size_t		pp = (size_t) p * p;
	double	   *J = lmm_alloc0(sizeof(double) * ninf * ninf);
	double	   *Ji = lmm_alloc0(sizeof(double) * ninf * ninf);
	double	   *x = lmm_alloc(sizeof(double) * nt);
	double	   *f1 = lmm_alloc(sizeof(double) * nt);
	double	   *f2 = lmm_alloc(sizeof(double) * nt);
	double	   *f0 = lmm_alloc(sizeof(double) * nt);
	double	   *tmp = lmm_alloc(sizeof(double) * ninf * (ninf > (int) pp ? ninf : (int) pp));
	lapack_int *ipiv = lmm_alloc(sizeof(lapack_int) * ninf);
	int			ok = 1,
				a,
				b,
				k;
	size_t		e;

	/* J: identity outside the mapped terms; their columns by differences */
	lmm_zmap_apply(zm, nt, theta_t, f0);
	for (a = 0; a < ninf; a++)
		J[a * ninf + a] = 1.0;
	for (k = 0; k < nt && ok; k++)
	{
		int			m,
					mapped = 0;
		double		h = 1e-5 * fmax(fabs(theta_t[k]), 1e-2);

		for (m = 0; m < zm->nterms; m++)
			if (k >= zm->toff[m] && k < zm->toff[m] + LMM_NTHETA(zm->q[m]))
				mapped = 1;
		if (!mapped)
			continue;
		memcpy(x, theta_t, sizeof(double) * nt);
		x[k] = theta_t[k] + h;
		lmm_zmap_apply(zm, nt, x, f1);
		if (lmm_theta_bounded(wt->g, k) && theta_t[k] < 2.0 * h)
		{
			/* forward: (-3 f(x) + 4 f(x + h) - f(x + 2h)) / 2h */
			x[k] = theta_t[k] + 2.0 * h;
			lmm_zmap_apply(zm, nt, x, f2);
			for (a = 0; a < nt; a++)
				J[a * ninf + k] = (-3.0 * f0[a] + 4.0 * f1[a] - f2[a]) / (2.0 * h);
		}
		else
		{
			x[k] = theta_t[k] - h;
			lmm_zmap_apply(zm, nt, x, f2);
			for (a = 0; a < nt; a++)
				J[a * ninf + k] = (f1[a] - f2[a]) / (2.0 * h);
		}
		for (a = 0; a < nt; a++)
			ok = ok && isfinite(J[a * ninf + k]);
	}

	/* Ji = J^-1 */
	memcpy(Ji, J, sizeof(double) * ninf * ninf);
	ok = ok && LAPACKE_dgetrf(LAPACK_ROW_MAJOR, ninf, ninf, Ji, ninf, ipiv) == 0 &&
		LAPACKE_dgetri(LAPACK_ROW_MAJOR, ninf, Ji, ninf, ipiv) == 0;
	if (ok)
	{
		/* vcov_varpar = J V J' */
		for (a = 0; a < ninf; a++)
			for (b = 0; b < ninf; b++)
			{
				long double s = 0.0;

				for (k = 0; k < ninf; k++)
					s += (long double) J[a * ninf + k] * vcov_varpar[k * ninf + b];
				tmp[a * ninf + b] = (double) s;
			}
		for (a = 0; a < ninf; a++)
			for (b = 0; b <= a; b++)
			{
				long double s = 0.0;

				for (k = 0; k < ninf; k++)
					s += (long double) tmp[a * ninf + k] * J[b * ninf + k];
				vcov_varpar[a * ninf + b] = vcov_varpar[b * ninf + a] = (double) s;
			}
		/* jac_k = sum_l jac_l Ji[l][k], entry by entry of vcov(beta) */
		for (e = 0; e < pp; e++)
		{
			for (k = 0; k < ninf; k++)
			{
				long double s = 0.0;

				for (a = 0; a < ninf; a++)
					s += (long double) jac[(size_t) a * pp + e] * Ji[a * ninf + k];
				tmp[k] = (double) s;
			}
			for (k = 0; k < ninf; k++)
				jac[(size_t) k * pp + e] = tmp[k];
		}
		/* theta of z can be far below theta_t's scale: J^-1 may overflow */
		for (a = 0; a < ninf * ninf && ok; a++)
			ok = isfinite(vcov_varpar[a]);
		for (e = 0; e < (size_t) ninf * pp && ok; e++)
			ok = isfinite(jac[e]);
	}
	lmm_free(J);
	lmm_free(Ji);
	lmm_free(x);
	lmm_free(f0);
	lmm_free(f1);
	lmm_free(f2);
	lmm_free(tmp);
	lmm_free(ipiv);
	return ok;
}
