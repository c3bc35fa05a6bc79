/* The store as IMAP sees it (store_imap.h): real SQLite files and real
 * message files in a mkdtemp() directory, no mocks. */
#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_fts.h"
#include "store/store_imap.h"
#include "store/store_maint.h"
#include "store/store_private.h"
#include "test.h"

/* ---- helpers ---- */

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *
tmpdir(void)
{
	char tmpl[] = "/tmp/tern-store-imap-XXXXXX";
	char *d = mkdtemp(tmpl);

	return d != NULL ? strdup(d) : NULL;
}

static int
spool_with(const char *data_dir, const char *data, size_t len, struct store_spool *sp)
{
	enum store_error err;
	const char *error;

	if (store_spool_create(data_dir, sp, &error) == -1)
		return -1;
	if (store_spool_write(sp, data, len, &err) == -1 || store_spool_commit(sp, &err) == -1) {
		store_spool_discard(sp);
		return -1;
	}
	return 0;
}

static int
deliver(const char *dd, const char *user, const char *text)
{
	struct store_spool sp;
	enum store_error err;
	const char *error;
	int r;

	if (spool_with(dd, text, strlen(text), &sp) == -1)
		return -1;
	r = store_deliver(dd, &sp, &user, 1, 1700000000, &err, &error);
	if (r == -1)
		printf("# deliver: %s\n", error);
	store_spool_discard(&sp);
	return r;
}

/* Full-text rows come after the COMMIT (the indexer thread, or the next
 * SEARCH): index mailbox now, as a SEARCH would. */
static void
fts_index(struct store *st, const char *mailbox)
{
	uint32_t *uids = NULL;
	size_t n = 0;
	const char *error;

	test_assert(store_fts_search(st, mailbox, "zzzz-no-such-text", false, &uids, &n, &error) == 0);
	free(uids);
}

/* One APPEND of text. */
static int
append1(struct store *st, const char *dd, const char *mailbox, const char *text, uint32_t flags, const char *kw,
        uint32_t *uid_out)
{
	struct store_spool sp;
	struct store_append a;
	const char *error;
	uint32_t uidv;
	int r;

	if (spool_with(dd, text, strlen(text), &sp) == -1)
		return -1;
	a = (struct store_append){ .spool = &sp, .flags = flags, .keywords = kw, .internal_date = 1600000000 };
	r = store_imap_append(st, mailbox, &a, 1, 0, 0, &uidv, &error);
	if (r != STORE_OK)
		printf("# append: %d %s\n", r, error);
	store_spool_discard(&sp);
	if (uid_out != NULL)
		*uid_out = a.uid_out;
	return r;
}

