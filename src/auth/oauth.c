/* Access-token policy (RFC 9068 4, RFC 7519 4.1, RFC 7662 2.2).  The
 * order matters: nothing in the claims is looked at before the signature
 * is good, so a forged token learns only "bad signature". */
#include "auth/oauth.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwks.h"
#include "auth/jwt.h"
#include "auth/oauth_http.h"
#include "lib/limits.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct oauth {
	char *issuer, *audience, *user_claim, *scope;
	char *ca_file;
	unsigned skew;
	struct jwks *jwks;           /* NULL: introspection only */
	char *introspection_url;
	char *introspection_userpwd; /* "id:secret", form-encoded halves; NULL: none */
	time_t (*now)(void *arg);
	void *now_arg;
};

static time_t
oauth_wall_clock(void *arg)
{
	return time(NULL);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

struct oauth *
oauth_new(const struct oauth_config *cfg, char **error_out)
{
	struct oauth *o;
	const char *file = cfg->jwks_file, *url = cfg->jwks_url;

	*error_out = NULL;
	if (file != NULL && file[0] == '\0')
		file = NULL;
	if (url != NULL && url[0] == '\0')
		url = NULL;
	if (cfg->issuer == NULL || cfg->issuer[0] == '\0' || cfg->audience == NULL || cfg->audience[0] == '\0') {
		*error_out = xstrdup("oauth: issuer and audience are required");
		return NULL;
	}
	if (file != NULL && url != NULL) {
		*error_out = xstrdup("oauth: give jwks_file or jwks_url, not both");
		return NULL;
	}
	if (file == NULL && url == NULL && (cfg->introspection_url == NULL || cfg->introspection_url[0] == '\0')) {
		*error_out = xstrdup("oauth: a JWKS (jwks_file or jwks_url) or an introspection_url is required");
		return NULL;
	}
	if (cfg->introspection_url != NULL && cfg->introspection_url[0] != '\0' &&
	    !oauth_http_url_ok(cfg->introspection_url)) {
		*error_out = xstrdup("oauth: introspection_url must be https");
		return NULL;
	}
	o = xcalloc(1, sizeof(*o));
	o->issuer = xstrdup(cfg->issuer);
	o->audience = xstrdup(cfg->audience);
	o->user_claim = xstrdup(cfg->user_claim != NULL && cfg->user_claim[0] != '\0' ? cfg->user_claim : "email");
	o->scope = dup_or_null(cfg->scope);
	o->ca_file = dup_or_null(cfg->ca_file);
	o->skew = cfg->clock_skew_sec != 0 ? cfg->clock_skew_sec : 60;
	o->introspection_url = dup_or_null(cfg->introspection_url);
	if (o->introspection_url != NULL && cfg->introspection_client_id != NULL) {
		/* RFC 6749 2.3.1: form-encode both halves before Basic. */
		char *id = oauth_http_form_escape(cfg->introspection_client_id);
		char *secret = oauth_http_form_escape(cfg->introspection_client_secret != NULL ?
		                                      cfg->introspection_client_secret : "");
		size_t n = strlen(id) + 1 + strlen(secret) + 1;

		o->introspection_userpwd = xmalloc(n);
		snprintf(o->introspection_userpwd, n, "%s:%s", id, secret);
		free(id);
		str_wipe(secret, strlen(secret));
		free(secret);
	}
	o->now = oauth_wall_clock;
	if (file != NULL || url != NULL) {
		char *err;

		o->jwks = jwks_new(file, url, o->ca_file, cfg->jwks_refresh_sec, &err);
		if (o->jwks == NULL) {
			size_t n = strlen(err) + 16;

			*error_out = xmalloc(n);
			snprintf(*error_out, n, "oauth: %s", err);
			free(err);
			oauth_free(&o);
			return NULL;
		}
	}
	return o;
}

void
oauth_free(struct oauth **op)
{
	struct oauth *o = *op;

	if (o == NULL)
		return;
	jwks_free(&o->jwks);
	free(o->issuer);
	free(o->audience);
	free(o->user_claim);
	free(o->scope);
	free(o->ca_file);
	free(o->introspection_url);
	if (o->introspection_userpwd != NULL) {
		str_wipe(o->introspection_userpwd, strlen(o->introspection_userpwd));
		free(o->introspection_userpwd);
	}
	free(o);
	*op = NULL;
}

void
oauth_set_clock(struct oauth *o, time_t (*now)(void *arg), void *arg)
{
	o->now = now;
	o->now_arg = arg;
	if (o->jwks != NULL)
		jwks_set_clock(o->jwks, now, arg);
}

struct jwks *
oauth_jwks(struct oauth *o)
{
	return o->jwks;
}

/* A NumericDate (RFC 7519 2): a finite non-negative JSON number.  Returns
 * 1 if present and valid, 0 if absent, -1 if malformed. */
static int
claim_time(json_t *claims, const char *name, double *out)
{
	json_t *v = json_object_get(claims, name);

	if (v == NULL)
		return 0;
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return isfinite(*out) && *out >= 0 ? 1 : -1;
}

static bool
aud_matches(json_t *aud, const char *want)
{
	json_t *v;
	size_t i;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (json_is_array(aud))
		json_array_foreach(aud, i, v)
			if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
				return true;
	return false;
}

/* Is want one of the space-separated words of list? */
static bool
word_in(const char *list, const char *want)
{
	size_t wl = strlen(want);

	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, " ");

		if (n == wl && memcmp(p, want, n) == 0)
			return true;
		p += n;
		p += strspn(p, " ");
	}
	return false;
}

