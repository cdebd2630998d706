/*
 * model_io.c
 *	  The lmm_model type: a varlena holding the core's packed binary form,
 *	  with readable JSON as its text form and the packed form on the wire.
 */
#include "postgres.h"

#include <math.h>

#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "core/lmm_stats_io.h"
#include "core/lmm_threads.h"
#include "lmm_pg.h"

/* The type name in input errors. */
static const char T[] = "lmm_model";

/* Error unless a model passes the checks every packed model passes. */
static void
check_model(const LmmModel *m)
{
	const char *problem = lmm_model_check(m);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("fitted model is not valid: %s", problem),
				 errdetail("This usually means the data overflow double precision; rescale y, x or z.")));
}

/* Pack a checked model of size bytes (lmm_model_packed_size) into a new varlena. */
static bytea *
pack_model(const LmmModel *m, size_t size)
{
	bytea	   *result;

	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("lmm_model value would take %zu bytes, more than a value can hold", size),
				 errdetail("A model holds every group's estimates; fit fewer groups per model.")));
	result = palloc(VARHDRSZ + size);
	lmm_first_touch(result, VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	lmm_model_pack(m, (unsigned char *) VARDATA(result));
	return result;
}

/* Pack a model into a new varlena after checking it. */
bytea *
lmm_model_to_datum(const LmmModel *m)
{
	check_model(m);
	return pack_model(m, lmm_model_packed_size(m));
}

/*
 * Pack a model just fitted, with its statistics for refits unless with
 * them it would be too big for a value (then without): its size, a pass
 * over every level, is computed once when the statistics fit.
 */
bytea *
lmm_fitted_model_to_datum(LmmModel *m)
{
	size_t		size = lmm_model_packed_size(m);

	if (m->tstats != NULL && size > MaxAllocSize - VARHDRSZ)
	{
		m->tstats = NULL;
		size = lmm_model_packed_size(m);
	}
	check_model(m);
	return pack_model(m, size);
}

/* Unpack a stored model; a value that fails validation is reported as corrupt. */
void
lmm_model_from_datum(Datum d, LmmModel *m)
{
	bytea	   *v = DatumGetByteaPP(d);
	const char *problem = lmm_model_unpack((const unsigned char *) VARDATA_ANY(v),
										   VARSIZE_ANY_EXHDR(v), m);

	if ((Pointer) v != DatumGetPointer(d))
		pfree(v);
	if (problem != NULL && strcmp(problem, "interrupted") == 0)
		CHECK_FOR_INTERRUPTS();
	if (problem != NULL)
		lmm_model_corrupt(problem);
}

/* The error for a stored model that fails validation. */
void
lmm_model_corrupt(const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt lmm_model value: %s", problem),
			 errdetail("Refit the model with lmm_fit.")));
}

/*
 * A result computed from a model must be a finite number.  A model edited by
 * hand, or one fitted to data near the limits of double precision, can make
 * a product or a square overflow: report that instead of returning Infinity
 * or NaN.
 */
double
lmm_finite_result(double v, const char *what)
{
	if (!isfinite(v))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range for type double precision", what),
				 errdetail("The model's estimates are too large for this result; refit the model on rescaled data.")));
	return v;
}

/* Append n rows of w numbers as a JSON array of arrays. */
static void
append_rows(StringInfo buf, const double *a, int64 n, int w)
{
	int64		i;

	appendStringInfoChar(buf, '[');
	for (i = 0; i < n; i++)
	{
		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		if (i > 0)
			appendStringInfoString(buf, ", ");
		lmm_json_append_f8_array(buf, a + i * w, w);
	}
	appendStringInfoChar(buf, ']');
}

/* Append the version 2 parts: Satterthwaite's ingredients (or null) and "stats". */
static void
append_tail(StringInfo buf, const LmmModel *m)
{
	appendStringInfoString(buf, ", \"inference\": ");
	if (m->ninf == 0)
		appendStringInfoString(buf, "null");
	else
	{
		appendStringInfoString(buf, "{\"vcov_varpar\": ");
		append_rows(buf, m->vcov_varpar, m->ninf, m->ninf);
		appendStringInfoString(buf, ", \"jacobian\": ");
		append_rows(buf, m->jac, m->ninf, m->p * m->p);
		appendStringInfoChar(buf, '}');
	}
	/* lmm 0.6's one-term statistics: read, never written (the model's are in "terms_stats") */
	appendStringInfoString(buf, ", \"stats\": null");
}

