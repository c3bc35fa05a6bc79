/* The change bus (DESIGN.md "store ... change bus"): the store calls
 * bus_publish after every committed change; the bus posts to the event
 * loop of each session that selected that user's changed mailbox, and to
 * no other.  A session then syncs (imap_sync.c): at once when it idles,
 * else before its next tagged reply.
 *
 * Subscriptions hang in a hash table by user, under one mutex: the hook
 * runs on worker threads, sessions subscribe on loop threads.  A post in
 * flight holds a reference, so a session may unsubscribe (and be freed)
 * before its post runs; posts coalesce while one is pending. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_session.h"
#include "lib/xalloc.h"
#include "store/store_imap.h"

/* Buckets of the user table (a power of two).  Many thousands of
 * selected sessions spread over them; chains stay short. */
#define BUS_BUCKETS 4096

struct imap_bus_sub {
	struct imap_bus_sub *next, **pprev;
	char *user;
	char *mailbox;
	struct evloop *loop;
	struct imap_session *s;        /* NULL once unsubscribed */
	unsigned refs;                 /* the session's, plus one per post in flight */
	bool posted;
	uint64_t modseq;               /* the latest HIGHESTMODSEQ published */
};

static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;
static struct imap_bus_sub *buckets[BUS_BUCKETS];

static size_t
bucket_of(const char *user)
{
	/* FNV-1a: users are addresses, already canonical. */
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)user; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h & (BUS_BUCKETS - 1);
}

static void
sub_unref_locked(struct imap_bus_sub *sub)
{
	if (--sub->refs > 0)
		return;
	free(sub->user);
	free(sub->mailbox);
	free(sub);
}

static void
deliver(void *arg)
{
	struct imap_bus_sub *sub = arg;
	struct imap_session *s;
	uint64_t modseq;

	pthread_mutex_lock(&bus_lock);
	sub->posted = false;
	s = sub->s;
	modseq = sub->modseq;
	sub_unref_locked(sub);
	pthread_mutex_unlock(&bus_lock);
	/* Unsubscribing happens on this same loop thread, so s stays valid
	 * from the unlock to here. */
	if (s != NULL)
		imap_changed(s, modseq);
}

static void
bus_publish(const char *user, const char *mailbox, uint64_t highestmodseq)
{
	size_t b = bucket_of(user);

	pthread_mutex_lock(&bus_lock);
	for (struct imap_bus_sub *sub = buckets[b]; sub != NULL; sub = sub->next) {
		if (sub->s == NULL || strcmp(sub->user, user) != 0)
			continue;
		/* Create, delete and rename (modseq 0) may concern any
		 * selected mailbox of the user (inferiors move too). */
		if (highestmodseq != 0 && strcmp(sub->mailbox, mailbox) != 0)
			continue;
		if (highestmodseq > sub->modseq)
			sub->modseq = highestmodseq;
		if (sub->posted)
			continue;
		sub->posted = true;
		sub->refs++;
		evloop_post(sub->loop, deliver, sub);
	}
	pthread_mutex_unlock(&bus_lock);
}

void
imap_bus_init(void)
{
	store_set_change_hook(bus_publish);
}

struct imap_bus_sub *
imap_bus_subscribe(struct imap_session *s, const char *user, const char *mailbox)
{
	struct imap_bus_sub *sub = xcalloc(1, sizeof(*sub));
	size_t b = bucket_of(user);

	sub->user = xstrdup(user);
	sub->mailbox = xstrdup(mailbox);
	sub->loop = conn_loop(s->c);
	sub->s = s;
	sub->refs = 1;
	pthread_mutex_lock(&bus_lock);
	sub->next = buckets[b];
	if (sub->next != NULL)
		sub->next->pprev = &sub->next;
	sub->pprev = &buckets[b];
	buckets[b] = sub;
	pthread_mutex_unlock(&bus_lock);
	return sub;
}

void
imap_bus_unsubscribe(struct imap_bus_sub **subp)
{
	struct imap_bus_sub *sub = *subp;

	if (sub == NULL)
		return;
	*subp = NULL;
	pthread_mutex_lock(&bus_lock);
	*sub->pprev = sub->next;
	if (sub->next != NULL)
		sub->next->pprev = sub->pprev;
	sub->s = NULL;
	sub_unref_locked(sub);
	pthread_mutex_unlock(&bus_lock);
}
