/* Open stores kept for the next job, shared by every thread.  Opening an
 * index costs a schema check and WAL setup, and closing the last
 * connection to it runs a checkpoint with several fsyncs, so a handle is
 * kept after its job for the next one of the same user, on any thread.
 *
 * One pool for the process, not one per thread: with a cache per worker
 * thread (16 threads, 16 handles each) the same user's index was open on
 * many threads at once, and a server with many distinct idle users kept
 * up to 256 indexes open, each with its own page cache and schema
 * (about 40 KiB per idle IMAP session at 1,000 users, issue 14).  Here at
 * most STORE_CACHE_HANDLES are kept, least recently used goes first, a
 * user's handle serves whichever worker runs their next job, and handles
 * unused for STORE_CACHE_IDLE_SEC are closed by store_cache_sweep: many
 * active users keep many open (200 clients over 100 users thrashed a pool
 * of 64: each job paid an open and a checkpoint), idle ones none.
 *
 * A handle is used by one thread at a time (SQLite's multi-thread mode,
 * SQLITE_OPEN_NOMUTEX: a connection may move between threads, never be
 * used by two at once): a handle in use is "busy" and no other thread
 * gets it.  The thread using it may open the same user again (a nested
 * open) and gets the same handle, as with the old per-thread cache: two
 * connections of one thread could wait on each other's locks.  When
 * every slot is busy, a handle is opened for the one job and closed
 * after it. */
#include <pthread.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/limits.h"
#include "store/store_private.h"

/* Handles kept open, in all: enough for every worker's job plus the
 * users active at once; each is about 50 KiB of SQLite memory while open. */
#define STORE_CACHE_HANDLES 256

struct cache_slot {
	char data_dir[PATH_MAX];
	char user[ADDRESS_MAX + 1];
	struct store *st;
	uint64_t used;
	time_t last_used;              /* CLOCK_MONOTONIC seconds, for store_cache_sweep */
	pthread_t owner;               /* while busy */
	unsigned busy;                 /* opens not yet released (nested opens by the owner) */
};

static struct cache_slot slots[STORE_CACHE_HANDLES];
static uint64_t tick;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

static time_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* A cached handle is stale when the user's folder was deleted or moved
 * aside (tern user del) since it was opened: its msg directory is not the
 * one at its path any more.  A re-added user must not get the old mail. */
static bool
cache_stale(const struct store *st)
{
	char path[PATH_MAX + 8];
	struct stat a, b;

	if ((size_t)snprintf(path, sizeof(path), "%s/msg", st->dir) >= sizeof(path))
		return true;
	if (fstat(st->msg_dirfd, &a) != 0 || stat(path, &b) != 0)
		return true;
	return a.st_dev != b.st_dev || a.st_ino != b.st_ino;
}

/* At exit (the CLI, tests): close what nobody uses, so the indexes are
 * checkpointed.  The server calls store_cache_close_all itself after its
 * workers stopped. */
static void
close_at_exit(void)
{
	store_cache_close_all();
}

static void
register_exit(void)
{
	atexit(close_at_exit);
}

/* The slot of user's handle that this thread may use (free, or busy by
 * this thread), or NULL.  Called with lock held. */
static struct cache_slot *
find_usable(const char *data_dir, const char *user)
{
	pthread_t self = pthread_self();

	for (int i = 0; i < STORE_CACHE_HANDLES; i++) {
		struct cache_slot *s = &slots[i];

		if (s->st == NULL || strcmp(s->user, user) != 0 || strcmp(s->data_dir, data_dir) != 0)
			continue;
		if (s->busy == 0 || pthread_equal(s->owner, self))
			return s;
	}
	return NULL;
}

/* An empty slot, else the least recently used free one, or NULL when
 * all are busy.  Called with lock held. */
