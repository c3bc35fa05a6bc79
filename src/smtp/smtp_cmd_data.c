/* DATA (RFC 5321 4.1.1.4), BDAT (RFC 3030) and BURL (RFC 4468):
 * receiving the message.
 *
 * The message is one transfer for lib/conn (conn_transfer_begin): from the
 * 354 to the end of the data, or from the first BDAT chunk to the end of
 * the last one (the commands between chunks included), it must keep to
 * [limits] data_deadline and min_data_rate or the session ends with 421
 * (smtp_limit) and the message is discarded.
 *
 * The body is read raw from conn_input() (never line by line), fed to the
 * body machine (smtp_data.c), and streamed through a write buffer into a
 * spool file created at the start: the message is never held in memory.
 * A message that breaks a rule (size, bare CR/LF, NUL, long line, loop)
 * is read to its end, so the session stays in sync, then refused and its
 * spool file removed. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"
#include "smtp/smtp.h"
#include "smtp/smtp_received.h"
#include "smtp/smtp_session.h"

/* The message starts (DATA's 354, the first BDAT chunk); a BDAT chunk
 * while it runs changes nothing. */
static void
transfer_begin(struct smtp_session *s)
{
	struct conn_transfer_limits lim = {
		.deadline_sec = s->cfg->data_deadline,
		.min_rate = s->cfg->min_data_rate,
	};

	conn_transfer_begin(s->c, &lim);
}

static int
wbuf_flush(struct smtp_tx *tx)
{
	int r = 0;

	if (tx->wlen > 0)
		r = store_spool_write(&tx->spool, tx->wbuf, tx->wlen, &tx->spool_err);
	tx->wlen = 0;
	return r;
}

/* The body machine's sink: gathers runs into the write buffer. */
static int
spool_sink(void *arg, const char *data, size_t len)
{
	struct smtp_tx *tx = arg;

	if (tx->wlen + len > SMTP_SPOOL_WBUF && wbuf_flush(tx) == -1)
		return -1;
	if (len >= SMTP_SPOOL_WBUF)
		return store_spool_write(&tx->spool, data, len, &tx->spool_err);
	memcpy(tx->wbuf + tx->wlen, data, len);
	tx->wlen += len;
	return 0;
}

/* Creates the spool file and writes the trace header fields.  On failure
 * replies 451/452 and returns -1 (the transaction is left to the caller). */
static int
begin_message(struct smtp_session *s, enum smtp_body_mode mode)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_trace t;
	struct buf hdr = BUF_INIT;
	smtp_body_sink_fn *sink;
	void *sink_arg;
	const char *error;
	int r;

	if (store_spool_create(s->cfg->data_dir, &tx->spool, &error) == -1) {
		log_warnx("smtp %s cannot create spool file: %s", conn_id(s->c), error);
		smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
		return -1;
	}
	tx->spool_open = true;
	tx->wbuf = arena_alloc(tx->arena, SMTP_SPOOL_WBUF);
	tx->wlen = 0;

	memset(&t, 0, sizeof(t));
	/* RFC 5321 4.4: Return-Path is added at final delivery.  When every
	 * recipient is remote we are a relay and add none; a message with
	 * both kinds carries it in the queued copy too (the outbound agent
	 * drops a leading Return-Path). */
	t.return_path = tx->local.n > 0 ? tx->mail_from : NULL;
	t.helo = s->helo != NULL ? s->helo : "unknown";
	t.peer_addr = conn_peer_addr(s->c);
	t.hostname = s->cfg->hostname;
	t.with = smtp_with_keyword(s->esmtp, conn_tls_active(s->c), s->auth_user != NULL, tx->smtputf8);
	t.tls = conn_tls_description(s->c);
	t.id = tx->id;
	t.for_rcpt = tx->n_rcpt == 1 ? tx->first_rcpt : NULL;
	t.when = time(NULL);
	smtp_received_build(&hdr, &t);
	r = store_spool_write(&tx->spool, hdr.data, hdr.len, &tx->spool_err);
	buf_free(&hdr);
	if (r == -1) {
		log_warnx("smtp %s cannot write spool file", conn_id(s->c));
		if (tx->spool_err == STORE_ERR_NOSPACE)
			smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		else
			smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
		return -1;
	}
	sink = spool_sink;
	sink_arg = tx;
	if (smtp_is_submission(s))
		smtp_submit_begin(s, &sink, &sink_arg);
	smtp_body_init(&tx->body, mode, s->cfg->max_message_size, sink, sink_arg);
	return 0;
}

