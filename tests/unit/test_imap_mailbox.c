/* Tests of the mailbox commands (src/imap/imap_list.c, imap_status.c,
 * imap_mailbox.c, imap_quota.c) against a real store in a mkdtemp()
 * directory.  Commands are parsed by the real command parser; the
 * expected responses are written by hand from the RFCs' examples (RFC
 * 5258 section 5, RFC 3501 6.3, RFC 6154, RFC 9208), adjusted where the
 * RFC leaves the server a choice and Tern chooses (INBOX carries no
 * \Marked \NoInferiors, names are atoms when they can be, INBOX and its
 * inferiors come first, then byte order with "/" lowest). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_match.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "store/store_imap.h"
#include "test.h"

typedef void run_fn(struct imap_ctx *, const struct imap_arg *, struct buf *, struct imap_result *);

static char *data_dir;
static struct arena *arena;
static struct imap_ctx ctx;
static struct buf out;
static char user_name[64];

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Opens a new user's store (every scenario its own user). */
static void
new_user(const char *user)
{
	const char *error;

	if (ctx.st != NULL)
		store_close(&ctx.st);
	snprintf(user_name, sizeof(user_name), "%s@example.com", user);
	if (store_open(data_dir, user_name, &ctx.st, &error) == -1) {
		printf("# store_open: %s\n", error);
		exit(1);
	}
	ctx.user = user_name;
	ctx.imap4rev2 = false;
	ctx.utf8 = false;
	ctx.quota_bytes = 0;
	ctx.quota_messages = 0;
	ctx.append_limit = 0;
	ctx.condstore_used = false;
}

/* Runs "<fn> <args>" and returns the untagged output followed by the
 * tagged status and code: "* LIST ...\r\nOK", "NO [NONEXISTENT]", "BAD". */
static const char *
run(run_fn *fn, const char *args)
{
	static char result[16384];
	struct imap_parse_limits lim = { 0, 1024 * 1024, 0, false };
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_error perr;
	struct imap_result res;
	char line[8192];
	size_t used;
	int r;

	arena_reset(arena);
	buf_reset(&out);
	p = imap_parser_new(arena, &lim);
	snprintf(line, sizeof(line), "t X%s%s\r\n", *args != '\0' ? " " : "", args);
	r = imap_parser_feed(p, line, strlen(line), &used, &cmd, &perr);
	imap_parser_free(&p);
	if (r != 1) {
		printf("# does not parse: %s\n", line);
		return "(parse error)";
	}
	memset(&res, 0, sizeof(res));
	res.status = IMAP_BAD;
	strcpy(res.text, "not set");
	fn(&ctx, cmd.args, &out, &res);
	/* CREATE's OK carries the new mailbox's id (RFC 8474 4.1):
	 * M<uidvalidity>-<row>, which moves with the clock; check its form
	 * and show the code's name only */
	if (strncmp(res.code, "MAILBOXID (", 11) == 0) {
		const char *id = res.code + 11;
		size_t n = strspn(id, "0123456789abcdef-M");

		strcpy(res.code, id[0] == 'M' && n > 10 && strcmp(id + n, ")") == 0 ? "MAILBOXID" : "MAILBOXID?");
	}
	snprintf(result, sizeof(result), "%.*s%s%s%s%s", (int)out.len, out.data != NULL ? out.data : "",
	         res.status == IMAP_OK ? "OK" : res.status == IMAP_NO ? "NO" : "BAD",
	         res.code[0] != '\0' ? " [" : "", res.code, res.code[0] != '\0' ? "]" : "");
	if (res.status != IMAP_OK && res.text[0] == '\0')
		printf("# %s: no human text\n", line);
	return result;
}

static void
cmd_ok(run_fn *fn, const char *args)
{
	const char *r = run(fn, args);

	if (strcmp(r, "OK") != 0 && strcmp(r, "OK [MAILBOXID]") != 0)
		printf("# setup %s: %s\n", args, r);
}

static void
deliver(const char *text)
{
	const char *users[1] = { user_name };
	struct store_spool sp;
	enum store_error err;
	const char *error;

	if (store_spool_create(data_dir, &sp, &error) == -1 || store_spool_write(&sp, text, strlen(text), &err) == -1 ||
	    store_spool_commit(&sp, &err) == -1 ||
	    store_deliver(data_dir, &sp, users, 1, (int64_t)time(NULL), &err, &error) == -1)
		printf("# deliver failed\n");
	store_spool_discard(&sp);
}

/* --- LIST: RFC 5258 section 5 --- */

/* The hierarchy and subscriptions of RFC 5258's first examples. */
static void
rfc5258_hierarchy(void)
{
	new_user("fruit");
	cmd_ok(imap_create_run, "Fruit");
	cmd_ok(imap_create_run, "Fruit/Apple");
	cmd_ok(imap_create_run, "Fruit/Banana");
	cmd_ok(imap_create_run, "Tofu");
	cmd_ok(imap_create_run, "Vegetable");
	cmd_ok(imap_create_run, "Vegetable/Broccoli");
	cmd_ok(imap_create_run, "Vegetable/Corn");
	cmd_ok(imap_subscribe_run, "INBOX");
	cmd_ok(imap_subscribe_run, "Fruit/Banana");
	cmd_ok(imap_subscribe_run, "Fruit/Peach");
	cmd_ok(imap_subscribe_run, "Vegetable");
	cmd_ok(imap_subscribe_run, "Vegetable/Broccoli");
}

