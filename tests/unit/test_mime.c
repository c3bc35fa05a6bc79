/* The MIME parser on real-world-shaped messages.  Expected ENVELOPE and
 * BODYSTRUCTURE strings were written by hand from RFC 3501 7.4.2 (sizes
 * counted by hand: a part's body ends before the CRLF that precedes its
 * delimiter, RFC 2046 5.1.1). */
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "mime/mime.h"
#include "test.h"

static struct arena *arena;

static const char *
envelope_of(const char *msg)
{
	struct buf b = BUF_INIT;
	struct mime_part *root = mime_parse(msg, strlen(msg), arena);
	char *s;

	mime_envelope_write(&b, root->envelope);
	s = arena_strndup(arena, b.data, b.len);
	buf_free(&b);
	return s;
}

static const char *
structure_of(const char *msg, bool extended)
{
	struct buf b = BUF_INIT;
	struct mime_part *root = mime_parse(msg, strlen(msg), arena);
	char *s;

	mime_bodystructure_write(&b, root, extended);
	s = arena_strndup(arena, b.data, b.len);
	buf_free(&b);
	return s;
}

static const char msg_simple[] =
	"From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
	"To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\r\n"
	"Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>\r\n"
	"Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
	"Subject: Hello\r\n"
	" world\r\n"
	"Message-ID: <5678.21-Nov-1997@example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"Bye.\r\n";

static void
test_simple(void)
{
	test_begin("mime: simple text message");
	test_assert_streq(envelope_of(msg_simple),
		"(\"Tue, 1 Jul 2003 10:52:37 +0200\" \"Hello world\" "
		"((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
		"((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
		"((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
		"((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
		"(\"Who?\" NIL \"one\" \"y.test\")) "
		"((NIL NIL \"boss\" \"nil.test\")(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\")) "
		"NIL NIL \"<5678.21-Nov-1997@example.com>\")");
	test_assert_streq(structure_of(msg_simple, true),
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 11 2 NIL NIL NIL NIL)");
	test_assert_streq(structure_of(msg_simple, false),
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 11 2)");
	test_end();
}

static const char msg_alt[] =
	"From: a@b.test\r\n"
	"Subject: =?UTF-8?Q?caf=C3=A9?=\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/alternative; boundary=\"XX\"\r\n"
	"\r\n"
	"This is a multi-part message.\r\n"
	"--XX\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=C3=A9\r\n"
	"--XX\r\n"
	"Content-Type: text/html; charset=\"utf-8\"\r\n"
	"\r\n"
	"<p>caf&eacute;</p>\r\n"
	"\r\n"
	"--XX--\r\n"
	"epilogue\r\n";

static void
test_alternative(void)
{
	struct mime_part *root;

	test_begin("mime: multipart/alternative with html");
	test_assert_streq(envelope_of(msg_alt),
		"(NIL \"=?UTF-8?Q?caf=C3=A9?=\" ((NIL NIL \"a\" \"b.test\")) "
		"((NIL NIL \"a\" \"b.test\")) ((NIL NIL \"a\" \"b.test\")) NIL NIL NIL NIL NIL)");
	test_assert_streq(structure_of(msg_alt, true),
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 0 NIL NIL NIL NIL)"
		"(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 20 1 NIL NIL NIL NIL)"
		" \"ALTERNATIVE\" (\"BOUNDARY\" \"XX\") NIL NIL NIL)");
	test_assert_streq(structure_of(msg_alt, false),
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 0)"
		"(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 20 1) \"ALTERNATIVE\")");
	root = mime_parse(msg_alt, strlen(msg_alt), arena);
	test_assert_inteq(root->preamble_size, 29);
	test_assert(memcmp(msg_alt + root->preamble_offset, "This is", 7) == 0);
	test_assert_inteq(root->epilogue_size, 10);
	test_assert(memcmp(msg_alt + root->epilogue_offset, "epilogue\r\n", 10) == 0);
	test_assert(memcmp(msg_alt + root->children->body_offset, "caf=C3=A9\r\n--XX", 15) == 0);
	test_assert(memcmp(msg_alt + root->children->header_offset, "Content-Type: text/plain", 24) == 0);
	test_assert_inteq(root->children->header_lines, 3);
	test_end();
}

