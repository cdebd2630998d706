/*
 * test_core.c
 *	  Unit tests of the PostgreSQL-free core: exact merges, the fit against
 *	  lme4's numbers, and the binary forms of models and statistics under
 *	  corruption.
 *	  Usage: test_core DATA_DIR.  Prints "core: N passed, M failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_dist.h"
#include "lmm_fit.h"
#include "lmm_index.h"
#include "lmm_anova.h"
#include "lmm_infer.h"
#include "lmm_lsmeans.h"
#include "lmm_model.h"
#include "lmm_stats.h"
#include "lmm_stats_io.h"
#include "lmm_terms.h"
#include "lmm_terms_io.h"
#include "test_core.h"
#include "test_util.h"

static int	n_pass;
static int	n_fail;

/* Record one check. */
void
check(int ok, const char *what)
{
	if (ok)
		n_pass++;
	else
	{
		n_fail++;
		printf("FAILED: %s\n", what);
	}
}

/* Relative difference, safe at zero. */
static double
rel(double a, double b)
{
	return fabs(a - b) / fmax(fabs(b), 1e-300);
}

typedef struct Sleep
{
	int			n;
	double		reaction[200];
	double		days[200];
	int			subject[200];
} Sleep;

/* Read sleepstudy.csv: Reaction, Days, "Subject". */
static int
read_sleep(const char *dir, Sleep *s)
{
	char		path[1024];
	char		line[256];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/sleepstudy.csv", dir);
	if ((f = fopen(path, "r")) == NULL || fgets(line, sizeof(line), f) == NULL)
		return -1;
	s->n = 0;
	while (s->n < 200 && fgets(line, sizeof(line), f) != NULL)
	{
		if (sscanf(line, "%lf,%lf,\"%d\"", &s->reaction[s->n], &s->days[s->n],
				   &s->subject[s->n]) == 3)
			s->n++;
	}
	fclose(f);
	return s->n == 180 ? 0 : -1;
}

/* One value from a reference file: METHOD,KIND,GRP,LEVEL,TERM,... */
static double
ref_value(const char *dir, const char *file, const char *prefix)
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
			v = atof(strrchr(line, ',') + 1);
	fclose(f);
	return v;
}

/* One-term statistics of p fixed and q random columns (intercepts included). */
static void
init1(LmmTermStats *st, int p, int q)
{
	lmm_terms_init(st, p, 1, &q);
}

/* Add rows [from, to) of sleepstudy with random slope on days (q = 2). */
static void
add_sleep_rows(LmmTermStats *st, const Sleep *s, int from, int to, int64_t *level_of)
{
	int			i;

	for (i = from; i < to; i++)
	{
		double		v[3] = {s->days[i], s->days[i], s->reaction[i]};
		int			subj = s->subject[i];

		if (level_of[subj] < 0)
			level_of[subj] = lmm_terms_add_level(st, 0);
		test_add_row1(st, level_of[subj], v);
	}
}

/* The same rows into lmm 0.6's statistics (Welford's update), as it wrote them. */
static void
add_sleep_rows_legacy(LmmStats *st, const Sleep *s, int64_t *level_of)
{
	int			i;

	for (i = 0; i < s->n; i++)
	{
		double		v[3] = {s->days[i], s->days[i], s->reaction[i]};
		int			subj = s->subject[i];

		if (level_of[subj] < 0)
			level_of[subj] = test_legacy_add_level(st);
		test_legacy_add_row(st, level_of[subj], v);
	}
}

/* Scaled difference of two numbers: relative above 1, absolute below. */
static double
scaled_diff(double x, double y)
{
	return fabs(x - y) / fmax(fabs(y), 1.0);
}

/*
 * Merging statistics of parts (split mid-group, the second part with its
 * own shift and level numbers) equals the statistics of the whole.
 */
static void
test_merge(const Sleep *s)
{
	LmmTermStats whole,
				a,
				b;
	int64_t		lw[400],
				la[400],
				lb[400];
	int64_t		bmap[400];
	int64_t    *map[1] = {bmap};
	int			subj;
	double		maxerr = 0.0;
	int64_t		j;
	int			k;

	memset(lw, -1, sizeof(lw));
	memset(la, -1, sizeof(la));
	memset(lb, -1, sizeof(lb));
	init1(&whole, 2, 2);
	init1(&a, 2, 2);
	init1(&b, 2, 2);
	add_sleep_rows(&whole, s, 0, s->n, lw);
	/* split mid-group: rows 0..96 and 97..179 */
	add_sleep_rows(&a, s, 0, 97, la);
	add_sleep_rows(&b, s, 97, s->n, lb);

	for (subj = 0; subj < 400; subj++)
	{
		if (lb[subj] < 0)
			continue;
		if (la[subj] < 0)
			la[subj] = lmm_terms_add_level(&a, 0);
		bmap[lb[subj]] = la[subj];
	}
	lmm_terms_merge(&a, &b, map);
	check(a.n == whole.n && a.term[0].nlevels == whole.term[0].nlevels, "merge: counts");
	for (k = 0; k <= a.p; k++)
		maxerr = fmax(maxerr, scaled_diff(a.shift[k], whole.shift[k]) +
					  scaled_diff(a.sum[k], whole.sum[k]));
	for (k = 0; k < (a.p + 1) * (a.p + 1); k++)
		if (k / (a.p + 1) <= k % (a.p + 1))
			maxerr = fmax(maxerr, scaled_diff(a.cross[k], whole.cross[k]));
	for (subj = 0; subj < 400; subj++)
	{
		if (lw[subj] < 0)
			continue;
		for (j = 0; j < whole.term[0].stride; j++)
			maxerr = fmax(maxerr,
						  scaled_diff(a.term[0].rec[(size_t) la[subj] * a.term[0].stride + j],
									  whole.term[0].rec[(size_t) lw[subj] * whole.term[0].stride + j]));
	}
	check(maxerr < 1e-12, "merge: statistics of two parts equal those of the whole to 1e-12");
	lmm_terms_free(&whole);
	lmm_terms_free(&a);
	lmm_terms_free(&b);
}

