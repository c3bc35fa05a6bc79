/* Password hashing through libxcrypt.  crypt_rn with a struct crypt_data
 * of our own keeps every call thread-safe; the struct is wiped after use
 * because it holds material derived from the password.
 *
 * At most two hashes per core run at once (hash_gate_enter): yescrypt at
 * libxcrypt's default cost takes 16 MiB while it runs, and a burst of
 * logins over the 16 workers held 256 MiB at once (imaptest's login
 * churn: a 289 MiB peak against 66 MiB logged in).  More hashes at once
 * would not finish sooner: they are CPU-bound. */
#include "auth/password.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

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

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static unsigned gate_in, gate_max;

static void
hash_gate_enter(void)
{
	pthread_mutex_lock(&gate_lock);
	if (gate_max == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		gate_max = n > 0 && n < 64 ? 2 * (unsigned)n : 2;
	}
	while (gate_in >= gate_max)
		pthread_cond_wait(&gate_cond, &gate_lock);
	gate_in++;
	pthread_mutex_unlock(&gate_lock);
}

static void
hash_gate_leave(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_in--;
	pthread_cond_signal(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

/* crypt_rn under the gate */
static const char *
gated_crypt(const char *password, const char *setting, struct crypt_data *data)
{
	const char *h;

	hash_gate_enter();
	h = crypt_rn(password, setting, data, sizeof(*data));
	hash_gate_leave();
	return h;
}

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
	h = gated_crypt(password, setting, &data);
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
	h = gated_crypt(password, hash, &data);
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
