/* MTA-STS records, policies and cache entries (see queue_sts_policy.h).
 * Everything is bounded by its input's length; nothing here allocates
 * except queue_sts_cache_format. */
#include "queue/queue_sts_policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"

static bool
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* ---- the TXT record, RFC 8461 3.1 ---- */

/* sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
 * sts-field-delim = *WSP ";" *WSP;  sts-id = %s"id=" 1*32(ALPHA / DIGIT) */
static int
txt_one(const char *s, char id_out[STS_ID_MAX + 1], const char **error_out)
{
	bool have_id = false;

	s += 7;   /* "v=STSv1" */
	while (*s != '\0') {
		const char *f, *end;
		size_t len;

		while (is_wsp(*s))
			s++;
		if (*s != ';') {
			*error_out = "bad field delimiter in the STSv1 record";
			return -1;
		}
		s++;
		while (is_wsp(*s))
			s++;
		f = s;
		while (*s != '\0' && *s != ';')
			s++;
		end = s;
		while (end > f && is_wsp(end[-1]))
			end--;
		len = (size_t)(end - f);
		if (len == 0)
			continue;   /* a trailing ";" */
		if (len > 3 && strncmp(f, "id=", 3) == 0 && !have_id) {
			if (len - 3 > STS_ID_MAX) {
				*error_out = "id longer than 32 characters";
				return -1;
			}
			for (size_t i = 3; i < len; i++) {
				if (!is_alnum(f[i])) {
					*error_out = "bad character in id";
					return -1;
				}
			}
			memcpy(id_out, f + 3, len - 3);
			id_out[len - 3] = '\0';
			have_id = true;
		} else if (memchr(f, '=', len) == NULL) {
			*error_out = "field without '=' in the STSv1 record";
			return -1;
		}
		/* other fields (extensions) are ignored */
	}
	if (!have_id) {
		*error_out = "no id in the STSv1 record";
		return -1;
	}
	return 0;
}

static bool
is_sts_record(const char *s)
{
	return strncmp(s, "v=STSv1", 7) == 0 && (s[7] == '\0' || s[7] == ';' || is_wsp(s[7]));
}

int
queue_sts_txt_parse(const char *const *txt, size_t n, char id_out[STS_ID_MAX + 1], const char **error_out)
{
	const char *rec = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!is_sts_record(txt[i]))
			continue;
		if (rec != NULL) {
			*error_out = "several STSv1 records";
			return -1;
		}
		rec = txt[i];
	}
	if (rec == NULL) {
		*error_out = "no STSv1 record";
		return -1;
	}
	return txt_one(rec, id_out, error_out);
}

/* ---- the policy file, RFC 8461 3.2 ---- */

/* sts-policy-mx-value = ["*."] Domain (RFC 5321 4.1.2): copied in lower
 * case into out, one trailing dot dropped. */
static int
mx_pattern(const char *v, size_t len, char out[STS_NAME_MAX + 1])
{
	size_t label = 0, i = 0;

	if (len > 0 && v[len - 1] == '.')
		len--;
	if (len >= 2 && v[0] == '*' && v[1] == '.')
		i = 2;
	if (len == i || len > STS_NAME_MAX)
		return -1;
	for (size_t k = i; k < len; k++) {
		char c = v[k];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
		} else if (is_alnum(c) || c == '-' || c == '_') {
			if (++label > 63)
				return -1;
		} else {
			return -1;
		}
	}
	if (label == 0)
		return -1;
	for (size_t k = 0; k < len; k++)
		out[k] = (char)(v[k] >= 'A' && v[k] <= 'Z' ? v[k] + 32 : v[k]);
	out[len] = '\0';
	return 0;
}

static int
max_age(const char *v, size_t len, uint32_t *out)
{
	uint64_t n = 0;

	if (len == 0 || len > 10)   /* sts-policy-max-age-value = 1*10(DIGIT) */
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	*out = n > STS_MAX_AGE_MAX ? STS_MAX_AGE_MAX : (uint32_t)n;
	return 0;
}

static bool
value_is(const char *v, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(v, want, len) == 0;
}

/* One "key: value" line (without its line break). */
static int
policy_line(const char *line, size_t len, struct sts_policy *out, unsigned *seen, const char **error_out)
{
	const char *colon = memchr(line, ':', len), *v, *end = line + len;
	size_t klen, vlen;

	if (colon == NULL) {
		*error_out = "policy line without ':'";
		return -1;
	}
	klen = (size_t)(colon - line);
	v = colon + 1;
	while (v < end && is_wsp(*v))
		v++;
	while (end > v && is_wsp(end[-1]))
		end--;
	vlen = (size_t)(end - v);
	if (value_is(line, klen, "version")) {
		if (*seen & 1)
			return 0;
		*seen |= 1;
		if (!value_is(v, vlen, "STSv1")) {
			*error_out = "policy version is not STSv1";
			return -1;
		}
	} else if (value_is(line, klen, "mode")) {
		if (*seen & 2)
			return 0;
		*seen |= 2;
		if (value_is(v, vlen, "enforce"))
			out->mode = STS_MODE_ENFORCE;
		else if (value_is(v, vlen, "testing"))
			out->mode = STS_MODE_TESTING;
		else if (value_is(v, vlen, "none"))
			out->mode = STS_MODE_NONE;
		else {
			*error_out = "policy mode is not enforce, testing or none";
			return -1;
		}
	} else if (value_is(line, klen, "max_age")) {
		if (*seen & 4)
			return 0;
		*seen |= 4;
		if (max_age(v, vlen, &out->max_age) == -1) {
			*error_out = "bad policy max_age";
			return -1;
		}
	} else if (value_is(line, klen, "mx")) {
		if (out->n_mx == STS_MX_MAX) {
			*error_out = "too many mx patterns in the policy";
			return -1;
		}
		if (mx_pattern(v, vlen, out->mx[out->n_mx]) == -1) {
			*error_out = "bad mx pattern in the policy";
			return -1;
		}
		out->n_mx++;
	}
	/* other keys: extensions, ignored (3.2) */
	return 0;
}

