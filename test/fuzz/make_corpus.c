/*
 * make_corpus.c
 *	  Writes the binary part of the fuzzers' seed corpus with the core's own
 *	  packers: real models and statistics from small deterministic fits, the
 *	  older model formats, lmm 0.6's statistics (LMMs, with the writer of
 *	  test/core/test_util.h: the core only reads them now), and a few
 *	  broken values.
 *	  Usage: make_corpus CORPUS_DIR (which holds model/, stats/, index/,
 *	  profile/ and terms/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_bytes.h"
#include "lmm_fit.h"
#include "lmm_model.h"
#include "lmm_stats.h"
#include "lmm_stats_io.h"
#include "lmm_terms.h"
#include "lmm_terms_io.h"
#include "../core/test_util.h"

static const char *corpus;

/* Write len bytes to corpus/dir/name; exit on failure. */
static void
put_file(const char *dir, const char *name, const unsigned char *buf, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s/%s", corpus, dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(buf, 1, len, f) != len ||
		fclose(f) != 0)
	{
		fprintf(stderr, "make_corpus: cannot write %s\n", path);
		exit(1);
	}
}

/* A deterministic pseudo-random number in [0, 1), so the corpus never changes. */
static double
uniform(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	return (double) ((*state >> 8) & 0xFFFF) / 65536.0;
}

/*
 * Statistics of nlevels groups of rows: y = 1 + 0.5 x + b_j + noise, with a
 * slope on x per group when q = 2 (v = (z, x, y) or (x, y)), as lmm 0.6
 * kept them (st) and as lmm does (ts, one term), either NULL.
 */
static void
make_stats(LmmStats *st, LmmTermStats *ts, int q, int nlevels, int rows)
{
	unsigned	seed = 7u + (unsigned) (q * 31 + nlevels);
	int			j,
				i;

	if (st)
		lmm_stats_init(st, 2, q);
	if (ts)
		lmm_terms_init(ts, 2, 1, &q);
	for (j = 0; j < nlevels; j++)
	{
		int64_t		level = st ? test_legacy_add_level(st) : 0;
		int64_t		tlevel = ts ? lmm_terms_add_level(ts, 0) : 0;
		double		bj = uniform(&seed) - 0.5;
		double		sj = 0.2 * (uniform(&seed) - 0.5);

		for (i = 0; i < rows; i++)
		{
			double		x = i + uniform(&seed);
			double		y = 1.0 + (0.5 + sj) * x + bj + 0.3 * (uniform(&seed) - 0.5);
			double		v[3];
			int			k = 0;

			if (q == 2)
				v[k++] = x;
			v[k++] = x;
			v[k++] = y;
			if (st)
				test_legacy_add_row(st, level, v);
			if (ts)
				test_add_row1(ts, tlevel, v);
		}
	}
}

/* Pack a model into a new buffer. */
static unsigned char *
pack_model(const LmmModel *m, size_t *size)
{
	unsigned char *buf;

	if (lmm_model_check(m) != NULL)
	{
		fprintf(stderr, "make_corpus: invalid model: %s\n", lmm_model_check(m));
		exit(1);
	}
	*size = lmm_model_packed_size(m);
	buf = malloc(*size);
	lmm_model_pack(m, buf);
	return buf;
}

/* Write a model to the model corpus, and to those of index and profile if asked. */
static void
put_model(const char *name, const unsigned char *buf, size_t size, int index_too,
		  int profile_too)
{
	put_file("model", name, buf, size);
	if (index_too)
		put_file("index", name, buf, size);
	if (profile_too)
		put_file("profile", name, buf, size);
}

/* Set the version word (bytes 4..7) of a packed model. */
static void
set_version(unsigned char *buf, unsigned v)
{
	buf[4] = buf[5] = buf[6] = 0;
	buf[7] = (unsigned char) v;
}

/*
 * Format 3 with lmm 0.6's statistics, as it stored them, from the format 4
 * bytes of the same model without statistics (buf, size): its tail of
 * has_stats = 0, the formula and nextra = 0 (and has_tstats) is replaced
 * by has_stats = 1, the statistics, the formula and nextra.
 */
