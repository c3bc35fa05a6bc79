/* SMTP sessions: the connection handler, the input loop, the command
 * table and the helpers every command uses.
 *
 * Flow: conn calls smtp_input() when bytes are buffered.  The loop takes
 * one command line at a time (conn_read_line, bounded by
 * SMTP_CMD_LINE_MAX) and dispatches it, or, in the DATA/BDAT states, hands
 * raw bytes to the body machine.  It processes every buffered command in
 * order (PIPELINING, RFC 2920) and stops when a command starts deferred
 * work (AUTH check, delivery): conn_defer pauses input, and the job's
 * completion resumes it, so later pipelined commands are answered in
 * order.  It also stops while more than NET_OUTPUT_HIGH bytes of replies
 * are queued (a client that pipelines without reading), and resumes in
 * smtp_drained(). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "auth/auth.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"
#include "server/listener.h"
#include "smtp/smtp.h"
#include "smtp/smtp_session.h"
#include "proxy/proxy.h"

#define SMTP_TX_ARENA_CHUNK 2048

/* Flags of a command table row. */
#define SMTP_CMD_NEED_HELO 0x1   /* 503 before HELO/EHLO */
#define SMTP_CMD_JUNK      0x2   /* moves no mail: past SMTP_JUNK_COMMANDS_MAX each is an error */

struct smtp_cmd_def {
	int (*fn)(struct smtp_session *s, const char *args);
	unsigned flags;
};

static const struct smtp_cmd_def smtp_cmds[SMTP_VERB_COUNT] = {
	[SMTP_VERB_HELO] = { smtp_cmd_helo, 0 },
	[SMTP_VERB_EHLO] = { smtp_cmd_ehlo, 0 },
	[SMTP_VERB_MAIL] = { smtp_cmd_mail, SMTP_CMD_NEED_HELO },
	[SMTP_VERB_RCPT] = { smtp_cmd_rcpt, SMTP_CMD_NEED_HELO },
	[SMTP_VERB_DATA] = { smtp_cmd_data, SMTP_CMD_NEED_HELO },
	[SMTP_VERB_BDAT] = { smtp_cmd_bdat, 0 },   /* checks itself: must consume the chunk */
	[SMTP_VERB_BURL] = { smtp_cmd_burl, SMTP_CMD_NEED_HELO },
	[SMTP_VERB_RSET] = { smtp_cmd_rset, SMTP_CMD_JUNK },
	[SMTP_VERB_NOOP] = { smtp_cmd_noop, SMTP_CMD_JUNK },
	[SMTP_VERB_QUIT] = { smtp_cmd_quit, 0 },
	[SMTP_VERB_VRFY] = { smtp_cmd_vrfy, SMTP_CMD_JUNK },
	[SMTP_VERB_EXPN] = { smtp_cmd_expn, 0 },
	[SMTP_VERB_HELP] = { smtp_cmd_help, SMTP_CMD_JUNK },
	[SMTP_VERB_STARTTLS] = { smtp_cmd_starttls, SMTP_CMD_NEED_HELO },
	[SMTP_VERB_AUTH] = { smtp_cmd_auth, SMTP_CMD_NEED_HELO },
	[SMTP_VERB_XCLIENT] = { smtp_cmd_xclient, 0 },
};

static void vreply(struct smtp_session *s, int code, const char *enh, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static void count_error(struct smtp_session *s);

static void
vreply(struct smtp_session *s, int code, const char *enh, const char *fmt, va_list ap)
{
	char text[SMTP_CMD_LINE_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	conn_printf(s->c, "%d %s %s\r\n", code, enh, text);
	if (log_debug_enabled())
		log_debug("smtp %s > %d %s %s", conn_id(s->c), code, enh, text);
}

int
smtp_reply(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, code, enh, fmt, ap);
	va_end(ap);
	return 0;
}

int
smtp_error(struct smtp_session *s, int code, const char *enh, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, code, enh, fmt, ap);
	va_end(ap);
	count_error(s);
	return 0;
}

