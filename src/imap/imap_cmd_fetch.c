/* FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9; RFC 7162 CHANGEDSINCE and
 * VANISHED): resolves the set, sets \Seen where a body is fetched, and
 * renders the responses (imap_fetch_render) in worker jobs, then streams
 * them on the loop (imap_fetch_stream).
 *
 * Bounded memory (issue 8; imap_fetch.h).  A job renders messages until
 * its text and segments reach IMAP_FETCH_BATCH_BYTES (checked after each
 * message; the index rows of a step wait in the job for the next one).
 * Large literals are segments, read from the files in IMAP_FETCH_CHUNK
 * pieces only while the connection's output is below NET_OUTPUT_HIGH;
 * the stream continues from the drained callback (imap_fetch_continue)
 * and yields to the loop after IMAP_FETCH_TURN_MAX octets, as POP3 RETR
 * does, so a fast reader does not starve the other sessions.  The next
 * job starts when the previous output is all queued.  So a FETCH holds
 * about one job's text, one chunk and the connection's output, whatever
 * the number of messages or items or the size of a message, and a client
 * that reads nothing stalls only itself (conn's send timeout closes it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_fetch.h"
#include "imap/imap_session.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "store/store_imap.h"

/* Messages read from the index per step of a batch; many more when only
 * metadata is asked (FLAGS of a whole mailbox: each response is short, at
 * most about 8 KiB with STORE_KEYWORDS_MAX keywords). */
#define FETCH_STEP 256
#define FETCH_STEP_METADATA 2048
/* Octets streamed in one turn of the loop before yielding to the others
 * (POP3_STREAM_TURN_MAX's reason). */
#define IMAP_FETCH_TURN_MAX (1024 * 1024)

/* What the stream waits for. */
enum fetch_wait {
	FETCH_RUNNING,                 /* a job, or nothing */
	FETCH_WAIT_DRAIN,              /* the client to read (imap_fetch_continue) */
	FETCH_WAIT_TURN,               /* the loop's next turn (a zero timer) */
};

