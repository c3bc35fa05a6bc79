/* The SMTP client session: connect, greeting, EHLO (HELO after a 5xx),
 * STARTTLS and EHLO again, AUTH for a smarthost, then messages one at a
 * time (mta_tx.c), QUIT.  OpenSMTPD's mta_session.c is the model: one
 * state, one expected reply.
 *
 * Every entry from the caller (send, quit) runs from a conn_after(0)
 * turn, so that callbacks never run inside the caller's call and conn
 * settles (flushes, closes) after the work. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "lib/buf.h"
#include "lib/conn.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mta/mta_private.h"

static const struct conn_handler mta_handler;

void
mta_cmd(struct mta_session *s, const char *fmt, ...)
{
	va_list ap;
	struct buf b = BUF_INIT;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (log_debug_enabled())
		log_debug("mta %s > %s", conn_id(s->conn),
		          s->state == MTA_AUTH ? "********" : b.data);
	buf_puts(&b, "\r\n");
	conn_write(s->conn, b.data, b.len);
	if (s->state == MTA_AUTH)
		str_wipe(b.data, b.len);
	buf_free(&b);
}

/* The timeout for the reply awaited now: RFC 5321 4.5.3.2's for this
 * step, unless the caller set one for all. */
void
mta_wait(struct mta_session *s, unsigned rfc_sec)
{
	conn_set_timeout(s->conn, s->p.timeout_sec > 0 ? s->p.timeout_sec : rfc_sec);
}

void
mta_fail(struct mta_session *s, const struct mta_reply *why, bool tls_failed)
{
	if (!s->have_why) {
		s->why = *why;
		s->have_why = true;
		s->tls_failed = tls_failed;
	}
	conn_close(s->conn);
}

void
mta_become_ready(struct mta_session *s)
{
	s->state = MTA_READY;
	/* An idle session the caller forgets ends politely (see h_timeout). */
	mta_wait(s, MTA_TIMEOUT_MAIL);
	s->cb->ready(s->arg, s);
}

static void
send_ehlo(struct mta_session *s)
{
	memset(&s->ehlo, 0, sizeof(s->ehlo));
	s->state = MTA_EHLO;
	mta_cmd(s, "EHLO %s", s->p.helo_name);
	mta_wait(s, MTA_TIMEOUT_MAIL);
}

/* AUTH PLAIN (RFC 4616) or LOGIN, the user's secrets never logged. */
static void
auth_step(struct mta_session *s, const struct mta_reply *r)
{
	struct mta_reply why;
	char b64[2 * (AUTH_USER_MAX + AUTH_PASS_MAX) + 8];
	unsigned char raw[AUTH_USER_MAX + AUTH_PASS_MAX + 3];
	size_t ul = strlen(s->p.auth_user), pl = strlen(s->p.auth_pass);

	if (ul > AUTH_USER_MAX || pl > AUTH_PASS_MAX) {
		mta_reply_set(&why, 0, "4.7.0", "AUTH credentials too long");
		mta_fail(s, &why, false);
		return;
	}
	if (s->auth_step == 0) {
		s->state = MTA_AUTH;
		if (s->ehlo.auth & MTA_AUTH_PLAIN) {
			raw[0] = '\0';
			memcpy(raw + 1, s->p.auth_user, ul);
			raw[1 + ul] = '\0';
			memcpy(raw + 2 + ul, s->p.auth_pass, pl);
			base64_encode(raw, ul + pl + 2, b64);
			mta_cmd(s, "AUTH PLAIN %s", b64);
			s->auth_step = 3;
		} else {
			mta_cmd(s, "AUTH LOGIN");
			s->auth_step = 1;
		}
	} else if (r->code == 235) {
		log_info("mta %s authenticated peer=%s user=%s", conn_id(s->conn), s->peer, s->p.auth_user);
		mta_become_ready(s);
		return;
	} else if (r->code == 334 && (s->auth_step == 1 || s->auth_step == 2)) {
		if (s->auth_step == 1)
			base64_encode((const unsigned char *)s->p.auth_user, ul, b64);
		else
			base64_encode((const unsigned char *)s->p.auth_pass, pl, b64);
		mta_cmd(s, "%s", b64);
		s->auth_step++;
	} else {
		mta_fail(s, r, false);
		return;
	}
	str_wipe(raw, sizeof(raw));
	str_wipe(b64, sizeof(b64));
	mta_wait(s, MTA_TIMEOUT_MAIL);
}

