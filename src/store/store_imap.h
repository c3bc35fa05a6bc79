/* The store as IMAP sees it: mailboxes with hierarchy and SPECIAL-USE,
 * messages with flags, keywords and MODSEQ, APPEND, COPY/MOVE, changes
 * since a MODSEQ (CONDSTORE/QRESYNC and the change bus), the ENVELOPE and
 * BODYSTRUCTURE cached at delivery, and quota usage.  Full-text search is
 * store_fts.h.
 *
 * Like store.h: every function may block on disk, so call from worker
 * jobs, one thread at a time per struct store.  Mailbox names are UTF-8,
 * hierarchy delimiter '/', "INBOX" canonical in any case (the IMAP layer
 * converts modified UTF-7 at the wire).  Returned strings and arrays are
 * either malloc'd (said so) or valid until the next call on st.
 *
 * Every function that commits a change calls the change hook
 * (store_set_change_hook) after the COMMIT, before it returns. */
#ifndef TERN_STORE_IMAP_H
#define TERN_STORE_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Hierarchy delimiter of mailbox names. */
#define STORE_MAILBOX_DELIM '/'
/* Most mailboxes one user may have (our bound; Dovecot sets none by
 * default, Gmail allows 10,000 labels). */
#define STORE_MAILBOXES_MAX 10000
/* Most keywords per message and bytes per keyword (RFC 9051 sets none;
 * Dovecot keeps at most ~1000 keywords per mailbox). */
#define STORE_KEYWORDS_MAX 64
#define STORE_KEYWORD_LEN_MAX 128
/* Levels of hierarchy in one name ("a/b/c" is 3). */
#define STORE_MAILBOX_DEPTH_MAX 32

/* Results of the mailbox and message operations below, beyond STORE_OK and
 * the store.h classes (TEMP, NOSPACE, QUOTA). */
enum store_imap_error {
	STORE_IMAP_NONEXISTENT = 100,  /* no such mailbox: NO [NONEXISTENT] */
	STORE_IMAP_EXISTS,             /* name taken: NO [ALREADYEXISTS] */
	STORE_IMAP_BADNAME,            /* invalid name: NO [CANNOT] */
	STORE_IMAP_HASCHILDREN,        /* DELETE of a \Noselect name with inferiors: NO [INUSE]-ish */
	STORE_IMAP_LIMIT,              /* STORE_MAILBOXES_MAX or keywords: NO [LIMIT] */
	STORE_IMAP_NOPERM,             /* e.g. DELETE INBOX: NO [CANNOT] */
	STORE_IMAP_UIDVALIDITY,        /* import: the mailbox holds messages under another UIDVALIDITY */
};

/* --- change notification (the change bus hangs off this) --- */

/* Called after every committed change to user's mailbox (delivery,
 * APPEND, COPY/MOVE target and source, flag change, expunge, create,
 * delete, rename: mailbox is then the old name) with the mailbox's new
 * HIGHESTMODSEQ (0 for create/delete/rename).  Runs on the committing
 * thread; must be quick and thread-safe.  One hook per process. */
typedef void store_change_fn(const char *user, const char *mailbox, uint64_t highestmodseq);
void store_set_change_hook(store_change_fn *fn);

/* --- mailboxes --- */

struct store_mailbox_entry {
	char *name;                    /* malloc'd, UTF-8 */
	const char *special_use;       /* static: "\\Sent", ... or NULL */
	bool subscribed;
	bool exists;                   /* false: a subscription to a missing name */
};

/* Every mailbox of the user, and every subscribed name (existing or not),
 * sorted by name (byte order, INBOX first).  *out malloc'd; free with
 * store_mailbox_entries_free.  Returns 0 or -1. */
int store_mailboxes(struct store *st, struct store_mailbox_entry **out, size_t *n_out,
                    const char **error_out);
void store_mailbox_entries_free(struct store_mailbox_entry *e, size_t n);

