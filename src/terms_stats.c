/*
 * terms_stats.c
 *	  lmm_stats values of models with several random-effects terms: the
 *	  binary form of core/lmm_terms_io.h ("LMMt") as the payload of the
 *	  lmm_stats type, told from the one-term form ("LMMs") by its magic.
 *	  Unpacking with the checks each source needs, exact merges for
 *	  lmm_merge, the final function of lmm_stats_terms, and the text form
 *	  (the binary form's hex digits in JSON).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

#include "terms_state.h"

/* The type name in input errors. */
static const char T[] = "lmm_stats";

/* Whether packed lmm_stats bytes hold several-term statistics (by their magic). */
bool
lmm_is_terms_stats(const char *data, size_t len)
{
	const unsigned char *b = (const unsigned char *) data;

	return len >= 4 &&
		(((uint32) b[0] << 24) | ((uint32) b[1] << 16) |
		 ((uint32) b[2] << 8) | (uint32) b[3]) == LMM_TERMS_MAGIC;
}

/* Raise the error for several-term statistics that fail validation, by where they came from. */
static void
bad_tstats(LmmPackedSource source, const char *problem)
{
	if (strcmp(problem, "interrupted") == 0)
		CHECK_FOR_INTERRUPTS();
	if (source == LMM_FROM_TEXT)
		lmm_json_bad(T, psprintf("\"terms_stats\": %s", problem));
	if (source == LMM_FROM_WIRE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary lmm_stats value: %s", problem),
				 errdetail("Send the bytes that lmm_stats's binary output produced.")));
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("corrupt lmm_stats value: %s", problem),
			 errdetail("Recompute the statistics with lmm_stats(formula, source) or lmm_stats_terms.")));
}

/*
 * Unpack and fully validate several-term statistics into a state in the
 * current memory context.  Input from outside (text, wire) also has its
 * strings checked against the database encoding.
 */
TermsState *
lmm_tstats_unpack(const char *data, size_t len, LmmPackedSource source)
{
	TermsState *st = NULL;
	const char *problem = lmm_terms_state_unpack(data, len, &st);
	int			t;
	int64		j;

	if (problem == NULL && st->options != NULL)
		problem = "statistics carry no options";
	if (problem != NULL)
		bad_tstats(source, problem);
	if (source == LMM_FROM_WIRE || source == LMM_FROM_TEXT)
	{
		lmm_verify_encoding(T, st->spec);
		for (t = 0; t < st->stats.nterms; t++)
			for (j = 0; j < st->stats.term[t].nlevels; j++)
			{
				if ((j & 65535) == 0)
					CHECK_FOR_INTERRUPTS();
				lmm_verify_encoding(T, st->stats.term[t].key[j]);
			}
	}
	return st;
}

/*
 * Error unless statistics can be packed: sums of huge values overflow to
 * infinity, and a value that unpacking refuses must never be written.
 */
void
lmm_tstats_check(const LmmTermStats *s)
{
	const char *problem = lmm_terms_check(s);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the statistics overflow double precision: %s", problem),
				 errdetail("Values near 1e154 or above square to infinity."),
				 errhint("Rescale the response or the covariates.")));
}

/*
 * The packed form of a state, as a new bytea: an lmm_stats value, or a
 * parallel worker's partial state when partial (the two differ only in
 * what a state too large for a value tells the user to do).
 */
bytea *
lmm_tstats_pack(const TermsState *st, bool partial)
{
	LmmTermsMeta meta;
	size_t		size;
	bytea	   *result;

	lmm_tstats_check(&st->stats);
	meta.n_rows = st->n_rows;
	meta.n_dropped = st->n_dropped;
	meta.spec = st->spec;
	meta.options = st->options;
	size = lmm_terms_packed_size(&st->stats, &meta);
	if (size > MaxAllocSize - VARHDRSZ && partial)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a partial state of several terms of %zu bytes is more than a value can hold", size),
				 errdetail("A parallel worker's state is limited to 1 GB."),
				 errhint("Fit without parallel workers: SET max_parallel_workers_per_gather = 0.")));
	if (size > MaxAllocSize - VARHDRSZ)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("statistics of several terms would take %zu bytes, more than a value can hold", size),
				 errdetail("A value is limited to 1 GB."),
				 errhint("Fit from the rows with lmm() or lmm_fit_terms, which keep the statistics in memory only.")));
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	lmm_terms_pack(&st->stats, &meta, (unsigned char *) VARDATA(result));
	return result;
}

