/* The per-user index: data_dir/mail/<domain>/<local>/index.db, SQLite in
 * WAL mode with synchronous=FULL (a COMMIT returns after the WAL is
 * fsynced).  This file opens and closes it, creates and versions the
 * schema (PRAGMA user_version), keeps the prepared statements, and creates
 * mailboxes with their UIDVALIDITY.
 *
 * Counters.  UIDVALIDITY comes from the clock and is strictly increasing
 * per user (max(now, last + 1)), remembered per name in uidvalidity_used,
 * so a name deleted and created again never gets an old value back.  UIDs
 * come from mailboxes.uidnext and are never reused (expunge leaves uidnext
 * alone).  HIGHESTMODSEQ starts at 1 for an empty mailbox; every change
 * (delivery, flag change, expunge) takes highestmodseq + 1.
 *
 * Schema versions.  A new index is written as version 1 and then migrated
 * like an old one, so the migration runs on every new user and cannot rot.
 * Version 2 (IMAP) adds, in one transaction with ALTER TABLE:
 *   - meta(key, value): per-user facts ("defaults": the default mailboxes
 *     were created once);
 *   - subscriptions(name): LSUB / LIST (SUBSCRIBED), names need not exist
 *     (the v1 mailboxes.subscribed column is copied here and unused after);
 *   - mailboxes.messages and mailboxes.bytes, kept by triggers on messages,
 *     so STATUS MESSAGES/SIZE, EXISTS and quota usage read one row instead
 *     of summing 100,000 (SUM(size) over all messages was ~4 ms there);
 *   - partial indexes on unseen and \Deleted messages (STATUS UNSEEN,
 *     DELETED, first unseen, EXPUNGE);
 *   - msg_cache: what FETCH ENVELOPE / BODY / BODYSTRUCTURE and SEARCH SENT*
 *     need (the header size and Date header too), keyed by
 *     STORE_CACHE_KEY(mailbox, uid).  It is a table of its own, not columns
 *     of messages (the v1 envelope/bodystructure columns stay NULL): with
 *     ~1.5 KB of cache in each messages row, listing 100,000 messages
 *     (UID FETCH 1:* FLAGS) took 55 ms instead of 19 ms.
 * Version 3 replaces the full-text tables by an index without the text
 * (store_fts.c: the migration, and why).
 * Version 4 adds msg_cache.sent_zone (the Date header's zone), version 5
 * mailboxes.first_recent_uid (\Recent), version 6 messages.pop3_uidl,
 * version 7 makes messages a WITHOUT ROWID table (migrate_6_to_7),
 * version 8 adds the metadata table (RFC 5464, store_metadata.c),
 * version 9 messages.save_date (SAVEDATE, RFC 8514), version 10
 * messages.emailid (OBJECTID, RFC 8474: set by COPY only).
 * Version 11 msg_sort (the SORT and THREAD keys, store_sort.c).
 *
 * auto_vacuum=INCREMENTAL: a new index is created so, and an older one
 * becomes so at the VACUUM after its migration to version 3, so that
 * pages freed by expunges and by the full-text compaction can go back to
 * the file system (store_fts_maintain). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lib/limits.h"
#include "lib/reserve.h"
#include "lib/str.h"
#include "store/store_fts.h"
#include "store/store_private.h"

static const char schema_v1[] =
	"CREATE TABLE mailboxes("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL,"
	" special_use TEXT,"
	" subscribed INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE messages("
	" mailbox_id INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" keywords TEXT NOT NULL DEFAULT '',"
	" internal_date INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" file TEXT NOT NULL,"
	" envelope TEXT,"
	" bodystructure TEXT,"
	" PRIMARY KEY(mailbox_id, uid));"
	/* CONDSTORE: FETCH/SEARCH ... CHANGEDSINCE <modseq>. */
	"CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);"
	/* QRESYNC: VANISHED (EARLIER) needs the UIDs expunged since a modseq. */
	"CREATE TABLE expunged("
	" mailbox_id INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" PRIMARY KEY(mailbox_id, uid));"
	"CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);"
	/* The last UIDVALIDITY given to each name, kept after the mailbox goes. */
	"CREATE TABLE uidvalidity_used("
	" name TEXT PRIMARY KEY,"
	" uidvalidity INTEGER NOT NULL);"
	"PRAGMA user_version = 1;";

