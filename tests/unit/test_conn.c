/* Unit tests for src/lib/conn.c over a socketpair: line reading split at
 * every byte, overlong lines, deferred jobs keeping pipelined input in
 * order, close after flush, streaming with the drained callback, idle
 * timeouts, pre-authentication limits, and transfers (their deadline and
 * minimum rate). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
	int timeouts;
	int limits[CONN_LIMIT_COUNT]; /* handler->limit calls per enum conn_limit */
	/* "RAW n": n bytes taken raw inside a transfer, then lines again */
	size_t raw_left;
	size_t raw_total;
	/* "PARSE": bytes taken raw outside a transfer, conn_progress at each
	 * LF (a command reader like IMAP's parser) */
	bool parse;
};

/* The limits "RAW" transfers run with (tests set them). */
static struct conn_transfer_limits raw_lim = { .deadline_sec = 1, .min_rate = 100 };

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

static void
slow_job_work(void *arg)
{
	usleep(1200 * 1000);
}

/* Raw input: a transfer ("RAW n", where a 'J' starts a slow job) or a
 * command reader of its own ("PARSE").  Returns true if it took all it
 * could and line reading may go on. */
static bool
t_raw(struct sess *s)
{
	struct buf *in = conn_input(s->c);

	if (s->parse) {
		for (size_t i = 0; i < in->len; i++)
			if (in->data[i] == '\n')
				conn_progress(s->c);
		conn_consume(s->c, in->len);
		return false;
	}
	while (s->raw_left > 0 && in->len > 0) {
		size_t n = in->len < s->raw_left ? in->len : s->raw_left;
		bool job = memchr(in->data, 'J', n) != NULL;

		conn_consume(s->c, n);
		s->raw_left -= n;
		s->raw_total += n;
		if (job) {
			conn_defer(s->c, slow_job_work, job_done, s);
			return false;
		}
		in = conn_input(s->c);
	}
	if (s->raw_left > 0)
		return false;
	conn_transfer_end(s->c);
	conn_printf(s->c, "raw %zu\n", s->raw_total);
	return true;
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

	if ((s->raw_left > 0 || s->parse) && !t_raw(s))
		return;
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
		if (strcmp(line, "PSTREAM") == 0) {   /* a reply that holds input, as FETCH or RETR */
			conn_pause(s->c);
			s->stream_left = 3 * 1024 * 1024;
			stream_more(s);
			return;
		}
		if (strcmp(line, "STREAM") == 0) {
			s->stream_left = 3 * 1024 * 1024;
			stream_more(s);
			return;
		}
		if (strncmp(line, "RAW ", 4) == 0) {
			s->raw_left = strtoul(line + 4, NULL, 10);
			s->raw_total = 0;
			conn_transfer_begin(s->c, &raw_lim);
			if (!t_raw(s))
				return;
		}
		if (strcmp(line, "PARSE") == 0) {
			s->parse = true;
			t_raw(s);
			return;
		}
		if (strcmp(line, "BIG") == 0) {   /* a last reply the peer will not read */
			static char big[1024 * 1024];

			memset(big, 'b', sizeof(big));
			for (int i = 0; i < 4; i++)
				conn_write(s->c, big, sizeof(big));
			conn_close(s->c);
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
	struct sess *s = arg;

	s->timeouts++;
	conn_puts(s->c, "timeout\n");
	conn_close(s->c);
}

static void
t_limit(void *arg, enum conn_limit what)
{
	struct sess *s = arg;

	s->limits[what]++;
	conn_printf(s->c, "limit %d\n", (int)what);
}

static void
t_close(void *arg)
{
	struct sess *s = arg;

	s->closed = 1;
}

static const struct conn_handler handler = {
	.name = "test", .open = t_open, .input = t_input, .drained = t_drained, .timeout = t_timeout,
	.close = t_close,
};

static const struct conn_handler handler_lim = {
	.name = "test", .open = t_open, .input = t_input, .drained = t_drained, .timeout = t_timeout,
	.close = t_close, .limit = t_limit,
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

static int releases;

static void
count_release(void *arg)
{
	releases += *(int *)arg;
}

static struct sess *
start_lim(int *peer_out, int *release_arg)
{
	int sv[2];

	socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv);
	*peer_out = sv[1];
	conn_new_tracked(loop, sv[0], &handler_lim, NULL, NULL, false, count_release, release_arg);
	return current;
}

static void
test_trickle_times_out(void)
{
	struct buf out = BUF_INIT;
	int peer, one = 1;
	struct sess *s;

	test_begin("conn: a partial line trickled byte by byte does not reset the idle timer");
	loop = evloop_new();
	releases = 0;
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 1);
	(void)!write(peer, "A\n", 2);
	for (int i = 0; i < 8; i++) {      /* 1.6 s of one byte per 200 ms */
		(void)!write(peer, "x", 1);
		run_for(200);
	}
	drain_peer(peer, &out);
	test_assert_inteq(s->timeouts, 1);
	test_assert(s->closed);
	test_assert_inteq(releases, 1);
	test_assert_streq(out.data, "echo A\ntimeout\n");
	buf_free(&out);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	test_end();

	test_begin("conn: complete lines keep a connection alive");
	loop = evloop_new();
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 1);
	for (int i = 0; i < 8; i++) {
		(void)!write(peer, "L\n", 2);
		run_for(200);
	}
	test_assert_inteq(s->timeouts, 0);
	test_assert(!s->closed);
	close(peer);
	run_for(5);
	test_assert(s->closed);
	test_assert_inteq(releases, 2);
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();
}

