/*
 * lmm_stats.c
 *	  Welford updates and Chan et al. merges of the sufficient statistics.
 */
#include "lmm_stats.h"

#include <string.h>

#include "lmm_host.h"

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

/* Append an empty level record and return its index; storage doubles as it grows. */
int64_t
lmm_stats_add_level(LmmStats *s)
{
	double	   *rec;

	if (s->nlevels == s->capacity)
	{
		int64_t		first = 65536 / s->stride + 1;	/* about 512 kB to start */
		int64_t		newcap = s->capacity == 0 ? (first < 64 ? first : 64) : s->capacity * 2;

		s->level = lmm_realloc(s->level,
							   sizeof(double) * (size_t) s->stride * (size_t) newcap);
		s->capacity = newcap;
	}
	rec = s->level + (size_t) s->stride * (size_t) s->nlevels;
	memset(rec, 0, sizeof(double) * s->stride);
	return s->nlevels++;
}

/*
 * Welford's one-pass update of one row v (d entries) into its level and into
 * the overall statistics.  Co-moments are accumulated about the running
 * means, so no large sum of squares is ever formed.
 */
void
lmm_stats_add_row(LmmStats *s, int64_t level, const double *v)
{
	int			d = s->d;
	int			p = s->p;
	int			nz = s->q - 1;
	double	   *rec = s->level + (size_t) s->stride * (size_t) level;
	double	   *mean = LMM_LEVEL_MEAN(rec);
	double	   *comom = LMM_LEVEL_COMOM(rec, d);
	double		delta[2 * LMM_MAX_COLUMNS];	/* v - mean before the update */
	double		dev[2 * LMM_MAX_COLUMNS];	/* v - mean after it */
	const double *vxy = v + nz;
	double		n,
				inv;
	int			a,
				k;

	/* the level: means of all d entries, co-moments of the z rows */
	n = LMM_LEVEL_N(rec) + 1.0;
	LMM_LEVEL_N(rec) = n;
	inv = 1.0 / n;				/* one division per row, not one per entry */
	for (k = 0; k < d; k++)
	{
		delta[k] = v[k] - mean[k];
		mean[k] += delta[k] * inv;
		dev[k] = v[k] - mean[k];
	}
	for (a = 0; a < nz; a++)
	{
		double	   *row = comom + (size_t) a * d;

		for (k = 0; k < d; k++)
			row[k] += delta[a] * dev[k];
	}

	/* overall: the x and y entries, upper triangle of their co-moments */
	n = s->n + 1.0;
	s->n = n;
	inv = 1.0 / n;
	for (k = 0; k < p; k++)
	{
		delta[k] = vxy[k] - s->mean[k];
		s->mean[k] += delta[k] * inv;
		dev[k] = vxy[k] - s->mean[k];
	}
	for (a = 0; a < p; a++)
	{
		double	   *row = s->comom + (size_t) a * p;

		for (k = a; k < p; k++)
			row[k] += delta[a] * dev[k];
	}
}

/*
 * Chan et al.'s exact merge of another state's record for the same level
 * into ours: means weighted by counts, co-moments plus the between-part term.
 */
void
lmm_stats_merge_level(LmmStats *s, int64_t level, const double *other_rec)
{
	int			d = s->d;
	int			nz = s->q - 1;
	double	   *rec = s->level + (size_t) s->stride * (size_t) level;
	double	   *mean = LMM_LEVEL_MEAN(rec);
	double	   *comom = LMM_LEVEL_COMOM(rec, d);
	const double *omean = LMM_LEVEL_MEAN(other_rec);
	const double *ocomom = LMM_LEVEL_COMOM(other_rec, d);
	double		na = LMM_LEVEL_N(rec);
	double		nb = LMM_LEVEL_N(other_rec);
	double		n = na + nb;
	double		delta[2 * LMM_MAX_COLUMNS];
	double		w;
	int			a,
				k;

	if (nb == 0.0)
		return;
	if (na == 0.0)
	{
		memcpy(rec, other_rec, sizeof(double) * s->stride);
		return;
	}
	w = na * nb / n;
	for (k = 0; k < d; k++)
	{
		delta[k] = omean[k] - mean[k];
		mean[k] += delta[k] * (nb / n);
	}
	for (a = 0; a < nz; a++)
		for (k = 0; k < d; k++)
			comom[(size_t) a * d + k] += ocomom[(size_t) a * d + k] +
				w * delta[a] * delta[k];
	LMM_LEVEL_N(rec) = n;
}

/* Chan et al.'s merge of another state's overall count, means and co-moments. */
void
lmm_stats_merge_overall(LmmStats *s, double nb, const double *omean,
						const double *ocomom)
{
	int			p = s->p;
	double		na = s->n;
	double		n = na + nb;
	double		delta[LMM_MAX_COLUMNS];
	double		w;
	int			a,
				k;

	if (nb == 0.0)
		return;
	if (na == 0.0)
	{
		s->n = nb;
		memcpy(s->mean, omean, sizeof(double) * p);
		memcpy(s->comom, ocomom, sizeof(double) * p * p);
		return;
	}
	w = na * nb / n;
	for (k = 0; k < p; k++)
	{
		delta[k] = omean[k] - s->mean[k];
		s->mean[k] += delta[k] * (nb / n);
	}
	for (a = 0; a < p; a++)
		for (k = a; k < p; k++)
			s->comom[(size_t) a * p + k] += ocomom[(size_t) a * p + k] +
				w * delta[a] * delta[k];
	s->n = n;
}
