/* JWKS parsing (RFC 7517, 7518 6, 8037 2) and the cached, refreshed key
 * set.  Keys are built with EVP_PKEY_fromdata from their JWK members and
 * are shared read-only between threads, which OpenSSL 3 allows. */
#include "auth/jwks.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "auth/oauth_http.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* Largest decoded member: an 8192-bit modulus, plus a leading zero some
 * encoders add. */
#define JWK_MEMBER_MAX (JWKS_RSA_BITS_MAX / 8 + 1)
#define JWKS_RETRY_EMPTY_SEC 10  /* no keys at all: try again sooner */

/* Decodes the base64url string member name of obj into buf.  Returns the
 * length or -1. */
static long
jwk_bytes(json_t *obj, const char *name, unsigned char *buf, size_t size)
{
	json_t *v = json_object_get(obj, name);

	if (!json_is_string(v) || json_string_length(v) == 0)
		return -1;
	return jwt_b64url_decode(json_string_value(v), json_string_length(v), buf, size);
}

static EVP_PKEY *
jwk_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return pkey;
}

/* RFC 7518 6.3.1: n and e, unsigned big-endian. */
static EVP_PKEY *
jwk_rsa(json_t *obj)
{
	unsigned char nb[JWK_MEMBER_MAX], eb[16];
	long nl = jwk_bytes(obj, "n", nb, sizeof(nb)), el = jwk_bytes(obj, "e", eb, sizeof(eb));
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	int bits;

	if (nl <= 0 || el <= 0)
		return NULL;
	n = BN_bin2bn(nb, (int)nl, NULL);
	e = BN_bin2bn(eb, (int)el, NULL);
	if (n == NULL || e == NULL)
		goto out;
	bits = BN_num_bits(n);
	/* A tiny or even exponent is a broken key, not a style choice. */
	if (bits < JWKS_RSA_BITS_MIN || bits > JWKS_RSA_BITS_MAX || !BN_is_odd(e) || BN_num_bits(e) < 2 ||
	    BN_num_bits(e) > 64)
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
		goto out;
	pkey = jwk_fromdata("RSA", bld);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return pkey;
}

/* RFC 7518 6.2.1: crv, x, y; each coordinate exactly the field size. */
static EVP_PKEY *
jwk_ec(json_t *obj, const char *crv)
{
	unsigned char x[48], y[48], pub[1 + 2 * 48];
	const char *group;
	size_t size;
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *check;

	if (strcmp(crv, "P-256") == 0) {
		group = "prime256v1";
		size = 32;
	} else if (strcmp(crv, "P-384") == 0) {
		group = "secp384r1";
		size = 48;
	} else {
		return NULL;
	}
	if (jwk_bytes(obj, "x", x, sizeof(x)) != (long)size || jwk_bytes(obj, "y", y, sizeof(y)) != (long)size)
		return NULL;
	pub[0] = 0x04;                  /* uncompressed point, SEC 1 2.3.3 */
	memcpy(pub + 1, x, size);
	memcpy(pub + 1 + size, y, size);
	bld = OSSL_PARAM_BLD_new();
	if (bld != NULL && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * size) == 1)
		pkey = jwk_fromdata("EC", bld);
	OSSL_PARAM_BLD_free(bld);
	if (pkey == NULL)
		return NULL;
	/* The point must be on the curve (invalid-curve attacks). */
	check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (check == NULL || EVP_PKEY_public_check(check) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(check);
	return pkey;
}

/* RFC 8037 2: crv and x, the raw public key. */
static EVP_PKEY *
jwk_okp(json_t *obj, const char *crv)
{
	unsigned char x[57];
	int type;
	long want, n;

	if (strcmp(crv, "Ed25519") == 0) {
		type = EVP_PKEY_ED25519;
		want = 32;
	} else if (strcmp(crv, "Ed448") == 0) {
		type = EVP_PKEY_ED448;
		want = 57;
	} else {
		return NULL;            /* X25519/X448 are for key agreement */
	}
	n = jwk_bytes(obj, "x", x, sizeof(x));
	if (n != want)
		return NULL;
	return EVP_PKEY_new_raw_public_key(type, NULL, x, (size_t)n);
}

/* "use" and "key_ops" (RFC 7517 4.2, 4.3) must allow verification. */
static bool
jwk_for_signing(json_t *obj)
{
	json_t *use = json_object_get(obj, "use"), *ops = json_object_get(obj, "key_ops"), *op;
	size_t i;

	if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
		return false;
	if (ops == NULL)
		return true;
	if (!json_is_array(ops))
		return false;
	json_array_foreach(ops, i, op)
		if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
			return true;
	return false;
}

