/* Store maintenance the server runs at start and from time to time.
 *
 * A crash (kill -9, power cut) can leave files nobody refers to, never the
 * reverse (DESIGN.md promise 1: an acknowledged message always has both its
 * index row and its file):
 *   - spool/ files of sessions that were receiving or had not yet called
 *     store_spool_discard();
 *   - msg/ files linked by a delivery that died before its COMMIT, or whose
 *     row an expunge committed just before the crash (rows go first, files
 *     after).
 * These functions remove such leftovers. */
#ifndef TERN_STORE_MAINT_H
#define TERN_STORE_MAINT_H

#include <stdint.h>

#include "store/store.h"

/* A day: older leftovers are certainly not in use by a running delivery. */
#define STORE_STALE_SEC (24 * 60 * 60)

/* Removes regular files in data_dir/spool whose mtime is at least
 * min_age_sec old.  At server start nothing is in flight and 0 is safe;
 * while the server runs, pass STORE_STALE_SEC.  Returns the number of files
 * removed, or -1 with *error_out (static or per-thread text). */
long store_spool_cleanup(const char *data_dir, int64_t min_age_sec, const char **error_out);

/* Removes files in st's msg/ directory that no index row names and whose
 * ctime (changed by link(2), unlike mtime) is at least min_age_sec old (never pass less than a minute while
 * deliveries may run: a delivery links its file before it commits the
 * row).  Returns the number removed, or -1 with *error_out (st-owned). */
long store_orphans_cleanup(struct store *st, int64_t min_age_sec, const char **error_out);

#endif
