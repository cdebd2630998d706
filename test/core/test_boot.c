/*
 * test_boot.c
 *	  Unit tests of the parametric bootstrap from the statistics
 *	  (lmm_boot.c): the generator's moments, the simulated statistics'
 *	  exact first and second moments, and the distribution of refitted
 *	  estimates against simulation from rows of the same design.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_boot.h"
#include "lmm_fit.h"
#include "lmm_infer.h"
#include "lmm_terms.h"
#include "test_core.h"

#define MAXROWS 400

/* A design: rows of x, each term's level and z; the generating parameters. */
typedef struct Design
{
	int			n;
	int			p;
	int			k;
	int			q[LMM_MAX_TERMS];
	int			J[LMM_MAX_TERMS];
	double		x[MAXROWS][2];
	int			lev[MAXROWS][LMM_MAX_TERMS];
	double		z[MAXROWS][LMM_MAX_TERMS][2];
	double		theta[6];		/* by term of the design (the statistics' order) */
	double		theta_fit[6];	/* the same in the fit's order (most levels first) */
	double		beta[2];
	double		sigma;
	int			rank;			/* of [Z X1]: what the chi-square leaves; -1: not checked */
} Design;

/*
 * sleepstudy's shape, unbalanced: 18 subjects, days 0..9, y ~ days +
 * (days | subject), with subject 0 seen on one day only (its Z_j'Z_j has
 * rank 1) and subject 1 on two.
 */
static void
design_slope(Design *d)
{
	int			j,
				day;

	memset(d, 0, sizeof(Design));
	d->p = 2;
	d->k = 1;
	d->q[0] = 2;
	d->J[0] = 18;
	for (j = 0; j < 18; j++)
		for (day = 0; day < 10; day++)
		{
			if ((j == 0 && day != 3) || (j == 1 && day > 1))
				continue;
			d->x[d->n][0] = 1.0;
			d->x[d->n][1] = day;
			d->lev[d->n][0] = j;
			d->z[d->n][0][0] = 1.0;
			d->z[d->n][0][1] = day;
			d->n++;
		}
	/* sleepstudy's REML estimates, rounded */
	d->theta[0] = 0.967;
	d->theta[1] = 0.0152;
	d->theta[2] = 0.231;
	d->beta[0] = 251.4;
	d->beta[1] = 10.47;
	d->sigma = 25.59;
	memcpy(d->theta_fit, d->theta, sizeof(d->theta));
	/* 36 z columns, subject 0's slope dependent; days and ones in Z's span */
	d->rank = 35;
}

/* Penicillin's shape: 24 plates by 6 samples, y ~ 1 + (1 | plate) + (1 | sample), one cell missing. */
static void
design_crossed(Design *d)
{
	int			a,
				b;

	memset(d, 0, sizeof(Design));
	d->p = 1;
	d->k = 2;
	d->q[0] = d->q[1] = 1;
	d->J[0] = 24;
	d->J[1] = 6;
	for (a = 0; a < 24; a++)
		for (b = 0; b < 6; b++)
		{
			if (a == 5 && b == 2)
				continue;
			d->x[d->n][0] = 1.0;
			d->lev[d->n][0] = a;
			d->lev[d->n][1] = b;
			d->z[d->n][0][0] = d->z[d->n][1][0] = 1.0;
			d->n++;
		}
	/* theta in the fit's order: plate (24 levels), then sample */
	d->theta[0] = 1.54;
	d->theta[1] = 3.51;
	d->beta[0] = 22.97;
	d->sigma = 0.55;
	memcpy(d->theta_fit, d->theta, sizeof(d->theta));
	/* 30 intercepts, the ones column in each term's span: one dependency */
	d->rank = 29;
}

/*
 * Three crossed terms, the one with most levels last in the statistics
 * (so its pair blocks are stored transposed) and a random slope in the
 * middle one (pair blocks of 1 x 2 between the dense terms):
 * y ~ x + (1 | c) + (1 + x | b) + (1 | a), a 12, b 5, c 3 levels.
 */
