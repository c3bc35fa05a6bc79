/* POP3 sessions: the connection callbacks, the command loop and the
 * dispatch table (RFC 1939, RFC 2449).
 *
 * Flow control.  Commands are read one line at a time and answered in
 * order (PIPELINING).  No command is read while the session is busy: a
 * login or expunge job is running (conn_defer pauses input), a failed login
 * waits out AUTH_FAIL_DELAY_MS, or a multi-line reply is still streaming.
 * Nor while the client leaves NET_OUTPUT_HIGH bytes of replies unread: the
 * loop then pauses input and the drained callback resumes it, so a client
 * that pipelines without reading cannot make us queue without bound. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "lib/limits.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/name_count.h"
#include "lib/xalloc.h"
#include "pop3/pop3.h"
#include "pop3/pop3_lock.h"
#include "pop3/pop3_session.h"
#include "proxy/proxy.h"
#include "server/listener.h"

#define ST_AUTH  (1u << POP3_STATE_AUTHORIZATION)
#define ST_TRANS (1u << POP3_STATE_TRANSACTION)

struct pop3_cmd_def {
	void (*fn)(struct pop3_session *s, const struct pop3_command *cmd);
	unsigned states;
};

static const struct pop3_cmd_def cmd_table[POP3_VERB_COUNT] = {
	[POP3_VERB_USER] = { pop3_cmd_user, ST_AUTH },
	[POP3_VERB_PASS] = { pop3_cmd_pass, ST_AUTH },
	[POP3_VERB_AUTH] = { pop3_cmd_auth, ST_AUTH },
	[POP3_VERB_STLS] = { pop3_cmd_stls, ST_AUTH },
	[POP3_VERB_CAPA] = { pop3_cmd_capa, ST_AUTH | ST_TRANS },
	[POP3_VERB_QUIT] = { pop3_cmd_quit, ST_AUTH | ST_TRANS },
	[POP3_VERB_NOOP] = { pop3_cmd_noop, ST_TRANS },
	[POP3_VERB_STAT] = { pop3_cmd_stat, ST_TRANS },
	[POP3_VERB_LIST] = { pop3_cmd_list, ST_TRANS },
	[POP3_VERB_UIDL] = { pop3_cmd_uidl, ST_TRANS },
	[POP3_VERB_RETR] = { pop3_cmd_retr, ST_TRANS },
	[POP3_VERB_TOP]  = { pop3_cmd_top, ST_TRANS },
	[POP3_VERB_DELE] = { pop3_cmd_dele, ST_TRANS },
	[POP3_VERB_RSET] = { pop3_cmd_rset, ST_TRANS },
	[POP3_VERB_XCLIENT] = { pop3_cmd_xclient, ST_AUTH },
};

static void
reply_va(struct pop3_session *s, const char *status, const char *fmt, va_list ap)
{
	char line[512];                 /* RFC 2449 section 4: 512 octets with CRLF */
	int n;

	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)(sizeof(line) - 3);
	conn_puts(s->c, status);
	if (n > 0) {
		conn_puts(s->c, " ");
		conn_write(s->c, line, (size_t)n);
	}
	conn_puts(s->c, "\r\n");
}

void
pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_va(s, "+OK", fmt, ap);
	va_end(ap);
}

void
pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_va(s, "-ERR", fmt, ap);
	va_end(ap);
}

void
pop3_client_error(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	/* nginx's ngx_mail_read_command(): count mistakes, hang up past the
	 * limit.  The last one gets the closing reply instead of its own. */
	if (++s->errors >= POP3_MAX_ERRORS) {
		conn_puts(s->c, "-ERR Too many errors, closing\r\n");
		pop3_close(s, "errors");
		return;
	}
	va_start(ap, fmt);
	reply_va(s, "-ERR", fmt, ap);
	va_end(ap);
}

void
pop3_busy(struct pop3_session *s)
{
	if (s->busy)
		panic("pop3 %s: session already busy", conn_id(s->c));
	s->busy = true;
	conn_pause(s->c);
}

