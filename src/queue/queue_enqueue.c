/* Putting a message into the outbound queue, durably:
 *   1. link(2) the committed spool file to queue/<id>.eml
 *   2. write the envelope to queue/<id>.env.tmp, fsync it
 *   3. rename it to queue/<id>.env, fsync queue/ (covers the link too)
 * The .env name appears only after its contents are on disk, so a reader
 * that sees <id>.env sees a complete entry; a crash earlier leaves an .eml
 * without .env, or a .tmp, which queue_list ignores. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue_private.h"
#include "store/store_private.h"

/* Envelope text into a malloc'd buffer; NULL if a line would be unsafe. */
static char *
env_build(const char *mail_from, const char *const *rcpts, size_t n, const struct queue_dsn_req *dsn,
          int64_t queued, uint64_t size, size_t *len_out, const char **error_out)
{
	size_t cap = 64 + strlen(mail_from) + 8, len = 0;
	char *buf;
	int r;

	for (size_t i = 0; i < n; i++)
		cap += strlen(rcpts[i]) + 6;
	if (dsn != NULL) {
		cap += 16 + (dsn->envid != NULL ? strlen(dsn->envid) + 8 : 0);
		for (size_t i = 0; i < n; i++)
			cap += 32 + (dsn->orcpt != NULL && dsn->orcpt[i] != NULL ? strlen(dsn->orcpt[i]) + 32 : 0);
	}
	if (cap > QUEUE_ENV_MAX) {
		*error_out = "envelope too large";
		return NULL;
	}
	if ((buf = malloc(cap)) == NULL) {
		*error_out = "out of memory";
		return NULL;
	}
	r = snprintf(buf, cap, "from %s\n", mail_from);
	len += (size_t)r;
	for (size_t i = 0; i < n; i++) {
		r = snprintf(buf + len, cap - len, "rcpt %s\n", rcpts[i]);
		len += (size_t)r;
	}
	r = snprintf(buf + len, cap - len, "queued %lld\nsize %llu\n", (long long)queued,
	             (unsigned long long)size);
	len += (size_t)r;
	if (dsn != NULL) {
		if (dsn->ret != QUEUE_RET_UNSPEC)
			len += (size_t)snprintf(buf + len, cap - len, "ret %s\n", dsn->ret == QUEUE_RET_FULL ? "full" : "hdrs");
		if (dsn->envid != NULL)
			len += (size_t)snprintf(buf + len, cap - len, "envid %s\n", dsn->envid);
		for (size_t i = 0; i < n; i++) {
			if (dsn->notify != NULL && dsn->notify[i] != 0)
				len += (size_t)snprintf(buf + len, cap - len, "notify %zu %u\n", i, dsn->notify[i]);
			if (dsn->orcpt != NULL && dsn->orcpt[i] != NULL)
				len += (size_t)snprintf(buf + len, cap - len, "orcpt %zu %s\n", i, dsn->orcpt[i]);
		}
	}
	*len_out = len;
	return buf;
}

static bool
addr_safe(const char *a, bool may_be_empty)
{
	size_t len;

	if (a == NULL)
		return false;
	len = strnlen(a, ADDRESS_MAX + 1);
	if (len > ADDRESS_MAX || (len == 0 && !may_be_empty))
		return false;
	return strpbrk(a, "\r\n") == NULL;
}