/* The core's fits match lme4 on sleepstudy (intercept; intercept and slope). */
static void
test_fit(const Sleep *s, const char *dir)
{
	int			q;

	for (q = 1; q <= 2; q++)
	{
		int			reml;

		for (reml = 1; reml >= 0; reml--)
		{
			LmmTermStats st;
			LmmFit		fit;
			int64_t		lv[400];
			int			i;
			const char *file = q == 1 ? "sleep_int.ref.csv" : "sleep_slope.ref.csv";
			const char *m = reml ? "REML" : "ML";
			char		key[128];
			char		what[256];
			double		crit,
						slope;

			memset(lv, -1, sizeof(lv));
			init1(&st, 2, q);
			for (i = 0; i < s->n; i++)
			{
				double		v[3];
				int			k = 0;

				if (q == 2)
					v[k++] = s->days[i];
				v[k++] = s->days[i];
				v[k++] = s->reaction[i];
				if (lv[s->subject[i]] < 0)
					lv[s->subject[i]] = lmm_terms_add_level(&st, 0);
				test_add_row1(&st, lv[s->subject[i]], v);
			}
			snprintf(what, sizeof(what), "fit %s %s: status", file, m);
			check(lmm_fit(&st, reml, 1, &fit) == LMM_OK, what);

			snprintf(key, sizeof(key), "%s,crit,", m);
			crit = ref_value(dir, file, key);
			snprintf(what, sizeof(what), "fit %s %s: criterion %.12g no worse than lme4's %.12g",
					 file, m, fit.criterion, crit);
			check(fit.criterion <= crit + 1e-10 * fabs(crit), what);
			snprintf(key, sizeof(key), "%s,fixef,,,Days,", m);
			slope = ref_value(dir, file, key);
			snprintf(what, sizeof(what), "fit %s %s: slope %.12g vs lme4 %.12g", file, m,
					 fit.beta[1], slope);
			check(rel(fit.beta[1], slope) < 1e-9, what);
			snprintf(key, sizeof(key), "%s,sigma,", m);
			snprintf(what, sizeof(what), "fit %s %s: sigma", file, m);
			check(rel(fit.sigma, ref_value(dir, file, key)) < (reml || q == 1 ? 1e-6 : 1e-5), what);
			lmm_fit_free(&fit);
			lmm_terms_free(&st);
		}
	}
}

/* A small valid model and the arrays it points into. */
typedef struct SmallModel
{
	LmmModel	m;
	double		beta[2],
				vcov[4],
				theta[1],
				b[3],
				cv[3];
	char	   *xn[2],
			   *zn[1],
			   *lv[3];
} SmallModel;

/* Fill s with a valid model of three levels keyed "1", "2", "3". */
static void
make_model(SmallModel *s)
{
	static const SmallModel init = {
		.beta = {1.25, -0.5}, .vcov = {0.1, 0.01, 0.01, 0.2}, .theta = {0.8},
		.b = {0.3, -0.2, -0.1}, .cv = {0.04, 0.05, 0.06},
		.xn = {"(Intercept)", "x1"}, .zn = {"(Intercept)"}, .lv = {"1", "2", "3"}
	};
	LmmModel   *m = &s->m;

	*s = init;
	m->flags = LMM_MODEL_REML | LMM_MODEL_CONVERGED;
	m->p = 2;
	m->q = 1;
	m->nlevels = 3;
	m->n_obs = 10;
	m->n_eval = 12;
	m->criterion = 10.5;
	m->loglik = -5.25;
	m->aic = 18.5;
	m->bic = 19.7;
	m->sigma = 1.5;
	m->grp = "g";
	m->key_type = "integer";
	m->x_names = s->xn;
	m->z_names = s->zn;
	m->beta = s->beta;
	m->vcov = s->vcov;
	m->theta = s->theta;
	m->levels = s->lv;
	m->b = s->b;
	m->condvar = s->cv;
}

/* Packing round-trips; every truncation and many corruptions are refused cleanly. */
static void
test_model_bytes(void)
{
	SmallModel	sm;
	LmmModel   *m = &sm.m;
	LmmModel	back;
	size_t		size,
				len;
	unsigned char *buf;
	int			refused = 1;
	int			flips_ok = 1;
	size_t		i;

	make_model(&sm);
	check(lmm_model_check(m) == NULL, "model: valid model passes its check");
	size = lmm_model_packed_size(m);
	buf = malloc(size);
	lmm_model_pack(m, buf);
	check(lmm_model_unpack(buf, size, &back) == NULL, "model: unpack of a packed model");
	check(back.p == 2 && back.nlevels == 3 && back.b[1] == -0.2 &&
		  strcmp(back.levels[2], "3") == 0 && back.sigma == 1.5,
		  "model: values survive the round trip");
	lmm_model_free(&back);

	for (len = 0; len < size; len++)
	{
		if (lmm_model_unpack(buf, len, &back) == NULL)
			refused = 0;
		lmm_model_free(&back);
	}
	check(refused, "model: every truncation is refused");

	/* flip each byte: unpack must return (no crash), and refuse any header flip */
	for (i = 0; i < size; i++)
	{
		unsigned char saved = buf[i];
		const char *problem;

		buf[i] ^= 0xA5;
		problem = lmm_model_unpack(buf, size, &back);
		if (i < 8 && problem == NULL)
			flips_ok = 0;
		lmm_model_free(&back);
		buf[i] = saved;
	}
	check(flips_ok, "model: a flipped magic or version byte is refused");

	m->sigma = -1.0;
	check(lmm_model_check(m) != NULL, "model: negative sigma refused");
	m->sigma = 1.5;
	m->theta[0] = NAN;
	check(lmm_model_check(m) != NULL, "model: NaN theta refused");
	free(buf);
}

/*
 * The optional section of the fixed part's factors round-trips, a value
 * with it has one binary form (names in byte order, each level once, at
 * least two), and a truncation inside it is refused; a value cut where
 * it begins is a model without factors, as lmm 0.7's earlier values are.
 */
static void
test_model_factors(void)
{
	SmallModel	sm;
	LmmModel   *m = &sm.m;
	LmmModel	back;
	char	   *la[3] = {"A", "B", "C"},
			   *lb[2] = {"TRUE", "FALSE"};
	LmmModelFactor f[2] = {{"recipe", 3, la}, {"x", 2, lb}};
	size_t		size,
				plain,
				len;
	unsigned char *buf;
	int			refused = 1;

	make_model(&sm);
	plain = lmm_model_packed_size(m);
	m->nfactors = 2;
	m->factors = f;
	check(lmm_model_check(m) == NULL, "factors: a model with factors passes its check");
	size = lmm_model_packed_size(m);
	buf = malloc(size);
	lmm_model_pack(m, buf);
	check(lmm_model_unpack(buf, size, &back) == NULL && back.nfactors == 2 &&
		  strcmp(back.factors[0].name, "recipe") == 0 && back.factors[0].nlevels == 3 &&
		  strcmp(back.factors[0].levels[2], "C") == 0 &&
		  strcmp(back.factors[1].levels[1], "FALSE") == 0,
		  "factors: they survive the round trip");
	lmm_model_free(&back);
	for (len = plain + 1; len < size; len++)
	{
		if (lmm_model_unpack(buf, len, &back) == NULL)
			refused = 0;
		lmm_model_free(&back);
	}
	check(refused, "factors: every truncation inside the section is refused");
	check(lmm_model_unpack(buf, plain, &back) == NULL && back.nfactors == 0,
		  "factors: a value without the section is a model without factors");
	lmm_model_free(&back);
	f[0].name = "y";
	check(lmm_model_check(m) != NULL, "factors: names out of byte order refused");
	f[0].name = "recipe";
	la[2] = "A";
	check(lmm_model_check(m) != NULL, "factors: a level twice refused");
	la[2] = "C";
	f[1].nlevels = 1;
	check(lmm_model_check(m) != NULL, "factors: a factor of one level refused");
	f[1].nlevels = 2;
	f[1].name = "";
	f[0].name = "";
	check(lmm_model_check(m) != NULL, "factors: an empty name refused");
	free(buf);
}

