/* SRS addresses (src/srs/srs.c) and the key file (src/srs/srs_key.c). */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/limits.h"
#include "srs/srs.h"
#include "test.h"

static const unsigned char key[SRS_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char key2[SRS_KEY_LEN] = "another secret, thirty-two bytes";
#define DAY 86400
static const int64_t now = 20000 * (int64_t)DAY + 3600;

static enum srs_result
rev(const unsigned char *k, const char *addr, int64_t when, char *out, size_t outsize)
{
	const char *at = strrchr(addr, '@');

	return srs_reverse(k, addr, at != NULL ? (size_t)(at - addr) : strlen(addr), when, SRS_MAX_AGE_DAYS, out,
	                   outsize);
}

static void
test_round_trip(void)
{
	char srs[ADDRESS_MAX + 1], back[ADDRESS_MAX + 1];

	test_begin("srs: SRS0 round trip");
	test_assert_inteq(srs_forward(key, "bob@sender.example", "fwd.example", now, srs, sizeof(srs)), SRS_OK);
	test_assert(strncmp(srs, "SRS0=", 5) == 0);
	/* SRS0=HHHHHH=TT=sender.example=bob@fwd.example */
	test_assert_inteq(strlen(srs), 5 + SRS_HASH_LEN + 1 + 2 + 1 + strlen("sender.example=bob@fwd.example"));
	test_assert(strstr(srs, "=sender.example=bob@fwd.example") != NULL);
	test_assert(srs_is_srs(srs));
	test_assert_inteq(rev(key, srs, now, back, sizeof(back)), SRS_OK);
	test_assert_streq(back, "bob@sender.example");
	/* the same day, the same address */
	{
		char again[ADDRESS_MAX + 1];

		srs_forward(key, "bob@sender.example", "fwd.example", now + 60, again, sizeof(again));
		test_assert_streq(again, srs);
	}
	/* '=' and '+' in the original local part survive */
	test_assert_inteq(srs_forward(key, "a=b+c@x.example", "fwd.example", now, srs, sizeof(srs)), SRS_OK);
	test_assert_inteq(rev(key, srs, now, back, sizeof(back)), SRS_OK);
	test_assert_streq(back, "a=b+c@x.example");
	test_end();
}

static void
test_case_insensitive(void)
{
	char srs[ADDRESS_MAX + 1], back[ADDRESS_MAX + 1], *p;

	test_begin("srs: hash, stamp and tag compared without case");
	srs_forward(key, "Bob@Sender.Example", "fwd.example", now, srs, sizeof(srs));
	for (p = srs; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	test_assert(strncmp(srs, "srs0=", 5) == 0);
	test_assert_inteq(rev(key, srs, now, back, sizeof(back)), SRS_OK);
	test_assert_streq(back, "bob@sender.example");
	test_end();
}

static void
test_expiry(void)
{
	char srs[ADDRESS_MAX + 1], back[ADDRESS_MAX + 1];

	test_begin("srs: valid for SRS_MAX_AGE_DAYS days, then expired");
	srs_forward(key, "bob@sender.example", "fwd.example", now, srs, sizeof(srs));
	test_assert_inteq(rev(key, srs, now + SRS_MAX_AGE_DAYS * (int64_t)DAY, back, sizeof(back)), SRS_OK);
	test_assert_inteq(rev(key, srs, now + (SRS_MAX_AGE_DAYS + 1) * (int64_t)DAY, back, sizeof(back)),
	                  SRS_EXPIRED);
	test_assert_streq(back, "");
	/* from the future (a day ahead): wraps to about three years old */
	test_assert_inteq(rev(key, srs, now - DAY, back, sizeof(back)), SRS_EXPIRED);
	/* the 1024-day wrap: valid again only after 1024 days, as in libsrs2 */
	test_assert_inteq(rev(key, srs, now + 1024 * (int64_t)DAY, back, sizeof(back)), SRS_OK);
	/* across the wrap of the day counter */
	{
		int64_t edge = (20479 / 1024 * 1024 + 1023) * (int64_t)DAY;   /* slot 1023 */

		srs_forward(key, "bob@sender.example", "fwd.example", edge, srs, sizeof(srs));
		test_assert_inteq(rev(key, srs, edge + 2 * (int64_t)DAY, back, sizeof(back)), SRS_OK);
	}
	test_end();
}

static void
test_tampering(void)
{
	char srs[ADDRESS_MAX + 1], bad[ADDRESS_MAX + 1], back[ADDRESS_MAX + 1];
	size_t i, n;

	test_begin("srs: any change to hash, stamp, domain or user breaks it");
	srs_forward(key, "bob@sender.example", "fwd.example", now, srs, sizeof(srs));
	n = (size_t)(strchr(srs, '@') - srs);
	for (i = 5; i < n; i++) {
		if (srs[i] == '=')
			continue;
		memcpy(bad, srs, sizeof(bad));
		/* a letter or digit that differs even without case */
		bad[i] = bad[i] == 'x' || bad[i] == 'X' ? 'q' : 'x';
		test_assert(rev(key, bad, now, back, sizeof(back)) != SRS_OK);
	}
	/* another key */
	test_assert_inteq(rev(key2, srs, now, back, sizeof(back)), SRS_BAD_HASH);
	/* moving a byte from the domain to the user */
	memcpy(bad, srs, sizeof(bad));
	{
		char *d = strstr(bad, "=sender.example=bob");

		memcpy(d, "=sender.exampl=ebob", 19);
	}
	test_assert_inteq(rev(key, bad, now, back, sizeof(back)), SRS_BAD_HASH);
	/* malformed ones */
	test_assert_inteq(rev(key, "SRS0=abc@fwd.example", now, back, sizeof(back)), SRS_BAD_FORMAT);
	test_assert_inteq(rev(key, "SRS0=AAAAAA=AA=d.example=@fwd.example", now, back, sizeof(back)),
	                  SRS_BAD_FORMAT);
	test_assert_inteq(rev(key, "SRS0=AAAAAA=A1=d.example=u@fwd.example", now, back, sizeof(back)),
	                  SRS_BAD_FORMAT);
	test_assert_inteq(rev(key, "SRS0=AAAAAA=AA=d.example=u@fwd.example", now, back, sizeof(back)),
	                  SRS_BAD_HASH);
	test_assert_inteq(rev(key, "SRS1=AAAAAA=host.example=x@fwd.example", now, back, sizeof(back)),
	                  SRS_BAD_FORMAT);
	test_assert_inteq(rev(key, "bob@fwd.example", now, back, sizeof(back)), SRS_NOT_SRS);
	test_assert_inteq(rev(key, "SRS2=x@fwd.example", now, back, sizeof(back)), SRS_NOT_SRS);
	test_assert_inteq(rev(key, "SRS", now, back, sizeof(back)), SRS_NOT_SRS);
	test_end();
}

static void
test_srs1(void)
{
	char srs0[ADDRESS_MAX + 1], srs1[ADDRESS_MAX + 1], srs1b[ADDRESS_MAX + 1], back[ADDRESS_MAX + 1];
	const char *at;

	test_begin("srs: SRS1 for an address SRS0 already, and again");
	/* forwarder one (key2) made an SRS0 address at one.example */
	srs_forward(key2, "bob@sender.example", "one.example", now, srs0, sizeof(srs0));
	/* we forward again: SRS1=HHHHHH=one.example==HHHHHH=TT=sender.example=bob@two.example */
	test_assert_inteq(srs_forward(key, srs0, "two.example", now, srs1, sizeof(srs1)), SRS_OK);
	test_assert(strncmp(srs1, "SRS1=", 5) == 0);
	test_assert(strstr(srs1, "=one.example==") != NULL);
	at = strchr(srs1, '@');
	test_assert_streq(at, "@two.example");
	/* a bounce to it goes back to forwarder one's SRS0 address */
	test_assert_inteq(rev(key, srs1, now, back, sizeof(back)), SRS_OK);
	test_assert_streq(back, srs0);
	/* ... which forwarder one undoes */
	{
		char b2[ADDRESS_MAX + 1];

		test_assert_inteq(rev(key2, srs0, now, b2, sizeof(b2)), SRS_OK);
		test_assert_streq(b2, "bob@sender.example");
	}
	/* a third forwarder keeps the first host and re-hashes */
	test_assert_inteq(srs_forward(key2, srs1, "three.example", now, srs1b, sizeof(srs1b)), SRS_OK);
	test_assert(strstr(srs1b, "=one.example==") != NULL);
	test_assert_inteq(rev(key2, srs1b, now, back, sizeof(back)), SRS_OK);
	test_assert_streq(back, srs0);
	/* SRS1 is not good with another key */
	test_assert_inteq(rev(key2, srs1, now, back, sizeof(back)), SRS_BAD_HASH);
	/* an SRS1 sender that does not parse is not rewritten */
	test_assert_inteq(srs_forward(key, "SRS1=xx@other.example", "two.example", now, srs1, sizeof(srs1)),
	                  SRS_BAD_FORMAT);
	test_end();
}

static void
test_limits(void)
{
	char srs[ADDRESS_MAX + 1], back[ADDRESS_MAX + 1], local[LOCALPART_MAX + 1], addr[ADDRESS_MAX + 1];
	size_t room = LOCALPART_MAX - (5 + SRS_HASH_LEN + 1 + 2 + 1 + 1);   /* for domain + user */

	test_begin("srs: a local part longer than 64 octets is not made");
	/* exactly 64: made, and taken apart */
	memset(local, 'u', room - strlen("d.example"));
	local[room - strlen("d.example")] = '\0';
	snprintf(addr, sizeof(addr), "%s@d.example", local);
	test_assert_inteq(srs_forward(key, addr, "fwd.example", now, srs, sizeof(srs)), SRS_OK);
	test_assert_inteq(strchr(srs, '@') - srs, LOCALPART_MAX);
	test_assert_inteq(rev(key, srs, now, back, sizeof(back)), SRS_OK);
	test_assert_streq(back, addr);
	/* one more: refused (the caller keeps the original sender) */
	snprintf(addr, sizeof(addr), "%su@d.example", local);
	test_assert_inteq(srs_forward(key, addr, "fwd.example", now, srs, sizeof(srs)), SRS_TOO_LONG);
	test_assert_streq(srs, "");
	/* out too small */
	test_assert_inteq(srs_forward(key, "bob@sender.example", "fwd.example", now, srs, 20), SRS_TOO_LONG);
	/* a decoded address that does not fit out */
	srs_forward(key, "bob@sender.example", "fwd.example", now, srs, sizeof(srs));
	test_assert_inteq(rev(key, srs, now, back, 10), SRS_TOO_LONG);
	/* bad senders */
	test_assert_inteq(srs_forward(key, "nodomain", "fwd.example", now, srs, sizeof(srs)), SRS_BAD_FORMAT);
	test_assert_inteq(srs_forward(key, "@x.example", "fwd.example", now, srs, sizeof(srs)), SRS_BAD_FORMAT);
	test_assert_inteq(srs_forward(key, "x@", "fwd.example", now, srs, sizeof(srs)), SRS_BAD_FORMAT);
	test_end();
}

static void
test_key_file(void)
{
	char dir[] = "/tmp/tern-srs-XXXXXX", path[64];
	unsigned char k1[SRS_KEY_LEN], k2[SRS_KEY_LEN];
	const char *err;
	struct stat st;

	test_begin("srs: key file made 0600 on first use, the same after");
	test_assert(mkdtemp(dir) != NULL);
	test_assert_inteq(srs_key_load(dir, k1, &err), 0);
	snprintf(path, sizeof(path), "%s/srs.key", dir);
	test_assert_inteq(stat(path, &st), 0);
	test_assert_inteq(st.st_mode & 0777, 0600);
	test_assert_inteq(st.st_size, SRS_KEY_LEN);
	test_assert_inteq(srs_key_load(dir, k2, &err), 0);
	test_assert(memcmp(k1, k2, SRS_KEY_LEN) == 0);
	/* readable by others: refused */
	chmod(path, 0644);
	test_assert_inteq(srs_key_load(dir, k2, &err), -1);
	test_assert(strstr(err, "chmod 600") != NULL);
	/* the wrong size: refused */
	chmod(path, 0600);
	test_assert_inteq(truncate(path, 10), 0);
	test_assert_inteq(srs_key_load(dir, k2, &err), -1);
	unlink(path);
	rmdir(dir);
	test_end();
}

int
main(void)
{
	test_round_trip();
	test_case_insensitive();
	test_expiry();
	test_tampering();
	test_srs1();
	test_limits();
	test_key_file();
	return test_done();
}
