/* Tests of mailbox names at the wire (src/imap/imap_mutf7.c).  The
 * modified UTF-7 vectors are RFC 3501 5.1.3's own examples, and others
 * computed by hand from RFC 2152 base64 of UTF-16BE (checked with
 * Python's base64 and codecs, not with this code). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_cmd.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "test.h"

static struct arena *a;

static const char *
dec(const char *wire, bool utf8)
{
	return imap_mailbox_decode(wire, strlen(wire), utf8, a);
}

static const char *
enc(const char *name, bool utf8)
{
	static struct buf b;

	buf_reset(&b);
	imap_mailbox_write(&b, name, utf8);
	return arena_strndup(a, b.data != NULL ? b.data : "", b.len);
}

static const char *
nstr(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	char *r;

	imap_write_nstring(&b, s, len);
	r = arena_strndup(a, b.data, b.len);
	buf_free(&b);
	return r;
}

static void
test_rfc3501_examples(void)
{
	test_begin("mutf7: RFC 3501 5.1.3 examples");
	/* "~peter/mail/<Chinese>/<Japanese>" */
	test_assert_streq(dec("~peter/mail/&U,BTFw-/&ZeVnLIqe-", false),
	                  "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	test_assert_streq(enc("~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", false),
	                  "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	/* "&Jjo!" lacks the shift back to US-ASCII; "&Jjo-!" is right. */
	test_assert(dec("&Jjo!", false) == NULL);
	test_assert_streq(dec("&Jjo-!", false), "\xe2\x98\xba!");
	/* "&U,BTFw-&ZeVnLIqe-" has a superfluous shift; the one run is right. */
	test_assert(dec("&U,BTFw-&ZeVnLIqe-", false) == NULL);
	test_assert_streq(dec("&U,BTF2XlZyyKng-", false),
	                  "\xe5\x8f\xb0\xe5\x8c\x97\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	test_assert_streq(enc("\xe5\x8f\xb0\xe5\x8c\x97\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", false),
	                  "&U,BTF2XlZyyKng-");
	test_end();
}

