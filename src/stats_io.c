/*
 * stats_io.c
 *	  The lmm_stats type: the statistics of a model (of one term or of a
 *	  formula) as a value that can be stored, merged and shipped between
 *	  servers.  The stored form is the packed binary form of state.c (also
 *	  the wire form, sent by lmm_packed_send in model_io.c); the text form
 *	  is JSON holding its hex digits.  lmm 0.6's values, binary or JSON,
 *	  are read and converted.  Also the plain function
 *	  lmm_fit(lmm_stats [, options]).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "state.h"

/* The type name in input errors. */
static const char T[] = "lmm_stats";

/* The version of the text form: 1 was lmm 0.6's JSON of one-term statistics. */
#define STATS_TEXT_VERSION 2

/*
 * Whether packed bytes are in a form lmm_state_pack writes now: statistics,
 * or an aggregate's partial state with rows.
 */
static bool
is_current(const char *data, size_t len)
{
	const unsigned char *b = (const unsigned char *) data;
	uint32		magic = len >= 8 ?
		((uint32) b[0] << 24) | ((uint32) b[1] << 16) | ((uint32) b[2] << 8) | b[3] : 0;

	return magic == LMM_ROWS_MAGIC ||
		(magic == LMM_TERMS_MAGIC &&
		 (((uint32) b[4] << 24) | ((uint32) b[5] << 16) | ((uint32) b[6] << 8) | b[7]) == LMM_TERMS_VERSION);
}

/*
 * The packed form of a value read from outside: a partial state (with its
 * options or rows) stays one, so Citus can pass states as text.
 */
static bytea *
repack_input(LmmAggState *st, bool binary)
{
	lmm_state_check_unique(st, binary);
	return lmm_state_pack(st, st->keep_rows || st->options != NULL);
}

PG_FUNCTION_INFO_V1(lmm_stats_out);

/*
 * Text output: {"lmm_stats": 2, "hex": "..."}, the hex digits of the
 * binary form (an exact round trip); a value stored by lmm 0.6 or an
 * earlier development version is shown in today's form.
 */
Datum
lmm_stats_out(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	const char *data = VARDATA_ANY(v);
	size_t		len = VARSIZE_ANY_EXHDR(v);
	StringInfoData buf;

	if (!is_current(data, len))
	{
		bytea	   *cur = lmm_state_pack(lmm_state_unpack(data, len, LMM_FROM_STORED), false);

		data = VARDATA(cur);
		len = VARSIZE(cur) - VARHDRSZ;
	}
	if (2 * len + 64 > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the text form of this lmm_stats value would exceed 1 GB"),
				 errdetail("Its statistics take %zu bytes.", len),
				 errhint("Use the binary form (COPY ... WITH (FORMAT binary)) to move it.")));
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"lmm_stats\": %d, \"hex\": \"", STATS_TEXT_VERSION);
	enlargeStringInfo(&buf, (int) (2 * len + 2));
	buf.len += (int) hex_encode(data, len, buf.data + buf.len);
	appendStringInfoString(&buf, "\"}");
	PG_RETURN_CSTRING(buf.data);
}

/*
 * Read lmm 0.6's JSON text form of one-term statistics (its version 1:
 * means and co-moments per level, keys as text) into a state.
 */
static LmmAggState *
legacy_text_in(JsonbContainer *root)
{
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

	if (JsonContainerSize(root) != 13)
		lmm_json_bad(T, "a version 1 object must have exactly the 13 keys that lmm 0.6's output has");
	memset(&meta, 0, sizeof(meta));
	meta.key_type = lmm_json_str(T, lmm_json_key(T, root, "key_type"), "key_type");
	meta.g_name = lmm_json_str(T, lmm_json_key(T, root, "g_name"), "g_name");
	meta.x_names = lmm_json_names(root, "x_names", &meta.n_x_names);
	meta.z_names = lmm_json_names(root, "z_names", &meta.n_z_names);
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

	st = lmm_state_from_legacy(&s, &meta);
	getTypeInputInfo(st->levels[0].type, &infn, &ioparam);
	fmgr_info(infn, &in);
	for (j = 0; j < J; j++)
	{
		if ((j & 4095) == 0)
			CHECK_FOR_INTERRUPTS();
		st->levels[0].keys[j] = InputFunctionCall(&in, key_texts[j], ioparam, -1);
	}
	return st;
}

PG_FUNCTION_INFO_V1(lmm_stats_in);

/*
 * Text input: the JSON of lmm_stats_out (its hex digits unpacked and
 * checked like binary input), or lmm 0.6's JSON of one-term statistics, or
 * the development form {"lmm_stats_terms": 1, "terms_stats": ...}; checked
 * fully and packed in today's form.
 */
