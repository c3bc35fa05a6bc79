/* Delivery at the end of a message: in a worker job, fsync the spool
 * file, link it into each local recipient's mailbox (store_deliver) and
 * queue it for the remote ones (queue_enqueue).  The client hears
 * "250 2.0.0 Ok: queued as <id>" only after both have returned 0, that is
 * once every copy is durable (DESIGN.md promise 1). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "queue/queue.h"
#include "queue/queue_dsn.h"
#include "smtp/smtp_inbound.h"
#include "smtp/smtp_session.h"

struct smtp_deliver_job {
	struct smtp_session *s;
	/* input: owned by the transaction, untouched by the loop while the
	 * job runs (the session is busy) */
	const char *data_dir;
	struct store_spool *spool;
	const char *mail_from;
	const char *queue_from;         /* the queue entry's sender: mail_from or its SRS form */
	const char *tx_id;              /* the queue entry takes this id */
	const char *hostname;
	const char **local;
	size_t n_local;
	const char **remote;            /* each once (smtp_tx_add_remote) */
	size_t n_remote;
	struct queue_dsn_req dsn;       /* what the remote ones asked for (RFC 3461) */
	const char **success;           /* local recipients that asked NOTIFY=SUCCESS */
	size_t n_success;
	int64_t now;
	bool check;                     /* port 25 with [inbound] checks on */
	struct smtp_inbound inbound;    /* its input and the reject verdict */
	/* output */
	int result;                     /* 0 or -1 */
	enum store_error err;
	char error[256];
	char queue_id[QUEUE_ID_MAX + 1];
};

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts v and removes duplicates (two RCPTs, or two aliases, reaching
 * one mailbox get one copy).  Returns the new count. */
static size_t
dedup(const char **v, size_t n)
{
	size_t i, o = 0;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 1; i < n; i++) {
		if (strcmp(v[i], v[o]) != 0)
			v[++o] = v[i];
	}
	return o + 1;
}

/* NOTIFY=SUCCESS for local recipients (RFC 3461 4.1): a "delivered"
 * notice once the copies are durable.  Best effort: the message itself
 * is delivered whatever happens to the notice. */
static void
notify_delivered(struct smtp_deliver_job *j)
{
	struct queue_dsn_rcpt r[SMTP_RCPT_MAX];
	struct queue_dsn dsn = {
		.hostname = j->hostname,
		.orig_id = j->tx_id,
		.orig_sender = j->mail_from,
		.arrival = j->now,
		.action = QUEUE_DSN_DELIVERED,
		.envid = j->dsn.envid,
		.rcpts = r,
		.orig_fd = j->spool->fd,
		.orig_size = j->spool->size,
	};
	const char *error;

	for (size_t i = 0; i < j->n_success && i < SMTP_RCPT_MAX; i++) {
		r[i] = (struct queue_dsn_rcpt){ .rcpt = j->success[i], .reply = "250 2.0.0 delivered" };
		dsn.n_rcpts++;
	}
	if (queue_dsn_send(j->data_dir, &dsn, &error) == -1)
		log_warnx("smtp message id=%s: the delivery notice failed: %s", j->tx_id, error);
}

static void
deliver_work(void *arg)
{
	struct smtp_deliver_job *j = arg;
	const char *error = NULL;

	j->result = -1;
	j->err = STORE_ERR_TEMP;
	j->n_local = dedup(j->local, j->n_local);
	/* SPF/DKIM/DMARC on the complete message, before anything is stored */
	if (j->check && smtp_inbound_check(j->data_dir, j->spool, &j->inbound, &j->err) == -1) {
		snprintf(j->error, sizeof(j->error), "inbound checks: spool rewrite failed");
		goto out;
	}
	if (j->check && j->inbound.reject) {
		snprintf(j->error, sizeof(j->error), "rejected by DMARC policy of %.200s", j->inbound.reject_domain);
		goto out;
	}
	if (store_spool_commit(j->spool, &j->err) == -1) {
		snprintf(j->error, sizeof(j->error), "spool commit failed");
		goto out;
	}
	if (j->n_local > 0 &&
	    store_deliver(j->data_dir, j->spool, j->local, j->n_local, j->now, &j->err, &error) == -1) {
		snprintf(j->error, sizeof(j->error), "deliver: %s", error != NULL ? error : "?");
		goto out;
	}
	if (j->n_remote > 0 && queue_enqueue(j->data_dir, j->spool, j->queue_from, j->remote, j->n_remote, &j->dsn,
	                                     j->tx_id, j->queue_id, &j->err, &error) == -1) {
		snprintf(j->error, sizeof(j->error), "queue: %s", error != NULL ? error : "?");
		goto out;
	}
	if (j->n_success > 0 && j->mail_from[0] != '\0')
		notify_delivered(j);
	j->result = 0;
	j->err = STORE_OK;
out:
	/* the delivered copies and the queue entry are links of their own */
	store_spool_discard(j->spool);
}

