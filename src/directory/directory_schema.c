/* The directory's schema on each backend, and how each one is brought up
 * to DIRECTORY_SCHEMA_VERSION (directory_private.h).  The queries are
 * shared (directory.c, directory_apppw.c); only this text differs.
 *
 * A new database runs its backend's base text and then every migration
 * after the base's version, so new and upgraded databases end up with the
 * same schema.  Change the schema by adding a migration to both backends,
 * never by editing a base text. */
#include "directory/directory_private.h"

/* SQLite, version 1, frozen.  PRAGMA user_version holds the version. */
static const char sqlite_base[] =
	"CREATE TABLE IF NOT EXISTS domains ("
	"  name TEXT PRIMARY KEY NOT NULL"
	");"
	"CREATE TABLE IF NOT EXISTS users ("
	"  address TEXT PRIMARY KEY NOT NULL,"
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  password_hash TEXT NOT NULL,"
	"  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),"
	"  pop3 INTEGER NOT NULL DEFAULT 1,"
	"  imap INTEGER NOT NULL DEFAULT 1,"
	"  submission INTEGER NOT NULL DEFAULT 1,"
	"  disabled INTEGER NOT NULL DEFAULT 0,"
	"  quota_bytes INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE INDEX IF NOT EXISTS users_domain ON users(domain);"
	"CREATE TABLE IF NOT EXISTS aliases ("
	"  alias TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  PRIMARY KEY (alias, target)"
	");"
	"CREATE INDEX IF NOT EXISTS aliases_domain ON aliases(domain);";

/* sqlite_migrations[n] takes a database from version n + 1 to n + 2. */
static const char *const sqlite_migrations[] = {
	/* 2: per-user reject_mail; app passwords (issue 4).  Names compare
	 * without case, so "iPhone" and "iphone" are one name.  Deleting a
	 * user deletes its app passwords (foreign_keys is on). */
	"ALTER TABLE users ADD COLUMN reject_mail INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE app_passwords ("
	"  address TEXT NOT NULL REFERENCES users(address) ON DELETE CASCADE,"
	"  name TEXT NOT NULL COLLATE NOCASE,"
	"  hash TEXT NOT NULL,"
	"  protocols INTEGER NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL DEFAULT 0,"
	"  last_addr TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (address, name)"
	");",
	/* 3: back ends (issue 11).  A user whose backend is NULL is served
	 * by the server it logs in to; the others are proxied to the host of
	 * their back end.  A back end with users cannot be deleted. */
	"CREATE TABLE backends ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  host TEXT NOT NULL"
	");"
	"ALTER TABLE users ADD COLUMN backend TEXT REFERENCES backends(name);"
	"CREATE INDEX users_backend ON users(backend);",
};

/* PostgreSQL, version 2, frozen: the directory came to PostgreSQL at
 * version 2, so its base is SQLite's version 2.  The schema_version
 * table holds the version (dirdb_pg.c).  Integers are BIGINT (the
 * portable dialect's INTEGER); an app password's name is unique without
 * regard to case through an index on lower(name), and a column named
 * rowid (not a reserved word there) keeps the order in which they were
 * added, as SQLite's rowid does, so that "ORDER BY created, rowid" is one
 * query for both. */
static const char pg_base[] =
	"CREATE TABLE domains ("
	"  name TEXT PRIMARY KEY NOT NULL"
	");"
	"CREATE TABLE users ("
	"  address TEXT PRIMARY KEY NOT NULL,"
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  password_hash TEXT NOT NULL,"
	"  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),"
	"  pop3 BIGINT NOT NULL DEFAULT 1,"
	"  imap BIGINT NOT NULL DEFAULT 1,"
	"  submission BIGINT NOT NULL DEFAULT 1,"
	"  disabled BIGINT NOT NULL DEFAULT 0,"
	"  quota_bytes BIGINT NOT NULL DEFAULT 0,"
	"  created BIGINT NOT NULL,"
	"  reject_mail BIGINT NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX users_domain ON users(domain);"
	"CREATE TABLE aliases ("
	"  alias TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  PRIMARY KEY (alias, target)"
	");"
	"CREATE INDEX aliases_domain ON aliases(domain);"
	"CREATE INDEX aliases_target ON aliases(target);"
	"CREATE TABLE app_passwords ("
	"  rowid BIGSERIAL NOT NULL,"
	"  address TEXT NOT NULL REFERENCES users(address) ON DELETE CASCADE,"
	"  name TEXT NOT NULL,"
	"  hash TEXT NOT NULL,"
	"  protocols BIGINT NOT NULL,"
	"  created BIGINT NOT NULL,"
	"  last_used BIGINT NOT NULL DEFAULT 0,"
	"  last_addr TEXT NOT NULL DEFAULT ''"
	");"
	"CREATE UNIQUE INDEX app_passwords_name ON app_passwords(address, lower(name));";

_Static_assert(1 + sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]) == DIRECTORY_SCHEMA_VERSION,
               "SQLite: one migration per schema version after the first");

static const struct dir_schema sqlite_schema = { sqlite_base, 1, sqlite_migrations };
/* pg_migrations[n] takes a database from version n + 2 to n + 3. */
static const char *const pg_migrations[] = {
	/* 3: back ends, as SQLite's 3. */
	"CREATE TABLE backends ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  host TEXT NOT NULL"
	");"
	"ALTER TABLE users ADD COLUMN backend TEXT REFERENCES backends(name);"
	"CREATE INDEX users_backend ON users(backend);",
};

static const struct dir_schema pg_schema = { pg_base, 2, pg_migrations };

_Static_assert(2 + sizeof(pg_migrations) / sizeof(pg_migrations[0]) == DIRECTORY_SCHEMA_VERSION,
               "PostgreSQL: one migration per schema version after the second");

const struct dir_schema *
dir_schema_for(enum dirdb_backend backend)
{
	return backend == DIRDB_POSTGRESQL ? &pg_schema : &sqlite_schema;
}
