/* Open connections counted per source, process-wide and thread-safe: the
 * server takes a slot when it accepts a connection and gives it back when
 * the connection is freed, refusing a source that holds too many.
 *
 * A source is an IPv4 address, or an IPv6 /64: one host is routinely given
 * a whole /64, so counting IPv6 per address would let it open connections
 * without limit.  IPv4-mapped IPv6 addresses count as their IPv4 address.
 * Only sources with an open connection have an entry, and the table holds
 * at most max_entries of them (memory is bounded under a flood of
 * distinct addresses: past it, new sources are refused). */
#ifndef TERN_SOURCE_COUNT_H
#define TERN_SOURCE_COUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct source_count;
struct source_slot;

/* A table for at most max_entries distinct sources (at least 1). */
struct source_count *source_count_new(size_t max_entries);
/* Frees the table (NULL accepted, NULL left behind).  Slots still held
 * become invalid. */
void source_count_free(struct source_count **scp);

/* Takes one slot for the source of sa (AF_INET or AF_INET6).  Returns it,
 * or NULL if the source already holds limit slots (limit 0: no limit),
 * the table is full, or sa is of another family.  *count_out (may be NULL)
 * gets the number of slots the source holds, this one included on success. */
struct source_slot *source_count_acquire(struct source_count *sc, const struct sockaddr *sa, unsigned limit,
                                         unsigned *count_out);
/* Gives a slot back; the source's entry goes once its last slot does. */
void source_count_release(struct source_count *sc, struct source_slot *slot);

/* Slots held by the source of sa (0 if none or not an IP address). */
unsigned source_count_get(struct source_count *sc, const struct sockaddr *sa);
/* Sources with at least one slot. */
size_t source_count_entries(struct source_count *sc);

#endif