static void
test_list_rfc5258(void)
{
	rfc5258_hierarchy();

	test_begin("LIST: RFC 5258 example 1 (LIST \"\" \"*\", extended and plain)");
	test_assert_streq(run(imap_list_run, "() \"\" \"*\""),
	                  "* LIST () \"/\" INBOX\r\n"
	                  "* LIST () \"/\" Fruit\r\n"
	                  "* LIST () \"/\" Fruit/Apple\r\n"
	                  "* LIST () \"/\" Fruit/Banana\r\n"
	                  "* LIST () \"/\" Tofu\r\n"
	                  "* LIST () \"/\" Vegetable\r\n"
	                  "* LIST () \"/\" Vegetable/Broccoli\r\n"
	                  "* LIST () \"/\" Vegetable/Corn\r\n"
	                  "OK");
	/* A plain LIST always tells children (CHILDREN, RFC 3348). */
	test_assert_streq(run(imap_list_run, "\"\" *"),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\HasChildren) \"/\" Fruit\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Fruit/Apple\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Fruit/Banana\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Tofu\r\n"
	                  "* LIST (\\HasChildren) \"/\" Vegetable\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Vegetable/Broccoli\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Vegetable/Corn\r\n"
	                  "OK");
	test_end();

	test_begin("LIST: RFC 5258 example 2 (SUBSCRIBED, a subscribed name that does not exist)");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED) \"\" \"*\""),
	                  "* LIST (\\Subscribed) \"/\" INBOX\r\n"
	                  "* LIST (\\Subscribed) \"/\" Fruit/Banana\r\n"
	                  "* LIST (\\Subscribed \\NonExistent) \"/\" Fruit/Peach\r\n"
	                  "* LIST (\\Subscribed) \"/\" Vegetable\r\n"
	                  "* LIST (\\Subscribed) \"/\" Vegetable/Broccoli\r\n"
	                  "OK");
	test_end();

	test_begin("LIST: RFC 5258 examples 3 and 4 (RETURN (CHILDREN), REMOTE)");
	test_assert_streq(run(imap_list_run, "() \"\" \"%\" RETURN (CHILDREN)"),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\HasChildren) \"/\" Fruit\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Tofu\r\n"
	                  "* LIST (\\HasChildren) \"/\" Vegetable\r\n"
	                  "OK");
	/* no remote mailboxes here: the same */
	test_assert_streq(run(imap_list_run, "(REMOTE) \"\" \"%\" RETURN (CHILDREN)"),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\HasChildren) \"/\" Fruit\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Tofu\r\n"
	                  "* LIST (\\HasChildren) \"/\" Vegetable\r\n"
	                  "OK");
	test_end();

	test_begin("LIST: RFC 5258 SUBSCRIBED with RETURN (CHILDREN) and RECURSIVEMATCH");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN)"),
	                  "* LIST (\\Subscribed \\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\Subscribed \\HasNoChildren) \"/\" Fruit/Banana\r\n"
	                  "* LIST (\\Subscribed \\NonExistent) \"/\" Fruit/Peach\r\n"
	                  "* LIST (\\Subscribed \\HasChildren) \"/\" Vegetable\r\n"
	                  "* LIST (\\Subscribed \\HasNoChildren) \"/\" Vegetable/Broccoli\r\n"
	                  "OK");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED RECURSIVEMATCH) \"\" \"%\""),
	                  "* LIST (\\Subscribed) \"/\" INBOX\r\n"
	                  "* LIST () \"/\" Fruit (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	                  "* LIST (\\Subscribed) \"/\" Vegetable (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	                  "OK");
	/* RETURN (SUBSCRIBED) marks without selecting */
	test_assert_streq(run(imap_list_run, "\"\" \"Fruit/%\" RETURN (SUBSCRIBED)"),
	                  "* LIST () \"/\" Fruit/Apple\r\n"
	                  "* LIST (\\Subscribed) \"/\" Fruit/Banana\r\n"
	                  "OK");
	test_end();

	test_begin("LIST: several patterns, reference, INBOX in any case");
	test_assert_streq(run(imap_list_run, "\"\" (\"Tofu\" \"Fruit/%\" \"T*\")"),
	                  "* LIST () \"/\" Fruit/Apple\r\n"
	                  "* LIST () \"/\" Fruit/Banana\r\n"
	                  "* LIST () \"/\" Tofu\r\n"
	                  "OK");
	test_assert_streq(run(imap_list_run, "\"Vegetable/\" \"%\""),
	                  "* LIST (\\HasNoChildren) \"/\" Vegetable/Broccoli\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Vegetable/Corn\r\n"
	                  "OK");
	test_assert_streq(run(imap_list_run, "Vegetable Broccoli"), "OK");  /* "VegetableBroccoli" */
	test_assert_streq(run(imap_list_run, "\"\" inbox"), "* LIST (\\HasNoChildren) \"/\" INBOX\r\nOK");
	test_assert_streq(run(imap_list_run, "\"\" iNbOx*"), "* LIST (\\HasNoChildren) \"/\" INBOX\r\nOK");
	test_assert_streq(run(imap_list_run, "\"\" Nothing*"), "OK");
	/* The empty pattern of an extended LIST is ignored (RFC 5258 3). */
	test_assert_streq(run(imap_list_run, "\"\" (\"\" \"Tofu\")"), "* LIST () \"/\" Tofu\r\nOK");
	test_assert_streq(run(imap_list_run, "() \"\" \"\""), "OK");
	test_end();
}

