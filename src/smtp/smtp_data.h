/* The message body state machine for DATA (RFC 5321 4.1.1.4, 4.5.2) and
 * BDAT (RFC 3030).  Pure: it never sees a socket or a file.  Bytes are fed
 * in pieces of any size; the unstuffed (DATA) or line-end-normalised (BDAT)
 * message is handed to a sink in runs, so nothing is held in memory.
 *
 * DATA: only CR LF "." CR LF ends the data (the SMTP smuggling defence:
 * "\n.\n", "\r.\r", "\n.\r\n" and "\r\n.\n" do not).  A bare LF ends a line
 * and is stored as CR LF, but the line after it is plain content: it is
 * neither unstuffed nor taken as the end (Postfix 3.9's default,
 * smtpd_forbid_bare_newline=normal).  A bare CR or a NUL anywhere, or a
 * line longer than SMTP_TEXT_LINE_MAX, marks the message as invalid; the
 * machine keeps reading to the real end so the session stays in sync,
 * then the session rejects it.
 *
 * BDAT: the session counts the chunk's bytes itself.  A bare LF or a bare
 * CR is turned into CR LF (BINARYMIME is not offered, and the store keeps
 * CRLF line ends); a NUL or an overlong line makes the message invalid.
 *
 * Both: the bytes passed to the sink are counted against max_size; past it
 * the machine stops passing bytes on and reports SMTP_BODY_TOO_BIG.
 * Received: header fields in the header section are counted (loops,
 * RFC 5321 6.3). */
#ifndef TERN_SMTP_DATA_H
#define TERN_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"

/* Receives a run of message bytes.  Returns 0, or -1 to stop: the machine
 * then passes nothing more on and reports SMTP_BODY_SINK_FAILED. */
typedef int smtp_body_sink_fn(void *arg, const char *data, size_t len);

enum smtp_body_mode { SMTP_BODY_DATA, SMTP_BODY_BDAT };

/* The first problem found wins; later ones are not recorded. */
enum smtp_body_status {
	SMTP_BODY_OK,
	SMTP_BODY_TOO_BIG,        /* 552 5.3.4 */
	SMTP_BODY_BARE_CR,        /* DATA only: 550 5.5.2 */
	SMTP_BODY_NUL,            /* 550 5.6.0 */
	SMTP_BODY_LINE_TOO_LONG,  /* 550 5.5.2 */
	SMTP_BODY_LOOP,           /* more than SMTP_RECEIVED_HOPS_MAX Received: 554 5.4.6 */
	SMTP_BODY_SINK_FAILED,    /* the sink returned -1 (a disk error) */
};

#define SMTP_RECEIVED_PREFIX_LEN 9 /* strlen("received:") */

struct smtp_body {
	enum smtp_body_mode mode;
	enum smtp_body_status status;
	int state;                      /* private: where in a line we are */
	bool in_headers;                /* still in the header section */
	bool done;                      /* DATA: the end was seen */
	uint64_t max_size;
	uint64_t size;                  /* bytes accepted (sent on, or that
	                                   would have been sent when rejected) */
	uint64_t line_len;              /* bytes of the current line so far */
	unsigned received;              /* Received: header fields counted */
	char prefix[SMTP_RECEIVED_PREFIX_LEN]; /* the current header line's start */
	smtp_body_sink_fn *sink;
	void *sink_arg;
};

/* Sets up b to receive a message of at most max_size bytes. */
void smtp_body_init(struct smtp_body *b, enum smtp_body_mode mode, uint64_t max_size, smtp_body_sink_fn *sink,
                    void *sink_arg);

/* Feeds len bytes.  DATA: returns 1 when the terminating CRLF.CRLF was
 * seen, with *consumed_out set to the bytes up to and including it (the
 * rest is the next command); 0 when all len bytes were taken and more are
 * needed.  BDAT: always takes everything and returns 0. */
int smtp_body_feed(struct smtp_body *b, const char *data, size_t len, size_t *consumed_out);

/* BDAT: the last chunk is in.  Completes a pending CR, and ends a message
 * whose last line had no line end with CRLF so that the stored message
 * always ends in CRLF (unless it is empty).  DATA: nothing to do. */
void smtp_body_finish(struct smtp_body *b);

/* A short text for logs: "ok", "too big", "bare LF", ... */
const char *smtp_body_status_text(enum smtp_body_status st);

#endif
