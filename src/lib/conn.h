/* A connection: a non-blocking socket, optionally TLS (implicit or
 * upgraded with STARTTLS/STLS), with an input and an output buffer.
 * Accepted by a server (conn_new) or made by us (conn_connect, for
 * outbound SMTP); after open both work the same way.
 *
 * A protocol plugs in with a struct conn_handler.  The connection calls
 * handler->input whenever new bytes (already decrypted) are in
 * conn_input(); the session takes what it can (conn_read_line, or raw bytes
 * for DATA/BDAT) and leaves the rest.  Output is queued with conn_write()
 * and flushed by the connection.  The session never sees the socket. */
#ifndef TERN_CONN_H
#define TERN_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "lib/evloop.h"

struct conn;
struct ssl_ctx_st;
struct sockaddr;
typedef struct ssl_st SSL;

/* Why conn ends a connection early (handler->limit). */
enum conn_limit {
	CONN_LIMIT_AUTH_TIME,       /* conn_begin_auth: too long since connect */
	CONN_LIMIT_AUTH_BYTES,      /* conn_begin_auth: too many bytes received */
	CONN_LIMIT_TRANSFER_TIME,   /* conn_transfer_begin: the deadline passed */
};
#define CONN_LIMIT_COUNT 3

struct conn_handler {
	const char *name;                    /* "smtp", "pop3": used in logs */
	/* A new connection (TLS already up if implicit).  Returns the session,
	 * which usually queues its greeting. */
	void *(*open)(struct conn *c, void *listener_arg);
	/* New input is buffered (conn_input). */
	void (*input)(void *session);
	/* Queued output fell below NET_OUTPUT_HIGH / 2 after a write stalled:
	 * a session that streams a large reply continues here.  May be NULL. */
	void (*drained)(void *session);
	/* The idle timer expired.  The session replies and closes. */
	void (*timeout)(void *session);
	/* The peer has gone or conn_close() finished: free the session. */
	void (*close)(void *session);
	/* At shutdown: true while the session is in the middle of something
	 * the client expects to complete (a message being received); such a
	 * session is given time to finish.  May be NULL (never busy). */
	bool (*busy)(void *session);
	/* A limit was reached (conn_begin_auth, conn_transfer_begin): the
	 * session queues its last reply; conn drops the input not yet read
	 * and closes after it.  May be NULL (closed without a word). */
	void (*limit)(void *session, enum conn_limit what);
	/* The server is stopping and closes this idle session now: it may
	 * queue a last line (IMAP's "* BYE", RFC 9051 7.1.5).  May be NULL. */
	void (*stopping)(void *session);
	/* The one line that refuses a connection before any session exists
	 * (the server's connection limits, at accept), in the protocol's own
	 * words ("421 4.7.0 ...", "-ERR [SYS/TEMP] ...", "* BYE ..."); why is
	 * a short English reason.  Writes it, CRLF included, to out (at most
	 * size bytes with the NUL) and returns its length; 0: close without a
	 * word.  listener_arg is what open would get.  May be NULL. */
	size_t (*refusal)(const void *listener_arg, const char *why, char *out, size_t size);

	/* Client side only (conn_connect); NULL in server handlers. */
	/* The connection could not be made: err is an errno (ECONNREFUSED,
	 * ETIMEDOUT, EHOSTUNREACH...).  open was never called and close will
	 * not be; the connection is freed after this returns. */
	void (*connect_failed)(void *arg, int err);
	/* The handshake started by conn_starttls_client ended: ok true when
	 * TLS is up (write the next command now; conn_ssl() tells who the
	 * peer is); false when it failed, just before close (conn_ssl() still
	 * holds the verify result). */
	void (*tls_ready)(void *session, bool ok);
};

/* The bytes received and not yet consumed (decrypted). */
struct buf *conn_input(struct conn *c);

/* Takes one line from the input.  Returns 1 with *line_out pointing at the
 * line (CRLF or LF removed, NUL-terminated, valid until the next read) and
 * *len_out its length; 0 if no whole line is buffered yet; -1 once for a
 * line longer than max bytes (CRLF included): the line has been skipped up
 * to and including its LF, so the session stays in sync after replying.
 * While an overlong line is being skipped its bytes are dropped, never
 * buffered. */
