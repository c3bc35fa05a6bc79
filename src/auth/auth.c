/* Password authentication against the directory.  Every failure before
 * the password is known to be right costs one hash verification (a dummy
 * one when there is no user), and all of them give the same status, so
 * neither the answer nor its timing tells whether a user exists. */
#include "auth/auth.h"

#include <string.h>
#include <strings.h>

#include "auth/password.h"
#include "directory/directory.h"
#include "lib/str.h"

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
	}
	return "?";
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
	}
	return 0;
}

/* The account's own switches, once the credentials are known right. */
static void
apply_policy(const struct dir_user *u, enum auth_protocol proto, struct auth_result *out)
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

void
auth_check_password(struct directory *d, const struct auth_request *req, struct auth_result *out)
{
	const char *username = req->username, *password = req->password;
	struct dir_user u;
	const char *error;
	size_t ulen, plen;
	bool right = false;
	int r;

	memset(out, 0, sizeof(*out));
	out->status = AUTH_FAILED;
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
	apply_policy(&u, req->proto, out);
out:
	str_wipe(u.password_hash, sizeof(u.password_hash));
}