/*
 * lmerTest's least-squares means on a small design, by hand: y ~ a * b + x
 * with a of 3 levels, b of 2 (treatment contrasts), x numeric of mean 2;
 * a cell of a averages b's levels equally, one of b averages a's, x at its
 * mean; a covariate with no column of its own has no mean.
 */
static void
test_lsmeans(void)
{
	/* columns: (Intercept) a2 a3 b2 x a2:b2 a3:b2 */
	LmmAnovaTerm terms[4] = {
		{1, {{0, 3, 0, 0}}}, {1, {{1, 2, 0, 0}}}, {1, {{2, 0, 0, 0}}},
		{2, {{0, 3, 0, 0}, {1, 2, 0, 0}}}};
	int			col_term[7] = {-1, 0, 0, 1, 2, 3, 3};
	int			col_level[7 * LMM_ANOVA_MAX_VARS] = {0};
	LmmAnovaDesign d = {7, 1, 4, terms, col_term, col_level};
	double		colmean[7] = {1.0, 0.3, 0.3, 0.5, 2.0, 0.1, 0.2};
	double		mean[3] = {0.0, 0.0, 0.0};
	double		L[6 * 7];
	double		a2[7] = {1, 1, 0, 0.5, 2, 0.5, 0},
				b2[7] = {1, 1.0 / 3, 1.0 / 3, 1, 2, 1.0 / 3, 1.0 / 3},
				a3b2[7] = {1, 0, 1, 1, 2, 0, 1};
	int			k,
				ok = 1;

	col_level[1 * LMM_ANOVA_MAX_VARS] = 1;
	col_level[2 * LMM_ANOVA_MAX_VARS] = 2;
	col_level[3 * LMM_ANOVA_MAX_VARS] = 1;
	col_level[5 * LMM_ANOVA_MAX_VARS] = 1;
	col_level[5 * LMM_ANOVA_MAX_VARS + 1] = 1;
	col_level[6 * LMM_ANOVA_MAX_VARS] = 2;
	col_level[6 * LMM_ANOVA_MAX_VARS + 1] = 1;
	check(lmm_lsmeans_var_means(&d, 3, colmean, mean) == -1 && mean[2] == 2.0,
		  "lsmeans: a covariate's mean from its own column");
	check(lmm_lsmeans_ncells(&d, 0) == 3.0 && lmm_lsmeans_ncells(&d, 3) == 6.0 &&
		  lmm_lsmeans_ncells(&d, 2) == 0.0, "lsmeans: cells of terms of factors only");
	lmm_lsmeans_cells(&d, 0, mean, L);
	for (k = 0; k < 7; k++)
		ok = ok && fabs(L[7 + k] - a2[k]) < 1e-15;
	check(ok, "lsmeans: a level of a averages b's levels, x at its mean");
	lmm_lsmeans_cells(&d, 1, mean, L);
	for (k = 0; k < 7; k++)
		ok = ok && fabs(L[7 + k] - b2[k]) < 1e-15;
	check(ok, "lsmeans: a level of b averages a's levels");
	lmm_lsmeans_cells(&d, 3, mean, L);
	for (k = 0; k < 7; k++)
		ok = ok && fabs(L[5 * 7 + k] - a3b2[k]) < 1e-15 && L[k] == (k == 0 || k == 4 ? mean[2] * (k == 4) + (k == 0) : 0.0);
	check(ok, "lsmeans: the cells of a:b, a fastest");
	terms[2].nvars = 2;
	terms[2].var[1] = terms[0].var[0];
	check(lmm_lsmeans_var_means(&d, 3, colmean, mean) == 2,
		  "lsmeans: a covariate only in a term with a contrast-coded factor has no mean");
	terms[2].var[1].full = 1;
	check(lmm_lsmeans_var_means(&d, 3, colmean, mean) == -1 && mean[2] == 2.0,
		  "lsmeans: the columns of a covariate times a factor coded by every level sum to its mean");
}

/*
 * The scoring index finds every level of a packed model and no other key,
 * with its conditional modes; it refuses repeated keys and every truncation
 * of the level records.
 */
static void
test_index(void)
{
	SmallModel	sm;
	LmmModel   *m = &sm.m;
	LmmModel	head;
	LmmIndex	ix;
	size_t		size,
				at,
				len;
	unsigned char *buf;
	const unsigned char *rec;
	int			found = 1;
	int			refused = 1;
	int			k;

	make_model(&sm);
	sm.lv[1] = "22";
	sm.lv[2] = "333";
	size = lmm_model_packed_size(m);
	buf = malloc(size);
	lmm_model_pack(m, buf);
	check(lmm_model_unpack_head(buf, size, &head, &at) == NULL && head.nlevels == 3,
		  "index: the head of a packed model unpacks");
	check(lmm_index_build(&ix, buf + at, size - at, head.nlevels, head.q) == NULL,
		  "index: builds from the level records");
	for (k = 0; k < 3; k++)
	{
		rec = lmm_index_find(&ix, sm.lv[k], strlen(sm.lv[k]));
		if (rec == NULL || lmm_index_b(rec, 0) != sm.b[k])
			found = 0;
	}
	check(found, "index: every level is found with its b");
	check(lmm_index_find(&ix, "2", 1) == NULL && lmm_index_find(&ix, "222", 3) == NULL &&
		  lmm_index_find(&ix, "", 0) == NULL, "index: prefixes and extensions of keys are not found");
	lmm_index_free(&ix);

	/*
	 * the records end 20 bytes early: the version 2 tail (ninf = 0, no
	 * statistics), the version 3 one (empty formula, no extra terms) and the
	 * version 4 one (no several-term statistics)
	 */
	for (len = 0; len < size - at - 20; len++)
	{
		if (lmm_index_build(&ix, buf + at, len, head.nlevels, head.q) == NULL)
			refused = 0;
		lmm_index_free(&ix);
	}
	check(refused, "index: every truncation of the level records is refused");
	lmm_model_free(&head);
	free(buf);

	sm.lv[2] = "1";
	buf = malloc(lmm_model_packed_size(m));
	lmm_model_pack(m, buf);
	check(lmm_model_unpack_head(buf, size - 2, &head, &at) == NULL &&
		  lmm_index_build(&ix, buf + at, size - 2 - at, head.nlevels, head.q) != NULL,
		  "index: a repeated level is refused");
	lmm_index_free(&ix);
	lmm_model_free(&head);
	free(buf);
}

/*
 * What scoring reads of a model of two terms, the second keyed by bigint:
 * the key types' section round-trips; lmm_model_unpack_terms finds every
 * term's level records, on the whole value and piece by piece; the integer
 * index of each term finds its levels; a section that names only text, or
 * bytes after it, are refused.
 */
