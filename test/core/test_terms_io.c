/*
 * test_terms_io.c
 *	  Unit tests of the binary form of the several-term statistics (the
 *	  parallel state of lmm_fit): an exact round trip, merges of
 *	  unpacked parts that fit as merges of the originals, and every kind of
 *	  damaged input refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lmm_bytes.h"
#include "lmm_fit.h"
#include "lmm_terms_io.h"
#include "test_core.h"
#include "test_util.h"

#define NRATINGS 1200

/* ratings.csv: y, x, a, b (the crossed model with a random slope). */
typedef struct Ratings
{
	int			n;
	double		y[NRATINGS];
	double		x[NRATINGS];
	char		a[NRATINGS][8];
	char		b[NRATINGS][8];
} Ratings;

/* Read ratings.csv; -1 on failure. */
static int
read_ratings(const char *dir, Ratings *r)
{
	char		path[1024];
	char		line[256];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/ratings.csv", dir);
	if ((f = fopen(path, "r")) == NULL || fgets(line, sizeof(line), f) == NULL)
		return -1;
	r->n = 0;
	while (r->n < NRATINGS && fgets(line, sizeof(line), f) != NULL)
	{
		if (sscanf(line, "%lf,%lf,%7[^,],%7[^,\r\n]", &r->y[r->n], &r->x[r->n],
				   r->a[r->n], r->b[r->n]) != 4)
			break;
		r->n++;
	}
	fclose(f);
	return r->n == NRATINGS ? 0 : -1;
}

/* Statistics of y ~ x + (x | a) + (1 | b) from rows [from, to), their keys in keys. */
static void
ratings_stats(LmmTermStats *s, TestKeys *keys, const Ratings *r, int from, int to)
{
	int			q[2] = {2, 1};
	int			i;

	lmm_terms_init(s, 2, 2, q);
	test_keys_init(keys);
	for (i = from; i < to; i++)
	{
		double		x[2] = {1.0, r->x[i]};
		double		z[3] = {1.0, r->x[i], 1.0};
		const char *kp[2] = {r->a[i], r->b[i]};
		uint32_t	kl[2] = {(uint32_t) strlen(r->a[i]), (uint32_t) strlen(r->b[i])};

		test_keys_add_row(s, keys, x, r->y[i], kp, kl, z);
	}
}

/* Nonzero when two states hold the same numbers bit for bit, in the same order. */
static int
same_stats(const LmmTermStats *a, const LmmTermStats *b)
{
	int			p1 = a->p + 1;
	int			t;

	if (a->p != b->p || a->nterms != b->nterms || a->n != b->n ||
		a->first_is_one != b->first_is_one ||
		memcmp(a->shift, b->shift, sizeof(double) * p1) != 0 ||
		memcmp(a->sum, b->sum, sizeof(double) * p1) != 0 ||
		memcmp(a->cross, b->cross, sizeof(double) * p1 * p1) != 0)
		return 0;
	for (t = 0; t < a->nterms; t++)
	{
		const LmmTermLevels *la = &a->term[t];
		const LmmTermLevels *lb = &b->term[t];

		if (la->q != lb->q || la->nlevels != lb->nlevels ||
			memcmp(la->rec, lb->rec, sizeof(double) * la->stride * la->nlevels) != 0)
			return 0;
	}
	for (t = 0; t < a->nterms * (a->nterms - 1) / 2; t++)
	{
		const LmmTermPair *pa = &a->pair[t];
		const LmmTermPair *pb = &b->pair[t];

		if (pa->npairs != pb->npairs ||
			memcmp(pa->jt, pb->jt, sizeof(int64_t) * pa->npairs) != 0 ||
			memcmp(pa->ju, pb->ju, sizeof(int64_t) * pa->npairs) != 0 ||
			memcmp(pa->blk, pb->blk, sizeof(double) * pa->bsize * pa->npairs) != 0)
			return 0;
	}
	return 1;
}

/* Nonzero when the first nterms terms of two maps hold the same keys in the same order. */
static int
same_keys(const TestKeys *a, const TestKeys *b, int nterms)
{
	int			t;
	int64_t		j;

	for (t = 0; t < nterms; t++)
	{
		if (a->n[t] != b->n[t])
			return 0;
		for (j = 0; j < a->n[t]; j++)
			if (a->len[t][j] != b->len[t][j] ||
				memcmp(a->key[t][j], b->key[t][j], a->len[t][j]) != 0)
				return 0;
	}
	return 1;
}

