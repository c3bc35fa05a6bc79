/* Logging: one line per event to stderr, "LEVEL component id key=value ...".
 * log_warn() appends strerror(errno); log_warnx() does not.  Never pass
 * secrets: traces mask AUTH data themselves. */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdnoreturn.h>
#include <time.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int log_level_parse(const char *s, enum log_level *out);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True if stderr is the journald stream systemd connected (JOURNAL_STREAM
 * names its device and inode).  The logger asks this itself at the first
 * line; log_set_journal() overrides it. */
bool log_stderr_is_journal(void);
void log_set_journal(bool journal);

/* Formats one log line into line (size bytes, at least 2): with journal,
 * "<P>LEVEL message" where P is the syslog priority (error 3, warn 4,
 * info 6, debug 7) and no time, as journald adds it; else
 * "YYYY-MM-DDTHH:MM:SS.mmmZ LEVEL message".  errstr, if not NULL, is
 * appended after ": ".  Control characters become '?'.  Cut to fit, always
 * ends in '\n' and NUL; returns the length without the NUL. */
size_t log_format(char *line, size_t size, enum log_level level, bool journal, const struct timespec *ts,
                  const char *errstr, const char *fmt, va_list ap) __attribute__((format(printf, 7, 0)));
#define log_debug_enabled() (log_get_level() >= LOG_DEBUG)

/* A broken invariant: logs and aborts.  Never used for bad input. */
noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