static void
test_decode(void)
{
	test_begin("mutf7: decode");
	test_assert_streq(dec("INBOX", false), "INBOX");
	test_assert_streq(dec("", false), "");
	test_assert_streq(dec("&-", false), "&");
	test_assert_streq(dec("a&-b&-", false), "a&b&");
	test_assert_streq(dec("Entw&APw-rfe", false), "Entw\xc3\xbcrfe");
	test_assert_streq(dec("&2D3eAA-", false), "\xf0\x9f\x98\x80");        /* U+1F600: a surrogate pair */
	test_assert_streq(dec("Hi Mom -&Jjo--!", false), "Hi Mom -\xe2\x98\xba-!");
	test_assert_streq(dec("&AOk-&-", false), "\xc3\xa9&");               /* "&-" after a run is no null shift */
	test_assert_streq(dec("&AAE-", false), "\x01");                      /* a control character, encoded */
	{
		/* UTF-8 longer than its modified UTF-7 (3 bytes per 2.67
		 * characters): 40 times U+53F0 is 109 bytes on the wire, 120 in
		 * UTF-8.  (Found by fuzz_imap_mutf7: an overflow.) */
		const char *wire = "&U,BT8FPwU,BT8FPwU,BT8FPwU,BT8FPwU,BT8FPwU,BT8FPwU,BT8FPwU,BT8FPwU,BT8FPwU,"
		                   "BT8FPwU,BT8FPwU,BT8FPwU,BT8FPwU,A-";
		const char *d = dec(wire, false);
		char want[121];
		int i;

		for (i = 0; i < 40; i++)
			memcpy(want + 3 * i, "\xe5\x8f\xb0", 3);
		want[120] = '\0';
		test_assert_inteq(strlen(wire), 109);
		test_assert_streq(d, want);
		test_assert_streq(enc(want, false), wire);
	}
	test_end();

	test_begin("mutf7: decode refuses every non-shortest or broken form");
	test_assert(dec("&AGE-", false) == NULL);     /* "a" must stand for itself */
	test_assert(dec("&ACY-", false) == NULL);     /* "&" must be "&-" */
	test_assert(dec("&AOkA-", false) == NULL);    /* a base64 character too many */
	test_assert(dec("&AOl-", false) == NULL);     /* leftover bits not zero */
	test_assert(dec("&AO-", false) == NULL);      /* half a character */
	test_assert(dec("&AAA-", false) == NULL);     /* NUL */
	test_assert(dec("&2D0-", false) == NULL);     /* lone high surrogate */
	test_assert(dec("&3gA-", false) == NULL);     /* lone low surrogate */
	test_assert(dec("&2D3YPQ-", false) == NULL);  /* high surrogate, then another high one */
	test_assert(dec("&", false) == NULL);
	test_assert(dec("a&", false) == NULL);
	test_assert(dec("&AOk", false) == NULL);
	test_assert(dec("&AO.-", false) == NULL);     /* not base64 */
	test_assert(dec("&AO/-", false) == NULL);     /* "/" is "," in modified base64 */
	test_assert(dec("&AOk=-", false) == NULL);    /* no padding */
	test_assert(dec("a\tb", false) == NULL);      /* raw control character */
	test_assert(dec("a\x7f", false) == NULL);
	test_end();

	test_begin("mutf7: 8-bit names are UTF-8, from any client");
	test_assert_streq(dec("Entw\xc3\xbcrfe", false), "Entw\xc3\xbcrfe");
	test_assert_streq(dec("Entw\xc3\xbcrfe", true), "Entw\xc3\xbcrfe");
	/* IMAP4rev2: "&" is just a character */
	test_assert_streq(dec("&U,BTFw-", true), "&U,BTFw-");
	test_assert_streq(dec("a&b", true), "a&b");
	test_assert(dec("\xc3(", false) == NULL);            /* broken sequence */
	test_assert(dec("\xc0\xaf", true) == NULL);          /* overlong "/" */
	test_assert(dec("\xed\xa0\x80", true) == NULL);      /* UTF-16 surrogate */
	test_assert(dec("\xf4\x90\x80\x80", true) == NULL);  /* above U+10FFFF */
	test_assert(dec("\xe6\x97", true) == NULL);          /* truncated */
	test_assert(imap_mailbox_decode("a\0b", 3, true, a) == NULL);
	test_end();
}

static void
test_write(void)
{
	test_begin("mutf7: imap_mailbox_write");
	test_assert_streq(enc("INBOX", false), "INBOX");
	test_assert_streq(enc("Sent", true), "Sent");
	test_assert_streq(enc("Work/Reports", false), "Work/Reports");
	test_assert_streq(enc("a&b", false), "a&-b");
	test_assert_streq(enc("a&b", true), "a&b");
	test_assert_streq(enc("Entw\xc3\xbcrfe", false), "Entw&APw-rfe");
	test_assert_streq(enc("Entw\xc3\xbcrfe", true), "\"Entw\xc3\xbcrfe\"");
	test_assert_streq(enc("\xf0\x9f\x98\x80", false), "&2D3eAA-");
	test_assert_streq(enc("\xc3\x9cn\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9/Ordner", false),
	                  "&ANw-n&AO8-c&APY-d&AOk-/Ordner");
	test_assert_streq(enc("Sent Items", false), "\"Sent Items\"");
	test_assert_streq(enc("", false), "\"\"");
	test_assert_streq(enc("NIL", false), "\"NIL\"");
	test_assert_streq(enc("nil", false), "\"nil\"");
	test_assert_streq(enc("a\"b\\c", false), "\"a\\\"b\\\\c\"");
	test_assert_streq(enc("x]", false), "\"x]\"");
	test_assert_streq(enc("50%", false), "\"50%\"");
	test_assert_streq(enc("a*", false), "\"a*\"");
	test_assert_streq(enc("(x)", false), "\"(x)\"");
	test_assert_streq(enc("{3}", false), "\"{3}\"");
	test_assert_streq(enc("\x01", false), "&AAE-");
	test_assert_streq(enc("a\rb", true), "{3}\r\na\rb");  /* never a name, but must not break the line */
	/* one long run stays one run */
	test_assert_streq(enc("xxx\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", false), "xxx&AOkA6QDpAOk-");
	test_end();

	test_begin("mutf7: imap_write_nstring");
	test_assert_streq(nstr(NULL, 0), "NIL");
	test_assert_streq(nstr("", 0), "\"\"");
	test_assert_streq(nstr("Hello", 5), "\"Hello\"");
	test_assert_streq(nstr("NIL", 3), "\"NIL\"");
	test_assert_streq(nstr("say \"hi\"\\", 9), "\"say \\\"hi\\\"\\\\\"");
	test_assert_streq(nstr("a\r\nb", 4), "{4}\r\na\r\nb");
	test_assert_streq(nstr("caf\xc3\xa9", 5), "{5}\r\ncaf\xc3\xa9");
	test_end();
}

