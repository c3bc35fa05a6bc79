/* Flags and keywords (STORE, UID STORE; RFC 9051 6.4.6, RFC 7162 3.1.3).
 *
 * Keywords are stored as one space-separated string per message, in a
 * normal form: each keyword once (compared without regard to case, RFC
 * 9051 2.3.2), spelled as it was first given, sorted case-insensitively.
 * Two messages with the same keywords therefore store the same string,
 * and "did this STORE change anything" is a string comparison. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "lib/reserve.h"
#include "store/store_private.h"

struct kwset {
	const char *kw[STORE_KEYWORDS_MAX];
	size_t len[STORE_KEYWORDS_MAX];
	size_t n;
};

/* RFC 9051 flag-keyword is an atom: no atom-specials, CTL, space or 8-bit. */
static bool
atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return strchr("(){%*\"\\]", c) == NULL;
}

static ssize_t
kwset_find(const struct kwset *k, const char *w, size_t len)
{
	for (size_t i = 0; i < k->n; i++) {
		if (k->len[i] == len && strncasecmp(k->kw[i], w, len) == 0)
			return (ssize_t)i;
	}
	return -1;
}

/* Adds the words of s (space-separated) to k.  strict: reject what is not
 * a keyword (user input); otherwise skip it (what the index holds). */
static int
kwset_parse(struct kwset *k, const char *s, bool strict)
{
	while (s != NULL && *s != '\0') {
		const char *w;
		size_t len = 0;
		bool ok = true;

		while (*s == ' ')
			s++;
		if (*s == '\0')
			break;
		w = s;
		while (*s != ' ' && *s != '\0') {
			if (!atom_char((unsigned char)*s))
				ok = false;
			s++;
			len++;
		}
		if (!ok || w[0] == '\\') {
			if (strict)
				return STORE_IMAP_BADNAME;
			continue;
		}
		if (len > STORE_KEYWORD_LEN_MAX) {
			if (strict)
				return STORE_IMAP_LIMIT;
			continue;
		}
		if (kwset_find(k, w, len) >= 0)
			continue;
		if (k->n == STORE_KEYWORDS_MAX) {
			if (strict)
				return STORE_IMAP_LIMIT;
			continue;
		}
		k->kw[k->n] = w;
		k->len[k->n] = len;
		k->n++;
	}
	return STORE_OK;
}

static int
kw_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = strncasecmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

/* Sorts k (insertion sort: at most STORE_KEYWORDS_MAX) and writes it. */
static void
kwset_write(struct kwset *k, char *out)
{
	char *p = out;

	for (size_t i = 1; i < k->n; i++) {
		const char *w = k->kw[i];
		size_t len = k->len[i], j = i;

		while (j > 0 && kw_cmp(k->kw[j - 1], k->len[j - 1], w, len) > 0) {
			k->kw[j] = k->kw[j - 1];
			k->len[j] = k->len[j - 1];
			j--;
		}
		k->kw[j] = w;
		k->len[j] = len;
	}
	for (size_t i = 0; i < k->n; i++) {
		if (i > 0)
			*p++ = ' ';
		memcpy(p, k->kw[i], k->len[i]);
		p += k->len[i];
	}
	*p = '\0';
}

int
store_keywords_normalize(const char *in, char *out)
{
	struct kwset k = { .n = 0 };
	int r = kwset_parse(&k, in, true);

	out[0] = '\0';
	if (r != STORE_OK)
		return r;
	kwset_write(&k, out);
	return STORE_OK;
}

/* The keywords of a message after the change: old (normal form) combined
 * with the change's (already validated).  STORE_OK or STORE_IMAP_LIMIT. */