static const char migrate_1_to_2[] =
	"CREATE TABLE meta("
	" key TEXT PRIMARY KEY,"
	" value);"
	"CREATE TABLE subscriptions("
	" name TEXT PRIMARY KEY);"
	"INSERT INTO subscriptions(name) SELECT name FROM mailboxes WHERE subscribed;"
	"ALTER TABLE mailboxes ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE mailboxes ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;"
	"UPDATE mailboxes SET"
	" messages = (SELECT count(*) FROM messages WHERE mailbox_id = mailboxes.id),"
	" bytes = (SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = mailboxes.id);"
	"CREATE TABLE msg_cache("
	" id INTEGER PRIMARY KEY,"        /* STORE_CACHE_KEY(mailbox_id, uid) */
	" header_size INTEGER NOT NULL,"
	" sent_date INTEGER NOT NULL,"
	" envelope TEXT NOT NULL,"
	" bodystructure TEXT NOT NULL,"
	" body TEXT NOT NULL);"
	"CREATE INDEX messages_unseen ON messages(mailbox_id, uid) WHERE flags & 1 = 0;"
	"CREATE INDEX messages_deleted ON messages(mailbox_id, uid) WHERE flags & 8 <> 0;"
	"CREATE TRIGGER messages_count_insert AFTER INSERT ON messages BEGIN"
	" UPDATE mailboxes SET messages = messages + 1, bytes = bytes + NEW.size"
	" WHERE id = NEW.mailbox_id; END;"
	"CREATE TRIGGER messages_count_delete AFTER DELETE ON messages BEGIN"
	" UPDATE mailboxes SET messages = messages - 1, bytes = bytes - OLD.size"
	" WHERE id = OLD.mailbox_id;"
	" DELETE FROM msg_cache WHERE id = ((OLD.mailbox_id << 32) | OLD.uid); END;"
	"CREATE TRIGGER messages_count_move AFTER UPDATE OF mailbox_id, size ON messages BEGIN"
	" UPDATE mailboxes SET messages = messages - 1, bytes = bytes - OLD.size"
	" WHERE id = OLD.mailbox_id;"
	" UPDATE mailboxes SET messages = messages + 1, bytes = bytes + NEW.size"
	" WHERE id = NEW.mailbox_id; END;"
	"PRAGMA user_version = 2;";

/* Version 4: the Date header's zone beside its instant (seconds east of
 * UTC), for SEARCH SENT*, which compare the date as written (RFC 3501
 * 6.4.4).  Rows cached before have NULL there and are parsed again when
 * next asked for (store_msg_cached). */
static const char migrate_3_to_4[] =
	"ALTER TABLE msg_cache ADD COLUMN sent_zone INTEGER;";

/* Version 5: \Recent (RFC 3501 2.3.2).  first_recent_uid: the messages
 * from this UID on have not been seen by a read-write session yet
 * (store_imap_recent claims them).  New mailboxes start at 1; those of an
 * older index start at uidnext, so an upgrade makes nothing recent. */
static const char migrate_4_to_5[] =
	"ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER NOT NULL DEFAULT 1;"
	"UPDATE mailboxes SET first_recent_uid = uidnext;";

/* Version 6: a message's POP3 UIDL when it is not Tern's own (a message
 * imported from Dovecot keeps the one Dovecot showed: store_imap_import).
 * NULL for every other message. */
static const char migrate_5_to_6[] =
	"ALTER TABLE messages ADD COLUMN pop3_uidl TEXT;";

/* Version 7: messages clustered on its key.  Until 6 it was a rowid
 * table with an automatic index on (mailbox_id, uid), so reading a range
 * of UIDs (UID FETCH 1:* FLAGS, every client's folder sync) looked each
 * row up through the index; WITHOUT ROWID stores the rows in key order
 * and a range is read straight through (about 40% less time for 20,000
 * rows).  The unused v1 columns envelope and bodystructure are dropped on
 * the way.  The table's indexes and triggers are read from sqlite_master
 * before the copy and made again after it (rebuild_messages). */
static const char migrate_6_to_7[] =
	"CREATE TABLE messages_v7("
	" mailbox_id INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" keywords TEXT NOT NULL DEFAULT '',"
	" internal_date INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" file TEXT NOT NULL,"
	" pop3_uidl TEXT,"
	" PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
	"INSERT INTO messages_v7(mailbox_id, uid, modseq, flags, keywords, internal_date, size, file, pop3_uidl)"
	" SELECT mailbox_id, uid, modseq, flags, keywords, internal_date, size, file, pop3_uidl FROM messages;"
	"DROP TABLE messages;"
	"ALTER TABLE messages_v7 RENAME TO messages;";

/* Version 8: METADATA entries (RFC 5464; store_metadata.c), by mailbox
 * id (0 for the server's), so a rename keeps them and a trigger drops
 * them with their mailbox (RFC 5464 3.3: they go with it). */
static const char migrate_7_to_8[] =
	"CREATE TABLE IF NOT EXISTS metadata("
	" mailbox_id INTEGER NOT NULL,"
	" name TEXT NOT NULL,"
	" value BLOB NOT NULL,"
	" PRIMARY KEY(mailbox_id, name));"
	"CREATE TRIGGER IF NOT EXISTS mailboxes_metadata_delete AFTER DELETE ON mailboxes BEGIN"
	" DELETE FROM metadata WHERE mailbox_id = OLD.id; END;"
	"PRAGMA user_version = 8;";

/* Version 9: when the message was saved into its mailbox (RFC 8514
 * SAVEDATE), unix time, written by the INSERT and the MOVE below (so
 * delivery, APPEND, COPY, MOVE and import all set it).  NULL for the
 * messages stored before: FETCH SAVEDATE answers NIL for them. */
static const char migrate_8_to_9[] =
	"ALTER TABLE messages ADD COLUMN save_date INTEGER;";
#define SAVE_DATE_NOW "CAST(strftime('%s', 'now') AS INTEGER)"

/* Version 10: a message's EMAILID (RFC 8474) when it is not made from its
 * own file name, i.e. a copy's: COPY writes the original's there, so the
 * same message has the same EMAILID in every mailbox.  NULL otherwise. */