/* Fills *k from one JWK object; returns -1 to skip it. */
static int
jwk_parse_one(json_t *obj, struct jwk *k)
{
	json_t *kty = json_object_get(obj, "kty"), *kid = json_object_get(obj, "kid");
	json_t *alg = json_object_get(obj, "alg"), *crv = json_object_get(obj, "crv");
	const char *ktys, *crvs = "";

	memset(k, 0, sizeof(*k));
	if (!json_is_object(obj) || !json_is_string(kty) || !jwk_for_signing(obj))
		return -1;
	ktys = json_string_value(kty);
	if (kid != NULL) {
		if (!json_is_string(kid) || json_string_length(kid) > JWT_KID_MAX)
			return -1;
		memcpy(k->kid, json_string_value(kid), json_string_length(kid));
	}
	if (crv != NULL) {
		if (!json_is_string(crv) || json_string_length(crv) >= sizeof(k->crv))
			return -1;
		crvs = json_string_value(crv);
		memcpy(k->crv, crvs, json_string_length(crv));
	}
	if (strcmp(ktys, "RSA") == 0)
		k->kty = JWT_KTY_RSA;
	else if (strcmp(ktys, "EC") == 0)
		k->kty = JWT_KTY_EC;
	else if (strcmp(ktys, "OKP") == 0)
		k->kty = JWT_KTY_OKP;
	else
		return -1;              /* "oct" above all: no shared secrets */
	if (alg != NULL) {
		if (!json_is_string(alg))
			return -1;
		k->alg = jwt_alg_from_name(json_string_value(alg));
		if (jwt_alg_kty(k->alg) != k->kty)
			return -1;      /* RSA-OAEP, HS256, or a lie */
		if (k->kty == JWT_KTY_EC && strcmp(jwt_alg_curve(k->alg), crvs) != 0)
			return -1;
	}
	if (k->kty == JWT_KTY_RSA)
		k->pkey = jwk_rsa(obj);
	else if (k->kty == JWT_KTY_EC)
		k->pkey = jwk_ec(obj, crvs);
	else
		k->pkey = jwk_okp(obj, crvs);
	ERR_clear_error();
	return k->pkey != NULL ? 0 : -1;
}

int
jwks_set_parse(const void *doc, size_t len, struct jwks_set **out, const char **error_out)
{
	json_t *root = NULL, *keys, *obj;
	struct jwks_set *set = NULL;
	size_t i;

	*out = NULL;
	*error_out = "not a JWKS document";
	if (len > JWKS_DOC_MAX) {
		*error_out = "JWKS document too large";
		return -1;
	}
	if (jwt_json_load(doc, len, JWT_JSON_DEPTH_MAX, &root) == -1)
		goto fail;
	keys = json_object_get(root, "keys");
	if (!json_is_object(root) || !json_is_array(keys))
		goto fail;
	if (json_array_size(keys) > JWKS_KEYS_MAX) {
		*error_out = "too many keys in JWKS";
		goto fail;
	}
	set = xcalloc(1, sizeof(*set) + json_array_size(keys) * sizeof(set->keys[0]));
	json_array_foreach(keys, i, obj)
		if (jwk_parse_one(obj, &set->keys[set->count]) == 0)
			set->count++;
	if (set->count == 0) {
		*error_out = "no usable signing key in JWKS";
		goto fail;
	}
	json_decref(root);
	*out = set;
	*error_out = NULL;
	return 0;
fail:
	jwks_set_free(&set);
	json_decref(root);
	return -1;
}

void
jwks_set_free(struct jwks_set **setp)
{
	struct jwks_set *set = *setp;

	if (set == NULL)
		return;
	for (size_t i = 0; i < set->count; i++)
		EVP_PKEY_free(set->keys[i].pkey);
	free(set);
	*setp = NULL;
}

static bool
jwk_fits(const struct jwk *k, enum jwt_alg alg)
{
	if (k->kty != jwt_alg_kty(alg) || (k->alg != JWT_ALG_UNKNOWN && k->alg != alg))
		return false;
	if (k->kty == JWT_KTY_EC && strcmp(k->crv, jwt_alg_curve(alg)) != 0)
		return false;
	return true;
}

