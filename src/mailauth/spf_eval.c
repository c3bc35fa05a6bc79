/* check_host() (RFC 7208 4-6): walks the sender domain's SPF record over
 * DNS, with the limits of RFC 7208 4.6.4 (SPF_LOOKUPS_MAX terms that
 * query DNS, SPF_VOID_LOOKUPS_MAX empty answers) so that one message
 * cannot make us send an unbounded number of queries. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "mailauth/spf.h"

struct spf_state {
	const struct spf_dns *dns;
	struct spf_macro_ctx ctx;
	int lookups;
	int voids;
	const char *reason;
};

/* Internal outcome of one mechanism. */
enum { M_NOMATCH, M_MATCH, M_TEMPERROR, M_PERMERROR };

static enum spf_result check_host(struct spf_state *st, const char *domain);

static bool
prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* A domain check_host() may look at: labels of 1..63 bytes, 253 in all. */
static bool
domain_ok(const char *d)
{
	size_t len = strlen(d), label = 0;

	if (len == 0 || len > SPF_DOMAIN_MAX || strchr(d, '.') == NULL)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (d[i] == '.' || d[i] == '\0') {
			if (label == 0 || label > 63)
				return false;
			label = 0;
		} else {
			label++;
		}
	}
	return true;
}

static int
count_lookup(struct spf_state *st)
{
	if (++st->lookups > SPF_LOOKUPS_MAX) {
		st->reason = "too many DNS lookups";
		return -1;
	}
	return 0;
}

/* An answer with nothing in it; past the limit: permerror. */
static int
count_void(struct spf_state *st, enum dns_status s)
{
	if ((s == DNS_NXDOMAIN || s == DNS_NODATA) && ++st->voids > SPF_VOID_LOOKUPS_MAX) {
		st->reason = "too many void DNS lookups";
		return -1;
	}
	return 0;
}

/* The target of a, mx, exists, include, redirect: domain-spec expanded,
 * or the current domain. */
static int
target(struct spf_state *st, const char *spec, size_t len, char *out, size_t outsize)
{
	const char *err;

	if (spec == NULL) {
		snprintf(out, outsize, "%s", st->ctx.domain);
		return 0;
	}
	if (spf_macro_expand(spec, len, &st->ctx, true, out, outsize, &err) == -1) {
		st->reason = err;
		return -1;
	}
	return 0;
}

/* Does any address in l match the client within the term's prefix? */
static bool
addrs_match(const struct spf_state *st, const struct dns_addr_list *l, const struct spf_term *t, bool v4_only)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct sockaddr_storage *ss = &l->addr[i];

		if (ss->ss_family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

			if (v4_only)
				return true;
			if (!st->ctx.ipv6 && prefix_match((const uint8_t *)&sin->sin_addr, st->ctx.ip, t->cidr4))
				return true;
		} else if (ss->ss_family == AF_INET6 && !v4_only) {
			const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

			if (st->ctx.ipv6 && prefix_match((const uint8_t *)&sin6->sin6_addr, st->ctx.ip, t->cidr6))
				return true;
		}
	}
	return false;
}

/* a, exists (v4_only: RFC 7208 5.7 asks for an A record) */
static int
mech_a(struct spf_state *st, const char *name, const struct spf_term *t, bool v4_only)
{
	struct dns_addr_list l;

	if (st->dns->addr(st->dns->arg, name, &l) == -1)
		return M_NOMATCH;
	if (l.status == DNS_TEMPFAIL) {
		st->reason = "DNS lookup failed";
		return M_TEMPERROR;
	}
	if (count_void(st, l.status) == -1)
		return M_PERMERROR;
	return l.status == DNS_OK && addrs_match(st, &l, t, v4_only) ? M_MATCH : M_NOMATCH;
}

