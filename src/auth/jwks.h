/* JSON Web Key Sets (RFC 7517): parsing public keys into OpenSSL keys, and
 * a cached, refreshed set loaded from a file or an https URL.
 *
 * The cache: a set is loaded at start, reloaded every refresh_sec, and
 * kept when a reload fails (the identity provider being down must not lock
 * everyone out).  A token naming an unknown "kid" triggers a reload at most
 * once per JWKS_MISS_REFETCH_SEC, so key rotation works without letting a
 * client make us fetch at will.  Thread-safe: many workers may verify at
 * once; one of them fetches while the others keep using the old set. */
#ifndef TERN_JWKS_H
#define TERN_JWKS_H

#include <stddef.h>
#include <time.h>

#include "auth/jwt.h"

#define JWKS_DOC_MAX          (1024 * 1024) /* a JWKS document; Google's and Entra ID's are < 10 KiB */
#define JWKS_KEYS_MAX         64   /* keys in one set; providers publish 2-10 */
#define JWKS_RSA_BITS_MIN     2048 /* RFC 7518 3.3: 2048 or larger */
#define JWKS_RSA_BITS_MAX     8192 /* bounds the cost of one verification */
#define JWKS_MISS_REFETCH_SEC 60   /* unknown kid: at most one reload a minute */
#define JWKS_RETRY_SEC        60   /* after a failed reload, wait this long */

/* One public key.  kid is "" when the JWK has none; alg is
 * JWT_ALG_UNKNOWN when the JWK does not restrict it. */
struct jwk {
	char kid[JWT_KID_MAX + 1];
	enum jwt_kty kty;
	char crv[8];                 /* "P-256", "P-384", "Ed25519", "Ed448" or "" */
	enum jwt_alg alg;
	EVP_PKEY *pkey;
};

/* An immutable parsed set. */
struct jwks_set {
	size_t count;
	struct jwk keys[];
};

/* Parses a JWKS document (at most JWKS_DOC_MAX bytes, nesting bounded by
 * JWT_JSON_DEPTH_MAX, at most JWKS_KEYS_MAX entries).  Keys that are not
 * for signatures ("use" other than "sig"), of a type or curve we do not
 * support, weak (RSA < 2048 bits) or invalid are skipped; a set with no
 * usable key is an error.  Returns 0 with *out (free with jwks_set_free),
 * or -1 with a static reason in *error_out. */
int jwks_set_parse(const void *doc, size_t len, struct jwks_set **out, const char **error_out);
void jwks_set_free(struct jwks_set **set);

/* Picks the key for a token signed with alg and naming kid (NULL if the
 * token has none).  With a kid: the key with that kid, which must fit alg
 * (kty, curve, and the JWK's own "alg" if it has one).  Without: the only
 * key of the set that fits alg.  Returns the key (owned by set) or NULL
 * with *reason_out = "unknown key id", "wrong key type" or "no key id". */
const struct jwk *jwks_set_find(const struct jwks_set *set, const char *kid, enum jwt_alg alg,
                                const char **reason_out);

struct jwks;

/* Creates a cached set from exactly one of file (a path) or url (https
 * only; ca_file, if not NULL, is the trust store for it).  A file that
 * cannot be read or parsed is an error (a configuration mistake); a URL
 * that cannot be fetched at start is only logged: verification answers
 * "keys unavailable" until a fetch succeeds (retried every
 * JWKS_RETRY_SEC).  refresh_sec 0 means 3600.  Returns NULL with a
 * malloc'd *error_out on error. */
struct jwks *jwks_new(const char *file, const char *url, const char *ca_file, unsigned refresh_sec,
                      char **error_out);
void jwks_free(struct jwks **k);

/* Checks the signature of jwt with the matching key, reloading the set
 * when it is due or (rate-limited) when the kid is unknown.  Blocking.
 * Returns 0, or -1 with a static reason: "unknown key id", "no key id",
 * "wrong key type", "keys unavailable", "bad signature". */
int jwks_verify(struct jwks *k, const struct jwt *jwt, const char **reason_out);

/* Number of reload attempts so far (for tests and the log). */
unsigned jwks_fetch_count(struct jwks *k);

/* Replaces the monotonic clock of the refresh schedule, for tests; the
 * current set counts as loaded at the new clock's present time. */
void jwks_set_clock(struct jwks *k, time_t (*now)(void *arg), void *arg);

#endif