struct imap_fetch_job {
	struct imap_session *s;
	struct imap_fetch_spec *spec;  /* in the command arena */
	struct imap_seqset set;        /* as written, for VANISHED (EARLIER) */
	uint32_t *uids;
	size_t n, next;                /* the set; the next UID to read from the index */
	struct store_imap_msg *rows;   /* the step read, rendered from row on */
	bool *added;                   /* ... whose \Seen this FETCH set */
	size_t nrows, row;
	size_t seq_hint;               /* imap_view_seq_next: rows come in UID order */
	bool uid, set_seen, first;
	uint64_t changedsince;
	bool vanished;
	uint32_t *seen_set;            /* UIDs whose \Seen this FETCH set (FLAGS sent) */
	size_t n_seen_set;
	bool finished;                 /* the last job ran: send, then the tagged reply */
	enum fetch_wait wait;
	struct imap_result res;
	struct imap_fetch_out out;     /* what the last job rendered */
	struct imap_fetch_cursor *cur; /* how much of it is sent */
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
		buf_puts(&j->out.text, "* VANISHED (EARLIER) ");
		imap_uidset_write(&j->out.text, vanished, k);
		buf_puts(&j->out.text, "\r\n");
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
fail(struct imap_fetch_job *j)
{
	j->res.status = IMAP_NO;
	snprintf(j->res.code, sizeof(j->res.code), "UNAVAILABLE");
	snprintf(j->res.text, sizeof(j->res.text), "FETCH failed, try again later");
}

static void
rows_free(struct imap_fetch_job *j)
{
	store_imap_msgs_free(j->rows, j->nrows);
	free(j->added);
	j->rows = NULL;
	j->added = NULL;
	j->nrows = j->row = 0;
}

/* Reads the next step of the set from the index, setting \Seen on it when
 * the fetch does.  Returns 0 or -1. */
static int
read_step(struct imap_fetch_job *j, struct store *st)
{
	size_t want = imap_fetch_metadata_only(j->spec) ? FETCH_STEP_METADATA : FETCH_STEP;
	size_t step = j->n - j->next < want ? j->n - j->next : want;
	const char *error = NULL;

	rows_free(j);
	if (store_imap_get(st, j->s->view.mailbox, &j->uids[j->next], step, &j->rows, &j->nrows, &error) != STORE_OK) {
		j->rows = NULL;
		j->nrows = 0;
		return -1;
	}
	j->next += step;
	j->added = xcalloc(j->nrows > 0 ? j->nrows : 1, sizeof(*j->added));
	if (j->set_seen && mark_seen(j, st, j->rows, j->nrows, j->added) == -1)
		return -1;
	/* Marking \Seen wrote and ended the snapshot: one more for the
	 * reads of rendering. */
	(void)store_read_begin(st, &error);
	imap_view_prepare(&j->s->view, j->rows, j->nrows, &j->out.text);  /* FLAGS for new keywords */
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
	const char *error = NULL;
	bool failed = false;

	if (st == NULL) {
		j->finished = true;
		return;
	}
	a = arena_new(65536, false);
	imap_ctx_init(s, &ctx, a);
	ctx.uid = j->uid;
	ctx.st = st;
	(void)store_read_begin(st, &error);
	if (j->first && j->vanished)
		write_vanished(j, st);
	j->first = false;
	/* Checked after each message: a job holds one batch, whatever the
	 * number of messages in a step. */
	while (!failed && imap_fetch_out_size(&j->out) < IMAP_FETCH_BATCH_BYTES) {
		struct store_imap_msg *m;
		bool added;
		uint32_t seq;

		if (j->row == j->nrows) {
			if (j->next >= j->n)
				break;
			if (read_step(j, st) == -1) {
				fail(j);
				failed = true;
			}
			continue;
		}
		m = &j->rows[j->row];
		added = j->added[j->row];
		j->row++;
		seq = imap_view_seq_next(&s->view, m->uid, &j->seq_hint);
		if (seq == 0 || (j->changedsince > 0 && m->modseq <= j->changedsince))
			continue;
		if (imap_fetch_render(&ctx, j->spec, seq, m, added, &j->out, &j->res) == -1)
			failed = true;
		arena_reset(a);
	}
	store_read_end(st);
	if (failed || (j->next >= j->n && j->row == j->nrows)) {
		j->finished = true;
		if (!failed) {
			(void)imap_sync_work(s, st, j->uid, j->seen_set, j->n_seen_set, &j->out.text);
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
write_conn(void *arg, const char *data, size_t len)
{
	conn_write(arg, data, len);
}

static void fetch_turn(void *arg);

/* Stops until the client reads (drain) or the loop's next turn. */
static void
fetch_wait(struct imap_session *s, enum fetch_wait why)
{
	struct imap_fetch_job *j = s->fetch;

	j->wait = why;
	imap_fetch_cursor_idle(j->cur);
	if (!s->busy)
		imap_busy(s);
	if (why != FETCH_WAIT_DRAIN)
		conn_after(s->c, 0, fetch_turn, s);
}

/* Sends what the last job rendered while the output has room, then starts
 * the next job or ends the command. */
static void
fetch_send(struct imap_session *s)
{
	struct imap_fetch_job *j = s->fetch;
	size_t turn = 0;

	if (conn_closing(s->c))
		return;           /* imap_fetch_free runs at close */
	for (;;) {
		size_t work = 0;
		int r;

		if (conn_output_pending(s->c) >= NET_OUTPUT_HIGH) {
			fetch_wait(s, FETCH_WAIT_DRAIN);
			return;
		}
		if (turn >= IMAP_FETCH_TURN_MAX) {
			fetch_wait(s, FETCH_WAIT_TURN);
			return;
		}
		r = imap_fetch_stream(&j->cur, &j->out, write_conn, s->c, &work);
		if (r == 0)
			break;
		if (r == -1) {
			/* A literal is announced: an error now would read as its
			 * data.  Closing is the only honest end (as POP3 RETR). */
			log_warnx("imap %s cannot read a message file of %s during FETCH", conn_id(s->c), s->user);
			imap_close(s, "read-error");
			return;
		}
		turn += work;
	}
	imap_fetch_cursor_free(&j->cur);
	imap_fetch_out_reset(&j->out);
	if (j->finished) {
		struct imap_result res = j->res;

		imap_fetch_free(s);
		imap_complete_result(s, &res);
		return;
	}
	if (conn_output_pending(s->c) >= NET_OUTPUT_HIGH) {
		fetch_wait(s, FETCH_WAIT_DRAIN);
		return;
	}
	fetch_step(s);
}

static void
fetch_done(void *arg)
{
	struct imap_fetch_job *j = arg;

	fetch_send(j->s);
}

/* Resumes a stream that waited for why. */
static void
fetch_resume(struct imap_session *s, enum fetch_wait why)
{
	if (s->fetch == NULL || s->fetch->wait != why || conn_closing(s->c))
		return;
	s->fetch->wait = FETCH_RUNNING;
	imap_unbusy(s);
	fetch_send(s);
}

static void
fetch_turn(void *arg)
{
	fetch_resume(arg, FETCH_WAIT_TURN);
}

void
imap_fetch_continue(struct imap_session *s)
{
	fetch_resume(s, FETCH_WAIT_DRAIN);
}

void
imap_fetch_free(struct imap_session *s)
{
	struct imap_fetch_job *j = s->fetch;

	if (j == NULL)
		return;
	s->fetch = NULL;
	imap_fetch_cursor_free(&j->cur);
	imap_fetch_out_free(&j->out);
	rows_free(j);
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
	imap_fetch_out_init(&j->out);
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
