/* What submission does to a message's header section while it streams to
 * the spool (RFC 6409 8): a filter between the body machine (smtp_data.c)
 * and the spool writer.  Pure: it sees message bytes, never a socket or a
 * file, and holds none of the message but the From value.
 *
 * In the header section (up to the empty line) it notes which fields
 * appear (Date, Message-ID, From) and keeps the first From value,
 * unfolded.  At the end of the header section -- the empty line, or the
 * end of a message that has no body -- it inserts the fields the caller
 * gave for Date and Message-ID when those were missing (8.2, 8.3), just
 * before the empty line, in one pass and without buffering.  Past
 * SMTP_SUBMIT_HEADER_MAX bytes of header it stops looking and inserts
 * nothing (header_overflow).
 *
 * The input is what the body machine passes on (CRLF line ends); anything
 * else is passed through unharmed.  A bare LF ends a line, and a bare LF
 * at the start of a line ends the header section like CR LF. */
#ifndef TERN_SMTP_SUBMIT_HEADER_H
#define TERN_SMTP_SUBMIT_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"
#include "smtp/smtp_data.h"

#define SMTP_SUBMIT_NAME_MAX 16 /* longer field names are none we look for */

struct smtp_submit_header {
	int state;                      /* private: where in a header line we are */
	bool in_header;                 /* still looking (not past the end or the limit) */
	bool header_overflow;           /* stopped at SMTP_SUBMIT_HEADER_MAX */
	bool has_date, has_msgid;
	bool added_date, added_msgid;   /* inserted by us */
	unsigned n_from;                /* From fields seen */
	uint64_t header_len;
	int field;                      /* private: the field the current line belongs to */
	char name[SMTP_SUBMIT_NAME_MAX];
	size_t name_len;
	/* the first From value, unfolded (CR and LF removed) */
	char from[SMTP_FROM_FIELD_MAX];
	size_t from_len;
	bool from_overflow;             /* longer than SMTP_FROM_FIELD_MAX */
	const char *add_date;           /* "Date: ...\r\n" or NULL: never add */
	const char *add_msgid;          /* "Message-ID: <...>\r\n" or NULL */
	smtp_body_sink_fn *next;
	void *next_arg;
};

/* Sets up h to pass the message on to next.  add_date and add_msgid are
 * whole field lines ending in CRLF (owned by the caller, alive until
 * the message ends), or NULL. */
void smtp_submit_header_init(struct smtp_submit_header *h, const char *add_date, const char *add_msgid,
                             smtp_body_sink_fn *next, void *next_arg);

/* A smtp_body_sink_fn: arg is the struct smtp_submit_header.  Returns
 * what next returned (-1 stops the message). */
int smtp_submit_header_sink(void *arg, const char *data, size_t len);

/* The message has ended: a header section that ran to the end of the
 * message gets its missing fields now.  Returns 0, or -1 if next failed. */
int smtp_submit_header_finish(struct smtp_submit_header *h);

#endif
