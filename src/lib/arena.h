/* Arenas: many small allocations freed together (a connection, a command).
 * A secure arena zeroes its memory before giving it back (credentials). */
#ifndef TERN_ARENA_H
#define TERN_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

struct arena *arena_new(size_t chunk_size, bool secure);
/* Frees everything and sets *a to NULL; accepts NULL. */
void arena_free(struct arena **a);
/* Frees every allocation but keeps the first chunk for reuse. */
void arena_reset(struct arena *a);
/* Returns zeroed memory aligned for any type; never NULL. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