/* STATUS data (RFC 9051 6.3.11, RFC 7162, RFC 8438). */
struct store_mailbox_status {
	int64_t id;                    /* the mailbox's row: with uidvalidity, its MAILBOXID */
	uint32_t messages;
	uint32_t unseen;               /* messages without \Seen */
	uint32_t deleted;              /* messages with \Deleted */
	uint32_t uidnext;
	uint32_t uidvalidity;
	uint64_t highestmodseq;
	uint64_t size;                 /* sum of RFC822.SIZE */
	uint32_t first_unseen_uid;     /* 0 when every message is seen */
	uint32_t recent;               /* messages no read-write session has seen (RFC 3501 \Recent) */
};
/* Returns STORE_OK or STORE_IMAP_NONEXISTENT / STORE_ERR_TEMP. */
int store_mailbox_status(struct store *st, const char *name, struct store_mailbox_status *out,
                         const char **error_out);

/* \Recent (RFC 3501 2.3.2): "the first session to have been notified
 * about this message" sees it.  Each mailbox keeps the first UID that no
 * read-write session has been told of (1 for a new mailbox).  With up_to
 * 0, *first_out is that UID (EXAMINE, read-only sessions).  Otherwise the
 * caller claims the messages below up_to (its view's UIDNEXT): *first_out
 * is the UID before the claim, and the mailbox's is raised to up_to, so
 * the messages in [*first_out, up_to) are recent for this caller only.
 * The claim is written without waiting for fsync (losing it in a crash
 * only makes messages recent once more).  Returns STORE_OK,
 * STORE_IMAP_NONEXISTENT or STORE_ERR_TEMP. */
int store_imap_recent(struct store *st, const char *mailbox, uint32_t up_to, uint32_t *first_out,
                      const char **error_out);

/* Creates name (and any missing superiors, RFC 9051 6.3.4) with an
 * optional special-use attribute ("\\Sent" etc., CREATE-SPECIAL-USE).  A
 * trailing delimiter is ignored.  Returns STORE_OK, STORE_IMAP_EXISTS,
 * STORE_IMAP_BADNAME (empty level, too long, too deep), STORE_IMAP_LIMIT,
 * or a store_error.
 * (Store helper's notes: BADNAME also for control characters, '*', '%'
 * and invalid UTF-8, and for a special-use other than \\Archive \\Drafts
 * \\Junk \\Sent \\Trash (case-insensitive): \\All and \\Flagged would be
 * virtual mailboxes we lack, so CREATE-SPECIAL-USE should answer
 * NO [USEATTR] for them.  CREATE does not subscribe.) */
int store_mailbox_create(struct store *st, const char *name, const char *special_use,
                         const char **error_out);
/* Deletes name and its messages (RFC 9051 6.3.5): INBOX is
 * STORE_IMAP_NOPERM; a name with inferiors keeps them (they stay
 * reachable).  Its UIDVALIDITY is remembered.  Returns STORE_OK,
 * STORE_IMAP_NONEXISTENT, or a store_error (and STORE_IMAP_HASCHILDREN
 * for a name that is only a superior of others).  Its subscription
 * stays (RFC 9051 6.3.9). */
int store_mailbox_delete(struct store *st, const char *name, const char **error_out);
/* Renames from and its inferiors to to (RFC 9051 6.3.6), creating missing
 * superiors of to; their subscriptions follow them (as in Dovecot).
 * Renaming INBOX moves its messages into a new mailbox to and leaves
 * INBOX empty (inferiors of INBOX do not move).  Returns STORE_OK,
 * STORE_IMAP_NONEXISTENT, STORE_IMAP_EXISTS, STORE_IMAP_BADNAME (also: to
 * inside from), STORE_IMAP_LIMIT, or a store_error. */
int store_mailbox_rename(struct store *st, const char *from, const char *to, const char **error_out);
/* Adds or removes a subscription; name need not exist.  Returns 0 or -1
 * (an invalid name, or more than STORE_MAILBOXES_MAX subscriptions).
 * Removing a name that is not subscribed is 0.  No change hook. */
int store_mailbox_subscribe(struct store *st, const char *name, bool subscribe, const char **error_out);
/* Once per user (remembered in the index): creates Drafts, Sent, Trash,
 * Junk and Archive with their SPECIAL-USE attributes, subscribed.  Later
 * calls do nothing, even if the user deleted them.  Returns 0 or -1. */
int store_ensure_default_mailboxes(struct store *st, const char **error_out);

/* --- messages --- */

