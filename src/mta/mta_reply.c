/* SMTP replies as a client reads them: "250-first", "250-more", "250 last"
 * (RFC 5321 4.2.1), each line checked on its own and against the first,
 * with the enhanced status code (RFC 3463) taken from the first line and
 * dropped from the others where they repeat it (RFC 2034 4 asks every
 * line to carry it). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/limits.h"
#include "mta/mta_reply.h"

void
mta_reply_parser_init(struct mta_reply_parser *p)
{
	memset(p, 0, sizeof(*p));
}

void
mta_reply_set(struct mta_reply *r, int code, const char *status, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	snprintf(r->status, sizeof(r->status), "%s", status);
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof(r->text), fmt, ap);
	va_end(ap);
}

/* "d.ddd.ddd" (RFC 3463 2: class, subject 1-3 digits, detail 1-3 digits)
 * whose class is the reply's, followed by a space or the end.  Returns
 * its length or 0. */
static size_t
status_len(const char *t, size_t len, char cls)
{
	size_t i = 0, n;

	if (len < 5 || t[0] != cls || (cls != '2' && cls != '4' && cls != '5') || t[1] != '.')
		return 0;
	i = 2;
	for (int part = 0; part < 2; part++) {
		for (n = 0; i < len && t[i] >= '0' && t[i] <= '9' && n < 4; i++)
			n++;
		if (n == 0 || n > 3)
			return 0;
		if (part == 0) {
			if (i >= len || t[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < len && t[i] != ' ')
		return 0;
	return i;
}

static void
append_text(struct mta_reply_parser *p, const char *t, size_t len)
{
	size_t room = sizeof(p->r.text) - 1;

	if (p->text_len > 0 && p->text_len < room && len > 0)
		p->r.text[p->text_len++] = ' ';
	for (size_t i = 0; i < len && p->text_len < room; i++) {
		unsigned char ch = (unsigned char)t[i];

		p->r.text[p->text_len++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	p->r.text[p->text_len] = '\0';
}

int
mta_reply_feed(struct mta_reply_parser *p, const char *line, size_t len, struct mta_reply *out,
               const char **error_out)
{
	int code;
	bool last;
	const char *text;
	size_t tlen, sl;

	p->line_text = NULL;
	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' || line[2] < '0' ||
	    line[2] > '9' || (len > 3 && line[3] != ' ' && line[3] != '-')) {
		*error_out = "malformed reply line";
		goto fail;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	last = len == 3 || line[3] == ' ';
	if (p->lines > 0 && code != p->r.code) {
		*error_out = "reply code changed inside a multi-line reply";
		goto fail;
	}
	if (++p->lines > MTA_REPLY_LINES_MAX || (p->total += len) > MTA_REPLY_TOTAL_MAX) {
		*error_out = "reply too long";
		goto fail;
	}
	p->r.code = code;
	text = len > 4 ? line + 4 : "";
	tlen = len > 4 ? len - 4 : 0;
	if (memchr(text, '\0', tlen) != NULL) {
		*error_out = "NUL in a reply";
		goto fail;
	}
	p->line_text = text;
	sl = status_len(text, tlen, line[0]);
	if (sl > 0 && p->lines == 1 && sl < sizeof(p->r.status)) {
		memcpy(p->r.status, text, sl);
		p->r.status[sl] = '\0';
	}
	if (sl > 0 && p->r.status[0] != '\0' && strncmp(text, p->r.status, sl) == 0 && p->r.status[sl] == '\0') {
		text += sl;
		tlen -= sl;
		while (tlen > 0 && *text == ' ') {
			text++;
			tlen--;
		}
	}
	append_text(p, text, tlen);
	if (!last)
		return 0;
	*out = p->r;
	text = p->line_text;
	mta_reply_parser_init(p);
	p->line_text = text;   /* the last line's keyword counts too */
	return 1;
fail:
	mta_reply_parser_init(p);
	return -1;
}
