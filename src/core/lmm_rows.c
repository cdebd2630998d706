/*
 * lmm_rows.c
 *	  The kept rows of a generalized linear mixed model (lmm_rows.h).
 */
#include "lmm_rows.h"

#include <string.h>

#include "lmm_host.h"

/* An empty store for p columns and terms of q[t] z columns, ones[t] marking intercept-only terms. */
void
lmm_rows_init(LmmRows *r, int p, int nterms, const int *q, const int *ones)
{
	int			t;

	memset(r, 0, sizeof(LmmRows));
	r->p = p;
	r->nterms = nterms;
	for (t = 0; t < nterms; t++)
	{
		r->q[t] = q[t];
		r->ones[t] = ones[t] && q[t] == 1;
		r->zoff[t] = r->nz;
		if (!r->ones[t])
			r->nz += q[t];
	}
}

/* Release the store's arrays. */
void
lmm_rows_free(LmmRows *r)
{
	lmm_free(r->x);
	lmm_free(r->y);
	lmm_free(r->wt);
	lmm_free(r->off);
	lmm_free(r->lev);
	lmm_free(r->z);
	r->x = r->y = r->wt = r->off = r->z = NULL;
	r->lev = NULL;
	r->n = r->capacity = 0;
}

/* Bytes a row takes (what docs/math.md quotes): x, y, levels, z, and weights and offsets once used. */
size_t
lmm_rows_bytes_per_row(const LmmRows *r)
{
	return sizeof(double) * (r->p + 1 + r->nz + (r->wt != NULL) + (r->off != NULL)) +
		sizeof(int32_t) * r->nterms;
}

/* An array of n doubles of value v, for weights or offsets first used after n rows. */
static double *
filled(int64_t n, int64_t capacity, double v)
{
	double	   *a = lmm_alloc(sizeof(double) * (size_t) capacity);
	int64_t		i;

	for (i = 0; i < n; i++)
		a[i] = v;
	return a;
}

/* Room for at least need rows, doubling. */
static void
reserve(LmmRows *r, int64_t need)
{
	int64_t		cap = r->capacity > 0 ? r->capacity : 64;

	if (need <= r->capacity)
		return;
	while (cap < need)
		cap *= 2;
	r->x = lmm_realloc(r->x, sizeof(double) * (size_t) cap * (r->p > 0 ? r->p : 1));
	r->y = lmm_realloc(r->y, sizeof(double) * (size_t) cap);
	if (r->wt != NULL)
		r->wt = lmm_realloc(r->wt, sizeof(double) * (size_t) cap);
	if (r->off != NULL)
		r->off = lmm_realloc(r->off, sizeof(double) * (size_t) cap);
	r->lev = lmm_realloc(r->lev, sizeof(int32_t) * (size_t) cap * r->nterms);
	if (r->nz > 0)
		r->z = lmm_realloc(r->z, sizeof(double) * (size_t) cap * r->nz);
	r->capacity = cap;
}

/*
 * Keep one row.  level[t] must be below LMM_ROWS_MAX_LEVELS (the host
 * checks); r->nlevels follows the largest level seen.
 */
void
lmm_rows_add(LmmRows *r, const double *x, double y, double wt, double off,
			 const int64_t *level, const double *z)
{
	int64_t		i = r->n;
	int			t;

	reserve(r, i + 1);
	if (wt != 1.0 && r->wt == NULL)
		r->wt = filled(i, r->capacity, 1.0);
	if (off != 0.0 && r->off == NULL)
		r->off = filled(i, r->capacity, 0.0);
	memcpy(r->x + (size_t) i * r->p, x, sizeof(double) * r->p);
	r->y[i] = y;
	if (r->wt != NULL)
		r->wt[i] = wt;
	if (r->off != NULL)
		r->off[i] = off;
	for (t = 0; t < r->nterms; t++)
	{
		r->lev[(size_t) i * r->nterms + t] = (int32_t) level[t];
		if (level[t] >= r->nlevels[t])
			r->nlevels[t] = level[t] + 1;
		if (!r->ones[t])
			memcpy(r->z + (size_t) i * r->nz + r->zoff[t], z + r->zoff[t],
				   sizeof(double) * r->q[t]);
	}
	r->n = i + 1;
}