static void
design_three(Design *d)
{
	int			i;

	memset(d, 0, sizeof(Design));
	d->p = 2;
	d->k = 3;
	d->q[0] = 1;
	d->q[1] = 2;
	d->q[2] = 1;
	d->J[0] = 3;
	d->J[1] = 5;
	d->J[2] = 12;
	for (i = 0; i < 180; i++)
	{
		double		x = sin(0.7 * i) + 0.1 * (i % 4);

		d->x[i][0] = 1.0;
		d->x[i][1] = x;
		d->lev[i][0] = (i / 7) % 3;
		d->lev[i][1] = (i / 12) % 5;
		d->lev[i][2] = i % 12;
		d->z[i][0][0] = d->z[i][2][0] = 1.0;
		d->z[i][1][0] = 1.0;
		d->z[i][1][1] = x;
	}
	d->n = 180;
	d->theta[0] = 0.8;			/* c */
	d->theta[1] = 1.0;			/* b: T = [1.0 0; 0.3 0.5] */
	d->theta[2] = 0.3;
	d->theta[3] = 0.5;
	d->theta[4] = 1.2;			/* a */
	/* the fit's order: a, b, c */
	d->theta_fit[0] = 1.2;
	d->theta_fit[1] = 1.0;
	d->theta_fit[2] = 0.3;
	d->theta_fit[3] = 0.5;
	d->theta_fit[4] = 0.8;
	d->beta[0] = 3.0;
	d->beta[1] = 0.5;
	d->sigma = 1.0;
	d->rank = -1;
}

/* The statistics of the design's rows with responses y; level j of term t is number j. */
static void
design_stats(const Design *d, const double *y, LmmTermStats *s)
{
	int			i,
				t,
				j;

	lmm_terms_init(s, d->p, d->k, d->q);
	for (t = 0; t < d->k; t++)
		for (j = 0; j < d->J[t]; j++)
			lmm_terms_add_level(s, t);
	for (i = 0; i < d->n; i++)
	{
		int64_t		level[LMM_MAX_TERMS];
		double		z[2 * LMM_MAX_TERMS];
		int			nz = 0,
					a;

		for (t = 0; t < d->k; t++)
		{
			level[t] = d->lev[i][t];
			for (a = 0; a < d->q[t]; a++)
				z[nz++] = d->z[i][t][a];
		}
		lmm_terms_add_row(s, d->x[i], y[i], level, z);
	}
}

/* Responses drawn row by row from the design's model. */
static void
design_draw(const Design *d, LmmRng *rng, double *y)
{
	double		b[LMM_MAX_TERMS][64][2];
	int			t,
				j,
				i,
				a,
				c,
				off = 0;

	for (t = 0; t < d->k; t++)
	{
		double		T[4];

		memset(T, 0, sizeof(T));
		if (d->q[t] == 1)
			T[0] = d->theta[off];
		else
		{
			T[0] = d->theta[off];
			T[2] = d->theta[off + 1];
			T[3] = d->theta[off + 2];
		}
		off += d->q[t] * (d->q[t] + 1) / 2;
		for (j = 0; j < d->J[t]; j++)
		{
			double		u[2] = {lmm_rng_normal(rng), lmm_rng_normal(rng)};

			for (a = 0; a < d->q[t]; a++)
			{
				b[t][j][a] = 0.0;
				for (c = 0; c <= a; c++)
					b[t][j][a] += d->sigma * T[a * d->q[t] + c] * u[c];
			}
		}
	}
	for (i = 0; i < d->n; i++)
	{
		y[i] = d->sigma * lmm_rng_normal(rng);
		for (a = 0; a < d->p; a++)
			y[i] += d->x[i][a] * d->beta[a];
		for (t = 0; t < d->k; t++)
			for (a = 0; a < d->q[t]; a++)
				y[i] += d->z[i][t][a] * b[t][d->lev[i][t]][a];
	}
}

