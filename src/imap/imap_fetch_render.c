/* One message's FETCH response (RFC 9051 7.5.2, RFC 3516 4.3, RFC 7162
 * 3.1.4.1): loading what the items need from the store, then writing
 * "* seq FETCH (...)\r\n".
 *
 * Loading reads as little as it can: ENVELOPE, BODY and BODYSTRUCTURE
 * come from the index cache (store_msg_cached); header-only sections of
 * the message (HEADER, HEADER.FIELDS[.NOT], RFC822.HEADER) pread just
 * the header's bytes; anything else mmaps the message file and, for part
 * numbers, parses it with mime_parse() in the command arena.
 *
 * Body sections go out byte for byte as literals (the file has CRLF line
 * ends already); an empty section is "" and a part the message does not
 * have is NIL.  BINARY decodes leaf parts (mime_decode_transfer) and
 * sends a literal8 when the result holds NUL (RFC 3516 4.3). */
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
#include "mime/mime.h"
#include "mime/mime_decode.h"
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

/* A section's content: "" when empty (never NIL), else a literal, a
 * literal8 for BINARY data holding NUL.  A literal may not hold NUL (RFC
 * 9051 9: CHAR8), so in BODY sections a NUL goes out as 0x80, as Dovecot
 * does; BINARY[] gives the exact octets (RFC 3516). */
static void
put_data(struct buf *out, const char *data, size_t len, bool binary)
{
	const char *nul;

	if (len == 0) {
		buf_puts(out, "\"\"");
		return;
	}
	nul = memchr(data, '\0', len);
	if (binary && nul != NULL)
		buf_append(out, "~", 1);
	buf_printf(out, "{%zu}\r\n", len);
	if (binary || nul == NULL) {
		buf_append(out, data, len);
		return;
	}
	{
		char *dst = buf_reserve(out, len);

		for (size_t i = 0; i < len; i++)
			dst[i] = data[i] == '\0' ? (char)0x80 : data[i];
		out->len += len;
		out->data[out->len] = '\0';
	}
}

/* <partial>: the octets from start, at most len of them; past the end,
 * nothing (RFC 9051 6.4.5). */
