/* The client's TLS for STARTTLS, one SSL per connection under the
 * session's policy: opportunistic (any certificate: RFC 7435, better than
 * plain text), required (the chain and the MX name, RFC 6125), or DANE
 * (the TLSA records of the MX, RFC 7672: DANE-TA(2) and DANE-EE(3) only,
 * and no name check for DANE-EE; DANE-TA checks the MX host name and
 * the next-hop domain, RFC 7672 3.2.2), or encrypt (STARTTLS that must
 * happen, certificate not checked). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "mta/mta_private.h"

/* Contexts are made once per thread and policy (and CA file), not per
 * connection: loading the system's CA store costs milliseconds.  Sessions
 * of one thread share them; mta_tls_thread_end() frees them. */
#define MTA_TLS_CTX_CACHE 4
static __thread struct {
	enum mta_tls tls;
	char ca_file[256];
	SSL_CTX *ctx;
} ctx_cache[MTA_TLS_CTX_CACHE];

static SSL_CTX *
ctx_make(const struct mta_params *p, const char **error_out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		*error_out = "SSL_CTX_new failed";
		return NULL;
	}
	if (p->tls == MTA_TLS_REQUIRED) {
		if ((p->ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, p->ca_file, NULL)
		                        : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
			*error_out = "cannot load the trusted CAs";
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else if (p->tls == MTA_TLS_DANE) {
		if (SSL_CTX_dane_enable(ctx) <= 0) {
			*error_out = "cannot enable DANE";
			SSL_CTX_free(ctx);
			return NULL;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
}

/* The thread's context for p's policy, made on first use; a new
 * reference the caller frees. */
static SSL_CTX *
ctx_get(const struct mta_params *p, const char **error_out)
{
	const char *ca = p->tls == MTA_TLS_REQUIRED && p->ca_file != NULL ? p->ca_file : "";
	size_t i, free_slot = MTA_TLS_CTX_CACHE;
	SSL_CTX *ctx;

	for (i = 0; i < MTA_TLS_CTX_CACHE; i++) {
		if (ctx_cache[i].ctx == NULL) {
			if (free_slot == MTA_TLS_CTX_CACHE)
				free_slot = i;
			continue;
		}
		if (ctx_cache[i].tls == p->tls && strcmp(ctx_cache[i].ca_file, ca) == 0) {
			SSL_CTX_up_ref(ctx_cache[i].ctx);
			return ctx_cache[i].ctx;
		}
	}
	if ((ctx = ctx_make(p, error_out)) == NULL)
		return NULL;
	if (free_slot < MTA_TLS_CTX_CACHE && strlen(ca) < sizeof(ctx_cache[0].ca_file)) {
		ctx_cache[free_slot].tls = p->tls;
		snprintf(ctx_cache[free_slot].ca_file, sizeof(ctx_cache[0].ca_file), "%s", ca);
		ctx_cache[free_slot].ctx = ctx;
		SSL_CTX_up_ref(ctx);
	}
	return ctx;
}

void
mta_tls_thread_end(void)
{
	for (size_t i = 0; i < MTA_TLS_CTX_CACHE; i++) {
		SSL_CTX_free(ctx_cache[i].ctx);
		ctx_cache[i].ctx = NULL;
	}
}

SSL *
mta_tls_new_ssl(const struct mta_session *s, const char **error_out)
{
	const struct mta_params *p = &s->p;
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	size_t usable = 0;

	if ((p->tls == MTA_TLS_REQUIRED || p->tls == MTA_TLS_DANE) && p->tls_name == NULL) {
		*error_out = "no name to verify";
		goto fail;
	}
	if ((ctx = ctx_get(p, error_out)) == NULL)
		goto fail;
	if ((ssl = SSL_new(ctx)) == NULL) {
		*error_out = "SSL_new failed";
		goto fail;
	}
	if (p->tls_name != NULL && SSL_set_tlsext_host_name(ssl, p->tls_name) != 1) {
		*error_out = "bad SNI name";
		goto fail;
	}
	if (p->tls == MTA_TLS_REQUIRED && SSL_set1_host(ssl, p->tls_name) != 1) {
		*error_out = "bad name to verify";
		goto fail;
	}
	if (p->tls == MTA_TLS_DANE) {
		if (SSL_dane_enable(ssl, p->tls_name) <= 0) {
			*error_out = "cannot enable DANE";
			goto fail;
		}
		SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
		/* SSL_dane_enable made tls_name (the MX host, the TLSA base
		 * domain) a reference identifier; the next-hop domain is the
		 * other one RFC 7672 3.2.2 allows for DANE-TA(2) */
		if (p->tls_domain != NULL && strcasecmp(p->tls_domain, p->tls_name) != 0 &&
		    SSL_add1_host(ssl, p->tls_domain) != 1) {
			*error_out = "bad next-hop domain to verify";
			goto fail;
		}
		for (size_t i = 0; i < s->tlsa.n; i++) {
			const struct dns_tlsa *t = &s->tlsa.tlsa[i];

			if (t->usage != 2 && t->usage != 3)
				continue;   /* RFC 7672 3.1.3: PKIX-TA/EE are not for SMTP */
			if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
				usable++;
		}
		if (usable == 0) {
			*error_out = "no usable TLSA record";
			goto fail;
		}
	}
	SSL_CTX_free(ctx);    /* the SSL holds its own reference */
	return ssl;
fail:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

SSL *
mta_tls_client_ssl(const char *host, const char *ca_file, bool verify, const char **error_out)
{
	struct mta_params p = { .tls = verify ? MTA_TLS_REQUIRED : MTA_TLS_ENCRYPT, .ca_file = ca_file,
	                        .tls_name = host };
	unsigned char ip[16];
	bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
	SSL_CTX *ctx;
	SSL *ssl;

	if ((ctx = ctx_get(&p, error_out)) == NULL)
		return NULL;
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);    /* the SSL holds its own reference */
	if (ssl == NULL) {
		*error_out = "SSL_new failed";
		goto fail;
	}
	/* RFC 6066 3: no SNI for an address; RFC 6125: an address is checked
	 * against the certificate's iPAddress names */
	if (!is_ip && SSL_set_tlsext_host_name(ssl, host) != 1) {
		*error_out = "bad SNI name";
		goto fail;
	}
	if (verify && (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) != 1
	                     : SSL_set1_host(ssl, host) != 1)) {
		*error_out = "bad name to verify";
		goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	ERR_clear_error();
	return NULL;
}

const char *
mta_tls_verify_error(SSL *ssl)
{
	long v;

	if (ssl == NULL || (v = SSL_get_verify_result(ssl)) == X509_V_OK)
		return NULL;
	return X509_verify_cert_error_string(v);
}

int
mta_tls_dane_match(SSL *ssl, char *buf, size_t size)
{
	uint8_t usage, selector, mtype;
	const unsigned char *data;
	size_t len;
	int depth;

	if (ssl == NULL || (depth = SSL_get0_dane_tlsa(ssl, &usage, &selector, &mtype, &data, &len)) < 0)
		return -1;
	snprintf(buf, size, "%u %u %u depth=%d", usage, selector, mtype, depth);
	return 0;
}

const char *
mta_tls_policy_name(enum mta_tls tls)
{
	switch (tls) {
	case MTA_TLS_NONE:
		return "none";
	case MTA_TLS_OPPORTUNISTIC:
		return "opportunistic";
	case MTA_TLS_REQUIRED:
		return "required";
	case MTA_TLS_DANE:
		return "dane";
	case MTA_TLS_ENCRYPT:
		return "encrypt";
	}
	return "?";
}
