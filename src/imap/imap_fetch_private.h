/* FETCH internals shared by imap_fetch.c (parsing the items),
 * imap_fetch_section.c (BODY[section] extraction from a message in
 * memory, HEADER.FIELDS filtering), imap_fetch_render.c (the "* n FETCH
 * (...)" response) and imap_fetch_stream.c (segments sent from the
 * files), and by the unit test and fuzz/fuzz_imap_fetch.c, which drive
 * the rendering on messages in memory without a store. */
#ifndef TERN_IMAP_FETCH_PRIVATE_H
#define TERN_IMAP_FETCH_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_cmd.h"
#include "imap/imap_fetch.h"
#include "mime/mime.h"
#include "mime/mime_decode.h"

struct arena;
struct buf;
struct imap_arg;

/* Numbers in one section part ("1.2.3" is 3).  RFC 9051 sets no bound;
 * each number descends one multipart or message/rfc822 level, so past
 * MIME_DEPTH_MAX + 1 numbers nothing can match: such a section is BAD. */
#define IMAP_FETCH_SECTION_PARTS_MAX (MIME_DEPTH_MAX + 1)

enum imap_fetch_kind {
	IMAP_FI_UID,
	IMAP_FI_FLAGS,
	IMAP_FI_INTERNALDATE,
	IMAP_FI_RFC822_SIZE,
	IMAP_FI_ENVELOPE,
	IMAP_FI_BODY,              /* BODY without a section: non-extended structure */
	IMAP_FI_BODYSTRUCTURE,
	IMAP_FI_MODSEQ,
	IMAP_FI_SAVEDATE,          /* RFC 8514 */
	IMAP_FI_RFC822,            /* = BODY[] (sets \Seen), answered as "RFC822" */
	IMAP_FI_RFC822_HEADER,     /* = BODY.PEEK[HEADER] */
	IMAP_FI_RFC822_TEXT,       /* = BODY[TEXT] */
	IMAP_FI_SECTION,           /* BODY[...] / BODY.PEEK[...] */
	IMAP_FI_BINARY,            /* BINARY[...] / BINARY.PEEK[...] */
	IMAP_FI_BINARY_SIZE,       /* BINARY.SIZE[...] */
	IMAP_FI_PREVIEW,           /* PREVIEW [(LAZY)] (RFC 8970) */
	IMAP_FI_EMAILID,           /* RFC 8474 */
	IMAP_FI_THREADID,
};

/* RFC 8970 3.1: a preview is at most 256 characters. */
#define IMAP_PREVIEW_CHARS 256

/* What follows the part numbers of a section (RFC 9051 6.4.5). */
enum imap_section_text {
	IMAP_SECT_NONE,            /* BODY[] or BODY[1.2]: the whole (part) body */
	IMAP_SECT_HEADER,
	IMAP_SECT_FIELDS,          /* HEADER.FIELDS (names) */
	IMAP_SECT_FIELDS_NOT,      /* HEADER.FIELDS.NOT (names) */
	IMAP_SECT_TEXT,
	IMAP_SECT_MIME,            /* only after part numbers */
};

struct imap_fetch_name {
	const char *str;           /* as the client wrote it (may hold any byte) */
	size_t len;
	bool atom;                 /* written as an atom: echoed as one */
};

struct imap_section {
	unsigned *nums;            /* n part numbers (in the arena) */
	size_t n;                  /* 0: the message itself */
	enum imap_section_text text;
	struct imap_fetch_name *names; /* FIELDS / FIELDS_NOT, nnames >= 1 */
	size_t nnames;
};

struct imap_fetch_item {
	enum imap_fetch_kind kind;
	bool peek;
	struct imap_section section;   /* SECTION, BINARY, BINARY_SIZE */
	bool has_partial;
	uint32_t partial_start, partial_len;
	const char *name;          /* response item name without "<origin>": "BODY[1.MIME]" */
	size_t name_len;
};

struct imap_fetch_spec {
	struct imap_fetch_item *items;
	size_t count;
	bool sets_seen;            /* see imap_fetch_sets_seen() */
	bool modseq;               /* MODSEQ asked, or CHANGEDSINCE given */
	bool need_cache;           /* ENVELOPE / BODY / BODYSTRUCTURE */
	bool need_header;          /* a top-level header-only section */
	bool need_file;            /* anything else that reads the message */
	bool emailid;              /* EMAILID asked */
	uint64_t changedsince;
	bool vanished;
};

