/* Text matching for SEARCH's header keys: case folding, and a message
 * header split into fields whose values are unfolded and RFC 2047-decoded
 * only when a key asks for them.
 *
 * RFC 9051 6.4.4: string matching is case-insensitive substring matching.
 * We fold the letters of the scripts mail is mostly written in (Latin,
 * Greek, Cyrillic, Armenian) one code point to one code point, a subset of
 * i;unicode-casemap (RFC 5051) without its decompositions. */
#include <string.h>
#include <strings.h>

#include "imap/imap_search_private.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"

/* The lower-case partner of cp, or cp. */
static unsigned
fold_cp(unsigned cp)
{
	if (cp < 0x80)
		return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
	if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
		return cp + 32;
	if (cp >= 0x100 && cp <= 0x17F) {
		if (cp == 0x130)
			return 'i';
		if (cp == 0x178)
			return 0xFF;
		if (cp == 0x17F)
			return 's';
		if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
			return (cp & 1) ? cp + 1 : cp;
		if (cp == 0x131 || cp == 0x138 || cp == 0x149)
			return cp;
		return (cp & 1) ? cp : cp + 1;
	}
	if (cp >= 0x370 && cp <= 0x3FF) {
		if (cp == 0x386)
			return 0x3AC;
		if (cp >= 0x388 && cp <= 0x38A)
			return cp + 37;
		if (cp == 0x38C)
			return 0x3CC;
		if (cp == 0x38E || cp == 0x38F)
			return cp + 63;
		if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2)
			return cp + 32;
		if (cp == 0x3C2)
			return 0x3C3;  /* final sigma matches sigma */
		return cp;
	}
	if (cp >= 0x400 && cp <= 0x40F)
		return cp + 80;
	if (cp >= 0x410 && cp <= 0x42F)
		return cp + 32;
	if ((cp >= 0x460 && cp <= 0x481) || (cp >= 0x48A && cp <= 0x4BF) || (cp >= 0x4D0 && cp <= 0x52F))
		return (cp & 1) ? cp : cp + 1;
	if (cp >= 0x531 && cp <= 0x556)
		return cp + 48;
	if ((cp >= 0x1E00 && cp <= 0x1E95) || (cp >= 0x1EA0 && cp <= 0x1EFF))
		return (cp & 1) ? cp : cp + 1;
	if (cp >= 0xFF21 && cp <= 0xFF3A)
		return cp + 32;
	return cp;
}

/* Decodes one well-formed UTF-8 sequence at s (n octets left); returns
 * its length, or 0 when it is not one (overlong, surrogate, truncated). */
static size_t
utf8_decode(const unsigned char *s, size_t n, unsigned *cp_out)
{
	unsigned cp;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp_out = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		cp = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		cp = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	*cp_out = cp;
	return len;
}

static size_t
utf8_encode(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

char *
imap_search_fold(const char *s, size_t len, struct arena *a, size_t *len_out)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out = arena_alloc(a, len + 1);
	size_t i = 0, n = 0;

	while (i < len) {
		unsigned cp;
		size_t l = utf8_decode(u + i, len - i, &cp);

		if (l == 0) {
			out[n++] = s[i++];  /* not UTF-8: the byte itself */
			continue;
		}
		/* every folded form is no longer than the original */
		n += utf8_encode(fold_cp(cp), out + n);
		i += l;
	}
	out[n] = '\0';
	*len_out = n;
	return out;
}

struct field {
	const char *name;
	size_t name_len;
	const char *value;              /* raw, after the colon, folded lines and all */
	size_t value_len;
	char *folded;                   /* unfolded, decoded, case-folded; NULL until needed */
	size_t folded_len;
	char *addrs;                    /* the addresses as ENVELOPE has them, folded; NULL until needed */
	size_t addrs_len;
};

struct imap_search_header {
	struct field *fields;
	size_t n;
};

/* The end of the line starting at pos (just past its LF, or len). */
static size_t
line_end(const char *h, size_t len, size_t pos)
{
	const char *lf = memchr(h + pos, '\n', len - pos);

	return lf != NULL ? (size_t)(lf - h) + 1 : len;
}

