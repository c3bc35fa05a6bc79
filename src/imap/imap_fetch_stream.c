/* FETCH output on its way to the client (imap_fetch.h): the rendered
 * text with segments standing for large literals, and the loop-side
 * stream that reads the segments from the message files, one chunk at a
 * time, as the connection's output drains.
 *
 * A segment is a range of a message file and a transform: none (BINARY of
 * an unencoded part), NUL as 0x80 (BODY: a literal may not hold NUL, RFC
 * 9051 9 CHAR8), transfer decoding (BINARY, RFC 3516) or HEADER.FIELDS
 * filtering.  The transforms take their input in pieces and give the same
 * output however it is cut, so rendering can run one over the whole range
 * to learn the literal's size, and the stream can run it again chunk by
 * chunk: memory stays at a chunk and the transform's few words of state,
 * whatever the size of the message.  Rendering (a worker job) opened the
 * file, so a message expunged meanwhile is still read whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "imap/imap_fetch_private.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

struct imap_fetch_cursor {
	size_t text_pos;               /* text sent */
	size_t seg;                    /* the segment being sent */
	bool started;                  /* its transform is set up */
	bool finished;                 /* ... and has had all its input */
	uint64_t in_pos;               /* octets of its range read */
	uint64_t out_pos;              /* octets its transform gave */
	struct imap_fetch_xform x;
	char *chunk;                   /* IMAP_FETCH_CHUNK, while sending */
	struct buf tmp;                /* a transform's output */
};

/* --- the output of rendering --- */

void
imap_fetch_out_init(struct imap_fetch_out *out)
{
	memset(out, 0, sizeof(*out));
	out->inline_max = IMAP_FETCH_INLINE_MAX;
}

uint64_t
imap_fetch_out_size(const struct imap_fetch_out *out)
{
	return out->text.len + out->seg_bytes;
}

void
imap_fetch_out_reset(struct imap_fetch_out *out)
{
	for (size_t i = 0; i < out->nfds; i++)
		close(out->fds[i]);
	out->nfds = 0;
	out->nsegs = 0;
	out->seg_bytes = 0;
	buf_reset(&out->text);
}

void
imap_fetch_out_free(struct imap_fetch_out *out)
{
	imap_fetch_out_reset(out);
	buf_free(&out->text);
	free(out->segs);
	free(out->fds);
	out->segs = NULL;
	out->fds = NULL;
	out->segs_cap = out->fds_cap = 0;
}

/* --- transforms --- */

static void
nul_to_0x80(char *p, size_t len)
{
	char *nul;

	while ((nul = memchr(p, '\0', len)) != NULL) {
		*nul = (char)0x80;
		len -= (size_t)(nul + 1 - p);
		p = nul + 1;
	}
}

void
imap_fetch_xform_init(struct imap_fetch_xform *x, const struct imap_fetch_seg *g)
{
	if (g->kind == IMAP_SEG_DECODE)
		mime_decoder_init(&x->dec, g->cte);
	else if (g->kind == IMAP_SEG_FILTER)
		imap_hfilter_init(&x->filt, g->names, g->nnames, g->not, g->hdr_end);
}

void
imap_fetch_xform_feed(struct imap_fetch_xform *x, const struct imap_fetch_seg *g, const char *in, size_t len,
                      struct buf *out)
{
	size_t start = out->len;

	switch (g->kind) {
	case IMAP_SEG_DECODE:
		mime_decoder_feed(&x->dec, in, len, out);
		break;
	case IMAP_SEG_FILTER:
		imap_hfilter_feed(&x->filt, in, len, out);
		break;
	case IMAP_SEG_BODY:
		buf_append(out, in, len);
		break;
	case IMAP_SEG_BINARY:
		buf_append(out, in, len);
		break;
	}
	if ((g->kind == IMAP_SEG_FILTER || g->kind == IMAP_SEG_BODY) && out->len > start)
		nul_to_0x80(out->data + start, out->len - start);
}

enum mime_decode_result
imap_fetch_xform_finish(struct imap_fetch_xform *x, const struct imap_fetch_seg *g, struct buf *out)
{
	size_t start = out->len;

	if (g->kind == IMAP_SEG_DECODE)
		return mime_decoder_finish(&x->dec, out);
	if (g->kind == IMAP_SEG_FILTER) {
		imap_hfilter_finish(&x->filt, out);
		if (out->len > start)
			nul_to_0x80(out->data + start, out->len - start);
	}
	return MIME_DECODE_OK;
}

/* --- streaming --- */

/* Reads n octets at off of g's range into buf. */
static int
seg_read(const struct imap_fetch_seg *g, uint64_t off, char *buf, size_t n)
{
	size_t got = 0;

	if (g->fd < 0) {
		memcpy(buf, g->mem + g->off + off, n);
		return 0;
	}
	while (got < n) {
		ssize_t r = pread(g->fd, buf + got, n - got, (off_t)(g->off + off + got));

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;   /* an error, or the file is shorter than rendering saw */
		got += (size_t)r;
	}
	return 0;
}

