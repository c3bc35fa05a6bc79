/* Fuzzes the OAUTHBEARER and XOAUTH2 decoders on the whole input (as the
 * base64 a client sends) and the error-challenge writer on it as a
 * status.  A decoded token must be a non-empty RFC 6750 b64token within
 * SASL_TOKEN_MAX; an XOAUTH2 user must be non-empty. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl_oauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_token(const struct sasl_bearer *b)
{
	size_t len = strnlen(b->token, sizeof(b->token));

	if (len == 0 || len > SASL_TOKEN_MAX || strnlen(b->user, sizeof(b->user)) > AUTH_USER_MAX)
		abort();
	for (size_t i = 0; i < len; i++)
		if (b->token[i] <= ' ' || b->token[i] > '~')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sasl_bearer b;
	char out[512], small[16], *status;
	int r;

	r = sasl_oauthbearer_decode((const char *)data, size, &b);
	if (r == 0)
		check_token(&b);
	else if (r != -1 && r != SASL_OAUTH_DUMMY)
		abort();
	if (sasl_xoauth2_decode((const char *)data, size, &b) == 0) {
		check_token(&b);
		if (b.user[0] == '\0')
			abort();
	}
	if (size < 200) {
		status = strndup((const char *)data, size);
		if (sasl_oauth_error_b64(status, status, out, sizeof(out)) >= sizeof(out))
			abort();
		if (sasl_oauth_error_b64(status, NULL, small, sizeof(small)) >= sizeof(small))
			abort();
		free(status);
	}
	return 0;
}
