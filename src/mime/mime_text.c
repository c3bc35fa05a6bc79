/* The searchable text of a message: decoded header values and decoded
 * text parts (see mime_text.h for what goes where). */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_text.h"

/* Longest HTML tag name we look at (blockquote is 10) and entity name. */
#define HTML_NAME_MAX 16

struct extract {
	const char *msg;
	size_t len;
	size_t left;            /* octets the outputs may still take */
	struct buf *hdr, *body;
	struct buf dec, utf, html, tmp;
	struct arena *arena;    /* header values; reset after each field */
};

/* Appends n octets of UTF-8 at s to out within ex->left: CRLF and CR
 * become LF, NUL is dropped, and a cut falls on a character boundary. */
static void
put_text(struct extract *ex, struct buf *out, const char *s, size_t n)
{
	size_t i, k = 0;
	char *o;

	if (n > ex->left) {
		n = ex->left;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	o = buf_reserve(out, n);
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\0')
			continue;
		if (c == '\r') {
			if (i + 1 < n && s[i + 1] == '\n')
				continue;
			c = '\n';
		}
		o[k++] = c;
	}
	out->len += k;
	out->data[out->len] = '\0';
	ex->left -= k;
}

/* Ends what out holds with a line break, so texts do not run together. */
static void
put_newline(struct extract *ex, struct buf *out)
{
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		put_text(ex, out, "\n", 1);
}

/* Fields that hold only base64 signatures (RFC 6376, RFC 8617). */
static bool
field_skipped(const char *name, size_t n)
{
	static const char suffix[] = "-signature";
	size_t sl = sizeof(suffix) - 1;

	if (n == 8 && strncasecmp(name, "arc-seal", 8) == 0)
		return true;
	return n > sl && strncasecmp(name + n - sl, suffix, sl) == 0;
}

/* One field: "Name: value\n" with the value unfolded, in UTF-8 (raw 8-bit
 * text is taken as UTF-8 or windows-1252) and RFC 2047 words decoded. */
static void
put_field(struct extract *ex, struct buf *out, const char *name, size_t name_len, const char *raw,
	  size_t raw_len)
{
	const char *value;

	buf_reset(&ex->tmp);
	mime_charset_to_utf8(NULL, name, name_len, &ex->tmp);
	buf_append(&ex->tmp, ": ", 2);
	put_text(ex, out, ex->tmp.data, ex->tmp.len);
	value = mime_header_unfold(raw, raw_len, ex->arena);
	buf_reset(&ex->tmp);
	mime_charset_to_utf8(NULL, value, strlen(value), &ex->tmp);
	value = mime_decode_words(ex->tmp.data, ex->arena);
	put_text(ex, out, value, strlen(value));
	put_text(ex, out, "\n", 1);
	arena_reset(ex->arena);
}

/* Every field of part's header, at most MIME_HEADER_FIELDS_MAX. */
static void
put_header(struct extract *ex, const struct mime_part *part, struct buf *out)
{
	const char *m = ex->msg;
	size_t pos = part->header_offset, end = part->header_offset + part->header_size;
	size_t fields = 0;

	if (end > ex->len)
		end = ex->len;
	while (pos < end && ex->left > 0 && fields < MIME_HEADER_FIELDS_MAX) {
		const char *nl = memchr(m + pos, '\n', end - pos);
		size_t next = nl != NULL ? (size_t)(nl - m) + 1 : end;
		size_t linelen = (nl != NULL ? (size_t)(nl - m) : end) - pos;
		const char *colon;
		size_t fend, name_len;

		if (linelen == 0 || (linelen == 1 && m[pos] == '\r'))
			break;
		colon = memchr(m + pos, ':', linelen);
		if (m[pos] == ' ' || m[pos] == '\t' || colon == NULL) {
			pos = next;     /* a stray continuation or a line without a colon */
			continue;
		}
		fend = next;
		while (fend < end && (m[fend] == ' ' || m[fend] == '\t')) {
			nl = memchr(m + fend, '\n', end - fend);
			fend = nl != NULL ? (size_t)(nl - m) + 1 : end;
		}
		name_len = (size_t)(colon - (m + pos));
		while (name_len > 0 && (m[pos + name_len - 1] == ' ' || m[pos + name_len - 1] == '\t'))
			name_len--;
		if (!field_skipped(m + pos, name_len))
			put_field(ex, out, m + pos, name_len, colon + 1, fend - (size_t)(colon + 1 - m));
		fields++;
		pos = fend;
	}
	put_newline(ex, out);
}

/* ---- HTML ---- */

