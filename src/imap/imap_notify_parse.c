/* The NOTIFY command's arguments (RFC 5465 section 8):
 *
 *   notify-set    = "SET" [SP "STATUS"] SP event-group *(SP event-group)
 *   event-group   = "(" filter-mailboxes SP events ")"
 *   filter        = "selected" / "selected-delayed" / "inboxes" / "personal"
 *                   / "subscribed" / ("subtree" / "mailboxes") SP one-or-more-mailbox
 *   events        = "(" event *(SP event) ")" / "NONE"
 *   event         = "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"] / ...
 *
 * Section 5 adds: MessageNew and MessageExpunge come together, FlagChange
 * and AnnotationChange need them, for the selected mailbox (Dovecot checks
 * these for the selected filter only, and imaptest's notify script sends
 * (MessageExpunge) alone for other mailboxes); a fetch-att list is only
 * for the selected mailbox (section 5.2); one selected filter at most. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_cmd.h"
#include "imap/imap_notify.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"

static const char *const event_names[] = {
	"MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange",
	"MailboxName", "SubscriptionChange", "MailboxMetadataChange", "ServerMetadataChange",
};
#define N_EVENTS (sizeof(event_names) / sizeof(event_names[0]))

void
imap_notify_events_write(unsigned mask, char *buf, size_t size)
{
	size_t len = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < N_EVENTS; i++) {
		int n;

		if ((mask & (1u << i)) == 0)
			continue;
		n = snprintf(buf + len, size - len, "%s%s", len > 0 ? " " : "", event_names[i]);
		if (n < 0 || (size_t)n >= size - len) {
			buf[len] = '\0';  /* whole names only */
			return;
		}
		len += (size_t)n;
	}
}

/* A copy of the argument list starting at a (its siblings too) in ar:
 * the fetch-att list outlives the command arena. */
static struct imap_arg *
args_copy(const struct imap_arg *a, struct arena *ar, int depth)
{
	struct imap_arg *first = NULL, **tail = &first;

	if (depth > IMAP_PARSE_DEPTH_MAX)
		return NULL;
	for (; a != NULL; a = a->next) {
		struct imap_arg *c = arena_alloc(ar, sizeof(*c));

		*c = *a;
		c->next = NULL;
		if (a->str != NULL)
			c->str = arena_strndup(ar, a->str, a->len);
		c->list = args_copy(a->list, ar, depth + 1);
		c->section = args_copy(a->section, ar, depth + 1);
		*tail = c;
		tail = &c->next;
	}
	return first;
}

/* An event name; IMAP_NOTIFY_UNKNOWN for any other atom, 0 for what is
 * not an atom. */
static unsigned
event_parse(const struct imap_arg *a)
{
	if (a->type != IMAP_ARG_ATOM)
		return 0;
	for (size_t i = 0; i < N_EVENTS; i++)
		if (imap_arg_atom_is(a, event_names[i]))
			return 1u << i;
	return IMAP_NOTIFY_UNKNOWN;
}

