/* Messages as IMAP sees them: listing a mailbox (SELECT, UID FETCH 1:*),
 * reading some UIDs, and EXPUNGE.
 *
 * Listing is the hot path of a 100,000-message mailbox: one query, one
 * array sized from the trigger-kept message count, and no allocation per
 * row except for messages that carry keywords (the rest point at
 * store_no_keywords). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/reserve.h"
#include "lib/str.h"
#include "store/store_private.h"

char store_no_keywords[1];

/* Reading a range instead of looking UIDs up one by one pays when the
 * wanted UIDs are at least this dense in it (one in RANGE_DENSITY). */
#define RANGE_DENSITY 4
#define RANGE_MIN 16

const char *
store_name_canon(const char *name, char *out, size_t outsize)
{
	if (strncasecmp(name, "INBOX", 5) != 0 || (name[5] != '\0' && name[5] != STORE_MAILBOX_DELIM))
		return name;
	if (name[5] == '\0')
		return "INBOX";
	if (strlen(name) >= outsize)
		return name;    /* too long to be a mailbox: the lookup fails anyway */
	memcpy(out, "INBOX", 5);
	strcpy(out + 5, name + 5);
	return out;
}

void
store_imap_msgs_free(struct store_imap_msg *m, size_t n)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (m[i].keywords != store_no_keywords)
			free(m[i].keywords);
		free(m[i].emailid);
	}
	free(m);
}

static int
vec_reserve(struct store *st, struct store_imsg_vec *v, size_t want)
{
	struct store_imap_msg *nm;

	if (want <= v->cap)
		return 0;
	if (want > STORE_LIST_MAX + 1)
		want = STORE_LIST_MAX + 1;
	nm = reallocarray(v->m, want, sizeof(*v->m));
	if (nm == NULL) {
		store_errorf(st, "out of memory");
		return -1;
	}
	v->m = nm;
	v->cap = want;
	return 0;
}

int
store_imsg_push(struct store *st, struct store_imsg_vec *v, sqlite3_stmt *s)
{
	const char *file = (const char *)sqlite3_column_text(s, 6);
	size_t flen = (size_t)sqlite3_column_bytes(s, 6);
	struct store_imap_msg *m;

	if (v->n == STORE_LIST_MAX) {
		store_errorf(st, "mailbox holds more than %d messages", STORE_LIST_MAX);
		return -1;
	}
	if (v->n == v->cap && vec_reserve(st, v, v->cap == 0 ? 64 : v->cap * 2) == -1)
		return -1;
	m = &v->m[v->n];
	m->uid = (uint32_t)sqlite3_column_int64(s, 0);
	if (file == NULL || !store_file_name_ok(file, flen)) {
		store_errorf(st, "%s/index.db: bad file name for UID %u", st->dir, m->uid);
		return -1;
	}
	m->flags = (uint32_t)sqlite3_column_int64(s, 1);
	m->modseq = (uint64_t)sqlite3_column_int64(s, 2);
	m->size = (uint64_t)sqlite3_column_int64(s, 3);
	m->internal_date = sqlite3_column_int64(s, 4);
	m->save_date = sqlite3_column_type(s, 7) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 7);
	m->keywords = store_no_keywords;
	if (sqlite3_column_bytes(s, 5) > 0) {
		const char *kw = (const char *)sqlite3_column_text(s, 5);

		if (kw == NULL || (m->keywords = strdup(kw)) == NULL) {
			m->keywords = store_no_keywords;
			store_errorf(st, "out of memory");
			return -1;
		}
	}
	m->emailid = NULL;
	if (sqlite3_column_type(s, 8) != SQLITE_NULL) {
		const char *id = (const char *)sqlite3_column_text(s, 8);

		if (id != NULL && strlen(id) <= STORE_EMAILID_MAX && (m->emailid = strdup(id)) == NULL) {
			store_errorf(st, "out of memory");
			return -1;
		}
	}
	memcpy(m->file, file, flen);
	m->file[flen] = '\0';
	v->n++;
	return 0;
}

void
store_imap_emailid(const struct store_imap_msg *m, char *out)
{
	size_t i, n;

	if (m->emailid != NULL) {
		snprintf(out, STORE_EMAILID_MAX + 1, "%s", m->emailid);
		return;
	}
	/* objectid = 1*255(ALPHA / DIGIT / "_" / "-") (RFC 8474 7) */
	out[0] = 'E';
	for (i = 0, n = 1; m->file[i] != '\0' && n < STORE_EMAILID_MAX; i++)
		out[n++] = isalnum((unsigned char)m->file[i]) || m->file[i] == '_' ? m->file[i] : '-';
	out[n] = '\0';
}

