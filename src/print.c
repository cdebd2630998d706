/*
 * print.c
 *	  lmm_print(m): what lme4's summary() prints of a fit (with lmerTest's
 *	  Satterthwaite columns) as one text value, laid out and rounded as R
 *	  lays out and rounds it: format() and printCoefmat() at 4 significant
 *	  digits, format.pval() for p-values.  The numbers come from the views
 *	  lmm_fixef and lmm_varcorr read (extract.c), the fixed effects'
 *	  correlations from the covariance matrix the model stores.  It keeps no
 *	  residuals, so lme4's "Scaled residuals" section has nothing to show and
 *	  is left out.
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "lmm_pg.h"

/* R's getOption("width"), the terminal width its print() fills. */
#define R_WIDTH 80
/* R's summary tables: max(3, getOption("digits") - 3). */
#define SUMMARY_DIGITS 4
/* cat() and format() of one number: getOption("digits"). */
#define DEFAULT_DIGITS 7
/* lme4.summary.cor.max: the most fixed effects whose correlations are shown. */
#define FIXEF_COR_MAX 12
/* printCoefmat's eps.Pvalue, .Machine$double.eps. */
#define P_EPS 2.220446049250313e-16

/* How R's format() lays out a vector of numbers: one width, fixed or scientific. */
typedef struct RLayout
{
	int			width;
	int			decimals;		/* after the point, or of the mantissa */
	bool		sci;
} RLayout;

/*
 * R's scientific(): the power of ten of |x| and how many significant digits
 * it needs, at most digits, once rounded to digits.
 */
static void
r_scientific(double x, int digits, int *kpower, int *nsig)
{
	char		s[64];
	char	   *e;
	char	   *c;
	int			zeros = 0;

	snprintf(s, sizeof(s), "%.*e", digits - 1, fabs(x));
	e = strchr(s, 'e');
	*kpower = atoi(e + 1);
	for (c = e - 1; c > s && (*c == '0' || *c == '.'); c--)
		zeros += *c == '0';
	*nsig = digits - zeros;
}

/*
 * R's formatReal(): the common layout of the finite values of x at digits
 * significant digits, fixed unless scientific is narrower.  Non-finite
 * values print as "NA", 2 wide.
 */
static RLayout
r_layout(const double *x, int n, int digits)
{
	RLayout		l = {0, 0, false};
	bool		any = false,
				neg = false,
				na = false;
	int			rgt = INT_MIN,
				mxl = INT_MIN,
				mxsl = INT_MIN,
				mxns = INT_MIN,
				mxe = INT_MIN,
				mne = INT_MAX;
	int			i;

	for (i = 0; i < n; i++)
	{
		int			kp,
					nsig,
					left;
		bool		neg_i;

		if (!isfinite(x[i]))
		{
			na = true;
			continue;
		}
		any = true;
		neg_i = x[i] < 0.0;
		r_scientific(x[i], digits, &kp, &nsig);
		left = kp + 1;
		neg |= neg_i;
		rgt = Max(rgt, nsig - left);
		mxl = Max(mxl, left);
		mxsl = Max(mxsl, (neg_i ? 1 : 0) + (left <= 0 ? 1 : left));
		mxns = Max(mxns, nsig);
		mxe = Max(mxe, kp);
		mne = Min(mne, kp);
	}
	if (any)
	{
		int			wF,
					e = (mxe >= 100 || mne <= -99) ? 2 : 1;

		if (mxl < 0)
			mxsl = 1 + (neg ? 1 : 0);
		rgt = Max(rgt, 0);
		wF = mxsl + rgt + (rgt != 0);
		l.decimals = mxns - 1;
		l.width = (neg ? 1 : 0) + (l.decimals > 0) + l.decimals + 4 + e;
		l.sci = true;
		if (wF <= l.width)
		{
			l.sci = false;
			l.decimals = rgt;
			l.width = mxsl + rgt + (rgt != 0);
		}
	}
	if (na)
		l.width = Max(l.width, 2);
	return l;
}

/* One number in a layout, padded on the left to its width (R's encodeReal). */
static char *
r_encode(double x, RLayout l)
{
	if (!isfinite(x))
		return psprintf("%*s", l.width, "NA");
	if (x == 0.0)
		x = 0.0;				/* R prints -0 as 0 */
	return l.sci ? psprintf("%*.*e", l.width, l.decimals, x) :
		psprintf("%*.*f", l.width, l.decimals, x);
}

