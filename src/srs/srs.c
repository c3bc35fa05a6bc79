/* SRS addresses: making them and taking them apart (srs.h). */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "lib/limits.h"
#include "lib/str.h"
#include "srs/srs.h"

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/* Longest input taken apart: a local part is at most LOCALPART_MAX, but a
 * peer may send anything; well past any address we could have made. */
#define SRS_INPUT_MAX 512

static int
b32_value(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= '2' && c <= '7')
		return c - '2' + 26;
	return -1;
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

struct field {
	const char *p;
	size_t len;
};

/* The hash of tag and fields, SRS_HASH_LEN upper-case base32 digits and a
 * NUL into out.  -1 if the fields are too long to hash (never for
 * fields that fit in an address). */
static int
srs_hash(const unsigned char key[SRS_KEY_LEN], const char *tag, const struct field *f, size_t n,
         char out[SRS_HASH_LEN + 1])
{
	unsigned char data[4 * SRS_INPUT_MAX], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t len = 0, i, j;
	uint32_t bits;

	len = strlen(tag);
	memcpy(data, tag, len);
	for (i = 0; i < n; i++) {
		if (len + 1 + f[i].len > sizeof(data))
			return -1;
		data[len++] = '\0';
		for (j = 0; j < f[i].len; j++)
			data[len++] = (unsigned char)lower(f[i].p[j]);
	}
	if (HMAC(EVP_sha256(), key, SRS_KEY_LEN, data, len, md, &mdlen) == NULL || mdlen < 4)
		return -1;
	bits = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
	for (i = 0; i < SRS_HASH_LEN; i++)
		out[i] = B32[(bits >> (27 - 5 * i)) & 31];
	out[SRS_HASH_LEN] = '\0';
	return 0;
}

/* 1 if got (len bytes) is the hash of tag and fields, in any case. */
static bool
hash_ok(const unsigned char key[SRS_KEY_LEN], const char *got, size_t len, const char *tag, const struct field *f,
        size_t n)
{
	char want[SRS_HASH_LEN + 1], up[SRS_HASH_LEN];
	size_t i;

	if (len != SRS_HASH_LEN || srs_hash(key, tag, f, n, want) == -1)
		return false;
	for (i = 0; i < SRS_HASH_LEN; i++)
		up[i] = got[i] >= 'a' && got[i] <= 'z' ? (char)(got[i] - 'a' + 'A') : got[i];
	return str_ct_equal(up, want, SRS_HASH_LEN);
}

const char *
srs_result_str(enum srs_result r)
{
	switch (r) {
	case SRS_OK:
		return "ok";
	case SRS_NOT_SRS:
		return "not an SRS address";
	case SRS_BAD_FORMAT:
		return "malformed SRS address";
	case SRS_BAD_HASH:
		return "bad hash";
	case SRS_EXPIRED:
		return "expired";
	case SRS_TOO_LONG:
		return "too long";
	}
	return "?";
}

bool
srs_is_srs(const char *local)
{
	return str_has_prefix_ci(local, "SRS0=") || str_has_prefix_ci(local, "SRS1=");
}

/* Splits s (len bytes) at the next '=': the field before it in *f, and
 * returns the rest after it, or NULL if there is no '='. */
static const char *
next_field(const char *s, size_t len, struct field *f)
{
	const char *eq = memchr(s, '=', len);

	if (eq == NULL)
		return NULL;
	f->p = s;
	f->len = (size_t)(eq - s);
	return eq + 1;
}

/* "HHHHHH=host==rest" (after "SRS1="): hash, host and rest (which starts
 * after the second '=').  0, or -1 if it is not that. */
static int
parse_srs1(const char *s, size_t len, struct field *hash, struct field *host, struct field *rest)
{
	const char *end = s + len, *p;

	if ((p = next_field(s, len, hash)) == NULL || (p = next_field(p, (size_t)(end - p), host)) == NULL)
		return -1;
	if (p >= end || *p != '=' || host->len == 0)
		return -1;
	rest->p = p + 1;
	rest->len = (size_t)(end - rest->p);
	return rest->len == 0 ? -1 : 0;
}

