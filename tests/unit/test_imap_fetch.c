/* Tests of FETCH (src/imap/imap_fetch*.c, imap_flags.c): item parsing,
 * BODY[section] extraction, BINARY decoding and the response format, on
 * messages built here; the expected answers are written by hand from
 * RFC 9051 6.4.5 / 7.5.2, RFC 3501, RFC 3516 and RFC 7162.  The last tests
 * go through a real store in a mkdtemp() directory. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "imap/imap_fetch.h"
#include "imap/imap_fetch_private.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "store/store.h"
#include "store/store_imap.h"
#include "test.h"

/* ---- messages ---- */

#define M1_HEADER \
	"From: Alice <alice@example.com>\r\n" \
	"To: bob@example.com\r\n" \
	"Subject: Hello\r\n" \
	" folded\r\n" \
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n" \
	"\r\n"
#define M1_TEXT "Body line 1\r\nBody line 2\r\n"
static const char m1[] = M1_HEADER M1_TEXT;

static const char m2[] =
	"From: a@example.com\r\n"
	"Subject: nested\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--outer\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=C3=A9 =\r\n"
	"ok\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
	"\r\n"
	"--inner\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"plain\r\n"
	"--inner\r\n"
	"Content-Type: application/octet-stream\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"AAECAw==\r\n"
	"--inner--\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: c@example.com\r\n"
	"Subject: inner msg\r\n"
	"Content-Type: multipart/mixed; boundary=b3\r\n"
	"\r\n"
	"--b3\r\n"
	"\r\n"
	"first\r\n"
	"--b3\r\n"
	"Content-Type: text/plain\r\n"
	"Content-Transfer-Encoding: 8bit\r\n"
	"\r\n"
	"8-bit \xc3\xa9\r\n"
	"--b3--\r\n"
	"--outer\r\n"
	"Content-Type: application/x-thing\r\n"
	"Content-Transfer-Encoding: x-uuencode\r\n"
	"\r\n"
	"begin 644 f\r\n"
	"--outer--\r\n"
	"epilogue\r\n";

/* Part 3 of m2: the enclosed message, its header and its text. */
#define M2_3_HEADER \
	"From: c@example.com\r\n" \
	"Subject: inner msg\r\n" \
	"Content-Type: multipart/mixed; boundary=b3\r\n" \
	"\r\n"
#define M2_3_TEXT \
	"--b3\r\n" \
	"\r\n" \
	"first\r\n" \
	"--b3\r\n" \
	"Content-Type: text/plain\r\n" \
	"Content-Transfer-Encoding: 8bit\r\n" \
	"\r\n" \
	"8-bit \xc3\xa9\r\n" \
	"--b3--"

/* ---- helpers ---- */

struct fixture {
	struct arena *arena;
	struct imap_ctx ctx;
	struct imap_view view;
};

static void
fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	f->arena = arena_new(4096, false);
	f->view.mailbox = (char *)"INBOX";
	f->ctx.arena = f->arena;
	f->ctx.view = &f->view;
	f->ctx.user = "u@example.com";
}

static void
fixture_free(struct fixture *f)
{
	arena_free(&f->arena);
}

/* Parses "t FETCH 1 <rest>" with the real command parser and returns its
 * spec (NULL with res filled when imap_fetch_parse refuses it). */
static struct imap_fetch_spec *
parse_items(struct fixture *f, const char *rest, struct imap_result *res)
{
	struct imap_parse_limits lim = { 0, 1 << 20, 0, false };
	struct imap_parser *p = imap_parser_new(f->arena, &lim);
	struct imap_command cmd;
	struct imap_parse_error err;
	struct buf line = BUF_INIT;
	struct imap_fetch_spec *spec = NULL;
	size_t used;
	int r;

	buf_printf(&line, "t FETCH 1 %s\r\n", rest);
	r = imap_parser_feed(p, line.data, line.len, &used, &cmd, &err);
	memset(res, 0, sizeof(*res));
	if (r != 1 || cmd.args == NULL || cmd.args->next == NULL) {
		printf("# command did not parse: %s (%s)\n", rest, r == -1 ? err.text : "?");
		res->status = IMAP_BAD;
	} else {
		spec = imap_fetch_parse(&f->ctx, cmd.args->next, cmd.args->next->next, res);
	}
	imap_parser_free(&p);
	buf_free(&line);
	return spec;
}

/* Prints a buffer with CR, LF and other controls made visible. */
static void
show(const char *label, const char *s, size_t len)
{
	printf("# %s: \"", label);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r')
			printf("\\r");
		else if (c == '\n')
			printf("\\n");
		else if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("\"\n");
}

static bool
same(const struct buf *got, const struct buf *want)
{
	size_t at = 0, from;

	if (got->len == want->len && (got->len == 0 || memcmp(got->data, want->data, got->len) == 0))
		return true;
	/* around the first difference, for long ones */
	while (at < got->len && at < want->len && got->data[at] == want->data[at])
		at++;
	from = at > 100 ? at - 100 : 0;
	printf("# lengths %zu, %zu; first difference at %zu\n", got->len, want->len, at);
	show("got ", got->data ? got->data + from : "", got->len - from < 300 ? got->len - from : 300);
	show("want", want->data ? want->data + from : "", want->len - from < 300 ? want->len - from : 300);
	return false;
}

/* Expected-answer builders. */
static void
lit(struct buf *e, const char *s, size_t len)
{
	buf_printf(e, "{%zu}\r\n", len);
	buf_append(e, s, len);
}
#define LIT(e, s) lit((e), (s), sizeof(s) - 1)

static void
msg_init(struct imap_fetch_msg *m, const char *data, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->uid = 7;
	m->flags = STORE_FLAG_SEEN;
	m->modseq = 42;
	m->size = len;
	m->internal_date = 1704103200; /* 2024-01-01 10:00:00 UTC */
	m->keywords = "$Forwarded";
	m->data = data;
	m->len = len;
	m->fd = -1;
}

/* Renders into a fresh output whose sections go inline up to inline_max
 * octets (0: every literal is a segment) and appends what the client
 * would receive, streamed as the loop does, to got.  Returns what
 * imap_fetch_render_msg returned, -2 when streaming failed. */
static int
render_flat(const struct imap_ctx *ctx, const struct imap_fetch_spec *spec, uint32_t seq, struct imap_fetch_msg *m,
            bool add_flags, size_t inline_max, struct buf *got, struct imap_result *res)
{
	struct imap_fetch_out out;
	int r;

	imap_fetch_out_init(&out);
	out.inline_max = inline_max;
	r = imap_fetch_render_msg(ctx, spec, seq, m, add_flags, &out, res);
	if (r == 0 && imap_fetch_out_flatten(&out, got) == -1)
		r = -2;
	imap_fetch_out_free(&out);
	return r;
}

/* Renders items for message data (seq 1) and compares with the response
 * "* 1 FETCH (" want ")\r\n". */
