/* Password authentication against the directory.  Every failure before
 * the password is known to be right costs one hash verification (a dummy
 * one when there is no user), and all of them give the same status, so
 * neither the answer nor its timing tells whether a user exists. */
#include "auth/auth.h"
#include "auth/auth_private.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <strings.h>

#include "auth/oauth.h"
#include "auth/penalty.h"
#include "lib/log.h"
#include "auth/password.h"
#include "directory/directory.h"
#include "lib/str.h"
#include "lib/xalloc.h"

const char *
auth_protocol_name(enum auth_protocol proto)
{
	switch (proto) {
	case AUTH_PROTO_SMTP:
		return "smtp";
	case AUTH_PROTO_POP3:
		return "pop3";
	case AUTH_PROTO_IMAP:
		return "imap";
	case AUTH_PROTO_WEB:
		return "settings";
	}
	return "?";
}

bool
auth_plaintext_allowed(enum allow_plaintext policy, bool tls_active, bool peer_loopback)
{
	if (tls_active)
		return true;
	switch (policy) {
	case PLAINTEXT_ALWAYS:
		return true;
	case PLAINTEXT_LOOPBACK:
		return peer_loopback;
	case PLAINTEXT_NEVER:
		break;
	}
	return false;
}

static bool refuse_blocked(const char *peer, struct auth_result *out);
static void record_outcome(const char *peer, const char *account, struct auth_result *out);

void
auth_check_login(const char *data_dir, const struct auth_login *login, struct auth_result *out)
{
	struct directory *d = directory_for_thread(data_dir);

	if (d == NULL) {
		memset(out, 0, sizeof(*out));
		out->status = AUTH_TEMPFAIL;
		out->reason = "directory unavailable";
	} else if (login->proxy_for != NULL) {
		memset(out, 0, sizeof(*out));
		if (!refuse_blocked(login->peer, out) &&
		    (login->client_addr == NULL || !refuse_blocked(login->client_addr, out))) {
			auth_check_proxied(d, login, out);
			record_outcome(login->peer, login->username, out);
		}
	} else if (login->token != NULL) {
		struct auth_token_request req = { .proto = login->proto, .peer = login->peer,
		                                  .username = login->username, .token = login->token };

		auth_check_token(d, &req, out);
	} else {
		struct auth_request req = { .proto = login->proto, .basic = login->basic, .peer = login->peer,
		                            .username = login->username, .password = login->password };

		auth_check_password(d, &req, out);
	}
}

static void
auth_fail(struct auth_result *out, const char *password, const char *reason)
{
	password_verify_dummy(password);
	out->status = AUTH_FAILED;
	out->reason = reason;
}

static bool
protocol_enabled(const struct dir_user *u, enum auth_protocol proto)
{
	switch (proto) {
	case AUTH_PROTO_SMTP:
		return u->submission;
	case AUTH_PROTO_POP3:
		return u->pop3;
	case AUTH_PROTO_IMAP:
		return u->imap;
	case AUTH_PROTO_WEB:
		return true;
	}
	return false;
}

static unsigned
protocol_bit(enum auth_protocol proto)
{
	switch (proto) {
	case AUTH_PROTO_SMTP:
		return DIR_PROTO_SMTP;
	case AUTH_PROTO_POP3:
		return DIR_PROTO_POP3;
	case AUTH_PROTO_IMAP:
		return DIR_PROTO_IMAP;
	case AUTH_PROTO_WEB:
		return DIR_PROTO_ALL;
	}
	return 0;
}

/* The account's own switches, once the credentials are known right. */
void
auth_apply_policy(const struct dir_user *u, enum auth_protocol proto, struct auth_result *out)
{
	str_lcpy(out->user, u->address, sizeof(out->user));
	if (u->disabled) {
		out->status = AUTH_ACCOUNT_DISABLED;
		out->reason = "account disabled";
	} else if (u->role == ROLE_ADMIN && (proto == AUTH_PROTO_POP3 || proto == AUTH_PROTO_IMAP)) {
		out->status = AUTH_ADMIN_REFUSED;
		out->reason = "administrator mailboxes are not opened over POP3 or IMAP";
	} else if (!protocol_enabled(u, proto)) {
		out->status = AUTH_PROTOCOL_DISABLED;
		out->reason = proto == AUTH_PROTO_SMTP ? "submission disabled for this user"
		                                       : proto == AUTH_PROTO_POP3 ? "pop3 disabled for this user"
		                                                                  : "imap disabled for this user";
	} else {
		out->status = AUTH_OK;
		out->reason = out->app_password[0] != '\0' ? "ok (app password)" : "ok";
	}
}

