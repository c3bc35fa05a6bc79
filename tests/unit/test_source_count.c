/* Unit tests for src/lib/source_count.c: counting up and down per source,
 * the limit, IPv6 counted per /64, IPv4-mapped as IPv4, the bounded table,
 * and many threads taking and giving back slots at once. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include "lib/source_count.h"
#include "test.h"

static struct sockaddr_storage
addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, text, &sin6->sin6_addr);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		inet_pton(AF_INET, text, &sin->sin_addr);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void
test_counting(void)
{
	struct source_count *sc = source_count_new(100);
	struct sockaddr_storage a = addr("192.0.2.1"), b = addr("192.0.2.2");
	struct source_slot *slots[3], *s;
	unsigned n;

	test_begin("source_count: counts up to the limit, down on release, per address");
	for (int i = 0; i < 3; i++) {
		slots[i] = source_count_acquire(sc, SA(a), 3, &n);
		test_assert(slots[i] != NULL);
		test_assert_inteq(n, i + 1);
	}
	test_assert(source_count_acquire(sc, SA(a), 3, &n) == NULL);
	test_assert_inteq(n, 3);
	s = source_count_acquire(sc, SA(b), 3, &n);
	test_assert(s != NULL);
	test_assert_inteq(n, 1);
	test_assert_inteq(source_count_entries(sc), 2);
	source_count_release(sc, slots[0]);
	test_assert_inteq(source_count_get(sc, SA(a)), 2);
	slots[0] = source_count_acquire(sc, SA(a), 3, NULL);
	test_assert(slots[0] != NULL);
	for (int i = 0; i < 3; i++)
		source_count_release(sc, slots[i]);
	source_count_release(sc, s);
	test_assert_inteq(source_count_get(sc, SA(a)), 0);
	test_assert_inteq(source_count_entries(sc), 0);
	/* limit 0: none */
	for (int i = 0; i < 3; i++)
		slots[i] = source_count_acquire(sc, SA(a), 0, NULL);
	test_assert(slots[2] != NULL);
	test_assert_inteq(source_count_get(sc, SA(a)), 3);
	source_count_free(&sc);
	test_assert(sc == NULL);
	test_end();
}

static void
test_families(void)
{
	struct source_count *sc = source_count_new(100);
	struct sockaddr_storage v6a = addr("2001:db8:1:2::1"), v6b = addr("2001:db8:1:2:ffff::9"),
	                        v6c = addr("2001:db8:1:3::1"), v4 = addr("198.51.100.7"),
	                        mapped = addr("::ffff:198.51.100.7"), un;
	struct source_slot *s1, *s2, *s3, *s4, *s5;

	test_begin("source_count: IPv6 per /64, IPv4-mapped counts as IPv4, other families refused");
	s1 = source_count_acquire(sc, SA(v6a), 2, NULL);
	s2 = source_count_acquire(sc, SA(v6b), 2, NULL);
	test_assert(s1 != NULL && s2 != NULL);
	test_assert(source_count_acquire(sc, SA(v6a), 2, NULL) == NULL);
	s3 = source_count_acquire(sc, SA(v6c), 2, NULL);
	test_assert(s3 != NULL);
	s4 = source_count_acquire(sc, SA(v4), 2, NULL);
	s5 = source_count_acquire(sc, SA(mapped), 2, NULL);
	test_assert(s4 != NULL && s5 != NULL);
	test_assert(s4 == s5);
	test_assert(source_count_acquire(sc, SA(v4), 2, NULL) == NULL);
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	test_assert(source_count_acquire(sc, SA(un), 2, NULL) == NULL);
	test_assert_inteq(source_count_get(sc, SA(un)), 0);
	test_assert_inteq(source_count_entries(sc), 3);
	source_count_free(&sc);
	test_end();
}

static void
test_bounded(void)
{
	struct source_count *sc = source_count_new(50);
	struct source_slot *slots[60];
	char text[32];
	int got = 0;

	test_begin("source_count: at most max_entries sources; room again once they go");
	for (int i = 0; i < 60; i++) {
		struct sockaddr_storage ss;

		snprintf(text, sizeof(text), "10.0.%d.%d", i / 200, i % 200 + 1);
		ss = addr(text);
		slots[i] = source_count_acquire(sc, SA(ss), 10, NULL);
		got += slots[i] != NULL;
	}
	test_assert_inteq(got, 50);
	test_assert_inteq(source_count_entries(sc), 50);
	for (int i = 0; i < 60; i++)
		source_count_release(sc, slots[i]);   /* NULL is ignored */
	test_assert_inteq(source_count_entries(sc), 0);
	{
		struct sockaddr_storage ss = addr("10.9.9.9");

		slots[0] = source_count_acquire(sc, SA(ss), 10, NULL);
		test_assert(slots[0] != NULL);
		source_count_release(sc, slots[0]);
	}
	source_count_free(&sc);
	test_end();
}

#define THREADS 8
#define ROUNDS 20000

static struct source_count *shared;

static void *
hammer(void *arg)
{
	int id = (int)(long)arg;
	struct source_slot *held[4] = { NULL, NULL, NULL, NULL };
	char text[32];

	for (int r = 0; r < ROUNDS; r++) {
		struct sockaddr_storage ss;
		int k = r % 4;

		snprintf(text, sizeof(text), "203.0.113.%d", (r + id) % 5 + 1);
		ss = addr(text);
		source_count_release(shared, held[k]);
		held[k] = source_count_acquire(shared, SA(ss), 0, NULL);
	}
	for (int k = 0; k < 4; k++)
		source_count_release(shared, held[k]);
	return NULL;
}

static void
test_threads(void)
{
	pthread_t t[THREADS];

	test_begin("source_count: 8 threads taking and giving back slots end with an empty table");
	shared = source_count_new(1000);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, hammer, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	test_assert_inteq(source_count_entries(shared), 0);
	source_count_free(&shared);
	test_end();
}

int
main(void)
{
	test_counting();
	test_families();
	test_bounded();
	test_threads();
	return test_done();
}
