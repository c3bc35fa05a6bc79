/* What the IMAP command modules share with the session.
 *
 * The session (imap_session.c) reads commands, keeps the selected
 * mailbox's view and sends everything; commands that touch the store run
 * on a worker thread (the store blocks on disk) as functions of the form
 *
 *     void imap_xxx_run(struct imap_ctx *ctx, const struct imap_arg *args,
 *                       struct buf *out, struct imap_result *res);
 *
 * args are the command's arguments after its name (after "UID <name>" for
 * UID commands); the function appends untagged responses ("* LIST ...\r\n")
 * to out and fills res; the session writes out, then the tagged line
 * "<tag> OK|NO|BAD [code] text".  Such a function never touches the
 * connection, the session, or anything but ctx, args, out and res, so
 * unit tests call it directly with a real store. */
#ifndef TERN_IMAP_CMD_H
#define TERN_IMAP_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;
struct buf;
struct store;
struct imap_arg;
struct imap_search_contexts;

enum imap_status { IMAP_OK, IMAP_NO, IMAP_BAD };

/* The tagged reply of a command. */
struct imap_result {
	enum imap_status status;
	char code[256];                /* response code without brackets, "" for none:
	                                * "TRYCREATE", "NONEXISTENT", "APPENDUID 3 7" */
	char text[256];                /* human text, "" for the default ("LIST completed") */
};

/* The selected mailbox as this session knows it: sequence number i+1 is
 * uids[i].  Changes made elsewhere reach it only through the session's
 * sync (so sequence numbers stay stable during a command, RFC 9051 5.5). */
struct imap_view {
	char *mailbox;                 /* UTF-8 name, malloc'd */
	bool read_only;                /* EXAMINE */
	uint32_t uidvalidity;
	uint32_t uidnext;              /* as last told to the client */
	uint64_t highestmodseq;        /* as last synced */
	uint32_t *uids;                /* ascending */
	size_t count, cap;
	/* The keywords told in the last FLAGS response (RFC 3501 7.2.6):
	 * space-separated, malloc'd (NULL: none), at most
	 * IMAP_VIEW_KEYWORDS_MAX.  A FETCH may show only these. */
	char *keywords;
	size_t n_keywords;
	/* \Recent (RFC 3501 2.3.2; never under IMAP4rev2): the UIDs of the
	 * view that are recent for this session, ascending, malloc'd. */
	uint32_t *recent;
	size_t n_recent;
};

/* Our bound on the keywords one view tells in FLAGS (RFC 9051 sets none;
 * STORE_KEYWORDS_MAX per message).  Past it new keywords are still stored
 * and shown, but no longer announced. */
#define IMAP_VIEW_KEYWORDS_MAX 1024

/* Sequence number of uid in v (1-based) or 0 when not in the view. */
uint32_t imap_view_seq(const struct imap_view *v, uint32_t uid);
/* imap_view_seq for UIDs asked in ascending order: *hint is where the
 * last one was found (start at 0), so a run of UIDs costs one compare
 * each instead of a binary search. */
uint32_t imap_view_seq_next(const struct imap_view *v, uint32_t uid, size_t *hint);
/* Whether uid is \Recent for v (imap_flags.c). */
bool imap_view_recent(const struct imap_view *v, uint32_t uid);
/* Marks the UIDs of v's uids[from..count) that are >= first as recent
 * (they are above every recent UID already kept). */
void imap_view_recent_add(struct imap_view *v, size_t from, uint32_t first);

/* Everything a worker-thread command may use. */
struct imap_ctx {
	struct store *st;              /* the user's store, open on this thread */
	struct arena *arena;           /* scratch for this command, reset after it */
	const char *user;              /* canonical address */
	const char *data_dir;          /* [server] data_dir (URLFETCH opens a URL owner's store) */
	const struct imap_view *view;  /* NULL when no mailbox is selected */
	bool imap4rev2;                /* ENABLE IMAP4rev2 was done (RFC 9051) */
	bool utf8;                     /* mailbox names are UTF-8 on the wire (rev2 or UTF8=ACCEPT) */
	bool utf8_accept;              /* UTF8=ACCEPT enabled: no SEARCH CHARSET (RFC 6855 3) */
	bool condstore;                /* CONDSTORE enabled (ENABLE, or a command using it) */
	bool qresync;                  /* QRESYNC enabled */
	uint64_t quota_bytes;          /* the user's storage limit, 0: none */
	uint64_t quota_messages;       /* 0: none */
	uint64_t append_limit;         /* max_message_size (APPENDLIMIT) */
	const char *tag;               /* the command's tag (ESEARCH's TAG) */
	bool uid;                      /* the command came as "UID <name>" */
	bool condstore_used;           /* out: the command used CONDSTORE (RFC 7162 3.1: enables it) */
	/* SEARCHRES (RFC 5182): the UIDs saved by the last SEARCH ... SAVE,
	 * ascending; the search module replaces it (malloc'd, owned by the
	 * session; *saved may be NULL). */
	uint32_t **saved;
	size_t *saved_count;
	/* SEARCH RETURN (UPDATE) contexts (RFC 5267; imap_search_update.h),
	 * owned by the session; NULL when no mailbox is selected. */
	struct imap_search_contexts *contexts;
};

/* Mailbox name conversions at the wire (imap_mutf7.c).  Names are UTF-8
 * inside Tern.  Decoding accepts modified UTF-7 (RFC 3501 5.1.3) when
 * !utf8, and raw UTF-8 always (RFC 9051 5.1: rev2 clients send UTF-8;
 * rev1 clients that send 8-bit names get them taken as UTF-8 when valid).
 * Returns the UTF-8 name in the arena, or NULL when it is neither valid
 * modified UTF-7 nor valid UTF-8. */
char *imap_mailbox_decode(const char *wire, size_t len, bool utf8, struct arena *a);
/* Appends name (UTF-8) to out in modified UTF-7, unquoted (Dovecot's
 * Maildir++ folder names, tern export maildir). */
void imap_mailbox_encode(struct buf *out, const char *name);
/* Appends name (UTF-8) to out as an IMAP astring/quoted string for the
 * wire: modified UTF-7 unless utf8, quoted when needed, a literal when it
 * holds characters a quoted string cannot. */
void imap_mailbox_write(struct buf *out, const char *name, bool utf8);
/* Appends s as a quoted string, or a literal when it holds CR, LF or
 * NUL, or NIL when s is NULL ("nstring", RFC 9051 9). */
void imap_write_nstring(struct buf *out, const char *s, size_t len);

#endif
