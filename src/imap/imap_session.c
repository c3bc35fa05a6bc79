/* IMAP sessions: the connection callbacks, the command loop, the dispatch
 * table and the replies (RFC 9051, RFC 3501).  See imap_session.h for the
 * flow. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "imap/imap.h"
#include "imap/imap_metadata.h"
#include "imap/imap_session.h"
#include "proxy/proxy.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"
#include "server/listener.h"
#include "store/store_private.h"

#define ST_NOT_AUTH (1u << IMAP_STATE_NOT_AUTH)
#define ST_AUTH     (1u << IMAP_STATE_AUTH)
#define ST_SELECTED (1u << IMAP_STATE_SELECTED)
#define ST_ANY      (ST_NOT_AUTH | ST_AUTH | ST_SELECTED)
#define ST_LOGGED   (ST_AUTH | ST_SELECTED)

struct imap_cmd_def {
	const char *name;
	imap_cmd_fn *fn;
	unsigned states;
	bool uid_ok;             /* may follow "UID" */
	bool no_expunge;         /* RFC 9051 7.5.1: no EXPUNGE while it runs (not as UID) */
};

static const struct imap_cmd_def cmd_table[] = {
	{ "CAPABILITY", imap_cmd_capability, ST_ANY, false, false },
	{ "NOOP", imap_cmd_noop, ST_ANY, false, false },
	{ "LOGOUT", imap_cmd_logout, ST_ANY, false, false },
	{ "ID", imap_cmd_id, ST_ANY, false, false },
	{ "STARTTLS", imap_cmd_starttls, ST_NOT_AUTH, false, false },
	{ "LOGIN", imap_cmd_login, ST_NOT_AUTH, false, false },
	{ "AUTHENTICATE", imap_cmd_authenticate, ST_NOT_AUTH, false, false },
	{ "ENABLE", imap_cmd_enable, ST_LOGGED, false, false },
	{ "NOTIFY", imap_cmd_notify, ST_LOGGED, false, false },
	{ "GETMETADATA", imap_cmd_worker, ST_LOGGED, false, false },
	{ "SETMETADATA", imap_cmd_worker, ST_LOGGED, false, false },
	{ "SELECT", imap_cmd_select, ST_LOGGED, false, false },
	{ "EXAMINE", imap_cmd_examine, ST_LOGGED, false, false },
	{ "CREATE", imap_cmd_worker, ST_LOGGED, false, false },
	{ "DELETE", imap_cmd_worker, ST_LOGGED, false, false },
	{ "RENAME", imap_cmd_worker, ST_LOGGED, false, false },
	{ "SUBSCRIBE", imap_cmd_worker, ST_LOGGED, false, false },
	{ "UNSUBSCRIBE", imap_cmd_worker, ST_LOGGED, false, false },
	{ "LIST", imap_cmd_worker, ST_LOGGED, false, false },
	{ "LSUB", imap_cmd_worker, ST_LOGGED, false, false },
	{ "STATUS", imap_cmd_worker, ST_LOGGED, false, false },
	{ "GETQUOTA", imap_cmd_worker, ST_LOGGED, false, false },
	{ "GETQUOTAROOT", imap_cmd_worker, ST_LOGGED, false, false },
	{ "MYRIGHTS", imap_cmd_worker, ST_LOGGED, false, false },
	{ "GETACL", imap_cmd_worker, ST_LOGGED, false, false },
	{ "LISTRIGHTS", imap_cmd_worker, ST_LOGGED, false, false },
	{ "SETACL", imap_cmd_worker, ST_LOGGED, false, false },
	{ "DELETEACL", imap_cmd_worker, ST_LOGGED, false, false },
	{ "NAMESPACE", imap_cmd_namespace, ST_LOGGED, false, false },
	{ "APPEND", imap_cmd_append, ST_LOGGED, false, false },
	{ "IDLE", imap_cmd_idle, ST_LOGGED, false, false },
	{ "COMPRESS", imap_cmd_compress, ST_LOGGED, false, false },
	{ "GENURLAUTH", imap_cmd_worker, ST_LOGGED, false, false },
	{ "URLFETCH", imap_cmd_worker, ST_LOGGED, false, false },
	{ "RESETKEY", imap_cmd_worker, ST_LOGGED, false, false },
	{ "CHECK", imap_cmd_check, ST_SELECTED, false, false },
	{ "CLOSE", imap_cmd_close, ST_SELECTED, false, false },
	{ "UNSELECT", imap_cmd_unselect, ST_SELECTED, false, false },
	{ "EXPUNGE", imap_cmd_expunge, ST_SELECTED, true, false },
	{ "SEARCH", imap_cmd_worker, ST_SELECTED, true, true },
	{ "CANCELUPDATE", imap_cmd_cancelupdate, ST_SELECTED, false, false },
	{ "SORT", imap_cmd_worker, ST_SELECTED, true, true },
	{ "THREAD", imap_cmd_worker, ST_SELECTED, true, true },
	{ "FETCH", imap_cmd_fetch, ST_SELECTED, true, true },
	{ "STORE", imap_cmd_store, ST_SELECTED, true, true },
	{ "COPY", imap_cmd_copy, ST_SELECTED, true, false },
	{ "MOVE", imap_cmd_move, ST_SELECTED, true, false },
	{ "REPLACE", imap_cmd_replace, ST_SELECTED, true, false },
};

