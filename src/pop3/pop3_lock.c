/* The POP3 in-use registry: a fixed table of hash chains under one mutex.
 * Lookups are short (a few thousand sessions spread over 1024 chains) and
 * happen once per login, so one lock for the whole table is enough.
 *
 * A node per locked user names its holder, the claim of the newest login.
 * A claim that was taken over keeps living until its session releases it;
 * a kick in flight holds a reference, so the session may release (and be
 * freed) before its kick runs, which then does nothing (the scheme of the
 * IMAP change bus, imap_bus.c). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/evloop.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "pop3/pop3_lock.h"

#define POP3_LOCK_BUCKETS 1024

struct lock_node {
	struct lock_node *next;
	struct pop3_lock *holder;       /* the newest login's claim */
	bool updating;                  /* the holder is in UPDATE: no takeover */
	char user[];
};

struct pop3_lock {
	struct lock_node *node;         /* the user's node while this claim holds it, else NULL */
	struct evloop *loop;
	pop3_lock_kick_fn *kick;
	void *arg;                      /* NULL once released: a kick in flight does nothing */
	unsigned refs;                  /* the owner's, plus one per kick in flight */
};

static pthread_mutex_t lock_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct lock_node *lock_table[POP3_LOCK_BUCKETS];
static unsigned lock_count;

static unsigned
lock_hash(const char *s)
{
	uint32_t h = 2166136261u;          /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h % POP3_LOCK_BUCKETS;
}

static void
claim_unref_locked(struct pop3_lock *l)
{
	if (--l->refs == 0)
		free(l);
}

/* On the old holder's loop. */
static void
kick_deliver(void *arg)
{
	struct pop3_lock *l = arg;
	pop3_lock_kick_fn *kick;
	void *karg;

	pthread_mutex_lock(&lock_mutex);
	kick = l->kick;
	karg = l->arg;
	claim_unref_locked(l);
	pthread_mutex_unlock(&lock_mutex);
	/* Releasing happens on this same loop thread (or while the session
	 * cannot be freed), so karg stays valid from the unlock to here. */
	if (karg != NULL)
		kick(karg);
}

struct pop3_lock *
pop3_lock_acquire(const char *user, struct evloop *loop, pop3_lock_kick_fn *kick, void *arg, bool *took_over_out)
{
	unsigned b = lock_hash(user);
	size_t len = strlen(user);
	struct pop3_lock *l, *old = NULL;
	struct lock_node *n;

	if (took_over_out != NULL)
		*took_over_out = false;
	l = xcalloc(1, sizeof(*l));
	l->loop = loop;
	l->kick = kick;
	l->arg = arg;
	l->refs = 1;
	pthread_mutex_lock(&lock_mutex);
	for (n = lock_table[b]; n != NULL; n = n->next)
		if (strcmp(n->user, user) == 0)
			break;
	if (n != NULL) {
		if (n->updating) {
			pthread_mutex_unlock(&lock_mutex);
			free(l);
			return NULL;
		}
		old = n->holder;
		old->node = NULL;
		if (old->loop != NULL && old->kick != NULL && old->arg != NULL)
			old->refs++;
		else
			old = NULL;
		if (took_over_out != NULL)
			*took_over_out = true;
	} else {
		n = xmalloc(sizeof(*n) + len + 1);
		memcpy(n->user, user, len + 1);
		n->updating = false;
		n->next = lock_table[b];
		lock_table[b] = n;
		lock_count++;
	}
	n->holder = l;
	l->node = n;
	pthread_mutex_unlock(&lock_mutex);
	if (old != NULL)
		evloop_post(old->loop, kick_deliver, old);
	return l;
}

bool
pop3_lock_held(const struct pop3_lock *l)
{
	bool held;

	pthread_mutex_lock(&lock_mutex);
	held = l->node != NULL;
	pthread_mutex_unlock(&lock_mutex);
	return held;
}

bool
pop3_lock_update(struct pop3_lock *l)
{
	bool held;

	pthread_mutex_lock(&lock_mutex);
	held = l->node != NULL;
	if (held)
		l->node->updating = true;
	pthread_mutex_unlock(&lock_mutex);
	return held;
}

void
pop3_lock_release(struct pop3_lock **lp)
{
	struct pop3_lock *l = *lp;
	struct lock_node *n, **np;

	if (l == NULL)
		return;
	*lp = NULL;
	pthread_mutex_lock(&lock_mutex);
	n = l->node;
	if (n != NULL) {
		if (n->holder != l)
			panic("pop3_lock_release: %s: claim and node disagree", n->user);
		for (np = &lock_table[lock_hash(n->user)]; *np != n; np = &(*np)->next)
			if (*np == NULL)
				panic("pop3_lock_release: %s is not in the table", n->user);
		*np = n->next;
		lock_count--;
		free(n);
		l->node = NULL;
	}
	l->arg = NULL;
	claim_unref_locked(l);
	pthread_mutex_unlock(&lock_mutex);
}

unsigned
pop3_lock_count(void)
{
	unsigned n;

	pthread_mutex_lock(&lock_mutex);
	n = lock_count;
	pthread_mutex_unlock(&lock_mutex);
	return n;
}
