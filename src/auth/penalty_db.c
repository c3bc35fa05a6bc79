/* Penalty state in a database: blocks (written through), counters
 * (flushed from time to time), the hash key (so that account hashes mean
 * the same after a restart) and the unblocks log the CLI appends to.
 *
 * Where: a SQLite file (WAL) at state_path, normally data_dir/penalty.db;
 * or, when state_path is a postgresql:// dsn (the directory is on
 * PostgreSQL), the schema tern_penalty of that database, shared by every
 * server on it.  The queries are written once for both (directory/dirdb.h).
 * On PostgreSQL each handle also reads the blocks the others wrote
 * (column since: when a block row was last written, by the writer's
 * clock, so the servers' clocks must agree within
 * PENALTY_SHARED_MARGIN_SEC: NTP), so that a source blocked by one server
 * is refused by all within PENALTY_POLL_SEC.
 *
 * A write that fails (a full disk: SQLITE_FULL, a lost database, any other
 * error) loses nothing and opens nothing: the memory is the authority and
 * keeps blocking and counting, and the entries a failed flush took stay
 * dirty, so the next flush (every PENALTY_FLUSH_SEC while anything is
 * dirty) writes them when the database is back.  One warning when writes
 * start failing, one line when they work again.
 *
 * Two connections: db for writes, used by workers under db_lock (it may
 * wait for a lock, up to PENALTY_BUSY_MS); poll_db for reading unblocks
 * (and shared blocks) under poll_lock, taken with trylock.  On SQLite the
 * poll runs from penalty_check on a loop thread and never waits (busy
 * timeout 0); on PostgreSQL it is a network round trip, so a thread of
 * its own polls every PENALTY_POLL_SEC instead (a blocked source is
 * refused at connect, so no login would ever poll for its unblock). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "auth/penalty_private.h"
#include "directory/dirdb.h"
#include "lib/log.h"

#define PENALTY_BUSY_MS     5000
#define PENALTY_UNBLOCK_KEEP_SEC 86400   /* unblocks log rows kept this long */
#define PENALTY_PG_SCHEMA   "tern_penalty"
#define PENALTY_PG_LOCK     0x7465726f    /* pg_advisory_xact_lock key while creating */
/* Shared blocks are read again this far back: a row committed late (its
 * since taken before a newer one committed) or written by a server whose
 * clock is a little behind is not missed.  Reading one twice is harmless. */
#define PENALTY_SHARED_MARGIN_SEC 10

static __thread char db_error[768];

static const char sqlite_schema[] =
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

/* The same tables with PostgreSQL's types, in their own schema (the
 * connection's search_path, dirdb_open_pg) beside the directory's. */
static const char pg_schema[] =
	"CREATE SCHEMA IF NOT EXISTS " PENALTY_PG_SCHEMA ";"
	"CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value BYTEA NOT NULL);"
	"CREATE TABLE IF NOT EXISTS blocks(source TEXT PRIMARY KEY, until BIGINT NOT NULL,"
	" why TEXT NOT NULL, since BIGINT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS blocks_since ON blocks(since);"
	"CREATE TABLE IF NOT EXISTS counters(kind BIGINT NOT NULL, addr BYTEA NOT NULL,"
	" prefix BIGINT NOT NULL, acct BIGINT NOT NULL, period BIGINT NOT NULL,"
	" cur BIGINT NOT NULL, prev BIGINT NOT NULL, dcur BIGINT NOT NULL, dprev BIGINT NOT NULL,"
	" last BIGINT NOT NULL, until BIGINT NOT NULL, PRIMARY KEY(kind, addr, prefix, acct));"
	"CREATE INDEX IF NOT EXISTS counters_last ON counters(last);"
	"CREATE TABLE IF NOT EXISTS unblocks(id BIGSERIAL PRIMARY KEY, source TEXT NOT NULL, at BIGINT NOT NULL);";

static const char *
set_error(struct penalty *p, struct dirdb *db, const char *what)
{
	/* Not the dsn: it may hold a password. */
	snprintf(db_error, sizeof(db_error), "penalty: %s: %s (%s)", what, db != NULL ? dirdb_errmsg(db) : "?",
	         dirdb_is_pg_dsn(p->path) ? "PostgreSQL" : p->path);
	return db_error;
}

