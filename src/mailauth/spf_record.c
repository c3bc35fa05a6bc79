/* The SPF record parser (RFC 7208 4.5, 5, 6, 12 ABNF).  Pure: no DNS, no
 * allocation; fuzzed by fuzz/fuzz_spf_record.c. */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "mailauth/spf.h"

bool
spf_record_is_spf(const char *txt, size_t len)
{
	return len >= 6 && strncasecmp(txt, "v=spf1", 6) == 0 && (len == 6 || txt[6] == ' ');
}

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A decimal of 1..3 digits at most max; -1 if not. */
static int
parse_cidr(const char *s, size_t len, int max)
{
	int v = 0;

	if (len == 0 || len > 3)
		return -1;
	/* RFC 7208 12: no leading zeros ("0" alone is fine) */
	if (len > 1 && s[0] == '0')
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v <= max ? v : -1;
}

/* Strips a dual-cidr-length ("/24", "//64", "/24//64") off the end of
 * s[0..*len): the domain-spec may itself hold '/', so it is read from the
 * right. */
static int
strip_dual_cidr(const char *s, size_t *len, struct spf_term *t, bool v4, bool v6)
{
	size_t n = *len, j;

	j = n;
	while (j > 0 && is_digit(s[j - 1]))
		j--;
	if (j < n && j >= 2 && s[j - 1] == '/' && s[j - 2] == '/') {
		if (!v6 || (t->cidr6 = parse_cidr(s + j, n - j, 128)) < 0)
			return -1;
		n = j - 2;
		j = n;
		while (j > 0 && is_digit(s[j - 1]))
			j--;
	}
	if (j < n && j >= 1 && s[j - 1] == '/' && (j < 2 || s[j - 2] != '/')) {
		if (!v4 || (t->cidr4 = parse_cidr(s + j, n - j, 32)) < 0)
			return -1;
		n = j - 1;
	}
	*len = n;
	return 0;
}

static int
parse_ip(const char *s, size_t len, struct spf_term *t)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash = memchr(s, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - s) : len;
	bool v6 = t->mech == SPF_MECH_IP6;

	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, t->ip) != 1)
		return -1;
	if (slash != NULL) {
		int c = parse_cidr(slash + 1, len - alen - 1, v6 ? 128 : 32);

		if (c < 0)
			return -1;
		if (v6)
			t->cidr6 = c;
		else
			t->cidr4 = c;
	}
	return 0;
}

static const struct {
	const char *name;
	enum spf_mech mech;
} mechs[] = {
	{ "all", SPF_MECH_ALL },   { "include", SPF_MECH_INCLUDE }, { "a", SPF_MECH_A },
	{ "mx", SPF_MECH_MX },     { "ptr", SPF_MECH_PTR },         { "ip4", SPF_MECH_IP4 },
	{ "ip6", SPF_MECH_IP6 },   { "exists", SPF_MECH_EXISTS },
};

