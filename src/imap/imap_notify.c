/* NOTIFY (RFC 5465) in the session: the command, and telling the client
 * what changed while no command runs (or during IDLE).
 *
 * Changes come from the change bus, the one mechanism sessions learn of
 * changes by (imap_bus.c): NOTIFY SET adds a subscription to all of the
 * user's mailboxes, whose posts carry the names that changed.  They wait
 * here, merged by name and bounded (IMAP_BUS_QUEUE_MAX), until the session
 * may speak; a job then writes STATUS for other mailboxes' messages, LIST
 * for names and subscriptions, and the selected mailbox is synced as IDLE
 * does (imap_sync.c).  Past the bound (a client that does not read, or a
 * flood of changes) the client gets NOTIFICATIONOVERFLOW and NOTIFY is
 * off, as if NOTIFY NONE (RFC 5465 5.8).
 *
 * Choices: INBOXES is INBOX (mail is delivered nowhere else); the STATUS
 * items are MESSAGES UIDNEXT UIDVALIDITY UNSEEN, with HIGHESTMODSEQ when
 * FlagChange is asked (as Dovecot); without FlagChange a change that
 * moved neither MESSAGES, UIDNEXT nor UIDVALIDITY is not told (the bus
 * does not say which kind of change it was: see told_changed); a rename is
 * told as the old name's LIST (\NonExistent) and the new name's LIST. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_fetch.h"
#include "imap/imap_fetch_private.h"
#include "imap/imap_mailbox_int.h"
#include "imap/imap_metadata.h"
#include "imap/imap_notify.h"
#include "imap/imap_session.h"
#include "lib/arena.h"
#include "lib/xalloc.h"
#include "store/store_imap.h"

/* The events Tern can report (BADEVENT lists them, RFC 5465 5.9). */
#define SUPPORTED_EVENTS                                                                   \
	(IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE | IMAP_NOTIFY_FLAG_CHANGE | \
	 IMAP_NOTIFY_MAILBOX_NAME | IMAP_NOTIFY_SUBSCRIPTION_CHANGE |                       \
	 IMAP_NOTIFY_MAILBOX_METADATA_CHANGE | IMAP_NOTIFY_SERVER_METADATA_CHANGE)

/* What STATUS last told of a mailbox: without FlagChange, a change that
 * moved none of these (a flag change) is not told.  A small ring: a
 * mailbox that fell out of it is told again, harmlessly. */
#define NOTIFY_TOLD_MAX 64
struct notify_told {
	char *name;                    /* malloc'd; NULL: free slot */
	uint32_t messages, uidnext, uidvalidity;
};

struct imap_notify {
	struct arena *arena;           /* the spec's names and fetch-att */
	struct notify_told told[NOTIFY_TOLD_MAX]; /* owned by the job while one runs */
	size_t told_next;
	struct imap_notify_spec spec;
	struct imap_bus_sub *sub;      /* all of the user's mailboxes */
	struct imap_bus_change *pending; /* merged by name, at most IMAP_BUS_QUEUE_MAX */
	size_t n_pending;
	bool overflow;
	bool running;                  /* a notify job is in flight */
	bool need_subscriptions;       /* a SUBSCRIBED group: jobs read the mailbox list */
};

#define pending_free imap_bus_changes_free

static void
notify_free(struct imap_notify **np)
{
	struct imap_notify *n = *np;

	if (n == NULL)
		return;
	*np = NULL;
	imap_bus_unsubscribe(&n->sub);
	pending_free(n->pending, n->n_pending);
	for (size_t i = 0; i < NOTIFY_TOLD_MAX; i++)
		free(n->told[i].name);
	arena_free(&n->arena);
	free(n);
}

/* Whether st differs from what was last told of name (or nothing was);
 * remembers st. */
