/* Tests for src/mta against real peers: Postfix's smtp-sink (scripted
 * refusals, with and without PIPELINING, the messages it received dumped
 * to files), a port nobody listens on, and a socket that accepts and
 * never speaks.  The reply and EHLO parsers are fed byte by byte.
 * Skips the smtp-sink cases (and says so) where /usr/sbin/smtp-sink is
 * missing. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/evloop.h"
#include "lib/log.h"
#include "mta/mta.h"
#include "mta/mta_reply.h"
#include "test.h"

#define SINK "/usr/sbin/smtp-sink"

/* What one run saw. */
struct run {
	const struct mta_msg *msgs[4];
	size_t n_msgs, next;
	struct mta_reply res[4][8];
	size_t done;
	bool closed;
	bool clean;
	bool tls_failed;
	struct mta_reply why;
	bool had_pipelining;
};

static struct evloop *loop;

static void
on_ready(void *arg, struct mta_session *s)
{
	struct run *r = arg;

	r->had_pipelining = mta_session_has(s, "PIPELINING");
	if (r->next < r->n_msgs)
		mta_session_send(s, r->msgs[r->next++]);
	else
		mta_session_quit(s);
}

static void
on_msg_done(void *arg, struct mta_session *s, const struct mta_msg *m, const struct mta_reply *per_rcpt)
{
	struct run *r = arg;

	for (size_t i = 0; i < m->n_rcpts && i < 8; i++)
		r->res[r->done][i] = per_rcpt[i];
	r->done++;
}

static void
on_closed(void *arg, struct mta_session *s, const struct mta_reply *why, bool tls_failed)
{
	struct run *r = arg;

	r->closed = true;
	r->clean = why == NULL;
	if (why != NULL)
		r->why = *why;
	r->tls_failed = tls_failed;
	evloop_stop(loop);
}

static const struct mta_callbacks cbs = { on_ready, on_msg_done, on_closed };

static void
give_up(void *arg)
{
	evloop_stop(loop);
}

/* Runs one session to port with the messages; returns after closed (or
 * 20 s, which fails the test). */
static void
run_session(struct run *r, unsigned port, const struct mta_params *p)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct evloop_timer *t;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	loop = evloop_new();
	test_assert(mta_session_connect(loop, (struct sockaddr *)&sin, sizeof(sin), p, &cbs, r) != NULL);
	t = evloop_timer_add(loop, 20000, give_up, NULL);
	evloop_run(loop);
	evloop_timer_cancel(loop, &t);
	test_assert(r->closed);
	evloop_free(&loop);
}

static unsigned
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static pid_t sink_pid;
static char sink_dir[64];

/* Starts smtp-sink on a free port with extra options (space-separated,
 * no quoting), dumping each message into sink_dir.  Returns the port. */
static unsigned
sink_start(const char *opts)
{
	unsigned port = free_port();
	char addr[32], tmpl[128], optbuf[256];
	const char *argv[32];
	size_t n = 0;

	strcpy(sink_dir, "/tmp/tern-mta-XXXXXX");
	if (mkdtemp(sink_dir) == NULL)
		return 0;
	chmod(sink_dir, 0777);   /* smtp-sink writes as nobody */
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", port);
	snprintf(tmpl, sizeof(tmpl), "%s/m.", sink_dir);
	argv[n++] = SINK;
	if (geteuid() == 0) {
		argv[n++] = "-u";
		argv[n++] = "nobody";
	}
	argv[n++] = "-d";
	argv[n++] = tmpl;
	snprintf(optbuf, sizeof(optbuf), "%s", opts);
	for (char *tok = strtok(optbuf, " "); tok != NULL && n < 28; tok = strtok(NULL, " "))
		argv[n++] = tok;
	argv[n++] = addr;
	argv[n++] = "10";
	argv[n] = NULL;
	sink_pid = fork();
	if (sink_pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		execv(SINK, (char *const *)argv);
		_exit(127);
	}
	/* Ready once it accepts. */
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int ok;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(fd);
		if (ok)
			return port;
		usleep(20000);
	}
	return port;
}

