/* Connections: a socket, optional TLS, input and output buffers, timers,
 * and deferred jobs, tied to one event loop.
 *
 * Every way into session code (socket events, job completions, timers)
 * goes through an entry point here that, once the session has returned,
 * "settles" the connection: runs pending input, starts a STARTTLS
 * handshake, flushes output, updates the epoll interest and frees the
 * connection once it is finished.  Session code therefore never sees a
 * connection disappear under it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/conn.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/str.h"
#include "lib/tls.h"
#include "lib/xalloc.h"
#include "lib/zstream.h"

/* Input buffered beyond this is left in the kernel until the session
 * consumes (pipelining is bounded, memory is bounded). */
#define CONN_INPUT_MAX (64 * 1024)
/* Free buffers larger than this once they are empty (small idle cost). */
#define CONN_BUF_KEEP 4096
#define CONN_DISPATCH_MAX 64

/* CONNECTING: conn_connect's socket, waiting for the TCP handshake. */
enum conn_state { CONN_CONNECTING, CONN_HANDSHAKE, CONN_OPEN };

struct conn_timer {
	struct conn_timer *next;
	struct conn_timer **prevp;
	struct conn *c;
	evloop_timer_fn *fn;
	void *arg;
	struct evloop_timer *timer;
};

struct conn_job {
	struct conn *c;
	evloop_work_fn *work;
	evloop_done_fn *done;
	void *arg;
};

struct conn {
	struct evloop *loop;
	int fd;
	const struct conn_handler *h;
	void *session;
	void *listener_arg;
	struct tls_server *tls;
	SSL *ssl;
	enum conn_state state;

	bool opened;             /* h->open has run */
	bool eof;                /* no more input will come */
	bool dead;               /* socket unusable: finish now */
	bool closing;            /* conn_close(): flush, then finish */
	bool starttls_pending;
	bool tls_client;         /* our TLS side is the client (conn_starttls_client) */
	size_t tls_plain_left;   /* queued bytes still sent in the clear before the handshake */
	int connect_err;         /* conn_connect failed: errno for h->connect_failed */
	SSL *client_ssl;         /* conn_starttls_client's, until the handshake starts */
	bool skipping;           /* dropping an overlong line */
	bool overlong_done;      /* ...and its LF came: report it next */
	bool want_input;         /* call h->input at settle */
	bool want_drained;       /* call h->drained once output is low */
	bool ssl_want_write;
	unsigned pause;
	unsigned jobs;
	unsigned depth;          /* nesting of entry points */
	uint32_t events;         /* current epoll interest */

	struct buf in;
	size_t in_off;           /* bytes at the front already consumed */
	struct buf out;
	size_t out_off;          /* bytes at the front already written */

	/* COMPRESS=DEFLATE (conn_compress_start): out holds plain bytes;
	 * the first z_plain_left of them go as they are (the OK), the rest
	 * is deflated into zout; input is inflated from zraw into in. */
	struct zstream *z;
	size_t z_plain_left;
	struct buf zout;
	size_t zout_off;
	struct buf zraw;
	size_t zraw_off;
	bool zraw_kick;          /* a turn to inflate more is scheduled */

	unsigned timeout_sec;
	uint64_t last_activity;  /* the session last took input (or the timeout was set) */
	uint64_t last_sent;      /* output last reached the socket, or began to wait */
	struct evloop_timer *idle_timer;
	struct conn_timer *timers;

	/* Before authentication (conn_begin_auth). */
	uint64_t created;         /* ms, loop clock */
	bool preauth;             /* counted in n_unauth */
	bool authenticated;
	bool limit_pending;       /* a pre-auth limit was reached: end at settle */
	enum conn_limit limit_what;
	uint64_t preauth_bytes;
	uint64_t preauth_max_bytes;
	struct evloop_timer *auth_timer;

	/* A transfer (conn_transfer_begin): its deadline moves with the
	 * bytes consumed, in microseconds of the loop clock. */
	bool xfer;
	unsigned xfer_deadline_sec;
	unsigned xfer_min_rate;
	uint64_t xfer_due_us;
	uint64_t xfer_rem;        /* bytes x 1e6 not yet turned into credit */
	uint64_t xfer_held_ms;    /* when the job that stopped its clock began */
	struct evloop_timer *xfer_timer;

	void (*release)(void *arg);   /* conn_new_tracked */
	void *release_arg;

	struct conn *next;        /* this loop thread's connections */
	struct conn **prevp;

	char id[9];
	char peer[INET6_ADDRSTRLEN];
	char local[INET6_ADDRSTRLEN];
	unsigned peer_port;
	bool loopback;
};

/* Each loop runs on its own thread, so a thread-local list holds exactly
 * that loop's connections (for conn_close_idle at shutdown). */
static __thread struct conn *thread_conns;
static atomic_uint n_conns;
static atomic_uint n_jobs;
static atomic_uint n_unauth;
static atomic_uint next_id;

static void settle(struct conn *c);
void conn_after(struct conn *c, uint64_t ms, evloop_timer_fn *fn, void *arg);
static void flush(struct conn *c);
static void on_io(void *arg, uint32_t events);

unsigned
conn_count(void)
{
	return atomic_load(&n_conns);
}

unsigned
conn_unauthenticated_count(void)
{
	return atomic_load(&n_unauth);
}

unsigned
conn_jobs_in_flight(void)
{
	return atomic_load(&n_jobs);
}

/* Addresses. */