/* Runs sql with up to two integer parameters (those it has).  0 or -1. */
static int
exec2(struct dirdb *db, const char *sql, int nparams, int64_t a, int64_t b)
{
	struct dirdb_stmt *s = dirdb_prepare(db, sql);
	int rc;

	if (s == NULL)
		return -1;
	if (nparams >= 1)
		dirdb_bind_int(s, 1, a);
	if (nparams >= 2)
		dirdb_bind_int(s, 2, b);
	rc = dirdb_step(s);
	dirdb_finish(&s);
	return rc < 0 ? -1 : 0;
}

/* journal_mode=WAL needs an exclusive lock the first time, which can meet
 * SQLITE_BUSY without the busy handler: retry for a while (as the store
 * does). */
static int
set_wal(struct dirdb *db)
{
	for (int waited = 0; waited < PENALTY_BUSY_MS; waited += 10) {
		struct dirdb_stmt *s = dirdb_prepare(db, "PRAGMA journal_mode=WAL");
		int rc = s != NULL ? dirdb_step(s) : -1;
		bool wal = rc == 1 && strcasecmp(dirdb_col_text(s, 0), "wal") == 0;

		dirdb_finish(&s);
		if (wal)
			return 0;
		if (rc == -1 && strstr(dirdb_errmsg(db), "locked") == NULL)
			return -1;
		usleep(10000);
	}
	return -1;
}

static int
open_one(struct penalty *p, struct dirdb **db_out, int busy_ms, const char **error_out)
{
	int r = dirdb_is_pg_dsn(p->path) ? dirdb_open_pg(p->path, PENALTY_PG_SCHEMA, db_out, error_out)
	                                 : dirdb_open_sqlite(p->path, busy_ms, db_out, error_out);

	if (r != 0) {
		snprintf(db_error, sizeof(db_error), "penalty: %s", *error_out);
		*error_out = db_error;
	}
	return r;
}

static int
load_key(struct penalty *p, const char **error_out)
{
	struct dirdb_stmt *s = NULL;
	uint8_t fresh[16];
	const void *v;
	size_t len;
	int rc = -1;

	if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh)) {
		snprintf(db_error, sizeof(db_error), "penalty: getrandom: %s", strerror(errno));
		*error_out = db_error;
		return -1;
	}
	s = dirdb_prepare(p->db, "INSERT INTO meta(name, value) VALUES('hashkey', ?) ON CONFLICT DO NOTHING");
	if (s == NULL)
		goto fail;
	dirdb_bind_blob(s, 1, fresh, sizeof(fresh));
	if (dirdb_step(s) < 0)
		goto fail;
	dirdb_finish(&s);
	if ((s = dirdb_prepare(p->db, "SELECT value FROM meta WHERE name = 'hashkey'")) == NULL || dirdb_step(s) != 1)
		goto fail;
	v = dirdb_col_blob(s, 0, &len);
	if (v == NULL || len != sizeof(p->hkey))
		goto fail;
	memcpy(p->hkey, v, sizeof(p->hkey));
	rc = 0;
fail:
	if (rc != 0)
		*error_out = set_error(p, p->db, "reading the hash key");
	dirdb_finish(&s);
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

/* Takes a block row into memory (under p->lock): it holds until the later
 * of what memory and the row say. */
static void
take_block(struct penalty *p, const char *src, int64_t until, const char *why)
{
	struct pen_key k;
	struct pen_entry *e;
	unsigned prefix;

	memset(&k, 0, sizeof(k));
	if (pen_parse_source(src, k.addr, &prefix) != 0 || (k.kind = kind_of_block(k.addr, prefix)) == 0)
		return;
	k.prefix = (uint8_t)prefix;
	e = pen_get(p, &k);
	if (until > e->until) {
		e->until = until;
		e->why = (uint8_t)pen_why_parse(why);
	}
	pen_classify(p, e);
}

/* Blocks first (the longest-lasting ones if there are too many), then
 * counters, oldest first so that the newest end up most recently used. */