static struct cache_slot *
find_victim(void)
{
	struct cache_slot *victim = NULL;

	for (int i = 0; i < STORE_CACHE_HANDLES; i++) {
		struct cache_slot *s = &slots[i];

		if (s->busy != 0)
			continue;
		if (s->st == NULL)
			return s;
		if (victim == NULL || s->used < victim->used)
			victim = s;
	}
	return victim;
}

int
store_cache_open(const char *data_dir, const char *user, struct store **st_out, enum store_error *err_out,
                 const char **error_out)
{
	struct cache_slot *s;
	struct store *old = NULL;

	pthread_once(&exit_once, register_exit);
	if (strlen(user) > ADDRESS_MAX || strlen(data_dir) >= sizeof(s->data_dir))
		return store_open_ex(data_dir, user, st_out, err_out, error_out);
	pthread_mutex_lock(&lock);
	s = find_usable(data_dir, user);
	if (s != NULL) {
		bool nested = s->busy > 0;

		s->busy++;
		s->owner = pthread_self();
		pthread_mutex_unlock(&lock);
		if (nested || !cache_stale(s->st)) {
			*st_out = s->st;
			return 0;
		}
		/* stale: this slot (ours now) gets a fresh handle below */
		old = s->st;
	} else {
		s = find_victim();
		if (s == NULL) {
			/* every slot busy: a handle for this job alone */
			pthread_mutex_unlock(&lock);
			return store_open_ex(data_dir, user, st_out, err_out, error_out);
		}
		old = s->st;
		s->busy = 1;
		s->owner = pthread_self();
		pthread_mutex_unlock(&lock);
	}
	/* The slot is busy (ours): nobody else reads or writes it. */
	s->st = NULL;
	store_close(&old);
	if (store_open_ex(data_dir, user, &s->st, err_out, error_out) == -1) {
		pthread_mutex_lock(&lock);
		s->busy = 0;
		pthread_mutex_unlock(&lock);
		return -1;
	}
	strcpy(s->user, user);
	strcpy(s->data_dir, data_dir);
	*st_out = s->st;
	return 0;
}

void
store_cache_release(struct store **stp, bool failed)
{
	struct store *doomed = NULL;

	if (*stp == NULL)
		return;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < STORE_CACHE_HANDLES; i++) {
		struct cache_slot *s = &slots[i];

		if (s->st != *stp || s->busy == 0)
			continue;
		*stp = NULL;
		if (--s->busy == 0) {
			s->used = ++tick;
			s->last_used = now_sec();
			/* after a failure, start afresh next time */
			if (failed) {
				doomed = s->st;
				s->st = NULL;
			}
		}
		pthread_mutex_unlock(&lock);
		store_close(&doomed);
		return;
	}
	pthread_mutex_unlock(&lock);
	store_close(stp);     /* it was never cached */
}

void
store_cache_sweep(void)
{
	time_t cutoff = now_sec() - STORE_CACHE_IDLE_SEC;
	unsigned closed = 0;

	/* one at a time, closed outside the lock: a close checkpoints */
	for (int i = 0; i < STORE_CACHE_HANDLES; i++) {
		struct store *doomed = NULL;

		pthread_mutex_lock(&lock);
		if (slots[i].st != NULL && slots[i].busy == 0 && slots[i].last_used <= cutoff) {
			doomed = slots[i].st;
			slots[i].st = NULL;
		}
		pthread_mutex_unlock(&lock);
		if (doomed != NULL) {
			store_close(&doomed);
			closed++;
		}
	}
	/* a closed index's page cache and schema were many small blocks:
	 * give the emptied heap back, or an idle server keeps its peak */
	if (closed > 0)
		malloc_trim(0);
}

void
store_cache_close_all(void)
{
	pthread_mutex_lock(&lock);
	for (int i = 0; i < STORE_CACHE_HANDLES; i++) {
		if (slots[i].busy == 0)
			store_close(&slots[i].st);
	}
	pthread_mutex_unlock(&lock);
}
