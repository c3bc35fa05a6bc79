/* The cryptography of DKIM on OpenSSL 3: rsa-sha256 and ed25519-sha256. */
#include "mailauth/dkim_private.h"

#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

void
dkim_sha256(const void *data, size_t len, unsigned char *out)
{
	SHA256(data, len, out);
}

int
dkim_crypto_sign(EVP_PKEY *key, const void *data, size_t len, unsigned char *sig, size_t *siglen_out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char hash[32];
	size_t siglen = DKIM_SIG_BYTES_MAX;
	int ok;

	if (ctx == NULL)
		return -1;
	if (EVP_PKEY_get_id(key) == EVP_PKEY_ED25519) {
		/* RFC 8463 3: the input to Ed25519 is the SHA-256 hash. */
		dkim_sha256(data, len, hash);
		ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
		     EVP_DigestSign(ctx, sig, &siglen, hash, sizeof(hash)) == 1;
	} else {
		ok = EVP_PKEY_get_size(key) <= DKIM_SIG_BYTES_MAX &&
		     EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		     EVP_DigestSign(ctx, sig, &siglen, data, len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	*siglen_out = siglen;
	return ok ? 0 : -1;
}

int
dkim_crypto_verify(EVP_PKEY *key, const void *data, size_t len, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx;
	unsigned char hash[32];
	int r;

	if (EVP_PKEY_get_id(key) == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) < DKIM_RSA_BITS_MIN)
		return -1;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return 0;
	if (EVP_PKEY_get_id(key) == EVP_PKEY_ED25519) {
		dkim_sha256(data, len, hash);
		r = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen, hash, sizeof(hash)) == 1;
	} else {
		r = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		    EVP_DigestVerify(ctx, sig, siglen, data, len) == 1;
	}
	EVP_MD_CTX_free(ctx);
	return r ? 1 : 0;
}

EVP_PKEY *
dkim_crypto_pubkey(const struct dkim_key_record *rec)
{
	const unsigned char *p = rec->p;
	EVP_PKEY *k;

	if (rec->type == DKIM_KEY_ED25519) {
		if (rec->p_len != 32)
			return NULL;
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, rec->p, rec->p_len);
	}
	k = d2i_PUBKEY(NULL, &p, (long)rec->p_len);
	if (k == NULL) {
		/* RFC 6376 3.6.1's text names RSAPublicKey; some publish that. */
		p = rec->p;
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)rec->p_len);
	}
	if (k != NULL && (EVP_PKEY_get_id(k) != EVP_PKEY_RSA || p != rec->p + rec->p_len)) {
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}
