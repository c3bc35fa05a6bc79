/* Tests for src/auth/oauth.c with src/auth/jwks.c: tokens signed here
 * with RSA-2048, P-256 and Ed25519 keys made by OpenSSL, checked against a
 * JWKS file and against a JWKS served by a small HTTPS server running in
 * this process (self-signed certificate, trusted through ca_file), which
 * also answers RFC 7662 introspection.  No mocks: real keys, real files,
 * real TLS.  The clock is replaced only to step over refresh intervals. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "auth/jwks.h"
#include "auth/oauth.h"
#include "lib/limits.h"
#include "jwt_signer.h"
#include "test.h"

#define ISS "https://id.example.com/"
#define AUD "mail.example.com"

static char dir[] = "/tmp/tern-test-oauth-XXXXXX";
static time_t fake_now;

static time_t
fake_clock(void *arg)
{
	return *(time_t *)arg;
}

static char *
write_file(const char *name, const char *content)
{
	char *path = ts_printf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");

	fputs(content, f);
	fclose(f);
	return path;
}

/* Standard claims around fake_now; extra is spliced in (ends with ","). */
static char *
claims(const char *extra, long exp_off)
{
	return ts_printf("{%s\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld,\"iat\":%ld,"
	                 "\"email\":\"Alice@Example.COM\",\"preferred_username\":\"alice\",\"sub\":\"u-123\"}",
	                 extra, (long)fake_now + exp_off, (long)fake_now - 10);
}

/* Runs oauth_verify; returns the reason ("ok" on success, user in u). */
static char u[AUTH_USER_MAX + 1];

static const char *
verify(struct oauth *o, const char *token)
{
	const char *reason = NULL;
	int r = oauth_verify(o, token, u, sizeof(u), &reason);

	if (r == 0)
		return reason == NULL ? "ok" : "ok with reason?";
	return reason != NULL ? reason : "(null reason)";
}

static const char *
verify_signed(struct oauth *o, const struct tkey *k, const char *header, const char *claims_json)
{
	char *t = ts_sign(k, header, claims_json);
	static char reason[64];

	snprintf(reason, sizeof(reason), "%s", verify(o, t));
	free(t);
	return reason;
}

static struct oauth *
new_oauth(struct oauth_config *cfg)
{
	char *err = NULL;
	struct oauth *o = oauth_new(cfg, &err);

	if (o == NULL) {
		printf("# oauth_new: %s\n", err);
		free(err);
		return NULL;
	}
	oauth_set_clock(o, fake_clock, &fake_now);
	return o;
}

