/* Transfer decoding, charsets and RFC 2047 words (mime_decode.c), and the
 * searchable text of a message (mime_text.c).  Expected values come from
 * the RFCs' own examples (RFC 4648 10, RFC 2045 6.7, RFC 2047 8) or were
 * worked out by hand from the code tables (KOI8-R, Shift_JIS, JIS X 0208,
 * windows-1252). */
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_text.h"
#include "test.h"

/* Decodes s and compares with want (wlen octets, may hold NUL). */
static bool
transfer_is(const char *enc, const char *s, const char *want, size_t wlen,
	    enum mime_decode_result want_r)
{
	struct buf out = BUF_INIT;
	enum mime_decode_result r = mime_decode_transfer(enc, s, strlen(s), &out);
	bool ok = r == want_r && out.len == wlen && (wlen == 0 || memcmp(out.data, want, wlen) == 0);

	if (!ok)
		printf("# %s \"%s\": got %d \"%.*s\" (%zu)\n", enc ? enc : "NULL", s, (int)r,
		       (int)out.len, out.data ? out.data : "", out.len);
	buf_free(&out);
	return ok;
}

#define T_OK(enc, s, want) transfer_is(enc, s, want, sizeof(want) - 1, MIME_DECODE_OK)

static void
test_base64(void)
{
	test_begin("mime_decode: base64 RFC 4648 section 10 vectors");
	test_assert(T_OK("BASE64", "", ""));
	test_assert(T_OK("BASE64", "Zg==", "f"));
	test_assert(T_OK("BASE64", "Zm8=", "fo"));
	test_assert(T_OK("BASE64", "Zm9v", "foo"));
	test_assert(T_OK("BASE64", "Zm9vYg==", "foob"));
	test_assert(T_OK("BASE64", "Zm9vYmE=", "fooba"));
	test_assert(T_OK("base64", "Zm9vYmFy", "foobar"));
	test_end();

	test_begin("mime_decode: base64 line breaks, white space, missing padding");
	test_assert(T_OK("BASE64", "SGVs\r\nbG8s IFdv\tcmxk\nIQ==\r\n", "Hello, World!"));
	test_assert(T_OK("BASE64", "SGVsbG8sIFdvcmxkIQ", "Hello, World!"));
	test_assert(T_OK("BASE64", "YQ", "a"));
	test_assert(T_OK("BASE64", "YWI", "ab"));
	test_assert(T_OK("Base64", " YWI= \r\n", "ab"));
	/* octets 00 FF: binary survives */
	test_assert(transfer_is("BASE64", "AP8=", "\0\xff", 2, MIME_DECODE_OK));
	/* data after the pad is not decoded */
	test_assert(T_OK("BASE64", "YQ==YQ==", "a"));
	test_end();

	test_begin("mime_decode: base64 garbage is CORRUPT but still decoded");
	test_assert(transfer_is("BASE64", "SGVs*bG8=", "Hello", 5, MIME_DECODE_CORRUPT));
	test_assert(transfer_is("BASE64", "YWJjZ", "abc", 3, MIME_DECODE_CORRUPT));
	test_assert(transfer_is("BASE64", "Y", "", 0, MIME_DECODE_CORRUPT));
	test_end();
}

