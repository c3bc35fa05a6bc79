/* SELECT and EXAMINE (RFC 9051 6.3.2-3) with the CONDSTORE and QRESYNC
 * parameters (RFC 7162 3.1.8, 3.2.5), CLOSE (6.4.2) and UNSELECT (RFC
 * 3691).  The job lists the mailbox once, builds the view and writes every
 * untagged response; the loop then installs the view and subscribes it to
 * the change bus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_fetch.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_session.h"
#include "lib/arena.h"
#include "lib/xalloc.h"
#include "store/store_imap.h"

struct select_job {
	struct imap_session *s;
	char *mailbox;
	bool read_only;
	/* QRESYNC parameters */
	bool qresync;
	uint32_t q_uidvalidity;
	uint64_t q_modseq;
	struct imap_seqset q_known;    /* known UIDs, in the command arena; count 0: all */

	struct imap_view view;
	struct imap_result res;
	struct buf out;
};

static bool
known_uid(const struct select_job *j, uint32_t uid)
{
	if (j->q_known.count == 0)
		return true;
	for (size_t i = 0; i < j->q_known.count; i++) {
		uint32_t lo = j->q_known.ranges[i].lo, hi = j->q_known.ranges[i].hi;

		/* "n:*" reaches every UID from n up ("*" sorts as lo). */
		if (lo == IMAP_SEQ_STAR) {
			if (hi == IMAP_SEQ_STAR || uid >= hi)
				return true;
			continue;
		}
		if (uid >= lo && uid <= hi)
			return true;
	}
	return false;
}

static void
select_work(void *arg)
{
	struct select_job *j = arg;
	struct imap_session *s = j->s;
	struct store *st = imap_store_get(s, &j->res);
	struct store_mailbox_info info;
	uint32_t *uids = NULL, unseen_seq = 0;
	size_t n = 0;
	char *keywords = NULL;
	const char *error = NULL;
	int r;

	if (st == NULL)
		return;
	r = store_imap_view(st, j->mailbox, &info, &uids, &n, &unseen_seq, &keywords, &error);
	if (r != STORE_OK) {
		j->res.status = IMAP_NO;
		if (r == STORE_IMAP_NONEXISTENT) {
			snprintf(j->res.code, sizeof(j->res.code), "NONEXISTENT");
			snprintf(j->res.text, sizeof(j->res.text), "No such mailbox");
		} else {
			snprintf(j->res.code, sizeof(j->res.code), "UNAVAILABLE");
			snprintf(j->res.text, sizeof(j->res.text), "The mailbox cannot be opened now");
		}
		imap_store_release(&st, r != STORE_IMAP_NONEXISTENT);
		return;
	}
	if (n > IMAP_VIEW_MAX)
		n = IMAP_VIEW_MAX;
	if (unseen_seq > n)
		unseen_seq = 0;
	j->view.uids = uids;
	j->view.cap = n;
	j->view.count = n;
	j->view.uidvalidity = info.uidvalidity;
	j->view.uidnext = info.uidnext;
	j->view.highestmodseq = info.highestmodseq;
	j->view.read_only = j->read_only;
	(void)imap_view_keywords_add(&j->view, keywords);
	free(keywords);
	buf_printf(&j->out, "* %zu EXISTS\r\n", n);
	if (!s->imap4rev2) {
		uint32_t first = 0;

		/* RFC 3501 2.3.2: SELECT takes the messages no session has
		 * seen as recent for itself; EXAMINE looks only. */
		if (store_imap_recent(st, j->mailbox, j->read_only ? 0 : info.uidnext, &first, &error) == STORE_OK)
			imap_view_recent_add(&j->view, 0, first);
		buf_printf(&j->out, "* %zu RECENT\r\n", j->view.n_recent);
		if (unseen_seq > 0)
			buf_printf(&j->out, "* OK [UNSEEN %u] First unseen\r\n", unseen_seq);
	}
	buf_printf(&j->out, "* OK [UIDVALIDITY %u] UIDs valid\r\n", info.uidvalidity);
	buf_printf(&j->out, "* OK [UIDNEXT %u] Predicted next UID\r\n", info.uidnext);
	imap_view_flags_write(&j->view, &j->out);
	buf_printf(&j->out, "* OK [HIGHESTMODSEQ %llu] Highest\r\n", (unsigned long long)info.highestmodseq);
	{
		char id[STORE_MAILBOXID_MAX + 1];

		/* RFC 8474 4.2 */
		store_imap_mailboxid(info.uidvalidity, info.id, id);
		buf_printf(&j->out, "* OK [MAILBOXID (%s)] Ok\r\n", id);
	}
	if (s->imap4rev2) {
		/* RFC 9051 6.3.2: the mailbox's name as LIST would show it. */
		buf_puts(&j->out, "* LIST () \"/\" ");
		imap_mailbox_write(&j->out, j->mailbox, s->utf8);
		buf_puts(&j->out, "\r\n");
	}

	if (j->qresync && j->q_uidvalidity == info.uidvalidity && j->q_modseq < info.highestmodseq) {
		struct store_mailbox_info ci;
		struct store_imap_msg *changed = NULL;
		uint32_t *vanished = NULL;
		size_t n_changed = 0, n_vanished = 0, k = 0;

		if (store_imap_changes(st, j->mailbox, j->q_modseq, &ci, &changed, &n_changed, &vanished, &n_vanished,
		                       &error) == STORE_OK) {
			/* RFC 7162 3.2.5.1: VANISHED (EARLIER) for known UIDs
			 * expunged since, then FETCH for what changed. */
			for (size_t i = 0; i < n_vanished; i++)
				if (known_uid(j, vanished[i]))
					vanished[k++] = vanished[i];
			if (k > 0) {
				buf_puts(&j->out, "* VANISHED (EARLIER) ");
				imap_uidset_write(&j->out, vanished, k);
				buf_puts(&j->out, "\r\n");
			}
			imap_view_prepare(&j->view, changed, n_changed, &j->out);
			for (size_t i = 0; i < n_changed; i++) {
				uint32_t seq = imap_view_seq(&j->view, changed[i].uid);

				if (seq == 0 || !known_uid(j, changed[i].uid))
					continue;
				buf_printf(&j->out, "* %u FETCH (UID %u FLAGS ", seq, changed[i].uid);
				imap_flags_write(&j->out, changed[i].flags, changed[i].keywords);
				buf_printf(&j->out, " MODSEQ (%llu))\r\n", (unsigned long long)changed[i].modseq);
			}
			store_imap_msgs_free(changed, n_changed);
			free(vanished);
		}
	}
	imap_store_release(&st, false);
	j->res.status = IMAP_OK;
	snprintf(j->res.code, sizeof(j->res.code), "%s", j->read_only ? "READ-ONLY" : "READ-WRITE");
	snprintf(j->res.text, sizeof(j->res.text), "%s completed", j->read_only ? "EXAMINE" : "SELECT");
}