/* Mean, SD and kurtosis of n values. */
static void
moments(const double *v, int n, int stride, double *mean, double *sd, double *kurt)
{
	double		m = 0.0,
				m2 = 0.0,
				m4 = 0.0;
	int			i;

	for (i = 0; i < n; i++)
		m += v[(size_t) i * stride];
	m /= n;
	for (i = 0; i < n; i++)
	{
		double		e = v[(size_t) i * stride] - m;

		m2 += e * e;
		m4 += e * e * e * e;
	}
	*mean = m;
	*sd = sqrt(m2 / (n - 1));
	*kurt = m2 > 0.0 ? (m4 / n) / ((m2 / n) * (m2 / n)) : 3.0;
}

/*
 * The simulated statistics' first two moments, exactly: the mean and
 * variance of sum (y - c_y) and the mean of sum (y - c_y)^2 and of one
 * level's sum z (y - c_y), over many draws of lmm_boot_simulate, against
 * their values from the design's rows.
 */
static void
check_moments(const Design *d, const char *name)
{
	LmmTermStats s,
				ws;
	LmmBootPlan pl;
	LmmRng		rng;
	double		y[MAXROWS];
	double		mu[MAXROWS],
				var[MAXROWS];
	double		e_sum = 0.0,
				v_sum = 0.0,
				e_yy = 0.0,
				e_zy = 0.0;
	double		c_y;
	int			nd = 20000,
				i,
				t,
				a,
				r,
				off;
	double	   *sum = malloc(sizeof(double) * nd),
			   *yy = malloc(sizeof(double) * nd),
			   *zy = malloc(sizeof(double) * nd);
	double		m,
				sd,
				ku;
	char		what[160];

	lmm_rng_seed(&rng, 7);
	design_draw(d, &rng, y);
	design_stats(d, y, &s);
	c_y = s.shift[d->p];
	check(lmm_boot_plan(&s, d->theta_fit, d->beta, d->sigma, &pl) == LMM_OK, "boot: plan");
	lmm_boot_stats_copy(&s, &ws);

	/* per row: mean x'beta, variance sigma^2 (1 + sum_t |T_t' z_t|^2) */
	for (i = 0; i < d->n; i++)
	{
		mu[i] = 0.0;
		for (a = 0; a < d->p; a++)
			mu[i] += d->x[i][a] * d->beta[a];
		var[i] = 1.0;
		off = 0;
		for (t = 0; t < d->k; t++)
		{
			const double *th = d->theta + off;

			if (d->q[t] == 1)
				var[i] += th[0] * th[0] * d->z[i][t][0] * d->z[i][t][0];
			else
			{
				double		u0 = th[0] * d->z[i][t][0] + th[1] * d->z[i][t][1];
				double		u1 = th[2] * d->z[i][t][1];

				var[i] += u0 * u0 + u1 * u1;
			}
			off += d->q[t] * (d->q[t] + 1) / 2;
		}
		var[i] *= d->sigma * d->sigma;
		e_sum += mu[i] - c_y;
		e_yy += (mu[i] - c_y) * (mu[i] - c_y) + var[i];
		if (d->lev[i][0] == 2)
			e_zy += d->z[i][0][0] * (mu[i] - c_y);
	}
	/* Var(1'y): the rows' covariances through shared levels */
	v_sum = d->sigma * d->sigma * d->n;
	off = 0;
	for (t = 0; t < d->k; t++)
	{
		int			j;

		for (j = 0; j < d->J[t]; j++)
		{
			double		sz[2] = {0.0, 0.0},
						u0,
						u1 = 0.0;
			const double *th = d->theta + off;

			for (i = 0; i < d->n; i++)
				if (d->lev[i][t] == j)
					for (a = 0; a < d->q[t]; a++)
						sz[a] += d->z[i][t][a];
			if (d->q[t] == 1)
				u0 = th[0] * sz[0];
			else
			{
				u0 = th[0] * sz[0] + th[1] * sz[1];
				u1 = th[2] * sz[1];
			}
			v_sum += d->sigma * d->sigma * (u0 * u0 + u1 * u1);
		}
		off += d->q[t] * (d->q[t] + 1) / 2;
	}

	for (r = 0; r < nd; r++)
	{
		int64_t		lv2;

		lmm_boot_simulate(&pl, &s, &rng, &ws);
		sum[r] = ws.sum[d->p];
		yy[r] = ws.cross[d->p * (d->p + 1) + d->p];
		lv2 = 2;
		zy[r] = LMM_TREC_ZY(ws.term[0].rec + lv2 * ws.term[0].stride, d->q[0], d->p)[0];
	}
	moments(sum, nd, 1, &m, &sd, &ku);
	snprintf(what, sizeof(what), "boot %s: mean of sum(y - c) %.6g vs %.6g", name, m, e_sum);
	check(fabs(m - e_sum) <= 4.5 * sd / sqrt(nd), what);
	snprintf(what, sizeof(what), "boot %s: variance of sum(y - c) %.6g vs %.6g", name, sd * sd, v_sum);
	check(fabs(sd * sd / v_sum - 1.0) <= 4.5 * sqrt((ku - 1.0) / nd), what);
	moments(yy, nd, 1, &m, &sd, &ku);
	snprintf(what, sizeof(what), "boot %s: mean of sum(y - c)^2 %.6g vs %.6g", name, m, e_yy);
	check(fabs(m - e_yy) <= 4.5 * sd / sqrt(nd), what);
	moments(zy, nd, 1, &m, &sd, &ku);
	snprintf(what, sizeof(what), "boot %s: mean of a level's sum z(y - c) %.6g vs %.6g", name, m, e_zy);
	check(fabs(m - e_zy) <= 4.5 * sd / sqrt(nd), what);
	snprintf(what, sizeof(what), "boot %s: rank of G leaves n - %g for the chi-square", name,
			 d->n - pl.chi_df);
	if (d->rank >= 0)
		check(fabs(d->n - pl.chi_df - d->rank) < 0.5, what);
	lmm_boot_plan_free(&pl);
	lmm_terms_free(&ws);
	lmm_terms_free(&s);
	free(sum);
	free(yy);
	free(zy);
}

