/* Authentication: checks a user name and password against the directory
 * and the per-protocol policy.  auth_check_password blocks (password
 * hashing takes tens of milliseconds): call it from a worker job
 * (conn_defer).  Whether the user exists or not, a failure looks the same
 * and takes about as long. */
#ifndef TERN_AUTH_H
#define TERN_AUTH_H

#include <stdbool.h>

#include "config/config.h"
#include "lib/limits.h"

struct directory;

/* AUTH_PROTO_WEB: the users' settings page (src/http/http_settings.c):
 * no per-protocol switch applies, admins may sign in, and any of the
 * user's app passwords is accepted whatever its protocols. */
enum auth_protocol { AUTH_PROTO_SMTP, AUTH_PROTO_POP3, AUTH_PROTO_IMAP, AUTH_PROTO_WEB };

enum auth_status {
	AUTH_OK,
	AUTH_FAILED,            /* unknown user or wrong password: one answer */
	AUTH_PROTOCOL_DISABLED, /* password right, protocol switched off for the user */
	AUTH_ADMIN_REFUSED,     /* admin mailboxes cannot be opened over POP3/IMAP */
	AUTH_ACCOUNT_DISABLED,  /* password right, account disabled */
	AUTH_TEMPFAIL,          /* directory unavailable */
	AUTH_BASIC_DISABLED,    /* [auth] basic = off: passwords are never accepted */
	AUTH_BLOCKED,           /* the client's address is blocked for failing too often */
};

struct auth_result {
	enum auth_status status;
	char user[ADDRESS_MAX + 1];   /* canonical address when the credentials were right */
	const char *reason;           /* short text for the log line */
	char app_password[33];        /* name of the app password that matched, or "" */
	unsigned delay_ms;            /* wait this long before a failure reply */
};

struct auth_request {
	enum auth_protocol proto;
	enum auth_basic basic;        /* [auth] basic */
	const char *peer;             /* client address (app passwords record it) */
	const char *username;
	const char *password;
};

/* Whether a password (or token) may be sent on a connection: always over
 * TLS, otherwise as [auth] allow_plaintext says (DESIGN.md promise 4). */
bool auth_plaintext_allowed(enum allow_plaintext policy, bool tls_active, bool peer_loopback);

/* A login as a session hands it to a worker: a password, or a bearer
 * token when token is not NULL. */
struct auth_login {
	enum auth_protocol proto;
	enum auth_basic basic;        /* [auth] basic (passwords only) */
	const char *peer;
	const char *username;         /* "" allowed for tokens */
	const char *password;         /* unused with a token */
	const char *token;            /* NULL: a password login */
	/* Not NULL: a proxy logs in for this user (SASL PLAIN's authzid);
	 * username and password are then the proxy's identity and secret
	 * (auth_proxy.c). */
	const char *proxy_for;
	/* With proxy_for: the client's address the proxy passed on (NULL if
	 * none); a block on it refuses the login as on the proxy. */
	const char *client_addr;
};
/* Checks login with this thread's directory handle (directory_for_thread):
 * auth_check_token or auth_check_password, or AUTH_TEMPFAIL when the
 * directory cannot be opened.  Blocking: call from a worker. */
void auth_check_login(const char *data_dir, const struct auth_login *login, struct auth_result *out);

/* Checks a user name and password for req->proto under req->basic: the
 * account password (unless app-passwords-only), then the user's app
 * passwords valid for the protocol.  Anonymous and guest never succeed.
 * With basic = off nothing is hashed and the answer is
 * AUTH_BASIC_DISABLED for everyone.  Fills *out; logs nothing (the caller
 * logs one line). */
void auth_check_password(struct directory *d, const struct auth_request *req, struct auth_result *out);

/* Proxies and back ends (auth_proxy.c, docs/SECURITY.md).  A proxy logs
 * in to a back end as AUTH_PROXY_IDENTITY with the shared secret and the
 * user as authorization identity. */
#define AUTH_PROXY_IDENTITY "tern-proxy"
#define AUTH_PROXY_SECRET_MIN 16
#define AUTH_PROXY_SECRET_MAX 256
/* At start, before privileges are dropped: reads [proxy] secret_file
 * (role proxy or backend) and keeps [backend] trusted_proxies.  0, or -1
 * with a message the caller frees. */
int auth_proxy_start(const struct tern_config *cfg, char **error_out);
/* The secret read by auth_proxy_start, or NULL (standalone). */
const char *auth_proxy_secret(void);
/* true on a back end when peer is in [backend] trusted_proxies: only then
 * are a proxied login and the client address it passes on believed. */
bool auth_proxy_trusted(const char *peer);
/* Reads a secret file: one line of AUTH_PROXY_SECRET_MIN..MAX printable
 * bytes (a final newline dropped) into out (size bytes).  0, or -1 with a
 * message the caller frees. */
int auth_proxy_read_secret(const char *path, char *out, size_t size, size_t *len_out, char **error_out);

/* OAuth 2.0 (OAUTHBEARER, XOAUTH2).  The server sets up one verifier from
 * [oauth] at start (auth_oauth_start); sessions ask auth_oauth_enabled()
 * before offering the mechanisms. */
struct oauth;
int auth_oauth_start(const struct tern_config *cfg, char **error_out);
void auth_oauth_stop(void);
bool auth_oauth_enabled(void);

struct auth_token_request {
	enum auth_protocol proto;
	const char *peer;             /* client address (penalties) */
	const char *username;         /* the user the client named ("" if none) */
	const char *token;            /* the bearer token */
};

/* Checks a bearer token (blocking: it may fetch keys; call from a worker).
 * The token's user claim names the mailbox; a user named by the client
 * must be the same.  Then the account's own switches apply as for
 * passwords.  out->reason says why a token was refused. */
void auth_check_token(struct directory *d, const struct auth_token_request *req, struct auth_result *out);

/* Brute force and spraying (src/auth/penalty.h): one penalty box for the
 * process, from [bruteforce], its state in data_dir/penalty.db.  Every
 * auth_check_* call refuses a blocked address (AUTH_BLOCKED, no hash
 * spent), records its outcome, and sets delay_ms for failures. */
int auth_penalty_start(const struct tern_config *cfg, char **error_out);
/* Where the brute-force state lives (penalty_config.state_path): the
 * directory's PostgreSQL dsn when the directory is there, so that every
 * server on it shares blocks; else data_dir/penalty.db.  0, or -1 when
 * out (size bytes) is too small. */
int auth_penalty_state(const struct tern_config *cfg, char *out, size_t size);
void auth_penalty_stop(void);
/* At connect (cheap, no I/O; any thread): true if addr is blocked. */
bool auth_source_blocked(const char *addr);

const char *auth_protocol_name(enum auth_protocol proto);

#endif
