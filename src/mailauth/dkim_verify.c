/* Verification (RFC 6376 6): every DKIM-Signature field, up to
 * DKIM_SIGS_MAX, each with its own verdict.  The body is read once for all
 * of them; keys are looked up only for signatures whose body hash matched. */
#include "mailauth/dkim_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

struct check {
	struct dkim_sig sig;
	const struct dkim_field *field;
	struct dkim_verdict *v;
	bool done;              /* v->result is final */
	EVP_MD_CTX *md;
	struct dkim_body body;
};

static void
decide(struct check *c, enum dkim_result r, const char *reason)
{
	c->v->result = r;
	c->v->reason = reason;
	c->done = true;
}

/* Parses the field and makes the checks that need neither body nor key. */
static void
check_start(struct check *c, time_t now)
{
	const char *colon = memchr(c->field->raw, ':', c->field->len);
	const char *value = colon + 1;
	const char *error;

	if (dkim_sig_parse(value, c->field->len - (size_t)(value - c->field->raw), &c->sig, &error) != 0) {
		str_lcpy(c->v->d, c->sig.d, sizeof(c->v->d));
		str_lcpy(c->v->s, c->sig.s, sizeof(c->v->s));
		str_lcpy(c->v->b, c->sig.b_prefix, sizeof(c->v->b));
		decide(c, DKIM_PERMERROR, error);
		return;
	}
	c->v->alg = c->sig.alg;
	str_lcpy(c->v->d, c->sig.d, sizeof(c->v->d));
	str_lcpy(c->v->s, c->sig.s, sizeof(c->v->s));
	str_lcpy(c->v->b, c->sig.b_prefix, sizeof(c->v->b));
	if (c->sig.alg == DKIM_ALG_RSA_SHA1) {
		decide(c, DKIM_PERMERROR, "rsa-sha1 is not accepted (RFC 8301)");
		return;
	}
	if (c->sig.has_x && (uint64_t)now > c->sig.x) {
		decide(c, DKIM_PERMERROR, "signature expired");
		return;
	}
	c->md = EVP_MD_CTX_new();
	if (c->md == NULL || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		decide(c, DKIM_TEMPERROR, "cannot start SHA-256");
		return;
	}
	dkim_body_init(&c->body, c->sig.body_relaxed, c->sig.has_l ? c->sig.l : UINT64_MAX, c->md);
}

static bool
body_matches(struct check *c)
{
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hlen;

	EVP_DigestFinal_ex(c->md, hash, &hlen);
	if (c->sig.has_l && c->sig.l > c->body.emitted) {
		decide(c, DKIM_FAIL, "l= is longer than the body");
		return false;
	}
	if (hlen != c->sig.bh_len || memcmp(hash, c->sig.bh, hlen) != 0) {
		decide(c, DKIM_FAIL, "body hash did not verify");
		return false;
	}
	return true;
}

/* Into rec, the first record that parses as a key and suits the
 * signature; -1 after deciding the verdict if none does. */
static int
find_key(struct check *c, const struct dkim_txt *txt, struct dkim_key_record *rec)
{
	const char *error = "key: no record";
	size_t i;

	for (i = 0; i < txt->n; i++) {
		if (dkim_key_record_parse(txt->rec[i], strlen(txt->rec[i]), rec, &error) == 0)
			break;
	}
	if (i == txt->n) {
		decide(c, DKIM_PERMERROR, error);
		return -1;
	}
	if (rec->revoked) {
		decide(c, DKIM_PERMERROR, "key revoked");
		return -1;
	}
	if ((rec->type == DKIM_KEY_ED25519) != (c->sig.alg == DKIM_ALG_ED25519_SHA256)) {
		decide(c, DKIM_PERMERROR, "key type does not match a=");
		return -1;
	}
	if (rec->strict && strcmp(c->sig.i_domain, c->sig.d) != 0) {
		decide(c, DKIM_PERMERROR, "key is t=s and i= is a subdomain");
		return -1;
	}
	return 0;
}

