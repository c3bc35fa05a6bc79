/* Reading what an IMAP URL names; see imap_url_fetch.h. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "imap/imap_parse.h"
#include "imap/imap_url.h"
#include "imap/imap_url_fetch.h"
#include "lib/arena.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "store/store_imap.h"

/* A URL's section is a FETCH section-spec (RFC 5092 5): read it with the
 * command parser and imap_section_parse, as FETCH does, from the line
 * "x FETCH 1 BODY.PEEK[<section>]". */
static int
section_parse(const char *text, struct arena *a, struct imap_section *out)
{
	static const struct imap_parse_limits lim = { 0 };
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_error perr;
	const struct imap_arg *att;
	const char *error;
	char *line;
	size_t len = strlen(text), used = 0;
	int rc;

	if (len == 0 || strpbrk(text, "\r\n[]{") != NULL)
		return -1;
	line = arena_alloc(a, len + 32);
	len = (size_t)snprintf(line, len + 32, "x FETCH 1 BODY.PEEK[%s]\r\n", text);
	p = imap_parser_new(a, &lim);
	rc = imap_parser_feed(p, line, len, &used, &cmd, &perr);
	imap_parser_free(&p);
	if (rc != 1 || used != len || cmd.args == NULL || (att = cmd.args->next) == NULL ||
	    att->type != IMAP_ARG_FETCH_ATT || att->next != NULL || att->has_partial)
		return -1;
	return imap_section_parse(att->section, false, a, out, &error);
}

static void
partial_cut(const struct imap_url *u, const char **data, size_t *len)
{
	size_t from, n;

	if (!u->has_partial)
		return;
	from = u->partial_start < *len ? u->partial_start : *len;
	n = *len - from;
	if (u->partial_len != 0 && u->partial_len < n)
		n = u->partial_len;
	*data += from;
	*len = n;
}

int
imap_url_data_open(struct store *st, const struct imap_url *u, struct arena *a, struct imap_url_data *d)
{
	struct store_mailbox_status status;
	struct store_imap_msg *m = NULL;
	struct store_msg sm;
	struct stat sb;
	const char *error = NULL;
	size_t n = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	d->msg.fd = -1;
	d->url = u;
	if (u->mailbox == NULL || u->uid == 0)
		return 1;
	if (u->section != NULL && section_parse(u->section, a, &d->sect) == -1)
		return 1;
	rc = store_mailbox_status(st, u->mailbox, &status, &error);
	if (rc == STORE_IMAP_NONEXISTENT)
		return 1;
	if (rc != STORE_OK)
		return -1;
	if (u->uidvalidity != 0 && u->uidvalidity != status.uidvalidity)
		return 1;
	rc = store_imap_get(st, u->mailbox, &u->uid, 1, &m, &n, &error);
	if (rc == STORE_IMAP_NONEXISTENT || (rc == STORE_OK && n == 0)) {
		store_imap_msgs_free(m, n);
		return 1;
	}
	if (rc != STORE_OK)
		return -1;
	memset(&sm, 0, sizeof(sm));
	sm.uid = m->uid;
	memcpy(sm.file, m->file, sizeof(sm.file));
	store_imap_msgs_free(m, n);
	if ((d->fd = store_msg_open(st, &sm, &error)) == -1)
		return 1;  /* expunged meanwhile */
	if (fstat(d->fd, &sb) == -1)
		return -1;
	d->map_len = (size_t)sb.st_size;
	if (d->map_len > 0) {
		d->map = mmap(NULL, d->map_len, PROT_READ, MAP_PRIVATE, d->fd, 0);
		if (d->map == MAP_FAILED) {
			d->map = NULL;
			return -1;
		}
	}
	d->msg.uid = u->uid;
	d->msg.data = d->map != NULL ? d->map : "";
	d->msg.len = d->map_len;
	if (imap_section_get(&d->msg, &d->sect, a, &d->sect_data, &d->sect_len, &d->leaf) == 0)
		return 1;
	if (d->sect.text == IMAP_SECT_FIELDS || d->sect.text == IMAP_SECT_FIELDS_NOT) {
		imap_header_filter(d->sect_data, d->sect_len, d->sect.names, d->sect.nnames,
		                   d->sect.text == IMAP_SECT_FIELDS_NOT, &d->filtered);
		d->sect_data = d->filtered.data != NULL ? d->filtered.data : "";
		d->sect_len = d->filtered.len;
	}
	d->data = d->sect_data;
	d->len = d->sect_len;
	partial_cut(u, &d->data, &d->len);
	return 0;
}

void
imap_url_data_close(struct imap_url_data *d)
{
	if (d->map != NULL)
		munmap(d->map, d->map_len);
	d->map = NULL;
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
	buf_free(&d->filtered);
}

/* Writes data[*cursor, upto) and moves the cursor there. */
static void
copy_to(const char *data, size_t *cursor, size_t upto, struct buf *out)
{
	if (upto > *cursor) {
		buf_append(out, data + *cursor, upto - *cursor);
		*cursor = upto;
	}
}