/* Error unless two several-term states describe the same model; says what differs. */
static void
check_same_spec(const TermsState *a, const TermsState *b)
{
	if (strcmp(a->spec, b->spec) == 0)
		return;
	if (a->formula[0] != '\0' && b->formula[0] != '\0' &&
		strcmp(a->formula, b->formula) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot merge statistics of different formulas: \"%s\" and \"%s\"",
						a->formula, b->formula),
				 errdetail("Statistics merge only when they describe the same model."),
				 errhint("Compute every part with the same formula.")));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot merge statistics with different specs: %s and %s", a->spec, b->spec),
			 errdetail("Statistics merge only when their fixed-effect columns and terms are the same."),
			 errhint("Compute every part with the same spec; with lmm_stats(formula, source), give every source the same categorical levels.")));
}

/*
 * Merge src into dst exactly (levels by key, pair blocks by level pair) and
 * return dst; a NULL dst becomes a new state in ctx, an aggregate's context.
 */
TermsState *
lmm_tstats_merge(MemoryContext ctx, TermsState *dst, const TermsState *src)
{
	MemoryContext old;

	if (dst == NULL)
		dst = lmm_terms_state_new(ctx, src->spec, src->options);
	check_same_spec(dst, src);
	old = MemoryContextSwitchTo(ctx);
	lmm_terms_merge(&dst->stats, &src->stats);
	MemoryContextSwitchTo(old);
	dst->n_rows += src->n_rows;
	dst->n_dropped += src->n_dropped;
	return dst;
}

/* Raise the error for merging one-term statistics with several-term ones. */
void
lmm_tstats_mixed(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot merge statistics of one grouping factor with statistics of a formula"),
			 errdetail("Values of the lmm_stats(y, x, g ...) aggregate and values of lmm_stats(formula, source) or lmm_stats_terms have different forms."),
			 errhint("Compute every part the same way: all with lmm_stats(formula, source) (or lmm_stats_terms), or all with lmm_stats(y, x, g ...).")));
}

PG_FUNCTION_INFO_V1(lmm_terms_stats_final);

/* lmm_stats_terms' final function: the statistics as an lmm_stats value (NULL without rows). */
Datum
lmm_terms_stats_final(PG_FUNCTION_ARGS)
{
	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("lmm_terms_stats_final called in non-aggregate context"),
				 errdetail("Call the aggregate lmm_stats_terms instead.")));
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(lmm_tstats_pack((TermsState *) PG_GETARG_POINTER(0), false));
}

/*
 * The text form of a stored several-term value: its binary form's hex
 * digits, an exact round trip, under the format's version.
 */
char *
lmm_tstats_out(const char *data, size_t len)
{
	StringInfoData buf;

	if (2 * len + 64 > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the text form of this lmm_stats value would exceed 1 GB"),
				 errdetail("Its statistics take %zu bytes.", len),
				 errhint("Use the binary form (COPY ... WITH (FORMAT binary)) to move it.")));
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"lmm_stats_terms\": %u, \"terms_stats\": \"", LMM_TERMS_VERSION);
	enlargeStringInfo(&buf, (int) (2 * len + 2));
	buf.len += (int) hex_encode(data, len, buf.data + buf.len);
	appendStringInfoString(&buf, "\"}");
	return buf.data;
}

/* Read the text form of a several-term value (a JSON object), check it fully, pack it. */
bytea *
lmm_tstats_in(JsonbContainer *root)
{
	size_t		len;
	char	   *bin;

	if (JsonContainerSize(root) != 2)
		lmm_json_bad(T, "the object must have exactly the 2 keys that lmm_stats's output has");
	if (lmm_json_count(T, lmm_json_key(T, root, "lmm_stats_terms"), "lmm_stats_terms") != LMM_TERMS_VERSION)
		lmm_json_bad(T, "unsupported \"lmm_stats_terms\" format version");
	bin = lmm_json_hex(T, lmm_json_key(T, root, "terms_stats"), "terms_stats", &len);
	return lmm_tstats_pack(lmm_tstats_unpack(bin, len, LMM_FROM_TEXT), false);
}
