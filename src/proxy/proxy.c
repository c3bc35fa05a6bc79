/* The hop from a proxy to a back end (proxy.h): connect, TLS, the
 * protocol's login for the user, then the relay.
 *
 * Two connections on one loop: the client's (owned by its protocol
 * session, which forwards its handler calls here while relaying) and the
 * back end's (owned by this file).  The struct proxy lives while either
 * holds it (refs).  What one side's callback does to the other connection
 * takes effect through conn_kick, always the last thing done with it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "auth/auth.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mta/mta.h"
#include "mta/mta_reply.h"
#include "proxy/proxy.h"

#define AUTH_PROXY_SECRET_BUF (AUTH_PROXY_SECRET_MAX + 1)

enum px_state {
	PX_CONNECTING,
	PX_TLS,            /* implicit TLS: the handshake */
	PX_GREETING,
	PX_STARTTLS,       /* STARTTLS/STLS sent, waiting for its OK */
	PX_STARTTLS_HS,
	PX_LOGIN,          /* ID/XCLIENT and AUTHENTICATE sent */
	PX_READY,          /* ready called; waiting for proxy_relay */
	PX_RELAY,
	PX_FAILED,
};

struct proxy {
	int refs;                         /* the session's, the back-end connection's */
	struct conn *client;              /* NULL once the session let go */
	struct conn *be;                  /* NULL once the back-end connection ended */
	enum px_state state;
	enum proxy_protocol proto;
	enum proxy_tls tls;
	bool client_paused, be_paused;    /* stopped for backpressure */
	unsigned pop3_replies;            /* POP3 login: replies seen */
	/* Submission: the step of the login whose reply is awaited, and
	 * the reply parser (multi-line replies, mta_reply.h). */
	enum { SM_GREETING, SM_EHLO_TLS, SM_STARTTLS, SM_XCLIENT, SM_EHLO, SM_AUTH } smtp_step;
	const struct proxy_callbacks *cb;
	void *arg;
	uint64_t started_ms;
	char id[16];
	char user[ADDRESS_MAX + 1];
	char client_addr[64];
	unsigned client_port;
	const char *ca_file;              /* the config's, or NULL */
	const char *secret;               /* auth_proxy_secret()'s */
	const char *helo;                 /* the config's */
	struct proxy_target target;
	/* What only the login needs, freed when it ends: an idle relayed
	 * session keeps two connections and this struct. */
	struct px_login {
		struct mta_reply_parser smtp_parser;
		char caps[PROXY_LINE_MAX];
	} *login;
};

static const struct conn_handler be_handler;

static void
px_unref(struct proxy *px)
{
	if (--px->refs > 0)
		return;
	free(px->login);
	free(px);
}

/* The login failed: the session hears it (once) and the back-end side
 * closes. */
static void
px_fail(struct proxy *px, const char *why)
{
	struct conn *client = px->client;

	if (px->state == PX_FAILED || px->state == PX_RELAY)
		return;
	px->state = PX_FAILED;
	log_warnx("proxy %s backend=%s host=%s user=%s unavailable reason=\"%s\"", px->id, px->target.backend,
	          px->target.host, px->user, why);
	if (px->be != NULL)
		conn_close(px->be);
	if (px->cb != NULL && client != NULL) {
		px->cb->failed(px->arg, why);
		conn_kick(client);
	}
}

/* The proxy's SASL PLAIN response for its user, in base64 (RFC 4616:
 * authzid NUL authcid NUL passwd; auth_proxy.c checks it). */
#define PX_PLAIN_RAW_MAX (ADDRESS_MAX + sizeof(AUTH_PROXY_IDENTITY) + AUTH_PROXY_SECRET_BUF + 2)
#define PX_PLAIN_B64_MAX (PX_PLAIN_RAW_MAX * 4 / 3 + 8)
static void
px_plain_b64(const struct proxy *px, char *b64)
{
	unsigned char raw[PX_PLAIN_RAW_MAX];
	size_t ul = strlen(px->user), il = strlen(AUTH_PROXY_IDENTITY), sl = strlen(px->secret);

	memcpy(raw, px->user, ul);
	raw[ul] = '\0';
	memcpy(raw + ul + 1, AUTH_PROXY_IDENTITY, il);
	raw[ul + 1 + il] = '\0';
	memcpy(raw + ul + 2 + il, px->secret, sl);
	base64_encode(raw, ul + il + sl + 2, b64);
	str_wipe(raw, sizeof(raw));
}

