/* The DATA/BDAT body state machine (see smtp_data.h). */
#include <string.h>

#include "smtp/smtp_data.h"

enum {
	ST_BOL,         /* at the start of a line (after CR LF) */
	ST_MID,         /* inside a line */
	ST_CR,          /* after a CR inside a line */
	ST_DOT,         /* DATA: after a "." at the start of a line (dropped) */
	ST_DOT_CR,      /* DATA: after "." CR at the start of a line */
};

static const char received_prefix[SMTP_RECEIVED_PREFIX_LEN] = {
	'r', 'e', 'c', 'e', 'i', 'v', 'e', 'd', ':'
};

void
smtp_body_init(struct smtp_body *b, enum smtp_body_mode mode, uint64_t max_size, smtp_body_sink_fn *sink,
               void *sink_arg)
{
	memset(b, 0, sizeof(*b));
	b->mode = mode;
	b->status = SMTP_BODY_OK;
	b->state = ST_BOL;
	b->in_headers = true;
	b->max_size = max_size;
	b->sink = sink;
	b->sink_arg = sink_arg;
}

static void
set_status(struct smtp_body *b, enum smtp_body_status st)
{
	if (b->status == SMTP_BODY_OK)
		b->status = st;
}

/* Passes a run on to the sink (sizes were counted by count()). */
static void
emit(struct smtp_body *b, const char *data, size_t len)
{
	if (len == 0 || b->status != SMTP_BODY_OK)
		return;
	if (b->sink(b->sink_arg, data, len) == -1)
		set_status(b, SMTP_BODY_SINK_FAILED);
}

/* Accounts for n bytes of output at the current position: the size limit
 * and, for line content, the line length limit.  Whichever limit the run
 * crosses first is the one reported (the size limit on a tie), so that
 * the result does not depend on how the input was cut into pieces. */
static void
count(struct smtp_body *b, uint64_t n, bool line_content)
{
	const uint64_t line_room = SMTP_TEXT_LINE_MAX - 2;   /* room for CR LF */
	uint64_t k_size = UINT64_MAX, k_line = UINT64_MAX;

	if (b->size + n > b->max_size)
		k_size = b->size >= b->max_size ? 1 : b->max_size - b->size + 1;
	if (line_content && b->line_len + n > line_room)
		k_line = b->line_len >= line_room ? 1 : line_room - b->line_len + 1;
	if (k_size != UINT64_MAX && k_size <= k_line)
		set_status(b, SMTP_BODY_TOO_BIG);
	else if (k_line != UINT64_MAX)
		set_status(b, SMTP_BODY_LINE_TOO_LONG);
	b->size += n;
	if (line_content)
		b->line_len += n;
}

/* A line ended (CR LF, or a converted line end in BDAT). */
static void
line_end(struct smtp_body *b)
{
	if (b->in_headers) {
		if (b->line_len == 0) {
			b->in_headers = false;
		} else if (b->line_len >= SMTP_RECEIVED_PREFIX_LEN &&
		           memcmp(b->prefix, received_prefix, SMTP_RECEIVED_PREFIX_LEN) == 0) {
			if (++b->received > SMTP_RECEIVED_HOPS_MAX)
				set_status(b, SMTP_BODY_LOOP);
		}
	}
	b->line_len = 0;
	memset(b->prefix, 0, sizeof(b->prefix));
}

/* Takes ordinary line content starting at p[*ip] (not CR, LF or NUL):
 * one byte while the header prefix is being captured, else the whole
 * run up to the next special byte.  Advances *ip. */
static void
content(struct smtp_body *b, const unsigned char *p, size_t len, size_t *ip)
{
	size_t i = *ip;

	if (b->in_headers && b->line_len < SMTP_RECEIVED_PREFIX_LEN) {
		unsigned char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		b->prefix[b->line_len] = (char)c;
		count(b, 1, true);
		i++;
	} else {
		size_t j = i;

		while (j < len && p[j] != '\r' && p[j] != '\n' && p[j] != '\0')
			j++;
		count(b, j - i, true);
		i = j;
	}
	*ip = i;
}

