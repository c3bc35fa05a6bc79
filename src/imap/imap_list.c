/* LIST (RFC 9051 6.3.9, RFC 3501 6.3.8) with LIST-EXTENDED (RFC 5258):
 * selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH and SPECIAL-USE
 * (RFC 6154), return options SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS
 * (RFC 5819 LIST-STATUS) and MYRIGHTS (RFC 8440 LIST-MYRIGHTS), several
 * patterns; and LSUB (RFC 3501 6.3.9).
 *
 * The names: every mailbox and every subscribed name from the store, and
 * every level above them that is neither (a deleted mailbox whose
 * inferiors stay, RFC 9051 6.3.5): a tree of "nodes".  Sorted so that
 * INBOX and its inferiors come first and every name comes right before
 * its inferiors ('/' sorts lowest), the tree is built in one pass and the
 * facts about descendants (\HasChildren, CHILDINFO) are gathered in one
 * pass backwards.
 *
 * Attributes, in this order: \Subscribed, \NonExistent or \Noselect,
 * \HasChildren or \HasNoChildren, the special use.  A name that is not a
 * mailbox is \NonExistent (RFC 5258 3, RFC 9051 7.3.1) in an extended
 * LIST or under IMAP4rev2, and \Noselect in a plain IMAP4rev1 LIST or
 * LSUB, as RFC 3501 had it.  Children attributes come with every plain
 * LIST (CHILDREN is advertised, RFC 3348) and with an extended LIST that
 * asks RETURN (CHILDREN).  Special-use attributes come always (RFC 6154
 * 2 allows it; clients look for them in plain LIST).
 *
 * OLDNAME (RFC 9051 6.3.9.7) is never sent: it is for servers that
 * normalise UTF-8 names, and Tern keeps names as created. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_int.h"
#include "imap/imap_match.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "store/store_imap.h"

#define NO_PARENT UINT32_MAX

/* Our bound: patterns in one extended LIST (RFC 5258 sets none). */
#define LIST_PATTERNS_MAX 100

struct list_req {
	bool lsub;
	bool extended;           /* RFC 5258 syntax: options or a list of patterns */
	bool sel_subscribed, sel_special, sel_recursive;
	bool ret_subscribed, ret_children, ret_status, ret_myrights;
	struct imap_status_req status;
	struct imap_pattern *pat[LIST_PATTERNS_MAX];
	size_t npat;
	bool delimiter;          /* plain LIST with pattern "": the delimiter */
	bool lsub_percent;       /* an LSUB pattern ends with "%" */
};

struct node {
	const char *name;        /* len bytes, not NUL-terminated for levels */
	uint32_t len;
	uint32_t parent;         /* index, or NO_PARENT */
	const char *special_use;
	bool exists, subscribed;
	bool matched;            /* by one of the patterns */
	bool sel;                /* satisfies the selection criteria */
	bool desc_exists;        /* some descendant is a mailbox */
	bool desc_sel;           /* some descendant satisfies the criteria */
	bool desc_sel_unmatched; /* ... and matches no pattern */
};

/* --- arguments --- */

static int
parse_selection(const struct imap_arg *list, struct list_req *q, struct imap_result *res)
{
	const struct imap_arg *a;

	for (a = list->list; a != NULL; a = a->next) {
		if (imap_arg_atom_is(a, "SUBSCRIBED")) {
			q->sel_subscribed = true;
		} else if (imap_arg_atom_is(a, "REMOTE")) {
			/* No remote mailboxes (RFC 2193) here: nothing to add. */
		} else if (imap_arg_atom_is(a, "RECURSIVEMATCH")) {
			q->sel_recursive = true;
		} else if (imap_arg_atom_is(a, "SPECIAL-USE")) {
			q->sel_special = true;
		} else {
			imap_result_set(res, IMAP_BAD, NULL, "Unknown LIST selection option %.40s",
			                a->type == IMAP_ARG_ATOM ? a->str : "");
			return -1;
		}
	}
	/* RFC 5258 3: RECURSIVEMATCH needs a base option; SUBSCRIBED is the
	 * only one (REMOTE and SPECIAL-USE, RFC 6154 6, are independent). */
	if (q->sel_recursive && !q->sel_subscribed) {
		imap_result_set(res, IMAP_BAD, NULL, "RECURSIVEMATCH must be used with SUBSCRIBED");
		return -1;
	}
	return 0;
}