static void
px_send_login(struct proxy *px)
{
	char b64[PX_PLAIN_B64_MAX], q[80];
	struct buf b = BUF_INIT;

	px_plain_b64(px, b64);
	/* Pipelined: the client's address, then the login, one round trip. */
	if (px->proto == PROXY_IMAP) {
		proxy_imap_quote(px->client_addr, q, sizeof(q));
		buf_printf(&b, "P1 ID (\"x-originating-ip\" %s \"x-originating-port\" \"%u\")\r\n", q, px->client_port);
		buf_printf(&b, "P2 AUTHENTICATE PLAIN %s\r\n", b64);
	} else if (px->proto == PROXY_POP3) {
		buf_printf(&b, "XCLIENT ADDR=%s PORT=%u\r\n", px->client_addr, px->client_port);
		buf_printf(&b, "AUTH PLAIN %s\r\n", b64);
	} else {
		/* Submission: XCLIENT, then EHLO and AUTH once it is answered
		 * (XCLIENT starts the session anew, Postfix's XCLIENT_README). */
		buf_printf(&b, "XCLIENT ADDR=%s PORT=%u\r\n", px->client_addr, px->client_port);
		px->smtp_step = SM_XCLIENT;
	}
	conn_write(px->be, b.data, b.len);
	str_wipe(b.data, b.len);
	buf_free(&b);
	str_wipe(b64, sizeof(b64));
	px->state = PX_LOGIN;
}

static void
px_start_tls(struct proxy *px)
{
	const char *error = NULL;
	SSL *ssl = mta_tls_client_ssl(px->target.host, px->ca_file, true, &error);

	if (ssl == NULL) {
		px_fail(px, error != NULL ? error : "TLS setup failed");
		return;
	}
	px->state = px->state == PX_CONNECTING ? PX_TLS : PX_STARTTLS_HS;
	conn_starttls_client(px->be, ssl);
}

static void
px_ready(struct proxy *px)
{
	struct conn *client = px->client;

	px->state = PX_READY;
	log_info("proxy %s backend=%s host=%s user=%s logged-in ms=%llu", px->id, px->target.backend,
	         px->target.host, px->user,
	         (unsigned long long)(evloop_now_ms(conn_loop(px->be)) - px->started_ms));
	if (px->cb != NULL && client != NULL) {
		px->cb->ready(px->arg, px->login->caps);
		conn_kick(client);
	}
	free(px->login);
	px->login = NULL;
}

static void
px_smtp_auth(struct proxy *px)
{
	char b64[PX_PLAIN_B64_MAX];

	px_plain_b64(px, b64);
	conn_printf(px->be, "AUTH PLAIN %s\r\n", b64);
	str_wipe(b64, sizeof(b64));
	px->smtp_step = SM_AUTH;
}

/* A whole reply of a submission back end during login. */
static void
px_smtp_reply(struct proxy *px, const struct mta_reply *r)
{
	static const int want[] = { [SM_GREETING] = 220, [SM_EHLO_TLS] = 250, [SM_STARTTLS] = 220,
	                            [SM_XCLIENT] = 220, [SM_EHLO] = 250, [SM_AUTH] = 235 };
	char why[MTA_REPLY_TEXT_MAX + 64];

	if (r->code != want[px->smtp_step]) {
		snprintf(why, sizeof(why), "the back end answered %d %s", r->code, r->text);
		px_fail(px, px->smtp_step == SM_AUTH ? "the back end refused the proxied login" : why);
		return;
	}
	switch (px->smtp_step) {
	case SM_GREETING:
		px->state = PX_LOGIN;
		if (px->tls == PROXY_TLS_STARTTLS) {
			conn_printf(px->be, "EHLO %s\r\n", px->helo);
			px->smtp_step = SM_EHLO_TLS;
		} else {
			px_send_login(px);
		}
		return;
	case SM_EHLO_TLS:
		conn_puts(px->be, "STARTTLS\r\n");
		px->smtp_step = SM_STARTTLS;
		return;
	case SM_STARTTLS:
		px_start_tls(px);
		return;
	case SM_XCLIENT:
		conn_printf(px->be, "EHLO %s\r\n", px->helo);
		px->smtp_step = SM_EHLO;
		return;
	case SM_EHLO:
		px_smtp_auth(px);
		return;
	case SM_AUTH:
		px_ready(px);
		return;
	}
}

