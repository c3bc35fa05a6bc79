/* The settings page's sessions (src/http/http_websession.h): new ids and
 * tokens, lookup, expiry (anonymous, idle, absolute), sign-out, CSRF
 * compare, and the table staying bounded when full. */
#include <string.h>

#include "http/http_websession.h"
#include "test.h"

static void
test_basics(void)
{
	struct http_websession a, b, got;
	time_t t = 1000000;

	test_begin("websession: new, get, csrf, end");
	test_assert_inteq(http_websession_new("alice@example.com", false, t, &a), 0);
	test_assert_inteq(http_websession_new(NULL, false, t, &b), 0);
	test_assert_inteq((int)strlen(a.id), HTTP_WEBSESSION_TOKEN_LEN);
	test_assert(strcmp(a.id, b.id) != 0 && strcmp(a.id, a.csrf) != 0);
	test_assert(http_websession_get(a.id, t + 1, &got));
	test_assert_streq(got.user, "alice@example.com");
	test_assert_streq(got.csrf, a.csrf);
	test_assert(http_websession_get(b.id, t + 1, &got));
	test_assert_streq(got.user, "");
	test_assert(http_websession_csrf_ok(&a, a.csrf));
	test_assert(!http_websession_csrf_ok(&a, b.csrf));
	test_assert(!http_websession_csrf_ok(&a, NULL));
	test_assert(!http_websession_csrf_ok(&a, ""));
	test_assert(!http_websession_get(NULL, t, &got));
	test_assert(!http_websession_get("", t, &got));
	test_assert(!http_websession_get("abc", t, &got));
	http_websession_end(a.id);
	test_assert(!http_websession_get(a.id, t + 2, &got));
	http_websession_end(b.id);
	test_end();
}

static void
test_expiry(void)
{
	struct http_websession a, anon, got;
	time_t t = 2000000;

	test_begin("websession: idle, absolute and anonymous expiry");
	test_assert_inteq(http_websession_new("alice@example.com", true, t, &a), 0);
	test_assert_inteq(http_websession_new(NULL, false, t, &anon), 0);
	/* used every so often: alive until the absolute limit */
	for (time_t now = t; now < t + HTTP_WEBSESSION_MAX_SEC; now += HTTP_WEBSESSION_IDLE_SEC - 1)
		test_assert(http_websession_get(a.id, now, &got));
	test_assert(got.app_password);
	test_assert(!http_websession_get(a.id, t + HTTP_WEBSESSION_MAX_SEC, &got));
	test_assert(!http_websession_get(anon.id, t + HTTP_WEBSESSION_ANON_SEC, &got));
	/* idle too long */
	test_assert_inteq(http_websession_new("bob@example.com", false, t, &a), 0);
	test_assert(http_websession_get(a.id, t + HTTP_WEBSESSION_IDLE_SEC - 1, &got));
	test_assert(!http_websession_get(a.id, t + 2 * HTTP_WEBSESSION_IDLE_SEC - 1, &got));
	test_end();
}

static void
test_full(void)
{
	struct http_websession signed_in, s;
	time_t t = 3000000;
	int fails = 0;

	test_begin("websession: a full table drops anonymous sessions first");
	test_assert_inteq(http_websession_new("carol@example.com", false, t, &signed_in), 0);
	for (int i = 0; i < 2 * HTTP_WEBSESSIONS_MAX; i++)
		fails += http_websession_new(NULL, false, t + 1, &s) != 0;
	test_assert_inteq(fails, 0);
	test_assert_inteq((int)http_websession_count(t + 1), HTTP_WEBSESSIONS_MAX);
	test_assert(http_websession_get(signed_in.id, t + 2, &s));
	test_end();
}

int
main(void)
{
	test_basics();
	test_expiry();
	test_full();
	return test_done();
}
