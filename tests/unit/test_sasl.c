/* Tests for src/auth/sasl.c: PLAIN with and without authzid, malformed
 * messages, and the length bounds on each part. */
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"
#include "lib/limits.h"
#include "lib/str.h"
#include "test.h"

static struct sasl_credentials cred;

/* Encodes len bytes of msg and runs the PLAIN decoder on it. */
static int
plain(const void *msg, size_t len)
{
	char *b64 = malloc(BASE64_ENCODED_LEN(len) + 1);
	size_t n = base64_encode(msg, len, b64);
	int r = sasl_plain_decode(b64, n, &cred);

	free(b64);
	return r;
}

/* Builds authzid NUL authcid NUL passwd with each part of a given length. */
static int
plain_sizes(size_t zlen, size_t clen, size_t plen)
{
	size_t len = zlen + 1 + clen + 1 + plen;
	char *msg = malloc(len);
	int r;

	memset(msg, 'z', zlen);
	msg[zlen] = '\0';
	memset(msg + zlen + 1, 'c', clen);
	msg[zlen + 1 + clen] = '\0';
	memset(msg + zlen + 1 + clen + 1, 'p', plen);
	r = plain(msg, len);
	free(msg);
	return r;
}

static void
test_plain_ok(void)
{
	test_begin("sasl: PLAIN without authzid");
	test_assert_inteq(plain("\0alice@example.com\0secret", 25), 0);
	test_assert_streq(cred.authzid, "");
	test_assert_streq(cred.authcid, "alice@example.com");
	test_assert_streq(cred.password, "secret");
	/* RFC 4616 section 4 example: "\0tim\0tanstaaftanstaaf" */
	test_assert_inteq(sasl_plain_decode("AHRpbQB0YW5zdGFhZnRhbnN0YWFm", 28, &cred), 0);
	test_assert_streq(cred.authcid, "tim");
	test_assert_streq(cred.password, "tanstaaftanstaaf");
	test_end();

	test_begin("sasl: PLAIN with authzid");
	/* RFC 4616 section 4 example: "Ursel\0Kurt\0xipj3plmq" */
	test_assert_inteq(sasl_plain_decode("VXJzZWwAS3VydAB4aXBqM3BsbXE=", 28, &cred), 0);
	test_assert_streq(cred.authzid, "Ursel");
	test_assert_streq(cred.authcid, "Kurt");
	test_assert_streq(cred.password, "xipj3plmq");
	/* UTF-8 and spaces pass through untouched */
	test_assert_inteq(plain("admin\0b\xc3\xb6" "b\0pass word ", 21), 0);
	test_assert_streq(cred.authzid, "admin");
	test_assert_streq(cred.authcid, "b\xc3\xb6" "b");
	test_assert_streq(cred.password, "pass word ");
	test_end();
}

static void
test_plain_malformed(void)
{
	test_begin("sasl: PLAIN malformed");
	test_assert_inteq(sasl_plain_decode("", 0, &cred), -1);
	test_assert_inteq(sasl_plain_decode("=", 1, &cred), -1);
	test_assert_inteq(sasl_plain_decode(NULL, 4, &cred), -1);
	test_assert_inteq(sasl_plain_decode("AHRpbQB0YW5zdGFhZnRhbnN0YWFm!", 29, &cred), -1);
	test_assert_inteq(sasl_plain_decode("AHRpbQB0YW5zdGFhZnRhbnN0YWF", 27, &cred), -1);   /* not a multiple of 4 */
	test_assert_inteq(sasl_plain_decode("AHRpbQB0 W5zdGFhZnRhbnN0YWFm", 28, &cred), -1);  /* space */
	test_assert_inteq(sasl_plain_decode("AHRp\r\nbQB0", 10, &cred), -1);
	test_assert_inteq(plain("alice\0secret", 12), -1);                 /* one NUL */
	test_assert_inteq(plain("alicesecret", 11), -1);                   /* no NUL */
	test_assert_inteq(plain("\0\0secret", 8), -1);                     /* empty authcid */
	test_assert_inteq(plain("\0alice\0", 7), -1);                      /* empty password */
	test_assert_inteq(plain("\0alice\0sec\0ret", 14), -1);             /* a NUL too many */
	test_assert_inteq(plain("a\0b\0c\0", 6), -1);
	test_assert_inteq(plain("\0", 1), -1);
	test_assert_inteq(plain("\0\0", 2), -1);
	/* a failure leaves nothing behind */
	test_assert_streq(cred.authcid, "");
	test_assert_streq(cred.password, "");
	test_end();
}

