/* Store tests: real SQLite files and real message files in a mkdtemp()
 * directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/limits.h"
#include "queue/queue.h"
#include "store/store.h"
#include "store/store_maint.h"
#include "store/store_private.h"
#include "test.h"

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
	char tmpl[] = "/tmp/tern-store-XXXXXX";
	char *d = mkdtemp(tmpl);

	return d != NULL ? strdup(d) : NULL;
}

/* A committed spool file holding data. */
static int
spool_with(const char *data_dir, const char *data, size_t len, struct store_spool *sp)
{
	enum store_error err;
	const char *error;

	if (store_spool_create(data_dir, sp, &error) == -1) {
		printf("# spool_create: %s\n", error);
		return -1;
	}
	if (store_spool_write(sp, data, len, &err) == -1 || store_spool_commit(sp, &err) == -1) {
		store_spool_discard(sp);
		return -1;
	}
	return 0;
}

static int
deliver_text(const char *data_dir, const char *text, const char *const *users, size_t n)
{
	struct store_spool sp;
	enum store_error err;
	const char *error;
	int r;

	if (spool_with(data_dir, text, strlen(text), &sp) == -1)
		return -1;
	r = store_deliver(data_dir, &sp, users, n, (int64_t)time(NULL), &err, &error);
	if (r == -1)
		printf("# deliver: %s\n", error);
	store_spool_discard(&sp);
	return r;
}

static size_t
count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	}
	closedir(d);
	return n;
}

static size_t
count_msg_files(const char *data_dir, const char *user)
{
	char dir[PATH_MAX], msg[PATH_MAX + 8];

	if (store_user_dir(data_dir, user, dir, sizeof(dir)) == -1)
		return (size_t)-1;
	snprintf(msg, sizeof(msg), "%s/msg", dir);
	return count_dir(msg);
}

/* Reads a whole message into buf (NUL-terminated).  Returns its length or -1. */
static ssize_t
read_msg(struct store *st, const struct store_msg *m, char *buf, size_t size)
{
	const char *error;
	size_t len = 0;
	int fd = store_msg_open(st, m, &error);

	if (fd == -1)
		return -1;
	for (;;) {
		ssize_t r = read(fd, buf + len, size - 1 - len);

		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Runs one SQL statement against a user's index with a separate connection
 * (to look at or to damage what the store wrote). */
static int64_t
sql_int(const char *data_dir, const char *user, const char *sql)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v = -1;

	store_user_dir(data_dir, user, dir, sizeof(dir));
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
	}
	sqlite3_close(db);
	return v;
}

static const char msg1[] = "From: a@example.net\r\nSubject: one\r\n\r\nHello\r\n";
static const char msg2[] = "From: b@example.net\r\nSubject: two\r\n\r\nWorld\r\n.\r\n";

