/* Content-Transfer-Encoding (RFC 2045 6), charsets to UTF-8 and RFC 2047
 * encoded words.  FETCH BINARY (RFC 3516) relies on the transfer decoding
 * being exact; the full-text index relies on everything being lenient and
 * on the output being valid UTF-8.
 *
 * Charset labels follow the WHATWG Encoding Standard where mail practice
 * agrees with it: ISO-8859-1 (and Latin-1 aliases) is decoded as
 * windows-1252, which is a superset for every printable character and what
 * senders that say ISO-8859-1 actually mean for 0x80-0x9F.  US-ASCII,
 * unknown-8bit and charsets iconv does not know are "auto": UTF-8 when the
 * octets are valid UTF-8, else windows-1252. */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "mime/mime_decode.h"

/* Longest charset name passed to iconv; IANA names are at most 40. */
#define MIME_CHARSET_NAME_MAX 64
/* Output room reserved per iconv call (E2BIG makes us call again). */
#define ICONV_CHUNK (64 * 1024)

static const char replacement[] = "\xEF\xBF\xBD";   /* U+FFFD in UTF-8 */

/* ---- transfer encodings ---- */

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
	if (c == '/')
		return 63;
	return -1;
}

static bool
is_b64_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* RFC 2045 6.8.  White space is skipped; the first '=' ends the data
 * (whatever follows a pad is not decoded); missing padding is fine.  Other
 * characters outside the alphabet are ignored as 6.8 says, but make the
 * result CORRUPT, and so does a final lone sextet (which cannot make an
 * octet and is dropped).  The output is complete either way, so a lenient
 * caller can use it. */
static void
base64_feed(struct mime_decoder *d, const char *in, size_t len, struct buf *out)
{
	unsigned char *o = (unsigned char *)buf_reserve(out, len / 4 * 3 + 3);
	uint32_t acc = d->acc;
	size_t i, k = 0;
	int n = d->sextets, v;

	for (i = 0; i < len && !d->padded; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '=') {
			d->padded = true;
			break;
		}
		if ((v = b64val(c)) < 0) {
			if (!is_b64_space(c))
				d->result = MIME_DECODE_CORRUPT;
			continue;
		}
		acc = acc << 6 | (uint32_t)v;
		if (++n == 4) {
			o[k++] = (unsigned char)(acc >> 16);
			o[k++] = (unsigned char)(acc >> 8);
			o[k++] = (unsigned char)acc;
			acc = 0;
			n = 0;
		}
	}
	d->acc = acc;
	d->sextets = n;
	out->len += k;
	out->data[out->len] = '\0';
}

static void
base64_finish(struct mime_decoder *d, struct buf *out)
{
	unsigned char o[2];

	if (d->sextets == 2) {
		o[0] = (unsigned char)(d->acc >> 4);
		buf_append(out, o, 1);
	} else if (d->sextets == 3) {
		o[0] = (unsigned char)(d->acc >> 10);
		o[1] = (unsigned char)(d->acc >> 2);
		buf_append(out, o, 2);
	} else if (d->sextets == 1) {
		d->result = MIME_DECODE_CORRUPT;
	}
	d->sextets = 0;
}

/* RFC 2045 6.7, one octet at a time.  Lines end in LF or CRLF; a hard line
 * break becomes CRLF (the canonical form).  Trailing white space of a
 * line is transport padding and is removed (rule 3); a line whose last
 * character is then '=' is a soft break.  "=XX" in either case is an
 * octet; any other '=' is kept as is (note 1).  A final line without a
 * line break gets none.  What may still turn out to end the line is held
 * back: a '=' (with one hex digit), white space, a CR. */
/* Output goes to o[*k]: the caller reserved room for it. */
static void
qp_put(char *o, size_t *k, char c)
{
	o[(*k)++] = c;
}

/* The held '=' (and digit) and white space turned out to be data. */
static void
qp_release(struct mime_decoder *d, char *o, size_t *k)
{
	if (d->eq >= 1)
		qp_put(o, k, '=');
	if (d->eq == 2)
		qp_put(o, k, d->hex);
	d->eq = 0;
	memcpy(o + *k, d->space, d->nspace);
	*k += d->nspace;
	d->nspace = 0;
}

