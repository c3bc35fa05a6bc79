/* Leftovers of the outbound queue (queue_enqueue.c says when a crash
 * leaves them): an <id>.env.tmp whose rename never happened, and an
 * <id>.eml without its <id>.env (the link was made, the envelope never
 * renamed; or a delivery agent removed the .env and died before the
 * .eml), and an <id>.hold without its <id>.env (queue_remove takes the
 * .hold last).  None is an entry (queue_list skips them), and nobody else
 * would ever remove them. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue/queue_private.h"
#include "store/store_maint.h"
#include "store/store_private.h"

/* The id of a leftover name, or 0: "<id>.env.tmp", or "<id>.eml" and
 * "<id>.hold" (*needs_env_out: a leftover only without <id>.env). */
static size_t
leftover_id(const char *name, bool *needs_env_out)
{
	size_t len = strlen(name);

	if (len > 8 && strcmp(name + len - 8, ".env.tmp") == 0 && queue_id_valid(name, len - 8)) {
		*needs_env_out = false;
		return len - 8;
	}
	if (len > 4 && strcmp(name + len - 4, ".eml") == 0 && queue_id_valid(name, len - 4)) {
		*needs_env_out = true;
		return len - 4;
	}
	if (len > 5 && strcmp(name + len - 5, ".hold") == 0 && queue_id_valid(name, len - 5)) {
		*needs_env_out = true;
		return len - 5;
	}
	return 0;
}

long
queue_cleanup(const char *data_dir, const struct timespec *changed_before, const char **error_out)
{
	struct dirent *de;
	long removed = 0;
	DIR *d;
	int r;

	if ((r = queue_dir_open(data_dir, &d, error_out)) <= 0)
		return r;
	while ((de = readdir(d)) != NULL) {
		char env[QUEUE_ID_MAX + 8];
		struct stat sb;
		bool needs_env;
		size_t idlen = leftover_id(de->d_name, &needs_env);

		if (idlen == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(sb.st_mode))
			continue;
		/* ctime: link(2) of the spool file sets it for an .eml whose
		 * data may be older; an enqueue running now is younger. */
		if (!store_changed_before(&sb, changed_before))
			continue;
		if (needs_env) {
			snprintf(env, sizeof(env), "%.*s.env", (int)idlen, de->d_name);
			if (fstatat(dirfd(d), env, &sb, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
				continue;      /* a complete entry (or cannot tell) */
		}
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}