/* One line of the back end's during login. */
static void
px_login_line(struct proxy *px, const char *line, size_t len)
{
	bool ok = false;
	int r;

	if (px->proto == PROXY_SUBMISSION) {
		struct mta_reply reply;
		const char *error = NULL;

		r = mta_reply_feed(&px->login->smtp_parser, line, len, &reply, &error);
		if (r < 0)
			px_fail(px, error != NULL ? error : "a malformed reply");
		else if (r == 1)
			px_smtp_reply(px, &reply);
		return;
	}

	switch (px->state) {
	case PX_GREETING:
		if (px->proto == PROXY_IMAP ? !proxy_imap_greeting_ok(line, len) : !proxy_pop3_ok(line, len)) {
			px_fail(px, "the back end's greeting is not OK");
			return;
		}
		if (px->tls == PROXY_TLS_STARTTLS) {
			conn_puts(px->be, px->proto == PROXY_IMAP ? "P0 STARTTLS\r\n" : "STLS\r\n");
			px->state = PX_STARTTLS;
		} else {
			px_send_login(px);
		}
		return;
	case PX_STARTTLS:
		if (px->proto == PROXY_IMAP) {
			if (proxy_imap_reply(line, len, "P0", &ok, NULL, 0) != 1)
				return;
		} else {
			ok = proxy_pop3_ok(line, len);
		}
		if (!ok) {
			px_fail(px, "the back end refused STARTTLS");
			return;
		}
		px_start_tls(px);
		return;
	case PX_LOGIN:
		if (px->proto == PROXY_POP3) {
			/* The XCLIENT reply (taken either way: a back end that
			 * does not trust us logs the proxy's address), then
			 * AUTH's. */
			if (++px->pop3_replies < 2)
				return;
			if (!proxy_pop3_ok(line, len)) {
				px_fail(px, "the back end refused the proxied login");
				return;
			}
			px_ready(px);
			return;
		}
		r = proxy_imap_reply(line, len, "P2", &ok, px->login->caps, sizeof(px->login->caps));
		if (r != 1)
			return;
		if (!ok) {
			px_fail(px, "the back end refused the proxied login");
			return;
		}
		px_ready(px);
		return;
	default:
		return;
	}
}

/* Moves what from has received to to, unless to's output is full: then
 * from stops until to drains (*paused).  Returns true if bytes moved. */
static bool
pump(struct conn *from, struct conn *to, bool *paused)
{
	struct buf *in = conn_input(from);

	if (in->len == 0 || *paused)
		return false;
	if (conn_output_pending(to) >= NET_OUTPUT_HIGH) {
		*paused = true;
		conn_pause(from);
		return false;
	}
	conn_write(to, in->data, in->len);
	conn_consume(from, in->len);
	/* Traffic either way keeps the client's session alive: an IDLE
	 * client sends nothing for many minutes while the back end talks. */
	conn_progress(from);
	conn_progress(to);
	return true;
}

/* ---- the back-end connection's handlers ---- */

static void *
be_open(struct conn *c, void *arg)
{
	struct proxy *px = arg;

	if (px->state == PX_FAILED) {
		conn_close(c);             /* the session went while we connected */
		return px;
	}
	conn_set_timeout(c, PROXY_LOGIN_TIMEOUT_SEC);
	if (px->tls == PROXY_TLS_IMPLICIT)
		px_start_tls(px);
	else
		px->state = PX_GREETING;
	return px;
}

static void
be_tls_ready(void *arg, bool ok)
{
	struct proxy *px = arg;
	char why[160];

	if (!ok) {
		/* Only from the connection's end (conn.h): be_close follows,
		 * and nothing may settle it meanwhile. */
		const char *verr = NULL;
		long v = conn_ssl(px->be) != NULL ? SSL_get_verify_result(conn_ssl(px->be)) : X509_V_OK;

		if (v != X509_V_OK)
			verr = X509_verify_cert_error_string(v);
		px->be = NULL;
		snprintf(why, sizeof(why), "TLS with the back end failed%s%s", verr != NULL ? ": " : "",
		         verr != NULL ? verr : "");
		px_fail(px, why);
		return;
	}
	if (px->state == PX_TLS) {
		px->state = PX_GREETING;   /* implicit: the greeting comes over TLS */
	} else if (px->proto == PROXY_SUBMISSION) {
		px->state = PX_LOGIN;      /* RFC 3207 4.2: start again without a greeting */
		px_send_login(px);
	} else {
		px_send_login(px);         /* after STARTTLS no new greeting */
	}
}

static void
be_input(void *arg)
{
	struct proxy *px = arg;

	if (px->state == PX_RELAY) {
		if (px->client != NULL && pump(px->be, px->client, &px->be_paused))
			conn_kick(px->client);
		return;
	}
	while (px->state == PX_GREETING || px->state == PX_STARTTLS || px->state == PX_LOGIN) {
		char *line;
		size_t len;
		int r = conn_read_line(px->be, PROXY_LINE_MAX, &line, &len);

		if (r == 0)
			return;
		if (r < 0) {
			px_fail(px, "the back end sent an overlong line");
			return;
		}
		px_login_line(px, line, len);
	}
}

static void
be_drained(void *arg)
{
	struct proxy *px = arg;

	if (px->client_paused && px->client != NULL) {
		px->client_paused = false;
		conn_resume(px->client);
		conn_kick(px->client);
	}
}