/* Pack s with meta into a new buffer of *size bytes. */
static unsigned char *
packed(const LmmTermStats *s, const LmmTermsMeta *meta, size_t *size)
{
	unsigned char *buf;

	*size = lmm_terms_packed_size(s, meta);
	buf = malloc(*size + 1);
	lmm_terms_pack(s, meta, buf);
	return buf;
}

/* The problem unpacking len bytes reports (NULL if none), freeing what it made. */
static const char *
unpack_problem(const unsigned char *buf, size_t len)
{
	LmmTermStats s;
	LmmTermsMeta meta;
	const char *problem = lmm_terms_unpack(buf, len, &s, &meta);

	lmm_terms_free(&s);
	lmm_terms_meta_free(&meta);
	return problem;
}

/* Nonzero when unpacking len bytes reports exactly the problem expected. */
static int
refused_as(const unsigned char *buf, size_t len, const char *expected)
{
	const char *problem = unpack_problem(buf, len);

	return problem != NULL && strcmp(problem, expected) == 0;
}

/* Offset of the first occurrence of needle (n bytes) in buf, or -1. */
static long
find_bytes(const unsigned char *buf, size_t len, const char *needle, size_t n)
{
	size_t		i;

	for (i = 0; i + n <= len; i++)
		if (memcmp(buf + i, needle, n) == 0)
			return (long) i;
	return -1;
}

/*
 * Version 1 of the binary form (lmm 0.7 development: no flags, no key
 * type, text keys), written by hand from s and its keys.
 */
static unsigned char *
packed_v1(const LmmTermStats *s, const TestKeys *keys, int64_t n_rows,
		  int64_t n_dropped, const char *spec, size_t *size)
{
	int			p = s->p;
	unsigned char *buf,
			   *w;
	int			a,
				b,
				t;
	int64_t		j;
	size_t		i;

	*size = 3 * 4 + 2 * 8 + 4 + strlen(spec) + 4 + 4 + 4 + 4 * (size_t) s->nterms + 4 +
		8 * (1 + 2 * (size_t) (p + 1) + (size_t) (p + 1) * (p + 2) / 2);
	for (t = 0; t < s->nterms; t++)
	{
		*size += 8 + 8 * (size_t) s->term[t].nlevels * s->term[t].stride;
		for (j = 0; j < s->term[t].nlevels; j++)
			*size += 4 + keys->len[t][j];
	}
	for (t = 0; t < s->nterms * (s->nterms - 1) / 2; t++)
		*size += 8 + (size_t) s->pair[t].npairs * (16 + 8 * (size_t) s->pair[t].bsize);
	w = buf = malloc(*size);

	w = lmm_put_u32(w, LMM_TERMS_MAGIC);
	w = lmm_put_u32(w, 1);
	w = lmm_put_u32(w, 0);
	w = lmm_put_u64(w, (uint64_t) n_rows);
	w = lmm_put_u64(w, (uint64_t) n_dropped);
	w = lmm_put_str(w, spec);
	w = lmm_put_u32(w, 0);
	w = lmm_put_u32(w, (uint32_t) p);
	w = lmm_put_u32(w, (uint32_t) s->nterms);
	for (t = 0; t < s->nterms; t++)
		w = lmm_put_u32(w, (uint32_t) s->term[t].q);
	w = lmm_put_u32(w, s->first_is_one ? 1 : 0);
	w = lmm_put_f8(w, s->n);
	for (a = 0; a <= p; a++)
		w = lmm_put_f8(w, s->shift[a]);
	for (a = 0; a <= p; a++)
		w = lmm_put_f8(w, s->sum[a]);
	for (a = 0; a <= p; a++)
		for (b = a; b <= p; b++)
			w = lmm_put_f8(w, s->cross[a * (p + 1) + b]);
	for (t = 0; t < s->nterms; t++)
	{
		const LmmTermLevels *lv = &s->term[t];

		w = lmm_put_u64(w, (uint64_t) lv->nlevels);
		for (j = 0; j < lv->nlevels; j++)
		{
			w = lmm_put_u32(w, keys->len[t][j]);
			memcpy(w, keys->key[t][j], keys->len[t][j]);
			w += keys->len[t][j];
			for (a = 0; a < lv->stride; a++)
				w = lmm_put_f8(w, lv->rec[(size_t) j * lv->stride + a]);
		}
	}
	for (t = 0; t < s->nterms * (s->nterms - 1) / 2; t++)
	{
		const LmmTermPair *pr = &s->pair[t];

		w = lmm_put_u64(w, (uint64_t) pr->npairs);
		for (j = 0; j < pr->npairs; j++)
		{
			w = lmm_put_u64(w, (uint64_t) pr->jt[j]);
			w = lmm_put_u64(w, (uint64_t) pr->ju[j]);
			for (i = 0; i < (size_t) pr->bsize; i++)
				w = lmm_put_f8(w, pr->blk[(size_t) j * pr->bsize + i]);
		}
	}
	if ((size_t) (w - buf) != *size)
		abort();				/* the size above is wrong */
	return buf;
}

