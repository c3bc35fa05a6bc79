/* Penalty state in SQLite (WAL): blocks (written through), counters
 * (flushed from time to time), the hash key (so that account hashes mean
 * the same after a restart) and the unblocks log the CLI appends to.
 *
 * A write that fails (a full disk: SQLITE_FULL, or any other error) loses
 * nothing and opens nothing: the memory is the authority and keeps
 * blocking and counting, and the entries a failed flush took stay dirty,
 * so the next flush (every PENALTY_FLUSH_SEC while anything is dirty)
 * writes them when space is back.  One warning when writes start failing,
 * one line when they work again.
 *
 * Two connections: db for writes, used by workers under db_lock (it may
 * wait for a lock, up to PENALTY_BUSY_MS); poll_db for reading unblocks
 * from penalty_check on a loop thread, which never waits (busy timeout 0,
 * and poll_lock taken with trylock). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "auth/penalty_private.h"
#include "lib/log.h"

#define PENALTY_BUSY_MS     5000
#define PENALTY_UNBLOCK_KEEP_SEC 86400   /* unblocks log rows kept this long */

static __thread char db_error[512];

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);"
	"CREATE TABLE IF NOT EXISTS blocks(source TEXT PRIMARY KEY, until INTEGER NOT NULL,"
	" why TEXT NOT NULL, since INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS counters(kind INTEGER NOT NULL, addr BLOB NOT NULL,"
	" prefix INTEGER NOT NULL, acct INTEGER NOT NULL, period INTEGER NOT NULL,"
	" cur INTEGER NOT NULL, prev INTEGER NOT NULL, dcur INTEGER NOT NULL, dprev INTEGER NOT NULL,"
	" last INTEGER NOT NULL, until INTEGER NOT NULL, PRIMARY KEY(kind, addr, prefix, acct));"
	"CREATE INDEX IF NOT EXISTS counters_last ON counters(last);"
	"CREATE TABLE IF NOT EXISTS unblocks(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" source TEXT NOT NULL, at INTEGER NOT NULL);";

static const char *
set_error(struct penalty *p, sqlite3 *db, const char *what)
{
	snprintf(db_error, sizeof(db_error), "penalty: %s: %s (%s)", what,
	         db != NULL ? sqlite3_errmsg(db) : "out of memory", p->path);
	return db_error;
}

static int
exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* journal_mode=WAL needs an exclusive lock the first time, which can meet
 * SQLITE_BUSY without the busy handler: retry for a while (as the store
 * does). */
static int
set_wal(sqlite3 *db)
{
	for (int waited = 0; waited < PENALTY_BUSY_MS; waited += 10) {
		sqlite3_stmt *s;
		int rc;
		bool wal = false;

		if ((rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, NULL)) == SQLITE_OK) {
			rc = sqlite3_step(s);
			if (rc == SQLITE_ROW) {
				const char *m = (const char *)sqlite3_column_text(s, 0);

				wal = m != NULL && strcasecmp(m, "wal") == 0;
				rc = SQLITE_OK;
			}
			sqlite3_finalize(s);
		}
		if (rc == SQLITE_OK && wal)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED && rc != SQLITE_OK)
			return -1;
		usleep(10000);
	}
	return -1;
}

/* Whether a stored source text or key overlaps the unblock target. */
static void
sql_overlaps_text(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct penalty *p = sqlite3_user_data(ctx);
	const char *s = (const char *)sqlite3_value_text(argv[0]);
	uint8_t addr[16];
	unsigned prefix;

	sqlite3_result_int(ctx, s != NULL && pen_parse_source(s, addr, &prefix) == 0 &&
	                            pen_overlap(addr, prefix, p->target, p->target_prefix));
}

static void
sql_overlaps_key(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct penalty *p = sqlite3_user_data(ctx);
	const void *a = sqlite3_value_blob(argv[0]);
	int prefix = sqlite3_value_int(argv[1]);

	sqlite3_result_int(ctx, a != NULL && sqlite3_value_bytes(argv[0]) == 16 &&
	                            pen_overlap(a, (unsigned)prefix, p->target, p->target_prefix));
}