static void
cut_partial(const struct imap_fetch_item *it, const char **data, size_t *len)
{
	if (!it->has_partial)
		return;
	if (it->partial_start >= *len) {
		*len = 0;
		return;
	}
	*data += it->partial_start;
	*len -= it->partial_start;
	if (*len > it->partial_len)
		*len = it->partial_len;
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

static bool
identity_cte(const char *enc)
{
	return enc == NULL || strcasecmp(enc, "7BIT") == 0 || strcasecmp(enc, "8BIT") == 0 ||
	       strcasecmp(enc, "BINARY") == 0;
}

/* The content BINARY[section] returns, decoded into dec when it must be.
 * RFC 9051 6.4.5 allows BINARY on leaf parts only; for the message and
 * for multipart and message/rfc822 parts (whose only allowed encodings
 * are the identity ones, RFC 2045 6.4) we answer the bytes as they are,
 * as BODY would.  Returns 1, 0 for no such part, -1 for an encoding we
 * cannot decode. */
static int
binary_get(struct imap_fetch_msg *msg, const struct imap_fetch_item *it, struct arena *a,
           struct buf *scratch, struct buf *dec, const char **data, size_t *len)
{
	const struct mime_part *leaf;

	if (imap_section_get(msg, &it->section, a, scratch, data, len, &leaf) == 0)
		return 0;
	if (leaf == NULL || identity_cte(leaf->encoding))
		return 1;
	buf_reset(dec);
	if (mime_decode_transfer(leaf->encoding, *data, *len, dec) != MIME_DECODE_OK)
		return -1;
	*data = dec->len > 0 ? dec->data : "";
	*len = dec->len;
	return 1;
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

/* Writes one item (with its leading name).  Returns 0, or -1 for a
 * BINARY of an undecodable part. */
static int
put_item(const struct imap_ctx *ctx, const struct imap_fetch_item *it, struct imap_fetch_msg *msg,
         struct buf *out, struct buf *scratch, struct buf *dec)
{
	const char *data;
	size_t len;
	const struct mime_part *leaf;
	int rc;

	switch (it->kind) {
	case IMAP_FI_UID:
		buf_printf(out, "UID %u", msg->uid);
		break;
	case IMAP_FI_FLAGS:
		buf_puts(out, "FLAGS ");
		imap_flags_write(out, msg->flags, msg->keywords);
		break;
	case IMAP_FI_INTERNALDATE:
		buf_puts(out, "INTERNALDATE ");
		imap_date_time_write(out, msg->internal_date);
		break;
	case IMAP_FI_RFC822_SIZE:
		buf_printf(out, "RFC822.SIZE %llu", (unsigned long long)msg->size);
		break;
	case IMAP_FI_ENVELOPE:
		buf_puts(out, "ENVELOPE ");
		put_structure(out, msg, msg->envelope, it->kind, ctx->arena);
		break;
	case IMAP_FI_BODY:
		buf_puts(out, "BODY ");
		put_structure(out, msg, msg->body, it->kind, ctx->arena);
		break;
	case IMAP_FI_BODYSTRUCTURE:
		buf_puts(out, "BODYSTRUCTURE ");
		put_structure(out, msg, msg->bodystructure, it->kind, ctx->arena);
		break;
	case IMAP_FI_MODSEQ:
		/* RFC 7162 msg-att-dynamic: "MODSEQ" SP "(" mod-sequence-value ")" */
		buf_printf(out, "MODSEQ (%llu)", (unsigned long long)msg->modseq);
		break;
	case IMAP_FI_RFC822:
		buf_puts(out, "RFC822 ");
		put_data(out, msg->data, msg->len, false);
		break;
	case IMAP_FI_RFC822_HEADER:
		buf_puts(out, "RFC822.HEADER ");
		data = top_header(msg, &len);
		put_data(out, data, len, false);
		break;
	case IMAP_FI_RFC822_TEXT:
		buf_puts(out, "RFC822.TEXT ");
		len = imap_header_size(msg->data, msg->len);
		put_data(out, msg->data + len, msg->len - len, false);
		break;
	case IMAP_FI_SECTION:
		put_name(out, it);
		if (imap_section_get(msg, &it->section, ctx->arena, scratch, &data, &len, &leaf) == 0) {
			buf_puts(out, "NIL");
			break;
		}
		cut_partial(it, &data, &len);
		put_data(out, data, len, false);
		break;
	case IMAP_FI_BINARY:
		put_name(out, it);
		rc = binary_get(msg, it, ctx->arena, scratch, dec, &data, &len);
		if (rc == -1)
			return -1;
		if (rc == 0) {
			buf_puts(out, "NIL");
			break;
		}
		cut_partial(it, &data, &len);
		put_data(out, data, len, true);
		break;
	case IMAP_FI_BINARY_SIZE:
		put_name(out, it);
		rc = binary_get(msg, it, ctx->arena, scratch, dec, &data, &len);
		if (rc == -1)
			return -1;
		/* the size of what BINARY[section] sends: 0 for NIL */
		buf_printf(out, "%zu", rc == 0 ? (size_t)0 : len);
		break;
	}
	return 0;
}

int
imap_fetch_render_msg(const struct imap_ctx *ctx, const struct imap_fetch_spec *spec, uint32_t seq,
                      struct imap_fetch_msg *msg, bool add_flags, struct buf *out, struct imap_result *res)
{
	struct buf scratch = BUF_INIT, dec = BUF_INIT;
	size_t start = out->len, i;
	bool flags = false, uid = false, modseq = false, first = true;
	/* RFC 7162 (CONDSTORE enabling commands): once CONDSTORE is on,
	 * untagged FETCH responses include UID and MODSEQ, except those of a
	 * FETCH that asked for neither and did not set \Seen implicitly. */
	bool implicit = add_flags && ctx->condstore;
	int ret = 0;

	for (i = 0; i < spec->count; i++) {
		flags |= spec->items[i].kind == IMAP_FI_FLAGS;
		uid |= spec->items[i].kind == IMAP_FI_UID;
		modseq |= spec->items[i].kind == IMAP_FI_MODSEQ;
	}
	buf_printf(out, "* %u FETCH (", seq);
	/* UID first, as most servers do: clients find it early */
	if (uid || implicit) {
		buf_printf(out, "UID %u", msg->uid);
		first = false;
	}
	for (i = 0; i < spec->count; i++) {
		const struct imap_fetch_item *it = &spec->items[i];

		if (it->kind == IMAP_FI_UID)
			continue;
		if (!first)
			buf_append(out, " ", 1);
		first = false;
		if (put_item(ctx, it, msg, out, &scratch, &dec) == -1) {
			out->len = start;
			if (out->data != NULL)
				out->data[start] = '\0';
			set_result(res, IMAP_NO, "UNKNOWN-CTE", "Cannot decode the content transfer encoding");
			ret = -1;
			goto done;
		}
	}
	if (add_flags && !flags) {
		if (!first)
			buf_append(out, " ", 1);
		first = false;
		buf_puts(out, "FLAGS ");
		imap_flags_write(out, msg->flags, msg->keywords);
	}
	if ((spec->modseq || implicit) && !modseq) {
		if (!first)
			buf_append(out, " ", 1);
		buf_printf(out, "MODSEQ (%llu)", (unsigned long long)msg->modseq);
	}
	buf_puts(out, ")\r\n");
done:
	buf_free(&scratch);
	buf_free(&dec);
	return ret;
}

/* --- loading from the store --- */

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

int
imap_fetch_render(struct imap_ctx *ctx, const struct imap_fetch_spec *spec, uint32_t seq,
                  const struct store_imap_msg *m, bool add_flags, struct buf *out, struct imap_result *res)
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
	int fd = -1, rc, ret = -1;

	memset(&msg, 0, sizeof(msg));
	msg.uid = m->uid;
	msg.flags = m->flags;
	msg.modseq = m->modseq;
	msg.size = m->size;
	msg.internal_date = m->internal_date;
	msg.keywords = m->keywords;
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
		if (header_only) {
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