static void
test_file_policy(struct tkey *keys, size_t nkeys)
{
	char *doc = ts_jwks(keys, nkeys), *path = write_file("jwks.json", doc), *c, *t;
	struct oauth_config cfg = { .issuer = ISS, .audience = AUD, .jwks_file = path };
	struct oauth *o = new_oauth(&cfg);

	test_begin("oauth: valid tokens for RS256, ES256, EdDSA (JWKS file)");
	test_assert(o != NULL);
	if (o == NULL)
		goto out;
	c = claims("", 300);
	for (size_t i = 0; i < nkeys; i++) {
		u[0] = 'x';
		test_assert_streq(verify_signed(o, &keys[i], NULL, c), "ok");
		test_assert_streq(u, "alice@example.com");
	}
	free(c);
	test_end();

	test_begin("oauth: time claims with clock skew");
	c = claims("", -30);    /* expired 30 s ago, inside the 60 s skew */
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "ok");
	free(c);
	c = claims("", -61);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "expired");
	free(c);
	c = claims("\"nbf\":9999999999,", 300);
	test_assert_streq(verify_signed(o, &keys[1], NULL, c), "not yet valid");
	free(c);
	c = ts_printf("{\"nbf\":%ld,", (long)fake_now + 30);
	t = claims(c + 1, 300);
	free(c);
	test_assert_streq(verify_signed(o, &keys[1], NULL, t), "ok");   /* nbf inside the skew */
	free(t);
	c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld,\"iat\":%ld,\"email\":\"a@b\"}",
	              (long)fake_now + 300, (long)fake_now + 3600);
	test_assert_streq(verify_signed(o, &keys[1], NULL, c), "not yet valid");
	free(c);
	c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"email\":\"a@b\"}");
	test_assert_streq(verify_signed(o, &keys[1], NULL, c), "no expiry");
	free(c);
	c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":\"%ld\",\"email\":\"a@b\"}", (long)fake_now + 300);
	test_assert_streq(verify_signed(o, &keys[1], NULL, c), "malformed");
	free(c);
	c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":1e400,\"email\":\"a@b\"}");
	test_assert(strcmp(verify_signed(o, &keys[1], NULL, c), "ok") != 0);
	free(c);
	test_end();

	test_begin("oauth: issuer and audience");
	c = ts_printf("{\"iss\":\"https://evil.example/\",\"aud\":\"" AUD "\",\"exp\":%ld,\"email\":\"a@b\"}",
	              (long)fake_now + 300);
	test_assert_streq(verify_signed(o, &keys[2], NULL, c), "wrong issuer");
	free(c);
	c = ts_printf("{\"aud\":\"" AUD "\",\"exp\":%ld,\"email\":\"a@b\"}", (long)fake_now + 300);
	test_assert_streq(verify_signed(o, &keys[2], NULL, c), "wrong issuer");
	free(c);
	c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":\"other\",\"exp\":%ld,\"email\":\"a@b\"}", (long)fake_now + 300);
	test_assert_streq(verify_signed(o, &keys[2], NULL, c), "wrong audience");
	free(c);
	c = ts_printf("{\"iss\":\"" ISS "\",\"exp\":%ld,\"email\":\"a@b\"}", (long)fake_now + 300);
	test_assert_streq(verify_signed(o, &keys[2], NULL, c), "wrong audience");
	free(c);
	c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":[\"x\",\"" AUD "\"],\"exp\":%ld,\"email\":\"a@b\"}",
	              (long)fake_now + 300);
	test_assert_streq(verify_signed(o, &keys[2], NULL, c), "ok");
	free(c);
	c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":[\"x\",[\"" AUD "\"]],\"exp\":%ld,\"email\":\"a@b\"}",
	              (long)fake_now + 300);
	test_assert_streq(verify_signed(o, &keys[2], NULL, c), "wrong audience");
	free(c);
	test_end();

	test_begin("oauth: signatures, key ids and algorithms");
	c = claims("", 300);
	t = ts_sign(&keys[0], NULL, c);
	{
		char *dot = strrchr(t, '.');

		dot[10] = dot[10] == 'A' ? 'B' : 'A';                   /* flip signature bits */
		test_assert_streq(verify(o, t), "bad signature");
	}
	free(t);
	{
		struct tkey stranger = ts_key_new("ES256", "ec1");       /* same kid, other key */

		test_assert_streq(verify_signed(o, &stranger, NULL, c), "bad signature");
		snprintf(stranger.kid, sizeof(stranger.kid), "rotated");
		test_assert_streq(verify_signed(o, &stranger, NULL, c), "unknown key id");
		ts_key_free(&stranger);
	}
	/* alg none, with and without a signature */
	{
		char *h = ts_b64url_dup("{\"alg\":\"none\"}", 14), *p = ts_b64url_dup(c, strlen(c));

		t = ts_printf("%s.%s.", h, p);
		test_assert_streq(verify(o, t), "alg none");
		free(t);
		free(h);
		h = ts_b64url_dup("{\"alg\":\"NONE\",\"kid\":\"rsa1\"}", 27);
		t = ts_printf("%s.%s.AAAA", h, p);
		test_assert_streq(verify(o, t), "alg none");
		free(t);
		free(h);
		free(p);
	}
	/* HS256 keyed with the RSA key's public modulus and PEM: refused */
	{
		char *jwk = ts_jwk(&keys[0], "");
		BIO *bio = BIO_new(BIO_s_mem());
		char *pem;
		long pem_len;

		PEM_write_bio_PUBKEY(bio, keys[0].pkey);
		pem_len = BIO_get_mem_data(bio, &pem);
		t = ts_sign_hs256("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", c, pem, (size_t)pem_len);
		test_assert_streq(verify(o, t), "alg not allowed");
		free(t);
		t = ts_sign_hs256("{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", c, jwk, strlen(jwk));
		test_assert_streq(verify(o, t), "alg not allowed");
		free(t);
		BIO_free(bio);
		free(jwk);
	}
	/* RS256 header naming the EC key: the kid's key type does not fit */
	{
		struct tkey k = keys[0];

		snprintf(k.kid, sizeof(k.kid), "ec1");
		test_assert_streq(verify_signed(o, &k, NULL, c), "wrong key type");
		k = keys[1];
		k.alg = "ES384";
		test_assert_streq(verify_signed(o, &k, "{\"alg\":\"ES384\",\"kid\":\"ec1\"}", c), "wrong key type");
	}
	test_assert_streq(verify_signed(o, &keys[0], "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", c), "unsupported alg");
	/* no kid: the single EdDSA key is used */
	test_assert_streq(verify_signed(o, &keys[2], "{\"alg\":\"EdDSA\"}", c), "ok");
	free(c);
	test_end();

	test_begin("oauth: malformed and oversized tokens");
	test_assert_streq(verify(o, ""), "malformed");
	test_assert_streq(verify(o, "abc.def"), "malformed");
	test_assert_streq(verify(o, "a.b.c"), "malformed");
	test_assert_streq(verify(o, "abc def.ghi.jkl"), "malformed");
	test_assert_streq(verify(o, "eyJhbGciOiJSUzI1NiJ9.e30=.AAAA"), "malformed");
	{
		char *p = ts_b64url_dup("{\"iss\":", 7), *h = ts_b64url_dup("{\"alg\":\"RS256\"}", 15);

		t = ts_printf("%s.%s.AAAA", h, p);
		test_assert_streq(verify(o, t), "malformed");
		free(t);
		free(h);
		free(p);
	}
	{
		char *big = malloc(JWT_TOKEN_MAX + 2);

		memset(big, 'A', JWT_TOKEN_MAX + 1);
		big[JWT_TOKEN_MAX + 1] = '\0';
		test_assert_streq(verify(o, big), "too long");
		free(big);
	}
	/* a huge claim within the bound is parsed and refused on signature */
	{
		char *pad = malloc(10001), *big;

		memset(pad, 'x', 10000);
		pad[10000] = '\0';
		big = ts_printf("\"pad\":\"%s\",", pad);
		c = claims(big, 300);
		test_assert_streq(verify_signed(o, &keys[0], NULL, c), "ok");
		free(c);
		free(big);
		free(pad);
	}
	test_end();

	test_begin("oauth: the user claim");
	c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld,\"sub\":\"x\"}", (long)fake_now + 300);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "no user claim");
	free(c);
	c = claims("\"email_verified\":false,", 300);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "email not verified");
	free(c);
	c = claims("\"email_verified\":true,", 300);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "ok");
	free(c);
