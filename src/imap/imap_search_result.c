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
static void
write_set(struct buf *out, const struct imap_search_match *m, bool uid)
{
	const uint32_t *ids = uid ? m->uids : m->seqs;
	size_t i = 0;

	while (i < m->n) {
		size_t j = i;

		while (j + 1 < m->n && ids[j + 1] == ids[j] + 1)
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
write_quoted(struct buf *out, const char *s)
{
	buf_puts(out, "\"");
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			buf_puts(out, "\\");
		buf_append(out, s, 1);
	}
	buf_puts(out, "\"");
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

void
imap_search_respond(struct imap_ctx *ctx, const struct imap_search_program *prog,
                    const struct imap_search_match *m, struct buf *out)
{
	const uint32_t *ids = ctx->uid ? m->uids : m->seqs;
	unsigned ret = prog->ret;
	/* RFC 4731 3.2, RFC 5182 2.4: with MIN and/or MAX but neither ALL
	 * nor COUNT, MODSEQ and SAVE concern only the messages returned */
	bool minmax_only = (ret & (IMAP_SEARCH_RET_MIN | IMAP_SEARCH_RET_MAX)) != 0 &&
	                   (ret & (IMAP_SEARCH_RET_ALL | IMAP_SEARCH_RET_COUNT)) == 0;
	uint64_t modseq = 0;
	size_t i;

	if (m->n > 0 && minmax_only) {
		if (ret & IMAP_SEARCH_RET_MIN)
			modseq = m->modseqs[0];
		if ((ret & IMAP_SEARCH_RET_MAX) && m->modseqs[m->n - 1] > modseq)
			modseq = m->modseqs[m->n - 1];
	} else {
		for (i = 0; i < m->n; i++)
			if (m->modseqs[i] > modseq)
				modseq = m->modseqs[i];
	}

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
		buf_puts(out, "* ESEARCH (TAG ");
		write_quoted(out, ctx->tag);
		buf_puts(out, ")");
		if (ctx->uid)
			buf_puts(out, " UID");
		if (m->n > 0 && (ret & IMAP_SEARCH_RET_MIN))
			buf_printf(out, " MIN %" PRIu32, ids[0]);
		if (m->n > 0 && (ret & IMAP_SEARCH_RET_MAX))
			buf_printf(out, " MAX %" PRIu32, ids[m->n - 1]);
		if (ret & IMAP_SEARCH_RET_COUNT)
			buf_printf(out, " COUNT %zu", m->n);
		if (m->n > 0 && (ret & IMAP_SEARCH_RET_ALL)) {
			buf_puts(out, " ALL ");
			write_set(out, m, ctx->uid);
		}
		if (prog->modseq && m->n > 0)
			buf_printf(out, " MODSEQ %" PRIu64, modseq);
		buf_puts(out, "\r\n");
	}

	if (prog->esearch && (ret & IMAP_SEARCH_RET_SAVE)) {
		if (minmax_only && m->n > 0) {
			uint32_t mm[2];
			size_t n = 0;

			if (ret & IMAP_SEARCH_RET_MIN)
				mm[n++] = m->uids[0];
			if ((ret & IMAP_SEARCH_RET_MAX) && (n == 0 || m->uids[m->n - 1] != mm[0]))
				mm[n++] = m->uids[m->n - 1];
			save(ctx, mm, n);
		} else {
			save(ctx, m->uids, m->n);
		}
	}
}
