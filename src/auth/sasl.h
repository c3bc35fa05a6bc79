/* SASL message decoders for the mechanisms Tern offers (pure functions: no
 * I/O, fuzzed in fuzz/fuzz_sasl.c). */
#ifndef TERN_SASL_H
#define TERN_SASL_H

#include <stddef.h>

#include "lib/limits.h"

struct sasl_credentials {
	char authzid[AUTH_USER_MAX + 1];
	char authcid[AUTH_USER_MAX + 1];
	char password[AUTH_PASS_MAX + 1];
};

/* PLAIN (RFC 4616): message = [authzid] NUL authcid NUL passwd, given
 * base64-encoded.  Returns 0, or -1 (malformed, too long, empty authcid or
 * password, or a NUL too many). */
int sasl_plain_decode(const char *b64, size_t len, struct sasl_credentials *out);
/* LOGIN: each step is one base64 string.  Returns decoded length or -1. */
long sasl_login_decode(const char *b64, size_t len, char *out, size_t outsize);

#endif