const struct jwk *
jwks_set_find(const struct jwks_set *set, const char *kid, enum jwt_alg alg, const char **reason_out)
{
	const struct jwk *found = NULL;
	size_t fits = 0;
	bool kid_seen = false;

	for (size_t i = 0; i < set->count; i++) {
		const struct jwk *k = &set->keys[i];

		if (kid != NULL) {
			if (strcmp(k->kid, kid) != 0)
				continue;
			kid_seen = true;
		}
		if (jwk_fits(k, alg)) {
			found = k;
			fits++;
			if (kid != NULL)
				break;
		}
	}
	if (fits == 1 || (kid != NULL && found != NULL))
		return found;
	if (kid != NULL)
		*reason_out = kid_seen ? "wrong key type" : "unknown key id";
	else
		*reason_out = fits == 0 ? "wrong key type" : "no key id";
	return NULL;
}

/* A set in use, freed when the last verifier lets go of it. */
struct jwks_ref {
	struct jwks_set *set;
	unsigned refs;
};

struct jwks {
	char *file, *url, *ca_file;
	unsigned refresh_sec;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct jwks_ref *cur;        /* NULL until a load succeeds */
	bool fetching;
	bool missed;                 /* last_miss is valid */
	time_t loaded_at, next_try, last_miss;
	unsigned fetches;
	time_t (*now)(void *arg);
	void *now_arg;
};

