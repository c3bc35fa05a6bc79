/* The disk space reserve (DESIGN.md promise 3: "a full disk still lets
 * users delete").
 *
 * Deleting needs disk space before it frees any: SQLite appends a delete's
 * pages to the WAL (and opening a WAL database needs its -wal and -shm
 * files), and the store unlinks message files only after the COMMIT (rows
 * go first, files after: a crash in between leaves orphan files, never
 * rows without files).  On a full disk the COMMIT fails, so nothing is
 * ever freed.  The data directory therefore holds a file of [server]
 * disk_reserve bytes, allocated at start (data_dir/space-reserve,
 * fallocate(2)):
 *
 *   - an operation that frees space or takes none for good (in the store:
 *     EXPUNGE, POP3 DELE+QUIT, MOVE, flag changes, DELETE of a mailbox;
 *     opening an index or the directory) that fails for space borrows the
 *     reserve (reserve_borrow: the file is unlinked) and runs once more,
 *     then gives it back (reserve_return), which recreates the file when
 *     the space is there again;
 *   - an operation that grows the data (delivery, APPEND, COPY, full-text
 *     indexing and its upkeep) first asks reserve_held: while the reserve
 *     is missing and cannot be recreated, it fails at once with "disk
 *     full", so the space a delete freed refills the reserve and does not
 *     go to the next delivery.
 *
 * Why a file and not free-space arithmetic (statvfs thresholds): the file
 * holds real, allocated blocks, so it works whatever else fills the file
 * system (logs, another program, a quota), with no guess about how much a
 * transaction will write; and unlinking it frees exactly its size at once.
 * Why not "delete files first, rows after": a crash in between would
 * leave rows whose files are gone, breaking promise 1.  (A WAL file that
 * already grew is reused in place, so many deletes need no new space at
 * all; the reserve covers the others, such as the first writes after a
 * restart, when the WAL files are new.)
 *
 * The reserve is per process (one server per data directory); it is off
 * (every function a no-op, reserve_held true) until reserve_configure is
 * called with a size, so tools and tests that do not configure it behave
 * as before.  Thread-safe. */
#ifndef TERN_LIB_RESERVE_H
#define TERN_LIB_RESERVE_H

#include <stdbool.h>
#include <stdint.h>

/* The reserve file in the data directory. */
#define RESERVE_FILE "space-reserve"
/* A missing reserve is tried again at most this often (seconds). */
#define RESERVE_RETRY_SEC 1

/* Sets the reserve size for every data directory of this process (0: no
 * reserve). */
void reserve_configure(uint64_t bytes);

/* Creates (or completes) the reserve file of data_dir.  Returns 0 when it
 * is in place (or reserves are off, or the file system cannot hold one
 * for a reason other than space, which is logged once), -1 when the disk
 * is too full for it now (ENOSPC, EDQUOT). */
int reserve_ensure(const char *data_dir);

/* Whether growing operations may go on: the reserve is in place, or is
 * recreated now (at most once per RESERVE_RETRY_SEC), and no
 * borrower is using its space. */
bool reserve_held(const char *data_dir);

/* A space-freeing operation failed for space: frees the reserve (unlinks
 * the file) and returns true when the caller should try once more (a
 * reserve is configured); the caller then calls reserve_return. */
bool reserve_borrow(const char *data_dir);
/* Ends a borrow; the last borrower recreates the reserve if it can. */
void reserve_return(const char *data_dir);
/* Space was freed (files unlinked): the next reserve_held tries to
 * recreate a missing reserve at once, not after RESERVE_RETRY_SEC. */
void reserve_note_freed(void);

#endif
