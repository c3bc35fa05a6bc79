/* Tests of the IMAP URL parser (src/imap/imap_url.c).  The URLs are the
 * examples of RFC 5092 (section 7 and 8) and RFC 4467 (section 3 and 9),
 * and the forms imaptest's catenate and urlauth scripts send; the
 * expected fields were read off the RFCs' grammar by hand. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_url.h"
#include "lib/arena.h"
#include "test.h"

static struct arena *a;

static int
parse(const char *s, struct imap_url *u)
{
	const char *error = NULL;

	return imap_url_parse(s, strlen(s), a, u, &error);
}

int
main(void)
{
	struct imap_url u;
	const char *s;

	a = arena_new(4096, false);

	test_begin("imap_url: RFC 5092 message part with UIDVALIDITY and PARTIAL");
	test_assert_inteq(parse("imap://minbari.example.org/gray-council;UIDVALIDITY=385759045/;UID=20/;PARTIAL=0.1024", &u), 0);
	test_assert(u.absolute);
	test_assert(u.user == NULL);
	test_assert_streq(u.host, "minbari.example.org");
	test_assert_streq(u.mailbox, "gray-council");
	test_assert_inteq(u.uidvalidity, 385759045);
	test_assert_inteq(u.uid, 20);
	test_assert(u.section == NULL);
	test_assert(u.has_partial);
	test_assert_inteq(u.partial_start, 0);
	test_assert_inteq(u.partial_len, 1024);
	test_assert_inteq(u.access, IMAP_URL_ACCESS_NONE);
	test_end();

	test_begin("imap_url: RFC 5092 UTF-8 mailbox, %-escaped, with hierarchy");
	test_assert_inteq(parse("imap://psicorp.example.org/~peter/%E6%97%A5%E6%9C%AC%E8%AA%9E/%E5%8F%B0%E5%8C%97", &u), 0);
	test_assert_streq(u.mailbox, "~peter/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e/\xe5\x8f\xb0\xe5\x8c\x97");
	test_assert_inteq(u.uid, 0);
	test_end();

	test_begin("imap_url: RFC 5092 ;AUTH= without a user, section");
	test_assert_inteq(parse("imap://;AUTH=GSSAPI@minbari.example.org/gray-council/;uid=20/;section=1.2", &u), 0);
	test_assert(u.user == NULL);
	test_assert_streq(u.auth_type, "GSSAPI");
	test_assert_streq(u.mailbox, "gray-council");
	test_assert_inteq(u.uid, 20);
	test_assert_streq(u.section, "1.2");
	test_end();

	test_begin("imap_url: user, port, mailbox list URL");
	test_assert_inteq(parse("imap://michael@minbari.example.org:143/users.*", &u), 0);
	test_assert_streq(u.user, "michael");
	test_assert_inteq(u.port, 143);
	test_assert_streq(u.mailbox, "users.*");
	test_assert_inteq(parse("imap://minbari.example.org/", &u), 0);
	test_assert(u.mailbox == NULL);
	test_assert_inteq(parse("imap://minbari.example.org", &u), 0);
	test_assert(u.mailbox == NULL);
	test_end();

	test_begin("imap_url: RFC 4467 URLAUTH with verifier, rump");
	s = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred:internal:91354a473744909de610943775f92038";
	test_assert_inteq(parse(s, &u), 0);
	test_assert_streq(u.user, "joe");
	test_assert_streq(u.mailbox, "INBOX");
	test_assert_inteq(u.uid, 20);
	test_assert_streq(u.section, "1.2");
	test_assert_inteq(u.access, IMAP_URL_ACCESS_SUBMIT);
	test_assert_streq(u.access_user, "fred");
	test_assert_streq(u.mechanism, "internal");
	test_assert_streq(u.token, "91354a473744909de610943775f92038");
	test_assert_inteq(u.rump_len, strlen(s) - strlen(":internal:91354a473744909de610943775f92038"));
	test_end();

	test_begin("imap_url: URLAUTH rump without verifier, EXPIRE");
	s = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;expire=2006-12-01T12:00:00Z;urlauth=anonymous";
	test_assert_inteq(parse(s, &u), 0);
	test_assert(u.has_expire);
	test_assert_inteq(u.expire, 1164974400);
	test_assert_inteq(u.access, IMAP_URL_ACCESS_ANONYMOUS);
	test_assert(u.mechanism == NULL);
	test_assert_inteq(u.rump_len, strlen(s));
	test_assert_inteq(parse("imap://joe@example.com/INBOX/;uid=20;expire=2006-12-01T14:00:00+02:00;urlauth=authuser", &u), 0);
	test_assert_inteq(u.expire, 1164974400);
	test_assert_inteq(u.access, IMAP_URL_ACCESS_AUTHUSER);
	test_end();

	test_begin("imap_url: imaptest forms (absolute path, user with @)");
	test_assert_inteq(parse("/INBOX/;uid=3/;section=header", &u), 0);
	test_assert(!u.absolute);
	test_assert_streq(u.mailbox, "INBOX");
	test_assert_inteq(u.uid, 3);
	test_assert_streq(u.section, "header");
	test_assert(imap_url_owner_is(&u, "anyone@example.test"));
	test_assert_inteq(parse("/imaptest;uidvalidity=12345/;uid=1/;section=header", &u), 0);
	test_assert_inteq(u.uidvalidity, 12345);
	test_assert_inteq(parse("/imaptest/;uid=2/;partial=100000.1", &u), 0);
	test_assert_inteq(u.partial_start, 100000);
	test_assert_inteq(u.partial_len, 1);
	test_assert_inteq(parse("imap://test@example.test/imaptest/;uid=1;urlauth=user+test@example.test", &u), 0);
	test_assert_streq(u.user, "test");
	test_assert_streq(u.host, "example.test");
	test_assert_streq(u.access_user, "test@example.test");
	test_assert(imap_url_owner_is(&u, "test@example.test"));
	test_assert(imap_url_owner_is(&u, "TEST@Example.Test"));
	test_assert(!imap_url_owner_is(&u, "test@example.org"));
	test_assert(!imap_url_owner_is(&u, "test2@example.test"));
	test_assert(imap_url_access_user_is(&u, "test@example.test"));
	test_assert(!imap_url_access_user_is(&u, "other@example.test"));
	test_end();

	test_begin("imap_url: section with header fields, %-escaped");
	test_assert_inteq(parse("/INBOX/;UID=5/;SECTION=HEADER.FIELDS%20(FROM%20TO)/;PARTIAL=10", &u), 0);
	test_assert_streq(u.section, "HEADER.FIELDS (FROM TO)");
	test_assert(u.has_partial);
	test_assert_inteq(u.partial_start, 10);
	test_assert_inteq(u.partial_len, 0);
	test_end();

	test_begin("imap_url: refused");
	test_assert_inteq(parse("", &u), -1);
	test_assert_inteq(parse("imap://;AUTH=*@minbari.example.org/gray%20council?SUBJECT%20shadows", &u), -1);
	test_assert_inteq(parse("INBOX/;UID=1", &u), -1);                 /* relative */
	test_assert_inteq(parse("http://example.org/", &u), -1);
	test_assert_inteq(parse("/INBOX/;UID=0", &u), -1);                /* nz-number */
	test_assert_inteq(parse("/INBOX/;UID=4294967296", &u), -1);
	test_assert_inteq(parse("/INBOX/;UID=01", &u), -1);
	test_assert_inteq(parse("/INBOX;UID=1", &u), -1);                 /* "/" missing */
	test_assert_inteq(parse("/INBOX/;UIDVALIDITY=1", &u), -1);        /* "/" extra */
	test_assert_inteq(parse("/INBOX/;SECTION=1/;UID=1", &u), -1);     /* order */
	test_assert_inteq(parse("/INBOX/;UID=1/;UID=2", &u), -1);         /* twice */
	test_assert_inteq(parse("/INBOX/;UID=1/;PARTIAL=1.0", &u), -1);
	test_assert_inteq(parse("/IN%00BOX/;UID=1", &u), -1);             /* NUL */
	test_assert_inteq(parse("/IN%zzBOX/;UID=1", &u), -1);
	test_assert_inteq(parse("/IN%4", &u), -1);
	test_assert_inteq(parse("/%FF%FE/;UID=1", &u), -1);               /* not UTF-8 */
	test_assert_inteq(parse("/INBOX/;UID=1 ", &u), -1);
	test_assert_inteq(parse("/INBOX/;UID=1;URLAUTH=nobody", &u), -1);
	test_assert_inteq(parse("/INBOX/;UID=1;URLAUTH=user+", &u), -1);
	test_assert_inteq(parse("/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:1234", &u), -1); /* < 32 hex */
	test_assert_inteq(parse("/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:91354a473744909de610943775f9203x", &u), -1);
	test_assert_inteq(parse("/INBOX/;UID=1;EXPIRE=yesterday;URLAUTH=authuser", &u), -1);
	test_assert_inteq(parse("imap://@host/INBOX", &u), -1);
	test_assert_inteq(parse("imap://host:99999/INBOX", &u), -1);
	test_assert_inteq(parse("imap:///INBOX", &u), -1);
	test_end();

	test_begin("imap_url: length bound");
	{
		size_t n = IMAP_URL_MAX + 1;
		char *big = malloc(n);
		const char *error;

		memset(big, 'a', n);
		big[0] = '/';
		test_assert_inteq(imap_url_parse(big, n, a, &u, &error), -1);
		test_assert_inteq(imap_url_parse(big, n - 1, a, &u, &error), 0);
		free(big);
	}
	test_end();

	arena_free(&a);
	return test_done();
}