static void
test_plain_bounds(void)
{
	test_begin("sasl: PLAIN length bounds");
	test_assert_inteq(plain_sizes(0, 1, 1), 0);
	test_assert_inteq(strlen(cred.authcid), 1);
	test_assert_inteq(plain_sizes(AUTH_USER_MAX, AUTH_USER_MAX, AUTH_PASS_MAX), 0);
	test_assert_inteq(strlen(cred.authzid), AUTH_USER_MAX);
	test_assert_inteq(strlen(cred.authcid), AUTH_USER_MAX);
	test_assert_inteq(strlen(cred.password), AUTH_PASS_MAX);
	test_assert_inteq(plain_sizes(AUTH_USER_MAX + 1, 5, 5), -1);
	test_assert_inteq(plain_sizes(0, AUTH_USER_MAX + 1, 5), -1);
	test_assert_inteq(plain_sizes(0, 5, AUTH_PASS_MAX + 1), -1);
	test_assert_inteq(plain_sizes(AUTH_USER_MAX + 1, AUTH_USER_MAX + 1, AUTH_PASS_MAX + 1), -1);
	/* a short authzid leaves room that a long password must not use */
	test_assert_inteq(plain_sizes(0, 5, AUTH_PASS_MAX + AUTH_USER_MAX), -1);
	/* far past every bound */
	test_assert_inteq(plain_sizes(0, 5, 100000), -1);
	test_end();
}

static void
test_login(void)
{
	char out[AUTH_USER_MAX + 1];
	char b64[BASE64_ENCODED_LEN(AUTH_USER_MAX + 1) + 1];
	char raw[AUTH_USER_MAX + 1];
	size_t n;

	test_begin("sasl: LOGIN steps");
	test_assert_inteq(sasl_login_decode("YWxpY2VAZXhhbXBsZS5jb20=", 24, out, sizeof(out)), 17);
	test_assert_streq(out, "alice@example.com");
	test_assert_inteq(sasl_login_decode("c2VjcmV0", 8, out, sizeof(out)), 6);
	test_assert_streq(out, "secret");
	test_assert_inteq(sasl_login_decode("", 0, out, sizeof(out)), 0);
	test_assert_streq(out, "");
	test_assert_inteq(sasl_login_decode("c2VjcmV0!", 9, out, sizeof(out)), -1);
	test_assert_inteq(sasl_login_decode("c2VjcmV", 7, out, sizeof(out)), -1);
	test_assert_inteq(sasl_login_decode("YQBi", 4, out, sizeof(out)), -1);   /* "a\0b" */
	test_assert_inteq(sasl_login_decode("YWJj", 4, out, 0), -1);
	test_assert_inteq(sasl_login_decode("YWJj", 4, NULL, 10), -1);
	test_assert_inteq(sasl_login_decode(NULL, 4, out, sizeof(out)), -1);
	test_end();

	test_begin("sasl: LOGIN output bounds");
	/* exactly fills out (with its NUL), then one byte too many */
	test_assert_inteq(sasl_login_decode("YWJj", 4, out, 4), 3);
	test_assert_streq(out, "abc");
	test_assert_inteq(sasl_login_decode("YWJj", 4, out, 3), -1);
	test_assert_inteq(sasl_login_decode("YWJjZA==", 8, out, 4), -1);
	memset(raw, 'u', AUTH_USER_MAX);
	n = base64_encode((unsigned char *)raw, AUTH_USER_MAX, b64);
	test_assert_inteq(sasl_login_decode(b64, n, out, sizeof(out)), AUTH_USER_MAX);
	memset(raw, 'u', AUTH_USER_MAX + 1);
	n = base64_encode((unsigned char *)raw, AUTH_USER_MAX + 1, b64);
	test_assert_inteq(sasl_login_decode(b64, n, out, sizeof(out)), -1);
	test_end();
}

int
main(void)
{
	test_plain_ok();
	test_plain_malformed();
	test_plain_bounds();
	test_login();
	return test_done();
}