/* events = "(" event *(SP event) ")" / "NONE" */
static int
events_parse(const struct imap_arg *a, bool selected, struct arena *ar, struct imap_notify_spec *spec,
             unsigned *events_out, const char **error_out)
{
	unsigned events = 0;

	*events_out = 0;
	if (a == NULL) {
		*error_out = "An event group needs its events or NONE";
		return -1;
	}
	if (imap_arg_atom_is(a, "NONE"))
		return 0;
	if (a->type != IMAP_ARG_LIST || a->count == 0) {
		*error_out = "Events are a list, e.g. (MessageNew MessageExpunge), or NONE";
		return -1;
	}
	for (const struct imap_arg *e = a->list; e != NULL; e = e->next) {
		unsigned ev = event_parse(e);

		if (ev == 0) {
			*error_out = "Events are atoms, e.g. (MessageNew MessageExpunge)";
			return -1;
		}
		events |= ev;
		if (ev != IMAP_NOTIFY_MESSAGE_NEW || e->next == NULL || e->next->type != IMAP_ARG_LIST)
			continue;
		/* MessageNew (fetch-att ...): section 5.2. */
		if (!selected) {
			*error_out = "MessageNew takes fetch attributes only for the selected mailbox";
			return -1;
		}
		if (e->next->count == 0) {
			*error_out = "MessageNew's fetch attributes may not be empty";
			return -1;
		}
		e = e->next;
		spec->fetch_att = args_copy(e, ar, 0);
	}
	if (selected) {
		unsigned ne = events & (IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE);

		if (ne != 0 && ne != (IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE)) {
			*error_out = "MessageNew and MessageExpunge go together";
			return -1;
		}
		if ((events & (IMAP_NOTIFY_FLAG_CHANGE | IMAP_NOTIFY_ANNOTATION_CHANGE)) != 0 && ne == 0) {
			*error_out = "FlagChange needs MessageNew and MessageExpunge";
			return -1;
		}
	}
	*events_out = events;
	return 0;
}

