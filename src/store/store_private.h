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

#include "lib/buf.h"
#include "lib/limits.h"
#include "store/store.h"
#include "store/store_imap.h"
#include "store/store_sort.h"

/* PRAGMA user_version of the index schema this code writes (store_index.c
 * migrates older versions in place). */
#define STORE_SCHEMA_VERSION 11
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

/* Bytes of a normalised keyword list (store_keywords_normalize). */
#define STORE_KEYWORDS_BUF (STORE_KEYWORDS_MAX * (STORE_KEYWORD_LEN_MAX + 1) + 1)
/* The key of a msg_cache row: mailbox id in the high 32 bits, UID in the
 * low ones (one B-tree lookup per FETCH, rows in mailbox/UID order). */
#define STORE_CACHE_KEY(mailbox_id, uid) ((int64_t)(((uint64_t)(mailbox_id) << 32) | (uint32_t)(uid)))

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
	/* schema 2: IMAP */
	STMT_MBX_ENTRIES,
	STMT_MBX_STATUS,
	STMT_MBX_COUNT,
	STMT_MBX_INFERIORS,
	STMT_MBX_RENAME,
	STMT_MBX_DELETE,
	STMT_MBX_SET_SPECIAL,
	STMT_MBX_NAME_OF,
	STMT_MSG_FILES_OF,
	STMT_MSG_DELETE_ALL,
	STMT_EXPUNGED_DELETE_ALL,
	STMT_SUB_INSERT,
	STMT_SUB_DELETE,
	STMT_SUB_COUNT,
	STMT_SUB_INFERIORS,
	STMT_META_GET,
	STMT_META_SET,
	STMT_USAGE,
	STMT_IMSG_LIST,
	STMT_IMSG_GET,
	STMT_IMSG_RANGE,
	STMT_IMSG_CHANGED,
	STMT_IMSG_DELETED,
	STMT_IMSG_SET_FLAGS,
	STMT_IMSG_MOVE,
	STMT_EXPUNGED_SINCE,
	STMT_CACHE_GET,
	STMT_CACHE_PUT,
	STMT_CACHE_COPY,
	STMT_CACHE_MOVE,
	STMT_SORT_PUT,
	STMT_SORT_COPY,
	STMT_COUNT
};

/* One user's open store: one SQLite connection and the msg/ directory. */
struct store {
	sqlite3 *db;
	sqlite3_stmt *stmts[STMT_COUNT];
	int msg_dirfd;                 /* O_DIRECTORY fd of <user dir>/msg */
	char dir[PATH_MAX];            /* the user's folder */
	char data_dir[PATH_MAX];       /* as given to store_open */
	char user[ADDRESS_MAX + 1];    /* as given to store_open: the change hook's first argument */
	char errbuf[STORE_ERR_MAX];
	/* store_msg_cached: the last mailbox name looked up and its id (0:
	 * none; checked against the mailboxes table by the query itself, so
	 * a rename or delete elsewhere never makes it wrong), and the strings
	 * it returned. */
	int64_t mbcache_id;
	char mbcache_name[STORE_MAILBOX_NAME_MAX + 1];
	struct buf cached;
	bool read_batch;               /* store_read_begin's transaction is open */
	uint64_t read_token;           /* its store_unlink_reader_enter token */
};

/* A mailbox row. */
struct store_mailbox_row {
	int64_t id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;             /* kept by triggers (schema 2) */
	uint64_t bytes;
	uint32_t first_recent_uid;     /* schema 5: \Recent from this UID on */
};

/* What delivery, APPEND and store_msg_cached parse out of a message for
 * the msg_cache table (store_imap_cache.c). */
struct store_parsed {
	char *strings;                 /* malloc'd: envelope NUL bodystructure NUL body NUL */
	const char *envelope, *bodystructure, *body; /* into strings */
	uint64_t header_size;
	int64_t sent_date;
	int32_t sent_zone;             /* seconds east of UTC */
	struct store_sort_keys sort;   /* SORT/THREAD keys (store_sort.h), into sort_strings */
	char *sort_strings;            /* malloc'd */
	const char *map;               /* the message, mmap'd (or "" when empty) */
	size_t len;
};

