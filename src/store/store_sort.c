/* The SORT and THREAD key cache (store_sort.h): table msg_sort, one small
 * row per message keyed like msg_cache (STORE_CACHE_KEY).  It is a table
 * of its own rather than columns of msg_cache: a SORT reads every row of
 * the mailbox, and msg_cache rows carry ~1.5 KB of ENVELOPE and
 * BODYSTRUCTURE each (100,000 of them are 150 MB to page through; the
 * sort rows are under 10 MB).  Triggers (store_index.c, the migration that added msg_sort) delete
 * a row with its message and carry it along a MOVE; COPY copies it. */
#include "store/store_sort.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mime/mime.h"
#include "mime/mime_subject.h"
#include "store/store_imap.h"
#include "store/store_private.h"

/* Rows filled per transaction when old messages are parsed for a SORT. */
#define SORT_FILL_BATCH 1000

enum { K_SUBJECT, K_FROM, K_TO, K_CC, K_DFROM, K_DTO, K_MSGID, K_REFS, K_COUNT };

/* Appends at most max octets of s, cut at a UTF-8 character boundary,
 * and a NUL. */
static void
put_cut(struct buf *b, const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	buf_append(b, s, n);
	buf_append(b, "", 1);
}

/* Appends the msg-ids of s ("<id>", RFC 5322 3.6.4; anything else between
 * them is skipped) to out without their brackets, space-separated; at
 * most one when first. */
static void
msgids(const char *s, struct buf *out, bool first)
{
	while (s != NULL && (s = strchr(s, '<')) != NULL) {
		size_t n = strcspn(s + 1, "<> \t\r\n");

		if (s[1 + n] != '>' || n == 0) {
			s++;
			continue;
		}
		if (out->len > 0)
			buf_append(out, " ", 1);
		buf_append(out, s + 1, n);
		if (first)
			return;
		s += n + 2;
	}
}

void
store_sort_keys_make(const struct mime_envelope *env, int64_t sent_date, struct store_sort_keys *k,
                     char **strings_out)
{
	struct arena *a = arena_new(4096, false);
	struct buf b = BUF_INIT, ids = BUF_INIT;
	const char *v[K_COUNT], *refs;
	size_t off[K_COUNT], i;
	bool reply = false;

	memset(k, 0, sizeof(*k));
	v[K_SUBJECT] = mime_base_subject(env != NULL ? env->subject : NULL, a, &reply);
	v[K_FROM] = mime_sort_mailbox(env != NULL ? env->from : NULL);
	v[K_TO] = mime_sort_mailbox(env != NULL ? env->to : NULL);
	v[K_CC] = mime_sort_mailbox(env != NULL ? env->cc : NULL);
	v[K_DFROM] = mime_sort_display(env != NULL ? env->from : NULL, a);
	v[K_DTO] = mime_sort_display(env != NULL ? env->to : NULL, a);
	msgids(env != NULL ? env->message_id : NULL, &ids, true);
	buf_append(&ids, "", 1);
	v[K_MSGID] = arena_strdup(a, ids.data);
	/* RFC 5256 4 step 1.A: References, else In-Reply-To's first msg-id */
	buf_reset(&ids);
	msgids(env != NULL ? env->references : NULL, &ids, false);
	if (ids.len == 0)
		msgids(env != NULL ? env->in_reply_to : NULL, &ids, true);
	buf_append(&ids, "", 1);
	refs = ids.data;
	if (ids.len - 1 > STORE_SORT_REFS_MAX) {
		/* keep the last ones, starting at an id */
		refs = ids.data + (ids.len - 1 - STORE_SORT_REFS_MAX);
		refs = strchr(refs, ' ') != NULL ? strchr(refs, ' ') + 1 : "";
	}
	v[K_REFS] = refs;
	for (i = 0; i < K_COUNT; i++) {
		off[i] = b.len;
		put_cut(&b, v[i], i == K_REFS ? STORE_SORT_REFS_MAX : STORE_SORT_KEY_MAX);
	}
	for (i = K_SUBJECT; i <= K_DTO; i++)
		mime_casemap_fold(b.data + off[i]);
	k->sent_date = sent_date;
	k->reply = reply;
	k->subject = b.data + off[K_SUBJECT];
	k->from = b.data + off[K_FROM];
	k->to = b.data + off[K_TO];
	k->cc = b.data + off[K_CC];
	k->display_from = b.data + off[K_DFROM];
	k->display_to = b.data + off[K_DTO];
	k->message_id = b.data + off[K_MSGID];
	k->references = b.data + off[K_REFS];
	*strings_out = b.data;  /* the buffer's storage is the caller's now */
	buf_free(&ids);
	arena_free(&a);
}

