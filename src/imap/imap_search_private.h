/* Inside SEARCH: the parsed program (imap_search.c), its evaluation
 * against the selected mailbox (imap_search_eval.c, header matching in
 * imap_search_text.c) and the responses (imap_search_result.c).  Only the
 * imap_search*.c files and the fuzzer include this. */
#ifndef TERN_IMAP_SEARCH_PRIVATE_H
#define TERN_IMAP_SEARCH_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_cmd.h"
#include "imap/imap_parse.h"

struct arena;
struct buf;

/* Our bound: octets of a message's header read for FROM/TO/CC/BCC/
 * SUBJECT/HEADER; fields beyond it are not searched.  RFC 5322 sets none;
 * real headers are under 64 KiB, huge recipient lists under 1 MiB. */
#define IMAP_SEARCH_HEADER_MAX (1024 * 1024)

/* RETURN options (RFC 4731, RFC 5182). */
enum {
	IMAP_SEARCH_RET_MIN   = 1 << 0,
	IMAP_SEARCH_RET_MAX   = 1 << 1,
	IMAP_SEARCH_RET_ALL   = 1 << 2,
	IMAP_SEARCH_RET_COUNT = 1 << 3,
	IMAP_SEARCH_RET_SAVE  = 1 << 4,
	IMAP_SEARCH_RET_PARTIAL = 1 << 5,  /* RFC 5267 4.4, RFC 9394 */
	IMAP_SEARCH_RET_UPDATE  = 1 << 6,  /* RFC 5267 4.3 */
};

/* RFC 9394 4: nz-number, a non-zero unsigned 32-bit integer. */
#define IMAP_SEARCH_PARTIAL_MAX UINT32_MAX

enum imap_search_op {
	ISK_AND,          /* children: every one matches (the program, groups) */
	ISK_OR,           /* two children */
	ISK_NOT,          /* one child */
	ISK_ALL,          /* ALL */
	ISK_RECENT,       /* \Recent in the view (want) or not; with flag, that flag clear too (NEW) */
	ISK_FLAG,         /* flag bit set (want) or clear (!want) */
	ISK_KEYWORD,      /* keyword str present (want) or absent */
	ISK_LARGER,       /* RFC822.SIZE > num */
	ISK_SMALLER,      /* RFC822.SIZE < num */
	ISK_BEFORE,       /* internal date's day < day */
	ISK_ON,
	ISK_SINCE,        /* >= */
	ISK_SAVEDBEFORE,  /* the save date's day (RFC 8514; the internal date's when not known) */
	ISK_SAVEDON,
	ISK_SAVEDSINCE,
	ISK_OLDER,        /* internal date at least num seconds ago, exclusive (RFC 5032) */
	ISK_YOUNGER,      /* internal date at most num seconds ago */
	ISK_SENTBEFORE,   /* the Date header's day as written (store_msg_cached) */
	ISK_SENTON,
	ISK_SENTSINCE,
	ISK_SEQSET,       /* sequence numbers in set */
	ISK_UIDSET,       /* UIDs in set */
	ISK_SAVED,        /* "$", as a sequence set or UID set: the saved UIDs */
	ISK_MODSEQ,       /* MODSEQ >= num (RFC 7162 3.1.5) */
	ISK_EMAILID,      /* EMAILID is str (RFC 8474 6) */
	ISK_THREADID,     /* THREADID is str: no message has one here */
	ISK_HEADER,       /* field str contains needle (FROM, TO, CC, BCC, SUBJECT, HEADER) */
	ISK_BODY,         /* full-text index, body only */
	ISK_TEXT,         /* full-text index, header and body */
};

/* How much evaluating a key costs, so AND and OR look at cheap keys first. */
enum imap_search_cost {
	ISC_CHEAP,        /* what store_imap_get returns, or the view */
	ISC_FTS,          /* one index query for the whole mailbox */
	ISC_CACHED,       /* store_msg_cached per message */
	ISC_HEADER,       /* reading the message's header */
};

struct imap_search_range {
	uint32_t lo, hi;
};

struct imap_search_key {
	enum imap_search_op op;
	enum imap_search_cost cost;
	struct imap_search_key *child;  /* AND, OR, NOT: the first child */
	struct imap_search_key *next;   /* the next sibling */
	uint32_t flag;                  /* FLAG: a store_flag bit */
	bool want;                      /* FLAG, KEYWORD: set (true) or clear */
	uint64_t num;                   /* LARGER, SMALLER, MODSEQ */
	int64_t day;                    /* date keys: days since 1970-01-01 */
	const char *str;                /* KEYWORD, HEADER (field name) */
	size_t len;
	bool address;                   /* HEADER: FROM, TO, CC or BCC (addresses too) */
	const char *needle;             /* HEADER, BODY, TEXT: for HEADER case-folded */
	size_t needle_len;
	struct imap_seqset set;         /* SEQSET, UIDSET as written */
	/* filled during evaluation */
	struct imap_search_range *ranges; /* SEQSET/UIDSET resolved, sorted, merged */
	size_t n_ranges;
	bool fts_done;                  /* BODY/TEXT: fts_uids is valid */
	uint32_t *fts_uids;             /* malloc'd by store_fts_search */
	size_t fts_n;
};

