/* Fuzzes the JWT/JWKS parsers and the token policy.  The first byte picks
 * what the rest of the input is:
 *   0  a token for oauth_verify() against a fixed JWKS (RSA, P-256,
 *      Ed25519 keys made at start-up);
 *   1  "header JSON\nclaims JSON", signed here with one of those keys (the
 *      second byte picks which), so the claims checks behind the signature
 *      are reached too;
 *   2  a JWKS document for jwks_set_parse() and jwks_set_find();
 *   3  base64url for jwt_b64url_decode().
 * A success must produce a sane mailbox name; nothing may crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/oauth.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "../tests/unit/jwt_signer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NOW 1700000000

static struct oauth *oauth;
static struct tkey keys[3];
static time_t fuzz_now = FUZZ_NOW;

static time_t
fuzz_clock(void *arg)
{
	return *(time_t *)arg;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/tern-fuzz-jwks-XXXXXX";
	struct oauth_config cfg = {
		.issuer = "https://id.example.com/", .audience = "mail.example.com", .jwks_file = path,
		.scope = NULL,
	};
	char *doc, *err = NULL;
	int fd;

	log_set_level(LOG_ERROR);
	keys[0] = ts_key_new("RS256", "rsa1");
	keys[1] = ts_key_new("ES256", "ec1");
	keys[2] = ts_key_new("EdDSA", "ed1");
	doc = ts_jwks(keys, 3);
	fd = mkstemp(path);
	if (fd == -1 || write(fd, doc, strlen(doc)) != (ssize_t)strlen(doc))
		abort();
	close(fd);
	free(doc);
	oauth = oauth_new(&cfg, &err);
	unlink(path);
	if (oauth == NULL)
		abort();
	oauth_set_clock(oauth, fuzz_clock, &fuzz_now);
	return 0;
}

static void
check(const char *token)
{
	char user[AUTH_USER_MAX + 1];
	const char *reason = NULL;
	size_t len;

	if (oauth_verify(oauth, token, user, sizeof(user), &reason) == 0) {
		len = strlen(user);
		if (reason != NULL || len == 0 || len > AUTH_USER_MAX)
			abort();
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)user[i] <= ' ' || (user[i] >= 'A' && user[i] <= 'Z'))
				abort();
	} else if (reason == NULL || user[0] != '\0') {
		abort();
	}
}

static void
fuzz_signed(const uint8_t *data, size_t size)
{
	const uint8_t *nl;
	char *hdr, *claims, *tok;

	if (size < 1 || size > 8192)
		return;
	nl = memchr(data + 1, '\n', size - 1);
	if (nl == NULL)
		return;
	hdr = strndup((const char *)data + 1, (size_t)(nl - data - 1));
	claims = strndup((const char *)nl + 1, size - (size_t)(nl - data) - 1);
	tok = ts_sign(&keys[data[0] % 3], hdr, claims);
	check(tok);
	free(tok);
	free(hdr);
	free(claims);
}

static void
fuzz_jwks(const uint8_t *data, size_t size)
{
	static const enum jwt_alg algs[] = { JWT_ALG_RS256, JWT_ALG_ES256, JWT_ALG_ES384, JWT_ALG_EDDSA };
	struct jwks_set *set;
	const char *err, *reason;

	if (jwks_set_parse(data, size, &set, &err) == -1) {
		if (err == NULL)
			abort();
		return;
	}
	if (set->count == 0 || set->count > JWKS_KEYS_MAX)
		abort();
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		const struct jwk *k = jwks_set_find(set, NULL, algs[i], &reason);

		if (k != NULL && (k->pkey == NULL || jwks_set_find(set, k->kid[0] ? k->kid : NULL, algs[i], &reason) == NULL))
			abort();
		jwks_set_find(set, "rsa1", algs[i], &reason);
	}
	jwks_set_free(&set);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		s = strndup((const char *)data + 1, size - 1);
		check(s);
		free(s);
		break;
	case 1:
		fuzz_signed(data + 1, size - 1);
		break;
	case 2:
		fuzz_jwks(data + 1, size - 1);
		break;
	default: {
		unsigned char out[64];
		long n = jwt_b64url_decode((const char *)data + 1, size - 1, out, sizeof(out));

		if (n > (long)sizeof(out))
			abort();
		break;
	}
	}
	return 0;
}
