/* What an mbox message's header says about the message beyond the message
 * itself (tern import mbox): the status fields mail programs keep there,
 * and Gmail's labels.  Those fields are taken out of the stored message;
 * Dovecot hides the same ones when it serves an mbox (its
 * mbox_hide_headers / the X-IMAP, X-UID, Status... list of its mbox
 * driver), Thunderbird's are its own bookkeeping. */
#ifndef TERN_CLI_MBOX_H
#define TERN_CLI_MBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_imap.h"

struct arena;
struct buf;

/* Longest header looked at: beyond it the message is stored as it is
 * (Postfix's header_size_limit is 102400). */
#define MBOX_HEADER_MAX (256 * 1024)
/* Gmail labels kept per message, at most. */
#define MBOX_LABELS_MAX 256

struct mbox_meta {
	uint32_t flags;                /* enum store_flag bits */
	bool unread;                   /* Gmail's "Unread" label: no \Seen, whatever else says */
	char keywords[STORE_KEYWORDS_MAX * (STORE_KEYWORD_LEN_MAX + 1) + 1]; /* atoms, space-separated */
	size_t n_keywords;
	bool gmail;                    /* an X-Gmail-Labels field was there */
	const char *labels[MBOX_LABELS_MAX]; /* its labels, RFC 2047 decoded (UTF-8), in the arena */
	size_t n_labels;
	const char *message_id;        /* "<...>" in the arena, or NULL */
	bool uw_internal;              /* X-IMAP: UW-IMAP's "folder internal data" pseudo message */
};

/* Reads the header h (len bytes, CRLF lines, up to and with its empty
 * line) into m and appends to kept (may be NULL) every field but the
 * status fields: Status, X-Status, X-Keywords, X-UID, X-IMAP, X-IMAPbase,
 * Content-Length, X-Mozilla-Status, X-Mozilla-Status2, X-Mozilla-Keys,
 * X-Gmail-Labels.  Flags: Status R = \Seen; X-Status A F T D = \Answered
 * \Flagged \Draft \Deleted; X-Mozilla-Status bits 0x1 0x2 0x4 0x8 = \Seen
 * \Answered \Flagged \Deleted (Thunderbird's nsMsgMessageFlags); keywords
 * from X-Keywords and X-Mozilla-Keys (words that are not IMAP atoms are
 * dropped).  Strings live in a. */
void cli_mbox_header(const char *h, size_t len, struct mbox_meta *m, struct buf *kept, struct arena *a);

/* Where a Gmail label puts a message: *folder_out the Tern folder
 * ("INBOX", "Sent", "Drafts", "Trash", "Junk", or the label itself for a
 * user label, '/' nesting as in Gmail) or NULL for the labels that are no
 * folder (Starred, Important, Unread, Opened, Archived, Chat, Category
 * ...); flags to add (Starred: \Flagged, Opened: \Seen, Drafts: \Draft). */
void cli_mbox_label(const char *label, const char **folder_out, uint32_t *flags_out);

/* The special-use folders of other servers and clients (Thunderbird's
 * "Archives", Outlook's "Sent Items", "Deleted Items" and "Junk E-mail",
 * Apple's "Sent Messages", any case of "Inbox") to Tern's: returns the
 * Tern name, or name itself when it is no alias or when names (the n
 * top-level names of the source) hold the plain name too. */
const char *cli_import_special(const char *name, char *const *names, size_t n);

#endif
