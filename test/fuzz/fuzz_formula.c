/*
 * fuzz_formula.c
 *	  libFuzzer harness for lmm_formula_parse, the lme4 formula parser that
 *	  lmm(formula, source) runs on the caller's text.  Any input must give
 *	  either a parse within the documented limits, each part's terms sorted
 *	  by degree without repeats, or a terminated message naming a position
 *	  inside the text.
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

/* Nonzero if two variables are the same column, written the same way. */
static int
same_var(const LmmFVar *a, const LmmFVar *b)
{
	return strcmp(a->name, b->name) == 0 && a->factor == b->factor;
}

/* Nonzero if every variable of t is valid, t has 1 to MAX_VARS of them and none twice. */
static int
valid_term(const LmmFTerm *t, size_t len)
{
	int			i,
				j;

	if (t->nvars < 1 || t->nvars > LMM_FORMULA_MAX_VARS)
		return 0;
	for (i = 0; i < t->nvars; i++)
	{
		if (!valid_var(&t->var[i], len))
			return 0;
		for (j = 0; j < i; j++)
			if (same_var(&t->var[i], &t->var[j]))
				return 0;
	}
	return 1;
}

/* Nonzero if two terms have the same variables. */
static int
same_term(const LmmFTerm *a, const LmmFTerm *b)
{
	int			i,
				j;

	if (a->nvars != b->nvars)
		return 0;
	for (i = 0; i < a->nvars; i++)
	{
		for (j = 0; j < b->nvars && !same_var(&a->var[i], &b->var[j]); j++)
			;
		if (j == b->nvars)
			return 0;
	}
	return 1;
}

/* Nonzero if the n terms of a part are valid, sorted by degree, and none twice (R's terms()). */
static int
valid_part(const LmmFTerm *terms, int n, size_t len)
{
	int			k,
				u;

	if (n < 0 || n > LMM_FORMULA_MAX_TERMS)
		return 0;
	for (k = 0; k < n; k++)
	{
		if (!valid_term(&terms[k], len) || (k > 0 && terms[k].nvars < terms[k - 1].nvars))
			return 0;
		for (u = 0; u < k; u++)
			if (same_term(&terms[k], &terms[u]))
				return 0;
	}
	return 1;
}

/* Check the parse of a text of len bytes against the limits of lmm_formula.h. */
static void
check_formula(const LmmFormula *f, size_t len)
{
	int			k,
				t;

	require(valid_var(&f->response, len));
	require(valid_part(f->fixed, f->nfixed, len));
	require(f->nrandom >= 1 && f->nrandom <= LMM_FORMULA_MAX_RANDOM);
	for (k = 0; k < f->nrandom; k++)
	{
		const LmmFRandom *r = &f->random[k];

		require(valid_part(r->term, r->nterms, len));
		require(r->intercept || r->nterms > 0);
		require(r->group.nvars >= 1 && r->group.nvars <= LMM_FORMULA_MAX_VARS);
		for (t = 0; t < r->group.nvars; t++)
			require(valid_var(&r->group.var[t], len));
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
