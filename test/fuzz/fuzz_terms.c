/*
 * fuzz_terms.c
 *	  libFuzzer harness for the several-term path of lmm(formula, source):
 *	  rows into lmm_terms_add_row (level keys mapped to level numbers as
 *	  the host does, sparse pair blocks), two partial states merged as
 *	  parallel workers' are (lmm_terms_merge, after the levels are added in
 *	  key order as the final function's sorting does), lmm_fit on the
 *	  result, and Kenward-Roger (lmm_kr) at a REML fit.  The input is read
 *	  as a small table:
 *	    byte 0: p - 1 (mod 3), and bit 2 set for no intercept column
 *	    byte 1: terms - 1 (mod 3), and bit 2 set for ML
 *	    byte 2: bit t set for a random slope in term t (q = 2)
 *	    byte 3: the row where the second worker's part starts
 *	  then rows of bytes, each: a key byte per term, the x values, y and the
 *	  z slopes, every number one byte (at most MAX_ROWS rows).  A fit that succeeds must give a
 *	  model that passes lmm_model_check and survives its binary form.  The
 *	  fit is interrupted after FIT_POLLS polls of the host (about two a
 *	  criterion evaluation), as statement_timeout would stop it in the
 *	  server, so that no input runs long under the sanitizers.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_fit.h"
#include "lmm_kr.h"
#include "lmm_model.h"
#include "lmm_terms.h"
#include "../core/test_util.h"

#define MAX_ROWS 120

/* Polls of the host's interrupt check (test/core/host.c) a fit may make. */
#define FIT_POLLS 3000

extern long host_polls_left;

/* Abort (a crash libFuzzer reports) when an invariant fails. */
static void
require(int ok)
{
	if (!ok)
		abort();
}

/* A finite number from one byte: small steps, with a few huge and tiny ones. */
static double
number(uint8_t b)
{
	if (b == 0xFF)
		return 1e150;
	if (b == 0xFE)
		return -3e-160;
	if (b == 0xFD)
		return 1e15 + 0.5;
	return ((int) b - 128) / 8.0;
}

