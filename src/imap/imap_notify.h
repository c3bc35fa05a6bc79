/* NOTIFY (RFC 5465): which changes a session hears of without asking.
 *
 * imap_notify_parse.c reads "NOTIFY SET ..." / "NOTIFY NONE" into a spec
 * (pure: no session, no store; fuzz/fuzz_imap_notify.c drives it).
 * imap_notify.c keeps the spec of a session, watches the user's mailboxes
 * through the change bus (imap_bus.c, the one mechanism by which sessions
 * learn of changes) and tells the client: STATUS for other mailboxes,
 * LIST for names and subscriptions, and the selected mailbox's updates
 * (imap_sync.c) also while no command runs. */
#ifndef TERN_IMAP_NOTIFY_H
#define TERN_IMAP_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

struct arena;
struct imap_arg;

/* Our bounds (RFC 5465 sets none).  Event groups in one NOTIFY SET (the
 * RFC's examples use three; one per filter kind is seven). */
#define IMAP_NOTIFY_GROUPS_MAX  16
/* Mailbox names over all SUBTREE and MAILBOXES groups (as Dovecot's
 * IMAP_NOTIFY_MAX_NAMES_PER_NS): past it NO [LIMIT]. */
#define IMAP_NOTIFY_NAMES_MAX   100

/* RFC 5465 section 5 (RFC 5423 names): bits in the order of the RFC. */
enum imap_notify_event {
	IMAP_NOTIFY_MESSAGE_NEW = 1u << 0,
	IMAP_NOTIFY_MESSAGE_EXPUNGE = 1u << 1,
	IMAP_NOTIFY_FLAG_CHANGE = 1u << 2,
	IMAP_NOTIFY_ANNOTATION_CHANGE = 1u << 3,
	IMAP_NOTIFY_MAILBOX_NAME = 1u << 4,
	IMAP_NOTIFY_SUBSCRIPTION_CHANGE = 1u << 5,
	IMAP_NOTIFY_MAILBOX_METADATA_CHANGE = 1u << 6,
	IMAP_NOTIFY_SERVER_METADATA_CHANGE = 1u << 7,
	IMAP_NOTIFY_UNKNOWN = 1u << 8,         /* an event-ext atom we do not know */
};
#define IMAP_NOTIFY_MESSAGE_EVENTS \
	(IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE | IMAP_NOTIFY_FLAG_CHANGE | IMAP_NOTIFY_ANNOTATION_CHANGE)

/* filter-mailboxes other than SELECTED / SELECTED-DELAYED. */
enum imap_notify_filter {
	IMAP_NOTIFY_INBOXES,
	IMAP_NOTIFY_PERSONAL,
	IMAP_NOTIFY_SUBSCRIBED,
	IMAP_NOTIFY_SUBTREE,
	IMAP_NOTIFY_MAILBOXES,
};

struct imap_notify_group {
	enum imap_notify_filter filter;
	unsigned events;               /* enum imap_notify_event bits; 0 for NONE */
	char **names;                  /* SUBTREE, MAILBOXES: UTF-8 names ("INBOX" canonical) */
	size_t n_names;
};

struct imap_notify_spec {
	bool none;                     /* NOTIFY NONE */
	bool status;                   /* SET STATUS: tell the current STATUS at once */
	bool has_selected;             /* a SELECTED or SELECTED-DELAYED group was given */
	bool selected_delayed;         /* ... SELECTED-DELAYED: expunges wait for a command */
	unsigned selected_events;
	/* MessageNew's fetch-att list for the selected mailbox (a copy in the
	 * spec's arena), NULL when none. */
	struct imap_arg *fetch_att;
	struct imap_notify_group groups[IMAP_NOTIFY_GROUPS_MAX];
	size_t n_groups;
	unsigned used_events;          /* every event named anywhere */
};

/* Parses the arguments after "NOTIFY" into *spec; names, groups and the
 * fetch-att copy go into a (which the caller keeps as long as the spec).
 * Mailbox names are decoded as imap_mailbox_decode(utf8).  Returns 0; -1
 * with a static text for a syntax error or a combination RFC 5465 section
 * 5 forbids (BAD); -2 past IMAP_NOTIFY_NAMES_MAX (NO [LIMIT]).  Events
 * the server does not support are not an error here: the caller answers
 * NO [BADEVENT] for them (used_events says which were named). */
int imap_notify_parse(const struct imap_arg *args, bool utf8, struct arena *a, struct imap_notify_spec *spec,
                      const char **error_out);

/* Writes the names of the events in mask, space-separated, to buf (size
 * bytes, always terminated; names that do not fit are left out whole):
 * BADEVENT's list of the supported events
 * (RFC 5465 section 5.9). */
void imap_notify_events_write(unsigned mask, char *buf, size_t size);

/* What an all-mailboxes subscription hears of one mailbox. */
#define IMAP_BUS_MESSAGES      (1u << 0)  /* messages or flags changed */
#define IMAP_BUS_NAME          (1u << 1)  /* created, deleted, renamed (to or from) */
#define IMAP_BUS_SUBSCRIPTION  (1u << 2)  /* subscribed or unsubscribed */
#define IMAP_BUS_METADATA      (1u << 3)  /* an annotation changed ("" = server's) */
/* Distinct mailboxes queued for one NOTIFY session before its overflow. */
#define IMAP_BUS_QUEUE_MAX     256
struct imap_bus_change {
	char *mailbox;                 /* malloc'd, UTF-8 */
	char *entry;                   /* METADATA: the entry that changed; NAME: the old name
	                                * of a rename; else NULL (malloc'd) */
	unsigned kinds;                /* IMAP_BUS_* */
};
/* Tells the all-mailboxes subscriptions of user of a change the store's
 * hook does not report (subscriptions, metadata, a rename's new name);
 * entry: the METADATA entry's name or the rename's old name, else NULL.  Any thread
 * (imap_bus.c). */
void imap_bus_publish_event(const char *user, const char *mailbox, const char *entry, unsigned kinds);
/* Whether c is about mailbox and entry (either may be NULL: entry NULL
 * is "not a METADATA change"). */
bool imap_bus_change_is(const struct imap_bus_change *c, const char *mailbox, const char *entry);
/* Frees the n changes of q and q. */
void imap_bus_changes_free(struct imap_bus_change *q, size_t n);
/* Whether mailbox name (UTF-8) falls under group g; subscribed says if it
 * is subscribed (for SUBSCRIBED). */
bool imap_notify_group_matches(const struct imap_notify_group *g, const char *name, bool subscribed);

#endif
