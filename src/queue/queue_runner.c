/* The delivery agent's entries and schedule (see queue_runner.h).
 *
 * Every entry of data_dir/queue is loaded into memory (recipients and
 * their states).  An entry is due at next_at; a min-heap orders the due
 * times and one timer wakes the loop for the earliest.  When an entry is
 * due its pending recipients are grouped by domain into jobs, which
 * queue_dest.c delivers.  When its last job ends the attempt ends:
 * recipients that failed for good are told to the sender in one DSN,
 * those still pending wait retry_delay * 2^(attempts-1) (at most
 * retry_max) until max_age, and after delay_warning the sender is told
 * once that the message is late.  Every outcome is appended to the
 * envelope before the next step, so a restart goes on where it stopped;
 * an entry whose recipients are all done or failed is removed.  What
 * the runner learns from outside (new entries, holds, deletes, `tern
 * queue` requests) comes through queue_control.c. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/evloop.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"
#include "mailauth/dkim.h"
#include "queue/queue_dsn.h"
#include "queue/queue_private.h"
#include "queue/queue_runner.h"
#include "queue/queue_runner_private.h"
#include "store/store_private.h"

#define QR_HASH_SIZE 65536

struct qrunner_settings qr;

static pthread_t thread;
static bool started;
static struct qentry *table[QR_HASH_SIZE];
static struct qentry *all;
static struct qentry **heap;
static size_t heap_n, heap_cap;
/* For metrics: entries in the table, the oldest queued_at among them and
 * how many share it (a walk finds the next oldest only when the last of
 * those leaves). */
static size_t n_entries, n_oldest;
static int64_t oldest_queued_at;

static void
oldest_add(int64_t at)
{
	if (n_oldest == 0 || at < oldest_queued_at) {
		oldest_queued_at = at;
		n_oldest = 1;
	} else if (at == oldest_queued_at) {
		n_oldest++;
	}
}
static struct evloop_timer *timer;
static int64_t timer_at;
static char queue_dir[PATH_MAX + 16];
/* The signing keys (data_dir/dkim), loaded again at most every
 * DKIM_RELOAD_SEC so that `tern dkim generate` takes effect without a
 * restart, and on `tern queue flush`. */
#define DKIM_RELOAD_SEC 60
static struct dkim_keys *dkim_keys;
static int64_t dkim_loaded_at;

static void schedule_timer(void);

static int64_t
now_sec(void)
{
	return (int64_t)time(NULL);
}

/* ---- the table of entries ---- */

static unsigned
hash_id(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % QR_HASH_SIZE;
}

struct qentry *
qrunner_entry_find(const char *id)
{
	for (struct qentry *e = table[hash_id(id)]; e != NULL; e = e->hnext) {
		if (strcmp(e->id, id) == 0)
			return e;
	}
	return NULL;
}

struct qentry *
qrunner_entries(void)
{
	return all;
}

/* ---- the schedule: a min-heap on next_at ---- */

static void
heap_swap(size_t a, size_t b)
{
	struct qentry *t = heap[a];

	heap[a] = heap[b];
	heap[b] = t;
	heap[a]->heap_i = a;
	heap[b]->heap_i = b;
}

static void
heap_up(size_t i)
{
	while (i > 0 && heap[(i - 1) / 2]->next_at > heap[i]->next_at) {
		heap_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < heap_n && heap[l]->next_at < heap[m]->next_at)
			m = l;
		if (r < heap_n && heap[r]->next_at < heap[m]->next_at)
			m = r;
		if (m == i)
			return;
		heap_swap(i, m);
		i = m;
	}
}

void
qrunner_unschedule(struct qentry *e)
{
	size_t i = e->heap_i;

	if (i == SIZE_MAX)
		return;
	e->heap_i = SIZE_MAX;
	if (i != --heap_n) {
		heap[i] = heap[heap_n];
		heap[i]->heap_i = i;
		heap_down(i);
		heap_up(i);
	}
}

/* Due at when (0: now), unless held or in flight. */
void
qrunner_schedule(struct qentry *e, int64_t when)
{
	e->next_at = when;
	if (e->held || e->jobs > 0 || e->deleted)
		return;
	if (e->heap_i != SIZE_MAX) {
		heap_down(e->heap_i);
		heap_up(e->heap_i);
	} else {
		if (heap_n == heap_cap) {
			heap_cap = heap_cap == 0 ? 1024 : heap_cap * 2;
			heap = xrealloc(heap, heap_cap * sizeof(*heap));
		}
		e->heap_i = heap_n;
		heap[heap_n++] = e;
		heap_up(e->heap_i);
	}
	schedule_timer();
}

