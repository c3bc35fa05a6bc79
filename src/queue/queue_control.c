/* The delivery agent's controls (see queue_runner.h): what it learns
 * through inotify on data_dir/queue and data_dir/queue/ctl.
 *
 * A new <id>.env (renamed into place by the SMTP side) loads an entry; a
 * removed one (`tern queue delete` without a bounce) drops it; <id>.hold
 * created or removed holds or releases it.  `tern queue flush|retry|
 * delete` write one request line to a file renamed into queue/ctl/, read
 * here and removed: "flush all", "flush id ID", "flush domain D",
 * "bounce ID".  When inotify's queue overflows, everything is read
 * again.  All of it runs on the runner's loop. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "lib/evloop.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "queue/queue_private.h"
#include "queue/queue_runner_private.h"
#include "store/store_private.h"

static int inotify_fd = -1;
static int wd_queue = -1, wd_ctl = -1;
static char ctl_dir[PATH_MAX + 16];

static bool
id_of(const char *name, const char *suffix, char id[QUEUE_ID_MAX + 1])
{
	size_t len = strlen(name), sl = strlen(suffix);

	if (len <= sl || strcmp(name + len - sl, suffix) != 0 || len - sl > QUEUE_ID_MAX ||
	    !queue_id_valid(name, len - sl))
		return false;
	memcpy(id, name, len - sl);
	id[len - sl] = '\0';
	return true;
}

static void
flush_entry(struct qentry *e)
{
	if (!e->held && e->jobs == 0 && !e->deleted)
		qrunner_schedule(e, 0);
}

static bool
entry_has_domain(const struct qentry *e, const char *domain)
{
	for (size_t i = 0; i < e->n_rcpts; i++) {
		if (e->state[i] == QUEUE_RCPT_PENDING && strcasecmp(qrunner_rcpt_domain(e->rcpts[i]), domain) == 0)
			return true;
	}
	return false;
}

static void
do_request(const char *line)
{
	struct qentry *e;

	log_info("queue request: %s", line);
	if (strcmp(line, "flush all") == 0) {
		qdest_forget_all();
		qrunner_load_dkim_keys();
		for (e = qrunner_entries(); e != NULL; e = e->next)
			flush_entry(e);
	} else if (strncmp(line, "flush id ", 9) == 0) {
		if ((e = qrunner_entry_find(line + 9)) != NULL) {
			qdest_forget_all();
			flush_entry(e);
		}
	} else if (strncmp(line, "flush domain ", 13) == 0) {
		qdest_forget_all();
		for (e = qrunner_entries(); e != NULL; e = e->next) {
			if (entry_has_domain(e, line + 13))
				flush_entry(e);
		}
	} else if (strncmp(line, "bounce ", 7) == 0) {
		if ((e = qrunner_entry_find(line + 7)) != NULL) {
			e->bounce = true;
			if (e->jobs == 0) {
				qrunner_unschedule(e);
				qrunner_attempt_end(e);
			}
		}
	} else {
		log_warnx("queue request not understood: %s", line);
	}
}

static void
read_request(const char *name)
{
	char path[PATH_MAX + 256], line[1100];
	ssize_t n;
	int fd;

	if (name[0] == '.')
		return;
	snprintf(path, sizeof(path), "%s/%s", ctl_dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	unlink(path);
	if (n <= 0)
		return;
	line[n] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	do_request(line);
}

static void
read_all_requests(void)
{
	DIR *d = opendir(ctl_dir);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		read_request(de->d_name);
	closedir(d);
}

static void
on_event(const struct inotify_event *ev)
{
	char id[QUEUE_ID_MAX + 1];
	struct qentry *e;

	if (ev->mask & IN_Q_OVERFLOW) {
		/* events were lost: look at everything again */
		const char *error;

		if (queue_list(qr.cfg->data_dir, qrunner_entry_loaded, NULL, &error) == -1)
			log_warnx("queue: %s", error);
		read_all_requests();
		return;
	}
	if (ev->len == 0)
		return;
	if (ev->wd == wd_ctl) {
		if (ev->mask & IN_MOVED_TO)
			read_request(ev->name);
		return;
	}
	if (id_of(ev->name, ".env", id)) {
		if (ev->mask & IN_MOVED_TO)
			qrunner_entry_load(id);
		else if ((ev->mask & IN_DELETE) && (e = qrunner_entry_find(id)) != NULL) {
			if (e->jobs > 0) {
				e->deleted = true;
			} else {
				log_info("queue %s deleted", id);
				qrunner_entry_free(e);
			}
		}
	} else if (id_of(ev->name, ".hold", id) && (e = qrunner_entry_find(id)) != NULL) {
		if (ev->mask & IN_CREATE) {
			e->held = true;
			qrunner_unschedule(e);
			log_info("queue %s held", id);
		} else if (ev->mask & IN_DELETE) {
			e->held = false;
			log_info("queue %s released", id);
			flush_entry(e);
		}
	}
}

static void
on_inotify(void *arg, uint32_t events)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			on_event(ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

int
qcontrol_start(const char *queue_dir, char **error_out)
{
	snprintf(ctl_dir, sizeof(ctl_dir), "%s/ctl", queue_dir);
	if (store_mkdirs(ctl_dir) == -1) {
		*error_out = xasprintf("%s: %s", ctl_dir, strerror(errno));
		return -1;
	}
	inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (inotify_fd == -1 ||
	    (wd_queue = inotify_add_watch(inotify_fd, queue_dir, IN_MOVED_TO | IN_CREATE | IN_DELETE)) == -1 ||
	    (wd_ctl = inotify_add_watch(inotify_fd, ctl_dir, IN_MOVED_TO)) == -1 ||
	    evloop_add(qr.loop, inotify_fd, EPOLLIN, on_inotify, NULL) == -1) {
		*error_out = xasprintf("inotify on %s: %s", queue_dir, strerror(errno));
		if (inotify_fd != -1)
			close(inotify_fd);
		inotify_fd = -1;
		return -1;
	}
	return 0;
}

void
qcontrol_read_pending(void)
{
	read_all_requests();
}

void
qcontrol_stop(void)
{
	if (inotify_fd == -1)
		return;
	evloop_del(qr.loop, inotify_fd);
	close(inotify_fd);
	inotify_fd = -1;
}
