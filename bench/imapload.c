/* tern-imapload: the IMAP load generator behind bench/imap-idle,
 * bench/imap-mailbox and bench/imap-mixed (bench/README.md).
 *
 * Talks to any IMAP server on a loopback port (Tern or Dovecot alike) and
 * prints machine-readable "RESULT key=value ..." lines for the scripts:
 *
 *   idle   logs N connections in (LOGIN, SELECT INBOX, IDLE) on a few
 *          threads, prints "READY ...", then holds them all in one epoll
 *          loop and obeys commands on standard input:
 *            one K      K deliveries, one at a time, each to a different
 *                       user; for each, the time from the delivery's
 *                       acknowledgement (SMTP/LMTP 250 after DATA) to the
 *                       untagged EXISTS on that user's idling connection
 *            burst M S  M deliveries to M different users at once over S
 *                       parallel SMTP/LMTP sessions; the same latency for
 *                       every one of them
 *          and, when standard input closes, reports how many connections
 *          the server still held.
 *   mixed  S sessions (one thread each) stay logged in and send commands
 *          one at a time, chosen at random: SELECT, FETCH of headers,
 *          FETCH of a whole message, STORE, APPEND, STORE \Deleted +
 *          EXPUNGE; counts the commands completed in a fixed time.
 *   send   sends every file of a directory (one message per file, LF or
 *          CRLF line ends) to one recipient over S parallel SMTP/LMTP
 *          sessions: fills a mailbox with a given corpus.
 *
 * Every mode also prints the client's own cost (CPU seconds, peak RSS), so
 * that it can be set beside the server's.  Built by bench/Makefile, not by
 * the top Makefile.  Certificates are not verified (loopback, self-signed). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IOBUF 65536
#define IDLE_BUF 512          /* per idle connection: IDLE only brings short lines */
#define MAX_THREADS 256
#define LINE_MAX_LEN 8192

struct opts {
	const char *mode;
	const char *host;
	int port;
	bool tls;
	long count;             /* idle: connections */
	int users;              /* users the connections / sessions are spread over */
	int first_user;
	const char *user_fmt;   /* printf format with one %d */
	const char *password;
	int threads;            /* idle: login threads */
	int smtp_port;          /* idle: where deliveries go */
	bool lhlo;              /* deliveries / send speak LMTP */
	int sessions;           /* mixed: clients; send: SMTP sessions */
	double seconds;         /* mixed: how long */
	unsigned seed;
	const char *dir;        /* send: corpus directory */
	const char *rcpt;       /* send: recipient */
	double timeout;         /* idle: how long to wait for an EXISTS */
	long msg_size;          /* mixed: APPEND size */
};

static struct opts o = {
	.host = "127.0.0.1", .count = 1000, .users = 0, .first_user = 1,
	.user_fmt = "user%05d@example.test", .password = "bench-password", .threads = 8,
	.sessions = 8, .seconds = 20, .seed = 1, .timeout = 10, .msg_size = 4096,
};

static SSL_CTX *ssl_ctx;

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
	fputs("tern-imapload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("tern-imapload: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The client's own cost: CPU seconds (user + system) and peak RSS in KiB. */
static void client_cost(double *cpu, long *maxrss_kib)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	*cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	*maxrss_kib = ru.ru_maxrss;
}

static long current_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---------------------------------------------------------------- blocking I/O */

/* A blocking connection with a read buffer; plain or TLS. */
struct io {
	int fd;
	SSL *ssl;
	char buf[IOBUF];
	size_t start, end;
};

static int tcp_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, o.host, &sa.sin_addr) != 1)
		die("bad host %s (IPv4 address expected)", o.host);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct timeval tv = { 120, 0 };   /* nothing here waits that long unless the server is stuck */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int io_open(struct io *io, int port, bool tls)
{
	io->start = io->end = 0;
	io->ssl = NULL;
	io->fd = tcp_connect(port);
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
			ERR_clear_error();
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
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line)
		return -1;
	return io_write(io, line, (size_t)n);
}

/* Reads one line (without CRLF) into out, cutting it at outsize - 1 bytes
 * (the rest of a longer line is read and dropped).  Returns the length
 * kept, or -1 on EOF or error. */
static ssize_t io_line(struct io *io, char *out, size_t outsize)
{
	size_t kept = 0;
	for (;;) {
		char *p = io->buf + io->start;
		size_t avail = io->end - io->start;
		char *nl = memchr(p, '\n', avail);
		size_t take = nl != NULL ? (size_t)(nl - p) : avail;
		size_t room = outsize - 1 - kept;
		memcpy(out + kept, p, take < room ? take : room);
		kept += take < room ? take : room;
		if (nl != NULL) {
			io->start += take + 1;
			if (kept > 0 && out[kept - 1] == '\r')
				kept--;
			out[kept] = '\0';
			return (ssize_t)kept;
		}
		io->start = io->end = 0;
		ssize_t r = io_raw_read(io, io->buf, sizeof io->buf);
		if (r <= 0)
			return -1;
		io->end = (size_t)r;
	}
}

/* Reads and drops n bytes (a literal). */
static int io_skip(struct io *io, size_t n)
{
	while (n > 0) {
		if (io->start == io->end) {
			ssize_t r = io_raw_read(io, io->buf, sizeof io->buf);
			if (r <= 0)
				return -1;
			io->start = 0;
			io->end = (size_t)r;
		}
		size_t take = io->end - io->start < n ? io->end - io->start : n;
		io->start += take;
		n -= take;
	}
	return 0;
}

