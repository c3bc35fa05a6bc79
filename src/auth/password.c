/* Password hashing through libxcrypt.  crypt_rn with a struct crypt_data
 * of our own keeps every call thread-safe; the struct is wiped after use
 * because it holds material derived from the password. */
#include "auth/password.h"

#include <crypt.h>
#include <errno.h>
#include <string.h>

#include <openssl/rand.h>

#include "lib/limits.h"
#include "lib/str.h"

/* A yescrypt hash (default cost, the same as password_hash makes) of a
 * password nobody uses; password_verify_dummy verifies against it so that
 * an unknown user costs as much time as a known one. */
static const char dummy_hash[] = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$/5A2b1gNjtSB9rIj0DPEmxAWSWkwMbr9wz2/wJ/mEV6";

/* Salt bytes for a new hash (yescrypt uses up to 64; 16 is libxcrypt's
 * own choice for crypt_gensalt with no random input given). */
#define PASSWORD_SALT_BYTES 16

/* Random bytes from OpenSSL's CSPRNG (seeded from getrandom). */
static int
fill_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

int
password_hash(const char *password, char *out, size_t outsize)
{
	unsigned char salt_bytes[PASSWORD_SALT_BYTES];
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data data;
	const char *h;
	int ret = -1;

	if (password == NULL || strlen(password) > PASSWORD_LEN_MAX)
		return -1;
	if (fill_random(salt_bytes, sizeof(salt_bytes)) != 0)
		return -1;
	if (crypt_gensalt_rn("$y$", 0, (const char *)salt_bytes, sizeof(salt_bytes), setting, sizeof(setting)) ==
	    NULL)
		goto out;
	memset(&data, 0, sizeof(data));
	h = crypt_rn(password, setting, &data, sizeof(data));
	if (h != NULL && h[0] == '$' && strlen(h) < outsize && strlen(h) <= PASSWORD_HASH_MAX) {
		memcpy(out, h, strlen(h) + 1);
		ret = 0;
	}
	str_wipe(&data, sizeof(data));
out:
	str_wipe(salt_bytes, sizeof(salt_bytes));
	return ret;
}

bool
password_verify(const char *password, const char *hash)
{
	struct crypt_data data;
	const char *h;
	size_t hlen;
	bool ok = false;

	if (password == NULL || hash == NULL || strlen(password) > PASSWORD_LEN_MAX ||
	    !password_hash_supported(hash))
		return false;
	hlen = strlen(hash);
	memset(&data, 0, sizeof(data));
	h = crypt_rn(password, hash, &data, sizeof(data));
	/* A failed crypt_rn gives NULL or a string starting with '*'; neither
	 * can equal a supported hash, which starts with '$'.  The length of
	 * the hash is not a secret, its bytes are compared in constant time. */
	if (h != NULL && strlen(h) == hlen)
		ok = str_ct_equal(h, hash, hlen);
	str_wipe(&data, sizeof(data));
	return ok;
}

void
password_verify_dummy(const char *password)
{
	/* An over-long password would return at once: hash a short one. */
	if (password == NULL || strlen(password) > PASSWORD_LEN_MAX)
		password = "";
	(void)password_verify(password, dummy_hash);
}

bool
password_hash_supported(const char *hash)
{
	static const char *const prefixes[] = { "$y$", "$7$", "$6$", "$5$", "$2y$", "$2b$", "$2a$" };
	size_t i, len, dollars;
	const char *p;

	if (hash == NULL)
		return false;
	len = strlen(hash);
	if (len == 0 || len > PASSWORD_HASH_MAX)
		return false;
	/* crypt(3) strings use "./0-9A-Za-z" and '$' (and ',' '=' in some
	 * parameters); anything else would not survive a passwd file. */
	for (p = hash; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || *p == ':')
			return false;
	}
	/* A whole hash, not just a setting: "$id$...$" then a last part. */
	dollars = 0;
	for (p = hash; *p != '\0'; p++)
		dollars += *p == '$';
	if (dollars < 3 || hash[len - 1] == '$')
		return false;
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		if (strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0)
			return crypt_checksalt(hash) != CRYPT_SALT_INVALID;
	}
	return false;
}

int
password_generate(char *out, size_t len)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	/* 248 = 4 * 62: bytes at or above it are dropped so that every
	 * character is equally likely. */
	const unsigned limit = 4 * (sizeof(alphabet) - 1);
	unsigned char buf[64];
	size_t i = 0, j;

	while (i < len) {
		if (fill_random(buf, sizeof(buf)) != 0) {
			str_wipe(buf, sizeof(buf));
			return -1;
		}
		for (j = 0; j < sizeof(buf) && i < len; j++) {
			if (buf[j] < limit)
				out[i++] = alphabet[buf[j] % (sizeof(alphabet) - 1)];
		}
	}
	out[len] = '\0';
	str_wipe(buf, sizeof(buf));
	return 0;
}
