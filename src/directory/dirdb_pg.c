/* The statement layer on PostgreSQL through libpq (dirdb.h).
 *
 * Each cached statement is prepared on the server once per connection
 * (PQprepare, named "t<n>"), the first time it runs there; one that does
 * not fit the cache goes through PQexecParams.  Results come back whole
 * (text format; bytea decoded by PQunescapeBytea).  A connection found
 * broken is reset (PQreset, which waits at most connect_timeout), which
 * forgets every server-side statement: db->gen tells which are stale. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directory/dirdb_private.h"
#include "lib/xalloc.h"

#define PG_CONNECT_TIMEOUT "5"        /* seconds, unless the dsn says otherwise */
#define PG_SCHEMA_LOCK 0x7465726eLL   /* pg_advisory_xact_lock key: "tern" */
#define PG_RETRY_SEC 1                /* after a failed reconnect, fail at once this long */

static int64_t
now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

/* CREATE ... IF NOT EXISTS and the like send notices; libpq would print
 * them on stderr. */
static void
pg_ignore_notice(void *arg, const char *message)
{
}

/* libpq's message on one line (it has newlines and tabs inside, and one
 * at the end): control characters become spaces, runs of them one. */
static void
pg_one_line(char *out, size_t size, const char *msg)
{
	size_t n = 0;

	for (const char *p = msg != NULL ? msg : ""; *p != '\0' && n + 1 < size; p++) {
		bool space = (unsigned char)*p < 0x20 || *p == ' ';

		if (space && (n == 0 || out[n - 1] == ' '))
			continue;
		out[n++] = space ? ' ' : *p;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* Puts libpq's message into db->error; returns -1. */
static int
pg_fail(struct dirdb *db, const char *what, const char *msg)
{
	char line[400];

	pg_one_line(line, sizeof(line), msg);
	if (db->unavailable)
		return dirdb_fail(db, "directory unavailable: %s: %s", what, line);
	return dirdb_fail(db, "%s: %s", what, line);
}

/* Sets up a new connection: notices off, db->search_path (if any) set,
 * after every connect, since a reset forgets it.  0 or -1 (error set). */
static int
pg_session(struct dirdb *db)
{
	char sql[128];
	PGresult *res;
	int r = 0;

	PQsetNoticeProcessor(db->pg, pg_ignore_notice, NULL);
	if (db->search_path == NULL)
		return 0;
	snprintf(sql, sizeof(sql), "SET search_path TO %s", db->search_path);
	res = PQexec(db->pg, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		r = pg_fail(db, "search_path", PQresultErrorMessage(res));
	PQclear(res);
	return r;
}

/* Tern's defaults come first, so that the dsn overrides any of them: a
 * 5 s connect timeout; a statement that runs 30 s is cancelled by the
 * server; unacknowledged data for 30 s, or an idle connection whose
 * keepalives go unanswered, breaks the connection (a worker never waits
 * for ever on a database gone behind a network partition). */
static PGconn *
pg_connect(const char *dsn)
{
	const char *const keys[] = { "connect_timeout", "options", "tcp_user_timeout", "keepalives_idle",
		                     "keepalives_interval", "keepalives_count", "dbname", NULL };
	const char *const values[] = { PG_CONNECT_TIMEOUT, "-c statement_timeout=30000", "30000", "30", "10", "3",
		                       dsn, NULL };
	return PQconnectdbParams(keys, values, 1);
}

int
dirdb_open_pg(const char *dsn, const char *search_path, struct dirdb **db_out, const char **error_out)
{
	static __thread char thread_error[512];
	struct dirdb *db;
	PGconn *conn;
	char line[400];

	*db_out = NULL;
	conn = pg_connect(dsn);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		pg_one_line(line, sizeof(line), conn != NULL ? PQerrorMessage(conn) : "out of memory");
		/* Not the dsn itself: it may hold a password. */
		snprintf(thread_error, sizeof(thread_error), "directory unavailable: cannot connect to PostgreSQL: %s",
		         line);
		*error_out = thread_error;
		PQfinish(conn);
		return -1;
	}
	db = dirdb_alloc(DIRDB_POSTGRESQL, &dirdb_pg_ops);
	db->pg = conn;
	db->dsn = xstrdup(dsn);
	db->search_path = search_path != NULL ? xstrdup(search_path) : NULL;
	db->gen = 1;
	if (pg_session(db) != 0) {
		snprintf(thread_error, sizeof(thread_error), "%s", db->error);
		*error_out = thread_error;
		dirdb_close(&db);
		return -1;
	}
	*db_out = db;
	return 0;
}

static void
pg_close(struct dirdb *db)
{
	PQfinish(db->pg);
	db->pg = NULL;
	free(db->search_path);
	db->search_path = NULL;
}

/* Makes sure the connection is up: resets a broken one, unless a
 * transaction was open on it (its work is gone: a statement run now on a
 * new connection would commit alone, and the COMMIT after it would seem
 * to succeed).  0 or -1 (unavailable). */
static int
pg_ensure(struct dirdb *db)
{
	if (PQstatus(db->pg) == CONNECTION_OK)
		return 0;
	if (db->in_tx) {
		db->unavailable = true;
		return pg_fail(db, "connection lost inside a transaction", PQerrorMessage(db->pg));
	}
	/* A thread that just failed to connect fails at once for a while
	 * rather than wait connect_timeout on every lookup (some run on an
	 * event loop: RCPT TO). */
	if (now_sec() < db->retry_after) {
		db->unavailable = true;
		return dirdb_fail(db, "directory unavailable: not reconnecting for %d s after a failure", PG_RETRY_SEC);
	}
	PQreset(db->pg);
	db->gen++;
	if (PQstatus(db->pg) != CONNECTION_OK) {
		db->retry_after = now_sec() + PG_RETRY_SEC;
		db->unavailable = true;
		return pg_fail(db, "reconnecting", PQerrorMessage(db->pg));
	}
	return pg_session(db);
}

/* Whether a failed call may run again on a fresh connection: the
 * connection broke, and no transaction was open (its work is lost and the
 * caller must know). */
static bool
pg_retry(struct dirdb *db)
{
	if (PQstatus(db->pg) == CONNECTION_OK)
		return false;
	if (db->in_tx) {
		db->unavailable = true;
		return false;
	}
	return pg_ensure(db) == 0;
}

static int
pg_exec(struct dirdb *db, const char *sql)
{
	for (int attempt = 0;; attempt++) {
		PGresult *res;
		ExecStatusType s;

		if (pg_ensure(db) != 0)
			return -1;
		res = PQexec(db->pg, sql);
		s = PQresultStatus(res);
		if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
			PQclear(res);
			return 0;
		}
		if (attempt == 0 && pg_retry(db)) {
			PQclear(res);
			continue;
		}
		if (PQstatus(db->pg) != CONNECTION_OK)
			db->unavailable = true;
		pg_fail(db, "exec", res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->pg));
		PQclear(res);
		return -1;
	}
}

