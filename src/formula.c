/*
 * formula.c
 *	  lmm(formula, source [, options]): an lme4-style formula turned into one
 *	  query that streams the source through the aggregate lmm_fit_terms.
 *
 * Every name from the formula is checked against the source's columns and
 * quoted with quote_identifier; every level of a categorical column is a
 * quoted literal.  No text of the formula reaches the query otherwise.  The
 * query runs through SPI with the caller's rights, so lmm() reads only
 * what the caller may read.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"

#include "core/lmm_formula.h"
#include "core/lmm_stats.h"
#include "lmm_pg.h"

/* Most levels a categorical column may have (one fixed-effect column each). */
#define MAX_FACTOR_LEVELS 1000

/* A column of the source as the formula uses it. */
typedef struct Column
{
	const LmmFVar *var;
	bool		categorical;
	int			nlevels;
	char	  **levels;			/* text forms, in the column's sort order */
	char	  **labels;			/* as R prints them (TRUE/FALSE for booleans) */
} Column;

/* One column of X or Z: its SQL expression and its name as R makes it. */
typedef struct DesignCol
{
	StringInfoData expr;
	StringInfoData name;
} DesignCol;

/* Everything one call resolves. */
typedef struct Resolver
{
	Oid			relid;
	const char *source;			/* quoted, schema-qualified */
	const char *relname;
	int			ncols;
	Column		cols[4 * LMM_FORMULA_MAX_TERMS];
} Resolver;

/* The column a variable names, with its levels when categorical; errors name the position. */
static Column *
resolve(Resolver *rs, const LmmFVar *v, bool as_group)
{
	AttrNumber	att;
	Oid			type;
	Column	   *c;
	int			i;

	for (i = 0; i < rs->ncols; i++)
		if (strcmp(rs->cols[i].var->name, v->name) == 0 &&
			rs->cols[i].var->factor == v->factor)
			return &rs->cols[i];
	att = get_attnum(rs->relid, v->name);
	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("unknown column \"%s\" at position %d of the formula", v->name, v->pos),
				 errdetail("Relation \"%s\" has no column of that name; names are case sensitive.",
						   rs->relname)));
	if (rs->ncols >= (int) lengthof(rs->cols))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the formula uses too many columns"),
				 errdetail("Use at most %d distinct columns.", (int) lengthof(rs->cols))));
	c = &rs->cols[rs->ncols++];
	memset(c, 0, sizeof(Column));
	c->var = v;
	if (as_group)
		return c;
	type = get_atttype(rs->relid, att);
	c->categorical = v->factor || type == TEXTOID || type == VARCHAROID ||
		type == BPCHAROID || type == BOOLOID || type == NAMEOID || type_is_enum(type);
	if (!c->categorical && type != INT2OID && type != INT4OID && type != INT8OID &&
		type != FLOAT4OID && type != FLOAT8OID && type != NUMERICOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" (position %d) has type %s, which is neither numeric nor categorical",
						v->name, v->pos, format_type_be(type)),
				 errdetail("Use numeric columns as covariates, text, boolean or enum columns (or factor(column)) as factors.")));
	if (c->categorical)
	{
		const char *q = quote_identifier(v->name);
		char	   *sql = psprintf("SELECT v::text AS level_text FROM (SELECT DISTINCT %s AS v FROM %s WHERE %s IS NOT NULL) s ORDER BY v",
								   q, rs->source, q);
		uint64		r;

		if (SPI_execute(sql, true, MAX_FACTOR_LEVELS + 1) != SPI_OK_SELECT)
			ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), errmsg("could not read the levels of \"%s\"", v->name), errdetail("The query on the source failed; check that it can be read.")));
		if (SPI_processed > MAX_FACTOR_LEVELS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("categorical column \"%s\" has more than %d levels", v->name, MAX_FACTOR_LEVELS),
					 errdetail("Each level is a fixed-effect column; use it as a grouping factor, (1 | %s), instead.",
							   v->name)));
		c->nlevels = (int) SPI_processed;
		c->levels = palloc(sizeof(char *) * (c->nlevels + 1));
		c->labels = palloc(sizeof(char *) * (c->nlevels + 1));
		for (r = 0; r < SPI_processed; r++)
		{
			char	   *s = SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1);

			c->levels[r] = s;
			c->labels[r] = (type == BOOLOID) ? (strcmp(s, "true") == 0 ? "TRUE" : "FALSE") : s;
		}
	}
	return c;
}