static int64_t
sql_int(const char *dd, const char *user, const char *sql)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	store_user_dir(dd, user, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/index.db", dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		int rc = sqlite3_step(s);

		if (rc == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
		else if (rc == SQLITE_DONE)
			v = 0;
		sqlite3_finalize(s);
	} else {
		printf("# sql: %s\n", sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	return v;
}

static size_t
count_msg_files(const char *dd, const char *user)
{
	char dir[PATH_MAX], msg[PATH_MAX + 8];
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	store_user_dir(dd, user, dir, sizeof(dir));
	snprintf(msg, sizeof(msg), "%s/msg", dir);
	if ((d = opendir(msg)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static nlink_t
links_of(struct store *st, const char *file)
{
	struct stat sb;

	return fstatat(st->msg_dirfd, file, &sb, 0) == 0 ? sb.st_nlink : 0;
}

/* The change hook records its calls. */
struct hook_call {
	char user[64];
	char mailbox[64];
	uint64_t modseq;
};
static struct hook_call hook_calls[64];
static size_t hook_n;
static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;

static void
hook_record(const char *user, const char *mailbox, uint64_t modseq)
{
	pthread_mutex_lock(&hook_mu);
	if (hook_n < sizeof(hook_calls) / sizeof(hook_calls[0])) {
		snprintf(hook_calls[hook_n].user, sizeof(hook_calls[hook_n].user), "%s", user);
		snprintf(hook_calls[hook_n].mailbox, sizeof(hook_calls[hook_n].mailbox), "%s", mailbox);
		hook_calls[hook_n].modseq = modseq;
		hook_n++;
	}
	pthread_mutex_unlock(&hook_mu);
}

static void
hook_reset(void)
{
	pthread_mutex_lock(&hook_mu);
	hook_n = 0;
	pthread_mutex_unlock(&hook_mu);
}

/* Whether the hook saw (mailbox, modseq) for user. */
static bool
hook_saw(const char *user, const char *mailbox, uint64_t modseq)
{
	bool found = false;

	pthread_mutex_lock(&hook_mu);
	for (size_t i = 0; i < hook_n && !found; i++)
		found = strcmp(hook_calls[i].user, user) == 0 && strcmp(hook_calls[i].mailbox, mailbox) == 0 &&
		        hook_calls[i].modseq == modseq;
	pthread_mutex_unlock(&hook_mu);
	return found;
}

static const char *
entry_special(const struct store_mailbox_entry *e, size_t n, const char *name, bool *exists, bool *subscribed)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(e[i].name, name) == 0) {
			if (exists != NULL)
				*exists = e[i].exists;
			if (subscribed != NULL)
				*subscribed = e[i].subscribed;
			return e[i].special_use != NULL ? e[i].special_use : "";
		}
	}
	return NULL;
}

static uint32_t
uidvalidity_of(struct store *st, const char *name)
{
	struct store_mailbox_status s;
	const char *error;

	if (store_mailbox_status(st, name, &s, &error) != STORE_OK)
		return 0;
	return s.uidvalidity;
}

/* A message with a header clients look at, from RFC 3501's examples. */
static const char fred[] =
	"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
	"From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
	"Subject: afternoon meeting\r\n"
	"To: mooch@owatagu.siam.edu.example\r\n"
	"Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
	"\r\n"
	"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
/* Written by hand from RFC 3501 7.4.2: Sender and Reply-To default to
 * From; 55 octets and 1 line of body; extension data of a single part is
 * md5, disposition, language, location. */
static const char fred_envelope[] =
	"(\"Mon, 7 Feb 1994 21:52:25 -0800 (PST)\" \"afternoon meeting\""
	" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\"))"
	" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\"))"
	" ((\"Fred Foobar\" NIL \"foobar\" \"Blurdybloop.example\"))"
	" ((NIL NIL \"mooch\" \"owatagu.siam.edu.example\"))"
	" NIL NIL NIL \"<B27397-0100000@Blurdybloop.example>\")";
static const char fred_body[] = "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 55 1)";
static const char fred_bodystructure[] =
	"(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 55 1 NIL NIL NIL NIL)";
#define FRED_HEADER_SIZE 271
#define FRED_SENT 760686745     /* 1994-02-08T05:52:25Z */

static const char plain[] = "From: a@example.net\r\nSubject: hi\r\n\r\nbody\r\n";

/* ---- tests ---- */

static void
test_date_parse(void)
{
	test_begin("store_imap: RFC 5322 dates, obsolete forms, garbage is 0");
	test_assert_inteq(store_date_parse("Mon, 7 Feb 1994 21:52:25 -0800 (PST)"), FRED_SENT);
	test_assert_inteq(store_date_parse("7 Feb 1994 21:52:25 -0800"), FRED_SENT);
	test_assert_inteq(store_date_parse("Tue, 08 Feb 1994 05:52:25 +0000"), FRED_SENT);
	test_assert_inteq(store_date_parse("Tue, 8 FEB 94 05:52:25 GMT"), FRED_SENT);
	test_assert_inteq(store_date_parse("Mon, 7 Feb 1994 21:52:25 PST"), FRED_SENT);
	test_assert_inteq(store_date_parse("Mon (day) , 7 (x) Feb 1994 21 : 52 : 25 -0800"), FRED_SENT);
	test_assert_inteq(store_date_parse("Mon, 2 January 2006 15:04:05 -0700"), 1136239445);
	test_assert_inteq(store_date_parse("Fri, 31 Dec 1999 23:00 +0000"), 946681200);
	test_assert_inteq(store_date_parse("31 Dec 49 23:59:59 Z"), 2524607999);
	test_assert_inteq(store_date_parse("Fri, 31 Dec 1999 23:00:00"), 946681200);  /* no zone: -0000 */
	test_assert_inteq(store_date_parse(NULL), 0);
	test_assert_inteq(store_date_parse(""), 0);
	test_assert_inteq(store_date_parse("yesterday"), 0);
	{
		int32_t z = 1;

		test_assert_inteq(store_date_parse_zone("Mon, 7 Feb 1994 21:52:25 -0800 (PST)", &z), FRED_SENT);
		test_assert_inteq(z, -8 * 3600);
		test_assert_inteq(store_date_parse_zone("Sun, 25 Mar 2007 00:00:00 +0230", &z), 1174771800);
		test_assert_inteq(z, 2 * 3600 + 30 * 60);
		test_assert_inteq(store_date_parse_zone("Mon, 7 Feb 1994 21:52:25 PDT", &z), FRED_SENT - 3600);
		test_assert_inteq(z, -7 * 3600);
		test_assert_inteq(store_date_parse_zone("yesterday", &z), 0);
		test_assert_inteq(z, 0);
	}
	test_assert_inteq(store_date_parse("32 Jan 2000 00:00:00 +0000"), 0);
	test_assert_inteq(store_date_parse("1 Foo 2000 00:00:00 +0000"), 0);
	test_assert_inteq(store_date_parse("1 Jan 2000 24:00:00 +0000"), 0);
	test_assert_inteq(store_date_parse("1 Jan 2000"), 0);
	test_end();
}

static void
test_keywords_normalize(void)
{
	char out[STORE_KEYWORDS_BUF];
	char many[STORE_KEYWORDS_MAX * 8 + 16] = "";
	char longkw[STORE_KEYWORD_LEN_MAX + 2];

	test_begin("store_imap: keywords are atoms, deduplicated in any case, sorted");
	test_assert_inteq(store_keywords_normalize("b $Label1  a B $label1", out), STORE_OK);
	test_assert_streq(out, "$Label1 a b");
	test_assert_inteq(store_keywords_normalize("", out), STORE_OK);
	test_assert_streq(out, "");
	test_assert_inteq(store_keywords_normalize(NULL, out), STORE_OK);
	test_assert_inteq(store_keywords_normalize("\\Seen", out), STORE_IMAP_BADNAME);
	test_assert_inteq(store_keywords_normalize("a(b", out), STORE_IMAP_BADNAME);
	test_assert_inteq(store_keywords_normalize("a]", out), STORE_IMAP_BADNAME);
	test_assert_inteq(store_keywords_normalize("caf\xc3\xa9", out), STORE_IMAP_BADNAME);
	for (int i = 0; i <= STORE_KEYWORDS_MAX; i++) {
		char w[16];

		snprintf(w, sizeof(w), "k%d ", i);
		strcat(many, w);
	}
	test_assert_inteq(store_keywords_normalize(many, out), STORE_IMAP_LIMIT);
	memset(longkw, 'x', sizeof(longkw) - 1);
	longkw[sizeof(longkw) - 1] = '\0';
	test_assert_inteq(store_keywords_normalize(longkw, out), STORE_IMAP_LIMIT);
	longkw[sizeof(longkw) - 2] = '\0';
	test_assert_inteq(store_keywords_normalize(longkw, out), STORE_OK);
	test_end();
}

static void
test_delivery_cache(void)
{
	const char *user = "cache@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_msg_cached c;
	const char *error;

	test_begin("store_imap: delivery caches ENVELOPE, BODY, BODYSTRUCTURE, header size, Date");
	test_assert(deliver(dd, user, fred) == 0);
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache"), 1);
	test_assert_inteq(store_msg_cached(st, "INBOX", 1, &c, &error), STORE_OK);
	test_assert_streq(c.envelope, fred_envelope);
	test_assert_streq(c.body, fred_body);
	test_assert_streq(c.bodystructure, fred_bodystructure);
	test_assert_inteq(c.header_size, FRED_HEADER_SIZE);
	test_assert_inteq(c.sent_date, FRED_SENT);
	/* the same through the name cache, and under another spelling */
	test_assert_inteq(store_msg_cached(st, "inbox", 1, &c, &error), STORE_OK);
	test_assert_streq(c.envelope, fred_envelope);
	test_assert_inteq(store_msg_cached(st, "INBOX", 2, &c, &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_msg_cached(st, "Nope", 1, &c, &error), STORE_IMAP_NONEXISTENT);
	/* a message without a Date header: sent_date 0 */
	test_assert(deliver(dd, user, plain) == 0);
	test_assert_inteq(store_msg_cached(st, "INBOX", 2, &c, &error), STORE_OK);
	test_assert_inteq(c.sent_date, 0);
	test_assert_inteq(c.header_size, strstr(plain, "body") - plain);
	/* the full-text index: a SEARCH finds the new message (its rows come
	 * after the COMMIT, from the indexer thread or the search itself) */
	{
		uint32_t *uids = NULL;
		size_t n = 0;

		test_assert(store_fts_search(st, "INBOX", "TOMORROW", false, &uids, &n, &error) == 0);
		test_assert_inteq(n, 1);
		if (n == 1)
			test_assert_inteq(uids[0], 1);
		free(uids);
	}
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_view(void)
{
	const char *user = "view@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_mailbox_info info;
	uint32_t *uids = NULL, unseen = 0, uid;
	size_t n = 0;
	char *kw = NULL;
	const char *error;

	test_begin("store_imap_view: UIDs, first unseen, keywords in use (once, any case)");
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(store_imap_view(st, "INBOX", &info, &uids, &n, &unseen, &kw, &error), STORE_OK);
	test_assert_inteq(n, 0);
	test_assert_inteq(unseen, 0);
	test_assert_streq(kw, "");
	free(uids);
	free(kw);
	test_assert(append1(st, dd, "INBOX", plain, STORE_FLAG_SEEN, "$Work", &uid) == STORE_OK);
	test_assert(append1(st, dd, "INBOX", plain, 0, "$work Later", &uid) == STORE_OK);
	test_assert(append1(st, dd, "INBOX", plain, 0, "", &uid) == STORE_OK);
	test_assert_inteq(store_imap_view(st, "INBOX", &info, &uids, &n, &unseen, &kw, &error), STORE_OK);
	test_assert_inteq(n, 3);
	test_assert(n == 3 && uids[0] == 1 && uids[1] == 2 && uids[2] == 3);
	test_assert_inteq(unseen, 2);
	test_assert_streq(kw, "$Work Later");
	test_assert_inteq(info.exists, 3);
	test_assert_inteq(info.uidnext, 4);
	free(uids);
	free(kw);
	test_assert_inteq(store_imap_view(st, "Nope", &info, &uids, &n, &unseen, &kw, &error), STORE_IMAP_NONEXISTENT);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_name_cache_rename(void)
{
	const char *user = "ncache@example.com";
	char *dd = tmpdir();
	struct store *st = NULL, *other = NULL;
	struct store_msg_cached c;
	const char *error;

	test_begin("store_imap: msg_cached's name lookup survives a rename by another handle");
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert(store_open(dd, user, &other, &error) == 0);
	test_assert_inteq(store_mailbox_create(st, "A", NULL, &error), STORE_OK);
	test_assert_inteq(append1(st, dd, "A", fred, 0, "", NULL), STORE_OK);
	test_assert_inteq(store_msg_cached(st, "A", 1, &c, &error), STORE_OK);
	/* "A" becomes "B"; a new, empty "A" appears */
	test_assert_inteq(store_mailbox_rename(other, "A", "B", &error), STORE_OK);
	test_assert_inteq(store_mailbox_create(other, "A", NULL, &error), STORE_OK);
	test_assert_inteq(store_msg_cached(st, "A", 1, &c, &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_msg_cached(st, "B", 1, &c, &error), STORE_OK);
	test_assert_streq(c.envelope, fred_envelope);
	store_close(&other);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

/* The schema a v1 Tern wrote (store_index.c before IMAP), with a user's
 * data in it. */
static const char v1_schema[] =
	"CREATE TABLE mailboxes(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL, highestmodseq INTEGER NOT NULL, special_use TEXT,"
	" subscribed INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE messages(mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" flags INTEGER NOT NULL DEFAULT 0, keywords TEXT NOT NULL DEFAULT '', internal_date INTEGER NOT NULL,"
	" size INTEGER NOT NULL, file TEXT NOT NULL, envelope TEXT, bodystructure TEXT,"
	" PRIMARY KEY(mailbox_id, uid));"
	"CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);"
	"CREATE TABLE expunged(mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" PRIMARY KEY(mailbox_id, uid));"
	"CREATE INDEX expunged_modseq ON expunged(mailbox_id, modseq);"
	"CREATE TABLE uidvalidity_used(name TEXT PRIMARY KEY, uidvalidity INTEGER NOT NULL);"
	"PRAGMA user_version = 1;"
	"PRAGMA journal_mode = WAL;"
	"INSERT INTO mailboxes VALUES(1, 'INBOX', 1500000000, 41, 7, NULL, 1);"
	"INSERT INTO uidvalidity_used VALUES('INBOX', 1500000000);";

static void
test_migration_v1(void)
{
	const char *user = "old@example.com";
	char *dd = tmpdir();
	char dir[PATH_MAX], path[PATH_MAX + 32];
	struct store *st = NULL;
	struct store_mailbox_status ms;
	struct store_imap_msg *m = NULL;
	struct store_mailbox_info info;
	struct store_msg_cached c;
	struct store_mailbox_entry *e = NULL;
	size_t n = 0, ne = 0;
	bool subscribed = false;
	const char *error;
	sqlite3 *db;
	FILE *f;

	test_begin("store_imap: a v1 index migrates in place; old rows get their cache on demand");
	store_user_dir(dd, user, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/msg", dir);
	test_assert(store_mkdirs(path) == 0);
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "%s/msg/1500000000.%016x", dir, i);
		test_assert((f = fopen(path, "w")) != NULL);
		if (f != NULL) {
			fputs(i == 4 ? fred : plain, f);
			fclose(f);
		}
	}
	snprintf(path, sizeof(path), "%s/index.db", dir);
	test_assert(sqlite3_open(path, &db) == SQLITE_OK);
	test_assert(sqlite3_exec(db, v1_schema, NULL, NULL, NULL) == SQLITE_OK);
	for (int i = 0; i < 40; i++) {
		char sql[256];

		snprintf(sql, sizeof(sql),
		         "INSERT INTO messages(mailbox_id, uid, modseq, flags, internal_date, size, file)"
		         " VALUES(1, %d, %d, %d, 1500000000, %zu, '1500000000.%016x')",
		         i + 1, 2 + i % 5, i < 10 ? 1 : 0, i == 4 ? strlen(fred) : strlen(plain), i);
		test_assert(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	}
	sqlite3_close(db);

	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(sql_int(dd, user, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	test_assert_inteq(sql_int(dd, user, "SELECT messages FROM mailboxes WHERE name = 'INBOX'"), 40);
	test_assert_inteq(sql_int(dd, user, "SELECT bytes FROM mailboxes WHERE name = 'INBOX'"),
	                  39 * strlen(plain) + strlen(fred));
	test_assert_inteq(store_mailbox_status(st, "INBOX", &ms, &error), STORE_OK);
	test_assert_inteq(ms.messages, 40);
	test_assert_inteq(ms.unseen, 30);
	test_assert_inteq(ms.first_unseen_uid, 11);
	test_assert_inteq(ms.uidvalidity, 1500000000);
	test_assert_inteq(ms.uidnext, 41);
	test_assert_inteq(ms.highestmodseq, 7);
	test_assert(store_mailboxes(st, &e, &ne, &error) == 0);
	test_assert(entry_special(e, ne, "INBOX", NULL, &subscribed) != NULL);
	test_assert(subscribed);
	store_mailbox_entries_free(e, ne);
	test_assert_inteq(store_imap_list(st, "INBOX", &info, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 40);
	if (n == 40) {
		test_assert_streq(m[0].keywords, "");
		test_assert_inteq(m[0].flags, STORE_FLAG_SEEN);
		/* stored before save dates were kept: not known (SAVEDATE NIL) */
		test_assert_inteq(m[0].save_date, 0);
	}
	store_imap_msgs_free(m, n);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache"), 0);
	/* first FETCH ENVELOPE of an old row: parsed, cached with the ones
	 * after it */
	test_assert_inteq(store_msg_cached(st, "INBOX", 5, &c, &error), STORE_OK);
	test_assert_streq(c.envelope, fred_envelope);
	test_assert_streq(c.bodystructure, fred_bodystructure);
	test_assert_inteq(c.header_size, FRED_HEADER_SIZE);
	test_assert_inteq(c.sent_date, FRED_SENT);
	test_assert_inteq(c.sent_zone, -8 * 3600);   /* "-0800" */
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache"), 32);
	test_assert_inteq(store_msg_cached(st, "INBOX", 5, &c, &error), STORE_OK);
	test_assert_streq(c.body, fred_body);
	/* UID 1 brings 2..4 and 37..40 (within the window, uncached) */
	test_assert_inteq(store_msg_cached(st, "INBOX", 1, &c, &error), STORE_OK);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache"), 40);
	/* reopening finds the current version and does nothing */
	store_close(&st);
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache"), 40);
	/* a row cached by schema 2 (no zone) is parsed again when asked */
	test_assert_inteq(sql_int(dd, user, "UPDATE msg_cache SET sent_zone = NULL"), 0);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache WHERE sent_zone IS NULL"), 40);
	test_assert_inteq(store_msg_cached(st, "INBOX", 5, &c, &error), STORE_OK);
	test_assert_inteq(c.sent_date, FRED_SENT);
	test_assert_inteq(c.sent_zone, -8 * 3600);
	test_assert_streq(c.envelope, fred_envelope);
	test_assert_inteq(sql_int(dd, user, "SELECT sent_zone FROM msg_cache WHERE id = (1 << 32) | 5"), -8 * 3600);
	/* and the triggers keep the counters from now on */
	test_assert_inteq(append1(st, dd, "INBOX", plain, 0, "", NULL), STORE_OK);
	test_assert_inteq(store_mailbox_status(st, "INBOX", &ms, &error), STORE_OK);
	test_assert_inteq(ms.messages, 41);
	test_assert_inteq(ms.size, 40 * strlen(plain) + strlen(fred));
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_mailboxes_defaults(void)
{
	const char *user = "def@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	bool exists = false, subscribed = false;
	const char *error;

	test_begin("store_imap: default mailboxes once, with SPECIAL-USE, subscribed; list sorted INBOX first");
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(store_mailbox_create(st, "Sent", NULL, &error), STORE_OK);  /* user's own */
	test_assert(store_ensure_default_mailboxes(st, &error) == 0);
	test_assert(store_mailboxes(st, &e, &n, &error) == 0);
	test_assert_inteq(n, 6);
	if (n == 6) {
		test_assert_streq(e[0].name, "INBOX");
		test_assert_streq(e[1].name, "Archive");
		test_assert_streq(e[5].name, "Trash");
	}
	test_assert_streq(entry_special(e, n, "Drafts", &exists, &subscribed), "\\Drafts");
	test_assert(exists && subscribed);
	test_assert_streq(entry_special(e, n, "Sent", NULL, &subscribed), "\\Sent");
	test_assert(subscribed);
	test_assert_streq(entry_special(e, n, "Trash", NULL, NULL), "\\Trash");
	test_assert_streq(entry_special(e, n, "Junk", NULL, NULL), "\\Junk");
	test_assert_streq(entry_special(e, n, "Archive", NULL, NULL), "\\Archive");
	test_assert_streq(entry_special(e, n, "INBOX", NULL, NULL), "");
	store_mailbox_entries_free(e, n);
	/* deleted by the user: not created again */
	test_assert_inteq(store_mailbox_delete(st, "Junk", &error), STORE_OK);
	test_assert(store_ensure_default_mailboxes(st, &error) == 0);
	test_assert(store_mailboxes(st, &e, &n, &error) == 0);
	/* Junk's subscription stays (RFC 9051 6.3.9), as a missing name */
	test_assert_streq(entry_special(e, n, "Junk", &exists, &subscribed), "");
	test_assert(!exists && subscribed);
	store_mailbox_entries_free(e, n);
	/* subscriptions to names that do not exist */
	test_assert(store_mailbox_subscribe(st, "Zeta/x", true, &error) == 0);
	test_assert(store_mailbox_subscribe(st, "Trash", false, &error) == 0);
	test_assert(store_mailbox_subscribe(st, "Nothing", false, &error) == 0);
	test_assert(store_mailbox_subscribe(st, "", true, &error) == -1);
	test_assert(store_mailboxes(st, &e, &n, &error) == 0);
	test_assert(entry_special(e, n, "Zeta/x", &exists, &subscribed) != NULL);
	test_assert(!exists && subscribed);
	test_assert(entry_special(e, n, "Trash", &exists, &subscribed) != NULL);
	test_assert(exists && !subscribed);
	if (n > 0)
		test_assert_streq(e[n - 1].name, "Zeta/x");
	store_mailbox_entries_free(e, n);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_create_names(void)
{
	const char *user = "names@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_mailbox_entry *e = NULL;
	char longname[STORE_MAILBOX_NAME_MAX + 2], deep[STORE_MAILBOX_DEPTH_MAX * 2 + 4] = "";
	size_t n = 0;
	const char *error;

	test_begin("store_imap: CREATE makes superiors, checks names, INBOX in any case");
	test_assert(store_open(dd, user, &st, &error) == 0);
	hook_reset();
	test_assert_inteq(store_mailbox_create(st, "a/b/c", NULL, &error), STORE_OK);
	test_assert(hook_saw(user, "a", 0) && hook_saw(user, "a/b", 0) && hook_saw(user, "a/b/c", 0));
	test_assert_inteq(store_mailbox_create(st, "a/b/c", NULL, &error), STORE_IMAP_EXISTS);
	test_assert_inteq(store_mailbox_create(st, "a/b", NULL, &error), STORE_IMAP_EXISTS);
	test_assert_inteq(store_mailbox_create(st, "a/d/", NULL, &error), STORE_OK); /* trailing '/' */
	test_assert(uidvalidity_of(st, "a/d") != 0);
	test_assert_inteq(store_mailbox_create(st, "inbox", NULL, &error), STORE_IMAP_EXISTS);
	test_assert_inteq(store_mailbox_create(st, "inbox/Sub", NULL, &error), STORE_OK);
	test_assert(uidvalidity_of(st, "INBOX/Sub") != 0);
	test_assert(uidvalidity_of(st, "Inbox/Sub") != 0);
	test_assert_inteq(store_mailbox_create(st, "", NULL, &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_create(st, "/x", NULL, &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_create(st, "x//y", NULL, &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_create(st, "x*", NULL, &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_create(st, "x%", NULL, &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_create(st, "x\ty", NULL, &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_create(st, "caf\xe9", NULL, &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_create(st, "\xed\xa0\x80", NULL, &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_create(st, "Caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac", NULL, &error), STORE_OK);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	test_assert_inteq(store_mailbox_create(st, longname, NULL, &error), STORE_IMAP_BADNAME);
	for (int i = 0; i <= STORE_MAILBOX_DEPTH_MAX; i++)
		strcat(deep, i == 0 ? "d" : "/d");
	test_assert_inteq(store_mailbox_create(st, deep, NULL, &error), STORE_IMAP_BADNAME);
	deep[strlen(deep) - 2] = '\0';
	test_assert_inteq(store_mailbox_create(st, deep, NULL, &error), STORE_OK);
	/* CREATE-SPECIAL-USE */
	test_assert_inteq(store_mailbox_create(st, "Old mail", "\\archive", &error), STORE_OK);
	test_assert_inteq(store_mailbox_create(st, "Everything", "\\All", &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_create(st, "Odd", "\\Foo", &error), STORE_IMAP_BADNAME);
	test_assert(store_mailboxes(st, &e, &n, &error) == 0);
	test_assert_streq(entry_special(e, n, "Old mail", NULL, NULL), "\\Archive");
	test_assert(entry_special(e, n, "Everything", NULL, NULL) == NULL);
	/* CREATE does not subscribe (RFC 9051 6.3.4 says nothing of it) */
	{
		bool subscribed = true;

		test_assert(entry_special(e, n, "a/b", NULL, &subscribed) != NULL);
		test_assert(!subscribed);
	}
	store_mailbox_entries_free(e, n);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_mailbox_limit(void)
{
	const char *user = "many@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	const char *error;
	char sql[256];

	test_begin("store_imap: STORE_MAILBOXES_MAX is a LIMIT, superiors count");
	test_assert(store_open(dd, user, &st, &error) == 0);
	/* fill up to the bound directly, it is quicker */
	snprintf(sql, sizeof(sql),
	         "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < %d)"
	         " INSERT INTO mailboxes(name, uidvalidity, uidnext, highestmodseq) SELECT 'f' || x, x, 1, 1 FROM c",
	         STORE_MAILBOXES_MAX - 3);
	test_assert(sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK);
	test_assert_inteq(store_mailbox_create(st, "x/y/z", NULL, &error), STORE_IMAP_LIMIT);
	test_assert(uidvalidity_of(st, "x") == 0);        /* all or nothing */
	test_assert_inteq(store_mailbox_create(st, "x/y", NULL, &error), STORE_OK);
	test_assert_inteq(store_mailbox_create(st, "z", NULL, &error), STORE_IMAP_LIMIT);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_delete(void)
{
	const char *user = "del@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_mailbox_entry *e = NULL;
	size_t n = 0;
	uint32_t v1, v2;
	bool exists = true;
	const char *error;

	test_begin("store_imap: DELETE removes messages and files, keeps inferiors, never reuses UIDVALIDITY");
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(store_mailbox_delete(st, "INBOX", &error), STORE_IMAP_NOPERM);
	test_assert_inteq(store_mailbox_delete(st, "inbox", &error), STORE_IMAP_NOPERM);
	test_assert_inteq(store_mailbox_delete(st, "nope", &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_mailbox_create(st, "P/c", NULL, &error), STORE_OK);
	test_assert_inteq(append1(st, dd, "P", fred, 0, "", NULL), STORE_OK);
	test_assert_inteq(append1(st, dd, "P", plain, 0, "", NULL), STORE_OK);
	test_assert_inteq(append1(st, dd, "P/c", plain, 0, "", NULL), STORE_OK);
	test_assert_inteq(count_msg_files(dd, user), 3);
	fts_index(st, "INBOX");
	fts_index(st, "P");
	fts_index(st, "P/c");
	v1 = uidvalidity_of(st, "P");
	hook_reset();
	test_assert_inteq(store_mailbox_delete(st, "P", &error), STORE_OK);
	test_assert(hook_saw(user, "P", 0));
	test_assert_inteq(count_msg_files(dd, user), 1);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache"), 1);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM fts_map"), 1);
	test_assert(uidvalidity_of(st, "P") == 0);
	test_assert(uidvalidity_of(st, "P/c") != 0);
	test_assert(store_mailboxes(st, &e, &n, &error) == 0);
	test_assert(entry_special(e, n, "P", &exists, NULL) == NULL);
	store_mailbox_entries_free(e, n);
	/* "P" is now only a superior: RFC 9051 6.3.5 */
	test_assert_inteq(store_mailbox_delete(st, "P", &error), STORE_IMAP_HASCHILDREN);
	test_assert_inteq(store_mailbox_create(st, "P", NULL, &error), STORE_OK);
	v2 = uidvalidity_of(st, "P");
	test_assert(v2 > v1);
	{
		struct store_mailbox_status s;

		test_assert_inteq(store_mailbox_status(st, "P", &s, &error), STORE_OK);
		test_assert_inteq(s.messages, 0);
		test_assert_inteq(s.uidnext, 1);
	}
	/* and reopening does not bring anything back */
	store_close(&st);
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(uidvalidity_of(st, "P"), v2);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_rename(void)
{
	const char *user = "ren@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_mailbox_entry *e = NULL;
	struct store_msg_cached c;
	size_t n = 0;
	uint32_t va, vab, vnew;
	bool subscribed = false, exists = false;
	const char *error;

	test_begin("store_imap: RENAME moves inferiors, subscriptions, keeps UIDs and UIDVALIDITY");
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(store_mailbox_create(st, "a/b", NULL, &error), STORE_OK);
	test_assert_inteq(store_mailbox_create(st, "a/b/c", NULL, &error), STORE_OK);
	test_assert_inteq(store_mailbox_create(st, "ab", NULL, &error), STORE_OK);  /* not an inferior */
	test_assert_inteq(store_mailbox_create(st, "x", NULL, &error), STORE_OK);
	test_assert_inteq(append1(st, dd, "a/b", fred, STORE_FLAG_FLAGGED, "Work", NULL), STORE_OK);
	test_assert(store_mailbox_subscribe(st, "a/b/c", true, &error) == 0);
	va = uidvalidity_of(st, "a");
	vab = uidvalidity_of(st, "a/b");
	test_assert_inteq(store_mailbox_rename(st, "nope", "y", &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_mailbox_rename(st, "a", "x", &error), STORE_IMAP_EXISTS);
	test_assert_inteq(store_mailbox_rename(st, "a", "INBOX", &error), STORE_IMAP_EXISTS);
	test_assert_inteq(store_mailbox_rename(st, "a", "a/z", &error), STORE_IMAP_BADNAME);
	test_assert_inteq(store_mailbox_rename(st, "a", "q//r", &error), STORE_IMAP_BADNAME);
	hook_reset();
	test_assert_inteq(store_mailbox_rename(st, "a", "n/m", &error), STORE_OK);
	test_assert(hook_saw(user, "a", 0) && hook_saw(user, "a/b", 0) && hook_saw(user, "a/b/c", 0));
	test_assert(hook_saw(user, "n", 0));     /* superior created */
	test_assert(uidvalidity_of(st, "a") == 0 && uidvalidity_of(st, "a/b") == 0);
	test_assert_inteq(uidvalidity_of(st, "n/m"), va);
	test_assert_inteq(uidvalidity_of(st, "n/m/b"), vab);
	test_assert(uidvalidity_of(st, "n/m/b/c") != 0);
	test_assert(uidvalidity_of(st, "ab") != 0);
	test_assert_inteq(store_msg_cached(st, "n/m/b", 1, &c, &error), STORE_OK);
	test_assert_streq(c.envelope, fred_envelope);
	{
		struct store_imap_msg *m = NULL;
		size_t k = 0;

		test_assert_inteq(store_imap_list(st, "n/m/b", NULL, &m, &k, &error), STORE_OK);
		test_assert_inteq(k, 1);
		if (k == 1) {
			test_assert_streq(m[0].keywords, "Work");
			test_assert_inteq(m[0].flags, STORE_FLAG_FLAGGED);
		}
		store_imap_msgs_free(m, k);
	}
	test_assert(store_mailboxes(st, &e, &n, &error) == 0);
	test_assert(entry_special(e, n, "n/m/b/c", &exists, &subscribed) != NULL);
	test_assert(exists && subscribed);
	test_assert(entry_special(e, n, "a/b/c", NULL, NULL) == NULL);
	store_mailbox_entries_free(e, n);
	/* the old name, created again, gets a new UIDVALIDITY; so does a
	 * name renamed onto a name used before */
	test_assert_inteq(store_mailbox_create(st, "a/b", NULL, &error), STORE_OK);
	vnew = uidvalidity_of(st, "a/b");
	test_assert(vnew > va && vnew > vab);
	test_assert_inteq(store_mailbox_rename(st, "n/m/b", "ab2", &error), STORE_OK);
	test_assert_inteq(store_mailbox_rename(st, "ab2", "a/b/q", &error), STORE_OK);
	test_assert_inteq(uidvalidity_of(st, "a/b/q"), vab);
	/* "a/b" -> "a" (deleted, a superior only): a/b/b takes a/b's old
	 * name while a/b takes a's */
	test_assert_inteq(store_mailbox_create(st, "a/b/b", NULL, &error), STORE_OK);
	test_assert_inteq(store_mailbox_rename(st, "a/b", "a", &error), STORE_IMAP_EXISTS);
	test_assert_inteq(store_mailbox_delete(st, "a", &error), STORE_OK);
	test_assert_inteq(store_mailbox_rename(st, "a/b", "a", &error), STORE_OK);
	test_assert_inteq(uidvalidity_of(st, "a"), vnew);
	test_assert_inteq(uidvalidity_of(st, "a/q"), vab);
	test_assert(uidvalidity_of(st, "a/b") != 0);      /* the old a/b/b */
	test_assert(uidvalidity_of(st, "a/b/b") == 0);
	/* a superior only (\Noselect) renames its inferiors */
	test_assert_inteq(store_mailbox_delete(st, "a", &error), STORE_OK);
	test_assert_inteq(store_mailbox_rename(st, "a", "k", &error), STORE_OK);
	test_assert_inteq(uidvalidity_of(st, "k/q"), vab);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_rename_inbox(void)
{
	const char *user = "ri@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_mailbox_status s;
	struct store_imap_msg *m = NULL;
	struct store_msg_cached c;
	uint32_t *vanished = NULL;
	size_t n = 0, nv = 0;
	uint32_t vinbox;
	uint64_t hms;
	const char *error;

	test_begin("store_imap: RENAME INBOX moves its messages, leaves INBOX empty, inferiors stay");
	test_assert(deliver(dd, user, fred) == 0);
	test_assert(deliver(dd, user, plain) == 0);
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(store_mailbox_create(st, "INBOX/kid", NULL, &error), STORE_OK);
	vinbox = uidvalidity_of(st, "INBOX");
	test_assert_inteq(store_mailbox_status(st, "INBOX", &s, &error), STORE_OK);
	hms = s.highestmodseq;
	test_assert_inteq(store_mailbox_rename(st, "INBOX", "Old/INBOX", &error), STORE_OK);
	test_assert_inteq(store_mailbox_status(st, "INBOX", &s, &error), STORE_OK);
	test_assert_inteq(s.messages, 0);
	test_assert_inteq(s.uidvalidity, vinbox);
	test_assert_inteq(s.uidnext, 3);
	test_assert_inteq(s.size, 0);
	test_assert(s.highestmodseq > hms);
	test_assert(uidvalidity_of(st, "INBOX/kid") != 0);
	test_assert(uidvalidity_of(st, "Old") != 0);
	test_assert_inteq(store_imap_changes(st, "INBOX", hms, NULL, &m, &n, &vanished, &nv, &error), STORE_OK);
	test_assert_inteq(n, 0);
	test_assert_inteq(nv, 2);
	store_imap_msgs_free(m, n);
	free(vanished);
	test_assert_inteq(store_mailbox_status(st, "Old/INBOX", &s, &error), STORE_OK);
	test_assert_inteq(s.messages, 2);
	test_assert(s.uidvalidity > vinbox);
	test_assert_inteq(s.uidnext, 3);
	test_assert(s.highestmodseq > hms);
	test_assert_inteq(store_msg_cached(st, "Old/INBOX", 1, &c, &error), STORE_OK);
	test_assert_streq(c.envelope, fred_envelope);
	{
		uint32_t *uids = NULL;
		size_t k = 0;

		test_assert(store_fts_search(st, "Old/INBOX", "tomorrow", true, &uids, &k, &error) == 0);
		test_assert_inteq(k, 1);
		free(uids);
		test_assert(store_fts_search(st, "INBOX", "tomorrow", true, &uids, &k, &error) == 0);
		test_assert_inteq(k, 0);
		free(uids);
	}
	/* new mail still goes to the (same) INBOX, with new UIDs */
	test_assert(deliver(dd, user, plain) == 0);
	test_assert_inteq(store_imap_list(st, "INBOX", NULL, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 1);
	if (n == 1)
		test_assert_inteq(m[0].uid, 3);
	store_imap_msgs_free(m, n);
	test_assert_inteq(store_mailbox_rename(st, "INBOX", "Old/INBOX", &error), STORE_IMAP_EXISTS);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_flags(void)
{
	const char *user = "flags@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_imap_msg *ch = NULL, *m = NULL;
	uint32_t *failed = NULL;
	size_t nch = 0, nf = 0, n = 0;
	uint32_t all[] = { 1, 2, 3, 4 };
	struct store_mailbox_status s;
	const char *error;
	uint64_t hms;

	test_begin("store_imap: STORE flags and keywords, MODSEQ only on change, UNCHANGEDSINCE");
	for (int i = 0; i < 4; i++)
		test_assert(deliver(dd, user, plain) == 0);
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(store_mailbox_status(st, "INBOX", &s, &error), STORE_OK);
	hms = s.highestmodseq;

	/* +FLAGS (\Seen $Label1) on 1:2 */
	hook_reset();
	{
		struct store_flags_change c = { STORE_FLAGS_ADD, STORE_FLAG_SEEN, "$Label1", 0 };
		uint32_t u[] = { 1, 2, 99 };

		test_assert_inteq(store_imap_flags(st, "INBOX", u, 3, &c, &ch, &nch, &failed, &nf, &error), STORE_OK);
		test_assert_inteq(nch, 2);
		test_assert_inteq(nf, 0);
		for (size_t i = 0; i < nch; i++) {
			test_assert_inteq(ch[i].uid, i + 1);
			test_assert_inteq(ch[i].flags, STORE_FLAG_SEEN);
			test_assert_streq(ch[i].keywords, "$Label1");
			test_assert_inteq(ch[i].modseq, hms + 1);
		}
		store_imap_msgs_free(ch, nch);
		free(failed);
		test_assert(hook_saw(user, "INBOX", hms + 1));
	}
	/* the same again changes nothing: MODSEQ stays */
	{
		struct store_flags_change c = { STORE_FLAGS_ADD, STORE_FLAG_SEEN, "$label1", 0 };

		hook_reset();
		test_assert_inteq(store_imap_flags(st, "INBOX", all, 4, &c, &ch, &nch, &failed, &nf, &error), STORE_OK);
		test_assert_inteq(nch, 2);       /* 3 and 4 change */
		if (nch == 2) {
			test_assert_inteq(ch[0].uid, 3);
			test_assert_streq(ch[0].keywords, "$label1");
		}
		store_imap_msgs_free(ch, nch);
		free(failed);
		test_assert_inteq(store_imap_get(st, "INBOX", all, 4, &m, &n, &error), STORE_OK);
		test_assert_inteq(n, 4);
		if (n == 4) {
			test_assert_inteq(m[0].modseq, hms + 1);
			test_assert_inteq(m[2].modseq, hms + 2);
			test_assert_streq(m[0].keywords, "$Label1");   /* first spelling kept */
		}
		store_imap_msgs_free(m, n);
		test_assert_inteq(store_imap_flags(st, "INBOX", all, 4, &c, &ch, &nch, &failed, &nf, &error), STORE_OK);
		test_assert_inteq(nch, 0);
		test_assert(ch == NULL);
		test_assert_inteq(hook_n, 1);
	}
	/* FLAGS (\Flagged b A) replaces; -FLAGS removes in any case */
	{
		struct store_flags_change set = { STORE_FLAGS_SET, STORE_FLAG_FLAGGED, "b $LABEL1 A", 0 };
		struct store_flags_change rm = { STORE_FLAGS_REMOVE, STORE_FLAG_FLAGGED, "B", 0 };
		uint32_t u[] = { 1 };

		test_assert_inteq(store_imap_flags(st, "INBOX", u, 1, &set, &ch, &nch, &failed, &nf, &error), STORE_OK);
		test_assert_inteq(nch, 1);
		if (nch == 1) {
			test_assert_inteq(ch[0].flags, STORE_FLAG_FLAGGED);
			test_assert_streq(ch[0].keywords, "$Label1 A b");
		}
		store_imap_msgs_free(ch, nch);
		test_assert_inteq(store_imap_flags(st, "INBOX", u, 1, &rm, &ch, &nch, &failed, &nf, &error), STORE_OK);
		if (nch == 1) {
			test_assert_inteq(ch[0].flags, 0);
			test_assert_streq(ch[0].keywords, "$Label1 A");
		}
		store_imap_msgs_free(ch, nch);
	}
	/* UNCHANGEDSINCE: messages modified after it fail, others change */
	{
		struct store_flags_change c = { STORE_FLAGS_ADD, STORE_FLAG_ANSWERED, "", hms + 1 };

		test_assert_inteq(store_imap_flags(st, "INBOX", all, 4, &c, &ch, &nch, &failed, &nf, &error), STORE_OK);
		test_assert_inteq(nch, 1);
		if (nch == 1)
			test_assert_inteq(ch[0].uid, 2);
		test_assert_inteq(nf, 3);
		if (nf == 3) {
			test_assert_inteq(failed[0], 1);
			test_assert_inteq(failed[1], 3);
			test_assert_inteq(failed[2], 4);
		}
		store_imap_msgs_free(ch, nch);
		free(failed);
	}
	/* errors: bad keyword, too many, bad flag bits, no mailbox */
	{
		char many[STORE_KEYWORDS_MAX * 8] = "";
		struct store_flags_change bad = { STORE_FLAGS_ADD, 0, "\\Recent", 0 };
		struct store_flags_change bits = { STORE_FLAGS_ADD, 1u << 9, "", 0 };
		struct store_flags_change lots = { STORE_FLAGS_ADD, 0, many, 0 };

		test_assert_inteq(store_imap_flags(st, "INBOX", all, 4, &bad, &ch, &nch, &failed, &nf, &error),
		                  STORE_IMAP_BADNAME);
		test_assert_inteq(store_imap_flags(st, "INBOX", all, 4, &bits, &ch, &nch, &failed, &nf, &error),
		                  STORE_IMAP_BADNAME);
		test_assert_inteq(store_imap_flags(st, "Nope", all, 4, &bad, &ch, &nch, &failed, &nf, &error),
		                  STORE_IMAP_BADNAME);
		bad.keywords = "";
		test_assert_inteq(store_imap_flags(st, "Nope", all, 4, &bad, &ch, &nch, &failed, &nf, &error),
		                  STORE_IMAP_NONEXISTENT);
		/* 63 new ones fit next to $Label1 and A only up to the bound */
		for (int i = 0; i < STORE_KEYWORDS_MAX - 1; i++) {
			char w[8];

			snprintf(w, sizeof(w), "k%d ", i);
			strcat(many, w);
		}
		test_assert_inteq(store_imap_flags(st, "INBOX", all, 4, &lots, &ch, &nch, &failed, &nf, &error),
		                  STORE_IMAP_LIMIT);
		test_assert_inteq(store_imap_get(st, "INBOX", all, 1, &m, &n, &error), STORE_OK);
		if (n == 1)
			test_assert_streq(m[0].keywords, "$Label1 A");   /* all or none */
		store_imap_msgs_free(m, n);
	}
	/* FLAGS (\Flagged ...) took \Seen off UID 1 */
	test_assert_inteq(store_mailbox_status(st, "INBOX", &s, &error), STORE_OK);
	test_assert_inteq(s.unseen, 1);
	test_assert_inteq(s.first_unseen_uid, 1);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_get_select(void)
{
	const char *user = "get@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_imap_msg *m = NULL;
	size_t n = 0;
	const char *error;
	uint32_t dense[40], sparse[] = { 1, 7, 39, 1000 }, unsorted[] = { 5, 3, 3, 9 };

	test_begin("store_imap: get by UIDs, dense and sparse, sorted or not");
	for (int i = 0; i < 40; i++)
		test_assert(deliver(dd, user, plain) == 0);
	test_assert(store_open(dd, user, &st, &error) == 0);
	for (int i = 0; i < 40; i++)
		dense[i] = (uint32_t)(i + 2);   /* 2..41: 41 is not there */
	test_assert_inteq(store_imap_get(st, "INBOX", dense, 40, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 39);
	if (n == 39)
		test_assert(m[0].uid == 2 && m[38].uid == 40 && m[5].size == strlen(plain));
	store_imap_msgs_free(m, n);
	test_assert_inteq(store_imap_get(st, "INBOX", sparse, 4, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 3);
	if (n == 3)
		test_assert(m[0].uid == 1 && m[1].uid == 7 && m[2].uid == 39);
	store_imap_msgs_free(m, n);
	test_assert_inteq(store_imap_get(st, "INBOX", unsorted, 4, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 3);
	if (n == 3)
		test_assert(m[0].uid == 3 && m[1].uid == 5 && m[2].uid == 9);
	store_imap_msgs_free(m, n);
	test_assert_inteq(store_imap_get(st, "Nope", sparse, 4, &m, &n, &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_imap_list(st, "Nope", NULL, &m, &n, &error), STORE_IMAP_NONEXISTENT);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_expunge_changes(void)
{
	const char *user = "exp@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_imap_msg *ch = NULL;
	struct store_mailbox_info info;
	uint32_t *failed = NULL, *gone = NULL, *vanished = NULL;
	size_t nch = 0, nf = 0, ngone = 0, nv = 0;
	uint32_t del[] = { 2, 3, 5 }, some[] = { 3, 4, 5 };
	struct store_flags_change c = { STORE_FLAGS_ADD, STORE_FLAG_DELETED, "", 0 };
	uint64_t before;
	const char *error;

	test_begin("store_imap: EXPUNGE of \\Deleted (all or by UID), changes and VANISHED since a MODSEQ");
	for (int i = 0; i < 6; i++)
		test_assert(deliver(dd, user, plain) == 0);
	test_assert(store_open(dd, user, &st, &error) == 0);
	fts_index(st, "INBOX");
	test_assert_inteq(store_imap_flags(st, "INBOX", del, 3, &c, &ch, &nch, &failed, &nf, &error), STORE_OK);
	store_imap_msgs_free(ch, nch);
	free(failed);
	{
		struct store_mailbox_status s;

		test_assert_inteq(store_mailbox_status(st, "INBOX", &s, &error), STORE_OK);
		test_assert_inteq(s.deleted, 3);
		test_assert_inteq(s.unseen, 6);
		test_assert_inteq(s.first_unseen_uid, 1);
		before = s.highestmodseq;
	}
	/* UID EXPUNGE 3:5 takes 3 and 5 only */
	hook_reset();
	test_assert_inteq(store_imap_expunge(st, "INBOX", some, 3, &gone, &ngone, &error), STORE_OK);
	test_assert_inteq(ngone, 2);
	if (ngone == 2)
		test_assert(gone[0] == 3 && gone[1] == 5);
	free(gone);
	test_assert(hook_saw(user, "INBOX", before + 1));
	test_assert_inteq(count_msg_files(dd, user), 4);
	/* a flag change after it */
	{
		struct store_flags_change seen = { STORE_FLAGS_ADD, STORE_FLAG_SEEN, "", 0 };
		uint32_t u[] = { 6 };

		test_assert_inteq(store_imap_flags(st, "INBOX", u, 1, &seen, &ch, &nch, &failed, &nf, &error), STORE_OK);
		store_imap_msgs_free(ch, nch);
	}
	test_assert_inteq(store_imap_changes(st, "INBOX", before, &info, &ch, &nch, &vanished, &nv, &error),
	                  STORE_OK);
	test_assert_inteq(nch, 1);
	if (nch == 1)
		test_assert(ch[0].uid == 6 && ch[0].modseq == before + 2 && ch[0].flags == STORE_FLAG_SEEN);
	test_assert_inteq(nv, 2);
	if (nv == 2)
		test_assert(vanished[0] == 3 && vanished[1] == 5);
	test_assert_inteq(info.exists, 4);
	test_assert_inteq(info.highestmodseq, before + 2);
	test_assert_inteq(info.uidnext, 7);
	store_imap_msgs_free(ch, nch);
	free(vanished);
	/* since the newest MODSEQ: nothing */
	test_assert_inteq(store_imap_changes(st, "INBOX", before + 2, NULL, &ch, &nch, &vanished, &nv, &error),
	                  STORE_OK);
	test_assert(nch == 0 && nv == 0);
	store_imap_msgs_free(ch, nch);
	free(vanished);
	/* since 0: every message, every vanished UID */
	test_assert_inteq(store_imap_changes(st, "INBOX", 0, NULL, &ch, &nch, &vanished, &nv, &error), STORE_OK);
	test_assert(nch == 4 && nv == 2);
	store_imap_msgs_free(ch, nch);
	free(vanished);
	/* EXPUNGE (all \Deleted): 2 is left; expunged_out may be NULL */
	test_assert_inteq(store_imap_expunge(st, "INBOX", NULL, 0, NULL, NULL, &error), STORE_OK);
	test_assert_inteq(count_msg_files(dd, user), 3);
	test_assert_inteq(store_imap_expunge(st, "INBOX", NULL, 0, &gone, &ngone, &error), STORE_OK);
	test_assert_inteq(ngone, 0);
	free(gone);
	test_assert_inteq(store_imap_expunge(st, "Nope", NULL, 0, &gone, &ngone, &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_imap_changes(st, "Nope", 0, NULL, &ch, &nch, &vanished, &nv, &error),
	                  STORE_IMAP_NONEXISTENT);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache"), 3);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM fts_map"), 3);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_copy_move(void)
{
	const char *user = "copy@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_imap_msg *m = NULL, *src = NULL;
	struct store_msg_cached c;
	uint32_t *su = NULL, *du = NULL, *vanished = NULL;
	size_t n = 0, nsrc = 0, nv = 0;
	uint32_t uidv = 0, want[] = { 1, 3, 4, 77 };
	struct store_mailbox_status s;
	bool missing = true;
	uint64_t src_hms;
	const char *error;

	test_begin("store_imap: COPY links files and pairs UIDs; MOVE in one transaction with VANISHED");
	test_assert(deliver(dd, user, fred) == 0);
	test_assert(deliver(dd, user, plain) == 0);
	test_assert(deliver(dd, user, fred) == 0);
	test_assert(deliver(dd, user, plain) == 0);
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert_inteq(store_mailbox_create(st, "Dst", NULL, &error), STORE_OK);
	test_assert_inteq(append1(st, dd, "Dst", plain, 0, "", NULL), STORE_OK);  /* Dst UID 1 */
	{
		struct store_flags_change f = { STORE_FLAGS_ADD, STORE_FLAG_SEEN, "Keep", 0 };
		struct store_imap_msg *ch = NULL;
		uint32_t *failed = NULL;
		size_t nch = 0, nf = 0;

		test_assert_inteq(store_imap_flags(st, "INBOX", want, 1, &f, &ch, &nch, &failed, &nf, &error), STORE_OK);
		store_imap_msgs_free(ch, nch);
	}
	test_assert_inteq(store_imap_list(st, "INBOX", NULL, &src, &nsrc, &error), STORE_OK);

	hook_reset();
	test_assert_inteq(store_imap_copy(st, "INBOX", "Dst", want, 4, false, 0, 0, &uidv, &su, &du, &n, &missing,
	                                  &error), STORE_OK);
	test_assert(!missing);
	test_assert_inteq(uidv, uidvalidity_of(st, "Dst"));
	test_assert_inteq(n, 3);
	if (n == 3) {
		test_assert(su[0] == 1 && su[1] == 3 && su[2] == 4);
		test_assert(du[0] == 2 && du[1] == 3 && du[2] == 4);
	}
	free(su);
	free(du);
	test_assert_inteq(store_mailbox_status(st, "Dst", &s, &error), STORE_OK);
	test_assert(hook_saw(user, "Dst", s.highestmodseq));
	test_assert_inteq(hook_n, 1);
	test_assert_inteq(s.messages, 4);
	test_assert_inteq(s.uidnext, 5);
	test_assert_inteq(s.size, 2 * strlen(plain) + 2 * strlen(fred));
	test_assert_inteq(store_imap_list(st, "Dst", NULL, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 4);
	if (n == 4 && nsrc == 4) {
		test_assert_inteq(m[1].flags, STORE_FLAG_SEEN);
		test_assert_streq(m[1].keywords, "Keep");
		test_assert_inteq(m[1].internal_date, src[0].internal_date);
		test_assert_inteq(m[1].modseq, s.highestmodseq);
		/* its own link to the same file */
		test_assert(strcmp(m[1].file, src[0].file) != 0);
		test_assert_inteq(links_of(st, m[1].file), 2);
	}
	store_imap_msgs_free(m, n);
	/* the cache and the full-text row came along without a parse */
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache"), 8);
	test_assert_inteq(store_msg_cached(st, "Dst", 2, &c, &error), STORE_OK);
	test_assert_streq(c.envelope, fred_envelope);
	{
		uint32_t *uids = NULL;
		size_t k = 0;

		test_assert(store_fts_search(st, "Dst", "meet at", true, &uids, &k, &error) == 0);
		test_assert_inteq(k, 2);
		free(uids);
	}
	/* errors */
	test_assert_inteq(store_imap_copy(st, "INBOX", "Nope", want, 4, false, 0, 0, &uidv, &su, &du, &n, &missing,
	                                  &error), STORE_IMAP_NONEXISTENT);
	test_assert(missing);
	test_assert_inteq(store_imap_copy(st, "Nope", "Dst", want, 4, false, 0, 0, &uidv, &su, &du, &n, &missing,
	                                  &error), STORE_IMAP_NONEXISTENT);
	test_assert(!missing);
	/* quota: bytes and count, copies only */
	test_assert_inteq(store_imap_copy(st, "INBOX", "Dst", want, 4, false, 8 * strlen(plain), 0, &uidv, &su, &du,
	                                  &n, &missing, &error), STORE_ERR_QUOTA);
	test_assert_inteq(store_imap_copy(st, "INBOX", "Dst", want, 4, false, 0, 10, &uidv, &su, &du, &n, &missing,
	                                  &error), STORE_ERR_QUOTA);
	test_assert_inteq(store_mailbox_status(st, "Dst", &s, &error), STORE_OK);
	test_assert_inteq(s.messages, 4);
	test_assert_inteq(count_msg_files(dd, user), 8);

	/* MOVE 1,3 to Dst */
	test_assert_inteq(store_mailbox_status(st, "INBOX", &s, &error), STORE_OK);
	src_hms = s.highestmodseq;
	hook_reset();
	test_assert_inteq(store_imap_copy(st, "INBOX", "Dst", want, 2, true, 1, 1, &uidv, &su, &du, &n, &missing,
	                                  &error), STORE_OK);
	test_assert_inteq(n, 2);
	if (n == 2)
		test_assert(su[0] == 1 && su[1] == 3 && du[0] == 5 && du[1] == 6);
	free(su);
	free(du);
	test_assert_inteq(count_msg_files(dd, user), 8);           /* no file work */
	test_assert(hook_saw(user, "INBOX", src_hms + 1));
	test_assert_inteq(store_imap_changes(st, "INBOX", src_hms, NULL, &m, &n, &vanished, &nv, &error), STORE_OK);
	test_assert_inteq(n, 0);
	test_assert_inteq(nv, 2);
	if (nv == 2)
		test_assert(vanished[0] == 1 && vanished[1] == 3);
	store_imap_msgs_free(m, n);
	free(vanished);
	test_assert_inteq(store_mailbox_status(st, "INBOX", &s, &error), STORE_OK);
	test_assert_inteq(s.messages, 2);
	test_assert_inteq(s.size, 2 * strlen(plain));
	test_assert_inteq(store_mailbox_status(st, "Dst", &s, &error), STORE_OK);
	test_assert(hook_saw(user, "Dst", s.highestmodseq));
	test_assert_inteq(s.messages, 6);
	test_assert_inteq(store_msg_cached(st, "Dst", 5, &c, &error), STORE_OK);
	test_assert_streq(c.envelope, fred_envelope);
	test_assert_inteq(store_msg_cached(st, "INBOX", 1, &c, &error), STORE_IMAP_NONEXISTENT);
	{
		uint32_t *uids = NULL;
		size_t k = 0;

		test_assert(store_fts_search(st, "INBOX", "tomorrow", true, &uids, &k, &error) == 0);
		test_assert_inteq(k, 0);
		free(uids);
		test_assert(store_fts_search(st, "Dst", "tomorrow", true, &uids, &k, &error) == 0);
		test_assert_inteq(k, 4);
		free(uids);
	}
	/* expunging a copy leaves the original readable */
	{
		struct store_flags_change d = { STORE_FLAGS_ADD, STORE_FLAG_DELETED, "", 0 };
		struct store_imap_msg *ch = NULL;
		uint32_t *failed = NULL, two[] = { 2 };
		size_t nch = 0, nf = 0;
		struct store_msg sm = { 0 };
		int fd;

		test_assert_inteq(store_imap_flags(st, "Dst", two, 1, &d, &ch, &nch, &failed, &nf, &error), STORE_OK);
		store_imap_msgs_free(ch, nch);
		test_assert_inteq(store_imap_expunge(st, "Dst", NULL, 0, NULL, NULL, &error), STORE_OK);
		test_assert_inteq(store_imap_list(st, "Dst", NULL, &m, &n, &error), STORE_OK);
		test_assert_inteq(n, 5);
		if (n == 5) {
			/* UID 5 is INBOX's old UID 1, the file UID 2 was a copy of */
			test_assert_inteq(m[3].uid, 5);
			memcpy(sm.file, m[3].file, sizeof(sm.file));
			test_assert((fd = store_msg_open(st, &sm, &error)) >= 0);
			if (fd >= 0)
				close(fd);
			test_assert_inteq(links_of(st, m[3].file), 1);
		}
		store_imap_msgs_free(m, n);
	}
	/* COPY and MOVE within one mailbox */
	{
		uint32_t one[] = { 1 };

		test_assert_inteq(store_imap_copy(st, "Dst", "Dst", one, 1, false, 0, 0, &uidv, &su, &du, &n, &missing,
		                                  &error), STORE_OK);
		test_assert(n == 1 && du[0] == 7);
		free(su);
		free(du);
		test_assert_inteq(store_imap_copy(st, "Dst", "Dst", one, 1, true, 0, 0, &uidv, &su, &du, &n, &missing,
		                                  &error), STORE_OK);
		test_assert(n == 1 && du[0] == 8);
		free(su);
		free(du);
		test_assert_inteq(store_mailbox_status(st, "Dst", &s, &error), STORE_OK);
		test_assert_inteq(s.messages, 6);
		test_assert_inteq(s.uidnext, 9);
	}
	/* nothing to copy: OK, empty */
	{
		uint32_t none[] = { 500 };

		test_assert_inteq(store_imap_copy(st, "INBOX", "Dst", none, 1, false, 0, 0, &uidv, &su, &du, &n,
		                                  &missing, &error), STORE_OK);
		test_assert_inteq(n, 0);
	}
	store_imap_msgs_free(src, nsrc);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_append(void)
{
	const char *user = "app@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_spool sp[3];
	struct store_append a[3];
	struct store_imap_msg *m = NULL;
	struct store_msg_cached c;
	uint32_t uidv = 0;
	size_t n = 0;
	uint64_t bytes = 0, msgs = 0;
	const char *error;

	test_begin("store_imap: APPEND keeps flags, keywords, date; all or none; quota");
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert(spool_with(dd, fred, strlen(fred), &sp[0]) == 0);
	test_assert(spool_with(dd, plain, strlen(plain), &sp[1]) == 0);
	test_assert(spool_with(dd, plain, strlen(plain), &sp[2]) == 0);
	a[0] = (struct store_append){ &sp[0], STORE_FLAG_SEEN | STORE_FLAG_DRAFT, "Zed $Forwarded", 1234567890, 0 };
	a[1] = (struct store_append){ &sp[1], 0, "", 1234567891, 0 };
	a[2] = (struct store_append){ &sp[2], 0, NULL, 1234567892, 0 };
	/* a missing spool file in the batch: nothing goes in */
	store_spool_discard(&sp[2]);
	hook_reset();
	test_assert(store_imap_append(st, "INBOX", a, 3, 0, 0, &uidv, &error) != STORE_OK);
	test_assert_inteq(hook_n, 0);
	test_assert_inteq(count_msg_files(dd, user), 0);
	test_assert_inteq(store_imap_list(st, "INBOX", NULL, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 0);
	store_imap_msgs_free(m, n);
	/* over quota: bytes, then count */
	test_assert_inteq(store_imap_append(st, "INBOX", a, 2, strlen(fred) + strlen(plain) - 1, 0, &uidv, &error),
	                  STORE_ERR_QUOTA);
	test_assert_inteq(store_imap_append(st, "INBOX", a, 2, 0, 1, &uidv, &error), STORE_ERR_QUOTA);
	test_assert_inteq(count_msg_files(dd, user), 0);
	test_assert_inteq(store_imap_append(st, "Nope", a, 2, 0, 0, &uidv, &error), STORE_IMAP_NONEXISTENT);
	{
		struct store_append bad = a[1];

		bad.keywords = "a\"b";
		test_assert_inteq(store_imap_append(st, "INBOX", &bad, 1, 0, 0, &uidv, &error), STORE_IMAP_BADNAME);
	}
	/* exactly at the quota: fine */
	test_assert_inteq(store_imap_append(st, "INBOX", a, 2, strlen(fred) + strlen(plain), 2, &uidv, &error),
	                  STORE_OK);
	test_assert(hook_saw(user, "INBOX", 2));
	test_assert_inteq(uidv, uidvalidity_of(st, "INBOX"));
	test_assert(a[0].uid_out == 1 && a[1].uid_out == 2);
	test_assert_inteq(store_imap_list(st, "inbox", NULL, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 2);
	if (n == 2) {
		test_assert_inteq(m[0].flags, STORE_FLAG_SEEN | STORE_FLAG_DRAFT);
		test_assert_streq(m[0].keywords, "$Forwarded Zed");
		test_assert_inteq(m[0].internal_date, 1234567890);
		test_assert_inteq(m[0].size, strlen(fred));
		test_assert(m[1].keywords == store_no_keywords);
		test_assert_inteq(m[1].internal_date, 1234567891);
	}
	store_imap_msgs_free(m, n);
	test_assert_inteq(store_msg_cached(st, "INBOX", 1, &c, &error), STORE_OK);
	test_assert_streq(c.bodystructure, fred_bodystructure);
	test_assert(store_usage(st, &bytes, &msgs, &error) == 0);
	test_assert_inteq(bytes, strlen(fred) + strlen(plain));
	test_assert_inteq(msgs, 2);
	store_spool_discard(&sp[0]);
	store_spool_discard(&sp[1]);
	/* the spool links went away, the message files stay */
	test_assert_inteq(count_msg_files(dd, user), 2);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_hook_pop3_paths(void)
{
	const char *user = "hook@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	uint32_t one[] = { 1 };
	const char *error;

	test_begin("store_imap: the change hook hears delivery and the POP3 flag/expunge paths");
	hook_reset();
	test_assert(deliver(dd, user, plain) == 0);
	test_assert(hook_saw(user, "INBOX", 2));
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert(store_flags_change(st, "INBOX", one, 1, STORE_FLAG_SEEN, true, &error) == 0);
	test_assert(hook_saw(user, "INBOX", 3));
	test_assert(store_expunge(st, "INBOX", one, 1, &error) == 0);
	test_assert(hook_saw(user, "INBOX", 4));
	test_assert_inteq(hook_n, 3);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM msg_cache"), 0);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM fts_map"), 0);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM expunged"), 1);
	/* nothing changed: no call */
	test_assert(store_expunge(st, "INBOX", one, 1, &error) == 0);
	test_assert_inteq(hook_n, 3);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

/* Reads the whole file of message m; -1 when it cannot be opened. */
static ssize_t
read_msg(struct store *st, const struct store_imap_msg *m, char *buf, size_t size)
{
	struct store_msg sm;
	const char *error;
	ssize_t r;
	int fd;

	memset(&sm, 0, sizeof(sm));
	sm.uid = m->uid;
	memcpy(sm.file, m->file, sizeof(sm.file));
	if ((fd = store_msg_open(st, &sm, &error)) == -1)
		return -1;
	r = read(fd, buf, size);
	close(fd);
	return r;
}

/* RFC 9051 7.5.1: a session may be told of an expunge later; until then
 * it may FETCH the message.  A read batch that began before another
 * connection's expunge still sees the row, so the file must still be
 * there for it (it was unlinked at once: FETCH said NO [SERVERBUG]). */
static void
test_expunge_during_batch(void)
{
	const char *user = "race@example.com";
	char *dd = tmpdir();
	struct store *a = NULL, *b = NULL;
	struct store_imap_msg *m = NULL, *m2 = NULL;
	uint32_t uids[] = { 1, 2 }, *ex = NULL;
	size_t n = 0, n2 = 0, nex = 0;
	struct store_flags_change del = { STORE_FLAGS_ADD, STORE_FLAG_DELETED, "", 0 };
	struct store_imap_msg *ch = NULL;
	uint32_t *failed = NULL;
	size_t nch = 0, nf = 0;
	char buf[8192];
	const char *error;

	test_begin("store_imap: an expunged file stays while an older read batch sees its row");
	test_assert(store_open(dd, user, &a, &error) == 0);
	test_assert(store_open(dd, user, &b, &error) == 0);
	test_assert_inteq(append1(b, dd, "INBOX", fred, 0, "", NULL), STORE_OK);
	test_assert_inteq(append1(b, dd, "INBOX", plain, 0, "", NULL), STORE_OK);
	/* a: a FETCH step reads the rows... */
	test_assert(store_read_begin(a, &error) == 0);
	test_assert_inteq(store_imap_get(a, "INBOX", uids, 2, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 2);
	/* ...b expunges both meanwhile... */
	test_assert_inteq(store_imap_flags(b, "INBOX", uids, 2, &del, &ch, &nch, &failed, &nf, &error), STORE_OK);
	store_imap_msgs_free(ch, nch);
	free(failed);
	test_assert_inteq(store_imap_expunge(b, "INBOX", NULL, 0, &ex, &nex, &error), STORE_OK);
	test_assert_inteq(nex, 2);
	free(ex);
	/* ...an orphan scan leaves their files alone (no row names them,
	 * but a batch may still read them)... */
	{
		struct timespec later;

		clock_gettime(CLOCK_REALTIME, &later);
		later.tv_sec += 10;
		test_assert_inteq(store_orphans_remove(b, &later, NULL, &error), 0);
	}
	/* ...a's snapshot still has them, and their files are still there */
	test_assert_inteq(store_imap_get(a, "INBOX", uids, 2, &m2, &n2, &error), STORE_OK);
	test_assert_inteq(n2, 2);
	store_imap_msgs_free(m2, n2);
	if (n == 2) {
		test_assert_inteq(read_msg(a, &m[0], buf, sizeof(buf)), strlen(fred));
		test_assert_inteq(read_msg(a, &m[1], buf, sizeof(buf)), strlen(plain));
		test_assert(memcmp(buf, plain, strlen(plain)) == 0);
	}
	/* a batch that begins after the expunge does not hold them */
	test_assert(store_read_begin(b, &error) == 0);
	/* the older batch ends: the files go */
	store_read_end(a);
	if (n == 2) {
		test_assert(read_msg(a, &m[0], buf, sizeof(buf)) == -1);
		test_assert(read_msg(a, &m[1], buf, sizeof(buf)) == -1);
	}
	store_read_end(b);
	store_imap_msgs_free(m, n);
	/* no batch open: an expunge unlinks at once */
	test_assert_inteq(append1(b, dd, "INBOX", plain, STORE_FLAG_DELETED, "", NULL), STORE_OK);
	test_assert_inteq(store_imap_list(a, "INBOX", NULL, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 1);
	test_assert_inteq(store_imap_expunge(b, "INBOX", NULL, 0, NULL, NULL, &error), STORE_OK);
	if (n == 1)
		test_assert(read_msg(a, &m[0], buf, sizeof(buf)) == -1);
	store_imap_msgs_free(m, n);
	/* a batch of another user holds nothing back */
	{
		struct store *o = NULL;

		test_assert(store_open(dd, "other@example.com", &o, &error) == 0);
		test_assert(store_read_begin(o, &error) == 0);
		test_assert_inteq(append1(b, dd, "INBOX", plain, STORE_FLAG_DELETED, "", NULL), STORE_OK);
		test_assert_inteq(store_imap_list(a, "INBOX", NULL, &m, &n, &error), STORE_OK);
		test_assert_inteq(store_imap_expunge(b, "INBOX", NULL, 0, NULL, NULL, &error), STORE_OK);
		if (n == 1)
			test_assert(read_msg(a, &m[0], buf, sizeof(buf)) == -1);
		store_imap_msgs_free(m, n);
		store_close(&o);
	}
	/* store_close ends a batch and lets its held files go */
	test_assert_inteq(append1(b, dd, "INBOX", plain, STORE_FLAG_DELETED, "", NULL), STORE_OK);
	test_assert(store_read_begin(a, &error) == 0);
	test_assert_inteq(store_imap_list(a, "INBOX", NULL, &m, &n, &error), STORE_OK);
	test_assert_inteq(store_imap_expunge(b, "INBOX", NULL, 0, NULL, NULL, &error), STORE_OK);
	if (n == 1)
		test_assert(read_msg(a, &m[0], buf, sizeof(buf)) > 0);
	store_close(&a);
	if (n == 1)
		test_assert(read_msg(b, &m[0], buf, sizeof(buf)) == -1);
	store_imap_msgs_free(m, n);
	store_close(&b);
	rm_rf(dd);
	free(dd);
	test_end();
}

/* SUBSCRIBE runs in a worker job's read batch; another connection's
 * commit after the batch's snapshot began (the indexer after a delivery)
 * made its INSERT fail with SQLITE_BUSY_SNAPSHOT: NO [UNAVAILABLE]. */
static void
test_subscribe_in_batch(void)
{
	const char *user = "subs@example.com";
	char *dd = tmpdir();
	struct store *a = NULL, *b = NULL;
	struct store_mailbox_entry *e = NULL;
	size_t ne = 0;
	bool subscribed = false;
	const char *error;

	test_begin("store_imap: SUBSCRIBE inside a read batch after another connection's commit");
	test_assert(store_open(dd, user, &a, &error) == 0);
	test_assert(store_open(dd, user, &b, &error) == 0);
	test_assert(store_read_begin(a, &error) == 0);
	test_assert(store_mailboxes(a, &e, &ne, &error) == 0);     /* the snapshot begins */
	store_mailbox_entries_free(e, ne);
	test_assert_inteq(store_mailbox_create(b, "Later", NULL, &error), STORE_OK);
	test_assert(store_mailbox_subscribe(a, "Later", true, &error) == 0);
	test_assert(store_read_begin(a, &error) == 0);
	test_assert(store_mailboxes(a, &e, &ne, &error) == 0);
	test_assert_inteq(append1(b, dd, "INBOX", plain, 0, "", NULL), STORE_OK);
	test_assert(store_mailbox_subscribe(a, "Later", false, &error) == 0);
	test_assert(store_mailbox_subscribe(a, "Later", true, &error) == 0);
	store_read_end(a);
	store_mailbox_entries_free(e, ne);
	test_assert(store_mailboxes(b, &e, &ne, &error) == 0);
	test_assert(entry_special(e, ne, "Later", NULL, &subscribed) != NULL);
	test_assert(subscribed);
	store_mailbox_entries_free(e, ne);
	store_close(&a);
	store_close(&b);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_read_batch(void)
{
	const char *user = "batch@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_imap_msg *m = NULL, *ch = NULL;
	struct store_msg_cached c;
	uint32_t *failed = NULL, one[] = { 1 };
	size_t n = 0, nch = 0, nf = 0;
	struct store_flags_change f = { STORE_FLAGS_ADD, STORE_FLAG_SEEN, "", 0 };
	const char *error;

	test_begin("store_imap: a read batch shares one snapshot; a write ends it");
	test_assert(deliver(dd, user, fred) == 0);
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert(store_read_begin(st, &error) == 0);
	test_assert(store_read_begin(st, &error) == 0);     /* already open: fine */
	test_assert_inteq(store_msg_cached(st, "INBOX", 1, &c, &error), STORE_OK);
	test_assert_inteq(store_msg_cached(st, "Nope", 1, &c, &error), STORE_IMAP_NONEXISTENT);
	/* a delivery by someone else is not seen inside the batch... */
	test_assert(deliver(dd, user, plain) == 0);
	test_assert_inteq(store_imap_list(st, "INBOX", NULL, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 1);
	store_imap_msgs_free(m, n);
	test_assert_inteq(store_msg_cached(st, "INBOX", 2, &c, &error), STORE_IMAP_NONEXISTENT);
	/* ...and a write on st ends the batch, then sees everything */
	test_assert_inteq(store_imap_flags(st, "INBOX", one, 1, &f, &ch, &nch, &failed, &nf, &error), STORE_OK);
	test_assert_inteq(nch, 1);
	store_imap_msgs_free(ch, nch);
	test_assert_inteq(store_imap_list(st, "INBOX", NULL, &m, &n, &error), STORE_OK);
	test_assert_inteq(n, 2);
	store_imap_msgs_free(m, n);
	store_read_end(st);
	store_read_end(st);
	/* a batch ended by hand: the next reads are fresh */
	test_assert(store_read_begin(st, &error) == 0);
	test_assert_inteq(store_msg_cached(st, "INBOX", 2, &c, &error), STORE_OK);
	test_assert(deliver(dd, user, plain) == 0);
	store_read_end(st);
	test_assert_inteq(store_msg_cached(st, "INBOX", 3, &c, &error), STORE_OK);
	/* store_close ends an open batch; a writer is not blocked by it */
	test_assert(store_read_begin(st, &error) == 0);
	test_assert_inteq(store_msg_cached(st, "INBOX", 3, &c, &error), STORE_OK);
	test_assert(deliver(dd, user, plain) == 0);
	store_close(&st);
	test_assert_inteq(sql_int(dd, user, "SELECT count(*) FROM messages"), 4);
	rm_rf(dd);
	free(dd);
	test_end();
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Not a test of speed (tests never assert on timings): it checks that
 * the big-mailbox paths work at 100,000 messages and prints what they
 * cost, for the lead's notes. */
static void
test_big_mailbox(void)
{
	const char *user = "big@example.com";
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_imap_msg *m = NULL, *ch = NULL;
	struct store_mailbox_info info;
	struct store_mailbox_status s;
	uint32_t *vanished = NULL, *failed = NULL, few[100];
	size_t n = 0, nch = 0, nv = 0, nf = 0;
	uint64_t bytes, msgs;
	double t0, t_list, t_status, t_changes, t_flags, t_usage;
	const char *error;

	test_begin("store_imap: a 100,000-message mailbox: list, status, changes, flags");
	test_assert(store_open(dd, user, &st, &error) == 0);
	test_assert(sqlite3_exec(st->db,
	                         "BEGIN;"
	                         "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000)"
	                         " INSERT INTO messages(mailbox_id, uid, modseq, flags, keywords, internal_date, size, file)"
	                         " SELECT 1, x, 2, CASE WHEN x < 99000 THEN 1 ELSE 0 END,"
	                         " CASE WHEN x % 10 = 0 THEN '$Junk' ELSE '' END, 1700000000 + x, 3000 + x % 5000,"
	                         " '1700000000.' || printf('%016x', x) FROM c;"
	                         "UPDATE mailboxes SET uidnext = 100001, highestmodseq = 2 WHERE name = 'INBOX';"
	                         "COMMIT;",
	                         NULL, NULL, NULL) == SQLITE_OK);
	t0 = now_ms();
	test_assert_inteq(store_imap_list(st, "INBOX", &info, &m, &n, &error), STORE_OK);
	t_list = now_ms() - t0;
	test_assert_inteq(n, 100000);
	test_assert_inteq(info.exists, 100000);
	if (n == 100000) {
		test_assert_streq(m[9].keywords, "$Junk");
		test_assert(m[0].keywords == store_no_keywords);
	}
	store_imap_msgs_free(m, n);
	t0 = now_ms();
	test_assert_inteq(store_mailbox_status(st, "INBOX", &s, &error), STORE_OK);
	t_status = now_ms() - t0;
	test_assert_inteq(s.messages, 100000);
	test_assert_inteq(s.unseen, 1001);
	test_assert_inteq(s.first_unseen_uid, 99000);
	t0 = now_ms();
	test_assert(store_usage(st, &bytes, &msgs, &error) == 0);
	t_usage = now_ms() - t0;
	test_assert_inteq(msgs, 100000);
	for (int i = 0; i < 100; i++)
		few[i] = (uint32_t)(1 + i * 997);
	{
		struct store_flags_change f = { STORE_FLAGS_ADD, STORE_FLAG_FLAGGED, "", 0 };

		t0 = now_ms();
		test_assert_inteq(store_imap_flags(st, "INBOX", few, 100, &f, &ch, &nch, &failed, &nf, &error),
		                  STORE_OK);
		t_flags = now_ms() - t0;
		test_assert_inteq(nch, 100);
		store_imap_msgs_free(ch, nch);
		free(failed);
	}
	t0 = now_ms();
	test_assert_inteq(store_imap_changes(st, "INBOX", 2, &info, &ch, &nch, &vanished, &nv, &error), STORE_OK);
	t_changes = now_ms() - t0;
	test_assert_inteq(nch, 100);
	test_assert_inteq(nv, 0);
	store_imap_msgs_free(ch, nch);
	free(vanished);
	{
		uint32_t *vu = NULL, unseen = 0;
		size_t vn = 0;
		char *kw = NULL;

		t0 = now_ms();
		test_assert_inteq(store_imap_view(st, "INBOX", &info, &vu, &vn, &unseen, &kw, &error), STORE_OK);
		printf("# 100k: view (SELECT) %.1f ms", now_ms() - t0);
		test_assert_inteq(vn, 100000);
		free(vu);
		free(kw);
		/* again, unchanged: from the view cache, the same answer */
		t0 = now_ms();
		test_assert_inteq(store_imap_view(st, "INBOX", &info, &vu, &vn, &unseen, &kw, &error), STORE_OK);
		printf(", again %.2f ms\n", now_ms() - t0);
		test_assert_inteq(vn, 100000);
		test_assert(vn == 100000 && vu[0] == 1 && vu[99999] == 100000);
		free(vu);
		free(kw);
	}
	printf("# 100k: list %.1f ms, status %.2f ms, usage %.2f ms, 100 flag changes %.1f ms,"
	       " changes since %.2f ms\n", t_list, t_status, t_usage, t_flags, t_changes);
	/* FETCH 1:* (ENVELOPE): one store_msg_cached per message */
	test_assert(sqlite3_exec(st->db,
	                         "INSERT INTO msg_cache(id, header_size, sent_date, envelope, bodystructure, body,"
	                         " sent_zone) SELECT (1 << 32) | uid, 900, 1700000000, printf('%.*c', 600, 'e'),"
	                         " printf('%.*c', 300, 'b'), printf('%.*c', 200, 'o'), 0 FROM messages",
	                         NULL, NULL, NULL) == SQLITE_OK);
	{
		struct store_msg_cached c;
		size_t total = 0;

		t0 = now_ms();
		for (uint32_t uid = 1; uid <= 100000; uid++) {
			if (store_msg_cached(st, "INBOX", uid, &c, &error) != STORE_OK)
				break;
			total += strlen(c.envelope);
		}
		t_list = now_ms() - t0;
		test_assert_inteq(total, 100000 * 600);
		total = 0;
		t0 = now_ms();
		test_assert(store_read_begin(st, &error) == 0);
		for (uint32_t uid = 1; uid <= 100000; uid++) {
			if (store_msg_cached(st, "INBOX", uid, &c, &error) != STORE_OK)
				break;
			total += strlen(c.envelope);
		}
		store_read_end(st);
		t_status = now_ms() - t0;
		test_assert_inteq(total, 100000 * 600);
	}
	/* STORE 1:* +FLAGS (\Seen) */
	{
		struct store_flags_change f = { STORE_FLAGS_ADD, STORE_FLAG_SEEN, "", 0 };
		uint32_t *all = malloc(100000 * sizeof(*all));

		for (uint32_t i = 0; all != NULL && i < 100000; i++)
			all[i] = i + 1;
		t0 = now_ms();
		test_assert_inteq(store_imap_flags(st, "INBOX", all, 100000, &f, &ch, &nch, &failed, &nf, &error),
		                  STORE_OK);
		t_flags = now_ms() - t0;
		test_assert_inteq(nch, 1001);
		store_imap_msgs_free(ch, nch);
		free(failed);
		free(all);
	}
	printf("# 100k: msg_cached x 100,000 %.1f ms (in a read batch %.1f ms), STORE 1:* +FLAGS (\\Seen) %.1f ms\n",
	       t_list, t_status, t_flags);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

int
main(void)
{
	store_set_change_hook(hook_record);
	test_date_parse();
	test_keywords_normalize();
	test_delivery_cache();
	test_view();
	test_name_cache_rename();
	test_migration_v1();
	test_mailboxes_defaults();
	test_create_names();
	test_mailbox_limit();
	test_delete();
	test_rename();
	test_rename_inbox();
	test_flags();
	test_get_select();
	test_expunge_changes();
	test_copy_move();
	test_append();
	test_hook_pop3_paths();
	test_read_batch();
	test_subscribe_in_batch();
	test_expunge_during_batch();
	test_big_mailbox();
	return test_done();
}