static const char migrate_9_to_10[] =
	"ALTER TABLE messages ADD COLUMN emailid TEXT;";

/* Version 11: the SORT and THREAD keys (store_sort.c), filled at delivery
 * and APPEND, and for older messages by the first SORT or THREAD that
 * needs them.  The triggers drop a row with its message and carry it
 * along a MOVE (an UPDATE of the message's mailbox and UID). */
static const char migrate_10_to_11[] =
	"CREATE TABLE IF NOT EXISTS msg_sort("
	" id INTEGER PRIMARY KEY,"        /* STORE_CACHE_KEY(mailbox_id, uid) */
	" sent_date INTEGER NOT NULL,"
	" reply INTEGER NOT NULL,"
	" subject TEXT NOT NULL,"
	" from_mbox TEXT NOT NULL,"
	" to_mbox TEXT NOT NULL,"
	" cc_mbox TEXT NOT NULL,"
	" from_display TEXT NOT NULL,"
	" to_display TEXT NOT NULL,"
	" message_id TEXT NOT NULL,"
	" refs TEXT NOT NULL);"
	"CREATE TRIGGER IF NOT EXISTS messages_sort_delete AFTER DELETE ON messages BEGIN"
	" DELETE FROM msg_sort WHERE id = ((OLD.mailbox_id << 32) | OLD.uid); END;"
	"CREATE TRIGGER IF NOT EXISTS messages_sort_move AFTER UPDATE OF mailbox_id, uid ON messages BEGIN"
	" DELETE FROM msg_sort WHERE id = ((NEW.mailbox_id << 32) | NEW.uid);"
	" UPDATE msg_sort SET id = ((NEW.mailbox_id << 32) | NEW.uid)"
	" WHERE id = ((OLD.mailbox_id << 32) | OLD.uid); END;"
	"PRAGMA user_version = 11;";

