/* LIST / LSUB mailbox patterns (RFC 9051 6.3.9, RFC 3501 6.3.8): "*"
 * matches zero or more characters, "%" the same but never the hierarchy
 * delimiter '/'.  Private to src/imap (imap_list.c, its tests and
 * fuzz/fuzz_imap_mutf7.c).
 *
 * The matcher is a bit-parallel NFA (Shift-And) whose states are the
 * positions of the pattern, run once over the name: a match costs
 * O(name length x pattern length / 64) whatever the pattern, never the
 * exponential time of a backtracking matcher on "*a*a*a*a*b" against
 * "aaaa...".  Runs of wildcards are collapsed first ("%*" is "*", "%%" is
 * "%"). */
#ifndef TERN_IMAP_MATCH_H
#define TERN_IMAP_MATCH_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/* Our bound: bytes of one pattern (reference included), decoded.  Four
 * times the longest name the store accepts (1024 bytes), so any name
 * with wildcards in it fits; the compiled pattern then takes at most
 * 256 x 65 words (130 KiB) of the command arena. */
#define IMAP_PATTERN_LEN_MAX 4096

struct imap_pattern;

/* Compiles pattern (len bytes, UTF-8) into the arena.  Returns NULL when
 * len exceeds IMAP_PATTERN_LEN_MAX. */
struct imap_pattern *imap_pattern_new(const char *pattern, size_t len, struct arena *a);

/* Whether name (len bytes) matches.  Byte-wise: literal characters
 * compare exactly (INBOX's case is the caller's business).  No heap. */
bool imap_pattern_match(const struct imap_pattern *p, const char *name, size_t len);

/* Whether the pattern's last character is "%" (RFC 3501 6.3.9 LSUB: the
 * levels of hierarchy it matches are returned as \Noselect). */
bool imap_pattern_ends_with_percent(const struct imap_pattern *p);

#endif