static int
parse_return(struct imap_ctx *ctx, const struct imap_arg *list, struct list_req *q, struct imap_result *res)
{
	const struct imap_arg *a;

	for (a = list->list; a != NULL; a = a->next) {
		if (imap_arg_atom_is(a, "SUBSCRIBED")) {
			q->ret_subscribed = true;
		} else if (imap_arg_atom_is(a, "CHILDREN")) {
			q->ret_children = true;
		} else if (imap_arg_atom_is(a, "SPECIAL-USE")) {
			/* sent always */
		} else if (imap_arg_atom_is(a, "MYRIGHTS")) {
			q->ret_myrights = true;     /* RFC 8440 */
		} else if (imap_arg_atom_is(a, "STATUS")) {
			if (q->ret_status) {
				imap_result_set(res, IMAP_BAD, NULL, "STATUS given twice in RETURN");
				return -1;
			}
			q->ret_status = true;
			if (imap_status_req_parse(ctx, a->next, &q->status, res) == -1)
				return -1;
			a = a->next;
		} else {
			imap_result_set(res, IMAP_BAD, NULL, "Unknown LIST return option %.40s",
			                a->type == IMAP_ARG_ATOM ? a->str : "");
			return -1;
		}
	}
	return 0;
}

/* The canonical pattern (RFC 9051 6.3.9): the reference, then the
 * pattern; a pattern that starts with the delimiter stands alone.  An
 * "INBOX" first level is made upper case, as names are. */
static int
add_pattern(struct imap_ctx *ctx, const char *ref, const char *pat, struct list_req *q, struct imap_result *res)
{
	char *full;
	size_t len;

	if (*pat == '\0' && q->extended)
		return 0;            /* RFC 5258 3: ignored in an extended LIST */
	if (q->npat == LIST_PATTERNS_MAX) {
		imap_result_set(res, IMAP_BAD, NULL, "Too many patterns (at most %d)", LIST_PATTERNS_MAX);
		return -1;
	}
	if (*ref == '\0' || *pat == STORE_MAILBOX_DELIM)
		full = arena_strdup(ctx->arena, pat);
	else
		full = arena_printf(ctx->arena, "%s%s", ref, pat);
	len = strlen(full);
	/* (strchr also finds the terminating NUL: "inbox" alone) */
	if (len >= 5 && strncasecmp(full, "INBOX", 5) == 0 && strchr("/*%", full[5]) != NULL)
		memcpy(full, "INBOX", 5);
	if ((q->pat[q->npat] = imap_pattern_new(full, len, ctx->arena)) == NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "Pattern too long (at most %d bytes)", IMAP_PATTERN_LEN_MAX);
		return -1;
	}
	if (imap_pattern_ends_with_percent(q->pat[q->npat]))
		q->lsub_percent = true;
	q->npat++;
	return 0;
}

/* A reference or pattern: 0 with *out (NULL when it is not validly
 * encoded, so that it matches nothing), or -1 with res filled (BAD). */
static int
pattern_arg(struct imap_ctx *ctx, const struct imap_arg *a, char **out, struct imap_result *res)
{
	*out = imap_mailbox_pattern_arg(ctx, a, res);
	if (*out != NULL)
		return 0;
	if (res->status != IMAP_NO)
		return -1;
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
	return 0;
}

/* [SP "(" selection ")"] SP reference SP (pattern / "(" patterns ")")
 * [SP "RETURN" SP "(" return-options ")"] */
