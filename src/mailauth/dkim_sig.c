/* The meaning of the two tag lists: a DKIM-Signature (RFC 6376 3.5) and a
 * key record (RFC 6376 3.6.1, RFC 8463).  Every check that makes a
 * signature unusable is here, so verification only does cryptography. */
#include "mailauth/dkim_private.h"

#include <string.h>

#include "lib/str.h"

static bool
value_is(const struct dkim_tag *t, const char *s)
{
	return t->value_len == strlen(s) && memcmp(t->value, s, t->value_len) == 0;
}

/* A decimal of at most 12 digits (RFC 6376 3.5: l=, t=, x= are 1*76DIGIT,
 * but 12 digits are enough for any time and size Tern will see). */
static int
parse_num(const struct dkim_tag *t, uint64_t *out)
{
	char tmp[16];

	if (t->value_len == 0 || t->value_len > 12)
		return -1;
	memcpy(tmp, t->value, t->value_len);
	tmp[t->value_len] = '\0';
	return str_parse_u64(tmp, out);
}

/* d= and s=: copied lower-case, checked as host names. */
static int
copy_name(const struct dkim_tag *t, char *out, size_t outsize)
{
	if (t->value_len == 0 || t->value_len >= outsize)
		return -1;
	memcpy(out, t->value, t->value_len);
	out[t->value_len] = '\0';
	str_lower(out);
	return dkim_name_valid(out, outsize - 1) ? 0 : -1;
}