/*
 * Append the version 4 part: the several-term statistics as the hex digits
 * of their binary form (null when the model has none).
 */
static void
append_tstats(StringInfo buf, const LmmModel *m)
{
	size_t		len;
	char	   *bin;

	appendStringInfoString(buf, ", \"terms_stats\": ");
	if (m->tstats == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	len = lmm_model_tstats_size(m);
	if (2 * len + 2 > MaxAllocSize - (size_t) buf->len)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the text form of this lmm_model value would exceed 1 GB"),
				 errdetail("Its statistics take %zu bytes.", len),
				 errhint("Use the binary form (COPY ... WITH (FORMAT binary)) to move it.")));
	bin = palloc_extended(len, MCXT_ALLOC_HUGE);
	lmm_model_tstats_pack(m, (unsigned char *) bin);
	enlargeStringInfo(buf, (int) (2 * len + 2));
	buf->data[buf->len++] = '"';
	buf->len += (int) hex_encode(bin, len, buf->data + buf->len);
	buf->data[buf->len++] = '"';
	buf->data[buf->len] = '\0';
	pfree(bin);
}

/* Read the version 4 part of a model's JSON into m: hex digits, then their checks. */
static void
read_tstats(JsonbContainer *root, LmmModel *m)
{
	JsonbValue	v = lmm_json_key(T, root, "terms_stats");
	size_t		len;
	char	   *bin;
	const char *problem;

	if (v.type == jbvNull)
		return;
	bin = lmm_json_hex(T, v, "terms_stats", &len);
	problem = lmm_model_tstats_unpack((const unsigned char *) bin, len, m);
	if (problem != NULL && strcmp(problem, "interrupted") == 0)
		CHECK_FOR_INTERRUPTS();
	if (problem != NULL)
		lmm_json_bad(T, psprintf("\"terms_stats\": %s", problem));
	pfree(bin);
}

/* Read the version 2 parts of a model's JSON into m. */
static void
read_tail(JsonbContainer *root, LmmModel *m)
{
	JsonbValue	inf = lmm_json_key(T, root, "inference");
	JsonbValue	st = lmm_json_key(T, root, "stats");

	if (inf.type != jbvNull)
	{
		JsonbContainer *o = lmm_json_container(T, inf, false, 2, "inference");
		JsonbValue	vv = lmm_json_key(T, o, "vcov_varpar");
		JsonbValue	jv = lmm_json_key(T, o, "jacobian");

		/* sizes first: a short text must not claim gigabytes */
		m->ninf = lmm_model_ntheta(m) + 1;
		lmm_json_check_rows(T, vv, m->ninf, m->ninf, "inference.vcov_varpar");
		lmm_json_check_rows(T, jv, m->ninf, m->p * m->p, "inference.jacobian");
		m->vcov_varpar = palloc(sizeof(double) * m->ninf * m->ninf);
		lmm_json_f8_rows(T, vv, m->ninf, m->ninf, m->vcov_varpar, "inference.vcov_varpar");
		m->jac = palloc_extended(sizeof(double) * m->ninf * m->p * m->p, MCXT_ALLOC_HUGE);
		lmm_json_f8_rows(T, jv, m->ninf, m->p * m->p, m->jac, "inference.jacobian");
	}
	if (st.type != jbvNull)
	{
		JsonbContainer *o = lmm_json_container(T, st, false, 4, "stats");
		JsonbValue	lv = lmm_json_key(T, o, "levels");
		LmmStats	s;
		LmmStatsMeta meta = {0, 0, NULL, NULL, -1, NULL, -1, NULL};
		const char *problem;

		/* lmm 0.6's one-term statistics, converted to the model's */
		lmm_stats_init(&s, m->p, m->q);
		lmm_json_check_rows(T, lv, m->nlevels, s.stride, "stats.levels");
		s.n = lmm_json_f8(T, lmm_json_key(T, o, "n"), "stats.n");
		lmm_json_f8_array(T, lmm_json_key(T, o, "mean"), m->p, s.mean, "stats.mean");
		lmm_json_f8_rows(T, lmm_json_key(T, o, "comom"), m->p, m->p, s.comom, "stats.comom");
		s.level = palloc_extended(sizeof(double) * (m->nlevels * s.stride + 1), MCXT_ALLOC_HUGE);
		lmm_json_f8_rows(T, lv, m->nlevels, s.stride, s.level, "stats.levels");
		s.nlevels = s.capacity = m->nlevels;
		problem = s.n != (double) m->n_obs ? "the statistics do not match the model's counts" :
			lmm_stats_check(&s, &meta);
		if (problem != NULL)
			lmm_json_bad(T, psprintf("\"stats\": %s", problem));
		m->tstats = palloc0(sizeof(LmmTermStats));
		lmm_stats_to_terms(&s, m->tstats);
	}
}

