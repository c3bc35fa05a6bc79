/* \Recent (RFC 3501 2.3.2, IMAP4rev1 only): a per-mailbox "first recent
 * UID" in the index, as Dovecot keeps one.  The session that SELECTs (or,
 * selected read-write, is first told of new mail) claims the messages
 * below its UIDNEXT; they are recent for it and for no later session.
 * See store_imap_recent in store_imap.h. */
#include <string.h>

#include "store/store_imap.h"
#include "store/store_private.h"

static int
recent_read(struct store *st, const char *name, struct store_mailbox_row *mb)
{
	int r;

	if (store_exec(st, "BEGIN") != SQLITE_OK)
		return STORE_ERR_TEMP;
	r = store_mailbox_get(st, name, mb);
	store_exec(st, "COMMIT");
	return r == 1 ? STORE_OK : r == 0 ? STORE_IMAP_NONEXISTENT : STORE_ERR_TEMP;
}

int
store_imap_recent(struct store *st, const char *mailbox, uint32_t up_to, uint32_t *first_out,
                  const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	const char *name = store_name_canon(mailbox, canon, sizeof(canon));
	struct store_mailbox_row mb;
	sqlite3_stmt *s = NULL;
	int r, rc;

	*first_out = 0;
	/* A read first: most calls claim nothing, and need no write. */
	r = recent_read(st, name, &mb);
	if (r != STORE_OK)
		goto out;
	*first_out = mb.first_recent_uid;
	if (up_to == 0 || mb.first_recent_uid >= up_to)
		return STORE_OK;

	/* Derived state, like the cache: no fsync for it (store_msg_cached
	 * does the same); the next durable commit carries it to disk. */
	r = STORE_ERR_TEMP;
	store_exec(st, "PRAGMA synchronous=NORMAL");
	if (store_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK)
		goto done;
	if ((rc = store_mailbox_get(st, name, &mb)) != 1) {
		r = rc == 0 ? STORE_IMAP_NONEXISTENT : STORE_ERR_TEMP;
		store_rollback(st);
		goto done;
	}
	*first_out = mb.first_recent_uid;
	if (mb.first_recent_uid < up_to) {
		rc = sqlite3_prepare_v2(st->db, "UPDATE mailboxes SET first_recent_uid = ?2 WHERE id = ?1", -1, &s,
		                        NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_int64(s, 1, mb.id);
			sqlite3_bind_int64(s, 2, up_to);
			rc = sqlite3_step(s);
		}
		sqlite3_finalize(s);
		if (rc != SQLITE_DONE) {
			store_errorf(st, "recent: %s", sqlite3_errmsg(st->db));
			store_rollback(st);
			goto done;
		}
	}
	if (store_exec(st, "COMMIT") != SQLITE_OK) {
		store_rollback(st);
		goto done;
	}
	r = STORE_OK;
done:
	store_exec(st, "PRAGMA synchronous=FULL");
out:
	if (r != STORE_OK) {
		*first_out = 0;
		*error_out = r == STORE_IMAP_NONEXISTENT ? store_errorf(st, "no mailbox %s", name) : st->errbuf;
	}
	return r;
}