/* R's format(x, digits): every value in their common layout. */
static void
r_format(const double *x, int n, int digits, char **out)
{
	RLayout		l = r_layout(x, n, digits);
	int			i;

	for (i = 0; i < n; i++)
		out[i] = r_encode(x[i], l);
}

/* R's round(x, d), halves to even. */
static double
r_round(double x, int d)
{
	double		p = pow(10.0, d);

	if (!isfinite(x) || !isfinite(x * p))
		return x;
	return nearbyint(x * p) / p;
}

/* format.pval's choice: fixed notation from 1e-4 (1e-3 at one digit) up. */
static bool
pval_fixed(double p, int digits)
{
	return floor(log10(p > 0 ? p : 1e-50)) >= (digits > 1 ? -4 : -3);
}

/*
 * R's format.pval(p, digits) with printCoefmat's eps: p-values from 1e-4 up
 * in fixed notation, smaller ones in scientific, those below eps as "<eps".
 */
static void
r_format_pval(const double *pv, int n, int digits, char **out)
{
	double	   *fix = palloc(sizeof(double) * n);
	double	   *sci = palloc(sizeof(double) * n);
	RLayout		lf,
				ls;
	int			i,
				nfix = 0,
				nsci = 0,
				widest = 0;
	bool		any_tiny = false;

	for (i = 0; i < n; i++)
	{
		if (pv[i] < P_EPS)
			any_tiny = true;
		else if (pval_fixed(pv[i], digits))
			fix[nfix++] = pv[i];
		else
			sci[nsci++] = pv[i];
	}
	lf = r_layout(fix, nfix, digits);
	ls = r_layout(sci, nsci, digits);
	for (i = 0; i < n; i++)
	{
		if (pv[i] < P_EPS)
			continue;
		out[i] = r_encode(pv[i], pval_fixed(pv[i], digits) ? lf : ls);
		widest = Max(widest, (int) strlen(out[i]));
	}
	if (any_tiny)
	{
		int			d = Max(1, digits - 2);
		const char *sep;
		char	   *eps;

		if (nfix + nsci > 0)
		{
			if (d > 1 && d + 6 > widest)
				d = Max(1, widest - 7);
			sep = (d == 1 && widest <= 6) ? "" : " ";
		}
		else
			sep = d == 1 ? "" : " ";
		eps = psprintf("%.*e", d - 1, P_EPS);
		for (i = 0; i < n; i++)
			if (pv[i] < P_EPS)
				out[i] = psprintf("<%s%s", sep, eps);
	}
}

/* A word's first character: what abbreviate() keeps longest. */
static bool
word_start(const char *b, int i)
{
	return isspace((unsigned char) b[i - 1]);
}

/*
 * R's abbreviate() of one name (its C part): spaces mark words; from the
 * right, drop lower-case vowels, then lower-case letters ending a word, then
 * other lower-case letters, then anything, never a word's first character,
 * until minlen characters are left; interior spaces go last.
 */
static char *
r_abbreviate_one(const char *name, int minlen)
{
	char	   *b = pstrdup(name);
	int			nspace = 0;
	int			pass,
				i;

	while (isspace((unsigned char) b[0]) && b[1] != '\0')
		memmove(b, b + 1, strlen(b));
	if ((int) strlen(b) < minlen)
		return b;
	for (i = strlen(b) - 1; i > 0; i--)
	{
		if (isspace((unsigned char) b[i]))
		{
			if (b[i + 1] == '\0')
				b[i] = '\0';	/* trailing: dropped at once */
			else
				nspace++;
		}
		if ((int) strlen(b) - nspace <= minlen)
			goto done;
	}
	for (pass = 0; pass < 4; pass++)
		for (i = strlen(b) - 1; i > 0; i--)
		{
			char		c = b[i];
			bool		lower = islower((unsigned char) c);
			bool		drop;

			if (pass == 0)
				drop = strchr("aeiou", c) != NULL && !word_start(b, i);
			else if (pass == 1)
				drop = lower && !isspace((unsigned char) b[i - 1]) &&
					(b[i + 1] == '\0' || isspace((unsigned char) b[i + 1]));
			else if (pass == 2)
				drop = lower && !word_start(b, i);
			else
				drop = !word_start(b, i) && !isspace((unsigned char) c);
			if (drop)
				memmove(b + i, b + i + 1, strlen(b + i + 1) + 1);
			if ((int) strlen(b) - nspace <= minlen)
				goto done;
		}
done:
	if ((int) strlen(b) > minlen)
		for (i = strlen(b) - 1; i > 0; i--)
			if (isspace((unsigned char) b[i]))
				memmove(b + i, b + i + 1, strlen(b + i + 1) + 1);
	return b;
}