/* ---- loading and forgetting entries ---- */

void
qrunner_entry_free(struct qentry *e)
{
	struct qentry **pp = &table[hash_id(e->id)];

	qrunner_unschedule(e);
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		all = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	for (size_t i = 0; i < e->n_rcpts; i++) {
		free(e->rcpts[i]);
		free(e->reply[i]);
		free(e->remote[i]);
	}
	free(e->rcpts);
	free(e->reply);
	free(e->remote);
	free(e->state);
	free(e->new_fail);
	for (size_t i = 0; i < e->n_rcpts; i++)
		free(e->orcpt[i]);
	free(e->orcpt);
	free(e->notify);
	free(e->new_relayed);
	free(e->envid);
	free(e->mail_params);
	free(e->mail_from);
	free(e->dkim);
	n_entries--;
	if (e->queued_at == oldest_queued_at && --n_oldest == 0) {
		for (struct qentry *o = all; o != NULL; o = o->next)
			oldest_add(o->queued_at);
	}
	metrics_queue_set(n_entries, n_oldest > 0 ? oldest_queued_at : 0);
	free(e);
}

static void
entry_remove(struct qentry *e)
{
	const char *error;

	if (!e->deleted && queue_remove(qr.cfg->data_dir, e->id, &error) == -1)
		log_warnx("queue %s: %s", e->id, error);
	qrunner_entry_free(e);
}

void
qrunner_entry_loaded(const struct queue_entry *qe, void *arg)
{
	struct qentry *e;
	unsigned h;

	if (qrunner_entry_find(qe->id) != NULL)
		return;
	e = xcalloc(1, sizeof(*e));
	snprintf(e->id, sizeof(e->id), "%s", qe->id);
	e->mail_from = xstrdup(qe->mail_from);
	e->n_rcpts = qe->n_rcpts;
	e->rcpts = xcalloc(qe->n_rcpts, sizeof(*e->rcpts));
	e->reply = xcalloc(qe->n_rcpts, sizeof(*e->reply));
	e->remote = xcalloc(qe->n_rcpts, sizeof(*e->remote));
	e->state = xcalloc(qe->n_rcpts, 1);
	e->new_fail = xcalloc(qe->n_rcpts, 1);
	e->new_relayed = xcalloc(qe->n_rcpts, 1);
	e->notify = xcalloc(qe->n_rcpts, sizeof(*e->notify));
	e->orcpt = xcalloc(qe->n_rcpts, sizeof(*e->orcpt));
	e->ret = qe->ret;
	e->envid = qe->envid != NULL ? xstrdup(qe->envid) : NULL;
	if (qe->ret != QUEUE_RET_UNSPEC || qe->envid != NULL)
		e->mail_params = xasprintf("%s%s%s%s", qe->ret == QUEUE_RET_FULL ? "RET=FULL" : "",
		                           qe->ret == QUEUE_RET_HDRS ? "RET=HDRS" : "",
		                           qe->envid != NULL && qe->ret != QUEUE_RET_UNSPEC ? " " : "",
		                           qe->envid != NULL ? "ENVID=" : "");
	if (qe->envid != NULL) {
		char *p = xasprintf("%s%s", e->mail_params, qe->envid);

		free(e->mail_params);
		e->mail_params = p;
	}
	for (size_t i = 0; i < qe->n_rcpts; i++) {
		e->rcpts[i] = xstrdup(qe->rcpts[i]);
		e->state[i] = qe->rcpt_state[i];
		e->notify[i] = qe->rcpt_notify[i];
		if (qe->rcpt_orcpt[i] != NULL)
			e->orcpt[i] = xstrdup(qe->rcpt_orcpt[i]);
		if (qe->rcpt_reply[i] != NULL)
			e->reply[i] = xstrdup(qe->rcpt_reply[i]);
	}
	e->size = qe->size;
	e->queued_at = qe->queued_at;
	e->warned_at = qe->warned_at;
	e->attempts = qe->attempts;
	e->held = qe->held;
	e->heap_i = SIZE_MAX;
	h = hash_id(e->id);
	e->hnext = table[h];
	table[h] = e;
	e->next = all;
	if (all != NULL)
		all->prev = e;
	all = e;
	n_entries++;
	oldest_add(e->queued_at);
	metrics_queue_set(n_entries, oldest_queued_at);
	if (arg != NULL)
		*(struct qentry **)arg = e;
	qrunner_schedule(e, qe->next_attempt);
}

