/* Organisational domains (RFC 7489 3.2) and identifier alignment (3.1).
 *
 * The Public Suffix List is Debian's publicsuffix package when installed
 * (a 240K text file, 12,000 rules: sorted into an array once and
 * searched with bsearch).  Without it, a fallback: the last two labels,
 * or three under a two-letter ccTLD whose second level is one of the
 * common registry labels (co.uk, com.au, ac.jp ...).  The fallback is
 * wrong for private suffixes (github.io) and for ccTLDs with other
 * second levels; install publicsuffix for those. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mailauth/dmarc.h"

#define PSL_DEFAULT "/usr/share/publicsuffix/public_suffix_list.dat"

/* Loaded before the workers start, read-only afterwards. */
static char **psl;
static size_t psl_n;

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
dmarc_psl_free(void)
{
	for (size_t i = 0; i < psl_n; i++)
		free(psl[i]);
	free(psl);
	psl = NULL;
	psl_n = 0;
}

/* One rule line: lower-case ASCII only (IDN rules are in the file in
 * UTF-8; the domains we see are A-labels, so those lines never match). */
static bool
rule_ok(const char *line)
{
	for (const char *p = line; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80 || *p == ' ')
			return false;
	}
	return line[0] != '\0';
}

int
dmarc_psl_load(const char *path)
{
	FILE *f = fopen(path != NULL ? path : PSL_DEFAULT, "r");
	char line[512];
	size_t cap = 0;
	long total = 0;

	dmarc_psl_free();
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strcspn(line, "\r\n\t ");

		total += (long)strlen(line);
		if (total > PSL_FILE_MAX)
			break;
		line[len] = '\0';
		if (line[0] == '/' || !rule_ok(line))
			continue;
		for (char *p = line; *p != '\0'; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		if (psl_n == cap) {
			char **n;

			cap = cap == 0 ? 16384 : cap * 2;
			n = realloc(psl, cap * sizeof(*psl));
			if (n == NULL)
				break;
			psl = n;
		}
		if ((psl[psl_n] = strdup(line)) == NULL)
			break;
		psl_n++;
	}
	fclose(f);
	qsort(psl, psl_n, sizeof(*psl), cmp_str);
	return psl_n > 0 ? 0 : -1;
}

static bool
psl_has(const char *prefix, const char *suffix)
{
	char key[DOMAIN_MAX + 4];
	const char *k = key;

	snprintf(key, sizeof(key), "%s%s", prefix, suffix);
	return bsearch(&k, psl, psl_n, sizeof(*psl), cmp_str) != NULL;
}

/* Index in lab[] of the label where the public suffix starts. */
static size_t
psl_suffix(const char *domain, const size_t *lab, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *suf = domain + lab[i];

		/* the longest rule wins; an exception rule's suffix is the
		 * rule minus its leftmost label */
		if (psl_has("!", suf))
			return i + 1 < n ? i + 1 : i;
		if (psl_has("", suf) || (i + 1 < n && psl_has("*.", domain + lab[i + 1])))
			return i;
	}
	return n - 1;   /* the implicit rule "*": the TLD */
}

static bool
short_sld(const char *label, size_t len)
{
	static const char *const sld[] = { "co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "go" };

	for (size_t i = 0; i < sizeof(sld) / sizeof(sld[0]); i++) {
		if (strlen(sld[i]) == len && strncmp(label, sld[i], len) == 0)
			return true;
	}
	return false;
}

/* Without the list: two labels, three under "co.uk"-like suffixes. */
static size_t
fallback_suffix(const char *domain, const size_t *lab, size_t n)
{
	if (n >= 2 && strlen(domain + lab[n - 1]) == 2 && short_sld(domain + lab[n - 2], lab[n - 1] - lab[n - 2] - 1))
		return n - 2;
	return n - 1;
}

int
dmarc_org_domain(const char *domain, char *out, size_t outsize)
{
	size_t lab[DOMAIN_MAX / 2 + 2], n = 0, ps;

	if (domain[0] == '\0') {
		if (outsize == 0)
			return -1;
		out[0] = '\0';
		return 0;
	}
	lab[n++] = 0;
	for (size_t i = 0; domain[i] != '\0' && n < sizeof(lab) / sizeof(lab[0]); i++) {
		if (domain[i] == '.' && domain[i + 1] != '\0')
			lab[n++] = i + 1;
	}
	ps = psl_n > 0 ? psl_suffix(domain, lab, n) : fallback_suffix(domain, lab, n);
	/* the public suffix plus one label; a bare public suffix stays itself */
	if (ps > 0)
		ps--;
	if (strlen(domain + lab[ps]) + 1 > outsize)
		return -1;
	snprintf(out, outsize, "%s", domain + lab[ps]);
	return 0;
}

bool
dmarc_aligned(const char *a, const char *b, bool strict)
{
	char la[DOMAIN_MAX + 1], lb[DOMAIN_MAX + 1], oa[DOMAIN_MAX + 1], ob[DOMAIN_MAX + 1];

	if (strcasecmp(a, b) == 0)
		return true;
	if (strict || strlen(a) > DOMAIN_MAX || strlen(b) > DOMAIN_MAX)
		return false;
	for (size_t i = 0; (la[i] = (char)tolower((unsigned char)a[i])) != '\0'; i++)
		;
	for (size_t i = 0; (lb[i] = (char)tolower((unsigned char)b[i])) != '\0'; i++)
		;
	if (dmarc_org_domain(la, oa, sizeof(oa)) == -1 || dmarc_org_domain(lb, ob, sizeof(ob)) == -1)
		return false;
	return strcmp(oa, ob) == 0;
}
