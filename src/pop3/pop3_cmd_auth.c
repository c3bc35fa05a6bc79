/* The AUTHORIZATION state: USER/PASS (RFC 1939 section 7), AUTH PLAIN
 * (RFC 5034, RFC 4616), STLS (RFC 2595), CAPA (RFC 2449), and the login
 * job that checks the password, takes the in-use lock and snapshots the
 * maildrop off the event loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "auth/password.h"
#include "auth/sasl.h"
#include "auth/sasl_oauth.h"
#include "directory/directory.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/name_count.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "pop3/pop3_lock.h"
#include "pop3/pop3_session.h"
#include "proxy/proxy.h"

struct pop3_login_job {
	struct pop3_session *s;
	struct evloop *loop;                /* the session's: where a takeover's kick goes */
	const char *data_dir;
	enum auth_basic basic;
	char peer[64];                      /* client address (app passwords record it) */
	const char *mech;                   /* "USER" or "PLAIN", for the log */
	bool refuse;                        /* fail without asking (PLAIN authzid) */
	char *token;                        /* a bearer token (OAUTHBEARER, XOAUTH2), or NULL */
	char user[AUTH_USER_MAX + 1];       /* as the client gave it */
	char pass[AUTH_PASS_MAX + 1];       /* wiped by the worker */
	char proxy_for[AUTH_USER_MAX + 1];  /* a proxy's login for this user ("" if not) */
	char client_addr[64];               /* what a trusted proxy passed on (XCLIENT), or "" */
	enum server_role role;
	unsigned backend_port;              /* [proxy] pop3_port */

	struct auth_result res;
	int routed;                         /* proxy_route: 1 on a back end, 0 here, -1 error */
	const char *route_error;
	struct proxy_target target;
	bool in_use;
	bool took_over;                     /* an older session of the user was displaced */
	struct pop3_lock *lock;             /* the claim, until the session takes it */
	bool store_failed;
	char store_error[256];
	struct store *st;
	struct store_mailbox_info info;
	struct store_msg *msgs;
	size_t n_msgs;
	size_t n_dropped;                   /* past POP3_MAX_MESSAGES */
};

static void
plaintext_refused(struct pop3_session *s)
{
	/* DESIGN.md promise 4: no password before TLS.  Dovecot says
	 * "Plaintext authentication disallowed on non-secure (SSL/TLS)
	 * connections." */
	if (conn_tls_available(s->c))
		pop3_client_error(s, "[AUTH] Plaintext authentication disallowed without TLS; use STLS");
	else
		pop3_client_error(s, "[AUTH] Plaintext authentication disallowed without TLS");
}

static void
log_attempt(struct pop3_session *s, const char *mech, const char *user, const char *result, const char *reason)
{
	char safe[AUTH_USER_MAX + 1];

	pop3_log_safe(user, strlen(user), safe, sizeof(safe));
	metrics_login(METRICS_PROTO_POP3, strcmp(result, "ok") == 0);
	if (s->orig_addr[0] != '\0')
		log_info("pop3 %s login user=\"%s\" peer=%s port=%u proxy=%s mech=%s result=%s reason=\"%s\"",
		         conn_id(s->c), safe, s->orig_addr, s->orig_port, conn_peer_addr(s->c), mech, result,
		         reason != NULL ? reason : "");
	else
		log_info("pop3 %s login user=\"%s\" peer=%s mech=%s tls=%s result=%s reason=\"%s\"", conn_id(s->c),
		         safe, conn_peer_addr(s->c), mech, conn_tls_active(s->c) ? "yes" : "no", result,
		         reason != NULL ? reason : "");
}