static unsigned char *
format3_with_stats(const unsigned char *buf, size_t size, const LmmModel *m,
				   const LmmStats *st, size_t *outsize)
{
	size_t		tail = 4 + 4 + strlen(m->formula) + 4 + 4;
	size_t		head = size - tail;
	int			p = st->p;
	unsigned char *out = malloc(head + 4 + 8 * (1 + (size_t) p + (size_t) p * p +
												(size_t) st->nlevels * st->stride) +
								4 + strlen(m->formula) + 4);
	unsigned char *w = out + head;
	int64_t		j;
	int			a;

	memcpy(out, buf, head);
	out[4] = out[5] = out[6] = 0;
	out[7] = 3;
	w = lmm_put_u32(w, 1);
	w = lmm_put_f8(w, st->n);
	for (a = 0; a < p; a++)
		w = lmm_put_f8(w, st->mean[a]);
	for (a = 0; a < p * p; a++)
		w = lmm_put_f8(w, st->comom[a]);
	for (j = 0; j < st->nlevels * st->stride; j++)
		w = lmm_put_f8(w, st->level[j]);
	w = lmm_put_str(w, m->formula);
	w = lmm_put_u32(w, 0);
	*outsize = (size_t) (w - out);
	return out;
}

/*
 * Models of a real fit: with q random columns, with and without Satterthwaite's
 * ingredients and statistics, in format 4 and (as lmm 0.6 stored them, its
 * statistics in its own form) 3, and (without the tail) in formats 1 and 2.
 */
static void
models_of_fit(int q)
{
	LmmStats	st;
	LmmTermStats ts;
	LmmFit		fit;
	LmmModel	m;
	char	   *xn[2] = {"(Intercept)", "x"},
			   *zn[2] = {"(Intercept)", "x"},
			   *lv[6] = {"a", "b", "c", "d", "e", "ffff"};
	unsigned char *buf;
	size_t		size;
	char		name[64];

	unsigned char *full;
	size_t		fullsize;

	make_stats(&st, &ts, q, 6, 5);
	if (lmm_fit(&ts, 1, 1, &fit) != LMM_OK)
	{
		fprintf(stderr, "make_corpus: the fit failed\n");
		exit(1);
	}
	memset(&m, 0, sizeof(m));
	m.flags = LMM_MODEL_REML | (fit.converged ? LMM_MODEL_CONVERGED : 0) |
		(fit.singular ? LMM_MODEL_SINGULAR : 0);
	m.p = fit.p;
	m.q = fit.q;
	m.nlevels = fit.nlevels;
	m.n_obs = (int64_t) ts.n;
	m.n_dropped = 2;
	m.n_eval = fit.n_eval;
	m.criterion = fit.criterion;
	m.loglik = fit.loglik;
	m.aic = fit.aic;
	m.bic = fit.bic;
	m.sigma = fit.sigma;
	m.grp = "g";
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
	m.tstats = &ts;
	m.formula = q == 1 ? "y ~ x + (1 | g)" : "y ~ x + (x | g)";

	buf = pack_model(&m, &size);
	snprintf(name, sizeof(name), "fit_q%d_v4", q);
	put_model(name, buf, size, 1, 1);
	free(buf);
	m.tstats = NULL;
	buf = pack_model(&m, &size);
	full = format3_with_stats(buf, size, &m, &st, &fullsize);
	snprintf(name, sizeof(name), "fit_q%d_full", q);
	put_model(name, full, fullsize, 1, 1);
	free(full);
	free(buf);

	/*
	 * no tail: the last 20 bytes are ninf, has_stats, the formula's length,
	 * nextra and has_tstats
	 */
	m.ninf = 0;
	m.formula = "";
	buf = pack_model(&m, &size);
	size -= 4;
	set_version(buf, 3);
	snprintf(name, sizeof(name), "fit_q%d_v3", q);
	put_model(name, buf, size, 1, 0);
	set_version(buf, 2);
	snprintf(name, sizeof(name), "fit_q%d_v2", q);
	put_model(name, buf, size - 8, 0, 0);
	set_version(buf, 1);
	snprintf(name, sizeof(name), "fit_q%d_v1", q);
	put_model(name, buf, size - 16, 0, 0);
	/* broken: truncated, and a level count larger than the levels */
	set_version(buf, 3);
	snprintf(name, sizeof(name), "bad_fit_q%d_truncated", q);
	put_model(name, buf, size - 21, 1, 0);
	buf[27] = 200;
	snprintf(name, sizeof(name), "bad_fit_q%d_nlevels", q);
	put_model(name, buf, size, 1, 0);
	free(buf);
	lmm_fit_free(&fit);
	lmm_stats_free(&st);
	lmm_terms_free(&ts);
}

