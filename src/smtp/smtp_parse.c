/* The SMTP command-line parser: verbs, paths, ESMTP parameters.
 * Grammar from RFC 5321 4.1.2, extended for UTF-8 by RFC 6531 3.3. */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "smtp/smtp_parse.h"

#define SMTP_PARAMS_MAX 16      /* parameters on one MAIL/RCPT line */
#define SMTP_SIZE_DIGITS_MAX 20 /* RFC 1870: size-value ::= 1*20DIGIT */
#define SMTP_BDAT_DIGITS_MAX 20 /* fits a uint64_t only after an overflow check */
#define SMTP_AUTH_MECH_MAX 20   /* RFC 4422 3.1: 1*20 characters */

static const struct {
	const char *name;
	enum smtp_verb verb;
} smtp_verbs[] = {
	{ "HELO", SMTP_VERB_HELO },
	{ "EHLO", SMTP_VERB_EHLO },
	{ "MAIL", SMTP_VERB_MAIL },
	{ "RCPT", SMTP_VERB_RCPT },
	{ "DATA", SMTP_VERB_DATA },
	{ "BDAT", SMTP_VERB_BDAT },
	{ "BURL", SMTP_VERB_BURL },
	{ "RSET", SMTP_VERB_RSET },
	{ "NOOP", SMTP_VERB_NOOP },
	{ "QUIT", SMTP_VERB_QUIT },
	{ "VRFY", SMTP_VERB_VRFY },
	{ "EXPN", SMTP_VERB_EXPN },
	{ "HELP", SMTP_VERB_HELP },
	{ "STARTTLS", SMTP_VERB_STARTTLS },
	{ "AUTH", SMTP_VERB_AUTH },
	{ "XCLIENT", SMTP_VERB_XCLIENT },
	/* Postfix's smtpd_forbidden_commands: a browser or a proxy
	 * request sent to the SMTP port. */
	{ "GET", SMTP_VERB_HTTP },
	{ "POST", SMTP_VERB_HTTP },
	{ "HEAD", SMTP_VERB_HTTP },
	{ "PUT", SMTP_VERB_HTTP },
	{ "CONNECT", SMTP_VERB_HTTP },
	{ "OPTIONS", SMTP_VERB_HTTP },
};

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alnum(unsigned char c)
{
	return is_alpha(c) || is_digit(c);
}

/* atext (RFC 5322 3.2.3), plus UTF8-non-ascii (RFC 6531 3.3). */
static bool
is_atext(unsigned char c)
{
	if (is_alnum(c) || c >= 0x80)
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool
ascii_ieq(const char *a, size_t alen, const char *b)
{
	size_t i;

	if (alen != strlen(b))
		return false;
	for (i = 0; i < alen; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'a' && x <= 'z')
			x = (unsigned char)(x - 'a' + 'A');
		if (y >= 'a' && y <= 'z')
			y = (unsigned char)(y - 'a' + 'A');
		if (x != y)
			return false;
	}
	return true;
}

