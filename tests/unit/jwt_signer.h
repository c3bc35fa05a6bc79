/* Test helper for the JWT and OAuth tests: real keys made with OpenSSL,
 * their public JWKs, and a signer for compact JWS tokens.  Everything
 * here is static: include it from one test file. */
#ifndef TERN_TEST_JWT_SIGNER_H
#define TERN_TEST_JWT_SIGNER_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define TS_FN static __attribute__((unused))

struct tkey {
	EVP_PKEY *pkey;
	const char *alg;             /* what the signer writes and uses */
	char kid[64];
};

TS_FN void
ts_b64url(const unsigned char *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, o = 0;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned t = ((unsigned)in[i] << 16) | ((unsigned)in[i + 1] << 8) | in[i + 2];

		out[o++] = a[(t >> 18) & 63];
		out[o++] = a[(t >> 12) & 63];
		out[o++] = a[(t >> 6) & 63];
		out[o++] = a[t & 63];
	}
	if (i < len) {
		unsigned t = (unsigned)in[i] << 16;

		if (i + 1 < len)
			t |= (unsigned)in[i + 1] << 8;
		out[o++] = a[(t >> 18) & 63];
		out[o++] = a[(t >> 12) & 63];
		if (i + 1 < len)
			out[o++] = a[(t >> 6) & 63];
	}
	out[o] = '\0';
}

/* A malloc'd base64url string of len bytes. */
TS_FN char *
ts_b64url_dup(const void *in, size_t len)
{
	char *out = malloc(len * 4 / 3 + 4);

	ts_b64url(in, len, out);
	return out;
}

TS_FN char *
ts_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

TS_FN struct tkey
ts_key_new(const char *alg, const char *kid)
{
	struct tkey k = { .alg = alg };

	if (strncmp(alg, "RS", 2) == 0)
		k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(alg, "ES256") == 0)
		k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(alg, "ES384") == 0)
		k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(alg, "EdDSA") == 0)
		k.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k.pkey == NULL)
		abort();
	snprintf(k.kid, sizeof(k.kid), "%s", kid != NULL ? kid : "");
	return k;
}

TS_FN void
ts_key_free(struct tkey *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

TS_FN char *
ts_bn_b64(EVP_PKEY *p, const char *name, int pad)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	int n;

	if (EVP_PKEY_get_bn_param(p, name, &bn) != 1)
		abort();
	n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	BN_free(bn);
	return ts_b64url_dup(buf, (size_t)n);
}

/* The public JWK of k, as a malloc'd JSON object.  extra is spliced in
 * (e.g. "\"use\":\"sig\",") and may be "". */
TS_FN char *
ts_jwk(const struct tkey *k, const char *extra)
{
	char kidm[96] = "";
	char *j;

	if (k->kid[0] != '\0')
		snprintf(kidm, sizeof(kidm), "\"kid\":\"%s\",", k->kid);
	if (EVP_PKEY_is_a(k->pkey, "RSA")) {
		char *n = ts_bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N, 0), *e = ts_bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E, 0);

		j = ts_printf("{%s%s\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"}", kidm, extra, n, e);
		free(n);
		free(e);
	} else if (EVP_PKEY_is_a(k->pkey, "EC")) {
		int size = EVP_PKEY_get_bits(k->pkey) / 8;
		char *x = ts_bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, size);
		char *y = ts_bn_b64(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, size);

		j = ts_printf("{%s%s\"kty\":\"EC\",\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"}", kidm, extra,
		              size == 32 ? "P-256" : "P-384", x, y);
		free(x);
		free(y);
	} else {
		unsigned char raw[64];
		size_t len = sizeof(raw);
		char *x;

		EVP_PKEY_get_raw_public_key(k->pkey, raw, &len);
		x = ts_b64url_dup(raw, len);
		j = ts_printf("{%s%s\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"}", kidm, extra, x);
		free(x);
	}
	return j;
}

