/*
 * lmm_stats_io.c
 *	  Read and validate the one-term statistics of lmm 0.6 ("LMMs" values
 *	  and the statistics of version 2 and 3 models) and convert them to the
 *	  statistics of every model (lmm_terms.h), which lmm writes instead.
 *
 * Layout (all integers and doubles big-endian):
 *	 u32 magic, u32 version, u32 flags, u32 p, u32 q, u64 nlevels,
 *	 u64 n_dropped, str g_name, str key_type,
 *	 u32 n_x_names (0xFFFFFFFF: none) and that many str,
 *	 u32 n_z_names (0xFFFFFFFF: none) and that many str,
 *	 p f8 overall means, p(p+1)/2 f8 overall co-moments (upper triangle by rows),
 *	 nlevels x (u32 key length, key bytes, stride f8 level record)
 * where str is a u32 length and that many bytes.  p = q = 0 stands for
 * statistics that saw no usable row (only n_dropped and the names count).
 * The overall count n is not stored: it is the sum of the level counts.
 */
#include "lmm_stats_io.h"

#include <math.h>
#include <string.h>

#include "lmm_bytes.h"
#include "lmm_host.h"

#define NO_NAMES 0xFFFFFFFFu

/* Set up empty statistics for p fixed and q random columns (intercepts included). */
void
lmm_stats_init(LmmStats *s, int p, int q)
{
	s->p = p;
	s->q = q;
	s->d = p + q - 1;
	s->stride = 1 + q * s->d;
	s->n = 0.0;
	s->mean = lmm_alloc0(sizeof(double) * p);
	s->comom = lmm_alloc0(sizeof(double) * p * p);
	s->nlevels = 0;
	s->capacity = 0;
	s->level = NULL;
}

/* Release what lmm_stats_init and the level records took. */
void
lmm_stats_free(LmmStats *s)
{
	lmm_free(s->mean);
	lmm_free(s->comom);
	lmm_free(s->level);
	s->mean = s->comom = s->level = NULL;
	s->nlevels = s->capacity = 0;
}

/* Read a name list (count word, then strings) into *n and *names. */
static void
get_names(LmmReader *r, int *n, char ***names)
{
	uint32_t	count = lmm_get_u32(r);
	uint32_t	k;

	*n = -1;
	*names = NULL;
	if (r->failed || count == NO_NAMES)
		return;
	if (count > LMM_MAX_COLUMNS || count > lmm_left(r) / 4)
	{
		r->failed = 1;
		return;
	}
	*names = lmm_alloc0(sizeof(char *) * (count + 1));
	*n = (int) count;
	for (k = 0; k < count && !r->failed; k++)
		(*names)[k] = lmm_get_str(r);
}

/*
 * Parse len bytes into s, meta and keys (which point into buf), checking
 * sizes before allocating and every value after reading; returns NULL on
 * success or a description of the problem.  Whatever the outcome, release
 * with lmm_stats_free, lmm_stats_meta_free and lmm_free of keys' arrays.
 */
