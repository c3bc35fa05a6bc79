/* Mailbox names as arguments, the tagged results of store errors, and
 * the commands that change the mailbox list: CREATE (with RFC 6154
 * CREATE-SPECIAL-USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051
 * 6.3.4-6.3.8), and NAMESPACE (RFC 2342). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_int.h"
#include "imap/imap_notify.h"
#include "imap/imap_parse.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "store/store_imap.h"

void
imap_result_set(struct imap_result *res, enum imap_status st, const char *code, const char *fmt, ...)
{
	va_list ap;

	res->status = st;
	snprintf(res->code, sizeof(res->code), "%s", code != NULL ? code : "");
	va_start(ap, fmt);
	vsnprintf(res->text, sizeof(res->text), fmt, ap);
	va_end(ap);
}

/* The name as it may appear in a human text: printable ASCII only (resp
 * text is 7-bit before IMAP4rev2), and short. */
static const char *
text_name(const char *name)
{
	size_t i, len;

	if (name == NULL || (len = strlen(name)) == 0 || len > 100)
		return NULL;
	for (i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return NULL;
	return name;
}

void
imap_result_store(struct imap_result *res, int err, const char *name, const char *error)
{
	const char *n = text_name(name);

	switch (err) {
	case STORE_OK:
		imap_result_set(res, IMAP_OK, NULL, "%s", "");
		return;
	case STORE_IMAP_NONEXISTENT:
		if (n != NULL)
			imap_result_set(res, IMAP_NO, "NONEXISTENT", "Mailbox %s does not exist", n);
		else
			imap_result_set(res, IMAP_NO, "NONEXISTENT", "Mailbox does not exist");
		return;
	case STORE_IMAP_EXISTS:
		if (n != NULL)
			imap_result_set(res, IMAP_NO, "ALREADYEXISTS", "Mailbox %s already exists", n);
		else
			imap_result_set(res, IMAP_NO, "ALREADYEXISTS", "Mailbox already exists");
		return;
	case STORE_IMAP_BADNAME:
		imap_result_set(res, IMAP_NO, "CANNOT",
		                "Invalid mailbox name: empty level (\"a//b\", \"/a\"), more than %d levels, "
		                "or too long", STORE_MAILBOX_DEPTH_MAX);
		return;
	case STORE_IMAP_HASCHILDREN:
		/* RFC 9051 7.1: HASCHILDREN */
		imap_result_set(res, IMAP_NO, "HASCHILDREN",
		                "Mailbox has inferior mailboxes: delete them first");
		return;
	case STORE_IMAP_LIMIT:
		imap_result_set(res, IMAP_NO, "LIMIT", "Too many mailboxes (at most %d)", STORE_MAILBOXES_MAX);
		return;
	case STORE_IMAP_NOPERM:
		imap_result_set(res, IMAP_NO, "CANNOT", "INBOX cannot be deleted");
		return;
	case STORE_ERR_QUOTA:
		imap_result_set(res, IMAP_NO, "OVERQUOTA", "Quota exceeded");
		return;
	case STORE_ERR_NOSPACE:
		log_warnx("imap store error=\"%s\"", error != NULL ? error : "disk full");
		imap_result_set(res, IMAP_NO, "OVERQUOTA", "Not enough disk space on the server");
		return;
	case STORE_ERR_TEMP:
	case -1:
		log_warnx("imap store error=\"%s\"", error != NULL ? error : "temporary failure");
		imap_result_set(res, IMAP_NO, "UNAVAILABLE", "Temporary failure, please try again later");
		return;
	default:
		log_warnx("imap store result=%d error=\"%s\"", err, error != NULL ? error : "");
		imap_result_set(res, IMAP_NO, "SERVERBUG", "Internal error");
		return;
	}
}

/* Decodes an astring argument: NULL with res filled when it is not an
 * astring (BAD: the client broke the syntax) or not a name any mailbox
 * can have (NO [CANNOT]: not validly encoded, or control characters).
 * The second is no syntax error: RFC 3501 5.1.3 has servers take a name
 * that is not valid modified UTF-7 (as a name they cannot have), and
 * Dovecot answers NO, so a client probing names keeps its session. */
static char *
decode_arg(struct imap_ctx *ctx, const struct imap_arg *arg, const char *what, struct imap_result *res)
{
	const char *s;
	size_t len, i;
	char *name;

	if (!imap_arg_astring(arg, &s, &len)) {
		imap_result_set(res, IMAP_BAD, NULL, "Expected a %s (atom or string)", what);
		return NULL;
	}
	if (memchr(s, '\0', len) != NULL || (name = imap_mailbox_decode(s, len, ctx->utf8, ctx->arena)) == NULL) {
		if (ctx->utf8)
			imap_result_set(res, IMAP_NO, "CANNOT", "The %s is not valid UTF-8", what);
		else
			imap_result_set(res, IMAP_NO, "CANNOT",
			                "The %s is neither valid modified UTF-7 (RFC 3501 5.1.3) nor UTF-8", what);
		return NULL;
	}
	/* RFC 9051 5.1: names should be Net-Unicode (RFC 5198), which has no
	 * control characters; they cannot all be written as quoted strings. */
	for (i = 0; name[i] != '\0'; i++) {
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) {
			imap_result_set(res, IMAP_NO, "CANNOT", "The %s holds control characters", what);
			return NULL;
		}
	}
	return name;
}