static const char msg_mixed[] =
	"From: Sender <s@example.com>\r\n"
	"To: undisclosed-recipients:;\r\n"
	"Subject: report\r\n"
	"Content-Type: multipart/mixed; boundary=frontier\r\n"
	"\r\n"
	"--frontier\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"See attached.\r\n"
	"--frontier\r\n"
	"Content-Type: application/pdf; name=\"report.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"Content-Disposition: attachment;\r\n"
	" filename*0*=UTF-8''r%C3%A9sum;\r\n"
	" filename*1=\".pdf\"\r\n"
	"Content-ID: <att1@example.com>\r\n"
	"Content-Description: The report\r\n"
	"Content-Language: en, fr\r\n"
	"\r\n"
	"JVBERi0xLjQK\r\n"
	"--frontier--\r\n";

static void
test_mixed(void)
{
	test_begin("mime: multipart/mixed, attachment with RFC 2231 filename");
	test_assert_streq(envelope_of(msg_mixed),
		"(NIL \"report\" ((\"Sender\" NIL \"s\" \"example.com\")) "
		"((\"Sender\" NIL \"s\" \"example.com\")) ((\"Sender\" NIL \"s\" \"example.com\")) "
		"((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)");
	test_assert_streq(structure_of(msg_mixed, true),
		"((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 13 0 NIL NIL NIL NIL)"
		"(\"APPLICATION\" \"PDF\" (\"NAME\" \"report.pdf\") \"<att1@example.com>\" \"The report\" "
		"\"BASE64\" 12 NIL (\"ATTACHMENT\" (\"FILENAME\" {10}\r\nr\xc3\xa9sum.pdf)) (\"en\" \"fr\") NIL)"
		" \"MIXED\" (\"BOUNDARY\" \"frontier\") NIL NIL NIL)");
	test_end();
}

static const char msg_nested[] =
	"From: x@y.test\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
	"\r\n"
	"--inner\r\n"
	"\r\n"
	"plain\r\n"
	"--inner\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<b>html</b>\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: Inner <inner@z.test>\r\n"
	"Subject: fwd\r\n"
	"Date: Mon, 2 Jan 2006 15:04:05 -0700\r\n"
	"\r\n"
	"inner body\r\n"
	"--outer--\r\n";

static void
test_nested(void)
{
	struct mime_part *root;

	test_begin("mime: nested multipart and message/rfc822");
	test_assert_streq(structure_of(msg_nested, true),
		"(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL)"
		"(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 11 0 NIL NIL NIL NIL)"
		" \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL)"
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 92 "
		"(\"Mon, 2 Jan 2006 15:04:05 -0700\" \"fwd\" ((\"Inner\" NIL \"inner\" \"z.test\")) "
		"((\"Inner\" NIL \"inner\" \"z.test\")) ((\"Inner\" NIL \"inner\" \"z.test\")) NIL NIL NIL NIL NIL) "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 0 NIL NIL NIL NIL) 4 "
		"NIL NIL NIL NIL)"
		" \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)");
	test_assert_streq(structure_of(msg_nested, false),
		"(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 0)"
		"(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 11 0) \"ALTERNATIVE\")"
		"(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 92 "
		"(\"Mon, 2 Jan 2006 15:04:05 -0700\" \"fwd\" ((\"Inner\" NIL \"inner\" \"z.test\")) "
		"((\"Inner\" NIL \"inner\" \"z.test\")) ((\"Inner\" NIL \"inner\" \"z.test\")) NIL NIL NIL NIL NIL) "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 0) 4) \"MIXED\")");
	root = mime_parse(msg_nested, strlen(msg_nested), arena);
	test_assert(root->children->next->message != NULL);
	test_assert(memcmp(msg_nested + root->children->next->message->body_offset,
			   "inner body\r\n--outer--", 21) == 0);
	test_end();
}

static void
test_part_find(void)
{
	struct mime_part *root = mime_parse(msg_nested, strlen(msg_nested), arena);
	struct mime_part *simple = mime_parse(msg_simple, strlen(msg_simple), arena);
	const unsigned one[] = { 1 }, one_two[] = { 1, 2 }, two[] = { 2 };
	const unsigned two_one[] = { 2, 1 }, three[] = { 3 }, one_one[] = { 1, 1 };
	const struct mime_part *p;

	test_begin("mime: section numbers (RFC 3501 6.4.5)");
	p = mime_part_find(root, one, 1);
	test_assert(p != NULL && strcmp(p->subtype, "ALTERNATIVE") == 0);
	p = mime_part_find(root, one_two, 2);
	test_assert(p != NULL && strcmp(p->subtype, "HTML") == 0);
	p = mime_part_find(root, two, 1);
	test_assert(p != NULL && strcmp(p->subtype, "RFC822") == 0);
	/* 2.1: the body of the enclosed (non-multipart) message */
	p = mime_part_find(root, two_one, 2);
	test_assert(p != NULL && p == root->children->next->message);
	test_assert(mime_part_find(root, three, 1) == NULL);
	test_assert(mime_part_find(simple, one, 1) == simple);
	test_assert(mime_part_find(simple, one_one, 2) == NULL);
	test_assert(mime_part_find(simple, two, 1) == NULL);
	test_end();
}

