/* Pure parsers for what an SMTP server says to us: replies (RFC 5321
 * 4.2, multi-line, with the enhanced status code of RFC 3463 / RFC 2034)
 * and the EHLO keyword list (RFC 5321 4.1.1.1).  No socket, no
 * allocation: the session feeds lines from conn_read_line(); the fuzzer
 * (fuzz/fuzz_mta_reply.c) feeds anything. */
#ifndef TERN_MTA_REPLY_H
#define TERN_MTA_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mta/mta.h"

/* Collects the lines of one reply.  Zero it (or mta_reply_parser_init)
 * before the first line; it resets itself after each complete reply. */
struct mta_reply_parser {
	struct mta_reply r;          /* the reply being built */
	size_t lines;
	size_t total;                /* bytes of the lines so far */
	size_t text_len;
	const char *line_text;       /* after the last mta_reply_feed: the text of that line (after "250-" and status) */
};

void mta_reply_parser_init(struct mta_reply_parser *p);
/* Feeds one line (CRLF removed, len bytes, NUL-terminated).  Returns 1
 * when it completed a reply (*out filled, the parser reset), 0 when more
 * lines are needed, -1 for a malformed line, a code that changes inside a
 * reply, or more than MTA_REPLY_LINES_MAX lines / MTA_REPLY_TOTAL_MAX
 * bytes (*error_out: static text; the session cannot trust the peer any
 * more).  Text is cut to fit mta_reply.text; bytes outside printable
 * ASCII become '?' so that a reply is safe to log. */
int mta_reply_feed(struct mta_reply_parser *p, const char *line, size_t len, struct mta_reply *out,
                   const char **error_out);

/* Fills *r with a reply made up here (no peer said it).  status may be "". */
void mta_reply_set(struct mta_reply *r, int code, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The ESMTP extensions we act on. */
enum mta_ext {
	MTA_EXT_STARTTLS = 1u << 0,
	MTA_EXT_PIPELINING = 1u << 1,
	MTA_EXT_SIZE = 1u << 2,
	MTA_EXT_8BITMIME = 1u << 3,
	MTA_EXT_SMTPUTF8 = 1u << 4,
	MTA_EXT_CHUNKING = 1u << 5,
	MTA_EXT_DSN = 1u << 6,
	MTA_EXT_AUTH = 1u << 7,
	MTA_EXT_ENHANCEDSTATUSCODES = 1u << 8,
};
#define MTA_AUTH_PLAIN (1u << 0)
#define MTA_AUTH_LOGIN (1u << 1)

struct mta_ehlo {
	unsigned ext;                /* enum mta_ext bits */
	uint64_t size_max;           /* SIZE n; 0: none given (RFC 1870 4: 0 means no limit) */
	unsigned auth;               /* MTA_AUTH_* offered */
};

/* One keyword line of an EHLO reply (the text of every line but the
 * first, which is the server's name).  Unknown keywords are ignored;
 * keywords are case-insensitive (RFC 5321 2.4). */
void mta_ehlo_line(struct mta_ehlo *e, const char *text);
/* The bit of a keyword ("SMTPUTF8"), or 0 if we do not know it. */
unsigned mta_ehlo_ext(const char *name);

#endif