static int
parse_list(struct imap_ctx *ctx, const struct imap_arg *a, struct list_req *q, struct imap_result *res)
{
	const char *cmd = q->lsub ? "LSUB" : "LIST";
	const struct imap_arg *pats;
	char *ref, *pat;

	if (a != NULL && a->type == IMAP_ARG_LIST && !q->lsub) {
		q->extended = true;
		if (parse_selection(a, q, res) == -1)
			return -1;
		a = a->next;
	}
	if (a == NULL || a->next == NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "%s takes a reference and a mailbox pattern", cmd);
		return -1;
	}
	if (pattern_arg(ctx, a, &ref, res) == -1)
		return -1;
	pats = a->next;
	a = pats->next;
	if (a != NULL && !q->lsub && imap_arg_atom_is(a, "RETURN") && a->next != NULL &&
	    a->next->type == IMAP_ARG_LIST && a->next->next == NULL) {
		q->extended = true;
		if (parse_return(ctx, a->next, q, res) == -1)
			return -1;
	} else if (a != NULL) {
		imap_result_set(res, IMAP_BAD, NULL, "Unexpected arguments after the %s pattern", cmd);
		return -1;
	}
	if (pats->type == IMAP_ARG_LIST && !q->lsub) {
		q->extended = true;
		if (pats->count == 0) {
			imap_result_set(res, IMAP_BAD, NULL, "Empty list of patterns");
			return -1;
		}
		for (a = pats->list; a != NULL; a = a->next) {
			if (pattern_arg(ctx, a, &pat, res) == -1)
				return -1;
			if (ref != NULL && pat != NULL && add_pattern(ctx, ref, pat, q, res) == -1)
				return -1;
		}
		return 0;
	}
	if (pattern_arg(ctx, pats, &pat, res) == -1)
		return -1;
	if (ref == NULL || pat == NULL)
		return 0;  /* a name no mailbox can have: nothing matches */
	/* RFC 9051 6.3.9: LIST "" "" asks for the delimiter (and the root:
	 * "" as our names are not rooted). */
	if (*pat == '\0' && !q->extended) {
		q->delimiter = !q->lsub;
		return 0;
	}
	return add_pattern(ctx, ref, pat, q, res);
}

/* --- the tree --- */

/* 0 for INBOX and its inferiors, which come first. */
static int
name_group(const char *s, size_t len)
{
	return len >= 5 && memcmp(s, "INBOX", 5) == 0 && (len == 5 || s[5] == STORE_MAILBOX_DELIM) ? 0 : 1;
}

/* Byte order with the delimiter lowest, so that "a/b" comes right after
 * "a" and before "a b" and "a-b": a name's inferiors follow it. */
static int
name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int ga = name_group(a, alen), gb = name_group(b, blen);
	size_t i, n = alen < blen ? alen : blen;

	if (ga != gb)
		return ga - gb;
	for (i = 0; i < n; i++) {
		int ca = a[i] == STORE_MAILBOX_DELIM ? 0 : (unsigned char)a[i] + 1;
		int cb = b[i] == STORE_MAILBOX_DELIM ? 0 : (unsigned char)b[i] + 1;

		if (ca != cb)
			return ca - cb;
	}
	return alen < blen ? -1 : alen > blen;
}

static int
entry_cmp(const void *x, const void *y)
{
	const struct store_mailbox_entry *a = *(const struct store_mailbox_entry *const *)x;
	const struct store_mailbox_entry *b = *(const struct store_mailbox_entry *const *)y;

	return name_cmp(a->name, strlen(a->name), b->name, strlen(b->name));
}

/* Whether p (plen bytes) is name itself or one of its superiors. */
static bool
is_self_or_superior(const char *p, size_t plen, const char *name, size_t len)
{
	return plen <= len && memcmp(p, name, plen) == 0 && (plen == len || name[plen] == STORE_MAILBOX_DELIM);
}

/* Builds the sorted nodes: every entry, and before each the levels above
 * it that no earlier entry brought.  In the sorted order a level that an
 * earlier entry has is a superior of (or is) the entry just before. */
