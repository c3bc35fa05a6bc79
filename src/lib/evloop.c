/* Event loops on epoll, one-shot timers in a binary heap, and a shared pool
 * of worker threads for blocking jobs whose completions come back to the
 * loop that submitted them through an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "lib/evloop.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define EVLOOP_MAX_EVENTS 256

struct fd_reg {
	evloop_io_fn *fn;
	void *arg;
};

struct evloop_timer {
	uint64_t deadline;
	evloop_timer_fn *fn;
	void *arg;
	size_t index;            /* position in the heap */
};

/* A job for the worker pool, or a plain post (work == NULL). */
struct job {
	struct job *next;
	struct evloop *loop;
	evloop_work_fn *work;
	evloop_done_fn *done;
	void *arg;
};

struct evloop {
	int epfd;
	int wakefd;              /* eventfd: completions, posts, stop */
	volatile int stop;
	uint64_t now;

	struct fd_reg *regs;     /* indexed by fd */
	size_t nregs;

	struct evloop_timer **heap;
	size_t nheap, capheap;

	pthread_mutex_t lock;    /* guards done_head/done_tail */
	struct job *done_head, *done_tail;
};

static uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
wake(struct evloop *loop)
{
	uint64_t one = 1;

	(void)!write(loop->wakefd, &one, sizeof(one));
}

static void
on_wake(void *arg, uint32_t events)
{
	struct evloop *loop = arg;
	struct job *list, *next;
	uint64_t n;

	(void)!read(loop->wakefd, &n, sizeof(n));
	pthread_mutex_lock(&loop->lock);
	list = loop->done_head;
	loop->done_head = loop->done_tail = NULL;
	pthread_mutex_unlock(&loop->lock);
	for (; list != NULL; list = next) {
		next = list->next;
		list->done(list->arg);
		free(list);
	}
}

struct evloop *
evloop_new(void)
{
	struct evloop *loop = xcalloc(1, sizeof(*loop));

	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd == -1 || loop->wakefd == -1)
		panic("evloop: epoll/eventfd: %s", strerror(errno));
	pthread_mutex_init(&loop->lock, NULL);
	loop->now = clock_ms();
	if (evloop_add(loop, loop->wakefd, EPOLLIN, on_wake, loop) == -1)
		panic("evloop: cannot watch eventfd: %s", strerror(errno));
	return loop;
}

void
evloop_free(struct evloop **lp)
{
	struct evloop *loop = *lp;

	if (loop == NULL)
		return;
	close(loop->epfd);
	close(loop->wakefd);
	for (size_t i = 0; i < loop->nheap; i++)
		free(loop->heap[i]);
	free(loop->heap);
	free(loop->regs);
	while (loop->done_head != NULL) {
		struct job *j = loop->done_head;

		loop->done_head = j->next;
		free(j);
	}
	pthread_mutex_destroy(&loop->lock);
	free(loop);
	*lp = NULL;
}

static void
reg_set(struct evloop *loop, int fd, evloop_io_fn *fn, void *arg)
{
	if ((size_t)fd >= loop->nregs) {
		size_t n = loop->nregs == 0 ? 64 : loop->nregs;

		while (n <= (size_t)fd)
			n *= 2;
		loop->regs = xrealloc(loop->regs, n * sizeof(*loop->regs));
		memset(loop->regs + loop->nregs, 0, (n - loop->nregs) * sizeof(*loop->regs));
		loop->nregs = n;
	}
	loop->regs[fd].fn = fn;
	loop->regs[fd].arg = arg;
}

int
evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_io_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) == -1)
		return -1;
	reg_set(loop, fd, fn, arg);
	return 0;
}

int
evloop_mod(struct evloop *loop, int fd, uint32_t events, evloop_io_fn *fn, void *arg)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) == -1)
		return -1;
	reg_set(loop, fd, fn, arg);
	return 0;
}

void
evloop_del(struct evloop *loop, int fd)
{
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	if ((size_t)fd < loop->nregs) {
		loop->regs[fd].fn = NULL;
		loop->regs[fd].arg = NULL;
	}
}

/* Timer heap. */

static void
heap_swap(struct evloop *loop, size_t a, size_t b)
{
	struct evloop_timer *t = loop->heap[a];

	loop->heap[a] = loop->heap[b];
	loop->heap[b] = t;
	loop->heap[a]->index = a;
	loop->heap[b]->index = b;
}

static void
heap_up(struct evloop *loop, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (loop->heap[parent]->deadline <= loop->heap[i]->deadline)
			break;
		heap_swap(loop, i, parent);
		i = parent;
	}
}

static void
heap_down(struct evloop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < loop->nheap && loop->heap[l]->deadline < loop->heap[m]->deadline)
			m = l;
		if (r < loop->nheap && loop->heap[r]->deadline < loop->heap[m]->deadline)
			m = r;
		if (m == i)
			break;
		heap_swap(loop, i, m);
		i = m;
	}
}

