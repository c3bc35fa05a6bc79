/* Declarations shared by the files of src/directory (directory.c,
 * directory_apppw.c, directory_schema.c).  Not an interface for other modules: they use
 * directory.h.  Error text goes into the handle's buffer (d->error), valid
 * until the next call on that handle. */
#ifndef TERN_DIRECTORY_PRIVATE_H
#define TERN_DIRECTORY_PRIVATE_H

#include <stdbool.h>

#include "directory/dirdb.h"
#include "directory/directory.h"

/* The schema's version: PRAGMA user_version on SQLite, the table
 * schema_version on PostgreSQL.  A newer database is refused rather than
 * misread; an older one is brought up to date one version at a time,
 * inside one transaction. */
#define DIRECTORY_SCHEMA_VERSION 3

struct directory {
	struct dirdb *db;
	char error[768];
};

/* A backend's schema: the text that creates it at base_version, and
 * migrations[n], which takes it from base_version + n to + n + 1. */
struct dir_schema {
	const char *base;
	int base_version;
	const char *const *migrations;
};
const struct dir_schema *dir_schema_for(enum dirdb_backend backend);

/* Formats the message into d->error, points *error_out at it; returns -1. */
int dir_fail(struct directory *d, const char **error_out, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* dir_fail with "directory: what: <the database's message>". */
int dir_sql_fail(struct directory *d, const char **error_out, const char *what);
/* Runs one or more statements without results.  0 or -1. */
int dir_exec(struct directory *d, const char *sql, const char **error_out);
/* Prepares sql and binds the text arguments (a NULL-terminated list).
 * Returns the statement (the caller finalises it) or NULL, error set. */
struct dirdb_stmt *dir_prepare(struct directory *d, const char **error_out, const char *sql, ...);
/* Steps and finishes a statement (NULL allowed: an earlier error) that
 * returns no rows.  Returns the
 * number of changed rows, or -1. */
int dir_step_done(struct directory *d, struct dirdb_stmt *st, const char **error_out, const char *what);
/* Steps and finalises st (NULL allowed: an earlier error): the first
 * column of the first row, 0 without a row, -1 on error. */
long long dir_query_int(struct directory *d, struct dirdb_stmt *st, const char **error_out, const char *what);
/* A write transaction (dirdb_begin). */
int dir_begin(struct directory *d, const char **error_out);
int dir_commit(struct directory *d, const char **error_out);
void dir_rollback(struct directory *d);
/* true if h looks like a crypt(3) string: 1..PASSWORD_HASH_MAX printable
 * ASCII bytes without spaces or ':'. */
bool dir_valid_hash(const char *h);
/* 1 if the normalised address is a user, 0 if not, -1 on error. */
int dir_is_user(struct directory *d, const char *addr, const char **error_out);

#endif
