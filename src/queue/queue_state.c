/* The delivery agent's progress and the admin's controls on an entry:
 * lines appended to <id>.env (format in queue_private.h), removal, the
 * <id>.hold marker, and requests to the running server in queue/ctl/. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue_private.h"
#include "store/store_private.h"

static int
entry_path(char *out, size_t size, const char *data_dir, const char *id, const char *suffix,
           const char **error_out)
{
	int r;

	if (!queue_id_valid(id, strlen(id))) {
		*error_out = "not a queue id";
		return -1;
	}
	r = snprintf(out, size, "%s/queue/%s%s", data_dir, id, suffix);
	if (r < 0 || (size_t)r >= size) {
		*error_out = "queue path too long";
		return -1;
	}
	return 0;
}

/* Appends one line with a single write(2), so that a reader sees it
 * whole or (after a crash in the middle) torn at the end, never mixed. */
static int __attribute__((format(printf, 4, 5)))
append_line(const char *data_dir, const char *id, const char **error_out, const char *fmt, ...)
{
	char path[PATH_MAX], line[QUEUE_REPLY_MAX + 128];
	va_list ap;
	int fd, n;
	ssize_t w;

	if (entry_path(path, sizeof(path), data_dir, id, ".env", error_out) == -1)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		*error_out = store_tls_errorf("%s: %s", path, strerror(errno));
		return -1;
	}
	do {
		w = write(fd, line, (size_t)n);
	} while (w == -1 && errno == EINTR);
	if (w != n) {
		*error_out = store_tls_errorf("%s: %s", path, w < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* A reply made safe for one line: control characters become spaces. */
static void
reply_line(const char *reply, char *out, size_t size)
{
	size_t i = 0;

	for (; reply != NULL && *reply != '\0' && i + 1 < size && i < QUEUE_REPLY_MAX; reply++)
		out[i++] = (unsigned char)*reply < 0x20 || *reply == 0x7f ? ' ' : *reply;
	out[i] = '\0';
}

int
queue_note_rcpt(const char *data_dir, const char *id, size_t rcpt, enum queue_rcpt_state st, bool deferred,
                int64_t when, const char *reply, const char **error_out)
{
	char text[QUEUE_REPLY_MAX + 1];
	const char *verb = deferred ? "deferred" : st == QUEUE_RCPT_DONE ? "done" : "failed";

	reply_line(reply, text, sizeof(text));
	return append_line(data_dir, id, error_out, "%s %zu %" PRId64 " %s", verb, rcpt, when, text);
}

int
queue_note_attempt(const char *data_dir, const char *id, int64_t when, int64_t next, const char **error_out)
{
	return append_line(data_dir, id, error_out, "attempt %" PRId64 " %" PRId64, when, next);
}

int
queue_note_warned(const char *data_dir, const char *id, int64_t when, const char **error_out)
{
	return append_line(data_dir, id, error_out, "warned %" PRId64, when);
}

static int
unlink_if_there(const char *path, const char **error_out)
{
	if (unlink(path) == -1 && errno != ENOENT) {
		*error_out = store_tls_errorf("%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
queue_remove(const char *data_dir, const char *id, const char **error_out)
{
	char path[PATH_MAX];

	/* The envelope first: without it the rest is a leftover that
	 * queue_cleanup removes, never an entry without its message. */
	if (entry_path(path, sizeof(path), data_dir, id, ".env", error_out) == -1 ||
	    unlink_if_there(path, error_out) == -1)
		return -1;
	if (entry_path(path, sizeof(path), data_dir, id, ".eml", error_out) == -1 ||
	    unlink_if_there(path, error_out) == -1)
		return -1;
	if (entry_path(path, sizeof(path), data_dir, id, ".hold", error_out) == -1 ||
	    unlink_if_there(path, error_out) == -1)
		return -1;
	return 0;
}

int
queue_hold(const char *data_dir, const char *id, bool hold, const char **error_out)
{
	char env[PATH_MAX], path[PATH_MAX];
	int fd;

	if (entry_path(env, sizeof(env), data_dir, id, ".env", error_out) == -1 ||
	    entry_path(path, sizeof(path), data_dir, id, ".hold", error_out) == -1)
		return -1;
	if (access(env, F_OK) == -1) {
		*error_out = errno == ENOENT ? "no such message in the queue" : strerror(errno);
		return -1;
	}
	if (!hold)
		return unlink_if_there(path, error_out);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		*error_out = store_tls_errorf("%s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

int
queue_request(const char *data_dir, const char *line, char *name_out, size_t name_size,
              const char **error_out)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 64], final[PATH_MAX + 64], rnd[17];
	size_t len = strlen(line);
	int fd, r;
	ssize_t w;

	if (len == 0 || len > 1024 || strchr(line, '\n') != NULL) {
		*error_out = "bad request";
		return -1;
	}
	r = snprintf(dir, sizeof(dir), "%s/queue/ctl", data_dir);
	if (r < 0 || (size_t)r >= sizeof(dir) || store_mkdirs(dir) == -1) {
		*error_out = store_tls_errorf("%s: %s", dir, strerror(errno));
		return -1;
	}
	store_random_hex(rnd, sizeof(rnd), 8);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, rnd);
	snprintf(final, sizeof(final), "%s/%s", dir, rnd);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		*error_out = store_tls_errorf("%s: %s", tmp, strerror(errno));
		return -1;
	}
	w = write(fd, line, len);
	close(fd);
	/* renamed whole, so the server never reads half a request */
	if (w != (ssize_t)len || rename(tmp, final) == -1) {
		*error_out = store_tls_errorf("%s: %s", final, strerror(errno));
		unlink(tmp);
		return -1;
	}
	snprintf(name_out, name_size, "%s", final);
	return 0;
}
