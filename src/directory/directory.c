/* The directory on SQLite: data_dir/directory.db, WAL, synchronous=FULL.
 * Addresses are checked and lower-cased before they reach SQL (see
 * directory_addr.c), so every comparison in SQL is a plain equality. */
#include "directory/directory.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "directory/directory_addr.h"
#include "directory/directory_private.h"
#include "lib/log.h"
#include "lib/reserve.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* PRAGMA user_version of the schema below.  A newer file is refused
 * rather than misread; an older one is brought up to date by the
 * migrations, one version at a time, inside the same transaction. */
#define DIRECTORY_SCHEMA_VERSION 2
#define DIRECTORY_BUSY_TIMEOUT_MS 5000

/* Version 1, frozen: a new database runs it and then every migration, so
 * new and upgraded files end up with the same schema.  Change the schema
 * by adding a migration, never by editing this text. */
static const char directory_schema[] =
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

/* directory_migrations[n] takes a database from version n + 1 to n + 2. */
static const char *const directory_migrations[] = {
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
};

_Static_assert(sizeof(directory_migrations) / sizeof(directory_migrations[0]) == DIRECTORY_SCHEMA_VERSION - 1,
               "one migration per schema version after the first");

int
dir_fail(struct directory *d, const char **error_out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->error, sizeof(d->error), fmt, ap);
	va_end(ap);
	*error_out = d->error;
	return -1;
}

int
dir_sql_fail(struct directory *d, const char **error_out, const char *what)
{
	return dir_fail(d, error_out, "directory: %s: %s", what, sqlite3_errmsg(d->db));
}

