/* Commands on the selected mailbox's messages: STORE (RFC 9051 6.4.6 with
 * UNCHANGEDSINCE, RFC 7162 3.1.3), COPY (6.4.7, COPYUID of RFC 4315), MOVE
 * (RFC 6851), EXPUNGE and UID EXPUNGE (6.4.3, RFC 4315), and the sequence
 * set resolution they share with FETCH. */
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

int
imap_view_resolve(struct imap_session *s, const struct imap_arg *arg, bool uid, uint32_t **uids_out,
                  size_t *n_out, const char **error_out)
{
	const struct imap_view *v = &s->view;
	struct imap_seqset set;
	uint8_t *mark;
	uint32_t *uids;
	size_t n = 0;

	*uids_out = NULL;
	*n_out = 0;
	if (arg == NULL || arg->type != IMAP_ARG_ATOM) {
		*error_out = "Expected a sequence set";
		return -1;
	}
	if (imap_seqset_parse(arg->str, arg->len, s->arena, &set, error_out) == -1)
		return -1;
	if (v->count == 0) {
		/* Nothing to match; a sequence number is an error
		 * (there is none), a UID set is simply empty. */
		if (!uid && !set.saved) {
			*error_out = "Invalid message sequence number: the mailbox is empty";
			return -1;
		}
		return 0;
	}
	mark = xcalloc(v->count, 1);
	if (set.saved) {
		/* RFC 5182: "$" is the saved result, as UIDs. */
		for (size_t i = 0; i < s->saved_count; i++) {
			uint32_t seq = imap_view_seq(v, s->saved[i]);

			if (seq != 0)
				mark[seq - 1] = 1;
		}
	}
	for (size_t r = 0; r < set.count; r++) {
		uint32_t lo = set.ranges[r].lo, hi = set.ranges[r].hi;

		if (!uid) {
			uint32_t max = (uint32_t)v->count;

			if (lo == IMAP_SEQ_STAR)
				lo = max;
			if (hi == IMAP_SEQ_STAR)
				hi = max;
			if (lo > hi) {
				uint32_t t = lo;

				lo = hi;
				hi = t;
			}
			if (hi > max) {
				free(mark);
				*error_out = "Invalid message sequence number";
				return -1;
			}
			memset(mark + lo - 1, 1, hi - lo + 1);
		} else {
			uint32_t max = v->uids[v->count - 1];
			size_t a = 0, b = v->count;

			if (lo == IMAP_SEQ_STAR)
				lo = max;
			if (hi == IMAP_SEQ_STAR)
				hi = max;
			if (lo > hi) {
				uint32_t t = lo;

				lo = hi;
				hi = t;
			}
			/* First index with uid >= lo. */
			while (a < b) {
				size_t mid = a + (b - a) / 2;

				if (v->uids[mid] < lo)
					a = mid + 1;
				else
					b = mid;
			}
			for (; a < v->count && v->uids[a] <= hi; a++)
				mark[a] = 1;
		}
	}
	uids = xmalloc(v->count * sizeof(*uids));
	for (size_t i = 0; i < v->count; i++)
		if (mark[i])
			uids[n++] = v->uids[i];
	free(mark);
	if (n == 0) {
		free(uids);
		uids = NULL;
	}
	*uids_out = uids;
	*n_out = n;
	return 0;
}

static void
store_error_result(struct imap_result *res, int r, const char *what)
{
	res->status = IMAP_NO;
	switch (r) {
	case STORE_IMAP_NONEXISTENT:
		snprintf(res->code, sizeof(res->code), "TRYCREATE");
		snprintf(res->text, sizeof(res->text), "No such mailbox");
		break;
	case STORE_ERR_QUOTA:
		snprintf(res->code, sizeof(res->code), "OVERQUOTA");
		snprintf(res->text, sizeof(res->text), "Quota exceeded");
		break;
	case STORE_ERR_NOSPACE:
		snprintf(res->code, sizeof(res->code), "LIMIT");
		snprintf(res->text, sizeof(res->text), "The server is out of disk space");
		break;
	case STORE_IMAP_LIMIT:
		snprintf(res->code, sizeof(res->code), "LIMIT");
		snprintf(res->text, sizeof(res->text), "Too many keywords");
		break;
	default:
		snprintf(res->code, sizeof(res->code), "UNAVAILABLE");
		snprintf(res->text, sizeof(res->text), "%s failed, try again later", what);
		break;
	}
}