static struct node *
build_nodes(struct store_mailbox_entry *e, size_t n, struct arena *a, size_t *count_out)
{
	struct store_mailbox_entry **sorted = malloc((n > 0 ? n : 1) * sizeof(*sorted));
	struct node *nodes;
	uint32_t *stack;
	size_t i, k, cap = n, count = 0, depth = 0;
	const char *prev = NULL;
	size_t prevlen = 0;

	if (sorted == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		sorted[i] = &e[i];
		for (k = 0; e[i].name[k] != '\0'; k++)
			if (e[i].name[k] == STORE_MAILBOX_DELIM)
				cap++;
	}
	qsort(sorted, n, sizeof(*sorted), entry_cmp);
	nodes = arena_alloc(a, (cap > 0 ? cap : 1) * sizeof(*nodes));
	stack = arena_alloc(a, (cap > 0 ? cap : 1) * sizeof(*stack));
	for (i = 0; i < n; i++) {
		const struct store_mailbox_entry *en = sorted[i];
		size_t len = strlen(en->name);
		struct node *nd;

		if (prev != NULL && prevlen == len && memcmp(prev, en->name, len) == 0) {
			/* the same name twice: merge */
			nd = &nodes[count - 1];
			nd->exists |= en->exists;
			nd->subscribed |= en->subscribed;
			if (nd->special_use == NULL)
				nd->special_use = en->special_use;
			continue;
		}
		for (k = 0; k <= len; k++) {
			if (k < len && (en->name[k] != STORE_MAILBOX_DELIM || k == 0))
				continue;
			if (k < len && prev != NULL && is_self_or_superior(en->name, k, prev, prevlen))
				continue;
			nd = &nodes[count];
			memset(nd, 0, sizeof(*nd));
			nd->name = en->name;
			nd->len = (uint32_t)k;
			if (k == len) {
				nd->exists = en->exists;
				nd->subscribed = en->subscribed;
				nd->special_use = en->special_use;
			}
			/* parent: the nearest superior on the stack */
			while (depth > 0 && !is_self_or_superior(nodes[stack[depth - 1]].name,
			                                         nodes[stack[depth - 1]].len, nd->name, nd->len))
				depth--;
			nd->parent = depth > 0 ? stack[depth - 1] : NO_PARENT;
			stack[depth++] = (uint32_t)count;
			count++;
		}
		prev = en->name;
		prevlen = len;
	}
	free(sorted);
	*count_out = count;
	return nodes;
}

/* --- output --- */

static void
write_name(struct buf *out, const struct node *nd, struct imap_ctx *ctx)
{
	char *name = arena_strndup(ctx->arena, nd->name, nd->len);

	imap_mailbox_write(out, name, ctx->utf8);
}

static void
attr(struct buf *out, bool *first, const char *a)
{
	if (!*first)
		buf_puts(out, " ");
	buf_puts(out, a);
	*first = false;
}

/* One LIST response; childinfo adds RFC 5258's CHILDINFO extended item. */
static void
write_list(struct imap_ctx *ctx, const struct list_req *q, const struct node *nd, bool childinfo,
           struct buf *out)
{
	bool first = true;

