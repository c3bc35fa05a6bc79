/* Mailbox commands (RFC 9051 6.3, RFC 5258 LIST-EXTENDED, RFC 5819
 * LIST-STATUS, RFC 6154 SPECIAL-USE, RFC 3348 CHILDREN, RFC 9208 QUOTA,
 * RFC 2342 NAMESPACE, RFC 7889 APPENDLIMIT, RFC 8438 STATUS=SIZE).  Each
 * runs on a worker thread with the signature of imap_cmd.h; args start
 * after the command name. */
#ifndef TERN_IMAP_MAILBOX_H
#define TERN_IMAP_MAILBOX_H

#include <stdbool.h>

#include "imap/imap_cmd.h"

struct buf;

void imap_list_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_lsub_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
/* STATUS of the selected mailbox is allowed (RFC 9051 6.3.11 only warns). */
void imap_status_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_create_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_delete_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_rename_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_subscribe_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_unsubscribe_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_getquota_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_getquotaroot_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
/* ACL (RFC 4314) for single-owner mailboxes: imap_acl.c */
void imap_myrights_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_getacl_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_listrights_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_setacl_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
void imap_deleteacl_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res);
/* "* MYRIGHTS name rights\r\n", also for LIST RETURN (MYRIGHTS) (RFC 8440). */
void imap_myrights_write(struct imap_ctx *ctx, const char *name, struct buf *out);
/* NAMESPACE needs no store: personal "" with "/", no others. */
void imap_namespace_write(struct buf *out, bool utf8);

/* The name a mailbox argument (astring) stands for, decoded (see
 * imap_mailbox_decode) and with "INBOX" in any case made "INBOX".  NULL
 * with res filled: BAD when the argument is not an astring, NO [CANNOT]
 * when it is not a name any mailbox can have (not validly encoded,
 * control characters).  For the session's SELECT/EXAMINE/APPEND/COPY/MOVE
 * too. */
char *imap_mailbox_arg(struct imap_ctx *ctx, const struct imap_arg *arg, struct imap_result *res);

#endif