static void imap_run(struct imap_session *s);

/* Tags are bounded by the command line only; the copy is given back when
 * a long one made it grow, so an idle session keeps little memory. */
#define TAG_KEEP 256

const char *
imap_tag(const struct imap_session *s)
{
	return s->tag.len > 0 ? s->tag.data : "*";
}

static void
tag_set(struct imap_session *s, const char *tag)
{
	buf_reset(&s->tag);
	if (tag != NULL)
		buf_puts(&s->tag, tag);
}

static void
tag_clear(struct imap_session *s)
{
	if (s->tag.cap > TAG_KEEP)
		buf_free(&s->tag);
	buf_reset(&s->tag);
}

static void
reply_va(struct buf *out, const char *tag, enum imap_status st, const char *code, const char *fmt, va_list ap)
{
	static const char *const names[] = { "OK", "NO", "BAD" };
	char text[512];
	int n;

	n = vsnprintf(text, sizeof(text), fmt, ap);
	if (n < 0)
		text[0] = '\0';
	/* Response text is TEXT-CHAR: never let a CR or LF through. */
	for (char *p = text; *p != '\0'; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	buf_printf(out, "%s %s ", tag, names[st]);
	if (code != NULL && code[0] != '\0')
		buf_printf(out, "[%s] ", code);
	buf_printf(out, "%s\r\n", text[0] != '\0' ? text : "completed");
}

static void
write_buf(struct imap_session *s, struct buf *b)
{
	if (b->len > 0)
		conn_write(s->c, b->data, b->len);
	buf_reset(b);
}

void
imap_tagged(struct imap_session *s, enum imap_status st, const char *code, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	reply_va(&b, imap_tag(s), st, code, fmt, ap);
	va_end(ap);
	write_buf(s, &b);
	buf_free(&b);
}

void
imap_bad(struct imap_session *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	if (++s->errors >= IMAP_MAX_ERRORS) {
		conn_puts(s->c, "* BYE Too many errors, closing\r\n");
		imap_close(s, "errors");
		return;
	}
	va_start(ap, fmt);
	reply_va(&b, imap_tag(s), IMAP_BAD, NULL, fmt, ap);
	va_end(ap);
	write_buf(s, &b);
	buf_free(&b);
}

void
imap_busy(struct imap_session *s)
{
	if (s->busy)
		panic("imap %s: session already busy", conn_id(s->c));
	s->busy = true;
	conn_pause(s->c);
}

void
imap_unbusy(struct imap_session *s)
{
	if (!s->busy)
		panic("imap %s: session not busy", conn_id(s->c));
	s->busy = false;
	conn_resume(s->c);
}

struct job_wrap {
	struct imap_session *s;
	evloop_work_fn *work;
	evloop_done_fn *done;
	void *arg;
};

static void
job_work(void *arg)
{
	struct job_wrap *w = arg;

	w->work(w->arg);
}

static void
job_done(void *arg)
{
	struct job_wrap *w = arg;
	struct imap_session *s = w->s;

	/* The job held input; imap_run picks up pipelined commands once
	 * conn_defer's pause is released (it calls input again). */
	s->busy = false;
	w->done(w->arg);
	free(w);
}

void
imap_job(struct imap_session *s, evloop_work_fn *work, evloop_done_fn *done, void *arg)
{
	struct job_wrap *w = xcalloc(1, sizeof(*w));

	if (s->busy)
		panic("imap %s: job while busy", conn_id(s->c));
	w->s = s;
	w->work = work;
	w->done = done;
	w->arg = arg;
	s->busy = true;
	conn_defer(s->c, job_work, job_done, w);
}

/* --- completing a command --- */

static void
finish_command(struct imap_session *s)
{
	write_buf(s, &s->tagged);
	imap_append_free(s);
	tag_clear(s);
	s->no_expunge = false;
	arena_reset(s->arena);
	/* What NOTIFY held while the command ran (RFC 5465 3). */
	imap_notify_kick(s);
}

/* The sync before a tagged reply is over: the reply goes out. */
static void
synced(struct imap_session *s, bool failed)
{
	finish_command(s);
}

/* Sends the tagged reply in s->tagged after any untagged updates due. */
static void
complete_now(struct imap_session *s)
{
	if (s->state == IMAP_STATE_SELECTED && !s->idling && !conn_closing(s->c)) {
		if (imap_sync_needed(s) && !s->sync_running) {
			imap_sync_start(s, !s->no_expunge, synced);
			return;
		}
		if (!s->no_expunge && s->n_pending_expunged > 0) {
			struct buf b = BUF_INIT;

			imap_sync_flush_expunges(s, &b);
			write_buf(s, &b);
			buf_free(&b);
		}
	}
	finish_command(s);
}

/* RFC 7162 3.1: the first CONDSTORE-enabling command (FETCH or SEARCH
 * with MODSEQ, STORE with UNCHANGEDSINCE, STATUS HIGHESTMODSEQ, ENABLE
 * CONDSTORE) issued while a mailbox is selected reports the mailbox's
 * HIGHESTMODSEQ, with an untagged OK before its tagged reply, as Dovecot
 * does (imaptest esearch-condstore).  SELECT and EXAMINE send it anyway. */
static void
condstore_announce(struct imap_session *s, enum imap_status st)
{
	if (st != IMAP_OK || s->state != IMAP_STATE_SELECTED || !s->condstore || s->condstore_at_start ||
	    s->cmd.name == NULL || strcasecmp(s->cmd.name, "SELECT") == 0 || strcasecmp(s->cmd.name, "EXAMINE") == 0)
		return;
	s->condstore_at_start = true;
	conn_printf(s->c, "* OK [HIGHESTMODSEQ %llu] Highest\r\n", (unsigned long long)s->view.highestmodseq);
}

static void
complete_va(struct imap_session *s, enum imap_status st, const char *code, const char *fmt, va_list ap)
{
	/* RFC 5530 EXPUNGEISSUED: FETCH, STORE and SEARCH may not tell of
	 * expunges (RFC 9051 7.5.1), so when others expunged messages this
	 * session still shows, their OK says so (what the command could not
	 * find is not answered, RFC 2180 4.1.2); the client may NOOP.  As
	 * Dovecot 2.3, on an OK. */
	if (st == IMAP_OK && s->no_expunge && s->n_pending_expunged > 0 && (code == NULL || code[0] == '\0'))
		code = "EXPUNGEISSUED";
	condstore_announce(s, st);
	buf_reset(&s->tagged);
	reply_va(&s->tagged, imap_tag(s), st, code, fmt, ap);
	complete_now(s);
}

void
imap_complete(struct imap_session *s, enum imap_status st, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	complete_va(s, st, code, fmt, ap);
	va_end(ap);
}

void
imap_job_reply(struct imap_session *s, const struct buf *out, const struct imap_result *res)
{
	if (conn_closing(s->c))
		return;
	if (out->len > 0)
		conn_write(s->c, out->data, out->len);
	imap_complete_result(s, res);
}

void
imap_complete_written(struct imap_session *s)
{
	buf_reset(&s->tagged);
	finish_command(s);
}

void
imap_complete_bad(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	if (++s->errors >= IMAP_MAX_ERRORS) {
		conn_puts(s->c, "* BYE Too many errors, closing\r\n");
		imap_close(s, "errors");
		finish_command(s);
		return;
	}
	va_start(ap, fmt);
	complete_va(s, IMAP_BAD, NULL, fmt, ap);
	va_end(ap);
}

void
imap_complete_result(struct imap_session *s, const struct imap_result *res)
{
	if (res->status == IMAP_BAD) {
		imap_complete_bad(s, "%s", res->text[0] != '\0' ? res->text : "Invalid arguments");
		return;
	}
	if (res->text[0] != '\0')
		imap_complete(s, res->status, res->code, "%s", res->text);
	else
		imap_complete(s, res->status, res->code, "%s %s", s->cmd.name != NULL ? s->cmd.name : "Command",
		              res->status == IMAP_OK ? "completed" : "failed");
}

void
imap_close(struct imap_session *s, const char *reason)
{
	if (s->end_reason == NULL)
		s->end_reason = reason;
	s->state = IMAP_STATE_LOGOUT;
	conn_close(s->c);
}

bool
imap_plaintext_ok(const struct imap_session *s)
{
	return auth_plaintext_allowed(s->cfg->allow_plaintext, conn_tls_active(s->c), conn_peer_is_loopback(s->c));
}

void
imap_ctx_init(struct imap_session *s, struct imap_ctx *ctx, struct arena *arena)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->arena = arena;
	ctx->user = s->user;
	ctx->data_dir = s->cfg->data_dir;
	ctx->view = s->state == IMAP_STATE_SELECTED ? &s->view : NULL;
	ctx->imap4rev2 = s->imap4rev2;
	ctx->utf8 = s->utf8;
	ctx->utf8_accept = s->utf8_accept;
	ctx->condstore = s->condstore;
	ctx->qresync = s->qresync;
	ctx->quota_bytes = s->quota_bytes;
	ctx->quota_messages = s->quota_messages;
	ctx->append_limit = s->cfg->max_message_size;
	ctx->tag = imap_tag(s);
	ctx->saved = &s->saved;
	ctx->saved_count = &s->saved_count;
	ctx->contexts = s->state == IMAP_STATE_SELECTED ? &s->contexts : NULL;
}

