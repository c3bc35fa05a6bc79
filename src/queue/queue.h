/* The outbound queue: messages for remote recipients, kept durably in
 * data_dir/queue/ until a later delivery agent sends them.  Each entry is
 * a message file <id>.eml (a hard link of the spool file) and an envelope
 * file <id>.env, written to a temporary name, fsynced and renamed. */
#ifndef TERN_QUEUE_H
#define TERN_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"
#include "store/store.h"

#define QUEUE_ID_MAX 40

/* Queues the committed spool file for rcpts (n of them) with envelope
 * sender mail_from ("" for the null sender).  Returns 0 once the entry is
 * durable, with its id in id_out; -1 otherwise (nothing is left behind). */
int queue_enqueue(const char *data_dir, struct store_spool *sp, const char *mail_from,
                  const char *const *rcpts, size_t n, char id_out[QUEUE_ID_MAX + 1],
                  enum store_error *err_out, const char **error_out);

struct queue_entry {
	char id[QUEUE_ID_MAX + 1];
	const char *mail_from;
	const char *const *rcpts;
	size_t n_rcpts;
	uint64_t size;
	int64_t queued_at;
};

/* Removes what an enqueue that did not finish left in data_dir/queue (an
 * <id>.env.tmp, an <id>.eml without <id>.env) if its ctime is before
 * changed_before (CLOCK_REALTIME): at start-up the start time (nothing
 * was in flight before it), while running STORE_STALE_SEC ago.  Complete
 * entries are never touched.  Returns the number removed, or -1 with
 * *error_out (per-thread text). */
struct timespec;
long queue_cleanup(const char *data_dir, const struct timespec *changed_before, const char **error_out);

/* Calls fn for each queued message, oldest first.  Returns 0 or -1. */
int queue_list(const char *data_dir, void (*fn)(const struct queue_entry *e, void *arg), void *arg,
               const char **error_out);

#endif
