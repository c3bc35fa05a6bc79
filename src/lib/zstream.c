/* Raw DEFLATE streams over zlib (see zstream.h). */
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "lib/buf.h"
#include "lib/zstream.h"

/* zlib's memLevel: 8 is its default; the window is 32 KiB (-15 means
 * raw deflate, no zlib header, as RFC 4978 asks). */
#define ZSTREAM_LEVEL     Z_DEFAULT_COMPRESSION
#define ZSTREAM_WINDOW    (-15)
#define ZSTREAM_MEMLEVEL  8
#define ZSTREAM_CHUNK     16384

struct zstream {
	z_stream out;
	z_stream in;
};

struct zstream *
zstream_new(void)
{
	struct zstream *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	if (deflateInit2(&z->out, ZSTREAM_LEVEL, Z_DEFLATED, ZSTREAM_WINDOW, ZSTREAM_MEMLEVEL,
	                 Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return NULL;
	}
	if (inflateInit2(&z->in, ZSTREAM_WINDOW) != Z_OK) {
		deflateEnd(&z->out);
		free(z);
		return NULL;
	}
	return z;
}

void
zstream_free(struct zstream **zp)
{
	struct zstream *z = *zp;

	if (z == NULL)
		return;
	*zp = NULL;
	deflateEnd(&z->out);
	inflateEnd(&z->in);
	free(z);
}

int
zstream_deflate(struct zstream *z, const void *in, size_t len, struct buf *out)
{
	z->out.next_in = (Bytef *)(uintptr_t)in;
	z->out.avail_in = (uInt)len;
	do {
		char *dst = buf_reserve(out, ZSTREAM_CHUNK);
		int r;

		z->out.next_out = (Bytef *)dst;
		z->out.avail_out = ZSTREAM_CHUNK;
		r = deflate(&z->out, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR)
			return -1;
		out->len += ZSTREAM_CHUNK - z->out.avail_out;
		if (out->cap > 0)
			out->data[out->len] = '\0';
	} while (z->out.avail_out == 0 || z->out.avail_in > 0);
	return 0;
}

int
zstream_inflate(struct zstream *z, const void *in, size_t len, size_t *consumed_out, struct buf *out,
                size_t max_out)
{
	size_t produced = 0;

	z->in.next_in = (Bytef *)(uintptr_t)in;
	z->in.avail_in = (uInt)len;
	while (z->in.avail_in > 0 && produced < max_out) {
		size_t room = max_out - produced < ZSTREAM_CHUNK ? max_out - produced : ZSTREAM_CHUNK;
		char *dst = buf_reserve(out, room);
		int r;

		z->in.next_out = (Bytef *)dst;
		z->in.avail_out = (uInt)room;
		r = inflate(&z->in, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END) {
			*consumed_out = len - z->in.avail_in;
			return -1;
		}
		out->len += room - z->in.avail_out;
		produced += room - z->in.avail_out;
		if (out->cap > 0)
			out->data[out->len] = '\0';
		if (r == Z_BUF_ERROR || r == Z_STREAM_END)
			break;
	}
	*consumed_out = len - z->in.avail_in;
	return 0;
}