void
pop3_unbusy(struct pop3_session *s)
{
	if (!s->busy)
		panic("pop3 %s: session not busy", conn_id(s->c));
	s->busy = false;
	conn_resume(s->c);
}

void
pop3_close(struct pop3_session *s, const char *reason)
{
	if (s->end_reason == NULL)
		s->end_reason = reason;
	conn_close(s->c);
}

bool
pop3_plaintext_ok(const struct pop3_session *s)
{
	return auth_plaintext_allowed(s->cfg->allow_plaintext, conn_tls_active(s->c), conn_peer_is_loopback(s->c));
}

/* The protocol trace, with secrets masked (STYLE.md "Logging"). */
static void
trace_command(struct pop3_session *s, const char *line, size_t len, const struct pop3_command *cmd)
{
	char safe[POP3_CMD_LINE_MAX + 1];

	if (!log_debug_enabled())
		return;
	if (cmd->verb == POP3_VERB_PASS) {
		log_debug("pop3 %s C: PASS ********", conn_id(s->c));
		return;
	}
	if (cmd->verb == POP3_VERB_AUTH) {
		/* The mechanism may be followed by an initial response. */
		size_t n = 0;

		while (n < cmd->args_len && cmd->args[n] != ' ')
			n++;
		pop3_log_safe(cmd->args, n, safe, sizeof(safe));
		log_debug("pop3 %s C: AUTH %s%s", conn_id(s->c), safe, n < cmd->args_len ? " ********" : "");
		return;
	}
	log_debug("pop3 %s C: %s", conn_id(s->c), pop3_log_safe(line, len, safe, sizeof(safe)));
}

static void
pop3_command(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_command cmd;
	const struct pop3_cmd_def *def;
	const char *error;

	/* [limits] max_commands_before_auth: a client that has not logged
	 * in after that many commands is probing or guessing. */
	if (s->state == POP3_STATE_AUTHORIZATION && s->cfg->max_commands_before_auth > 0 &&
	    ++s->preauth_cmds > s->cfg->max_commands_before_auth) {
		log_info("pop3 %s too many commands before login peer=%s commands=%u", conn_id(s->c),
		         conn_peer_addr(s->c), s->preauth_cmds - 1);
		conn_puts(s->c, "-ERR Too many commands before login, closing.\r\n");
		pop3_close(s, "preauth-commands");
		return;
	}

	if (pop3_parse_command(line, len, &cmd, &error) == -1) {
		if (log_debug_enabled()) {
			char safe[POP3_CMD_LINE_MAX + 1];

			log_debug("pop3 %s C: %s", conn_id(s->c), pop3_log_safe(line, len, safe, sizeof(safe)));
		}
		pop3_client_error(s, "%s", error);
		return;
	}
	trace_command(s, line, len, &cmd);
	def = &cmd_table[cmd.verb];
	if ((def->states & (1u << s->state)) == 0) {
		pop3_client_error(s, "Command not valid in this state");
		return;
	}
	metrics_command(METRICS_CMD_POP3);
	def->fn(s, &cmd);
}

/* Reads and answers buffered commands until there are none, the session
 * is busy, or the client has too much unread output. */
