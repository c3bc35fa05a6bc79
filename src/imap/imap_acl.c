/* ACL (RFC 4314) and LIST-MYRIGHTS (RFC 8440) for mailboxes that have one
 * owner.  Every mailbox here belongs to the logged-in user alone (shared
 * folders come later), so the access control list of each is one entry:
 * the owner, with every right.  The commands answer that truthfully:
 *
 *   MYRIGHTS m            -> * MYRIGHTS m lrswipkxtea
 *   GETACL m              -> * ACL m <user> lrswipkxtea
 *   LISTRIGHTS m <user>   -> * LISTRIGHTS m <user> lrswipkxtea  (all required)
 *   LISTRIGHTS m <other>  -> * LISTRIGHTS m <other> ""          (none grantable)
 *   SETACL / DELETEACL    -> OK when they leave the list as it is, else
 *                            NO: no right can be given to anyone else, and
 *                            the owner's cannot be taken (RFC 4314 2.2
 *                            lets a server refuse such changes).
 *
 * Clients use MYRIGHTS (Thunderbird, Apple Mail) to tell a read-only
 * folder from a writable one; answering it saves them guessing. */
#include <string.h>
#include <strings.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_int.h"
#include "imap/imap_parse.h"
#include "lib/buf.h"
#include "store/store_imap.h"

/* RFC 4314 2.1: every right a mailbox owner has here.  The obsolete "c"
 * and "d" (2.1.1) are not listed: RIGHTS=texk says t, e, x, k stand
 * alone. */
#define ACL_ALL_RIGHTS "lrswipkxtea"

static bool
is_owner(const struct imap_ctx *ctx, const char *id, size_t len)
{
	return strlen(ctx->user) == len && strncasecmp(ctx->user, id, len) == 0;
}

/* The mailbox argument of an ACL command, which must exist.  NULL with
 * res filled. */
static char *
existing_mailbox(struct imap_ctx *ctx, const struct imap_arg *arg, struct imap_result *res)
{
	struct store_mailbox_status st;
	const char *error = NULL;
	char *name;
	int r;

	if ((name = imap_mailbox_arg(ctx, arg, res)) == NULL)
		return NULL;
	if ((r = store_mailbox_status(ctx->st, name, &st, &error)) != STORE_OK) {
		imap_result_store(res, r, name, error);
		return NULL;
	}
	return name;
}

static void
write_head(struct imap_ctx *ctx, struct buf *out, const char *what, const char *name)
{
	buf_printf(out, "* %s ", what);
	imap_mailbox_write(out, name, ctx->utf8);
}

/* MYRIGHTS mailbox (RFC 4314 3.5) */
void
imap_myrights_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out,
                  struct imap_result *res)
{
	char *name;

	if (args == NULL || args->next != NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "MYRIGHTS takes a mailbox name");
		return;
	}
	if ((name = existing_mailbox(ctx, args, res)) == NULL)
		return;
	imap_myrights_write(ctx, name, out);
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}

void
imap_myrights_write(struct imap_ctx *ctx, const char *name, struct buf *out)
{
	write_head(ctx, out, "MYRIGHTS", name);
	buf_puts(out, " " ACL_ALL_RIGHTS "\r\n");
}

/* GETACL mailbox (RFC 4314 3.3) */
void
imap_getacl_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	char *name;

	if (args == NULL || args->next != NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "GETACL takes a mailbox name");
		return;
	}
	if ((name = existing_mailbox(ctx, args, res)) == NULL)
		return;
	write_head(ctx, out, "ACL", name);
	buf_puts(out, " ");
	imap_write_nstring(out, ctx->user, strlen(ctx->user));
	buf_puts(out, " " ACL_ALL_RIGHTS "\r\n");
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}

/* LISTRIGHTS mailbox identifier (RFC 4314 3.4) */
void
imap_listrights_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out,
                    struct imap_result *res)
{
	const char *id;
	size_t id_len;
	char *name;