/* The size of the literal announced at the end of line ("... {123}"), or -1. */
static long literal_at_end(const char *line, size_t len)
{
	if (len < 3 || line[len - 1] != '}')
		return -1;
	size_t i = len - 1;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9')
		i--;
	if (i == 0 || i == len - 1 || line[i - 1] != '{')
		return -1;
	return atol(line + i);
}

/* Called for every untagged line of a response (literals already skipped). */
typedef void (*untagged_fn)(const char *line, void *arg);

/* Reads a response up to the line tagged tag.  Returns 0 for OK, 1 for NO,
 * 2 for BAD, -1 on I/O error.  The tagged line goes to last (if not NULL). */
static int imap_wait(struct io *io, const char *tag, untagged_fn fn, void *arg, char *last, size_t lastsize)
{
	char line[LINE_MAX_LEN];
	size_t tl = strlen(tag);
	bool continuing = false;   /* the line continues a response after a literal */
	for (;;) {
		ssize_t n = io_line(io, line, sizeof line);
		if (n < 0)
			return -1;
		if (!continuing && (size_t)n > tl && strncmp(line, tag, tl) == 0 && line[tl] == ' ') {
			if (last != NULL)
				snprintf(last, lastsize, "%.300s", line);
			const char *st = line + tl + 1;
			return strncmp(st, "OK", 2) == 0 ? 0 : strncmp(st, "NO", 2) == 0 ? 1 : 2;
		}
		if (!continuing && fn != NULL && line[0] == '*')
			fn(line, arg);
		long lit = literal_at_end(line, (size_t)n);
		if (lit >= 0) {
			if (io_skip(io, (size_t)lit) != 0)
				return -1;
			continuing = true;
		} else {
			continuing = false;
		}
	}
}

/* Sends "tag command\r\n" and reads the response (see imap_wait). */
static int imap_cmd(struct io *io, const char *tag, untagged_fn fn, void *arg, const char *fmt, ...)
{
	char line[4096];
	int h = snprintf(line, sizeof line, "%s ", tag);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line + h, sizeof line - (size_t)h - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)(h + n) >= sizeof line - 2)
		return -1;
	memcpy(line + h + n, "\r\n", 2);
	if (io_write(io, line, (size_t)(h + n + 2)) != 0)
		return -1;
	return imap_wait(io, tag, fn, arg, NULL, 0);
}

/* Greeting, LOGIN; returns 0 or -1 (with a reason in why). */
static int imap_login(struct io *io, int user, char *why, size_t whysize)
{
	char line[LINE_MAX_LEN], name[256], last[512];
	user_name(name, sizeof name, user);
	if (io_line(io, line, sizeof line) < 0 || strncmp(line, "* OK", 4) != 0) {
		snprintf(why, whysize, "greeting: %.200s", line);
		return -1;
	}
	if (io_printf(io, "L LOGIN \"%s\" \"%s\"\r\n", name, o.password) != 0) {
		snprintf(why, whysize, "write failed");
		return -1;
	}
	int r = imap_wait(io, "L", NULL, NULL, last, sizeof last);
	if (r != 0) {
		snprintf(why, whysize, "LOGIN %.100s: %.300s", name, r < 0 ? "(connection lost)" : last);
		return -1;
	}
	return 0;
}

static void count_exists(const char *line, void *arg)
{
	long n;
	char word[16];
	if (sscanf(line, "* %ld %15s", &n, word) == 2) {
		if (strcmp(word, "EXISTS") == 0)
			*(long *)arg = n;
		else if (strcmp(word, "EXPUNGE") == 0 && *(long *)arg > 0)
			(*(long *)arg)--;
	}
}

/* ---------------------------------------------------------------- messages */

static char body_fill[1 << 16];

static void make_fill(void)
{
	/* words and spaces, 72 characters and CRLF a line */
	static const char *words[] = { "mail", "server", "tern", "inbox", "folder", "message", "report", "meeting",
	                               "tomorrow", "budget", "project", "invoice", "coffee", "review", "draft" };
	size_t i = 0;
	unsigned x = 777;
	while (i + 74 <= sizeof body_fill) {
		size_t col = 0;
		while (col < 64) {
			x = x * 1103515245 + 12345;
			const char *w = words[(x >> 16) % (sizeof words / sizeof *words)];
			size_t wl = strlen(w);
			memcpy(body_fill + i + col, w, wl);
			col += wl;
			body_fill[i + col++] = ' ';
		}
		while (col < 72)
			body_fill[i + col++] = '.';
		body_fill[i + 72] = '\r';
		body_fill[i + 73] = '\n';
		i += 74;
	}
	memset(body_fill + i, ' ', sizeof body_fill - i);
}

/* A message of about size bytes (CRLF, no dot-stuffing needed: no line
 * starts with a dot) into out; returns its length. */
static size_t make_message(char *out, size_t outsize, const char *rcpt, const char *subject, long size)
{
	char date[64];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	int h = snprintf(out, outsize,
	                 "From: Bench Sender <sender@bench.test>\r\nTo: <%s>\r\nSubject: %s\r\n"
	                 "Date: %s\r\nMessage-ID: <%ld.%d.%u@bench.test>\r\nMIME-Version: 1.0\r\n"
	                 "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
	                 rcpt, subject, date, (long)t, (int)getpid(), (unsigned)rand());
	if (h < 0 || (size_t)h >= outsize)
		die("message header too long");
	long body = size - h;
	if (body < 74)
		body = 74;
	body -= body % 74;
	if ((size_t)body > sizeof body_fill - 74)
		body = (long)(sizeof body_fill - 74);
	if ((size_t)(h + body) > outsize)
		die("message too long");
	memcpy(out + h, body_fill, (size_t)body);
	return (size_t)h + (size_t)body;
}

/* ---------------------------------------------------------------- SMTP / LMTP */