/*
 * The simulated statistics' whole covariance: every pair of entries of
 * A'(y - c_y) (each level's sum z (y - c_y), sum (x - c)(y - c_y),
 * sum (y - c_y)) over many draws against sigma^2 A'(I + sum_t Z_t T_t
 * T_t' Z_t')A from the design's rows, each within 5 standard errors of a
 * sample covariance; and their means against A'(X beta - c_y).
 */
static void
check_covariance(const Design *d, const char *name)
{
	LmmTermStats s,
				ws;
	LmmBootPlan pl;
	LmmRng		rng;
	double		y[MAXROWS];
	int			ncol = 0,
				nd = 20000,
				i,
				t,
				a,
				b,
				c,
				r,
				off[LMM_MAX_TERMS],
				toff = 0,
				bad_mean = 0,
				bad_cov = 0;
	double	   *A,
			   *Sig,
			   *mean,
			   *emp,
			   *v;
	double		c_y;
	char		what[160];

	for (t = 0; t < d->k; t++)
	{
		off[t] = ncol;
		ncol += d->J[t] * d->q[t];
	}
	ncol += d->p + 1;
	A = calloc((size_t) d->n * ncol, sizeof(double));
	Sig = calloc((size_t) ncol * ncol, sizeof(double));
	mean = calloc(ncol, sizeof(double));
	emp = calloc((size_t) ncol * ncol, sizeof(double));
	v = calloc((size_t) nd * ncol, sizeof(double));
	lmm_rng_seed(&rng, 5);
	design_draw(d, &rng, y);
	design_stats(d, y, &s);
	c_y = s.shift[d->p];
	for (i = 0; i < d->n; i++)
	{
		double		mu = -c_y;

		for (t = 0; t < d->k; t++)
			for (a = 0; a < d->q[t]; a++)
				A[i * ncol + off[t] + d->lev[i][t] * d->q[t] + a] = d->z[i][t][a];
		for (a = 0; a < d->p; a++)
		{
			A[i * ncol + ncol - d->p - 1 + a] = d->x[i][a] - s.shift[a];
			mu += d->x[i][a] * d->beta[a];
		}
		A[i * ncol + ncol - 1] = 1.0;
		for (c = 0; c < ncol; c++)
			mean[c] += A[i * ncol + c] * mu;
	}
	/* A'A, then A'Z_tl T_t per level and term */
	for (a = 0; a < ncol; a++)
		for (b = 0; b < ncol; b++)
			for (i = 0; i < d->n; i++)
				Sig[a * ncol + b] += A[i * ncol + a] * A[i * ncol + b];
	for (t = 0; t < d->k; t++)
	{
		int			q = d->q[t],
					l;
		double		T[4] = {0, 0, 0, 0};

		if (q == 1)
			T[0] = d->theta[toff];
		else
		{
			T[0] = d->theta[toff];
			T[2] = d->theta[toff + 1];
			T[3] = d->theta[toff + 2];
		}
		toff += LMM_NTHETA(q);
		for (l = 0; l < d->J[t]; l++)
		{
			double		AZT[64][2];

			memset(AZT, 0, sizeof(AZT));
			for (c = 0; c < ncol; c++)
				for (i = 0; i < d->n; i++)
					if (d->lev[i][t] == l)
						for (a = 0; a < q; a++)
							for (b = 0; b <= a; b++)
								AZT[c][b] += A[i * ncol + c] * d->z[i][t][a] * T[a * q + b];
			for (a = 0; a < ncol; a++)
				for (b = 0; b < ncol; b++)
					for (c = 0; c < q; c++)
						Sig[a * ncol + b] += AZT[a][c] * AZT[b][c];
		}
	}
	for (a = 0; a < ncol * ncol; a++)
		Sig[a] *= d->sigma * d->sigma;

	check(lmm_boot_plan(&s, d->theta_fit, d->beta, d->sigma, &pl) == LMM_OK, "boot: plan");
	lmm_boot_stats_copy(&s, &ws);
	for (r = 0; r < nd; r++)
	{
		double	   *row = v + (size_t) r * ncol;

		lmm_boot_simulate(&pl, &s, &rng, &ws);
		for (t = 0; t < d->k; t++)
			for (i = 0; i < d->J[t]; i++)
				for (a = 0; a < d->q[t]; a++)
					row[off[t] + i * d->q[t] + a] =
						LMM_TREC_ZY(ws.term[t].rec + (size_t) i * ws.term[t].stride, d->q[t], d->p)[a];
		for (a = 0; a < d->p; a++)
			row[ncol - d->p - 1 + a] = ws.cross[a * (d->p + 1) + d->p];
		row[ncol - 1] = ws.sum[d->p];
	}
	for (a = 0; a < ncol; a++)
	{
		double		m = 0.0;

		for (r = 0; r < nd; r++)
			m += v[(size_t) r * ncol + a];
		m /= nd;
		if (fabs(m - mean[a]) > 5.0 * sqrt(Sig[a * ncol + a] / nd) + 1e-9 * (1.0 + fabs(mean[a])))
			bad_mean++;
		for (r = 0; r < nd; r++)
			v[(size_t) r * ncol + a] -= mean[a];
	}
	for (a = 0; a < ncol; a++)
		for (b = 0; b <= a; b++)
		{
			double		e = 0.0,
						se = sqrt((Sig[a * ncol + a] * Sig[b * ncol + b] +
								   Sig[a * ncol + b] * Sig[a * ncol + b]) / nd);

			for (r = 0; r < nd; r++)
				e += v[(size_t) r * ncol + a] * v[(size_t) r * ncol + b];
			e /= nd;
			if (fabs(e - Sig[a * ncol + b]) > 5.0 * se + 1e-9 * sqrt(Sig[a * ncol + a] * Sig[b * ncol + b]))
				bad_cov++;
		}
	snprintf(what, sizeof(what), "boot %s: means of all %d simulated statistics (%d off)", name, ncol, bad_mean);
	check(bad_mean == 0, what);
	snprintf(what, sizeof(what), "boot %s: covariances of all %d simulated statistics (%d of %d off)",
			 name, ncol, bad_cov, ncol * (ncol + 1) / 2);
	check(bad_cov == 0, what);
	lmm_boot_plan_free(&pl);
	lmm_terms_free(&ws);
	lmm_terms_free(&s);
	free(A);
	free(Sig);
	free(mean);
	free(emp);
	free(v);
}