static int
load_rows(struct penalty *p, const char **error_out)
{
	struct dirdb_stmt *s = NULL;
	int rc;

	if ((s = dirdb_prepare(p->db, "SELECT source, until, why FROM blocks ORDER BY until DESC LIMIT ?")) == NULL)
		goto fail;
	dirdb_bind_int(s, 1, p->cfg.max_tracked / 4 * 3);
	while ((rc = dirdb_step(s)) == 1)
		take_block(p, dirdb_col_text(s, 0), dirdb_col_int(s, 1), dirdb_col_text(s, 2));
	if (rc < 0)
		goto fail;
	dirdb_finish(&s);
	if ((s = dirdb_prepare(p->db, "SELECT kind, addr, prefix, acct, period, cur, prev, dcur, dprev, last, until FROM"
	                              " (SELECT * FROM counters ORDER BY last DESC LIMIT ?) AS recent"
	                              " ORDER BY last ASC")) == NULL)
		goto fail;
	dirdb_bind_int(s, 1, p->cfg.max_tracked);
	while ((rc = dirdb_step(s)) == 1) {
		struct pen_key k;
		struct pen_entry *e;
		int64_t kind = dirdb_col_int(s, 0), prefix = dirdb_col_int(s, 2);
		size_t alen;
		const void *a = dirdb_col_blob(s, 1, &alen);

		p->db_rows++;
		if (kind < PEN_SOURCE || kind > PEN_GOOD_SRC || a == NULL || alen != 16 || prefix < 0 ||
		    (prefix > 128 && prefix != PEN_PREFIX_BAD))
			continue;
		memset(&k, 0, sizeof(k));
		k.kind = (uint8_t)kind;
		memcpy(k.addr, a, 16);
		k.prefix = (uint8_t)prefix;
		k.acct = (uint64_t)dirdb_col_int(s, 3);
		e = pen_get(p, &k);
		e->period = dirdb_col_int(s, 4);
		e->cur = (uint32_t)dirdb_col_int(s, 5);
		e->prev = (uint32_t)dirdb_col_int(s, 6);
		e->dcur = (uint32_t)dirdb_col_int(s, 7);
		e->dprev = (uint32_t)dirdb_col_int(s, 8);
		e->last = dirdb_col_int(s, 9);
		/* The blocks table says which blocks hold. */
		if (kind != PEN_SOURCE && kind != PEN_NET)
			e->until = dirdb_col_int(s, 10);
		pen_classify(p, e);
	}
	if (rc < 0)
		goto fail;
	dirdb_finish(&s);
	if ((s = dirdb_prepare(p->db, "SELECT COALESCE(MAX(id), 0) FROM unblocks")) == NULL || dirdb_step(s) != 1)
		goto fail;
	p->last_unblock_id = dirdb_col_int(s, 0);
	dirdb_finish(&s);
	return 0;
fail:
	*error_out = set_error(p, p->db, "loading state");
	dirdb_finish(&s);
	return -1;
}

/* Creates the tables and the hash key in one transaction.  0 or -1. */
static int
create_schema(struct penalty *p, const char **error_out)
{
	bool pg = dirdb_backend(p->db) == DIRDB_POSTGRESQL;

	if (dirdb_begin(p->db) != 0) {
		*error_out = set_error(p, p->db, "setting up");
		return -1;
	}
	/* Two servers starting on one PostgreSQL would race to create. */
	if ((pg && exec2(p->db, "SELECT pg_advisory_xact_lock(?)", 1, PENALTY_PG_LOCK, 0) != 0) ||
	    dirdb_exec(p->db, pg ? pg_schema : sqlite_schema) != 0) {
		*error_out = set_error(p, p->db, "creating the schema");
		dirdb_rollback(p->db);
		return -1;
	}
	if (load_key(p, error_out) != 0) {
		dirdb_rollback(p->db);
		return -1;
	}
	if (dirdb_commit(p->db) != 0) {
		*error_out = set_error(p, p->db, "creating the schema");
		return -1;
	}
	return 0;
}

static void *
poller_main(void *arg)
{
	struct penalty *p = arg;
	struct timespec ts;

	pthread_mutex_lock(&p->poller_lock);
	while (!p->poller_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += PENALTY_POLL_SEC;
		pthread_cond_timedwait(&p->poller_cond, &p->poller_lock, &ts);
		if (p->poller_stop)
			break;
		pthread_mutex_unlock(&p->poller_lock);
		pen_db_poll(p, (int64_t)time(NULL));
		pthread_mutex_lock(&p->poller_lock);
	}
	pthread_mutex_unlock(&p->poller_lock);
	return NULL;
}

