/* Fuzzes the DKIM tag-list parser and what reads it: the first byte picks
 *   0  a DKIM-Signature value for dkim_sig_parse(),
 *   1  a key record for dkim_key_record_parse() (and the public key in it),
 *   2  a plain tag list for dkim_tags_parse(),
 *   3  a body for both canonicalizers, split at the second byte.
 * Every span a success reports must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/dkim_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_tags(const char *s, size_t len)
{
	struct dkim_tags t;
	const char *err;
	size_t i;

	if (dkim_tags_parse(s, len, &t, &err) != 0)
		return;
	for (i = 0; i < t.n; i++) {
		const struct dkim_tag *g = &t.tag[i];

		if (g->name < s || g->name + g->name_len > s + len || g->value < s || g->value + g->value_len > s + len ||
		    g->raw_start > g->raw_end || g->raw_end > len || g->name_len == 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *err, *s;
	size_t len;

	if (size < 1)
		return 0;
	s = (const char *)data + 1;
	len = size - 1;
	switch (data[0] % 4) {
	case 0: {
		struct dkim_sig *sig = malloc(sizeof(*sig));

		if (dkim_sig_parse(s, len, sig, &err) == 0 &&
		    (sig->b_raw_end > len || sig->nh == 0 || sig->bh_len == 0 || strlen(sig->d) == 0))
			abort();
		free(sig);
		break;
	}
	case 1: {
		struct dkim_key_record *rec = malloc(sizeof(*rec));

		if (dkim_key_record_parse(s, len, rec, &err) == 0 && !rec->revoked)
			EVP_PKEY_free(dkim_crypto_pubkey(rec));
		free(rec);
		break;
	}
	case 2:
		check_tags(s, len);
		break;
	default: {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		struct dkim_body b;
		size_t cut = len > 0 ? (uint8_t)s[0] % (len + 1) : 0;
		int relaxed;

		for (relaxed = 0; relaxed < 2; relaxed++) {
			EVP_DigestInit_ex(md, EVP_sha256(), NULL);
			dkim_body_init(&b, relaxed, len / 2, md);
			dkim_body_feed(&b, (const unsigned char *)s, cut);
			dkim_body_feed(&b, (const unsigned char *)s + cut, len - cut);
			dkim_body_end(&b);
		}
		EVP_MD_CTX_free(md);
		break;
	}
	}
	return 0;
}