static void
addr_text(const struct sockaddr_storage *ss, char *out, size_t outsize, unsigned *port_out, bool *loopback_out)
{
	bool loopback = false;
	unsigned port = 0;

	out[0] = '\0';
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)outsize);
		port = ntohs(sin->sin_port);
		loopback = (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

		port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], out, (socklen_t)outsize);
			loopback = sin6->sin6_addr.s6_addr[12] == 127;
		} else {
			inet_ntop(AF_INET6, &sin6->sin6_addr, out, (socklen_t)outsize);
			loopback = IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr);
		}
	}
	if (port_out != NULL)
		*port_out = port;
	if (loopback_out != NULL)
		*loopback_out = loopback;
}

/* Creation and destruction. */

/* The part of a connection the server and the client side share. */
static struct conn *
conn_alloc(struct evloop *loop, int fd, const struct conn_handler *h, void *listener_arg)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->loop = loop;
	c->fd = fd;
	c->h = h;
	c->listener_arg = listener_arg;
	c->last_activity = evloop_now_ms(loop);
	c->created = c->last_activity;
	c->last_sent = c->last_activity;
	snprintf(c->id, sizeof(c->id), "%08x", (atomic_fetch_add(&next_id, 1) + 1) * 2654435761u);
	atomic_fetch_add(&n_conns, 1);
	c->next = thread_conns;
	if (c->next != NULL)
		c->next->prevp = &c->next;
	c->prevp = &thread_conns;
	thread_conns = c;
	return c;
}

static void
conn_addrs(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);

	if (getpeername(c->fd, (struct sockaddr *)&ss, &sslen) == 0)
		addr_text(&ss, c->peer, sizeof(c->peer), &c->peer_port, &c->loopback);
	sslen = sizeof(ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sslen) == 0)
		addr_text(&ss, c->local, sizeof(c->local), NULL, NULL);
}

struct conn *
conn_new(struct evloop *loop, int fd, const struct conn_handler *h, void *listener_arg,
         struct tls_server *tls, bool implicit_tls)
{
	return conn_new_tracked(loop, fd, h, listener_arg, tls, implicit_tls, NULL, NULL);
}

struct conn *
conn_new_tracked(struct evloop *loop, int fd, const struct conn_handler *h, void *listener_arg,
                 struct tls_server *tls, bool implicit_tls, void (*release)(void *arg), void *release_arg)
{
	struct conn *c = conn_alloc(loop, fd, h, listener_arg);

	c->release = release;
	c->release_arg = release_arg;
	c->tls = tls;
	c->state = CONN_OPEN;
	conn_addrs(c);
	c->events = EPOLLIN;
	if (evloop_add(loop, fd, c->events, on_io, c) == -1) {
		log_warn("%s %s cannot watch socket", h->name, c->id);
		c->dead = true;
		settle(c);
		return NULL;
	}
	c->depth++;
	if (implicit_tls) {
		c->ssl = tls != NULL ? tls_server_new_ssl(tls) : NULL;
		if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
			log_warnx("%s %s cannot set up TLS", h->name, c->id);
			c->dead = true;
		}
		c->state = CONN_HANDSHAKE;
		conn_set_timeout(c, TLS_HANDSHAKE_TIMEOUT_SEC);
	} else {
		c->session = h->open(c, listener_arg);
		c->opened = true;
	}
	c->depth--;
	settle(c);
	return c;
}

static void
finish(struct conn *c)
{
	struct conn_timer *t, *next;

	if (c->opened) {
		c->opened = false;
		/* A client handshake that never completed: the session
		 * learns it failed while the verify result is still there. */
		if (c->tls_client && c->state == CONN_HANDSHAKE && c->h->tls_ready != NULL)
			c->h->tls_ready(c->session, false);
		c->h->close(c->session);
	} else if (c->state == CONN_CONNECTING && c->h->connect_failed != NULL) {
		c->h->connect_failed(c->listener_arg, c->connect_err != 0 ? c->connect_err : ECONNABORTED);
	}
	evloop_timer_cancel(c->loop, &c->idle_timer);
	evloop_timer_cancel(c->loop, &c->auth_timer);
	evloop_timer_cancel(c->loop, &c->xfer_timer);
	if (c->preauth) {
		c->preauth = false;
		atomic_fetch_sub(&n_unauth, 1);
	}
	for (t = c->timers; t != NULL; t = next) {
		next = t->next;
		evloop_timer_cancel(c->loop, &t->timer);
		free(t);
	}
	evloop_del(c->loop, c->fd);
	if (c->ssl != NULL) {
		if (!c->dead && c->state == CONN_OPEN)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		ERR_clear_error();
	}
	SSL_free(c->client_ssl);
	close(c->fd);
	if (c->in.data != NULL)
		str_wipe(c->in.data, c->in.len);
	buf_free(&c->in);
	buf_free(&c->out);
	buf_free(&c->zout);
	buf_free(&c->zraw);
	zstream_free(&c->z);
	*c->prevp = c->next;
	if (c->next != NULL)
		c->next->prevp = c->prevp;
	atomic_fetch_sub(&n_conns, 1);
	if (c->release != NULL)
		c->release(c->release_arg);
	free(c);
}

/* conn_close_idle is walking this thread's list: conn_kick must not free
 * another connection under it (the walk finishes or keeps each itself). */
static __thread bool sweeping;