static void
check(struct fixture *f, const char *items, const char *data, size_t len, const char *want_items,
      size_t want_len)
{
	struct imap_result res;
	struct imap_fetch_spec *spec = parse_items(f, items, &res);
	struct imap_fetch_msg m;
	struct buf got = BUF_INIT, want = BUF_INIT;

	test_assert(spec != NULL);
	if (spec == NULL) {
		printf("# %s: %s\n", items, res.text);
		return;
	}
	msg_init(&m, data, len);
	buf_puts(&want, "* 1 FETCH (");
	buf_append(&want, want_items, want_len);
	buf_puts(&want, ")\r\n");
	/* the same octets whether literals are copied into the text or
	 * streamed as segments */
	for (int pass = 0; pass < 2; pass++) {
		buf_reset(&got);
		test_assert(render_flat(&f->ctx, spec, 1, &m, false, pass == 0 ? IMAP_FETCH_INLINE_MAX : 0, &got,
		                        &res) == 0);
		if (!same(&got, &want)) {
			printf("# items: %s (%s)\n", items, pass == 0 ? "inline" : "segments");
			test_assert(false);
		}
	}
	buf_free(&got);
	buf_free(&want);
}

#define CHECK(f, items, data, len, want) check((f), (items), (data), (len), (want), sizeof(want) - 1)

/* check() with the expected items in a buffer. */
static void
check_buf(struct fixture *f, const char *items, const char *data, size_t len, struct buf *want)
{
	check(f, items, data, len, want->data ? want->data : "", want->len);
	buf_reset(want);
}

/* ---- tests ---- */

static void
test_parse_errors(void)
{
	static const char *const bad[] = {
		"XYZ", "BODY.PEEK", "()", "(FLAGS ALL)", "(FLAGS FAST)", "NIL", "\"FLAGS\"",
		"BODY[FOO]", "BODY[MIME]", "BODY[0]", "BODY[01]", "BODY[1.0]", "BODY[1.]", "BODY[.1]",
		"BODY[1.MIME.X]", "BODY[1..2]", "BODY[HEADER.FIELDS]", "BODY[HEADER.FIELDS ()]",
		"BODY[TEXT (a)]", "BODY[HEADER (a)]", "BODY[HEADER.FIELDS (a) (b)]",
		"BODY[HEADER.FIELDS a]", "BODY[1.2X]", "BODY[4294967296]",
		"BINARY[HEADER]", "BINARY[1.MIME]", "BINARY[TEXT]", "BINARY.PEEK[1.HEADER]",
		"BINARY.SIZE[1]<0.10>", "BODYSTRUCTURE[1]", "RFC822.PEEK",
		"FLAGS (CHANGEDSINCE 0)", "FLAGS (CHANGEDSINCE)", "FLAGS (CHANGEDSINCE x)",
		"FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)", "FLAGS (FOO 1)", "FLAGS ()",
		"FLAGS (CHANGEDSINCE 1 VANISHED)", /* not UID FETCH, no QRESYNC */
		"FLAGS FLAGS",
	};
	struct fixture f;
	struct imap_result res;
	char deep[400];
	size_t i, k = 0;

	test_begin("fetch: malformed items and modifiers are BAD");
	fixture_init(&f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse_items(&f, bad[i], &res) != NULL) {
			printf("# accepted: %s\n", bad[i]);
			test_assert(false);
		}
		test_assert(res.status == IMAP_BAD);
	}
	/* a section deeper than any message can be */
	k += (size_t)snprintf(deep, sizeof(deep), "BODY[");
	for (i = 0; i < IMAP_FETCH_SECTION_PARTS_MAX + 1; i++)
		k += (size_t)snprintf(deep + k, sizeof(deep) - k, "%s1", i > 0 ? "." : "");
	snprintf(deep + k, sizeof(deep) - k, "]");
	test_assert(parse_items(&f, deep, &res) == NULL && res.status == IMAP_BAD);
	deep[k - 2] = ']';  /* one number fewer: the bound itself is fine */
	deep[k - 1] = '\0';
	test_assert(parse_items(&f, deep, &res) != NULL);
	/* VANISHED: UID FETCH with CHANGEDSINCE once QRESYNC is on */
	f.ctx.uid = true;
	test_assert(parse_items(&f, "FLAGS (VANISHED CHANGEDSINCE 5)", &res) == NULL);  /* no QRESYNC */
	f.ctx.qresync = true;
	test_assert(parse_items(&f, "FLAGS (VANISHED)", &res) == NULL);
	test_assert(parse_items(&f, "FLAGS (VANISHED CHANGEDSINCE 5)", &res) != NULL);
	f.ctx.uid = false;
	test_assert(parse_items(&f, "FLAGS (VANISHED CHANGEDSINCE 5)", &res) == NULL);
	fixture_free(&f);
	test_end();
}

static void
test_predicates(void)
{
	struct fixture f;
	struct imap_result res;
	struct imap_fetch_spec *s;

	test_begin("fetch: \\Seen, MODSEQ, CHANGEDSINCE and VANISHED as parsed");
	fixture_init(&f);
	s = parse_items(&f, "(FLAGS BODY.PEEK[] BINARY.PEEK[1] BINARY.SIZE[1] RFC822.HEADER RFC822.SIZE)", &res);
	test_assert(s != NULL && !imap_fetch_sets_seen(s) && !imap_fetch_uses_modseq(s));
	test_assert(s != NULL && !s->need_cache && s->need_file && s->need_header);
	test_assert(!f.ctx.condstore_used);
	static const char *const seen[] = {
		"BODY[]", "BODY[1.MIME]", "BODY[HEADER]", "BINARY[1]", "RFC822", "RFC822.TEXT",
		"(UID BODY.PEEK[1] BODY[TEXT]<0.1>)",
	};
	for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++) {
		s = parse_items(&f, seen[i], &res);
		test_assert(s != NULL && imap_fetch_sets_seen(s));
	}
	s = parse_items(&f, "(ENVELOPE BODY[HEADER.FIELDS (From)])", &res);
	test_assert(s != NULL && s->need_cache && s->need_header && !s->need_file);
	s = parse_items(&f, "MODSEQ", &res);
	test_assert(s != NULL && imap_fetch_uses_modseq(s) && imap_fetch_changedsince(s) == 0);
	test_assert(f.ctx.condstore_used);
	s = parse_items(&f, "(FLAGS) (CHANGEDSINCE 9223372036854775807)", &res);
	test_assert(s != NULL && imap_fetch_uses_modseq(s));
	test_assert(s != NULL && imap_fetch_changedsince(s) == 9223372036854775807ULL);
	test_assert(s != NULL && !imap_fetch_vanished(s));
	test_assert(parse_items(&f, "FLAGS (CHANGEDSINCE 9223372036854775808)", &res) == NULL);
	f.ctx.uid = true;
	f.ctx.qresync = true;
	s = parse_items(&f, "FLAGS (CHANGEDSINCE 3 VANISHED)", &res);
	test_assert(s != NULL && imap_fetch_vanished(s) && imap_fetch_changedsince(s) == 3);
	fixture_free(&f);
	test_end();
}

