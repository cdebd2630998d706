/*
 * kr.c
 *	  Kenward-Roger's ingredients of an lmm_model (core/lmm_kr.h) for
 *	  lmm_fixef, lmm_contrast and lmm_anova with ddf=kenward-roger, and the
 *	  errors for models that have none.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "core/lmm_kr.h"
#include "lmm_pg.h"

/*
 * Fill kr for m, or raise why it cannot be: a model stored without its
 * statistics, an ML fit (Kenward-Roger is a REML method: lmerTest refuses
 * ML fits, and pbkrtest's silent REML refit would describe another model
 * than the estimates shown), a several-term model too large for the dense
 * computation, or a cancel.
 */
void
lmm_model_kr(const LmmModel *m, const char *fn, LmmKr *kr)
{
	const LmmTermStats *s = m->tstats;
	double	   *theta;
	int			src[LMM_MAX_TERMS];
	int			t,
				k = 0;
	LmmKrStatus status;

	lmm_require_lmm(m, psprintf("%s with ddf=kenward-roger", fn));
	if (s == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s with ddf=kenward-roger needs a model that carries its statistics", fn),
				 errdetail("This model was stored by lmm 0.2, or fitted by lmm() or lmm_fit_terms in lmm 0.6 or earlier."),
				 errhint("Refit the model, or use ddf=satterthwaite.")));
	if (!(m->flags & LMM_MODEL_REML))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s with ddf=kenward-roger needs a REML fit", fn),
				 errdetail("Kenward and Roger's method adjusts the REML estimates; the model was fitted by maximum likelihood, which lmerTest refuses too."),
				 errhint("Fit the model with method=reml (the default), or use ddf=satterthwaite.")));
	if (s->p != m->p || s->nterms != m->nextra + 1)
		lmm_model_corrupt("its statistics do not describe its terms");
	lmm_terms_order(s, src);
	theta = palloc(sizeof(double) * lmm_model_ntheta(m));
	for (t = 0; t <= m->nextra; t++)
	{
		LmmModelTerm v = lmm_model_term(m, t);

		if (s->term[src[t]].q != v.q || s->term[src[t]].nlevels != v.nlevels)
			lmm_model_corrupt("its statistics do not describe its terms");
		memcpy(theta + k, v.theta, sizeof(double) * LMM_NTHETA(v.q));
		k += LMM_NTHETA(v.q);
	}
	status = lmm_kr(s, theta, m->sigma, kr);
	pfree(theta);
	switch (status)
	{
		case LMM_KR_OK:
			break;
		case LMM_KR_TOO_MANY:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s with ddf=kenward-roger takes at most %d random effects in a model of several terms; this one has %lld",
							fn, LMM_KR_MAX_DENSE, (long long) kr->nre),
					 errdetail("With more than one random-effects term the adjustment works on a dense matrix of all random effects (a model of one term has no such limit)."),
					 errhint("Use ddf=satterthwaite, which has no such limit.")));
			break;
		case LMM_KR_TOO_WIDE:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s with ddf=kenward-roger cannot hold the products of %d variance parameters and %d fixed effects",
							fn, kr->ngamma, kr->p),
					 errdetail("The adjustment keeps a p x p matrix for every pair of variance parameters, more than 1 GB here."),
					 errhint("Use ddf=satterthwaite, which has no such limit.")));
			break;
		case LMM_KR_INTERRUPTED:
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("canceling %s on request", fn),
					 errdetail("The Kenward-Roger adjustment was interrupted; run the statement again.")));
			break;
		case LMM_KR_DEGENERATE:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the Kenward-Roger adjustment of this model cannot be computed in double precision"),
					 errdetail("The covariance of the fixed effects, or of the random effects given the data, is not positive definite at the estimates."),
					 errhint("Refit the model on centered or rescaled data, or use ddf=satterthwaite.")));
			break;
	}
}