/*
 * The refitted estimates' distribution from the statistics (lmm_boot_run)
 * against refits of rows drawn from the same model: each parameter's mean
 * and SD agree within 4.5 Monte Carlo standard errors.
 */
static void
check_against_rows(const Design *d, int reml, int nsim, const char *name)
{
	LmmTermStats s;
	LmmBoot		bt;
	LmmRng		rng;
	double		y[MAXROWS];
	int			npar,
				nrow = 0,
				i,
				k;
	double	   *rows;
	char		what[200];

	lmm_rng_seed(&rng, 11);
	design_draw(d, &rng, y);
	design_stats(d, y, &s);
	check(lmm_boot_run(&s, reml, d->theta_fit, d->beta, d->sigma, nsim, 42, 0.95, &bt) == LMM_OK,
		  "boot: lmm_boot_run runs");
	npar = bt.npar;
	snprintf(what, sizeof(what), "boot %s: %d of %d replicates refitted", name, bt.nok, nsim);
	check(bt.nok >= nsim - nsim / 50 && bt.nok + bt.nfailed == nsim, what);
	rows = malloc(sizeof(double) * nsim * npar);
	for (i = 0; i < nsim; i++)
	{
		LmmTermStats rs;
		LmmFit		fit;
		int			t,
					off = 0,
					c = 0;
		double		sdcor[LMM_MAX_INF];

		design_draw(d, &rng, y);
		design_stats(d, y, &rs);
		if (lmm_fit(&rs, reml, 0, &fit) == LMM_OK)
		{
			if (fit.converged)
			{
				for (t = 0; t < fit.nterms; t++)
				{
					lmm_theta_to_sdcor(fit.term[t].q, fit.theta + off, fit.sigma, sdcor);
					memcpy(rows + (size_t) nrow * npar + c, sdcor,
						   sizeof(double) * LMM_NTHETA(fit.term[t].q));
					c += LMM_NTHETA(fit.term[t].q);
					off += LMM_NTHETA(fit.term[t].q);
				}
				rows[(size_t) nrow * npar + c++] = fit.sigma;
				memcpy(rows + (size_t) nrow * npar + c, fit.beta, sizeof(double) * d->p);
				nrow++;
			}
			lmm_fit_free(&fit);
		}
		lmm_terms_free(&rs);
	}
	for (k = 0; k < npar; k++)
	{
		double		m1,
					s1,
					k1,
					m2,
					s2,
					k2,
					se_m,
					se_s;

		moments(bt.rep + k, bt.nok, npar, &m1, &s1, &k1);
		moments(rows + k, nrow, npar, &m2, &s2, &k2);
		se_m = sqrt(s1 * s1 / bt.nok + s2 * s2 / nrow);
		se_s = sqrt(s1 * s1 * (k1 - 1.0) / (4.0 * bt.nok) + s2 * s2 * (k2 - 1.0) / (4.0 * nrow));
		snprintf(what, sizeof(what), "boot %s: parameter %d mean %.5g (statistics) vs %.5g (rows), se %.2g",
				 name, k, m1, m2, se_m);
		check(fabs(m1 - m2) <= 4.5 * se_m, what);
		snprintf(what, sizeof(what), "boot %s: parameter %d SD %.5g (statistics) vs %.5g (rows), se %.2g",
				 name, k, s1, s2, se_s);
		check(fabs(s1 - s2) <= 4.5 * se_s, what);
	}
	free(rows);
	lmm_boot_free(&bt);
	lmm_terms_free(&s);
}

