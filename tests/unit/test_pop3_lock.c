/* The POP3 in-use registry: one holder per user; a newer claim takes the
 * mailbox over (the old one is kicked on its loop and can no longer enter
 * UPDATE) except while the holder is in UPDATE; consistent under threads
 * (several event loops log in at once). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "lib/evloop.h"
#include "pop3/pop3_lock.h"
#include "test.h"

#define THREADS 8
#define ROUNDS 2000

static int kicks[4];

static void
kicked(void *arg)
{
	kicks[(int)(long)arg]++;
}

static void
stop_loop(void *arg)
{
	evloop_stop(arg);
}

/* Runs what was posted to loop so far, then returns. */
static void
drain(struct evloop *loop)
{
	evloop_post(loop, stop_loop, loop);
	evloop_run(loop);
}

static atomic_int updating, overlaps, own_lost;
static int wins[THREADS];

static void *
contender(void *arg)
{
	int id = (int)(long)arg;
	char mine[64];

	snprintf(mine, sizeof(mine), "t%d@example.org", id);
	for (int i = 0; i < ROUNDS; i++) {
		/* Everyone logs in to one user, taking it over from the others;
		 * the one that reaches UPDATE is alone there. */
		struct pop3_lock *l = pop3_lock_acquire("shared@example.org", NULL, NULL, NULL, NULL), *m;

		if (l != NULL && pop3_lock_update(l)) {
			if (atomic_fetch_add(&updating, 1) != 0)
				atomic_fetch_add(&overlaps, 1);
			wins[id]++;
			atomic_fetch_sub(&updating, 1);
		}
		pop3_lock_release(&l);
		/* A user of one's own is never taken from us. */
		m = pop3_lock_acquire(mine, NULL, NULL, NULL, NULL);
		if (m == NULL || !pop3_lock_held(m))
			atomic_fetch_add(&own_lost, 1);
		pop3_lock_release(&m);
	}
	return NULL;
}

int
main(void)
{
	struct evloop *loop_a = evloop_new(), *loop_b = evloop_new();
	struct pop3_lock *a, *b, *c, *d;
	pthread_t th[THREADS];
	bool took;
	int total = 0;

	test_begin("pop3_lock: a newer login takes over, the older one is kicked on its loop");
	a = pop3_lock_acquire("bob@example.org", loop_a, kicked, (void *)1L, &took);
	test_assert(a != NULL && !took && pop3_lock_held(a));
	b = pop3_lock_acquire("bob@example.org", loop_b, kicked, (void *)2L, &took);
	test_assert(b != NULL && took);
	test_assert(!pop3_lock_held(a) && pop3_lock_held(b));
	test_assert_inteq(pop3_lock_count(), 1);
	drain(loop_b);
	test_assert_inteq(kicks[1], 0);             /* posted to a's loop, not b's */
	drain(loop_a);
	test_assert_inteq(kicks[1], 1);
	test_assert_inteq(kicks[2], 0);
	/* The older session's QUIT must delete nothing. */
	test_assert(!pop3_lock_update(a));
	pop3_lock_release(&a);
	test_assert(a == NULL);
	test_assert(pop3_lock_held(b));             /* releasing the old claim leaves the new one */
	test_assert_inteq(pop3_lock_count(), 1);
	test_end();

	test_begin("pop3_lock: exact names; no takeover while the holder is in UPDATE");
	c = pop3_lock_acquire("Bob@example.org", NULL, NULL, NULL, &took);   /* callers pass canonical names */
	test_assert(c != NULL && !took && pop3_lock_held(b));
	test_assert_inteq(pop3_lock_count(), 2);
	test_assert(pop3_lock_update(b));
	d = pop3_lock_acquire("bob@example.org", loop_a, kicked, (void *)3L, &took);
	test_assert(d == NULL && !took);           /* [IN-USE] */
	test_assert(pop3_lock_held(b));
	pop3_lock_release(&b);
	test_assert_inteq(pop3_lock_count(), 1);
	d = pop3_lock_acquire("bob@example.org", loop_a, kicked, (void *)3L, &took);
	test_assert(d != NULL && !took && pop3_lock_held(d));
	pop3_lock_release(&d);
	pop3_lock_release(&c);
	pop3_lock_release(&c);                     /* NULL is accepted */
	drain(loop_a);
	test_assert_inteq(kicks[3], 0);
	test_assert_inteq(pop3_lock_count(), 0);
	test_end();

	test_begin("pop3_lock: a claim released before its kick runs is not kicked");
	a = pop3_lock_acquire("carol@example.org", loop_a, kicked, (void *)1L, NULL);
	b = pop3_lock_acquire("carol@example.org", loop_b, kicked, (void *)2L, &took);
	test_assert(took);
	pop3_lock_release(&a);                     /* the session ends before the kick runs */
	drain(loop_a);
	test_assert_inteq(kicks[1], 1);            /* still the one from the first case */
	/* A takeover of a claim without a loop posts nothing. */
	c = pop3_lock_acquire("carol@example.org", NULL, NULL, NULL, &took);
	test_assert(took && !pop3_lock_held(b));
	d = pop3_lock_acquire("carol@example.org", NULL, NULL, NULL, &took);
	test_assert(took && !pop3_lock_held(c) && pop3_lock_held(d));
	drain(loop_b);
	test_assert_inteq(kicks[2], 1);
	pop3_lock_release(&b);
	pop3_lock_release(&c);
	test_assert_inteq(pop3_lock_count(), 1);
	pop3_lock_release(&d);
	test_assert_inteq(pop3_lock_count(), 0);
	test_end();

	test_begin("pop3_lock: many users");
	{
		static struct pop3_lock *ls[5000];

		for (int i = 0; i < 5000; i++) {
			char u[64];

			snprintf(u, sizeof(u), "u%d@example.org", i);
			ls[i] = pop3_lock_acquire(u, NULL, NULL, NULL, &took);
			test_assert(ls[i] != NULL && !took);
		}
		test_assert_inteq(pop3_lock_count(), 5000);
		for (int i = 0; i < 5000; i++) {
			char u[64];
			struct pop3_lock *n;

			snprintf(u, sizeof(u), "u%d@example.org", i);
			n = pop3_lock_acquire(u, NULL, NULL, NULL, &took);
			test_assert(n != NULL && took && !pop3_lock_held(ls[i]));
			pop3_lock_release(&ls[i]);
			pop3_lock_release(&n);
		}
		test_assert_inteq(pop3_lock_count(), 0);
	}
	test_end();

	test_begin("pop3_lock: threads: at most one session in UPDATE per mailbox");
	for (long i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, contender, (void *)i);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		total += wins[i];
	}
	test_assert(total > 0);
	test_assert_inteq(atomic_load(&overlaps), 0);
	test_assert_inteq(atomic_load(&own_lost), 0);
	test_assert_inteq(pop3_lock_count(), 0);
	test_end();

	evloop_free(&loop_a);
	evloop_free(&loop_b);
	return test_done();
}