/* Append one random-effects term's JSON object. */
static void
append_term(StringInfo buf, const char *grp, const char *key_type, char **names,
			int q, const double *theta, char **levels, int64 nlevels,
			const double *b, const double *condvar)
{
	appendStringInfoString(buf, "{\"grp\": ");
	escape_json(buf, grp);
	appendStringInfoString(buf, ", \"key_type\": ");
	escape_json(buf, key_type);
	appendStringInfoString(buf, ", \"terms\": ");
	lmm_json_append_str_array(buf, names, q);
	appendStringInfoString(buf, ", \"theta\": ");
	lmm_json_append_f8_array(buf, theta, LMM_NTHETA(q));
	appendStringInfoString(buf, ", \"levels\": ");
	lmm_json_append_str_array(buf, levels, nlevels);
	appendStringInfoString(buf, ", \"b\": ");
	append_rows(buf, b, nlevels, q);
	appendStringInfoString(buf, ", \"condvar\": ");
	append_rows(buf, condvar, nlevels, q * q);
	appendStringInfoChar(buf, '}');
}

/* Read one random-effects term's JSON object (element i of "random"). */
static void
read_term(JsonbContainer *arr, int64 i, char **grp, char **key_type, int *q,
		  char ***names, double **theta, int64 *nlevels, char ***levels,
		  double **b, double **condvar)
{
	JsonbContainer *re = lmm_json_container(T, lmm_json_elem(arr, i), false, 7, "random[]");
	JsonbValue	bv = lmm_json_key(T, re, "b");
	JsonbValue	cv = lmm_json_key(T, re, "condvar");
	int64		n;

	*grp = lmm_json_str(T, lmm_json_key(T, re, "grp"), "grp");
	*key_type = lmm_json_str(T, lmm_json_key(T, re, "key_type"), "key_type");
	*names = lmm_json_str_array(T, lmm_json_key(T, re, "terms"), -1, &n, "random.terms");
	if (n < 1 || n > LMM_MAX_RANDOM)
		lmm_json_bad(T, "\"random.terms\" must have between 1 and 20 names");
	*q = (int) n;
	*theta = palloc(sizeof(double) * LMM_NTHETA(*q));
	lmm_json_f8_array(T, lmm_json_key(T, re, "theta"), LMM_NTHETA(*q), *theta, "theta");
	*levels = lmm_json_str_array(T, lmm_json_key(T, re, "levels"), -1, nlevels, "levels");
	lmm_json_check_rows(T, bv, *nlevels, *q, "b");
	lmm_json_check_rows(T, cv, *nlevels, *q * *q, "condvar");
	*b = palloc_extended(sizeof(double) * (*nlevels * *q + 1), MCXT_ALLOC_HUGE);
	lmm_json_f8_rows(T, bv, *nlevels, *q, *b, "b");
	*condvar = palloc_extended(sizeof(double) * (*nlevels * *q * *q + 1), MCXT_ALLOC_HUGE);
	lmm_json_f8_rows(T, cv, *nlevels, *q * *q, *condvar, "condvar");
}

PG_FUNCTION_INFO_V1(lmm_model_out);

