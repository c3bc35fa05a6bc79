/* The directory's statement layer: one way to run the directory's SQL
 * (and the penalty state's) on SQLite or on PostgreSQL (libpq), so that
 * each query is written once.
 *
 * The portable dialect the SQL is written in:
 *  - parameters are "?" (PostgreSQL gets $1, $2, ... in their place; a
 *    "?" inside a quoted string is left alone);
 *  - INTEGER means a 64-bit integer (the PostgreSQL schema says BIGINT),
 *    booleans are INTEGER 0/1, BLOB is BYTEA;
 *  - upserts are INSERT ... ON CONFLICT (SQLite 3.24, PostgreSQL 9.5);
 *  - no rowid, PRAGMA, COLLATE NOCASE or two-argument max(): schema text,
 *    which differs between the two, is kept per backend by the caller.
 *
 * A connection (struct dirdb) belongs to one thread at a time.  Statements
 * are prepared once per connection and kept (dirdb_finish returns them to
 * the connection's cache); one statement may be in use while another runs
 * (a nested lookup gets a fresh one).  On PostgreSQL a statement's rows
 * are all read when it first steps, so nested statements are fine there
 * too.
 *
 * PostgreSQL connection handling: a broken connection is reset before the
 * next statement, and a statement outside a transaction that meets a
 * broken connection is run once more on a fresh one.  When that fails too
 * the error says "directory unavailable" and dirdb_unavailable() is true:
 * callers answer with the protocol's temporary failure.
 *
 * Functions that can fail return -1 (or NULL) with the message in
 * dirdb_errmsg(), valid until the next call on that connection. */
#ifndef TERN_DIRDB_H
#define TERN_DIRDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dirdb;
struct dirdb_stmt;
struct sqlite3;

enum dirdb_backend { DIRDB_SQLITE, DIRDB_POSTGRESQL };

#define DIRDB_PARAMS_MAX 16     /* parameters of one statement */
#define DIRDB_CACHE_MAX  64     /* statements kept prepared per connection */
#define DIRDB_DSN_MAX    1024   /* [directory] dsn */

/* Opens (creating if needed) the SQLite file at path with a busy timeout
 * (the caller sets its PRAGMAs).  0 or -1 with a message in *error_out
 * (thread-local, valid until the next open on this thread). */
int dirdb_open_sqlite(const char *path, int busy_ms, struct dirdb **db_out, const char **error_out);
/* Connects to PostgreSQL (a libpq connection string or URI; unless it
 * says otherwise: connect_timeout 5 s, statement_timeout 30 s,
 * tcp_user_timeout 30 s, keepalives after 30 s idle).  search_path: NULL,
 * or the schema that unqualified names go to on this connection (set
 * again after every reconnect).  0 or -1 as above. */
int dirdb_open_pg(const char *dsn, const char *search_path, struct dirdb **db_out, const char **error_out);
/* true if s names PostgreSQL: "postgresql://" or "postgres://". */
bool dirdb_is_pg_dsn(const char *s);
void dirdb_close(struct dirdb **db);

enum dirdb_backend dirdb_backend(const struct dirdb *db);
/* The SQLite handle (for PRAGMAs and functions), NULL on PostgreSQL. */
struct sqlite3 *dirdb_sqlite(struct dirdb *db);
const char *dirdb_errmsg(const struct dirdb *db);
/* true when the last error came from a connection that could not be made
 * or kept (a temporary failure), not from the SQL. */
bool dirdb_unavailable(const struct dirdb *db);
/* true when the last error was a full disk (SQLite only). */
bool dirdb_nospace(const struct dirdb *db);

/* Runs SQL without parameters or rows (several statements allowed). */
int dirdb_exec(struct dirdb *db, const char *sql);

/* A statement for sql (portable dialect), from the cache when it is there
 * and free.  NULL on error. */
struct dirdb_stmt *dirdb_prepare(struct dirdb *db, const char *sql);
/* Binds parameter idx (1-based, at most DIRDB_PARAMS_MAX); values are
 * copied.  Binding cannot fail (an index out of range is a bug). */
void dirdb_bind_text(struct dirdb_stmt *st, int idx, const char *value);
void dirdb_bind_int(struct dirdb_stmt *st, int idx, int64_t value);
void dirdb_bind_blob(struct dirdb_stmt *st, int idx, const void *value, size_t len);
/* 1: a row is ready; 0: done; -1: error. */
int dirdb_step(struct dirdb_stmt *st);
/* Columns of the current row (0-based).  Text is never NULL ("" for SQL
 * NULL) and valid until the next step or finish; so is a blob. */
const char *dirdb_col_text(struct dirdb_stmt *st, int col);
int64_t dirdb_col_int(struct dirdb_stmt *st, int col);
const void *dirdb_col_blob(struct dirdb_stmt *st, int col, size_t *len_out);
/* Rows inserted, updated or deleted by the statement once stepped to done. */
int64_t dirdb_changes(const struct dirdb_stmt *st);
/* Ends the statement (NULL allowed) and sets *st to NULL. */
void dirdb_finish(struct dirdb_stmt **st);

/* A write transaction: BEGIN IMMEDIATE on SQLite, BEGIN on PostgreSQL.
 * dirdb_rollback never fails (a lost connection rolls back by itself). */
int dirdb_begin(struct dirdb *db);
int dirdb_commit(struct dirdb *db);
void dirdb_rollback(struct dirdb *db);

/* The schema version: PRAGMA user_version on SQLite (as files written
 * before this layer have it), a one-row table schema_version on
 * PostgreSQL.  0 for an empty database. */
int dirdb_schema_version(struct dirdb *db, int64_t *version_out);
int dirdb_set_schema_version(struct dirdb *db, int64_t version);

/* Translates the portable dialect into PostgreSQL's: "?" -> "$n".  0, or
 * -1 when out (outsize bytes) is too small or there are more than
 * DIRDB_PARAMS_MAX parameters.  (Exposed for the unit test.) */
int dirdb_pg_translate(const char *sql, char *out, size_t outsize, int *nparams_out);

#endif
