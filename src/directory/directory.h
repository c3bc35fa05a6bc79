/* The directory: domains, users, aliases, app passwords.  Backed by
 * SQLite (data_dir/directory.db, WAL; the default) or by PostgreSQL
 * ([directory] backend = postgresql, dsn = ...).  A handle is one
 * database connection: use one handle per thread (directory_for_thread
 * gives each thread its own).
 * All functions return 0 on success or -1 with a static or handle-owned
 * message in *error_out, unless they say otherwise. */
#ifndef TERN_DIRECTORY_H
#define TERN_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"

struct directory;

enum user_role { ROLE_USER, ROLE_ADMIN };

/* A back end's name: 1..DIRECTORY_BACKEND_NAME_MAX of [a-z0-9._-],
 * starting with a letter or digit (upper case is folded). */
#define DIRECTORY_BACKEND_NAME_MAX 63
/* Its host: a DNS name or an IP address (IPv6 without brackets). */
#define DIRECTORY_BACKEND_HOST_MAX 253

struct dir_user {
	char address[ADDRESS_MAX + 1];          /* lower-case local@domain */
	char password_hash[PASSWORD_HASH_MAX + 1];
	enum user_role role;
	bool pop3;                               /* per-protocol switches */
	bool imap;
	bool submission;
	bool disabled;
	uint64_t quota_bytes;                    /* 0 = unlimited */
	int64_t created;                         /* unix time */
	bool reject_mail;                        /* refuse mail for it (even when not disabled) */
	char backend[DIRECTORY_BACKEND_NAME_MAX + 1]; /* its back end's name; "" = served here */
};

enum directory_backend { DIRECTORY_SQLITE, DIRECTORY_POSTGRESQL };

/* Chooses where directory_open goes: SQLite in data_dir (the default) or
 * PostgreSQL at dsn (a libpq URI, copied).  Call once at start-up, before
 * any thread opens the directory. */
void directory_configure(enum directory_backend backend, const char *dsn);
/* What directory_configure set; *dsn_out (may be NULL) gets the dsn. */
enum directory_backend directory_backend_configured(const char **dsn_out);

/* Opens (creating if needed, with the schema) the directory:
 * data_dir/directory.db, or the PostgreSQL database when configured. */
int directory_open(const char *data_dir, struct directory **dir_out, const char **error_out);
void directory_close(struct directory **dir);
/* The calling thread's own handle for data_dir, opened on first use and
 * kept until the thread ends.  NULL on error (logged). */
struct directory *directory_for_thread(const char *data_dir);

/* Addresses: normalised to lower case; the domain must exist for users. */
int directory_domain_add(struct directory *d, const char *domain, const char **error_out);
int directory_domain_del(struct directory *d, const char *domain, const char **error_out);
/* Calls fn for each domain in name order. */
int directory_domain_list(struct directory *d, void (*fn)(const char *domain, void *arg), void *arg,
                          const char **error_out);
/* 1 if local, 0 if not, -1 on error. */
int directory_domain_is_local(struct directory *d, const char *domain, const char **error_out);

/* password_hash: an already-hashed crypt(3) string (see auth/password.h). */
int directory_user_add(struct directory *d, const char *address, const char *password_hash,
                       enum user_role role, const char **error_out);
int directory_user_del(struct directory *d, const char *address, const char **error_out);
int directory_user_set_password(struct directory *d, const char *address, const char *password_hash,
                                const char **error_out);
/* Writes every field of u except created (matched by u->address).  A
 * backend that names no back end is refused. */
int directory_user_update(struct directory *d, const struct dir_user *u, const char **error_out);
/* 1 found (filled in), 0 no such user, -1 error. */
int directory_user_get(struct directory *d, const char *address, struct dir_user *u_out,
                       const char **error_out);
int directory_user_list(struct directory *d, const char *domain_or_null,
                        void (*fn)(const struct dir_user *u, void *arg), void *arg, const char **error_out);

/* ---- back ends (directory_backend.c, issue 11) ----
 * The servers that hold mailboxes behind a proxy.  A user's backend field
 * names one of them, or is "" (served by whatever server it logs in to). */
struct dir_backend {
	char name[DIRECTORY_BACKEND_NAME_MAX + 1];
	char host[DIRECTORY_BACKEND_HOST_MAX + 1];
	long long users;                          /* users on it (list only) */
};
/* true if name is a valid back-end name (see above; "none" is reserved:
 * tern user set --backend none means no back end). */
