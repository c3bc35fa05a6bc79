/* The change bus (DESIGN.md "store ... change bus"): the store calls
 * bus_publish after every committed change; the bus posts to the event
 * loop of each session that selected that user's changed mailbox, and to
 * no other.  A session then syncs (imap_sync.c): at once when it idles,
 * else before its next tagged reply.
 *
 * Subscriptions hang in a hash table by user, under one mutex: the hook
 * runs on worker threads, sessions subscribe on loop threads.  A post in
 * flight holds a reference, so a session may unsubscribe (and be freed)
 * before its post runs; posts coalesce while one is pending.
 *
 * A NOTIFY session (imap_notify.c) also holds one subscription to all of
 * the user's mailboxes: its posts carry the names that changed and how, in
 * a queue bounded by IMAP_BUS_QUEUE_MAX distinct names (and METADATA
 * entries); past it the queue
 * is dropped and the session told of the overflow (RFC 5465 5.8). */
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
	bool all;                      /* every mailbox of the user (NOTIFY) */
	struct imap_bus_change *queue; /* all: the changes not delivered yet */
	size_t n_queue;
	bool overflow;                 /* all: changes were lost */
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

void
imap_bus_changes_free(struct imap_bus_change *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(q[i].mailbox);
		free(q[i].entry);
	}
	free(q);
}
#define queue_free imap_bus_changes_free

bool
imap_bus_change_is(const struct imap_bus_change *c, const char *mailbox, const char *entry)
{
	if (strcmp(c->mailbox, mailbox) != 0)
		return false;
	if (c->entry == NULL || entry == NULL)
		return c->entry == entry;
	return strcmp(c->entry, entry) == 0;
}

static void
sub_unref_locked(struct imap_bus_sub *sub)
{
	if (--sub->refs > 0)
		return;
	queue_free(sub->queue, sub->n_queue);
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
	struct imap_bus_change *queue;
	size_t n_queue;
	bool all, overflow;

	pthread_mutex_lock(&bus_lock);
	sub->posted = false;
	s = sub->s;
	modseq = sub->modseq;
	all = sub->all;
	queue = sub->queue;
	n_queue = sub->n_queue;
	overflow = sub->overflow;
	sub->queue = NULL;
	sub->n_queue = 0;
	sub->overflow = false;
	sub_unref_locked(sub);
	pthread_mutex_unlock(&bus_lock);
	/* Unsubscribing happens on this same loop thread, so s stays valid
	 * from the unlock to here. */
	if (s != NULL && all)
		imap_notify_changes(s, queue, n_queue, overflow);
	else if (s != NULL)
		imap_changed(s, modseq);
	else
		queue_free(queue, n_queue);
}

/* An all-mailboxes subscription: adds mailbox to the queue (merging
 * kinds), or marks the overflow. */
static void
queue_add_locked(struct imap_bus_sub *sub, const char *mailbox, const char *entry, unsigned kinds)
{
	for (size_t i = 0; i < sub->n_queue; i++) {
		if (imap_bus_change_is(&sub->queue[i], mailbox, entry)) {
			sub->queue[i].kinds |= kinds;
			return;
		}
	}
	if (sub->overflow)
		return;
	if (sub->n_queue >= IMAP_BUS_QUEUE_MAX) {
		queue_free(sub->queue, sub->n_queue);
		sub->queue = NULL;
		sub->n_queue = 0;
		sub->overflow = true;
		return;
	}
	if (sub->queue == NULL)
		sub->queue = xcalloc(IMAP_BUS_QUEUE_MAX, sizeof(*sub->queue));
	sub->queue[sub->n_queue].mailbox = xstrdup(mailbox);
	sub->queue[sub->n_queue].entry = entry != NULL ? xstrdup(entry) : NULL;
	sub->queue[sub->n_queue].kinds = kinds;
	sub->n_queue++;
}

static void
post_locked(struct imap_bus_sub *sub)
{
	if (sub->posted)
		return;
	sub->posted = true;
	sub->refs++;
	evloop_post(sub->loop, deliver, sub);
}

static void
bus_publish(const char *user, const char *mailbox, uint64_t highestmodseq)
{
	size_t b = bucket_of(user);

	pthread_mutex_lock(&bus_lock);
	for (struct imap_bus_sub *sub = buckets[b]; sub != NULL; sub = sub->next) {
		if (sub->s == NULL || strcmp(sub->user, user) != 0)
			continue;
		if (sub->all) {
			queue_add_locked(sub, mailbox, NULL, highestmodseq != 0 ? IMAP_BUS_MESSAGES : IMAP_BUS_NAME);
			post_locked(sub);
			continue;
		}
		/* Create, delete and rename (modseq 0) may concern any
		 * selected mailbox of the user (inferiors move too). */
		if (highestmodseq != 0 && strcmp(sub->mailbox, mailbox) != 0)
			continue;
		if (highestmodseq > sub->modseq)
			sub->modseq = highestmodseq;
		post_locked(sub);
	}
	pthread_mutex_unlock(&bus_lock);
}

void
imap_bus_publish_event(const char *user, const char *mailbox, const char *entry, unsigned kinds)
{
	size_t b = bucket_of(user);

	pthread_mutex_lock(&bus_lock);
	for (struct imap_bus_sub *sub = buckets[b]; sub != NULL; sub = sub->next) {
		if (sub->s == NULL || !sub->all || strcmp(sub->user, user) != 0)
			continue;
		queue_add_locked(sub, mailbox, entry, kinds);
		post_locked(sub);
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
	sub->mailbox = xstrdup(mailbox != NULL ? mailbox : "");
	sub->all = mailbox == NULL;
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