static int
open_one(struct penalty *p, sqlite3 **db_out, int busy_ms, const char **error_out)
{
	int rc = sqlite3_open_v2(p->path, db_out, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	                         NULL);

	if (rc != SQLITE_OK) {
		*error_out = set_error(p, *db_out, "cannot open");
		return -1;
	}
	sqlite3_busy_timeout(*db_out, busy_ms);
	sqlite3_extended_result_codes(*db_out, 1);
	return 0;
}

static int
load_key(struct penalty *p, const char **error_out)
{
	sqlite3_stmt *s = NULL;
	uint8_t fresh[16];
	int rc = -1;

	if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh)) {
		snprintf(db_error, sizeof(db_error), "penalty: getrandom: %s", strerror(errno));
		*error_out = db_error;
		return -1;
	}
	if (sqlite3_prepare_v2(p->db, "INSERT OR IGNORE INTO meta(name, value) VALUES('hashkey', ?)", -1, &s,
	                       NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_blob(s, 1, fresh, sizeof(fresh), SQLITE_TRANSIENT);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(p->db, "SELECT value FROM meta WHERE name = 'hashkey'", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(s) != SQLITE_ROW || sqlite3_column_bytes(s, 0) != (int)sizeof(p->hkey))
		goto fail;
	memcpy(p->hkey, sqlite3_column_blob(s, 0), sizeof(p->hkey));
	rc = 0;
fail:
	if (rc != 0)
		*error_out = set_error(p, p->db, "reading the hash key");
	sqlite3_finalize(s);
	return rc;
}

static uint8_t
kind_of_block(const uint8_t addr[16], unsigned prefix)
{
	static const uint8_t v4[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	bool is4 = memcmp(addr, v4, sizeof(v4)) == 0;

	if (prefix == PEN_PREFIX_BAD || (is4 && prefix == 128) || (!is4 && prefix == 64))
		return PEN_SOURCE;
	if ((is4 && prefix == 120) || (!is4 && prefix == 48))
		return PEN_NET;
	return 0;
}

/* Blocks first (the longest-lasting ones if there are too many), then
 * counters, oldest first so that the newest end up most recently used. */
static int
load_rows(struct penalty *p, const char **error_out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if (sqlite3_prepare_v2(p->db, "SELECT source, until, why FROM blocks ORDER BY until DESC LIMIT ?", -1, &s,
	                       NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, p->cfg.max_tracked / 4 * 3);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *src = (const char *)sqlite3_column_text(s, 0);
		struct pen_key k;
		struct pen_entry *e;
		unsigned prefix;

		memset(&k, 0, sizeof(k));
		if (src == NULL || pen_parse_source(src, k.addr, &prefix) != 0 ||
		    (k.kind = kind_of_block(k.addr, prefix)) == 0)
			continue;
		k.prefix = (uint8_t)prefix;
		e = pen_get(p, &k);
		e->until = sqlite3_column_int64(s, 1);
		e->why = (uint8_t)pen_why_parse((const char *)sqlite3_column_text(s, 2));
		pen_classify(p, e);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(p->db,
	                       "SELECT kind, addr, prefix, acct, period, cur, prev, dcur, dprev, last, until FROM"
	                       " (SELECT * FROM counters ORDER BY last DESC LIMIT ?) ORDER BY last ASC",
	                       -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(s, 1, p->cfg.max_tracked);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct pen_key k;
		struct pen_entry *e;
		int kind = sqlite3_column_int(s, 0), prefix = sqlite3_column_int(s, 2);

		p->db_rows++;
		if (kind < PEN_SOURCE || kind > PEN_GOOD_SRC || sqlite3_column_bytes(s, 1) != 16 || prefix < 0 ||
		    (prefix > 128 && prefix != PEN_PREFIX_BAD))
			continue;
		memset(&k, 0, sizeof(k));
		k.kind = (uint8_t)kind;
		memcpy(k.addr, sqlite3_column_blob(s, 1), 16);
		k.prefix = (uint8_t)prefix;
		k.acct = (uint64_t)sqlite3_column_int64(s, 3);
		e = pen_get(p, &k);
		e->period = sqlite3_column_int64(s, 4);
		e->cur = (uint32_t)sqlite3_column_int64(s, 5);
		e->prev = (uint32_t)sqlite3_column_int64(s, 6);
		e->dcur = (uint32_t)sqlite3_column_int64(s, 7);
		e->dprev = (uint32_t)sqlite3_column_int64(s, 8);
		e->last = sqlite3_column_int64(s, 9);
		/* The blocks table says which blocks hold. */
		if (kind != PEN_SOURCE && kind != PEN_NET)
			e->until = sqlite3_column_int64(s, 10);
		pen_classify(p, e);
	}
	if (rc != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(p->db, "SELECT COALESCE(MAX(id), 0) FROM unblocks", -1, &s, NULL) != SQLITE_OK ||
	    sqlite3_step(s) != SQLITE_ROW)
		goto fail;
	p->last_unblock_id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
fail:
	*error_out = set_error(p, p->db, "loading state");
	sqlite3_finalize(s);
	return -1;
}

int
pen_db_open(struct penalty *p, const char **error_out)
{
	if (open_one(p, &p->db, PENALTY_BUSY_MS, error_out) != 0)
		return -1;
	if (set_wal(p->db) != 0) {
		*error_out = set_error(p, p->db, "journal_mode=WAL");
		return -1;
	}
	/* WAL with synchronous=NORMAL: a crash of the process loses nothing;
	 * a power cut may lose the last block, which the attacker then earns
	 * again. */
	if (exec(p->db, "PRAGMA synchronous=NORMAL") != 0 || exec(p->db, "BEGIN IMMEDIATE") != 0) {
		*error_out = set_error(p, p->db, "setting up");
		return -1;
	}
	if (exec(p->db, schema_sql) != 0) {
		*error_out = set_error(p, p->db, "creating the schema");
		exec(p->db, "ROLLBACK");
		return -1;
	}
	if (load_key(p, error_out) != 0) {
		exec(p->db, "ROLLBACK");
		return -1;
	}
	if (exec(p->db, "COMMIT") != 0) {
		*error_out = set_error(p, p->db, "creating the schema");
		return -1;
	}
	if (sqlite3_create_function(p->db, "pen_overlaps_text", 1, SQLITE_UTF8, p, sql_overlaps_text, NULL, NULL) !=
	            SQLITE_OK ||
	    sqlite3_create_function(p->db, "pen_overlaps_key", 2, SQLITE_UTF8, p, sql_overlaps_key, NULL, NULL) !=
	            SQLITE_OK) {
		*error_out = set_error(p, p->db, "registering functions");
		return -1;
	}
	if (load_rows(p, error_out) != 0)
		return -1;
	/* Never waits: a loop thread polls through it. */
	if (open_one(p, &p->poll_db, 0, error_out) != 0)
		return -1;
	return 0;
}

void
pen_db_close(struct penalty *p)
{
	sqlite3_close(p->poll_db);
	sqlite3_close(p->db);
	p->poll_db = p->db = NULL;
}

static int
upsert_block(struct penalty *p, const char *source, int64_t until, unsigned why, int64_t now)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(p->db,
	                       "INSERT INTO blocks(source, until, why, since) VALUES(?, ?, ?, ?)"
	                       " ON CONFLICT(source) DO UPDATE SET until = excluded.until, why = excluded.why",
	                       -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, until);
	sqlite3_bind_text(s, 3, pen_why_text(why), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

void
pen_db_write_block(struct penalty *p, const uint8_t addr[16], unsigned prefix, int64_t until, unsigned why,
                   int64_t now)
{
	char text[PENALTY_SOURCE_MAX];

	pen_format(addr, prefix, text, sizeof(text));
	pthread_mutex_lock(&p->db_lock);
	/* On failure the entry stays dirty: the next flush writes the block. */
	if (upsert_block(p, text, until, why, now) != 0 && !p->db_failing) {
		log_warnx("penalty: cannot store the block of %s: %s (%s); it holds in memory and is written"
		          " when the disk allows", text, sqlite3_errmsg(p->db), p->path);
		p->db_failing = true;
	}
	pthread_mutex_unlock(&p->db_lock);
}

static int
write_entry(struct penalty *p, sqlite3_stmt *up, sqlite3_stmt *del, const struct pen_entry *e, int64_t now)
{
	bool empty = e->cur == 0 && e->prev == 0 && e->dcur == 0 && e->dprev == 0 && e->until <= now &&
	             (e->last == 0 || e->k.kind == PEN_SOURCE || e->k.kind == PEN_NET || e->k.kind == PEN_ACCOUNT);
	sqlite3_stmt *s = empty ? del : up;
	int rc;

	sqlite3_reset(s);
	sqlite3_bind_int(s, 1, e->k.kind);
	sqlite3_bind_blob(s, 2, e->k.addr, 16, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, e->k.prefix);
	sqlite3_bind_int64(s, 4, (int64_t)e->k.acct);
	if (!empty) {
		sqlite3_bind_int64(s, 5, e->period);
		sqlite3_bind_int64(s, 6, e->cur);
		sqlite3_bind_int64(s, 7, e->prev);
		sqlite3_bind_int64(s, 8, e->dcur);
		sqlite3_bind_int64(s, 9, e->dprev);
		sqlite3_bind_int64(s, 10, e->last);
		sqlite3_bind_int64(s, 11, e->until);
	}
	rc = sqlite3_step(s);
	return rc == SQLITE_DONE ? (empty ? 0 : 1) : -1;
}

static int
sync_block(struct penalty *p, sqlite3_stmt *delb, const struct pen_entry *e, int64_t now)
{
	char text[PENALTY_SOURCE_MAX];
	int rc;

	if (e->k.kind != PEN_SOURCE && e->k.kind != PEN_NET)
		return 0;
	pen_format(e->k.addr, e->k.prefix, text, sizeof(text));
	if (e->until > now)
		return upsert_block(p, text, e->until, e->why, now);
	sqlite3_reset(delb);
	sqlite3_bind_text(delb, 1, text, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(delb);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Deletes block rows the memory no longer holds (evicted under a flood). */
static int
resync_blocks(struct penalty *p, int64_t now)
{
	sqlite3_stmt *s;
	char **gone = NULL;
	size_t n = 0;
	int rc;

	if (sqlite3_prepare_v2(p->db, "SELECT source FROM blocks WHERE until > ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, now);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *src = (const char *)sqlite3_column_text(s, 0);
		struct pen_key k;
		struct pen_entry *e;
		unsigned prefix;
		bool held;

		memset(&k, 0, sizeof(k));
		if (src == NULL || pen_parse_source(src, k.addr, &prefix) != 0)
			continue;
		k.prefix = (uint8_t)prefix;
		k.kind = kind_of_block(k.addr, prefix);
		pthread_mutex_lock(&p->lock);
		e = pen_lookup(p, &k);
		held = e != NULL && e->until > now;
		pthread_mutex_unlock(&p->lock);
		if (!held) {
			gone = realloc(gone, (n + 1) * sizeof(*gone));
			if (gone == NULL || (gone[n] = strdup(src)) == NULL)
				panic("out of memory");
			n++;
		}
	}
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(p->db, "DELETE FROM blocks WHERE source = ?", -1, &s, NULL) != SQLITE_OK)
		rc = SQLITE_ERROR;
	for (size_t i = 0; i < n; i++) {
		if (rc == SQLITE_DONE) {
			sqlite3_reset(s);
			sqlite3_bind_text(s, 1, gone[i], -1, SQLITE_STATIC);
			rc = sqlite3_step(s);
		}
		free(gone[i]);
	}
	free(gone);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Keeps the counters table near max_tracked rows: a flood writes new rows
 * at every flush. */
static int
trim_counters(struct penalty *p)
{
	sqlite3_stmt *s;
	int rc;

	if (p->db_rows <= 2 * (int64_t)p->cfg.max_tracked)
		return 0;
	if (sqlite3_prepare_v2(p->db,
	                       "DELETE FROM counters WHERE rowid IN (SELECT rowid FROM counters ORDER BY last ASC"
	                       " LIMIT max(0, (SELECT count(*) FROM counters) - ?))",
	                       -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, p->cfg.max_tracked);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	p->db_rows = p->cfg.max_tracked;
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Runs one statement with up to two integer parameters. */
static int
exec2(sqlite3 *db, const char *sql, int64_t a, int64_t b)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_bind_parameter_count(s) >= 1)
		sqlite3_bind_int64(s, 1, a);
	if (sqlite3_bind_parameter_count(s) >= 2)
		sqlite3_bind_int64(s, 2, b);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Takes the dirty entries (copies, so that the lock is not held for I/O). */
static struct pen_entry *
snapshot_dirty(struct penalty *p, size_t *n_out, bool *resync_out)
{
	struct pen_entry *snap = NULL;
	size_t n = 0;

	pthread_mutex_lock(&p->lock);
	if (p->n_dirty > 0) {
		snap = malloc(p->n_dirty * sizeof(*snap));
		if (snap == NULL)
			panic("out of memory");
		for (uint32_t i = 1; i <= p->used && n < p->n_dirty; i++) {
			struct pen_entry *e = &p->e[i - 1];

			if (e->list != LIST_FREE && e->dirty) {
				snap[n++] = *e;
				e->dirty = 0;
			}
		}
		p->n_dirty = 0;
	}
	*resync_out = p->resync_blocks;
	p->resync_blocks = false;
	pthread_mutex_unlock(&p->lock);
	*n_out = n;
	return snap;
}

static int
write_all(struct penalty *p, const struct pen_entry *snap, size_t n, bool resync, int64_t now)
{
	sqlite3_stmt *up = NULL, *del = NULL, *delb = NULL;
	int rc = -1;

	if (sqlite3_prepare_v2(p->db,
	                       "INSERT INTO counters(kind, addr, prefix, acct, period, cur, prev, dcur, dprev, last,"
	                       " until) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(kind, addr, prefix, acct)"
	                       " DO UPDATE SET period = excluded.period, cur = excluded.cur, prev = excluded.prev,"
	                       " dcur = excluded.dcur, dprev = excluded.dprev, last = excluded.last,"
	                       " until = excluded.until",
	                       -1, &up, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db, "DELETE FROM counters WHERE kind = ? AND addr = ? AND prefix = ? AND acct = ?",
	                       -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db, "DELETE FROM blocks WHERE source = ?", -1, &delb, NULL) != SQLITE_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int w = write_entry(p, up, del, &snap[i], now);

		if (w < 0 || sync_block(p, delb, &snap[i], now) != 0)
			goto out;
		p->db_rows += w;
	}
	if (exec2(p->db, "DELETE FROM blocks WHERE until <= ?", now, 0) != 0 ||
	    exec2(p->db, "DELETE FROM counters WHERE last < ? AND until <= ?", now - 2 * (int64_t)p->cfg.window_sec,
	          now) != 0 ||
	    exec2(p->db, "DELETE FROM unblocks WHERE at < ?", now - PENALTY_UNBLOCK_KEEP_SEC, 0) != 0)
		goto out;
	if ((resync && resync_blocks(p, now) != 0) || trim_counters(p) != 0)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(up);
	sqlite3_finalize(del);
	sqlite3_finalize(delb);
	return rc;
}

/* A flush failed: the entries it took are dirty again (unless they have
 * gone meanwhile), and so is the block resync. */
static void
redirty(struct penalty *p, const struct pen_entry *snap, size_t n, bool resync)
{
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < n; i++) {
		struct pen_entry *e = pen_lookup(p, &snap[i].k);

		if (e != NULL && !e->dirty) {
			e->dirty = 1;
			p->n_dirty++;
		}
	}
	if (resync)
		p->resync_blocks = true;
	pthread_mutex_unlock(&p->lock);
}

int
pen_db_flush(struct penalty *p, int64_t now)
{
	struct pen_entry *snap;
	size_t n;
	bool resync;
	int rc = -1;

	snap = snapshot_dirty(p, &n, &resync);
	pthread_mutex_lock(&p->db_lock);
	if (exec(p->db, "BEGIN IMMEDIATE") == 0) {
		if (write_all(p, snap, n, resync, now) == 0 && exec(p->db, "COMMIT") == 0)
			rc = 0;
		else
			exec(p->db, "ROLLBACK");
	}
	if (rc != 0 && !p->db_failing)
		log_warnx("penalty: cannot write counters: %s (%s); they hold in memory and are written when the"
		          " disk allows", sqlite3_errmsg(p->db), p->path);
	else if (rc == 0 && p->db_failing)
		log_info("penalty: state written again (%s)", p->path);
	p->db_failing = rc != 0;
	pthread_mutex_unlock(&p->db_lock);
	if (rc != 0)
		redirty(p, snap, n, resync);
	free(snap);
	return rc;
}

void
pen_db_poll(struct penalty *p, int64_t now)
{
	sqlite3_stmt *s;
	int rc;

	if (pthread_mutex_trylock(&p->poll_lock) != 0)
		return;
	if (sqlite3_prepare_v2(p->poll_db, "SELECT id, source FROM unblocks WHERE id > ? ORDER BY id", -1, &s,
	                       NULL) != SQLITE_OK) {
		/* Busy or locked: the next poll tries again. */
		pthread_mutex_unlock(&p->poll_lock);
		return;
	}
	sqlite3_bind_int64(s, 1, p->last_unblock_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *src = (const char *)sqlite3_column_text(s, 1);
		uint8_t addr[16];
		unsigned prefix;

		p->last_unblock_id = sqlite3_column_int64(s, 0);
		if (src == NULL || pen_parse_source(src, addr, &prefix) != 0)
			continue;
		pthread_mutex_lock(&p->lock);
		pen_forget(p, addr, prefix, now, true);
		pthread_mutex_unlock(&p->lock);
		log_info("penalty unblocked source=%s", src);
	}
	sqlite3_finalize(s);
	pthread_mutex_unlock(&p->poll_lock);
}

int
pen_db_unblock(struct penalty *p, const uint8_t addr[16], unsigned prefix, const char *text, int64_t now,
               const char **error_out)
{
	sqlite3_stmt *s = NULL;
	int lifted = -1;
	int64_t id;

	pthread_mutex_lock(&p->db_lock);
	memcpy(p->target, addr, 16);
	p->target_prefix = prefix;
	if (exec(p->db, "BEGIN IMMEDIATE") != 0)
		goto fail;
	if (sqlite3_prepare_v2(p->db, "SELECT count(*) FROM blocks WHERE until > ? AND pen_overlaps_text(source)", -1,
	                       &s, NULL) != SQLITE_OK)
		goto rollback;
	sqlite3_bind_int64(s, 1, now);
	if (sqlite3_step(s) != SQLITE_ROW)
		goto rollback;
	lifted = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	if (exec(p->db, "DELETE FROM blocks WHERE pen_overlaps_text(source)") != 0 ||
	    exec(p->db, "DELETE FROM counters WHERE kind IN (1, 2, 3, 4) AND pen_overlaps_key(addr, prefix)") != 0)
		goto rollback;
	if (sqlite3_prepare_v2(p->db, "INSERT INTO unblocks(source, at) VALUES(?, ?)", -1, &s, NULL) != SQLITE_OK)
		goto rollback;
	sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto rollback;
	id = sqlite3_last_insert_rowid(p->db);
	if (exec(p->db, "COMMIT") != 0)
		goto rollback;
	sqlite3_finalize(s);
	pthread_mutex_unlock(&p->db_lock);
	/* This handle already forgot; its own poll need not do it again. */
	pthread_mutex_lock(&p->poll_lock);
	if (id == p->last_unblock_id + 1)
		p->last_unblock_id = id;
	pthread_mutex_unlock(&p->poll_lock);
	log_info("penalty unblocked source=%s lifted=%d", text, lifted);
	return lifted;
rollback:
	*error_out = set_error(p, p->db, "unblocking");
	exec(p->db, "ROLLBACK");
	lifted = -1;
	sqlite3_finalize(s);
	pthread_mutex_unlock(&p->db_lock);
	return lifted;
fail:
	*error_out = set_error(p, p->db, "unblocking");
	pthread_mutex_unlock(&p->db_lock);
	return -1;
}
