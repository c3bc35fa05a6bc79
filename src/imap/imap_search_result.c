/* The answers of SEARCH: "* SEARCH" (RFC 3501 7.2.5, with RFC 7162
 * 3.1.5's "(MODSEQ n)"), "* ESEARCH" (RFC 4731, RFC 9051 7.3.4, always
 * under IMAP4rev2, which has no SEARCH response), and SAVE (RFC 5182). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_search.h"
#include "imap/imap_search_private.h"
#include "lib/buf.h"
#include "lib/xalloc.h"

/* ALL's sequence-set (RFC 4731 3.1): runs of consecutive numbers become
 * "a:b".  A UID set is built from the UIDs themselves: UIDs that are
 * neighbours in the view need not be consecutive (a message between them
 * was expunged or moved), and "1:3" would claim UID 2 (RFC 9051 9:
 * a UID range holds every UID in it that exists). */
void
imap_search_write_ids(struct buf *out, const uint32_t *ids, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j + 1 < n && ids[j + 1] == ids[j] + 1)
			j++;
		if (i > 0)
			buf_puts(out, ",");
		if (j == i)
			buf_printf(out, "%" PRIu32, ids[i]);
		else
			buf_printf(out, "%" PRIu32 ":%" PRIu32, ids[i], ids[j]);
		i = j + 1;
	}
}

static void
write_set(struct buf *out, const struct imap_search_match *m, bool uid, size_t from, size_t to)
{
	imap_search_write_ids(out, (uid ? m->uids : m->seqs) + from, to - from);
}

void
imap_search_write_start(struct buf *out, const char *tag, bool uid)
{
	buf_puts(out, "* ESEARCH (TAG \"");
	for (const char *s = tag; s != NULL && *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_puts(out, "\\");
		buf_append(out, s, 1);
	}
	buf_puts(out, "\")");
	if (uid)
		buf_puts(out, " UID");
}

static void
save(struct imap_ctx *ctx, const uint32_t *uids, size_t n)
{
	if (ctx->saved == NULL || ctx->saved_count == NULL)
		return;
	free(*ctx->saved);
	*ctx->saved = NULL;
	*ctx->saved_count = 0;
	if (n == 0)
		return;
	*ctx->saved = xmalloc(n * sizeof(**ctx->saved));
	memcpy(*ctx->saved, uids, n * sizeof(**ctx->saved));
	*ctx->saved_count = n;
}

void
imap_search_saved_clear(struct imap_ctx *ctx)
{
	save(ctx, NULL, 0);
}

/* The results [*from_out, *to_out) that PARTIAL asks for (RFC 9394
 * 3.1: 1 is the first, -1 the last; positions past the results select
 * nothing). */
static void
partial_window(const struct imap_search_program *prog, size_t n, size_t *from_out, size_t *to_out)
{
	uint64_t lo = prog->partial_lo, hi = prog->partial_hi;

	if (!prog->partial_from_end) {
		*from_out = lo - 1 < n ? (size_t)(lo - 1) : n;
		*to_out = hi < n ? (size_t)hi : n;
	} else {
		/* -lo:-hi is the results n-hi .. n-lo (0-based) */
		*from_out = hi < n ? n - (size_t)hi : 0;
		*to_out = lo <= n ? n - (size_t)(lo - 1) : 0;
	}
	if (*to_out < *from_out)
		*to_out = *from_out;
}

/* Whether result i is returned, when only some are (MIN, MAX, PARTIAL
 * without ALL or COUNT). */
static bool
returned(unsigned ret, size_t i, size_t n, size_t pfrom, size_t pto)
{
	return ((ret & IMAP_SEARCH_RET_MIN) && i == 0) || ((ret & IMAP_SEARCH_RET_MAX) && i == n - 1) ||
	       ((ret & IMAP_SEARCH_RET_PARTIAL) && i >= pfrom && i < pto);
}

void
imap_search_respond(struct imap_ctx *ctx, const struct imap_search_program *prog,
                    const struct imap_search_match *m, struct buf *out)
{
	const uint32_t *ids = ctx->uid ? m->uids : m->seqs;
	unsigned ret = prog->ret;
	/* RFC 4731 3.2, RFC 5182 2.4: with MIN and/or MAX but neither ALL
	 * nor COUNT, MODSEQ and SAVE concern only the messages returned; we
	 * take PARTIAL the same way (its window) */
	bool some_only = (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX | IMAP_SEARCH_RET_PARTIAL)) != 0 &&
	                 (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) == 0;
	uint64_t modseq = 0;
	size_t i, pfrom = 0, pto = 0;

	if (ret & IMAP_SEARCH_RET_PARTIAL)
		partial_window(prog, m->n, &pfrom, &pto);
	for (i = 0; i < m->n; i++)
		if ((!some_only || returned(ret, i, m->n, pfrom, pto)) && m->modseqs[i] > modseq)
			modseq = m->modseqs[i];

	if (!prog->esearch && !ctx->imap4rev2) {
		buf_puts(out, "* SEARCH");
		for (i = 0; i < m->n; i++)
			buf_printf(out, " %" PRIu32, ids[i]);
		/* RFC 7162 3.1.5: not when nothing matched */
		if (prog->modseq && m->n > 0)
			buf_printf(out, " (MODSEQ %" PRIu64 ")", modseq);
		buf_puts(out, "\r\n");
	} else if (ret != IMAP_SEARCH_RET_SAVE) {
		/* RFC 5182 2.1: SAVE alone returns no ESEARCH */
		imap_search_write_start(out, ctx->tag, ctx->uid);
		if (m->n > 0 && (ret & IMAP_SEARCH_RET_MIN))
			buf_printf(out, " MIN %" PRIu32, ids[0]);
		if (m->n > 0 && (ret & IMAP_SEARCH_RET_MAX))
			buf_printf(out, " MAX %" PRIu32, ids[m->n - 1]);
		if (ret & IMAP_SEARCH_RET_COUNT)
			buf_printf(out, " COUNT %zu", m->n);
		if (m->n > 0 && (ret & IMAP_SEARCH_RET_ALL)) {
			buf_puts(out, " ALL ");
			write_set(out, m, ctx->uid, 0, m->n);
		}
		if (ret & IMAP_SEARCH_RET_PARTIAL) {
			/* RFC 9394 3.1: the range as asked, then the results
			 * in it or NIL */
			const char *minus = prog->partial_from_end ? "-" : "";

			buf_printf(out, " PARTIAL (%s%" PRIu32 ":%s%" PRIu32 " ", minus, prog->partial_lo, minus,
			           prog->partial_hi);
			if (pto > pfrom)
				write_set(out, m, ctx->uid, pfrom, pto);
			else
				buf_puts(out, "NIL");
			buf_puts(out, ")");
		}
		if (prog->modseq && m->n > 0)
			buf_printf(out, " MODSEQ %" PRIu64, modseq);
		buf_puts(out, "\r\n");
	}

	if (prog->esearch && (ret & IMAP_SEARCH_RET_SAVE)) {
		if (some_only && m->n > 0) {
			uint32_t *sel = xmalloc(m->n * sizeof(*sel));
			size_t n = 0;

			for (i = 0; i < m->n; i++)
				if (returned(ret, i, m->n, pfrom, pto))
					sel[n++] = m->uids[i];
			save(ctx, sel, n);
			free(sel);
		} else {
			save(ctx, m->uids, m->n);
		}
	}
}
