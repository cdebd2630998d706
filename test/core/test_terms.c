/*
 * test_terms.c
 *	  Unit tests of the several-term statistics and fit: merges against the
 *	  whole, one term against the single-factor fit, and crossed and nested
 *	  factors against lme4 (formula.ref.csv).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_infer.h"
#include "lmm_model.h"
#include "lmm_terms.h"
#include "test_core.h"
#include "test_util.h"

/* A small data set read from CSV: numbers and text keys by column. */
typedef struct Table
{
	int			nrow;
	int			ncol;
	char		name[8][32];
	char		cell[2000][8][32];
} Table;

/* Read a plain CSV (no quoted commas) with a header; -1 on failure. */
static int
read_table(const char *dir, const char *file, Table *tb)
{
	char		path[1024];
	char		line[512];
	FILE	   *f;
	char	   *tok;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((f = fopen(path, "r")) == NULL || fgets(line, sizeof(line), f) == NULL)
		return -1;
	line[strcspn(line, "\r\n")] = '\0';
	tb->ncol = 0;
	for (tok = strtok(line, ","); tok && tb->ncol < 8; tok = strtok(NULL, ","))
		snprintf(tb->name[tb->ncol++], 32, "%s", tok);
	tb->nrow = 0;
	while (tb->nrow < 2000 && fgets(line, sizeof(line), f) != NULL)
	{
		int			c = 0;

		line[strcspn(line, "\r\n")] = '\0';
		for (tok = strtok(line, ","); tok && c < 8; tok = strtok(NULL, ","))
		{
			char	   *src = tok;

			if (*src == '"')
				src++;
			snprintf(tb->cell[tb->nrow][c], 32, "%s", src);
			tb->cell[tb->nrow][c][strcspn(tb->cell[tb->nrow][c], "\"")] = '\0';
			c++;
		}
		tb->nrow++;
	}
	fclose(f);
	return 0;
}

/* Column index by name; -1 if absent. */
static int
col(const Table *tb, const char *name)
{
	int			c;

	for (c = 0; c < tb->ncol; c++)
		if (strcmp(tb->name[c], name) == 0)
			return c;
	return -1;
}

/*
 * A reference number: in the file's last line that starts with prefix, the
 * number right after the prefix, or with last_field the line's last field.
 */
static double
ref_in(const char *dir, const char *file, const char *prefix, int last_field)
{
	char		path[1024];
	char		line[512];
	FILE	   *f;
	double		v = NAN;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((f = fopen(path, "r")) == NULL)
		return NAN;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, prefix, strlen(prefix)) == 0)
			v = atof(last_field ? strrchr(line, ',') + 1 : line + strlen(prefix));
	fclose(f);
	return v;
}

/* A reference value: the line of formula.ref.csv that starts with prefix. */
static double
ref(const char *dir, const char *prefix)
{
	return ref_in(dir, "formula.ref.csv", prefix, 1);
}

/* Satterthwaite's df of the intercept of a fit against lmerTest's, relative difference. */
static double
df_error(const char *dir, const LmmFit *fit, const char *name)
{
	char		pre[128];
	double		L[1] = {1.0};
	double		df = lmm_satterthwaite_df(fit->ninf, 1, fit->vcov_varpar, fit->jac,
										  fit->vcov, L);
	double		want;

	snprintf(pre, sizeof(pre), "%s,%s,(Intercept),", name, fit->reml ? "REML" : "ML");
	want = ref_in(dir, "formula_df.ref.csv", pre, 0);
	printf("%s %s: df %.10g, lmerTest %.10g\n", name, fit->reml ? "REML" : "ML", df, want);
	return fabs(df - want) / want;
}

/*
 * Statistics of a random-intercept model y ~ 1 + (1 | g_1) + ... from the
 * table's rows [from, to), the keys of term t being the values of gcol[t]
 * (with a second key column joined by ':' when gcol2[t] >= 0), numbered
 * by km.
 */
static void
add_rows(LmmTermStats *st, TestKeys *km, const Table *tb, int ycol, const int *gcol,
		 const int *gcol2, int from, int to)
{
	int			i,
				t;

	for (i = from; i < to; i++)
	{
		double		x[1] = {1.0};
		double		z[LMM_MAX_TERMS];
		char		keys[LMM_MAX_TERMS][80];
		const char *kp[LMM_MAX_TERMS];
		uint32_t	kl[LMM_MAX_TERMS];

		for (t = 0; t < st->nterms; t++)
		{
			if (gcol2[t] >= 0)
				snprintf(keys[t], 80, "%s:%s", tb->cell[i][gcol[t]], tb->cell[i][gcol2[t]]);
			else
				snprintf(keys[t], 80, "%s", tb->cell[i][gcol[t]]);
			kp[t] = keys[t];
			kl[t] = (uint32_t) strlen(keys[t]);
			z[t] = 1.0;
		}
		test_keys_add_row(st, km, x, atof(tb->cell[i][ycol]), kp, kl, z);
	}
}