/* Text output: JSON a person can read and any JSON tool can parse. */
Datum
lmm_model_out(PG_FUNCTION_ARGS)
{
	LmmModel	m;
	StringInfoData buf;
	int			k;

	lmm_model_from_datum(PG_GETARG_DATUM(0), &m);
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"lmm_model\": %u, \"method\": \"%s\", \"n_obs\": " INT64_FORMAT
					 ", \"n_groups\": " INT64_FORMAT ", \"n_dropped\": " INT64_FORMAT
					 ", \"n_eval\": %d, \"converged\": %s, \"singular\": %s",
					 LMM_MODEL_VERSION, (m.flags & LMM_MODEL_REML) ? "REML" : "ML",
					 m.n_obs, m.nlevels, m.n_dropped, m.n_eval,
					 (m.flags & LMM_MODEL_CONVERGED) ? "true" : "false",
					 (m.flags & LMM_MODEL_SINGULAR) ? "true" : "false");
	appendStringInfoString(&buf, ", \"criterion\": ");
	lmm_json_append_f8(&buf, m.criterion);
	appendStringInfoString(&buf, ", \"loglik\": ");
	lmm_json_append_f8(&buf, m.loglik);
	appendStringInfoString(&buf, ", \"aic\": ");
	lmm_json_append_f8(&buf, m.aic);
	appendStringInfoString(&buf, ", \"bic\": ");
	lmm_json_append_f8(&buf, m.bic);
	appendStringInfoString(&buf, ", \"sigma\": ");
	lmm_json_append_f8(&buf, m.sigma);

	appendStringInfoString(&buf, ", \"fixef\": {\"terms\": ");
	lmm_json_append_str_array(&buf, m.x_names, m.p);
	appendStringInfoString(&buf, ", \"estimate\": ");
	lmm_json_append_f8_array(&buf, m.beta, m.p);
	appendStringInfoString(&buf, ", \"vcov\": ");
	append_rows(&buf, m.vcov, m.p, m.p);
	appendStringInfoString(&buf, "}, \"random\": [");
	append_term(&buf, m.grp, m.key_type, m.z_names, m.q, m.theta, m.levels,
				m.nlevels, m.b, m.condvar);
	for (k = 0; k < m.nextra; k++)
	{
		const LmmModelTerm *t = &m.extra[k];

		appendStringInfoString(&buf, ", ");
		append_term(&buf, t->grp, t->key_type ? t->key_type : "text", t->z_names, t->q, t->theta, t->levels,
					t->nlevels, t->b, t->condvar);
	}
	appendStringInfoChar(&buf, ']');
	append_tail(&buf, &m);
	appendStringInfoString(&buf, ", \"formula\": ");
	escape_json(&buf, m.formula ? m.formula : "");
	append_tstats(&buf, &m);
	if (m.nfactors > 0)
	{
		appendStringInfoString(&buf, ", \"factors\": ");
		lmm_json_append_factors(&buf, m.nfactors, m.factors);
	}
	if (m.family != LMM_FAMILY_GAUSSIAN)
		appendStringInfo(&buf, ", \"family\": {\"family\": \"%s\", \"link\": \"%s\", \"nagq\": %d}",
						 lmm_family_name(m.family), lmm_link_name(m.link), m.nagq);
	appendStringInfoChar(&buf, '}');
	PG_RETURN_CSTRING(buf.data);
}

PG_FUNCTION_INFO_V1(lmm_model_in);

