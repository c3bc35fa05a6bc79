/* The not-authenticated state and the commands valid in any state:
 * CAPABILITY, NOOP, LOGOUT, ID (RFC 2971), STARTTLS, LOGIN, AUTHENTICATE
 * (PLAIN with SASL-IR, OAUTHBEARER, XOAUTH2), and ENABLE (RFC 5161).
 *
 * The login job checks the credentials (auth_check_password / _token with
 * AUTH_PROTO_IMAP, which applies the per-user imap switch, the admin
 * refusal and the brute-force penalties), reads the user's quota, and
 * opens the store (creating INBOX and, the first time, the special-use
 * mailboxes) off the event loop. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "auth/password.h"
#include "auth/sasl.h"
#include "auth/sasl_oauth.h"
#include "directory/directory.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_session.h"
#include "lib/arena.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/name_count.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "proxy/proxy.h"
#include "store/store_imap.h"
#include "store/store_private.h"

/* The version in ID responses. */
#define TERN_IMAP_ID_NAME "Tern"
/* ID parameters we look at, at most (RFC 2971 3.3: 30). */
#define IMAP_ID_PAIRS_MAX 30

void
imap_capabilities(struct imap_session *s, struct buf *out)
{
	bool logged = s->state != IMAP_STATE_NOT_AUTH;

	buf_puts(out, "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID ENABLE IDLE");
	if (!logged) {
		bool pw = imap_plaintext_ok(s) && s->cfg->basic != BASIC_OFF;

		if (conn_tls_available(s->c) && !conn_tls_active(s->c))
			buf_puts(out, " STARTTLS");
		if (pw)
			buf_puts(out, " AUTH=PLAIN");
		if (imap_plaintext_ok(s) && auth_oauth_enabled())
			buf_puts(out, " AUTH=OAUTHBEARER AUTH=XOAUTH2");
		if (!pw)
			buf_puts(out, " LOGINDISABLED");
		return;
	}
	buf_puts(out, " NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE CREATE-SPECIAL-USE OBJECTID"
	              " LIST-EXTENDED LIST-STATUS ESEARCH SEARCHRES CONDSTORE QRESYNC BINARY MULTIAPPEND"
	              " STATUS=SIZE QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE PREVIEW"
	              " ACL RIGHTS=texk LIST-MYRIGHTS CATENATE URLAUTH URLAUTH=BINARY UTF8=ACCEPT");
	buf_printf(out, " APPENDLIMIT=%llu", (unsigned long long)s->cfg->max_message_size);
	buf_puts(out, " NOTIFY METADATA METADATA-SERVER");
	/* RFC 5267, RFC 5032, RFC 8514, RFC 8508 (docs/IMAP.md) */
	buf_puts(out, " CONTEXT=SEARCH WITHIN SAVEDATE REPLACE");
	buf_puts(out, " SORT SORT=DISPLAY ESORT CONTEXT=SORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES");  /* imap_sort.h */
	if (!s->compressed)
		buf_puts(out, " COMPRESS=DEFLATE");
}

