/* Signing: a DKIM-Signature header to send before the message file's
 * bytes.  relaxed/relaxed, because relays re-fold headers and trim
 * trailing spaces; no l=, because it lets anyone append to the body. */
#include "mailauth/dkim_private.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "lib/xalloc.h"

/* The fields signed when present: those a reader sees and those that say
 * how to read the body (RFC 6376 5.4.1's list, less the trace fields). */
static const char *const sign_fields[] = {
	"from", "to", "cc", "subject", "date", "message-id", "reply-to", "in-reply-to", "references",
	"mime-version", "content-type", "content-transfer-encoding", "list-id",
};

/* A header being folded at DKIM_LINE_MAX. */
struct fold {
	struct buf b;
	size_t col;
};

static void
fold_raw(struct fold *f, const char *s, size_t n)
{
	buf_append(&f->b, s, n);
	f->col += n;
}

/* A token that is not split: on this line after a space, or on a new one. */
static void
fold_token(struct fold *f, const char *s)
{
	size_t n = strlen(s);

	if (f->col + 1 + n > DKIM_LINE_MAX) {
		buf_append(&f->b, "\r\n\t", 3);
		f->col = 1;
	} else {
		fold_raw(f, " ", 1);
	}
	fold_raw(f, s, n);
}

/* base64 may be broken anywhere by FWS (RFC 6376 3.5 b=, bh=). */
static void
fold_b64(struct fold *f, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		size_t room = f->col < DKIM_LINE_MAX ? DKIM_LINE_MAX - f->col : 0;

		if (room == 0) {
			buf_append(&f->b, "\r\n\t", 3);
			f->col = 1;
			continue;
		}
		if (room > n)
			room = n;
		fold_raw(f, s, room);
		s += room;
		n -= room;
	}
}

/* h=: names, FWS allowed around the colons. */
static void
fold_h(struct fold *f, const char (*names)[DOMAIN_MAX + 1], size_t n)
{
	size_t i;

	fold_token(f, "h=");
	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]) + 1;

		if (f->col + len > DKIM_LINE_MAX) {
			buf_append(&f->b, "\r\n\t", 3);
			f->col = 1;
		}
		fold_raw(f, names[i], len - 1);
		fold_raw(f, i + 1 < n ? ":" : ";", 1);
	}
}

/* The names for h=: each present field once per occurrence, and From once
 * more, so that a From added later breaks the signature (RFC 6376 8.15). */
static size_t
pick_fields(const struct dkim_msg *msg, char (*names)[DOMAIN_MAX + 1])
{
	size_t i, j, n = 0;

	for (i = 0; i < sizeof(sign_fields) / sizeof(sign_fields[0]); i++) {
		size_t count = strcmp(sign_fields[i], "from") == 0 ? 1 : 0;

		for (j = 0; j < msg->n; j++)
			count += dkim_field_is(&msg->field[j], sign_fields[i]);
		for (; count > 0 && n < DKIM_H_MAX; count--)
			str_lcpy(names[n++], sign_fields[i], DOMAIN_MAX + 1);
	}
	return n;
}

static int
body_hash(int fd, const struct dkim_msg *msg, char *b64, const char **error_out)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct dkim_body body;
	unsigned char hash[EVP_MAX_MD_SIZE];
	unsigned int hlen;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		*error_out = "cannot start SHA-256";
		return -1;
	}
	dkim_body_init(&body, true, UINT64_MAX, md);
	if (dkim_msg_hash_body(fd, msg, &body, 1, error_out) != 0) {
		EVP_MD_CTX_free(md);
		return -1;
	}
	EVP_DigestFinal_ex(md, hash, &hlen);
	EVP_MD_CTX_free(md);
	base64_encode(hash, hlen, b64);
	return 0;
}

int
dkim_sign(const struct dkim_key *key, int fd, uint64_t size, time_t now, char **header_out, const char **error_out)
{
	struct dkim_msg *msg = NULL;
	struct fold f = { BUF_INIT, 0 };
	struct buf data = BUF_INIT;
	char bh[BASE64_ENCODED_LEN(EVP_MAX_MD_SIZE) + 1], tmp[DOMAIN_MAX + 8];
	char b64[BASE64_ENCODED_LEN(DKIM_SIG_BYTES_MAX) + 1];
	unsigned char sig[DKIM_SIG_BYTES_MAX];
	size_t nnames, siglen;

	*header_out = NULL;
	if (dkim_msg_read(fd, size, &msg, error_out) != 0)
		return -1;
	if (body_hash(fd, msg, bh, error_out) != 0)
		goto fail;
	{
		/* 16K of names: on the heap, not a worker's stack */
		char (*h)[DOMAIN_MAX + 1] = xcalloc(DKIM_H_MAX, DOMAIN_MAX + 1);

		nnames = pick_fields(msg, h);
		fold_raw(&f, "DKIM-Signature:", 15);
		snprintf(tmp, sizeof(tmp), "a=%s;", key->type == DKIM_KEY_RSA ? "rsa-sha256" : "ed25519-sha256");
		fold_token(&f, "v=1;");
		fold_token(&f, tmp);
		fold_token(&f, "c=relaxed/relaxed;");
		snprintf(tmp, sizeof(tmp), "d=%s;", key->domain);
		fold_token(&f, tmp);
		snprintf(tmp, sizeof(tmp), "s=%s;", key->selector);
		fold_token(&f, tmp);
		snprintf(tmp, sizeof(tmp), "t=%" PRIu64 ";", (uint64_t)now);
		fold_token(&f, tmp);
		fold_h(&f, (const char (*)[DOMAIN_MAX + 1])h, nnames);
		fold_token(&f, "bh=");
		fold_b64(&f, bh);
		fold_raw(&f, ";", 1);
		fold_token(&f, "b=");
		/* What is signed: the chosen fields, then this field with b=
		 * empty and without its CRLF (RFC 6376 3.7). */
		dkim_canon_fields(msg, (const char (*)[DOMAIN_MAX + 1])h, nnames, true, &data);
		free(h);
	}
	dkim_canon_header(f.b.data, f.b.len, true, false, &data);
	if (dkim_crypto_sign(key->pkey, data.data, data.len, sig, &siglen) != 0) {
		*error_out = "the signing operation failed";
		goto fail;
	}
	base64_encode(sig, siglen, b64);
	fold_b64(&f, b64);
	buf_append(&f.b, "\r\n", 2);
	*header_out = f.b.data;
	buf_free(&data);
	dkim_msg_free(&msg);
	return 0;
fail:
	buf_free(&f.b);
	buf_free(&data);
	dkim_msg_free(&msg);
	return -1;
}

int
dkim_sign_message(const struct dkim_keys *keys, int fd, uint64_t size, const char *envelope_from, time_t now,
                  char **header_out, const char **error_out)
{
	const struct dkim_key *key = NULL;
	struct dkim_msg *msg = NULL;
	char domain[DOMAIN_MAX + 1];

	*header_out = NULL;
	if (dkim_msg_read(fd, size, &msg, error_out) != 0)
		return -1;
	if (dkim_msg_from_domain(msg, domain, sizeof(domain)) == 0)
		key = dkim_keys_find(keys, domain, NULL);
	dkim_msg_free(&msg);
	if (key == NULL && envelope_from != NULL &&
	    dkim_addr_domain(envelope_from, strlen(envelope_from), domain, sizeof(domain)) == 0)
		key = dkim_keys_find(keys, domain, NULL);
	if (key == NULL)
		return 0;   /* no key for this sender: unsigned */
	return dkim_sign(key, fd, size, now, header_out, error_out);
}