/*
 * Hand-made models with a second random-effects term: format 3's extra
 * terms with text keys, as lmm 0.6 stored them, and format 4 with integer
 * keys.
 */
static void
model_several(void)
{
	LmmModel	m;
	LmmModelTerm t;
	double		beta[1] = {2.5},
				vcov[1] = {0.3},
				theta[1] = {0.7},
				b[3] = {0.1, -0.2, 0.1},
				cv[3] = {0.05, 0.05, 0.06},
				ttheta[3] = {0.5, 0.1, 0.4},
				tb[4] = {0.2, -0.1, -0.2, 0.1},
				tcv[8] = {0.04, 0.01, 0.01, 0.03, 0.05, 0.0, 0.0, 0.02};
	char	   *xn[1] = {"(Intercept)"},
			   *zn[1] = {"(Intercept)"},
			   *tzn[2] = {"(Intercept)", "temp"},
			   *lv[3] = {"A", "B", "C"},
			   *tlv[2] = {"x:1", "x:2"},
			   *ilv[3] = {"2", "10", "11"},
			   *tilv[2] = {"-5", "9000000000"};
	unsigned char *buf;
	size_t		size;

	memset(&m, 0, sizeof(m));
	m.flags = LMM_MODEL_CONVERGED | LMM_MODEL_SEVERAL;
	m.p = 1;
	m.q = 1;
	m.nlevels = 3;
	m.n_obs = 12;
	m.n_eval = 40;
	m.criterion = 30.5;
	m.loglik = -15.25;
	m.aic = 38.5;
	m.bic = 40.1;
	m.sigma = 0.9;
	m.grp = "batch";
	m.key_type = "text";
	m.x_names = xn;
	m.z_names = zn;
	m.beta = beta;
	m.vcov = vcov;
	m.theta = theta;
	m.levels = lv;
	m.b = b;
	m.condvar = cv;
	m.formula = "strength ~ 1 + (1 | batch) + (temp | cask:batch)";
	t.grp = "cask:batch";
	t.q = 2;
	t.z_names = tzn;
	t.theta = ttheta;
	t.nlevels = 2;
	t.levels = tlv;
	t.b = tb;
	t.condvar = tcv;
	m.nextra = 1;
	m.extra = &t;
	t.key_type = NULL;
	buf = pack_model(&m, &size);
	set_version(buf, 3);
	put_model("several_terms", buf, size - 4, 0, 0);
	free(buf);
	/* integer keys in both terms: the key types' section after the terms */
	m.key_type = "integer";
	m.levels = ilv;
	t.grp = "cask";
	t.key_type = "bigint";
	t.levels = tilv;
	m.formula = "strength ~ 1 + (1 | batch) + (temp | cask)";
	buf = pack_model(&m, &size);
	put_model("several_terms_typed", buf, size, 0, 0);
	free(buf);
}

/*
 * A model of lmm_fit with its statistics (format 4): y ~ x + (1 | a)
 * + (1 | b), or with slopes (x | a), on 4 x 3 crossed levels, 3 rows each.
 */
