/* LIST pattern matching: a Shift-And automaton over the pattern's
 * positions (see imap_match.h).
 *
 * State i means "pattern[0..i) has been matched"; there are n+1 states
 * for a pattern of n tokens (bytes, after collapsing wildcard runs).  On
 * a name byte c, state i goes to i+1 when token i is the literal c, and
 * stays at i when token i is "*" (or "%" and c is not '/').  A wildcard
 * may also match nothing: state i then reaches i+1 without input (the
 * closure).  As two wildcards never follow each other after collapsing,
 * one closure step is enough.  The name matches when state n is live
 * once the whole name is read. */
#include <stdint.h>
#include <string.h>

#include "imap/imap_match.h"
#include "lib/arena.h"

#define WORD_BITS 64
#define WORDS_MAX ((IMAP_PATTERN_LEN_MAX + 1 + WORD_BITS - 1) / WORD_BITS)

struct imap_pattern {
	const char *tok;         /* collapsed pattern, ntok bytes */
	size_t ntok;
	size_t words;            /* 64-bit words of a state set (ntok + 1 states) */
	size_t literals;         /* literal bytes: a shorter name cannot match */
	bool wild;               /* holds a wildcard */
	bool only_star;          /* is "*" */
	uint64_t *star;          /* states whose token is "*" */
	uint64_t *pct;           /* states whose token is "%" */
	uint64_t *lit;           /* 256 x words: bit i+1 set when token i is that byte */
};

static void
bit_set(uint64_t *set, size_t i)
{
	set[i / WORD_BITS] |= (uint64_t)1 << (i % WORD_BITS);
}

static bool
bit_get(const uint64_t *set, size_t i)
{
	return (set[i / WORD_BITS] >> (i % WORD_BITS) & 1) != 0;
}

struct imap_pattern *
imap_pattern_new(const char *pattern, size_t len, struct arena *a)
{
	struct imap_pattern *p;
	char *tok;
	size_t i, n = 0;

	if (len > IMAP_PATTERN_LEN_MAX)
		return NULL;
	p = arena_alloc(a, sizeof(*p));
	tok = arena_alloc(a, len + 1);
	for (i = 0; i < len; i++) {
		char c = pattern[i];

		if (c == '*' || c == '%') {
			p->wild = true;
			if (n > 0 && (tok[n - 1] == '*' || tok[n - 1] == '%')) {
				if (c == '*')
					tok[n - 1] = '*';
				continue;
			}
		} else {
			p->literals++;
		}
		tok[n++] = c;
	}
	p->tok = tok;
	p->ntok = n;
	p->only_star = n == 1 && tok[0] == '*';
	p->words = (n + 1 + WORD_BITS - 1) / WORD_BITS;
	if (!p->wild || p->only_star)
		return p;
	p->star = arena_alloc(a, p->words * sizeof(uint64_t));
	p->pct = arena_alloc(a, p->words * sizeof(uint64_t));
	p->lit = arena_alloc(a, 256 * p->words * sizeof(uint64_t));
	for (i = 0; i < n; i++) {
		if (tok[i] == '*')
			bit_set(p->star, i);
		else if (tok[i] == '%')
			bit_set(p->pct, i);
		else
			bit_set(p->lit + (size_t)(unsigned char)tok[i] * p->words, i + 1);
	}
	return p;
}

bool
imap_pattern_ends_with_percent(const struct imap_pattern *p)
{
	return p->ntok > 0 && p->tok[p->ntok - 1] == '%';
}

/* set |= (set & wild) << 1, across words: a wildcard may match nothing. */
static void
closure(uint64_t *set, const struct imap_pattern *p)
{
	uint64_t carry = 0;
	size_t w;

	for (w = 0; w < p->words; w++) {
		uint64_t from = set[w] & (p->star[w] | p->pct[w]);
		uint64_t next = carry;

		carry = from >> (WORD_BITS - 1);
		set[w] |= from << 1 | next;
	}
}

bool
imap_pattern_match(const struct imap_pattern *p, const char *name, size_t len)
{
	uint64_t cur[WORDS_MAX], nxt[WORDS_MAX];
	size_t i, w;

	if (p->only_star)
		return true;
	if (!p->wild)
		return len == p->ntok && memcmp(name, p->tok, len) == 0;
	if (len < p->literals)
		return false;
	/* The literal text before the first wildcard must start the name. */
	for (i = 0; p->tok[i] != '*' && p->tok[i] != '%'; i++)
		if (name[i] != p->tok[i])
			return false;
	memset(cur, 0, p->words * sizeof(uint64_t));
	cur[0] = 1;
	closure(cur, p);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		const uint64_t *lit = p->lit + (size_t)c * p->words;
		uint64_t carry = 0, any = 0;

		for (w = 0; w < p->words; w++) {
			uint64_t stay = cur[w] & (p->star[w] | (c != '/' ? p->pct[w] : 0));

			nxt[w] = ((cur[w] << 1 | carry) & lit[w]) | stay;
			carry = cur[w] >> (WORD_BITS - 1);
		}
		closure(nxt, p);
		for (w = 0; w < p->words; w++) {
			cur[w] = nxt[w];
			any |= nxt[w];
		}
		if (any == 0)
			return false;
	}
	return bit_get(cur, p->ntok);
}