int
pen_db_open(struct penalty *p, const char **error_out)
{
	bool pg = dirdb_is_pg_dsn(p->path);

	if (open_one(p, &p->db, PENALTY_BUSY_MS, error_out) != 0)
		return -1;
	if (!pg) {
		if (set_wal(p->db) != 0) {
			*error_out = set_error(p, p->db, "journal_mode=WAL");
			return -1;
		}
		/* WAL with synchronous=NORMAL: a crash of the process loses
		 * nothing; a power cut may lose the last block, which the
		 * attacker then earns again. */
		if (dirdb_exec(p->db, "PRAGMA synchronous=NORMAL") != 0) {
			*error_out = set_error(p, p->db, "setting up");
			return -1;
		}
	}
	if (create_schema(p, error_out) != 0 || load_rows(p, error_out) != 0)
		return -1;
	/* On SQLite it never waits: a loop thread polls through it. */
	if (open_one(p, &p->poll_db, 0, error_out) != 0)
		return -1;
	p->poll_on_loop = !pg;
	p->shared_blocks = pg;
	p->last_block_since = (int64_t)time(NULL);
	if (pg) {
		pthread_mutex_init(&p->poller_lock, NULL);
		pthread_cond_init(&p->poller_cond, NULL);
		if (pthread_create(&p->poller, NULL, poller_main, p) != 0) {
			*error_out = "penalty: cannot start the poller thread";
			return -1;
		}
		p->poller_started = true;
	}
	return 0;
}

void
pen_db_close(struct penalty *p)
{
	if (p->poller_started) {
		pthread_mutex_lock(&p->poller_lock);
		p->poller_stop = true;
		pthread_cond_signal(&p->poller_cond);
		pthread_mutex_unlock(&p->poller_lock);
		pthread_join(p->poller, NULL);
		p->poller_started = false;
		pthread_mutex_destroy(&p->poller_lock);
		pthread_cond_destroy(&p->poller_cond);
	}
	dirdb_close(&p->poll_db);
	dirdb_close(&p->db);
}

static int
upsert_block(struct penalty *p, const char *source, int64_t until, unsigned why, int64_t now)
{
	struct dirdb_stmt *s = dirdb_prepare(p->db, "INSERT INTO blocks(source, until, why, since) VALUES(?, ?, ?, ?)"
	                                            " ON CONFLICT(source) DO UPDATE SET until = excluded.until,"
	                                            " why = excluded.why, since = excluded.since");
	int rc;

	if (s == NULL)
		return -1;
	dirdb_bind_text(s, 1, source);
	dirdb_bind_int(s, 2, until);
	dirdb_bind_text(s, 3, pen_why_text(why));
	dirdb_bind_int(s, 4, now);
	rc = dirdb_step(s);
	dirdb_finish(&s);
	return rc < 0 ? -1 : 0;
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
		log_warnx("penalty: cannot store the block of %s: %s; it holds in memory and is written"
		          " when the database allows", text, set_error(p, p->db, "writing"));
		p->db_failing = true;
	}
	pthread_mutex_unlock(&p->db_lock);
}

static const char del_counter_sql[] = "DELETE FROM counters WHERE kind = ? AND addr = ? AND prefix = ? AND acct = ?";

static int
write_entry(struct penalty *p, const struct pen_entry *e, int64_t now)
{
	bool empty = e->cur == 0 && e->prev == 0 && e->dcur == 0 && e->dprev == 0 && e->until <= now &&
	             (e->last == 0 || e->k.kind == PEN_SOURCE || e->k.kind == PEN_NET || e->k.kind == PEN_ACCOUNT);
	struct dirdb_stmt *s =
		dirdb_prepare(p->db, empty ? del_counter_sql
		                           : "INSERT INTO counters(kind, addr, prefix, acct, period, cur, prev, dcur, dprev,"
		                             " last, until) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		                             " ON CONFLICT(kind, addr, prefix, acct) DO UPDATE SET period = excluded.period,"
		                             " cur = excluded.cur, prev = excluded.prev, dcur = excluded.dcur,"
		                             " dprev = excluded.dprev, last = excluded.last, until = excluded.until");
	int rc;

	if (s == NULL)
		return -1;
	dirdb_bind_int(s, 1, e->k.kind);
	dirdb_bind_blob(s, 2, e->k.addr, 16);
	dirdb_bind_int(s, 3, e->k.prefix);
	dirdb_bind_int(s, 4, (int64_t)e->k.acct);
	if (!empty) {
		dirdb_bind_int(s, 5, e->period);
		dirdb_bind_int(s, 6, e->cur);
		dirdb_bind_int(s, 7, e->prev);
		dirdb_bind_int(s, 8, e->dcur);
		dirdb_bind_int(s, 9, e->dprev);
		dirdb_bind_int(s, 10, e->last);
		dirdb_bind_int(s, 11, e->until);
	}
	rc = dirdb_step(s);
	dirdb_finish(&s);
	return rc < 0 ? -1 : empty ? 0 : 1;
}