/* Reads an SMTP reply (all continuation lines).  Returns its code or -1. */
static int smtp_reply(struct io *io, char *last, size_t lastsize)
{
	char line[2048];
	for (;;) {
		ssize_t n = io_line(io, line, sizeof line);
		if (n < 0)
			return -1;
		if (n < 4 || line[3] != '-') {
			if (last != NULL)
				snprintf(last, lastsize, "%.300s", line);
			return n >= 3 ? atoi(line) : -1;
		}
	}
}

static int smtp_open(struct io *io, int port)
{
	if (io_open(io, port, false) != 0 || smtp_reply(io, NULL, 0) != 220)
		return -1;
	if (io_printf(io, "%s client.bench.test\r\n", o.lhlo ? "LHLO" : "EHLO") != 0 || smtp_reply(io, NULL, 0) != 250)
		return -1;
	return 0;
}

/* One transaction; data is the message with CRLF line ends and dot-stuffed,
 * without the final ".\r\n".  Returns the code after DATA (250) or -1. */
static int smtp_send(struct io *io, const char *rcpt, const char *data, size_t len, char *last, size_t lastsize)
{
	int code;
	if (io_printf(io, "MAIL FROM:<sender@bench.test>\r\n") != 0)
		return -1;
	if ((code = smtp_reply(io, last, lastsize)) != 250)
		return code;
	if (io_printf(io, "RCPT TO:<%s>\r\n", rcpt) != 0)
		return -1;
	if ((code = smtp_reply(io, last, lastsize)) != 250)
		return code;
	if (io_printf(io, "DATA\r\n") != 0)
		return -1;
	if ((code = smtp_reply(io, last, lastsize)) != 354)
		return code;
	if (io_write(io, data, len) != 0 || io_write(io, ".\r\n", 3) != 0)
		return -1;
	return smtp_reply(io, last, lastsize);
}

static void smtp_close(struct io *io)
{
	io_printf(io, "QUIT\r\n");
	smtp_reply(io, NULL, 0);
	io_close(io);
}

/* ---------------------------------------------------------------- idle */

struct idle_conn {
	int fd;
	int user;
	SSL *ssl;
	bool closed;
	uint16_t len;
	char buf[IDLE_BUF];
};

/* One slot per user: a delivery arms it, its first EXISTS stamps it. */
struct slot {
	_Atomic int armed;
	_Atomic int64_t t_ack;   /* 250 after DATA */
	_Atomic int64_t t_seen;  /* first untagged EXISTS after arming */
};

static struct idle_conn *conns;
static struct slot *slots;          /* indexed by user number */
static atomic_long next_conn, login_ok, login_fail;
static atomic_long lost;            /* idle connections the server closed */
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int busy;             /* a test command is running */

static int conn_user(long i)
{
	return o.first_user + (int)(i % o.users);
}

static void *login_thread(void *arg)
{
	struct io *io = calloc(1, sizeof *io);
	char why[600], last[512];
	if (io == NULL)
		die("out of memory");
	for (;;) {
		long i = atomic_fetch_add(&next_conn, 1);
		if (i >= o.count)
			break;
		struct idle_conn *c = &conns[i];
		c->user = conn_user(i);
		c->fd = -1;
		c->closed = true;
		if (io_open(io, o.port, o.tls) != 0) {
			say("connection %ld: connect%s failed: %s", i, o.tls ? "/TLS" : "", strerror(errno));
			atomic_fetch_add(&login_fail, 1);
			continue;
		}
		if (imap_login(io, c->user, why, sizeof why) != 0)
			goto failed;
		int r = imap_cmd(io, "S", NULL, NULL, "SELECT INBOX");
		if (r != 0) {
			snprintf(why, sizeof why, "SELECT INBOX failed (%d)", r);
			goto failed;
		}
		if (io_printf(io, "I IDLE\r\n") != 0) {
			snprintf(why, sizeof why, "write failed");
			goto failed;
		}
		char line[LINE_MAX_LEN];
		for (;;) {
			if (io_line(io, line, sizeof line) < 0) {
				snprintf(why, sizeof why, "IDLE: connection lost");
				goto failed;
			}
			if (line[0] == '+')
				break;
			if (strncmp(line, "I ", 2) == 0) {
				snprintf(last, sizeof last, "%.300s", line);
				snprintf(why, sizeof why, "IDLE refused: %.300s", last);
				goto failed;
			}
		}
		/* hand the connection to the epoll loop */
		c->fd = io->fd;
		c->ssl = io->ssl;
		c->closed = false;
		c->len = 0;
		if (io->end > io->start) {
			size_t n = io->end - io->start;
			if (n > sizeof c->buf)
				n = sizeof c->buf;
			memcpy(c->buf, io->buf + io->start, n);
			c->len = (uint16_t)n;
		}
		io->fd = -1;
		io->ssl = NULL;
		fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
		atomic_fetch_add(&login_ok, 1);
		continue;
	failed:
		if (atomic_load(&login_fail) < 10)
			say("connection %ld: %s", i, why);
		atomic_fetch_add(&login_fail, 1);
		io_close(io);
	}
	free(io);
	return NULL;
}

static void idle_line(struct idle_conn *c, const char *line)
{
	long n;
	char word[16];
	if (sscanf(line, "* %ld %15s", &n, word) == 2 && strcmp(word, "EXISTS") == 0) {
		struct slot *s = &slots[c->user];
		int64_t zero = 0;
		if (atomic_load(&s->armed))
			atomic_compare_exchange_strong(&s->t_seen, &zero, now_ns());
	}
}

