/* The disk space reserve: see lib/reserve.h for what it is and why. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/reserve.h"

/* Zeros written at a time where fallocate(2) is not supported. */
#define RESERVE_CHUNK 65536

static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t reserve_bytes;     /* 0: off */
static unsigned borrowers;         /* operations running on the freed space */
static time_t next_try;            /* a failed ensure is not repeated before */
static bool warned_other;          /* a non-space failure was logged */
static bool warned_full;           /* "disk full" was logged; cleared when the reserve is back */

static void
reserve_path(const char *data_dir, char *out, size_t outsize)
{
	snprintf(out, outsize, "%s/%s", data_dir, RESERVE_FILE);
}

static time_t
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* Allocates bytes for fd: fallocate, or zeros where it is not supported.
 * Returns 0 or an errno value. */
static int
allocate(int fd, uint64_t bytes)
{
	static const char zeros[RESERVE_CHUNK];
	uint64_t off = 0;
	int err = posix_fallocate(fd, 0, (off_t)bytes);

	if (err != EOPNOTSUPP && err != EINVAL)
		return err;
	while (off < bytes) {
		size_t n = bytes - off < sizeof(zeros) ? (size_t)(bytes - off) : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, (off_t)off);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return w == 0 ? ENOSPC : errno;
		off += (uint64_t)w;
	}
	return fsync(fd) == 0 ? 0 : errno;
}

/* Under reserve_lock.  0 in place, -1 no space now. */
static int
ensure_locked(const char *data_dir)
{
	char path[PATH_MAX];
	struct stat sb;
	int fd, err;

	if (reserve_bytes == 0)
		return 0;
	reserve_path(data_dir, path, sizeof(path));
	if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size >= reserve_bytes &&
	    (uint64_t)sb.st_blocks * 512 >= reserve_bytes)
		return 0;
	if (mono_now() < next_try)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	err = fd == -1 ? errno : allocate(fd, reserve_bytes);
	if (err == 0) {
		close(fd);
		if (warned_full)
			log_info("disk reserve restored path=%s bytes=%llu", path, (unsigned long long)reserve_bytes);
		warned_full = false;
		return 0;
	}
	if (fd != -1) {
		/* a partial reserve would hold space without being one */
		if (ftruncate(fd, 0) == -1) {
			/* unlinked below either way */
		}
		close(fd);
		unlink(path);
	}
	if (err == ENOSPC || err == EDQUOT) {
		next_try = mono_now() + RESERVE_RETRY_SEC;
		if (!warned_full)
			log_warnx("disk full: cannot keep the disk reserve path=%s bytes=%llu; deliveries"
			          " wait until deletes free the space", path, (unsigned long long)reserve_bytes);
		warned_full = true;
		return -1;
	}
	/* EFBIG (a file size limit), EROFS, EACCES...: no reserve can be
	 * had, but that is no reason to refuse mail. */
	if (!warned_other)
		log_warnx("disk reserve unavailable path=%s: %s", path, strerror(err));
	warned_other = true;
	return 0;
}

void
reserve_configure(uint64_t bytes)
{
	pthread_mutex_lock(&reserve_lock);
	reserve_bytes = bytes;
	next_try = 0;
	pthread_mutex_unlock(&reserve_lock);
}

int
reserve_ensure(const char *data_dir)
{
	int r;

	pthread_mutex_lock(&reserve_lock);
	next_try = 0;
	r = ensure_locked(data_dir);
	pthread_mutex_unlock(&reserve_lock);
	return r;
}

bool
reserve_held(const char *data_dir)
{
	bool held;

	pthread_mutex_lock(&reserve_lock);
	held = reserve_bytes == 0 || (borrowers == 0 && ensure_locked(data_dir) == 0);
	pthread_mutex_unlock(&reserve_lock);
	return held;
}

bool
reserve_borrow(const char *data_dir)
{
	char path[PATH_MAX];

	pthread_mutex_lock(&reserve_lock);
	if (reserve_bytes == 0) {
		pthread_mutex_unlock(&reserve_lock);
		return false;
	}
	borrowers++;
	reserve_path(data_dir, path, sizeof(path));
	if (unlink(path) == 0)
		log_warnx("disk full: released the disk reserve path=%s so that a delete can run", path);
	warned_full = true;
	pthread_mutex_unlock(&reserve_lock);
	return true;
}

void
reserve_note_freed(void)
{
	pthread_mutex_lock(&reserve_lock);
	next_try = 0;
	pthread_mutex_unlock(&reserve_lock);
}

void
reserve_return(const char *data_dir)
{
	pthread_mutex_lock(&reserve_lock);
	if (borrowers > 0 && --borrowers == 0) {
		next_try = 0;
		ensure_locked(data_dir);
	}
	pthread_mutex_unlock(&reserve_lock);
}
