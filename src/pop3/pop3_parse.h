/* The POP3 command parser: pure functions over one command line (no
 * socket, no session), so that unit tests and fuzz/fuzz_pop3_parse.c can
 * drive it.  The session cuts lines with conn_read_line() (bounded by
 * POP3_CMD_LINE_MAX, or POP3_AUTH_LINE_MAX for an AUTH continuation) and
 * hands each line here.
 *
 * Grammar (RFC 1939 section 3, RFC 2449 section 3): a keyword of 3 or 4
 * letters, case-insensitive, then arguments separated by a space.  Every
 * error text below is a reply text to put after "-ERR ". */
#ifndef TERN_POP3_PARSE_H
#define TERN_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pop3_verb {
	POP3_VERB_UNKNOWN = 0,
	POP3_VERB_USER,
	POP3_VERB_PASS,
	POP3_VERB_AUTH,
	POP3_VERB_CAPA,
	POP3_VERB_STLS,
	POP3_VERB_STAT,
	POP3_VERB_LIST,
	POP3_VERB_RETR,
	POP3_VERB_TOP,
	POP3_VERB_UIDL,
	POP3_VERB_DELE,
	POP3_VERB_RSET,
	POP3_VERB_NOOP,
	POP3_VERB_QUIT,
	POP3_VERB_XCLIENT,     /* a trusted proxy's client address (issue 11, as Dovecot's) */
	POP3_VERB_COUNT
};

/* RFC 4422 section 3.1: a SASL mechanism name is 1 to 20 characters. */
#define POP3_SASL_MECH_MAX 20

struct pop3_command {
	enum pop3_verb verb;
	/* The text after the keyword and its one separating space: "" when
	 * there is none.  Points into the line given to pop3_parse_command,
	 * so it lives as long as that line.  Not trimmed: PASS takes it whole
	 * (a password may contain and end with spaces, RFC 1939 section 7). */
	const char *args;
	size_t args_len;
};

/* Splits one command line (len bytes, line end already removed; it may
 * contain NUL bytes, which are refused).  Returns 0 with *cmd_out filled,
 * or -1 with a static reply text in *error_out: "Unknown command" for an
 * empty line or a keyword we do not know, or a NUL byte message. */
int pop3_parse_command(const char *line, size_t len, struct pop3_command *cmd_out, const char **error_out);

/* The upper-case name of a verb ("RETR"), "?" for POP3_VERB_UNKNOWN. */
const char *pop3_verb_name(enum pop3_verb verb);

/* One space-separated argument: points into the args text. */
struct pop3_token {
	const char *p;
	size_t len;
};

/* Splits args into at most max tokens (runs of spaces separate; leading
 * and trailing spaces are ignored).  Returns the number of tokens found,
 * which may exceed max (the extra ones are not stored). */
size_t pop3_split_args(const char *args, size_t len, struct pop3_token *tokens, size_t max);

/* A message number: 1 to 10 digits, value 1..UINT32_MAX (the session
 * checks it against the maildrop).  Returns 0 or -1. */
int pop3_parse_msgnum(const struct pop3_token *t, uint32_t *num_out);

/* A non-negative line count (TOP's second argument): 1 to 20 digits that
 * fit in a uint64_t.  Returns 0 or -1. */
int pop3_parse_count(const struct pop3_token *t, uint64_t *count_out);

/* Argument checks per command.  Each returns 0, or -1 with a static reply
 * text in *error_out. */
/* STAT, RSET, NOOP, QUIT, CAPA, STLS: no argument. */
int pop3_args_none(const struct pop3_command *cmd, const char **error_out);
/* LIST, UIDL: an optional message number (*given_out says whether). */
int pop3_args_msgnum_opt(const struct pop3_command *cmd, bool *given_out, uint32_t *num_out,
                         const char **error_out);
/* RETR, DELE: one message number. */
int pop3_args_msgnum(const struct pop3_command *cmd, uint32_t *num_out, const char **error_out);
/* TOP msg n. */
int pop3_args_top(const struct pop3_command *cmd, uint32_t *num_out, uint64_t *lines_out, const char **error_out);
/* AUTH [mechanism [initial-response]] (RFC 5034 section 4).  With no
 * argument *mech_out is set to "" (list the mechanisms).  The outputs are
 * copied into mech_out (POP3_SASL_MECH_MAX + 1 bytes, upper-cased) and
 * point into the command line for *initial_out (NULL when absent, with
 * *initial_len_out 0).  The initial response "=" stands for an empty one
 * and is returned as "" with length 0. */
int pop3_args_auth(const struct pop3_command *cmd, char *mech_out, const char **initial_out,
                   size_t *initial_len_out, const char **error_out);

/* The UIDL of a message (RFC 1939 section 7): 16 lower-case hex digits,
 * UIDVALIDITY then UID ("%08x%08x").  IMAP's UIDs and UIDVALIDITY never
 * change for a message, so the UIDL survives restarts and names the same
 * message as IMAP does.  out must hold POP3_UIDL_SIZE bytes. */
#define POP3_UIDL_SIZE 17
void pop3_uidl_format(uint32_t uidvalidity, uint32_t uid, char *out);

/* Copies s into out (size outsize, NUL-terminated, truncated) for a log
 * line: printable ASCII stays, anything else (controls, quotes,
 * backslashes, bytes >= 0x80) becomes '?', so a user name cannot forge log
 * lines.  Returns out. */
char *pop3_log_safe(const char *s, size_t len, char *out, size_t outsize);

#endif