/* RFC 5258 5, the example of \HasChildren against CHILDINFO. */
static void
test_list_childinfo(void)
{
	new_user("foo");
	cmd_ok(imap_unsubscribe_run, "INBOX");    /* a new store subscribes INBOX */
	cmd_ok(imap_create_run, "Foo");
	cmd_ok(imap_create_run, "Foo/Bar");
	cmd_ok(imap_create_run, "Foo/Baz");
	cmd_ok(imap_create_run, "Moo");

	test_begin("LIST: RFC 5258 CHILDINFO example, CHILDREN and B (nothing subscribed)");
	test_assert_streq(run(imap_list_run, "\"\" \"%\" RETURN (CHILDREN)"),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\HasChildren) \"/\" Foo\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Moo\r\n"
	                  "OK");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED RECURSIVEMATCH) \"\" \"%\""), "OK");
	test_end();

	test_begin("LIST: RFC 5258 CHILDINFO example A (only Foo/Baz subscribed)");
	cmd_ok(imap_subscribe_run, "Foo/Baz");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED) \"\" \"*\""), "* LIST (\\Subscribed) \"/\" Foo/Baz\r\nOK");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED) \"\" \"%\""), "OK");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED RECURSIVEMATCH) \"\" \"%\""),
	                  "* LIST () \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\nOK");
	test_end();

	test_begin("LIST: RFC 5258 CHILDINFO example A1 (Foo subscribed too)");
	cmd_ok(imap_subscribe_run, "Foo");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED RECURSIVEMATCH) \"\" \"%\""),
	                  "* LIST (\\Subscribed) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\nOK");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)"),
	                  "* LIST (\\Subscribed \\HasChildren) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\nOK");
	test_end();

	test_begin("LIST: RFC 5258 CHILDINFO example C (Foo and Moo subscribed)");
	cmd_ok(imap_unsubscribe_run, "Foo/Baz");
	cmd_ok(imap_subscribe_run, "Moo");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)"),
	                  "* LIST (\\Subscribed \\HasChildren) \"/\" Foo\r\n"
	                  "* LIST (\\Subscribed \\HasNoChildren) \"/\" Moo\r\n"
	                  "OK");
	test_end();

	test_begin("LIST: RFC 5258 CHILDINFO example A2 (Foo does not exist)");
	cmd_ok(imap_unsubscribe_run, "Foo");
	cmd_ok(imap_unsubscribe_run, "Moo");
	cmd_ok(imap_subscribe_run, "Foo/Baz");
	cmd_ok(imap_delete_run, "Foo");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED RECURSIVEMATCH) \"\" \"%\""),
	                  "* LIST (\\NonExistent) \"/\" Foo (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\nOK");
	test_end();

	test_begin("LIST: a level above mailboxes that is not one (RFC 3501 6.3.4 DELETE example)");
	/* plain IMAP4rev1 LIST: \Noselect, as RFC 3501 shows */
	test_assert_streq(run(imap_list_run, "\"\" *"),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\Noselect \\HasChildren) \"/\" Foo\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Foo/Bar\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Foo/Baz\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Moo\r\n"
	                  "OK");
	test_assert_streq(run(imap_list_run, "\"\" %"),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\Noselect \\HasChildren) \"/\" Foo\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Moo\r\n"
	                  "OK");
	/* extended, or IMAP4rev2: \NonExistent (RFC 9051 7.3.1) */
	test_assert_streq(run(imap_list_run, "\"\" % RETURN (CHILDREN)"),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\NonExistent \\HasChildren) \"/\" Foo\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Moo\r\n"
	                  "OK");
	ctx.imap4rev2 = ctx.utf8 = true;
	test_assert_streq(run(imap_list_run, "\"\" Foo"), "* LIST (\\NonExistent \\HasChildren) \"/\" Foo\r\nOK");
	ctx.imap4rev2 = ctx.utf8 = false;
	test_end();
}

/* RFC 5258 5, the example with foo2, baz2, eps2, qux2. */
static void
test_list_recursivematch(void)
{
	static const char *const boxes[] = { "foo2", "foo2/bar1", "foo2/bar2", "baz2", "baz2/bar2", "baz2/bar22",
	                                     "baz2/bar222", "eps2", "eps2/mamba", "qux2/bar2" };
	static const char *const subs[] = { "foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222",
	                                    "eps2", "eps2/mamba", "qux2/bar2" };
	size_t i;

	new_user("rec");
	cmd_ok(imap_unsubscribe_run, "INBOX");
	for (i = 0; i < sizeof(boxes) / sizeof(boxes[0]); i++)
		cmd_ok(imap_create_run, boxes[i]);
	cmd_ok(imap_delete_run, "qux2");        /* exists only as a level above qux2/bar2 */
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		cmd_ok(imap_subscribe_run, subs[i]);

	test_begin("LIST: RFC 5258 RECURSIVEMATCH with \"*2\"");
	test_assert_streq(run(imap_list_run, "(RECURSIVEMATCH SUBSCRIBED) \"\" \"*2\""),
	                  "* LIST (\\Subscribed) \"/\" baz2/bar2\r\n"
	                  "* LIST (\\Subscribed) \"/\" baz2/bar22\r\n"
	                  "* LIST (\\Subscribed) \"/\" baz2/bar222\r\n"
	                  "* LIST (\\Subscribed) \"/\" eps2 (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	                  "* LIST () \"/\" foo2 (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	                  "* LIST (\\Subscribed) \"/\" foo2/bar2\r\n"
	                  "* LIST (\\Subscribed) \"/\" qux2/bar2\r\n"
	                  "OK");
	test_end();

	test_begin("LIST: RECURSIVEMATCH with \"%\": every level with subscribed inferiors");
	test_assert_streq(run(imap_list_run, "(RECURSIVEMATCH SUBSCRIBED) \"\" \"%\""),
	                  "* LIST () \"/\" baz2 (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	                  "* LIST (\\Subscribed) \"/\" eps2 (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	                  "* LIST () \"/\" foo2 (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	                  "* LIST (\\NonExistent) \"/\" qux2 (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\n"
	                  "OK");
	test_end();

	test_begin("LSUB: RFC 3501 6.3.9 (a level above a subscribed name is \\Noselect with \"%\")");
	test_assert_streq(run(imap_lsub_run, "\"\" \"%\""),
	                  "* LSUB (\\Noselect) \"/\" baz2\r\n"
	                  "* LSUB () \"/\" eps2\r\n"
	                  "* LSUB (\\Noselect) \"/\" foo2\r\n"
	                  "* LSUB (\\Noselect) \"/\" qux2\r\n"
	                  "OK");
	test_assert_streq(run(imap_lsub_run, "\"\" \"foo2/*\""),
	                  "* LSUB () \"/\" foo2/bar1\r\n"
	                  "* LSUB () \"/\" foo2/bar2\r\n"
	                  "OK");
	test_assert_streq(run(imap_lsub_run, "\"foo2/\" \"%\""),
	                  "* LSUB () \"/\" foo2/bar1\r\n"
	                  "* LSUB () \"/\" foo2/bar2\r\n"
	                  "OK");
	test_assert_streq(run(imap_lsub_run, "\"\" \"\""), "OK");
	test_end();
}

