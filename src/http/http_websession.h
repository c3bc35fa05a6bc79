/* The settings page's sessions: server-side, in memory, shared by every
 * loop and worker (a mutex guards the table; lookups are a scan of
 * HTTP_WEBSESSIONS_MAX entries with constant-time compares).
 *
 * A session is named by a random id (256 bits, hex) that the browser
 * holds in a cookie, and carries its own CSRF token (256 bits, hex) that
 * every form repeats.  A sign-in form gets an anonymous session (no
 * user) so that the sign-in POST is CSRF-checked too; a successful
 * sign-in ends it and starts a new one with a new id (no session
 * fixation).  Signed-in sessions end after HTTP_WEBSESSION_IDLE_SEC
 * without use, HTTP_WEBSESSION_MAX_SEC after sign-in, or at sign-out;
 * anonymous ones after HTTP_WEBSESSION_ANON_SEC.  When the table is full
 * an expired entry is reused, else the least recently used anonymous
 * one, else the least recently used of all. */
#ifndef TERN_HTTP_WEBSESSION_H
#define TERN_HTTP_WEBSESSION_H

#include <stdbool.h>
#include <time.h>

#include "lib/limits.h"

#define HTTP_WEBSESSION_TOKEN_LEN 64    /* hex characters of an id or a CSRF token */

struct http_websession {
	char id[HTTP_WEBSESSION_TOKEN_LEN + 1];
	char csrf[HTTP_WEBSESSION_TOKEN_LEN + 1];
	char user[ADDRESS_MAX + 1];     /* "" while anonymous */
	bool app_password;              /* signed in with an app password */
};

/* Starts a session for user (NULL: anonymous) and copies it to *out.
 * 0, or -1 when the system has no randomness to give. */
int http_websession_new(const char *user, bool app_password, time_t now, struct http_websession *out);
/* Finds the live session called id (any text; NULL finds nothing), marks
 * it used at now and copies it to *out.  true if found. */
bool http_websession_get(const char *id, time_t now, struct http_websession *out);
/* Ends the session called id, if any. */
void http_websession_end(const char *id);
/* Whether token (NULL: none) is the session's CSRF token. */
bool http_websession_csrf_ok(const struct http_websession *ws, const char *token);
/* Live sessions at now (tests). */
unsigned http_websession_count(time_t now);

#endif
