/*
 * lmm_model.c
 *	  Pack, unpack and validate the binary form of a fitted model.
 *
 * Layout (all integers and doubles big-endian):
 *	 u32 magic, u32 version, u32 flags, u32 p, u32 q, u64 nlevels,
 *	 u64 n_obs, u64 n_dropped, u32 n_eval,
 *	 f8 criterion, loglik, aic, bic, sigma,
 *	 str grp, str key_type, p x str x_names, q x str z_names,
 *	 p f8 beta, p*p f8 vcov, q(q+1)/2 f8 theta,
 *	 nlevels x (str level, q f8 b, q*q f8 condvar)
 * and, from version 2 on,
 *	 u32 ninf, ninf*ninf f8 vcov_varpar, ninf*p*p f8 jac,
 *	 u32 has_stats, [f8 n, p f8 mean, p*p f8 comom, nlevels x stride f8]
 *	 (lmm 0.6's one-term statistics, lmm_stats.h; converted on reading,
 *	 never written now: has_stats is 0)
 * and, from version 3 on,
 *	 str formula, u32 nextra, nextra x (str grp, u32 q, q x str z_names,
 *	 q(q+1)/2 f8 theta, u64 nlevels, nlevels x (str level, q f8 b, q*q f8 condvar))
 * and, from version 4 on, when a term after the first has keys of a type
 * other than text,
 *	 u32 LMM_MODEL_KEYS_MAGIC, nextra x str key_type
 * and then
 *	 u32 has_tstats, [u64 length, that many bytes of the model's statistics
 *	 in lmm_terms_io.h's form without keys, with n_rows = n_obs + n_dropped,
 *	 an empty spec and no options] (for models of one term or several)
 * and, when the fixed part has factors (a model of lmm() since 0.7),
 *	 u32 LMM_MODEL_FACTORS_MAGIC, u32 LMM_MODEL_FACTORS_VERSION, u32 nfactors,
 *	 nfactors x (str name, u32 nlevels, nlevels x str level), names in
 *	 strcmp order
 * and, for a generalized model (family other than Gaussian),
 *	 u32 LMM_MODEL_FAMILY_MAGIC, u32 family, u32 link, u32 nagq
 * where str is a u32 length and that many bytes.  Version 1 values (no
 * tail) are still read: they lack Satterthwaite's df and refits; version 2
 * values have one term and no formula; version 3 values of lmm() lack the
 * statistics that its refits need.  Whatever the version, a model read
 * carries its statistics (if any) as m->tstats.
 */
#include "lmm_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_bytes.h"
#include "lmm_host.h"
#include "lmm_stats.h"
#include "lmm_stats_io.h"
#include "lmm_terms_io.h"

/* What the binary form of a model's statistics carries besides them. */
static LmmTermsMeta
tstats_meta(const LmmModel *m)
{
	LmmTermsMeta meta;

	memset(&meta, 0, sizeof(meta));
	meta.flags = LMM_TERMS_NO_KEYS;
	meta.n_rows = m->n_obs + m->n_dropped;
	meta.n_dropped = m->n_dropped;
	meta.spec = "";
	meta.options = NULL;
	return meta;
}

/* Bytes of the binary form of m's statistics (m->tstats set). */
size_t
lmm_model_tstats_size(const LmmModel *m)
{
	LmmTermsMeta meta = tstats_meta(m);

	return lmm_terms_packed_size(m->tstats, &meta);
}

/* Write the binary form of m's statistics into buf (lmm_model_tstats_size bytes). */
void
lmm_model_tstats_pack(const LmmModel *m, unsigned char *buf)
{
	LmmTermsMeta meta = tstats_meta(m);

	lmm_terms_pack(m->tstats, &meta, buf);
}

/*
 * Read len bytes of statistics into m->tstats (m's counts
 * already read), their own reader checking every count against the bytes
 * before allocating and every value after reading.  They must be in the
 * canonical form lmm_model_tstats_pack writes, so that an accepted value
 * packs back to its own bytes; "interrupted" when the host asked to stop.
 * Whether they belong to m is lmm_model_check's question.
 */
const char *
lmm_model_tstats_unpack(const unsigned char *buf, size_t len, LmmModel *m)
{
	LmmTermsMeta meta;
	const char *problem;

	if (m->tstats != NULL)
		return "a model carries its statistics once";
	m->tstats = lmm_alloc0(sizeof(LmmTermStats));
	problem = lmm_terms_unpack(buf, len, m->tstats, &meta);
	if (problem == NULL &&
		(meta.spec[0] != '\0' || meta.options != NULL || meta.n_dropped != m->n_dropped ||
		 !(meta.flags & LMM_TERMS_NO_KEYS)))
		problem = "the model's statistics do not match its counts";
	lmm_terms_meta_free(&meta);
	return problem;
}

/* The key type of a term after the first: "text" unless it says otherwise. */
static const char *
extra_key_type(const LmmModelTerm *t)
{
	return t->key_type ? t->key_type : "text";
}

/* Nonzero when a term after the first has keys other than text: the keys section is written. */
static int
has_key_types(const LmmModel *m)
{
	int			k;

	for (k = 0; k < m->nextra; k++)
		if (strcmp(extra_key_type(&m->extra[k]), "text") != 0)
			return 1;
	return 0;
}

