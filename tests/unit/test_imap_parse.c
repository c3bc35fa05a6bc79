/* Tests of the IMAP command parser (src/imap/imap_parse.c): every case is
 * run fed all at once and one byte at a time (and in 3-byte chunks), and
 * the transcripts of what the parser reported must be identical and equal
 * to the expected one, written by hand from RFC 3501 / RFC 9051. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "test.h"

static void
dump_args(struct buf *out, const struct imap_arg *a)
{
	for (; a != NULL; a = a->next) {
		switch (a->type) {
		case IMAP_ARG_ATOM:
			buf_append(out, a->str, a->len);
			break;
		case IMAP_ARG_NIL:
			buf_printf(out, "NIL<%s>", a->str);
			break;
		case IMAP_ARG_QUOTED:
			buf_puts(out, "'");
			buf_append(out, a->str, a->len);
			buf_puts(out, "'");
			break;
		case IMAP_ARG_LITERAL:
			buf_printf(out, "%s{%zu%s}", a->literal8 ? "~" : "", a->len, a->non_sync ? "+" : "");
			for (size_t i = 0; i < a->len; i++) {
				if (a->str[i] == '\0')
					buf_puts(out, "\\0");
				else
					buf_append(out, a->str + i, 1);
			}
			test_assert(a->str[a->len] == '\0');
			break;
		case IMAP_ARG_LITERAL_STREAM:
			buf_printf(out, "%s{%llu%s}<stream>", a->literal8 ? "~" : "",
			           (unsigned long long)a->lit_size, a->non_sync ? "+" : "");
			break;
		case IMAP_ARG_LIST: {
			size_t n = 0;
			const struct imap_arg *c;

			for (c = a->list; c != NULL; c = c->next)
				n++;
			test_assert_inteq(n, a->count);
			buf_puts(out, "(");
			dump_args(out, a->list);
			buf_puts(out, ")");
			break;
		}
		case IMAP_ARG_FETCH_ATT:
			buf_append(out, a->str, a->len);
			buf_puts(out, "[");
			dump_args(out, a->section);
			buf_puts(out, "]");
			if (a->has_partial)
				buf_printf(out, "<%u.%u>", a->partial_start, a->partial_len);
			break;
		}
		if (a->next != NULL)
			buf_puts(out, " ");
	}
}

struct run_opts {
	struct imap_parse_limits lim;
	bool refuse;       /* refuse every synchronising literal */
};

/* Drives the parser over in[0..len) in chunks of at most chunk bytes and
 * writes a transcript of what it reported. */
static void
run(const struct run_opts *o, const char *in, size_t len, size_t chunk, struct buf *out)
{
	struct arena *a = arena_new(1024, false);
	struct imap_parser *p = imap_parser_new(a, &o->lim);
	size_t pos = 0;

	buf_reset(out);
	while (pos < len) {
		size_t avail = len - pos < chunk ? len - pos : chunk, used = 0;
		struct imap_command cmd;
		struct imap_parse_error err;
		uint64_t n;
		int r;

		switch (imap_parser_state(p)) {
		case IMAP_PARSER_WANT_CONTINUATION:
			imap_parser_command(p, &cmd, &n);
			buf_printf(out, "C%llu %s|", (unsigned long long)n, cmd.tag);
			if (o->refuse) {
				imap_parser_refuse(p);
				arena_reset(a);
			} else {
				imap_parser_continue(p);
			}
			continue;
		case IMAP_PARSER_LITERAL_STREAM:
			used = imap_parser_literal_take(p, avail);
			buf_append(out, in + pos, used);
			pos += used;
			if (imap_parser_literal_left(p) == 0)
				buf_puts(out, "|");
			continue;
		case IMAP_PARSER_READING:
			break;
		}
		r = imap_parser_feed(p, in + pos, avail, &used, &cmd, &err);
		pos += used;
		if (r == 1) {
			buf_printf(out, "1 %s %s", cmd.tag, cmd.name);
			if (cmd.args != NULL)
				buf_puts(out, " ");
			dump_args(out, cmd.args);
			buf_puts(out, "|");
			arena_reset(a);
		} else if (r == -1) {
			buf_printf(out, "-1 %s ", err.tag ? err.tag : "*");
			if (err.code != NULL)
				buf_printf(out, "[%s] ", err.code);
			buf_printf(out, "%s%s|", err.text, err.skipping ? " skip" : "");
			arena_reset(a);
		} else if (used == 0 && imap_parser_state(p) == IMAP_PARSER_READING) {
			buf_puts(out, "STUCK|");
			break;
		}
	}
	if (imap_parser_state(p) != IMAP_PARSER_READING)
		buf_printf(out, "END%d", (int)imap_parser_state(p));
	imap_parser_free(&p);
	arena_free(&a);
}