unsigned
conn_close_idle(bool force)
{
	struct conn *c, *next;
	unsigned left = 0;

	sweeping = true;
	for (c = thread_conns; c != NULL; c = next) {
		next = c->next;
		if (c->jobs > 0 || c->depth > 0 ||
		    (!force && c->opened && c->h->busy != NULL && c->h->busy(c->session))) {
			left++;
			continue;
		}
		if (c->opened && c->h->stopping != NULL && !c->dead) {
			c->depth++;
			c->h->stopping(c->session);
			c->depth--;
		}
		flush(c);       /* a last reply (250 after a delivery) goes out */
		c->dead = true;
		finish(c);
	}
	sweeping = false;
	return left;
}

/* Reading. */

static void
mark_dead(struct conn *c, const char *why)
{
	if (!c->dead && why != NULL)
		log_debug("%s %s connection lost reason=%s", c->h->name, c->id, why);
	c->dead = true;
}

static void
ssl_fail(struct conn *c, int err, const char *what)
{
	unsigned long e = ERR_peek_error();
	char buf[160] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	if (c->state == CONN_HANDSHAKE && !c->tls_client)
		metrics_tls_handshake(false);
	if (c->state == CONN_HANDSHAKE)
		log_info("%s %s tls handshake failed peer=%s err=%d %s", c->h->name, c->id, c->peer, err, buf);
	ERR_clear_error();
	mark_dead(c, what);
}

/* Output not yet on the socket (plain and compressed). */
static size_t
pending_out(const struct conn *c)
{
	return (c->out.len - c->out_off) + (c->zout.len - c->zout_off);
}

/* Hands received (decrypted, inflated) bytes to the input buffer. */
static void
take_input(struct conn *c, const char *data, size_t n)
{
	if (c->skipping) {
		/* Overlong line: keep only what follows its LF. */
		const char *lf = memchr(data, '\n', n);

		if (lf == NULL)
			return;
		/* Skipping began with every earlier byte consumed, so the
		 * error is reported before anything read from here on. */
		c->skipping = false;
		c->overlong_done = true;
		buf_append(&c->in, lf + 1, (size_t)(data + n - (lf + 1)));
	} else {
		buf_append(&c->in, data, n);
	}
	c->want_input = true;
}

/* Inflates compressed input while the input buffer has room. */
static void
inflate_pending(struct conn *c)
{
	struct buf tmp = BUF_INIT;

	while (c->z != NULL && !c->dead && c->zraw_off < c->zraw.len && c->in.len - c->in_off < CONN_INPUT_MAX) {
		size_t consumed = 0;
		int r;

		buf_reset(&tmp);
		r = zstream_inflate(c->z, c->zraw.data + c->zraw_off, c->zraw.len - c->zraw_off, &consumed, &tmp,
		                    CONN_INPUT_MAX - (c->in.len - c->in_off));
		c->zraw_off += consumed;
		if (r == -1) {
			mark_dead(c, "corrupt compressed input");
			break;
		}
		if (tmp.len > 0)
			take_input(c, tmp.data, tmp.len);
		if (consumed == 0 && tmp.len == 0)
			break;
	}
	buf_free(&tmp);
	if (c->zraw_off == c->zraw.len) {
		c->zraw_off = 0;
		if (c->zraw.cap > CONN_BUF_KEEP)
			buf_free(&c->zraw);
		else
			buf_reset(&c->zraw);
	}
}

static void
do_read(struct conn *c)
{
	static __thread char scratch[NET_READ_CHUNK];

	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n;

		if (c->eof || c->dead || c->closing || c->starttls_pending || c->limit_pending)
			return;
		if (c->in.len - c->in_off >= CONN_INPUT_MAX || c->zraw.len - c->zraw_off >= CONN_INPUT_MAX)
			return;
		if (c->ssl != NULL) {
			int r = SSL_read(c->ssl, scratch, sizeof(scratch));

			if (r <= 0) {
				int err = SSL_get_error(c->ssl, r);

				if (err == SSL_ERROR_WANT_READ)
					return;
				if (err == SSL_ERROR_WANT_WRITE) {
					c->ssl_want_write = true;
					return;
				}
				if (err == SSL_ERROR_ZERO_RETURN) {
					c->eof = true;
					return;
				}
				if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
					c->eof = true;   /* peer closed without close_notify */
					return;
				}
				ssl_fail(c, err, "tls read error");
				return;
			}
			n = r;
		} else {
			n = read(c->fd, scratch, sizeof(scratch));
			if (n == 0) {
				c->eof = true;
				return;
			}
			if (n == -1) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return;
				if (errno == EINTR)
					continue;
				mark_dead(c, "read error");
				return;
			}
		}
		if (c->preauth && c->preauth_max_bytes > 0) {
			c->preauth_bytes += (uint64_t)n;
			if (c->preauth_bytes > c->preauth_max_bytes) {
				/* Nothing more is read or handed to the session. */
				c->limit_pending = true;
				c->limit_what = CONN_LIMIT_AUTH_BYTES;
				return;
			}
		}
		if (c->z != NULL) {
			buf_append(&c->zraw, scratch, (size_t)n);
			inflate_pending(c);
		} else {
			take_input(c, scratch, (size_t)n);
		}
	}
}