/* The columns store_imsg_push reads, in its order. */
#define IMSG_COLS "uid, flags, modseq, size, internal_date, keywords, file, save_date, emailid"

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_MAILBOX_GET] =
		"SELECT id, uidvalidity, uidnext, highestmodseq, messages, bytes, first_recent_uid FROM mailboxes"
		" WHERE name = ?1",
	[STMT_MAILBOX_SET_COUNTERS] =
		"UPDATE mailboxes SET uidnext = ?2, highestmodseq = ?3 WHERE id = ?1",
	[STMT_MAILBOX_INSERT] =
		"INSERT INTO mailboxes(name, uidvalidity, uidnext, highestmodseq, special_use)"
		" VALUES(?1, ?2, 1, 1, ?3)",
	[STMT_UIDVALIDITY_MAX] =
		"SELECT max(coalesce((SELECT max(uidvalidity) FROM uidvalidity_used), 0),"
		" coalesce((SELECT max(uidvalidity) FROM mailboxes), 0))",
	[STMT_UIDVALIDITY_REMEMBER] =
		"INSERT INTO uidvalidity_used(name, uidvalidity) VALUES(?1, ?2)"
		" ON CONFLICT(name) DO UPDATE SET uidvalidity = excluded.uidvalidity",
	[STMT_MSG_INSERT] =
		"INSERT INTO messages(mailbox_id, uid, modseq, flags, internal_date, size, file, keywords, pop3_uidl,"
		" save_date, emailid) VALUES(?1, ?2, ?3, ?7, ?4, ?5, ?6, coalesce(?8, ''), ?9, " SAVE_DATE_NOW ", ?10)",
	[STMT_MSG_LIST] =
		"SELECT uid, flags, modseq, size, internal_date, file, pop3_uidl FROM messages"
		" WHERE mailbox_id = ?1 ORDER BY uid",
	[STMT_MSG_COUNT] =
		"SELECT count(*) FROM messages WHERE mailbox_id = ?1",
	[STMT_MSG_GET] =
		"SELECT flags, modseq, file FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
	[STMT_MSG_DELETE] =
		"DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2 RETURNING file",
	/* ?3 the flag bits, ?4 the new modseq, ?5 1 to set or 0 to clear; a
	 * row whose flags would not change is not touched (changes() = 0). */
	[STMT_MSG_SET_FLAGS] =
		"UPDATE messages SET flags = (CASE WHEN ?5 THEN flags | ?3 ELSE flags & ~?3 END),"
		" modseq = ?4"
		" WHERE mailbox_id = ?1 AND uid = ?2"
		" AND flags <> (CASE WHEN ?5 THEN flags | ?3 ELSE flags & ~?3 END)",
	[STMT_EXPUNGED_INSERT] =
		"INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?1, ?2, ?3)",
	[STMT_FILES_ALL] =
		"SELECT file FROM messages ORDER BY file",

	[STMT_MBX_ENTRIES] =
		"SELECT name, special_use, subscribed, present FROM ("
		" SELECT m.name AS name, m.special_use AS special_use,"
		"  s.name IS NOT NULL AS subscribed, 1 AS present"
		"  FROM mailboxes m LEFT JOIN subscriptions s ON s.name = m.name"
		" UNION ALL"
		" SELECT s.name, NULL, 1, 0 FROM subscriptions s"
		"  WHERE NOT EXISTS (SELECT 1 FROM mailboxes m WHERE m.name = s.name))"
		" ORDER BY name <> 'INBOX', name",
	/* Each term matches a partial index's WHERE exactly. */
	[STMT_MBX_STATUS] =
		"SELECT (SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND flags & 1 = 0),"
		" (SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND flags & 8 <> 0),"
		" (SELECT min(uid) FROM messages WHERE mailbox_id = ?1 AND flags & 1 = 0),"
		" (SELECT count(*) FROM messages WHERE mailbox_id = ?1 AND uid >= ?2)",
	[STMT_MBX_COUNT] =
		"SELECT count(*) FROM mailboxes",
	/* ?1 "name/", ?2 "name0": every name below name ('0' follows '/'). */
	[STMT_MBX_INFERIORS] =
		"SELECT id, name FROM mailboxes WHERE name >= ?1 AND name < ?2 ORDER BY name",
	[STMT_MBX_RENAME] =
		"UPDATE mailboxes SET name = ?2 WHERE id = ?1",
	[STMT_MBX_DELETE] =
		"DELETE FROM mailboxes WHERE id = ?1",
	[STMT_MBX_SET_SPECIAL] =
		"UPDATE mailboxes SET special_use = ?2 WHERE id = ?1 AND special_use IS NULL",
	[STMT_MBX_NAME_OF] =
		"SELECT name FROM mailboxes WHERE id = ?1",
	[STMT_MSG_FILES_OF] =
		"SELECT uid, file FROM messages WHERE mailbox_id = ?1 ORDER BY uid",
	[STMT_MSG_DELETE_ALL] =
		"DELETE FROM messages WHERE mailbox_id = ?1",
	[STMT_EXPUNGED_DELETE_ALL] =
		"DELETE FROM expunged WHERE mailbox_id = ?1",
	[STMT_SUB_INSERT] =
		"INSERT OR IGNORE INTO subscriptions(name) VALUES(?1)",
	[STMT_SUB_DELETE] =
		"DELETE FROM subscriptions WHERE name = ?1",
	[STMT_SUB_COUNT] =
		"SELECT count(*) FROM subscriptions",
	[STMT_SUB_INFERIORS] =
		"SELECT name FROM subscriptions WHERE name = ?1 OR (name >= ?2 AND name < ?3) ORDER BY name",
	[STMT_META_GET] =
		"SELECT value FROM meta WHERE key = ?1",
	[STMT_META_SET] =
		"INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
	[STMT_USAGE] =
		"SELECT coalesce(sum(bytes), 0), coalesce(sum(messages), 0) FROM mailboxes",
	[STMT_IMSG_LIST] =
		"SELECT " IMSG_COLS " FROM messages WHERE mailbox_id = ?1 ORDER BY uid",
	[STMT_IMSG_GET] =
		"SELECT " IMSG_COLS " FROM messages WHERE mailbox_id = ?1 AND uid = ?2",
	[STMT_IMSG_RANGE] =
		"SELECT " IMSG_COLS " FROM messages WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid",
	/* The modseq index finds the few changed rows; sorting them by UID
	 * is cheap.  Without INDEXED BY the planner may walk the primary key
	 * for the ORDER BY, which reads every row. */
	[STMT_IMSG_CHANGED] =
		"SELECT " IMSG_COLS " FROM messages INDEXED BY messages_modseq"
		" WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
	[STMT_IMSG_DELETED] =
		"SELECT " IMSG_COLS " FROM messages WHERE mailbox_id = ?1 AND flags & 8 <> 0 ORDER BY uid",
	[STMT_IMSG_SET_FLAGS] =
		"UPDATE messages SET flags = ?3, keywords = ?4, modseq = ?5 WHERE mailbox_id = ?1 AND uid = ?2",
	[STMT_IMSG_MOVE] =
		"UPDATE messages SET mailbox_id = ?3, uid = ?4, modseq = ?5, save_date = " SAVE_DATE_NOW
		" WHERE mailbox_id = ?1 AND uid = ?2",
	[STMT_EXPUNGED_SINCE] =
		"SELECT uid FROM expunged INDEXED BY expunged_modseq WHERE mailbox_id = ?1 AND modseq > ?2"
		" ORDER BY uid",
	/* ?1 mailbox id, ?2 uid, ?3 the mailbox name st->mbcache_id is
	 * believed to have: no row when it does not (renamed, deleted). */
	[STMT_CACHE_GET] =
		"SELECT m.file, c.sent_zone IS NOT NULL, c.header_size, c.sent_date, c.envelope, c.bodystructure, c.body,"
		" c.sent_zone"
		" FROM messages m LEFT JOIN msg_cache c ON c.id = ((?1 << 32) | ?2)"
		" WHERE m.mailbox_id = ?1 AND m.uid = ?2"
		" AND (SELECT name FROM mailboxes WHERE id = ?1) = ?3",
	/* Only while the message exists (a lazy fill can race an expunge). */
	[STMT_CACHE_PUT] =
		"INSERT OR REPLACE INTO msg_cache(id, header_size, sent_date, envelope, bodystructure, body, sent_zone)"
		" SELECT (?1 << 32) | ?2, ?3, ?4, ?5, ?6, ?7, ?8"
		" WHERE EXISTS (SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uid = ?2)",
	[STMT_CACHE_COPY] =
		"INSERT OR REPLACE INTO msg_cache(id, header_size, sent_date, envelope, bodystructure, body, sent_zone)"
		" SELECT ?2, header_size, sent_date, envelope, bodystructure, body, sent_zone FROM msg_cache WHERE id = ?1",
	[STMT_CACHE_MOVE] =
		"UPDATE msg_cache SET id = ?2 WHERE id = ?1",
	/* Only while the message exists, as STMT_CACHE_PUT. */
	[STMT_SORT_PUT] =
		"INSERT OR REPLACE INTO msg_sort(id, sent_date, reply, subject, from_mbox, to_mbox, cc_mbox,"
		" from_display, to_display, message_id, refs)"
		" SELECT (?1 << 32) | ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12"
		" WHERE EXISTS (SELECT 1 FROM messages WHERE mailbox_id = ?1 AND uid = ?2)",
	[STMT_SORT_COPY] =
		"INSERT OR REPLACE INTO msg_sort(id, sent_date, reply, subject, from_mbox, to_mbox, cc_mbox,"
		" from_display, to_display, message_id, refs)"
		" SELECT ?2, sent_date, reply, subject, from_mbox, to_mbox, cc_mbox, from_display, to_display,"
		" message_id, refs FROM msg_sort WHERE id = ?1",
};

