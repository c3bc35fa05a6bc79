/* SEARCH RETURN (UPDATE) contexts and their ADDTO / REMOVEFROM
 * notifications (RFC 5267 4.3); see imap_search_update.h. */
#include "imap/imap_search_update.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap_search.h"
#include "imap/imap_search_private.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

struct imap_search_context {
	struct imap_search_context *next;
	char *tag;                      /* malloc'd */
	bool uid;                       /* UID SEARCH: updates carry UIDs */
	struct arena *arena;            /* the program */
	struct imap_search_program prog;
	uint32_t *uids;                 /* the result, ascending (mailbox order); malloc'd */
	size_t n;
};

static void
context_free(struct imap_search_context *c)
{
	free(c->tag);
	free(c->uids);
	arena_free(&c->arena);
	free(c);
}

/* Octets the arguments take, roughly as sent. */
static size_t
args_size(const struct imap_arg *a)
{
	size_t n = 0;

	for (; a != NULL; a = a->next)
		n += a->len + 8 + args_size(a->list);
	return n;
}

void
imap_search_context_add(struct imap_ctx *ctx, const struct imap_arg *args, const struct imap_search_match *m,
                        struct buf *out)
{
	struct imap_search_contexts *cs = ctx->contexts;
	struct imap_search_context *c;
	struct imap_result res;

	if (cs == NULL)
		return;
	/* the tag is kept too, and a tag may be as long as a command line */
	if (cs->count >= IMAP_SEARCH_CONTEXTS_MAX ||
	    args_size(args) + strlen(ctx->tag) > IMAP_SEARCH_CONTEXT_PROGRAM_MAX) {
		/* RFC 5267 4.3.1: the search is still answered */
		buf_puts(out, "* NO [NOUPDATE \"");
		for (const char *s = ctx->tag; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				buf_puts(out, "\\");
			buf_append(out, s, 1);
		}
		buf_puts(out, "\"] Too many search contexts, no updates\r\n");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->arena = arena_new(4096, false);
	/* the same arguments parsed the first time: cannot fail now */
	if (imap_search_parse(args, c->arena, &c->prog, &res) == -1) {
		context_free(c);
		return;
	}
	c->tag = xstrdup(ctx->tag);
	c->uid = ctx->uid;
	if (m->n > 0) {
		c->uids = xmalloc(m->n * sizeof(*c->uids));
		memcpy(c->uids, m->uids, m->n * sizeof(*c->uids));
	}
	c->n = m->n;
	c->next = cs->head;
	cs->head = c;
	cs->count++;
}

bool
imap_search_contexts_has(const struct imap_search_contexts *cs, const char *tag)
{
	for (const struct imap_search_context *c = cs->head; c != NULL; c = c->next)
		if (strcmp(c->tag, tag) == 0)
			return true;
	return false;
}

bool
imap_search_contexts_cancel(struct imap_search_contexts *cs, const char *tag)
{
	for (struct imap_search_context **pp = &cs->head; *pp != NULL; pp = &(*pp)->next) {
		struct imap_search_context *c = *pp;

		if (strcmp(c->tag, tag) == 0) {
			*pp = c->next;
			cs->count--;
			context_free(c);
			return true;
		}
	}
	return false;
}

void
imap_search_contexts_free(struct imap_search_contexts *cs)
{
	while (cs->head != NULL) {
		struct imap_search_context *c = cs->head;

		cs->head = c->next;
		context_free(c);
	}
	cs->count = 0;
}

static bool
has_uid(const uint32_t *u, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (u[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && u[lo] == x;
}

/* Appends " NAME (0 set)" for the ascending UIDs, as sequence numbers in
 * v unless the context speaks UIDs. */
static void
write_update(struct buf *out, const char *name, const struct imap_search_context *c, const struct imap_view *v,
             uint32_t *uids, size_t n)
{
	if (!c->uid)
		for (size_t i = 0; i < n; i++)
			uids[i] = imap_view_seq(v, uids[i]);
	buf_printf(out, " %s (0 ", name);
	imap_search_write_ids(out, uids, n);
	buf_puts(out, ")");
}

/* The result minus the sorted drop list (d of them) plus the sorted add
 * list (a of them, none already there), ascending. */
static void
result_update(struct imap_search_context *c, const uint32_t *drop, size_t d, const uint32_t *add, size_t a)
{
	uint32_t *r = xmalloc((c->n + a + 1) * sizeof(*r));
	size_t i = 0, j = 0, k = 0;

	while (i < c->n || j < a) {
		if (j == a || (i < c->n && c->uids[i] < add[j])) {
			if (!has_uid(drop, d, c->uids[i]))
				r[k++] = c->uids[i];
			i++;
		} else {
			r[k++] = add[j++];
		}
	}
	free(c->uids);
	c->uids = r;
	c->n = k;
}

void
imap_search_contexts_expunge(struct imap_search_contexts *cs, const struct imap_view *v, const uint32_t *uids,
                             size_t n, struct buf *out)
{
	for (struct imap_search_context *c = cs->head; c != NULL; c = c->next) {
		uint32_t *gone = NULL;
		size_t n_gone = 0;

		for (size_t i = 0; i < n; i++) {
			if (!has_uid(c->uids, c->n, uids[i]))
				continue;
			if (gone == NULL)
				gone = xmalloc(n * sizeof(*gone));
			gone[n_gone++] = uids[i];
		}
		if (n_gone == 0)
			continue;
		result_update(c, gone, n_gone, NULL, 0);
		imap_search_write_start(out, c->tag, c->uid);
		write_update(out, "REMOVEFROM", c, v, gone, n_gone);
		buf_puts(out, "\r\n");
		free(gone);
	}
}

void
imap_search_contexts_changed(struct imap_search_contexts *cs, struct imap_ctx *ctx, const uint32_t *uids,
                             size_t n, struct buf *out)
{
	if (n == 0)
		return;
	for (struct imap_search_context *c = cs->head; c != NULL; c = c->next) {
		struct imap_search_match m;
		struct imap_result res;
		uint32_t *drop, *add;
		size_t n_drop = 0, n_add = 0, j = 0;

		if (imap_search_eval_some(ctx, &c->prog, uids, n, &m, &res) == -1)
			continue;
		drop = xmalloc(n * sizeof(*drop));
		add = xmalloc(n * sizeof(*add));
		for (size_t i = 0; i < n; i++) {
			bool was = has_uid(c->uids, c->n, uids[i]), now;

			/* m.uids is the part of uids that matches, ascending */
			while (j < m.n && m.uids[j] < uids[i])
				j++;
			now = j < m.n && m.uids[j] == uids[i];
			if (was && !now)
				drop[n_drop++] = uids[i];
			else if (!was && now)
				add[n_add++] = uids[i];
		}
		imap_search_match_free(&m);
		if (n_drop > 0 || n_add > 0) {
			result_update(c, drop, n_drop, add, n_add);
			imap_search_write_start(out, c->tag, c->uid);
			if (n_drop > 0)
				write_update(out, "REMOVEFROM", c, ctx->view, drop, n_drop);
			if (n_add > 0)
				write_update(out, "ADDTO", c, ctx->view, add, n_add);
			buf_puts(out, "\r\n");
		}
		free(drop);
		free(add);
	}
}
