/* OpenSSL server contexts.  TLS 1.2 at least (DESIGN.md promise 4), the
 * server's cipher preference, no compression, no renegotiation, and small
 * idle memory (SSL_MODE_RELEASE_BUFFERS). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/tls.h"
#include "lib/xalloc.h"

struct tls_server {
	pthread_mutex_t lock;
	SSL_CTX *ctx;
	char *cert;
	char *key;
	int min_version;
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
ctx_build(const struct tls_server *ts, char **error_out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*error_out = openssl_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, ts->min_version);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                         SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
	                      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tern", 4);
	if (SSL_CTX_set_cipher_list(ctx, "HIGH:!aNULL:!MD5:!RC4:!3DES:!CAMELLIA:!ARIA:!SHA1:!kRSA") != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, ts->cert) != 1) {
		*error_out = openssl_error(ts->cert);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, ts->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*error_out = openssl_error(ts->key);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct tls_server *
tls_server_new(const char *cert, const char *key, int min_version, char **error_out)
{
	struct tls_server *ts = xcalloc(1, sizeof(*ts));

	pthread_mutex_init(&ts->lock, NULL);
	ts->cert = xstrdup(cert);
	ts->key = xstrdup(key);
	ts->min_version = min_version;
	ts->ctx = ctx_build(ts, error_out);
	if (ts->ctx == NULL) {
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
	SSL_CTX_free(ts->ctx);
	free(ts->cert);
	free(ts->key);
	pthread_mutex_destroy(&ts->lock);
	free(ts);
	*tsp = NULL;
}

int
tls_server_reload(struct tls_server *ts, char **error_out)
{
	SSL_CTX *ctx = ctx_build(ts, error_out), *old;

	if (ctx == NULL)
		return -1;
	pthread_mutex_lock(&ts->lock);
	old = ts->ctx;
	ts->ctx = ctx;
	pthread_mutex_unlock(&ts->lock);
	/* Connections hold their own reference: freeing ours is safe. */
	SSL_CTX_free(old);
	return 0;
}

SSL *
tls_server_new_ssl(struct tls_server *ts)
{
	SSL *ssl;

	pthread_mutex_lock(&ts->lock);
	ssl = SSL_new(ts->ctx);
	pthread_mutex_unlock(&ts->lock);
	return ssl;
}