enum store_error
store_sqlite_class(struct store *st, int rc)
{
	if ((rc & 0xff) == SQLITE_FULL)
		return STORE_ERR_NOSPACE;
	if ((rc & 0xff) == SQLITE_IOERR && st->db != NULL)
		return store_errno_class(sqlite3_system_errno(st->db));
	return STORE_ERR_TEMP;
}

const char *
store_mailbox_canon(const char *name)
{
	return strcasecmp(name, "INBOX") == 0 ? "INBOX" : name;
}

/* Inside a read batch (store_read_begin) the read functions' own BEGIN
 * and COMMIT join the batch's transaction, and a write (BEGIN IMMEDIATE)
 * ends the batch first: a read snapshot cannot become a write. */
int
store_exec(struct store *st, const char *sql)
{
	int rc;

	if (st->read_batch) {
		if (strcmp(sql, "BEGIN") == 0 || strcmp(sql, "COMMIT") == 0)
			return SQLITE_OK;
		if (strncmp(sql, "BEGIN", 5) == 0 || strncmp(sql, "PRAGMA", 6) == 0)
			store_read_end(st);
	}
	rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		store_errorf(st, "%s: %s", sql, sqlite3_errmsg(st->db));
	return rc;
}

void
store_rollback(struct store *st)
{
	if (st->read_batch)
		return;      /* a read failed inside the batch: nothing to undo */
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int
store_read_begin(struct store *st, const char **error_out)
{
	if (st->read_batch)
		return 0;
	if (!sqlite3_get_autocommit(st->db)) {
		*error_out = store_errorf(st, "read batch inside a transaction");
		return -1;
	}
	/* Registered before the snapshot is taken (at the first read after
	 * BEGIN): an expunge that commits from now on may be seen or not,
	 * and its files wait for us either way (store_unlink.c). */
	st->read_token = store_unlink_reader_enter(st->dir);
	if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		*error_out = store_errorf(st, "BEGIN: %s", sqlite3_errmsg(st->db));
		store_unlink_reader_leave(st->dir, st->read_token);
		return -1;
	}
	st->read_batch = true;
	return 0;
}

void
store_read_end(struct store *st)
{
	if (!st->read_batch)
		return;
	st->read_batch = false;
	/* Statements are reset after every use, so nothing keeps the read
	 * transaction; COMMIT of a read-only transaction cannot fail short
	 * of misuse, and ROLLBACK covers that. */
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	store_unlink_reader_leave(st->dir, st->read_token);
}

void
store_sqlite_setup(void)
{
	/* SQLITE_CONFIG_PAGECACHE with no buffer and N = 0: no initial bulk
	 * allocation of page cache per connection; pages come as used. */
	sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
}

sqlite3_stmt *
store_stmt(struct store *st, enum store_stmt which)
{
	sqlite3_stmt *s = st->stmts[which];

	if (s == NULL) {
		if (sqlite3_prepare_v3(st->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
		    SQLITE_OK) {
			store_errorf(st, "prepare: %s", sqlite3_errmsg(st->db));
			return NULL;
		}
		st->stmts[which] = s;
		return s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

int
store_mailbox_get(struct store *st, const char *name, struct store_mailbox_row *row_out)
{
	sqlite3_stmt *s = store_stmt(st, STMT_MAILBOX_GET);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, store_mailbox_canon(name), -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		row_out->id = sqlite3_column_int64(s, 0);
		row_out->uidvalidity = (uint32_t)sqlite3_column_int64(s, 1);
		row_out->uidnext = (uint32_t)sqlite3_column_int64(s, 2);
		row_out->highestmodseq = (uint64_t)sqlite3_column_int64(s, 3);
		row_out->messages = (uint32_t)sqlite3_column_int64(s, 4);
		row_out->bytes = (uint64_t)sqlite3_column_int64(s, 5);
		row_out->first_recent_uid = (uint32_t)sqlite3_column_int64(s, 6);
		sqlite3_reset(s);
		return 1;
	}
	sqlite3_reset(s);
	if (rc == SQLITE_DONE)
		return 0;
	store_errorf(st, "mailbox %s: %s", name, sqlite3_errmsg(st->db));
	return -1;
}

int
store_mailbox_set_counters(struct store *st, const struct store_mailbox_row *row)
{
	sqlite3_stmt *s = store_stmt(st, STMT_MAILBOX_SET_COUNTERS);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, row->id);
	sqlite3_bind_int64(s, 2, row->uidnext);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)row->highestmodseq);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "update mailbox: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

