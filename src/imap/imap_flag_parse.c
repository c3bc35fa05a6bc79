/* Flags and dates in commands: STORE and APPEND flag lists (RFC 9051
 * 6.4.6, 6.3.12), and APPEND's date-time. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "imap/imap_session.h"
#include "lib/arena.h"
#include "store/store_imap.h"

static const struct {
	const char *name;
	uint32_t bit;
} system_flags[] = {
	{ "\\Seen", STORE_FLAG_SEEN },
	{ "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED },
	{ "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Draft", STORE_FLAG_DRAFT },
};

/* RFC 9051 9: flag-keyword = "$MDNSent" / "$Forwarded" / ... / atom;
 * atom-specials exclude ( ) { SP CTL % * " \ ]. */
static bool
keyword_valid(const char *s, size_t len)
{
	if (len == 0 || len > STORE_KEYWORD_LEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static int
one_flag(const struct imap_arg *a, struct buf *kw, size_t *nkw, uint32_t *flags, const char **error)
{
	/* RFC 3501 9: flag-keyword = atom, and "NIL" is an atom (the parser
	 * marks it as NIL because it may be an nstring elsewhere): a keyword
	 * named NIL, as Dovecot and imaptest's "nil" script have it. */
	if (a->type != IMAP_ARG_ATOM && a->type != IMAP_ARG_NIL) {
		*error = "Flags are atoms";
		return -1;
	}
	if (a->str[0] == '\\') {
		for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]); i++)
			if (strcasecmp(a->str, system_flags[i].name) == 0) {
				*flags |= system_flags[i].bit;
				return 0;
			}
		/* \Recent cannot be set (RFC 3501 2.3.2); other \ names are
		 * not flags we know. */
		*error = "Invalid system flag";
		return -1;
	}
	if (!keyword_valid(a->str, a->len)) {
		*error = "Invalid keyword";
		return -1;
	}
	/* Duplicates (any case) are kept once. */
	{
		const char *p = kw->data;

		while (p != NULL && *p != '\0') {
			const char *e = strchr(p, ' ');
			size_t len = e != NULL ? (size_t)(e - p) : strlen(p);

			if (len == a->len && strncasecmp(p, a->str, len) == 0)
				return 0;
			p = e != NULL ? e + 1 : NULL;
		}
	}
	if (++*nkw > STORE_KEYWORDS_MAX) {
		*error = "Too many keywords";
		return -1;
	}
	if (kw->len > 0)
		buf_puts(kw, " ");
	buf_append(kw, a->str, a->len);
	return 0;
}

int
imap_flags_parse(const struct imap_arg *arg, bool list_only, struct arena *a, uint32_t *flags_out,
                 const char **keywords_out, const char **error_out)
{
	struct buf kw = BUF_INIT;
	size_t nkw = 0;
	uint32_t flags = 0;
	int r = 0;

	if (arg->type == IMAP_ARG_LIST) {
		for (const struct imap_arg *x = arg->list; x != NULL && r == 0; x = x->next)
			r = one_flag(x, &kw, &nkw, &flags, error_out);
	} else if (!list_only) {
		/* STORE allows flags without parentheses (RFC 9051 9:
		 * store-att-flags = ... (flag-list / (flag *(SP flag)))). */
		for (const struct imap_arg *x = arg; x != NULL && r == 0; x = x->next)
			r = one_flag(x, &kw, &nkw, &flags, error_out);
	} else {
		*error_out = "Expected a flag list";
		r = -1;
	}
	if (r == 0) {
		*flags_out = flags;
		*keywords_out = arena_strdup(a, kw.data != NULL ? kw.data : "");
	}
	buf_free(&kw);
	return r;
}

int
imap_datetime_parse(const char *s, size_t len, int64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char buf[40], mon[4];
	int day, year, hh, mm, ss, zone, n = 0;
	struct tm tm = { 0 };
	const char *m;
	time_t t;

	/* date-time = DQUOTE date-day-fixed "-" date-month "-" date-year
	 * SP time SP zone DQUOTE; the quotes are gone already. */
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "%2d-%3c-%4d %2d:%2d:%2d %5d%n", &day, mon, &year, &hh, &mm, &ss, &zone, &n) != 7 ||
	    (size_t)n != len)
		return -1;
	mon[3] = '\0';
	if ((buf[0] != ' ' && !isdigit((unsigned char)buf[0])) || (buf[len - 5] != '+' && buf[len - 5] != '-'))
		return -1;
	for (m = months; *m != '\0'; m += 3)
		if (strncasecmp(m, mon, 3) == 0)
			break;
	if (*m == '\0' || day < 1 || day > 31 || year < 1900 || year > 9999 || hh > 23 || mm > 59 || ss > 60 ||
	    zone < -9999 || zone > 9999 || zone % 100 > 59 || zone % 100 < -59)
		return -1;
	tm.tm_mday = day;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	/* "+0200" is two hours ahead of UTC: subtract it. */
	*out = (int64_t)t - (zone / 100) * 3600 - (zone % 100) * 60;
	return 0;
}