static void
do_handshake(struct conn *c)
{
	int r;

	ERR_clear_error();
	r = c->tls_client ? SSL_connect(c->ssl) : SSL_accept(c->ssl);
	if (r == 1) {
		c->state = CONN_OPEN;
		c->ssl_want_write = false;
		if (!c->tls_client)
			metrics_tls_handshake(true);
		log_debug("%s %s tls established %s", c->h->name, c->id, conn_tls_description(c));
		if (c->tls_client && c->h->tls_ready != NULL) {
			c->depth++;
			c->h->tls_ready(c->session, true);
			c->depth--;
		} else if (!c->opened) {
			/* Implicit TLS: the session sets its own timeout. */
			c->timeout_sec = 0;
			c->session = c->h->open(c, c->listener_arg);
			c->opened = true;
		}
		do_read(c);   /* data may already sit decrypted inside OpenSSL */
		return;
	}
	int err = SSL_get_error(c->ssl, r);

	if (err == SSL_ERROR_WANT_READ) {
		c->ssl_want_write = false;
		return;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		c->ssl_want_write = true;
		return;
	}
	ssl_fail(c, err, "tls handshake failed");
}

/* Writing. */

/* Writes up to len bytes to the socket (or TLS).  Returns the bytes
 * written, 0 when the socket is full, -1 when the connection is dead. */
static ssize_t
raw_send(struct conn *c, const char *data, size_t len)
{
	for (;;) {
		ssize_t n;

		if (c->ssl != NULL) {
			int r;

			ERR_clear_error();
			r = SSL_write(c->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
			if (r <= 0) {
				int err = SSL_get_error(c->ssl, r);

				if (err == SSL_ERROR_WANT_WRITE)
					c->ssl_want_write = true;
				else if (err != SSL_ERROR_WANT_READ) {
					ssl_fail(c, err, "tls write error");
					return -1;
				}
				return 0;
			}
			c->ssl_want_write = false;
			return r;
		}
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				mark_dead(c, "write error");
				return -1;
			}
			return 0;
		}
		return n;
	}
}

static void
compact_output(struct buf *b, size_t *off)
{
	if (*off == b->len) {
		*off = 0;
		if (b->cap > CONN_BUF_KEEP)
			buf_free(b);
		else
			buf_reset(b);
	} else if (*off > b->len / 2) {
		buf_consume(b, *off);
		*off = 0;
	}
}

static void
flush(struct conn *c)
{
	/* Every way out of the loops reaches the compaction below, so a
	 * long reply to a slow reader keeps the buffer near NET_OUTPUT_HIGH. */
	size_t plain_end = c->z != NULL ? c->out_off + c->z_plain_left : c->out.len;
	size_t before = pending_out(c);

	/* Nothing goes out before the socket is connected or while TLS is
	 * negotiated; before STARTTLS only what was queued before it. */
	if (c->state != CONN_OPEN)
		return;
	if (c->starttls_pending && c->out_off + c->tls_plain_left < plain_end)
		plain_end = c->out_off + c->tls_plain_left;
	while (!c->dead && c->out_off < plain_end) {
		ssize_t n = raw_send(c, c->out.data + c->out_off, plain_end - c->out_off);

		if (n <= 0)
			break;
		c->out_off += (size_t)n;
		if (c->z != NULL)
			c->z_plain_left -= (size_t)n;
		if (c->starttls_pending)
			c->tls_plain_left -= (size_t)n;
	}
	if (c->z != NULL && !c->dead && c->z_plain_left == 0) {
		if (c->out_off < c->out.len) {
			if (zstream_deflate(c->z, c->out.data + c->out_off, c->out.len - c->out_off, &c->zout) == -1)
				mark_dead(c, "deflate failed");
			c->out_off = c->out.len;
		}
		while (!c->dead && c->zout_off < c->zout.len) {
			ssize_t n = raw_send(c, c->zout.data + c->zout_off, c->zout.len - c->zout_off);

			if (n <= 0)
				break;
			c->zout_off += (size_t)n;
		}
		compact_output(&c->zout, &c->zout_off);
		/* Deflating incompressible data adds a few octets: a producer
		 * that stopped at NET_OUTPUT_HIGH must still hear "drained". */
		if (pending_out(c) >= NET_OUTPUT_HIGH)
			c->want_drained = true;
	}
	compact_output(&c->out, &c->out_off);
	if (pending_out(c) < before)
		c->last_sent = evloop_now_ms(c->loop);
}

/* Drops consumed input.  Consumed bytes are wiped, not just moved over:
 * they may hold a password (PASS, AUTH lines). */
static void
compact_input(struct conn *c)
{
	if (c->in_off > 0) {
		size_t old_len = c->in.len;

		str_wipe(c->in.data, c->in_off);
		buf_consume(&c->in, c->in_off);
		str_wipe(c->in.data + c->in.len, old_len - c->in.len);
		c->in.data[c->in.len] = '\0';
		c->in_off = 0;
	}
	if (c->in.len == 0 && c->in.cap > CONN_BUF_KEEP)
		buf_free(&c->in);
}

static void
start_tls_now(struct conn *c)
{
	c->starttls_pending = false;
	if (c->tls_client) {
		c->ssl = c->client_ssl;
		c->client_ssl = NULL;
	} else {
		c->ssl = tls_server_new_ssl(c->tls);
	}
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1) {
		mark_dead(c, "cannot set up tls");
		return;
	}
	c->state = CONN_HANDSHAKE;
	c->eof = false;
	do_handshake(c);
}

