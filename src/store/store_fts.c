/* Full-text search: an FTS5 index in the user's index.db that stores no
 * text (store_fts_search.c answers the queries).
 *
 * Tables (schema 3).
 *   fts_idx(text)  FTS5, content='' (contentless), tokenize 'trigram
 *                  case_sensitive 0', detail=none, columnsize=0.  Two rows
 *                  per indexed message ("document" d): rowid 2d holds its
 *                  header text, rowid 2d+1 its body text (mime_text.h),
 *                  each followed by FTS_PAD.  Only the trigram index is
 *                  stored: which rows hold which trigram.
 *   fts_map(mailbox_id, uid -> doc)  which message shows which document.
 *                  COPY and MOVE add a row pointing at the same document,
 *                  so a copy is neither decoded nor tokenized again.
 *   meta           fts_next_doc (document ids are never reused), fts_docs
 *                  (documents in fts_idx), fts_dead (documents in fts_idx
 *                  no fts_map row names any more), fts_unmerged
 *                  (documents added since the last full merge), and while
 *                  they last
 *                  fts_vacuum (a VACUUM is due after the migration) and
 *                  fts_rebuild / fts_rebuilt (a compaction's progress).
 *
 * Why contentless.  Schema 2 kept a regular FTS5 table, which stores every
 * text a second time in its %_content table: index.db grew as fast as msg/
 * (one user: msg/ 196 MB, index.db 190 MB).  The text is in the message
 * files already, which never change; the index keeps only the trigrams
 * (about 0.45 octets per octet of text, detail=none), and a search that
 * must look at the text reads the message file (store_fts_search.c).
 *
 * Why header and body as two rows and not two columns: with detail=none
 * FTS5 cannot filter by column, so SEARCH BODY would have to read the file
 * of every message whose header alone matches; detail=column can, but
 * costs 2.6 times the space.  Two rows cost the same as one.
 *
 * Deleting.  SQLite 3.40 (Debian 12) cannot delete a row of a contentless
 * table without being handed its text again (contentless_delete=1 came in
 * 3.43), and by then the file may be gone.  So an EXPUNGE deletes only the
 * fts_map row: a document no row names is dead, and dead documents are
 * never answers, because every query goes through fts_map and the
 * messages table.  This makes an expunge cheap and nearly free of new
 * disk pages, which matters when the disk is full (lib/reserve.h).  Dead
 * documents still take room, so when they are a third of the index (and
 * at least FTS_COMPACT_MIN), the indexer thread compacts: it builds
 * fts_new from the live documents' message files, FTS_REBUILD_BATCH
 * documents per transaction (a delivery waits at most one batch), while
 * fts_idx keeps answering; documents indexed meanwhile have higher ids and
 * are reached in turn; the last batch drops fts_idx and renames fts_new in
 * the same transaction.  A crash at any point leaves a consistent index
 * and, at worst, a half-built fts_new that the next step continues.
 * Freed pages go back to the file system (auto_vacuum=INCREMENTAL).
 *
 * Migration from schema 2 (in store_index.c's schema transaction, so all
 * or nothing): the old fts_text and fts_map are dropped and the new tables
 * created; every message is then "not yet indexed", which the indexer
 * thread and the search already handle (a search indexes what is missing
 * first, or reads the files when it cannot write).  The dropped text
 * leaves free pages in index.db, which one VACUUM (run later by the
 * indexer thread, fts_vacuum) gives back, switching the file to
 * auto_vacuum=INCREMENTAL on the way.  Nothing for the user to do.
 *
 * Transactions.  store_fts_index inserts into FTS5, which keeps the new
 * terms in memory until COMMIT; but in SQLite 3.40 any later statement of
 * the same transaction that opens a statement journal (an INSERT into a
 * table with triggers, such as messages) makes FTS5 write them out as a
 * segment of their own.  A batch writes its message rows first and calls
 * store_fts_index for all of them after.
 *
 * Keeping in step.  Before a search the mailbox's message and fts_map
 * counts are compared; messages without text (stored before the tables
 * existed, by a path that skipped store_fts_index, or while the disk was
 * full) are indexed from their files then, and rows of vanished messages
 * dropped. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/reserve.h"
#include "lib/xalloc.h"
#include "mime/mime.h"
#include "mime/mime_text.h"
#include "store/store_fts.h"
#include "store/store_fts_private.h"

/* Compaction starts when dead documents are at least this many and at
 * least 1/FTS_COMPACT_DIV of all documents: the index is then at most 1.5
 * times its live size. */
