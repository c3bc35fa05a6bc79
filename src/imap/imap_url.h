/* IMAP URLs (RFC 5092) as CATENATE (RFC 4469), URLAUTH (RFC 4467) and
 * BURL (RFC 4468) take them: a pure, bounded parser that never sees a
 * store, so the unit test and fuzz/fuzz_imap_url.c drive it directly.
 *
 *   imapurl     = "imap://" iserver ipath-query
 *   iserver     = [iuserinfo "@"] host [":" port]
 *   iuserinfo   = enc-user [";AUTH=" ("*" / enc-auth-type)]
 *   imessagepart = enc-mailbox [";UIDVALIDITY=" nz-number]
 *                  "/;UID=" nz-number ["/;SECTION=" enc-section]
 *                  ["/;PARTIAL=" number ["." nz-number]]
 *   iurlauth    = [";EXPIRE=" date-time] ";URLAUTH=" access
 *                 [":" mechanism ":" 32*HEXDIG]
 *   access      = ("submit+" / "user+") enc-user / "authuser" / "anonymous"
 *
 * Accepted: the absolute form above and the absolute path ("/INBOX/;UID=3",
 * RFC 5092 7.2), which names a mailbox of the session's own server.  Not
 * accepted: other relative forms and search URLs ("?"), which nothing here
 * needs.  Keys are case-insensitive; %-escapes are decoded (never to NUL);
 * the mailbox must decode to UTF-8.  Leniency, as Dovecot: an "@" in the
 * access identifier's user (imaptest writes "user+name@domain" unescaped),
 * and in the userinfo, which ends at the authority's last "@". */
#ifndef TERN_IMAP_URL_H
#define TERN_IMAP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

/* Our bound on one URL (RFC 5092 sets none): a mailbox name, a section
 * naming header fields and the verifier fit. */
#define IMAP_URL_MAX 8192

enum imap_url_access {
	IMAP_URL_ACCESS_NONE,          /* no ;URLAUTH= */
	IMAP_URL_ACCESS_SUBMIT,        /* submit+user: the submission server acting for user */
	IMAP_URL_ACCESS_USER,          /* user+user */
	IMAP_URL_ACCESS_AUTHUSER,      /* any logged-in user of this server */
	IMAP_URL_ACCESS_ANONYMOUS,     /* anyone (we never grant it: no anonymous logins) */
};

struct imap_url {
	bool absolute;                 /* "imap://" with a server; false: "/path" */
	const char *user;              /* enc-user decoded, NULL when absent */
	const char *auth_type;         /* ;AUTH= value, NULL when absent */
	const char *host;              /* as written (lower-cased), NULL when not absolute */
	uint16_t port;                 /* 0: none given */
	const char *mailbox;           /* UTF-8, NULL when the URL names only a server */
	uint32_t uidvalidity;          /* 0: not given */
	uint32_t uid;                  /* 0: not given (a mailbox URL) */
	const char *section;           /* decoded section-spec ("1.2.HEADER"), NULL */
	bool has_partial;
	uint32_t partial_start;
	uint32_t partial_len;          /* 0: to the end (no length given) */
	bool has_expire;
	int64_t expire;                /* unix time */
	enum imap_url_access access;
	const char *access_user;       /* submit+ / user+: decoded, else NULL */
	const char *mechanism;         /* the verifier's mechanism, NULL when none */
	const char *token;             /* its hex digits */
	size_t rump_len;               /* octets of the input the verifier covers: up to
	                                * the ":" before the mechanism (RFC 4467 2.3);
	                                * the whole URL when there is no verifier */
};

/* Parses the URL s (len octets, at most IMAP_URL_MAX) into out; strings
 * live in the arena a.  Returns 0, or -1 with a static reason in
 * *error_out. */
int imap_url_parse(const char *s, size_t len, struct arena *a, struct imap_url *out, const char **error_out);

/* Whether the URL names a mailbox of user (a canonical address): its
 * userinfo is user, or the local part of user with the URL's host as the
 * domain (imap://fred@example.com/ for fred@example.com).  A relative
 * URL always does.  Case-insensitive. */
bool imap_url_owner_is(const struct imap_url *u, const char *user);
/* The same rule for the user of a submit+ / user+ access identifier. */
bool imap_url_access_user_is(const struct imap_url *u, const char *user);

#endif
