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

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store.h"

/* A day: older spool and queue leftovers are certainly not in use by a
 * session that is still receiving or queueing. */
#define STORE_STALE_SEC (24 * 60 * 60)

/* Removes regular files in data_dir/spool whose mtime is at least
 * min_age_sec old.  At server start nothing is in flight and 0 is safe;
 * while the server runs, pass STORE_STALE_SEC.  Returns the number of files
 * removed, or -1 with *error_out (static or per-thread text). */
long store_spool_cleanup(const char *data_dir, int64_t min_age_sec, const char **error_out);

/* Removes files in st's msg/ directory that no index row names and whose
 * ctime (set by link(2), unlike mtime) is before changed_before (the
 * CLOCK_REALTIME time, to the nanosecond: a crash and an immediate
 * restart fall in one second).  Safe while deliveries, APPENDs and COPYs run: their files,
 * linked before their rows commit, are never taken whatever their age (the
 * orphan guard, store_orphans.c), and the user's writers wait at most for
 * one query of a few candidates, never for the whole scan.  The age only
 * spares files something outside Tern may be putting there (a folder
 * being copied in).  Call from a thread that may block (it reads the
 * whole directory and every file name of the index: one user's worth of
 * memory, 41 bytes a message).  Returns the number removed and their
 * bytes in *bytes_out (may be NULL), or -1 with *error_out (st-owned). */
long store_orphans_remove(struct store *st, const struct timespec *changed_before, uint64_t *bytes_out,
                          const char **error_out);

/* store_orphans_remove of the files at least min_age_sec old. */
long store_orphans_cleanup(struct store *st, int64_t min_age_sec, const char **error_out);

/* Whether sb's ctime is before t. */
static inline bool
store_changed_before(const struct stat *sb, const struct timespec *t)
{
	return sb->st_ctim.tv_sec < t->tv_sec || (sb->st_ctim.tv_sec == t->tv_sec && sb->st_ctim.tv_nsec < t->tv_nsec);
}

/* Calls fn(user, arg) for each user folder under data_dir/mail that holds
 * an index (a user who never got mail has none), user being the address
 * the folder belongs to; stops when fn returns false.  Folders whose names
 * are not what store_user_dir() makes are skipped.  Returns 0, or -1 with
 * *error_out (per-thread text) if data_dir/mail cannot be read (a missing
 * one is no error: no users yet). */
int store_users_each(const char *data_dir, bool (*fn)(const char *user, void *arg), void *arg,
                     const char **error_out);

#endif