static void
test_auth_limits(void)
{
	struct conn_auth_limits lim = { .max_unauthenticated = 1, .timeout_sec = 1, .max_bytes = 20 };
	struct buf out = BUF_INIT;
	int peer, peer2, one = 1;
	struct sess *s, *s2;

	test_begin("conn: auth timeout from connect, whatever the client sends");
	loop = evloop_new();
	s = start_lim(&peer, &one);
	test_assert_inteq(conn_begin_auth(s->c, &lim), 0);
	test_assert_inteq(conn_unauthenticated_count(), 1);
	test_assert(!conn_authenticated(s->c));
	for (int i = 0; i < 6; i++) {
		(void)!write(peer, "L\n", 2);
		run_for(200);
	}
	drain_peer(peer, &out);
	test_assert_inteq(s->limits[CONN_LIMIT_AUTH_TIME], 1);
	test_assert(s->closed);
	test_assert_inteq(conn_unauthenticated_count(), 0);
	test_assert(strstr(out.data, "limit 0\n") != NULL);
	buf_free(&out);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	test_end();

	test_begin("conn: max_unauthenticated; authenticated sessions leave the count and the limits");
	loop = evloop_new();
	s = start_lim(&peer, &one);
	s2 = start_lim(&peer2, &one);
	test_assert_inteq(conn_begin_auth(s->c, &lim), 0);
	test_assert_inteq(conn_begin_auth(s2->c, &lim), -1);
	conn_set_authenticated(s->c);
	test_assert(conn_authenticated(s->c));
	test_assert_inteq(conn_unauthenticated_count(), 0);
	test_assert_inteq(conn_begin_auth(s2->c, &lim), 0);
	conn_set_authenticated(s2->c);
	(void)!write(peer, "0123456789\n0123456789\n0123456789\n", 33);
	run_for(1300);
	test_assert_inteq(s->limits[0] + s->limits[1], 0);
	test_assert(!s->closed);
	test_assert_streq(s->lines.data, "0123456789|0123456789|0123456789|");
	close(peer);
	close(peer2);
	run_for(5);
	test_assert(s->closed && s2->closed);
	buf_free(&s->lines);
	buf_free(&s2->lines);
	free(s);
	free(s2);
	evloop_free(&loop);
	test_end();

	test_begin("conn: bytes before auth: nothing past the limit reaches the session");
	loop = evloop_new();
	releases = 0;
	s = start_lim(&peer, &one);
	lim.timeout_sec = 0;
	test_assert_inteq(conn_begin_auth(s->c, &lim), 0);
	(void)!write(peer, "0123456789\n", 11);
	run_for(5);
	(void)!write(peer, "0123456789\n", 11);
	run_for(5);
	drain_peer(peer, &out);
	test_assert_streq(s->lines.data, "0123456789|");
	test_assert_inteq(s->limits[CONN_LIMIT_AUTH_BYTES], 1);
	test_assert(s->closed);
	test_assert_inteq(releases, 1);
	test_assert_inteq(conn_unauthenticated_count(), 0);
	test_assert_streq(out.data, "echo 0123456789\nlimit 1\n");
	buf_free(&out);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	test_end();
}

