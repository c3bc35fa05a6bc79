/* data_dir/tern.lock: see lockfile.h. */
#include "lib/lockfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static _Thread_local char lock_err[PATH_MAX + 128];

int
lockfile_take(const char *dir, int *fd_out, const char **error_out)
{
	char path[PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, LOCKFILE_NAME) >= sizeof(path)) {
		*error_out = "lock file path too long";
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(lock_err, sizeof(lock_err), "open %s: %s", path, strerror(errno));
		*error_out = lock_err;
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int saved = errno;

		close(fd);
		if (saved == EWOULDBLOCK)
			return 1;
		snprintf(lock_err, sizeof(lock_err), "flock %s: %s", path, strerror(saved));
		*error_out = lock_err;
		return -1;
	}
	*fd_out = fd;
	return 0;
}
