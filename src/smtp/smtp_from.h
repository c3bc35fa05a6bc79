/* The addresses of a From header field (RFC 5322 3.6.2 mailbox-list), for
 * the submission check that the login owns them (RFC 6409 8, smtp_submit.c).
 * Pure: takes the unfolded value, never a socket or a file.
 *
 * Strict on purpose, unlike mime_address_parse() (lenient, for IMAP
 * ENVELOPE): a value that could be read two ways is refused rather than
 * guessed at, so that what we check is what a mail client shows.
 * Accepted: addr-spec, display names (atoms, quoted strings, obsolete
 * dots), angle addresses, comments anywhere CFWS may be, quoted local
 * parts, domain literals, several mailboxes separated by commas (empty
 * list elements skipped, RFC 5322 4.4).  Refused: group syntax (From
 * takes a mailbox-list), source routes, a missing "@", a phrase without
 * "<...>", control characters. */
#ifndef TERN_SMTP_FROM_H
#define TERN_SMTP_FROM_H

#include <stddef.h>

#include "lib/arena.h"
#include "lib/limits.h"

struct smtp_from_list {
	size_t n;
	/* "local@domain"; a local part that is not a dot-atom is written as
	 * a quoted string ("a b"@x); otherwise quotes are removed
	 * ("alice"@x is alice@x).  Case is kept. */
	const char *addr[SMTP_FROM_ADDRS_MAX];
};

/* Parses the unfolded From value (len bytes, NULs allowed and refused).
 * Returns 0 with at least one address in *out (strings from arena), or -1
 * with a static reason in *error_out.  Limits: SMTP_FROM_ADDRS_MAX
 * addresses, each at most ADDRESS_MAX bytes. */
int smtp_from_parse(const char *value, size_t len, struct arena *arena, struct smtp_from_list *out,
                    const char **error_out);

#endif