/* The generator: uniform, normal and chi-square moments; the same seed, the same stream. */
static void
check_rng(void)
{
	LmmRng		r1,
				r2;
	int			n = 200000,
				i,
				same = 1;
	double		su = 0.0,
				sn = 0.0,
				sn2 = 0.0,
				sc = 0.0,
				sc2 = 0.0,
				sh = 0.0;

	lmm_rng_seed(&r1, 42);
	lmm_rng_seed(&r2, 42);
	for (i = 0; i < 1000; i++)
		same &= lmm_rng_next(&r1) == lmm_rng_next(&r2);
	check(same, "boot: one seed, one stream");
	for (i = 0; i < n; i++)
	{
		double		u = lmm_rng_uniform(&r1),
					z = lmm_rng_normal(&r1),
					c = lmm_rng_chisq(&r1, 3.0),
					h = lmm_rng_chisq(&r1, 0.5);

		su += u;
		sn += z;
		sn2 += z * z;
		sc += c;
		sc2 += c * c;
		sh += h;
	}
	check(fabs(su / n - 0.5) < 4.5 * sqrt(1.0 / 12.0 / n), "boot: uniform mean");
	check(fabs(sn / n) < 4.5 / sqrt(n), "boot: normal mean");
	check(fabs(sn2 / n - 1.0) < 4.5 * sqrt(2.0 / n), "boot: normal variance");
	check(fabs(sc / n - 3.0) < 4.5 * sqrt(6.0 / n), "boot: chi-square(3) mean");
	check(fabs(sc2 / n - sc / n * sc / n - 6.0) < 4.5 * sqrt(408.0 / n), "boot: chi-square(3) variance");
	check(fabs(sh / n - 0.5) < 4.5 * sqrt(1.0 / n), "boot: chi-square(0.5) mean");
	check(lmm_rng_chisq(&r1, 0.0) == 0.0, "boot: chi-square(0) is 0");
}

