/*
 * lmm_formula.h
 *	  lme4's model formulas, parsed into fixed and random terms, without any
 *	  knowledge of tables or types (the PostgreSQL glue resolves the names).
 *
 *	 formula := name '~' terms
 *	 terms	 := '-'? term (('+' | '-') term)*	'- 1', '+ 0', '0 +' drop the intercept
 *	 term	 := '0' | '1' | '(' terms ('|' | '||') groups ')' | product
 *	 product := inter ('*' inter)*				a*b is a + b + a:b
 *	 inter	 := power (':' power)*				(a + b):c is a:c + b:c
 *	 power	 := atom ('^' digits)?				(a + b)^2 is a + b + a:b
 *	 atom	 := var | '(' terms ')'				no 0, 1 or random term inside
 *	 var	 := name | 'factor' '(' name ')'
 *	 groups  := group ('/' group)*				a/b is a + b:a (lme4's order)
 *	 group	 := name (':' name)*
 *	 name	 := [A-Za-z_.][A-Za-z0-9_.]* | '`' anything but '`' '`'
 *
 * The terms of a part (the fixed part, a random term's left side) are R's
 * terms(): repeats dropped, sorted by degree (main effects, then two-way
 * interactions, ...) in formula order within a degree, each with its
 * variables in the order they first appear in the part.
 */
#ifndef LMM_FORMULA_H
#define LMM_FORMULA_H

/* Limits that keep every formula small and every loop short. */
#define LMM_FORMULA_MAX_VARS	8	/* variables in one interaction */
#define LMM_FORMULA_MAX_TERMS	64	/* fixed terms, or terms of one random part */
#define LMM_FORMULA_MAX_RANDOM	8	/* random-effects terms after expansion */
#define LMM_FORMULA_MAX_NAME	63	/* bytes of a name (PostgreSQL's NAMEDATALEN - 1) */

/* A variable: a column, perhaps wrapped in factor(). */
typedef struct LmmFVar
{
	char		name[LMM_FORMULA_MAX_NAME + 1];
	int			factor;			/* written factor(name) */
	int			pos;			/* 1-based position in the formula */
	int			full;			/* in a term: coded by every level, not contrasts */
} LmmFVar;

/*
 * An interaction of variables (one variable for a main effect).  A variable
 * is full where R's terms() codes it by an indicator of every level: the
 * term without it is neither empty nor within an earlier term of the part.
 * (Without an intercept, model.matrix also codes the first factor of the
 * first term that has one so; the glue, which knows the types, does that.)
 */
typedef struct LmmFTerm
{
	int			nvars;
	LmmFVar		var[LMM_FORMULA_MAX_VARS];
} LmmFTerm;

/* One random-effects term: (terms | group), after || and / are expanded. */
typedef struct LmmFRandom
{
	int			intercept;
	int			nterms;
	LmmFTerm	term[LMM_FORMULA_MAX_TERMS];
	LmmFTerm	group;			/* the grouping factor, an interaction of columns */
} LmmFRandom;

/* Most offset(column) terms a formula may have. */
#define LMM_FORMULA_MAX_OFFSETS 8

typedef struct LmmFormula
{
	LmmFVar		response;		/* the successes of cbind(successes, failures) */
	int			cbind;			/* the response is cbind(response, failures) */
	LmmFVar		failures;
	int			noffsets;		/* offset(column) terms, summed */
	LmmFVar		offset[LMM_FORMULA_MAX_OFFSETS];
	int			intercept;
	int			nfixed;
	LmmFTerm	fixed[LMM_FORMULA_MAX_TERMS];
	int			nrandom;
	LmmFRandom	random[LMM_FORMULA_MAX_RANDOM];
} LmmFormula;

/*
 * Parse text into f.  Returns NULL, or a message naming the problem and
 * its 1-based position in the text (written into err, errlen bytes).
 */
extern const char *lmm_formula_parse(const char *text, LmmFormula *f,
									 char *err, int errlen);

#endif							/* LMM_FORMULA_H */