	if (args == NULL || args->next == NULL || args->next->next != NULL ||
	    !imap_arg_astring(args->next, &id, &id_len)) {
		imap_result_set(res, IMAP_BAD, NULL, "LISTRIGHTS takes a mailbox name and an identifier");
		return;
	}
	if ((name = existing_mailbox(ctx, args, res)) == NULL)
		return;
	write_head(ctx, out, "LISTRIGHTS", name);
	buf_puts(out, " ");
	imap_write_nstring(out, id, id_len);
	/* the owner always has every right; nobody else can be given one */
	buf_puts(out, is_owner(ctx, id, id_len) ? " " ACL_ALL_RIGHTS "\r\n" : " \"\"\r\n");
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}

/* The rights a SETACL would leave the identifier with: rights is
 * "+xyz" (add), "-xyz" (remove) or "xyz" (replace).  Returns false for a
 * right letter RFC 4314 does not define. */
static bool
rights_after(const char *rights, size_t len, bool has_all, bool *all_out, bool *none_out)
{
	static const char known[] = ACL_ALL_RIGHTS "cd0123456789";
	char mode = len > 0 && (rights[0] == '+' || rights[0] == '-') ? rights[0] : '=';
	size_t i = mode == '=' ? 0 : 1, count = 0;
	bool seen[sizeof(ACL_ALL_RIGHTS)] = { false };

	for (; i < len; i++) {
		const char *p = memchr(known, rights[i], sizeof(known) - 1);

		if (p == NULL || rights[i] == '\0')
			return false;
		if ((size_t)(p - known) < sizeof(ACL_ALL_RIGHTS) - 1 && !seen[p - known]) {
			seen[p - known] = true;
			count++;
		}
	}
	if (mode == '+') {
		*all_out = has_all || count == sizeof(ACL_ALL_RIGHTS) - 1;
		*none_out = !has_all && count == 0;
	} else if (mode == '-') {
		*all_out = has_all && count == 0;
		*none_out = !has_all || count == sizeof(ACL_ALL_RIGHTS) - 1;
	} else {
		*all_out = count == sizeof(ACL_ALL_RIGHTS) - 1;
		*none_out = count == 0;
	}
	return true;
}

/* SETACL mailbox identifier rights (RFC 4314 3.1) */
void
imap_setacl_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	const char *id, *rights;
	size_t id_len, rights_len;
	bool owner, all, none;

	(void)out;
	if (args == NULL || args->next == NULL || args->next->next == NULL || args->next->next->next != NULL ||
	    !imap_arg_astring(args->next, &id, &id_len) ||
	    !imap_arg_astring(args->next->next, &rights, &rights_len)) {
		imap_result_set(res, IMAP_BAD, NULL, "SETACL takes a mailbox name, an identifier and rights");
		return;
	}
	if (existing_mailbox(ctx, args, res) == NULL)
		return;
	owner = is_owner(ctx, id, id_len);
	if (!rights_after(rights, rights_len, owner, &all, &none)) {
		imap_result_set(res, IMAP_BAD, NULL, "Unknown right in %.*s", (int)(rights_len > 40 ? 40 : rights_len),
		                rights);
		return;
	}
	if ((owner && all) || (!owner && none)) {
		imap_result_set(res, IMAP_OK, NULL, "%s", "");
		return;
	}
	imap_result_set(res, IMAP_NO, "NOPERM", owner ? "The owner keeps every right on their own mailboxes"
	                : "Mailboxes are not shared here: no rights can be given to others");
}

/* DELETEACL mailbox identifier (RFC 4314 3.2) */
void
imap_deleteacl_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out,
                   struct imap_result *res)
{
	const char *id;
	size_t id_len;

	(void)out;
	if (args == NULL || args->next == NULL || args->next->next != NULL ||
	    !imap_arg_astring(args->next, &id, &id_len)) {
		imap_result_set(res, IMAP_BAD, NULL, "DELETEACL takes a mailbox name and an identifier");
		return;
	}
	if (existing_mailbox(ctx, args, res) == NULL)
		return;
	if (is_owner(ctx, id, id_len)) {
		imap_result_set(res, IMAP_NO, "NOPERM", "The owner keeps every right on their own mailboxes");
		return;
	}
	/* nobody else has an entry: removing none changes nothing */
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}
