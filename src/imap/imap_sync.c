/* The selected mailbox's view and the untagged updates that keep it in
 * step with the store (RFC 9051 5.2, 7.4.1; RFC 7162 3.2.10 VANISHED).
 *
 * The view maps sequence numbers to UIDs as the client knows them.  Other
 * sessions, deliveries and POP3 change the store; the change bus tells us;
 * imap_sync_work (on a worker thread, at the end of a job, or alone before
 * a tagged reply or during IDLE) reads what changed since the view's
 * HIGHESTMODSEQ and tells the client: new messages as EXISTS, flag changes
 * as FETCH, expunges as EXPUNGE (or VANISHED under QRESYNC).  Expunges
 * found while FETCH, STORE or SEARCH run are held back (their sequence
 * numbers stay valid) and told at the next command that allows them.
 * Live searches (imap_search_update.h) hear of each change here too:
 * REMOVEFROM just before an expunge is told, ADDTO / REMOVEFROM after the
 * EXISTS and FETCH of new and changed messages. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_fetch.h"
#include "imap/imap_session.h"
#include "lib/arena.h"
#include "lib/xalloc.h"
#include "lib/conn.h"
#include "store/store_imap.h"

uint32_t
imap_view_remove(struct imap_view *v, uint32_t uid)
{
	uint32_t seq = imap_view_seq(v, uid);

	if (seq == 0)
		return 0;
	memmove(&v->uids[seq - 1], &v->uids[seq], (v->count - seq) * sizeof(v->uids[0]));
	v->count--;
	if (v->n_recent > 0 && imap_view_recent(v, uid)) {
		size_t i = 0;

		while (v->recent[i] != uid)
			i++;
		memmove(&v->recent[i], &v->recent[i + 1], (v->n_recent - i - 1) * sizeof(v->recent[0]));
		v->n_recent--;
	}
	return seq;
}

void
imap_view_add(struct imap_view *v, uint32_t uid)
{
	if (v->count == v->cap) {
		v->cap = v->cap < 16 ? 16 : v->cap * 2;
		v->uids = xrealloc(v->uids, v->cap * sizeof(v->uids[0]));
	}
	v->uids[v->count++] = uid;
}

void
imap_view_clear(struct imap_session *s)
{
	imap_bus_unsubscribe(&s->sub);
	free(s->view.mailbox);
	free(s->view.uids);
	free(s->view.keywords);
	free(s->view.recent);
	memset(&s->view, 0, sizeof(s->view));
	free(s->pending_expunged);
	s->pending_expunged = NULL;
	s->n_pending_expunged = 0;
	free(s->saved);
	s->saved = NULL;
	s->saved_count = 0;
	imap_search_contexts_free(&s->contexts);  /* RFC 5267 4.3: updates end with the selection */
	s->changes_unknown = false;
	s->bus_modseq = 0;
}

bool
imap_sync_needed(const struct imap_session *s)
{
	if (s->state != IMAP_STATE_SELECTED)
		return false;
	return s->changes_unknown || s->bus_modseq > s->view.highestmodseq;
}

void
imap_uidset_write(struct buf *out, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (i > 0)
			buf_puts(out, ",");
		if (j > i)
			buf_printf(out, "%u:%u", uids[i], uids[j]);
		else
			buf_printf(out, "%u", uids[i]);
		i = j + 1;
	}
}

static bool
uid_in(const uint32_t *set, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && set[lo] == uid;
}

void
imap_sync_flush_expunges(struct imap_session *s, struct buf *out)
{
	if (s->n_pending_expunged == 0)
		return;
	if (s->qresync) {
		/* RFC 7162 3.2.10: one VANISHED for them all, after the
		 * contexts' REMOVEFROM (RFC 5267 4.3.4). */
		imap_search_contexts_expunge(&s->contexts, &s->view, s->pending_expunged, s->n_pending_expunged, out);
		buf_puts(out, "* VANISHED ");
		imap_uidset_write(out, s->pending_expunged, s->n_pending_expunged);
		buf_puts(out, "\r\n");
		for (size_t i = 0; i < s->n_pending_expunged; i++)
			imap_view_remove(&s->view, s->pending_expunged[i]);
	} else {
		/* Ascending UIDs; each EXPUNGE renumbers those after it, so
		 * the sequence number is taken after the previous removal. */
		for (size_t i = 0; i < s->n_pending_expunged; i++) {
			uint32_t seq;

			/* RFC 5267 4.3.4: REMOVEFROM first, while its
			 * sequence number is still the message's */
			imap_search_contexts_expunge(&s->contexts, &s->view, &s->pending_expunged[i], 1, out);
			seq = imap_view_remove(&s->view, s->pending_expunged[i]);

			if (seq != 0)
				buf_printf(out, "* %u EXPUNGE\r\n", seq);
		}
	}
	free(s->pending_expunged);
	s->pending_expunged = NULL;
	s->n_pending_expunged = 0;
}