static int
delete_block(struct penalty *p, const char *source)
{
	struct dirdb_stmt *s = dirdb_prepare(p->db, "DELETE FROM blocks WHERE source = ?");
	int rc;

	if (s == NULL)
		return -1;
	dirdb_bind_text(s, 1, source);
	rc = dirdb_step(s);
	dirdb_finish(&s);
	return rc < 0 ? -1 : 0;
}

static int
sync_block(struct penalty *p, const struct pen_entry *e, int64_t now)
{
	char text[PENALTY_SOURCE_MAX];

	if (e->k.kind != PEN_SOURCE && e->k.kind != PEN_NET)
		return 0;
	pen_format(e->k.addr, e->k.prefix, text, sizeof(text));
	if (e->until > now)
		return upsert_block(p, text, e->until, e->why, now);
	/* Shared blocks: another server's longer block on this source is
	 * not ours to delete; expired rows go by "until <= now" below. */
	if (p->shared_blocks)
		return 0;
	return delete_block(p, text);
}

/* Reads the sources of the blocks that hold at now into a list (freed
 * by the caller with free_list). */
static int
read_sources(struct penalty *p, int64_t now, char ***out, size_t *n_out)
{
	struct dirdb_stmt *s = dirdb_prepare(p->db, "SELECT source FROM blocks WHERE until > ?");
	char **list = NULL;
	size_t n = 0;
	int rc;

	if (s == NULL)
		return -1;
	dirdb_bind_int(s, 1, now);
	while ((rc = dirdb_step(s)) == 1) {
		list = realloc(list, (n + 1) * sizeof(*list));
		if (list == NULL || (list[n] = strdup(dirdb_col_text(s, 0))) == NULL)
			panic("out of memory");
		n++;
	}
	dirdb_finish(&s);
	*out = list;
	*n_out = n;
	return rc < 0 ? -1 : 0;
}

static void
free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

/* Deletes block rows the memory no longer holds (evicted under a flood). */
static int
resync_blocks(struct penalty *p, int64_t now)
{
	char **list;
	size_t n;
	int rc = 0;

	if (p->shared_blocks)
		return 0;   /* the rows may be other servers' */
	if (read_sources(p, now, &list, &n) != 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct pen_key k;
		struct pen_entry *e;
		unsigned prefix;
		bool held;

		memset(&k, 0, sizeof(k));
		if (pen_parse_source(list[i], k.addr, &prefix) != 0)
			continue;
		k.prefix = (uint8_t)prefix;
		k.kind = kind_of_block(k.addr, prefix);
		pthread_mutex_lock(&p->lock);
		e = pen_lookup(p, &k);
		held = e != NULL && e->until > now;
		pthread_mutex_unlock(&p->lock);
		if (!held)
			rc = delete_block(p, list[i]);
	}
	free_list(list, n);
	return rc;
}

/* Keeps the counters table near max_tracked rows: a flood writes new rows
 * at every flush.  Keeps the rows at least as recent as the
 * max_tracked-th most recent one. */
