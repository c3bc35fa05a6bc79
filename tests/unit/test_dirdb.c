/* Tests for the statement layer (src/directory/dirdb*.c) on both backends:
 * a SQLite file in a mkdtemp() directory and a real PostgreSQL.  Without
 * TERN_TEST_PG_DSN the test runs itself again under
 * tests/e2e/pgserver.py, which starts a throw-away PostgreSQL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "directory/dirdb.h"
#include "test.h"

static void
test_translate(void)
{
	char out[64];
	int n = -1;

	test_begin("dirdb: ? becomes $n, quoted ? stays");
	test_assert_inteq(dirdb_pg_translate("SELECT a FROM t WHERE b = ? AND c = '?' AND d = ?", out, sizeof(out),
	                                     &n), 0);
	test_assert_streq(out, "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2");
	test_assert_inteq(n, 2);
	test_assert_inteq(dirdb_pg_translate("SELECT \"?\", 'it''s ?', ?", out, sizeof(out), &n), 0);
	test_assert_streq(out, "SELECT \"?\", 'it''s ?', $1");
	test_assert_inteq(n, 1);
	test_end();

	test_begin("dirdb: translation bounds");
	test_assert_inteq(dirdb_pg_translate("SELECT 1", out, 8, &n), -1);        /* no room for the NUL */
	test_assert_inteq(dirdb_pg_translate("SELECT 1", out, 9, &n), 0);
	test_assert_inteq(dirdb_pg_translate("?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?", out, sizeof(out), &n), 0);
	test_assert_inteq(n, DIRDB_PARAMS_MAX);
	test_assert_inteq(dirdb_pg_translate("?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?", out, sizeof(out), &n), -1);
	test_end();
}

/* One value read back with a single-row query. */
static long long
query_int(struct dirdb *db, const char *sql, const char *arg)
{
	struct dirdb_stmt *st = dirdb_prepare(db, sql);
	long long v = -1;

	if (st == NULL)
		return -2;
	if (arg != NULL)
		dirdb_bind_text(st, 1, arg);
	if (dirdb_step(st) == 1)
		v = dirdb_col_int(st, 0);
	dirdb_finish(&st);
	return v;
}