static void
check_opts(const char *name, const struct run_opts *o, const char *in, size_t len, const char *expect)
{
	struct buf whole = BUF_INIT, bytes = BUF_INIT, three = BUF_INIT;

	test_begin(name);
	run(o, in, len, len == 0 ? 1 : len, &whole);
	run(o, in, len, 1, &bytes);
	run(o, in, len, 3, &three);
	test_assert_streq(whole.data ? whole.data : "", expect);
	test_assert_streq(bytes.data ? bytes.data : "", expect);
	test_assert_streq(three.data ? three.data : "", expect);
	test_end();
	buf_free(&whole);
	buf_free(&bytes);
	buf_free(&three);
}

static const struct run_opts defaults = { { 0, 1000, 0, false }, false };

static void
check(const char *name, const char *in, const char *expect)
{
	check_opts(name, &defaults, in, strlen(in), expect);
}

static void
test_basic(void)
{
	check("imap_parse: simple command", "a1 NOOP\r\n", "1 a1 NOOP|");
	check("imap_parse: bare LF and empty lines", "\r\n\na2 CAPABILITY\n", "1 a2 CAPABILITY|");
	check("imap_parse: pipelined commands", "a NOOP\r\nb CHECK\r\nc LOGOUT\r\n",
	      "1 a NOOP|1 b CHECK|1 c LOGOUT|");
	check("imap_parse: incomplete command waits", "a NOOP", "");
	check("imap_parse: atoms, flags, NIL",
	      "a STORE 1:*,$ +FLAGS.SILENT (\\Seen \\Deleted $Forwarded) NIL nil\r\n",
	      "1 a STORE 1:*,$ +FLAGS.SILENT (\\Seen \\Deleted $Forwarded) NIL<NIL> NIL<nil>|");
	check("imap_parse: list wildcards and brackets in atoms", "a LIST \"\" foo[bar]/%*\r\n",
	      "1 a LIST '' foo[bar]/%*|");
	check("imap_parse: quoted strings with escapes", "a LOGIN \"us\\\"er\" \"p\\\\w d\"\r\n",
	      "1 a LOGIN 'us\"er' 'p\\w d'|");
	check("imap_parse: UTF-8 in quoted string", "a SELECT \"D\xc3\xa9j\xc3\xa0\"\r\n",
	      "1 a SELECT 'D\xc3\xa9j\xc3\xa0'|");
	check("imap_parse: nested and empty lists", "a X (a (b (c)) () \"d\")\r\n",
	      "1 a X (a (b (c)) () 'd')|");
	check("imap_parse: UID command", "a UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
	      "1 a UID FETCH 1:* (UID FLAGS) (CHANGEDSINCE 12345 VANISHED)|");
	check("imap_parse: tag with ]", "a] NOOP\r\n", "1 a] NOOP|");
	check("imap_parse: atom starting with ~", "a X ~foo\r\n", "1 a X ~foo|");
	check("imap_parse: empty quoted strings", "a LOGIN \"\" \"\"\r\n", "1 a LOGIN '' ''|");
	check("imap_parse: ESEARCH and MODSEQ search", "a UID SEARCH RETURN (MIN MAX SAVE) MODSEQ 620162338 OR (SEEN) NOT $\r\n",
	      "1 a UID SEARCH RETURN (MIN MAX SAVE) MODSEQ 620162338 OR (SEEN) NOT $|");
}

/* The parser stops right after the LF of a command: what follows (an IDLE
 * "DONE", an AUTHENTICATE response) stays with the caller. */