/* A line break (LF; a CR held before it is dropped). */
static void
qp_line_end(struct mime_decoder *d, char *o, size_t *k)
{
	bool soft = d->eq == 1;

	if (d->eq == 2) {
		qp_put(o, k, '=');
		qp_put(o, k, d->hex);
	}
	d->eq = 0;
	d->nspace = 0;               /* transport padding */
	if (!soft) {
		qp_put(o, k, '\r');
		qp_put(o, k, '\n');
	}
}

/* Appends at most 2 * len + MIME_DECODER_SLACK octets: each input octet
 * gives at most two (LF becomes CRLF) besides what was held, and at most
 * MIME_QP_SPACE_MAX + 3 octets are ever held. */
static void
qp_feed(struct mime_decoder *d, const char *in, size_t len, struct buf *out)
{
	char *o = buf_reserve(out, 2 * len + MIME_DECODER_SLACK);
	size_t k = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		int h;

		if (d->cr) {
			d->cr = false;
			if (c == '\n') {
				qp_line_end(d, o, &k);
				continue;
			}
			/* a CR inside a line is data */
			qp_release(d, o, &k);
			qp_put(o, &k, '\r');
		}
		switch (c) {
		case '\n':
			qp_line_end(d, o, &k);
			break;
		case '\r':
			if (d->eq == 2)
				qp_release(d, o, &k);
			d->cr = true;
			break;
		case ' ':
		case '\t':
			if (d->eq == 2)
				qp_release(d, o, &k);
			if (d->nspace == sizeof(d->space))
				qp_release(d, o, &k);   /* too long for padding */
			d->space[d->nspace++] = c;
			break;
		default:
			h = str_hexval((unsigned char)c);
			if (d->eq == 1 && d->nspace == 0 && h >= 0) {
				d->eq = 2;
				d->hex = c;
				break;
			}
			if (d->eq == 2 && h >= 0) {
				qp_put(o, &k, (char)(str_hexval((unsigned char)d->hex) << 4 | h));
				d->eq = 0;
				break;
			}
			qp_release(d, o, &k);
			if (c == '=')
				d->eq = 1;
			else
				qp_put(o, &k, c);
			break;
		}
	}
	out->len += k;
	out->data[out->len] = '\0';
}

static void
qp_finish(struct mime_decoder *d, struct buf *out)
{
	char *o = buf_reserve(out, MIME_DECODER_SLACK);
	size_t k = 0;

	if (d->cr) {
		/* a CR at the very end is data, and so is all before it */
		qp_release(d, o, &k);
		qp_put(o, &k, '\r');
		d->cr = false;
	} else {
		/* a final '=' is a soft break, final white space padding */
		if (d->eq == 2) {
			qp_put(o, &k, '=');
			qp_put(o, &k, d->hex);
		}
		d->eq = 0;
		d->nspace = 0;
	}
	out->len += k;
	out->data[out->len] = '\0';
}

enum mime_cte
mime_cte_parse(const char *encoding)
{
	const char *e = encoding;
	size_t n;

	if (e == NULL)
		return MIME_CTE_IDENTITY;
	while (*e == ' ' || *e == '\t')
		e++;
	n = strcspn(e, " \t;(");
	if ((n == 4 && strncasecmp(e, "7bit", 4) == 0) || (n == 4 && strncasecmp(e, "8bit", 4) == 0) ||
	    (n == 6 && strncasecmp(e, "binary", 6) == 0))
		return MIME_CTE_IDENTITY;
	if (n == 6 && strncasecmp(e, "base64", 6) == 0)
		return MIME_CTE_BASE64;
	if (n == 16 && strncasecmp(e, "quoted-printable", 16) == 0)
		return MIME_CTE_QP;
	return MIME_CTE_UNKNOWN;
}

void
mime_decoder_init(struct mime_decoder *d, enum mime_cte cte)
{
	d->cte = cte;
	d->result = MIME_DECODE_OK;
	d->acc = 0;
	d->sextets = 0;
	d->padded = false;
	d->eq = 0;
	d->hex = 0;
	d->cr = false;
	d->nspace = 0;
}

void
mime_decoder_feed(struct mime_decoder *d, const char *in, size_t len, struct buf *out)
{
	switch (d->cte) {
	case MIME_CTE_BASE64:
		base64_feed(d, in, len, out);
		break;
	case MIME_CTE_QP:
		qp_feed(d, in, len, out);
		break;
	default:
		buf_append(out, in, len);
		break;
	}
}

