/* Tests for src/auth/sasl_oauth.c: the RFC 7628 examples, XOAUTH2 as
 * clients send it, malformed messages, the token bound, and the error
 * challenge. */
#include <stdlib.h>
#include <string.h>

#include "auth/sasl_oauth.h"
#include "lib/str.h"
#include "test.h"

static struct sasl_bearer sb;

static int
ob(const void *msg, size_t len)
{
	char *b64 = malloc(BASE64_ENCODED_LEN(len) + 1);
	size_t n = base64_encode(msg, len, b64);
	int r = sasl_oauthbearer_decode(b64, n, &sb);

	free(b64);
	return r;
}

static int
xo(const void *msg, size_t len)
{
	char *b64 = malloc(BASE64_ENCODED_LEN(len) + 1);
	size_t n = base64_encode(msg, len, b64);
	int r = sasl_xoauth2_decode(b64, n, &sb);

	free(b64);
	return r;
}

#define OB(s) ob(s, sizeof(s) - 1)
#define XO(s) xo(s, sizeof(s) - 1)

static void
test_oauthbearer(void)
{
	/* RFC 7628 4.1, exactly as printed there (base64). */
	static const char rfc41[] =
		"bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB";

	test_begin("sasl_oauth: OAUTHBEARER RFC 7628 4.1");
	test_assert_inteq(sasl_oauthbearer_decode(rfc41, strlen(rfc41), &sb), 0);
	test_assert_streq(sb.user, "user@example.com");
	test_assert_streq(sb.token, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==");
	test_end();

	test_begin("sasl_oauth: OAUTHBEARER forms");
	test_assert_inteq(OB("n,,\x01" "auth=Bearer abc\x01\x01"), 0);
	test_assert_streq(sb.user, "");
	test_assert_streq(sb.token, "abc");
	test_assert_inteq(OB("y,a=u@x,\x01" "auth=bearer  a.b-c_d~e+f/g==\x01host=h\x01\x01"), 0);
	test_assert_streq(sb.user, "u@x");
	test_assert_streq(sb.token, "a.b-c_d~e+f/g==");
	test_assert_inteq(OB("n,a=a=2Cb=3Dc,\x01" "auth=Bearer t\x01\x01"), 0);
	test_assert_streq(sb.user, "a,b=c");
	test_assert_inteq(OB("n,,\x01" "host=server.example.com\x01port=587\x01" "auth=Bearer t\x01" "foo=bar baz\x01\x01"), 0);
	test_assert_streq(sb.token, "t");
	test_assert_inteq(OB("\x01"), SASL_OAUTH_DUMMY);
	test_end();

	test_begin("sasl_oauth: OAUTHBEARER malformed");
	test_assert_inteq(sasl_oauthbearer_decode("", 0, &sb), -1);
	test_assert_inteq(sasl_oauthbearer_decode("====", 4, &sb), -1);
	test_assert_inteq(sasl_oauthbearer_decode("bixh", 3, &sb), -1);
	test_assert_inteq(OB("n,,\x01\x01"), -1);                             /* no auth */
	test_assert_inteq(OB("n,,\x01host=h\x01\x01"), -1);
	test_assert_inteq(OB("p=tls-unique,,\x01" "auth=Bearer t\x01\x01"), -1); /* channel binding */
	test_assert_inteq(OB("x,,\x01" "auth=Bearer t\x01\x01"), -1);
	test_assert_inteq(OB("n,\x01" "auth=Bearer t\x01\x01"), -1);          /* gs2 header cut short */
	test_assert_inteq(OB("n,a=,\x01" "auth=Bearer t\x01\x01"), -1);       /* empty authzid */
	test_assert_inteq(OB("n,a=u=2,\x01" "auth=Bearer t\x01\x01"), -1);    /* bad escape */
	test_assert_inteq(OB("n,,auth=Bearer t\x01\x01"), -1);                /* no kvsep after header */
	test_assert_inteq(OB("n,,\x01" "auth=Bearer t\x01"), -1);             /* no final kvsep */
	test_assert_inteq(OB("n,,\x01" "auth=Bearer t"), -1);
	test_assert_inteq(OB("n,,\x01" "auth=Bearer t\x01\x01\x01"), -1);     /* trailing bytes */
	test_assert_inteq(OB("n,,\x01" "auth=Bearer t\x01\x01x"), -1);
	test_assert_inteq(OB("n,,\x01" "auth=Bearer t\x01" "auth=Bearer u\x01\x01"), -1); /* twice */
	test_assert_inteq(OB("n,,\x01" "auth=Basic dTpw\x01\x01"), -1);
	test_assert_inteq(OB("n,,\x01" "auth=Bearer\x01\x01"), -1);
	test_assert_inteq(OB("n,,\x01" "auth=Bearer \x01\x01"), -1);
	test_assert_inteq(OB("n,,\x01" "auth=Bearertok\x01\x01"), -1);
	test_assert_inteq(OB("n,,\x01" "auth=Bearer a b\x01\x01"), -1);
	test_assert_inteq(OB("n,,\x01" "auth=Bearer a=b\x01\x01"), -1);
	test_assert_inteq(OB("n,,\x01" "auth=Bearer t \x01\x01"), -1);
	test_assert_inteq(OB("n,,\x01" "=x\x01" "auth=Bearer t\x01\x01"), -1); /* empty key */
	test_assert_inteq(OB("n,,\x01" "ho5t=x\x01" "auth=Bearer t\x01\x01"), -1);
	test_assert_inteq(OB("n,,\x01" "host\x01" "auth=Bearer t\x01\x01"), -1);
	test_assert_inteq(ob("n,,\x01host=a\0b\x01" "auth=Bearer t\x01\x01", 27), -1);
	test_assert_inteq(ob("n,a=u\0,\x01" "auth=Bearer t\x01\x01", 23), -1);
	test_assert_inteq(OB("n,,\x01host=\xc3\xa9\x01" "auth=Bearer t\x01\x01"), -1);
	test_assert_inteq(OB("\x01\x01"), -1);
	test_assert(sb.user[0] == '\0' && sb.token[0] == '\0');
	test_end();
}

static void
test_xoauth2(void)
{
	test_begin("sasl_oauth: XOAUTH2");
	/* Google's documented example */
	test_assert_inteq(XO("user=someuser@example.com\x01" "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"), 0);
	test_assert_streq(sb.user, "someuser@example.com");
	test_assert_streq(sb.token, "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
	{
		static const char g[] =
			"dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==";

		test_assert_inteq(sasl_xoauth2_decode(g, strlen(g), &sb), 0);
		test_assert_streq(sb.user, "someuser@example.com");
	}
	test_assert_inteq(XO("user=u\x01" "auth=BEARER  t\x01\x01"), 0);
	test_end();

	test_begin("sasl_oauth: XOAUTH2 malformed");
	test_assert_inteq(XO("user=\x01" "auth=Bearer t\x01\x01"), -1);
	test_assert_inteq(XO("auth=Bearer t\x01\x01"), -1);
	test_assert_inteq(XO("user=u\x01\x01"), -1);
	test_assert_inteq(XO("user=u\x01" "auth=Bearer t\x01"), -1);
	test_assert_inteq(XO("user=u\x01" "auth=Bearer t"), -1);
	test_assert_inteq(XO("user=u\x01" "auth=Bearer t\x01\x01\x01"), -1);
	test_assert_inteq(XO("user=u\x01" "auth=Bearer t\x01x\x01"), -1);
	test_assert_inteq(XO("user=u\x01" "auth=Bearer t\x01" "host=x\x01\x01"), -1);
	test_assert_inteq(XO("user=u\x01" "auth=Bearer \x01\x01"), -1);
	test_assert_inteq(XO("user=u\x01" "auth=Bearer t t\x01\x01"), -1);
	test_assert_inteq(XO("user=u\x01" "auth=Token t\x01\x01"), -1);
	test_assert_inteq(xo("user=u\0v\x01" "auth=Bearer t\x01\x01", 23), -1);
	test_assert_inteq(xo("user=u\x01" "auth=Bearer t\0\x01\x01", 22), -1);
	test_assert_inteq(XO("user=u\nv\x01" "auth=Bearer t\x01\x01"), -1);
	test_assert_inteq(XO("User=u\x01" "auth=Bearer t\x01\x01"), -1);
	test_end();
}

/* Builds "user=U\1auth=Bearer " + tlen 'a's + "\1\1" and decodes it. */
static int
xo_sizes(size_t ulen, size_t tlen)
{
	size_t len = 5 + ulen + 1 + 12 + tlen + 2, o = 0;
	char *m = malloc(len);
	int r;

	memcpy(m, "user=", 5);
	o = 5;
	memset(m + o, 'u', ulen);
	o += ulen;
	memcpy(m + o, "\x01" "auth=Bearer ", 13);
	o += 13;
	memset(m + o, 'a', tlen);
	o += tlen;
	memcpy(m + o, "\x01\x01", 2);
	r = xo(m, len);
	free(m);
	return r;
}

static int
ob_size(size_t tlen)
{
	size_t len = 4 + 12 + tlen + 2, o = 0;
	char *m = malloc(len);
	int r;

	memcpy(m, "n,,\x01" "auth=Bearer ", 16);
	o = 16;
	memset(m + o, 'a', tlen);
	o += tlen;
	memcpy(m + o, "\x01\x01", 2);
	r = ob(m, len);
	free(m);
	return r;
}

static void
test_bounds(void)
{
	char *big;
	size_t n;

	test_begin("sasl_oauth: token and user bounds");
	test_assert_inteq(xo_sizes(AUTH_USER_MAX, SASL_TOKEN_MAX), 0);
	test_assert_inteq(strlen(sb.user), AUTH_USER_MAX);
	test_assert_inteq(strlen(sb.token), SASL_TOKEN_MAX);
	test_assert_inteq(xo_sizes(AUTH_USER_MAX + 1, 10), -1);
	test_assert_inteq(xo_sizes(10, SASL_TOKEN_MAX + 1), -1);
	test_assert_inteq(ob_size(SASL_TOKEN_MAX), 0);
	test_assert_inteq(ob_size(SASL_TOKEN_MAX + 1), -1);
	test_assert_inteq(ob_size(SASL_OAUTH_MSG_MAX), -1);
	/* base64 longer than any message we take: refused before decoding */
	n = BASE64_ENCODED_LEN(SASL_OAUTH_MSG_MAX) + 4;
	big = malloc(n);
	memset(big, 'A', n);
	test_assert_inteq(sasl_oauthbearer_decode(big, n, &sb), -1);
	test_assert_inteq(sasl_xoauth2_decode(big, n, &sb), -1);
	free(big);
	test_end();

	test_begin("sasl_oauth: every truncation of a good message fails");
	{
		static const char m[] = "n,a=u@x,\x01host=h\x01port=1\x01" "auth=Bearer tok\x01\x01";
		static const char x[] = "user=u@x\x01" "auth=Bearer tok\x01\x01";

		for (size_t i = 1; i < sizeof(m) - 1; i++)
			test_assert_inteq(ob(m, i) == 0, 0);
		test_assert_inteq(ob(m, sizeof(m) - 1), 0);
		for (size_t i = 1; i < sizeof(x) - 1; i++)
			test_assert_inteq(xo(x, i), -1);
		test_assert_inteq(xo(x, sizeof(x) - 1), 0);
	}
	test_end();
}

static void
test_error(void)
{
	char out[512], json[400];
	long n;
	size_t len;

	test_begin("sasl_oauth: RFC 7628 3.2.2 error challenge");
	len = sasl_oauth_error_b64("invalid_token", "https://id.example.com/.well-known/openid-configuration", out,
	                           sizeof(out));
	test_assert(len > 0 && len == strlen(out));
	n = base64_decode(out, len, (unsigned char *)json, sizeof(json) - 1);
	test_assert(n > 0);
	json[n > 0 ? n : 0] = '\0';
	test_assert_streq(json, "{\"status\":\"invalid_token\",\"openid-configuration\":"
	                        "\"https://id.example.com/.well-known/openid-configuration\"}");
	len = sasl_oauth_error_b64("invalid_request", NULL, out, sizeof(out));
	n = base64_decode(out, len, (unsigned char *)json, sizeof(json) - 1);
	json[n > 0 ? n : 0] = '\0';
	test_assert_streq(json, "{\"status\":\"invalid_request\"}");
	/* quotes are escaped, not spliced */
	len = sasl_oauth_error_b64("invalid_token", "https://x/\"}", out, sizeof(out));
	n = base64_decode(out, len, (unsigned char *)json, sizeof(json) - 1);
	json[n > 0 ? n : 0] = '\0';
	test_assert_streq(json, "{\"status\":\"invalid_token\",\"openid-configuration\":\"https://x/\\\"}\"}");
	/* too small: 0 and an empty string */
	test_assert_inteq(sasl_oauth_error_b64("invalid_token", NULL, out, 20), 0);
	test_assert_streq(out, "");
	test_assert_inteq(sasl_oauth_error_b64("invalid_token", NULL, out, 37), 36);
	test_assert_inteq(sasl_oauth_error_b64("invalid_token", NULL, out, 36), 0);
	test_end();
}

int
main(void)
{
	test_oauthbearer();
	test_xoauth2();
	test_bounds();
	test_error();
	return test_done();
}