/* EHLO (or HELO) went through: STARTTLS, AUTH or ready. */
static void
after_ehlo(struct mta_session *s)
{
	struct mta_reply why;

	if (!s->tls && s->p.tls != MTA_TLS_NONE) {
		if (s->ehlo.ext & MTA_EXT_STARTTLS) {
			s->state = MTA_STARTTLS;
			mta_cmd(s, "STARTTLS");
			mta_wait(s, MTA_TIMEOUT_MAIL);
			return;
		}
		if (s->p.tls != MTA_TLS_OPPORTUNISTIC) {
			/* Postfix's words; a policy failure is temporary. */
			mta_reply_set(&why, 451, "4.7.4", "TLS is required, but was not offered by host %s", s->peer);
			mta_fail(s, &why, true);
			return;
		}
	}
	if (s->p.auth_user != NULL && s->auth_step == 0) {
		if (!conn_tls_active(s->conn)) {
			mta_reply_set(&why, 454, "4.7.0", "AUTH to %s refused: the connection is not encrypted", s->peer);
			mta_fail(s, &why, false);
			return;
		}
		if (!(s->ehlo.ext & MTA_EXT_AUTH) || !(s->ehlo.auth & (MTA_AUTH_PLAIN | MTA_AUTH_LOGIN))) {
			mta_reply_set(&why, 454, "4.7.0", "%s offers no AUTH PLAIN or LOGIN", s->peer);
			mta_fail(s, &why, false);
			return;
		}
		auth_step(s, NULL);
		return;
	}
	mta_become_ready(s);
}

static void
start_tls(struct mta_session *s, const struct mta_reply *r)
{
	struct mta_reply why;
	const char *error;
	SSL *ssl;

	if (r->code != 220) {
		if (s->p.tls == MTA_TLS_OPPORTUNISTIC) {
			/* RFC 3207 4: the client may go on in the clear. */
			log_info("mta %s starttls refused peer=%s reply=\"%d %s\"", conn_id(s->conn), s->peer, r->code,
			         r->text);
			s->p.tls = MTA_TLS_NONE;
			after_ehlo(s);
			return;
		}
		mta_fail(s, r, true);
		return;
	}
	ssl = mta_tls_new_ssl(s, &error);
	if (ssl == NULL) {
		mta_reply_set(&why, 0, "4.7.5", "cannot set up TLS for %s: %s", s->peer, error);
		mta_fail(s, &why, true);
		return;
	}
	s->state = MTA_TLS;
	conn_starttls_client(s->conn, ssl);
	mta_wait(s, TLS_HANDSHAKE_TIMEOUT_SEC);
}

static void
on_reply(struct mta_session *s, const struct mta_reply *r)
{
	log_debug("mta %s < %d %s%s%s", conn_id(s->conn), r->code, r->status, r->status[0] ? " " : "", r->text);
	switch (s->state) {
	case MTA_GREETING:
		if (r->code == 220)
			send_ehlo(s);
		else
			mta_fail(s, r, false);
		break;
	case MTA_EHLO:
		if (r->code / 100 == 2) {
			after_ehlo(s);
		} else if (r->code / 100 == 5 && !s->tls) {
			/* RFC 5321 3.2: an old server; HELO has no extensions. */
			memset(&s->ehlo, 0, sizeof(s->ehlo));
			s->state = MTA_HELO;
			mta_cmd(s, "HELO %s", s->p.helo_name);
			mta_wait(s, MTA_TIMEOUT_MAIL);
		} else {
			mta_fail(s, r, false);
		}
		break;
	case MTA_HELO:
		if (r->code / 100 == 2)
			after_ehlo(s);
		else
			mta_fail(s, r, false);
		break;
	case MTA_STARTTLS:
		start_tls(s, r);
		break;
	case MTA_AUTH:
		auth_step(s, r);
		break;
	case MTA_TX:
	case MTA_DOT:
		mta_tx_reply(s, r);
		break;
	case MTA_QUIT:
		conn_close(s->conn);
		break;
	default:
		/* Nothing was asked: a 421 before the peer hangs up, or noise. */
		mta_fail(s, r, false);
		break;
	}
}

