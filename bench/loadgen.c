/* tern-load: the load generator behind the benchmarks in bench/.
 *
 * One small program, four modes, each talking to any SMTP or POP3 server on
 * a loopback port (Tern or the reference servers alike) and printing one
 * machine-readable "RESULT key=value ..." line for the bench scripts:
 *
 *   smtp  N messages of a given size (LMTP with --lhlo) over S parallel
 *         sessions, recipients spread over M mailboxes; counts the 250s after DATA.
 *   pop3  one session per user, logs in, then RETRs every message (no DELE,
 *         --passes times)
 *         and counts the bytes; the clock runs from after the last login to
 *         the last byte, so password hashing cost is not in the figure.
 *   tls   full TLS handshakes (no resumption) plus the greeting line, on T
 *         threads, for a fixed time.
 *   idle  opens N connections, reads each greeting, prints "READY", then
 *         holds them until its standard input closes.
 *
 * Built by bench/Makefile, not by the top Makefile: it is a benchmark tool,
 * not part of Tern.  Certificates are not verified (loopback, self-signed). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IOBUF 65536
#define MAX_THREADS 256

struct opts {
	const char *mode;
	const char *host;
	int port;
	bool tls;
	int sessions;
	long messages;
	long size;
	int mailboxes;
	const char *user_fmt;   /* printf format with one %d, e.g. "u%02d@example.test" */
	int first_user;
	const char *password;
	const char *from;
	double seconds;
	long count;
	int passes;
	bool lhlo;
};

static struct opts o = {
	.host = "127.0.0.1", .sessions = 20, .messages = 2000, .size = 4096, .mailboxes = 10,
	.user_fmt = "user%02d@example.test", .first_user = 1, .password = "bench-password",
	.from = "sender@bench.test", .seconds = 10, .count = 1000, .passes = 1,
};

static SSL_CTX *ssl_ctx;

/* User number n's name from --users (a printf format with one %d). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void user_name(char *out, size_t outsize, int n)
{
	snprintf(out, outsize, o.user_fmt, n);
}
#pragma GCC diagnostic pop

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("tern-load: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A connection with a read buffer; plain or TLS. */
struct io {
	int fd;
	SSL *ssl;
	char buf[IOBUF];
	size_t start, end;
};

static int tcp_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(o.port) };
	if (inet_pton(AF_INET, o.host, &sa.sin_addr) != 1)
		die("bad host %s (IPv4 address expected)", o.host);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Connects, and does the TLS handshake when tls is set.  Returns 0 or -1. */
static int io_open(struct io *io, bool tls)
{
	io->start = io->end = 0;
	io->ssl = NULL;
	io->fd = tcp_connect();
	if (io->fd < 0)
		return -1;
	if (tls) {
		io->ssl = SSL_new(ssl_ctx);
		SSL_set_fd(io->ssl, io->fd);
		SSL_set_tlsext_host_name(io->ssl, "mail.example.test");
		if (SSL_connect(io->ssl) != 1) {
			SSL_free(io->ssl);
			io->ssl = NULL;
			close(io->fd);
			io->fd = -1;
			return -1;
		}
	}
	return 0;
}

static void io_close(struct io *io)
{
	if (io->ssl != NULL) {
		SSL_shutdown(io->ssl);
		SSL_free(io->ssl);
		io->ssl = NULL;
	}
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
}

