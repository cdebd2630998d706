/*
 * lmm_dist.c
 *	  Normal, Student t and chi-square probabilities and quantiles.
 *
 * The t tail is the regularized incomplete beta function and the chi-square
 * tail the regularized upper incomplete gamma function, each evaluated as a
 * continued fraction (modified Lentz) on the side where it converges, so a
 * p-value of 1e-12 keeps its relative accuracy.  Quantiles are Newton steps
 * on the log of the tail, inside a bracket.
 */
#include "lmm_dist.h"

#include <math.h>

#define LENTZ_TINY	1e-300
#define LENTZ_EPS	1e-16
#define LENTZ_MAX	10000

/*
 * Above this many degrees of freedom t is normal to double precision, and
 * the log-gamma differences of the t formulas would cancel to noise.
 */
#define T_NORMAL_DF 1e7

/* Guard a Lentz denominator against zero. */
static double
nonzero(double v)
{
	return fabs(v) < LENTZ_TINY ? LENTZ_TINY : v;
}

/*
 * log B(a, b).  Where one argument is large, lgamma(a + b) - lgamma(a)
 * would cancel about a log(a) ulps, so it is taken from Stirling's series
 * with the large terms folded into log1p:
 *	 lgamma(a + b) - lgamma(a) = (a - 1/2) log1p(b / a) + b log(a + b) - b
 *								 + d(a + b) - d(a),
 * d(x) = 1/(12 x) - 1/(360 x^3) + 1/(1260 x^5), exact to rounding for
 * a > 1e4.
 */
static double
log_beta(double a, double b)
{
	double		big = fmax(a, b);
	double		small = fmin(a, b);
	double		s = big + small;

	if (big < 1e4)
		return lgamma(a) + lgamma(b) - lgamma(s);
	return lgamma(small) -
		((big - 0.5) * log1p(small / big) + small * log(s) - small +
		 (1.0 / (12.0 * s) - 1.0 / (360.0 * s * s * s) + 1.0 / (1260.0 * pow(s, 5))) -
		 (1.0 / (12.0 * big) - 1.0 / (360.0 * big * big * big) + 1.0 / (1260.0 * pow(big, 5))));
}

/*
 * I_x(a, b) by its continued fraction, accurate when x < (a+1)/(a+b+2); y is
 * 1 - x, passed separately so that it carries its own digits.
 */
static double
ibeta_cf(double x, double y, double a, double b)
{
	double		front = exp(a * log(x) + b * log(y) - log_beta(a, b)) / a;
	double		f = 1.0,
				C = 1.0,
				D = 0.0;
	int			i;

	for (i = 1; i <= LENTZ_MAX; i++)
	{
		int			m = i / 2;
		double		d,
					delta;

		if (i % 2 == 1)
			d = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
		else
			d = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
		D = 1.0 / nonzero(1.0 + d * D);
		C = nonzero(1.0 + d / C);
		delta = C * D;
		f *= delta;
		if (fabs(delta - 1.0) < LENTZ_EPS)
			break;
	}
	return front / f;
}

/* The regularized incomplete beta function I_x(a, b), with y = 1 - x. */
static double
ibeta(double x, double y, double a, double b)
{
	if (x <= 0.0)
		return 0.0;
	if (y <= 0.0)
		return 1.0;
	if (x < (a + 1.0) / (a + b + 2.0))
		return ibeta_cf(x, y, a, b);
	return 1.0 - ibeta_cf(y, x, b, a);
}

/* P(|T| > |t|) for Student's t with df degrees of freedom (normal when df is infinite). */
double
lmm_pt_two_sided(double t, double df)
{
	double		t2 = t * t;

	if (isnan(t) || isnan(df) || df <= 0.0)
		return NAN;
	if (df > T_NORMAL_DF)
		return erfc(fabs(t) / M_SQRT2);
	if (isinf(t))
		return 0.0;
	return fmin(1.0, fmax(0.0, ibeta(df / (df + t2), t2 / (df + t2), df / 2.0, 0.5)));
}

/* The standard normal quantile: Newton steps from a rough rational start. */
double
lmm_qnorm(double prob)
{
	double		p = prob < 0.5 ? prob : 1.0 - prob;
	double		r,
				x;
	int			i;

	if (!(prob > 0.0 && prob < 1.0))
		return prob == 0.0 ? -INFINITY : prob == 1.0 ? INFINITY : NAN;
	/* a start within 0.003 (Abramowitz and Stegun 26.2.22), for the lower tail */
	r = sqrt(-2.0 * log(p));
	x = -(r - (2.30753 + 0.27061 * r) / (1.0 + 0.99229 * r + 0.04481 * r * r));
	for (i = 0; i < 6; i++)
	{
		double		cdf = 0.5 * erfc(-x / M_SQRT2);
		double		pdf = exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
		double		step = (cdf - p) / pdf;

		/* Halley's correction: the density's slope is -x pdf */
		x -= step / (1.0 + 0.5 * x * step);
	}
	return prob < 0.5 ? x : -x;
}