static int
mech_mx(struct spf_state *st, const char *name, const struct spf_term *t)
{
	struct dns_mx_list *mx = malloc(sizeof(*mx));
	int r = M_NOMATCH;

	if (mx == NULL)
		return M_TEMPERROR;
	if (st->dns->mx(st->dns->arg, name, mx) == -1)
		goto out;
	if (mx->status == DNS_TEMPFAIL) {
		st->reason = "DNS lookup failed";
		r = M_TEMPERROR;
		goto out;
	}
	if (count_void(st, mx->status) == -1) {
		r = M_PERMERROR;
		goto out;
	}
	if (mx->status != DNS_OK)
		goto out;
	if (mx->n > SPF_MX_HOSTS_MAX) {
		st->reason = "too many MX hosts";
		r = M_PERMERROR;
		goto out;
	}
	for (size_t i = 0; i < mx->n && r == M_NOMATCH; i++) {
		struct dns_addr_list l;

		if (st->dns->addr(st->dns->arg, mx->mx[i].host, &l) == -1)
			continue;
		if (l.status == DNS_TEMPFAIL) {
			st->reason = "DNS lookup failed";
			r = M_TEMPERROR;
		} else if (l.status == DNS_OK && addrs_match(st, &l, t, false)) {
			r = M_MATCH;
		}
	}
out:
	free(mx);
	return r;
}

static int
mech_include(struct spf_state *st, const char *name)
{
	switch (check_host(st, name)) {
	case SPF_PASS:
		return M_MATCH;
	case SPF_FAIL:
	case SPF_SOFTFAIL:
	case SPF_NEUTRAL:
		return M_NOMATCH;
	case SPF_TEMPERROR:
		return M_TEMPERROR;
	default:
		/* RFC 7208 5.2: none in an include is permerror */
		if (st->reason == NULL)
			st->reason = "include without SPF record";
		return M_PERMERROR;
	}
}

static int
eval_term(struct spf_state *st, const struct spf_term *t)
{
	char name[SPF_MACRO_OUT_MAX];

	switch (t->mech) {
	case SPF_MECH_ALL:
		return M_MATCH;
	case SPF_MECH_IP4:
		return !st->ctx.ipv6 && prefix_match(t->ip, st->ctx.ip, t->cidr4) ? M_MATCH : M_NOMATCH;
	case SPF_MECH_IP6:
		return st->ctx.ipv6 && prefix_match(t->ip, st->ctx.ip, t->cidr6) ? M_MATCH : M_NOMATCH;
	default:
		break;
	}
	if (count_lookup(st) == -1)
		return M_PERMERROR;
	if (t->mech == SPF_MECH_PTR)
		return M_NOMATCH;   /* no PTR lookups: see spf.h */
	if (target(st, t->domain, t->domain_len, name, sizeof(name)) == -1)
		return M_PERMERROR;
	switch (t->mech) {
	case SPF_MECH_A:
		return mech_a(st, name, t, false);
	case SPF_MECH_EXISTS:
		return mech_a(st, name, t, true);
	case SPF_MECH_MX:
		return mech_mx(st, name, t);
	default:
		return mech_include(st, name);
	}
}

static enum spf_result
qualifier_result(char q)
{
	switch (q) {
	case '-':
		return SPF_FAIL;
	case '~':
		return SPF_SOFTFAIL;
	case '?':
		return SPF_NEUTRAL;
	default:
		return SPF_PASS;
	}
}

/* The domain's one SPF record, malloc'd into *rec_out; or the result
 * that ends the check (none, temperror, permerror). */