static ssize_t io_raw_read(struct io *io, void *p, size_t n)
{
	if (io->ssl != NULL) {
		int r = SSL_read(io->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		return r > 0 ? r : -1;
	}
	ssize_t r;
	do
		r = read(io->fd, p, n);
	while (r < 0 && errno == EINTR);
	return r > 0 ? r : -1;
}

static int io_write(struct io *io, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w;
		if (io->ssl != NULL) {
			int r = SSL_write(io->ssl, c, n > INT32_MAX ? INT32_MAX : (int)n);
			w = r > 0 ? r : -1;
		} else {
			do
				w = write(io->fd, c, n);
			while (w < 0 && errno == EINTR);
		}
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int io_printf(struct io *io, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return -1;
	return io_write(io, line, (size_t)n);
}

/* Reads one line (without CRLF) into out.  Returns its length or -1. */
static ssize_t io_line(struct io *io, char *out, size_t outsize)
{
	for (;;) {
		char *nl = memchr(io->buf + io->start, '\n', io->end - io->start);
		if (nl != NULL) {
			size_t len = (size_t)(nl - (io->buf + io->start));
			size_t keep = len;
			if (keep > 0 && io->buf[io->start + keep - 1] == '\r')
				keep--;
			if (keep >= outsize)
				keep = outsize - 1;
			memcpy(out, io->buf + io->start, keep);
			out[keep] = '\0';
			io->start += len + 1;
			return (ssize_t)keep;
		}
		if (io->start > 0) {
			memmove(io->buf, io->buf + io->start, io->end - io->start);
			io->end -= io->start;
			io->start = 0;
		}
		if (io->end == sizeof io->buf)
			return -1;
		ssize_t r = io_raw_read(io, io->buf + io->end, sizeof io->buf - io->end);
		if (r <= 0)
			return -1;
		io->end += (size_t)r;
	}
}

/* Reads an SMTP reply (all continuation lines).  Returns its code or -1. */
static int smtp_reply(struct io *io, char *last, size_t lastsize)
{
	char line[2048];
	for (;;) {
		ssize_t n = io_line(io, line, sizeof line);
		if (n < 4)
			return n == 3 ? atoi(line) : -1;
		if (line[3] != '-') {
			if (last != NULL)
				snprintf(last, lastsize, "%s", line);
			return atoi(line);
		}
	}
}

/* ---- smtp ---- */

static atomic_long next_msg;
static atomic_long smtp_ok, smtp_fail;
static double *latencies;
static double t_last_ok;
static pthread_mutex_t t_lock = PTHREAD_MUTEX_INITIALIZER;
static char body_fill[1 << 20];

static void make_fill(void)
{
	/* 76 printable characters and CRLF per line, like a base64 body. */
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i = 0;
	unsigned x = 12345;
	while (i + 78 <= sizeof body_fill) {
		for (int c = 0; c < 76; c++) {
			x = x * 1103515245 + 12345;
			body_fill[i++] = alphabet[(x >> 16) & 63];
		}
		body_fill[i++] = '\r';
		body_fill[i++] = '\n';
	}
	memset(body_fill + i, 'A', sizeof body_fill - i);
}

/* Writes message number i (headers + fill up to size bytes, then the
 * terminating dot) into out; returns its length. */
static size_t make_message(char *out, long i, const char *rcpt, const char *tag)
{
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	int h = snprintf(out, 1024,
	                 "From: Bench Sender <%s>\r\nTo: <%s>\r\nSubject: bench message %ld\r\n"
	                 "Date: %s\r\nMessage-ID: <%ld.%s@bench.test>\r\nMIME-Version: 1.0\r\n"
	                 "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
	                 o.from, rcpt, i, date, i, tag);
	long body = o.size - h - 2;
	if (body < 0)
		body = 0;
	if (body > (long)sizeof body_fill - 2)
		body = sizeof body_fill - 2;
	/* cut the fill at a line end so the body stays well-formed */
	memcpy(out + h, body_fill, (size_t)body);
	size_t n = (size_t)h + (size_t)body;
	if (body >= 2) {
		out[n - 2] = '\r';
		out[n - 1] = '\n';
	} else {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, ".\r\n", 3);
	return n + 3;
}

static void *smtp_thread(void *arg)
{
	const char *tag = arg;
	struct io *io = calloc(1, sizeof *io);
	char *msg = malloc((size_t)o.size + 4096);
	char rcpt[256], last[2048];
	if (io == NULL || msg == NULL)
		die("out of memory");
	if (io_open(io, o.tls) != 0 || smtp_reply(io, NULL, 0) != 220) {
		fprintf(stderr, "tern-load: smtp connect/greeting failed\n");
		atomic_fetch_add(&smtp_fail, 1);
		goto out;
	}
	if (io_printf(io, "%s client.bench.test\r\n", o.lhlo ? "LHLO" : "EHLO") != 0 || smtp_reply(io, NULL, 0) != 250)
		goto broken;
	for (;;) {
		long i = atomic_fetch_add(&next_msg, 1);
		if (i >= o.messages)
			break;
		user_name(rcpt, sizeof rcpt, o.first_user + (int)(i % o.mailboxes));
		double t0 = now();
		int code = -1;   /* stays -1 when a write fails */
		if (io_printf(io, "MAIL FROM:<%s>\r\n", o.from) != 0 || (code = smtp_reply(io, last, sizeof last)) != 250)
			goto refused;
		if (io_printf(io, "RCPT TO:<%s>\r\n", rcpt) != 0 || (code = smtp_reply(io, last, sizeof last)) != 250)
			goto refused;
		if (io_printf(io, "DATA\r\n") != 0 || (code = smtp_reply(io, last, sizeof last)) != 354)
			goto refused;
		size_t n = make_message(msg, i, rcpt, tag);
		if (io_write(io, msg, n) != 0 || (code = smtp_reply(io, last, sizeof last)) != 250)
			goto refused;
		double t1 = now();
		latencies[i] = t1 - t0;
		atomic_fetch_add(&smtp_ok, 1);
		pthread_mutex_lock(&t_lock);
		if (t1 > t_last_ok)
			t_last_ok = t1;
		pthread_mutex_unlock(&t_lock);
		continue;
	refused:
		atomic_fetch_add(&smtp_fail, 1);
		fprintf(stderr, "tern-load: message %ld refused: %s\n", i, code < 0 ? "(connection lost)" : last);
		if (code < 0)
			goto out;
		io_printf(io, "RSET\r\n");
		if (smtp_reply(io, NULL, 0) != 250)
			goto broken;
	}
	io_printf(io, "QUIT\r\n");
	smtp_reply(io, NULL, 0);
	goto out;
broken:
	fprintf(stderr, "tern-load: smtp session broke\n");
out:
	io_close(io);
	free(io);
	free(msg);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int run_smtp(void)
{
	pthread_t th[MAX_THREADS];
	char tag[64];
	snprintf(tag, sizeof tag, "%ld.%d", (long)time(NULL), (int)getpid());
	if (o.messages < 1)
		die("--messages must be at least 1");
	make_fill();
	latencies = calloc((size_t)o.messages, sizeof *latencies);
	if (latencies == NULL)
		die("out of memory");
	printf("START\n");
	fflush(stdout);
	double t0 = now();
	t_last_ok = t0;
	for (int s = 0; s < o.sessions; s++)
		if (pthread_create(&th[s], NULL, smtp_thread, tag) != 0)
			die("pthread_create failed");
	for (int s = 0; s < o.sessions; s++)
		pthread_join(th[s], NULL);
	double t_end = now();
	long ok = atomic_load(&smtp_ok);
	double secs = t_last_ok - t0;
	/* latencies of the accepted messages only (failed ones stay 0) */
	size_t nl = 0;
	for (long i = 0; i < o.messages; i++)
		if (latencies[i] > 0)
			latencies[nl++] = latencies[i];
	qsort(latencies, nl, sizeof *latencies, cmp_double);
	double p50 = nl ? latencies[nl / 2] : 0, p99 = nl ? latencies[(nl * 99) / 100] : 0;
	printf("RESULT accepted=%ld failed=%ld seconds=%.3f rate=%.1f p50_ms=%.2f p99_ms=%.2f total_seconds=%.3f\n",
	       ok, (long)atomic_load(&smtp_fail), secs, secs > 0 ? ok / secs : 0, p50 * 1e3, p99 * 1e3, t_end - t0);
	return ok == o.messages ? 0 : 1;
}

/* ---- pop3 ---- */

static pthread_barrier_t pop_barrier;
static atomic_long pop_bytes, pop_msgs, pop_fail;
static double pop_t0;

/* Reads a multi-line POP3 response up to "\r\n.\r\n"; returns bytes or -1.
 * Commands go one at a time, so the terminator is always the last byte the
 * server has sent: it suffices to look at the end of the stream. */
static long pop3_multiline(struct io *io)
{
	long total = 0;
	char tail[5];
	size_t tl = 0;
	for (;;) {
		if (io->start == io->end) {
			ssize_t r = io_raw_read(io, io->buf, sizeof io->buf);
			if (r <= 0)
				return -1;
			io->start = 0;
			io->end = (size_t)r;
		}
		char *p = io->buf + io->start;
		size_t n = io->end - io->start;
		if (total == 0 && tl == 0 && p[0] != '+')
			return -1;
		total += (long)n;
		io->start = io->end;
		if (n >= 5) {
			memcpy(tail, p + n - 5, 5);
			tl = 5;
		} else {
			size_t keep = tl + n > 5 ? 5 - n : tl;
			memmove(tail, tail + tl - keep, keep);
			memcpy(tail + keep, p, n);
			tl = keep + n;
		}
		if (tl == 5 && memcmp(tail, "\r\n.\r\n", 5) == 0)
			return total;
	}
}

static void *pop3_thread(void *arg)
{
	int user = (int)(intptr_t)arg;
	char name[256], line[2048];
	struct io *io = calloc(1, sizeof *io);
	long count = -1;
	bool ok = false;
	if (io == NULL)
		die("out of memory");
	user_name(name, sizeof name, user);
	if (io_open(io, o.tls) != 0 || io_line(io, line, sizeof line) < 3 || strncmp(line, "+OK", 3) != 0)
		goto login_failed;
	if (io_printf(io, "USER %s\r\n", name) != 0 || io_line(io, line, sizeof line) < 3 || strncmp(line, "+OK", 3) != 0)
		goto login_failed;
	if (io_printf(io, "PASS %s\r\n", o.password) != 0 || io_line(io, line, sizeof line) < 3 || strncmp(line, "+OK", 3) != 0)
		goto login_failed;
	if (io_printf(io, "STAT\r\n") != 0 || io_line(io, line, sizeof line) < 3 || sscanf(line, "+OK %ld", &count) != 1)
		goto login_failed;
	ok = true;
login_failed:
	if (!ok) {
		fprintf(stderr, "tern-load: pop3 login as %s failed: %s\n", name, line);
		atomic_fetch_add(&pop_fail, 1);
	}
	pthread_barrier_wait(&pop_barrier);
	if (!ok)
		goto out;
	for (int pass = 0; pass < o.passes; pass++) {
		for (long i = 1; i <= count; i++) {
			if (io_printf(io, "RETR %ld\r\n", i) != 0)
				goto broken;
			long b = pop3_multiline(io);
			if (b < 0)
				goto broken;
			atomic_fetch_add(&pop_bytes, b);
			atomic_fetch_add(&pop_msgs, 1);
		}
	}
	io_printf(io, "QUIT\r\n");
	io_line(io, line, sizeof line);
	goto out;
broken:
	fprintf(stderr, "tern-load: pop3 session of %s broke\n", name);
	atomic_fetch_add(&pop_fail, 1);
out:
	io_close(io);
	free(io);
	return NULL;
}

static int run_pop3(void)
{
	pthread_t th[MAX_THREADS];
	/* the main thread joins the barrier too, to start the clock */
	pthread_barrier_init(&pop_barrier, NULL, (unsigned)o.sessions + 1);
	for (int s = 0; s < o.sessions; s++)
		if (pthread_create(&th[s], NULL, pop3_thread, (void *)(intptr_t)(o.first_user + s)) != 0)
			die("pthread_create failed");
	pthread_barrier_wait(&pop_barrier);
	pop_t0 = now();
	for (int s = 0; s < o.sessions; s++)
		pthread_join(th[s], NULL);
	double secs = now() - pop_t0;
	long bytes = atomic_load(&pop_bytes), msgs = atomic_load(&pop_msgs);
	printf("RESULT bytes=%ld messages=%ld failed=%ld seconds=%.3f mb_per_s=%.2f msgs_per_s=%.1f\n", bytes, msgs,
	       (long)atomic_load(&pop_fail), secs, secs > 0 ? bytes / secs / 1e6 : 0, secs > 0 ? msgs / secs : 0);
	return atomic_load(&pop_fail) == 0 ? 0 : 1;
}

/* ---- tls ---- */

static atomic_long hs_ok, hs_fail;
static double hs_deadline;

static void *tls_thread(void *arg)
{
	struct io *io = calloc(1, sizeof *io);
	char line[2048];
	if (io == NULL)
		die("out of memory");
	while (now() < hs_deadline) {
		if (io_open(io, true) != 0) {
			atomic_fetch_add(&hs_fail, 1);
			ERR_clear_error();
			continue;
		}
		/* the greeting proves the server finished its side of the handshake */
		if (io_line(io, line, sizeof line) < 3)
			atomic_fetch_add(&hs_fail, 1);
		else
			atomic_fetch_add(&hs_ok, 1);
		io_close(io);
		ERR_clear_error();
	}
	free(io);
	return NULL;
}

static int run_tls(void)
{
	pthread_t th[MAX_THREADS];
	double t0 = now();
	hs_deadline = t0 + o.seconds;
	for (int s = 0; s < o.sessions; s++)
		if (pthread_create(&th[s], NULL, tls_thread, NULL) != 0)
			die("pthread_create failed");
	for (int s = 0; s < o.sessions; s++)
		pthread_join(th[s], NULL);
	double secs = now() - t0;
	long ok = atomic_load(&hs_ok);
	printf("RESULT handshakes=%ld failed=%ld seconds=%.3f rate=%.1f\n", ok, (long)atomic_load(&hs_fail), secs,
	       ok / secs);
	return ok > 0 ? 0 : 1;
}

/* ---- idle ---- */

static int run_idle(void)
{
	struct io *ios = calloc((size_t)o.count, sizeof *ios);
	char line[2048];
	long open_n = 0;
	if (ios == NULL)
		die("out of memory");
	for (long i = 0; i < o.count; i++) {
		if (io_open(&ios[i], o.tls) != 0 || io_line(&ios[i], line, sizeof line) < 3) {
			fprintf(stderr, "tern-load: idle connection %ld failed (%s)\n", i, strerror(errno));
			break;
		}
		open_n++;
	}
	printf("READY open=%ld\n", open_n);
	fflush(stdout);
	/* hold until the caller closes our stdin */
	char c;
	while (read(0, &c, 1) > 0)
		;
	long still = 0;
	for (long i = 0; i < open_n; i++) {
		/* a connection the server closed meanwhile reads EOF at once */
		struct timeval tv = { 0, 0 };
		setsockopt(ios[i].fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		char b;
		ssize_t r = recv(ios[i].fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			still++;
		close(ios[i].fd);
	}
	printf("RESULT open=%ld still_open=%ld\n", open_n, still);
	return open_n == o.count ? 0 : 1;
}

static void usage(void)
{
	fputs("usage: tern-load MODE --port N [options]\n"
	      "modes: smtp | pop3 | tls | idle\n"
	      "  --host A          IPv4 address (127.0.0.1)\n"
	      "  --tls             implicit TLS (pop3, idle; tls mode always)\n"
	      "  --sessions S      parallel sessions / threads (smtp 20, pop3 users, tls threads)\n"
	      "  --messages N      smtp: messages in total (2000)\n"
	      "  --size B          smtp: message size in bytes (4096)\n"
	      "  --lhlo            smtp: speak LMTP (LHLO; one recipient, so one reply)\n"
	      "  --mailboxes M     smtp: recipients spread over M users (10)\n"
	      "  --users FMT       user name format with one %d (user%02d@example.test)\n"
	      "  --first-user K    number of the first user (1)\n"
	      "  --password P      pop3 password\n"
	      "  --passes K        pop3: RETR the whole mailbox K times in the session (1)\n"
	      "  --seconds T       tls: how long to run (10)\n"
	      "  --count N         idle: connections (1000)\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	o.mode = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (strcmp(a, name) == 0 && (v != NULL || (usage(), 0)) && ++i)
		if (strcmp(a, "--tls") == 0)
			o.tls = true;
		else if (strcmp(a, "--lhlo") == 0)
			o.lhlo = true;
		else if (OPT("--host"))
			o.host = v;
		else if (OPT("--port"))
			o.port = atoi(v);
		else if (OPT("--sessions"))
			o.sessions = atoi(v);
		else if (OPT("--messages"))
			o.messages = atol(v);
		else if (OPT("--size"))
			o.size = atol(v);
		else if (OPT("--mailboxes"))
			o.mailboxes = atoi(v);
		else if (OPT("--users"))
			o.user_fmt = v;
		else if (OPT("--first-user"))
			o.first_user = atoi(v);
		else if (OPT("--password"))
			o.password = v;
		else if (OPT("--from"))
			o.from = v;
		else if (OPT("--seconds"))
			o.seconds = atof(v);
		else if (OPT("--passes"))
			o.passes = atoi(v);
		else if (OPT("--count"))
			o.count = atol(v);
		else
			usage();
#undef OPT
	}
	if (o.port <= 0 || o.sessions < 1 || o.sessions > MAX_THREADS || o.mailboxes < 1 || o.size < 256 ||
	    o.size > (long)sizeof body_fill)
		usage();
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (ssl_ctx == NULL)
		die("SSL_CTX_new failed");
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
	/* every handshake full: no session cache, no tickets kept */
	SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_TICKET);
	if (strcmp(o.mode, "tls") == 0)
		SSL_CTX_set_min_proto_version(ssl_ctx, TLS1_3_VERSION);
	if (strcmp(o.mode, "smtp") == 0)
		return run_smtp();
	if (strcmp(o.mode, "pop3") == 0)
		return run_pop3();
	if (strcmp(o.mode, "tls") == 0)
		return run_tls();
	if (strcmp(o.mode, "idle") == 0)
		return run_idle();
	usage();
	return 2;
}