static void
model_terms(const char *name, int slope)
{
	int			q[2] = {slope ? 2 : 1, 1};
	char	   *xn[2] = {"(Intercept)", "x"},
			   *zn[2] = {"(Intercept)", "x"},
			   *gn[2] = {"a", "b"};
	char	  **levels[2];
	unsigned	seed = 23u + (unsigned) slope;
	LmmTermStats st;
	TestKeys	keys;
	LmmFit		fit;
	LmmModel	m;
	LmmModelTerm extra;
	unsigned char *buf;
	size_t		size;
	int			i,
				t,
				toff = 0;

	lmm_terms_init(&st, 2, 2, q);
	test_keys_init(&keys);
	for (i = 0; i < 36; i++)
	{
		char		ka[2] = {(char) ('A' + i % 4), '\0'},
					kb[2] = {(char) ('p' + (i / 4) % 3), '\0'};
		const char *kp[2] = {ka, kb};
		uint32_t	kl[2] = {1, 1};
		double		x[2] = {1.0, (double) (i % 5)};
		double		z[3] = {1.0, x[1], 1.0};
		double		y = 1.0 + 0.5 * x[1] + 0.3 * (i % 4) - 0.2 * ((i / 4) % 3) +
			(slope ? 0.1 * (i % 4) * x[1] : 0.0) + uniform(&seed) - 0.5;

		if (!slope)
			z[1] = 1.0;
		test_keys_add_row(&st, &keys, x, y, kp, kl, z);
	}
	if (lmm_fit(&st, 1, 1, &fit) != LMM_OK)
	{
		fprintf(stderr, "make_corpus: the several-term fit failed\n");
		exit(1);
	}
	memset(&m, 0, sizeof(m));
	m.flags = LMM_MODEL_REML | LMM_MODEL_SEVERAL | (fit.converged ? LMM_MODEL_CONVERGED : 0) |
		(fit.singular ? LMM_MODEL_SINGULAR : 0);
	m.p = fit.p;
	m.n_obs = (int64_t) st.n;
	m.n_eval = fit.n_eval;
	m.criterion = fit.criterion;
	m.loglik = fit.loglik;
	m.aic = fit.aic;
	m.bic = fit.bic;
	m.sigma = fit.sigma;
	m.key_type = "text";
	m.x_names = xn;
	m.beta = fit.beta;
	m.vcov = fit.vcov;
	m.ninf = fit.ninf;
	m.vcov_varpar = fit.vcov_varpar;
	m.jac = fit.jac;
	m.formula = slope ? "y ~ x + (x | a) + (1 | b)" : "y ~ x + (1 | a) + (1 | b)";
	m.tstats = &st;
	memset(&extra, 0, sizeof(extra));
	m.nextra = 1;
	m.extra = &extra;
	for (t = 0; t < 2; t++)
	{
		const LmmFitTerm *ft = &fit.term[t];
		LmmModelTerm *mt = t == 0 ? NULL : &extra;

		levels[t] = keys.key[ft->src];
		if (t == 0)
		{
			m.grp = gn[ft->src];
			m.q = ft->q;
			m.z_names = zn;
			m.theta = fit.theta;
			m.nlevels = ft->nlevels;
			m.levels = levels[t];
			m.b = ft->b;
			m.condvar = ft->condvar;
		}
		else
		{
			mt->grp = gn[ft->src];
			mt->q = ft->q;
			mt->z_names = zn;
			mt->theta = fit.theta + toff;
			mt->nlevels = ft->nlevels;
			mt->levels = levels[t];
			mt->b = ft->b;
			mt->condvar = ft->condvar;
		}
		toff += LMM_NTHETA(ft->q);
	}
	buf = pack_model(&m, &size);
	put_model(name, buf, size, 0, 1);
	free(buf);
	lmm_fit_free(&fit);
	lmm_terms_free(&st);
	test_keys_free(&keys);
}

/*
 * Pack statistics with keys k0, k1, ... (text keys) or 4-byte integers;
 * unless they are a regression, check them first and write a truncated copy.
 */
static void
put_stats(const char *name, const LmmStats *st, const LmmStatsMeta *meta, int int_keys)
{
	int			regression = strncmp(name, "regress_", 8) == 0;
	const unsigned char *kd[64];
	uint32_t	kl[64];
	unsigned char kb[64][8];
	LmmStatsKeys keys;
	unsigned char *buf;
	size_t		size;
	int64_t		j;

	for (j = 0; j < st->nlevels && j < 64; j++)
	{
		if (int_keys)
		{
			kb[j][0] = kb[j][1] = kb[j][2] = 0;
			kb[j][3] = (unsigned char) (j + 1);
			kl[j] = 4;
		}
		else
			kl[j] = (uint32_t) snprintf((char *) kb[j], 8, "k%d", (int) j);
		kd[j] = kb[j];
	}
	keys.data = kd;
	keys.len = kl;
	if (!regression && lmm_stats_check(st, meta) != NULL)
	{
		fprintf(stderr, "make_corpus: invalid statistics: %s\n", lmm_stats_check(st, meta));
		exit(1);
	}
	buf = test_legacy_pack(st, meta, &keys, &size);
	put_file("stats", name, buf, size);
	if (size > 40 && !regression)
	{
		char		bad[64];

		snprintf(bad, sizeof(bad), "bad_%s_truncated", name);
		put_file("stats", bad, buf, size - 13);
	}
	free(buf);
}

