/* IMAP URL parsing (RFC 5092); see imap_url.h. */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/imap_cmd.h"
#include "imap/imap_url.h"
#include "lib/arena.h"
#include "lib/str.h"

/* %-decodes s[0..len) into the arena; NULL for a bad escape or a NUL. */
static char *
pct_decode(const char *s, size_t len, struct arena *a, size_t *len_out)
{
	char *out = arena_alloc(a, len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			return NULL;
		int hi = str_hexval(s[i + 1]), lo = str_hexval(s[i + 2]);

		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return NULL;
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = '\0';
	if (len_out != NULL)
		*len_out = o;
	return out;
}

static bool
prefix_is(const char *s, size_t len, const char *word)
{
	size_t wl = strlen(word);

	return len >= wl && strncasecmp(s, word, wl) == 0;
}

/* number / nz-number, at most 4294967295, no leading zeros beyond "0". */
static bool
number_parse(const char *s, size_t len, bool nz, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10 || (len > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT32_MAX || (nz && v == 0))
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool
digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* RFC 3339 date-time: 2006-01-02T15:04:05[.frac](Z|+hh:mm|-hh:mm). */
static bool
datetime_parse(const char *s, size_t len, int64_t *out)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t i = 19;
	struct tm tm;

	if (len < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) || s[13] != ':' ||
	    !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
		return false;
	if (s[i] == '.') {
		i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return false;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
		sign = 0;
	} else if (i + 6 == len && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2, &oh) && s[i + 3] == ':' &&
	           digits(s + i + 4, 2, &om)) {
		sign = s[i] == '+' ? 1 : -1;
	} else {
		return false;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || oh > 23 || om > 59)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm) - (int64_t)sign * (oh * 3600 + om * 60);
	return true;
}

/* host [":" port] of the authority: a reg-name or an IP literal. */
static int
hostport_parse(const char *s, size_t len, struct arena *a, struct imap_url *out)
{
	size_t h = 0;
	uint32_t port;
	char *host;

	if (len > 0 && s[0] == '[') {
		while (h < len && s[h] != ']')
			h++;
		if (h == len)
			return -1;
		h++;
	} else {
		while (h < len && s[h] != ':')
			h++;
	}
	if (h == 0)
		return -1;
	host = arena_alloc(a, h + 1);
	for (size_t i = 0; i < h; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-._~[]:", c) != NULL))
			return -1;
		host[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	host[h] = '\0';
	out->host = host;
	if (h < len) {
		if (s[h] != ':' || !number_parse(s + h + 1, len - h - 1, true, &port) || port > 65535)
			return -1;
		out->port = (uint16_t)port;
	}
	return 0;
}

/* iserver: [enc-user [";AUTH=" type] "@"] host [":" port]. */
static int
server_parse(const char *s, size_t len, struct arena *a, struct imap_url *out, const char **error_out)
{
	size_t at = len;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '@')
			at = i;
	if (at < len) {
		size_t ulen = at;

		for (size_t i = 0; i + 6 <= at; i++) {
			if (prefix_is(s + i, at - i, ";AUTH=")) {
				ulen = i;
				if (at - i - 6 == 0 || (out->auth_type = pct_decode(s + i + 6, at - i - 6, a, NULL)) == NULL) {
					*error_out = "Invalid ;AUTH= in the IMAP URL";
					return -1;
				}
				break;
			}
		}
		if (ulen > 0 && (out->user = pct_decode(s, ulen, a, NULL)) == NULL) {
			*error_out = "Invalid user in the IMAP URL";
			return -1;
		}
		if (ulen == 0 && out->auth_type == NULL) {
			*error_out = "Empty user in the IMAP URL";
			return -1;
		}
		s += at + 1;
		len -= at + 1;
	}
	if (hostport_parse(s, len, a, out) == -1) {
		*error_out = "Invalid server in the IMAP URL";
		return -1;
	}
	return 0;
}

/* The parameters after the mailbox, in the grammar's order. */
enum param {
	P_UIDVALIDITY,
	P_UID,
	P_SECTION,
	P_PARTIAL,
	P_EXPIRE,
	P_URLAUTH,
	P_END,
};

static const struct {
	const char *key;               /* with ";" and "=" */
	bool slash;                    /* written after a "/" */
} params[] = {
	[P_UIDVALIDITY] = { ";UIDVALIDITY=", false },
	[P_UID] = { ";UID=", true },
	[P_SECTION] = { ";SECTION=", true },
	[P_PARTIAL] = { ";PARTIAL=", true },
	[P_EXPIRE] = { ";EXPIRE=", false },
	[P_URLAUTH] = { ";URLAUTH=", false },
};

static int
access_parse(const char *v, size_t vlen, struct arena *a, struct imap_url *out)
{
	const char *user = NULL;
	size_t ulen = 0;

	if (vlen == 8 && strncasecmp(v, "authuser", 8) == 0) {
		out->access = IMAP_URL_ACCESS_AUTHUSER;
		return 0;
	}
	if (vlen == 9 && strncasecmp(v, "anonymous", 9) == 0) {
		out->access = IMAP_URL_ACCESS_ANONYMOUS;
		return 0;
	}
	if (prefix_is(v, vlen, "submit+")) {
		out->access = IMAP_URL_ACCESS_SUBMIT;
		user = v + 7;
		ulen = vlen - 7;
	} else if (prefix_is(v, vlen, "user+")) {
		out->access = IMAP_URL_ACCESS_USER;
		user = v + 5;
		ulen = vlen - 5;
	} else {
		return -1;
	}
	if (ulen == 0 || (out->access_user = pct_decode(user, ulen, a, NULL)) == NULL)
		return -1;
	return 0;
}

/* ":" mechanism ":" 32*HEXDIG, at the end of the URL. */
static int
verifier_parse(const char *s, size_t len, struct arena *a, struct imap_url *out)
{
	size_t m = 1;
	char *mech, *tok;

	while (m < len && s[m] != ':')
		m++;
	if (m == 1 || m == len || len - m - 1 < 32)
		return -1;
	for (size_t i = 1; i < m; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '.'))
			return -1;
	}
	for (size_t i = m + 1; i < len; i++)
		if (str_hexval(s[i]) < 0)
			return -1;
	mech = arena_alloc(a, m);
	memcpy(mech, s + 1, m - 1);
	mech[m - 1] = '\0';
	tok = arena_alloc(a, len - m);
	memcpy(tok, s + m + 1, len - m - 1);
	tok[len - m - 1] = '\0';
	out->mechanism = mech;
	out->token = tok;
	return 0;
}

