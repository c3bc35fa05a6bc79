/* File helpers of tern backup and restore: copy with the mode kept, hard
 * link or copy, a directory tree, and a SQLite database through the online
 * backup API. */
#include "cli/cli_backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "cli/cli.h"

int
backup_join(char *out, size_t outsize, const char *a, const char *b)
{
	if ((size_t)snprintf(out, outsize, "%s/%s", a, b) >= outsize) {
		cli_error("%s/%s: path too long", a, b);
		return -1;
	}
	return 0;
}

int
backup_mkdir(const char *path, mode_t mode)
{
	if (mkdir(path, mode) == -1 && errno != EEXIST) {
		cli_error("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	if (chmod(path, mode) == -1) {
		cli_error("chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
fsync_fd(int fd)
{
	int r;

	do {
		r = fsync(fd);
	} while (r == -1 && errno == EINTR);
	return r;
}

/* Copies src to dst (which must not exist) with src's permission bits,
 * and fsyncs it.  -1 with errno set (ENOENT: src is gone); not printed. */
static int
copy_file_raw(const char *src, const char *dst, uint64_t *bytes_out)
{
	char buf[65536];
	struct stat sb;
	int in, out = -1, saved;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in == -1)
		return -1;
	if (fstat(in, &sb) == -1)
		goto fail;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out == -1 || fchmod(out, sb.st_mode & 07777) == -1)
		goto fail;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w == -1) {
				if (errno == EINTR)
					continue;
				goto fail;
			}
			off += w;
		}
	}
	if (fsync_fd(out) == -1 || close(out) == -1) {
		out = -1;
		goto fail;
	}
	close(in);
	*bytes_out = (uint64_t)sb.st_size;
	return 0;
fail:
	saved = errno;
	close(in);
	if (out != -1) {
		close(out);
		unlink(dst);
	}
	errno = saved;
	return -1;
}

int
backup_copy_file(struct backup_run *b, const char *src, const char *dst)
{
	uint64_t bytes;

	if (copy_file_raw(src, dst, &bytes) == -1) {
		cli_error("copy %s to %s: %s", src, dst, strerror(errno));
		return -1;
	}
	b->other_files++;
	return 0;
}

int
backup_link_or_copy(struct backup_run *b, const char *src, const char *dst)
{
	uint64_t bytes;

	if (!b->no_link) {
		if (link(src, dst) == 0) {
			b->linked++;
			return 0;
		}
		if (errno == ENOENT || errno == EEXIST)
			return -1;
		/* EXDEV: another file system; EPERM: protected_hardlinks
		 * (not our file).  Copy from now on. */
		if (errno != EXDEV && errno != EPERM && errno != EMLINK)
			return -1;
		b->no_link = true;
	}
	if (copy_file_raw(src, dst, &bytes) == -1)
		return -1;
	b->copied++;
	return 0;
}

int
backup_copy_tree(struct backup_run *b, const char *src, const char *dst)
{
	char s[PATH_MAX], d[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *dir;
	int ret = 0;

	if (stat(src, &sb) == -1)
		return errno == ENOENT ? 0 : (cli_error("%s: %s", src, strerror(errno)), -1);
	if (backup_mkdir(dst, sb.st_mode & 07777) == -1)
		return -1;
	dir = opendir(src);
	if (dir == NULL) {
		cli_error("opendir %s: %s", src, strerror(errno));
		return -1;
	}
	while (ret == 0 && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (backup_join(s, sizeof(s), src, de->d_name) == -1 || backup_join(d, sizeof(d), dst, de->d_name) == -1) {
			ret = -1;
			break;
		}
		if (lstat(s, &sb) == -1) {
			if (errno != ENOENT)     /* gone meanwhile (a queue entry sent) */
				ret = (cli_error("%s: %s", s, strerror(errno)), -1);
			continue;
		}
		if (S_ISDIR(sb.st_mode))
			ret = backup_copy_tree(b, s, d);
		else if (S_ISREG(sb.st_mode) && copy_file_raw(s, d, &(uint64_t){ 0 }) == -1) {
			if (errno != ENOENT)
				ret = (cli_error("copy %s to %s: %s", s, d, strerror(errno)), -1);
		} else if (S_ISREG(sb.st_mode)) {
			b->other_files++;
		}
	}
	closedir(dir);
	return ret;
}

int
backup_db_open(const char *path, int flags, sqlite3 **db_out)
{
	int rc;

	rc = sqlite3_open_v2(path, db_out, flags, NULL);
	if (rc != SQLITE_OK) {
		cli_error("open %s: %s", path, *db_out != NULL ? sqlite3_errmsg(*db_out) : "out of memory");
		sqlite3_close(*db_out);
		*db_out = NULL;
		return -1;
	}
	sqlite3_busy_timeout(*db_out, BACKUP_BUSY_MS);
	return 0;
}

int
backup_db_copy_from(sqlite3 *src, const char *dst_path, mode_t mode)
{
	sqlite3_backup *bk;
	sqlite3 *dst = NULL;
	int fd, rc;

	/* SQLite would create it 0644 less umask: make it with the mode first. */
	fd = open(dst_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 || fchmod(fd, mode) == -1) {
		cli_error("create %s: %s", dst_path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	if (backup_db_open(dst_path, SQLITE_OPEN_READWRITE, &dst) == -1)
		return -1;
	bk = sqlite3_backup_init(dst, "main", src, "main");
	if (bk == NULL) {
		cli_error("backup to %s: %s", dst_path, sqlite3_errmsg(dst));
		sqlite3_close(dst);
		return -1;
	}
	/* All pages in one step: one read snapshot of the source, which in WAL
	 * mode blocks no writer (stepping in parts would restart at each
	 * change the server commits meanwhile). */
	for (int waited = 0;; waited += 10) {
		rc = sqlite3_backup_step(bk, -1);
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited >= BACKUP_BUSY_MS)
			break;
		sqlite3_sleep(10);
	}
	sqlite3_backup_finish(bk);
	if (rc != SQLITE_DONE) {
		cli_error("backup to %s: %s", dst_path, sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	/* A copy is one file: no -wal beside it (rollback journal). */
	sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
	if (sqlite3_close(dst) != SQLITE_OK) {
		cli_error("close %s", dst_path);
		return -1;
	}
	return 0;
}

int
backup_db_copy(struct backup_run *b, const char *src_path, const char *dst_path)
{
	struct stat sb;
	sqlite3 *src = NULL;
	int r;

	if (stat(src_path, &sb) == -1) {
		cli_error("%s: %s", src_path, strerror(errno));
		return -1;
	}
	if (backup_db_open(src_path, SQLITE_OPEN_READWRITE, &src) == -1)
		return -1;
	r = backup_db_copy_from(src, dst_path, sb.st_mode & 07777);
	sqlite3_close(src);
	if (r == 0)
		b->databases++;
	return r;
}
