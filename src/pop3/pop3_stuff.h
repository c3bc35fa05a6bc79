/* Turning a stored message into the body of a POP3 multi-line reply
 * (RFC 1939 section 3): every line ending becomes CRLF (a bare LF gets its
 * CR), a line that begins with "." gets another "." in front (byte
 * stuffing), and the reply ends with ".\r\n" after a final CRLF.  For TOP
 * the stuffer stops after the header, the blank line and n body lines.
 *
 * Pure and incremental: the session feeds the file in chunks of any size
 * and gets the same bytes whatever the chunk boundaries.  A bare CR (not
 * followed by LF) is passed through as it is, like Dovecot's CRLF stream:
 * it does not end a line and cannot form the terminator. */
#ifndef TERN_POP3_STUFF_H
#define TERN_POP3_STUFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

struct pop3_stuffer {
	bool line_start;         /* the next byte begins a line */
	bool pending_cr;         /* a CR ended the last chunk; its LF may come next */
	bool top;                /* TOP: stop after the header and body_lines lines */
	bool in_body;            /* past the blank line that ends the header */
	bool done;               /* TOP's limit was reached: the rest is ignored */
	uint64_t body_lines;     /* TOP: body lines still to send */
};

/* For RETR: the whole message. */
void pop3_stuffer_init(struct pop3_stuffer *st);
/* For TOP msg n: the header, the blank line, then n body lines. */
void pop3_stuffer_init_top(struct pop3_stuffer *st, uint64_t body_lines);

/* Converts len bytes of the message and appends the result to out (at most
 * 2 * len + 1 bytes).  Returns the number of input bytes used: len, or
 * fewer when TOP's limit was reached inside this chunk (then
 * pop3_stuffer_done() is true and further input is ignored). */
size_t pop3_stuffer_feed(struct pop3_stuffer *st, const char *in, size_t len, struct buf *out);

/* True once TOP has sent all it should; the caller may stop reading. */
bool pop3_stuffer_done(const struct pop3_stuffer *st);

/* Ends the reply: ends an unfinished last line with CRLF (a CR that ends
 * the message becomes CRLF) and appends the terminating ".\r\n" (at most 5
 * bytes). */
void pop3_stuffer_finish(struct pop3_stuffer *st, struct buf *out);

#endif