/* One mechanism: [qualifier] name [":" arg] [cidr]. */
static int
parse_mech(const char *s, size_t len, struct spf_term *t, const char **error_out)
{
	size_t i = 0, nlen, alen;
	const char *arg;
	bool found = false;

	memset(t, 0, sizeof(*t));
	t->qualifier = '+';
	t->cidr4 = 32;
	t->cidr6 = 128;
	if (s[0] == '+' || s[0] == '-' || s[0] == '~' || s[0] == '?')
		t->qualifier = s[i++];
	nlen = i;
	while (nlen < len && is_alpha(s[nlen]))
		nlen++;
	if (nlen < len && is_digit(s[nlen]))   /* ip4, ip6 */
		nlen++;
	for (size_t k = 0; k < sizeof(mechs) / sizeof(mechs[0]); k++) {
		if (strlen(mechs[k].name) == nlen - i && strncasecmp(s + i, mechs[k].name, nlen - i) == 0) {
			t->mech = mechs[k].mech;
			found = true;
		}
	}
	if (!found) {
		*error_out = "spf: unknown mechanism";
		return -1;
	}
	arg = s + nlen;
	alen = len - nlen;
	switch (t->mech) {
	case SPF_MECH_ALL:
		if (alen != 0)
			goto bad;
		return 0;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		if (alen < 2 || arg[0] != ':' || parse_ip(arg + 1, alen - 1, t) == -1)
			goto bad;
		return 0;
	case SPF_MECH_A:
	case SPF_MECH_MX:
		if (strip_dual_cidr(arg, &alen, t, true, true) == -1)
			goto bad;
		break;
	default:
		break;
	}
	if (alen == 0) {
		/* include and exists need a domain; a, mx, ptr default to <domain> */
		if (t->mech == SPF_MECH_INCLUDE || t->mech == SPF_MECH_EXISTS)
			goto bad;
		return 0;
	}
	if (arg[0] != ':' || alen < 2)
		goto bad;
	t->domain = arg + 1;
	t->domain_len = alen - 1;
	if (spf_macro_check(t->domain, t->domain_len, error_out) == -1)
		return -1;
	return 0;
bad:
	*error_out = "spf: bad mechanism argument";
	return -1;
}

/* name "=" macro-string; *is_mod false if the term is not a modifier. */
static int
parse_modifier(const char *s, size_t len, struct spf_record *out, bool *is_mod, const char **error_out)
{
	size_t i = 0;

	*is_mod = false;
	if (!is_alpha(s[0]))
		return 0;
	while (i < len && (is_alpha(s[i]) || is_digit(s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
		i++;
	if (i >= len || s[i] != '=')
		return 0;
	*is_mod = true;
	if (spf_macro_check(s + i + 1, len - i - 1, error_out) == -1)
		return -1;
	if (i == 8 && strncasecmp(s, "redirect", 8) == 0) {
		if (out->redirect != NULL || len - i - 1 == 0) {
			*error_out = "spf: duplicate or empty redirect";
			return -1;
		}
		out->redirect = s + i + 1;
		out->redirect_len = len - i - 1;
	} else if (i == 3 && strncasecmp(s, "exp", 3) == 0) {
		if (out->has_exp) {
			*error_out = "spf: duplicate exp";
			return -1;
		}
		out->has_exp = true;
	}
	/* RFC 7208 6: unknown modifiers MUST be ignored */
	return 0;
}

int
spf_record_parse(const char *s, size_t len, struct spf_record *out, const char **error_out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (!spf_record_is_spf(s, len)) {
		*error_out = "spf: not an SPF record";
		return -1;
	}
	i = 6;
	for (;;) {
		size_t start, tlen;
		bool is_mod;

		while (i < len && s[i] == ' ')
			i++;
		if (i >= len)
			return 0;
		start = i;
		while (i < len && s[i] != ' ')
			i++;
		tlen = i - start;
		for (size_t k = start; k < i; k++) {
			/* terms are printable US-ASCII (RFC 7208 12) */
			if ((unsigned char)s[k] < 0x21 || (unsigned char)s[k] > 0x7e) {
				*error_out = "spf: bad character";
				return -1;
			}
		}
		if (parse_modifier(s + start, tlen, out, &is_mod, error_out) == -1)
			return -1;
		if (is_mod)
			continue;
		if (out->n >= SPF_TERMS_MAX) {
			*error_out = "spf: too many terms";
			return -1;
		}
		if (parse_mech(s + start, tlen, &out->term[out->n], error_out) == -1)
			return -1;
		out->n++;
	}
}

const char *
spf_result_name(enum spf_result r)
{
	switch (r) {
	case SPF_NONE:
		return "none";
	case SPF_NEUTRAL:
		return "neutral";
	case SPF_PASS:
		return "pass";
	case SPF_FAIL:
		return "fail";
	case SPF_SOFTFAIL:
		return "softfail";
	case SPF_TEMPERROR:
		return "temperror";
	case SPF_PERMERROR:
		return "permerror";
	}
	return "?";
}
