/* SORT and UID SORT (RFC 5256 3), SORT=DISPLAY (RFC 5957), ESORT (RFC
 * 5267 3), and what THREAD shares with them: parsing the charset and
 * search criteria (handed to imap_search_parse as "CHARSET c keys..."),
 * evaluating them and reading the sort keys (imap_sort_matches).  The
 * cached string keys are already case-folded (store_sort.h), so strcmp
 * is the i;ascii-casemap comparison. */
#include "imap/imap_sort.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mime/mime_subject.h"
#include "store/store_imap.h"
#include "store/store_sort.h"

static int
bad(struct imap_result *res, const char *text)
{
	res->status = IMAP_BAD;
	res->code[0] = '\0';
	str_lcpy(res->text, text, sizeof(res->text));
	return -1;
}

/* charset SP search-criteria: SEARCH's own parser, as if the client had
 * written "SEARCH CHARSET charset criteria". */
static int
parse_criteria(const struct imap_arg *charset, struct arena *a, struct imap_search_program *prog,
               struct imap_result *res)
{
	struct imap_arg *kw;

	if (charset == NULL || charset->type == IMAP_ARG_LIST)
		return bad(res, "Missing charset");
	if (charset->next == NULL)
		return bad(res, "Missing search criteria");
	kw = arena_alloc(a, sizeof(*kw));
	memset(kw, 0, sizeof(*kw));
	kw->type = IMAP_ARG_ATOM;
	kw->str = "CHARSET";
	kw->len = 7;
	kw->next = (struct imap_arg *)charset;
	return imap_search_parse(kw, a, prog, res);
}

/* sort-key = ["REVERSE" SP] ("ARRIVAL" / "CC" / "DATE" / "FROM" / "SIZE" /
 * "SUBJECT" / "TO" / "DISPLAYFROM" / "DISPLAYTO") */