/* The mode of level key of a fitted term, NAN if absent. */
static double
mode_of(const TestKeys *keys, const LmmFit *fit, int t, const char *key, int cv)
{
	int64_t		j = test_keys_find(keys, fit->term[t].src, key, (uint32_t) strlen(key));

	if (j < 0)
		return NAN;
	return cv ? sqrt(fit->term[t].condvar[j]) : fit->term[t].b[j];
}

/* The analytic gradient against central differences of the criterion at a few thetas. */
static void
check_gradient(const LmmTermStats *st, int reml, const char *name)
{
	static const double at[3][2] = {{1.0, 1.0}, {0.3, 2.5}, {1e-3, 0.7}};
	double		worst = 0.0;
	int			i,
				k;

	for (i = 0; i < 3; i++)
	{
		double		f,
					grad[2],
					fp,
					fm,
					gd[2];
		double		th[2];

		lmm_criterion_gradient(st, reml, at[i], &f, grad);
		for (k = 0; k < 2; k++)
		{
			double		h = 1e-5 * fmax(at[i][k], 0.1);

			memcpy(th, at[i], sizeof(th));
			th[k] = at[i][k] + h;
			lmm_criterion_gradient(st, reml, th, &fp, gd);
			th[k] = at[i][k] - h;
			lmm_criterion_gradient(st, reml, th, &fm, gd);
			worst = fmax(worst, fabs(grad[k] - (fp - fm) / (2.0 * h)) /
						 fmax(1.0, fabs(grad[k])));
		}
	}
	printf("%s %s: gradient vs differences %.3g\n", name, reml ? "REML" : "ML", worst);
	check(worst < 1e-5, "terms: analytic gradient matches central differences");
}

/*
 * The analytic Hessian against central differences of the analytic
 * gradient, and its gradient against lmm_criterion_gradient's, at
 * a few thetas.
 */
static void
check_hessian(const LmmTermStats *st, int reml, const char *name)
{
	static const double at[3][2] = {{1.0, 1.0}, {0.3, 2.5}, {1e-3, 0.7}};
	double		worst = 0.0;
	int			i,
				a,
				b;

	for (i = 0; i < 3; i++)
	{
		double		f,
					fg,
					grad[2],
					gg[2],
					hess[4],
					gp[2],
					gm[2],
					th[2];

		check(lmm_criterion_hessian(st, reml, at[i], &f, grad, hess) == LMM_OK &&
			  lmm_criterion_gradient(st, reml, at[i], &fg, gg) == LMM_OK &&
			  f == fg && grad[0] == gg[0] && grad[1] == gg[1],
			  "terms: the Hessian's criterion and gradient are the gradient's");
		for (b = 0; b < 2; b++)
		{
			double		h = 1e-4 * at[i][b];

			memcpy(th, at[i], sizeof(th));
			th[b] = at[i][b] + h;
			lmm_criterion_gradient(st, reml, th, &fg, gp);
			th[b] = at[i][b] - h;
			lmm_criterion_gradient(st, reml, th, &fg, gm);
			for (a = 0; a < 2; a++)
				worst = fmax(worst, fabs(hess[a * 2 + b] - (gp[a] - gm[a]) / (2.0 * h)) /
							 fmax(1.0, fabs(hess[a * 2 + b])));
		}
	}
	printf("%s %s: Hessian vs differences %.3g\n", name, reml ? "REML" : "ML", worst);
	check(worst < 1e-5, "terms: analytic Hessian matches central differences of the gradient");
}

/*
 * The criterion, gradient, Hessian and derivatives of (RX'RX)^-1 with M's
 * update listed by pair (lmm_blocked_pairs.c) equal those of the
 * level-by-level update, at a few thetas: to 1e-8, as at theta = 1e-3 the
 * log-determinant's derivatives, (J - t) / theta and (3t - J - 2F) /
 * theta^2, lose about 7 digits to cancellation whatever the order of the sums.
 */
