/* Delivery: a committed spool file becomes a message in each recipient's
 * INBOX.
 *
 * Order of work for one user, and what a crash (kill -9, power cut) at each
 * step leaves behind:
 *   1. link(2) the spool file into msg/<unix time>.<random hex>
 *   2. fsync(msg/)                      -> crash before here: maybe an orphan file
 *   3. BEGIN IMMEDIATE; take UIDs from uidnext; INSERT; bump uidnext and
 *      highestmodseq; COMMIT (synchronous=FULL: the WAL is fsynced)
 *                                       -> crash before COMMIT: an orphan file
 * A row therefore never names a missing file, and a message is visible
 * only once it is complete.  Orphan files are removed by
 * store_orphans_cleanup() (store_maint.h).  A crash after COMMIT but before
 * the SMTP reply leaves a delivered message the client will send again: the
 * duplicate every SMTP server risks (RFC 1047), never a loss.
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
 * Quota (later).  The user's quota lives in the directory, which this
 * module does not read; STORE_ERR_QUOTA is reserved for it.  The check
 * belongs in store_deliver_batch(), inside the transaction, against a size
 * sum kept in the mailboxes table. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/limits.h"
#include "store/store_private.h"

/* Links one spool file into msg/ under a fresh name. */
static int
link_one(struct store *st, struct store_delivery *d, enum store_error *err_out)
{
	for (int tries = 0; tries < STORE_NAME_TRIES; tries++) {
		store_unique_name(d->file, sizeof(d->file));
		if (linkat(AT_FDCWD, d->spool_path, st->msg_dirfd, d->file, 0) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	*err_out = store_errno_class(errno);
	store_errorf(st, "link %s into %s/msg: %s%s", d->spool_path, st->dir, strerror(errno),
	             errno == EXDEV ? " (spool/ and mail/ must be on one file system)" : "");
	d->file[0] = '\0';
	return -1;
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

static int
insert_rows(struct store *st, const struct store_mailbox_row *mb, uint64_t modseq, struct store_delivery *d,
            size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = store_stmt(st, STMT_MSG_INSERT);
		int rc;

		if (s == NULL)
			return -1;
		d[i].uid_out = mb->uidnext + (uint32_t)i;
		sqlite3_bind_int64(s, 1, mb->id);
		sqlite3_bind_int64(s, 2, d[i].uid_out);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)modseq);
		sqlite3_bind_int64(s, 4, d[i].internal_date);
		sqlite3_bind_int64(s, 5, (sqlite3_int64)d[i].size);
		sqlite3_bind_text(s, 6, d[i].file, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			store_errorf(st, "insert message: %s", sqlite3_errmsg(st->db));
			return -1;
		}
	}
	return 0;
}

int
store_deliver_batch(struct store *st, const char *mailbox, struct store_delivery *d, size_t n,
                    enum store_error *err_out, const char **error_out)
{
	struct store_mailbox_row mb;
	bool committing = false;
	size_t i;
	int rc, r;

	*err_out = STORE_ERR_TEMP;
	for (i = 0; i < n; i++)
		d[i].file[0] = '\0';
	for (i = 0; i < n; i++) {
		if (link_one(st, &d[i], err_out) == -1)
			goto fail;
	}
	if (fsync(st->msg_dirfd) == -1) {
		*err_out = store_errno_class(errno);
		store_errorf(st, "fsync %s/msg: %s", st->dir, strerror(errno));
		goto fail;
	}

	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		*err_out = store_sqlite_class(st, rc);
		goto fail;
	}
	if ((r = store_mailbox_get(st, mailbox, &mb)) != 1) {
		if (r == 0)
			store_errorf(st, "no mailbox %s", mailbox);
		goto sqlfail;
	}
	if ((uint64_t)mb.uidnext + n > UINT32_MAX) {
		/* IMAP's answer is a new UIDVALIDITY and renumbering; at one
		 * message a second that is 136 years away. */
		store_errorf(st, "mailbox %s: UID space exhausted", mailbox);
		goto sqlfail;
	}
	mb.highestmodseq++;
	if (insert_rows(st, &mb, mb.highestmodseq, d, n) == -1)
		goto sqlfail;
	mb.uidnext += (uint32_t)n;
	if (store_mailbox_set_counters(st, &mb) == -1)
		goto sqlfail;
	committing = true;
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK) {
		*err_out = store_sqlite_class(st, rc);
		goto fail;
	}
	return 0;

sqlfail:
	*err_out = store_sqlite_class(st, sqlite3_extended_errcode(st->db));
fail:
	store_rollback(st);
	/* After a failed COMMIT the rows may have reached the disk: keep the
	 * files (orphans at worst) rather than risk rows without files. */
	if (!committing)
		unlink_all(st, d, n);
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