static int
trim_counters(struct penalty *p)
{
	int rc;

	if (p->db_rows <= 2 * (int64_t)p->cfg.max_tracked)
		return 0;
	rc = exec2(p->db,
	           "DELETE FROM counters WHERE last < (SELECT last FROM counters ORDER BY last DESC LIMIT 1 OFFSET ?)",
	           1, (int64_t)p->cfg.max_tracked, 0);
	p->db_rows = p->cfg.max_tracked;
	return rc;
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
	for (size_t i = 0; i < n; i++) {
		int w = write_entry(p, &snap[i], now);

		if (w < 0 || sync_block(p, &snap[i], now) != 0)
			return -1;
		p->db_rows += w;
	}
	if (exec2(p->db, "DELETE FROM blocks WHERE until <= ?", 1, now, 0) != 0 ||
	    exec2(p->db, "DELETE FROM counters WHERE last < ? AND until <= ?", 2,
	          now - 2 * (int64_t)p->cfg.window_sec, now) != 0 ||
	    exec2(p->db, "DELETE FROM unblocks WHERE at < ?", 1, now - PENALTY_UNBLOCK_KEEP_SEC, 0) != 0)
		return -1;
	if ((resync && resync_blocks(p, now) != 0) || trim_counters(p) != 0)
		return -1;
	return 0;
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

	/* Shared: learn of unblocks first, or this flush could write back a
	 * block another server's `tern auth unblock` just lifted. */
	if (p->shared_blocks)
		pen_db_poll(p, now);
	snap = snapshot_dirty(p, &n, &resync);
	pthread_mutex_lock(&p->db_lock);
	if (dirdb_begin(p->db) == 0) {
		if (write_all(p, snap, n, resync, now) == 0 && dirdb_commit(p->db) == 0)
			rc = 0;
		else
			dirdb_rollback(p->db);
	}
	if (rc != 0 && !p->db_failing)
		log_warnx("penalty: cannot write counters: %s; they hold in memory and are written when the"
		          " database allows", set_error(p, p->db, "writing"));
	else if (rc == 0 && p->db_failing)
		log_info("penalty: state written again (%s)", dirdb_is_pg_dsn(p->path) ? "PostgreSQL" : p->path);
	p->db_failing = rc != 0;
	pthread_mutex_unlock(&p->db_lock);
	if (rc != 0)
		redirty(p, snap, n, resync);
	free(snap);
	return rc;
}

/* Shared blocks: the rows other servers wrote since the last poll. */
static void
poll_blocks(struct penalty *p)
{
	struct dirdb_stmt *s = dirdb_prepare(p->poll_db, "SELECT source, until, why, since FROM blocks"
	                                                 " WHERE since >= ? AND until > since");
	int64_t newest = p->last_block_since;

	if (s == NULL)
		return;
	dirdb_bind_int(s, 1, p->last_block_since - PENALTY_SHARED_MARGIN_SEC);
	while (dirdb_step(s) == 1) {
		int64_t since = dirdb_col_int(s, 3);

		pthread_mutex_lock(&p->lock);
		take_block(p, dirdb_col_text(s, 0), dirdb_col_int(s, 1), dirdb_col_text(s, 2));
		pthread_mutex_unlock(&p->lock);
		if (since > newest)
			newest = since;
	}
	dirdb_finish(&s);
	/* Rows are read again within the margin, which is harmless:
	 * take_block keeps the later end. */
	p->last_block_since = newest;
}

void
pen_db_poll(struct penalty *p, int64_t now)
{
	struct dirdb_stmt *s;
	int rc;

	if (pthread_mutex_trylock(&p->poll_lock) != 0)
		return;
	if ((s = dirdb_prepare(p->poll_db, "SELECT id, source FROM unblocks WHERE id > ? ORDER BY id")) == NULL) {
		/* Busy or locked: the next poll tries again. */
		pthread_mutex_unlock(&p->poll_lock);
		return;
	}
	dirdb_bind_int(s, 1, p->last_unblock_id);
	while ((rc = dirdb_step(s)) == 1) {
		const char *src = dirdb_col_text(s, 1);
		uint8_t addr[16];
		unsigned prefix;

		p->last_unblock_id = dirdb_col_int(s, 0);
		if (pen_parse_source(src, addr, &prefix) != 0)
			continue;
		pthread_mutex_lock(&p->lock);
		pen_forget(p, addr, prefix, now, true);
		pthread_mutex_unlock(&p->lock);
		log_info("penalty unblocked source=%s", src);
	}
	dirdb_finish(&s);
	if (p->shared_blocks)
		poll_blocks(p);
	pthread_mutex_unlock(&p->poll_lock);
}