static int
fetch_record(struct spf_state *st, const char *domain, char **rec_out, enum spf_result *res_out)
{
	struct dns_txt_list *txt = malloc(sizeof(*txt));
	size_t found = 0, which = 0;

	*rec_out = NULL;
	if (txt == NULL || st->dns->txt(st->dns->arg, domain, txt) == -1) {
		free(txt);
		*res_out = SPF_NONE;
		return -1;
	}
	if (txt->status == DNS_TEMPFAIL || txt->status == DNS_PERMFAIL) {
		st->reason = "DNS lookup failed";
		*res_out = SPF_TEMPERROR;
		free(txt);
		return -1;
	}
	for (size_t i = 0; txt->status == DNS_OK && i < txt->n; i++) {
		if (spf_record_is_spf(txt->txt[i], strlen(txt->txt[i]))) {
			found++;
			which = i;
		}
	}
	if (found != 1) {
		/* RFC 7208 4.5: several records are a permerror */
		*res_out = found == 0 ? SPF_NONE : SPF_PERMERROR;
		if (found > 1)
			st->reason = "several SPF records";
		free(txt);
		return -1;
	}
	*rec_out = strdup(txt->txt[which]);
	free(txt);
	if (*rec_out == NULL) {
		*res_out = SPF_TEMPERROR;
		return -1;
	}
	return 0;
}

static enum spf_result
check_host(struct spf_state *st, const char *domain)
{
	const char *saved_domain = st->ctx.domain;
	struct spf_record *rec = NULL;
	enum spf_result res = SPF_NEUTRAL;
	char *text = NULL, redir[SPF_MACRO_OUT_MAX];
	const char *err;
	size_t i;

	if (!domain_ok(domain))
		return SPF_NONE;   /* RFC 7208 4.3 */
	if (fetch_record(st, domain, &text, &res) == -1)
		return res;
	rec = malloc(sizeof(*rec));
	if (rec == NULL) {
		res = SPF_TEMPERROR;
		goto out;
	}
	if (spf_record_parse(text, strlen(text), rec, &err) == -1) {
		st->reason = err;
		res = SPF_PERMERROR;
		goto out;
	}
	st->ctx.domain = domain;
	for (i = 0; i < rec->n; i++) {
		int m = eval_term(st, &rec->term[i]);

		if (m == M_TEMPERROR || m == M_PERMERROR) {
			res = m == M_TEMPERROR ? SPF_TEMPERROR : SPF_PERMERROR;
			goto out;
		}
		if (m == M_MATCH) {
			res = qualifier_result(rec->term[i].qualifier);
			goto out;
		}
	}
	/* RFC 7208 6.1: redirect only when no mechanism matched */
	res = SPF_NEUTRAL;
	if (rec->redirect != NULL) {
		if (count_lookup(st) == -1 ||
		    target(st, rec->redirect, rec->redirect_len, redir, sizeof(redir)) == -1) {
			res = SPF_PERMERROR;
			goto out;
		}
		res = check_host(st, redir);
		if (res == SPF_NONE) {
			st->reason = "redirect to a domain without SPF record";
			res = SPF_PERMERROR;
		}
	}
out:
	st->ctx.domain = saved_domain;
	free(rec);
	free(text);
	return res;
}

enum spf_result
spf_check_host(const struct spf_dns *dns, const char *ip, const char *domain, const char *sender, const char *helo,
               const char **reason_out)
{
	struct spf_state st;
	struct in6_addr a6;
	char sender_buf[ADDRESS_MAX + 16];
	enum spf_result r;

	memset(&st, 0, sizeof(st));
	st.dns = dns;
	if (inet_pton(AF_INET, ip, st.ctx.ip) == 1) {
		st.ctx.ipv6 = false;
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		/* an IPv4-mapped client is checked as IPv4 (RFC 7208 5.6) */
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			memcpy(st.ctx.ip, a6.s6_addr + 12, 4);
		} else {
			memcpy(st.ctx.ip, a6.s6_addr, 16);
			st.ctx.ipv6 = true;
		}
	} else {
		*reason_out = "bad client address";
		return SPF_PERMERROR;
	}
	if (sender == NULL || sender[0] == '\0') {
		snprintf(sender_buf, sizeof(sender_buf), "postmaster@%s", helo != NULL ? helo : "");
		sender = sender_buf;
	}
	st.ctx.sender = sender;
	st.ctx.helo = helo != NULL ? helo : "";
	st.ctx.domain = domain;
	r = check_host(&st, domain);
	*reason_out = st.reason;
	return r;
}
