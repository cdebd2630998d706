/*
 * lmm_pg.h
 *	  Declarations shared by the PostgreSQL glue around the numerical core.
 */
#ifndef LMM_PG_H
#define LMM_PG_H

#include "postgres.h"

#include "fmgr.h"

#include "core/lmm_model.h"

/* What the options text of lmm_fit says. */
typedef struct LmmOptions
{
	bool		reml;			/* method=reml (default) or method=ml */
	char	   *g_name;			/* name of the grouping factor, "g" by default */
	int			n_x_names;		/* -1 when x_names was not given */
	char	  **x_names;
	int			n_z_names;		/* -1 when z_names was not given */
	char	  **z_names;
} LmmOptions;

extern void lmm_parse_options(const char *text, LmmOptions *opts);

/* lmm_model values: flat varlena holding the packed binary form. */
extern bytea *lmm_model_to_datum(const LmmModel *m);
extern void lmm_model_from_datum(Datum d, LmmModel *m);

#define PG_GETARG_LMM_MODEL_P(n) DatumGetByteaPP(PG_GETARG_DATUM(n))

#endif							/* LMM_PG_H */
