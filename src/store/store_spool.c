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

/* Copies src from offset off to its end onto dst's end.  copy_file_range
 * keeps the bytes in the kernel (and lets a filesystem that can share
 * extents do so); where it is refused (EXDEV on old kernels, ENOSYS,
 * EINVAL on some filesystems) plain pread/write does the same. */
static int
copy_rest(int src, uint64_t off, struct store_spool *dst, enum store_error *err_out)
{
	off_t in_off = (off_t)off;
	char buf[65536];
	ssize_t n;

	for (;;) {
		n = copy_file_range(src, &in_off, dst->fd, NULL, 1 << 30, 0);
		if (n > 0) {
			dst->size += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
			*err_out = store_errno_class(errno);
			return -1;
		}
		break;
	}
	while ((n = pread(src, buf, sizeof(buf), in_off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err_out = STORE_ERR_TEMP;
			return -1;
		}
		if (store_spool_write(dst, buf, (size_t)n, err_out) == -1)
			return -1;
		in_off += n;
	}
	return 0;
}

/* A new file rather than an edit in place: the spool file was written
 * front to back while DATA streamed (the message is never held in
 * memory) and a header must go before its first byte, which no
 * filesystem call inserts cheaply.  The copy is in-kernel. */
int
store_spool_prepend(const char *data_dir, struct store_spool *sp, const void *head, size_t head_len,
                    uint64_t skip, enum store_error *err_out, const char **error_out)
{
	struct store_spool n;
	int src;

	*err_out = STORE_ERR_TEMP;
	src = open(sp->path, O_RDONLY | O_CLOEXEC);
	if (src == -1) {
		*error_out = store_tls_errorf("open %s: %s", sp->path, strerror(errno));
		return -1;
	}
	if (store_spool_create(data_dir, &n, error_out) == -1) {
		close(src);
		return -1;
	}
	if (store_spool_write(&n, head, head_len, err_out) == -1 || copy_rest(src, skip, &n, err_out) == -1) {
		*error_out = "spool rewrite failed";
		close(src);
		store_spool_discard(&n);
		return -1;
	}
	close(src);
	store_spool_discard(sp);
	*sp = n;
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
