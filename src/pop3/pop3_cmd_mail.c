/* The TRANSACTION state (RFC 1939 section 5) and QUIT's UPDATE state
 * (section 6), over the snapshot taken at login.  Message numbers are
 * positions in that snapshot, 1-based; DELE only marks, QUIT expunges the
 * marked messages in one atomic store call.
 *
 * Nothing is flagged \Seen by RETR or TOP.  A POP3 session here writes to
 * the store only at QUIT, and only to delete: a download that is left on
 * the server (phones, Gmail's fetcher, "leave a copy") does not turn the
 * mail "read" in the user's IMAP clients, and a session that drops never
 * writes at all.  (Dovecot's default does set \Seen, at QUIT or
 * disconnect; its pop3_no_flag_updates=yes is what we do.) */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "pop3/pop3_lock.h"
#include "pop3/pop3_session.h"

/* Index of message num, or -1 after replying. */
static long
msg_index(struct pop3_session *s, uint32_t num)
{
	if (num == 0 || num > s->n_msgs) {
		pop3_err(s, "No such message.");
		return -1;
	}
	if (pop3_msg_deleted(s, num - 1)) {
		pop3_err(s, "Message is deleted.");
		return -1;
	}
	return (long)num - 1;
}

void
pop3_cmd_stat(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *error;

	if (pop3_args_none(cmd, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	pop3_ok(s, "%zu %" PRIu64, s->n_msgs - s->n_deleted, s->total_size - s->deleted_size);
}

static void
start_listing(struct pop3_session *s, enum pop3_stream_kind kind)
{
	struct pop3_stream *st = xcalloc(1, sizeof(*st));

	st->kind = kind;
	st->fd = -1;
	buf_init(&st->out);
	pop3_stream_start(s, st);
}

void
pop3_cmd_list(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *error;
	uint32_t num;
	bool given;
	long i;

	if (pop3_args_msgnum_opt(cmd, &given, &num, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	if (given) {
		if ((i = msg_index(s, num)) >= 0)
			pop3_ok(s, "%" PRIu32 " %" PRIu64, num, s->msgs[i].size);
		return;
	}
	pop3_ok(s, "%zu messages (%" PRIu64 " octets)", s->n_msgs - s->n_deleted,
	        s->total_size - s->deleted_size);
	start_listing(s, POP3_STREAM_LIST);
}

const char *
pop3_msg_uidl(const struct pop3_session *s, const struct store_msg *m, char *buf)
{
	if (m->pop3_uidl[0] != '\0')
		return m->pop3_uidl;
	pop3_uidl_format(s->info.uidvalidity, m->uid, buf);
	return buf;
}

void
pop3_cmd_uidl(struct pop3_session *s, const struct pop3_command *cmd)
{
	char uidl[POP3_UIDL_SIZE];
	const char *error;
	uint32_t num;
	bool given;
	long i;

	if (pop3_args_msgnum_opt(cmd, &given, &num, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	if (given) {
		if ((i = msg_index(s, num)) >= 0) {
			pop3_ok(s, "%" PRIu32 " %s", num, pop3_msg_uidl(s, &s->msgs[i], uidl));
		}
		return;
	}
	conn_puts(s->c, "+OK Unique-ID listing follows\r\n");
	start_listing(s, POP3_STREAM_UIDL);
}

/* RETR (top false) or TOP: opens the file and streams it. */
static void
send_message(struct pop3_session *s, long i, bool top, uint64_t lines)
{
	struct pop3_stream *st;
	const char *error;
	int fd;

	fd = store_msg_open(s->st, &s->msgs[i], &error);
	if (fd == -1 && errno == ENOENT) {
		/* Expunged since the login's snapshot (by IMAP, say): the
		 * session goes on; DELE of it still works and deletes nothing. */
		log_info("pop3 %s %s uid %" PRIu32 ": deleted by another session", conn_id(s->c), s->mailbox_user,
		         s->msgs[i].uid);
		pop3_err(s, "Message %ld was deleted by another session.", i + 1);
		return;
	}
	if (fd == -1) {
		log_warnx("pop3 %s %s uid %" PRIu32 ": %s", conn_id(s->c), s->mailbox_user, s->msgs[i].uid, error);
		pop3_err(s, "[SYS/TEMP] The message cannot be read now.");
		return;
	}
	st = xcalloc(1, sizeof(*st));
	st->kind = POP3_STREAM_MSG;
	st->fd = fd;
	st->chunk = xmalloc(POP3_RETR_CHUNK);
	buf_init(&st->out);
	if (top) {
		pop3_stuffer_init_top(&st->stuffer, lines);
		s->top_count++;
		conn_puts(s->c, "+OK\r\n");
	} else {
		pop3_stuffer_init(&st->stuffer);
		s->retr_count++;
		/* The files have CRLF line ends, so the stored size is the
		 * octet count before stuffing (RFC 1939 section 11). */
		pop3_ok(s, "%" PRIu64 " octets", s->msgs[i].size);
	}
	pop3_stream_start(s, st);
}

void
pop3_cmd_retr(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *error;
	uint32_t num;
	long i;

	if (pop3_args_msgnum(cmd, &num, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	if ((i = msg_index(s, num)) >= 0)
		send_message(s, i, false, 0);
}

void
pop3_cmd_top(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *error;
	uint64_t lines;
	uint32_t num;
	long i;

	if (pop3_args_top(cmd, &num, &lines, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	if ((i = msg_index(s, num)) >= 0)
		send_message(s, i, true, lines);
}

void
pop3_cmd_dele(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *error;
	uint32_t num;
	long i;

	if (pop3_args_msgnum(cmd, &num, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	if ((i = msg_index(s, num)) < 0)
		return;
	s->deleted[i / 8] |= (uint8_t)(1u << (i % 8));
	s->n_deleted++;
	s->deleted_size += s->msgs[i].size;
	pop3_ok(s, "Message %" PRIu32 " deleted.", num);
}

void
pop3_cmd_rset(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *error;

	if (pop3_args_none(cmd, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	memset(s->deleted, 0, s->n_msgs / 8 + 1);
	s->n_deleted = 0;
	s->deleted_size = 0;
	pop3_ok(s, "Maildrop has %zu messages (%" PRIu64 " octets)", s->n_msgs, s->total_size);
}

void
pop3_cmd_noop(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *error;

	if (pop3_args_none(cmd, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	conn_puts(s->c, "+OK\r\n");
}

struct pop3_expunge_job {
	struct pop3_session *s;
	struct store *st;
	uint32_t *uids;
	size_t n;
	int rc;
	char error[256];
};

/* Worker thread: the expunge, then the store is closed off the loop too
 * (closing SQLite may checkpoint its WAL). */
static void
expunge_work(void *arg)
{
	struct pop3_expunge_job *job = arg;
	const char *error = NULL;

	job->rc = 0;
	if (job->n > 0 && store_expunge(job->st, "INBOX", job->uids, job->n, &error) == -1) {
		job->rc = -1;
		snprintf(job->error, sizeof(job->error), "%s", error != NULL ? error : "?");
	}
	store_close(&job->st);
}

static void
expunge_done(void *arg)
{
	struct pop3_expunge_job *job = arg;
	struct pop3_session *s = job->s;

	s->busy = false;
	if (job->rc == 0) {
		s->expunged = job->n;
		if (!conn_closing(s->c)) {
			if (job->n == 0)
				conn_puts(s->c, "+OK Logging out.\r\n");
			else
				pop3_ok(s, "Logging out, %zu message%s deleted.", job->n, job->n == 1 ? "" : "s");
		}
	} else {
		log_warnx("pop3 %s expunge for %s failed: %s", conn_id(s->c), s->mailbox_user, job->error);
		if (!conn_closing(s->c))
			pop3_err(s, "[SYS/TEMP] Some deleted messages were not removed, try again later.");
	}
	pop3_close(s, "quit");
	free(job->uids);
	free(job);
}

void
pop3_cmd_quit(struct pop3_session *s, const struct pop3_command *cmd)
{
	struct pop3_expunge_job *job;
	const char *error;

	if (pop3_args_none(cmd, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	if (s->state == POP3_STATE_AUTHORIZATION) {
		conn_puts(s->c, "+OK Bye\r\n");
		pop3_close(s, "quit");
		return;
	}
	/* A newer login has taken the mailbox over (its kick is on the
	 * way): this session must delete nothing that one has listed. */
	if (!pop3_lock_update(s->lock)) {
		pop3_err(s, "[IN-USE] A newer POP3 session of this mailbox has started; nothing was deleted.");
		pop3_close(s, "superseded");
		return;
	}
	/* RFC 1939 section 6: the UPDATE state; no login takes the mailbox
	 * over until this session has ended. */
	s->state = POP3_STATE_UPDATE;
	job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->st = s->st;
	s->st = NULL;
	job->uids = xcalloc(s->n_deleted + 1, sizeof(*job->uids));
	for (size_t i = 0; i < s->n_msgs; i++) {
		if (pop3_msg_deleted(s, i))
			job->uids[job->n++] = s->msgs[i].uid;
	}
	s->busy = true;
	conn_defer(s->c, expunge_work, expunge_done, job);
}