static void
test_simple_items(void)
{
	struct fixture f;
	struct buf w = BUF_INIT;
	const char *env = "(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hello folded\" "
	                  "((\"Alice\" NIL \"alice\" \"example.com\")) "
	                  "((\"Alice\" NIL \"alice\" \"example.com\")) "
	                  "((\"Alice\" NIL \"alice\" \"example.com\")) "
	                  "((NIL NIL \"bob\" \"example.com\")) NIL NIL NIL NIL)";

	test_begin("fetch: FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, UID, MODSEQ, macros");
	fixture_init(&f);
	buf_printf(&w, "FLAGS (\\Seen $Forwarded) INTERNALDATE \" 1-Jan-2024 10:00:00 +0000\" RFC822.SIZE %zu",
	           sizeof(m1) - 1);
	check_buf(&f, "FAST", m1, sizeof(m1) - 1, &w);
	buf_printf(&w, "FLAGS (\\Seen $Forwarded) INTERNALDATE \" 1-Jan-2024 10:00:00 +0000\" RFC822.SIZE %zu "
	           "ENVELOPE %s", sizeof(m1) - 1, env);
	check_buf(&f, "ALL", m1, sizeof(m1) - 1, &w);
	buf_printf(&w, "FLAGS (\\Seen $Forwarded) INTERNALDATE \" 1-Jan-2024 10:00:00 +0000\" RFC822.SIZE %zu "
	           "ENVELOPE %s BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 26 2)",
	           sizeof(m1) - 1, env);
	check_buf(&f, "full", m1, sizeof(m1) - 1, &w);
	/* UID comes first; an item asked twice is answered once */
	CHECK(&f, "(MODSEQ FLAGS UID flags)", m1, sizeof(m1) - 1,
	      "UID 7 MODSEQ (42) FLAGS (\\Seen $Forwarded)");
	CHECK(&f, "BODYSTRUCTURE", m1, sizeof(m1) - 1,
	      "BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 26 2 NIL NIL NIL NIL)");
	fixture_free(&f);
	buf_free(&w);
	test_end();
}

static void
test_flags_and_dates(void)
{
	struct buf b = BUF_INIT;

	test_begin("fetch: flag lists and INTERNALDATE");
	imap_flags_write(&b, 0, NULL);
	test_assert_streq(b.data, "()");
	buf_reset(&b);
	imap_flags_write(&b, 0, "");
	test_assert_streq(b.data, "()");
	buf_reset(&b);
	imap_flags_write(&b, STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | STORE_FLAG_DELETED |
	                     STORE_FLAG_DRAFT, "a  b ");
	test_assert_streq(b.data, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft a b)");
	buf_reset(&b);
	imap_flags_write(&b, 0, "$Junk");
	test_assert_streq(b.data, "($Junk)");
	buf_reset(&b);
	imap_date_time_write(&b, 1700000000);   /* 2023-11-14 22:13:20 UTC */
	test_assert_streq(b.data, "\"14-Nov-2023 22:13:20 +0000\"");
	buf_reset(&b);
	imap_date_time_write(&b, 0);
	test_assert_streq(b.data, "\" 1-Jan-1970 00:00:00 +0000\"");
	buf_reset(&b);
	imap_date_time_write(&b, -5);
	test_assert_streq(b.data, "\" 1-Jan-1970 00:00:00 +0000\"");
	buf_reset(&b);
	imap_date_time_write(&b, INT64_MAX);
	test_assert_streq(b.data, "\"31-Dec-9999 23:59:59 +0000\"");
	buf_free(&b);
	test_end();
}

static void
test_sections_simple(void)
{
	struct fixture f;
	struct buf w = BUF_INIT;
	size_t n = sizeof(m1) - 1;

	test_begin("fetch: BODY[] sections of a single-part message");
	fixture_init(&f);
	buf_puts(&w, "BODY[] ");
	lit(&w, m1, n);
	check_buf(&f, "BODY[]", m1, n, &w);
	buf_puts(&w, "BODY[HEADER] ");
	LIT(&w, M1_HEADER);
	check_buf(&f, "BODY.PEEK[header]", m1, n, &w);
	buf_puts(&w, "BODY[TEXT] ");
	LIT(&w, M1_TEXT);
	check_buf(&f, "BODY[TEXT]", m1, n, &w);
	/* part 1 of a single-part message is its body; its MIME header is the
	 * message's header */
	buf_puts(&w, "BODY[1] ");
	LIT(&w, M1_TEXT);
	check_buf(&f, "BODY[1]", m1, n, &w);
	buf_puts(&w, "BODY[1.MIME] ");
	LIT(&w, M1_HEADER);
	check_buf(&f, "BODY[1.MIME]", m1, n, &w);
	/* no such part: NIL; HEADER of a part that is not message/rfc822: NIL */
	CHECK(&f, "(BODY[2] BODY[1.HEADER] BODY[1.1] BINARY[2] BINARY.SIZE[2])", m1, n,
	      "BODY[2] NIL BODY[1.HEADER] NIL BODY[1.1] NIL BINARY[2] NIL BINARY.SIZE[2] 0");
	/* HEADER.FIELDS: in header order, with the folding, then the blank line;
	 * names echoed as written */
	buf_puts(&w, "BODY[HEADER.FIELDS (subject FROM)] ");
	LIT(&w, "From: Alice <alice@example.com>\r\nSubject: Hello\r\n folded\r\n\r\n");
	check_buf(&f, "BODY.PEEK[HEADER.FIELDS (subject FROM)]", m1, n, &w);
	buf_puts(&w, "BODY[HEADER.FIELDS.NOT (Subject \"To\")] ");
	LIT(&w, "From: Alice <alice@example.com>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n");
	check_buf(&f, "BODY[header.fields.not (Subject \"To\")]", m1, n, &w);
	/* nothing matches: just the blank line */
	buf_puts(&w, "BODY[HEADER.FIELDS (X-None)] {2}\r\n\r\n");
	check_buf(&f, "BODY[HEADER.FIELDS (X-None)]", m1, n, &w);
	/* a name that is not an atom comes back quoted or as a literal */
	buf_puts(&w, "BODY[HEADER.FIELDS (\"a b\" \"q\\\"\")] {2}\r\n\r\n");
	check_buf(&f, "BODY[HEADER.FIELDS (\"a b\" \"q\\\"\")]", m1, n, &w);
	buf_puts(&w, "BODY[HEADER.FIELDS (\"\")] {2}\r\n\r\n");
	check_buf(&f, "BODY[HEADER.FIELDS (\"\")]", m1, n, &w);
	/* RFC822.* */
	buf_puts(&w, "RFC822.HEADER ");
	LIT(&w, M1_HEADER);
	buf_puts(&w, " RFC822.TEXT ");
	LIT(&w, M1_TEXT);
	buf_puts(&w, " RFC822 ");
	lit(&w, m1, n);
	check_buf(&f, "(RFC822.HEADER RFC822.TEXT RFC822)", m1, n, &w);
	fixture_free(&f);
	buf_free(&w);
	test_end();
}