static int
pg_prepare(struct dirdb *db, struct dirdb_stmt *st)
{
	/* Each "?" becomes at most "$16": two bytes more. */
	size_t size = strlen(st->sql) + 2 * DIRDB_PARAMS_MAX + 1;
	char *out = xmalloc(size);
	int n;

	if (dirdb_pg_translate(st->sql, out, size, &n) != 0) {
		free(out);
		return dirdb_fail(db, "statement with more than %d parameters", DIRDB_PARAMS_MAX);
	}
	st->pgsql = out;
	return 0;
}

/* Runs st once on the current connection: a PGresult (NULL on a failure
 * to prepare, with the error set). */
static PGresult *
pg_run(struct dirdb_stmt *st)
{
	struct dirdb *db = st->db;
	const char *values[DIRDB_PARAMS_MAX];
	int lengths[DIRDB_PARAMS_MAX], formats[DIRDB_PARAMS_MAX];

	for (int i = 0; i < st->nparams; i++) {
		const struct dirdb_param *p = &st->p[i];

		lengths[i] = (int)p->len;
		formats[i] = p->type == DIRDB_P_BLOB;
		values[i] = p->type == DIRDB_P_INT ? p->itext : p->s;
	}
	if (!st->cached)
		return PQexecParams(db->pg, st->pgsql, st->nparams, NULL, values, lengths, formats, 0);
	if (st->gen != db->gen) {
		PGresult *res;

		if (st->name[0] == '\0')
			snprintf(st->name, sizeof(st->name), "t%u", db->next_name++);
		res = PQprepare(db->pg, st->name, st->pgsql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return res;
		PQclear(res);
		st->gen = db->gen;
	}
	return PQexecPrepared(db->pg, st->name, st->nparams, values, lengths, formats, 0);
}

static int
pg_step(struct dirdb_stmt *st)
{
	struct dirdb *db = st->db;

	if (st->res != NULL)
		return ++st->row < st->nrows ? 1 : 0;
	for (int attempt = 0;; attempt++) {
		PGresult *res;
		ExecStatusType s;

		if (pg_ensure(db) != 0)
			return -1;
		res = pg_run(st);
		s = PQresultStatus(res);
		if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
			const char *n = PQcmdTuples(res);

			st->res = res;
			st->nrows = s == PGRES_TUPLES_OK ? PQntuples(res) : 0;
			st->row = 0;
			st->changes = n != NULL && n[0] != '\0' ? strtoll(n, NULL, 10) : 0;
			return st->nrows > 0 ? 1 : 0;
		}
		if (attempt == 0 && pg_retry(db)) {
			PQclear(res);
			continue;
		}
		if (PQstatus(db->pg) != CONNECTION_OK)
			db->unavailable = true;
		pg_fail(db, "query", res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(db->pg));
		PQclear(res);
		return -1;
	}
}