/* The tiny state of test_damage: y ~ 1 + (1 | a) + (1 | b), three rows. */
static void
tiny_stats(LmmTermStats *s, TestKeys *keys)
{
	int			q[2] = {1, 1};
	const char *rows[3][2] = {{"a", "x"}, {"b", "x"}, {"a", "y"}};
	double		ys[3] = {1.0, 2.5, 4.0};
	int			i;

	lmm_terms_init(s, 1, 2, q);
	test_keys_init(keys);
	for (i = 0; i < 3; i++)
	{
		double		x[1] = {1.0};
		double		z[2] = {1.0, 1.0};

		test_keys_add_row(s, keys, x, ys[i], rows[i], NULL, z);
	}
}

/*
 * Version 1 values (no flags, no key type, text keys) are still read, as
 * keys of type text; a NUL in a key or a flag is refused in them.  Without
 * keys, a one-term state takes the bytes lmm_terms_keyless_size says.
 */
static void
test_version1(void)
{
	LmmTermStats s,
				back;
	LmmTermsMeta bmeta;
	LmmTermsMeta nokeys = {.flags = LMM_TERMS_NO_KEYS, .n_rows = 3, .spec = ""};
	TestKeys	keys,
				bkeys;
	unsigned char *buf;
	size_t		size;
	long		at;
	int			q = 2;
	int64_t		j;

	tiny_stats(&s, &keys);
	buf = packed_v1(&s, &keys, 4, 1, "{}", &size);
	check(lmm_terms_unpack(buf, size, &back, &bmeta) == NULL,
		  "terms io: a version 1 value is read");
	test_keys_from_meta(&bkeys, &back, &bmeta);
	check(same_stats(&back, &s) && same_keys(&bkeys, &keys, 2) &&
		  bmeta.flags == 0 && bmeta.n_rows == 4 && bmeta.n_dropped == 1 &&
		  strcmp(bmeta.spec, "{}") == 0 && bmeta.options == NULL &&
		  strcmp(bmeta.keys[0].type, "text") == 0 && strcmp(bmeta.keys[1].type, "text") == 0,
		  "terms io: a version 1 value reads as its numbers and text keys");
	test_keys_free(&bkeys);
	lmm_terms_meta_free(&bmeta);
	lmm_terms_free(&back);

	/* a NUL inside a text key */
	at = find_bytes(buf, size, "\0\0\0\1b", 5);
	buf[at + 4] = '\0';
	check(at > 0 && refused_as(buf, size, "a level key holds a NUL byte"),
		  "terms io: a version 1 key with a NUL byte is refused");
	buf[at + 4] = 'b';
	buf[11] = LMM_TERMS_NO_KEYS;
	check(refused_as(buf, size, "unknown flag bits"), "terms io: a version 1 value with flags is refused");
	buf[11] = 0;
	check(unpack_problem(buf, size) == NULL, "terms io: the version 1 value restored reads");
	free(buf);
	test_keys_free(&keys);
	lmm_terms_free(&s);

	/* one term of two columns, seven levels, no keys: what a one-term model stores */
	lmm_terms_init(&s, 3, 1, &q);
	for (j = 0; j < 7; j++)
		lmm_terms_add_level(&s, 0);
	check(lmm_terms_packed_size(&s, &nokeys) == lmm_terms_keyless_size(3, 2, 7),
		  "terms io: lmm_terms_keyless_size is the size of a one-term state without keys");
	lmm_terms_free(&s);
}

