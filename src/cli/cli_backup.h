/* tern backup and tern restore (cli_backup.c, cli_restore.c) and their
 * file helpers (cli_backup_fs.c).  Every helper prints its error. */
#ifndef TERN_CLI_BACKUP_H
#define TERN_CLI_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sqlite3.h>

/* How long a backup waits for the server's write lock on an index, and
 * the server's writers wait for the backup's (the store gives up after
 * STORE_BUSY_TIMEOUT_MS, 10 s; the backup holds the lock for one page
 * copy of the index and the links of the messages that arrived since its
 * first pass). */
#define BACKUP_BUSY_MS 30000

/* One run's counts, printed at the end. */
struct backup_run {
	bool no_link;              /* link(2) failed with EXDEV/EPERM: copying */
	uint64_t users;
	uint64_t messages;         /* index rows */
	uint64_t bytes;            /* of message files linked or copied */
	uint64_t linked, copied;   /* message files */
	uint64_t databases;        /* SQLite files */
	uint64_t other_files;      /* queue, dkim, srs.key, mta-sts */
	uint64_t extra_removed;    /* files of messages expunged meanwhile */
};

/* a "/" b into out; -1 (printed) when too long. */
int backup_join(char *out, size_t outsize, const char *a, const char *b);
/* mkdir (EEXIST is fine) and chmod to mode.  0 or -1. */
int backup_mkdir(const char *path, mode_t mode);
/* Copies a file (dst must not exist), mode kept, fsynced.  0 or -1. */
int backup_copy_file(struct backup_run *b, const char *src, const char *dst);
/* Hard-links src to dst, or copies it once link(2) said EXDEV or EPERM
 * (and from then on).  Counts linked, copied.  -1 with errno set,
 * not printed (ENOENT: src is gone; EEXIST: dst exists). */
int backup_link_or_copy(struct backup_run *b, const char *src, const char *dst);
/* Copies a directory tree (regular files and directories, modes kept);
 * files that vanish meanwhile are skipped.  A missing src is fine.  0 or -1. */
int backup_copy_tree(struct backup_run *b, const char *src, const char *dst);
/* sqlite3_open_v2 with the busy timeout.  0 or -1. */
int backup_db_open(const char *path, int flags, sqlite3 **db_out);
/* Copies the database open as src (in its current read or write
 * transaction, if any: that snapshot) to a new file dst_path with mode,
 * through the online backup API.  0 or -1. */
int backup_db_copy_from(sqlite3 *src, const char *dst_path, mode_t mode);
/* Opens src_path and copies it so; counts databases.  0 or -1. */
int backup_db_copy(struct backup_run *b, const char *src_path, const char *dst_path);

/* One user's folder, consistent while the server runs: src_dir (has
 * index.db) to dst_dir (made here), the index through the online backup
 * API under the user's write lock, message files hard-linked (or copied)
 * as that snapshot names them.  0 or -1. */
int backup_user(struct backup_run *b, const char *src_dir, const char *dst_dir);
/* Prints the counts: "<what>: users=N messages=N bytes=N files=..." */
void backup_print_counts(const char *what, const struct backup_run *b);

#endif
