/* DMARC: the record parser, organisational domains (with and without the
 * Public Suffix List), alignment and evaluation over a table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mailauth/dmarc.h"
#include "test.h"

static void
test_parse(void)
{
	struct dmarc_record r;
	const char *err;
	const char *rec = "v=DMARC1; p=quarantine; sp=reject; adkim=s; aspf=r; pct=25; rua=mailto:d@example.com";

	test_begin("dmarc: record parse");
	test_assert(dmarc_record_parse(rec, strlen(rec), &r, &err) == 0);
	test_assert(r.p == DMARC_POLICY_QUARANTINE && r.sp == DMARC_POLICY_REJECT);
	test_assert(r.adkim_strict && !r.aspf_strict && r.pct == 25);
	rec = "v=DMARC1;p=reject";
	test_assert(dmarc_record_parse(rec, strlen(rec), &r, &err) == 0);
	test_assert(r.p == DMARC_POLICY_REJECT && r.sp == DMARC_POLICY_REJECT && r.pct == 100);
	test_assert(!r.adkim_strict && !r.aspf_strict);
	/* bad optional values fall back to defaults */
	rec = "v=DMARC1; p=none; pct=250; sp=bogus; future=1";
	test_assert(dmarc_record_parse(rec, strlen(rec), &r, &err) == 0);
	test_assert(r.pct == 100 && r.sp == DMARC_POLICY_NONE);
	/* no valid p=: with rua= it is p=none (RFC 7489 6.6.3), else nothing */
	rec = "v=DMARC1; p=bogus; rua=mailto:x@example.com";
	test_assert(dmarc_record_parse(rec, strlen(rec), &r, &err) == 0 && r.p == DMARC_POLICY_NONE);
	rec = "v=DMARC1; sp=reject";
	test_assert(dmarc_record_parse(rec, strlen(rec), &r, &err) == -1);
	rec = "p=reject; v=DMARC1";
	test_assert(dmarc_record_parse(rec, strlen(rec), &r, &err) == -1);
	rec = "v=DMARC2; p=reject";
	test_assert(dmarc_record_parse(rec, strlen(rec), &r, &err) == -1);
	rec = "v=spf1 -all";
	test_assert(dmarc_record_parse(rec, strlen(rec), &r, &err) == -1);
	test_end();
}

static const char *
org(const char *d)
{
	static char out[DOMAIN_MAX + 1];

	test_assert(dmarc_org_domain(d, out, sizeof(out)) == 0);
	return out;
}

static void
test_org(void)
{
	test_begin("dmarc: organisational domain without the list");
	dmarc_psl_free();
	test_assert_streq(org("mail.example.com"), "example.com");
	test_assert_streq(org("example.com"), "example.com");
	test_assert_streq(org("a.b.example.co.uk"), "example.co.uk");
	test_assert_streq(org("x.example.com.au"), "example.com.au");
	test_assert_streq(org("com"), "com");
	test_assert_streq(org("x.example.de"), "example.de");
	test_end();

	test_begin("dmarc: organisational domain with a list");
	{
		char path[] = "/tmp/test_dmarc_psl_XXXXXX";
		int fd = mkstemp(path);
		const char *list = "// comment\ncom\nuk\nco.uk\n*.ck\n!www.ck\ngithub.io\nio\n";

		test_assert(fd >= 0 && write(fd, list, strlen(list)) == (ssize_t)strlen(list));
		close(fd);
		test_assert(dmarc_psl_load(path) == 0);
		unlink(path);
		test_assert_streq(org("mail.example.com"), "example.com");
		test_assert_streq(org("a.b.example.co.uk"), "example.co.uk");
		test_assert_streq(org("a.b.example.ck"), "b.example.ck");
		test_assert_streq(org("a.www.ck"), "www.ck");
		test_assert_streq(org("x.me.github.io"), "me.github.io");
		test_assert_streq(org("x.unknowntld"), "x.unknowntld");
		dmarc_psl_free();
	}
	test_end();

	if (dmarc_psl_load(NULL) == 0) {
		test_begin("dmarc: organisational domain with Debian's list");
		test_assert_streq(org("a.b.example.co.uk"), "example.co.uk");
		test_assert_streq(org("www.example.com"), "example.com");
		test_end();
		dmarc_psl_free();
	}

	test_begin("dmarc: alignment");
	test_assert(dmarc_aligned("example.com", "EXAMPLE.com", true));
	test_assert(!dmarc_aligned("mail.example.com", "example.com", true));
	test_assert(dmarc_aligned("mail.example.com", "example.com", false));
	test_assert(dmarc_aligned("a.example.com", "b.Example.com", false));
	test_assert(!dmarc_aligned("example.com", "example.net", false));
	test_assert(!dmarc_aligned("a.co.uk", "b.co.uk", false));
	test_end();
}