/* No controls, spaces or DEL in what we take apart and hand on. */
static bool
printable(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

enum srs_result
srs_forward(const unsigned char key[SRS_KEY_LEN], const char *sender, const char *srs_domain, int64_t now,
            char *out, size_t outsize)
{
	const char *at = strrchr(sender, '@');
	struct field f[3], h, host, rest;
	char hash[SRS_HASH_LEN + 1], tt[3];
	size_t llen;
	unsigned day;
	int n;

	if (outsize > 0)
		out[0] = '\0';
	if (at == NULL || at == sender || at[1] == '\0' || srs_domain[0] == '\0')
		return SRS_BAD_FORMAT;
	llen = (size_t)(at - sender);
	if (llen > SRS_INPUT_MAX || strlen(at + 1) > DOMAIN_MAX)
		return SRS_TOO_LONG;
	if (str_has_prefix_ci(sender, "SRS0=") || str_has_prefix_ci(sender, "SRS1=")) {
		if (sender[3] == '0') {
			/* SRS0 at another forwarder: it stays the one to undo it */
			host = (struct field){ at + 1, strlen(at + 1) };
			rest = (struct field){ sender + 5, llen - 5 };
			if (rest.len == 0)
				return SRS_BAD_FORMAT;
		} else if (parse_srs1(sender + 5, llen - 5, &h, &host, &rest) == -1) {
			return SRS_BAD_FORMAT;
		}
		f[0] = host;
		f[1] = rest;
		if (srs_hash(key, "SRS1", f, 2, hash) == -1)
			return SRS_TOO_LONG;
		if (5 + SRS_HASH_LEN + 1 + host.len + 2 + rest.len > LOCALPART_MAX)
			return SRS_TOO_LONG;
		n = snprintf(out, outsize, "SRS1=%s=%.*s==%.*s@%s", hash, (int)host.len, host.p, (int)rest.len, rest.p,
		             srs_domain);
	} else {
		day = (unsigned)((now / 86400) % SRS_TIME_SLOTS);
		tt[0] = B32[day >> 5];
		tt[1] = B32[day & 31];
		tt[2] = '\0';
		f[0] = (struct field){ tt, 2 };
		f[1] = (struct field){ at + 1, strlen(at + 1) };
		f[2] = (struct field){ sender, llen };
		if (srs_hash(key, "SRS0", f, 3, hash) == -1)
			return SRS_TOO_LONG;
		if (5 + SRS_HASH_LEN + 1 + 2 + 1 + f[1].len + 1 + llen > LOCALPART_MAX)
			return SRS_TOO_LONG;
		n = snprintf(out, outsize, "SRS0=%s=%s=%s=%.*s@%s", hash, tt, at + 1, (int)llen, sender, srs_domain);
	}
	if (n < 0 || (size_t)n >= outsize) {
		if (outsize > 0)
			out[0] = '\0';
		return SRS_TOO_LONG;
	}
	return SRS_OK;
}

static enum srs_result
fail(char *out, size_t outsize, enum srs_result r)
{
	if (outsize > 0)
		out[0] = '\0';
	return r;
}

enum srs_result
srs_reverse(const unsigned char key[SRS_KEY_LEN], const char *local, size_t len, int64_t now, unsigned max_age,
            char *out, size_t outsize)
{
	const char *end = local + len, *p;
	struct field hash, tt, dom, user, host, rest, f[3];
	unsigned day, then, age;
	int n, hi, lo;

	if (outsize > 0)
		out[0] = '\0';
	if (len < 5 || !(str_has_prefix_ci(local, "SRS0=") || str_has_prefix_ci(local, "SRS1=")) ||
	    memchr(local, '\0', 5) != NULL)
		return SRS_NOT_SRS;
	if (len > SRS_INPUT_MAX || !printable(local, len))
		return fail(out, outsize, SRS_BAD_FORMAT);
	p = local + 5;
	if (local[3] == '1') {
		if (parse_srs1(p, (size_t)(end - p), &hash, &host, &rest) == -1 ||
		    memchr(host.p, '@', host.len) != NULL)
			return fail(out, outsize, SRS_BAD_FORMAT);
		f[0] = host;
		f[1] = rest;
		if (!hash_ok(key, hash.p, hash.len, "SRS1", f, 2))
			return fail(out, outsize, SRS_BAD_HASH);
		n = snprintf(out, outsize, "SRS0=%.*s@%.*s", (int)rest.len, rest.p, (int)host.len, host.p);
	} else {
		if ((p = next_field(p, (size_t)(end - p), &hash)) == NULL ||
		    (p = next_field(p, (size_t)(end - p), &tt)) == NULL ||
		    (p = next_field(p, (size_t)(end - p), &dom)) == NULL)
			return fail(out, outsize, SRS_BAD_FORMAT);
		user = (struct field){ p, (size_t)(end - p) };
		if (tt.len != 2 || dom.len == 0 || user.len == 0 || memchr(dom.p, '@', dom.len) != NULL)
			return fail(out, outsize, SRS_BAD_FORMAT);
		if ((hi = b32_value(tt.p[0])) < 0 || (lo = b32_value(tt.p[1])) < 0)
			return fail(out, outsize, SRS_BAD_FORMAT);
		f[0] = tt;
		f[1] = dom;
		f[2] = user;
		if (!hash_ok(key, hash.p, hash.len, "SRS0", f, 3))
			return fail(out, outsize, SRS_BAD_HASH);
		/* days since TT, modulo the 1024 slots: a stamp from the future
		 * looks about three years old */
		day = (unsigned)((now / 86400) % SRS_TIME_SLOTS);
		then = (unsigned)(hi << 5 | lo);
		age = (day + SRS_TIME_SLOTS - then) % SRS_TIME_SLOTS;
		if (age > max_age)
			return fail(out, outsize, SRS_EXPIRED);
		n = snprintf(out, outsize, "%.*s@%.*s", (int)user.len, user.p, (int)dom.len, dom.p);
	}
	if (n < 0 || (size_t)n >= outsize)
		return fail(out, outsize, SRS_TOO_LONG);
	return SRS_OK;
}