/* The reply for a refused message; also logs it and ends the transaction. */
static void
refuse_message(struct smtp_session *s, enum smtp_body_status st)
{
	struct smtp_tx *tx = s->tx;
	char from[64];

	switch (st) {
	case SMTP_BODY_TOO_BIG:
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		break;
	case SMTP_BODY_BARE_CR:
		/* RFC 5321 2.3.8; Postfix's smtpd_forbid_bare_newline uses 5.5.2 */
		smtp_reply(s, 550, "5.5.2", "Message contains bare CR characters");
		break;
	case SMTP_BODY_NUL:
		smtp_reply(s, 550, "5.6.0", "Message contains NUL characters");
		break;
	case SMTP_BODY_LINE_TOO_LONG:
		smtp_reply(s, 550, "5.5.2", "Message line too long");
		break;
	case SMTP_BODY_LOOP:
		smtp_reply(s, 554, "5.4.6", "Too many hops (mail loop?)");
		break;
	default:
		if (tx->spool_err == STORE_ERR_NOSPACE)
			smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		else
			smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
		break;
	}
	metrics_smtp_message(s->service != SERVICE_SMTP, false);
	log_info("smtp %s message id=%s from=<%s> nrcpt=%u size=%" PRIu64 " result=rejected reason=\"%s\"",
	         conn_id(s->c), tx->id, smtp_log_safe(tx->mail_from, from, sizeof(from)), tx->n_rcpt,
	         tx->body.size, smtp_body_status_text(st));
	smtp_tx_free(s);
}

/* The whole message is in (DATA's end, or BDAT LAST). */
static void
end_of_message(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	enum smtp_body_status st = tx->body.status;

	s->state = SMTP_ST_CMD;
	conn_transfer_end(s->c);
	if (st == SMTP_BODY_OK && (smtp_submit_finish(s) == -1 || wbuf_flush(tx) == -1))
		st = SMTP_BODY_SINK_FAILED;
	if (st != SMTP_BODY_OK) {
		refuse_message(s, st);
		return;
	}
	if (smtp_submit_check(s) == -1)
		return;   /* refused, transaction ended */
	smtp_deliver(s);
}

/* DATA */
int
smtp_cmd_data(struct smtp_session *s, const char *args)
{
	struct smtp_tx *tx = s->tx;

	if (args[0] != '\0')
		return smtp_error(s, 501, "5.5.4", "Syntax: DATA");
	if (tx == NULL)
		return smtp_error(s, 503, "5.5.1", "Need MAIL command");
	if (tx->bdat)
		return smtp_error(s, 503, "5.5.1", "DATA not allowed after BDAT");
	if (tx->n_rcpt == 0)
		return smtp_error(s, 554, "5.5.1", "No valid recipients");
	if (begin_message(s, SMTP_BODY_DATA) == -1) {
		smtp_tx_free(s);
		return 0;
	}
	s->state = SMTP_ST_DATA;
	conn_puts(s->c, "354 End data with <CR><LF>.<CR><LF>\r\n");
	transfer_begin(s);
	return 0;
}

bool
smtp_data_input(struct smtp_session *s)
{
	struct buf *in = conn_input(s->c);
	size_t used;
	int r;

	if (in->len == 0)
		return false;
	r = smtp_body_feed(&s->tx->body, in->data, in->len, &used);
	conn_consume(s->c, used);
	if (r == 0)
		return false;
	end_of_message(s);
	return true;
}

/* Starts reading a BDAT chunk that is thrown away, answered with reply
 * once it has all been read (RFC 3030 2: the chunk follows the command
 * whatever the reply, so it must be consumed to stay in sync). */