static void *
h_open(struct conn *c, void *arg)
{
	struct mta_session *s = arg;

	s->conn = c;
	s->state = MTA_GREETING;
	log_info("mta %s connected peer=%s tls=%s", conn_id(c), s->peer, mta_tls_policy_name(s->p.tls));
	mta_wait(s, MTA_TIMEOUT_GREETING);
	return s;
}

static void
h_input(void *arg)
{
	struct mta_session *s = arg;
	struct mta_reply r, why;
	const char *error;
	char *line;
	size_t len;
	int n;

	while (!conn_closing(s->conn) && s->state != MTA_TLS) {
		bool first = s->rp.lines == 0;

		n = conn_read_line(s->conn, MTA_REPLY_LINE_MAX, &line, &len);
		if (n == 0)
			return;
		if (n == -1) {
			mta_reply_set(&why, 0, "4.5.0", "reply line from %s longer than %d bytes", s->peer,
			              MTA_REPLY_LINE_MAX);
			mta_fail(s, &why, false);
			return;
		}
		n = mta_reply_feed(&s->rp, line, len, &r, &error);
		if (n == -1) {
			mta_reply_set(&why, 0, "4.5.0", "protocol error from %s: %s", s->peer, error);
			mta_fail(s, &why, false);
			return;
		}
		if (!first && s->state == MTA_EHLO && s->rp.line_text != NULL)
			mta_ehlo_line(&s->ehlo, s->rp.line_text);
		if (n == 1)
			on_reply(s, &r);
	}
}

static void
h_tls_ready(void *arg, bool ok)
{
	struct mta_session *s = arg;
	struct mta_reply why;
	const char *verr;
	char dane[64];

	if (!ok) {
		verr = mta_tls_verify_error(conn_ssl(s->conn));
		mta_reply_set(&why, 0, "4.7.5", "TLS handshake with %s failed%s%s", s->peer, verr ? ": " : "",
		              verr ? verr : "");
		mta_fail(s, &why, true);
		return;
	}
	s->tls = true;
	if (s->p.tls == MTA_TLS_DANE && mta_tls_dane_match(conn_ssl(s->conn), dane, sizeof(dane)) == 0)
		log_info("mta %s tls peer=%s %s dane=verified tlsa=\"%s\"", conn_id(s->conn), s->peer,
		         conn_tls_description(s->conn), dane);
	else
		log_info("mta %s tls peer=%s %s", conn_id(s->conn), s->peer, conn_tls_description(s->conn));
	send_ehlo(s);
}

static void
h_drained(void *arg)
{
	struct mta_session *s = arg;

	if (s->state == MTA_BODY)
		mta_body_pump(s);
}

static const char *
state_name(enum mta_state st)
{
	switch (st) {
	case MTA_GREETING: return "greeting";
	case MTA_EHLO: return "EHLO";
	case MTA_HELO: return "HELO";
	case MTA_STARTTLS: return "STARTTLS";
	case MTA_TLS: return "TLS handshake";
	case MTA_AUTH: return "AUTH";
	case MTA_TX: return "MAIL/RCPT/DATA";
	case MTA_BODY: return "message transfer";
	case MTA_DOT: return "end of data";
	case MTA_QUIT: return "QUIT";
	default: return "reply";
	}
}

static void quit_now(void *arg);

static void
h_timeout(void *arg)
{
	struct mta_session *s = arg;
	struct mta_reply why;

	if (s->state == MTA_READY) {
		quit_now(s);
		return;
	}
	mta_reply_set(&why, 0, "4.4.2", "timeout waiting for the %s reply from %s", state_name(s->state), s->peer);
	log_info("mta %s timeout peer=%s state=%s", conn_id(s->conn), s->peer, state_name(s->state));
	mta_fail(s, &why, s->state == MTA_TLS);
}

static void
session_free(struct mta_session *s)
{
	free(s->res);
	free(s->rstate);
	free(s->rbuf);
	free(s);
}

