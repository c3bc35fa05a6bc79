/* SPF: the record parser, macro expansion (RFC 7208 7.4's examples) and
 * check_host() over a table of DNS answers. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <strings.h>

#include "dns/dns.h"
#include "mailauth/spf.h"
#include "test.h"

static void
test_parse(void)
{
	struct spf_record r;
	const char *err;
	const char *rec = "v=spf1 +a mx/24 -ip4:192.0.2.0/24 ~ip6:2001:db8::/32 a:%{d}.example//64 "
	                  "include:_spf.example.org exists:%{ir}.x.example ?ptr redirect=other.example "
	                  "exp=explain.example foo=bar ~all";

	test_begin("spf: record parse");
	test_assert(spf_record_parse(rec, strlen(rec), &r, &err) == 0);
	test_assert_inteq(r.n, 9);
	test_assert(r.term[0].mech == SPF_MECH_A && r.term[0].qualifier == '+' && r.term[0].domain == NULL);
	test_assert(r.term[1].mech == SPF_MECH_MX && r.term[1].cidr4 == 24 && r.term[1].cidr6 == 128);
	test_assert(r.term[2].mech == SPF_MECH_IP4 && r.term[2].qualifier == '-' && r.term[2].cidr4 == 24);
	test_assert(r.term[3].mech == SPF_MECH_IP6 && r.term[3].cidr6 == 32);
	test_assert(r.term[4].cidr6 == 64 && r.term[4].domain_len == strlen("%{d}.example"));
	test_assert(r.term[5].mech == SPF_MECH_INCLUDE);
	test_assert(r.term[6].mech == SPF_MECH_EXISTS);
	test_assert(r.term[7].mech == SPF_MECH_PTR && r.term[7].qualifier == '?');
	test_assert(r.term[8].mech == SPF_MECH_ALL && r.term[8].qualifier == '~');
	test_assert(r.redirect != NULL && r.redirect_len == strlen("other.example"));
	test_assert(r.has_exp);
	test_end();

	test_begin("spf: record parse errors");
	test_assert(spf_record_parse("v=spf10 -all", 12, &r, &err) == -1);
	test_assert(spf_record_parse("v=spf1 -alll", 12, &r, &err) == -1);
	test_assert(spf_record_parse("v=spf1 ip4:1.2.3", 16, &r, &err) == -1);
	test_assert(spf_record_parse("v=spf1 ip4:1.2.3.4/33", 21, &r, &err) == -1);
	test_assert(spf_record_parse("v=spf1 include", 14, &r, &err) == -1);
	test_assert(spf_record_parse("v=spf1 a:%{q}", 13, &r, &err) == -1);
	test_assert(spf_record_parse("v=spf1 redirect=a redirect=b", 28, &r, &err) == -1);
	test_assert(spf_record_parse("v=spf1 all:x", 12, &r, &err) == -1);
	test_assert(spf_record_parse("v=spf1", 6, &r, &err) == 0 && r.n == 0);
	test_assert(spf_record_is_spf("V=SPF1 -all", 11));
	test_assert(!spf_record_is_spf("v=spf1-all", 10));
	test_end();
}

static void
expand_is(const struct spf_macro_ctx *c, const char *in, const char *want)
{
	char out[SPF_MACRO_OUT_MAX];
	const char *err;

	test_assert(spf_macro_expand(in, strlen(in), c, false, out, sizeof(out), &err) == 0);
	test_assert_streq(out, want);
}

/* RFC 7208 7.4 */
static void
test_macros(void)
{
	struct spf_macro_ctx c = {
		.sender = "strong-bad@email.example.com",
		.domain = "email.example.com",
		.helo = "mx.example.org",
	};
	char out[SPF_MACRO_OUT_MAX];
	const char *err;

	inet_pton(AF_INET, "192.0.2.3", c.ip);
	test_begin("spf: macro expansion, RFC 7208 7.4 examples");
	expand_is(&c, "%{s}", "strong-bad@email.example.com");
	expand_is(&c, "%{o}", "email.example.com");
	expand_is(&c, "%{d}", "email.example.com");
	expand_is(&c, "%{d4}", "email.example.com");
	expand_is(&c, "%{d3}", "email.example.com");
	expand_is(&c, "%{d2}", "example.com");
	expand_is(&c, "%{d1}", "com");
	expand_is(&c, "%{dr}", "com.example.email");
	expand_is(&c, "%{d2r}", "example.email");
	expand_is(&c, "%{l}", "strong-bad");
	expand_is(&c, "%{l-}", "strong.bad");
	expand_is(&c, "%{lr}", "strong-bad");
	expand_is(&c, "%{lr-}", "bad.strong");
	expand_is(&c, "%{l1r-}", "strong");
	expand_is(&c, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com");
	expand_is(&c, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com");
	expand_is(&c, "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com");
	expand_is(&c, "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com");
	expand_is(&c, "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net");
	expand_is(&c, "%{h}", "mx.example.org");
	expand_is(&c, "%%%_%-", "% %20");
	expand_is(&c, "%{S}", "strong-bad%40email.example.com");
	test_end();

	test_begin("spf: macro expansion, IPv6 and errors");
	c.ipv6 = true;
	inet_pton(AF_INET6, "2001:db8::cb01", c.ip);
	expand_is(&c, "%{ir}.%{v}._spf.%{d2}",
	          "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
	test_assert(spf_macro_expand("%{d0}", 5, &c, false, out, sizeof(out), &err) == -1);
	test_assert(spf_macro_expand("%{c}", 4, &c, false, out, sizeof(out), &err) == -1);
	test_assert(spf_macro_expand("%x", 2, &c, false, out, sizeof(out), &err) == -1);
	test_assert(spf_macro_expand("%{d", 3, &c, false, out, sizeof(out), &err) == -1);
	test_assert(spf_macro_expand("%{d}", 4, &c, false, out, 4, &err) == -1);
	test_end();
}

/* ---- check_host() over a table ---- */

struct rr {
	const char *name;
	const char *type;    /* "TXT", "A", "AAAA", "MX", "FAIL" (tempfail) */
	const char *value;
};

static const struct rr *zone;

static enum dns_status
find(const char *name, const char *type)
{
	bool any = false;

	for (const struct rr *r = zone; r->name != NULL; r++) {
		if (strcasecmp(r->name, name) != 0)
			continue;
		if (strcmp(r->type, "FAIL") == 0)
			return DNS_TEMPFAIL;
		any = true;
		if (strstr(type, r->type) != NULL)
			return DNS_OK;
	}
	return any ? DNS_NODATA : DNS_NXDOMAIN;
}

static int
t_txt(void *arg, const char *name, struct dns_txt_list *out)
{
	out->n = 0;
	out->status = find(name, "TXT");
	for (const struct rr *r = zone; out->status == DNS_OK && r->name != NULL; r++) {
		if (strcasecmp(r->name, name) == 0 && strcmp(r->type, "TXT") == 0)
			snprintf(out->txt[out->n++], sizeof(out->txt[0]), "%s", r->value);
	}
	return 0;
}

static int
t_addr(void *arg, const char *name, struct dns_addr_list *out)
{
	memset(out, 0, sizeof(*out));
	out->status = find(name, "A AAAA");
	for (const struct rr *r = zone; out->status == DNS_OK && r->name != NULL; r++) {
		if (strcasecmp(r->name, name) != 0)
			continue;
		if (strcmp(r->type, "A") == 0) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&out->addr[out->n++];

			sin->sin_family = AF_INET;
			inet_pton(AF_INET, r->value, &sin->sin_addr);
		} else if (strcmp(r->type, "AAAA") == 0) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->addr[out->n++];

			sin6->sin6_family = AF_INET6;
			inet_pton(AF_INET6, r->value, &sin6->sin6_addr);
		}
	}
	if (out->status == DNS_OK && out->n == 0)
		out->status = DNS_NODATA;
	return 0;
}

static int
t_mx(void *arg, const char *name, struct dns_mx_list *out)
{
	out->n = 0;
	out->null_mx = false;
	out->status = find(name, "MX");
	for (const struct rr *r = zone; out->status == DNS_OK && r->name != NULL; r++) {
		if (strcasecmp(r->name, name) == 0 && strcmp(r->type, "MX") == 0 && out->n < DNS_MX_MAX) {
			snprintf(out->mx[out->n].host, sizeof(out->mx[0].host), "%s", r->value);
			out->mx[out->n++].pref = 10;
		}
	}
	return 0;
}

static const struct spf_dns tdns = { t_txt, t_addr, t_mx, NULL };

static enum spf_result
check(const char *ip, const char *domain)
{
	const char *reason;

	return spf_check_host(&tdns, ip, domain, "user@example.com", "helo.example.com", &reason);
}

static const struct rr zone1[] = {
	{ "example.com", "TXT", "v=spf1 mx a:web.example.com ip6:2001:db8::/32 include:partner.example -all" },
	{ "example.com", "MX", "mx.example.com" },
	{ "mx.example.com", "A", "192.0.2.10" },
	{ "web.example.com", "A", "192.0.2.20" },
	{ "partner.example", "TXT", "v=spf1 ip4:198.51.100.0/24 ~all" },
	{ "soft.example", "TXT", "v=spf1 ?ip4:192.0.2.1 ~all" },
	{ "redir.example", "TXT", "v=spf1 redirect=example.com" },
	{ "redirnone.example", "TXT", "v=spf1 redirect=nothing.example" },
	{ "two.example", "TXT", "v=spf1 -all" },
	{ "two.example", "TXT", "v=spf1 +all" },
	{ "other.example", "TXT", "some other text" },
	{ "broken.example", "TXT", "v=spf1 ip4:1.2.3.4/99 -all" },
	{ "temp.example", "FAIL", "" },
	{ "tempinc.example", "TXT", "v=spf1 include:temp.example -all" },
	{ "exists.example", "TXT", "v=spf1 exists:%{ir}.ok.exists.example -all" },
	{ "1.2.0.192.ok.exists.example", "A", "127.0.0.2" },
	{ "loop.example", "TXT", "v=spf1 include:loop.example -all" },
	{ "voids.example", "TXT", "v=spf1 a:n1.example a:n2.example a:n3.example +all" },
	{ "many.example", "TXT", "v=spf1 a a a a a a a a a a a +all" },
	{ "many.example", "A", "192.0.2.99" },
	{ "ptr.example", "TXT", "v=spf1 ptr -all" },
	{ NULL, NULL, NULL },
};

static void
test_check_host(void)
{
	zone = zone1;
	test_begin("spf: check_host results");
	test_assert_inteq(check("192.0.2.10", "example.com"), SPF_PASS);      /* mx */
	test_assert_inteq(check("192.0.2.20", "example.com"), SPF_PASS);      /* a: */
	test_assert_inteq(check("2001:db8::1", "example.com"), SPF_PASS);     /* ip6 */
	test_assert_inteq(check("198.51.100.7", "example.com"), SPF_PASS);    /* include */
	test_assert_inteq(check("203.0.113.1", "example.com"), SPF_FAIL);
	test_assert_inteq(check("::ffff:192.0.2.10", "example.com"), SPF_PASS); /* v4-mapped */
	test_assert_inteq(check("192.0.2.1", "soft.example"), SPF_NEUTRAL);
	test_assert_inteq(check("192.0.2.2", "soft.example"), SPF_SOFTFAIL);
	test_assert_inteq(check("192.0.2.10", "redir.example"), SPF_PASS);
	test_assert_inteq(check("203.0.113.1", "redir.example"), SPF_FAIL);
	test_assert_inteq(check("192.0.2.1", "redirnone.example"), SPF_PERMERROR);
	test_assert_inteq(check("192.0.2.1", "nothing.example"), SPF_NONE);
	test_assert_inteq(check("192.0.2.1", "other.example"), SPF_NONE);
	test_assert_inteq(check("192.0.2.1", "two.example"), SPF_PERMERROR);
	test_assert_inteq(check("192.0.2.1", "broken.example"), SPF_PERMERROR);
	test_assert_inteq(check("192.0.2.1", "temp.example"), SPF_TEMPERROR);
	test_assert_inteq(check("192.0.2.1", "tempinc.example"), SPF_TEMPERROR);
	test_assert_inteq(check("192.0.2.1", "exists.example"), SPF_PASS);
	test_assert_inteq(check("192.0.2.2", "exists.example"), SPF_FAIL);
	test_assert_inteq(check("192.0.2.1", "ptr.example"), SPF_FAIL);       /* ptr never matches */
	test_end();

	test_begin("spf: lookup limits");
	test_assert_inteq(check("192.0.2.1", "loop.example"), SPF_PERMERROR);    /* 10 lookups */
	test_assert_inteq(check("192.0.2.1", "voids.example"), SPF_PERMERROR);   /* 3 void lookups */
	test_assert_inteq(check("192.0.2.1", "many.example"), SPF_PERMERROR);    /* 11 a terms */
	test_assert_inteq(check("192.0.2.99", "many.example"), SPF_PASS);        /* matches at the first */
	test_end();
}

int
main(void)
{
	test_parse();
	test_macros();
	test_check_host();
	return test_done();
}