static void
check_pairs(const LmmTermStats *st, int reml, const char *name)
{
	static const double at[3][2] = {{1.0, 1.0}, {0.3, 2.5}, {1e-3, 0.7}};
	Gram		g;
	Blocks		bk;
	Work		w;
	int			bad = -1,
				i,
				e,
				listed = 0;
	double		worst = 0.0;

	if (lmm_blocked_build(st, &g, &bk, &bad) != LMM_OK)
	{
		check(0, "terms: blocks build for the pair list test");
		return;
	}
	lmm_work_init(&w, &g, reml);
	for (i = 0; i < 3; i++)
	{
		double		r[2][2 + 2 + 4 + 4 + 2 * LMM_MAX_COLUMNS];
		int			v;

		for (v = 0; v < 2; v++)
		{
			double	   *x = r[v];
			int			p = g.p;

			if (v == 0)
				listed = bk.pptr != NULL;
			else
				lmm_blocked_pairs_free(&bk);
			x[0] = lmm_criterion(&w, at[i]);
			x[1] = w.pwrss;
			check(lmm_blocked_hessian(&w, at[i], x[0], x + 2, x + 4, x + 6, x + 10,
									  x + 14), "terms: Hessian defined");
			for (e = 0; e < 14 + 2 * p * p; e++)
				if (v == 1)
					worst = fmax(worst, fabs(r[0][e] - r[1][e]) / fmax(1.0, fabs(r[1][e])));
		}
		lmm_blocked_pairs_build(&g, &bk);
	}
	lmm_work_free(&w);
	lmm_blocked_free(&g, &bk);
	printf("%s %s: pair list vs levels %.3g\n", name, reml ? "REML" : "ML", worst);
	check(listed && worst < 1e-8,
		  "terms: M's update by pair equals the level-by-level update");
}

/*
 * The inverse of the dense part's factor with the fixed effects
 * (lmm_blocked_share_inverse, from the one without them) equals LAPACK's
 * inverse of the whole leading block, at a few thetas.
 */
static void
check_share(const LmmTermStats *st, int reml, const char *name)
{
	static const double at[2][2] = {{1.0, 1.0}, {0.3, 2.5}};
	Gram		g;
	Blocks		bk;
	Work		w;
	int			bad = -1,
				i;
	int64_t		a,
				b,
				nS;
	double		worst = 0.0,
				scale = 0.0;
	double	   *SD,
			   *full;

	if (lmm_blocked_build(st, &g, &bk, &bad) != LMM_OK)
	{
		check(0, "terms: blocks build for the shared inverse test");
		return;
	}
	lmm_work_init(&w, &g, reml);
	nS = bk.m + (reml ? g.p : 0);
	SD = malloc(sizeof(double) * bk.m * bk.m);
	full = malloc(sizeof(double) * nS * nS);
	for (i = 0; i < 2; i++)
	{
		lmm_criterion(&w, at[i]);
		check(lmm_blocked_inverse(&bk, bk.m, SD) && lmm_blocked_inverse(&bk, nS, full),
			  "terms: LAPACK inverts the dense part");
		lmm_blocked_share_inverse(&w, SD);
		check(bk.sinv_n == nS, "terms: the shared inverse is marked for the gradient");
		for (b = 0; b < nS; b++)
			for (a = b; a < nS; a++)
			{
				worst = fmax(worst, fabs(bk.Sinv[a + b * nS] - full[a + b * nS]));
				scale = fmax(scale, fabs(full[a + b * nS]));
			}
	}
	free(SD);
	free(full);
	lmm_work_free(&w);
	lmm_blocked_free(&g, &bk);
	printf("%s %s: shared inverse vs LAPACK's %.3g (largest entry %.3g)\n", name,
		   reml ? "REML" : "ML", worst, scale);
	check(worst < 1e-12 * scale, "terms: the shared inverse equals LAPACK's");
}

/* The ratings data (test/data/ratings.csv): y ~ x + (1 | a) + (1 | b), two fixed effects. */
static void
ratings_share(const char *dir)
{
	static Table tb;
	int			q[2] = {1, 1};
	int			ya,
				xa,
				ga,
				gb,
				i,
				reml;

	if (read_table(dir, "ratings.csv", &tb) != 0)
	{
		check(0, "terms: read ratings.csv");
		return;
	}
	ya = col(&tb, "y");
	xa = col(&tb, "x");
	ga = col(&tb, "a");
	gb = col(&tb, "b");
	for (reml = 0; reml <= 1; reml++)
	{
		LmmTermStats st;
		TestKeys	keys;

		lmm_terms_init(&st, 2, 2, q);
		test_keys_init(&keys);
		for (i = 0; i < tb.nrow; i++)
		{
			double		x[2] = {1.0, atof(tb.cell[i][xa])};
			double		z[2] = {1.0, 1.0};
			const char *kp[2] = {tb.cell[i][ga], tb.cell[i][gb]};
			uint32_t	kl[2] = {(uint32_t) strlen(kp[0]), (uint32_t) strlen(kp[1])};

			test_keys_add_row(&st, &keys, x, atof(tb.cell[i][ya]), kp, kl, z);
		}
		check_share(&st, reml, "ratings");
		lmm_terms_free(&st);
		test_keys_free(&keys);
	}
}

