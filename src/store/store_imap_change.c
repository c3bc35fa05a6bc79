/* Changes: the hook the change bus hangs off, and what changed in a
 * mailbox since a MODSEQ (CONDSTORE FETCH CHANGEDSINCE, QRESYNC, and the
 * sessions catching up after the bus woke them). */
#include <stdlib.h>
#include <string.h>

#include "store/store_private.h"

/* Set once at start-up, read by every committing thread. */
static store_change_fn *change_hook;

void
store_set_change_hook(store_change_fn *fn)
{
	__atomic_store_n(&change_hook, fn, __ATOMIC_RELEASE);
}

void
store_change_notify(struct store *st, const char *mailbox, uint64_t highestmodseq)
{
	store_change_fn *fn = __atomic_load_n(&change_hook, __ATOMIC_ACQUIRE);

	if (fn != NULL)
		fn(st->user, mailbox, highestmodseq);
}

static int
vanished_since(struct store *st, int64_t mailbox_id, uint64_t modseq, uint32_t **out, size_t *n_out)
{
	sqlite3_stmt *s = store_stmt(st, STMT_EXPUNGED_SINCE);
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)modseq);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			size_t ncap = cap == 0 ? 64 : cap * 2;
			uint32_t *nv = reallocarray(v, ncap, sizeof(*v));

			if (nv == NULL) {
				store_errorf(st, "out of memory");
				goto fail;
			}
			v = nv;
			cap = ncap;
		}
		v[n++] = (uint32_t)sqlite3_column_int64(s, 0);
	}
	if (rc != SQLITE_DONE) {
		store_errorf(st, "vanished: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	sqlite3_reset(s);
	*out = v;
	*n_out = n;
	return 0;
fail:
	sqlite3_reset(s);
	free(v);
	return -1;
}

int
store_imap_changes(struct store *st, const char *mailbox, uint64_t modseq, struct store_mailbox_info *info_out,
                   struct store_imap_msg **changed_out, size_t *n_changed_out, uint32_t **vanished_out,
                   size_t *n_vanished_out, const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	const char *name = store_name_canon(mailbox, canon, sizeof(canon));
	struct store_imsg_vec v = { 0 };
	struct store_mailbox_row mb;
	sqlite3_stmt *s;
	int r, rc;

	*changed_out = NULL;
	*n_changed_out = 0;
	*vanished_out = NULL;
	*n_vanished_out = 0;
	/* One read transaction: counters, rows and vanished UIDs agree. */
	if (store_exec(st, "BEGIN") != SQLITE_OK)
		goto fail;
	if ((r = store_mailbox_get(st, name, &mb)) != 1) {
		if (r == 0) {
			store_rollback(st);
			*error_out = store_errorf(st, "no mailbox %s", name);
			return STORE_IMAP_NONEXISTENT;
		}
		goto fail;
	}
	if ((s = store_stmt(st, STMT_IMSG_CHANGED)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, mb.id);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)modseq);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_imsg_push(st, &v, s) == -1) {
			sqlite3_reset(s);
			goto fail;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "changes: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	if (vanished_since(st, mb.id, modseq, vanished_out, n_vanished_out) == -1)
		goto fail;
	store_exec(st, "COMMIT");
	if (info_out != NULL) {
		info_out->id = mb.id;
		info_out->uidvalidity = mb.uidvalidity;
		info_out->uidnext = mb.uidnext;
		info_out->highestmodseq = mb.highestmodseq;
		info_out->exists = mb.messages;
	}
	*changed_out = v.m;
	*n_changed_out = v.n;
	return STORE_OK;
fail:
	store_rollback(st);
	store_imap_msgs_free(v.m, v.n);
	free(*vanished_out);
	*vanished_out = NULL;
	*n_vanished_out = 0;
	*error_out = st->errbuf;
	return STORE_ERR_TEMP;
}
