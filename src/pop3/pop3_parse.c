/* The POP3 command parser: keyword lookup and argument checks (RFC 1939
 * section 3, RFC 2449, RFC 5034).  Pure: no I/O, no allocation. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pop3/pop3_parse.h"

static const char *const verb_names[POP3_VERB_COUNT] = {
	[POP3_VERB_UNKNOWN] = "?",
	[POP3_VERB_USER] = "USER",
	[POP3_VERB_PASS] = "PASS",
	[POP3_VERB_AUTH] = "AUTH",
	[POP3_VERB_CAPA] = "CAPA",
	[POP3_VERB_STLS] = "STLS",
	[POP3_VERB_STAT] = "STAT",
	[POP3_VERB_LIST] = "LIST",
	[POP3_VERB_RETR] = "RETR",
	[POP3_VERB_TOP] = "TOP",
	[POP3_VERB_UIDL] = "UIDL",
	[POP3_VERB_DELE] = "DELE",
	[POP3_VERB_RSET] = "RSET",
	[POP3_VERB_NOOP] = "NOOP",
	[POP3_VERB_QUIT] = "QUIT",
	[POP3_VERB_XCLIENT] = "XCLIENT",
};

const char *
pop3_verb_name(enum pop3_verb verb)
{
	if ((unsigned)verb >= POP3_VERB_COUNT)
		return "?";
	return verb_names[verb];
}

int
pop3_parse_command(const char *line, size_t len, struct pop3_command *cmd_out, const char **error_out)
{
	size_t klen = 0;

	cmd_out->verb = POP3_VERB_UNKNOWN;
	cmd_out->args = "";
	cmd_out->args_len = 0;
	if (memchr(line, '\0', len) != NULL) {
		*error_out = "Invalid NUL byte in command";
		return -1;
	}
	while (klen < len && line[klen] != ' ')
		klen++;
	/* Keywords are 3 or 4 characters (RFC 1939 section 3); XCLIENT, an
	 * extension between proxy and back end, is the one longer name. */
	if (klen < 3 || klen > 7) {
		*error_out = "Unknown command";
		return -1;
	}
	for (int v = POP3_VERB_UNKNOWN + 1; v < POP3_VERB_COUNT; v++) {
		if (strlen(verb_names[v]) == klen && strncasecmp(line, verb_names[v], klen) == 0) {
			cmd_out->verb = (enum pop3_verb)v;
			break;
		}
	}
	if (cmd_out->verb == POP3_VERB_UNKNOWN) {
		*error_out = "Unknown command";
		return -1;
	}
	if (klen < len) {
		/* line[klen] is the separating space. */
		cmd_out->args = line + klen + 1;
		cmd_out->args_len = len - klen - 1;
	}
	return 0;
}

size_t
pop3_split_args(const char *args, size_t len, struct pop3_token *tokens, size_t max)
{
	size_t i = 0, n = 0;

	for (;;) {
		size_t start;

		while (i < len && args[i] == ' ')
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && args[i] != ' ')
			i++;
		if (n < max) {
			tokens[n].p = args + start;
			tokens[n].len = i - start;
		}
		n++;
	}
	return n;
}

