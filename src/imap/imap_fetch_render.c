/* One message's FETCH response (RFC 9051 7.5.2, RFC 3516 4.3, RFC 7162
 * 3.1.4.1): loading what the items need from the store, then writing
 * "* seq FETCH (...)\r\n".
 *
 * Loading reads as little as it can: ENVELOPE, BODY and BODYSTRUCTURE
 * come from the index cache (store_msg_cached); header-only sections of
 * the message (HEADER, HEADER.FIELDS[.NOT], RFC822.HEADER) pread just
 * the header's bytes when it is small; anything else mmaps the message
 * file and, for part numbers, parses it with mime_parse() in the command
 * arena.
 *
 * Body sections go out byte for byte as literals (the file has CRLF line
 * ends already); an empty section is "" and a part the message does not
 * have is NIL.  BINARY decodes leaf parts and sends a literal8 when the
 * result holds NUL (RFC 3516 4.3).
 *
 * Memory (imap_fetch.h).  A literal larger than out->inline_max, or than
 * the room left in the text, is not copied: the text gets "{len}\r\n" and
 * a segment names the octets (imap_fetch_stream.c sends them from the
 * file).  For a filtered header or a decoded part the length must be
 * known before the data, so the transform runs here once over the mapped
 * range in IMAP_FETCH_CHUNK slices to count (keeping the output only
 * while it is small enough to go inline), and again as the loop streams:
 * twice the decoding work for a large BINARY, never its size in memory.
 * RFC 3516 has no error for "too large to decode", and one pass with a
 * bound would fail attachments that a client rightly asks for. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "imap/imap_fetch_private.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_text.h"
#include "store/store_imap.h"

static void
set_result(struct imap_result *res, enum imap_status st, const char *code, const char *text)
{
	res->status = st;
	snprintf(res->code, sizeof(res->code), "%s", code);
	snprintf(res->text, sizeof(res->text), "%s", text);
}

void
imap_date_time_write(struct buf *out, int64_t t)
{
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	struct tm tm;
	time_t tt;

	/* date-year is 4DIGIT: keep to 1970 .. 9999 */
	if (t < 0)
		t = 0;
	if (t > INT64_C(253402300799))
		t = INT64_C(253402300799);
	tt = (time_t)t;
	if (gmtime_r(&tt, &tm) == NULL) {
		buf_puts(out, "\" 1-Jan-1970 00:00:00 +0000\"");
		return;
	}
	buf_printf(out, "\"%2d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday, months[tm.tm_mon],
	           tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* What rendering one message works with. */
struct render {
	const struct imap_ctx *ctx;
	struct imap_fetch_msg *msg;
	struct imap_fetch_out *out;
	struct buf *text;
	struct buf scratch;            /* a transform's output while it may go inline */
	struct buf tmp;                /* one slice of it */
};

/* Octets a literal may still copy into the text. */
static uint64_t
inline_room(const struct render *r)
{
	size_t used = r->text->len;

	if (used >= IMAP_FETCH_BATCH_BYTES)
		return 0;
	return r->out->inline_max < IMAP_FETCH_BATCH_BYTES - used ? r->out->inline_max
	                                                           : IMAP_FETCH_BATCH_BYTES - used;
}

/* The start of the message's octets in memory: file offset 0. */
static const char *
msg_base(const struct imap_fetch_msg *msg)
{
	return msg->data != NULL ? msg->data : msg->header;
}

/* A segment for len octets of the message at data (in msg's memory),
 * placed at the end of the text; the caller sets skip and out_len if the
 * output is not the input. */
static struct imap_fetch_seg *
add_seg(struct render *r, enum imap_seg_kind kind, const char *data, uint64_t len, uint64_t out_len)
{
	struct imap_fetch_out *o = r->out;
	struct imap_fetch_seg *g;

	if (o->nsegs == o->segs_cap) {
		o->segs_cap = o->segs_cap == 0 ? 8 : 2 * o->segs_cap;
		o->segs = xrealloc(o->segs, o->segs_cap * sizeof(*o->segs));
	}
	g = &o->segs[o->nsegs++];
	memset(g, 0, sizeof(*g));
	g->at = r->text->len;
	g->kind = kind;
	g->fd = r->msg->fd;
	g->mem = r->msg->fd < 0 ? msg_base(r->msg) : NULL;
	g->off = (uint64_t)(data - msg_base(r->msg));
	g->len = len;
	g->out_len = out_len;
	o->seg_bytes += out_len;
	if (r->msg->fd >= 0)
		r->msg->fd_used = true;
	return g;
}

/* "{len}\r\n", or "~{len}\r\n" for a literal8 (RFC 3516 4.3). */
static void
put_literal_head(struct buf *text, uint64_t len, bool literal8)
{
	buf_printf(text, "%s{%llu}\r\n", literal8 ? "~" : "", (unsigned long long)len);
}

/* Appends len octets with NUL as 0x80 (a copy, then the rare NUL fixed). */
static void
append_nul80(struct buf *text, const char *data, size_t len)
{
	const char *nul = memchr(data, '\0', len);
	char *dst;

	buf_append(text, data, len);
	if (nul == NULL)
		return;
	dst = text->data + text->len - len;
	for (size_t i = (size_t)(nul - data); i < len; i++)
		if (dst[i] == '\0')
			dst[i] = (char)0x80;
}

/* A BODY section's octets as they are in the message: "" when empty (never
 * NIL), else a literal.  A literal may not hold NUL (RFC 9051 9: CHAR8),
 * so a NUL goes out as 0x80, as Dovecot does. */
static void
put_body(struct render *r, const char *data, size_t len)
{
	if (len == 0) {
		buf_puts(r->text, "\"\"");
		return;
	}
	put_literal_head(r->text, len, false);
	if (len <= inline_room(r))
		append_nul80(r->text, data, len);
	else
		(void)add_seg(r, IMAP_SEG_BODY, data, len, len);
}

/* BINARY of octets that need no decoding: the exact octets, a literal8
 * when they hold NUL. */
static void
put_binary(struct render *r, const char *data, size_t len)
{
	if (len == 0) {
		buf_puts(r->text, "\"\"");
		return;
	}
	put_literal_head(r->text, len, memchr(data, '\0', len) != NULL);
	if (len <= inline_room(r))
		buf_append(r->text, data, len);
	else
		(void)add_seg(r, IMAP_SEG_BINARY, data, len, len);
}

/* <partial>: of total octets, those from start, at most len of them; past
 * the end, nothing (RFC 9051 6.4.5).  Returns the count, start in *from. */
static uint64_t
partial_of(const struct imap_fetch_item *it, uint64_t total, uint64_t *from)
{
	uint64_t n;

	*from = 0;
	if (!it->has_partial)
		return total;
	if (it->partial_start >= total)
		return 0;
	*from = it->partial_start;
	n = total - it->partial_start;
	return n > it->partial_len ? it->partial_len : n;
}

static void
cut_partial(const struct imap_fetch_item *it, const char **data, size_t *len)
{
	uint64_t from, n = partial_of(it, *len, &from);

	*data += from;
	*len = (size_t)n;
}

/* What a transform gave, counted by measure(). */
struct measured {
	uint64_t total;                /* octets of output */
	bool kept;                     /* the window [from, to) of it is in r->scratch */
	bool nul;                      /* the window holds a NUL */
};

/* Runs g's transform over the len octets at data in IMAP_FETCH_CHUNK
 * slices: counts the output, notes a NUL in its window [from, to), and
 * keeps that window in r->scratch while it is at most keep octets.
 * Memory: keep plus one slice's output.  Returns the transform's result. */
static enum mime_decode_result
measure(struct render *r, const struct imap_fetch_seg *g, const char *data, size_t len, uint64_t from,
        uint64_t to, uint64_t keep, struct measured *m)
{
	struct imap_fetch_xform x;
	enum mime_decode_result res;
	size_t pos = 0;
	bool last = false;

	m->total = 0;
	m->kept = true;
	m->nul = false;
	buf_reset(&r->scratch);
	imap_fetch_xform_init(&x, g);
	while (!last) {
		size_t n = len - pos < IMAP_FETCH_CHUNK ? len - pos : IMAP_FETCH_CHUNK;
		uint64_t lo, hi;

		buf_reset(&r->tmp);
		imap_fetch_xform_feed(&x, g, data + pos, n, &r->tmp);
		pos += n;
		last = pos == len;
		if (last && (res = imap_fetch_xform_finish(&x, g, &r->tmp)) != MIME_DECODE_OK)
			return res;
		/* the slice is output [total, total + tmp.len): its part in the window */
		lo = m->total > from ? m->total : from;
		hi = m->total + r->tmp.len < to ? m->total + r->tmp.len : to;
		if (lo < hi) {
			const char *w = r->tmp.data + (lo - m->total);
			size_t wn = (size_t)(hi - lo);

			if (memchr(w, '\0', wn) != NULL)
				m->nul = true;
			if (m->kept && r->scratch.len + wn <= keep)
				buf_append(&r->scratch, w, wn);
			else
				m->kept = false;
		}
		m->total += r->tmp.len;
	}
	return MIME_DECODE_OK;
}

/* HEADER.FIELDS[.NOT] of the header hdr: the filtered fields, counted
 * here and sent inline or from the file. */
static void
put_filtered(struct render *r, const struct imap_fetch_item *it, const char *hdr, size_t len)
{
	struct imap_fetch_seg g;
	struct measured m;
	uint64_t from, n;

	memset(&g, 0, sizeof(g));
	g.kind = IMAP_SEG_FILTER;
	g.names = it->section.names;
	g.nnames = it->section.nnames;
	g.not = it->section.text == IMAP_SECT_FIELDS_NOT;
	g.hdr_end = imap_header_blank_start(hdr, len);
	from = it->has_partial ? it->partial_start : 0;
	(void)measure(r, &g, hdr, len, from, it->has_partial ? from + it->partial_len : UINT64_MAX,
	              inline_room(r), &m);
	n = partial_of(it, m.total, &from);
	if (n == 0) {
		buf_puts(r->text, "\"\"");
		return;
	}
	put_literal_head(r->text, n, false);
	if (m.kept) {
		buf_append(r->text, r->scratch.data, (size_t)n);   /* NUL is 0x80 already */
		return;
	}
	{
		struct imap_fetch_seg *s = add_seg(r, IMAP_SEG_FILTER, hdr, len, n);

		s->skip = from;
		s->names = g.names;
		s->nnames = g.nnames;
		s->not = g.not;
		s->hdr_end = g.hdr_end;
	}
}

static bool
identity_cte(const char *enc)
{
	return enc == NULL || strcasecmp(enc, "7BIT") == 0 || strcasecmp(enc, "8BIT") == 0 ||
	       strcasecmp(enc, "BINARY") == 0;
}

/* The octets BINARY[section] starts from and how to decode them.  RFC 9051
 * 6.4.5 allows BINARY on leaf parts only; for the message and for
 * multipart and message/rfc822 parts (whose only allowed encodings are
 * the identity ones, RFC 2045 6.4) we answer the bytes as they are, as
 * BODY would.  Returns 1, 0 for no such part, -1 for an encoding we
 * cannot decode. */
static int
binary_source(struct render *r, const struct imap_fetch_item *it, const char **data, size_t *len,
              enum mime_cte *cte)
{
	const struct mime_part *leaf;

	*cte = MIME_CTE_IDENTITY;
	if (imap_section_get(r->msg, &it->section, r->ctx->arena, data, len, &leaf) == 0)
		return 0;
	if (leaf == NULL || identity_cte(leaf->encoding))
		return 1;
	*cte = mime_cte_parse(leaf->encoding);
	return *cte == MIME_CTE_UNKNOWN ? -1 : 1;
}

/* BINARY[section] and BINARY.SIZE[section] (size_only).  Returns 0, or -1
 * for a part that does not decode (nothing written). */
static int
put_binary_item(struct render *r, const struct imap_fetch_item *it, bool size_only)
{
	struct imap_fetch_seg g;
	struct measured m;
	const char *data;
	size_t len;
	enum mime_cte cte;
	uint64_t from, to, n;
	int rc = binary_source(r, it, &data, &len, &cte);

	if (rc == -1)
		return -1;
	if (rc == 0 || cte == MIME_CTE_IDENTITY) {
		if (size_only) {
			/* the size of what BINARY[section] sends: 0 for NIL */
			buf_printf(r->text, "%zu", rc == 0 ? (size_t)0 : len);
		} else if (rc == 0) {
			buf_puts(r->text, "NIL");
		} else {
			cut_partial(it, &data, &len);
			put_binary(r, data, len);
		}
		return 0;
	}
	memset(&g, 0, sizeof(g));
	g.kind = IMAP_SEG_DECODE;
	g.cte = cte;
	from = it->has_partial ? it->partial_start : 0;
	to = size_only ? 0 : it->has_partial ? from + it->partial_len : UINT64_MAX;
	if (measure(r, &g, data, len, from, to, size_only ? 0 : inline_room(r), &m) != MIME_DECODE_OK)
		return -1;
	if (size_only) {
		buf_printf(r->text, "%llu", (unsigned long long)m.total);
		return 0;
	}
	n = partial_of(it, m.total, &from);
	if (n == 0) {
		buf_puts(r->text, "\"\"");
		return 0;
	}
	put_literal_head(r->text, n, m.nul);
	if (m.kept) {
		buf_append(r->text, r->scratch.data, (size_t)n);
	} else {
		struct imap_fetch_seg *s = add_seg(r, IMAP_SEG_DECODE, data, len, n);

		s->cte = cte;
		s->skip = from;
	}
	return 0;
}

static const char *
top_header(const struct imap_fetch_msg *msg, size_t *len)
{
	if (msg->header != NULL) {
		*len = msg->header_len;
		return msg->header;
	}
	*len = imap_header_size(msg->data, msg->len);
	return msg->data;
}

/* ENVELOPE / BODY / BODYSTRUCTURE: the cached string, or computed from
 * the message when the cache had none and the message was read. */
static void
put_structure(struct buf *out, struct imap_fetch_msg *msg, const char *cached, enum imap_fetch_kind kind,
              struct arena *a)
{
	if (cached != NULL) {
		buf_puts(out, cached);
		return;
	}
	if (msg->data == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	if (msg->root == NULL)
		msg->root = mime_parse(msg->data, msg->len, a);
	if (kind == IMAP_FI_ENVELOPE)
		mime_envelope_write(out, msg->root->envelope);
	else
		mime_bodystructure_write(out, msg->root, kind == IMAP_FI_BODYSTRUCTURE);
}

/* PREVIEW "text" (RFC 8970); NIL only when the message was not read. */
static void
put_preview(struct render *r)
{
	struct imap_fetch_msg *msg = r->msg;
	struct buf text = BUF_INIT;

	buf_puts(r->text, "PREVIEW ");
	if (msg->data == NULL) {
		buf_puts(r->text, "NIL");
		return;
	}
	if (msg->root == NULL)
		msg->root = mime_parse(msg->data, msg->len, r->ctx->arena);
	mime_text_preview(msg->data, msg->len, msg->root, IMAP_PREVIEW_CHARS, &text);
	imap_write_nstring(r->text, text.data, text.len);
	buf_free(&text);
}

/* "BODY[1.MIME]" with "<origin>" for a partial fetch, then a space. */
static void
put_name(struct buf *out, const struct imap_fetch_item *it)
{
	buf_append(out, it->name, it->name_len);
	if (it->has_partial)
		buf_printf(out, "<%u>", it->partial_start);
	buf_append(out, " ", 1);
}

/* Writes one item (with its leading name).  Returns 0, or -1 for a
 * BINARY of an undecodable part. */
static int
put_item(struct render *r, const struct imap_fetch_item *it)
{
	struct imap_fetch_msg *msg = r->msg;
	struct buf *out = r->text;
	const char *data;
	size_t len;
	const struct mime_part *leaf;

	switch (it->kind) {
	case IMAP_FI_UID:
		buf_puts(out, "UID ");
		buf_put_u64(out, msg->uid);
		break;
	case IMAP_FI_FLAGS:
		buf_puts(out, "FLAGS ");
		imap_flags_write(out, msg->flags, msg->keywords);
		break;
	case IMAP_FI_INTERNALDATE:
		buf_puts(out, "INTERNALDATE ");
		imap_date_time_write(out, msg->internal_date);
		break;
	case IMAP_FI_SAVEDATE:
		/* RFC 8514 3: NIL when the save date is not known */
		buf_puts(out, "SAVEDATE ");
		if (msg->save_date != 0)
			imap_date_time_write(out, msg->save_date);
		else
			buf_puts(out, "NIL");
		break;
	case IMAP_FI_RFC822_SIZE:
		buf_puts(out, "RFC822.SIZE ");
		buf_put_u64(out, msg->size);
		break;
	case IMAP_FI_ENVELOPE:
		buf_puts(out, "ENVELOPE ");
		put_structure(out, msg, msg->envelope, it->kind, r->ctx->arena);
		break;
	case IMAP_FI_BODY:
		buf_puts(out, "BODY ");
		put_structure(out, msg, msg->body, it->kind, r->ctx->arena);
		break;
	case IMAP_FI_BODYSTRUCTURE:
		buf_puts(out, "BODYSTRUCTURE ");
		put_structure(out, msg, msg->bodystructure, it->kind, r->ctx->arena);
		break;
	case IMAP_FI_MODSEQ:
		/* RFC 7162 msg-att-dynamic: "MODSEQ" SP "(" mod-sequence-value ")" */
		buf_printf(out, "MODSEQ (%llu)", (unsigned long long)msg->modseq);
		break;
	case IMAP_FI_RFC822:
		buf_puts(out, "RFC822 ");
		put_body(r, msg->data, msg->len);
		break;
	case IMAP_FI_RFC822_HEADER:
		buf_puts(out, "RFC822.HEADER ");
		data = top_header(msg, &len);
		put_body(r, data, len);
		break;
	case IMAP_FI_RFC822_TEXT:
		buf_puts(out, "RFC822.TEXT ");
		len = imap_header_size(msg->data, msg->len);
		put_body(r, msg->data + len, msg->len - len);
		break;
	case IMAP_FI_SECTION:
		put_name(out, it);
		if (imap_section_get(msg, &it->section, r->ctx->arena, &data, &len, &leaf) == 0) {
			buf_puts(out, "NIL");
			break;
		}
		if (it->section.text == IMAP_SECT_FIELDS || it->section.text == IMAP_SECT_FIELDS_NOT) {
			put_filtered(r, it, data, len);
			break;
		}
		cut_partial(it, &data, &len);
		put_body(r, data, len);
		break;
	case IMAP_FI_BINARY:
	case IMAP_FI_BINARY_SIZE:
		put_name(out, it);
		return put_binary_item(r, it, it->kind == IMAP_FI_BINARY_SIZE);
	case IMAP_FI_PREVIEW:
		put_preview(r);
		break;
	case IMAP_FI_EMAILID:
		/* RFC 8474 7: "EMAILID" SP "(" objectid ")" */
		buf_puts(out, "EMAILID (");
		buf_puts(out, msg->emailid != NULL ? msg->emailid : "");
		buf_puts(out, ")");
		break;
	case IMAP_FI_THREADID:
		/* no thread ids are kept: RFC 8474 5.2 and 7 allow NIL */
		buf_puts(out, "THREADID NIL");
		break;
	}
	return 0;
}

int
imap_fetch_render_msg(const struct imap_ctx *ctx, const struct imap_fetch_spec *spec, uint32_t seq,
                      struct imap_fetch_msg *msg, bool add_flags, struct imap_fetch_out *out,
                      struct imap_result *res)
{
	struct render r = { .ctx = ctx, .msg = msg, .out = out, .text = &out->text };
	size_t start = out->text.len, nsegs = out->nsegs, i;
	uint64_t seg_bytes = out->seg_bytes;
	bool flags = false, uid = false, modseq = false, first = true;
	/* RFC 7162 (CONDSTORE enabling commands): once CONDSTORE is on,
	 * untagged FETCH responses include UID and MODSEQ, except those of a
	 * FETCH that asked for neither and did not set \Seen implicitly. */
	bool implicit = add_flags && ctx->condstore;
	struct buf *text = r.text;
	int ret = 0;

	msg->fd_used = false;
	for (i = 0; i < spec->count; i++) {
		flags |= spec->items[i].kind == IMAP_FI_FLAGS;
		uid |= spec->items[i].kind == IMAP_FI_UID;
		modseq |= spec->items[i].kind == IMAP_FI_MODSEQ;
	}
	buf_puts(text, "* ");
	buf_put_u64(text, seq);
	buf_puts(text, " FETCH (");
	/* UID first, as most servers do: clients find it early */
	if (uid || implicit) {
		buf_puts(text, "UID ");
		buf_put_u64(text, msg->uid);
		first = false;
	}
	for (i = 0; i < spec->count; i++) {
		const struct imap_fetch_item *it = &spec->items[i];

		if (it->kind == IMAP_FI_UID)
			continue;
		if (!first)
			buf_append(text, " ", 1);
		first = false;
		if (put_item(&r, it) == -1) {
			text->len = start;
			if (text->data != NULL)
				text->data[start] = '\0';
			out->nsegs = nsegs;
			out->seg_bytes = seg_bytes;
			msg->fd_used = false;
			set_result(res, IMAP_NO, "UNKNOWN-CTE", "Cannot decode the content transfer encoding");
			ret = -1;
			goto done;
		}
	}
	if (add_flags && !flags) {
		if (!first)
			buf_append(text, " ", 1);
		first = false;
		buf_puts(text, "FLAGS ");
		imap_flags_write(text, msg->flags, msg->keywords);
	}
	if ((spec->modseq || implicit) && !modseq) {
		if (!first)
			buf_append(text, " ", 1);
		buf_printf(text, "MODSEQ (%llu)", (unsigned long long)msg->modseq);
	}
	buf_puts(text, ")\r\n");
done:
	buf_free(&r.scratch);
	buf_free(&r.tmp);
	return ret;
}

/* --- loading from the store --- */

/* A header-only fetch preads a header up to this size (cheaper than a
 * mapping); a larger one is mapped like the whole message, so that it is
 * never copied whole into memory. */
#define IMAP_FETCH_HEAD_READ_MAX (64 * 1024)

/* Reads up to want octets from the start of fd into a malloc'd buffer. */
static char *
read_head(int fd, size_t want, size_t *len_out)
{
	char *p = malloc(want + 1);
	size_t got = 0;

	if (p == NULL)
		return NULL;
	while (got < want) {
		ssize_t r = pread(fd, p + got, want - got, (off_t)got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	*len_out = got;
	return p;
}

static void
keep_cached(const struct imap_ctx *ctx, const struct imap_fetch_spec *spec, struct imap_fetch_msg *msg)
{
	const char **want[] = { &msg->envelope, &msg->body, &msg->bodystructure };
	bool asked[3] = { false, false, false };
	size_t i;

	for (i = 0; i < spec->count; i++) {
		asked[0] |= spec->items[i].kind == IMAP_FI_ENVELOPE;
		asked[1] |= spec->items[i].kind == IMAP_FI_BODY;
		asked[2] |= spec->items[i].kind == IMAP_FI_BODYSTRUCTURE;
	}
	for (i = 0; i < 3; i++)
		*want[i] = asked[i] && *want[i] != NULL ? arena_strdup(ctx->arena, *want[i]) : NULL;
}

/* out keeps fd open for its segments (closed by imap_fetch_out_reset). */
static void
keep_fd(struct imap_fetch_out *out, int fd)
{
	if (out->nfds == out->fds_cap) {
		out->fds_cap = out->fds_cap == 0 ? 4 : 2 * out->fds_cap;
		out->fds = xrealloc(out->fds, out->fds_cap * sizeof(*out->fds));
	}
	out->fds[out->nfds++] = fd;
}

int
imap_fetch_render(struct imap_ctx *ctx, const struct imap_fetch_spec *spec, uint32_t seq,
                  const struct store_imap_msg *m, bool add_flags, struct imap_fetch_out *out,
                  struct imap_result *res)
{
	struct imap_fetch_msg msg;
	struct store_msg_cached cached;
	struct store_msg sm;
	const char *error;
	bool header_only = spec->need_header && !spec->need_file;
	uint64_t header_size = 0;
	void *map = NULL;
	size_t map_len = 0;
	char *head = NULL;
	char emailid[STORE_EMAILID_MAX + 1];
	int fd = -1, rc, ret = -1;

	memset(&msg, 0, sizeof(msg));
	msg.fd = -1;
	msg.uid = m->uid;
	msg.flags = m->flags;
	msg.modseq = m->modseq;
	msg.size = m->size;
	msg.internal_date = m->internal_date;
	msg.save_date = m->save_date;
	msg.keywords = m->keywords;
	if (spec->emailid) {
		store_imap_emailid(m, emailid);
		msg.emailid = emailid;
	}
	if (ctx->view == NULL) {
		set_result(res, IMAP_BAD, "", "No mailbox selected");
		return -1;
	}
	if (spec->need_cache || header_only) {
		rc = store_msg_cached(ctx->st, ctx->view->mailbox, m->uid, &cached, &error);
		if (rc == STORE_IMAP_NONEXISTENT)
			return 1;
		if (rc != STORE_OK) {
			set_result(res, IMAP_NO, "UNAVAILABLE", "Cannot read the message now");
			return -1;
		}
		msg.envelope = cached.envelope;
		msg.bodystructure = cached.bodystructure;
		msg.body = cached.body;
		header_size = cached.header_size;
		/* the cache's strings live until the next call on the store:
		 * keep the ones asked for when the file is opened next */
		if (spec->need_file || spec->need_header)
			keep_cached(ctx, spec, &msg);
	}
	if (spec->need_file || spec->need_header) {
		struct stat st;

		memset(&sm, 0, sizeof(sm));
		sm.uid = m->uid;
		memcpy(sm.file, m->file, sizeof(sm.file));
		fd = store_msg_open(ctx->st, &sm, &error);
		if (fd == -1) {
			/* expunged meanwhile: the row goes first, then the file */
			rc = store_msg_cached(ctx->st, ctx->view->mailbox, m->uid, &cached, &error);
			if (rc == STORE_IMAP_NONEXISTENT)
				return 1;
			set_result(res, IMAP_NO, "SERVERBUG", "Cannot open the message file");
			return -1;
		}
		msg.fd = fd;
		if (header_only && header_size <= IMAP_FETCH_HEAD_READ_MAX) {
			head = read_head(fd, (size_t)header_size, &msg.header_len);
			if (head == NULL)
				goto io_error;
			msg.header = head;
		} else {
			if (fstat(fd, &st) == -1)
				goto io_error;
			map_len = (size_t)st.st_size;
			if (map_len > 0) {
				map = mmap(NULL, map_len, PROT_READ, MAP_PRIVATE, fd, 0);
				if (map == MAP_FAILED) {
					map = NULL;
					goto io_error;
				}
			}
			msg.data = map != NULL ? map : "";
			msg.len = map_len;
		}
	}
	ret = imap_fetch_render_msg(ctx, spec, seq, &msg, add_flags, out, res);
	if (ret == 0 && msg.fd_used) {
		keep_fd(out, fd);
		fd = -1;
	}
	goto done;
io_error:
	set_result(res, IMAP_NO, "UNAVAILABLE", "Cannot read the message file");
	ret = -1;
done:
	if (map != NULL)
		munmap(map, map_len);
	if (fd != -1)
		close(fd);
	free(head);
	return ret;
}