static int
name_add(const struct imap_arg *a, bool utf8, struct arena *ar, struct imap_notify_group *g, size_t *total,
         const char **error_out)
{
	const char *s;
	size_t len;
	char *name;

	if (!imap_arg_astring(a, &s, &len) || memchr(s, '\0', len) != NULL) {
		*error_out = "Expected a mailbox name";
		return -1;
	}
	if ((name = imap_mailbox_decode(s, len, utf8, ar)) == NULL) {
		*error_out = "Mailbox name not validly encoded";
		return -1;
	}
	if (strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/'))
		memcpy(name, "INBOX", 5);
	/* A trailing delimiter names the same mailbox (as CREATE). */
	len = strlen(name);
	if (len > 1 && name[len - 1] == '/')
		name[len - 1] = '\0';
	if (++*total > IMAP_NOTIFY_NAMES_MAX) {
		*error_out = "Too many mailbox names";
		return -2;
	}
	g->names[g->n_names++] = name;
	return 0;
}

/* one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")" */
static int
names_parse(const struct imap_arg *a, bool utf8, struct arena *ar, struct imap_notify_group *g, size_t *total,
            const char **error_out)
{
	int r;

	if (a == NULL) {
		*error_out = "SUBTREE and MAILBOXES need mailbox names";
		return -1;
	}
	if (a->type != IMAP_ARG_LIST) {
		g->names = arena_alloc(ar, sizeof(*g->names));
		return name_add(a, utf8, ar, g, total, error_out);
	}
	if (a->count == 0) {
		*error_out = "Empty list of mailbox names";
		return -1;
	}
	if (a->count > IMAP_NOTIFY_NAMES_MAX) {
		*error_out = "Too many mailbox names";
		return -2;
	}
	g->names = arena_alloc(ar, a->count * sizeof(*g->names));
	for (const struct imap_arg *n = a->list; n != NULL; n = n->next)
		if ((r = name_add(n, utf8, ar, g, total, error_out)) != 0)
			return r;
	return 0;
}

static const struct {
	const char *name;
	enum imap_notify_filter filter;
} filters[] = {
	{ "INBOXES", IMAP_NOTIFY_INBOXES },
	{ "PERSONAL", IMAP_NOTIFY_PERSONAL },
	{ "SUBSCRIBED", IMAP_NOTIFY_SUBSCRIBED },
	{ "SUBTREE", IMAP_NOTIFY_SUBTREE },
	{ "MAILBOXES", IMAP_NOTIFY_MAILBOXES },
};

static int
group_parse(const struct imap_arg *grp, bool utf8, struct arena *ar, struct imap_notify_spec *spec, size_t *total,
            const char **error_out)
{
	const struct imap_arg *f, *rest;
	struct imap_notify_group *g;
	unsigned events;
	size_t i;
	int r;

	if (grp->type != IMAP_ARG_LIST || grp->list == NULL || grp->list->type != IMAP_ARG_ATOM) {
		*error_out = "An event group is (filter events), e.g. (selected (MessageNew MessageExpunge))";
		return -1;
	}
	f = grp->list;
	if (imap_arg_atom_is(f, "SELECTED") || imap_arg_atom_is(f, "SELECTED-DELAYED")) {
		if (spec->has_selected) {
			*error_out = "Only one SELECTED or SELECTED-DELAYED group";
			return -1;
		}
		if (f->next == NULL || f->next->next != NULL) {
			*error_out = "The selected group is (SELECTED events)";
			return -1;
		}
		spec->has_selected = true;
		spec->selected_delayed = imap_arg_atom_is(f, "SELECTED-DELAYED");
		if (events_parse(f->next, true, ar, spec, &events, error_out) == -1)
			return -1;
		spec->selected_events = events;
		spec->used_events |= events;
		return 0;
	}
	for (i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
		if (imap_arg_atom_is(f, filters[i].name))
			break;
	if (i == sizeof(filters) / sizeof(filters[0])) {
		*error_out = "Unknown mailbox filter";
		return -1;
	}
	if (spec->n_groups >= IMAP_NOTIFY_GROUPS_MAX) {
		*error_out = "Too many event groups";
		return -1;
	}
	g = &spec->groups[spec->n_groups];
	memset(g, 0, sizeof(*g));
	g->filter = filters[i].filter;
	rest = f->next;
	if (g->filter == IMAP_NOTIFY_SUBTREE || g->filter == IMAP_NOTIFY_MAILBOXES) {
		if ((r = names_parse(rest, utf8, ar, g, total, error_out)) != 0)
			return r;
		rest = rest->next;
	}
	if (rest != NULL && rest->next != NULL) {
		*error_out = "An event group is (filter events)";
		return -1;
	}
	if (events_parse(rest, false, ar, spec, &events, error_out) == -1)
		return -1;
	g->events = events;
	spec->used_events |= events;
	spec->n_groups++;
	return 0;
}

int
imap_notify_parse(const struct imap_arg *args, bool utf8, struct arena *a, struct imap_notify_spec *spec,
                  const char **error_out)
{
	size_t total = 0;
	int r;

	memset(spec, 0, sizeof(*spec));
	if (args != NULL && imap_arg_atom_is(args, "NONE") && args->next == NULL) {
		spec->none = true;
		return 0;
	}
	if (args == NULL || !imap_arg_atom_is(args, "SET")) {
		*error_out = "Expected NOTIFY SET or NOTIFY NONE";
		return -1;
	}
	args = args->next;
	if (args != NULL && imap_arg_atom_is(args, "STATUS")) {
		spec->status = true;
		args = args->next;
	}
	if (args == NULL) {
		*error_out = "NOTIFY SET needs at least one event group";
		return -1;
	}
	for (; args != NULL; args = args->next)
		if ((r = group_parse(args, utf8, a, spec, &total, error_out)) != 0)
			return r;
	return 0;
}

bool
imap_notify_group_matches(const struct imap_notify_group *g, const char *name, bool subscribed)
{
	switch (g->filter) {
	case IMAP_NOTIFY_INBOXES:
		/* Mail is delivered to INBOX only (no Sieve fileinto). */
		return strcmp(name, "INBOX") == 0;
	case IMAP_NOTIFY_PERSONAL:
		return true;
	case IMAP_NOTIFY_SUBSCRIBED:
		return subscribed;
	case IMAP_NOTIFY_SUBTREE:
		for (size_t i = 0; i < g->n_names; i++) {
			size_t len = strlen(g->names[i]);

			if (strncmp(name, g->names[i], len) == 0 && (name[len] == '\0' || name[len] == '/'))
				return true;
		}
		return false;
	case IMAP_NOTIFY_MAILBOXES:
		for (size_t i = 0; i < g->n_names; i++)
			if (strcmp(name, g->names[i]) == 0)
				return true;
		return false;
	}
	return false;
}