/*
 * R's abbreviate(names, minlen) of distinct names: names whose
 * abbreviations clash are abbreviated again one character longer.
 */
static void
r_abbreviate(char **names, int n, int minlen, char **out)
{
	bool	   *redo = palloc(sizeof(bool) * n);
	int			i,
				j;
	bool		clash = true;

	for (i = 0; i < n; i++)
		redo[i] = true;
	for (; clash; minlen++)
	{
		for (i = 0; i < n; i++)
			if (redo[i])
				out[i] = r_abbreviate_one(names[i], minlen);
		clash = false;
		for (i = 0; i < n; i++)
			redo[i] = false;
		for (i = 0; i < n; i++)
			for (j = 0; j < i; j++)
				if (strcmp(out[i], out[j]) == 0 && strcmp(names[i], names[j]) != 0)
					clash = redo[i] = redo[j] = true;
	}
}

/* Characters s takes on a terminal (one a character). */
static int
text_width(const char *s)
{
	return pg_mbstrlen(s);
}

/* s padded with spaces to width, on the left when right-aligned. */
static void
append_padded(StringInfo buf, const char *s, int width, bool right)
{
	int			pad = Max(0, width - text_width(s));

	if (right)
		appendStringInfoSpaces(buf, pad);
	appendStringInfoString(buf, s);
	if (!right)
		appendStringInfoSpaces(buf, pad);
}

/* Drop the spaces R pads a line's last column with, then end the line. */
static void
end_line(StringInfo buf)
{
	while (buf->len > 0 && buf->data[buf->len - 1] == ' ')
		buf->data[--buf->len] = '\0';
	appendStringInfoChar(buf, '\n');
}

/*
 * R's print() of a character matrix with row names, quote = FALSE: the row
 * names left-aligned, every column as wide as its widest entry or header,
 * one space apart, entries right- or left-aligned.  Row i's cells start
 * at cell[i * stride].
 */
static void
append_matrix(StringInfo buf, int nrow, int ncol, int stride, char **rownames,
			  const char **header, char **cell, bool right)
{
	int		   *width = palloc0(sizeof(int) * ncol);
	int			namew = 0;
	int			i,
				j;

	for (i = 0; i < nrow; i++)
		namew = Max(namew, text_width(rownames[i]));
	for (j = 0; j < ncol; j++)
	{
		width[j] = text_width(header[j]);
		for (i = 0; i < nrow; i++)
			width[j] = Max(width[j], text_width(cell[i * stride + j]));
	}
	appendStringInfoSpaces(buf, namew);
	for (j = 0; j < ncol; j++)
	{
		appendStringInfoChar(buf, ' ');
		append_padded(buf, header[j], width[j], right);
	}
	end_line(buf);
	for (i = 0; i < nrow; i++)
	{
		append_padded(buf, rownames[i], namew, false);
		for (j = 0; j < ncol; j++)
		{
			appendStringInfoChar(buf, ' ');
			append_padded(buf, cell[i * stride + j], width[j], right);
		}
		end_line(buf);
	}
}

