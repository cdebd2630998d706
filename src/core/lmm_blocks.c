/*
 * lmm_blocks.c
 *	  From a model's statistics (lmm_terms.h) to what each evaluation
 *	  of lmm_blocked.c reads: the first term's per-level cross-products in a
 *	  Gram, its sparse cross blocks with the other terms, and the constant
 *	  blocks of the dense matrix M.
 *
 * The x and y sums are moved from the statistics' shift to the overall
 * means when x_0 is an intercept (so that it is orthogonal to the other
 * columns), and to the origin otherwise.  With k = 1 there is no dense
 * term: M is [X'X X'y; y'X y'y] and the first term's levels are all of Z.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#endif

#include "lmm_fit.h"
#include "lmm_fit_int.h"
#include "lmm_host.h"
#include "lmm_threads.h"
#include "lmm_terms.h"

/*
 * An array of the first term's per-level cross-products: on huge pages
 * where the kernel offers them, since every evaluation streams through
 * them (a million levels of q = 2 and p = 6: 144 MB a pass), and 4 kB pages
 * would add a TLB miss every 4 kB.
 */
static double *
level_array(size_t ndoubles)
{
	double	   *a = lmm_alloc(sizeof(double) * ndoubles);

	lmm_advise_huge(a, sizeof(double) * ndoubles);
	lmm_first_touch(a, sizeof(double) * ndoubles);
	return a;
}

/* Append a constant block of M; its values are copied to later. */
static DenseBlock *
add_dense(Blocks *bk, int64_t r0, int64_t c0, int tr, int tc, int nr, int nc)
{
	DenseBlock *db = &bk->dense[bk->ndense++];

	db->r0 = r0;
	db->c0 = c0;
	db->tr = tr;
	db->tc = tc;
	db->nr = nr;
	db->nc = nc;
	return db;
}

/* Append M's constant block [X'X X'y; y'X y'y] of g, its values into val ((p + 1)^2). */
static void
add_xy_block(const Gram *g, Blocks *bk, double *val)
{
	int			p = g->p;
	int			n1 = p + 1;
	int			a,
				b;

	for (a = 0; a < n1; a++)
		for (b = 0; b < n1; b++)
		{
			int			r = a < b ? a : b,
						c = a < b ? b : a;

			val[a * n1 + b] = c == p ? (r == p ? g->yty : g->Xty[r]) : g->XtX[r * p + c];
		}
	add_dense(bk, bk->m, bk->m, -1, -1, n1, n1)->val = val;
}

/* One cross block of a first-term level, for sorting. */
typedef struct CrossRef
{
	int64_t		col;
	int64_t		voff;
	int			term;
} CrossRef;

/* qsort order of cross blocks: by their first column in M. */
static int
cross_cmp(const void *a, const void *b)
{
	int64_t		ca = ((const CrossRef *) a)->col;
	int64_t		cb = ((const CrossRef *) b)->col;

	return (ca > cb) - (ca < cb);
}

/*
 * Sort each first-term level's cross blocks by column, so that its columns
 * of W, and so its updates of M, come in increasing order (lmm_blocked.c
 * walks M column by column, down each column).
 */
static void
sort_cross_blocks(Blocks *bk)
{
	int64_t		most = 0,
				j,
				e;
	CrossRef   *ref;

	for (j = 0; j < bk->J[0]; j++)
		if (bk->xptr[j + 1] - bk->xptr[j] > most)
			most = bk->xptr[j + 1] - bk->xptr[j];
	ref = lmm_alloc(sizeof(CrossRef) * (size_t) (most + 1));
	for (j = 0; j < bk->J[0]; j++)
	{
		int64_t		lo = bk->xptr[j],
					n = bk->xptr[j + 1] - lo;

		for (e = 0; e < n; e++)
		{
			ref[e].col = bk->xcol[lo + e];
			ref[e].voff = bk->xvoff[lo + e];
			ref[e].term = bk->xterm[lo + e];
		}
		qsort(ref, (size_t) n, sizeof(CrossRef), cross_cmp);
		for (e = 0; e < n; e++)
		{
			bk->xcol[lo + e] = ref[e].col;
			bk->xvoff[lo + e] = ref[e].voff;
			bk->xterm[lo + e] = ref[e].term;
		}
	}
	lmm_free(ref);
}

/*
 * What every evaluation writes: W_j's column counts, each term's T, M
 * (dense, or sparse where its factor is: lmm_sparse_plan) and the scratch
 * arrays, then the scalar terms' product list (lmm_blocked_pairs.c).
 * LMM_ERR_TOO_MANY_LEVELS when M's factor would exceed the host's memory
 * limit.
 */