/* lmm 0.6's statistics: intercept only, with a slope, with names, and empty. */
static void
stats_values(void)
{
	LmmStats	st;
	LmmStatsMeta meta;
	char	   *xn[1] = {"days"},
			   *zn[1] = {"days"};

	memset(&meta, 0, sizeof(meta));
	meta.g_name = "subject";
	meta.key_type = "integer";
	meta.n_x_names = meta.n_z_names = -1;

	make_stats(&st, NULL, 1, 5, 4);
	put_stats("q1_int_keys", &st, &meta, 1);
	lmm_stats_free(&st);

	make_stats(&st, NULL, 2, 6, 5);
	meta.key_type = "text";
	meta.g_name = "g";
	meta.n_x_names = 1;
	meta.x_names = xn;
	meta.n_z_names = 1;
	meta.z_names = zn;
	meta.n_dropped = 4;
	put_stats("q2_text_keys_names", &st, &meta, 0);
	meta.flags = LMM_STATS_ML;
	put_stats("q2_ml_state", &st, &meta, 0);
	lmm_stats_free(&st);

	memset(&st, 0, sizeof(st));
	meta.flags = 0;
	meta.n_x_names = meta.n_z_names = -1;
	meta.n_dropped = 9;
	put_stats("empty", &st, &meta, 0);

	/* seen in review, caught by fuzz_stats' count check: two levels of 2^53 rows */
	make_stats(&st, NULL, 1, 2, 3);
	st.level[0] = st.level[st.stride] = LMM_MAX_ROWS;
	st.n = 2.0 * LMM_MAX_ROWS;
	meta.n_dropped = 0;
	put_stats("regress_rows_over_2p53", &st, &meta, 1);
	lmm_stats_free(&st);
}

/*
 * lmm_stats values (the binary form of lmm_terms_io.h, magic LMMt), as
 * lmm_stats(formula, source) stores them: y ~ x + (1 | a) + (1 | b), or
 * with slopes (x | a), on 4 x 3 crossed levels, keyed by text and (term b)
 * bigint; the statistics of rows that were all dropped; and a truncated
 * copy of the first.
 */
