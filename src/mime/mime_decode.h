/* Content-Transfer-Encoding and charset decoding: FETCH BINARY (RFC 3516)
 * and the full-text index both need a part's content as it was before
 * encoding, and search needs text in UTF-8. */
#ifndef TERN_MIME_DECODE_H
#define TERN_MIME_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct arena;

enum mime_decode_result {
	MIME_DECODE_OK,
	MIME_DECODE_UNKNOWN,   /* encoding not one of 7bit/8bit/binary/base64/quoted-printable:
	                        * BINARY answers NO [UNKNOWN-CTE] (RFC 3516 4.3) */
	MIME_DECODE_CORRUPT,   /* data does not decode (base64 garbage):
	                        * also [UNKNOWN-CTE]-class for BINARY */
};

/* The transfer encodings we decode (RFC 2045 6.1). */
enum mime_cte {
	MIME_CTE_IDENTITY,     /* 7bit, 8bit, binary, or no Content-Transfer-Encoding */
	MIME_CTE_BASE64,
	MIME_CTE_QP,           /* quoted-printable */
	MIME_CTE_UNKNOWN,
};

/* The encoding named by a Content-Transfer-Encoding value (either case;
 * NULL means 7BIT; anything after the token is ignored). */
enum mime_cte mime_cte_parse(const char *encoding);

/* Quoted-printable white space held back to learn whether it ends its
 * line (transport padding, RFC 2045 6.7 rule 3).  Encoded lines are at
 * most 76 characters (rule 5), so a longer run is no padding: past this
 * many octets the run goes out as data, which keeps the decoder's state
 * bounded. */
#define MIME_QP_SPACE_MAX 998
/* Octets a feed may append beyond twice its input (held-back bytes). */
#define MIME_DECODER_SLACK (MIME_QP_SPACE_MAX + 8)

/* A transfer decoder that takes its input in pieces of any size and gives
 * the same octets as decoding the whole at once: FETCH BINARY streams a
 * large part from its file through one (imap_fetch_stream.c).  State is a
 * few words and MIME_QP_SPACE_MAX octets; nothing is allocated. */
struct mime_decoder {
	enum mime_cte cte;
	enum mime_decode_result result;
	/* base64 */
	uint32_t acc;
	int sextets;               /* in acc */
	bool padded;               /* '=' seen: the rest is not decoded */
	/* quoted-printable: what may still turn out to end the line */
	int eq;                    /* 0; 1: '=' held; 2: '=' and one hex digit held */
	char hex;
	bool cr;                   /* a CR held after the rest */
	size_t nspace;
	char space[MIME_QP_SPACE_MAX];
};

/* Starts decoding cte (not MIME_CTE_UNKNOWN). */
void mime_decoder_init(struct mime_decoder *d, enum mime_cte cte);
/* Decodes len more octets, appending at most 2 * len + MIME_DECODER_SLACK
 * octets to out. */
void mime_decoder_feed(struct mime_decoder *d, const char *in, size_t len, struct buf *out);
/* The input is complete: appends what was held back.  Returns
 * MIME_DECODE_OK or MIME_DECODE_CORRUPT (see mime_decode_transfer). */
enum mime_decode_result mime_decoder_finish(struct mime_decoder *d, struct buf *out);

/* Appends the decoded form of len octets at data in transfer encoding
 * encoding (upper- or lower-case; NULL means 7BIT) to out.  base64 skips
 * white space and line breaks and stops at padding; quoted-printable
 * joins soft line breaks, decodes =XX (either case) and keeps a malformed
 * "=" as is (RFC 2045 6.7 note 1).  The same as one mime_decoder run. */
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