enum mime_decode_result
mime_decoder_finish(struct mime_decoder *d, struct buf *out)
{
	if (d->cte == MIME_CTE_BASE64)
		base64_finish(d, out);
	else if (d->cte == MIME_CTE_QP)
		qp_finish(d, out);
	return d->result;
}

enum mime_decode_result
mime_decode_transfer(const char *encoding, const char *data, size_t len, struct buf *out)
{
	struct mime_decoder d;
	enum mime_cte cte = mime_cte_parse(encoding);

	if (cte == MIME_CTE_UNKNOWN)
		return MIME_DECODE_UNKNOWN;
	mime_decoder_init(&d, cte);
	mime_decoder_feed(&d, data, len, out);
	return mime_decoder_finish(&d, out);
}

/* ---- charsets ---- */

/* Length of the valid UTF-8 sequence at p (n > 0 octets available), or 0
 * with *bad_out set to the length of the maximal ill-formed subpart, which
 * becomes one U+FFFD (Unicode 15, 3.9 "U+FFFD Substitution of Maximal
 * Subparts"). */
static size_t
utf8_next(const unsigned char *p, size_t n, size_t *bad_out)
{
	unsigned c = p[0], lo = 0x80, hi = 0xBF;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c == 0xE0) {
		need = 2;
		lo = 0xA0;
	} else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
		need = 2;
	} else if (c == 0xED) {
		need = 2;
		hi = 0x9F;
	} else if (c == 0xF0) {
		need = 3;
		lo = 0x90;
	} else if (c >= 0xF1 && c <= 0xF3) {
		need = 3;
	} else if (c == 0xF4) {
		need = 3;
		hi = 0x8F;
	} else {
		*bad_out = 1;
		return 0;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi) {
			*bad_out = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

static bool
utf8_valid(const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0, bad, n;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_next(p + i, len - i, &bad)) == 0)
			return false;
		i += n;
	}
	return true;
}

/* Copies UTF-8, each maximal ill-formed subpart replaced by U+FFFD. */
static void
utf8_sanitize(const char *data, size_t len, struct buf *out)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0, start = 0, bad, n;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_next(p + i, len - i, &bad)) > 0) {
			i += n;
			continue;
		}
		buf_append(out, data + start, i - start);
		buf_append(out, replacement, 3);
		i += bad;
		start = i;
	}
	buf_append(out, data + start, len - start);
}

/* windows-1252 0x80-0x9F; the five unassigned octets map to the C1
 * control of the same value, as the WHATWG index does. */
