/* Arenas: a chain of chunks; allocations are bumped out of the newest.
 * Big allocations get a chunk of their own. */
#include <stdarg.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct arena_chunk {
	struct arena_chunk *next;
	size_t size;            /* usable bytes in data */
	size_t used;
	alignas(max_align_t) unsigned char data[];
};

struct arena {
	struct arena_chunk *head;   /* newest chunk first */
	size_t chunk_size;
	bool secure;
};

static struct arena_chunk *
chunk_new(size_t size)
{
	struct arena_chunk *c = xmalloc(sizeof(*c) + size);

	c->next = NULL;
	c->size = size;
	c->used = 0;
	return c;
}

static void
chunk_release(struct arena *a, struct arena_chunk *c)
{
	if (a->secure)
		str_wipe(c->data, c->used);
	free(c);
}

struct arena *
arena_new(size_t chunk_size, bool secure)
{
	struct arena *a = xcalloc(1, sizeof(*a));

	a->chunk_size = chunk_size < 64 ? 64 : chunk_size;
	a->secure = secure;
	return a;
}

void
arena_reset(struct arena *a)
{
	struct arena_chunk *c, *next, *last = NULL;

	/* Keep the oldest chunk (the first allocated, usually chunk_size). */
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		if (next == NULL) {
			last = c;
			break;
		}
		chunk_release(a, c);
	}
	if (last != NULL) {
		if (last->size != a->chunk_size) {
			chunk_release(a, last);
			last = NULL;
		} else {
			if (a->secure)
				str_wipe(last->data, last->used);
			last->used = 0;
		}
	}
	a->head = last;
}

void
arena_free(struct arena **ap)
{
	struct arena *a = *ap;
	struct arena_chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		chunk_release(a, c);
	}
	free(a);
	*ap = NULL;
}

void *
arena_alloc(struct arena *a, size_t size)
{
	const size_t align = alignof(max_align_t);
	struct arena_chunk *c = a->head;
	size_t need = (size + align - 1) & ~(align - 1);
	void *p;

	if (size > SIZE_MAX / 2)
		panic("arena allocation too large");
	if (need == 0)
		need = align;
	if (c == NULL || c->size - c->used < need) {
		if (need > a->chunk_size / 4) {
			/* A big block gets its own chunk, kept behind the head so
			 * the head's free space is not wasted. */
			struct arena_chunk *big = chunk_new(need);

			big->used = need;
			if (c == NULL) {
				a->head = big;
			} else {
				big->next = c->next;
				c->next = big;
			}
			memset(big->data, 0, need);
			return big->data;
		}
		c = chunk_new(a->chunk_size);
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += need;
	memset(p, 0, need);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = arena_alloc(a, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		panic("vsnprintf failed");
	p = arena_alloc(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