static bool
told_changed(struct imap_notify *n, const char *name, const struct store_mailbox_status *st)
{
	struct notify_told *t = NULL;
	bool changed;

	for (size_t i = 0; i < NOTIFY_TOLD_MAX && t == NULL; i++)
		if (n->told[i].name != NULL && strcmp(n->told[i].name, name) == 0)
			t = &n->told[i];
	if (t == NULL) {
		t = &n->told[n->told_next];
		n->told_next = (n->told_next + 1) % NOTIFY_TOLD_MAX;
		free(t->name);
		t->name = xstrdup(name);
		changed = true;
	} else {
		changed = t->messages != st->messages || t->uidnext != st->uidnext ||
		          t->uidvalidity != st->uidvalidity;
	}
	t->messages = st->messages;
	t->uidnext = st->uidnext;
	t->uidvalidity = st->uidvalidity;
	return changed;
}

void
imap_notify_free(struct imap_session *s)
{
	struct imap_notify *n = s->notify;

	if (n != NULL && n->running) {
		/* The job in flight frees it when done. */
		imap_bus_unsubscribe(&n->sub);
		s->notify = NULL;
		return;
	}
	notify_free(&s->notify);
}

/* The events asked for mailbox name (the union of the groups it falls
 * under). */
static unsigned
events_for(const struct imap_notify_spec *spec, const char *name, bool subscribed)
{
	unsigned events = 0;

	for (size_t i = 0; i < spec->n_groups; i++)
		if (imap_notify_group_matches(&spec->groups[i], name, subscribed))
			events |= spec->groups[i].events;
	return events;
}

/* --- the job: STATUS and LIST lines on a worker thread --- */

struct notify_job {
	struct imap_session *s;
	struct imap_notify *n;         /* the spec as it was when the job began */
	char *selected;                /* the selected mailbox, NULL when none */
	struct imap_bus_change *changes; /* NULL: every mailbox (SET STATUS) */
	size_t n_changes;
	bool command;                  /* NOTIFY SET STATUS: ends the command */
	struct imap_result res;
	struct buf out;
};

static const struct store_mailbox_entry *
entry_find(const struct store_mailbox_entry *e, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(e[i].name, name) == 0)
			return &e[i];
	return NULL;
}

/* A STATUS for name (RFC 5465 5.2-5.4), left out when nothing events
 * care about moved since the last one (unless always: SET STATUS). */
static void
status_line(struct imap_ctx *ctx, struct imap_notify *n, const char *name, unsigned events, bool always,
            struct buf *out)
{
	struct imap_status_req req = { 0, { 0 } };
	struct store_mailbox_status st;
	const char *error = NULL;

	if ((events & IMAP_NOTIFY_MESSAGE_EVENTS) == 0)
		return;
	if (store_mailbox_status(ctx->st, name, &st, &error) != STORE_OK)
		return;  /* gone meanwhile: its LIST tells */
	if (!told_changed(n, name, &st) && !always && !(events & IMAP_NOTIFY_FLAG_CHANGE))
		return;
	req.item[req.n++] = IMAP_STATUS_MESSAGES;
	req.item[req.n++] = IMAP_STATUS_UIDNEXT;
	req.item[req.n++] = IMAP_STATUS_UIDVALIDITY;
	req.item[req.n++] = IMAP_STATUS_UNSEEN;
	if (events & IMAP_NOTIFY_FLAG_CHANGE)
		req.item[req.n++] = IMAP_STATUS_HIGHESTMODSEQ;
	(void)imap_status_write(ctx, name, &req, out, &error);
}

/* "* LIST (attrs) "/" name": RFC 5465 5.4 (MailboxName, with OLDNAME
 * after a rename as RFC 5465's example has it), 5.5 (SubscriptionChange). */