static void
count_error(struct smtp_session *s)
{
	if (++s->errors > SMTP_MAX_ERRORS && !conn_closing(s->c)) {
		log_info("smtp %s too many errors peer=%s errors=%u", conn_id(s->c), conn_peer_addr(s->c), s->errors);
		conn_printf(s->c, "421 4.7.0 %s Too many errors\r\n", s->cfg->hostname);
		conn_close(s->c);
	}
}

bool
smtp_is_submission(const struct smtp_session *s)
{
	return s->service == SERVICE_SUBMISSION || s->service == SERVICE_SUBMISSIONS;
}

bool
smtp_auth_allowed_here(const struct smtp_session *s)
{
	return auth_plaintext_allowed(s->cfg->allow_plaintext, conn_tls_active(s->c), conn_peer_is_loopback(s->c));
}

bool
smtp_must_starttls(const struct smtp_session *s)
{
	return smtp_is_submission(s) && !conn_tls_active(s->c) && conn_tls_available(s->c) &&
	       !smtp_auth_allowed_here(s);
}

const char *
smtp_log_safe(const char *str, char *out, size_t outsize)
{
	size_t i;

	for (i = 0; str[i] != '\0' && i + 1 < outsize; i++) {
		unsigned char c = (unsigned char)str[i];

		out[i] = c >= 33 && c <= 126 ? (char)c : '?';
	}
	out[i] = '\0';
	return out;
}

static void
make_id(char out[SMTP_ID_LEN + 1])
{
	static const char hex[] = "0123456789ABCDEF";
	static _Atomic uint64_t counter;
	unsigned char r[SMTP_ID_LEN / 2];
	size_t i;

	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		/* no entropy yet (early boot): time and a counter are unique
		 * enough for an id that is not a secret */
		uint64_t v = ((uint64_t)time(NULL) << 24) ^ ++counter;

		for (i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)(v >> (8 * i));
	}
	for (i = 0; i < sizeof(r); i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 0xf];
	}
	out[SMTP_ID_LEN] = '\0';
}

struct smtp_tx *
smtp_tx_new(struct smtp_session *s)
{
	struct arena *a;
	struct smtp_tx *tx;

	if (s->tx != NULL)
		panic("smtp_tx_new: transaction already open");
	a = arena_new(SMTP_TX_ARENA_CHUNK, false);
	tx = arena_alloc(a, sizeof(*tx));
	tx->arena = a;
	tx->spool.fd = -1;
	make_id(tx->id);
	s->tx = tx;
	return tx;
}

void
smtp_tx_free(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct arena *a;

	if (tx == NULL)
		return;
	/* The message (DATA, BDAT chunks) is over, whatever happened. */
	conn_transfer_end(s->c);
	if (tx->spool_open)
		store_spool_discard(&tx->spool);
	a = tx->arena;
	s->tx = NULL;
	arena_free(&a);
}

