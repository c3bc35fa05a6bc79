/* DANE for SMTP (RFC 7672) in the delivery agent, with [delivery] tls =
 * dane.  Only a destination whose MX answer is DNSSEC-secure (no MX: the
 * secure denial and the domain's secure addresses) gets TLSA lookups, one
 * per MX host at _<mx_port>._tcp.<host>, made as its secure addresses
 * arrive (2.2.2).  Per host:
 *   secure TLSA, some usable (DANE-TA(2), DANE-EE(3))  -> MTA_TLS_DANE;
 *   secure TLSA, none usable                           -> TLS, unauthenticated (2.2);
 *   secure NODATA or NXDOMAIN                          -> not DANE (the configured policy);
 *   insecure answer                                    -> not DANE;
 *   failure (SERVFAIL, timeout, bogus)                 -> the host is not used: a
 *                                                         temporary failure, never a
 *                                                         downgrade (2.2.1).
 * The host name after CNAME expansion is not tried as TLSA base domain
 * (2.2.2 allows it): the MX host name as listed is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue_runner_private.h"

bool
qdane_wanted(const struct qdest *d, const struct dns_addr_list *res)
{
	return qr.cfg->delivery.tls == DELIVERY_TLS_DANE && strcmp(d->domain, "[relay]") != 0 && d->domain[0] != '[' &&
	       d->mx_secure && res->status == DNS_OK && res->secure;
}

void
qdane_lookup(struct qdest *d, const char *host, dns_tlsa_cb *cb)
{
	char name[DNS_NAME_MAX + 32];

	/* too long for DNS: dns_tlsa_async answers DNS_PERMFAIL, and the
	 * host is not used, as for any other failed lookup */
	snprintf(name, sizeof(name), "_%u._tcp.%s", (unsigned)qr.cfg->delivery.mx_port, host);
	dns_tlsa_async(qr.dns, name, cb, d);
}

/* RFC 7672 3.1.3 (PKIX-TA(0) and PKIX-EE(1) are not for SMTP) and RFC
 * 6698 2.1: what OpenSSL's DANE takes (mta_tls.c). */
static bool
usable(const struct dns_tlsa *t)
{
	if ((t->usage != 2 && t->usage != 3) || t->selector > 1)
		return false;
	switch (t->mtype) {
	case 0:
		return t->len > 0;   /* the whole certificate or key */
	case 1:
		return t->len == 32;   /* SHA2-256 */
	case 2:
		return t->len == 64;   /* SHA2-512 */
	}
	return false;
}

static size_t
usable_records(const struct dns_tlsa_list *res)
{
	size_t n = 0;

	for (size_t i = 0; i < res->n; i++) {
		if (usable(&res->tlsa[i]))
			n++;
	}
	return n;
}

static enum qaddr_dane
classify(const struct dns_tlsa_list *res, size_t *usable_out)
{
	*usable_out = 0;
	switch (res->status) {
	case DNS_OK:
		if (!res->secure)
			return QADDR_DANE_NONE;
		*usable_out = usable_records(res);
		return *usable_out > 0 ? QADDR_DANE : QADDR_DANE_ENCRYPT;
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		return QADDR_DANE_NONE;
	case DNS_PERMFAIL:
		/* secure records of which none parse here (data over
		 * DNS_TLSA_DATA_MAX: a whole certificate): present, unusable;
		 * a bogus answer is never secure */
		if (res->secure)
			return QADDR_DANE_ENCRYPT;
		break;
	case DNS_TEMPFAIL:
		break;
	}
	return QADDR_DANE_FAILED;
}

void
qdane_apply(struct qdest *d, const char *host, size_t first, const struct dns_tlsa_list *res)
{
	size_t usable;
	enum qaddr_dane dane = classify(res, &usable);

	for (size_t i = first; i < d->n_addr; i++) {
		struct qaddr *a = &d->addr[i];

		a->dane = dane;
		a->tlsa_status = res->status;
		if (dane == QADDR_DANE) {
			a->tlsa = xmalloc(sizeof(*a->tlsa));
			memcpy(a->tlsa, res, sizeof(*a->tlsa));
		}
	}
	switch (dane) {
	case QADDR_DANE:
		log_info("queue dest=%s host=%s dane=yes tlsa=%zu usable=%zu", d->domain, host, res->n, usable);
		break;
	case QADDR_DANE_ENCRYPT:
		log_info("queue dest=%s host=%s dane=unusable tlsa=%zu: TLS without authentication", d->domain, host,
		         res->n);
		break;
	case QADDR_DANE_FAILED:
		log_info("queue dest=%s host=%s dane=failed tlsa=%s: host not used (RFC 7672 2.2.1)", d->domain, host,
		         dns_status_name(res->status));
		break;
	case QADDR_DANE_NONE:
		log_info("queue dest=%s host=%s dane=no tlsa=%s%s", d->domain, host, dns_status_name(res->status),
		         res->secure ? "" : " (insecure)");
		break;
	}
}

bool
qdane_usable(const struct qaddr *a)
{
	return a->dane != QADDR_DANE_FAILED;
}

void
qdane_params(const struct qaddr *a, struct mta_params *p)
{
	if (a->dane == QADDR_DANE) {
		p->tls = MTA_TLS_DANE;
		p->tlsa = a->tlsa;
	} else if (a->dane == QADDR_DANE_ENCRYPT) {
		p->tls = MTA_TLS_ENCRYPT;
	}
}

void
qdane_forget(struct qdest *d)
{
	for (size_t i = 0; i < d->n_addr; i++) {
		free(d->addr[i].tlsa);
		d->addr[i].tlsa = NULL;
		d->addr[i].dane = QADDR_DANE_NONE;
	}
}
