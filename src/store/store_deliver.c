/* Delivery: a committed spool file becomes a message in each recipient's
 * INBOX.
 *
 * Order of work for one user, and what a crash (kill -9, power cut) at each
 * step leaves behind:
 *   1. link(2) the spool file into msg/<unix time>.<random hex>
 *   2. fsync(msg/)                      -> crash before here: maybe an orphan file
 *   0. parse the message once (mime_parse) for the cache: ENVELOPE,
 *      BODYSTRUCTURE, BODY, header size, Date (store_imap_cache.c)
 *   3. BEGIN IMMEDIATE; take UIDs from uidnext; INSERT the row, its cache
 *      row and its full-text entry (store_fts_index); bump uidnext and
 *      highestmodseq; COMMIT (synchronous=FULL: the WAL is fsynced);
 *      then the change hook
 *                                       -> crash before COMMIT: an orphan file
 * A row therefore never names a missing file, and a message is visible
 * only once it is complete.  Orphan files are removed by
 * store_orphans_remove() (store_maint.h); steps 1 to 3 hold the user's
 * orphan guard, so it never takes a file of a delivery in progress.  A
 * crash after COMMIT but before the SMTP reply leaves a delivered message
 * the client will send again: the duplicate every SMTP server risks
 * (RFC 1047), never a loss.
 *
 * Group commit (later).  store_deliver_batch() already takes a list of
 * messages for one mailbox and does one fsync of msg/ and one transaction
 * for all of them.  A batching layer would sit between the SMTP sessions'
 * worker jobs and this file: it collects committed spool files for a few
 * milliseconds (or until N are waiting), groups them by recipient, calls
 * store_deliver_batch() once per user, and only then completes each job so
 * its session sends 250.  The spool side would batch the same way (one
 * fsync of spool/ for many store_spool_commit() calls).  Nothing here
 * changes for that: only the caller.
 *
 * Quota.  The user's quota lives in the directory, which this module does
 * not read: store_insert_batch() checks limits its caller passes (IMAP
 * APPEND), inside the transaction, against the per-mailbox sums the
 * triggers keep.  SMTP delivery passes none yet. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/limits.h"
#include "lib/metrics.h"
#include "lib/reserve.h"
#include "store/store_fts.h"
#include "store/store_private.h"

int
store_link_fresh(struct store *st, const char *path, const char *src, char *name)
{
	for (int tries = 0; tries < STORE_NAME_TRIES; tries++) {
		int r;

		store_unique_name(name, STORE_FILE_NAME_MAX + 1);
		if (path != NULL)
			r = linkat(AT_FDCWD, path, st->msg_dirfd, name, 0);
		else
			r = linkat(st->msg_dirfd, src, st->msg_dirfd, name, 0);
		if (r == 0)
			return STORE_OK;
		if (errno != EEXIST)
			break;
	}
	store_errorf(st, "link %s into %s/msg: %s%s", path != NULL ? path : src, st->dir, strerror(errno),
	             errno == EXDEV ? " (spool/ and mail/ must be on one file system)" : "");
	name[0] = '\0';
	return (int)store_errno_class(errno);
}

static void
unlink_all(struct store *st, struct store_delivery *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (d[i].file[0] != '\0')
			unlinkat(st->msg_dirfd, d[i].file, 0);
		d[i].file[0] = '\0';
	}
}

static void
parsed_free_all(struct store_delivery *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_parsed_free(&d[i].parsed);
}

/* Inserts the rows, their cache and their full-text entries. */
static int
insert_rows(struct store *st, const struct store_mailbox_row *mb, uint64_t modseq, struct store_delivery *d,
            size_t n)
{
	uint32_t next = mb->uidnext;

	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s;
		int rc;

		if (d[i].skipped_out)
			continue;
		if ((s = store_stmt(st, STMT_MSG_INSERT)) == NULL)
			return -1;
		d[i].uid_out = d[i].uid != 0 ? d[i].uid : next;
		next = d[i].uid_out + 1;
		sqlite3_bind_int64(s, 1, mb->id);
		sqlite3_bind_int64(s, 2, d[i].uid_out);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)modseq);
		sqlite3_bind_int64(s, 4, d[i].internal_date);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)d[i].size);
		sqlite3_bind_text(s, 6, d[i].file, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 7, d[i].flags);
		if (d[i].keywords != NULL)
			sqlite3_bind_text(s, 8, d[i].keywords, -1, SQLITE_STATIC);
		if (d[i].pop3_uidl != NULL)
			sqlite3_bind_text(s, 9, d[i].pop3_uidl, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			store_errorf(st, "insert message: %s", sqlite3_errmsg(st->db));
			return -1;
		}
		if (store_cache_put(st, mb->id, d[i].uid_out, &d[i].parsed) == -1)
			return -1;
	}
	/* The full-text rows come from the indexer thread after the COMMIT
	 * (store_fts_async.c): indexing took two thirds of a delivery's time,
	 * and a SEARCH indexes whatever is still missing before it looks, so
	 * results are complete either way. */
	return 0;
}

