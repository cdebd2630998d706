/*
 * fuzz_formula.c
 *	  libFuzzer harness for lmm_formula_parse, the lme4 formula parser that
 *	  lmm(formula, source) runs on the caller's text.  Any input must give
 *	  either a parse within the documented limits or a terminated message
 *	  naming a position inside the text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_formula.h"

/* Abort (a crash libFuzzer reports) when an invariant fails. */
static void
require(int ok)
{
	if (!ok)
		abort();
}

/* Nonzero if v is a name the glue can quote: non-empty, short, terminated. */
static int
valid_var(const LmmFVar *v, size_t len)
{
	size_t		n = strnlen(v->name, sizeof(v->name));

	return n > 0 && n <= LMM_FORMULA_MAX_NAME && v->pos >= 1 && (size_t) v->pos <= len;
}

/* Nonzero if every variable of t is valid and t has 1 to MAX_VARS of them. */
static int
valid_term(const LmmFTerm *t, size_t len)
{
	int			i;

	if (t->nvars < 1 || t->nvars > LMM_FORMULA_MAX_VARS)
		return 0;
	for (i = 0; i < t->nvars; i++)
		if (!valid_var(&t->var[i], len))
			return 0;
	return 1;
}

/* Check the parse of a text of len bytes against the limits of lmm_formula.h. */
static void
check_formula(const LmmFormula *f, size_t len)
{
	int			k,
				t;

	require(valid_var(&f->response, len));
	require(f->nfixed >= 0 && f->nfixed <= LMM_FORMULA_MAX_TERMS);
	require(f->nrandom >= 1 && f->nrandom <= LMM_FORMULA_MAX_RANDOM);
	for (k = 0; k < f->nfixed; k++)
		require(valid_term(&f->fixed[k], len));
	for (k = 0; k < f->nrandom; k++)
	{
		const LmmFRandom *r = &f->random[k];

		require(r->nterms >= 0 && r->nterms <= LMM_FORMULA_MAX_TERMS);
		require(r->intercept || r->nterms > 0);
		require(valid_term(&r->group, len));
		for (t = 0; t < r->nterms; t++)
			require(valid_term(&r->term[t], len));
	}
}

/* One input: the bytes up to the first NUL are the formula, as SQL text would be. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static LmmFormula f;
	char	   *text = malloc(size + 1);
	char		err[256];
	char		small[24];
	const char *problem;
	const char *at;
	size_t		len;
	int			pos = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	len = strlen(text);

	memset(err, 0x7F, sizeof(err));
	problem = lmm_formula_parse(text, &f, err, sizeof(err));
	if (problem == NULL)
		check_formula(&f, len);
	else
	{
		require(problem == err);
		require(memchr(err, '\0', sizeof(err)) != NULL && strlen(err) > 0);
		at = strstr(err, " at position ");
		require(at != NULL && sscanf(at, " at position %d", &pos) == 1);
		require(pos >= 1 && (size_t) pos <= len + 1);
	}

	/* a short message buffer is cut, never overrun */
	memset(small, 0x7F, sizeof(small));
	require((lmm_formula_parse(text, &f, small, sizeof(small)) == NULL) == (problem == NULL));
	if (problem != NULL)
		require(memchr(small, '\0', sizeof(small)) != NULL);
	free(text);
	return 0;
}
