/* Helpers shared by the mailbox commands (imap_mailbox.c, imap_list.c,
 * imap_status.c, imap_quota.c).  Private to src/imap: the contract with
 * the session is imap_mailbox.h. */
#ifndef TERN_IMAP_MAILBOX_INT_H
#define TERN_IMAP_MAILBOX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_cmd.h"

struct buf;
struct imap_arg;

/* Fills res: status, code ("" or NULL for none) and printf-style text
 * ("" for the session's default "<NAME> completed"), truncated to fit. */
void imap_result_set(struct imap_result *res, enum imap_status st, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Fills res with the NO (or OK for STORE_OK) that a store result stands
 * for: NONEXISTENT, ALREADYEXISTS, CANNOT, HASCHILDREN, LIMIT,
 * UNAVAILABLE (STORE_ERR_TEMP and -1), OVERQUOTA (quota or disk full),
 * SERVERBUG (anything else).  name (UTF-8, may be NULL) goes into the
 * human text; error (the store's, may be NULL) is logged, not sent, as
 * it may hold paths. */
void imap_result_store(struct imap_result *res, int err, const char *name, const char *error);

/* Decodes a LIST/LSUB reference or pattern (an astring; patterns may be
 * atoms with "%" and "*") like a mailbox name, without making "inbox"
 * "INBOX".  NULL with res filled as imap_mailbox_arg: BAD when it is not
 * an astring, NO when it is not validly encoded (then it matches no
 * name: LIST answers OK with nothing, as Dovecot does). */
char *imap_mailbox_pattern_arg(struct imap_ctx *ctx, const struct imap_arg *arg, struct imap_result *res);

/* STATUS data items (RFC 9051 6.3.11, RFC 7162 HIGHESTMODSEQ, RFC 8438
 * SIZE, RFC 7889 APPENDLIMIT, RFC 3501 RECENT). */
enum imap_status_item {
	IMAP_STATUS_MESSAGES,
	IMAP_STATUS_UIDNEXT,
	IMAP_STATUS_UIDVALIDITY,
	IMAP_STATUS_UNSEEN,
	IMAP_STATUS_DELETED,
	IMAP_STATUS_SIZE,
	IMAP_STATUS_HIGHESTMODSEQ,
	IMAP_STATUS_APPENDLIMIT,
	IMAP_STATUS_RECENT,
	IMAP_STATUS_MAILBOXID,
	IMAP_STATUS_ITEM_COUNT
};

/* The items asked for, each once, in the order first asked. */
struct imap_status_req {
	size_t n;
	uint8_t item[IMAP_STATUS_ITEM_COUNT];
};

/* Parses the parenthesised list of STATUS items.  RECENT only before
 * IMAP4rev2 (RFC 9051 removed it).  Returns 0, or -1 with res filled
 * (BAD).  Sets ctx->condstore_used for HIGHESTMODSEQ (RFC 7162 3.1). */
int imap_status_req_parse(struct imap_ctx *ctx, const struct imap_arg *list, struct imap_status_req *req,
                          struct imap_result *res);

/* Appends "* STATUS <name> (...)\r\n" for mailbox name (UTF-8).  Returns
 * STORE_OK, or the store's result (nothing appended) with *error_out. */
int imap_status_write(struct imap_ctx *ctx, const char *name, const struct imap_status_req *req,
                      struct buf *out, const char **error_out);

#endif