/* Writes len bytes of c, one write every ms milliseconds, n times. */
static void
trickle(int peer, char c, size_t len, unsigned ms, int n)
{
	char buf[4096];

	memset(buf, c, sizeof(buf));
	for (int i = 0; i < n; i++) {
		(void)!write(peer, buf, len);
		run_for(ms);
	}
}

static void
test_transfer(void)
{
	struct buf out = BUF_INIT;
	int peer, one = 1;
	struct sess *s;

	test_begin("conn: a transfer dribbled below its minimum rate ends with limit(TRANSFER_TIME)");
	loop = evloop_new();
	releases = 0;
	raw_lim = (struct conn_transfer_limits){ .deadline_sec = 1, .min_rate = 100 };
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 60);
	(void)!write(peer, "RAW 100000\n", 11);
	run_for(5);
	test_assert(conn_in_transfer(s->c));
	trickle(peer, 'x', 1, 100, 20);          /* 2 s of 10 bytes/s */
	drain_peer(peer, &out);
	test_assert_inteq(s->limits[CONN_LIMIT_TRANSFER_TIME], 1);
	test_assert_inteq(s->timeouts, 0);
	test_assert(s->closed);
	test_assert_inteq(releases, 1);
	test_assert_streq(out.data, "echo RAW 100000\nlimit 2\n");
	test_assert(s->raw_total > 0 && s->raw_total < 20);
	buf_free(&out);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	test_end();

	test_begin("conn: a transfer above its minimum rate may last longer than deadline_sec");
	loop = evloop_new();
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 60);
	(void)!write(peer, "RAW 500\n", 8);
	run_for(5);
	trickle(peer, 'y', 50, 200, 10);         /* 2 s of 250 bytes/s */
	run_for(5);
	drain_peer(peer, &out);
	test_assert_inteq(s->limits[CONN_LIMIT_TRANSFER_TIME], 0);
	test_assert(!s->closed);
	test_assert(!conn_in_transfer(s->c));
	test_assert_streq(out.data, "echo RAW 500\nraw 500\n");
	/* Ended: lines again, and no deadline left behind. */
	(void)!write(peer, "L\n", 2);
	run_for(1300);
	test_assert_inteq(s->limits[CONN_LIMIT_TRANSFER_TIME], 0);
	test_assert_streq(s->lines.data, "RAW 500|L|");
	close(peer);
	run_for(5);
	test_assert(s->closed);
	buf_free(&out);
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();

	test_begin("conn: a transfer's credit is capped: a fast start does not buy a long stall");
	loop = evloop_new();
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 60);
	(void)!write(peer, "RAW 100000\n", 11);
	trickle(peer, 'z', 4000, 1, 5);          /* 20000 bytes: 200 s uncapped */
	run_for(1500);
	test_assert_inteq(s->limits[CONN_LIMIT_TRANSFER_TIME], 1);
	test_assert(s->closed);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	test_end();

	test_begin("conn: min_rate 0: deadline_sec bounds the whole transfer");
	loop = evloop_new();
	raw_lim = (struct conn_transfer_limits){ .deadline_sec = 1, .min_rate = 0 };
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 60);
	(void)!write(peer, "RAW 100000\n", 11);
	trickle(peer, 'z', 4000, 100, 15);       /* 40000 bytes/s */
	test_assert_inteq(s->limits[CONN_LIMIT_TRANSFER_TIME], 1);
	test_assert(s->closed);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	test_end();

	test_begin("conn: deadline_sec 0: no deadline, bytes still keep the idle timer back");
	loop = evloop_new();
	raw_lim = (struct conn_transfer_limits){ .deadline_sec = 0, .min_rate = 100 };
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 1);
	(void)!write(peer, "RAW 100\n", 8);
	trickle(peer, 'w', 1, 200, 10);          /* 2 s at 5 bytes/s */
	test_assert_inteq(s->limits[CONN_LIMIT_TRANSFER_TIME], 0);
	test_assert_inteq(s->timeouts, 0);
	test_assert(!s->closed);
	close(peer);
	run_for(5);
	test_assert(s->closed);
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();

	test_begin("conn: a transfer's clock stops while a job runs");
	loop = evloop_new();
	raw_lim = (struct conn_transfer_limits){ .deadline_sec = 1, .min_rate = 0 };
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 60);
	(void)!write(peer, "RAW 10\nJ", 8);   /* a job of 1.2 s at once */
	run_for(1400);
	(void)!write(peer, "123456789", 9);
	run_for(20);
	drain_peer(peer, &out);
	test_assert_inteq(s->limits[CONN_LIMIT_TRANSFER_TIME], 0);
	test_assert(!s->closed);
	test_assert_streq(out.data, "echo RAW 10\ndone\nraw 10\n");
	close(peer);
	run_for(5);
	test_assert(s->closed);
	buf_free(&out);
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();

	test_begin("conn: raw bytes outside a transfer are no progress; conn_progress is");
	loop = evloop_new();
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 1);
	(void)!write(peer, "PARSE\n", 6);
	trickle(peer, 'p', 1, 200, 8);           /* a command trickled for 1.6 s */
	test_assert_inteq(s->timeouts, 1);
	test_assert(s->closed);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	loop = evloop_new();
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 1);
	(void)!write(peer, "PARSE\n", 6);
	trickle(peer, '\n', 1, 200, 8);          /* a whole command every 200 ms */
	test_assert_inteq(s->timeouts, 0);
	test_assert(!s->closed);
	close(peer);
	run_for(5);
	test_assert(s->closed);
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();

	test_begin("conn: a closing connection whose last reply is not read goes at the idle timeout");
	loop = evloop_new();
	releases = 0;
	s = start_lim(&peer, &one);
	conn_set_timeout(s->c, 1);
	(void)!write(peer, "BIG\n", 4);
	run_for(300);
	test_assert(!s->closed);
	run_for(1200);
	test_assert(s->closed);
	test_assert_inteq(s->timeouts, 0);
	test_assert_inteq(releases, 1);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	test_end();
	buf_free(&out);
}

