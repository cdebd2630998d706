/*
 * lmm_formula.c
 *	  A recursive-descent parser for lme4's model formulas (lmm_formula.h).
 *	  It never touches SQL: it only yields names, which the glue quotes.
 */
#include "lmm_formula.h"

#include <stdio.h>
#include <string.h>

/* Parser state: the text, the cursor, and the first error. */
typedef struct Parser
{
	const char *text;
	const char *p;
	char	   *err;
	int			errlen;
	int			failed;
} Parser;

/* Record the first error, with the 1-based position of the cursor. */
static void
fail(Parser *ps, const char *what)
{
	if (ps->failed)
		return;
	ps->failed = 1;
	snprintf(ps->err, ps->errlen, "%s at position %d", what, (int) (ps->p - ps->text) + 1);
}

/* Skip white space. */
static void
skip(Parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')
		ps->p++;
}

/* Consume c (after white space) if it is next. */
static int
accept(Parser *ps, char c)
{
	skip(ps);
	if (*ps->p != c)
		return 0;
	ps->p++;
	return 1;
}

/* Nonzero if c can start (first) or continue a bare name. */
static int
name_char(char c, int first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '.' ||
		(!first && c >= '0' && c <= '9') || ((unsigned char) c >= 0x80);
}

/* A name into out: bare, or between backquotes. */
static int
parse_name(Parser *ps, char *out)
{
	const char *start;
	size_t		len;

	skip(ps);
	if (*ps->p == '`')
	{
		start = ++ps->p;
		while (*ps->p && *ps->p != '`')
			ps->p++;
		if (*ps->p != '`')
		{
			ps->p = start - 1;
			fail(ps, "unterminated quoted name");
			return 0;
		}
		len = (size_t) (ps->p - start);
		ps->p++;
	}
	else
	{
		start = ps->p;
		if (!name_char(*ps->p, 1))
		{
			fail(ps, *ps->p ? "expected a column name" : "unexpected end of formula");
			return 0;
		}
		while (name_char(*ps->p, 0))
			ps->p++;
		len = (size_t) (ps->p - start);
	}
	if (len == 0 || len > LMM_FORMULA_MAX_NAME)
	{
		ps->p = start;
		fail(ps, len == 0 ? "empty column name" : "column name too long");
		return 0;
	}
	memcpy(out, start, len);
	out[len] = '\0';
	return 1;
}

/* var := name | factor(name) */
static int
parse_var(Parser *ps, LmmFVar *v)
{
	const char *save;

	skip(ps);
	v->pos = (int) (ps->p - ps->text) + 1;
	v->factor = 0;
	if (!parse_name(ps, v->name))
		return 0;
	save = ps->p;
	if (strcmp(v->name, "factor") == 0 && accept(ps, '('))
	{
		v->factor = 1;
		skip(ps);
		v->pos = (int) (ps->p - ps->text) + 1;
		if (!parse_name(ps, v->name))
			return 0;
		if (!accept(ps, ')'))
		{
			fail(ps, "unbalanced parenthesis");
			return 0;
		}
	}
	else
		ps->p = save;
	return 1;
}

/* Nonzero if two interactions have the same variables (in any order). */
static int
same_term(const LmmFTerm *a, const LmmFTerm *b)
{
	int			i,
				j;

	if (a->nvars != b->nvars)
		return 0;
	for (i = 0; i < a->nvars; i++)
	{
		for (j = 0; j < b->nvars; j++)
			if (strcmp(a->var[i].name, b->var[j].name) == 0 &&
				a->var[i].factor == b->var[j].factor)
				break;
		if (j == b->nvars)
			return 0;
	}
	return 1;
}

/* Append a term unless it is already there (R drops repeated terms). */
static int
add_term(Parser *ps, LmmFTerm *terms, int *n, const LmmFTerm *t)
{
	int			i;

	for (i = 0; i < *n; i++)
		if (same_term(&terms[i], t))
			return 1;
	if (*n >= LMM_FORMULA_MAX_TERMS)
	{
		fail(ps, "too many terms");
		return 0;
	}
	terms[(*n)++] = *t;
	return 1;
}