static void
test_consumed(void)
{
	struct imap_parse_limits lim = { 0, 0, 0, false };
	struct arena *a = arena_new(1024, false);
	struct imap_parser *p = imap_parser_new(a, &lim);
	const char *in = "\r\nx1 IDLE\r\nDONE\r\n";
	struct imap_command cmd;
	struct imap_parse_error err;
	size_t used;

	test_begin("imap_parse: stops after the command's LF");
	test_assert_inteq(imap_parser_feed(p, in, strlen(in), &used, &cmd, &err), 1);
	test_assert_inteq(used, 11);
	test_assert_streq(cmd.name, "IDLE");
	test_assert(cmd.args == NULL && cmd.count == 0);
	test_assert_inteq(imap_parser_feed(p, "y X {1}\r\n", 9, &used, &cmd, &err), -1);
	test_assert_streq(err.code, "TOOBIG");  /* literal_max 0: no literal at all */
	test_assert(!err.skipping);
	test_assert_inteq(imap_parser_feed(p, "y X {0}\r\n", 9, &used, &cmd, &err), 0);
	test_assert(imap_parser_state(p) == IMAP_PARSER_WANT_CONTINUATION);
	imap_parser_continue(p);
	test_assert_inteq(imap_parser_feed(p, "\r\n", 2, &used, &cmd, &err), 1);
	test_assert(cmd.count == 1 && cmd.args->type == IMAP_ARG_LITERAL && cmd.args->len == 0);
	test_end();
	imap_parser_free(&p);
	arena_free(&a);
}

static void
test_fetch(void)
{
	check("imap_parse: FETCH sections and partials",
	      "a FETCH 1:4,7 (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> BODY[] "
	      "BINARY[1.2] BINARY.SIZE[1] body[1.TEXT]<10.5> RFC822.SIZE)\r\n",
	      "1 a FETCH 1:4,7 (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> BODY[] "
	      "BINARY[1.2] BINARY.SIZE[1] body[1.TEXT]<10.5> RFC822.SIZE)|");
	check("imap_parse: FETCH macro with a lone section", "a FETCH 1 BODY[HEADER.FIELDS.NOT (X-A)]\r\n",
	      "1 a FETCH 1 BODY[HEADER.FIELDS.NOT (X-A)]|");
	check("imap_parse: partial with zero length refused", "a FETCH 1 BODY[]<0.0>\r\nb NOOP\r\n",
	      "-1 a Invalid partial skip|1 b NOOP|");
	check("imap_parse: partial without length refused", "a FETCH 1 BODY[]<5>\r\nb NOOP\r\n",
	      "-1 a Invalid partial skip|1 b NOOP|");
	check("imap_parse: partial too large", "a FETCH 1 BODY[]<4294967296.1>\r\nb NOOP\r\n",
	      "-1 a Partial number too large skip|1 b NOOP|");
	check("imap_parse: unclosed section", "a FETCH 1 BODY[TEXT\r\nb NOOP\r\n",
	      "-1 a Missing ')' or ']' skip|1 b NOOP|");
}

static void
test_literals(void)
{
	struct run_opts o = defaults;
	static const char plus8[] = "a LOGIN {4+}\r\nuser ~{3+}\r\np\0d\r\n";

	check("imap_parse: synchronising literals", "a LOGIN {4}\r\nuser {3}\r\npwd\r\n",
	      "C4 a|C3 a|1 a LOGIN {4}user {3}pwd|");
	check("imap_parse: literal with CRLF inside and in a list",
	      "a APPEND x (\\Seen) {8}\r\nab\r\ncd\r\n\r\n", "C8 a|1 a APPEND x (\\Seen) {8}ab\r\ncd\r\n|");
	check("imap_parse: empty literal", "a LOGIN {0}\r\n {0+}\r\n\r\n", "C0 a|1 a LOGIN {0} {0+}|");
	check("imap_parse: literal inside a list", "a APPEND x CATENATE (TEXT {3+}\r\nabc URL \"/x\")\r\n",
	      "1 a APPEND x CATENATE (TEXT {3+}abc URL '/x')|");
	check_opts("imap_parse: LITERAL+ and literal8 with NUL", &defaults, plus8, sizeof(plus8) - 1,
	           "1 a LOGIN {4+}user ~{3+}p\\0d|");
	o.refuse = true;
	check_opts("imap_parse: refused literal is never read", &o, "a APPEND INBOX {10}\r\nb NOOP\r\n",
	           strlen("a APPEND INBOX {10}\r\nb NOOP\r\n"), "C10 a|1 b NOOP|");
	check("imap_parse: synchronising literal over the limit",
	      "a APPEND x {1001}\r\nb NOOP\r\n", "-1 a [TOOBIG] Literal too big|1 b NOOP|");
	check("imap_parse: huge literal size", "a APPEND x {99999999999999999999}\r\nb NOOP\r\n",
	      "-1 a [TOOBIG] Literal size too large skip|1 b NOOP|");
	check("imap_parse: literals too big in total", "a X {600+}\r\n"
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	      " {500+}\r\n"
	      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	      "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	      "\r\nb NOOP\r\n",
	      "-1 a [TOOBIG] Literals too big in total skip|1 b NOOP|");
}