/* The title line of lme4's .prt.methTit, with lmerTest's words when df are shown. */
static void
append_title(StringInfo buf, const LmmModel *m, bool reml, bool satterthwaite)
{
	if (m->family != LMM_FAMILY_GAUSSIAN)
	{
		/* glmer's title, and its family line */
		if (m->nagq == 1)
			appendStringInfoString(buf, "Generalized linear mixed model fit by maximum likelihood (Laplace\n  Approximation) ['lmm_model']\n");
		else
			appendStringInfo(buf, "Generalized linear mixed model fit by maximum likelihood (Adaptive\n  Gauss-Hermite Quadrature, nAGQ = %d) ['lmm_model']\n", m->nagq);
		appendStringInfo(buf, " Family: %s  ( %s )\n", lmm_family_name(m->family),
						 lmm_link_name(m->link));
		return;
	}
	if (satterthwaite && reml)
		appendStringInfoString(buf, "Linear mixed model fit by REML. t-tests use Satterthwaite's method ['lmm_model']\n");
	else if (satterthwaite)
		appendStringInfoString(buf, "Linear mixed model fit by maximum likelihood. t-tests use Satterthwaite's\n  method ['lmm_model']\n");
	else
		appendStringInfo(buf, "Linear mixed model fit by %s ['lmm_model']\n",
						 reml ? "REML" : "maximum likelihood");
}

/*
 * lme4's .prt.aictab: the REML criterion as cat() prints it, or the ML fit
 * statistics as a named vector, rounded to one decimal.
 */
static void
append_fit_statistics(StringInfo buf, const LmmModel *m)
{
	static const char *names[] = {"AIC", "BIC", "logLik", "deviance", "df.resid"};
	double		v[5];
	char	   *s[5];
	int			npar = m->p + lmm_model_ntheta(m) + (m->family == LMM_FAMILY_GAUSSIAN ? 1 : 0);
	int			width = 0,
				perline,
				i;

	if (m->flags & LMM_MODEL_REML)
	{
		v[0] = r_round(m->criterion, 1);
		r_format(v, 1, DEFAULT_DIGITS, s);
		appendStringInfo(buf, "REML criterion at convergence: %s\n", s[0]);
		return;
	}
	v[0] = r_round(m->aic, 1);
	v[1] = r_round(m->bic, 1);
	v[2] = r_round(m->loglik, 1);
	v[3] = r_round(m->criterion, 1);
	v[4] = (double) (m->n_obs - npar);
	r_format(v, 5, DEFAULT_DIGITS, s);
	r_format(&v[4], 1, DEFAULT_DIGITS, &s[4]);
	for (i = 0; i < 5; i++)
		width = Max(width, Max(text_width(names[i]), text_width(s[i])));
	perline = Max(1, R_WIDTH / (width + 1));
	for (i = 0; i < 5; i += perline)
	{
		int			j;

		for (j = i; j < Min(5, i + perline); j++)
			appendStringInfo(buf, "%*s ", width, names[j]);
		end_line(buf);
		for (j = i; j < Min(5, i + perline); j++)
			appendStringInfo(buf, "%*s ", width, s[j]);
		end_line(buf);
	}
}

/*
 * lme4's formatVC: Groups, Name, Variance, Std.Dev. and the lower triangle
 * of each term's correlations (rounded to two decimals), residual last.
 */