void
qrunner_entry_load(const char *id)
{
	struct qentry *e = NULL;
	const char *error;

	if (queue_get(qr.cfg->data_dir, id, qrunner_entry_loaded, &e, &error) == -1)
		log_warnx("queue %s: %s", id, error);
}

/* ---- an attempt ---- */

static bool
needs_utf8(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s >= 0x80)
			return true;
	}
	return false;
}

/* 8-bit bytes anywhere make the message BODY=8BITMIME (RFC 6152); a
 * non-ASCII envelope address needs SMTPUTF8 (RFC 6531). */
static void
scan_message(struct qentry *e, int fd)
{
	char buf[65536];
	off_t off = 0;
	ssize_t r;

	e->scanned = true;
	e->smtputf8 = needs_utf8(e->mail_from);
	for (size_t i = 0; i < e->n_rcpts && !e->smtputf8; i++)
		e->smtputf8 = needs_utf8(e->rcpts[i]);
	while (!e->body_8bit && (r = pread(fd, buf, sizeof(buf), off)) > 0) {
		for (ssize_t i = 0; i < r; i++) {
			if ((unsigned char)buf[i] >= 0x80) {
				e->body_8bit = true;
				break;
			}
		}
		off += r;
	}
}

void
qrunner_load_dkim_keys(void)
{
	struct dkim_keys *keys = NULL;
	char *error = NULL;

	dkim_loaded_at = now_sec();
	if (dkim_keys_load(qr.cfg->data_dir, &keys, &error) == -1) {
		log_warnx("dkim keys not loaded, keeping the previous ones: %s", error != NULL ? error : "?");
		free(error);
		return;
	}
	dkim_keys_free(&dkim_keys);
	dkim_keys = keys;
}

/* The DKIM-Signature for the message's From domain (or the sender's),
 * made once and sent before the file's bytes: the file is never
 * rewritten.  No key for the domain: sent unsigned. */
static void
sign_message(struct qentry *e, int fd)
{
	const char *error;

	if (dkim_keys == NULL || now_sec() - dkim_loaded_at >= DKIM_RELOAD_SEC)
		qrunner_load_dkim_keys();
	e->signed_once = true;
	if (dkim_keys == NULL || dkim_keys->n == 0)
		return;
	if (dkim_sign_message(dkim_keys, fd, e->size, e->mail_from, time(NULL), &e->dkim, &error) == -1) {
		log_warnx("queue %s: not signed: %s", e->id, error);
		e->dkim = NULL;
	}
}

const char *
qrunner_rcpt_domain(const char *rcpt)
{
	const char *at = strrchr(rcpt, '@');

	return at != NULL ? at + 1 : "";
}

static struct qjob *
job_new(struct qentry *e)
{
	struct qjob *j = xcalloc(1, sizeof(*j));

	j->e = e;
	j->fd = -1;   /* opened when a session takes the job */
	return j;
}

/* The message file, opened only when a session is ready to send it: jobs
 * waiting for a connection hold no descriptor, however many there are. */
int
qrunner_job_open(struct qjob *j)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s.eml", queue_dir, j->e->id);
	j->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (j->fd == -1) {
		log_warnx("queue %s: %s: %s", j->e->id, path, strerror(errno));
		return -1;
	}
	j->msg.fd = j->fd;
	return 0;
}

static void
job_seal(struct qjob *j)
{
	struct qentry *e = j->e;

	j->msg.id = e->id;
	j->msg.fd = j->fd;
	j->msg.size = e->size;
	j->msg.mail_from = e->mail_from;
	j->msg.rcpts = j->rcpts;
	j->msg.n_rcpts = j->n;
	j->msg.body_8bit = e->body_8bit;
	j->msg.smtputf8 = e->smtputf8;
	j->msg.mail_params = e->mail_params;
	for (size_t i = 0; i < j->n; i++) {
		if (j->rcpt_params[i] != NULL)
			j->msg.rcpt_params = (const char *const *)j->rcpt_params;
	}
	if (e->dkim != NULL) {
		j->msg.prefix = e->dkim;
		j->msg.prefix_len = strlen(e->dkim);
	}
	e->jobs++;
}


