/* SASL decoders for bearer tokens: OAUTHBEARER (RFC 7628) and XOAUTH2
 * (Google's and Microsoft's form, which Outlook, Thunderbird and Gmail
 * clients send), plus the RFC 7628 3.2.2 error challenge.  Pure functions:
 * no I/O, fuzzed in fuzz/fuzz_sasl_oauth.c.  The token itself is checked
 * by oauth_verify() (oauth.h); the caller must also check that a user
 * named here (authzid or user=) is the mailbox the token names. */
#ifndef TERN_SASL_OAUTH_H
#define TERN_SASL_OAUTH_H

#include <stddef.h>

#include "lib/limits.h"

#define SASL_TOKEN_MAX 16384   /* a bearer token; = JWT_TOKEN_MAX (jwt.h), see there */
/* A whole decoded message: the token plus gs2 header, host, port and
 * separators.  Its base64 form is about 22 KiB, above SMTP_AUTH_LINE_MAX
 * and POP3_AUTH_LINE_MAX (12288): those bound what a client can send. */
#define SASL_OAUTH_MSG_MAX (SASL_TOKEN_MAX + 2048)

#define SASL_OAUTH_DUMMY 1     /* decoder result: the client's lone %x01 after an error challenge */

struct sasl_bearer {
	char user[AUTH_USER_MAX + 1];        /* authzid or user=; "" if OAUTHBEARER gave none */
	char token[SASL_TOKEN_MAX + 1];      /* the b64token after "Bearer " */
};

/* OAUTHBEARER initial client response (RFC 7628 3.1), base64-encoded:
 * gs2-header ("n," or "y," then an optional "a=" saslname, then ",")
 * %x01, key=value pairs each ended by %x01, and a final %x01.  "auth" is
 * required, once, as "Bearer" 1*SP b64token (scheme case-insensitive);
 * host, port and other keys are accepted and ignored.  Channel binding
 * ("p=") is refused.  Returns 0 with *out filled, SASL_OAUTH_DUMMY if the
 * message is the single %x01 a client sends after an error challenge, or
 * -1 if malformed or over a bound.  *out is wiped on failure. */
int sasl_oauthbearer_decode(const char *b64, size_t len, struct sasl_bearer *out);

/* XOAUTH2, base64-encoded: "user=" user %x01 "auth=Bearer " token %x01
 * %x01.  Returns 0 with *out filled (user non-empty), or -1.  *out is
 * wiped on failure. */
int sasl_xoauth2_decode(const char *b64, size_t len, struct sasl_bearer *out);

/* Writes the RFC 7628 3.2.2 error challenge, base64-encoded and
 * NUL-terminated, into out: {"status":STATUS} plus
 * "openid-configuration" when given (NULL for none).  status is
 * "invalid_token", "invalid_request" or "insufficient_scope".  Returns the
 * encoded length, or 0 if out (outsize) is too small; 512 bytes fit any
 * URL up to 256 characters. */
size_t sasl_oauth_error_b64(const char *status, const char *openid_configuration_or_null, char *out,
                            size_t outsize);

#endif
