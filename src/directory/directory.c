/* The directory: on SQLite (data_dir/directory.db, WAL, synchronous=FULL)
 * or on PostgreSQL ([directory] dsn), through the statement layer
 * (dirdb.h), so that each query below is written once.  Addresses are checked and lower-cased before they reach SQL (see
 * directory_addr.c), so every comparison in SQL is a plain equality. */
#include "directory/directory.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "directory/directory_addr.h"
#include "directory/directory_private.h"
#include "directory/dirdb.h"
#include "lib/log.h"
#include "lib/reserve.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define DIRECTORY_BUSY_TIMEOUT_MS 5000

/* Where the directory lives, set once at start-up (directory_configure). */
static enum directory_backend dir_backend = DIRECTORY_SQLITE;
static char dir_dsn[DIRDB_DSN_MAX];

void
directory_configure(enum directory_backend backend, const char *dsn)
{
	dir_backend = backend;
	str_lcpy(dir_dsn, dsn != NULL ? dsn : "", sizeof(dir_dsn));
}

enum directory_backend
directory_backend_configured(const char **dsn_out)
{
	if (dsn_out != NULL)
		*dsn_out = dir_dsn;
	return dir_backend;
}

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
	const char *msg = dirdb_errmsg(d->db);

	/* "directory unavailable" first, so that the log says at once that
	 * the database was out of reach rather than the query wrong. */
	if (dirdb_unavailable(d->db) && strncmp(msg, "directory unavailable", 21) == 0)
		return dir_fail(d, error_out, "%s (%s)", msg, what);
	return dir_fail(d, error_out, "directory: %s: %s", what, msg);
}

int
dir_exec(struct directory *d, const char *sql, const char **error_out)
{
	if (dirdb_exec(d->db, sql) != 0)
		return dir_sql_fail(d, error_out, "exec");
	return 0;
}

struct dirdb_stmt *
dir_prepare(struct directory *d, const char **error_out, const char *sql, ...)
{
	struct dirdb_stmt *st = dirdb_prepare(d->db, sql);
	const char *arg;
	va_list ap;
	int i = 1;

	if (st == NULL) {
		dir_sql_fail(d, error_out, "prepare");
		return NULL;
	}
	va_start(ap, sql);
	while ((arg = va_arg(ap, const char *)) != NULL)
		dirdb_bind_text(st, i++, arg);
	va_end(ap);
	return st;
}

int
dir_step_done(struct directory *d, struct dirdb_stmt *st, const char **error_out, const char *what)
{
	int64_t n;

	if (st == NULL)
		return -1;
	if (dirdb_step(st) < 0) {
		dir_sql_fail(d, error_out, what);
		dirdb_finish(&st);
		return -1;
	}
	n = dirdb_changes(st);
	dirdb_finish(&st);
	return n > INT_MAX ? INT_MAX : (int)n;
}

long long
dir_query_int(struct directory *d, struct dirdb_stmt *st, const char **error_out, const char *what)
{
	long long v = 0;
	int rc;

	if (st == NULL)
		return -1;
	rc = dirdb_step(st);
	if (rc == 1)
		v = dirdb_col_int(st, 0);
	dirdb_finish(&st);
	if (rc < 0)
		return dir_sql_fail(d, error_out, what);
	return v;
}

int
dir_begin(struct directory *d, const char **error_out)
{
	if (dirdb_begin(d->db) != 0)
		return dir_sql_fail(d, error_out, "begin");
	return 0;
}

int
dir_commit(struct directory *d, const char **error_out)
{
	if (dirdb_commit(d->db) != 0)
		return dir_sql_fail(d, error_out, "commit");
	return 0;
}

