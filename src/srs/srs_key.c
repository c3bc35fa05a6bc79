/* The SRS secret: data_dir/srs.key, SRS_KEY_LEN random bytes, mode 0600.
 * Every server that may receive a bounce for an address another one made
 * (a cluster behind one MX) must have the same file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/str.h"
#include "srs/srs.h"

static unsigned char the_key[SRS_KEY_LEN];
static bool have_key;
static char key_error[PATH_MAX + 128];

/* Writes a new key to a temporary file and links it to path, so that the
 * file is never seen half written; EEXIST (another process was first)
 * is success.  0 or -1 (key_error). */
static int
create_key(const char *path)
{
	unsigned char k[SRS_KEY_LEN];
	char tmp[PATH_MAX];
	int fd, rc = -1;

	if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k)) {
		snprintf(key_error, sizeof(key_error), "srs: getrandom: %s", strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		snprintf(key_error, sizeof(key_error), "srs: key path too long");
		return -1;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(key_error, sizeof(key_error), "srs: cannot create %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (write(fd, k, sizeof(k)) != (ssize_t)sizeof(k) || fsync(fd) != 0) {
		snprintf(key_error, sizeof(key_error), "srs: cannot write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (link(tmp, path) != 0 && errno != EEXIST) {
		snprintf(key_error, sizeof(key_error), "srs: cannot create %s: %s", path, strerror(errno));
		goto fail;
	}
	rc = 0;
fail:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	str_wipe(k, sizeof(k));
	return rc;
}

int
srs_key_load(const char *data_dir, unsigned char key_out[SRS_KEY_LEN], const char **error_out)
{
	char path[PATH_MAX];
	unsigned char extra;
	struct stat st;
	ssize_t n;
	int fd;

	*error_out = key_error;
	if ((size_t)snprintf(path, sizeof(path), "%s/srs.key", data_dir) >= sizeof(path)) {
		snprintf(key_error, sizeof(key_error), "srs: key path too long");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if (create_key(path) == -1)
			return -1;
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd == -1) {
		snprintf(key_error, sizeof(key_error), "srs: cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
		snprintf(key_error, sizeof(key_error), "srs: %s is readable by others: chmod 600 it", path);
		close(fd);
		return -1;
	}
	n = read(fd, key_out, SRS_KEY_LEN);
	if (n != SRS_KEY_LEN || read(fd, &extra, 1) != 0) {
		snprintf(key_error, sizeof(key_error), "srs: %s must hold exactly %d bytes", path, SRS_KEY_LEN);
		close(fd);
		str_wipe(key_out, SRS_KEY_LEN);
		return -1;
	}
	close(fd);
	return 0;
}

int
srs_key_start(const char *data_dir, const char **error_out)
{
	if (srs_key_load(data_dir, the_key, error_out) == -1)
		return -1;
	have_key = true;
	return 0;
}

const unsigned char *
srs_key(void)
{
	return have_key ? the_key : NULL;
}
