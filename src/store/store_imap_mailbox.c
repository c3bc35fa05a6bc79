/* Mailboxes as IMAP sees them (RFC 9051 6.3): the list with SPECIAL-USE
 * and subscriptions, STATUS, CREATE with superiors, DELETE, RENAME with
 * inferiors and the INBOX special case, SUBSCRIBE, and the default
 * mailboxes of a user's first login.
 *
 * Names are UTF-8 with '/' between levels; "INBOX" is canonical in any
 * case, also as the first level of a longer name.  Every name that exists
 * is a real, selectable mailbox: CREATE "a/b" creates "a" too, and a name
 * that only has inferiors (its mailbox deleted) is what LIST shows as
 * \Noselect / \NonExistent.
 *
 * UIDVALIDITY: a mailbox keeps its value through RENAME (its UIDs stay
 * valid), and every creation takes a value above any this user ever had
 * (store_mailbox_create_locked), so no name ever gets a value it had
 * before, whether it was deleted, renamed away or renamed onto. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/reserve.h"
#include "lib/str.h"
#include "store/store_fts.h"
#include "store/store_private.h"

/* meta key: the default mailboxes were created once. */
#define META_DEFAULTS "defaults"

static const struct {
	const char *name;
	const char *special_use;
} default_mailboxes[] = {
	{ "Drafts", "\\Drafts" },
	{ "Sent", "\\Sent" },
	{ "Trash", "\\Trash" },
	{ "Junk", "\\Junk" },
	{ "Archive", "\\Archive" },
};

/* RFC 6154 attributes, as LIST writes them.  \All and \Flagged name
 * virtual mailboxes we do not have: CREATE may not ask for them. */
static const char *const special_uses[] = {
	"\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash", "\\All", "\\Flagged",
};
#define SPECIAL_USES_CREATABLE 5

static const char *
special_use_static(const char *s, size_t allowed)
{
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < allowed; i++) {
		if (strcasecmp(s, special_uses[i]) == 0)
			return special_uses[i];
	}
	return NULL;
}

static bool
utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Checks name and writes its canonical form to out (STORE_MAILBOX_NAME_MAX
 * + 1 bytes).  strip: one trailing delimiter is ignored (CREATE, RENAME's
 * target).  Returns STORE_OK or STORE_IMAP_BADNAME (st->errbuf). */
static int
name_prepare(struct store *st, const char *in, bool strip, char *out)
{
	char tmp[STORE_MAILBOX_NAME_MAX + 1];
	size_t len = in != NULL ? strlen(in) : 0, levels = 1;

	if (strip && len > 1 && in[len - 1] == STORE_MAILBOX_DELIM)
		len--;
	if (len == 0 || len > STORE_MAILBOX_NAME_MAX) {
		store_errorf(st, len == 0 ? "empty mailbox name" : "mailbox name too long");
		return STORE_IMAP_BADNAME;
	}
	memcpy(tmp, in, len);
	tmp[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)tmp[i];

		/* Control characters, and LIST's wildcards (RFC 9051 5.1:
		 * names with them cannot be listed one by one). */
		if (c < 0x20 || c == 0x7f || c == '*' || c == '%') {
			store_errorf(st, "invalid character in mailbox name");
			return STORE_IMAP_BADNAME;
		}
		if (c == STORE_MAILBOX_DELIM) {
			if (i == 0 || i + 1 == len || tmp[i + 1] == STORE_MAILBOX_DELIM) {
				store_errorf(st, "empty level in mailbox name");
				return STORE_IMAP_BADNAME;
			}
			levels++;
		}
	}
	if (levels > STORE_MAILBOX_DEPTH_MAX) {
		store_errorf(st, "mailbox name nested deeper than %d levels", STORE_MAILBOX_DEPTH_MAX);
		return STORE_IMAP_BADNAME;
	}
	if (!utf8_valid((const unsigned char *)tmp, len)) {
		store_errorf(st, "mailbox name is not UTF-8");
		return STORE_IMAP_BADNAME;
	}
	{
		const char *c = store_name_canon(tmp, out, STORE_MAILBOX_NAME_MAX + 1);

		if (c != out)
			str_lcpy(out, c, STORE_MAILBOX_NAME_MAX + 1);
	}
	return STORE_OK;
}