/* Adds the UIDs in vanished that the view still shows to the held-back
 * expunges (kept ascending and without duplicates). */
static void
hold_expunges(struct imap_session *s, const uint32_t *vanished, size_t n)
{
	uint32_t *fresh = NULL, *merged;
	size_t n_fresh = 0, i = 0, j = 0, k = 0;

	for (size_t x = 0; x < n; x++) {
		if (imap_view_seq(&s->view, vanished[x]) == 0)
			continue;
		if (fresh == NULL)
			fresh = xmalloc(n * sizeof(*fresh));
		fresh[n_fresh++] = vanished[x];
	}
	if (n_fresh == 0)
		return;
	/* Merge two ascending lists, dropping duplicates. */
	merged = xmalloc((s->n_pending_expunged + n_fresh) * sizeof(*merged));
	while (i < s->n_pending_expunged || j < n_fresh) {
		uint32_t u;

		if (j >= n_fresh || (i < s->n_pending_expunged && s->pending_expunged[i] < fresh[j]))
			u = s->pending_expunged[i++];
		else if (i < s->n_pending_expunged && s->pending_expunged[i] == fresh[j])
			u = (j++, s->pending_expunged[i++]);
		else
			u = fresh[j++];
		merged[k++] = u;
	}
	free(fresh);
	free(s->pending_expunged);
	s->pending_expunged = merged;
	s->n_pending_expunged = k;
}

/* New messages came into the view (uids[from..]): a read-write session
 * claims those no session has been told of (store_imap_recent), which
 * are then \Recent for it alone; a read-only one sees the unclaimed ones
 * as recent and claims nothing (RFC 3501 2.3.2).  RECENT follows EXISTS
 * (RFC 3501 7.3.2). */
static void
sync_recent(struct imap_session *s, struct store *st, size_t from, uint32_t uidnext, struct buf *out)
{
	struct imap_view *v = &s->view;
	uint32_t first = 0;
	const char *error = NULL;

	if (store_imap_recent(st, v->mailbox, v->read_only ? 0 : uidnext, &first, &error) == STORE_OK)
		imap_view_recent_add(v, from, first);
	buf_printf(out, "* %zu RECENT\r\n", v->n_recent);
}

/* The search contexts see the new and changed messages of the view
 * (RFC 5267 4.3.3: after their EXISTS and FETCH), the session's own
 * changes included; messages whose expunge is held back are left to
 * their EXPUNGE. */
static void
sync_contexts(struct imap_session *s, struct store *st, const struct store_imap_msg *changed, size_t n_changed,
              struct buf *out)
{
	struct imap_ctx ctx;
	struct arena *a;
	uint32_t *uids;
	size_t n = 0;

	if (s->contexts.count == 0 || n_changed == 0)
		return;
	uids = xmalloc(n_changed * sizeof(*uids));
	for (size_t i = 0; i < n_changed; i++) {
		uint32_t uid = changed[i].uid;

		if (imap_view_seq(&s->view, uid) != 0 && !uid_in(s->pending_expunged, s->n_pending_expunged, uid))
			uids[n++] = uid;
	}
	a = arena_new(16384, false);
	imap_ctx_init(s, &ctx, a);
	ctx.st = st;
	imap_search_contexts_changed(&s->contexts, &ctx, uids, n, out);
	arena_free(&a);
	free(uids);
}

int
imap_sync_work(struct imap_session *s, struct store *st, bool expunges_ok, const uint32_t *skip, size_t n_skip,
               struct buf *out)
{
	struct imap_view *v = &s->view;
	struct store_mailbox_info info;
	struct store_imap_msg *changed = NULL;
	uint32_t *vanished = NULL;
	size_t n_changed = 0, n_vanished = 0;
	const char *error = NULL;
	uint32_t old_uidnext = v->uidnext;
	size_t old_count;
	int r;

