/* FETCH (RFC 9051 6.4.5, RFC 3501 6.4.5 for rev1's RFC822.* items,
 * RFC 3516 BINARY, RFC 7162 CONDSTORE): parsing the items and writing
 * one message's "* n FETCH (...)" response.  The session (imap_cmd_fetch.c)
 * resolves the sequence set, sets \Seen, batches messages and sends; this
 * module renders, on a worker thread, and streams, on the loop.
 *
 * Bounded memory (issue 8).  Rendering never copies a large literal: the
 * response text holds "{len}\r\n" and a segment says where the octets
 * are (a range of the message file, how to transform it: NUL as 0x80 for
 * BODY, transfer decoding for BINARY, HEADER.FIELDS filtering).  The loop
 * streams segments from the files in IMAP_FETCH_CHUNK pieces while the
 * client drains its output (imap_fetch_stream).  Small literals (up to
 * IMAP_FETCH_INLINE_MAX) are copied into the text, and a rendering job
 * stops once its text and segments reach IMAP_FETCH_BATCH_BYTES, so what
 * one FETCH holds at once does not grow with the number of messages, of
 * items or with the size of a message. */
#ifndef TERN_IMAP_FETCH_H
#define TERN_IMAP_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_cmd.h"
#include "lib/buf.h"

struct store_imap_msg;
struct imap_fetch_spec;
struct imap_fetch_seg;
struct imap_fetch_cursor;

/* Rendered text plus segment octets after which a job stops rendering
 * (checked after each message; the text may pass it by one message's
 * non-literal items).  A step of FLAGS for FETCH_STEP_METADATA messages
 * fits in one job. */
#define IMAP_FETCH_BATCH_BYTES  (256 * 1024)
/* A section up to this size is copied into the text (while the text has
 * room for it under IMAP_FETCH_BATCH_BYTES); a larger one is a segment. */
#define IMAP_FETCH_INLINE_MAX   (16 * 1024)
/* Octets read from a message file at once while streaming; a piece sent
 * is at most about twice this (quoted-printable's CRLF). */
#define IMAP_FETCH_CHUNK        (32 * 1024)

/* What rendering produced and the loop sends: the responses' text, with
 * segments standing for large literals' contents (each at a place in the
 * text), and the message files the segments read (open descriptors, so a
 * file expunged meanwhile is still read whole).  Reuse after
 * imap_fetch_out_reset. */
struct imap_fetch_out {
	struct buf text;
	struct imap_fetch_seg *segs;
	size_t nsegs, segs_cap;
	int *fds;                      /* closed by reset and free */
	size_t nfds, fds_cap;
	uint64_t seg_bytes;            /* octets the segments send */
	size_t inline_max;             /* IMAP_FETCH_INLINE_MAX; tests lower it */
};

void imap_fetch_out_init(struct imap_fetch_out *out);
/* text.len + seg_bytes: what one job's bound counts. */
uint64_t imap_fetch_out_size(const struct imap_fetch_out *out);
/* Empties out (keeping the text's storage) and closes its files. */
void imap_fetch_out_reset(struct imap_fetch_out *out);
void imap_fetch_out_free(struct imap_fetch_out *out);

typedef void imap_fetch_write_fn(void *arg, const char *data, size_t len);

/* On the loop: sends the next piece of out through write (a piece of the
 * text or one chunk of a segment, read from its file now: a local read of
 * IMAP_FETCH_CHUNK octets is short).  *cur holds where it is; it is made
 * on the first call (*cur NULL) and must be freed (imap_fetch_cursor_free)
 * before out is reset.  Returns 1 when more remains, 0 when out is all
 * sent, -1 when a message file cannot be read or ends early (the response
 * is cut: the caller closes the connection).  *work_out is the octets read
 * or sent, for the caller's budget of a turn. */
int imap_fetch_stream(struct imap_fetch_cursor **cur, const struct imap_fetch_out *out,
                      imap_fetch_write_fn *write, void *arg, size_t *work_out);
/* Frees the cursor's read buffers while the stream waits (its place is
 * kept). */
void imap_fetch_cursor_idle(struct imap_fetch_cursor *cur);
void imap_fetch_cursor_free(struct imap_fetch_cursor **cur);

