/* GETMETADATA and SETMETADATA (RFC 5464 4.2, 4.3) on a worker thread.
 * Mailbox "" names the server's entries (METADATA-SERVER); any other the
 * mailbox's (METADATA).  Values go out as literals ("~{n}" when they hold
 * NUL, as literal8 allows), as Dovecot sends them.  Choices: an entry
 * asked for that does not exist is answered NIL with DEPTH 0, and not at
 * all with a deeper DEPTH (RFC 5464 4.2.2's examples, Dovecot); the bounds are
 * store_metadata.h's, told with MAXSIZE and TOOMANY (4.3). */
#include <stdio.h>
#include <string.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_int.h"
#include "imap/imap_metadata.h"
#include "imap/imap_notify.h"
#include "imap/imap_parse.h"
#include "imap/imap_session.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "store/store_imap.h"
#include "store/store_metadata.h"

_Static_assert(STORE_METADATA_VALUE_MAX == 16384, "IMAP_METADATA_MAXSIZE_CODE spells it");
_Static_assert(STORE_METADATA_VALUE_MAX <= IMAP_APPEND_STREAM_MIN, "a value fits a kept literal");

/* The mailbox argument: *name_out NULL for "" (the server).  Returns 0,
 * or -1 with res filled. */
static int
mailbox_of(struct imap_ctx *ctx, const struct imap_arg *arg, char **name_out, struct imap_result *res)
{
	const char *s;
	size_t len;

	*name_out = NULL;
	if (!imap_arg_astring(arg, &s, &len)) {
		imap_result_set(res, IMAP_BAD, NULL, "Expected a mailbox name (\"\" for the server)");
		return -1;
	}
	if (len == 0)
		return 0;
	return (*name_out = imap_mailbox_arg(ctx, arg, res)) == NULL ? -1 : 0;
}

static void
write_mailbox(struct imap_ctx *ctx, const char *name, struct buf *out)
{
	if (name == NULL)
		buf_puts(out, "\"\"");
	else
		imap_mailbox_write(out, name, ctx->utf8);
}

static void
write_value(struct buf *out, const char *v, size_t len)
{
	if (v == NULL) {
		buf_puts(out, "NIL");
		return;
	}
	buf_printf(out, "%s{%zu}\r\n", memchr(v, '\0', len) != NULL ? "~" : "", len);
	buf_append(out, v, len);
}

/* Whether name is want or below it within depth levels. */
static bool
under(const char *name, const char *want, int depth)
{
	size_t len = strlen(want);
	int levels = 0;

	if (strncmp(name, want, len) != 0 || name[len] != '/' || depth == 0)
		return false;
	for (const char *p = name + len; *p != '\0'; p++)
		levels += *p == '/';
	return depth < 0 || levels <= depth;
}

/* One "entry value" of the METADATA response (opening it first); a value
 * over maxsize is left out and its size kept for LONGENTRIES (4.2.1). */
static void
emit(struct imap_ctx *ctx, const char *mailbox, const char *name, const struct store_metadata *v, uint32_t maxsize,
     bool *open, size_t *largest, struct buf *out)
{
	if (v != NULL && v->len > maxsize) {
		if (v->len > *largest)
			*largest = v->len;
		return;
	}
	if (!*open) {
		buf_puts(out, "* METADATA ");
		write_mailbox(ctx, mailbox, out);
		buf_puts(out, " (");
		*open = true;
	} else {
		buf_puts(out, " ");
	}
	imap_metadata_entry_write(out, name);
	buf_puts(out, " ");
	write_value(out, v != NULL ? v->value : NULL, v != NULL ? v->len : 0);
}