int
store_sort_put(struct store *st, int64_t mailbox_id, uint32_t uid, const struct store_sort_keys *k)
{
	sqlite3_stmt *s = store_stmt(st, STMT_SORT_PUT);
	const char *v[K_COUNT] = { k->subject, k->from, k->to, k->cc, k->display_from, k->display_to,
		                   k->message_id, k->references };
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, k->sent_date);
	sqlite3_bind_int(s, 4, k->reply);
	for (int i = 0; i < K_COUNT; i++)
		sqlite3_bind_text(s, 5 + i, v[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "sort cache: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

int
store_sort_copy(struct store *st, int64_t from_key, int64_t to_key)
{
	sqlite3_stmt *s = store_stmt(st, STMT_SORT_COPY);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, from_key);
	sqlite3_bind_int64(s, 2, to_key);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "sort cache copy: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* --- store_sort_get --- */

struct missing {
	size_t idx;                    /* into the output */
	char file[STORE_FILE_NAME_MAX + 1];
};

/* Column i of s in the arena when want has bit, else "". */
static const char *
col(struct arena *a, sqlite3_stmt *s, int i, unsigned want, unsigned bit)
{
	const char *t;

	if ((want & bit) == 0 || (t = (const char *)sqlite3_column_text(s, i)) == NULL)
		return "";
	return arena_strdup(a, t);
}

static sqlite3_stmt *
prepare(struct store *st, const char *sql)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_errorf(st, "sort: %s", sqlite3_errmsg(st->db));
		return NULL;
	}
	return s;
}

/* Reads the rows: the messages in uids that exist, with their cached keys
 * or, for those without, their file in miss.  The messages and their
 * sort rows are two range scans merged here, both in UID order: a join
 * would look each sort row up on its own (100,000 B-tree searches). */
static int
read_rows(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t n, unsigned want,
          struct store_sort_list *out, struct missing *miss, size_t *n_miss)
{
	sqlite3_stmt *m = prepare(st, "SELECT uid, size, internal_date, file FROM messages"
	                              " WHERE mailbox_id = ?1 AND uid BETWEEN ?2 AND ?3 ORDER BY uid");
	sqlite3_stmt *k = prepare(st, "SELECT id & 4294967295, sent_date, reply, subject, from_mbox, to_mbox, cc_mbox,"
	                              " from_display, to_display, message_id, refs FROM msg_sort"
	                              " WHERE id BETWEEN ?1 AND ?2 ORDER BY id");
	int64_t k_uid = -1;             /* the sort row k is on; INT64_MAX past the last */
	size_t j = 0;
	int rc = SQLITE_ERROR, krc;
	bool said = m == NULL || k == NULL;  /* the error is in errbuf already */