bool
smtp_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;   /* continuation byte, 0xc0/0xc1, or > 0xf4 */
		}
		if (len - i - 1 < n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

enum smtp_parse_error
smtp_parse_command(char *line, size_t len, struct smtp_command *out)
{
	size_t i, vlen;

	memset(out, 0, sizeof(*out));
	out->args = "";
	for (i = 0; i < len; i++) {
		if (line[i] == '\0' || line[i] == '\r')
			return SMTP_PARSE_NUL;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	line[len] = '\0';

	for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
		;
	out->name = line;
	out->name_len = vlen;
	out->verb = SMTP_VERB_UNKNOWN;
	for (i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++) {
		if (ascii_ieq(line, vlen, smtp_verbs[i].name)) {
			out->verb = smtp_verbs[i].verb;
			break;
		}
	}
	i = vlen;
	while (i < len && line[i] == ' ')
		i++;
	out->args = line + i;
	out->args_len = len - i;
	return SMTP_PARSE_OK;
}

/* Domain = sub-domain *("." sub-domain); sub-domain = Let-dig [Ldh-str].
 * U-labels (bytes >= 0x80) are let through (RFC 6531 3.3); so is '_',
 * which real host names carry.  Returns the length parsed, 0 if none. */
static size_t
scan_domain(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	for (;;) {
		size_t start = i;

		while (is_alnum(p[i]) || p[i] == '-' || p[i] == '_' || p[i] >= 0x80)
			i++;
		if (i == start || p[start] == '-' || p[i - 1] == '-')
			return 0;
		if (p[i] != '.' || !(is_alnum(p[i + 1]) || p[i + 1] == '_' || p[i + 1] >= 0x80))
			return i;
		i++;
	}
}

/* address-literal = "[" ( IPv4 / "IPv6:" IPv6 / tag ":" 1*dcontent ) "]"
 * Returns the length parsed including brackets, 0 if malformed. */
static size_t
scan_address_literal(const char *s)
{
	char tmp[DOMAIN_MAX + 1];
	unsigned char addr[16];
	const char *colon;
	size_t i, n;

	if (s[0] != '[')
		return 0;
	for (i = 1; s[i] != ']'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\')
			return 0;
	}
	n = i - 1;
	if (n == 0 || n > DOMAIN_MAX)
		return 0;
	memcpy(tmp, s + 1, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, addr) == 1)
		return i + 1;
	colon = strchr(tmp, ':');
	if (colon == NULL)
		return 0;
	if (ascii_ieq(tmp, (size_t)(colon - tmp), "IPv6"))
		return inet_pton(AF_INET6, colon + 1, addr) == 1 ? i + 1 : 0;
	/* General-address-literal: Standardized-tag ":" 1*dcontent */
	if (colon == tmp || colon[1] == '\0')
		return 0;
	for (const char *t = tmp; t < colon; t++) {
		if (!is_alnum((unsigned char)*t) && *t != '-')
			return 0;
	}
	return i + 1;
}

/* A dot-string local part.  Lenient about empty atoms ("a..b", "a.")
 * as Postfix is: they only fail to match a user later. */
static size_t
scan_dot_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (is_atext(p[i]) || p[i] == '.')
		i++;
	return i;
}

/* true if s (n bytes) is a strict Dot-string, so that the quotes around
 * it can go (RFC 5321 4.1.2: the two forms are the same mailbox). */
