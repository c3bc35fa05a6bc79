/* Messages coming into a mailbox from IMAP: APPEND (MULTIAPPEND), COPY and
 * MOVE (RFC 6851), and the usage QUOTA reports (RFC 9208).
 *
 * APPEND is delivery with flags, keywords, a date and a quota check
 * (store_insert_batch): the session's spool files, already fsynced by
 * store_spool_commit, are linked into msg/, msg/ is fsynced, then one
 * transaction inserts every row.
 *
 * COPY gives each new row a hard link of its own to the same immutable
 * file (so that expunging either copy unlinks only its name), fsyncs msg/
 * and then commits.  MOVE needs no file work at all: the row, its cache
 * row and its full-text entry change mailbox and UID, and the source gets
 * its expunged (VANISHED) rows, all in one transaction. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/reserve.h"
#include "store/store_fts.h"
#include "store/store_private.h"

/* One message to insert: its spool file (its own size, whatever path the
 * bytes took to it), flags and keywords checked and normalised into d.
 * Returns STORE_OK or an error with the reason in st->errbuf;
 * d->keywords is malloc'd (the caller frees it either way). */
static int
delivery_from(struct store *st, const struct store_spool *sp, uint32_t flags, const char *keywords,
              int64_t internal_date, struct store_delivery *d)
{
	char kw[STORE_KEYWORDS_BUF];
	struct stat sb;
	int r;

	if (sp == NULL || sp->fd < 0 || sp->path[0] == '\0') {
		store_errorf(st, "no spool file");
		return STORE_ERR_TEMP;
	}
	if (fstat(sp->fd, &sb) == -1) {
		store_errorf(st, "fstat %s: %s", sp->path, strerror(errno));
		return STORE_ERR_TEMP;
	}
	if ((flags & ~(uint32_t)STORE_FLAGS_ALL) != 0) {
		store_errorf(st, "unknown flag bits 0x%x", flags);
		return STORE_IMAP_BADNAME;
	}
	if ((r = store_keywords_normalize(keywords, kw)) != STORE_OK) {
		store_errorf(st, r == STORE_IMAP_LIMIT ? "too many or too long keywords" : "not a valid keyword");
		return r;
	}
	if (kw[0] != '\0' && (d->keywords = strdup(kw)) == NULL) {
		store_errorf(st, "out of memory");
		return STORE_ERR_TEMP;
	}
	d->spool_path = sp->path;
	d->size = (uint64_t)sb.st_size;
	d->internal_date = internal_date;
	d->flags = flags;
	return STORE_OK;
}

int
store_imap_append(struct store *st, const char *mailbox, struct store_append *a, size_t n, uint64_t quota_bytes,
                  uint64_t quota_messages, uint32_t *uidvalidity_out, const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	const char *name = store_name_canon(mailbox, canon, sizeof(canon));
	struct store_delivery *d;
	size_t i;
	int r = STORE_ERR_TEMP;

	if (n == 0) {
		*error_out = store_errorf(st, "nothing to append");
		return STORE_ERR_TEMP;
	}
	if ((d = calloc(n > 0 ? n : 1, sizeof(*d))) == NULL) {
		*error_out = store_errorf(st, "out of memory");
		return STORE_ERR_TEMP;
	}
	for (i = 0; i < n; i++) {
		r = delivery_from(st, a[i].spool, a[i].flags, a[i].keywords, a[i].internal_date, &d[i]);
		if (r != STORE_OK)
			goto done;
	}
	r = store_insert_batch(st, name, d, n, quota_bytes, quota_messages, uidvalidity_out);
	if (r == STORE_OK) {
		for (i = 0; i < n; i++)
			a[i].uid_out = d[i].uid_out;
	}
done:
	for (i = 0; i < n; i++)
		free((char *)d[i].keywords);
	free(d);
	if (r != STORE_OK)
		*error_out = st->errbuf;
	return r;
}

/* RFC 1939 section 7: 1 to 70 characters from 0x21 to 0x7E. */
static bool
uidl_ok(const char *u)
{
	size_t len = strlen(u);

	if (len == 0 || len > STORE_UIDL_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)u[i] < 0x21 || (unsigned char)u[i] > 0x7e)
			return false;
	}
	return true;
}

