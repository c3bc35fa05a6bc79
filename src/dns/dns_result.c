/* From libunbound's answers to our lists: the status mapping and the
 * walk over the records, whose rdata dns_rdata.c parses. */
#include <netinet/in.h>
#include <string.h>

#include "dns/dns_private.h"
#include "dns/dns_rdata.h"

#define RCODE_NOERROR 0
#define RCODE_NXDOMAIN 3

enum dns_status
dns_part_status(const struct dns_part *p)
{
	const struct ub_result *r = p->res;

	if (r == NULL || p->err != 0)
		return DNS_TEMPFAIL;
	if (r->bogus)
		return DNS_PERMFAIL;
	if (r->rcode == RCODE_NXDOMAIN || r->nxdomain)
		return DNS_NXDOMAIN;
	if (r->rcode != RCODE_NOERROR)
		return DNS_TEMPFAIL;
	if (!r->havedata)
		return DNS_NODATA;
	return DNS_OK;
}

/* Records of an OK answer: libunbound ends data[] with NULL. */
#define FOREACH_RDATA(r, i) \
	for (size_t i = 0; (r)->data != NULL && (r)->data[i] != NULL; i++)

void
dns_result_mx(const struct dns_part *p, struct dns_mx_list *out)
{
	memset(out, 0, sizeof(*out));
	out->status = dns_part_status(p);
	if (p->res != NULL)
		out->secure = p->res->secure;
	if (out->status != DNS_OK)
		return;
	FOREACH_RDATA(p->res, i) {
		struct dns_mx mx;

		if (dns_rdata_mx((const uint8_t *)p->res->data[i], (size_t)p->res->len[i], &mx) == 0)
			dns_mx_list_add(out, &mx);
	}
	dns_mx_list_finish(out);
	/* records, but none we could use: malformed */
	if (out->n == 0 && !out->null_mx)
		out->status = DNS_PERMFAIL;
}

void
dns_result_txt(const struct dns_part *p, struct dns_txt_list *out)
{
	out->status = dns_part_status(p);
	out->secure = p->res != NULL && p->res->secure;
	out->n = 0;
	if (out->status != DNS_OK)
		return;
	FOREACH_RDATA(p->res, i) {
		if (out->n == DNS_TXT_MAX)
			break;
		if (dns_rdata_txt((const uint8_t *)p->res->data[i], (size_t)p->res->len[i],
		                  out->txt[out->n]) == 0)
			out->n++;
	}
	if (out->n == 0)
		out->status = DNS_PERMFAIL;
}

void
dns_result_tlsa(const struct dns_part *p, struct dns_tlsa_list *out)
{
	memset(out, 0, sizeof(*out));
	out->status = dns_part_status(p);
	if (p->res != NULL)
		out->secure = p->res->secure;
	if (out->status != DNS_OK)
		return;
	FOREACH_RDATA(p->res, i) {
		if (out->n == DNS_TLSA_MAX)
			break;
		if (dns_rdata_tlsa((const uint8_t *)p->res->data[i], (size_t)p->res->len[i],
		                   &out->tlsa[out->n]) == 0)
			out->n++;
	}
	if (out->n == 0)
		out->status = DNS_PERMFAIL;
}

/* Lower-cased, without the trailing dot, into out[DNS_NAME_MAX + 1]. */
static void
copy_name(char *out, const char *name)
{
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len > DNS_NAME_MAX)
		len = DNS_NAME_MAX;
	for (size_t i = 0; i < len; i++)
		out[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
	out[len] = '\0';
}

/* With no address, the most hopeful status: a failure that may pass
 * (TEMPFAIL) before one that will not, and "exists" before "does not". */
static enum dns_status
addr_status(enum dns_status a, enum dns_status b)
{
	static const enum dns_status order[] = { DNS_TEMPFAIL, DNS_PERMFAIL, DNS_NODATA, DNS_NXDOMAIN };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (a == order[i] || b == order[i])
			return order[i];
	return DNS_TEMPFAIL;
}

void
dns_result_addr(const struct dns_part p[2], const char *qname, struct dns_addr_list *out)
{
	enum dns_status st[2];
	const char *canon = NULL;

	memset(out, 0, sizeof(*out));
	out->secure = true;
	for (int k = 0; k < 2; k++) {
		const struct ub_result *r = p[k].res;
		int family = p[k].rrtype == DNS_RR_AAAA ? AF_INET6 : AF_INET;

		st[k] = dns_part_status(&p[k]);
		if (st[k] == DNS_OK || st[k] == DNS_NODATA || st[k] == DNS_NXDOMAIN) {
			out->secure = out->secure && r->secure;
			if (canon == NULL && r->canonname != NULL)
				canon = r->canonname;
		}
		if (st[k] != DNS_OK)
			continue;
		FOREACH_RDATA(r, i) {
			if (out->n == DNS_ADDR_MAX)
				break;
			if (dns_rdata_addr(family, (const uint8_t *)r->data[i], (size_t)r->len[i],
			                   &out->addr[out->n]) == 0)
				out->n++;
		}
	}
	if (out->n > 0)
		out->status = DNS_OK;
	else if (st[0] == DNS_OK || st[1] == DNS_OK)
		out->status = DNS_PERMFAIL;   /* records, all malformed */
	else
		out->status = addr_status(st[0], st[1]);
	if (out->status == DNS_TEMPFAIL || out->status == DNS_PERMFAIL)
		out->secure = false;
	copy_name(out->canonical, canon != NULL ? canon : qname);
}

void
dns_parts_free(struct dns_part *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ub_resolve_free(p[i].res);
		p[i].res = NULL;
	}
}
