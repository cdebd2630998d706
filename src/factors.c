/*
 * factors.c
 *	  The factors of a model's fixed part, every level of each (the
 *	  reference of its contrasts first): what lmm() knows when it builds
 *	  its query and passes as the spec key "factors" of lmm_fit_terms, and
 *	  the model keeps for lmm_ls_means.  One JSON form serves the spec and
 *	  the model's text form: {"recipe": ["A", "B", "C"], ...}.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "lmm_pg.h"

/* qsort order of factors: by name, bytewise. */
static int
factor_cmp(const void *a, const void *b)
{
	return strcmp(((const LmmModelFactor *) a)->name, ((const LmmModelFactor *) b)->name);
}

/*
 * The factors of a JSON object {"name": ["level", ...], ...} (the value v
 * of key "factors" in a value of type; what names it in errors), sorted by
 * name and checked as a model's; *n is their number.
 */
LmmModelFactor *
lmm_json_factors(const char *type, JsonbValue v, int *n)
{
	JsonbContainer *obj = lmm_json_container(type, v, false, -1, "factors");
	JsonbIterator *it;
	JsonbValue	key,
				val;
	JsonbIteratorToken tok;
	LmmModelFactor *factors;
	const char *problem;
	int			k = 0;

	if (JsonContainerSize(obj) < 1 || JsonContainerSize(obj) > LMM_MODEL_MAX_FACTORS)
		lmm_json_bad(type, "\"factors\" must name between 1 and 256 factors");
	factors = palloc0(sizeof(LmmModelFactor) * JsonContainerSize(obj));
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		int64		nl;

		if (tok != WJB_KEY)
			continue;
		CHECK_FOR_INTERRUPTS();
		tok = JsonbIteratorNext(&it, &val, true);
		if (val.type != jbvBinary || !JsonContainerIsArray(val.val.binary.data))
			lmm_json_bad(type, "each factor in \"factors\" must be an array of its levels");
		factors[k].name = pnstrdup(key.val.string.val, key.val.string.len);
		factors[k].levels = lmm_json_str_array(type, val, -1, &nl, "factors");
		if (nl > LMM_MODEL_MAX_FACTOR_LEVELS)
			lmm_json_bad(type, "a factor must have between 2 and 1000 levels");
		factors[k].nlevels = (int) nl;
		k++;
	}
	qsort(factors, k, sizeof(LmmModelFactor), factor_cmp);
	problem = lmm_model_check_factors(k, factors);
	if (problem != NULL)
		lmm_json_bad(type, psprintf("\"factors\": %s", problem));
	*n = k;
	return factors;
}

/* Append the factors as JSON, {"name": ["level", ...], ...}, in their order. */
void
lmm_json_append_factors(StringInfo buf, int nfactors, const LmmModelFactor *factors)
{
	int			k;

	appendStringInfoChar(buf, '{');
	for (k = 0; k < nfactors; k++)
	{
		if (k > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, factors[k].name);
		appendStringInfoString(buf, ": ");
		lmm_json_append_str_array(buf, factors[k].levels, factors[k].nlevels);
	}
	appendStringInfoChar(buf, '}');
}

/* Error unless every name and level of the factors is valid in the server encoding. */
void
lmm_verify_factors_encoding(const char *type, int nfactors, const LmmModelFactor *factors)
{
	int			k,
				l;

	for (k = 0; k < nfactors; k++)
	{
		lmm_verify_encoding(type, factors[k].name);
		for (l = 0; l < factors[k].nlevels; l++)
			lmm_verify_encoding(type, factors[k].levels[l]);
	}
}
