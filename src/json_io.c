/*
 * json_io.c
 *	  JSON writing and reading shared by the text forms of lmm_model and
 *	  lmm_stats.  Numbers are written in their shortest exact decimal form,
 *	  so text round trips are exact; reading goes through jsonb, and every
 *	  malformed value is an error naming the type and the field.
 */
#include "postgres.h"

#include <math.h>

#include "common/shortest_dec.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "lmm_pg.h"

/* Append a double in its shortest exact decimal form (JSON-compatible). */
void
lmm_json_append_f8(StringInfo buf, double v)
{
	char		digits[DOUBLE_SHORTEST_DECIMAL_LEN];

	double_to_shortest_decimal_buf(v, digits);
	appendStringInfoString(buf, digits);
}

/* Append "[v0, v1, ...]". */
void
lmm_json_append_f8_array(StringInfo buf, const double *v, int n)
{
	int			k;

	appendStringInfoChar(buf, '[');
	for (k = 0; k < n; k++)
	{
		if (k > 0)
			appendStringInfoString(buf, ", ");
		lmm_json_append_f8(buf, v[k]);
	}
	appendStringInfoChar(buf, ']');
}

/* Append a JSON array of strings. */
void
lmm_json_append_str_array(StringInfo buf, char **s, int64 n)
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

/*
 * The bytes a JSON string of lower-case hex digits encodes, as a new buffer
 * of *len bytes: the text form of a binary part of a value.
 */
char *
lmm_json_hex(const char *type, JsonbValue v, const char *what, size_t *len)
{
	const char *hex;
	size_t		n,
				i;
	char	   *bin;

	if (v.type != jbvString)
		lmm_json_bad(type, psprintf("\"%s\" must be a string of hex digits", what));
	hex = v.val.string.val;
	n = v.val.string.len;
	for (i = 0; i < n; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			break;
	if (i < n || n % 2 != 0)
		lmm_json_bad(type, psprintf("\"%s\" must be an even number of lower-case hex digits", what));
	bin = palloc_extended(n / 2 + 1, MCXT_ALLOC_HUGE);
	hex_decode(hex, n, bin);
	*len = n / 2;
	return bin;
}

/* Raise the error for malformed text of the given type. */
void
lmm_json_bad(const char *type, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid input syntax for type %s: %s", type, problem),
			 errdetail("%s text is the JSON that %s's output produces; do not edit its structure.",
					   type, type)));
}

/*
 * Parse text as jsonb and return its top-level object, which must have
 * exactly nkeys keys (any number when nkeys is negative).
 */
JsonbContainer *
lmm_json_parse(const char *type, const char *text, int nkeys)
{
	Jsonb	   *jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));

	if (!JsonContainerIsObject(&jb->root) || JsonContainerIsScalar(&jb->root))
		lmm_json_bad(type, "the value must be a JSON object");
	if (nkeys >= 0 && JsonContainerSize(&jb->root) != nkeys)
		lmm_json_bad(type, psprintf("the object must have exactly the %d keys that %s's output has",
									nkeys, type));
	return &jb->root;
}

/* The value under key in a JSON object; error if missing. */
JsonbValue
lmm_json_key(const char *type, JsonbContainer *obj, const char *key)
{
	JsonbValue	v;

	if (getKeyJsonValueFromContainer(obj, key, strlen(key), &v) == NULL)
		lmm_json_bad(type, psprintf("missing key \"%s\"", key));
	return v;
}

/* A JSON object or array value's container, checking its kind and (n >= 0) size. */
JsonbContainer *
lmm_json_container(const char *type, JsonbValue v, bool array, int64 n,
				   const char *what)
{
	if (v.type != jbvBinary ||
		(array ? !JsonContainerIsArray(v.val.binary.data) :
		 !JsonContainerIsObject(v.val.binary.data)))
		lmm_json_bad(type, psprintf("\"%s\" must be a JSON %s", what, array ? "array" : "object"));
	if (n >= 0 && JsonContainerSize(v.val.binary.data) != n)
		lmm_json_bad(type, psprintf("\"%s\" must have " INT64_FORMAT " elements", what, n));
	return v.val.binary.data;
}