static void
test_index_terms(void)
{
	SmallModel	sm;
	LmmModel   *m = &sm.m;
	LmmModel	back;
	LmmModelTerm t;
	LmmIntIndex iix;
	double		ttheta[1] = {0.4},
				tb[2] = {0.25, -0.25},
				tcv[2] = {0.01, 0.02};
	char	   *tzn[1] = {"(Intercept)"},
			   *tlv[2] = {"-7", "9000000000"};
	size_t		at[LMM_MAX_TERMS],
				size,
				have,
				need;
	unsigned char *buf,
			   *longer;
	const double *b;
	int			steps = 0;

	make_model(&sm);
	memset(&t, 0, sizeof(t));
	t.grp = "h";
	t.key_type = "bigint";
	t.q = 1;
	t.z_names = tzn;
	t.theta = ttheta;
	t.nlevels = 2;
	t.levels = tlv;
	t.b = tb;
	t.condvar = tcv;
	m->flags |= LMM_MODEL_SEVERAL;
	m->nextra = 1;
	m->extra = &t;
	size = lmm_model_packed_size(m);
	buf = malloc(size);
	lmm_model_pack(m, buf);
	check(lmm_model_unpack(buf, size, &back) == NULL && back.nextra == 1 &&
		  strcmp(back.extra[0].key_type, "bigint") == 0,
		  "terms: a later term's key type survives the round trip");
	lmm_model_free(&back);

	check(lmm_model_unpack_terms(buf, size, size, &back, at, &need) == NULL && need == 0 &&
		  back.nextra == 1 && back.extra[0].nlevels == 2 && back.levels == NULL &&
		  strcmp(back.extra[0].key_type, "bigint") == 0,
		  "terms: the parts scoring reads, without the levels");
	lmm_model_free(&back);
	for (have = 16; steps < 64; steps++)
	{
		check(lmm_model_unpack_terms(buf, have, size, &back, at, &need) == NULL,
			  "terms: a prefix is no problem");
		lmm_model_free(&back);
		if (need == 0)
			break;
		have = need;
	}
	check(need == 0 && have == size, "terms: read piece by piece, the prefixes reach the end");

	lmm_model_unpack_terms(buf, size, size, &back, at, &need);
	check(lmm_int_index_build(&iix, buf + at[0], size - at[0], back.nlevels, back.q) == NULL &&
		  (b = lmm_int_index_find(&iix, 2)) != NULL && b[0] == -0.2 &&
		  lmm_int_index_find(&iix, 4) == NULL,
		  "terms: the first term indexed by value");
	lmm_int_index_free(&iix);
	check(lmm_int_index_build(&iix, buf + at[1], size - at[1], back.extra[0].nlevels,
							  back.extra[0].q) == NULL &&
		  (b = lmm_int_index_find(&iix, INT64_C(9000000000))) != NULL && b[0] == -0.25 &&
		  (b = lmm_int_index_find(&iix, -7)) != NULL && b[0] == 0.25 &&
		  lmm_int_index_find(&iix, 7) == NULL,
		  "terms: the second term indexed by value");
	lmm_int_index_free(&iix);
	lmm_model_free(&back);

	longer = malloc(size + 1);
	memcpy(longer, buf, size);
	longer[size] = 0;
	check(lmm_model_unpack(longer, size + 1, &back) != NULL,
		  "terms: a byte after the statistics' part is refused");
	lmm_model_free(&back);
	free(longer);
	free(buf);

	/* a section that lists text keys only is not the canonical form */
	t.key_type = "text";
	size = lmm_model_packed_size(m);
	buf = malloc(size + 4 + 4 + 4);
	lmm_model_pack(m, buf);
	memcpy(buf + size, "\x4C\x4D\x4D\x6B\0\0\0\x04text", 12);
	check(lmm_model_unpack(buf, size, &back) == NULL,
		  "terms: text keys need no section");
	lmm_model_free(&back);
	check(lmm_model_unpack(buf, size + 12, &back) != NULL,
		  "terms: a section that lists only text keys is refused");
	lmm_model_free(&back);
	free(buf);
}

/* Largest relative difference of two fits' criterion, beta, theta and sigma. */
static double
fit_diff(const LmmFit *f, const LmmFit *g)
{
	double		worst = rel(f->criterion, g->criterion);
	int			k;

	for (k = 0; k < f->p; k++)
		worst = fmax(worst, rel(f->beta[k], g->beta[k]));
	for (k = 0; k < f->ntheta; k++)
		worst = fmax(worst, fabs(f->theta[k] - g->theta[k]) / fmax(fabs(g->theta[k]), 1e-3));
	return fmax(worst, rel(f->sigma, g->sigma));
}

/*
 * lmm 0.6's statistics ("LMMs", which lmm now only reads): bytes as it
 * wrote them are read exactly and converted to statistics that fit as
 * those built from the same rows; every truncation and a flipped header
 * are refused, and so are statistics that are not those of real rows.
 */
