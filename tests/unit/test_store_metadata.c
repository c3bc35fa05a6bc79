/* METADATA entries in the index (src/store/store_metadata.c): real SQLite
 * files in a mkdtemp() directory.  Depth as RFC 5464 4.2.2 defines it, the
 * entry bound all or nothing, entries that follow a rename and go with a
 * delete (RFC 5464 3.3), and the migration to schema 7 of an older index. */
#include <ftw.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "store/store_imap.h"
#include "store/store_metadata.h"
#include "store/store_private.h"
#include "test.h"

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
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
	}
	sqlite3_close(db);
	return v;
}

static int
set1(struct store *st, const char *mailbox, const char *name, const char *value)
{
	struct store_metadata m = { (char *)name, (char *)value, value != NULL ? strlen(value) : 0 };
	const char *error;

	return store_metadata_set(st, mailbox, &m, 1, &error);
}

/* The names got for want at depth, space-separated ("" for none, "ERR"). */
static const char *
names(struct store *st, const char *mailbox, const char *want, int depth)
{
	static char out[1024];
	struct store_metadata *m;
	const char *error;
	size_t n;

	if (store_metadata_get(st, mailbox, &want, 1, depth, &m, &n, &error) != STORE_OK)
		return "ERR";
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i > 0 ? " " : "", m[i].name);
	store_metadata_free(m, n);
	return out;
}

static void
test_get_set(const char *dd)
{
	struct store *st = NULL;
	struct store_metadata *m = NULL;
	const char *error, *two[] = { "/private/a/b", "/private/a" };
	size_t n = 0;

	test_begin("store_metadata: set, get with depth, remove, server entries apart");
	test_assert(store_open(dd, "u@example.com", &st, &error) == 0);
	test_assert_inteq(store_mailbox_create(st, "box", NULL, &error), STORE_OK);
	test_assert_inteq(set1(st, "box", "/private/a", "1"), STORE_OK);
	test_assert_inteq(set1(st, "box", "/private/a/b", "22"), STORE_OK);
	test_assert_inteq(set1(st, "box", "/private/a/b/c", "333"), STORE_OK);
	test_assert_inteq(set1(st, "box", "/private/ab", "x"), STORE_OK);
	test_assert_inteq(set1(st, NULL, "/shared/comment", "server"), STORE_OK);
	test_assert_streq(names(st, "box", "/private/a", 0), "/private/a");
	test_assert_streq(names(st, "box", "/private/a", 1), "/private/a /private/a/b");
	test_assert_streq(names(st, "box", "/private/a", -1), "/private/a /private/a/b /private/a/b/c");
	test_assert_streq(names(st, "box", "/private", 1), "/private/a /private/ab");
	test_assert_streq(names(st, "box", "/shared/comment", 0), "");
	test_assert_streq(names(st, NULL, "/shared/comment", 0), "/shared/comment");
	test_assert_streq(names(st, "nosuch", "/private/a", 0), "ERR");
	test_assert_inteq(set1(st, "nosuch", "/private/a", "v"), STORE_IMAP_NONEXISTENT);
	/* Overlapping requests give each entry once. */
	test_assert(store_metadata_get(st, "box", two, 2, -1, &m, &n, &error) == STORE_OK);
	test_assert_inteq(n, 3);
	if (n == 3)
		test_assert(strcmp(m[1].name, "/private/a/b") == 0 && m[1].len == 2 && memcmp(m[1].value, "22", 2) == 0);
	store_metadata_free(m, n);
	/* A replaced value, then removed. */
	test_assert_inteq(set1(st, "box", "/private/a", "new"), STORE_OK);
	test_assert_inteq(set1(st, "box", "/private/a/b", NULL), STORE_OK);
	test_assert_streq(names(st, "box", "/private/a", 1), "/private/a");
	store_close(&st);
	test_end();
}