/* A message's state as IMAP sees it. */
struct store_imap_msg {
	uint32_t uid;
	uint32_t flags;                /* enum store_flag bits */
	uint64_t modseq;
	uint64_t size;
	int64_t internal_date;
	int64_t save_date;             /* when saved into the mailbox (RFC 8514); 0: not known (stored
	                                * before Tern kept it) */
	char *keywords;                /* space-separated, "" when none; malloc'd by the list functions */
	char *emailid;                 /* the row's EMAILID (a copy's: its original's), malloc'd; NULL:
	                                * made from file (store_imap_emailid) */
	char file[64];
};

/* RFC 8474 EMAILID of m, NUL-terminated in out (STORE_EMAILID_MAX + 1
 * octets): the one its row keeps, else "E" and its file name with '.' as
 * '-' (a file name is unique and never given again).  COPY gives the new
 * row the original's, MOVE keeps the row: the same message keeps its id
 * in every mailbox. */
#define STORE_EMAILID_MAX 80
void store_imap_emailid(const struct store_imap_msg *m, char *out);
/* RFC 8474 MAILBOXID: "M", the mailbox's UIDVALIDITY and its row id
 * (UIDVALIDITY is never given twice to one user and RENAME keeps both). */
#define STORE_MAILBOXID_MAX 40
void store_imap_mailboxid(uint32_t uidvalidity, int64_t id, char *out);

/* Every message of mailbox in UID order, with info.  *out malloc'd; free
 * with store_imap_msgs_free.  Returns STORE_OK, STORE_IMAP_NONEXISTENT or
 * STORE_ERR_TEMP. */
int store_imap_list(struct store *st, const char *mailbox, struct store_mailbox_info *info_out,
                    struct store_imap_msg **out, size_t *n_out, const char **error_out);
/* Keywords store_imap_view reports for one mailbox, at most. */
#define STORE_VIEW_KEYWORDS_MAX 256
/* What SELECT needs (store_imap_view.c): the UIDs in order (*uids_out
 * malloc'd), the sequence number of the first message without \Seen (0:
 * none) and the keywords in use, space-separated (*keywords_out malloc'd).
 * Returns STORE_OK, STORE_IMAP_NONEXISTENT or STORE_ERR_TEMP. */
int store_imap_view(struct store *st, const char *mailbox, struct store_mailbox_info *info_out, uint32_t **uids_out,
                    size_t *n_out, uint32_t *first_unseen_out, char **keywords_out, const char **error_out);

/* The messages of mailbox whose UID is in uids (sorted ascending, n of
 * them) that still exist, in UID order.  Returns as store_imap_list. */
int store_imap_get(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
                   struct store_imap_msg **out, size_t *n_out, const char **error_out);
void store_imap_msgs_free(struct store_imap_msg *m, size_t n);

/* What changed in mailbox after modseq: messages (new or with new flags)
 * whose MODSEQ is greater, in UID order, and UIDs expunged with a greater
 * MODSEQ (ascending).  info_out is the mailbox's state read in the same
 * transaction.  Free changed with store_imap_msgs_free, *vanished_out
 * with free().  Returns as store_imap_list. */
int store_imap_changes(struct store *st, const char *mailbox, uint64_t modseq,
                       struct store_mailbox_info *info_out, struct store_imap_msg **changed_out,
                       size_t *n_changed_out, uint32_t **vanished_out, size_t *n_vanished_out,
                       const char **error_out);

/* What delivery cached for a message: ENVELOPE, BODYSTRUCTURE (extended),
 * BODY (non-extended) exactly as FETCH sends them, the size of the
 * message's header (offset of its body, blank line included) and the Date
 * header as unix time (0 when missing or unparsable) with the zone it was
 * written in (SENT* search compares the date as written).  Messages stored
 * before the cache existed, or before it kept the zone, are parsed now and
 * the cache is filled.  Pointers valid until the next call on st.  Returns STORE_OK,
 * STORE_IMAP_NONEXISTENT (no such message), or STORE_ERR_TEMP. */
struct store_msg_cached {
	const char *envelope;
	const char *bodystructure;
	const char *body;
	uint64_t header_size;
	int64_t sent_date;
	int32_t sent_zone;             /* the Date header's zone, seconds east of UTC */
};
int store_msg_cached(struct store *st, const char *mailbox, uint32_t uid, struct store_msg_cached *out,
                     const char **error_out);