/* RFC 8693 4.2 "scope"; Entra ID's "scp" (a string), Okta's (an array). */
static bool
scope_ok(json_t *claims, const char *want)
{
	json_t *scope = json_object_get(claims, "scope"), *scp = json_object_get(claims, "scp");

	if (json_is_string(scope) && word_in(json_string_value(scope), want))
		return true;
	if (json_is_string(scp) && word_in(json_string_value(scp), want))
		return true;
	return json_is_array(scp) && aud_matches(scp, want);
}

/* "email_verified": false (or "false", as some providers send) refuses. */
static bool
email_unverified(json_t *claims)
{
	json_t *v = json_object_get(claims, "email_verified");

	return json_is_false(v) || (json_is_string(v) && strcmp(json_string_value(v), "false") == 0);
}

static int
oauth_user(struct oauth *o, json_t *claims, char *user_out, size_t user_size, const char **reason_out)
{
	json_t *v = json_object_get(claims, o->user_claim);
	const char *s;
	size_t len;

	if (v == NULL) {
		*reason_out = "no user claim";
		return -1;
	}
	*reason_out = "bad user claim";
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0 || len > AUTH_USER_MAX || len >= user_size)
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return -1;
	if (strcmp(o->user_claim, "email") == 0 && email_unverified(claims)) {
		*reason_out = "email not verified";
		return -1;
	}
	memcpy(user_out, s, len + 1);
	str_lower(user_out);
	*reason_out = NULL;
	return 0;
}

/* The checks a signed token and an introspection answer share.  In an
 * introspection answer iss, aud and exp are optional (RFC 7662 2.2). */