struct imap_search_header *
imap_search_header_split(const char *hdr, size_t len, struct arena *a)
{
	struct imap_search_header *h = arena_alloc(a, sizeof(*h));
	struct field *cur = NULL;
	size_t pos = 0, n = 0, cap = 0;

	/* count the lines that may start a field, to size the array */
	while (pos < len) {
		if (hdr[pos] != ' ' && hdr[pos] != '\t')
			cap++;
		pos = line_end(hdr, len, pos);
	}
	if (cap > MIME_HEADER_FIELDS_MAX)
		cap = MIME_HEADER_FIELDS_MAX;
	h->fields = arena_alloc(a, (cap + 1) * sizeof(*h->fields));
	for (pos = 0; pos < len;) {
		size_t end = line_end(hdr, len, pos), colon;

		if (hdr[pos] == '\r' || hdr[pos] == '\n')
			break;  /* the blank line: the body follows */
		if (hdr[pos] == ' ' || hdr[pos] == '\t') {
			if (cur != NULL)  /* a folded line: more of the value */
				cur->value_len = end - (size_t)(cur->value - hdr);
			pos = end;
			continue;
		}
		cur = NULL;
		for (colon = pos; colon < end && hdr[colon] != ':' && hdr[colon] != '\n'; colon++)
			;
		if (colon < end && hdr[colon] == ':' && n < cap) {
			size_t nl = colon - pos;

			while (nl > 0 && (hdr[pos + nl - 1] == ' ' || hdr[pos + nl - 1] == '\t'))
				nl--;  /* RFC 5322 4.5 obs-optional: "Subject : x" */
			cur = &h->fields[n++];
			cur->name = hdr + pos;
			cur->name_len = nl;
			cur->value = hdr + colon + 1;
			cur->value_len = end - colon - 1;
		}
		pos = end;
	}
	h->n = n;
	return h;
}

bool
imap_search_header_match(struct imap_search_header *h, const char *name, size_t len, const char *needle,
                         size_t needle_len, struct arena *a)
{
	size_t i;

	if (h == NULL)
		return false;
	for (i = 0; i < h->n; i++) {
		struct field *f = &h->fields[i];

		if (f->name_len != len || strncasecmp(f->name, name, len) != 0)
			continue;
		/* RFC 9051 6.4.4: HEADER with an empty string matches every
		 * message that has the field */
		if (needle_len == 0)
			return true;
		if (f->folded == NULL) {
			char *v = mime_header_unfold(f->value, f->value_len, a);

			v = mime_decode_words(v, a);
			f->folded = imap_search_fold(v, strlen(v), a, &f->folded_len);
		}
		if (memmem(f->folded, f->folded_len, needle, needle_len) != NULL)
			return true;
	}
	return false;
}

/* The addresses of an address field as the ENVELOPE structure has them
 * (RFC 3501 6.4.4: FROM etc. search "the envelope structure's FROM
 * field"): each "name <mailbox@host>" with the display name decoded,
 * comments and quoting gone, and a group as "group: ...;", one after
 * another.  "<user-from (comment)@ (comment) domain.org>" becomes
 * "<user-from@domain.org>", which the raw field does not hold. */
static char *
render_addresses(const char *unfolded, struct arena *a, size_t *len_out)
{
	struct mime_address *ad = mime_address_parse(unfolded, a);
	struct buf b = BUF_INIT;
	char *out;

	for (; ad != NULL; ad = ad->next) {
		if (ad->mailbox == NULL && ad->host == NULL) {
			buf_puts(&b, "; ");        /* the end of a group */
			continue;
		}
		if (ad->host == NULL) {
			buf_printf(&b, "%s: ", ad->mailbox);  /* a group's name */
			continue;
		}
		if (ad->name != NULL && ad->name[0] != '\0')
			buf_printf(&b, "%s ", mime_decode_words(ad->name, a));
		buf_printf(&b, "<%s%s%s@%s>, ", ad->adl != NULL ? ad->adl : "", ad->adl != NULL ? ":" : "",
		           ad->mailbox, ad->host);
	}
	out = imap_search_fold(b.data != NULL ? b.data : "", b.len, a, len_out);
	buf_free(&b);
	return out;
}

bool
imap_search_address_match(struct imap_search_header *h, const char *name, size_t len, const char *needle,
                          size_t needle_len, struct arena *a)
{
	if (h == NULL || needle_len == 0)
		return false;
	for (size_t i = 0; i < h->n; i++) {
		struct field *f = &h->fields[i];

		if (f->name_len != len || strncasecmp(f->name, name, len) != 0)
			continue;
		if (f->addrs == NULL)
			f->addrs = render_addresses(mime_header_unfold(f->value, f->value_len, a), a, &f->addrs_len);
		if (memmem(f->addrs, f->addrs_len, needle, needle_len) != NULL)
			return true;
	}
	return false;
}
