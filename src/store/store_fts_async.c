/* The full-text indexer thread (store_fts.h): deliveries and APPENDs note
 * (data_dir, user, mailbox) here after their COMMIT; one thread takes the
 * notes in order and indexes what is missing, STORE_FTS_ASYNC_BATCH
 * messages per transaction, so a user's deliveries never wait long behind
 * it for the write lock.  Indexing many messages in one transaction is
 * also several times cheaper for FTS5 than one at a time.
 *
 * Losing a note costs nothing but time: the next SEARCH indexes whatever
 * is missing before it looks (store_fts_search), so notes past the queue's
 * bound, or pending at shutdown, are simply dropped. */
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/limits.h"
#include "lib/log.h"
#include "lib/str.h"
#include "store/store_fts.h"
#include "store/store_private.h"

/* Messages indexed per write transaction. */
#define STORE_FTS_ASYNC_BATCH 200
/* Upkeep steps (store_fts_maintain) per note before the next note's turn. */
#define STORE_FTS_ASYNC_UPKEEP 25
/* Notes waiting, at most (one per user and mailbox). */
#define STORE_FTS_ASYNC_QUEUE_MAX 10000

struct fts_note {
	struct fts_note *next;
	char data_dir[PATH_MAX];
	char user[ADDRESS_MAX + 1];
	int64_t mailbox_id;
};

static pthread_mutex_t async_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t async_cond = PTHREAD_COND_INITIALIZER;
static struct fts_note *head, *tail;
static size_t queued;
static bool running, stopping;
static pthread_t thread;

static bool
stop_requested(void)
{
	bool stop;

	pthread_mutex_lock(&async_lock);
	stop = stopping;
	pthread_mutex_unlock(&async_lock);
	return stop;
}

/* Indexes what is missing in the note's mailbox (none for mailbox 0),
 * then runs up to STORE_FTS_ASYNC_UPKEEP steps of upkeep; a note for the
 * rest goes to the back of the queue, so other users are not kept
 * waiting behind a long compaction. */
static void
index_mailbox(const struct fts_note *n)
{
	struct store *st = NULL;
	enum store_error err;
	const char *error = NULL;
	bool done = n->mailbox_id == 0, more = true;
	int steps;

	if (store_cache_open(n->data_dir, n->user, &st, &err, &error) == -1) {
		log_warnx("fts indexer: cannot open the store of %s: %s", n->user, error != NULL ? error : "?");
		return;
	}
	while (!done) {
		if (store_fts_catch_up(st, n->mailbox_id, STORE_FTS_ASYNC_BATCH, &done) == -1) {
			log_warnx("fts indexer: %s: %s", n->user, st->errbuf);
			store_cache_release(&st, true);
			return;
		}
		if (stop_requested())
			break;
	}
	for (steps = 0; done && more && steps < STORE_FTS_ASYNC_UPKEEP && !stop_requested(); steps++) {
		if (store_fts_maintain(st, &more) == -1) {
			log_warnx("fts upkeep: %s: %s", n->user, st->errbuf);
			store_cache_release(&st, true);
			return;
		}
	}
	store_cache_release(&st, false);
	if (done && more && !stop_requested())
		store_fts_async_note(n->data_dir, n->user, 0);
}

static void *
indexer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&async_lock);
	for (;;) {
		struct fts_note *n;

		while (head == NULL && !stopping)
			pthread_cond_wait(&async_cond, &async_lock);
		if (stopping)
			break;
		n = head;
		head = n->next;
		if (head == NULL)
			tail = NULL;
		queued--;
		pthread_mutex_unlock(&async_lock);
		index_mailbox(n);
		free(n);
		pthread_mutex_lock(&async_lock);
	}
	pthread_mutex_unlock(&async_lock);
	return NULL;
}

void
store_fts_async_start(void)
{
	pthread_mutex_lock(&async_lock);
	if (!running) {
		stopping = false;
		if (pthread_create(&thread, NULL, indexer, NULL) == 0)
			running = true;
		else
			log_warnx("fts indexer: cannot start a thread; searches will index instead");
	}
	pthread_mutex_unlock(&async_lock);
}

void
store_fts_async_stop(void)
{
	struct fts_note *n, *next;

	pthread_mutex_lock(&async_lock);
	if (!running) {
		pthread_mutex_unlock(&async_lock);
		return;
	}
	stopping = true;
	pthread_cond_signal(&async_cond);
	pthread_mutex_unlock(&async_lock);
	pthread_join(thread, NULL);
	pthread_mutex_lock(&async_lock);
	for (n = head; n != NULL; n = next) {
		next = n->next;
		free(n);
	}
	head = tail = NULL;
	queued = 0;
	running = false;
	pthread_mutex_unlock(&async_lock);
}

void
store_fts_async_note(const char *data_dir, const char *user, int64_t mailbox_id)
{
	struct fts_note *n;

	pthread_mutex_lock(&async_lock);
	if (!running || stopping || queued >= STORE_FTS_ASYNC_QUEUE_MAX) {
		pthread_mutex_unlock(&async_lock);
		return;
	}
	/* One note per mailbox is enough: it indexes everything missing. */
	for (n = head; n != NULL; n = n->next)
		if (n->mailbox_id == mailbox_id && strcmp(n->user, user) == 0 && strcmp(n->data_dir, data_dir) == 0) {
			pthread_mutex_unlock(&async_lock);
			return;
		}
	pthread_mutex_unlock(&async_lock);
	if ((n = calloc(1, sizeof(*n))) == NULL)
		return;
	str_lcpy(n->data_dir, data_dir, sizeof(n->data_dir));
	str_lcpy(n->user, user, sizeof(n->user));
	n->mailbox_id = mailbox_id;
	pthread_mutex_lock(&async_lock);
	if (tail != NULL)
		tail->next = n;
	else
		head = n;
	tail = n;
	queued++;
	pthread_cond_signal(&async_cond);
	pthread_mutex_unlock(&async_lock);
}