static void
test_partial(void)
{
	struct fixture f;
	struct buf w = BUF_INIT;
	size_t n = sizeof(m1) - 1;

	test_begin("fetch: <partial> and the BODY[]<origin> answer");
	fixture_init(&f);
	CHECK(&f, "BODY[TEXT]<5.4>", m1, n, "BODY[TEXT]<5> {4}\r\nline");
	CHECK(&f, "BODY.PEEK[TEXT]<0.11>", m1, n, "BODY[TEXT]<0> {11}\r\nBody line 1");
	/* longer than what is left: up to the end */
	CHECK(&f, "BODY[TEXT]<22.100>", m1, n, "BODY[TEXT]<22> {4}\r\n 2\r\n");
	/* at or past the end: "" */
	CHECK(&f, "BODY[TEXT]<26.10>", m1, n, "BODY[TEXT]<26> \"\"");
	CHECK(&f, "BODY[]<4294967295.1>", m1, n, "BODY[]<4294967295> \"\"");
	CHECK(&f, "BODY[2]<0.1>", m1, n, "BODY[2]<0> NIL");
	buf_puts(&w, "BODY[HEADER.FIELDS (Subject)]<9> ");
	LIT(&w, "Hello\r\n folded\r\n\r\n");
	check_buf(&f, "BODY[HEADER.FIELDS (Subject)]<9.100>", m1, n, &w);
	fixture_free(&f);
	buf_free(&w);
	test_end();
}

static void
test_header_edges(void)
{
	struct fixture f;
	static const char nobody[] = "Subject: x\r\nFrom: y\r\n";
	static const char lf[] = "Subject: x\nFrom: y\n\nbody\n";
	static const char noheader[] = "\r\nbody only\r\n";
	static const char garbage[] = " lead\r\nno colon here\r\nA : spaced\r\nB:\r\n\tcont\r\n\r\nx";

	test_begin("fetch: headers without a blank line, LF line ends, odd fields");
	fixture_init(&f);
	/* RFC 9051 6.4.5: no blank line to include when there is none */
	CHECK(&f, "BODY[HEADER.FIELDS (Subject)]", nobody, sizeof(nobody) - 1,
	      "BODY[HEADER.FIELDS (Subject)] {12}\r\nSubject: x\r\n");
	CHECK(&f, "(BODY[HEADER] BODY[TEXT])", nobody, sizeof(nobody) - 1,
	      "BODY[HEADER] {21}\r\nSubject: x\r\nFrom: y\r\n BODY[TEXT] \"\"");
	CHECK(&f, "BODY[HEADER.FIELDS (from)]", lf, sizeof(lf) - 1,
	      "BODY[HEADER.FIELDS (from)] {9}\r\nFrom: y\n\n");
	CHECK(&f, "(BODY[HEADER] BODY[HEADER.FIELDS (a)] BODY[TEXT])", noheader, sizeof(noheader) - 1,
	      "BODY[HEADER] {2}\r\n\r\n BODY[HEADER.FIELDS (a)] {2}\r\n\r\n BODY[TEXT] {11}\r\nbody only\r\n");
	/* "A : x" is field A (RFC 5322 4.5.3 obsolete WSP before the colon);
	 * lines without a colon never match, but are kept by .NOT */
	CHECK(&f, "BODY[HEADER.FIELDS (A b)]", garbage, sizeof(garbage) - 1,
	      "BODY[HEADER.FIELDS (A b)] {25}\r\nA : spaced\r\nB:\r\n\tcont\r\n\r\n");
	CHECK(&f, "BODY[HEADER.FIELDS.NOT (A b)]", garbage, sizeof(garbage) - 1,
	      "BODY[HEADER.FIELDS.NOT (A b)] {24}\r\n lead\r\nno colon here\r\n\r\n");
	CHECK(&f, "BODY[]", "", 0, "BODY[] \"\"");
	CHECK(&f, "(BODY[HEADER] BODY[TEXT] BODY[1] RFC822)", "", 0,
	      "BODY[HEADER] \"\" BODY[TEXT] \"\" BODY[1] \"\" RFC822 \"\"");
	fixture_free(&f);
	test_end();
}