/* Runs on a worker thread: touches no loop or session state. */
static void
login_work(void *arg)
{
	struct pop3_login_job *job = arg;
	const char *error = NULL;

	memset(&job->res, 0, sizeof(job->res));
	if (job->refuse) {
		/* Spend the time a real check takes (no oracle). */
		password_verify_dummy(job->pass);
		job->res.status = AUTH_FAILED;
		job->res.reason = "authorization identity differs from authentication identity";
	} else {
		struct auth_login login = { .proto = AUTH_PROTO_POP3, .basic = job->basic, .peer = job->peer,
		                            .username = job->user, .password = job->pass, .token = job->token,
		                            .proxy_for = job->proxy_for[0] != '\0' ? job->proxy_for : NULL,
		                            .client_addr = job->client_addr[0] != '\0' ? job->client_addr : NULL };

		auth_check_login(job->data_dir, &login, &job->res);
	}
	str_wipe(job->pass, sizeof(job->pass));
	if (job->res.status != AUTH_OK)
		return;
	/* A proxy sends the user on to its back end: no lock, no store. */
	if (job->role == SERVER_ROLE_PROXY) {
		struct directory *dir = directory_for_thread(job->data_dir);

		job->routed = dir == NULL ? -1
		                          : proxy_route(dir, job->res.user, job->backend_port, &job->target,
		                                        &job->route_error);
		if (dir == NULL)
			job->route_error = "directory unavailable";
		return;
	}

	/* Only now, with the password known to be right, may the answer
	 * say that the mailbox is in use.  A session of the user that is not
	 * in UPDATE is taken over (pop3_lock.h says why); one in UPDATE is
	 * deleting, and this login gets [IN-USE] for those milliseconds. */
	job->lock = pop3_lock_acquire(job->res.user, job->loop, pop3_superseded, job->s, &job->took_over);
	if (job->lock == NULL) {
		job->in_use = true;
		return;
	}
	if (store_open(job->data_dir, job->res.user, &job->st, &error) == -1 ||
	    store_list(job->st, "INBOX", &job->info, &job->msgs, &job->n_msgs, &error) == -1) {
		/* The error text may live in this thread's storage: copy it. */
		snprintf(job->store_error, sizeof(job->store_error), "%s", error != NULL ? error : "?");
		store_close(&job->st);
		pop3_lock_release(&job->lock);
		job->store_failed = true;
		return;
	}
	if (job->n_msgs > POP3_MAX_MESSAGES) {
		/* The oldest ones first; the rest show up once the client
		 * has deleted some (the next session's snapshot). */
		job->n_dropped = job->n_msgs - POP3_MAX_MESSAGES;
		job->n_msgs = POP3_MAX_MESSAGES;
		job->msgs = xrealloc(job->msgs, job->n_msgs * sizeof(*job->msgs));
	}
}

static void
login_fail_reply(void *arg)
{
	struct pop3_session *s = arg;

	pop3_unbusy(s);
	pop3_client_error(s, "[AUTH] Authentication failed.");
}

/* The login succeeded: the session owns the lock, store and snapshot. */
static void
login_take(struct pop3_session *s, struct pop3_login_job *job)
{
	s->mailbox_user = xstrdup(job->res.user);
	s->lock = job->lock;
	job->lock = NULL;
	s->st = job->st;
	s->info = job->info;
	s->msgs = job->msgs;
	s->n_msgs = job->n_msgs;
	s->deleted = xcalloc(job->n_msgs / 8 + 1, 1);
	s->n_deleted = 0;
	s->deleted_size = 0;
	s->total_size = 0;
	for (size_t i = 0; i < s->n_msgs; i++)
		s->total_size += s->msgs[i].size;
	job->st = NULL;
	job->msgs = NULL;
}

struct name_count pop3_userip_count = NAME_COUNT_INIT;

/* On a proxy, the password was right: on to the back end, or a
 * temporary failure when there is none to go to. */
static void
proxy_login_done(struct pop3_session *s, struct pop3_login_job *job)
{
	char key[ADDRESS_MAX + 64];
	unsigned held = 0;

	log_attempt(s, job->mech, job->user, job->routed == 1 ? "ok" : "no-backend",
	            job->routed == 1 ? job->res.reason : job->route_error != NULL ? job->route_error : "no back end");
	if (conn_closing(s->c))
		return;
	if (job->routed != 1) {
		pop3_err(s, "[SYS/TEMP] Your mailbox server cannot be reached now, try again later.");
		return;
	}
	snprintf(key, sizeof(key), "%s\n%s", job->res.user, conn_peer_addr(s->c));
	s->userip_slot = name_count_acquire(&pop3_userip_count, key, s->cfg->max_pop3_connections_per_user_ip, &held);
	if (s->userip_slot == NULL) {
		pop3_err(s, "[IN-USE] Too many POP3 sessions of this user from your address (%u).",
		         s->cfg->max_pop3_connections_per_user_ip);
		return;
	}
	pop3_proxy_start(s, job->res.user, &job->target);
}