/* The t quantile: t with P(T <= t) = prob, by Newton on the log two-sided tail. */
double
lmm_qt(double prob, double df)
{
	double		alpha,
				lo = 0.0,
				hi,
				t,
				lognorm;
	int			i;

	if (isnan(prob) || isnan(df) || df <= 0.0)
		return NAN;
	if (df > T_NORMAL_DF)
		return lmm_qnorm(prob);
	if (prob == 0.5)
		return 0.0;
	if (!(prob > 0.0 && prob < 1.0))
		return prob == 0.0 ? -INFINITY : prob == 1.0 ? INFINITY : NAN;
	alpha = 2.0 * (prob < 0.5 ? prob : 1.0 - prob);
	lognorm = lgamma((df + 1.0) / 2.0) - lgamma(df / 2.0) - 0.5 * log(df * M_PI);

	/* bracket the root, then polish with safeguarded Newton steps */
	t = fabs(lmm_qnorm(alpha / 2.0));
	hi = t;
	while (lmm_pt_two_sided(hi, df) > alpha && hi < 1e300)
		hi *= 2.0;
	for (i = 0; i < 200; i++)
	{
		double		tail = lmm_pt_two_sided(t, df);
		double		logdens = lognorm - (df + 1.0) / 2.0 * log1p(t * t / df);
		double		g = log(tail) - log(alpha);
		double		next;

		if (g > 0.0)
			lo = t;
		else
			hi = t;
		/* d log(tail) / dt = -2 density / tail */
		next = t + g * tail / (2.0 * exp(logdens));
		if (!(next > lo && next < hi))
			next = 0.5 * (lo + hi);
		if (fabs(next - t) <= 1e-15 * t)
		{
			t = next;
			break;
		}
		t = next;
	}
	return prob < 0.5 ? -t : t;
}

/* Q(a, x), the regularized upper incomplete gamma function. */
static double
gamma_upper(double a, double x)
{
	double		logfront = a * log(x) - x - lgamma(a);
	int			i;

	if (x <= 0.0)
		return 1.0;
	if (x < a + 1.0)
	{
		/* the lower tail's series, then its complement */
		double		term = 1.0 / a,
					sum = term;

		for (i = 1; i <= LENTZ_MAX; i++)
		{
			term *= x / (a + i);
			sum += term;
			if (term < sum * LENTZ_EPS)
				break;
		}
		return 1.0 - sum * exp(logfront);
	}
	else
	{
		/* Q = front / (x+1-a - 1(1-a)/(x+3-a - 2(2-a)/(x+5-a - ...))) */
		double		b = x + 1.0 - a;
		double		C = 1.0 / LENTZ_TINY,
					D = 1.0 / b,
					f = D;

		for (i = 1; i <= LENTZ_MAX; i++)
		{
			double		an = -i * (i - a);
			double		delta;

			b += 2.0;
			D = 1.0 / nonzero(an * D + b);
			C = nonzero(b + an / C);
			delta = C * D;
			f *= delta;
			if (fabs(delta - 1.0) < LENTZ_EPS)
				break;
		}
		return exp(logfront) * f;
	}
}

/* P(X > x) for a chi-square variable with df degrees of freedom. */
double
lmm_pchisq_upper(double x, double df)
{
	if (isnan(x) || isnan(df) || df <= 0.0)
		return NAN;
	if (x <= 0.0)
		return 1.0;
	if (isinf(x))
		return 0.0;
	return fmin(1.0, fmax(0.0, gamma_upper(df / 2.0, x / 2.0)));
}

/*
 * Above this many denominator df the F tail is the chi-square's: the
 * log-gamma differences of I_x(df2/2, df1/2) lose about df2 log(df2) ulps,
 * as many as the limit's O(1 / df2) error costs here (1e-7 at F = 12).
 */
#define F_CHISQ_DF 1e9

/*
 * P(F > f) for the F distribution with df1 and df2 degrees of freedom (the
 * chi-square's df1 f / df1 limit above F_CHISQ_DF): I_x(df2/2, df1/2) at
 * x = df2 / (df2 + df1 f), its complement passed with its own digits.
 */
double
lmm_pf_upper(double f, double df1, double df2)
{
	double		a;

	if (isnan(f) || isnan(df1) || isnan(df2) || df1 <= 0.0 || df2 <= 0.0)
		return NAN;
	if (f <= 0.0)
		return 1.0;
	if (isinf(f))
		return 0.0;
	if (df2 > F_CHISQ_DF)
		return lmm_pchisq_upper(df1 * f, df1);
	a = df1 * f;
	return fmin(1.0, fmax(0.0, ibeta(df2 / (df2 + a), a / (df2 + a), df2 / 2.0, df1 / 2.0)));
}
