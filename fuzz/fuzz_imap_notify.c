/* Fuzzes the NOTIFY argument parser (imap_notify_parse): one command line
 * through the real IMAP parser, its arguments through imap_notify_parse
 * (UTF-8 names on or off by the first byte).  Checks the documented
 * bounds: at most IMAP_NOTIFY_GROUPS_MAX groups and IMAP_NOTIFY_NAMES_MAX
 * names, names only in SUBTREE and MAILBOXES groups, an error text with
 * every failure, the selected rules of RFC 5465 section 5, and that every
 * name is matched by its own group. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_notify.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct imap_notify_spec *spec)
{
	size_t names = 0;
	unsigned ne = IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE;

	if (spec->none)
		return;
	if (spec->n_groups > IMAP_NOTIFY_GROUPS_MAX || (spec->n_groups == 0 && !spec->has_selected))
		abort();
	if (spec->has_selected && (spec->selected_events & ne) != 0 && (spec->selected_events & ne) != ne)
		abort();
	if (!spec->has_selected && spec->fetch_att != NULL)
		abort();
	for (size_t i = 0; i < spec->n_groups; i++) {
		const struct imap_notify_group *g = &spec->groups[i];

		names += g->n_names;
		if ((g->filter == IMAP_NOTIFY_SUBTREE || g->filter == IMAP_NOTIFY_MAILBOXES) != (g->n_names > 0))
			abort();
		if ((g->events & ~(unsigned)(IMAP_NOTIFY_UNKNOWN * 2 - 1)) != 0)
			abort();
		for (size_t k = 0; k < g->n_names; k++)
			if (!imap_notify_group_matches(g, g->names[k], false))
				abort();
	}
	if (names > IMAP_NOTIFY_NAMES_MAX)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *ar;
	struct imap_parse_limits lim = { .literal_max = 4096 };
	struct imap_parser *p;
	struct imap_command cmd;
	struct imap_parse_error err;
	struct imap_notify_spec spec;
	const char *error;
	char events[256];
	size_t used = 0;
	bool utf8;
	int r;

	if (size < 1)
		return 0;
	utf8 = data[0] & 1;
	ar = arena_new(4096, false);
	p = imap_parser_new(ar, &lim);
	if (imap_parser_feed(p, (const char *)data + 1, size - 1, &used, &cmd, &err) == 1) {
		error = NULL;
		r = imap_notify_parse(cmd.args, utf8, ar, &spec, &error);
		if (r == 0)
			check(&spec);
		else if ((r != -1 && r != -2) || error == NULL)
			abort();
		imap_notify_events_write(~0u, events, sizeof(events));
		imap_notify_events_write(~0u, events, 8);
		if (strlen(events) >= 8)
			abort();
	}
	imap_parser_free(&p);
	arena_free(&ar);
	return 0;
}
