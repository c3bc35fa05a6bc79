/* Tests for src/auth/jwt.c and the key-set parser of src/auth/jwks.c:
 * strict base64url, compact JWS splitting, JWK to OpenSSL keys for every
 * supported type (keys generated here), key selection, and real
 * signatures checked for each algorithm. */
#include <stdlib.h>
#include <string.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "jwt_signer.h"
#include "test.h"

static void
test_b64url(void)
{
	unsigned char out[64];

	test_begin("jwt: base64url strict decoding");
	test_assert_inteq(jwt_b64url_decode("", 0, out, sizeof(out)), 0);
	test_assert_inteq(jwt_b64url_decode("Zg", 2, out, sizeof(out)), 1);
	test_assert(out[0] == 'f');
	test_assert_inteq(jwt_b64url_decode("Zm8", 3, out, sizeof(out)), 2);
	test_assert_inteq(jwt_b64url_decode("Zm9v", 4, out, sizeof(out)), 3);
	test_assert(memcmp(out, "foo", 3) == 0);
	test_assert_inteq(jwt_b64url_decode("-_-_", 4, out, sizeof(out)), 3);
	test_assert(out[0] == 0xfb && out[1] == 0xff && out[2] == 0xbf);
	/* padding, standard alphabet, whitespace, a lone char, dirty bits */
	test_assert_inteq(jwt_b64url_decode("Zg==", 4, out, sizeof(out)), -1);
	test_assert_inteq(jwt_b64url_decode("+/+/", 4, out, sizeof(out)), -1);
	test_assert_inteq(jwt_b64url_decode("Zm 9v", 5, out, sizeof(out)), -1);
	test_assert_inteq(jwt_b64url_decode("Zm9vY", 5, out, sizeof(out)), -1);
	test_assert_inteq(jwt_b64url_decode("Zh", 2, out, sizeof(out)), -1);
	test_assert_inteq(jwt_b64url_decode("Zm9", 3, out, sizeof(out)), -1);
	test_assert_inteq(jwt_b64url_decode("Zm\0v", 4, out, sizeof(out)), -1);
	/* output bound */
	test_assert_inteq(jwt_b64url_decode("Zm9v", 4, out, 2), -1);
	test_assert_inteq(jwt_b64url_decode("Zm9v", 4, out, 3), 3);
	test_end();
}

static char *
b64s(const char *s)
{
	return ts_b64url_dup(s, strlen(s));
}

/* header.payload.sig from plain JSON and a literal signature part. */
static char *
tok3(const char *h, const char *p, const char *sig)
{
	char *hb = b64s(h), *pb = b64s(p), *t = ts_printf("%s.%s.%s", hb, pb, sig);

	free(hb);
	free(pb);
	return t;
}

static int
parse(const char *t)
{
	struct jwt j;
	const char *reason;
	int r = jwt_parse(t, strlen(t), &j, &reason);

	if (r == 0)
		jwt_clear(&j);
	else if (strcmp(reason, "malformed") != 0)
		return -2;
	return r;
}