/* One message to deliver to one user (see store_deliver_batch). */
struct store_delivery {
	const char *spool_path;        /* committed spool file (fsynced) */
	uint64_t size;
	int64_t internal_date;
	uint32_t flags;                /* APPEND: enum store_flag bits (0 for delivery) */
	const char *keywords;          /* APPEND: normalised keywords, or NULL */
	uint32_t uid;                  /* import: the UID to give it (0: the next one) */
	const char *pop3_uidl;         /* import: its POP3 UIDL, or NULL for Tern's own */
	bool skipped_out;              /* import: its UID was taken already, not added */
	uint32_t uid_out;              /* set on success */
	char file[STORE_FILE_NAME_MAX + 1]; /* internal: the link's name */
	struct store_parsed parsed;    /* internal */
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
/* store_deliver_batch for APPEND too: the same steps, plus each message's
 * flags and keywords, a quota check inside the transaction (0: no limit)
 * and *uidvalidity_out (may be NULL).  Returns STORE_OK,
 * STORE_IMAP_NONEXISTENT, STORE_ERR_QUOTA, STORE_ERR_TEMP or
 * STORE_ERR_NOSPACE (message in st->errbuf). */
int store_insert_batch(struct store *st, const char *mailbox, struct store_delivery *d, size_t n,
                       uint64_t quota_bytes, uint64_t quota_messages, uint32_t *uidvalidity_out);
/* store_insert_batch for an import (store_imap_import): each d[i].uid is
 * kept.  The mailbox takes uidvalidity unless it holds messages under
 * another (STORE_IMAP_UIDVALIDITY); messages whose UID is below its
 * UIDNEXT are skipped (d[i].skipped_out), the others must ascend; UIDNEXT
 * becomes at least uidnext. */
int store_import_batch(struct store *st, const char *mailbox, struct store_delivery *d, size_t n,
                       uint32_t uidvalidity, uint32_t uidnext, uint64_t quota_bytes, uint64_t quota_messages);
/* Links the file at path (or, with path NULL, the msg/ file src) into
 * msg/ under a fresh name written to name (STORE_FILE_NAME_MAX + 1
 * bytes).  Returns STORE_OK or a store_error (st->errbuf). */
int store_link_fresh(struct store *st, const char *path, const char *src, char *name);

/* --- store_orphans.c: the orphan guard ---
 * From the first link(2) of new message files into msg/ until their rows
 * are committed (or the files unlinked after a failure), hold the guard of
 * st's user: the orphan scan then never takes those files.  Cheap (a
 * shared lock per bucket of users).  Never hold two at once, and take it
 * before BEGIN IMMEDIATE, never while holding a write transaction: the
 * scan holds the guard while it reads an index. */
void store_orphan_guard_enter(struct store *st);
void store_orphan_guard_leave(struct store *st);

/* --- store_mailbox.c --- */

/* A file name read from the index, before it is used as a path. */
bool store_file_name_ok(const char *name, size_t len);
/* A growable list of file names to unlink after a COMMIT. */
struct store_files {
	char (*names)[STORE_FILE_NAME_MAX + 1];
	size_t n, cap;
};
/* Appends name; -1 when out of memory (st->errbuf). */
int store_files_add(struct store *st, struct store_files *f, const char *name);
/* Unlinks every name in msg/ and frees the list; call after the COMMIT
 * that deleted their rows.  While a read batch of the same user that
 * began before is open (it may still see the rows), the unlinks wait for
 * it (store_unlink.c). */
void store_files_unlink(struct store *st, struct store_files *f);
/* A read batch of the user whose folder is dir opens (returns its token)
 * and ends; the end does the unlinks no older batch holds back. */
uint64_t store_unlink_reader_enter(const char *dir);
void store_unlink_reader_leave(const char *dir, uint64_t token);
/* Whether msg/ file name of st's user waits for a batch to end: no row
 * names it, yet it is no orphan (the orphan scan skips it). */
bool store_unlink_pending(const struct store *st, const char *name);
void store_files_free(struct store_files *f);
/* Deletes message uid of mb inside the caller's transaction: the row, its
 * cache (trigger) and full-text rows, an expunged row with modseq; its
 * file name goes to *files (unlinked by the caller after COMMIT).
 * Returns 1 removed, 0 no such row, -1 error (st->errbuf). */
int store_expunge_one(struct store *st, const struct store_mailbox_row *mb, uint32_t uid, uint64_t modseq,
                      struct store_files *files);

/* --- store_imap_copy.c --- */

/* One message of a MOVE, inside the caller's transaction: the row, its
 * cache row and its full-text entry go from (from, old_uid) to (to, uid)
 * with modseq; from records old_uid as expunged at src_modseq.  The
 * caller updates both mailboxes' counters.  Returns 0 or -1. */
int store_move_row(struct store *st, const struct store_mailbox_row *from, const struct store_mailbox_row *to,
                   uint32_t old_uid, uint32_t uid, uint64_t modseq, uint64_t src_modseq);

/* --- store_imap_change.c --- */

/* Calls the change hook (if one is set) with st's user.  Call after
 * COMMIT only. */
void store_change_notify(struct store *st, const char *mailbox, uint64_t highestmodseq);

/* --- store_imap_msg.c --- */

/* The static "" every keyword-less store_imap_msg points at. */
extern char store_no_keywords[1];
/* A growable array of store_imap_msg. */
struct store_imsg_vec {
	struct store_imap_msg *m;
	size_t n, cap;
};
/* Appends the message row s is on (columns uid, flags, modseq, size,
 * internal_date, keywords, file).  Returns 0 or -1 (st->errbuf). */
int store_imsg_push(struct store *st, struct store_imsg_vec *v, sqlite3_stmt *s);
/* The messages of mailbox_id among uids (ascending; duplicates and
 * disorder tolerated), in UID order, appended to *v.  Returns 0 or -1. */
int store_imsg_select(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t n,
                      struct store_imsg_vec *v);
/* A mailbox name made canonical: "INBOX" in any case, and as the first
 * level ("inbox/x" is "INBOX/x").  Returns out. */
const char *store_name_canon(const char *name, char *out, size_t outsize);

/* --- store_imap_flags.c --- */

/* Normalises a space-separated keyword list into out (STORE_KEYWORDS_BUF
 * bytes): valid atoms only (RFC 9051 flag-keyword), duplicates (any case)
 * dropped keeping the first spelling, sorted case-insensitively, one
 * space between.  Returns STORE_OK, STORE_IMAP_BADNAME (not an atom or a
 * system flag) or STORE_IMAP_LIMIT (too many or too long). */
int store_keywords_normalize(const char *in, char *out);

/* --- store_imap_cache.c --- */

/* Maps the file at path (or, path NULL, msg/ file) and parses it: fills
 * *p.  Returns 0 or -1 (st->errbuf).  Free with store_parsed_free. */
int store_parse_file(struct store *st, const char *path, const char *file, struct store_parsed *p);
void store_parsed_free(struct store_parsed *p);
/* Writes p as the cache row of (mailbox_id, uid).  Returns 0 or -1. */
int store_cache_put(struct store *st, int64_t mailbox_id, uint32_t uid, const struct store_parsed *p);
/* store_sort.c: writes k as the msg_sort row of (mailbox_id, uid) while
 * the message exists; copies the row of one STORE_CACHE_KEY to another
 * (COPY).  Return 0 or -1. */
int store_sort_put(struct store *st, int64_t mailbox_id, uint32_t uid, const struct store_sort_keys *k);
int store_sort_copy(struct store *st, int64_t from_key, int64_t to_key);
/* An RFC 5322 date-time (obsolete forms too) as unix time; 0 when it
 * does not parse.  store_date_parse_zone also gives the zone it was
 * written in, as seconds east of UTC (0 when it does not parse, or for
 * "-0000" and unknown zones). */
int64_t store_date_parse(const char *s);
int64_t store_date_parse_zone(const char *s, int32_t *zone_out);

/* The process's pool of open stores (store_cache.c), for jobs on any
 * thread.  store_cache_open gives a handle owned by the pool and used by
 * this thread alone until store_cache_release gives it back
 * (failed=true closes it, so the next job starts from a fresh
 * connection).  store_cache_close_all (store.h) closes the rest. */
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