static void
heap_remove(struct evloop *loop, size_t i)
{
	size_t last = --loop->nheap;

	if (i != last) {
		heap_swap(loop, i, last);
		heap_down(loop, i);
		heap_up(loop, i);
	}
}

struct evloop_timer *
evloop_timer_add(struct evloop *loop, uint64_t ms, evloop_timer_fn *fn, void *arg)
{
	struct evloop_timer *t = xmalloc(sizeof(*t));

	t->deadline = clock_ms() + ms;
	t->fn = fn;
	t->arg = arg;
	if (loop->nheap == loop->capheap) {
		loop->capheap = loop->capheap == 0 ? 64 : loop->capheap * 2;
		loop->heap = xrealloc(loop->heap, loop->capheap * sizeof(*loop->heap));
	}
	t->index = loop->nheap;
	loop->heap[loop->nheap++] = t;
	heap_up(loop, t->index);
	return t;
}

void
evloop_timer_cancel(struct evloop *loop, struct evloop_timer **tp)
{
	struct evloop_timer *t = *tp;

	if (t == NULL)
		return;
	heap_remove(loop, t->index);
	free(t);
	*tp = NULL;
}

static void
run_timers(struct evloop *loop)
{
	while (loop->nheap > 0 && loop->heap[0]->deadline <= loop->now) {
		struct evloop_timer *t = loop->heap[0];

		heap_remove(loop, 0);
		t->fn(t->arg);
		free(t);
	}
}

uint64_t
evloop_now_ms(struct evloop *loop)
{
	return loop->now;
}

int
evloop_run(struct evloop *loop)
{
	struct epoll_event events[EVLOOP_MAX_EVENTS];

	while (!loop->stop) {
		int timeout = -1, n;

		loop->now = clock_ms();
		if (loop->nheap > 0) {
			uint64_t d = loop->heap[0]->deadline;

			timeout = d <= loop->now ? 0 : (int)(d - loop->now > 60000 ? 60000 : d - loop->now);
		}
		n = epoll_wait(loop->epfd, events, EVLOOP_MAX_EVENTS, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			panic("epoll_wait: %s", strerror(errno));
		}
		loop->now = clock_ms();
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if ((size_t)fd < loop->nregs && loop->regs[fd].fn != NULL)
				loop->regs[fd].fn(loop->regs[fd].arg, events[i].events);
		}
		run_timers(loop);
	}
	/* Posts and completions queued before the stop still run. */
	on_wake(loop, 0);
	loop->stop = 0;     /* the loop can be run again */
	return 0;
}

void
evloop_stop(struct evloop *loop)
{
	loop->stop = 1;
	wake(loop);
}

static void
complete(struct job *j)
{
	struct evloop *loop = j->loop;

	j->next = NULL;
	pthread_mutex_lock(&loop->lock);
	if (loop->done_tail != NULL)
		loop->done_tail->next = j;
	else
		loop->done_head = j;
	loop->done_tail = j;
	pthread_mutex_unlock(&loop->lock);
	wake(loop);
}

void
evloop_post(struct evloop *loop, evloop_done_fn *fn, void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->loop = loop;
	j->done = fn;
	j->arg = arg;
	complete(j);
}

/* The worker pool. */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	pthread_t *threads;
	unsigned nthreads;
	int stopping;
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, NULL, 0, 0 };

static void *
worker_main(void *unused)
{
	for (;;) {
		struct job *j;

		pthread_mutex_lock(&pool.lock);
		while (pool.head == NULL && !pool.stopping)
			pthread_cond_wait(&pool.cond, &pool.lock);
		if (pool.head == NULL) {
			pthread_mutex_unlock(&pool.lock);
			return NULL;
		}
		j = pool.head;
		pool.head = j->next;
		if (pool.head == NULL)
			pool.tail = NULL;
		pthread_mutex_unlock(&pool.lock);

		j->work(j->arg);
		complete(j);
	}
}

void
evloop_workers_start(unsigned threads)
{
	if (pool.nthreads > 0)
		return;
	pool.stopping = 0;
	pool.threads = xcalloc(threads, sizeof(*pool.threads));
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&pool.threads[i], NULL, worker_main, NULL) != 0)
			panic("cannot start worker thread");
	}
	pool.nthreads = threads;
}

void
evloop_workers_stop(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.stopping = 1;
	pthread_cond_broadcast(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
	for (unsigned i = 0; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	free(pool.threads);
	pool.threads = NULL;
	pool.nthreads = 0;
}

void
evloop_defer(struct evloop *loop, evloop_work_fn *work, evloop_done_fn *done, void *arg)
{
	struct job *j = xcalloc(1, sizeof(*j));

	j->loop = loop;
	j->work = work;
	j->done = done;
	j->arg = arg;
	if (pool.nthreads == 0) {
		/* No pool (tools, tests): run inline, complete on the loop. */
		work(arg);
		complete(j);
		return;
	}
	pthread_mutex_lock(&pool.lock);
	if (pool.tail != NULL)
		pool.tail->next = j;
	else
		pool.head = j;
	pool.tail = j;
	pthread_cond_signal(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
}
