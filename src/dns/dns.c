/* The resolver's lifecycle: two libunbound contexts configured alike
 * (see dns_private.h for why two). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns/dns_private.h"
#include "lib/xalloc.h"

#define DNS_ROOT_KEY "/usr/share/dns/root.key"   /* Debian's dns-root-data */

static void
set_error(char **error_out, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (error_out != NULL)
		*error_out = s != NULL ? s : xstrdup("dns: out of memory");
	else
		free(s);
}

/* "IP", "IP:PORT", "[IPv6]" or "[IPv6]:PORT" to libunbound's "IP@PORT"
 * in out.  Returns 0 or -1. */
static int
resolver_addr(const char *in, char *out, size_t size)
{
	char ip[INET6_ADDRSTRLEN];
	const char *port = NULL, *colon = strchr(in, ':');
	unsigned char bin[16];
	size_t iplen;

	if (in[0] == '[') {
		const char *end = strchr(in, ']');

		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -1;
		iplen = (size_t)(end - in - 1);
		if (iplen >= sizeof(ip))
			return -1;
		memcpy(ip, in + 1, iplen);
		port = end[1] == ':' ? end + 2 : NULL;
	} else if (colon != NULL && strchr(colon + 1, ':') == NULL) {
		iplen = (size_t)(colon - in);   /* IPv4:PORT */
		if (iplen >= sizeof(ip))
			return -1;
		memcpy(ip, in, iplen);
		port = colon + 1;
	} else {
		iplen = strlen(in);             /* IPv4, or IPv6 without a port */
		if (iplen >= sizeof(ip))
			return -1;
		memcpy(ip, in, iplen);
	}
	ip[iplen] = '\0';
	if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
		return -1;
	if (port != NULL) {
		char *end;
		unsigned long n = strtoul(port, &end, 10);

		if (*port == '\0' || *end != '\0' || n == 0 || n > 65535)
			return -1;
		snprintf(out, size, "%s@%lu", ip, n);
	} else {
		snprintf(out, size, "%s", ip);
	}
	return 0;
}

static int
ctx_option(struct ub_ctx *ctx, const char *opt, const char *val, char **error_out)
{
	int r = ub_ctx_set_option(ctx, opt, val);

	if (r != 0) {
		set_error(error_out, "dns: option %s %s: %s", opt, val, ub_strerror(r));
		return -1;
	}
	return 0;
}

static int
ctx_trust(struct ub_ctx *ctx, const struct dns_settings *set, char **error_out)
{
	const char *file = set->trust_anchor_file;
	int r;

	if (file != NULL && strcmp(file, "none") == 0)
		/* no validator at all: answers are neither secure nor bogus */
		return ctx_option(ctx, "module-config:", "iterator", error_out);
	if (file == NULL && set->trust_anchor == NULL && access(DNS_ROOT_KEY, R_OK) == 0)
		file = DNS_ROOT_KEY;
	/* libunbound reads the file only at its first query, where a
	 * failure would turn every lookup into DNS_TEMPFAIL: check now */
	if (file != NULL && access(file, R_OK) == -1) {
		set_error(error_out, "dns: trust anchor file %s: %s", file, strerror(errno));
		return -1;
	}
	if (file != NULL && (r = ub_ctx_add_ta_file(ctx, file)) != 0) {
		set_error(error_out, "dns: trust anchor file %s: %s", file, ub_strerror(r));
		return -1;
	}
	if (set->trust_anchor != NULL && (r = ub_ctx_add_ta(ctx, set->trust_anchor)) != 0) {
		set_error(error_out, "dns: trust anchor: %s", ub_strerror(r));
		return -1;
	}
	return 0;
}

static struct ub_ctx *
ctx_new(const struct dns_settings *set, char **error_out)
{
	struct ub_ctx *ctx = ub_ctx_create();
	char fwd[INET6_ADDRSTRLEN + 8];
	int r;

	if (ctx == NULL) {
		set_error(error_out, "dns: cannot create a libunbound context");
		return NULL;
	}
	/* a thread, not a fork, answers async queries: a forked child would
	 * carry the whole server's memory and descriptors */
	if ((r = ub_ctx_async(ctx, 1)) != 0) {
		set_error(error_out, "dns: async: %s", ub_strerror(r));
		goto fail;
	}
	/* Forwarding (ub_ctx_set_fwd, also what ub_ctx_resolvconf does) may
	 * go to the loopback without "do-not-query-localhost: no": that
	 * option only guards iteration (libunbound 1.17, checked). */
	if (set->resolver == NULL || set->resolver[0] == '\0') {
		if ((r = ub_ctx_resolvconf(ctx, NULL)) != 0) {
			set_error(error_out, "dns: /etc/resolv.conf: %s", ub_strerror(r));
			goto fail;
		}
	} else {
		if (resolver_addr(set->resolver, fwd, sizeof(fwd)) == -1) {
			set_error(error_out, "dns: bad resolver address: %s", set->resolver);
			goto fail;
		}
		if ((r = ub_ctx_set_fwd(ctx, fwd)) != 0) {
			set_error(error_out, "dns: resolver %s: %s", set->resolver, ub_strerror(r));
			goto fail;
		}
	}
	/* libunbound answers names under "test." (RFC 6761) itself, with
	 * NXDOMAIN, as a recursive resolver would; "transparent" lets the
	 * server we ask decide (test setups name their hosts there;
	 * "nodefault" does not lift it in libunbound 1.17). */
	if (ctx_option(ctx, "local-zone:", "test. transparent", error_out) == -1)
		goto fail;
	if (ctx_trust(ctx, set, error_out) == -1)
		goto fail;
	return ctx;
fail:
	ub_ctx_delete(ctx);
	return NULL;
}

struct dns *
dns_new(const struct dns_settings *set, char **error_out)
{
	struct dns *d = xcalloc(1, sizeof(*d));
	pthread_condattr_t ca;

	d->timeout_ms = set->timeout_ms != 0 ? set->timeout_ms : DNS_TIMEOUT_MS;
	if ((d->sync_ctx = ctx_new(set, error_out)) == NULL ||
	    (d->async_ctx = ctx_new(set, error_out)) == NULL) {
		if (d->sync_ctx != NULL)
			ub_ctx_delete(d->sync_ctx);
		free(d);
		return NULL;
	}
	pthread_mutex_init(&d->sync_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->sync_cond, &ca);
	pthread_condattr_destroy(&ca);
	return d;
}

void
dns_free(struct dns **dp)
{
	struct dns *d = *dp;

	if (d == NULL)
		return;
	if (d->loop != NULL)
		dns_detach_loop(d);
	/* stops the background threads; queries cancelled after a timeout
	 * and still unanswered are freed here */
	ub_ctx_delete(d->sync_ctx);
	ub_ctx_delete(d->async_ctx);
	pthread_cond_destroy(&d->sync_cond);
	pthread_mutex_destroy(&d->sync_mu);
	free(d);
	*dp = NULL;
}

const char *
dns_status_name(enum dns_status s)
{
	switch (s) {
	case DNS_OK: return "ok";
	case DNS_NXDOMAIN: return "nxdomain";
	case DNS_NODATA: return "nodata";
	case DNS_TEMPFAIL: return "tempfail";
	case DNS_PERMFAIL: return "permfail";
	}
	return "unknown";
}