#define FTS_COMPACT_MIN 64
#define FTS_COMPACT_DIV 3
/* Documents indexed from their files per compaction transaction. */
#define FTS_REBUILD_BATCH 200
/* FTS5 writes each transaction's new rows as a segment of their own and
 * merges them by levels; one merged segment is about 20% smaller (every
 * trigram's term is stored once, not once per segment).  When documents
 * added since the last full merge are at least FTS_MERGE_MIN and a
 * 1/FTS_MERGE_DIV of the index, upkeep merges everything into one segment,
 * FTS_MERGE_PAGES leaf pages per transaction. */
#define FTS_MERGE_MIN 64
#define FTS_MERGE_DIV 8
#define FTS_MERGE_PAGES 2000
/* Pages given back per incremental_vacuum transaction, and free pages
 * (at least this many, and an eighth of the file) worth giving back. */
#define FTS_SHRINK_PAGES 1024
#define FTS_SHRINK_MIN_PAGES 64

#define FTS_TABLE_ARGS \
	" USING fts5(text, content = '', tokenize = 'trigram case_sensitive 0', detail = none, columnsize = 0)"

static const char fts_schema_sql[] =
	"DROP TABLE IF EXISTS fts_text;"       /* schema 2: the text was stored */
	"DROP TABLE IF EXISTS fts_new;"
	"DROP TABLE IF EXISTS fts_idx;"
	"DROP TABLE IF EXISTS fts_map;"
	"CREATE VIRTUAL TABLE fts_idx" FTS_TABLE_ARGS ";"
	"CREATE TABLE fts_map("
	" mailbox_id INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" doc INTEGER NOT NULL,"
	" PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX fts_map_doc ON fts_map(doc);"
	"DELETE FROM meta WHERE key IN ('fts_rebuild', 'fts_rebuilt');"
	"INSERT OR REPLACE INTO meta(key, value) VALUES ('fts_next_doc', 1), ('fts_docs', 0), ('fts_dead', 0),"
	" ('fts_unmerged', 0);";

