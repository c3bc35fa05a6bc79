/* Full-text search: an FTS5 table in the user's index.db.
 *
 * Tables.
 *   fts_text(header, body)  FTS5, tokenize 'trigram case_sensitive 0'; one
 *                           row ("document") per distinct indexed message
 *                           text; the rowid is the document id.
 *   fts_map(mailbox_id, uid -> doc)  which message shows which document.
 * COPY and MOVE add an fts_map row pointing at the same document, so a
 * copy is neither decoded nor tokenized again and its text is stored once;
 * a document goes when its last fts_map row goes.
 *
 * Why a regular FTS5 table (it stores the text in its %_content shadow
 * table) and not a contentless or external-content one: SQLite 3.40's
 * contentless tables cannot delete rows (contentless_delete came in 3.43)
 * without being handed the original text, which would mean reading and
 * decoding the message file again at every EXPUNGE; and every candidate
 * is checked against the stored text (below).  External content would
 * need a second table holding the same text, for no gain.
 *
 * Why detail=none: the index then records which documents hold a trigram
 * and not where, which makes it about a third of the size of detail=full
 * and indexing about twice as fast (20,000 2-KiB messages: 95 MB index.db
 * with the text, against 195 MB), at the price of checking candidates.
 *
 * Matching.  A needle of 3 or more characters: FTS5 finds the documents
 * holding all of (up to FTS_QUERY_TRIGRAMS of) its trigrams, and each is
 * checked for the needle as a substring, both folded.  Shorter needles
 * make no trigram: every text of the mailbox is checked.  Folding is the
 * tokenizer's own (the check uses the tokenizer itself), FTS5's
 * sqlite3Fts5UnicodeFold without diacritic removal: simple one-to-one
 * lower-casing of Latin with its extensions, Greek (final sigma too),
 * Cyrillic, Armenian, Georgian, Deseret and fullwidth forms.  Not covered:
 * full case folding ("SS" does not match "ß"), Turkish dotted I,
 * Cherokee, and accents ("e" does not match "é", which is right for
 * IMAP).
 *
 * Transactions.  store_fts_index inserts into FTS5, which keeps the new
 * terms in memory until COMMIT; but in SQLite 3.40 any later statement of
 * the same transaction that opens a statement journal (an INSERT into a
 * table with triggers, such as messages) makes FTS5 write them out as a
 * segment of their own.  A batch (group commit, MULTIAPPEND, COPY) is
 * about 5 times cheaper when it writes its message rows first and calls
 * store_fts_index for all of them after.
 *
 * Keeping in step.  Before a search the mailbox's message and fts_map
 * counts are compared; messages without text (stored before the tables
 * existed, or by a path that skipped store_fts_index) are indexed from
 * their files then, and rows of vanished messages dropped.  Creating the
 * tables in an index that already holds messages indexes them all. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"
#include "mime/mime_text.h"
#include "store/store_fts.h"
#include "store/store_private.h"

/* Characters in the shortest needle FTS5 can answer (one trigram). */
#define FTS_TRIGRAM 3
/* Trigrams of a needle given to FTS5, and characters of the needle looked
 * at to choose them: more would only slow the query down, since every
 * candidate is checked against its text anyway. */
#define FTS_QUERY_TRIGRAMS 12
#define FTS_NEEDLE_CHARS_MAX 256

static const char fts_schema_sql[] =
	"CREATE VIRTUAL TABLE IF NOT EXISTS fts_text USING fts5(header, body,"
	" tokenize = 'trigram case_sensitive 0', detail = none, columnsize = 0);"
	"CREATE TABLE IF NOT EXISTS fts_map("
	" mailbox_id INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" doc INTEGER NOT NULL,"
	" PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS fts_map_doc ON fts_map(doc);";

/* Prepares sql (statements are not cached: struct store has no room for
 * ours, and a statement left open would keep store_close from closing). */
static sqlite3_stmt *
prep(struct store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_errorf(st, "fts: %s", sqlite3_errmsg(st->db));
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

/* Finalizes s, whose last step returned rc: 0 if that was SQLITE_DONE,
 * else -1 with the reason in st->errbuf. */
static int
finish(struct store *st, sqlite3_stmt *s, int rc, const char *what)
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
	return finish(st, s, sqlite3_step(s), what);
}

static int heal_locked(struct store *st, int64_t mailbox_id, int64_t limit);

/* Indexes the messages already in every mailbox (an index from before
 * full-text search).  Inside the schema's savepoint. */
