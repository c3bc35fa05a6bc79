/* Logging to stderr, one line per event, written with one write(2) so
 * lines from several threads never interleave. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"

#define LOG_LINE_MAX 2048

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level
log_get_level(void)
{
	return current_level;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

/* journald's stream protocol (sd-daemon.h): a line starting "<N>" gets
 * syslog priority N; journald stamps the time itself. */
static const char *const level_prio[] = { "<3>", "<4>", "<6>", "<7>" };

/* -1: not decided yet; 0: a file or terminal; 1: journald. */
static int journal_mode = -1;

bool
log_stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* systemd sets JOURNAL_STREAM=DEV:INODE of the stream it connected;
	 * a child whose stderr was redirected elsewhere inherits the
	 * variable, so the descriptor must still be that stream. */
	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_set_journal(bool journal)
{
	journal_mode = journal ? 1 : 0;
}

size_t
log_format(char *line, size_t size, enum log_level level, bool journal, const struct timespec *ts,
           const char *errstr, const char *fmt, va_list ap)
{
	struct tm tm;
	size_t n = 0;
	int r;

	if (size < 2)
		return 0;
	if (journal) {
		r = snprintf(line, size - 1, "%s%s ", level_prio[level], level_names[level]);
	} else {
		gmtime_r(&ts->tv_sec, &tm);
		n = strftime(line, size - 1, "%Y-%m-%dT%H:%M:%S", &tm);
		r = snprintf(line + n, size - 1 - n, ".%03ldZ %s ", ts->tv_nsec / 1000000, level_names[level]);
	}
	if (r > 0)
		n = n + (size_t)r >= size - 1 ? size - 2 : n + (size_t)r;
	r = vsnprintf(line + n, size - 1 - n, fmt, ap);
	if (r > 0)
		n = n + (size_t)r >= size - 1 ? size - 2 : n + (size_t)r;
	if (errstr != NULL) {
		r = snprintf(line + n, size - 1 - n, ": %s", errstr);
		if (r > 0)
			n = n + (size_t)r >= size - 1 ? size - 2 : n + (size_t)r;
	}
	/* Control characters from the network must not forge log lines. */
	for (size_t i = journal ? 3 : 0; i < n; i++) {
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			line[i] = '?';
	}
	line[n++] = '\n';
	line[n] = '\0';
	return n;
}

static void __attribute__((format(printf, 3, 0)))
log_vwrite(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	size_t n;

	/* Decided once, before any thread but main logs; a race would
	 * only compute the same answer twice. */
	if (journal_mode < 0)
		journal_mode = log_stderr_is_journal() ? 1 : 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	n = log_format(line, sizeof(line), level, journal_mode == 1, &ts, errstr, fmt, ap);
	(void)!write(STDERR_FILENO, line, n);
}

#define LOG_FN(name, level, with_errno) \
	void name(const char *fmt, ...) \
	{ \
		int saved = errno; \
		va_list ap; \
		if (current_level < level) \
			return; \
		va_start(ap, fmt); \
		log_vwrite(level, with_errno ? strerror(saved) : NULL, fmt, ap); \
		va_end(ap); \
		errno = saved; \
	}

LOG_FN(log_error, LOG_ERROR, 0)
LOG_FN(log_warn, LOG_WARN, 1)
LOG_FN(log_warnx, LOG_WARN, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_debug, LOG_DEBUG, 0)

void
panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERROR, NULL, fmt, ap);
	va_end(ap);
	abort();
}