static void
test_parse(void)
{
	struct jwt j;
	const char *reason;
	char *t;

	test_begin("jwt: parse a compact JWS");
	t = tok3("{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"at+jwt\"}", "{\"sub\":\"x\"}", "AQID");
	test_assert_inteq(jwt_parse(t, strlen(t), &j, &reason), 0);
	test_assert_inteq(j.alg, JWT_ALG_RS256);
	test_assert_streq(j.kid, "k1");
	test_assert_inteq(j.sig_len, 3);
	test_assert(j.signing_len == (size_t)(strrchr(t, '.') - t));
	test_assert_streq(json_string_value(json_object_get(j.claims, "sub")), "x");
	jwt_clear(&j);
	jwt_clear(&j);              /* twice is harmless */
	free(t);
	t = tok3("{\"alg\":\"EdDSA\"}", "{}", "");
	test_assert_inteq(jwt_parse(t, strlen(t), &j, &reason), 0);
	test_assert(j.kid == NULL && j.alg == JWT_ALG_EDDSA && j.sig_len == 0);
	jwt_clear(&j);
	free(t);
	test_assert_inteq(jwt_alg_from_name("none"), JWT_ALG_NONE);
	test_assert_inteq(jwt_alg_from_name("NoNe"), JWT_ALG_NONE);
	test_assert_inteq(jwt_alg_from_name("HS256"), JWT_ALG_HMAC);
	test_assert_inteq(jwt_alg_from_name("rs256"), JWT_ALG_UNKNOWN);
	test_assert_inteq(jwt_alg_from_name("PS256"), JWT_ALG_UNKNOWN);
	test_end();

	test_begin("jwt: malformed tokens");
	test_assert_inteq(parse(""), -1);
	test_assert_inteq(parse("."), -1);
	test_assert_inteq(parse(".."), -1);
	test_assert_inteq(parse("a.b"), -1);
	test_assert_inteq(parse("a.b.c.d.e"), -1);
	t = tok3("{\"alg\":\"RS256\"}", "{}", "AQID");
	test_assert_inteq(parse(t), 0);
	t[strlen(t) - 1] = '=';
	test_assert_inteq(parse(t), -1);                /* bad base64url in the signature */
	t[0] = '+';
	test_assert_inteq(parse(t), -1);
	free(t);
#define BAD(h, p) do { t = tok3(h, p, "AQID"); test_assert_inteq(parse(t), -1); free(t); } while (0)
	BAD("{\"alg\":\"RS256\"}", "[]");                /* payload not an object */
	BAD("{\"alg\":\"RS256\"}", "{\"a\":1");          /* bad JSON */
	BAD("{\"alg\":\"RS256\"}", "{} x");              /* trailing garbage */
	BAD("{\"alg\":\"RS256\"}", "{\"a\":1,\"a\":2}"); /* duplicate key */
	BAD("{\"alg\":\"RS256\"}", "");
	BAD("\"RS256\"", "{}");
	BAD("{}", "{}");                                 /* no alg */
	BAD("{\"alg\":5}", "{}");
	BAD("{\"alg\":\"\"}", "{}");
	BAD("{\"alg\":\"RS256\",\"kid\":7}", "{}");
	BAD("{\"alg\":\"RS256\",\"kid\":\"\"}", "{}");
	BAD("{\"alg\":\"RS256\",\"crit\":[\"exp\"]}", "{}");
	BAD("{\"alg\":\"RS256\",\"typ\":\"dpop+jwt\"}", "{}");
	BAD("{\"alg\":\"RS256\"}", "{\"a\":\"\\u0000\"}"); /* NUL in a string */
	/* nesting: 16 levels pass, 17 do not */
	{
		char deep[64];

		memset(deep, 0, sizeof(deep));
		strcpy(deep, "{\"a\":");
		for (int i = 0; i < 15; i++)
			strcat(deep, "[");
		strcat(deep, "1");
		for (int i = 0; i < 15; i++)
			strcat(deep, "]");
		strcat(deep, "}");
		t = tok3("{\"alg\":\"RS256\"}", deep, "AQID");
		test_assert_inteq(parse(t), 0);
		free(t);
		deep[5] = '[';
		memmove(deep + 6, deep + 5, strlen(deep + 5) + 1);
		deep[strlen(deep) - 1] = ']';
		strcat(deep, "}");
		t = tok3("{\"alg\":\"RS256\"}", deep, "AQID");
		test_assert_inteq(parse(t), -1);
		free(t);
	}
	/* "[" inside a string does not count as nesting */
	t = tok3("{\"alg\":\"RS256\"}", "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"\"}", "AQID");
	test_assert_inteq(parse(t), 0);
	free(t);
	/* huge */
	{
		size_t n = JWT_TOKEN_MAX + 1;
		char *big = malloc(n + 1);

		memset(big, 'A', n);
		big[10] = '.';
		big[20] = '.';
		big[n] = '\0';
		test_assert_inteq(jwt_parse(big, n, &j, &reason), -1);
		free(big);
	}
	test_end();
}

