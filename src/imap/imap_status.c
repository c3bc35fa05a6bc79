/* STATUS (RFC 9051 6.3.11) with DELETED, SIZE (RFC 8438), HIGHESTMODSEQ
 * (RFC 7162 3.1.4), APPENDLIMIT (RFC 7889) and, before IMAP4rev2, RECENT
 * (always 0: Tern keeps no \Recent, which RFC 9051 dropped).  The same
 * writer serves LIST-STATUS (RFC 5819, imap_list.c). */
#include <string.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_int.h"
#include "imap/imap_parse.h"
#include "lib/buf.h"
#include "store/store_imap.h"

static const char *const item_names[IMAP_STATUS_ITEM_COUNT] = {
	[IMAP_STATUS_MESSAGES] = "MESSAGES",
	[IMAP_STATUS_UIDNEXT] = "UIDNEXT",
	[IMAP_STATUS_UIDVALIDITY] = "UIDVALIDITY",
	[IMAP_STATUS_UNSEEN] = "UNSEEN",
	[IMAP_STATUS_DELETED] = "DELETED",
	[IMAP_STATUS_SIZE] = "SIZE",
	[IMAP_STATUS_HIGHESTMODSEQ] = "HIGHESTMODSEQ",
	[IMAP_STATUS_APPENDLIMIT] = "APPENDLIMIT",
	[IMAP_STATUS_RECENT] = "RECENT",
	[IMAP_STATUS_MAILBOXID] = "MAILBOXID",
};

int
imap_status_req_parse(struct imap_ctx *ctx, const struct imap_arg *list, struct imap_status_req *req,
                      struct imap_result *res)
{
	const struct imap_arg *a;
	bool seen[IMAP_STATUS_ITEM_COUNT] = { false };
	size_t i;

	req->n = 0;
	if (list == NULL || list->type != IMAP_ARG_LIST || list->count == 0) {
		imap_result_set(res, IMAP_BAD, NULL, "Expected a list of status items, e.g. (MESSAGES UNSEEN)");
		return -1;
	}
	for (a = list->list; a != NULL; a = a->next) {
		for (i = 0; i < IMAP_STATUS_ITEM_COUNT; i++)
			if (imap_arg_atom_is(a, item_names[i]))
				break;
		if (i == IMAP_STATUS_RECENT && ctx->imap4rev2)
			i = IMAP_STATUS_ITEM_COUNT;  /* RFC 9051 removed RECENT */
		if (i == IMAP_STATUS_ITEM_COUNT) {
			if (a->type == IMAP_ARG_ATOM)
				imap_result_set(res, IMAP_BAD, NULL, "Unknown status item %.40s", a->str);
			else
				imap_result_set(res, IMAP_BAD, NULL, "Status items are atoms, e.g. (MESSAGES UNSEEN)");
			return -1;
		}
		if (seen[i])
			continue;
		seen[i] = true;
		req->item[req->n++] = (uint8_t)i;
		if (i == IMAP_STATUS_HIGHESTMODSEQ)
			ctx->condstore_used = true;
	}
	return 0;
}

int
imap_status_write(struct imap_ctx *ctx, const char *name, const struct imap_status_req *req,
                  struct buf *out, const char **error_out)
{
	struct store_mailbox_status st;
	size_t i;
	int r;

	if ((r = store_mailbox_status(ctx->st, name, &st, error_out)) != STORE_OK)
		return r;
	buf_puts(out, "* STATUS ");
	imap_mailbox_write(out, name, ctx->utf8);
	buf_puts(out, " (");
	for (i = 0; i < req->n; i++) {
		if (i > 0)
			buf_puts(out, " ");
		buf_puts(out, item_names[req->item[i]]);
		switch ((enum imap_status_item)req->item[i]) {
		case IMAP_STATUS_MESSAGES:
			buf_printf(out, " %u", st.messages);
			break;
		case IMAP_STATUS_UIDNEXT:
			buf_printf(out, " %u", st.uidnext);
			break;
		case IMAP_STATUS_UIDVALIDITY:
			buf_printf(out, " %u", st.uidvalidity);
			break;
		case IMAP_STATUS_MAILBOXID: {
			char id[STORE_MAILBOXID_MAX + 1];

			/* RFC 8474 4.3: "MAILBOXID" SP "(" objectid ")" */
			store_imap_mailboxid(st.uidvalidity, st.id, id);
			buf_printf(out, " (%s)", id);
			break;
		}
		case IMAP_STATUS_UNSEEN:
			buf_printf(out, " %u", st.unseen);
			break;
		case IMAP_STATUS_DELETED:
			buf_printf(out, " %u", st.deleted);
			break;
		case IMAP_STATUS_SIZE:
			buf_printf(out, " %llu", (unsigned long long)st.size);
			break;
		case IMAP_STATUS_HIGHESTMODSEQ:
			buf_printf(out, " %llu", (unsigned long long)st.highestmodseq);
			break;
		case IMAP_STATUS_APPENDLIMIT:
			/* RFC 7889 4: NIL when there is no limit. */
			if (ctx->append_limit == 0)
				buf_puts(out, " NIL");
			else
				buf_printf(out, " %llu", (unsigned long long)ctx->append_limit);
			break;
		case IMAP_STATUS_RECENT:
			/* RFC 3501 6.3.10: messages with \Recent, i.e. that no
			 * read-write session has been told of yet */
			buf_printf(out, " %u", st.recent);
			break;
		case IMAP_STATUS_ITEM_COUNT:
			break;
		}
	}
	buf_puts(out, ")\r\n");
	return STORE_OK;
}

/* STATUS mailbox (item ...) */
void
imap_status_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	struct imap_status_req req;
	const char *error = NULL;
	char *name;
	int r;

	if (args == NULL || args->next == NULL || args->next->next != NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "STATUS takes a mailbox name and a list of items");
		return;
	}
	if ((name = imap_mailbox_arg(ctx, args, res)) == NULL)
		return;
	if (imap_status_req_parse(ctx, args->next, &req, res) == -1)
		return;
	if ((r = imap_status_write(ctx, name, &req, out, &error)) != STORE_OK) {
		imap_result_store(res, r, name, error);
		return;
	}
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}