static void
test_list_defaults(void)
{
	struct store_mailbox_status st, st2;
	const char *error, *r;
	char want[2048];

	new_user("defaults");
	store_ensure_default_mailboxes(ctx.st, &error);
	deliver("From: a@example.org\r\nSubject: hello\r\n\r\nHello\r\n");

	test_begin("LIST: the default mailboxes with their SPECIAL-USE attributes");
	test_assert_streq(run(imap_list_run, "\"\" \"*\""),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\HasNoChildren \\Archive) \"/\" Archive\r\n"
	                  "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts\r\n"
	                  "* LIST (\\HasNoChildren \\Junk) \"/\" Junk\r\n"
	                  "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
	                  "* LIST (\\HasNoChildren \\Trash) \"/\" Trash\r\n"
	                  "OK");
	test_end();

	test_begin("LIST: SPECIAL-USE selection and return options (RFC 6154)");
	cmd_ok(imap_create_run, "Trash/Old");
	test_assert_streq(run(imap_list_run, "(SPECIAL-USE) \"\" \"*\""),
	                  "* LIST (\\Archive) \"/\" Archive\r\n"
	                  "* LIST (\\Drafts) \"/\" Drafts\r\n"
	                  "* LIST (\\Junk) \"/\" Junk\r\n"
	                  "* LIST (\\Sent) \"/\" Sent\r\n"
	                  "* LIST (\\Trash) \"/\" Trash\r\n"
	                  "OK");
	test_assert_streq(run(imap_list_run, "(SPECIAL-USE) \"\" \"T*\" RETURN (SPECIAL-USE CHILDREN)"),
	                  "* LIST (\\HasChildren \\Trash) \"/\" Trash\r\nOK");
	test_assert_streq(run(imap_list_run, "(SUBSCRIBED SPECIAL-USE) \"\" \"%\""),
	                  "* LIST (\\Subscribed \\Archive) \"/\" Archive\r\n"
	                  "* LIST (\\Subscribed \\Drafts) \"/\" Drafts\r\n"
	                  "* LIST (\\Subscribed \\Junk) \"/\" Junk\r\n"
	                  "* LIST (\\Subscribed \\Sent) \"/\" Sent\r\n"
	                  "* LIST (\\Subscribed \\Trash) \"/\" Trash\r\n"
	                  "OK");
	cmd_ok(imap_delete_run, "Trash/Old");
	test_end();

	test_begin("LIST: the delimiter (RFC 9051 6.3.9 LIST \"\" \"\")");
	test_assert_streq(run(imap_list_run, "\"\" \"\""), "* LIST (\\Noselect) \"/\" \"\"\r\nOK");
	test_assert_streq(run(imap_list_run, "\"Sent/\" \"\""), "* LIST (\\Noselect) \"/\" \"\"\r\nOK");
	test_end();

	test_begin("LIST-STATUS (RFC 5819)");
	test_assert(store_mailbox_status(ctx.st, "INBOX", &st, &error) == STORE_OK);
	test_assert(store_mailbox_status(ctx.st, "Sent", &st2, &error) == STORE_OK);
	snprintf(want, sizeof(want),
	         "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	         "* STATUS INBOX (MESSAGES 1 UNSEEN 1 UIDVALIDITY %u)\r\n"
	         "* LIST (\\HasNoChildren \\Sent) \"/\" Sent\r\n"
	         "* STATUS Sent (MESSAGES 0 UNSEEN 0 UIDVALIDITY %u)\r\n"
	         "OK", st.uidvalidity, st2.uidvalidity);
	r = run(imap_list_run, "\"\" (INBOX Sent) RETURN (CHILDREN STATUS (MESSAGES UNSEEN UIDVALIDITY))");
	test_assert_streq(r, want);
	/* no STATUS for a name that is not a mailbox, nor for CHILDINFO lines */
	cmd_ok(imap_create_run, "x/y");
	cmd_ok(imap_delete_run, "x");
	test_assert_streq(run(imap_list_run, "\"\" x RETURN (STATUS (MESSAGES))"),
	                  "* LIST (\\NonExistent) \"/\" x\r\nOK");
	test_assert_streq(run(imap_list_run, "\"\" x/y RETURN (STATUS (MESSAGES))"),
	                  "* LIST () \"/\" x/y\r\n* STATUS x/y (MESSAGES 0)\r\nOK");
	test_end();
}

