/*
 * options.c
 *	  Parse the options text of lmm_fit: comma-separated key=value pairs,
 *	  where the list-valued keys x_names and z_names take the following
 *	  comma-separated words up to the next key=value.
 */
#include "postgres.h"

#include <errno.h>

#include "utils/builtins.h"

#include "lmm_pg.h"

/* Trim ASCII white space at both ends of s, in place. */
static char *
trim(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' ||
					   end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Append a name to a growing list of names. */
static void
add_name(int *n, char ***names, char *name)
{
	if (*name == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("empty term name in lmm options"),
				 errdetail("Separate names with single commas, as in 'x_names=age,sex'.")));
	*names = (*n <= 0) ? palloc(sizeof(char *)) :
		repalloc(*names, sizeof(char *) * (*n + 1));
	(*names)[(*n)++] = pstrdup(name);
}

/* lme4's names of the families. */
static const char *const family_names[] = {"gaussian", "binomial", "poisson"};

/* lme4's names of the links. */
static const char *const link_names[] = {"identity", "logit", "probit", "cloglog", "log"};

/* A family's name as lme4 prints it. */
const char *
lmm_family_name(LmmFamily family)
{
	return family_names[family];
}

/* A link's name as lme4 prints it. */
const char *
lmm_link_name(LmmLink link)
{
	return link_names[link];
}

/* The family named (case-insensitively); false for an unknown name. */
bool
lmm_family_from_name(const char *name, LmmFamily *family)
{
	int			i;

	for (i = 0; i < lengthof(family_names); i++)
		if (pg_strcasecmp(name, family_names[i]) == 0)
		{
			*family = (LmmFamily) i;
			return true;
		}
	return false;
}

/* The link named (case-insensitively); false for an unknown name. */
bool
lmm_link_from_name(const char *name, LmmLink *link)
{
	int			i;

	for (i = 0; i < lengthof(link_names); i++)
		if (pg_strcasecmp(name, link_names[i]) == 0)
		{
			*link = (LmmLink) i;
			return true;
		}
	return false;
}

/*
 * The link of the family (its canonical one unless link= names another it
 * takes), and nagq only where it means something: a generalized family.
 */
static void
check_family(LmmOptions *opts, const char *link_value)
{
	static const LmmLink canonical[] = {LMM_LINK_IDENTITY, LMM_LINK_LOGIT, LMM_LINK_LOG};
	LmmFamily	f = opts->family;

	opts->link = canonical[f];
	if (link_value != NULL &&
		(!lmm_link_from_name(link_value, &opts->link) ||
		 (f == LMM_FAMILY_BINOMIAL && !(opts->link == LMM_LINK_LOGIT ||
										opts->link == LMM_LINK_PROBIT ||
										opts->link == LMM_LINK_CLOGLOG)) ||
		 (f != LMM_FAMILY_BINOMIAL && opts->link != canonical[f])))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("link \"%s\" is not available for family %s", link_value,
						family_names[f]),
				 errdetail("%s", f == LMM_FAMILY_BINOMIAL ?
						   "The binomial family takes link=logit (the default), probit or cloglog." :
						   f == LMM_FAMILY_POISSON ? "The Poisson family takes link=log." :
						   "The Gaussian family takes link=identity; give family=binomial or family=poisson for another link.")));
	if (opts->nagq_given && f == LMM_FAMILY_GAUSSIAN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lmm option \"nagq\" needs a generalized family"),
				 errdetail("A Gaussian model's likelihood is exact; give family=binomial or family=poisson with nagq.")));
}

/*
 * Fill opts from text (NULL means all defaults).  Unknown keys, unknown
 * values and repeated keys are errors, so a typo never silently changes
 * the fit.
 */
