/* Group commit for deliveries.  Deliveries to one user serialise on that
 * user's index lock anyway; instead of each paying its own fsync of msg/
 * and its own WAL commit, whoever arrives while another delivery to the
 * same bucket is being written waits, and the next writer (the "leader")
 * takes everything queued and writes it with one fsync and one
 * transaction per user (store_deliver_batch).  Users in other buckets are
 * written in parallel by other worker threads.
 *
 * Every waiter gets its own result; nothing is acknowledged before the
 * batch that holds it has committed. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store/store_private.h"

#define GROUP_BUCKETS 64
/* Most messages written in one transaction; the rest wait for the next. */
#define GROUP_BATCH_MAX 64

struct group_req {
	struct group_req *next;
	const char *data_dir;
	const char *user;
	struct store_delivery d;
	int ret;
	enum store_error err;
	char error[STORE_ERR_MAX];
	bool done;
	bool taken;              /* already part of a user group in this batch */
};

struct group_bucket {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct group_req *head;
	struct group_req **tailp;
	bool busy;
};

static struct group_bucket buckets[GROUP_BUCKETS];
static pthread_once_t buckets_once = PTHREAD_ONCE_INIT;

static void
buckets_init(void)
{
	for (int i = 0; i < GROUP_BUCKETS; i++) {
		pthread_mutex_init(&buckets[i].mu, NULL);
		pthread_cond_init(&buckets[i].cv, NULL);
		buckets[i].tailp = &buckets[i].head;
	}
}

static unsigned
bucket_of(const char *user)
{
	unsigned h = 2166136261u;   /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h % GROUP_BUCKETS;
}

/* Writes the requests of one user (first and the later ones in the list
 * with the same user and data_dir) in one transaction. */
static void
write_user_group(struct group_req *first)
{
	struct store_delivery d[GROUP_BATCH_MAX];
	struct group_req *reqs[GROUP_BATCH_MAX];
	struct store *st = NULL;
	enum store_error err = STORE_ERR_TEMP;
	const char *msg = NULL;
	size_t n = 0;
	int r;

	for (struct group_req *q = first; q != NULL && n < GROUP_BATCH_MAX; q = q->next) {
		if (q->taken || strcmp(q->user, first->user) != 0 || strcmp(q->data_dir, first->data_dir) != 0)
			continue;
		q->taken = true;
		reqs[n] = q;
		d[n++] = q->d;
	}
	r = store_cache_open(first->data_dir, first->user, &st, &err, &msg);
	if (r == 0)
		r = store_deliver_batch(st, "INBOX", d, n, &err, &msg);
	for (size_t i = 0; i < n; i++) {
		reqs[i]->ret = r;
		if (r == 0) {
			reqs[i]->d.uid_out = d[i].uid_out;
		} else {
			reqs[i]->err = err;
			snprintf(reqs[i]->error, sizeof(reqs[i]->error), "%s", msg != NULL ? msg : "delivery failed");
		}
	}
	store_cache_release(&st, r == -1);
}

int
store_group_deliver(const char *data_dir, const char *user, struct store_delivery *d, enum store_error *err_out,
                    const char **error_out)
{
	static __thread char error[STORE_ERR_MAX];
	struct group_req req = { .data_dir = data_dir, .user = user, .d = *d };
	struct group_bucket *b;

	pthread_once(&buckets_once, buckets_init);
	b = &buckets[bucket_of(user)];
	pthread_mutex_lock(&b->mu);
	*b->tailp = &req;
	b->tailp = &req.next;
	while (!req.done) {
		struct group_req *batch, *q, *rest = NULL, **rest_tailp = &rest;
		size_t taken = 0;

		if (b->busy) {
			pthread_cond_wait(&b->cv, &b->mu);
			continue;
		}
		/* Lead: take up to GROUP_BATCH_MAX queued requests. */
		b->busy = true;
		batch = b->head;
		for (q = batch; q != NULL && taken + 1 < GROUP_BATCH_MAX; q = q->next)
			taken++;
		if (q != NULL) {
			rest = q->next;
			q->next = NULL;
		}
		b->head = rest;
		if (rest == NULL) {
			b->tailp = &b->head;
		} else {
			for (q = rest; q != NULL; q = q->next)
				rest_tailp = &q->next;
			b->tailp = rest_tailp;
		}
		pthread_mutex_unlock(&b->mu);

		for (q = batch; q != NULL; q = q->next) {
			if (!q->taken)
				write_user_group(q);
		}

		pthread_mutex_lock(&b->mu);
		for (q = batch; q != NULL; q = q->next)
			q->done = true;
		b->busy = false;
		pthread_cond_broadcast(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	*d = req.d;
	if (req.ret == -1) {
		*err_out = req.err;
		memcpy(error, req.error, sizeof(error));
		*error_out = error;
	}
	return req.ret;
}