static void
test_deliver_three_users(void)
{
	const char *users[] = { "alice@example.com", "bob@example.com", "carol@example.org" };
	char *dd = tmpdir();
	struct store_spool sp;
	enum store_error err;
	const char *error;
	struct stat sb;

	test_begin("store: one spool file delivered to 3 users is one file with 3 links");
	test_assert(dd != NULL);
	test_assert(spool_with(dd, msg1, sizeof(msg1) - 1, &sp) == 0);
	test_assert_inteq(sp.size, sizeof(msg1) - 1);
	test_assert(store_deliver(dd, &sp, users, 3, 1700000000, &err, &error) == 0);
	test_assert(fstat(sp.fd, &sb) == 0);
	test_assert_inteq(sb.st_nlink, 4);
	store_spool_discard(&sp);
	test_assert_inteq(sp.fd, -1);

	for (size_t u = 0; u < 3; u++) {
		struct store *st = NULL;
		struct store_mailbox_info info;
		struct store_msg *msgs = NULL;
		size_t n = 0;
		char buf[256];

		test_assert(store_open(dd, users[u], &st, &error) == 0);
		if (st == NULL)
			continue;
		test_assert(store_list(st, "INBOX", &info, &msgs, &n, &error) == 0);
		test_assert_inteq(n, 1);
		test_assert_inteq(info.exists, 1);
		test_assert_inteq(info.uidnext, 2);
		test_assert_inteq(info.highestmodseq, 2);
		if (n == 1) {
			test_assert_inteq(msgs[0].uid, 1);
			test_assert_inteq(msgs[0].size, sizeof(msg1) - 1);
			test_assert_inteq(msgs[0].internal_date, 1700000000);
			test_assert_inteq(msgs[0].flags, 0);
			test_assert_inteq(msgs[0].modseq, 2);
			test_assert_inteq(read_msg(st, &msgs[0], buf, sizeof(buf)), sizeof(msg1) - 1);
			test_assert(memcmp(buf, msg1, sizeof(msg1) - 1) == 0);
			{
				char dir[PATH_MAX], path[PATH_MAX * 2];

				store_user_dir(dd, users[u], dir, sizeof(dir));
				snprintf(path, sizeof(path), "%s/msg/%s", dir, msgs[0].file);
				test_assert(stat(path, &sb) == 0);
				test_assert_inteq(sb.st_nlink, 3);
				test_assert_inteq(sb.st_mode & 0777, 0600);
				test_assert(stat(dir, &sb) == 0);
				test_assert_inteq(sb.st_mode & 0777, 0700);
				snprintf(path, sizeof(path), "%s/index.db", dir);
				test_assert(stat(path, &sb) == 0);
				test_assert_inteq(sb.st_mode & 0777, 0600);
				snprintf(path, sizeof(path), "%s/index.db-wal", dir);
				test_assert(stat(path, &sb) == -1 || (sb.st_mode & 0777) == 0600);
			}
		}
		free(msgs);
		store_close(&st);
		test_assert(st == NULL);
	}
	{
		char spool[PATH_MAX];

		snprintf(spool, sizeof(spool), "%s/spool", dd);
		test_assert_inteq(count_dir(spool), 0);
	}
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_list_expunge_flags(void)
{
	const char *user[] = { "dave@example.com" };
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_mailbox_info info;
	struct store_msg *msgs = NULL;
	size_t n = 0;
	const char *error;
	char buf[256];

	test_begin("store: list in UID order, read back byte-exact, flags bump MODSEQ");
	test_assert(deliver_text(dd, msg1, user, 1) == 0);
	test_assert(deliver_text(dd, msg2, user, 1) == 0);
	test_assert(deliver_text(dd, msg1, user, 1) == 0);
	test_assert(store_open(dd, user[0], &st, &error) == 0);
	test_assert(store_list(st, "inbox", &info, &msgs, &n, &error) == 0);
	test_assert_inteq(n, 3);
	test_assert_inteq(info.uidnext, 4);
	test_assert_inteq(info.highestmodseq, 4);
	for (size_t i = 0; i < n; i++) {
		const char *want = i == 1 ? msg2 : msg1;

		test_assert_inteq(msgs[i].uid, i + 1);
		test_assert_inteq(msgs[i].modseq, i + 2);
		test_assert_inteq(read_msg(st, &msgs[i], buf, sizeof(buf)), strlen(want));
		test_assert_streq(buf, want);
	}
	free(msgs);

	{
		uint32_t uids[] = { 2, 99 };

		test_assert(store_flags_change(st, "INBOX", uids, 2, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED, true,
		                               &error) == 0);
		test_assert(store_list(st, "INBOX", &info, &msgs, &n, &error) == 0);
		test_assert_inteq(info.highestmodseq, 5);
		test_assert_inteq(msgs[1].flags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
		test_assert_inteq(msgs[1].modseq, 5);
		test_assert_inteq(msgs[0].modseq, 2);
		test_assert_inteq(msgs[2].modseq, 4);
		free(msgs);

		/* Setting what is already set changes nothing, MODSEQ included. */
		test_assert(store_flags_change(st, "INBOX", uids, 1, STORE_FLAG_SEEN, true, &error) == 0);
		test_assert(store_list(st, "INBOX", &info, &msgs, &n, &error) == 0);
		test_assert_inteq(info.highestmodseq, 5);
		test_assert_inteq(msgs[1].modseq, 5);
		free(msgs);

		test_assert(store_flags_change(st, "INBOX", uids, 1, STORE_FLAG_FLAGGED, false, &error) == 0);
		test_assert(store_list(st, "INBOX", &info, &msgs, &n, &error) == 0);
		test_assert_inteq(info.highestmodseq, 6);
		test_assert_inteq(msgs[1].flags, STORE_FLAG_SEEN);
		test_assert_inteq(msgs[1].modseq, 6);
		free(msgs);

		test_assert(store_flags_change(st, "INBOX", uids, 1, 1u << 20, true, &error) == -1);
		test_assert(store_flags_change(st, "Nonexistent", uids, 1, STORE_FLAG_SEEN, true, &error) == -1);
		test_assert(store_list(st, "Nonexistent", &info, &msgs, &n, &error) == -1);
	}
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();

	test_begin("store: expunge removes rows, then files; records VANISHED data");
	dd = tmpdir();
	test_assert(deliver_text(dd, msg1, user, 1) == 0);
	test_assert(deliver_text(dd, msg2, user, 1) == 0);
	test_assert(deliver_text(dd, msg1, user, 1) == 0);
	test_assert_inteq(count_msg_files(dd, user[0]), 3);
	test_assert(store_open(dd, user[0], &st, &error) == 0);
	{
		uint32_t uids[] = { 1, 3, 3, 42 };

		test_assert(store_expunge(st, "INBOX", uids, 4, &error) == 0);
		test_assert(store_list(st, "INBOX", &info, &msgs, &n, &error) == 0);
		test_assert_inteq(n, 1);
		test_assert_inteq(info.exists, 1);
		test_assert_inteq(info.highestmodseq, 5);
		test_assert_inteq(info.uidnext, 4);
		test_assert_inteq(msgs[0].uid, 2);
		test_assert_inteq(read_msg(st, &msgs[0], buf, sizeof(buf)), strlen(msg2));
		free(msgs);
		test_assert_inteq(count_msg_files(dd, user[0]), 1);
		test_assert_inteq(sql_int(dd, user[0], "SELECT count(*) FROM expunged WHERE modseq = 5"), 2);
		test_assert_inteq(sql_int(dd, user[0], "SELECT sum(uid) FROM expunged"), 4);

		/* Expunging nothing changes nothing. */
		test_assert(store_expunge(st, "INBOX", uids + 3, 1, &error) == 0);
		test_assert(store_list(st, "INBOX", &info, &msgs, &n, &error) == 0);
		test_assert_inteq(info.highestmodseq, 5);
		free(msgs);
	}
	store_close(&st);

	/* UIDs are never reused, even after the highest one is expunged. */
	test_assert(deliver_text(dd, msg2, user, 1) == 0);
	test_assert(store_open(dd, user[0], &st, &error) == 0);
	test_assert(store_list(st, "INBOX", &info, &msgs, &n, &error) == 0);
	test_assert_inteq(n, 2);
	test_assert_inteq(msgs[1].uid, 4);
	test_assert_inteq(info.uidnext, 5);
	free(msgs);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_reopen_and_uidvalidity(void)
{
	const char *user[] = { "erin@example.com" };
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_mailbox_info info, info2;
	struct store_msg *msgs = NULL, *msgs2 = NULL;
	struct store_mailbox_row inbox, sent, again;
	size_t n = 0, n2 = 0;
	const char *error;

	test_begin("store: reopen keeps UIDVALIDITY and UIDs; UIDVALIDITY strictly increases");
	test_assert(deliver_text(dd, msg1, user, 1) == 0);
	test_assert(deliver_text(dd, msg2, user, 1) == 0);
	test_assert(store_open(dd, user[0], &st, &error) == 0);
	test_assert(store_list(st, "INBOX", &info, &msgs, &n, &error) == 0);
	store_close(&st);
	test_assert(store_open(dd, user[0], &st, &error) == 0);
	test_assert(store_list(st, "INBOX", &info2, &msgs2, &n2, &error) == 0);
	test_assert_inteq(info.uidvalidity, info2.uidvalidity);
	test_assert(info.uidvalidity >= 1700000000u);
	test_assert_inteq(info.uidnext, info2.uidnext);
	test_assert_inteq(n, 2);
	test_assert_inteq(n2, 2);
	for (size_t i = 0; i < n && i < n2; i++) {
		test_assert_inteq(msgs[i].uid, msgs2[i].uid);
		test_assert_streq(msgs[i].file, msgs2[i].file);
	}
	free(msgs);
	free(msgs2);
	test_assert_inteq(sql_int(dd, user[0], "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	{
		/* The pragmas are per connection; journal_mode=WAL is in the file. */
		char dir[PATH_MAX], path[PATH_MAX + 16];
		sqlite3 *db;
		sqlite3_stmt *s;

		store_user_dir(dd, user[0], dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/index.db", dir);
		test_assert(sqlite3_open(path, &db) == SQLITE_OK);
		test_assert(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK);
		test_assert(sqlite3_step(s) == SQLITE_ROW);
		test_assert_streq((const char *)sqlite3_column_text(s, 0), "wal");
		sqlite3_finalize(s);
		sqlite3_close(db);
	}

	/* Create mailboxes in quick succession: each one's UIDVALIDITY is above
	 * every earlier one, even within the same second; a name deleted and
	 * created again gets a new one. */
	test_assert(store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK);
	test_assert(store_mailbox_create_locked(st, "Sent", "\\Sent") == 0);
	test_assert(store_mailbox_create_locked(st, "Sent", NULL) == -1);
	test_assert(store_exec(st, "COMMIT") == SQLITE_OK);
	test_assert(store_mailbox_get(st, "INBOX", &inbox) == 1);
	test_assert(store_mailbox_get(st, "Sent", &sent) == 1);
	test_assert(sent.uidvalidity > inbox.uidvalidity);
	test_assert_inteq(sent.uidnext, 1);
	test_assert_inteq(sent.highestmodseq, 1);
	test_assert(store_exec(st, "DELETE FROM mailboxes WHERE name = 'Sent'") == SQLITE_OK);
	test_assert(store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK);
	test_assert(store_mailbox_create_locked(st, "Sent", NULL) == 0);
	test_assert(store_exec(st, "COMMIT") == SQLITE_OK);
	test_assert(store_mailbox_get(st, "Sent", &again) == 1);
	test_assert(again.uidvalidity > sent.uidvalidity);
	test_assert(store_mailbox_get(st, "Nope", &again) == 0);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_safe_paths(void)
{
	static const struct {
		const char *user;
		const char *tail; /* expected path after data_dir, or NULL: refused */
	} cases[] = {
		{ "alice@example.com", "/mail/example.com/alice" },
		{ "a.b+tag_x-y@sub.example.com", "/mail/sub.example.com/a.b+tag_x-y" },
		{ "../../etc@example.com", "/mail/example.com/%2E.%2F..%2Fetc" },
		{ "x@..", "/mail/%2E./x" },
		{ ".hidden@example.com", "/mail/example.com/%2Ehidden" },
		{ "A@Example.COM", "/mail/%45xample.%43%4F%4D/%41" },
		{ "%41@example.com", "/mail/example.com/%2541" },
		{ "a/b@c/d", "/mail/c%2Fd/a%2Fb" },
		{ "\"a@b\"@example.com", "/mail/example.com/%22a%40b%22" },
		{ "sp ace@example.com", "/mail/example.com/sp%20ace" },
		{ "caf\xc3\xa9@example.com", "/mail/example.com/caf%C3%A9" },
		{ "nodomain", NULL },
		{ "@example.com", NULL },
		{ "user@", NULL },
		{ "", NULL },
	};
	char *dd = tmpdir();
	char out[PATH_MAX], want[PATH_MAX], longaddr[ADDRESS_MAX + 10];

	test_begin("store: any address maps to a safe, distinct folder");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = store_user_dir(dd, cases[i].user, out, sizeof(out));

		if (cases[i].tail == NULL) {
			test_assert_inteq(r, -1);
			continue;
		}
		snprintf(want, sizeof(want), "%s%s", dd, cases[i].tail);
		test_assert_inteq(r, 0);
		test_assert_streq(out, want);
	}
	memset(longaddr, 'a', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	longaddr[10] = '@';
	test_assert_inteq(store_user_dir(dd, longaddr, out, sizeof(out)), -1);
	test_assert_inteq(store_user_dir(dd, "a@b", out, 8), -1);

	/* A hostile name really opens inside data_dir/mail and nowhere else. */
	{
		struct store *st = NULL;
		const char *error;
		char path[PATH_MAX];
		struct stat sb;

		test_assert(store_open(dd, "../../x@..", &st, &error) == 0);
		store_close(&st);
		snprintf(path, sizeof(path), "%s/mail/%%2E./%%2E.%%2F..%%2Fx/index.db", dd);
		test_assert(stat(path, &sb) == 0);
		test_assert_inteq(count_dir(dd), 1);
		snprintf(path, sizeof(path), "%s/mail", dd);
		test_assert_inteq(count_dir(path), 1);
		test_assert(store_open(dd, "nodomain", &st, &error) == -1);
		test_assert(st == NULL);
	}
	rm_rf(dd);
	free(dd);
	test_end();
}

struct worker_arg {
	const char *data_dir;
	int id;
	int failures;
};

#define WORKERS 4
#define PER_WORKER 50

static void *
worker(void *p)
{
	struct worker_arg *a = p;
	const char *user[] = { "busy@example.com" };
	char text[128];

	for (int i = 0; i < PER_WORKER; i++) {
		snprintf(text, sizeof(text), "Subject: w%d m%d\r\n\r\nbody\r\n", a->id, i);
		if (deliver_text(a->data_dir, text, user, 1) == -1)
			a->failures++;
	}
	return NULL;
}

static void
test_concurrent(void)
{
	char *dd = tmpdir();
	pthread_t th[WORKERS];
	struct worker_arg args[WORKERS];
	struct store *st = NULL;
	struct store_mailbox_info info;
	struct store_msg *msgs = NULL;
	size_t n = 0;
	const char *error;
	int failures = 0;

	test_begin("store: 4 threads x 50 deliveries to one new user get unique UIDs");
	for (int i = 0; i < WORKERS; i++) {
		args[i] = (struct worker_arg){ .data_dir = dd, .id = i };
		pthread_create(&th[i], NULL, worker, &args[i]);
	}
	for (int i = 0; i < WORKERS; i++) {
		pthread_join(th[i], NULL);
		failures += args[i].failures;
	}
	test_assert_inteq(failures, 0);
	test_assert(store_open(dd, "busy@example.com", &st, &error) == 0);
	test_assert(store_list(st, "INBOX", &info, &msgs, &n, &error) == 0);
	test_assert_inteq(n, WORKERS * PER_WORKER);
	test_assert_inteq(info.uidnext, WORKERS * PER_WORKER + 1);
	/* Group commit: deliveries written together share one MODSEQ
	 * (RFC 7162 allows it), so there are at most as many as messages. */
	test_assert(info.highestmodseq >= 2 && info.highestmodseq <= WORKERS * PER_WORKER + 1);
	for (size_t i = 0; i < n; i++) {
		test_assert_inteq(msgs[i].uid, i + 1);
		test_assert(msgs[i].modseq >= 2 && msgs[i].modseq <= info.highestmodseq);
		test_assert(i == 0 || msgs[i].modseq >= msgs[i - 1].modseq);
	}
	{
		/* Every message arrived exactly once. */
		static char seen[WORKERS][PER_WORKER];
		char buf[256];
		int w, m, bad = 0;

		for (size_t i = 0; i < n; i++) {
			if (read_msg(st, &msgs[i], buf, sizeof(buf)) < 0 ||
			    sscanf(buf, "Subject: w%d m%d", &w, &m) != 2 || w < 0 || w >= WORKERS || m < 0 ||
			    m >= PER_WORKER || seen[w][m]++) {
				bad++;
			}
		}
		test_assert_inteq(bad, 0);
	}
	test_assert_inteq(count_msg_files(dd, "busy@example.com"), WORKERS * PER_WORKER);
	free(msgs);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_spool(void)
{
	char *dd = tmpdir();
	char spool[PATH_MAX], big[65536];
	struct store_spool sp, old, young;
	enum store_error err;
	const char *error;
	struct stat sb;

	test_begin("store: spool file is 0600, exclusive, sized, discardable");
	test_assert(store_spool_create(dd, &sp, &error) == 0);
	test_assert(stat(sp.path, &sb) == 0);
	test_assert_inteq(sb.st_mode & 0777, 0600);
	test_assert(fcntl(sp.fd, F_GETFD) & FD_CLOEXEC);
	memset(big, 'x', sizeof(big));
	for (int i = 0; i < 16; i++)
		test_assert(store_spool_write(&sp, big, sizeof(big), &err) == 0);
	test_assert_inteq(sp.size, 16 * sizeof(big));
	test_assert(store_spool_commit(&sp, &err) == 0);
	test_assert(stat(sp.path, &sb) == 0);
	test_assert_inteq(sb.st_size, 16 * sizeof(big));
	snprintf(spool, sizeof(spool), "%s", sp.path);
	store_spool_discard(&sp);
	test_assert(stat(spool, &sb) == -1 && errno == ENOENT);
	store_spool_discard(&sp); /* twice is harmless */
	{
		struct store_spool never = { .fd = -1 };

		snprintf(never.path, sizeof(never.path), "%s", dd);
		store_spool_discard(&never); /* must not unlink the stale path */
		test_assert(stat(dd, &sb) == 0);
	}
	test_end();

	test_begin("store: a write past the file size limit is NOSPACE");
	{
		struct rlimit saved, small;
		void (*oldh)(int) = signal(SIGXFSZ, SIG_IGN);

		getrlimit(RLIMIT_FSIZE, &saved);
		small = saved;
		small.rlim_cur = 4096;
		test_assert(store_spool_create(dd, &sp, &error) == 0);
		test_assert(setrlimit(RLIMIT_FSIZE, &small) == 0);
		err = STORE_OK;
		test_assert(store_spool_write(&sp, big, sizeof(big), &err) == -1);
		setrlimit(RLIMIT_FSIZE, &saved);
		signal(SIGXFSZ, oldh);
		test_assert_inteq(err, STORE_ERR_NOSPACE);
		test_assert_inteq(sp.size, 4096);
		store_spool_discard(&sp);
	}
	test_end();

	test_begin("store: spool cleanup removes leftovers by age");
	{
		struct timespec times[2] = { { .tv_sec = time(NULL) - 2 * STORE_STALE_SEC },
		                             { .tv_sec = time(NULL) - 2 * STORE_STALE_SEC } };

		test_assert(spool_with(dd, "x", 1, &old) == 0);
		test_assert(spool_with(dd, "y", 1, &young) == 0);
		test_assert(utimensat(AT_FDCWD, old.path, times, 0) == 0);
		/* A crash: nobody discards them. */
		close(old.fd);
		close(young.fd);
		snprintf(spool, sizeof(spool), "%s/spool", dd);
		test_assert_inteq(count_dir(spool), 2);
		test_assert_inteq(store_spool_cleanup(dd, STORE_STALE_SEC, &error), 1);
		test_assert(stat(old.path, &sb) == -1);
		test_assert(stat(young.path, &sb) == 0);
		test_assert_inteq(store_spool_cleanup(dd, 0, &error), 1);
		test_assert_inteq(count_dir(spool), 0);
		rm_rf(spool);
		test_assert_inteq(store_spool_cleanup(dd, 0, &error), 0);
	}
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_failures_leave_no_row_and_no_file(void)
{
	const char *users[] = { "full@example.com", "ok@example.com" };
	char *dd = tmpdir();
	struct store *st = NULL;
	struct store_msg *msgs = NULL;
	size_t n = 0;
	const char *error;

	test_begin("store: a failed delivery removes its link; others still get the message");
	test_assert(deliver_text(dd, msg1, users, 2) == 0);
	/* Make the next UID impossible for the first user. */
	test_assert_inteq(sql_int(dd, users[0], "UPDATE mailboxes SET uidnext = 4294967295"), 0);
	test_assert(deliver_text(dd, msg2, users, 2) == -1);
	test_assert_inteq(count_msg_files(dd, users[0]), 1);
	test_assert_inteq(count_msg_files(dd, users[1]), 2);
	test_assert_inteq(sql_int(dd, users[0], "SELECT count(*) FROM messages"), 1);
	test_assert_inteq(sql_int(dd, users[1], "SELECT count(*) FROM messages"), 2);

	/* An unopenable index (a directory in its place) fails cleanly too. */
	{
		const char *bad[] = { "broken@example.com", "ok@example.com" };
		char dir[PATH_MAX], path[PATH_MAX + 16];

		store_user_dir(dd, bad[0], dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/index.db", dir);
		test_assert(store_mkdirs(path) == 0);
		test_assert(deliver_text(dd, msg2, bad, 2) == -1);
		test_assert_inteq(count_msg_files(dd, bad[0]), 0);
		test_assert_inteq(count_msg_files(dd, bad[1]), 3);
	}
	/* An index row naming a hostile file is refused, not followed. */
	test_assert_inteq(sql_int(dd, users[1], "UPDATE messages SET file = '../index.db' WHERE uid = 1"), 0);
	test_assert(store_open(dd, users[1], &st, &error) == 0);
	test_assert(store_list(st, "INBOX", NULL, &msgs, &n, &error) == -1);
	{
		struct store_msg m = { .uid = 1 };

		snprintf(m.file, sizeof(m.file), "../index.db");
		test_assert(store_msg_open(st, &m, &error) == -1);
	}
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

static void
test_orphans(void)
{
	const char *user[] = { "orphan@example.com" };
	char *dd = tmpdir();
	char dir[PATH_MAX], path[PATH_MAX * 2];
	struct store *st = NULL;
	struct store_msg *msgs = NULL;
	size_t n = 0;
	const char *error;
	char buf[256];
	int fd;

	test_begin("store: orphan message files are cleaned, indexed ones kept");
	test_assert(deliver_text(dd, msg1, user, 1) == 0);
	test_assert(deliver_text(dd, msg2, user, 1) == 0);
	store_user_dir(dd, user[0], dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/msg/1700000000.00000000deadbeef", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	test_assert(fd >= 0);
	close(fd);
	test_assert_inteq(count_msg_files(dd, user[0]), 3);
	test_assert(store_open(dd, user[0], &st, &error) == 0);
	test_assert_inteq(store_orphans_cleanup(st, STORE_STALE_SEC, &error), 0);
	test_assert_inteq(store_orphans_cleanup(st, 0, &error), 1);
	test_assert_inteq(count_msg_files(dd, user[0]), 2);
	test_assert(store_list(st, "INBOX", NULL, &msgs, &n, &error) == 0);
	test_assert_inteq(n, 2);
	for (size_t i = 0; i < n; i++)
		test_assert(read_msg(st, &msgs[i], buf, sizeof(buf)) > 0);
	free(msgs);
	store_close(&st);
	rm_rf(dd);
	free(dd);
	test_end();
}

struct scan_arg {
	const char *dd, *user;
	long removed;
};

static void *
scan_thread(void *arg)
{
	struct scan_arg *a = arg;
	struct timespec future = { .tv_sec = time(NULL) + 3600 };
	struct store *st = NULL;
	const char *error;

	if (store_open(a->dd, a->user, &st, &error) == -1) {
		a->removed = -2;
		return NULL;
	}
	a->removed = store_orphans_remove(st, &future, NULL, &error);
	store_close(&st);
	return NULL;
}

static bool
collect_user(const char *user, void *arg)
{
	char *list = arg;

	strcat(list, user);
	strcat(list, " ");
	return true;
}

static void
test_orphan_guard(void)
{
	const char *user[] = { "guard@example.com" };
	char *dd = tmpdir();
	char dir[PATH_MAX], path[PATH_MAX * 2], sql[256], list[512] = "";
	const char *name = "1700000000.00000000feedface";
	struct scan_arg a = { .dd = dd, .user = user[0] };
	struct store *st = NULL;
	struct stat sb;
	const char *error;
	pthread_t th;
	int fd;

	test_begin("store: the orphan scan never takes a file between link and COMMIT");
	test_assert(deliver_text(dd, msg1, user, 1) == 0);
	test_assert(store_open(dd, user[0], &st, &error) == 0);
	store_user_dir(dd, user[0], dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/msg/%s", dir, name);
	/* A writer between its link and its COMMIT ... */
	store_orphan_guard_enter(st);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	test_assert(fd >= 0 && write(fd, msg2, strlen(msg2)) == (ssize_t)strlen(msg2));
	close(fd);
	/* ... while a scan runs: it finds the file without a row and waits. */
	test_assert(pthread_create(&th, NULL, scan_thread, &a) == 0);
	usleep(200000);
	test_assert(stat(path, &sb) == 0);
	/* The COMMIT: now a row names the file. */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO messages(mailbox_id, uid, modseq, internal_date, size, file, flags) "
	         "SELECT id, uidnext, highestmodseq + 1, 0, %zu, '%s', 0 FROM mailboxes WHERE name = 'INBOX'",
	         strlen(msg2), name);
	test_assert(sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK);
	store_orphan_guard_leave(st);
	pthread_join(th, NULL);
	test_assert_inteq(a.removed, 0);
	test_assert(stat(path, &sb) == 0);
	test_assert_inteq(count_msg_files(dd, user[0]), 2);
	/* Without a row and without a writer it goes, and its bytes are told. */
	test_assert(sqlite3_exec(st->db, "DELETE FROM messages WHERE file = '1700000000.00000000feedface'", NULL, NULL,
	                         NULL) == SQLITE_OK);
	{
		struct timespec future;
		uint64_t bytes = 0;

		clock_gettime(CLOCK_REALTIME, &future);
		future.tv_sec++;
		test_assert_inteq(store_orphans_remove(st, &future, &bytes, &error), 1);
		test_assert_inteq(bytes, strlen(msg2));
	}
	test_assert(stat(path, &sb) == -1);
	test_assert_inteq(count_msg_files(dd, user[0]), 1);
	store_close(&st);
	test_end();

	test_begin("store: store_users_each finds the users with an index, not other folders");
	{
		const char *more[] = { "Odd.Name+tag@Example.COM" };
		char ghost[PATH_MAX + 32];

		test_assert(deliver_text(dd, msg1, more, 1) == 0);
		snprintf(ghost, sizeof(ghost), "%s/mail/example.com/ghost/msg", dd);
		test_assert(store_mkdirs(ghost) == 0);
		snprintf(ghost, sizeof(ghost), "%s/mail/example.com/%%zz", dd);
		test_assert(mkdir(ghost, 0700) == 0);
		test_assert(store_users_each(dd, collect_user, list, &error) == 0);
		test_assert(strstr(list, "guard@example.com ") != NULL);
		test_assert(strstr(list, "Odd.Name+tag@Example.COM ") != NULL);
		test_assert(strstr(list, "ghost") == NULL);
		test_assert(strstr(list, "%zz") == NULL);
		printf("# users: %s\n", list);
	}
	test_end();

	test_begin("store: queue leftovers go, complete entries stay");
	{
		static const char *const names[] = {
			"000001700000.000000001.0000abcd.eml",      /* no .env: leftover */
			"000001700000.000000002.0000abce.env.tmp",  /* never renamed: leftover */
			"000001700000.000000003.0000abcf.eml",      /* complete */
			"000001700000.000000003.0000abcf.env",
			"not-a-queue-file.eml",                     /* not ours: left alone */
		};
		char q[PATH_MAX + 16];
		struct timespec past = { .tv_sec = 1 }, future;

		clock_gettime(CLOCK_REALTIME, &future);
		future.tv_sec++;
		snprintf(q, sizeof(q), "%s/queue", dd);
		test_assert(mkdir(q, 0700) == 0);
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			snprintf(path, sizeof(path), "%s/%s", q, names[i]);
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
			test_assert(fd >= 0);
			close(fd);
		}
		test_assert_inteq(queue_cleanup(dd, &past, &error), 0);   /* all younger than the cutoff */
		test_assert_inteq(queue_cleanup(dd, &future, &error), 2);
		test_assert_inteq(count_dir(q), 3);
		snprintf(path, sizeof(path), "%s/%s", q, names[2]);
		test_assert(stat(path, &sb) == 0);
	}
	test_end();
	rm_rf(dd);
	free(dd);
}

/* The durability promise against kill -9: a child delivers in a loop and
 * reports each acknowledged message on a pipe; the parent kills it at a
 * random moment, then checks that every acknowledged message is present
 * exactly once and that every row has its file. */
static void
test_kill9(void)
{
	const char *users[] = { "k1@example.com", "k2@example.com" };
	char *dd = tmpdir();
	static char acked[100000];
	int max_seq = 0, bad = 0, missing = 0;

	test_begin("store: kill -9 at any moment loses no acknowledged message");
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	for (int round = 0; round < 6; round++) {
		int pfd[2];
		pid_t pid;
		int seq0 = max_seq;

		test_assert(pipe(pfd) == 0);
		pid = fork();
		if (pid == 0) {
			close(pfd[0]);
			for (int seq = seq0 + 1; seq < (int)sizeof(acked); seq++) {
				char text[64];

				snprintf(text, sizeof(text), "Subject: %d\r\n\r\nx\r\n", seq);
				if (deliver_text(dd, text, users, 2) == 0) {
					if (write(pfd[1], &seq, sizeof(seq)) != sizeof(seq))
						_exit(1);
				}
			}
			_exit(0);
		}
		close(pfd[1]);
		usleep(20000 + (useconds_t)(rand() % 200000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		for (int seq; read(pfd[0], &seq, sizeof(seq)) == sizeof(seq);) {
			if (seq > 0 && seq < (int)sizeof(acked))
				acked[seq] = 1;
			if (seq > max_seq)
				max_seq = seq;
		}
		close(pfd[0]);
		max_seq += 2; /* the one in flight may have made it unacknowledged */
	}
	for (size_t u = 0; u < 2; u++) {
		static char seen[100000];
		struct store *st = NULL;
		struct store_msg *msgs = NULL;
		size_t n = 0;
		const char *error;
		char buf[256];

		memset(seen, 0, sizeof(seen));
		test_assert(store_open(dd, users[u], &st, &error) == 0);
		if (st == NULL)
			break;
		test_assert(store_list(st, "INBOX", NULL, &msgs, &n, &error) == 0);
		for (size_t i = 0; i < n; i++) {
			int seq;

			if (read_msg(st, &msgs[i], buf, sizeof(buf)) < 0 || sscanf(buf, "Subject: %d", &seq) != 1 ||
			    seq <= 0 || seq >= (int)sizeof(seen) || seen[seq]++)
				bad++;
		}
		for (int s = 1; s < (int)sizeof(acked); s++) {
			if (acked[s] && !seen[s])
				missing++;
		}
		/* Files beyond rows are orphans: allowed, and cleanable. */
		test_assert(count_msg_files(dd, users[u]) >= n);
		test_assert(store_orphans_cleanup(st, 0, &error) >= 0);
		test_assert_inteq(count_msg_files(dd, users[u]), n);
		printf("# %s: %zu messages after 6 kills\n", users[u], n);
		free(msgs);
		store_close(&st);
	}
	test_assert_inteq(bad, 0);
	test_assert_inteq(missing, 0);
	rm_rf(dd);
	free(dd);
	test_end();
}

int
main(void)
{
	test_deliver_three_users();
	test_list_expunge_flags();
	test_reopen_and_uidvalidity();
	test_safe_paths();
	test_concurrent();
	test_spool();
	test_failures_leave_no_row_and_no_file();
	test_orphans();
	test_orphan_guard();
	test_kill9();
	return test_done();
}