/* Reads what the server sent on an idling connection and handles its lines. */
static void idle_read(struct idle_conn *c)
{
	for (;;) {
		size_t room = sizeof c->buf - c->len;
		ssize_t r;
		if (c->ssl != NULL) {
			int k = SSL_read(c->ssl, c->buf + c->len, (int)room);
			if (k <= 0) {
				int e = SSL_get_error(c->ssl, k);
				ERR_clear_error();
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return;
				r = 0;
			} else {
				r = k;
			}
		} else {
			r = read(c->fd, c->buf + c->len, room);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				return;
		}
		if (r <= 0) {
			c->closed = true;
			atomic_fetch_add(&lost, 1);
			close(c->fd);   /* epoll forgets a closed descriptor */
			return;
		}
		c->len += (uint16_t)r;
		size_t start = 0;
		for (;;) {
			char *nl = memchr(c->buf + start, '\n', c->len - start);
			if (nl == NULL)
				break;
			*nl = '\0';
			idle_line(c, c->buf + start);
			start = (size_t)(nl - c->buf) + 1;
		}
		if (start == 0 && c->len == sizeof c->buf)
			start = c->len;   /* a line longer than the buffer: dropped */
		memmove(c->buf, c->buf + start, c->len - start);
		c->len = (uint16_t)(c->len - start);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)n);
	if (i >= n)
		i = n - 1;
	return v[i];
}

/* The users a test delivers to: spread evenly over the users, offset by
 * `shift` so that successive tests pick different ones when they can. */
static int pick_user(long k, long m, long shift)
{
	long step = o.users / m > 0 ? o.users / m : 1;
	return o.first_user + (int)((k * step + shift) % o.users);
}

struct burst {
	long m;            /* deliveries */
	int s;             /* parallel sessions */
	long shift;
	atomic_long next;
	atomic_long failed;
	int *users;
	double t_first_ack, t_last_ack;
	pthread_mutex_t lock;
};

static char *notice_msg(size_t *len, const char *rcpt, long k)
{
	static __thread char msg[4096];
	char subject[64];
	snprintf(subject, sizeof subject, "push %ld", k);
	*len = make_message(msg, sizeof msg, rcpt, subject, 1024);
	return msg;
}

static void arm(int user)
{
	struct slot *s = &slots[user];
	atomic_store(&s->t_seen, 0);
	atomic_store(&s->t_ack, 0);
	atomic_store(&s->armed, 1);
}

static void *burst_thread(void *arg)
{
	struct burst *b = arg;
	struct io *io = calloc(1, sizeof *io);
	char rcpt[256], last[512];
	if (io == NULL)
		die("out of memory");
	if (smtp_open(io, o.smtp_port) != 0) {
		say("delivery session: connect/greeting failed");
		goto out;
	}
	for (;;) {
		long k = atomic_fetch_add(&b->next, 1);
		if (k >= b->m)
			break;
		int u = b->users[k];
		user_name(rcpt, sizeof rcpt, u);
		size_t len;
		const char *msg = notice_msg(&len, rcpt, k);
		arm(u);
		int code = smtp_send(io, rcpt, msg, len, last, sizeof last);
		double t = now();
		if (code != 250) {
			say("delivery to %s refused: %s", rcpt, code < 0 ? "(connection lost)" : last);
			atomic_fetch_add(&b->failed, 1);
			atomic_store(&slots[u].armed, 0);
			if (code < 0)
				break;
			io_printf(io, "RSET\r\n");
			smtp_reply(io, NULL, 0);
			continue;
		}
		atomic_store(&slots[u].t_ack, now_ns());
		pthread_mutex_lock(&b->lock);
		if (b->t_first_ack == 0 || t < b->t_first_ack)
			b->t_first_ack = t;
		if (t > b->t_last_ack)
			b->t_last_ack = t;
		pthread_mutex_unlock(&b->lock);
	}
	smtp_close(io);
out:
	io_close(io);
	free(io);
	return NULL;
}

/* Waits until every delivered user has seen its EXISTS (or the timeout),
 * then prints the latencies.  kind is "one" or "burst". */
static void report(const char *kind, const int *users, long m, long failed, double deliver_s)
{
	double *lat = calloc((size_t)m, sizeof *lat);
	size_t n = 0;
	long missed = 0, early = 0;
	double deadline = now() + o.timeout;
	for (long k = 0; k < m; k++) {
		struct slot *s = &slots[users[k]];
		if (!atomic_load(&s->armed))
			continue;   /* refused */
		while (atomic_load(&s->t_seen) == 0 && now() < deadline)
			usleep(500);
		int64_t seen = atomic_load(&s->t_seen), ack = atomic_load(&s->t_ack);
		atomic_store(&s->armed, 0);
		if (seen == 0 || ack == 0) {
			missed++;
			continue;
		}
		double l = (double)(seen - ack) / 1e9;
		if (l < 0) {
			early++;   /* the EXISTS came before the 250 */
			l = 0;
		}
		lat[n++] = l;
	}
	qsort(lat, n, sizeof *lat, cmp_double);
	double cpu;
	long maxrss;
	client_cost(&cpu, &maxrss);
	pthread_mutex_lock(&out_lock);
	printf("RESULT test=%d deliveries=%ld failed=%ld seen=%zu missed=%ld early=%ld p50_ms=%.2f p99_ms=%.2f "
	       "max_ms=%.2f min_ms=%.2f deliver_seconds=%.3f lost=%ld client_cpu_s=%.2f client_rss_kib=%ld\n",
	       kind[0] == 'o' ? 1 : 2, m, failed, n, missed, early, pct(lat, n, 0.5) * 1e3, pct(lat, n, 0.99) * 1e3,
	       n ? lat[n - 1] * 1e3 : 0, n ? lat[0] * 1e3 : 0, deliver_s, (long)atomic_load(&lost), cpu,
	       current_rss_kib());
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
	free(lat);
}