static void
test_stats_bytes(const Sleep *s)
{
	LmmStats	st,
				back;
	LmmStatsMeta meta,
				bmeta;
	LmmStatsKeys keys,
				bkeys;
	LmmTermStats conv,
				rows;
	LmmFit		fc,
				fr;
	char	   *xn[1] = {"days"};
	int64_t		level_of[400],
				rlevel[400];
	const unsigned char *kd[400];
	uint32_t	kl[400];
	unsigned char kbytes[400][4];
	size_t		size,
				len,
				i;
	unsigned char *buf;
	int			refused = 1;
	int			same = 1;
	int			flips_ok = 1;
	int			reml;
	int64_t		j;

	memset(level_of, -1, sizeof(level_of));
	lmm_stats_init(&st, 2, 2);
	add_sleep_rows_legacy(&st, s, level_of);
	memset(&meta, 0, sizeof(meta));
	meta.g_name = "subject";
	meta.key_type = "integer";
	meta.n_x_names = 1;
	meta.x_names = xn;
	meta.n_z_names = -1;
	meta.n_dropped = 3;
	for (j = 0; j < st.nlevels; j++)
	{
		kbytes[j][0] = kbytes[j][1] = 0;
		kbytes[j][2] = (unsigned char) (j >> 8);
		kbytes[j][3] = (unsigned char) j;
		kd[j] = kbytes[j];
		kl[j] = 4;
	}
	keys.data = kd;
	keys.len = kl;
	check(lmm_stats_check(&st, &meta) == NULL, "stats: real statistics pass their check");
	buf = test_legacy_pack(&st, &meta, &keys, &size);
	check(lmm_stats_unpack(buf, size, &back, &bmeta, &bkeys) == NULL,
		  "stats: unpack of lmm 0.6's statistics");
	check(back.n == st.n && back.nlevels == st.nlevels && bmeta.n_dropped == 3 &&
		  strcmp(bmeta.x_names[0], "days") == 0 && bmeta.n_z_names == -1 &&
		  strcmp(bmeta.key_type, "integer") == 0 &&
		  bkeys.len[5] == 4 && bkeys.data[5][3] == 5,
		  "stats: counts, names and keys are read");
	for (i = 0; i < (size_t) st.nlevels * st.stride; i++)
		same &= back.level[i] == st.level[i];
	for (i = 0; i < 2; i++)
		same &= back.mean[i] == st.mean[i];
	same &= back.comom[1] == st.comom[1] && back.comom[2] == st.comom[1];
	check(same, "stats: every number is read exactly");

	/* converted, they fit as the statistics of the same rows (REML and ML) */
	lmm_stats_to_terms(&back, &conv);
	memset(rlevel, -1, sizeof(rlevel));
	init1(&rows, 2, 2);
	add_sleep_rows(&rows, s, 0, s->n, rlevel);
	check(conv.p == 2 && conv.nterms == 1 && conv.term[0].q == 2 && conv.n == 180.0 &&
		  conv.term[0].nlevels == 18 && conv.first_is_one && lmm_terms_check(&conv) == NULL,
		  "stats: converted to one-term statistics that pass the packers' check");
	for (reml = 0; reml <= 1; reml++)
	{
		char		what[128];

		if (lmm_fit(&conv, reml, 1, &fc) != LMM_OK || lmm_fit(&rows, reml, 1, &fr) != LMM_OK)
		{
			check(0, "stats: converted statistics and those of the rows fit");
			continue;
		}
		snprintf(what, sizeof(what),
				 "stats: converted statistics fit as those of the rows (%s): %.1e",
				 reml ? "REML" : "ML", fit_diff(&fc, &fr));
		check(fit_diff(&fc, &fr) < 1e-10 && fc.nlevels == fr.nlevels, what);
		lmm_fit_free(&fc);
		lmm_fit_free(&fr);
	}
	lmm_terms_free(&conv);
	lmm_terms_free(&rows);
	lmm_stats_free(&back);
	lmm_stats_meta_free(&bmeta);
	free(bkeys.data);
	free(bkeys.len);

	for (len = 0; len < size; len++)
	{
		if (lmm_stats_unpack(buf, len, &back, &bmeta, &bkeys) == NULL)
			refused = 0;
		lmm_stats_free(&back);
		lmm_stats_meta_free(&bmeta);
		free(bkeys.data);
		free(bkeys.len);
	}
	check(refused, "stats: every truncation is refused");

	for (i = 0; i < size; i++)
	{
		unsigned char saved = buf[i];
		const char *problem;

		buf[i] ^= 0x5A;
		problem = lmm_stats_unpack(buf, size, &back, &bmeta, &bkeys);
		if (i < 20 && problem == NULL)
			flips_ok = 0;
		lmm_stats_free(&back);
		lmm_stats_meta_free(&bmeta);
		free(bkeys.data);
		free(bkeys.len);
		buf[i] = saved;
	}
	check(flips_ok, "stats: a flipped header byte (magic, version, flags, p, q) is refused");
	free(buf);

	/* what the reader checks, on bytes written with the damage */
	st.level[st.stride] = 2.5;	/* a fractional row count */
	st.n = st.n - 10.0 + 2.5;
	check(lmm_stats_check(&st, &meta) != NULL, "stats: fractional level count refused");
	buf = test_legacy_pack(&st, &meta, &keys, &size);
	check(lmm_stats_unpack(buf, size, &back, &bmeta, &bkeys) != NULL,
		  "stats: a value with a fractional level count is not read");
	lmm_stats_free(&back);
	lmm_stats_meta_free(&bmeta);
	free(bkeys.data);
	free(bkeys.len);
	free(buf);
	/* fuzz corpus regress_rows_over_2p53: the glue converts the count to int64 */
	st.level[0] = st.level[st.stride] = LMM_MAX_ROWS;
	st.n = 0.0;
	for (j = 0; j < st.nlevels; j++)
		st.n += st.level[(size_t) j * st.stride];
	check(lmm_stats_check(&st, &meta) != NULL, "stats: more than 2^53 rows in all refused");
	buf = test_legacy_pack(&st, &meta, &keys, &size);
	check(lmm_stats_unpack(buf, size, &back, &bmeta, &bkeys) != NULL,
		  "stats: a value of more than 2^53 rows is not read");
	lmm_stats_free(&back);
	lmm_stats_meta_free(&bmeta);
	free(bkeys.data);
	free(bkeys.len);
	free(buf);
	st.level[0] = st.level[st.stride] = 10.0;
	st.n = 180.0;
	st.level[1 + st.d] = -1.0;	/* negative z variance in level 0 */
	check(lmm_stats_check(&st, &meta) != NULL, "stats: negative co-moment refused");
	buf = test_legacy_pack(&st, &meta, &keys, &size);
	check(lmm_stats_unpack(buf, size, &back, &bmeta, &bkeys) != NULL,
		  "stats: a value with a negative co-moment is not read");
	lmm_stats_free(&back);
	lmm_stats_meta_free(&bmeta);
	free(bkeys.data);
	free(bkeys.len);
	free(buf);
	lmm_stats_free(&st);

	/* statistics that saw no usable row: no columns, no terms */
	lmm_stats_init(&st, 0, 0);
	lmm_stats_to_terms(&st, &conv);
	check(conv.p == 0 && conv.nterms == 0 && conv.n == 0.0,
		  "stats: statistics without rows convert to statistics without terms");
	lmm_terms_free(&conv);
	lmm_stats_free(&st);
}

/*
 * The analytic gradient of the criterion agrees with central differences,
 * for q = 1 and q = 2 (their written-out loops) and q = 3 (the general one:
 * random intercept, days and a centred days^2 / 10).
 */
static void
test_gradient(const Sleep *s)
{
	static const double thetas[3][6] = {{0.9}, {0.9, 0.05, 0.3},
	{0.9, 0.05, -0.02, 0.3, 0.01, 0.2}};
	int			q;

	for (q = 1; q <= 3; q++)
	{
		int			nt = q * (q + 1) / 2;
		LmmTermStats st;
		int64_t		level_of[400];
		double		grad[6],
					gdummy[6],
					fp,
					fm,
					f;
		double		worst = 0.0;
		int			reml,
					i,
					k;
		char		label[96];

		memset(level_of, -1, sizeof(level_of));
		init1(&st, 2, q);
		for (i = 0; i < s->n; i++)
		{
			double		d = s->days[i];
			double		v[4] = {d, (d - 4.5) * (d - 4.5) / 10.0, d, s->reaction[i]};
			int			subj = s->subject[i];

			if (level_of[subj] < 0)
				level_of[subj] = lmm_terms_add_level(&st, 0);
			/* z columns (q - 1 of them), then x, then y */
			if (q == 1)
				v[0] = d, v[1] = s->reaction[i];
			else if (q == 2)
				v[1] = d, v[2] = s->reaction[i];
			test_add_row1(&st, level_of[subj], v);
		}
		for (reml = 0; reml <= 1; reml++)
		{
			lmm_criterion_gradient(&st, reml, thetas[q - 1], &f, grad);
			for (k = 0; k < nt; k++)
			{
				double		h = 1e-5;
				double		x[6];

				memcpy(x, thetas[q - 1], sizeof(x));
				x[k] += h;
				lmm_criterion_gradient(&st, reml, x, &fp, gdummy);
				x[k] -= 2 * h;
				lmm_criterion_gradient(&st, reml, x, &fm, gdummy);
				worst = fmax(worst, fabs(grad[k] - (fp - fm) / (2 * h)) / fmax(fabs(grad[k]), 1.0));
			}
		}
		snprintf(label, sizeof(label),
				 "gradient: analytic equals central differences (REML and ML, q = %d): %.1e", q, worst);
		check(worst < 1e-6, label);
		lmm_terms_free(&st);
	}
}

