/* The "simple" and "relaxed" canonicalizations of RFC 6376 3.4.  The body
 * canonicalizer is a byte-at-a-time state machine so that the body can be
 * fed in chunks of any size (a 50 MB message is never in memory) and a
 * chunk boundary may fall anywhere, even between CR and LF. */
#include "mailauth/dkim_private.h"

#include <string.h>

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 6376 3.4.2: lower-case the name, unfold, WSP runs to one SP, no WSP
 * at the end of the value or around the colon. */
static void
header_relaxed(const char *f, size_t len, struct buf *out)
{
	const char *colon = memchr(f, ':', len);
	size_t i, nlen = colon != NULL ? (size_t)(colon - f) : len;
	bool wsp = false, any = false;
	char *p;

	while (nlen > 0 && is_wsp(f[nlen - 1]))
		nlen--;
	p = buf_reserve(out, nlen);
	for (i = 0; i < nlen; i++)
		p[i] = (f[i] >= 'A' && f[i] <= 'Z') ? (char)(f[i] - 'A' + 'a') : f[i];
	out->len += nlen;
	out->data[out->len] = '\0';
	if (colon == NULL)
		return;
	buf_append(out, ":", 1);
	for (i = (size_t)(colon - f) + 1; i < len; i++) {
		char c = f[i];

		if (c == '\r' && i + 1 < len && f[i + 1] == '\n') {
			i++;   /* unfold: the CRLF goes, the WSP after it stays WSP */
			continue;
		}
		if (is_wsp(c)) {
			wsp = true;
			continue;
		}
		if (wsp && any)
			buf_append(out, " ", 1);
		wsp = false;
		any = true;
		buf_append(out, &c, 1);
	}
}

void
dkim_canon_header(const char *field, size_t len, bool relaxed, bool crlf, struct buf *out)
{
	if (relaxed)
		header_relaxed(field, len, out);
	else
		buf_append(out, field, len);
	if (crlf)
		buf_append(out, "\r\n", 2);
}

void
dkim_body_init(struct dkim_body *b, bool relaxed, uint64_t limit, EVP_MD_CTX *md)
{
	memset(b, 0, sizeof(*b));
	b->relaxed = relaxed;
	b->limit = limit;
	b->md = md;
}

/* Hands canonical bytes to the digest, only the first limit of them. */
static void
emit(struct dkim_body *b, const void *p, size_t n)
{
	if (b->emitted < b->limit) {
		uint64_t room = b->limit - b->emitted;

		EVP_DigestUpdate(b->md, p, n < room ? n : (size_t)room);
	}
	b->emitted += n;
}

/* A byte that is line content: the empty lines held back were not trailing
 * after all, and a held WSP run was inside the line. */
static void
content(struct dkim_body *b, unsigned char c)
{
	for (; b->crlfs > 0; b->crlfs--)
		emit(b, "\r\n", 2);
	if (b->wsp) {
		emit(b, " ", 1);
		b->wsp = false;
	}
	emit(b, &c, 1);
	b->any = true;
}

void
dkim_body_feed(struct dkim_body *b, const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (b->cr) {
			b->cr = false;
			if (c == '\n') {
				/* Line end: WSP before it goes (relaxed); the CRLF
				 * waits, it may be one of the trailing ones. */
				b->wsp = false;
				b->crlfs++;
				continue;
			}
			content(b, '\r');
		}
		if (c == '\r') {
			b->cr = true;
		} else if (b->relaxed && (c == ' ' || c == '\t')) {
			b->wsp = true;
		} else {
			content(b, c);
		}
	}
}

void
dkim_body_end(struct dkim_body *b)
{
	if (b->cr) {
		b->cr = false;
		content(b, '\r');
	}
	b->wsp = false;   /* WSP at the end of the last line */
	/* Trailing empty lines go.  A non-empty body ends with exactly one
	 * CRLF (added if missing); an empty one is CRLF for simple and
	 * nothing for relaxed (RFC 6376 3.4.3, 3.4.4). */
	if (b->any || !b->relaxed)
		emit(b, "\r\n", 2);
	b->crlfs = 0;
}

void
dkim_canon_fields(struct dkim_msg *msg, const char (*names)[DOMAIN_MAX + 1], size_t n, bool relaxed,
                  struct buf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct dkim_field *f = dkim_msg_take(msg, names[i]);

		if (f != NULL)
			dkim_canon_header(f->raw, f->len, relaxed, true, out);
	}
	dkim_msg_unuse(msg);
}
