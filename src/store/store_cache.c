/* A few open stores per thread for deliveries.  Opening an index costs a
 * schema check and WAL setup, and closing the last connection to it runs
 * a checkpoint with several fsyncs; a worker that delivers to the same
 * users again and again keeps their handles instead (least recently used
 * goes first).  Handles are closed when the thread ends. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/limits.h"
#include "store/store_private.h"

#define STORE_CACHE_SLOTS 16

struct cache_slot {
	char data_dir[PATH_MAX];
	char user[ADDRESS_MAX + 1];
	struct store *st;
	uint64_t used;
};

struct cache {
	struct cache_slot slots[STORE_CACHE_SLOTS];
	uint64_t tick;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void
cache_destroy(void *arg)
{
	struct cache *c = arg;

	for (int i = 0; i < STORE_CACHE_SLOTS; i++)
		store_close(&c->slots[i].st);
	free(c);
}

static void
cache_key_init(void)
{
	pthread_key_create(&cache_key, cache_destroy);
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

static struct cache *
cache_get(void)
{
	struct cache *c;

	pthread_once(&cache_once, cache_key_init);
	c = pthread_getspecific(cache_key);
	if (c == NULL) {
		c = calloc(1, sizeof(*c));
		if (c != NULL)
			pthread_setspecific(cache_key, c);
	}
	return c;
}

int
store_cache_open(const char *data_dir, const char *user, struct store **st_out, enum store_error *err_out,
                 const char **error_out)
{
	struct cache *c = cache_get();
	struct cache_slot *victim;

	if (c == NULL)
		return store_open_ex(data_dir, user, st_out, err_out, error_out);
	victim = &c->slots[0];
	for (int i = 0; i < STORE_CACHE_SLOTS; i++) {
		struct cache_slot *s = &c->slots[i];

		if (s->st != NULL && strcmp(s->user, user) == 0 && strcmp(s->data_dir, data_dir) == 0) {
			if (cache_stale(s->st)) {
				store_close(&s->st);
				victim = s;
				break;
			}
			s->used = ++c->tick;
			*st_out = s->st;
			return 0;
		}
		if (s->st == NULL || (victim->st != NULL && s->used < victim->used))
			victim = s;
	}
	if (strlen(user) > ADDRESS_MAX || strlen(data_dir) >= sizeof(victim->data_dir))
		return store_open_ex(data_dir, user, st_out, err_out, error_out);
	store_close(&victim->st);
	if (store_open_ex(data_dir, user, &victim->st, err_out, error_out) == -1)
		return -1;
	strcpy(victim->user, user);
	strcpy(victim->data_dir, data_dir);
	victim->used = ++c->tick;
	*st_out = victim->st;
	return 0;
}

void
store_cache_release(struct store **stp, bool failed)
{
	struct cache *c = cache_get();

	if (*stp == NULL)
		return;
	for (int i = 0; c != NULL && i < STORE_CACHE_SLOTS; i++) {
		if (c->slots[i].st == *stp) {
			/* After a failure, start afresh next time. */
			if (failed)
				store_close(&c->slots[i].st);
			*stp = NULL;
			return;
		}
	}
	store_close(stp);     /* it was never cached */
}