static bool
is_strict_dot_string(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE.  Returns the length
 * parsed including quotes (0 if malformed); the unescaped content goes to
 * out (outsize bytes, length in *outlen; too long: 0 returned). */
static size_t
scan_quoted(const char *s, char *out, size_t outsize, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 1, o = 0;

	if (p[0] != '"')
		return 0;
	for (;;) {
		unsigned char c = p[i];

		if (c == '"')
			break;
		if (c == '\\') {
			c = p[i + 1];
			if (c < 32 || c > 126)
				return 0;
			i += 2;
		} else if ((c >= 32 && c <= 126) || c >= 0x80) {
			i++;
		} else {
			return 0;   /* controls and the end of the line */
		}
		if (o + 1 >= outsize)
			return 0;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*outlen = o;
	return i + 1;
}

/* Parses a path at *sp (after "FROM:"/"TO:" and optional spaces) and
 * advances *sp past it. */
static enum smtp_parse_error
parse_path(const char **sp, bool allow_null, struct smtp_path *out, const char **error_out)
{
	const char *s = *sp;
	char local[SMTP_ADDR_MAX + 1];
	size_t local_len, n, dlen;
	const char *domain;
	bool bracketed = false, quoted = false;

	memset(out, 0, sizeof(*out));
	if (*s == '<') {
		bracketed = true;
		s++;
		if (*s == '>') {
			if (!allow_null) {
				*error_out = "Null path not allowed here";
				return SMTP_PARSE_BAD_PATH;
			}
			out->null_path = true;
			*sp = s + 1;
			return SMTP_PARSE_OK;
		}
		/* A-d-l: source route "@a,@b:" -- accepted and ignored
		 * (RFC 5321 4.1.2 and appendix C). */
		if (*s == '@') {
			for (;;) {
				s++;
				n = scan_domain(s);
				if (n == 0) {
					*error_out = "Bad source route";
					return SMTP_PARSE_BAD_PATH;
				}
				s += n;
				if (*s == ':') {
					s++;
					break;
				}
				if (s[0] != ',' || s[1] != '@') {
					*error_out = "Bad source route";
					return SMTP_PARSE_BAD_PATH;
				}
				s++;
			}
		}
	}

	if (*s == '"') {
		n = scan_quoted(s, local, sizeof(local), &local_len);
		if (n == 0) {
			*error_out = "Bad quoted local part";
			return SMTP_PARSE_BAD_PATH;
		}
		quoted = !is_strict_dot_string(local, local_len);
		if (quoted) {
			/* keep the quoted form exactly as sent */
			if (n > sizeof(local) - 1) {
				*error_out = "Path too long";
				return SMTP_PARSE_PATH_TOO_LONG;
			}
			memcpy(local, s, n);
			local_len = n;
			local[n] = '\0';
		}
		s += n;
	} else {
		n = scan_dot_string(s);
		if (n == 0) {
			*error_out = "Bad address syntax";
			return SMTP_PARSE_BAD_PATH;
		}
		if (n > sizeof(local) - 1) {
			*error_out = "Path too long";
			return SMTP_PARSE_PATH_TOO_LONG;
		}
		memcpy(local, s, n);
		local_len = n;
		local[n] = '\0';
		s += n;
	}

	if (*s != '@') {
		/* Only "<Postmaster>" may go without a domain (RFC 5321 4.1.1.3). */
		if (bracketed && *s == '>' && !quoted && ascii_ieq(local, local_len, "postmaster")) {
			out->postmaster = true;
			*sp = s + 1;
			return SMTP_PARSE_OK;
		}
		*error_out = "Domain missing in address";
		return SMTP_PARSE_BAD_PATH;
	}
	s++;
	domain = s;
	dlen = *s == '[' ? scan_address_literal(s) : scan_domain(s);
	if (dlen == 0) {
		*error_out = "Bad domain in address";
		return SMTP_PARSE_BAD_PATH;
	}
	s += dlen;
	if (bracketed) {
		if (*s != '>') {
			*error_out = "Missing '>' after address";
			return SMTP_PARSE_BAD_PATH;
		}
		s++;
	}
	if (*s != '\0' && *s != ' ') {
		*error_out = "Garbage after address";
		return SMTP_PARSE_BAD_PATH;
	}
	if (local_len > LOCALPART_MAX || dlen > DOMAIN_MAX || local_len + 1 + dlen > SMTP_ADDR_MAX) {
		*error_out = "Path too long";
		return SMTP_PARSE_PATH_TOO_LONG;
	}
	memcpy(out->addr, local, local_len);
	out->addr[local_len] = '@';
	memcpy(out->addr + local_len + 1, domain, dlen);
	out->addr[local_len + 1 + dlen] = '\0';
	out->local_len = local_len;
	for (n = 0; out->addr[n] != '\0'; n++) {
		if ((unsigned char)out->addr[n] >= 0x80)
			out->utf8 = true;
	}
	if (out->utf8 && !smtp_utf8_valid((const unsigned char *)out->addr, strlen(out->addr))) {
		*error_out = "Malformed UTF-8 in address";
		return SMTP_PARSE_BAD_PATH;
	}
	*sp = s;
	return SMTP_PARSE_OK;
}

/* Skips "FROM:" or "TO:" (case-insensitive) and the spaces after it. */
static bool
skip_keyword(const char **sp, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(*sp, kw, n) != 0)
		return false;
	*sp += n;
	while (**sp == ' ')
		(*sp)++;
	return true;
}

struct smtp_param {
	const char *key;
	size_t key_len;
	const char *value;      /* NULL if no "=" */
	size_t value_len;
};

/* esmtp-param = esmtp-keyword ["=" esmtp-value]; advances *sp.  Returns
 * false on bad syntax. */
static bool
next_param(const char **sp, struct smtp_param *out)
{
	const unsigned char *s = (const unsigned char *)*sp;
	size_t i = 0;

	if (!is_alnum(s[0]))
		return false;
	while (is_alnum(s[i]) || s[i] == '-')
		i++;
	out->key = *sp;
	out->key_len = i;
	out->value = NULL;
	out->value_len = 0;
	if (s[i] == '=') {
		size_t start = ++i;

		while (s[i] >= 33 && s[i] <= 126 && s[i] != '=')
			i++;
		if (i == start)
			return false;
		out->value = *sp + start;
		out->value_len = i - start;
	}
	if (s[i] != '\0' && s[i] != ' ')
		return false;
	*sp += i;
	return true;
}

static bool
parse_decimal(const char *s, size_t n, size_t max_digits, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > max_digits)
		return false;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (!is_digit((unsigned char)s[i]))
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static bool
is_xdigit_upper(char c)
{
	return is_digit((unsigned char)c) || (c >= 'A' && c <= 'F');
}

/* xtext (RFC 3461 4): "+" HEX HEX for anything outside %d33-42 / %d44-60
 * / %d62-126.  The AUTH= value may also be "<>". */
static bool
valid_xtext(const char *s, size_t n)
{
	size_t i;

	if (n == 2 && s[0] == '<' && s[1] == '>')
		return true;
	for (i = 0; i < n; i++) {
		if (s[i] == '+') {
			if (i + 2 >= n || !is_xdigit_upper(s[i + 1]) || !is_xdigit_upper(s[i + 2]))
				return false;
			i += 2;
		}
	}
	return true;
}

static enum smtp_parse_error
parse_mail_params(const char *s, struct smtp_mail_args *out, const char **error_out)
{
	unsigned count = 0;
	bool seen_size = false, seen_body = false, seen_utf8 = false, seen_auth = false, seen_ret = false,
	     seen_envid = false;

	for (;;) {
		struct smtp_param p;

		while (*s == ' ')
			s++;
		if (*s == '\0')
			return SMTP_PARSE_OK;
		if (++count > SMTP_PARAMS_MAX) {
			*error_out = "Too many parameters";
			return SMTP_PARSE_SYNTAX;
		}
		if (!next_param(&s, &p)) {
			*error_out = "Bad parameter syntax";
			return SMTP_PARSE_SYNTAX;
		}
		out->any_param = true;
		if (ascii_ieq(p.key, p.key_len, "SIZE")) {
			if (seen_size || p.value == NULL ||
			    !parse_decimal(p.value, p.value_len, SMTP_SIZE_DIGITS_MAX, &out->size)) {
				*error_out = "Bad SIZE parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			seen_size = out->size_given = true;
		} else if (ascii_ieq(p.key, p.key_len, "BODY")) {
			if (seen_body || p.value == NULL) {
				*error_out = "Bad BODY parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			if (ascii_ieq(p.value, p.value_len, "7BIT")) {
				out->body = SMTP_BODY_7BIT;
			} else if (ascii_ieq(p.value, p.value_len, "8BITMIME")) {
				out->body = SMTP_BODY_8BITMIME;
			} else {
				*error_out = "Unsupported BODY type";
				return SMTP_PARSE_UNKNOWN_PARAM;
			}
			seen_body = true;
		} else if (ascii_ieq(p.key, p.key_len, "SMTPUTF8")) {
			if (seen_utf8 || p.value != NULL) {
				*error_out = "Bad SMTPUTF8 parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			seen_utf8 = out->smtputf8 = true;
		} else if (ascii_ieq(p.key, p.key_len, "AUTH")) {
			if (seen_auth || p.value == NULL || !valid_xtext(p.value, p.value_len)) {
				*error_out = "Bad AUTH parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			seen_auth = out->auth_given = true;
		} else if (ascii_ieq(p.key, p.key_len, "RET")) {
			if (seen_ret || p.value == NULL) {
				*error_out = "Bad RET parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			if (ascii_ieq(p.value, p.value_len, "FULL"))
				out->ret = SMTP_RET_FULL;
			else if (ascii_ieq(p.value, p.value_len, "HDRS"))
				out->ret = SMTP_RET_HDRS;
			else {
				*error_out = "Bad RET parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			seen_ret = true;
		} else if (ascii_ieq(p.key, p.key_len, "ENVID")) {
			if (seen_envid || p.value == NULL || p.value_len > SMTP_ENVID_MAX ||
			    !valid_xtext(p.value, p.value_len)) {
				*error_out = "Bad ENVID parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			memcpy(out->envid, p.value, p.value_len);
			out->envid[p.value_len] = '\0';
			seen_envid = true;
		} else {
			*error_out = "Unsupported parameter";
			return SMTP_PARSE_UNKNOWN_PARAM;
		}
	}
}

/* NOTIFY=NEVER or a list of SUCCESS, FAILURE, DELAY (RFC 3461 4.1). */
static bool
parse_notify(const char *v, size_t len, unsigned *out)
{
	unsigned bits = 0;

	while (len > 0) {
		const char *comma = memchr(v, ',', len);
		size_t n = comma != NULL ? (size_t)(comma - v) : len;
		unsigned bit;

		if (ascii_ieq(v, n, "NEVER"))
			bit = SMTP_NOTIFY_NEVER;
		else if (ascii_ieq(v, n, "SUCCESS"))
			bit = SMTP_NOTIFY_SUCCESS;
		else if (ascii_ieq(v, n, "FAILURE"))
			bit = SMTP_NOTIFY_FAILURE;
		else if (ascii_ieq(v, n, "DELAY"))
			bit = SMTP_NOTIFY_DELAY;
		else
			return false;
		if (bits & bit)
			return false;
		bits |= bit;
		if (comma == NULL)
			break;
		v = comma + 1;
		len -= n + 1;
		if (len == 0)
			return false;   /* a trailing comma */
	}
	/* NEVER stands alone */
	if (bits == 0 || ((bits & SMTP_NOTIFY_NEVER) && bits != SMTP_NOTIFY_NEVER))
		return false;
	*out = bits;
	return true;
}

/* ORCPT=addr-type;xtext (RFC 3461 4.2) */
static bool
valid_orcpt(const char *v, size_t len)
{
	const char *semi = memchr(v, ';', len);
	size_t type_len;

	if (semi == NULL || len > SMTP_ORCPT_MAX)
		return false;
	type_len = (size_t)(semi - v);
	if (type_len == 0)
		return false;
	for (size_t i = 0; i < type_len; i++) {
		char c = v[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return len > type_len + 1 && valid_xtext(semi + 1, len - type_len - 1);
}

enum smtp_parse_error
smtp_parse_mail(const char *args, struct smtp_mail_args *out, const char **error_out)
{
	enum smtp_parse_error e;

	memset(out, 0, sizeof(*out));
	if (!skip_keyword(&args, "FROM:")) {
		*error_out = "Syntax: MAIL FROM:<address>";
		return SMTP_PARSE_SYNTAX;
	}
	e = parse_path(&args, true, &out->path, error_out);
	if (e != SMTP_PARSE_OK)
		return e;
	e = parse_mail_params(args, out, error_out);
	if (e != SMTP_PARSE_OK)
		return e;
	if (out->path.utf8 && !out->smtputf8) {
		*error_out = "Non-ASCII address requires SMTPUTF8";
		return SMTP_PARSE_NON_ASCII;
	}
	return SMTP_PARSE_OK;
}

enum smtp_parse_error
smtp_parse_rcpt(const char *args, bool utf8_ok, struct smtp_rcpt_args *out, const char **error_out)
{
	struct smtp_param p;
	enum smtp_parse_error e;

	memset(out, 0, sizeof(*out));
	if (!skip_keyword(&args, "TO:")) {
		*error_out = "Syntax: RCPT TO:<address>";
		return SMTP_PARSE_SYNTAX;
	}
	e = parse_path(&args, false, &out->path, error_out);
	if (e != SMTP_PARSE_OK)
		return e;
	for (unsigned count = 0;; count++) {
		while (*args == ' ')
			args++;
		if (*args == '\0')
			break;
		if (count == SMTP_PARAMS_MAX) {
			*error_out = "Too many parameters";
			return SMTP_PARSE_SYNTAX;
		}
		if (!next_param(&args, &p)) {
			*error_out = "Bad parameter syntax";
			return SMTP_PARSE_SYNTAX;
		}
		if (ascii_ieq(p.key, p.key_len, "NOTIFY")) {
			if (out->notify != 0 || p.value == NULL || !parse_notify(p.value, p.value_len, &out->notify)) {
				*error_out = "Bad NOTIFY parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
		} else if (ascii_ieq(p.key, p.key_len, "ORCPT")) {
			if (out->orcpt[0] != '\0' || p.value == NULL || !valid_orcpt(p.value, p.value_len)) {
				*error_out = "Bad ORCPT parameter";
				return SMTP_PARSE_BAD_PARAM;
			}
			memcpy(out->orcpt, p.value, p.value_len);
			out->orcpt[p.value_len] = '\0';
		} else {
			*error_out = "Unsupported parameter";
			return SMTP_PARSE_UNKNOWN_PARAM;
		}
	}
	if (out->path.utf8 && !utf8_ok) {
		*error_out = "Non-ASCII address requires SMTPUTF8";
		return SMTP_PARSE_NON_ASCII;
	}
	return SMTP_PARSE_OK;
}

enum smtp_parse_error
smtp_parse_bdat(const char *args, uint64_t *size_out, bool *last_out)
{
	size_t n = 0;

	while (is_digit((unsigned char)args[n]))
		n++;
	if (!parse_decimal(args, n, SMTP_BDAT_DIGITS_MAX, size_out))
		return SMTP_PARSE_SYNTAX;
	args += n;
	*last_out = false;
	if (*args == '\0')
		return SMTP_PARSE_OK;
	if (*args != ' ')
		return SMTP_PARSE_SYNTAX;
	while (*args == ' ')
		args++;
	if (!ascii_ieq(args, strlen(args), "LAST"))
		return SMTP_PARSE_SYNTAX;
	*last_out = true;
	return SMTP_PARSE_OK;
}

enum smtp_parse_error
smtp_parse_helo(const char *args)
{
	size_t i;

	for (i = 0; args[i] != '\0'; i++) {
		unsigned char c = (unsigned char)args[i];

		if (c < 33 || c > 126)
			return SMTP_PARSE_SYNTAX;
	}
	if (i == 0 || i > DOMAIN_MAX + 2)
		return SMTP_PARSE_SYNTAX;
	return SMTP_PARSE_OK;
}

enum smtp_parse_error
smtp_parse_auth(const char *args, const char **mech_out, size_t *mech_len_out, const char **initial_out)
{
	size_t i = 0;

	while (is_alnum((unsigned char)args[i]) || args[i] == '-' || args[i] == '_')
		i++;
	if (i == 0 || i > SMTP_AUTH_MECH_MAX || (args[i] != '\0' && args[i] != ' '))
		return SMTP_PARSE_SYNTAX;
	*mech_out = args;
	*mech_len_out = i;
	*initial_out = NULL;
	if (args[i] == '\0')
		return SMTP_PARSE_OK;
	while (args[i] == ' ')
		i++;
	if (args[i] == '\0')
		return SMTP_PARSE_OK;
	if (strchr(args + i, ' ') != NULL)
		return SMTP_PARSE_SYNTAX;
	*initial_out = args + i;
	return SMTP_PARSE_OK;
}

void
smtp_xtext_encode(const char *prefix, const char *addr, char *out, size_t size)
{
	size_t o = 0;

	if (size == 0)
		return;
	for (; *prefix != '\0' && o + 1 < size; prefix++)
		out[o++] = *prefix;
	for (; *addr != '\0'; addr++) {
		unsigned char c = (unsigned char)*addr;

		if (c >= 0x21 && c <= 0x7e && c != '+' && c != '=') {
			if (o + 1 >= size)
				break;
			out[o++] = (char)c;
		} else {
			static const char hex[] = "0123456789ABCDEF";

			if (o + 3 >= size)
				break;
			out[o++] = '+';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}
