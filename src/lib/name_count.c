/* Sessions per name: a chained hash table under one mutex, touched once
 * per login and once per logout.  An entry lives while any slot does; a
 * slot handed out is a pointer to its entry. */
#include "lib/name_count.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

struct name_count_slot {
	struct name_count_slot *next;
	unsigned count;
	size_t bucket;
	char name[];
};

/* FNV-1a: the names come after a successful login, so nobody can choose
 * them freely enough to flood one bucket. */
static size_t
bucket_of(const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return (size_t)(h % NAME_COUNT_BUCKETS);
}

struct name_count_slot *
name_count_acquire(struct name_count *nc, const char *name, unsigned limit, unsigned *count_out)
{
	size_t b = bucket_of(name), len = strlen(name);
	struct name_count_slot *e;

	pthread_mutex_lock(&nc->lock);
	for (e = nc->buckets[b]; e != NULL; e = e->next) {
		if (strcmp(e->name, name) == 0)
			break;
	}
	if (e != NULL && limit != 0 && e->count >= limit) {
		if (count_out != NULL)
			*count_out = e->count;
		pthread_mutex_unlock(&nc->lock);
		return NULL;
	}
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e) + len + 1);
		memcpy(e->name, name, len + 1);
		e->bucket = b;
		e->next = nc->buckets[b];
		nc->buckets[b] = e;
	}
	e->count++;
	if (count_out != NULL)
		*count_out = e->count;
	pthread_mutex_unlock(&nc->lock);
	return e;
}

void
name_count_release(struct name_count *nc, struct name_count_slot **slot)
{
	struct name_count_slot *e, **pp;

	if (slot == NULL || *slot == NULL)
		return;
	e = *slot;
	*slot = NULL;
	pthread_mutex_lock(&nc->lock);
	if (--e->count == 0) {
		for (pp = &nc->buckets[e->bucket]; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		}
		free(e);
	}
	pthread_mutex_unlock(&nc->lock);
}