/* GETMETADATA [(options)] mailbox entry / (entry ...) */
void
imap_getmetadata_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	const char *names[IMAP_METADATA_NAMES_MAX];
	const struct imap_arg *e;
	struct store_metadata *m = NULL;
	size_t n_names = 0, n_m = 0, largest = 0;
	const char *error = NULL;
	uint32_t maxsize = UINT32_MAX;
	int depth = 0, r;
	bool open = false;
	char *mailbox;

	if (args != NULL && args->type == IMAP_ARG_LIST) {
		if (imap_metadata_options(args, &maxsize, &depth, &error) == -1) {
			imap_result_set(res, IMAP_BAD, NULL, "%s", error);
			return;
		}
		args = args->next;
	}
	if (args == NULL || args->next == NULL || args->next->next != NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "GETMETADATA takes [options] mailbox entries");
		return;
	}
	if (mailbox_of(ctx, args, &mailbox, res) == -1)
		return;
	e = args->next->type == IMAP_ARG_LIST ? args->next->list : args->next;
	if (args->next->type == IMAP_ARG_LIST && e == NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "Expected entry names");
		return;
	}
	for (; e != NULL; e = args->next->type == IMAP_ARG_LIST ? e->next : NULL) {
		const char *s;
		size_t len;

		if (n_names >= IMAP_METADATA_NAMES_MAX) {
			imap_result_set(res, IMAP_BAD, NULL, "Too many entry names (at most %d)", IMAP_METADATA_NAMES_MAX);
			return;
		}
		if (!imap_arg_astring(e, &s, &len) ||
		    (names[n_names] = imap_metadata_entry(s, len, false, ctx->arena, &error)) == NULL) {
			imap_result_set(res, IMAP_BAD, NULL, "%s", error != NULL ? error : "Expected an entry name");
			return;
		}
		n_names++;
	}
	if ((r = store_metadata_get(ctx->st, mailbox, names, n_names, depth, &m, &n_m, &error)) != STORE_OK) {
		imap_result_store(res, r, mailbox, error);
		return;
	}
	for (size_t i = 0; i < n_names; i++) {
		size_t x;

		/* The entry itself, then its descendants.  Absent, it is NIL
		 * when asked alone (DEPTH 0) and left out when its subtree was
		 * asked (RFC 5464 4.2.2's example, Dovecot). */
		for (x = 0; x < n_m && strcmp(m[x].name, names[i]) != 0; x++)
			;
		if (x < n_m || depth == 0)
			emit(ctx, mailbox, names[i], x < n_m ? &m[x] : NULL, maxsize, &open, &largest, out);
		for (size_t k = 0; k < n_m; k++)
			if (under(m[k].name, names[i], depth))
				emit(ctx, mailbox, m[k].name, &m[k], maxsize, &open, &largest, out);
	}
	if (open)
		buf_puts(out, ")\r\n");
	store_metadata_free(m, n_m);
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
	if (largest > 0)
		snprintf(res->code, sizeof(res->code), "METADATA LONGENTRIES %zu", largest);
}

/* SETMETADATA mailbox (entry value ...) */
void
imap_setmetadata_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	struct store_metadata set[IMAP_METADATA_NAMES_MAX];
	const char *error = NULL;
	size_t n = 0;
	char *mailbox;
	int r;

	if (args == NULL || args->next == NULL || args->next->next != NULL || args->next->type != IMAP_ARG_LIST ||
	    args->next->count == 0 || args->next->count % 2 != 0) {
		imap_result_set(res, IMAP_BAD, NULL, "SETMETADATA takes a mailbox and (entry value ...)");
		return;
	}
	if (mailbox_of(ctx, args, &mailbox, res) == -1)
		return;
	for (const struct imap_arg *e = args->next->list; e != NULL; e = e->next->next) {
		const char *s, *v;
		size_t len, vlen;

		if (n >= IMAP_METADATA_NAMES_MAX) {
			imap_result_set(res, IMAP_NO, "METADATA TOOMANY", "Too many entries in one command");
			return;
		}
		if (!imap_arg_astring(e, &s, &len) ||
		    (set[n].name = imap_metadata_entry(s, len, true, ctx->arena, &error)) == NULL) {
			imap_result_set(res, IMAP_BAD, NULL, "%s", error != NULL ? error : "Expected an entry name");
			return;
		}
		/* value = nstring / literal8 (RFC 5464 5) */
		if (!imap_arg_nstring(e->next, &v, &vlen)) {
			imap_result_set(res, IMAP_BAD, NULL, "Entry values are strings or NIL");
			return;
		}
		if (v != NULL && vlen > STORE_METADATA_VALUE_MAX) {
			imap_result_set(res, IMAP_NO, IMAP_METADATA_MAXSIZE_CODE, "Value too large (at most %d octets)",
			                STORE_METADATA_VALUE_MAX);
			return;
		}
		set[n].value = (char *)v;
		set[n].len = vlen;
		n++;
	}
	r = store_metadata_set(ctx->st, mailbox, set, n, &error);
	if (r == STORE_IMAP_LIMIT) {
		imap_result_set(res, IMAP_NO, "METADATA TOOMANY", "Too many entries (at most %d per mailbox)",
		                STORE_METADATA_ENTRIES_MAX);
		return;
	}
	if (r != STORE_OK) {
		imap_result_store(res, r, mailbox, error);
		return;
	}
	/* NOTIFY's MailboxMetadataChange / ServerMetadataChange (RFC 5465
	 * 5.7, 5.8) name the entries. */
	for (size_t i = 0; i < n; i++)
		imap_bus_publish_event(ctx->user, mailbox != NULL ? mailbox : "", set[i].name, IMAP_BUS_METADATA);
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}