/* --- STORE --- */

struct store_job {
	struct imap_session *s;
	bool uid, silent;
	bool all_fail;                 /* UNCHANGEDSINCE 0 */
	uint32_t *uids;
	size_t n;
	struct store_flags_change ch;
	struct imap_result res;
	struct buf out;
};

static void
store_work(void *arg)
{
	struct store_job *j = arg;
	struct imap_session *s = j->s;
	struct store *st = imap_store_get(s, &j->res);
	struct store_imap_msg *changed = NULL;
	uint32_t *failed = NULL, *skip = NULL;
	size_t n_changed = 0, n_failed = 0;
	const char *error = NULL;
	int r;

	if (st == NULL)
		return;
	if (j->all_fail) {
		/* RFC 7162 3.1.3: every message has a MODSEQ above 0. */
		failed = xmalloc((j->n > 0 ? j->n : 1) * sizeof(*failed));
		memcpy(failed, j->uids, j->n * sizeof(*failed));
		n_failed = j->n;
		r = STORE_OK;
	} else {
		r = store_imap_flags(st, s->view.mailbox, j->uids, j->n, &j->ch, &changed, &n_changed, &failed,
		                     &n_failed, &error);
	}
	if (r != STORE_OK && r != STORE_IMAP_NONEXISTENT) {
		store_error_result(&j->res, r, "STORE");
		imap_store_release(&st, true);
		return;
	}
	skip = xmalloc((n_changed > 0 ? n_changed : 1) * sizeof(*skip));
	/* A keyword new to the mailbox is announced first, also for
	 * FLAGS.SILENT (RFC 3501 7.2.6: later FETCHes will show it). */
	imap_view_prepare(&s->view, changed, n_changed, &j->out);
	for (size_t i = 0; i < n_changed; i++) {
		const struct store_imap_msg *m = &changed[i];
		uint32_t seq = imap_view_seq(&s->view, m->uid);

		skip[i] = m->uid;
		if (j->silent || seq == 0)
			continue;
		buf_printf(&j->out, "* %u FETCH (FLAGS ", seq);
		imap_flags_write(&j->out, m->flags, m->keywords);
		if (j->uid || s->qresync)
			buf_printf(&j->out, " UID %u", m->uid);
		if (s->condstore)
			buf_printf(&j->out, " MODSEQ (%llu)", (unsigned long long)m->modseq);
		buf_puts(&j->out, ")\r\n");
	}
	(void)imap_sync_work(s, st, j->uid, skip, n_changed, &j->out);
	imap_store_release(&st, false);
	j->res.status = IMAP_OK;
	if (n_failed > 0) {
		/* RFC 7162 3.1.3: MODIFIED lists what UNCHANGEDSINCE kept
		 * (UIDs for UID STORE, sequence numbers otherwise). */
		struct buf set = BUF_INIT;

		if (!j->uid)
			for (size_t i = 0; i < n_failed; i++)
				failed[i] = imap_view_seq(&s->view, failed[i]);
		imap_uidset_write(&set, failed, n_failed);
		snprintf(j->res.code, sizeof(j->res.code), "MODIFIED %s", set.data);
		if (set.len >= sizeof(j->res.code) - 10)
			snprintf(j->res.code, sizeof(j->res.code), "MODIFIED %u", failed[0]);
		snprintf(j->res.text, sizeof(j->res.text), "Conditional STORE failed for some messages");
		buf_free(&set);
	} else {
		snprintf(j->res.text, sizeof(j->res.text), "STORE completed");
	}
	store_imap_msgs_free(changed, n_changed);
	free(failed);
	free(skip);
}

static void
store_done(void *arg)
{
	struct store_job *j = arg;
	struct imap_session *s = j->s;

	imap_job_reply(s, &j->out, &j->res);
	buf_free(&j->out);
	free(j->uids);
	free(j);
}

