/* JSON Web Signature, compact serialisation (RFC 7515 7.1), as used by
 * OAuth 2.0 access tokens (RFC 9068): parsing and signature checking.
 * Pure functions: no I/O, no clock (the claims policy lives in oauth.c),
 * fuzzed in fuzz/fuzz_jwt.c.
 *
 * Only asymmetric algorithms exist here: RS256/384/512 (RFC 7518 3.3),
 * ES256/384 (RFC 7518 3.4) and EdDSA (RFC 8037).  "none" and the HMAC
 * family are refused on purpose: a mail server holds no shared secret
 * with the identity provider, and accepting them is the classic JWT
 * downgrade. */
#ifndef TERN_JWT_H
#define TERN_JWT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <openssl/types.h>

#define JWT_TOKEN_MAX     16384  /* a whole compact JWS; RFC 9068 tokens are 1-4 KiB, Entra ID with groups ~8 KiB */
#define JWT_JSON_DEPTH_MAX   16  /* nesting of any JSON we parse (claims, JWKS, introspection) */
#define JWT_KID_MAX         256  /* a "kid" header or JWK member; real ones are < 100 */

enum jwt_alg {
	JWT_ALG_UNKNOWN = 0,
	JWT_ALG_NONE,                /* recognised only to be refused by name */
	JWT_ALG_HMAC,                /* HS256/384/512: refused */
	JWT_ALG_RS256, JWT_ALG_RS384, JWT_ALG_RS512,
	JWT_ALG_ES256, JWT_ALG_ES384,
	JWT_ALG_EDDSA,
};

/* The key type an algorithm needs (RFC 7518 6.1 "kty"). */
enum jwt_kty { JWT_KTY_NONE = 0, JWT_KTY_RSA, JWT_KTY_EC, JWT_KTY_OKP };

/* A parsed token.  header and claims are owned (json_decref'd by
 * jwt_clear); kid points into header; signing_input points into the
 * caller's token string, which must outlive the struct. */
struct jwt {
	json_t *header;
	json_t *claims;
	enum jwt_alg alg;
	const char *alg_name;        /* as written in the header */
	const char *kid;             /* NULL when the header has none */
	const char *signing_input;   /* "header.payload", not NUL-terminated */
	size_t signing_len;
	unsigned char *sig;          /* decoded signature, owned */
	size_t sig_len;
};

/* Maps a JWS "alg" name to its enum (case-sensitive, RFC 7515 4.1.1). */
enum jwt_alg jwt_alg_from_name(const char *name);
/* The kty an algorithm needs; JWT_KTY_NONE for none/HMAC/unknown. */
enum jwt_kty jwt_alg_kty(enum jwt_alg alg);
/* The curve name ("P-256", "P-384") an EC algorithm needs, else NULL. */
const char *jwt_alg_curve(enum jwt_alg alg);

/* Strict base64url without padding (RFC 7515 2, RFC 4648 5): rejects '=',
 * whitespace, the standard alphabet's '+' and '/', a length of 1 mod 4 and
 * non-zero trailing bits (so every value has exactly one encoding).
 * Returns the decoded length, or -1 if malformed or out (outsize) is too
 * small.  An empty input decodes to 0 bytes. */
long jwt_b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t outsize);
/* Decoded size bound for inlen base64url characters. */
#define JWT_B64URL_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/* Parses len bytes of JSON into *out (owned by the caller) after checking
 * that nesting stays within max_depth.  Duplicate object keys, NUL in
 * strings and trailing garbage are refused.  Returns 0 or -1. */
int jwt_json_load(const void *buf, size_t len, size_t max_depth, json_t **out);

/* Splits and decodes a compact JWS of len bytes (at most JWT_TOKEN_MAX):
 * three base64url parts, a JSON-object header with a string "alg", no
 * "crit", a "typ" (if any) of JWT or at+jwt, a JSON-object payload.  The
 * algorithm is recorded, not judged: the caller refuses none/HMAC/unknown.
 * Returns 0, or -1 with *reason_out = "malformed" (static).  On success
 * the caller must jwt_clear(out); on failure nothing is left to free. */
int jwt_parse(const char *token, size_t len, struct jwt *out, const char **reason_out);
/* Frees what jwt_parse allocated; safe on a zeroed or cleared struct. */
void jwt_clear(struct jwt *jwt);

/* Checks the signature of a parsed token with key, which the caller has
 * matched to jwt->alg (kty and curve).  ES signatures are raw r||s
 * (RFC 7518 3.4) and are converted to DER here.  Returns 0 if valid, -1
 * otherwise ("bad signature").  Leaves the OpenSSL error queue empty. */
int jwt_verify_signature(const struct jwt *jwt, EVP_PKEY *key, const char **reason_out);

#endif