/*
 * The profile intervals of the model of st at level 0.95 against lme4's
 * (profile_terms.ref.csv rows fit,method,0.95,name): the worst relative
 * difference of an end, an end of 0 being compared absolutely.
 */
static double
profile_error(const char *dir, const LmmTermStats *st, const char *fit,
			  const char *method, const char *const *names)
{
	LmmProfile	prof;
	double		err = 0.0;
	int			k;

	if (lmm_profile(st, 0.95, &prof) != LMM_OK)
		return HUGE_VAL;
	for (k = 0; k < prof.npar; k++)
	{
		char		path[1024],
					line[512],
					pre[128];
		double		est = NAN,
					lo = NAN,
					hi = NAN;
		FILE	   *f;

		snprintf(path, sizeof(path), "%s/profile_terms.ref.csv", dir);
		snprintf(pre, sizeof(pre), "%s,%s,0.95,%s,", fit, method, names[k]);
		if ((f = fopen(path, "r")) == NULL)
			return HUGE_VAL;
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, pre, strlen(pre)) == 0)
				sscanf(line + strlen(pre), "%lf,%lf,%lf", &est, &lo, &hi);
		fclose(f);
		printf("profile %s %s %s: [%.10g, %.10g], lme4 [%.10g, %.10g]\n", fit, method,
			   names[k], prof.lower[k], prof.upper[k], lo, hi);
		err = fmax(err, fabs(prof.lower[k] - lo) / (lo != 0.0 ? fabs(lo) : 1.0));
		err = fmax(err, fabs(prof.upper[k] - hi) / (hi != 0.0 ? fabs(hi) : 1.0));
		if (isnan(lo) || isnan(hi))
			err = HUGE_VAL;
	}
	lmm_profile_free(&prof);
	return err;
}

/*
 * The model of a several-term fit as lmm_fit' final function builds
 * it, carrying st (its terms' names g<t>, their levels the keys of keys);
 * free with model_terms_free.
 */
static void
model_of_terms(LmmTermStats *st, const TestKeys *keys, LmmFit *fit, LmmModel *m)
{
	static char *names[1] = {"(Intercept)"};
	static char *grp[LMM_MAX_TERMS] = {"g0", "g1", "g2", "g3", "g4", "g5", "g6", "g7"};
	int			t,
				toff = 0;

	memset(m, 0, sizeof(LmmModel));
	m->flags = LMM_MODEL_SEVERAL | (fit->reml ? LMM_MODEL_REML : 0);
	m->p = fit->p;
	m->n_obs = (int64_t) st->n;
	m->n_dropped = 3;
	m->criterion = fit->criterion;
	m->loglik = fit->loglik;
	m->aic = fit->aic;
	m->bic = fit->bic;
	m->sigma = fit->sigma;
	m->key_type = "text";
	m->x_names = names;
	m->beta = fit->beta;
	m->vcov = fit->vcov;
	m->formula = "";
	m->tstats = st;
	m->nextra = fit->nterms - 1;
	m->extra = calloc(fit->nterms, sizeof(LmmModelTerm));
	for (t = 0; t < fit->nterms; t++)
	{
		LmmModelTerm *mt = &m->extra[t];

		mt->grp = grp[fit->term[t].src];
		mt->q = fit->term[t].q;
		mt->z_names = names;
		mt->theta = fit->theta + toff;
		mt->nlevels = fit->term[t].nlevels;
		mt->levels = keys->key[fit->term[t].src];
		mt->b = fit->term[t].b;
		mt->condvar = fit->term[t].condvar;
		toff += LMM_NTHETA(mt->q);
	}
	m->grp = m->extra[0].grp;
	m->q = m->extra[0].q;
	m->z_names = names;
	m->theta = m->extra[0].theta;
	m->nlevels = m->extra[0].nlevels;
	m->levels = m->extra[0].levels;
	m->b = m->extra[0].b;
	m->condvar = m->extra[0].condvar;
	m->extra++;
}

/* Release what model_of_terms allocated. */
static void
model_terms_free(LmmModel *m)
{
	free(m->extra - 1);
}

/*
 * Format 4: a model of several terms carries its statistics through a pack
 * and unpack, which refuses them truncated or not the model's; its format 3
 * form (as lmm 0.6 stored it) loads without them; the profile and refit of
 * the unpacked statistics are those of the originals.
 */