static void
list_line(struct imap_ctx *ctx, const char *name, const char *oldname, bool exists, bool subscribed,
          struct buf *out)
{
	buf_puts(out, "* LIST (");
	if (subscribed)
		buf_puts(out, exists ? "\\Subscribed" : "\\Subscribed \\NonExistent");
	else if (!exists)
		buf_puts(out, "\\NonExistent");
	buf_puts(out, ") \"/\" ");
	imap_mailbox_write(out, name, ctx->utf8);
	if (oldname != NULL && exists) {
		buf_puts(out, " (\"OLDNAME\" (");
		imap_mailbox_write(out, oldname, ctx->utf8);
		buf_puts(out, "))");
	}
	buf_puts(out, "\r\n");
}

static void
change_lines(struct imap_ctx *ctx, const struct notify_job *j, const struct imap_bus_change *c,
             const struct store_mailbox_entry *e, size_t n_e, struct buf *out)
{
	const struct store_mailbox_entry *me = entry_find(e, n_e, c->mailbox);
	/* Without the list (message changes only), STATUS finds out. */
	bool exists = e == NULL || (me != NULL && me->exists);
	bool subscribed = me != NULL && me->subscribed;
	unsigned events = events_for(&j->n->spec, c->mailbox, subscribed);
	bool selected = j->selected != NULL && strcmp(j->selected, c->mailbox) == 0;

	if ((c->kinds & IMAP_BUS_NAME) && (events & IMAP_NOTIFY_MAILBOX_NAME))
		list_line(ctx, c->mailbox, c->entry, exists, subscribed, out);
	else if ((c->kinds & IMAP_BUS_SUBSCRIPTION) && (events & IMAP_NOTIFY_SUBSCRIPTION_CHANGE))
		list_line(ctx, c->mailbox, NULL, exists, subscribed, out);
	/* The selected mailbox speaks through its own updates (the SELECTED
	 * group), never STATUS (RFC 5465 5.1). */
	if ((c->kinds & IMAP_BUS_MESSAGES) && exists && !selected)
		status_line(ctx, j->n, c->mailbox, events, false, out);
}

/* "* METADATA mailbox entry ..." (RFC 5464 4.4.2's unsolicited form) for
 * the METADATA changes of changes[i]'s mailbox, once, at the first of
 * them: MailboxMetadataChange (RFC 5465 5.7) for a mailbox, the server's
 * ("") for ServerMetadataChange (5.8) in any group. */
static void
metadata_line(struct imap_ctx *ctx, const struct notify_job *j, size_t i, const struct store_mailbox_entry *e,
              size_t n_e, struct buf *out)
{
	const struct imap_notify_spec *spec = &j->n->spec;
	const char *mb = j->changes[i].mailbox;
	const struct store_mailbox_entry *me = entry_find(e, n_e, mb);
	bool subscribed = me != NULL && me->subscribed;
	bool selected = j->selected != NULL && strcmp(j->selected, mb) == 0;
	bool want;

	for (size_t k = 0; k < i; k++)
		if ((j->changes[k].kinds & IMAP_BUS_METADATA) && strcmp(j->changes[k].mailbox, mb) == 0)
			return;
	if (mb[0] == '\0')
		want = (spec->used_events & IMAP_NOTIFY_SERVER_METADATA_CHANGE) != 0;
	else
		want = (events_for(spec, mb, subscribed) & IMAP_NOTIFY_MAILBOX_METADATA_CHANGE) != 0 ||
		       (selected && (spec->selected_events & IMAP_NOTIFY_MAILBOX_METADATA_CHANGE));
	if (!want)
		return;
	buf_puts(out, "* METADATA ");
	if (mb[0] == '\0')
		buf_puts(out, "\"\"");
	else
		imap_mailbox_write(out, mb, ctx->utf8);
	for (size_t k = i; k < j->n_changes; k++) {
		const struct imap_bus_change *c = &j->changes[k];

		if ((c->kinds & IMAP_BUS_METADATA) && c->entry != NULL && strcmp(c->mailbox, mb) == 0) {
			buf_puts(out, " ");
			imap_metadata_entry_write(out, c->entry);
		}
	}
	buf_puts(out, "\r\n");
}

