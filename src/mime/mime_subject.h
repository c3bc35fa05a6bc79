/* Sort keys of a message header for SORT and THREAD (RFC 5256, RFC 5957):
 * the base subject (RFC 5256 2.1), the first address's mailbox and its
 * display form, and the i;ascii-casemap comparison they are sorted by.
 * Pure functions: delivery computes the keys once and the store caches
 * them (store_sort.h); the tests and the fuzzer call them directly. */
#ifndef TERN_MIME_SUBJECT_H
#define TERN_MIME_SUBJECT_H

#include <stdbool.h>

struct arena;
struct mime_address;

/* Returns the base subject of subject (an unfolded Subject value, RFC
 * 2047 words not yet decoded; NULL is the empty subject) in the arena,
 * NUL-terminated, never NULL: words decoded to UTF-8, runs of white space
 * made one space, then the "(fwd)" trailers, "Re:"/"Fw:"/"Fwd:" leaders
 * with their "[blob]"s, a leading "[blob]" (when text follows it) and a
 * "[fwd: ...]" wrapper taken off until none is left (RFC 5256 2.1 steps 1
 * to 6).  *reply_out (may be NULL) says whether one of those removals was
 * a reply or forward marker ("Re:", "Fw:", "Fwd:", "(fwd)", "[fwd:"),
 * which THREAD=REFERENCES step 5 asks. */
char *mime_base_subject(const char *subject, struct arena *a, bool *reply_out);

/* The SORT key of an address list (RFC 5256 3 FROM, TO, CC): the
 * addr-mailbox of its first address (for a group, the group's name, as
 * the ENVELOPE structure has it), "" when there is none.  Not copied. */
const char *mime_sort_mailbox(const struct mime_address *list);

/* The SORT=DISPLAY key of an address list (RFC 5957 3): the first
 * address's display name with RFC 2047 words decoded, or when it has none
 * its addr-spec ("mailbox@host"; the group name for a group), "" when the
 * list is empty.  In the arena. */
const char *mime_sort_display(const struct mime_address *list, struct arena *a);

/* i;ascii-casemap (RFC 4790 9.2): a and b compared octet by octet with
 * a-z taken as A-Z.  Returns <0, 0 or >0 as strcmp. */
int mime_casemap_cmp(const char *a, const char *b);
/* Turns s, in place, into i;ascii-casemap's canonical form (a-z to A-Z):
 * strcmp then orders two folded strings as mime_casemap_cmp does. */
void mime_casemap_fold(char *s);

#endif
