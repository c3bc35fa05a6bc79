/* OpenSSL server contexts.  TLS 1.2 at least (DESIGN.md promise 4), the
 * server's cipher preference, forward-secret AEAD suites only, no
 * compression, no renegotiation, and small idle memory
 * (SSL_MODE_RELEASE_BUFFERS).  TLS 1.3 is preferred simply by being the
 * highest version both sides speak.  Extra certificates are picked by the
 * client's SNI name in the servername callback. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/tls.h"
#include "lib/xalloc.h"

/* One generation of contexts: the default one and the SNI ones.  A
 * connection holds a reference on the SSL_CTX it uses (OpenSSL counts),
 * so a reload can drop the old generation at once. */
struct tls_gen {
	struct tls_gen *retired;           /* the generation this one replaced */
	SSL_CTX *ctx;
	SSL_CTX *sni[TLS_SNI_MAX];
	X509 *sni_x509[TLS_SNI_MAX];       /* owned by the contexts */
	size_t n_sni;
};

struct tls_server {
	pthread_mutex_t lock;
	struct tls_gen *gen;
	struct tls_settings set;           /* strings owned */
};

static char *
openssl_error(const char *what)
{
	char buf[256], *e;
	unsigned long code = ERR_get_error();

	ERR_error_string_n(code, buf, sizeof(buf));
	ERR_clear_error();
	if (asprintf(&e, "%s: %s", what, code != 0 ? buf : "unknown error") < 0)
		e = xstrdup(what);
	return e;
}

static SSL_CTX *
ctx_build(const struct tls_settings *set, const char *cert, const char *key, char **error_out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*error_out = openssl_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, set->min_version);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                         SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tern", 4);
	if (SSL_CTX_set_cipher_list(ctx, set->ciphers != NULL ? set->ciphers : TLS_DEFAULT_CIPHERS) != 1) {
		*error_out = openssl_error("[tls] ciphers");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (set->ciphersuites != NULL && SSL_CTX_set_ciphersuites(ctx, set->ciphersuites) != 1) {
		*error_out = openssl_error("[tls] ciphersuites");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*error_out = openssl_error(cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		*error_out = openssl_error(key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Picks the SNI certificate that covers the name the client asked for;
 * the default one otherwise. */
static int
servername_cb(SSL *ssl, int *alert, void *arg)
{
	struct tls_gen *gen = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	for (size_t i = 0; i < gen->n_sni; i++) {
		if (X509_check_host(gen->sni_x509[i], name, 0, 0, NULL) == 1) {
			SSL_set_SSL_CTX(ssl, gen->sni[i]);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	return SSL_TLSEXT_ERR_OK;
}

static void
gen_free(struct tls_gen *gen)
{
	while (gen != NULL) {
		struct tls_gen *older = gen->retired;

		SSL_CTX_free(gen->ctx);
		for (size_t i = 0; i < gen->n_sni; i++)
			SSL_CTX_free(gen->sni[i]);
		free(gen);
		gen = older;
	}
}

static struct tls_gen *
gen_build(const struct tls_settings *set, char **error_out)
{
	struct tls_gen *gen = xcalloc(1, sizeof(*gen));

	gen->ctx = ctx_build(set, set->cert, set->key, error_out);
	if (gen->ctx == NULL)
		goto fail;
	for (size_t i = 0; i < set->n_sni; i++) {
		gen->sni[i] = ctx_build(set, set->sni_cert[i], set->sni_key[i], error_out);
		if (gen->sni[i] == NULL)
			goto fail;
		gen->n_sni++;
		gen->sni_x509[i] = SSL_CTX_get0_certificate(gen->sni[i]);
	}
	if (gen->n_sni > 0) {
		SSL_CTX_set_tlsext_servername_callback(gen->ctx, servername_cb);
		SSL_CTX_set_tlsext_servername_arg(gen->ctx, gen);
	}
	return gen;
fail:
	gen_free(gen);
	return NULL;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct tls_server *
tls_server_new(const struct tls_settings *set, char **error_out)
{
	struct tls_server *ts = xcalloc(1, sizeof(*ts));

	pthread_mutex_init(&ts->lock, NULL);
	ts->set.cert = xstrdup(set->cert);
	ts->set.key = xstrdup(set->key);
	ts->set.min_version = set->min_version;
	ts->set.ciphers = dup_or_null(set->ciphers);
	ts->set.ciphersuites = dup_or_null(set->ciphersuites);
	for (size_t i = 0; i < set->n_sni && i < TLS_SNI_MAX; i++) {
		ts->set.sni_cert[i] = xstrdup(set->sni_cert[i]);
		ts->set.sni_key[i] = xstrdup(set->sni_key[i]);
		ts->set.n_sni++;
	}
	ts->gen = gen_build(&ts->set, error_out);
	if (ts->gen == NULL) {
		tls_server_free(&ts);
		return NULL;
	}
	return ts;
}

void
tls_server_free(struct tls_server **tsp)
{
	struct tls_server *ts = *tsp;

	if (ts == NULL)
		return;
	gen_free(ts->gen);
	free((char *)ts->set.cert);
	free((char *)ts->set.key);
	free((char *)ts->set.ciphers);
	free((char *)ts->set.ciphersuites);
	for (size_t i = 0; i < ts->set.n_sni; i++) {
		free((char *)ts->set.sni_cert[i]);
		free((char *)ts->set.sni_key[i]);
	}
	pthread_mutex_destroy(&ts->lock);
	free(ts);
	*tsp = NULL;
}

int
tls_server_reload(struct tls_server *ts, char **error_out)
{
	struct tls_gen *gen = gen_build(&ts->set, error_out), *old;

	if (gen == NULL)
		return -1;
	pthread_mutex_lock(&ts->lock);
	old = ts->gen;
	/* Connections hold references on their contexts, but a handshake in
	 * progress may still call the old generation's servername callback,
	 * which reads the generation: old ones are kept until the end (a
	 * reload is rare; each costs a few KiB). */
	gen->retired = old;
	ts->gen = gen;
	pthread_mutex_unlock(&ts->lock);
	return 0;
}

SSL *
tls_server_new_ssl(struct tls_server *ts)
{
	SSL *ssl;

	pthread_mutex_lock(&ts->lock);
	ssl = SSL_new(ts->gen->ctx);
	pthread_mutex_unlock(&ts->lock);
	return ssl;
}