static void
select_done(void *arg)
{
	struct select_job *j = arg;
	struct imap_session *s = j->s;

	if (conn_closing(s->c)) {
		free(j->view.uids);
		free(j->view.keywords);
		free(j->view.recent);
		goto out;
	}
	if (j->res.status == IMAP_OK) {
		s->view = j->view;
		s->view.mailbox = j->mailbox;
		j->mailbox = NULL;
		s->state = IMAP_STATE_SELECTED;
		conn_write(s->c, j->out.data, j->out.len);
	} else {
		free(j->view.uids);
		free(j->view.keywords);
		free(j->view.recent);
		imap_bus_unsubscribe(&s->sub);
	}
	imap_complete_result(s, &j->res);
out:
	free(j->mailbox);
	buf_free(&j->out);
	free(j);
}

/* (QRESYNC (uidvalidity modseq [known-uids [(seq-match)]])) */
static int
parse_qresync(struct imap_session *s, struct select_job *j, const struct imap_arg *l, const char **error)
{
	const struct imap_arg *a = l->list;
	uint64_t v;

	if (!s->qresync) {
		*error = "QRESYNC must be enabled first (ENABLE QRESYNC)";
		return -1;
	}
	if (l->type != IMAP_ARG_LIST || l->count < 2 || l->count > 4 || !imap_arg_number(a, &v) || v == 0 ||
	    v > UINT32_MAX) {
		*error = "QRESYNC needs (uidvalidity modseq [known-uids [seq-match]])";
		return -1;
	}
	j->q_uidvalidity = (uint32_t)v;
	if (!imap_arg_number(a->next, &j->q_modseq)) {
		*error = "Invalid QRESYNC modseq";
		return -1;
	}
	a = a->next->next;
	if (a != NULL && a->type == IMAP_ARG_ATOM) {
		if (imap_seqset_parse(a->str, a->len, s->arena, &j->q_known, error) == -1 || j->q_known.saved)
			return -1;
		a = a->next;
	}
	/* The sequence match data only narrows what the client already
	 * knows; we send every change among the known UIDs instead. */
	if (a != NULL && a->type != IMAP_ARG_LIST) {
		*error = "Invalid QRESYNC sequence match data";
		return -1;
	}
	j->qresync = true;
	return 0;
}

