/* Connections per source: a chained hash table under one mutex.  Every
 * operation is a few pointer steps, done once per connection opened or
 * closed, so one lock for every loop thread costs nothing measurable.
 *
 * The hash is keyed with random bits so that nobody can choose sources
 * that fall into one bucket. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lib/log.h"
#include "lib/source_count.h"
#include "lib/xalloc.h"

#define SOURCE_BUCKETS_MIN 64
#define SOURCE_BUCKETS_MAX (1u << 16)

/* An entry: a source and how many slots it holds.  A slot handed out is
 * a pointer to its source's entry, which lives while any slot does. */
struct source_slot {
	struct source_slot *next;
	struct source_slot **prevp;
	uint8_t key[16];
	unsigned count;
};

struct source_count {
	pthread_mutex_t lock;
	struct source_slot **buckets;
	size_t nbuckets;            /* a power of two */
	size_t entries, max_entries;
	uint64_t hkey[2];
};

/* IPv4 (also when mapped into IPv6): ::ffff:a.b.c.d; IPv6: the /64. */
static int
source_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		key[10] = key[11] = 0xff;
		memcpy(key + 12, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			memcpy(key, &sin6->sin6_addr, 16);
		else
			memcpy(key, &sin6->sin6_addr, 8);
		return 0;
	}
	return -1;
}

static uint64_t
mix64(uint64_t x)
{
	/* the finaliser of MurmurHash3 */
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static size_t
bucket_of(const struct source_count *sc, const uint8_t key[16])
{
	uint64_t a, b;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return (size_t)(mix64(mix64(a ^ sc->hkey[0]) ^ b ^ sc->hkey[1]) & (sc->nbuckets - 1));
}

struct source_count *
source_count_new(size_t max_entries)
{
	struct source_count *sc = xcalloc(1, sizeof(*sc));

	if (max_entries == 0)
		max_entries = 1;
	sc->max_entries = max_entries;
	sc->nbuckets = SOURCE_BUCKETS_MIN;
	while (sc->nbuckets < max_entries && sc->nbuckets < SOURCE_BUCKETS_MAX)
		sc->nbuckets *= 2;
	sc->buckets = xcalloc(sc->nbuckets, sizeof(*sc->buckets));
	if (getrandom(sc->hkey, sizeof(sc->hkey), GRND_NONBLOCK) != (ssize_t)sizeof(sc->hkey)) {
		/* no entropy yet (early boot): still unpredictable enough from
		 * outside for spreading buckets */
		sc->hkey[0] = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)sc;
		sc->hkey[1] = mix64(sc->hkey[0]);
	}
	pthread_mutex_init(&sc->lock, NULL);
	return sc;
}

void
source_count_free(struct source_count **scp)
{
	struct source_count *sc = *scp;

	if (sc == NULL)
		return;
	for (size_t i = 0; i < sc->nbuckets; i++) {
		struct source_slot *e, *next;

		for (e = sc->buckets[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&sc->lock);
	free(sc->buckets);
	free(sc);
	*scp = NULL;
}

static struct source_slot *
find(struct source_count *sc, const uint8_t key[16], size_t bucket)
{
	for (struct source_slot *e = sc->buckets[bucket]; e != NULL; e = e->next) {
		if (memcmp(e->key, key, 16) == 0)
			return e;
	}
	return NULL;
}

struct source_slot *
source_count_acquire(struct source_count *sc, const struct sockaddr *sa, unsigned limit, unsigned *count_out)
{
	uint8_t key[16];
	struct source_slot *e;
	size_t b;

	if (count_out != NULL)
		*count_out = 0;
	if (source_key(sa, key) != 0)
		return NULL;
	b = bucket_of(sc, key);
	pthread_mutex_lock(&sc->lock);
	e = find(sc, key, b);
	if (e != NULL) {
		if (limit != 0 && e->count >= limit) {
			if (count_out != NULL)
				*count_out = e->count;
			e = NULL;
			goto out;
		}
	} else {
		if (sc->entries >= sc->max_entries)
			goto out;
		e = xcalloc(1, sizeof(*e));
		memcpy(e->key, key, 16);
		e->next = sc->buckets[b];
		if (e->next != NULL)
			e->next->prevp = &e->next;
		e->prevp = &sc->buckets[b];
		sc->buckets[b] = e;
		sc->entries++;
	}
	e->count++;
	if (count_out != NULL)
		*count_out = e->count;
out:
	pthread_mutex_unlock(&sc->lock);
	return e;
}

void
source_count_release(struct source_count *sc, struct source_slot *slot)
{
	if (slot == NULL)
		return;
	pthread_mutex_lock(&sc->lock);
	if (slot->count == 0)
		panic("source_count_release: slot released twice");
	if (--slot->count == 0) {
		*slot->prevp = slot->next;
		if (slot->next != NULL)
			slot->next->prevp = slot->prevp;
		sc->entries--;
		free(slot);
	}
	pthread_mutex_unlock(&sc->lock);
}

unsigned
source_count_get(struct source_count *sc, const struct sockaddr *sa)
{
	uint8_t key[16];
	struct source_slot *e;
	unsigned n;

	if (source_key(sa, key) != 0)
		return 0;
	pthread_mutex_lock(&sc->lock);
	e = find(sc, key, bucket_of(sc, key));
	n = e != NULL ? e->count : 0;
	pthread_mutex_unlock(&sc->lock);
	return n;
}

size_t
source_count_entries(struct source_count *sc)
{
	size_t n;

	pthread_mutex_lock(&sc->lock);
	n = sc->entries;
	pthread_mutex_unlock(&sc->lock);
	return n;
}