struct store *
imap_store_get(const struct imap_session *s, struct imap_result *res)
{
	struct store *st = NULL;
	enum store_error err;
	const char *error = NULL;

	if (store_cache_open(s->cfg->data_dir, s->user, &st, &err, &error) == -1) {
		log_warnx("imap %s cannot open the store of %s: %s", conn_id(s->c), s->user,
		          error != NULL ? error : "?");
		if (res != NULL) {
			res->status = IMAP_NO;
			snprintf(res->code, sizeof(res->code), "UNAVAILABLE");
			snprintf(res->text, sizeof(res->text), "The mailbox store is unavailable, try again later");
		}
		return NULL;
	}
	return st;
}

void
imap_store_release(struct store **st, bool failed)
{
	if (*st != NULL)
		store_cache_release(st, failed);
}

/* --- reading commands --- */

static const struct imap_cmd_def *
find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++)
		if (strcasecmp(cmd_table[i].name, name) == 0)
			return &cmd_table[i];
	return NULL;
}

static void
trace_command(struct imap_session *s, const struct imap_command *cmd)
{
	char safe[128];
	const char *name = cmd->name;

	if (!log_debug_enabled())
		return;
	/* Arguments are not logged: they may hold passwords (LOGIN) and
	 * private data (SEARCH, APPEND). */
	snprintf(safe, sizeof(safe), "%s", name);
	for (char *p = safe; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	log_debug("imap %s C: %s", conn_id(s->c), safe);
}

static void
dispatch(struct imap_session *s, struct imap_command *cmd)
{
	const struct imap_cmd_def *def;
	const struct imap_arg *args = cmd->args;
	bool uid = false;

	tag_set(s, cmd->tag);
	s->cmd = *cmd;
	s->condstore_at_start = s->condstore;
	trace_command(s, cmd);

	/* [limits] max_commands_before_auth. */
	if (s->state == IMAP_STATE_NOT_AUTH && s->cfg->max_commands_before_auth > 0 &&
	    ++s->preauth_cmds > s->cfg->max_commands_before_auth) {
		log_info("imap %s too many commands before login peer=%s", conn_id(s->c), conn_peer_addr(s->c));
		conn_puts(s->c, "* BYE Too many commands before login, closing.\r\n");
		imap_close(s, "preauth-commands");
		finish_command(s);
		return;
	}
	if (strcasecmp(cmd->name, "UID") == 0) {
		if (args == NULL || args->type != IMAP_ARG_ATOM) {
			imap_complete_bad(s, "UID needs a command");
			return;
		}
		def = find_cmd(args->str);
		if (def == NULL || !def->uid_ok) {
			imap_complete_bad(s, "Unknown UID command");
			return;
		}
		s->cmd.name = def->name;
		args = args->next;
		uid = true;
	} else {
		def = find_cmd(cmd->name);
		if (def == NULL) {
			imap_complete_bad(s, "Unknown command");
			return;
		}
	}
	if ((def->states & (1u << s->state)) == 0) {
		if (s->state == IMAP_STATE_NOT_AUTH)
			imap_complete_bad(s, "Log in first");
		else if (def->states == ST_SELECTED)
			imap_complete_bad(s, "No mailbox selected");
		else
			imap_complete_bad(s, "Command not valid in this state");
		return;
	}
	if (imap_append_dropped(s)) {
		/* RFC 5464 4.3: a value over our bound is MAXSIZE, not BAD. */
		if (strcasecmp(def->name, "SETMETADATA") == 0)
			imap_complete(s, IMAP_NO, IMAP_METADATA_MAXSIZE_CODE, "Value too large");
		else
			imap_complete_bad(s, "Literal too large for this command");
		return;
	}
	s->no_expunge = def->no_expunge && !uid;
	metrics_command(METRICS_CMD_IMAP);
	def->fn(s, args, uid);
}

/* The parser wants to read a "{n}" literal: continue or refuse it. */
static void
decide_literal(struct imap_session *s)
{
	struct imap_command so_far;
	uint64_t size = 0;
	bool append;

	imap_parser_command(s->parser, &so_far, &size);
	append = imap_append_like(&so_far) && s->state != IMAP_STATE_NOT_AUTH;
	tag_set(s, so_far.tag);
	/* A tagged reply instead of "+" ends the command: the client never
	 * sends this literal (RFC 9051 7.5). */
	if (append && size > s->cfg->max_message_size) {
		/* RFC 7889 APPENDLIMIT; TOOBIG as RFC 4469 defines it. */
		imap_tagged(s, IMAP_NO, "TOOBIG", "Message larger than the limit of %llu bytes",
		            (unsigned long long)s->cfg->max_message_size);
	} else if (append && imap_append_messages(so_far.args) >= IMAP_MULTIAPPEND_MAX) {
		/* RFC 5530 LIMIT: a valid command past one of our bounds. */
		imap_tagged(s, IMAP_NO, "LIMIT", "Too many messages in one APPEND (at most %d)",
		            IMAP_MULTIAPPEND_MAX);
	} else if (!append && size > IMAP_LITERAL_SMALL_MAX) {
		imap_tagged(s, IMAP_BAD, "TOOBIG", "Literal too large");
	} else {
		conn_puts(s->c, "+ Ready for literal data\r\n");
		imap_parser_continue(s->parser);
		/* A literal above the streaming size is handed out from here on. */
		if (imap_parser_state(s->parser) == IMAP_PARSER_LITERAL_STREAM)
			imap_append_literal_begin(s);
		return;
	}
	imap_parser_refuse(s->parser);
	tag_clear(s);
	imap_append_free(s);
	arena_reset(s->arena);
}

static void
parse_error(struct imap_session *s, const struct imap_parse_error *err)
{
	tag_set(s, err->tag);
	if (err->code != NULL && strcmp(err->code, "TOOBIG") == 0 && err->name != NULL &&
	    (strcasecmp(err->name, "APPEND") == 0 || strcasecmp(err->name, "REPLACE") == 0) &&
	    s->state != IMAP_STATE_NOT_AUTH) {
		/* RFC 7889: a message over APPENDLIMIT is NO [TOOBIG]. */
		imap_tagged(s, IMAP_NO, "TOOBIG", "Message larger than the limit of %llu bytes",
		            (unsigned long long)s->cfg->max_message_size);
		tag_clear(s);
		imap_append_free(s);
		arena_reset(s->arena);
		return;
	}
	if (++s->errors >= IMAP_MAX_ERRORS) {
		conn_puts(s->c, "* BYE Too many errors, closing\r\n");
		imap_close(s, "errors");
	} else {
		imap_tagged(s, IMAP_BAD, err->code, "%s", err->text);
	}
	tag_clear(s);
	imap_append_free(s);
	arena_reset(s->arena);
}

static void
imap_run(struct imap_session *s)
{
	while (!s->busy && !s->output_paused && !conn_closing(s->c)) {
		struct buf *in;
		struct imap_command cmd;
		struct imap_parse_error err;
		size_t consumed = 0;
		int r;

		if (conn_output_pending(s->c) >= NET_OUTPUT_HIGH) {
			s->output_paused = true;
			conn_pause(s->c);   /* a client that reads nothing: conn's send timeout */
			return;
		}
		if (s->idling || s->sasl != IMAP_SASL_NONE) {
			char *line;
			size_t len;

			r = conn_read_line(s->c, IMAP_AUTH_LINE_MAX, &line, &len);
			if (r == 0)
				return;
			if (r < 0) {
				line = NULL;
				len = 0;
			}
			if (s->idling)
				imap_idle_line(s, line, len);
			else
				imap_auth_continue(s, line, len);
			continue;
		}
		in = conn_input(s->c);
		if (in->len == 0) {
			/* Between commands: NOTIFY may speak (RFC 5465 3). */
			imap_notify_kick(s);
			return;
		}
		if (imap_parser_state(s->parser) == IMAP_PARSER_LITERAL_STREAM) {
			size_t take = imap_parser_literal_take(s->parser, in->len);

			imap_append_literal_bytes(s, in->data, take);
			conn_consume(s->c, take);
			if (imap_parser_state(s->parser) != IMAP_PARSER_LITERAL_STREAM)
				conn_transfer_end(s->c);
			continue;
		}
		r = imap_parser_feed(s->parser, in->data, in->len, &consumed, &cmd, &err);
		conn_consume(s->c, consumed);
		/* Bytes of a command are not progress (a line trickled byte by
		 * byte must not keep the connection); a whole command is. */
		if (r != 0)
			conn_progress(s->c);
		if (r == 1) {
			dispatch(s, &cmd);
			continue;
		}
		if (r == -1) {
			parse_error(s, &err);
			continue;
		}
		switch (imap_parser_state(s->parser)) {
		case IMAP_PARSER_WANT_CONTINUATION:
			decide_literal(s);
			continue;
		case IMAP_PARSER_LITERAL_STREAM:
			imap_append_literal_begin(s);
			continue;
		case IMAP_PARSER_READING:
			break;
		}
		if (consumed == 0)
			return;
	}
}

/* --- connection callbacks --- */

static void *
imap_open(struct conn *c, void *listener_arg)
{
	const struct listener_ctx *lc = listener_arg;
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct imap_parse_limits lim = {
		.literal_max = lc->cfg->max_message_size,
		.stream_min = IMAP_APPEND_STREAM_MIN,
	};
	struct buf b = BUF_INIT;

	s->c = c;
	s->cfg = lc->cfg;
	s->state = IMAP_STATE_NOT_AUTH;
	s->arena = arena_new(2048, false);
	s->parser = imap_parser_new(s->arena, &lim);
	log_debug("imap %s connect peer=%s port=%u tls=%s", conn_id(c), conn_peer_addr(c), conn_peer_port(c),
	          conn_tls_active(c) ? "yes" : "no");
	if (auth_source_blocked(conn_peer_addr(c))) {
		log_info("imap %s refused peer=%s reason=blocked", conn_id(c), conn_peer_addr(c));
		conn_puts(c, "* BYE [UNAVAILABLE] Too many failed logins from your address, try again later.\r\n");
		imap_close(s, "blocked");
		return s;
	}
	{
		struct conn_auth_limits al = {
			.max_unauthenticated = s->cfg->max_unauthenticated,
			.timeout_sec = s->cfg->auth_timeout,
			.max_bytes = s->cfg->max_bytes_before_auth,
		};

		if (conn_begin_auth(c, &al) == -1) {
			log_info("imap %s refused peer=%s reason=max_unauthenticated", conn_id(c),
			         conn_peer_addr(c));
			conn_puts(c, "* BYE [UNAVAILABLE] Too many connections waiting to log in, try again later.\r\n");
			imap_close(s, "max-unauthenticated");
			return s;
		}
	}
	/* RFC 9051 7.1.1: the greeting may carry the capabilities, which
	 * saves clients a round trip. */
	buf_puts(&b, "* OK [CAPABILITY ");
	imap_capabilities(s, &b);
	buf_puts(&b, "] Tern IMAP4 server ready\r\n");
	conn_write(c, b.data, b.len);
	buf_free(&b);
	conn_set_timeout(c, IMAP_PREAUTH_TIMEOUT_SEC);
	return s;
}

static void
imap_limit(void *arg, enum conn_limit what)
{
	struct imap_session *s = arg;

	if (what == CONN_LIMIT_TRANSFER_TIME) {
		/* A literal sent slower than [limits] min_data_rate allows:
		 * what came of it is discarded with the session (spool files
		 * removed by imap_append_free), nothing is appended. */
		log_info("imap %s data deadline peer=%s user=%s", conn_id(s->c), conn_peer_addr(s->c),
		         s->user != NULL ? s->user : "-");
		conn_puts(s->c, "* BYE Timeout: literal data too slow, closing.\r\n");
		imap_close(s, "data-deadline");
	} else if (what == CONN_LIMIT_AUTH_TIME) {
		conn_printf(s->c, "* BYE No login within %u seconds, closing.\r\n", s->cfg->auth_timeout);
		imap_close(s, "auth-timeout");
	} else {
		conn_puts(s->c, "* BYE Too much data before login, closing.\r\n");
		imap_close(s, "auth-bytes");
	}
}

static void
imap_input(void *arg)
{
	struct imap_session *s = arg;

	if (s->proxied)
		imap_proxy_input(s);
	else
		imap_run(s);
}

static void
imap_drained(void *arg)
{
	struct imap_session *s = arg;

	if (s->proxied) {
		imap_proxy_drained(s);
		return;
	}
	if (s->fetch != NULL)
		imap_fetch_continue(s);
	if (s->output_paused) {
		s->output_paused = false;
		conn_resume(s->c);
	}
}

static void
imap_timeout(void *arg)
{
	struct imap_session *s = arg;

	if (s->busy) {
		conn_set_timeout(s->c, IMAP_TIMEOUT_SEC);
		return;
	}
	if (s->proxied) {
		/* Neither side said a word for the whole timeout; a BYE
		 * could land inside a literal the back end is sending. */
		imap_close(s, "timeout");
		return;
	}
	/* RFC 9051 7.1.5: BYE before an autologout. */
	conn_puts(s->c, "* BYE Autologout; idle for too long\r\n");
	imap_close(s, "timeout");
}

static void
imap_stopping(void *arg)
{
	struct imap_session *s = arg;

	/* A FETCH waiting for its client may have stopped inside a literal:
	 * a BYE there would read as message data. */
	if (s->state != IMAP_STATE_LOGOUT && s->fetch == NULL && !s->proxied)
		conn_puts(s->c, "* BYE Server shutting down, reconnect in a moment\r\n");
}

static bool
imap_session_busy(void *arg)
{
	struct imap_session *s = arg;

	return s->append != NULL;
}

static void
imap_session_close(void *arg)
{
	struct imap_session *s = arg;

	log_info("imap %s disconnect peer=%s user=%s reason=%s%s", conn_id(s->c), imap_client_addr(s),
	         s->user != NULL ? s->user : "-", s->end_reason != NULL ? s->end_reason : "peer",
	         s->proxied ? " proxied=yes" : "");
	proxy_free(&s->proxy);
	imap_fetch_free(s);
	imap_append_free(s);
	imap_view_clear(s);
	imap_notify_free(s);
	imap_parser_free(&s->parser);
	arena_free(&s->arena);
	buf_free(&s->tagged);
	buf_free(&s->tag);
	free(s->saved);
	name_count_release(&imap_userip_count, &s->userip_slot);
	free(s->user);
	free(s);
}

const char *
imap_client_addr(const struct imap_session *s)
{
	return s->orig_addr[0] != '\0' ? s->orig_addr : conn_peer_addr(s->c);
}

/* Refused at accept (server.c): RFC 9051 7.1.5 lets the server greet
 * with BYE and close; UNAVAILABLE is RFC 5530's "try again later". */
static size_t
imap_refusal(const void *listener_arg, const char *why, char *out, size_t size)
{
	int n = snprintf(out, size, "* BYE [UNAVAILABLE] %s\r\n", why);

	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

const struct conn_handler imap_conn_handler = {
	.name = "imap",
	.open = imap_open,
	.input = imap_input,
	.drained = imap_drained,
	.timeout = imap_timeout,
	.close = imap_session_close,
	.busy = imap_session_busy,
	.limit = imap_limit,
	.stopping = imap_stopping,
	.refusal = imap_refusal,
};