static void
select_start(struct imap_session *s, const struct imap_arg *args, bool read_only)
{
	struct imap_ctx ctx;
	struct imap_result res = { 0 };
	struct select_job *j;
	char *name;
	bool was_selected = s->state == IMAP_STATE_SELECTED;

	imap_ctx_init(s, &ctx, s->arena);
	if (args == NULL) {
		imap_complete_bad(s, "SELECT needs a mailbox name");
		return;
	}
	if ((name = imap_mailbox_arg(&ctx, args, &res)) == NULL) {
		imap_complete_result(s, &res);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->read_only = read_only;
	if (args->next != NULL) {
		const struct imap_arg *p = args->next;
		const char *error = NULL;

		if (p->type != IMAP_ARG_LIST || p->next != NULL) {
			free(j);
			imap_complete_bad(s, "Invalid SELECT parameters");
			return;
		}
		for (const struct imap_arg *a = p->list; a != NULL; a = a->next) {
			if (imap_arg_atom_is(a, "CONDSTORE")) {
				s->condstore = true;
			} else if (imap_arg_atom_is(a, "QRESYNC") && a->next != NULL) {
				a = a->next;
				if (parse_qresync(s, j, a, &error) == -1) {
					free(j);
					imap_complete_bad(s, "%s", error);
					return;
				}
			} else {
				free(j);
				imap_complete_bad(s, "Unknown SELECT parameter");
				return;
			}
		}
	}
	/* RFC 9051 6.3.2: selecting deselects first, even when the new
	 * SELECT fails; [CLOSED] marks the point (RFC 7162 3.2.11). */
	if (was_selected) {
		imap_view_clear(s);
		s->state = IMAP_STATE_AUTH;
		conn_puts(s->c, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	j->mailbox = xstrdup(name);
	s->sub = imap_bus_subscribe(s, s->user, name);
	imap_job(s, select_work, select_done, j);
}

void
imap_cmd_select(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	select_start(s, args, false);
}

void
imap_cmd_examine(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	select_start(s, args, true);
}

void
imap_cmd_unselect(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	if (args != NULL) {
		imap_complete_bad(s, "UNSELECT takes no arguments");
		return;
	}
	imap_view_clear(s);
	s->state = IMAP_STATE_AUTH;
	imap_complete(s, IMAP_OK, NULL, "UNSELECT completed");
}

/* CANCELUPDATE 1*(SP quoted) (RFC 5267 4.3.5): ends the live searches
 * of those tags; an unknown tag is NO, as in Dovecot, and the tags
 * before it stay cancelled. */
void
imap_cmd_cancelupdate(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	const struct imap_arg *a;

	for (a = args; a != NULL; a = a->next)
		if (a->type != IMAP_ARG_QUOTED || memchr(a->str, '\0', a->len) != NULL)
			break;
	if (args == NULL || a != NULL) {
		imap_complete_bad(s, "CANCELUPDATE needs quoted tags");
		return;
	}
	for (a = args; a != NULL; a = a->next) {
		if (!imap_search_contexts_cancel(&s->contexts, a->str)) {
			imap_complete(s, IMAP_NO, NULL, "Unknown search update tag");
			return;
		}
	}
	imap_complete(s, IMAP_OK, NULL, "Updates cancelled");
}

struct close_job {
	struct imap_session *s;
	bool failed;
};

static void
close_work(void *arg)
{
	struct close_job *j = arg;
	struct store *st = imap_store_get(j->s, NULL);
	const char *error = NULL;

	if (st == NULL) {
		j->failed = true;
		return;
	}
	/* RFC 9051 6.4.2: expunge silently, no EXPUNGE responses. */
	j->failed = store_imap_expunge(st, j->s->view.mailbox, NULL, 0, NULL, NULL, &error) != STORE_OK;
	imap_store_release(&st, j->failed);
}

static void
close_done(void *arg)
{
	struct close_job *j = arg;
	struct imap_session *s = j->s;

	imap_view_clear(s);
	s->state = IMAP_STATE_AUTH;
	if (!conn_closing(s->c))
		imap_complete(s, IMAP_OK, NULL, "CLOSE completed");
	free(j);
}

void
imap_cmd_close(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	struct close_job *j;

	if (args != NULL) {
		imap_complete_bad(s, "CLOSE takes no arguments");
		return;
	}
	if (s->view.read_only) {
		imap_view_clear(s);
		s->state = IMAP_STATE_AUTH;
		imap_complete(s, IMAP_OK, NULL, "CLOSE completed");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	imap_job(s, close_work, close_done, j);
}