sqlite3_stmt *
fts_prep(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_errorf(st, "fts: %s", sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

int
fts_finish(struct store *st, sqlite3_stmt *s, int rc, const char *what)
{
	if (rc != SQLITE_DONE)
		store_errorf(st, "fts %s: %s", what, sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Steps a statement that returns no row and finalizes it.  0 or -1. */
static int
run(struct store *st, sqlite3_stmt *s, const char *what)
{
	return fts_finish(st, s, sqlite3_step(s), what);
}

/* One integer from a one-row statement (finalized here); dflt when it
 * returns no row, INT64_MIN on error (st->errbuf). */
static int64_t
scalar(struct store *st, sqlite3_stmt *s, int64_t dflt)
{
	int64_t v = dflt;
	int rc;

	if (s == NULL)
		return INT64_MIN;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE) {
		store_errorf(st, "fts: %s", sqlite3_errmsg(st->db));
		v = INT64_MIN;
	}
	sqlite3_finalize(s);
	return v;
}

/* A meta value: dflt when absent, INT64_MIN on error. */
static int64_t
meta_get(struct store *st, const char *key, int64_t dflt)
{
	sqlite3_stmt *s = fts_prep(st, "SELECT value FROM meta WHERE key = ?1");

	if (s != NULL)
		sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	return scalar(st, s, dflt);
}

static int
meta_set(struct store *st, const char *key, int64_t value)
{
	sqlite3_stmt *s = fts_prep(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)");

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, value);
	return run(st, s, "meta");
}

static bool
compaction_due(int64_t dead, int64_t docs)
{
	return dead >= FTS_COMPACT_MIN && dead * FTS_COMPACT_DIV >= docs;
}

/* Has the indexer thread look at every mailbox of st (after a migration
 * left them all unindexed). */
static void
note_all(struct store *st)
{
	sqlite3_stmt *s = fts_prep(st, "SELECT id FROM mailboxes");

	if (s == NULL)
		return;
	while (sqlite3_step(s) == SQLITE_ROW)
		store_fts_async_note(st->data_dir, st->user, sqlite3_column_int64(s, 0));
	sqlite3_finalize(s);
}

int
store_fts_schema(struct store *st)
{
	sqlite3_stmt *s;
	int64_t n, old;

	s = fts_prep(st, "SELECT count(*) FROM sqlite_master WHERE name IN ('fts_idx', 'fts_map', 'fts_map_doc')"
			 " OR (name = 'meta' AND EXISTS (SELECT 1 FROM meta WHERE key = 'fts_next_doc'))");
	if ((n = scalar(st, s, 0)) == INT64_MIN)
		return -1;
	if (n == 4)
		return 0;
	old = scalar(st, fts_prep(st, "SELECT count(*) FROM sqlite_master WHERE name = 'fts_text'"), 0);
	if (old == INT64_MIN)
		return -1;
	/* A savepoint works both inside the caller's transaction (the schema
	 * migration) and alone; alone, it takes the write lock. */
	if (store_exec(st, "SAVEPOINT fts_schema") != SQLITE_OK)
		return -1;
	if (sqlite3_exec(st->db, fts_schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_errorf(st, "fts schema: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	if (old > 0 && meta_set(st, "fts_vacuum", 1) == -1)
		goto fail;
	if (store_exec(st, "RELEASE fts_schema") != SQLITE_OK)
		goto fail;
	note_all(st);
	return 0;
fail:
	sqlite3_exec(st->db, "ROLLBACK TO fts_schema; RELEASE fts_schema", NULL, NULL, NULL);
	return -1;
}

int
store_fts_delete(struct store *st, int64_t mailbox_id, uint32_t uid)
{
	sqlite3_stmt *s;
	int64_t doc = -1, dead = -1, docs = 0;
	int rc;

	if ((s = fts_prep(st, "DELETE FROM fts_map WHERE mailbox_id = ?1 AND uid = ?2 RETURNING doc")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, uid);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		doc = sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);   /* (mailbox_id, uid) is the key: one row */
	}
	if (fts_finish(st, s, rc, "delete") == -1)
		return -1;
	if (doc < 0)
		return 0;               /* never indexed */
	/* The document stays in fts_idx (see above); count it dead when this
	 * was its last row. */
	if ((s = fts_prep(st, "UPDATE meta SET value = value + 1 WHERE key = 'fts_dead'"
			      " AND NOT EXISTS (SELECT 1 FROM fts_map WHERE doc = ?1)"
			      " RETURNING value, (SELECT value FROM meta WHERE key = 'fts_docs')")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, doc);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		dead = sqlite3_column_int64(s, 0);
		docs = sqlite3_column_int64(s, 1);
		rc = sqlite3_step(s);
	}
	if (fts_finish(st, s, rc, "delete") == -1)
		return -1;
	/* Before COMMIT, but the indexer waits for the write lock, and finds
	 * nothing to do if this transaction is rolled back. */
	if (compaction_due(dead, docs))
		store_fts_async_note(st->data_dir, st->user, 0);
	return 0;
}

/* Inserts text (text->len octets, FTS_PAD appended here) as rowid of
 * table.  Empty texts are not inserted: they hold no trigram. */
static int
insert_text(struct store *st, const char *table, int64_t rowid, struct buf *text)
{
	char sql[64];
	sqlite3_stmt *s;

	if (text->len == 0)
		return 0;
	buf_append(text, FTS_PAD, 2);
	snprintf(sql, sizeof(sql), "INSERT INTO %s(rowid, text) VALUES(?1, ?2)", table);
	if ((s = fts_prep(st, sql)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, rowid);
	sqlite3_bind_text(s, 2, text->data, (int)text->len, SQLITE_STATIC);
	return run(st, s, "insert");
}

/* Indexes header and body (consumed) as a new document of mailbox_id/uid. */
static int
index_texts(struct store *st, int64_t mailbox_id, uint32_t uid, struct buf *header, struct buf *body)
{
	sqlite3_stmt *s;
	int64_t doc = -1;
	int rc;

	/* a UID is never reused, but an index rebuilt over old rows may hold one */
	if (store_fts_delete(st, mailbox_id, uid) == -1)
		return -1;
	if ((s = fts_prep(st, "UPDATE meta SET value = value + 1 WHERE key IN ('fts_next_doc', 'fts_docs', 'fts_unmerged')"
			      " RETURNING key = 'fts_next_doc', value - 1")) == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		if (sqlite3_column_int(s, 0))
			doc = sqlite3_column_int64(s, 1);
	if (fts_finish(st, s, rc, "insert") == -1)
		return -1;
	if (doc < 1) {
		store_errorf(st, "fts: no fts_next_doc in meta");
		return -1;
	}
	if (insert_text(st, "fts_idx", 2 * doc, header) == -1 || insert_text(st, "fts_idx", 2 * doc + 1, body) == -1)
		return -1;
	if ((s = fts_prep(st, "INSERT INTO fts_map(mailbox_id, uid, doc) VALUES(?1, ?2, ?3)")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, doc);
	return run(st, s, "insert");
}

int
store_fts_index(struct store *st, int64_t mailbox_id, uint32_t uid, const char *msg, size_t len)
{
	struct arena *arena = arena_new(16384, false);
	struct buf header = BUF_INIT, body = BUF_INIT;
	struct mime_part *root;
	int ret;

	root = mime_parse(msg, len, arena);
	mime_text_extract(msg, len, root, STORE_FTS_TEXT_MAX, &header, &body);
	arena_free(&arena);
	ret = index_texts(st, mailbox_id, uid, &header, &body);
	buf_free(&header);
	buf_free(&body);
	return ret;
}

int
store_fts_copy(struct store *st, int64_t from_mailbox_id, uint32_t from_uid, int64_t to_mailbox_id,
	       uint32_t to_uid)
{
	sqlite3_stmt *s;

	if (store_fts_delete(st, to_mailbox_id, to_uid) == -1)
		return -1;
	if ((s = fts_prep(st, "INSERT INTO fts_map(mailbox_id, uid, doc)"
			      " SELECT ?3, ?4, doc FROM fts_map WHERE mailbox_id = ?1 AND uid = ?2")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, from_mailbox_id);
	sqlite3_bind_int64(s, 2, from_uid);
	sqlite3_bind_int64(s, 3, to_mailbox_id);
	sqlite3_bind_int64(s, 4, to_uid);
	return run(st, s, "copy");
}

bool
fts_file_text(struct store *st, const char *file, struct buf *header, struct buf *body)
{
	size_t len = file != NULL ? strlen(file) : 0;
	struct arena *arena;
	struct stat sb;
	void *map = MAP_FAILED;
	int fd = -1;

	if (store_file_name_ok(file, len))
		fd = openat(st->msg_dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size > 0)
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (map == MAP_FAILED)
		return fd >= 0;         /* an empty file is read, and has no text */
	arena = arena_new(16384, false);
	mime_text_extract(map, (size_t)sb.st_size, mime_parse(map, (size_t)sb.st_size, arena), STORE_FTS_TEXT_MAX,
			  header, body);
	arena_free(&arena);
	munmap(map, (size_t)sb.st_size);
	return true;
}

/* ---- keeping in step ---- */

void
fts_uids_add(struct fts_uids *u, uint32_t uid)
{
	if (u->n == u->cap) {
		u->cap = u->cap == 0 ? 64 : u->cap * 2;
		u->v = xrealloc(u->v, u->cap * sizeof(*u->v));
	}
	u->v[u->n++] = uid;
}

/* Indexes the message file of mailbox_id/uid; a file that cannot be read
 * is indexed as empty (so it is not tried again at every search: message
 * files never change, and a missing one stays missing). */
static int
index_file(struct store *st, int64_t mailbox_id, uint32_t uid, const char *file)
{
	struct buf header = BUF_INIT, body = BUF_INIT;
	int r;

	fts_file_text(st, file, &header, &body);
	r = index_texts(st, mailbox_id, uid, &header, &body);
	buf_free(&header);
	buf_free(&body);
	return r;
}

/* messages minus fts_map rows of mailbox_id, from one snapshot. */
static int64_t
missing_count(struct store *st, int64_t mailbox_id)
{
	sqlite3_stmt *s = fts_prep(st, "SELECT (SELECT count(*) FROM messages WHERE mailbox_id = ?1)"
				       " - (SELECT count(*) FROM fts_map WHERE mailbox_id = ?1)");

	if (s != NULL)
		sqlite3_bind_int64(s, 1, mailbox_id);
	return scalar(st, s, INT64_MIN);
}

/* Indexes (at most limit, -1: all) messages of mailbox_id that have no
 * text row and drops the rows of messages that are gone.  Inside a write
 * transaction. */
static int
heal_locked(struct store *st, int64_t mailbox_id, int64_t limit)
{
	struct fts_uids gone = { NULL, 0, 0 }, missing = { NULL, 0, 0 };
	struct buf files = BUF_INIT;    /* NUL-separated, in the order of missing */
	const char *f;
	sqlite3_stmt *s;
	int ret = -1, rc;
	size_t i;

	s = fts_prep(st, "SELECT uid, file FROM messages m WHERE mailbox_id = ?1 AND NOT EXISTS"
			 " (SELECT 1 FROM fts_map WHERE mailbox_id = ?1 AND uid = m.uid) ORDER BY uid LIMIT ?2");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *file = (const char *)sqlite3_column_text(s, 1);
		fts_uids_add(&missing, (uint32_t)sqlite3_column_int64(s, 0));
		buf_append(&files, file != NULL ? file : "", file != NULL ? strlen(file) + 1 : 1);
	}
	if (fts_finish(st, s, rc, "heal") == -1)
		goto out;
	s = fts_prep(st, "SELECT uid FROM fts_map f WHERE mailbox_id = ?1 AND NOT EXISTS"
			 " (SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uid = f.uid)");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, mailbox_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		fts_uids_add(&gone, (uint32_t)sqlite3_column_int64(s, 0));
	if (fts_finish(st, s, rc, "heal") == -1)
		goto out;
	for (i = 0, f = files.data; i < missing.n; i++, f += strlen(f) + 1)
		if (index_file(st, mailbox_id, missing.v[i], f) == -1)
			goto out;
	for (i = 0; i < gone.n; i++)
		if (store_fts_delete(st, mailbox_id, gone.v[i]) == -1)
			goto out;
	ret = 0;
out:
	free(missing.v);
	free(gone.v);
	buf_free(&files);
	return ret;
}

/* Indexes what is missing in mailbox_id (at most limit messages, -1 all),
 * in a transaction of its own (or inside the caller's).  When in step
 * this costs two counts (about 1 ms for 20,000 messages).  Nothing is
 * written while the disk reserve is in use (lib/reserve.h). */
static int
heal(struct store *st, int64_t mailbox_id, int64_t limit)
{
	bool own;
	int64_t diff;

	if ((diff = missing_count(st, mailbox_id)) == 0)
		return 0;
	if (diff == INT64_MIN)
		return -1;
	if (!reserve_held(st->data_dir))
		return 0;
	/* A read batch (store_read_begin) is a read snapshot, which cannot
	 * become a write: end it, the healing writes on its own. */
	store_read_end(st);
	own = sqlite3_get_autocommit(st->db) != 0;
	if (store_exec(st, own ? "BEGIN IMMEDIATE" : "SAVEPOINT fts_heal") != SQLITE_OK)
		return -1;
	if (heal_locked(st, mailbox_id, limit) == -1) {
		if (own)
			store_rollback(st);
		else
			sqlite3_exec(st->db, "ROLLBACK TO fts_heal; RELEASE fts_heal", NULL, NULL, NULL);
		return -1;
	}
	if (store_exec(st, own ? "COMMIT" : "RELEASE fts_heal") != SQLITE_OK) {
		if (own)
			store_rollback(st);
		return -1;
	}
	return 0;
}

int
fts_heal_for_search(struct store *st, int64_t mailbox_id)
{
	int64_t diff = missing_count(st, mailbox_id);

	/* what the search indexed is for the indexer thread's upkeep too */
	if (diff > 0 && heal(st, mailbox_id, -1) == 0)
		store_fts_async_note(st->data_dir, st->user, 0);
	return 0;
}

int
store_fts_catch_up(struct store *st, int64_t mailbox_id, size_t batch, bool *done_out)
{
	int64_t diff;

	*done_out = false;
	if (!reserve_held(st->data_dir)) {
		*done_out = true;       /* the next delivery or search tries again */
		return 0;
	}
	if (heal(st, mailbox_id, (int64_t)batch) == -1)
		return -1;
	if ((diff = missing_count(st, mailbox_id)) == INT64_MIN)
		return -1;
	*done_out = diff == 0;
	return 0;
}

/* ---- upkeep: the VACUUM after the migration, compaction, free pages ---- */

/* One compaction batch (see the top of this file).  *more_out: not done. */
static int
compact_step(struct store *st, bool *more_out)
{
	struct buf files = BUF_INIT, header = BUF_INIT, body = BUF_INIT;
	int64_t cursor, rebuilt, *docs = NULL;
	size_t n = 0, i;
	sqlite3_stmt *s;
	const char *f;
	int rc;

	if (store_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK)
		return -1;
	if ((cursor = meta_get(st, "fts_rebuild", -1)) == INT64_MIN)
		goto fail;
	if (cursor < 0) {
		int64_t dead = meta_get(st, "fts_dead", 0), total = meta_get(st, "fts_docs", 0);

		if (dead == INT64_MIN || total == INT64_MIN)
			goto fail;
		if (!compaction_due(dead, total)) {
			store_rollback(st);
			return 0;
		}
		if (store_exec(st, "DROP TABLE IF EXISTS fts_new; CREATE VIRTUAL TABLE fts_new" FTS_TABLE_ARGS) !=
		            SQLITE_OK ||
		    meta_set(st, "fts_rebuild", 0) == -1 || meta_set(st, "fts_rebuilt", 0) == -1)
			goto fail;
		cursor = 0;
	}
	if ((rebuilt = meta_get(st, "fts_rebuilt", 0)) == INT64_MIN)
		goto fail;
	/* the next live documents, each with one of its files */
	s = fts_prep(st, "SELECT f.doc, min(m.file) FROM fts_map f JOIN messages m"
			 " ON m.mailbox_id = f.mailbox_id AND m.uid = f.uid"
			 " WHERE f.doc > ?1 GROUP BY f.doc ORDER BY f.doc LIMIT ?2");
	if (s == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, cursor);
	sqlite3_bind_int64(s, 2, FTS_REBUILD_BATCH);
	docs = xmalloc(FTS_REBUILD_BATCH * sizeof(*docs));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *file = (const char *)sqlite3_column_text(s, 1);

		docs[n++] = sqlite3_column_int64(s, 0);
		buf_append(&files, file != NULL ? file : "", file != NULL ? strlen(file) + 1 : 1);
	}
	if (fts_finish(st, s, rc, "compact") == -1)
		goto fail;
	for (i = 0, f = files.data; i < n; i++, f += strlen(f) + 1) {
		buf_reset(&header);
		buf_reset(&body);
		fts_file_text(st, f, &header, &body);
		if (insert_text(st, "fts_new", 2 * docs[i], &header) == -1 ||
		    insert_text(st, "fts_new", 2 * docs[i] + 1, &body) == -1)
			goto fail;
	}
	rebuilt += (int64_t)n;
	if (n == FTS_REBUILD_BATCH) {
		if (meta_set(st, "fts_rebuild", docs[n - 1]) == -1 || meta_set(st, "fts_rebuilt", rebuilt) == -1)
			goto fail;
		*more_out = true;
	} else {
		/* every live document is in fts_new: swap */
		int64_t live = scalar(st, fts_prep(st, "SELECT count(DISTINCT doc) FROM fts_map"), 0);

		if (live == INT64_MIN ||
		    store_exec(st, "DROP TABLE fts_idx; ALTER TABLE fts_new RENAME TO fts_idx;"
				   " DELETE FROM meta WHERE key IN ('fts_rebuild', 'fts_rebuilt')") != SQLITE_OK ||
		    meta_set(st, "fts_docs", rebuilt) == -1 || meta_set(st, "fts_unmerged", rebuilt) == -1 ||
		    meta_set(st, "fts_dead", rebuilt > live ? rebuilt - live : 0) == -1)
			goto fail;
		*more_out = true;       /* then the free pages */
	}
	if (store_exec(st, "COMMIT") != SQLITE_OK)
		goto fail;
	free(docs);
	buf_free(&files);
	buf_free(&header);
	buf_free(&body);
	return 0;
fail:
	store_rollback(st);
	free(docs);
	buf_free(&files);
	buf_free(&header);
	buf_free(&body);
	return -1;
}

/* One step of merging the index into one segment (see FTS_MERGE_MIN). */
static int
merge_step(struct store *st, bool *more_out)
{
	int64_t unmerged = meta_get(st, "fts_unmerged", 0), docs = meta_get(st, "fts_docs", 0);
	char sql[96];
	bool done;

	if (unmerged == INT64_MIN || docs == INT64_MIN)
		return -1;
	if (unmerged < FTS_MERGE_MIN || unmerged * FTS_MERGE_DIV < docs)
		return 0;
	if (store_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK)
		return -1;
	{
		int64_t before = sqlite3_total_changes64(st->db);

		snprintf(sql, sizeof(sql), "INSERT INTO fts_idx(fts_idx, rank) VALUES('merge', %d)", -FTS_MERGE_PAGES);
		if (store_exec(st, sql) != SQLITE_OK)
			goto fail;
		/* FTS5: fewer than 2 changes means there was nothing to merge */
		done = sqlite3_total_changes64(st->db) - before < 2;
	}
	if (done && meta_set(st, "fts_unmerged", 0) == -1)
		goto fail;
	if (store_exec(st, "COMMIT") != SQLITE_OK)
		goto fail;
	*more_out = true;
	return 0;
fail:
	store_rollback(st);
	return -1;
}

/* Gives free pages back to the file system, FTS_SHRINK_PAGES at a time,
 * when the index is auto_vacuum=INCREMENTAL and an eighth of it is free. */
static int
shrink_step(struct store *st, bool *more_out)
{
	int64_t mode = scalar(st, fts_prep(st, "PRAGMA auto_vacuum"), 0);
	int64_t free_pages = scalar(st, fts_prep(st, "PRAGMA freelist_count"), 0);
	int64_t pages = scalar(st, fts_prep(st, "PRAGMA page_count"), 0);
	char sql[64];

	if (mode == INT64_MIN || free_pages == INT64_MIN || pages == INT64_MIN)
		return -1;
	if (mode != 2 || free_pages < FTS_SHRINK_MIN_PAGES || free_pages * 8 < pages)
		return 0;
	snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%d)", FTS_SHRINK_PAGES);
	if (store_exec(st, sql) != SQLITE_OK)
		return -1;
	*more_out = free_pages > FTS_SHRINK_PAGES;
	return 0;
}

int
store_fts_maintain(struct store *st, bool *more_out)
{
	int64_t vacuum;

	*more_out = false;
	if (!reserve_held(st->data_dir))
		return 0;
	store_read_end(st);
	if ((vacuum = meta_get(st, "fts_vacuum", 0)) == INT64_MIN)
		return -1;
	if (vacuum > 0) {
		/* Rewrites the file without the pages the old text took, and
		 * makes it auto_vacuum=INCREMENTAL (store_index.c asks for it
		 * at every open; it takes effect here). */
		if (store_exec(st, "VACUUM") != SQLITE_OK)
			return -1;
		*more_out = true;
		return store_exec(st, "DELETE FROM meta WHERE key = 'fts_vacuum'") == SQLITE_OK ? 0 : -1;
	}
	if (compact_step(st, more_out) == -1)
		return -1;
	if (*more_out)
		return 0;
	if (merge_step(st, more_out) == -1)
		return -1;
	if (*more_out)
		return 0;
	return shrink_step(st, more_out);
}
