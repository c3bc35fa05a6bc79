/* AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN mechanisms, and
 * with OAuth 2.0 bearer tokens (OAUTHBEARER, RFC 7628, and XOAUTH2, what
 * Outlook, Thunderbird and Gmail's clients send) when [oauth] is set, on
 * the submission ports only.
 *
 * A refused token gets the RFC 7628 3.2.2 error exchange: a 334 challenge
 * carrying the base64 JSON status, the client's dummy answer, then 535.
 *
 * Credentials live in a zeroing arena (struct smtp_auth), wiped when the
 * exchange ends; the command lines that carried them are wiped in the
 * connection's input buffer.  The password is checked in a worker job
 * (auth_check_password hashes).  Every failure is answered after the same
 * AUTH_FAIL_DELAY_MS, with input paused meanwhile, whether the user
 * exists or not. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "auth/sasl.h"
#include "auth/sasl_oauth.h"
#include "directory/directory.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "smtp/smtp_session.h"
#include "proxy/proxy.h"

#define SMTP_AUTH_ARENA_CHUNK 4096

enum smtp_auth_mech { SMTP_MECH_PLAIN, SMTP_MECH_LOGIN, SMTP_MECH_OAUTHBEARER, SMTP_MECH_XOAUTH2 };

static const struct {
	const char *name;
	enum smtp_auth_mech mech;
	bool bearer;
} smtp_mechs[] = {
	{ "PLAIN", SMTP_MECH_PLAIN, false },
	{ "LOGIN", SMTP_MECH_LOGIN, false },
	{ "OAUTHBEARER", SMTP_MECH_OAUTHBEARER, true },
	{ "XOAUTH2", SMTP_MECH_XOAUTH2, true },
};

struct smtp_auth {
	struct arena *arena;            /* secure: wiped when freed */
	struct smtp_session *s;
	enum smtp_auth_mech mech;
	bool login_have_user;           /* LOGIN: user given, password next */
	bool authz_mismatch;            /* PLAIN authzid names someone else */
	bool bearer;                    /* OAUTHBEARER or XOAUTH2 */
	bool error_sent;                /* token refused: waiting for the client's dummy answer */
	unsigned fail_delay_ms;         /* how long the final failure waits */
	char *token;                    /* bearer token (in the arena) */
	char user[AUTH_USER_MAX + 1];
	char password[AUTH_PASS_MAX + 1];
	const char *data_dir;
	enum auth_basic basic;
	char peer[64];                  /* client address (app passwords record it) */
	struct auth_result result;
	char proxy_for[AUTH_USER_MAX + 1]; /* a proxy's login for this user ("" if not) */
	char client_addr[64];           /* what a trusted proxy passed on (XCLIENT), or "" */
	enum server_role role;
	unsigned backend_port;          /* [proxy] submission_port */
	int routed;                     /* proxy_route: 1 on a back end, 0 here, -1 error */
	const char *route_error;
	struct proxy_target target;
};

static const char *
mech_name(const struct smtp_auth *a)
{
	for (size_t i = 0; i < sizeof(smtp_mechs) / sizeof(smtp_mechs[0]); i++) {
		if (smtp_mechs[i].mech == a->mech)
			return smtp_mechs[i].name;
	}
	return "?";
}

void
smtp_auth_free(struct smtp_session *s)
{
	struct arena *a;

	if (s->auth == NULL)
		return;
	a = s->auth->arena;
	s->auth = NULL;
	arena_free(&a);
	if (s->state == SMTP_ST_AUTH)
		s->state = SMTP_ST_CMD;
}

static void
log_attempt(struct smtp_session *s, const char *result, const char *reason)
{
	char user[64];

	metrics_login(METRICS_PROTO_SUBMISSION, strcmp(result, "ok") == 0);
	const char *shown = s->auth->proxy_for[0] != '\0' ? s->auth->proxy_for : s->auth->user;

	if (s->orig_addr[0] != '\0')
		log_info("smtp %s auth user=%s peer=%s port=%u proxy=%s mech=%s result=%s reason=\"%s\"",
		         conn_id(s->c), shown[0] != '\0' ? smtp_log_safe(shown, user, sizeof(user)) : "-", s->orig_addr,
		         s->orig_port, conn_peer_addr(s->c), mech_name(s->auth), result, reason);
	else
		log_info("smtp %s auth user=%s peer=%s mech=%s result=%s reason=\"%s\"", conn_id(s->c),
		         shown[0] != '\0' ? smtp_log_safe(shown, user, sizeof(user)) : "-", conn_peer_addr(s->c),
		         mech_name(s->auth), result, reason);
}