static void
test_list_names(void)
{
	new_user("names");

	test_begin("LIST: names in modified UTF-7 (IMAP4rev1) and UTF-8 (IMAP4rev2)");
	cmd_ok(imap_create_run, "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	cmd_ok(imap_create_run, "\"Sent Items\"");
	cmd_ok(imap_create_run, "a&-b");
	test_assert_streq(run(imap_list_run, "\"\" *"),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" \"Sent Items\"\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" a&-b\r\n"
	                  "* LIST (\\HasChildren) \"/\" ~peter\r\n"
	                  "* LIST (\\HasChildren) \"/\" ~peter/mail\r\n"
	                  "* LIST (\\HasChildren) \"/\" ~peter/mail/&U,BTFw-\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n"
	                  "OK");
	/* the pattern is decoded like a name */
	test_assert_streq(run(imap_list_run, "\"~peter/mail/\" \"&U,BTFw-/%\""),
	                  "* LIST (\\HasNoChildren) \"/\" ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\nOK");
	ctx.imap4rev2 = ctx.utf8 = true;
	test_assert_streq(run(imap_list_run, "\"\" \"~peter/mail/*\""),
	                  "* LIST (\\HasChildren) \"/\" \"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97\"\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" \"~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	                  "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"\r\n"
	                  "OK");
	test_assert_streq(run(imap_list_run, "\"\" a*"), "* LIST (\\HasNoChildren) \"/\" a&b\r\nOK");
	/* UTF-8 names from a rev2 client, in a quoted string */
	cmd_ok(imap_create_run, "\"Entw\xc3\xbcrfe\"");
	test_assert_streq(run(imap_list_run, "\"\" \"Entw*\""), "* LIST (\\HasNoChildren) \"/\" \"Entw\xc3\xbcrfe\"\r\nOK");
	ctx.imap4rev2 = ctx.utf8 = false;
	test_assert_streq(run(imap_list_run, "\"\" \"Entw*\""), "* LIST (\\HasNoChildren) \"/\" Entw&APw-rfe\r\nOK");
	test_end();
}

static void
test_list_errors(void)
{
	char line[IMAP_PATTERN_LEN_MAX + 64];

	new_user("errors");
	test_begin("LIST/LSUB: bad syntax and unknown options are BAD");
	test_assert_streq(run(imap_list_run, "(RECURSIVEMATCH) \"\" \"*\""), "BAD");
	test_assert_streq(run(imap_list_run, "(REMOTE RECURSIVEMATCH) \"\" \"*\""), "BAD");
	test_assert_streq(run(imap_list_run, "(SPECIAL-USE RECURSIVEMATCH) \"\" \"*\""), "BAD");
	test_assert_streq(run(imap_list_run, "(BOGUS) \"\" \"*\""), "BAD");
	test_assert_streq(run(imap_list_run, "\"\" \"*\" RETURN (BOGUS)"), "BAD");
	test_assert_streq(run(imap_list_run, "\"\" \"*\" RETURN (STATUS)"), "BAD");
	test_assert_streq(run(imap_list_run, "\"\" \"*\" RETURN (STATUS ())"), "BAD");
	test_assert_streq(run(imap_list_run, "\"\" \"*\" RETURN (STATUS (MESSAGES) STATUS (UNSEEN))"), "BAD");
	test_assert_streq(run(imap_list_run, "\"\" \"*\" RETURN"), "BAD");
	test_assert_streq(run(imap_list_run, "\"\" \"*\" EXTRA"), "BAD");
	test_assert_streq(run(imap_list_run, "\"\" ()"), "BAD");
	test_assert_streq(run(imap_list_run, "\"\""), "BAD");
	test_assert_streq(run(imap_list_run, "(\"\") \"\" \"*\""), "BAD");
	/* a pattern no name can match (bad modified UTF-7): OK, nothing
	 * listed, as Dovecot (imaptest "atoms") */
	test_assert_streq(run(imap_list_run, "\"\" \"&Jjo\""), "OK");
	test_assert_streq(run(imap_list_run, "\"&Jjo\" \"*\""), "OK");
	test_assert_streq(run(imap_lsub_run, "(SUBSCRIBED) \"\" \"*\""), "BAD");
	test_assert_streq(run(imap_lsub_run, "\"\" (\"*\")"), "BAD");
	test_assert_streq(run(imap_lsub_run, "\"\" \"*\" RETURN (CHILDREN)"), "BAD");
	snprintf(line, sizeof(line), "\"\" \"%0*d\"", IMAP_PATTERN_LEN_MAX + 1, 0);
	test_assert_streq(run(imap_list_run, line), "BAD");
	snprintf(line, sizeof(line), "\"\" \"%0*d\"", IMAP_PATTERN_LEN_MAX, 0);
	test_assert_streq(run(imap_list_run, line), "OK");
	/* RFC 5258 3: empty options are fine */
	test_assert_streq(run(imap_list_run, "() \"\" \"*\" RETURN ()"), "* LIST () \"/\" INBOX\r\nOK");
	test_end();
}

/* --- STATUS --- */

