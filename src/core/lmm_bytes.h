/*
 * lmm_bytes.h
 *	  Bounds-checked big-endian readers and writers for the portable binary
 *	  forms of lmm's types.  A reader never reads past its end: once a read
 *	  would overrun, it fails and every later read fails too.
 */
#ifndef LMM_BYTES_H
#define LMM_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lmm_host.h"

typedef struct LmmReader
{
	const unsigned char *p;
	const unsigned char *end;
	int			failed;
} LmmReader;

/* Append a 32-bit unsigned integer, most significant byte first. */
static inline unsigned char *
lmm_put_u32(unsigned char *w, uint32_t v)
{
	w[0] = (unsigned char) (v >> 24);
	w[1] = (unsigned char) (v >> 16);
	w[2] = (unsigned char) (v >> 8);
	w[3] = (unsigned char) v;
	return w + 4;
}

/* Append a 64-bit unsigned integer, most significant byte first. */
static inline unsigned char *
lmm_put_u64(unsigned char *w, uint64_t v)
{
	w = lmm_put_u32(w, (uint32_t) (v >> 32));
	return lmm_put_u32(w, (uint32_t) v);
}

/* Append a double as its IEEE bits, big-endian. */
static inline unsigned char *
lmm_put_f8(unsigned char *w, double v)
{
	uint64_t	bits;

	memcpy(&bits, &v, sizeof(bits));
	return lmm_put_u64(w, bits);
}

/* Append a string as a 32-bit length and its bytes (no terminator). */
static inline unsigned char *
lmm_put_str(unsigned char *w, const char *s)
{
	size_t		len = strlen(s);

	w = lmm_put_u32(w, (uint32_t) len);
	memcpy(w, s, len);
	return w + len;
}

/* Bytes left to read, 0 once the reader has failed. */
static inline size_t
lmm_left(const LmmReader *r)
{
	return r->failed ? 0 : (size_t) (r->end - r->p);
}

/* Read a big-endian 32-bit unsigned integer (0 on overrun). */
static inline uint32_t
lmm_get_u32(LmmReader *r)
{
	uint32_t	v;

	if (lmm_left(r) < 4)
	{
		r->failed = 1;
		return 0;
	}
	v = ((uint32_t) r->p[0] << 24) | ((uint32_t) r->p[1] << 16) |
		((uint32_t) r->p[2] << 8) | (uint32_t) r->p[3];
	r->p += 4;
	return v;
}

/* Read a big-endian 64-bit unsigned integer (0 on overrun). */
static inline uint64_t
lmm_get_u64(LmmReader *r)
{
	uint64_t	hi = lmm_get_u32(r);

	return (hi << 32) | lmm_get_u32(r);
}

/* Read a big-endian IEEE double (0 on overrun). */
static inline double
lmm_get_f8(LmmReader *r)
{
	uint64_t	bits = lmm_get_u64(r);
	double		v;

	memcpy(&v, &bits, sizeof(v));
	return v;
}

/* Read a length-prefixed string into a new terminated copy; NULL if malformed. */
static inline char *
lmm_get_str(LmmReader *r)
{
	uint32_t	len = lmm_get_u32(r);
	char	   *s;

	if (r->failed || len > lmm_left(r) || memchr(r->p, '\0', len) != NULL)
	{
		r->failed = 1;
		return NULL;
	}
	s = lmm_alloc((size_t) len + 1);
	memcpy(s, r->p, len);
	s[len] = '\0';
	r->p += len;
	return s;
}

#endif							/* LMM_BYTES_H */