int
store_mailbox_create_locked(struct store *st, const char *name, const char *special_use)
{
	sqlite3_stmt *s;
	int64_t last = 0, v;
	int rc;

	name = store_mailbox_canon(name);
	if (strlen(name) > STORE_MAILBOX_NAME_MAX) {
		store_errorf(st, "mailbox name too long");
		return -1;
	}
	if ((s = store_stmt(st, STMT_UIDVALIDITY_MAX)) == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		last = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW)
		goto sqlfail;
	v = (int64_t)time(NULL);
	if (v <= last)
		v = last + 1;
	if (v > (int64_t)UINT32_MAX) {
		store_errorf(st, "UIDVALIDITY space exhausted");
		return -1;
	}

	if ((s = store_stmt(st, STMT_UIDVALIDITY_REMEMBER)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		goto sqlfail;

	if ((s = store_stmt(st, STMT_MAILBOX_INSERT)) == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, v);
	if (special_use != NULL)
		sqlite3_bind_text(s, 3, special_use, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		goto sqlfail;
	return 0;
sqlfail:
	store_errorf(st, "create mailbox %s: %s", name, sqlite3_errmsg(st->db));
	return -1;
}

static int
pragma_int(struct store *st, const char *sql, int64_t *out)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_errorf(st, "%s: %s", sql, sqlite3_errmsg(st->db));
		return sqlite3_errcode(st->db);
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	} else {
		store_errorf(st, "%s: %s", sql, sqlite3_errmsg(st->db));
	}
	sqlite3_finalize(s);
	return rc;
}

/* journal_mode=WAL needs an exclusive lock the first time, which can meet
 * SQLITE_BUSY without the busy handler when several threads open a new
 * index at once: retry for up to the busy timeout. */
static int
set_wal(struct store *st)
{
	for (int waited = 0;; waited += 10) {
		sqlite3_stmt *s;
		int rc;
		bool wal = false;

		if ((rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL)) == SQLITE_OK) {
			rc = sqlite3_step(s);
			if (rc == SQLITE_ROW) {
				const char *m = (const char *)sqlite3_column_text(s, 0);

				wal = m != NULL && strcasecmp(m, "wal") == 0;
				rc = SQLITE_OK;
			}
			sqlite3_finalize(s);
		}
		if (rc == SQLITE_OK && wal)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED && rc != SQLITE_OK)
			break;
		if (waited >= STORE_BUSY_TIMEOUT_MS)
			break;
		usleep(10000);
	}
	store_errorf(st, "journal_mode=WAL: %s", sqlite3_errmsg(st->db));
	return -1;
}

/* A migration that adds one column: runs sql unless table has column
 * already (an index a newer Tern wrote and an older one set back, as
 * tests do), then sets user_version.  Returns the SQLite result code. */
static int
add_column(struct store *st, const char *table, const char *column, const char *sql, int version)
{
	char q[256];
	int64_t n = 0;
	int rc;

	snprintf(q, sizeof(q), "SELECT count(*) FROM pragma_table_info('%s') WHERE name = '%s'", table, column);
	if ((rc = pragma_int(st, q, &n)) != SQLITE_OK)
		return rc;
	if (n == 0 && (rc = store_exec(st, sql)) != SQLITE_OK)
		return rc;
	snprintf(q, sizeof(q), "PRAGMA user_version = %d", version);
	return store_exec(st, q);
}

/* Migration 6 to 7 (see migrate_6_to_7), inside the caller's
 * transaction: the table's indexes and triggers (not the automatic
 * index of its key) are remembered, the table copied into its new form,
 * and they are made again.  An index already at that form (set back to 6
 * by a test) is only given its new version.  Returns the result code. */
