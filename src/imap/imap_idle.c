/* IDLE (RFC 2177, RFC 9051 6.3.13): after "+ idling" the session waits for
 * "DONE"; meanwhile every change the bus reports for the selected mailbox
 * is synced and told at once (no polling: the bus posts to this loop only
 * for this user's mailbox). */
#include <stdlib.h>
#include <strings.h>

#include "imap/imap_session.h"
#include "lib/xalloc.h"

struct idle_sync {
	struct imap_session *s;
	struct buf out;
	bool failed;
};

static void idle_sync_start(struct imap_session *s);

static void
idle_sync_work(void *arg)
{
	struct idle_sync *j = arg;
	struct store *st = imap_store_get(j->s, NULL);

	if (st == NULL) {
		j->failed = true;
		return;
	}
	j->failed = imap_sync_work(j->s, st, true, NULL, 0, &j->out) == -1;
	imap_store_release(&st, j->failed);
}

static void
idle_sync_done(void *arg)
{
	struct idle_sync *j = arg;
	struct imap_session *s = j->s;

	s->sync_running = false;
	if (!conn_closing(s->c)) {
		if (j->out.len > 0)
			conn_write(s->c, j->out.data, j->out.len);
		/* More changes may have come while this ran. */
		if (s->idling && !j->failed && imap_sync_needed(s))
			idle_sync_start(s);
	}
	buf_free(&j->out);
	free(j);
}

static void
idle_sync_start(struct imap_session *s)
{
	struct idle_sync *j = xcalloc(1, sizeof(*j));

	j->s = s;
	s->changes_unknown = false;
	s->sync_running = true;
	imap_job(s, idle_sync_work, idle_sync_done, j);
}

void
imap_changed(struct imap_session *s, uint64_t modseq)
{
	if (modseq == 0)
		s->changes_unknown = true;
	else if (modseq > s->bus_modseq)
		s->bus_modseq = modseq;
	if (s->idling && !s->busy && !s->sync_running && imap_sync_needed(s))
		idle_sync_start(s);
}

void
imap_cmd_idle(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	if (args != NULL) {
		imap_complete_bad(s, "IDLE takes no arguments");
		return;
	}
	conn_puts(s->c, "+ idling\r\n");
	s->idling = true;
	/* Held-back expunges and changes already reported go out now. */
	if (s->state == IMAP_STATE_SELECTED && s->n_pending_expunged > 0) {
		struct buf b = BUF_INIT;

		imap_sync_flush_expunges(s, &b);
		conn_write(s->c, b.data, b.len);
		buf_free(&b);
	}
	if (imap_sync_needed(s))
		idle_sync_start(s);
}

void
imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	s->idling = false;
	if (line != NULL && len == 4 && strncasecmp(line, "DONE", 4) == 0) {
		imap_complete(s, IMAP_OK, NULL, "IDLE terminated");
		return;
	}
	imap_complete_bad(s, "Expected DONE");
}