static int
index_existing(struct store *st)
{
	sqlite3_stmt *s = prep(st, "SELECT id FROM mailboxes ORDER BY id");
	int64_t *ids = NULL;
	size_t n = 0, i;
	int rc, ret = 0;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		ids = xrealloc(ids, (n + 1) * sizeof(*ids));
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	ret = finish(st, s, rc, "schema");
	for (i = 0; i < n && ret == 0; i++)
		ret = heal_locked(st, ids[i], -1);
	free(ids);
	return ret;
}

int
store_fts_schema(struct store *st)
{
	sqlite3_stmt *s;
	int rc, n = 0;

	if ((s = prep(st, "SELECT count(*) FROM sqlite_master WHERE name IN"
			  " ('fts_text', 'fts_map', 'fts_map_doc')")) == NULL)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (n == 3)
		return 0;
	/* A savepoint works both inside the caller's transaction and alone;
	 * alone, the first CREATE takes the write lock (busy_timeout). */
	if (store_exec(st, "SAVEPOINT fts_schema") != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(st->db, fts_schema_sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		store_errorf(st, "fts schema: %s%s", sqlite3_errmsg(st->db),
			     sqlite3_libversion_number() < 3034000 ? " (SQLite 3.34 or later needed)" : "");
		goto fail;
	}
	if (index_existing(st) == -1)
		goto fail;
	if (store_exec(st, "RELEASE fts_schema") != SQLITE_OK)
		goto fail;
	return 0;
fail:
	sqlite3_exec(st->db, "ROLLBACK TO fts_schema; RELEASE fts_schema", NULL, NULL, NULL);
	return -1;
}

int
store_fts_delete(struct store *st, int64_t mailbox_id, uint32_t uid)
{
	sqlite3_stmt *s;
	int64_t doc = -1;
	int rc;

	if ((s = prep(st, "DELETE FROM fts_map WHERE mailbox_id = ?1 AND uid = ?2 RETURNING doc")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, uid);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		doc = sqlite3_column_int64(s, 0);
		rc = sqlite3_step(s);   /* (mailbox_id, uid) is the key: one row */
	}
	if (finish(st, s, rc, "delete") == -1)
		return -1;
	if (doc < 0)
		return 0;               /* never indexed */
	if ((s = prep(st, "DELETE FROM fts_text WHERE rowid = ?1"
			  " AND NOT EXISTS (SELECT 1 FROM fts_map WHERE doc = ?1)")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, doc);
	return run(st, s, "delete");
}

int
store_fts_index(struct store *st, int64_t mailbox_id, uint32_t uid, const char *msg, size_t len)
{
	struct arena *arena = arena_new(16384, false);
	struct buf header = BUF_INIT, body = BUF_INIT;
	struct mime_part *root;
	sqlite3_stmt *s;
	int64_t doc;
	int ret = -1;

	root = mime_parse(msg, len, arena);
	mime_text_extract(msg, len, root, STORE_FTS_TEXT_MAX, &header, &body);
	arena_free(&arena);
	/* a UID is never reused, but an index rebuilt over old rows may hold one */
	if (store_fts_delete(st, mailbox_id, uid) == -1)
		goto out;
	if ((s = prep(st, "INSERT INTO fts_text(header, body) VALUES(?1, ?2)")) == NULL)
		goto out;
	sqlite3_bind_text(s, 1, header.data, (int)header.len, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, body.data, (int)body.len, SQLITE_STATIC);
	if (run(st, s, "insert") == -1)
		goto out;
	doc = sqlite3_last_insert_rowid(st->db);
	if ((s = prep(st, "INSERT INTO fts_map(mailbox_id, uid, doc) VALUES(?1, ?2, ?3)")) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, doc);
	ret = run(st, s, "insert");
out:
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
	if ((s = prep(st, "INSERT INTO fts_map(mailbox_id, uid, doc)"
			  " SELECT ?3, ?4, doc FROM fts_map WHERE mailbox_id = ?1 AND uid = ?2")) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, from_mailbox_id);
	sqlite3_bind_int64(s, 2, from_uid);
	sqlite3_bind_int64(s, 3, to_mailbox_id);
	sqlite3_bind_int64(s, 4, to_uid);
	return run(st, s, "copy");
}

/* ---- keeping in step ---- */

struct uids {
	uint32_t *v;
	size_t n, cap;
};

static void
uids_add(struct uids *u, uint32_t uid)
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
	size_t len = strlen(file);
	struct stat sb;
	void *map = MAP_FAILED;
	int fd = -1, r;

	if (len > 0 && len <= STORE_FILE_NAME_MAX && file[0] != '.' && strchr(file, '/') == NULL)
		fd = openat(st->msg_dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size > 0)
		map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (fd >= 0)
		close(fd);
	if (map == MAP_FAILED)
		return store_fts_index(st, mailbox_id, uid, "", 0);
	r = store_fts_index(st, mailbox_id, uid, map, (size_t)sb.st_size);
	munmap(map, (size_t)sb.st_size);
	return r;
}

/* One value from a one-row query with ?1 = mailbox_id; INT64_MIN on
 * error (st->errbuf). */
static int64_t
scalar(struct store *st, const char *sql, int64_t mailbox_id)
{
	sqlite3_stmt *s = prep(st, sql);
	int64_t v = INT64_MIN;
	int rc;

	if (s == NULL)
		return INT64_MIN;
	sqlite3_bind_int64(s, 1, mailbox_id);
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	else
		store_errorf(st, "fts: %s", sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	return v;
}

/* Indexes the messages of mailbox_id that have no text row and drops the
 * rows of messages that are gone.  Inside a write transaction. */
static int
heal_locked(struct store *st, int64_t mailbox_id, int64_t limit)
{
	struct uids gone = { NULL, 0, 0 }, missing = { NULL, 0, 0 };
	struct buf files = BUF_INIT;    /* NUL-separated, in the order of missing */
	const char *f;
	sqlite3_stmt *s;
	int ret = -1, rc;
	size_t i;

	s = prep(st, "SELECT uid, file FROM messages m WHERE mailbox_id = ?1 AND NOT EXISTS"
		     " (SELECT 1 FROM fts_map WHERE mailbox_id = ?1 AND uid = m.uid) ORDER BY uid LIMIT ?2");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *file = (const char *)sqlite3_column_text(s, 1);
		uids_add(&missing, (uint32_t)sqlite3_column_int64(s, 0));
		buf_append(&files, file != NULL ? file : "", file != NULL ? strlen(file) + 1 : 1);
	}
	if (finish(st, s, rc, "heal") == -1)
		goto out;
	s = prep(st, "SELECT uid FROM fts_map f WHERE mailbox_id = ?1 AND NOT EXISTS"
		     " (SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uid = f.uid)");
	if (s == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, mailbox_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		uids_add(&gone, (uint32_t)sqlite3_column_int64(s, 0));
	if (finish(st, s, rc, "heal") == -1)
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

/* Makes sure every message of mailbox_id is indexed before a search:
 * messages stored before the index existed, or by a path that did not
 * call store_fts_index, are indexed now, in a transaction of their own
 * (or inside the caller's).  When in step this costs two counts (about
 * 1 ms for 20,000 messages). */
static int
heal(struct store *st, int64_t mailbox_id, int64_t limit)
{
	bool own;
	int64_t diff;

	/* one statement: both counts from one snapshot */
	diff = scalar(st, "SELECT (SELECT count(*) FROM messages WHERE mailbox_id = ?1)"
			  " - (SELECT count(*) FROM fts_map WHERE mailbox_id = ?1)", mailbox_id);
	if (diff == 0)
		return 0;
	if (diff == INT64_MIN)
		return -1;
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

/* ---- search ---- */

/* Folding: the trigram tokenizer folds each character on its own, so the
 * folded form of a text is the first character of each of its trigrams
 * (padded with two characters that fold to themselves). */
struct fold {
	fts5_tokenizer api;
	Fts5Tokenizer *tok;
	struct buf pad;         /* scratch: a run of non-ASCII text + padding */
};

static int
fold_token(void *ctx, int flags, const char *token, int n, int start, int end)
{
	struct buf *out = ctx;
	unsigned char c = (unsigned char)token[0];
	int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

	buf_append(out, token, (size_t)(len < n ? len : n));
	return SQLITE_OK;
}

static int
fold_open(struct store *st, struct fold *f)
{
	static const char *const args[] = { "case_sensitive", "0" };
	fts5_api *api = NULL;
	sqlite3_stmt *s;
	void *ud = NULL;

	memset(f, 0, sizeof(*f));
	if ((s = prep(st, "SELECT fts5(?1)")) == NULL)
		return -1;
	sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(s);
	sqlite3_finalize(s);
	if (api == NULL || api->xFindTokenizer(api, "trigram", &ud, &f->api) != SQLITE_OK ||
	    f->api.xCreate(ud, (const char **)args, 2, &f->tok) != SQLITE_OK) {
		store_errorf(st, "fts: no trigram tokenizer");
		return -1;
	}
	return 0;
}

static void
fold_close(struct fold *f)
{
	if (f->tok != NULL)
		f->api.xDelete(f->tok);
	buf_free(&f->pad);
}

/* Appends the folded form of n octets at s to out.  ASCII is folded here
 * (the tokenizer maps exactly A-Z to a-z there); runs of other characters
 * go through the tokenizer. */
static void
fold_text(struct fold *f, const char *s, size_t n, struct buf *out)
{
	size_t i = 0, j;

	while (i < n) {
		const unsigned char *p = (const unsigned char *)s + i;
		char *o = buf_reserve(out, n - i);
		size_t k = 0;

		/* the ASCII run: copied with A-Z lowered */
		while (i + k < n && p[k] < 0x80) {
			unsigned char c = p[k];
			o[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		out->len += k;
		i += k;
		if (i == n)
			break;
		for (j = i; j < n && (unsigned char)s[j] >= 0x80; j++)
			;
		buf_reset(&f->pad);
		buf_append(&f->pad, s + i, j - i);
		buf_append(&f->pad, "\x01\x01", 2);
		f->api.xTokenize(f->tok, out, FTS5_TOKENIZE_DOCUMENT, f->pad.data, (int)f->pad.len,
				 fold_token);
		i = j;
	}
	buf_append(out, "", 0);
}

/* Number of UTF-8 characters in s (continuation octets not counted). */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Collects column 0 of every row of s (finalized here).  0 or -1. */
static int
collect(struct store *st, sqlite3_stmt *s, struct uids *u)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		uids_add(u, (uint32_t)sqlite3_column_int64(s, 0));
	return finish(st, s, rc, "search");
}

/* Only UIDs that are still messages count: a row the store forgot to
 * remove (or one of a deleted mailbox whose id came back) is ignored. */
#define FTS_LIVE " AND EXISTS (SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uid = m.uid)"

/* Appends the FTS5 query that finds the documents holding every trigram
 * of needle (at most FTS_QUERY_TRIGRAMS of them, spread over the needle:
 * any subset finds a superset, which the check then narrows).  With
 * detail=none FTS5 has no column filter: BODY candidates include texts
 * whose header alone matches, and the check drops them. */
static void
trigram_query(const char *needle, struct buf *q)
{
	size_t starts[FTS_NEEDLE_CHARS_MAX + 1], nchars = 0, k, i, pick;
	const char *p;

	for (p = needle; *p != '\0' && nchars <= FTS_NEEDLE_CHARS_MAX; p++)
		if (((unsigned char)*p & 0xC0) != 0x80)
			starts[nchars++] = (size_t)(p - needle);
	if (nchars <= FTS_NEEDLE_CHARS_MAX)
		starts[nchars] = strlen(needle);
	else
		nchars--;       /* starts[nchars] ends the last character used */
	k = nchars - (FTS_TRIGRAM - 1);   /* trigrams in the needle, >= 1 */
	buf_puts(q, "(");
	for (i = 0; i < k && i < FTS_QUERY_TRIGRAMS; i++) {
		pick = k <= FTS_QUERY_TRIGRAMS ? i : i * (k - 1) / (FTS_QUERY_TRIGRAMS - 1);
		buf_puts(q, i > 0 ? " AND \"" : "\"");
		for (p = needle + starts[pick]; p < needle + starts[pick + FTS_TRIGRAM]; p++) {
			if (*p == '"')
				buf_append(q, "\"", 1);
			buf_append(q, p, 1);
		}
		buf_puts(q, "\"");
	}
	buf_puts(q, ")");
}

/* Runs the candidate statement s (uid, body[, header] per row, in UID
 * order; finalized here) and keeps the UIDs whose text holds the needle
 * once both are folded. */
static int
verify(struct store *st, sqlite3_stmt *s, const char *needle, struct uids *u)
{
	struct buf fneedle = BUF_INIT, ftext = BUF_INIT;
	struct fold f;
	int rc, ret = -1, col;

	if (fold_open(st, &f) == -1)
		goto out;
	fold_text(&f, needle, strlen(needle), &fneedle);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		for (col = 1; col < sqlite3_column_count(s); col++) {
			const char *t = (const char *)sqlite3_column_text(s, col);
			if (t == NULL)
				continue;
			buf_reset(&ftext);
			fold_text(&f, t, (size_t)sqlite3_column_bytes(s, col), &ftext);
			if (memmem(ftext.data, ftext.len, fneedle.data, fneedle.len) != NULL) {
				uids_add(u, (uint32_t)sqlite3_column_int64(s, 0));
				break;
			}
		}
	}
	if (rc != SQLITE_DONE) {
		store_errorf(st, "fts search: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	fold_close(&f);
	buf_free(&fneedle);
	buf_free(&ftext);
	return ret;
}

/* The texts to check: those FTS5 finds for a needle of a trigram or
 * more, else every text of the mailbox. */
static int
search(struct store *st, int64_t mailbox_id, const char *needle, size_t chars, bool body_only,
       struct uids *u)
{
	struct buf sql = BUF_INIT, q = BUF_INIT;
	sqlite3_stmt *s;
	int ret = -1;

	buf_puts(&sql, body_only ? "SELECT m.uid, f.body" : "SELECT m.uid, f.body, f.header");
	buf_puts(&sql, " FROM fts_map m JOIN fts_text f ON f.rowid = m.doc WHERE m.mailbox_id = ?1");
	if (chars >= FTS_TRIGRAM) {
		buf_puts(&sql, " AND m.doc IN (SELECT rowid FROM fts_text WHERE fts_text MATCH ?2)");
		trigram_query(needle, &q);
	}
	buf_puts(&sql, FTS_LIVE " ORDER BY m.uid");
	if ((s = prep(st, sql.data)) != NULL) {
		sqlite3_bind_int64(s, 1, mailbox_id);
		if (q.len > 0)
			sqlite3_bind_text(s, 2, q.data, (int)q.len, SQLITE_STATIC);
		ret = verify(st, s, needle, u);
	}
	buf_free(&sql);
	buf_free(&q);
	return ret;
}

int
store_fts_catch_up(struct store *st, int64_t mailbox_id, size_t batch, bool *done_out)
{
	int64_t diff;

	*done_out = false;
	if (heal(st, mailbox_id, (int64_t)batch) == -1)
		return -1;
	diff = scalar(st, "SELECT (SELECT count(*) FROM messages WHERE mailbox_id = ?1)"
			  " - (SELECT count(*) FROM fts_map WHERE mailbox_id = ?1)", mailbox_id);
	if (diff == INT64_MIN)
		return -1;
	*done_out = diff == 0;
	return 0;
}

int
store_fts_search(struct store *st, const char *mailbox, const char *needle, bool body_only,
		 uint32_t **uids_out, size_t *n_out, const char **error_out)
{
	struct store_mailbox_row row;
	struct uids u = { NULL, 0, 0 };
	struct buf n = BUF_INIT, raw = BUF_INIT;
	size_t chars, i;
	int r;

	*uids_out = NULL;
	*n_out = 0;
	if ((r = store_mailbox_get(st, mailbox, &row)) != 1) {
		if (r == 0)
			store_errorf(st, "no mailbox %s", mailbox);
		*error_out = st->errbuf;
		return -1;
	}
	if (heal(st, row.id, -1) == -1) {
		*error_out = st->errbuf;
		return -1;
	}
	/* the indexed text is valid UTF-8 with LF line ends: so is the
	 * needle (its character boundaries must be the tokenizer's) */
	for (i = 0; needle[i] != '\0'; i++)
		if (!(needle[i] == '\r' && needle[i + 1] == '\n'))
			buf_append(&raw, needle + i, 1);
	mime_charset_to_utf8("UTF-8", raw.data != NULL ? raw.data : "", raw.len, &n);
	buf_append(&n, "", 0);
	buf_free(&raw);
	chars = utf8_chars(n.data);
	if (chars == 0) {
		/* every text contains the empty string */
		sqlite3_stmt *s = prep(st, "SELECT uid FROM messages WHERE mailbox_id = ?1 ORDER BY uid");
		r = -1;
		if (s != NULL) {
			sqlite3_bind_int64(s, 1, row.id);
			r = collect(st, s, &u);
		}
	} else {
		r = search(st, row.id, n.data, chars, body_only, &u);
	}
	buf_free(&n);
	if (r == -1) {
		free(u.v);
		*error_out = st->errbuf;
		return -1;
	}
	if (u.v == NULL)
		u.v = xmalloc(sizeof(*u.v));   /* a real allocation even when empty */
	*uids_out = u.v;
	*n_out = u.n;
	return 0;
}
