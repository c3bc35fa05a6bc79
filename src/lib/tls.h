/* The server side TLS context (OpenSSL): certificates, keys, minimum
 * version, cipher lists, and extra certificates chosen by SNI name.
 * Reloadable at run time (SIGHUP): connections that are already up keep
 * the context they started with; new ones get the new one. */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <stddef.h>

typedef struct ssl_st SSL;
struct tls_server;

#define TLS_SNI_MAX 32   /* extra certificates */

struct tls_settings {
	const char *cert;              /* PEM chain of the default certificate */
	const char *key;
	int min_version;               /* TLS1_2_VERSION or TLS1_3_VERSION */
	const char *ciphers;           /* TLS 1.2 cipher list (OpenSSL syntax); NULL: Tern's default */
	const char *ciphersuites;      /* TLS 1.3 suites; NULL: OpenSSL's default */
	/* Extra certificates: a client whose SNI name one of them covers
	 * (subjectAltName or CN, wildcards as X509_check_host) gets it. */
	const char *sni_cert[TLS_SNI_MAX];
	const char *sni_key[TLS_SNI_MAX];
	size_t n_sni;
};

/* Builds the contexts.  Returns NULL with a malloc'd message in
 * *error_out on failure.  The settings' strings are copied. */
struct tls_server *tls_server_new(const struct tls_settings *set, char **error_out);
void tls_server_free(struct tls_server **ts);
/* Reads every certificate and key again.  On failure the old ones stay. */
int tls_server_reload(struct tls_server *ts, char **error_out);
/* A new SSL object in server mode from the current context, or NULL. */
SSL *tls_server_new_ssl(struct tls_server *ts);

/* Tern's default TLS 1.2 cipher list: forward secrecy and AEAD only. */
#define TLS_DEFAULT_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES"

#endif