static void
update_events(struct conn *c)
{
	uint32_t ev = 0;

	if (!c->eof && !c->closing && !c->starttls_pending && !c->limit_pending &&
	    (c->state == CONN_HANDSHAKE ||
	     (c->in.len - c->in_off < CONN_INPUT_MAX && c->zraw.len - c->zraw_off < CONN_INPUT_MAX)))
		ev |= EPOLLIN;
	if ((pending_out(c) > 0 && c->state == CONN_OPEN) || c->ssl_want_write)
		ev |= EPOLLOUT;
	if (c->state == CONN_CONNECTING)
		ev = EPOLLOUT;   /* writable: the TCP handshake ended, one way or the other */
	if (ev != c->events) {
		if (evloop_mod(c->loop, c->fd, ev, on_io, c) == -1)
			mark_dead(c, "epoll_ctl");
		c->events = ev;
	}
}

/* A limit (pre-authentication, transfer deadline): the session says its
 * last word, then the connection closes.  Waits while a job runs (a login
 * being checked decides first; input is paused meanwhile). */
static void
end_for_limit(struct conn *c)
{
	c->limit_pending = false;
	if (c->dead || c->closing)
		return;
	/* The session logs a missed transfer deadline itself: it knows what
	 * was being transferred (the message, its id). */
	if (c->limit_what != CONN_LIMIT_TRANSFER_TIME)
		log_info("%s %s closed before authentication peer=%s reason=%s", c->h->name, c->id, c->peer,
		         c->limit_what == CONN_LIMIT_AUTH_TIME ? "auth-timeout" : "auth-bytes");
	c->xfer = false;
	evloop_timer_cancel(c->loop, &c->xfer_timer);
	if (c->state != CONN_OPEN) {
		mark_dead(c, NULL);       /* in a STARTTLS handshake: no reply possible */
		return;
	}
	if (c->opened && c->h->limit != NULL) {
		c->depth++;
		c->h->limit(c->session, c->limit_what);
		c->depth--;
	}
	/* Input the session had not read yet is dropped with the connection. */
	c->in_off = c->in.len;
	c->skipping = false;
	c->overlong_done = false;
	c->want_input = false;
	c->closing = true;
}

static void
zraw_kicked(void *arg)
{
	struct conn *c = arg;

	c->zraw_kick = false;
	inflate_pending(c);      /* settle runs after this and hands it on */
}

/* Runs whatever became due while session code ran, then frees the
 * connection if it is finished.  Only at the outermost entry point. */
static void
settle(struct conn *c)
{
	if (c->depth > 0)
		return;
	if (c->limit_pending && c->jobs == 0)
		end_for_limit(c);
	for (int i = 0; i < CONN_DISPATCH_MAX; i++) {
		bool again = false;

		if (c->z != NULL && c->zraw.len > c->zraw_off)
			inflate_pending(c);

		if (c->want_input && c->state == CONN_OPEN && c->opened && c->pause == 0 &&
		    !c->dead && !c->closing) {
			c->want_input = false;
			if (c->in.len > c->in_off || c->overlong_done) {
				c->depth++;
				c->h->input(c->session);
				c->depth--;
			}
		}
		compact_input(c);
		/* The session took input: inflate what waits compressed. */
		if (c->z != NULL && c->zraw.len > c->zraw_off)
			inflate_pending(c);
		flush(c);
		/* The "go ahead" reply is out: the handshake can begin. */
		if (c->starttls_pending && c->tls_plain_left == 0 && !c->dead)
			start_tls_now(c);
		if (c->want_drained && pending_out(c) < NET_OUTPUT_HIGH / 2 && !c->dead && c->opened) {
			c->want_drained = false;
			if (c->h->drained != NULL) {
				c->depth++;
				c->h->drained(c->session);
				c->depth--;
				again = true;
			}
		}
		if (!again && !(c->want_input && c->pause == 0 && c->state == CONN_OPEN && !c->closing && !c->dead))
			break;
	}
	if (c->dead) {
		if (c->jobs == 0)
			finish(c);
		return;
	}
	if (c->eof && c->jobs == 0 && c->pause == 0 && !c->want_input)
		c->closing = true;
	if (c->closing && c->jobs == 0 && pending_out(c) == 0) {
		finish(c);
		return;
	}
	/* Compressed input already read from the socket waits in zraw: no
	 * socket event will come for it, so take another turn soon. */
	if (c->z != NULL && c->zraw.len > c->zraw_off && c->pause == 0 && !c->closing && !c->zraw_kick &&
	    c->in.len - c->in_off < CONN_INPUT_MAX) {
		c->zraw_kick = true;
		conn_after(c, 0, zraw_kicked, c);
	}
	update_events(c);
}

/* The socket of conn_connect became writable: connected, or failed. */
static void
connect_done(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		c->connect_err = err;
		mark_dead(c, NULL);
		return;
	}
	c->state = CONN_OPEN;
	conn_addrs(c);
	/* The session sets its own timeout. */
	conn_set_timeout(c, 0);
	c->session = c->h->open(c, c->listener_arg);
	c->opened = true;
}

/* A connect that failed at once is still reported from the loop. */
static void
connect_failed_now(void *arg)
{
	struct conn *c = arg;

	mark_dead(c, NULL);
}

