/* The statement layer's common part: the statement cache, parameters,
 * transactions and the translation of the portable dialect (dirdb.h).
 * The backends are dirdb_sqlite.c and dirdb_pg.c. */
#include "directory/dirdb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/dirdb_private.h"
#include "lib/log.h"
#include "lib/xalloc.h"

int
dirdb_fail(struct dirdb *db, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(db->error, sizeof(db->error), fmt, ap);
	va_end(ap);
	return -1;
}

struct dirdb *
dirdb_alloc(enum dirdb_backend backend, const struct dirdb_ops *ops)
{
	struct dirdb *db = xcalloc(1, sizeof(*db));

	db->backend = backend;
	db->ops = ops;
	return db;
}

bool
dirdb_is_pg_dsn(const char *s)
{
	return s != NULL && (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0);
}

enum dirdb_backend
dirdb_backend(const struct dirdb *db)
{
	return db->backend;
}

struct sqlite3 *
dirdb_sqlite(struct dirdb *db)
{
	return db->lite;
}

const char *
dirdb_errmsg(const struct dirdb *db)
{
	return db->error;
}

bool
dirdb_unavailable(const struct dirdb *db)
{
	return db->unavailable;
}

bool
dirdb_nospace(const struct dirdb *db)
{
	return db->nospace;
}

static void
params_clear(struct dirdb_stmt *st)
{
	for (int i = 0; i < st->nparams; i++) {
		free(st->p[i].s);
		st->p[i].s = NULL;
		st->p[i].type = DIRDB_P_NULL;
	}
	st->nparams = 0;
}

static void
stmt_free(struct dirdb_stmt *st)
{
	params_clear(st);
	st->db->ops->release(st);
	free(st->sql);
	free(st);
}

/* Drops every cached statement (at close). */
static void
dirdb_cache_clear(struct dirdb *db)
{
	for (unsigned i = 0; i < db->ncache; i++) {
		/* A statement in use stays with its user, who finishes it. */
		if (db->cache[i]->busy)
			db->cache[i]->cached = false;
		else
			stmt_free(db->cache[i]);
		db->cache[i] = NULL;
	}
	db->ncache = 0;
}

void
dirdb_close(struct dirdb **dbp)
{
	struct dirdb *db;

	if (dbp == NULL || *dbp == NULL)
		return;
	db = *dbp;
	dirdb_cache_clear(db);
	db->ops->close(db);
	free(db->dsn);
	free(db);
	*dbp = NULL;
}

int
dirdb_exec(struct dirdb *db, const char *sql)
{
	db->unavailable = db->nospace = false;
	return db->ops->exec(db, sql);
}

struct dirdb_stmt *
dirdb_prepare(struct dirdb *db, const char *sql)
{
	struct dirdb_stmt *st;

	db->unavailable = db->nospace = false;
	for (unsigned i = 0; i < db->ncache; i++) {
		st = db->cache[i];
		if (!st->busy && strcmp(st->sql, sql) == 0) {
			st->busy = true;
			return st;
		}
	}
	st = xcalloc(1, sizeof(*st));
	st->db = db;
	st->sql = xstrdup(sql);
	if (db->ops->prepare(db, st) != 0) {
		stmt_free(st);
		return NULL;
	}
	st->busy = true;
	if (db->ncache < DIRDB_CACHE_MAX) {
		st->cached = true;
		db->cache[db->ncache++] = st;
	}
	return st;
}

static struct dirdb_param *
param(struct dirdb_stmt *st, int idx)
{
	struct dirdb_param *p;

	if (idx < 1 || idx > DIRDB_PARAMS_MAX || st->started)
		panic("dirdb: parameter %d bound out of range or after the first step", idx);
	p = &st->p[idx - 1];
	free(p->s);
	p->s = NULL;
	if (idx > st->nparams)
		st->nparams = idx;
	return p;
}