static void
h_close(void *arg)
{
	struct mta_session *s = arg;
	bool clean = s->state == MTA_QUIT && !s->have_why;

	if (!clean && !s->have_why) {
		mta_reply_set(&s->why, 0, "4.4.2", "connection to %s lost during %s", s->peer, state_name(s->state));
		s->have_why = true;
		s->tls_failed = s->state == MTA_TLS;
	}
	if (s->m != NULL)
		mta_tx_abort(s, &s->why);
	if (clean)
		log_info("mta %s closed peer=%s", conn_id(s->conn), s->peer);
	else
		log_info("mta %s closed peer=%s reason=\"%d %s %s\"%s", conn_id(s->conn), s->peer, s->why.code,
		         s->why.status, s->why.text, s->tls_failed ? " tls_failed=1" : "");
	s->cb->closed(s->arg, s, clean ? NULL : &s->why, s->tls_failed);
	session_free(s);
}

static void
h_connect_failed(void *arg, int err)
{
	struct mta_session *s = arg;

	mta_reply_set(&s->why, 0, "4.4.1", "connect to %s failed: %s", s->peer, strerror(err));
	log_info("mta - connect failed peer=%s error=\"%s\"", s->peer, strerror(err));
	s->cb->closed(s->arg, s, &s->why, false);
	session_free(s);
}

static const struct conn_handler mta_handler = {
	.name = "mta",
	.open = h_open,
	.input = h_input,
	.drained = h_drained,
	.timeout = h_timeout,
	.close = h_close,
	.connect_failed = h_connect_failed,
	.tls_ready = h_tls_ready,
};

struct mta_session *
mta_session_connect(struct evloop *loop, const struct sockaddr *addr, socklen_t addrlen, const struct mta_params *p,
                    const struct mta_callbacks *cb, void *arg)
{
	struct mta_session *s = xcalloc(1, sizeof(*s));
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	s->loop = loop;
	s->p = *p;
	if (p->tlsa != NULL)
		s->tlsa = *p->tlsa;
	s->p.tlsa = NULL;
	s->cb = cb;
	s->arg = arg;
	s->state = MTA_CONNECTING;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;

		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		port = ntohs(sin->sin_port);
		snprintf(s->peer, sizeof(s->peer), "%s:%u", host, port);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;

		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		port = ntohs(sin6->sin6_port);
		snprintf(s->peer, sizeof(s->peer), "[%s]:%u", host, port);
	}
	s->conn = conn_connect(loop, addr, addrlen, &mta_handler, s,
	                       p->timeout_sec > 0 ? p->timeout_sec : MTA_CONNECT_TIMEOUT_SEC);
	if (s->conn == NULL) {
		session_free(s);
		return NULL;
	}
	return s;
}

static void
send_now(void *arg)
{
	struct mta_session *s = arg;

	if (s->state == MTA_TX_START)
		mta_tx_start(s);
}

void
mta_session_send(struct mta_session *s, const struct mta_msg *m)
{
	if (s->state != MTA_READY || s->m != NULL)
		panic("mta_session_send outside ready");
	s->m = m;
	s->state = MTA_TX_START;
	conn_after(s->conn, 0, send_now, s);
}

static void
quit_now(void *arg)
{
	struct mta_session *s = arg;
	struct mta_reply why;

	if (s->state == MTA_READY) {
		s->state = MTA_QUIT;
		mta_cmd(s, "QUIT");
		mta_wait(s, MTA_TIMEOUT_MAIL);
	} else if (s->state != MTA_QUIT) {
		mta_reply_set(&why, 0, "4.3.0", "session with %s ended by the caller during %s", s->peer,
		              state_name(s->state));
		mta_fail(s, &why, false);
	}
}

void
mta_session_quit(struct mta_session *s)
{
	conn_after(s->conn, 0, quit_now, s);
}

bool
mta_session_tls(const struct mta_session *s)
{
	return s->tls;
}

const char *
mta_session_tls_description(const struct mta_session *s)
{
	return s->tls ? conn_tls_description(s->conn) : NULL;
}

const char *
mta_session_peer(const struct mta_session *s)
{
	return s->peer;
}

bool
mta_session_has(const struct mta_session *s, const char *ext)
{
	unsigned bit = mta_ehlo_ext(ext);

	return bit != 0 && (s->ehlo.ext & bit) != 0;
}

uint64_t
mta_session_size_limit(const struct mta_session *s)
{
	return s->ehlo.size_max;
}
