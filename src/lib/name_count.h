/* Open sessions counted per name, process-wide and thread-safe: a session
 * takes a slot for its name and gives it back when it ends, and is refused
 * when its name already holds limit slots.  The names are opaque strings
 * (IMAP and POP3 use "user\naddress" for Dovecot-style per-user-and-address
 * limits).  A table is a static object: NAME_COUNT_INIT, no set-up. */
#ifndef TERN_NAME_COUNT_H
#define TERN_NAME_COUNT_H

#include <pthread.h>
#include <stddef.h>

#define NAME_COUNT_BUCKETS 1024

struct name_count_slot;

struct name_count {
	pthread_mutex_t lock;
	struct name_count_slot *buckets[NAME_COUNT_BUCKETS];
};
#define NAME_COUNT_INIT { PTHREAD_MUTEX_INITIALIZER, { NULL } }

/* Takes one slot for name.  Returns it, or NULL when name already holds
 * limit slots (limit 0: no limit).  *count_out (may be NULL) gets the
 * number of slots name holds, this one included on success. */
struct name_count_slot *name_count_acquire(struct name_count *nc, const char *name, unsigned limit,
                                           unsigned *count_out);
/* Gives a slot back (NULL accepted, NULL left behind). */
void name_count_release(struct name_count *nc, struct name_count_slot **slot);

#endif