/* Bytes lmm_model_pack will write for m. */
size_t
lmm_model_packed_size(const LmmModel *m)
{
	size_t		size = 5 * 4 + 3 * 8 + 4 + 5 * 8;
	int64_t		j;
	int			k;

	size += 4 + strlen(m->grp) + 4 + strlen(m->key_type);
	for (k = 0; k < m->p; k++)
		size += 4 + strlen(m->x_names[k]);
	for (k = 0; k < m->q; k++)
		size += 4 + strlen(m->z_names[k]);
	size += 8 * ((size_t) m->p + (size_t) m->p * m->p + LMM_NTHETA(m->q));
	for (j = 0; j < m->nlevels; j++)
		size += 4 + strlen(m->levels[j]);
	size += 8 * (size_t) m->nlevels * ((size_t) m->q + (size_t) m->q * m->q);
	size += 4 + 8 * ((size_t) m->ninf * m->ninf + (size_t) m->ninf * m->p * m->p);
	size += 4;
	size += 4 + strlen(m->formula ? m->formula : "") + 4;
	for (k = 0; k < m->nextra; k++)
	{
		const LmmModelTerm *t = &m->extra[k];
		int			a;

		size += 4 + strlen(t->grp) + 4 + 8 * LMM_NTHETA(t->q) + 8;
		for (a = 0; a < t->q; a++)
			size += 4 + strlen(t->z_names[a]);
		for (j = 0; j < t->nlevels; j++)
			size += 4 + strlen(t->levels[j]);
		size += 8 * (size_t) t->nlevels * ((size_t) t->q + (size_t) t->q * t->q);
	}
	if (has_key_types(m))
	{
		size += 4;
		for (k = 0; k < m->nextra; k++)
			size += 4 + strlen(extra_key_type(&m->extra[k]));
	}
	size += 4 + (m->tstats ? 8 + lmm_model_tstats_size(m) : 0);
	if (m->nfactors > 0)
	{
		size += 3 * 4;
		for (k = 0; k < m->nfactors; k++)
		{
			const LmmModelFactor *f = &m->factors[k];
			int			l;

			size += 4 + strlen(f->name) + 4;
			for (l = 0; l < f->nlevels; l++)
				size += 4 + strlen(f->levels[l]);
		}
	}
	if (m->family != 0)
		size += 4 * 4;
	return size;
}

/* Random-effects term t of a model (0 is the first, in the head), as one view. */
LmmModelTerm
lmm_model_term(const LmmModel *m, int t)
{
	LmmModelTerm v;

	if (t > 0)
		return m->extra[t - 1];
	v.grp = m->grp;
	v.key_type = m->key_type;
	v.q = m->q;
	v.z_names = m->z_names;
	v.theta = m->theta;
	v.nlevels = m->nlevels;
	v.levels = m->levels;
	v.b = m->b;
	v.condvar = m->condvar;
	return v;
}

/* qsort order of level labels. */
static int
label_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * NULL when no term of m has the same level twice, else what is wrong: the
 * input functions refuse such a model, which scoring could not index and
 * lmm_ranef would list twice.  O(levels log levels), so not part of the
 * check every extraction runs.
 */
const char *
lmm_model_check_unique_levels(const LmmModel *m)
{
	const char *problem = NULL;
	int			t;

	for (t = 0; t <= m->nextra && problem == NULL; t++)
	{
		LmmModelTerm v = lmm_model_term(m, t);
		char	  **sorted;
		int64_t		j;

		if (v.nlevels < 2)
			continue;
		sorted = lmm_alloc(sizeof(char *) * (size_t) v.nlevels);
		memcpy(sorted, v.levels, sizeof(char *) * (size_t) v.nlevels);
		qsort(sorted, (size_t) v.nlevels, sizeof(char *), label_cmp);
		for (j = 1; j < v.nlevels && problem == NULL; j++)
			if (strcmp(sorted[j - 1], sorted[j]) == 0)
				problem = "a level of a random-effects term appears twice";
		lmm_free(sorted);
	}
	return problem;
}

/* Variance parameters of all terms: theta of the first and of every extra term. */
int
lmm_model_ntheta(const LmmModel *m)
{
	int			k,
				nt = LMM_NTHETA(m->q);

	for (k = 0; k < m->nextra; k++)
		nt += LMM_NTHETA(m->extra[k].q);
	return nt;
}