struct conn *
conn_connect(struct evloop *loop, const struct sockaddr *addr, unsigned addrlen, const struct conn_handler *h,
             void *arg, unsigned timeout_sec)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct conn *c;

	if (fd == -1)
		return NULL;
	c = conn_alloc(loop, fd, h, arg);
	c->state = CONN_CONNECTING;
	/* Until connected, the address we were given names the peer. */
	addr_text((const struct sockaddr_storage *)addr, c->peer, sizeof(c->peer), &c->peer_port, &c->loopback);
	c->events = EPOLLOUT;
	if (evloop_add(loop, fd, c->events, on_io, c) == -1) {
		c->connect_err = errno;
		conn_after(c, 0, connect_failed_now, c);
		return c;
	}
	if (connect(fd, addr, addrlen) == -1 && errno != EINPROGRESS) {
		c->connect_err = errno;
		conn_after(c, 0, connect_failed_now, c);
		return c;
	}
	conn_set_timeout(c, timeout_sec);
	return c;
}

static void
on_io(void *arg, uint32_t events)
{
	struct conn *c = arg;

	c->depth++;
	if (c->state == CONN_CONNECTING) {
		connect_done(c);
	} else if (c->state == CONN_HANDSHAKE) {
		do_handshake(c);
	} else {
		if (events & EPOLLOUT) {
			c->ssl_want_write = false;
			flush(c);
		}
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			do_read(c);
	}
	/* HUP: both directions are gone; replies cannot be sent any more.
	 * (While connecting, connect_done read the reason from SO_ERROR.) */
	if ((events & (EPOLLERR | EPOLLHUP)) && c->state != CONN_CONNECTING)
		mark_dead(c, "socket closed");
	c->depth--;
	settle(c);
}

/* The session's side. */

struct buf *
conn_input(struct conn *c)
{
	compact_input(c);
	return &c->in;
}

static void xfer_credit(struct conn *c, size_t n);

void
conn_consume(struct conn *c, size_t n)
{
	size_t avail = c->in.len - c->in_off;

	if (n > avail)
		n = avail;
	c->in_off += n;
	if (n > 0 && c->xfer) {
		c->last_activity = evloop_now_ms(c->loop);
		xfer_credit(c, n);
	}
}

void
conn_progress(struct conn *c)
{
	c->last_activity = evloop_now_ms(c->loop);
}

int
conn_read_line(struct conn *c, size_t max, char **line_out, size_t *len_out)
{
	char *start = c->in.data + c->in_off;
	size_t avail = c->in.len - c->in_off;
	size_t scan = avail < max ? avail : max;
	char *lf;

	if (c->overlong_done) {
		c->overlong_done = false;
		c->last_activity = evloop_now_ms(c->loop);
		return -1;
	}
	if (avail == 0)
		return 0;
	lf = memchr(start, '\n', scan);
	if (lf == NULL) {
		if (avail < max)
			return 0;
		/* Overlong: drop what we have and the rest of the line. */
		lf = memchr(start, '\n', avail);
		if (lf != NULL) {
			c->in_off += (size_t)(lf - start) + 1;
			c->last_activity = evloop_now_ms(c->loop);
			return -1;
		}
		c->in_off = c->in.len;
		c->skipping = true;
		return 0;
	}
	size_t len = (size_t)(lf - start);

	c->in_off += len + 1;
	c->last_activity = evloop_now_ms(c->loop);
	if (len > 0 && start[len - 1] == '\r')
		len--;
	start[len] = '\0';
	*line_out = start;
	*len_out = len;
	return 1;
}

/* Output about to be queued: if none was waiting, the send timeout
 * counts from now. */
static void
output_queued(struct conn *c)
{
	if (pending_out(c) == 0)
		c->last_sent = evloop_now_ms(c->loop);
}

void
conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->dead)
		return;
	output_queued(c);
	buf_append(&c->out, data, len);
	if (pending_out(c) >= NET_OUTPUT_HIGH)
		c->want_drained = true;
}

void
conn_puts(struct conn *c, const char *s)
{
	conn_write(c, s, strlen(s));
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->dead)
		return;
	output_queued(c);
	va_start(ap, fmt);
	buf_vprintf(&c->out, fmt, ap);
	va_end(ap);
	if (pending_out(c) >= NET_OUTPUT_HIGH)
		c->want_drained = true;
}

size_t
conn_output_pending(const struct conn *c)
{
	return pending_out(c);
}

int
conn_starttls(struct conn *c)
{
	if (c->tls == NULL || c->ssl != NULL)
		return -1;
	/* Anything pipelined after STARTTLS was sent in the clear and must
	 * not be taken as coming over TLS (CVE-2011-0411). */
	c->in_off = c->in.len;
	c->skipping = false;
	c->overlong_done = false;
	c->starttls_pending = true;
	c->tls_plain_left = pending_out(c);
	return 0;
}

void
conn_starttls_client(struct conn *c, SSL *ssl)
{
	if (c->ssl != NULL || c->starttls_pending)
		panic("conn_starttls_client: TLS already started");
	SSL_set_connect_state(ssl);
	c->tls_client = true;
	c->client_ssl = ssl;
	/* Replies after the server's "go ahead" came in the clear: they are
	 * not the server's over TLS (CVE-2011-0411, the client side). */
	c->in_off = c->in.len;
	c->skipping = false;
	c->overlong_done = false;
	c->starttls_pending = true;
	c->tls_plain_left = pending_out(c);
}

SSL *
conn_ssl(const struct conn *c)
{
	return c->ssl;
}

int
conn_compress_start(struct conn *c)
{
	if (c->z != NULL || (c->z = zstream_new()) == NULL)
		return -1;
	/* What is queued (the OK) goes out as it is; everything after,
	 * both ways, is deflated.  Input after the command that asked for
	 * it is compressed already. */
	c->z_plain_left = c->out.len - c->out_off;
	if (c->in.len > c->in_off) {
		buf_append(&c->zraw, c->in.data + c->in_off, c->in.len - c->in_off);
		c->in_off = c->in.len;
	}
	return 0;
}