/* Usage after adding n messages of d against the limits (0: none). */
static int
quota_check(struct store *st, const struct store_delivery *d, size_t n, uint64_t quota_bytes,
            uint64_t quota_messages)
{
	uint64_t bytes = 0, messages = 0, add = 0, count = 0;
	sqlite3_stmt *s;
	int rc;

	if (quota_bytes == 0 && quota_messages == 0)
		return STORE_OK;
	if ((s = store_stmt(st, STMT_USAGE)) == NULL)
		return STORE_ERR_TEMP;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		bytes = (uint64_t)sqlite3_column_int64(s, 0);
		messages = (uint64_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW) {
		store_errorf(st, "usage: %s", sqlite3_errmsg(st->db));
		return STORE_ERR_TEMP;
	}
	for (size_t i = 0; i < n; i++) {
		if (!d[i].skipped_out) {
			add += d[i].size;
			count++;
		}
	}
	if ((quota_bytes != 0 && bytes + add > quota_bytes) ||
	    (quota_messages != 0 && messages + count > quota_messages)) {
		store_errorf(st, "over quota: %" PRIu64 " of %" PRIu64 " bytes and %" PRIu64 " of %" PRIu64
		             " messages used, %" PRIu64 " bytes more wanted", bytes, quota_bytes, messages,
		             quota_messages, add);
		return STORE_ERR_QUOTA;
	}
	return STORE_OK;
}

/* An import's UIDVALIDITY and UIDNEXT for the mailbox (insert_batch). */
struct import_ids {
	uint32_t uidvalidity;
	uint32_t uidnext;
};

/* Import: takes over imp's UIDVALIDITY when mb has none of its messages
 * under another one, marks the messages whose UID is below mb's UIDNEXT
 * skipped (given out already), and checks the others ascend.  Returns
 * STORE_OK, STORE_IMAP_UIDVALIDITY or STORE_ERR_TEMP. */
static int
import_prepare(struct store *st, const char *mailbox, struct store_mailbox_row *mb, const struct import_ids *imp,
               struct store_delivery *d, size_t n, uint32_t *last_out)
{
	uint32_t last = 0;

	if (mb->uidvalidity != imp->uidvalidity) {
		sqlite3_stmt *s;
		int rc;

		if (mb->messages > 0) {
			store_errorf(st, "mailbox %s holds %u messages under UIDVALIDITY %u, not %u: not changed",
			             mailbox, mb->messages, mb->uidvalidity, imp->uidvalidity);
			return STORE_IMAP_UIDVALIDITY;
		}
		/* An empty mailbox: its old UIDs name nothing any more. */
		if (sqlite3_prepare_v2(st->db, "UPDATE mailboxes SET uidvalidity = ?2, uidnext = 1 WHERE id = ?1", -1, &s,
		                       NULL) != SQLITE_OK) {
			store_errorf(st, "prepare: %s", sqlite3_errmsg(st->db));
			return STORE_ERR_TEMP;
		}
		sqlite3_bind_int64(s, 1, mb->id);
		sqlite3_bind_int64(s, 2, imp->uidvalidity);
		rc = sqlite3_step(s);
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE || (s = store_stmt(st, STMT_EXPUNGED_DELETE_ALL)) == NULL) {
			store_errorf(st, "uidvalidity: %s", sqlite3_errmsg(st->db));
			return STORE_ERR_TEMP;
		}
		sqlite3_bind_int64(s, 1, mb->id);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			store_errorf(st, "uidvalidity: %s", sqlite3_errmsg(st->db));
			return STORE_ERR_TEMP;
		}
		mb->uidvalidity = imp->uidvalidity;
		mb->uidnext = 1;
	}
	for (size_t i = 0; i < n; i++) {
		d[i].skipped_out = d[i].uid < mb->uidnext;
		if (d[i].skipped_out)
			continue;
		if (d[i].uid <= last) {
			store_errorf(st, "import: UID %u after %u", d[i].uid, last);
			return STORE_ERR_TEMP;
		}
		last = d[i].uid;
	}
	*last_out = last;
	return STORE_OK;
}

