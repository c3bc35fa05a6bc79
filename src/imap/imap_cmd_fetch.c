/* FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9; RFC 7162 CHANGEDSINCE and
 * VANISHED): resolves the set, sets \Seen where a body is fetched, and
 * renders the responses (imap_fetch_render) in worker jobs of at most
 * IMAP_FETCH_BATCH_BYTES each.  Between jobs the output drains: a client
 * fetching a large mailbox costs bounded memory and never holds a worker
 * for long. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_fetch.h"
#include "imap/imap_session.h"
#include "lib/arena.h"
#include "lib/xalloc.h"
#include "store/store_imap.h"

/* Messages read from the index per step of a batch; many more when only
 * metadata is asked (FLAGS of a whole mailbox: each response is short, at
 * most about 8 KiB with STORE_KEYWORDS_MAX keywords). */
#define FETCH_STEP 256
#define FETCH_STEP_METADATA 2048

struct imap_fetch_job {
	struct imap_session *s;
	struct imap_fetch_spec *spec;  /* in the command arena */
	struct imap_seqset set;        /* as written, for VANISHED (EARLIER) */
	uint32_t *uids;
	size_t n, next;
	bool uid, set_seen, first;
	uint64_t changedsince;
	bool vanished;
	uint32_t *seen_set;            /* UIDs whose \Seen this FETCH set (FLAGS sent) */
	size_t n_seen_set;
	bool finished;
	bool waiting;                  /* for the output to drain */
	struct imap_result res;
	struct buf out;
};

static bool
in_set(const struct imap_seqset *set, uint32_t uid)
{
	for (size_t i = 0; i < set->count; i++) {
		uint32_t lo = set->ranges[i].lo, hi = set->ranges[i].hi;

		if (lo == IMAP_SEQ_STAR) {
			/* "n:*" reaches every UID from n up ("*" sorts as lo). */
			if (hi == IMAP_SEQ_STAR || uid >= hi)
				return true;
			continue;
		}
		if (uid >= lo && uid <= hi)
			return true;
	}
	return false;
}

/* UID FETCH ... (CHANGEDSINCE m VANISHED): the UIDs of the set expunged
 * since m (RFC 7162 3.2.6). */
static void
write_vanished(struct imap_fetch_job *j, struct store *st)
{
	struct store_mailbox_info info;
	struct store_imap_msg *changed = NULL;
	uint32_t *vanished = NULL;
	size_t n_changed = 0, n_vanished = 0, k = 0;
	const char *error = NULL;

	if (store_imap_changes(st, j->s->view.mailbox, j->changedsince, &info, &changed, &n_changed, &vanished,
	                       &n_vanished, &error) != STORE_OK)
		return;
	for (size_t i = 0; i < n_vanished; i++)
		if (in_set(&j->set, vanished[i]))
			vanished[k++] = vanished[i];
	if (k > 0) {
		buf_puts(&j->out, "* VANISHED (EARLIER) ");
		imap_uidset_write(&j->out, vanished, k);
		buf_puts(&j->out, "\r\n");
	}
	store_imap_msgs_free(changed, n_changed);
	free(vanished);
}

/* Sets \Seen on the messages of msgs that lack it; their new state is
 * written back into msgs and their UIDs remembered (FLAGS goes out). */
static int
mark_seen(struct imap_fetch_job *j, struct store *st, struct store_imap_msg *msgs, size_t n, bool *added)
{
	uint32_t *want = xmalloc((n > 0 ? n : 1) * sizeof(*want));
	struct store_flags_change ch = { .mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN, .keywords = "" };
	struct store_imap_msg *changed = NULL;
	uint32_t *failed = NULL;
	size_t n_want = 0, n_changed = 0, n_failed = 0;
	const char *error = NULL;
	int r;

	for (size_t i = 0; i < n; i++)
		if ((msgs[i].flags & STORE_FLAG_SEEN) == 0)
			want[n_want++] = msgs[i].uid;
	if (n_want == 0) {
		free(want);
		return 0;
	}
	r = store_imap_flags(st, j->s->view.mailbox, want, n_want, &ch, &changed, &n_changed, &failed, &n_failed,
	                     &error);
	free(want);
	if (r != STORE_OK)
		return -1;
	for (size_t c = 0, i = 0; c < n_changed; c++) {
		while (i < n && msgs[i].uid < changed[c].uid)
			i++;
		if (i < n && msgs[i].uid == changed[c].uid) {
			msgs[i].flags = changed[c].flags;
			msgs[i].modseq = changed[c].modseq;
			added[i] = true;
			j->seen_set = xrealloc(j->seen_set, (j->n_seen_set + 1) * sizeof(uint32_t));
			j->seen_set[j->n_seen_set++] = changed[c].uid;
		}
	}
	store_imap_msgs_free(changed, n_changed);
	free(failed);
	return 0;
}