/* A malformed client response ends the exchange. */
static void
bad_response(struct smtp_session *s)
{
	log_attempt(s, "failed", "malformed response");
	smtp_auth_free(s);
	smtp_error(s, 501, "5.5.2", "Cannot decode response");
}

static void
fail_delay_done(void *arg)
{
	struct smtp_session *s = arg;

	smtp_auth_free(s);
	smtp_session_unbusy(s);
	smtp_error(s, 535, "5.7.8", "Authentication credentials invalid");
	conn_resume(s->c);
}

static void
auth_work(void *arg)
{
	struct smtp_auth *a = arg;
	struct auth_login login = { .proto = AUTH_PROTO_SMTP, .basic = a->basic, .peer = a->peer,
	                            .username = a->user, .password = a->password,
	                            .token = a->bearer ? a->token : NULL,
	                            .proxy_for = a->proxy_for[0] != '\0' ? a->proxy_for : NULL,
	                            .client_addr = a->client_addr[0] != '\0' ? a->client_addr : NULL };

	auth_check_login(a->data_dir, &login, &a->result);
	if (a->bearer)
		str_wipe(a->token, strlen(a->token));
	str_wipe(a->password, sizeof(a->password));
	/* A proxy sends the user on to its back end. */
	if (a->result.status == AUTH_OK && !a->authz_mismatch && a->role == SERVER_ROLE_PROXY) {
		struct directory *dir = directory_for_thread(a->data_dir);

		a->routed = dir == NULL ? -1
		                        : proxy_route(dir, a->result.user, a->backend_port, &a->target, &a->route_error);
		if (dir == NULL)
			a->route_error = "directory unavailable";
	}
}

static void
auth_done(void *arg)
{
	struct smtp_auth *a = arg;
	struct smtp_session *s = a->s;
	enum auth_status st = a->result.status;
	const char *reason = a->result.reason != NULL ? a->result.reason : "";

	if (st == AUTH_OK && a->authz_mismatch) {
		st = AUTH_FAILED;
		reason = "authorization identity differs";
	}
	if (conn_closing(s->c)) {
		smtp_auth_free(s);
		smtp_session_unbusy(s);
		return;
	}
	if (st == AUTH_OK && a->role == SERVER_ROLE_PROXY) {
		char user[ADDRESS_MAX + 1];
		struct proxy_target target = a->target;

		if (a->routed != 1) {
			log_attempt(s, "no-backend", a->route_error != NULL ? a->route_error : "no back end");
			smtp_auth_free(s);
			smtp_session_unbusy(s);
			smtp_reply(s, 454, "4.7.0", "Your mailbox server cannot be reached now, try again later");
			return;
		}
		log_attempt(s, "ok", reason);
		str_lcpy(user, a->result.user, sizeof(user));
		smtp_auth_free(s);
		smtp_session_unbusy(s);
		smtp_proxy_start(s, user, &target);
		return;
	}
	switch (st) {
	case AUTH_OK:
		log_attempt(s, "ok", reason);
		free(s->auth_user);
		s->auth_user = xstrdup(a->result.user);
		conn_set_authenticated(s->c);   /* the pre-auth limits end */
		smtp_auth_free(s);
		smtp_session_unbusy(s);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		return;
	case AUTH_PROTOCOL_DISABLED:
		/* only said once the password was right */
		log_attempt(s, "disabled", reason);
		smtp_auth_free(s);
		smtp_session_unbusy(s);
		smtp_error(s, 535, "5.7.8", "Submission is disabled for this account");
		return;
	case AUTH_TEMPFAIL:
		log_attempt(s, "tempfail", reason);
		smtp_auth_free(s);
		smtp_session_unbusy(s);
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		return;
	case AUTH_BLOCKED:
		log_attempt(s, "blocked", reason);
		smtp_auth_free(s);
		smtp_session_unbusy(s);
		smtp_reply(s, 421, "4.7.0", "%s Too many failed logins from your address, try again later",
		           s->cfg->hostname);
		conn_close(s->c);
		return;
	default:
		log_attempt(s, "failed", reason);
		a->fail_delay_ms = a->result.delay_ms > 0 ? a->result.delay_ms : AUTH_FAIL_DELAY_MS;
		if (a->bearer) {
			/* RFC 7628 3.2.2: the error status as a challenge; the
			 * final 535 follows the client's dummy answer. */
			char challenge[256];

			sasl_oauth_error_b64("invalid_token", NULL, challenge, sizeof(challenge));
			a->error_sent = true;
			s->state = SMTP_ST_AUTH;
			smtp_session_unbusy(s);
			conn_printf(s->c, "334 %s\r\n", challenge);
			return;
		}
		/* unknown user, wrong password, disabled account: one answer,
		 * after one delay; input stays paused until it is sent */
		conn_pause(s->c);
		conn_after(s->c, a->fail_delay_ms, fail_delay_done, s);
		return;
	}
}

