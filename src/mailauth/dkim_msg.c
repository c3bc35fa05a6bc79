/* Reading a message file for DKIM: its header section into memory (bounded
 * by DKIM_HEADER_MAX), split into fields; its body streamed in chunks. */
#include "mailauth/dkim_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/str.h"
#include "lib/xalloc.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* Reads up to the first empty line.  Sets *hdr_len (the header section
 * with the last field's CRLF, without the empty line) and *body_off. */
static int
read_header(int fd, uint64_t size, char **hdr_out, size_t *hdr_len, uint64_t *body_off, const char **error_out)
{
	size_t cap = size < DKIM_HEADER_MAX ? (size_t)size : DKIM_HEADER_MAX;
	size_t have = 0, scan = 0;
	char *h = xmalloc(cap + 1);

	while (have < cap) {
		ssize_t r = pread(fd, h + have, cap - have < DKIM_BODY_CHUNK ? cap - have : DKIM_BODY_CHUNK,
		                  (off_t)have);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(h);
			*error_out = r < 0 ? "cannot read the message" : "the message is shorter than its size";
			return -1;
		}
		have += (size_t)r;
		/* A message that begins with the empty line has no header. */
		if (have >= 2 && h[0] == '\r' && h[1] == '\n') {
			*hdr_len = 0;
			*body_off = 2;
			*hdr_out = h;
			return 0;
		}
		for (; scan + 4 <= have; scan++) {
			if (memcmp(h + scan, "\r\n\r\n", 4) == 0) {
				*hdr_len = scan + 2;
				*body_off = scan + 4;
				*hdr_out = h;
				return 0;
			}
		}
	}
	if (have < size) {
		free(h);
		*error_out = "the header section is too large";
		return -1;
	}
	/* No empty line: all header, no body. */
	*hdr_len = have;
	*body_off = size;
	*hdr_out = h;
	return 0;
}

static void
add_field(struct dkim_msg *m, const char *start, const char *end)
{
	struct dkim_field *f;
	const char *colon;

	if (m->n == DKIM_FIELDS_MAX)
		return;
	f = &m->field[m->n++];
	f->raw = start;
	f->len = (size_t)(end - start);
	f->used = false;
	colon = memchr(start, ':', f->len);
	f->name_len = 0;
	if (colon != NULL) {
		f->name_len = (size_t)(colon - start);
		while (f->name_len > 0 && is_wsp(start[f->name_len - 1]))
			f->name_len--;
	}
}

int
dkim_msg_read(int fd, uint64_t size, struct dkim_msg **msg_out, const char **error_out)
{
	struct dkim_msg *m;
	char *hdr;
	size_t hdr_len, nlines = 0, i;
	uint64_t body_off;
	const char *p, *end, *start = NULL;

	if (read_header(fd, size, &hdr, &hdr_len, &body_off, error_out) != 0)
		return -1;
	for (i = 0; i < hdr_len; i++)
		nlines += hdr[i] == '\n';
	nlines++;
	if (nlines > DKIM_FIELDS_MAX)
		nlines = DKIM_FIELDS_MAX;
	m = xcalloc(1, sizeof(*m) + nlines * sizeof(m->field[0]));
	m->hdr = hdr;
	m->hdr_len = hdr_len;
	m->body_off = body_off;
	m->size = size;
	/* A field is a line and the lines starting with WSP after it. */
	for (p = hdr, end = hdr + hdr_len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl != NULL ? nl + 1 : end;

		if (!is_wsp(*p)) {
			if (start != NULL)
				add_field(m, start, p - 2 >= start && p[-2] == '\r' ? p - 2 : p - 1);
			start = p;
		}
		p = next;
	}
	if (start != NULL) {
		const char *e = end;

		if (e - start >= 2 && e[-2] == '\r' && e[-1] == '\n')
			e -= 2;
		add_field(m, start, e);
	}
	*msg_out = m;
	return 0;
}

void
dkim_msg_free(struct dkim_msg **msg)
{
	if (*msg == NULL)
		return;
	free((*msg)->hdr);
	free(*msg);
	*msg = NULL;
}

bool
dkim_field_is(const struct dkim_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name_len == n && strncasecmp(f->raw, name, n) == 0;
}

void
dkim_msg_unuse(struct dkim_msg *msg)
{
	size_t i;

	for (i = 0; i < msg->n; i++)
		msg->field[i].used = false;
}

struct dkim_field *
dkim_msg_take(struct dkim_msg *msg, const char *name)
{
	size_t i;

	for (i = msg->n; i > 0; i--) {
		struct dkim_field *f = &msg->field[i - 1];

		if (!f->used && dkim_field_is(f, name)) {
			f->used = true;
			return f;
		}
	}
	return NULL;
}

int
dkim_msg_hash_body(int fd, const struct dkim_msg *msg, struct dkim_body *bodies, size_t n, const char **error_out)
{
	unsigned char *chunk = xmalloc(DKIM_BODY_CHUNK);
	uint64_t off = msg->body_off;
	size_t i;

	while (off < msg->size) {
		uint64_t left = msg->size - off;
		ssize_t r = pread(fd, chunk, left < DKIM_BODY_CHUNK ? (size_t)left : DKIM_BODY_CHUNK, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(chunk);
			*error_out = r < 0 ? "cannot read the message" : "the message is shorter than its size";
			return -1;
		}
		for (i = 0; i < n; i++)
			dkim_body_feed(&bodies[i], chunk, (size_t)r);
		off += (uint64_t)r;
	}
	for (i = 0; i < n; i++)
		dkim_body_end(&bodies[i]);
	free(chunk);
	return 0;
}

int
dkim_addr_domain(const char *addr, size_t len, char *out, size_t outsize)
{
	const char *lt = memchr(addr, '<', len), *at, *e;
	size_t n;

	/* "Name <a@b>": the address is in the brackets. */
	if (lt != NULL) {
		len -= (size_t)(lt + 1 - addr);
		addr = lt + 1;
	}
	at = memrchr(addr, '@', len);
	if (lt == NULL) {
		/* no brackets: the first address of a list */
		const char *comma = memchr(addr, ',', len);

		if (comma != NULL)
			len = (size_t)(comma - addr);
		at = memrchr(addr, '@', len);
	} else {
		const char *gt = memchr(addr, '>', len);

		if (gt != NULL)
			at = memrchr(addr, '@', (size_t)(gt - addr));
	}
	if (at == NULL)
		return -1;
	for (e = at + 1; e < addr + len; e++) {
		if (*e == '>' || *e == ' ' || *e == '\t' || *e == '\r' || *e == '\n' || *e == ',' || *e == ';' ||
		    *e == '(' || *e == ')')
			break;
	}
	n = (size_t)(e - (at + 1));
	if (n == 0 || n >= outsize)
		return -1;
	memcpy(out, at + 1, n);
	out[n] = '\0';
	str_lower(out);
	return dkim_name_valid(out, outsize - 1) ? 0 : -1;
}

int
dkim_msg_from_domain(const struct dkim_msg *msg, char *out, size_t outsize)
{
	size_t i;

	for (i = 0; i < msg->n; i++) {
		const struct dkim_field *f = &msg->field[i];

		if (dkim_field_is(f, "from")) {
			const char *v = memchr(f->raw, ':', f->len) + 1;

			return dkim_addr_domain(v, f->len - (size_t)(v - f->raw), out, outsize);
		}
	}
	return -1;
}
