/* DKIM (RFC 6376): signing outgoing mail and verifying incoming mail, with
 * rsa-sha256 and ed25519-sha256 (RFC 8463).
 *
 * Why OpenSSL directly and not libopendkim: Tern signs in-process, on its own
 * event loop's workers, streaming the body hash over the message file (which
 * may be 50 MB and is never loaded or rewritten: the signature is a header
 * sent before the file's bytes).  libopendkim wants the whole message pushed
 * through dkim_header()/dkim_body() and reports key lookups through
 * callbacks, which fits a milter better than a queue runner.  What Debian 12
 * ships (libopendkim-dev 2.11.0~beta2-8+deb12u1, checked with apt-cache show
 * and the package's <opendkim/dkim.h>): it does define DKIM_SIGN_ED25519SHA256
 * and DKIM_FEATURE_ED25519, so Ed25519 exists there, but in a beta release
 * series.  The cryptography is the part that needs care and OpenSSL (already
 * a dependency for TLS) does it; the rest -- tag lists, canonicalization --
 * is small, bounded, fuzzed code here.
 *
 * Messages are files with CRLF line ends: header, blank line, body.  Every
 * function reads them with pread(), so the file offset is left alone.
 *
 * Keys live in DATA_DIR/dkim/DOMAIN/SELECTOR.pem (PKCS#8 PEM, mode 0600).
 * The key that signs for a domain is its newest file (modification time;
 * equal times: the greater selector name).  `touch` an older key to make it
 * the active one again. */
#ifndef TERN_MAILAUTH_DKIM_H
#define TERN_MAILAUTH_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/limits.h"

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
	DKIM_ALG_RSA_SHA1,       /* parsed only to refuse it: RFC 8301 3.1 */
};

