/* Reading and changing one mailbox: list, open a message, expunge, flags
 * (the POP3 side; IMAP's richer versions are store_imap_*.c).  Every
 * change runs in one BEGIN IMMEDIATE transaction, takes highestmodseq + 1
 * as its MODSEQ, is durable when it returns 0, and is announced to the
 * change hook after its COMMIT. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/reserve.h"
#include "lib/str.h"
#include "store/store_fts.h"
#include "store/store_private.h"

bool
store_file_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > STORE_FILE_NAME_MAX || name[0] == '.')
		return false;
	return memchr(name, '/', len) == NULL && memchr(name, '\0', len) == NULL;
}

static int
list_rows(struct store *st, int64_t mailbox_id, struct store_msg **msgs_out, size_t *n_out)
{
	struct store_msg *msgs = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s = store_stmt(st, STMT_MSG_LIST);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *file = (const char *)sqlite3_column_text(s, 5);
		size_t flen = (size_t)sqlite3_column_bytes(s, 5);
		struct store_msg *m;

		if (n == STORE_LIST_MAX) {
			store_errorf(st, "mailbox holds more than %d messages", STORE_LIST_MAX);
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap == 0 ? 64 : cap * 2;
			struct store_msg *nm = reallocarray(msgs, ncap, sizeof(*msgs));

			if (nm == NULL) {
				store_errorf(st, "out of memory");
				goto fail;
			}
			msgs = nm;
			cap = ncap;
		}
		m = &msgs[n++];
		memset(m, 0, sizeof(*m));
		m->uid = (uint32_t)sqlite3_column_int64(s, 0);
		m->flags = (uint32_t)sqlite3_column_int64(s, 1);
		m->modseq = (uint64_t)sqlite3_column_int64(s, 2);
		m->size = (uint64_t)sqlite3_column_int64(s, 3);
		m->internal_date = sqlite3_column_int64(s, 4);
		if (file == NULL || !store_file_name_ok(file, flen)) {
			store_errorf(st, "%s/index.db: bad file name for UID %u", st->dir, m->uid);
			goto fail;
		}
		memcpy(m->file, file, flen);
		/* store_msg comes zeroed: "" unless an import kept a UIDL */
		if (sqlite3_column_type(s, 6) == SQLITE_TEXT) {
			const char *u = (const char *)sqlite3_column_text(s, 6);
			size_t ulen = (size_t)sqlite3_column_bytes(s, 6);

			if (u != NULL && ulen <= STORE_UIDL_MAX)
				memcpy(m->pop3_uidl, u, ulen);
		}
	}
	if (rc != SQLITE_DONE) {
		store_errorf(st, "list: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	sqlite3_reset(s);
	*msgs_out = msgs;
	*n_out = n;
	return 0;
fail:
	sqlite3_reset(s);
	free(msgs);
	return -1;
}

int
store_list(struct store *st, const char *mailbox, struct store_mailbox_info *info_out,
           struct store_msg **msgs_out, size_t *n_out, const char **error_out)
{
	struct store_mailbox_row mb;
	int r;

	*msgs_out = NULL;
	*n_out = 0;
	/* One read transaction: the counters and the rows are one snapshot. */
	if (store_exec(st, "BEGIN") != SQLITE_OK)
		goto fail;
	if ((r = store_mailbox_get(st, mailbox, &mb)) != 1) {
		if (r == 0)
			store_errorf(st, "no mailbox %s", mailbox);
		goto fail;
	}
	if (list_rows(st, mb.id, msgs_out, n_out) == -1)
		goto fail;
	store_exec(st, "COMMIT");
	if (info_out != NULL) {
		info_out->id = mb.id;
		info_out->uidvalidity = mb.uidvalidity;
		info_out->uidnext = mb.uidnext;
		info_out->highestmodseq = mb.highestmodseq;
		info_out->exists = (uint32_t)*n_out;
	}
	return 0;
fail:
	store_rollback(st);
	*error_out = st->errbuf;
	return -1;
}

int
store_msg_open(struct store *st, const struct store_msg *m, const char **error_out)
{
	size_t len = strnlen(m->file, sizeof(m->file));
	int fd;

	if (len == sizeof(m->file) || !store_file_name_ok(m->file, len)) {
		*error_out = store_errorf(st, "bad message file name");
		return -1;
	}
	fd = openat(st->msg_dirfd, m->file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		int saved = errno;

		*error_out = store_errorf(st, "open %s/msg/%s: %s", st->dir, m->file, strerror(saved));
		errno = saved;
	}
	return fd;
}

int
store_files_add(struct store *st, struct store_files *f, const char *name)
{
	if (f->n == f->cap) {
		size_t ncap = f->cap == 0 ? 16 : f->cap * 2;
		char(*nf)[STORE_FILE_NAME_MAX + 1] = reallocarray(f->names, ncap, sizeof(*f->names));

		if (nf == NULL) {
			store_errorf(st, "out of memory");
			return -1;
		}
		f->names = nf;
		f->cap = ncap;
	}
	str_lcpy(f->names[f->n++], name, sizeof(*f->names));
	return 0;
}

void
store_files_free(struct store_files *f)
{
	free(f->names);
	f->names = NULL;
	f->n = f->cap = 0;
}

/* store_files_unlink is in store_unlink.c (it waits for older read
 * batches). */

int
store_expunge_one(struct store *st, const struct store_mailbox_row *mb, uint32_t uid, uint64_t modseq,
                  struct store_files *files)
{
	sqlite3_stmt *s = store_stmt(st, STMT_MSG_DELETE);
	char file[STORE_FILE_NAME_MAX + 1] = "";
	bool found = false;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mb->id);
	sqlite3_bind_int64(s, 2, uid);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *f = (const char *)sqlite3_column_text(s, 0);
		size_t flen = (size_t)sqlite3_column_bytes(s, 0);

		found = true;
		if (f != NULL && store_file_name_ok(f, flen))
			memcpy(file, f, flen + 1);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "expunge: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (!found)
		return 0;

	if ((s = store_stmt(st, STMT_EXPUNGED_INSERT)) == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mb->id);
	sqlite3_bind_int64(s, 2, uid);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)modseq);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "expunge: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (store_fts_delete(st, mb->id, uid) == -1)
		return -1;
	if (file[0] == '\0')
		return 1; /* a corrupt name: the row goes, the file stays an orphan */
	if (store_files_add(st, files, file) == -1)
		return -1;
	return 1;
}