static void
test_literal_bounds(void)
{
	struct run_opts o = { { 0, 100, 0, false }, false };
	struct buf in = BUF_INIT;
	size_t i;

	/* a refused non-synchronising literal is skipped, CRLF inside it too */
	buf_puts(&in, "a APPEND x {200+}\r\n");
	for (i = 0; i < 100; i++)
		buf_puts(&in, "z\n");
	buf_puts(&in, " more args\r\nb NOOP\r\n");
	check_opts("imap_parse: non-synchronising literal over the limit is skipped", &o, in.data, in.len,
	           "-1 a [TOOBIG] Literal too big skip|1 b NOOP|");

	/* LITERAL- (RFC 7888 section 5): {n+} only up to 4096 */
	o.lim.literal_max = 10000;
	o.lim.literal_minus = true;
	buf_reset(&in);
	buf_puts(&in, "a APPEND x {4097+}\r\n");
	for (i = 0; i < 4097; i++)
		buf_puts(&in, "q");
	buf_puts(&in, "\r\nb APPEND x {4096+}\r\n");
	for (i = 0; i < 4096; i++)
		buf_puts(&in, "\n");
	buf_puts(&in, "\r\n");
	{
		struct buf exp = BUF_INIT;

		buf_puts(&exp, "-1 a [TOOBIG] Non-synchronizing literal too big (LITERAL-) skip|1 b APPEND x {4096+}");
		for (i = 0; i < 4096; i++)
			buf_puts(&exp, "\n");
		buf_puts(&exp, "|");
		check_opts("imap_parse: LITERAL- bound", &o, in.data, in.len, exp.data);
		buf_free(&exp);
	}
	buf_free(&in);
}

static void
test_stream(void)
{
	struct run_opts o = { { 0, 1000, 10, false }, false };
	static const char in[] = "a APPEND INBOX (\\Seen) {20+}\r\n0123456789\r\n01234567 ~{5}\r\nab\0cd\r\n";
	const char *in2 = "a APPEND INBOX {12}\r\nhello\r\nworld\r\n";

	check_opts("imap_parse: streamed and buffered literals", &o, in, sizeof(in) - 1,
	           "0123456789\r\n01234567|C5 a|1 a APPEND INBOX (\\Seen) {20+}<stream> ~{5}ab\\0cd|");
	check_opts("imap_parse: synchronising streamed literal", &o, in2, strlen(in2),
	           "C12 a|hello\r\nworld|1 a APPEND INBOX {12}<stream>|");
}

static void
test_partial_command(void)
{
	struct imap_parse_limits lim = { 0, 1000, 0, false };
	struct arena *a = arena_new(1024, false);
	struct imap_parser *p = imap_parser_new(a, &lim);
	const char *in = "t7 APPEND Sent (\\Seen) {5}\r\nhello\r\n";
	struct imap_command cmd;
	struct imap_parse_error err;
	size_t used, head = (size_t)(strchr(in, '\n') - in) + 1;
	uint64_t n;

	test_begin("imap_parse: command so far at a continuation");
	test_assert_inteq(imap_parser_feed(p, in, strlen(in), &used, &cmd, &err), 0);
	test_assert_inteq(used, head);
	test_assert(imap_parser_state(p) == IMAP_PARSER_WANT_CONTINUATION);
	imap_parser_command(p, &cmd, &n);
	test_assert_streq(cmd.tag, "t7");
	test_assert_streq(cmd.name, "APPEND");
	test_assert_inteq(cmd.count, 2);
	test_assert_inteq(n, 5);
	test_assert(cmd.args != NULL && imap_arg_atom_is(cmd.args, "sent"));
	/* feeding while waiting takes nothing */
	test_assert_inteq(imap_parser_feed(p, in + head, 3, &used, &cmd, &err), 0);
	test_assert_inteq(used, 0);
	imap_parser_continue(p);
	test_assert_inteq(imap_parser_feed(p, in + head, strlen(in) - head, &used, &cmd, &err), 1);
	test_assert_inteq(used, strlen(in) - head);
	test_assert_inteq(cmd.count, 3);
	test_end();
	imap_parser_free(&p);
	imap_parser_free(&p);
	arena_free(&a);
}

