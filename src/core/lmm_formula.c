/*
 * lmm_formula.c
 *	  A recursive-descent parser for lme4's model formulas (lmm_formula.h).
 *	  Terms come out as R's terms() makes them: the formula's algebra on sets
 *	  of variables (R's model.c), repeats dropped, then sorted by degree,
 *	  keeping the formula's order within a degree; a term's variables in the
 *	  order they first appear in its part.  It never touches SQL: it only
 *	  yields names, which the glue quotes.
 */
#include "lmm_formula.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAX_PART_VARS	64		/* distinct variables of one part: a Mask's bits */
#define MAX_DEPTH		32		/* parentheses inside parentheses */

/* A term as terms() holds it: bit i for variable i of its part. */
typedef uint64_t Mask;

/* The variables of a part (the fixed part, or a random term's left side), by first appearance. */
typedef struct Part
{
	int			nvars;
	LmmFVar		var[MAX_PART_VARS];
} Part;

/* Terms without repeats, in the order the algebra makes them. */
typedef struct TermList
{
	int			n;
	Mask		t[LMM_FORMULA_MAX_TERMS];
} TermList;

/* Parser state: the text, the cursor, the parentheses open, and the first error. */
typedef struct Parser
{
	const char *text;
	const char *p;
	char	   *err;
	int			errlen;
	int			failed;
	int			depth;
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
	v->full = 0;
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

/* The bit of variable v in part, which gets v at its first appearance. */
static int
part_bit(Parser *ps, Part *part, const LmmFVar *v, Mask *bit)
{
	int			i;

	for (i = 0; i < part->nvars; i++)
		if (strcmp(part->var[i].name, v->name) == 0 && part->var[i].factor == v->factor)
			break;
	if (i == part->nvars)
	{
		if (part->nvars >= MAX_PART_VARS)
		{
			fail(ps, "too many columns in one part of the formula");
			return 0;
		}
		part->var[part->nvars++] = *v;
	}
	*bit = (Mask) 1 << i;
	return 1;
}

/* The number of variables in a term. */
static int
degree(Mask t)
{
	int			d = 0;

	for (; t != 0; t &= t - 1)
		d++;
	return d;
}

/* Append t unless it is already there (R's TrimRepeats keeps the first). */
static int
list_add(Parser *ps, TermList *l, Mask t)
{
	int			i;

	for (i = 0; i < l->n; i++)
		if (l->t[i] == t)
			return 1;
	if (degree(t) > LMM_FORMULA_MAX_VARS)
	{
		fail(ps, "too many variables in an interaction");
		return 0;
	}
	if (l->n >= LMM_FORMULA_MAX_TERMS)
	{
		fail(ps, "too many terms");
		return 0;
	}
	l->t[l->n++] = t;
	return 1;
}

/* a:b into out: every term of a joined with every term of b, a's outermost (R's InteractTerms). */
static int
interact(Parser *ps, const TermList *a, const TermList *b, TermList *out)
{
	int			i,
				j;

	out->n = 0;
	for (i = 0; i < a->n; i++)
		for (j = 0; j < b->n; j++)
			if (!list_add(ps, out, a->t[i] | b->t[j]))
				return 0;
	return 1;
}

/* a*b into a: a's terms, then b's, then a:b's (R's CrossTerms). */
static int
cross(Parser *ps, TermList *a, const TermList *b)
{
	TermList	ab;
	int			j;

	if (!interact(ps, a, b, &ab))
		return 0;
	for (j = 0; j < b->n; j++)
		if (!list_add(ps, a, b->t[j]))
			return 0;
	for (j = 0; j < ab.n; j++)
		if (!list_add(ps, a, ab.t[j]))
			return 0;
	return 1;
}

/*
 * a^n into a: a joined with itself n - 1 times, the original outermost
 * (R's PowerTerms); once a join changes nothing, further ones would not.
 */
static int
power(Parser *ps, TermList *a, long n)
{
	TermList	base = *a,
				next;
	long		k;

	for (k = 1; k < n; k++)
	{
		if (!interact(ps, &base, a, &next))
			return 0;
		if (next.n == a->n && memcmp(next.t, a->t, sizeof(Mask) * next.n) == 0)
			break;
		*a = next;
	}
	return 1;
}

/*
 * Nonzero if the parenthesis opened just before p holds a '|' of its own,
 * i.e. is a random-effects term.
 */
static int
bar_ahead(const char *p)
{
	int			depth = 0;

	for (; *p; p++)
	{
		if (*p == '`')
		{
			p = strchr(p + 1, '`');
			if (p == NULL)
				return 0;
		}
		else if (*p == '(')
			depth++;
		else if (*p == ')' && depth-- == 0)
			return 0;
		else if (*p == '|' && depth == 0)
			return 1;
	}
	return 0;
}

static int	parse_sum(Parser *ps, Part *part, TermList *out, int *intercept, LmmFormula *f);

/* atom := var | '(' terms ')' */
static int
parse_atom(Parser *ps, Part *part, TermList *out)
{
	LmmFVar		v;
	Mask		bit;

	out->n = 0;
	if (accept(ps, '('))
	{
		ps->p--;
		if (ps->depth >= MAX_DEPTH)
		{
			fail(ps, "parentheses nested too deeply");
			return 0;
		}
		if (bar_ahead(ps->p + 1))
		{
			fail(ps, "a random-effects term must be a term of its own");
			return 0;
		}
		ps->p++;
		ps->depth++;
		if (!parse_sum(ps, part, out, NULL, NULL))
			return 0;
		ps->depth--;
		if (!accept(ps, ')'))
		{
			fail(ps, "unbalanced parenthesis");
			return 0;
		}
		return 1;
	}
	return parse_var(ps, &v) && part_bit(ps, part, &v, &bit) && list_add(ps, out, bit);
}

/* power := atom ('^' digits)?		(a + b)^2 is a + b + a:b, x^2 is x */
static int
parse_power(Parser *ps, Part *part, TermList *out)
{
	const char *start;
	long		n = 0;

	if (!parse_atom(ps, part, out))
		return 0;
	if (!accept(ps, '^'))
		return 1;
	skip(ps);
	start = ps->p;
	while (*ps->p >= '0' && *ps->p <= '9')
	{
		if (n < 100000000)
			n = n * 10 + (*ps->p - '0');
		ps->p++;
	}
	if (n < 2)
	{
		ps->p = start;
		fail(ps, "expected a whole number of at least 2 after \"^\"");
		return 0;
	}
	return power(ps, out, n);
}

/* inter := power (':' power)* */
static int
parse_inter(Parser *ps, Part *part, TermList *out)
{
	TermList	right,
				both;

	if (!parse_power(ps, part, out))
		return 0;
	while (accept(ps, ':'))
	{
		if (!parse_power(ps, part, &right) || !interact(ps, out, &right, &both))
			return 0;
		*out = both;
	}
	return 1;
}

/* product := inter ('*' inter)*		a*b is a + b + a:b */
static int
parse_product(Parser *ps, Part *part, TermList *out)
{
	TermList	right;

	if (!parse_inter(ps, part, out))
		return 0;
	while (accept(ps, '*'))
		if (!parse_inter(ps, part, &right) || !cross(ps, out, &right))
			return 0;
	return 1;
}

static int	parse_random(Parser *ps, LmmFormula *f);

/* Nonzero (and ps past the parenthesis) when the text is word followed by '('. */
static int
call_ahead(Parser *ps, const char *word)
{
	const char *p = ps->p;
	size_t		n = strlen(word);

	if (strncmp(p, word, n) != 0 || name_char(p[n], 0))
		return 0;
	p += n;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	if (*p != '(')
		return 0;
	ps->p = p + 1;
	return 1;
}

/* offset(name) on the formula's right side, its '(' read: the column into f. */
static int
parse_offset(Parser *ps, LmmFormula *f)
{
	LmmFVar    *v;

	if (f->noffsets >= LMM_FORMULA_MAX_OFFSETS)
	{
		fail(ps, "too many offset() terms");
		return 0;
	}
	v = &f->offset[f->noffsets++];
	memset(v, 0, sizeof(LmmFVar));
	skip(ps);
	v->pos = (int) (ps->p - ps->text) + 1;
	if (!parse_name(ps, v->name))
		return 0;
	if (!accept(ps, ')'))
	{
		fail(ps, "offset() takes one column, e.g. offset(log_exposure)");
		return 0;
	}
	return 1;
}

/*
 * terms := '-'? term (('+' | '-') term)*, appended to out.  Where intercept is
 * given (the formula's right side, a random term's left side), 0 and 1 set
 * it and '- 1' clears it; where f is given (the formula's right side),
 * random terms go into f.
 */
static int
parse_sum(Parser *ps, Part *part, TermList *out, int *intercept, LmmFormula *f)
{
	int			sign = accept(ps, '-') ? -1 : 1;	/* y ~ -1 + x */

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
			if (intercept == NULL)
			{
				ps->p--;
				fail(ps, "the intercept (0 or 1) cannot be inside parentheses");
				return 0;
			}
			*intercept = (sign > 0) ? (c == '1') : (c == '0');
		}
		else if (sign < 0)
		{
			fail(ps, "only \"- 1\" can be subtracted");
			return 0;
		}
		else if (f != NULL && call_ahead(ps, "offset"))
		{
			if (!parse_offset(ps, f))
				return 0;
		}
		else if (f != NULL && *ps->p == '(' && bar_ahead(ps->p + 1))
		{
			ps->p++;
			if (!parse_random(ps, f))
				return 0;
		}
		else
		{
			TermList	t;
			int			i;

			if (!parse_product(ps, part, &t))
				return 0;
			for (i = 0; i < t.n; i++)
				if (!list_add(ps, out, t.t[i]))
					return 0;
		}

		if (accept(ps, '+'))
			sign = 1;
		else if (accept(ps, '-'))
			sign = -1;
		else
			return 1;
	}
}

