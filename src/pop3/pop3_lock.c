/* The POP3 in-use registry: a fixed table of hash chains under one mutex.
 * Lookups are short (a few thousand sessions spread over 1024 chains) and
 * happen once per login, so one lock for the whole table is enough. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "pop3/pop3_lock.h"

#define POP3_LOCK_BUCKETS 1024

struct lock_node {
	struct lock_node *next;
	char user[];
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

bool
pop3_lock_acquire(const char *user)
{
	unsigned b = lock_hash(user);
	size_t len = strlen(user);
	struct lock_node *n;

	pthread_mutex_lock(&lock_mutex);
	for (n = lock_table[b]; n != NULL; n = n->next) {
		if (strcmp(n->user, user) == 0) {
			pthread_mutex_unlock(&lock_mutex);
			return false;
		}
	}
	n = xmalloc(sizeof(*n) + len + 1);
	memcpy(n->user, user, len + 1);
	n->next = lock_table[b];
	lock_table[b] = n;
	lock_count++;
	pthread_mutex_unlock(&lock_mutex);
	return true;
}

void
pop3_lock_release(const char *user)
{
	unsigned b = lock_hash(user);
	struct lock_node **np, *n;

	pthread_mutex_lock(&lock_mutex);
	for (np = &lock_table[b]; *np != NULL; np = &(*np)->next) {
		if (strcmp((*np)->user, user) == 0) {
			n = *np;
			*np = n->next;
			lock_count--;
			pthread_mutex_unlock(&lock_mutex);
			free(n);
			return;
		}
	}
	pthread_mutex_unlock(&lock_mutex);
	panic("pop3_lock_release: %s is not locked", user);
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
