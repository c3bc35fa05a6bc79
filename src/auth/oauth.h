/* OAuth 2.0 bearer-token validation: which tokens open which mailbox.
 *
 * A JWT access token (RFC 9068) is checked locally: signature with a key
 * from the JWKS (jwks.h), "iss", "aud", "exp"/"nbf"/"iat" with a clock
 * skew, an optional required scope, and the claim that names the mailbox.
 * A token that is not a JWT (opaque) is sent to the RFC 7662
 * introspection endpoint when one is configured.  The SASL side lives in
 * sasl_oauth.h; this file knows nothing about protocols. */
#ifndef TERN_OAUTH_H
#define TERN_OAUTH_H

#include <stddef.h>
#include <time.h>

#define OAUTH_INTROSPECT_MAX (64 * 1024) /* an introspection response body */

struct oauth_config {           /* filled by the config loader from [oauth] */
	const char *issuer;         /* required: "iss" must equal it exactly */
	const char *audience;       /* required: must appear in "aud" (string or array) */
	const char *user_claim;     /* "email" (default), "preferred_username" or "sub" */
	const char *scope;          /* optional: must appear in "scope" (space-separated) or "scp" */
	const char *jwks_file;      /* one of jwks_file and jwks_url */
	const char *jwks_url;       /* https only */
	const char *ca_file;        /* optional trust store for the https URLs (default: the system's) */
	unsigned jwks_refresh_sec;  /* 0: 3600 */
	unsigned clock_skew_sec;    /* 0: 60 */
	const char *introspection_url;            /* optional, https: for opaque tokens */
	const char *introspection_client_id;      /* HTTP Basic credentials for it */
	const char *introspection_client_secret;
};

struct oauth;                   /* thread-safe verifier */

/* Checks cfg and loads the keys (a JWKS file must load; a URL that fails
 * at start is logged and retried).  Copies what it keeps from cfg.
 * Returns NULL with a malloc'd *error_out on a configuration error.  An
 * issuer, an audience and a key source (or an introspection URL) are
 * required. */
struct oauth *oauth_new(const struct oauth_config *cfg, char **error_out);
void oauth_free(struct oauth **o);

/* Validates token (NUL-terminated, at most JWT_TOKEN_MAX bytes).  Blocking
 * (may fetch keys or call the introspection endpoint): call from a worker.
 * Returns 0 with the mailbox name, lower-cased, in user_out (user_size
 * bytes; at most AUTH_USER_MAX characters), or -1 with a short static
 * reason for the log: "malformed", "too long", "alg none", "alg not
 * allowed", "unsupported alg", "unknown key id", "no key id", "wrong key
 * type", "keys unavailable", "bad signature", "wrong issuer", "wrong
 * audience", "expired", "not yet valid", "no expiry", "missing scope",
 * "no user claim", "bad user claim", "email not verified", "inactive
 * token", "introspection failed". */
int oauth_verify(struct oauth *o, const char *token, char *user_out, size_t user_size,
                 const char **reason_out);

/* Replaces time(NULL) for exp/nbf/iat and the JWKS schedule: for tests. */
void oauth_set_clock(struct oauth *o, time_t (*now)(void *arg), void *arg);

/* The key source, for tests (number of reloads). */
struct jwks *oauth_jwks(struct oauth *o);

#endif
