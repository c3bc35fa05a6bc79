/* Orphan message files: files in a user's msg/ that no index row names.
 * They are what a crash leaves between link and COMMIT (delivery, APPEND,
 * COPY) or between COMMIT and unlink (expunge), and what a failed COMMIT
 * leaves on purpose; see store_maint.h.
 *
 * The guard.  From its first link(2) into msg/ to its COMMIT (or the
 * unlinks after a failure), a writer's new files have no row yet and look
 * exactly like orphans.  Writers hold their user's guard shared over that
 * stretch; the scan takes it exclusively, and only to confirm and remove
 * the few candidates it found without it.  So a file of a delivery running
 * right now is never taken, whatever its age, and the scan holds up that
 * user's writers for one query at most, not for its whole walk of the
 * directory.  The guard is per bucket of users (a hash of the folder), a
 * writer-preferring rwlock so the scan is not starved by a busy bucket;
 * no thread ever holds two guards. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/log.h"
#include "store/store_maint.h"
#include "store/store_private.h"

/* Most file names the scan holds in memory (every message of every
 * mailbox of one user; 41 bytes each). */
#define STORE_ORPHAN_SCAN_MAX (8 * STORE_LIST_MAX)
/* Candidates confirmed by one query under the guard (SQLite allows 32766
 * parameters; a small batch keeps each hold of the guard short). */
#define STORE_ORPHAN_BATCH 64
/* Buckets of the guard (a power of two). */
#define STORE_GUARD_BUCKETS 256

typedef char file_name[STORE_FILE_NAME_MAX + 1];

static pthread_rwlock_t guards[STORE_GUARD_BUCKETS];
static pthread_once_t guards_once = PTHREAD_ONCE_INIT;

static void
guards_init(void)
{
	pthread_rwlockattr_t attr;

	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	for (int i = 0; i < STORE_GUARD_BUCKETS; i++)
		pthread_rwlock_init(&guards[i], &attr);
	pthread_rwlockattr_destroy(&attr);
}

