/* Listing the outbound queue, oldest first.  An entry counts only when its
 * <id>.env exists (written last, by rename) and its <id>.eml too; .tmp
 * files and lone .eml files are the leftovers of an enqueue that did not
 * finish, and are skipped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "queue/queue_private.h"
#include "store/store_private.h"

typedef char queue_id[QUEUE_ID_MAX + 1];

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The ids of every <id>.env in dir, sorted (ids sort by arrival). */
static int
collect_ids(DIR *d, queue_id **ids_out, size_t *n_out, const char **error_out)
{
	queue_id *ids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len <= 4 || strcmp(de->d_name + len - 4, ".env") != 0)
			continue;
		len -= 4;
		if (!queue_id_valid(de->d_name, len))
			continue;
		if (n == QUEUE_LIST_MAX) {
			log_warnx("queue listing stopped at %d entries", QUEUE_LIST_MAX);
			break;
		}
		if (n == cap) {
			size_t ncap = cap == 0 ? 64 : cap * 2;
			queue_id *nids = reallocarray(ids, ncap, sizeof(*ids));

			if (nids == NULL) {
				free(ids);
				*error_out = "out of memory";
				return -1;
			}
			ids = nids;
			cap = ncap;
		}
		memcpy(ids[n], de->d_name, len);
		ids[n][len] = '\0';
		n++;
	}
	if (n > 0)
		qsort(ids, n, sizeof(*ids), cmp_id);
	*ids_out = ids;
	*n_out = n;
	return 0;
}

/* Reads <id>.env whole into a malloc'd buffer (bounded by QUEUE_ENV_MAX).
 * Returns the buffer or NULL (*why set, or NULL if the entry just went). */
static char *
read_env(int dfd, const char *id, size_t *len_out, const char **why)
{
	char name[QUEUE_ID_MAX + 8];
	struct stat sb;
	size_t len = 0;
	char *buf = NULL;
	int fd;

	*why = NULL;
	snprintf(name, sizeof(name), "%s.env", id);
	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		if (errno != ENOENT)
			*why = strerror(errno);
		return NULL;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		*why = "not a regular file";
		goto fail;
	}
	if (sb.st_size > QUEUE_ENV_MAX) {
		*why = "envelope too large";
		goto fail;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		*why = "out of memory";
		goto fail;
	}
	/* Read at most the bound, even if the file grew since fstat. */
	while (len <= (size_t)sb.st_size) {
		ssize_t r = read(fd, buf + len, (size_t)sb.st_size + 1 - len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			*why = strerror(errno);
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > (size_t)sb.st_size) {
		*why = "envelope changed while read";
		goto fail;
	}
	close(fd);
	*len_out = len;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

/* Returns 1 if fn was called, 0 if the entry is missing or unreadable. */
static int
list_one(int dfd, const char *id, void (*fn)(const struct queue_entry *e, void *arg), void *arg)
{
	char eml[QUEUE_ID_MAX + 8];
	struct queue_env env;
	struct queue_entry e;
	struct stat sb;
	const char *why;
	size_t len;
	char *buf;

	snprintf(eml, sizeof(eml), "%s.eml", id);
	if (fstatat(dfd, eml, &sb, AT_SYMLINK_NOFOLLOW) == -1) {
		log_warnx("queue %s skipped: message file: %s", id, strerror(errno));
		return 0;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_warnx("queue %s skipped: message file is not a regular file", id);
		return 0;
	}
	if ((buf = read_env(dfd, id, &len, &why)) == NULL) {
		if (why != NULL)
			log_warnx("queue %s skipped: %s", id, why);
		return 0;
	}
	if (queue_env_parse(buf, len, &env, &why) == -1) {
		log_warnx("queue %s skipped: %s", id, why);
		free(buf);
		return 0;
	}
	memset(&e, 0, sizeof(e));
	memcpy(e.id, id, sizeof(e.id));
	e.mail_from = env.mail_from;
	e.rcpts = env.rcpts;
	e.n_rcpts = env.n_rcpts;
	e.size = env.size;
	e.queued_at = env.queued_at;
	e.rcpt_state = env.rcpt_state;
	e.rcpt_reply = env.rcpt_reply;
	e.attempts = env.attempts;
	e.last_attempt = env.last_attempt;
	e.next_attempt = env.next_attempt;
	e.warned_at = env.warned_at;
	e.ret = env.ret;
	e.envid = env.envid;
	e.rcpt_notify = env.rcpt_notify;
	e.rcpt_orcpt = env.rcpt_orcpt;
	snprintf(eml, sizeof(eml), "%s.hold", id);
	e.held = faccessat(dfd, eml, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
	fn(&e, arg);
	queue_env_free(&env);
	free(buf);
	return 1;
}

int
queue_get(const char *data_dir, const char *id, void (*fn)(const struct queue_entry *e, void *arg), void *arg,
          const char **error_out)
{
	DIR *d;
	int r;

	if (!queue_id_valid(id, strlen(id)))
		return 0;
	if ((r = queue_dir_open(data_dir, &d, error_out)) <= 0)
		return r;
	r = list_one(dirfd(d), id, fn, arg);
	closedir(d);
	return r;
}

int
queue_dir_open(const char *data_dir, DIR **d_out, const char **error_out)
{
	char dir[PATH_MAX];
	int r;

	r = snprintf(dir, sizeof(dir), "%s/queue", data_dir);
	if (r < 0 || (size_t)r >= sizeof(dir)) {
		*error_out = "queue path too long";
		return -1;
	}
	if ((*d_out = opendir(dir)) == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_out = store_tls_errorf("opendir %s: %s", dir, strerror(errno));
		return -1;
	}
	return 1;
}

int
queue_list(const char *data_dir, void (*fn)(const struct queue_entry *e, void *arg), void *arg,
           const char **error_out)
{
	queue_id *ids = NULL;
	size_t n = 0;
	DIR *d;
	int r;

	if ((r = queue_dir_open(data_dir, &d, error_out)) <= 0)
		return r;
	if (collect_ids(d, &ids, &n, error_out) == -1) {
		closedir(d);
		return -1;
	}
	/* Strings handed to fn live until it returns; fn may remove the
	 * entry it is given. */
	for (size_t i = 0; i < n; i++)
		list_one(dirfd(d), ids[i], fn, arg);
	free(ids);
	closedir(d);
	return 0;
}
