/* Byte stuffing and CRLF normalisation for RETR and TOP (RFC 1939
 * section 3).  One pass over each byte; output goes straight into reserved
 * buffer space.  Worst case growth is 2x ("\n" -> "\r\n", "." -> ".." at a
 * line start), plus one CR held over from the previous chunk. */
#include "pop3/pop3_stuff.h"

void
pop3_stuffer_init(struct pop3_stuffer *st)
{
	st->line_start = true;
	st->pending_cr = false;
	st->top = false;
	st->in_body = false;
	st->done = false;
	st->body_lines = 0;
}

void
pop3_stuffer_init_top(struct pop3_stuffer *st, uint64_t body_lines)
{
	pop3_stuffer_init(st);
	st->top = true;
	st->body_lines = body_lines;
}

bool
pop3_stuffer_done(const struct pop3_stuffer *st)
{
	return st->done;
}

/* A line has just ended (its CRLF is written); empty says it had no
 * content.  Counts TOP's lines.  Returns true when TOP must stop. */
static bool
line_ended(struct pop3_stuffer *st, bool empty)
{
	if (!st->top)
		return false;
	if (!st->in_body) {
		if (empty) {
			st->in_body = true;
			if (st->body_lines == 0)
				st->done = true;
		}
	} else if (--st->body_lines == 0) {
		st->done = true;
	}
	return st->done;
}

size_t
pop3_stuffer_feed(struct pop3_stuffer *st, const char *in, size_t len, struct buf *out)
{
	char *o, *start;
	size_t i;

	if (st->done || len == 0)
		return st->done ? 0 : len;
	start = o = buf_reserve(out, 2 * len + 1);
	for (i = 0; i < len; i++) {
		char ch = in[i];

		if (ch == '\n') {
			bool empty = st->line_start;

			*o++ = '\r';
			*o++ = '\n';
			st->pending_cr = false;
			st->line_start = true;
			if (line_ended(st, empty)) {
				i++;
				break;
			}
			continue;
		}
		if (st->pending_cr) {
			/* The CR we held back was not followed by LF: it is a
			 * bare CR and part of the line's content. */
			*o++ = '\r';
			st->pending_cr = false;
			st->line_start = false;
		}
		if (ch == '\r') {
			st->pending_cr = true;
			continue;
		}
		if (ch == '.' && st->line_start)
			*o++ = '.';
		*o++ = ch;
		st->line_start = false;
	}
	out->len += (size_t)(o - start);
	out->data[out->len] = '\0';
	return i;
}

void
pop3_stuffer_finish(struct pop3_stuffer *st, struct buf *out)
{
	if (!st->done) {
		if (st->pending_cr) {
			/* A CR at the very end: the LF of a CRLF was cut off. */
			buf_append(out, "\r\n", 2);
			st->pending_cr = false;
			st->line_start = true;
		}
		if (!st->line_start)
			buf_append(out, "\r\n", 2);
	}
	buf_append(out, ".\r\n", 3);
	st->done = true;
}