static void
test_status(void)
{
	struct store_mailbox_status st;
	const char *error;
	char want[512];

	new_user("status");
	deliver("From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n");
	deliver("From: a@example.org\r\nSubject: two\r\n\r\nHello again\r\n");
	store_mailbox_status(ctx.st, "INBOX", &st, &error);

	test_begin("STATUS: every item (RFC 9051 6.3.11, RFC 8438, RFC 7162, RFC 7889)");
	ctx.append_limit = 10485760;
	/* RECENT (RFC 3501 6.3.10): no session has seen the two yet */
	snprintf(want, sizeof(want),
	         "* STATUS INBOX (MESSAGES 2 UIDNEXT 3 UIDVALIDITY %u UNSEEN 2 DELETED 0 SIZE %zu "
	         "HIGHESTMODSEQ %llu APPENDLIMIT 10485760 RECENT 2)\r\nOK",
	         st.uidvalidity, strlen("From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n") +
	         strlen("From: a@example.org\r\nSubject: two\r\n\r\nHello again\r\n"),
	         (unsigned long long)st.highestmodseq);
	test_assert_streq(run(imap_status_run,
	                      "INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ APPENDLIMIT RECENT)"),
	                  want);
	test_assert(ctx.condstore_used);
	ctx.append_limit = 0;
	test_assert_streq(run(imap_status_run, "inbox (messages APPENDLIMIT messages)"),
	                  "* STATUS INBOX (MESSAGES 2 APPENDLIMIT NIL)\r\nOK");
	/* a session that was told of them (SELECT) takes them: none left */
	{
		uint32_t first = 0;

		test_assert_inteq(store_imap_recent(ctx.st, "INBOX", 0, &first, &error), STORE_OK);
		test_assert_inteq(first, 1);
		test_assert_inteq(store_imap_recent(ctx.st, "INBOX", st.uidnext, &first, &error), STORE_OK);
		test_assert_inteq(first, 1);
		test_assert_streq(run(imap_status_run, "INBOX (RECENT)"), "* STATUS INBOX (RECENT 0)\r\nOK");
		deliver("From: a@example.org\r\nSubject: three\r\n\r\nNew\r\n");
		test_assert_streq(run(imap_status_run, "INBOX (RECENT MESSAGES)"),
		                  "* STATUS INBOX (RECENT 1 MESSAGES 3)\r\nOK");
		/* claims never go back, and claiming again takes nothing */
		test_assert_inteq(store_imap_recent(ctx.st, "INBOX", 2, &first, &error), STORE_OK);
		test_assert_inteq(first, 3);
		test_assert_inteq(store_imap_recent(ctx.st, "Nope", 5, &first, &error), STORE_IMAP_NONEXISTENT);
	}
	test_end();

	test_begin("STATUS: errors");
	test_assert_streq(run(imap_status_run, "Nope (MESSAGES)"), "NO [NONEXISTENT]");
	test_assert_streq(run(imap_status_run, "INBOX ()"), "BAD");
	test_assert_streq(run(imap_status_run, "INBOX (BOGUS)"), "BAD");
	test_assert_streq(run(imap_status_run, "INBOX MESSAGES"), "BAD");
	test_assert_streq(run(imap_status_run, "INBOX"), "BAD");
	test_assert_streq(run(imap_status_run, "INBOX (MESSAGES) extra"), "BAD");
	ctx.imap4rev2 = true;                    /* RFC 9051 has no RECENT */
	test_assert_streq(run(imap_status_run, "INBOX (RECENT)"), "BAD");
	ctx.imap4rev2 = false;
	test_end();
}

/* --- CREATE, DELETE, RENAME, SUBSCRIBE --- */

static void
test_create(void)
{
	new_user("create");

	test_begin("CREATE");
	test_assert_streq(run(imap_create_run, "Work"), "OK [MAILBOXID]");
	test_assert_streq(run(imap_create_run, "Work"), "NO [ALREADYEXISTS]");
	test_assert_streq(run(imap_create_run, "INBOX"), "NO [ALREADYEXISTS]");
	test_assert_streq(run(imap_create_run, "inbox"), "NO [ALREADYEXISTS]");
	test_assert_streq(run(imap_create_run, "a/b/c"), "OK [MAILBOXID]");          /* superiors too (RFC 9051 6.3.4) */
	test_assert_streq(run(imap_create_run, "Plans/"), "OK [MAILBOXID]");         /* trailing delimiter */
	test_assert_streq(run(imap_create_run, "a//b"), "NO [CANNOT]");
	test_assert_streq(run(imap_create_run, "/a"), "NO [CANNOT]");
	test_assert_streq(run(imap_create_run, "\"\""), "NO [CANNOT]");
	test_assert_streq(run(imap_create_run, "\"50%\""), "NO [CANNOT]");
	/* names no mailbox can have: NO, the session goes on */
	test_assert_streq(run(imap_create_run, "&Jjo"), "NO [CANNOT]");  /* not modified UTF-7 */
	test_assert_streq(run(imap_create_run, "&AGE-"), "NO [CANNOT]");
	test_assert_streq(run(imap_create_run, "{3+}\r\na\tb"), "NO [CANNOT]");  /* control character */
	test_assert_streq(run(imap_create_run, "(x)"), "BAD");
	test_assert_streq(run(imap_create_run, ""), "BAD");
	test_assert_streq(run(imap_list_run, "\"\" *"),
	                  "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Plans\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Work\r\n"
	                  "* LIST (\\HasChildren) \"/\" a\r\n"
	                  "* LIST (\\HasChildren) \"/\" a/b\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" a/b/c\r\n"
	                  "OK");
	test_end();

	test_begin("CREATE-SPECIAL-USE (RFC 6154 3)");
	test_assert_streq(run(imap_create_run, "MySent (USE (\\Sent))"), "OK [MAILBOXID]");
	test_assert_streq(run(imap_create_run, "MyTrash (use (\\trash))"), "OK [MAILBOXID]");
	test_assert_streq(run(imap_create_run, "Plain (USE ())"), "OK [MAILBOXID]");
	test_assert_streq(run(imap_create_run, "Everything (USE (\\All))"), "NO [USEATTR]");
	test_assert_streq(run(imap_create_run, "Starred (USE (\\Flagged))"), "NO [USEATTR]");
	test_assert_streq(run(imap_create_run, "Odd (USE (\\Bogus))"), "NO [USEATTR]");
	test_assert_streq(run(imap_create_run, "Two (USE (\\Sent \\Trash))"), "NO [USEATTR]");
	test_assert_streq(run(imap_create_run, "Twice (USE (\\Sent \\Sent))"), "OK [MAILBOXID]");
	test_assert_streq(run(imap_create_run, "Bad (USE \\Sent)"), "BAD");
	test_assert_streq(run(imap_create_run, "Bad (FOO (BAR))"), "BAD");
	test_assert_streq(run(imap_create_run, "Bad (USE (Sent))"), "BAD");
	test_assert_streq(run(imap_create_run, "Bad (USE (\\Sent)) extra"), "BAD");
	test_assert_streq(run(imap_list_run, "\"\" (My* Plain Twice Everything)"),
	                  "* LIST (\\Sent) \"/\" MySent\r\n"
	                  "* LIST (\\Trash) \"/\" MyTrash\r\n"
	                  "* LIST () \"/\" Plain\r\n"
	                  "* LIST (\\Sent) \"/\" Twice\r\n"
	                  "OK");
	test_end();
}