static void
login_done(void *arg)
{
	struct pop3_login_job *job = arg;
	struct pop3_session *s = job->s;
	const char *result;
	bool userip_full = false;
	unsigned held = 0;

	s->busy = false;
	if (job->res.status == AUTH_OK && job->role == SERVER_ROLE_PROXY) {
		proxy_login_done(s, job);
		goto out;
	}
	if (job->lock != NULL && !pop3_lock_held(job->lock)) {
		/* An even newer login took the mailbox over while this one
		 * was listing it: that one wins, this one is in use. */
		pop3_lock_release(&job->lock);
		job->in_use = true;
	}
	if (job->res.status == AUTH_OK && !job->in_use && !job->store_failed) {
		/* [limits] max_pop3_connections_per_user_ip, keyed "user\naddress" */
		char key[ADDRESS_MAX + 64];

		snprintf(key, sizeof(key), "%s\n%s", job->res.user, pop3_client_addr(s));
		s->userip_slot = name_count_acquire(&pop3_userip_count, key, s->cfg->max_pop3_connections_per_user_ip,
		                                    &held);
		userip_full = s->userip_slot == NULL;
	}
	if (job->res.status == AUTH_OK && !job->in_use && !job->store_failed && !userip_full) {
		result = "ok";
		login_take(s, job);
	} else if (userip_full) {
		result = "max-userip";
	} else if (job->in_use) {
		result = "in-use";
	} else if (job->store_failed) {
		result = "store-error";
		log_warnx("pop3 %s cannot open the mailbox of %s: %s", conn_id(s->c), job->res.user,
		          job->store_error);
	} else {
		switch (job->res.status) {
		case AUTH_FAILED: result = "failed"; break;
		case AUTH_PROTOCOL_DISABLED: result = "protocol-disabled"; break;
		case AUTH_ADMIN_REFUSED: result = "admin-refused"; break;
		case AUTH_ACCOUNT_DISABLED: result = "account-disabled"; break;
		case AUTH_TEMPFAIL: result = "tempfail"; break;
		case AUTH_BASIC_DISABLED: result = "basic-disabled"; break;
		case AUTH_BLOCKED: result = "blocked"; break;
		default: result = "?"; break;
		}
	}
	log_attempt(s, job->mech, job->proxy_for[0] != '\0' ? job->proxy_for : job->user, result,
	            job->took_over && s->mailbox_user != NULL ? "took over from an older session" : job->res.reason);
	if (job->n_dropped > 0)
		log_warnx("pop3 %s %s has more than %u messages: %zu left out of this session", conn_id(s->c),
		          s->mailbox_user, POP3_MAX_MESSAGES, job->n_dropped);
	if (conn_closing(s->c)) {
		/* The close callback releases what the session took. */
		goto out;
	}

	if (s->mailbox_user != NULL) {
		s->state = POP3_STATE_TRANSACTION;
		conn_set_authenticated(s->c);   /* the pre-auth limits end */
		conn_set_timeout(s->c, POP3_TIMEOUT_SEC);
		conn_puts(s->c, "+OK Logged in.\r\n");
	} else if (userip_full) {
		/* RFC 3206 IN-USE: the nearest code for "too many sessions". */
		log_info("pop3 %s refused peer=%s reason=max_pop3_connections_per_user_ip sessions=%u", conn_id(s->c),
		         conn_peer_addr(s->c), held);
		pop3_err(s, "[IN-USE] Too many POP3 sessions of this user from your address (%u).",
		         s->cfg->max_pop3_connections_per_user_ip);
	} else if (job->in_use) {
		/* RFC 2449 section 8.1.1; the session stays in the
		 * AUTHORIZATION state and may try again.  Only while another
		 * session is deleting (UPDATE), or racing this one. */
		pop3_err(s, "[IN-USE] Another POP3 session is updating this mailbox, try again.");
	} else if (job->store_failed) {
		pop3_err(s, "[SYS/TEMP] The mailbox cannot be opened now, try again later.");
	} else {
		switch (job->res.status) {
		case AUTH_PROTOCOL_DISABLED:
			pop3_err(s, "[AUTH] POP3 access is disabled for this account.");
			break;
		case AUTH_ADMIN_REFUSED:
			pop3_err(s, "[AUTH] Administrator mailboxes cannot be opened over POP3.");
			break;
		case AUTH_ACCOUNT_DISABLED:
			pop3_err(s, "[AUTH] Account disabled.");
			break;
		case AUTH_TEMPFAIL:
			pop3_err(s, "[SYS/TEMP] Authentication is temporarily unavailable, try again later.");
			break;
		case AUTH_BLOCKED:
			pop3_err(s, "[SYS/TEMP] Too many failed logins from your address, try again later.");
			conn_close(s->c);
			break;
		default:
			s->fail_delay_ms = job->res.delay_ms > 0 ? job->res.delay_ms : AUTH_FAIL_DELAY_MS;
			if (job->token != NULL) {
				/* RFC 7628 3.2.2: the error status as a challenge;
				 * the final -ERR follows the client's answer. */
				char challenge[256];

				sasl_oauth_error_b64("invalid_token", NULL, challenge, sizeof(challenge));
				conn_printf(s->c, "+ %s\r\n", challenge);
				s->sasl_plain = true;
				s->sasl_error_sent = true;
				break;
			}
			/* Unknown user and wrong password: one answer, after one
			 * delay (DESIGN.md promise 4).  Input stays paused until
			 * the reply is sent. */
			pop3_busy(s);
			conn_after(s->c, s->fail_delay_ms, login_fail_reply, s);
			break;
		}
	}
out:
	pop3_lock_release(&job->lock);
	free(job->msgs);
	store_close(&job->st);
	if (job->token != NULL) {
		str_wipe(job->token, strlen(job->token));
		free(job->token);
	}
	str_wipe(job, sizeof(*job));
	free(job);
}

