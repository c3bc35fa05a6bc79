/* The From header address parser (smtp_from.c). */
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_from.h"
#include "test.h"

static struct arena *arena;

/* Parses value; returns the addresses joined by " " or "ERR: reason". */
static const char *
parse(const char *value)
{
	static char out[4096];
	struct smtp_from_list l;
	const char *error = NULL;
	size_t i;

	if (smtp_from_parse(value, strlen(value), arena, &l, &error) == -1) {
		snprintf(out, sizeof(out), "ERR: %s", error != NULL ? error : "(null)");
		return out;
	}
	out[0] = '\0';
	for (i = 0; i < l.n; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, l.addr[i]);
	}
	return out;
}

static bool
refused(const char *value)
{
	return strncmp(parse(value), "ERR: ", 5) == 0;
}

static void
test_forms(void)
{
	test_begin("smtp_from: the usual forms");
	test_assert_streq(parse("alice@example.test"), "alice@example.test");
	test_assert_streq(parse(" <alice@example.test> "), "alice@example.test");
	test_assert_streq(parse("Alice <alice@example.test>"), "alice@example.test");
	test_assert_streq(parse("\"Alice, Smith\" <alice@example.test>"), "alice@example.test");
	test_assert_streq(parse("alice@example.test (Alice)"), "alice@example.test");
	test_assert_streq(parse("(c) alice (c) @ (c) example . test (c)"), "alice@example.test");
	test_assert_streq(parse("Alice (the (nested) one) <alice@example.test>"), "alice@example.test");
	test_assert_streq(parse("John Q. Public <jqp@example.test>"), "jqp@example.test");
	test_assert_streq(parse("=?UTF-8?B?QWxpY2U=?= <alice@example.test>"), "alice@example.test");
	test_assert_streq(parse("\xc3\x89lise <elise@example.test>"), "elise@example.test");
	test_assert_streq(parse("\"bob@example.test\" <alice@example.test>"), "alice@example.test");
	test_assert_streq(parse("\"Quote \\\" and \\\\\" <alice@example.test>"), "alice@example.test");
	test_assert_streq(parse("first.last@example.test"), "first.last@example.test");
	test_assert_streq(parse("alice@[192.0.2.1]"), "alice@[192.0.2.1]");
	test_end();

	test_begin("smtp_from: quoted local parts");
	test_assert_streq(parse("\"alice\"@example.test"), "alice@example.test");
	test_assert_streq(parse("\"al\".ice@example.test"), "al.ice@example.test");
	test_assert_streq(parse("\"a b\"@example.test"), "\"a b\"@example.test");
	test_assert_streq(parse("\"a\\\"b\"@example.test"), "\"a\\\"b\"@example.test");
	test_assert_streq(parse("<\"x..y\"@example.test>"), "\"x..y\"@example.test");
	test_end();

	test_begin("smtp_from: lists");
	test_assert_streq(parse("alice@example.test, Bob <bob@example.test>"), "alice@example.test bob@example.test");
	test_assert_streq(parse(", alice@example.test,,bob@example.test,"), "alice@example.test bob@example.test");
	test_end();
}

static void
test_refused(void)
{
	static const char *const bad[] = {
		"",
		"   ",
		"(only a comment)",
		",,",
		"alice",
		"Alice Smith",
		"Alice <alice>",
		"Alice <alice@example.test",
		"alice@example.test>",
		"Alice alice@example.test",
		"alice@example.test <bob@example.test>",
		"alice@example.test bob@example.test",
		"Friends: alice@example.test, bob@example.test;",
		"undisclosed-recipients:;",
		"<@route.example:alice@example.test>",
		".alice@example.test",
		"alice.@example.test",
		"al..ice@example.test",
		"alice@",
		"alice@example..test",
		"alice@.example.test",
		"alice@example.test.",
		"@example.test",
		"alice@@example.test",
		"\"unterminated@example.test",
		"alice@example.test (unterminated",
		"alice@[192.0.2.1",
		"alice@[a[b]",
		"<<alice@example.test>>",
		"Alice <alice@example.test> <bob@example.test>",
		"\"ctl\x01\" <alice@example.test>",
		"al\x01ice@example.test",
	};
	size_t i;

	test_begin("smtp_from: refused forms");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!refused(bad[i])) {
			printf("# accepted: [%s] -> %s\n", bad[i], parse(bad[i]));
			test_assert(refused(bad[i]));
		}
	}
	test_assert_streq(parse("Friends: alice@example.test;"), "ERR: group syntax not accepted in From header");
	test_assert_streq(parse("Alice Smith"), "ERR: no address in From header");
	test_end();
}

static void
test_limits(void)
{
	char big[4096], *p;
	struct smtp_from_list l;
	const char *error;
	size_t i;

	test_begin("smtp_from: at most SMTP_FROM_ADDRS_MAX addresses");
	p = big;
	for (i = 0; i < SMTP_FROM_ADDRS_MAX; i++)
		p += sprintf(p, "%sa%zu@example.test", i ? "," : "", i);
	test_assert(smtp_from_parse(big, strlen(big), arena, &l, &error) == 0);
	test_assert_inteq(l.n, SMTP_FROM_ADDRS_MAX);
	sprintf(p, ",one.more@example.test");
	test_assert(smtp_from_parse(big, strlen(big), arena, &l, &error) == -1);
	test_end();

	test_begin("smtp_from: address length");
	memset(big, 'a', LOCALPART_MAX);
	strcpy(big + LOCALPART_MAX, "@");
	memset(big + LOCALPART_MAX + 1, 'b', DOMAIN_MAX);
	big[ADDRESS_MAX] = '\0';
	test_assert(smtp_from_parse(big, strlen(big), arena, &l, &error) == 0);
	test_assert_inteq(strlen(l.addr[0]), ADDRESS_MAX);
	strcpy(big + ADDRESS_MAX, "b");
	test_assert(smtp_from_parse(big, strlen(big), arena, &l, &error) == -1);
	/* a long display name is fine */
	memset(big, 'n', 2000);
	strcpy(big + 2000, " <alice@example.test>");
	test_assert(smtp_from_parse(big, strlen(big), arena, &l, &error) == 0);
	test_end();

	test_begin("smtp_from: NUL refused, length not strlen");
	test_assert(smtp_from_parse("a\0b@example.test", 16, arena, &l, &error) == -1);
	test_assert(smtp_from_parse("a@example.test\0", 15, arena, &l, &error) == -1);
	test_assert(smtp_from_parse("a@example.testXYZ", 14, arena, &l, &error) == 0);
	test_assert_streq(l.addr[0], "a@example.test");
	test_end();
}

int
main(void)
{
	arena = arena_new(4096, false);
	test_forms();
	test_refused();
	test_limits();
	arena_free(&arena);
	return test_done();
}
