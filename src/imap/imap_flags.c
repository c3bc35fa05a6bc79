/* Flag lists as FETCH, STORE and the session's updates send them
 * (RFC 9051 7.5.2 FLAGS, flag-list in section 9), and the keywords a
 * view has announced with FLAGS (RFC 3501 7.2.6). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_fetch.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/store.h"
#include "store/store_imap.h"

void
imap_flags_write(struct buf *out, uint32_t flags, const char *keywords)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} system[] = {
		{ STORE_FLAG_ANSWERED, "\\Answered" },
		{ STORE_FLAG_FLAGGED, "\\Flagged" },
		{ STORE_FLAG_DELETED, "\\Deleted" },
		{ STORE_FLAG_SEEN, "\\Seen" },
		{ STORE_FLAG_DRAFT, "\\Draft" },
	};
	bool first = true;
	size_t i;

	buf_append(out, "(", 1);
	if (flags & IMAP_FLAG_RECENT) {
		buf_puts(out, "\\Recent");
		first = false;
	}
	for (i = 0; i < sizeof(system) / sizeof(system[0]); i++) {
		if ((flags & system[i].bit) == 0)
			continue;
		if (!first)
			buf_append(out, " ", 1);
		buf_puts(out, system[i].name);
		first = false;
	}
	/* keywords: space-separated atoms; stray spaces are not repeated */
	while (keywords != NULL && *keywords != '\0') {
		size_t n = strcspn(keywords, " ");

		if (n > 0) {
			if (!first)
				buf_append(out, " ", 1);
			buf_append(out, keywords, n);
			first = false;
		}
		keywords += n;
		keywords += strspn(keywords, " ");
	}
	buf_append(out, ")", 1);
}

/* Whether the space-separated list holds word (len octets, any case). */
static bool
list_has(const char *list, const char *word, size_t len)
{
	while (list != NULL && *list != '\0') {
		size_t n = strcspn(list, " ");

		if (n == len && strncasecmp(list, word, len) == 0)
			return true;
		list += n;
		list += strspn(list, " ");
	}
	return false;
}

bool
imap_view_keywords_add(struct imap_view *v, const char *kw)
{
	struct buf b = BUF_INIT;
	bool added = false;

	while (kw != NULL && *kw != '\0') {
		size_t n = strcspn(kw, " ");

		if (n > 0 && v->n_keywords < IMAP_VIEW_KEYWORDS_MAX && !list_has(v->keywords, kw, n) &&
		    !list_has(b.data, kw, n)) {
			if (b.len == 0 && v->keywords != NULL)
				buf_puts(&b, v->keywords);
			if (b.len > 0)
				buf_append(&b, " ", 1);
			buf_append(&b, kw, n);
			v->n_keywords++;
			added = true;
		}
		kw += n;
		kw += strspn(kw, " ");
	}
	if (added) {
		free(v->keywords);
		v->keywords = xstrdup(b.data);
	}
	buf_free(&b);
	return added;
}

void
imap_view_flags_write(const struct imap_view *v, struct buf *out)
{
	const char *kw = v->keywords != NULL ? v->keywords : "";
	const char *sp = kw[0] != '\0' ? " " : "";

	buf_printf(out, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s%s)\r\n", sp, kw);
	if (v->read_only)
		buf_puts(out, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		buf_printf(out, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft%s%s \\*)] "
		           "Flags permitted\r\n", sp, kw);
}

bool
imap_view_recent(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n_recent;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->recent[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < v->n_recent && v->recent[lo] == uid;
}

void
imap_view_recent_add(struct imap_view *v, size_t from, uint32_t first)
{
	size_t n = 0;

	for (size_t i = from; i < v->count; i++)
		n += v->uids[i] >= first;
	if (n == 0)
		return;
	v->recent = xrealloc(v->recent, (v->n_recent + n) * sizeof(*v->recent));
	for (size_t i = from; i < v->count; i++)
		if (v->uids[i] >= first)
			v->recent[v->n_recent++] = v->uids[i];
}

void
imap_view_prepare(struct imap_view *v, struct store_imap_msg *msgs, size_t n, struct buf *out)
{
	const char *known = NULL;       /* a keyword list checked already */
	bool added = false;

	for (size_t i = 0; i < n; i++) {
		const char *kw = msgs[i].keywords;

		/* Neighbours mostly carry the same keywords (the store keeps
		 * them sorted): check each distinct list once, so FETCH 1:*
		 * FLAGS stays linear in the mailbox. */
		if (kw != NULL && kw[0] != '\0' && (known == NULL || strcmp(kw, known) != 0)) {
			added |= imap_view_keywords_add(v, kw);
			known = kw;
		}
		if (v->n_recent > 0 && imap_view_recent(v, msgs[i].uid))
			msgs[i].flags |= IMAP_FLAG_RECENT;
	}
	if (added)
		imap_view_flags_write(v, out);
}