bool directory_backend_name_valid(const char *name);
int directory_backend_add(struct directory *d, const char *name, const char *host, const char **error_out);
/* Refused while users point at it. */
int directory_backend_del(struct directory *d, const char *name, const char **error_out);
/* 1 found (filled in, users not counted), 0 no such back end, -1 error. */
int directory_backend_get(struct directory *d, const char *name, struct dir_backend *b_out,
                          const char **error_out);
/* Calls fn for each back end in name order, with its user count. */
int directory_backend_list(struct directory *d, void (*fn)(const struct dir_backend *b, void *arg), void *arg,
                           const char **error_out);

/* An alias delivers mail for alias_address to target_address (a user or an
 * address elsewhere); several rows for one alias fan out. */
int directory_alias_add(struct directory *d, const char *alias_address, const char *target_address,
                        const char **error_out);
int directory_alias_del(struct directory *d, const char *alias_address, const char *target_or_null,
                        const char **error_out);
int directory_alias_list(struct directory *d,
                         void (*fn)(const char *alias, const char *target, void *arg), void *arg,
                         const char **error_out);

/* Calls fn for each alias that has target_address among its targets, in
 * name order. */
int directory_alias_targeting(struct directory *d, const char *target_address,
                              void (*fn)(const char *alias, void *arg), void *arg, const char **error_out);
/* 1 if target_address, an alias target, is dangling: in a local domain
 * but neither a user nor an alias (mail to the alias would bounce for it);
 * 0 if not, -1 on error. */
int directory_alias_target_dangling(struct directory *d, const char *target_address, const char **error_out);

enum rcpt_kind {
	RCPT_LOCAL,            /* delivered to local mailboxes (targets filled) */
	RCPT_UNKNOWN_USER,     /* local domain, no such user or alias: 550 5.1.1 */
	RCPT_REMOTE,           /* not a local domain */
};
#define DIRECTORY_ALIAS_TARGETS_MAX 64
struct rcpt_resolution {
	enum rcpt_kind kind;
	unsigned n_local;                                       /* RCPT_LOCAL */
	char local[DIRECTORY_ALIAS_TARGETS_MAX][ADDRESS_MAX + 1]; /* user addresses */
	unsigned n_remote;                                      /* alias targets elsewhere */
	char remote[DIRECTORY_ALIAS_TARGETS_MAX][ADDRESS_MAX + 1];
	/* With RCPT_UNKNOWN_USER: the address is a user who refuses mail
	 * (reject_mail), or an alias whose every target is one.  Answer
	 * 550 5.2.1 rather than 5.1.1.  (A field rather than a new rcpt_kind
	 * so that callers switching over the kinds keep compiling and refuse
	 * such mail as "unknown" until they look at it.) */
	bool rejected;
};
/* Resolves a recipient through aliases (one level of nesting is followed,
 * bounded) to local users and remote addresses.  "Postmaster" without a
 * domain is not handled here.  Users with reject_mail are left out of
 * alias expansions and the postmaster fallback; addressed directly they
 * give RCPT_UNKNOWN_USER with rejected set.  Disabled users still receive.
 * Returns 0 with *out filled, or -1. */
int directory_resolve_rcpt(struct directory *d, const char *address, struct rcpt_resolution *out,
                           const char **error_out);

/* 1 if the authenticated user may use sender as envelope sender (their own
 * address, or an alias whose targets include them), 0 if not, -1 error. */
int directory_sender_allowed(struct directory *d, const char *user, const char *sender,
                             const char **error_out);

/* ---- app passwords (directory_apppw.c) ----
 * Extra passwords for one user, each with a name and the protocols it may
 * be used on, so that a mail client can be given its own password and lose
 * it alone.  Generated by tern (directory_app_password_generate), stored
 * as crypt(3) hashes. */

#define DIR_PROTO_IMAP 1u
#define DIR_PROTO_POP3 2u
#define DIR_PROTO_SMTP 4u   /* submission (AUTH on 587/465) */
#define DIR_PROTO_ALL  (DIR_PROTO_IMAP | DIR_PROTO_POP3 | DIR_PROTO_SMTP)

/* A name: 1..DIRECTORY_APP_PASSWORD_NAME_MAX of [A-Za-z0-9._-], starting
 * with a letter or digit; unique per user without regard to case. */
#define DIRECTORY_APP_PASSWORD_NAME_MAX 32
/* At most this many per user, so that directory_app_password_check costs
 * at most this many hash verifications. */
#define DIRECTORY_APP_PASSWORDS_MAX 32
/* A generated password: 16 lower-case letters (26^16, about 75 bits),
 * shown as four groups of four separated by spaces. */