/* Text input: parse the JSON of lmm_model_out, check it fully, pack it. */
Datum
lmm_model_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	JsonbContainer *root = lmm_json_parse(T, str, -1);
	JsonbContainer *fixef;
	JsonbContainer *re;
	LmmModel	m;
	char	   *method;
	int64		n;
	int64		version;
	JsonbValue	fv;
	bool		has_factors;
	bool		has_family;
	JsonbValue	famv;
	int			nkeys;
	int			k;
	const char *problem;

	/*
	 * version 1 had 15 keys; 2 adds "inference" and "stats", 3 "formula", 4
	 * "terms_stats", and "factors" when the fixed part has factors
	 */
	version = lmm_json_count(T, lmm_json_key(T, root, "lmm_model"), "lmm_model");
	if (version < 1 || version > LMM_MODEL_VERSION)
		lmm_json_bad(T, "unsupported \"lmm_model\" format version");
	has_factors = version >= 4 && getKeyJsonValueFromContainer(root, "factors", 7, &fv) != NULL;
	has_family = version >= 4 && getKeyJsonValueFromContainer(root, "family", 6, &famv) != NULL;
	nkeys = 14 + version + (version > 1 ? 1 : 0) + (has_factors ? 1 : 0) + (has_family ? 1 : 0);
	if (JsonContainerSize(root) != nkeys)
		lmm_json_bad(T, psprintf("a version " INT64_FORMAT " value must have exactly the %d keys of lmm_model's output",
								 version, nkeys));

	memset(&m, 0, sizeof(m));
	method = lmm_json_str(T, lmm_json_key(T, root, "method"), "method");
	if (strcmp(method, "REML") == 0)
		m.flags |= LMM_MODEL_REML;
	else if (strcmp(method, "ML") != 0)
		lmm_json_bad(T, "\"method\" must be \"REML\" or \"ML\"");
	if (lmm_json_bool(T, lmm_json_key(T, root, "converged"), "converged"))
		m.flags |= LMM_MODEL_CONVERGED;
	if (lmm_json_bool(T, lmm_json_key(T, root, "singular"), "singular"))
		m.flags |= LMM_MODEL_SINGULAR;
	m.n_obs = lmm_json_count(T, lmm_json_key(T, root, "n_obs"), "n_obs");
	m.n_dropped = lmm_json_count(T, lmm_json_key(T, root, "n_dropped"), "n_dropped");
	n = lmm_json_count(T, lmm_json_key(T, root, "n_eval"), "n_eval");
	if (n > PG_INT32_MAX)
		lmm_json_bad(T, "\"n_eval\" is too large");
	m.n_eval = (int) n;
	m.criterion = lmm_json_f8(T, lmm_json_key(T, root, "criterion"), "criterion");
	m.loglik = lmm_json_f8(T, lmm_json_key(T, root, "loglik"), "loglik");
	m.aic = lmm_json_f8(T, lmm_json_key(T, root, "aic"), "aic");
	m.bic = lmm_json_f8(T, lmm_json_key(T, root, "bic"), "bic");
	m.sigma = lmm_json_f8(T, lmm_json_key(T, root, "sigma"), "sigma");

	fixef = lmm_json_container(T, lmm_json_key(T, root, "fixef"), false, 3, "fixef");
	m.x_names = lmm_json_str_array(T, lmm_json_key(T, fixef, "terms"), -1, &n, "fixef.terms");
	if (n < 1 || n > LMM_MAX_COLUMNS)
		lmm_json_bad(T, "\"fixef.terms\" must have between 1 and 1000 names");
	m.p = (int) n;
	m.beta = palloc(sizeof(double) * m.p);
	lmm_json_f8_array(T, lmm_json_key(T, fixef, "estimate"), m.p, m.beta, "fixef.estimate");
	m.vcov = palloc(sizeof(double) * m.p * m.p);
	lmm_json_f8_rows(T, lmm_json_key(T, fixef, "vcov"), m.p, m.p, m.vcov, "fixef.vcov");

	n = (version >= 3) ? -1 : 1;
	re = lmm_json_container(T, lmm_json_key(T, root, "random"), true, n, "random");
	n = JsonContainerSize(re);
	if (n < 1 || n > LMM_MAX_TERMS)
		lmm_json_bad(T, "\"random\" must have between 1 and 8 terms");
	read_term(re, 0, &m.grp, &m.key_type, &m.q, &m.z_names, &m.theta, &m.nlevels,
			  &m.levels, &m.b, &m.condvar);
	if (lmm_json_count(T, lmm_json_key(T, root, "n_groups"), "n_groups") != m.nlevels)
		lmm_json_bad(T, "\"n_groups\" must equal the number of levels");
	m.nextra = (int) n - 1;
	if (m.nextra > 0)
		m.flags |= LMM_MODEL_SEVERAL;
	m.extra = palloc0(sizeof(LmmModelTerm) * n);
	for (k = 0; k < m.nextra; k++)
	{
		LmmModelTerm *t = &m.extra[k];

		read_term(re, k + 1, &t->grp, &t->key_type, &t->q, &t->z_names, &t->theta,
				  &t->nlevels, &t->levels, &t->b, &t->condvar);
		if (t->key_type[0] == '\0')
			lmm_json_bad(T, "\"key_type\" of a random-effects term must not be empty");
	}
	if (version >= 3)
		m.formula = lmm_json_str(T, lmm_json_key(T, root, "formula"), "formula");
	if (version >= 2)
		read_tail(root, &m);
	if (version >= 4)
		read_tstats(root, &m);
	if (has_factors)
		m.factors = lmm_json_factors(T, fv, &m.nfactors);
	if (has_family)
	{
		JsonbContainer *fam = lmm_json_container(T, famv, false, 3, "family");
		LmmFamily	f;
		LmmLink		l;
		int64		q;

		if (!lmm_family_from_name(lmm_json_str(T, lmm_json_key(T, fam, "family"), "family.family"), &f) ||
			f == LMM_FAMILY_GAUSSIAN)
			lmm_json_bad(T, "\"family.family\" must be \"binomial\" or \"poisson\"");
		if (!lmm_link_from_name(lmm_json_str(T, lmm_json_key(T, fam, "link"), "family.link"), &l))
			lmm_json_bad(T, "\"family.link\" is not a link lmm knows");
		q = lmm_json_count(T, lmm_json_key(T, fam, "nagq"), "family.nagq");
		if (q > LMM_MAX_NAGQ)
			lmm_json_bad(T, "\"family.nagq\" must be between 0 and 25");
		m.family = f;
		m.link = l;
		m.nagq = (int) q;
		m.flags |= (uint32) l << LMM_MODEL_LINK_SHIFT;
	}

	problem = lmm_model_check(&m);
	if (problem == NULL)
		problem = lmm_model_check_unique_levels(&m);
	if (problem != NULL)
		lmm_json_bad(T, problem);
	PG_RETURN_BYTEA_P(lmm_model_to_datum(&m));
}