static void
model_tstats(LmmTermStats *st, const TestKeys *keys)
{
	LmmFit		fit,
				refit,
				ml;
	LmmModel	m,
				back;
	LmmProfile	a,
				b;
	unsigned char *buf;
	size_t		size,
				len;
	int			refused = 1,
				k;
	double		err = 0.0;

	check(lmm_fit(st, 1, 0, &fit) == LMM_OK, "model format 4: the REML fit");
	model_of_terms(st, keys, &fit, &m);
	check(lmm_model_check(&m) == NULL, "model format 4: a model with its statistics passes the check");
	size = lmm_model_packed_size(&m);
	buf = malloc(size);
	lmm_model_pack(&m, buf);
	check(lmm_model_unpack(buf, size, &back) == NULL && back.tstats != NULL &&
		  lmm_model_packed_size(&back) == size,
		  "model format 4: the statistics round-trip");
	/* to 1e-10, not bit for bit: BLAS may round differently at other addresses */
	check(lmm_profile(st, 0.95, &a) == LMM_OK &&
		  lmm_profile(back.tstats, 0.95, &b) == LMM_OK &&
		  a.npar == lmm_model_ntheta(&back) + 1 + back.p,
		  "model format 4: the unpacked statistics profile");
	for (k = 0; k < a.npar; k++)
		err = fmax(err, fmax(fabs(a.lower[k] - b.lower[k]) / fabs(a.lower[k]),
							 fabs(a.upper[k] - b.upper[k]) / fabs(a.upper[k])));
	check(err < 1e-10, "model format 4: the unpacked statistics profile as the originals");
	lmm_profile_free(&a);
	lmm_profile_free(&b);
	check(lmm_fit(back.tstats, 0, 0, &refit) == LMM_OK &&
		  lmm_fit(st, 0, 0, &ml) == LMM_OK &&
		  fabs(refit.criterion - ml.criterion) < 1e-10 * fabs(ml.criterion),
		  "model format 4: the ML refit of the unpacked statistics is that of the originals");
	lmm_fit_free(&refit);
	lmm_fit_free(&ml);
	lmm_model_free(&back);
	for (len = size - lmm_model_tstats_size(&m) - 12; len < size; len++)
	{
		if (lmm_model_unpack(buf, len, &back) == NULL)
			refused = 0;
		lmm_model_free(&back);
	}
	check(refused, "model format 4: every truncation of the statistics is refused");
	free(buf);

	/* statistics of other levels, rows or dropped rows are not the model's */
	st->term[fit.term[0].src].nlevels--;
	check(lmm_model_check(&m) != NULL, "model format 4: statistics of other levels (one fewer) are refused");
	st->term[fit.term[0].src].nlevels++;
	m.n_obs++;
	check(lmm_model_check(&m) != NULL, "model format 4: statistics of another row count are refused");
	m.n_obs--;
	buf = malloc(size);
	lmm_model_pack(&m, buf);
	m.n_dropped++;
	check(lmm_model_unpack(buf, size, &back) == NULL, "model format 4: unpacks");
	lmm_model_free(&back);
	buf[size - lmm_model_tstats_size(&m) + 27] ^= 1;	/* n_dropped of the statistics */
	check(lmm_model_unpack(buf, size, &back) != NULL,
		  "model format 4: statistics whose dropped rows differ are refused");
	lmm_model_free(&back);
	m.n_dropped--;
	free(buf);

	/* format 3: the same model without its statistics (and the word that says so) */
	m.tstats = NULL;
	size = lmm_model_packed_size(&m);
	buf = malloc(size);
	lmm_model_pack(&m, buf);
	buf[7] = 3;
	check(lmm_model_unpack(buf, size - 4, &back) == NULL && back.tstats == NULL &&
		  back.nextra == 1 && back.theta[0] == fit.theta[0],
		  "model format 3: a model of lmm 0.6 loads, without statistics");
	lmm_model_free(&back);
	free(buf);
	model_terms_free(&m);
	lmm_fit_free(&fit);
}

/* A number of a fuzz_terms table: one byte, small steps, with a few huge and tiny ones. */
static double
fuzz_number(unsigned char b)
{
	if (b == 0xFF)
		return 1e150;
	if (b == 0xFE)
		return -3e-160;
	if (b == 0xFD)
		return 1e15 + 0.5;
	return ((int) b - 128) / 8.0;
}

/*
 * The statistics of a table in fuzz_terms' format (test/fuzz/fuzz_terms.c),
 * its rows added in order to one state; *reml as its header says.  Returns
 * 0 when the file cannot be read.
 */
