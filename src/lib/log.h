/* Logging: one line per event to stderr, "LEVEL component id key=value ...".
 * log_warn() appends strerror(errno); log_warnx() does not.  Never pass
 * secrets: traces mask AUTH data themselves. */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdnoreturn.h>

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
#define log_debug_enabled() (log_get_level() >= LOG_DEBUG)

/* A broken invariant: logs and aborts.  Never used for bad input. */
noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