static const uint16_t cp1252_high[32] = {
	0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
	0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static void
cp1252_to_utf8(const char *data, size_t len, struct buf *out)
{
	char *o = buf_reserve(out, len * 3);
	size_t i, k = 0;

	for (i = 0; i < len; i++) {
		unsigned c = (unsigned char)data[i];
		if (c >= 0x80 && c < 0xA0)
			c = cp1252_high[c - 0x80];
		if (c < 0x80) {
			o[k++] = (char)c;
		} else if (c < 0x800) {
			o[k++] = (char)(0xC0 | c >> 6);
			o[k++] = (char)(0x80 | (c & 0x3F));
		} else {
			o[k++] = (char)(0xE0 | c >> 12);
			o[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
			o[k++] = (char)(0x80 | (c & 0x3F));
		}
	}
	out->len += k;
	out->data[out->len] = '\0';
}

enum charset_kind { CS_AUTO, CS_UTF8, CS_CP1252, CS_ICONV };

static bool
name_in(const char *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcasecmp(name, *list) == 0)
			return true;
	return false;
}

static enum charset_kind
charset_kind(const char *cs)
{
	static const char *const utf8[] = { "utf-8", "utf8", "unicode-1-1-utf-8", NULL };
	static const char *const auto_[] = { "us-ascii", "ascii", "ansi_x3.4-1968", "iso646-us",
					     "unknown-8bit", "x-unknown", "unknown", "default",
					     "x-user-defined", NULL };
	static const char *const cp1252[] = { "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1",
					      "l1", "iso-ir-100", "cp819", "ibm819", "windows-1252",
					      "cp1252", "x-cp1252", "iso_8859-1:1987", "csisolatin1",
					      NULL };

	if (cs == NULL || cs[0] == '\0' || name_in(cs, auto_))
		return CS_AUTO;
	if (name_in(cs, utf8))
		return CS_UTF8;
	if (name_in(cs, cp1252))
		return CS_CP1252;
	/* Only plain names reach iconv: no "//" suffixes and no paths. */
	if (strlen(cs) >= MIME_CHARSET_NAME_MAX ||
	    strspn(cs, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:") !=
		    strlen(cs))
		return CS_AUTO;
	return CS_ICONV;
}

/* Octets per code unit of charset: how much to skip past an invalid one. */
static size_t
charset_unit(const char *cs)
{
	if (strncasecmp(cs, "utf-16", 6) == 0 || strncasecmp(cs, "utf16", 5) == 0 ||
	    strncasecmp(cs, "ucs-2", 5) == 0 || strncasecmp(cs, "ucs2", 4) == 0 ||
	    strncasecmp(cs, "unicode", 7) == 0)
		return 2;
	if (strncasecmp(cs, "utf-32", 6) == 0 || strncasecmp(cs, "utf32", 5) == 0 ||
	    strncasecmp(cs, "ucs-4", 5) == 0 || strncasecmp(cs, "ucs4", 4) == 0)
		return 4;
	return 1;
}

/* Converts with iconv; false if iconv does not know the charset.  An
 * invalid sequence becomes U+FFFD and its first code unit is skipped. */
static bool
iconv_to_utf8(const char *charset, const char *data, size_t len, struct buf *out)
{
	iconv_t cd = iconv_open("UTF-8", charset);
	char *in = (char *)data;
	size_t inleft = len, unit = charset_unit(charset);
	int err;

	if (cd == (iconv_t)-1)
		return false;
	for (;;) {
		char *o = buf_reserve(out, ICONV_CHUNK);
		size_t oleft = ICONV_CHUNK, r;

		/* in == NULL flushes the shift state once the input is used up */
		r = iconv(cd, inleft > 0 ? &in : NULL, &inleft, &o, &oleft);
		out->len = (size_t)(o - out->data);
		if (r != (size_t)-1) {
			if (inleft == 0 && in != NULL) {
				in = NULL;   /* now flush */
				continue;
			}
			break;
		}
		if ((err = errno) == E2BIG)
			continue;
		buf_append(out, replacement, 3);
		if (err == EILSEQ && inleft > 0) {
			size_t skip = unit < inleft ? unit : inleft;
			in += skip;
			inleft -= skip;
			/* back to the initial shift state after garbage (not for
			 * UTF-16/32, where that would forget the byte order mark) */
			if (unit == 1)
				iconv(cd, NULL, NULL, NULL, NULL);
			continue;
		}
		break;   /* EINVAL: an incomplete sequence at the end */
	}
	out->data[out->len] = '\0';
	iconv_close(cd);
	return true;
}

void
mime_charset_to_utf8(const char *charset, const char *data, size_t len, struct buf *out)
{
	switch (charset_kind(charset)) {
	case CS_UTF8:
		utf8_sanitize(data, len, out);
		return;
	case CS_CP1252:
		cp1252_to_utf8(data, len, out);
		return;
	case CS_ICONV: {
		/* glibc's UCS-4 and a few others write "UTF-8" past U+10FFFF:
		 * iconv's output is checked like any other UTF-8 */
		struct buf tmp = BUF_INIT;
		bool known = iconv_to_utf8(charset, data, len, &tmp);
		if (known)
			utf8_sanitize(tmp.data, tmp.len, out);
		buf_free(&tmp);
		if (known)
			return;
		break;
	}
	case CS_AUTO:
		break;
	}
	if (utf8_valid(data, len))
		buf_append(out, data, len);
	else
		cp1252_to_utf8(data, len, out);
}

/* ---- RFC 2047 encoded words ---- */

struct eword {
	const char *charset;    /* up to '?' or '*' (RFC 2231 5 language) */
	size_t charset_len;
	char enc;               /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	const char *end;        /* after "?=" */
};

/* Recognises "=?charset?B|Q?text?=" at p.  No white space may occur
 * inside (RFC 2047 5); the 75-character limit is not enforced because
 * real senders ignore it. */
static bool
eword_parse(const char *p, struct eword *w)
{
	const char *q, *s;

	if (p[0] != '=' || p[1] != '?')
		return false;
	s = p + 2;
	q = s;
	while (*q != '\0' && *q != '?' && *q > ' ' && *q < 127)
		q++;
	if (*q != '?' || q == s)
		return false;
	w->charset = s;
	w->charset_len = (size_t)(q - s);
	if ((s = memchr(s, '*', w->charset_len)) != NULL)
		w->charset_len = (size_t)(s - w->charset);
	q++;
	if ((*q != 'B' && *q != 'b' && *q != 'Q' && *q != 'q') || q[1] != '?')
		return false;
	w->enc = (char)(*q & ~0x20);
	w->text = q + 2;
	for (q = w->text; *q != '\0' && *q != '?'; q++)
		if (*q == ' ' || *q == '\t')
			return false;
	if (q[0] != '?' || q[1] != '=')
		return false;
	w->text_len = (size_t)(q - w->text);
	w->end = q + 2;
	return true;
}

/* Appends an encoded word's octets (still in its charset) to raw. */
static void
eword_octets(const struct eword *w, struct buf *raw)
{
	size_t i;

	if (w->enc == 'B') {
		struct mime_decoder d;

		mime_decoder_init(&d, MIME_CTE_BASE64);
		mime_decoder_feed(&d, w->text, w->text_len, raw);
		(void)mime_decoder_finish(&d, raw);
		return;
	}
	for (i = 0; i < w->text_len; i++) {
		const char *t = w->text + i;
		int h, l;
		char c = *t;
		if (c == '_') {
			c = ' ';
		} else if (c == '=' && i + 2 < w->text_len && (h = str_hexval((unsigned char)t[1])) >= 0 &&
			   (l = str_hexval((unsigned char)t[2])) >= 0) {
			c = (char)(h << 4 | l);
			i += 2;
		}
		buf_append(raw, &c, 1);
	}
}

/* Converts the pending octets of adjacent encoded words to UTF-8. */
static void
eword_flush(struct buf *raw, const char *charset, size_t charset_len, struct buf *out)
{
	char name[MIME_CHARSET_NAME_MAX];

	if (raw->len == 0)
		return;
	if (charset_len < sizeof(name)) {
		memcpy(name, charset, charset_len);
		name[charset_len] = '\0';
		mime_charset_to_utf8(name, raw->data, raw->len, out);
	} else {
		mime_charset_to_utf8(NULL, raw->data, raw->len, out);
	}
	buf_reset(raw);
}

/* Encoded words are decoded wherever they occur (as Thunderbird and
 * Dovecot do), not only where RFC 2047 5 allows them.  White space
 * between two encoded words is dropped (RFC 2047 6.2); adjacent words in
 * one charset are joined before conversion, so a character split across
 * two words survives. */
char *
mime_decode_words(const char *value, struct arena *arena)
{
	struct buf out = BUF_INIT, raw = BUF_INIT;
	const char *p = value, *cs = NULL;
	size_t cs_len = 0, i;
	bool after_word = false;
	struct eword w;
	char *res;

	buf_append(&out, "", 0);
	while (*p != '\0') {
		if (p[0] == '=' && p[1] == '?' && eword_parse(p, &w)) {
			if (cs != NULL && (cs_len != w.charset_len || strncasecmp(cs, w.charset, cs_len) != 0))
				eword_flush(&raw, cs, cs_len, &out);
			cs = w.charset;
			cs_len = w.charset_len;
			eword_octets(&w, &raw);
			p = w.end;
			after_word = true;
			continue;
		}
		if (after_word && (*p == ' ' || *p == '\t')) {
			const char *q = p + strspn(p, " \t");
			if (eword_parse(q, &w)) {
				p = q;
				continue;
			}
		}
		if (cs != NULL) {
			eword_flush(&raw, cs, cs_len, &out);
			cs = NULL;
		}
		after_word = false;
		i = strcspn(p + 1, "= \t") + 1;
		buf_append(&out, p, i);
		p += i;
	}
	if (cs != NULL)
		eword_flush(&raw, cs, cs_len, &out);
	/* a decoded NUL would end the string early: drop it */
	res = arena_alloc(arena, out.len + 1);
	for (i = 0, cs_len = 0; i < out.len; i++)
		if (out.data[i] != '\0')
			res[cs_len++] = out.data[i];
	res[cs_len] = '\0';
	buf_free(&out);
	buf_free(&raw);
	return res;
}