static void
append_random_effects(StringInfo buf, const LmmModel *m)
{
	bool		resid = m->family == LMM_FAMILY_GAUSSIAN;
	int			nrow = resid ? 1 : 0,
				maxq = 1,
				ncorr,
				ncol,
				row,
				t;
	double	   *var,
			   *sd;
	char	  **vars,
			  **sds,
			  **cell,
			  **rownames;
	const char **header;

	for (t = 0; t <= m->nextra; t++)
	{
		nrow += lmm_model_term(m, t).q;
		maxq = Max(maxq, lmm_model_term(m, t).q);
	}
	ncorr = maxq - 1;
	ncol = 4 + ncorr;
	var = palloc(sizeof(double) * nrow);
	sd = palloc(sizeof(double) * nrow);
	vars = palloc(sizeof(char *) * nrow);
	sds = palloc(sizeof(char *) * nrow);
	cell = palloc(sizeof(char *) * nrow * ncol);
	rownames = palloc(sizeof(char *) * nrow);
	header = palloc(sizeof(char *) * ncol);
	header[0] = "Groups";
	header[1] = "Name";
	header[2] = "Variance";
	header[3] = "Std.Dev.";
	for (t = 0; t < ncorr; t++)
		header[4 + t] = t == 0 ? "Corr" : "";

	for (row = 0; row < nrow * ncol; row++)
		cell[row] = "";
	row = 0;
	for (t = 0; t <= m->nextra; t++)
	{
		LmmModelTerm term = lmm_model_term(m, t);
		char	  **corr = palloc(sizeof(char *) * term.q * term.q);
		int			width = 0,
					a,
					b;

		/* format(round(cor, 2), nsmall = 2) of the term's whole matrix */
		for (a = 0; a < term.q; a++)
			for (b = 0; b < a; b++)
			{
				double		r;

				if (lmm_re_corr(&term, a, b, &r))
				{
					r = r_round(r, 2);
					corr[a * term.q + b] = psprintf("%.2f", r == 0.0 ? 0.0 : r);
				}
				else			/* a zero variance: lmm_varcorr's NULL */
					corr[a * term.q + b] = "NA";
				width = Max(width, (int) strlen(corr[a * term.q + b]));
			}
		if (term.q > 1)
			width = Max(width, 4);	/* the diagonal's 1.00 */
		for (a = 0; a < term.q; a++, row++)
		{
			var[row] = lmm_finite_result(lmm_re_cov(&term, m->sigma, a, a), "a variance");
			sd[row] = sqrt(var[row]);
			cell[row * ncol + 0] = a == 0 ? lmm_varcorr_name(m, t) : "";
			cell[row * ncol + 1] = term.z_names[a];
			for (b = 0; b < a; b++)
				cell[row * ncol + 4 + b] = psprintf("%*s", width, corr[a * term.q + b]);
		}
	}
	if (resid)
	{
		var[row] = lmm_finite_result(m->sigma * m->sigma, "the residual variance");
		sd[row] = m->sigma;
		cell[row * ncol + 0] = "Residual";
	}
	r_format(var, nrow, SUMMARY_DIGITS, vars);
	r_format(sd, nrow, SUMMARY_DIGITS, sds);
	for (row = 0; row < nrow; row++)
	{
		cell[row * ncol + 2] = vars[row];
		cell[row * ncol + 3] = sds[row];
		rownames[row] = "";
	}
	appendStringInfoString(buf, "Random effects:\n");
	append_matrix(buf, nrow, ncol, ncol, rownames, header, cell, false);
}

/*
 * lme4's .prt.grps: the observations and every grouping factor's levels
 * once (two terms of one factor, as (x || g) makes, count it once), on one
 * line unless cat(fill = TRUE) would break it.
 */
static void
append_groups(StringInfo buf, const LmmModel *m)
{
	StringInfoData groups;
	char	   *head = psprintf("Number of obs: " INT64_FORMAT ", groups: ", m->n_obs);
	int			t,
				u;

	initStringInfo(&groups);
	for (t = 0; t <= m->nextra; t++)
	{
		LmmModelTerm term = lmm_model_term(m, t);
		bool		seen = false;

		for (u = 0; u < t; u++)
			seen |= strcmp(lmm_model_term(m, u).grp, term.grp) == 0;
		if (!seen)
			appendStringInfo(&groups, "%s%s, " INT64_FORMAT, groups.len > 0 ? "; " : "",
							 term.grp, term.nlevels);
	}
	appendStringInfoString(buf, head);
	appendStringInfoChar(buf,
						 text_width(head) + 1 + text_width(groups.data) > R_WIDTH ? '\n' : ' ');
	appendStringInfoString(buf, groups.data);
	appendStringInfoChar(buf, '\n');
}

/*
 * printCoefmat() of lmerTest's coefficient table at 4 digits: estimate, SE
 * and df rounded together to the decimals the smallest of them needs, t to
 * 3 decimals, p by format.pval, with the significance stars and legend.
 * Without Satterthwaite's df, lme4's table of estimate, SE and t.
 */