static void
start_check(struct smtp_session *s)
{
	struct smtp_auth *a = s->auth;

	s->state = SMTP_ST_CMD;
	a->s = s;
	a->data_dir = s->cfg->data_dir;
	a->basic = s->cfg->basic;
	a->role = s->cfg->role;
	a->backend_port = s->cfg->proxy.submission_port;
	snprintf(a->client_addr, sizeof(a->client_addr), "%s", s->orig_addr);
	snprintf(a->peer, sizeof(a->peer), "%s", conn_peer_addr(s->c));
	smtp_session_busy(s);
	conn_defer(s->c, auth_work, auth_done, a);
}

/* PLAIN: the whole message (base64) is in. */
static void
plain_response(struct smtp_session *s, const char *b64, size_t len)
{
	struct smtp_auth *a = s->auth;
	struct sasl_credentials *cr = arena_alloc(a->arena, sizeof(*cr));

	if (sasl_plain_decode(b64, len, cr) == -1) {
		bad_response(s);
		return;
	}
	str_lcpy(a->user, cr->authcid, sizeof(a->user));
	str_lcpy(a->password, cr->password, sizeof(a->password));
	/* We act only as the authenticated user (RFC 4616 2: an authzid
	 * that is not the user itself is refused). */
	if (cr->authzid[0] != '\0' && strcasecmp(cr->authzid, cr->authcid) != 0) {
		/* ... except a proxy's login for its user (auth_proxy.c). */
		if (strcmp(cr->authcid, AUTH_PROXY_IDENTITY) == 0)
			str_lcpy(a->proxy_for, cr->authzid, sizeof(a->proxy_for));
		else
			a->authz_mismatch = true;
	}
	str_wipe(cr, sizeof(*cr));
	start_check(s);
}

/* LOGIN: one step (user name, then password). */
static void
login_response(struct smtp_session *s, const char *b64, size_t len)
{
	struct smtp_auth *a = s->auth;

	if (!a->login_have_user) {
		if (sasl_login_decode(b64, len, a->user, sizeof(a->user)) <= 0) {
			bad_response(s);
			return;
		}
		a->login_have_user = true;
		s->state = SMTP_ST_AUTH;
		conn_puts(s->c, "334 UGFzc3dvcmQ6\r\n");   /* "Password:" */
		return;
	}
	if (sasl_login_decode(b64, len, a->password, sizeof(a->password)) <= 0) {
		bad_response(s);
		return;
	}
	start_check(s);
}

/* OAUTHBEARER / XOAUTH2: the client's one message (base64). */
static void
bearer_response(struct smtp_session *s, const char *b64, size_t len)
{
	struct smtp_auth *a = s->auth;
	struct sasl_bearer *b;
	int r;

	if (a->error_sent) {
		/* The dummy answer to the error challenge: the final failure,
		 * after the same delay as every other failure. */
		smtp_session_busy(s);
		conn_pause(s->c);
		conn_after(s->c, a->fail_delay_ms, fail_delay_done, s);
		s->state = SMTP_ST_CMD;
		return;
	}
	b = arena_alloc(a->arena, sizeof(*b));
	r = a->mech == SMTP_MECH_OAUTHBEARER ? sasl_oauthbearer_decode(b64, len, b) : sasl_xoauth2_decode(b64, len, b);
	if (r != 0) {
		bad_response(s);
		return;
	}
	str_lcpy(a->user, b->user, sizeof(a->user));
	a->token = arena_strdup(a->arena, b->token);
	str_wipe(b, sizeof(*b));
	start_check(s);
}