void
dir_rollback(struct directory *d)
{
	dirdb_rollback(d->db);
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

/* Creates or upgrades the schema (directory_schema.c) in one transaction. */
static int
dir_init_schema(struct directory *d, const char **error_out)
{
	const struct dir_schema *sc = dir_schema_for(dirdb_backend(d->db));
	char why[sizeof(d->error)];
	bool changed = false;
	int64_t version;

	if (dir_begin(d, error_out) != 0)
		return -1;
	if (dirdb_schema_version(d->db, &version) != 0) {
		dir_sql_fail(d, error_out, "schema version");
		goto fail;
	}
	if (version > DIRECTORY_SCHEMA_VERSION) {
		dir_fail(d, error_out, "directory: schema version %lld is newer than this tern (%d)", (long long)version,
		         DIRECTORY_SCHEMA_VERSION);
		goto fail;
	}
	if (version < 1) {
		if (dir_exec(d, sc->base, error_out) != 0)
			goto fail;
		version = sc->base_version;
		changed = true;
	}
	for (; version < DIRECTORY_SCHEMA_VERSION; version++) {
		if (version < sc->base_version) {
			dir_fail(d, error_out, "directory: schema version %lld cannot be upgraded on this backend",
			         (long long)version);
			goto fail;
		}
		if (dir_exec(d, sc->migrations[version - sc->base_version], error_out) != 0) {
			str_lcpy(why, *error_out, sizeof(why));
			dir_fail(d, error_out, "directory: upgrading the schema to version %lld: %s",
			         (long long)version + 1, why);
			goto fail;
		}
		changed = true;
	}
	if (changed && dirdb_set_schema_version(d->db, DIRECTORY_SCHEMA_VERSION) != 0) {
		dir_sql_fail(d, error_out, "schema version");
		goto fail;
	}
	return dir_commit(d, error_out);
fail:
	dir_rollback(d);
	return -1;
}

/* One try of directory_open on SQLite; *nospace_out: it failed for disk
 * space. */
static int
open_sqlite_once(const char *data_dir, struct directory **dir_out, bool *nospace_out, const char **error_out)
{
	/* Messages about opening live here: there is no handle to own them. */
	static __thread char thread_error[PATH_MAX + 768];
	struct directory *d;
	char path[PATH_MAX];

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
	if (dirdb_open_sqlite(path, DIRECTORY_BUSY_TIMEOUT_MS, &d->db, error_out) != 0) {
		snprintf(thread_error, sizeof(thread_error), "directory: %s", *error_out);
		*error_out = thread_error;
		free(d);
		return -1;
	}
	if (dir_exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
	             error_out) != 0 ||
	    dir_init_schema(d, error_out) != 0) {
		snprintf(thread_error, sizeof(thread_error), "%s (%s)", *error_out, path);
		*error_out = thread_error;
		*nospace_out = dirdb_nospace(d->db);
		directory_close(&d);
		return -1;
	}
	*dir_out = d;
	return 0;
}

static int
open_pg(struct directory **dir_out, const char **error_out)
{
	static __thread char thread_error[1024];
	struct directory *d = xcalloc(1, sizeof(*d));

	*dir_out = NULL;
	if (dirdb_open_pg(dir_dsn, NULL, &d->db, error_out) != 0) {
		free(d);
		return -1;
	}
	if (dir_init_schema(d, error_out) != 0) {
		snprintf(thread_error, sizeof(thread_error), "%s (PostgreSQL)", *error_out);
		*error_out = thread_error;
		directory_close(&d);
		return -1;
	}
	*dir_out = d;
	return 0;
}

int
directory_open(const char *data_dir, struct directory **dir_out, const char **error_out)
{
	bool nospace = false;
	int r;

	if (dir_backend == DIRECTORY_POSTGRESQL) {
		/* The store still lives in data_dir: made here as on SQLite. */
		if (mkdir_parents(data_dir) != 0) {
			static __thread char thread_error[PATH_MAX + 64];

			snprintf(thread_error, sizeof(thread_error), "directory: cannot create %s: %s", data_dir,
			         strerror(errno));
			*error_out = thread_error;
			return -1;
		}
		return open_pg(dir_out, error_out);
	}
	r = open_sqlite_once(data_dir, dir_out, &nospace, error_out);
	/* Opening a WAL database needs its -shm file: on a full disk (after a
	 * restart removed it) logins would fail, and with them every delete.
	 * The disk reserve pays for it (lib/reserve.h). */
	if (r == -1 && nospace && reserve_borrow(data_dir)) {
		r = open_sqlite_once(data_dir, dir_out, &nospace, error_out);
		reserve_return(data_dir);
	}
	return r;
}