/* One message as the renderer sees it: the index row, what the cache
 * gave and the message bytes that were read.  Fields that the spec does
 * not need may be left NULL. */
struct imap_fetch_msg {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	uint64_t size;             /* RFC822.SIZE */
	int64_t internal_date;
	int64_t save_date;         /* 0: not known (SAVEDATE NIL) */
	const char *keywords;      /* space-separated, NULL or "" for none */
	const char *emailid;       /* RFC 8474 EMAILID, or NULL */
	const char *envelope;      /* cached ENVELOPE, BODYSTRUCTURE, BODY; when */
	const char *bodystructure; /* NULL and data is set they are computed */
	const char *body;
	const char *header;        /* the top-level header (blank line included) */
	size_t header_len;
	const char *data;          /* the whole message, or NULL when not read */
	size_t len;
	struct mime_part *root;    /* parsed from data on first need (in the arena) */
	/* Where segments read: the message file, or -1 for data (or
	 * header) in memory, which then must outlive the segments (tests,
	 * fuzzing).  data and header both start at the file's offset 0. */
	int fd;
	bool fd_used;              /* out: a segment reads fd */
};

/* --- sections (imap_fetch_section.c) --- */

/* Parses the arguments between "[" and "]" of a fetch attribute into
 * out.  binary: a section-binary (part numbers only, RFC 3516).  Returns 0,
 * or -1 with a static reason in *error_out (for a BAD). */
int imap_section_parse(const struct imap_arg *section, bool binary, struct arena *a,
                       struct imap_section *out, const char **error_out);
/* Appends the section's text as it goes between "[" and "]" of the
 * response: part numbers, the upper-case keyword, and header names as
 * the client wrote them (atoms as atoms, others quoted or literal). */
void imap_section_write(struct buf *out, const struct imap_section *s);

/* Size of the header at the start of msg: up to and including the first
 * empty line, or len when there is none (the rule of mime_parse()). */
size_t imap_header_size(const char *msg, size_t len);
/* Where the blank line that ends hdr (len octets) starts, or len when
 * hdr does not end with one ("\r\n" or "\n" as its last line). */
size_t imap_header_blank_start(const char *hdr, size_t len);

/* Bytes of a field's first line before its colon that we look at: a
 * longer field name (RFC 5322 2.1.1 bounds a line at 998) is no name. */
#define IMAP_HFILTER_NAME_MAX 998

/* HEADER.FIELDS and HEADER.FIELDS.NOT (RFC 9051 6.4.5) over a header
 * given in pieces of any size, with the same result however it is cut:
 * a large header is filtered as it streams from its file
 * (imap_fetch_stream.c), a small one whole.  Fields whose names are (not
 * false) or are not (not true) in names go out byte for byte with their
 * folding, then the blank line when the header has one (it is part of
 * every header fetch).  Names match ASCII case-insensitively.  Holds at
 * most IMAP_HFILTER_NAME_MAX octets; allocates nothing. */
struct imap_hfilter {
	const struct imap_fetch_name *names;
	size_t nnames;
	bool not;
	uint64_t end;              /* where the blank line starts */
	uint64_t pos;              /* octets taken */
	int state;
	bool include;              /* the current field goes out */
	size_t held;               /* octets of the first line held before its colon */
	size_t trim;               /* ... up to the last that is not SP or TAB */
	char name[IMAP_HFILTER_NAME_MAX];
};
/* end: imap_header_blank_start() of the whole header. */
void imap_hfilter_init(struct imap_hfilter *f, const struct imap_fetch_name *names, size_t nnames, bool not,
                       uint64_t end);
/* Takes len more octets; appends at most len + IMAP_HFILTER_NAME_MAX to out. */
void imap_hfilter_feed(struct imap_hfilter *f, const char *in, size_t len, struct buf *out);
/* The header is complete: appends what was held. */
void imap_hfilter_finish(struct imap_hfilter *f, struct buf *out);
/* The whole header hdr (len octets) through one imap_hfilter. */
void imap_header_filter(const char *hdr, size_t len, const struct imap_fetch_name *names,
                        size_t nnames, bool not, struct buf *out);