static const char *
pg_col_text(struct dirdb_stmt *st, int col)
{
	if (st->res == NULL || st->row >= st->nrows || col >= PQnfields(st->res) ||
	    PQgetisnull(st->res, st->row, col))
		return "";
	return PQgetvalue(st->res, st->row, col);
}

static int64_t
pg_col_int(struct dirdb_stmt *st, int col)
{
	return strtoll(pg_col_text(st, col), NULL, 10);
}

static const void *
pg_col_blob(struct dirdb_stmt *st, int col, size_t *len_out)
{
	PQfreemem(st->blob);
	st->blob = PQunescapeBytea((const unsigned char *)pg_col_text(st, col), len_out);
	if (st->blob == NULL)
		*len_out = 0;
	return st->blob;
}

static void
pg_reset(struct dirdb_stmt *st)
{
	PQclear(st->res);
	st->res = NULL;
	PQfreemem(st->blob);
	st->blob = NULL;
	st->row = st->nrows = 0;
}

static void
pg_release(struct dirdb_stmt *st)
{
	/* The server's copy goes with the connection: no DEALLOCATE. */
	pg_reset(st);
	free(st->pgsql);
	st->pgsql = NULL;
}

/* Inside the schema transaction: the lock serialises two servers (or a
 * server and the CLI) creating or upgrading one database at once. */
static int
pg_schema_version(struct dirdb *db, int64_t *version_out)
{
	struct dirdb_stmt *st;
	int r;
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)", PG_SCHEMA_LOCK);
	if (pg_exec(db, sql) != 0 ||
	    pg_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)") != 0)
		return -1;
	st = dirdb_prepare(db, "SELECT max(version) FROM schema_version");
	if (st == NULL)
		return -1;
	r = dirdb_step(st);
	*version_out = r == 1 ? dirdb_col_int(st, 0) : 0;
	dirdb_finish(&st);
	return r < 0 ? -1 : 0;
}

static int
pg_set_schema_version(struct dirdb *db, int64_t version)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "DELETE FROM schema_version; INSERT INTO schema_version VALUES (%lld)",
	         (long long)version);
	return pg_exec(db, sql);
}

const struct dirdb_ops dirdb_pg_ops = {
	.close = pg_close,
	.exec = pg_exec,
	.prepare = pg_prepare,
	.step = pg_step,
	.col_text = pg_col_text,
	.col_int = pg_col_int,
	.col_blob = pg_col_blob,
	.reset = pg_reset,
	.release = pg_release,
	.begin_sql = "BEGIN",
	.schema_version = pg_schema_version,
	.set_schema_version = pg_set_schema_version,
};