static void
stats_terms(const char *name, int slope, int rows)
{
	int			q[2] = {slope ? 2 : 1, 1};
	unsigned	seed = 41u + (unsigned) slope;
	LmmTermStats st;
	TestKeys	keys;
	LmmTermsMeta meta;
	unsigned char *buf;
	size_t		size;
	int			i;

	lmm_terms_init(&st, 2, 2, q);
	test_keys_init(&keys);
	for (i = 0; i < rows; i++)
	{
		char		ka[2] = {(char) ('A' + i % 4), '\0'},
					kb[8] = {0, 0, 0, 0, 0, 0, 0, (char) (1 + (i / 4) % 3)};
		const char *kp[2] = {ka, kb};
		uint32_t	kl[2] = {1, 8};
		double		x[2] = {1.0, (double) (i % 5)};
		double		z[3] = {1.0, slope ? x[1] : 1.0, 1.0};
		double		y = 2.0 + 0.5 * x[1] + 0.3 * (i % 4) - 0.2 * ((i / 4) % 3) +
			(slope ? 0.1 * (i % 4) * x[1] : 0.0) + uniform(&seed) - 0.5;

		test_keys_add_row(&st, &keys, x, y, kp, kl, z);
	}
	memset(&meta, 0, sizeof(meta));
	test_keys_meta(&keys, 2, &meta);
	meta.keys[1].type = "bigint";
	meta.n_rows = rows + 2;
	meta.n_dropped = 2;
	meta.spec = slope ?
		"{\"formula\": \"y ~ x + (x | a) + (1 | b)\", \"x\": [\"(Intercept)\", \"x\"], \"terms\": [{\"group\": \"a\", \"z\": [\"(Intercept)\", \"x\"]}, {\"group\": \"b\", \"z\": [\"(Intercept)\"]}]}" :
		"{\"formula\": \"y ~ x + (1 | a) + (1 | b)\", \"x\": [\"(Intercept)\", \"x\"], \"terms\": [{\"group\": \"a\", \"z\": [\"(Intercept)\"]}, {\"group\": \"b\", \"z\": [\"(Intercept)\"]}]}";
	meta.options = NULL;
	if (lmm_terms_check(&st) != NULL)
	{
		fprintf(stderr, "make_corpus: invalid statistics: %s\n", lmm_terms_check(&st));
		exit(1);
	}
	size = lmm_terms_packed_size(&st, &meta);
	buf = malloc(size);
	lmm_terms_pack(&st, &meta, buf);
	put_file("stats", name, buf, size);
	if (rows > 0 && !slope)
	{
		char		bad[64];

		snprintf(bad, sizeof(bad), "bad_%s_truncated", name);
		put_file("stats", bad, buf, size - 13);
	}
	free(buf);
	lmm_terms_free(&st);
	test_keys_free(&keys);
}

/*
 * Tables for fuzz_terms (see its header): header bytes, then rows of key
 * bytes, x, y and slopes, one byte each, with y = 1 + x + effects + noise.
 * With many, the levels of term t cycle with period 66 + t, past the 64
 * levels at which the key index grows, and y is constant, so that the fit
 * stops at once (it would take long under the sanitizers); otherwise with
 * period 3 + t, crossed factors.
 */
static void
terms_table(const char *name, int p, int k, int slopes, int split, int rows, int many)
{
	unsigned char buf[4096];
	unsigned	seed = 11u + (unsigned) (p * 7 + k * 3 + slopes);
	size_t		n = 0;
	int			i,
				t,
				a;

	buf[n++] = (unsigned char) (p - 1);
	buf[n++] = (unsigned char) (k - 1);
	buf[n++] = (unsigned char) slopes;
	buf[n++] = (unsigned char) split;
	for (i = 0; i < rows && n + 16 < sizeof(buf); i++)
	{
		double		x = 0.0,
					y;

		for (t = 0; t < k; t++)
			buf[n++] = many ? (unsigned char) (0x40 + i % (66 + t)) :
				(unsigned char) (1 + 4 * (i % (3 + t)));
		for (a = 1; a < p; a++)
		{
			x = (i % 5) - 2.0;
			buf[n++] = (unsigned char) (128 + 8 * x);
		}
		y = many ? 1.0 :
			1.0 + x + (i % 3) * 0.5 + (i % 4) * 0.25 + 2.0 * (uniform(&seed) - 0.5);
		buf[n++] = (unsigned char) (128 + 8 * y);
		for (t = 0; t < k; t++)
			if ((slopes >> t) & 1)
				buf[n++] = (unsigned char) (128 + 8 * (double) (i % 4));
	}
	put_file("terms", name, buf, n);
}

/* Write every binary seed. */
int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: make_corpus CORPUS_DIR\n");
		return 2;
	}
	corpus = argv[1];
	models_of_fit(1);
	models_of_fit(2);
	model_several();
	model_terms("terms_crossed", 0);
	model_terms("terms_crossed_slope", 1);
	stats_values();
	stats_terms("terms_crossed", 0, 36);
	stats_terms("terms_crossed_slope", 1, 36);
	stats_terms("terms_dropped_only", 0, 0);
	terms_table("crossed", 2, 2, 0, 20, 48, 0);
	terms_table("crossed_slope", 2, 2, 2, 10, 60, 0);
	terms_table("three_terms", 1, 3, 0, 30, 60, 0);
	terms_table("one_term_slope", 3, 1, 1, 12, 40, 0);
	terms_table("many_levels", 2, 2, 0, 40, 110, 1);
	return 0;
}