/* Degenerate statistics give the documented statuses. */
static void
test_errors(void)
{
	LmmTermStats st;
	LmmFit		fit;
	double		v[2];
	int			i;

	init1(&st, 1, 1);
	lmm_terms_add_level(&st, 0);
	for (i = 0; i < 5; i++)
	{
		v[0] = i;
		test_add_row1(&st, 0, v);
	}
	check(lmm_fit(&st, 1, 1, &fit) == LMM_ERR_FEW_GROUPS, "errors: one group");
	lmm_terms_free(&st);

	init1(&st, 2, 1);
	for (i = 0; i < 20; i++)
	{
		if (i < 4)
			lmm_terms_add_level(&st, 0);
		v[0] = 2.0;				/* constant x */
		v[1] = i * 0.37 + (i % 3);
		test_add_row1(&st, i % 4, v);
	}
	check(lmm_fit(&st, 1, 1, &fit) == LMM_ERR_CONSTANT_X && fit.bad_column == 1,
		  "errors: constant x column named");
	lmm_terms_free(&st);
}

/* The distributions against R 4.2's pt, qt, qnorm and pchisq, to 1e-12 relative. */
static void
test_dist(void)
{
	check(rel(lmm_pt_two_sided(25.79, 17.0), 4.5311395197837052e-15) < 1e-12,
		  "dist: far t tail (2*pt(-25.79, 17))");
	check(rel(lmm_pt_two_sided(-0.3, 4.5), 7.7753354703943134e-01) < 1e-12,
		  "dist: central t, fractional df");
	check(rel(lmm_qt(0.975, 4.99999), 2.5705833819852644) < 1e-12 &&
		  rel(lmm_qt(0.975, 1.0), 12.706204736174694) < 1e-12 &&
		  rel(lmm_qt(0.025, 1.0), -12.706204736174694) < 1e-12,
		  "dist: t quantiles");
	check(rel(lmm_qnorm(0.975), 1.9599639845400536) < 1e-14 &&
		  rel(lmm_qnorm(1e-10), -6.3613409024040557) < 1e-12,
		  "dist: normal quantiles");
	check(rel(lmm_pchisq_upper(3.84, 1.0), 5.0043521248705224e-02) < 1e-12 &&
		  rel(lmm_pchisq_upper(42.5, 2.0), 5.9053039989440393e-10) < 1e-12 &&
		  rel(lmm_pchisq_upper(0.5, 3.0), 9.1889141165467592e-01) < 1e-12,
		  "dist: chi-square tails");
	check(rel(lmm_qt(0.975, 1e15), 1.9599639845400536) < 1e-12 &&
		  rel(lmm_pt_two_sided(2.0, 1e20), 0.045500263896358417) < 1e-12,
		  "dist: huge df is the normal, not cancellation noise");
	check(isnan(lmm_pt_two_sided(1.0, -1.0)) && lmm_pchisq_upper(-1.0, 2.0) == 1.0,
		  "dist: bad df is NaN, a negative statistic has tail 1");
	check(rel(lmm_pf_upper(749.95960800578052, 2.0, 17.000000811787785), 2.6341127744314475e-17) < 1e-12 &&
		  rel(lmm_pf_upper(3.1, 3.0, 8.5), 0.085323200821420836) < 1e-12 &&
		  rel(lmm_pf_upper(0.2, 5.0, 40.0), 0.96059478374055907) < 1e-12 &&
		  rel(lmm_pf_upper(1.5, 1.0, 2.5), 0.32346724151604717) < 1e-12,
		  "dist: F tails (pf(f, df1, df2, lower.tail = FALSE))");
	check(rel(lmm_pf_upper(12.0, 2.0, 1e8), 6.144221200998946e-06) < 1e-7 &&
		  rel(lmm_pf_upper(12.0, 2.0, 1e10), 6.1442124418048601e-06) < 1e-7 &&
		  lmm_pf_upper(-1.0, 2.0, 3.0) == 1.0 && isnan(lmm_pf_upper(1.0, 0.0, 3.0)),
		  "dist: F with huge df2 to 1e-7, bad df NaN");
}

/*
 * lmm_anova_table on a made-up fit of y ~ a + x (a factor of three levels,
 * x numeric): with X'X diagonal the three types agree, each term's F is
 * that of its own columns (lmm_contrast_ftest on identity rows), and
 * lme4's table (ddf=none) gives a term's F as the mean of its (R_X beta)^2
 * over sigma^2, which is sum beta^2 / var over its columns when vcov is
 * diagonal.  A term whose cells need a missing margin has no type 3.
 */
static void
test_anova(void)
{
	LmmAnovaTerm terms[2] = {{1, {{0, 3, 0, 0}}}, {1, {{1, 0, 0, 0}}}};
	int			col_term[4] = {-1, 0, 0, 1};
	int			col_level[4 * LMM_ANOVA_MAX_VARS] = {0};
	LmmAnovaDesign d = {4, 1, 2, terms, col_term, col_level};
	double		XtX[16] = {0},
				vcov[16] = {0};
	double		beta[4] = {1.0, 0.5, -2.0, 3.0};
	double		vp[4] = {0.5, 0.0, 0.0, 0.5};
	double		jac[32] = {0};
	double		Ia[8] = {0, 1, 0, 0, 0, 0, 1, 0},
				Ix[4] = {0, 0, 0, 1};
	LmmAnovaRow rows[2];
	double		fa,
				fx,
				ddf;
	int			type,
				a,
				ok = 1;

	col_level[1 * LMM_ANOVA_MAX_VARS] = 1;
	col_level[2 * LMM_ANOVA_MAX_VARS] = 2;
	for (a = 0; a < 4; a++)
	{
		XtX[a * 4 + a] = 10.0 + a;
		vcov[a * 4 + a] = 0.1 * (a + 1);
	}
	memcpy(jac, vcov, sizeof(vcov));
	lmm_contrast_ftest(4, beta, vcov, 2, vp, jac, 2, Ia, &fa, &ddf);
	lmm_contrast_ftest(4, beta, vcov, 2, vp, jac, 1, Ix, &fx, &ddf);
	for (type = 1; type <= 3; type++)
	{
		ok = ok && lmm_anova_table(&d, type, XtX, beta, vcov, 2.0, 2, vp, jac, NULL, rows) == NULL &&
			rows[0].num_df == 2 && rows[1].num_df == 1 &&
			rel(rows[0].f_value, fa) < 1e-12 && rel(rows[1].f_value, fx) < 1e-12 &&
			rel(rows[0].sum_sq, fa * 2 * 4.0) < 1e-12 && rel(rows[1].mean_sq, fx * 4.0) < 1e-12;
	}
	check(ok, "anova: types 1, 2 and 3 of an orthogonal design are the terms' own F tests");
	ok = lmm_anova_lme4(&d, beta, vcov, 2.0, rows) == NULL &&
		rel(rows[1].f_value, beta[3] * beta[3] / vcov[15]) < 1e-12 &&
		rel(rows[0].f_value, (beta[1] * beta[1] / vcov[5] + beta[2] * beta[2] / vcov[10]) / 2.0) < 1e-12 &&
		rel(rows[0].sum_sq, 4.0 * (beta[1] * beta[1] / vcov[5] + beta[2] * beta[2] / vcov[10])) < 1e-12 &&
		isnan(rows[0].den_df);
	check(ok, "anova: lme4's table from R_X beta");
	/* y ~ x + a:x without a: the cells of a:x at a's reference need a's margin... which x has */
	terms[0].var[0].nlevels = 0;
	terms[0].var[0].id = 1;
	terms[1].nvars = 2;
	terms[1].var[0] = (LmmAnovaVar) {0, 3, 0, 0};
	terms[1].var[1] = (LmmAnovaVar) {1, 0, 0, 0};
	col_term[1] = 0;
	col_term[2] = col_term[3] = 1;
	col_level[1 * LMM_ANOVA_MAX_VARS] = 0;
	col_level[2 * LMM_ANOVA_MAX_VARS] = 1;
	col_level[3 * LMM_ANOVA_MAX_VARS] = 2;
	check(lmm_anova_table(&d, 3, XtX, beta, vcov, 2.0, 2, vp, jac, NULL, rows) == NULL,
		  "anova: a numeric's interaction with a factor has its type 3 through the numeric");
	/* a:b without b's margin: no type 3 */
	terms[0] = (LmmAnovaTerm) {1, {{0, 3, 0, 0}}};
	terms[1] = (LmmAnovaTerm) {2, {{0, 3, 0, 0}, {2, 2, 0, 0}}};
	col_term[1] = col_term[2] = 0;
	col_term[3] = 1;
	col_level[1 * LMM_ANOVA_MAX_VARS] = 1;
	col_level[2 * LMM_ANOVA_MAX_VARS] = 2;
	col_level[3 * LMM_ANOVA_MAX_VARS] = 1;
	col_level[3 * LMM_ANOVA_MAX_VARS + 1] = 1;
	check(lmm_anova_table(&d, 3, XtX, beta, vcov, 2.0, 2, vp, jac, NULL, rows) != NULL,
		  "anova: type 3 refused where a margin is missing");
}