static void
put_utf8(struct buf *out, uint32_t c)
{
	char b[4];
	size_t n;

	if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		c = 0xFFFD;
	if (c < 0x80) {
		b[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (char)(0xC0 | c >> 6);
		b[1] = (char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (char)(0xE0 | c >> 12);
		b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		b[2] = (char)(0x80 | (c & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | c >> 18);
		b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
		b[3] = (char)(0x80 | (c & 0x3F));
		n = 4;
	}
	buf_append(out, b, n);
}

/* The named character references mail actually uses. */
static const struct {
	const char *name;
	uint32_t code;
} html_entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	{ "nbsp", ' ' }, { "copy", 0xA9 }, { "reg", 0xAE }, { "trade", 0x2122 },
	{ "euro", 0x20AC }, { "pound", 0xA3 }, { "yen", 0xA5 }, { "cent", 0xA2 },
	{ "sect", 0xA7 }, { "deg", 0xB0 }, { "middot", 0xB7 }, { "bull", 0x2022 },
	{ "hellip", 0x2026 }, { "ndash", 0x2013 }, { "mdash", 0x2014 },
	{ "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201C }, { "rdquo", 0x201D },
	{ "laquo", 0xAB }, { "raquo", 0xBB }, { "times", 0xD7 }, { "shy", 0xAD },
	{ "zwnj", 0x200C }, { "zwj", 0x200D },
	{ "auml", 0xE4 }, { "ouml", 0xF6 }, { "uuml", 0xFC }, { "Auml", 0xC4 },
	{ "Ouml", 0xD6 }, { "Uuml", 0xDC }, { "szlig", 0xDF }, { "eacute", 0xE9 },
	{ "egrave", 0xE8 }, { "ecirc", 0xEA }, { "agrave", 0xE0 }, { "aacute", 0xE1 },
	{ "acirc", 0xE2 }, { "ccedil", 0xE7 }, { "Eacute", 0xC9 }, { "oacute", 0xF3 },
	{ "iacute", 0xED }, { "uacute", 0xFA }, { "ntilde", 0xF1 }, { "aring", 0xE5 },
	{ "oslash", 0xF8 }, { "aelig", 0xE6 }, { "Aring", 0xC5 }, { "Oslash", 0xD8 },
	{ "AElig", 0xC6 },
};

/* Decodes a character reference at h[0] == '&'; returns octets used, or
 * 0 when it is not one (the '&' is then text). */
static size_t
html_entity(const char *h, size_t len, uint32_t *code_out)
{
	size_t i = 1, j;
	uint32_t v = 0;

	if (i < len && h[i] == '#') {
		bool hex = i + 1 < len && (h[i + 1] == 'x' || h[i + 1] == 'X');
		i += hex ? 2 : 1;
		for (j = i; j < len && j - i < 8; j++) {
			int d = isdigit((unsigned char)h[j]) ? h[j] - '0' :
				hex && isxdigit((unsigned char)h[j]) ? (tolower((unsigned char)h[j]) - 'a' + 10) : -1;
			if (d < 0)
				break;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (j == i)
			return 0;
		*code_out = v;
		return j < len && h[j] == ';' ? j + 1 : j;
	}
	for (j = i; j < len && j - i < HTML_NAME_MAX && isalnum((unsigned char)h[j]); j++)
		;
	if (j == i || j >= len || h[j] != ';')
		return 0;
	for (size_t k = 0; k < sizeof(html_entities) / sizeof(html_entities[0]); k++) {
		if (strlen(html_entities[k].name) == j - i &&
		    memcmp(html_entities[k].name, h + i, j - i) == 0) {
			*code_out = html_entities[k].code;
			return j + 1;
		}
	}
	return 0;
}

static bool
html_is_block(const char *name)
{
	static const char *const blocks[] = {
		"br", "p", "div", "tr", "li", "table", "ul", "ol", "blockquote", "pre", "hr",
		"title", "dd", "dt", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "section",
		"article", "header", "footer", "address", "center", "form", NULL,
	};

	for (size_t i = 0; blocks[i] != NULL; i++)
		if (strcasecmp(name, blocks[i]) == 0)
			return true;
	return false;
}

/* Position after the case-insensitive needle in h[from, len), or len. */
static size_t
skip_past(const char *h, size_t len, size_t from, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = from; i + n <= len; i++)
		if (strncasecmp(h + i, needle, n) == 0)
			return i + n;
	return len;
}

/* Appends a separator: a line break wins over a space; none at the start. */
static void
html_sep(struct buf *out, char sep)
{
	if (out->len == 0)
		return;
	if (out->data[out->len - 1] == ' ') {
		if (sep == '\n')
			out->data[out->len - 1] = '\n';
		return;
	}
	if (out->data[out->len - 1] != '\n')
		buf_append(out, &sep, 1);
}

/* At h[i] == '<': skips the tag (comment, script or style element
 * included) and returns the position after it, or i when it is no tag. */
static size_t
html_tag(const char *h, size_t len, size_t i, struct buf *out)
{
	char name[HTML_NAME_MAX + 1];
	size_t j = i + 1, n = 0;
	bool closing = false;
	char quote = 0;

	if (j + 2 < len && memcmp(h + j, "!--", 3) == 0)
		return skip_past(h, len, j + 3, "-->");
	if (j < len && h[j] == '/') {
		closing = true;
		j++;
	}
	if (j >= len || !(isalpha((unsigned char)h[j]) || (!closing && (h[j] == '!' || h[j] == '?'))))
		return i;
	while (j < len && isalnum((unsigned char)h[j])) {
		if (n < HTML_NAME_MAX)
			name[n++] = h[j];
		j++;
	}
	name[n] = '\0';
	for (; j < len; j++) {
		if (quote != 0) {
			if (h[j] == quote)
				quote = 0;
		} else if (h[j] == '"' || h[j] == '\'') {
			quote = h[j];
		} else if (h[j] == '>') {
			break;
		}
	}
	j = j < len ? j + 1 : len;
	if (!closing && strcasecmp(name, "script") == 0)
		return skip_past(h, len, skip_past(h, len, j, "</script"), ">");
	if (!closing && strcasecmp(name, "style") == 0)
		return skip_past(h, len, skip_past(h, len, j, "</style"), ">");
	if (strcasecmp(name, "td") == 0 || strcasecmp(name, "th") == 0)
		html_sep(out, ' ');
	else if (html_is_block(name))
		html_sep(out, '\n');
	return j;
}

void
mime_text_html(const char *h, size_t len, struct buf *out)
{
	size_t i = 0, start = out->len, n;
	bool space = false;
	uint32_t code;

	buf_reserve(out, len);
	while (i < len) {
		unsigned char c = (unsigned char)h[i];

		if (c == '<' && (n = html_tag(h, len, i, out)) != i) {
			i = n;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
		    (c == 0xC2 && i + 1 < len && (unsigned char)h[i + 1] == 0xA0)) {
			space = true;
			i += c == 0xC2 ? 2 : 1;
			continue;
		}
		if (space) {
			if (out->len > start)
				html_sep(out, ' ');
			space = false;
		}
		if (c == '&' && (n = html_entity(h + i, len - i, &code)) > 0) {
			put_utf8(out, code);
			i += n;
			continue;
		}
		buf_append(out, h + i, 1);
		i++;
	}
}

/* ---- parts ---- */

static bool
is_identity(const char *enc)
{
	return enc == NULL || strcasecmp(enc, "7BIT") == 0 || strcasecmp(enc, "8BIT") == 0 ||
	       strcasecmp(enc, "BINARY") == 0;
}

/* A text part: decode a prefix big enough for ex->left octets of text
 * (3 encoded octets per decoded one is quoted-printable's worst case),
 * keep at most 2 * left decoded octets (UTF-16 halves in UTF-8), convert,
 * reduce HTML, and append what fits. */
static void
put_part_text(struct extract *ex, const struct mime_part *part, bool html)
{
	const char *data = ex->msg + part->body_offset;
	size_t n = part->body_size, want;

	if (part->body_offset >= ex->len || ex->left == 0)
		return;
	if (n > ex->len - part->body_offset)
		n = ex->len - part->body_offset;
	want = is_identity(part->encoding) ? 2 * ex->left + 4 : 3 * ex->left + 64;
	if (n > want) {
		const char *nl = memrchr(data, '\n', want);
		n = nl != NULL && (size_t)(nl - data) > want / 2 ? (size_t)(nl - data) + 1 : want;
	}
	buf_reset(&ex->dec);
	if (mime_decode_transfer(part->encoding, data, n, &ex->dec) == MIME_DECODE_UNKNOWN)
		buf_append(&ex->dec, data, n);   /* "8-bit" and other typos: take it as is */
	if (ex->dec.len > 2 * ex->left + 4)
		ex->dec.len = 2 * ex->left + 4;
	buf_reset(&ex->utf);
	mime_charset_to_utf8(mime_param_get(part->params, "CHARSET"), ex->dec.data, ex->dec.len,
			     &ex->utf);
	if (html) {
		buf_reset(&ex->html);
		mime_text_html(ex->utf.data, ex->utf.len, &ex->html);
		put_text(ex, ex->body, ex->html.data, ex->html.len);
	} else {
		put_text(ex, ex->body, ex->utf.data, ex->utf.len);
	}
	put_newline(ex, ex->body);
}

static bool
is_text_report(const struct mime_part *p)
{
	return strcmp(p->type, "MESSAGE") == 0 &&
	       (strcmp(p->subtype, "DELIVERY-STATUS") == 0 ||
		strcmp(p->subtype, "DISPOSITION-NOTIFICATION") == 0 ||
		strcmp(p->subtype, "GLOBAL-DELIVERY-STATUS") == 0 ||
		strcmp(p->subtype, "GLOBAL-DISPOSITION-NOTIFICATION") == 0);
}

/* part's header goes to hdr_out; its text to ex->body.  Depth is bounded
 * by the parser (MIME_DEPTH_MAX). */
static void
walk(struct extract *ex, const struct mime_part *part, struct buf *hdr_out)
{
	const struct mime_part *c;

	if (ex->left == 0)
		return;
	put_header(ex, part, hdr_out);
	if (part->children != NULL) {
		for (c = part->children; c != NULL && ex->left > 0; c = c->next)
			walk(ex, c, ex->hdr);
	} else if (part->message != NULL) {
		/* an enclosed message's header is body text of this one */
		walk(ex, part->message, ex->body);
	} else if (part->type != NULL && strcmp(part->type, "TEXT") == 0) {
		put_part_text(ex, part, part->subtype != NULL && strcmp(part->subtype, "HTML") == 0);
	} else if (part->type != NULL && part->subtype != NULL && is_text_report(part)) {
		put_part_text(ex, part, false);
	}
}

void
mime_text_extract(const char *msg, size_t len, const struct mime_part *root, size_t max,
		  struct buf *header_out, struct buf *body_out)
{
	struct extract ex;

	memset(&ex, 0, sizeof(ex));
	ex.msg = msg;
	ex.len = len;
	ex.left = max;
	ex.hdr = header_out;
	ex.body = body_out;
	ex.arena = arena_new(16384, false);
	buf_append(header_out, "", 0);
	buf_append(body_out, "", 0);
	walk(&ex, root, header_out);
	buf_free(&ex.dec);
	buf_free(&ex.utf);
	buf_free(&ex.html);
	buf_free(&ex.tmp);
	arena_free(&ex.arena);
}

/* ---- preview (RFC 8970) ---- */

/* The part a reader sees first: depth first, the first text/plain or
 * text/html leaf that is not an attachment; in a multipart/alternative
 * the plain version when there is one.  Enclosed messages are not
 * entered: their text is not this message's. */
static const struct mime_part *
preview_part(const struct mime_part *part)
{
	const struct mime_part *c, *found;
	bool alternative;

	if (part->children != NULL) {
		alternative = part->subtype != NULL && strcmp(part->subtype, "ALTERNATIVE") == 0;
		found = NULL;
		for (c = part->children; c != NULL; c = c->next) {
			const struct mime_part *p = preview_part(c);

			if (p == NULL)
				continue;
			if (!alternative || strcmp(p->subtype, "PLAIN") == 0)
				return p;
			if (found == NULL)
				found = p;
		}
		return found;
	}
	if (part->type == NULL || part->subtype == NULL || strcmp(part->type, "TEXT") != 0)
		return NULL;
	if (part->disposition != NULL && strcmp(part->disposition, "ATTACHMENT") == 0)
		return NULL;
	if (strcmp(part->subtype, "PLAIN") != 0 && strcmp(part->subtype, "HTML") != 0)
		return NULL;
	return part;
}

void
mime_text_preview(const char *msg, size_t len, const struct mime_part *root, size_t max_chars,
		  struct buf *out)
{
	const struct mime_part *part = preview_part(root);
	struct extract ex;
	struct buf text = BUF_INIT;
	size_t i, chars = 0;
	bool space = false, started = false;

	buf_append(out, "", 0);
	if (part == NULL)
		return;
	memset(&ex, 0, sizeof(ex));
	ex.msg = msg;
	ex.len = len;
	ex.left = 4 * max_chars + 64;   /* UTF-8 of max_chars, and white space to fold */
	ex.body = &text;
	put_part_text(&ex, part, strcmp(part->subtype, "HTML") == 0);
	/* white space runs (line breaks included) become one space, control
	 * characters go, and the text is cut after max_chars characters */
	for (i = 0; i < text.len; i++) {
		unsigned char c = (unsigned char)text.data[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
			space = started;
			continue;
		}
		if (c < 0x20 || c == 0x7F)
			continue;
		if ((c & 0xC0) != 0x80) {
			if (chars + (space ? 1 : 0) >= max_chars)
				break;
			if (space) {
				buf_append(out, " ", 1);
				chars++;
				space = false;
			}
			chars++;
			started = true;
		}
		buf_append(out, (const char *)&text.data[i], 1);
	}
	buf_free(&text);
	buf_free(&ex.dec);
	buf_free(&ex.utf);
	buf_free(&ex.html);
	buf_free(&ex.tmp);
}