static void
test_limit(const char *dd)
{
	struct store *st = NULL;
	struct store_metadata m[STORE_METADATA_ENTRIES_MAX + 1];
	char namebuf[STORE_METADATA_ENTRIES_MAX + 1][32];
	const char *error;

	test_begin("store_metadata: at most STORE_METADATA_ENTRIES_MAX per mailbox, all or nothing");
	test_assert(store_open(dd, "lim@example.com", &st, &error) == 0);
	for (int i = 0; i <= STORE_METADATA_ENTRIES_MAX; i++) {
		snprintf(namebuf[i], sizeof(namebuf[i]), "/private/e%d", i);
		m[i].name = namebuf[i];
		m[i].value = (char *)"v";
		m[i].len = 1;
	}
	test_assert_inteq(store_metadata_set(st, "INBOX", m, STORE_METADATA_ENTRIES_MAX + 1, &error), STORE_IMAP_LIMIT);
	test_assert_streq(names(st, "INBOX", "/private", -1), "");
	test_assert_inteq(store_metadata_set(st, "INBOX", m, STORE_METADATA_ENTRIES_MAX, &error), STORE_OK);
	test_assert_inteq(store_metadata_set(st, "INBOX", &m[STORE_METADATA_ENTRIES_MAX], 1, &error),
	                  STORE_IMAP_LIMIT);
	/* Replacing one that exists does not count twice; the server has
	 * room of its own. */
	test_assert_inteq(store_metadata_set(st, "INBOX", &m[0], 1, &error), STORE_OK);
	test_assert_inteq(store_metadata_set(st, NULL, &m[STORE_METADATA_ENTRIES_MAX], 1, &error), STORE_OK);
	store_close(&st);
	test_end();
}

static void
test_rename_delete(const char *dd)
{
	struct store *st = NULL;
	const char *error;

	test_begin("store_metadata: entries follow RENAME, go with DELETE (RFC 5464 3.3)");
	test_assert(store_open(dd, "rd@example.com", &st, &error) == 0);
	test_assert_inteq(store_mailbox_create(st, "a", NULL, &error), STORE_OK);
	test_assert_inteq(store_mailbox_create(st, "a/sub", NULL, &error), STORE_OK);
	test_assert_inteq(set1(st, "a", "/private/c", "top"), STORE_OK);
	test_assert_inteq(set1(st, "a/sub", "/private/c", "inferior"), STORE_OK);
	test_assert_inteq(store_mailbox_rename(st, "a", "b", &error), STORE_OK);
	test_assert_streq(names(st, "b", "/private/c", 0), "/private/c");
	test_assert_streq(names(st, "b/sub", "/private/c", 0), "/private/c");
	test_assert_inteq(store_mailbox_create(st, "a", NULL, &error), STORE_OK);
	test_assert_streq(names(st, "a", "/private/c", 0), "");
	test_assert_inteq(store_mailbox_delete(st, "b/sub", &error), STORE_OK);
	test_assert_inteq(store_mailbox_create(st, "b/sub", NULL, &error), STORE_OK);
	test_assert_streq(names(st, "b/sub", "/private/c", 0), "");
	test_assert_inteq(sql_int(dd, "rd@example.com", "SELECT count(*) FROM metadata"), 1);
	store_close(&st);
	test_end();
}

static void
test_migration(const char *dd)
{
	struct store *st = NULL;
	const char *error;
	char dir[PATH_MAX], path[PATH_MAX + 16];
	sqlite3 *db;

	test_begin("store_metadata: an index of schema 7 gets the table (schema 8)");
	test_assert(store_open(dd, "mig@example.com", &st, &error) == 0);
	store_close(&st);
	store_user_dir(dd, "mig@example.com", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/index.db", dir);
	test_assert(sqlite3_open(path, &db) == SQLITE_OK);
	test_assert(sqlite3_exec(db, "DROP TRIGGER mailboxes_metadata_delete; DROP TABLE metadata;"
	                             "PRAGMA user_version = 7;", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	test_assert(store_open(dd, "mig@example.com", &st, &error) == 0);
	test_assert_inteq(sql_int(dd, "mig@example.com", "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	test_assert_inteq(set1(st, "INBOX", "/private/x", "y"), STORE_OK);
	test_assert_streq(names(st, "INBOX", "/private/x", 0), "/private/x");
	store_close(&st);
	test_end();
}

int
main(void)
{
	char tmpl[] = "/tmp/tern-store-metadata-XXXXXX";
	char *dd = mkdtemp(tmpl);

	if (dd == NULL)
		return 1;
	test_get_set(dd);
	test_limit(dd);
	test_rename_delete(dd);
	test_migration(dd);
	nftw(dd, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return test_done();
}
