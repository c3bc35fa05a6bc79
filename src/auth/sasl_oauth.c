/* OAUTHBEARER (RFC 7628 3.1, gs2 header from RFC 5801 4) and XOAUTH2
 * message decoders.  The decoded message holds a credential: it lives in
 * a heap buffer that is wiped before it is freed. */
#include "auth/sasl_oauth.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "lib/str.h"
#include "lib/xalloc.h"

#define KVSEP 0x01

/* A decoded message and a read position in it. */
struct msg {
	unsigned char *p;
	size_t len, pos;
};

static int
msg_decode(const char *b64, size_t len, struct msg *m)
{
	long n;

	memset(m, 0, sizeof(*m));
	if (b64 == NULL || len == 0 || len > BASE64_ENCODED_LEN(SASL_OAUTH_MSG_MAX))
		return -1;
	m->p = xmalloc(SASL_OAUTH_MSG_MAX);
	n = base64_decode(b64, len, m->p, SASL_OAUTH_MSG_MAX);
	if (n <= 0)
		return -1;
	m->len = (size_t)n;
	return 0;
}

static void
msg_free(struct msg *m)
{
	if (m->p != NULL) {
		str_wipe(m->p, SASL_OAUTH_MSG_MAX);
		free(m->p);
	}
	memset(m, 0, sizeof(*m));
}

static bool
msg_take(struct msg *m, const char *s)
{
	size_t n = strlen(s);

	if (m->len - m->pos < n || memcmp(m->p + m->pos, s, n) != 0)
		return false;
	m->pos += n;
	return true;
}

/* RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool
b64token_ok(const unsigned char *t, size_t len)
{
	size_t i = 0;

	while (i < len && ((t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= 'a' && t[i] <= 'z') ||
	                   (t[i] >= '0' && t[i] <= '9') || t[i] == '-' || t[i] == '.' || t[i] == '_' ||
	                   t[i] == '~' || t[i] == '+' || t[i] == '/'))
		i++;
	if (i == 0)
		return false;
	while (i < len && t[i] == '=')
		i++;
	return i == len;
}

/* auth-value: "Bearer" 1*SP b64token (RFC 6750 2.1; scheme names are
 * case-insensitive, RFC 7235 2.1).  Copies the token into out. */
static int
parse_auth_value(const unsigned char *v, size_t len, struct sasl_bearer *out)
{
	size_t i = 6;

	if (len < 6 || strncasecmp((const char *)v, "Bearer", 6) != 0)
		return -1;
	if (i >= len || v[i] != ' ')
		return -1;
	while (i < len && v[i] == ' ')
		i++;
	if (len - i > SASL_TOKEN_MAX || !b64token_ok(v + i, len - i))
		return -1;
	memcpy(out->token, v + i, len - i);
	out->token[len - i] = '\0';
	return 0;
}