/*
 * product := inter ('*' inter)*, expanded into every non-empty subset of
 * the inters in order (a*b: a, b, a:b), appended to terms.
 */
static int
parse_product(Parser *ps, LmmFTerm *terms, int *n)
{
	LmmFTerm	inter[LMM_FORMULA_MAX_VARS];
	int			ninter = 0;
	unsigned	mask;

	do
	{
		LmmFTerm   *t = &inter[ninter];

		if (ninter >= LMM_FORMULA_MAX_VARS)
		{
			fail(ps, "too many factors in a product");
			return 0;
		}
		t->nvars = 0;
		do
		{
			if (t->nvars >= LMM_FORMULA_MAX_VARS)
			{
				fail(ps, "too many variables in an interaction");
				return 0;
			}
			if (!parse_var(ps, &t->var[t->nvars++]))
				return 0;
		} while (accept(ps, ':'));
		ninter++;
	} while (accept(ps, '*'));

	/* subsets by size, then in order, as R orders a*b*c */
	{
		int			size;

		for (size = 1; size <= ninter; size++)
			for (mask = 1; mask < (1u << ninter); mask++)
			{
				LmmFTerm	t;
				int			i,
							bits = 0;

				for (i = 0; i < ninter; i++)
					bits += (mask >> i) & 1;
				if (bits != size)
					continue;
				t.nvars = 0;
				for (i = 0; i < ninter; i++)
					if ((mask >> i) & 1)
					{
						int			k;

						for (k = 0; k < inter[i].nvars; k++)
						{
							if (t.nvars >= LMM_FORMULA_MAX_VARS)
							{
								fail(ps, "too many variables in an interaction");
								return 0;
							}
							t.var[t.nvars++] = inter[i].var[k];
						}
					}
				if (!add_term(ps, terms, n, &t))
					return 0;
			}
	}
	return 1;
}

/*
 * terms of a fixed part or of a random term's left side: products joined by
 * '+', with 0 and 1 setting the intercept and '- 1' removing it.
 */
static int
parse_sum(Parser *ps, LmmFTerm *terms, int *n, int *intercept, int inside)
{
	int			sign = 1;

	for (;;)
	{
		skip(ps);
		if (*ps->p == '0' || *ps->p == '1')
		{
			char		c = *ps->p++;

			if (name_char(*ps->p, 0))
			{
				ps->p--;
				fail(ps, "expected a column name");
				return 0;
			}
			*intercept = (sign > 0) ? (c == '1') : (c == '0');
		}
		else if (sign < 0)
		{
			fail(ps, "only \"- 1\" can be subtracted");
			return 0;
		}
		else if (*ps->p == '(' && !inside)
			return 2;			/* a random term: the caller parses it */
		else if (!parse_product(ps, terms, n))
			return 0;

		skip(ps);
		if (accept(ps, '+'))
			sign = 1;
		else if (accept(ps, '-'))
			sign = -1;
		else
			return 1;
	}
}

/* group := name (':' name)* */
static int
parse_group(Parser *ps, LmmFTerm *g)
{
	g->nvars = 0;
	do
	{
		if (g->nvars >= LMM_FORMULA_MAX_VARS)
		{
			fail(ps, "too many columns in a grouping factor");
			return 0;
		}
		if (!parse_var(ps, &g->var[g->nvars]))
			return 0;
		if (g->var[g->nvars].factor)
		{
			fail(ps, "a grouping factor is already a factor; write its column without factor()");
			return 0;
		}
		g->nvars++;
	} while (accept(ps, ':'));
	return 1;
}

/* Append one random-effects term to f. */
static int
add_random(Parser *ps, LmmFormula *f, const LmmFRandom *r)
{
	if (f->nrandom >= LMM_FORMULA_MAX_RANDOM)
	{
		fail(ps, "too many random-effects terms");
		return 0;
	}
	f->random[f->nrandom++] = *r;
	return 1;
}