const char *
lmm_stats_unpack(const unsigned char *buf, size_t len, LmmStats *s,
				 LmmStatsMeta *meta, LmmStatsKeys *keys)
{
	LmmReader	r = {buf, buf + len, 0};
	uint32_t	p,
				q;
	uint64_t	nlevels;
	int64_t		j;
	int			a,
				k;

	memset(s, 0, sizeof(LmmStats));
	memset(meta, 0, sizeof(LmmStatsMeta));
	memset(keys, 0, sizeof(LmmStatsKeys));
	meta->n_x_names = meta->n_z_names = -1;
	if (lmm_get_u32(&r) != LMM_STATS_MAGIC)
		return "not an lmm_stats value (bad magic number)";
	if (lmm_get_u32(&r) != LMM_STATS_VERSION)
		return "unsupported lmm_stats format version";
	meta->flags = lmm_get_u32(&r);
	p = lmm_get_u32(&r);
	q = lmm_get_u32(&r);
	if (!(p == 0 && q == 0) &&
		(p < 1 || p > LMM_MAX_COLUMNS || q < 1 || q > LMM_MAX_RANDOM))
		return "number of fixed or random columns out of range";
	nlevels = lmm_get_u64(&r);
	meta->n_dropped = (int64_t) lmm_get_u64(&r);
	meta->g_name = lmm_get_str(&r);
	meta->key_type = lmm_get_str(&r);
	get_names(&r, &meta->n_x_names, &meta->x_names);
	get_names(&r, &meta->n_z_names, &meta->z_names);
	if (r.failed)
		return "lmm_stats value is truncated";

	if (p == 0)
	{
		s->level = NULL;
		if (nlevels != 0)
			return "statistics without columns cannot have levels";
	}
	else
	{
		lmm_stats_init(s, (int) p, (int) q);
		if ((size_t) p * (p + 3) / 2 > lmm_left(&r) / 8)
			return "lmm_stats value is truncated";
		for (k = 0; k < (int) p; k++)
			s->mean[k] = lmm_get_f8(&r);
		for (a = 0; a < (int) p; a++)
			for (k = a; k < (int) p; k++)
				s->comom[(size_t) a * p + k] = s->comom[(size_t) k * p + a] =
					lmm_get_f8(&r);
		/* each level takes at least its key length word and its record */
		if (nlevels > lmm_left(&r) / (4 + 8 * (size_t) s->stride))
			return "lmm_stats value claims more levels than it holds";
		s->capacity = (int64_t) nlevels;
		s->level = lmm_alloc(sizeof(double) * (size_t) s->stride * (nlevels + 1));
	}
	keys->data = lmm_alloc(sizeof(unsigned char *) * (nlevels + 1));
	keys->len = lmm_alloc(sizeof(uint32_t) * (nlevels + 1));
	for (j = 0; j < (int64_t) nlevels && !r.failed; j++)
	{
		double	   *rec = s->level + (size_t) j * s->stride;
		uint32_t	klen = lmm_get_u32(&r);

		if (klen > lmm_left(&r))
			return "lmm_stats value is truncated";
		keys->data[j] = r.p;
		keys->len[j] = klen;
		r.p += klen;
		if ((size_t) s->stride > lmm_left(&r) / 8)
			return "lmm_stats value is truncated";
		for (k = 0; k < s->stride; k++)
			rec[k] = lmm_get_f8(&r);
		s->nlevels = j + 1;
		s->n += LMM_LEVEL_N(rec);
	}
	if (r.failed)
		return "lmm_stats value is truncated";
	if (r.p != r.end)
		return "lmm_stats value has trailing bytes";
	return lmm_stats_check(s, meta);
}

/* Nonzero when a co-moment block is plausible: finite, diagonal >= 0, |c_ab| <= sqrt(c_aa c_bb). */
static int
comoments_valid(const double *C, int rows, int cols, int ld)
{
	int			a,
				b;

	for (a = 0; a < rows; a++)
		for (b = 0; b < cols; b++)
			if (!isfinite(C[(size_t) a * ld + b]))
				return 0;
	for (a = 0; a < rows; a++)
	{
		double		caa = C[(size_t) a * ld + a];

		if (caa < 0.0)
			return 0;
		for (b = a + 1; b < rows; b++)
		{
			double		cab = C[(size_t) a * ld + b];
			double		cbb = C[(size_t) b * ld + b];

			/* Cauchy-Schwarz, with room for rounding */
			if (cab * cab > caa * cbb * (1.0 + 1e-9) + 1e-300)
				return 0;
		}
	}
	return 1;
}

/*
 * Check what statistics must satisfy, however they were built: returns NULL
 * or a description of the first problem.  s->n must already be the sum of
 * the level counts.
 */
const char *
lmm_stats_check(const LmmStats *s, const LmmStatsMeta *meta)
{
	int64_t		j;
	int			k;
	double		total = 0.0;

	if (meta->flags & ~LMM_STATS_FLAGS)
		return "unknown flag bits";
	if (meta->n_dropped < 0)
		return "the count of dropped rows must not be negative";
	if (s->p == 0)
		return (s->q == 0 && s->nlevels == 0) ? NULL :
			"statistics without columns cannot have levels";
	if ((meta->n_x_names >= 0 && meta->n_x_names != s->p - 1) ||
		(meta->n_z_names >= 0 && meta->n_z_names != s->q - 1))
		return "the number of names does not match the number of columns";
	for (j = 0; j < s->nlevels; j++)
	{
		const double *rec = s->level + (size_t) j * s->stride;
		double		nj = LMM_LEVEL_N(rec);

		if (!(nj >= 1.0 && nj <= LMM_MAX_ROWS && nj == floor(nj)))
			return "every level needs a positive whole number of rows";
		for (k = 0; k < s->d; k++)
			if (!isfinite(LMM_LEVEL_MEAN(rec)[k]))
				return "level means must be finite numbers";
		if (!comoments_valid(LMM_LEVEL_COMOM(rec, s->d), s->q - 1, s->d, s->d))
			return "level co-moments are not those of real data";
		total += nj;
		if (total > LMM_MAX_ROWS)
			return "the statistics count more than 2^53 rows";
	}
	if (total != s->n || (s->n == 0.0) != (s->nlevels == 0))
		return "the overall count must equal the sum of the level counts";
	for (k = 0; k < s->p; k++)
		if (!isfinite(s->mean[k]))
			return "overall means must be finite numbers";
	if (!comoments_valid(s->comom, s->p, s->p, s->p))
		return "overall co-moments are not those of real data";
	return NULL;
}

