/* Orphan message files: files in a user's msg/ that no index row names.
 * They are what a crash leaves between link and COMMIT (delivery) or
 * between COMMIT and unlink (expunge); see store_maint.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_maint.h"
#include "store/store_private.h"

/* Most file names the scan holds in memory (every message of every
 * mailbox of one user; 41 bytes each). */
#define STORE_ORPHAN_SCAN_MAX (8 * STORE_LIST_MAX)

typedef char file_name[STORE_FILE_NAME_MAX + 1];

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
	qsort(names, n, sizeof(*names), cmp_name);
	*out = names;
	*n_out = n;
	return 0;
fail:
	sqlite3_reset(s);
	free(names);
	return -1;
}

long
store_orphans_cleanup(struct store *st, int64_t min_age_sec, const char **error_out)
{
	file_name *names = NULL;
	size_t n = 0;
	long removed = 0;
	time_t now;
	struct dirent *de;
	struct stat sb;
	int fd;
	DIR *d;

	/* Names first, directory second: a file linked after the query is
	 * young, and min_age_sec keeps it. */
	if (known_files(st, &names, &n) == -1) {
		*error_out = st->errbuf;
		return -1;
	}
	now = time(NULL);
	fd = openat(st->msg_dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		*error_out = store_errorf(st, "%s/msg: %s", st->dir, strerror(errno));
		if (fd != -1)
			close(fd);
		free(names);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strlen(de->d_name) > STORE_FILE_NAME_MAX)
			continue;
		if (bsearch(de->d_name, names, n, sizeof(*names), cmp_name) != NULL)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
			continue;
		if ((int64_t)now - (int64_t)sb.st_ctime < min_age_sec)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	free(names);
	return removed;
}
