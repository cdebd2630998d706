/*
 * model_io.c
 *	  The lmm_model type: a varlena holding the core's packed binary form,
 *	  with readable JSON as its text form and the packed form on the wire.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "libpq/pqformat.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "core/lmm_stats.h"
#include "lmm_pg.h"

/* Pack a model into a new varlena after checking it. */
bytea *
lmm_model_to_datum(const LmmModel *m)
{
	const char *problem = lmm_model_check(m);
	size_t		size;
	bytea	   *result;

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("fitted model is not valid: %s", problem),
				 errdetail("This usually means the data overflow double precision; rescale y, x or z.")));
	size = lmm_model_packed_size(m);
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("lmm_model value would take %zu bytes, more than a value can hold", size),
				 errdetail("A model holds every group's estimates; fit fewer groups per model.")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	lmm_model_pack(m, (unsigned char *) VARDATA(result));
	return result;
}

/* Unpack a stored model; a value that fails validation is reported as corrupt. */
void
lmm_model_from_datum(Datum d, LmmModel *m)
{
	bytea	   *v = DatumGetByteaPP(d);
	const char *problem = lmm_model_unpack((const unsigned char *) VARDATA_ANY(v),
										   VARSIZE_ANY_EXHDR(v), m);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("corrupt lmm_model value: %s", problem),
				 errdetail("Refit the model with lmm_fit.")));
}

/* Append a double in its shortest exact decimal form (JSON-compatible). */
static void
append_f8(StringInfo buf, double v)
{
	char		digits[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, digits);
	appendStringInfoString(buf, digits);
}

/* Append "[v0, v1, ...]". */
static void
append_f8_array(StringInfo buf, const double *v, int n)
{
	int			k;

	appendStringInfoChar(buf, '[');
	for (k = 0; k < n; k++)
	{
		if (k > 0)
			appendStringInfoString(buf, ", ");
		append_f8(buf, v[k]);
	}
	appendStringInfoChar(buf, ']');
}

/* Append a JSON array of strings. */
static void
append_str_array(StringInfo buf, char **s, int64 n)
{
	int64		k;

	appendStringInfoChar(buf, '[');
	for (k = 0; k < n; k++)
	{
		if (k > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, s[k]);
	}
	appendStringInfoChar(buf, ']');
}

PG_FUNCTION_INFO_V1(lmm_model_out);

/* Text output: JSON a person can read and any JSON tool can parse. */
Datum
lmm_model_out(PG_FUNCTION_ARGS)
{
	LmmModel	m;
	StringInfoData buf;
	int			k;
	int64		j;

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
	append_f8(&buf, m.criterion);
	appendStringInfoString(&buf, ", \"loglik\": ");
	append_f8(&buf, m.loglik);
	appendStringInfoString(&buf, ", \"aic\": ");
	append_f8(&buf, m.aic);
	appendStringInfoString(&buf, ", \"bic\": ");
	append_f8(&buf, m.bic);
	appendStringInfoString(&buf, ", \"sigma\": ");
	append_f8(&buf, m.sigma);

	appendStringInfoString(&buf, ", \"fixef\": {\"terms\": ");
	append_str_array(&buf, m.x_names, m.p);
	appendStringInfoString(&buf, ", \"estimate\": ");
	append_f8_array(&buf, m.beta, m.p);
	appendStringInfoString(&buf, ", \"vcov\": [");
	for (k = 0; k < m.p; k++)
	{
		if (k > 0)
			appendStringInfoString(&buf, ", ");
		append_f8_array(&buf, m.vcov + k * m.p, m.p);
	}
	appendStringInfoString(&buf, "]}, \"random\": [{\"grp\": ");
	escape_json(&buf, m.grp);
	appendStringInfoString(&buf, ", \"key_type\": ");
	escape_json(&buf, m.key_type);
	appendStringInfoString(&buf, ", \"terms\": ");
	append_str_array(&buf, m.z_names, m.q);
	appendStringInfoString(&buf, ", \"theta\": ");
	append_f8_array(&buf, m.theta, LMM_NTHETA(m.q));
	appendStringInfoString(&buf, ", \"levels\": ");
	append_str_array(&buf, m.levels, m.nlevels);
	appendStringInfoString(&buf, ", \"b\": [");
	for (j = 0; j < m.nlevels; j++)
	{
		if (j > 0)
			appendStringInfoString(&buf, ", ");
		append_f8_array(&buf, m.b + j * m.q, m.q);
	}
	appendStringInfoString(&buf, "], \"condvar\": [");
	for (j = 0; j < m.nlevels; j++)
	{
		if (j > 0)
			appendStringInfoString(&buf, ", ");
		append_f8_array(&buf, m.condvar + j * m.q * m.q, m.q * m.q);
	}
	appendStringInfoString(&buf, "]}]}");
	PG_RETURN_CSTRING(buf.data);
}