bool
conn_compressed(const struct conn *c)
{
	return c->z != NULL;
}

bool
conn_tls_active(const struct conn *c)
{
	return c->ssl != NULL && c->state == CONN_OPEN;
}

bool
conn_tls_available(const struct conn *c)
{
	return c->tls != NULL;
}

const char *
conn_tls_description(const struct conn *c)
{
	static __thread char desc[96];

	if (c->ssl == NULL)
		return NULL;
	snprintf(desc, sizeof(desc), "%s %s", SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
	return desc;
}

void
conn_pause(struct conn *c)
{
	c->pause++;
}

void
conn_resume(struct conn *c)
{
	if (c->pause == 0)
		panic("conn_resume without conn_pause");
	if (--c->pause == 0)
		c->want_input = true;
}

/* Transfers (conn_transfer_begin). */

static uint64_t
now_us(const struct conn *c)
{
	return evloop_now_ms(c->loop) * 1000;
}

static void xfer_fired(void *arg);

/* (Re)arms the deadline timer; none while a job runs (job_done arms it). */
static void
xfer_schedule(struct conn *c)
{
	uint64_t now = now_us(c);

	evloop_timer_cancel(c->loop, &c->xfer_timer);
	if (!c->xfer || c->xfer_deadline_sec == 0 || c->jobs > 0)
		return;
	c->xfer_timer = evloop_timer_add(c->loop, c->xfer_due_us > now ? (c->xfer_due_us - now + 999) / 1000 : 0,
	                                 xfer_fired, c);
}

static void
xfer_fired(void *arg)
{
	struct conn *c = arg;

	c->xfer_timer = NULL;
	if (!c->xfer || c->jobs > 0 || c->dead || c->closing)
		return;
	/* Bytes consumed since the timer was set moved the deadline on. */
	if (now_us(c) < c->xfer_due_us) {
		xfer_schedule(c);
		return;
	}
	c->xfer = false;
	c->limit_pending = true;
	c->limit_what = CONN_LIMIT_TRANSFER_TIME;
	settle(c);
}

/* n bytes consumed: each earns 1/min_rate s (the remainder is kept, so
 * that one-byte reads earn as much as large ones), up to the cap. */
static void
xfer_credit(struct conn *c, size_t n)
{
	uint64_t cap = now_us(c) + (uint64_t)c->xfer_deadline_sec * 1000000;

	if (c->xfer_deadline_sec == 0)
		return;
	if (c->xfer_min_rate > 0) {
		uint64_t earned = (uint64_t)n * 1000000 + c->xfer_rem;

		c->xfer_due_us += earned / c->xfer_min_rate;
		c->xfer_rem = earned % c->xfer_min_rate;
	}
	if (c->xfer_due_us > cap)
		c->xfer_due_us = cap;
	/* The timer, set for an earlier deadline, fires and looks again. */
}

/* The last job ended: the time it took is added to the deadline. */
static void
xfer_clock_restart(struct conn *c)
{
	if (!c->xfer || c->xfer_deadline_sec == 0)
		return;
	c->xfer_due_us += (evloop_now_ms(c->loop) - c->xfer_held_ms) * 1000;
	xfer_schedule(c);
}

void
conn_transfer_begin(struct conn *c, const struct conn_transfer_limits *lim)
{
	if (c->xfer)
		return;
	c->xfer = true;
	c->xfer_deadline_sec = lim->deadline_sec;
	c->xfer_min_rate = lim->min_rate;
	c->xfer_due_us = now_us(c) + (uint64_t)lim->deadline_sec * 1000000;
	c->xfer_rem = 0;
	/* A job running now (none does in practice) stops the clock from here. */
	c->xfer_held_ms = evloop_now_ms(c->loop);
	xfer_schedule(c);
}

void
conn_transfer_end(struct conn *c)
{
	c->xfer = false;
	evloop_timer_cancel(c->loop, &c->xfer_timer);
}

bool
conn_in_transfer(const struct conn *c)
{
	return c->xfer;
}

static void
job_work(void *arg)
{
	struct conn_job *j = arg;

	j->work(j->arg);
}

static void
job_done(void *arg)
{
	struct conn_job *j = arg;
	struct conn *c = j->c;

	c->depth++;
	j->done(j->arg);
	c->depth--;
	c->jobs--;
	atomic_fetch_sub(&n_jobs, 1);
	free(j);
	if (c->jobs == 0)
		xfer_clock_restart(c);
	conn_resume(c);
	settle(c);
}

void
conn_defer(struct conn *c, evloop_work_fn *work, evloop_done_fn *done, void *arg)
{
	struct conn_job *j = xmalloc(sizeof(*j));

	j->c = c;
	j->work = work;
	j->done = done;
	j->arg = arg;
	if (c->jobs++ == 0)
		c->xfer_held_ms = evloop_now_ms(c->loop);
	atomic_fetch_add(&n_jobs, 1);
	conn_pause(c);
	evloop_defer(c->loop, job_work, job_done, j);
}

static void
idle_fired(void *arg)
{
	struct conn *c = arg;
	uint64_t now = evloop_now_ms(c->loop), limit = (uint64_t)c->timeout_sec * 1000;

	/* A closing connection takes no more input: only a job still to
	 * finish keeps it, not a pause. */
	bool waiting = c->jobs > 0 || (c->pause > 0 && !c->closing);

	/* Output the peer has not read for the whole timeout: it reads
	 * nothing (a slow-reader attack, or a peer gone without a FIN).  A
	 * pause or a job does not keep such a connection (nginx's
	 * send_timeout; Postfix's smtpd_timeout covers writes too). */
	bool stalled = pending_out(c) > 0 && now - c->last_sent >= limit;

	c->idle_timer = NULL;
	if (c->timeout_sec == 0)
		return;
	if (!stalled && (waiting || now - c->last_activity < limit)) {
		uint64_t left = waiting ? limit : limit - (now - c->last_activity);

		if (pending_out(c) > 0 && limit - (now - c->last_sent) < left)
			left = limit - (now - c->last_sent);
		c->idle_timer = evloop_timer_add(c->loop, left, idle_fired, c);
		return;
	}
	c->depth++;
	if (c->state == CONN_CONNECTING) {
		c->connect_err = ETIMEDOUT;
		mark_dead(c, NULL);
	} else if (c->state == CONN_HANDSHAKE || !c->opened) {
		log_info("%s %s tls handshake timeout peer=%s", c->h->name, c->id, c->peer);
		if (!c->tls_client && c->ssl != NULL)
			metrics_tls_handshake(false);
		mark_dead(c, NULL);
	} else if (stalled) {
		log_info("%s %s closed peer=%s reason=send-timeout pending=%zu", c->h->name, c->id, c->peer,
		         pending_out(c));
		mark_dead(c, NULL);
	} else if (c->closing) {
		/* Its last reply has not been read in all that time. */
		mark_dead(c, "last reply not read");
	} else {
		c->h->timeout(c->session);
	}
	c->depth--;
	settle(c);
}

void
conn_set_timeout(struct conn *c, unsigned seconds)
{
	c->timeout_sec = seconds;
	c->last_activity = evloop_now_ms(c->loop);
	evloop_timer_cancel(c->loop, &c->idle_timer);
	if (seconds > 0)
		c->idle_timer = evloop_timer_add(c->loop, (uint64_t)seconds * 1000, idle_fired, c);
}

static void
timer_fired(void *arg)
{
	struct conn_timer *t = arg;
	struct conn *c = t->c;

	*t->prevp = t->next;
	if (t->next != NULL)
		t->next->prevp = t->prevp;
	c->depth++;
	t->fn(t->arg);
	c->depth--;
	free(t);
	settle(c);
}

void
conn_after(struct conn *c, uint64_t ms, evloop_timer_fn *fn, void *arg)
{
	struct conn_timer *t = xcalloc(1, sizeof(*t));

	t->c = c;
	t->fn = fn;
	t->arg = arg;
	t->next = c->timers;
	if (t->next != NULL)
		t->next->prevp = &t->next;
	t->prevp = &c->timers;
	c->timers = t;
	t->timer = evloop_timer_add(c->loop, ms, timer_fired, t);
}

static void
auth_fired(void *arg)
{
	struct conn *c = arg;

	c->auth_timer = NULL;
	if (!c->preauth)
		return;
	c->limit_pending = true;
	c->limit_what = CONN_LIMIT_AUTH_TIME;
	settle(c);
}

int
conn_begin_auth(struct conn *c, const struct conn_auth_limits *lim)
{
	unsigned n = atomic_load(&n_unauth);

	if (c->preauth || c->authenticated)
		return 0;
	do {
		if (lim->max_unauthenticated > 0 && n >= lim->max_unauthenticated)
			return -1;
	} while (!atomic_compare_exchange_weak(&n_unauth, &n, n + 1));
	c->preauth = true;
	c->preauth_max_bytes = lim->max_bytes;
	c->preauth_bytes = 0;
	if (lim->timeout_sec > 0) {
		uint64_t now = evloop_now_ms(c->loop), deadline = c->created + (uint64_t)lim->timeout_sec * 1000;

		c->auth_timer = evloop_timer_add(c->loop, deadline > now ? deadline - now : 0, auth_fired, c);
	}
	return 0;
}

void
conn_set_authenticated(struct conn *c)
{
	c->authenticated = true;
	if (!c->preauth)
		return;
	c->preauth = false;
	atomic_fetch_sub(&n_unauth, 1);
	evloop_timer_cancel(c->loop, &c->auth_timer);
	/* A login that was being checked when the time ran out decided
	 * first.  (Past the byte limit input was lost: that one stands.) */
	if (c->limit_pending && c->limit_what == CONN_LIMIT_AUTH_TIME)
		c->limit_pending = false;
}

bool
conn_authenticated(const struct conn *c)
{
	return c->authenticated;
}

void
conn_kick(struct conn *c)
{
	if (!sweeping)
		settle(c);
}

void
conn_close(struct conn *c)
{
	c->closing = true;
}

bool
conn_closing(const struct conn *c)
{
	return c->closing || c->dead;
}

const char *
conn_id(const struct conn *c)
{
	return c->id;
}

const char *
conn_peer_addr(const struct conn *c)
{
	return c->peer;
}

unsigned
conn_peer_port(const struct conn *c)
{
	return c->peer_port;
}

const char *
conn_local_addr(const struct conn *c)
{
	return c->local;
}

bool
conn_peer_is_loopback(const struct conn *c)
{
	return c->loopback;
}

struct evloop *
conn_loop(const struct conn *c)
{
	return c->loop;
}