static void
be_timeout(void *arg)
{
	struct proxy *px = arg;

	px_fail(px, "the back end did not answer in time");
	conn_close(px->be);
}

static void
be_close(void *arg)
{
	struct proxy *px = arg;
	struct conn *client = px->client;

	px->be = NULL;
	if (px->state != PX_FAILED && px->state != PX_RELAY && px->state != PX_READY)
		px_fail(px, "the back end closed the connection");
	else if (client != NULL && px->state != PX_FAILED) {
		/* The back end ended the session (LOGOUT, autologout, BYE):
		 * what it said reaches the client, then the client goes. */
		conn_close(client);
		px_unref(px);
		conn_kick(client);
		return;
	}
	px_unref(px);
}

static void
be_connect_failed(void *arg, int err)
{
	struct proxy *px = arg;
	char why[128];

	px->be = NULL;             /* being freed: nothing may settle it */
	snprintf(why, sizeof(why), "connect: %s", strerror(err));
	px_fail(px, why);
	px_unref(px);
}

static const struct conn_handler be_handler = {
	.name = "proxy",
	.open = be_open,
	.input = be_input,
	.drained = be_drained,
	.timeout = be_timeout,
	.close = be_close,
	.connect_failed = be_connect_failed,
	.tls_ready = be_tls_ready,
};

/* ---- the session's side ---- */

void
proxy_params_init(struct proxy_params *p, enum proxy_protocol proto, const struct tern_config *cfg,
                  struct conn *c, const char *user, const struct proxy_target *target)
{
	*p = (struct proxy_params){
		.proto = proto,
		.target = target,
		.user = user,
		.client_addr = conn_peer_addr(c),
		.client_port = conn_peer_port(c),
		.tls = cfg->proxy.tls,
		.ca_file = cfg->proxy.ca_file,
		.secret = auth_proxy_secret(),
		.helo = cfg->hostname,
		.log_id = conn_id(c),
	};
}

struct proxy *
proxy_start(struct conn *client, const struct proxy_params *p, const struct proxy_callbacks *cb, void *arg)
{
	struct proxy *px = xcalloc(1, sizeof(*px));

	px->refs = 2;
	px->client = client;
	px->proto = p->proto;
	px->tls = p->tls;
	px->cb = cb;
	px->arg = arg;
	px->started_ms = evloop_now_ms(conn_loop(client));
	px->target = *p->target;
	str_lcpy(px->id, p->log_id, sizeof(px->id));
	str_lcpy(px->user, p->user, sizeof(px->user));
	str_lcpy(px->client_addr, p->client_addr, sizeof(px->client_addr));
	px->client_port = p->client_port;
	px->ca_file = p->ca_file != NULL && p->ca_file[0] != '\0' ? p->ca_file : NULL;
	px->secret = p->secret != NULL ? p->secret : "";
	px->helo = p->helo != NULL ? p->helo : "localhost";
	px->login = xcalloc(1, sizeof(*px->login));
	mta_reply_parser_init(&px->login->smtp_parser);
	px->be = conn_connect(conn_loop(client), (const struct sockaddr *)&px->target.addr, px->target.addrlen,
	                      &be_handler, px, PROXY_CONNECT_TIMEOUT_SEC);
	if (px->be == NULL) {
		log_warn("proxy %s backend=%s socket", px->id, px->target.backend);
		free(px->login);
		free(px);
		return NULL;
	}
	return px;
}

void
proxy_relay(struct proxy *px)
{
	if (px->state != PX_READY || px->be == NULL || px->client == NULL)
		return;
	px->state = PX_RELAY;
	/* From now on the back end decides when the session ends. */
	conn_set_timeout(px->be, 0);
	pump(px->client, px->be, &px->client_paused);
	pump(px->be, px->client, &px->be_paused);
	/* (Both connections settle at the end of the callback that called
	 * this: the client's session's or the back end's.) */
	conn_kick(px->be);
}

void
proxy_client_input(struct proxy *px)
{
	struct conn *be = px->be;

	if (px->state != PX_RELAY || be == NULL)
		return;
	if (pump(px->client, be, &px->client_paused))
		conn_kick(be);
}

void
proxy_client_drained(struct proxy *px)
{
	struct conn *be = px->be;

	if (px->be_paused && be != NULL) {
		px->be_paused = false;
		conn_resume(be);
		conn_kick(be);
	}
}

void
proxy_free(struct proxy **pp)
{
	struct proxy *px = *pp;
	struct conn *be;

	if (px == NULL)
		return;
	*pp = NULL;
	be = px->be;
	px->client = NULL;
	px->cb = NULL;
	if (px->state != PX_RELAY && px->state != PX_FAILED)
		px->state = PX_FAILED;
	px_unref(px);
	if (be != NULL) {
		conn_close(be);
		conn_kick(be);
	}
}
