/* URLAUTH mailbox access keys (see store_imap.h).  A key is a meta row
 * "urlauth:<mailbox id>:<uidvalidity>" holding STORE_URLAUTH_KEY_LEN
 * bytes; the index lives in the user's own folder, which nobody else
 * reads (docs/SECURITY.md). */
#include <stdio.h>
#include <string.h>

#include "store/store_imap.h"
#include "store/store_private.h"

static void
key_name(const struct store_mailbox_row *mb, char *out, size_t outsize)
{
	snprintf(out, outsize, "urlauth:%lld:%u", (long long)mb->id, mb->uidvalidity);
}

/* Runs sql with ?1 = name (and ?2 = blob when given); SQLITE_ROW leaves
 * the row's blob in key_out. */
static int
meta_step(struct store *st, const char *sql, const char *name, const uint8_t *blob, uint8_t *key_out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	if ((rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL)) != SQLITE_OK)
		return rc;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (blob != NULL)
		sqlite3_bind_blob(s, 2, blob, STORE_URLAUTH_KEY_LEN, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(s, 0) == STORE_URLAUTH_KEY_LEN && key_out != NULL)
			memcpy(key_out, sqlite3_column_blob(s, 0), STORE_URLAUTH_KEY_LEN);
		else
			rc = SQLITE_DONE;  /* a damaged row is no key */
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_urlauth_key(struct store *st, const char *mailbox, const uint8_t *fresh, uint8_t *key_out,
                  const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1], name[64];
	const char *mbname = store_name_canon(mailbox, canon, sizeof(canon));
	struct store_mailbox_row mb;
	int r = STORE_ERR_TEMP, rc;

	if (store_exec(st, fresh != NULL ? "BEGIN IMMEDIATE" : "BEGIN") != SQLITE_OK)
		goto out;
	if ((rc = store_mailbox_get(st, mbname, &mb)) != 1) {
		r = rc == 0 ? STORE_IMAP_NONEXISTENT : STORE_ERR_TEMP;
		goto rollback;
	}
	key_name(&mb, name, sizeof(name));
	rc = meta_step(st, "SELECT value FROM meta WHERE key = ?1", name, NULL, key_out);
	if (rc == SQLITE_DONE && fresh != NULL) {
		if (meta_step(st, "INSERT INTO meta(key, value) VALUES(?1, ?2)", name, fresh, NULL) != SQLITE_DONE)
			goto rollback;
		memcpy(key_out, fresh, STORE_URLAUTH_KEY_LEN);
		rc = SQLITE_ROW;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto rollback;
	if (store_exec(st, "COMMIT") != SQLITE_OK)
		goto rollback;
	r = rc == SQLITE_ROW ? STORE_OK : STORE_IMAP_NONEXISTENT;
	goto out;
rollback:
	store_rollback(st);
out:
	if (r == STORE_ERR_TEMP)
		*error_out = store_errorf(st, "urlauth key: %s", sqlite3_errmsg(st->db));
	else if (r == STORE_IMAP_NONEXISTENT)
		*error_out = "no such mailbox or no key";
	return r;
}

int
store_urlauth_reset(struct store *st, const char *mailbox, const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1], name[64];
	struct store_mailbox_row mb;
	int rc;

	if (store_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK)
		goto fail;
	if (mailbox == NULL) {
		rc = meta_step(st, "DELETE FROM meta WHERE key LIKE 'urlauth:%' AND ?1 IS NOT NULL", "", NULL, NULL);
	} else {
		if ((rc = store_mailbox_get(st, store_name_canon(mailbox, canon, sizeof(canon)), &mb)) != 1) {
			store_rollback(st);
			if (rc == 0) {
				*error_out = "no such mailbox";
				return STORE_IMAP_NONEXISTENT;
			}
			goto fail;
		}
		key_name(&mb, name, sizeof(name));
		rc = meta_step(st, "DELETE FROM meta WHERE key = ?1", name, NULL, NULL);
	}
	if (rc != SQLITE_DONE || store_exec(st, "COMMIT") != SQLITE_OK) {
		store_rollback(st);
		goto fail;
	}
	return STORE_OK;
fail:
	*error_out = store_errorf(st, "urlauth reset: %s", sqlite3_errmsg(st->db));
	return STORE_ERR_TEMP;
}