/* The name R gives a variable in a term: the column, or factor(column). */
static const char *
var_label(const LmmFVar *v)
{
	return v->factor ? psprintf("factor(%s)", v->name) : v->name;
}

/*
 * Append the design columns of term t to cols as R's model.matrix makes
 * them: numeric variables multiply; a categorical one multiplies by its
 * indicators of every level but the first, or of every level when it is
 * full or is variable full_var; earlier variables vary fastest.
 */
static void
term_columns(Resolver *rs, const LmmFTerm *t, int full_var, DesignCol *cols, int *n, int max)
{
	int			first = *n;
	int			v;

	if (*n >= max)
		goto too_many;
	initStringInfo(&cols[*n].expr);
	initStringInfo(&cols[*n].name);
	appendStringInfoString(&cols[*n].expr, "1::float8");
	(*n)++;
	for (v = 0; v < t->nvars; v++)
	{
		Column	   *c = resolve(rs, &t->var[v], false);
		int			last = *n;
		int			i,
					l;

		if (!c->categorical)
		{
			for (i = first; i < last; i++)
			{
				appendStringInfo(&cols[i].expr, " * (%s)::float8", quote_identifier(c->var->name));
				appendStringInfo(&cols[i].name, "%s%s", cols[i].name.len > 0 ? ":" : "",
								 var_label(c->var));
			}
			continue;
		}
		if (c->nlevels < 2)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("categorical column \"%s\" has fewer than two levels", c->var->name),
					 errdetail("A factor with one level is constant; remove it from the formula.")));
		/* each indicator times each existing column */
		for (l = (t->var[v].full || v == full_var) ? 0 : 1; l < c->nlevels; l++)
			for (i = first; i < last; i++)
			{
				DesignCol  *d;

				if (*n >= max)
					goto too_many;
				d = &cols[*n];
				initStringInfo(&d->expr);
				initStringInfo(&d->name);
				appendStringInfo(&d->expr, "%s * ((%s)::text = %s)::int::float8",
								 cols[i].expr.data, quote_identifier(c->var->name),
								 quote_literal_cstr(c->levels[l]));
				appendStringInfo(&d->name, "%s%s%s%s", cols[i].name.data,
								 cols[i].name.len > 0 ? ":" : "", var_label(c->var), c->labels[l]);
				(*n)++;
			}
		/* the originals are replaced by their products */
		memmove(&cols[first], &cols[last], sizeof(DesignCol) * (*n - last));
		*n -= last - first;
	}
	return;

too_many:
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("the formula makes more than %d columns", max),
			 errdetail("Fixed effects are limited to %d columns and a random-effects term to %d.",
					   LMM_MAX_COLUMNS, LMM_MAX_RANDOM)));
}

/*
 * Append the columns' expressions to sql as a list ("e1, e2", after ", "
 * when more follows earlier ones) and their names to spec as a JSON array.
 */
static void
append_columns(StringInfo sql, StringInfo spec, DesignCol *cols, int n, bool more)
{
	int			i;

	appendStringInfoChar(spec, '[');
	for (i = 0; i < n; i++)
	{
		appendStringInfo(sql, "%s%s", (more || i > 0) ? ", " : "", cols[i].expr.data);
		if (i > 0)
			appendStringInfoString(spec, ", ");
		escape_json(spec, cols[i].name.data);
	}
	appendStringInfoChar(spec, ']');
}