	buf_puts(out, "* LIST (");
	if ((q->sel_subscribed || q->ret_subscribed) && nd->subscribed)
		attr(out, &first, "\\Subscribed");
	if (!nd->exists)
		attr(out, &first, q->extended || ctx->imap4rev2 ? "\\NonExistent" : "\\Noselect");
	if (!q->extended || q->ret_children) {
		if (nd->desc_exists)
			attr(out, &first, "\\HasChildren");
		else if (nd->exists)
			attr(out, &first, "\\HasNoChildren");
	}
	if (nd->exists && nd->special_use != NULL)
		attr(out, &first, nd->special_use);
	buf_puts(out, ") \"/\" ");
	write_name(out, nd, ctx);
	if (childinfo)
		buf_puts(out, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	buf_puts(out, "\r\n");
}

static void
write_lsub(struct imap_ctx *ctx, const struct node *nd, bool noselect, struct buf *out)
{
	buf_puts(out, noselect ? "* LSUB (\\Noselect) \"/\" " : "* LSUB () \"/\" ");
	write_name(out, nd, ctx);
	buf_puts(out, "\r\n");
}

/* LIST-STATUS: a STATUS response after the LIST of a mailbox; one that
 * cannot be read now (deleted meanwhile) is left out (RFC 5819 2). */
static void
write_status(struct imap_ctx *ctx, const struct list_req *q, const struct node *nd, struct buf *out)
{
	const char *error;
	char *name = arena_strndup(ctx->arena, nd->name, nd->len);

	(void)imap_status_write(ctx, name, &q->status, out, &error);
}

static void
list_nodes(struct imap_ctx *ctx, const struct list_req *q, struct node *nodes, size_t n, struct buf *out)
{
	bool selecting = q->sel_subscribed || q->sel_special;
	size_t i, p;

	for (i = 0; i < n; i++) {
		struct node *nd = &nodes[i];

		for (p = 0; p < q->npat && !nd->matched; p++)
			nd->matched = imap_pattern_match(q->pat[p], nd->name, nd->len);
		if (q->lsub || q->sel_subscribed)
			nd->sel = nd->subscribed;
		else
			nd->sel = nd->exists;
		if (q->sel_special)
			nd->sel = nd->sel && nd->exists && nd->special_use != NULL;
	}
	/* Children after their superiors: backwards, each tells its parent. */
	for (i = n; i-- > 0;) {
		const struct node *nd = &nodes[i];
		struct node *up;

		if (nd->parent == NO_PARENT)
			continue;
		up = &nodes[nd->parent];
		up->desc_exists |= nd->exists || nd->desc_exists;
		up->desc_sel |= nd->sel || nd->desc_sel;
		up->desc_sel_unmatched |= (nd->sel && !nd->matched) || nd->desc_sel_unmatched;
	}
	for (i = 0; i < n; i++) {
		const struct node *nd = &nodes[i];
		bool listed;

		if (!nd->matched)
			continue;
		if (q->lsub) {
			/* RFC 3501 6.3.9: with "%" last, a level above a
			 * subscribed name is returned \Noselect. */
			if (nd->subscribed)
				write_lsub(ctx, nd, !nd->exists, out);
			else if (q->lsub_percent && nd->desc_sel_unmatched)
				write_lsub(ctx, nd, true, out);
			continue;
		}
		if (!selecting) {
			/* a mailbox, or a level above mailboxes */
			if (!nd->exists && !nd->desc_exists)
				continue;
			write_list(ctx, q, nd, false, out);
			listed = true;
		} else if (nd->sel) {
			write_list(ctx, q, nd, q->sel_recursive && nd->desc_sel, out);
			listed = true;
		} else if (q->sel_recursive && nd->desc_sel_unmatched) {
			/* RFC 5258 3.5: not selected itself, but a descendant
			 * that the patterns do not reach is */
			write_list(ctx, q, nd, true, out);
			listed = false;
		} else {
			continue;
		}
		if (q->ret_status && listed && nd->exists)
			write_status(ctx, q, nd, out);
		if (q->ret_myrights && listed && nd->exists)
			imap_myrights_write(ctx, arena_strndup(ctx->arena, nd->name, nd->len), out);
	}
}

static void
list_run(struct imap_ctx *ctx, const struct imap_arg *args, bool lsub, struct buf *out, struct imap_result *res)
{
	struct list_req *q = arena_alloc(ctx->arena, sizeof(*q));
	struct store_mailbox_entry *e = NULL;
	struct node *nodes;
	const char *error = NULL;
	size_t n = 0, count = 0;

	q->lsub = lsub;
	if (parse_list(ctx, args, q, res) == -1)
		return;
	if (q->delimiter) {
		buf_puts(out, "* LIST (\\Noselect) \"/\" \"\"\r\n");
		imap_result_set(res, IMAP_OK, NULL, "%s", "");
		return;
	}
	if (q->npat == 0) {
		imap_result_set(res, IMAP_OK, NULL, "%s", "");
		return;
	}
	if (store_mailboxes(ctx->st, &e, &n, &error) == -1) {
		imap_result_store(res, -1, NULL, error);
		return;
	}
	if ((nodes = build_nodes(e, n, ctx->arena, &count)) == NULL) {
		store_mailbox_entries_free(e, n);
		imap_result_set(res, IMAP_NO, "SERVERBUG", "Out of memory");
		return;
	}
	list_nodes(ctx, q, nodes, count, out);
	store_mailbox_entries_free(e, n);
	imap_result_set(res, IMAP_OK, NULL, "%s", "");
}

void
imap_list_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	list_run(ctx, args, false, out, res);
}

void
imap_lsub_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	list_run(ctx, args, true, out, res);
}