void
dirdb_bind_text(struct dirdb_stmt *st, int idx, const char *value)
{
	struct dirdb_param *p = param(st, idx);

	p->type = DIRDB_P_TEXT;
	p->s = xstrdup(value);
	p->len = strlen(value);
}

void
dirdb_bind_int(struct dirdb_stmt *st, int idx, int64_t value)
{
	struct dirdb_param *p = param(st, idx);

	p->type = DIRDB_P_INT;
	p->i = value;
	snprintf(p->itext, sizeof(p->itext), "%lld", (long long)value);
}

void
dirdb_bind_blob(struct dirdb_stmt *st, int idx, const void *value, size_t len)
{
	struct dirdb_param *p = param(st, idx);

	p->type = DIRDB_P_BLOB;
	p->s = xmalloc(len + 1);
	memcpy(p->s, value, len);
	p->len = len;
}

int
dirdb_step(struct dirdb_stmt *st)
{
	if (!st->started)
		st->db->unavailable = st->db->nospace = false;
	st->started = true;
	return st->db->ops->step(st);
}

const char *
dirdb_col_text(struct dirdb_stmt *st, int col)
{
	return st->db->ops->col_text(st, col);
}

int64_t
dirdb_col_int(struct dirdb_stmt *st, int col)
{
	return st->db->ops->col_int(st, col);
}

const void *
dirdb_col_blob(struct dirdb_stmt *st, int col, size_t *len_out)
{
	return st->db->ops->col_blob(st, col, len_out);
}

int64_t
dirdb_changes(const struct dirdb_stmt *st)
{
	return st->changes;
}

void
dirdb_finish(struct dirdb_stmt **stp)
{
	struct dirdb_stmt *st;

	if (stp == NULL || *stp == NULL)
		return;
	st = *stp;
	*stp = NULL;
	if (!st->cached) {
		stmt_free(st);
		return;
	}
	st->db->ops->reset(st);
	params_clear(st);
	st->started = st->bound = false;
	st->changes = 0;
	st->busy = false;
}

int
dirdb_begin(struct dirdb *db)
{
	if (dirdb_exec(db, db->ops->begin_sql) != 0)
		return -1;
	db->in_tx = true;
	return 0;
}

int
dirdb_commit(struct dirdb *db)
{
	int r = dirdb_exec(db, "COMMIT");

	if (r != 0)
		dirdb_rollback(db);
	db->in_tx = false;
	return r;
}

void
dirdb_rollback(struct dirdb *db)
{
	char keep[sizeof(db->error)];
	bool unavailable = db->unavailable, nospace = db->nospace;

	/* The error that made the caller roll back is the one to report. */
	memcpy(keep, db->error, sizeof(keep));
	db->ops->exec(db, "ROLLBACK");
	memcpy(db->error, keep, sizeof(keep));
	db->unavailable = unavailable;
	db->nospace = nospace;
	db->in_tx = false;
}

int
dirdb_schema_version(struct dirdb *db, int64_t *version_out)
{
	db->unavailable = db->nospace = false;
	return db->ops->schema_version(db, version_out);
}

int
dirdb_set_schema_version(struct dirdb *db, int64_t version)
{
	db->unavailable = db->nospace = false;
	return db->ops->set_schema_version(db, version);
}

int
dirdb_pg_translate(const char *sql, char *out, size_t outsize, int *nparams_out)
{
	size_t o = 0;
	char quote = 0;
	int n = 0;

	for (const char *p = sql; *p != '\0'; p++) {
		char num[8];
		int len;

		if (quote != 0) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '?') {
			if (++n > DIRDB_PARAMS_MAX)
				return -1;
			len = snprintf(num, sizeof(num), "$%d", n);
			if (o + (size_t)len >= outsize)
				return -1;
			memcpy(out + o, num, (size_t)len);
			o += (size_t)len;
			continue;
		}
		if (o + 1 >= outsize)
			return -1;
		out[o++] = *p;
	}
	if (o >= outsize)
		return -1;
	out[o] = '\0';
	*nparams_out = n;
	return 0;
}