void
store_imap_mailboxid(uint32_t uidvalidity, int64_t id, char *out)
{
	snprintf(out, STORE_MAILBOXID_MAX + 1, "M%08x-%llx", uidvalidity, (unsigned long long)id);
}

static bool
ascending(const uint32_t *uids, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		if (uids[i] <= uids[i - 1])
			return false;
	}
	return true;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Rows of uids[0]..uids[n-1], keeping those in uids (both ascending). */
static int
select_range(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t n, struct store_imsg_vec *v)
{
	sqlite3_stmt *s = store_stmt(st, STMT_IMSG_RANGE);
	size_t j = 0;
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, uids[0]);
	sqlite3_bind_int64(s, 3, uids[n - 1]);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(s, 0);

		while (j < n && uids[j] < uid)
			j++;
		if (j == n)
			break;
		if (uids[j] != uid)
			continue;
		if (store_imsg_push(st, v, s) == -1) {
			sqlite3_reset(s);
			return -1;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_errorf(st, "select: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

static int
select_points(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t n, struct store_imsg_vec *v)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = store_stmt(st, STMT_IMSG_GET);
		int rc;

		if (s == NULL)
			return -1;
		sqlite3_bind_int64(s, 1, mailbox_id);
		sqlite3_bind_int64(s, 2, uids[i]);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW && store_imsg_push(st, v, s) == -1) {
			sqlite3_reset(s);
			return -1;
		}
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			store_errorf(st, "select: %s", sqlite3_errmsg(st->db));
			return -1;
		}
	}
	return 0;
}

int
store_imsg_select(struct store *st, int64_t mailbox_id, const uint32_t *uids, size_t n, struct store_imsg_vec *v)
{
	uint32_t *sorted = NULL;
	int r;

	if (n == 0)
		return 0;
	if (!ascending(uids, n)) {
		size_t k = 0;

		if ((sorted = malloc(n * sizeof(*sorted))) == NULL) {
			store_errorf(st, "out of memory");
			return -1;
		}
		memcpy(sorted, uids, n * sizeof(*sorted));
		qsort(sorted, n, sizeof(*sorted), cmp_u32);
		for (size_t i = 0; i < n; i++) {
			if (k == 0 || sorted[i] != sorted[k - 1])
				sorted[k++] = sorted[i];
		}
		uids = sorted;
		n = k;
	}
	if (n >= RANGE_MIN && (uint64_t)uids[n - 1] - uids[0] < (uint64_t)n * RANGE_DENSITY)
		r = select_range(st, mailbox_id, uids, n, v);
	else
		r = select_points(st, mailbox_id, uids, n, v);
	free(sorted);
	return r;
}

/* Looks mailbox up inside the caller's transaction: 1, 0 (then error set
 * to NONEXISTENT), -1. */
static int
mailbox_lookup(struct store *st, const char *mailbox, struct store_mailbox_row *mb)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	const char *name = store_name_canon(mailbox, canon, sizeof(canon));
	int r = store_mailbox_get(st, name, mb);

	if (r == 0)
		store_errorf(st, "no mailbox %s", name);
	return r;
}

int
store_imap_list(struct store *st, const char *mailbox, struct store_mailbox_info *info_out,
                struct store_imap_msg **out, size_t *n_out, const char **error_out)
{
	struct store_imsg_vec v = { 0 };
	struct store_mailbox_row mb;
	sqlite3_stmt *s;
	int r, rc, ret = STORE_ERR_TEMP;