/* boot.ci's percentile interval on values whose order statistics are known. */
static void
check_percentile(void)
{
	double		t[9] = {9, 1, 8, 2, 7, 3, 6, 4, 5};
	double		u[1999];
	double		lo,
				hi;
	int			i;

	/* n = 9, level 0.8: (n + 1) 0.1 = 1 and 9: the extreme order statistics */
	lmm_percentile_interval(t, 9, 0.8, &lo, &hi);
	check(lo == 1.0 && hi == 9.0, "boot: percentile at whole order statistics");
	/* n = 1999, level 0.5: 2000 * 0.25 = 500 and 2000 * 0.75 = 1500 exactly */
	for (i = 0; i < 1999; i++)
		u[i] = 1999 - i;
	lmm_percentile_interval(u, 1999, 0.5, &lo, &hi);
	check(lo == 500.0 && hi == 1500.0, "boot: percentile at (n + 1) alpha");
	/* n = 100: rank 2.525, between the 2nd and 3rd on the normal scale (R: 2.566901739) */
	for (i = 0; i < 100; i++)
		u[i] = i + 1;
	lmm_percentile_interval(u, 100, 0.95, &lo, &hi);
	check(fabs(lo - 2.566901739) < 1e-8 && fabs(hi - 98.433098261) < 1e-8, "boot: percentile interpolated as boot's norm.inter");
}

/* The bootstrap's tests (no data files: the designs are built here). */
void
test_boot(void)
{
	Design		d;

	check_rng();
	check_percentile();
	design_slope(&d);
	check_moments(&d, "slope");
	check_covariance(&d, "slope");
	check_against_rows(&d, 1, 600, "slope REML");
	design_crossed(&d);
	check_moments(&d, "crossed");
	check_covariance(&d, "crossed");
	check_against_rows(&d, 0, 400, "crossed ML");
	design_three(&d);
	check_moments(&d, "three terms");
	check_covariance(&d, "three terms");
	check_against_rows(&d, 1, 300, "three terms REML");
}
