/* Full-text search (store_fts.c) on a real index.db in a temporary
 * directory: messages in quoted-printable and base64, ISO-8859-1 and
 * UTF-8, HTML, nested message/rfc822; case-insensitive matching, needles
 * shorter than a trigram, COPY sharing a document, deletion; and a
 * 20,000-message index with its search time printed. */
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/reserve.h"
#include "store/store.h"
#include "store/store_fts.h"
#include "store/store_fts_private.h"
#include "store/store_private.h"
#include "test.h"

static const char *user = "fts@example.com";

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int64_t
mailbox_id(struct store *st, const char *name)
{
	sqlite3_stmt *s;
	int64_t id = -1;

	sqlite3_prepare_v2(st->db, "SELECT id FROM mailboxes WHERE name = ?1", -1, &s, NULL);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return id;
}

/* Writes a message file into st's msg/ directory. */
static int
put_file(struct store *st, const char *name, const char *text, size_t len)
{
	char path[PATH_MAX + 64];
	FILE *f;
	size_t w;

	snprintf(path, sizeof(path), "%s/msg/%s", st->dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	w = fwrite(text, 1, len, f);
	return fclose(f) == 0 && w == len ? 0 : -1;
}

/* The message file name these tests use for (mb, uid). */
static const char *
file_of(int64_t mb, uint32_t uid)
{
	static char name[STORE_FILE_NAME_MAX + 1];

	snprintf(name, sizeof(name), "t%lld-%u", (long long)mb, uid);
	return name;
}

/* The messages row the store would write (only the columns FTS cares
 * about: the search ignores UIDs that are not messages, and reads the
 * file of those whose text it must check). */
static int
msg_row_file(struct store *st, int64_t mb, uint32_t uid, const char *file)
{
	sqlite3_stmt *s;
	int rc;

	sqlite3_prepare_v2(st->db, "INSERT INTO messages(mailbox_id, uid, modseq, internal_date, size, file)"
			   " VALUES(?1, ?2, 1, 0, 0, ?3)", -1, &s, NULL);
	sqlite3_bind_int64(s, 1, mb);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_text(s, 3, file, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
msg_row(struct store *st, int64_t mb, uint32_t uid)
{
	return msg_row_file(st, mb, uid, file_of(mb, uid));
}

/* Stores msg as (mb, uid): its file, its row and its index entry, in a
 * transaction, as delivery does. */
static int
add(struct store *st, int64_t mb, uint32_t uid, const char *msg)
{
	int r;

	if (put_file(st, file_of(mb, uid), msg, strlen(msg)) == -1)
		return -1;
	if (store_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK)
		return -1;
	r = msg_row(st, mb, uid);
	if (r == 0)
		r = store_fts_index(st, mb, uid, msg, strlen(msg));
	if (r == 0 && store_exec(st, "COMMIT") == SQLITE_OK)
		return 0;
	printf("# add: %s\n", st->errbuf);
	store_rollback(st);
	return -1;
}

/* Searches and renders the UIDs as "1 2 3" for comparison. */
static const char *
find(struct store *st, const char *mailbox, const char *needle, bool body_only)
{
	static char out[4096];
	uint32_t *uids = NULL;
	size_t n = 0, i, k = 0;
	const char *error;

	if (store_fts_search(st, mailbox, needle, body_only, &uids, &n, &error) == -1) {
		snprintf(out, sizeof(out), "error: %s", error);
		return out;
	}
	out[0] = '\0';
	for (i = 0; i < n && k + 16 < sizeof(out); i++)
		k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%u", i ? " " : "", uids[i]);
	free(uids);
	return out;
}

#define DOCS "SELECT value FROM meta WHERE key = 'fts_docs'"
#define DEAD "SELECT value FROM meta WHERE key = 'fts_dead'"

/* The number of answers, -1 on error. */
static long
nfound(struct store *st, const char *mailbox, const char *needle, bool body_only)
{
	uint32_t *uids = NULL;
	size_t n = 0;
	const char *error;

	if (store_fts_search(st, mailbox, needle, body_only, &uids, &n, &error) == -1)
		return -1;
	free(uids);
	return (long)n;
}

static int64_t
count(struct store *st, const char *sql)
{
	sqlite3_stmt *s;
	int64_t n = -1;

	sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

static const char m1[] =
	"From: Alice <alice@example.com>\r\n"
	"Subject: Quarterly Report\r\n"
	"Content-Type: text/plain; charset=ISO-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Gr=FC=DFe aus M=FCnchen, soft=\r\n"
	"wrapped word.\r\n"
	"She said \"hi\" twice.\r\n"
	"line one\r\n"
	"line two\r\n";

static const char m2[] =
	"From: Bob <bob@example.com>\r\n"
	"Subject: =?UTF-8?Q?R=C3=A9sum=C3=A9?= attached\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	/* "Ünïcödé Straße ΣΟΦΙΑ привет\n" */
	"w5xuw69jw7Zkw6kgU3RyYcOfZSDOo86fzqbOmc6RINC/0YDQuNCy0LXRggo=\r\n";

static const char m3[] =
	"From: Carol <carol@example.com>\r\n"
	"Subject: fwd\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"--outer\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"see below\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: Dave <dave@example.com>\r\n"
	"Subject: Inner Secret Topic\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"WvxyaWNoIG1lZXRpbmc=\r\n"          /* "Zürich meeting" in ISO-8859-1 */
	"--outer\r\n"
	"Content-Type: application/pdf; name=\"plan.pdf\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"UERGU0VDUkVU\r\n"                  /* "PDFSECRET" */
	"--outer--\r\n";

static const char m4[] =
	"From: Erin <erin@example.com>\r\n"
	"Subject: html\r\n"
	"Content-Type: text/html; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"<html><body><p>Hello <b>Wor</b>ld &amp; friends</p>=\r\n"
	"<p style=3D\"x\">caf=C3=A9</p></body></html>\r\n";

static const char m5[] =
	"From: Frank <frank@example.com>\r\n"
	"Subject: fox\r\n"
	"\r\n"
	"The QUICK brown fox.\r\n";

static void
test_search(struct store *st)
{
	int64_t inbox = mailbox_id(st, "INBOX");

	test_begin("store_fts: index QP/base64, ISO-8859-1/UTF-8, HTML, nested messages");
	test_assert(add(st, inbox, 1, m1) == 0);
	test_assert(add(st, inbox, 2, m2) == 0);
	test_assert(add(st, inbox, 3, m3) == 0);
	test_assert(add(st, inbox, 4, m4) == 0);
	test_assert(add(st, inbox, 5, m5) == 0);
	test_assert_inteq(count(st, "SELECT count(*) FROM fts_map"), 5);
	test_end();

	test_begin("store_fts: case-insensitive substring, ASCII and beyond");
	test_assert_streq(find(st, "INBOX", "m\xc3\xbcnchen", true), "1");
	test_assert_streq(find(st, "inbox", "M\xc3\x9cNCHEN", true), "1");
	test_assert_streq(find(st, "INBOX", "gr\xc3\xbc\xc3\x9f" "e", true), "1");
	test_assert_streq(find(st, "INBOX", "softwrapped", true), "1");
	test_assert_streq(find(st, "INBOX", "STRASSE", true), "");   /* no full case folding */
	test_assert_streq(find(st, "INBOX", "stra\xc3\x9f" "e", true), "2");
	test_assert_streq(find(st, "INBOX", "\xcf\x83\xce\xbf\xcf\x86\xce\xb9\xce\xb1", true), "2"); /* σοφια */
	test_assert_streq(find(st, "INBOX", "\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2", true), "2"); /* ПРИВЕТ */
	test_assert_streq(find(st, "INBOX", "\xc3\xbcNICOD", true), "");  /* ï is not i */
	test_assert_streq(find(st, "INBOX", "quick BROWN", false), "5");
	test_assert_streq(find(st, "INBOX", "nothing like this", false), "");
	test_end();

	test_begin("store_fts: TEXT sees headers, BODY does not");
	test_assert_streq(find(st, "INBOX", "r\xc3\xa9sum\xc3\xa9", false), "2");
	test_assert_streq(find(st, "INBOX", "R\xc3\x89SUM\xc3\x89", false), "2");
	test_assert_streq(find(st, "INBOX", "r\xc3\xa9sum\xc3\xa9", true), "");
	test_assert_streq(find(st, "INBOX", "quarterly", false), "1");
	test_assert_streq(find(st, "INBOX", "quarterly", true), "");
	test_assert_streq(find(st, "INBOX", "alice@example", false), "1");
	test_assert_streq(find(st, "INBOX", "plan.pdf", false), "3");
	test_assert_streq(find(st, "INBOX", "plan.pdf", true), "");
	test_end();

	test_begin("store_fts: nested message/rfc822 is body; attachments are not read");
	test_assert_streq(find(st, "INBOX", "z\xc3\xbcrich MEETING", true), "3");
	test_assert_streq(find(st, "INBOX", "inner secret", true), "3");
	test_assert_streq(find(st, "INBOX", "inner secret", false), "3");
	test_assert_streq(find(st, "INBOX", "pdfsecret", false), "");
	test_assert_streq(find(st, "INBOX", "UERGU0VD", false), "");
	test_end();

	test_begin("store_fts: HTML is searched as its text");
	test_assert_streq(find(st, "INBOX", "hello world & friends", true), "4");
	test_assert_streq(find(st, "INBOX", "caf\xc3\xa9", true), "4");
	test_assert_streq(find(st, "INBOX", "<b>", true), "");
	test_assert_streq(find(st, "INBOX", "style", true), "");
	test_assert_streq(find(st, "INBOX", "&amp;", true), "");
	test_end();

	test_begin("store_fts: needles shorter than a trigram");
	test_assert_streq(find(st, "INBOX", "ox", true), "5");
	test_assert_streq(find(st, "INBOX", "OX", true), "5");
	test_assert_streq(find(st, "INBOX", "x.", true), "5");
	test_assert_streq(find(st, "INBOX", "\xc3\x9c", true), "1 2 3");    /* Ü: München, Ünïcödé, Zürich */
	test_assert_streq(find(st, "INBOX", "\xcf\x86", true), "2");        /* φ finds Φ */
	test_assert_streq(find(st, "INBOX", "\xc3\xa9", false), "2 4");     /* é: Résumé/Ünïcödé, café */
	test_assert_streq(find(st, "INBOX", "Z\xc3\x9c", true), "3");
	test_assert_streq(find(st, "INBOX", "qz", false), "");
	test_assert_streq(find(st, "INBOX", "\"", true), "1");
	test_assert_streq(find(st, "INBOX", "qu", false), "1 4 5");  /* Quarterly, quoted-printable, QUICK */
	test_assert_streq(find(st, "INBOX", "qu", true), "5");
	test_assert_streq(find(st, "INBOX", "Q", true), "5");
	test_assert_streq(find(st, "INBOX", "\x01", false), "");     /* the index's padding */
	test_assert_streq(find(st, "INBOX", "x\x01", false), "");
	test_assert_streq(find(st, "INBOX", ".\n", true), "1 5");      /* "word.", "fox." at a line end */
	test_end();

	test_begin("store_fts: quotes, line breaks and the empty needle");
	test_assert_streq(find(st, "INBOX", "said \"hi\" twice", true), "1");
	test_assert_streq(find(st, "INBOX", "\"hi\"", true), "1");
	test_assert_streq(find(st, "INBOX", "line one\r\nline two", true), "1");
	test_assert_streq(find(st, "INBOX", "*", true), "");
	test_assert_streq(find(st, "INBOX", "NEAR(a b)", true), "");
	test_assert_streq(find(st, "INBOX", "", true), "1 2 3 4 5");
	test_assert(strncmp(find(st, "NoSuchBox", "abc", true), "error: ", 7) == 0);
	test_end();
}

static void
test_copy_delete(struct store *st)
{
	int64_t inbox = mailbox_id(st, "INBOX"), archive;
	int64_t docs;

	test_begin("store_fts: COPY shares the document, which dies with its last copy");
	test_assert(store_exec(st, "INSERT INTO mailboxes(name, uidvalidity, uidnext, highestmodseq)"
				   " VALUES('Archive', 7, 1, 1)") == SQLITE_OK);
	archive = mailbox_id(st, "Archive");
	docs = count(st, DOCS);
	test_assert_inteq(count(st, DEAD), 0);
	test_assert(store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK);
	test_assert(msg_row_file(st, archive, 1, file_of(inbox, 3)) == 0);
	test_assert(store_fts_copy(st, inbox, 3, archive, 1) == 0);
	test_assert(store_exec(st, "COMMIT") == SQLITE_OK);
	test_assert_inteq(count(st, DOCS), docs);
	test_assert_streq(find(st, "Archive", "z\xc3\xbcrich", true), "1");
	test_assert_streq(find(st, "Archive", "fox", true), "");
	test_assert_streq(find(st, "Archive", "\xc3\x9c", true), "1");

	/* MOVE: the copy, then the source's expunge */
	test_assert(store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK);
	{
		char sql[128];
		snprintf(sql, sizeof(sql), "DELETE FROM messages WHERE mailbox_id = %lld AND uid = 3",
			 (long long)inbox);
		test_assert(store_exec(st, sql) == SQLITE_OK);
	}
	test_assert(store_fts_delete(st, inbox, 3) == 0);
	test_assert(store_exec(st, "COMMIT") == SQLITE_OK);
	test_assert_streq(find(st, "INBOX", "z\xc3\xbcrich", true), "");
	test_assert_streq(find(st, "Archive", "z\xc3\xbcrich", true), "1");
	test_assert_inteq(count(st, DOCS), docs);
	test_assert_inteq(count(st, DEAD), 0);

	/* the last copy goes: so does the document */
	{
		char sql[128];
		snprintf(sql, sizeof(sql), "DELETE FROM messages WHERE mailbox_id = %lld AND uid = 1",
			 (long long)archive);
		test_assert(store_exec(st, sql) == SQLITE_OK);
	}
	test_assert(store_fts_delete(st, archive, 1) == 0);
	test_assert_inteq(count(st, DOCS), docs);      /* still in fts_idx, dead */
	test_assert_inteq(count(st, DEAD), 1);
	test_assert_streq(find(st, "Archive", "z\xc3\xbcrich", true), "");
	test_assert_streq(find(st, "Archive", "\xc3\xbc", true), "");
	test_assert_streq(find(st, "Archive", "rich", true), "");
	/* deleting what is not indexed is fine; copying it copies nothing */
	test_assert(store_fts_delete(st, archive, 99) == 0);
	test_assert(store_fts_copy(st, archive, 99, inbox, 98) == 0);
	test_assert_inteq(count(st, "SELECT count(*) FROM fts_map WHERE uid = 98"), 0);
	test_end();

	test_begin("store_fts: rows of UIDs that are not messages are not answers");
	{
		char sql[128];
		snprintf(sql, sizeof(sql), "DELETE FROM messages WHERE mailbox_id = %lld AND uid = 5",
			 (long long)inbox);
		test_assert(store_exec(st, sql) == SQLITE_OK);
	}
	test_assert_streq(find(st, "INBOX", "fox", true), "");
	test_assert_streq(find(st, "INBOX", "ox", true), "");
	test_assert(store_fts_delete(st, inbox, 5) == 0);
	test_end();

	test_begin("store_fts: indexing a UID again replaces its text");
	test_assert(put_file(st, file_of(inbox, 4), m5, strlen(m5)) == 0);
	test_assert(store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK);
	test_assert(store_fts_index(st, inbox, 4, m5, strlen(m5)) == 0);
	test_assert(store_exec(st, "COMMIT") == SQLITE_OK);
	test_assert_streq(find(st, "INBOX", "brown fox", true), "4");
	test_assert_streq(find(st, "INBOX", "friends", true), "");
	test_assert_inteq(count(st, "SELECT count(*) FROM fts_map"), 3);
	test_assert_inteq(count(st, "SELECT count(DISTINCT doc) FROM fts_map"), 3);
	test_assert_inteq(count(st, DOCS) - count(st, DEAD), 3);
	test_assert_streq(find(st, "INBOX", "ox", true), "4");
	test_assert_streq(find(st, "INBOX", "&", true), "");
	test_end();

	test_begin("store_fts: schema check is idempotent; a broken message indexes");
	test_assert(store_fts_schema(st) == 0);
	test_assert(store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK);
	test_assert(store_fts_schema(st) == 0);
	test_assert(msg_row(st, inbox, 10) == 0);
	test_assert(store_fts_index(st, inbox, 10, "\0\xff\r\n\r\n--x\r\n=?", 12) == 0);
	test_assert(msg_row(st, inbox, 11) == 0);
	test_assert(store_fts_index(st, inbox, 11, "", 0) == 0);
	test_assert(store_exec(st, "COMMIT") == SQLITE_OK);
	test_end();
}

/* Delivers text to who's INBOX through the store (spool, link, row). */
static int
deliver_to(const char *dir, const char *who, const char *text)
{
	const char *users[1] = { who }, *error;
	struct store_spool sp;
	enum store_error err;
	int r;

	if (store_spool_create(dir, &sp, &error) == -1 ||
	    store_spool_write(&sp, text, strlen(text), &err) == -1 || store_spool_commit(&sp, &err) == -1) {
		store_spool_discard(&sp);
		return -1;
	}
	r = store_deliver(dir, &sp, users, 1, (int64_t)time(NULL), &err, &error);
	if (r == -1)
		printf("# deliver: %s\n", error);
	store_spool_discard(&sp);
	return r;
}

static int
deliver(const char *dir, const char *text)
{
	return deliver_to(dir, user, text);
}

static void
test_in_step(const char *dir, struct store *st)
{
	int64_t inbox = mailbox_id(st, "INBOX");
	char path[PATH_MAX + 64];
	FILE *f;

	test_begin("store_fts: a delivered message is searchable");
	/* the rows above were written by hand: move uidnext past them */
	test_assert(store_exec(st, "UPDATE mailboxes SET uidnext = 12 WHERE name = 'INBOX'") == SQLITE_OK);
	test_assert(deliver(dir, "Subject: delivered\r\n\r\nWombat migration season\r\n") == 0);
	test_assert_streq(find(st, "INBOX", "wombat MIGRATION", true), "12");
	test_end();

	test_begin("store_fts: a message stored without its text is indexed at the next search");
	snprintf(path, sizeof(path), "%s/msg/1700000000.fts0000000000001", st->dir);
	test_assert((f = fopen(path, "w")) != NULL);
	if (f != NULL) {
		fputs("Subject: forgotten\r\n\r\nPlatypus burrow\r\n", f);
		fclose(f);
	}
	{
		char sql[256];
		snprintf(sql, sizeof(sql), "INSERT INTO messages(mailbox_id, uid, modseq, internal_date, size, file)"
			 " VALUES(%lld, 20, 1, 0, 40, '1700000000.fts0000000000001')", (long long)inbox);
		test_assert(store_exec(st, sql) == SQLITE_OK);
	}
	test_assert_streq(find(st, "INBOX", "platypus", true), "20");
	test_assert_inteq(count(st, "SELECT count(*) FROM fts_map WHERE uid = 20"), 1);
	test_end();

	test_begin("store_fts: an index without its FTS tables is indexed at the next search");
	test_assert(store_exec(st, "DROP TABLE fts_idx; DROP TABLE fts_map") == SQLITE_OK);
	test_assert(store_fts_schema(st) == 0);
	test_assert_inteq(count(st, "SELECT count(*) FROM fts_map"), 0);
	test_assert_streq(find(st, "INBOX", "platypus", true), "20");
	test_assert_streq(find(st, "INBOX", "wombat", true), "12");
	test_assert_streq(find(st, "Archive", "z\xc3\xbcrich", true), "");
	test_assert_inteq(count(st, "SELECT count(*) FROM fts_map m JOIN mailboxes b ON b.id = m.mailbox_id"
				    " WHERE b.name = 'INBOX'"),
			  count(st, "SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
				    " WHERE b.name = 'INBOX'"));
	test_end();

	test_begin("store_fts: while the disk reserve is borrowed, a search reads the files of messages not indexed");
	test_assert(add(st, inbox, 21, "Subject: x\r\n\r\nnot yet\r\n") == 0);
	reserve_configure(1 << 20);
	test_assert(reserve_borrow(dir));
	{
		char sql[256];
		snprintf(sql, sizeof(sql), "INSERT INTO messages(mailbox_id, uid, modseq, internal_date, size, file)"
			 " VALUES(%lld, 22, 1, 0, 40, '%s')", (long long)inbox, file_of(inbox, 22));
		test_assert(put_file(st, file_of(inbox, 22), "Subject: late\r\n\r\nKookaburra\r\n", 30) == 0);
		test_assert(store_exec(st, sql) == SQLITE_OK);
	}
	test_assert_streq(find(st, "INBOX", "kookaburra", true), "22");
	test_assert_streq(find(st, "INBOX", "kook", false), "22");
	test_assert_streq(find(st, "INBOX", "ka", true), "22");
	test_assert_streq(find(st, "INBOX", "late", true), "");
	test_assert_streq(find(st, "INBOX", "late", false), "22");
	test_assert_streq(find(st, "INBOX", "not yet", true), "21");
	test_assert_inteq(count(st, "SELECT count(*) FROM fts_map WHERE uid = 22"), 0);  /* nothing written */
	reserve_return(dir);
	test_assert_streq(find(st, "INBOX", "kookaburra", true), "22");
	test_assert_inteq(count(st, "SELECT count(*) FROM fts_map WHERE uid = 22"), 1);
	reserve_configure(0);
	snprintf(path, sizeof(path), "%s/" RESERVE_FILE, dir);
	test_assert(access(path, F_OK) == 0);   /* given back */
	unlink(path);
	test_end();
}

/* Runs the upkeep until it has nothing left to do. */
static int
maintain_all(struct store *st)
{
	bool more = true;
	int steps = 0;

	while (more && steps++ < 10000)
		if (store_fts_maintain(st, &more) == -1) {
			printf("# maintain: %s\n", st->errbuf);
			return -1;
		}
	return 0;
}

static void
test_compaction(struct store *st)
{
	int64_t mb;
	char text[256], name[64];
	uint32_t uid;
	bool more = false;

	test_begin("store_fts: expunged documents are compacted away once they are a third of the index");
	test_assert(store_exec(st, "INSERT INTO mailboxes(name, uidvalidity, uidnext, highestmodseq)"
				   " VALUES('Churn', 11, 1, 1)") == SQLITE_OK);
	mb = mailbox_id(st, "Churn");
	test_assert(store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK);
	for (uid = 1; uid <= 900; uid++) {
		int k = snprintf(text, sizeof(text), "Subject: churn %u\r\n\r\n%s number%04u\r\n", uid,
				 uid % 3 == 0 ? "keeper" : "goner", uid);

		test_assert(put_file(st, file_of(mb, uid), text, (size_t)k) == 0);
		test_assert(msg_row(st, mb, uid) == 0);
		test_assert(store_fts_index(st, mb, uid, text, (size_t)k) == 0);
	}
	test_assert(store_exec(st, "COMMIT") == SQLITE_OK);
	test_assert(maintain_all(st) == 0);            /* nothing dead: nothing to do */
	test_assert(count(st, "SELECT count(*) FROM sqlite_master WHERE name = 'fts_new'") == 0);
	test_assert(store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK);
	for (uid = 1; uid <= 900; uid++) {
		if (uid % 3 == 0)
			continue;
		snprintf(text, sizeof(text), "DELETE FROM messages WHERE mailbox_id = %lld AND uid = %u",
			 (long long)mb, uid);
		test_assert(store_exec(st, text) == SQLITE_OK);
		test_assert(store_fts_delete(st, mb, uid) == 0);
	}
	test_assert(store_exec(st, "COMMIT") == SQLITE_OK);
	test_assert_inteq(count(st, DEAD), 600);
	test_assert_streq(find(st, "Churn", "goner", true), "");
	test_assert_streq(find(st, "Churn", "number0003", true), "3");
	/* one batch, then a new message and an expunge in the middle */
	test_assert(store_fts_maintain(st, &more) == 0);
	test_assert(more);
	test_assert(count(st, "SELECT count(*) FROM sqlite_master WHERE name = 'fts_new'") == 1);
	test_assert(add(st, mb, 901, "Subject: late\r\n\r\nkeeper arrived late\r\n") == 0);
	test_assert(store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK);
	snprintf(text, sizeof(text), "DELETE FROM messages WHERE mailbox_id = %lld AND uid = 3", (long long)mb);
	test_assert(store_exec(st, text) == SQLITE_OK);
	test_assert(store_fts_delete(st, mb, 3) == 0);
	test_assert(store_exec(st, "COMMIT") == SQLITE_OK);
	test_assert_streq(find(st, "Churn", "arrived", true), "901");
	test_assert(maintain_all(st) == 0);
	test_assert(count(st, "SELECT count(*) FROM sqlite_master WHERE name = 'fts_new'") == 0);
	test_assert(count(st, "SELECT count(*) FROM meta WHERE key LIKE 'fts_rebuil%'") == 0);
	test_assert_inteq(count(st, DEAD), 1);         /* uid 3, which died during the rebuild */
	test_assert_inteq(count(st, DOCS) - count(st, DEAD),
			  count(st, "SELECT count(DISTINCT doc) FROM fts_map"));
	test_assert_streq(find(st, "Churn", "goner", true), "");
	test_assert_streq(find(st, "Churn", "number0003", true), "");
	test_assert_streq(find(st, "Churn", "number0006", true), "6");
	test_assert_streq(find(st, "Churn", "arrived", true), "901");
	test_assert_streq(find(st, "Churn", "number030", true), "300 303 306 309");
	test_assert_streq(find(st, "Churn", "rived", true), "901");
	test_assert_inteq(nfound(st, "Churn", "ee", true), 300);   /* 299 keepers left, and 901 */
	test_assert_inteq(nfound(st, "Churn", "keeper", true), 300);
	test_assert_inteq(nfound(st, "Churn", "goner", false), 0);
	snprintf(name, sizeof(name), "%s", find(st, "Churn", "CHURN 29", false));
	test_assert_streq(name, "291 294 297");
	test_assert_streq(find(st, "Churn", "churn", true), "");
	test_end();
}

/* Turns user's index into the schema 2 layout: the text stored in a
 * regular FTS5 table (fts_text) and user_version 2. */
static int
make_schema2(const char *dir, const char *who)
{
	struct store *st = NULL;
	const char *error;
	sqlite3_stmt *s, *ins;
	int ret = -1;

	if (store_open(dir, who, &st, &error) == -1)
		return -1;
	if (store_exec(st, "BEGIN IMMEDIATE; DROP TABLE fts_idx; DROP TABLE fts_map;"
			   " DELETE FROM meta WHERE key LIKE 'fts_%';"
			   " CREATE VIRTUAL TABLE fts_text USING fts5(header, body,"
			   "  tokenize = 'trigram case_sensitive 0', detail = none, columnsize = 0);"
			   " CREATE TABLE fts_map(mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL,"
			   "  doc INTEGER NOT NULL, PRIMARY KEY(mailbox_id, uid)) WITHOUT ROWID;"
			   " CREATE INDEX fts_map_doc ON fts_map(doc);") != SQLITE_OK)
		goto out;
	sqlite3_prepare_v2(st->db, "SELECT mailbox_id, uid, file FROM messages", -1, &s, NULL);
	sqlite3_prepare_v2(st->db, "INSERT INTO fts_text(rowid, header, body) VALUES(?1, ?2, ?3)", -1, &ins, NULL);
	for (int64_t doc = 1; sqlite3_step(s) == SQLITE_ROW; doc++) {
		struct buf h = BUF_INIT, b = BUF_INIT;
		char sql[128];

		fts_file_text(st, (const char *)sqlite3_column_text(s, 2), &h, &b);
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, doc);
		sqlite3_bind_text(ins, 2, h.data != NULL ? h.data : "", (int)h.len, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 3, b.data != NULL ? b.data : "", (int)b.len, SQLITE_TRANSIENT);
		sqlite3_step(ins);
		snprintf(sql, sizeof(sql), "INSERT INTO fts_map VALUES(%lld, %lld, %lld)",
			 (long long)sqlite3_column_int64(s, 0), (long long)sqlite3_column_int64(s, 1), (long long)doc);
		store_exec(st, sql);
		buf_free(&h);
		buf_free(&b);
	}
	sqlite3_finalize(s);
	sqlite3_finalize(ins);
	/* an index from before schema 3 is not auto_vacuum */
	if (store_exec(st, "PRAGMA user_version = 2; COMMIT; PRAGMA auto_vacuum = NONE; VACUUM") != SQLITE_OK)
		goto out;
	ret = 0;
out:
	store_close(&st);
	return ret;
}

static void
test_migration(const char *dir)
{
	static const char who[] = "old@example.com";
	struct store *st = NULL;
	const char *error;
	int64_t before, after;
	char text[4096];
	int i;

	test_begin("store_fts: schema 2 (text stored twice) migrates in place to the contentless index");
	for (i = 0; i < 200; i++) {
		int k = snprintf(text, sizeof(text), "Subject: old %d\r\n\r\n", i);

		while (k < 3000)
			k += snprintf(text + k, sizeof(text) - (size_t)k, "lorem %d ipsum dolor sit amet %d\r\n",
				      i * 7 + k, k);
		if (i == 42)
			snprintf(text + k, sizeof(text) - (size_t)k, "Quetzalcoatl\r\n");
		test_assert(deliver_to(dir, who, text) == 0);
	}
	test_assert(make_schema2(dir, who) == 0);
	test_assert(store_open(dir, who, &st, &error) == 0);
	if (st == NULL) {
		test_end();
		return;
	}
	before = count(st, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size");
	test_assert_inteq(count(st, "PRAGMA user_version"), STORE_SCHEMA_VERSION);  /* 3 and on */
	test_assert_inteq(count(st, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'fts_text%'"), 0);
	test_assert_inteq(count(st, "SELECT count(*) FROM sqlite_master WHERE name = 'fts_idx'"), 1);
	test_assert_inteq(count(st, "SELECT value FROM meta WHERE key = 'fts_vacuum'"), 1);
	test_assert_streq(find(st, "INBOX", "quetzalcoatl", true), "43");
	test_assert_streq(find(st, "INBOX", "old 42", false), "43");
	test_assert_inteq(count(st, "SELECT count(*) FROM fts_map"), 200);
	test_assert(maintain_all(st) == 0);
	after = count(st, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size");
	printf("# schema 2 -> 3: index.db %lld -> %lld bytes (200 messages of 3 KB)\n", (long long)before,
	       (long long)after);
	test_assert(after < before / 2);
	test_assert_inteq(count(st, "PRAGMA auto_vacuum"), 2);
	test_assert_inteq(count(st, "SELECT count(*) FROM meta WHERE key = 'fts_vacuum'"), 0);
	test_assert_streq(find(st, "INBOX", "quetzalcoatl", true), "43");
	test_assert_streq(find(st, "INBOX", "tz", true), "43");
	store_close(&st);
	test_end();
}

/* ---- 20,000 messages ---- */

static uint64_t rng = 88172645463325252ULL;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define BULK_N 20000
#define VOCAB 4000
#define BULK_BATCH 500

static void
word(char *out, uint32_t i)
{
	static const char *const syl[] = { "ka", "lo", "mi", "re", "tu", "san", "vel", "dor",
					   "pix", "quo", "ber", "nal", "sti", "gra", "fen", "yol" };

	out[0] = '\0';
	do {
		strcat(out, syl[i % 16]);
		i /= 16;
	} while (i > 0);
}

static void
test_bulk(struct store *st)
{
	int64_t mb;
	struct buf msg = BUF_INIT;
	char w[64];
	double t0, t1, t_fts = 0, t_commit = 0, t_index, t_search, t_common, t_short, t_none;
	uint32_t *uids = NULL;
	size_t n = 0, want = 0, i, j, k;
	const char *error;
	bool ok = true;

	test_begin("store_fts: 20,000 messages indexed and searched");
	test_assert(store_exec(st, "INSERT INTO mailboxes(name, uidvalidity, uidnext, highestmodseq)"
				   " VALUES('Big', 9, 1, 1)") == SQLITE_OK);
	mb = mailbox_id(st, "Big");
	t0 = now();
	/* as a batch delivery does it: the rows, then the texts (see
	 * store_fts.c on the order), one transaction per BULK_BATCH */
	for (i = 1; i <= BULK_N && ok; i += BULK_BATCH) {
		ok = store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK;
		for (k = i; k < i + BULK_BATCH && ok; k++)
			ok = msg_row(st, mb, (uint32_t)k) == 0;
		for (k = i; k < i + BULK_BATCH && ok; k++) {
			buf_reset(&msg);
			buf_printf(&msg, "From: user%zu@example.com\r\nTo: fts@example.com\r\n"
					 "Subject: note %zu about %s\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
					 "Message-ID: <%zu@example.com>\r\n"
					 "Content-Type: text/plain; charset=utf-8\r\n\r\n",
				   k, k, "things", k);
			for (j = 0; j < 250; j++) {
				/* skewed towards the first words, as language is */
				word(w, (uint32_t)((uint64_t)(rnd() % VOCAB) * (rnd() % VOCAB) / VOCAB));
				buf_puts(&msg, w);
				buf_puts(&msg, j % 12 == 11 ? "\r\n" : " ");
			}
			if (k % 100 == 0) {
				buf_puts(&msg, "Zanzibarian\r\n");
				want++;
			}
			ok = put_file(st, file_of(mb, (uint32_t)k), msg.data, msg.len) == 0;
			t1 = now();
			ok = ok && store_fts_index(st, mb, (uint32_t)k, msg.data, msg.len) == 0;
			t_fts += now() - t1;
		}
		t1 = now();
		ok = ok && store_exec(st, "COMMIT") == SQLITE_OK;
		t_commit += now() - t1;
	}
	test_assert(ok);
	t_index = now() - t0;

	t0 = now();
	test_assert(store_fts_search(st, "Big", "zanzibarian", false, &uids, &n, &error) == 0);
	t_search = now() - t0;
	test_assert_inteq(n, want);
	for (i = 0; i < n; i++)
		ok = ok && uids[i] == (i + 1) * 100;
	test_assert(ok);
	free(uids);

	t0 = now();
	word(w, 5);
	test_assert(store_fts_search(st, "Big", w, true, &uids, &n, &error) == 0);
	t_common = now() - t0;
	printf("# common word \"%s\": %zu hits\n", w, n);
	test_assert(n > 1000);
	free(uids);

	t0 = now();
	test_assert(store_fts_search(st, "Big", "qqqq", false, &uids, &n, &error) == 0);
	t_none = now() - t0;
	test_assert_inteq(n, 0);
	free(uids);

	t0 = now();
	test_assert(store_fts_search(st, "Big", "Zz", false, &uids, &n, &error) == 0);
	t_short = now() - t0;
	test_assert_inteq(n, 0);
	free(uids);

	printf("# %d messages: store_fts_index %.2f s in all (%.0f us each), COMMITs %.2f s\n",
	       BULK_N, t_fts, t_fts / BULK_N * 1e6, t_commit);
	printf("# %d messages: indexed in %.2f s (%.0f/s); SEARCH TEXT: no match %.2f ms,"
	       " rare word (%zu hits) %.2f ms; BODY common word %.2f ms; 2-character needle (index terms) %.0f ms\n",
	       BULK_N, t_index, BULK_N / t_index, t_none * 1e3, want, t_search * 1e3, t_common * 1e3,
	       t_short * 1e3);
	printf("# index.db %lld KiB\n",
	       (long long)(count(st, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size") /
			   1024));
	test_end();
	buf_free(&msg);
}

int
main(void)
{
	char dir[] = "/tmp/tern-fts-XXXXXX";
	struct store *st = NULL;
	const char *error;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_begin("store_fts: open a store (store_open creates the FTS tables)");
	test_assert(store_open(dir, user, &st, &error) == 0);
	test_assert(st != NULL && store_fts_schema(st) == 0);
	test_end();
	if (st != NULL) {
		test_search(st);
		test_copy_delete(st);
		test_in_step(dir, st);
		test_compaction(st);
		test_bulk(st);
		store_close(&st);
	}
	test_migration(dir);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return test_done();
}
