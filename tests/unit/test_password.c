/* Tests for src/auth/password.c.  The $6$, $5$, $2y$, $2b$, $2a$ and $7$
 * hashes below were made once with Python's crypt module (libxcrypt) and
 * `openssl passwd -6`, and pasted here. */
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "lib/limits.h"
#include "test.h"

/* openssl passwd -6 -salt Qw3rTyUiOpAsDfGh 'correct horse' */
static const char SHA512_OPENSSL[] =
	"$6$Qw3rTyUiOpAsDfGh$EjS7XHtkPD2hYPeFL1jcoZaXTcIgf/gOcRfM59TjbFesbdmrSbuir3r/g7ziXZZ3cT33LPVCKOfeaA.W0ie3V1";
/* crypt.crypt('correct horse', crypt.mksalt(crypt.METHOD_SHA512)) */
static const char SHA512_PY[] =
	"$6$7cg41FypBlj5y61t$Ne3T2LH.aECMLw0y7S/X9pOZsuSxFNjMIVj5xpltgUQLDgg85tUfLAu0p30/TvV.ayglt4jQNoTO9mDLPuKX60";
/* crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_SHA256)) */
static const char SHA256_PY[] = "$5$YNW7m9DXEBraGUFr$jbImRugomlhufhdIEdnQzGNVXZeiYjiUDUbwKug4VZ/";
/* crypt.crypt('battery staple', '$2y$05$abcdefghijklmnopqrstuv') */
static const char BCRYPT_2Y[] = "$2y$05$abcdefghijklmnopqrstuumjewjQVmxxbBHy234HdGTOAqOuVnhhy";
/* crypt.crypt('battery staple', '$2b$05$ZYXWVUTSRQPONMLKJIHGFe') and the same with $2a$ */
static const char BCRYPT_2B[] = "$2b$05$ZYXWVUTSRQPONMLKJIHGFeia4MQV4pLC8M/JNFP2cNaY34.jyz8oe";
static const char BCRYPT_2A[] = "$2a$05$ZYXWVUTSRQPONMLKJIHGFeia4MQV4pLC8M/JNFP2cNaY34.jyz8oe";
/* crypt.crypt('pässword', '$7$CU..../....abcdefghijklmnop') (scrypt) */
static const char SCRYPT_7[] = "$7$CU..../....abcdefghijklmnop$x9rNkzN9Ns3SBf0vtMFwHaGEoMwbyU02vk9LrHevXp5";

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_yescrypt_roundtrip(void)
{
	char h1[PASSWORD_HASH_MAX + 1], h2[PASSWORD_HASH_MAX + 1], small[20];

	test_begin("password: yescrypt hash and verify");
	test_assert_inteq(password_hash("hunter2 and more", h1, sizeof(h1)), 0);
	test_assert(strncmp(h1, "$y$", 3) == 0);
	test_assert(password_hash_supported(h1));
	test_assert(password_verify("hunter2 and more", h1));
	test_assert(!password_verify("hunter2 and mor", h1));
	test_assert(!password_verify("hunter2 and more ", h1));
	test_assert(!password_verify("", h1));
	/* fresh salt every time */
	test_assert_inteq(password_hash("hunter2 and more", h2, sizeof(h2)), 0);
	test_assert(strcmp(h1, h2) != 0);
	test_assert(password_verify("hunter2 and more", h2));
	/* the empty password hashes too (the directory and auth refuse it) */
	test_assert_inteq(password_hash("", h2, sizeof(h2)), 0);
	test_assert(password_verify("", h2));
	/* output too small */
	test_assert_inteq(password_hash("x", small, sizeof(small)), -1);
	test_end();
}

static void
test_known_hashes(void)
{
	test_begin("password: verify known $6$ $5$ $2y$ $2b$ $2a$ $7$ hashes");
	test_assert(password_verify("correct horse", SHA512_OPENSSL));
	test_assert(!password_verify("correct horsE", SHA512_OPENSSL));
	test_assert(password_verify("correct horse", SHA512_PY));
	test_assert(!password_verify("incorrect horse", SHA512_PY));
	test_assert(password_verify("s3cret", SHA256_PY));
	test_assert(!password_verify("s3cre", SHA256_PY));
	test_assert(password_verify("battery staple", BCRYPT_2Y));
	test_assert(!password_verify("battery stapler", BCRYPT_2Y));
	test_assert(password_verify("battery staple", BCRYPT_2B));
	test_assert(password_verify("battery staple", BCRYPT_2A));
	test_assert(!password_verify("Battery staple", BCRYPT_2B));
	test_assert(password_verify("p\xc3\xa4ssword", SCRYPT_7));
	test_assert(!password_verify("password", SCRYPT_7));
	test_end();
}

