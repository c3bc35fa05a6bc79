/* Compact JWS parsing and signature checking (RFC 7515, 7518, 8037).
 * Every length is checked before it is used; the token itself is never
 * copied, only its decoded parts. */
#include "auth/jwt.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "lib/xalloc.h"

static const struct {
	const char *name;
	enum jwt_alg alg;
} jwt_algs[] = {
	{ "none", JWT_ALG_NONE },
	{ "HS256", JWT_ALG_HMAC }, { "HS384", JWT_ALG_HMAC }, { "HS512", JWT_ALG_HMAC },
	{ "RS256", JWT_ALG_RS256 }, { "RS384", JWT_ALG_RS384 }, { "RS512", JWT_ALG_RS512 },
	{ "ES256", JWT_ALG_ES256 }, { "ES384", JWT_ALG_ES384 },
	{ "EdDSA", JWT_ALG_EDDSA },
};

enum jwt_alg
jwt_alg_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(jwt_algs) / sizeof(jwt_algs[0]); i++)
		if (strcmp(name, jwt_algs[i].name) == 0)
			return jwt_algs[i].alg;
	/* "None", "NONE": not valid names, but say what they are trying. */
	if (strcasecmp(name, "none") == 0)
		return JWT_ALG_NONE;
	return JWT_ALG_UNKNOWN;
}

enum jwt_kty
jwt_alg_kty(enum jwt_alg alg)
{
	switch (alg) {
	case JWT_ALG_RS256: case JWT_ALG_RS384: case JWT_ALG_RS512:
		return JWT_KTY_RSA;
	case JWT_ALG_ES256: case JWT_ALG_ES384:
		return JWT_KTY_EC;
	case JWT_ALG_EDDSA:
		return JWT_KTY_OKP;
	default:
		return JWT_KTY_NONE;
	}
}

const char *
jwt_alg_curve(enum jwt_alg alg)
{
	if (alg == JWT_ALG_ES256)
		return "P-256";
	if (alg == JWT_ALG_ES384)
		return "P-384";
	return NULL;
}

static const EVP_MD *
jwt_alg_md(enum jwt_alg alg)
{
	switch (alg) {
	case JWT_ALG_RS256: case JWT_ALG_ES256:
		return EVP_sha256();
	case JWT_ALG_RS384: case JWT_ALG_ES384:
		return EVP_sha384();
	case JWT_ALG_RS512:
		return EVP_sha512();
	default:
		return NULL;            /* EdDSA hashes internally */
	}
}

static int
b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long
jwt_b64url_decode(const char *in, size_t inlen, unsigned char *out, size_t outsize)
{
	size_t o = 0, i = 0;
	unsigned int acc = 0;
	int bits = 0;

	if (inlen % 4 == 1)
		return -1;
	for (i = 0; i < inlen; i++) {
		int v = b64url_value((unsigned char)in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= outsize)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero, or two strings would decode alike. */
	if (acc != 0)
		return -1;
	return (long)o;
}

/* Walks JSON text counting [ and { outside strings; jansson itself allows
 * 2048 levels, far more than a token or key set needs. */
static bool
json_depth_ok(const unsigned char *p, size_t len, size_t max_depth)
{
	size_t depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return false;
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return true;
}

int
jwt_json_load(const void *buf, size_t len, size_t max_depth, json_t **out)
{
	json_error_t err;

	*out = NULL;
	if (!json_depth_ok(buf, len, max_depth))
		return -1;
	*out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err);
	return *out != NULL ? 0 : -1;
}