static int
fuzz_table(const char *path, LmmTermStats *st, TestKeys *keys, int *reml)
{
	unsigned char data[4096];
	int			q[LMM_MAX_TERMS];
	int			p,
				k,
				nz = 0,
				intercept,
				width,
				t,
				row;
	size_t		size,
				at = 4;
	FILE	   *f = fopen(path, "rb");

	if (f == NULL)
		return 0;
	size = fread(data, 1, sizeof(data), f);
	fclose(f);
	if (size < 4)
		return 0;
	p = 1 + data[0] % 3;
	intercept = !(data[0] & 0x4);
	k = 1 + data[1] % 3;
	*reml = !(data[1] & 0x4);
	for (t = 0; t < k; t++)
	{
		q[t] = (data[2] >> t) & 1 ? 2 : 1;
		nz += q[t];
	}
	width = k + (intercept ? p - 1 : p) + 1 + (nz - k);
	lmm_terms_init(st, p, k, q);
	test_keys_init(keys);
	for (row = 0; row < 120 && at + width <= size; row++, at += width)
	{
		const unsigned char *r = data + at;
		char		keybuf[LMM_MAX_TERMS][4];
		const char *key[LMM_MAX_TERMS];
		uint32_t	keylen[LMM_MAX_TERMS];
		double		x[3],
					z[2 * LMM_MAX_TERMS],
					y;
		int			c = 0,
					a,
					zi = 0;

		for (t = 0; t < k; t++, c++)
		{
			if (r[c] < 0x40)
			{
				keylen[t] = (uint32_t) (r[c] % 3);
				memset(keybuf[t], 'a' + (r[c] >> 2) % 8, sizeof(keybuf[t]));
				keybuf[t][keylen[t]] = '\0';
			}
			else
				keylen[t] = (uint32_t) snprintf(keybuf[t], sizeof(keybuf[t]), "%d", r[c]);
			key[t] = keybuf[t];
		}
		for (a = 0; a < p; a++)
			x[a] = (a == 0 && intercept) ? 1.0 : fuzz_number(r[c++]);
		y = fuzz_number(r[c++]);
		for (t = 0; t < k; t++)
		{
			z[zi++] = 1.0;
			if (q[t] == 2)
				z[zi++] = fuzz_number(r[c++]);
		}
		test_keys_add_row(st, keys, x, y, key, keylen, z);
	}
	return 1;
}

/*
 * The fit of a fuzz_terms seed (test/fuzz/corpus/terms/name), interrupted
 * after polls polls of the host when polls >= 0: its status, and its
 * evaluations in *n_eval.  LMM_ERR_INCONSISTENT when the seed is missing.
 */
static LmmStatus
fit_seed(const char *dir, const char *name, long polls, int *n_eval)
{
	char		path[1024];
	LmmTermStats st;
	TestKeys	keys;
	LmmFit		fit;
	LmmStatus	status;
	int			reml;

	snprintf(path, sizeof(path), "%s/../fuzz/corpus/terms/%s", dir, name);
	if (!fuzz_table(path, &st, &keys, &reml))
		return LMM_ERR_INCONSISTENT;
	host_polls_left = polls;
	status = lmm_fit(&st, reml, 1, &fit);
	host_polls_left = -1;
	*n_eval = fit.n_eval;
	printf("%s: status %d after %d evaluations\n", name, (int) status, fit.n_eval);
	if (status == LMM_OK)
		lmm_fit_free(&fit);
	lmm_terms_free(&st);
	test_keys_free(&keys);
	return status;
}

/*
 * fuzz corpus regress_slow_fit: 45 rows, three terms (20 levels; 18 and 16
 * with a slope), 88 random effects of which 45 are independent, so Z
 * reproduces any y.  The ML criterion falls as theta grows, towards zero
 * residual variance, where BOBYQA alone would walk for over ten thousand
 * evaluations and stop at an arbitrary small sigma: the fit is refused as
 * exact after a few looks along the ray (lmm_fit.c), 800 evaluations
 * apart.  regress_slow_walk: 44 rows, three terms, y within 2e-5 of what
 * the fixed and two of the random terms reproduce, so the optimum is
 * finite but far out, twenty thousand evaluations away: fuzz_terms'
 * budget of 3000 polls of the host interrupts the fit cleanly.
 */
static void
slow_seeds(const char *dir)
{
	int			n_eval = 0;
	LmmStatus	status;

	status = fit_seed(dir, "regress_slow_fit", -1, &n_eval);
	check(status == LMM_ERR_PERFECT_FIT, "terms: regress_slow_fit refused as an exact fit");
	check(n_eval <= 4000, "terms: regress_slow_fit refused within 4000 evaluations");
	status = fit_seed(dir, "regress_slow_walk", 3000, &n_eval);
	check(status == LMM_ERR_INTERRUPTED && n_eval <= 1600,
		  "terms: regress_slow_walk interrupted by 3000 polls within 1600 evaluations");
}

/*
 * y reproduced exactly by two crossed factors, one with a random slope
 * (BOBYQA's path): refused as an exact fit within a bounded number of
 * evaluations, REML and ML, where it used to stop at a small arbitrary
 * sigma; the same table with noise fits.
 */