Datum
lmm_stats_in(PG_FUNCTION_ARGS)
{
	JsonbContainer *root = lmm_json_parse(T, PG_GETARG_CSTRING(0), -1);
	JsonbValue	tv;
	LmmAggState *st;
	size_t		len;
	char	   *bin;

	if (getKeyJsonValueFromContainer(root, "lmm_stats_terms", 15, &tv) != NULL)
	{
		if (JsonContainerSize(root) != 2 ||
			lmm_json_count(T, tv, "lmm_stats_terms") != 1)
			lmm_json_bad(T, "unsupported \"lmm_stats_terms\" format version");
		bin = lmm_json_hex(T, lmm_json_key(T, root, "terms_stats"), "terms_stats", &len);
		st = lmm_state_unpack(bin, len, LMM_FROM_TEXT);
	}
	else
	{
		int64		version = lmm_json_count(T, lmm_json_key(T, root, "lmm_stats"), "lmm_stats");

		if (version == 1)
			st = legacy_text_in(root);
		else if (version == STATS_TEXT_VERSION)
		{
			if (JsonContainerSize(root) != 2)
				lmm_json_bad(T, "the object must have exactly the 2 keys that lmm_stats's output has");
			bin = lmm_json_hex(T, lmm_json_key(T, root, "hex"), "hex", &len);
			st = lmm_state_unpack(bin, len, LMM_FROM_TEXT);
		}
		else
			lmm_json_bad(T, "unsupported \"lmm_stats\" format version");
	}
	PG_RETURN_BYTEA_P(repack_input(st, false));
}

PG_FUNCTION_INFO_V1(lmm_stats_recv);

/*
 * Binary input: every check of lmm_stats_in, plus the strings' encoding;
 * lmm 0.6's form is read and converted too.
 */
Datum
lmm_stats_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	const char *data = buf->data + buf->cursor;
	size_t		len = buf->len - buf->cursor;
	LmmAggState *st;

	st = lmm_state_unpack(data, len, LMM_FROM_WIRE);
	buf->cursor = buf->len;
	PG_RETURN_BYTEA_P(repack_input(st, true));
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
	st = lmm_state_unpack(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), LMM_FROM_STORED);
	/* the state holds copies of everything: the value's memory goes back now */
	PG_FREE_IF_COPY(v, 0);
	if (!st->started || st->stats.n == 0)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(lmm_state_fit_owned(st, opts.reml));
}

/* A text[] of n C strings. */
static Datum
text_array(char **s, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * (n + 1));
	int			k;

	for (k = 0; k < n; k++)
		d[k] = CStringGetTextDatum(s[k]);
	return PointerGetDatum(construct_array(d, n, TEXTOID, -1, false, TYPALIGN_INT));
}

PG_FUNCTION_INFO_V1(lmm_stats_info);

/*
 * lmm_stats_info(s): what statistics describe, without fitting them: the
 * formula (NULL for statistics of lmm_stats(y, x, g ...)), the rows used
 * and dropped, the fixed-effect columns, and per term its grouping factor,
 * key type, levels and random-effect columns.
 */
Datum
lmm_stats_info(PG_FUNCTION_ARGS)
{
	bytea	   *v = PG_GETARG_BYTEA_PP(0);
	LmmAggState *st = lmm_state_unpack(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v), LMM_FROM_STORED);
	TupleDesc	desc;
	Datum		values[8];
	bool		nulls[8] = {false};
	Datum		levels[LMM_MAX_TERMS];
	Datum		q[LMM_MAX_TERMS];
	char	   *types[LMM_MAX_TERMS];
	int			k = st->started ? st->k : 0;
	int			t;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_stats_info must be called where a record is expected"),
				 errhint("Call it in FROM, e.g. SELECT * FROM lmm_stats_info(s).")));
	desc = BlessTupleDesc(desc);
	for (t = 0; t < k; t++)
	{
		levels[t] = Int64GetDatum(st->stats.term[t].nlevels);
		q[t] = Int32GetDatum(st->q[t]);
		types[t] = format_type_be(st->key_type[t]);
	}
	values[0] = CStringGetTextDatum(st->formula);
	nulls[0] = st->formula[0] == '\0';
	values[1] = Int64GetDatum((int64) st->stats.n);
	values[2] = Int64GetDatum(st->n_dropped);
	if (st->started)
		values[3] = text_array(st->x_names, st->p);
	else
		nulls[3] = true;
	values[4] = text_array(st->grp, k);
	values[5] = text_array(types, k);
	values[6] = PointerGetDatum(construct_array(levels, k, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[7] = PointerGetDatum(construct_array(q, k, INT4OID, 4, true, TYPALIGN_INT));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}