struct test {
	char kind;   /* 'o' one, 'b' burst */
	long m;
	int s;
};

static long test_shift;

static void *test_thread(void *arg)
{
	struct test *t = arg;
	long m = t->m > o.users ? o.users : t->m;
	int *users = calloc((size_t)m, sizeof *users);
	long shift = test_shift;
	test_shift += 7;
	for (long k = 0; k < m; k++)
		users[k] = pick_user(k, m, shift);
	if (t->kind == 'o') {
		/* one at a time: deliver, wait for its EXISTS, next */
		struct io *io = calloc(1, sizeof *io);
		char rcpt[256], last[512];
		long failed = 0;
		double t0 = now();
		if (smtp_open(io, o.smtp_port) != 0)
			die("delivery session: connect/greeting failed");
		for (long k = 0; k < m; k++) {
			int u = users[k];
			size_t len;
			user_name(rcpt, sizeof rcpt, u);
			const char *msg = notice_msg(&len, rcpt, k);
			arm(u);
			int code = smtp_send(io, rcpt, msg, len, last, sizeof last);
			if (code != 250) {
				say("delivery to %s refused: %s", rcpt, code < 0 ? "(connection lost)" : last);
				atomic_store(&slots[u].armed, 0);
				failed++;
				if (code < 0)
					break;
				io_printf(io, "RSET\r\n");
				smtp_reply(io, NULL, 0);
				continue;
			}
			atomic_store(&slots[u].t_ack, now_ns());
			double deadline = now() + o.timeout;
			while (atomic_load(&slots[u].t_seen) == 0 && now() < deadline)
				usleep(200);
			usleep(20000);   /* let the server settle between samples */
		}
		smtp_close(io);
		free(io);
		report("one", users, m, failed, now() - t0);
	} else {
		struct burst b = { .m = m, .s = t->s, .shift = shift, .users = users };
		pthread_t th[MAX_THREADS];
		pthread_mutex_init(&b.lock, NULL);
		double t0 = now();
		for (int i = 0; i < b.s; i++)
			if (pthread_create(&th[i], NULL, burst_thread, &b) != 0)
				die("pthread_create failed");
		for (int i = 0; i < b.s; i++)
			pthread_join(th[i], NULL);
		report("burst", users, m, atomic_load(&b.failed), b.t_last_ack - t0);
	}
	free(users);
	free(t);
	atomic_store(&busy, 0);
	return NULL;
}

