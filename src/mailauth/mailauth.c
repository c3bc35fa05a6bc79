/* The process-wide resolver of the inbound checks, and the DNS callbacks
 * that SPF, DKIM and DMARC are given (mailauth.h). */
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mailauth/mailauth.h"
#include "mailauth/mailauth_private.h"

static struct dns *inbound_dns;

int
mailauth_start(const struct tern_config *cfg, char **error_out)
{
	struct dns_settings ds = { 0 };
	char *err = NULL;

	if (!cfg->inbound.checks)
		return 0;
	/* the same settings as the queue runner's resolver (queue_runner.c),
	 * with a shorter wait: the checks hold a worker thread, which IMAP and
	 * POP3 share, while DNS answers (a whole check is at most ~20 lookups) */
	ds.resolver = cfg->delivery.resolver;
	ds.timeout_ms = 3000;
	ds.trust_anchor_file = cfg->delivery.dnssec_trust_anchor[0] != '\0' ? cfg->delivery.dnssec_trust_anchor : NULL;
	if ((inbound_dns = dns_new(&ds, &err)) == NULL) {
		*error_out = xasprintf("dns: %s", err != NULL ? err : "?");
		free(err);
		return -1;
	}
	if (dmarc_psl_load(NULL) == -1)
		log_info("inbound checks: no Public Suffix List, organisational domains by the two-label rule");
	return 0;
}

void
mailauth_stop(void)
{
	dns_free(&inbound_dns);
	dmarc_psl_free();
}

bool
mailauth_enabled(void)
{
	return inbound_dns != NULL;
}

static int
spf_txt(void *arg, const char *name, struct dns_txt_list *out)
{
	return dns_txt_sync(arg, name, out);
}

static int
spf_addr(void *arg, const char *name, struct dns_addr_list *out)
{
	return dns_addr_sync(arg, name, out);
}

static int
spf_mx(void *arg, const char *name, struct dns_mx_list *out)
{
	return dns_mx_sync(arg, name, out);
}

void
mailauth_spf_dns(struct spf_dns *out)
{
	out->txt = spf_txt;
	out->addr = spf_addr;
	out->mx = spf_mx;
	out->arg = inbound_dns;
}

/* dkim_txt_lookup on dns_txt_sync, mapped as dkim.h asks. */
enum dkim_lookup
mailauth_dkim_lookup(void *arg, const char *name, struct dkim_txt *out)
{
	struct dns_txt_list *l = malloc(sizeof(*l));
	enum dkim_lookup r;

	if (l == NULL)
		return DKIM_LOOKUP_TEMPFAIL;
	if (dns_txt_sync(inbound_dns, name, l) == -1) {
		free(l);
		return DKIM_LOOKUP_PERMFAIL;
	}
	switch (l->status) {
	case DNS_OK:
		r = DKIM_LOOKUP_OK;
		break;
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		r = DKIM_LOOKUP_NONE;
		break;
	case DNS_TEMPFAIL:
		r = DKIM_LOOKUP_TEMPFAIL;
		break;
	default:
		r = DKIM_LOOKUP_PERMFAIL;
		break;
	}
	for (size_t i = 0; r == DKIM_LOOKUP_OK && i < l->n && out->n < DKIM_TXT_RECORDS_MAX; i++) {
		if (strlen(l->txt[i]) <= DKIM_KEY_RECORD_MAX)
			memcpy(out->rec[out->n++], l->txt[i], strlen(l->txt[i]) + 1);
	}
	if (r == DKIM_LOOKUP_OK && out->n == 0)
		r = DKIM_LOOKUP_NONE;
	free(l);
	return r;
}

/* dmarc_txt_lookup: 0 with the records (or none), 1 temporary failure. */
int
mailauth_dmarc_lookup(void *arg, const char *name, char (*recs)[DMARC_RECORD_MAX + 1], size_t max, size_t *n_out)
{
	struct dns_txt_list *l = malloc(sizeof(*l));
	int r = 0;

	*n_out = 0;
	if (l == NULL)
		return 1;
	if (dns_txt_sync(inbound_dns, name, l) == -1) {
		free(l);
		return 0;
	}
	if (l->status == DNS_TEMPFAIL)
		r = 1;
	for (size_t i = 0; l->status == DNS_OK && i < l->n && *n_out < max; i++) {
		if (strlen(l->txt[i]) <= DMARC_RECORD_MAX)
			memcpy(recs[(*n_out)++], l->txt[i], strlen(l->txt[i]) + 1);
	}
	free(l);
	return r;
}
