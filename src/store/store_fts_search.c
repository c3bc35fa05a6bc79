/* Full-text search queries (store_fts.h; the index is store_fts.c).
 *
 * The index holds trigrams only (detail=none, no text), each message as a
 * header row 2d and a body row 2d+1.  A needle is folded as the tokenizer
 * folds, then:
 *   - 3 characters: one trigram; the rows holding it are exactly the
 *     texts that contain the needle.  No file is read.
 *   - 1 or 2 characters: every indexed text ends with FTS_PAD, so every
 *     character of it starts a trigram, and a text contains the needle
 *     exactly when one of its trigrams starts with it.  Those trigrams are
 *     a range of the index's terms, which fts5vocab (instance) lists with
 *     their rows.  No file is read either.  (A needle holding the padding
 *     character itself is checked against the files.)
 *   - 4 characters or more: the rows holding (up to FTS_QUERY_TRIGRAMS of)
 *     its trigrams are candidates; each candidate's message file is
 *     decoded again (mime_text_extract, the text that was indexed) and
 *     checked for the needle as a substring, both folded.
 * SEARCH BODY looks at body rows only, TEXT at both.  Messages not yet
 * indexed (the indexer thread is behind, or the disk was full) are
 * indexed first when the disk allows, else checked against their files.
 * Rows of expunged messages are never answers: every query goes through
 * fts_map and the messages table.
 *
 * Folding is the tokenizer's own (the check uses the tokenizer itself),
 * FTS5's sqlite3Fts5UnicodeFold without diacritic removal: simple
 * one-to-one lower-casing of Latin with its extensions, Greek (final sigma
 * too), Cyrillic, Armenian, Georgian, Deseret and fullwidth forms.  Not
 * covered: full case folding ("SS" does not match "ß"), Turkish dotted
 * I, Cherokee, and accents ("e" does not match "é", which is right
 * for IMAP). */
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "mime/mime_decode.h"
#include "store/store_fts.h"
#include "store/store_fts_private.h"

/* Characters in the shortest needle FTS5 can answer (one trigram). */
#define FTS_TRIGRAM 3
/* Trigrams of a needle given to FTS5, and characters of the needle looked
 * at to choose them: more would only slow the query down, since every
 * candidate is checked against its text anyway. */
#define FTS_QUERY_TRIGRAMS 12
#define FTS_NEEDLE_CHARS_MAX 256

/* Folding: the trigram tokenizer folds each character on its own, so the
 * folded form of a text is the first character of each of its trigrams
 * (padded with two characters that fold to themselves). */
struct fold {
	fts5_tokenizer api;
	Fts5Tokenizer *tok;
	struct buf pad;         /* scratch: a run of non-ASCII text + padding */
};

static int
fold_token(void *ctx, int flags, const char *token, int n, int start, int end)
{
	struct buf *out = ctx;
	unsigned char c = (unsigned char)token[0];
	int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;

	buf_append(out, token, (size_t)(len < n ? len : n));
	return SQLITE_OK;
}

static int
fold_open(struct store *st, struct fold *f)
{
	static const char *const args[] = { "case_sensitive", "0" };
	fts5_api *api = NULL;
	sqlite3_stmt *s;
	void *ud = NULL;

	memset(f, 0, sizeof(*f));
	if ((s = fts_prep(st, "SELECT fts5(?1)")) == NULL)
		return -1;
	sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(s);
	sqlite3_finalize(s);
	if (api == NULL || api->xFindTokenizer(api, "trigram", &ud, &f->api) != SQLITE_OK ||
	    f->api.xCreate(ud, (const char **)args, 2, &f->tok) != SQLITE_OK) {
		store_errorf(st, "fts: no trigram tokenizer");
		return -1;
	}
	return 0;
}

static void
fold_close(struct fold *f)
{
	if (f->tok != NULL)
		f->api.xDelete(f->tok);
	buf_free(&f->pad);
}