static void
test_malformed(void)
{
	check("imap_parse: unbalanced list ends at LF", "a FETCH (1\r\nb NOOP\r\n",
	      "-1 a Missing ')' or ']' skip|1 b NOOP|");
	check("imap_parse: unbalanced list at bare LF", "a FETCH (1\nb NOOP\r\n", "-1 a Missing ')' or ']'|1 b NOOP|");
	check("imap_parse: stray close", "a X )\r\nb NOOP\r\n", "-1 a Expected an argument skip|1 b NOOP|");
	check("imap_parse: stray close after arg", "a X y)\r\nb NOOP\r\n", "-1 a Unexpected ')' or ']' skip|1 b NOOP|");
	check("imap_parse: bad escape", "a LOGIN \"abc\\d\" x\r\nb NOOP\r\n",
	      "-1 a Invalid escape in quoted string skip|1 b NOOP|");
	check("imap_parse: unterminated quoted", "a LOGIN \"abc\nb NOOP\r\n",
	      "-1 a Unterminated quoted string|1 b NOOP|");
	check("imap_parse: untagged and continuation are not tags", "* NOOP\r\n+ x\r\nb NOOP\r\n",
	      "-1 * Invalid tag skip|-1 * Invalid tag skip|1 b NOOP|");
	check("imap_parse: tag alone", "a\r\nb NOOP\r\n", "-1 a Missing command name skip|1 b NOOP|");
	check("imap_parse: tag alone, bare LF", "a\nb NOOP\r\n", "-1 a Missing command name|1 b NOOP|");
	check("imap_parse: tag without name", "a \r\nb NOOP\r\n", "-1 a Missing command name skip|1 b NOOP|");
	/* Dovecot's parser takes extra spaces between arguments, before a
	 * closer and at the end of the line; clients rely on it. */
	check("imap_parse: two spaces", "a NOOP  x\r\nb NOOP\r\n", "1 a NOOP x|1 b NOOP|");
	check("imap_parse: trailing space", "a NOOP \r\nb NOOP\r\n", "1 a NOOP|1 b NOOP|");
	check("imap_parse: trailing spaces, bare LF", "a X y  \nb NOOP\r\n", "1 a X y|1 b NOOP|");
	check("imap_parse: spaces in lists", "a X ( y  (z ) ) BODY[1 ]\r\n", "1 a X (y (z)) BODY[1]|");
	check("imap_parse: spaces in an open list", "a X (y \r\nb NOOP\r\n", "-1 a Missing ')' or ']' skip|1 b NOOP|");
	check("imap_parse: two spaces after the tag", "a  NOOP\r\nb NOOP\r\n",
	      "-1 a Missing command name skip|1 b NOOP|");
	check("imap_parse: bad literal size", "a X {abc}\r\nb NOOP\r\n", "-1 a Invalid literal size skip|1 b NOOP|");
	check("imap_parse: literal without CRLF", "a X {3}abc\r\nb NOOP\r\n",
	      "-1 a Expected CRLF after literal size skip|1 b NOOP|");
	check("imap_parse: CR without LF", "a NOOP\rb NOOP\r\n", "-1 a CR without LF skip|");
	check_opts("imap_parse: NUL", &defaults, "a NO\0OP\r\nb NOOP\r\n", 17, "-1 a NUL in command skip|1 b NOOP|");
	check("imap_parse: quote in atom", "a X ab\"c\r\nb NOOP\r\n", "-1 a Invalid character in atom skip|1 b NOOP|");
	check("imap_parse: 8-bit atom", "a X \xc3\xa9\r\nb NOOP\r\n", "-1 a Expected an argument skip|1 b NOOP|");
	check("imap_parse: no space before list", "a X y(z)\r\nb NOOP\r\n",
	      "-1 a Invalid character in atom skip|1 b NOOP|");
	check("imap_parse: skipped line with a non-synchronising literal",
	      "a FOO ) {5+}\r\nab\r\nc\r\nb NOOP\r\n", "-1 a Expected an argument skip|1 b NOOP|");
	check("imap_parse: skipped line with a synchronising literal",
	      "a FOO ) {5}\r\nb NOOP\r\n", "-1 a Expected an argument skip|1 b NOOP|");
}

