/* The SMTP command-line parser: verbs, paths, parameters, BDAT, AUTH. */
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"
#include "test.h"

static enum smtp_parse_error
command(const char *text, struct smtp_command *cmd, char *store, size_t storesize)
{
	size_t len = strlen(text);

	if (len >= storesize)
		return SMTP_PARSE_SYNTAX;
	memcpy(store, text, len + 1);
	return smtp_parse_command(store, len, cmd);
}

static void
test_verbs(void)
{
	static const struct {
		const char *line;
		enum smtp_verb verb;
		const char *args;
	} cases[] = {
		{ "HELO example.org", SMTP_VERB_HELO, "example.org" },
		{ "EHLO example.org", SMTP_VERB_EHLO, "example.org" },
		{ "ehlo  example.org  ", SMTP_VERB_EHLO, "example.org" },
		{ "MAIL FROM:<a@b.c>", SMTP_VERB_MAIL, "FROM:<a@b.c>" },
		{ "mail from:<a@b.c> SIZE=10", SMTP_VERB_MAIL, "from:<a@b.c> SIZE=10" },
		{ "RCPT TO:<a@b.c>", SMTP_VERB_RCPT, "TO:<a@b.c>" },
		{ "DATA", SMTP_VERB_DATA, "" },
		{ "data \t", SMTP_VERB_DATA, "" },
		{ "BDAT 10 LAST", SMTP_VERB_BDAT, "10 LAST" },
		{ "RSET", SMTP_VERB_RSET, "" },
		{ "NOOP anything", SMTP_VERB_NOOP, "anything" },
		{ "QUIT", SMTP_VERB_QUIT, "" },
		{ "VRFY postmaster", SMTP_VERB_VRFY, "postmaster" },
		{ "EXPN list", SMTP_VERB_EXPN, "list" },
		{ "HELP", SMTP_VERB_HELP, "" },
		{ "StartTLS", SMTP_VERB_STARTTLS, "" },
		{ "AUTH PLAIN AGEAYg==", SMTP_VERB_AUTH, "PLAIN AGEAYg==" },
		{ "GET / HTTP/1.1", SMTP_VERB_HTTP, "/ HTTP/1.1" },
		{ "CONNECT host:25 HTTP/1.0", SMTP_VERB_HTTP, "host:25 HTTP/1.0" },
		{ "POST /", SMTP_VERB_HTTP, "/" },
		{ "MAILX FROM:<a@b>", SMTP_VERB_UNKNOWN, "FROM:<a@b>" },
		{ "MAI", SMTP_VERB_UNKNOWN, "" },
		{ "", SMTP_VERB_UNKNOWN, "" },
		{ " HELO x", SMTP_VERB_UNKNOWN, "HELO x" },
		{ "TURN", SMTP_VERB_UNKNOWN, "" },
	};
	struct smtp_command cmd;
	char line[SMTP_CMD_LINE_MAX];
	size_t i;

	test_begin("parse: every verb");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		test_assert_inteq(command(cases[i].line, &cmd, line, sizeof(line)), SMTP_PARSE_OK);
		test_assert_inteq(cmd.verb, cases[i].verb);
		test_assert_streq(cmd.args, cases[i].args);
		test_assert_inteq(cmd.args_len, strlen(cases[i].args));
	}
	test_end();

	test_begin("parse: NUL and CR in a command line");
	memcpy(line, "NOOP a\0b", 8);
	test_assert_inteq(smtp_parse_command(line, 8, &cmd), SMTP_PARSE_NUL);
	memcpy(line, "NOOP a\rb", 8);
	test_assert_inteq(smtp_parse_command(line, 8, &cmd), SMTP_PARSE_NUL);
	memcpy(line, "\0", 1);
	test_assert_inteq(smtp_parse_command(line, 1, &cmd), SMTP_PARSE_NUL);
	test_end();
}

struct mail_case {
	const char *args;
	enum smtp_parse_error err;
	const char *addr;
};