/* ---- evaluation over a table ---- */

static const char *const *table;

static int
lookup(void *arg, const char *name, char (*recs)[DMARC_RECORD_MAX + 1], size_t max, size_t *n_out)
{
	*n_out = 0;
	for (size_t i = 0; table[i] != NULL; i += 2) {
		if (strcmp(table[i], name) != 0)
			continue;
		if (strcmp(table[i + 1], "TEMP") == 0)
			return 1;
		if (*n_out < max)
			snprintf(recs[(*n_out)++], DMARC_RECORD_MAX + 1, "%s", table[i + 1]);
	}
	return 0;
}

static const char *const table1[] = {
	"_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine",
	"_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s",
	"_dmarc.half.example", "v=DMARC1; p=reject; pct=50",
	"_dmarc.two.example", "v=DMARC1; p=reject",
	"_dmarc.two.example", "v=DMARC1; p=none",
	"_dmarc.temp.example", "TEMP",
	NULL,
};

static struct dmarc_verdict
eval(const char *from, const char *spf, const char *dkim_d, unsigned roll)
{
	struct dmarc_input in = { .from_domain = from, .spf_domain = spf, .pct_roll = roll };
	struct dmarc_verdict v;
	const char *d[1] = { dkim_d };

	in.dkim_domains = d;
	in.n_dkim = dkim_d != NULL ? 1 : 0;
	dmarc_evaluate(&in, lookup, NULL, &v);
	return v;
}

static void
test_eval(void)
{
	struct dmarc_verdict v;

	table = table1;
	test_begin("dmarc: evaluate");
	v = eval("example.com", "example.com", NULL, 0);
	test_assert(v.result == DMARC_RESULT_PASS && v.spf_aligned && v.policy == DMARC_POLICY_REJECT);
	v = eval("example.com", NULL, "mail.example.com", 0);
	test_assert(v.result == DMARC_RESULT_PASS && v.dkim_aligned);
	v = eval("example.com", "other.example", "other.example", 0);
	test_assert(v.result == DMARC_RESULT_FAIL && v.disposition == DMARC_POLICY_REJECT);
	/* a subdomain without its own record: the org domain's sp= */
	v = eval("news.example.com", NULL, NULL, 0);
	test_assert(v.result == DMARC_RESULT_FAIL && v.policy == DMARC_POLICY_QUARANTINE);
	v = eval("strict.example", "mail.strict.example", "mail.strict.example", 0);
	test_assert(v.result == DMARC_RESULT_FAIL);
	/* pct=50: inside the sample reject, outside quarantine */
	v = eval("half.example", NULL, NULL, 10);
	test_assert(v.disposition == DMARC_POLICY_REJECT);
	v = eval("half.example", NULL, NULL, 70);
	test_assert(v.disposition == DMARC_POLICY_QUARANTINE && v.policy == DMARC_POLICY_REJECT);
	test_assert_inteq(eval("two.example", NULL, NULL, 0).result, DMARC_RESULT_NONE);
	test_assert_inteq(eval("nothing.example", NULL, NULL, 0).result, DMARC_RESULT_NONE);
	test_assert_inteq(eval("temp.example", NULL, NULL, 0).result, DMARC_RESULT_TEMPERROR);
	test_assert_inteq(eval(NULL, NULL, NULL, 0).result, DMARC_RESULT_PERMERROR);
	test_end();
}

int
main(void)
{
	test_parse();
	test_org();
	test_eval();
	return test_done();
}
