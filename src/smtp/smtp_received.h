/* Trace header fields written in front of every received message:
 * Return-Path (RFC 5321 4.4) and Received (RFC 5321 4.4, with the "with"
 * keywords of RFC 3848 and RFC 6531 7.2).  Pure: builds text in a buffer. */
#ifndef TERN_SMTP_RECEIVED_H
#define TERN_SMTP_RECEIVED_H

#include <stdbool.h>
#include <time.h>

#include "lib/buf.h"

/* "Mon, 02 Jan 2006 15:04:05 +0000" plus NUL fits. */
#define SMTP_DATE_MAX 40

struct smtp_trace {
	const char *return_path;   /* envelope sender ("" = null sender); NULL: no Return-Path */
	const char *helo;          /* the client's HELO/EHLO argument */
	const char *peer_addr;     /* "192.0.2.1" or "2001:db8::1" */
	const char *hostname;      /* ours */
	const char *with;          /* smtp_with_keyword() */
	const char *tls;           /* "TLSv1.3 TLS_AES_256_GCM_SHA384" or NULL */
	const char *id;            /* the message id */
	const char *for_rcpt;      /* the recipient if exactly one, else NULL */
	time_t when;
};

/* Appends "Return-Path: <...>\r\n" (when t->return_path is not NULL) and a
 * folded "Received: ...\r\n" field to out.  No argument is checked here:
 * the session passes only parsed, printable values. */
void smtp_received_build(struct buf *out, const struct smtp_trace *t);

/* The Received "with" protocol: SMTP (HELO), ESMTP, ESMTPS (TLS), ESMTPA
 * (AUTH), ESMTPSA (both) -- RFC 3848; UTF8SMTP, UTF8SMTPS, UTF8SMTPA,
 * UTF8SMTPSA when the transaction used SMTPUTF8 (RFC 6531 4.3).  Static. */
const char *smtp_with_keyword(bool esmtp, bool tls, bool auth, bool utf8);

/* Formats t as an RFC 5322 3.3 date-time in local time, with English
 * names whatever the locale.  out holds SMTP_DATE_MAX bytes. */
void smtp_rfc5322_date(time_t t, char out[SMTP_DATE_MAX]);

#endif