static int
rebuild_messages(struct store *st)
{
	sqlite3_stmt *s = NULL;
	char **sql = NULL;
	size_t n = 0, cap = 0;
	int64_t clustered = 0;
	int rc;

	if ((rc = pragma_int(st, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'messages'"
	                         " AND sql LIKE '%WITHOUT ROWID%'", &clustered)) != SQLITE_OK)
		return rc;
	if (clustered)
		return store_exec(st, "PRAGMA user_version = 7");
	rc = sqlite3_prepare_v2(st->db, "SELECT sql FROM sqlite_master WHERE tbl_name = 'messages'"
	                        " AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type", -1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			char **grown = realloc(sql, (cap = cap ? 2 * cap : 8) * sizeof(*sql));

			if (grown == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			sql = grown;
		}
		if ((sql[n] = strdup((const char *)sqlite3_column_text(s, 0))) == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		n++;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		rc = store_exec(st, migrate_6_to_7);
	for (size_t i = 0; i < n; i++) {
		if (rc == SQLITE_OK)
			rc = store_exec(st, sql[i]);
		free(sql[i]);
	}
	free(sql);
	if (rc == SQLITE_OK)
		rc = store_exec(st, "PRAGMA user_version = 7");
	return rc;
}

/* Creates or checks the schema.  The check is one read when the index is
 * current; creation runs under BEGIN IMMEDIATE and looks again, since
 * another thread may be creating the same index. */
static int
schema_ensure(struct store *st, enum store_error *err_out)
{
	int64_t version = 0;
	int rc;

	if ((rc = pragma_int(st, "PRAGMA user_version", &version)) != SQLITE_OK)
		goto fail;
	if (version == STORE_SCHEMA_VERSION)
		return 0;
	if (version > STORE_SCHEMA_VERSION) {
		store_errorf(st, "%s/index.db has schema version %lld, newer than this Tern's %d", st->dir,
		             (long long)version, STORE_SCHEMA_VERSION);
		*err_out = STORE_ERR_TEMP;
		return -1;
	}
	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK)
		goto fail;
	if ((rc = pragma_int(st, "PRAGMA user_version", &version)) != SQLITE_OK)
		goto fail;
	if (version == 0) {
		if ((rc = store_exec(st, schema_v1)) != SQLITE_OK)
			goto fail;
		version = 1;
	}
	if (version == 1) {
		if ((rc = store_exec(st, migrate_1_to_2)) != SQLITE_OK)
			goto fail;
		version = 2;
	}
	if (version == 2) {
		/* the full-text index without its copy of the text (store_fts.c) */
		if (store_fts_schema(st) == -1 || (rc = store_exec(st, "PRAGMA user_version = 3")) != SQLITE_OK) {
			rc = sqlite3_extended_errcode(st->db);
			goto fail;
		}
		version = 3;
	}
	if (version == 3) {
		if ((rc = add_column(st, "msg_cache", "sent_zone", migrate_3_to_4, 4)) != SQLITE_OK)
			goto fail;
		version = 4;
	}
	if (version == 4) {
		if ((rc = add_column(st, "mailboxes", "first_recent_uid", migrate_4_to_5, 5)) != SQLITE_OK)
			goto fail;
		version = 5;
	}
	if (version == 5) {
		if ((rc = add_column(st, "messages", "pop3_uidl", migrate_5_to_6, 6)) != SQLITE_OK)
			goto fail;
		version = 6;
	}
	if (version == 6) {
		if ((rc = rebuild_messages(st)) != SQLITE_OK)
			goto fail;
		version = 7;
	}
	if (version == 7) {
		if ((rc = store_exec(st, migrate_7_to_8)) != SQLITE_OK)
			goto fail;
		version = 8;
	}
	if (version == 8) {
		if ((rc = add_column(st, "messages", "save_date", migrate_8_to_9, 9)) != SQLITE_OK)
			goto fail;
		version = 9;
	}
	if (version == 9) {
		if ((rc = add_column(st, "messages", "emailid", migrate_9_to_10, 10)) != SQLITE_OK)
			goto fail;
		version = 10;
	}
	if (version == 10) {
		if ((rc = store_exec(st, migrate_10_to_11)) != SQLITE_OK)
			goto fail;
		version = 11;
	}
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	*err_out = store_sqlite_class(st, rc);
	store_rollback(st);
	return -1;
}

static int
inbox_ensure(struct store *st, enum store_error *err_out)
{
	struct store_mailbox_row row;
	int r, rc;

	if ((r = store_mailbox_get(st, "INBOX", &row)) == 1)
		return 0;
	if (r == -1) {
		*err_out = STORE_ERR_TEMP;
		return -1;
	}
	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK)
		goto fail;
	r = store_mailbox_get(st, "INBOX", &row);
	if (r == -1 || (r == 0 && store_mailbox_create_locked(st, "INBOX", NULL) == -1)) {
		rc = sqlite3_extended_errcode(st->db);
		goto fail;
	}
	/* A new INBOX is subscribed (clients that show subscribed folders
	 * only must still see it). */
	if (r == 0) {
		sqlite3_stmt *s = store_stmt(st, STMT_SUB_INSERT);

		if (s == NULL) {
			rc = sqlite3_extended_errcode(st->db);
			goto fail;
		}
		sqlite3_bind_text(s, 1, "INBOX", -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			store_errorf(st, "subscribe INBOX: %s", sqlite3_errmsg(st->db));
			goto fail;
		}
	}
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	*err_out = store_sqlite_class(st, rc);
	store_rollback(st);
	return -1;
}

/* Two connections of one user (two IMAP sessions, a delivery) wait for
 * each other's write lock.  SQLite's own busy_timeout sleeps 1, 2, 5,
 * 10... up to 100 ms at a time, far longer than our transactions hold
 * the lock (a few hundred microseconds), so a waiter oversleeps: retry
 * every 100 us at first, then every ms, until STORE_BUSY_TIMEOUT_MS. */