void
directory_close(struct directory **dir)
{
	if (dir == NULL || *dir == NULL)
		return;
	dirdb_close(&(*dir)->db);
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
	struct dirdb_stmt *st;
	int n;

	if (dir_addr_domain(domain, name, sizeof(name)) != 0)
		return dir_fail(d, error_out, "invalid domain name \"%s\"", domain);
	st = dir_prepare(d, error_out, "INSERT INTO domains(name) VALUES (?) ON CONFLICT DO NOTHING", name, NULL);
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
	struct dirdb_stmt *st = dir_prepare(d, error_out, "SELECT name FROM domains ORDER BY name", NULL);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = dirdb_step(st)) == 1)
		fn(dirdb_col_text(st, 0), arg);
	if (rc < 0) {
		dir_sql_fail(d, error_out, "domain list");
		dirdb_finish(&st);
		return -1;
	}
	dirdb_finish(&st);
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
	struct dirdb_stmt *st;
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
	st = dir_prepare(d, error_out,
	                 "INSERT INTO users(address, domain, password_hash, role, created) VALUES (?, ?, ?, ?, ?)",
	                 a.address, a.domain, password_hash, role == ROLE_ADMIN ? "admin" : "user", NULL);
	if (st != NULL)
		dirdb_bind_int(st, 5, (int64_t)time(NULL));
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
	struct dir_backend be;
	struct dir_addr a;
	struct dirdb_stmt *st;
	int n;

	if (dir_addr_parse(u->address, &a) != 0)
		return dir_fail(d, error_out, "invalid address \"%s\"", u->address);
	if (!dir_valid_hash(u->password_hash))
		return dir_fail(d, error_out, "invalid password hash");
	if (u->role != ROLE_USER && u->role != ROLE_ADMIN)
		return dir_fail(d, error_out, "invalid role");
	if (u->quota_bytes > (uint64_t)INT64_MAX)
		return dir_fail(d, error_out, "quota too large");
	be.name[0] = '\0';
	if (u->backend[0] != '\0') {
		int r = directory_backend_get(d, u->backend, &be, error_out);

		if (r < 0)
			return -1;
		if (r == 0)
			return dir_fail(d, error_out, "no such back end: %s (add it first: tern backend add)",
			                u->backend);
	}
	st = dir_prepare(d, error_out,
	                 "UPDATE users SET password_hash = ?, role = ?, pop3 = ?, imap = ?, submission = ?, "
	                 "disabled = ?, quota_bytes = ?, reject_mail = ?, backend = NULLIF(?, '') WHERE address = ?",
	                 NULL);
	if (st == NULL)
		return -1;
	dirdb_bind_text(st, 1, u->password_hash);
	dirdb_bind_text(st, 2, u->role == ROLE_ADMIN ? "admin" : "user");
	dirdb_bind_int(st, 3, u->pop3);
	dirdb_bind_int(st, 4, u->imap);
	dirdb_bind_int(st, 5, u->submission);
	dirdb_bind_int(st, 6, u->disabled);
	dirdb_bind_int(st, 7, (int64_t)u->quota_bytes);
	dirdb_bind_int(st, 8, u->reject_mail);
	dirdb_bind_text(st, 9, be.name);      /* as the table spells it */
	dirdb_bind_text(st, 10, a.address);
	n = dir_step_done(d, st, error_out, "user update");
	if (n < 0)
		return -1;
	if (n == 0)
		return dir_fail(d, error_out, "no such user: %s", a.address);
	return 0;
}

#define USER_COLUMNS \
	"address, password_hash, role, pop3, imap, submission, disabled, quota_bytes, created, reject_mail, backend"

static void
dir_row_to_user(struct dirdb_stmt *st, struct dir_user *u)
{
	const char *s;
	int64_t quota;

	memset(u, 0, sizeof(*u));
	s = dirdb_col_text(st, 0);
	str_lcpy(u->address, s != NULL ? s : "", sizeof(u->address));
	s = dirdb_col_text(st, 1);
	str_lcpy(u->password_hash, s != NULL ? s : "", sizeof(u->password_hash));
	s = dirdb_col_text(st, 2);
	u->role = s != NULL && strcmp(s, "admin") == 0 ? ROLE_ADMIN : ROLE_USER;
	u->pop3 = dirdb_col_int(st, 3) != 0;
	u->imap = dirdb_col_int(st, 4) != 0;
	u->submission = dirdb_col_int(st, 5) != 0;
	u->disabled = dirdb_col_int(st, 6) != 0;
	quota = dirdb_col_int(st, 7);
	u->quota_bytes = quota > 0 ? (uint64_t)quota : 0;
	u->created = dirdb_col_int(st, 8);
	u->reject_mail = dirdb_col_int(st, 9) != 0;
	str_lcpy(u->backend, dirdb_col_text(st, 10), sizeof(u->backend));
}

