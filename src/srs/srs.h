/* SRS, the Sender Rewriting Scheme (Shevek's draft, as in libsrs2 and
 * Postfix's postsrsd): a forwarder replaces the envelope sender of mail it
 * sends on with an address in its own domain, so that the destination's
 * SPF check looks at the forwarder's domain, and a bounce comes back to
 * the forwarder, which undoes the rewriting and sends it on.
 *
 *   bob@sender.example  ->  SRS0=HHHHHH=TT=sender.example=bob@srs-domain
 *   SRS0=HHHHHH=TT=orig.example=bob@other   (re-forwarding an SRS0 address)
 *                       ->  SRS1=HHHHHH=other==HHHHHH=TT=orig.example=bob@srs-domain
 *   SRS1=HHHHHH=first==rest@other   ->  SRS1=HHHHHH=first==rest@srs-domain
 *
 * HHHHHH: HMAC-SHA256 with the site's secret over the tag, the timestamp
 * and the fields (lower-cased, with a NUL between fields so that bytes
 * cannot move from one field to the next), its first 30 bits in base32
 * (RFC 4648 alphabet): case never matters, so a relay that lower-cases
 * addresses does not break them.  TT: the day number (unix time / 86400)
 * modulo 1024 in two base32 digits; an SRS0 address is honoured for
 * max_age days.  SRS1 has no timestamp: the SRS0 part inside it is checked
 * by the first forwarder when the bounce reaches it.
 *
 * Pure functions: no I/O, no global state (srs_key_* holds the key). */
#ifndef TERN_SRS_H
#define TERN_SRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRS_KEY_LEN        32     /* bytes of secret (data_dir/srs.key) */
#define SRS_HASH_LEN       6      /* base32 digits of HMAC: 30 bits */
#define SRS_TIME_SLOTS     1024   /* two base32 digits of day number */
#define SRS_MAX_AGE_DAYS   21     /* libsrs2's and postsrsd's default */

enum srs_result {
	SRS_OK,
	SRS_NOT_SRS,        /* the local part does not start with SRS0= or SRS1= */
	SRS_BAD_FORMAT,     /* it does, but the fields are not there */
	SRS_BAD_HASH,       /* forged or damaged */
	SRS_EXPIRED,        /* SRS0 older than max_age days (or from the future) */
	SRS_TOO_LONG,       /* the result does not fit */
};

/* Text for a result ("bad hash", ...), static. */
const char *srs_result_str(enum srs_result r);

/* true if local (a local part, or a whole address) starts with "SRS0="
 * or "SRS1=" in any case. */
bool srs_is_srs(const char *local);

/* Rewrites sender (local@domain, not the null sender) into out (outsize
 * bytes) as an SRS address at srs_domain: SRS0 for a plain address, SRS1
 * for one that is SRS0 or SRS1 already.  now: unix time.  Returns SRS_OK,
 * SRS_BAD_FORMAT (no '@', empty local part or domain, an SRS1 sender that
 * does not parse), or SRS_TOO_LONG when the new local part would be
 * longer than LOCALPART_MAX (RFC 5321's 64 octets, which Tern's own
 * parser enforces, so that the bounce could not come back) or out is
 * too small: the caller then keeps the original sender. */
enum srs_result srs_forward(const unsigned char key[SRS_KEY_LEN], const char *sender, const char *srs_domain,
                            int64_t now, char *out, size_t outsize);

/* Undoes one rewriting: local is the local part of an address at our SRS
 * domain (the caller checks the domain), len its length (not
 * NUL-terminated).  SRS0=HHHHHH=TT=domain=user gives user@domain when the
 * hash verifies and TT is at most max_age days old; SRS1=HHHHHH=host==rest
 * gives SRS0=rest@host when the hash verifies.  The hash and TT are
 * compared without regard to case.  Writes the address into out (outsize
 * bytes) and returns SRS_OK, or another result (out is then ""). */
enum srs_result srs_reverse(const unsigned char key[SRS_KEY_LEN], const char *local, size_t len, int64_t now,
                            unsigned max_age, char *out, size_t outsize);

/* ---- the key (srs_key.c) ---- */

/* Reads data_dir/srs.key (SRS_KEY_LEN bytes), creating it first with
 * random bytes and mode 0600 when it does not exist (O_EXCL: of two
 * processes starting at once, one creates and both read the same key).
 * Keeps it for srs_key().  Call once at start-up, before any thread
 * uses srs_key().  Returns 0, or -1 with a static message (the key is
 * then not set). */
int srs_key_start(const char *data_dir, const char **error_out);
/* Same as the file part of srs_key_start, into key_out, without keeping
 * it: for tests and the CLI. */
int srs_key_load(const char *data_dir, unsigned char key_out[SRS_KEY_LEN], const char **error_out);
/* The key read by srs_key_start, or NULL if it was not (SRS is off). */
const unsigned char *srs_key(void);

#endif
