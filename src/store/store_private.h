/* Declarations shared by the files of src/store (and by src/queue, which
 * links spool files the same way).  Not an interface for other modules:
 * they use store.h and store_maint.h.
 *
 * Error text.  Functions with a struct store put their message in the
 * handle's errbuf (valid until the next call on that handle); functions
 * without one (store_deliver, the spool, the queue) use a per-thread
 * buffer, valid until the next store or queue call from the same thread.
 * Both are "static" in the sense of STYLE.md: the caller never frees them. */
#ifndef TERN_STORE_PRIVATE_H
#define TERN_STORE_PRIVATE_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* PRAGMA user_version of the index schema this code writes. */
#define STORE_SCHEMA_VERSION 1
/* SQLite page cache per open index, in KiB (PRAGMA cache_size=-N): one
 * handle per user per worker thread, so keep it small. */
#define STORE_CACHE_KIB 256
/* busy_timeout: concurrent deliveries to one user wait for each other. */
#define STORE_BUSY_TIMEOUT_MS 10000
/* Most messages store_list returns for one mailbox (the same bound as
 * POP3_MAX_MESSAGES in lib/limits.h: one maildrop snapshot). */
#define STORE_LIST_MAX 1000000
/* Longest mailbox name, in bytes (RFC 9051 sets none; Dovecot and Cyrus
 * cap near 1 KB, and our names become SQL text, never paths). */
#define STORE_MAILBOX_NAME_MAX 1024
/* A message file name: "<unix time>.<16 hex>", well inside store_msg.file. */
#define STORE_FILE_NAME_MAX 40
/* Tries at a fresh random name when link(2) finds the name taken. */
#define STORE_NAME_TRIES 8
/* Per-thread error buffer size. */
#define STORE_ERR_MAX 512

#define STORE_FLAGS_ALL (STORE_FLAG_SEEN | STORE_FLAG_ANSWERED | STORE_FLAG_FLAGGED | \
                         STORE_FLAG_DELETED | STORE_FLAG_DRAFT)

/* One prepared statement per row of store_index.c's table. */
enum store_stmt {
	STMT_MAILBOX_GET,
	STMT_MAILBOX_SET_COUNTERS,
	STMT_MAILBOX_INSERT,
	STMT_UIDVALIDITY_MAX,
	STMT_UIDVALIDITY_REMEMBER,
	STMT_MSG_INSERT,
	STMT_MSG_LIST,
	STMT_MSG_COUNT,
	STMT_MSG_GET,
	STMT_MSG_DELETE,
	STMT_MSG_SET_FLAGS,
	STMT_EXPUNGED_INSERT,
	STMT_FILES_ALL,
	STMT_COUNT
};

/* One user's open store: one SQLite connection and the msg/ directory. */
struct store {
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT];
	int msg_dirfd;                 /* O_DIRECTORY fd of <user dir>/msg */
	char dir[PATH_MAX];            /* the user's folder */
	char errbuf[STORE_ERR_MAX];
};

/* A mailbox row. */
struct store_mailbox_row {
	int64_t id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};

/* One message to deliver to one user (see store_deliver_batch). */
struct store_delivery {
	const char *spool_path;        /* committed spool file (fsynced) */
	uint64_t size;
	int64_t internal_date;
	uint32_t uid_out;              /* set on success */
	char file[STORE_FILE_NAME_MAX + 1]; /* internal: the link's name */
};

/* --- store_path.c: names, directories, errors --- */

/* Escapes one address part for use as a directory name: bytes outside
 * [a-z0-9._+-], and a leading '.', become %XX.  Returns 0, or -1 if the
 * part is empty or its escaped form exceeds NAME_MAX or outsize. */
int store_path_escape(const char *part, size_t len, char *out, size_t outsize);
/* mkdir -p of path, each created directory with mode 0700 and its parent
 * fsynced (so that a new user's folder survives a power cut together with
 * the first message in it).  Returns 0 or -1 with errno. */