/* Damaged copies of a tiny state, each refused with the expected problem. */
static void
test_damage(void)
{
	LmmTermStats s,
				back;
	TestKeys	keys;
	LmmTermsMeta meta = {.n_rows = 4, .n_dropped = 1, .spec = "{}"};
	LmmTermsMeta bmeta;
	unsigned char *buf;
	size_t		size;
	long		at;

	tiny_stats(&s, &keys);
	test_keys_meta(&keys, 2, &meta);
	buf = packed(&s, &meta, &size);
	check(unpack_problem(buf, size) == NULL, "terms io: a tiny state round-trips");

	/*
	 * the second key of term 0 made equal to the first: keys are opaque to
	 * the core, which returns them as they are for the host to check
	 */
	at = find_bytes(buf, size, "\0\0\0\1b", 5);
	buf[at + 4] = 'a';
	check(at > 0 && lmm_terms_unpack(buf, size, &back, &bmeta) == NULL &&
		  bmeta.keys[0].len[1] == 1 && bmeta.keys[0].data[1][0] == 'a' &&
		  strcmp(bmeta.keys[0].type, "text") == 0,
		  "terms io: the keys are returned as they are, for the host to check");
	lmm_terms_meta_free(&bmeta);
	lmm_terms_free(&back);

	/* a NUL inside a key: keys are binary from version 2 on */
	buf[at + 4] = '\0';
	check(unpack_problem(buf, size) == NULL,
		  "terms io: a key with a NUL byte is read (a binary key)");
	buf[at + 4] = 'b';

	/* term 0 claims 2^56 levels */
	at = find_bytes(buf, size, "\0\0\0\1a", 5);
	if (at >= 8)
		buf[at - 8] = 1;
	check(at >= 8 && refused_as(buf, size, "the statistics claim more levels than they hold"),
		  "terms io: a level count beyond the bytes is refused before allocating");
	if (at >= 8)
		buf[at - 8] = 0;

	/* a key type with a NUL */
	at = find_bytes(buf, size, "\0\0\0\4text", 8);
	buf[at + 5] = '\0';
	check(at > 0 && refused_as(buf, size, "the statistics are truncated"),
		  "terms io: a key type with a NUL byte is refused");
	buf[at + 5] = 'e';

	/* the last pair block, levels (0, 1), names level 9 of term 0 (of 2) */
	buf[size - 17] = 9;
	check(refused_as(buf, size, "a level pair names a level that does not exist"),
		  "terms io: a pair naming a missing level is refused");
	buf[size - 17] = 0;

	/* the last pair block made (0, 0), the first's levels */
	buf[size - 9] = 0;
	check(refused_as(buf, size, "a level pair appears twice"),
		  "terms io: a repeated level pair is refused");
	buf[size - 9] = 1;

	/* a NaN in the last pair block */
	memset(buf + size - 8, 0xFF, 8);
	check(refused_as(buf, size, "level pair sums must be finite numbers"),
		  "terms io: a NaN is refused");
	free(buf);

	/* counts that do not add up: 3 rows used, but 5 seen and 1 dropped */
	meta.n_rows = 5;
	buf = packed(&s, &meta, &size);
	check(refused_as(buf, size, "the row count must be the rows seen minus the rows dropped"),
		  "terms io: inconsistent row counts are refused");
	free(buf);
	meta.n_rows = 0;
	buf = packed(&s, &meta, &size);
	check(refused_as(buf, size, "the row counts are inconsistent"),
		  "terms io: more rows dropped than seen is refused");
	free(buf);

	/* a negative sum of squares */
	meta.n_rows = 4;
	s.term[1].rec[1] = -1.0;
	buf = packed(&s, &meta, &size);
	check(refused_as(buf, size, "level cross-products are not those of real data"),
		  "terms io: a negative sum of squares is refused");
	free(buf);
	lmm_terms_free(&s);
	test_keys_free(&keys);
}

/*
 * Round trip of the ratings statistics, merges of unpacked parts, every
 * truncation and header damage refused.
 */