/* Parses a one-key JWKS made from jwk; returns the number of keys kept. */
static long
jwks_count(const char *doc)
{
	struct jwks_set *set;
	const char *err;
	long n;

	if (jwks_set_parse(doc, strlen(doc), &set, &err) == -1)
		return -1;
	n = (long)set->count;
	jwks_set_free(&set);
	return n;
}

static void
test_jwks_parse(struct tkey *keys, size_t nkeys)
{
	struct jwks_set *set;
	const char *err;
	char *doc, *jwk, *d;

	test_begin("jwks: parse generated RSA, P-256, P-384 and Ed25519 keys");
	doc = ts_jwks(keys, nkeys);
	test_assert_inteq(jwks_set_parse(doc, strlen(doc), &set, &err), 0);
	test_assert_inteq(set->count, nkeys);
	test_assert_inteq(set->keys[0].kty, JWT_KTY_RSA);
	test_assert_streq(set->keys[0].kid, keys[0].kid);
	test_assert_inteq(set->keys[1].kty, JWT_KTY_EC);
	test_assert_streq(set->keys[1].crv, "P-256");
	test_assert_inteq(set->keys[3].kty, JWT_KTY_OKP);
	jwks_set_free(&set);
	jwks_set_free(&set);
	free(doc);
	test_end();

	test_begin("jwks: unusable keys are skipped, not fatal");
	jwk = ts_jwk(&keys[0], "");
#define ONE(extra_doc) ts_printf("{\"keys\":[%s,%s]}", jwk, extra_doc)
	d = ONE("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}");
	test_assert_inteq(jwks_count(d), 1);
	free(d);
	{
		char *enc = ts_jwk(&keys[1], "\"use\":\"enc\",");
		char *oaep = ts_jwk(&keys[0], "\"alg\":\"RSA-OAEP\",");
		char *hs = ts_jwk(&keys[0], "\"alg\":\"HS256\",");
		char *ops = ts_jwk(&keys[1], "\"key_ops\":[\"encrypt\"],");
		char *ops_ok = ts_jwk(&keys[1], "\"key_ops\":[\"verify\"],\"use\":\"sig\",");
		char *es_on_rsa = ts_jwk(&keys[0], "\"alg\":\"ES256\",");
		char *es384_on_p256 = ts_jwk(&keys[1], "\"alg\":\"ES384\",");

		d = ts_printf("{\"keys\":[%s,%s,%s,%s,%s,%s,%s]}", enc, oaep, hs, ops, ops_ok, es_on_rsa, es384_on_p256);
		test_assert_inteq(jwks_count(d), 1);
		free(d);
		free(enc);
		free(oaep);
		free(hs);
		free(ops);
		free(ops_ok);
		free(es_on_rsa);
		free(es384_on_p256);
	}
	/* off-curve P-256 point; wrong coordinate length; X25519 */
	d = ONE("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
	        "\"y\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
	test_assert_inteq(jwks_count(d), 1);
	free(d);
	d = ONE("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AQ\",\"y\":\"AQ\"}");
	test_assert_inteq(jwks_count(d), 1);
	free(d);
	d = ONE("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}");
	test_assert_inteq(jwks_count(d), 1);
	free(d);
	/* RSA-1024 is too weak; even exponent; no n */
	{
		struct tkey weak = { .alg = "RS256", .kid = "weak" };
		char *wj;

		weak.pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
		wj = ts_jwk(&weak, "");
		d = ONE(wj);
		test_assert_inteq(jwks_count(d), 1);
		free(d);
		free(wj);
		ts_key_free(&weak);
	}
	d = ONE("{\"kty\":\"RSA\",\"e\":\"AQAB\"}");
	test_assert_inteq(jwks_count(d), 1);
	free(d);
	d = ONE("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAC\"}");
	test_assert_inteq(jwks_count(d), 1);
	free(d);
	d = ONE("7");
	test_assert_inteq(jwks_count(d), 1);
	free(d);
	test_end();

	test_begin("jwks: bad documents");
	test_assert_inteq(jwks_count(""), -1);
	test_assert_inteq(jwks_count("{}"), -1);
	test_assert_inteq(jwks_count("{\"keys\":{}}"), -1);
	test_assert_inteq(jwks_count("{\"keys\":[]}"), -1);
	test_assert_inteq(jwks_count("[{\"keys\":[]}]"), -1);
	test_assert_inteq(jwks_count("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}"), -1);
	d = ts_printf("{\"keys\":[%s],\"keys\":[%s]}", jwk, jwk);
	test_assert_inteq(jwks_count(d), -1);
	free(d);
	/* 64 keys are fine, 65 are not */
	d = ts_printf("{\"keys\":[%s", jwk);
	for (int i = 1; i < JWKS_KEYS_MAX; i++) {
		char *d2 = ts_printf("%s,%s", d, jwk);

		free(d);
		d = d2;
	}
	{
		char *d64 = ts_printf("%s]}", d), *d65 = ts_printf("%s,%s]}", d, jwk);

		test_assert_inteq(jwks_count(d64), JWKS_KEYS_MAX);
		test_assert_inteq(jwks_count(d65), -1);
		free(d64);
		free(d65);
	}
	free(d);
	{
		char *big = malloc(JWKS_DOC_MAX + 2);

		memset(big, ' ', JWKS_DOC_MAX + 1);
		big[JWKS_DOC_MAX + 1] = '\0';
		memcpy(big, "{\"keys\":[", 9);
		test_assert_inteq(jwks_set_parse(big, JWKS_DOC_MAX + 1, &set, &err), -1);
		test_assert_streq(err, "JWKS document too large");
		free(big);
	}
	free(jwk);
	test_end();
}

static void
test_find(struct tkey *keys, size_t nkeys)
{
	struct jwks_set *set;
	const char *err, *reason = NULL;
	char *doc = ts_jwks(keys, nkeys);

	test_begin("jwks: key selection by kid and alg");
	test_assert_inteq(jwks_set_parse(doc, strlen(doc), &set, &err), 0);
	test_assert(jwks_set_find(set, keys[0].kid, JWT_ALG_RS256, &reason) == &set->keys[0]);
	test_assert(jwks_set_find(set, keys[0].kid, JWT_ALG_RS512, &reason) == &set->keys[0]);
	test_assert(jwks_set_find(set, keys[1].kid, JWT_ALG_ES256, &reason) == &set->keys[1]);
	test_assert(jwks_set_find(set, keys[1].kid, JWT_ALG_ES384, &reason) == NULL);
	test_assert_streq(reason, "wrong key type");
	test_assert(jwks_set_find(set, keys[0].kid, JWT_ALG_ES256, &reason) == NULL);
	test_assert_streq(reason, "wrong key type");
	test_assert(jwks_set_find(set, "nope", JWT_ALG_RS256, &reason) == NULL);
	test_assert_streq(reason, "unknown key id");
	/* no kid: the only key of the right type */
	test_assert(jwks_set_find(set, NULL, JWT_ALG_EDDSA, &reason) == &set->keys[3]);
	test_assert(jwks_set_find(set, NULL, JWT_ALG_ES384, &reason) == &set->keys[2]);
	jwks_set_free(&set);
	free(doc);
	/* two RSA keys and no kid: ambiguous */
	{
		struct tkey two[2] = { keys[0], keys[0] };

		doc = ts_jwks(two, 2);
		test_assert_inteq(jwks_set_parse(doc, strlen(doc), &set, &err), 0);
		test_assert(jwks_set_find(set, NULL, JWT_ALG_RS256, &reason) == NULL);
		test_assert_streq(reason, "no key id");
		test_assert(jwks_set_find(set, NULL, JWT_ALG_ES256, &reason) == NULL);
		test_assert_streq(reason, "wrong key type");
		jwks_set_free(&set);
		free(doc);
	}
	/* a JWK that names its alg only serves that alg */
	{
		char *jwk = ts_jwk(&keys[0], "\"alg\":\"RS256\",");

		doc = ts_printf("{\"keys\":[%s]}", jwk);
		test_assert_inteq(jwks_set_parse(doc, strlen(doc), &set, &err), 0);
		test_assert(jwks_set_find(set, keys[0].kid, JWT_ALG_RS256, &reason) != NULL);
		test_assert(jwks_set_find(set, keys[0].kid, JWT_ALG_RS384, &reason) == NULL);
		jwks_set_free(&set);
		free(doc);
		free(jwk);
	}
	test_end();
}

/* Signs with every algorithm and checks with the key parsed back from its
 * JWK: the whole round trip through real OpenSSL. */
static void
test_signatures(struct tkey *keys, size_t nkeys)
{
	static const char *algs[] = { "RS256", "RS384", "RS512" };
	struct jwks_set *set;
	const char *err, *reason;
	char *doc = ts_jwks(keys, nkeys);

	test_begin("jwt: signatures for RS256/384/512, ES256, ES384, EdDSA");
	test_assert_inteq(jwks_set_parse(doc, strlen(doc), &set, &err), 0);
	for (size_t i = 0; i < nkeys + 2; i++) {
		struct tkey k = keys[i < nkeys ? i : 0];
		struct jwt j;
		const struct jwk *key;
		char *t;
		size_t sig_at;

		if (i == 0 || i >= nkeys)
			k.alg = algs[i == 0 ? 0 : i - nkeys + 1];
		t = ts_sign(&k, NULL, "{\"sub\":\"alice\"}");
		test_assert_inteq(jwt_parse(t, strlen(t), &j, &reason), 0);
		key = jwks_set_find(set, j.kid, j.alg, &reason);
		test_assert(key != NULL);
		if (key == NULL) {
			jwt_clear(&j);
			free(t);
			continue;
		}
		test_assert_inteq(jwt_verify_signature(&j, key->pkey, &reason), 0);
		/* wrong key for the alg */
		test_assert_inteq(jwt_verify_signature(&j, set->keys[(i + 1) % nkeys].pkey, &reason), -1);
		test_assert_streq(reason, "bad signature");
		/* a flipped signature bit */
		j.sig[j.sig_len / 2] ^= 0x01;
		test_assert_inteq(jwt_verify_signature(&j, key->pkey, &reason), -1);
		j.sig[j.sig_len / 2] ^= 0x01;
		/* truncated signature */
		j.sig_len--;
		test_assert_inteq(jwt_verify_signature(&j, key->pkey, &reason), -1);
		jwt_clear(&j);
		/* a changed payload byte */
		sig_at = (size_t)(strrchr(t, '.') - t);
		t[sig_at - 2] = t[sig_at - 2] == 'A' ? 'Q' : 'A';
		if (jwt_parse(t, strlen(t), &j, &reason) == 0) {
			test_assert_inteq(jwt_verify_signature(&j, key->pkey, &reason), -1);
			jwt_clear(&j);
		}
		free(t);
	}
	jwks_set_free(&set);
	free(doc);
	test_end();
}

int
main(void)
{
	struct tkey keys[4];

	keys[0] = ts_key_new("RS256", "rsa1");
	keys[1] = ts_key_new("ES256", "ec1");
	keys[2] = ts_key_new("ES384", "ec384");
	keys[3] = ts_key_new("EdDSA", "ed1");
	test_b64url();
	test_parse();
	test_jwks_parse(keys, 4);
	test_find(keys, 4);
	test_signatures(keys, 4);
	for (int i = 0; i < 4; i++)
		ts_key_free(&keys[i]);
	return test_done();
}