static void
test_qp(void)
{
	test_begin("mime_decode: quoted-printable RFC 2045 6.7 soft breaks");
	/* rule 5's example, as two soft-broken lines */
	test_assert(T_OK("QUOTED-PRINTABLE",
			 "Now's the time =\r\nfor all folk to come=\r\n to the aid of their country.",
			 "Now's the time for all folk to come to the aid of their country."));
	test_assert(T_OK("quoted-printable", "abc=\n", "abc"));
	test_assert(T_OK("QUOTED-PRINTABLE", "abc=", "abc"));
	/* white space after the '=' of a soft break is padding */
	test_assert(T_OK("QUOTED-PRINTABLE", "a= \t\r\nb", "ab"));
	test_end();

	test_begin("mime_decode: quoted-printable escapes and hard line breaks");
	test_assert(T_OK("QUOTED-PRINTABLE", "1+1=3D2", "1+1=2"));
	test_assert(T_OK("QUOTED-PRINTABLE", "caf=C3=A9", "caf\xc3\xa9"));
	test_assert(T_OK("QUOTED-PRINTABLE", "caf=c3=a9", "caf\xc3\xa9"));
	test_assert(transfer_is("QUOTED-PRINTABLE", "=00=FF", "\0\xff", 2, MIME_DECODE_OK));
	/* a hard line break is CRLF, whatever the file had */
	test_assert(T_OK("QUOTED-PRINTABLE", "a\r\nb\r\n", "a\r\nb\r\n"));
	test_assert(T_OK("QUOTED-PRINTABLE", "a\nb\n", "a\r\nb\r\n"));
	{
		/* every octet a line break: the output is twice the input */
		char lfs[1001], want[2001];
		memset(lfs, '\n', 1000);
		lfs[1000] = '\0';
		for (int i = 0; i < 1000; i++)
			memcpy(want + 2 * i, "\r\n", 2);
		test_assert(transfer_is("QUOTED-PRINTABLE", lfs, want, 2000, MIME_DECODE_OK));
	}
	/* rule 3: trailing white space was added in transport */
	test_assert(T_OK("QUOTED-PRINTABLE", "a  \r\nb\t", "a\r\nb"));
	test_assert(T_OK("QUOTED-PRINTABLE", "a=20\r\n", "a \r\n"));
	/* a bare CR inside a line is data */
	test_assert(T_OK("QUOTED-PRINTABLE", "a\rb", "a\rb"));
	test_end();

	test_begin("mime_decode: malformed quoted-printable '=' kept (note 1)");
	test_assert(T_OK("QUOTED-PRINTABLE", "a=zz", "a=zz"));
	test_assert(T_OK("QUOTED-PRINTABLE", "a=4", "a=4"));
	test_assert(T_OK("QUOTED-PRINTABLE", "a=4\r\nb", "a=4\r\nb"));
	test_assert(T_OK("QUOTED-PRINTABLE", "==41", "=A"));
	test_assert(T_OK("QUOTED-PRINTABLE", "=G1", "=G1"));
	test_end();

	test_begin("mime_decode: identity encodings and unknown ones");
	test_assert(T_OK(NULL, "a=41\r\n", "a=41\r\n"));
	test_assert(T_OK("7BIT", "x", "x"));
	test_assert(T_OK("8bit", "\xe9", "\xe9"));
	test_assert(T_OK("BINARY", "=?", "=?"));
	test_assert(transfer_is("X-UUENCODE", "begin", "", 0, MIME_DECODE_UNKNOWN));
	test_assert(transfer_is("8-bit", "x", "", 0, MIME_DECODE_UNKNOWN));
	test_end();
}

/* The quoted-printable decoder as it was before it took its input in
 * pieces (a whole buffer, lines found with memchr): the streaming one must
 * give the same octets wherever white space runs are shorter than
 * MIME_QP_SPACE_MAX. */
static int
ref_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
ref_qp(const char *data, size_t len, struct buf *out)
{
	const char *p = data, *end = data + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl != NULL ? nl : end;
		const char *q;
		bool soft = false;

		if (nl != NULL && eol > p && eol[-1] == '\r')
			eol--;
		while (eol > p && (eol[-1] == ' ' || eol[-1] == '\t'))
			eol--;
		if (eol > p && eol[-1] == '=') {
			soft = true;
			eol--;
		}
		for (q = p; q < eol; q++) {
			int h, l;
			if (*q == '=' && eol - q >= 3 && (h = ref_hexval((unsigned char)q[1])) >= 0 &&
			    (l = ref_hexval((unsigned char)q[2])) >= 0) {
				char c = (char)(h << 4 | l);
				buf_append(out, &c, 1);
				q += 2;
			} else {
				buf_append(out, q, 1);
			}
		}
		if (nl != NULL && !soft)
			buf_append(out, "\r\n", 2);
		p = nl != NULL ? nl + 1 : end;
	}
}

/* Decodes in with the streaming decoder fed in pieces of step octets. */
static enum mime_decode_result
decode_steps(enum mime_cte cte, const char *in, size_t len, size_t step, struct buf *out)
{
	struct mime_decoder d;

	mime_decoder_init(&d, cte);
	for (size_t i = 0; i < len; i += step)
		mime_decoder_feed(&d, in + i, len - i < step ? len - i : step, out);
	return mime_decoder_finish(&d, out);
}