/* Sort terms by degree, keeping their order within a degree (terms() without keep.order). */
static void
sort_by_degree(TermList *l)
{
	TermList	sorted;
	int			d,
				i;

	sorted.n = 0;
	for (d = 1; d <= LMM_FORMULA_MAX_VARS; d++)
		for (i = 0; i < l->n; i++)
			if (degree(l->t[i]) == d)
				sorted.t[sorted.n++] = l->t[i];
	*l = sorted;
}

/*
 * Terms t[0..n) of part into out, their variables in the part's order.  A
 * variable is marked full where terms() codes it by an indicator of every
 * level (its TermCode 2): when the term without it is neither empty nor
 * within an earlier term.
 */
static void
to_terms(const Part *part, const Mask *t, int n, LmmFTerm *out)
{
	int			k,
				u,
				i;

	for (k = 0; k < n; k++)
	{
		out[k].nvars = 0;
		for (i = 0; i < part->nvars; i++)
		{
			Mask		rest = t[k] & ~((Mask) 1 << i);
			LmmFVar    *v;

			if (rest == t[k])
				continue;
			v = &out[k].var[out[k].nvars++];
			*v = part->var[i];
			v->full = (rest != 0);
			for (u = 0; u < k && v->full; u++)
				if ((rest & ~t[u]) == 0)
					v->full = 0;
		}
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
 * '(' terms ('|' | '||') groups ')' after the '(': one term per group of a
 * nest (a/b: a, then b:a), and with || one term per term of the left side
 * in terms() order, as lme4 expands it.
 */
static int
parse_random(Parser *ps, LmmFormula *f)
{
	static LmmFRandom r;
	Part		part;
	TermList	list;
	LmmFTerm	groups[LMM_FORMULA_MAX_VARS];
	int			ngroups = 0,
				uncorrelated,
				g,
				t;

	memset(&r, 0, sizeof(r));
	r.intercept = 1;
	part.nvars = 0;
	list.n = 0;
	ps->depth++;
	if (!parse_sum(ps, &part, &list, &r.intercept, NULL))
		return 0;
	ps->depth--;
	if (!accept(ps, '|'))
	{
		fail(ps, "expected \"|\" in a random-effects term");
		return 0;
	}
	uncorrelated = accept(ps, '|');
	if (!r.intercept && list.n == 0)
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
	sort_by_degree(&list);
	r.nterms = list.n;
	to_terms(&part, list.t, list.n, r.term);

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
		/* (0 + term | g) for each term: coded as the only term of its part */
		for (t = 0; t < list.n; t++)
		{
			static LmmFRandom col;

			memset(&col, 0, sizeof(col));
			col.nterms = 1;
			to_terms(&part, &list.t[t], 1, col.term);
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
	Parser		ps = {text, text, err, errlen, 0, 0};
	Part		part;
	TermList	fixed;

	memset(f, 0, sizeof(LmmFormula));
	f->intercept = 1;
	part.nvars = 0;
	fixed.n = 0;
	skip(&ps);
	if (call_ahead(&ps, "cbind"))
	{
		/* cbind(successes, failures): a binomial response */
		f->cbind = 1;
		skip(&ps);
		f->response.pos = (int) (ps.p - text) + 1;
		if (!parse_name(&ps, f->response.name))
			return err;
		if (!accept(&ps, ','))
		{
			fail(&ps, "cbind() takes two columns, cbind(successes, failures)");
			return err;
		}
		skip(&ps);
		f->failures.pos = (int) (ps.p - text) + 1;
		if (!parse_name(&ps, f->failures.name))
			return err;
		if (!accept(&ps, ')'))
		{
			fail(&ps, "cbind() takes two columns, cbind(successes, failures)");
			return err;
		}
	}
	else
	{
		f->response.pos = (int) (ps.p - text) + 1;
		if (!parse_name(&ps, f->response.name))
			return err;
	}
	if (!accept(&ps, '~'))
	{
		fail(&ps, "expected \"~\" after the response");
		return err;
	}
	if (!parse_sum(&ps, &part, &fixed, &f->intercept, f))
		return err;
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
	if (ps.failed)
		return err;
	sort_by_degree(&fixed);
	f->nfixed = fixed.n;
	to_terms(&part, fixed.t, fixed.n, f->fixed);
	return NULL;
}