static time_t
jwks_monotonic(void *arg)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int
jwks_read_file(const char *path, char **doc_out, size_t *len_out, char *err, size_t errsize)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	char *doc;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errsize, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > JWKS_DOC_MAX) {
		snprintf(err, errsize, "%s: not a regular file of at most %d bytes", path, JWKS_DOC_MAX);
		close(fd);
		return -1;
	}
	doc = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size && (n = read(fd, doc + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	close(fd);
	doc[got] = '\0';
	*doc_out = doc;
	*len_out = got;
	return 0;
}

/* Reads and parses the source.  No lock held: this blocks. */
static int
jwks_load(struct jwks *k, struct jwks_set **set_out, char *err, size_t errsize)
{
	char *doc = NULL;
	size_t len = 0;
	const char *perr;
	int r;

	if (k->file != NULL)
		r = jwks_read_file(k->file, &doc, &len, err, errsize);
	else
		r = oauth_http_request(k->url, k->ca_file, NULL, NULL, JWKS_DOC_MAX, &doc, &len, err, errsize);
	if (r == 0 && jwks_set_parse(doc, len, set_out, &perr) == -1) {
		snprintf(err, errsize, "%s", perr);
		r = -1;
	}
	free(doc);
	return r;
}

static void
jwks_unref_locked(struct jwks_ref *ref)
{
	if (ref != NULL && --ref->refs == 0) {
		jwks_set_free(&ref->set);
		free(ref);
	}
}

/* Installs a freshly loaded set, or records the failure.  Lock held. */
static void
jwks_install_locked(struct jwks *k, struct jwks_set *set, time_t now, const char *err)
{
	const char *src = k->file != NULL ? k->file : k->url;

	if (set != NULL) {
		struct jwks_ref *ref = xcalloc(1, sizeof(*ref));

		ref->set = set;
		ref->refs = 1;
		jwks_unref_locked(k->cur);
		k->cur = ref;
		k->loaded_at = now;
		k->next_try = now;
		log_info("oauth jwks loaded source=%s keys=%zu", src, set->count);
	} else {
		k->next_try = now + (k->cur != NULL ? JWKS_RETRY_SEC : JWKS_RETRY_EMPTY_SEC);
		log_warnx("oauth jwks load failed source=%s error=\"%s\" kept_keys=%zu", src, err,
		          k->cur != NULL ? k->cur->set->count : 0);
	}
}

static bool
jwks_due_locked(struct jwks *k, time_t now)
{
	if (now < k->next_try)
		return false;
	return k->cur == NULL || now - k->loaded_at >= (time_t)k->refresh_sec;
}

/* Reloads the set if it is due (miss false) or, for an unknown kid (miss
 * true), if the last such reload is a minute old.  Only one thread
 * fetches; the others go on with the old set, or wait when there is none
 * or when they are looking for a new key. */
static void
jwks_refresh(struct jwks *k, bool miss, time_t now)
{
	struct jwks_set *set = NULL;
	char err[256] = "";

	pthread_mutex_lock(&k->mu);
	if (k->fetching) {
		if (miss || k->cur == NULL)
			while (k->fetching)
				pthread_cond_wait(&k->cv, &k->mu);
		pthread_mutex_unlock(&k->mu);
		return;
	}
	if (miss) {
		if (k->missed && now - k->last_miss < JWKS_MISS_REFETCH_SEC) {
			pthread_mutex_unlock(&k->mu);
			return;
		}
		k->missed = true;
		k->last_miss = now;
	} else if (!jwks_due_locked(k, now)) {
		pthread_mutex_unlock(&k->mu);
		return;
	}
	k->fetching = true;
	k->fetches++;
	pthread_mutex_unlock(&k->mu);

	if (jwks_load(k, &set, err, sizeof(err)) == -1)
		set = NULL;

	pthread_mutex_lock(&k->mu);
	jwks_install_locked(k, set, now, err);
	k->fetching = false;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

static struct jwks_ref *
jwks_acquire(struct jwks *k)
{
	struct jwks_ref *ref;

	pthread_mutex_lock(&k->mu);
	ref = k->cur;
	if (ref != NULL)
		ref->refs++;
	pthread_mutex_unlock(&k->mu);
	return ref;
}

static void
jwks_release(struct jwks *k, struct jwks_ref *ref)
{
	pthread_mutex_lock(&k->mu);
	jwks_unref_locked(ref);
	pthread_mutex_unlock(&k->mu);
}

struct jwks *
jwks_new(const char *file, const char *url, const char *ca_file, unsigned refresh_sec, char **error_out)
{
	struct jwks *k;
	struct jwks_set *set = NULL;
	char err[512];
	int r;

	*error_out = NULL;
	if ((file == NULL) == (url == NULL)) {
		*error_out = xstrdup("give exactly one of a JWKS file and a JWKS URL");
		return NULL;
	}
	if (url != NULL && !oauth_http_url_ok(url)) {
		snprintf(err, sizeof(err), "JWKS URL must be https: %s", url);
		*error_out = xstrdup(err);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->file = file != NULL ? xstrdup(file) : NULL;
	k->url = url != NULL ? xstrdup(url) : NULL;
	k->ca_file = ca_file != NULL ? xstrdup(ca_file) : NULL;
	k->refresh_sec = refresh_sec != 0 ? refresh_sec : 3600;
	k->now = jwks_monotonic;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);

	k->fetches = 1;
	r = jwks_load(k, &set, err, sizeof(err));
	if (r == -1 && file != NULL) {
		*error_out = xstrdup(err);
		jwks_free(&k);
		return NULL;
	}
	jwks_install_locked(k, set, k->now(k->now_arg), err);
	return k;
}

void
jwks_free(struct jwks **kp)
{
	struct jwks *k = *kp;

	if (k == NULL)
		return;
	jwks_unref_locked(k->cur);
	pthread_mutex_destroy(&k->mu);
	pthread_cond_destroy(&k->cv);
	free(k->file);
	free(k->url);
	free(k->ca_file);
	free(k);
	*kp = NULL;
}

int
jwks_verify(struct jwks *k, const struct jwt *jwt, const char **reason_out)
{
	struct jwks_ref *ref;
	const struct jwk *key = NULL;
	const char *reason = "keys unavailable";
	time_t now = k->now(k->now_arg);
	int r = -1;

	jwks_refresh(k, false, now);
	ref = jwks_acquire(k);
	if (ref != NULL)
		key = jwks_set_find(ref->set, jwt->kid, jwt->alg, &reason);
	if (key == NULL && ref != NULL && strcmp(reason, "unknown key id") == 0) {
		jwks_release(k, ref);
		jwks_refresh(k, true, now);
		ref = jwks_acquire(k);
		key = jwks_set_find(ref->set, jwt->kid, jwt->alg, &reason);
	}
	if (key != NULL)
		r = jwt_verify_signature(jwt, key->pkey, &reason);
	if (ref != NULL)
		jwks_release(k, ref);
	*reason_out = r == 0 ? NULL : reason;
	return r;
}

unsigned
jwks_fetch_count(struct jwks *k)
{
	unsigned n;

	pthread_mutex_lock(&k->mu);
	n = k->fetches;
	pthread_mutex_unlock(&k->mu);
	return n;
}

void
jwks_set_clock(struct jwks *k, time_t (*now)(void *arg), void *arg)
{
	pthread_mutex_lock(&k->mu);
	k->now = now;
	k->now_arg = arg;
	k->loaded_at = k->next_try = now(arg);
	k->missed = false;
	pthread_mutex_unlock(&k->mu);
}