static void
sink_stop(void)
{
	char cmd[128];

	kill(sink_pid, SIGTERM);
	waitpid(sink_pid, NULL, 0);
	if (getenv("MTA_KEEP") != NULL) return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", sink_dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", sink_dir);
}

/* The messages smtp-sink dumped, concatenated in name order. */
static size_t
sink_dumps(struct buf *out)
{
	DIR *d = opendir(sink_dir);
	struct dirent *e;
	size_t n = 0;
	char path[512], tmp[65536];

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		int fd;
		ssize_t k;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", sink_dir, e->d_name);
		fd = open(path, O_RDONLY);
		while ((k = read(fd, tmp, sizeof(tmp))) > 0)
			buf_append(out, tmp, (size_t)k);
		close(fd);
		n++;
	}
	closedir(d);
	return n;
}

static int
msg_file(const char *content, size_t len)
{
	char path[] = "/tmp/tern-mta-msg-XXXXXX";
	int fd = mkstemp(path);

	unlink(path);
	if (write(fd, content, len) != (ssize_t)len)
		return -1;
	return fd;
}

static const struct mta_params base_params = {
	.helo_name = "client.test",
	.tls = MTA_TLS_NONE,
	.timeout_sec = 5,
};

static const char *const two_rcpts[] = { "a@example.org", "b@example.org" };

static const char body_dots[] =
	"From: a@example.net\r\nTo: b@example.org\r\nSubject: dots\r\n\r\n"
	".line starting with a dot\r\n"
	"..two dots\r\n"
	".\r\n"
	"middle . dot\r\n"
	"last line\r\n";