static void
test_supported(void)
{
	char big[PASSWORD_HASH_MAX + 10];

	test_begin("password: supported hash forms");
	test_assert(password_hash_supported(SHA512_OPENSSL));
	test_assert(password_hash_supported(SHA256_PY));
	test_assert(password_hash_supported(BCRYPT_2Y));
	test_assert(password_hash_supported(BCRYPT_2B));
	test_assert(password_hash_supported(BCRYPT_2A));
	test_assert(password_hash_supported(SCRYPT_7));
	test_assert(!password_hash_supported(NULL));
	test_assert(!password_hash_supported(""));
	test_assert(!password_hash_supported("$1$abcdefgh$0123456789abcdefghijkl"));   /* MD5-crypt */
	test_assert(!password_hash_supported("abJnggxhB/yWI"));                        /* DES */
	test_assert(!password_hash_supported("{SHA512-CRYPT}$6$x$y"));
	test_assert(!password_hash_supported("$6$salt$has space"));
	test_assert(!password_hash_supported("$6$salt:colon$x"));
	test_assert(!password_hash_supported("plaintext"));
	test_assert(!password_hash_supported("$y$"));
	test_assert(!password_hash_supported("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$"));
	test_assert(!password_hash_supported("$6$saltsalt"));
	test_assert(!password_hash_supported("$2b$05$"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "$6$", 3);
	test_assert(!password_hash_supported(big));
	/* verify refuses what is not supported, whatever crypt would say */
	test_assert(!password_verify("x", "$1$abcdefgh$0123456789abcdefghijkl"));
	test_assert(!password_verify("x", ""));
	test_assert(!password_verify("x", "*"));
	test_assert(!password_verify(NULL, SHA512_PY));
	test_assert(!password_verify("correct horse", NULL));
	test_end();
}

static void
test_long_password(void)
{
	static char pw[PASSWORD_LEN_MAX + 2];
	char h[PASSWORD_HASH_MAX + 1];

	test_begin("password: length bound");
	memset(pw, 'p', PASSWORD_LEN_MAX);
	pw[PASSWORD_LEN_MAX] = '\0';
	test_assert_inteq(password_hash(pw, h, sizeof(h)), 0);
	test_assert(password_verify(pw, h));
	pw[PASSWORD_LEN_MAX] = 'p';
	pw[PASSWORD_LEN_MAX + 1] = '\0';
	test_assert_inteq(password_hash(pw, h, sizeof(h)), -1);
	test_assert(!password_verify(pw, h));
	password_verify_dummy(pw);
	test_end();
}

static void
test_dummy(void)
{
	char h[PASSWORD_HASH_MAX + 1];
	double t0, t_real, t_dummy;

	test_begin("password: dummy verification does real work");
	test_assert_inteq(password_hash("some password", h, sizeof(h)), 0);
	t0 = now();
	(void)password_verify("wrong password", h);
	t_real = now() - t0;
	t0 = now();
	password_verify_dummy("wrong password");
	password_verify_dummy(NULL);
	password_verify_dummy("");
	t_dummy = (now() - t0) / 3;
	/* Not a timing assertion: only that the dummy is a real yescrypt
	 * (it takes a measurable time, not microseconds). */
	printf("# real verify %.1f ms, dummy %.1f ms\n", t_real * 1e3, t_dummy * 1e3);
	test_assert(t_dummy > 0.001);
	test_end();
}

static void
test_generate(void)
{
	char a[17], b[17], big[300];
	bool seen[256] = { false };

	test_begin("password: generate");
	test_assert_inteq(password_generate(a, 16), 0);
	test_assert_inteq(strlen(a), 16);
	test_assert_inteq(password_generate(b, 16), 0);
	test_assert(strcmp(a, b) != 0);
	for (int i = 0; i < 16; i++)
		test_assert((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= '0' && a[i] <= '9'));
	test_assert_inteq(password_generate(big, sizeof(big) - 1), 0);
	test_assert_inteq(strlen(big), sizeof(big) - 1);
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		seen[(unsigned char)big[i]] = true;
	test_assert(seen['0'] || seen['1'] || seen['2'] || seen['3'] || seen['4'] || seen['5'] || seen['6'] ||
	            seen['7'] || seen['8'] || seen['9']);
	test_assert_inteq(password_generate(a, 0), 0);
	test_assert_streq(a, "");
	test_end();
}

int
main(void)
{
	test_yescrypt_roundtrip();
	test_known_hashes();
	test_supported();
	test_long_password();
	test_dummy();
	test_generate();
	return test_done();
}
