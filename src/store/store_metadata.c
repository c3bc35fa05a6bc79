/* METADATA entries in the index (see store_metadata.h).  A mailbox holds
 * at most STORE_METADATA_ENTRIES_MAX entries, so reads take all of its
 * rows and filter here. */
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "store/store_imap.h"
#include "store/store_metadata.h"
#include "store/store_private.h"

void
store_metadata_free(struct store_metadata *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].name);
		free(m[i].value);
	}
	free(m);
}

/* The mailbox's id (0 for the server).  Inside a transaction. */
static int
mailbox_id(struct store *st, const char *mailbox, int64_t *id_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	struct store_mailbox_row row;
	int r;

	*id_out = 0;
	if (mailbox == NULL)
		return STORE_OK;
	r = store_mailbox_get(st, store_name_canon(mailbox, canon, sizeof(canon)), &row);
	if (r != 1)
		return r == 0 ? STORE_IMAP_NONEXISTENT : STORE_ERR_TEMP;
	*id_out = row.id;
	return STORE_OK;
}

/* Whether entry name lies under want within depth levels. */
static bool
wanted(const char *name, const char *want, int depth)
{
	size_t len = strlen(want);
	int levels = 0;

	if (strncmp(name, want, len) != 0)
		return false;
	if (name[len] == '\0')
		return true;
	if (name[len] != '/' || depth == 0)
		return false;
	if (depth < 0)
		return true;
	for (const char *p = name + len; *p != '\0'; p++)
		if (*p == '/')
			levels++;
	return levels <= depth;
}

int
store_metadata_get(struct store *st, const char *mailbox, const char *const *names, size_t n_names, int depth,
                   struct store_metadata **out, size_t *n_out, const char **error_out)
{
	sqlite3_stmt *s = NULL;
	struct store_metadata *m = NULL;
	size_t n = 0;
	int64_t id;
	int r, rc;

	*out = NULL;
	*n_out = 0;
	if (store_exec(st, "BEGIN") != SQLITE_OK) {
		*error_out = st->errbuf;
		return STORE_ERR_TEMP;
	}
	if ((r = mailbox_id(st, mailbox, &id)) != STORE_OK)
		goto out;
	r = STORE_ERR_TEMP;
	rc = sqlite3_prepare_v2(st->db, "SELECT name, value FROM metadata WHERE mailbox_id = ?1 ORDER BY name", -1, &s,
	                        NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);
		const void *value = sqlite3_column_blob(s, 1);
		size_t len = (size_t)sqlite3_column_bytes(s, 1);
		bool want = false;

		for (size_t i = 0; i < n_names && !want; i++)
			want = wanted(name, names[i], depth);
		/* Bounded by the rows a mailbox may have, even if an older
		 * bound let more in. */
		if (!want || n >= STORE_METADATA_ENTRIES_MAX * 2)
			continue;
		if (m == NULL)
			m = xcalloc(STORE_METADATA_ENTRIES_MAX * 2, sizeof(*m));
		m[n].name = xstrdup(name);
		m[n].value = xmalloc(len + 1);
		if (len > 0)
			memcpy(m[n].value, value, len);
		m[n].value[len] = '\0';
		m[n].len = len;
		n++;
	}
	if (rc != SQLITE_DONE)
		goto out;
	r = STORE_OK;
out:
	if (r == STORE_ERR_TEMP)
		store_errorf(st, "metadata: %s", sqlite3_errmsg(st->db));
	sqlite3_finalize(s);
	store_exec(st, "COMMIT");
	if (r != STORE_OK) {
		store_metadata_free(m, n);
		*error_out = r == STORE_IMAP_NONEXISTENT ? store_errorf(st, "no mailbox %s", mailbox) : st->errbuf;
		return r;
	}
	*out = m;
	*n_out = n;
	return STORE_OK;
}

static int
step_one(struct store *st, const char *sql, int64_t id, const struct store_metadata *e)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_text(s, 2, e->name, -1, SQLITE_STATIC);
		if (e->value != NULL)
			sqlite3_bind_blob(s, 3, e->value, (int)e->len, SQLITE_STATIC);
		rc = sqlite3_step(s);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
count_entries(struct store *st, int64_t id, int64_t *count_out)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->db, "SELECT count(*) FROM metadata WHERE mailbox_id = ?1", -1, &s, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, id);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			*count_out = sqlite3_column_int64(s, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(s);
	return rc;
}

int
store_metadata_set(struct store *st, const char *mailbox, const struct store_metadata *m, size_t n,
                   const char **error_out)
{
	int64_t id, count = 0;
	int r, rc;

	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		*error_out = st->errbuf;
		return store_sqlite_class(st, rc);
	}
	if ((r = mailbox_id(st, mailbox, &id)) != STORE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (m[i].value == NULL)
			rc = step_one(st, "DELETE FROM metadata WHERE mailbox_id = ?1 AND name = ?2", id, &m[i]);
		else
			rc = step_one(st, "INSERT OR REPLACE INTO metadata(mailbox_id, name, value) VALUES(?1, ?2, ?3)",
			              id, &m[i]);
		if (rc != SQLITE_OK)
			goto sqlfail;
	}
	if ((rc = count_entries(st, id, &count)) != SQLITE_OK)
		goto sqlfail;
	if (count > STORE_METADATA_ENTRIES_MAX) {
		r = STORE_IMAP_LIMIT;
		store_errorf(st, "more than %d metadata entries", STORE_METADATA_ENTRIES_MAX);
		goto fail;
	}
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK)
		goto sqlfail;
	return STORE_OK;
sqlfail:
	store_errorf(st, "metadata: %s", sqlite3_errmsg(st->db));
	r = store_sqlite_class(st, rc);
fail:
	store_rollback(st);
	*error_out = r == STORE_IMAP_NONEXISTENT ? store_errorf(st, "no mailbox %s", mailbox) : st->errbuf;
	return r;
}