static void
test_missing_headers(void)
{
	test_begin("mime: missing headers");
	test_assert_streq(envelope_of("\r\nbody only\r\n"),
			  "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	test_assert_streq(structure_of("\r\nbody only\r\n", true),
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 11 1 NIL NIL NIL NIL)");
	/* no blank line: the whole message is header */
	test_assert_streq(structure_of("Subject: x\r\nFrom: a@b", false),
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)");
	test_assert_streq(envelope_of("Subject: x\r\nFrom: a@b"),
		"(NIL \"x\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) "
		"NIL NIL NIL NIL NIL)");
	/* empty message */
	test_assert_streq(structure_of("", false),
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)");
	/* bad Content-Type syntax: RFC 2045 5.2 default */
	test_assert_streq(structure_of("Content-Type: garbage\r\n\r\nx", false),
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 0)");
	/* LF-only line ends, header line without colon skipped */
	test_assert_streq(structure_of("no colon here\nContent-Type: image/png\n\nab\ncd\n", true),
		"(\"IMAGE\" \"PNG\" NIL NIL NIL \"7BIT\" 6 NIL NIL NIL NIL)");
	test_end();
}

static void
test_malformed_boundaries(void)
{
	test_begin("mime: malformed boundaries");
	/* no delimiter at all: text/plain */
	test_assert_streq(structure_of("Content-Type: multipart/mixed; boundary=zz\r\n\r\nhello\r\n", false),
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 7 1)");
	/* no boundary parameter: text/plain */
	test_assert_streq(structure_of("Content-Type: multipart/mixed\r\n\r\n--\r\n", false),
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 4 1)");
	/* no close delimiter: the last part runs to the end */
	test_assert_streq(structure_of("Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
				       "--zz\r\n\r\none\r\n--zz\r\n\r\ntwo\r\nmore", false),
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3 0)"
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 9 1) \"MIXED\")");
	/* inner multipart unterminated: ends at the outer delimiter */
	test_assert_streq(structure_of("Content-Type: multipart/mixed; boundary=o\r\n\r\n"
				       "--o\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n"
				       "--i\r\n\r\nin\r\n--o\r\n\r\nout\r\n--o--\r\n", false),
		"(((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 2 0) \"MIXED\")"
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3 0) \"MIXED\")");
	/* empty part between two delimiters, transport padding after one */
	test_assert_streq(structure_of("Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
				       "--zz\r\n--zz  \r\n\r\nx\r\n--zz--", false),
		"((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)"
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1 0) \"MIXED\")");
	test_end();
}