static void
pop3_run(struct pop3_session *s)
{
	while (!s->busy && !s->output_paused && !conn_closing(s->c)) {
		/* AUTH lines (a continuation, or AUTH with an initial response:
		 * an OAuth token is far longer than 255 octets, RFC 5034 4)
		 * may be long; every other command is held to RFC 2449's 255
		 * once the line is in. */
		size_t max = POP3_AUTH_LINE_MAX;
		char *line;
		size_t len;
		int r;

		if (conn_output_pending(s->c) >= NET_OUTPUT_HIGH) {
			s->output_paused = true;
			conn_pause(s->c);   /* a client that reads nothing: conn's send timeout */
			return;
		}
		r = conn_read_line(s->c, max, &line, &len);
		if (r == 0)
			return;
		if (r < 0) {
			/* An overlong AUTH response ends the exchange
			 * (RFC 5034 section 4). */
			s->sasl_plain = false;
			s->sasl_error_sent = false;
			pop3_client_error(s, "Line too long");
			continue;
		}
		if (!s->sasl_plain && len + 2 > POP3_CMD_LINE_MAX && strncasecmp(line, "AUTH ", 5) != 0) {
			pop3_client_error(s, "Line too long");
			continue;
		}
		if (s->sasl_plain) {
			s->sasl_plain = false;
			log_debug("pop3 %s C: ********", conn_id(s->c));
			pop3_auth_continue(s, line, len);
			continue;
		}
		pop3_command(s, line, len);
	}
}

static void *
pop3_open(struct conn *c, void *listener_arg)
{
	const struct listener_ctx *lc = listener_arg;
	struct pop3_session *s = xcalloc(1, sizeof(*s));

	s->c = c;
	s->cfg = lc->cfg;
	s->service = lc->service;
	s->state = POP3_STATE_AUTHORIZATION;
	log_debug("pop3 %s connect peer=%s port=%u tls=%s", conn_id(c), conn_peer_addr(c), conn_peer_port(c),
	          conn_tls_active(c) ? "yes" : "no");
	/* RFC 1939 section 4; no APOP timestamp and no version (Dovecot's
	 * greeting does not name its version either). */
	if (auth_source_blocked(conn_peer_addr(c))) {
		/* Failed too many logins (src/auth/penalty.h): refused at once. */
		log_info("pop3 %s refused peer=%s reason=blocked", conn_id(c), conn_peer_addr(c));
		conn_puts(c, "-ERR [SYS/TEMP] Too many failed logins from your address, try again later.\r\n");
		conn_close(c);
		return s;
	}
	{
		struct conn_auth_limits lim = {
			.max_unauthenticated = s->cfg->max_unauthenticated,
			.timeout_sec = s->cfg->auth_timeout,
			.max_bytes = s->cfg->max_bytes_before_auth,
		};

		if (conn_begin_auth(c, &lim) == -1) {
			log_info("pop3 %s refused peer=%s reason=max_unauthenticated", conn_id(c), conn_peer_addr(c));
			conn_puts(c, "-ERR [SYS/TEMP] Too many connections waiting to log in, try again later.\r\n");
			pop3_close(s, "max-unauthenticated");
			return s;
		}
	}
	conn_puts(c, "+OK Tern POP3 server ready\r\n");
	conn_set_timeout(c, POP3_PREAUTH_TIMEOUT_SEC);
	return s;
}

/* A pre-authentication limit: the last reply. */
static void
pop3_limit(void *arg, enum conn_limit what)
{
	struct pop3_session *s = arg;

	if (what == CONN_LIMIT_AUTH_TIME) {
		conn_printf(s->c, "-ERR [SYS/TEMP] No login within %u seconds, closing.\r\n", s->cfg->auth_timeout);
		pop3_close(s, "auth-timeout");
	} else {
		conn_puts(s->c, "-ERR Too much data before login, closing.\r\n");
		pop3_close(s, "auth-bytes");
	}
}

static void
pop3_input(void *arg)
{
	struct pop3_session *s = arg;

	if (s->proxied)
		pop3_proxy_input(s);
	else
		pop3_run(s);
}

static void
pop3_drained(void *arg)
{
	struct pop3_session *s = arg;

	if (s->proxied) {
		pop3_proxy_drained(s);
		return;
	}
	if (s->stream != NULL) {
		pop3_stream_continue(s);
		return;
	}
	if (s->output_paused) {
		s->output_paused = false;
		conn_resume(s->c);
	}
}