#define BADUSER(v) do { \
		c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld,\"email\":" v "}", (long)fake_now + 300); \
		test_assert_streq(verify_signed(o, &keys[0], NULL, c), "bad user claim"); \
		free(c); \
	} while (0)
	BADUSER("\"\"");
	BADUSER("7");
	BADUSER("[\"a@b\"]");
	BADUSER("\"a b@c\"");
	BADUSER("\"a\\nb@c\"");
	{
		char *lng = malloc(AUTH_USER_MAX + 2);

		memset(lng, 'a', AUTH_USER_MAX + 1);
		lng[AUTH_USER_MAX + 1] = '\0';
		c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld,\"email\":\"%s\"}", (long)fake_now + 300, lng);
		test_assert_streq(verify_signed(o, &keys[0], NULL, c), "bad user claim");
		free(c);
		lng[AUTH_USER_MAX] = '\0';
		c = ts_printf("{\"iss\":\"" ISS "\",\"aud\":\"" AUD "\",\"exp\":%ld,\"email\":\"%s\"}", (long)fake_now + 300, lng);
		test_assert_streq(verify_signed(o, &keys[0], NULL, c), "ok");
		test_assert_inteq(strlen(u), AUTH_USER_MAX);
		/* a buffer too small for the name fails rather than truncates */
		{
			char *tk = ts_sign(&keys[0], NULL, c), small[8];
			const char *reason;

			test_assert_inteq(oauth_verify(o, tk, small, sizeof(small), &reason), -1);
			free(tk);
		}
		free(c);
		free(lng);
	}
	test_end();
	oauth_free(&o);
	oauth_free(&o);

	test_begin("oauth: user_claim preferred_username and sub; required scope");
	cfg.user_claim = "preferred_username";
	o = new_oauth(&cfg);
	c = claims("", 300);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "ok");
	test_assert_streq(u, "alice");
	oauth_free(&o);
	cfg.user_claim = "sub";
	cfg.scope = "mail";
	o = new_oauth(&cfg);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "missing scope");
	free(c);
	c = claims("\"scope\":\"openid mail.read\",", 300);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "missing scope");
	free(c);
	c = claims("\"scope\":\"openid mail profile\",", 300);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "ok");
	test_assert_streq(u, "u-123");
	free(c);
	c = claims("\"scp\":[\"openid\",\"mail\"],", 300);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "ok");
	free(c);
	c = claims("\"scp\":\"mail\",", 300);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "ok");
	free(c);
	oauth_free(&o);
	test_end();