/* Starts the password check for user/pass (lengths already bounded). */
static void
login_start(struct pop3_session *s, const char *mech, const char *user, size_t user_len, const char *pass,
            size_t pass_len, bool refuse, const char *proxy_for)
{
	struct pop3_login_job *job = xcalloc(1, sizeof(*job));

	job->s = s;
	job->role = s->cfg->role;
	job->backend_port = s->cfg->proxy.pop3_port;
	snprintf(job->client_addr, sizeof(job->client_addr), "%s", s->orig_addr);
	job->loop = conn_loop(s->c);
	job->data_dir = s->cfg->data_dir;
	job->basic = s->cfg->basic;
	snprintf(job->peer, sizeof(job->peer), "%s", conn_peer_addr(s->c));
	job->mech = mech;
	job->refuse = refuse;
	memcpy(job->user, user, user_len);
	memcpy(job->pass, pass, pass_len);
	if (proxy_for != NULL)
		snprintf(job->proxy_for, sizeof(job->proxy_for), "%s", proxy_for);
	s->busy = true;
	conn_defer(s->c, login_work, login_done, job);
}

/* [auth] basic = off: passwords are refused before anything else, with
 * the same answer for everyone, saying what to use instead. */
static bool
basic_refused(struct pop3_session *s)
{
	if (s->cfg->basic != BASIC_OFF)
		return false;
	pop3_client_error(s, "[AUTH] Password logins are disabled on this server; use OAuth 2.0.");
	return true;
}

void
pop3_cmd_user(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *p = cmd->args;
	size_t len = cmd->args_len;

	if (basic_refused(s))
		return;
	if (!pop3_plaintext_ok(s)) {
		plaintext_refused(s);
		return;
	}
	while (len > 0 && *p == ' ') {
		p++;
		len--;
	}
	while (len > 0 && p[len - 1] == ' ')
		len--;
	if (len == 0) {
		pop3_client_error(s, "Missing user name");
		return;
	}
	if (len > AUTH_USER_MAX) {
		pop3_client_error(s, "User name too long");
		return;
	}
	free(s->user);
	s->user = xstrndup(p, len);
	conn_puts(s->c, "+OK\r\n");
}

void
pop3_cmd_pass(struct pop3_session *s, const struct pop3_command *cmd)
{
	char *user = s->user;

	if (basic_refused(s))
		return;
	if (!pop3_plaintext_ok(s)) {
		plaintext_refused(s);
		return;
	}
	if (user == NULL) {
		pop3_client_error(s, "No user name given");
		return;
	}
	/* Whatever the outcome, the next try starts with USER again. */
	s->user = NULL;
	if (cmd->args_len > AUTH_PASS_MAX) {
		log_attempt(s, "USER", user, "failed", "password too long");
		free(user);
		pop3_client_error(s, "[AUTH] Authentication failed.");
		return;
	}
	/* RFC 1939 section 7: the whole rest of the line is the password,
	 * spaces included. */
	login_start(s, "USER", user, strlen(user), cmd->args, cmd->args_len, false, NULL);
	free(user);
}

