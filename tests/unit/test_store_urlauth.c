/* URLAUTH access keys in the store (store_urlauth.c): a real index in a
 * mkdtemp() directory.  Expected behaviour from store_imap.h: a key is
 * made only when fresh bytes are given, stays the same afterwards, is
 * per mailbox, and goes with RESETKEY and with the mailbox itself. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_imap.h"
#include "test.h"

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

int
main(void)
{
	char tmpl[] = "/tmp/tern-store-urlauth-XXXXXX";
	char *dir = mkdtemp(tmpl);
	uint8_t a[STORE_URLAUTH_KEY_LEN], b[STORE_URLAUTH_KEY_LEN], k[STORE_URLAUTH_KEY_LEN];
	uint8_t k2[STORE_URLAUTH_KEY_LEN];
	struct store *st = NULL;
	const char *error = NULL;

	if (dir == NULL)
		return 1;
	memset(a, 0xa1, sizeof(a));
	memset(b, 0xb2, sizeof(b));

	test_begin("store_urlauth: made on demand, then kept");
	test_assert_inteq(store_open(dir, "fred@example.com", &st, &error), 0);
	test_assert_inteq(store_urlauth_key(st, "INBOX", NULL, k, &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_urlauth_key(st, "INBOX", a, k, &error), STORE_OK);
	test_assert(memcmp(k, a, sizeof(k)) == 0);
	test_assert_inteq(store_urlauth_key(st, "INBOX", b, k, &error), STORE_OK);
	test_assert(memcmp(k, a, sizeof(k)) == 0);  /* the first key stays */
	test_assert_inteq(store_urlauth_key(st, "inbox", NULL, k, &error), STORE_OK);
	test_assert(memcmp(k, a, sizeof(k)) == 0);  /* INBOX in any case */
	test_assert_inteq(store_urlauth_key(st, "Nowhere", a, k, &error), STORE_IMAP_NONEXISTENT);
	test_end();

	test_begin("store_urlauth: one key per mailbox, reset one or all");
	test_assert_inteq(store_mailbox_create(st, "Sent", NULL, &error), STORE_OK);
	test_assert_inteq(store_urlauth_key(st, "Sent", b, k2, &error), STORE_OK);
	test_assert(memcmp(k2, b, sizeof(k2)) == 0);
	test_assert_inteq(store_urlauth_reset(st, "Sent", &error), STORE_OK);
	test_assert_inteq(store_urlauth_key(st, "Sent", NULL, k2, &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_urlauth_key(st, "INBOX", NULL, k, &error), STORE_OK);
	test_assert_inteq(store_urlauth_key(st, "Sent", b, k2, &error), STORE_OK);
	test_assert_inteq(store_urlauth_reset(st, NULL, &error), STORE_OK);
	test_assert_inteq(store_urlauth_key(st, "INBOX", NULL, k, &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_urlauth_key(st, "Sent", NULL, k2, &error), STORE_IMAP_NONEXISTENT);
	test_assert_inteq(store_urlauth_reset(st, "Nowhere", &error), STORE_IMAP_NONEXISTENT);
	test_end();

	test_begin("store_urlauth: a mailbox made again has no key");
	test_assert_inteq(store_urlauth_key(st, "Sent", a, k2, &error), STORE_OK);
	test_assert_inteq(store_mailbox_delete(st, "Sent", &error), STORE_OK);
	test_assert_inteq(store_mailbox_create(st, "Sent", NULL, &error), STORE_OK);
	test_assert_inteq(store_urlauth_key(st, "Sent", NULL, k2, &error), STORE_IMAP_NONEXISTENT);
	test_end();

	test_begin("store_urlauth: kept across opens");
	test_assert_inteq(store_urlauth_key(st, "INBOX", b, k, &error), STORE_OK);
	store_close(&st);
	test_assert_inteq(store_open(dir, "fred@example.com", &st, &error), 0);
	test_assert_inteq(store_urlauth_key(st, "INBOX", NULL, k, &error), STORE_OK);
	test_assert(memcmp(k, b, sizeof(k)) == 0);
	test_end();

	store_close(&st);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return test_done();
}
