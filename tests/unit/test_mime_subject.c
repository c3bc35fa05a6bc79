/* mime_subject.c: the base subject of RFC 5256 2.1, rule by rule, and the
 * address keys of RFC 5256 3 and RFC 5957 3.  Expected values are worked
 * out by hand from the RFC's ABNF (subj-trailer, subj-leader, subj-blob,
 * subj-fwd-hdr/-trl). */
#include "test.h"

#include "lib/arena.h"
#include "mime/mime.h"
#include "mime/mime_subject.h"

static void
check(struct arena *a, const char *subject, const char *base, bool reply)
{
	bool r = !reply;
	const char *got = mime_base_subject(subject, a, &r);

	test_assert_streq(got, base);
	if (r != reply)
		printf("# %s: reply %d, expected %d\n", subject ? subject : "(null)", r, reply);
	test_assert(r == reply);
}

static void
test_base_subject(void)
{
	struct arena *a = arena_new(4096, false);

	test_begin("mime_base_subject: step 1, decoding and white space");
	check(a, NULL, "", false);
	check(a, "", "", false);
	check(a, "a  \t b", "a b", false);
	check(a, "=?iso-8859-1?q?_?=", "", false);
	check(a, "=?iso-8859-1?q?caf=E9?=", "caf\xc3\xa9", false);
	check(a, "=?us-ascii?b?UmU6IGM=?=", "c", true);  /* "Re: c", decoded before step 3 */
	test_end();

	test_begin("mime_base_subject: step 2, subj-trailer");
	check(a, "b (fwd)", "b", true);
	check(a, "b (fWd)  (FWD) ", "b", true);
	check(a, "b(fwd)", "b", true);
	check(a, "b (fwd) x", "b (fwd) x", false);  /* only at the end */
	check(a, "b (a)", "b (a)", false);
	test_end();

	test_begin("mime_base_subject: step 3, subj-leader");
	check(a, "Re: b", "b", true);
	check(a, "RE:b", "b", true);
	check(a, "Fw: b", "b", true);
	check(a, "FWD : b", "b", true);           /* *WSP before the colon */
	check(a, "Re[2]: b", "b", true);          /* subj-blob before the colon */
	check(a, "Re [2] : b", "b", true);
	check(a, "[list] Re: b", "b", true);      /* *subj-blob before subj-refwd */
	check(a, "[a][b] fw: b", "b", true);
	check(a, "re: re: fwd: b", "b", true);    /* step 5 repeats */
	check(a, "Ad: Re: b", "Ad: Re: b", false); /* "Ad:" is no leader */
	check(a, "Rex: b", "Rex: b", false);
	check(a, "Re b", "Re b", false);
	check(a, "Re:", "", true);
	test_end();

	test_begin("mime_base_subject: step 4, subj-blob");
	check(a, "[list] b", "b", false);
	check(a, "[a] [b] c", "c", false);
	check(a, "[xyz]", "[xyz]", false);        /* would leave nothing */
	check(a, "[a] [xyz]", "[xyz]", false);
	check(a, "[a[b] c", "[a[b] c", false);    /* "[" is no BLOBCHAR */
	check(a, "[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", true);
	test_end();

	test_begin("mime_base_subject: step 6, subj-fwd-hdr and subj-fwd-trl");
	check(a, "[fwd: b]", "b", true);
	check(a, "Re: [FWD: c]", "c", true);
	check(a, "re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", true);
	check(a, "[fwd: b (fwd)]", "b", true);    /* step 2 again inside */
	check(a, "[fwd: b] x", "x", false);        /* a plain subj-blob (step 4) */
	test_end();
	arena_free(&a);
}

static void
test_addresses(void)
{
	struct arena *a = arena_new(4096, false);
	struct mime_address *l;

	test_begin("mime_sort_mailbox: first address, group name");
	test_assert_streq(mime_sort_mailbox(NULL), "");
	l = mime_address_parse("Foo Bar <x@y.org>, a@b.c", a);
	test_assert_streq(mime_sort_mailbox(l), "x");
	l = mime_address_parse("user2: blah@domain1.org;", a);
	test_assert_streq(mime_sort_mailbox(l), "user2");
	l = mime_address_parse("user2@domain2.org (foo bar)", a);
	test_assert_streq(mime_sort_mailbox(l), "user2");
	test_end();

	test_begin("mime_sort_display: display name, else addr-spec");
	test_assert_streq(mime_sort_display(NULL, a), "");
	l = mime_address_parse("foo bar <a@b.c>", a);
	test_assert_streq(mime_sort_display(l, a), "foo bar");
	l = mime_address_parse("=?iso-8859-1?q?foo_aar?= <e@f.g>", a);
	test_assert_streq(mime_sort_display(l, a), "foo aar");
	l = mime_address_parse("\"\" <b@c.d>, z@z.z", a);
	test_assert_streq(mime_sort_display(l, a), "b@c.d");
	l = mime_address_parse("d", a);
	test_assert_streq(mime_sort_display(l, a), "d");
	l = mime_address_parse("empty:;", a);
	test_assert_streq(mime_sort_display(l, a), "empty");
	test_end();
	arena_free(&a);
}

static void
test_casemap(void)
{
	test_begin("mime_casemap_cmp: i;ascii-casemap folds to upper case");
	test_assert(mime_casemap_cmp("a", "A") == 0);
	test_assert(mime_casemap_cmp("abc", "ABD") < 0);
	test_assert(mime_casemap_cmp("z", "[") < 0);  /* 'Z' 0x5A < '[' 0x5B */
	test_assert(mime_casemap_cmp("_", "z") > 0);
	test_assert(mime_casemap_cmp("", "a") < 0);
	test_assert(mime_casemap_cmp("b (a)", "babylon") < 0);
	test_assert(mime_casemap_cmp("\xc3\xa9", "\xc3\x89") != 0);  /* ASCII only */
	test_end();

	test_begin("mime_casemap_fold: strcmp on folded strings is mime_casemap_cmp");
	{
		const char *w[] = { "", "a", "B", "ab", "[x", "_", "z", "Zz", "\xc3\xa9", "b (a)", "babylon" };
		char x[16], y[16];

		for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
			for (size_t j = 0; j < sizeof(w) / sizeof(w[0]); j++) {
				int c1 = mime_casemap_cmp(w[i], w[j]), c2;

				strcpy(x, w[i]);
				strcpy(y, w[j]);
				mime_casemap_fold(x);
				mime_casemap_fold(y);
				c2 = strcmp(x, y);
				test_assert((c1 < 0) == (c2 < 0) && (c1 > 0) == (c2 > 0));
			}
		}
		strcpy(x, "Re: \xc3\xa9t\xc3\xa9");
		mime_casemap_fold(x);
		test_assert_streq(x, "RE: \xc3\xa9T\xc3\xa9");
	}
	test_end();
}

int
main(void)
{
	test_base_subject();
	test_addresses();
	test_casemap();
	return test_done();
}