	r = store_imap_changes(st, v->mailbox, v->highestmodseq, &info, &changed, &n_changed, &vanished, &n_vanished,
	                       &error);
	if (r != STORE_OK) {
		if (r == STORE_IMAP_NONEXISTENT) {
			/* The mailbox was deleted or renamed away: every
			 * message is gone for this session. */
			hold_expunges(s, v->uids, v->count);
			if (expunges_ok)
				imap_sync_flush_expunges(s, out);
			v->highestmodseq = UINT64_MAX;
			return 0;
		}
		return -1;
	}
	hold_expunges(s, vanished, n_vanished);
	if (expunges_ok)
		imap_sync_flush_expunges(s, out);

	/* New keywords first: a FLAGS response before any FETCH shows
	 * them (RFC 3501 7.2.6), new messages' included. */
	imap_view_prepare(v, changed, n_changed, out);
	/* Flag changes of messages the client knows (before new ones are
	 * added, so sequence numbers are the client's). */
	for (size_t i = 0; i < n_changed; i++) {
		const struct store_imap_msg *m = &changed[i];
		uint32_t seq;

		if (m->uid >= old_uidnext)
			continue;
		if ((seq = imap_view_seq(v, m->uid)) == 0)
			continue;
		if (uid_in(skip, n_skip, m->uid) || uid_in(s->pending_expunged, s->n_pending_expunged, m->uid))
			continue;
		buf_printf(out, "* %u FETCH (", seq);
		if (s->qresync || s->condstore)
			buf_printf(out, "UID %u ", m->uid);
		buf_puts(out, "FLAGS ");
		imap_flags_write(out, m->flags, m->keywords);
		if (s->condstore)
			buf_printf(out, " MODSEQ (%llu)", (unsigned long long)m->modseq);
		buf_puts(out, ")\r\n");
	}
	old_count = v->count;
	for (size_t i = 0; i < n_changed; i++) {
		const struct store_imap_msg *m = &changed[i];

		if (m->uid < old_uidnext || (v->count > 0 && m->uid <= v->uids[v->count - 1]))
			continue;
		if (v->count >= IMAP_VIEW_MAX)
			break;
		imap_view_add(v, m->uid);
	}
	if (v->count != old_count) {
		buf_printf(out, "* %zu EXISTS\r\n", v->count);
		if (!s->imap4rev2)
			sync_recent(s, st, old_count, info.uidnext, out);
		imap_notify_new_messages(s, st, old_count, out);
	}
	sync_contexts(s, st, changed, n_changed, out);
	v->highestmodseq = info.highestmodseq;
	if (info.uidnext > v->uidnext)
		v->uidnext = info.uidnext;
	store_imap_msgs_free(changed, n_changed);
	free(vanished);
	return 0;
}

struct sync_job {
	struct imap_session *s;
	bool expunges_ok;
	bool failed;
	struct buf out;
	void (*after)(struct imap_session *s, bool failed);
};

static void
sync_job_work(void *arg)
{
	struct sync_job *j = arg;
	struct store *st = imap_store_get(j->s, NULL);

	if (st == NULL) {
		j->failed = true;
		return;
	}
	j->failed = imap_sync_work(j->s, st, j->expunges_ok, NULL, 0, &j->out) == -1;
	imap_store_release(&st, j->failed);
}

static void
sync_job_done(void *arg)
{
	struct sync_job *j = arg;
	struct imap_session *s = j->s;

	s->sync_running = false;
	if (!conn_closing(s->c)) {
		if (j->out.len > 0)
			conn_write(s->c, j->out.data, j->out.len);
		j->after(s, j->failed);
	}
	buf_free(&j->out);
	free(j);
}

void
imap_sync_start(struct imap_session *s, bool expunges_ok, void (*after)(struct imap_session *s, bool failed))
{
	struct sync_job *j = xcalloc(1, sizeof(*j));

	j->s = s;
	j->expunges_ok = expunges_ok;
	j->after = after;
	s->changes_unknown = false;
	s->sync_running = true;
	imap_job(s, sync_job_work, sync_job_done, j);
}