/* Appends the folded form of n octets at s to out.  ASCII is folded here
 * (the tokenizer maps exactly A-Z to a-z there); runs of other characters
 * go through the tokenizer. */
static void
fold_text(struct fold *f, const char *s, size_t n, struct buf *out)
{
	size_t i = 0, j;

	while (i < n) {
		const unsigned char *p = (const unsigned char *)s + i;
		char *o = buf_reserve(out, n - i);
		size_t k = 0;

		/* the ASCII run: copied with A-Z lowered */
		while (i + k < n && p[k] < 0x80) {
			unsigned char c = p[k];
			o[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		out->len += k;
		i += k;
		if (i == n)
			break;
		for (j = i; j < n && (unsigned char)s[j] >= 0x80; j++)
			;
		buf_reset(&f->pad);
		buf_append(&f->pad, s + i, j - i);
		buf_append(&f->pad, "\x01\x01", 2);
		f->api.xTokenize(f->tok, out, FTS5_TOKENIZE_DOCUMENT, f->pad.data, (int)f->pad.len,
				 fold_token);
		i = j;
	}
	buf_append(out, "", 0);
}

/* Number of UTF-8 characters in s (continuation octets not counted). */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Appends the FTS5 query that finds the rows holding every trigram of
 * needle (at most FTS_QUERY_TRIGRAMS of them, spread over the needle: any
 * subset finds a superset, which the check then narrows). */
static void
trigram_query(const char *needle, struct buf *q)
{
	size_t starts[FTS_NEEDLE_CHARS_MAX + 1], nchars = 0, k, i, pick;
	const char *p;

	for (p = needle; *p != '\0' && nchars <= FTS_NEEDLE_CHARS_MAX; p++)
		if (((unsigned char)*p & 0xC0) != 0x80)
			starts[nchars++] = (size_t)(p - needle);
	if (nchars <= FTS_NEEDLE_CHARS_MAX)
		starts[nchars] = strlen(needle);
	else
		nchars--;       /* starts[nchars] ends the last character used */
	k = nchars - (FTS_TRIGRAM - 1);   /* trigrams in the needle, >= 1 */
	buf_puts(q, "(");
	for (i = 0; i < k && i < FTS_QUERY_TRIGRAMS; i++) {
		pick = k <= FTS_QUERY_TRIGRAMS ? i : i * (k - 1) / (FTS_QUERY_TRIGRAMS - 1);
		buf_puts(q, i > 0 ? " AND \"" : "\"");
		for (p = needle + starts[pick]; p < needle + starts[pick + FTS_TRIGRAM]; p++) {
			if (*p == '"')
				buf_append(q, "\"", 1);
			buf_append(q, p, 1);
		}
		buf_puts(q, "\"");
	}
	buf_puts(q, ")");
}


/* ---- search ---- */

enum cand_mode {
	CAND_MATCH,     /* rows holding the needle's trigrams (FTS5 MATCH) */
	CAND_VOCAB,     /* rows with a trigram starting with the needle */
	CAND_ALL        /* every indexed message */
};

struct query {
	struct fold fold;
	struct buf needle;      /* folded */
	bool body_only;
	struct buf header, body, ftext;   /* scratch for the checks */
};

/* Whether text (n octets) holds the needle once folded. */
static bool
text_has(struct query *q, const char *text, size_t n)
{
	if (n == 0)
		return false;
	buf_reset(&q->ftext);
	fold_text(&q->fold, text, n, &q->ftext);
	return memmem(q->ftext.data, q->ftext.len, q->needle.data, q->needle.len) != NULL;
}

/* Whether the message file's text (its body only, for BODY) holds the
 * needle: the text it was indexed from, decoded again. */
static bool
file_has(struct store *st, struct query *q, const char *file)
{
	buf_reset(&q->header);
	buf_reset(&q->body);
	if (!fts_file_text(st, file, &q->header, &q->body))
		return false;
	return (!q->body_only && text_has(q, q->header.data, q->header.len)) || text_has(q, q->body.data, q->body.len);
}

/* Runs s (rows of uid, file in UID order; finalized here) and keeps the
 * UIDs that are answers: all of them when exact, else those whose file
 * holds the needle. */
static int
run_candidates(struct store *st, sqlite3_stmt *s, struct query *q, bool exact, struct fts_uids *u)
{
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(s, 0);

		if (exact || file_has(st, q, (const char *)sqlite3_column_text(s, 1)))
			fts_uids_add(u, uid);
	}
	return fts_finish(st, s, rc, "search");
}

/* The answers among indexed messages. */
static int
search_indexed(struct store *st, int64_t mailbox_id, struct query *q, enum cand_mode mode, bool exact,
	       struct fts_uids *u)
{
	struct buf sql = BUF_INIT, arg = BUF_INIT;
	sqlite3_stmt *s;
	int ret = -1;

	buf_puts(&sql, "SELECT m.uid, msg.file FROM fts_map m JOIN messages msg"
		       " ON msg.mailbox_id = m.mailbox_id AND msg.uid = m.uid WHERE m.mailbox_id = ?1");
	if (mode == CAND_MATCH) {
		buf_puts(&sql, " AND m.doc IN (SELECT rowid >> 1 FROM fts_idx WHERE fts_idx MATCH ?2");
		trigram_query(q->needle.data, &arg);
		buf_puts(&sql, q->body_only ? " AND rowid & 1)" : ")");
	} else if (mode == CAND_VOCAB) {
		/* terms from needle up to needle + 0xFF: those starting with it */
		if (sqlite3_exec(st->db, "CREATE VIRTUAL TABLE IF NOT EXISTS temp.fts_vocab"
					 " USING fts5vocab(main, fts_idx, instance)", NULL, NULL, NULL) != SQLITE_OK) {
			store_errorf(st, "fts vocab: %s", sqlite3_errmsg(st->db));
			goto out;
		}
		buf_puts(&sql, " AND m.doc IN (SELECT doc >> 1 FROM temp.fts_vocab WHERE term >= ?2 AND term <= ?3");
		buf_puts(&sql, q->body_only ? " AND doc & 1)" : ")");
		buf_append(&arg, q->needle.data, q->needle.len);
		buf_append(&arg, "\xff", 1);
	}
	buf_puts(&sql, " ORDER BY m.uid");
	if ((s = fts_prep(st, sql.data)) == NULL)
		goto out;
	sqlite3_bind_int64(s, 1, mailbox_id);
	if (mode == CAND_MATCH)
		sqlite3_bind_text(s, 2, arg.data, (int)arg.len, SQLITE_STATIC);
	else if (mode == CAND_VOCAB) {
		sqlite3_bind_text(s, 2, q->needle.data, (int)q->needle.len, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, arg.data, (int)arg.len, SQLITE_STATIC);
	}
	ret = run_candidates(st, s, q, exact, u);
out:
	buf_free(&sql);
	buf_free(&arg);
	return ret;
}

/* The answers among messages not indexed yet: their files are read. */
static int
search_unindexed(struct store *st, int64_t mailbox_id, struct query *q, struct fts_uids *u)
{
	sqlite3_stmt *s = fts_prep(st, "SELECT uid, file FROM messages m WHERE mailbox_id = ?1 AND NOT EXISTS"
				       " (SELECT 1 FROM fts_map WHERE mailbox_id = ?1 AND uid = m.uid) ORDER BY uid");

	if (s == NULL)
		return -1;
	sqlite3_bind_int64(s, 1, mailbox_id);
	return run_candidates(st, s, q, false, u);
}

/* Merges two ascending, disjoint lists into a (a real allocation). */
static void
merge(struct fts_uids *a, struct fts_uids *b)
{
	uint32_t *out = xmalloc((a->n + b->n + 1) * sizeof(*out));
	size_t i = 0, j = 0, k = 0;

	while (i < a->n || j < b->n)
		out[k++] = j == b->n || (i < a->n && a->v[i] < b->v[j]) ? a->v[i++] : b->v[j++];
	free(a->v);
	a->v = out;
	a->n = a->cap = k;
}

static int
search(struct store *st, int64_t mailbox_id, const char *needle, bool body_only, struct fts_uids *u)
{
	struct query q = { .needle = BUF_INIT, .body_only = body_only, .header = BUF_INIT, .body = BUF_INIT,
			   .ftext = BUF_INIT };
	struct fts_uids late = { NULL, 0, 0 };
	enum cand_mode mode;
	size_t chars;
	bool exact;
	int ret = -1;

	if (fold_open(st, &q.fold) == -1)
		goto out;
	fold_text(&q.fold, needle, strlen(needle), &q.needle);
	buf_append(&q.needle, "", 0);
	chars = utf8_chars(q.needle.data);
	if (memchr(q.needle.data, FTS_PAD_CHAR, q.needle.len) != NULL) {
		/* the padding would give false answers: check every file */
		mode = chars >= FTS_TRIGRAM ? CAND_MATCH : CAND_ALL;
		exact = false;
	} else {
		mode = chars >= FTS_TRIGRAM ? CAND_MATCH : CAND_VOCAB;
		exact = chars <= FTS_TRIGRAM;
	}
	if (search_indexed(st, mailbox_id, &q, mode, exact, u) == -1 ||
	    search_unindexed(st, mailbox_id, &q, &late) == -1)
		goto out;
	if (late.n > 0)
		merge(u, &late);
	ret = 0;
out:
	fold_close(&q.fold);
	buf_free(&q.needle);
	buf_free(&q.header);
	buf_free(&q.body);
	buf_free(&q.ftext);
	free(late.v);
	return ret;
}

int
store_fts_search(struct store *st, const char *mailbox, const char *needle, bool body_only,
		 uint32_t **uids_out, size_t *n_out, const char **error_out)
{
	struct store_mailbox_row row;
	struct fts_uids u = { NULL, 0, 0 };
	struct buf n = BUF_INIT, raw = BUF_INIT;
	size_t i;
	int r;

	*uids_out = NULL;
	*n_out = 0;
	if ((r = store_mailbox_get(st, mailbox, &row)) != 1) {
		if (r == 0)
			store_errorf(st, "no mailbox %s", mailbox);
		*error_out = st->errbuf;
		return -1;
	}
	fts_heal_for_search(st, row.id);
	/* the indexed text is valid UTF-8 with LF line ends: so is the
	 * needle (its character boundaries must be the tokenizer's) */
	for (i = 0; needle[i] != '\0'; i++)
		if (!(needle[i] == '\r' && needle[i + 1] == '\n'))
			buf_append(&raw, needle + i, 1);
	mime_charset_to_utf8("UTF-8", raw.data != NULL ? raw.data : "", raw.len, &n);
	buf_append(&n, "", 0);
	buf_free(&raw);
	if (utf8_chars(n.data) == 0) {
		/* every text contains the empty string */
		sqlite3_stmt *s = fts_prep(st, "SELECT uid FROM messages WHERE mailbox_id = ?1 ORDER BY uid");
		int rc = SQLITE_ERROR;

		if (s != NULL) {
			sqlite3_bind_int64(s, 1, row.id);
			while ((rc = sqlite3_step(s)) == SQLITE_ROW)
				fts_uids_add(&u, (uint32_t)sqlite3_column_int64(s, 0));
		}
		r = s != NULL ? fts_finish(st, s, rc, "search") : -1;
	} else {
		r = search(st, row.id, n.data, body_only, &u);
	}
	buf_free(&n);
	if (r == -1) {
		free(u.v);
		*error_out = st->errbuf;
		return -1;
	}
	if (u.v == NULL)
		u.v = xmalloc(sizeof(*u.v));   /* a real allocation even when empty */
	*uids_out = u.v;
	*n_out = u.n;
	return 0;
}