struct imap_search_program {
	bool esearch;                   /* RETURN (...) was given */
	unsigned ret;                   /* IMAP_SEARCH_RET_* (ALL when RETURN () or none) */
	bool modseq;                    /* the MODSEQ key is used */
	struct imap_search_key *root;   /* an ISK_AND of the top-level keys */
	size_t keys;                    /* keys counted against IMAP_SEARCH_KEYS_MAX */
	/* PARTIAL lo:hi (lo <= hi), counted from the first result, or from
	 * the last one when from_end ("-lo:-hi", RFC 9394) */
	uint32_t partial_lo, partial_hi;
	bool partial_from_end;
};

/* Parses SEARCH arguments (after "SEARCH": [RETURN (...)] [CHARSET c]
 * keys...) into *prog, allocated in a.  Returns 0, or -1 with res filled:
 * BAD for syntax, NO [BADCHARSET (UTF-8 US-ASCII)], NO [LIMIT] past
 * IMAP_SEARCH_KEYS_MAX.  prog->ret holds the RETURN options read so far
 * even on failure (SAVE must then empty the saved result). */
int imap_search_parse(const struct imap_arg *args, struct arena *a, struct imap_search_program *prog,
                      struct imap_result *res);

/* The messages that matched, ascending (UID order is sequence order). */
struct imap_search_match {
	uint32_t *uids;                 /* malloc'd */
	uint32_t *seqs;                 /* malloc'd: sequence numbers in the view */
	uint64_t *modseqs;              /* malloc'd */
	size_t n;
};

/* Evaluates prog against ctx->view in ctx->st.  Returns 0 with *out
 * filled (free with imap_search_match_free), or -1 with res filled (NO on
 * a store error).  Frees what evaluation attached to prog's keys. */
int imap_search_eval(struct imap_ctx *ctx, struct imap_search_program *prog, struct imap_search_match *out,
                     struct imap_result *res);
/* As imap_search_eval, but looks only at the messages whose UID is in
 * only (n_only of them, ascending): what changed, for an UPDATE context. */
int imap_search_eval_some(struct imap_ctx *ctx, struct imap_search_program *prog, const uint32_t *only,
                          size_t n_only, struct imap_search_match *out, struct imap_result *res);
void imap_search_match_free(struct imap_search_match *m);

/* Appends the untagged SEARCH or ESEARCH response for m to out and, on
 * SAVE, replaces *ctx->saved (RFC 5182). */
void imap_search_respond(struct imap_ctx *ctx, const struct imap_search_program *prog,
                         const struct imap_search_match *m, struct buf *out);
/* Empties *ctx->saved (a SEARCH ... SAVE that failed, RFC 5182 2.1). */
void imap_search_saved_clear(struct imap_ctx *ctx);
/* Appends "* ESEARCH (TAG "tag")" and " UID" when uid. */
void imap_search_write_start(struct buf *out, const char *tag, bool uid);
/* Appends ascending ids (n > 0) as a sequence-set: runs become "a:b". */
void imap_search_write_ids(struct buf *out, const uint32_t *ids, size_t n);

/* UPDATE contexts (imap_search_update.c). */

/* Keeps a live copy of the search for ctx->tag (RFC 5267 4.3): args
 * parsed once more into the context's own arena, and m's UIDs as its
 * result.  Past IMAP_SEARCH_CONTEXTS_MAX contexts, or a program above
 * IMAP_SEARCH_CONTEXT_PROGRAM_MAX, appends "* NO [NOUPDATE "tag"]" to out
 * instead (RFC 5267 4.3.1).  Call before the ESEARCH response. */
void imap_search_context_add(struct imap_ctx *ctx, const struct imap_arg *args, const struct imap_search_match *m,
                             struct buf *out);

/* Text matching (imap_search_text.c). */

/* Returns s (len octets, UTF-8 or not) case-folded for matching in the
 * arena, NUL-terminated; *len_out its length (never more than len).
 * Folds ASCII, Latin-1, Latin Extended-A and Additional, Greek, Cyrillic,
 * Armenian and fullwidth Latin letters to lower case; other bytes, and
 * invalid UTF-8, are copied. */
char *imap_search_fold(const char *s, size_t len, struct arena *a, size_t *len_out);

/* A message's header, split into fields, for the header keys. */
struct imap_search_header;
/* Splits the len octets at hdr (the header, up to and including the blank
 * line; not copied, must outlive the result) into fields, at most
 * MIME_HEADER_FIELDS_MAX.  Allocated in a. */
struct imap_search_header *imap_search_header_split(const char *hdr, size_t len, struct arena *a);
/* True when a field named name (len octets, any case) holds needle
 * (already folded; needle_len 0: the field exists) in its unfolded,
 * RFC 2047-decoded, case-folded value.  Decoded values are kept in a. */
bool imap_search_header_match(struct imap_search_header *h, const char *name, size_t len, const char *needle,
                              size_t needle_len, struct arena *a);
/* For FROM, TO, CC and BCC, after imap_search_header_match: true when a
 * field named name holds needle (folded, not empty) in its addresses as
 * the ENVELOPE structure has them ("name <mailbox@host>": display name
 * decoded, comments, quoting and folding gone), which is what RFC 3501
 * 6.4.4 searches.  Kept in a as for imap_search_header_match. */
bool imap_search_address_match(struct imap_search_header *h, const char *name, size_t len, const char *needle,
                               size_t needle_len, struct arena *a);

/* PARTIAL's range (RFC 5267 4.4, RFC 9394 3.1) into prog's partial_*,
 * for SORT's RETURN too.  Returns 0, or -1 with res BAD. */
int imap_search_partial_parse(const struct imap_arg *arg, struct imap_search_program *prog,
                              struct imap_result *res);

#endif