/* Looks up a normalised address.  1 found, 0 not, -1 error. */
static int
dir_user_get_norm(struct directory *d, const char *addr, struct dir_user *u_out, const char **error_out)
{
	struct dirdb_stmt *st = dir_prepare(d, error_out, "SELECT " USER_COLUMNS " FROM users WHERE address = ?", addr,
	                               NULL);
	int rc;

	if (st == NULL)
		return -1;
	rc = dirdb_step(st);
	if (rc == 1) {
		if (u_out != NULL)
			dir_row_to_user(st, u_out);
		dirdb_finish(&st);
		return 1;
	}
	if (rc < 0) {
		dir_sql_fail(d, error_out, "user lookup");
		dirdb_finish(&st);
		return -1;
	}
	dirdb_finish(&st);
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
	struct dirdb_stmt *st;
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
	while ((rc = dirdb_step(st)) == 1) {
		dir_row_to_user(st, &u);
		fn(&u, arg);
	}
	str_wipe(&u, sizeof(u));
	if (rc < 0) {
		dir_sql_fail(d, error_out, "user list");
		dirdb_finish(&st);
		return -1;
	}
	dirdb_finish(&st);
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
	                  dir_prepare(d, error_out, "INSERT INTO aliases(alias, target, domain) VALUES (?, ?, ?) "
					      "ON CONFLICT DO NOTHING",
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
	struct dirdb_stmt *st = dir_prepare(d, error_out, "SELECT alias, target FROM aliases ORDER BY alias, target",
	                               NULL);
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = dirdb_step(st)) == 1)
		fn(dirdb_col_text(st, 0), dirdb_col_text(st, 1), arg);
	if (rc < 0) {
		dir_sql_fail(d, error_out, "alias list");
		dirdb_finish(&st);
		return -1;
	}
	dirdb_finish(&st);
	return 0;
}

int
directory_alias_targeting(struct directory *d, const char *target_address,
                          void (*fn)(const char *alias, void *arg), void *arg, const char **error_out)
{
	struct dir_addr a;
	struct dirdb_stmt *st;
	int rc;

	if (dir_addr_parse(target_address, &a) != 0)
		return dir_fail(d, error_out, "invalid address \"%s\"", target_address);
	st = dir_prepare(d, error_out, "SELECT alias FROM aliases WHERE target = ? ORDER BY alias", a.address, NULL);
	if (st == NULL)
		return -1;
	while ((rc = dirdb_step(st)) == 1)
		fn(dirdb_col_text(st, 0), arg);
	if (rc < 0) {
		dir_sql_fail(d, error_out, "alias targeting");
		dirdb_finish(&st);
		return -1;
	}
	dirdb_finish(&st);
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
	                              "SELECT (SELECT count(*) FROM users WHERE address = ?) +"
	                              " (SELECT count(*) FROM aliases WHERE alias = ?)",
	                              a.address, a.address, NULL),
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
	struct dirdb_stmt *st = dir_prepare(d, error_out, "SELECT target FROM aliases WHERE alias = ? ORDER BY target",
	                               alias, NULL);
	int rc, n = 0;

	if (st == NULL)
		return -1;
	while ((rc = dirdb_step(st)) == 1) {
		const char *t = dirdb_col_text(st, 0);

		if (n < max && t != NULL)
			str_lcpy(targets[n++], t, ADDRESS_MAX + 1);
	}
	if (rc < 0) {
		dir_sql_fail(d, error_out, "alias lookup");
		dirdb_finish(&st);
		return -1;
	}
	dirdb_finish(&st);
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
		struct dirdb_stmt *st = dir_prepare(d, error_out, queries[q].sql, queries[q].by_domain ? domain : NULL,
		                               NULL);
		int rc;

		if (st == NULL)
			return -1;
		while ((rc = dirdb_step(st)) == 1) {
			const char *addr = dirdb_col_text(st, 0);

			if (addr != NULL)
				res_add(out->local, &out->n_local, addr);
		}
		dirdb_finish(&st);
		if (rc < 0)
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
