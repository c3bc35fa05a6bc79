/* SPF macro expansion (RFC 7208 7).  Pure: the caller supplies the
 * sender, domain, HELO name and address. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "mailauth/spf.h"

static bool
is_delim(char c)
{
	return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '=';
}

static bool
is_letter(char c)
{
	return strchr("slodiphvSLODIPHV", c) != NULL && c != '\0';
}

/* Parses "%{" letter digits ["r"] delims "}" at s[*i] (s[*i] == '{').
 * Fills the parts; advances *i past '}'. */
static int
parse_expand(const char *s, size_t len, size_t *i, char *letter, unsigned *digits, bool *rev, char *delims,
             size_t delims_size)
{
	size_t j = *i + 1, nd = 0;

	if (j >= len || !is_letter(s[j]))
		return -1;
	*letter = s[j++];
	*digits = 0;
	while (j < len && s[j] >= '0' && s[j] <= '9') {
		if (*digits > 1000)
			return -1;
		*digits = *digits * 10 + (unsigned)(s[j++] - '0');
		nd++;
	}
	if (nd > 0 && *digits == 0)
		return -1;   /* RFC 7208 7.1: a zero count is a syntax error */
	*rev = false;
	if (j < len && (s[j] == 'r' || s[j] == 'R')) {
		*rev = true;
		j++;
	}
	delims[0] = '\0';
	for (size_t k = 0; j < len && is_delim(s[j]); j++) {
		if (k + 1 < delims_size) {
			delims[k++] = s[j];
			delims[k] = '\0';
		}
	}
	if (j >= len || s[j] != '}')
		return -1;
	*i = j + 1;
	return 0;
}

int
spf_macro_check(const char *s, size_t len, const char **error_out)
{
	for (size_t i = 0; i < len;) {
		char letter, delims[8];
		unsigned digits;
		bool rev;

		if (s[i] != '%') {
			if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
				goto bad;
			i++;
			continue;
		}
		if (i + 1 >= len)
			goto bad;
		if (s[i + 1] == '%' || s[i + 1] == '_' || s[i + 1] == '-') {
			i += 2;
			continue;
		}
		if (s[i + 1] != '{')
			goto bad;
		i++;
		if (parse_expand(s, len, &i, &letter, &digits, &rev, delims, sizeof(delims)) == -1)
			goto bad;
	}
	return 0;
bad:
	*error_out = "spf: bad macro";
	return -1;
}

/* The raw value of a macro letter into buf. */
static void
letter_value(char letter, const struct spf_macro_ctx *ctx, char *buf, size_t size)
{
	const char *at = strrchr(ctx->sender, '@');

	switch (letter | 0x20) {
	case 's':
		snprintf(buf, size, "%s", ctx->sender);
		break;
	case 'l':
		/* RFC 7208 4.3: an empty local-part is "postmaster" */
		if (at == NULL || at == ctx->sender)
			snprintf(buf, size, "postmaster");
		else
			snprintf(buf, size, "%.*s", (int)(at - ctx->sender), ctx->sender);
		break;
	case 'o':
		snprintf(buf, size, "%s", at != NULL ? at + 1 : ctx->sender);
		break;
	case 'd':
		snprintf(buf, size, "%s", ctx->domain);
		break;
	case 'h':
		snprintf(buf, size, "%s", ctx->helo);
		break;
	case 'v':
		snprintf(buf, size, "%s", ctx->ipv6 ? "ip6" : "in-addr");
		break;
	case 'p':
		/* no PTR lookups here: RFC 7208 7.3 allows "unknown" */
		snprintf(buf, size, "unknown");
		break;
	default: /* 'i' */
		if (!ctx->ipv6) {
			snprintf(buf, size, "%u.%u.%u.%u", ctx->ip[0], ctx->ip[1], ctx->ip[2], ctx->ip[3]);
		} else {
			static const char hex[] = "0123456789abcdef";
			size_t o = 0;

			/* RFC 7208 7.3: dot-separated nibbles */
			for (int k = 0; k < 16 && o + 4 < size; k++) {
				buf[o++] = hex[ctx->ip[k] >> 4];
				buf[o++] = '.';
				buf[o++] = hex[ctx->ip[k] & 15];
				if (k < 15)
					buf[o++] = '.';
			}
			buf[o] = '\0';
		}
		break;
	}
}

