/*
 * stats_io.c
 *	  The lmm_stats type: streamed statistics as a value that can be stored,
 *	  merged and shipped between servers.  The stored form is the packed
 *	  binary form (also the wire form, sent by lmm_packed_send in
 *	  model_io.c); the text form is JSON.  Also the
 *	  plain function lmm_fit(lmm_stats [, options]).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"

#include "terms_state.h"

/* The type name in input errors. */
static const char T[] = "lmm_stats";

/* Append a JSON array of names, or null when none were given. */
static void
append_names(StringInfo buf, int n, char **names)
{
	if (n < 0)
		appendStringInfoString(buf, "null");
	else
		lmm_json_append_str_array(buf, names, n);
}

PG_FUNCTION_INFO_V1(lmm_stats_out);

/*
 * Text output: JSON with the keys in their type's text form and each level
 * as one array [n_j, means of v, co-moments of z against v]; several-term
 * statistics as the hex digits of their binary form.
 */
Datum
lmm_stats_out(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	LmmAggState *st;
	LmmStats   *s;
	StringInfoData buf;
	Oid			outfn;
	bool		isvarlena;
	FmgrInfo	out;
	int64		j;
	int			k;

	if (lmm_is_terms_stats(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)))
		PG_RETURN_CSTRING(lmm_tstats_out(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)));
	st = lmm_state_unpack(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), LMM_FROM_STORED);
	s = &st->stats;
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"lmm_stats\": %u, \"key_type\": ", LMM_STATS_VERSION);
	escape_json(&buf, format_type_be_qualified(st->key_type));
	appendStringInfoString(&buf, ", \"g_name\": ");
	escape_json(&buf, st->opts.g_name);
	appendStringInfoString(&buf, ", \"x_names\": ");
	append_names(&buf, st->opts.n_x_names, st->opts.x_names);
	appendStringInfoString(&buf, ", \"z_names\": ");
	append_names(&buf, st->opts.n_z_names, st->opts.z_names);
	appendStringInfo(&buf, ", \"n_dropped\": " INT64_FORMAT ", \"p\": %d, \"q\": %d, \"n\": ",
					 st->n_dropped, s->p, s->q);
	lmm_json_append_f8(&buf, s->n);
	appendStringInfoString(&buf, ", \"mean\": ");
	lmm_json_append_f8_array(&buf, s->mean, s->p);
	appendStringInfoString(&buf, ", \"comom\": [");
	for (k = 0; k < s->p; k++)
	{
		if (k > 0)
			appendStringInfoString(&buf, ", ");
		lmm_json_append_f8_array(&buf, s->comom + (size_t) k * s->p, s->p);
	}
	appendStringInfoString(&buf, "], \"keys\": [");
	getTypeOutputInfo(st->key_type, &outfn, &isvarlena);
	fmgr_info(outfn, &out);
	for (j = 0; j < s->nlevels; j++)
	{
		if ((j & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		if (j > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, OutputFunctionCall(&out, st->keys[j]));
	}
	appendStringInfoString(&buf, "], \"levels\": [");
	for (j = 0; j < s->nlevels; j++)
	{
		if (j > 0)
			appendStringInfoString(&buf, ", ");
		lmm_json_append_f8_array(&buf, s->level + (size_t) j * s->stride, s->stride);
	}
	appendStringInfoString(&buf, "]}");
	PG_RETURN_CSTRING(buf.data);
}

/* A JSON array of names, or null, into *n (-1 for null) and the names. */
static char **
json_names(JsonbContainer *root, const char *key, int *n)
{
	JsonbValue	v = lmm_json_key(T, root, key);
	int64		len;
	char	  **names;

	if (v.type == jbvNull)
	{
		*n = -1;
		return NULL;
	}
	names = lmm_json_str_array(T, v, -1, &len, key);
	if (len > LMM_MAX_COLUMNS)
		lmm_json_bad(T, psprintf("\"%s\" has too many names", key));
	*n = (int) len;
	return names;
}

PG_FUNCTION_INFO_V1(lmm_stats_in);

/* Text input: parse the JSON of lmm_stats_out, check it fully, pack it. */
Datum
lmm_stats_in(PG_FUNCTION_ARGS)
{
	JsonbContainer *root = lmm_json_parse(T, PG_GETARG_CSTRING(0), -1);
	JsonbValue	tv;
	LmmStats	s;
	LmmStatsMeta meta;
	LmmAggState *st;
	char	  **key_texts;
	int64		p,
				q,
				J,
				j;
	double		n;
	int			a,
				k;
	const char *problem;
	Oid			infn;
	Oid			ioparam;
	FmgrInfo	in;

	if (getKeyJsonValueFromContainer(root, "lmm_stats_terms", 15, &tv) != NULL)
		PG_RETURN_BYTEA_P(lmm_tstats_in(root));
	if (JsonContainerSize(root) != 13)
		lmm_json_bad(T, "the object must have exactly the 13 keys that lmm_stats's output has");
	if (lmm_json_count(T, lmm_json_key(T, root, "lmm_stats"), "lmm_stats") != LMM_STATS_VERSION)
		lmm_json_bad(T, "unsupported \"lmm_stats\" format version");
	memset(&meta, 0, sizeof(meta));
	meta.key_type = lmm_json_str(T, lmm_json_key(T, root, "key_type"), "key_type");
	meta.g_name = lmm_json_str(T, lmm_json_key(T, root, "g_name"), "g_name");
	meta.x_names = json_names(root, "x_names", &meta.n_x_names);
	meta.z_names = json_names(root, "z_names", &meta.n_z_names);
	meta.n_dropped = lmm_json_count(T, lmm_json_key(T, root, "n_dropped"), "n_dropped");
	p = lmm_json_count(T, lmm_json_key(T, root, "p"), "p");
	q = lmm_json_count(T, lmm_json_key(T, root, "q"), "q");
	if (!(p == 0 && q == 0) &&
		(p < 1 || p > LMM_MAX_COLUMNS || q < 1 || q > LMM_MAX_RANDOM))
		lmm_json_bad(T, "\"p\" or \"q\" is out of range");
	n = lmm_json_f8(T, lmm_json_key(T, root, "n"), "n");

	memset(&s, 0, sizeof(s));
	if (p > 0)
		lmm_stats_init(&s, (int) p, (int) q);
	lmm_json_f8_array(T, lmm_json_key(T, root, "mean"), p, s.mean, "mean");
	lmm_json_f8_rows(T, lmm_json_key(T, root, "comom"), p, (int) p, s.comom, "comom");
	for (a = 0; a < p; a++)
		for (k = a + 1; k < p; k++)
			if (s.comom[a * p + k] != s.comom[k * p + a])
				lmm_json_bad(T, "\"comom\" must be symmetric");
	key_texts = lmm_json_str_array(T, lmm_json_key(T, root, "keys"), -1, &J, "keys");
	if (p == 0 && J > 0)
		lmm_json_bad(T, "statistics without columns cannot have levels");
	if (p > 0)
	{
		JsonbValue	lv = lmm_json_key(T, root, "levels");

		/* sizes first: a short text must not claim gigabytes */
		lmm_json_check_rows(T, lv, J, s.stride, "levels");
		s.level = palloc_extended(sizeof(double) * s.stride * (J + 1), MCXT_ALLOC_HUGE);
		s.nlevels = s.capacity = J;
		lmm_json_f8_rows(T, lv, J, s.stride, s.level, "levels");
		for (j = 0; j < J; j++)
			s.n += LMM_LEVEL_N(s.level + (size_t) j * s.stride);
	}
	else
		lmm_json_container(T, lmm_json_key(T, root, "levels"), true, 0, "levels");
	if (n != s.n)
		lmm_json_bad(T, "\"n\" must equal the sum of the level counts");
	problem = lmm_stats_check(&s, &meta);
	if (problem != NULL)
		lmm_json_bad(T, problem);

	st = lmm_state_from_parts(&s, &meta);
	getTypeInputInfo(st->key_type, &infn, &ioparam);
	fmgr_info(infn, &in);
	for (j = 0; j < J; j++)
	{
		if ((j & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		st->keys[j] = InputFunctionCall(&in, key_texts[j], ioparam, -1);
	}
	lmm_state_check_unique(st, false);
	PG_RETURN_BYTEA_P(lmm_state_pack(st, false));
}

PG_FUNCTION_INFO_V1(lmm_stats_recv);

/*
 * Binary input: every check of lmm_stats_in, plus the strings' encoding;
 * the magic tells one-term from several-term statistics.
 */
Datum
lmm_stats_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	const char *data = buf->data + buf->cursor;
	size_t		len = buf->len - buf->cursor;
	LmmAggState *st;

	if (lmm_is_terms_stats(data, len))
	{
		TermsState *ts = lmm_tstats_unpack(data, len, LMM_FROM_WIRE);

		buf->cursor = buf->len;
		PG_RETURN_BYTEA_P(lmm_tstats_pack(ts, false));
	}
	st = lmm_state_unpack(data, len, LMM_FROM_WIRE);
	lmm_state_check_unique(st, true);
	buf->cursor = buf->len;
	PG_RETURN_BYTEA_P(lmm_state_pack(st, false));
}

PG_FUNCTION_INFO_V1(lmm_fit_stats);

/*
 * lmm_fit(s lmm_stats [, options text]): fit from statistics of one term or
 * of several.  Only the method may be chosen here; the names were fixed
 * when the statistics were computed (several terms: by their spec).
 */
Datum
lmm_fit_stats(PG_FUNCTION_ARGS)
{
	LmmOptions	opts;
	bytea	   *v;
	LmmAggState *st;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	lmm_parse_options(PG_NARGS() > 1 && !PG_ARGISNULL(1) ?
					  text_to_cstring(PG_GETARG_TEXT_PP(1)) : NULL, &opts);
	if (opts.n_x_names >= 0 || opts.n_z_names >= 0 || opts.g_name_given)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lmm_fit on statistics takes only the option \"method\""),
				 errdetail("Names are fixed when the statistics are computed: pass x_names, z_names and g_name to lmm_stats.")));
	v = PG_GETARG_BYTEA_PP(0);
	if (lmm_is_terms_stats(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)))
	{
		TermsState *ts = lmm_tstats_unpack(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v),
										   LMM_FROM_STORED);

		if (ts->stats.n == 0)
			PG_RETURN_NULL();
		PG_RETURN_DATUM(lmm_terms_state_fit(ts, opts.reml));
	}
	st = lmm_state_unpack(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), LMM_FROM_STORED);
	if (!st->started)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(lmm_state_fit(st, opts.reml));
}
