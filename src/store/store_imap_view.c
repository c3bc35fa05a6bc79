/* What SELECT needs, and only that: the UIDs in order, the first message
 * without \Seen, and the keywords in use (store_imap_view).  A full
 * store_imap_list copies ~100 bytes per message (file names, sizes,
 * dates) that SELECT throws away: at 100,000 messages that was most of
 * its time. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/store_imap.h"
#include "store/store_private.h"

/* Adds the words of kw not yet in out (space-separated, any case). */
static void
keywords_merge(struct buf *out, const char *kw, size_t *count)
{
	while (*kw != '\0') {
		const char *e = strchr(kw, ' ');
		size_t len = e != NULL ? (size_t)(e - kw) : strlen(kw);
		const char *p = out->data;
		bool seen = false;

		while (!seen && p != NULL && *p != '\0') {
			const char *pe = strchr(p, ' ');
			size_t plen = pe != NULL ? (size_t)(pe - p) : strlen(p);

			seen = plen == len && strncasecmp(p, kw, len) == 0;
			p = pe != NULL ? pe + 1 : NULL;
		}
		if (!seen && len > 0 && *count < STORE_VIEW_KEYWORDS_MAX) {
			if (out->len > 0)
				buf_puts(out, " ");
			buf_append(out, kw, len);
			++*count;
		}
		if (e == NULL)
			break;
		kw = e + 1;
	}
}

int
store_imap_view(struct store *st, const char *mailbox, struct store_mailbox_info *info_out, uint32_t **uids_out,
                size_t *n_out, uint32_t *first_unseen_out, char **keywords_out, const char **error_out)
{
	struct store_mailbox_row mb;
	sqlite3_stmt *s = NULL;
	struct buf kw = BUF_INIT;
	uint32_t *uids = NULL;
	size_t n = 0, cap, nkw = 0;
	int r, rc, ret = STORE_ERR_TEMP;

	*uids_out = NULL;
	*n_out = 0;
	*first_unseen_out = 0;
	*keywords_out = NULL;
	if (store_exec(st, "BEGIN") != SQLITE_OK)
		goto out;
	if ((r = store_mailbox_get(st, mailbox, &mb)) != 1) {
		if (r == 0)
			ret = STORE_IMAP_NONEXISTENT;
		goto out;
	}
	rc = sqlite3_prepare_v2(st->db, "SELECT uid, flags, keywords FROM messages WHERE mailbox_id = ?1 ORDER BY uid",
	                        -1, &s, NULL);
	if (rc != SQLITE_OK) {
		store_errorf(st, "view: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	sqlite3_bind_int64(s, 1, mb.id);
	cap = (size_t)mb.messages + 1;
	uids = xmalloc(cap * sizeof(*uids));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(s, 2);

		if (n == cap) {
			cap *= 2;
			uids = xrealloc(uids, cap * sizeof(*uids));
		}
		uids[n++] = (uint32_t)sqlite3_column_int64(s, 0);
		if (*first_unseen_out == 0 && (sqlite3_column_int64(s, 1) & STORE_FLAG_SEEN) == 0)
			*first_unseen_out = (uint32_t)n;
		if (k != NULL && k[0] != '\0')
			keywords_merge(&kw, (const char *)k, &nkw);
	}
	if (rc != SQLITE_DONE) {
		store_errorf(st, "view: %s", sqlite3_errmsg(st->db));
		goto out;
	}
	if (info_out != NULL) {
		info_out->uidvalidity = mb.uidvalidity;
		info_out->uidnext = mb.uidnext;
		info_out->highestmodseq = mb.highestmodseq;
		info_out->exists = (uint32_t)n;
	}
	*uids_out = uids;
	*n_out = n;
	*keywords_out = xstrdup(kw.data != NULL ? kw.data : "");
	uids = NULL;
	ret = STORE_OK;
out:
	sqlite3_finalize(s);
	if (ret == STORE_OK)
		store_exec(st, "COMMIT");
	else
		store_rollback(st);
	free(uids);
	buf_free(&kw);
	if (ret != STORE_OK)
		*error_out = st->errbuf;
	return ret;
}