/* "NOTIFY=... ORCPT=..." for the next server (sent only if it offers
 * DSN), or NULL. */
static char *
rcpt_params(const struct qentry *e, size_t k)
{
	unsigned n = e->notify[k];
	char notify[48];

	if (n == 0 && e->orcpt[k] == NULL)
		return NULL;
	if (n & QUEUE_NOTIFY_NEVER)
		snprintf(notify, sizeof(notify), "NEVER");
	else
		snprintf(notify, sizeof(notify), "%s%s%s%s%s", n & QUEUE_NOTIFY_SUCCESS ? "SUCCESS" : "",
		         (n & QUEUE_NOTIFY_SUCCESS) && (n & (QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_DELAY)) ? "," : "",
		         n & QUEUE_NOTIFY_FAILURE ? "FAILURE" : "",
		         (n & QUEUE_NOTIFY_FAILURE) && (n & QUEUE_NOTIFY_DELAY) ? "," : "",
		         n & QUEUE_NOTIFY_DELAY ? "DELAY" : "");
	return xasprintf("%s%s%s%s%s", n != 0 ? "NOTIFY=" : "", n != 0 ? notify : "",
	                 n != 0 && e->orcpt[k] != NULL ? " " : "", e->orcpt[k] != NULL ? "ORCPT=" : "",
	                 e->orcpt[k] != NULL ? e->orcpt[k] : "");
}

/* Groups the pending recipients by destination and hands out the jobs. */
static void
entry_start(struct qentry *e)
{
	char path[PATH_MAX + 64];
	bool *taken;
	int fd;

	snprintf(path, sizeof(path), "%s/%s.eml", queue_dir, e->id);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		log_warnx("queue %s: %s: %s; dropped", e->id, path, strerror(errno));
		entry_remove(e);
		return;
	}
	if (!e->scanned)
		scan_message(e, fd);
	if (!e->signed_once)
		sign_message(e, fd);
	taken = xcalloc(e->n_rcpts, sizeof(*taken));
	for (size_t i = 0; i < e->n_rcpts; i++) {
		const char *dom;
		struct qjob *j;
		struct qdest *d;

		if (taken[i] || e->state[i] != QUEUE_RCPT_PENDING)
			continue;
		dom = qr.cfg->delivery.relay[0] != '\0' ? "[relay]" : qrunner_rcpt_domain(e->rcpts[i]);
		d = qdest_get(dom);
		j = job_new(e);
		for (size_t k = i; k < e->n_rcpts && j->n < QJOB_RCPT_MAX; k++) {
			if (taken[k] || e->state[k] != QUEUE_RCPT_PENDING)
				continue;
			if (k != i && strcmp(dom, "[relay]") != 0 && strcasecmp(qrunner_rcpt_domain(e->rcpts[k]), dom) != 0)
				continue;
			taken[k] = true;
			j->idx[j->n] = k;
			j->rcpt_params[j->n] = rcpt_params(e, k);
			j->rcpts[j->n++] = e->rcpts[k];
		}
		job_seal(j);
		qdest_add_job(d, j);
	}
	free(taken);
	close(fd);
	if (e->jobs == 0)
		qrunner_attempt_end(e);
}

static void
format_reply(const struct mta_reply *r, char *out, size_t size)
{
	if (r->code == 0)
		snprintf(out, size, "%s %s", r->status[0] != '\0' ? r->status : "4.4.1", r->text);
	else if (r->status[0] != '\0')
		snprintf(out, size, "%d %s %s", r->code, r->status, r->text);
	else
		snprintf(out, size, "%d %s", r->code, r->text);
}