static void
auth_plain(struct pop3_session *s, const char *b64, size_t len)
{
	struct sasl_credentials cr;
	bool refuse;

	if (len == 1 && b64[0] == '*') {
		/* RFC 5034 section 4: the client cancelled. */
		pop3_err(s, "Authentication cancelled.");
		return;
	}
	if (sasl_plain_decode(b64, len, &cr) == -1) {
		str_wipe(&cr, sizeof(cr));
		log_attempt(s, "PLAIN", "", "failed", "malformed SASL PLAIN response");
		pop3_client_error(s, "[AUTH] Invalid SASL PLAIN response.");
		return;
	}
	/* An authzid must name the same user, except in a proxy's login
	 * for its user (auth_proxy.c decides whether it is one). */
	refuse = cr.authzid[0] != '\0' && strcasecmp(cr.authzid, cr.authcid) != 0;
	if (refuse && strcmp(cr.authcid, AUTH_PROXY_IDENTITY) == 0)
		login_start(s, "PLAIN", cr.authcid, strlen(cr.authcid), cr.password, strlen(cr.password), false,
		            cr.authzid);
	else
		login_start(s, "PLAIN", cr.authcid, strlen(cr.authcid), cr.password, strlen(cr.password), refuse,
		            NULL);
	str_wipe(&cr, sizeof(cr));
}

/* OAUTHBEARER / XOAUTH2: the client's one message (base64). */
static void
auth_bearer(struct pop3_session *s, const char *b64, size_t len)
{
	const char *mech = s->sasl_mech == POP3_SASL_OAUTHBEARER ? "OAUTHBEARER" : "XOAUTH2";
	struct sasl_bearer *b;
	struct pop3_login_job *job;
	int r;

	if (len == 1 && b64[0] == '*') {
		pop3_err(s, "Authentication cancelled.");
		return;
	}
	b = xcalloc(1, sizeof(*b));
	r = s->sasl_mech == POP3_SASL_OAUTHBEARER ? sasl_oauthbearer_decode(b64, len, b)
	                                          : sasl_xoauth2_decode(b64, len, b);
	if (r != 0) {
		str_wipe(b, sizeof(*b));
		free(b);
		log_attempt(s, mech, "", "failed", "malformed SASL response");
		pop3_client_error(s, "[AUTH] Invalid SASL response.");
		return;
	}
	job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->role = s->cfg->role;
	job->backend_port = s->cfg->proxy.pop3_port;
	snprintf(job->client_addr, sizeof(job->client_addr), "%s", s->orig_addr);
	job->loop = conn_loop(s->c);
	job->data_dir = s->cfg->data_dir;
	snprintf(job->peer, sizeof(job->peer), "%s", conn_peer_addr(s->c));
	job->mech = mech;
	str_lcpy(job->user, b->user, sizeof(job->user));
	job->token = xstrdup(b->token);
	str_wipe(b, sizeof(*b));
	free(b);
	s->busy = true;
	conn_defer(s->c, login_work, login_done, job);
}