static void
test_delete_rename(void)
{
	new_user("rename");
	deliver("From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n");
	cmd_ok(imap_create_run, "Work/Reports");

	test_begin("DELETE");
	test_assert_streq(run(imap_delete_run, "INBOX"), "NO [CANNOT]");
	test_assert_streq(run(imap_delete_run, "inbox"), "NO [CANNOT]");
	test_assert_streq(run(imap_delete_run, "Nope"), "NO [NONEXISTENT]");
	test_assert_streq(run(imap_delete_run, "Work"), "OK");      /* its inferior stays (RFC 9051 6.3.5) */
	test_assert_streq(run(imap_list_run, "\"\" Work*"),
	                  "* LIST (\\Noselect \\HasChildren) \"/\" Work\r\n"
	                  "* LIST (\\HasNoChildren) \"/\" Work/Reports\r\n"
	                  "OK");
	/* RFC 9051 6.3.5: a \\Noselect name with inferiors cannot be deleted */
	test_assert_streq(run(imap_delete_run, "Work"), "NO [HASCHILDREN]");
	test_assert_streq(run(imap_delete_run, "Work/Reports"), "OK");
	test_assert_streq(run(imap_list_run, "\"\" Work*"), "OK");
	test_assert_streq(run(imap_delete_run, ""), "BAD");
	test_assert_streq(run(imap_delete_run, "a b"), "BAD");
	test_end();

	test_begin("RENAME");
	cmd_ok(imap_create_run, "Old/Sub");
	cmd_ok(imap_create_run, "Taken");
	test_assert_streq(run(imap_rename_run, "Old New"), "OK");
	test_assert_streq(run(imap_list_run, "\"\" (Old* New*)"),
	                  "* LIST () \"/\" New\r\n"
	                  "* LIST () \"/\" New/Sub\r\n"
	                  "OK");
	test_assert_streq(run(imap_rename_run, "Nope Other"), "NO [NONEXISTENT]");
	test_assert_streq(run(imap_rename_run, "New Taken"), "NO [ALREADYEXISTS]");
	test_assert_streq(run(imap_rename_run, "New INBOX"), "NO [ALREADYEXISTS]");
	test_assert_streq(run(imap_rename_run, "New New/Sub/Deeper"), "NO [CANNOT]");
	test_assert_streq(run(imap_rename_run, "New"), "BAD");
	/* RFC 9051 6.3.6: INBOX's messages move, INBOX stays, empty */
	test_assert_streq(run(imap_rename_run, "inbox INBOX/Old"), "OK");
	test_assert_streq(run(imap_status_run, "INBOX (MESSAGES)"), "* STATUS INBOX (MESSAGES 0)\r\nOK");
	test_assert_streq(run(imap_status_run, "INBOX/Old (MESSAGES)"), "* STATUS INBOX/Old (MESSAGES 1)\r\nOK");
	test_end();

	test_begin("SUBSCRIBE / UNSUBSCRIBE / LSUB");
	test_assert_streq(run(imap_subscribe_run, "New"), "OK");
	test_assert_streq(run(imap_subscribe_run, "Gone/Away"), "OK");       /* need not exist */
	test_assert_streq(run(imap_subscribe_run, "inbox"), "OK");
	test_assert_streq(run(imap_lsub_run, "\"\" *"),
	                  "* LSUB () \"/\" INBOX\r\n"
	                  "* LSUB (\\Noselect) \"/\" Gone/Away\r\n"
	                  "* LSUB () \"/\" New\r\n"
	                  "OK");
	test_assert_streq(run(imap_unsubscribe_run, "Gone/Away"), "OK");
	test_assert_streq(run(imap_unsubscribe_run, "Never"), "OK");
	test_assert_streq(run(imap_lsub_run, "\"\" *"), "* LSUB () \"/\" INBOX\r\n* LSUB () \"/\" New\r\nOK");
	test_assert_streq(run(imap_subscribe_run, ""), "BAD");
	test_assert_streq(run(imap_subscribe_run, "a b"), "BAD");
	test_end();
}