/*
 * Append other's rows, its level j of term t becoming map[t][j] (the
 * host's merge of the two level tables).
 */
void
lmm_rows_merge(LmmRows *r, const LmmRows *other, int64_t *const *map)
{
	int64_t		i;
	int64_t		n0 = r->n;
	int			t;

	if (other->n == 0)
		return;
	reserve(r, n0 + other->n);
	if (other->wt != NULL && r->wt == NULL)
		r->wt = filled(n0, r->capacity, 1.0);
	if (other->off != NULL && r->off == NULL)
		r->off = filled(n0, r->capacity, 0.0);
	memcpy(r->x + (size_t) n0 * r->p, other->x, sizeof(double) * (size_t) other->n * r->p);
	memcpy(r->y + n0, other->y, sizeof(double) * (size_t) other->n);
	if (r->nz > 0)
		memcpy(r->z + (size_t) n0 * r->nz, other->z,
			   sizeof(double) * (size_t) other->n * r->nz);
	for (i = 0; i < other->n; i++)
	{
		if (r->wt != NULL)
			r->wt[n0 + i] = other->wt != NULL ? other->wt[i] : 1.0;
		if (r->off != NULL)
			r->off[n0 + i] = other->off != NULL ? other->off[i] : 0.0;
		for (t = 0; t < r->nterms; t++)
		{
			int64_t		j = map[t][other->lev[(size_t) i * r->nterms + t]];

			r->lev[(size_t) (n0 + i) * r->nterms + t] = (int32_t) j;
			if (j >= r->nlevels[t])
				r->nlevels[t] = j + 1;
		}
	}
	r->n = n0 + other->n;
}

/*
 * Fill the empty store r (of src's shape, r->nlevels set) with src's rows,
 * their level j of term t becoming map[t][j], in order of the first term's
 * new level (a counting sort): a GLMM with one term then visits each
 * level's rows together.
 */
void
lmm_rows_sorted(LmmRows *r, const LmmRows *src, int64_t *const *map)
{
	int64_t		J = r->nlevels[0];
	int64_t    *at = lmm_alloc0(sizeof(int64_t) * (size_t) (J + 1));
	int64_t		i,
				j;
	int			t;

	reserve(r, src->n);
	if (src->wt != NULL)
		r->wt = filled(0, r->capacity, 1.0);
	if (src->off != NULL)
		r->off = filled(0, r->capacity, 0.0);
	for (i = 0; i < src->n; i++)
		at[map[0][src->lev[(size_t) i * src->nterms]] + 1]++;
	for (j = 0; j < J; j++)
		at[j + 1] += at[j];
	for (i = 0; i < src->n; i++)
	{
		int64_t		d = at[map[0][src->lev[(size_t) i * src->nterms]]]++;

		memcpy(r->x + (size_t) d * r->p, src->x + (size_t) i * r->p, sizeof(double) * r->p);
		r->y[d] = src->y[i];
		if (r->wt != NULL)
			r->wt[d] = src->wt[i];
		if (r->off != NULL)
			r->off[d] = src->off[i];
		for (t = 0; t < r->nterms; t++)
			r->lev[(size_t) d * r->nterms + t] =
				(int32_t) map[t][src->lev[(size_t) i * r->nterms + t]];
		if (r->nz > 0)
			memcpy(r->z + (size_t) d * r->nz, src->z + (size_t) i * r->nz,
				   sizeof(double) * r->nz);
	}
	r->n = src->n;
	r->grouped = 1;
	lmm_free(at);
}