static void
test_send_timeout(void)
{
	struct buf out = BUF_INIT;
	struct sess *s;
	int peer;
	size_t got = 0;

	test_begin("conn: a peer that reads nothing is dropped at the timeout, input paused or not");
	loop = evloop_new();
	s = start(&peer);
	conn_set_timeout(s->c, 1);
	(void)!write(peer, "PSTREAM\n", 8);
	run_for(300);
	test_assert(!s->closed);
	run_for(1200);
	test_assert(s->closed);
	test_assert_inteq(s->timeouts, 0);
	test_assert(s->stream_left > 0);
	buf_free(&s->lines);
	free(s);
	close(peer);
	evloop_free(&loop);
	test_end();

	test_begin("conn: a slow but steady reader keeps its connection past the timeout");
	loop = evloop_new();
	s = start(&peer);
	conn_set_timeout(s->c, 1);
	(void)!write(peer, "PSTREAM\n", 8);
	/* A unix socket's writer is woken only once about 3/4 of its buffer
	 * is read: read enough per step that the server sees progress. */
	for (int i = 0; i < 12; i++) {
		char tmp[131072];
		ssize_t n;

		run_for(250);
		if ((n = read(peer, tmp, sizeof(tmp))) > 0)
			got += (size_t)n;
	}
	test_assert(!s->closed);
	test_assert(got > 0);
	test_assert(s->stream_left > 0);   /* still streaming after 3 s */
	close(peer);
	run_for(5);
	test_assert(s->closed);
	buf_free(&s->lines);
	free(s);
	evloop_free(&loop);
	test_end();
	buf_free(&out);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);   /* writes to a peer that was closed */
	evloop_workers_start(2);
	test_lines_split();
	test_overlong();
	test_defer_order();
	test_eof_during_job();
	test_stream();
	test_trickle_times_out();
	test_auth_limits();
	test_transfer();
	test_send_timeout();
	evloop_workers_stop();
	return test_done();
}