/* {"keys":[jwk(k[0]), ...]} */
TS_FN char *
ts_jwks(struct tkey *keys, size_t n)
{
	char *doc = ts_printf("{\"keys\":[");

	for (size_t i = 0; i < n; i++) {
		char *jwk = ts_jwk(&keys[i], ""), *d = ts_printf("%s%s%s", doc, i > 0 ? "," : "", jwk);

		free(jwk);
		free(doc);
		doc = d;
	}
	char *d = ts_printf("%s]}", doc);

	free(doc);
	return d;
}

/* Signs signing_input with k (k->alg decides how): raw JWS signature. */
TS_FN size_t
ts_sign_raw(const struct tkey *k, const char *input, unsigned char *sig, size_t size)
{
	const EVP_MD *md = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char der[256];
	size_t len = size;

	if (strcmp(k->alg, "RS256") == 0 || strcmp(k->alg, "ES256") == 0)
		md = EVP_sha256();
	else if (strcmp(k->alg, "ES384") == 0 || strcmp(k->alg, "RS384") == 0)
		md = EVP_sha384();
	else if (strcmp(k->alg, "RS512") == 0)
		md = EVP_sha512();
	if (strncmp(k->alg, "ES", 2) == 0) {
		size_t dlen = sizeof(der), half = EVP_PKEY_get_bits(k->pkey) == 256 ? 32 : 48;
		const unsigned char *p = der;
		ECDSA_SIG *es;

		if (EVP_DigestSignInit(ctx, NULL, md, NULL, k->pkey) != 1 ||
		    EVP_DigestSign(ctx, der, &dlen, (const unsigned char *)input, strlen(input)) != 1)
			abort();
		es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
		BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)half);
		BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + half, (int)half);
		ECDSA_SIG_free(es);
		len = 2 * half;
	} else if (EVP_DigestSignInit(ctx, NULL, md, NULL, k->pkey) != 1 ||
	           EVP_DigestSign(ctx, sig, &len, (const unsigned char *)input, strlen(input)) != 1) {
		abort();
	}
	EVP_MD_CTX_free(ctx);
	return len;
}

/* header_json.claims_json.signature; header NULL means
 * {"alg":k->alg,"typ":"JWT","kid":k->kid}.  Returns a malloc'd token. */
TS_FN char *
ts_sign(const struct tkey *k, const char *header_json, const char *claims_json)
{
	char *hdr = header_json != NULL ? strdup(header_json) :
	            k->kid[0] != '\0' ? ts_printf("{\"alg\":\"%s\",\"typ\":\"JWT\",\"kid\":\"%s\"}", k->alg, k->kid) :
	            ts_printf("{\"alg\":\"%s\",\"typ\":\"JWT\"}", k->alg);
	char *h = ts_b64url_dup(hdr, strlen(hdr)), *c = ts_b64url_dup(claims_json, strlen(claims_json));
	char *input = ts_printf("%s.%s", h, c), *s, *tok;
	unsigned char sig[1024];
	size_t n = ts_sign_raw(k, input, sig, sizeof(sig));

	s = ts_b64url_dup(sig, n);
	tok = ts_printf("%s.%s", input, s);
	free(hdr);
	free(h);
	free(c);
	free(input);
	free(s);
	return tok;
}

/* An HS256 token keyed with secret (the key-confusion attack). */
TS_FN char *
ts_sign_hs256(const char *header_json, const char *claims_json, const void *secret, size_t secret_len)
{
	char *h = ts_b64url_dup(header_json, strlen(header_json)), *c = ts_b64url_dup(claims_json, strlen(claims_json));
	char *input = ts_printf("%s.%s", h, c), *s, *tok;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mlen = 0;

	HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)input, strlen(input), mac, &mlen);
	s = ts_b64url_dup(mac, mlen);
	tok = ts_printf("%s.%s", input, s);
	free(h);
	free(c);
	free(input);
	free(s);
	return tok;
}

#endif
