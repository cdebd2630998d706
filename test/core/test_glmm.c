/*
 * test_glmm.c
 *	  Unit tests of generalized models (lmm_rows.c, lmm_glmm.c): cbpp and a
 *	  Poisson set with an offset against glmer's polished optimum
 *	  (test/data/glmm_polish.ref.csv), the per-level kernel against the
 *	  blocked engine's PIRLS on the same rows, quadrature, the kept rows'
 *	  merge and sort, residuals, and refusals.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_glmm.h"
#include "lmm_rows.h"
#include "test_core.h"

/* One reference number of glmm_polish.ref.csv (model, kind, name), or NAN. */
static double
polish_ref(const char *dir, const char *model, const char *kind, const char *name)
{
	char		path[1024];
	char		line[512];
	double		v = NAN;
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/glmm_polish.ref.csv", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return NAN;
	while (fgets(line, sizeof(line), f))
	{
		char		m[64],
					k[64],
					n[64];
		double		x;

		if (sscanf(line, "%63[^,],%63[^,],%63[^,],%lf", m, k, n, &x) == 4 &&
			strcmp(m, model) == 0 && strcmp(k, kind) == 0 && strcmp(n, name) == 0)
			v = x;
		else if (sscanf(line, "%63[^,],%63[^,],,%lf", m, k, &x) == 3 &&
				 strcmp(m, model) == 0 && strcmp(k, kind) == 0 && name[0] == '\0')
			v = x;
	}
	fclose(f);
	return v;
}

/* cbpp's rows: the proportion of incidence with size trials, period dummies, herd. */
static void
load_cbpp(const char *dir, LmmRows *r)
{
	char		path[1024];
	char		line[256];
	int			q = 1,
				ones = 1;
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/cbpp.csv", dir);
	f = fopen(path, "r");
	check(f != NULL, "glmm: cbpp.csv opens");
	lmm_rows_init(r, 4, 1, &q, &ones);
	if (f == NULL || !fgets(line, sizeof(line), f))
		return;
	while (fgets(line, sizeof(line), f))
	{
		int			herd,
					inc,
					size,
					period;
		double		x[4];
		int64_t		lev;

		if (sscanf(line, "%d,%d,%d,%d", &herd, &inc, &size, &period) != 4)
			continue;
		x[0] = 1.0;
		x[1] = period == 2;
		x[2] = period == 3;
		x[3] = period == 4;
		lev = herd - 1;
		lmm_rows_add(r, x, (double) inc / size, size, 0.0, &lev, NULL);
	}
	fclose(f);
}

/* poisson_offset's rows: counts with log exposure as the offset. */
static void
load_poisson(const char *dir, LmmRows *r)
{
	char		path[1024];
	char		line[256];
	int			q = 1,
				ones = 1;
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/poisson_offset.csv", dir);
	f = fopen(path, "r");
	check(f != NULL, "glmm: poisson_offset.csv opens");
	lmm_rows_init(r, 2, 1, &q, &ones);
	if (f == NULL || !fgets(line, sizeof(line), f))
		return;
	while (fgets(line, sizeof(line), f))
	{
		int			g,
					y;
		double		x[2],
					e,
					le;
		int64_t		lev;

		if (sscanf(line, "%d,%lf,%lf,%lf,%d", &g, &x[1], &e, &le, &y) != 5)
			continue;
		x[0] = 1.0;
		lev = g - 1;
		lmm_rows_add(r, x, y, 1.0, le, &lev, NULL);
	}
	fclose(f);
}

/* The rows sorted by level (the kernel's input), with the identity level map. */
static void
grouped(const LmmRows *src, LmmRows *dst)
{
	int64_t    *map = malloc(sizeof(int64_t) * (size_t) src->nlevels[0]);
	int64_t    *maps[1] = {map};
	int64_t		j;

	for (j = 0; j < src->nlevels[0]; j++)
		map[j] = j;
	lmm_rows_init(dst, src->p, 1, src->q, src->ones);
	dst->nlevels[0] = src->nlevels[0];
	lmm_rows_sorted(dst, src, maps);
	free(map);
}

/* A fit's agreement with the polished glmer numbers of a model. */
static void
check_ref(const char *dir, const char *model, const LmmFit *fit, char *const *names,
		  const char *what)
{
	char		msg[256];
	double		ll = polish_ref(dir, model, "loglik", "");
	int			a;

	snprintf(msg, sizeof(msg), "glmm %s %s: loglik %.10f not below glmer's %.10f", model, what,
			 fit->loglik, ll);
	check(isfinite(ll) && fit->loglik >= ll - 1e-7, msg);
	for (a = 0; a < fit->p; a++)
	{
		double		b = polish_ref(dir, model, "beta", names[a]);
		double		se = polish_ref(dir, model, "se", names[a]);
		double		fse = sqrt(fit->vcov[a * fit->p + a]);

		snprintf(msg, sizeof(msg), "glmm %s %s: beta %s %.9f vs %.9f, se %.9f vs %.9f",
				 model, what, names[a], fit->beta[a], b, fse, se);
		check(fabs(fit->beta[a] - b) <= 1e-5 * fmax(fabs(b), se) &&
			  fabs(fse - se) <= 1e-4 * se, msg);
	}
}