static size_t
levels_of(const char *name)
{
	size_t n = 1;

	for (; *name != '\0'; name++)
		n += *name == STORE_MAILBOX_DELIM;
	return n;
}

static int
count_of(struct store *st, enum store_stmt which, int64_t *n)
{
	sqlite3_stmt *s = store_stmt(st, which);
	int rc;

	if (s == NULL)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW) {
		store_errorf(st, "count: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* Binds "name/" and "name0" (the range of name's inferiors) at i, i+1. */
static void
bind_inferiors(sqlite3_stmt *s, int i, const char *name, char *lo, char *hi)
{
	size_t len = strlen(name);

	memcpy(lo, name, len);
	memcpy(hi, name, len);
	lo[len] = STORE_MAILBOX_DELIM;
	hi[len] = STORE_MAILBOX_DELIM + 1;
	lo[len + 1] = hi[len + 1] = '\0';
	sqlite3_bind_text(s, i, lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, i + 1, hi, -1, SQLITE_STATIC);
}

/* 1 if name has inferior mailboxes, 0 if not, -1 on error. */
static int
has_inferiors(struct store *st, const char *name)
{
	char lo[STORE_MAILBOX_NAME_MAX + 2], hi[STORE_MAILBOX_NAME_MAX + 2];
	sqlite3_stmt *s = store_stmt(st, STMT_MBX_INFERIORS);
	int rc;

	if (s == NULL)
		return -1;
	bind_inferiors(s, 1, name, lo, hi);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	store_errorf(st, "inferiors: %s", sqlite3_errmsg(st->db));
	return -1;
}

static int
subscription_set(struct store *st, const char *name, bool on)
{
	sqlite3_stmt *s = store_stmt(st, on ? STMT_SUB_INSERT : STMT_SUB_DELETE);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "subscribe: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* --- reading --- */

void
store_mailbox_entries_free(struct store_mailbox_entry *e, size_t n)
{
	if (e == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(e[i].name);
	free(e);
}

int
store_mailboxes(struct store *st, struct store_mailbox_entry **out, size_t *n_out, const char **error_out)
{
	struct store_mailbox_entry *e = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *s = NULL;
	int rc;

	*out = NULL;
	*n_out = 0;
	if (store_exec(st, "BEGIN") != SQLITE_OK || (s = store_stmt(st, STMT_MBX_ENTRIES)) == NULL)
		goto fail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);

		if (name == NULL)
			continue;
		/* Mailboxes and subscriptions are each bounded. */
		if (n == 2 * (size_t)STORE_MAILBOXES_MAX) {
			store_errorf(st, "too many mailboxes");
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap == 0 ? 32 : cap * 2;
			struct store_mailbox_entry *ne = reallocarray(e, ncap, sizeof(*e));

			if (ne == NULL) {
				store_errorf(st, "out of memory");
				goto fail;
			}
			e = ne;
			cap = ncap;
		}
		if ((e[n].name = strdup(name)) == NULL) {
			store_errorf(st, "out of memory");
			goto fail;
		}
		e[n].special_use = special_use_static((const char *)sqlite3_column_text(s, 1),
		                                      sizeof(special_uses) / sizeof(special_uses[0]));
		e[n].subscribed = sqlite3_column_int(s, 2) != 0;
		e[n].exists = sqlite3_column_int(s, 3) != 0;
		n++;
	}
	if (rc != SQLITE_DONE) {
		store_errorf(st, "mailboxes: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	sqlite3_reset(s);
	store_exec(st, "COMMIT");
	*out = e;
	*n_out = n;
	return 0;
fail:
	if (s != NULL)
		sqlite3_reset(s);
	store_rollback(st);
	store_mailbox_entries_free(e, n);
	*error_out = st->errbuf;
	return -1;
}

int
store_mailbox_status(struct store *st, const char *name, struct store_mailbox_status *out, const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	struct store_mailbox_row mb;
	sqlite3_stmt *s;
	int r, rc;

	memset(out, 0, sizeof(*out));
	name = store_name_canon(name, canon, sizeof(canon));
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
	if ((s = store_stmt(st, STMT_MBX_STATUS)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, mb.id);
	sqlite3_bind_int64(s, 2, mb.first_recent_uid);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		out->unseen = (uint32_t)sqlite3_column_int64(s, 0);
		out->deleted = (uint32_t)sqlite3_column_int64(s, 1);
		out->first_unseen_uid = (uint32_t)sqlite3_column_int64(s, 2);
		out->recent = (uint32_t)sqlite3_column_int64(s, 3);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW) {
		store_errorf(st, "status: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	store_exec(st, "COMMIT");
	out->messages = mb.messages;
	out->uidnext = mb.uidnext;
	out->id = mb.id;
	out->uidvalidity = mb.uidvalidity;
	out->highestmodseq = mb.highestmodseq;
	out->size = mb.bytes;
	return STORE_OK;
fail:
	store_rollback(st);
	*error_out = st->errbuf;
	return STORE_ERR_TEMP;
}

/* --- create --- */

/* Creates the missing superiors of name ("a" and "a/b" for "a/b/c")
 * inside the caller's transaction; their lengths go to created[] (at most
 * STORE_MAILBOX_DEPTH_MAX).  *room: how many mailboxes may still be made.
 * Returns STORE_OK, STORE_IMAP_LIMIT or STORE_ERR_TEMP. */
static int
superiors_create(struct store *st, const char *name, int64_t *room, size_t *created, size_t *ncreated)
{
	char prefix[STORE_MAILBOX_NAME_MAX + 1];

	*ncreated = 0;
	for (const char *p = strchr(name, STORE_MAILBOX_DELIM); p != NULL; p = strchr(p + 1, STORE_MAILBOX_DELIM)) {
		struct store_mailbox_row row;
		size_t len = (size_t)(p - name);
		int r;

		memcpy(prefix, name, len);
		prefix[len] = '\0';
		if ((r = store_mailbox_get(st, prefix, &row)) == -1)
			return STORE_ERR_TEMP;
		if (r == 1)
			continue;
		if (*room <= 0) {
			store_errorf(st, "more than %d mailboxes", STORE_MAILBOXES_MAX);
			return STORE_IMAP_LIMIT;
		}
		if (store_mailbox_create_locked(st, prefix, NULL) == -1)
			return STORE_ERR_TEMP;
		(*room)--;
		created[(*ncreated)++] = len;
	}
	return STORE_OK;
}

static void
notify_prefixes(struct store *st, const char *name, const size_t *lens, size_t n)
{
	char prefix[STORE_MAILBOX_NAME_MAX + 1];

	for (size_t i = 0; i < n; i++) {
		memcpy(prefix, name, lens[i]);
		prefix[lens[i]] = '\0';
		store_change_notify(st, prefix, 0);
	}
}

/* Room for more mailboxes under STORE_MAILBOXES_MAX. */
static int
room_left(struct store *st, int64_t *room)
{
	int64_t n = 0;

	if (count_of(st, STMT_MBX_COUNT, &n) == -1)
		return -1;
	*room = STORE_MAILBOXES_MAX - n;
	return 0;
}

int
store_mailbox_create(struct store *st, const char *name, const char *special_use, const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	size_t created[STORE_MAILBOX_DEPTH_MAX], ncreated = 0;
	const char *use = NULL;
	struct store_mailbox_row row;
	int64_t room;
	int r, rc, ret = STORE_ERR_TEMP;

	if ((ret = name_prepare(st, name, true, canon)) != STORE_OK)
		goto out;
	if (special_use != NULL && (use = special_use_static(special_use, SPECIAL_USES_CREATABLE)) == NULL) {
		store_errorf(st, "special-use %s not supported", special_use);
		ret = STORE_IMAP_BADNAME;
		goto out;
	}
	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto out;
	}
	ret = STORE_ERR_TEMP;
	if ((r = store_mailbox_get(st, canon, &row)) != 0) {
		if (r == 1) {
			store_errorf(st, "mailbox %s exists", canon);
			ret = STORE_IMAP_EXISTS;
		}
		goto fail;
	}
	if (room_left(st, &room) == -1)
		goto fail;
	if ((ret = superiors_create(st, canon, &room, created, &ncreated)) != STORE_OK)
		goto fail;
	if (room <= 0) {
		store_errorf(st, "more than %d mailboxes", STORE_MAILBOXES_MAX);
		ret = STORE_IMAP_LIMIT;
		goto fail;
	}
	ret = STORE_ERR_TEMP;
	if (store_mailbox_create_locked(st, canon, use) == -1)
		goto sqlfail;
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	notify_prefixes(st, canon, created, ncreated);
	store_change_notify(st, canon, 0);
	return STORE_OK;
sqlfail:
	ret = (int)store_sqlite_class(st, sqlite3_extended_errcode(st->db));
fail:
	store_rollback(st);
out:
	*error_out = st->errbuf;
	return ret;
}

/* --- delete --- */

static int
delete_once(struct store *st, const char *name, const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	struct store_files files = { 0 };
	struct store_mailbox_row mb;
	sqlite3_stmt *s;
	int r, rc, ret = STORE_ERR_TEMP;

	if (name_prepare(st, name, false, canon) != STORE_OK) {
		*error_out = store_errorf(st, "no mailbox %s", name);
		return STORE_IMAP_NONEXISTENT;
	}
	if (strcmp(canon, "INBOX") == 0) {
		*error_out = store_errorf(st, "INBOX cannot be deleted");
		return STORE_IMAP_NOPERM;
	}
	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	if ((r = store_mailbox_get(st, canon, &mb)) != 1) {
		if (r == 0) {
			/* RFC 9051 6.3.5: a name that is only a superior
			 * (\Noselect) cannot be deleted. */
			if ((r = has_inferiors(st, canon)) == -1)
				goto fail;
			store_errorf(st, r == 1 ? "%s has inferior mailboxes" : "no mailbox %s", canon);
			ret = r == 1 ? STORE_IMAP_HASCHILDREN : STORE_IMAP_NONEXISTENT;
		}
		goto fail;
	}
	if ((s = store_stmt(st, STMT_MSG_FILES_OF)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, mb.id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *f = (const char *)sqlite3_column_text(s, 1);
		size_t flen = (size_t)sqlite3_column_bytes(s, 1);

		if (f != NULL && store_file_name_ok(f, flen) && store_files_add(st, &files, f) == -1) {
			sqlite3_reset(s);
			goto fail;
		}
		if (store_fts_delete(st, mb.id, (uint32_t)sqlite3_column_int64(s, 0)) == -1) {
			sqlite3_reset(s);
			goto sqlfail;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "delete: %s", sqlite3_errmsg(st->db));
		goto sqlfail;
	}
	/* Messages (their cache rows go by trigger), VANISHED history, the
	 * mailbox.  Its UIDVALIDITY stays in uidvalidity_used, and every
	 * later one is higher.  Subscriptions stay (RFC 9051 6.3.9). */
	if ((s = store_stmt(st, STMT_MSG_DELETE_ALL)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, mb.id);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto stepfail;
	if ((s = store_stmt(st, STMT_EXPUNGED_DELETE_ALL)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, mb.id);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto stepfail;
	if ((s = store_stmt(st, STMT_MBX_DELETE)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, mb.id);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto stepfail;
	sqlite3_reset(s);
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	store_files_unlink(st, &files);
	store_change_notify(st, canon, 0);
	return STORE_OK;
stepfail:
	store_errorf(st, "delete: %s", sqlite3_errmsg(st->db));
	sqlite3_reset(s);
sqlfail:
	ret = (int)store_sqlite_class(st, sqlite3_extended_errcode(st->db));
fail:
	store_rollback(st);
	store_files_free(&files);
	*error_out = st->errbuf;
	return ret;
}

/* Deleting a mailbox frees space: on a full disk it runs once more on
 * the disk reserve (lib/reserve.h). */
int
store_mailbox_delete(struct store *st, const char *name, const char **error_out)
{
	int r = delete_once(st, name, error_out);

	if (r == STORE_ERR_NOSPACE && reserve_borrow(st->data_dir)) {
		r = delete_once(st, name, error_out);
		reserve_return(st->data_dir);
	}
	return r;
}

/* --- rename --- */

struct rename_item {
	int64_t id;
	char *old_name;
	char *new_name;
};

static void
rename_items_free(struct rename_item *it, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(it[i].old_name);
		free(it[i].new_name);
	}
	free(it);
}

/* The new name of old (to + what follows from in old) into *out.
 * Returns STORE_OK, STORE_IMAP_BADNAME (too long, too deep) or
 * STORE_ERR_TEMP. */
static int
renamed(struct store *st, const char *old, size_t from_len, const char *to, char **out)
{
	size_t to_len = strlen(to), rest = strlen(old) - from_len;
	char *n;

	*out = NULL;
	if (to_len + rest > STORE_MAILBOX_NAME_MAX) {
		store_errorf(st, "mailbox name too long");
		return STORE_IMAP_BADNAME;
	}
	if ((n = malloc(to_len + rest + 1)) == NULL) {
		store_errorf(st, "out of memory");
		return STORE_ERR_TEMP;
	}
	memcpy(n, to, to_len);
	memcpy(n + to_len, old + from_len, rest + 1);
	if (levels_of(n) > STORE_MAILBOX_DEPTH_MAX) {
		store_errorf(st, "mailbox name nested deeper than %d levels", STORE_MAILBOX_DEPTH_MAX);
		free(n);
		return STORE_IMAP_BADNAME;
	}
	*out = n;
	return STORE_OK;
}

static int
rename_add(struct store *st, struct rename_item **it, size_t *n, size_t *cap, int64_t id, const char *old,
           size_t from_len, const char *to)
{
	struct rename_item *x;

	if (*n == *cap) {
		size_t ncap = *cap == 0 ? 8 : *cap * 2;
		struct rename_item *ni = reallocarray(*it, ncap, sizeof(**it));

		if (ni == NULL) {
			store_errorf(st, "out of memory");
			return STORE_ERR_TEMP;
		}
		*it = ni;
		*cap = ncap;
	}
	x = &(*it)[*n];
	x->id = id;
	x->new_name = NULL;
	if ((x->old_name = strdup(old)) == NULL) {
		store_errorf(st, "out of memory");
		return STORE_ERR_TEMP;
	}
	(*n)++;
	return renamed(st, old, from_len, to, &x->new_name);
}

static int
rename_set(struct store *st, int64_t id, const char *name)
{
	sqlite3_stmt *s = store_stmt(st, STMT_MBX_RENAME);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "rename: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* Subscriptions of from and its inferiors follow the rename (as in
 * Dovecot and Cyrus: a client that renames a folder expects to keep
 * seeing it).  All old names go before any new one is added, since a new
 * name can be another old one ("a/b" -> "a" makes "a/b/b" "a/b"). */
static int
rename_subscriptions(struct store *st, const char *from, const char *to)
{
	char lo[STORE_MAILBOX_NAME_MAX + 2], hi[STORE_MAILBOX_NAME_MAX + 2];
	struct rename_item *it = NULL;
	size_t n = 0, cap = 0, from_len = strlen(from);
	sqlite3_stmt *s = store_stmt(st, STMT_SUB_INFERIORS);
	int rc, ret = -1;

	if (s == NULL)
		return -1;
	sqlite3_bind_text(s, 1, from, -1, SQLITE_STATIC);
	bind_inferiors(s, 2, from, lo, hi);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);

		if (name != NULL && rename_add(st, &it, &n, &cap, 0, name, from_len, to) == STORE_ERR_TEMP) {
			sqlite3_reset(s);
			goto done;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "rename: %s", sqlite3_errmsg(st->db));
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		if (subscription_set(st, it[i].old_name, false) == -1)
			goto done;
	}
	for (size_t i = 0; i < n; i++) {
		/* A name that became too long loses its subscription. */
		if (it[i].new_name != NULL && subscription_set(st, it[i].new_name, true) == -1)
			goto done;
	}
	ret = 0;
done:
	rename_items_free(it, n);
	return ret;
}

/* RFC 9051 6.3.6: renaming INBOX moves its messages to a new mailbox and
 * leaves INBOX, empty, in place; its inferiors stay.  The new mailbox
 * gets a fresh UIDVALIDITY and keeps the UIDs; INBOX keeps its
 * UIDVALIDITY and UIDNEXT and reports the messages as expunged. */
static int
rename_inbox(struct store *st, const char *to, const char **error_out)
{
	size_t created[STORE_MAILBOX_DEPTH_MAX], ncreated = 0;
	struct store_mailbox_row inbox, dst;
	struct store_imsg_vec v = { 0 };
	sqlite3_stmt *s;
	int64_t room;
	int r, rc, ret = STORE_ERR_TEMP;

	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	if (store_mailbox_get(st, "INBOX", &inbox) != 1)
		goto fail;
	if ((r = store_mailbox_get(st, to, &dst)) != 0) {
		if (r == 1) {
			store_errorf(st, "mailbox %s exists", to);
			ret = STORE_IMAP_EXISTS;
		}
		goto fail;
	}
	if (room_left(st, &room) == -1)
		goto fail;
	if ((ret = superiors_create(st, to, &room, created, &ncreated)) != STORE_OK)
		goto fail;
	if (room <= 0) {
		store_errorf(st, "more than %d mailboxes", STORE_MAILBOXES_MAX);
		ret = STORE_IMAP_LIMIT;
		goto fail;
	}
	ret = STORE_ERR_TEMP;
	if (store_mailbox_create_locked(st, to, NULL) == -1 || store_mailbox_get(st, to, &dst) != 1)
		goto sqlfail;
	if ((s = store_stmt(st, STMT_IMSG_LIST)) == NULL)
		goto fail;
	sqlite3_bind_int64(s, 1, inbox.id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_imsg_push(st, &v, s) == -1) {
			sqlite3_reset(s);
			goto fail;
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "rename: %s", sqlite3_errmsg(st->db));
		goto sqlfail;
	}
	if (v.n > 0) {
		uint64_t modseq = inbox.highestmodseq + 1;

		for (size_t i = 0; i < v.n; i++) {
			if (store_move_row(st, &inbox, &dst, v.m[i].uid, v.m[i].uid, modseq, modseq) == -1)
				goto sqlfail;
		}
		dst.uidnext = inbox.uidnext;
		dst.highestmodseq = modseq;
		inbox.highestmodseq = modseq;
		if (store_mailbox_set_counters(st, &dst) == -1 || store_mailbox_set_counters(st, &inbox) == -1)
			goto sqlfail;
	}
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	notify_prefixes(st, to, created, ncreated);
	store_change_notify(st, to, 0);
	if (v.n > 0)
		store_change_notify(st, "INBOX", inbox.highestmodseq);
	store_imap_msgs_free(v.m, v.n);
	return STORE_OK;
sqlfail:
	ret = (int)store_sqlite_class(st, sqlite3_extended_errcode(st->db));
fail:
	store_rollback(st);
	store_imap_msgs_free(v.m, v.n);
	*error_out = st->errbuf;
	return ret;
}

int
store_mailbox_rename(struct store *st, const char *from, const char *to, const char **error_out)
{
	char cfrom[STORE_MAILBOX_NAME_MAX + 1], cto[STORE_MAILBOX_NAME_MAX + 1];
	char lo[STORE_MAILBOX_NAME_MAX + 2], hi[STORE_MAILBOX_NAME_MAX + 2];
	size_t created[STORE_MAILBOX_DEPTH_MAX], ncreated = 0, from_len;
	struct rename_item *it = NULL;
	size_t n = 0, cap = 0;
	struct store_mailbox_row row;
	sqlite3_stmt *s;
	int64_t room;
	int r, rc, ret = STORE_ERR_TEMP;

	if (name_prepare(st, from, false, cfrom) != STORE_OK) {
		*error_out = store_errorf(st, "no mailbox %s", from);
		return STORE_IMAP_NONEXISTENT;
	}
	if ((ret = name_prepare(st, to, true, cto)) != STORE_OK) {
		*error_out = st->errbuf;
		return ret;
	}
	if (strcmp(cto, "INBOX") == 0 || strcmp(cfrom, cto) == 0) {
		*error_out = store_errorf(st, "mailbox %s exists", cto);
		return STORE_IMAP_EXISTS;
	}
	if (strcmp(cfrom, "INBOX") == 0)
		return rename_inbox(st, cto, error_out);
	from_len = strlen(cfrom);
	if (strncmp(cto, cfrom, from_len) == 0 && cto[from_len] == STORE_MAILBOX_DELIM) {
		*error_out = store_errorf(st, "cannot rename %s into itself", cfrom);
		return STORE_IMAP_BADNAME;
	}

	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	ret = STORE_ERR_TEMP;
	if ((r = store_mailbox_get(st, cfrom, &row)) == -1)
		goto fail;
	if (r == 1 && (ret = rename_add(st, &it, &n, &cap, row.id, cfrom, from_len, cto)) != STORE_OK)
		goto fail;
	ret = STORE_ERR_TEMP;
	if ((s = store_stmt(st, STMT_MBX_INFERIORS)) == NULL)
		goto fail;
	bind_inferiors(s, 1, cfrom, lo, hi);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 1);

		if (name == NULL)
			continue;
		if ((ret = rename_add(st, &it, &n, &cap, sqlite3_column_int64(s, 0), name, from_len, cto)) !=
		    STORE_OK) {
			sqlite3_reset(s);
			goto fail;
		}
	}
	sqlite3_reset(s);
	ret = STORE_ERR_TEMP;
	if (rc != SQLITE_DONE) {
		store_errorf(st, "rename: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	if (n == 0) {
		store_errorf(st, "no mailbox %s", cfrom);
		ret = STORE_IMAP_NONEXISTENT;
		goto fail;
	}
	/* A new name taken by a mailbox that is not moving is a conflict. */
	for (size_t i = 0; i < n; i++) {
		struct store_mailbox_row other;
		bool moving = false;

		if ((r = store_mailbox_get(st, it[i].new_name, &other)) == -1)
			goto fail;
		if (r == 0)
			continue;
		for (size_t j = 0; j < n && !moving; j++)
			moving = it[j].id == other.id;
		if (!moving) {
			store_errorf(st, "mailbox %s exists", it[i].new_name);
			ret = STORE_IMAP_EXISTS;
			goto fail;
		}
	}
	if (room_left(st, &room) == -1)
		goto fail;
	if ((ret = superiors_create(st, cto, &room, created, &ncreated)) != STORE_OK)
		goto fail;
	ret = STORE_ERR_TEMP;
	/* Through names no client can make ("\1" is refused), so that one
	 * moving name may take another's old name. */
	for (size_t i = 0; i < n; i++) {
		char tmp[64];

		snprintf(tmp, sizeof(tmp), "\001rename.%lld", (long long)it[i].id);
		if (rename_set(st, it[i].id, tmp) == -1)
			goto sqlfail;
	}
	for (size_t i = 0; i < n; i++) {
		if (rename_set(st, it[i].id, it[i].new_name) == -1)
			goto sqlfail;
	}
	if (rename_subscriptions(st, cfrom, cto) == -1)
		goto sqlfail;
	if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	notify_prefixes(st, cto, created, ncreated);
	for (size_t i = 0; i < n; i++)
		store_change_notify(st, it[i].old_name, 0);
	rename_items_free(it, n);
	return STORE_OK;
sqlfail:
	ret = (int)store_sqlite_class(st, sqlite3_extended_errcode(st->db));
fail:
	store_rollback(st);
	rename_items_free(it, n);
	*error_out = st->errbuf;
	return ret;
}

/* --- subscriptions and defaults --- */

int
store_mailbox_subscribe(struct store *st, const char *name, bool subscribe, const char **error_out)
{
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	int64_t n = 0;

	if (name_prepare(st, name, false, canon) != STORE_OK) {
		*error_out = st->errbuf;
		return -1;
	}
	/* One write transaction (it also ends a read batch): a write inside
	 * a read snapshot fails at once (SQLITE_BUSY_SNAPSHOT) when another
	 * connection - the indexer after a delivery - committed since the
	 * snapshot began. */
	if (store_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK)
		goto fail;
	if (subscribe) {
		if (count_of(st, STMT_SUB_COUNT, &n) == -1)
			goto fail;
		if (n >= STORE_MAILBOXES_MAX) {
			store_errorf(st, "more than %d subscriptions", STORE_MAILBOXES_MAX);
			goto fail;
		}
	}
	if (subscription_set(st, canon, subscribe) == -1 || store_exec(st, "COMMIT") != SQLITE_OK)
		goto fail;
	return 0;
fail:
	*error_out = st->errbuf;
	store_rollback(st);
	return -1;
}

int
store_ensure_default_mailboxes(struct store *st, const char **error_out)
{
	enum { N = sizeof(default_mailboxes) / sizeof(default_mailboxes[0]) };
	bool created[N] = { false };
	sqlite3_stmt *s;
	int rc;

	/* The common case, every login after the first: one read. */
	if ((s = store_stmt(st, STMT_META_GET)) == NULL)
		goto fail;
	sqlite3_bind_text(s, 1, META_DEFAULTS, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc != SQLITE_DONE) {
		store_errorf(st, "meta: %s", sqlite3_errmsg(st->db));
		goto fail;
	}

	if (store_exec(st, "BEGIN IMMEDIATE") != SQLITE_OK || (s = store_stmt(st, STMT_META_GET)) == NULL)
		goto fail;
	sqlite3_bind_text(s, 1, META_DEFAULTS, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_ROW) {         /* another session was first */
		store_rollback(st);
		return 0;
	}
	for (size_t i = 0; i < N; i++) {
		struct store_mailbox_row row;
		int r = store_mailbox_get(st, default_mailboxes[i].name, &row);

		if (r == -1)
			goto fail;
		if (r == 0) {
			if (store_mailbox_create_locked(st, default_mailboxes[i].name, default_mailboxes[i].special_use) ==
			    -1)
				goto fail;
			created[i] = true;
		} else {
			/* The user made it already: give it the attribute
			 * unless it has one. */
			if ((s = store_stmt(st, STMT_MBX_SET_SPECIAL)) == NULL)
				goto fail;
			sqlite3_bind_int64(s, 1, row.id);
			sqlite3_bind_text(s, 2, default_mailboxes[i].special_use, -1, SQLITE_STATIC);
			rc = sqlite3_step(s);
			sqlite3_reset(s);
			if (rc != SQLITE_DONE) {
				store_errorf(st, "special-use: %s", sqlite3_errmsg(st->db));
				goto fail;
			}
		}
		if (subscription_set(st, default_mailboxes[i].name, true) == -1)
			goto fail;
	}
	if ((s = store_stmt(st, STMT_META_SET)) == NULL)
		goto fail;
	sqlite3_bind_text(s, 1, META_DEFAULTS, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, 1);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "meta: %s", sqlite3_errmsg(st->db));
		goto fail;
	}
	if (store_exec(st, "COMMIT") != SQLITE_OK)
		goto fail;
	for (size_t i = 0; i < N; i++) {
		if (created[i])
			store_change_notify(st, default_mailboxes[i].name, 0);
	}
	return 0;
fail:
	/* On a full disk the login goes on without them (the user may be
	 * logging in to delete): a later login creates them. */
	if (store_sqlite_class(st, sqlite3_extended_errcode(st->db)) == STORE_ERR_NOSPACE) {
		store_rollback(st);
		return 0;
	}
	store_rollback(st);
	*error_out = st->errbuf;
	return -1;
}