void
lmm_parse_options(const char *text, LmmOptions *opts)
{
	char	   *copy;
	char	   *tok;
	char	   *next;
	int		   *list_n = NULL;
	char	 ***list = NULL;
	bool		seen_method = false;
	bool		seen_g_name = false;
	bool		seen_family = false;
	char	   *link_value = NULL;

	opts->reml = true;
	opts->method_given = false;
	opts->g_name_given = false;
	opts->g_name = "g";
	opts->n_x_names = -1;
	opts->x_names = NULL;
	opts->n_z_names = -1;
	opts->z_names = NULL;
	opts->family = LMM_FAMILY_GAUSSIAN;
	opts->link = LMM_LINK_IDENTITY;
	opts->nagq = 1;
	opts->nagq_given = false;
	opts->weights = NULL;
	if (text == NULL)
		return;

	copy = pstrdup(text);
	for (tok = copy; tok != NULL; tok = next)
	{
		char	   *comma = strchr(tok, ',');
		char	   *eq;
		char	   *key;
		char	   *value;

		/* split at every comma, so that "a,,b" shows the empty name */
		if (comma != NULL)
			*comma = '\0';
		next = comma ? comma + 1 : NULL;
		eq = strchr(tok, '=');

		if (eq == NULL)
		{
			if (list == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid lmm option \"%s\"", trim(tok)),
						 errdetail("Options are comma-separated key=value pairs, e.g. 'method=ml, x_names=age,sex'.")));
			add_name(list_n, list, trim(tok));
			continue;
		}
		*eq = '\0';
		key = trim(tok);
		value = trim(eq + 1);
		list = NULL;
		if (strcmp(key, "method") == 0)
		{
			if (seen_method)
				goto repeated;
			seen_method = opts->method_given = true;
			if (pg_strcasecmp(value, "reml") == 0)
				opts->reml = true;
			else if (pg_strcasecmp(value, "ml") == 0)
				opts->reml = false;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for lmm option \"method\"", value),
						 errdetail("Use method=reml (the default) or method=ml.")));
		}
		else if (strcmp(key, "x_names") == 0 || strcmp(key, "z_names") == 0)
		{
			bool		is_x = (key[0] == 'x');

			list_n = is_x ? &opts->n_x_names : &opts->n_z_names;
			list = is_x ? &opts->x_names : &opts->z_names;
			if (*list_n >= 0)
				goto repeated;
			*list_n = 0;
			if (*value != '\0')
				add_name(list_n, list, value);
		}
		else if (strcmp(key, "g_name") == 0)
		{
			if (seen_g_name)
				goto repeated;
			seen_g_name = opts->g_name_given = true;
			if (*value == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("empty value for lmm option \"g_name\""),
						 errdetail("Name the grouping factor, e.g. 'g_name=doctor'.")));
			opts->g_name = pstrdup(value);
		}
		else if (strcmp(key, "family") == 0)
		{
			if (seen_family)
				goto repeated;
			seen_family = true;
			if (!lmm_family_from_name(value, &opts->family))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("unknown family \"%s\"", value),
						 errdetail("Use family=gaussian (the default), family=binomial or family=poisson.")));
		}
		else if (strcmp(key, "link") == 0)
		{
			if (link_value != NULL)
				goto repeated;
			link_value = pstrdup(value);
		}
		else if (strcmp(key, "nagq") == 0)
		{
			char	   *end;
			long		v;

			if (opts->nagq_given)
				goto repeated;
			opts->nagq_given = true;
			errno = 0;
			v = strtol(value, &end, 10);
			if (*value == '\0' || *end != '\0' || errno != 0 || v < 0 || v > LMM_MAX_NAGQ)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for lmm option \"nagq\"", value),
						 errdetail("nagq is a whole number of quadrature nodes from 0 to %d: 0 for glmer's fast first stage, 1 (the default) for the Laplace approximation.",
								   LMM_MAX_NAGQ)));
			opts->nagq = (int) v;
		}
		else if (strcmp(key, "weights") == 0)
		{
			if (opts->weights != NULL)
				goto repeated;
			if (*value == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("empty value for lmm option \"weights\""),
						 errdetail("Name the column of prior weights, e.g. 'weights=trials'.")));
			opts->weights = pstrdup(value);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown lmm option \"%s\"", key),
					 errdetail("Known options are method, family, link, nagq, weights, x_names, z_names and g_name.")));
		continue;

repeated:
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lmm option \"%s\" is given more than once", key),
				 errdetail("Give each option once.")));
	}
	pfree(copy);
	check_family(opts, link_value);
}

/*
 * The next key=value pair of the options text of lmm_confint, lmm_contrast
 * or lmm_anova (fn), cut in place from *cursor (which starts at copy):
 * false at the end, and for an options text that is all blank.  A part
 * without '=' is an error, with example in its detail.
 */