static void
exact_slope(void)
{
	int			q[2] = {1, 2};
	int			reml,
				noisy;

	for (noisy = 0; noisy <= 1; noisy++)
		for (reml = 0; reml <= 1; reml++)
		{
			LmmTermStats st;
			TestKeys	keys;
			LmmFit		fit;
			LmmStatus	status;
			char		what[128];
			int			i;

			lmm_terms_init(&st, 1, 2, q);
			test_keys_init(&keys);
			for (i = 0; i < 60; i++)
			{
				int			a = i % 9,
							b = i * 7 / 3 % 6;
				char		ka[8],
							kb[8];
				const char *key[2] = {ka, kb};
				uint32_t	kl[2];
				double		x[1] = {1.0};
				double		zv = (i * 37 % 100) / 10.0;
				double		z[3] = {1.0, 1.0, zv};
				double		y = 2.0 * sin(a) + 1.3 * b + 0.2 * (b - 2.5) * zv;

				if (noisy)
					y += 0.1 * ((i * 7919 % 1000) / 1000.0 - 0.5);
				kl[0] = (uint32_t) snprintf(ka, sizeof(ka), "a%d", a);
				kl[1] = (uint32_t) snprintf(kb, sizeof(kb), "b%d", b);
				test_keys_add_row(&st, &keys, x, y, key, kl, z);
			}
			status = lmm_fit(&st, reml, 1, &fit);
			printf("exact slope%s %s: status %d after %d evaluations\n",
				   noisy ? " with noise" : "", reml ? "REML" : "ML", (int) status, fit.n_eval);
			if (noisy)
			{
				snprintf(what, sizeof(what), "terms: y with noise fits (%s)", reml ? "REML" : "ML");
				check(status == LMM_OK && fit.converged, what);
			}
			else
			{
				snprintf(what, sizeof(what), "terms: y reproduced exactly refused within 1100 evaluations (%s)",
						 reml ? "REML" : "ML");
				check(status == LMM_ERR_PERFECT_FIT && fit.n_eval <= 1100, what);
			}
			if (status == LMM_OK)
				lmm_fit_free(&fit);
			lmm_terms_free(&st);
			test_keys_free(&keys);
		}
}

