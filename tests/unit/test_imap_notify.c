/* Tests of NOTIFY's and METADATA's argument readers
 * (src/imap/imap_notify_parse.c, src/imap/imap_metadata_parse.c).  The
 * commands are RFC 5465 3.1's examples (with errata 1804's parentheses)
 * and RFC 5464 4.2's; the expected structures are read off the RFCs'
 * grammar by hand.  Each line goes through the real command parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_metadata.h"
#include "imap/imap_notify.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "test.h"

static struct arena *a;

/* The arguments of "t <line>\r\n" after the command name. */
static const struct imap_arg *
args_of(const char *line)
{
	struct imap_parse_limits lim = { .literal_max = 4096 };
	struct imap_parser *p = imap_parser_new(a, &lim);
	char *buf = arena_printf(a, "t %s\r\n", line);
	struct imap_command cmd;
	struct imap_parse_error err;
	size_t used = 0;
	int r = imap_parser_feed(p, buf, strlen(buf), &used, &cmd, &err);

	imap_parser_free(&p);
	return r == 1 ? cmd.args : NULL;
}

static int
notify(const char *line, struct imap_notify_spec *spec)
{
	const char *error = NULL;
	int r = imap_notify_parse(args_of(line), false, a, spec, &error);

	if (r != 0 && error == NULL)
		return 99;
	return r;
}

static void
test_rfc_examples(void)
{
	struct imap_notify_spec sp;

	test_begin("imap_notify_parse: RFC 5465 3.1 (errata 1804)");
	test_assert_inteq(notify("NOTIFY SET STATUS (selected (MessageNew (uid body.peek[header.fields (from to "
	                         "subject)]) MessageExpunge)) (subtree Lists (MessageNew))", &sp), 0);
	test_assert(sp.status && sp.has_selected && !sp.selected_delayed);
	test_assert_inteq(sp.selected_events, IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE);
	test_assert(sp.fetch_att != NULL && sp.fetch_att->type == IMAP_ARG_LIST && sp.fetch_att->count == 2);
	test_assert_inteq(sp.n_groups, 1);
	test_assert_inteq(sp.groups[0].filter, IMAP_NOTIFY_SUBTREE);
	test_assert_inteq(sp.groups[0].n_names, 1);
	test_assert_streq(sp.groups[0].names[0], "Lists");
	test_assert(imap_notify_group_matches(&sp.groups[0], "Lists/ietf", false));
	test_assert(!imap_notify_group_matches(&sp.groups[0], "Listsx", false));
	test_assert_inteq(notify("notify set (selected (MessageNew (uid body.peek[header.fields (from to subject)]) "
	                         "MessageExpunge)) (subtree Lists (MessageNew)) (mailboxes misc (MessageNew))", &sp), 0);
	test_assert(!sp.status && sp.n_groups == 2 && sp.groups[1].filter == IMAP_NOTIFY_MAILBOXES);
	test_assert(imap_notify_group_matches(&sp.groups[1], "misc", false));
	test_assert(!imap_notify_group_matches(&sp.groups[1], "misc/sub", false));
	test_assert_inteq(notify("NOTIFY NONE", &sp), 0);
	test_assert(sp.none);
	test_end();
}

