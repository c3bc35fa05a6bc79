/* SPF (RFC 7208): is the client's address allowed to send for the
 * envelope sender's domain?
 *
 * Why our own evaluator and not libspf2: libspf2 does its own DNS through
 * the system resolver (res_query), so it could not be pointed at
 * [delivery] resolver (nor share libunbound's cache and DNSSEC settings),
 * and its upstream has seen little maintenance for years (the last
 * release, 1.2.11, is from 2014-ish; Debian carries the security fixes).
 * What SPF needs is small: a record parser (spf_record.c, pure and
 * fuzzed), macro expansion (spf_macro.c, pure) and the check_host()
 * walk over DNS (spf_eval.c) with RFC 7208's lookup limits.
 *
 * Not done: the ptr mechanism never matches (dns.h has no PTR lookup;
 * RFC 7208 5.5 says "SHOULD NOT be published" and verifiers may treat it
 * as no match) but still counts as a DNS lookup; %{p} expands to
 * "unknown" (RFC 7208 7.3 allows that).  exp= is parsed and ignored: we
 * never send the explanation text. */
#ifndef TERN_MAILAUTH_SPF_H
#define TERN_MAILAUTH_SPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"

struct dns_txt_list;
struct dns_addr_list;
struct dns_mx_list;

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

/* ---- The record (spf_record.c): pure ---- */

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

struct spf_term {
	char qualifier;          /* '+', '-', '~' or '?' */
	enum spf_mech mech;
	const char *domain;      /* domain-spec (macro-string) into the record; NULL: none */
	size_t domain_len;
	int cidr4, cidr6;        /* prefix lengths; 32 and 128 when not given */
	uint8_t ip[16];          /* ip4: first 4 bytes; ip6: all 16 */
};

struct spf_record {
	size_t n;
	struct spf_term term[SPF_TERMS_MAX];
	const char *redirect;    /* domain-spec of redirect=, NULL if none */
	size_t redirect_len;
	bool has_exp;            /* exp= was there (ignored) */
};

/* true if the TXT record is an SPF record: "v=spf1" alone or followed by
 * a space (RFC 7208 4.5, case-insensitive). */
bool spf_record_is_spf(const char *txt, size_t len);
/* Parses an SPF record (starting "v=spf1").  Unknown modifiers are
 * ignored; unknown mechanisms, bad syntax, duplicate redirect/exp and
 * more than SPF_TERMS_MAX terms are errors (permerror).  Pointers in
 * *out point into s.  0, or -1 with a static message. */
int spf_record_parse(const char *s, size_t len, struct spf_record *out, const char **error_out);

/* ---- Macros (spf_macro.c): pure ---- */

struct spf_macro_ctx {
	const char *sender;      /* <sender>: "local@domain" (postmaster@helo for the null sender) */
	const char *domain;      /* <domain>: the domain being checked now */
	const char *helo;        /* %{h} */
	bool ipv6;
	uint8_t ip[16];          /* the client; IPv4 in the first 4 bytes */
};

/* Expands a macro-string (RFC 7208 7) of len bytes into out (outsize
 * bytes, NUL added): %{s l o d i p h v} with digits and 'r' transformers
 * and delimiters, %% %_ %-.  c, r, t (exp only) are refused.  For a
 * domain-spec (domain true) the result is cut from the left to
 * SPF_DOMAIN_MAX.  0, or -1 with a static message (bad syntax: permerror;
 * too long for out). */
int spf_macro_expand(const char *s, size_t len, const struct spf_macro_ctx *ctx, bool domain, char *out,
                     size_t outsize, const char **error_out);
/* Checks macro-string syntax only (for the parser).  0 or -1. */
int spf_macro_check(const char *s, size_t len, const char **error_out);

/* ---- Evaluation (spf_eval.c) ---- */

/* The DNS lookups check_host() makes (dns.h's *_sync, or a test's table).
 * Each returns 0 and fills *out, whose status says what was found. */
struct spf_dns {
	int (*txt)(void *arg, const char *name, struct dns_txt_list *out);
	int (*addr)(void *arg, const char *name, struct dns_addr_list *out);
	int (*mx)(void *arg, const char *name, struct dns_mx_list *out);
	void *arg;
};

/* check_host() (RFC 7208 4) for the client ip (text, v4 or v6), the
 * domain to check and the sender ("" for the null sender: then
 * postmaster@helo, RFC 7208 2.4).  Blocks on DNS: call from worker
 * threads.  *reason_out gets static text for anything but pass (may be
 * NULL otherwise). */
enum spf_result spf_check_host(const struct spf_dns *dns, const char *ip, const char *domain, const char *sender,
                               const char *helo, const char **reason_out);

/* "pass", "fail", ... as in RFC 8601 2.7.2. */
const char *spf_result_name(enum spf_result r);

#endif