void
qrunner_job_done(struct qjob *job, const struct mta_reply *per_rcpt, const char *host, bool peer_dsn)
{
	struct qentry *e = job->e;
	int64_t now = now_sec();
	const char *error;

	for (size_t i = 0; i < job->n && !e->deleted; i++) {
		const struct mta_reply *r = &per_rcpt[i];
		size_t k = job->idx[i];
		char text[QUEUE_REPLY_MAX + 1];

		format_reply(r, text, sizeof(text));
		free(e->reply[k]);
		e->reply[k] = xstrdup(text);
		free(e->remote[k]);
		e->remote[k] = host != NULL && r->code != 0 ? xstrdup(host) : NULL;
		if (r->code >= 200 && r->code < 300) {
			e->state[k] = QUEUE_RCPT_DONE;
			/* a server with DSN took NOTIFY over; without, say "relayed" */
			if ((e->notify[k] & QUEUE_NOTIFY_SUCCESS) && !peer_dsn)
				e->new_relayed[k] = 1;
			if (queue_note_rcpt(qr.cfg->data_dir, e->id, k, QUEUE_RCPT_DONE, false, now, text, &error) == -1)
				log_warnx("queue %s: %s", e->id, error);
		} else if (r->code >= 500) {
			/* noted as failed once the sender has been told */
			e->new_fail[k] = 1;
		} else if (queue_note_rcpt(qr.cfg->data_dir, e->id, k, QUEUE_RCPT_PENDING, true, now, text, &error) ==
		           -1) {
			log_warnx("queue %s: %s", e->id, error);
		}
		/* after the note: a line saying "sent" means it is on disk */
		metrics_delivery(r->code >= 200 && r->code < 300 ? METRICS_DELIVERY_SENT
		                 : r->code >= 500 ? METRICS_DELIVERY_BOUNCED : METRICS_DELIVERY_DEFERRED);
		log_info("queue %s to=<%s> relay=%s status=%s reply=%s", e->id, e->rcpts[k], host != NULL ? host : "none",
		         r->code >= 200 && r->code < 300 ? "sent" : r->code >= 500 ? "bounced" : "deferred", text);
	}
	if (job->fd != -1)
		close(job->fd);
	for (size_t i = 0; i < job->n; i++)
		free(job->rcpt_params[i]);
	free(job);
	if (--e->jobs == 0)
		qrunner_attempt_end(e);
}

/* Tells the sender about the recipients marked in new_fail (or, with
 * delayed, about every pending one), once. */
/* Whether the sender asked to hear about this recipient (RFC 3461 4.1:
 * without NOTIFY, failures and delays; NEVER: nothing). */
static bool
wants(const struct qentry *e, size_t i, unsigned bit)
{
	unsigned n = e->notify[i];

	if (n == 0)
		return bit != QUEUE_NOTIFY_SUCCESS;
	return (n & bit) != 0;
}

static bool
in_notice(const struct qentry *e, size_t i, enum queue_dsn_action action)
{
	switch (action) {
	case QUEUE_DSN_FAILED:
		return e->new_fail[i] && wants(e, i, QUEUE_NOTIFY_FAILURE);
	case QUEUE_DSN_DELAYED:
		return e->state[i] == QUEUE_RCPT_PENDING && !e->new_fail[i] && wants(e, i, QUEUE_NOTIFY_DELAY);
	case QUEUE_DSN_RELAYED:
		return e->new_relayed[i];
	case QUEUE_DSN_DELIVERED:
		break;
	}
	return false;
}

/* Tells the sender, in one notice, about the recipients the action
 * concerns (in_notice); nothing when there are none.  Returns 0 or -1. */
static int
tell_sender(struct qentry *e, enum queue_dsn_action action)
{
	static const char *const what[] = { "bounce", "delay", "delivery", "relay" };
	struct queue_dsn_rcpt *r = xcalloc(e->n_rcpts, sizeof(*r));
	struct queue_dsn dsn = {
		.hostname = qr.cfg->hostname,
		.orig_id = e->id,
		.orig_sender = e->mail_from,
		.arrival = e->queued_at,
		.action = action,
		.retry_until = e->queued_at + qr.cfg->delivery.max_age,
		.envid = e->envid,
		/* the whole message only when asked: a bounce of a large
		 * message should not cost the sender's mailbox as much again */
		.full = e->ret == QUEUE_RET_FULL && action == QUEUE_DSN_FAILED,
		.rcpts = r,
		.orig_fd = -1,
		.orig_size = e->size,
	};
	char path[PATH_MAX + 64];
	const char *error;
	int ret = 0;

	for (size_t i = 0; i < e->n_rcpts; i++) {
		if (!in_notice(e, i, action))
			continue;
		r[dsn.n_rcpts].rcpt = e->rcpts[i];
		r[dsn.n_rcpts].reply = e->reply[i] != NULL ? e->reply[i] : "4.0.0 not delivered";
		r[dsn.n_rcpts].remote_mta = e->remote[i];
		r[dsn.n_rcpts].orcpt = e->orcpt[i];
		dsn.n_rcpts++;
	}
	if (dsn.n_rcpts > 0 && e->mail_from[0] != '\0') {
		snprintf(path, sizeof(path), "%s/%s.eml", queue_dir, e->id);
		dsn.orig_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		ret = queue_dsn_send(qr.cfg->data_dir, &dsn, &error);
		if (ret == -1)
			log_warnx("queue %s: sending the %s notice to <%s> failed: %s", e->id, what[action], e->mail_from,
			          error);
		else
			log_info("queue %s %s notice sent to=<%s> nrcpt=%zu", e->id, what[action], e->mail_from,
			         dsn.n_rcpts);
		if (dsn.orig_fd != -1)
			close(dsn.orig_fd);
	}
	free(r);
	return ret;
}