/* Penicillin (crossed) and Pastes (nested) against lme4, REML and ML; merges of parts. */
void
test_terms(const char *dir)
{
	static Table tb;
	const char *method[2] = {"ML", "REML"};
	int			reml;

	ratings_share(dir);
	slow_seeds(dir);
	exact_slope();

	if (read_table(dir, "penicillin.csv", &tb) != 0 || tb.nrow != 144)
	{
		check(0, "terms: read penicillin.csv");
		return;
	}
	for (reml = 0; reml <= 1; reml++)
	{
		int			q[2] = {1, 1};
		int			g[2] = {col(&tb, "plate"), col(&tb, "sample")};
		int			g2[2] = {-1, -1};
		LmmTermStats st,
					a,
					b;
		TestKeys	kst,
					ka,
					kb;
		LmmFit		fit;
		char		pre[128];
		double		err = 0.0;

		lmm_terms_init(&st, 1, 2, q);
		test_keys_init(&kst);
		add_rows(&st, &kst, &tb, col(&tb, "diameter"), g, g2, 0, tb.nrow);
		check_gradient(&st, reml, "penicillin");
		check_hessian(&st, reml, "penicillin");
		check_pairs(&st, reml, "penicillin");
		check_share(&st, reml, "penicillin");
		check(lmm_fit(&st, reml, 1, &fit) == LMM_OK, "terms: penicillin fits");
		check(fit.nterms == 2 && fit.term[0].nlevels == 24 && fit.term[1].nlevels == 6,
			  "terms: penicillin terms in lme4's order (plate, sample)");
#define REL(x, key) do { snprintf(pre, sizeof(pre), "penicillin,%s,tight,%s", method[reml], key); \
	err = fmax(err, fabs((x) - ref(dir, pre)) / fabs(ref(dir, pre))); } while (0)
		REL(fit.theta[0], "theta,,plate.(Intercept)");
		REL(fit.theta[1], "theta,,sample.(Intercept)");
		REL(fit.sigma, "sigma,");
		REL(fit.criterion, "criterion,");
		REL(fit.beta[0], "beta,,(Intercept)");
		REL(sqrt(fit.vcov[0]), "se,,(Intercept)");
		REL(mode_of(&kst, &fit, 0, "g", 0), "ranef,plate,(Intercept),,g");
		REL(mode_of(&kst, &fit, 1, "F", 0), "ranef,sample,(Intercept),,F");
		REL(mode_of(&kst, &fit, 0, "g", 1), "condsd,plate,(Intercept),,g");
		REL(mode_of(&kst, &fit, 1, "F", 1), "condsd,sample,(Intercept),,F");
		printf("penicillin %s: max rel err %.3g (theta %.10g %.10g)\n", method[reml], err,
			   fit.theta[0], fit.theta[1]);
		check(err < 1e-6, "terms: penicillin agrees with lme4 to 1e-6");
		check(df_error(dir, &fit, "penicillin") < 1e-6, "terms: penicillin df agree with lmerTest to 1e-6");
		snprintf(pre, sizeof(pre), "penicillin,%s,default,criterion,", method[reml]);
		check(fit.criterion <= ref(dir, pre) + 1e-9, "terms: penicillin criterion no worse than lme4's");
		{
			const char *names[4] = {"sd_(Intercept)|plate", "sd_(Intercept)|sample", "sigma",
			"(Intercept)"};

			err = profile_error(dir, &st, "penicillin", method[reml], names);
			printf("penicillin %s: profile ends vs lme4 %.3g\n", method[reml], err);
			check(err < 1e-3, "terms: penicillin profile intervals agree with lme4 to 1e-3");
		}

		/* two parts merged: the same fit */
		lmm_terms_init(&a, 1, 2, q);
		lmm_terms_init(&b, 1, 2, q);
		test_keys_init(&ka);
		test_keys_init(&kb);
		add_rows(&a, &ka, &tb, col(&tb, "diameter"), g, g2, 0, 61);
		add_rows(&b, &kb, &tb, col(&tb, "diameter"), g, g2, 61, tb.nrow);
		test_keys_merge(&a, &ka, &b, &kb);
		{
			LmmFit		fm;

			check(lmm_fit(&a, reml, 0, &fm) == LMM_OK &&
				  fabs(fm.criterion - fit.criterion) < 1e-9 &&
				  fabs(fm.theta[1] - fit.theta[1]) < 1e-6 * fit.theta[1],
				  "terms: merged parts fit as the whole");
			lmm_fit_free(&fm);
		}
		lmm_terms_free(&a);
		lmm_terms_free(&b);
		test_keys_free(&ka);
		test_keys_free(&kb);
		lmm_fit_free(&fit);
		if (reml)
			model_tstats(&st, &kst);
		lmm_terms_free(&st);
		test_keys_free(&kst);
	}

	if (read_table(dir, "pastes.csv", &tb) != 0 || tb.nrow != 60)
	{
		check(0, "terms: read pastes.csv");
		return;
	}
	for (reml = 0; reml <= 1; reml++)
	{
		int			q[2] = {1, 1};
		int			g[2] = {col(&tb, "batch"), col(&tb, "batch")};
		int			g2[2] = {-1, col(&tb, "cask")};
		LmmTermStats st;
		TestKeys	keys;
		LmmFit		fit;
		char		pre[128];
		double		err = 0.0;

		lmm_terms_init(&st, 1, 2, q);
		test_keys_init(&keys);
		add_rows(&st, &keys, &tb, col(&tb, "strength"), g, g2, 0, tb.nrow);
		check_gradient(&st, reml, "pastes");
		check_hessian(&st, reml, "pastes");
		check_pairs(&st, reml, "pastes");
		check(lmm_fit(&st, reml, 1, &fit) == LMM_OK && fit.term[0].src == 1,
			  "terms: pastes fits, batch:cask first");
#undef REL
#define REL(x, key) do { snprintf(pre, sizeof(pre), "pastes,%s,tight,%s", method[reml], key); \
	err = fmax(err, fabs((x) - ref(dir, pre)) / fabs(ref(dir, pre))); } while (0)
		REL(fit.sigma, "sigma,");
		REL(fit.criterion, "criterion,");
		REL(fit.beta[0], "beta,,(Intercept)");
		REL(fit.theta[0] * fit.sigma, "sdcor,cask:batch,(Intercept)");
		REL(fit.theta[1] * fit.sigma, "sdcor,batch,(Intercept)");
		printf("pastes %s: max rel err %.3g\n", method[reml], err);
		check(err < 1e-6, "terms: pastes agrees with lme4 to 1e-6");
		check(df_error(dir, &fit, "pastes") < 1e-6, "terms: pastes df agree with lmerTest to 1e-6");
		{
			const char *names[4] = {"sd_(Intercept)|cask:batch", "sd_(Intercept)|batch", "sigma",
			"(Intercept)"};

			err = profile_error(dir, &st, "pastes", method[reml], names);
			printf("pastes %s: profile ends vs lme4 %.3g\n", method[reml], err);
			check(err < 1e-3, "terms: pastes profile intervals agree with lme4 to 1e-3");
		}
		lmm_fit_free(&fit);
		lmm_terms_free(&st);
		test_keys_free(&keys);
	}
}
