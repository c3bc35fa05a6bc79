/* String helpers and base64.  Base64 is written here rather than taken from
 * OpenSSL's EVP_DecodeBlock because SASL needs a strict decoder: that one
 * skips whitespace and hides padding in its length. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/str.h"

size_t
str_lcpy(char *dst, const char *src, size_t dstsize)
{
	size_t len = strlen(src);

	if (dstsize > 0) {
		size_t n = len >= dstsize ? dstsize - 1 : len;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

bool
str_has_prefix_ci(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

char *
str_trim(char *s)
{
	size_t len;
	char *p = s;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	len = strlen(p);
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r' || p[len - 1] == '\n'))
		len--;
	memmove(s, p, len);
	s[len] = '\0';
	return s;
}

char *
str_lower(char *s)
{
	for (char *p = s; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	return s;
}

int
str_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int
str_parse_size(const char *s, uint64_t *out)
{
	char digits[32];
	size_t len = strlen(s);
	uint64_t mult = 1, v;

	if (len == 0 || len >= sizeof(digits))
		return -1;
	memcpy(digits, s, len + 1);
	switch (digits[len - 1]) {
	case 'k': case 'K': mult = 1024ULL; break;
	case 'm': case 'M': mult = 1024ULL * 1024; break;
	case 'g': case 'G': mult = 1024ULL * 1024 * 1024; break;
	default: break;
	}
	if (mult != 1)
		digits[--len] = '\0';
	if (str_parse_u64(digits, &v) == -1 || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

bool
str_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}

void
str_wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long
base64_decode(const char *in, size_t inlen, unsigned char *out, size_t outsize)
{
	size_t o = 0;

	if (inlen % 4 != 0)
		return -1;
	for (size_t i = 0; i < inlen; i += 4) {
		int v[4];
		int pad = 0;

		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];

			if (c == '=' && i + 4 == inlen && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;     /* data after padding */
			v[k] = b64_value(c);
			if (v[k] < 0)
				return -1;
		}
		unsigned int triple = ((unsigned)v[0] << 18) | ((unsigned)v[1] << 12) |
		                      ((unsigned)v[2] << 6) | (unsigned)v[3];
		size_t nbytes = 3 - (size_t)pad;

		if (o + nbytes > outsize)
			return -1;
		out[o++] = (unsigned char)(triple >> 16);
		if (nbytes > 1)
			out[o++] = (unsigned char)(triple >> 8);
		if (nbytes > 2)
			out[o++] = (unsigned char)triple;
	}
	return (long)o;
}

size_t
base64_encode(const unsigned char *in, size_t inlen, char *out)
{
	size_t o = 0, i;

	for (i = 0; i + 2 < inlen; i += 3) {
		unsigned int t = ((unsigned)in[i] << 16) | ((unsigned)in[i + 1] << 8) | in[i + 2];

		out[o++] = b64_alphabet[(t >> 18) & 63];
		out[o++] = b64_alphabet[(t >> 12) & 63];
		out[o++] = b64_alphabet[(t >> 6) & 63];
		out[o++] = b64_alphabet[t & 63];
	}
	if (i < inlen) {
		unsigned int t = (unsigned)in[i] << 16;

		if (i + 1 < inlen)
			t |= (unsigned)in[i + 1] << 8;
		out[o++] = b64_alphabet[(t >> 18) & 63];
		out[o++] = b64_alphabet[(t >> 12) & 63];
		out[o++] = i + 1 < inlen ? b64_alphabet[(t >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

int
str_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