void
qrunner_attempt_end(struct qentry *e)
{
	const struct tern_config *cfg = qr.cfg;
	int64_t now = now_sec(), next;
	size_t pending = 0, failed = 0;
	const char *error;
	unsigned shift;

	if (e->deleted) {
		qrunner_entry_free(e);
		return;
	}
	for (size_t i = 0; i < e->n_rcpts; i++) {
		if (e->state[i] != QUEUE_RCPT_PENDING)
			continue;
		if (!e->new_fail[i] && (e->bounce || now - e->queued_at >= (int64_t)cfg->delivery.max_age)) {
			char text[QUEUE_REPLY_MAX + 64];

			snprintf(text, sizeof(text), "%s (%s)",
			         e->bounce ? "5.0.0 deleted from the queue by the administrator"
			                   : "4.4.7 delivery time expired",
			         e->reply[i] != NULL ? e->reply[i] : "not tried");
			free(e->reply[i]);
			e->reply[i] = xstrdup(text);
			e->new_fail[i] = 1;
		}
		if (e->new_fail[i])
			failed++;
		else
			pending++;
	}
	if (failed > 0) {
		/* the sender first, then the note: a crash in between repeats
		 * the bounce rather than losing it; never one for a bounce */
		tell_sender(e, QUEUE_DSN_FAILED);
		for (size_t i = 0; i < e->n_rcpts; i++) {
			if (!e->new_fail[i])
				continue;
			e->new_fail[i] = 0;
			e->state[i] = QUEUE_RCPT_FAILED;
			if (queue_note_rcpt(cfg->data_dir, e->id, i, QUEUE_RCPT_FAILED, false, now, e->reply[i], &error) ==
			    -1)
				log_warnx("queue %s: %s", e->id, error);
		}
	}
	/* NOTIFY=SUCCESS to servers without DSN: "relayed" (RFC 3461 4.1);
	 * told once, best effort (a crash before this loses the notice) */
	for (size_t i = 0; i < e->n_rcpts; i++) {
		if (e->new_relayed[i]) {
			tell_sender(e, QUEUE_DSN_RELAYED);
			memset(e->new_relayed, 0, e->n_rcpts);
			break;
		}
	}
	if (pending == 0) {
		log_info("queue %s removed", e->id);
		entry_remove(e);
		return;
	}
	if (cfg->delivery.delay_warning > 0 && e->warned_at == 0 && e->mail_from[0] != '\0' &&
	    now - e->queued_at >= (int64_t)cfg->delivery.delay_warning) {
		if (tell_sender(e, QUEUE_DSN_DELAYED) == 0) {
			e->warned_at = now;
			if (queue_note_warned(cfg->data_dir, e->id, now, &error) == -1)
				log_warnx("queue %s: %s", e->id, error);
		}
	}
	e->attempts++;
	shift = e->attempts - 1 < 20 ? e->attempts - 1 : 20;
	next = (int64_t)cfg->delivery.retry_delay << shift;
	if (next > (int64_t)cfg->delivery.retry_max)
		next = cfg->delivery.retry_max;
	next += now;
	/* never past the end of its life by much: the last try is at max_age */
	if (next > e->queued_at + (int64_t)cfg->delivery.max_age)
		next = e->queued_at + (int64_t)cfg->delivery.max_age;
	if (queue_note_attempt(cfg->data_dir, e->id, now, next, &error) == -1)
		log_warnx("queue %s: %s", e->id, error);
	log_info("queue %s deferred pending=%zu attempts=%u next_in=%llds", e->id, pending, e->attempts,
	         (long long)(next - now));
	qrunner_schedule(e, next);
}

