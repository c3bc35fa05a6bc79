/* DMARC (RFC 7489): does the From: domain's owner vouch for this message
 * through an aligned SPF or DKIM pass, and what does it ask us to do if
 * not?
 *
 * Why not libopendmarc (Debian's libopendmarc2): it does neither SPF nor
 * DKIM -- the caller passes their results in -- nor its DNS through our
 * resolver (it calls res_query itself, like libspf2), and keeps its own
 * copy of the Public Suffix List code.  What is left for it to do is the
 * record parse and the alignment, which are small here: the record is a
 * DKIM-style tag list (dkim_tags_parse, already fuzzed) and alignment is
 * a string compare of organisational domains.
 *
 * Organisational domain (RFC 7489 3.2): the Public Suffix List from
 * Debian's publicsuffix package (/usr/share/publicsuffix/
 * public_suffix_list.dat) when it is installed, loaded once by
 * dmarc_psl_load(); without it, the last two labels, or three when the
 * second-to-last is a short "co"/"com"/"org"/"net"/"ac"/"gov"/"edu" label
 * under a two-letter ccTLD (co.uk, com.au). */
#ifndef TERN_MAILAUTH_DMARC_H
#define TERN_MAILAUTH_DMARC_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/limits.h"

enum dmarc_policy {
	DMARC_POLICY_NONE,
	DMARC_POLICY_QUARANTINE,
	DMARC_POLICY_REJECT,
};

enum dmarc_result {
	DMARC_RESULT_NONE,       /* no record: no DMARC */
	DMARC_RESULT_PASS,
	DMARC_RESULT_FAIL,
	DMARC_RESULT_TEMPERROR,
	DMARC_RESULT_PERMERROR,  /* From: unusable (missing, several addresses) */
};

struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;    /* = p when not given */
	bool adkim_strict;
	bool aspf_strict;
	unsigned pct;            /* 0..100, default 100 */
};

/* ---- Record (dmarc_record.c): pure ---- */

/* true if the TXT record starts "v=DMARC1" (then WSP or ';'). */
bool dmarc_record_is_dmarc(const char *txt, size_t len);
/* Parses a DMARC record (RFC 7489 6.3): v=DMARC1 first, p= required (a
 * record without a valid p= but with rua= counts as p=none, 6.6.3);
 * unknown tags and bad values of optional tags are ignored (defaults).
 * 0, or -1 with a static message (then no DMARC applies). */
int dmarc_record_parse(const char *s, size_t len, struct dmarc_record *out, const char **error_out);

/* ---- Organisational domain and alignment (dmarc_org.c) ---- */

/* Loads the Public Suffix List from path (NULL: Debian's).  Once, before
 * worker threads use dmarc_org_domain().  0, or -1 if unreadable (the
 * fallback rule is used then). */
int dmarc_psl_load(const char *path);
void dmarc_psl_free(void);
/* The organisational domain of domain (lower-case, no trailing dot) into
 * out (a suffix of domain).  0, or -1 if out is too small. */
int dmarc_org_domain(const char *domain, char *out, size_t outsize);
/* Identifier alignment (RFC 7489 3.1): strict = equal, relaxed = same
 * organisational domain; case-insensitive. */
bool dmarc_aligned(const char *a, const char *b, bool strict);

/* ---- Evaluation (dmarc_eval.c) ---- */

struct dmarc_input {
	const char *from_domain;     /* RFC5322.From domain, lower-case; NULL: none/unusable */
	const char *spf_domain;      /* MAIL FROM domain (or HELO), NULL unless SPF passed */
	const char **dkim_domains;   /* d= of each passing DKIM signature */
	size_t n_dkim;
	unsigned pct_roll;           /* 0..99, random: pct sampling (RFC 7489 6.6.4) */
};

/* Looks up TXT records of name; fills recs (max of them) and *n_out.
 * Returns 0 (found, or no record), 1 for a temporary failure. */
typedef int dmarc_txt_lookup(void *arg, const char *name, char (*recs)[DMARC_RECORD_MAX + 1], size_t max,
                             size_t *n_out);

struct dmarc_verdict {
	enum dmarc_result result;
	enum dmarc_policy policy;        /* p, or sp for a subdomain (only with a record) */
	enum dmarc_policy disposition;   /* what to do on fail, after pct */
	bool spf_aligned, dkim_aligned;
	char from_domain[DOMAIN_MAX + 1];
};

/* Evaluates DMARC for in (RFC 7489 6.6): policy discovery at
 * _dmarc.<from>, then _dmarc.<organisational domain>.  Blocks on DNS
 * through lookup: call from worker threads. */
void dmarc_evaluate(const struct dmarc_input *in, dmarc_txt_lookup *lookup, void *arg, struct dmarc_verdict *out);

const char *dmarc_result_name(enum dmarc_result r);
const char *dmarc_policy_name(enum dmarc_policy p);

#endif
