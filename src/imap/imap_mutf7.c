/* Mailbox names at the wire (imap_cmd.h): modified UTF-7 (RFC 3501
 * 5.1.3) both ways, UTF-8 names for IMAP4rev2 (RFC 9051 5.1), astrings
 * and nstrings on output, and the sequence number of a UID in a view.
 *
 * Modified UTF-7, strictly: printable US-ASCII (0x20-0x7e) but "&"
 * stands for itself; "&" is "&-"; any other run of characters is their
 * UTF-16 in base64 with "," for "/", no padding, between "&" and "-".
 * The decoder refuses every encoding but the shortest one, so a name has
 * exactly one spelling: no printable ASCII inside base64 ("&AGE-"), no
 * missing "-" ("&Jjo"), no two adjacent base64 runs ("&AOk-&AOk-"), no
 * leftover bits that are not zero or that make up a whole character, no
 * unpaired surrogates, no NUL. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_cmd.h"
#include "lib/arena.h"
#include "lib/buf.h"

static const char b64chars[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == ',')
		return 63;
	return -1;
}

/* Appends code point cp (valid, not a surrogate) as UTF-8. */
static size_t
utf8_put(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads one UTF-8 character of s[0..len) (strict: no overlong forms, no
 * surrogates, at most U+10FFFF).  Returns its length and the code point
 * in *cp_out, or 0 when the bytes are not valid UTF-8. */
static size_t
utf8_get(const unsigned char *s, size_t len, uint32_t *cp_out)
{
	uint32_t cp, min;
	size_t n, i;

	if (s[0] < 0x80) {
		*cp_out = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_out = cp;
	return n;
}

/* Decodes one base64 run s[0..len) (between "&" and "-", len > 0) into
 * out as UTF-8.  Returns the bytes written or -1. */
static long
mutf7_run(const unsigned char *s, size_t len, char *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		int v = b64val(s[i]);

		if (v < 0)
			return -1;
		bits = bits << 6 | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t u = bits >> nbits & 0xffff;

		bits &= ((uint32_t)1 << nbits) - 1;
		if (high != 0) {
			if (u < 0xdc00 || u > 0xdfff)
				return -1;
			o += utf8_put(out + o, 0x10000 + ((high - 0xd800) << 10) + (u - 0xdc00));
			high = 0;
		} else if (u >= 0xd800 && u <= 0xdbff) {
			high = u;
		} else if (u >= 0xdc00 && u <= 0xdfff) {
			return -1;
		} else if (u == 0 || (u >= 0x20 && u <= 0x7e)) {
			/* NUL, or printable ASCII that must stand for itself */
			return -1;
		} else {
			o += utf8_put(out + o, u);
		}
	}
	/* Shortest form: fewer than 6 bits left over (else a whole base64
	 * character encodes nothing), and they are zero. */
	if (high != 0 || nbits >= 6 || bits != 0)
		return -1;
	return (long)o;
}

/* Modified UTF-7 (7-bit input) to UTF-8.  UTF-8 can be longer than its
 * base64: a BMP character is 16 bits, 2.67 base64 characters, but up to
 * 3 bytes of UTF-8 (8 base64 characters hold 3 characters, 9 bytes).
 * Twice the input is room enough. */
static char *
mutf7_decode(const char *wire, size_t len, struct arena *a)
{
	const unsigned char *s = (const unsigned char *)wire;
	char *out = arena_alloc(a, 2 * len + 1);
	size_t i = 0, o = 0;

	while (i < len) {
		size_t start, end;
		long n;

		if (s[i] < 0x20 || s[i] > 0x7e)
			return NULL;
		if (s[i] != '&') {
			out[o++] = (char)s[i++];
			continue;
		}
		start = i + 1;
		for (end = start; end < len && s[end] != '-'; end++)
			;
		if (end == len)
			return NULL;                 /* no closing "-" */
		if (end == start) {
			out[o++] = '&';              /* "&-" */
			i = end + 1;
			continue;
		}
		if ((n = mutf7_run(s + start, end - start, out + o)) < 0)
			return NULL;
		o += (size_t)n;
		i = end + 1;
		/* "-&" followed by base64 is a null shift: one run would do. */
		if (i + 1 < len && s[i] == '&' && s[i + 1] != '-')
			return NULL;
	}
	out[o] = '\0';
	return out;
}

static bool
utf8_valid(const char *s, size_t len)
{
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if (s[i] == '\0')
			return false;
		if ((n = utf8_get((const unsigned char *)s + i, len - i, &cp)) == 0)
			return false;
		i += n;
	}
	return true;
}

char *
imap_mailbox_decode(const char *wire, size_t len, bool utf8, struct arena *a)
{
	size_t i;

	if (!utf8) {
		for (i = 0; i < len; i++)
			if ((unsigned char)wire[i] >= 0x80)
				break;
		/* 7-bit: modified UTF-7.  8-bit from an IMAP4rev1 client:
		 * taken as UTF-8 when valid (imap_cmd.h). */
		if (i == len)
			return mutf7_decode(wire, len, a);
	}
	if (!utf8_valid(wire, len))
		return NULL;
	return arena_strndup(a, wire, len);
}

/* A modified base64 run being written: the run is opened by the first
 * UTF-16 unit and closed ("-") by the next printable character or the
 * end, so one run of non-ASCII characters is one run on the wire. */
