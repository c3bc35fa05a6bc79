/* SASL PLAIN (RFC 4616) and LOGIN decoders.  Decoded credentials pass
 * through a stack buffer that is wiped before return. */
#include "auth/sasl.h"

#include <string.h>

#include "lib/str.h"

/* The longest PLAIN message we accept: authzid NUL authcid NUL passwd. */
#define SASL_PLAIN_MAX (AUTH_USER_MAX + 1 + AUTH_USER_MAX + 1 + AUTH_PASS_MAX)

int
sasl_plain_decode(const char *b64, size_t len, struct sasl_credentials *out)
{
	unsigned char buf[SASL_PLAIN_MAX + 1];
	const unsigned char *authzid, *authcid, *passwd, *nul1, *nul2, *end;
	size_t zlen, clen, plen;
	long n;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (b64 == NULL || len == 0 || len > BASE64_ENCODED_LEN(SASL_PLAIN_MAX))
		return -1;
	n = base64_decode(b64, len, buf, SASL_PLAIN_MAX);
	if (n <= 0)
		goto out;
	end = buf + n;
	nul1 = memchr(buf, '\0', (size_t)n);
	if (nul1 == NULL)
		goto out;
	nul2 = memchr(nul1 + 1, '\0', (size_t)(end - (nul1 + 1)));
	if (nul2 == NULL || memchr(nul2 + 1, '\0', (size_t)(end - (nul2 + 1))) != NULL)
		goto out;
	authzid = buf;
	authcid = nul1 + 1;
	passwd = nul2 + 1;
	zlen = (size_t)(nul1 - authzid);
	clen = (size_t)(nul2 - authcid);
	plen = (size_t)(end - passwd);
	if (zlen > AUTH_USER_MAX || clen == 0 || clen > AUTH_USER_MAX || plen == 0 || plen > AUTH_PASS_MAX)
		goto out;
	memcpy(out->authzid, authzid, zlen);
	memcpy(out->authcid, authcid, clen);
	memcpy(out->password, passwd, plen);
	ret = 0;
out:
	str_wipe(buf, sizeof(buf));
	return ret;
}

long
sasl_login_decode(const char *b64, size_t len, char *out, size_t outsize)
{
	long n;

	if (b64 == NULL || out == NULL || outsize == 0)
		return -1;
	out[0] = '\0';
	if (len == 0)
		return 0;
	if (len > BASE64_ENCODED_LEN(outsize))
		return -1;
	n = base64_decode(b64, len, (unsigned char *)out, outsize - 1);
	if (n < 0)
		goto fail;
	if (memchr(out, '\0', (size_t)n) != NULL)
		goto fail;
	out[n] = '\0';
	return n;
fail:
	str_wipe(out, outsize);
	out[0] = '\0';
	return -1;
}
