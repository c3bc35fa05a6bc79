/* MTA-STS (RFC 8461): the TXT record, the policy file (fed whole and cut
 * at every byte), MX patterns, and the cache file round trip. */
#include <stdlib.h>
#include <string.h>

#include "queue/queue_sts_policy.h"
#include "test.h"

static int
txt1(const char *rec, char id[STS_ID_MAX + 1])
{
	const char *err;

	return queue_sts_txt_parse(&rec, 1, id, &err);
}

static void
test_txt(void)
{
	char id[STS_ID_MAX + 1];
	const char *err;
	const char *two[] = { "v=spf1 -all", "v=STSv1; id=20160831085700Z;" };
	const char *dup[] = { "v=STSv1; id=a", "v=STSv1; id=b" };

	test_begin("sts: TXT record");
	test_assert(txt1("v=STSv1; id=20160831085700Z;", id) == 0);
	test_assert_streq(id, "20160831085700Z");
	test_assert(txt1("v=STSv1;id=abc", id) == 0);
	test_assert_streq(id, "abc");
	test_assert(txt1("v=STSv1 ;  id=X1 ; ext=foo ;", id) == 0);
	test_assert_streq(id, "X1");
	test_assert(txt1("v=STSv1; ext=1; id=Y", id) == 0);
	test_assert_streq(id, "Y");
	test_assert(queue_sts_txt_parse(two, 2, id, &err) == 0);
	test_assert_streq(id, "20160831085700Z");
	test_assert(queue_sts_txt_parse(dup, 2, id, &err) == -1);
	test_assert(txt1("v=STSv1;", id) == -1);                       /* no id */
	test_assert(txt1("v=STSv1; id=", id) == -1);
	test_assert(txt1("v=STSv1; id=a-b", id) == -1);                /* 1*32(ALPHA / DIGIT) */
	test_assert(txt1("v=STSv1; id=123456789012345678901234567890123", id) == -1);
	test_assert(txt1("v=STSv1; id=12345678901234567890123456789012", id) == 0);
	test_assert(txt1("v=STSv10; id=a", id) == -1);                 /* not an STSv1 record */
	test_assert(txt1("v=stsv1; id=a", id) == -1);
	test_assert(txt1("id=a; v=STSv1", id) == -1);                  /* v first */
	test_assert(txt1("v=STSv1 id=a", id) == -1);
	test_end();
}

static const char policy[] = "version: STSv1\r\n"
                             "mode: enforce\r\n"
                             "mx: mail.example.com\r\n"
                             "mx: *.example.net\r\n"
                             "mx: backupmx.example.com\r\n"
                             "max_age: 604800\r\n";