int
store_imap_import(struct store *st, const char *mailbox, uint32_t uidvalidity, uint32_t uidnext,
                  struct store_import *m, size_t n, uint64_t quota_bytes, uint64_t quota_messages,
                  const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	const char *name = store_name_canon(mailbox, canon, sizeof(canon));
	struct store_delivery *d;
	size_t i;
	int r = STORE_ERR_TEMP;

	if (n == 0 && uidnext == 0) {
		*error_out = store_errorf(st, "nothing to import");
		return STORE_ERR_TEMP;
	}
	if (uidvalidity == 0) {
		*error_out = store_errorf(st, "import: UIDVALIDITY 0");
		return STORE_IMAP_BADNAME;
	}
	if ((d = calloc(n, sizeof(*d))) == NULL) {
		*error_out = store_errorf(st, "out of memory");
		return STORE_ERR_TEMP;
	}
	for (i = 0; i < n; i++) {
		r = STORE_IMAP_BADNAME;
		if (m[i].uid == 0) {
			store_errorf(st, "import: UID 0");
			goto done;
		}
		if (m[i].pop3_uidl != NULL && !uidl_ok(m[i].pop3_uidl)) {
			store_errorf(st, "UID %u: not a valid POP3 UIDL", m[i].uid);
			goto done;
		}
		r = delivery_from(st, m[i].spool, m[i].flags, m[i].keywords, m[i].internal_date, &d[i]);
		if (r != STORE_OK)
			goto done;
		d[i].uid = m[i].uid;
		d[i].pop3_uidl = m[i].pop3_uidl;
	}
	r = store_import_batch(st, name, d, n, uidvalidity, uidnext, quota_bytes, quota_messages);
	if (r == STORE_OK) {
		for (i = 0; i < n; i++)
			m[i].skipped_out = d[i].skipped_out;
	}
done:
	for (i = 0; i < n; i++)
		free((char *)d[i].keywords);
	free(d);
	if (r != STORE_OK)
		*error_out = st->errbuf;
	return r;
}

static int
step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "%s: %s", what, sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* One message of a COPY: a new row with the new link, its cache row and
 * its full-text entry. */
static int
copy_row(struct store *st, const struct store_mailbox_row *from, const struct store_mailbox_row *to,
         const struct store_imap_msg *m, uint32_t uid, uint64_t modseq, const char *file)
{
	sqlite3_stmt *s = store_stmt(st, STMT_MSG_INSERT);
	char emailid[STORE_EMAILID_MAX + 1];

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, to->id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)modseq);
	sqlite3_bind_int64(s, 4, m->internal_date);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)m->size);
	sqlite3_bind_text(s, 6, file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, m->flags);
	sqlite3_bind_text(s, 8, m->keywords, -1, SQLITE_STATIC);
	store_imap_emailid(m, emailid);
	sqlite3_bind_text(s, 10, emailid, -1, SQLITE_STATIC);
	if (step_done(st, s, "copy") == -1)
		return -1;
	if ((s = store_stmt(st, STMT_CACHE_COPY)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, STORE_CACHE_KEY(from->id, m->uid));
	sqlite3_bind_int64(s, 2, STORE_CACHE_KEY(to->id, uid));
	if (step_done(st, s, "copy cache") == -1)
		return -1;
	if (store_sort_copy(st, STORE_CACHE_KEY(from->id, m->uid), STORE_CACHE_KEY(to->id, uid)) == -1)
		return -1;
	return store_fts_copy(st, from->id, m->uid, to->id, uid);
}

int
store_move_row(struct store *st, const struct store_mailbox_row *from, const struct store_mailbox_row *to,
         uint32_t old_uid, uint32_t uid, uint64_t modseq, uint64_t src_modseq)
{
	sqlite3_stmt *s = store_stmt(st, STMT_IMSG_MOVE);

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, from->id);
	sqlite3_bind_int64(s, 2, old_uid);
	sqlite3_bind_int64(s, 3, to->id);
	sqlite3_bind_int64(s, 4, uid);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)modseq);
	if (step_done(st, s, "move") == -1)
		return -1;
	if ((s = store_stmt(st, STMT_CACHE_MOVE)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, STORE_CACHE_KEY(from->id, old_uid));
	sqlite3_bind_int64(s, 2, STORE_CACHE_KEY(to->id, uid));
	if (step_done(st, s, "move cache") == -1)
		return -1;
	if ((s = store_stmt(st, STMT_EXPUNGED_INSERT)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, from->id);
	sqlite3_bind_int64(s, 2, old_uid);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)src_modseq);
	if (step_done(st, s, "move") == -1)
		return -1;
	if (store_fts_copy(st, from->id, old_uid, to->id, uid) == -1 || store_fts_delete(st, from->id, old_uid) == -1)
		return -1;
	return 0;
}