int conn_read_line(struct conn *c, size_t max, char **line_out, size_t *len_out);
/* Removes n bytes from the front of the input (raw reads).  Inside a
 * transfer (conn_transfer_begin) they count as progress for the idle
 * timeout and earn the transfer time; outside one they do not: a session
 * that feeds partial commands to its own parser reports each whole
 * command with conn_progress(). */
void conn_consume(struct conn *c, size_t n);
/* The session completed a unit of input it read with its own parser (a
 * command): the idle timeout starts again. */
void conn_progress(struct conn *c);

void conn_write(struct conn *c, const void *data, size_t len);
void conn_puts(struct conn *c, const char *s);
void conn_printf(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Bytes queued and not yet written to the socket. */
size_t conn_output_pending(const struct conn *c);

/* Upgrades to TLS once the queued output (the "ready" reply) is sent.  Any
 * input already received is discarded (STARTTLS command injection,
 * CVE-2011-0411).  Returns -1 if TLS is not configured. */
int conn_starttls(struct conn *c);
/* The client's side of STARTTLS: call it once the peer's "go ahead" reply
 * has been read.  conn takes ssl (built by the caller from its client
 * SSL_CTX: SNI, verification, DANE) and runs the handshake in connect
 * state; handler->tls_ready reports how it went.  Input buffered after
 * the reply is discarded (a man in the middle's injected replies), and
 * output queued from now on waits for the handshake and goes encrypted. */
void conn_starttls_client(struct conn *c, SSL *ssl);
bool conn_tls_active(const struct conn *c);
/* The connection's SSL (to read the verify result, the peer certificate),
 * or NULL before TLS. */
SSL *conn_ssl(const struct conn *c);

/* COMPRESS=DEFLATE (RFC 4978): output queued so far (the OK) is sent as
 * it is, everything after is deflated, and input not yet consumed and
 * everything after is inflated.  Returns -1 if already compressing or
 * zlib fails (nothing changes). */
int conn_compress_start(struct conn *c);
bool conn_compressed(const struct conn *c);
bool conn_tls_available(const struct conn *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" or NULL. */
const char *conn_tls_description(const struct conn *c);

/* Stops (pause) and restarts (resume) calls to handler->input.  Pauses
 * nest: input flows again when every pause has been resumed; then input
 * is called again soon if bytes are buffered.  Sessions call these only
 * from inside their handler callbacks or deferred/timer callbacks. */
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);

/* Runs work(arg) on a worker thread and done(arg) on the connection's loop
 * afterwards.  The connection (and its session) stay alive until done has
 * run, even if the peer disconnects meanwhile: done should check
 * conn_closing().  conn_defer takes one pause and releases it after done
 * returns; done can keep input stopped longer with its own conn_pause()
 * (e.g. to delay a failure reply with conn_after). */
void conn_defer(struct conn *c, evloop_work_fn *work, evloop_done_fn *done, void *arg);

/* Sets the idle timeout; 0 turns it off.  Idle means the session has taken
 * no unit of input: a line (conn_read_line), a command (conn_progress), or
 * bytes of a transfer (conn_consume inside conn_transfer_begin/end).
 * Bytes that arrive without completing anything, such as a partial line
 * trickled byte by byte, do not keep a connection alive.  The same
 * timeout bounds writing: a connection whose queued output has not moved
 * for that long (the peer reads nothing) is dropped, paused or not, in
 * the middle of a reply or after its last one. */
void conn_set_timeout(struct conn *c, unsigned seconds);
/* Runs fn(arg) on the connection's loop after ms milliseconds unless the
 * connection closes first (then fn is not called). */
void conn_after(struct conn *c, uint64_t ms, evloop_timer_fn *fn, void *arg);

/* A transfer: bytes the session takes raw with conn_consume() as one
 * unit (an SMTP message from DATA to its end, or from its first BDAT
 * chunk to the last; an IMAP literal).  Its deadline is Postfix's
 * smtpd_per_record_deadline with smtpd_min_data_rate: the transfer starts
 * with deadline_sec seconds of credit; time drains it, and every byte
 * consumed adds 1/min_rate seconds, but the credit never exceeds
 * deadline_sec.  So a transfer of N bytes takes at most
 * deadline_sec + N / min_rate seconds and never stalls for deadline_sec,
 * and a client sending r < min_rate bytes per second runs out after about
 * deadline_sec / (1 - r / min_rate) seconds, however large the message.
 * Time while a deferred job runs (the server's own work) does not count.
 * Past the deadline handler->limit(CONN_LIMIT_TRANSFER_TIME) is called
 * and the connection closes.  deadline_sec 0: no deadline; min_rate 0:
 * bytes earn nothing (deadline_sec bounds the whole transfer). */
struct conn_transfer_limits {
	unsigned deadline_sec;
	unsigned min_rate;              /* bytes per second */
};
/* Starts a transfer.  While one runs this changes nothing: the chunks of
 * one BDAT message share one deadline. */
void conn_transfer_begin(struct conn *c, const struct conn_transfer_limits *lim);
/* Ends the transfer, if one runs. */
void conn_transfer_end(struct conn *c);
bool conn_in_transfer(const struct conn *c);

/* Limits on a connection until it authenticates (submission, POP3). */
struct conn_auth_limits {
	unsigned max_unauthenticated;   /* such connections in the process; 0: none */
	unsigned timeout_sec;           /* from connect to conn_set_authenticated; 0: none */
	uint64_t max_bytes;             /* received (after TLS) before it; 0: none */
};
/* The session expects a login: the connection counts as unauthenticated
 * and the limits apply; past one, handler->limit is called and the
 * connection closes.  Returns -1 (and changes nothing) if
 * lim->max_unauthenticated such connections are open already: the session
 * then refuses the client. */
int conn_begin_auth(struct conn *c, const struct conn_auth_limits *lim);
/* The client has logged in: the pre-authentication limits end. */
void conn_set_authenticated(struct conn *c);
/* true after conn_set_authenticated; false too if conn_begin_auth was
 * never called. */
bool conn_authenticated(const struct conn *c);
/* Connections between conn_begin_auth and conn_set_authenticated, in the
 * whole process. */
unsigned conn_unauthenticated_count(void);

/* For code running in another connection's callbacks on the same loop
 * (a proxy relaying between two connections): what it did to c (output
 * queued, conn_resume, conn_close) takes effect now, as at the end of c's
 * own callbacks; inside c's callbacks it waits for their end as usual,
 * and during conn_close_idle's sweep (which ends or keeps c itself).
 * c may be freed by this call (its handler's close runs): do not use it
 * afterwards. */
void conn_kick(struct conn *c);
/* Flushes queued output, then closes.  No more input is delivered. */
void conn_close(struct conn *c);
bool conn_closing(const struct conn *c);

/* Short unique id for log lines, e.g. "3f2a9c01". */
const char *conn_id(const struct conn *c);
/* Peer address as text ("192.0.2.1" or "2001:db8::1"), and port. */
const char *conn_peer_addr(const struct conn *c);
unsigned conn_peer_port(const struct conn *c);
/* Local address as text, and the port the client connected to. */
const char *conn_local_addr(const struct conn *c);
bool conn_peer_is_loopback(const struct conn *c);
struct evloop *conn_loop(const struct conn *c);

/* For the server: wraps an accepted socket (non-blocking) and opens the
 * session.  tls is NULL when no certificate is configured. */
struct tls_server;
struct conn *conn_new(struct evloop *loop, int fd, const struct conn_handler *h, void *listener_arg,
                      struct tls_server *tls, bool implicit_tls);
/* The same, and release(release_arg) runs exactly once when the connection
 * is freed (after the session's close), even if that happens before this
 * returns.  The returned pointer may then be stale: do not use it. */
struct conn *conn_new_tracked(struct evloop *loop, int fd, const struct conn_handler *h, void *listener_arg,
                              struct tls_server *tls, bool implicit_tls, void (*release)(void *arg),
                              void *release_arg);
/* For a client: starts a non-blocking connect to addr.  On success
 * h->open(c, arg) runs on the loop, as for an accepted socket; on failure
 * (refused, unreachable, no answer within timeout_sec) h->connect_failed
 * (arg, errno).  Neither runs before this returns.  Returns NULL only
 * when no socket could be made (errno set). */
struct conn *conn_connect(struct evloop *loop, const struct sockaddr *addr, unsigned addrlen,
                          const struct conn_handler *h, void *arg, unsigned timeout_sec);
/* Connections alive and deferred jobs not yet completed, in the whole
 * process (for shutdown and limits). */
unsigned conn_count(void);
/* At shutdown, on a loop thread: closes every connection of this loop
 * that has no job in flight and, unless force, whose session is not busy
 * (their sessions' close handlers run).  Returns how many are left. */
unsigned conn_close_idle(bool force);
unsigned conn_jobs_in_flight(void);

#endif