void
imap_cmd_store(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	struct store_job *j;
	const struct imap_arg *item;
	const char *error = NULL, *name;
	uint32_t *uids;
	size_t n;

	if (imap_view_resolve(s, args, uid, &uids, &n, &error) == -1) {
		imap_complete_bad(s, "%s", error);
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->uid = uid;
	j->uids = uids;
	j->n = n;
	item = args->next;
	if (item != NULL && item->type == IMAP_ARG_LIST) {
		/* (UNCHANGEDSINCE n), RFC 7162 3.1.3 */
		const struct imap_arg *m = item->list;

		if (item->count != 2 || !imap_arg_atom_is(m, "UNCHANGEDSINCE") ||
		    !imap_arg_number(m->next, &j->ch.unchangedsince)) {
			free(uids);
			free(j);
			imap_complete_bad(s, "Invalid STORE modifier");
			return;
		}
		s->condstore = true;
		/* The store reads 0 as "no condition"; 0 fails everything. */
		j->all_fail = j->ch.unchangedsince == 0;
		item = item->next;
	}
	if (item == NULL || item->type != IMAP_ARG_ATOM || item->next == NULL) {
		free(uids);
		free(j);
		imap_complete_bad(s, "STORE needs FLAGS, +FLAGS or -FLAGS and flags");
		return;
	}
	name = item->str;
	if (name[0] == '+') {
		j->ch.mode = STORE_FLAGS_ADD;
		name++;
	} else if (name[0] == '-') {
		j->ch.mode = STORE_FLAGS_REMOVE;
		name++;
	} else {
		j->ch.mode = STORE_FLAGS_SET;
	}
	if (strcasecmp(name, "FLAGS.SILENT") == 0) {
		j->silent = true;
	} else if (strcasecmp(name, "FLAGS") != 0) {
		free(uids);
		free(j);
		imap_complete_bad(s, "STORE needs FLAGS, +FLAGS or -FLAGS");
		return;
	}
	if (imap_flags_parse(item->next, false, s->arena, &j->ch.flags, &j->ch.keywords, &error) == -1) {
		free(uids);
		free(j);
		imap_complete_bad(s, "%s", error);
		return;
	}
	if (s->view.read_only) {
		free(uids);
		free(j);
		imap_complete(s, IMAP_NO, "READ-ONLY", "The mailbox is read-only (EXAMINE)");
		return;
	}
	imap_job(s, store_work, store_done, j);
}

/* --- COPY and MOVE --- */

struct copy_job {
	struct imap_session *s;
	bool move;
	char *to;
	uint32_t *uids;
	size_t n;
	struct imap_result res;
	struct buf out;
};

static void
copy_work(void *arg)
{
	struct copy_job *j = arg;
	struct imap_session *s = j->s;
	struct store *st = imap_store_get(s, &j->res);
	uint32_t *src = NULL, *dst = NULL, uidvalidity = 0;
	size_t n = 0;
	bool to_missing = false;
	const char *error = NULL;
	int r;

	if (st == NULL)
		return;
	r = store_imap_copy(st, s->view.mailbox, j->to, j->uids, j->n, j->move, s->quota_bytes, s->quota_messages,
	                    &uidvalidity, &src, &dst, &n, &to_missing, &error);
	if (r != STORE_OK) {
		store_error_result(&j->res, r, j->move ? "MOVE" : "COPY");
		imap_store_release(&st, r != STORE_IMAP_NONEXISTENT && r != STORE_ERR_QUOTA);
		return;
	}
	j->res.status = IMAP_OK;
	if (n > 0) {
		struct buf code = BUF_INIT;

		buf_printf(&code, "COPYUID %u ", uidvalidity);
		imap_uidset_write(&code, src, n);
		buf_puts(&code, " ");
		imap_uidset_write(&code, dst, n);
		if (code.len < sizeof(j->res.code)) {
			if (j->move)
				buf_printf(&j->out, "* OK [%s] Moved\r\n", code.data);
			else
				snprintf(j->res.code, sizeof(j->res.code), "%s", code.data);
		} else if (j->move) {
			/* Too long for a reply line buffer: send it untagged
			 * anyway (RFC 6851 3.3 wants it before the expunges). */
			buf_printf(&j->out, "* OK [%s] Moved\r\n", code.data);
		}
		buf_free(&code);
	}
	snprintf(j->res.text, sizeof(j->res.text), "%s completed", j->move ? "MOVE" : "COPY");
	/* MOVE: the expunges of the moved messages go out now (RFC 6851). */
	(void)imap_sync_work(s, st, true, NULL, 0, &j->out);
	imap_store_release(&st, false);
	free(src);
	free(dst);
}

static void
copy_done(void *arg)
{
	struct copy_job *j = arg;
	struct imap_session *s = j->s;

	imap_job_reply(s, &j->out, &j->res);
	buf_free(&j->out);
	free(j->uids);
	free(j->to);
	free(j);
}

static void
copy_start(struct imap_session *s, const struct imap_arg *args, bool uid, bool move)
{
	struct imap_ctx ctx;
	struct imap_result res = { 0 };
	struct copy_job *j;
	const char *error = NULL;
	uint32_t *uids;
	size_t n;
	char *to;

	if (args == NULL || args->next == NULL || args->next->next != NULL) {
		imap_complete_bad(s, "%s needs a sequence set and a mailbox", move ? "MOVE" : "COPY");
		return;
	}
	imap_ctx_init(s, &ctx, s->arena);
	if ((to = imap_mailbox_arg(&ctx, args->next, &res)) == NULL) {
		imap_complete_result(s, &res);  /* BAD, or NO [CANNOT] */
		return;
	}
	if (imap_view_resolve(s, args, uid, &uids, &n, &error) == -1) {
		imap_complete_bad(s, "%s", error);
		return;
	}
	if (move && s->view.read_only) {
		free(uids);
		imap_complete(s, IMAP_NO, "READ-ONLY", "The mailbox is read-only (EXAMINE)");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->move = move;
	j->to = xstrdup(to);
	j->uids = uids;
	j->n = n;
	imap_job(s, copy_work, copy_done, j);
}

void
imap_cmd_copy(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	copy_start(s, args, uid, false);
}

void
imap_cmd_move(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	copy_start(s, args, uid, true);
}

/* --- EXPUNGE --- */

struct expunge_job {
	struct imap_session *s;
	uint32_t *uids;                /* UID EXPUNGE's set, or NULL */
	size_t n;
	bool uid;
	struct imap_result res;
	struct buf out;
};

static void
expunge_work(void *arg)
{
	struct expunge_job *j = arg;
	struct imap_session *s = j->s;
	struct store *st = imap_store_get(s, &j->res);
	const char *error = NULL;
	int r = STORE_OK;

	if (st == NULL)
		return;
	if (!j->uid || j->n > 0)
		r = store_imap_expunge(st, s->view.mailbox, j->uid ? j->uids : NULL, j->n, NULL, NULL, &error);
	if (r != STORE_OK) {
		store_error_result(&j->res, r, "EXPUNGE");
		imap_store_release(&st, true);
		return;
	}
	(void)imap_sync_work(s, st, true, NULL, 0, &j->out);
	imap_store_release(&st, false);
	j->res.status = IMAP_OK;
	snprintf(j->res.text, sizeof(j->res.text), "EXPUNGE completed");
}

static void
expunge_done(void *arg)
{
	struct expunge_job *j = arg;
	struct imap_session *s = j->s;

	imap_job_reply(s, &j->out, &j->res);
	buf_free(&j->out);
	free(j->uids);
	free(j);
}

void
imap_cmd_expunge(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	struct expunge_job *j;
	const char *error = NULL;
	uint32_t *uids = NULL;
	size_t n = 0;

	if (uid) {
		if (args == NULL || args->next != NULL) {
			imap_complete_bad(s, "UID EXPUNGE needs a UID set");
			return;
		}
		if (imap_view_resolve(s, args, true, &uids, &n, &error) == -1) {
			imap_complete_bad(s, "%s", error);
			return;
		}
	} else if (args != NULL) {
		imap_complete_bad(s, "EXPUNGE takes no arguments");
		return;
	}
	if (s->view.read_only) {
		free(uids);
		imap_complete(s, IMAP_NO, "READ-ONLY", "The mailbox is read-only (EXAMINE)");
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->uid = uid;
	j->uids = uids;
	j->n = n;
	imap_job(s, expunge_work, expunge_done, j);
}