/* The bytes section s names in msg.  Returns 1 with *data_out and *len_out
 * pointing into msg (for HEADER.FIELDS[.NOT] the header the fields are
 * taken from: the caller filters it) and, when the section is a leaf
 * body part, *leaf_out (else NULL: the message, a header, a multipart or
 * message/rfc822 body); 0 when there is no such part (answered NIL).
 * Header-only sections of the top-level message use msg->header; others
 * need msg->data, and part numbers parse it with mime_parse() into a
 * (once, kept in msg->root). */
int imap_section_get(struct imap_fetch_msg *msg, const struct imap_section *s, struct arena *a,
                     const char **data_out, size_t *len_out, const struct mime_part **leaf_out);

/* --- segments (imap_fetch_stream.c) --- */

/* How a segment's octets are made from its range of the message. */
enum imap_seg_kind {
	IMAP_SEG_BODY,             /* as they are, NUL as 0x80 (a BODY section) */
	IMAP_SEG_BINARY,           /* as they are (BINARY of an unencoded part) */
	IMAP_SEG_DECODE,           /* transfer-decoded (BINARY of an encoded part) */
	IMAP_SEG_FILTER,           /* HEADER.FIELDS[.NOT] of a header, NUL as 0x80 */
};

/* A literal's contents left out of the text.  The range [off, off + len)
 * of the message goes through the kind's transform; of what comes out,
 * the first skip octets are dropped (a partial) and the next out_len
 * sent, which the literal announced. */
struct imap_fetch_seg {
	size_t at;                 /* place in the text */
	enum imap_seg_kind kind;
	int fd;                    /* the message file, or -1: read mem */
	const char *mem;
	uint64_t off, len;
	uint64_t skip, out_len;
	enum mime_cte cte;         /* DECODE */
	/* FILTER: the names (in the command arena, which outlives the
	 * stream) and where the header's blank line starts, from off */
	const struct imap_fetch_name *names;
	size_t nnames;
	bool not;
	uint64_t hdr_end;
};

/* A segment's transform, fed in pieces: its output is the same however
 * the input is cut (mime_decoder, imap_hfilter).  Rendering runs it once
 * to learn the output's size, streaming again to send it. */
struct imap_fetch_xform {
	struct mime_decoder dec;
	struct imap_hfilter filt;
};
void imap_fetch_xform_init(struct imap_fetch_xform *x, const struct imap_fetch_seg *g);
/* Appends at most 2 * len + IMAP_FETCH_XFORM_SLACK octets to out. */
void imap_fetch_xform_feed(struct imap_fetch_xform *x, const struct imap_fetch_seg *g, const char *in,
                           size_t len, struct buf *out);
/* Returns MIME_DECODE_OK, or what the decoder found (CORRUPT). */
enum mime_decode_result imap_fetch_xform_finish(struct imap_fetch_xform *x, const struct imap_fetch_seg *g,
                                                struct buf *out);
#define IMAP_FETCH_XFORM_SLACK (MIME_DECODER_SLACK + IMAP_HFILTER_NAME_MAX)

/* The whole of out as the client would receive it, appended to dst (tests
 * and fuzzing: the same code the loop streams with).  Returns 0 or -1. */
int imap_fetch_out_flatten(const struct imap_fetch_out *out, struct buf *dst);

/* --- rendering (imap_fetch_render.c) --- */

/* Renders "* seq FETCH (...)\r\n" for msg into out, as imap_fetch_render()
 * does once the message is loaded: returns 0, or -1 with res filled (NO
 * [UNKNOWN-CTE]) and nothing appended. */
int imap_fetch_render_msg(const struct imap_ctx *ctx, const struct imap_fetch_spec *spec, uint32_t seq,
                          struct imap_fetch_msg *msg, bool add_flags, struct imap_fetch_out *out,
                          struct imap_result *res);
/* Appends an INTERNALDATE value with its quotes: "dd-Mon-yyyy hh:mm:ss
 * +0000" (RFC 9051 9 date-time, day padded with a space), in UTC. */
void imap_date_time_write(struct buf *out, int64_t t);

#endif
