/* The POP3 in-use registry: one holder per user, released on demand,
 * and consistent under threads (several event loops log in at once). */
#include <pthread.h>
#include <stdio.h>

#include "pop3/pop3_lock.h"
#include "test.h"

#define THREADS 8
#define ROUNDS 2000

static int wins[THREADS];

static void *
contender(void *arg)
{
	int id = (int)(long)arg;
	char mine[64];

	snprintf(mine, sizeof(mine), "t%d@example.org", id);
	for (int i = 0; i < ROUNDS; i++) {
		/* Everyone fights for one user; each has one of its own. */
		if (pop3_lock_acquire("shared@example.org")) {
			wins[id]++;
			pop3_lock_release("shared@example.org");
		}
		if (!pop3_lock_acquire(mine))
			wins[id] = -1000000;
		pop3_lock_release(mine);
	}
	return NULL;
}

int
main(void)
{
	pthread_t th[THREADS];
	int total = 0;

	test_begin("pop3_lock: second acquire fails, release frees");
	test_assert(pop3_lock_acquire("bob@example.org"));
	test_assert(!pop3_lock_acquire("bob@example.org"));
	test_assert(pop3_lock_acquire("alice@example.org"));
	test_assert(pop3_lock_acquire("Bob@example.org"));   /* exact match: callers pass canonical names */
	test_assert_inteq(pop3_lock_count(), 3);
	pop3_lock_release("bob@example.org");
	test_assert(pop3_lock_acquire("bob@example.org"));
	pop3_lock_release("bob@example.org");
	pop3_lock_release("alice@example.org");
	pop3_lock_release("Bob@example.org");
	test_assert_inteq(pop3_lock_count(), 0);
	test_end();

	test_begin("pop3_lock: many users");
	for (int i = 0; i < 5000; i++) {
		char u[64];

		snprintf(u, sizeof(u), "u%d@example.org", i);
		test_assert(pop3_lock_acquire(u));
	}
	test_assert_inteq(pop3_lock_count(), 5000);
	for (int i = 0; i < 5000; i++) {
		char u[64];

		snprintf(u, sizeof(u), "u%d@example.org", i);
		test_assert(!pop3_lock_acquire(u));
		pop3_lock_release(u);
	}
	test_assert_inteq(pop3_lock_count(), 0);
	test_end();

	test_begin("pop3_lock: threads");
	for (long i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, contender, (void *)i);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		test_assert(wins[i] >= 0);
		total += wins[i];
	}
	test_assert(total > 0);
	test_assert_inteq(pop3_lock_count(), 0);
	test_end();
	return test_done();
}