/* Sends the part of data (the transform's output from c->out_pos on) that
 * falls in [skip, skip + out_len). */
static size_t
send_window(struct imap_fetch_cursor *c, const struct imap_fetch_seg *g, const char *data, size_t len,
            imap_fetch_write_fn *write, void *arg)
{
	uint64_t lo = c->out_pos, hi = c->out_pos + len;
	uint64_t want_lo = g->skip, want_hi = g->skip + g->out_len;
	size_t sent = 0;

	if (lo < want_lo)
		lo = want_lo;
	if (hi > want_hi)
		hi = want_hi;
	if (lo < hi) {
		sent = (size_t)(hi - lo);
		write(arg, data + (lo - c->out_pos), sent);
	}
	c->out_pos += len;
	return sent;
}

/* One chunk of segment g: read, transform, send.  Returns 0 or -1. */
static int
seg_step(struct imap_fetch_cursor *c, const struct imap_fetch_seg *g, imap_fetch_write_fn *write, void *arg,
         size_t *work)
{
	uint64_t left = g->len - c->in_pos;
	size_t n = left < IMAP_FETCH_CHUNK ? (size_t)left : IMAP_FETCH_CHUNK;

	if (!c->started) {
		imap_fetch_xform_init(&c->x, g);
		c->started = true;
	}
	if (c->chunk == NULL)
		c->chunk = xmalloc(IMAP_FETCH_CHUNK);
	if (n > 0 && seg_read(g, c->in_pos, c->chunk, n) == -1)
		return -1;
	c->in_pos += n;
	*work += n;
	if (g->kind == IMAP_SEG_BINARY || g->kind == IMAP_SEG_BODY) {
		if (g->kind == IMAP_SEG_BODY)
			nul_to_0x80(c->chunk, n);
		*work += send_window(c, g, c->chunk, n, write, arg);
	} else {
		buf_reset(&c->tmp);
		imap_fetch_xform_feed(&c->x, g, c->chunk, n, &c->tmp);
		if (c->in_pos == g->len) {
			(void)imap_fetch_xform_finish(&c->x, g, &c->tmp);
			c->finished = true;
		}
		*work += send_window(c, g, c->tmp.data, c->tmp.len, write, arg);
	}
	if (c->in_pos == g->len)
		c->finished = true;
	return 0;
}

int
imap_fetch_stream(struct imap_fetch_cursor **curp, const struct imap_fetch_out *out, imap_fetch_write_fn *write,
                  void *arg, size_t *work_out)
{
	struct imap_fetch_cursor *c = *curp;

	*work_out = 0;
	if (c == NULL)
		c = *curp = xcalloc(1, sizeof(*c));
	for (;;) {
		size_t stop = c->seg < out->nsegs ? out->segs[c->seg].at : out->text.len;
		const struct imap_fetch_seg *g;

		if (c->text_pos < stop) {
			size_t n = stop - c->text_pos;

			if (n > IMAP_FETCH_CHUNK)
				n = IMAP_FETCH_CHUNK;
			write(arg, out->text.data + c->text_pos, n);
			c->text_pos += n;
			*work_out = n;
			return 1;
		}
		if (c->seg == out->nsegs)
			return 0;
		g = &out->segs[c->seg];
		if (c->out_pos >= g->skip + g->out_len) {
			/* sent whole (a partial need not read its range to the end) */
			c->seg++;
			c->started = c->finished = false;
			c->in_pos = c->out_pos = 0;
			continue;
		}
		if (c->finished)
			return -1;   /* the transform gave less than rendering counted */
		if (seg_step(c, g, write, arg, work_out) == -1)
			return -1;
		if (*work_out > 0)
			return 1;
	}
}

void
imap_fetch_cursor_idle(struct imap_fetch_cursor *c)
{
	if (c == NULL)
		return;
	free(c->chunk);
	c->chunk = NULL;
	buf_free(&c->tmp);
}

void
imap_fetch_cursor_free(struct imap_fetch_cursor **curp)
{
	if (*curp == NULL)
		return;
	imap_fetch_cursor_idle(*curp);
	free(*curp);
	*curp = NULL;
}

static void
write_buf(void *arg, const char *data, size_t len)
{
	buf_append(arg, data, len);
}

int
imap_fetch_out_flatten(const struct imap_fetch_out *out, struct buf *dst)
{
	struct imap_fetch_cursor *c = NULL;
	size_t work;
	int r;

	while ((r = imap_fetch_stream(&c, out, write_buf, dst, &work)) == 1)
		;
	imap_fetch_cursor_free(&c);
	return r;
}