static void
pop3_timeout(void *arg)
{
	struct pop3_session *s = arg;
	unsigned secs = s->state == POP3_STATE_AUTHORIZATION ? POP3_PREAUTH_TIMEOUT_SEC : POP3_TIMEOUT_SEC;

	/* The connection holds its idle timer while input is paused (a job,
	 * a delayed reply, a stream), so this runs only when the session
	 * waits for a command; conn's send timeout covers a stalled reader.
	 * Still, never put a status line inside a multi-line reply.  A
	 * timeout expunges nothing (RFC 1939 section 6). */
	if (s->busy) {
		conn_set_timeout(s->c, secs);
		return;
	}
	if (s->stream == NULL && !s->proxied)
		conn_puts(s->c, "-ERR [SYS/TEMP] Disconnected for inactivity.\r\n");
	pop3_close(s, "timeout");
}

/* From pop3_superseded, as a connection timer so that the connection is
 * settled (flushed, closed) afterwards. */
static void
superseded_now(void *arg)
{
	struct pop3_session *s = arg;
	char safe[ADDRESS_MAX + 1];

	if (conn_closing(s->c) || s->lock == NULL || pop3_lock_held(s->lock))
		return;
	pop3_log_safe(s->mailbox_user, strlen(s->mailbox_user), safe, sizeof(safe));
	log_info("pop3 %s superseded user=%s peer=%s deletions_discarded=%zu", conn_id(s->c), safe,
	         conn_peer_addr(s->c), s->n_deleted);
	/* Never inside a multi-line reply: then the connection just closes. */
	if (s->stream == NULL && !s->busy)
		conn_puts(s->c, "-ERR [IN-USE] A newer POP3 session of this mailbox has started; "
		                "closing, nothing was deleted.\r\n");
	pop3_close(s, "superseded");
}

void
pop3_superseded(void *arg)
{
	struct pop3_session *s = arg;

	/* A kick for a claim the session has not taken yet (its login job is
	 * still running) or no longer holds matters not: login_done checks
	 * pop3_lock_held itself, and a released claim gets no kick. */
	if (s->lock == NULL || pop3_lock_held(s->lock) || conn_closing(s->c))
		return;
	conn_after(s->c, 0, superseded_now, s);
}

static void
pop3_session_close(void *arg)
{
	struct pop3_session *s = arg;
	char safe[ADDRESS_MAX + 1] = "";

	if (s->mailbox_user != NULL)
		pop3_log_safe(s->mailbox_user, strlen(s->mailbox_user), safe, sizeof(safe));
	log_info("pop3 %s disconnect peer=%s user=%s reason=%s retr=%u top=%u bytes=%llu deleted=%zu%s",
	         conn_id(s->c), pop3_client_addr(s), safe[0] != '\0' ? safe : "-",
	         s->end_reason != NULL ? s->end_reason : "peer", s->retr_count, s->top_count,
	         (unsigned long long)s->retr_bytes, s->expunged, s->proxied ? " proxied=yes" : "");
	proxy_free(&s->proxy);
	pop3_stream_free(&s->stream);
	/* A dropped connection deletes nothing (RFC 1939 section 6: only
	 * QUIT enters the UPDATE state). */
	if (s->st != NULL)
		store_close(&s->st);
	/* On this loop thread: no kick runs for the claim after this. */
	pop3_lock_release(&s->lock);
	name_count_release(&pop3_userip_count, &s->userip_slot);
	free(s->mailbox_user);
	free(s->msgs);
	free(s->deleted);
	free(s->user);
	free(s);
}

/* Refused at accept (server.c): RFC 3206's SYS/TEMP, as for the other
 * refusals before login. */
static size_t
pop3_refusal(const void *listener_arg, const char *why, char *out, size_t size)
{
	int n = snprintf(out, size, "-ERR [SYS/TEMP] %s\r\n", why);

	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

const struct conn_handler pop3_conn_handler = {
	.name = "pop3",
	.open = pop3_open,
	.input = pop3_input,
	.drained = pop3_drained,
	.timeout = pop3_timeout,
	.close = pop3_session_close,
	.limit = pop3_limit,
	.refusal = pop3_refusal,
};
