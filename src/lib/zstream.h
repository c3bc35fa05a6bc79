/* Raw DEFLATE streams (RFC 1951) for IMAP COMPRESS=DEFLATE (RFC 4978):
 * one deflater for what we send, one inflater for what we receive, with
 * zlib doing the work. */
#ifndef TERN_ZSTREAM_H
#define TERN_ZSTREAM_H

#include <stddef.h>

struct buf;
struct zstream;

/* A pair of streams.  NULL if zlib cannot allocate. */
struct zstream *zstream_new(void);
void zstream_free(struct zstream **z);

/* Compresses len bytes and appends them to out, ending with a sync flush
 * so the peer can decode everything sent so far.  Returns 0 or -1. */
int zstream_deflate(struct zstream *z, const void *in, size_t len, struct buf *out);

/* Decompresses from in (len bytes) into out until in is used up or out
 * has grown by max_out bytes; *consumed_out is the input taken.  Returns 0,
 * or -1 on corrupt data. */
int zstream_inflate(struct zstream *z, const void *in, size_t len, size_t *consumed_out, struct buf *out,
                    size_t max_out);

#endif