static void
append_fixed_effects(StringInfo buf, const LmmModel *m, LmmFixefRow *rows, bool with_df)
{
	static const char *full[] = {"Estimate", "Std. Error", "df", "t value", "Pr(>|t|)", ""};
	static const char *wald[] = {"Estimate", "Std. Error", "z value", "Pr(>|z|)", ""};
	static const char *plain[] = {"Estimate", "Std. Error", "t value"};
	bool		z = m->family != LMM_FAMILY_GAUSSIAN;	/* glmer's Wald z, no df */
	int			ncs = with_df && !z ? 3 : 2;
	int			ncol = with_df ? ncs + 3 : 3;
	int			p = m->p;
	double	   *cs = palloc(sizeof(double) * p * ncs);
	double	   *tv = palloc(sizeof(double) * p);
	char	  **cs_s = palloc(sizeof(char *) * p * ncs);
	char	  **tv_s = palloc(sizeof(char *) * p);
	char	  **cell = palloc(sizeof(char *) * p * ncol);
	double		smallest = INFINITY;
	bool		any_finite = false,
				stars = false;
	int			i,
				j;

	for (i = 0; i < p; i++)
	{
		cs[i * ncs + 0] = rows[i].estimate;
		cs[i * ncs + 1] = rows[i].se;
		if (ncs == 3)
			cs[i * ncs + 2] = rows[i].has_df ? rows[i].df : NAN;
		tv[i] = rows[i].has_t ? r_round(rows[i].t, 3) : NAN;
	}
	for (i = 0; i < p * ncs; i++)
		if (isfinite(cs[i]))
		{
			any_finite = true;
			if (cs[i] != 0.0)
				smallest = Min(smallest, fabs(cs[i]));
		}
	if (any_finite)
	{
		int			digmin = 1 + (isfinite(smallest) ? (int) floor(log10(smallest)) : 0);

		for (i = 0; i < p * ncs; i++)
			cs[i] = r_round(cs[i], Max(1, SUMMARY_DIGITS - digmin));
		r_format(cs, p * ncs, SUMMARY_DIGITS, cs_s);
	}
	else
		for (i = 0; i < p * ncs; i++)
			cs_s[i] = "";
	r_format(tv, p, SUMMARY_DIGITS, tv_s);

	/* a nonzero value its rounding shows as zero is shown at 3 digits */
	{
		double	   *redo = palloc(sizeof(double) * p * ncs);
		char	  **redo_s = palloc(sizeof(char *) * p * ncs);
		int		   *at = palloc(sizeof(int) * p * ncs);
		int			n = 0;

		for (i = 0; i < p * ncs; i++)
		{
			double		orig = i % ncs == 0 ? rows[i / ncs].estimate :
				i % ncs == 1 ? rows[i / ncs].se : rows[i / ncs].df;

			if (isfinite(cs[i]) && (orig == 0.0) != (strtod(cs_s[i], NULL) == 0.0))
			{
				redo[n] = orig;
				at[n++] = i;
			}
		}
		r_format(redo, n, SUMMARY_DIGITS - 1, redo_s);
		for (i = 0; i < n; i++)
			cs_s[at[i]] = redo_s[i];
	}

	for (i = 0; i < p; i++)
	{
		for (j = 0; j < ncs; j++)
			cell[i * ncol + j] = isfinite(cs[i * ncs + j]) ? cs_s[i * ncs + j] : "NA";
		cell[i * ncol + ncs] = isfinite(tv[i]) ? tv_s[i] : "NA";
	}
	if (with_df)
	{
		double	   *pv = palloc(sizeof(double) * p);
		char	  **pv_s = palloc(sizeof(char *) * p);
		int			np = 0;

		for (i = 0; i < p; i++)
			if (rows[i].has_df)
			{
				pv[np++] = rows[i].p;
				stars |= rows[i].p < 0.1;
			}
		r_format_pval(pv, np, SUMMARY_DIGITS - 1, pv_s);
		for (i = 0, np = 0; i < p; i++)
		{
			cell[i * ncol + ncs + 1] = rows[i].has_df ? pv_s[np++] : "NA";
			cell[i * ncol + ncs + 2] = "";
		}
		if (stars)
		{
			int			width = 0;

			for (i = 0; i < p; i++)
			{
				double		pi = rows[i].p;

				if (!rows[i].has_df)
					continue;
				cell[i * ncol + ncs + 2] = pi <= 0.001 ? "***" : pi <= 0.01 ? "**" :
					pi <= 0.05 ? "*" : pi <= 0.1 ? "." : " ";
				width = Max(width, (int) strlen(cell[i * ncol + ncs + 2]));
			}
			for (i = 0; i < p; i++)
				cell[i * ncol + ncs + 2] = psprintf("%-*s", width, cell[i * ncol + ncs + 2]);
		}
	}
	appendStringInfoString(buf, "Fixed effects:\n");
	/* without stars, the empty stars column is not shown */
	append_matrix(buf, p, with_df ? (stars ? ncol : ncol - 1) : 3, ncol, m->x_names,
				  with_df ? (z ? wald : full) : plain, cell, true);
	if (stars)
		appendStringInfoString(buf, "---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n");
}

