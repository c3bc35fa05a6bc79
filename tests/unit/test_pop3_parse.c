/* The POP3 command parser: keywords, argument checks, SASL arguments,
 * UIDL format and log sanitising.  Command streams are also cut into
 * lines one byte at a time (CRLF or LF, as conn_read_line does) to show
 * that the parser depends on nothing but the line. */
#include <stdlib.h>
#include <string.h>

#include "pop3/pop3_parse.h"
#include "test.h"

static int
parse(const char *line, struct pop3_command *cmd, const char **error)
{
	return pop3_parse_command(line, strlen(line), cmd, error);
}

static void
test_verbs(void)
{
	struct pop3_command cmd;
	const char *error;
	static const struct { const char *line; enum pop3_verb verb; const char *args; } ok[] = {
		{ "USER bob@example.org", POP3_VERB_USER, "bob@example.org" },
		{ "user bob", POP3_VERB_USER, "bob" },
		{ "PASS secret with spaces ", POP3_VERB_PASS, "secret with spaces " },
		{ "PASS  lead", POP3_VERB_PASS, " lead" },
		{ "AUTH PLAIN", POP3_VERB_AUTH, "PLAIN" },
		{ "CAPA", POP3_VERB_CAPA, "" },
		{ "stls", POP3_VERB_STLS, "" },
		{ "StAt", POP3_VERB_STAT, "" },
		{ "LIST", POP3_VERB_LIST, "" },
		{ "LIST 1", POP3_VERB_LIST, "1" },
		{ "RETR 12", POP3_VERB_RETR, "12" },
		{ "TOP 1 10", POP3_VERB_TOP, "1 10" },
		{ "top 1 0", POP3_VERB_TOP, "1 0" },
		{ "UIDL", POP3_VERB_UIDL, "" },
		{ "DELE 3", POP3_VERB_DELE, "3" },
		{ "RSET", POP3_VERB_RSET, "" },
		{ "NOOP", POP3_VERB_NOOP, "" },
		{ "QUIT", POP3_VERB_QUIT, "" },
		{ "QUIT ", POP3_VERB_QUIT, "" },
	};

	test_begin("pop3_parse: keywords, case-insensitive, args kept raw");
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		test_assert(parse(ok[i].line, &cmd, &error) == 0);
		test_assert_inteq(cmd.verb, ok[i].verb);
		test_assert_streq(cmd.args, ok[i].args);
		test_assert_inteq(cmd.args_len, strlen(ok[i].args));
	}
	test_assert_streq(pop3_verb_name(POP3_VERB_TOP), "TOP");
	test_assert_streq(pop3_verb_name(POP3_VERB_UNKNOWN), "?");
	test_end();

	test_begin("pop3_parse: unknown and malformed keywords");
	static const char *const bad[] = {
		"", " ", " STAT", "STATS", "ST", "APOP bob 0123", "LAST", "XTND XMIT", "RETR1",
		"\tSTAT", "STAT\t", "USERbob", "HELO", "EHLO x", "GET / HTTP/1.0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		test_assert(parse(bad[i], &cmd, &error) == -1);
		test_assert_streq(error, "Unknown command");
		test_assert_inteq(cmd.verb, POP3_VERB_UNKNOWN);
	}
	test_end();

	test_begin("pop3_parse: NUL bytes are refused");
	test_assert(pop3_parse_command("STAT\0", 5, &cmd, &error) == -1);
	test_assert(strstr(error, "NUL") != NULL);
	test_assert(pop3_parse_command("PASS a\0b", 8, &cmd, &error) == -1);
	test_assert(pop3_parse_command("\0", 1, &cmd, &error) == -1);
	test_end();
}

static int
parse_num(const char *s, uint32_t *n)
{
	struct pop3_token t = { s, strlen(s) };

	return pop3_parse_msgnum(&t, n);
}

static void
test_numbers(void)
{
	uint32_t n;
	uint64_t c;
	struct pop3_token t;

	test_begin("pop3_parse: message numbers are strict");
	test_assert(parse_num("1", &n) == 0 && n == 1);
	test_assert(parse_num("4294967295", &n) == 0 && n == 4294967295u);
	test_assert(parse_num("007", &n) == 0 && n == 7);
	test_assert(parse_num("0", &n) == -1);
	test_assert(parse_num("00", &n) == -1);
	test_assert(parse_num("4294967296", &n) == -1);
	test_assert(parse_num("99999999999", &n) == -1);
	test_assert(parse_num("-1", &n) == -1);
	test_assert(parse_num("+1", &n) == -1);
	test_assert(parse_num("1x", &n) == -1);
	test_assert(parse_num("0x10", &n) == -1);
	test_assert(parse_num("", &n) == -1);
	test_assert(parse_num("1.0", &n) == -1);
	test_assert(parse_num("00000000001", &n) == -1);     /* 11 digits */
	test_end();

	test_begin("pop3_parse: line counts");
	t.p = "0"; t.len = 1;
	test_assert(pop3_parse_count(&t, &c) == 0 && c == 0);
	t.p = "18446744073709551615"; t.len = strlen(t.p);
	test_assert(pop3_parse_count(&t, &c) == 0 && c == UINT64_MAX);
	t.p = "18446744073709551616"; t.len = strlen(t.p);
	test_assert(pop3_parse_count(&t, &c) == -1);
	t.p = "-1"; t.len = 2;
	test_assert(pop3_parse_count(&t, &c) == -1);
	t.p = "1e3"; t.len = 3;
	test_assert(pop3_parse_count(&t, &c) == -1);
	test_end();
}