/* A finite JSON number as a double. */
double
lmm_json_f8(const char *type, JsonbValue v, const char *what)
{
	double		d;

	if (v.type != jbvNumeric)
		lmm_json_bad(type, psprintf("\"%s\" must be a number", what));
	d = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
										   NumericGetDatum(v.val.numeric)));
	if (!isfinite(d))
		lmm_json_bad(type, psprintf("\"%s\" must be finite", what));
	return d;
}

/* A non-negative integral JSON number that fits in int64. */
int64
lmm_json_count(const char *type, JsonbValue v, const char *what)
{
	double		d = lmm_json_f8(type, v, what);

	if (d < 0 || d > 9.0e15 || d != floor(d))
		lmm_json_bad(type, psprintf("\"%s\" must be a non-negative integer", what));
	return (int64) d;
}

/* A JSON string as a new C string. */
char *
lmm_json_str(const char *type, JsonbValue v, const char *what)
{
	if (v.type != jbvString)
		lmm_json_bad(type, psprintf("\"%s\" must be a string", what));
	return pnstrdup(v.val.string.val, v.val.string.len);
}

/* A JSON boolean. */
bool
lmm_json_bool(const char *type, JsonbValue v, const char *what)
{
	if (v.type != jbvBool)
		lmm_json_bad(type, psprintf("\"%s\" must be true or false", what));
	return v.val.boolean;
}

/* Element i of a JSON array container. */
JsonbValue
lmm_json_elem(JsonbContainer *arr, int64 i)
{
	return *getIthJsonbValueFromContainer(arr, (uint32) i);
}

/* Fill out[0..n) from a JSON array of n numbers. */
void
lmm_json_f8_array(const char *type, JsonbValue v, int64 n, double *out,
				  const char *what)
{
	JsonbContainer *arr = lmm_json_container(type, v, true, n, what);
	int64		i;

	for (i = 0; i < n; i++)
		out[i] = lmm_json_f8(type, lmm_json_elem(arr, i), what);
}

/* A JSON array of n strings (n < 0: any length, returned in *n_out). */
char	  **
lmm_json_str_array(const char *type, JsonbValue v, int64 n, int64 *n_out,
				   const char *what)
{
	JsonbContainer *arr = lmm_json_container(type, v, true, n, what);
	int64		len = JsonContainerSize(arr);
	char	  **out = palloc_extended(sizeof(char *) * (len + 1), MCXT_ALLOC_HUGE);
	int64		i;

	for (i = 0; i < len; i++)
	{
		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		out[i] = lmm_json_str(type, lmm_json_elem(arr, i), what);
	}
	if (n_out)
		*n_out = len;
	return out;
}

/*
 * Error unless v is a JSON array of n arrays of w elements, checked before
 * the caller allocates room for their numbers: the sizes come from other
 * parts of the text, and a short text must not make us allocate gigabytes.
 */
void
lmm_json_check_rows(const char *type, JsonbValue v, int64 n, int w,
					const char *what)
{
	JsonbContainer *arr = lmm_json_container(type, v, true, n, what);
	int64		i;

	for (i = 0; i < n; i++)
	{
		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		lmm_json_container(type, lmm_json_elem(arr, i), true, w, what);
	}
}

/* Fill n rows of width w from a JSON array of n arrays of w numbers. */
void
lmm_json_f8_rows(const char *type, JsonbValue v, int64 n, int w, double *out,
				 const char *what)
{
	JsonbContainer *arr = lmm_json_container(type, v, true, n, what);
	int64		i;

	for (i = 0; i < n; i++)
	{
		if ((i & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		lmm_json_f8_array(type, lmm_json_elem(arr, i), w, out + i * w, what);
	}
}
