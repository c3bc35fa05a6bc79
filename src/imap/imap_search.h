/* SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501 6.4.4), with ESEARCH
 * return options (RFC 4731: MIN MAX ALL COUNT, RFC 5182 SAVE, RFC 5267:
 * UPDATE, PARTIAL, CONTEXT; live searches are imap_search_update.h),
 * CONDSTORE's MODSEQ key and result (RFC 7162 3.1.5), WITHIN's OLDER and
 * YOUNGER (RFC 5032), SAVEDATE's SAVED* keys (RFC 8514), CHARSET UTF-8 /
 * US-ASCII, and
 * BODY / TEXT through the full-text index (store_fts.h).  Runs on a worker
 * thread with the signature of imap_cmd.h: args start after "SEARCH";
 * ctx->uid says UID SEARCH, ctx->tag is for ESEARCH's (TAG "..."),
 * ctx->view is the selected mailbox (sequence numbers as the client knows
 * them; messages expunged meanwhile never match).
 *
 * Writes "* SEARCH ..." (or "* ESEARCH ..." when RETURN was given or
 * ctx->imap4rev2, which has no SEARCH response), saves the result for "$"
 * on SAVE, and answers BAD for syntax, NO [BADCHARSET (UTF-8 US-ASCII)] for
 * other charsets, NO [LIMIT] past IMAP_SEARCH_KEYS_MAX.
 *
 * Matching (details in imap_search_eval.c and imap_search_text.c): ON,
 * SINCE, BEFORE take the internal date's day in UTC; SENT* the Date
 * header's date as written, whatever its zone (RFC 3501 6.4.4; the
 * internal date's day in UTC when there is no usable Date); header keys are case-insensitive substrings of the
 * unfolded, RFC 2047-decoded field, and FROM/TO/CC/BCC also of its
 * addresses as the ENVELOPE has them (Latin, Greek, Cyrillic, Armenian
 * letters folded one to one, no "ß" = "ss"); RECENT and NEW never match
 * (there is no \Recent).  The internals are in imap_search_private.h. */
#ifndef TERN_IMAP_SEARCH_H
#define TERN_IMAP_SEARCH_H

#include "imap/imap_cmd.h"

struct buf;

/* Our bound on search-program complexity: keys (each OR, NOT, group and
 * leaf counts one).  RFC 9051 sets none; real clients send under 50. */
#define IMAP_SEARCH_KEYS_MAX 1000

void imap_search_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);

#endif