/* Raise the error for malformed lmm_model text. */
static void
bad_text(const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type lmm_model: %s", problem),
			 errdetail("lmm_model text is the JSON that lmm_model's output produces; do not edit its structure.")));
}

/* The value under key in a JSON object; error if missing. */
static JsonbValue
json_key(JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(obj, key, strlen(key), &v) == NULL)
		bad_text(psprintf("missing key \"%s\"", key));
	return v;
}

/* A JSON object or array value's container, checking its kind and (n >= 0) size. */
static JsonbContainer *
json_container(JsonbValue v, bool array, int64 n, const char *what)
{
	if (v.type != jbvBinary ||
		(array ? !JsonContainerIsArray(v.val.binary.data) :
		 !JsonContainerIsObject(v.val.binary.data)))
		bad_text(psprintf("\"%s\" must be a JSON %s", what, array ? "array" : "object"));
	if (n >= 0 && JsonContainerSize(v.val.binary.data) != n)
		bad_text(psprintf("\"%s\" must have " INT64_FORMAT " elements", what, n));
	return v.val.binary.data;
}

/* A finite JSON number as a double. */
static double
json_f8(JsonbValue v, const char *what)
{
	double		d;

	if (v.type != jbvNumeric)
		bad_text(psprintf("\"%s\" must be a number", what));
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
											NumericGetDatum(v.val.numeric)));
	if (!isfinite(d))
		bad_text(psprintf("\"%s\" must be finite", what));
	return d;
}

/* A non-negative integral JSON number that fits in int64. */
static int64
json_count(JsonbValue v, const char *what)
{
	double		d = json_f8(v, what);

	if (d < 0 || d > 9.0e15 || d != floor(d))
		bad_text(psprintf("\"%s\" must be a non-negative integer", what));
	return (int64) d;
}

/* A JSON string as a new C string. */
static char *
json_str(JsonbValue v, const char *what)
{
	if (v.type != jbvString)
		bad_text(psprintf("\"%s\" must be a string", what));
	return pnstrdup(v.val.string.val, v.val.string.len);
}

/* A JSON boolean. */
static bool
json_bool(JsonbValue v, const char *what)
{
	if (v.type != jbvBool)
		bad_text(psprintf("\"%s\" must be true or false", what));
	return v.val.boolean;
}

/* Element i of a JSON array container. */
static JsonbValue
json_elem(JsonbContainer *arr, int64 i)
{
	return *getIthJsonbValueFromContainer(arr, (uint32) i);
}

/* Fill out[0..n) from a JSON array of n numbers. */
static void
json_f8_array(JsonbValue v, int64 n, double *out, const char *what)
{
	JsonbContainer *arr = json_container(v, true, n, what);
	int64		i;

	for (i = 0; i < n; i++)
		out[i] = json_f8(json_elem(arr, i), what);
}

/* A JSON array of n strings (n < 0: any length, returned in *n_out). */
static char **
json_str_array(JsonbValue v, int64 n, int64 *n_out, const char *what)
{
	JsonbContainer *arr = json_container(v, true, n, what);
	int64		len = JsonContainerSize(arr);
	char	  **out = palloc_extended(sizeof(char *) * (len + 1), MCXT_ALLOC_HUGE);
	int64		i;

	for (i = 0; i < len; i++)
		out[i] = json_str(json_elem(arr, i), what);
	if (n_out)
		*n_out = len;
	return out;
}

/* Fill n rows of width w from a JSON array of n arrays of w numbers. */
static void
json_f8_rows(JsonbValue v, int64 n, int w, double *out, const char *what)
{
	JsonbContainer *arr = json_container(v, true, n, what);
	int64		i;

	for (i = 0; i < n; i++)
	{
		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		json_f8_array(json_elem(arr, i), w, out + i * w, what);
	}
}

PG_FUNCTION_INFO_V1(lmm_model_in);