static int
oauth_check_claims(struct oauth *o, json_t *claims, bool introspected, char *user_out, size_t user_size,
                   const char **reason_out)
{
	json_t *iss = json_object_get(claims, "iss"), *aud = json_object_get(claims, "aud");
	double now = (double)o->now(o->now_arg), skew = o->skew, t;
	int r;

	if (iss != NULL || !introspected) {
		if (!json_is_string(iss) || strcmp(json_string_value(iss), o->issuer) != 0) {
			*reason_out = "wrong issuer";
			return -1;
		}
	}
	if ((aud != NULL || !introspected) && !aud_matches(aud, o->audience)) {
		*reason_out = "wrong audience";
		return -1;
	}
	r = claim_time(claims, "exp", &t);
	if (r < 0 || (r == 0 && !introspected)) {
		*reason_out = r < 0 ? "malformed" : "no expiry";
		return -1;
	}
	if (r > 0 && now >= t + skew) {
		*reason_out = "expired";
		return -1;
	}
	r = claim_time(claims, "nbf", &t);
	if (r < 0 || (r > 0 && now + skew < t)) {
		*reason_out = r < 0 ? "malformed" : "not yet valid";
		return -1;
	}
	r = claim_time(claims, "iat", &t);
	if (r < 0 || (r > 0 && now + skew < t)) {
		*reason_out = r < 0 ? "malformed" : "not yet valid";
		return -1;
	}
	if (o->scope != NULL && !scope_ok(claims, o->scope)) {
		*reason_out = "missing scope";
		return -1;
	}
	return oauth_user(o, claims, user_out, user_size, reason_out);
}

static int
oauth_verify_jwt(struct oauth *o, const char *token, size_t len, char *user_out, size_t user_size,
                 const char **reason_out)
{
	struct jwt jwt;
	int r = -1;

	if (jwt_parse(token, len, &jwt, reason_out) == -1)
		return -1;
	switch (jwt.alg) {
	case JWT_ALG_NONE:
		*reason_out = "alg none";
		goto out;
	case JWT_ALG_HMAC:
		*reason_out = "alg not allowed";
		goto out;
	case JWT_ALG_UNKNOWN:
		*reason_out = "unsupported alg";
		goto out;
	default:
		break;
	}
	if (jwks_verify(o->jwks, &jwt, reason_out) == -1)
		goto out;
	r = oauth_check_claims(o, jwt.claims, false, user_out, user_size, reason_out);
out:
	jwt_clear(&jwt);
	return r;
}

/* RFC 7662: POST token=...; the answer must say "active": true. */
static int
oauth_introspect(struct oauth *o, const char *token, char *user_out, size_t user_size, const char **reason_out)
{
	char *tok = oauth_http_form_escape(token), *body, *resp = NULL;
	size_t n = strlen(tok) + 64, resp_len;
	json_t *j = NULL;
	char err[256];
	int r = -1;

	body = xmalloc(n);
	snprintf(body, n, "token=%s&token_type_hint=access_token", tok);
	*reason_out = "introspection failed";
	if (oauth_http_request(o->introspection_url, o->ca_file, o->introspection_userpwd, body,
	                       OAUTH_INTROSPECT_MAX, &resp, &resp_len, err, sizeof(err)) == -1)
		goto out;
	if (jwt_json_load(resp, resp_len, JWT_JSON_DEPTH_MAX, &j) == -1 || !json_is_object(j))
		goto out;
	if (!json_is_true(json_object_get(j, "active"))) {
		*reason_out = "inactive token";
		goto out;
	}
	r = oauth_check_claims(o, j, true, user_out, user_size, reason_out);
out:
	json_decref(j);
	free(resp);
	str_wipe(body, strlen(body));
	str_wipe(tok, strlen(tok));
	free(body);
	free(tok);
	return r;
}

int
oauth_verify(struct oauth *o, const char *token, char *user_out, size_t user_size, const char **reason_out)
{
	size_t len, dots = 0;

	if (user_size > 0)
		user_out[0] = '\0';
	*reason_out = "malformed";
	if (token == NULL || user_size == 0)
		return -1;
	len = strnlen(token, JWT_TOKEN_MAX + 1);
	if (len > JWT_TOKEN_MAX) {
		*reason_out = "too long";
		return -1;
	}
	/* RFC 6750 2.1 b64token: the only characters a bearer token has. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)token[i];

		if (c == '.')
			dots++;
		else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		           c == '-' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='))
			return -1;
	}
	if (len == 0)
		return -1;
	if (o->jwks != NULL && dots == 2)
		return oauth_verify_jwt(o, token, len, user_out, user_size, reason_out);
	if (o->introspection_url != NULL)
		return oauth_introspect(o, token, user_out, user_size, reason_out);
	return -1;
}