static int
keywords_apply(const char *old, const struct kwset *ch, enum store_flags_mode mode, char *out)
{
	struct kwset cur = { .n = 0 }, res = { .n = 0 };

	kwset_parse(&cur, old, false);
	switch (mode) {
	case STORE_FLAGS_SET:
		/* The message's own spelling wins over the new one. */
		for (size_t i = 0; i < ch->n; i++) {
			ssize_t j = kwset_find(&cur, ch->kw[i], ch->len[i]);

			res.kw[res.n] = j >= 0 ? cur.kw[j] : ch->kw[i];
			res.len[res.n++] = j >= 0 ? cur.len[j] : ch->len[i];
		}
		break;
	case STORE_FLAGS_ADD:
		res = cur;
		for (size_t i = 0; i < ch->n; i++) {
			if (kwset_find(&res, ch->kw[i], ch->len[i]) >= 0)
				continue;
			if (res.n == STORE_KEYWORDS_MAX)
				return STORE_IMAP_LIMIT;
			res.kw[res.n] = ch->kw[i];
			res.len[res.n++] = ch->len[i];
		}
		break;
	case STORE_FLAGS_REMOVE:
		for (size_t i = 0; i < cur.n; i++) {
			if (kwset_find(ch, cur.kw[i], cur.len[i]) < 0) {
				res.kw[res.n] = cur.kw[i];
				res.len[res.n++] = cur.len[i];
			}
		}
		break;
	}
	kwset_write(&res, out);
	return STORE_OK;
}

static uint32_t
flags_apply(uint32_t old, uint32_t flags, enum store_flags_mode mode)
{
	switch (mode) {
	case STORE_FLAGS_SET:
		return flags;
	case STORE_FLAGS_ADD:
		return old | flags;
	case STORE_FLAGS_REMOVE:
		return old & ~flags;
	}
	return old;
}