/*
 * lmm_contrast_ftest on a made-up fit: the F of independent coefficients
 * is the mean of their t^2, a repeated row adds no rank, a single row is
 * its t^2 with its own Satterthwaite df, and components with equal df give
 * that df.
 */
static void
test_contrast(void)
{
	double		beta[3] = {1.0, 2.0, -3.0};
	double		vcov[9] = {4.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 9.0};
	double		vp[4] = {0.5, 0.0, 0.0, 0.5};
	double		jac[18] = {0};
	double		L2[6] = {0, 1, 0, 0, 0, 1};
	double		L3[9] = {0, 1, 0, 0, 2, 0, 0, 0, 1};
	double		L1[3] = {0, 1, 0};
	double		f,
				ddf;
	int			q;

	/* dV/dvarpar_0 = V, dV/dvarpar_1 = 0: every component's df is 2 / 0.5 = 4 */
	memcpy(jac, vcov, sizeof(vcov));
	q = lmm_contrast_ftest(3, beta, vcov, 2, vp, jac, 2, L2, &f, &ddf);
	check(q == 2 && rel(f, (4.0 + 1.0) / 2.0) < 1e-14 && rel(ddf, 4.0) < 1e-12,
		  "contrast: F of two independent coefficients, equal df");
	q = lmm_contrast_ftest(3, beta, vcov, 2, vp, jac, 3, L3, &f, &ddf);
	check(q == 2 && rel(f, 2.5) < 1e-14, "contrast: a repeated row adds no rank");
	q = lmm_contrast_ftest(3, beta, vcov, 2, vp, jac, 1, L1, &f, &ddf);
	check(q == 1 && rel(f, 4.0) < 1e-14 &&
		  rel(ddf, lmm_satterthwaite_df(2, 3, vp, jac, vcov, L1)) < 1e-14,
		  "contrast: one row is t^2 on its Satterthwaite df");
	q = lmm_contrast_ftest(3, beta, vcov, 0, vp, jac, 2, L2, &f, &ddf);
	check(q == 2 && isnan(ddf), "contrast: no df without Satterthwaite's ingredients");
}

/*
 * A real fit with its Satterthwaite ingredients and statistics packs and
 * unpacks exactly; every truncation is refused; its df match lmerTest's.
 */
static void
test_model_tail(const Sleep *s, const char *dir)
{
	LmmTermStats st;
	LmmFit		fit;
	LmmModel	m,
				back;
	char	   *xn[2] = {"(Intercept)", "Days"},
			   *zn[2] = {"(Intercept)", "Days"},
			   *lv[18];
	char		names[18][8];
	int64_t		level_of[400];
	unsigned char *buf;
	size_t		size,
				len;
	double		L[2] = {0.0, 1.0};
	int			i,
				refused = 1;

	memset(level_of, -1, sizeof(level_of));
	init1(&st, 2, 2);
	add_sleep_rows(&st, s, 0, s->n, level_of);
	check(lmm_fit(&st, 1, 1, &fit) == LMM_OK && fit.ninf == 4, "tail: slope fit with df ingredients");
	check(rel(lmm_satterthwaite_df(fit.ninf, 2, fit.vcov_varpar, fit.jac, fit.vcov, L),
			  ref_value(dir, "sleep_slope.ref.csv", "REML,df,,,Days,")) < 1e-4,
		  "tail: Satterthwaite df of Days within 1e-4 of lmerTest");
	for (i = 0; i < 18; i++)
	{
		snprintf(names[i], sizeof(names[i]), "s%d", i);
		lv[i] = names[i];
	}
	memset(&m, 0, sizeof(m));
	m.flags = LMM_MODEL_REML | LMM_MODEL_CONVERGED;
	m.p = 2;
	m.q = 2;
	m.nlevels = 18;
	m.n_obs = 180;
	m.criterion = fit.criterion;
	m.loglik = fit.loglik;
	m.aic = fit.aic;
	m.bic = fit.bic;
	m.sigma = fit.sigma;
	m.grp = "Subject";
	m.key_type = "text";
	m.x_names = xn;
	m.z_names = zn;
	m.beta = fit.beta;
	m.vcov = fit.vcov;
	m.theta = fit.theta;
	m.levels = lv;
	m.b = fit.b;
	m.condvar = fit.condvar;
	m.ninf = fit.ninf;
	m.vcov_varpar = fit.vcov_varpar;
	m.jac = fit.jac;
	m.tstats = &st;
	check(lmm_model_check(&m) == NULL, "tail: a model with statistics passes its check");
	size = lmm_model_packed_size(&m);
	buf = malloc(size);
	lmm_model_pack(&m, buf);
	check(lmm_model_unpack(buf, size, &back) == NULL && back.ninf == 4 && back.tstats != NULL &&
		  memcmp(back.jac, fit.jac, sizeof(double) * 16) == 0 &&
		  back.tstats->nterms == 1 && back.tstats->term[0].nlevels == 18 &&
		  memcmp(back.tstats->term[0].rec, st.term[0].rec,
				 sizeof(double) * 18 * st.term[0].stride) == 0 &&
		  memcmp(back.tstats->cross, st.cross, sizeof(double) * 9) == 0 &&
		  back.tstats->n == 180.0,
		  "tail: ingredients and statistics survive the round trip bit for bit");
	lmm_model_free(&back);
	for (len = 0; len < size; len++)
	{
		if (lmm_model_unpack(buf, len, &back) == NULL)
			refused = 0;
		lmm_model_free(&back);
	}
	check(refused, "tail: every truncation is refused");
	LMM_TREC_ZZ(st.term[0].rec, 2)[0] = -2.5;	/* a level with -2.5 rows */
	check(lmm_model_check(&m) != NULL, "tail: statistics that are not those of real rows are refused");
	free(buf);
	lmm_fit_free(&fit);
	lmm_terms_free(&st);
}