static void
test_streaming(void)
{
	static const char qp_alphabet[] = "=A4f \t\r\nxz";
	static const char b64_alphabet[] = "QUJD+/=\r\n *a";
	char in[64];
	unsigned seed = 1;
	bool same_as_ref = true, split_ok = true, b64_ok = true;

	test_begin("mime_decode: quoted-printable in pieces = whole = the line decoder");
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)(round % 40) + 1;
		struct buf whole = BUF_INIT, ref = BUF_INIT, part = BUF_INIT;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = qp_alphabet[(seed >> 16) % (sizeof(qp_alphabet) - 1)];
		}
		(void)decode_steps(MIME_CTE_QP, in, len, len, &whole);
		ref_qp(in, len, &ref);
		if (whole.len != ref.len || (ref.len > 0 && memcmp(whole.data, ref.data, ref.len) != 0)) {
			if (same_as_ref)
				printf("# \"%.*s\": %zu vs %zu octets\n", (int)len, in, whole.len, ref.len);
			same_as_ref = false;
		}
		for (size_t step = 1; step < 4; step++) {
			buf_reset(&part);
			(void)decode_steps(MIME_CTE_QP, in, len, step, &part);
			if (part.len != whole.len || (whole.len > 0 && memcmp(part.data, whole.data, whole.len) != 0))
				split_ok = false;
		}
		buf_free(&whole);
		buf_free(&ref);
		buf_free(&part);
	}
	test_assert(same_as_ref);
	test_assert(split_ok);
	test_end();

	test_begin("mime_decode: base64 in pieces = whole");
	for (int round = 0; round < 5000; round++) {
		size_t len = (size_t)(round % 30) + 1;
		struct buf whole = BUF_INIT, part = BUF_INIT;
		enum mime_decode_result rw, rp;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = b64_alphabet[(seed >> 16) % (sizeof(b64_alphabet) - 1)];
		}
		rw = decode_steps(MIME_CTE_BASE64, in, len, len, &whole);
		rp = decode_steps(MIME_CTE_BASE64, in, len, 1, &part);
		if (rw != rp || part.len != whole.len || (whole.len > 0 && memcmp(part.data, whole.data, whole.len) != 0))
			b64_ok = false;
		buf_free(&whole);
		buf_free(&part);
	}
	test_assert(b64_ok);
	test_end();

	test_begin("mime_decode: a white space run past MIME_QP_SPACE_MAX is data");
	{
		static char run[MIME_QP_SPACE_MAX + 10];
		struct buf out = BUF_INIT;

		memset(run, ' ', sizeof(run));
		run[0] = 'a';
		/* held back: the run may still end the line ... */
		(void)decode_steps(MIME_CTE_QP, run, MIME_QP_SPACE_MAX + 1, 7, &out);
		test_assert(out.len == 1);
		buf_reset(&out);
		/* ... but not this long: it goes out, and padding after it is dropped */
		(void)decode_steps(MIME_CTE_QP, run, sizeof(run), 7, &out);
		test_assert(out.len == 1 + MIME_QP_SPACE_MAX);
		buf_free(&out);
	}
	test_assert(mime_cte_parse(NULL) == MIME_CTE_IDENTITY);
	test_assert(mime_cte_parse(" base64 (x)") == MIME_CTE_BASE64);
	test_assert(mime_cte_parse("Quoted-Printable") == MIME_CTE_QP);
	test_assert(mime_cte_parse("x-uuencode") == MIME_CTE_UNKNOWN);
	test_end();
}

static bool
charset_is(const char *cs, const char *s, size_t len, const char *want)
{
	struct buf out = BUF_INIT;
	bool ok;

	mime_charset_to_utf8(cs, s, len, &out);
	ok = out.len == strlen(want) && memcmp(out.data, want, out.len) == 0;
	if (!ok)
		printf("# %s: got \"%.*s\"\n", cs ? cs : "NULL", (int)out.len, out.data ? out.data : "");
	buf_free(&out);
	return ok;
}