int
dir_exec(struct directory *d, const char *sql, const char **error_out)
{
	char *msg = NULL;

	if (sqlite3_exec(d->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		dir_fail(d, error_out, "directory: %s", msg != NULL ? msg : sqlite3_errmsg(d->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Prepares sql and binds the text arguments (NULL-terminated list).
 * Returns the statement or NULL with the error set. */
sqlite3_stmt *
dir_prepare(struct directory *d, const char **error_out, const char *sql, ...)
{
	sqlite3_stmt *st = NULL;
	const char *arg;
	va_list ap;
	int i = 1;

	if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) {
		dir_sql_fail(d, error_out, "prepare");
		return NULL;
	}
	va_start(ap, sql);
	while ((arg = va_arg(ap, const char *)) != NULL) {
		if (sqlite3_bind_text(st, i++, arg, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
			va_end(ap);
			dir_sql_fail(d, error_out, "bind");
			sqlite3_finalize(st);
			return NULL;
		}
	}
	va_end(ap);
	return st;
}

/* Runs a statement that returns no rows.  Returns the number of changed
 * rows, or -1. */
int
dir_step_done(struct directory *d, sqlite3_stmt *st, const char **error_out, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE) {
		dir_sql_fail(d, error_out, what);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return sqlite3_changes(d->db);
}

/* Returns the first column of the first row as an integer (0 when there is
 * no row), or -1 on error. */
long long
dir_query_int(struct directory *d, sqlite3_stmt *st, const char **error_out, const char *what)
{
	long long v = 0;
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE) {
		dir_sql_fail(d, error_out, what);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return v;
}

int
dir_begin(struct directory *d, const char **error_out)
{
	return dir_exec(d, "BEGIN IMMEDIATE", error_out);
}

int
dir_commit(struct directory *d, const char **error_out)
{
	return dir_exec(d, "COMMIT", error_out);
}

void
dir_rollback(struct directory *d)
{
	sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Creates path and its missing parents; the last one with mode 0700. */
static int
mkdir_parents(const char *path)
{
	char tmp[PATH_MAX];
	size_t len;
	char *p;

	if (str_lcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	len = strlen(tmp);
	while (len > 1 && tmp[len - 1] == '/')
		tmp[--len] = '\0';
	for (p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

static int
dir_init_schema(struct directory *d, const char **error_out)
{
	char sql[64], why[sizeof(d->error)];
	bool changed = false;
	long long version;

	if (dir_begin(d, error_out) != 0)
		return -1;
	version = dir_query_int(d, dir_prepare(d, error_out, "PRAGMA user_version", NULL), error_out,
	                        "user_version");
	if (version < 0)
		goto fail;
	if (version > DIRECTORY_SCHEMA_VERSION) {
		dir_fail(d, error_out, "directory: schema version %lld is newer than this tern (%d)", version,
		         DIRECTORY_SCHEMA_VERSION);
		goto fail;
	}
	if (version < 1) {
		if (dir_exec(d, directory_schema, error_out) != 0)
			goto fail;
		version = 1;
		changed = true;
	}
	for (; version < DIRECTORY_SCHEMA_VERSION; version++) {
		if (dir_exec(d, directory_migrations[version - 1], error_out) != 0) {
			str_lcpy(why, *error_out, sizeof(why));
			dir_fail(d, error_out, "directory: upgrading the schema to version %lld: %s", version + 1, why);
			goto fail;
		}
		changed = true;
	}
	if (changed) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", DIRECTORY_SCHEMA_VERSION);
		if (dir_exec(d, sql, error_out) != 0)
			goto fail;
	}
	return dir_commit(d, error_out);
fail:
	dir_rollback(d);
	return -1;
}

/* One try of directory_open; *nospace_out: it failed for disk space. */
static int
open_once(const char *data_dir, struct directory **dir_out, bool *nospace_out, const char **error_out)
{
	/* Messages about opening live here: there is no handle to own them. */
	static __thread char thread_error[PATH_MAX + 256];
	struct directory *d;
	char path[PATH_MAX];
	int rc;

	*dir_out = NULL;
	if (snprintf(path, sizeof(path), "%s/directory.db", data_dir) >= (int)sizeof(path)) {
		*error_out = "directory: data_dir path too long";
		return -1;
	}
	if (mkdir_parents(data_dir) != 0) {
		snprintf(thread_error, sizeof(thread_error), "directory: cannot create %s: %s", data_dir,
		         strerror(errno));
		*error_out = thread_error;
		return -1;
	}
	d = xcalloc(1, sizeof(*d));
	rc = sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		snprintf(thread_error, sizeof(thread_error), "directory: cannot open %s: %s", path,
		         d->db != NULL ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
		*error_out = thread_error;
		goto fail;
	}
	sqlite3_busy_timeout(d->db, DIRECTORY_BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(d->db, 1);
	if (dir_exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
	             error_out) != 0 ||
	    dir_init_schema(d, error_out) != 0) {
		snprintf(thread_error, sizeof(thread_error), "%s (%s)", *error_out, path);
		*error_out = thread_error;
		goto fail;
	}
	*dir_out = d;
	return 0;
fail:
	if (d->db != NULL) {
		int code = sqlite3_extended_errcode(d->db), sys = sqlite3_system_errno(d->db);

		*nospace_out = (code & 0xff) == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT;
	}
	sqlite3_close(d->db);
	free(d);
	return -1;
}

int
directory_open(const char *data_dir, struct directory **dir_out, const char **error_out)
{
	bool nospace = false;
	int r = open_once(data_dir, dir_out, &nospace, error_out);

	/* Opening a WAL database needs its -shm file: on a full disk (after a
	 * restart removed it) logins would fail, and with them every delete.
	 * The disk reserve pays for it (lib/reserve.h). */
	if (r == -1 && nospace && reserve_borrow(data_dir)) {
		r = open_once(data_dir, dir_out, &nospace, error_out);
		reserve_return(data_dir);
	}
	return r;
}

void
directory_close(struct directory **dir)
{
	if (dir == NULL || *dir == NULL)
		return;
	sqlite3_close((*dir)->db);
	free(*dir);
	*dir = NULL;
}

/* directory_for_thread: one handle per thread, closed when it ends. */
struct dir_thread_slot {
	struct directory *dir;
	char data_dir[PATH_MAX];
};

static pthread_key_t dir_thread_key;
static pthread_once_t dir_thread_once = PTHREAD_ONCE_INIT;

static void
dir_thread_destroy(void *p)
{
	struct dir_thread_slot *slot = p;

	directory_close(&slot->dir);
	free(slot);
}

static void
dir_thread_key_init(void)
{
	if (pthread_key_create(&dir_thread_key, dir_thread_destroy) != 0)
		panic("directory: pthread_key_create failed");
}

struct directory *
directory_for_thread(const char *data_dir)
{
	struct dir_thread_slot *slot;
	const char *error;

	pthread_once(&dir_thread_once, dir_thread_key_init);
	slot = pthread_getspecific(dir_thread_key);
	if (slot != NULL && strcmp(slot->data_dir, data_dir) == 0)
		return slot->dir;
	if (slot == NULL) {
		slot = xcalloc(1, sizeof(*slot));
		if (pthread_setspecific(dir_thread_key, slot) != 0)
			panic("directory: pthread_setspecific failed");
	}
	directory_close(&slot->dir);
	slot->data_dir[0] = '\0';
	if (directory_open(data_dir, &slot->dir, &error) != 0) {
		log_error("directory open failed data_dir=%s error=\"%s\"", data_dir, error);
		return NULL;
	}
	str_lcpy(slot->data_dir, data_dir, sizeof(slot->data_dir));
	return slot->dir;
}

/* ---- domains ---- */

int
directory_domain_add(struct directory *d, const char *domain, const char **error_out)
{
	char name[DOMAIN_MAX + 1];
	sqlite3_stmt *st;
	int n;

	if (dir_addr_domain(domain, name, sizeof(name)) != 0)
		return dir_fail(d, error_out, "invalid domain name \"%s\"", domain);
	st = dir_prepare(d, error_out, "INSERT OR IGNORE INTO domains(name) VALUES (?)", name, NULL);
	if (st == NULL)
		return -1;
	n = dir_step_done(d, st, error_out, "domain add");
	if (n < 0)
		return -1;
	if (n == 0)
		return dir_fail(d, error_out, "domain %s already exists", name);
	return 0;
}

int
directory_domain_del(struct directory *d, const char *domain, const char **error_out)
{
	char name[DOMAIN_MAX + 1];
	long long users, aliases;
	int n;

	if (dir_addr_domain(domain, name, sizeof(name)) != 0)
		return dir_fail(d, error_out, "invalid domain name \"%s\"", domain);
	if (dir_begin(d, error_out) != 0)
		return -1;
	users = dir_query_int(d, dir_prepare(d, error_out, "SELECT count(*) FROM users WHERE domain = ?", name, NULL),
	                      error_out, "count users");
	if (users < 0)
		goto fail;
	if (users > 0) {
		dir_fail(d, error_out, "domain %s still has %lld user%s: delete them first", name, users,
		         users == 1 ? "" : "s");
		goto fail;
	}
	aliases = dir_query_int(d, dir_prepare(d, error_out, "SELECT count(*) FROM aliases WHERE domain = ?", name,
	                                       NULL),
	                        error_out, "count aliases");
	if (aliases < 0)
		goto fail;
	if (aliases > 0) {
		dir_fail(d, error_out, "domain %s still has %lld alias%s: delete them first", name, aliases,
		         aliases == 1 ? "" : "es");
		goto fail;
	}
	n = dir_step_done(d, dir_prepare(d, error_out, "DELETE FROM domains WHERE name = ?", name, NULL),
	                  error_out, "domain del");
	if (n < 0)
		goto fail;
	if (n == 0) {
		dir_fail(d, error_out, "no such domain: %s", name);
		goto fail;
	}
	return dir_commit(d, error_out);
fail:
	dir_rollback(d);
	return -1;
}

int
directory_domain_list(struct directory *d, void (*fn)(const char *domain, void *arg), void *arg,
                      const char **error_out)
{
	sqlite3_stmt *st = dir_prepare(d, error_out, "SELECT name FROM domains ORDER BY name", NULL);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0), arg);
	if (rc != SQLITE_DONE) {
		dir_sql_fail(d, error_out, "domain list");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* name must already be normalised. */
static int
dir_domain_exists(struct directory *d, const char *name, const char **error_out)
{
	long long n = dir_query_int(d, dir_prepare(d, error_out, "SELECT count(*) FROM domains WHERE name = ?",
	                                           name, NULL),
	                            error_out, "domain lookup");

	return n < 0 ? -1 : n > 0;
}

int
directory_domain_is_local(struct directory *d, const char *domain, const char **error_out)
{
	char name[DOMAIN_MAX + 1];

	if (dir_addr_domain(domain, name, sizeof(name)) != 0)
		return 0;
	return dir_domain_exists(d, name, error_out);
}

/* ---- users ---- */

bool
dir_valid_hash(const char *h)
{
	size_t len = strlen(h);
	const char *p;

	if (len == 0 || len > PASSWORD_HASH_MAX)
		return false;
	for (p = h; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == ':')
			return false;
	}
	return true;
}

/* Whether addr (normalised) is a user (table "users") or an alias. */
static int
dir_exists_in(struct directory *d, const char *sql, const char *addr, const char **error_out)
{
	long long n = dir_query_int(d, dir_prepare(d, error_out, sql, addr, NULL), error_out, "lookup");

	return n < 0 ? -1 : n > 0;
}

int
dir_is_user(struct directory *d, const char *addr, const char **error_out)
{
	return dir_exists_in(d, "SELECT count(*) FROM users WHERE address = ?", addr, error_out);
}

static int
dir_is_alias(struct directory *d, const char *addr, const char **error_out)
{
	return dir_exists_in(d, "SELECT count(*) FROM aliases WHERE alias = ?", addr, error_out);
}

int
directory_user_add(struct directory *d, const char *address, const char *password_hash, enum user_role role,
                   const char **error_out)
{
	struct dir_addr a;
	sqlite3_stmt *st;
	char created[32];
	int r;

	if (dir_addr_parse(address, &a) != 0)
		return dir_fail(d, error_out, "invalid address \"%s\"", address);
	if (!dir_valid_hash(password_hash))
		return dir_fail(d, error_out, "invalid password hash");
	if (role != ROLE_USER && role != ROLE_ADMIN)
		return dir_fail(d, error_out, "invalid role");
	if (dir_begin(d, error_out) != 0)
		return -1;
	r = dir_domain_exists(d, a.domain, error_out);
	if (r < 0)
		goto fail;
	if (r == 0) {
		dir_fail(d, error_out, "domain %s does not exist (add it first: tern domain add %s)", a.domain,
		         a.domain);
		goto fail;
	}
	r = dir_is_user(d, a.address, error_out);
	if (r < 0)
		goto fail;
	if (r > 0) {
		dir_fail(d, error_out, "user %s already exists", a.address);
		goto fail;
	}
	r = dir_is_alias(d, a.address, error_out);
	if (r < 0)
		goto fail;
	if (r > 0) {
		dir_fail(d, error_out, "%s is an alias: delete the alias first", a.address);
		goto fail;
	}
	snprintf(created, sizeof(created), "%lld", (long long)time(NULL));
	st = dir_prepare(d, error_out,
	                 "INSERT INTO users(address, domain, password_hash, role, created) "
	                 "VALUES (?, ?, ?, ?, CAST(? AS INTEGER))",
	                 a.address, a.domain, password_hash, role == ROLE_ADMIN ? "admin" : "user", created, NULL);
	if (st == NULL || dir_step_done(d, st, error_out, "user add") < 0)
		goto fail;
	return dir_commit(d, error_out);
fail:
	dir_rollback(d);
	return -1;
}

int
directory_user_del(struct directory *d, const char *address, const char **error_out)
{
	struct dir_addr a;
	int n;

	if (dir_addr_parse(address, &a) != 0)
		return dir_fail(d, error_out, "invalid address \"%s\"", address);
	n = dir_step_done(d, dir_prepare(d, error_out, "DELETE FROM users WHERE address = ?", a.address, NULL),
	                  error_out, "user del");
	if (n < 0)
		return -1;
	if (n == 0)
		return dir_fail(d, error_out, "no such user: %s", a.address);
	return 0;
}

int
directory_user_set_password(struct directory *d, const char *address, const char *password_hash,
                            const char **error_out)
{
	struct dir_addr a;
	int n;

	if (dir_addr_parse(address, &a) != 0)
		return dir_fail(d, error_out, "invalid address \"%s\"", address);
	if (!dir_valid_hash(password_hash))
		return dir_fail(d, error_out, "invalid password hash");
	n = dir_step_done(d,
	                  dir_prepare(d, error_out, "UPDATE users SET password_hash = ? WHERE address = ?",
	                              password_hash, a.address, NULL),
	                  error_out, "set password");
	if (n < 0)
		return -1;
	if (n == 0)
		return dir_fail(d, error_out, "no such user: %s", a.address);
	return 0;
}

int
directory_user_update(struct directory *d, const struct dir_user *u, const char **error_out)
{
	struct dir_addr a;
	sqlite3_stmt *st;
	int n;

	if (dir_addr_parse(u->address, &a) != 0)
		return dir_fail(d, error_out, "invalid address \"%s\"", u->address);
	if (!dir_valid_hash(u->password_hash))
		return dir_fail(d, error_out, "invalid password hash");
	if (u->role != ROLE_USER && u->role != ROLE_ADMIN)
		return dir_fail(d, error_out, "invalid role");
	if (u->quota_bytes > (uint64_t)INT64_MAX)
		return dir_fail(d, error_out, "quota too large");
	st = dir_prepare(d, error_out,
	                 "UPDATE users SET password_hash = ?, role = ?, pop3 = ?, imap = ?, submission = ?, "
	                 "disabled = ?, quota_bytes = ?, reject_mail = ? WHERE address = ?",
	                 NULL);
	if (st == NULL)
		return -1;
	if (sqlite3_bind_text(st, 1, u->password_hash, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, u->role == ROLE_ADMIN ? "admin" : "user", -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_int(st, 3, u->pop3) != SQLITE_OK || sqlite3_bind_int(st, 4, u->imap) != SQLITE_OK ||
	    sqlite3_bind_int(st, 5, u->submission) != SQLITE_OK ||
	    sqlite3_bind_int(st, 6, u->disabled) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 7, (sqlite3_int64)u->quota_bytes) != SQLITE_OK ||
	    sqlite3_bind_int(st, 8, u->reject_mail) != SQLITE_OK ||
	    sqlite3_bind_text(st, 9, a.address, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		dir_sql_fail(d, error_out, "bind");
		sqlite3_finalize(st);
		return -1;
	}
	n = dir_step_done(d, st, error_out, "user update");
	if (n < 0)
		return -1;
	if (n == 0)
		return dir_fail(d, error_out, "no such user: %s", a.address);
	return 0;
}

#define USER_COLUMNS \
	"address, password_hash, role, pop3, imap, submission, disabled, quota_bytes, created, reject_mail"

static void
dir_row_to_user(sqlite3_stmt *st, struct dir_user *u)
{
	const char *s;
	sqlite3_int64 quota;

	memset(u, 0, sizeof(*u));
	s = (const char *)sqlite3_column_text(st, 0);
	str_lcpy(u->address, s != NULL ? s : "", sizeof(u->address));
	s = (const char *)sqlite3_column_text(st, 1);
	str_lcpy(u->password_hash, s != NULL ? s : "", sizeof(u->password_hash));
	s = (const char *)sqlite3_column_text(st, 2);
	u->role = s != NULL && strcmp(s, "admin") == 0 ? ROLE_ADMIN : ROLE_USER;
	u->pop3 = sqlite3_column_int(st, 3) != 0;
	u->imap = sqlite3_column_int(st, 4) != 0;
	u->submission = sqlite3_column_int(st, 5) != 0;
	u->disabled = sqlite3_column_int(st, 6) != 0;
	quota = sqlite3_column_int64(st, 7);
	u->quota_bytes = quota > 0 ? (uint64_t)quota : 0;
	u->created = sqlite3_column_int64(st, 8);
	u->reject_mail = sqlite3_column_int(st, 9) != 0;
}

/* Looks up a normalised address.  1 found, 0 not, -1 error. */
static int
dir_user_get_norm(struct directory *d, const char *addr, struct dir_user *u_out, const char **error_out)
{
	sqlite3_stmt *st = dir_prepare(d, error_out, "SELECT " USER_COLUMNS " FROM users WHERE address = ?", addr,
	                               NULL);
	int rc;

	if (st == NULL)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (u_out != NULL)
			dir_row_to_user(st, u_out);
		sqlite3_finalize(st);
		return 1;
	}
	if (rc != SQLITE_DONE) {
		dir_sql_fail(d, error_out, "user lookup");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
directory_user_get(struct directory *d, const char *address, struct dir_user *u_out, const char **error_out)
{
	struct dir_addr a;

	if (dir_addr_parse(address, &a) != 0)
		return 0;
	return dir_user_get_norm(d, a.address, u_out, error_out);
}

int
directory_user_list(struct directory *d, const char *domain_or_null,
                    void (*fn)(const struct dir_user *u, void *arg), void *arg, const char **error_out)
{
	char name[DOMAIN_MAX + 1];
	struct dir_user u;
	sqlite3_stmt *st;
	int rc;

	if (domain_or_null != NULL) {
		if (dir_addr_domain(domain_or_null, name, sizeof(name)) != 0)
			return dir_fail(d, error_out, "invalid domain name \"%s\"", domain_or_null);
		rc = dir_domain_exists(d, name, error_out);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return dir_fail(d, error_out, "no such domain: %s", name);
		st = dir_prepare(d, error_out, "SELECT " USER_COLUMNS " FROM users WHERE domain = ? ORDER BY address",
		                 name, NULL);
	} else {
		st = dir_prepare(d, error_out, "SELECT " USER_COLUMNS " FROM users ORDER BY domain, address", NULL);
	}
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dir_row_to_user(st, &u);
		fn(&u, arg);
	}
	str_wipe(&u, sizeof(u));
	if (rc != SQLITE_DONE) {
		dir_sql_fail(d, error_out, "user list");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

/* ---- aliases ---- */

int
directory_alias_add(struct directory *d, const char *alias_address, const char *target_address,
                    const char **error_out)
{
	struct dir_addr a, t;
	long long n;
	int r;

	if (dir_addr_parse(alias_address, &a) != 0)
		return dir_fail(d, error_out, "invalid address \"%s\"", alias_address);
	if (dir_addr_parse(target_address, &t) != 0)
		return dir_fail(d, error_out, "invalid target address \"%s\"", target_address);
	if (strcmp(a.address, t.address) == 0)
		return dir_fail(d, error_out, "an alias cannot point to itself");
	if (dir_begin(d, error_out) != 0)
		return -1;
	r = dir_domain_exists(d, a.domain, error_out);
	if (r < 0)
		goto fail;
	if (r == 0) {
		dir_fail(d, error_out, "domain %s does not exist (add it first: tern domain add %s)", a.domain,
		         a.domain);
		goto fail;
	}
	r = dir_is_user(d, a.address, error_out);
	if (r < 0)
		goto fail;
	if (r > 0) {
		dir_fail(d, error_out, "%s is a user: an alias cannot have a user's address", a.address);
		goto fail;
	}
	n = dir_query_int(d, dir_prepare(d, error_out, "SELECT count(*) FROM aliases WHERE alias = ?", a.address,
	                                 NULL),
	                  error_out, "count targets");
	if (n < 0)
		goto fail;
	if (n >= DIRECTORY_ALIAS_TARGETS_MAX) {
		dir_fail(d, error_out, "alias %s already has %d targets, the most allowed", a.address,
		         DIRECTORY_ALIAS_TARGETS_MAX);
		goto fail;
	}
	r = dir_step_done(d,
	                  dir_prepare(d, error_out, "INSERT OR IGNORE INTO aliases(alias, target, domain) VALUES (?, ?, ?)",
	                              a.address, t.address, a.domain, NULL),
	                  error_out, "alias add");
	if (r < 0)
		goto fail;
	if (r == 0) {
		dir_fail(d, error_out, "alias %s -> %s already exists", a.address, t.address);
		goto fail;
	}
	return dir_commit(d, error_out);
fail:
	dir_rollback(d);
	return -1;
}

int
directory_alias_del(struct directory *d, const char *alias_address, const char *target_or_null,
                    const char **error_out)
{
	struct dir_addr a, t;
	int n;

	if (dir_addr_parse(alias_address, &a) != 0)
		return dir_fail(d, error_out, "invalid address \"%s\"", alias_address);
	if (target_or_null != NULL) {
		if (dir_addr_parse(target_or_null, &t) != 0)
			return dir_fail(d, error_out, "invalid target address \"%s\"", target_or_null);
		n = dir_step_done(d,
		                  dir_prepare(d, error_out, "DELETE FROM aliases WHERE alias = ? AND target = ?",
		                              a.address, t.address, NULL),
		                  error_out, "alias del");
		if (n == 0)
			return dir_fail(d, error_out, "no such alias: %s -> %s", a.address, t.address);
	} else {
		n = dir_step_done(d, dir_prepare(d, error_out, "DELETE FROM aliases WHERE alias = ?", a.address, NULL),
		                  error_out, "alias del");
		if (n == 0)
			return dir_fail(d, error_out, "no such alias: %s", a.address);
	}
	return n < 0 ? -1 : 0;
}

int
directory_alias_list(struct directory *d, void (*fn)(const char *alias, const char *target, void *arg),
                     void *arg, const char **error_out)
{
	sqlite3_stmt *st = dir_prepare(d, error_out, "SELECT alias, target FROM aliases ORDER BY alias, target",
	                               NULL);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1), arg);
	if (rc != SQLITE_DONE) {
		dir_sql_fail(d, error_out, "alias list");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
directory_alias_targeting(struct directory *d, const char *target_address,
                          void (*fn)(const char *alias, void *arg), void *arg, const char **error_out)
{
	struct dir_addr a;
	sqlite3_stmt *st;
	int rc;

	if (dir_addr_parse(target_address, &a) != 0)
		return dir_fail(d, error_out, "invalid address \"%s\"", target_address);
	st = dir_prepare(d, error_out, "SELECT alias FROM aliases WHERE target = ? ORDER BY alias", a.address, NULL);
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		fn((const char *)sqlite3_column_text(st, 0), arg);
	if (rc != SQLITE_DONE) {
		dir_sql_fail(d, error_out, "alias targeting");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
directory_alias_target_dangling(struct directory *d, const char *target_address, const char **error_out)
{
	struct dir_addr a;
	long long n;
	int r;

	if (dir_addr_parse(target_address, &a) != 0)
		return 0;   /* not an address tern would resolve: not ours to judge */
	r = dir_domain_exists(d, a.domain, error_out);
	if (r <= 0)
		return r;
	n = dir_query_int(d,
	                  dir_prepare(d, error_out,
	                              "SELECT (SELECT count(*) FROM users WHERE address = ?1) +"
	                              " (SELECT count(*) FROM aliases WHERE alias = ?1)",
	                              a.address, NULL),
	                  error_out, "alias target");
	if (n < 0)
		return -1;
	return n == 0 ? 1 : 0;
}

/* ---- recipient resolution ---- */

/* Targets of one alias, read into a fixed array.  Returns the count or -1. */
static int
dir_alias_targets(struct directory *d, const char *alias, char (*targets)[ADDRESS_MAX + 1], int max,
                  const char **error_out)
{
	sqlite3_stmt *st = dir_prepare(d, error_out, "SELECT target FROM aliases WHERE alias = ? ORDER BY target",
	                               alias, NULL);
	int rc, n = 0;

	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		if (n < max && t != NULL)
			str_lcpy(targets[n++], t, ADDRESS_MAX + 1);
	}
	if (rc != SQLITE_DONE) {
		dir_sql_fail(d, error_out, "alias lookup");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return n;
}

static void
res_add(char (*list)[ADDRESS_MAX + 1], unsigned *n, const char *addr)
{
	unsigned i;

	for (i = 0; i < *n; i++) {
		if (strcmp(list[i], addr) == 0)
			return;
	}
	if (*n >= DIRECTORY_ALIAS_TARGETS_MAX) {
		log_warnx("directory alias expansion truncated at %d addresses dropped=%s",
		          DIRECTORY_ALIAS_TARGETS_MAX, addr);
		return;
	}
	str_lcpy(list[(*n)++], addr, ADDRESS_MAX + 1);
}

/* What a normalised address is: a user or an alias, looked up exactly
 * first and only then without its "+tag" (sub-addressing).  The matching
 * address goes into found. */
enum dir_match { DIR_MATCH_NONE, DIR_MATCH_USER, DIR_MATCH_ALIAS };

static int
dir_match_exact(struct directory *d, const char *addr, enum dir_match *m, const char **error_out)
{
	int r = dir_is_user(d, addr, error_out);

	if (r < 0)
		return -1;
	if (r > 0) {
		*m = DIR_MATCH_USER;
		return 0;
	}
	r = dir_is_alias(d, addr, error_out);
	if (r < 0)
		return -1;
	*m = r > 0 ? DIR_MATCH_ALIAS : DIR_MATCH_NONE;
	return 0;
}

static int
dir_match(struct directory *d, const struct dir_addr *a, enum dir_match *m, char *found, const char **error_out)
{
	struct dir_addr base;

	if (dir_match_exact(d, a->address, m, error_out) != 0)
		return -1;
	if (*m != DIR_MATCH_NONE) {
		str_lcpy(found, a->address, ADDRESS_MAX + 1);
		return 0;
	}
	if (dir_addr_strip_tag(a, &base) != 0)
		return 0;
	if (dir_match_exact(d, base.address, m, error_out) != 0)
		return -1;
	if (*m != DIR_MATCH_NONE)
		str_lcpy(found, base.address, ADDRESS_MAX + 1);
	return 0;
}

/* 1 if the user (normalised address) refuses mail, 0 if not, -1 error. */
static int
dir_user_rejects(struct directory *d, const char *addr, const char **error_out)
{
	long long n = dir_query_int(d, dir_prepare(d, error_out, "SELECT reject_mail FROM users WHERE address = ?",
	                                           addr, NULL),
	                            error_out, "user lookup");

	return n < 0 ? -1 : n != 0;
}

/* Adds user (normalised) to out->local unless it refuses mail and
 * keep_rejecting is false: then it only sets out->rejected.  0 or -1. */
static int
dir_add_user(struct directory *d, const char *user, bool keep_rejecting, struct rcpt_resolution *out,
             const char **error_out)
{
	int r;

	if (!keep_rejecting) {
		r = dir_user_rejects(d, user, error_out);
		if (r < 0)
			return -1;
		if (r > 0) {
			out->rejected = true;
			return 0;
		}
	}
	res_add(out->local, &out->n_local, user);
	return 0;
}

/* Adds one alias target to out: a local user (not one refusing mail,
 * unless keep_rejecting), the targets of a local alias when depth allows,
 * a remote address; a dangling local target is dropped (logged).
 * Returns 0 or -1. */
static int
dir_expand_target(struct directory *d, const char *target, int depth, bool keep_rejecting,
                  struct rcpt_resolution *out, const char **error_out)
{
	char found[ADDRESS_MAX + 1];
	char (*targets)[ADDRESS_MAX + 1];
	enum dir_match m;
	struct dir_addr t;
	int r, i, n;

	if (dir_addr_parse(target, &t) != 0) {
		log_warnx("directory alias target invalid target=%s", target);
		return 0;
	}
	r = dir_domain_exists(d, t.domain, error_out);
	if (r < 0)
		return -1;
	if (r == 0) {
		res_add(out->remote, &out->n_remote, t.address);
		return 0;
	}
	if (dir_match(d, &t, &m, found, error_out) != 0)
		return -1;
	if (m == DIR_MATCH_USER)
		return dir_add_user(d, found, keep_rejecting, out, error_out);
	if (m == DIR_MATCH_NONE) {
		log_warnx("directory alias target unknown target=%s", t.address);
		return 0;
	}
	if (depth == 0) {
		log_warnx("directory alias nested too deep, not followed target=%s", t.address);
		return 0;
	}
	targets = xmalloc(DIRECTORY_ALIAS_TARGETS_MAX * sizeof(*targets));
	n = dir_alias_targets(d, found, targets, DIRECTORY_ALIAS_TARGETS_MAX, error_out);
	for (i = 0; i < n; i++) {
		if (dir_expand_target(d, targets[i], depth - 1, keep_rejecting, out, error_out) != 0) {
			n = -1;
			break;
		}
	}
	free(targets);
	return n < 0 ? -1 : 0;
}

/* RFC 5321 4.5.1: mail to postmaster@<local domain> MUST be accepted.
 * Without a user or alias of that name it goes to the admin-role users,
 * and without those to the oldest user of the domain (on a small server,
 * whoever set it up).  An alias "postmaster@domain" chooses otherwise. */
static int
dir_postmaster_fallback(struct directory *d, const char *domain, struct rcpt_resolution *out,
                        const char **error_out)
{
	static const struct {
		const char *sql;
		bool by_domain;
	} queries[] = {
		{ "SELECT address FROM users WHERE role = 'admin' AND disabled = 0 AND reject_mail = 0 "
		  "ORDER BY created, address LIMIT 8", false },
		{ "SELECT address FROM users WHERE domain = ? AND disabled = 0 AND reject_mail = 0 "
		  "ORDER BY created, address LIMIT 1", true },
	};

	for (size_t q = 0; q < sizeof(queries) / sizeof(queries[0]) && out->n_local == 0; q++) {
		sqlite3_stmt *st = dir_prepare(d, error_out, queries[q].sql, queries[q].by_domain ? domain : NULL,
		                               NULL);
		int rc;

		if (st == NULL)
			return -1;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *addr = (const char *)sqlite3_column_text(st, 0);

			if (addr != NULL)
				res_add(out->local, &out->n_local, addr);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return dir_sql_fail(d, error_out, "postmaster lookup");
	}
	if (out->n_local > 0)
		out->kind = RCPT_LOCAL;
	return 0;
}

/* directory_resolve_rcpt; keep_rejecting counts users who refuse mail
 * as local (for directory_sender_allowed: they may still send). */
static int
dir_resolve(struct directory *d, const char *address, bool keep_rejecting, struct rcpt_resolution *out,
            const char **error_out)
{
	char found[ADDRESS_MAX + 1];
	char (*targets)[ADDRESS_MAX + 1];
	enum dir_match m;
	struct dir_addr a;
	const char *at;
	int r, i, n;

	out->kind = RCPT_UNKNOWN_USER;
	out->n_local = 0;
	out->n_remote = 0;
	out->rejected = false;
	if (dir_addr_parse(address, &a) != 0) {
		/* Not an address we could hold: remote unless its domain is ours. */
		at = strrchr(address, '@');
		if (at == NULL)
			return 0;
		r = directory_domain_is_local(d, at + 1, error_out);
		if (r < 0)
			return -1;
		out->kind = r > 0 ? RCPT_UNKNOWN_USER : RCPT_REMOTE;
		return 0;
	}
	r = dir_domain_exists(d, a.domain, error_out);
	if (r < 0)
		return -1;
	if (r == 0) {
		out->kind = RCPT_REMOTE;
		return 0;
	}
	if (dir_match(d, &a, &m, found, error_out) != 0)
		return -1;
	if (m == DIR_MATCH_USER) {
		if (dir_add_user(d, found, keep_rejecting, out, error_out) != 0)
			return -1;
		if (out->n_local > 0)
			out->kind = RCPT_LOCAL;
		return 0;
	}
	if (m == DIR_MATCH_NONE) {
		if (strcmp(a.local, "postmaster") == 0)
			return dir_postmaster_fallback(d, a.domain, out, error_out);
		return 0;
	}
	targets = xmalloc(DIRECTORY_ALIAS_TARGETS_MAX * sizeof(*targets));
	n = dir_alias_targets(d, found, targets, DIRECTORY_ALIAS_TARGETS_MAX, error_out);
	for (i = 0; i < n; i++) {
		if (dir_expand_target(d, targets[i], 1, keep_rejecting, out, error_out) != 0) {
			n = -1;
			break;
		}
	}
	free(targets);
	if (n < 0)
		return -1;
	if (out->n_local + out->n_remote > 0) {
		out->kind = RCPT_LOCAL;
		out->rejected = false;   /* some targets refuse: the others get it */
	}
	return 0;
}

int
directory_resolve_rcpt(struct directory *d, const char *address, struct rcpt_resolution *out,
                       const char **error_out)
{
	return dir_resolve(d, address, false, out, error_out);
}

int
directory_sender_allowed(struct directory *d, const char *user, const char *sender, const char **error_out)
{
	struct rcpt_resolution *res;
	struct dir_addr u;
	unsigned i;
	int ret = 0;

	if (dir_addr_parse(user, &u) != 0)
		return 0;
	res = xmalloc(sizeof(*res));
	if (dir_resolve(d, sender, true, res, error_out) != 0) {
		free(res);
		return -1;
	}
	if (res->kind == RCPT_LOCAL) {
		for (i = 0; i < res->n_local; i++) {
			if (strcmp(res->local[i], u.address) == 0)
				ret = 1;
		}
	}
	free(res);
	return ret;
}