PG_FUNCTION_INFO_V1(lmm_packed_send);

/*
 * Binary output of lmm_model and lmm_stats alike: the packed form as it is
 * stored (portable, big-endian).
 */
Datum
lmm_packed_send(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/*
 * Error unless a string of a binary value is valid in the server encoding:
 * the same SQLSTATE as PostgreSQL's check, with what to do.
 */
void
lmm_verify_encoding(const char *type, const char *s)
{
	if (!pg_verifymbstr(s, strlen(s), true))
		ereport(ERROR,
				(errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE),
				 errmsg("invalid binary %s value: a string is not valid in encoding \"%s\"",
						type, GetDatabaseEncodingName()),
				 errdetail("Send the bytes that %s's binary output produced on a server with the same encoding, or use the text form.",
						   type)));
}

PG_FUNCTION_INFO_V1(lmm_model_recv);

/* Binary input: every check of lmm_model_in, plus the strings' encoding. */
Datum
lmm_model_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	size_t		len = buf->len - buf->cursor;
	const unsigned char *data = (const unsigned char *) buf->data + buf->cursor;
	LmmModel	m;
	const char *problem = lmm_model_unpack(data, len, &m);
	int64		j;
	int			k,
				t;

	if (problem == NULL)
		problem = lmm_model_check_unique_levels(&m);
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary lmm_model value: %s", problem),
				 errdetail("Send the bytes that lmm_model's binary output produced.")));
	lmm_verify_encoding(T, m.grp);
	lmm_verify_encoding(T, m.key_type);
	for (k = 0; k < m.p; k++)
		lmm_verify_encoding(T, m.x_names[k]);
	for (k = 0; k < m.q; k++)
		lmm_verify_encoding(T, m.z_names[k]);
	for (j = 0; j < m.nlevels; j++)
		lmm_verify_encoding(T, m.levels[j]);
	if (m.formula)
		lmm_verify_encoding(T, m.formula);
	lmm_verify_factors_encoding(T, m.nfactors, m.factors);
	for (t = 0; t < m.nextra; t++)
	{
		const LmmModelTerm *et = &m.extra[t];

		lmm_verify_encoding(T, et->grp);
		if (et->key_type)
			lmm_verify_encoding(T, et->key_type);
		for (k = 0; k < et->q; k++)
			lmm_verify_encoding(T, et->z_names[k]);
		for (j = 0; j < et->nlevels; j++)
			lmm_verify_encoding(T, et->levels[j]);
	}
	buf->cursor = buf->len;
	PG_RETURN_BYTEA_P(lmm_model_to_datum(&m));
}

/*
 * Error for a generalized model given to what is a linear mixed model's
 * (profile intervals, the bootstrap, Kenward-Roger): a GLMM keeps no
 * statistics to refit from.
 */
void
lmm_require_lmm(const LmmModel *m, const char *what)
{
	if (m->family != LMM_FAMILY_GAUSSIAN)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s is not available for a generalized model (family %s)",
						what, lmm_family_name(m->family)),
				 errdetail("It refits the model from its statistics, and a generalized model is fitted from its rows."),
				 errhint("Use Wald intervals (lmm_confint(m, 'method=wald')) and z tests (lmm_fixef, lmm_contrast), or lmm_anova(a, b).")));
}
