/* Tests of the LIST pattern matcher (src/imap/imap_match.c): cases from
 * RFC 9051 6.3.9 / RFC 3501 6.3.8, then every pattern and name over a
 * small alphabet checked against a plain recursive matcher written from
 * the RFC's definition, then patterns that make backtracking matchers
 * exponential. */
#include <stdlib.h>
#include <string.h>

#include "imap/imap_match.h"
#include "lib/arena.h"
#include "test.h"

static struct arena *a;

static bool
m(const char *pattern, const char *name)
{
	struct imap_pattern *p = imap_pattern_new(pattern, strlen(pattern), a);

	return p != NULL && imap_pattern_match(p, name, strlen(name));
}

/* RFC 9051 6.3.9: "*" matches zero or more characters; "%" likewise but
 * not the hierarchy delimiter.  Exponential, for short inputs only. */
static bool
ref_match(const char *p, size_t plen, const char *s, size_t slen)
{
	size_t i;

	if (plen == 0)
		return slen == 0;
	if (*p == '*' || *p == '%') {
		for (i = 0; i <= slen; i++) {
			if (ref_match(p + 1, plen - 1, s + i, slen - i))
				return true;
			if (i < slen && *p == '%' && s[i] == '/')
				return false;
		}
		return false;
	}
	return slen > 0 && *p == *s && ref_match(p + 1, plen - 1, s + 1, slen - 1);
}

static void
test_cases(void)
{
	test_begin("match: RFC 9051 6.3.9 wildcards");
	test_assert(m("*", ""));
	test_assert(m("*", "foo/bar/baz"));
	test_assert(m("%", "foo"));
	test_assert(!m("%", "foo/bar"));
	test_assert(m("foo/%", "foo/bar"));
	test_assert(!m("foo/%", "foo/bar/baz"));
	test_assert(m("foo/*", "foo/bar/baz"));
	test_assert(!m("foo/*", "foo"));
	test_assert(m("foo*", "foo"));
	test_assert(m("foo*", "foo/bar"));
	test_assert(m("foo%", "foobar"));
	test_assert(!m("foo%", "foo/bar"));
	test_assert(m("%/%", "a/b"));
	test_assert(!m("%/%", "a/b/c"));
	test_assert(m("*/%", "a/b/c"));
	test_assert(m("%*", "a/b/c"));           /* collapses to "*" */
	test_assert(m("*%", "a/b/c"));
	test_assert(m("*2", "foo2"));
	test_assert(m("*2", "baz2/bar22"));
	test_assert(!m("*2", "foo2/bar1"));
	test_assert(m("INBOX", "INBOX"));
	test_assert(!m("INBOX", "inbox"));        /* case is the caller's business */
	test_assert(!m("INBOX", "INBOX/x"));
	test_assert(m("", ""));
	test_assert(!m("", "a"));
	test_assert(m("a%b*c", "axb/yc"));
	test_assert(m("*a%b", "a/ab"));           /* a greedy matcher gets this wrong */
	test_assert(!m("*a%b", "a/a/b"));
	test_assert(m("\xe5\x8f\xb0%", "\xe5\x8f\xb0\xe5\x8c\x97"));
	test_end();

	test_begin("match: ends with percent");
	test_assert(imap_pattern_ends_with_percent(imap_pattern_new("a/%", 3, a)));
	test_assert(!imap_pattern_ends_with_percent(imap_pattern_new("a/*", 3, a)));
	test_assert(!imap_pattern_ends_with_percent(imap_pattern_new("%*", 2, a)));
	test_assert(imap_pattern_ends_with_percent(imap_pattern_new("%%", 2, a)));
	test_assert(!imap_pattern_ends_with_percent(imap_pattern_new("", 0, a)));
	test_end();
}

/* Every string of length <= maxlen over alphabet, in turn. */
static bool
next_string(char *s, size_t *len, size_t maxlen, const char *alphabet)
{
	size_t k = strlen(alphabet), i;

	for (i = *len; i-- > 0;) {
		const char *c = strchr(alphabet, s[i]);

		if ((size_t)(c - alphabet) + 1 < k) {
			s[i] = c[1];
			memset(s + i + 1, alphabet[0], *len - i - 1);
			return true;
		}
	}
	if (*len == maxlen)
		return false;
	(*len)++;
	memset(s, alphabet[0], *len);
	s[*len] = '\0';
	return true;
}

static void
test_exhaustive(void)
{
	char pat[8] = "", name[8] = "";
	size_t plen = 0, nlen, count = 0, bad = 0;

	test_begin("match: every pattern <= 5 over {a,/,*,%} against every name <= 5 over {a,b,/}");
	do {
		struct imap_pattern *p = imap_pattern_new(pat, plen, a);

		nlen = 0;
		name[0] = '\0';
		do {
			bool want = ref_match(pat, plen, name, nlen);

			count++;
			if (imap_pattern_match(p, name, nlen) != want) {
				if (bad++ < 5)
					printf("# pattern \"%s\" name \"%s\": expected %d\n", pat, name, want);
			}
		} while (next_string(name, &nlen, 5, "ab/"));
		arena_reset(a);
	} while (next_string(pat, &plen, 5, "a/*%"));
	test_assert(bad == 0);
	test_assert(count > 300000);
	test_end();
}

static void
test_long(void)
{
	char *pat = malloc(IMAP_PATTERN_LEN_MAX + 2), *name = malloc(4001);
	size_t i;

	test_begin("match: patterns that are exponential for backtracking matchers");
	for (i = 0; i < 4000; i++)
		name[i] = 'a';
	name[4000] = '\0';
	/* "*a*a*a...*b": no match, found in one pass */
	for (i = 0; i + 1 < 200; i += 2) {
		pat[i] = '*';
		pat[i + 1] = 'a';
	}
	pat[i] = 'b';
	pat[i + 1] = '\0';
	test_assert(!m(pat, name));
	pat[i] = '*';
	test_assert(m(pat, name));
	/* "%a%a%a..." of the longest length */
	for (i = 0; i + 1 < IMAP_PATTERN_LEN_MAX; i += 2) {
		pat[i] = '%';
		pat[i + 1] = 'a';
	}
	pat[i] = '\0';
	test_assert(m(pat, name));                /* 2047 "a"s in 4000 */
	name[1000] = '\0';
	test_assert(!m(pat, name));               /* 2047 "a"s are not in 1000 */
	pat[2000] = '\0';
	test_assert(m(pat, name));                /* 1000 "%a" against 1000 "a" */
	pat[1998] = '\0';
	test_assert(m(pat, name));                /* 999 "%a": a "%" takes one more "a" */
	name[500] = '/';
	test_assert(!m(pat, name));               /* nothing in the pattern takes the "/" */
	pat[1000] = '*';
	test_assert(m(pat, name));                /* now the 501st wildcard is "*" and does */
	/* the bound */
	memset(pat, '*', IMAP_PATTERN_LEN_MAX + 1);
	test_assert(imap_pattern_new(pat, IMAP_PATTERN_LEN_MAX, a) != NULL);
	test_assert(imap_pattern_new(pat, IMAP_PATTERN_LEN_MAX + 1, a) == NULL);
	test_end();
	free(pat);
	free(name);
}

int
main(void)
{
	a = arena_new(64 * 1024, false);
	test_cases();
	test_exhaustive();
	test_long();
	arena_free(&a);
	return test_done();
}