void
test_terms_io(const char *dir)
{
	static Ratings r;
	LmmTermStats whole,
				a,
				b,
				back,
				a2;
	TestKeys	kwhole,
				ka,
				kb,
				kback,
				ka2;
	LmmTermsMeta meta = {.n_rows = 705, .n_dropped = 5,
		.spec = "{\"x\": [\"(Intercept)\", \"x\"]}", .options = "method=ml"};
	LmmTermsMeta bmeta;
	LmmFit		fw,
				fm,
				fu;
	unsigned char *buf;
	size_t		size,
				len;
	int			refused = 1;
	int			header = 1;

	if (read_ratings(dir, &r) != 0)
	{
		check(0, "terms io: read ratings.csv");
		return;
	}
	ratings_stats(&whole, &kwhole, &r, 0, r.n);
	ratings_stats(&a, &ka, &r, 0, 500);
	ratings_stats(&b, &kb, &r, 500, r.n);
	ratings_stats(&a2, &ka2, &r, 0, 500);

	test_keys_meta(&kb, 2, &meta);
	meta.keys[1].type = "bigint";
	buf = packed(&b, &meta, &size);
	check(lmm_terms_unpack(buf, size, &back, &bmeta) == NULL, "terms io: unpack of a packed state");
	test_keys_from_meta(&kback, &back, &bmeta);
	check(same_stats(&back, &b) && same_keys(&kback, &kb, 2),
		  "terms io: every number, key and pair survives the round trip bit for bit");
	check(bmeta.n_rows == 705 && bmeta.n_dropped == 5 && strcmp(bmeta.spec, meta.spec) == 0 &&
		  strcmp(bmeta.options, "method=ml") == 0 && bmeta.flags == 0 &&
		  strcmp(bmeta.keys[0].type, "text") == 0 && strcmp(bmeta.keys[1].type, "bigint") == 0,
		  "terms io: counts, spec, options and key types survive");

	/* a + unpacked b is a + b exactly, and fits as the whole */
	test_keys_merge(&a, &ka, &b, &kb);
	test_keys_merge(&a2, &ka2, &back, &kback);
	check(same_stats(&a, &a2) && same_keys(&ka, &ka2, 2),
		  "terms io: merging the unpacked part equals merging the original");
	check(lmm_fit(&whole, 1, 0, &fw) == LMM_OK && lmm_fit(&a, 1, 0, &fm) == LMM_OK &&
		  lmm_fit(&a2, 1, 0, &fu) == LMM_OK, "terms io: the three states fit");
	check(fu.criterion == fm.criterion && fu.sigma == fm.sigma && fu.beta[1] == fm.beta[1],
		  "terms io: the fit of the unpacked merge is the fit of the merge, bit for bit");
	check(fabs(fm.criterion - fw.criterion) < 1e-9 * fabs(fw.criterion) &&
		  fabs(fm.beta[1] - fw.beta[1]) < 1e-8 * fabs(fw.beta[1]),
		  "terms io: the merged parts fit as the whole");
	lmm_fit_free(&fw);
	lmm_fit_free(&fm);
	lmm_fit_free(&fu);

	for (len = 0; len < size; len++)
		if (unpack_problem(buf, len) == NULL)
			refused = 0;
	check(refused, "terms io: every truncation is refused");
	buf[size] = 0;
	check(unpack_problem(buf, size + 1) != NULL, "terms io: a trailing byte is refused");
	for (len = 0; len < 12; len++)
	{
		buf[len] ^= 0x21;
		if (unpack_problem(buf, size) == NULL)
			header = 0;
		buf[len] ^= 0x21;
	}
	check(header, "terms io: a changed magic number, version or flag word is refused");

	/* packers check the numbers first: what unpacking refuses, the check finds */
	check(lmm_terms_check(&back) == NULL, "terms io: real statistics pass the packers' check");
	back.term[1].rec[0] = INFINITY;
	check(lmm_terms_check(&back) != NULL, "terms io: a level sum overflowed to infinity fails the packers' check");
	back.term[1].rec[0] = 0.0;
	back.cross[0] = HUGE_VAL;
	check(lmm_terms_check(&back) != NULL, "terms io: an overflowed cross-product fails the packers' check");

	free(buf);
	lmm_terms_meta_free(&bmeta);
	lmm_terms_free(&back);
	lmm_terms_free(&whole);
	lmm_terms_free(&a);
	lmm_terms_free(&b);
	lmm_terms_free(&a2);
	test_keys_free(&kback);
	test_keys_free(&kwhole);
	test_keys_free(&ka);
	test_keys_free(&kb);
	test_keys_free(&ka2);
	test_damage();
	test_version1();
}
