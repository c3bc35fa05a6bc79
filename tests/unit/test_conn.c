/* Unit tests for src/lib/conn.c over a socketpair: line reading split at
 * every byte, overlong lines, deferred jobs keeping pipelined input in
 * order, close after flush, streaming with the drained callback. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/evloop.h"
#include "test.h"

struct sess {
	struct conn *c;
	struct buf lines;        /* every line seen, '|' separated */
	int overlong;
	int closed;
	size_t stream_left;      /* bytes still to send for STREAM */
};

static struct sess *current;
static struct evloop *loop;

static void
stream_more(struct sess *s)
{
	static char chunk[8192];

	memset(chunk, 'z', sizeof(chunk));
	while (s->stream_left > 0 && conn_output_pending(s->c) < 256 * 1024) {
		size_t n = s->stream_left < sizeof(chunk) ? s->stream_left : sizeof(chunk);

		conn_write(s->c, chunk, n);
		s->stream_left -= n;
	}
}

static void
job_work(void *arg)
{
	usleep(20000);
}

static void
job_done(void *arg)
{
	struct sess *s = arg;

	conn_puts(s->c, "done\n");
	buf_puts(&s->lines, "(done)|");
}

static void *
t_open(struct conn *c, void *arg)
{
	struct sess *s = calloc(1, sizeof(*s));

	s->c = c;
	current = s;
	return s;
}

static void
t_input(void *arg)
{
	struct sess *s = arg;
	char *line;
	size_t len;
	int r;

	while ((r = conn_read_line(s->c, 16, &line, &len)) != 0) {
		if (r == -1) {
			s->overlong++;
			buf_puts(&s->lines, "(overlong)|");
			continue;
		}
		buf_printf(&s->lines, "%s|", line);
		conn_printf(s->c, "echo %s\n", line);
		if (strcmp(line, "DEFER") == 0) {
			conn_defer(s->c, job_work, job_done, s);
			return;
		}
		if (strcmp(line, "QUIT") == 0) {
			conn_close(s->c);
			return;
		}
		if (strcmp(line, "STREAM") == 0) {
			s->stream_left = 3 * 1024 * 1024;
			stream_more(s);
			return;
		}
	}
}

static void
t_drained(void *arg)
{
	stream_more(arg);
}

static void
t_timeout(void *arg)
{
}

static void
t_close(void *arg)
{
	struct sess *s = arg;

	s->closed = 1;
}

static const struct conn_handler handler = {
	"test", t_open, t_input, t_drained, t_timeout, t_close, NULL,
};

static void
stop_loop(void *arg)
{
	evloop_stop(loop);
}

/* Runs the loop for ms milliseconds. */
/* The loop cannot be restarted after stop, so each test makes a new one
 * and keeps it until the connection is gone. */
static struct sess *
start(int *peer_out)
{
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
	*peer_out = sv[1];
	conn_new(loop, sv[0], &handler, NULL, NULL, false);
	return current;
}

static size_t
drain_peer(int fd, struct buf *out)
{
	char tmp[65536];
	ssize_t n;
	size_t total = 0;

	while ((n = read(fd, tmp, sizeof(tmp))) > 0) {
		buf_append(out, tmp, (size_t)n);
		total += (size_t)n;
	}
	return total;
}

static void run_for(unsigned ms);

static void
run_for(unsigned ms)
{
	struct evloop_timer *t = evloop_timer_add(loop, ms, stop_loop, NULL);

	(void)t;
	evloop_run(loop);
}

static void
test_lines_split(void)
{
	const char *in = "HELLO\r\nWORLD\nX\r\n";
	int peer;
	struct sess *s;

	test_begin("conn: lines split at every byte");
	loop = evloop_new();
	s = start(&peer);
	for (size_t i = 0; in[i] != '\0'; i++) {
		(void)!write(peer, in + i, 1);
		run_for(2);
	}
	test_assert_streq(s->lines.data, "HELLO|WORLD|X|");
	close(peer);
	run_for(5);
	test_assert(s->closed);
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();
}

static void
test_overlong(void)
{
	int peer;
	struct sess *s;

	test_begin("conn: overlong line reported once, session stays in sync");
	loop = evloop_new();
	s = start(&peer);
	(void)!write(peer, "SHORT\r\n0123456789abcdefghij", 27);
	run_for(5);
	(void)!write(peer, "klmnopqrstuvwxyz0123456789", 26);
	run_for(5);
	(void)!write(peer, "tail\r\nNEXT\r\n", 12);
	run_for(5);
	(void)!write(peer, "0123456789abcdefghijkl\r\nAFTER\r\n", 31);
	run_for(5);
	test_assert_streq(s->lines.data, "SHORT|(overlong)|NEXT|(overlong)|AFTER|");
	test_assert_inteq(s->overlong, 2);
	close(peer);
	run_for(5);
	test_assert(s->closed);
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();
}

static void
test_defer_order(void)
{
	struct buf out = BUF_INIT;
	int peer;
	struct sess *s;

	test_begin("conn: deferred job keeps pipelined commands in order");
	loop = evloop_new();
	s = start(&peer);
	(void)!write(peer, "A\nDEFER\nB\nQUIT\nIGNORED\n", 23);
	run_for(100);
	drain_peer(peer, &out);
	test_assert_streq(s->lines.data, "A|DEFER|(done)|B|QUIT|");
	test_assert_streq(out.data, "echo A\necho DEFER\ndone\necho B\necho QUIT\n");
	test_assert(s->closed);
	buf_free(&out);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	test_end();
}

static void
test_eof_during_job(void)
{
	int peer;
	struct sess *s;

	test_begin("conn: peer gone during a job: session freed only after done");
	loop = evloop_new();
	s = start(&peer);
	(void)!write(peer, "DEFER\n", 6);
	run_for(2);
	close(peer);
	run_for(2);
	test_assert(!s->closed);
	run_for(100);
	test_assert(s->closed);
	test_assert_streq(s->lines.data, "DEFER|(done)|");
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();
}

static void
test_stream(void)
{
	struct buf out = BUF_INIT;
	int peer;
	struct sess *s;
	size_t got = 0;

	test_begin("conn: 3 MiB streamed through drained with bounded output");
	loop = evloop_new();
	s = start(&peer);
	(void)!write(peer, "STREAM\n", 7);
	for (int i = 0; i < 2000 && got < 3 * 1024 * 1024 + 12; i++) {
		run_for(1);
		got += drain_peer(peer, &out);
	}
	test_assert_inteq(got, 3 * 1024 * 1024 + strlen("echo STREAM\n"));
	close(peer);
	run_for(5);
	test_assert(s->closed);
	buf_free(&out);
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();
}

int
main(void)
{
	evloop_workers_start(2);
	test_lines_split();
	test_overlong();
	test_defer_order();
	test_eof_during_job();
	test_stream();
	evloop_workers_stop();
	return test_done();
}