static void
test_args(void)
{
	struct pop3_command cmd;
	const char *error;
	uint32_t n;
	uint64_t lines;
	bool given;

	test_begin("pop3_parse: no-argument commands");
	test_assert(parse("STAT", &cmd, &error) == 0 && pop3_args_none(&cmd, &error) == 0);
	test_assert(parse("STAT  ", &cmd, &error) == 0 && pop3_args_none(&cmd, &error) == 0);
	test_assert(parse("NOOP x", &cmd, &error) == 0 && pop3_args_none(&cmd, &error) == -1);
	test_assert_streq(error, "Too many arguments");
	test_end();

	test_begin("pop3_parse: LIST/UIDL optional message number");
	test_assert(parse("LIST", &cmd, &error) == 0);
	test_assert(pop3_args_msgnum_opt(&cmd, &given, &n, &error) == 0 && !given);
	test_assert(parse("LIST 5", &cmd, &error) == 0);
	test_assert(pop3_args_msgnum_opt(&cmd, &given, &n, &error) == 0 && given && n == 5);
	test_assert(parse("UIDL  5 ", &cmd, &error) == 0);
	test_assert(pop3_args_msgnum_opt(&cmd, &given, &n, &error) == 0 && given && n == 5);
	test_assert(parse("LIST 0", &cmd, &error) == 0);
	test_assert(pop3_args_msgnum_opt(&cmd, &given, &n, &error) == -1);
	test_assert_streq(error, "Invalid message number");
	test_assert(parse("LIST 1 2", &cmd, &error) == 0);
	test_assert(pop3_args_msgnum_opt(&cmd, &given, &n, &error) == -1);
	test_assert(parse("UIDL abc", &cmd, &error) == 0);
	test_assert(pop3_args_msgnum_opt(&cmd, &given, &n, &error) == -1);
	test_end();

	test_begin("pop3_parse: RETR/DELE one message number");
	test_assert(parse("RETR 1", &cmd, &error) == 0 && pop3_args_msgnum(&cmd, &n, &error) == 0 && n == 1);
	test_assert(parse("RETR", &cmd, &error) == 0 && pop3_args_msgnum(&cmd, &n, &error) == -1);
	test_assert_streq(error, "Missing message number");
	test_assert(parse("DELE -1", &cmd, &error) == 0 && pop3_args_msgnum(&cmd, &n, &error) == -1);
	test_assert_streq(error, "Invalid message number");
	test_assert(parse("DELE 1 1", &cmd, &error) == 0 && pop3_args_msgnum(&cmd, &n, &error) == -1);
	test_end();

	test_begin("pop3_parse: TOP msg n");
	test_assert(parse("TOP 2 10", &cmd, &error) == 0);
	test_assert(pop3_args_top(&cmd, &n, &lines, &error) == 0 && n == 2 && lines == 10);
	test_assert(parse("TOP 2 0", &cmd, &error) == 0);
	test_assert(pop3_args_top(&cmd, &n, &lines, &error) == 0 && lines == 0);
	test_assert(parse("TOP 2", &cmd, &error) == 0 && pop3_args_top(&cmd, &n, &lines, &error) == -1);
	test_assert(parse("TOP", &cmd, &error) == 0 && pop3_args_top(&cmd, &n, &lines, &error) == -1);
	test_assert(parse("TOP 0 1", &cmd, &error) == 0 && pop3_args_top(&cmd, &n, &lines, &error) == -1);
	test_assert_streq(error, "Invalid message number");
	test_assert(parse("TOP 1 -1", &cmd, &error) == 0 && pop3_args_top(&cmd, &n, &lines, &error) == -1);
	test_assert_streq(error, "Invalid line count");
	test_assert(parse("TOP 1 2 3", &cmd, &error) == 0 && pop3_args_top(&cmd, &n, &lines, &error) == -1);
	test_end();
}