void
smtp_strvec_add(struct smtp_tx *tx, struct smtp_strvec *v, const char *str)
{
	if (v->n == v->cap) {
		size_t cap = v->cap == 0 ? 8 : v->cap * 2;
		const char **nv = arena_alloc(tx->arena, cap * sizeof(*nv));

		if (v->n > 0)
			memcpy(nv, v->v, v->n * sizeof(*nv));
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = arena_strdup(tx->arena, str);
}

void
smtp_tx_add_remote(struct smtp_tx *tx, const char *addr, unsigned notify, const char *orcpt)
{
	size_t old_cap = tx->remote.cap;

	for (size_t i = 0; i < tx->remote.n; i++) {
		if (strcmp(tx->remote.v[i], addr) == 0)
			return;
	}
	smtp_strvec_add(tx, &tx->remote, addr);
	if (tx->remote.cap != old_cap || tx->remote_dsn == NULL) {
		struct smtp_rcpt_dsn *nd = arena_alloc(tx->arena, tx->remote.cap * sizeof(*nd));

		if (tx->remote_dsn != NULL)
			memcpy(nd, tx->remote_dsn, (tx->remote.n - 1) * sizeof(*nd));
		tx->remote_dsn = nd;
	}
	tx->remote_dsn[tx->remote.n - 1].notify = notify;
	tx->remote_dsn[tx->remote.n - 1].orcpt = orcpt != NULL ? arena_strdup(tx->arena, orcpt) : NULL;
}

void
smtp_session_busy(struct smtp_session *s)
{
	s->busy = true;
}

void
smtp_session_unbusy(struct smtp_session *s)
{
	s->busy = false;
}

/* A command line for the debug trace: printable ASCII and spaces kept. */
static const char *
trace_safe(const char *str, char *out, size_t outsize)
{
	size_t i;

	for (i = 0; str[i] != '\0' && i + 1 < outsize; i++) {
		unsigned char c = (unsigned char)str[i];

		out[i] = c >= 32 && c <= 126 ? (char)c : '?';
	}
	out[i] = '\0';
	return out;
}

/* One command line. */
static void
dispatch(struct smtp_session *s, char *line, size_t len)
{
	struct smtp_command cmd;
	const struct smtp_cmd_def *def;
	char safe[128];

	if (smtp_parse_command(line, len, &cmd) != SMTP_PARSE_OK) {
		smtp_error(s, 500, "5.5.2", "Invalid character in command");
		return;
	}
	if (log_debug_enabled()) {
		/* AUTH carries credentials: trace the verb and mechanism only */
		if (cmd.verb == SMTP_VERB_AUTH)
			log_debug("smtp %s < AUTH ********", conn_id(s->c));
		else
			log_debug("smtp %s < %s", conn_id(s->c), trace_safe(line, safe, sizeof(safe)));
	}
	if (cmd.verb == SMTP_VERB_HTTP) {
		/* Postfix's smtpd_forbidden_commands: a web request sent to
		 * the SMTP port (or a cross-protocol attack).  Hang up. */
		log_info("smtp %s forbidden command peer=%s command=%s", conn_id(s->c), conn_peer_addr(s->c),
		         smtp_log_safe(line, safe, 32));
		smtp_reply(s, 221, "2.7.0", "Error: this is an SMTP server. Goodbye.");
		conn_close(s->c);
		return;
	}
	def = &smtp_cmds[cmd.verb];
	if (cmd.verb == SMTP_VERB_UNKNOWN || def->fn == NULL) {
		smtp_error(s, 500, "5.5.1", "Command unrecognized");
		return;
	}
	if ((def->flags & SMTP_CMD_NEED_HELO) && !s->greeted) {
		smtp_error(s, 503, "5.5.1", "Send HELO/EHLO first");
		return;
	}
	metrics_command(METRICS_CMD_SMTP);
	def->fn(s, cmd.args);
	/* A client that only sends NOOPs (one every 299 s) would otherwise
	 * hold its connection forever. */
	if ((def->flags & SMTP_CMD_JUNK) && ++s->junk > SMTP_JUNK_COMMANDS_MAX)
		count_error(s);
}

/* [limits] max_commands_before_auth, on submission only: an MTA on port
 * 25 never authenticates.  Returns false once the session is closing. */
static bool
count_preauth_command(struct smtp_session *s)
{
	unsigned max = s->cfg->max_commands_before_auth;

	if (!smtp_is_submission(s) || max == 0 || conn_authenticated(s->c))
		return true;
	if (++s->preauth_cmds <= max)
		return true;
	log_info("smtp %s too many commands before authentication peer=%s commands=%u", conn_id(s->c),
	         conn_peer_addr(s->c), s->preauth_cmds - 1);
	conn_printf(s->c, "421 4.7.0 %s Too many commands before authentication\r\n", s->cfg->hostname);
	conn_close(s->c);
	return false;
}

static bool
read_command(struct smtp_session *s)
{
	char *line;
	size_t len;
	int r = conn_read_line(s->c, SMTP_CMD_LINE_MAX, &line, &len);

	if (r == 0)
		return false;
	if (!count_preauth_command(s))
		return true;
	if (r < 0) {
		smtp_error(s, 500, "5.5.2", "Line too long");
		return true;
	}
	dispatch(s, line, len);
	return true;
}

static bool
read_auth_line(struct smtp_session *s)
{
	char *line;
	size_t len;
	int r = conn_read_line(s->c, SMTP_AUTH_LINE_MAX, &line, &len);

	if (r == 0)
		return false;
	if (r < 0)
		smtp_auth_line_too_long(s);
	else
		smtp_auth_line(s, line, len);
	return true;
}

static void
smtp_input(void *arg)
{
	struct smtp_session *s = arg;

	if (s->proxied) {
		smtp_proxy_input(s);
		return;
	}
	if (s->rearm_timeout) {
		s->rearm_timeout = false;
		conn_set_timeout(s->c, SMTP_TIMEOUT_SEC);
	}
	while (!s->busy && !s->output_paused && !conn_closing(s->c)) {
		bool progress;

		if (conn_output_pending(s->c) >= NET_OUTPUT_HIGH) {
			s->output_paused = true;
			conn_pause(s->c);
			return;
		}
		switch (s->state) {
		case SMTP_ST_DATA:
			progress = smtp_data_input(s);
			break;
		case SMTP_ST_BDAT:
			progress = smtp_bdat_input(s);
			break;
		case SMTP_ST_AUTH:
			progress = read_auth_line(s);
			break;
		default:
			progress = read_command(s);
			break;
		}
		if (!progress)
			return;
	}
}

static void
smtp_drained(void *arg)
{
	struct smtp_session *s = arg;

	if (s->proxied) {
		smtp_proxy_drained(s);
		return;
	}
	if (s->output_paused) {
		s->output_paused = false;
		conn_resume(s->c);
	}
}

static void
smtp_timeout(void *arg)
{
	struct smtp_session *s = arg;

	log_info("smtp %s timeout peer=%s state=%d", conn_id(s->c), conn_peer_addr(s->c), (int)s->state);
	if (s->proxied) {
		conn_close(s->c);          /* a reply could land inside the back end's */
		return;
	}
	conn_printf(s->c, "421 4.4.2 %s Error: timeout exceeded\r\n", s->cfg->hostname);
	conn_close(s->c);
}

/* A message that missed its transfer deadline ([limits] data_deadline,
 * min_data_rate): RFC 5321 4.5.3.2's 421 in Postfix's words; what came of
 * the message is discarded (its spool file removed), nothing is stored. */
static void
smtp_transfer_timeout(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	char from[64];

	if (tx != NULL) {
		metrics_smtp_message(s->service != SERVICE_SMTP, false);
		log_info("smtp %s message id=%s from=<%s> nrcpt=%u size=%" PRIu64
		         " result=rejected reason=\"data deadline\" peer=%s",
		         conn_id(s->c), tx->id, smtp_log_safe(tx->mail_from, from, sizeof(from)), tx->n_rcpt,
		         tx->spool_open ? tx->body.size : 0, conn_peer_addr(s->c));
	} else {
		log_info("smtp %s data deadline peer=%s chunk=refused", conn_id(s->c), conn_peer_addr(s->c));
	}
	conn_printf(s->c, "421 4.4.2 %s Error: timeout exceeded\r\n", s->cfg->hostname);
	smtp_tx_free(s);
	s->state = SMTP_ST_CMD;
}

/* A limit: a transfer deadline, or a pre-authentication limit
 * (submission).  The last reply. */
static void
smtp_limit(void *arg, enum conn_limit what)
{
	struct smtp_session *s = arg;

	if (what == CONN_LIMIT_TRANSFER_TIME)
		smtp_transfer_timeout(s);
	else if (what == CONN_LIMIT_AUTH_TIME)
		conn_printf(s->c, "421 4.7.0 %s No authentication within %u seconds, closing\r\n", s->cfg->hostname,
		            s->cfg->auth_timeout);
	else
		conn_printf(s->c, "421 4.7.0 %s Too much data before authentication\r\n", s->cfg->hostname);
}

static void *
smtp_open(struct conn *c, void *listener_arg)
{
	const struct listener_ctx *l = listener_arg;
	struct smtp_session *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->cfg = l->cfg;
	s->service = l->service;
	s->state = SMTP_ST_CMD;
	conn_set_timeout(c, SMTP_TIMEOUT_SEC);
	log_debug("smtp %s connect peer=%s port=%u service=%s tls=%s", conn_id(c), conn_peer_addr(c),
	          conn_peer_port(c), config_service_name(s->service), conn_tls_active(c) ? "yes" : "no");
	if (smtp_is_submission(s) && auth_source_blocked(conn_peer_addr(c))) {
		/* Failed too many logins (src/auth/penalty.h): refused at once. */
		log_info("smtp %s refused peer=%s reason=blocked", conn_id(c), conn_peer_addr(c));
		conn_printf(c, "421 4.7.0 %s Too many failed logins from your address, try again later\r\n",
		            s->cfg->hostname);
		conn_close(c);
		return s;
	}
	if (smtp_is_submission(s)) {
		struct conn_auth_limits lim = {
			.max_unauthenticated = s->cfg->max_unauthenticated,
			.timeout_sec = s->cfg->auth_timeout,
			.max_bytes = s->cfg->max_bytes_before_auth,
		};

		if (conn_begin_auth(c, &lim) == -1) {
			log_info("smtp %s refused peer=%s reason=max_unauthenticated", conn_id(c), conn_peer_addr(c));
			conn_printf(c, "421 4.7.0 %s Too many connections waiting to log in, try again later\r\n",
			            s->cfg->hostname);
			conn_close(c);
			return s;
		}
	}
	conn_printf(c, "220 %s ESMTP Tern\r\n", s->cfg->hostname);
	return s;
}

static void
smtp_close(void *arg)
{
	struct smtp_session *s = arg;
	char user[64];

	log_info("smtp %s disconnect peer=%s user=%s messages=%u errors=%u%s", conn_id(s->c), smtp_client_addr(s),
	         s->auth_user != NULL ? smtp_log_safe(s->auth_user, user, sizeof(user)) : "-", s->n_msgs,
	         s->errors, s->proxied ? " proxied=yes" : "");
	proxy_free(&s->proxy);
	smtp_auth_free(s);
	smtp_tx_free(s);
	free(s->helo);
	free(s->auth_user);
	free(s);
}

/* A message is being received: let it finish before a shutdown. */
static bool
smtp_busy(void *arg)
{
	struct smtp_session *s = arg;

	return s->state == SMTP_ST_DATA || s->state == SMTP_ST_BDAT || (s->tx != NULL && s->tx->bdat);
}

/* Refused at accept (server.c). */
static size_t
smtp_refusal(const void *listener_arg, const char *why, char *out, size_t size)
{
	const struct listener_ctx *l = listener_arg;
	int n = snprintf(out, size, "421 4.7.0 %s %s\r\n", l->cfg->hostname, why);

	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

const struct conn_handler smtp_conn_handler = {
	.name = "smtp",
	.open = smtp_open,
	.input = smtp_input,
	.drained = smtp_drained,
	.timeout = smtp_timeout,
	.close = smtp_close,
	.busy = smtp_busy,
	.limit = smtp_limit,
	.refusal = smtp_refusal,
};
