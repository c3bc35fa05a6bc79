/* Unit tests for src/lib/log.c: the line format on a terminal or file and
 * under journald (syslog priority prefix, no time). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "test.h"

static size_t __attribute__((format(printf, 6, 7)))
fmt(char *line, size_t size, enum log_level level, bool journal, const char *errstr, const char *f, ...)
{
	struct timespec ts = { .tv_sec = 1796601600, .tv_nsec = 123456789 };  /* 2026-12-07 */
	va_list ap;
	size_t n;

	va_start(ap, f);
	n = log_format(line, size, level, journal, &ts, errstr, f, ap);
	va_end(ap);
	return n;
}

static void
test_plain(void)
{
	char line[256];
	size_t n;

	test_begin("log: plain lines carry the UTC time and the level");
	n = fmt(line, sizeof(line), LOG_INFO, false, NULL, "smtp %s connected", "3f2a9c");
	test_assert_streq(line, "2026-12-07T00:00:00.123Z info smtp 3f2a9c connected\n");
	test_assert_inteq(n, strlen(line));
	fmt(line, sizeof(line), LOG_WARN, false, "No such file", "open %s", "x");
	test_assert_streq(line, "2026-12-07T00:00:00.123Z warn open x: No such file\n");
	test_end();
}

static void
test_journal(void)
{
	char line[256];

	test_begin("log: journald lines start with the syslog priority, no time");
	fmt(line, sizeof(line), LOG_ERROR, true, NULL, "listen %s", "smtp");
	test_assert_streq(line, "<3>error listen smtp\n");
	fmt(line, sizeof(line), LOG_WARN, true, "Permission denied", "x");
	test_assert_streq(line, "<4>warn x: Permission denied\n");
	fmt(line, sizeof(line), LOG_INFO, true, NULL, "imap 1 login");
	test_assert_streq(line, "<6>info imap 1 login\n");
	fmt(line, sizeof(line), LOG_DEBUG, true, NULL, "imap 1 C: a NOOP");
	test_assert_streq(line, "<7>debug imap 1 C: a NOOP\n");
	test_end();
}

static void
test_escape_and_cut(void)
{
	char line[32], big[64];
	size_t n;

	test_begin("log: control characters cannot forge a line; long lines are cut");
	fmt(big, sizeof(big), LOG_INFO, true, NULL, "a\nb\r%s", "<3>c");
	test_assert_streq(big, "<6>info a?b?<3>c\n");
	n = fmt(line, sizeof(line), LOG_INFO, true, NULL, "%s", "0123456789012345678901234567890123456789");
	test_assert_inteq(n, sizeof(line) - 1);
	test_assert_inteq(strlen(line), n);
	test_assert(line[n - 1] == '\n');
	test_assert(strncmp(line, "<6>info 0123", 12) == 0);
	n = fmt(line, sizeof(line), LOG_INFO, false, "e", "%s", "0123456789012345678901234567890123456789");
	test_assert_inteq(n, sizeof(line) - 1);
	test_assert(line[n - 1] == '\n');
	test_end();
}

static void
test_detect(void)
{
	char env[64];
	struct stat st;

	test_begin("log: JOURNAL_STREAM counts only if it names stderr");
	unsetenv("JOURNAL_STREAM");
	test_assert(!log_stderr_is_journal());
	setenv("JOURNAL_STREAM", "1:2", 1);
	test_assert(!log_stderr_is_journal());
	test_assert(fstat(STDERR_FILENO, &st) == 0);
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	test_assert(log_stderr_is_journal());
	setenv("JOURNAL_STREAM", "garbage", 1);
	test_assert(!log_stderr_is_journal());
	unsetenv("JOURNAL_STREAM");
	test_end();
}

int
main(void)
{
	test_plain();
	test_journal();
	test_escape_and_cut();
	test_detect();
	return test_done();
}
