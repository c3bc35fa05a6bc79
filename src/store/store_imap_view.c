/* What SELECT needs, and only that: the UIDs in order, the first message
 * without \Seen, and the keywords in use (store_imap_view).  A full
 * store_imap_list copies ~100 bytes per message (file names, sizes,
 * dates) that SELECT throws away: at 100,000 messages that was most of
 * its time.
 *
 * The last views read are kept in a small process-wide cache keyed by
 * user, mailbox id, UIDVALIDITY and HIGHESTMODSEQ: every change to a
 * mailbox takes a new HIGHESTMODSEQ, so a hit is exactly what a scan would
 * read, and clients SELECT the same mailboxes again and again. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/store_imap.h"
#include "store/store_private.h"

/* Views kept, and UIDs kept over all of them (16 MiB). */
#define VIEW_CACHE_SLOTS 64
#define VIEW_CACHE_UIDS_MAX (4u << 20)
/* Mailboxes smaller than this are read from the index every time. */
#define VIEW_CACHE_MIN 1000

struct view_slot {
	char user[ADDRESS_MAX + 1];
	int64_t mailbox_id;
	uint32_t uidvalidity;
	uint64_t highestmodseq;
	uint32_t *uids;
	size_t n;
	uint32_t first_unseen;
	char *keywords;
	uint64_t used;               /* LRU clock */
};

static pthread_mutex_t view_lock = PTHREAD_MUTEX_INITIALIZER;
static struct view_slot view_slots[VIEW_CACHE_SLOTS];
static size_t view_uids_total;
static uint64_t view_clock;

static bool
slot_matches(const struct view_slot *v, const struct store *st, const struct store_mailbox_row *mb)
{
	return v->uids != NULL && v->mailbox_id == mb->id && v->uidvalidity == mb->uidvalidity &&
	       v->highestmodseq == mb->highestmodseq && strcmp(v->user, st->user) == 0;
}

static void
slot_clear(struct view_slot *v)
{
	view_uids_total -= v->n;
	free(v->uids);
	free(v->keywords);
	memset(v, 0, sizeof(*v));
}

/* A copy of the cached view, or false. */
static bool
view_cache_get(const struct store *st, const struct store_mailbox_row *mb, uint32_t **uids, size_t *n,
               uint32_t *first_unseen, char **keywords)
{
	bool hit = false;

	pthread_mutex_lock(&view_lock);
	for (size_t i = 0; i < VIEW_CACHE_SLOTS && !hit; i++) {
		struct view_slot *v = &view_slots[i];

		if (!slot_matches(v, st, mb))
			continue;
		*uids = xmalloc((v->n > 0 ? v->n : 1) * sizeof(**uids));
		memcpy(*uids, v->uids, v->n * sizeof(**uids));
		*n = v->n;
		*first_unseen = v->first_unseen;
		*keywords = xstrdup(v->keywords);
		v->used = ++view_clock;
		hit = true;
	}
	pthread_mutex_unlock(&view_lock);
	return hit;
}

static void
view_cache_put(const struct store *st, const struct store_mailbox_row *mb, const uint32_t *uids, size_t n,
               uint32_t first_unseen, const char *keywords)
{
	struct view_slot *victim = NULL;

	if (n < VIEW_CACHE_MIN || n > VIEW_CACHE_UIDS_MAX / 4)
		return;
	pthread_mutex_lock(&view_lock);
	for (size_t i = 0; i < VIEW_CACHE_SLOTS; i++) {
		struct view_slot *v = &view_slots[i];

		/* The same mailbox at an older state goes first. */
		if (v->uids != NULL && v->mailbox_id == mb->id && strcmp(v->user, st->user) == 0) {
			victim = v;
			break;
		}
		if (victim == NULL || v->used < victim->used)
			victim = v;
	}
	slot_clear(victim);
	/* Make room under the total by dropping the least recently used. */
	while (view_uids_total + n > VIEW_CACHE_UIDS_MAX) {
		struct view_slot *old = NULL;

		for (size_t i = 0; i < VIEW_CACHE_SLOTS; i++)
			if (view_slots[i].uids != NULL && (old == NULL || view_slots[i].used < old->used))
				old = &view_slots[i];
		if (old == NULL)
			break;
		slot_clear(old);
	}
	snprintf(victim->user, sizeof(victim->user), "%s", st->user);
	victim->mailbox_id = mb->id;
	victim->uidvalidity = mb->uidvalidity;
	victim->highestmodseq = mb->highestmodseq;
	victim->uids = xmalloc(n * sizeof(*uids));
	memcpy(victim->uids, uids, n * sizeof(*uids));
	victim->n = n;
	victim->first_unseen = first_unseen;
	victim->keywords = xstrdup(keywords);
	victim->used = ++view_clock;
	view_uids_total += n;
	pthread_mutex_unlock(&view_lock);
}

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
	if (view_cache_get(st, &mb, &uids, &n, first_unseen_out, keywords_out)) {
		*uids_out = uids;
		*n_out = n;
		uids = NULL;
		ret = STORE_OK;
		goto done;
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
	*uids_out = uids;
	*n_out = n;
	*keywords_out = xstrdup(kw.data != NULL ? kw.data : "");
	view_cache_put(st, &mb, uids, n, *first_unseen_out, *keywords_out);
	uids = NULL;
	ret = STORE_OK;
done:
	if (info_out != NULL) {
		info_out->id = mb.id;
		info_out->uidvalidity = mb.uidvalidity;
		info_out->uidnext = mb.uidnext;
		info_out->highestmodseq = mb.highestmodseq;
		info_out->exists = (uint32_t)*n_out;
	}
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