/*
 * The design columns of a fixed part or of a random term's left side.
 * Without an intercept, the first categorical variable of the first term
 * that has one is coded by every level, as R's model.matrix does.
 */
static int
part_columns(Resolver *rs, bool intercept, const LmmFTerm *terms, int nterms,
			 DesignCol *cols, int max)
{
	int			n = 0,
				t,
				v,
				full_term = -1,
				full_var = -1;

	if (intercept)
	{
		initStringInfo(&cols[0].expr);
		initStringInfo(&cols[0].name);
		appendStringInfoString(&cols[0].expr, "1::float8");
		appendStringInfoString(&cols[0].name, "(Intercept)");
		n = 1;
	}
	else
		for (t = 0; t < nterms && full_term < 0; t++)
			for (v = 0; v < terms[t].nvars; v++)
				if (resolve(rs, &terms[t].var[v], false)->categorical)
				{
					full_term = t;
					full_var = v;
					break;
				}
	for (t = 0; t < nterms; t++)
		term_columns(rs, &terms[t], t == full_term ? full_var : -1, cols, &n, max);
	return n;
}

/*
 * Append the spec's "factors": every categorical variable of the fixed
 * part with all its levels, the reference first, as R labels them (for
 * lmm_ls_means, which needs the reference level that has no column).
 */
static void
append_factors(Resolver *rs, const LmmFormula *f, StringInfo spec)
{
	const char *seen[LMM_FORMULA_MAX_TERMS * LMM_FORMULA_MAX_VARS];
	int			nseen = 0,
				t,
				v,
				i;

	for (t = 0; t < f->nfixed; t++)
		for (v = 0; v < f->fixed[t].nvars; v++)
		{
			Column	   *c = resolve(rs, &f->fixed[t].var[v], false);
			const char *label = var_label(c->var);

			if (!c->categorical)
				continue;
			for (i = 0; i < nseen && strcmp(seen[i], label) != 0; i++)
				;
			if (i < nseen)
				continue;
			appendStringInfoString(spec, nseen == 0 ? ", \"factors\": {" : ", ");
			seen[nseen++] = label;
			escape_json(spec, label);
			appendStringInfoString(spec, ": ");
			lmm_json_append_str_array(spec, c->labels, c->nlevels);
		}
	if (nseen > 0)
		appendStringInfoChar(spec, '}');
}

/* The name of a column the formula or options use as a number (failures, offsets, weights). */
static const char *
numeric_column(Resolver *rs, const LmmFVar *v)
{
	Column	   *c = resolve(rs, v, false);

	if (c->categorical)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" must be numeric", v->name),
				 errdetail("Failures, offsets and weights are numbers.")));
	return v->name;
}

/*
 * Resolve the formula against the source's columns, build the query of the
 * aggregate agg (lmm_fit_terms with its options, or lmm_stats_terms, which
 * takes none) and run it: the model of lmm() or the statistics of
 * lmm_stats().
 */