/* Decodes one base64url part holding a JSON object. */
static json_t *
jwt_decode_json_part(const char *p, size_t len)
{
	size_t max = JWT_B64URL_DECODED_MAX(len);
	unsigned char *buf;
	json_t *j = NULL;
	long n;

	if (len == 0)
		return NULL;
	buf = xmalloc(max);
	n = jwt_b64url_decode(p, len, buf, max);
	if (n > 0 && jwt_json_load(buf, (size_t)n, JWT_JSON_DEPTH_MAX, &j) == 0 && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	free(buf);
	return j;
}

/* RFC 9068 2.1: "at+jwt"; RFC 7519 5.1: "JWT"; media-type forms allowed. */
static bool
jwt_typ_ok(const char *typ)
{
	if (strncasecmp(typ, "application/", 12) == 0)
		typ += 12;
	return strcasecmp(typ, "JWT") == 0 || strcasecmp(typ, "at+jwt") == 0;
}

static int
jwt_parse_header(struct jwt *out)
{
	json_t *alg = json_object_get(out->header, "alg");
	json_t *kid = json_object_get(out->header, "kid");
	json_t *typ = json_object_get(out->header, "typ");

	if (!json_is_string(alg) || json_string_length(alg) == 0)
		return -1;
	/* RFC 7515 4.1.11: extensions we do not understand must fail. */
	if (json_object_get(out->header, "crit") != NULL)
		return -1;
	if (typ != NULL && (!json_is_string(typ) || !jwt_typ_ok(json_string_value(typ))))
		return -1;
	if (kid != NULL) {
		if (!json_is_string(kid) || json_string_length(kid) == 0 || json_string_length(kid) > JWT_KID_MAX)
			return -1;
		out->kid = json_string_value(kid);
	}
	out->alg_name = json_string_value(alg);
	out->alg = jwt_alg_from_name(out->alg_name);
	return 0;
}

int
jwt_parse(const char *token, size_t len, struct jwt *out, const char **reason_out)
{
	const char *dot1, *dot2, *end = token + len;
	size_t sig_b64_len;
	long n;

	memset(out, 0, sizeof(*out));
	*reason_out = "malformed";
	if (token == NULL || len == 0 || len > JWT_TOKEN_MAX)
		return -1;
	dot1 = memchr(token, '.', len);
	if (dot1 == NULL)
		return -1;
	dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
	if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
		return -1;              /* not three parts (a JWE has five) */
	out->header = jwt_decode_json_part(token, (size_t)(dot1 - token));
	if (out->header == NULL || jwt_parse_header(out) == -1)
		goto fail;
	out->claims = jwt_decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (out->claims == NULL)
		goto fail;
	sig_b64_len = (size_t)(end - dot2 - 1);
	out->sig = xmalloc(JWT_B64URL_DECODED_MAX(sig_b64_len) + 1);
	n = jwt_b64url_decode(dot2 + 1, sig_b64_len, out->sig, JWT_B64URL_DECODED_MAX(sig_b64_len));
	if (n < 0)
		goto fail;
	out->sig_len = (size_t)n;
	out->signing_input = token;
	out->signing_len = (size_t)(dot2 - token);
	*reason_out = NULL;
	return 0;
fail:
	jwt_clear(out);
	return -1;
}

void
jwt_clear(struct jwt *jwt)
{
	json_decref(jwt->header);
	json_decref(jwt->claims);
	free(jwt->sig);
	memset(jwt, 0, sizeof(*jwt));
}

/* Raw r||s (each half the curve's byte size) to a DER ECDSA-Sig-Value.
 * Returns a malloc'd buffer in *der_out and its length, or -1. */
static long
jwt_ecdsa_raw_to_der(const unsigned char *sig, size_t sig_len, size_t half, unsigned char **der_out)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	int n;

	*der_out = NULL;
	if (sig_len != 2 * half)
		return -1;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, (int)half, NULL);
	s = BN_bin2bn(sig + half, (int)half, NULL);
	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(es);
		return -1;
	}
	n = i2d_ECDSA_SIG(es, der_out);
	ECDSA_SIG_free(es);
	return n > 0 ? n : -1;
}

/* Defence in depth: the key set already matched kty and curve. */
static bool
jwt_key_fits(enum jwt_alg alg, EVP_PKEY *key)
{
	switch (jwt_alg_kty(alg)) {
	case JWT_KTY_RSA:
		return EVP_PKEY_is_a(key, "RSA");
	case JWT_KTY_EC:
		return EVP_PKEY_is_a(key, "EC") && EVP_PKEY_get_bits(key) == (alg == JWT_ALG_ES256 ? 256 : 384);
	case JWT_KTY_OKP:
		return EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448");
	default:
		return false;
	}
}

int
jwt_verify_signature(const struct jwt *jwt, EVP_PKEY *key, const char **reason_out)
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char *der = NULL;
	const unsigned char *sig = jwt->sig;
	size_t sig_len = jwt->sig_len;
	int ok = 0;

	*reason_out = "bad signature";
	if (key == NULL || !jwt_key_fits(jwt->alg, key))
		goto out;
	if (jwt_alg_kty(jwt->alg) == JWT_KTY_EC) {
		size_t half = jwt->alg == JWT_ALG_ES256 ? 32 : 48;
		long n = jwt_ecdsa_raw_to_der(sig, sig_len, half, &der);

		if (n < 0)
			goto out;
		sig = der;
		sig_len = (size_t)n;
	}
	ctx = EVP_MD_CTX_new();
	if (ctx == NULL)
		goto out;
	if (EVP_DigestVerifyInit(ctx, NULL, jwt_alg_md(jwt->alg), NULL, key) != 1)
		goto out;
	ok = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jwt->signing_input,
	                      jwt->signing_len) == 1;
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	/* A failed check leaves errors queued; a TLS session on this thread
	 * must not find them later in SSL_get_error(). */
	ERR_clear_error();
	if (!ok)
		return -1;
	*reason_out = NULL;
	return 0;
}
