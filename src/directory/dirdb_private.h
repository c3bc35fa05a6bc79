/* Inside the statement layer (dirdb.c, dirdb_sqlite.c, dirdb_pg.c): the
 * connection and statement structs and each backend's operations.  Users
 * of the layer include dirdb.h only. */
#ifndef TERN_DIRDB_PRIVATE_H
#define TERN_DIRDB_PRIVATE_H

#include <libpq-fe.h>
#include <sqlite3.h>

#include "directory/dirdb.h"

enum dirdb_ptype { DIRDB_P_NULL, DIRDB_P_TEXT, DIRDB_P_INT, DIRDB_P_BLOB };

struct dirdb_param {
	enum dirdb_ptype type;
	int64_t i;
	char *s;                 /* text (NUL-terminated) or blob bytes, malloc'ed */
	size_t len;
	char itext[24];          /* PostgreSQL: the integer as text */
};

struct dirdb_stmt {
	struct dirdb *db;
	char *sql;               /* the portable text: the cache key */
	bool busy;               /* handed out, not finished */
	bool cached;             /* kept in db->cache after finish */
	bool started;            /* stepped at least once */
	bool bound;              /* parameters handed to the backend */
	int nparams;             /* highest index bound */
	struct dirdb_param p[DIRDB_PARAMS_MAX];
	int64_t changes;
	/* SQLite */
	sqlite3_stmt *lite;
	/* PostgreSQL: a prepared statement's name, its rows */
	char *pgsql;             /* the text translated ($n) */
	char name[16];
	unsigned gen;            /* db->gen when prepared on the server; 0 = not */
	PGresult *res;
	int row, nrows;
	unsigned char *blob;     /* a bytea column decoded */
};

struct dirdb_ops {
	void (*close)(struct dirdb *db);
	int (*exec)(struct dirdb *db, const char *sql);
	/* Makes st ready to run (st->sql set); 0 or -1. */
	int (*prepare)(struct dirdb *db, struct dirdb_stmt *st);
	/* Runs (first call) or advances st: 1 row, 0 done, -1 error. */
	int (*step)(struct dirdb_stmt *st);
	const char *(*col_text)(struct dirdb_stmt *st, int col);
	int64_t (*col_int)(struct dirdb_stmt *st, int col);
	const void *(*col_blob)(struct dirdb_stmt *st, int col, size_t *len_out);
	/* Forgets st's rows and bindings, keeps it prepared. */
	void (*reset)(struct dirdb_stmt *st);
	/* Releases st's backend resources. */
	void (*release)(struct dirdb_stmt *st);
	const char *begin_sql;
	int (*schema_version)(struct dirdb *db, int64_t *version_out);
	int (*set_schema_version)(struct dirdb *db, int64_t version);
};

struct dirdb {
	enum dirdb_backend backend;
	const struct dirdb_ops *ops;
	char error[512];
	bool unavailable, nospace;
	bool in_tx;
	struct dirdb_stmt *cache[DIRDB_CACHE_MAX];
	unsigned ncache;
	unsigned next_name;      /* PostgreSQL statement names */
	unsigned gen;            /* PostgreSQL: connections made so far */
	int64_t retry_after;     /* PostgreSQL: no reconnect before (monotonic s) */
	sqlite3 *lite;
	PGconn *pg;
	char *dsn;
	char *search_path;       /* PostgreSQL: set after every connect, or NULL */
};

/* Formats the message into db->error; returns -1. */
int dirdb_fail(struct dirdb *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A new connection of the backend (ops set, no handle yet). */
struct dirdb *dirdb_alloc(enum dirdb_backend backend, const struct dirdb_ops *ops);

extern const struct dirdb_ops dirdb_sqlite_ops;
extern const struct dirdb_ops dirdb_pg_ops;

#endif