#define CS(cs, lit, want) charset_is(cs, lit, sizeof(lit) - 1, want)
#define FFFD "\xef\xbf\xbd"

static void
test_charsets(void)
{
	test_begin("mime_decode: ISO-8859-1 and windows-1252 to UTF-8");
	test_assert(CS("ISO-8859-1", "caf\xe9", "caf\xc3\xa9"));
	test_assert(CS("iso-8859-1", "\xff", "\xc3\xbf"));
	/* 0x80 is the euro sign in windows-1252, which ISO-8859-1 senders mean */
	test_assert(CS("ISO-8859-1", "\x80", "\xe2\x82\xac"));
	test_assert(CS("windows-1252", "\x93q\x94", "\xe2\x80\x9cq\xe2\x80\x9d"));
	test_end();

	test_begin("mime_decode: UTF-8 sanitised with maximal subparts");
	test_assert(CS("UTF-8", "caf\xc3\xa9", "caf\xc3\xa9"));
	test_assert(CS("utf-8", "a\xff" "b", "a" FFFD "b"));
	test_assert(CS("UTF-8", "\xe2\x82", FFFD));
	test_assert(CS("UTF-8", "\xc0\xaf", FFFD FFFD));
	test_assert(CS("UTF-8", "\xed\xa0\x80", FFFD FFFD FFFD));
	test_assert(CS("UTF-8", "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD));
	test_assert(CS("UTF-8", "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"));
	test_end();

	test_begin("mime_decode: no or unknown charset: UTF-8 if valid, else windows-1252");
	test_assert(CS(NULL, "caf\xc3\xa9", "caf\xc3\xa9"));
	test_assert(CS(NULL, "caf\xe9", "caf\xc3\xa9"));
	test_assert(CS("us-ascii", "caf\xe9", "caf\xc3\xa9"));
	test_assert(CS("x-no-such-charset", "caf\xc3\xa9", "caf\xc3\xa9"));
	/* a name with a path or iconv suffix never reaches iconv */
	test_assert(CS("UTF-8//IGNORE", "caf\xe9", "caf\xc3\xa9"));
	test_assert(CS("../../x", "ok", "ok"));
	test_end();

	test_begin("mime_decode: iconv charsets");
	/* KOI8-R: P=F0 r=D2 i=C9 v=D7 e=C5 t=D4 */
	test_assert(CS("KOI8-R", "\xf0\xd2\xc9\xd7\xc5\xd4",
		       "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"));
	/* Shift_JIS 82 A0 is HIRAGANA LETTER A, U+3042 */
	test_assert(CS("Shift_JIS", "\x82\xa0", "\xe3\x81\x82"));
	test_assert(CS("UTF-16LE", "a\0b\0", "ab"));
	test_assert(CS("UTF-16BE", "\x26\x3a", "\xe2\x98\xba"));
	/* ISO-2022-JP is stateful: ESC $ B, JIS 2446 2439 2448, ESC ( B */
	test_assert(CS("ISO-2022-JP", "\x1b$B$F$9$H\x1b(B",
		       "\xe3\x81\xa6\xe3\x81\x99\xe3\x81\xa8"));
	/* an incomplete sequence at the end, and garbage in the middle */
	test_assert(CS("Shift_JIS", "a\x82", "a" FFFD));
	test_assert(CS("UTF-16LE", "a\0\x00\xdc" "b\0", "a" FFFD "b"));
	/* glibc writes U+110000 as F4 90 80 80: not UTF-8 */
	test_assert(CS("UCS-4", "\0\x11\0\0", FFFD FFFD FFFD FFFD));
	test_assert(CS("UCS-4", "\0\0\0A", "A"));
	test_end();

	test_begin("mime_decode: large input through iconv in chunks");
	{
		size_t n = 300000, i;
		char *in = malloc(n);
		struct buf out = BUF_INIT;
		bool ok = true;

		for (i = 0; i < n; i++)
			in[i] = (char)(0xC0 + i % 32);    /* KOI8-R lower-case Cyrillic */
		mime_charset_to_utf8("KOI8-R", in, n, &out);
		ok = out.len == 2 * n;
		for (i = 0; ok && i < out.len; i += 2)
			ok = ((unsigned char)out.data[i] == 0xD0 || (unsigned char)out.data[i] == 0xD1);
		test_assert(ok);
		buf_free(&out);
		free(in);
	}
	test_end();
}

static bool
words_is(const char *in, const char *want)
{
	struct arena *a = arena_new(1024, false);
	char *got = mime_decode_words(in, a);
	bool ok = got != NULL && strcmp(got, want) == 0;

	if (!ok)
		printf("# words \"%s\": got \"%s\", want \"%s\"\n", in, got ? got : "(null)", want);
	arena_free(&a);
	return ok;
}

static void
test_words(void)
{
	test_begin("mime_decode: RFC 2047 section 8 examples");
	test_assert(words_is("=?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>",
			     "Keith Moore <moore@cs.utk.edu>"));
	test_assert(words_is("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>",
			     "Keld J\xc3\xb8rn Simonsen <keld@dkuug.dk>"));
	test_assert(words_is("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
			     "Andr\xc3\xa9 Pirard <PIRARD@vm1.ulg.ac.be>"));
	test_assert(words_is("=?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?="
			     " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=",
			     "If you can read this you understand the example."));
	test_assert(words_is("Nathaniel Borenstein <nsb@thumper.bellcore.com>"
			     " (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)",
			     "Nathaniel Borenstein <nsb@thumper.bellcore.com>"
			     " (\xd7\x9d\xd7\x95\xd7\x9c\xd7\xa9 \xd7\x9f\xd7\x91 "
			     "\xd7\x99\xd7\x9c\xd7\x98\xd7\xa4\xd7\xa0)"));
	test_assert(words_is("(=?ISO-8859-1?Q?a?=)", "(a)"));
	test_assert(words_is("(=?ISO-8859-1?Q?a?= b)", "(a b)"));
	test_assert(words_is("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"));
	test_assert(words_is("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"));
	test_assert(words_is("(=?ISO-8859-1?Q?a?=\t =?ISO-8859-1?Q?b?=)", "(ab)"));
	test_assert(words_is("(=?ISO-8859-1?Q?a_b?=)", "(a b)"));
	test_assert(words_is("(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"));
	test_end();

	test_begin("mime_decode: RFC 2047 words in other shapes");
	/* RFC 2231 section 5: a language after '*' */
	test_assert(words_is("=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore"));
	test_assert(words_is("=?utf-8?b?w6k=?=", "\xc3\xa9"));
	/* a character split across two words of one charset */
	test_assert(words_is("=?UTF-8?Q?caf=C3?= =?UTF-8?Q?=A9?=", "caf\xc3\xa9"));
	test_assert(words_is("=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=", "\xc3\xa9\xc3\xa9"));
	test_assert(words_is("=?ISO-2022-JP?B?GyRCJEYkOSRIGyhC?=", "\xe3\x81\xa6\xe3\x81\x99\xe3\x81\xa8"));
	/* text next to words keeps its white space */
	test_assert(words_is("Re: =?utf-8?q?caf=C3=A9?= ok", "Re: caf\xc3\xa9 ok"));
	test_assert(words_is("x=?utf-8?q?y?=", "xy"));
	test_assert(words_is("=?x-unknown?q?abc?=", "abc"));
	test_end();

	test_begin("mime_decode: not encoded words stay as written");
	test_assert(words_is("", ""));
	test_assert(words_is("plain = text ?= here", "plain = text ?= here"));
	test_assert(words_is("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"));
	test_assert(words_is("=?utf-8?x?abc?=", "=?utf-8?x?abc?="));
	test_assert(words_is("=?utf-8?q?a b?=", "=?utf-8?q?a b?="));
	test_assert(words_is("=??q?abc?=", "=??q?abc?="));
	test_assert(words_is("a =?utf-8?q?b?= =?", "a b =?"));
	/* a decoded NUL would cut the string: dropped */
	test_assert(words_is("=?utf-8?q?a=00b?=", "ab"));
	test_assert(words_is("raw caf\xc3\xa9", "raw caf\xc3\xa9"));
	test_end();
}

static void
test_html(void)
{
	struct buf out = BUF_INIT;
	static const char html[] =
		"<!DOCTYPE html><html><head><title>T</title><style>p { color: red }</style>"
		"<script type=\"text/javascript\">var a = \"<p>\";</script></head>\n"
		"<body><p>Hello&nbsp;<b>Wor</b>ld</p>  <div a='x>y'>caf&eacute; &amp; &#233;&#x263A;"
		"&bogus; &#;</div><!-- hidden -->a < b<br>end<table><tr><td>c1</td><td>c2</td></tr>"
		"</table>\xc2\xa0z</body></html>";

	test_begin("mime_text: HTML reduced to its text");
	mime_text_html(html, sizeof(html) - 1, &out);
	test_assert_streq(out.data, "T\nHello World\ncaf\xc3\xa9 & \xc3\xa9\xe2\x98\xba&bogus; &#;\n"
				    "a < b\nend\nc1 c2\nz");
	test_end();
	buf_free(&out);
}

static void
extract(const char *msg, size_t max, struct buf *h, struct buf *b)
{
	struct arena *a = arena_new(4096, false);
	struct mime_part *root = mime_parse(msg, strlen(msg), a);

	buf_reset(h);
	buf_reset(b);
	mime_text_extract(msg, strlen(msg), root, max, h, b);
	arena_free(&a);
}

static void
test_extract(void)
{
	struct buf h = BUF_INIT, b = BUF_INIT;
	static const char msg[] =
		"From: =?ISO-8859-1?Q?Andr=E9?= <a@example.com>\r\n"
		"Subject: =?UTF-8?B?Q2Fmw6k=?=\r\n"
		"  folded\r\n"
		"DKIM-Signature: v=1; b=AAAABBBBCCCC\r\n"
		"X-Raw: caf\xe9\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
		"\r\n"
		"preamble is not text\r\n"
		"--b1\r\n"
		"Content-Type: text/plain; charset=ISO-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"Gr=FC=DFe, soft=\r\n"
		"break\r\n"
		"--b1\r\n"
		"Content-Type: text/html; charset=utf-8\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"PHA+SFRNTCA8Yj5ib2xkPC9iPjwvcD4=\r\n"
		"--b1\r\n"
		"Content-Type: image/png; name=\"pic.png\"\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"aW1hZ2VkYXRh\r\n"
		"--b1\r\n"
		"Content-Type: message/rfc822\r\n"
		"\r\n"
		"Subject: inner =?utf-8?q?subj=C3=A9ct?=\r\n"
		"Content-Type: text/plain; charset=KOI8-R\r\n"
		"\r\n"
		"\xf0\xd2\xc9\xd7\xc5\xd4\r\n"
		"--b1--\r\n"
		"epilogue\r\n";

	test_begin("mime_text: headers, QP/base64 text parts, HTML, nested message");
	extract(msg, 1 << 20, &h, &b);
	test_assert(strstr(h.data, "From: Andr\xc3\xa9 <a@example.com>\n") != NULL);
	test_assert(strstr(h.data, "Subject: Caf\xc3\xa9  folded\n") != NULL);
	test_assert(strstr(h.data, "X-Raw: caf\xc3\xa9\n") != NULL);
	test_assert(strstr(h.data, "DKIM") == NULL);
	/* part headers are header text (attachment names are searchable) */
	test_assert(strstr(h.data, "pic.png") != NULL);
	test_assert(strstr(h.data, "\r") == NULL);
	test_assert(strstr(b.data, "Gr\xc3\xbc\xc3\x9f" "e, softbreak\n") != NULL);
	test_assert(strstr(b.data, "HTML bold\n") != NULL);
	test_assert(strstr(b.data, "<b>") == NULL);
	test_assert(strstr(b.data, "imagedata") == NULL);
	test_assert(strstr(b.data, "aW1hZ2") == NULL);
	test_assert(strstr(b.data, "preamble") == NULL);
	test_assert(strstr(b.data, "epilogue") == NULL);
	/* the enclosed message's header and body are body text */
	test_assert(strstr(b.data, "Subject: inner subj\xc3\xa9" "ct\n") != NULL);
	test_assert(strstr(b.data, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\n") != NULL);
	test_assert(strstr(h.data, "inner") == NULL);
	test_assert(strstr(b.data, "\r") == NULL);
	test_end();

	test_begin("mime_text: the cap holds and cuts at a character boundary");
	{
		size_t max;
		bool ok = true;
		for (max = 0; max < 400; max++) {
			const unsigned char *p;
			extract(msg, max, &h, &b);
			if (h.len + b.len > max)
				ok = false;
			/* no cut-off continuation octets: every lead is complete */
			for (p = (const unsigned char *)b.data; *p != '\0'; p++) {
				if (*p >= 0xC0) {
					size_t need = *p >= 0xF0 ? 3 : *p >= 0xE0 ? 2 : 1, k;
					for (k = 1; k <= need; k++)
						if ((p[k] & 0xC0) != 0x80)
							ok = false;
				}
			}
		}
		test_assert(ok);
	}
	test_end();

	test_begin("mime_text: a huge text part is read only up to the cap");
	{
		size_t n = 8 << 20, i;
		char *big = malloc(n + 200);
		int off = snprintf(big, 200, "Subject: big\r\nContent-Transfer-Encoding: base64\r\n\r\n");
		for (i = 0; i < n; i++)
			big[off + i] = "QUJD\r\n"[i % 6];
		big[off + n] = '\0';
		extract(big, 1000, &h, &b);
		test_assert(h.len + b.len <= 1000);
		test_assert(strncmp(b.data, "ABCABC", 6) == 0);
		free(big);
	}
	test_end();

	test_begin("mime_text: NUL octets never reach the text");
	{
		static const char m[] = "Subject: a\r\n\r\nx\0y\r\n";
		struct arena *a = arena_new(4096, false);
		struct mime_part *root = mime_parse(m, sizeof(m) - 1, a);
		buf_reset(&h);
		buf_reset(&b);
		mime_text_extract(m, sizeof(m) - 1, root, 1000, &h, &b);
		test_assert_streq(b.data, "xy\n");
		arena_free(&a);
	}
	test_end();
	buf_free(&h);
	buf_free(&b);
}

static void
preview(const char *msg, size_t max_chars, struct buf *out)
{
	struct arena *a = arena_new(4096, false);
	struct mime_part *root = mime_parse(msg, strlen(msg), a);

	buf_reset(out);
	mime_text_preview(msg, strlen(msg), root, max_chars, out);
	arena_free(&a);
}

/* RFC 8970 3.1: the text a reader sees first, white space folded, at most
 * 256 characters (counted as characters, not octets). */
static void
test_preview(void)
{
	struct buf out = BUF_INIT;
	char big[2048];
	size_t i;

	test_begin("mime_text_preview: plain text, white space folded");
	preview("Subject: s\r\n\r\n  Hello,\r\n\r\n\tthis   is\r\nthe text.  \r\n", 256, &out);
	test_assert_streq(out.data, "Hello, this is the text.");
	test_end();

	test_begin("mime_text_preview: alternative prefers text/plain, QP and charset decoded");
	preview("Content-Type: multipart/alternative; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/html\r\n\r\n<p>html version</p>\r\n"
		"--b\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=E9 au lait\r\n--b--\r\n", 256, &out);
	test_assert_streq(out.data, "caf\xc3\xa9 au lait");
	test_end();

	test_begin("mime_text_preview: HTML only, attachment skipped");
	preview("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nnot this\r\n"
		"--b\r\nContent-Type: text/html\r\n\r\n<html><body><p>Hi <b>there</b></p></body></html>\r\n"
		"--b--\r\n", 256, &out);
	test_assert_streq(out.data, "Hi there");
	test_end();

	test_begin("mime_text_preview: no text part gives an empty preview");
	preview("Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0K\r\n", 256, &out);
	test_assert_streq(out.data, "");
	test_end();

	test_begin("mime_text_preview: cut after max characters, not octets");
	strcpy(big, "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");
	for (i = 0; i < 300; i++)
		strcat(big, "\xc3\xa9");
	preview(big, 256, &out);
	test_assert(out.len == 512);
	test_end();
	buf_free(&out);
}

int
main(void)
{
	test_base64();
	test_qp();
	test_streaming();
	test_charsets();
	test_words();
	test_html();
	test_extract();
	test_preview();
	return test_done();
}