/* Write m's binary form into buf, which holds lmm_model_packed_size(m) bytes. */
void
lmm_model_pack(const LmmModel *m, unsigned char *buf)
{
	unsigned char *w = buf;
	int64_t		j;
	int			k;

	w = lmm_put_u32(w, LMM_MODEL_MAGIC);
	w = lmm_put_u32(w, LMM_MODEL_VERSION);
	w = lmm_put_u32(w, m->flags);
	w = lmm_put_u32(w, (uint32_t) m->p);
	w = lmm_put_u32(w, (uint32_t) m->q);
	w = lmm_put_u64(w, (uint64_t) m->nlevels);
	w = lmm_put_u64(w, (uint64_t) m->n_obs);
	w = lmm_put_u64(w, (uint64_t) m->n_dropped);
	w = lmm_put_u32(w, (uint32_t) m->n_eval);
	w = lmm_put_f8(w, m->criterion);
	w = lmm_put_f8(w, m->loglik);
	w = lmm_put_f8(w, m->aic);
	w = lmm_put_f8(w, m->bic);
	w = lmm_put_f8(w, m->sigma);
	w = lmm_put_str(w, m->grp);
	w = lmm_put_str(w, m->key_type);
	for (k = 0; k < m->p; k++)
		w = lmm_put_str(w, m->x_names[k]);
	for (k = 0; k < m->q; k++)
		w = lmm_put_str(w, m->z_names[k]);
	for (k = 0; k < m->p; k++)
		w = lmm_put_f8(w, m->beta[k]);
	for (k = 0; k < m->p * m->p; k++)
		w = lmm_put_f8(w, m->vcov[k]);
	for (k = 0; k < LMM_NTHETA(m->q); k++)
		w = lmm_put_f8(w, m->theta[k]);
	for (j = 0; j < m->nlevels; j++)
	{
		w = lmm_put_str(w, m->levels[j]);
		for (k = 0; k < m->q; k++)
			w = lmm_put_f8(w, m->b[j * m->q + k]);
		for (k = 0; k < m->q * m->q; k++)
			w = lmm_put_f8(w, m->condvar[j * m->q * m->q + k]);
	}
	w = lmm_put_u32(w, (uint32_t) m->ninf);
	for (k = 0; k < m->ninf * m->ninf; k++)
		w = lmm_put_f8(w, m->vcov_varpar[k]);
	for (k = 0; k < m->ninf * m->p * m->p; k++)
		w = lmm_put_f8(w, m->jac[k]);
	w = lmm_put_u32(w, 0);		/* lmm 0.6's statistics: never written */
	w = lmm_put_str(w, m->formula ? m->formula : "");
	w = lmm_put_u32(w, (uint32_t) m->nextra);
	for (k = 0; k < m->nextra; k++)
	{
		const LmmModelTerm *t = &m->extra[k];
		int			a;

		w = lmm_put_str(w, t->grp);
		w = lmm_put_u32(w, (uint32_t) t->q);
		for (a = 0; a < t->q; a++)
			w = lmm_put_str(w, t->z_names[a]);
		for (a = 0; a < LMM_NTHETA(t->q); a++)
			w = lmm_put_f8(w, t->theta[a]);
		w = lmm_put_u64(w, (uint64_t) t->nlevels);
		for (j = 0; j < t->nlevels; j++)
		{
			w = lmm_put_str(w, t->levels[j]);
			for (a = 0; a < t->q; a++)
				w = lmm_put_f8(w, t->b[j * t->q + a]);
			for (a = 0; a < t->q * t->q; a++)
				w = lmm_put_f8(w, t->condvar[j * t->q * t->q + a]);
		}
	}
	if (has_key_types(m))
	{
		w = lmm_put_u32(w, LMM_MODEL_KEYS_MAGIC);
		for (k = 0; k < m->nextra; k++)
			w = lmm_put_str(w, extra_key_type(&m->extra[k]));
	}
	w = lmm_put_u32(w, m->tstats ? 1 : 0);
	if (m->tstats)
	{
		/* a pass over every level record: once */
		size_t		len = lmm_model_tstats_size(m);

		w = lmm_put_u64(w, (uint64_t) len);
		lmm_model_tstats_pack(m, w);
		w += len;
	}
	if (m->nfactors > 0)
	{
		w = lmm_put_u32(w, LMM_MODEL_FACTORS_MAGIC);
		w = lmm_put_u32(w, LMM_MODEL_FACTORS_VERSION);
		w = lmm_put_u32(w, (uint32_t) m->nfactors);
		for (k = 0; k < m->nfactors; k++)
		{
			const LmmModelFactor *f = &m->factors[k];
			int			l;

			w = lmm_put_str(w, f->name);
			w = lmm_put_u32(w, (uint32_t) f->nlevels);
			for (l = 0; l < f->nlevels; l++)
				w = lmm_put_str(w, f->levels[l]);
		}
	}
	if (m->family != 0)
	{
		w = lmm_put_u32(w, LMM_MODEL_FAMILY_MAGIC);
		w = lmm_put_u32(w, (uint32_t) m->family);
		w = lmm_put_u32(w, (uint32_t) m->link);
		w = lmm_put_u32(w, (uint32_t) m->nagq);
	}
}

/* Read n doubles into a new array; NULL if they are not all there. */
static double *
get_f8_array(LmmReader *r, size_t n)
{
	double	   *a;
	size_t		i;

	if (n > lmm_left(r) / 8)
	{
		r->failed = 1;
		return NULL;
	}
	a = lmm_alloc(sizeof(double) * (n > 0 ? n : 1));
	for (i = 0; i < n; i++)
		a[i] = lmm_get_f8(r);
	return a;
}

/* Read n strings into a new array; NULL if malformed. */
static char **
get_str_array(LmmReader *r, size_t n)
{
	char	  **a;
	size_t		i;

	if (n > lmm_left(r) / 4)
	{
		r->failed = 1;
		return NULL;
	}
	a = lmm_alloc0(sizeof(char *) * (n > 0 ? n : 1));
	for (i = 0; i < n && !r->failed; i++)
		a[i] = lmm_get_str(r);
	return a;
}

/* Nonzero if all n doubles are finite. */
static int
all_finite(const double *a, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
		if (!isfinite(a[i]))
			return 0;
	return 1;
}

/* Check the part of a model before its levels; NULL or the first problem. */
static const char *
check_head(const LmmModel *m)
{
	int			k;
	int			q = m->q;

	if (m->flags & ~LMM_MODEL_FLAGS)
		return "unknown flag bits";
	if (m->p < 1 || m->p > LMM_MAX_COLUMNS || q < 1 || q > LMM_MAX_RANDOM)
		return "number of fixed or random terms out of range";
	if (m->nlevels < 2 || m->n_obs < m->nlevels || m->n_dropped < 0 ||
		m->n_eval < 0)
		return "counts are inconsistent (need at least 2 levels and no more levels than observations)";
	if (!isfinite(m->criterion) || !isfinite(m->loglik) || !isfinite(m->aic) ||
		!isfinite(m->bic) || !(isfinite(m->sigma) && m->sigma > 0.0))
		return "criterion, log-likelihood, AIC, BIC and sigma must be finite, sigma positive";
	if (!all_finite(m->beta, m->p) || !all_finite(m->vcov, (size_t) m->p * m->p) ||
		!all_finite(m->theta, LMM_NTHETA(q)))
		return "estimates must be finite numbers";
	for (k = 0; k < m->p; k++)
		if (m->vcov[k * m->p + k] < 0.0)
			return "variances of the fixed effects must not be negative";
	for (k = 0; k < q; k++)
	{
		/* the diagonal of T is listed at index k*q - k(k-1)/2 */
		if (m->theta[k * q - k * (k - 1) / 2] < 0.0)
			return "diagonal elements of theta must not be negative";
	}
	return NULL;
}