static void
test_auth_args(void)
{
	struct pop3_command cmd;
	char mech[POP3_SASL_MECH_MAX + 1];
	const char *error, *ir;
	size_t irlen;

	test_begin("pop3_parse: AUTH arguments (RFC 5034)");
	test_assert(parse("AUTH", &cmd, &error) == 0);
	test_assert(pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == 0);
	test_assert_streq(mech, "");
	test_assert(ir == NULL);
	test_assert(parse("AUTH plain", &cmd, &error) == 0);
	test_assert(pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == 0);
	test_assert_streq(mech, "PLAIN");
	test_assert(ir == NULL && irlen == 0);
	test_assert(parse("AUTH PLAIN AGJvYgBzZWNyZXQ=", &cmd, &error) == 0);
	test_assert(pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == 0);
	test_assert(ir != NULL && irlen == 16 && memcmp(ir, "AGJvYgBzZWNyZXQ=", 16) == 0);
	test_assert(parse("AUTH PLAIN =", &cmd, &error) == 0);
	test_assert(pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == 0);
	test_assert(ir != NULL && irlen == 0);
	test_assert(parse("AUTH X-OAUTH_2", &cmd, &error) == 0);
	test_assert(pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == 0);
	test_assert_streq(mech, "X-OAUTH_2");
	test_assert(parse("AUTH PLAIN a b", &cmd, &error) == 0);
	test_assert(pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == -1);
	test_assert(parse("AUTH PL/AIN", &cmd, &error) == 0);
	test_assert(pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == -1);
	test_assert(parse("AUTH ABCDEFGHIJKLMNOPQRSTU", &cmd, &error) == 0);   /* 21 */
	test_assert(pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == -1);
	test_assert(parse("AUTH ABCDEFGHIJKLMNOPQRST", &cmd, &error) == 0);    /* 20 */
	test_assert(pop3_args_auth(&cmd, mech, &ir, &irlen, &error) == 0);
	test_end();
}

static void
test_split(void)
{
	struct pop3_token t[2];

	test_begin("pop3_parse: split_args counts past max");
	test_assert(pop3_split_args("", 0, t, 2) == 0);
	test_assert(pop3_split_args("   ", 3, t, 2) == 0);
	test_assert(pop3_split_args(" a  bb ", 7, t, 2) == 2);
	test_assert(t[0].len == 1 && t[0].p[0] == 'a' && t[1].len == 2);
	test_assert(pop3_split_args("a b c d", 7, t, 2) == 4);
	test_end();
}

static void
test_uidl(void)
{
	char u[POP3_UIDL_SIZE];

	test_begin("pop3_parse: UIDL is %08x%08x of UIDVALIDITY and UID");
	pop3_uidl_format(1, 2, u);
	test_assert_streq(u, "0000000100000002");
	pop3_uidl_format(0x5f3e2a10, 0xffffffffu, u);
	test_assert_streq(u, "5f3e2a10ffffffff");
	pop3_uidl_format(0xABCDEF01u, 42, u);
	test_assert_streq(u, "abcdef010000002a");
	test_assert_inteq(strlen(u), 16);
	test_end();
}

static void
test_log_safe(void)
{
	char out[16];

	test_begin("pop3_parse: log_safe masks controls and quotes");
	test_assert_streq(pop3_log_safe("bob@x.org", 9, out, sizeof(out)), "bob@x.org");
	test_assert_streq(pop3_log_safe("a\nb\"c\\d\x80", 8, out, sizeof(out)), "a?b?c?d?");
	test_assert_streq(pop3_log_safe("0123456789abcdefghij", 20, out, sizeof(out)), "0123456789abcde");
	test_end();
}

/* Cuts a byte stream into lines the way conn_read_line does (LF ends a
 * line; a CR before it is dropped), feeding one byte at a time. */
static void
test_byte_at_a_time(void)
{
	static const char stream[] = "user Bob\r\nPASS p a s s\r\nSTAT\nLIST 2\r\nTOP 1 5\r\nRETR 0\r\nquit\r\n";
	static const enum pop3_verb verbs[] = {
		POP3_VERB_USER, POP3_VERB_PASS, POP3_VERB_STAT, POP3_VERB_LIST, POP3_VERB_TOP,
		POP3_VERB_RETR, POP3_VERB_QUIT,
	};
	char line[256];
	size_t len = 0, k = 0;

	test_begin("pop3_parse: a pipelined stream fed one byte at a time");
	for (size_t i = 0; i < sizeof(stream) - 1; i++) {
		struct pop3_command cmd;
		const char *error;

		if (stream[i] != '\n') {
			line[len++] = stream[i];
			continue;
		}
		if (len > 0 && line[len - 1] == '\r')
			len--;
		line[len] = '\0';
		test_assert(pop3_parse_command(line, len, &cmd, &error) == 0);
		test_assert(k < sizeof(verbs) / sizeof(verbs[0]) && cmd.verb == verbs[k]);
		if (cmd.verb == POP3_VERB_PASS)
			test_assert(cmd.args_len == 7 && memcmp(cmd.args, "p a s s", 7) == 0);
		k++;
		len = 0;
	}
	test_assert_inteq(k, 7);
	test_end();
}

int
main(void)
{
	test_verbs();
	test_numbers();
	test_args();
	test_auth_args();
	test_split();
	test_uidl();
	test_log_safe();
	test_byte_at_a_time();
	return test_done();
}