/* Deletes the counters rows of kinds 1-4 whose key overlaps the target:
 * read, matched here (pen_overlap), deleted one by one. */
static int
unblock_counters(struct penalty *p, const uint8_t addr[16], unsigned prefix)
{
	struct dirdb_stmt *s = dirdb_prepare(p->db, "SELECT kind, addr, prefix, acct FROM counters WHERE kind <= 4");
	struct pen_key *keys = NULL;
	size_t n = 0;
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = dirdb_step(s)) == 1) {
		size_t alen;
		const void *a = dirdb_col_blob(s, 1, &alen);
		int64_t kp = dirdb_col_int(s, 2);

		if (a == NULL || alen != 16 || kp < 0 || kp > 255 || !pen_overlap(a, (unsigned)kp, addr, prefix))
			continue;
		keys = realloc(keys, (n + 1) * sizeof(*keys));
		if (keys == NULL)
			panic("out of memory");
		memset(&keys[n], 0, sizeof(keys[n]));
		keys[n].kind = (uint8_t)dirdb_col_int(s, 0);
		memcpy(keys[n].addr, a, 16);
		keys[n].prefix = (uint8_t)kp;
		keys[n].acct = (uint64_t)dirdb_col_int(s, 3);
		n++;
	}
	dirdb_finish(&s);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if ((s = dirdb_prepare(p->db, del_counter_sql)) == NULL) {
			rc = -1;
			break;
		}
		dirdb_bind_int(s, 1, keys[i].kind);
		dirdb_bind_blob(s, 2, keys[i].addr, 16);
		dirdb_bind_int(s, 3, keys[i].prefix);
		dirdb_bind_int(s, 4, (int64_t)keys[i].acct);
		rc = dirdb_step(s) < 0 ? -1 : 0;
		dirdb_finish(&s);
	}
	free(keys);
	return rc;
}

/* Deletes the block rows overlapping the target; *lifted_out: how many
 * of them still held at now. */
static int
unblock_rows(struct penalty *p, const uint8_t addr[16], unsigned prefix, int64_t now, int *lifted_out)
{
	struct dirdb_stmt *s = dirdb_prepare(p->db, "SELECT source, until FROM blocks");
	char **gone = NULL;
	size_t n = 0;
	int rc;

	*lifted_out = 0;
	if (s == NULL)
		return -1;
	while ((rc = dirdb_step(s)) == 1) {
		const char *src = dirdb_col_text(s, 0);
		uint8_t a[16];
		unsigned pa;

		if (pen_parse_source(src, a, &pa) != 0 || !pen_overlap(a, pa, addr, prefix))
			continue;
		if (dirdb_col_int(s, 1) > now)
			(*lifted_out)++;
		gone = realloc(gone, (n + 1) * sizeof(*gone));
		if (gone == NULL || (gone[n] = strdup(src)) == NULL)
			panic("out of memory");
		n++;
	}
	dirdb_finish(&s);
	rc = rc < 0 ? -1 : 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = delete_block(p, gone[i]);
	free_list(gone, n);
	return rc;
}

int
pen_db_unblock(struct penalty *p, const uint8_t addr[16], unsigned prefix, const char *text, int64_t now,
               const char **error_out)
{
	struct dirdb_stmt *s = NULL;
	int lifted = -1;
	int64_t id;

	pthread_mutex_lock(&p->db_lock);
	if (dirdb_begin(p->db) != 0) {
		*error_out = set_error(p, p->db, "unblocking");
		pthread_mutex_unlock(&p->db_lock);
		return -1;
	}
	if (unblock_rows(p, addr, prefix, now, &lifted) != 0 || unblock_counters(p, addr, prefix) != 0)
		goto rollback;
	if ((s = dirdb_prepare(p->db, "INSERT INTO unblocks(source, at) VALUES(?, ?) RETURNING id")) == NULL)
		goto rollback;
	dirdb_bind_text(s, 1, text);
	dirdb_bind_int(s, 2, now);
	if (dirdb_step(s) != 1)
		goto rollback;
	id = dirdb_col_int(s, 0);
	dirdb_finish(&s);
	if (dirdb_commit(p->db) != 0)
		goto rollback;
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
	dirdb_finish(&s);
	dirdb_rollback(p->db);
	pthread_mutex_unlock(&p->db_lock);
	return -1;
}
