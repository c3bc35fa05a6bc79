/* What the proxy reads of a back end's replies, and XCLIENT (proxy_parse.c).
 * Expected results by hand from RFC 9051 (7.1.1 greeting, 6.2.2 the OK's
 * CAPABILITY code, 7.2.2 CAPABILITY), RFC 1939 (+OK/-ERR) and Postfix's
 * XCLIENT_README (ADDR, PORT; IPv6 as "IPV6:..."). */
#include "proxy/proxy.h"
#include "test.h"

static void
test_greeting(void)
{
	test_begin("proxy_parse: IMAP greeting");
	test_assert(proxy_imap_greeting_ok("* OK [CAPABILITY IMAP4rev1] ready", 33) == 1);
	test_assert(proxy_imap_greeting_ok("* ok hi", 7) == 1);
	test_assert(proxy_imap_greeting_ok("* OK", 4) == 1);
	test_assert(proxy_imap_greeting_ok("* PREAUTH hi", 12) == 0);
	test_assert(proxy_imap_greeting_ok("* BYE [UNAVAILABLE] busy", 24) == 0);
	test_assert(proxy_imap_greeting_ok("* OKAY", 6) == 0);
	test_assert(proxy_imap_greeting_ok("", 0) == 0);
	test_end();
}

static int
reply(const char *line, const char *tag, bool *ok, char *caps, size_t size)
{
	return proxy_imap_reply(line, strlen(line), tag, ok, caps, size);
}

static void
test_reply(void)
{
	char caps[64] = "unchanged";
	bool ok = false;

	test_begin("proxy_parse: IMAP tagged reply with CAPABILITY");
	test_assert(reply("P2 OK [CAPABILITY IMAP4rev1 IDLE NAMESPACE] Logged in", "P2", &ok, caps, sizeof(caps)) == 1);
	test_assert(ok);
	test_assert_streq(caps, "IMAP4rev1 IDLE NAMESPACE");
	test_end();

	test_begin("proxy_parse: IMAP NO, other tags, untagged");
	strcpy(caps, "x");
	test_assert(reply("P2 NO [AUTHENTICATIONFAILED] no", "P2", &ok, caps, sizeof(caps)) == 1);
	test_assert(!ok);
	test_assert_streq(caps, "x");
	test_assert(reply("P1 OK ID done", "P2", &ok, caps, sizeof(caps)) == 0);
	test_assert(reply("P22 OK x", "P2", &ok, caps, sizeof(caps)) == 0);
	test_assert(reply("P2", "P2", &ok, caps, sizeof(caps)) == 0);
	test_assert(reply("P2 OKAY", "P2", &ok, caps, sizeof(caps)) == 1);
	test_assert(!ok);
	test_assert(reply("P2 OK", "P2", &ok, caps, sizeof(caps)) == 1);
	test_assert(ok);
	test_assert(reply("* ID (\"name\" \"x\")", "P2", &ok, caps, sizeof(caps)) == 0);
	test_assert(reply("* CAPABILITY IMAP4rev2 IDLE", "P2", &ok, caps, sizeof(caps)) == 2);
	test_assert_streq(caps, "IMAP4rev2 IDLE");
	test_end();

	test_begin("proxy_parse: a capability list is cut to the buffer, never past it");
	{
		char small[8];

		test_assert(reply("P2 OK [CAPABILITY IMAP4rev1 IDLE] x", "P2", &ok, small, sizeof(small)) == 1);
		test_assert(strlen(small) < sizeof(small));
		test_assert(strncmp(small, "IMAP4re", 7) == 0);
		/* a control character ends the list */
		test_assert(reply("P2 OK [CAPABILITY A\001B] x", "P2", &ok, caps, sizeof(caps)) == 1);
		test_assert_streq(caps, "A");
		/* no closing bracket: the rest of the line */
		test_assert(reply("P2 OK [CAPABILITY A B", "P2", &ok, caps, sizeof(caps)) == 1);
		test_assert_streq(caps, "A B");
	}
	test_end();
}

static void
test_pop3(void)
{
	test_begin("proxy_parse: POP3 status");
	test_assert(proxy_pop3_ok("+OK", 3) == 1);
	test_assert(proxy_pop3_ok("+OK Logged in.", 14) == 1);
	test_assert(proxy_pop3_ok("+OKAY", 5) == 0);
	test_assert(proxy_pop3_ok("-ERR [AUTH] no", 14) == 0);
	test_assert(proxy_pop3_ok("+O", 2) == 0);
	test_end();
}

static void
test_quote(void)
{
	char out[16];

	test_begin("proxy_parse: IMAP quoting of a passed-on address");
	proxy_imap_quote("192.0.2.1", out, sizeof(out));
	test_assert_streq(out, "\"192.0.2.1\"");
	proxy_imap_quote("a\"b\\c\r", out, sizeof(out));
	test_assert_streq(out, "\"a?b?c?\"");
	proxy_imap_quote("0123456789abcdefghij", out, sizeof(out));
	test_assert(strlen(out) == sizeof(out) - 1 && out[0] == '"' && out[sizeof(out) - 2] == '"');
	test_end();
}

static void
test_xclient(void)
{
	char addr[46];
	unsigned port;

	test_begin("proxy_parse: XCLIENT");
	test_assert(proxy_xclient_parse("ADDR=192.0.2.1 PORT=4000", addr, sizeof(addr), &port) == 0);
	test_assert_streq(addr, "192.0.2.1");
	test_assert_inteq(port, 4000);
	test_assert(proxy_xclient_parse("port=1 addr=IPV6:2001:db8::1", addr, sizeof(addr), &port) == 0);
	test_assert_streq(addr, "2001:db8::1");
	test_assert_inteq(port, 1);
	test_assert(proxy_xclient_parse("ADDR=2001:db8::2", addr, sizeof(addr), &port) == 0);
	test_assert_inteq(port, 0);
	test_assert(proxy_xclient_parse("PORT=4000", addr, sizeof(addr), &port) == -1);
	test_assert(proxy_xclient_parse("ADDR=example.com", addr, sizeof(addr), &port) == -1);
	test_assert(proxy_xclient_parse("ADDR=192.0.2.1 PORT=0", addr, sizeof(addr), &port) == -1);
	test_assert(proxy_xclient_parse("ADDR=192.0.2.1 PORT=65536", addr, sizeof(addr), &port) == -1);
	test_assert(proxy_xclient_parse("ADDR=192.0.2.1 PORT=-1", addr, sizeof(addr), &port) == -1);
	test_assert(proxy_xclient_parse("ADDR=192.0.2.1 ADDR=192.0.2.2", addr, sizeof(addr), &port) == -1);
	test_assert(proxy_xclient_parse("ADDR=192.0.2.1 NAME=x", addr, sizeof(addr), &port) == -1);
	test_assert(proxy_xclient_parse("ADDR", addr, sizeof(addr), &port) == -1);
	test_assert(proxy_xclient_parse("", addr, sizeof(addr), &port) == -1);
	test_assert(proxy_xclient_parse("ADDR=192.0.2.1", addr, 4, &port) == -1);
	test_end();
}

int
main(void)
{
	test_greeting();
	test_reply();
	test_pop3();
	test_quote();
	test_xclient();
	return test_done();
}