/* Parses the fetch items (a single atom/fetch-att, a macro ALL / FAST /
 * FULL, or a parenthesised list) and the optional modifiers list
 * (CHANGEDSINCE n, VANISHED: RFC 7162 3.1.4, 3.2.6; may be NULL).  UID is
 * added for UID FETCH (ctx->uid).  Returns the spec in ctx->arena, or NULL
 * with res filled (BAD). */
struct imap_fetch_spec *imap_fetch_parse(struct imap_ctx *ctx, const struct imap_arg *items,
                                         const struct imap_arg *modifiers, struct imap_result *res);
/* True when an item is BODY[...] / BINARY[...] / RFC822 / RFC822.TEXT
 * without .PEEK: the session sets \Seen first (unless read-only). */
bool imap_fetch_sets_seen(const struct imap_fetch_spec *spec);
/* True when MODSEQ is asked or CHANGEDSINCE given (enables CONDSTORE). */
bool imap_fetch_uses_modseq(const struct imap_fetch_spec *spec);
/* True when no item reads the message, its header or the cache (FLAGS,
 * UID, INTERNALDATE, RFC822.SIZE, MODSEQ only): each response is small,
 * so the session takes many messages per step. */
bool imap_fetch_metadata_only(const struct imap_fetch_spec *spec);
/* CHANGEDSINCE's value, 0 when absent; VANISHED modifier given. */
uint64_t imap_fetch_changedsince(const struct imap_fetch_spec *spec);
bool imap_fetch_vanished(const struct imap_fetch_spec *spec);

/* Appends "* <seq> FETCH (...)\r\n" for message m to out.  add_flags adds
 * FLAGS when not asked (the fetch set \Seen, RFC 9051 6.4.5); MODSEQ is
 * added when ctx->condstore (RFC 7162 3.1.4.1... the session decides and
 * passes it in ctx).  Reads the cache (store_msg_cached) and, only when a
 * section needs it, the message file (for header-only sections of small
 * headers just the header bytes); when a segment reads the file, out
 * keeps its descriptor.  Returns 0; -1 with res filled (NO, e.g.
 * [UNKNOWN-CTE] for BINARY of an undecodable part) and nothing appended;
 * 1 when the message is gone from the store (expunged meanwhile): nothing
 * appended. */
int imap_fetch_render(struct imap_ctx *ctx, const struct imap_fetch_spec *spec, uint32_t seq,
                      const struct store_imap_msg *m, bool add_flags, struct imap_fetch_out *out,
                      struct imap_result *res);

/* Not a store flag: \Recent, which only a session knows (RFC 3501
 * 2.3.2).  imap_view_prepare sets it in the flags it hands out. */
#define IMAP_FLAG_RECENT (1u << 31)

/* Writes a flag list "(\Seen \Deleted kw1)" for flags bits (with
 * IMAP_FLAG_RECENT) and keywords; for FLAGS responses of FETCH, STORE and
 * the session's sync. */
void imap_flags_write(struct buf *out, uint32_t flags, const char *keywords);

struct imap_view;
/* Before messages' flags go out in FETCH responses (FETCH, STORE, the
 * session's sync): keywords among msgs that the view has not told yet are
 * added to it and announced first with FLAGS and OK [PERMANENTFLAGS]
 * (RFC 3501 7.2.6, RFC 9051 7.3.5: a client may take only the flags of the
 * last FLAGS response), and IMAP_FLAG_RECENT is set in the flags of the
 * messages recent for this view.  Appends to out.  Call where the view is
 * owned (the loop, or a job of the selected state). */
void imap_view_prepare(struct imap_view *v, struct store_imap_msg *msgs, size_t n, struct buf *out);
/* Adds the keywords of kw (space-separated) that v does not have, up to
 * IMAP_VIEW_KEYWORDS_MAX; true when one was added. */
bool imap_view_keywords_add(struct imap_view *v, const char *kw);
/* Appends "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" for v's
 * keywords (PERMANENTFLAGS () when read-only). */
void imap_view_flags_write(const struct imap_view *v, struct buf *out);

#endif
