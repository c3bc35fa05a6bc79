/* The mailbox store (DESIGN.md "Data"): per user, a SQLite index (WAL) in
 * data_dir/mail/<domain>/<local>/index.db and immutable message files
 * beside it.  Message files are written once to data_dir/spool/, fsynced,
 * then hard-linked into each recipient's folder (one file, several links:
 * multi-recipient delivery costs one write).
 *
 * The durability promise: store_deliver() returns 0 only after every
 * message file link and its directory are fsynced and every index
 * transaction has committed (synchronous=FULL).
 *
 * Every function here may block on disk: call from worker jobs.  A struct
 * store is one SQLite connection: use it from one thread at a time. */
#ifndef TERN_STORE_H
#define TERN_STORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_error {
	STORE_OK,
	STORE_ERR_TEMP,        /* retry later: 451 4.3.0 */
	STORE_ERR_NOSPACE,     /* disk full: 452 4.3.1 */
	STORE_ERR_QUOTA,       /* the user's quota: 552 5.2.2 */
};

/* System flags; keywords come with IMAP. */
enum store_flag {
	STORE_FLAG_SEEN     = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED  = 1 << 2,
	STORE_FLAG_DELETED  = 1 << 3,
	STORE_FLAG_DRAFT    = 1 << 4,
};

/* An incoming message being written.  The session writes the whole message
 * (trace headers first, CRLF line ends) to fd, then calls
 * store_spool_commit() from a worker job. */
struct store_spool {
	int fd;
	char path[PATH_MAX];
	uint64_t size;
};

/* Creates a new spool file in data_dir/spool.  Returns 0 or -1. */
int store_spool_create(const char *data_dir, struct store_spool *sp_out, const char **error_out);
/* Appends len bytes (the session's writes go through here so size stays
 * right).  Returns 0 or -1 with *err_out (STORE_ERR_NOSPACE on ENOSPC). */
int store_spool_write(struct store_spool *sp, const void *data, size_t len, enum store_error *err_out);
/* fsyncs the spool file's data.  Returns 0 or -1. */
int store_spool_commit(struct store_spool *sp, enum store_error *err_out);
/* Replaces the spool file with a new one holding head, then the old
 * file's bytes from offset skip on (Authentication-Results goes above
 * the Received field written while DATA streamed).  Call from a worker
 * job, before store_spool_commit() (which fsyncs the new file).  0, or
 * -1 with *err_out and *error_out; *sp is the old file then, unchanged. */
int store_spool_prepend(const char *data_dir, struct store_spool *sp, const void *head, size_t head_len,
                        uint64_t skip, enum store_error *err_out, const char **error_out);
/* Closes and unlinks the spool file (delivered copies are links of their
 * own).  Accepts a spool that was never created (fd -1). */
void store_spool_discard(struct store_spool *sp);

/* Delivers the committed spool file to the INBOX of each of n users
 * (canonical addresses).  internal_date is the arrival time (unix seconds).
 * Returns 0 when every copy is durable; -1 with *err_out and *error_out
 * otherwise (then no index row was committed for the recipients that
 * failed; those that succeeded stay delivered). */
int store_deliver(const char *data_dir, struct store_spool *sp, const char *const *users, size_t n,
                  int64_t internal_date, enum store_error *err_out, const char **error_out);

struct store;

/* Longest POP3 UIDL (RFC 1939 section 7: 1 to 70 characters 0x21..0x7E). */
#define STORE_UIDL_MAX 70

struct store_mailbox_info {
	int64_t id;              /* the mailbox's row: with uidvalidity, its MAILBOXID */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t exists;
};

struct store_msg {
	uint32_t uid;
	uint32_t flags;          /* enum store_flag bits */
	uint64_t modseq;
	uint64_t size;           /* octets of the message file (CRLF line ends) */
	int64_t internal_date;
	char file[64];           /* file name inside the user's msg/ directory */
	char pop3_uidl[STORE_UIDL_MAX + 1]; /* "" or the UIDL an import kept (store_imap_import) */
};

/* Process-wide SQLite settings, before any store is opened (main()):
 * no page cache memory is set aside per connection before it is used
 * (SQLite's default is about 90 KiB per open index, idle or not). */
void store_sqlite_setup(void);
/* Closes the open indexes the pool keeps for jobs (store_cache.c) that
 * no thread uses: at shutdown once the workers stopped (and at exit). */
void store_cache_close_all(void);
/* Closes those no job has used for STORE_CACHE_IDLE_SEC (the maintenance
 * thread, between jobs): an idle server keeps no SQLite handle. */
#define STORE_CACHE_IDLE_SEC 10
void store_cache_sweep(void);

/* Opens user's store, creating the folder, index and INBOX if missing. */
int store_open(const char *data_dir, const char *user, struct store **st_out, const char **error_out);
void store_close(struct store **st);

/* Lists mailbox's messages in UID order.  *msgs_out is malloc'd (caller
 * frees), *n_out its length.  Returns 0 or -1. */
int store_list(struct store *st, const char *mailbox, struct store_mailbox_info *info_out,
               struct store_msg **msgs_out, size_t *n_out, const char **error_out);
/* Opens a message file read-only.  Returns an fd, or -1 with errno as
 * open(2) left it: ENOENT when the message was expunged since it was
 * listed (its file is unlinked after the expunge's COMMIT). */
int store_msg_open(struct store *st, const struct store_msg *m, const char **error_out);
/* Removes the given UIDs from mailbox in one transaction (all or none),
 * then unlinks their files.  Unknown UIDs are ignored.  Returns 0 or -1. */
int store_expunge(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
                  const char **error_out);
/* Adds (set=true) or removes flag bits on the given UIDs; bumps MODSEQ. */
int store_flags_change(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
                       uint32_t flags, bool set, const char **error_out);

/* The folder that holds user's data (for tests and tools), into out. */
int store_user_dir(const char *data_dir, const char *user, char *out, size_t outsize);

#endif