static int
bdat_reject(struct smtp_session *s, int code, const char *enh, const char *text, bool counts)
{
	s->bdat_discard = true;
	s->bdat_reject_code = code;
	s->bdat_reject_enh = enh;
	s->bdat_reject_text = text;
	s->bdat_reject_counts = counts;
	/* Read and timed all the same (after any transaction it ended). */
	transfer_begin(s);
	return 0;
}

/* BDAT SP chunk-size [SP end-marker] */
int
smtp_cmd_bdat(struct smtp_session *s, const char *args)
{
	struct smtp_tx *tx = s->tx;
	uint64_t size;
	bool last;

	if (smtp_parse_bdat(args, &size, &last) != SMTP_PARSE_OK) {
		/* the chunk's length is unknown: the input cannot be followed */
		smtp_reply(s, 501, "5.5.4", "Syntax: BDAT chunk-size [LAST]");
		conn_printf(s->c, "421 4.5.0 %s Closing connection: BDAT framing lost\r\n", s->cfg->hostname);
		conn_close(s->c);
		return 0;
	}
	s->state = SMTP_ST_BDAT;
	s->bdat_left = size;
	s->bdat_size = size;
	s->bdat_last = last;
	s->bdat_discard = false;

	if (!s->greeted)
		return bdat_reject(s, 503, "5.5.1", "Send HELO/EHLO first", true);
	if (tx == NULL)
		return bdat_reject(s, 503, "5.5.1", "Need MAIL command", true);
	if (tx->n_rcpt == 0) {
		smtp_tx_free(s);
		return bdat_reject(s, 554, "5.5.1", "No valid recipients", true);
	}
	if (size > SMTP_BDAT_CHUNK_MAX || tx->bdat_total + size > s->cfg->max_message_size) {
		char from[64];

		metrics_smtp_message(s->service != SERVICE_SMTP, false);
		log_info("smtp %s message id=%s from=<%s> nrcpt=%u size=%" PRIu64 " result=rejected reason=\"too big\"",
		         conn_id(s->c), tx->id, smtp_log_safe(tx->mail_from, from, sizeof(from)), tx->n_rcpt,
		         tx->bdat_total + size);
		smtp_tx_free(s);
		return bdat_reject(s, 552, "5.3.4", "Message size exceeds fixed maximum message size", false);
	}
	if (!tx->bdat) {
		if (begin_message(s, SMTP_BODY_BDAT) == -1) {
			/* replied already; the chunk is still to be skipped */
			smtp_tx_free(s);
			return bdat_reject(s, 0, NULL, NULL, false);
		}
		tx->bdat = true;
	}
	tx->bdat_total += size;
	transfer_begin(s);
	return 0;
}

/* The chunk has been read. */
static void
bdat_chunk_done(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;

	s->state = SMTP_ST_CMD;
	if (tx == NULL || !tx->bdat)
		conn_transfer_end(s->c);   /* no message goes on after this chunk */
	if (s->bdat_discard) {
		s->bdat_discard = false;
		if (s->bdat_reject_code == 0)
			return;
		if (s->bdat_reject_counts)
			smtp_error(s, s->bdat_reject_code, s->bdat_reject_enh, "%s", s->bdat_reject_text);
		else
			smtp_reply(s, s->bdat_reject_code, s->bdat_reject_enh, "%s", s->bdat_reject_text);
		return;
	}
	if (tx->body.status != SMTP_BODY_OK) {
		refuse_message(s, tx->body.status);
		return;
	}
	if (!s->bdat_last) {
		smtp_reply(s, 250, "2.0.0", "%" PRIu64 " octets received", s->bdat_size);
		return;
	}
	smtp_body_finish(&tx->body);
	end_of_message(s);
}

bool
smtp_bdat_input(struct smtp_session *s)
{
	if (s->bdat_left > 0) {
		struct buf *in = conn_input(s->c);
		size_t n, used;

		if (in->len == 0)
			return false;
		n = in->len < s->bdat_left ? in->len : (size_t)s->bdat_left;
		if (!s->bdat_discard)
			smtp_body_feed(&s->tx->body, in->data, n, &used);
		conn_consume(s->c, n);
		s->bdat_left -= n;
		if (s->bdat_left > 0)
			return false;
	}
	bdat_chunk_done(s);
	return true;
}