static void
check_signature(struct check *c, struct dkim_msg *msg, dkim_txt_lookup *lookup, void *arg, struct dkim_txt *txt)
{
	struct dkim_key_record *rec = xcalloc(1, sizeof(*rec));
	struct buf data = BUF_INIT;
	char name[DKIM_SELECTOR_MAX + DOMAIN_MAX + 16];
	const char *value;
	size_t vstart;
	EVP_PKEY *key;
	int r;

	snprintf(name, sizeof(name), "%s._domainkey.%s", c->sig.s, c->sig.d);
	memset(txt, 0, sizeof(*txt));
	switch (lookup(arg, name, txt)) {
	case DKIM_LOOKUP_OK:
		break;
	case DKIM_LOOKUP_NONE:
		decide(c, DKIM_PERMERROR, "no key");
		goto out;
	case DKIM_LOOKUP_TEMPFAIL:
		decide(c, DKIM_TEMPERROR, "key lookup failed");
		goto out;
	default:
		decide(c, DKIM_PERMERROR, "key lookup failed permanently");
		goto out;
	}
	if (find_key(c, txt, rec) != 0)
		goto out;
	if ((key = dkim_crypto_pubkey(rec)) == NULL) {
		decide(c, DKIM_PERMERROR, "key: p= is not a public key");
		goto out;
	}
	/* The signed data: the h= fields, then this field with the b=
	 * value blanked (RFC 6376 3.7), without its CRLF. */
	dkim_canon_fields(msg, (const char (*)[DOMAIN_MAX + 1])c->sig.h, c->sig.nh, c->sig.header_relaxed, &data);
	value = memchr(c->field->raw, ':', c->field->len) + 1;
	vstart = (size_t)(value - c->field->raw);
	{
		struct buf f = BUF_INIT;

		buf_append(&f, c->field->raw, vstart + c->sig.b_raw_start);
		buf_append(&f, c->field->raw + vstart + c->sig.b_raw_end, c->field->len - vstart - c->sig.b_raw_end);
		dkim_canon_header(f.data, f.len, c->sig.header_relaxed, false, &data);
		buf_free(&f);
	}
	r = dkim_crypto_verify(key, data.data, data.len, c->sig.b, c->sig.b_len);
	EVP_PKEY_free(key);
	if (r < 0)
		decide(c, DKIM_PERMERROR, "key too short (RFC 8301)");
	else if (r == 0)
		decide(c, DKIM_FAIL, "signature did not verify");
	else
		decide(c, DKIM_PASS, NULL);
out:
	/* RFC 6376 3.6.1 t=y: a failure in testing mode counts as unsigned. */
	if (c->v->result == DKIM_FAIL && rec->testing)
		decide(c, DKIM_NEUTRAL, "failed, but the key is in testing mode");
	buf_free(&data);
	free(rec);
}

int
dkim_verify(int fd, uint64_t size, time_t now, dkim_txt_lookup *lookup, void *arg, struct dkim_verdict *verdicts,
            size_t max, size_t *n_out, const char **error_out)
{
	struct dkim_msg *msg = NULL;
	struct check *checks = NULL;
	struct dkim_body *bodies = NULL;
	struct dkim_txt *txt = NULL;
	size_t i, n = 0, nb = 0;
	int ret = -1;

	*n_out = 0;
	if (max > DKIM_SIGS_MAX)
		max = DKIM_SIGS_MAX;
	if (dkim_msg_read(fd, size, &msg, error_out) != 0)
		return -1;
	checks = xcalloc(max > 0 ? max : 1, sizeof(*checks));
	for (i = 0; i < msg->n && n < max; i++) {
		if (!dkim_field_is(&msg->field[i], "dkim-signature"))
			continue;
		memset(&verdicts[n], 0, sizeof(verdicts[n]));
		checks[n].field = &msg->field[i];
		checks[n].v = &verdicts[n];
		check_start(&checks[n], now);
		n++;
	}
	/* One pass over the body for every signature still standing. */
	bodies = xcalloc(n > 0 ? n : 1, sizeof(*bodies));
	for (i = 0; i < n; i++) {
		if (!checks[i].done)
			bodies[nb++] = checks[i].body;
	}
	if (nb > 0 && dkim_msg_hash_body(fd, msg, bodies, nb, error_out) != 0)
		goto out;
	txt = xmalloc(sizeof(*txt));
	for (i = 0, nb = 0; i < n; i++) {
		if (checks[i].done)
			continue;
		checks[i].body = bodies[nb++];
		if (body_matches(&checks[i]))
			check_signature(&checks[i], msg, lookup, arg, txt);
	}
	*n_out = n;
	ret = 0;
out:
	for (i = 0; i < n; i++)
		EVP_MD_CTX_free(checks[i].md);
	free(txt);
	free(bodies);
	free(checks);
	dkim_msg_free(&msg);
	return ret;
}

const char *
dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_PASS:
		return "pass";
	case DKIM_FAIL:
		return "fail";
	case DKIM_NEUTRAL:
		return "neutral";
	case DKIM_TEMPERROR:
		return "temperror";
	case DKIM_PERMERROR:
		return "permerror";
	}
	return "permerror";
}

int
dkim_verdict_format(const struct dkim_verdict *v, char *out, size_t outsize)
{
	char reason[160] = "";

	/* RFC 8601 2.3: reason is a quoted-string; the texts are ours and
	 * hold no quote or backslash. */
	if (v->result != DKIM_PASS && v->reason != NULL)
		snprintf(reason, sizeof(reason), " reason=\"%s\"", v->reason);
	return snprintf(out, outsize, "dkim=%s%s header.d=%s header.s=%s header.b=%s", dkim_result_name(v->result),
	                reason, v->d[0] != '\0' ? v->d : "unknown", v->s[0] != '\0' ? v->s : "unknown",
	                v->b[0] != '\0' ? v->b : "none");
}
