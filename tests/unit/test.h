/* A tiny unit-test harness in the spirit of Dovecot's test-common.h.
 * Each test_begin/test_end pair prints "ok NAME" or "not ok NAME" (TAP
 * style); tests/run.sh counts those lines.  main() returns test_done(). */
#ifndef TERN_TEST_H
#define TERN_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *test_name_;
static bool test_ok_;
static int test_failures_;

static inline void test_begin(const char *name)
{
	test_name_ = name;
	test_ok_ = true;
}

#define test_assert(expr) do { \
	if (!(expr)) { \
		printf("# %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #expr); \
		test_ok_ = false; \
	} \
} while (0)

#define test_assert_streq(a, b) do { \
	const char *ta_ = (a), *tb_ = (b); \
	if (ta_ == NULL || tb_ == NULL || strcmp(ta_, tb_) != 0) { \
		printf("# %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
		       ta_ ? ta_ : "(null)", tb_ ? tb_ : "(null)"); \
		test_ok_ = false; \
	} \
} while (0)

#define test_assert_inteq(a, b) do { \
	long long ta_ = (long long)(a), tb_ = (long long)(b); \
	if (ta_ != tb_) { \
		printf("# %s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, ta_, tb_); \
		test_ok_ = false; \
	} \
} while (0)

static inline void test_end(void)
{
	printf("%s %s\n", test_ok_ ? "ok" : "not ok", test_name_);
	fflush(stdout);
	if (!test_ok_)
		test_failures_++;
}

/* For a test that also runs on PostgreSQL: the dsn of an empty database
 * (TERN_TEST_PG_DSN).  Without one, runs this test again under
 * tests/e2e/pgserver.py, which starts a throw-away PostgreSQL and sets it
 * (from the repository's top, as tests/run.sh runs): does not return,
 * unless that cannot start (then exits 1). */
static inline const char *test_pg_dsn(const char *argv0)
{
	const char *dsn = getenv("TERN_TEST_PG_DSN");

	if (dsn == NULL && getenv("TERN_TEST_PG_WRAPPED") == NULL) {
		fflush(stdout);
		execlp("python3", "python3", "tests/e2e/pgserver.py", "run", argv0, (char *)NULL);
		perror("python3 tests/e2e/pgserver.py");
		exit(1);
	}
	return dsn;
}

static inline int test_done(void)
{
	return test_failures_ == 0 ? 0 : 1;
}

#endif