static void
test_addresses(void)
{
	test_begin("mime: addresses, quoting and literals in ENVELOPE");
	test_assert_streq(envelope_of(
		"From: <@r1.test,@r2.test:joe@x.test>\r\n"
		"Sender: joe@x.test (Joe Bloggs)\r\n"
		"Reply-To: \r\n"
		"To: team: a@x.test, B <b@x.test>;, c@y.test\r\n"
		"Bcc: nodomain, <>\r\n"
		"Subject: say \"hi\" \\ \xc3\xa9\r\n"
		"In-Reply-To: <a@b>\r\n\r\n"),
		"(NIL {13}\r\nsay \"hi\" \\ \xc3\xa9 "
		"((NIL \"@r1.test,@r2.test\" \"joe\" \"x.test\")) "
		"((\"Joe Bloggs\" NIL \"joe\" \"x.test\")) "
		"((NIL \"@r1.test,@r2.test\" \"joe\" \"x.test\")) "
		"((NIL NIL \"team\" NIL)(NIL NIL \"a\" \"x.test\")(\"B\" NIL \"b\" \"x.test\")(NIL NIL NIL NIL)"
		"(NIL NIL \"c\" \"y.test\")) NIL "
		"((NIL NIL \"nodomain\" \"MISSING_DOMAIN\")(NIL NIL \"\" \"\")) \"<a@b>\" NIL)");
	test_assert_streq(envelope_of("Subject: a \"q\" b\\c\r\n\r\n"),
		"(NIL \"a \\\"q\\\" b\\\\c\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	test_end();
}

static void
test_params(void)
{
	struct mime_param *p;
	const char *type, *sub;

	test_begin("mime: Content-Type parameters and RFC 2231");
	test_assert(mime_content_type_parse("Text/Plain (comment); Charset=\"iso-8859-1\"; format=flowed",
					    arena, &type, &sub, &p) == 0);
	test_assert_streq(type, "TEXT");
	test_assert_streq(sub, "PLAIN");
	test_assert_streq(mime_param_get(p, "charset"), "iso-8859-1");
	test_assert_streq(p->name, "CHARSET");
	test_assert_streq(mime_param_get(p, "FORMAT"), "flowed");
	/* RFC 2231 section 4: charset decoding; iso-8859-1 becomes UTF-8 */
	test_assert(mime_content_type_parse("application/x-stuff; title*=iso-8859-1'en'caf%E9",
					    arena, &type, &sub, &p) == 0);
	test_assert_streq(mime_param_get(p, "title"), "caf\xc3\xa9");
	/* RFC 2231 section 3: continuations, out of order, plain form dropped */
	test_assert(mime_content_type_parse("message/external-body; access-type=URL;"
					    " URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\";"
					    " URL*0=\"ftp://\"; url=ignored",
					    arena, &type, &sub, &p) == 0);
	test_assert_streq(mime_param_get(p, "url"),
			  "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
	test_assert(p->next != NULL && p->next->next == NULL);
	test_assert(mime_content_type_parse("text", arena, &type, &sub, &p) == -1);
	test_assert(mime_content_type_parse("/plain", arena, &type, &sub, &p) == -1);
	test_end();
}

static void
test_digest(void)
{
	test_begin("mime: multipart/digest defaults to message/rfc822");
	test_assert_streq(structure_of("Content-Type: multipart/digest; boundary=d\r\n\r\n"
				       "--d\r\n\r\nSubject: one\r\n\r\nbody\r\n--d--\r\n", false),
		"((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 20 "
		"(NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL) "
		"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 4 0) 2) \"DIGEST\")");
	test_end();
}

static void
test_bounds(void)
{
	struct buf b = BUF_INIT, out = BUF_INIT;
	struct mime_part *root, *p;
	size_t i, depth = 0, n = 0;

	test_begin("mime: nesting and part-count bounds");
	for (i = 0; i < 200; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=b%zu\r\n\r\n--b%zu\r\n", i, i);
	buf_puts(&b, "\r\nleaf\r\n");
	root = mime_parse(b.data, b.len, arena);
	for (p = root; p->children != NULL; p = p->children)
		depth++;
	test_assert_inteq(depth, MIME_DEPTH_MAX);
	test_assert_streq(p->type, "TEXT");
	mime_bodystructure_write(&out, root, true);
	test_assert(out.len > 0);
	buf_reset(&b);
	buf_puts(&b, "Content-Type: multipart/mixed; boundary=x\r\n\r\n");
	for (i = 0; i < 3000; i++)
		buf_puts(&b, "--x\r\n\r\np\r\n");
	root = mime_parse(b.data, b.len, arena);
	for (p = root->children; p != NULL; p = p->next)
		n++;
	test_assert_inteq(n, MIME_PARTS_MAX - 1);
	buf_free(&b);
	buf_free(&out);
	test_end();
}

static void
test_truncated(void)
{
	const char *msgs[] = { msg_simple, msg_alt, msg_mixed, msg_nested };
	size_t i, len;

	test_begin("mime: every truncation of the corpus parses and renders");
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		for (len = 0; len <= strlen(msgs[i]); len++) {
			struct buf out = BUF_INIT;
			char *copy = malloc(len + 1);   /* exact size for ASan */
			struct mime_part *root;
			memcpy(copy, msgs[i], len);
			root = mime_parse(copy, len, arena);
			mime_envelope_write(&out, root->envelope);
			mime_bodystructure_write(&out, root, true);
			test_assert(out.len > 0 && out.data[out.len - 1] == ')');
			test_assert(root->body_offset + root->body_size == len);
			buf_free(&out);
			free(copy);
			arena_reset(arena);
		}
	}
	test_end();
}

int
main(void)
{
	arena = arena_new(16384, false);
	test_simple();
	test_alternative();
	test_mixed();
	test_nested();
	test_part_find();
	test_missing_headers();
	test_malformed_boundaries();
	test_addresses();
	test_params();
	test_digest();
	test_bounds();
	test_truncated();
	arena_free(&arena);
	return test_done();
}
