/* Live search results: SEARCH RETURN (UPDATE) and CANCELUPDATE (RFC 5267
 * 4.3, CONTEXT=SEARCH).
 *
 * A context is a search the session keeps (its program and its result,
 * the matching UIDs).  The sync (imap_sync.c) tells each context what
 * changed in the view: a message it holds that is expunged gets an
 * "* ESEARCH (TAG "t") REMOVEFROM (0 n)" just before its EXPUNGE (or
 * before the VANISHED), while the number still holds (RFC 5267 4.3.4); a
 * new message or one whose flags changed is matched again, after its
 * EXISTS and FETCH (4.3.3), and the changes to the result go out as
 * "REMOVEFROM (0 set) ADDTO (0 set)" in one ESEARCH.  Numbers are UIDs
 * when the search was UID SEARCH, sequence numbers otherwise (4.3.2).
 *
 * A SEARCH result is in mailbox order, so positions are always 0 (4.3.3:
 * the client keeps its list in mailbox order).  A SORT context would keep
 * its result in its own order and give positions; the result list here is
 * a plain array so that it can.  Contexts end with CANCELUPDATE or when
 * the mailbox is no longer selected (imap_view_clear).
 *
 * Everything here runs where the view is owned: on a worker job of the
 * selected state (the session paused) or on the loop between jobs. */
#ifndef TERN_IMAP_SEARCH_UPDATE_H
#define TERN_IMAP_SEARCH_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_cmd.h"

struct buf;
struct imap_search_context;

/* Live contexts per session (RFC 5267 4.3.1: at least one; Dovecot keeps
 * 10).  Each holds at most IMAP_VIEW_MAX UIDs and its program. */
#define IMAP_SEARCH_CONTEXTS_MAX 10
/* Octets of search program (strings and sets as sent) and tag one
 * context may keep; a bigger one gets NOUPDATE.  Real live searches are
 * short. */
#define IMAP_SEARCH_CONTEXT_PROGRAM_MAX (64 * 1024)

struct imap_search_contexts {
	struct imap_search_context *head;
	size_t count;
};

/* Whether a context has this tag (RFC 5267 4.3: UPDATE under a tag in
 * use is BAD). */
bool imap_search_contexts_has(const struct imap_search_contexts *cs, const char *tag);
/* CANCELUPDATE: ends the context of tag; false when there is none. */
bool imap_search_contexts_cancel(struct imap_search_contexts *cs, const char *tag);
/* Ends every context (the mailbox is no longer selected). */
void imap_search_contexts_free(struct imap_search_contexts *cs);

/* The ascending uids (n of them, still in v) are about to be told as
 * expunged: appends one REMOVEFROM per context holding any of them, with
 * their sequence numbers in v as it is now, and drops them from the
 * results. */
void imap_search_contexts_expunge(struct imap_search_contexts *cs, const struct imap_view *v, const uint32_t *uids,
                                  size_t n, struct buf *out);
/* The ascending uids (n of them, in ctx->view, not expunged) are new or
 * changed, and the client has been told (EXISTS, FETCH): matches each
 * context again on them (ctx->st open) and appends what changed.  A
 * store error leaves a context as it was. */
void imap_search_contexts_changed(struct imap_search_contexts *cs, struct imap_ctx *ctx, const uint32_t *uids,
                                  size_t n, struct buf *out);

#endif
