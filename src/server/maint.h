/* The maintenance thread of `tern serve`: removes what crashes and failed
 * writes leave behind (store_maint.h, queue_cleanup), off the event loops
 * and the worker pool, one user at a time; and every
 * STORE_CACHE_IDLE_SEC closes the open indexes no job has used for that
 * long (store_cache_sweep). */
#ifndef TERN_SERVER_MAINT_H
#define TERN_SERVER_MAINT_H

#include <time.h>

#include "config/config.h"

/* Starts the thread.  It first runs the start-up pass: files no index row
 * names, and queue leftovers, changed before started (the server's start,
 * CLOCK_REALTIME: nothing of this process was in flight then, so this takes
 * whatever the last crash left).  Then every [store] orphan_scan_interval
 * seconds (never when 0) a periodic pass: such files at least
 * orphan_min_age old, and spool and queue leftovers a day old.  Each pass
 * logs one info line per user it removed something from and one summary
 * line.  cfg must outlive maint_stop().  Failing to start is logged and
 * otherwise ignored (the server runs without it). */
void maint_start(const struct tern_config *cfg, const struct timespec *started);

/* Stops the thread: a pass in progress ends after the user it is on.
 * Harmless if maint_start failed or was never called. */
void maint_stop(void);

#endif