/* Keys in byte order: what lmm_terms_final's sorting gives. */
static int
compare_key(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Merge parts a and b into out, after adding the levels of both in key order. */
static void
merge_sorted(LmmTermStats *out, TestKeys *kout, const LmmTermStats *a,
			 const TestKeys *ka, const LmmTermStats *b, const TestKeys *kb)
{
	int			q[LMM_MAX_TERMS];
	int			t;
	int64_t		j;

	for (t = 0; t < a->nterms; t++)
		q[t] = a->term[t].q;
	lmm_terms_init(out, a->p, a->nterms, q);
	test_keys_init(kout);
	for (t = 0; t < a->nterms; t++)
	{
		char	  **keys = malloc(sizeof(char *) * (ka->n[t] + kb->n[t] + 1));
		int64_t		n = 0;

		require(ka->n[t] == a->term[t].nlevels && kb->n[t] == b->term[t].nlevels);
		for (j = 0; j < ka->n[t]; j++)
			keys[n++] = ka->key[t][j];
		for (j = 0; j < kb->n[t]; j++)
			keys[n++] = kb->key[t][j];
		qsort(keys, n, sizeof(char *), compare_key);
		for (j = 0; j < n; j++)
			test_keys_level(kout, out, t, keys[j], (uint32_t) strlen(keys[j]));
		free(keys);
	}
	test_keys_merge(out, kout, a, ka);
	test_keys_merge(out, kout, b, kb);
}

/* The model lmm_terms_final builds from a fit; checked, packed and unpacked. */
static void
check_model(const LmmTermStats *s, const TestKeys *keys, const LmmFit *fit, int reml)
{
	static char *names[LMM_MAX_COLUMNS] = {"(Intercept)", "x1", "x2"};
	static char *znames[2] = {"(Intercept)", "z"};
	LmmModel	m,
				back;
	LmmModelTerm extra[LMM_MAX_TERMS];
	int			t,
				toff = 0;
	size_t		size;
	unsigned char *buf;
	const char *problem;

	memset(&m, 0, sizeof(m));
	memset(extra, 0, sizeof(extra));
	m.flags = (reml ? LMM_MODEL_REML : 0) | (fit->converged ? LMM_MODEL_CONVERGED : 0) |
		(fit->singular ? LMM_MODEL_SINGULAR : 0) | (fit->nterms > 1 ? LMM_MODEL_SEVERAL : 0);
	m.p = fit->p;
	m.n_obs = (int64_t) s->n;
	m.n_eval = fit->n_eval;
	m.criterion = fit->criterion;
	m.loglik = fit->loglik;
	m.aic = fit->aic;
	m.bic = fit->bic;
	m.sigma = fit->sigma;
	m.x_names = names;
	m.beta = fit->beta;
	m.vcov = fit->vcov;
	m.ninf = fit->ninf;
	m.vcov_varpar = fit->vcov_varpar;
	m.jac = fit->jac;
	m.formula = "";
	m.key_type = "text";
	m.nextra = fit->nterms - 1;
	m.extra = extra;
	for (t = 0; t < fit->nterms; t++)
	{
		const LmmFitTerm *ft = &fit->term[t];
		LmmModelTerm *mt = t == 0 ? NULL : &extra[t - 1];

		require(ft->src >= 0 && ft->src < s->nterms && ft->nlevels == s->term[ft->src].nlevels);
		if (t == 0)
		{
			m.grp = "g0";
			m.q = ft->q;
			m.z_names = znames;
			m.theta = fit->theta;
			m.nlevels = ft->nlevels;
			m.levels = keys->key[ft->src];
			m.b = ft->b;
			m.condvar = ft->condvar;
		}
		else
		{
			mt->grp = "g";
			mt->q = ft->q;
			mt->z_names = znames;
			mt->theta = fit->theta + toff;
			mt->nlevels = ft->nlevels;
			mt->levels = keys->key[ft->src];
			mt->b = ft->b;
			mt->condvar = ft->condvar;
		}
		toff += LMM_NTHETA(ft->q);
	}
	require(toff == fit->ntheta);
	problem = lmm_model_check(&m);
	require(problem == NULL);
	size = lmm_model_packed_size(&m);
	buf = malloc(size);
	lmm_model_pack(&m, buf);
	require(lmm_model_unpack(buf, size, &back) == NULL);
	lmm_model_free(&back);
	free(buf);
}

/*
 * Kenward-Roger at the fit (lmm_kr.c): a status, and where it succeeds a
 * covariance of positive diagonal and the df of the first coefficient.
 */
static void
check_kr(const LmmTermStats *s, const LmmFit *fit)
{
	LmmKr		kr;
	double		L[3] = {1.0, 0.0, 0.0},
				fscale;
	int			a;

	host_polls_left = FIT_POLLS;
	if (lmm_kr(s, fit->theta, fit->sigma, &kr) == LMM_KR_OK)
	{
		require(kr.p == fit->p && kr.ngamma == fit->ntheta + 1);
		for (a = 0; a < kr.p; a++)
			require(!(kr.phi[a * kr.p + a] <= 0.0));
		(void) lmm_kr_df(&kr, 1, L, &fscale);
		lmm_kr_free(&kr);
	}
}

/* One input: a spec and rows, as described above. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	LmmTermStats whole,
				part[2],
				merged;
	TestKeys	kwhole,
				kpart[2],
				kmerged;
	LmmFit		fit;
	int			q[LMM_MAX_TERMS];
	int			p,
				k,
				nz = 0,
				intercept,
				reml,
				split,
				width,
				t,
				row;
	size_t		at = 4;

	if (size < 4)
		return 0;
	p = 1 + data[0] % 3;
	intercept = !(data[0] & 0x4);
	k = 1 + data[1] % 3;
	reml = !(data[1] & 0x4);
	for (t = 0; t < k; t++)
	{
		q[t] = (data[2] >> t) & 1 ? 2 : 1;
		nz += q[t];
	}
	split = data[3];
	/* per row: keys, x without the intercept, y, and one byte per slope */
	width = k + (intercept ? p - 1 : p) + 1 + (nz - k);

	lmm_terms_init(&whole, p, k, q);
	lmm_terms_init(&part[0], p, k, q);
	lmm_terms_init(&part[1], p, k, q);
	test_keys_init(&kwhole);
	test_keys_init(&kpart[0]);
	test_keys_init(&kpart[1]);
	for (row = 0; row < MAX_ROWS && at + width <= size; row++, at += width)
	{
		const uint8_t *r = data + at;
		char		keybuf[LMM_MAX_TERMS][4];
		const char *key[LMM_MAX_TERMS];
		uint32_t	keylen[LMM_MAX_TERMS];
		double		x[3],
					z[2 * LMM_MAX_TERMS],
					y;
		int			c = 0,
					a,
					zi = 0;

		for (t = 0; t < k; t++)
		{
			/*
			 * below 64, one of 17 short keys (the empty one too), so levels
			 * repeat; above, the byte in decimal, so a table can pass the 64
			 * levels at which the key index grows
			 */
			if (r[c] < 0x40)
			{
				keylen[t] = (uint32_t) (r[c] % 3);
				memset(keybuf[t], 'a' + (r[c] >> 2) % 8, sizeof(keybuf[t]));
				keybuf[t][keylen[t]] = '\0';
			}
			else
				keylen[t] = (uint32_t) snprintf(keybuf[t], sizeof(keybuf[t]), "%d", r[c]);
			key[t] = keybuf[t];
			c++;
		}
		for (a = 0; a < p; a++)
			x[a] = (a == 0 && intercept) ? 1.0 : number(r[c++]);
		y = number(r[c++]);
		for (t = 0; t < k; t++)
		{
			z[zi++] = 1.0;
			if (q[t] == 2)
				z[zi++] = number(r[c++]);
		}
		test_keys_add_row(&whole, &kwhole, x, y, key, keylen, z);
		test_keys_add_row(&part[row < split ? 0 : 1], &kpart[row < split ? 0 : 1],
						  x, y, key, keylen, z);
	}

	merge_sorted(&merged, &kmerged, &part[0], &kpart[0], &part[1], &kpart[1]);
	require(merged.n == whole.n);
	for (t = 0; t < k; t++)
		require(merged.term[t].nlevels == whole.term[t].nlevels);
	if (merged.n > 0)
	{
		host_polls_left = FIT_POLLS;
		if (lmm_fit(&merged, reml, 1, &fit) == LMM_OK)
		{
			check_model(&merged, &kmerged, &fit, reml);
			if (reml)
				check_kr(&merged, &fit);
		}
		host_polls_left = -1;
		lmm_fit_free(&fit);
	}
	lmm_terms_free(&whole);
	lmm_terms_free(&part[0]);
	lmm_terms_free(&part[1]);
	lmm_terms_free(&merged);
	test_keys_free(&kwhole);
	test_keys_free(&kpart[0]);
	test_keys_free(&kpart[1]);
	test_keys_free(&kmerged);
	return 0;
}
