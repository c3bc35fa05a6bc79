/* The disk space reserve (DESIGN.md promise 3: "a full disk still lets
 * users delete").
 *
 * Deleting needs disk space before it frees any: SQLite appends the
 * expunge's pages to the WAL, and only after its COMMIT are the message
 * files unlinked (rows go first, files after: a crash in between leaves
 * orphan files, never rows without files).  On a full disk the COMMIT
 * fails, so nothing is ever freed.  The data directory therefore holds a
 * file of [server] disk_reserve bytes, allocated at start
 * (data_dir/space-reserve, fallocate(2)):
 *
 *   - an operation that frees space or needs no new space (EXPUNGE, POP3
 *     DELE+QUIT, MOVE, flag changes, DELETE of a mailbox) that fails for
 *     space borrows the reserve (store_reserve_borrow: the file is
 *     unlinked) and runs once more; then gives it back
 *     (store_reserve_return), which recreates the file when the space is
 *     there again;
 *   - an operation that grows the data (delivery, APPEND, COPY, indexing,
 *     index maintenance) first asks store_reserve_held: while the reserve
 *     is missing and cannot be recreated, it fails at once with
 *     STORE_ERR_NOSPACE, so the space a delete freed goes back into the
 *     reserve and not to the next delivery.
 *
 * Why a file and not free-space arithmetic (statvfs thresholds): the file
 * holds real, allocated blocks, so it works whatever else fills the file
 * system (logs, another program, a quota), with no guess about how much a
 * transaction will write; and unlinking it frees exactly its size at once.
 * Why not "delete files first, rows after": a crash in between would
 * leave rows whose files are gone, breaking promise 1.
 *
 * The reserve is per process (one server per data directory); it is off
 * (every function a no-op, store_reserve_held true) until
 * store_reserve_configure is called with a size, so tools and tests that
 * do not configure it behave as before.  Thread-safe. */
#ifndef TERN_STORE_RESERVE_H
#define TERN_STORE_RESERVE_H

#include <stdbool.h>
#include <stdint.h>

/* The reserve file in the data directory. */
#define STORE_RESERVE_FILE "space-reserve"
/* A missing reserve is tried again at most this often (seconds). */
#define STORE_RESERVE_RETRY_SEC 1

/* Sets the reserve size for every data directory of this process (0: no
 * reserve). */
void store_reserve_configure(uint64_t bytes);

/* Creates (or completes) the reserve file of data_dir.  Returns 0 when it
 * is in place (or reserves are off, or the file system cannot hold one
 * for a reason other than space, which is logged once), -1 when the disk
 * is too full for it now (ENOSPC, EDQUOT). */
int store_reserve_ensure(const char *data_dir);

/* Whether growing operations may go on: the reserve is in place, or is
 * recreated now (at most once per STORE_RESERVE_RETRY_SEC), and no
 * borrower is using its space. */
bool store_reserve_held(const char *data_dir);

/* A space-freeing operation failed for space: frees the reserve (unlinks
 * the file) and returns true when the caller should try once more (a
 * reserve is configured); the caller then calls store_reserve_return. */
bool store_reserve_borrow(const char *data_dir);
/* Ends a borrow; the last borrower recreates the reserve if it can. */
void store_reserve_return(const char *data_dir);

#endif