	*out = NULL;
	*n_out = 0;
	if (store_exec(st, "BEGIN") != SQLITE_OK)
		goto fail;
	if ((r = mailbox_lookup(st, mailbox, &mb)) != 1) {
		if (r == 0)
			ret = STORE_IMAP_NONEXISTENT;
		goto fail;
	}
	/* The trigger-kept count sizes the array once. */
	if (vec_reserve(st, &v, (size_t)mb.messages + 1) == -1)
		goto fail;
	if ((s = store_stmt(st, STMT_IMSG_LIST)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, mb.id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_imsg_push(st, &v, s) == -1) {
			sqlite3_reset(s);
			goto fail;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "list: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	store_exec(st, "COMMIT");
	if (info_out != NULL) {
		info_out->id = mb.id;
		info_out->uidvalidity = mb.uidvalidity;
		info_out->uidnext = mb.uidnext;
		info_out->highestmodseq = mb.highestmodseq;
		info_out->exists = (uint32_t)v.n;
	}
	*out = v.m;
	*n_out = v.n;
	return STORE_OK;
fail:
	store_rollback(st);
	store_imap_msgs_free(v.m, v.n);
	*error_out = st->errbuf;
	return ret;
}

int
store_imap_get(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
               struct store_imap_msg **out, size_t *n_out, const char **error_out)
{
	struct store_imsg_vec v = { 0 };
	struct store_mailbox_row mb;
	int r, ret = STORE_ERR_TEMP;

	*out = NULL;
	*n_out = 0;
	if (store_exec(st, "BEGIN") != SQLITE_OK)
		goto fail;
	if ((r = mailbox_lookup(st, mailbox, &mb)) != 1) {
		if (r == 0)
			ret = STORE_IMAP_NONEXISTENT;
		goto fail;
	}
	if (store_imsg_select(st, mb.id, uids, n, &v) == -1)
		goto fail;
	store_exec(st, "COMMIT");
	*out = v.m;
	*n_out = v.n;
	return STORE_OK;
fail:
	store_rollback(st);
	store_imap_msgs_free(v.m, v.n);
	*error_out = st->errbuf;
	return ret;
}

static int
expunge_once(struct store *st, const char *mailbox, const uint32_t *uids, size_t n, uint32_t **expunged_out,
             size_t *n_out, const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	const char *name = store_name_canon(mailbox, canon, sizeof(canon));
	struct store_imsg_vec v = { 0 };
	struct store_files files = { 0 };
	struct store_mailbox_row mb;
	uint32_t *gone = NULL;
	size_t ngone = 0;
	int r, rc, ret = STORE_ERR_TEMP;

	if (expunged_out != NULL)
		*expunged_out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	if ((r = mailbox_lookup(st, name, &mb)) != 1) {
		if (r == 0)
			ret = STORE_IMAP_NONEXISTENT;
		goto fail;
	}
	if (uids == NULL) {
		sqlite3_stmt *s = store_stmt(st, STMT_IMSG_DELETED);

		if (s == NULL)
			goto fail;
		sqlite3_bind_int64(s, 1, mb.id);
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (store_imsg_push(st, &v, s) == -1) {
				sqlite3_reset(s);
				goto fail;
			}
		}
		sqlite3_reset(s);
		if (rc != SQLITE_DONE) {
			store_errorf(st, "expunge: %s", sqlite3_errmsg(st->db));
			goto fail;
		}
	} else if (store_imsg_select(st, mb.id, uids, n, &v) == -1) {
		goto fail;
	}
	if (v.n > 0 && (gone = malloc(v.n * sizeof(*gone))) == NULL) {
		store_errorf(st, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < v.n; i++) {
		if ((v.m[i].flags & STORE_FLAG_DELETED) == 0)
			continue;
		if ((r = store_expunge_one(st, &mb, v.m[i].uid, mb.highestmodseq + 1, &files)) == -1)
			goto sqlfail;
		if (r == 1)
			gone[ngone++] = v.m[i].uid;
	}
	store_imap_msgs_free(v.m, v.n);
	v.m = NULL;
	v.n = 0;
	if (ngone == 0) {
		store_rollback(st);
		free(gone);
		return STORE_OK;
	}
	mb.highestmodseq++;
	if (store_mailbox_set_counters(st, &mb) == -1)
		goto sqlfail;
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	store_files_unlink(st, &files);
	store_change_notify(st, name, mb.highestmodseq);
	if (expunged_out != NULL)
		*expunged_out = gone;
	else
		free(gone);
	if (n_out != NULL)
		*n_out = ngone;
	return STORE_OK;
sqlfail:
	ret = (int)store_sqlite_class(st, sqlite3_extended_errcode(st->db));
fail:
	store_rollback(st);
	store_imap_msgs_free(v.m, v.n);
	store_files_free(&files);
	free(gone);
	*error_out = st->errbuf;
	return ret;
}

/* A delete must work on a full disk: when it fails for space, it runs
 * once more on the disk reserve (lib/reserve.h). */
int
store_imap_expunge(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
                   uint32_t **expunged_out, size_t *n_out, const char **error_out)
{
	int r = expunge_once(st, mailbox, uids, n, expunged_out, n_out, error_out);

	if (r == STORE_ERR_NOSPACE && reserve_borrow(st->data_dir)) {
		r = expunge_once(st, mailbox, uids, n, expunged_out, n_out, error_out);
		reserve_return(st->data_dir);
	}
	return r;
}