out:
	unlink(path);
	free(path);
	free(doc);
}

static void
test_config_errors(void)
{
	struct oauth_config cfg = { .issuer = ISS, .audience = AUD };
	char *err = NULL, *p;

	test_begin("oauth: configuration errors");
#define CFG_FAILS() do { \
		test_assert(oauth_new(&cfg, &err) == NULL); \
		test_assert(err != NULL); \
		free(err); \
		err = NULL; \
	} while (0)
	CFG_FAILS();                               /* no key source */
	cfg.jwks_file = "/nonexistent/jwks.json";
	CFG_FAILS();
	p = write_file("bad.json", "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AA\"}]}");
	cfg.jwks_file = p;
	CFG_FAILS();
	cfg.jwks_file = dir;                       /* a directory */
	CFG_FAILS();
	cfg.jwks_file = NULL;
	cfg.jwks_url = "file:///etc/passwd";       /* https only */
	CFG_FAILS();
	cfg.jwks_url = "http://id.example.com/jwks";
	CFG_FAILS();
	cfg.jwks_url = "https://";
	CFG_FAILS();
	cfg.jwks_url = NULL;
	cfg.introspection_url = "http://id.example.com/introspect";
	CFG_FAILS();
	cfg.introspection_url = NULL;
	cfg.jwks_file = p;
	cfg.jwks_url = "https://id.example.com/jwks";
	CFG_FAILS();
	cfg.jwks_url = NULL;
	cfg.issuer = NULL;
	CFG_FAILS();
	cfg.issuer = ISS;
	cfg.audience = "";
	CFG_FAILS();
	unlink(p);
	free(p);
	test_end();
}

/* ---- a small HTTPS server for JWKS and introspection ---- */

struct srv {
	pthread_t thread;
	int fd, port;
	SSL_CTX *ctx;
	pthread_mutex_t mu;
	volatile int stop;
	int status;              /* answer with this HTTP status */
	char *jwks_doc, *introspect_doc;
	unsigned jwks_hits, introspect_hits;
	char last_auth[256], last_body[4096];
	char *ca_path;
};

static struct srv srv;

