/* The maintenance thread (maint.h).  One thread, because the work is
 * rare and sequential: a pass walks every user folder once, opening each
 * index for a moment, and the orphan guard (store_orphans.c) lets it run
 * beside deliveries without ever taking a file of theirs. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "queue/queue.h"
#include "server/maint.h"
#include "store/store_maint.h"

enum pass_kind { PASS_STARTUP, PASS_PERIODIC };

struct pass {
	const struct tern_config *cfg;
	enum pass_kind kind;
	struct timespec before;
	unsigned users;                 /* user folders looked at */
	long removed;
	uint64_t bytes;
	unsigned errors;
};

static pthread_mutex_t maint_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t maint_cond;
static pthread_t maint_thread;
static bool maint_running, maint_stopping;
static const struct tern_config *maint_cfg;
static struct timespec maint_started;

static bool
stopping(void)
{
	bool s;

	pthread_mutex_lock(&maint_lock);
	s = maint_stopping;
	pthread_mutex_unlock(&maint_lock);
	return s;
}

static const char *
kind_name(enum pass_kind k)
{
	return k == PASS_STARTUP ? "startup" : "periodic";
}

/* An address for the log: printable ASCII only, no quotes. */
static const char *
log_safe(const char *s, char *out, size_t outsize)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < outsize; s++)
		out[o++] = (*s > 0x20 && *s < 0x7f && *s != '"') ? *s : '?';
	out[o] = '\0';
	return out;
}

static bool
one_user(const char *user, void *arg)
{
	struct pass *p = arg;
	struct store *st = NULL;
	const char *error = NULL;
	char safe[ADDRESS_MAX + 1];
	uint64_t bytes = 0;
	long n;

	if (stopping())
		return false;
	p->users++;
	if (store_open(p->cfg->data_dir, user, &st, &error) == -1) {
		log_warnx("store orphans user=\"%s\" pass=%s: %s", log_safe(user, safe, sizeof(safe)),
		          kind_name(p->kind), error != NULL ? error : "cannot open");
		p->errors++;
		return true;
	}
	n = store_orphans_remove(st, &p->before, &bytes, &error);
	if (n < 0) {
		log_warnx("store orphans user=\"%s\" pass=%s: %s", log_safe(user, safe, sizeof(safe)),
		          kind_name(p->kind), error != NULL ? error : "?");
		p->errors++;
	} else if (n > 0) {
		log_info("store orphans user=\"%s\" removed=%ld bytes=%llu pass=%s", log_safe(user, safe, sizeof(safe)),
		         n, (unsigned long long)bytes, kind_name(p->kind));
		p->removed += n;
		p->bytes += bytes;
	}
	store_close(&st);
	return true;
}

static void
run_pass(enum pass_kind kind)
{
	const struct tern_config *cfg = maint_cfg;
	struct pass p = { .cfg = cfg, .kind = kind };
	struct timespec stale;
	long spool = 0, queue;
	const char *error = NULL;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* At start-up, whatever changed before the start; later, what is
	 * older than orphan_min_age.  Either way the orphan guard keeps the
	 * files of writes in progress. */
	clock_gettime(CLOCK_REALTIME, &p.before);
	stale = p.before;
	stale.tv_sec -= STORE_STALE_SEC;
	if (kind == PASS_STARTUP)
		p.before = maint_started;
	else
		p.before.tv_sec -= (time_t)cfg->orphan_min_age;
	if (store_users_each(cfg->data_dir, one_user, &p, &error) == -1) {
		log_warnx("store orphans pass=%s: %s", kind_name(kind), error);
		p.errors++;
	}
	/* The spool was emptied before any connection was taken (server.c);
	 * while running only a day-old file is a leftover. */
	if (kind == PASS_PERIODIC && (spool = store_spool_cleanup(cfg->data_dir, STORE_STALE_SEC, &error)) < 0) {
		log_warnx("spool cleanup: %s", error);
		p.errors++;
		spool = 0;
	}
	queue = queue_cleanup(cfg->data_dir, kind == PASS_STARTUP ? &maint_started : &stale, &error);
	if (queue < 0) {
		log_warnx("queue cleanup: %s", error);
		p.errors++;
		queue = 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_info("store orphan scan pass=%s users=%u removed=%ld bytes=%llu spool_removed=%ld queue_removed=%ld "
	         "errors=%u%s ms=%lld",
	         kind_name(kind), p.users, p.removed, (unsigned long long)p.bytes, spool, queue, p.errors,
	         stopping() ? " stopped=yes" : "",
	         (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
}

static bool
before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Between orphan passes the thread wakes every STORE_CACHE_IDLE_SEC to
 * close the open indexes no job has used for that long (store_cache.c):
 * an idle server keeps none. */
static void *
maint_main(void *arg)
{
	(void)arg;
	run_pass(PASS_STARTUP);
	for (;;) {
		unsigned interval = maint_cfg->orphan_scan_interval;
		struct timespec until, now, wake;
		bool stop, due = false;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += interval > 0 ? (time_t)interval : 0;
		pthread_mutex_lock(&maint_lock);
		while (!maint_stopping && !due) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			wake = now;
			wake.tv_sec += STORE_CACHE_IDLE_SEC;
			if (interval > 0 && before(&until, &wake))
				wake = until;
			if (pthread_cond_timedwait(&maint_cond, &maint_lock, &wake) != ETIMEDOUT)
				continue;
			clock_gettime(CLOCK_MONOTONIC, &now);
			due = interval > 0 && !before(&now, &until);
			pthread_mutex_unlock(&maint_lock);
			store_cache_sweep();
			pthread_mutex_lock(&maint_lock);
		}
		stop = maint_stopping;
		pthread_mutex_unlock(&maint_lock);
		if (stop)
			break;
		run_pass(PASS_PERIODIC);
	}
	return NULL;
}

void
maint_start(const struct tern_config *cfg, const struct timespec *started)
{
	pthread_condattr_t attr;

	pthread_mutex_lock(&maint_lock);
	if (maint_running) {
		pthread_mutex_unlock(&maint_lock);
		return;
	}
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&maint_cond, &attr);
	pthread_condattr_destroy(&attr);
	maint_cfg = cfg;
	maint_started = *started;
	maint_stopping = false;
	if (pthread_create(&maint_thread, NULL, maint_main, NULL) == 0)
		maint_running = true;
	else
		log_warnx("maintenance: cannot start a thread; orphan files will not be removed");
	pthread_mutex_unlock(&maint_lock);
}

void
maint_stop(void)
{
	pthread_mutex_lock(&maint_lock);
	if (!maint_running) {
		pthread_mutex_unlock(&maint_lock);
		return;
	}
	maint_stopping = true;
	pthread_cond_signal(&maint_cond);
	pthread_mutex_unlock(&maint_lock);
	pthread_join(maint_thread, NULL);
	pthread_mutex_lock(&maint_lock);
	maint_running = false;
	pthread_cond_destroy(&maint_cond);
	pthread_mutex_unlock(&maint_lock);
}