static int
parse_alg(const struct dkim_tag *t, struct dkim_sig *sig)
{
	if (value_is(t, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (value_is(t, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else if (value_is(t, "rsa-sha1"))
		sig->alg = DKIM_ALG_RSA_SHA1;
	else
		return -1;
	return 0;
}

static int
parse_canon(const struct dkim_tag *t, struct dkim_sig *sig)
{
	const char *slash;
	size_t hl;

	if (t == NULL) {   /* default simple/simple */
		sig->header_relaxed = sig->body_relaxed = false;
		return 0;
	}
	slash = memchr(t->value, '/', t->value_len);
	hl = slash != NULL ? (size_t)(slash - t->value) : t->value_len;
	if (hl == 6 && memcmp(t->value, "simple", 6) == 0)
		sig->header_relaxed = false;
	else if (hl == 7 && memcmp(t->value, "relaxed", 7) == 0)
		sig->header_relaxed = true;
	else
		return -1;
	if (slash == NULL) {
		sig->body_relaxed = false;
		return 0;
	}
	hl = t->value_len - hl - 1;
	if (hl == 6 && memcmp(slash + 1, "simple", 6) == 0)
		sig->body_relaxed = false;
	else if (hl == 7 && memcmp(slash + 1, "relaxed", 7) == 0)
		sig->body_relaxed = true;
	else
		return -1;
	return 0;
}

/* h=: field names separated by ':' with FWS around them. */
static int
parse_h(const struct dkim_tag *t, struct dkim_sig *sig)
{
	char tmp[DKIM_KEY_RECORD_MAX];
	char *p, *colon;
	bool from = false;

	if (dkim_tag_value_nows(t, tmp, sizeof(tmp)) != 0)
		return -1;
	sig->nh = 0;
	for (p = tmp;; p = colon + 1) {
		size_t n;

		colon = strchr(p, ':');
		n = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (n == 0 || n > DOMAIN_MAX || sig->nh == DKIM_H_MAX)
			return -1;
		memcpy(sig->h[sig->nh], p, n);
		sig->h[sig->nh][n] = '\0';
		str_lower(sig->h[sig->nh]);
		if (strcmp(sig->h[sig->nh], "from") == 0)
			from = true;
		sig->nh++;
		if (colon == NULL)
			break;
	}
	/* RFC 6376 5.4: From MUST be signed. */
	return from ? 0 : -1;
}

/* i= is [local-part] "@" domain; its domain must be d= or under it. */
static int
parse_i(const struct dkim_tag *t, struct dkim_sig *sig)
{
	const char *at = memchr(t->value, '@', t->value_len);
	size_t n, dl = strlen(sig->d);

	if (at == NULL)
		return -1;
	n = t->value_len - (size_t)(at + 1 - t->value);
	if (n == 0 || n > DOMAIN_MAX)
		return -1;
	memcpy(sig->i_domain, at + 1, n);
	sig->i_domain[n] = '\0';
	str_lower(sig->i_domain);
	if (strcmp(sig->i_domain, sig->d) == 0)
		return 0;
	if (n > dl && sig->i_domain[n - dl - 1] == '.' && strcmp(sig->i_domain + n - dl, sig->d) == 0)
		return 0;
	return -1;
}

static int
sig_times(const struct dkim_tags *tags, struct dkim_sig *sig, const char **error_out)
{
	const struct dkim_tag *t;

	if ((t = dkim_tags_get(tags, "l")) != NULL) {
		if (parse_num(t, &sig->l) != 0)
			goto bad;
		sig->has_l = true;
	}
	if ((t = dkim_tags_get(tags, "t")) != NULL) {
		if (parse_num(t, &sig->t) != 0)
			goto bad;
		sig->has_t = true;
	}
	if ((t = dkim_tags_get(tags, "x")) != NULL) {
		if (parse_num(t, &sig->x) != 0)
			goto bad;
		sig->has_x = true;
		/* RFC 6376 3.5: x= MUST be greater than t=. */
		if (sig->has_t && sig->x <= sig->t) {
			*error_out = "x= is not after t=";
			return -1;
		}
	}
	return 0;
bad:
	*error_out = "l=, t= or x= is not a number";
	return -1;
}

int
dkim_sig_parse(const char *value, size_t len, struct dkim_sig *sig, const char **error_out)
{
	struct dkim_tags tags;
	const struct dkim_tag *t;
	char tmp[DKIM_KEY_RECORD_MAX];
	long n;

	memset(sig, 0, sizeof(*sig));
	if (dkim_tags_parse(value, len, &tags, error_out) != 0)
		return -1;
	/* d= and s= first, so that even a broken signature can be reported. */
	if ((t = dkim_tags_get(&tags, "d")) == NULL || copy_name(t, sig->d, sizeof(sig->d)) != 0) {
		*error_out = "d= missing or not a domain";
		return -1;
	}
	if ((t = dkim_tags_get(&tags, "s")) == NULL || copy_name(t, sig->s, sizeof(sig->s)) != 0) {
		*error_out = "s= missing or not a selector";
		return -1;
	}
	if ((t = dkim_tags_get(&tags, "b")) != NULL) {
		sig->b_raw_start = t->raw_start;
		sig->b_raw_end = t->raw_end;
		if (dkim_tag_value_nows(t, tmp, sizeof(tmp)) == 0)
			str_lcpy(sig->b_prefix, tmp, sizeof(sig->b_prefix));
	}
	if ((t = dkim_tags_get(&tags, "v")) == NULL || !value_is(t, "1")) {
		*error_out = "v= missing or not 1";
		return -1;
	}
	if ((t = dkim_tags_get(&tags, "a")) == NULL || parse_alg(t, sig) != 0) {
		*error_out = "a= missing or unknown";
		return -1;
	}
	if (parse_canon(dkim_tags_get(&tags, "c"), sig) != 0) {
		*error_out = "c= unknown";
		return -1;
	}
	if ((t = dkim_tags_get(&tags, "h")) == NULL || parse_h(t, sig) != 0) {
		*error_out = "h= missing, too long or without From";
		return -1;
	}
	if ((t = dkim_tags_get(&tags, "bh")) == NULL || (n = dkim_tag_base64(t, sig->bh, sizeof(sig->bh))) <= 0) {
		*error_out = "bh= missing or not base64";
		return -1;
	}
	sig->bh_len = (size_t)n;
	if ((t = dkim_tags_get(&tags, "b")) == NULL || (n = dkim_tag_base64(t, sig->b, sizeof(sig->b))) <= 0) {
		*error_out = "b= missing or not base64";
		return -1;
	}
	sig->b_len = (size_t)n;
	str_lcpy(sig->i_domain, sig->d, sizeof(sig->i_domain));
	if ((t = dkim_tags_get(&tags, "i")) != NULL && parse_i(t, sig) != 0) {
		*error_out = "i= is not in d=";
		return -1;
	}
	/* q= is a colon list of methods; dns/txt is the only one defined. */
	if ((t = dkim_tags_get(&tags, "q")) != NULL && !value_is(t, "dns/txt")) {
		*error_out = "q= is not dns/txt";
		return -1;
	}
	return sig_times(&tags, sig, error_out);
}

/* A colon list (h=, s= of a key) holding item, or "*" for s=. */
static bool
list_has(const struct dkim_tag *t, const char *item, bool star)
{
	char tmp[256];
	char *p, *save = NULL;

	if (dkim_tag_value_nows(t, tmp, sizeof(tmp)) != 0)
		return false;
	for (p = strtok_r(tmp, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
		if (strcmp(p, item) == 0 || (star && strcmp(p, "*") == 0))
			return true;
	}
	return false;
}

int
dkim_key_record_parse(const char *txt, size_t len, struct dkim_key_record *out, const char **error_out)
{
	struct dkim_tags tags;
	const struct dkim_tag *t;
	long n;

	memset(out, 0, sizeof(*out));
	if (dkim_tags_parse(txt, len, &tags, error_out) != 0)
		return -1;
	/* RFC 6376 3.6.1: v=, if present, MUST be first and DKIM1. */
	if ((t = dkim_tags_get(&tags, "v")) != NULL && (t != &tags.tag[0] || !value_is(t, "DKIM1"))) {
		*error_out = "key: v= is not DKIM1 or not first";
		return -1;
	}
	out->type = DKIM_KEY_RSA;
	if ((t = dkim_tags_get(&tags, "k")) != NULL) {
		if (value_is(t, "ed25519")) {
			out->type = DKIM_KEY_ED25519;
		} else if (!value_is(t, "rsa")) {
			*error_out = "key: k= unknown";
			return -1;
		}
	}
	if ((t = dkim_tags_get(&tags, "h")) != NULL && !list_has(t, "sha256", false)) {
		*error_out = "key: h= does not allow sha256";
		return -1;
	}
	if ((t = dkim_tags_get(&tags, "s")) != NULL && !list_has(t, "email", true)) {
		*error_out = "key: s= is not for email";
		return -1;
	}
	if ((t = dkim_tags_get(&tags, "t")) != NULL) {
		out->testing = list_has(t, "y", false);
		out->strict = list_has(t, "s", false);
	}
	if ((t = dkim_tags_get(&tags, "p")) == NULL) {
		*error_out = "key: p= missing";
		return -1;
	}
	if (t->value_len == 0) {
		out->revoked = true;
		return 0;
	}
	if ((n = dkim_tag_base64(t, out->p, sizeof(out->p))) <= 0) {
		*error_out = "key: p= is not base64";
		return -1;
	}
	out->p_len = (size_t)n;
	return 0;
}