struct mutf7_enc {
	bool open;
	uint32_t bits;
	unsigned nbits;
};

static void
enc_unit(struct buf *out, struct mutf7_enc *e, uint16_t u)
{
	char c;

	if (!e->open) {
		buf_puts(out, "&");
		e->open = true;
	}
	e->bits = e->bits << 16 | u;
	e->nbits += 16;
	while (e->nbits >= 6) {
		e->nbits -= 6;
		c = b64chars[e->bits >> e->nbits & 0x3f];
		buf_append(out, &c, 1);
	}
	e->bits &= ((uint32_t)1 << e->nbits) - 1;
}

static void
enc_close(struct buf *out, struct mutf7_enc *e)
{
	char c;

	if (!e->open)
		return;
	if (e->nbits > 0) {
		c = b64chars[e->bits << (6 - e->nbits) & 0x3f];
		buf_append(out, &c, 1);
	}
	buf_puts(out, "-");
	e->open = false;
	e->bits = 0;
	e->nbits = 0;
}

/* UTF-8 name to modified UTF-7.  An invalid byte (never in a name the
 * store gave us) is written as U+FFFD so the output stays valid. */
static void
mutf7_encode(struct buf *out, const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	struct mutf7_enc e = { false, 0, 0 };
	size_t i = 0, n;
	uint32_t cp;

	while (i < len) {
		if (s[i] >= 0x20 && s[i] <= 0x7e) {
			enc_close(out, &e);
			if (s[i] == '&')
				buf_puts(out, "&-");
			else
				buf_append(out, s + i, 1);
			i++;
			continue;
		}
		if ((n = utf8_get(s + i, len - i, &cp)) == 0) {
			cp = 0xfffd;
			n = 1;
		}
		i += n;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			enc_unit(out, &e, (uint16_t)(0xd800 + (cp >> 10)));
			enc_unit(out, &e, (uint16_t)(0xdc00 + (cp & 0x3ff)));
		} else {
			enc_unit(out, &e, (uint16_t)cp);
		}
	}
	enc_close(out, &e);
}

void
imap_mailbox_encode(struct buf *out, const char *name)
{
	mutf7_encode(out, name, strlen(name));
}

/* An astring that needs no quotes: ATOM-CHARs only (RFC 9051 9), not
 * "NIL" (which a client would read as NIL), not empty.  "]" is an
 * ASTRING-CHAR but some clients' parsers stop at it: we quote it. */
static bool
astring_atom_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || (len == 3 && strncasecmp(s, "NIL", 3) == 0))
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

/* A quoted string holds TEXT-CHARs (no NUL, CR, LF); 8-bit only as UTF-8
 * when the client accepts it.  Returns whether s fits one. */
static bool
quoted_ok(const char *s, size_t len, bool eight_bit)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0' || c == '\r' || c == '\n' || (c >= 0x80 && !eight_bit))
			return false;
	}
	return true;
}

static void
write_quoted(struct buf *out, const char *s, size_t len)
{
	size_t i, run = 0;

	buf_puts(out, "\"");
	for (i = 0; i < len; i++) {
		if (s[i] == '"' || s[i] == '\\') {
			buf_append(out, s + run, i - run);
			buf_puts(out, "\\");
			run = i;
		}
	}
	buf_append(out, s + run, len - run);
	buf_puts(out, "\"");
}

static void
write_literal(struct buf *out, const char *s, size_t len)
{
	buf_printf(out, "{%zu}\r\n", len);
	buf_append(out, s, len);
}

void
imap_mailbox_write(struct buf *out, const char *name, bool utf8)
{
	struct buf enc = BUF_INIT;
	const char *s = name;
	size_t len = strlen(name);

	if (!utf8) {
		mutf7_encode(&enc, name, len);
		s = enc.data != NULL ? enc.data : "";
		len = enc.len;
	}
	if (astring_atom_ok(s, len))
		buf_append(out, s, len);
	else if (quoted_ok(s, len, utf8))
		write_quoted(out, s, len);
	else
		write_literal(out, s, len);
	buf_free(&enc);
}

/* A literal also for 8-bit text: the function does not know whether the
 * client accepts UTF-8 in quoted strings (RFC 9051 does, RFC 3501 does
 * not), and a literal is right for both. */
void
imap_write_nstring(struct buf *out, const char *s, size_t len)
{
	if (s == NULL)
		buf_puts(out, "NIL");
	else if (quoted_ok(s, len, false))
		write_quoted(out, s, len);
	else
		write_literal(out, s, len);
}

uint32_t
imap_view_seq_next(const struct imap_view *v, uint32_t uid, size_t *hint)
{
	uint32_t seq;

	if (*hint < v->count && v->uids[*hint] == uid) {
		seq = (uint32_t)(*hint + 1);
	} else if (*hint + 1 < v->count && v->uids[*hint + 1] == uid) {
		seq = (uint32_t)(*hint + 2);
	} else {
		seq = imap_view_seq(v, uid);
		if (seq == 0)
			return 0;
	}
	*hint = seq;     /* the next UID is most likely at index seq */
	return seq;
}

uint32_t
imap_view_seq(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->uids[mid] == uid)
			return (uint32_t)(mid + 1);
		if (v->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}