static void
check_bound(const char *name, const char *prefix, const char *unit, size_t times, const char *suffix,
            const char *expect)
{
	struct buf in = BUF_INIT;
	size_t i;

	buf_puts(&in, prefix);
	for (i = 0; i < times; i++)
		buf_puts(&in, unit);
	buf_puts(&in, suffix);
	check_opts(name, &defaults, in.data, in.len, expect);
	buf_free(&in);
}

static void
test_bounds(void)
{
	struct buf exp = BUF_INIT;
	size_t i;

	buf_puts(&exp, "1 a X ");
	for (i = 0; i < IMAP_PARSE_DEPTH_MAX; i++)
		buf_puts(&exp, "(");
	for (i = 0; i < IMAP_PARSE_DEPTH_MAX; i++)
		buf_puts(&exp, ")");
	buf_puts(&exp, "|");
	{
		struct buf in = BUF_INIT;

		buf_puts(&in, "a X ");
		for (i = 0; i < IMAP_PARSE_DEPTH_MAX; i++)
			buf_puts(&in, "(");
		for (i = 0; i < IMAP_PARSE_DEPTH_MAX; i++)
			buf_puts(&in, ")");
		buf_puts(&in, "\r\n");
		check_opts("imap_parse: nesting at the bound", &defaults, in.data, in.len, exp.data);
		buf_free(&in);
	}
	buf_free(&exp);
	check_bound("imap_parse: nesting past the bound", "a X ", "(", IMAP_PARSE_DEPTH_MAX + 1, "))\r\nb NOOP\r\n",
	            "-1 a Too deeply nested skip|1 b NOOP|");
	check_bound("imap_parse: too many arguments", "a X", " y", IMAP_PARSE_ARGS_MAX + 1, "\r\nb NOOP\r\n",
	            "-1 a Too many arguments skip|1 b NOOP|");
	check_bound("imap_parse: too many arguments at a literal", "a X", " y", IMAP_PARSE_ARGS_MAX,
	            " {3+}\r\nabc\r\nb NOOP\r\n", "-1 a Too many arguments skip|1 b NOOP|");
	check_bound("imap_parse: too many arguments at an empty literal", "a X", " y", IMAP_PARSE_ARGS_MAX,
	            " {0+}\r\n more\r\nb NOOP\r\n", "-1 a Too many arguments skip|1 b NOOP|");
	check_bound("imap_parse: line too long", "a X ", "y", IMAP_PARSE_LINE_MAX, "\r\nb NOOP\r\n",
	            "-1 a Command line too long skip|1 b NOOP|");
	{
		struct buf exp2 = BUF_INIT;

		buf_puts(&exp2, "1 a X ");
		for (i = 0; i < IMAP_PARSE_LINE_MAX - 6; i++)
			buf_puts(&exp2, "y");
		buf_puts(&exp2, "|");
		check_bound("imap_parse: line at the bound (CRLF included)", "a X ", "y", IMAP_PARSE_LINE_MAX - 6,
		            "\r\n", exp2.data);
		buf_free(&exp2);
	}
}