/*
 * Read the part of a model before its levels into m (nlevels included,
 * bounded by the bytes left in r and the rest bytes of the value past r's
 * end), checking sizes before allocating; leaves r at the level records.  Returns NULL on success or a description of the
 * problem; m then holds nothing lmm_model_free can't release.
 */
static const char *
unpack_head(LmmReader *r, size_t rest, LmmModel *m, uint32_t *version)
{
	uint32_t	p,
				q;
	uint64_t	nlevels;
	size_t		per_level;

	memset(m, 0, sizeof(LmmModel));
	if (lmm_get_u32(r) != LMM_MODEL_MAGIC)
		return "not an lmm_model value (bad magic number)";
	*version = lmm_get_u32(r);
	if (*version < 1 || *version > LMM_MODEL_VERSION)
		return "unsupported lmm_model format version";
	m->flags = lmm_get_u32(r);
	p = lmm_get_u32(r);
	q = lmm_get_u32(r);
	if (p < 1 || p > LMM_MAX_COLUMNS || q < 1 || q > LMM_MAX_RANDOM)
		return "number of fixed or random terms out of range";
	m->p = (int) p;
	m->q = (int) q;
	nlevels = lmm_get_u64(r);
	m->n_obs = (int64_t) lmm_get_u64(r);
	m->n_dropped = (int64_t) lmm_get_u64(r);
	m->n_eval = (int) lmm_get_u32(r);
	m->criterion = lmm_get_f8(r);
	m->loglik = lmm_get_f8(r);
	m->aic = lmm_get_f8(r);
	m->bic = lmm_get_f8(r);
	m->sigma = lmm_get_f8(r);
	m->grp = lmm_get_str(r);
	m->key_type = lmm_get_str(r);
	m->x_names = get_str_array(r, p);
	m->z_names = get_str_array(r, q);
	m->beta = get_f8_array(r, p);
	m->vcov = get_f8_array(r, (size_t) p * p);
	m->theta = get_f8_array(r, LMM_NTHETA(q));
	if (r->failed)
		return "lmm_model value is truncated";

	/* each level takes at least its length word and its numbers */
	per_level = 4 + 8 * ((size_t) q + (size_t) q * q);
	if (nlevels > (lmm_left(r) + rest) / per_level)
		return "lmm_model value claims more levels than it holds";
	m->nlevels = (int64_t) nlevels;
	return NULL;
}

/*
 * Parse and check everything of len bytes but the level records, for a
 * reader that needs only some of each level (the scoring index); the records
 * start at byte *levels_at.
 */
const char *
lmm_model_unpack_head(const unsigned char *buf, size_t len, LmmModel *m,
					  size_t *levels_at)
{
	LmmReader	r = {buf, buf + len, 0};
	uint32_t	version;
	const char *problem = unpack_head(&r, 0, m, &version);

	*levels_at = (size_t) (r.p - buf);
	return problem ? problem : check_head(m);
}

/*
 * How many leading bytes of a len-byte model scoring reads when it is a
 * one-term model as lmm_fit writes it: all but the tail of Satterthwaite's
 * ingredients, statistics, empty formula and no further terms, whose sizes
 * follow from the head (its first headlen bytes at buf): lmm 0.6's
 * statistics before version 4, the statistics without keys from then on.  A model with less
 * in its tail has its level records end later than that, which the reader
 * of the prefix sees as a truncation.  0 when the head is not within
 * headlen bytes or is malformed, or the model has several terms or no tail.
 */
size_t
lmm_model_scoring_prefix(const unsigned char *buf, size_t headlen, size_t len)
{
	LmmReader	r = {buf, buf + (headlen < len ? headlen : len), 0};
	LmmModel	m;
	uint32_t	version;
	size_t		at,
				tail = 0;

	if (unpack_head(&r, len - (size_t) (r.end - buf), &m, &version) == NULL &&
		version >= 2 && !(m.flags & LMM_MODEL_SEVERAL))
	{
		size_t		p = (size_t) m.p;
		size_t		ninf = (size_t) LMM_NTHETA(m.q) + 1;
		size_t		stride = 1 + (size_t) m.q * (p + m.q - 1);	/* lmm_stats_init's */

		tail = 4 + 8 * (ninf * ninf + ninf * p * p) + 4 +
			(version >= 3 ? 4 + 4 : 0);
		/*
		 * From version 4, the least the statistics take: a model whose
		 * records pack less has a longer tail, so the prefix holds some
		 * of it, which the reader of the prefix ignores.
		 */
		if (version < 4)
			tail += 8 * (1 + p + p * p + (size_t) m.nlevels * stride);
		else
			tail += 4 + 8 + lmm_terms_keyless_size(m.p, m.q, m.nlevels);
	}
	at = (size_t) (r.p - buf);
	lmm_model_free(&m);
	if (tail == 0 || tail >= len || len - tail <= at)
		return 0;
	return len - tail;
}

/*
 * Read the version 2 tail (Satterthwaite's ingredients and the statistics)
 * after the level records, checking every count against the bytes left.
 */