static void
deliver_done(void *arg)
{
	struct smtp_deliver_job *j = arg;
	struct smtp_session *s = j->s;
	struct smtp_tx *tx = s->tx;
	char from[64], srs[96];

	smtp_session_unbusy(s);
	tx->spool_open = false;   /* discarded by the job */
	if (j->result == 0)
		s->n_msgs++;
	metrics_smtp_message(s->service != SERVICE_SMTP, j->result == 0);
	log_info("smtp %s message id=%s from=<%s> nrcpt=%u local=%zu remote=%zu size=%" PRIu64
	         "%s%s%s result=%s%s%s",
	         conn_id(s->c), tx->id, smtp_log_safe(tx->mail_from, from, sizeof(from)), tx->n_rcpt, j->n_local,
	         j->n_remote, tx->body.size, j->queue_from != j->mail_from ? " srs=<" : "",
	         j->queue_from != j->mail_from ? smtp_log_safe(j->queue_from, srs, sizeof(srs)) : "",
	         j->queue_from != j->mail_from ? ">" : "",
	         j->result != 0 ? (j->inbound.reject ? "rejected" : "failed") : j->n_remote > 0 ? "queued" : "delivered",
	         j->result == 0 ? "" : " error=", j->result == 0 ? "" : j->error);
	if (!conn_closing(s->c)) {
		if (j->result == 0)
			smtp_reply(s, 250, "2.0.0", "Ok: queued as %s", tx->id);
		else if (j->inbound.reject)
			smtp_reply(s, 550, "5.7.1", "Message from %s rejected by DMARC policy", j->inbound.reject_domain);
		else if (j->err == STORE_ERR_NOSPACE)
			smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		else if (j->err == STORE_ERR_QUOTA)
			smtp_reply(s, 552, "5.2.2", "Mailbox full");
		else
			smtp_reply(s, 451, "4.3.0", "Temporary local problem, try again later");
	}
	smtp_tx_free(s);   /* frees j too: it lives in the transaction arena */
}

void
smtp_deliver(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_deliver_job *j = arena_alloc(tx->arena, sizeof(*j));

	memset(j, 0, sizeof(*j));

	j->s = s;
	j->data_dir = s->cfg->data_dir;
	j->spool = &tx->spool;
	j->mail_from = tx->mail_from;
	j->queue_from = smtp_srs_sender(s);
	if (j->queue_from == NULL)
		j->queue_from = tx->mail_from;
	j->tx_id = tx->id;
	j->local = tx->local.v;
	j->n_local = tx->local.n;
	j->remote = tx->remote.v;
	j->n_remote = tx->remote.n;
	j->hostname = s->cfg->hostname;
	j->dsn.ret = tx->ret == SMTP_RET_FULL ? QUEUE_RET_FULL : tx->ret == SMTP_RET_HDRS ? QUEUE_RET_HDRS
	                                                                                   : QUEUE_RET_UNSPEC;
	j->dsn.envid = tx->envid;
	if (tx->remote.n > 0) {
		unsigned *notify = arena_alloc(tx->arena, tx->remote.n * sizeof(*notify));
		const char **orcpt = arena_alloc(tx->arena, tx->remote.n * sizeof(*orcpt));

		for (size_t i = 0; i < tx->remote.n; i++) {
			notify[i] = tx->remote_dsn[i].notify;
			orcpt[i] = tx->remote_dsn[i].orcpt;
		}
		j->dsn.notify = notify;
		j->dsn.orcpt = orcpt;
	}
	j->success = tx->success.v;
	j->n_success = tx->success.n;
	j->now = (int64_t)time(NULL);
	/* port 25 only: submission users are authenticated, not checked */
	j->check = s->service == SERVICE_SMTP && s->cfg->inbound.checks;
	j->inbound.log_id = conn_id(s->c);
	j->inbound.authserv_id = s->cfg->hostname;
	j->inbound.peer_ip = conn_peer_addr(s->c);
	j->inbound.helo = s->helo != NULL ? s->helo : "unknown";
	j->inbound.mail_from = tx->mail_from;
	j->inbound.enforce = s->cfg->inbound.dmarc_enforce;
	smtp_session_busy(s);
	conn_defer(s->c, deliver_work, deliver_done, j);
}