static bool
contains(const struct buf *b, const char *needle)
{
	return b->len > 0 && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

static void
test_plain(const char *opts, const char *name)
{
	struct run r = { 0 };
	struct buf dump = BUF_INIT;
	int fd = msg_file(body_dots, sizeof(body_dots) - 1);
	struct mta_msg m = {
		.id = "T1", .fd = fd, .size = sizeof(body_dots) - 1, .mail_from = "a@example.net",
		.rcpts = two_rcpts, .n_rcpts = 2,
		.prefix = "DKIM-Signature: v=1; test\r\n", .prefix_len = 27,
	};
	unsigned port = sink_start(opts);

	test_begin(name);
	r.msgs[0] = &m;
	r.n_msgs = 1;
	run_session(&r, port, &base_params);
	test_assert_inteq(r.done, 1);
	test_assert_inteq(r.res[0][0].code, 250);
	test_assert_inteq(r.res[0][1].code, 250);
	test_assert(r.clean);
	test_assert_inteq(sink_dumps(&dump), 1);
	/* smtp-sink undoes the dot-stuffing and stores lines with LF after
	 * its own headers: the prefix and then the file, line for line. */
	buf_puts(&dump, "");
	test_assert(contains(&dump, ")\nDKIM-Signature: v=1; test\nFrom: a@example.net\nTo: b@example.org\n"
	                            "Subject: dots\n\n.line starting with a dot\n..two dots\n.\nmiddle . dot\n"
	                            "last line\n"));
	test_assert(r.had_pipelining == (strstr(opts, "-p") == NULL));
	test_end();
	buf_free(&dump);
	close(fd);
	sink_stop();
}

/* Refusals scripted with smtp-sink's -f (5xx) and -r (4xx). */
static void
test_refused(const char *opts, const char *name, int code_a, int code_b)
{
	struct run r = { 0 };
	int fd = msg_file(body_dots, sizeof(body_dots) - 1);
	struct mta_msg m = {
		.id = "T2", .fd = fd, .size = sizeof(body_dots) - 1, .mail_from = "",
		.rcpts = two_rcpts, .n_rcpts = 2,
	};
	unsigned port = sink_start(opts);

	test_begin(name);
	r.msgs[0] = &m;
	r.msgs[1] = &m;
	r.n_msgs = 2;   /* the second message on the same connection */
	run_session(&r, port, &base_params);
	test_assert_inteq(r.done, 2);
	test_assert_inteq(r.res[0][0].code, code_a);
	test_assert_inteq(r.res[0][1].code, code_b);
	test_assert_inteq(r.res[1][0].code, code_a);
	test_assert(r.clean);
	test_end();
	close(fd);
	sink_stop();
}

static void
test_two_messages(void)
{
	struct run r = { 0 };
	struct buf dump = BUF_INIT;
	static const char other[] = "Subject: second\r\n\r\nno newline at the end";
	int fd1 = msg_file(body_dots, sizeof(body_dots) - 1), fd2 = msg_file(other, sizeof(other) - 1);
	struct mta_msg m1 = { .id = "A", .fd = fd1, .size = sizeof(body_dots) - 1, .mail_from = "x@example.net",
	                      .rcpts = two_rcpts, .n_rcpts = 1, .body_8bit = true };
	struct mta_msg m2 = { .id = "B", .fd = fd2, .size = sizeof(other) - 1, .mail_from = "x@example.net",
	                      .rcpts = two_rcpts + 1, .n_rcpts = 1 };
	unsigned port = sink_start("");

	test_begin("mta: two messages on one connection, the second not ending in CRLF");
	r.msgs[0] = &m1;
	r.msgs[1] = &m2;
	r.n_msgs = 2;
	run_session(&r, port, &base_params);
	test_assert_inteq(r.done, 2);
	test_assert_inteq(r.res[0][0].code, 250);
	test_assert_inteq(r.res[1][0].code, 250);
	test_assert_inteq(sink_dumps(&dump), 2);
	buf_puts(&dump, "");
	test_assert(contains(&dump, "\n\nno newline at the end\n"));
	test_assert(contains(&dump, "X-Mail-Args: <x@example.net> BODY=8BITMIME\n"));
	test_end();
	buf_free(&dump);
	close(fd1);
	close(fd2);
	sink_stop();
}

static void
test_smtputf8_absent(void)
{
	struct run r = { 0 };
	struct buf dump = BUF_INIT;
	int fd = msg_file(body_dots, sizeof(body_dots) - 1);
	struct mta_msg m = { .id = "U", .fd = fd, .size = sizeof(body_dots) - 1, .mail_from = "j\xc3\xb6rg@example.net",
	                     .rcpts = two_rcpts, .n_rcpts = 2, .smtputf8 = true };
	unsigned port = sink_start("");

	test_begin("mta: SMTPUTF8 needed, not offered: 550 5.6.7 made up here, no MAIL sent");
	r.msgs[0] = &m;
	r.n_msgs = 1;
	run_session(&r, port, &base_params);
	test_assert_inteq(r.done, 1);
	test_assert_inteq(r.res[0][0].code, 550);
	test_assert_inteq(r.res[0][1].code, 550);
	test_assert_streq(r.res[0][1].status, "5.6.7");
	test_assert(strstr(r.res[0][0].text, "SMTPUTF8") != NULL);
	test_assert_inteq(sink_dumps(&dump), 0);
	test_assert(r.clean);
	test_end();
	buf_free(&dump);
	close(fd);
	sink_stop();
}

static void
test_required_tls_absent(void)
{
	struct run r = { 0 };
	struct mta_params p = base_params;
	unsigned port = sink_start("");

	test_begin("mta: required TLS, no STARTTLS offered: closed with tls_failed and 4.7.4");
	p.tls = MTA_TLS_REQUIRED;
	p.tls_name = "mx.example.org";
	run_session(&r, port, &p);
	test_assert(!r.clean);
	test_assert(r.tls_failed);
	test_assert_inteq(r.why.code / 100, 4);
	test_assert_streq(r.why.status, "4.7.4");
	test_end();
	sink_stop();
}

static void
test_disconnect_421(void)
{
	struct run r = { 0 };
	int fd = msg_file(body_dots, sizeof(body_dots) - 1);
	struct mta_msg m = { .id = "Q", .fd = fd, .size = sizeof(body_dots) - 1, .mail_from = "x@example.net",
	                     .rcpts = two_rcpts, .n_rcpts = 2 };
	unsigned port = sink_start("-Q RCPT");

	test_begin("mta: 421 and hang-up at RCPT: every recipient gets an answer, then closed");
	r.msgs[0] = &m;
	r.n_msgs = 1;
	run_session(&r, port, &base_params);
	test_assert_inteq(r.done, 1);
	test_assert(r.res[0][0].code == 421 || r.res[0][0].code == 0);
	test_assert(r.res[0][1].code == 421 || r.res[0][1].code == 0);
	test_assert(!r.clean);
	test_end();
	close(fd);
	sink_stop();
}

static void
test_refused_connection(void)
{
	struct run r = { 0 };

	test_begin("mta: connection refused: closed with code 0");
	run_session(&r, free_port(), &base_params);
	test_assert(!r.clean);
	test_assert_inteq(r.why.code, 0);
	test_assert(strstr(r.why.text, "refused") != NULL);
	test_end();
}

static void
test_greeting_timeout(void)
{
	struct run r = { 0 };
	struct mta_params p = base_params;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	/* The kernel completes the handshake; nobody ever says 220. */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	listen(fd, 4);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	test_begin("mta: no greeting: timeout, closed with code 0");
	p.timeout_sec = 1;
	run_session(&r, ntohs(sin.sin_port), &p);
	test_assert(!r.clean);
	test_assert_inteq(r.why.code, 0);
	test_assert(strstr(r.why.text, "timeout") != NULL);
	test_end();
	close(fd);
}

static void
test_reply_parser(void)
{
	static const char in[] = "250-mx.example.org hello\r\n250-SIZE 1000\r\n250-PIPELINING\r\n"
	                         "250-AUTH LOGIN PLAIN\r\n250 SMTPUTF8\r\n";
	struct mta_reply_parser p;
	struct mta_reply r;
	struct mta_ehlo e = { 0 };
	const char *error;
	const char *line = in;
	int n = 0;

	test_begin("mta_reply: multi-line EHLO reply and its keywords");
	mta_reply_parser_init(&p);
	while (*line != '\0') {
		const char *end = strstr(line, "\r\n");
		char tmp[128];
		bool first = p.lines == 0;

		memcpy(tmp, line, (size_t)(end - line));
		tmp[end - line] = '\0';
		n = mta_reply_feed(&p, tmp, (size_t)(end - line), &r, &error);
		if (!first && p.line_text != NULL)
			mta_ehlo_line(&e, p.line_text);
		line = end + 2;
	}
	test_assert_inteq(n, 1);
	test_assert_inteq(r.code, 250);
	test_assert_inteq(e.size_max, 1000);
	test_assert(e.ext & MTA_EXT_PIPELINING);
	test_assert(e.ext & MTA_EXT_SMTPUTF8);
	test_assert(e.auth == (MTA_AUTH_LOGIN | MTA_AUTH_PLAIN));
	test_end();

	test_begin("mta_reply: enhanced status codes, code changes, garbage");
	mta_reply_parser_init(&p);
	test_assert_inteq(mta_reply_feed(&p, "550-5.1.1 no such user", 22, &r, &error), 0);
	test_assert_inteq(mta_reply_feed(&p, "550 5.1.1 here either", 21, &r, &error), 1);
	test_assert_streq(r.status, "5.1.1");
	test_assert_streq(r.text, "no such user here either");
	test_assert_inteq(mta_reply_feed(&p, "250-a", 5, &r, &error), 0);
	test_assert_inteq(mta_reply_feed(&p, "251 b", 5, &r, &error), -1);
	test_assert_inteq(mta_reply_feed(&p, "25x ok", 6, &r, &error), -1);
	test_assert_inteq(mta_reply_feed(&p, "421 4.3.2x no status", 20, &r, &error), 1);
	test_assert_streq(r.status, "");
	test_assert_inteq(mta_reply_feed(&p, "354", 3, &r, &error), 1);
	test_assert_inteq(r.code, 354);
	test_end();
}

/* "test_mta --deliver PORT none|opportunistic|required CAFILE|- FROM FILE TO...":
 * one session to 127.0.0.1:PORT for tests/e2e/test_mta.py (a real Tern
 * as the peer); prints "rcpt CODE STATUS TEXT" per recipient, "tls 0|1",
 * "has EXT" for what the peer offered, and "closed CODE TEXT". */
static struct run deliver_run;
static bool deliver_tls, deliver_chunking, deliver_size;

static void
deliver_ready(void *arg, struct mta_session *s)
{
	deliver_tls = mta_session_tls(s);
	deliver_chunking = mta_session_has(s, "CHUNKING");
	deliver_size = mta_session_has(s, "SIZE");
	on_ready(arg, s);
}

static const struct mta_callbacks deliver_cbs = { deliver_ready, on_msg_done, on_closed };

static int
deliver(int argc, char **argv)
{
	struct mta_params p = base_params;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct mta_msg m = { .id = "e2e" };
	struct stat st;
	int fd;

	if (argc < 8)
		return 2;
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p.tls = strcmp(argv[3], "none") == 0 ? MTA_TLS_NONE
	      : strcmp(argv[3], "required") == 0 ? MTA_TLS_REQUIRED : MTA_TLS_OPPORTUNISTIC;
	p.ca_file = strcmp(argv[4], "-") == 0 ? NULL : argv[4];
	p.tls_name = "mail.example.test";
	m.mail_from = argv[5];
	fd = open(argv[6], O_RDONLY);
	if (fd == -1 || fstat(fd, &st) == -1)
		return 2;
	m.fd = fd;
	m.size = (uint64_t)st.st_size;
	m.rcpts = (const char *const *)argv + 7;
	m.n_rcpts = (size_t)(argc - 7) < 8 ? (size_t)(argc - 7) : 8;
	deliver_run.msgs[0] = &m;
	deliver_run.n_msgs = 1;
	loop = evloop_new();
	if (mta_session_connect(loop, (struct sockaddr *)&sin, sizeof(sin), &p, &deliver_cbs, &deliver_run) == NULL)
		return 2;
	evloop_run(loop);
	evloop_free(&loop);
	for (size_t i = 0; i < deliver_run.done * m.n_rcpts; i++)
		printf("rcpt %d %s %s\n", deliver_run.res[0][i].code, deliver_run.res[0][i].status[0] ? deliver_run.res[0][i].status : "-", deliver_run.res[0][i].text);
	printf("tls %d\nchunking %d\nsize %d\n", deliver_tls, deliver_chunking, deliver_size);
	printf("closed %d %s\n", deliver_run.clean ? 221 : deliver_run.why.code, deliver_run.clean ? "" : deliver_run.why.text);
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "--deliver") == 0) {
		log_set_level(getenv("MTA_DEBUG") != NULL ? LOG_DEBUG : LOG_WARN);
		return deliver(argc, argv);
	}
	if (getenv("MTA_DEBUG") != NULL)
		log_set_level(LOG_DEBUG);
	else
		log_set_level(LOG_WARN);
	test_reply_parser();
	test_refused_connection();
	test_greeting_timeout();
	if (access(SINK, X_OK) != 0) {
		printf("# %s missing: the smtp-sink cases are skipped (scripts/deps.sh installs postfix)\n", SINK);
		return test_done();
	}
	test_plain("", "mta: byte-exact delivery with dot-stuffing and a prefix, PIPELINING");
	test_plain("-p", "mta: the same without PIPELINING");
	test_two_messages();
	test_refused("-f RCPT", "mta: RCPT 5xx for every recipient (pipelined), twice on one connection", 500, 500);
	test_refused("-f RCPT -p", "mta: RCPT 5xx without PIPELINING", 500, 500);
	test_refused("-r MAIL", "mta: MAIL 4xx: every recipient gets MAIL's reply", 450, 450);
	test_refused("-f DATA", "mta: DATA 5xx: the accepted recipients get it", 500, 500);
	test_refused("-f .", "mta: end of data 5xx", 500, 500);
	test_smtputf8_absent();
	test_required_tls_absent();
	test_disconnect_421();
	mta_tls_thread_end();
	return test_done();
}
