/* The delivery agent: a thread with its own event loop that takes the
 * entries of data_dir/queue and delivers them by DNS MX (or through the
 * smarthost of [delivery] relay) with the SMTP client of src/mta, retries
 * what failed for a while with growing delays, and tells senders what
 * could not be delivered (queue_dsn.h).
 *
 * It learns of new entries, holds and releases, deletions and the
 * requests of `tern queue` (queue_request) from inotify on the queue
 * directory, so the commands take effect at once and the SMTP side needs
 * no link to it. */
#ifndef TERN_QUEUE_RUNNER_H
#define TERN_QUEUE_RUNNER_H

#include "config/config.h"

/* Starts the thread.  Returns 0, or -1 with a malloc'd *error_out. */
int queue_runner_start(const struct tern_config *cfg, char **error_out);
/* Ends every session (messages in flight are tried again later) and joins
 * the thread.  Safe when never started. */
void queue_runner_stop(void);

#endif