static int
param_value(enum param p, const char *v, size_t vlen, struct arena *a, struct imap_url *out)
{
	size_t dot;

	switch (p) {
	case P_UIDVALIDITY:
		return number_parse(v, vlen, true, &out->uidvalidity) ? 0 : -1;
	case P_UID:
		return number_parse(v, vlen, true, &out->uid) ? 0 : -1;
	case P_SECTION:
		return vlen > 0 && (out->section = pct_decode(v, vlen, a, NULL)) != NULL ? 0 : -1;
	case P_PARTIAL:
		out->has_partial = true;
		for (dot = 0; dot < vlen && v[dot] != '.'; dot++)
			;
		if (!number_parse(v, dot, false, &out->partial_start))
			return -1;
		if (dot < vlen && !number_parse(v + dot + 1, vlen - dot - 1, true, &out->partial_len))
			return -1;
		return 0;
	case P_EXPIRE:
		out->has_expire = true;
		return datetime_parse(v, vlen, &out->expire) ? 0 : -1;
	case P_URLAUTH:
		return access_parse(v, vlen, a, out);
	case P_END:
		break;
	}
	return -1;
}

/* enc-mailbox and the parameters after it: s is the path after the "/"
 * that ends the server (or starts an absolute path); base is the whole
 * URL, for rump_len. */