static int
feed_data(struct smtp_body *b, const char *data, size_t len, size_t *consumed_out)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0, run = 0;

	while (i < len) {
		unsigned char c = p[i];

		switch (b->state) {
		case ST_BOL:
			if (c == '.') {
				/* dot-unstuffing: the first dot of a line goes */
				emit(b, data + run, i - run);
				run = ++i;
				b->state = ST_DOT;
				continue;
			}
			b->state = ST_MID;
			continue;
		case ST_DOT:
			if (c == '\r') {
				/* maybe the end: hold the CR back */
				emit(b, data + run, i - run);
				run = ++i;
				b->state = ST_DOT_CR;
				continue;
			}
			if (c == '\n') {
				/* "." then a bare LF is not the end and not
				 * stuffing: the dot stays, as content. */
				count(b, 1, true);
				emit(b, ".", 1);
			}
			b->state = ST_MID;
			continue;
		case ST_DOT_CR:
			if (c == '\n') {
				b->done = true;
				*consumed_out = i + 1;
				return 1;
			}
			/* "." CR then something else: a bare CR (message refused,
			 * so the held-back CR need not be passed on) */
			set_status(b, SMTP_BODY_BARE_CR);
			b->state = ST_MID;
			continue;
		case ST_CR:
			if (c == '\n') {
				count(b, 1, false);
				i++;
				line_end(b);
				b->state = ST_BOL;
				continue;
			}
			set_status(b, SMTP_BODY_BARE_CR);
			b->state = ST_MID;
			continue;
		default: /* ST_MID */
			if (c == '\r') {
				count(b, 1, false);
				i++;
				b->state = ST_CR;
			} else if (c == '\n') {
				/* A bare LF ends the line and is stored as CR LF
				 * (Postfix's smtpd_forbid_bare_newline=normal: curl,
				 * scripts and old tools send them).  It never starts
				 * a line that can end the data or lose a dot:
				 * "\n.\r\n" and "\n.\n" are content. */
				count(b, 2, false);
				emit(b, data + run, i - run);
				emit(b, "\r", 1);
				run = i;
				i++;
				line_end(b);
			} else if (c == '\0') {
				count(b, 1, true);
				set_status(b, SMTP_BODY_NUL);
				i++;
			} else {
				content(b, p, len, &i);
			}
			continue;
		}
	}
	emit(b, data + run, len - run);
	*consumed_out = len;
	return 0;
}

static void
feed_bdat(struct smtp_body *b, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0, run = 0;

	while (i < len) {
		unsigned char c = p[i];

		if (b->state == ST_CR) {
			if (c == '\n') {
				count(b, 1, false);
				i++;
				line_end(b);
				b->state = ST_BOL;
				continue;
			}
			/* bare CR: complete it to CR LF */
			count(b, 1, false);
			emit(b, data + run, i - run);
			emit(b, "\n", 1);
			run = i;
			line_end(b);
			b->state = ST_BOL;
			continue;
		}
		if (c == '\r') {
			count(b, 1, false);
			i++;
			b->state = ST_CR;
		} else if (c == '\n') {
			/* bare LF: becomes CR LF */
			count(b, 2, false);
			emit(b, data + run, i - run);
			emit(b, "\r", 1);
			run = i;
			i++;
			line_end(b);
			b->state = ST_BOL;
		} else if (c == '\0') {
			count(b, 1, true);
			set_status(b, SMTP_BODY_NUL);
			i++;
		} else {
			b->state = ST_MID;
			content(b, p, len, &i);
		}
	}
	emit(b, data + run, len - run);
}

int
smtp_body_feed(struct smtp_body *b, const char *data, size_t len, size_t *consumed_out)
{
	if (b->mode == SMTP_BODY_DATA) {
		if (b->done) {
			*consumed_out = 0;
			return 1;
		}
		return feed_data(b, data, len, consumed_out);
	}
	feed_bdat(b, data, len);
	*consumed_out = len;
	return 0;
}

void
smtp_body_finish(struct smtp_body *b)
{
	if (b->mode != SMTP_BODY_BDAT)
		return;
	if (b->state == ST_CR) {
		count(b, 1, false);
		emit(b, "\n", 1);
		line_end(b);
	} else if (b->line_len > 0) {
		count(b, 2, false);
		emit(b, "\r\n", 2);
		line_end(b);
	}
	b->state = ST_BOL;
}

const char *
smtp_body_status_text(enum smtp_body_status st)
{
	switch (st) {
	case SMTP_BODY_OK:
		return "ok";
	case SMTP_BODY_TOO_BIG:
		return "too big";
	case SMTP_BODY_BARE_CR:
		return "bare CR";
	case SMTP_BODY_NUL:
		return "NUL byte";
	case SMTP_BODY_LINE_TOO_LONG:
		return "line too long";
	case SMTP_BODY_LOOP:
		return "too many Received headers";
	case SMTP_BODY_SINK_FAILED:
		return "write failed";
	}
	return "?";
}