static int
parse_digits(const struct pop3_token *t, size_t max_digits, uint64_t *out)
{
	uint64_t v = 0;

	if (t->len == 0 || t->len > max_digits)
		return -1;
	for (size_t i = 0; i < t->len; i++) {
		unsigned d;

		if (t->p[i] < '0' || t->p[i] > '9')
			return -1;
		d = (unsigned)(t->p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
pop3_parse_msgnum(const struct pop3_token *t, uint32_t *num_out)
{
	uint64_t v;

	if (parse_digits(t, 10, &v) == -1 || v == 0 || v > UINT32_MAX)
		return -1;
	*num_out = (uint32_t)v;
	return 0;
}

int
pop3_parse_count(const struct pop3_token *t, uint64_t *count_out)
{
	return parse_digits(t, 20, count_out);
}

int
pop3_args_none(const struct pop3_command *cmd, const char **error_out)
{
	if (pop3_split_args(cmd->args, cmd->args_len, NULL, 0) != 0) {
		*error_out = "Too many arguments";
		return -1;
	}
	return 0;
}

int
pop3_args_msgnum_opt(const struct pop3_command *cmd, bool *given_out, uint32_t *num_out,
                     const char **error_out)
{
	struct pop3_token t[2];
	size_t n = pop3_split_args(cmd->args, cmd->args_len, t, 2);

	*given_out = false;
	if (n == 0)
		return 0;
	if (n > 1) {
		*error_out = "Too many arguments";
		return -1;
	}
	if (pop3_parse_msgnum(&t[0], num_out) == -1) {
		*error_out = "Invalid message number";
		return -1;
	}
	*given_out = true;
	return 0;
}

int
pop3_args_msgnum(const struct pop3_command *cmd, uint32_t *num_out, const char **error_out)
{
	struct pop3_token t[2];
	size_t n = pop3_split_args(cmd->args, cmd->args_len, t, 2);

	if (n == 0) {
		*error_out = "Missing message number";
		return -1;
	}
	if (n > 1) {
		*error_out = "Too many arguments";
		return -1;
	}
	if (pop3_parse_msgnum(&t[0], num_out) == -1) {
		*error_out = "Invalid message number";
		return -1;
	}
	return 0;
}

int
pop3_args_top(const struct pop3_command *cmd, uint32_t *num_out, uint64_t *lines_out, const char **error_out)
{
	struct pop3_token t[3];
	size_t n = pop3_split_args(cmd->args, cmd->args_len, t, 3);

	if (n < 2) {
		*error_out = "TOP needs a message number and a line count";
		return -1;
	}
	if (n > 2) {
		*error_out = "Too many arguments";
		return -1;
	}
	if (pop3_parse_msgnum(&t[0], num_out) == -1) {
		*error_out = "Invalid message number";
		return -1;
	}
	if (pop3_parse_count(&t[1], lines_out) == -1) {
		*error_out = "Invalid line count";
		return -1;
	}
	return 0;
}

static bool
sasl_mech_char(char ch)
{
	/* RFC 4422 section 3.1: upper-case letters, digits, "-" and "_"
	 * (we also take lower case: the keyword is case-insensitive). */
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '_';
}

int
pop3_args_auth(const struct pop3_command *cmd, char *mech_out, const char **initial_out,
               size_t *initial_len_out, const char **error_out)
{
	struct pop3_token t[3];
	size_t n = pop3_split_args(cmd->args, cmd->args_len, t, 3);

	mech_out[0] = '\0';
	*initial_out = NULL;
	*initial_len_out = 0;
	if (n == 0)
		return 0;
	if (n > 2) {
		*error_out = "Too many arguments";
		return -1;
	}
	if (t[0].len > POP3_SASL_MECH_MAX) {
		*error_out = "Invalid authentication mechanism";
		return -1;
	}
	for (size_t i = 0; i < t[0].len; i++) {
		char ch = t[0].p[i];

		if (!sasl_mech_char(ch)) {
			*error_out = "Invalid authentication mechanism";
			return -1;
		}
		mech_out[i] = (ch >= 'a' && ch <= 'z') ? (char)(ch - 'a' + 'A') : ch;
	}
	mech_out[t[0].len] = '\0';
	if (n == 2) {
		if (t[1].len == 1 && t[1].p[0] == '=') {
			/* RFC 5034 section 4: "=" is a zero-length initial response. */
			*initial_out = "";
			*initial_len_out = 0;
		} else {
			*initial_out = t[1].p;
			*initial_len_out = t[1].len;
		}
	}
	return 0;
}

char *
pop3_log_safe(const char *s, size_t len, char *out, size_t outsize)
{
	size_t o = 0;

	if (outsize == 0)
		return out;
	for (size_t i = 0; i < len && o + 1 < outsize; i++) {
		unsigned char ch = (unsigned char)s[i];

		out[o++] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? (char)ch : '?';
	}
	out[o] = '\0';
	return out;
}

void
pop3_uidl_format(uint32_t uidvalidity, uint32_t uid, char *out)
{
	snprintf(out, POP3_UIDL_SIZE, "%08x%08x", (unsigned)uidvalidity, (unsigned)uid);
}