int
auth_penalty_state(const struct tern_config *cfg, char *out, size_t size)
{
	int n;

	if (cfg->directory.postgresql)
		n = snprintf(out, size, "%s", cfg->directory.dsn);
	else
		n = snprintf(out, size, "%s/%s", cfg->data_dir, PENALTY_DB_NAME);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* The process's penalty box: set once before the loops start. */
static struct penalty *penalties;

int
auth_penalty_start(const struct tern_config *cfg, char **error_out)
{
	char path[PATH_MAX];
	struct penalty_config pc;
	const char *error;

	penalty_config_default(&pc);
	pc.delay_after = cfg->bruteforce.delay_after;
	pc.delay_max_ms = cfg->bruteforce.delay_max * 1000;
	pc.block_after = cfg->bruteforce.block_after;
	pc.block_subnet_after = cfg->bruteforce.block_subnet_after;
	pc.spray_accounts = cfg->bruteforce.spray_accounts;
	pc.spray_subnet_accounts = cfg->bruteforce.spray_subnet_accounts;
	pc.account_slow_after = cfg->bruteforce.account_slow_after;
	pc.account_slow_total = cfg->bruteforce.account_slow_total;
	pc.window_sec = cfg->bruteforce.window;
	pc.block_sec = cfg->bruteforce.block_time;
	pc.good_sec = cfg->bruteforce.good_time;
	pc.max_tracked = cfg->bruteforce.max_tracked;
	pc.allow_networks = cfg->bruteforce.allow;
	if (auth_penalty_state(cfg, path, sizeof(path)) != 0) {
		*error_out = xstrdup("data_dir too long");
		return -1;
	}
	pc.state_path = path;
	penalties = penalty_new(&pc, &error);
	if (penalties == NULL) {
		*error_out = xstrdup(error != NULL ? error : "cannot start");
		return -1;
	}
	return 0;
}

void
auth_penalty_stop(void)
{
	if (penalties != NULL)
		penalty_flush(penalties, time(NULL));
	penalty_free(&penalties);
}

bool
auth_source_blocked(const char *addr)
{
	time_t until;
	const char *why;

	return penalties != NULL && penalty_check(penalties, addr, time(NULL), &until, &why) == 1;
}

/* Before any hash: a blocked address is refused outright. */
static bool
refuse_blocked(const char *peer, struct auth_result *out)
{
	time_t until;
	const char *why = NULL;

	if (penalties == NULL || peer == NULL || penalty_check(penalties, peer, time(NULL), &until, &why) != 1)
		return false;
	out->status = AUTH_BLOCKED;
	out->reason = why != NULL ? why : "address blocked";
	return true;
}

/* After the check: counts the outcome; a failure waits at least the
 * fixed delay every failure gets, plus what the penalty box adds. */
static void
record_outcome(const char *peer, const char *account, struct auth_result *out)
{
	unsigned extra = 0;
	bool success;

	switch (out->status) {
	case AUTH_TEMPFAIL:
	case AUTH_BASIC_DISABLED:
	case AUTH_BLOCKED:
		return;                 /* says nothing about the credentials */
	case AUTH_FAILED:
		success = false;
		break;
	default:
		success = true;         /* right credentials, even if refused */
		break;
	}
	if (penalties != NULL && peer != NULL)
		extra = penalty_record(penalties, peer, account != NULL ? account : "", success, time(NULL));
	if (!success)
		out->delay_ms = AUTH_FAIL_DELAY_MS + extra;
}

static void check_password(struct directory *d, const struct auth_request *req, struct auth_result *out);

void
auth_check_password(struct directory *d, const struct auth_request *req, struct auth_result *out)
{
	memset(out, 0, sizeof(*out));
	if (refuse_blocked(req->peer, out))
		return;
	check_password(d, req, out);
	record_outcome(req->peer, req->username, out);
}

static void
check_password(struct directory *d, const struct auth_request *req, struct auth_result *out)
{
	const char *username = req->username, *password = req->password;
	struct dir_user u;
	const char *error;
	size_t ulen, plen;
	bool right = false;
	int r;

	out->status = AUTH_FAILED;      /* out was cleared by the caller */
	if (req->basic == BASIC_OFF) {
		/* The same answer for every user: nothing to enumerate. */
		out->status = AUTH_BASIC_DISABLED;
		out->reason = "password logins are disabled ([auth] basic = off)";
		return;
	}
	ulen = username != NULL ? strlen(username) : 0;
	plen = password != NULL ? strlen(password) : 0;
	/* PASSWORD_LEN_MAX (what libxcrypt can hash) is below AUTH_PASS_MAX:
	 * refuse longer passwords here, before the lookup, so that they cost
	 * the same for every user. */
	if (ulen == 0 || ulen > AUTH_USER_MAX || plen == 0 || plen > PASSWORD_LEN_MAX) {
		auth_fail(out, "", "empty or too long user name or password");
		return;
	}
	if (strcasecmp(username, "anonymous") == 0 || strcasecmp(username, "guest") == 0 ||
	    str_has_prefix_ci(username, "anonymous@") || str_has_prefix_ci(username, "guest@")) {
		auth_fail(out, password, "anonymous login refused");
		return;
	}
	if (strchr(username, '@') == NULL) {
		auth_fail(out, password, "unknown user");
		return;
	}
	r = directory_user_get(d, username, &u, &error);
	if (r < 0) {
		out->status = AUTH_TEMPFAIL;
		out->reason = "directory unavailable";
		return;
	}
	if (r == 0) {
		auth_fail(out, password, "unknown user");
		return;
	}
	if (req->basic == BASIC_ON) {
		if (!password_hash_supported(u.password_hash))
			/* password_verify would return at once: spend the time anyway. */
			password_verify_dummy(password);
		else
			right = password_verify(password, u.password_hash);
	} else {
		/* app-passwords-only: the account password is never tried, but
		 * its cost is spent so that timing does not tell the modes or
		 * the users apart. */
		password_verify_dummy(password);
	}
	if (!right) {
		r = directory_app_password_check(d, u.address, password, protocol_bit(req->proto), req->peer,
		                                 out->app_password, sizeof(out->app_password), &error);
		if (r < 0) {
			out->status = AUTH_TEMPFAIL;
			out->reason = "directory unavailable";
			goto out;
		}
		right = r == 1;
	}
	if (!right) {
		out->status = AUTH_FAILED;
		out->reason = req->basic == BASIC_ON ? "wrong password" : "not an app password (app-passwords-only)";
		goto out;
	}
	auth_apply_policy(&u, req->proto, out);
out:
	str_wipe(u.password_hash, sizeof(u.password_hash));
}

/* The process's OAuth verifier: set once before the loops start, read by
 * workers afterwards (oauth_verify is thread-safe). */
static struct oauth *oauth_verifier;

int
auth_oauth_start(const struct tern_config *cfg, char **error_out)
{
	const struct oauth_config oc = {
		.issuer = cfg->oauth.issuer,
		.audience = cfg->oauth.audience,
		.user_claim = cfg->oauth.user_claim,
		.scope = cfg->oauth.scope[0] != '\0' ? cfg->oauth.scope : NULL,
		.jwks_file = cfg->oauth.jwks_file[0] != '\0' ? cfg->oauth.jwks_file : NULL,
		.jwks_url = cfg->oauth.jwks_url[0] != '\0' ? cfg->oauth.jwks_url : NULL,
		.ca_file = cfg->oauth.ca_file[0] != '\0' ? cfg->oauth.ca_file : NULL,
		.jwks_refresh_sec = cfg->oauth.jwks_refresh,
		.clock_skew_sec = cfg->oauth.clock_skew,
		.introspection_url = cfg->oauth.introspection_url[0] != '\0' ? cfg->oauth.introspection_url : NULL,
		.introspection_client_id = cfg->oauth.introspection_client_id,
		.introspection_client_secret = cfg->oauth.introspection_client_secret,
	};

	if (cfg->oauth.issuer[0] == '\0')
		return 0;
	oauth_verifier = oauth_new(&oc, error_out);
	return oauth_verifier != NULL ? 0 : -1;
}

void
auth_oauth_stop(void)
{
	oauth_free(&oauth_verifier);
}

bool
auth_oauth_enabled(void)
{
	return oauth_verifier != NULL;
}

static void check_token(struct directory *d, const struct auth_token_request *req, struct auth_result *out);

void
auth_check_token(struct directory *d, const struct auth_token_request *req, struct auth_result *out)
{
	memset(out, 0, sizeof(*out));
	if (refuse_blocked(req->peer, out))
		return;
	check_token(d, req, out);
	record_outcome(req->peer, out->user[0] != '\0' ? out->user : req->username, out);
}

static void
check_token(struct directory *d, const struct auth_token_request *req, struct auth_result *out)
{
	char user[ADDRESS_MAX + 1];
	struct dir_user u;
	const char *reason = NULL, *error;
	int r;

	out->status = AUTH_FAILED;
	if (oauth_verifier == NULL) {
		out->reason = "oauth not configured";
		return;
	}
	if (oauth_verify(oauth_verifier, req->token, user, sizeof(user), &reason) != 0) {
		out->reason = reason != NULL ? reason : "invalid token";
		return;
	}
	if (req->username != NULL && req->username[0] != '\0' && strcasecmp(req->username, user) != 0) {
		out->reason = "token is for another user";
		return;
	}
	r = directory_user_get(d, user, &u, &error);
	if (r < 0) {
		out->status = AUTH_TEMPFAIL;
		out->reason = "directory unavailable";
		return;
	}
	if (r == 0) {
		out->reason = "no mailbox for the token's user";
		return;
	}
	auth_apply_policy(&u, req->proto, out);
	str_wipe(u.password_hash, sizeof(u.password_hash));
}
