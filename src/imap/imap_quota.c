/* GETQUOTA and GETQUOTAROOT (RFC 9208 4.1.1, 4.1.2).
 *
 * A user has one quota root, "", over all their mailboxes, with the
 * resources STORAGE (units of 1024 octets, RFC 9208 5.1) and MESSAGE
 * (5.2) when the user has such a limit.  A user with no limit has no
 * quota root at all: RFC 9208 9 requires at least one resource in a QUOTA
 * response ("(" quota-resource *(SP quota-resource) ")"), so
 * GETQUOTAROOT answers "* QUOTAROOT <mailbox>" with no root (as Dovecot
 * does for unlimited users) and GETQUOTA "" answers NO [NONEXISTENT]. */
#include <string.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_int.h"
#include "imap/imap_parse.h"
#include "lib/buf.h"
#include "store/store_imap.h"

static bool
has_root(const struct imap_ctx *ctx)
{
	return ctx->quota_bytes != 0 || ctx->quota_messages != 0;
}

/* Appends "* QUOTA "" (...)\r\n".  Returns 0 or -1 with res filled. */
static int
quota_write(struct imap_ctx *ctx, struct buf *out, struct imap_result *res)
{
	uint64_t bytes, messages;
	const char *error = NULL;
	bool first = true;

	if (store_usage(ctx->st, &bytes, &messages, &error) == -1) {
		imap_result_store(res, -1, NULL, error);
		return -1;
	}
	buf_puts(out, "* QUOTA \"\" (");
	if (ctx->quota_bytes != 0) {
		/* Usage rounded up (any octet counts), the limit down (never
		 * promise more than the store accepts). */
		buf_printf(out, "STORAGE %llu %llu", (unsigned long long)((bytes + 1023) / 1024),
		           (unsigned long long)(ctx->quota_bytes / 1024));
		first = false;
	}
	if (ctx->quota_messages != 0)
		buf_printf(out, "%sMESSAGE %llu %llu", first ? "" : " ", (unsigned long long)messages,
		           (unsigned long long)ctx->quota_messages);
	buf_puts(out, ")\r\n");
	return 0;
}

/* GETQUOTA quota-root */
void
imap_getquota_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	const char *root;
	size_t len;

	if (args == NULL || args->next != NULL || !imap_arg_astring(args, &root, &len)) {
		imap_result_set(res, IMAP_BAD, NULL, "GETQUOTA takes a quota root name");
		return;
	}
	if (len != 0 || !has_root(ctx)) {
		imap_result_set(res, IMAP_NO, "NONEXISTENT", len != 0 ? "No such quota root (the only one is \"\")"
		                : "No quota root: this account has no storage or message limit");
		return;
	}
	if (quota_write(ctx, out, res) == -1)
		return;
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}

/* GETQUOTAROOT mailbox */
void
imap_getquotaroot_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out,
                      struct imap_result *res)
{
	struct store_mailbox_status st;
	const char *error = NULL;
	char *name;
	int r;

	if (args == NULL || args->next != NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "GETQUOTAROOT takes a mailbox name");
		return;
	}
	if ((name = imap_mailbox_arg(ctx, args, res)) == NULL)
		return;
	if ((r = store_mailbox_status(ctx->st, name, &st, &error)) != STORE_OK) {
		imap_result_store(res, r, name, error);
		return;
	}
	buf_puts(out, "* QUOTAROOT ");
	imap_mailbox_write(out, name, ctx->utf8);
	if (has_root(ctx)) {
		buf_puts(out, " \"\"\r\n");
		if (quota_write(ctx, out, res) == -1)
			return;
	} else {
		buf_puts(out, "\r\n");
	}
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}