static pthread_rwlock_t *
guard_of(const struct store *st)
{
	uint32_t h = 2166136261u;          /* FNV-1a of the folder */

	pthread_once(&guards_once, guards_init);
	for (const unsigned char *p = (const unsigned char *)st->dir; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return &guards[h & (STORE_GUARD_BUCKETS - 1)];
}

void
store_orphan_guard_enter(struct store *st)
{
	if (pthread_rwlock_rdlock(guard_of(st)) != 0)
		panic("store: orphan guard: cannot take it");
}

void
store_orphan_guard_leave(struct store *st)
{
	pthread_rwlock_unlock(guard_of(st));
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Every file name the index knows, sorted (strcmp order). */
static int
known_files(struct store *st, file_name **out, size_t *n_out)
{
	sqlite3_stmt *s = store_stmt(st, STMT_FILES_ALL);
	file_name *names = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (s == NULL)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *f = (const char *)sqlite3_column_text(s, 0);
		size_t flen = (size_t)sqlite3_column_bytes(s, 0);

		if (f == NULL || flen > STORE_FILE_NAME_MAX)
			continue; /* cannot match any file we would create */
		if (n == STORE_ORPHAN_SCAN_MAX) {
			store_errorf(st, "too many messages to scan for orphans");
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap == 0 ? 256 : cap * 2;
			file_name *nn = reallocarray(names, ncap, sizeof(*names));

			if (nn == NULL) {
				store_errorf(st, "out of memory");
				goto fail;
			}
			names = nn;
			cap = ncap;
		}
		memcpy(names[n], f, flen);
		names[n][flen] = '\0';
		n++;
	}
	if (rc != SQLITE_DONE) {
		store_errorf(st, "orphans: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	sqlite3_reset(s);
	if (n > 0)          /* names is NULL when no row names a file */
		qsort(names, n, sizeof(*names), cmp_name);
	*out = names;
	*n_out = n;
	return 0;
fail:
	sqlite3_reset(s);
	free(names);
	return -1;
}

struct candidate {
	file_name name;
	uint64_t size;
	bool known;
};

/* Files of msg/ that were not in names, old enough, regular. */
static int
find_candidates(struct store *st, const file_name *names, size_t n, const struct timespec *before,
                struct candidate **out, size_t *n_out)
{
	struct candidate *c = NULL;
	size_t nc = 0, cap = 0;
	struct dirent *de;
	struct stat sb;
	DIR *d;
	int fd;

	fd = openat(st->msg_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		store_errorf(st, "%s/msg: %s", st->dir, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (!store_file_name_ok(de->d_name, len))
			continue;
		if (n > 0 && bsearch(de->d_name, names, n, sizeof(*names), cmp_name) != NULL)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
			continue;
		/* ctime, which link(2) sets, unlike mtime: a COPY links an old
		 * file under a new name. */
		if (!store_changed_before(&sb, before))
			continue;
		if (nc == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			struct candidate *nn = reallocarray(c, ncap, sizeof(*c));

			if (nn == NULL) {
				store_errorf(st, "out of memory");
				closedir(d);
				free(c);
				return -1;
			}
			c = nn;
			cap = ncap;
		}
		memcpy(c[nc].name, de->d_name, len + 1);
		c[nc].size = (uint64_t)sb.st_size;
		c[nc].known = false;
		nc++;
	}
	closedir(d);
	*out = c;
	*n_out = nc;
	return 0;
}

/* Under the guard: marks the candidates the index names now.  Returns 0
 * or -1 (st->errbuf). */
static int
confirm_batch(struct store *st, struct candidate *c, size_t n)
{
	struct buf sql = BUF_INIT;
	sqlite3_stmt *s = NULL;
	int rc, ret = -1;

	buf_puts(&sql, "SELECT file FROM messages WHERE file IN (");
	for (size_t i = 0; i < n; i++)
		buf_puts(&sql, i == 0 ? "?" : ",?");
	buf_puts(&sql, ")");
	if (sqlite3_prepare_v2(st->db, sql.data, (int)sql.len, &s, NULL) != SQLITE_OK) {
		store_errorf(st, "orphans: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		sqlite3_bind_text(s, (int)i + 1, c[i].name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *f = (const char *)sqlite3_column_text(s, 0);

		for (size_t i = 0; f != NULL && i < n; i++)
			if (strcmp(c[i].name, f) == 0)
				c[i].known = true;
	}
	if (rc != SQLITE_DONE) {
		store_errorf(st, "orphans: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	buf_free(&sql);
	return ret;
}

long
store_orphans_remove(struct store *st, const struct timespec *changed_before, uint64_t *bytes_out,
                     const char **error_out)
{
	file_name *names = NULL;
	struct candidate *c = NULL;
	size_t n = 0, nc = 0;
	uint64_t bytes = 0;
	long removed = 0;

	if (bytes_out != NULL)
		*bytes_out = 0;
	/* Names first, directory second, without the guard: a file linked
	 * after the query is a candidate at worst, and the guarded check
	 * below finds its row or waits for its writer to finish. */
	if (known_files(st, &names, &n) == -1 ||
	    find_candidates(st, (const file_name *)names, n, changed_before, &c, &nc) == -1) {
		free(names);
		*error_out = st->errbuf;
		return -1;
	}
	free(names);
	for (size_t b = 0; b < nc; b += STORE_ORPHAN_BATCH) {
		size_t k = nc - b < STORE_ORPHAN_BATCH ? nc - b : STORE_ORPHAN_BATCH;
		pthread_rwlock_t *g = guard_of(st);
		int r;

		/* No writer of this user is between link and COMMIT now: a
		 * candidate without a row is an orphan, and no later COMMIT can
		 * name it (writers link fresh names only). */
		if (pthread_rwlock_wrlock(g) != 0)
			panic("store: orphan guard: cannot take it");
		r = confirm_batch(st, c + b, k);
		for (size_t i = b; r == 0 && i < b + k; i++) {
			/* an expunged file an older read batch may still read
			 * goes when that batch ends (store_unlink.c) */
			if (c[i].known || store_unlink_pending(st, c[i].name))
				continue;
			if (unlinkat(st->msg_dirfd, c[i].name, 0) == 0) {
				removed++;
				bytes += c[i].size;
			}
		}
		pthread_rwlock_unlock(g);
		if (r == -1) {
			free(c);
			*error_out = st->errbuf;
			return -1;
		}
	}
	free(c);
	if (removed > 0 && fsync(st->msg_dirfd) == -1) {
		/* Not fatal: at worst a removal is undone by a power cut. */
	}
	if (bytes_out != NULL)
		*bytes_out = bytes;
	return removed;
}

long
store_orphans_cleanup(struct store *st, int64_t min_age_sec, const char **error_out)
{
	/* Age >= min_age_sec: ctime <= now - min_age_sec.  The precise clock:
	 * time(2) may lag a file's ctime by a tick. */
	struct timespec before;

	clock_gettime(CLOCK_REALTIME, &before);
	before.tv_sec -= (time_t)min_age_sec;
	if (++before.tv_nsec == 1000000000) {
		before.tv_sec++;
		before.tv_nsec = 0;
	}
	return store_orphans_remove(st, &before, NULL, error_out);
}