static void
fetch_work(void *arg)
{
	struct imap_fetch_job *j = arg;
	struct imap_session *s = j->s;
	struct store *st = imap_store_get(s, &j->res);
	struct arena *a;
	struct imap_ctx ctx;
	bool failed = false;

	if (st == NULL) {
		j->finished = true;
		return;
	}
	a = arena_new(65536, false);
	imap_ctx_init(s, &ctx, a);
	ctx.uid = j->uid;
	ctx.st = st;
	if (j->first && j->vanished)
		write_vanished(j, st);
	j->first = false;
	while (j->next < j->n && j->out.len < IMAP_FETCH_BATCH_BYTES && !failed) {
		size_t want = imap_fetch_metadata_only(j->spec) ? FETCH_STEP_METADATA : FETCH_STEP;
		size_t step = j->n - j->next < want ? j->n - j->next : want;
		struct store_imap_msg *msgs = NULL;
		size_t n = 0;
		bool *added;
		const char *error = NULL;
		int r;

		/* A step may overshoot the batch size; the next batch waits
		 * for the output to drain. */
		(void)store_read_begin(st, &error);
		r = store_imap_get(st, s->view.mailbox, &j->uids[j->next], step, &msgs, &n, &error);
		if (r != STORE_OK) {
			j->res.status = IMAP_NO;
			snprintf(j->res.code, sizeof(j->res.code), "UNAVAILABLE");
			snprintf(j->res.text, sizeof(j->res.text), "FETCH failed, try again later");
			failed = true;
			break;
		}
		added = xcalloc(n > 0 ? n : 1, sizeof(*added));
		if (j->set_seen && mark_seen(j, st, msgs, n, added) == -1) {
			j->res.status = IMAP_NO;
			snprintf(j->res.code, sizeof(j->res.code), "UNAVAILABLE");
			snprintf(j->res.text, sizeof(j->res.text), "FETCH failed, try again later");
			failed = true;
		}
		/* Marking \Seen wrote and ended the snapshot: one more for
		 * the reads of rendering. */
		(void)store_read_begin(st, &error);
		imap_view_prepare(&s->view, msgs, n, &j->out);  /* FLAGS for new keywords */
		for (size_t i = 0; i < n && !failed; i++) {
			uint32_t seq = imap_view_seq(&s->view, msgs[i].uid);

			if (seq == 0 || (j->changedsince > 0 && msgs[i].modseq <= j->changedsince))
				continue;
			if (imap_fetch_render(&ctx, j->spec, seq, &msgs[i], added[i], &j->out, &j->res) == -1)
				failed = true;
			arena_reset(a);
		}
		free(added);
		store_imap_msgs_free(msgs, n);
		j->next += step;
	}
	store_read_end(st);
	if (failed || j->next >= j->n) {
		j->finished = true;
		if (!failed) {
			(void)imap_sync_work(s, st, j->uid, j->seen_set, j->n_seen_set, &j->out);
			j->res.status = IMAP_OK;
			snprintf(j->res.text, sizeof(j->res.text), "FETCH completed");
		}
	}
	imap_store_release(&st, failed);
	arena_free(&a);
}

static void fetch_done(void *arg);

static void
fetch_step(struct imap_session *s)
{
	imap_job(s, fetch_work, fetch_done, s->fetch);
}

static void
fetch_done(void *arg)
{
	struct imap_fetch_job *j = arg;
	struct imap_session *s = j->s;

	if (conn_closing(s->c))
		return;           /* imap_fetch_free runs at close */
	if (j->out.len > 0)
		conn_write(s->c, j->out.data, j->out.len);
	buf_reset(&j->out);
	if (j->finished) {
		struct imap_result res = j->res;

		imap_fetch_free(s);
		imap_complete_result(s, &res);
		return;
	}
	if (conn_output_pending(s->c) < NET_OUTPUT_HIGH) {
		fetch_step(s);
		return;
	}
	/* Wait for the client to read (imap_drained -> imap_fetch_continue). */
	j->waiting = true;
	imap_busy(s);
	imap_watchdog_arm(s);
}

void
imap_fetch_continue(struct imap_session *s)
{
	if (s->fetch == NULL || !s->fetch->waiting)
		return;
	s->fetch->waiting = false;
	imap_unbusy(s);
	fetch_step(s);
}

void
imap_fetch_free(struct imap_session *s)
{
	struct imap_fetch_job *j = s->fetch;

	if (j == NULL)
		return;
	s->fetch = NULL;
	buf_free(&j->out);
	free(j->uids);
	free(j->seen_set);
	free(j);
}

void
imap_cmd_fetch(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	struct imap_ctx ctx;
	struct imap_result res = { 0 };
	struct imap_fetch_spec *spec;
	struct imap_fetch_job *j;
	const char *error = NULL;
	uint32_t *uids;
	size_t n;

	if (args == NULL || args->next == NULL || (args->next->next != NULL && args->next->next->next != NULL)) {
		imap_complete_bad(s, "FETCH needs a sequence set and items");
		return;
	}
	imap_ctx_init(s, &ctx, s->arena);
	ctx.uid = uid;
	spec = imap_fetch_parse(&ctx, args->next, args->next->next, &res);
	if (spec == NULL) {
		imap_complete_bad(s, "%s", res.text[0] != '\0' ? res.text : "Invalid FETCH items");
		return;
	}
	if (imap_view_resolve(s, args, uid, &uids, &n, &error) == -1) {
		imap_complete_bad(s, "%s", error);
		return;
	}
	if (imap_fetch_uses_modseq(spec))
		s->condstore = true;     /* RFC 7162 3.1: using CONDSTORE enables it */
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->spec = spec;
	j->uids = uids;
	j->n = n;
	j->uid = uid;
	j->first = true;
	j->set_seen = imap_fetch_sets_seen(spec) && !s->view.read_only;
	j->changedsince = imap_fetch_changedsince(spec);
	j->vanished = imap_fetch_vanished(spec);
	if (j->vanished)
		(void)imap_seqset_parse(args->str, args->len, s->arena, &j->set, &error);
	s->fetch = j;
	fetch_step(s);
}
