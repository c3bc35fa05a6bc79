/* One message on a session: local checks (SMTPUTF8, SIZE), then RSET if
 * a transaction is still open, MAIL, RCPT for each recipient and DATA
 * (none with CHUNKING: BDAT follows the RCPT replies).  With PIPELINING
 * they go in one write (RFC 2920 3.1: DATA last in the group) and the
 * replies are read in order; without, one command per reply, stopping
 * early when MAIL or every RCPT fails. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/conn.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "mta/mta_private.h"

#define CMD_RSET 0
#define CMD_MAIL 1
#define CMD_RCPT0 2

static bool
has(const struct mta_session *s, unsigned ext)
{
	return (s->ehlo.ext & ext) != 0;
}

static size_t
cmd_data(const struct mta_session *s)
{
	return CMD_RCPT0 + s->m->n_rcpts;
}

static void
fail_all(struct mta_session *s, const struct mta_reply *r)
{
	for (size_t i = 0; i < s->m->n_rcpts; i++) {
		s->res[i] = *r;
		s->rstate[i] = RCPT_REFUSED;
	}
	s->n_accepted = 0;
}

static void
write_cmd(struct mta_session *s, size_t i)
{
	const struct mta_msg *m = s->m;
	bool dsn = has(s, MTA_EXT_DSN);

	if (i == CMD_RSET) {
		mta_cmd(s, "RSET");
	} else if (i == CMD_MAIL) {
		char size[32] = "";

		if (has(s, MTA_EXT_SIZE))
			snprintf(size, sizeof(size), " SIZE=%" PRIu64, s->total);
		/* BODY=8BITMIME only where offered: a peer without 8BITMIME
		 * gets the 8-bit message as it is (RFC 6152 3 lets a relay do
		 * so rather than bounce; Postfix does the same by default). */
		mta_cmd(s, "MAIL FROM:<%s>%s%s%s%s%s", m->mail_from, size,
		        m->body_8bit && has(s, MTA_EXT_8BITMIME) ? " BODY=8BITMIME" : "",
		        m->smtputf8 ? " SMTPUTF8" : "", dsn && m->mail_params != NULL ? " " : "",
		        dsn && m->mail_params != NULL ? m->mail_params : "");
	} else if (i < cmd_data(s)) {
		const char *rp = dsn && m->rcpt_params != NULL ? m->rcpt_params[i - CMD_RCPT0] : NULL;

		mta_cmd(s, "RCPT TO:<%s>%s%s", m->rcpts[i - CMD_RCPT0], rp != NULL ? " " : "", rp != NULL ? rp : "");
	} else {
		mta_cmd(s, "DATA");
	}
}

static unsigned
timeout_for(const struct mta_session *s, size_t i)
{
	if (i == CMD_RSET || i == CMD_MAIL)
		return MTA_TIMEOUT_MAIL;
	return i < cmd_data(s) ? MTA_TIMEOUT_RCPT : MTA_TIMEOUT_DATA;
}

static void
send_cmds(struct mta_session *s)
{
	while (s->cmd_next < s->cmd_end && (has(s, MTA_EXT_PIPELINING) || s->cmd_next == s->cmd_acked))
		write_cmd(s, s->cmd_next++);
	mta_wait(s, timeout_for(s, s->cmd_acked));
}

void
mta_tx_start(struct mta_session *s)
{
	const struct mta_msg *m = s->m;
	struct mta_reply r;

	s->res = xcalloc(m->n_rcpts ? m->n_rcpts : 1, sizeof(*s->res));
	s->rstate = xcalloc(m->n_rcpts ? m->n_rcpts : 1, 1);
	s->n_accepted = 0;
	s->mail_failed = false;
	s->data_ignored = false;
	s->total = m->prefix_len + m->size;
	s->state = MTA_TX;
	if (m->smtputf8 && !has(s, MTA_EXT_SMTPUTF8)) {
		/* RFC 6531 3.5: no downgrade here; the sender hears why. */
		mta_reply_set(&r, 550, "5.6.7", "the destination %s does not support SMTPUTF8", s->peer);
		fail_all(s, &r);
		mta_tx_finish(s);
		return;
	}
	if (has(s, MTA_EXT_SIZE) && s->ehlo.size_max > 0 && s->total > s->ehlo.size_max) {
		mta_reply_set(&r, 552, "5.3.4", "message size %" PRIu64 " exceeds the limit %" PRIu64 " of %s",
		              s->total, s->ehlo.size_max, s->peer);
		fail_all(s, &r);
		mta_tx_finish(s);
		return;
	}
	s->cmd_first = s->need_rset ? CMD_RSET : CMD_MAIL;
	s->cmd_next = s->cmd_acked = s->cmd_first;
	s->cmd_end = cmd_data(s) + (has(s, MTA_EXT_CHUNKING) ? 0 : 1);
	send_cmds(s);
}