static bool
next_pair(char **cursor, const char *copy, const char *fn, const char *example,
		  char **key, char **value)
{
	char	   *tok = *cursor;
	char	   *comma;
	char	   *eq;

	if (tok == NULL)
		return false;
	comma = strchr(tok, ',');
	if (comma != NULL)
		*comma = '\0';
	*cursor = comma ? comma + 1 : NULL;
	if (*trim(tok) == '\0' && *cursor == NULL && tok == copy)
		return false;			/* empty options: all defaults */
	if ((eq = strchr(tok, '=')) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s option \"%s\"", fn, trim(tok)),
				 errdetail("Options are comma-separated key=value pairs, e.g. '%s'.", example)));
	*eq = '\0';
	*key = trim(tok);
	*value = trim(eq + 1);
	return true;
}

/* Mark an option of fn as seen; an error when it was seen already. */
static void
seen_once(bool *seen, const char *fn, const char *key)
{
	if (*seen)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s option \"%s\" is given more than once", fn, key),
				 errdetail("Give each option once.")));
	*seen = true;
}

/* The value of fn's option level: a number strictly between 0 and 1. */
static double
parse_level(const char *fn, const char *value)
{
	char	   *end;
	double		level = strtod(value, &end);

	if (end == value || *end != '\0' || !(level > 0.0 && level < 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for %s option \"level\"", value, fn),
				 errdetail("The level is a number strictly between 0 and 1, e.g. level=0.95.")));
	return level;
}

/*
 * Read lmm_confint's options (method=profile|wald, level=0.95): profile or
 * Wald intervals at which level.  Unknown or repeated keys and a level
 * outside (0, 1) are errors.
 */
void
lmm_parse_confint_options(const char *text, bool *profile, double *level)
{
	char	   *copy = pstrdup(text);
	char	   *cursor = copy;
	char	   *key;
	char	   *value;
	bool		seen_method = false;
	bool		seen_level = false;

	*profile = true;
	*level = 0.95;
	while (next_pair(&cursor, copy, "lmm_confint", "method=profile, level=0.9", &key, &value))
	{
		if (strcmp(key, "method") == 0)
		{
			seen_once(&seen_method, "lmm_confint", key);
			if (pg_strcasecmp(value, "profile") == 0)
				*profile = true;
			else if (pg_strcasecmp(value, "wald") == 0)
				*profile = false;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for lmm_confint option \"method\"", value),
						 errdetail("Use method=profile (the default) or method=wald.")));
		}
		else if (strcmp(key, "level") == 0)
		{
			seen_once(&seen_level, "lmm_confint", key);
			*level = parse_level("lmm_confint", value);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown lmm_confint option \"%s\"", key),
					 errdetail("Known options are method and level.")));
	}
	pfree(copy);
}

/*
 * Read the options of lmm_fixef, lmm_contrast and lmm_anova (fn names the
 * function): ddf=satterthwaite|kenward-roger|none, lmerTest's denominator
 * df and p-values by Satterthwaite's or Kenward and Roger's method, or
 * lme4's statistics without them; and, where type is not NULL,
 * type=1|2|3 (default 3) as lmerTest's anova.  Unknown or repeated keys
 * are errors.
 */
void
lmm_parse_test_options(const char *text, const char *fn, int *type,
					   LmmDdf *ddf)
{
	char	   *copy = pstrdup(text);
	char	   *cursor = copy;
	char	   *key;
	char	   *value;
	bool		seen_ddf = false;
	bool		seen_type = false;

	*ddf = LMM_DDF_SATTERTHWAITE;
	if (type != NULL)
		*type = 3;
	while (next_pair(&cursor, copy, fn, "ddf=none", &key, &value))
	{
		if (strcmp(key, "type") == 0 && type != NULL)
		{
			seen_once(&seen_type, fn, key);
			if (strcmp(value, "1") == 0 || strcmp(value, "2") == 0 || strcmp(value, "3") == 0)
				*type = value[0] - '0';
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for %s option \"type\"", value, fn),
						 errdetail("Use type=3 (the default), type=2 or type=1, as lmerTest's anova.")));
		}
		else if (strcmp(key, "ddf") == 0)
		{
			seen_once(&seen_ddf, fn, key);
			if (pg_strcasecmp(value, "satterthwaite") == 0)
				*ddf = LMM_DDF_SATTERTHWAITE;
			else if (pg_strcasecmp(value, "kenward-roger") == 0)
				*ddf = LMM_DDF_KENWARD_ROGER;
			else if (pg_strcasecmp(value, "none") == 0)
				*ddf = LMM_DDF_NONE;
			else
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for %s option \"ddf\"", value, fn),
						 errdetail("Use ddf=satterthwaite (the default), ddf=kenward-roger or ddf=none.")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown %s option \"%s\"", fn, key),
					 errdetail(type != NULL ? "The known options are type and ddf." :
							   "The known option is ddf.")));
	}
	pfree(copy);
}