static void
test_backend(struct dirdb *db, const char *name, const char *schema)
{
	static const unsigned char blob[5] = { 0, 1, 0xff, '\\', 'x' };
	struct dirdb_stmt *st, *st2;
	const void *b;
	size_t blen;
	char title[96];
	int64_t v;

	snprintf(title, sizeof(title), "dirdb %s: schema version, exec", name);
	test_begin(title);
	test_assert_inteq(dirdb_schema_version(db, &v), 0);
	test_assert_inteq(v, 0);
	test_assert_inteq(dirdb_begin(db), 0);
	test_assert_inteq(dirdb_exec(db, schema), 0);
	test_assert_inteq(dirdb_set_schema_version(db, 7), 0);
	test_assert_inteq(dirdb_commit(db), 0);
	test_assert_inteq(dirdb_schema_version(db, &v), 0);
	test_assert_inteq(v, 7);
	test_assert_inteq(dirdb_exec(db, "SELECT nonsense FROM nowhere"), -1);
	test_assert(dirdb_errmsg(db)[0] != '\0');
	test_assert(!dirdb_unavailable(db));
	test_end();

	snprintf(title, sizeof(title), "dirdb %s: bind text, int, blob; read them back", name);
	test_begin(title);
	st = dirdb_prepare(db, "INSERT INTO t(k, n, b) VALUES (?, ?, ?)");
	test_assert(st != NULL);
	dirdb_bind_text(st, 1, "k'1?");
	dirdb_bind_int(st, 2, -9000000000123LL);
	dirdb_bind_blob(st, 3, blob, sizeof(blob));
	test_assert_inteq(dirdb_step(st), 0);
	test_assert_inteq(dirdb_changes(st), 1);
	dirdb_finish(&st);
	test_assert(st == NULL);
	st = dirdb_prepare(db, "SELECT k, n, b, note FROM t WHERE k = ?");
	dirdb_bind_text(st, 1, "k'1?");
	test_assert_inteq(dirdb_step(st), 1);
	test_assert_streq(dirdb_col_text(st, 0), "k'1?");
	test_assert_inteq(dirdb_col_int(st, 1), -9000000000123LL);
	b = dirdb_col_blob(st, 2, &blen);
	test_assert(b != NULL && blen == sizeof(blob) && memcmp(b, blob, sizeof(blob)) == 0);
	test_assert_streq(dirdb_col_text(st, 3), "");    /* SQL NULL */
	test_assert_inteq(dirdb_step(st), 0);
	dirdb_finish(&st);
	test_end();

	snprintf(title, sizeof(title), "dirdb %s: upserts, RETURNING, changes", name);
	test_begin(title);
	st = dirdb_prepare(db, "INSERT INTO t(k, n) VALUES (?, 1) ON CONFLICT DO NOTHING");
	dirdb_bind_text(st, 1, "k'1?");
	test_assert_inteq(dirdb_step(st), 0);
	test_assert_inteq(dirdb_changes(st), 0);
	dirdb_finish(&st);
	st = dirdb_prepare(db, "INSERT INTO t(k, n) VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET n = excluded.n");
	dirdb_bind_text(st, 1, "k'1?");
	dirdb_bind_int(st, 2, 42);
	test_assert_inteq(dirdb_step(st), 0);
	test_assert_inteq(dirdb_changes(st), 1);
	dirdb_finish(&st);
	test_assert_inteq(query_int(db, "SELECT n FROM t WHERE k = ?", "k'1?"), 42);
	st = dirdb_prepare(db, "INSERT INTO t(k, n) VALUES ('two', 2) RETURNING n + 1");
	test_assert_inteq(dirdb_step(st), 1);
	test_assert_inteq(dirdb_col_int(st, 0), 3);
	dirdb_finish(&st);
	st = dirdb_prepare(db, "UPDATE t SET n = n + 1");
	test_assert_inteq(dirdb_step(st), 0);
	test_assert_inteq(dirdb_changes(st), 2);
	dirdb_finish(&st);
	test_end();

	snprintf(title, sizeof(title), "dirdb %s: the same statement nested, and reused from the cache", name);
	test_begin(title);
	st = dirdb_prepare(db, "SELECT k FROM t ORDER BY k");
	test_assert_inteq(dirdb_step(st), 1);
	test_assert_streq(dirdb_col_text(st, 0), "k'1?");
	/* In use: the same SQL gets a statement of its own. */
	st2 = dirdb_prepare(db, "SELECT k FROM t ORDER BY k");
	test_assert(st2 != NULL && st2 != st);
	test_assert_inteq(dirdb_step(st2), 1);
	test_assert_inteq(dirdb_step(st2), 1);
	test_assert_streq(dirdb_col_text(st2, 0), "two");
	dirdb_finish(&st2);
	test_assert_inteq(dirdb_step(st), 1);
	test_assert_streq(dirdb_col_text(st, 0), "two");
	test_assert_inteq(dirdb_step(st), 0);
	dirdb_finish(&st);
	/* Finished: handed out again, with fresh parameters. */
	st = dirdb_prepare(db, "SELECT n FROM t WHERE k = ?");
	st2 = st;
	dirdb_bind_text(st, 1, "two");
	test_assert_inteq(dirdb_step(st), 1);
	test_assert_inteq(dirdb_col_int(st, 0), 3);
	dirdb_finish(&st);
	st = dirdb_prepare(db, "SELECT n FROM t WHERE k = ?");
	test_assert(st == st2);
	dirdb_bind_text(st, 1, "none");
	test_assert_inteq(dirdb_step(st), 0);
	dirdb_finish(&st);
	test_end();

	snprintf(title, sizeof(title), "dirdb %s: rollback forgets, commit keeps", name);
	test_begin(title);
	test_assert_inteq(dirdb_begin(db), 0);
	test_assert_inteq(dirdb_exec(db, "DELETE FROM t"), 0);
	test_assert_inteq(query_int(db, "SELECT count(*) FROM t", NULL), 0);
	dirdb_rollback(db);
	test_assert_inteq(query_int(db, "SELECT count(*) FROM t", NULL), 2);
	test_assert_inteq(dirdb_begin(db), 0);
	test_assert_inteq(dirdb_exec(db, "DELETE FROM t WHERE k = 'two'"), 0);
	test_assert_inteq(dirdb_commit(db), 0);
	test_assert_inteq(query_int(db, "SELECT count(*) FROM t", NULL), 1);
	/* A unique violation is an SQL error, not "unavailable". */
	test_assert_inteq(dirdb_exec(db, "INSERT INTO t(k, n) VALUES ('k''1?', 0)"), -1);
	test_assert(!dirdb_unavailable(db));
	test_end();
}

static const char sqlite_schema[] = "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL, b BLOB, note TEXT)";
static const char pg_schema[] = "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL, b BYTEA, note TEXT)";