void
imap_cmd_capability(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	struct buf b = BUF_INIT;

	if (args != NULL) {
		imap_complete_bad(s, "CAPABILITY takes no arguments");
		return;
	}
	buf_puts(&b, "* CAPABILITY ");
	imap_capabilities(s, &b);
	buf_puts(&b, "\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
	imap_complete(s, IMAP_OK, NULL, "CAPABILITY completed");
}

void
imap_cmd_noop(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	if (args != NULL) {
		imap_complete_bad(s, "NOOP takes no arguments");
		return;
	}
	/* imap_complete syncs the selected mailbox first when it changed.
	 * NOOP is the client's poll (RFC 9051 6.1.2): look at the store even
	 * when the bus said nothing, since another process (tern import)
	 * changes it without the bus. */
	s->changes_unknown = true;
	imap_complete(s, IMAP_OK, NULL, "NOOP completed");
}

void
imap_cmd_check(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	/* RFC 3501 6.4.1: a checkpoint; every change is durable already. */
	imap_complete(s, IMAP_OK, NULL, "CHECK completed");
}

void
imap_cmd_logout(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	conn_puts(s->c, "* BYE Logging out\r\n");
	imap_tagged(s, IMAP_OK, NULL, "LOGOUT completed");
	imap_close(s, "logout");
	imap_complete_written(s);
}

/* Dovecot's ID fields for a proxied client ("x-originating-ip",
 * "x-originating-port"), believed from a trusted proxy only. */
static void
id_originating(struct imap_session *s, const char *k, const char *v)
{
	unsigned char bin[16];

	if (strcasecmp(k, "x-originating-ip") == 0) {
		if ((inet_pton(AF_INET, v, bin) == 1 || inet_pton(AF_INET6, v, bin) == 1) &&
		    strlen(v) < sizeof(s->orig_addr))
			snprintf(s->orig_addr, sizeof(s->orig_addr), "%s", v);
	} else if (strcasecmp(k, "x-originating-port") == 0) {
		char *end;
		unsigned long n = strtoul(v, &end, 10);

		if (*v >= '0' && *v <= '9' && *end == '\0' && n <= 65535)
			s->orig_port = (unsigned)n;
	}
}

void
imap_cmd_id(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	/* RFC 2971: "ID NIL" or a list of at most 30 string pairs; we
	 * log the client's name and version (useful when a client
	 * misbehaves) and answer with ours. */
	char client[160] = "";

	if (args == NULL || args->next != NULL || (args->type != IMAP_ARG_NIL && args->type != IMAP_ARG_LIST)) {
		imap_complete_bad(s, "ID takes NIL or a list of field-value pairs");
		return;
	}
	if (args->type == IMAP_ARG_LIST) {
		const struct imap_arg *a = args->list;
		size_t n = 0;

		if (args->count % 2 != 0 || args->count > 2 * IMAP_ID_PAIRS_MAX) {
			imap_complete_bad(s, "ID takes at most 30 field-value pairs");
			return;
		}
		for (; a != NULL && a->next != NULL; a = a->next->next, n++) {
			const char *k, *v;
			size_t kl, vl;

			if (!imap_arg_nstring(a, &k, &kl) || k == NULL || !imap_arg_nstring(a->next, &v, &vl)) {
				imap_complete_bad(s, "ID fields are strings");
				return;
			}
			if (v != NULL && s->state == IMAP_STATE_NOT_AUTH && auth_proxy_trusted(conn_peer_addr(s->c)))
				id_originating(s, k, v);
			if (v != NULL && (strcasecmp(k, "name") == 0 || strcasecmp(k, "version") == 0)) {
				size_t used = strlen(client);

				snprintf(client + used, sizeof(client) - used, "%s%.60s", used > 0 ? "/" : "", v);
			}
		}
		for (char *p = client; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '"')
				*p = '?';
		if (client[0] != '\0')
			log_info("imap %s client id=\"%s\"", conn_id(s->c), client);
	}
	conn_puts(s->c, "* ID (\"name\" \"" TERN_IMAP_ID_NAME "\")\r\n");
	imap_complete(s, IMAP_OK, NULL, "ID completed");
}

void
imap_cmd_starttls(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	if (args != NULL) {
		imap_complete_bad(s, "STARTTLS takes no arguments");
		return;
	}
	if (conn_tls_active(s->c)) {
		imap_complete_bad(s, "TLS is already active");
		return;
	}
	if (!conn_tls_available(s->c)) {
		imap_complete(s, IMAP_NO, NULL, "TLS is not available");
		return;
	}
	imap_tagged(s, IMAP_OK, NULL, "Begin TLS negotiation now");
	/* Any pipelined input is dropped by conn (CVE-2011-0411), and
	 * the parser must forget a partial command too. */
	conn_starttls(s->c);
	imap_complete_written(s);
}

/* ENABLE (RFC 5161): IMAP4rev2 (RFC 9051), UTF8=ACCEPT (RFC 6855),
 * CONDSTORE and QRESYNC (RFC 7162: QRESYNC implies CONDSTORE).  Unknown
 * names are ignored. */
void
imap_cmd_enable(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	struct buf b = BUF_INIT;

	if (args == NULL) {
		imap_complete_bad(s, "ENABLE needs capability names");
		return;
	}
	for (const struct imap_arg *a = args; a != NULL; a = a->next)
		if (a->type != IMAP_ARG_ATOM) {
			imap_complete_bad(s, "ENABLE takes capability names");
			return;
		}
	buf_puts(&b, "* ENABLED");
	for (const struct imap_arg *a = args; a != NULL; a = a->next) {
		if (imap_arg_atom_is(a, "IMAP4rev2") && !s->imap4rev2) {
			s->imap4rev2 = true;
			s->utf8 = true;
			/* RFC 9051 has no \Recent */
			free(s->view.recent);
			s->view.recent = NULL;
			s->view.n_recent = 0;
			buf_puts(&b, " IMAP4rev2");
		} else if (imap_arg_atom_is(a, "UTF8=ACCEPT") && !s->utf8_accept) {
			/* RFC 6855 3: UTF-8 in mailbox names and quoted strings,
			 * APPEND's UTF8 (literal8) data */
			s->utf8_accept = true;
			s->utf8 = true;
			buf_puts(&b, " UTF8=ACCEPT");
		} else if (imap_arg_atom_is(a, "CONDSTORE") && !s->condstore) {
			s->condstore = true;
			buf_puts(&b, " CONDSTORE");
		} else if (imap_arg_atom_is(a, "QRESYNC") && !s->qresync) {
			s->qresync = true;
			s->condstore = true;
			buf_puts(&b, " QRESYNC");
		}
	}
	buf_puts(&b, "\r\n");
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
	imap_complete(s, IMAP_OK, NULL, "ENABLE completed");
}

void
imap_cmd_namespace(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	struct buf b = BUF_INIT;

	if (args != NULL) {
		imap_complete_bad(s, "NAMESPACE takes no arguments");
		return;
	}
	imap_namespace_write(&b, s->utf8);
	conn_write(s->c, b.data, b.len);
	buf_free(&b);
	imap_complete(s, IMAP_OK, NULL, "NAMESPACE completed");
}

/* --- logging in --- */

struct login_job {
	struct imap_session *s;
	const char *data_dir;
	enum auth_basic basic;
	char peer[64];
	const char *mech;
	bool refuse;                        /* PLAIN with an authzid for someone else */
	char *token;                        /* bearer token or NULL */
	char user[AUTH_USER_MAX + 1];
	char pass[AUTH_PASS_MAX + 1];       /* wiped by the worker */
	char proxy_for[AUTH_USER_MAX + 1];  /* a proxy's login for this user ("" if not) */
	char client_addr[64];               /* what a trusted proxy passed on, or "" */
	enum server_role role;
	unsigned backend_port;              /* [proxy] imap_port */

	struct auth_result res;
	int routed;                         /* proxy_route: 1 on a back end, 0 here, -1 error */
	const char *route_error;
	struct proxy_target target;
	uint64_t quota_bytes;
	bool store_failed;
	char store_error[256];
};

static void
log_attempt(struct imap_session *s, const char *mech, const char *user, const char *result, const char *reason)
{
	char safe[AUTH_USER_MAX + 1];
	size_t i;

	for (i = 0; user[i] != '\0' && i < sizeof(safe) - 1; i++)
		safe[i] = (unsigned char)user[i] < 0x20 || user[i] == '"' || (unsigned char)user[i] == 0x7f
		          ? '?' : user[i];
	safe[i] = '\0';
	metrics_login(METRICS_PROTO_IMAP, strcmp(result, "ok") == 0);
	if (s->orig_addr[0] != '\0')
		log_info("imap %s login user=\"%s\" peer=%s port=%u proxy=%s mech=%s result=%s reason=\"%s\"",
		         conn_id(s->c), safe, s->orig_addr, s->orig_port, conn_peer_addr(s->c), mech, result,
		         reason != NULL ? reason : "");
	else
		log_info("imap %s login user=\"%s\" peer=%s mech=%s tls=%s result=%s reason=\"%s\"", conn_id(s->c),
		         safe, conn_peer_addr(s->c), mech, conn_tls_active(s->c) ? "yes" : "no", result,
		         reason != NULL ? reason : "");
}

static void
login_work(void *arg)
{
	struct login_job *job = arg;
	struct directory *dir;

	memset(&job->res, 0, sizeof(job->res));
	if (job->refuse) {
		password_verify_dummy(job->pass);
		job->res.status = AUTH_FAILED;
		job->res.reason = "authorization identity differs from authentication identity";
	} else {
		struct auth_login login = { .proto = AUTH_PROTO_IMAP, .basic = job->basic, .peer = job->peer,
		                            .username = job->user, .password = job->pass, .token = job->token,
		                            .proxy_for = job->proxy_for[0] != '\0' ? job->proxy_for : NULL,
		                            .client_addr = job->client_addr[0] != '\0' ? job->client_addr : NULL };

		auth_check_login(job->data_dir, &login, &job->res);
	}
	str_wipe(job->pass, sizeof(job->pass));
	if (job->res.status != AUTH_OK)
		return;
	/* A proxy sends the user on to its back end and opens no store; a
	 * user without one is served here only by a standalone server or a
	 * back end. */
	if (job->role == SERVER_ROLE_PROXY) {
		dir = directory_for_thread(job->data_dir);
		job->routed = dir == NULL ? -1
		                          : proxy_route(dir, job->res.user, job->backend_port, &job->target,
		                                        &job->route_error);
		if (dir == NULL)
			job->route_error = "directory unavailable";
		return;
	}

	{
		struct dir_user u;
		const char *error = NULL;
		struct store *st = NULL;
		enum store_error err;

		dir = directory_for_thread(job->data_dir);
		if (dir != NULL && directory_user_get(dir, job->res.user, &u, &error) == 1)
			job->quota_bytes = u.quota_bytes;
		if (store_cache_open(job->data_dir, job->res.user, &st, &err, &error) == -1 ||
		    store_ensure_default_mailboxes(st, &error) == -1) {
			snprintf(job->store_error, sizeof(job->store_error), "%s", error != NULL ? error : "?");
			job->store_failed = true;
			if (st != NULL)
				store_cache_release(&st, true);
			return;
		}
		store_cache_release(&st, false);
	}
}

static void
login_fail_reply(void *arg)
{
	struct imap_session *s = arg;

	imap_unbusy(s);
	imap_complete(s, IMAP_NO, "AUTHENTICATIONFAILED", "Authentication failed.");
}

struct name_count imap_userip_count = NAME_COUNT_INIT;

/* "user\naddress": the key of [limits] max_imap_connections_per_user_ip. */
static bool
userip_take(struct imap_session *s, const char *user, unsigned *count_out)
{
	char key[ADDRESS_MAX + 64];

	snprintf(key, sizeof(key), "%s\n%s", user, imap_client_addr(s));
	s->userip_slot = name_count_acquire(&imap_userip_count, key, s->cfg->max_imap_connections_per_user_ip,
	                                    count_out);
	return s->userip_slot != NULL;
}

static void
login_ok(struct imap_session *s, struct login_job *job)
{
	struct buf b = BUF_INIT;

	s->user = xstrdup(job->res.user);
	s->quota_bytes = job->quota_bytes;
	s->state = IMAP_STATE_AUTH;
	conn_set_authenticated(s->c);
	conn_set_timeout(s->c, IMAP_TIMEOUT_SEC);
	/* RFC 9051 6.2.2: the OK may carry the new capabilities. */
	buf_puts(&b, "CAPABILITY ");
	imap_capabilities(s, &b);
	imap_complete(s, IMAP_OK, b.data, "Logged in");
	buf_free(&b);
}

static void
login_done(void *arg)
{
	struct login_job *job = arg;
	struct imap_session *s = job->s;
	const char *result;

	if (job->res.status == AUTH_OK && !job->store_failed) {
		result = "ok";
	} else if (job->store_failed) {
		result = "store-error";
		log_warnx("imap %s cannot open the mailbox of %s: %s", conn_id(s->c), job->res.user, job->store_error);
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
	log_attempt(s, job->mech, job->proxy_for[0] != '\0' ? job->proxy_for : job->user, result, job->res.reason);
	if (conn_closing(s->c))
		goto out;
	if (job->res.status == AUTH_OK && job->role == SERVER_ROLE_PROXY && job->routed != 1) {
		if (job->routed == 0)
			log_warnx("imap %s user=%s has no back end: not served on a proxy", conn_id(s->c), job->res.user);
		else
			log_warnx("imap %s user=%s no route to its back end: %s", conn_id(s->c), job->res.user,
			          job->route_error != NULL ? job->route_error : "?");
		imap_complete(s, IMAP_NO, "UNAVAILABLE", "Your mailbox server cannot be reached now, try again later.");
		goto out;
	}
	if (job->res.status == AUTH_OK && !job->store_failed) {
		unsigned held = 0;

		if (!userip_take(s, job->res.user, &held)) {
			/* RFC 5530 LIMIT; Dovecot answers this limit with BYE too. */
			log_info("imap %s refused peer=%s user=%s reason=max_imap_connections_per_user_ip sessions=%u",
			         conn_id(s->c), conn_peer_addr(s->c), job->res.user, held);
			conn_printf(s->c,
			            "* BYE [LIMIT] Too many IMAP connections of this user from your address (%u), "
			            "closing.\r\n",
			            s->cfg->max_imap_connections_per_user_ip);
			imap_close(s, "max-userip");
			goto out;
		}
		if (job->role == SERVER_ROLE_PROXY)
			imap_proxy_start(s, job->res.user, &job->target);
		else
			login_ok(s, job);
		goto out;
	}
	if (job->store_failed) {
		imap_complete(s, IMAP_NO, "UNAVAILABLE", "The mailbox cannot be opened now, try again later.");
		goto out;
	}
	switch (job->res.status) {
	case AUTH_PROTOCOL_DISABLED:
		imap_complete(s, IMAP_NO, "AUTHORIZATIONFAILED", "IMAP access is disabled for this account.");
		break;
	case AUTH_ADMIN_REFUSED:
		imap_complete(s, IMAP_NO, "AUTHORIZATIONFAILED",
		              "Administrator mailboxes cannot be opened over IMAP.");
		break;
	case AUTH_ACCOUNT_DISABLED:
		imap_complete(s, IMAP_NO, "AUTHORIZATIONFAILED", "Account disabled.");
		break;
	case AUTH_TEMPFAIL:
		imap_complete(s, IMAP_NO, "UNAVAILABLE", "Authentication is temporarily unavailable, try again later.");
		break;
	case AUTH_BASIC_DISABLED:
		imap_complete(s, IMAP_NO, "AUTHENTICATIONFAILED",
		              "Password logins are disabled on this server; use OAuth 2.0.");
		break;
	case AUTH_BLOCKED:
		imap_complete(s, IMAP_NO, "UNAVAILABLE", "Too many failed logins from your address, try again later.");
		conn_puts(s->c, "* BYE Closing\r\n");
		imap_close(s, "blocked");
		break;
	default: {
		unsigned delay = job->res.delay_ms > 0 ? job->res.delay_ms : IMAP_FAIL_DELAY_MS;

		if (job->token != NULL) {
			/* RFC 7628 3.2.2: the error as a challenge; the NO
			 * follows the client's dummy answer. */
			char challenge[256];

			sasl_oauth_error_b64("invalid_token", NULL, challenge, sizeof(challenge));
			conn_printf(s->c, "+ %s\r\n", challenge);
			s->sasl = IMAP_SASL_ERROR_SENT;
			s->errors++;
			break;
		}
		/* One answer after one delay, user known or not. */
		imap_busy(s);
		conn_after(s->c, delay, login_fail_reply, s);
		break;
	}
	}
out:
	if (job->token != NULL) {
		str_wipe(job->token, strlen(job->token));
		free(job->token);
	}
	str_wipe(job, sizeof(*job));
	free(job);
}

static struct login_job *
login_new(struct imap_session *s, const char *mech, const char *user, size_t user_len, const char *pass,
          size_t pass_len, bool refuse, const char *token)
{
	struct login_job *job = xcalloc(1, sizeof(*job));

	job->s = s;
	job->role = s->cfg->role;
	job->backend_port = s->cfg->proxy.imap_port;
	snprintf(job->client_addr, sizeof(job->client_addr), "%s", s->orig_addr);
	job->data_dir = s->cfg->data_dir;
	job->basic = s->cfg->basic;
	snprintf(job->peer, sizeof(job->peer), "%s", conn_peer_addr(s->c));
	job->mech = mech;
	job->refuse = refuse;
	memcpy(job->user, user, user_len < AUTH_USER_MAX ? user_len : AUTH_USER_MAX);
	memcpy(job->pass, pass, pass_len < AUTH_PASS_MAX ? pass_len : AUTH_PASS_MAX);
	if (token != NULL)
		job->token = xstrdup(token);
	return job;
}

static void
login_start(struct imap_session *s, const char *mech, const char *user, size_t user_len, const char *pass,
            size_t pass_len, bool refuse, const char *token)
{
	imap_job(s, login_work, login_done, login_new(s, mech, user, user_len, pass, pass_len, refuse, token));
}

static bool
password_refused(struct imap_session *s)
{
	if (s->cfg->basic == BASIC_OFF) {
		imap_complete(s, IMAP_NO, "AUTHENTICATIONFAILED",
		              "Password logins are disabled on this server; use OAuth 2.0.");
		return true;
	}
	if (!imap_plaintext_ok(s)) {
		/* RFC 9051 6.2.3: LOGINDISABLED is advertised; refuse. */
		imap_complete(s, IMAP_NO, "PRIVACYREQUIRED", conn_tls_available(s->c)
		              ? "Plaintext authentication disallowed without TLS; use STARTTLS"
		              : "Plaintext authentication disallowed without TLS");
		return true;
	}
	return false;
}

void
imap_cmd_login(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	const char *user, *pass;
	size_t ulen, plen;

	if (args == NULL || args->next == NULL || args->next->next != NULL ||
	    !imap_arg_astring(args, &user, &ulen) || !imap_arg_astring(args->next, &pass, &plen)) {
		imap_complete_bad(s, "LOGIN needs a user name and a password");
		return;
	}
	if (password_refused(s))
		return;
	if (ulen == 0 || ulen > AUTH_USER_MAX || plen > AUTH_PASS_MAX || memchr(user, '\0', ulen) != NULL ||
	    memchr(pass, '\0', plen) != NULL) {
		log_attempt(s, "LOGIN", "", "failed", "malformed credentials");
		imap_busy(s);
		conn_after(s->c, IMAP_FAIL_DELAY_MS, login_fail_reply, s);
		return;
	}
	login_start(s, "LOGIN", user, ulen, pass, plen, false, NULL);
}

static void
auth_plain(struct imap_session *s, const char *b64, size_t len)
{
	struct sasl_credentials cr;
	bool refuse;

	if (sasl_plain_decode(b64, len, &cr) == -1) {
		str_wipe(&cr, sizeof(cr));
		log_attempt(s, "PLAIN", "", "failed", "malformed SASL PLAIN response");
		imap_complete_bad(s, "Invalid SASL PLAIN response");
		return;
	}
	refuse = cr.authzid[0] != '\0' && strcasecmp(cr.authzid, cr.authcid) != 0;
	if (refuse && strcmp(cr.authcid, AUTH_PROXY_IDENTITY) == 0) {
		/* A proxy logging in for a user (auth_proxy.c decides). */
		struct login_job *job = login_new(s, "PLAIN", cr.authcid, strlen(cr.authcid), cr.password,
		                                  strlen(cr.password), false, NULL);

		snprintf(job->proxy_for, sizeof(job->proxy_for), "%s", cr.authzid);
		imap_job(s, login_work, login_done, job);
	} else {
		login_start(s, "PLAIN", cr.authcid, strlen(cr.authcid), cr.password, strlen(cr.password), refuse,
		            NULL);
	}
	str_wipe(&cr, sizeof(cr));
}

static void
auth_bearer(struct imap_session *s, enum imap_sasl mech, const char *b64, size_t len)
{
	struct sasl_bearer *b = xcalloc(1, sizeof(*b));
	int r;

	r = mech == IMAP_SASL_OAUTHBEARER ? sasl_oauthbearer_decode(b64, len, b) : sasl_xoauth2_decode(b64, len, b);
	if (r != 0) {
		str_wipe(b, sizeof(*b));
		free(b);
		log_attempt(s, s->sasl_mech, "", "failed", "malformed SASL response");
		imap_complete_bad(s, "Invalid SASL response");
		return;
	}
	login_start(s, mech == IMAP_SASL_OAUTHBEARER ? "OAUTHBEARER" : "XOAUTH2", b->user, strlen(b->user), "", 0,
	            false, b->token);
	str_wipe(b, sizeof(*b));
	free(b);
}

void
imap_cmd_authenticate(struct imap_session *s, const struct imap_arg *args, bool uid)
{
	const char *ir = NULL;
	size_t ir_len = 0;
	enum imap_sasl mech;

	if (args == NULL || args->type != IMAP_ARG_ATOM ||
	    (args->next != NULL && (args->next->next != NULL || args->next->type != IMAP_ARG_ATOM))) {
		imap_complete_bad(s, "AUTHENTICATE needs a mechanism name");
		return;
	}
	if (args->next != NULL) {
		/* SASL-IR (RFC 4959); "=" is an empty initial response. */
		ir = args->next->str;
		ir_len = args->next->len;
	}
	if (imap_arg_atom_is(args, "PLAIN")) {
		if (password_refused(s))
			return;
		mech = IMAP_SASL_PLAIN;
	} else if (auth_oauth_enabled() && (imap_arg_atom_is(args, "OAUTHBEARER") || imap_arg_atom_is(args, "XOAUTH2"))) {
		if (!imap_plaintext_ok(s)) {
			imap_complete(s, IMAP_NO, "PRIVACYREQUIRED", "Authentication disallowed without TLS");
			return;
		}
		mech = imap_arg_atom_is(args, "OAUTHBEARER") ? IMAP_SASL_OAUTHBEARER : IMAP_SASL_XOAUTH2;
	} else {
		imap_complete(s, IMAP_NO, "CANNOT", "Unsupported authentication mechanism");
		return;
	}
	snprintf(s->sasl_mech, sizeof(s->sasl_mech), "%s",
	         mech == IMAP_SASL_PLAIN ? "PLAIN" : mech == IMAP_SASL_OAUTHBEARER ? "OAUTHBEARER" : "XOAUTH2");
	if (ir == NULL) {
		s->sasl = mech;
		conn_puts(s->c, "+ \r\n");
		return;
	}
	if (ir_len == 1 && ir[0] == '=') {
		ir = "";
		ir_len = 0;
	}
	if (mech == IMAP_SASL_PLAIN)
		auth_plain(s, ir, ir_len);
	else
		auth_bearer(s, mech, ir, ir_len);
}

void
imap_auth_continue(struct imap_session *s, const char *line, size_t len)
{
	enum imap_sasl mech = s->sasl;

	s->sasl = IMAP_SASL_NONE;
	if (line == NULL) {
		imap_complete_bad(s, "SASL response too long");
		return;
	}
	if (len == 1 && line[0] == '*') {
		/* RFC 9051 6.2.2: the client cancelled. */
		imap_complete_bad(s, "Authentication cancelled");
		return;
	}
	if (mech == IMAP_SASL_ERROR_SENT) {
		imap_busy(s);
		conn_after(s->c, IMAP_FAIL_DELAY_MS, login_fail_reply, s);
		return;
	}
	if (mech == IMAP_SASL_PLAIN)
		auth_plain(s, line, len);
	else
		auth_bearer(s, mech, line, len);
}