/* ---- the timer ---- */

static void
on_timer(void *arg)
{
	int64_t now = now_sec();

	timer = NULL;
	while (heap_n > 0 && heap[0]->next_at <= now && !qr.stopping) {
		struct qentry *e = heap[0];

		qrunner_unschedule(e);
		entry_start(e);
	}
	schedule_timer();
}

static void
schedule_timer(void)
{
	int64_t now = now_sec(), at;

	if (heap_n == 0 || qr.stopping)
		return;
	at = heap[0]->next_at < now ? now : heap[0]->next_at;
	if (timer != NULL) {
		if (timer_at <= at)
			return;
		evloop_timer_cancel(qr.loop, &timer);
	}
	timer_at = at;
	timer = evloop_timer_add(qr.loop, (uint64_t)(at - now) * 1000, on_timer, NULL);
}

/* ---- the thread ---- */

static void *
runner_main(void *arg)
{
	evloop_run(qr.loop);
	mta_tls_thread_end();
	return NULL;
}

static void
start_on_loop(void *arg)
{
	const char *error;

	if (queue_list(qr.cfg->data_dir, qrunner_entry_loaded, NULL, &error) == -1)
		log_warnx("queue: %s", error);
	qcontrol_read_pending();
	log_info("queue runner started entries=%zu", heap_n);
}

int
queue_runner_start(const struct tern_config *cfg, char **error_out)
{
	struct dns_settings ds = { 0 };
	char *err = NULL;

	memset(&qr, 0, sizeof(qr));
	qr.cfg = cfg;
	snprintf(queue_dir, sizeof(queue_dir), "%s/queue", cfg->data_dir);
	ds.resolver = cfg->delivery.resolver;
	ds.trust_anchor_file = cfg->delivery.dnssec_trust_anchor[0] != '\0' ? cfg->delivery.dnssec_trust_anchor : NULL;
	if ((qr.dns = dns_new(&ds, &err)) == NULL) {
		*error_out = xasprintf("dns: %s", err != NULL ? err : "?");
		free(err);
		return -1;
	}
	qr.loop = evloop_new();
	if (dns_attach_loop(qr.dns, qr.loop, &err) == -1) {
		*error_out = xasprintf("dns: %s", err != NULL ? err : "?");
		free(err);
		goto fail;
	}
	if (qcontrol_start(queue_dir, error_out) == -1)
		goto fail;
	evloop_post(qr.loop, start_on_loop, NULL);
	if (pthread_create(&thread, NULL, runner_main, NULL) != 0) {
		*error_out = xasprintf("cannot start the delivery thread");
		goto fail;
	}
	started = true;
	return 0;
fail:
	qcontrol_stop();
	dns_detach_loop(qr.dns);
	evloop_free(&qr.loop);
	dns_free(&qr.dns);
	return -1;
}

static void
stop_on_loop(void *arg)
{
	__atomic_store_n(&qr.stopping, true, __ATOMIC_RELAXED);
	if (timer != NULL)
		evloop_timer_cancel(qr.loop, &timer);
	/* sessions end now; their messages are tried again after a restart */
	conn_close_idle(true);
}

static void
exit_loop(void *arg)
{
	evloop_stop(qr.loop);
}

void
queue_runner_stop(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	if (!started)
		return;
	evloop_post(qr.loop, stop_on_loop, NULL);
	/* the closes above complete on the loop; give them a moment */
	for (int i = 0; i < 50 && __atomic_load_n(&qr.sessions_total, __ATOMIC_RELAXED) > 0; i++)
		nanosleep(&ts, NULL);
	/* an MTA-STS fetch on a worker posts its end to the loop: the loop
	 * must outlive it (the fetch sees qr.stopping and ends soon) */
	for (int i = 0; i < 1500 && qsts_in_flight() > 0; i++)
		nanosleep(&ts, NULL);
	evloop_post(qr.loop, exit_loop, NULL);
	pthread_join(thread, NULL);
	started = false;
	dns_detach_loop(qr.dns);
	qcontrol_stop();
	while (all != NULL)
		qrunner_entry_free(all);
	free(heap);
	heap = NULL;
	heap_n = heap_cap = 0;
	qdest_free_all();
	dkim_keys_free(&dkim_keys);
	evloop_free(&qr.loop);
	dns_free(&qr.dns);
}