static int
path_parse(const char *base, const char *s, size_t len, struct arena *a, struct imap_url *out,
           const char **error_out)
{
	size_t i = 0, mlen;
	enum param next = P_UIDVALIDITY;
	char *mbox;

	while (i < len && s[i] != ';' && s[i] != '?')
		i++;
	if (i < len && s[i] == '?') {
		*error_out = "IMAP search URLs are not supported here";
		return -1;
	}
	mlen = i;
	if (i < len && mlen > 0 && s[mlen - 1] == '/')
		mlen--;  /* the "/" of "/;UID=" */
	if (mlen == 0) {
		if (i < len) {
			*error_out = "The IMAP URL names no mailbox";
			return -1;
		}
		return 0;  /* "imap://server/" */
	}
	if ((mbox = pct_decode(s, mlen, a, &mlen)) == NULL ||
	    (out->mailbox = imap_mailbox_decode(mbox, mlen, true, a)) == NULL) {
		*error_out = "Invalid mailbox name in the IMAP URL";
		return -1;
	}
	while (i < len) {
		bool slash = i > 0 && s[i - 1] == '/';
		size_t v, e;
		enum param p;

		for (p = next; p < P_END; p++)
			if (prefix_is(s + i, len - i, params[p].key))
				break;
		if (p == P_END || params[p].slash != slash) {
			*error_out = "Invalid or misplaced parameter in the IMAP URL";
			return -1;
		}
		v = i + strlen(params[p].key);
		e = v;
		if (p == P_URLAUTH) {
			while (e < len && s[e] != ':')
				e++;
		} else if (p == P_EXPIRE) {
			while (e < len && s[e] != ';')
				e++;
		} else {
			while (e < len && s[e] != ';' && s[e] != '/')
				e++;
			/* a section may hold "/" (bchar); it ends at the next "/;" */
			while (p == P_SECTION && e < len && s[e] == '/' && e + 1 < len && s[e + 1] != ';') {
				e++;
				while (e < len && s[e] != ';' && s[e] != '/')
					e++;
			}
		}
		if (param_value(p, s + v, e - v, a, out) == -1) {
			*error_out = "Invalid parameter value in the IMAP URL";
			return -1;
		}
		if ((p == P_SECTION || p == P_PARTIAL) && out->uid == 0) {
			*error_out = "A section or partial needs a UID in the IMAP URL";
			return -1;
		}
		if (p == P_URLAUTH) {
			out->rump_len = (size_t)(s + e - base);
			if (e < len && verifier_parse(s + e, len - e, a, out) == -1) {
				*error_out = "Invalid URLAUTH verifier in the IMAP URL";
				return -1;
			}
			return 0;
		}
		next = (enum param)(p + 1);
		i = e;
		if (i < len && s[i] == '/') {
			i++;
			if (i == len || s[i] != ';') {
				*error_out = "Invalid IMAP URL path";
				return -1;
			}
		}
	}
	return 0;
}

int
imap_url_parse(const char *s, size_t len, struct arena *a, struct imap_url *out, const char **error_out)
{
	memset(out, 0, sizeof(*out));
	if (len == 0 || len > IMAP_URL_MAX) {
		*error_out = len == 0 ? "Empty IMAP URL" : "IMAP URL too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* URLs are ASCII without spaces; anything else is %-escaped */
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>') {
			*error_out = "Invalid character in the IMAP URL";
			return -1;
		}
	}
	out->rump_len = len;
	if (prefix_is(s, len, "imap://")) {
		size_t start = 7, end = 7;

		while (end < len && s[end] != '/')
			end++;
		out->absolute = true;
		if (server_parse(s + start, end - start, a, out, error_out) == -1)
			return -1;
		if (end == len)
			return 0;
		return path_parse(s, s + end + 1, len - end - 1, a, out, error_out);
	}
	if (s[0] == '/' && (len == 1 || s[1] != '/'))
		return path_parse(s, s + 1, len - 1, a, out, error_out);
	*error_out = "Only absolute IMAP URLs and absolute paths are supported";
	return -1;
}

static bool
user_matches(const char *name, const char *host, const char *user)
{
	size_t n;

	if (name == NULL)
		return false;
	if (strcasecmp(name, user) == 0)
		return true;
	/* "fred" at host example.com is fred@example.com */
	n = strlen(name);
	return host != NULL && strchr(name, '@') == NULL && strncasecmp(user, name, n) == 0 && user[n] == '@' &&
	       strcasecmp(user + n + 1, host) == 0;
}

bool
imap_url_owner_is(const struct imap_url *u, const char *user)
{
	if (!u->absolute)
		return true;
	return user_matches(u->user, u->host, user);
}

bool
imap_url_access_user_is(const struct imap_url *u, const char *user)
{
	return user_matches(u->access_user, u->host, user);
}
