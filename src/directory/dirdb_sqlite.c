/* The statement layer on SQLite (dirdb.h).  The portable dialect is
 * SQLite's own, so statements go through untranslated. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "directory/dirdb_private.h"

static int
lite_fail(struct dirdb *db, const char *what)
{
	int code = sqlite3_extended_errcode(db->lite), sys = sqlite3_system_errno(db->lite);

	db->nospace = (code & 0xff) == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT;
	return dirdb_fail(db, "%s: %s", what, sqlite3_errmsg(db->lite));
}

int
dirdb_open_sqlite(const char *path, int busy_ms, struct dirdb **db_out, const char **error_out)
{
	static __thread char thread_error[PATH_MAX + 256];
	struct dirdb *db = dirdb_alloc(DIRDB_SQLITE, &dirdb_sqlite_ops);
	int rc;

	*db_out = NULL;
	rc = sqlite3_open_v2(path, &db->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		snprintf(thread_error, sizeof(thread_error), "cannot open %s: %s", path,
		         db->lite != NULL ? sqlite3_errmsg(db->lite) : sqlite3_errstr(rc));
		*error_out = thread_error;
		dirdb_close(&db);
		return -1;
	}
	sqlite3_busy_timeout(db->lite, busy_ms);
	sqlite3_extended_result_codes(db->lite, 1);
	*db_out = db;
	return 0;
}

static void
lite_close(struct dirdb *db)
{
	sqlite3_close(db->lite);
	db->lite = NULL;
}

static int
lite_exec(struct dirdb *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->lite, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int code = sqlite3_extended_errcode(db->lite), sys = sqlite3_system_errno(db->lite);

		db->nospace = (code & 0xff) == SQLITE_FULL || sys == ENOSPC || sys == EDQUOT;
		dirdb_fail(db, "%s", msg != NULL ? msg : sqlite3_errmsg(db->lite));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
lite_prepare(struct dirdb *db, struct dirdb_stmt *st)
{
	if (sqlite3_prepare_v3(db->lite, st->sql, -1, SQLITE_PREPARE_PERSISTENT, &st->lite, NULL) != SQLITE_OK)
		return lite_fail(db, "prepare");
	return 0;
}

static int
lite_bind(struct dirdb_stmt *st)
{
	int rc = SQLITE_OK;

	for (int i = 0; i < st->nparams && rc == SQLITE_OK; i++) {
		const struct dirdb_param *p = &st->p[i];

		switch (p->type) {
		case DIRDB_P_NULL:
			rc = sqlite3_bind_null(st->lite, i + 1);
			break;
		case DIRDB_P_TEXT:
			rc = sqlite3_bind_text(st->lite, i + 1, p->s, (int)p->len, SQLITE_STATIC);
			break;
		case DIRDB_P_INT:
			rc = sqlite3_bind_int64(st->lite, i + 1, p->i);
			break;
		case DIRDB_P_BLOB:
			rc = sqlite3_bind_blob(st->lite, i + 1, p->s, (int)p->len, SQLITE_STATIC);
			break;
		}
	}
	return rc == SQLITE_OK ? 0 : lite_fail(st->db, "bind");
}

static int
lite_step(struct dirdb_stmt *st)
{
	int rc;

	/* The parameters live in st until finish: bound by reference. */
	if (!st->bound) {
		if (lite_bind(st) != 0)
			return -1;
		st->bound = true;
	}
	rc = sqlite3_step(st->lite);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE) {
		st->changes = sqlite3_changes(st->db->lite);
		/* Done: a further step would start the statement again. */
		return 0;
	}
	return lite_fail(st->db, "step");
}

static const char *
lite_col_text(struct dirdb_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st->lite, col);

	return s != NULL ? s : "";
}

static int64_t
lite_col_int(struct dirdb_stmt *st, int col)
{
	return sqlite3_column_int64(st->lite, col);
}

static const void *
lite_col_blob(struct dirdb_stmt *st, int col, size_t *len_out)
{
	const void *b = sqlite3_column_blob(st->lite, col);

	*len_out = (size_t)sqlite3_column_bytes(st->lite, col);
	return b;
}

static void
lite_reset(struct dirdb_stmt *st)
{
	sqlite3_reset(st->lite);
	sqlite3_clear_bindings(st->lite);
}

static void
lite_release(struct dirdb_stmt *st)
{
	sqlite3_finalize(st->lite);
	st->lite = NULL;
}

static int
lite_schema_version(struct dirdb *db, int64_t *version_out)
{
	struct dirdb_stmt *st = dirdb_prepare(db, "PRAGMA user_version");
	int r;

	if (st == NULL)
		return -1;
	r = dirdb_step(st);
	*version_out = r == 1 ? dirdb_col_int(st, 0) : 0;
	dirdb_finish(&st);
	return r < 0 ? -1 : 0;
}

static int
lite_set_schema_version(struct dirdb *db, int64_t version)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %lld", (long long)version);
	return lite_exec(db, sql);
}

const struct dirdb_ops dirdb_sqlite_ops = {
	.close = lite_close,
	.exec = lite_exec,
	.prepare = lite_prepare,
	.step = lite_step,
	.col_text = lite_col_text,
	.col_int = lite_col_int,
	.col_blob = lite_col_blob,
	.reset = lite_reset,
	.release = lite_release,
	.begin_sql = "BEGIN IMMEDIATE",
	.schema_version = lite_schema_version,
	.set_schema_version = lite_set_schema_version,
};