static int
insert_batch(struct store *st, const char *mailbox, struct store_delivery *d, size_t n, uint64_t quota_bytes,
             uint64_t quota_messages, uint32_t *uidvalidity_out, const struct import_ids *imp)
{
	struct store_mailbox_row mb;
	uint32_t last = 0;
	bool committing = false, guarded = false;
	struct timespec t0, t1;
	int ret = STORE_ERR_TEMP;
	size_t i;
	int rc, r;

	for (i = 0; i < n; i++) {
		d[i].file[0] = '\0';
		d[i].skipped_out = false;
		if (imp == NULL)
			d[i].uid = 0;
		memset(&d[i].parsed, 0, sizeof(d[i].parsed));
	}
	/* While a delete uses the disk reserve, or the reserve cannot be
	 * made again, new mail would take the space deletes free. */
	if (!reserve_held(st->data_dir)) {
		store_errorf(st, "the disk is full");
		return STORE_ERR_NOSPACE;
	}
	/* Parse before taking the write lock: other writers of this user do
	 * not wait for it. */
	for (i = 0; i < n; i++) {
		if (store_parse_file(st, d[i].spool_path, NULL, &d[i].parsed) == -1)
			goto fail;
	}
	/* From the first link to the COMMIT the files have no rows: the
	 * orphan scan must leave them alone. */
	store_orphan_guard_enter(st);
	guarded = true;
	for (i = 0; i < n; i++) {
		if ((ret = store_link_fresh(st, d[i].spool_path, NULL, d[i].file)) != STORE_OK)
			goto fail;
	}
	ret = STORE_ERR_TEMP;
	if (n > 0 && fsync(st->msg_dirfd) == -1) {
		ret = (int)store_errno_class(errno);
		store_errorf(st, "fsync %s/msg: %s", st->dir, strerror(errno));
		goto fail;
	}

	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	if ((r = store_mailbox_get(st, mailbox, &mb)) != 1) {
		if (r == 0) {
			store_errorf(st, "no mailbox %s", mailbox);
			ret = STORE_IMAP_NONEXISTENT;
			goto fail;
		}
		goto sqlfail;
	}
	if (imp != NULL && (ret = import_prepare(st, mailbox, &mb, imp, d, n, &last)) != STORE_OK)
		goto fail;
	if ((ret = quota_check(st, d, n, quota_bytes, quota_messages)) != STORE_OK)
		goto fail;
	ret = STORE_ERR_TEMP;
	if (imp == NULL && (uint64_t)mb.uidnext + n > UINT32_MAX) {
		/* IMAP's answer is a new UIDVALIDITY and renumbering; at one
		 * message a second that is 136 years away. */
		store_errorf(st, "mailbox %s: UID space exhausted", mailbox);
		goto fail;
	}
	if (n > 0)
		mb.highestmodseq++;     /* an import's final UIDNEXT alone changes no message */
	if (insert_rows(st, &mb, mb.highestmodseq, d, n) == -1)
		goto sqlfail;
	if (imp == NULL) {
		mb.uidnext += (uint32_t)n;
	} else {
		if (last != 0 && last + 1 > mb.uidnext)
			mb.uidnext = last + 1;
		if (imp->uidnext > mb.uidnext)
			mb.uidnext = imp->uidnext;
	}
	if (store_mailbox_set_counters(st, &mb) == -1)
		goto sqlfail;
	committing = true;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = store_exec(st, "COMMIT");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_store_commit((uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	if (rc != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	store_orphan_guard_leave(st);
	parsed_free_all(d, n);
	/* Imported messages found already there: their links are spare. */
	for (i = 0; i < n; i++) {
		if (d[i].skipped_out && d[i].file[0] != '\0') {
			unlinkat(st->msg_dirfd, d[i].file, 0);
			d[i].file[0] = '\0';
		}
	}
	if (uidvalidity_out != NULL)
		*uidvalidity_out = mb.uidvalidity;
	store_change_notify(st, store_mailbox_canon(mailbox), mb.highestmodseq);
	store_fts_async_note(st->data_dir, st->user, mb.id);
	return STORE_OK;

sqlfail:
	ret = (int)store_sqlite_class(st, sqlite3_extended_errcode(st->db));
fail:
	store_rollback(st);
	parsed_free_all(d, n);
	/* After a failed COMMIT the rows may have reached the disk: keep the
	 * files (orphans at worst) rather than risk rows without files. */
	if (!committing)
		unlink_all(st, d, n);
	if (guarded)
		store_orphan_guard_leave(st);
	return ret;
}

int
store_insert_batch(struct store *st, const char *mailbox, struct store_delivery *d, size_t n,
                   uint64_t quota_bytes, uint64_t quota_messages, uint32_t *uidvalidity_out)
{
	return insert_batch(st, mailbox, d, n, quota_bytes, quota_messages, uidvalidity_out, NULL);
}

int
store_import_batch(struct store *st, const char *mailbox, struct store_delivery *d, size_t n,
                   uint32_t uidvalidity, uint32_t uidnext, uint64_t quota_bytes, uint64_t quota_messages)
{
	struct import_ids imp = { uidvalidity, uidnext };

	return insert_batch(st, mailbox, d, n, quota_bytes, quota_messages, NULL, &imp);
}

int
store_deliver_batch(struct store *st, const char *mailbox, struct store_delivery *d, size_t n,
                    enum store_error *err_out, const char **error_out)
{
	int r = store_insert_batch(st, mailbox, d, n, 0, 0, NULL);

	if (r == STORE_OK) {
		*err_out = STORE_OK;
		return 0;
	}
	*err_out = r == STORE_ERR_NOSPACE || r == STORE_ERR_QUOTA ? (enum store_error)r : STORE_ERR_TEMP;
	*error_out = st->errbuf;
	return -1;
}

int
store_deliver(const char *data_dir, struct store_spool *sp, const char *const *users, size_t n,
              int64_t internal_date, enum store_error *err_out, const char **error_out)
{
	char first_error[STORE_ERR_MAX];
	struct stat sb;
	int ret = 0;

	*err_out = STORE_OK;
	if (sp->fd < 0 || sp->path[0] == '\0') {
		*err_out = STORE_ERR_TEMP;
		*error_out = "store_deliver: no spool file";
		return -1;
	}
	/* The file's own size, whatever path the bytes took to it. */
	if (fstat(sp->fd, &sb) == -1) {
		*err_out = STORE_ERR_TEMP;
		*error_out = store_tls_errorf("fstat %s: %s", sp->path, strerror(errno));
		return -1;
	}
	/* A failure for one user does not stop the others: the client gets
	 * one reply for all, and a retry of the whole message would duplicate
	 * it for those already delivered either way, so deliver to as many as
	 * possible.  The first failure is reported. */
	for (size_t i = 0; i < n; i++) {
		struct store_delivery d = {
			.spool_path = sp->path,
			.size = (uint64_t)sb.st_size,
			.internal_date = internal_date,
		};
		enum store_error e;
		const char *msg;
		int r;

		r = store_group_deliver(data_dir, users[i], &d, &e, &msg);
		if (r == -1 && ret == 0) {
			ret = -1;
			*err_out = e;
			snprintf(first_error, sizeof(first_error), "%.*s: %s", ADDRESS_MAX,
			         users[i] != NULL ? users[i] : "(null)", msg);
		}
	}
	if (ret == -1)
		*error_out = store_tls_errorf("%s", first_error);
	return ret;
}