static int
busy_wait(void *arg, int tries)
{
	const int quick = 50;            /* 50 x 100 us = the first 5 ms */
	long waited_ms = tries < quick ? tries / 10 : 5 + (tries - quick);

	(void)arg;
	if (waited_ms >= STORE_BUSY_TIMEOUT_MS)
		return 0;
	usleep(tries < quick ? 100 : 1000);
	return 1;
}

static int
db_open(struct store *st, enum store_error *err_out)
{
	char path[PATH_MAX + 16];
	int rc;

	snprintf(path, sizeof(path), "%s/index.db", st->dir);
	/* SQLite would create the file 0644 (less umask), and gives -wal and
	 * -shm the main file's mode: create it 0600 first, and make its name
	 * durable (SQLite fsyncs the directory for the -wal it creates, not
	 * for the main file).  Other failures are reported by sqlite3_open_v2
	 * below. */
	{
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

		if (fd >= 0) {
			close(fd);
			if (store_fsync_dir(st->dir) == -1) {
				*err_out = store_errno_class(errno);
				store_errorf(st, "fsync %s: %s", st->dir, strerror(errno));
				return -1;
			}
		}
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		store_errorf(st, "open %s: %s", path, st->db != NULL ? sqlite3_errmsg(st->db) : "out of memory");
		*err_out = store_sqlite_class(st, rc);
		return -1;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_handler(st->db, busy_wait, NULL);
	/* Takes effect on a new, empty file only if asked before WAL mode is
	 * set; on an older index at its next VACUUM.  Writes nothing. */
	if ((rc = store_exec(st, "PRAGMA auto_vacuum = INCREMENTAL")) != SQLITE_OK) {
		*err_out = store_sqlite_class(st, rc);
		return -1;
	}
	if (set_wal(st) == -1) {
		/* an -shm file that cannot grow on a full disk is NOSPACE */
		*err_out = store_sqlite_class(st, sqlite3_extended_errcode(st->db));
		return -1;
	}
	snprintf(path, sizeof(path), "PRAGMA synchronous=FULL; PRAGMA cache_size=-%d;", STORE_CACHE_KIB);
	if ((rc = store_exec(st, path)) != SQLITE_OK) {
		*err_out = store_sqlite_class(st, rc);
		return -1;
	}
	if (schema_ensure(st, err_out) == -1 || inbox_ensure(st, err_out) == -1)
		return -1;
	if (store_fts_schema(st) == -1) {
		*err_out = store_sqlite_class(st, sqlite3_extended_errcode(st->db));
		return -1;
	}
	return 0;
}

/* Finalizes the statements and closes the connection (st stays). */
static void
db_close(struct store *st)
{
	for (int i = 0; i < STMT_COUNT; i++) {
		sqlite3_finalize(st->stmts[i]);
		st->stmts[i] = NULL;
	}
	if (st->db != NULL)
		sqlite3_close(st->db);
	st->db = NULL;
	st->read_batch = false;
}

int
store_open_ex(const char *data_dir, const char *user, struct store **st_out, enum store_error *err_out,
              const char **error_out)
{
	struct store *st;
	char msgdir[PATH_MAX];

	*st_out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		*err_out = STORE_ERR_TEMP;
		*error_out = "out of memory";
		return -1;
	}
	st->msg_dirfd = -1;
	buf_init(&st->cached);
	if (user != NULL)
		str_lcpy(st->user, user, sizeof(st->user));
	str_lcpy(st->data_dir, data_dir, sizeof(st->data_dir));
	if (store_user_dir(data_dir, user, st->dir, sizeof(st->dir)) == -1 ||
	    (size_t)snprintf(msgdir, sizeof(msgdir), "%s/msg", st->dir) >= sizeof(msgdir)) {
		*err_out = STORE_ERR_TEMP;
		*error_out = store_tls_errorf("not a valid mailbox address: %.*s", ADDRESS_MAX,
		                              user != NULL ? user : "(null)");
		free(st);
		return -1;
	}
	if (store_mkdirs(msgdir) == -1 ||
	    (st->msg_dirfd = open(msgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		*err_out = store_errno_class(errno);
		*error_out = store_tls_errorf("%s: %s", msgdir, strerror(errno));
		store_close(&st);
		return -1;
	}
	if (db_open(st, err_out) == -1) {
		/* Opening needs a little space (the -wal and -shm files, the
		 * migration to schema 3): on a full disk it borrows the reserve,
		 * since the user may be logging in to delete (lib/reserve.h). */
		bool retry = *err_out == STORE_ERR_NOSPACE && reserve_borrow(data_dir);
		int r = -1;

		if (retry) {
			db_close(st);
			r = db_open(st, err_out);
			reserve_return(data_dir);
		}
		if (r == -1) {
			*error_out = store_tls_errorf("%s", st->errbuf);
			store_close(&st);
			return -1;
		}
	}
	*st_out = st;
	return 0;
}

int
store_open(const char *data_dir, const char *user, struct store **st_out, const char **error_out)
{
	enum store_error err;

	return store_open_ex(data_dir, user, st_out, &err, error_out);
}

void
store_close(struct store **stp)
{
	struct store *st = *stp;

	if (st == NULL)
		return;
	store_read_end(st);
	db_close(st);
	if (st->msg_dirfd >= 0)
		close(st->msg_dirfd);
	buf_free(&st->cached);
	free(st);
	*stp = NULL;
}