static void
test_mail(void)
{
	static const struct mail_case cases[] = {
		{ "FROM:<user@example.org>", SMTP_PARSE_OK, "user@example.org" },
		{ "from:<user@example.org>", SMTP_PARSE_OK, "user@example.org" },
		{ "FROM: <user@example.org>", SMTP_PARSE_OK, "user@example.org" },
		{ "FROM:user@example.org", SMTP_PARSE_OK, "user@example.org" },
		{ "FROM:<>", SMTP_PARSE_OK, "" },
		{ "FROM:<> SIZE=100", SMTP_PARSE_OK, "" },
		{ "FROM:<User.Name+tag@Example.ORG>", SMTP_PARSE_OK, "User.Name+tag@Example.ORG" },
		{ "FROM:<!#$%&'*+-/=?^_`{|}~@x.y>", SMTP_PARSE_OK, "!#$%&'*+-/=?^_`{|}~@x.y" },
		/* quoted local parts: unquoted when they are plain */
		{ "FROM:<\"user\"@example.org>", SMTP_PARSE_OK, "user@example.org" },
		{ "FROM:<\"first.last\"@example.org>", SMTP_PARSE_OK, "first.last@example.org" },
		{ "FROM:<\"john doe\"@example.org>", SMTP_PARSE_OK, "\"john doe\"@example.org" },
		{ "FROM:<\"a\\\"b\"@example.org>", SMTP_PARSE_OK, "\"a\\\"b\"@example.org" },
		{ "FROM:<\"a@b\"@example.org>", SMTP_PARSE_OK, "\"a@b\"@example.org" },
		{ "FROM:<\"\"@example.org>", SMTP_PARSE_OK, "\"\"@example.org" },
		{ "FROM:<\"unterminated@example.org>", SMTP_PARSE_BAD_PATH, NULL },
		/* source routes are dropped */
		{ "FROM:<@a.example,@b.example:user@c.example>", SMTP_PARSE_OK, "user@c.example" },
		{ "FROM:<@a.example:user@c.example>", SMTP_PARSE_OK, "user@c.example" },
		{ "FROM:<@a.example,b.example:user@c.example>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<@:user@c.example>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<@a.example user@c.example>", SMTP_PARSE_BAD_PATH, NULL },
		/* address literals */
		{ "FROM:<user@[192.0.2.1]>", SMTP_PARSE_OK, "user@[192.0.2.1]" },
		{ "FROM:<user@[IPv6:2001:db8::1]>", SMTP_PARSE_OK, "user@[IPv6:2001:db8::1]" },
		{ "FROM:<user@[ipv6:::1]>", SMTP_PARSE_OK, "user@[ipv6:::1]" },
		{ "FROM:<user@[IPv6:2001:db8::zz]>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@[192.0.2.256]>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@[x-tag:stuff]>", SMTP_PARSE_OK, "user@[x-tag:stuff]" },
		{ "FROM:<user@[]>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@[1.2.3.4>", SMTP_PARSE_BAD_PATH, NULL },
		/* bad syntax */
		{ "FROM:", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM", SMTP_PARSE_SYNTAX, NULL },
		{ "TO:<a@b.c>", SMTP_PARSE_SYNTAX, NULL },
		{ "FROM:<user>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<@example.org>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@example.org", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@example.org>x", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@example..org>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@example.org.>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@-example.org>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@example-.org>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<us er@example.org>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<user@exa mple.org>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<a(b)@example.org>", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<postmaster>", SMTP_PARSE_OK, "" },  /* the session refuses it for MAIL */
		/* parameters */
		{ "FROM:<a@b.c> SIZE=1000 BODY=8BITMIME", SMTP_PARSE_OK, "a@b.c" },
		{ "FROM:<a@b.c>  BODY=7bit   SIZE=0", SMTP_PARSE_OK, "a@b.c" },
		{ "FROM:<a@b.c> AUTH=<>", SMTP_PARSE_OK, "a@b.c" },
		{ "FROM:<a@b.c> AUTH=user+40example.org", SMTP_PARSE_OK, "a@b.c" },
		{ "FROM:<a@b.c> AUTH=user+4", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> AUTH=user+zz", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> SIZE=", SMTP_PARSE_SYNTAX, NULL },
		{ "FROM:<a@b.c> SIZE", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> SIZE=12x", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> SIZE=-1", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> SIZE=18446744073709551615", SMTP_PARSE_OK, "a@b.c" },
		{ "FROM:<a@b.c> SIZE=18446744073709551616", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> SIZE=123456789012345678901", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> SIZE=1 SIZE=2", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> BODY=BINARYMIME", SMTP_PARSE_UNKNOWN_PARAM, NULL },
		{ "FROM:<a@b.c> BODY=", SMTP_PARSE_SYNTAX, NULL },
		{ "FROM:<a@b.c> RET=HDRS", SMTP_PARSE_OK, "a@b.c" },
		{ "FROM:<a@b.c> RET=full ENVID=QQ+2Bx", SMTP_PARSE_OK, "a@b.c" },
		{ "FROM:<a@b.c> RET=BODY", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> RET=HDRS RET=FULL", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> ENVID=a+zz", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> ENVID=x ENVID=y", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> SMTPUTF8=yes", SMTP_PARSE_BAD_PARAM, NULL },
		{ "FROM:<a@b.c> -X=1", SMTP_PARSE_SYNTAX, NULL },
		{ "FROM:<a@b.c> X=a=b", SMTP_PARSE_SYNTAX, NULL },
		{ "FROM:<a@b.c> A B C D E F G H I J K L M N O P Q", SMTP_PARSE_UNKNOWN_PARAM, NULL },
		/* UTF-8 (RFC 6531) */
		{ "FROM:<j\xc3\xb6rg@example.org> SMTPUTF8", SMTP_PARSE_OK, "j\xc3\xb6rg@example.org" },
		{ "FROM:<user@\xc3\xa9xample.org> SMTPUTF8", SMTP_PARSE_OK, "user@\xc3\xa9xample.org" },
		{ "FROM:<\"j\xc3\xb6 rg\"@example.org> SMTPUTF8", SMTP_PARSE_OK, "\"j\xc3\xb6 rg\"@example.org" },
		{ "FROM:<j\xc3\xb6rg@example.org>", SMTP_PARSE_NON_ASCII, NULL },
		{ "FROM:<j\xc3rg@example.org> SMTPUTF8", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<j\xc0\xafrg@example.org> SMTPUTF8", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<j\xed\xa0\x80@example.org> SMTPUTF8", SMTP_PARSE_BAD_PATH, NULL },
		{ "FROM:<a@b.c> X=\xc3\xa9", SMTP_PARSE_SYNTAX, NULL },
	};
	struct smtp_mail_args m;
	const char *error;
	size_t i;

	test_begin("parse: MAIL FROM paths and parameters");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum smtp_parse_error e;

		error = NULL;
		e = smtp_parse_mail(cases[i].args, &m, &error);
		if (e != cases[i].err)
			printf("# case %zu: %s\n", i, cases[i].args);
		test_assert_inteq(e, cases[i].err);
		if (e == SMTP_PARSE_OK && cases[i].addr != NULL)
			test_assert_streq(m.path.addr, cases[i].addr);
		if (e != SMTP_PARSE_OK)
			test_assert(error != NULL && error[0] != '\0');
	}
	test_end();

	test_begin("parse: MAIL FROM parameter values");
	test_assert_inteq(smtp_parse_mail("FROM:<a@b.c> SIZE=1000 BODY=8BITMIME SMTPUTF8 AUTH=<>", &m, &error),
	                  SMTP_PARSE_OK);
	test_assert(m.size_given && m.size == 1000);
	test_assert_inteq(m.body, SMTP_BODY_8BITMIME);
	test_assert(m.smtputf8 && m.auth_given && m.any_param);
	test_assert(!m.path.null_path && !m.path.utf8 && !m.path.postmaster);
	test_assert_inteq(m.path.local_len, 1);
	test_assert_inteq(smtp_parse_mail("FROM:<>", &m, &error), SMTP_PARSE_OK);
	test_assert(m.path.null_path && !m.any_param && !m.size_given);
	test_assert_inteq(m.body, SMTP_BODY_UNSPEC);
	test_assert_inteq(smtp_parse_mail("FROM:<j\xc3\xb6@x.y> SMTPUTF8", &m, &error), SMTP_PARSE_OK);
	test_assert(m.path.utf8);
	test_end();
}

static void
test_path_bounds(void)
{
	char args[1024], local[128], domain[512];
	struct smtp_mail_args m;
	const char *error;

	test_begin("parse: path length bounds");
	/* 64-byte local part: fine; 65: too long */
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(args, sizeof(args), "FROM:<%s@example.org>", local);
	test_assert_inteq(smtp_parse_mail(args, &m, &error), SMTP_PARSE_OK);
	memset(local, 'l', 65);
	local[65] = '\0';
	snprintf(args, sizeof(args), "FROM:<%s@example.org>", local);
	test_assert_inteq(smtp_parse_mail(args, &m, &error), SMTP_PARSE_PATH_TOO_LONG);
	/* a 255-byte domain: fine; 256: too long */
	memset(domain, 'd', sizeof(domain));
	for (size_t i = 50; i < 250; i += 51)
		domain[i] = '.';
	domain[255] = '\0';
	snprintf(args, sizeof(args), "FROM:<a@%s>", domain);
	test_assert_inteq(smtp_parse_mail(args, &m, &error), SMTP_PARSE_OK);
	test_assert_inteq(strlen(m.path.addr), 257);
	domain[255] = 'd';
	domain[256] = '\0';
	snprintf(args, sizeof(args), "FROM:<a@%s>", domain);
	test_assert_inteq(smtp_parse_mail(args, &m, &error), SMTP_PARSE_PATH_TOO_LONG);
	/* the longest: 64 + 1 + 255 = SMTP_ADDR_MAX */
	memset(local, 'l', 64);
	local[64] = '\0';
	domain[255] = '\0';
	snprintf(args, sizeof(args), "FROM:<%s@%s>", local, domain);
	test_assert_inteq(smtp_parse_mail(args, &m, &error), SMTP_PARSE_OK);
	test_assert_inteq(strlen(m.path.addr), SMTP_ADDR_MAX);
	/* a quoted local part that is too long */
	memset(local, 'q', 100);
	local[100] = '\0';
	snprintf(args, sizeof(args), "FROM:<\"%s x\"@example.org>", local);
	test_assert_inteq(smtp_parse_mail(args, &m, &error), SMTP_PARSE_PATH_TOO_LONG);
	/* a local part longer than the whole address buffer */
	{
		char huge[2048];

		memcpy(huge, "FROM:<", 6);
		memset(huge + 6, 'x', 1500);
		memcpy(huge + 1506, "@a.b>", 6);
		test_assert_inteq(smtp_parse_mail(huge, &m, &error), SMTP_PARSE_PATH_TOO_LONG);
		huge[6] = '"';
		memcpy(huge + 1506, "\"@a.b>", 7);
		test_assert(smtp_parse_mail(huge, &m, &error) != SMTP_PARSE_OK);
	}
	test_end();
}

static void
test_rcpt(void)
{
	struct smtp_rcpt_args r;
	const char *error;

	test_begin("parse: RCPT TO");
	test_assert_inteq(smtp_parse_rcpt("TO:<user@example.org>", false, &r, &error), SMTP_PARSE_OK);
	test_assert_streq(r.path.addr, "user@example.org");
	test_assert_inteq(smtp_parse_rcpt("to: <user@example.org>", false, &r, &error), SMTP_PARSE_OK);
	test_assert_inteq(smtp_parse_rcpt("TO:<postmaster>", false, &r, &error), SMTP_PARSE_OK);
	test_assert(r.path.postmaster);
	test_assert_streq(r.path.addr, "");
	test_assert_inteq(smtp_parse_rcpt("TO:<PostMaster>", false, &r, &error), SMTP_PARSE_OK);
	test_assert(r.path.postmaster);
	test_assert_inteq(smtp_parse_rcpt("TO:<postmaster@example.org>", false, &r, &error), SMTP_PARSE_OK);
	test_assert(!r.path.postmaster);
	test_assert_inteq(smtp_parse_rcpt("TO:postmaster", false, &r, &error), SMTP_PARSE_BAD_PATH);
	/* the quoted form of a plain local part is the same mailbox */
	test_assert_inteq(smtp_parse_rcpt("TO:<\"postmaster\">", false, &r, &error), SMTP_PARSE_OK);
	test_assert(r.path.postmaster);
	test_assert_inteq(smtp_parse_rcpt("TO:<\"post master\">", false, &r, &error), SMTP_PARSE_BAD_PATH);
	test_assert_inteq(smtp_parse_rcpt("TO:<webmaster>", false, &r, &error), SMTP_PARSE_BAD_PATH);
	test_assert_inteq(smtp_parse_rcpt("TO:<>", false, &r, &error), SMTP_PARSE_BAD_PATH);
	/* DSN (RFC 3461 4.1, 4.2) */
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> NOTIFY=NEVER", false, &r, &error), SMTP_PARSE_OK);
	test_assert_inteq(r.notify, SMTP_NOTIFY_NEVER);
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> NOTIFY=success,DELAY ORCPT=rfc822;a+40b.c", false, &r, &error),
	                  SMTP_PARSE_OK);
	test_assert_inteq(r.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_DELAY);
	test_assert_streq(r.orcpt, "rfc822;a+40b.c");
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> NOTIFY=NEVER,SUCCESS", false, &r, &error), SMTP_PARSE_BAD_PARAM);
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> NOTIFY=FAILURE,", false, &r, &error), SMTP_PARSE_BAD_PARAM);
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> NOTIFY=DELAY,DELAY", false, &r, &error), SMTP_PARSE_BAD_PARAM);
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> NOTIFY=SOMETIMES", false, &r, &error), SMTP_PARSE_BAD_PARAM);
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> ORCPT=a@b.c", false, &r, &error), SMTP_PARSE_BAD_PARAM);
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> ORCPT=;a@b.c", false, &r, &error), SMTP_PARSE_BAD_PARAM);
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> FROB=1", false, &r, &error), SMTP_PARSE_UNKNOWN_PARAM);
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c> =x", false, &r, &error), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_rcpt("TO:<a@b.c>   ", false, &r, &error), SMTP_PARSE_OK);
	test_assert_inteq(smtp_parse_rcpt("FROM:<a@b.c>", false, &r, &error), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_rcpt("TO:<\xe7\x94\xa8\xe6\x88\xb7@example.org>", false, &r, &error),
	                  SMTP_PARSE_NON_ASCII);
	test_assert_inteq(smtp_parse_rcpt("TO:<\xe7\x94\xa8\xe6\x88\xb7@example.org>", true, &r, &error),
	                  SMTP_PARSE_OK);
	test_assert(r.path.utf8);
	test_assert_inteq(smtp_parse_rcpt("TO:<@relay.example:user@example.org>", false, &r, &error),
	                  SMTP_PARSE_OK);
	test_assert_streq(r.path.addr, "user@example.org");
	test_end();
}

static void
test_bdat(void)
{
	uint64_t size = 0;
	bool last = true;

	test_begin("parse: BDAT arguments");
	test_assert_inteq(smtp_parse_bdat("100", &size, &last), SMTP_PARSE_OK);
	test_assert(size == 100 && !last);
	test_assert_inteq(smtp_parse_bdat("0 LAST", &size, &last), SMTP_PARSE_OK);
	test_assert(size == 0 && last);
	test_assert_inteq(smtp_parse_bdat("42 last", &size, &last), SMTP_PARSE_OK);
	test_assert(size == 42 && last);
	test_assert_inteq(smtp_parse_bdat("42  LAST", &size, &last), SMTP_PARSE_OK);
	test_assert_inteq(smtp_parse_bdat("18446744073709551615", &size, &last), SMTP_PARSE_OK);
	test_assert(size == UINT64_MAX);
	test_assert_inteq(smtp_parse_bdat("18446744073709551616", &size, &last), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_bdat("", &size, &last), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_bdat("LAST", &size, &last), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_bdat("-1", &size, &last), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_bdat("10x", &size, &last), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_bdat("10 LASTX", &size, &last), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_bdat("10 LAST x", &size, &last), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_bdat("10 FIRST", &size, &last), SMTP_PARSE_SYNTAX);
	test_end();
}

static void
test_helo_auth(void)
{
	const char *mech, *initial;
	size_t mech_len;
	char longname[300];

	test_begin("parse: HELO/EHLO argument");
	test_assert_inteq(smtp_parse_helo("mail.example.org"), SMTP_PARSE_OK);
	test_assert_inteq(smtp_parse_helo("[192.0.2.1]"), SMTP_PARSE_OK);
	test_assert_inteq(smtp_parse_helo("[IPv6:::1]"), SMTP_PARSE_OK);
	test_assert_inteq(smtp_parse_helo("DESKTOP-ABC_1"), SMTP_PARSE_OK);
	test_assert_inteq(smtp_parse_helo(""), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_helo("two words"), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_helo("caf\xc3\xa9"), SMTP_PARSE_SYNTAX);
	memset(longname, 'a', sizeof(longname));
	longname[257] = '\0';
	test_assert_inteq(smtp_parse_helo(longname), SMTP_PARSE_OK);
	longname[257] = 'a';
	longname[258] = '\0';
	test_assert_inteq(smtp_parse_helo(longname), SMTP_PARSE_SYNTAX);
	test_end();

	test_begin("parse: AUTH arguments");
	test_assert_inteq(smtp_parse_auth("PLAIN", &mech, &mech_len, &initial), SMTP_PARSE_OK);
	test_assert(mech_len == 5 && strncmp(mech, "PLAIN", 5) == 0 && initial == NULL);
	test_assert_inteq(smtp_parse_auth("LOGIN dXNlcg==", &mech, &mech_len, &initial), SMTP_PARSE_OK);
	test_assert(mech_len == 5 && initial != NULL);
	test_assert_streq(initial, "dXNlcg==");
	test_assert_inteq(smtp_parse_auth("PLAIN =", &mech, &mech_len, &initial), SMTP_PARSE_OK);
	test_assert_streq(initial, "=");
	test_assert_inteq(smtp_parse_auth("SCRAM-SHA-256", &mech, &mech_len, &initial), SMTP_PARSE_OK);
	test_assert_inteq(mech_len, 13);
	test_assert_inteq(smtp_parse_auth("", &mech, &mech_len, &initial), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_auth("PLAIN a b", &mech, &mech_len, &initial), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_auth("PL@IN", &mech, &mech_len, &initial), SMTP_PARSE_SYNTAX);
	test_assert_inteq(smtp_parse_auth("ABCDEFGHIJKLMNOPQRSTU", &mech, &mech_len, &initial), SMTP_PARSE_SYNTAX);
	test_end();
}

static void
test_utf8(void)
{
	test_begin("parse: UTF-8 validation");
	test_assert(smtp_utf8_valid((const unsigned char *)"plain", 5));
	test_assert(smtp_utf8_valid((const unsigned char *)"\xc3\xa9", 2));
	test_assert(smtp_utf8_valid((const unsigned char *)"\xe2\x82\xac", 3));
	test_assert(smtp_utf8_valid((const unsigned char *)"\xf0\x9f\x98\x80", 4));
	test_assert(!smtp_utf8_valid((const unsigned char *)"\xc3", 1));
	test_assert(!smtp_utf8_valid((const unsigned char *)"\x80", 1));
	test_assert(!smtp_utf8_valid((const unsigned char *)"\xc1\xbf", 2));
	test_assert(!smtp_utf8_valid((const unsigned char *)"\xe0\x80\x80", 3));
	test_assert(!smtp_utf8_valid((const unsigned char *)"\xed\xa0\x80", 3));
	test_assert(!smtp_utf8_valid((const unsigned char *)"\xf4\x90\x80\x80", 4));
	test_assert(!smtp_utf8_valid((const unsigned char *)"\xf5\x80\x80\x80", 4));
	test_assert(!smtp_utf8_valid((const unsigned char *)"\xe2\x82", 2));
	test_end();
}

/* Every prefix of a set of valid lines is parsed without harm, and the
 * parse of the whole line does not depend on what came before. */
static void
test_prefixes(void)
{
	static const char *const lines[] = {
		"FROM:<@a.example,@b.example:\"john doe\"@[IPv6:2001:db8::1]> SIZE=100 BODY=8BITMIME SMTPUTF8 AUTH=<>",
		"FROM:<j\xc3\xb6rg@\xc3\xa9xample.org> SMTPUTF8",
		"TO:<user@[192.0.2.1]>",
	};
	struct smtp_mail_args m;
	struct smtp_rcpt_args r;
	const char *error;
	char buf[256];
	size_t i, n;

	test_begin("parse: every prefix of a line");
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		size_t len = strlen(lines[i]);

		for (n = 0; n <= len; n++) {
			memcpy(buf, lines[i], n);
			buf[n] = '\0';
			if (lines[i][0] == 'F')
				(void)smtp_parse_mail(buf, &m, &error);
			else
				(void)smtp_parse_rcpt(buf, true, &r, &error);
		}
		if (lines[i][0] == 'F')
			test_assert_inteq(smtp_parse_mail(lines[i], &m, &error), SMTP_PARSE_OK);
		else
			test_assert_inteq(smtp_parse_rcpt(lines[i], true, &r, &error), SMTP_PARSE_OK);
	}
	test_assert_inteq(smtp_parse_mail(lines[0], &m, &error), SMTP_PARSE_OK);
	test_assert_streq(m.path.addr, "\"john doe\"@[IPv6:2001:db8::1]");
	test_end();
}

int
main(void)
{
	test_verbs();
	test_mail();
	test_path_bounds();
	test_rcpt();
	test_bdat();
	test_helo_auth();
	test_utf8();
	test_prefixes();
	return test_done();
}