static const char *
unpack_tail(LmmReader *r, LmmModel *m)
{
	uint32_t	ninf = lmm_get_u32(r);
	uint32_t	has_stats;
	size_t		pp = (size_t) m->p * m->p;

	if (ninf > (uint32_t) LMM_MAX_TERMS * LMM_NTHETA(LMM_MAX_RANDOM) + 1)
		return "lmm_model value has a wrong number of variance parameters";
	m->ninf = (int) ninf;
	m->vcov_varpar = get_f8_array(r, (size_t) ninf * ninf);
	if (m->vcov_varpar != NULL)
		m->jac = get_f8_array(r, (size_t) ninf * pp);
	has_stats = lmm_get_u32(r);
	if (r->failed)
		return "lmm_model value is truncated";
	if (has_stats > 1)
		return "lmm_model value has a bad statistics marker";
	if (has_stats)
	{
		LmmStats	s;
		LmmStatsMeta meta = {0, 0, NULL, NULL, -1, NULL, -1, NULL};
		size_t		nrec;
		const char *problem;

		lmm_stats_init(&s, m->p, m->q);
		nrec = (size_t) m->nlevels * s.stride;
		if (nrec / s.stride != (size_t) m->nlevels ||
			1 + m->p + pp > lmm_left(r) / 8 ||
			nrec > lmm_left(r) / 8 - (1 + m->p + pp))
		{
			lmm_stats_free(&s);
			return "lmm_model value is truncated";
		}
		s.n = lmm_get_f8(r);
		lmm_free(s.mean);
		lmm_free(s.comom);
		s.mean = get_f8_array(r, m->p);
		s.comom = get_f8_array(r, pp);
		s.level = get_f8_array(r, nrec);
		s.nlevels = s.capacity = m->nlevels;
		problem = r->failed ? "lmm_model value is truncated" :
			s.n != (double) m->n_obs ? "the statistics do not match the model's counts" :
			lmm_stats_check(&s, &meta);
		if (problem == NULL)
		{
			m->tstats = lmm_alloc0(sizeof(LmmTermStats));
			lmm_stats_to_terms(&s, m->tstats);
		}
		lmm_stats_free(&s);
		if (problem != NULL)
			return problem;
	}
	return NULL;
}

/*
 * Read the head of a term after the first (its grouping factor, q, z names,
 * theta and number of levels), refusing more levels than room bytes could
 * hold; the level records follow it.
 */
static const char *
unpack_term_head(LmmReader *r, size_t room, LmmModelTerm *t)
{
	uint32_t	q;
	uint64_t	nlevels;

	t->grp = lmm_get_str(r);
	q = lmm_get_u32(r);
	if (r->failed)
		return "lmm_model value is truncated";
	if (q < 1 || q > LMM_MAX_RANDOM)
		return "number of fixed or random terms out of range";
	t->q = (int) q;
	t->z_names = get_str_array(r, q);
	t->theta = get_f8_array(r, LMM_NTHETA(q));
	nlevels = lmm_get_u64(r);
	if (r->failed)
		return "lmm_model value is truncated";
	if (nlevels > room / (4 + 8 * ((size_t) q + (size_t) q * q)))
		return "lmm_model value claims more levels than it holds";
	t->nlevels = (int64_t) nlevels;
	return NULL;
}

/*
 * Read the version 3 part: the formula and the terms after the first,
 * checking every count against the bytes left before allocating.
 */
static const char *
unpack_extra(LmmReader *r, LmmModel *m)
{
	uint32_t	nextra;
	int			k;

	m->formula = lmm_get_str(r);
	nextra = lmm_get_u32(r);
	if (r->failed)
		return "lmm_model value is truncated";
	if (nextra > LMM_MAX_TERMS - 1)
		return "lmm_model value has too many random-effects terms";
	m->extra = lmm_alloc0(sizeof(LmmModelTerm) * (nextra + 1));
	m->nextra = (int) nextra;
	for (k = 0; k < m->nextra; k++)
	{
		LmmModelTerm *t = &m->extra[k];
		const char *problem = unpack_term_head(r, lmm_left(r), t);
		size_t		q = (size_t) t->q;
		int64_t		j;
		int			a;

		if (problem != NULL)
			return problem;
		t->levels = lmm_alloc0(sizeof(char *) * ((size_t) t->nlevels + 1));
		t->b = lmm_alloc(sizeof(double) * ((size_t) t->nlevels * q + 1));
		t->condvar = lmm_alloc(sizeof(double) * ((size_t) t->nlevels * q * q + 1));
		for (j = 0; j < t->nlevels && !r->failed; j++)
		{
			t->levels[j] = lmm_get_str(r);
			for (a = 0; a < t->q; a++)
				t->b[j * q + a] = lmm_get_f8(r);
			for (a = 0; a < t->q * t->q; a++)
				t->condvar[j * q * q + a] = lmm_get_f8(r);
		}
		if (r->failed)
			return "lmm_model value is truncated";
	}
	return NULL;
}

/*
 * Read the version 4 part: the several-term statistics, a length and their
 * binary form (lmm_model_tstats_unpack).
 */
static const char *
unpack_tstats(LmmReader *r, LmmModel *m)
{
	uint32_t	has_tstats = lmm_get_u32(r);
	uint64_t	len;
	const char *problem;

	if (r->failed)
		return "lmm_model value is truncated";
	if (has_tstats > 1)
		return "lmm_model value has a bad several-term statistics marker";
	if (has_tstats == 0)
		return NULL;
	len = lmm_get_u64(r);
	if (r->failed || len > lmm_left(r))
		return "lmm_model value is truncated";
	problem = lmm_model_tstats_unpack(r->p, (size_t) len, m);
	r->p += len;
	return problem;
}

/*
 * Read the optional section of the key types of the terms after the first,
 * when the next word is its magic (else nothing is consumed): it must name
 * a type other than text, as lmm_model_pack writes it only then (so a
 * value has one binary form).
 */
static const char *
unpack_key_types(LmmReader *r, LmmModel *m)
{
	const unsigned char *at = r->p;
	int			k,
				typed = 0;

	if (lmm_left(r) < 4 || lmm_get_u32(r) != LMM_MODEL_KEYS_MAGIC)
	{
		r->p = at;
		return NULL;
	}
	if (m->nextra == 0)
		return "lmm_model value lists key types but has one random-effects term";
	for (k = 0; k < m->nextra && !r->failed; k++)
	{
		LmmModelTerm *t = &m->extra[k];

		t->key_type = lmm_get_str(r);
		if (t->key_type != NULL && t->key_type[0] == '\0')
			return "a key type of a random-effects term is empty";
		if (t->key_type != NULL && strcmp(t->key_type, "text") != 0)
			typed = 1;
	}
	if (r->failed)
		return "lmm_model value is truncated";
	if (!typed)
		return "lmm_model value lists the key types of terms that all have text keys";
	return NULL;
}

