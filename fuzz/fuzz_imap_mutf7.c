/* Fuzzes mailbox names at the wire (src/imap/imap_mutf7.c) and the LIST
 * pattern matcher (src/imap/imap_match.c).  The first byte chooses the
 * mode (bit 0: UTF-8 names, IMAP4rev2) and where the input splits into a
 * pattern and a name for the matcher; the rest is the input.
 *
 * Checked: a decoded name is valid UTF-8 without NUL; modified UTF-7 has
 * one spelling, so encoding a decoded 7-bit name gives the input back;
 * every name written for the wire reads back as itself (atom, quoted
 * string or literal); nstrings too; and the matcher agrees with a plain
 * recursive matcher on short inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_cmd.h"
#include "imap/imap_match.h"
#include "lib/arena.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads back an astring / nstring as written by imap_mutf7.c: an atom,
 * a quoted string with \" and \\ escapes, a literal, or NIL (*nil_out). */
static char *
read_back(const char *s, size_t len, size_t *len_out, int *nil_out, struct arena *a)
{
	char *out = arena_alloc(a, len + 1);
	size_t i, o = 0, n;

	*nil_out = 0;
	if (len == 3 && memcmp(s, "NIL", 3) == 0) {
		*nil_out = 1;
		*len_out = 0;
		return out;
	}
	if (len > 0 && s[0] == '{') {
		n = strtoul(s + 1, NULL, 10);
		for (i = 1; i < len && s[i] != '}'; i++)
			;
		if (i + 2 >= len || s[i + 1] != '\r' || s[i + 2] != '\n' || len - (i + 3) != n)
			abort();
		memcpy(out, s + i + 3, n);
		*len_out = n;
		return out;
	}
	if (len > 0 && s[0] == '"') {
		if (len < 2 || s[len - 1] != '"')
			abort();
		for (i = 1; i + 1 < len; i++) {
			if (s[i] == '\\') {
				i++;
				if (i + 1 >= len || (s[i] != '"' && s[i] != '\\'))
					abort();
			} else if (s[i] == '"' || s[i] == '\r' || s[i] == '\n' || s[i] == '\0') {
				abort();
			}
			out[o++] = s[i];
		}
		*len_out = o;
		return out;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f || strchr("(){%*\"\\]", s[i]) != NULL)
			abort();
	if (len == 0)
		abort();
	memcpy(out, s, len);
	*len_out = len;
	return out;
}

static int
ref_match(const char *p, size_t plen, const char *s, size_t slen)
{
	size_t i;

	if (plen == 0)
		return slen == 0;
	if (*p == '*' || *p == '%') {
		for (i = 0; i <= slen; i++) {
			if (ref_match(p + 1, plen - 1, s + i, slen - i))
				return 1;
			if (i < slen && *p == '%' && s[i] == '/')
				return 0;
		}
		return 0;
	}
	return slen > 0 && *p == *s && ref_match(p + 1, plen - 1, s + 1, slen - 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a;
	struct buf b = BUF_INIT;
	struct imap_pattern *p;
	const char *in;
	size_t len, i, blen, split;
	char *name, *back;
	bool utf8, seven = true;
	int nil;

	if (size < 1)
		return 0;
	utf8 = (data[0] & 1) != 0;
	in = (const char *)data + 1;
	len = size - 1;
	a = arena_new(4096, false);

	/* decode, then write back */
	name = imap_mailbox_decode(in, len, utf8, a);
	for (i = 0; i < len; i++)
		if ((unsigned char)in[i] >= 0x80)
			seven = false;
	if (name != NULL) {
		size_t nlen = strlen(name);

		/* no NUL inside: the whole input was consumed into the name */
		if (utf8 || !seven) {
			if (nlen != len || memcmp(name, in, len) != 0)
				abort();
		}
		/* 7-bit input decoded as modified UTF-7: one spelling only */
		if (!utf8 && seven) {
			imap_mailbox_write(&b, name, false);
			back = read_back(b.data, b.len, &blen, &nil, a);
			if (nil || blen != len || memcmp(back, in, len) != 0)
				abort();
			buf_reset(&b);
		}
		/* as UTF-8 on the wire: reads back as itself */
		imap_mailbox_write(&b, name, true);
		back = read_back(b.data, b.len, &blen, &nil, a);
		if (nil || blen != nlen || memcmp(back, name, nlen) != 0)
			abort();
		buf_reset(&b);
	}

	/* nstring of the raw input */
	imap_write_nstring(&b, in, len);
	back = read_back(b.data, b.len, &blen, &nil, a);
	if (nil || blen != len || memcmp(back, in, len) != 0)
		abort();
	buf_reset(&b);

	/* matcher: pattern = in[0..split), name = the rest */
	split = len > 0 ? (size_t)(data[0] >> 1) % (len + 1) : 0;
	if ((p = imap_pattern_new(in, split, a)) != NULL) {
		bool got = imap_pattern_match(p, in + split, len - split);

		if (split <= 8 && len - split <= 12 && got != (ref_match(in, split, in + split, len - split) != 0))
			abort();
	}
	buf_free(&b);
	arena_free(&a);
	return 0;
}
