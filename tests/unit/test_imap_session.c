/* The session's small pieces: date-time and flag arguments (RFC 9051 9),
 * the view's sequence-number map and UID set output. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_session.h"
#include "lib/arena.h"
#include "store/store.h"
#include "test.h"

/* Parses one command and returns its first argument. */
static const struct imap_arg *
parse_args(struct arena *a, const char *line)
{
	static struct imap_parser *p;
	struct imap_parse_limits lim = { .literal_max = 1024 };
	struct imap_command cmd;
	struct imap_parse_error err;
	size_t used;

	imap_parser_free(&p);
	p = imap_parser_new(a, &lim);
	if (imap_parser_feed(p, line, strlen(line), &used, &cmd, &err) != 1)
		return NULL;
	return cmd.args;
}

static void
test_datetime(void)
{
	int64_t t;

	test_begin("date-time: RFC 9051 form with zones");
	test_assert(imap_datetime_parse("17-Jul-1996 02:44:25 -0700", 26, &t) == 0);
	test_assert_inteq(t, 837596665);     /* 1996-07-17 09:44:25 UTC */
	test_assert(imap_datetime_parse(" 1-Jan-2000 00:00:00 +0000", 26, &t) == 0);
	test_assert_inteq(t, 946684800);
	test_assert(imap_datetime_parse("01-Jan-2000 01:30:00 +0130", 26, &t) == 0);
	test_assert_inteq(t, 946684800);
	test_end();

	test_begin("date-time: invalid forms are refused");
	test_assert(imap_datetime_parse("17-Jux-1996 02:44:25 -0700", 26, &t) == -1);
	test_assert(imap_datetime_parse("17-Jul-1996 25:44:25 -0700", 26, &t) == -1);
	test_assert(imap_datetime_parse("17-Jul-1996 02:44:25", 20, &t) == -1);
	test_assert(imap_datetime_parse("17-Jul-1996 02:44:25 0700 ", 26, &t) == -1);
	test_assert(imap_datetime_parse("", 0, &t) == -1);
	test_end();
}

static void
test_flags(void)
{
	struct arena *a = arena_new(4096, false);
	const struct imap_arg *args;
	const char *kw, *err;
	uint32_t f;

	test_begin("flags: a list with system flags and keywords, duplicates once");
	args = parse_args(a, "a STORE 1 +FLAGS (\\Seen \\deleted $Forwarded Work work)\r\n");
	test_assert(args != NULL);
	args = args->next->next;
	test_assert(imap_flags_parse(args, true, a, &f, &kw, &err) == 0);
	test_assert_inteq(f, STORE_FLAG_SEEN | STORE_FLAG_DELETED);
	test_assert_streq(kw, "$Forwarded Work");
	test_end();

	test_begin("flags: STORE's bare flags; \\Recent and \\* refused");
	args = parse_args(a, "a STORE 1 FLAGS \\Answered \\Draft\r\n")->next->next;
	test_assert(imap_flags_parse(args, false, a, &f, &kw, &err) == 0);
	test_assert_inteq(f, STORE_FLAG_ANSWERED | STORE_FLAG_DRAFT);
	test_assert_streq(kw, "");
	args = parse_args(a, "a STORE 1 FLAGS (\\Recent)\r\n")->next->next;
	test_assert(imap_flags_parse(args, false, a, &f, &kw, &err) == -1);
	args = parse_args(a, "a STORE 1 FLAGS (\\*)\r\n")->next->next;
	test_assert(imap_flags_parse(args, false, a, &f, &kw, &err) == -1);
	args = parse_args(a, "a APPEND INBOX \\Seen\r\n")->next;
	test_assert(imap_flags_parse(args, true, a, &f, &kw, &err) == -1);
	test_end();

	/* RFC 3501 9: flag-keyword = atom, and NIL is an atom; Dovecot
	 * stores a keyword "NIL" (imaptest's "nil" script). */
	test_begin("flags: NIL is a keyword, bare or in a list");
	args = parse_args(a, "a STORE 1 +FLAGS NIL\r\n")->next->next;
	test_assert(imap_flags_parse(args, false, a, &f, &kw, &err) == 0);
	test_assert_inteq(f, 0);
	test_assert_streq(kw, "NIL");
	args = parse_args(a, "a STORE 1 +FLAGS (\\Seen nil)\r\n")->next->next;
	test_assert(imap_flags_parse(args, false, a, &f, &kw, &err) == 0);
	test_assert_inteq(f, STORE_FLAG_SEEN);
	test_assert_streq(kw, "nil");
	args = parse_args(a, "a STORE 1 +FLAGS (\"quoted\")\r\n")->next->next;
	test_assert(imap_flags_parse(args, false, a, &f, &kw, &err) == -1);
	test_end();
	arena_free(&a);
}

static void
test_view(void)
{
	struct imap_view v = { 0 };
	struct buf b = BUF_INIT;
	uint32_t set[] = { 1, 2, 3, 5, 7, 8, 10 };

	test_begin("view: sequence numbers follow adds and removals");
	for (uint32_t u = 10; u <= 50; u += 10)
		imap_view_add(&v, u);
	test_assert_inteq(imap_view_seq(&v, 30), 3);
	test_assert_inteq(imap_view_seq(&v, 31), 0);
	test_assert_inteq(imap_view_remove(&v, 20), 2);
	test_assert_inteq(imap_view_seq(&v, 30), 2);
	test_assert_inteq(imap_view_seq(&v, 50), 4);
	test_assert_inteq(imap_view_remove(&v, 20), 0);
	test_assert_inteq(v.count, 4);
	test_end();

	test_begin("uid set: ranges collapse");
	imap_uidset_write(&b, set, sizeof(set) / sizeof(set[0]));
	test_assert_streq(b.data, "1:3,5,7:8,10");
	test_end();
	buf_free(&b);
	free(v.uids);
}

int
main(void)
{
	test_datetime();
	test_flags();
	test_view();
	return test_done();
}