char *
imap_mailbox_arg(struct imap_ctx *ctx, const struct imap_arg *arg, struct imap_result *res)
{
	char *name = decode_arg(ctx, arg, "mailbox name", res);

	/* RFC 9051 5.1: INBOX is case-insensitive; so is the INBOX level of
	 * its inferiors, as in Dovecot and Cyrus. */
	if (name != NULL && strncasecmp(name, "INBOX", 5) == 0 && (name[5] == '\0' || name[5] == '/'))
		memcpy(name, "INBOX", 5);
	return name;
}

char *
imap_mailbox_pattern_arg(struct imap_ctx *ctx, const struct imap_arg *arg, struct imap_result *res)
{
	return decode_arg(ctx, arg, "mailbox pattern", res);
}

/* RFC 6154 2: the special-use attributes.  \All and \Flagged are virtual
 * mailboxes (every message, every flagged one), which a real mailbox
 * cannot be. */
static const char *const special_uses[] = { "\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash" };

/* Parses CREATE's parameter list (RFC 4466 create-param; RFC 6154 3:
 * "USE" SP "(" [use-attr *(SP use-attr)] ")").  Returns 0 with *use_out
 * (static or NULL), or -1 with res filled. */
static int
create_params(const struct imap_arg *list, const char **use_out, struct imap_result *res)
{
	const struct imap_arg *p, *attr;
	size_t i;

	*use_out = NULL;
	for (p = list->list; p != NULL; p = p->next) {
		if (!imap_arg_atom_is(p, "USE") || p->next == NULL || p->next->type != IMAP_ARG_LIST) {
			imap_result_set(res, IMAP_BAD, NULL, "Unknown CREATE parameter (only USE (attributes) is known)");
			return -1;
		}
		p = p->next;
		for (attr = p->list; attr != NULL; attr = attr->next) {
			if (attr->type != IMAP_ARG_ATOM || attr->str[0] != '\\') {
				imap_result_set(res, IMAP_BAD, NULL, "USE takes special-use attributes such as \\Sent");
				return -1;
			}
			for (i = 0; i < sizeof(special_uses) / sizeof(special_uses[0]); i++)
				if (strcasecmp(attr->str, special_uses[i]) == 0)
					break;
			if (i == sizeof(special_uses) / sizeof(special_uses[0])) {
				if (strcasecmp(attr->str, "\\All") == 0 || strcasecmp(attr->str, "\\Flagged") == 0)
					imap_result_set(res, IMAP_NO, "USEATTR",
					                "%s is a virtual mailbox, which this server does not support",
					                strcasecmp(attr->str, "\\All") == 0 ? "\\All" : "\\Flagged");
				else
					imap_result_set(res, IMAP_NO, "USEATTR", "Unsupported special-use attribute "
					                "(supported: \\Archive \\Drafts \\Junk \\Sent \\Trash)");
				return -1;
			}
			if (*use_out != NULL && *use_out != special_uses[i]) {
				imap_result_set(res, IMAP_NO, "USEATTR", "A mailbox can have one special use only");
				return -1;
			}
			*use_out = special_uses[i];
		}
	}
	return 0;
}

/* CREATE mailbox [SP "(" create-param ... ")"] */
void
imap_create_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	const char *use = NULL, *error = NULL;
	char *name;
	int r;

	if (args == NULL || (args->next != NULL && (args->next->type != IMAP_ARG_LIST || args->next->next != NULL))) {
		imap_result_set(res, IMAP_BAD, NULL, "CREATE takes a mailbox name and optionally (USE (attribute))");
		return;
	}
	if ((name = imap_mailbox_arg(ctx, args, res)) == NULL)
		return;
	if (args->next != NULL && create_params(args->next, &use, res) == -1)
		return;
	/* RFC 9051 6.3.4: it is an error to create INBOX. */
	if (strcmp(name, "INBOX") == 0) {
		imap_result_set(res, IMAP_NO, "ALREADYEXISTS", "INBOX always exists");
		return;
	}
	r = store_mailbox_create(ctx->st, name, use, &error);
	imap_result_store(res, r, name, error);
	if (r == STORE_OK) {
		struct store_mailbox_status st;
		char id[STORE_MAILBOXID_MAX + 1];

		size_t len = strlen(name);

		/* RFC 8474 4.1: the new mailbox's id in the tagged OK (of the
		 * name as made: one trailing delimiter is not part of it) */
		if (len > 1 && name[len - 1] == '/')
			name[len - 1] = '\0';
		if (store_mailbox_status(ctx->st, name, &st, &error) == STORE_OK) {
			store_imap_mailboxid(st.uidvalidity, st.id, id);
			imap_result_set(res, IMAP_OK, NULL, "%s", "");
			snprintf(res->code, sizeof(res->code), "MAILBOXID (%s)", id);
		}
	}
}