static bool
needs_list(const struct notify_job *j)
{
	if (j->changes == NULL || j->n->need_subscriptions)
		return true;
	for (size_t i = 0; i < j->n_changes; i++)
		if (j->changes[i].kinds & (IMAP_BUS_NAME | IMAP_BUS_SUBSCRIPTION))
			return true;
	return false;
}

static void
notify_job_work(void *arg)
{
	struct notify_job *j = arg;
	struct arena *a = arena_new(4096, false);
	struct store_mailbox_entry *e = NULL;
	size_t n_e = 0;
	const char *error = NULL;
	struct imap_ctx ctx;

	imap_ctx_init(j->s, &ctx, a);
	ctx.view = NULL;
	if ((ctx.st = imap_store_get(j->s, &j->res)) == NULL)
		goto out;
	/* The mailbox list (up to STORE_MAILBOXES_MAX names) only when
	 * needed: SET STATUS, a name or subscription change, a SUBSCRIBED
	 * group.  Message changes alone read one STATUS each. */
	if (needs_list(j) && store_mailboxes(ctx.st, &e, &n_e, &error) == -1) {
		imap_result_store(&j->res, -1, NULL, error);
		goto out;
	}
	if (j->changes == NULL) {
		/* SET STATUS (RFC 5465 5.1): every mailbox a group watches for
		 * message events, but the selected one. */
		for (size_t i = 0; i < n_e; i++) {
			if (!e[i].exists || (j->selected != NULL && strcmp(j->selected, e[i].name) == 0))
				continue;
			status_line(&ctx, j->n, e[i].name, events_for(&j->n->spec, e[i].name, e[i].subscribed), true,
			            &j->out);
		}
	} else {
		for (size_t i = 0; i < j->n_changes; i++) {
			if (j->changes[i].kinds & IMAP_BUS_METADATA)
				metadata_line(&ctx, j, i, e, n_e, &j->out);
			else
				change_lines(&ctx, j, &j->changes[i], e, n_e, &j->out);
		}
	}
	j->res.status = IMAP_OK;
out:
	store_mailbox_entries_free(e, n_e);
	imap_store_release(&ctx.st, false);
	arena_free(&a);
}

#define notify_kick imap_notify_kick

static void
notify_job_done(void *arg)
{
	struct notify_job *j = arg;
	struct imap_session *s = j->s;

	if (s->notify == j->n)
		j->n->running = false;
	else
		notify_free(&j->n);        /* NOTIFY NONE or overflow meanwhile */
	if (j->command) {
		imap_job_reply(s, &j->out, &j->res);
	} else if (!conn_closing(s->c)) {
		if (j->out.len > 0)
			conn_write(s->c, j->out.data, j->out.len);
		/* More may have come meanwhile (during IDLE no command
		 * ends to send it). */
		notify_kick(s);
	}
	pending_free(j->changes, j->n_changes);
	free(j->selected);
	buf_free(&j->out);
	free(j);
}

static void
notify_job_start(struct imap_session *s, struct imap_bus_change *changes, size_t n_changes, bool command)
{
	struct notify_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->n = s->notify;
	j->n->running = true;
	j->changes = changes;
	j->n_changes = n_changes;
	j->command = command;
	if (s->state == IMAP_STATE_SELECTED)
		j->selected = xstrdup(s->view.mailbox);
	imap_job(s, notify_job_work, notify_job_done, j);
}

/* --- the selected mailbox: MessageNew's fetch-att --- */

/* New messages told with their fetch-att at most (more: EXISTS only, the
 * client fetches), and the bytes of one message's FETCH (a literal above
 * it is not sent: the client fetches it). */
#define NOTIFY_FETCH_MSGS_MAX   100
#define NOTIFY_FETCH_BYTES_MAX  IMAP_FETCH_BATCH_BYTES