/* A reply to the command numbered i. */
static void
cmd_reply(struct mta_session *s, size_t i, const struct mta_reply *r)
{
	if (i == CMD_RSET) {
		if (r->code / 100 != 2) {
			mta_fail(s, r, false);
			return;
		}
		s->need_rset = false;
	} else if (i == CMD_MAIL) {
		if (r->code / 100 == 2) {
			s->need_rset = true;
		} else {
			fail_all(s, r);
			s->mail_failed = true;
		}
	} else if (i < cmd_data(s)) {
		size_t k = i - CMD_RCPT0;

		if (s->mail_failed)
			return;   /* the 503 of a pipelined RCPT: MAIL's reply stands */
		if (r->code / 100 == 2) {
			s->rstate[k] = RCPT_OK;
			s->n_accepted++;
		} else {
			s->rstate[k] = RCPT_REFUSED;
			s->res[k] = *r;
		}
	} else if (r->code == 354 && s->n_accepted == 0) {
		/* RFC 2920 3.1: DATA was pipelined and the server says go
		 * ahead though no recipient was taken: end an empty message. */
		s->data_ignored = true;
		s->state = MTA_DOT;
		conn_write(s->conn, ".\r\n", 3);
		mta_wait(s, MTA_TIMEOUT_DOT);
	} else if (r->code == 354) {
		mta_body_start(s, false);
	} else if (s->n_accepted > 0) {
		for (size_t k = 0; k < s->m->n_rcpts; k++)
			if (s->rstate[k] == RCPT_OK)
				s->res[k] = *r;
	}
}

/* The replies to DATA's end, a BDAT chunk, or the dot of an empty
 * message. */
static void
dot_reply(struct mta_session *s, const struct mta_reply *r)
{
	bool ok = r->code / 100 == 2;

	if (!s->data_ignored && s->bdat && ok && !s->chunk_last) {
		mta_body_next_chunk(s);
		return;
	}
	if (!s->data_ignored)
		for (size_t k = 0; k < s->m->n_rcpts; k++)
			if (s->rstate[k] == RCPT_OK)
				s->res[k] = *r;
	/* The transaction is over after the final reply; a refused BDAT
	 * chunk leaves it to RSET (RFC 3030 2). */
	s->need_rset = s->bdat && !ok;
	mta_tx_finish(s);
}

void
mta_tx_reply(struct mta_session *s, const struct mta_reply *r)
{
	if (s->state == MTA_DOT) {
		dot_reply(s, r);
		return;
	}
	if (s->cmd_acked >= s->cmd_next) {
		mta_fail(s, r, false);   /* a reply to nothing we sent */
		return;
	}
	cmd_reply(s, s->cmd_acked++, r);
	if (conn_closing(s->conn) || s->state != MTA_TX)
		return;   /* failed, or DATA's 354 started the body */
	/* Without pipelining nothing more is worth sending once MAIL or
	 * every RCPT failed. */
	if (s->cmd_acked == s->cmd_next &&
	    (s->mail_failed || (s->cmd_acked == cmd_data(s) && s->n_accepted == 0)))
		s->cmd_end = s->cmd_next;
	if (s->cmd_acked < s->cmd_end) {
		send_cmds(s);
		return;
	}
	if (s->cmd_end == cmd_data(s) && !s->mail_failed && s->n_accepted > 0 && has(s, MTA_EXT_CHUNKING)) {
		mta_body_start(s, true);
		return;
	}
	mta_tx_finish(s);
}

/* Debug only: the caller logs each recipient's outcome once (the queue
 * runner's "status=" line), so info level has one line per recipient. */
static void
log_result(struct mta_session *s)
{
	const struct mta_msg *m = s->m;

	if (!log_debug_enabled())
		return;
	for (size_t k = 0; k < m->n_rcpts; k++)
		log_debug("mta %s msg=%s peer=%s to=<%s> tls=%d result=%s reply=\"%d %s %s\"", conn_id(s->conn),
		         m->id != NULL ? m->id : "-", s->peer, m->rcpts[k], s->tls,
		         s->res[k].code / 100 == 2 ? "sent" : s->res[k].code / 100 == 5 ? "bounced" : "deferred",
		         s->res[k].code, s->res[k].status, s->res[k].text);
}

void
mta_tx_finish(struct mta_session *s)
{
	const struct mta_msg *m = s->m;

	log_result(s);
	s->m = NULL;
	s->state = MTA_READY;
	s->cb->msg_done(s->arg, s, m, s->res);
	free(s->res);
	free(s->rstate);
	s->res = NULL;
	s->rstate = NULL;
	if (s->state == MTA_READY && !conn_closing(s->conn))
		mta_become_ready(s);
}

void
mta_tx_abort(struct mta_session *s, const struct mta_reply *why)
{
	const struct mta_msg *m = s->m;

	if (s->res == NULL) {
		/* Sent but its turn never came. */
		s->res = xcalloc(m->n_rcpts ? m->n_rcpts : 1, sizeof(*s->res));
		s->rstate = xcalloc(m->n_rcpts ? m->n_rcpts : 1, 1);
	}
	for (size_t k = 0; k < m->n_rcpts; k++) {
		if (s->rstate[k] == RCPT_REFUSED)
			continue;   /* its RCPT (or MAIL) reply stands */
		s->res[k] = *why;
		s->res[k].code = 0;
	}
	log_result(s);
	s->m = NULL;
	s->cb->msg_done(s->arg, s, m, s->res);
}