/* DELETE mailbox */
void
imap_delete_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	const char *error = NULL;
	char *name;
	int r;

	if (args == NULL || args->next != NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "DELETE takes a mailbox name");
		return;
	}
	if ((name = imap_mailbox_arg(ctx, args, res)) == NULL)
		return;
	if (strcmp(name, "INBOX") == 0) {
		imap_result_set(res, IMAP_NO, "CANNOT", "INBOX cannot be deleted");
		return;
	}
	r = store_mailbox_delete(ctx->st, name, &error);
	imap_result_store(res, r, name, error);
}

/* RENAME existing new */
void
imap_rename_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	const char *error = NULL;
	char *from, *to;
	size_t flen;
	int r;

	if (args == NULL || args->next == NULL || args->next->next != NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "RENAME takes two mailbox names");
		return;
	}
	if ((from = imap_mailbox_arg(ctx, args, res)) == NULL || (to = imap_mailbox_arg(ctx, args->next, res)) == NULL)
		return;
	if (strcmp(to, "INBOX") == 0) {
		imap_result_set(res, IMAP_NO, "ALREADYEXISTS", "INBOX always exists");
		return;
	}
	/* A mailbox cannot become its own inferior; INBOX can (RFC 9051
	 * 6.3.6: its messages move, its inferiors stay). */
	flen = strlen(from);
	if (strcmp(from, "INBOX") != 0 && strncmp(to, from, flen) == 0 && to[flen] == STORE_MAILBOX_DELIM) {
		imap_result_set(res, IMAP_NO, "CANNOT", "A mailbox cannot be renamed to one of its inferiors");
		return;
	}
	r = store_mailbox_rename(ctx->st, from, to, &error);
	/* The store's hook tells of the old name only; NOTIFY's MailboxName
	 * wants the new one, with the old as OLDNAME (RFC 5465 5.4). */
	if (r == STORE_OK)
		imap_bus_publish_event(ctx->user, to, from, IMAP_BUS_NAME);
	if (r == STORE_IMAP_EXISTS) {
		imap_result_store(res, r, to, error);
		return;
	}
	imap_result_store(res, r, from, error);
}

/* Whether one more subscription fits: subscriptions are bounded like
 * mailboxes (STORE_MAILBOXES_MAX), so LIST and LSUB stay bounded. */
static int
subscription_fits(struct imap_ctx *ctx, const char *name, struct imap_result *res)
{
	struct store_mailbox_entry *e = NULL;
	const char *error = NULL;
	size_t n = 0, i, subs = 0;
	bool already = false;

	if (store_mailboxes(ctx->st, &e, &n, &error) == -1) {
		imap_result_store(res, -1, NULL, error);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (!e[i].subscribed)
			continue;
		subs++;
		if (strcmp(e[i].name, name) == 0)
			already = true;
	}
	store_mailbox_entries_free(e, n);
	if (!already && subs >= STORE_MAILBOXES_MAX) {
		imap_result_set(res, IMAP_NO, "LIMIT", "Too many subscriptions (at most %d)", STORE_MAILBOXES_MAX);
		return -1;
	}
	return 0;
}

static void
subscribe(struct imap_ctx *ctx, const struct imap_arg *args, bool on, struct imap_result *res)
{
	const char *error = NULL;
	char *name;

	if (args == NULL || args->next != NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "%s takes a mailbox name", on ? "SUBSCRIBE" : "UNSUBSCRIBE");
		return;
	}
	if ((name = imap_mailbox_arg(ctx, args, res)) == NULL)
		return;
	/* RFC 9051 6.3.7: the name need not exist. */
	if (on && subscription_fits(ctx, name, res) == -1)
		return;
	if (store_mailbox_subscribe(ctx->st, name, on, &error) == -1) {
		imap_result_store(res, -1, name, error);
		return;
	}
	/* The store has no hook for subscriptions: NOTIFY's
	 * SubscriptionChange (RFC 5465 5.5) hears of them here. */
	imap_bus_publish_event(ctx->user, name, NULL, IMAP_BUS_SUBSCRIPTION);
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}

void
imap_subscribe_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	subscribe(ctx, args, true, res);
}

void
imap_unsubscribe_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	subscribe(ctx, args, false, res);
}

/* RFC 2342 5: one personal namespace, prefix "" and delimiter "/"; no
 * other users' or shared namespaces.  The prefix is empty, so its
 * encoding does not depend on utf8. */
void
imap_namespace_write(struct buf *out, bool utf8)
{
	buf_puts(out, "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
}
