/* Event loops: one per core, each on its own thread, built on epoll.
 * A loop runs fd callbacks, one-shot timers, and the completions of
 * blocking jobs that were handed to the shared worker pool. */
#ifndef TERN_EVLOOP_H
#define TERN_EVLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct evloop;
struct evloop_timer;

typedef void evloop_io_fn(void *arg, uint32_t events);
typedef void evloop_timer_fn(void *arg);
/* A blocking job: runs on a worker thread, must not touch loop state. */
typedef void evloop_work_fn(void *arg);
/* Its completion: runs on the loop thread that submitted the job. */
typedef void evloop_done_fn(void *arg);

struct evloop *evloop_new(void);
void evloop_free(struct evloop **loop);

/* Watches fd for events (EPOLLIN/EPOLLOUT...).  Returns 0 or -1 (errno). */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_io_fn *fn, void *arg);
int evloop_mod(struct evloop *loop, int fd, uint32_t events, evloop_io_fn *fn, void *arg);
void evloop_del(struct evloop *loop, int fd);

/* One-shot timer after ms milliseconds.  The handle stays valid until the
 * timer fires or is cancelled. */
struct evloop_timer *evloop_timer_add(struct evloop *loop, uint64_t ms, evloop_timer_fn *fn, void *arg);
void evloop_timer_cancel(struct evloop *loop, struct evloop_timer **timer);

/* Runs work(arg) on a worker thread, then done(arg) on this loop. */
void evloop_defer(struct evloop *loop, evloop_work_fn *work, evloop_done_fn *done, void *arg);

/* Milliseconds from a monotonic clock, cached per loop iteration. */
uint64_t evloop_now_ms(struct evloop *loop);

/* Runs until evloop_stop(); returns 0.  Can be run again afterwards. */
int evloop_run(struct evloop *loop);
/* Thread-safe: asks the loop to return from evloop_run() soon. */
void evloop_stop(struct evloop *loop);
/* Thread-safe: runs fn(arg) on the loop thread soon. */
void evloop_post(struct evloop *loop, evloop_done_fn *fn, void *arg);

/* Starts the shared worker pool (threads) once per process. */
void evloop_workers_start(unsigned threads);
void evloop_workers_stop(void);

#endif