	if (said)
		goto done;
	sqlite3_bind_int64(m, 1, mailbox_id);
	sqlite3_bind_int64(m, 2, uids[0]);
	sqlite3_bind_int64(m, 3, uids[n - 1]);
	sqlite3_bind_int64(k, 1, STORE_CACHE_KEY(mailbox_id, uids[0]));
	sqlite3_bind_int64(k, 2, STORE_CACHE_KEY(mailbox_id, uids[n - 1]));
	while ((rc = sqlite3_step(m)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(m, 0);
		struct store_sort_msg *x;

		while (j < n && uids[j] < uid)
			j++;
		if (j == n)
			break;
		if (uids[j] != uid)
			continue;
		x = &out->msgs[out->n++];
		x->uid = uid;
		x->size = (uint64_t)sqlite3_column_int64(m, 1);
		x->internal_date = sqlite3_column_int64(m, 2);
		while (k_uid < uid) {
			if ((krc = sqlite3_step(k)) == SQLITE_ROW) {
				k_uid = sqlite3_column_int64(k, 0);
			} else if (krc == SQLITE_DONE) {
				k_uid = INT64_MAX;
			} else {
				rc = krc;
				goto done;
			}
		}
		if (k_uid != uid) {
			const char *f = (const char *)sqlite3_column_text(m, 3);
			size_t flen = (size_t)sqlite3_column_bytes(m, 3);

			if (f == NULL || !store_file_name_ok(f, flen)) {
				store_errorf(st, "%s/index.db: bad file name for UID %u", st->dir, uid);
				rc = SQLITE_ERROR;
				said = true;
				goto done;
			}
			miss[*n_miss].idx = out->n - 1;
			memcpy(miss[*n_miss].file, f, flen + 1);
			(*n_miss)++;
			continue;
		}
		x->k.sent_date = sqlite3_column_int64(k, 1);
		x->k.reply = sqlite3_column_int(k, 2) != 0;
		x->k.subject = col(out->arena, k, 3, want, STORE_SORT_SUBJECT);
		x->k.from = col(out->arena, k, 4, want, STORE_SORT_FROM);
		x->k.to = col(out->arena, k, 5, want, STORE_SORT_TO);
		x->k.cc = col(out->arena, k, 6, want, STORE_SORT_CC);
		x->k.display_from = col(out->arena, k, 7, want, STORE_SORT_DISPLAY_FROM);
		x->k.display_to = col(out->arena, k, 8, want, STORE_SORT_DISPLAY_TO);
		x->k.message_id = col(out->arena, k, 9, want, STORE_SORT_IDS);
		x->k.references = col(out->arena, k, 10, want, STORE_SORT_IDS);
	}
	if (rc == SQLITE_ROW)
		rc = SQLITE_DONE;       /* stopped after the last UID asked for */
done:
	if (rc != SQLITE_DONE && !said)
		store_errorf(st, "sort: %s", sqlite3_errmsg(st->db));
	sqlite3_finalize(m);
	sqlite3_finalize(k);
	return rc == SQLITE_DONE ? 0 : -1;
}

static const char *
dup_if(struct arena *a, const char *s, unsigned want, unsigned bit)
{
	return (want & bit) != 0 ? arena_strdup(a, s) : "";
}

static void
keys_copy(struct arena *a, struct store_sort_keys *to, const struct store_sort_keys *from, unsigned want)
{
	*to = *from;
	to->subject = dup_if(a, from->subject, want, STORE_SORT_SUBJECT);
	to->from = dup_if(a, from->from, want, STORE_SORT_FROM);
	to->to = dup_if(a, from->to, want, STORE_SORT_TO);
	to->cc = dup_if(a, from->cc, want, STORE_SORT_CC);
	to->display_from = dup_if(a, from->display_from, want, STORE_SORT_DISPLAY_FROM);
	to->display_to = dup_if(a, from->display_to, want, STORE_SORT_DISPLAY_TO);
	to->message_id = dup_if(a, from->message_id, want, STORE_SORT_IDS);
	to->references = dup_if(a, from->references, want, STORE_SORT_IDS);
}

/* Parses the messages without a row and writes their rows (with their
 * message cache rows: the same parse gives both), SORT_FILL_BATCH per
 * transaction.  The rows are derived data: a write that fails is not an
 * error for the caller, and synchronous=NORMAL as for the cache fill.  A
 * file gone meanwhile (expunged) leaves the message with empty keys. */
static void
fill(struct store *st, int64_t mailbox_id, unsigned want, struct store_sort_list *out, const struct missing *miss,
     size_t n)
{
	size_t i = 0;

	store_exec(st, "PRAGMA synchronous=NORMAL");
	while (i < n) {
		size_t end = i + SORT_FILL_BATCH < n ? i + SORT_FILL_BATCH : n;
		bool ok = store_exec(st, "BEGIN IMMEDIATE") == SQLITE_OK;

		for (; i < end; i++) {
			struct store_sort_msg *m = &out->msgs[miss[i].idx];
			struct store_parsed p;

			if (store_parse_file(st, NULL, miss[i].file, &p) == -1) {
				struct store_sort_keys empty = { 0, false, "", "", "", "", "", "", "", "" };

				m->k = empty;
				continue;
			}
			keys_copy(out->arena, &m->k, &p.sort, want);
			if (ok)
				ok = store_cache_put(st, mailbox_id, m->uid, &p) == 0;
			store_parsed_free(&p);
		}
		if (!ok || store_exec(st, "COMMIT") != SQLITE_OK)
			store_rollback(st);
	}
	store_exec(st, "PRAGMA synchronous=FULL");
}

int
store_sort_get(struct store *st, const char *mailbox, const uint32_t *uids, size_t n, unsigned want,
               struct store_sort_list *out, const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	const char *name = store_name_canon(mailbox, canon, sizeof(canon));
	struct store_mailbox_row mb;
	struct missing *miss = NULL;
	size_t n_miss = 0;
	int r, ret = STORE_ERR_TEMP;

	memset(out, 0, sizeof(*out));
	out->arena = arena_new(65536, false);
	out->msgs = xcalloc(n + 1, sizeof(*out->msgs));
	if (n == 0)
		return STORE_OK;
	miss = xmalloc(n * sizeof(*miss));
	if (store_exec(st, "BEGIN") != SQLITE_OK)
		goto fail;
	if ((r = store_mailbox_get(st, name, &mb)) != 1) {
		if (r == 0) {
			store_errorf(st, "no mailbox %s", name);
			ret = STORE_IMAP_NONEXISTENT;
		}
		goto fail;
	}
	if (read_rows(st, mb.id, uids, n, want, out, miss, &n_miss) == -1)
		goto fail;
	store_exec(st, "COMMIT");
	if (n_miss > 0)
		fill(st, mb.id, want, out, miss, n_miss);
	free(miss);
	return STORE_OK;
fail:
	store_rollback(st);
	free(miss);
	store_sort_list_free(out);
	*error_out = st->errbuf;
	return ret;
}

void
store_sort_list_free(struct store_sort_list *l)
{
	free(l->msgs);
	arena_free(&l->arena);
	memset(l, 0, sizeof(*l));
}