/* The kernel and the engine's PIRLS give one fit (the kernel's gradient and Newton steps are right). */
static void
check_paths(const LmmFit *a, const LmmFit *b, const char *what)
{
	char		msg[256];
	double		db = 0.0,
				dse = 0.0;
	int			k;

	for (k = 0; k < a->p; k++)
	{
		db = fmax(db, fabs(a->beta[k] - b->beta[k]) / sqrt(a->vcov[k * a->p + k]));
		dse = fmax(dse, fabs(sqrt(a->vcov[k * a->p + k]) / sqrt(b->vcov[k * b->p + k]) - 1.0));
	}
	snprintf(msg, sizeof(msg), "glmm %s: kernel and engine agree (loglik %.3g, beta %.3g SE, se %.3g, theta %.3g)",
			 what, fabs(a->loglik - b->loglik), db, dse, fabs(a->theta[0] - b->theta[0]));
	check(fabs(a->loglik - b->loglik) < 1e-8 && db < 1e-5 && dse < 1e-4 &&
		  fabs(a->theta[0] - b->theta[0]) < 1e-5, msg);
}

/* Tests of generalized models; dir holds the reference data. */
void
test_glmm(const char *dir)
{
	static char *cbpp_names[] = {"(Intercept)", "period2", "period3", "period4"};
	static char *pois_names[] = {"(Intercept)", "x"};
	LmmRows		raw,
				rows,
				merged;
	LmmGlmmSpec spec = {LMM_FAMILY_BINOMIAL, LMM_LINK_LOGIT, 1, 1};
	LmmFit		fk,
				fe;
	int64_t		ident[64];
	int64_t    *maps[1] = {ident};
	double		sy = 0.0,
				sy2 = 0.0;
	int64_t		i;

	/* cbpp: Laplace by the kernel (sorted rows) and by the engine (rows as read) */
	load_cbpp(dir, &raw);
	grouped(&raw, &rows);
	check(rows.grouped && rows.n == 56 && rows.nlevels[0] == 15, "glmm: cbpp has 56 rows of 15 herds, sorted");
	check(lmm_glmm_fit(&rows, &spec, &fk) == LMM_OK, "glmm cbpp: the kernel fits");
	check(lmm_glmm_fit(&raw, &spec, &fe) == LMM_OK, "glmm cbpp: the engine fits");
	check_ref(dir, "cbpp", &fk, cbpp_names, "kernel");
	check_ref(dir, "cbpp", &fe, cbpp_names, "engine");
	check_paths(&fk, &fe, "cbpp");
	lmm_fit_free(&fk);
	lmm_fit_free(&fe);

	/* quadrature, 25 nodes, both ways; one node is the Laplace deviance without the saturated terms */
	spec.nagq = 25;
	check(lmm_glmm_fit(&rows, &spec, &fk) == LMM_OK && lmm_glmm_fit(&raw, &spec, &fe) == LMM_OK,
		  "glmm cbpp: AGQ(25) fits both ways");
	check_ref(dir, "cbpp_agq25", &fk, cbpp_names, "AGQ(25)");
	check_paths(&fk, &fe, "cbpp AGQ(25)");
	lmm_fit_free(&fk);
	lmm_fit_free(&fe);

	/* probit and cloglog (the kernel without the gradient) */
	spec.nagq = 1;
	spec.link = LMM_LINK_PROBIT;
	check(lmm_glmm_fit(&rows, &spec, &fk) == LMM_OK, "glmm cbpp: probit fits");
	check_ref(dir, "cbpp_probit", &fk, cbpp_names, "probit");
	lmm_fit_free(&fk);
	spec.link = LMM_LINK_CLOGLOG;
	check(lmm_glmm_fit(&rows, &spec, &fk) == LMM_OK, "glmm cbpp: cloglog fits");
	check_ref(dir, "cbpp_cloglog", &fk, cbpp_names, "cloglog");
	lmm_fit_free(&fk);

	/* a scalar AGQ needs one scalar term */
	{
		int			q2 = 2,
					ones = 0;
		LmmRows		r2;
		LmmGlmmSpec s2 = {LMM_FAMILY_BINOMIAL, LMM_LINK_LOGIT, 3, 1};

		lmm_rows_init(&r2, 1, 1, &q2, &ones);
		for (i = 0; i < 40; i++)
		{
			double		x = 1.0,
						z[2] = {1.0, (double) (i % 5)};
			int64_t		lev = i % 4;

			lmm_rows_add(&r2, &x, (double) (i % 3 == 0), 1.0, 0.0, &lev, z);
		}
		check(lmm_glmm_fit(&r2, &s2, &fk) == LMM_ERR_INCONSISTENT, "glmm: nagq > 1 refuses a vector term");
		lmm_rows_free(&r2);
	}

	/* the kept rows merge by a level map and keep every value */
	for (i = 0; i < 64; i++)
		ident[i] = i;
	lmm_rows_init(&merged, raw.p, 1, raw.q, raw.ones);
	lmm_rows_merge(&merged, &raw, maps);
	lmm_rows_merge(&merged, &raw, maps);
	for (i = 0; i < merged.n; i++)
	{
		sy += merged.y[i] * merged.wt[i];
		sy2 += (i < raw.n ? 1.0 : -1.0) * merged.y[i] * merged.wt[i];
	}
	check(merged.n == 112 && merged.nlevels[0] == 15 && fabs(sy - 2.0 * 99.0) < 1e-9 && fabs(sy2) < 1e-12,
		  "glmm: rows merge (112 rows, 2 x 99 cases)");
	check(lmm_rows_bytes_per_row(&raw) == 8 * (4 + 1 + 1) + 4, "glmm: a cbpp row takes 52 bytes (x, y, weight, level)");
	lmm_rows_free(&merged);

	/* residuals as lme4's: a binomial deviance residual and a Pearson one */
	check(fabs(lmm_glmm_residual(LMM_FAMILY_BINOMIAL, LMM_RESID_DEVIANCE, 0.25, 0.5, 4.0) +
			   sqrt(2.0 * 4.0 * (0.25 * log(0.5) + 0.75 * log(1.5)))) < 1e-14 &&
		  fabs(lmm_glmm_residual(LMM_FAMILY_POISSON, LMM_RESID_PEARSON, 3.0, 2.0, 1.0) - 1.0 / sqrt(2.0)) < 1e-14 &&
		  lmm_glmm_residual(LMM_FAMILY_POISSON, LMM_RESID_RESPONSE, 3.0, 2.0, 1.0) == 1.0,
		  "glmm: deviance, Pearson and response residuals");
	check(fabs(lmm_link_inverse(LMM_LINK_LOGIT, 0.0) - 0.5) < 1e-15 &&
		  fabs(lmm_link_inverse(LMM_LINK_CLOGLOG, 0.0) - (1.0 - exp(-1.0))) < 1e-15 &&
		  fabs(lmm_link_inverse(LMM_LINK_PROBIT, 0.0) - 0.5) < 1e-15,
		  "glmm: inverse links");
	lmm_rows_free(&rows);
	lmm_rows_free(&raw);

	/* Poisson with an offset: kernel and engine, and quadrature */
	spec.family = LMM_FAMILY_POISSON;
	spec.link = LMM_LINK_LOG;
	spec.nagq = 1;
	load_poisson(dir, &raw);
	grouped(&raw, &rows);
	check(lmm_glmm_fit(&rows, &spec, &fk) == LMM_OK && lmm_glmm_fit(&raw, &spec, &fe) == LMM_OK,
		  "glmm poisson_offset: fits both ways");
	check_ref(dir, "poisson_offset", &fk, pois_names, "kernel");
	check_paths(&fk, &fe, "poisson_offset");
	lmm_fit_free(&fe);
	/* the levels split between three threads: the same fit */
	spec.threads = 3;
	check(lmm_glmm_fit(&rows, &spec, &fe) == LMM_OK, "glmm poisson_offset: fits in three threads");
	check_paths(&fk, &fe, "poisson_offset in three threads");
	check(fabs(fk.loglik - fe.loglik) < 1e-9, "glmm poisson_offset: three threads give the loglik of one");
	spec.threads = 1;
	lmm_fit_free(&fk);
	lmm_fit_free(&fe);
	spec.nagq = 10;
	check(lmm_glmm_fit(&rows, &spec, &fk) == LMM_OK, "glmm poisson_offset: AGQ(10) fits");
	check_ref(dir, "poisson_offset_agq10", &fk, pois_names, "AGQ(10)");
	lmm_fit_free(&fk);

	/* one group is too few */
	for (i = 0; i < rows.n; i++)
		rows.lev[i] = 0;
	rows.nlevels[0] = 1;
	spec.nagq = 1;
	check(lmm_glmm_fit(&rows, &spec, &fk) == LMM_ERR_FEW_GROUPS, "glmm: one group is refused");
	lmm_rows_free(&rows);
	lmm_rows_free(&raw);
}