/*
 * Read lmm_bootstrap's options (level=0.95, seed=42, method=percentile):
 * the intervals' level, the generator's seed (any integer; the same seed
 * gives the same intervals) and the interval (percentile, the only one).
 * Unknown or repeated keys are errors.
 */
void
lmm_parse_boot_options(const char *text, double *level, int64 *seed)
{
	char	   *copy = pstrdup(text);
	char	   *cursor = copy;
	char	   *key;
	char	   *value;
	bool		seen_level = false;
	bool		seen_seed = false;
	bool		seen_method = false;

	*level = 0.95;
	*seed = 42;
	while (next_pair(&cursor, copy, "lmm_bootstrap", "level=0.9, seed=7", &key, &value))
	{
		char	   *end;

		if (strcmp(key, "level") == 0)
		{
			seen_once(&seen_level, "lmm_bootstrap", key);
			*level = parse_level("lmm_bootstrap", value);
		}
		else if (strcmp(key, "seed") == 0)
		{
			seen_once(&seen_seed, "lmm_bootstrap", key);
			errno = 0;
			*seed = strtoll(value, &end, 10);
			if (end == value || *end != '\0' || errno != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for lmm_bootstrap option \"seed\"", value),
						 errdetail("The seed is a whole number that fits in a bigint, e.g. seed=42.")));
		}
		else if (strcmp(key, "method") == 0)
		{
			seen_once(&seen_method, "lmm_bootstrap", key);
			if (pg_strcasecmp(value, "percentile") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for lmm_bootstrap option \"method\"", value),
						 errdetail("lmm_bootstrap gives percentile intervals (method=percentile), as lme4's confint(method = \"boot\").")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown lmm_bootstrap option \"%s\"", key),
					 errdetail("Known options are level, seed and method.")));
	}
	pfree(copy);
}

/*
 * Parse lmm_ls_means' options: pairwise=true|false (false), level (0.95)
 * and ddf=satterthwaite (the default) or kenward-roger, as lmerTest's
 * ls_means.
 */
void
lmm_parse_lsmeans_options(const char *text, bool *pairwise, double *level,
						  LmmDdf *ddf)
{
	char	   *copy = pstrdup(text);
	char	   *cursor = copy;
	char	   *key;
	char	   *value;
	bool		seen_level = false;
	bool		seen_pairwise = false;
	bool		seen_ddf = false;

	*level = 0.95;
	*pairwise = false;
	*ddf = LMM_DDF_SATTERTHWAITE;
	while (next_pair(&cursor, copy, "lmm_ls_means", "pairwise=true, level=0.9", &key, &value))
	{
		if (strcmp(key, "level") == 0)
		{
			seen_once(&seen_level, "lmm_ls_means", key);
			*level = parse_level("lmm_ls_means", value);
		}
		else if (strcmp(key, "pairwise") == 0)
		{
			seen_once(&seen_pairwise, "lmm_ls_means", key);
			if (!parse_bool(value, pairwise))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for lmm_ls_means option \"pairwise\"", value),
						 errdetail("Use pairwise=true for the pairwise differences, or pairwise=false (the default).")));
		}
		else if (strcmp(key, "ddf") == 0)
		{
			seen_once(&seen_ddf, "lmm_ls_means", key);
			if (pg_strcasecmp(value, "kenward-roger") == 0)
				*ddf = LMM_DDF_KENWARD_ROGER;
			else if (pg_strcasecmp(value, "satterthwaite") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value \"%s\" for lmm_ls_means option \"ddf\"", value),
						 errdetail("Use ddf=satterthwaite (the default) or ddf=kenward-roger, as lmerTest's ls_means.")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown lmm_ls_means option \"%s\"", key),
					 errdetail("Known options are pairwise, level and ddf.")));
	}
	pfree(copy);
}