static int
set_row(struct store *st, int64_t mailbox_id, const struct store_imap_msg *m)
{
	sqlite3_stmt *s = store_stmt(st, STMT_IMSG_SET_FLAGS);
	int rc;

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	sqlite3_bind_int64(s, 2, m->uid);
	sqlite3_bind_int64(s, 3, m->flags);
	sqlite3_bind_text(s, 4, m->keywords, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, (sqlite3_int64)m->modseq);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc != SQLITE_DONE) {
		store_errorf(st, "flags: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	return 0;
}

/* Sets m's keywords to kw (normal form), reusing its storage's kind. */
static int
keywords_replace(struct store *st, struct store_imap_msg *m, const char *kw)
{
	char *n = store_no_keywords;

	if (kw[0] != '\0' && (n = strdup(kw)) == NULL) {
		store_errorf(st, "out of memory");
		return -1;
	}
	if (m->keywords != store_no_keywords)
		free(m->keywords);
	m->keywords = n;
	return 0;
}

static int
flags_once(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
           const struct store_flags_change *ch, struct store_imap_msg **changed_out, size_t *n_changed_out,
           uint32_t **failed_out, size_t *n_failed_out, const char **error_out)
{
	static __thread char kwbuf[STORE_KEYWORDS_BUF];
	char canon[STORE_MAILBOX_NAME_MAX + 1];
	const char *name = store_name_canon(mailbox, canon, sizeof(canon));
	struct store_imsg_vec v = { 0 };
	struct store_mailbox_row mb;
	struct kwset chk = { .n = 0 };
	uint32_t *failed = NULL;
	size_t nchanged = 0, nfailed = 0;
	int r, rc, ret = STORE_ERR_TEMP;

	*changed_out = NULL;
	*n_changed_out = 0;
	*failed_out = NULL;
	*n_failed_out = 0;
	if ((ch->flags & ~(uint32_t)STORE_FLAGS_ALL) != 0) {
		*error_out = store_errorf(st, "unknown flag bits 0x%x", ch->flags & ~(uint32_t)STORE_FLAGS_ALL);
		return STORE_IMAP_BADNAME;
	}
	if ((r = kwset_parse(&chk, ch->keywords, true)) != STORE_OK) {
		*error_out = store_errorf(st, r == STORE_IMAP_LIMIT ? "too many or too long keywords" :
		                          "not a valid keyword");
		return r;
	}
	if ((rc = store_exec(st, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		ret = (int)store_sqlite_class(st, rc);
		goto fail;
	}
	if ((r = store_mailbox_get(st, name, &mb)) != 1) {
		if (r == 0) {
			store_errorf(st, "no mailbox %s", name);
			ret = STORE_IMAP_NONEXISTENT;
		}
		goto fail;
	}
	/* Read first, write second: the updates never run under a live
	 * cursor of the same table. */
	if (store_imsg_select(st, mb.id, uids, n, &v) == -1)
		goto fail;
	if (v.n > 0 && (failed = malloc(v.n * sizeof(*failed))) == NULL) {
		store_errorf(st, "out of memory");
		goto fail;
	}
	/* Every message this call changes gets the same new MODSEQ (RFC 7162
	 * 3.1: one value per change, above any before it); messages whose
	 * flags stay the same keep theirs, and are left out of changed. */
	for (size_t i = 0; i < v.n; i++) {
		struct store_imap_msg *m = &v.m[i];
		uint32_t nf;

		if (ch->unchangedsince != 0 && m->modseq > ch->unchangedsince) {
			failed[nfailed++] = m->uid;
			continue;
		}
		nf = flags_apply(m->flags, ch->flags, ch->mode);
		if ((r = keywords_apply(m->keywords, &chk, ch->mode, kwbuf)) != STORE_OK) {
			store_errorf(st, "message %u: more than %d keywords", m->uid, STORE_KEYWORDS_MAX);
			ret = r;
			goto fail;
		}
		if (nf == m->flags && strcmp(kwbuf, m->keywords) == 0)
			continue;
		m->flags = nf;
		m->modseq = mb.highestmodseq + 1;
		if (keywords_replace(st, m, kwbuf) == -1)
			goto fail;
		if (set_row(st, mb.id, m) == -1)
			goto sqlfail;
		/* Keep the changed ones at the front, in UID order. */
		if (nchanged != i) {
			struct store_imap_msg t = v.m[nchanged];

			v.m[nchanged] = *m;
			*m = t;
		}
		nchanged++;
	}
	if (nchanged == 0) {
		store_rollback(st);
	} else {
		mb.highestmodseq++;
		if (store_mailbox_set_counters(st, &mb) == -1)
			goto sqlfail;
		if ((rc = store_exec(st, "COMMIT")) != SQLITE_OK) {
			ret = (int)store_sqlite_class(st, rc);
			goto fail;
		}
		store_change_notify(st, name, mb.highestmodseq);
	}
	for (size_t i = nchanged; i < v.n; i++) {
		if (v.m[i].keywords != store_no_keywords)
			free(v.m[i].keywords);
	}
	if (nchanged == 0) {
		free(v.m);
		v.m = NULL;
	}
	*changed_out = v.m;
	*n_changed_out = nchanged;
	if (nfailed == 0) {
		free(failed);
		failed = NULL;
	}
	*failed_out = failed;
	*n_failed_out = nfailed;
	return STORE_OK;
sqlfail:
	ret = (int)store_sqlite_class(st, sqlite3_extended_errcode(st->db));
fail:
	store_rollback(st);
	store_imap_msgs_free(v.m, v.n);
	free(failed);
	*error_out = st->errbuf;
	return ret;
}

/* Flag changes take no new space for good, and \\Deleted comes before an
 * expunge: on a full disk they run once more on the disk reserve
 * (lib/reserve.h). */
int
store_imap_flags(struct store *st, const char *mailbox, const uint32_t *uids, size_t n,
                 const struct store_flags_change *ch, struct store_imap_msg **changed_out, size_t *n_changed_out,
                 uint32_t **failed_out, size_t *n_failed_out, const char **error_out)
{
	int r = flags_once(st, mailbox, uids, n, ch, changed_out, n_changed_out, failed_out, n_failed_out, error_out);

	if (r == STORE_ERR_NOSPACE && reserve_borrow(st->data_dir)) {
		r = flags_once(st, mailbox, uids, n, ch, changed_out, n_changed_out, failed_out, n_failed_out,
		               error_out);
		reserve_return(st->data_dir);
	}
	return r;
}