/* --- NAMESPACE, QUOTA --- */

static void
test_namespace_quota(void)
{
	char want[256];
	size_t size = strlen("From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n");

	test_begin("NAMESPACE (RFC 2342)");
	buf_reset(&out);
	imap_namespace_write(&out, false);
	test_assert_streq(out.data, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
	test_end();

	new_user("quota");
	deliver("From: a@example.org\r\nSubject: one\r\n\r\nHello\r\n");

	test_begin("GETQUOTAROOT / GETQUOTA without limits (RFC 9208: no quota root)");
	test_assert_streq(run(imap_getquotaroot_run, "INBOX"), "* QUOTAROOT INBOX\r\nOK");
	test_assert_streq(run(imap_getquota_run, "\"\""), "NO [NONEXISTENT]");
	test_assert_streq(run(imap_getquotaroot_run, "Nope"), "NO [NONEXISTENT]");
	test_end();

	test_begin("GETQUOTAROOT / GETQUOTA with limits (STORAGE in KiB, MESSAGE)");
	ctx.quota_bytes = 10 * 1024 * 1024;
	ctx.quota_messages = 1000;
	/* RFC 9208 4.1.2: "* QUOTAROOT INBOX """ then "* QUOTA "" (STORAGE 10 512)" */
	snprintf(want, sizeof(want), "* QUOTAROOT INBOX \"\"\r\n* QUOTA \"\" (STORAGE %zu 10240 MESSAGE 1 1000)\r\nOK",
	         (size + 1023) / 1024);
	test_assert_streq(run(imap_getquotaroot_run, "inbox"), want);
	snprintf(want, sizeof(want), "* QUOTA \"\" (STORAGE %zu 10240 MESSAGE 1 1000)\r\nOK", (size + 1023) / 1024);
	test_assert_streq(run(imap_getquota_run, "\"\""), want);
	test_assert_streq(run(imap_getquota_run, "other"), "NO [NONEXISTENT]");
	ctx.quota_messages = 0;
	test_assert_streq(run(imap_getquota_run, "\"\""), "* QUOTA \"\" (STORAGE 1 10240)\r\nOK");
	ctx.quota_bytes = 0;
	ctx.quota_messages = 5;
	test_assert_streq(run(imap_getquota_run, "\"\""), "* QUOTA \"\" (MESSAGE 1 5)\r\nOK");
	test_assert_streq(run(imap_getquota_run, ""), "BAD");
	test_assert_streq(run(imap_getquotaroot_run, ""), "BAD");
	ctx.quota_messages = 0;
	test_end();
}

/* --- imap_mailbox_arg --- */

static const char *
arg(const char *text)
{
	struct imap_parse_limits lim = { 0, 1024, 0, false };
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_error perr;
	struct imap_result res;
	char line[256];
	size_t used;
	char *name;

	arena_reset(arena);
	p = imap_parser_new(arena, &lim);
	snprintf(line, sizeof(line), "t SELECT %s\r\n", text);
	if (imap_parser_feed(p, line, strlen(line), &used, &cmd, &perr) != 1) {
		imap_parser_free(&p);
		return "(parse error)";
	}
	imap_parser_free(&p);
	name = imap_mailbox_arg(&ctx, cmd.args, &res);
	if (name == NULL && res.status == IMAP_NO && strcmp(res.code, "CANNOT") == 0)
		return "(NO)";
	return name != NULL ? name : res.status == IMAP_BAD ? "(BAD)" : "(?)";
}

static void
test_mailbox_arg(void)
{
	test_begin("imap_mailbox_arg");
	test_assert_streq(arg("INBOX"), "INBOX");
	test_assert_streq(arg("inbox"), "INBOX");
	test_assert_streq(arg("\"InBox\""), "INBOX");
	test_assert_streq(arg("inbox/Sub"), "INBOX/Sub");
	test_assert_streq(arg("InboxSub"), "InboxSub");
	test_assert_streq(arg("INBOXES"), "INBOXES");
	test_assert_streq(arg("NIL"), "NIL");
	test_assert_streq(arg("{3+}\r\nabc"), "abc");
	test_assert_streq(arg("Entw&APw-rfe"), "Entw\xc3\xbcrfe");
	/* A name no mailbox can have is NO [CANNOT], not BAD (a syntax
	 * error): the session goes on (imaptest "atoms"). */
	test_assert_streq(arg("&Jjo"), "(NO)");
	test_assert_streq(arg("!#$&'+,-.0123456789:;<=>?@^_`|[}"), "(NO)");
	test_assert_streq(arg("\"a\\\\b&\""), "(NO)");
	test_assert_streq(arg("(a)"), "(BAD)");
	ctx.utf8 = true;
	test_assert_streq(arg("Entw&APw-rfe"), "Entw&APw-rfe");
	test_assert_streq(arg("\"\xc3(\""), "(NO)");
	ctx.utf8 = false;
	test_end();
}

int
main(void)
{
	char tmpl[] = "/tmp/tern-imap-mailbox-XXXXXX";

	if ((data_dir = mkdtemp(tmpl)) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	arena = arena_new(64 * 1024, false);
	ctx.arena = arena;
	test_list_rfc5258();
	test_list_childinfo();
	test_list_recursivematch();
	test_list_defaults();
	test_list_names();
	test_list_errors();
	test_status();
	test_create();
	test_delete_rename();
	test_namespace_quota();
	test_mailbox_arg();
	store_close(&ctx.st);
	arena_free(&arena);
	buf_free(&out);
	nftw(data_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return test_done();
}
