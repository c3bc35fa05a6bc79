/* Content-Transfer-Encoding and charset decoding: FETCH BINARY (RFC 3516)
 * and the full-text index both need a part's content as it was before
 * encoding, and search needs text in UTF-8. */
#ifndef TERN_MIME_DECODE_H
#define TERN_MIME_DECODE_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct arena;

enum mime_decode_result {
	MIME_DECODE_OK,
	MIME_DECODE_UNKNOWN,   /* encoding not one of 7bit/8bit/binary/base64/quoted-printable:
	                        * BINARY answers NO [UNKNOWN-CTE] (RFC 3516 4.3) */
	MIME_DECODE_CORRUPT,   /* data does not decode (base64 garbage):
	                        * also [UNKNOWN-CTE]-class for BINARY */
};

/* Appends the decoded form of len octets at data in transfer encoding
 * encoding (upper- or lower-case; NULL means 7BIT) to out.  base64 skips
 * white space and line breaks and stops at padding; quoted-printable
 * joins soft line breaks, decodes =XX (either case) and keeps a malformed
 * "=" as is (RFC 2045 6.7 note 1). */
enum mime_decode_result mime_decode_transfer(const char *encoding, const char *data, size_t len,
                                             struct buf *out);

/* Appends len octets in charset (NULL or unknown: treated as UTF-8 if it
 * is valid, else ISO-8859-1) to out as UTF-8.  Invalid sequences become
 * U+FFFD.  Uses iconv. */
void mime_charset_to_utf8(const char *charset, const char *data, size_t len, struct buf *out);

/* Decodes RFC 2047 encoded words in a header value (B and Q, any charset
 * iconv knows) into UTF-8 in the arena; other text is copied.  Never NULL. */
char *mime_decode_words(const char *value, struct arena *arena);

#endif
