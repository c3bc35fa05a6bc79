/* Fuzzes the SASL decoders: PLAIN on the whole input, LOGIN on the whole
 * input with a small and a full-size output buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sasl_credentials cred;
	char out[AUTH_PASS_MAX + 1], small[8];
	long n;

	if (sasl_plain_decode((const char *)data, size, &cred) == 0) {
		if (cred.authcid[0] == '\0' || cred.password[0] == '\0')
			abort();
		if (strlen(cred.authzid) > AUTH_USER_MAX || strlen(cred.authcid) > AUTH_USER_MAX ||
		    strlen(cred.password) > AUTH_PASS_MAX)
			abort();
	}
	n = sasl_login_decode((const char *)data, size, out, sizeof(out));
	if (n >= 0 && ((size_t)n >= sizeof(out) || strlen(out) != (size_t)n))
		abort();
	n = sasl_login_decode((const char *)data, size, small, sizeof(small));
	if (n >= 0 && ((size_t)n >= sizeof(small) || strlen(small) != (size_t)n))
		abort();
	return 0;
}