static int run_idle(void)
{
	if (o.users <= 0)
		o.users = (int)o.count;
	conns = calloc((size_t)o.count, sizeof *conns);
	slots = calloc((size_t)(o.first_user + o.users + 1), sizeof *slots);
	if (conns == NULL || slots == NULL)
		die("out of memory");
	make_fill();
	pthread_t th[MAX_THREADS];
	double t0 = now();
	for (int i = 0; i < o.threads; i++)
		if (pthread_create(&th[i], NULL, login_thread, NULL) != 0)
			die("pthread_create failed");
	for (int i = 0; i < o.threads; i++)
		pthread_join(th[i], NULL);
	double login_s = now() - t0;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	for (long i = 0; i < o.count; i++) {
		if (conns[i].closed)
			continue;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
			die("epoll_ctl: %s", strerror(errno));
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
	double cpu;
	long maxrss;
	client_cost(&cpu, &maxrss);
	printf("READY open=%ld failed=%ld login_seconds=%.2f client_cpu_s=%.2f client_rss_kib=%ld\n",
	       (long)atomic_load(&login_ok), (long)atomic_load(&login_fail), login_s, cpu, current_rss_kib());
	fflush(stdout);
	char cmd[256];
	size_t cmdlen = 0;
	bool done = false;
	struct epoll_event evs[256];
	while (!done) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (int k = 0; k < n; k++) {
			struct idle_conn *c = evs[k].data.ptr;
			if (c != NULL) {
				if (!c->closed)
					idle_read(c);
				continue;
			}
			ssize_t r = read(0, cmd + cmdlen, sizeof cmd - 1 - cmdlen);
			if (r <= 0) {
				done = true;
				break;
			}
			cmdlen += (size_t)r;
			char *nl;
			while ((nl = memchr(cmd, '\n', cmdlen)) != NULL) {
				*nl = '\0';
				struct test *t = calloc(1, sizeof *t);
				long a = 0, b = 0;
				char word[16] = "";
				sscanf(cmd, "%15s %ld %ld", word, &a, &b);
				if (strcmp(word, "one") == 0 && a > 0) {
					*t = (struct test){ .kind = 'o', .m = a };
				} else if (strcmp(word, "burst") == 0 && a > 0 && b > 0 && b <= MAX_THREADS) {
					*t = (struct test){ .kind = 'b', .m = a, .s = (int)b };
				} else {
					say("unknown command: %s", cmd);
					free(t);
					t = NULL;
				}
				if (t != NULL) {
					/* the previous test has printed its RESULT and is
					 * only freeing its memory */
					while (atomic_exchange(&busy, 1))
						usleep(100);
					pthread_t tt;
					if (pthread_create(&tt, NULL, test_thread, t) != 0)
						die("pthread_create failed");
					pthread_detach(tt);
				}
				size_t used = (size_t)(nl - cmd) + 1;
				memmove(cmd, cmd + used, cmdlen - used);
				cmdlen -= used;
			}
			if (cmdlen == sizeof cmd - 1)
				cmdlen = 0;
		}
	}
	while (atomic_load(&busy))
		usleep(10000);
	long still = 0, opened = atomic_load(&login_ok);
	for (long i = 0; i < o.count; i++) {
		struct idle_conn *c = &conns[i];
		if (c->closed)
			continue;
		char b;
		ssize_t r = recv(c->fd, &b, 1, MSG_DONTWAIT | MSG_PEEK);
		if (r > 0 || (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
			still++;
		close(c->fd);   /* no LOGOUT: the server sees the connections drop, like a client that went away */
	}
	client_cost(&cpu, &maxrss);
	printf("RESULT test=0 open=%ld still_open=%ld client_cpu_s=%.2f client_maxrss_kib=%ld\n", opened, still, cpu,
	       maxrss);
	return opened == o.count ? 0 : 1;
}

/* ---------------------------------------------------------------- mixed */

enum op { OP_SELECT, OP_FETCH_HEADERS, OP_FETCH_BODY, OP_STORE, OP_APPEND, OP_DELETE, OP_EXPUNGE, OP_COUNT };
static const char *op_names[OP_COUNT] = { "select", "fetch_headers", "fetch_body", "store", "append", "store_deleted",
                                          "expunge" };
/* weights of the random choice; STORE \Deleted is always followed by EXPUNGE */
static const int op_weight[OP_COUNT] = { 5, 30, 15, 25, 12, 0, 13 };

static atomic_long op_done[OP_COUNT], op_no, op_bad, mix_fail;
static pthread_barrier_t mix_barrier;
static double mix_deadline;
static double *mix_lat[MAX_THREADS];
static size_t mix_nlat[MAX_THREADS];
#define MIX_LAT_MAX 2000000

static unsigned xorshift(unsigned *s)
{
	unsigned x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

struct mixer {
	int id;
	long exists;
	bool literal_plus;
};

static void caps(const char *line, void *arg)
{
	if (strstr(line, "CAPABILITY") != NULL && strstr(line, "LITERAL+") != NULL)
		*(bool *)arg = true;
}

static void *mixed_thread(void *arg)
{
	struct mixer *mx = arg;
	struct io *io = calloc(1, sizeof *io);
	char why[600], rcpt[256], tag[32], last[512];
	unsigned rnd = o.seed * 2654435761u + (unsigned)mx->id * 97 + 1;
	size_t msgcap = (size_t)o.msg_size + 4096;
	char *msg = malloc(msgcap);
	bool ok = false;
	long seq = 0;
	if (io == NULL || msg == NULL)
		die("out of memory");
	int user = o.first_user + mx->id % o.users;
	user_name(rcpt, sizeof rcpt, user);
	mix_lat[mx->id] = malloc(MIX_LAT_MAX / (size_t)o.sessions * sizeof(double));
	if (io_open(io, o.port, o.tls) != 0) {
		snprintf(why, sizeof why, "connect failed");
		goto ready;
	}
	if (imap_login(io, user, why, sizeof why) != 0)
		goto ready;
	if (imap_cmd(io, "C", caps, &mx->literal_plus, "CAPABILITY") != 0 ||
	    imap_cmd(io, "S", count_exists, &mx->exists, "SELECT INBOX") != 0) {
		snprintf(why, sizeof why, "CAPABILITY/SELECT failed");
		goto ready;
	}
	ok = true;
ready:
	if (!ok) {
		say("session %d (%s): %s", mx->id, rcpt, why);
		atomic_fetch_add(&mix_fail, 1);
	}
	pthread_barrier_wait(&mix_barrier);   /* logged in */
	pthread_barrier_wait(&mix_barrier);   /* the deadline is set */
	if (!ok)
		goto out;
	int total_w = 0;
	for (int i = 0; i < OP_COUNT; i++)
		total_w += op_weight[i];
	while (now() < mix_deadline) {
		int w = (int)(xorshift(&rnd) % (unsigned)total_w);
		enum op op = OP_SELECT;
		while (w >= op_weight[op])
			w -= op_weight[op++];
		if (mx->exists == 0 && op != OP_SELECT)
			op = OP_APPEND;   /* nothing to fetch, store or expunge */
		long n = mx->exists > 0 ? 1 + (long)(xorshift(&rnd) % (unsigned)mx->exists) : 0;
		snprintf(tag, sizeof tag, "M%ld", ++seq);
		double t0 = now();
		int r = -1;
		switch (op) {
		case OP_SELECT:
			r = imap_cmd(io, tag, count_exists, &mx->exists, "SELECT INBOX");
			break;
		case OP_FETCH_HEADERS: {
			long hi = n + 9 > mx->exists ? mx->exists : n + 9;
			r = imap_cmd(io, tag, count_exists, &mx->exists, "FETCH %ld:%ld (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)",
			             n, hi);
			break;
		}
		case OP_FETCH_BODY:
			r = imap_cmd(io, tag, count_exists, &mx->exists, "FETCH %ld (UID BODY.PEEK[])", n);
			break;
		case OP_STORE: {
			static const char *flags[] = { "\\Seen", "\\Flagged", "\\Answered", "$Label1" };
			const char *f = flags[xorshift(&rnd) % 4];
			r = imap_cmd(io, tag, count_exists, &mx->exists, "STORE %ld %cFLAGS (%s)", n,
			             xorshift(&rnd) % 3 ? '+' : '-', f);
			break;
		}
		case OP_APPEND: {
			char subject[64];
			snprintf(subject, sizeof subject, "appended %d.%ld", mx->id, seq);
			size_t len = make_message(msg, msgcap, rcpt, subject, o.msg_size);
			if (io_printf(io, "%s APPEND INBOX (\\Seen) {%zu%s}\r\n", tag, len, mx->literal_plus ? "+" : "") != 0)
				break;
			if (!mx->literal_plus) {
				char line[LINE_MAX_LEN];
				if (io_line(io, line, sizeof line) < 0)
					break;
				if (line[0] != '+') {
					r = 2;
					break;
				}
			}
			if (io_write(io, msg, len) != 0 || io_write(io, "\r\n", 2) != 0)
				break;
			r = imap_wait(io, tag, count_exists, &mx->exists, last, sizeof last);
			break;
		}
		case OP_EXPUNGE:
		case OP_DELETE:
			r = imap_cmd(io, tag, count_exists, &mx->exists, "STORE %ld +FLAGS.SILENT (\\Deleted)", n);
			if (r >= 0) {
				double t1 = now();
				atomic_fetch_add(&op_done[OP_DELETE], 1);
				if (r == 1)
					atomic_fetch_add(&op_no, 1);
				else if (r == 2)
					atomic_fetch_add(&op_bad, 1);
				if (mix_nlat[mx->id] < MIX_LAT_MAX / (size_t)o.sessions)
					mix_lat[mx->id][mix_nlat[mx->id]++] = t1 - t0;
				t0 = t1;
				snprintf(tag, sizeof tag, "M%ld", ++seq);
				r = imap_cmd(io, tag, count_exists, &mx->exists, "EXPUNGE");
			}
			op = OP_EXPUNGE;
			break;
		case OP_COUNT:
			break;
		}
		if (r < 0) {
			say("session %d: connection lost during %s", mx->id, op_names[op]);
			atomic_fetch_add(&mix_fail, 1);
			goto out;
		}
		double t1 = now();
		if (t1 <= mix_deadline) {
			atomic_fetch_add(&op_done[op], 1);
			if (r == 1)
				atomic_fetch_add(&op_no, 1);
			else if (r == 2)
				atomic_fetch_add(&op_bad, 1);
			if (mix_nlat[mx->id] < MIX_LAT_MAX / (size_t)o.sessions)
				mix_lat[mx->id][mix_nlat[mx->id]++] = t1 - t0;
		}
	}
	imap_cmd(io, "Z", NULL, NULL, "LOGOUT");
out:
	io_close(io);
	free(io);
	free(msg);
	return NULL;
}

static int run_mixed(void)
{
	if (o.users <= 0)
		o.users = o.sessions;
	if (o.sessions > MAX_THREADS)
		die("--sessions at most %d", MAX_THREADS);
	make_fill();
	pthread_t th[MAX_THREADS];
	struct mixer mx[MAX_THREADS];
	pthread_barrier_init(&mix_barrier, NULL, (unsigned)o.sessions + 1);
	for (int i = 0; i < o.sessions; i++) {
		mx[i] = (struct mixer){ .id = i };
		if (pthread_create(&th[i], NULL, mixed_thread, &mx[i]) != 0)
			die("pthread_create failed");
	}
	/* the clock starts when every session is logged in and selected: a
	 * first wait for the logins, then the deadline, then a second wait
	 * that lets them go */
	pthread_barrier_wait(&mix_barrier);
	double cpu0;
	long maxrss;
	client_cost(&cpu0, &maxrss);
	double t0 = now();
	mix_deadline = t0 + o.seconds;
	printf("START\n");
	fflush(stdout);
	pthread_barrier_wait(&mix_barrier);
	/* STOP at the deadline, so that the caller's readings of the server's
	 * CPU bracket the measured time (the sessions still finish the
	 * command they are in and log out after it) */
	while (now() < mix_deadline)
		usleep(1000);
	printf("STOP\n");
	fflush(stdout);
	for (int i = 0; i < o.sessions; i++)
		pthread_join(th[i], NULL);
	double secs = o.seconds;
	double cpu1;
	client_cost(&cpu1, &maxrss);
	long total = 0;
	for (int i = 0; i < OP_COUNT; i++)
		total += atomic_load(&op_done[i]);
	size_t nl = 0;
	for (int i = 0; i < o.sessions; i++)
		nl += mix_nlat[i];
	double *lat = malloc((nl + 1) * sizeof *lat);
	nl = 0;
	for (int i = 0; i < o.sessions; i++) {
		memcpy(lat + nl, mix_lat[i], mix_nlat[i] * sizeof *lat);
		nl += mix_nlat[i];
		free(mix_lat[i]);
	}
	qsort(lat, nl, sizeof *lat, cmp_double);
	printf("RESULT commands=%ld seconds=%.3f rate=%.1f no=%ld bad=%ld failed=%ld p50_ms=%.3f p99_ms=%.3f "
	       "client_cpu_s=%.2f client_maxrss_kib=%ld",
	       total, secs, total / secs, (long)atomic_load(&op_no), (long)atomic_load(&op_bad),
	       (long)atomic_load(&mix_fail), pct(lat, nl, 0.5) * 1e3, pct(lat, nl, 0.99) * 1e3, cpu1 - cpu0, maxrss);
	for (int i = 0; i < OP_COUNT; i++)
		printf(" %s=%ld", op_names[i], (long)atomic_load(&op_done[i]));
	printf("\n");
	free(lat);
	return atomic_load(&mix_fail) == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- send */

static char **files;
static size_t nfiles;
static atomic_long next_file, send_ok, send_fail;

/* Reads a file into CRLF, dot-stuffed SMTP DATA form.  Returns a malloc'd
 * buffer and its length in *len, or NULL. */
static char *load_message(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	struct stat st;
	fstat(fileno(f), &st);
	size_t cap = (size_t)st.st_size * 2 + 8, n = 0;
	char *out = malloc(cap);
	char *raw = malloc((size_t)st.st_size + 1);
	size_t got = fread(raw, 1, (size_t)st.st_size, f);
	fclose(f);
	bool bol = true;
	for (size_t i = 0; i < got; i++) {
		char c = raw[i];
		if (bol && c == '.')
			out[n++] = '.';
		if (c == '\n' && (i == 0 || raw[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = c;
		bol = c == '\n';
	}
	if (!bol) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	free(raw);
	*len = n;
	return out;
}

static void *send_thread(void *arg)
{
	struct io *io = calloc(1, sizeof *io);
	char last[512];
	if (io == NULL)
		die("out of memory");
	if (smtp_open(io, o.port) != 0) {
		say("send: connect/greeting failed");
		goto out;
	}
	for (;;) {
		long i = atomic_fetch_add(&next_file, 1);
		if ((size_t)i >= nfiles)
			break;
		size_t len;
		char *m = load_message(files[i], &len);
		if (m == NULL) {
			say("cannot read %s", files[i]);
			atomic_fetch_add(&send_fail, 1);
			continue;
		}
		int code = smtp_send(io, o.rcpt, m, len, last, sizeof last);
		free(m);
		if (code == 250) {
			atomic_fetch_add(&send_ok, 1);
			continue;
		}
		atomic_fetch_add(&send_fail, 1);
		say("%s refused: %s", files[i], code < 0 ? "(connection lost)" : last);
		if (code < 0)
			goto out;
		io_printf(io, "RSET\r\n");
		smtp_reply(io, NULL, 0);
	}
	smtp_close(io);
out:
	io_close(io);
	free(io);
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_send(void)
{
	if (o.dir == NULL || o.rcpt == NULL)
		die("send needs --dir and --rcpt");
	DIR *d = opendir(o.dir);
	if (d == NULL)
		die("%s: %s", o.dir, strerror(errno));
	size_t cap = 1024;
	files = malloc(cap * sizeof *files);
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (nfiles == cap)
			files = realloc(files, (cap *= 2) * sizeof *files);
		if (asprintf(&files[nfiles++], "%s/%s", o.dir, e->d_name) < 0)
			die("out of memory");
	}
	closedir(d);
	qsort(files, nfiles, sizeof *files, cmp_str);
	pthread_t th[MAX_THREADS];
	double t0 = now();
	for (int i = 0; i < o.sessions; i++)
		if (pthread_create(&th[i], NULL, send_thread, NULL) != 0)
			die("pthread_create failed");
	for (int i = 0; i < o.sessions; i++)
		pthread_join(th[i], NULL);
	double secs = now() - t0;
	printf("RESULT files=%zu accepted=%ld failed=%ld seconds=%.3f rate=%.1f\n", nfiles, (long)atomic_load(&send_ok),
	       (long)atomic_load(&send_fail), secs, atomic_load(&send_ok) / secs);
	return atomic_load(&send_ok) == (long)nfiles ? 0 : 1;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	fputs("usage: tern-imapload MODE --port N [options]\n"
	      "modes: idle | mixed | send\n"
	      "  --host A          IPv4 address (127.0.0.1)\n"
	      "  --tls             implicit TLS (idle, mixed)\n"
	      "  --users FMT       user name format with one %d (user%05d@example.test)\n"
	      "  --user-count U    users the connections are spread over (idle: --count; mixed: --sessions)\n"
	      "  --first-user K    number of the first user (1)\n"
	      "  --password P      password for every user (bench-password)\n"
	      "  --count N         idle: connections (1000)\n"
	      "  --threads T       idle: login threads (8)\n"
	      "  --smtp-port P     idle: SMTP (or LMTP with --lhlo) port deliveries go to\n"
	      "  --lhlo            idle, send: speak LMTP\n"
	      "  --timeout S       idle: how long to wait for an EXISTS (10)\n"
	      "  --sessions S      mixed: clients (8); send: SMTP sessions\n"
	      "  --seconds T       mixed: how long (20)\n"
	      "  --seed N          mixed: random seed (1)\n"
	      "  --size B          mixed: APPEND size (4096)\n"
	      "  --dir D           send: directory of messages, one per file\n"
	      "  --rcpt ADDR       send: recipient\n"
	      "idle reads commands on stdin: 'one K', 'burst M S'; EOF ends it.\n",
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
		else if (OPT("--users"))
			o.user_fmt = v;
		else if (OPT("--user-count"))
			o.users = atoi(v);
		else if (OPT("--first-user"))
			o.first_user = atoi(v);
		else if (OPT("--password"))
			o.password = v;
		else if (OPT("--count"))
			o.count = atol(v);
		else if (OPT("--threads"))
			o.threads = atoi(v);
		else if (OPT("--smtp-port"))
			o.smtp_port = atoi(v);
		else if (OPT("--timeout"))
			o.timeout = atof(v);
		else if (OPT("--sessions"))
			o.sessions = atoi(v);
		else if (OPT("--seconds"))
			o.seconds = atof(v);
		else if (OPT("--seed"))
			o.seed = (unsigned)atol(v);
		else if (OPT("--size"))
			o.msg_size = atol(v);
		else if (OPT("--dir"))
			o.dir = v;
		else if (OPT("--rcpt"))
			o.rcpt = v;
		else
			usage();
#undef OPT
	}
	if (o.port <= 0 || o.count < 1 || o.threads < 1 || o.threads > MAX_THREADS || o.sessions < 1 ||
	    o.sessions > MAX_THREADS || o.msg_size < 256 || o.msg_size > (long)sizeof body_fill)
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
	SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_TICKET);
	if (strcmp(o.mode, "idle") == 0) {
		if (o.smtp_port <= 0)
			die("idle needs --smtp-port");
		return run_idle();
	}
	if (strcmp(o.mode, "mixed") == 0)
		return run_mixed();
	if (strcmp(o.mode, "send") == 0)
		return run_send();
	usage();
	return 2;
}
