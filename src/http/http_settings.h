/* The users' settings page (issue 12), on the https listener only:
 *   GET  /settings                        sign-in form, or the settings
 *   POST /settings/login                  address, password (or app password)
 *   POST /settings/logout
 *   POST /settings/app-passwords          create: the password shown once
 *   POST /settings/app-passwords/revoke
 *   GET  /settings/style.css
 * Plain server-rendered HTML without scripts.  Every POST carries the
 * session's CSRF token (http_websession.h); every response has
 * Cache-Control: no-store and a Content-Security-Policy that allows
 * nothing but the page's own stylesheet and forms (HTTP_PAGE_HEADERS).
 *
 * Everything but the stylesheet runs on a worker (sign-in hashes a
 * password; the page reads the directory and the store): the session
 * makes a job on the loop (http_settings_job_new), runs
 * http_settings_work on a worker, and sends the job's reply, after
 * delay_ms for a failed sign-in (the brute-force defence's delay, as
 * IMAP and POP3 wait it: with a loop timer, not in the worker). */
#ifndef TERN_HTTP_SETTINGS_H
#define TERN_HTTP_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "http/http_parse.h"
#include "lib/buf.h"

/* What one response says (http_session.c sends it). */
struct http_reply {
	int status;
	const char *type;               /* Content-Type, or NULL without a body */
	struct buf body;
	char extra[1024];               /* more header fields, CRLF after each */
	bool close;
	bool page;                      /* add HTTP_PAGE_HEADERS */
};

/* The settings page's security headers (OWASP Secure Headers). */
#define HTTP_PAGE_HEADERS                                                                                    \
	"Cache-Control: no-store\r\n"                                                                        \
	"Content-Security-Policy: default-src 'none'; style-src 'self'; form-action 'self'; "                  \
	"frame-ancestors 'none'; base-uri 'none'\r\n"                                                        \
	"X-Content-Type-Options: nosniff\r\n"                                                                \
	"X-Frame-Options: DENY\r\n"                                                                          \
	"Referrer-Policy: no-referrer\r\n"

/* The cookie naming the session: __Host- makes browsers insist on
 * Secure, Path=/ and no Domain (RFC 6265bis 4.1.3.2). */
#define HTTP_SESSION_COOKIE "__Host-tern"

/* Whether path belongs to the settings page. */
bool http_settings_path(const char *path);
/* The stylesheet (on the loop: static text). */
void http_settings_style(struct http_reply *r);

struct http_settings_job;
/* On the loop: copies what the worker needs from the request (its body
 * is the form).  peer: the client's address. */
struct http_settings_job *http_settings_job_new(const struct tern_config *cfg, const struct http_request *req,
                                               const char *body, size_t body_len, const char *peer);
/* On a worker: answers the request into the job. */
void http_settings_work(void *job);
/* On the loop: moves the reply into *r (r->body empty before) and gives
 * how long to wait before sending it. */
void http_settings_job_reply(struct http_settings_job *job, struct http_reply *r, unsigned *delay_ms_out);
/* Wipes (the form held a password) and frees; accepts NULL, leaves NULL. */
void http_settings_job_free(struct http_settings_job **job);

#endif