/* Text input: parse the JSON of lmm_model_out, check it fully, pack it. */
Datum
lmm_model_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(str)));
	JsonbContainer *root = &jb->root;
	JsonbContainer *fixef;
	JsonbContainer *re;
	LmmModel	m;
	char	   *method;
	int64		n;
	const char *problem;

	if (!JsonContainerIsObject(root) || JsonContainerIsScalar(root))
		bad_text("the value must be a JSON object");
	if (JsonContainerSize(root) != 15)
		bad_text("the object must have exactly the 15 keys that lmm_model's output has");
	if (json_count(json_key(root, "lmm_model"), "lmm_model") != LMM_MODEL_VERSION)
		bad_text("unsupported \"lmm_model\" format version");

	memset(&m, 0, sizeof(m));
	method = json_str(json_key(root, "method"), "method");
	if (strcmp(method, "REML") == 0)
		m.flags |= LMM_MODEL_REML;
	else if (strcmp(method, "ML") != 0)
		bad_text("\"method\" must be \"REML\" or \"ML\"");
	if (json_bool(json_key(root, "converged"), "converged"))
		m.flags |= LMM_MODEL_CONVERGED;
	if (json_bool(json_key(root, "singular"), "singular"))
		m.flags |= LMM_MODEL_SINGULAR;
	m.n_obs = json_count(json_key(root, "n_obs"), "n_obs");
	m.n_dropped = json_count(json_key(root, "n_dropped"), "n_dropped");
	n = json_count(json_key(root, "n_eval"), "n_eval");
	if (n > PG_INT32_MAX)
		bad_text("\"n_eval\" is too large");
	m.n_eval = (int) n;
	m.criterion = json_f8(json_key(root, "criterion"), "criterion");
	m.loglik = json_f8(json_key(root, "loglik"), "loglik");
	m.aic = json_f8(json_key(root, "aic"), "aic");
	m.bic = json_f8(json_key(root, "bic"), "bic");
	m.sigma = json_f8(json_key(root, "sigma"), "sigma");

	fixef = json_container(json_key(root, "fixef"), false, 3, "fixef");
	m.x_names = json_str_array(json_key(fixef, "terms"), -1, &n, "fixef.terms");
	if (n < 1 || n > LMM_MAX_COLUMNS)
		bad_text("\"fixef.terms\" must have between 1 and 1000 names");
	m.p = (int) n;
	m.beta = palloc(sizeof(double) * m.p);
	json_f8_array(json_key(fixef, "estimate"), m.p, m.beta, "fixef.estimate");
	m.vcov = palloc(sizeof(double) * m.p * m.p);
	json_f8_rows(json_key(fixef, "vcov"), m.p, m.p, m.vcov, "fixef.vcov");

	re = json_container(json_key(root, "random"), true, 1, "random");
	re = json_container(json_elem(re, 0), false, 7, "random[0]");
	m.grp = json_str(json_key(re, "grp"), "grp");
	m.key_type = json_str(json_key(re, "key_type"), "key_type");
	m.z_names = json_str_array(json_key(re, "terms"), -1, &n, "random.terms");
	if (n < 1 || n > LMM_MAX_RANDOM)
		bad_text("\"random.terms\" must have between 1 and 20 names");
	m.q = (int) n;
	m.theta = palloc(sizeof(double) * LMM_NTHETA(m.q));
	json_f8_array(json_key(re, "theta"), LMM_NTHETA(m.q), m.theta, "theta");
	m.levels = json_str_array(json_key(re, "levels"), -1, &m.nlevels, "levels");
	if (json_count(json_key(root, "n_groups"), "n_groups") != m.nlevels)
		bad_text("\"n_groups\" must equal the number of levels");
	m.b = palloc_extended(sizeof(double) * (m.nlevels * m.q + 1), MCXT_ALLOC_HUGE);
	json_f8_rows(json_key(re, "b"), m.nlevels, m.q, m.b, "b");
	m.condvar = palloc_extended(sizeof(double) * (m.nlevels * m.q * m.q + 1), MCXT_ALLOC_HUGE);
	json_f8_rows(json_key(re, "condvar"), m.nlevels, m.q * m.q, m.condvar, "condvar");

	problem = lmm_model_check(&m);
	if (problem != NULL)
		bad_text(problem);
	PG_RETURN_BYTEA_P(lmm_model_to_datum(&m));
}

PG_FUNCTION_INFO_V1(lmm_model_send);

/* Binary output: the packed form as it is stored (portable, big-endian). */
Datum
lmm_model_send(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
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
	int			k;

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary lmm_model value: %s", problem),
				 errdetail("Send the bytes that lmm_model's binary output produced.")));
	pg_verifymbstr(m.grp, strlen(m.grp), false);
	pg_verifymbstr(m.key_type, strlen(m.key_type), false);
	for (k = 0; k < m.p; k++)
		pg_verifymbstr(m.x_names[k], strlen(m.x_names[k]), false);
	for (k = 0; k < m.q; k++)
		pg_verifymbstr(m.z_names[k], strlen(m.z_names[k]), false);
	for (j = 0; j < m.nlevels; j++)
		pg_verifymbstr(m.levels[j], strlen(m.levels[j]), false);
	buf->cursor = buf->len;
	PG_RETURN_BYTEA_P(lmm_model_to_datum(&m));
}