/*
 * '(' terms ('|' | '||') groups ')' after the '(' : one term per group of
 * a nest (a/b: a, then b:a), and with || one term per column.
 */
static int
parse_random(Parser *ps, LmmFormula *f)
{
	static LmmFRandom r;
	LmmFTerm	groups[LMM_FORMULA_MAX_VARS];
	int			ngroups = 0,
				uncorrelated,
				g,
				t;

	memset(&r, 0, sizeof(r));
	r.intercept = 1;
	if (parse_sum(ps, r.term, &r.nterms, &r.intercept, 1) != 1)
		return 0;
	if (!accept(ps, '|'))
	{
		fail(ps, "expected \"|\" in a random-effects term");
		return 0;
	}
	uncorrelated = accept(ps, '|');
	if (!r.intercept && r.nterms == 0)
	{
		fail(ps, "a random-effects term needs at least one column or the intercept");
		return 0;
	}
	do
	{
		if (ngroups >= LMM_FORMULA_MAX_VARS)
		{
			fail(ps, "too deep a nest");
			return 0;
		}
		if (!parse_group(ps, &groups[ngroups]))
			return 0;
		ngroups++;
	} while (accept(ps, '/'));
	if (!accept(ps, ')'))
	{
		fail(ps, "unbalanced parenthesis");
		return 0;
	}

	for (g = 0; g < ngroups; g++)
	{
		LmmFTerm	grp = {0};
		int			k,
					i;

		/* b:a for the second of a/b: the inner factor first, as lme4 names it */
		for (k = g; k >= 0; k--)
			for (i = 0; i < groups[k].nvars; i++)
			{
				if (grp.nvars >= LMM_FORMULA_MAX_VARS)
				{
					fail(ps, "too many columns in a grouping factor");
					return 0;
				}
				grp.var[grp.nvars++] = groups[k].var[i];
			}
		if (!uncorrelated)
		{
			r.group = grp;
			if (!add_random(ps, f, &r))
				return 0;
			continue;
		}
		if (r.intercept)
		{
			LmmFRandom	one = {.intercept = 1};

			one.group = grp;
			if (!add_random(ps, f, &one))
				return 0;
		}
		for (t = 0; t < r.nterms; t++)
		{
			static LmmFRandom col;

			memset(&col, 0, sizeof(col));
			col.nterms = 1;
			col.term[0] = r.term[t];
			col.group = grp;
			if (!add_random(ps, f, &col))
				return 0;
		}
	}
	return 1;
}

/* Parse text into f; NULL or the message in err. */
const char *
lmm_formula_parse(const char *text, LmmFormula *f, char *err, int errlen)
{
	Parser		ps = {text, text, err, errlen, 0};

	memset(f, 0, sizeof(LmmFormula));
	f->intercept = 1;
	skip(&ps);
	f->response.pos = (int) (ps.p - text) + 1;
	if (!parse_name(&ps, f->response.name))
		return err;
	if (!accept(&ps, '~'))
	{
		fail(&ps, "expected \"~\" after the response");
		return err;
	}
	for (;;)
	{
		int			r = parse_sum(&ps, f->fixed, &f->nfixed, &f->intercept, 0);

		if (r == 0)
			return err;
		if (r == 1)
			break;
		/* a random term, then maybe more terms */
		accept(&ps, '(');
		if (!parse_random(&ps, f))
			return err;
		skip(&ps);
		if (!accept(&ps, '+'))
			break;
	}
	skip(&ps);
	if (*ps.p == ')')
		fail(&ps, "unbalanced parenthesis");
	else if (*ps.p != '\0')
		fail(&ps, "unexpected character");
	if (!ps.failed && f->nrandom == 0)
	{
		ps.p = text;
		fail(&ps, "no random-effects term such as (1 | g)");
	}
	return ps.failed ? err : NULL;
}
