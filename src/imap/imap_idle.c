/* IDLE (RFC 2177, RFC 9051 6.3.13): after "+ idling" the session waits for
 * "DONE"; meanwhile every change the bus reports for the selected mailbox
 * is synced and told at once (no polling: the bus posts to this loop only
 * for this user's mailbox). */
#include <strings.h>

#include "imap/imap_session.h"

/* A sync during IDLE is over: more changes may have come meanwhile. */
static void
idle_synced(struct imap_session *s, bool failed)
{
	if (s->idling && !failed && imap_sync_needed(s))
		imap_sync_start(s, true, idle_synced);
}

void
imap_changed(struct imap_session *s, uint64_t modseq)
{
	if (modseq == 0)
		s->changes_unknown = true;
	else if (modseq > s->bus_modseq)
		s->bus_modseq = modseq;
	/* NOTIFY's SELECTED group speaks for the selected mailbox, in IDLE
	 * too (its MessageNew may carry fetch attributes). */
	if (imap_notify_selected_events(s))
		imap_notify_kick(s);
	else if (s->idling && !s->busy && !s->sync_running && imap_sync_needed(s))
		imap_sync_start(s, true, idle_synced);
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
	/* Look at the store once as IDLE starts, as NOOP does: another
	 * process (tern import) changes it without the bus, and clients
	 * start IDLE again every few minutes (RFC 2177: at least every 29). */
	s->changes_unknown = s->state == IMAP_STATE_SELECTED;
	if (imap_sync_needed(s))
		imap_sync_start(s, true, idle_synced);
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