/*
 * Read the optional section of the fixed part's factors, when the next
 * word is its magic (else nothing is consumed): written only for a model
 * with factors, each count checked against the bytes left before
 * allocating.
 */
static const char *
unpack_factors(LmmReader *r, LmmModel *m)
{
	const unsigned char *at = r->p;
	uint32_t	n;
	int			k;

	if (lmm_left(r) < 4 || lmm_get_u32(r) != LMM_MODEL_FACTORS_MAGIC)
	{
		r->p = at;
		return NULL;
	}
	if (lmm_get_u32(r) != LMM_MODEL_FACTORS_VERSION)
		return r->failed ? "lmm_model value is truncated" :
			"unsupported version of the factors of an lmm_model value";
	n = lmm_get_u32(r);
	if (r->failed)
		return "lmm_model value is truncated";
	if (n < 1 || n > LMM_MODEL_MAX_FACTORS)
		return "lmm_model value has a wrong number of factors";
	if (n > lmm_left(r) / 8)
		return "lmm_model value is truncated";
	m->factors = lmm_alloc0(sizeof(LmmModelFactor) * n);
	m->nfactors = (int) n;
	for (k = 0; k < m->nfactors && !r->failed; k++)
	{
		LmmModelFactor *f = &m->factors[k];
		uint32_t	nl;

		f->name = lmm_get_str(r);
		nl = lmm_get_u32(r);
		if (r->failed)
			break;
		if (nl > LMM_MODEL_MAX_FACTOR_LEVELS)
			return "a factor of an lmm_model value has too many levels";
		if (nl > lmm_left(r) / 4)
		{
			r->failed = 1;
			break;
		}
		f->levels = get_str_array(r, nl);
		f->nlevels = (int) nl;
	}
	if (r->failed)
		return "lmm_model value is truncated";
	return lmm_model_check_factors(m->nfactors, m->factors);
}

/* Step r over nlevels level records of q modes each; r fails on a truncation. */
static void
skip_levels(LmmReader *r, int64_t nlevels, int q)
{
	size_t		rest = 8 * ((size_t) q + (size_t) q * q);
	int64_t		j;

	for (j = 0; j < nlevels && !r->failed; j++)
	{
		uint32_t	keylen = lmm_get_u32(r);

		if (lmm_left(r) < rest || keylen > lmm_left(r) - rest)
			r->failed = 1;
		else
			r->p += keylen + rest;
	}
}

/*
 * Read what scoring needs of a model with several terms, all but the level
 * records, from the first len of its total bytes: the head, the tail (which
 * such a model has without statistics), the formula, every later term's
 * head, and their key types; levels_at[t] is where term t's records begin
 * (its nlevels in m).  m holds no levels, b or conditional variances.
 */
static const char *
unpack_terms(LmmReader *r, size_t total, LmmModel *m, size_t *levels_at)
{
	const unsigned char *buf = r->p;
	uint32_t	version;
	uint32_t	nextra;
	const char *problem = unpack_head(r, total - lmm_left(r), m, &version);
	int			k;

	if (problem != NULL)
		return problem;
	if (version < 3 || !(m->flags & LMM_MODEL_SEVERAL))
		return "not an lmm_model value with several random-effects terms";
	levels_at[0] = (size_t) (r->p - buf);
	skip_levels(r, m->nlevels, m->q);
	if (r->failed)
		return "lmm_model value is truncated";
	if ((problem = unpack_tail(r, m)) != NULL)
		return problem;
	if (m->tstats != NULL)
		return "a model with several random-effects terms carries no single-factor statistics";
	m->formula = lmm_get_str(r);
	nextra = lmm_get_u32(r);
	if (r->failed)
		return "lmm_model value is truncated";
	if (nextra < 1 || nextra > LMM_MAX_TERMS - 1)
		return "lmm_model value has a wrong number of random-effects terms";
	m->extra = lmm_alloc0(sizeof(LmmModelTerm) * (nextra + 1));
	m->nextra = (int) nextra;
	for (k = 0; k < m->nextra; k++)
	{
		LmmModelTerm *t = &m->extra[k];

		if ((problem = unpack_term_head(r, total - (size_t) (r->p - buf), t)) != NULL)
			return problem;
		levels_at[k + 1] = (size_t) (r->p - buf);
		skip_levels(r, t->nlevels, t->q);
		if (r->failed)
			return "lmm_model value is truncated";
	}
	/* the keys section's magic may lie past the bytes read so far */
	if (lmm_left(r) < 4 && (size_t) (r->p - buf) + 4 <= total)
	{
		r->failed = 1;
		return "lmm_model value is truncated";
	}
	if (version < 4)
		return NULL;
	return unpack_key_types(r, m);
}

/*
 * Parse and check what scoring reads of a model with several terms (see
 * unpack_terms) from the first len of its total bytes, which may be fewer
 * when it is read piece by piece.  *need is 0 when those bytes held it all,
 * else how many leading bytes to read before trying again (at most total).
 * NULL or the problem; on a problem or a shortfall m holds nothing that
 * lmm_model_free can't release.
 */