/*
 * lme4's "Correlation of Fixed Effects" (for 2 to 12 columns, its
 * lme4.summary.cor.max): the lower triangle of cov2cor(vcov) to three
 * decimals, rows named by abbreviate(names, 11), columns by 6.
 */
static void
append_fixef_correlation(StringInfo buf, const LmmModel *m)
{
	int			p = m->p;
	char	  **rn,
			  **cn,
			  **cell;
	int			width = 5,
				i,
				j;

	if (p < 2 || p > FIXEF_COR_MAX)
		return;
	rn = palloc(sizeof(char *) * p);
	cn = palloc(sizeof(char *) * p);
	cell = palloc(sizeof(char *) * (p - 1) * (p - 1));
	r_abbreviate(m->x_names, p, 11, rn);
	r_abbreviate(m->x_names, p, 6, cn);
	for (i = 1; i < p; i++)
		for (j = 0; j < i; j++)
			if (round(1000.0 * m->vcov[i * p + j] /
					  sqrt(m->vcov[i * p + i] * m->vcov[j * p + j])) < 0)
				width = 6;
	for (i = 1; i < p; i++)
		for (j = 0; j < p - 1; j++)
		{
			double		sd = sqrt(m->vcov[i * p + i] * m->vcov[j * p + j]);
			double		r = r_round(m->vcov[i * p + j] / sd, 3);

			if (j >= i)
				cell[(i - 1) * (p - 1) + j] = "";
			else if (!(sd > 0.0) || !isfinite(r))
				cell[(i - 1) * (p - 1) + j] = psprintf("%*s", width, "NA");
			else
				cell[(i - 1) * (p - 1) + j] = psprintf("%*.3f", width, r == 0.0 ? 0.0 : r);
		}
	appendStringInfoString(buf, "\nCorrelation of Fixed Effects:\n");
	append_matrix(buf, p - 1, p - 1, p - 1, rn + 1, (const char **) cn, cell, false);
}

PG_FUNCTION_INFO_V1(lmm_print);

/*
 * lmm_print(m): lme4's summary(m) for a terminal, in lme4's order: title,
 * formula, REML criterion or ML fit statistics, random effects, counts,
 * fixed effects and their correlations, and the fit's warnings.
 */
Datum
lmm_print(PG_FUNCTION_ARGS)
{
	LmmModel	m;
	StringInfoData buf;
	LmmFixefRow *rows;
	double	   *L;
	bool		with_df = false;
	int			k;

	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	rows = palloc(sizeof(LmmFixefRow) * Max(m.p, 1));
	L = palloc0(sizeof(double) * Max(m.p, 1));
	for (k = 0; k < m.p; k++)
	{
		CHECK_FOR_INTERRUPTS();
		lmm_fixef_row(&m, k, L, &rows[k]);
		with_df |= rows[k].has_df;
	}

	initStringInfo(&buf);
	append_title(&buf, &m, (m.flags & LMM_MODEL_REML) != 0, with_df);
	appendStringInfo(&buf, "Formula: %s\n\n", lmm_model_formula(&m));
	append_fit_statistics(&buf, &m);
	appendStringInfoChar(&buf, '\n');
	append_random_effects(&buf, &m);
	append_groups(&buf, &m);
	if (m.p > 0)
	{
		appendStringInfoChar(&buf, '\n');
		append_fixed_effects(&buf, &m, rows, with_df);
		append_fixef_correlation(&buf, &m);
	}
	if (!(m.flags & LMM_MODEL_CONVERGED))
		appendStringInfoString(&buf, "Model failed to converge: the optimizer stopped before its tolerance\n");
	if (m.flags & LMM_MODEL_SINGULAR)
		appendStringInfoString(&buf, "boundary (singular) fit: see help('isSingular')\n");
	/* one text value: no newline after the last line */
	buf.data[--buf.len] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
