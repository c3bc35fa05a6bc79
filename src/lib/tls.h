/* The server side TLS context (OpenSSL): certificate, key, minimum version.
 * Reloadable at run time (SIGHUP): connections that are already up keep
 * the context they started with; new ones get the new one. */
#ifndef TERN_TLS_H
#define TERN_TLS_H

typedef struct ssl_st SSL;
struct tls_server;

/* min_version: TLS1_2_VERSION or TLS1_3_VERSION.  Returns NULL with a
 * malloc'd message in *error_out on failure. */
struct tls_server *tls_server_new(const char *cert, const char *key, int min_version, char **error_out);
void tls_server_free(struct tls_server **ts);
/* Reads the certificate and key again.  On failure the old ones stay. */
int tls_server_reload(struct tls_server *ts, char **error_out);
/* A new SSL object in server mode from the current context, or NULL. */
SSL *tls_server_new_ssl(struct tls_server *ts);

#endif