/* RFC 5465 5.2: "* n FETCH (fetch-att ...)" after EXISTS for each new
 * message.  The attributes were checked by NOTIFY SET; \Seen is never
 * set by them (the client did not ask to read, it was told). */
void
imap_notify_new_messages(struct imap_session *s, struct store *st, size_t from, struct buf *out)
{
	struct imap_view *v = &s->view;
	const struct imap_arg *fetch_att;
	struct arena *a;
	struct store_imap_msg *m = NULL;
	struct imap_fetch_spec *spec;
	struct imap_fetch_out fo;
	struct imap_result res = { 0 };
	struct imap_ctx ctx;
	const char *error = NULL;
	size_t n_m = 0;

	if (s->notify == NULL || s->notify->spec.fetch_att == NULL || from >= v->count)
		return;
	fetch_att = s->notify->spec.fetch_att;
	a = arena_new(4096, false);
	imap_ctx_init(s, &ctx, a);
	ctx.st = st;
	imap_fetch_out_init(&fo);
	if (v->count - from > NOTIFY_FETCH_MSGS_MAX || (spec = imap_fetch_parse(&ctx, fetch_att, NULL, &res)) == NULL)
		goto out;
	if (store_imap_get(st, v->mailbox, &v->uids[from], v->count - from, &m, &n_m, &error) != STORE_OK)
		goto out;
	/* \Recent in their FLAGS, as FETCH shows it (the sync just told
	 * their keywords, so no FLAGS response comes of it). */
	imap_view_prepare(v, m, n_m, out);
	for (size_t i = 0; i < n_m; i++) {
		uint32_t seq = imap_view_seq(v, m[i].uid);

		imap_fetch_out_reset(&fo);
		if (seq == 0 || imap_fetch_render(&ctx, spec, seq, &m[i], false, &fo, &res) != 0)
			continue;
		if (imap_fetch_out_size(&fo) <= NOTIFY_FETCH_BYTES_MAX)
			(void)imap_fetch_out_flatten(&fo, out);
	}
out:
	store_imap_msgs_free(m, n_m);
	imap_fetch_out_free(&fo);
	arena_free(&a);
}

static void
notify_synced(struct imap_session *s, bool failed)
{
	if (!failed)
		imap_notify_kick(s);
}

/* --- when the session may speak --- */

/* Between commands (or during IDLE), with nothing running: sends what
 * waits.  RFC 5465 3: notifications go out while no command is in
 * progress, or during IDLE. */
void
imap_notify_kick(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	struct imap_bus_change *q;
	size_t nq;

	if (n == NULL || n->running || s->busy || s->sync_running || s->fetch != NULL || s->append != NULL ||
	    s->output_paused || conn_closing(s->c) || s->state == IMAP_STATE_LOGOUT)
		return;
	if (s->tag.len > 0 && !s->idling)
		return;
	if (conn_output_pending(s->c) >= NET_OUTPUT_HIGH)
		return;
	if (n->overflow) {
		conn_puts(s->c, "* OK [NOTIFICATIONOVERFLOW] Too many changes to tell; NOTIFY is now off\r\n");
		imap_notify_free(s);
		return;
	}
	if (n->spec.selected_events != 0 && imap_sync_needed(s)) {
		/* SELECTED-DELAYED: expunges wait for a command that may tell
		 * them (RFC 5465 5.2), IDLE being one. */
		imap_sync_start(s, !n->spec.selected_delayed || s->idling, notify_synced);
		return;
	}
	if (n->n_pending == 0)
		return;
	q = n->pending;
	nq = n->n_pending;
	n->pending = NULL;
	n->n_pending = 0;
	notify_job_start(s, q, nq, false);
}