enum dkim_key_type {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

/* ---- Keys (dkim_keys.c) ---- */

struct dkim_key {
	char domain[DOMAIN_MAX + 1];
	char selector[DKIM_SELECTOR_MAX + 1];
	enum dkim_key_type type;
	time_t created;          /* the file's modification time */
	void *pkey;              /* EVP_PKEY *, the private key */
};

struct dkim_keys {
	size_t n;
	struct dkim_key *key;    /* sorted by domain, then newest first */
};

/* Loads every DATA_DIR/dkim/DOMAIN/SELECTOR.pem once (the delivery agent
 * then signs many messages with them).  A missing dkim directory is no
 * error (no keys).  Returns 0, or -1 with a malloc'd message in *error_out
 * (caller frees).  *keys_out is freed with dkim_keys_free(). */
int dkim_keys_load(const char *data_dir, struct dkim_keys **keys_out, char **error_out);
/* Frees the keys and leaves NULL behind; accepts NULL. */
void dkim_keys_free(struct dkim_keys **keys);
/* The key for domain (case-insensitive) and selector, or with selector
 * NULL the active (newest) one; NULL if none.  Owned by keys. */
const struct dkim_key *dkim_keys_find(const struct dkim_keys *keys, const char *domain, const char *selector);

/* Creates DATA_DIR/dkim/DOMAIN/SELECTOR.pem (0600; directories 0700) with a
 * new key: RSA of DKIM_RSA_BITS_DEFAULT bits or Ed25519.  Refuses to
 * overwrite.  0, or -1 with a malloc'd message (caller frees). */
int dkim_key_generate(const char *data_dir, const char *domain, const char *selector, enum dkim_key_type type,
                      char **error_out);
/* The zone-file line for the key's public half, ready to paste:
 * SELECTOR._domainkey.DOMAIN. IN TXT "v=DKIM1; k=rsa; " "p=..." ...
 * with each quoted string at most 255 bytes (RFC 1035 3.3.14).  malloc'd,
 * caller frees; NULL if the key cannot be exported. */
char *dkim_key_dns_line(const struct dkim_key *key);
/* true for a lower-case host name (labels of [a-z0-9-], at most max bytes):
 * domains and selectors become file names, so nothing else is let in. */
bool dkim_name_valid(const char *name, size_t max);

/* ---- Signing (dkim_sign.c) ---- */

/* Signs the message in fd (size bytes) with key: a=rsa-sha256 or
 * ed25519-sha256, c=relaxed/relaxed, t=now, h= the present ones of
 * From/To/Cc/Subject/Date/Message-ID/... with From signed once more than it
 * occurs.  The body hash streams over the file in DKIM_BODY_CHUNK reads.
 * *header_out gets a malloc'd "DKIM-Signature: ...\r\n" (folded at
 * DKIM_LINE_MAX) to send before the file's bytes; caller frees.  0, or -1
 * with a static message in *error_out. */
int dkim_sign(const struct dkim_key *key, int fd, uint64_t size, time_t now, char **header_out,
              const char **error_out);
/* Chooses the key and signs: the From: domain's key if there is one, else
 * the envelope sender's domain's (envelope_from may be NULL or "").  With
 * no key for either, returns 0 and *header_out = NULL (the message goes
 * unsigned).  Otherwise as dkim_sign(). */
int dkim_sign_message(const struct dkim_keys *keys, int fd, uint64_t size, const char *envelope_from, time_t now,
                      char **header_out, const char **error_out);

/* ---- Verification (dkim_verify.c) ---- */

enum dkim_result {
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,        /* failed in testing mode (t=y): treated as unsigned */
	DKIM_TEMPERROR,      /* the key lookup failed for now */
	DKIM_PERMERROR,      /* bad signature or key syntax, no key, refused algorithm, expired */
};

/* What a key lookup found. */
enum dkim_lookup {
	DKIM_LOOKUP_OK,        /* at least one record in *out */
	DKIM_LOOKUP_NONE,      /* NXDOMAIN or no TXT record: no key */
	DKIM_LOOKUP_TEMPFAIL,  /* try again later */
	DKIM_LOOKUP_PERMFAIL,  /* DNSSEC bogus, malformed answer */
};

/* TXT records of one name, each record's strings joined. */
struct dkim_txt {
	size_t n;
	char rec[DKIM_TXT_RECORDS_MAX][DKIM_KEY_RECORD_MAX + 1];
};

/* Looks up the TXT records of name ("sel._domainkey.example.org", no
 * trailing dot) and fills out (out->n is 0 on entry).  Records longer than
 * DKIM_KEY_RECORD_MAX are skipped; at most DKIM_TXT_RECORDS_MAX are kept.
 * Wired to dns_txt_sync() (src/dns/dns.h) by the caller: DNS_OK ->
 * DKIM_LOOKUP_OK, DNS_NXDOMAIN/DNS_NODATA -> NONE, DNS_TEMPFAIL ->
 * TEMPFAIL, DNS_PERMFAIL -> PERMFAIL.  Called from a worker thread. */
typedef enum dkim_lookup dkim_txt_lookup(void *arg, const char *name, struct dkim_txt *out);

/* The result of one DKIM-Signature field. */
struct dkim_verdict {
	enum dkim_result result;
	enum dkim_alg alg;
	char d[DOMAIN_MAX + 1];              /* "" when the signature did not parse that far */
	char s[DKIM_SELECTOR_MAX + 1];
	char b[9];                           /* first 8 characters of b=, for header.b (RFC 6008) */
	const char *reason;                  /* static text: why, for anything but pass */
};

/* Verifies every DKIM-Signature field of the message in fd (size bytes),
 * the first DKIM_SIGS_MAX of them, topmost first, looking keys up with
 * lookup(arg, ...).  Fills verdicts[0..*n_out-1] (max entries); *n_out 0
 * means unsigned (dkim=none).  One pass over the body serves every
 * signature.  Returns 0, or -1 with a static message if the message could
 * not be read (I/O error, header section over DKIM_HEADER_MAX). */
int dkim_verify(int fd, uint64_t size, time_t now, dkim_txt_lookup *lookup, void *arg, struct dkim_verdict *verdicts,
                size_t max, size_t *n_out, const char **error_out);

/* "pass", "fail", ... as in RFC 8601 2.7.1. */
const char *dkim_result_name(enum dkim_result r);
/* Formats one verdict as an Authentication-Results method (RFC 8601):
 * "dkim=pass header.d=example.org header.s=sel header.b=abcdefgh", with
 * reason="..." after the result for anything but pass.  Returns the
 * length snprintf would have written (truncated if >= outsize). */
int dkim_verdict_format(const struct dkim_verdict *v, char *out, size_t outsize);

#endif