/* BURL: set once at start-up, before any session (server.c). */
static smtp_burl_fetch_fn *burl_fetch;

void
smtp_set_burl_fetch(smtp_burl_fetch_fn *fn)
{
	burl_fetch = fn;
}

bool
smtp_burl_offered(const struct smtp_session *s)
{
	return burl_fetch != NULL && smtp_is_submission(s) && s->auth_user != NULL;
}

struct burl_job {
	struct smtp_session *s;
	char *url;
	size_t len;
	bool last;
	int rc;
	const char *error;
	uint64_t got;
};

/* The URL's octets go through the body machine as a BDAT chunk's do (the
 * submission header checks included), on the worker: the session is
 * paused meanwhile, so the job owns the transaction. */
static int
burl_sink(void *arg, const char *data, size_t len)
{
	struct burl_job *j = arg;
	struct smtp_tx *tx = j->s->tx;
	size_t used;

	j->got += len;
	smtp_body_feed(&tx->body, data, len, &used);
	return tx->body.status == SMTP_BODY_OK ? 0 : -1;
}

static void
burl_work(void *arg)
{
	struct burl_job *j = arg;

	j->rc = burl_fetch(j->s->cfg->data_dir, j->s->auth_user, j->url, j->len, burl_sink, j, &j->error);
}

static void
burl_done(void *arg)
{
	struct burl_job *j = arg;
	struct smtp_session *s = j->s;
	struct smtp_tx *tx = s->tx;

	smtp_session_unbusy(s);
	if (conn_closing(s->c))
		goto out;
	if (j->rc != 0) {
		/* RFC 4468 5: the message cannot be made; the transaction ends */
		if (j->rc == -1)
			smtp_reply(s, 451, "4.3.0", "Cannot read the mailbox now, try again later");
		else
			smtp_reply(s, 554, "5.6.6", "IMAP URL resolution failed: %s", j->error);
		smtp_tx_free(s);
		goto out;
	}
	if (tx->body.status != SMTP_BODY_OK) {
		refuse_message(s, tx->body.status);
		goto out;
	}
	if (!j->last) {
		smtp_reply(s, 250, "2.0.0", "%" PRIu64 " octets received", j->got);
		goto out;
	}
	smtp_body_finish(&tx->body);
	end_of_message(s);
out:
	free(j->url);
	free(j);
}

int
smtp_cmd_burl(struct smtp_session *s, const char *args)
{
	struct smtp_tx *tx = s->tx;
	struct burl_job *j;
	const char *sp = strchr(args, ' ');
	size_t len = sp != NULL ? (size_t)(sp - args) : strlen(args);
	bool last = false;

	if (!smtp_is_submission(s) || burl_fetch == NULL)
		return smtp_error(s, 502, "5.5.1", "Command not implemented");
	if (s->auth_user == NULL)
		return smtp_error(s, 530, "5.7.0", "Authentication required");
	if (len == 0)
		return smtp_error(s, 501, "5.5.4", "Syntax: BURL absolute-URI [LAST]");
	if (sp != NULL) {
		if (strcasecmp(sp + 1, "LAST") != 0)
			return smtp_error(s, 501, "5.5.4", "Syntax: BURL absolute-URI [LAST]");
		last = true;
	}
	if (tx == NULL)
		return smtp_error(s, 503, "5.5.1", "Need MAIL command");
	if (tx->n_rcpt == 0)
		return smtp_error(s, 554, "5.5.1", "No valid recipients");
	if (!tx->bdat) {
		/* BURL and BDAT chunks make one message (RFC 4468 3); DATA
		 * is refused after either */
		if (begin_message(s, SMTP_BODY_BDAT) == -1) {
			smtp_tx_free(s);
			return 0;
		}
		tx->bdat = true;
	}
	j = xcalloc(1, sizeof(*j));
	j->s = s;
	j->url = xmalloc(len + 1);
	memcpy(j->url, args, len);
	j->url[len] = '\0';
	j->len = len;
	j->last = last;
	smtp_session_busy(s);
	conn_defer(s->c, burl_work, burl_done, j);
	return 0;
}