void
imap_notify_changes(struct imap_session *s, struct imap_bus_change *q, size_t nq, bool overflow)
{
	struct imap_notify *n = s->notify;

	if (n == NULL) {
		pending_free(q, nq);
		return;
	}
	n->overflow |= overflow;
	for (size_t i = 0; i < nq && !n->overflow; i++) {
		size_t k;

		for (k = 0; k < n->n_pending; k++)
			if (imap_bus_change_is(&n->pending[k], q[i].mailbox, q[i].entry))
				break;
		if (k < n->n_pending) {
			n->pending[k].kinds |= q[i].kinds;
			continue;
		}
		if (n->n_pending >= IMAP_BUS_QUEUE_MAX) {
			n->overflow = true;
			break;
		}
		if (n->pending == NULL)
			n->pending = xcalloc(IMAP_BUS_QUEUE_MAX, sizeof(*n->pending));
		n->pending[n->n_pending] = q[i];
		q[i].mailbox = NULL;
		q[i].entry = NULL;
		n->n_pending++;
	}
	if (n->overflow) {
		pending_free(n->pending, n->n_pending);
		n->pending = NULL;
		n->n_pending = 0;
	}
	pending_free(q, nq);
	notify_kick(s);
}

/* --- the command --- */

/* NOTIFY SET [STATUS] event-group ... / NOTIFY NONE (RFC 5465 4) */
void
imap_cmd_notify(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	struct imap_notify *n = xcalloc(1, sizeof(*n));
	const char *error = NULL;
	int r;

	n->arena = arena_new(2048, false);
	r = imap_notify_parse(args, s->utf8, n->arena, &n->spec, &error);
	if (r == -1) {
		notify_free(&n);
		imap_complete_bad(s, "%s", error);
		return;
	}
	if (r == -2) {
		notify_free(&n);
		imap_complete(s, IMAP_NO, "LIMIT", "%s (at most %d)", error, IMAP_NOTIFY_NAMES_MAX);
		return;
	}
	if ((n->spec.used_events & ~(unsigned)SUPPORTED_EVENTS) != 0) {
		char list[256], code[300];

		imap_notify_events_write(SUPPORTED_EVENTS, list, sizeof(list));
		snprintf(code, sizeof(code), "BADEVENT (%s)", list);
		notify_free(&n);
		imap_complete(s, IMAP_NO, code, "Unsupported NOTIFY event");
		return;
	}
	for (size_t i = 0; i < n->spec.n_groups; i++)
		if (n->spec.groups[i].filter == IMAP_NOTIFY_SUBSCRIBED)
			n->need_subscriptions = true;
	if (n->spec.fetch_att != NULL) {
		struct imap_ctx ctx;
		struct imap_result res = { 0 };

		imap_ctx_init(s, &ctx, s->arena);
		if (imap_fetch_parse(&ctx, n->spec.fetch_att, NULL, &res) == NULL) {
			notify_free(&n);
			imap_complete_bad(s, "%s", res.text[0] != '\0' ? res.text : "Invalid fetch attributes");
			return;
		}
	}
	/* The new spec replaces the old one whole (RFC 5465 4). */
	imap_notify_free(s);
	if (n->spec.none) {
		notify_free(&n);
		imap_complete(s, IMAP_OK, NULL, "NOTIFY completed");
		return;
	}
	/* Other mailboxes, or the selected one's metadata, come through a
	 * subscription to all of the user's mailboxes; the selected
	 * mailbox's messages through the view's own. */
	if (n->spec.n_groups > 0 || (n->spec.selected_events & ~(unsigned)IMAP_NOTIFY_MESSAGE_EVENTS) != 0)
		n->sub = imap_bus_subscribe(s, s->user, NULL);
	s->notify = n;
	if (n->spec.status && n->spec.n_groups > 0) {
		notify_job_start(s, NULL, 0, true);
		return;
	}
	imap_complete(s, IMAP_OK, NULL, "NOTIFY completed");
}

bool
imap_notify_selected_events(const struct imap_session *s)
{
	return s->notify != NULL && s->notify->spec.selected_events != 0;
}