static int
usage_read(struct store *st, uint64_t *bytes, uint64_t *messages)
{
	sqlite3_stmt *s = store_stmt(st, STMT_USAGE);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*bytes = (uint64_t)sqlite3_column_int64(s, 0);
		*messages = (uint64_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW) {
		store_errorf(st, "usage: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

static int
copy_once(struct store *st, const char *from, const char *to, const uint32_t *uids, size_t n, bool move,
          uint64_t quota_bytes, uint64_t quota_messages, uint32_t *uidvalidity_out, uint32_t **src_uids_out,
          uint32_t **dst_uids_out, size_t *n_out, bool *to_missing, const char **error_out)
{
	char canon_from[STORE_MAILBOX_NAME_MAX + 1], canon_to[STORE_MAILBOX_NAME_MAX + 1];
	const char *from_name = store_name_canon(from, canon_from, sizeof(canon_from));
	const char *to_name = store_name_canon(to, canon_to, sizeof(canon_to));
	struct store_mailbox_row src, dst, *srcp;
	struct store_imsg_vec v = { 0 };
	struct store_files links = { 0 };
	uint32_t *src_uids = NULL, *dst_uids = NULL;
	uint64_t dst_modseq, src_modseq;
	bool committing = false, guarded = false;
	int r, rc, ret = STORE_ERR_TEMP;

	*src_uids_out = *dst_uids_out = NULL;
	*n_out = 0;
	*to_missing = false;
	/* A COPY's new links have no rows until the COMMIT: the orphan scan
	 * must leave them alone.  The guard is taken before the write lock
	 * (as in store_insert_batch), never while holding it. */
	if (!move) {
		store_orphan_guard_enter(st);
		guarded = true;
	}
	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	if ((r = store_mailbox_get(st, from_name, &src)) != 1) {
		if (r == 0) {
			store_errorf(st, "no mailbox %s", from_name);
			ret = STORE_IMAP_NONEXISTENT;
		}
		goto fail;
	}
	if ((r = store_mailbox_get(st, to_name, &dst)) != 1) {
		if (r == 0) {
			store_errorf(st, "no mailbox %s", to_name);
			*to_missing = true;
			ret = STORE_IMAP_NONEXISTENT;
		}
		goto fail;
	}
	/* A copy into the same mailbox reads and writes one row of counters. */
	srcp = src.id == dst.id ? &dst : &src;
	if (store_imsg_select(st, src.id, uids, n, &v) == -1)
		goto fail;
	if (uidvalidity_out != NULL)
		*uidvalidity_out = dst.uidvalidity;
	if (v.n == 0) {
		store_rollback(st);
		if (guarded)
			store_orphan_guard_leave(st);
		return STORE_OK;
	}
	if ((uint64_t)dst.uidnext + v.n > UINT32_MAX) {
		store_errorf(st, "mailbox %s: UID space exhausted", to_name);
		goto fail;
	}
	if (!move && (quota_bytes != 0 || quota_messages != 0)) {
		uint64_t bytes = 0, messages = 0, add = 0;

		if (usage_read(st, &bytes, &messages) == -1)
			goto fail;
		for (size_t i = 0; i < v.n; i++)
			add += v.m[i].size;
		if ((quota_bytes != 0 && bytes + add > quota_bytes) ||
		    (quota_messages != 0 && messages + v.n > quota_messages)) {
			store_errorf(st, "over quota");
			ret = STORE_ERR_QUOTA;
			goto fail;
		}
	}
	if ((src_uids = malloc(v.n * sizeof(*src_uids))) == NULL ||
	    (dst_uids = malloc(v.n * sizeof(*dst_uids))) == NULL) {
		store_errorf(st, "out of memory");
		goto fail;
	}
	if (!move) {
		/* The links and msg/ are durable before the rows that name them. */
		for (size_t i = 0; i < v.n; i++) {
			char name[STORE_FILE_NAME_MAX + 1];

			if ((ret = store_link_fresh(st, NULL, v.m[i].file, name)) != STORE_OK)
				goto fail;
			ret = STORE_ERR_TEMP;
			if (store_files_add(st, &links, name) == -1) {
				unlinkat(st->msg_dirfd, name, 0);
				goto fail;
			}
		}
		if (fsync(st->msg_dirfd) == -1) {
			ret = (int)store_errno_class(errno);
			store_errorf(st, "fsync %s/msg: %s", st->dir, strerror(errno));
			goto fail;
		}
	}
	dst_modseq = dst.highestmodseq + 1;
	src_modseq = srcp == &dst ? dst_modseq : src.highestmodseq + 1;
	for (size_t i = 0; i < v.n; i++) {
		uint32_t uid = dst.uidnext + (uint32_t)i;

		src_uids[i] = v.m[i].uid;
		dst_uids[i] = uid;
		if (move)
			r = store_move_row(st, &src, &dst, v.m[i].uid, uid, dst_modseq, src_modseq);
		else
			r = copy_row(st, &src, &dst, &v.m[i], uid, dst_modseq, links.names[i]);
		if (r == -1)
			goto sqlfail;
	}
	dst.uidnext += (uint32_t)v.n;
	dst.highestmodseq = dst_modseq;
	if (store_mailbox_set_counters(st, &dst) == -1)
		goto sqlfail;
	if (move && srcp == &src) {
		src.highestmodseq = src_modseq;
		if (store_mailbox_set_counters(st, &src) == -1)
			goto sqlfail;
	}
	committing = true;
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	if (guarded)
		store_orphan_guard_leave(st);
	store_files_free(&links);
	store_change_notify(st, to_name, dst.highestmodseq);
	if (move && srcp == &src)
		store_change_notify(st, from_name, src.highestmodseq);
	*src_uids_out = src_uids;
	*dst_uids_out = dst_uids;
	*n_out = v.n;
	store_imap_msgs_free(v.m, v.n);
	return STORE_OK;
sqlfail:
	ret = (int)store_sqlite_class(st, sqlite3_extended_errcode(st->db));
fail:
	store_rollback(st);
	/* After a failed COMMIT the rows may be on disk: keep the links. */
	if (!committing)
		store_files_unlink(st, &links);
	if (guarded)
		store_orphan_guard_leave(st);
	store_files_free(&links);
	store_imap_msgs_free(v.m, v.n);
	free(src_uids);
	free(dst_uids);
	*error_out = st->errbuf;
	return ret;
}

/* A COPY adds rows (and links) for good: refused while the disk reserve
 * is in use.  A MOVE (how many clients delete: to Trash) adds nothing for
 * good and must work on a full disk: it runs once more on the reserve
 * (lib/reserve.h). */
int
store_imap_copy(struct store *st, const char *from, const char *to, const uint32_t *uids, size_t n, bool move,
                uint64_t quota_bytes, uint64_t quota_messages, uint32_t *uidvalidity_out, uint32_t **src_uids_out,
                uint32_t **dst_uids_out, size_t *n_out, bool *to_missing, const char **error_out)
{
	int r;

	if (!move && !reserve_held(st->data_dir)) {
		*src_uids_out = *dst_uids_out = NULL;
		*n_out = 0;
		*to_missing = false;
		*error_out = store_errorf(st, "the disk is full");
		return STORE_ERR_NOSPACE;
	}
	r = copy_once(st, from, to, uids, n, move, quota_bytes, quota_messages, uidvalidity_out, src_uids_out,
	              dst_uids_out, n_out, to_missing, error_out);
	if (r == STORE_ERR_NOSPACE && move && reserve_borrow(st->data_dir)) {
		r = copy_once(st, from, to, uids, n, move, quota_bytes, quota_messages, uidvalidity_out, src_uids_out,
		              dst_uids_out, n_out, to_missing, error_out);
		reserve_return(st->data_dir);
	}
	return r;
}

int
store_usage(struct store *st, uint64_t *bytes_out, uint64_t *messages_out, const char **error_out)
{
	*bytes_out = *messages_out = 0;
	if (usage_read(st, bytes_out, messages_out) == -1) {
		*error_out = st->errbuf;
		return -1;
	}
	return 0;
}