/* A small deterministic generator of UTF-8 strings mixing printable
 * ASCII, "&", "/", controls, BMP and astral characters. */
static size_t
random_name(uint32_t *seed, char *out)
{
	static const uint32_t pool[] = { 'a', 'Z', '&', '/', '-', ' ', '~', 0x01, 0x7f, 0xe9, 0x53f0,
	                                 0xffff, 0xfffd, 0x1f600, 0x10ffff, 0x0800, 0x80 };
	size_t n, i, o = 0;

	*seed = *seed * 1103515245 + 12345;
	n = (*seed >> 16) % 12;
	for (i = 0; i < n; i++) {
		uint32_t cp;

		*seed = *seed * 1103515245 + 12345;
		cp = pool[(*seed >> 16) % (sizeof(pool) / sizeof(pool[0]))];
		if (cp < 0x80) {
			out[o++] = (char)cp;
		} else if (cp < 0x800) {
			out[o++] = (char)(0xc0 | cp >> 6);
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out[o++] = (char)(0xe0 | cp >> 12);
			out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		} else {
			out[o++] = (char)(0xf0 | cp >> 18);
			out[o++] = (char)(0x80 | (cp >> 12 & 0x3f));
			out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
			out[o++] = (char)(0x80 | (cp & 0x3f));
		}
	}
	out[o] = '\0';
	return o;
}

static void
test_round_trip(void)
{
	uint32_t seed = 7;
	char name[64];
	int i;

	test_begin("mutf7: decode(encode(name)) == name, and the encoding is canonical");
	for (i = 0; i < 5000; i++) {
		struct buf b = BUF_INIT;
		const char *d, *wire;

		random_name(&seed, name);
		imap_mailbox_write(&b, name, false);
		wire = b.data;
		/* strip the quotes of a quoted string (no escapes: no '"' in the pool) */
		if (wire[0] == '"') {
			wire = arena_strndup(a, wire + 1, b.len - 2);
		}
		d = dec(wire, false);
		test_assert(d != NULL && strcmp(d, name) == 0);
		if (d == NULL || strcmp(d, name) != 0)
			printf("# name %s wire %s\n", name, b.data);
		buf_free(&b);
		arena_reset(a);
	}
	test_end();
}

static void
test_view_seq(void)
{
	uint32_t uids[] = { 3, 7, 8, 100, 4000000000u };
	struct imap_view v = { .uids = uids, .count = 5 };
	struct imap_view empty = { .uids = NULL, .count = 0 };

	test_begin("imap_view_seq");
	test_assert_inteq(imap_view_seq(&v, 3), 1);
	test_assert_inteq(imap_view_seq(&v, 8), 3);
	test_assert_inteq(imap_view_seq(&v, 4000000000u), 5);
	test_assert_inteq(imap_view_seq(&v, 1), 0);
	test_assert_inteq(imap_view_seq(&v, 9), 0);
	test_assert_inteq(imap_view_seq(&v, UINT32_MAX), 0);
	test_assert_inteq(imap_view_seq(&empty, 1), 0);
	test_end();
}

int
main(void)
{
	a = arena_new(4096, false);
	test_rfc3501_examples();
	test_decode();
	test_write();
	test_round_trip();
	test_view_seq();
	arena_free(&a);
	return test_done();
}