static int
parse_sort_criteria(const struct imap_arg *list, struct imap_sort_program *prog, struct imap_result *res)
{
	static const struct {
		const char *name;
		enum imap_sort_key key;
	} keys[] = {
		{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
		{ "DATE", IMAP_SORT_DATE },       { "FROM", IMAP_SORT_FROM },
		{ "SIZE", IMAP_SORT_SIZE },       { "SUBJECT", IMAP_SORT_SUBJECT },
		{ "TO", IMAP_SORT_TO },           { "DISPLAYFROM", IMAP_SORT_DISPLAYFROM },
		{ "DISPLAYTO", IMAP_SORT_DISPLAYTO },
	};
	const struct imap_arg *a;
	bool reverse = false;
	size_t i;

	for (a = list; a != NULL; a = a->next) {
		if (imap_arg_atom_is(a, "REVERSE")) {
			if (reverse)
				return bad(res, "REVERSE REVERSE");
			reverse = true;
			continue;
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (imap_arg_atom_is(a, keys[i].name))
				break;
		if (i == sizeof(keys) / sizeof(keys[0]))
			return bad(res, "Unknown sort criterion");
		if (prog->n_crit == IMAP_SORT_CRITERIA_MAX)
			return bad(res, "Too many sort criteria");
		prog->crit[prog->n_crit].key = keys[i].key;
		prog->crit[prog->n_crit].reverse = reverse;
		prog->n_crit++;
		reverse = false;
	}
	if (reverse)
		return bad(res, "REVERSE needs a sort key");
	if (prog->n_crit == 0)
		return bad(res, "Empty sort criteria");
	return 0;
}

/* RFC 5267 3 and 4 (ESORT, CONTEXT=SORT): sort-return-opts, as
 * ESEARCH's search-return-opts (RFC 4731 3.1) without SAVE ("$" holds
 * UIDs in ascending order, which a sorted result is not), with PARTIAL
 * (a window of the sorted result), CONTEXT (a hint) and UPDATE, which is
 * always declined with NOUPDATE (RFC 5267 4.3.1: the server may be
 * unwilling; the result is answered all the same).  RETURN () means
 * RETURN (ALL). */
static int
parse_return(const struct imap_arg *list, struct imap_search_program *search, bool *update_out,
             struct imap_result *res)
{
	static const struct {
		const char *name;
		unsigned bit;
	} opts[] = {
		{ "MIN", IMAP_SEARCH_RET_MIN }, { "MAX", IMAP_SEARCH_RET_MAX },
		{ "ALL", IMAP_SEARCH_RET_ALL }, { "COUNT", IMAP_SEARCH_RET_COUNT },
		{ "PARTIAL", IMAP_SEARCH_RET_PARTIAL }, { "UPDATE", IMAP_SEARCH_RET_UPDATE },
		{ "CONTEXT", 0 },
	};
	const struct imap_arg *a;
	unsigned ret = 0;
	size_t i;

	for (a = list; a != NULL; a = a->next) {
		for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
			if (imap_arg_atom_is(a, opts[i].name))
				break;
		if (i == sizeof(opts) / sizeof(opts[0]))
			return bad(res, "Unknown SORT return option");
		if ((ret & opts[i].bit) != 0 && (opts[i].bit & (IMAP_SEARCH_RET_PARTIAL | IMAP_SEARCH_RET_UPDATE)))
			return bad(res, "SORT return option given twice");
		if (opts[i].bit == IMAP_SEARCH_RET_PARTIAL) {
			if (imap_search_partial_parse(a->next, search, res) == -1)
				return -1;
			a = a->next;
		}
		ret |= opts[i].bit;
	}
	if ((ret & IMAP_SEARCH_RET_PARTIAL) && (ret & IMAP_SEARCH_RET_ALL))
		return bad(res, "PARTIAL and ALL cannot be used together");
	*update_out = (ret & IMAP_SEARCH_RET_UPDATE) != 0;
	ret &= ~(unsigned)IMAP_SEARCH_RET_UPDATE;
	search->esearch = true;
	search->ret = ret != 0 ? ret : IMAP_SEARCH_RET_ALL;
	return 0;
}

int
imap_sort_parse(const struct imap_arg *args, struct arena *a, struct imap_sort_program *prog,
                struct imap_result *res)
{
	bool esearch = false, update = false;
	struct imap_search_program returned;
	unsigned ret = 0;

	memset(prog, 0, sizeof(*prog));
	if (imap_arg_atom_is(args, "RETURN")) {
		if (args->next == NULL || args->next->type != IMAP_ARG_LIST)
			return bad(res, "RETURN needs a list of options");
		if (parse_return(args->next->list, &prog->search, &update, res) == -1)
			return -1;
		esearch = true;
		ret = prog->search.ret;
		args = args->next->next;
	}
	returned = prog->search;
	if (args == NULL || args->type != IMAP_ARG_LIST)
		return bad(res, "Missing sort criteria");
	if (parse_sort_criteria(args->list, prog, res) == -1)
		return -1;
	if (parse_criteria(args->next, a, &prog->search, res) == -1)
		return -1;
	/* imap_search_parse reset these: ours are RETURN's */
	prog->search.esearch = esearch;
	prog->search.ret = esearch ? ret : IMAP_SEARCH_RET_ALL;
	prog->search.partial_lo = returned.partial_lo;
	prog->search.partial_hi = returned.partial_hi;
	prog->search.partial_from_end = returned.partial_from_end;
	prog->update = update;
	return 0;
}

int
imap_thread_parse(const struct imap_arg *args, struct arena *a, enum imap_thread_algorithm *algo_out,
                  struct imap_search_program *prog, struct imap_result *res)
{
	if (imap_arg_atom_is(args, "ORDEREDSUBJECT"))
		*algo_out = IMAP_THREAD_ORDEREDSUBJECT;
	else if (imap_arg_atom_is(args, "REFERENCES"))
		*algo_out = IMAP_THREAD_REFERENCES;
	else
		return bad(res, args == NULL ? "Missing thread algorithm" : "Unknown thread algorithm");
	return parse_criteria(args->next, a, prog, res);
}

int64_t
imap_sort_sent_date(const struct store_sort_msg *m)
{
	return m->k.sent_date != 0 ? m->k.sent_date : m->internal_date;
}

/* The criteria are "ALL" alone, what clients send most: every message of
 * the view matches, and reading them all through SEARCH first (a third of
 * a SORT's time over 100,000 messages) tells nothing store_sort_get does
 * not (it leaves out messages expunged meanwhile). */
static bool
all_only(const struct imap_search_program *prog)
{
	const struct imap_search_key *c = prog->root != NULL ? prog->root->child : NULL;

	return c != NULL && c->next == NULL && c->op == ISK_ALL;
}

static void
match_view(const struct imap_view *v, struct imap_search_match *m)
{
	m->n = v->count;
	m->uids = xmalloc((v->count + 1) * sizeof(*m->uids));
	m->seqs = xmalloc((v->count + 1) * sizeof(*m->seqs));
	m->modseqs = xcalloc(v->count + 1, sizeof(*m->modseqs));  /* no MODSEQ key: not shown */
	for (size_t i = 0; i < v->count; i++) {
		m->uids[i] = v->uids[i];
		m->seqs[i] = (uint32_t)(i + 1);
	}
}

int
imap_sort_matches(struct imap_ctx *ctx, struct imap_search_program *prog, unsigned want,
                  struct store_sort_list *list, struct imap_sort_item **items_out, size_t *n_out,
                  struct imap_result *res)
{
	struct imap_search_match m;
	struct imap_sort_item *items;
	const char *error = NULL;
	size_t i, j = 0, n = 0;
	int r;

	*items_out = NULL;
	*n_out = 0;
	memset(list, 0, sizeof(*list));
	if (all_only(prog))
		match_view(ctx->view, &m);
	else if (imap_search_eval(ctx, prog, &m, res) == -1)
		return -1;
	r = store_sort_get(ctx->st, ctx->view->mailbox, m.uids, m.n, want, list, &error);
	if (r != STORE_OK) {
		imap_search_match_free(&m);
		res->status = IMAP_NO;
		str_lcpy(res->code, r == STORE_IMAP_NONEXISTENT ? "NONEXISTENT" : "UNAVAILABLE", sizeof(res->code));
		str_lcpy(res->text, error != NULL ? error : "Sort failed", sizeof(res->text));
		return -1;
	}
	/* both in UID order; messages expunged meanwhile are not in list */
	items = xmalloc((m.n + 1) * sizeof(*items));
	for (i = 0; i < list->n; i++) {
		while (j < m.n && m.uids[j] < list->msgs[i].uid)
			j++;
		if (j == m.n)
			break;
		if (m.uids[j] != list->msgs[i].uid)
			continue;
		items[n].msg = &list->msgs[i];
		items[n].seq = m.seqs[j];
		items[n].modseq = m.modseqs[j];
		n++;
	}
	imap_search_match_free(&m);
	*items_out = items;
	*n_out = n;
	return 0;
}

static int
cmp_int(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int
cmp_key(const struct store_sort_msg *x, const struct store_sort_msg *y, enum imap_sort_key key)
{
	switch (key) {
	case IMAP_SORT_ARRIVAL:
		return cmp_int(x->internal_date, y->internal_date);
	case IMAP_SORT_CC:
		return strcmp(x->k.cc, y->k.cc);
	case IMAP_SORT_DATE:
		return cmp_int(imap_sort_sent_date(x), imap_sort_sent_date(y));
	case IMAP_SORT_FROM:
		return strcmp(x->k.from, y->k.from);
	case IMAP_SORT_SIZE:
		return x->size < y->size ? -1 : x->size > y->size;
	case IMAP_SORT_SUBJECT:
		return strcmp(x->k.subject, y->k.subject);
	case IMAP_SORT_TO:
		return strcmp(x->k.to, y->k.to);
	case IMAP_SORT_DISPLAYFROM:
		return strcmp(x->k.display_from, y->k.display_from);
	case IMAP_SORT_DISPLAYTO:
		return strcmp(x->k.display_to, y->k.display_to);
	}
	return 0;
}

struct sort_by {
	const struct imap_sort_criterion *crit;
	size_t n;
};

static int
cmp_items(const void *a, const void *b, void *arg)
{
	const struct imap_sort_item *x = a, *y = b;
	const struct sort_by *by = arg;

	for (size_t i = 0; i < by->n; i++) {
		int c = cmp_key(x->msg, y->msg, by->crit[i].key);

		if (c != 0)
			return by->crit[i].reverse ? -c : c;
	}
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
imap_sort_items(struct imap_sort_item *items, size_t n, const struct imap_sort_criterion *crit, size_t n_crit)
{
	struct sort_by by = { crit, n_crit };

	if (n > 1)
		qsort_r(items, n, sizeof(*items), cmp_items, &by);
}

/* "* SORT n..." (RFC 5256 4), with RFC 7162 3.1.5's "(MODSEQ n)" when the
 * criteria used MODSEQ; or, with RETURN, ESEARCH as SEARCH writes it
 * (RFC 5267 3: MIN and MAX are the first and last in sort order, ALL is
 * in sort order). */
static void
respond(struct imap_ctx *ctx, const struct imap_sort_program *prog, const struct imap_sort_item *items, size_t n,
        struct buf *out)
{
	struct imap_search_match m;
	uint64_t modseq = 0;
	size_t i;

	if (!prog->search.esearch) {
		buf_puts(out, "* SORT");
		for (i = 0; i < n; i++) {
			buf_printf(out, " %" PRIu32, ctx->uid ? items[i].msg->uid : items[i].seq);
			if (items[i].modseq > modseq)
				modseq = items[i].modseq;
		}
		if (prog->search.modseq && n > 0)
			buf_printf(out, " (MODSEQ %" PRIu64 ")", modseq);
		buf_puts(out, "\r\n");
		return;
	}
	m.n = n;
	m.uids = xmalloc((n + 1) * sizeof(*m.uids));
	m.seqs = xmalloc((n + 1) * sizeof(*m.seqs));
	m.modseqs = xmalloc((n + 1) * sizeof(*m.modseqs));
	for (i = 0; i < n; i++) {
		m.uids[i] = items[i].msg->uid;
		m.seqs[i] = items[i].seq;
		m.modseqs[i] = items[i].modseq;
	}
	imap_search_respond(ctx, &prog->search, &m, out);
	imap_search_match_free(&m);
	if (prog->update) {
		/* RFC 5267 4.3.1: answered, but not kept up to date */
		buf_puts(out, "* NO [NOUPDATE \"");
		for (const char *t = ctx->tag; t != NULL && *t != '\0'; t++) {
			if (*t == '"' || *t == '\\')
				buf_puts(out, "\\");
			buf_append(out, t, 1);
		}
		buf_puts(out, "\"] SORT results are not updated\r\n");
	}
}

/* The string keys prog's criteria compare. */
static unsigned
wanted(const struct imap_sort_program *prog)
{
	static const unsigned bits[] = {
		[IMAP_SORT_ARRIVAL] = 0,
		[IMAP_SORT_CC] = STORE_SORT_CC,
		[IMAP_SORT_DATE] = 0,
		[IMAP_SORT_FROM] = STORE_SORT_FROM,
		[IMAP_SORT_SIZE] = 0,
		[IMAP_SORT_SUBJECT] = STORE_SORT_SUBJECT,
		[IMAP_SORT_TO] = STORE_SORT_TO,
		[IMAP_SORT_DISPLAYFROM] = STORE_SORT_DISPLAY_FROM,
		[IMAP_SORT_DISPLAYTO] = STORE_SORT_DISPLAY_TO,
	};
	unsigned want = 0;

	for (size_t i = 0; i < prog->n_crit; i++)
		want |= bits[prog->crit[i].key];
	return want;
}

bool
imap_sort_charset_refused(const struct imap_ctx *ctx, const struct imap_arg *charset)
{
	const char *cs;
	size_t len;

	return ctx->utf8_accept && imap_arg_astring(charset, &cs, &len) &&
	       !(len == 5 && strncasecmp(cs, "UTF-8", 5) == 0);
}

void
imap_sort_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	struct imap_sort_program prog;
	struct store_sort_list list;
	struct imap_sort_item *items;
	size_t n;

	res->status = IMAP_OK;
	res->code[0] = '\0';
	res->text[0] = '\0';
	if (ctx->view == NULL) {
		bad(res, "No mailbox selected");
		return;
	}
	if (imap_sort_parse(args, ctx->arena, &prog, res) == -1)
		return;
	{
		const struct imap_arg *crit = imap_arg_atom_is(args, "RETURN") ? args->next->next : args;

		if (imap_sort_charset_refused(ctx, crit->next)) {
			bad(res, "Only UTF-8 after ENABLE UTF8=ACCEPT (RFC 6855)");
			return;
		}
	}
	if (prog.search.modseq)
		ctx->condstore_used = true;  /* RFC 7162 3.1 */
	if (imap_sort_matches(ctx, &prog.search, wanted(&prog), &list, &items, &n, res) == -1)
		return;
	imap_sort_items(items, n, prog.crit, prog.n_crit);
	respond(ctx, &prog, items, n, out);
	free(items);
	store_sort_list_free(&list);
}