static void
test_filters_and_rules(void)
{
	struct imap_notify_spec sp;

	test_begin("imap_notify_parse: filters, NONE, section 5's rules");
	test_assert_inteq(notify("NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange)) "
	                         "(inboxes (MessageNew)) (personal NONE) (subscribed (MailboxName SubscriptionChange))"
	                         " (mailboxes (inbox \"a b\" &AOQ-) (MailboxMetadataChange XFoo))", &sp), 0);
	test_assert(sp.selected_delayed);
	test_assert_inteq(sp.n_groups, 4);
	test_assert_inteq(sp.groups[1].events, 0);
	test_assert(imap_notify_group_matches(&sp.groups[0], "INBOX", false));
	test_assert(!imap_notify_group_matches(&sp.groups[0], "Sent", false));
	test_assert(imap_notify_group_matches(&sp.groups[2], "x", true));
	test_assert(!imap_notify_group_matches(&sp.groups[2], "x", false));
	test_assert_streq(sp.groups[3].names[0], "INBOX");
	test_assert_streq(sp.groups[3].names[1], "a b");
	test_assert_streq(sp.groups[3].names[2], "\xc3\xa4");
	test_assert(sp.used_events & IMAP_NOTIFY_UNKNOWN);
	/* BAD */
	test_assert_inteq(notify("NOTIFY SET (selected (MessageNew))", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (selected (MessageExpunge))", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (selected (FlagChange))", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (selected NONE) (selected NONE)", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (personal (MessageNew (UID) MessageExpunge))", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (selected (MessageNew () MessageExpunge))", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (subtree (MessageNew))", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (mailboxes () (MessageNew))", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (personal ())", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (personal (\"MessageNew\"))", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (personal (MessageNew) extra)", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET (elsewhere (MessageNew))", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET", &sp), -1);
	test_assert_inteq(notify("NOTIFY SET STATUS", &sp), -1);
	test_assert_inteq(notify("NOTIFY NONE more", &sp), -1);
	test_assert_inteq(notify("NOTIFY", &sp), -1);
	test_end();
}

static void
test_bounds(void)
{
	struct imap_notify_spec sp;
	char *line = arena_strdup(a, "NOTIFY SET (mailboxes (");
	char events[64];

	test_begin("imap_notify_parse: bounds; BADEVENT's list");
	for (int i = 0; i < IMAP_NOTIFY_NAMES_MAX; i++)
		line = arena_printf(a, "%s m%d", line, i);
	test_assert_inteq(notify(arena_printf(a, "%s) (MessageNew))", line), &sp), 0);
	test_assert_inteq(sp.groups[0].n_names, IMAP_NOTIFY_NAMES_MAX);
	test_assert_inteq(notify(arena_printf(a, "%s x) (MessageNew))", line), &sp), -2);
	line = arena_strdup(a, "NOTIFY SET");
	for (int i = 0; i < IMAP_NOTIFY_GROUPS_MAX; i++)
		line = arena_printf(a, "%s (personal NONE)", line);
	test_assert_inteq(notify(line, &sp), 0);
	test_assert_inteq(notify(arena_printf(a, "%s (personal NONE)", line), &sp), -1);
	imap_notify_events_write(IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MAILBOX_NAME, events, sizeof(events));
	test_assert_streq(events, "MessageNew MailboxName");
	imap_notify_events_write(~0u, events, 12);
	test_assert_streq(events, "MessageNew");
	test_end();
}

static const char *
entry(const char *s, bool for_set)
{
	const char *error = NULL;
	char *r = imap_metadata_entry(s, strlen(s), for_set, a, &error);

	return r != NULL ? r : error != NULL ? "BAD" : "NOERROR";
}

static void
test_metadata(void)
{
	uint32_t max;
	int depth;
	const char *error;

	test_begin("imap_metadata_entry, imap_metadata_options (RFC 5464 3.2, 4.2)");
	test_assert_streq(entry("/private/comment", true), "/private/comment");
	test_assert_streq(entry("/Shared/Vendor/Foo", true), "/shared/vendor/foo");
	test_assert_streq(entry("/private", false), "/private");
	test_assert_streq(entry("/private", true), "BAD");
	test_assert_streq(entry("/shared/\xc3\xa4", true), "/shared/\xc3\xa4");
	test_assert_streq(entry("/shared/\xc3", true), "BAD");
	test_assert_streq(entry("/private/", true), "BAD");
	test_assert_streq(entry("/private//a", true), "BAD");
	test_assert_streq(entry("/private/a*", true), "BAD");
	test_assert_streq(entry("/private/%", true), "BAD");
	test_assert_streq(entry("/private/a\tb", true), "BAD");
	test_assert_streq(entry("/privatex", false), "BAD");
	test_assert_streq(entry("/comment", true), "BAD");
	test_assert_streq(entry("comment", true), "BAD");
	test_assert_streq(entry("", true), "BAD");
	test_assert(imap_metadata_options(args_of("X (MAXSIZE 1024 DEPTH infinity)"), &max, &depth, &error) == 0);
	test_assert(max == 1024 && depth == -1);
	test_assert(imap_metadata_options(args_of("X (DEPTH 1)"), &max, &depth, &error) == 0);
	test_assert(max == UINT32_MAX && depth == 1);
	test_assert(imap_metadata_options(args_of("X (DEPTH 2)"), &max, &depth, &error) == -1);
	test_assert(imap_metadata_options(args_of("X (DEPTH)"), &max, &depth, &error) == -1);
	test_assert(imap_metadata_options(args_of("X (MAXSIZE 4294967296)"), &max, &depth, &error) == -1);
	test_assert(imap_metadata_options(args_of("X (DEPTH 0 DEPTH 1)"), &max, &depth, &error) == -1);
	test_assert(imap_metadata_options(args_of("X ()"), &max, &depth, &error) == -1);
	test_end();
}

int
main(void)
{
	a = arena_new(4096, false);
	test_rfc_examples();
	test_filters_and_rules();
	test_bounds();
	test_metadata();
	arena_free(&a);
	return test_done();
}
