/* The searchable text of a message (SEARCH BODY and TEXT, RFC 9051
 * 6.4.4): what a reader sees, in UTF-8, taken from a mime_parse tree.
 *
 * Header text: one "Name: value" line per field of the message header and
 * of every MIME part header inside it, value unfolded and RFC 2047 words
 * decoded.  Signature fields that are base64 noise (DKIM-Signature,
 * ARC-Seal, ARC-Message-Signature and other "*-Signature" fields) are left
 * out: they hold no words and would bloat a trigram index by a few KiB per
 * message.
 *
 * Body text: every text/ part (and message/delivery-status and
 * message/disposition-notification, which are text reports) with its
 * transfer encoding undone and its charset converted; text/html reduced to
 * its text (tags, comments, <script> and <style> dropped, entities
 * decoded, white space collapsed); the header of every enclosed
 * message/rfc822 or message/global in the same "Name: value" form, since
 * those bytes are body of the outer message.  Parts of other types
 * (attachments, images) are not read.
 *
 * Both texts are valid UTF-8 without NUL and with LF line ends. */
#ifndef TERN_MIME_TEXT_H
#define TERN_MIME_TEXT_H

#include <stddef.h>

struct buf;
struct mime_part;

/* Appends the header text of the message msg (len octets, parsed by
 * mime_parse into root) to header_out and its body text to body_out, at
 * most max octets in the two together: the message header first, then
 * parts in order, the last one cut at a character boundary.  Memory used
 * besides the outputs is bounded by a small multiple of max, whatever the
 * size of the message. */
void mime_text_extract(const char *msg, size_t len, const struct mime_part *root, size_t max,
		       struct buf *header_out, struct buf *body_out);

/* The preview of a message (RFC 8970 3.1, FETCH PREVIEW): the text of
 * the first text/plain or text/html part that is not an attachment (in
 * a multipart/alternative the plain one), decoded to UTF-8, HTML reduced
 * to its text, every run of white space made one space, control
 * characters dropped, cut after max_chars characters.  Appended to out
 * ("" when the message has no such part). */
void mime_text_preview(const char *msg, size_t len, const struct mime_part *root, size_t max_chars,
		       struct buf *out);

/* Appends the text of html (UTF-8, len octets) to out, as described
 * above.  Exposed for the tests. */
void mime_text_html(const char *html, size_t len, struct buf *out);

#endif