/* ADDED by the store helper (optional; nothing else needs it): a read
 * batch.  Each read call on its own is one SQLite read transaction, and
 * starting one costs ~5 us of file locking, more than the lookup itself
 * (FETCH 1:* (ENVELOPE) over 100,000 messages: ~800 ms one by one, ~150 ms
 * in a batch).  Between store_read_begin and store_read_end every read on
 * st (store_msg_cached, store_imap_get, store_fts_search, ...) shares one
 * snapshot; any write on st ends the batch first (later reads are then
 * ordinary ones).  Wrap the per-message loop of one FETCH or SEARCH batch
 * and end it before answering: a batch left open while the session idles
 * keeps SQLite from checkpointing the WAL, which then grows with every
 * delivery.  store_read_begin returns 0 or -1 (st inside a write: not
 * allowed); store_read_end accepts a closed batch.  store_close ends it. */
int store_read_begin(struct store *st, const char **error_out);
void store_read_end(struct store *st);

/* Flag changes (STORE, UID STORE; RFC 9051 6.4.6, RFC 7162 3.1.3). */
enum store_flags_mode { STORE_FLAGS_SET, STORE_FLAGS_ADD, STORE_FLAGS_REMOVE };
struct store_flags_change {
	enum store_flags_mode mode;
	uint32_t flags;                /* enum store_flag bits */
	const char *keywords;          /* space-separated, may be "" */
	uint64_t unchangedsince;       /* 0: no condition */
};
/* Applies ch to the listed UIDs (ascending) in one transaction; messages
 * whose flags do not change keep their MODSEQ.  (Store helper's notes:
 * STORE_IMAP_BADNAME for a keyword that is not an atom or starts with
 * '\\', or flag bits outside enum store_flag.  unchangedsince 0 means no
 * condition, so the session answers UNCHANGEDSINCE 0 itself: every
 * existing message fails it, RFC 7162 3.1.3.)  *changed_out: the messages
 * that now carry a new MODSEQ, with their new state; *failed_out: UIDs
 * whose MODSEQ was above unchangedsince (not changed, RFC 7162 MODIFIED).
 * Both malloc'd.  Returns STORE_OK, STORE_IMAP_NONEXISTENT,
 * STORE_IMAP_LIMIT (too many keywords) or a store_error. */
int store_imap_flags(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
                     const struct store_flags_change *ch, struct store_imap_msg **changed_out,
                     size_t *n_changed_out, uint32_t **failed_out, size_t *n_failed_out,
                     const char **error_out);

/* One message for APPEND: a committed spool file (store_spool_commit). */
struct store_append {
	struct store_spool *spool;
	uint32_t flags;
	const char *keywords;          /* space-separated or "" */
	int64_t internal_date;
	uint32_t uid_out;
};
/* Appends n messages to mailbox, all or none (MULTIAPPEND), durably,
 * parsing each for the ENVELOPE/BODYSTRUCTURE cache and the full-text
 * index.  (Also STORE_IMAP_BADNAME / STORE_IMAP_LIMIT for keywords, as
 * store_imap_flags.)  quota_bytes / quota_messages: the user's limits (0: none);
 * going over either is STORE_ERR_QUOTA.  *uidvalidity_out for APPENDUID.
 * Returns STORE_OK, STORE_IMAP_NONEXISTENT, or a store_error. */
int store_imap_append(struct store *st, const char *mailbox, struct store_append *a, size_t n,
                      uint64_t quota_bytes, uint64_t quota_messages, uint32_t *uidvalidity_out,
                      const char **error_out);

/* One message for store_imap_import: a committed spool file and the
 * identity it had on the server it comes from. */