int
queue_sts_policy_parse(const char *text, size_t len, struct sts_policy *out, const char **error_out)
{
	const char *p = text, *end = text + len;
	unsigned seen = 0;

	memset(out, 0, sizeof(*out));
	if (len > STS_POLICY_MAX) {
		*error_out = "policy larger than 64 KiB";
		return -1;
	}
	if (memchr(text, '\0', len) != NULL) {
		*error_out = "NUL byte in the policy";
		return -1;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl != NULL ? nl : end;
		size_t l = (size_t)(le - p);

		if (l > 0 && p[l - 1] == '\r')
			l--;
		if (l > 0 && policy_line(p, l, out, &seen, error_out) == -1)
			return -1;
		p = nl != NULL ? nl + 1 : end;
	}
	if (!(seen & 1)) {
		*error_out = "no version in the policy";
		return -1;
	}
	if (!(seen & 2)) {
		*error_out = "no mode in the policy";
		return -1;
	}
	if (!(seen & 4)) {
		*error_out = "no max_age in the policy";
		return -1;
	}
	if (out->n_mx == 0 && out->mode != STS_MODE_NONE) {
		*error_out = "no mx in the policy";
		return -1;
	}
	return 0;
}

/* ---- matching, RFC 8461 4.1 ---- */

static bool
match_one(const char *pat, const char *host, size_t hlen)
{
	size_t plen = strlen(pat);

	if (pat[0] == '*') {
		/* "*.rest": exactly one label in front of ".rest" */
		const char *rest = pat + 1;   /* ".rest" */
		size_t rlen = plen - 1;
		const char *dot;

		if (hlen <= rlen || strncasecmp(host + hlen - rlen, rest, rlen) != 0)
			return false;
		dot = memchr(host, '.', hlen - rlen);
		return dot == NULL;
	}
	return hlen == plen && strncasecmp(host, pat, plen) == 0;
}

bool
queue_sts_mx_match(const struct sts_policy *p, const char *host)
{
	size_t hlen = strlen(host);

	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (hlen == 0)
		return false;
	for (size_t i = 0; i < p->n_mx; i++) {
		if (match_one(p->mx[i], host, hlen))
			return true;
	}
	return false;
}

const char *
queue_sts_mode_name(enum sts_mode mode)
{
	switch (mode) {
	case STS_MODE_NONE:
		return "none";
	case STS_MODE_TESTING:
		return "testing";
	case STS_MODE_ENFORCE:
		return "enforce";
	}
	return "?";
}

/* ---- the cache file ---- */

#define CACHE_MAGIC "tern-mta-sts 1\n"

char *
queue_sts_cache_format(int64_t fetched_at, const char *id, const char *policy, size_t policy_len)
{
	return xasprintf(CACHE_MAGIC "fetched: %" PRId64 "\nid: %s\n\n%.*s", fetched_at, id, (int)policy_len, policy);
}

/* The next header line "key: value" into value (NUL-terminated). */
static int
cache_line(const char **p, const char *end, const char *key, char *value, size_t size)
{
	size_t klen = strlen(key);
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t vlen;

	if (nl == NULL || (size_t)(nl - *p) < klen + 2 || memcmp(*p, key, klen) != 0 || (*p)[klen] != ':' ||
	    (*p)[klen + 1] != ' ')
		return -1;
	vlen = (size_t)(nl - (*p + klen + 2));
	if (vlen == 0 || vlen >= size)
		return -1;
	memcpy(value, *p + klen + 2, vlen);
	value[vlen] = '\0';
	*p = nl + 1;
	return 0;
}

int
queue_sts_cache_parse(const char *text, size_t len, int64_t *fetched_at_out, char id_out[STS_ID_MAX + 1],
                      struct sts_policy *policy_out, const char **error_out)
{
	const char *p = text, *end = text + len;
	char num[24];
	char *stop;
	long long t;

	*error_out = "bad cache file header";
	if (len < sizeof(CACHE_MAGIC) - 1 || memcmp(text, CACHE_MAGIC, sizeof(CACHE_MAGIC) - 1) != 0)
		return -1;
	p += sizeof(CACHE_MAGIC) - 1;
	if (cache_line(&p, end, "fetched", num, sizeof(num)) == -1)
		return -1;
	t = strtoll(num, &stop, 10);
	if (*stop != '\0' || t < 0 || num[0] < '0' || num[0] > '9')
		return -1;
	if (cache_line(&p, end, "id", id_out, STS_ID_MAX + 1) == -1)
		return -1;
	for (const char *c = id_out; *c != '\0'; c++) {
		if (!is_alnum(*c))
			return -1;
	}
	if (p == end || *p != '\n')
		return -1;
	p++;
	*fetched_at_out = t;
	return queue_sts_policy_parse(p, (size_t)(end - p), policy_out, error_out);
}