const char *
lmm_model_unpack_terms(const unsigned char *buf, size_t len, size_t total,
					   LmmModel *m, size_t *levels_at, size_t *need)
{
	LmmReader	r = {buf, buf + (len < total ? len : total), 0};
	const char *problem = unpack_terms(&r, total, m, levels_at);
	int			k;

	*need = 0;
	if (r.failed && len < total)
	{
		/* the bytes ran out before the parts did: read twice as many */
		lmm_model_free(m);
		*need = len < total / 2 ? 2 * len : total;
		return NULL;
	}
	if (problem == NULL)
		problem = check_head(m);
	for (k = 0; k < m->nextra && problem == NULL; k++)
	{
		const LmmModelTerm *t = &m->extra[k];
		int			a;

		if (t->nlevels < 2 || m->n_obs < t->nlevels)
			problem = "counts are inconsistent (need at least 2 levels and no more levels than observations)";
		else if (!all_finite(t->theta, LMM_NTHETA(t->q)))
			problem = "estimates must be finite numbers";
		for (a = 0; a < t->q && problem == NULL; a++)
			if (t->theta[a * t->q - a * (a - 1) / 2] < 0.0)
				problem = "diagonal elements of theta must not be negative";
	}
	if (problem == NULL && m->ninf != 0 && m->ninf != lmm_model_ntheta(m) + 1)
		problem = "wrong number of variance parameters";
	if (problem == NULL &&
		(!all_finite(m->vcov_varpar, (size_t) m->ninf * m->ninf) ||
		 !all_finite(m->jac, (size_t) m->ninf * m->p * m->p)))
		problem = "Satterthwaite's ingredients must be finite numbers";
	return problem;
}

/*
 * Parse len bytes into m, checking sizes before allocating and every field
 * after reading; returns NULL on success or a description of the problem.
 * On failure m holds nothing that needs freeing beyond lmm_model_free.
 */
const char *
lmm_model_unpack(const unsigned char *buf, size_t len, LmmModel *m)
{
	LmmReader	r = {buf, buf + len, 0};
	uint32_t	version;
	const char *problem = unpack_head(&r, 0, m, &version);
	uint32_t	q = (uint32_t) m->q;
	uint64_t	nlevels = (uint64_t) m->nlevels;
	int64_t		j;

	if (problem)
		return problem;
	m->levels = lmm_alloc0(sizeof(char *) * (nlevels > 0 ? nlevels : 1));
	m->b = lmm_alloc(sizeof(double) * (nlevels * q + 1));
	m->condvar = lmm_alloc(sizeof(double) * (nlevels * q * q + 1));
	for (j = 0; j < m->nlevels && !r.failed; j++)
	{
		uint32_t	k;

		m->levels[j] = lmm_get_str(&r);
		for (k = 0; k < q; k++)
			m->b[j * q + k] = lmm_get_f8(&r);
		for (k = 0; k < q * q; k++)
			m->condvar[j * q * q + k] = lmm_get_f8(&r);
	}
	if (r.failed)
		return "lmm_model value is truncated";
	if (version >= 2 && (problem = unpack_tail(&r, m)) != NULL)
		return problem;
	/* one value, one binary form: from format 4 on, statistics come only in theirs */
	if (version >= 4 && m->tstats != NULL)
		return "a format 4 model carries lmm 0.6's statistics";
	if (version >= 3 && (problem = unpack_extra(&r, m)) != NULL)
		return problem;
	if (version >= 4 && (problem = unpack_key_types(&r, m)) != NULL)
		return problem;
	if (version >= 4 && (problem = unpack_tstats(&r, m)) != NULL)
		return problem;
	if (version >= 4 && (problem = unpack_factors(&r, m)) != NULL)
		return problem;
	if (version >= 4 && lmm_left(&r) >= 4)
	{
		if (lmm_get_u32(&r) != LMM_MODEL_FAMILY_MAGIC)
			return "lmm_model value has trailing bytes";
		m->family = (int) lmm_get_u32(&r);
		m->link = (int) lmm_get_u32(&r);
		m->nagq = (int) lmm_get_u32(&r);
		if (r.failed)
			return "lmm_model value is truncated";
	}
	if (r.p != r.end)
		return "lmm_model value has trailing bytes";
	return lmm_model_check(m);
}

/* Check one term after the first: sizes, finite numbers, signs. */
static const char *
check_extra(const LmmModel *m, const LmmModelTerm *t)
{
	int64_t		j;
	int			k,
				q = t->q;

	if (q < 1 || q > LMM_MAX_RANDOM)
		return "number of fixed or random terms out of range";
	if (t->nlevels < 2 || m->n_obs < t->nlevels)
		return "counts are inconsistent (need at least 2 levels and no more levels than observations)";
	if (!all_finite(t->theta, LMM_NTHETA(q)) ||
		!all_finite(t->b, (size_t) t->nlevels * q) ||
		!all_finite(t->condvar, (size_t) t->nlevels * q * q))
		return "estimates must be finite numbers";
	for (k = 0; k < q; k++)
		if (t->theta[k * q - k * (k - 1) / 2] < 0.0)
			return "diagonal elements of theta must not be negative";
	for (j = 0; j < t->nlevels; j++)
		for (k = 0; k < q; k++)
			if (t->condvar[(j * q + k) * q + k] < 0.0)
				return "conditional variances must not be negative";
	return NULL;
}

/*
 * Check that the statistics are those of the model: its counts, and term
 * by term (in the fit's order) its columns and levels; and their numbers.
 */
static const char *
check_tstats(const LmmModel *m)
{
	const LmmTermStats *s = m->tstats;
	int			src[LMM_MAX_TERMS];
	int			t;

	if (s->p != m->p || s->nterms != m->nextra + 1 || s->n != (double) m->n_obs ||
		m->n_dropped > INT64_MAX - m->n_obs)
		return "the model's statistics do not match its counts";
	lmm_terms_order(s, src);
	for (t = 0; t < s->nterms; t++)
	{
		const LmmTermLevels *lv = &s->term[src[t]];
		LmmModelTerm v = lmm_model_term(m, t);

		if (lv->q != v.q || lv->nlevels != v.nlevels)
			return "the model's statistics do not match its terms";
	}
	return lmm_terms_check(s);
}

/* qsort order of strings. */
static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Check the factors of a model's fixed part: names not empty and in strcmp
 * order (so each once, and one value has one form), each with 2 to
 * LMM_MODEL_MAX_FACTOR_LEVELS distinct levels.  NULL or the problem.
 */