/* The binary form of part p (RFC 5524 3, as Dovecot converts): every leaf
 * in a transfer encoding is decoded and its Content-Transfer-Encoding
 * field says "binary"; everything else (headers, boundaries, preambles,
 * epilogues) goes out as it is, copied from *cursor on.  Returns 0, or -1
 * for a leaf that does not decode. */
static int
binary_convert(const char *data, const struct mime_part *p, size_t *cursor, struct buf *out, bool keep_cte,
               int depth)
{
	static const struct imap_fetch_name cte = { "Content-Transfer-Encoding", 25, true };
	enum mime_cte enc;
	size_t blank, mark;
	const char *hdr, *eol;

	if (depth > MIME_DEPTH_MAX)
		return 0;
	if (p->children != NULL || p->message != NULL) {
		for (const struct mime_part *c = p->children; c != NULL; c = c->next)
			if (binary_convert(data, c, cursor, out, keep_cte, depth + 1) == -1)
				return -1;
		return p->message != NULL ? binary_convert(data, p->message, cursor, out, keep_cte, depth + 1) : 0;
	}
	enc = mime_cte_parse(p->encoding);
	if (enc == MIME_CTE_IDENTITY || enc == MIME_CTE_UNKNOWN || p->header_offset < *cursor)
		return 0;
	if (keep_cte) {
		copy_to(data, cursor, p->body_offset, out);
		goto body;
	}
	copy_to(data, cursor, p->header_offset, out);
	hdr = data + p->header_offset;
	eol = memchr(hdr, '\r', p->header_size) != NULL ? "\r\n" : "\n";
	mark = out->len;
	imap_header_filter(hdr, p->header_size, &cte, 1, true, out);
	blank = mark + imap_header_blank_start(out->data + mark, out->len - mark);
	out->len = blank;
	buf_printf(out, "Content-Transfer-Encoding: binary%s%s", eol, eol);
body:
	if (mime_decode_transfer(p->encoding, data + p->body_offset, p->body_size, out) != MIME_DECODE_OK)
		return -1;
	*cursor = p->body_offset + p->body_size;
	return 0;
}

int
imap_url_data_binary(struct imap_url_data *d, struct arena *a, struct buf *out)
{
	struct buf dec = BUF_INIT;
	const struct mime_part *p = NULL;
	const char *data;
	size_t len;
	int rc;

	if (d->sect.text == IMAP_SECT_NONE && d->leaf == NULL) {
		/* the message or a multipart / message part: convert its leaves */
		if (d->msg.root == NULL)
			d->msg.root = mime_parse(d->msg.data, d->msg.len, a);
		p = d->sect.n == 0 ? d->msg.root : mime_part_find(d->msg.root, d->sect.nums, d->sect.n);
	}
	if (p != NULL) {
		size_t start = (size_t)(d->sect_data - d->msg.data), cursor = start;

		rc = binary_convert(d->msg.data, p, &cursor, &dec, false, 0);
		copy_to(d->msg.data, &cursor, start + d->sect_len, &dec);
	} else if (d->leaf == NULL || mime_cte_parse(d->leaf->encoding) == MIME_CTE_IDENTITY) {
		buf_append(out, d->data, d->len);
		return 0;
	} else if (mime_cte_parse(d->leaf->encoding) == MIME_CTE_UNKNOWN) {
		rc = -1;
	} else {
		rc = mime_decode_transfer(d->leaf->encoding, d->sect_data, d->sect_len, &dec) == MIME_DECODE_OK ? 0 : -1;
	}
	if (rc == 0) {
		data = dec.data != NULL ? dec.data : "";
		len = dec.len;
		partial_cut(d->url, &data, &len);
		buf_append(out, data, len);
	}
	buf_free(&dec);
	return rc;
}

/* The part the section names: the message for none. */
static const struct mime_part *
section_part(struct imap_url_data *d, struct arena *a)
{
	const struct mime_part *p;

	if (d->msg.root == NULL)
		d->msg.root = mime_parse(d->msg.data, d->msg.len, a);
	p = d->sect.n == 0 ? d->msg.root : mime_part_find(d->msg.root, d->sect.nums, d->sect.n);
	return p != NULL ? p : d->msg.root;
}

void
imap_url_data_structure(struct imap_url_data *d, bool binary, struct arena *a, struct buf *out)
{
	const struct mime_part *p = section_part(d, a);
	struct buf conv = BUF_INIT;
	size_t cursor, end;

	if (!binary) {
		mime_bodystructure_write(out, p, true);
		return;
	}
	/* With BINARY, the structure of what BINARY sends: the part with
	 * its leaves decoded, their fields as they were (sizes and lines
	 * are the decoded ones, the encoding named stays; Dovecot's answer
	 * too). */
	cursor = p->header_offset;
	end = p->body_offset + p->body_size;
	if (binary_convert(d->msg.data, p, &cursor, &conv, true, 0) == -1) {
		buf_free(&conv);
		mime_bodystructure_write(out, p, true);
		return;
	}
	copy_to(d->msg.data, &cursor, end, &conv);
	mime_bodystructure_write(out, mime_parse(conv.data != NULL ? conv.data : "", conv.len, a), true);
	buf_free(&conv);
}
