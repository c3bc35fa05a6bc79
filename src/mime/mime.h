/* The message and MIME parser: a message in memory (the caller mmaps its
 * file) becomes a tree of parts with offsets, sizes and the fields IMAP's
 * ENVELOPE and BODYSTRUCTURE need (RFC 3501 7.4.2, RFC 9051 7.5.2).
 * IMAP parses each message once at delivery and caches the rendered
 * strings in the index.
 *
 * Parsing never fails: malformed MIME degrades (a multipart without a
 * usable boundary, too deep or past MIME_PARTS_MAX becomes text/plain; a
 * missing close delimiter ends the part at the end of its parent).  All
 * strings live in the caller's arena; offsets point into the input. */
#ifndef TERN_MIME_H
#define TERN_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct arena;
struct buf;

/* Nesting of multipart and message/rfc822 levels below the message.
 * RFC 2046 sets no bound; Dovecot's message_max_nesting defaults to 100,
 * real mail rarely goes past 5.  Deeper parts are text/plain. */
#define MIME_DEPTH_MAX          64
/* Parts (every node of the tree) in one message; past it a multipart stops
 * taking children (the rest is epilogue).  Dovecot: 1000-ish real limits
 * (its mail_max_parts); a phone-sized mail has under 50. */
#define MIME_PARTS_MAX          1000
/* Header fields looked at in one header; later fields are skipped (their
 * bytes still count in the header size).  RFC 5322 sets no bound. */
#define MIME_HEADER_FIELDS_MAX  1000
/* Bytes kept of one unfolded header field value; longer values are cut.
 * RFC 5322 2.1.1 bounds a line at 998, folding makes fields unbounded. */
#define MIME_HEADER_VALUE_MAX   65536
/* Boundary length.  RFC 2046 5.1.1 says 1 to 70 characters; we accept
 * longer ones from sloppy generators up to this, beyond it the multipart
 * is text/plain. */
#define MIME_BOUNDARY_MAX       200
/* Parameters of one Content-Type or Content-Disposition, counting each
 * RFC 2231 continuation section. */
#define MIME_PARAMS_MAX         100
/* Addresses (group markers included) kept from one address header. */
#define MIME_ADDRESSES_MAX      1000

/* A Content-Type or Content-Disposition parameter after RFC 2231 joining
 * and decoding: name upper-cased without '*', value in UTF-8 when it was
 * RFC 2231 encoded, otherwise as written (RFC 2047 words left alone). */
struct mime_param {
	const char *name;
	const char *value;
	struct mime_param *next;
};

/* One ENVELOPE address (RFC 3501 7.4.2).  A group starts with an address
 * whose mailbox is the group name and host NULL, and ends with one whose
 * fields are all NULL.  A missing domain is "MISSING_DOMAIN". */
struct mime_address {
	const char *name;       /* display name, unquoted; RFC 2047 as-is */
	const char *adl;        /* source route "@a,@b" or NULL */
	const char *mailbox;
	const char *host;
	struct mime_address *next;
};

/* Unfolded header values; NULL where the field is absent. */
struct mime_envelope {
	const char *date;
	const char *subject;
	struct mime_address *from, *sender, *reply_to, *to, *cc, *bcc;
	const char *in_reply_to;
	const char *message_id;
	const char *references;  /* not in the ENVELOPE structure: THREAD (RFC 5256) */
};

struct mime_part {
	size_t header_offset;   /* from the start of the input */
	size_t header_size;     /* octets, including the blank line */
	size_t header_lines;
	size_t body_offset;
	size_t body_size;       /* octets, in the transfer encoding */
	size_t body_lines;      /* LFs (an unterminated last line is not counted) */

	const char *type;       /* upper-case, e.g. "TEXT" */
	const char *subtype;    /* upper-case, e.g. "PLAIN" */
	struct mime_param *params;
	const char *id;         /* Content-ID, unfolded, or NULL */
	const char *description;
	const char *encoding;   /* upper-case; "7BIT" when absent */
	const char *md5;
	const char *disposition; /* upper-case type or NULL */
	struct mime_param *disposition_params;
	const char **language;  /* Content-Language tags */
	size_t language_count;
	const char *location;

	/* multipart: children in order; preamble and epilogue are the
	 * bytes before the first and after the close delimiter. */
	struct mime_part *children;
	size_t preamble_offset, preamble_size;
	size_t epilogue_offset, epilogue_size;
	/* message/rfc822 and message/global: the enclosed message. */
	struct mime_part *message;
	/* the message root and every enclosed message: its envelope */
	struct mime_envelope *envelope;

	struct mime_part *next;  /* next sibling */
};

/* Parses a whole message (header and body) of len octets at msg.  Never
 * returns NULL; the tree and its strings are allocated from arena and
 * point into msg only through offsets. */
struct mime_part *mime_parse(const char *msg, size_t len, struct arena *arena);

/* Appends the ENVELOPE of env as RFC 3501 7.4.2 writes it, from "(" to
 * ")".  Sender and Reply-To default to From. */
void mime_envelope_write(struct buf *out, const struct mime_envelope *env);

/* Appends BODYSTRUCTURE (extended true: with extension data) or BODY
 * (extended false) of part, from "(" to ")". */
void mime_bodystructure_write(struct buf *out, const struct mime_part *part, bool extended);

/* Returns the part a section number names (RFC 3501 6.4.5: "2.1" is
 * nums {2, 1}, n 2), or NULL when there is no such part.  Part 1 of a
 * non-multipart message is its body; the parts of a message/rfc822 part
 * are those of the enclosed message. */
const struct mime_part *mime_part_find(const struct mime_part *root, const unsigned *nums,
				       size_t n);

/* Header parsing helpers shared by the parser (mime_header.c). */

/* Returns the unfolded value of raw (len octets, the bytes after the
 * colon up to the field's last line end): CR and LF removed, NULs dropped,
 * leading and trailing white space trimmed, cut at MIME_HEADER_VALUE_MAX. */
char *mime_header_unfold(const char *raw, size_t len, struct arena *arena);

/* Parses "type/subtype; params" (RFC 2045 5.1, RFC 2231).  On a syntax
 * error in the type returns -1 and leaves the outputs alone. */
int mime_content_type_parse(const char *value, struct arena *arena, const char **type_out,
			    const char **subtype_out, struct mime_param **params_out);

/* Parses "disposition; params" (RFC 2183, RFC 2231); -1 without a type. */
int mime_disposition_parse(const char *value, struct arena *arena, const char **type_out,
			   struct mime_param **params_out);

/* Parses an RFC 5322 address-list leniently; NULL when it holds none. */
struct mime_address *mime_address_parse(const char *value, struct arena *arena);

/* Returns the value of param name (case-insensitive) or NULL. */
const char *mime_param_get(const struct mime_param *params, const char *name);

#endif