struct store_import {
	struct store_spool *spool;
	uint32_t uid;                  /* kept (1 and up) */
	uint32_t flags;                /* enum store_flag bits */
	const char *keywords;          /* space-separated or "" */
	int64_t internal_date;
	const char *pop3_uidl;         /* the UIDL POP3 serves for it; NULL: Tern's own */
	bool skipped_out;              /* set: its UID was given out already, not added */
};
/* Imports n messages into mailbox (an existing one) in one transaction,
 * keeping their UIDs (ascending) and the other server's UIDVALIDITY: a
 * mailbox without messages takes uidvalidity (and forgets its expunged
 * UIDs); one holding messages under another UIDVALIDITY is
 * STORE_IMAP_UIDVALIDITY, and nothing changes.  A message whose UID is
 * below the mailbox's UIDNEXT was imported already (or its UID given out):
 * it is skipped (skipped_out), so importing again adds nothing.  UIDNEXT
 * becomes above every UID added, and at least uidnext (0: no bound).  A
 * folder imported in several batches gives uidnext 0 to each and its
 * final UIDNEXT after them, with n 0: a batch that raised UIDNEXT to the
 * folder's end would make every later batch look imported already.  Quota as for
 * append (the messages added only).  Otherwise as store_imap_append: the
 * change hook, the cache, the full-text index.  Returns STORE_OK,
 * STORE_IMAP_NONEXISTENT, STORE_IMAP_UIDVALIDITY, STORE_IMAP_BADNAME (a
 * keyword or UIDL that is not valid, a UID 0), or a store_error. */
int store_imap_import(struct store *st, const char *mailbox, uint32_t uidvalidity, uint32_t uidnext,
                      struct store_import *m, size_t n, uint64_t quota_bytes, uint64_t quota_messages,
                      const char **error_out);

/* Copies (move false) or moves the listed UIDs (ascending) of from into
 * to, in one transaction; a move expunges them from from in the same
 * transaction (RFC 6851).  *src_uids_out / *dst_uids_out (malloc'd, *n_out
 * each) pair old and new UIDs for COPYUID, in source UID order; UIDs that
 * no longer exist are skipped.  Quota as for append (copies only).
 * Returns STORE_OK, STORE_IMAP_NONEXISTENT (to, with *to_missing true, or
 * from), or a store_error. */
int store_imap_copy(struct store *st, const char *from, const char *to, const uint32_t *uids, size_t n,
                    bool move, uint64_t quota_bytes, uint64_t quota_messages, uint32_t *uidvalidity_out,
                    uint32_t **src_uids_out, uint32_t **dst_uids_out, size_t *n_out,
                    bool *to_missing, const char **error_out);

/* EXPUNGE / UID EXPUNGE: removes the messages of mailbox flagged
 * \Deleted (only those in uids, ascending, when uids is not NULL) in one
 * transaction, recording them for VANISHED, then unlinks their files.
 * *expunged_out (malloc'd, may be NULL) gets their UIDs ascending
 * (expunged_out and n_out may themselves be NULL).
 * Returns STORE_OK, STORE_IMAP_NONEXISTENT or a store_error. */
int store_imap_expunge(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
                       uint32_t **expunged_out, size_t *n_out, const char **error_out);

/* Storage the user uses: octets of all messages in all mailboxes, and
 * their number (QUOTA, RFC 9208).  Returns 0 or -1. */
int store_usage(struct store *st, uint64_t *bytes_out, uint64_t *messages_out, const char **error_out);

/* URLAUTH mailbox access keys (RFC 4467 7, store_urlauth.c): one secret
 * per mailbox, kept in the index's meta table under the mailbox's id and
 * UIDVALIDITY, so a mailbox deleted and made again has none.  The store
 * only keeps them; the caller makes them (random) and uses them (HMAC). */
#define STORE_URLAUTH_KEY_LEN 32
/* The key of mailbox into key_out.  When it has none: with fresh (random
 * bytes of STORE_URLAUTH_KEY_LEN) it becomes the key, without it the
 * answer is STORE_IMAP_NONEXISTENT.  Returns STORE_OK,
 * STORE_IMAP_NONEXISTENT (no such mailbox, or no key) or STORE_ERR_TEMP. */
int store_urlauth_key(struct store *st, const char *mailbox, const uint8_t *fresh, uint8_t *key_out,
                      const char **error_out);
/* Forgets the key of mailbox, or of every mailbox (mailbox NULL): URLs
 * made with it stop working (RESETKEY).  Returns STORE_OK,
 * STORE_IMAP_NONEXISTENT or STORE_ERR_TEMP. */
int store_urlauth_reset(struct store *st, const char *mailbox, const char **error_out);

#endif