static void
srv_make_cert(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	FILE *f;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(x, key, EVP_sha256());
	srv.ca_path = ts_printf("%s/ca.pem", dir);
	f = fopen(srv.ca_path, "w");
	PEM_write_X509(f, x);
	fclose(f);
	srv.ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(srv.ctx, x);
	SSL_CTX_use_PrivateKey(srv.ctx, key);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void
srv_handle(int cfd)
{
	SSL *ssl = SSL_new(srv.ctx);
	char req[8192], *hdr_end, *p, *resp;
	const char *doc;
	int n, got = 0, status;
	long clen = 0;

	SSL_set_fd(ssl, cfd);
	if (SSL_accept(ssl) != 1)
		goto out;
	while (got < (int)sizeof(req) - 1 && (n = SSL_read(ssl, req + got, (int)sizeof(req) - 1 - got)) > 0) {
		got += n;
		req[got] = '\0';
		if ((hdr_end = strstr(req, "\r\n\r\n")) != NULL) {
			p = strcasestr(req, "\r\nContent-Length:");
			clen = p != NULL && p < hdr_end ? strtol(p + 17, NULL, 10) : 0;
			if (got >= (hdr_end + 4 - req) + clen)
				break;
		}
	}
	req[got] = '\0';
	hdr_end = strstr(req, "\r\n\r\n");
	if (hdr_end == NULL)
		goto out;
	pthread_mutex_lock(&srv.mu);
	srv.last_auth[0] = '\0';
	if ((p = strcasestr(req, "\r\nAuthorization: ")) != NULL && p < hdr_end)
		snprintf(srv.last_auth, sizeof(srv.last_auth), "%.*s", (int)strcspn(p + 17, "\r"), p + 17);
	snprintf(srv.last_body, sizeof(srv.last_body), "%s", hdr_end + 4);
	if (strncmp(req, "GET /jwks ", 10) == 0) {
		srv.jwks_hits++;
		doc = srv.jwks_doc;
	} else if (strncmp(req, "POST /introspect ", 17) == 0) {
		srv.introspect_hits++;
		doc = srv.introspect_doc;
	} else {
		doc = NULL;
	}
	status = doc == NULL ? 404 : srv.status;
	resp = ts_printf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n%s", status, doc != NULL ? strlen(doc) : 0, doc != NULL ? doc : "");
	pthread_mutex_unlock(&srv.mu);
	SSL_write(ssl, resp, (int)strlen(resp));
	free(resp);
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	close(cfd);
}

static void *
srv_main(void *arg)
{
	while (!srv.stop) {
		struct pollfd pfd = { .fd = srv.fd, .events = POLLIN };

		if (poll(&pfd, 1, 50) == 1) {
			int cfd = accept(srv.fd, NULL, NULL);

			if (cfd >= 0)
				srv_handle(cfd);
		}
	}
	return NULL;
}

static int
srv_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sa);

	srv_make_cert();
	pthread_mutex_init(&srv.mu, NULL);
	srv.status = 200;
	srv.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv.fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(srv.fd, 16) == -1 ||
	    getsockname(srv.fd, (struct sockaddr *)&sa, &slen) == -1)
		return -1;
	srv.port = ntohs(sa.sin_port);
	return pthread_create(&srv.thread, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static void
srv_stop(void)
{
	srv.stop = 1;
	pthread_join(srv.thread, NULL);
	close(srv.fd);
	SSL_CTX_free(srv.ctx);
	unlink(srv.ca_path);
	free(srv.ca_path);
	free(srv.jwks_doc);
	free(srv.introspect_doc);
}

static void
srv_set(char **slot, char *doc, int status)
{
	pthread_mutex_lock(&srv.mu);
	if (slot != NULL) {
		free(*slot);
		*slot = doc;
	}
	srv.status = status;
	pthread_mutex_unlock(&srv.mu);
}

struct hammer {
	struct oauth *o;
	char *token;
	int ok;
};

static void *
hammer_main(void *arg)
{
	struct hammer *h = arg;
	char user[AUTH_USER_MAX + 1];
	const char *reason;

	for (int i = 0; i < 50; i++)
		if (oauth_verify(h->o, h->token, user, sizeof(user), &reason) == 0)
			h->ok++;
	return NULL;
}

static void
test_https(struct tkey *keys)
{
	struct tkey next = ts_key_new("RS256", "rsa2"), other = ts_key_new("ES256", "ec-other");
	struct oauth_config cfg = { .issuer = ISS, .audience = AUD };
	struct oauth *o;
	char *url, *c = claims("", 300), *err = NULL;
	unsigned fetches;

	test_begin("oauth: JWKS over https, fetched at start");
	test_assert_inteq(srv_start(), 0);
	srv_set(&srv.jwks_doc, ts_jwks(keys, 1), 200);
	url = ts_printf("https://127.0.0.1:%d/jwks", srv.port);
	cfg.jwks_url = url;
	cfg.ca_file = srv.ca_path;
	cfg.jwks_refresh_sec = 600;
	o = new_oauth(&cfg);
	test_assert(o != NULL);
	if (o == NULL)
		goto out;
	test_assert_inteq(srv.jwks_hits, 1);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "ok");
	test_assert_inteq(srv.jwks_hits, 1);       /* cached */
	test_end();

	test_begin("oauth: key rotation: an unknown kid refetches, at most once a minute");
	srv_set(&srv.jwks_doc, ts_jwks(&next, 1), 200);
	test_assert_streq(verify_signed(o, &next, NULL, c), "ok");
	test_assert_inteq(srv.jwks_hits, 2);
	test_assert_streq(verify_signed(o, &keys[0], NULL, c), "unknown key id");  /* rotated out */
	test_assert_inteq(srv.jwks_hits, 2);       /* rate-limited */
	test_assert_streq(verify_signed(o, &other, NULL, c), "unknown key id");
	test_assert_inteq(srv.jwks_hits, 2);
	fake_now += JWKS_MISS_REFETCH_SEC;
	test_assert_streq(verify_signed(o, &other, NULL, c), "unknown key id");
	test_assert_inteq(srv.jwks_hits, 3);
	test_assert_streq(verify_signed(o, &other, NULL, c), "unknown key id");
	test_assert_inteq(srv.jwks_hits, 3);
	free(c);
	c = claims("", 300);
	test_end();

	test_begin("oauth: the cache survives a failed refresh");
	srv_set(NULL, NULL, 500);
	fake_now += 601;                           /* refresh due */
	free(c);
	c = claims("", 300);
	fetches = jwks_fetch_count(oauth_jwks(o));
	test_assert_streq(verify_signed(o, &next, NULL, c), "ok");
	test_assert_inteq(jwks_fetch_count(oauth_jwks(o)), fetches + 1);
	test_assert_streq(verify_signed(o, &next, NULL, c), "ok");
	test_assert_inteq(jwks_fetch_count(oauth_jwks(o)), fetches + 1); /* retry waits */
	srv_set(&srv.jwks_doc, strdup("{\"keys\":[]}"), 200);    /* an empty set is a failure too */
	fake_now += JWKS_RETRY_SEC;
	free(c);
	c = claims("", 300);
	test_assert_streq(verify_signed(o, &next, NULL, c), "ok");
	test_assert_inteq(jwks_fetch_count(oauth_jwks(o)), fetches + 2);
	srv_set(&srv.jwks_doc, ts_jwks(&other, 1), 200);
	fake_now += JWKS_RETRY_SEC;
	free(c);
	c = claims("", 300);
	test_assert_streq(verify_signed(o, &other, NULL, c), "ok");
	test_assert_streq(verify_signed(o, &next, NULL, c), "unknown key id");
	test_end();

	test_begin("oauth: verifiers on several threads share the set");
	{
		struct hammer h[4];
		pthread_t th[4];

		for (int i = 0; i < 4; i++) {
			h[i] = (struct hammer){ .o = o, .token = ts_sign(&other, NULL, c) };
			pthread_create(&th[i], NULL, hammer_main, &h[i]);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			test_assert_inteq(h[i].ok, 50);
			free(h[i].token);
		}
	}
	test_end();
	oauth_free(&o);

	test_begin("oauth: provider down at start, keys arrive later");
	srv_set(NULL, NULL, 503);
	o = new_oauth(&cfg);
	test_assert(o != NULL);
	test_assert_streq(verify_signed(o, &other, NULL, c), "keys unavailable");
	srv_set(NULL, NULL, 200);
	test_assert_streq(verify_signed(o, &other, NULL, c), "keys unavailable"); /* retry waits */
	fake_now += 10;
	test_assert_streq(verify_signed(o, &other, NULL, c), "ok");
	oauth_free(&o);
	test_end();

	test_begin("oauth: untrusted certificate and oversized document");
	cfg.ca_file = NULL;                        /* the system store does not know our CA */
	o = new_oauth(&cfg);
	test_assert_streq(verify_signed(o, &other, NULL, c), "keys unavailable");
	oauth_free(&o);
	cfg.ca_file = srv.ca_path;
	{
		char *big = malloc(JWKS_DOC_MAX + 100);

		memset(big, ' ', JWKS_DOC_MAX + 99);
		big[JWKS_DOC_MAX + 99] = '\0';
		memcpy(big, "{\"keys\":", 8);
		srv_set(&srv.jwks_doc, big, 200);
	}
	o = new_oauth(&cfg);
	test_assert_streq(verify_signed(o, &other, NULL, c), "keys unavailable");
	oauth_free(&o);
	test_end();

	test_begin("oauth: RFC 7662 introspection for opaque tokens");
	cfg.jwks_url = NULL;
	cfg.introspection_url = ts_printf("https://127.0.0.1:%d/introspect", srv.port);
	cfg.introspection_client_id = "tern";
	cfg.introspection_client_secret = "s3:cr/t";
	o = new_oauth(&cfg);
	test_assert(o != NULL && err == NULL);
	srv_set(&srv.introspect_doc, ts_printf("{\"active\":true,\"iss\":\"" ISS "\",\"aud\":\"" AUD "\","
	                                       "\"exp\":%ld,\"email\":\"Bob@Example.com\"}", (long)fake_now + 60), 200);
	test_assert_streq(verify(o, "opaque-Token_1~"), "ok");
	test_assert_streq(u, "bob@example.com");
	test_assert_streq(srv.last_body, "token=opaque-Token_1~&token_type_hint=access_token");
	/* "tern:s3%3Acr%2Ft" */
	test_assert_streq(srv.last_auth, "Basic dGVybjpzMyUzQWNyJTJGdA==");
	/* a JWT is introspected too when no JWKS is configured */
	test_assert_streq(verify(o, "a.b.c"), "ok");
	srv_set(&srv.introspect_doc, strdup("{\"active\":false}"), 200);
	test_assert_streq(verify(o, "opaque"), "inactive token");
	srv_set(&srv.introspect_doc, strdup("{\"active\":\"true\",\"email\":\"a@b\"}"), 200);
	test_assert_streq(verify(o, "opaque"), "inactive token");
	srv_set(&srv.introspect_doc, strdup("{\"active\":true,\"email\":\"a@b\"}"), 200);
	test_assert_streq(verify(o, "opaque"), "ok");         /* iss, aud, exp optional here */
	srv_set(&srv.introspect_doc, ts_printf("{\"active\":true,\"email\":\"a@b\",\"exp\":%ld}", (long)fake_now - 100), 200);
	test_assert_streq(verify(o, "opaque"), "expired");
	srv_set(&srv.introspect_doc, strdup("{\"active\":true,\"email\":\"a@b\",\"aud\":\"x\"}"), 200);
	test_assert_streq(verify(o, "opaque"), "wrong audience");
	srv_set(&srv.introspect_doc, strdup("{\"active\":true,\"email\":\"a@b\",\"iss\":\"x\"}"), 200);
	test_assert_streq(verify(o, "opaque"), "wrong issuer");
	srv_set(&srv.introspect_doc, strdup("{\"active\":true}"), 200);
	test_assert_streq(verify(o, "opaque"), "no user claim");
	srv_set(&srv.introspect_doc, strdup("not json"), 200);
	test_assert_streq(verify(o, "opaque"), "introspection failed");
	srv_set(NULL, NULL, 401);
	test_assert_streq(verify(o, "opaque"), "introspection failed");
	test_assert_streq(verify(o, "bad token"), "malformed");          /* never sent */
	oauth_free(&o);
	free((char *)cfg.introspection_url);
	test_end();
out:
	srv_stop();
	free(url);
	free(c);
	ts_key_free(&next);
	ts_key_free(&other);
}

int
main(void)
{
	struct tkey keys[3];

	/* The test's https server writes to clients (libcurl) that may
	 * have hung up already: a closed socket must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(dir) == NULL)
		return 1;
	fake_now = time(NULL);
	keys[0] = ts_key_new("RS256", "rsa1");
	keys[1] = ts_key_new("ES256", "ec1");
	keys[2] = ts_key_new("EdDSA", "ed1");
	test_file_policy(keys, 3);
	test_config_errors();
	test_https(keys);
	for (int i = 0; i < 3; i++)
		ts_key_free(&keys[i]);
	rmdir(dir);
	return test_done();
}