static void
test_sqlite(void)
{
	char dir[] = "/tmp/tern-dirdb-XXXXXX", path[64];
	struct dirdb *db = NULL;
	const char *error = NULL;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof(path), "%s/t.db", dir);
	test_begin("dirdb sqlite: open");
	test_assert_inteq(dirdb_open_sqlite(path, 1000, &db, &error), 0);
	test_assert(db != NULL && dirdb_backend(db) == DIRDB_SQLITE && dirdb_sqlite(db) != NULL);
	test_end();
	if (db != NULL)
		test_backend(db, "sqlite", sqlite_schema);
	dirdb_close(&db);
	test_assert(db == NULL);
	unlink(path);
	rmdir(dir);
}

/* The pid of db's server process. */
static long long
backend_pid(struct dirdb *db)
{
	return query_int(db, "SELECT pg_backend_pid()", NULL);
}

static void
kill_backend(struct dirdb *killer, long long pid)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%lld)", pid);
	dirdb_exec(killer, sql);
	usleep(200000);
}

static void
test_pg(const char *dsn)
{
	struct dirdb *db = NULL, *killer = NULL;
	struct dirdb_stmt *st;
	const char *error = NULL;
	long long pid;

	test_begin("dirdb postgresql: open");
	test_assert(dirdb_is_pg_dsn(dsn));
	test_assert_inteq(dirdb_open_pg(dsn, NULL, &db, &error), 0);
	test_assert(db != NULL && dirdb_backend(db) == DIRDB_POSTGRESQL && dirdb_sqlite(db) == NULL);
	test_assert_inteq(dirdb_open_pg(dsn, NULL, &killer, &error), 0);
	test_end();
	if (db == NULL || killer == NULL)
		goto out;
	test_backend(db, "postgresql", pg_schema);

	test_begin("dirdb postgresql: a lost connection is made again, statements prepared again");
	test_assert_inteq(query_int(db, "SELECT n FROM t WHERE k = ?", "k'1?"), 43);
	pid = backend_pid(db);
	kill_backend(killer, pid);
	/* Outside a transaction: reconnected and run once more, unseen. */
	test_assert_inteq(query_int(db, "SELECT n FROM t WHERE k = ?", "k'1?"), 43);
	test_assert(!dirdb_unavailable(db));
	test_assert(backend_pid(db) != pid);
	test_end();

	test_begin("dirdb postgresql: lost inside a transaction: an error, unavailable");
	test_assert_inteq(dirdb_begin(db), 0);
	kill_backend(killer, backend_pid(db));
	st = dirdb_prepare(db, "UPDATE t SET n = 0");
	test_assert_inteq(dirdb_step(st), -1);
	test_assert(dirdb_unavailable(db));
	test_assert(strstr(dirdb_errmsg(db), "directory unavailable") != NULL);
	dirdb_finish(&st);
	/* Not run on a new connection outside the transaction either. */
	st = dirdb_prepare(db, "DELETE FROM t");
	test_assert_inteq(dirdb_step(st), -1);
	test_assert(dirdb_unavailable(db));
	dirdb_finish(&st);
	test_assert_inteq(dirdb_commit(db), -1);
	test_assert_inteq(query_int(db, "SELECT count(*) FROM t", NULL), 1);
	/* The next statement, outside it, works on a new connection. */
	test_assert_inteq(query_int(db, "SELECT n FROM t WHERE k = ?", "k'1?"), 43);
	test_assert(!dirdb_unavailable(db));
	test_end();

	test_begin("dirdb postgresql: search_path puts names in a schema of their own");
	dirdb_close(&db);
	test_assert_inteq(dirdb_exec(killer, "CREATE SCHEMA other"), 0);
	test_assert_inteq(dirdb_open_pg(dsn, "other", &db, &error), 0);
	if (db != NULL) {
		test_assert_inteq(dirdb_exec(db, "CREATE TABLE t (k TEXT)"), 0);
		test_assert_inteq(query_int(killer, "SELECT count(*) FROM other.t", NULL), 0);
		test_assert_inteq(query_int(killer, "SELECT count(*) FROM public.t", NULL), 1);
		/* Still there after a reconnect. */
		kill_backend(killer, backend_pid(db));
		test_assert_inteq(query_int(db, "SELECT count(*) FROM t", NULL), 0);
		test_assert(!dirdb_unavailable(db));
	}
	test_end();
out:
	dirdb_close(&db);
	dirdb_close(&killer);

	test_begin("dirdb postgresql: nobody listening: directory unavailable");
	test_assert_inteq(dirdb_open_pg("postgresql://tern@127.0.0.1:1/none?connect_timeout=2", NULL, &db, &error),
	                  -1);
	test_assert(db == NULL);
	test_assert(error != NULL && strstr(error, "directory unavailable") != NULL);
	test_end();
}

int
main(int argc, char **argv)
{
	const char *dsn = test_pg_dsn(argv[0]);

	test_translate();
	test_sqlite();
	if (dsn != NULL)
		test_pg(dsn);
	return test_done();
}
