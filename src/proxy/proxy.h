/* The proxy role (issue 11): after the client has logged in on the proxy
 * (the protocol's own pre-login code: CAPABILITY, STARTTLS, SASL,
 * penalties), proxy_start connects to the user's back end, logs in there
 * for the user (auth_proxy.c: SASL PLAIN as AUTH_PROXY_IDENTITY with the
 * shared secret), passes the client's address on, and reports ready with
 * the back end's capabilities; the session answers its client and calls
 * proxy_relay, after which bytes flow both ways unchanged (IDLE, COMPRESS,
 * literals: the proxy reads nothing of them).
 *
 * Memory: each direction holds at most the source connection's input
 * buffer (64 KiB) and NET_OUTPUT_HIGH of output; past that the source is
 * paused until the destination drains (backpressure).
 *
 * All calls on the client connection's loop, from its session's callbacks. */
#ifndef TERN_PROXY_H
#define TERN_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config/config.h"
#include "directory/directory.h"
#include "lib/conn.h"

/* From connect to the end of the back end's login. */
#define PROXY_CONNECT_TIMEOUT_SEC 5
#define PROXY_LOGIN_TIMEOUT_SEC   15
/* A back end's line during login (its capability list included). */
#define PROXY_LINE_MAX            8192

enum proxy_protocol { PROXY_IMAP, PROXY_POP3, PROXY_SUBMISSION };

/* Where a user's mail is: the back end's address, found by proxy_route. */
struct proxy_target {
	char backend[DIRECTORY_BACKEND_NAME_MAX + 1];
	char host[DIRECTORY_BACKEND_HOST_MAX + 1];   /* for TLS verification and logs */
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

/* Blocking (the directory, then getaddrinfo): call from a worker.  Reads
 * user's back end and resolves its host at port.  Returns 1 with *out
 * filled, 0 when the user has no back end (served where it logged in),
 * -1 with a reason in *error_out (static or thread-local text). */
int proxy_route(struct directory *d, const char *user, unsigned port, struct proxy_target *out,
                const char **error_out);

struct proxy_callbacks {
	/* Logged in on the back end.  caps: its post-login capability list
	 * (IMAP; "" when it sent none, or for POP3).  The session writes
	 * its success reply, then calls proxy_relay. */
	void (*ready)(void *arg, const char *caps);
	/* Could not connect or log in (why: for the log).  The session
	 * answers with its temporary failure and calls proxy_free. */
	void (*failed)(void *arg, const char *why);
};

struct proxy_params {
	enum proxy_protocol proto;
	const struct proxy_target *target;
	const char *user;                 /* the canonical address */
	const char *client_addr;          /* the client's address and port, passed on */
	unsigned client_port;
	enum proxy_tls tls;               /* [proxy] tls */
	/* These three are kept by pointer: they must live as long as the
	 * proxy (the configuration's, and auth_proxy_secret()'s do). */
	const char *ca_file;              /* [proxy] ca_file, or "" */
	const char *secret;               /* auth_proxy_secret() */
	const char *helo;                 /* submission: our name in EHLO */
	const char *log_id;               /* the client session's id, for log lines */
};

struct proxy;

/* The parameters of the hop for the client session on c, all taken from
 * the configuration ([proxy], hostname), the connection (the client's
 * address, the log id) and auth_proxy_secret(). */
void proxy_params_init(struct proxy_params *p, enum proxy_protocol proto, const struct tern_config *cfg,
                       struct conn *c, const char *user, const struct proxy_target *target);

/* Starts connecting for the session of client; copies what it needs of
 * p.  The callbacks run later, never inside this call.  NULL (logged)
 * when no socket could be made: the session answers as for failed.  Input from the
 * client is not read by the proxy before proxy_relay. */
struct proxy *proxy_start(struct conn *client, const struct proxy_params *p, const struct proxy_callbacks *cb,
                          void *arg);
/* After ready and the session's reply: the relay begins.  Bytes already in
 * the client connection's input (commands pipelined after the login) go
 * to the back end first. */
void proxy_relay(struct proxy *px);
/* The client session's handlers, while relaying. */
void proxy_client_input(struct proxy *px);
void proxy_client_drained(struct proxy *px);
/* The session is going (or gave up after failed): closes the back-end
 * side and forgets the session.  NULL allowed; sets *px to NULL. */
void proxy_free(struct proxy **px);

/* ---- pure parsers (proxy_parse.c), fuzzed by fuzz/fuzz_proxy_parse.c ---- */

/* An IMAP greeting: 1 "* OK", 0 anything else ("* BYE", "* PREAUTH", junk). */
int proxy_imap_greeting_ok(const char *line, size_t len);
/* A line of the back end's login replies.  Returns 1 when line is the
 * tagged reply to tag (with *ok_out true for OK and, when the reply has
 * a [CAPABILITY ...] code, its list copied to caps, at most caps_size
 * bytes with the NUL; else caps is left alone); 2 for an untagged
 * "* CAPABILITY ..." (its list copied to caps); 0 for any other line. */
int proxy_imap_reply(const char *line, size_t len, const char *tag, bool *ok_out, char *caps, size_t caps_size);
/* POP3: 1 for "+OK...", 0 for "-ERR..." or anything else. */
int proxy_pop3_ok(const char *line, size_t len);
/* IMAP quoted string of s (printable ASCII; others as '?') into out. */
void proxy_imap_quote(const char *s, char *out, size_t size);

/* The back end's side of XCLIENT (POP3, issue 11): "ADDR=192.0.2.1
 * PORT=1234" (names without regard to case, in any order, each at most
 * once; other names refused).  Fills addr (an IPv4 or IPv6 address,
 * INET6_ADDRSTRLEN bytes) and *port_out (0 when absent).  0, or -1 for a
 * malformed line (the caller answers -ERR). */
int proxy_xclient_parse(const char *args, char *addr, size_t addr_size, unsigned *port_out);

#endif