static LmmStatus
blocks_workspace(Gram *g, Blocks *bk, int maxq, int many_theta)
{
	int			n1 = g->p + 1;
	int			k = bk->k;
	size_t		tmpsize;
	int64_t		j,
				e;
	int			t;
	LmmStatus	status;

	bk->ncols = lmm_alloc(sizeof(int) * (size_t) (bk->J[0] + 1));
	bk->maxcols = n1;
	for (j = 0; j < bk->J[0]; j++)
	{
		int			c = n1;

		for (e = bk->xptr[j]; e < bk->xptr[j + 1]; e++)
			c += bk->q[bk->xterm[e]];
		bk->ncols[j] = c;
		if (c > bk->maxcols)
			bk->maxcols = c;
	}
	for (t = 0; t < k; t++)
		bk->T[t] = lmm_alloc(sizeof(double) * bk->q[t] * bk->q[t]);
	status = lmm_sparse_plan(bk, lmm_factor_memory_limit(), &bk->need);
	if (status != LMM_OK)
		return status;
	if (bk->sp == NULL)
		bk->M = lmm_alloc(sizeof(double) * (size_t) bk->N * (size_t) bk->N);
	bk->mtheta = lmm_alloc(sizeof(double) * (bk->toff[k - 1] + LMM_NTHETA(bk->q[k - 1])));
	bk->W = lmm_alloc(sizeof(double) * (size_t) bk->q[0] * bk->maxcols);
	bk->widx = lmm_alloc(sizeof(int64_t) * (size_t) bk->maxcols);
	tmpsize = (size_t) n1 * maxq;
	if (tmpsize < (size_t) maxq * maxq)
		tmpsize = (size_t) maxq * maxq;
	bk->tmp = lmm_alloc(sizeof(double) * tmpsize);
	bk->scratch = lmm_alloc(sizeof(double) * (tmpsize > (size_t) n1 * n1 ? tmpsize : (size_t) n1 * n1));
	/* the pairs' products pay back over many theta, not one factor */
	if (many_theta)
		lmm_blocked_pairs_build(g, bk);
	return LMM_OK;
}

/*
 * Build g and bk from the statistics.  LMM_ERR_FEW_GROUPS (or
 * LEVELS_GE_NOBS, RE_GE_NOBS) with fit-style bad_term in *bad_term when a
 * term cannot be estimated, LMM_ERR_TOO_MANY_LEVELS when the factor of
 * the later terms would exceed the host's memory limit (bk->need says how
 * much it needs).
 */
LmmStatus
lmm_blocked_build(const LmmTermStats *s, Gram *g, Blocks *bk, int *bad_term)
{
	return lmm_blocked_build_for(s, g, bk, bad_term, 1);
}

/*
 * lmm_blocked_build, with the checks of levels against observations and
 * the products that speed many evaluations only when for_lmm: a GLMM's
 * working statistics may have a level per row (glmer allows
 * observation-level random effects), and each is factored at one theta.
 */