/* RFC 5801 4: saslname = 1*(UTF8-char-safe / "=2C" / "=3D"), ended by ','. */
static int
parse_saslname(struct msg *m, char *out, size_t outsize)
{
	size_t o = 0;

	while (m->pos < m->len && m->p[m->pos] != ',') {
		unsigned char c = m->p[m->pos];

		if (c == '=') {
			if (msg_take(m, "=2C"))
				c = ',';
			else if (msg_take(m, "=3D"))
				c = '=';
			else
				return -1;
		} else {
			if (c < 0x20 || c == 0x7f)
				return -1;   /* NUL, KVSEP and other controls */
			m->pos++;
		}
		if (o + 1 >= outsize)
			return -1;
		out[o++] = (char)c;
	}
	if (o == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

/* gs2-header = gs2-cb-flag "," [ "a=" saslname ] "," ; cb-flag "n" or "y". */
static int
parse_gs2_header(struct msg *m, struct sasl_bearer *out)
{
	if (!msg_take(m, "n,") && !msg_take(m, "y,"))
		return -1;              /* "p=": OAUTHBEARER has no channel binding */
	if (msg_take(m, "a=") && parse_saslname(m, out->user, sizeof(out->user)) == -1)
		return -1;
	return msg_take(m, ",") ? 0 : -1;
}

/* value = *(VCHAR / SP / HTAB / CR / LF) */
static bool
kv_value_char(unsigned char c)
{
	return (c >= 0x21 && c <= 0x7e) || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
sasl_oauthbearer_decode(const char *b64, size_t len, struct sasl_bearer *out)
{
	struct msg m;
	bool have_auth = false;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (msg_decode(b64, len, &m) == -1)
		goto out;
	if (m.len == 1 && m.p[0] == KVSEP) {
		ret = SASL_OAUTH_DUMMY;
		goto out;
	}
	if (parse_gs2_header(&m, out) == -1 || !msg_take(&m, "\x01"))
		goto out;
	for (;;) {
		size_t key, key_len, val;

		if (m.pos >= m.len)
			goto out;               /* no closing KVSEP */
		if (m.p[m.pos] == KVSEP) {
			if (m.pos + 1 != m.len)
				goto out;       /* bytes after the end */
			break;
		}
		key = m.pos;
		while (m.pos < m.len && ((m.p[m.pos] >= 'a' && m.p[m.pos] <= 'z') ||
		                         (m.p[m.pos] >= 'A' && m.p[m.pos] <= 'Z')))
			m.pos++;
		key_len = m.pos - key;
		if (key_len == 0 || !msg_take(&m, "="))
			goto out;
		val = m.pos;
		while (m.pos < m.len && kv_value_char(m.p[m.pos]))
			m.pos++;
		if (m.pos >= m.len || m.p[m.pos] != KVSEP)
			goto out;
		if (key_len == 4 && memcmp(m.p + key, "auth", 4) == 0) {
			if (have_auth || parse_auth_value(m.p + val, m.pos - val, out) == -1)
				goto out;
			have_auth = true;
		}
		m.pos++;                        /* the KVSEP */
	}
	if (have_auth)
		ret = 0;
out:
	if (ret != 0)
		str_wipe(out, sizeof(*out));
	msg_free(&m);
	return ret;
}

int
sasl_xoauth2_decode(const char *b64, size_t len, struct sasl_bearer *out)
{
	struct msg m;
	size_t start, n;
	unsigned char *sep;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (msg_decode(b64, len, &m) == -1 || !msg_take(&m, "user="))
		goto out;
	start = m.pos;
	sep = memchr(m.p + start, KVSEP, m.len - start);
	if (sep == NULL)
		goto out;
	n = (size_t)(sep - (m.p + start));
	if (n == 0 || n > AUTH_USER_MAX)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (m.p[start + i] < 0x20 || m.p[start + i] == 0x7f)
			goto out;
	memcpy(out->user, m.p + start, n);
	m.pos = start + n + 1;
	if (!msg_take(&m, "auth="))
		goto out;
	start = m.pos;
	sep = memchr(m.p + start, KVSEP, m.len - start);
	/* The message ends with exactly two KVSEPs after the token. */
	if (sep == NULL || (size_t)(sep - m.p) + 2 != m.len || sep[1] != KVSEP)
		goto out;
	if (parse_auth_value(m.p + start, (size_t)(sep - (m.p + start)), out) == -1)
		goto out;
	ret = 0;
out:
	if (ret != 0)
		str_wipe(out, sizeof(*out));
	msg_free(&m);
	return ret;
}

size_t
sasl_oauth_error_b64(const char *status, const char *openid_configuration_or_null, char *out, size_t outsize)
{
	json_t *j = json_object();
	char *text;
	size_t len, n = 0;

	json_object_set_new(j, "status", json_string(status));
	if (openid_configuration_or_null != NULL)
		json_object_set_new(j, "openid-configuration", json_string(openid_configuration_or_null));
	text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (text == NULL)
		return 0;               /* status or URL not valid UTF-8 */
	len = strlen(text);
	if (BASE64_ENCODED_LEN(len) + 1 <= outsize)
		n = base64_encode((const unsigned char *)text, len, out);
	else if (outsize > 0)
		out[0] = '\0';
	free(text);
	return n;
}