/* Run every test and print the summary line the test script reads. */
/*
 * The integer index and the scoring prefix: keys by value (the smallest
 * int64 among them), level texts no integer prints as left out, a repeated
 * key refused, close keys in a dense table with holes that miss; a
 * one-term model with statistics is scored from exactly its head and level
 * records, one without them from less, which the index refuses (the caller
 * then reads the whole value).
 */
static void
test_int_index(void)
{
	SmallModel	sm;
	LmmModel   *m = &sm.m;
	LmmModel	head;
	LmmIntIndex ix;
	LmmTermStats st;
	double		vv[4] = {1, 0, 0, 1},
				jac[8] = {0};
	size_t		size,
				at,
				prefix;
	unsigned char *buf;
	const double *b;
	int			k;

	make_model(&sm);
	sm.lv[0] = "-9223372036854775808";
	sm.lv[1] = "007";
	sm.lv[2] = "42";
	size = lmm_model_packed_size(m);
	buf = malloc(size);
	lmm_model_pack(m, buf);
	check(lmm_model_unpack_head(buf, size, &head, &at) == NULL &&
		  lmm_int_index_build(&ix, buf + at, size - at, head.nlevels, head.q) == NULL &&
		  ix.nlevels == 2,
		  "int index: builds, leaving out a level text no integer prints as");
	check((b = lmm_int_index_find(&ix, INT64_MIN)) != NULL && b[0] == sm.b[0] &&
		  (b = lmm_int_index_find(&ix, 42)) != NULL && b[0] == sm.b[2] &&
		  lmm_int_index_find(&ix, 7) == NULL && lmm_int_index_find(&ix, 0) == NULL &&
		  lmm_int_index_find(&ix, INT64_MAX) == NULL,
		  "int index: keys found by value, others not");
	lmm_int_index_free(&ix);
	check(lmm_model_scoring_prefix(buf, size, size) == 0 ||
		  lmm_int_index_build(&ix, buf + at, lmm_model_scoring_prefix(buf, size, size) - at,
							  head.nlevels, head.q) != NULL,
		  "scoring prefix: too short for a model without statistics, which the index refuses");
	lmm_int_index_free(&ix);
	lmm_model_free(&head);
	free(buf);

	sm.lv[1] = "42";
	buf = malloc(size);
	lmm_model_pack(m, buf);
	check(lmm_model_unpack_head(buf, size, &head, &at) == NULL &&
		  lmm_int_index_build(&ix, buf + at, size - at, head.nlevels, head.q) != NULL,
		  "int index: a repeated key is refused");
	lmm_model_free(&head);
	free(buf);

	/* keys close together are addressed directly; holes and outsiders miss */
	sm.lv[0] = "13";
	sm.lv[1] = "10";
	sm.lv[2] = "12";
	buf = malloc(size = lmm_model_packed_size(m));
	lmm_model_pack(m, buf);
	check(lmm_model_unpack_head(buf, size, &head, &at) == NULL &&
		  lmm_int_index_build(&ix, buf + at, size - at, head.nlevels, head.q) == NULL &&
		  ix.dense && ix.base == 10 && ix.span == 4,
		  "int index: keys 10, 12, 13 get a dense table");
	check((b = lmm_int_index_find(&ix, 13)) != NULL && b[0] == sm.b[0] &&
		  (b = lmm_int_index_find(&ix, 10)) != NULL && b[0] == sm.b[1] &&
		  (b = lmm_int_index_find(&ix, 12)) != NULL && b[0] == sm.b[2] &&
		  lmm_int_index_find(&ix, 11) == NULL && lmm_int_index_find(&ix, 9) == NULL &&
		  lmm_int_index_find(&ix, 14) == NULL &&
		  lmm_int_index_find(&ix, INT64_MIN) == NULL &&
		  lmm_int_index_find(&ix, INT64_MAX) == NULL,
		  "int index: dense keys found, holes and keys outside the span not");
	lmm_int_index_free(&ix);
	lmm_model_free(&head);
	free(buf);
	sm.lv[0] = "12";
	buf = malloc(size);
	lmm_model_pack(m, buf);
	check(lmm_model_unpack_head(buf, size, &head, &at) == NULL &&
		  lmm_int_index_build(&ix, buf + at, size - at, head.nlevels, head.q) != NULL,
		  "int index: a repeated key is refused by the dense table too");
	lmm_model_free(&head);
	free(buf);
	sm.lv[0] = "-9223372036854775808";

	/* with Satterthwaite's ingredients and statistics, as lmm_fit writes it */
	sm.lv[1] = "7";
	init1(&st, m->p, m->q);
	for (k = 0; k < 3; k++)
		lmm_terms_add_level(&st, 0);
	st.n = (double) m->n_obs;
	m->tstats = &st;
	m->ninf = 2;
	m->vcov_varpar = vv;
	m->jac = jac;
	size = lmm_model_packed_size(m);
	buf = malloc(size);
	lmm_model_pack(m, buf);
	prefix = lmm_model_scoring_prefix(buf, 200, size);
	check(lmm_model_unpack_head(buf, size, &head, &at) == NULL &&
		  prefix == at + 3 * (4 + 8 + 8) + strlen("-9223372036854775808") + 1 + 2,
		  "scoring prefix: ends where the level records end");
	check(lmm_int_index_build(&ix, buf + at, prefix - at, head.nlevels, head.q) == NULL &&
		  lmm_int_index_find(&ix, 7) != NULL,
		  "scoring prefix: holds every level record");
	lmm_int_index_free(&ix);
	lmm_model_free(&head);
	lmm_terms_free(&st);
	free(buf);
}

int
main(int argc, char **argv)
{
	static Sleep s;
	const char *dir = argc > 1 ? argv[1] : "test/data";

	if (read_sleep(dir, &s) != 0)
	{
		printf("cannot read %s/sleepstudy.csv\ncore: 0 passed, 1 failed\n", dir);
		return 1;
	}
	test_merge(&s);
	test_fit(&s, dir);
	test_model_bytes();
	test_model_factors();
	test_lsmeans();
	test_index();
	test_index_terms();
	test_int_index();
	test_stats_bytes(&s);
	test_gradient(&s);
	test_errors();
	test_dist();
	test_contrast();
	test_anova();
	test_model_tail(&s, dir);
	test_terms(dir);
	test_terms_io(dir);
	test_vgrad(dir);
	test_formula(dir);
	test_zscale(dir);
	test_boot();
	test_kr(dir);
	test_glmm(dir);
	test_sparse();
	test_threads();
	printf("core: %d passed, %d failed\n", n_pass, n_fail);
	return n_fail == 0 ? 0 : 1;
}