#define DIRECTORY_APP_PASSWORD_LEN 16
#define DIRECTORY_APP_PASSWORD_SHOWN_LEN (DIRECTORY_APP_PASSWORD_LEN + DIRECTORY_APP_PASSWORD_LEN / 4 - 1)
#define DIRECTORY_PEER_ADDR_MAX 45   /* INET6_ADDRSTRLEN - 1 */

struct dir_app_password {
	char name[DIRECTORY_APP_PASSWORD_NAME_MAX + 1];
	char hash[PASSWORD_HASH_MAX + 1];
	unsigned protocols;                       /* DIR_PROTO_* bits */
	int64_t created;                          /* unix time */
	int64_t last_used;                        /* unix time, 0 = never */
	char last_addr[DIRECTORY_PEER_ADDR_MAX + 1]; /* client address of the last use, "" = never */
};

/* true if name is a valid app password name (see above). */
bool directory_app_password_name_valid(const char *name);
/* Generates a new app password in its shown form "abcd efgh ijkl mnop"
 * into out (at least DIRECTORY_APP_PASSWORD_SHOWN_LEN + 1 bytes).  Hash
 * what directory_app_password_normalise makes of it.  0, or -1 when the
 * system has no randomness to give or out is too small. */
int directory_app_password_generate(char *out, size_t outsize);
/* The form that is hashed: spaces dropped and letters lower-cased, so
 * that "abcd efgh ijkl mnop", "abcdefghijklmnop" and "ABCDEFGH IJKLMNOP" are
 * one password (only spaces and case are forgiven).  Writes
 * DIRECTORY_APP_PASSWORD_LEN letters and a NUL into out (outsize bytes)
 * and returns 0; returns -1 when in cannot be an app password (then no
 * hash needs to be tried). */
int directory_app_password_normalise(const char *in, char *out, size_t outsize);

/* Adds an app password to a user.  hash: crypt(3) form, of the normalised
 * password; protocols: a non-zero set of DIR_PROTO_* bits.  Fails when
 * the user does not exist, the name is invalid or taken, or the user has
 * DIRECTORY_APP_PASSWORDS_MAX already. */
int directory_app_password_add(struct directory *d, const char *address, const char *name, const char *hash,
                               unsigned protocols, const char **error_out);
/* Generates an app password, hashes it and adds it (as
 * directory_app_password_add) in one step: the one way the CLI and the
 * settings page make them.  The password, in its shown form, goes to
 * shown_out (at least DIRECTORY_APP_PASSWORD_SHOWN_LEN + 1 bytes; wiped on
 * failure): it is never stored, so the caller shows it once and wipes it.
 * Blocking (one hash): call from a worker on a server. */
int directory_app_password_create(struct directory *d, const char *address, const char *name, unsigned protocols,
                                  char *shown_out, size_t shown_size, const char **error_out);
/* Calls fn for each app password of the user, oldest first (the struct is
 * valid during the call only).  Fails when the user does not exist. */
int directory_app_password_list(struct directory *d, const char *address,
                                void (*fn)(const struct dir_app_password *p, void *arg), void *arg,
                                const char **error_out);
/* Number of app passwords of a user (0 for no such user), or -1. */
int directory_app_password_count(struct directory *d, const char *address, const char **error_out);
/* Deletes the user's app password called name (any case).  Fails when
 * there is no such user or name. */
int directory_app_password_revoke(struct directory *d, const char *address, const char *name,
                                  const char **error_out);
/* Checks password against the user's app passwords valid for any of
 * protocol_bits (one DIR_PROTO_* bit for a protocol's login; DIR_PROTO_ALL
 * for the settings page, where any of the user's app passwords proves
 * who they are).  A password that cannot be an app password
 * (directory_app_password_normalise) is refused without hashing; else
 * this costs one verification per app password of the user valid for the
 * protocol (at most DIRECTORY_APP_PASSWORDS_MAX).  On a match, records the
 * time and peer_addr (NULL or not an IP address: recorded as "") as the
 * last use -- a failure to record is logged, not returned -- and copies
 * the name into name_out (name_size bytes, may be 0).  Does not look at
 * the user's own switches (disabled, imap/pop3/submission): the caller
 * does.  Returns 1 on a match, 0 on none (also for an unknown user or an
 * invalid address), -1 on error. */
int directory_app_password_check(struct directory *d, const char *address, const char *password,
                                 unsigned protocol_bits, const char *peer_addr, char *name_out, size_t name_size,
                                 const char **error_out);

#endif