static bool
dsn_safe(const struct queue_dsn_req *dsn, size_t n)
{
	for (size_t i = 0; dsn->orcpt != NULL && i < n; i++) {
		if (dsn->orcpt[i] != NULL && (!addr_safe(dsn->orcpt[i], false) || strchr(dsn->orcpt[i], ' ') != NULL))
			return false;
	}
	return dsn->envid == NULL || strchr(dsn->envid, ' ') == NULL;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Writes and fsyncs <dir>/<tmp>. */
static int
write_env_tmp(const char *path, const char *buf, size_t len)
{
	int fd, r, saved;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	r = write_all(fd, buf, len);
	if (r == 0) {
		do {
			r = fsync(fd);
		} while (r == -1 && errno == EINTR);
	}
	saved = errno;
	if (close(fd) == -1 && r == 0) {
		r = -1;
		saved = errno;
	}
	errno = saved;
	return r;
}

static void
make_id(char id[QUEUE_ID_MAX + 1], struct timespec *ts)
{
	char rnd[9];

	clock_gettime(CLOCK_REALTIME, ts);
	store_random_hex(rnd, sizeof(rnd), 4);
	snprintf(id, QUEUE_ID_MAX + 1, "%012lld.%09ld.%s", (long long)ts->tv_sec, ts->tv_nsec, rnd);
}

int
queue_enqueue(const char *data_dir, struct store_spool *sp, const char *mail_from, const char *const *rcpts,
              size_t n, const struct queue_dsn_req *dsn, const char *want_id, char id_out[QUEUE_ID_MAX + 1],
              enum store_error *err_out, const char **error_out)
{
	char dir[PATH_MAX], eml[PATH_MAX + 64], env[PATH_MAX + 64], tmp[PATH_MAX + 64];
	char id[QUEUE_ID_MAX + 1];
	struct timespec ts;
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	int tries, r;

	*err_out = STORE_ERR_TEMP;
	id_out[0] = '\0';
	eml[0] = env[0] = tmp[0] = '\0';
	if (sp->fd < 0 || sp->path[0] == '\0') {
		*error_out = "queue_enqueue: no spool file";
		return -1;
	}
	if (n == 0 || n > QUEUE_RCPT_MAX) {
		*error_out = n == 0 ? "queue_enqueue: no recipients" : "queue_enqueue: too many recipients";
		return -1;
	}
	if (!addr_safe(mail_from, true)) {
		*error_out = "queue_enqueue: bad sender address";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (!addr_safe(rcpts[i], false)) {
			*error_out = "queue_enqueue: bad recipient address";
			return -1;
		}
	}
	r = snprintf(dir, sizeof(dir), "%s/queue", data_dir);
	if (r < 0 || (size_t)r >= sizeof(dir)) {
		*error_out = "queue path too long";
		return -1;
	}
	if (fstat(sp->fd, &sb) == -1 || store_mkdirs(dir) == -1) {
		*err_out = store_errno_class(errno);
		*error_out = store_tls_errorf("%s: %s", dir, strerror(errno));
		return -1;
	}

	if (want_id != NULL && !queue_id_valid(want_id, strlen(want_id))) {
		*error_out = "queue_enqueue: bad id";
		return -1;
	}
	for (tries = 0;; tries++) {
		make_id(id, &ts);
		if (want_id != NULL)
			snprintf(id, sizeof(id), "%s", want_id);
		snprintf(eml, sizeof(eml), "%s/%s.eml", dir, id);
		if (link(sp->path, eml) == 0)
			break;
		if (errno != EEXIST || want_id != NULL || tries + 1 == STORE_NAME_TRIES) {
			*err_out = store_errno_class(errno);
			*error_out = store_tls_errorf("link %s: %s", eml, strerror(errno));
			return -1;
		}
	}
	snprintf(env, sizeof(env), "%s/%s.env", dir, id);
	snprintf(tmp, sizeof(tmp), "%s/%s.env.tmp", dir, id);

	if (dsn != NULL && ((dsn->envid != NULL && !addr_safe(dsn->envid, false)) || !dsn_safe(dsn, n))) {
		*error_out = "queue_enqueue: bad DSN parameters";
		goto fail_quiet;
	}
	buf = env_build(mail_from, rcpts, n, dsn, (int64_t)ts.tv_sec, (uint64_t)sb.st_size, &len, error_out);
	if (buf == NULL)
		goto fail_quiet;
	if (write_env_tmp(tmp, buf, len) == -1)
		goto fail;
	if (rename(tmp, env) == -1)
		goto fail;
	tmp[0] = '\0';
	if (store_fsync_dir(dir) == -1)
		goto fail;
	free(buf);
	memcpy(id_out, id, sizeof(id));
	return 0;
fail:
	*err_out = store_errno_class(errno);
	*error_out = store_tls_errorf("queue %s: %s", id, strerror(errno));
fail_quiet:
	free(buf);
	if (tmp[0] != '\0')
		unlink(tmp);
	unlink(env);
	unlink(eml);
	return -1;
}