void
pop3_cmd_auth(struct pop3_session *s, const struct pop3_command *cmd)
{
	char mech[POP3_SASL_MECH_MAX + 1];
	const char *initial, *error;
	size_t initial_len;

	if (pop3_args_auth(cmd, mech, &initial, &initial_len, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	if (mech[0] == '\0') {
		/* AUTH without a mechanism lists them (an old Microsoft
		 * extension that Dovecot also answers; some clients probe
		 * with it before CAPA existed). */
		conn_puts(s->c, "+OK\r\n");
		if (pop3_plaintext_ok(s) && s->cfg->basic != BASIC_OFF)
			conn_puts(s->c, "PLAIN\r\n");
		if (pop3_plaintext_ok(s) && auth_oauth_enabled())
			conn_puts(s->c, "OAUTHBEARER\r\nXOAUTH2\r\n");
		conn_puts(s->c, ".\r\n");
		return;
	}
	if (auth_oauth_enabled() && (strcmp(mech, "OAUTHBEARER") == 0 || strcmp(mech, "XOAUTH2") == 0)) {
		/* A token is a credential too: TLS first, as for passwords. */
		if (!pop3_plaintext_ok(s)) {
			plaintext_refused(s);
			return;
		}
		free(s->user);
		s->user = NULL;
		s->sasl_mech = strcmp(mech, "OAUTHBEARER") == 0 ? POP3_SASL_OAUTHBEARER : POP3_SASL_XOAUTH2;
		s->sasl_error_sent = false;
		if (initial == NULL) {
			conn_puts(s->c, "+ \r\n");
			s->sasl_plain = true;
			return;
		}
		auth_bearer(s, initial, initial_len);
		return;
	}
	if (strcmp(mech, "PLAIN") != 0) {
		pop3_client_error(s, "Unsupported authentication mechanism.");
		return;
	}
	if (basic_refused(s))
		return;
	if (!pop3_plaintext_ok(s)) {
		plaintext_refused(s);
		return;
	}
	s->sasl_mech = POP3_SASL_PLAIN;
	s->sasl_error_sent = false;
	free(s->user);
	s->user = NULL;
	if (initial == NULL) {
		/* An empty challenge; the answer comes on its own line, up to
		 * POP3_AUTH_LINE_MAX. */
		conn_puts(s->c, "+ \r\n");
		s->sasl_plain = true;
		return;
	}
	auth_plain(s, initial, initial_len);
}

void
pop3_auth_continue(struct pop3_session *s, const char *line, size_t len)
{
	if (s->sasl_error_sent) {
		/* The client's answer to a token's error challenge: the final
		 * failure, after the same delay as every other one. */
		s->sasl_error_sent = false;
		pop3_busy(s);
		conn_after(s->c, s->fail_delay_ms, login_fail_reply, s);
		return;
	}
	if (s->sasl_mech == POP3_SASL_PLAIN)
		auth_plain(s, line, len);
	else
		auth_bearer(s, line, len);
}

void
pop3_cmd_stls(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *error;

	if (pop3_args_none(cmd, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	if (conn_tls_active(s->c)) {
		pop3_client_error(s, "Command not permitted when TLS active");
		return;
	}
	if (!conn_tls_available(s->c)) {
		pop3_client_error(s, "TLS is not available");
		return;
	}
	conn_puts(s->c, "+OK Begin TLS negotiation\r\n");
	/* RFC 2595 section 4: the client must discard what it knew, and so
	 * do we: no USER carries over.  conn_starttls drops any input that
	 * was pipelined after STLS (CVE-2011-0411). */
	free(s->user);
	s->user = NULL;
	if (conn_starttls(s->c) == -1) {
		log_warnx("pop3 %s STLS: TLS could not be started", conn_id(s->c));
		pop3_close(s, "tls-error");
	}
}

void
pop3_cmd_capa(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *error;
	bool authorization = s->state == POP3_STATE_AUTHORIZATION;

	if (pop3_args_none(cmd, &error) == -1) {
		pop3_client_error(s, "%s", error);
		return;
	}
	/* RFC 2449 section 6.  USER and SASL only while a password may be
	 * sent (RFC 2595 section 4 lets a server hide them before TLS);
	 * STLS only while it can be used. */
	conn_puts(s->c, "+OK Capability list follows\r\n"
	                "TOP\r\n"
	                "UIDL\r\n"
	                "RESP-CODES\r\n"
	                "AUTH-RESP-CODE\r\n"
	                "PIPELINING\r\n");
	if (authorization && pop3_plaintext_ok(s)) {
		bool passwords = s->cfg->basic != BASIC_OFF, tokens = auth_oauth_enabled();

		if (passwords)
			conn_puts(s->c, "USER\r\n");
		if (passwords || tokens)
			conn_printf(s->c, "SASL%s%s\r\n", passwords ? " PLAIN" : "",
			            tokens ? " OAUTHBEARER XOAUTH2" : "");
	}
	if (authorization && conn_tls_available(s->c) && !conn_tls_active(s->c))
		conn_puts(s->c, "STLS\r\n");
	conn_puts(s->c, "EXPIRE NEVER\r\n"
	                "LOGIN-DELAY 0\r\n"
	                "IMPLEMENTATION Tern\r\n"
	                ".\r\n");
}