static void
test_sections_nested(void)
{
	struct fixture f;
	struct buf w = BUF_INIT;
	size_t n = sizeof(m2) - 1;

	test_begin("fetch: part numbers in nested multiparts and message/rfc822");
	fixture_init(&f);
	buf_puts(&w, "BODY[1] ");
	LIT(&w, "caf=C3=A9 =\r\nok");
	check_buf(&f, "BODY[1]", m2, n, &w);
	buf_puts(&w, "BODY[1.MIME] ");
	LIT(&w, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n");
	check_buf(&f, "BODY[1.MIME]", m2, n, &w);
	buf_puts(&w, "BODY[2] ");
	LIT(&w, "--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n--inner\r\n"
	        "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	        "AAECAw==\r\n--inner--");
	check_buf(&f, "BODY[2]", m2, n, &w);
	CHECK(&f, "(BODY[2.1] BODY[2.2])", m2, n, "BODY[2.1] {5}\r\nplain BODY[2.2] {8}\r\nAAECAw==");
	buf_puts(&w, "BODY[2.2.MIME] ");
	LIT(&w, "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	check_buf(&f, "BODY[2.2.MIME]", m2, n, &w);
	/* part 3 is message/rfc822: its body is the whole enclosed message */
	buf_puts(&w, "BODY[3] ");
	LIT(&w, M2_3_HEADER M2_3_TEXT);
	check_buf(&f, "BODY[3]", m2, n, &w);
	buf_puts(&w, "BODY[3.HEADER] ");
	LIT(&w, M2_3_HEADER);
	buf_puts(&w, " BODY[3.TEXT] ");
	LIT(&w, M2_3_TEXT);
	check_buf(&f, "(BODY[3.HEADER] BODY[3.TEXT])", m2, n, &w);
	buf_puts(&w, "BODY[3.HEADER.FIELDS (SUBJECT)] ");
	LIT(&w, "Subject: inner msg\r\n\r\n");
	check_buf(&f, "BODY[3.HEADER.FIELDS (SUBJECT)]", m2, n, &w);
	buf_puts(&w, "BODY[3.MIME] ");
	LIT(&w, "Content-Type: message/rfc822\r\n\r\n");
	check_buf(&f, "BODY[3.MIME]", m2, n, &w);
	/* inside the enclosed message: a part with an empty header */
	CHECK(&f, "(BODY[3.1] BODY[3.1.MIME] BODY[3.2])", m2, n,
	      "BODY[3.1] {5}\r\nfirst BODY[3.1.MIME] {2}\r\n\r\n BODY[3.2] {8}\r\n8-bit \xc3\xa9");
	/* missing parts and HEADER/TEXT of non-message parts */
	CHECK(&f, "(BODY[5] BODY[2.3] BODY[1.1] BODY[1.TEXT] BODY[2.HEADER] BODY[3.3])", m2, n,
	      "BODY[5] NIL BODY[2.3] NIL BODY[1.1] NIL BODY[1.TEXT] NIL BODY[2.HEADER] NIL BODY[3.3] NIL");
	/* TEXT of the message: preamble to epilogue */
	{
		const char *t = strstr(m2, "\r\n\r\n") + 4;
		buf_puts(&w, "BODY[TEXT] ");
		lit(&w, t, n - (size_t)(t - m2));
		check_buf(&f, "BODY[TEXT]", m2, n, &w);
	}
	fixture_free(&f);
	buf_free(&w);
	test_end();
}

static void
test_binary(void)
{
	struct fixture f;
	struct buf w = BUF_INIT;
	struct imap_result res;
	struct imap_fetch_spec *spec;
	struct imap_fetch_msg m;
	size_t n = sizeof(m2) - 1;

	test_begin("fetch: BINARY decodes leaf parts, literal8 for NUL, BINARY.SIZE");
	fixture_init(&f);
	/* quoted-printable: "=C3=A9" is one character, "=" CRLF a soft break */
	CHECK(&f, "(BINARY[1] BINARY.SIZE[1])", m2, n,
	      "BINARY[1] {8}\r\ncaf\xc3\xa9 ok BINARY.SIZE[1] 8");
	/* base64 with a NUL: literal8 */
	buf_puts(&w, "BINARY[2.2] ~{4}\r\n");
	buf_append(&w, "\0\1\2\3", 4);
	buf_puts(&w, " BINARY.SIZE[2.2] 4");
	check_buf(&f, "(BINARY.PEEK[2.2] BINARY.SIZE[2.2])", m2, n, &w);
	/* a partial of the decoded data; without NUL it is a plain literal */
	CHECK(&f, "BINARY[2.2]<1.2>", m2, n, "BINARY[2.2]<1> {2}\r\n\1\2");
	CHECK(&f, "BINARY[2.2]<4.2>", m2, n, "BINARY[2.2]<4> \"\"");
	/* 7bit and 8bit: as they are */
	CHECK(&f, "(BINARY[2.1] BINARY[3.2])", m2, n,
	      "BINARY[2.1] {5}\r\nplain BINARY[3.2] {8}\r\n8-bit \xc3\xa9");
	/* non-leaf parts and the whole message: the bytes as BODY has them */
	buf_puts(&w, "BINARY[3] ");
	LIT(&w, M2_3_HEADER M2_3_TEXT);
	buf_printf(&w, " BINARY.SIZE[3] %zu BINARY.SIZE[] %zu", sizeof(M2_3_HEADER M2_3_TEXT) - 1, n);
	check_buf(&f, "(BINARY[3] BINARY.SIZE[3] BINARY.SIZE[])", m2, n, &w);
	/* an encoding we do not know: NO [UNKNOWN-CTE], nothing written */
	spec = parse_items(&f, "(UID BINARY[4])", &res);
	test_assert(spec != NULL);
	if (spec != NULL) {
		struct imap_fetch_out out;

		imap_fetch_out_init(&out);
		out.inline_max = 0;
		buf_puts(&out.text, "before");
		msg_init(&m, m2, n);
		spec = parse_items(&f, "(BODY.PEEK[1] UID BINARY[4])", &res);
		test_assert(imap_fetch_render_msg(&f.ctx, spec, 3, &m, false, &out, &res) == -1);
		test_assert(res.status == IMAP_NO);
		test_assert_streq(res.code, "UNKNOWN-CTE");
		test_assert(out.text.len == 6 && strcmp(out.text.data, "before") == 0);
		test_assert(out.nsegs == 0 && out.seg_bytes == 0);
		spec = parse_items(&f, "BINARY.SIZE[4]", &res);
		test_assert(imap_fetch_render_msg(&f.ctx, spec, 3, &m, false, &out, &res) == -1);
		test_assert_streq(res.code, "UNKNOWN-CTE");
		test_assert(out.text.len == 6);
		imap_fetch_out_free(&out);
	}
	/* but BODY of it is fine */
	CHECK(&f, "BODY.PEEK[4]", m2, n, "BODY[4] {11}\r\nbegin 644 f");
	{
		/* corrupt base64 is refused too */
		static const char corrupt[] = "Content-Transfer-Encoding: base64\r\n\r\nAA*A\r\n";
		spec = parse_items(&f, "BINARY[1]", &res);
		msg_init(&m, corrupt, sizeof(corrupt) - 1);
		struct buf out = BUF_INIT;
		test_assert(render_flat(&f.ctx, spec, 1, &m, false, 0, &out, &res) == -1);
		test_assert_streq(res.code, "UNKNOWN-CTE");
		buf_free(&out);
	}
	fixture_free(&f);
	buf_free(&w);
	test_end();
}

static void
test_added_items(void)
{
	struct fixture f;
	struct imap_result res;
	struct imap_fetch_spec *spec;
	struct imap_fetch_msg m;
	struct buf out = BUF_INIT;

	test_begin("fetch: UID for UID FETCH, FLAGS after \\Seen, MODSEQ under CONDSTORE");
	fixture_init(&f);
	msg_init(&m, m1, sizeof(m1) - 1);
	/* UID FETCH: UID added, first */
	f.ctx.uid = true;
	spec = parse_items(&f, "RFC822.SIZE", &res);
	test_assert(render_flat(&f.ctx, spec, 4, &m, false, IMAP_FETCH_INLINE_MAX, &out, &res) == 0);
	test_assert_streq(out.data, "* 4 FETCH (UID 7 RFC822.SIZE 145)\r\n");
	buf_reset(&out);
	/* the fetch set \Seen: FLAGS added at the end */
	f.ctx.uid = false;
	spec = parse_items(&f, "BODY[HEADER.FIELDS (X)]", &res);
	test_assert(render_flat(&f.ctx, spec, 4, &m, true, IMAP_FETCH_INLINE_MAX, &out, &res) == 0);
	test_assert_streq(out.data, "* 4 FETCH (BODY[HEADER.FIELDS (X)] {2}\r\n\r\n FLAGS (\\Seen $Forwarded))\r\n");
	buf_reset(&out);
	/* FLAGS asked already: not twice */
	spec = parse_items(&f, "(FLAGS RFC822.SIZE)", &res);
	test_assert(render_flat(&f.ctx, spec, 4, &m, true, IMAP_FETCH_INLINE_MAX, &out, &res) == 0);
	test_assert_streq(out.data, "* 4 FETCH (FLAGS (\\Seen $Forwarded) RFC822.SIZE 145)\r\n");
	buf_reset(&out);
	/* RFC 7162: with CONDSTORE on, a \Seen change made by the FETCH
	 * comes with UID and MODSEQ */
	f.ctx.condstore = true;
	spec = parse_items(&f, "RFC822.SIZE", &res);
	test_assert(render_flat(&f.ctx, spec, 4, &m, true, IMAP_FETCH_INLINE_MAX, &out, &res) == 0);
	test_assert_streq(out.data, "* 4 FETCH (UID 7 RFC822.SIZE 145 FLAGS (\\Seen $Forwarded) MODSEQ (42))\r\n");
	buf_reset(&out);
	/* ... but a plain FETCH under CONDSTORE is answered as asked */
	test_assert(render_flat(&f.ctx, spec, 4, &m, false, IMAP_FETCH_INLINE_MAX, &out, &res) == 0);
	test_assert_streq(out.data, "* 4 FETCH (RFC822.SIZE 145)\r\n");
	buf_reset(&out);
	/* CHANGEDSINCE implies MODSEQ (RFC 7162 3.1.4.1) */
	f.ctx.condstore = false;
	spec = parse_items(&f, "(FLAGS) (CHANGEDSINCE 1)", &res);
	test_assert(render_flat(&f.ctx, spec, 4, &m, false, IMAP_FETCH_INLINE_MAX, &out, &res) == 0);
	test_assert_streq(out.data, "* 4 FETCH (FLAGS (\\Seen $Forwarded) MODSEQ (42))\r\n");
	buf_free(&out);
	fixture_free(&f);
	test_end();
}

static void
test_section_write(void)
{
	struct fixture f;
	struct imap_result res;
	struct imap_fetch_spec *spec;

	test_begin("fetch: response names of sections");
	fixture_init(&f);
	spec = parse_items(&f, "(body.peek[1.2.header.fields (a \"b c\")]<0.5> binary.peek[3] binary.size[] "
	                   "BODY[1.2.3.MIME] body[text] BODY.PEEK[])", &res);
	test_assert(spec != NULL && spec->count == 6);
	if (spec != NULL && spec->count == 6) {
		test_assert_streq(spec->items[0].name, "BODY[1.2.HEADER.FIELDS (a \"b c\")]");
		test_assert(spec->items[0].has_partial && spec->items[0].partial_start == 0 &&
		            spec->items[0].partial_len == 5);
		test_assert_streq(spec->items[1].name, "BINARY[3]");
		test_assert_streq(spec->items[2].name, "BINARY.SIZE[]");
		test_assert_streq(spec->items[3].name, "BODY[1.2.3.MIME]");
		test_assert_streq(spec->items[4].name, "BODY[TEXT]");
		test_assert_streq(spec->items[5].name, "BODY[]");
	}
	fixture_free(&f);
	test_end();
}

/* ---- bounded memory: filtering in pieces, segments ---- */

/* HEADER.FIELDS as it was before it took its input in pieces (lines found
 * with memchr in the whole header): the reference for the filter. */
static bool
ref_name_in(const char *name, size_t len, const struct imap_fetch_name *names, size_t nnames)
{
	for (size_t i = 0; i < nnames; i++)
		if (names[i].len == len && strncasecmp(names[i].str, name, len) == 0)
			return true;
	return false;
}

static void
ref_filter(const char *hdr, size_t len, const struct imap_fetch_name *names, size_t nnames, bool not,
           struct buf *out)
{
	size_t end = imap_header_blank_start(hdr, len), pos = 0;

	while (pos < end) {
		size_t start = pos, name_len = 0;
		bool named = false;
		const char *nl = memchr(hdr + pos, '\n', end - pos);
		size_t eol = nl != NULL ? (size_t)(nl - hdr) : end;
		const char *colon = memchr(hdr + pos, ':', eol - pos);

		if (colon != NULL && hdr[pos] != ' ' && hdr[pos] != '\t') {
			named = true;
			name_len = (size_t)(colon - (hdr + pos));
			while (name_len > 0 && (hdr[pos + name_len - 1] == ' ' || hdr[pos + name_len - 1] == '\t'))
				name_len--;
		}
		pos = nl != NULL ? eol + 1 : end;
		while (pos < end && (hdr[pos] == ' ' || hdr[pos] == '\t')) {
			nl = memchr(hdr + pos, '\n', end - pos);
			pos = nl != NULL ? (size_t)(nl - hdr) + 1 : end;
		}
		if ((named && ref_name_in(hdr + start, name_len, names, nnames)) != not)
			buf_append(out, hdr + start, pos - start);
	}
	buf_append(out, hdr + end, len - end);
}

static void
test_filter_pieces(void)
{
	static const char *const pieces[] = {
		"A:", "a :", "B: x", " y", "\t", ":", "c", "\r\n", "\n", " ", "Ab:", "b\t:", "x", "A",
	};
	static const struct imap_fetch_name names[] = {
		{ "a", 1, true }, { "AB", 2, true }, { "", 0, false },
	};
	unsigned seed = 7;
	bool ref_ok = true, split_ok = true;
	char hdr[200];

	test_begin("fetch: HEADER.FIELDS in pieces = whole = the line filter");
	for (int round = 0; round < 20000; round++) {
		size_t len = 0, k = (size_t)(round % 12) + 1;
		bool not = round & 1;
		struct buf whole = BUF_INIT, ref = BUF_INIT;

		for (size_t i = 0; i < k; i++) {
			const char *p;

			seed = seed * 1103515245u + 12345u;
			p = pieces[(seed >> 16) % (sizeof(pieces) / sizeof(pieces[0]))];
			memcpy(hdr + len, p, strlen(p));
			len += strlen(p);
		}
		imap_header_filter(hdr, len, names, 3, not, &whole);
		ref_filter(hdr, len, names, 3, not, &ref);
		if (whole.len != ref.len || (ref.len > 0 && memcmp(whole.data, ref.data, ref.len) != 0)) {
			if (ref_ok)
				show("header", hdr, len);
			ref_ok = false;
		}
		for (size_t step = 1; step < 4; step++) {
			struct imap_hfilter hf;
			struct buf part = BUF_INIT;

			imap_hfilter_init(&hf, names, 3, not, imap_header_blank_start(hdr, len));
			for (size_t i = 0; i < len; i += step)
				imap_hfilter_feed(&hf, hdr + i, len - i < step ? len - i : step, &part);
			imap_hfilter_finish(&hf, &part);
			if (part.len != whole.len || (whole.len > 0 && memcmp(part.data, whole.data, whole.len) != 0))
				split_ok = false;
			buf_free(&part);
		}
		buf_free(&whole);
		buf_free(&ref);
	}
	test_assert(ref_ok);
	test_assert(split_ok);
	test_end();
}

/* A message of about size octets: a header, then a multipart with a text
 * part (NUL bytes in it) and a base64 part of raw octets 0..255. */
static char *
big_message(size_t size, size_t *len_out, struct buf *raw_out)
{
	struct buf m = BUF_INIT, raw = BUF_INIT, b64 = BUF_INIT;
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	buf_puts(&m, "From: a@example.com\r\nSubject: big\r\nX-Long: ");
	for (i = 0; i < 100000; i++)
		buf_puts(&m, i % 60 == 59 ? "\r\n x" : "x");
	buf_puts(&m, "\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\n\r\n");
	for (i = 0; m.len < size / 2; i++) {
		buf_printf(&m, "line %zu ", i);
		if (i % 1000 == 0)
			buf_append(&m, "\0", 1);
		buf_puts(&m, "\r\n");
	}
	buf_puts(&m, "--zz\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	for (i = 0; raw.len < size / 3; i++) {
		unsigned char c = (unsigned char)(i * 7);
		buf_append(&raw, &c, 1);
	}
	for (i = 0; i + 3 <= raw.len; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)raw.data[i] << 16 | (uint32_t)(unsigned char)raw.data[i + 1] << 8 |
		             (unsigned char)raw.data[i + 2];
		char q[4] = { tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], tbl[v & 63] };

		buf_append(&b64, q, 4);
		if (i % 57 == 54)
			buf_puts(&b64, "\r\n");
	}
	raw.len = i;   /* what the base64 holds */
	buf_append(&m, b64.data, b64.len);
	buf_puts(&m, "\r\n--zz--\r\n");
	buf_free(&b64);
	*raw_out = raw;
	*len_out = m.len;
	return m.data;
}

static void
test_segments(void)
{
	struct fixture f;
	struct imap_result res;
	struct imap_fetch_spec *spec;
	struct imap_fetch_msg m;
	struct imap_fetch_out out;
	struct buf raw, got = BUF_INIT, want = BUF_INIT, items = BUF_INIT;
	size_t len;
	char *big = big_message(1 << 20, &len, &raw);

	test_begin("fetch: large literals are segments; the text stays small");
	fixture_init(&f);
	msg_init(&m, big, len);
	/* 100 copies of BODY.PEEK[] of a 1 MiB message */
	buf_puts(&items, "(");
	for (int i = 0; i < 100; i++)
		buf_puts(&items, i > 0 ? " BODY.PEEK[]" : "BODY.PEEK[]");
	buf_puts(&items, ")");
	spec = parse_items(&f, items.data, &res);
	test_assert(spec != NULL && spec->count == 100);
	imap_fetch_out_init(&out);
	test_assert(imap_fetch_render_msg(&f.ctx, spec, 1, &m, false, &out, &res) == 0);
	test_assert(out.text.len < 4096);
	test_assert_inteq(out.nsegs, 100);
	test_assert(out.seg_bytes == 100 * (uint64_t)len);
	test_assert(imap_fetch_out_size(&out) >= IMAP_FETCH_BATCH_BYTES);
	imap_fetch_out_free(&out);

	/* sections, partials, BINARY (decoded in pieces, literal8 for NUL),
	 * HEADER.FIELDS of a long folded field: segments and inline agree with
	 * what is computed here from the message */
	spec = parse_items(&f, "(BODY.PEEK[TEXT] BODY.PEEK[1]<5.100000> BINARY.PEEK[2] BINARY.SIZE[2] "
	                   "BINARY.PEEK[2]<70000.70000> BODY.PEEK[HEADER.FIELDS (X-LONG)]<10.5000> "
	                   "BODY.PEEK[HEADER.FIELDS (x-long SUBJECT)])", &res);
	test_assert(spec != NULL);
	{
		size_t hs = imap_header_size(big, len);
		const char *p1 = strstr(big + hs, "--zz\r\n\r\n") + 8;
		const char *p1_end = strstr(p1, "\r\n--zz");
		const char *xl = strstr(big, "X-Long: ");
		const char *xl_end = strstr(xl, "\r\nContent-Type") + 2;
		struct buf nonul = BUF_INIT;

		buf_append(&nonul, big + hs, len - hs);
		for (size_t i = 0; i < nonul.len; i++)
			if (nonul.data[i] == '\0')
				nonul.data[i] = (char)0x80;
		buf_puts(&want, "* 1 FETCH (BODY[TEXT] ");
		lit(&want, nonul.data, nonul.len);
		buf_puts(&want, " BODY[1]<5> ");
		lit(&want, nonul.data + (p1 - (big + hs)) + 5, 100000);
		(void)p1_end;
		buf_printf(&want, " BINARY[2] ~{%zu}\r\n", raw.len);
		buf_append(&want, raw.data, raw.len);
		buf_printf(&want, " BINARY.SIZE[2] %zu BINARY[2]<70000> ~{70000}\r\n", raw.len);
		buf_append(&want, raw.data + 70000, 70000);
		/* the field, then the header's blank line */
		buf_reset(&nonul);
		buf_append(&nonul, xl, (size_t)(xl_end - xl));
		buf_puts(&nonul, "\r\n");
		test_assert(nonul.len > 3 * IMAP_FETCH_CHUNK);
		buf_puts(&want, " BODY[HEADER.FIELDS (X-LONG)]<10> ");
		lit(&want, nonul.data + 10, 5000);
		buf_puts(&want, " BODY[HEADER.FIELDS (x-long SUBJECT)] ");
		buf_printf(&want, "{%zu}\r\nSubject: big\r\n", nonul.len + 14);
		buf_append(&want, nonul.data, nonul.len);
		buf_puts(&want, ")\r\n");
		buf_free(&nonul);
	}
	for (size_t inl = 0; inl <= IMAP_FETCH_INLINE_MAX; inl += IMAP_FETCH_INLINE_MAX) {
		buf_reset(&got);
		test_assert(render_flat(&f.ctx, spec, 1, &m, false, inl, &got, &res) == 0);
		test_assert(same(&got, &want));
	}
	/* the text of a job is bounded: a section that would pass the batch
	 * bound is a segment even when small */
	imap_fetch_out_init(&out);
	spec = parse_items(&f, "BODY.PEEK[HEADER]", &res);
	while (out.text.len < IMAP_FETCH_BATCH_BYTES)
		test_assert(imap_fetch_render_msg(&f.ctx, spec, 1, &m, false, &out, &res) == 0);
	test_assert(out.text.len < IMAP_FETCH_BATCH_BYTES + 100);
	imap_fetch_out_free(&out);
	fixture_free(&f);
	free(big);
	buf_free(&raw);
	buf_free(&got);
	buf_free(&want);
	buf_free(&items);
	test_end();
}

/* ---- through the store ---- */

/* imap_fetch_render into a fresh output, streamed from the message files
 * into got, both with literals inline and as segments (which must agree).
 * Returns what imap_fetch_render returned, -2 when the two disagree or
 * streaming failed. */
static int
render_store(struct imap_ctx *ctx, const struct imap_fetch_spec *spec, uint32_t seq,
             const struct store_imap_msg *m, struct buf *got, struct imap_result *res)
{
	struct buf first = BUF_INIT;
	int ret = 0;

	for (int pass = 0; pass < 2; pass++) {
		struct imap_fetch_out out;
		struct buf *dst = pass == 0 ? &first : got;
		int r;

		imap_fetch_out_init(&out);
		out.inline_max = pass == 0 ? IMAP_FETCH_INLINE_MAX : 0;
		r = imap_fetch_render(ctx, spec, seq, m, false, &out, res);
		if (r == 0 && imap_fetch_out_flatten(&out, dst) == -1)
			r = -2;
		imap_fetch_out_free(&out);
		if (pass == 0)
			ret = r;
		else if (r != ret)
			ret = -2;
	}
	if (ret == 0 && (first.len != got->len || (first.len > 0 && memcmp(first.data, got->data, first.len) != 0)))
		ret = -2;
	buf_free(&first);
	return ret;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
deliver(const char *dd, const char *user, const char *data, size_t len, int64_t when)
{
	struct store_spool sp;
	enum store_error err;
	const char *error;
	const char *users[1] = { user };
	int r;

	if (store_spool_create(dd, &sp, &error) == -1)
		return -1;
	if (store_spool_write(&sp, data, len, &err) == -1 || store_spool_commit(&sp, &err) == -1) {
		store_spool_discard(&sp);
		return -1;
	}
	r = store_deliver(dd, &sp, users, 1, when, &err, &error);
	if (r == -1)
		printf("# deliver: %s\n", error);
	store_spool_discard(&sp);
	return r;
}

static void
test_store(void)
{
	static const char bin[] =
		"Subject: bin\r\n"
		"Content-Type: application/octet-stream\r\n"
		"Content-Transfer-Encoding: binary\r\n"
		"\r\n"
		"a\0b\xff\r\n";
	char tmpl[] = "/tmp/tern-fetch-XXXXXX";
	char *dd = mkdtemp(tmpl);
	const char *user = "u@example.com", *error;
	struct store *st = NULL;
	struct store_imap_msg *msgs = NULL;
	struct store_mailbox_info info;
	struct fixture f;
	struct imap_result res;
	struct imap_fetch_spec *spec;
	struct buf out = BUF_INIT, want = BUF_INIT;
	size_t n = 0;

	test_begin("fetch: through a real store (cache, header-only read, mmap, segments, expunged)");
	fixture_init(&f);
	test_assert(dd != NULL);
	if (dd == NULL)
		goto out;
	test_assert(deliver(dd, user, m1, sizeof(m1) - 1, 1704103200) == 0);
	test_assert(deliver(dd, user, bin, sizeof(bin) - 1, 1704103200) == 0);
	test_assert(deliver(dd, user, m2, sizeof(m2) - 1, 1704103200) == 0);
	test_assert(store_open(dd, user, &st, &error) == 0);
	if (st == NULL)
		goto out;
	test_assert(store_imap_list(st, "INBOX", &info, &msgs, &n, &error) == STORE_OK);
	test_assert_inteq(n, 3);
	if (n != 3)
		goto out;
	f.ctx.st = st;

	/* the cache: ENVELOPE and BODYSTRUCTURE; a header-only section */
	spec = parse_items(&f, "(UID RFC822.SIZE INTERNALDATE ENVELOPE BODY[HEADER.FIELDS (Subject)])", &res);
	test_assert(spec != NULL && !spec->need_file);
	test_assert(render_store(&f.ctx, spec, 1, &msgs[0], &out, &res) == 0);
	buf_printf(&want, "* 1 FETCH (UID %u RFC822.SIZE %zu INTERNALDATE \" 1-Jan-2024 10:00:00 +0000\" "
	           "ENVELOPE (\"Mon, 1 Jan 2024 10:00:00 +0000\" \"Hello folded\" "
	           "((\"Alice\" NIL \"alice\" \"example.com\")) ((\"Alice\" NIL \"alice\" \"example.com\")) "
	           "((\"Alice\" NIL \"alice\" \"example.com\")) ((NIL NIL \"bob\" \"example.com\")) "
	           "NIL NIL NIL NIL) BODY[HEADER.FIELDS (Subject)] ",
	           msgs[0].uid, sizeof(m1) - 1);
	LIT(&want, "Subject: Hello\r\n folded\r\n\r\n");
	buf_puts(&want, ")\r\n");
	test_assert(same(&out, &want));
	buf_reset(&out);
	buf_reset(&want);

	/* BODY[] of a message with NUL and 8-bit octets: a literal cannot
	 * hold NUL (RFC 9051 9, CHAR8), so NUL goes out as 0x80; BINARY[]
	 * gives the exact octets in a literal8 */
	spec = parse_items(&f, "(BODY.PEEK[] BINARY.PEEK[1] BODYSTRUCTURE)", &res);
	test_assert(render_store(&f.ctx, spec, 2, &msgs[1], &out, &res) == 0);
	buf_puts(&want, "* 2 FETCH (BODY[] ");
	{
		char nonul[sizeof(bin)];

		memcpy(nonul, bin, sizeof(bin));
		for (size_t i = 0; i + 1 < sizeof(bin); i++)
			if (nonul[i] == '\0')
				nonul[i] = (char)0x80;
		lit(&want, nonul, sizeof(bin) - 1);
	}
	buf_puts(&want, " BINARY[1] ~{6}\r\n");
	buf_append(&want, "a\0b\xff\r\n", 6);
	buf_puts(&want, " BODYSTRUCTURE (\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BINARY\" 6 NIL NIL NIL NIL))\r\n");
	test_assert(same(&out, &want));
	buf_reset(&out);
	buf_reset(&want);

	/* part numbers through the file */
	spec = parse_items(&f, "(BINARY[2.2] BODY[3.HEADER.FIELDS (FROM)])", &res);
	test_assert(render_store(&f.ctx, spec, 3, &msgs[2], &out, &res) == 0);
	buf_puts(&want, "* 3 FETCH (BINARY[2.2] ~{4}\r\n");
	buf_append(&want, "\0\1\2\3", 4);
	buf_puts(&want, " BODY[3.HEADER.FIELDS (FROM)] ");
	LIT(&want, "From: c@example.com\r\n\r\n");
	buf_puts(&want, ")\r\n");
	test_assert(same(&out, &want));
	buf_reset(&out);
	buf_reset(&want);

	/* a message expunged after rendering is still sent whole: the
	 * segment's open descriptor keeps the unlinked file */
	{
		struct imap_fetch_out o;
		uint32_t uid = msgs[2].uid;

		imap_fetch_out_init(&o);
		o.inline_max = 0;
		spec = parse_items(&f, "(BODY.PEEK[] BINARY.PEEK[2.2])", &res);
		test_assert(imap_fetch_render(&f.ctx, spec, 3, &msgs[2], false, &o, &res) == 0);
		test_assert(o.nfds == 1 && o.nsegs == 2);
		test_assert(store_expunge(st, "INBOX", &uid, 1, &error) == 0);
		test_assert(imap_fetch_out_flatten(&o, &out) == 0);
		buf_puts(&want, "* 3 FETCH (BODY[] ");
		LIT(&want, m2);
		buf_puts(&want, " BINARY[2.2] ~{4}\r\n");
		buf_append(&want, "\0\1\2\3", 4);
		buf_puts(&want, ")\r\n");
		test_assert(same(&out, &want));
		imap_fetch_out_free(&o);
		buf_reset(&out);
		buf_reset(&want);
	}

	/* expunged meanwhile: 1, nothing written, whatever the items */
	{
		uint32_t uid = msgs[0].uid;
		test_assert(store_expunge(st, "INBOX", &uid, 1, &error) == 0);
	}
	spec = parse_items(&f, "BODY[]", &res);
	test_assert(render_store(&f.ctx, spec, 1, &msgs[0], &out, &res) == 1);
	spec = parse_items(&f, "(ENVELOPE BODY[HEADER])", &res);
	test_assert(render_store(&f.ctx, spec, 1, &msgs[0], &out, &res) == 1);
	spec = parse_items(&f, "FLAGS", &res);
	test_assert(render_store(&f.ctx, spec, 1, &msgs[1], &out, &res) == 0);
	test_assert_streq(out.data, "* 1 FETCH (FLAGS ())\r\n");
out:
	if (msgs != NULL)
		store_imap_msgs_free(msgs, n);
	store_close(&st);
	if (dd != NULL)
		nftw(dd, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	buf_free(&out);
	buf_free(&want);
	fixture_free(&f);
	test_end();
}

int
main(void)
{
	test_parse_errors();
	test_predicates();
	test_simple_items();
	test_flags_and_dates();
	test_sections_simple();
	test_partial();
	test_header_edges();
	test_sections_nested();
	test_binary();
	test_added_items();
	test_section_write();
	test_filter_pieces();
	test_segments();
	test_store();
	return test_done();
}
