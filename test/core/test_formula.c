/*
 * test_formula.c
 *	  Unit tests of the formula parser: the terms of a part, their order and
 *	  their coding against R's terms() (formula_terms.ref.csv, written by
 *	  make_formula_order_refs.R), lme4's expansion of || and the refusals of
 *	  the formula algebra.
 */
#include <stdio.h>
#include <string.h>

#include "lmm_formula.h"
#include "test_core.h"

/* The formula parsed last, kept off the stack (it is large). */
static LmmFormula parsed;

/* A term as R labels it (a:factor(k)) and its codes as R's factors matrix (2 1), len bytes each. */
static void
describe(const LmmFTerm *t, char *label, char *codes, size_t len)
{
	int			i;

	label[0] = codes[0] = '\0';
	for (i = 0; i < t->nvars; i++)
	{
		const LmmFVar *v = &t->var[i];
		size_t		l = strlen(label),
					c = strlen(codes);

		snprintf(label + l, len - l, v->factor ? "%sfactor(%s)" : "%s%s",
				 i > 0 ? ":" : "", v->name);
		snprintf(codes + c, len - c, "%s%d", i > 0 ? " " : "", v->full ? 2 : 1);
	}
}

/*
 * Check one part (the fixed terms, or the left side of the first random
 * term) of text, parsed, against R's rows for the formula.
 */
static void
check_part(const char *text, int random, int intercept, int nrows,
		   char labels[][128], char codes[][128])
{
	char		err[256];
	char		what[512];
	int			ok,
				k;

	ok = lmm_formula_parse(text, &parsed, err, sizeof(err)) == NULL;
	if (ok)
	{
		const LmmFTerm *terms = random ? parsed.random[0].term : parsed.fixed;
		int			n = random ? parsed.random[0].nterms : parsed.nfixed;
		int			icpt = random ? parsed.random[0].intercept : parsed.intercept;

		ok = n == nrows && icpt == intercept;
		for (k = 0; ok && k < n; k++)
		{
			char		label[128],
						code[128];

			describe(&terms[k], label, code, sizeof(code));
			ok = strcmp(label, labels[k]) == 0 && strcmp(code, codes[k]) == 0;
			if (!ok)
				printf("  term %d: %s [%s], R: %s [%s]\n", k + 1, label, code, labels[k], codes[k]);
		}
	}
	else
		printf("  %s\n", err);
	snprintf(what, sizeof(what), "formula: %s has R's terms, in R's order and coding", text);
	check(ok, what);
}

/* Every formula of formula_terms.ref.csv, as the fixed part and as a random term's left side. */
static void
test_against_r(const char *dir)
{
	char		path[1024];
	char		line[512];
	char		formula[256] = "";
	char		labels[LMM_FORMULA_MAX_TERMS][128];
	char		codes[LMM_FORMULA_MAX_TERMS][128];
	int			intercept = 1,
				nrows = 0,
				nformulas = 0;
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/formula_terms.ref.csv", dir);
	f = fopen(path, "r");
	check(f != NULL && fgets(line, sizeof(line), f) != NULL, "formula: formula_terms.ref.csv can be read");
	if (f == NULL)
		return;
	for (;;)
	{
		char		fo[256],
					label[128],
					code[128];
		int			icpt,
					ord;
		int			more = fgets(line, sizeof(line), f) != NULL &&
			sscanf(line, "%255[^,],%d,%d,%127[^,],%127[^\r\n]", fo, &icpt, &ord, label, code) == 5;

		if (nrows > 0 && (!more || strcmp(fo, formula) != 0))
		{
			char		text[512];
			const char *rhs = formula + strlen("y ~ ");

			snprintf(text, sizeof(text), "y ~ %s + (1 | g)", rhs);
			check_part(text, 0, intercept, nrows, labels, codes);
			snprintf(text, sizeof(text), "y ~ 1 + (%s | g)", rhs);
			check_part(text, 1, intercept, nrows, labels, codes);
			nformulas++;
			nrows = 0;
		}
		if (!more)
			break;
		snprintf(formula, sizeof(formula), "%s", fo);
		intercept = icpt;
		if (nrows < LMM_FORMULA_MAX_TERMS && ord == nrows + 1)
		{
			snprintf(labels[nrows], sizeof(labels[0]), "%s", label);
			snprintf(codes[nrows], sizeof(codes[0]), "%s", code);
			nrows++;
		}
	}
	fclose(f);
	check(nformulas >= 30, "formula: every formula of formula_terms.ref.csv was checked");
}

/*
 * (f:x + x * f || g): one term per term of the left side, in terms() order,
 * each coded as the only term of its part (f:x then by every level of both).
 */
static void
test_uncorrelated(void)
{
	char		err[256];
	char		label[128],
				code[128];
	const char *labels[] = {"x", "f", "f:x"};
	const char *codes[] = {"1", "1", "2 2"};
	int			ok,
				k;

	ok = lmm_formula_parse("y ~ 1 + (f:x + x * f || g)", &parsed, err, sizeof(err)) == NULL &&
		parsed.nrandom == 4 && parsed.random[0].intercept && parsed.random[0].nterms == 0;
	for (k = 1; ok && k < 4; k++)
	{
		ok = !parsed.random[k].intercept && parsed.random[k].nterms == 1;
		if (ok)
		{
			describe(&parsed.random[k].term[0], label, code, sizeof(code));
			ok = strcmp(label, labels[k - 1]) == 0 && strcmp(code, codes[k - 1]) == 0;
		}
	}
	check(ok, "formula: (f:x + x * f || g) is (1 | g) + (0 + f | g) + (0 + x | g) + (0 + f:x | g)");
}

/* What the algebra refuses, each with a position inside the text. */
static void
test_refusals(void)
{
	static const char *bad[] = {
		"y ~ (a + b)^1 + (1 | g)",
		"y ~ (a + b)^ + (1 | g)",
		"y ~ (1 + a):b + (1 | g)",
		"y ~ a:(1 | g)",
		"y ~ ((1 | g))",
		"y ~ (1 | g) - x",
		"y ~ (a + b + (1 | g)",
		"y ~ ((((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))) + (1 | g)",
		"y ~ a:b:c:d:e:f:h:i:j + (1 | g)",
	};
	char		err[256];
	int			i,
				ok = 1;

	for (i = 0; i < (int) (sizeof(bad) / sizeof(bad[0])); i++)
		if (lmm_formula_parse(bad[i], &parsed, err, sizeof(err)) == NULL ||
			strstr(err, " at position ") == NULL)
		{
			printf("  accepted or no position: %s\n", bad[i]);
			ok = 0;
		}
	check(ok, "formula: a power below 2, an intercept or random term inside parentheses, deep nesting and too big an interaction are refused");
	check(lmm_formula_parse("y ~ (a + b + c)^1000000000000 + (1 | g)", &parsed, err, sizeof(err)) == NULL &&
		  parsed.nfixed == 7, "formula: a huge power stops once the terms stop changing");
}

/* The parser's tests. */
void
test_formula(const char *dir)
{
	test_against_r(dir);
	test_uncorrelated();
	test_refusals();
}