LmmStatus
lmm_blocked_build_for(const LmmTermStats *s, Gram *g, Blocks *bk, int *bad_term,
					  int for_lmm)
{
	int			p = s->p;
	int			n1 = p + 1;
	int			k = s->nterms;
	int			pos[LMM_MAX_TERMS];
	double		d[LMM_MAX_COLUMNS + 1];
	double		n = s->n;
	int64_t		j,
				e,
				ndense,
				nval;
	int			t,
				a,
				b,
				intercept = s->first_is_one && p > 0,
				maxq = 1;
	double	   *val,
			   *zx;
	int64_t		nx,
				nxval,
			   *fill;

	memset(g, 0, sizeof(Gram));
	memset(bk, 0, sizeof(Blocks));
	lmm_terms_order(s, bk->src);
	bk->k = k;
	for (t = 0; t < k; t++)
	{
		const LmmTermLevels *lv = &s->term[bk->src[t]];

		pos[bk->src[t]] = t;
		bk->q[t] = lv->q;
		bk->J[t] = lv->nlevels;
		bk->toff[t] = t == 0 ? 0 : bk->toff[t - 1] + LMM_NTHETA(bk->q[t - 1]);
		if (lv->q > maxq)
			maxq = lv->q;
		*bad_term = bk->src[t];
		if (lv->nlevels < 2)
			return LMM_ERR_FEW_GROUPS;
		if (for_lmm && (double) lv->nlevels >= n)
			return LMM_ERR_LEVELS_GE_NOBS;
		if (for_lmm && lv->q > 1 && (double) lv->nlevels * lv->q >= n)
			return LMM_ERR_RE_GE_NOBS;
	}
	*bad_term = -1;
	bk->m = 0;
	for (t = 1; t < k; t++)
	{
		bk->off[t] = bk->m;
		bk->m += bk->J[t] * bk->q[t];
	}
	if (bk->m > LMM_MAX_SPARSE)
	{
		bk->need = HUGE_VAL;
		return LMM_ERR_TOO_MANY_LEVELS;
	}
	bk->N = bk->m + n1;

	/* d = c - target, the target being the means (intercept) or the origin */
	bk->centre = lmm_alloc0(sizeof(double) * p);
	for (a = 0; a < n1; a++)
	{
		double		target = (intercept && a > 0) ? s->shift[a] + s->sum[a] / n : 0.0;

		d[a] = s->shift[a] - target;
		if (a > 0)
			bk->centre[a - 1] = target;
	}

	/* Gram: overall cross-products and the first term's levels */
	g->p = p;
	g->q = bk->q[0];
	g->n = n;
	g->nlevels = bk->J[0];
	g->centre = bk->centre;
	g->intercept = intercept;
	g->blk = bk;
	g->XtX = lmm_alloc0(sizeof(double) * p * p);
	g->Xty = lmm_alloc0(sizeof(double) * (p > 0 ? p : 1));
	for (a = 0; a < n1; a++)
		for (b = a; b < n1; b++)
		{
			double		c = s->cross[a * n1 + b] + d[a] * s->sum[b] +
				s->sum[a] * d[b] + n * d[a] * d[b];

			if (intercept && (a == 0 || b == 0))
				c = (a == 0 && b == 0) ? n : 0.0;
			if (b == p)
			{
				if (a == p)
					g->yty = c;
				else
					g->Xty[a] = c;
			}
			else
				g->XtX[a * p + b] = g->XtX[b * p + a] = c;
		}

	/* per level of every term: Z'Z, and Z'X, Z'y moved by d */
	{
		const LmmTermLevels *lv = &s->term[bk->src[0]];
		int			q = lv->q;

		g->ZtZ = level_array((size_t) lv->nlevels * q * q);
		g->ZtX = level_array((size_t) lv->nlevels * q * (p > 0 ? p : 1));
		g->Zty = level_array((size_t) lv->nlevels * q);
	}
	nval = 0;
	ndense = 1;
	for (t = 1; t < k; t++)
	{
		nval += bk->J[t] * (int64_t) bk->q[t] * (bk->q[t] + n1);
		ndense += 2 * bk->J[t];
	}
	for (e = 0; e < k * (k - 1) / 2; e++)
	{
		nval += s->pair[e].npairs * s->pair[e].bsize;
		ndense += s->pair[e].npairs;
	}
	nval += n1 * n1;
	bk->dense = lmm_alloc(sizeof(DenseBlock) * (size_t) ndense);
	bk->dval = val = lmm_alloc(sizeof(double) * (size_t) nval);

	zx = lmm_alloc(sizeof(double) * maxq * n1);
	for (t = 0; t < k; t++)
	{
		const LmmTermLevels *lv = &s->term[bk->src[t]];
		int			q = lv->q;

		for (j = 0; j < lv->nlevels; j++)
		{
			const double *rec = lv->rec + (size_t) j * lv->stride;
			double	   *ZtX = (t == 0) ? g->ZtX + (size_t) j * q * p : zx;
			double	   *Zty = (t == 0) ? g->Zty + (size_t) j * q : zx + q * p;

			for (a = 0; a < q; a++)
			{
				double		sz = LMM_TREC_SZ(rec)[a];

				for (b = 0; b < p; b++)
					ZtX[a * p + b] = (intercept && b == 0) ? sz :
						LMM_TREC_ZX(rec, q)[a * p + b] + sz * d[b];
				Zty[a] = LMM_TREC_ZY(rec, q, p)[a] + sz * d[p];
			}
			if (t == 0)
			{
				memcpy(g->ZtZ + (size_t) j * q * q, LMM_TREC_ZZ(rec, q),
					   sizeof(double) * q * q);
				continue;
			}

			/* a dense term: T'Z'Z T + I on the diagonal, X'Z T and y'Z T below */
			{
				int64_t		at = bk->off[t] + j * q;

				memcpy(val, LMM_TREC_ZZ(rec, q), sizeof(double) * q * q);
				add_dense(bk, at, at, t, t, q, q)->val = val;
				val += q * q;
				for (b = 0; b < p; b++)
					for (a = 0; a < q; a++)
						val[b * q + a] = ZtX[a * p + b];
				for (a = 0; a < q; a++)
					val[p * q + a] = Zty[a];
				add_dense(bk, bk->m, at, -1, t, n1, q)->val = val;
				val += n1 * q;
			}
		}
	}
	lmm_free(zx);

	add_xy_block(g, bk, val);
	val += n1 * n1;

	/*
	 * Pairs of terms: blocks between two dense terms go below the diagonal
	 * (rows of the later term); blocks of the first term with a dense one
	 * become its levels' cross blocks.
	 */
	bk->xptr = lmm_alloc0(sizeof(int64_t) * (size_t) (bk->J[0] + 1));
	for (e = 0; e < k * (k - 1) / 2; e++)
	{
		const LmmTermPair *pr = &s->pair[e];

		if (pos[pr->t] == 0 || pos[pr->u] == 0)
			for (j = 0; j < pr->npairs; j++)
				bk->xptr[1 + (pos[pr->t] == 0 ? pr->jt[j] : pr->ju[j])]++;
	}
	for (j = 0; j < bk->J[0]; j++)
		bk->xptr[j + 1] += bk->xptr[j];
	nx = bk->xptr[bk->J[0]];
	bk->xcol = lmm_alloc(sizeof(int64_t) * (size_t) (nx + 1));
	bk->xterm = lmm_alloc(sizeof(int) * (size_t) (nx + 1));
	bk->xvoff = lmm_alloc(sizeof(int64_t) * (size_t) (nx + 1));
	fill = lmm_alloc0(sizeof(int64_t) * (size_t) (bk->J[0] + 1));
	nxval = 0;
	for (e = 0; e < k * (k - 1) / 2; e++)
		if (pos[s->pair[e].t] == 0 || pos[s->pair[e].u] == 0)
			nxval += s->pair[e].npairs * s->pair[e].bsize;
	bk->xval = lmm_alloc(sizeof(double) * (size_t) (nxval + 1));
	nxval = 0;
	for (e = 0; e < k * (k - 1) / 2; e++)
	{
		const LmmTermPair *pr = &s->pair[e];
		int			lo = pos[pr->t] < pos[pr->u] ? pos[pr->t] : pos[pr->u];
		int			hi = pos[pr->t] < pos[pr->u] ? pos[pr->u] : pos[pr->t];
		int			flip = pos[pr->t] > pos[pr->u];
		int			qlo = bk->q[lo],
					qhi = bk->q[hi];

		for (j = 0; j < pr->npairs; j++)
		{
			const double *blk = pr->blk + (size_t) j * pr->bsize;
			int64_t		jlo = flip ? pr->ju[j] : pr->jt[j];
			int64_t		jhi = flip ? pr->jt[j] : pr->ju[j];
			double	   *out;

			if (lo == 0)
			{
				int64_t		at = bk->xptr[jlo] + fill[jlo]++;

				bk->xcol[at] = bk->off[hi] + jhi * qhi;
				bk->xterm[at] = hi;
				bk->xvoff[at] = nxval;
				out = bk->xval + nxval;
				nxval += pr->bsize;
				/* q_lo x q_hi */
				for (a = 0; a < qlo; a++)
					for (b = 0; b < qhi; b++)
						out[a * qhi + b] = flip ? blk[b * qlo + a] : blk[a * qhi + b];
			}
			else
			{
				/* q_hi x q_lo, at rows of hi and columns of lo */
				out = val;
				val += pr->bsize;
				for (a = 0; a < qhi; a++)
					for (b = 0; b < qlo; b++)
						out[a * qlo + b] = flip ? blk[a * qlo + b] : blk[b * qhi + a];
				add_dense(bk, bk->off[hi] + jhi * qhi, bk->off[lo] + jlo * qlo,
						  hi, lo, qhi, qlo)->val = out;
			}
		}
	}
	lmm_free(fill);
	sort_cross_blocks(bk);

	return blocks_workspace(g, bk, maxq, for_lmm);
}

/* Release what lmm_blocked_build allocated. */
void
lmm_blocked_free(Gram *g, Blocks *bk)
{
	int			t;

	lmm_free_gram(g);
	lmm_free(bk->centre);
	lmm_free(bk->xptr);
	lmm_free(bk->xcol);
	lmm_free(bk->xterm);
	lmm_free(bk->xvoff);
	lmm_free(bk->xval);
	lmm_free(bk->ncols);
	lmm_free(bk->dense);
	lmm_free(bk->dval);
	for (t = 0; t < bk->k; t++)
		lmm_free(bk->T[t]);
	lmm_free(bk->M);
	lmm_sparse_free(bk);
	lmm_free(bk->mtheta);
	lmm_free(bk->W);
	lmm_free(bk->widx);
	lmm_free(bk->tmp);
	lmm_free(bk->scratch);
	lmm_blocked_pairs_free(bk);
	lmm_free(bk->Sinv);
	lmm_free(bk->uD);
	lmm_free(bk->hG);
	lmm_free(bk->hY);
	memset(bk, 0, sizeof(Blocks));
}