/* The class of the last SQLite failure on st, read before ROLLBACK
 * replaces it. */
static enum store_error
last_class(struct store *st)
{
	return store_sqlite_class(st, sqlite3_extended_errcode(st->db));
}

static int
expunge_once(struct store *st, const char *mailbox, const uint32_t *uids, size_t n, enum store_error *err_out)
{
	struct store_files files = { 0 };
	struct store_mailbox_row mb;
	size_t removed = 0;
	int r;

	*err_out = STORE_ERR_TEMP;
	if (store_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK)
		goto fail;
	if ((r = store_mailbox_get(st, mailbox, &mb)) != 1) {
		if (r == 0)
			store_errorf(st, "no mailbox %s", mailbox);
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = store_expunge_one(st, &mb, uids[i], mb.highestmodseq + 1, &files)) == -1)
			goto fail;
		removed += (size_t)r;
	}
	if (removed == 0) {
		store_rollback(st);
		store_files_free(&files);
		return 0;
	}
	mb.highestmodseq++;
	if (store_mailbox_set_counters(st, &mb) == -1 || store_exec(st, "COMMIT") != SQLITE_OK)
		goto fail;
	store_files_unlink(st, &files);
	store_change_notify(st, store_mailbox_canon(mailbox), mb.highestmodseq);
	return 0;
fail:
	*err_out = last_class(st);
	store_rollback(st);
	store_files_free(&files);
	return -1;
}

/* A delete must work on a full disk: when it fails for space, it runs
 * once more on the disk reserve (lib/reserve.h). */
int
store_expunge(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
              const char **error_out)
{
	enum store_error err;
	int r = expunge_once(st, mailbox, uids, n, &err);

	if (r == -1 && err == STORE_ERR_NOSPACE && reserve_borrow(st->data_dir)) {
		r = expunge_once(st, mailbox, uids, n, &err);
		reserve_return(st->data_dir);
	}
	if (r == -1)
		*error_out = st->errbuf;
	return r;
}

static int
flags_once(struct store *st, const char *mailbox, const uint32_t *uids, size_t n, uint32_t flags, bool set,
           enum store_error *err_out)
{
	struct store_mailbox_row mb;
	size_t changed = 0;
	int r;

	*err_out = STORE_ERR_TEMP;
	if (store_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK)
		goto fail;
	if ((r = store_mailbox_get(st, mailbox, &mb)) != 1) {
		if (r == 0)
			store_errorf(st, "no mailbox %s", mailbox);
		goto fail;
	}
	/* Every message this call changes gets the same new MODSEQ (RFC 7162
	 * 3.1: a new value per change, greater than any before it); messages
	 * whose flags stay the same keep theirs. */
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = store_stmt(st, STMT_MSG_SET_FLAGS);
		int rc;

		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, mb.id);
		sqlite3_bind_int64(s, 2, uids[i]);
		sqlite3_bind_int64(s, 3, flags);
		sqlite3_bind_int64(s, 4, (sqlite3_int64)(mb.highestmodseq + 1));
		sqlite3_bind_int(s, 5, set ? 1 : 0);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			store_errorf(st, "flags: %s", sqlite3_errmsg(st->db));
			goto fail;
		}
		changed += (size_t)sqlite3_changes(st->db);
	}
	if (changed == 0) {
		store_rollback(st);
		return 0;
	}
	mb.highestmodseq++;
	if (store_mailbox_set_counters(st, &mb) == -1 || store_exec(st, "COMMIT") != SQLITE_OK)
		goto fail;
	store_change_notify(st, store_mailbox_canon(mailbox), mb.highestmodseq);
	return 0;
fail:
	*err_out = last_class(st);
	store_rollback(st);
	return -1;
}

/* Flag changes take no new space for good (the rows keep their size), and
 * \Deleted comes before an expunge: the reserve is theirs too. */
int
store_flags_change(struct store *st, const char *mailbox, const uint32_t *uids, size_t n, uint32_t flags,
                   bool set, const char **error_out)
{
	enum store_error err;
	int r;

	if ((flags & ~(uint32_t)STORE_FLAGS_ALL) != 0) {
		*error_out = store_errorf(st, "unknown flag bits 0x%x", flags & ~(uint32_t)STORE_FLAGS_ALL);
		return -1;
	}
	r = flags_once(st, mailbox, uids, n, flags, set, &err);
	if (r == -1 && err == STORE_ERR_NOSPACE && reserve_borrow(st->data_dir)) {
		r = flags_once(st, mailbox, uids, n, flags, set, &err);
		reserve_return(st->data_dir);
	}
	if (r == -1)
		*error_out = st->errbuf;
	return r;
}
