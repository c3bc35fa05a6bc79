/* The directory: domains, users, aliases.  Backed by SQLite
 * (data_dir/directory.db, WAL).  A handle is one SQLite connection: use one
 * handle per thread (directory_for_thread gives each thread its own).
 * All functions return 0 on success or -1 with a static or handle-owned
 * message in *error_out, unless they say otherwise. */
#ifndef TERN_DIRECTORY_H
#define TERN_DIRECTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/limits.h"

struct directory;

enum user_role { ROLE_USER, ROLE_ADMIN };

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
};

/* Opens (creating if needed, with the schema) data_dir/directory.db. */
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
/* Writes every field of u except created (matched by u->address). */
int directory_user_update(struct directory *d, const struct dir_user *u, const char **error_out);
/* 1 found (filled in), 0 no such user, -1 error. */
int directory_user_get(struct directory *d, const char *address, struct dir_user *u_out,
                       const char **error_out);
int directory_user_list(struct directory *d, const char *domain_or_null,
                        void (*fn)(const struct dir_user *u, void *arg), void *arg, const char **error_out);

/* An alias delivers mail for alias_address to target_address (a user or an
 * address elsewhere); several rows for one alias fan out. */
int directory_alias_add(struct directory *d, const char *alias_address, const char *target_address,
                        const char **error_out);
int directory_alias_del(struct directory *d, const char *alias_address, const char *target_or_null,
                        const char **error_out);
int directory_alias_list(struct directory *d,
                         void (*fn)(const char *alias, const char *target, void *arg), void *arg,
                         const char **error_out);

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
};
/* Resolves a recipient through aliases (one level of nesting is followed,
 * bounded) to local users and remote addresses.  "Postmaster" without a
 * domain is not handled here.  Returns 0 with *out filled, or -1. */
int directory_resolve_rcpt(struct directory *d, const char *address, struct rcpt_resolution *out,
                           const char **error_out);

/* 1 if the authenticated user may use sender as envelope sender (their own
 * address, or an alias whose targets include them), 0 if not, -1 error. */
int directory_sender_allowed(struct directory *d, const char *user, const char *sender,
                             const char **error_out);

#endif
