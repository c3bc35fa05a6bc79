/* The SMTP command-line parser (RFC 5321 4.1, with ESMTP parameters from
 * RFC 1870, 6152, 6531, 4954, 3030 and 3461).  Pure functions: no socket, no
 * allocation; every output lives in a caller-provided struct or points
 * into the caller's line.  Used by the session and by
 * fuzz/fuzz_smtp_parse.c.
 *
 * Lines come from conn_read_line() (CRLF already removed, bounded by
 * SMTP_CMD_LINE_MAX); every parser here also checks its own bounds. */
#ifndef TERN_SMTP_PARSE_H
#define TERN_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"

enum smtp_verb {
	SMTP_VERB_UNKNOWN,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_BDAT,
	SMTP_VERB_BURL,        /* RFC 4468, submission */
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_QUIT,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_XCLIENT,     /* a trusted proxy's client address (Postfix's XCLIENT; issue 11) */
	SMTP_VERB_HTTP,        /* GET, POST, CONNECT...: a web client or a
	                          cross-protocol attack; the session hangs up */
	SMTP_VERB_COUNT
};

/* Why a line or argument was refused; the session turns it into a reply. */
enum smtp_parse_error {
	SMTP_PARSE_OK,
	SMTP_PARSE_NUL,          /* NUL or CR inside a command line: 500 5.5.2 */
	SMTP_PARSE_SYNTAX,       /* 501 5.5.4 */
	SMTP_PARSE_BAD_PATH,     /* address syntax: 501 5.1.7 (MAIL) / 5.1.3 (RCPT) */
	SMTP_PARSE_PATH_TOO_LONG,/* RFC 5321 4.5.3.1: 501 */
	SMTP_PARSE_BAD_PARAM,    /* a known parameter with a bad value: 501 5.5.4 */
	SMTP_PARSE_UNKNOWN_PARAM,/* RFC 5321 4.1.1.11: 555 5.5.4 */
	SMTP_PARSE_NON_ASCII,    /* UTF-8 address without SMTPUTF8: RFC 6531 3.5, 553 5.6.7 */
};

/* One command line split into verb and arguments. */
struct smtp_command {
	enum smtp_verb verb;
	const char *name;       /* the verb as sent (not NUL-terminated: name_len) */
	size_t name_len;
	const char *args;       /* after the separating space, trailing blanks cut;
	                           "" if none.  Points into the line. */
	size_t args_len;
};

/* Splits line (len bytes, no CRLF) into *out.  Trailing spaces and tabs
 * are cut from the line in place (the line must be writable).  Returns
 * SMTP_PARSE_OK, or SMTP_PARSE_NUL for a line holding NUL or CR (they have
 * no place in a command). */
enum smtp_parse_error smtp_parse_command(char *line, size_t len, struct smtp_command *out);

/* A reverse-path or forward-path, normalised. */
struct smtp_path {
	/* "local@domain" with the source route dropped, a quoted local part
	 * unquoted when its content is a plain dot-string; "" for the null
	 * path <> and for a bare <postmaster>. */
	char addr[SMTP_ADDR_MAX + 1];
	size_t local_len;       /* bytes of addr before the '@' */
	bool null_path;         /* <> */
	bool postmaster;        /* <Postmaster> with no domain (RCPT only) */
	bool utf8;              /* addr holds non-ASCII (UTF-8) bytes */
};

enum smtp_body_type { SMTP_BODY_UNSPEC, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME };

/* DSN (RFC 3461) */
enum smtp_dsn_ret { SMTP_RET_UNSPEC, SMTP_RET_FULL, SMTP_RET_HDRS };
#define SMTP_ENVID_MAX 100        /* RFC 3461 4.4 */
#define SMTP_ORCPT_MAX 500        /* RFC 3461 4.2 */
enum {
	SMTP_NOTIFY_NEVER = 1,
	SMTP_NOTIFY_SUCCESS = 2,
	SMTP_NOTIFY_FAILURE = 4,
	SMTP_NOTIFY_DELAY = 8,
};

struct smtp_mail_args {
	struct smtp_path path;
	bool size_given;
	uint64_t size;                  /* SIZE=, RFC 1870 */
	enum smtp_body_type body;       /* BODY=, RFC 6152 */
	bool smtputf8;                  /* SMTPUTF8, RFC 6531 */
	bool auth_given;                /* AUTH=, RFC 4954 5 (accepted, ignored) */
	enum smtp_dsn_ret ret;          /* RET=, RFC 3461 4.3 */
	char envid[SMTP_ENVID_MAX + 1]; /* ENVID=, xtext as given; "" if none */
	bool any_param;                 /* at least one parameter was given */
};

/* "FROM:<reverse-path> [params]" (the text after "MAIL ").  Also accepts
 * spaces after the colon and a path without angle brackets, as Postfix
 * does.  Returns SMTP_PARSE_OK and fills *out, or an error (with a short
 * static text in *error_out). */
enum smtp_parse_error smtp_parse_mail(const char *args, struct smtp_mail_args *out, const char **error_out);

struct smtp_rcpt_args {
	struct smtp_path path;
	unsigned notify;                /* SMTP_NOTIFY_* bits; 0: not given */
	char orcpt[SMTP_ORCPT_MAX + 1]; /* ORCPT= "addr-type;xtext" as given; "" if none */
};

/* "TO:<forward-path> [params]".  utf8_ok: the transaction's MAIL had
 * SMTPUTF8, so a UTF-8 address is allowed.  The parameters are DSN's
 * NOTIFY and ORCPT (RFC 3461 4.1, 4.2); any other is
 * SMTP_PARSE_UNKNOWN_PARAM. */
enum smtp_parse_error smtp_parse_rcpt(const char *args, bool utf8_ok, struct smtp_rcpt_args *out,
                                      const char **error_out);

/* "chunk-size [LAST]" (RFC 3030 2).  Returns SMTP_PARSE_OK or
 * SMTP_PARSE_SYNTAX (then the session cannot know how many bytes follow). */
enum smtp_parse_error smtp_parse_bdat(const char *args, uint64_t *size_out, bool *last_out);

/* The EHLO/HELO argument: one word of printable ASCII (a domain or an
 * address literal; names are not checked further, as Postfix does not by
 * default), at most DOMAIN_MAX + 2 bytes.  Returns SMTP_PARSE_OK or
 * SMTP_PARSE_SYNTAX. */
enum smtp_parse_error smtp_parse_helo(const char *args);

/* "mechanism [initial-response]" (RFC 4954 4).  The mechanism
 * (*mech_out, *mech_len_out bytes, not NUL-terminated) and the initial
 * response (*initial_out, NUL-terminated) point into args; *initial_out
 * is NULL when no initial response was given. */
enum smtp_parse_error smtp_parse_auth(const char *args, const char **mech_out, size_t *mech_len_out,
                                      const char **initial_out);

/* prefix, then addr as xtext (RFC 3461 4: '+', '=' and bytes outside
 * 0x21-0x7e as "+XX"), into out; cut at size (NUL-terminated). */
void smtp_xtext_encode(const char *prefix, const char *addr, char *out, size_t size);

/* true if s (len bytes) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF). */
bool smtp_utf8_valid(const unsigned char *s, size_t len);

#endif