static void
test_seqset(void)
{
	struct arena *a = arena_new(1024, false);
	struct imap_seqset set;
	const char *error = NULL;
	struct buf in = BUF_INIT;
	size_t i;

	test_begin("imap_parse: sequence sets");
	test_assert_inteq(imap_seqset_parse("1:4,7,*,9:*,10:3", 16, a, &set, &error), 0);
	test_assert_inteq(set.count, 5);
	test_assert(set.ranges[0].lo == 1 && set.ranges[0].hi == 4);
	test_assert(set.ranges[1].lo == 7 && set.ranges[1].hi == 7);
	test_assert(set.ranges[2].lo == IMAP_SEQ_STAR && set.ranges[2].hi == IMAP_SEQ_STAR);
	test_assert(set.ranges[3].lo == IMAP_SEQ_STAR && set.ranges[3].hi == 9);
	test_assert(set.ranges[4].lo == 3 && set.ranges[4].hi == 10);
	test_assert_inteq(imap_seqset_parse("$", 1, a, &set, &error), 0);
	test_assert(set.saved && set.count == 0);
	test_assert_inteq(imap_seqset_parse("4294967294", 10, a, &set, &error), 0);
	test_assert(set.ranges[0].lo == 4294967294u);
	/* RFC 9051 9: nz-number goes up to 4294967295 (a valid UID). */
	test_assert_inteq(imap_seqset_parse("4294967295", 10, a, &set, &error), 0);
	test_assert(set.ranges[0].lo == 4294967295u && set.ranges[0].hi == 4294967295u);
	test_assert_inteq(imap_seqset_parse("4294967296", 10, a, &set, &error), -1);
	test_assert_inteq(imap_seqset_parse("0", 1, a, &set, &error), -1);
	test_assert_inteq(imap_seqset_parse("01", 2, a, &set, &error), -1);
	test_assert_inteq(imap_seqset_parse("", 0, a, &set, &error), -1);
	test_assert_inteq(imap_seqset_parse("1:", 2, a, &set, &error), -1);
	test_assert_inteq(imap_seqset_parse("1,", 2, a, &set, &error), -1);
	test_assert_inteq(imap_seqset_parse(",1", 2, a, &set, &error), -1);
	test_assert_inteq(imap_seqset_parse("1:2:3", 5, a, &set, &error), -1);
	test_assert_inteq(imap_seqset_parse("$,1", 3, a, &set, &error), -1);
	test_assert_inteq(imap_seqset_parse("**", 2, a, &set, &error), -1);
	test_assert_streq(error, "Invalid sequence set");
	buf_puts(&in, "1");
	for (i = 1; i < IMAP_SEQSET_RANGES_MAX; i++)
		buf_puts(&in, ",1");
	test_assert_inteq(imap_seqset_parse(in.data, in.len, a, &set, &error), 0);
	test_assert_inteq(set.count, IMAP_SEQSET_RANGES_MAX);
	buf_puts(&in, ",1");
	test_assert_inteq(imap_seqset_parse(in.data, in.len, a, &set, &error), -1);
	test_assert_streq(error, "Sequence set has too many ranges");
	test_end();
	buf_free(&in);
	arena_free(&a);
}

static void
test_helpers(void)
{
	struct imap_arg atom = { .type = IMAP_ARG_ATOM, .str = "12345", .len = 5 };
	struct imap_arg big = { .type = IMAP_ARG_ATOM, .str = "9223372036854775808", .len = 19 };
	struct imap_arg max = { .type = IMAP_ARG_ATOM, .str = "9223372036854775807", .len = 19 };
	struct imap_arg nil = { .type = IMAP_ARG_NIL, .str = "nil", .len = 3 };
	struct imap_arg q = { .type = IMAP_ARG_QUOTED, .str = "x y", .len = 3 };
	struct imap_arg list = { .type = IMAP_ARG_LIST };
	const char *s;
	size_t len;
	uint64_t n;

	test_begin("imap_parse: argument helpers");
	test_assert(imap_arg_number(&atom, &n) && n == 12345);
	test_assert(!imap_arg_number(&big, &n));
	test_assert(imap_arg_number(&max, &n) && n == 9223372036854775807ull);
	test_assert(!imap_arg_number(&q, &n));
	test_assert(imap_arg_astring(&nil, &s, &len) && len == 3);
	test_assert(imap_arg_nstring(&nil, &s, &len) && s == NULL);
	test_assert(!imap_arg_nstring(&atom, &s, &len));
	test_assert(imap_arg_nstring(&q, &s, &len) && len == 3);
	test_assert(!imap_arg_astring(&list, &s, &len));
	test_assert(imap_arg_atom_is(&nil, "NIL"));
	test_assert(!imap_arg_atom_is(&q, "x y"));
	test_assert(!imap_arg_number(NULL, &n));
	test_end();
}

int
main(void)
{
	test_basic();
	test_consumed();
	test_fetch();
	test_literals();
	test_literal_bounds();
	test_stream();
	test_partial_command();
	test_malformed();
	test_bounds();
	test_seqset();
	test_helpers();
	return test_done();
}