static void
response(struct smtp_session *s, const char *b64, size_t len)
{
	if (s->auth->bearer)
		bearer_response(s, b64, len);
	else if (s->auth->mech == SMTP_MECH_PLAIN)
		plain_response(s, b64, len);
	else
		login_response(s, b64, len);
}

/* AUTH SP mechanism [SP initial-response]   RFC 4954 4 */
int
smtp_cmd_auth(struct smtp_session *s, const char *args)
{
	struct arena *arena;
	struct smtp_auth *a;
	const char *mech, *initial;
	size_t mech_len;

	if (!smtp_is_submission(s))
		return smtp_error(s, 503, "5.5.1", "Authentication not enabled on this port");
	if (!s->esmtp)
		return smtp_error(s, 503, "5.5.1", "Send EHLO first");
	if (s->auth_user != NULL)
		return smtp_error(s, 503, "5.5.1", "Already authenticated");
	if (s->tx != NULL)
		return smtp_error(s, 503, "5.5.1", "AUTH not allowed during a mail transaction");
	if (!smtp_auth_allowed_here(s)) {
		if (smtp_must_starttls(s))
			return smtp_error(s, 530, "5.7.0", "Must issue a STARTTLS command first");
		return smtp_error(s, 538, "5.7.11", "Encryption required for requested authentication mechanism");
	}
	if (smtp_parse_auth(args, &mech, &mech_len, &initial) != SMTP_PARSE_OK)
		return smtp_error(s, 501, "5.5.4", "Syntax: AUTH mechanism [initial-response]");

	arena = arena_new(SMTP_AUTH_ARENA_CHUNK, true);
	a = arena_alloc(arena, sizeof(*a));
	a->arena = arena;
	{
		size_t i, n = sizeof(smtp_mechs) / sizeof(smtp_mechs[0]);

		for (i = 0; i < n; i++) {
			if (strlen(smtp_mechs[i].name) == mech_len && strncasecmp(mech, smtp_mechs[i].name, mech_len) == 0)
				break;
		}
		if (i == n || (smtp_mechs[i].bearer && !auth_oauth_enabled())) {
			arena_free(&arena);
			return smtp_error(s, 504, "5.5.4", "Unrecognized authentication type");
		}
		a->mech = smtp_mechs[i].mech;
		a->bearer = smtp_mechs[i].bearer;
	}
	if (s->cfg->basic == BASIC_OFF && !a->bearer) {
		/* [auth] basic = off: one answer for everyone, saying why. */
		arena_free(&arena);
		return smtp_error(s, 504, "5.7.4", "Password authentication is disabled on this server; use OAuth 2.0");
	}
	s->auth = a;

	if (initial != NULL) {
		/* "=" is an empty initial response (RFC 4954 4) */
		size_t len = strcmp(initial, "=") == 0 ? 0 : strlen(initial);

		response(s, initial, len);
		str_wipe((char *)initial, strlen(initial));
		return 0;
	}
	s->state = SMTP_ST_AUTH;
	if (a->mech == SMTP_MECH_LOGIN)
		conn_puts(s->c, "334 VXNlcm5hbWU6\r\n");   /* "Username:" */
	else
		conn_puts(s->c, "334 \r\n");
	return 0;
}

void
smtp_auth_line(struct smtp_session *s, char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		/* RFC 4954 4: the client cancels */
		if (s->auth != NULL)
			log_attempt(s, "cancelled", "client sent *");
		smtp_auth_free(s);
		smtp_error(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	if (s->auth == NULL) {
		s->state = SMTP_ST_CMD;
		return;
	}
	response(s, line, len);
	str_wipe(line, len);
}

void
smtp_auth_line_too_long(struct smtp_session *s)
{
	if (s->auth != NULL)
		log_attempt(s, "failed", "response too long");
	smtp_auth_free(s);
	smtp_error(s, 500, "5.5.6", "Authentication exchange line is too long");
}
