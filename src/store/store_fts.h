/* Full-text search over decoded message text (SEARCH BODY / TEXT, RFC
 * 9051 6.4.4): an SQLite FTS5 trigram index in the user's index.db that
 * stores no text (the text is read back from the message files when a
 * candidate must be checked), kept in step by the store itself: COPY/MOVE
 * and EXPUNGE change it in their own transaction; deliveries and APPENDs
 * are indexed just after their COMMIT by the indexer thread
 * (store_fts_async.c), and a search first indexes anything still missing
 * (or, when the disk is full, reads those messages' files), so its answer
 * is always complete (the callers of these functions are in src/store
 * only; IMAP calls store_fts_search).  Layout, deletion and compaction:
 * store_fts.c; queries: store_fts_search.c.
 *
 * What is indexed: the header fields' unfolded values with RFC 2047 words
 * decoded (for TEXT), and the text of every text/ part and of message/
 * parts' headers, with base64 and quoted-printable undone and the charset
 * converted to UTF-8 (for BODY and TEXT).  Attachments that are not text
 * are not indexed.  Matching is case-insensitive substring matching as RFC
 * 9051 asks, for needles of any length. */
#ifndef TERN_STORE_FTS_H
#define TERN_STORE_FTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Decoded text indexed per message, at most (the rest is not searchable;
 * Dovecot's fts caps similar amounts). */
#define STORE_FTS_TEXT_MAX (4u << 20)

/* Creates the FTS tables if missing or of schema 2 (dropping the old
 * ones: every message is then indexed again from its file, by the indexer
 * thread or the next search).  Called by the schema migration and by
 * store_open on every index (a cheap check).  Returns 0 or -1 (st's
 * errbuf). */
int store_fts_schema(struct store *st);
/* Indexes one message (len octets at msg, the whole file) as mailbox_id /
 * uid.  Call inside the caller's write transaction.  Returns 0 or -1. */
int store_fts_index(struct store *st, int64_t mailbox_id, uint32_t uid, const char *msg, size_t len);
/* Removes one message's row (its document stays in the index, dead, until
 * a compaction).  Writes no FTS5 page.  Inside the caller's transaction. */
int store_fts_delete(struct store *st, int64_t mailbox_id, uint32_t uid);
/* Copies a message's row to another mailbox/UID (COPY/MOVE) without
 * decoding again.  Inside the caller's transaction. */
int store_fts_copy(struct store *st, int64_t from_mailbox_id, uint32_t from_uid, int64_t to_mailbox_id,
                   uint32_t to_uid);

/* Indexes at most batch messages of mailbox_id that have no text row yet
 * (and drops rows of messages gone), in one write transaction.  *done_out
 * is true when nothing is left.  Returns 0 or -1. */
int store_fts_catch_up(struct store *st, int64_t mailbox_id, size_t batch, bool *done_out);

/* Index upkeep, one step per call, each its own transaction: the VACUUM
 * due after the migration from schema 2, a compaction batch when dead
 * documents reach a third of the index, or giving free pages back.
 * Nothing while the disk reserve is in use.  *more_out: call again.
 * Returns 0 or -1 (st's errbuf).  The indexer thread calls it. */
int store_fts_maintain(struct store *st, bool *more_out);

/* The indexer thread (store_fts_async.c): deliveries and APPENDs commit
 * without their full-text rows and note the mailbox here; one background
 * thread indexes them shortly after, a batch per transaction.  Without the
 * thread (tools, tests) the next SEARCH indexes them. */
void store_fts_async_start(void);
void store_fts_async_stop(void);
/* mailbox_id 0: upkeep only (store_fts_maintain). */
void store_fts_async_note(const char *data_dir, const char *user, int64_t mailbox_id);

/* The UIDs of mailbox whose text (body_only: body text only; else
 * headers and body) contains needle (UTF-8, any case), ascending in a
 * malloc'd array.  Returns 0, or -1 (st's errbuf). */
int store_fts_search(struct store *st, const char *mailbox, const char *needle, bool body_only,
                     uint32_t **uids_out, size_t *n_out, const char **error_out);

#endif