static Datum
formula_query(FunctionCallInfo fcinfo, const char *agg, bool with_options)
{
	char	   *ftext = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			relid = PG_GETARG_OID(1);
	text	   *options = (PG_NARGS() > 2 && !PG_ARGISNULL(2)) ? PG_GETARG_TEXT_PP(2) : NULL;
	LmmFormula *f = palloc(sizeof(LmmFormula));
	Resolver   *rs = palloc0(sizeof(Resolver));
	DesignCol  *cols = palloc(sizeof(DesignCol) * LMM_MAX_COLUMNS);
	char		err[256];
	char	   *nsp,
			   *rel;
	char		relkind;
	const char *fschema;
	StringInfoData sql,
				spec,
				keys,
				zs;
	Column	   *resp;
	int			n,
				r,
				v;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', options ? ' ' : 'n'};
	Datum		result;
	bool		isnull;
	LmmOptions	opts;
	bool		resp_bool;
	bool		with_rows;
	StringInfoData wo;

	if (lmm_formula_parse(ftext, f, err, sizeof(err)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("invalid formula: %s", err),
				 errdetail("Write the formula as lme4 does, e.g. 'y ~ x + (1 | g)'.")));
	rel = get_rel_name(relid);
	nsp = get_namespace_name(get_rel_namespace(relid));
	if (rel == NULL || nsp == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid),
				 errdetail("Pass the source as a table or view name, e.g. 'patients'::regclass.")));
	relkind = get_rel_relkind(relid);
	if (relkind != RELKIND_RELATION && relkind != RELKIND_VIEW &&
		relkind != RELKIND_MATVIEW && relkind != RELKIND_PARTITIONED_TABLE &&
		relkind != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table, view or materialized view", rel),
				 errdetail("lmm() reads its rows from a table, a view, a materialized view or a foreign table.")));
	rs->relid = relid;
	rs->relname = rel;
	rs->source = quote_qualified_identifier(nsp, rel);
	fschema = quote_identifier(get_namespace_name(get_func_namespace(fcinfo->flinfo->fn_oid)));

	lmm_parse_options(options ? text_to_cstring(options) : NULL, &opts);
	SPI_connect();
	resp = resolve(rs, &f->response, false);
	resp_bool = get_atttype(relid, get_attnum(relid, f->response.name)) == BOOLOID &&
		!f->response.factor;
	if (resp->categorical && !(resp_bool && opts.family == LMM_FAMILY_BINOMIAL))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the response \"%s\" must be numeric", f->response.name),
				 errdetail("A mixed model needs a numeric response (a boolean one with family=binomial).")));
	if (f->cbind && opts.family != LMM_FAMILY_BINOMIAL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a cbind(successes, failures) response needs family=binomial"),
				 errdetail("Give the option family=binomial.")));
	if (f->cbind && opts.weights != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a cbind(successes, failures) response and weights= both give the number of trials"),
				 errdetail("Leave out weights=, or write the response as a proportion with weights=trials.")));

	/* the weight and offset of each row, when the model has them */
	initStringInfo(&wo);
	with_rows = f->cbind || f->noffsets > 0 || opts.weights != NULL;
	if (with_rows && !with_options)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_stats cannot summarize a model with cbind(), offset() or prior weights"),
				 errdetail("Such a model is fitted from its rows: its working statistics change with the estimates."),
				 errhint("Fit it with lmm(formula, source, options).")));
	if (with_rows)
	{
		LmmFVar    *wv = palloc0(sizeof(LmmFVar));

		if (f->cbind)
			appendStringInfo(&wo, "(%s)::float8 + (%s)::float8",
							 quote_identifier(f->response.name),
							 quote_identifier(numeric_column(rs, &f->failures)));
		else if (opts.weights != NULL)
		{
			AttrNumber	watt = get_attnum(relid, opts.weights);

			if (watt == InvalidAttrNumber || watt < 0)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("unknown column \"%s\" in the option weights=", opts.weights),
						 errdetail("Relation \"%s\" has no column of that name; names are case sensitive.",
								   rel)));
			strlcpy(wv->name, opts.weights, sizeof(wv->name));
			appendStringInfo(&wo, "(%s)::float8", quote_identifier(numeric_column(rs, wv)));
		}
		else
			appendStringInfoString(&wo, "1::float8");
		appendStringInfoString(&wo, ", ");
		for (v = 0; v < f->noffsets; v++)
			appendStringInfo(&wo, "%s(%s)::float8", v > 0 ? " + " : "",
							 quote_identifier(numeric_column(rs, &f->offset[v])));
		if (f->noffsets == 0)
			appendStringInfoString(&wo, "0::float8");
		appendStringInfoString(&wo, ", ");
	}

	initStringInfo(&sql);
	initStringInfo(&spec);
	appendStringInfo(&sql, "SELECT %s.%s((%s)::%sfloat8, ", fschema, agg,
					 quote_identifier(f->response.name), resp_bool ? "int::" : "");
	appendStringInfoString(&spec, f->cbind ? "{\"cbind\": true, \"formula\": " : "{\"formula\": ");
	escape_json(&spec, ftext);
	appendStringInfoString(&spec, ", \"x\": ");
	n = part_columns(rs, f->intercept, f->fixed, f->nfixed, cols, LMM_MAX_COLUMNS);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the formula has no fixed effect"),
				 errdetail("Keep the intercept or add a covariate.")));
	appendStringInfoString(&sql, "ARRAY[");
	append_columns(&sql, &spec, cols, n, false);
	appendStringInfoString(&sql, "]::float8[], ");
	append_factors(rs, f, &spec);

	/*
	 * the terms: group keys as text (an integer key's type in the spec, a
	 * composite key a:b stays text), z columns one term after another
	 */
	initStringInfo(&keys);
	initStringInfo(&zs);
	appendStringInfoString(&keys, "ARRAY[");
	appendStringInfoString(&zs, "ARRAY[");
	appendStringInfoString(&spec, ", \"terms\": [");
	for (r = 0; r < f->nrandom; r++)
	{
		const LmmFRandom *re = &f->random[r];
		StringInfoData gname;
		int			nz;

		initStringInfo(&gname);
		appendStringInfoString(&keys, r > 0 ? ", " : "");
		for (v = 0; v < re->group.nvars; v++)
		{
			resolve(rs, &re->group.var[v], true);
			appendStringInfo(&keys, "%s(%s)::text", v > 0 ? " || ':' || " : "",
							 quote_identifier(re->group.var[v].name));
			appendStringInfo(&gname, "%s%s", v > 0 ? ":" : "", re->group.var[v].name);
		}
		nz = part_columns(rs, re->intercept, re->term, re->nterms, cols, LMM_MAX_RANDOM);
		appendStringInfoString(&spec, r > 0 ? ", {\"group\": " : "{\"group\": ");
		escape_json(&spec, gname.data);
		if (re->group.nvars == 1)
		{
			Oid			type = get_atttype(relid, get_attnum(relid, re->group.var[0].name));

			if (type == INT2OID || type == INT4OID || type == INT8OID)
				appendStringInfo(&spec, ", \"key_type\": \"%s\"", format_type_be(type));
		}
		appendStringInfoString(&spec, ", \"z\": ");
		append_columns(&zs, &spec, cols, nz, r > 0);
		appendStringInfoChar(&spec, '}');
	}
	appendStringInfoString(&spec, "]}");
	appendStringInfo(&sql, "%s]::text[], %s]::float8[], %s$1%s) FROM %s",
					 keys.data, zs.data, wo.data, with_options ? ", $2" : "", rs->source);

	values[0] = CStringGetTextDatum(spec.data);
	values[1] = options ? PointerGetDatum(options) : (Datum) 0;
	/* no row limit: with one, the executor would launch no parallel workers */
	if (SPI_execute_with_args(sql.data, with_options ? 2 : 1, argtypes, values, nulls, true, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ereport(ERROR, (errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION), errmsg("the %s query on the source failed", agg), errdetail("Check that the source can be read.")));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

PG_FUNCTION_INFO_V1(lmm_formula_fit);

/* lmm(formula, source [, options]): the model of a formula fitted to the source's rows. */
Datum
lmm_formula_fit(PG_FUNCTION_ARGS)
{
	return formula_query(fcinfo, "lmm_fit_terms", true);
}

PG_FUNCTION_INFO_V1(lmm_formula_stats);

/* lmm_stats(formula, source): the formula's statistics over the source's rows, to merge and fit later. */
Datum
lmm_formula_stats(PG_FUNCTION_ARGS)
{
	return formula_query(fcinfo, "lmm_stats_terms", false);
}