int store_mkdirs(const char *path);
/* fsync(2) of a directory by path.  Returns 0 or -1 with errno. */
int store_fsync_dir(const char *path);
/* Writes "<unix time>.<16 random hex>" into out (size >= 32). */
void store_unique_name(char *out, size_t outsize);
/* Fills out with n random bytes as 2n hex digits (outsize > 2n). */
void store_random_hex(char *out, size_t outsize, size_t n);
/* ENOSPC, EDQUOT, EFBIG -> STORE_ERR_NOSPACE; anything else TEMP. */
enum store_error store_errno_class(int err);
/* Formats into the calling thread's error buffer and returns it. */
const char *store_tls_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Formats into st's errbuf and returns it. */
const char *store_errorf(struct store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --- store_index.c: the SQLite index --- */

/* store_open with the failure's class (NOSPACE when the disk is full). */
int store_open_ex(const char *data_dir, const char *user, struct store **st_out,
                  enum store_error *err_out, const char **error_out);
/* The cached statement, reset and with bindings cleared.  NULL on error
 * (message in st->errbuf). */
sqlite3_stmt *store_stmt(struct store *st, enum store_stmt which);
/* Runs a statement-free SQL string (BEGIN IMMEDIATE, COMMIT, ROLLBACK).
 * Returns the SQLite result code. */
int store_exec(struct store *st, const char *sql);
/* ROLLBACK if a transaction is open; errors are ignored (the transaction
 * is gone either way). */
void store_rollback(struct store *st);
/* Class of a SQLite failure: SQLITE_FULL, or an I/O error whose errno is
 * ENOSPC, EDQUOT or EFBIG -> NOSPACE; anything else TEMP. */
enum store_error store_sqlite_class(struct store *st, int rc);
/* Canonical mailbox name: "INBOX" for any case of it, else name. */
const char *store_mailbox_canon(const char *name);
/* Reads a mailbox row.  1 found, 0 missing, -1 error (st->errbuf). */
int store_mailbox_get(struct store *st, const char *name, struct store_mailbox_row *row_out);
/* Creates a mailbox with a fresh UIDVALIDITY (strictly increasing per
 * user, from the clock).  Call inside a write transaction.  Returns 0, or
 * -1 (st->errbuf; a UNIQUE violation if it exists). */
int store_mailbox_create_locked(struct store *st, const char *name, const char *special_use);
/* Writes a mailbox's uidnext and highestmodseq.  Returns 0 or -1. */
int store_mailbox_set_counters(struct store *st, const struct store_mailbox_row *row);

/* --- store_deliver.c --- */

/* Delivers n committed spool files to one mailbox of st's user, all or
 * none: links each into msg/ under a fresh name, fsyncs msg/ once, then
 * inserts every row in one transaction.  Returns 0 with d[i].uid_out set,
 * or -1 with *err_out and *error_out (st->errbuf); on -1 no row was
 * committed and the links were removed (except when COMMIT itself failed:
 * then the links stay as orphans, because the rows may be on disk). */
int store_deliver_batch(struct store *st, const char *mailbox, struct store_delivery *d, size_t n,
                        enum store_error *err_out, const char **error_out);

/* A per-thread cache of open stores for deliveries (store_cache.c).
 * store_cache_open gives a handle owned by the cache; give it back with
 * store_cache_release (failed=true closes it, so the next delivery
 * starts from a fresh connection). */
int store_cache_open(const char *data_dir, const char *user, struct store **st_out, enum store_error *err_out,
                     const char **error_out);
void store_cache_release(struct store **st, bool failed);

/* Delivers one message to user's INBOX through the group commit
 * (store_group.c): it may be written together with other deliveries to
 * the same user in one fsync and one transaction.  Blocks until that
 * transaction committed.  Returns 0 (d->uid_out set) or -1 with
 * *err_out and a per-thread *error_out. */
int store_group_deliver(const char *data_dir, const char *user, struct store_delivery *d,
                        enum store_error *err_out, const char **error_out);

#endif