const char *
lmm_model_check_factors(int nfactors, const LmmModelFactor *factors)
{
	const char *problem = NULL;
	int			k,
				l;

	if (nfactors < 0 || nfactors > LMM_MODEL_MAX_FACTORS)
		return "wrong number of factors";
	for (k = 0; k < nfactors && problem == NULL; k++)
	{
		const LmmModelFactor *f = &factors[k];
		char	  **sorted;

		if (f->name == NULL || f->name[0] == '\0')
			return "a factor's name is empty";
		if (k > 0 && strcmp(factors[k - 1].name, f->name) >= 0)
			return "factors must be listed once each, by name in byte order";
		if (f->nlevels < 2 || f->nlevels > LMM_MODEL_MAX_FACTOR_LEVELS)
			return "a factor must have between 2 and 1000 levels";
		for (l = 0; l < f->nlevels; l++)
			if (f->levels[l] == NULL)
				return "a factor's level is missing";
		sorted = lmm_alloc(sizeof(char *) * (size_t) f->nlevels);
		memcpy(sorted, f->levels, sizeof(char *) * (size_t) f->nlevels);
		qsort(sorted, (size_t) f->nlevels, sizeof(char *), str_cmp);
		for (l = 1; l < f->nlevels && problem == NULL; l++)
			if (strcmp(sorted[l - 1], sorted[l]) == 0)
				problem = "a factor has the same level twice";
		lmm_free(sorted);
	}
	return problem;
}

/*
 * Check what a model must satisfy, however it was built (text or binary
 * input): returns NULL or a description of the first problem.
 */
const char *
lmm_model_check(const LmmModel *m)
{
	const char *problem = check_head(m);
	int64_t		j;
	int			k;
	int			q = m->q;

	if (problem)
		return problem;
	if (!all_finite(m->b, (size_t) m->nlevels * q) ||
		!all_finite(m->condvar, (size_t) m->nlevels * q * q))
		return "estimates must be finite numbers";
	for (j = 0; j < m->nlevels; j++)
		for (k = 0; k < q; k++)
			if (m->condvar[(j * q + k) * q + k] < 0.0)
				return "conditional variances must not be negative";
	if (((m->flags & LMM_MODEL_SEVERAL) != 0) != (m->nextra > 0))
		return "the several-terms flag does not match the terms";
	for (k = 0; k < m->nextra; k++)
		if ((problem = check_extra(m, &m->extra[k])) != NULL)
			return problem;
	if (m->ninf != 0 && m->ninf != lmm_model_ntheta(m) + 1)
		return "wrong number of variance parameters";
	if (!all_finite(m->vcov_varpar, (size_t) m->ninf * m->ninf) ||
		!all_finite(m->jac, (size_t) m->ninf * m->p * m->p))
		return "Satterthwaite's ingredients must be finite numbers";
	if ((problem = lmm_model_check_factors(m->nfactors, m->factors)) != NULL)
		return problem;
	/* Gaussian (no section), or binomial (logit, probit, cloglog) or Poisson (log) by ML, nagq 0 to 25 */
	if ((m->flags & LMM_MODEL_LINK_MASK) >> LMM_MODEL_LINK_SHIFT != (uint32_t) (m->family != 0 ? m->link : 0))
		return "the link in the flags does not match the family";
	if (m->family != 0 &&
		(!((m->family == 1 && m->link >= 1 && m->link <= 3) ||
		   (m->family == 2 && m->link == 4)) ||
		 m->nagq < 0 || m->nagq > 25 || m->tstats != NULL || m->ninf != 0 ||
		 (m->flags & LMM_MODEL_REML) || (m->nagq > 1 && (m->nextra > 0 || m->q != 1))))
		return "lmm_model value has an unknown family, link or nagq";
	if (m->tstats)
		return check_tstats(m);
	return NULL;
}

/* Release every array of m (any of them may be NULL). */
void
lmm_model_free(LmmModel *m)
{
	int64_t		j;
	int			k;

	if (m->x_names)
		for (k = 0; k < m->p; k++)
			lmm_free(m->x_names[k]);
	if (m->z_names)
		for (k = 0; k < m->q; k++)
			lmm_free(m->z_names[k]);
	if (m->levels)
		for (j = 0; j < m->nlevels; j++)
			lmm_free(m->levels[j]);
	lmm_free(m->grp);
	lmm_free(m->key_type);
	lmm_free(m->x_names);
	lmm_free(m->z_names);
	lmm_free(m->levels);
	lmm_free(m->beta);
	lmm_free(m->vcov);
	lmm_free(m->theta);
	lmm_free(m->b);
	lmm_free(m->condvar);
	lmm_free(m->vcov_varpar);
	lmm_free(m->jac);
	for (k = 0; k < m->nextra; k++)
	{
		LmmModelTerm *t = &m->extra[k];
		int			a;

		if (t->z_names)
			for (a = 0; a < t->q; a++)
				lmm_free(t->z_names[a]);
		if (t->levels)
			for (j = 0; j < t->nlevels; j++)
				lmm_free(t->levels[j]);
		lmm_free(t->grp);
		lmm_free(t->key_type);
		lmm_free(t->z_names);
		lmm_free(t->theta);
		lmm_free(t->levels);
		lmm_free(t->b);
		lmm_free(t->condvar);
	}
	lmm_free(m->extra);
	for (k = 0; k < m->nfactors; k++)
	{
		int			l;

		if (m->factors[k].levels)
			for (l = 0; l < m->factors[k].nlevels; l++)
				lmm_free(m->factors[k].levels[l]);
		lmm_free(m->factors[k].name);
		lmm_free(m->factors[k].levels);
	}
	lmm_free(m->factors);
	lmm_free(m->formula);
	if (m->tstats)
	{
		lmm_terms_free(m->tstats);
		lmm_free(m->tstats);
	}
	memset(m, 0, sizeof(LmmModel));
}
