/* The two HTTPS requests OAuth needs, over libcurl: fetching a JWKS
 * document (GET) and RFC 7662 token introspection (POST).  https only,
 * redirects included; bodies bounded; blocking (call from a worker). */
#ifndef TERN_OAUTH_HTTP_H
#define TERN_OAUTH_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define OAUTH_HTTP_TIMEOUT_SEC   10  /* whole request; an identity provider answers in well under a second */
#define OAUTH_HTTP_REDIRECTS_MAX  3

/* True if url starts with "https://" (ASCII case-insensitive) and has a
 * host after it. */
bool oauth_http_url_ok(const char *url);

/* GETs url (post_body NULL) or POSTs post_body as
 * application/x-www-form-urlencoded.  userpwd, if not NULL, is sent as
 * HTTP Basic "user:password".  ca_file, if not NULL, replaces the system
 * trust store.  The response must be 200 and at most max_body bytes.
 * Returns 0 with *body_out (malloc'd, NUL-terminated, caller frees) and
 * *len_out, or -1 with a readable reason copied into err (errsize). */
int oauth_http_request(const char *url, const char *ca_file, const char *userpwd,
                       const char *post_body, size_t max_body,
                       char **body_out, size_t *len_out, char *err, size_t errsize);

/* Percent-encodes s for a form body (RFC 3986 unreserved kept).  Returns
 * a malloc'd string. */
char *oauth_http_form_escape(const char *s);

#endif
