/* The spool: one file per incoming message in data_dir/spool/, written by
 * the session, fsynced by store_spool_commit(), then hard-linked into each
 * recipient's msg/ (store_deliver) or the queue (queue_enqueue), and
 * finally unlinked by store_spool_discard().  The spool name itself is
 * never what makes a message durable: the links and their directories'
 * fsyncs do. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_maint.h"
#include "store/store_private.h"

static int
spool_dir(const char *data_dir, char *out, size_t outsize)
{
	int r = snprintf(out, outsize, "%s/spool", data_dir);

	return r < 0 || (size_t)r >= outsize ? -1 : 0;
}

int
store_spool_create(const char *data_dir, struct store_spool *sp_out, const char **error_out)
{
	char dir[PATH_MAX], name[STORE_FILE_NAME_MAX + 1];
	int r;

	sp_out->fd = -1;
	sp_out->path[0] = '\0';
	sp_out->size = 0;
	if (spool_dir(data_dir, dir, sizeof(dir)) == -1) {
		*error_out = "spool path too long";
		return -1;
	}
	if (store_mkdirs(dir) == -1) {
		*error_out = store_tls_errorf("mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	for (int tries = 0; tries < STORE_NAME_TRIES; tries++) {
		store_unique_name(name, sizeof(name));
		r = snprintf(sp_out->path, sizeof(sp_out->path), "%s/%s", dir, name);
		if (r < 0 || (size_t)r >= sizeof(sp_out->path)) {
			sp_out->path[0] = '\0';
			*error_out = "spool path too long";
			return -1;
		}
		sp_out->fd = open(sp_out->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (sp_out->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	*error_out = store_tls_errorf("create %s: %s", sp_out->path, strerror(errno));
	sp_out->path[0] = '\0';
	return -1;
}

int
store_spool_write(struct store_spool *sp, const void *data, size_t len, enum store_error *err_out)
{
	const char *p = data;

	if (sp->fd < 0) {
		*err_out = STORE_ERR_TEMP;
		return -1;
	}
	while (len > 0) {
		ssize_t w = write(sp->fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			*err_out = store_errno_class(errno);
			return -1;
		}
		if (w == 0) {
			/* Not expected from a regular file; treat as full. */
			*err_out = STORE_ERR_NOSPACE;
			return -1;
		}
		p += w;
		len -= (size_t)w;
		sp->size += (uint64_t)w;
	}
	return 0;
}

int
store_spool_commit(struct store_spool *sp, enum store_error *err_out)
{
	int r;

	if (sp->fd < 0) {
		*err_out = STORE_ERR_TEMP;
		return -1;
	}
	/* fdatasync covers the data and the size, all a reader needs. */
	do {
		r = fdatasync(sp->fd);
	} while (r == -1 && errno == EINTR);
	if (r == -1) {
		*err_out = store_errno_class(errno);
		return -1;
	}
	/* The spool directory is not fsynced: the spool name is not what makes
	 * the message durable (each link's own directory is fsynced), and a
	 * spool file that vanishes in a crash was never acknowledged. */
	return 0;
}

void
store_spool_discard(struct store_spool *sp)
{
	/* fd -1 means never created (or already discarded): the path may be
	 * stale or garbage, so it is never unlinked then. */
	if (sp->fd >= 0) {
		close(sp->fd);
		if (sp->path[0] != '\0')
			unlink(sp->path);
	}
	sp->fd = -1;
	sp->path[0] = '\0';
	sp->size = 0;
}

long
store_spool_cleanup(const char *data_dir, int64_t min_age_sec, const char **error_out)
{
	char dir[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	long removed = 0;
	time_t now = time(NULL);
	DIR *d;

	if (spool_dir(data_dir, dir, sizeof(dir)) == -1) {
		*error_out = "spool path too long";
		return -1;
	}
	d = opendir(dir);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_out = store_tls_errorf("opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
			continue;
		if ((int64_t)now - (int64_t)sb.st_mtime < min_age_sec)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
