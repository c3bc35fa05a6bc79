/* HTTP/1.1 requests (RFC 9112), parsed from bytes: no socket, so the unit
 * tests and fuzz/fuzz_http_request.c drive it as the session does.
 *
 * Two steps, as the bytes arrive: http_head_end() finds the end of the
 * request line and header section (bounded by HTTP_LINE_MAX and
 * HTTP_HEAD_MAX while it looks), then http_parse_head() splits it into a
 * struct http_request.  The body, if any (Content-Length only, at most
 * HTTP_BODY_MAX), follows the head in the input: the session waits for
 * req.content_length more bytes.  Errors carry the status code to answer
 * with (400, 411, 413, 414, 431, 501, 505); after one the connection is
 * closed, as its framing can no longer be trusted. */
#ifndef TERN_HTTP_PARSE_H
#define TERN_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"

struct http_header {
	const char *name;       /* as sent; compare with strcasecmp */
	const char *value;      /* leading and trailing blanks removed */
};

struct http_request {
	const char *method;     /* "GET", case-sensitive (RFC 9110 9.1) */
	const char *target;     /* as sent: "/path?query" (or an absolute URI's path) */
	const char *path;       /* target up to '?' */
	const char *query;      /* after '?', or "" */
	unsigned version;       /* 10 or 11 */
	struct http_header headers[HTTP_HEADERS_MAX];
	size_t nheaders;
	const char *host;       /* Host, or NULL (HTTP/1.0) */
	uint64_t content_length;
	bool keep_alive;        /* from the version and Connection */
	bool expect_continue;   /* Expect: 100-continue */
	size_t head_len;        /* bytes of the head in the input, blank line included */
	char buf[HTTP_HEAD_MAX + 1];   /* the strings above point here */
};

/* Where http_head_end stopped looking: zero it for each new request. */
struct http_scan {
	size_t pos;             /* bytes looked at */
	size_t line_start;      /* where the line being read starts */
	bool request_line;      /* the request line is behind us: now headers */
};

/* Looks for the blank line ending the head in data[0..len).  *scan is
 * where the previous call stopped, so bytes trickling in are not scanned
 * twice; empty lines before the request line are skipped (RFC 9112 2.2).  Returns 1 with
 * *head_len_out set; 0 if more bytes are needed; -1 with *status_out 414
 * (request line over HTTP_LINE_MAX), 431 (a header line over
 * HTTP_LINE_MAX or the head over HTTP_HEAD_MAX) or 400. */
int http_head_end(const char *data, size_t len, struct http_scan *scan, size_t *head_len_out, int *status_out);

/* Parses a head found by http_head_end (head_len bytes at data).  Returns
 * 0, or -1 with *status_out and *error_out (static text). */
int http_parse_head(const char *data, size_t head_len, struct http_request *req, int *status_out,
                    const char **error_out);

/* Both steps on a buffer that may hold a whole request: 1 (a request,
 * its body at data + req->head_len; *used_out bytes with the body), 0
 * (need more bytes), -1 (*status_out, *error_out). */
int http_parse_request(const char *data, size_t len, struct http_request *req, size_t *used_out,
                       int *status_out, const char **error_out);

/* The first header called name, or NULL. */
const char *http_header_get(const struct http_request *req, const char *name);

/* The value of the query parameter name (case-insensitive) in query,
 * percent-decoded ("+" is a space), in out.  Returns 0, or -1 if it is
 * absent, too long for out, or decodes to a NUL or control byte. */
int http_query_get(const char *query, const char *name, char *out, size_t outsize);

/* The value of the cookie called name (case-sensitive, RFC 6265 5.4) in
 * the request's Cookie header fields, without DQUOTEs, into out.
 * Returns 0, or -1 if absent or too long for out. */
int http_cookie_get(const struct http_request *req, const char *name, char *out, size_t outsize);

/* The reason phrase of status ("Not Found"). */
const char *http_reason(int status);

#endif