/* Release the strings of meta (any may be NULL). */
void
lmm_stats_meta_free(LmmStatsMeta *meta)
{
	int			k;

	for (k = 0; k < meta->n_x_names && meta->x_names; k++)
		lmm_free(meta->x_names[k]);
	for (k = 0; k < meta->n_z_names && meta->z_names; k++)
		lmm_free(meta->z_names[k]);
	lmm_free(meta->x_names);
	lmm_free(meta->z_names);
	lmm_free(meta->g_name);
	lmm_free(meta->key_type);
	memset(meta, 0, sizeof(LmmStatsMeta));
	meta->n_x_names = meta->n_z_names = -1;
}

/*
 * The statistics of every model (k = 1) that s describes: x = (1, x_1..),
 * z = (1, z_1..), shifted by the overall means (so the overall sums are
 * zero), with each level's sums rebuilt from its count, means and centred
 * co-moments.  Exact up to the rounding of those products.  Statistics
 * without rows (p = 0) become statistics without columns and terms.
 */
void
lmm_stats_to_terms(const LmmStats *s, LmmTermStats *out)
{
	int			p = s->p;
	int			q = s->q;
	int			d = s->d;
	int			nz = q - 1;
	int			a,
				b;
	int64_t		j;

	/* statistics that saw no usable row have no columns and no terms */
	lmm_terms_init(out, p, p > 0 ? 1 : 0, &q);
	if (p == 0)
		return;
	out->n = s->n;
	/* v = (x_0 - 1, x_1 - mean_1, .., y - mean_y); x_0 is the intercept */
	out->shift[0] = 1.0;
	for (a = 1; a <= p; a++)
		out->shift[a] = s->mean[a - 1];
	for (a = 1; a <= p; a++)
		for (b = a; b <= p; b++)
			out->cross[a * (p + 1) + b] = s->comom[(a - 1) * p + b - 1];
	for (j = 0; j < s->nlevels; j++)
	{
		const double *rec = s->level + (size_t) j * s->stride;
		const double *m = LMM_LEVEL_MEAN(rec);
		const double *C = LMM_LEVEL_COMOM(rec, d);
		double		nj = LMM_LEVEL_N(rec);
		double		zbar[LMM_MAX_RANDOM];
		double		dv[LMM_MAX_COLUMNS + 1];	/* level mean of v - shift */
		int64_t		at = lmm_terms_add_level(out, 0);	/* may move the records */
		double	   *r = out->term[0].rec + (size_t) at * out->term[0].stride;
		double	   *zz = LMM_TREC_ZZ(r, q);
		double	   *zx = LMM_TREC_ZX(r, q);
		double	   *zy = LMM_TREC_ZY(r, q, p);

		zbar[0] = 1.0;
		for (a = 1; a < q; a++)
			zbar[a] = m[a - 1];
		dv[0] = 0.0;
		for (b = 1; b <= p; b++)
			dv[b] = m[nz + b - 1] - out->shift[b];
		for (a = 0; a < q; a++)
		{
			LMM_TREC_SZ(r)[a] = nj * zbar[a];
			/* the upper triangle, mirrored: Σzz' is symmetric bitwise, as rows make it */
			for (b = a; b < q; b++)
				zz[a * q + b] = zz[b * q + a] = nj * zbar[a] * zbar[b] +
					(a > 0 ? C[(size_t) (a - 1) * d + b - 1] : 0.0);
			for (b = 0; b < p; b++)
				zx[a * p + b] = nj * zbar[a] * dv[b] +
					(a > 0 && b > 0 ? C[(size_t) (a - 1) * d + nz + b - 1] : 0.0);
			zy[a] = nj * zbar[a] * dv[p] +
				(a > 0 ? C[(size_t) (a - 1) * d + nz + p - 1] : 0.0);
		}
	}
}
