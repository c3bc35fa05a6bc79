/* Logging to stderr, one line per event, written with one write(2) so
 * lines from several threads never interleave. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

static void __attribute__((format(printf, 3, 0)))
log_vwrite(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000, level_names[level]);
	if (r > 0)
		n += (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r > 0)
		n = n + (size_t)r >= sizeof(line) ? sizeof(line) - 1 : n + (size_t)r;
	if (errstr != NULL) {
		r = snprintf(line + n, sizeof(line) - n, ": %s", errstr);
		if (r > 0)
			n = n + (size_t)r >= sizeof(line) ? sizeof(line) - 1 : n + (size_t)r;
	}
	/* Control characters from the network must not forge log lines. */
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
			line[i] = '?';
	}
	line[n++] = '\n';
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
