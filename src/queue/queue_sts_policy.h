/* MTA-STS (RFC 8461): the pure parts, no I/O, so that a unit test and a
 * fuzzer drive them: the _mta-sts TXT record, the policy file, the MX
 * pattern match, and the on-disk cache entry (data_dir/mta-sts/<domain>).
 * queue_sts.c does the lookups, the fetch and the cache. */
#ifndef TERN_QUEUE_STS_POLICY_H
#define TERN_QUEUE_STS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/limits.h"

#define STS_NAME_MAX 253   /* RFC 1035 2.3.4, as DNS_NAME_MAX */

enum sts_mode {
	STS_MODE_NONE,      /* the domain opts out: as without a policy */
	STS_MODE_TESTING,   /* failures are logged, mail goes as without a policy */
	STS_MODE_ENFORCE,   /* only matching MX hosts, TLS with a verified certificate */
};

struct sts_policy {
	enum sts_mode mode;
	uint32_t max_age;                          /* seconds, <= STS_MAX_AGE_MAX */
	size_t n_mx;
	char mx[STS_MX_MAX][STS_NAME_MAX + 1];     /* lower case; "*.example.net" or "mx.example.net" */
};

/* The TXT records at _mta-sts.<domain> (RFC 8461 3.1): records not
 * starting with "v=STSv1" are ignored; exactly one must remain and parse.
 * Returns 0 and copies its id into id_out (NUL-terminated), or -1 with a
 * static reason ("no STSv1 record", "several STSv1 records", "bad id").
 * Unknown fields are ignored. */
int queue_sts_txt_parse(const char *const *txt, size_t n, char id_out[STS_ID_MAX + 1], const char **error_out);

/* A policy file (RFC 8461 3.2): "key: value" lines, LF or CRLF.  version
 * must be STSv1; mode and max_age are required; mx is required unless
 * the mode is none; unknown keys are ignored; a repeated key other than
 * mx keeps its first value.  len may be up to STS_POLICY_MAX; the text
 * need not be NUL-terminated.  Returns 0 with *out filled, or -1 with a
 * static reason. */
int queue_sts_policy_parse(const char *text, size_t len, struct sts_policy *out, const char **error_out);

/* Whether host (an MX host name, any case, maybe with a trailing dot)
 * matches one of p's mx patterns: equal, or "*.rest" with host being one
 * more label in front of rest (RFC 8461 4.1). */
bool queue_sts_mx_match(const struct sts_policy *p, const char *host);

/* "none", "testing", "enforce". */
const char *queue_sts_mode_name(enum sts_mode mode);

/* The cache file: "tern-mta-sts 1\nfetched: <unix time>\nid: <id>\n\n"
 * then the policy file as fetched.  Returns a malloc'd string (the caller
 * frees it). */
char *queue_sts_cache_format(int64_t fetched_at, const char *id, const char *policy, size_t policy_len);
/* Reads a cache file back: returns 0 with the fetch time, the id and the
 * parsed policy, or -1 with a static reason. */
int queue_sts_cache_parse(const char *text, size_t len, int64_t *fetched_at_out, char id_out[STS_ID_MAX + 1],
                          struct sts_policy *policy_out, const char **error_out);

#endif