/* Appends n bytes to out; -1 if it does not fit. */
static int
put(char *out, size_t outsize, size_t *o, const char *p, size_t n)
{
	if (*o + n + 1 > outsize)
		return -1;
	memcpy(out + *o, p, n);
	*o += n;
	out[*o] = '\0';
	return 0;
}

/* Applies the transformers (RFC 7208 7.3) to value and appends it. */
static int
transform(char *value, unsigned digits, bool rev, const char *delims, bool upper, char *out, size_t outsize,
          size_t *o)
{
	char *part[SPF_MACRO_OUT_MAX / 2];
	size_t np = 0, first;
	char *p = value;

	if (delims[0] == '\0')
		delims = ".";
	part[np++] = p;
	for (; *p != '\0'; p++) {
		if (strchr(delims, *p) != NULL) {
			*p = '\0';
			if (np >= sizeof(part) / sizeof(part[0]))
				return -1;
			part[np++] = p + 1;
		}
	}
	if (rev) {
		for (size_t a = 0, b = np - 1; a < b; a++, b--) {
			char *t = part[a];

			part[a] = part[b];
			part[b] = t;
		}
	}
	first = digits > 0 && digits < np ? np - digits : 0;
	for (size_t k = first; k < np; k++) {
		if (k > first && put(out, outsize, o, ".", 1) == -1)
			return -1;
		for (const char *c = part[k]; *c != '\0'; c++) {
			char esc[4];
			bool unreserved = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			                  (*c >= '0' && *c <= '9') || strchr("-._~", *c) != NULL;

			if (upper && !unreserved) {
				snprintf(esc, sizeof(esc), "%%%02X", (unsigned char)*c);
				if (put(out, outsize, o, esc, 3) == -1)
					return -1;
			} else if (put(out, outsize, o, c, 1) == -1) {
				return -1;
			}
		}
	}
	return 0;
}

/* RFC 7208 7.3: over 253 octets, left-side labels go until it fits. */
static void
cut_domain(char *out)
{
	size_t len = strlen(out);
	char *p = out;

	while (len > SPF_DOMAIN_MAX) {
		char *dot = strchr(p, '.');

		if (dot == NULL) {
			out[0] = '\0';
			return;
		}
		len -= (size_t)(dot + 1 - p);
		p = dot + 1;
	}
	memmove(out, p, len + 1);
}

int
spf_macro_expand(const char *s, size_t len, const struct spf_macro_ctx *ctx, bool domain, char *out,
                 size_t outsize, const char **error_out)
{
	size_t o = 0;

	if (outsize == 0)
		goto too_long;
	out[0] = '\0';
	for (size_t i = 0; i < len;) {
		char letter, delims[8], value[SPF_MACRO_OUT_MAX];
		unsigned digits;
		bool rev;

		if (s[i] != '%') {
			if (put(out, outsize, &o, s + i, 1) == -1)
				goto too_long;
			i++;
			continue;
		}
		if (i + 1 >= len)
			goto bad;
		if (s[i + 1] == '%' || s[i + 1] == '_' || s[i + 1] == '-') {
			const char *lit = s[i + 1] == '%' ? "%" : s[i + 1] == '_' ? " " : "%20";

			if (put(out, outsize, &o, lit, strlen(lit)) == -1)
				goto too_long;
			i += 2;
			continue;
		}
		if (s[i + 1] != '{')
			goto bad;
		i++;
		if (parse_expand(s, len, &i, &letter, &digits, &rev, delims, sizeof(delims)) == -1)
			goto bad;
		letter_value(letter, ctx, value, sizeof(value));
		if (transform(value, digits, rev, delims, letter >= 'A' && letter <= 'Z', out, outsize, &o) == -1)
			goto too_long;
	}
	if (domain)
		cut_domain(out);
	return 0;
bad:
	*error_out = "spf: bad macro";
	return -1;
too_long:
	*error_out = "spf: macro expansion too long";
	return -1;
}