static void
test_policy(void)
{
	struct sts_policy p;
	const char *err;
	size_t len = strlen(policy);

	test_begin("sts: policy (RFC 8461 3.2 example)");
	test_assert(queue_sts_policy_parse(policy, len, &p, &err) == 0);
	test_assert(p.mode == STS_MODE_ENFORCE);
	test_assert_inteq(p.max_age, 604800);
	test_assert_inteq(p.n_mx, 3);
	test_assert_streq(p.mx[1], "*.example.net");
	test_end();

	test_begin("sts: policy cut at every byte never crashes, only the whole one has max_age");
	for (size_t i = 0; i < len; i++) {
		int r = queue_sts_policy_parse(policy, i, &p, &err);

		/* the last line is max_age: any cut before its first digit fails */
		if (i < len - strlen("604800\r\n") + 1)
			test_assert(r == -1);
	}
	test_end();

	test_begin("sts: policy variants");
	{
		const char *t = "version: STSv1\nmode: testing\nmx: A.Example.NET.\nmax_age: 86400";

		test_assert(queue_sts_policy_parse(t, strlen(t), &p, &err) == 0);
		test_assert(p.mode == STS_MODE_TESTING);
		test_assert_streq(p.mx[0], "a.example.net");
	}
	{
		const char *t = "version: STSv1\nmode: none\nmax_age: 99999999999\n";

		test_assert(queue_sts_policy_parse(t, strlen(t), &p, &err) == -1);   /* 11 digits */
		t = "version: STSv1\nmode: none\nmax_age: 9999999999\n";
		test_assert(queue_sts_policy_parse(t, strlen(t), &p, &err) == 0);
		test_assert(p.mode == STS_MODE_NONE && p.n_mx == 0);
		test_assert_inteq(p.max_age, STS_MAX_AGE_MAX);
	}
	{
		const char *bad[] = {
			"mode: enforce\nmx: a.example\nmax_age: 1\n",                      /* no version */
			"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n",
			"version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1\n",
			"version: STSv1\nmode: enforce\nmax_age: 1\n",                      /* no mx */
			"version: STSv1\nmode: enforce\nmx: a.example\n",                   /* no max_age */
			"version: STSv1\nmode: enforce\nmx: a..example\nmax_age: 1\n",
			"version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n",
			"version: STSv1\nmode: enforce\nmx: a.*.example\nmax_age: 1\n",
			"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n",
			"version: STSv1\nmode: enforce\nmx a.example\nmax_age: 1\n",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			test_assert(queue_sts_policy_parse(bad[i], strlen(bad[i]), &p, &err) == -1);
	}
	{
		/* extensions ignored; the first mode wins */
		const char *t = "version: STSv1\nfoo: bar\nmode: enforce\nmode: none\nmx:a.example\t\nmax_age:\t5 \n";

		test_assert(queue_sts_policy_parse(t, strlen(t), &p, &err) == 0);
		test_assert(p.mode == STS_MODE_ENFORCE && p.max_age == 5);
		test_assert_streq(p.mx[0], "a.example");
	}
	{
		const char t[] = "version: STSv1\nmode: none\nmax_age: 1\n\0";

		test_assert(queue_sts_policy_parse(t, sizeof(t) - 1, &p, &err) == -1);
	}
	test_end();
}

static void
test_match(void)
{
	struct sts_policy p;
	const char *err;

	test_begin("sts: mx patterns (RFC 8461 4.1)");
	test_assert(queue_sts_policy_parse(policy, strlen(policy), &p, &err) == 0);
	test_assert(queue_sts_mx_match(&p, "mail.example.com"));
	test_assert(queue_sts_mx_match(&p, "MAIL.example.com."));
	test_assert(queue_sts_mx_match(&p, "mx1.example.net"));
	test_assert(!queue_sts_mx_match(&p, "example.net"));           /* the wildcard needs a label */
	test_assert(!queue_sts_mx_match(&p, "a.b.example.net"));       /* exactly one */
	test_assert(!queue_sts_mx_match(&p, ".example.net"));
	test_assert(!queue_sts_mx_match(&p, "xexample.net"));
	test_assert(!queue_sts_mx_match(&p, "other.example.com"));
	test_assert(!queue_sts_mx_match(&p, "mail.example.com.evil"));
	test_assert(!queue_sts_mx_match(&p, ""));
	test_end();
}

static void
test_cache(void)
{
	struct sts_policy p;
	char id[STS_ID_MAX + 1];
	int64_t at;
	const char *err;
	char *s = queue_sts_cache_format(1700000000, "abc123", policy, strlen(policy));

	test_begin("sts: cache file round trip");
	test_assert(queue_sts_cache_parse(s, strlen(s), &at, id, &p, &err) == 0);
	test_assert(at == 1700000000);
	test_assert_streq(id, "abc123");
	test_assert(p.mode == STS_MODE_ENFORCE && p.n_mx == 3);
	for (size_t i = 0; i < strlen(s) - strlen(policy); i++)
		test_assert(queue_sts_cache_parse(s, i, &at, id, &p, &err) == -1);
	test_assert(queue_sts_cache_parse("tern-mta-sts 1\nfetched: x\nid: a\n\n", 34, &at, id, &p, &err) == -1);
	free(s);
	test_end();
}

int
main(void)
{
	test_txt();
	test_policy();
	test_match();
	test_cache();
	return test_done();
}
