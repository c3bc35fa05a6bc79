/* Evaluating a SEARCH program against the selected mailbox.
 *
 * The messages are the view's (the sequence numbers the client knows)
 * that still exist in the store; the top-level sequence and UID sets
 * narrow that list before anything is read.  Each message then goes
 * through the tree, whose AND and OR children are ordered cheap first
 * (imap_search.c): flags, sizes, internal dates, sets and MODSEQ come from
 * store_imap_get; BODY and TEXT ask the full-text index once per key, the
 * first time a message needs them; SENT* asks store_msg_cached; header
 * keys read only the message's header, once per message, and only for
 * messages the cheaper keys have not decided.
 *
 * Dates: ON, SINCE and BEFORE compare the day of the internal date in
 * UTC; SENTON, SENTSINCE and SENTBEFORE the Date header's date as
 * written, "disregarding time and timezone" (RFC 3501 6.4.4):
 * "Sun, 25 Mar 2007 00:00:00 +0200" is on 25-Mar-2007 although it is the
 * 24th in UTC (store_msg_cached keeps the instant and the zone; a missing
 * or unparsable Date falls back to the internal date's day in UTC). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "imap/imap_search.h"
#include "imap/imap_search_private.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "store/store.h"
#include "store/store_fts.h"
#include "store/store_imap.h"

struct eval {
	struct imap_ctx *ctx;
	struct imap_result *res;
	bool failed;                    /* a store error: the command answers NO */
	int64_t now;                    /* OLDER, YOUNGER: when evaluation began */
	const uint32_t *only;           /* imap_search_eval_some: the UIDs to look at */
	size_t n_only;
	const uint32_t *saved;          /* "$" */
	size_t n_saved;

	/* the message being looked at */
	const struct store_imap_msg *m;
	uint32_t seq;
	bool gone;                      /* expunged meanwhile: never matches */
	bool cached;                    /* header_size, sent_date are valid */
	uint64_t header_size;
	int64_t sent_date;              /* 0: no usable Date header */
	int32_t sent_zone;
	bool header_read;
	struct imap_search_header *hdr; /* NULL when unreadable */
	struct arena *msg_arena;        /* reset for every message */
	struct buf hbuf;                /* the header's bytes */
};

static void
store_fail(struct eval *e, const char *error)
{
	if (e->failed)
		return;
	e->failed = true;
	e->res->status = IMAP_NO;
	str_lcpy(e->res->code, "UNAVAILABLE", sizeof(e->res->code));
	str_lcpy(e->res->text, error != NULL ? error : "Search failed", sizeof(e->res->text));
}

static int
cmp_range(const void *a, const void *b)
{
	const struct imap_search_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Turns a parsed set into sorted, merged ranges with "*" as star (the
 * largest number in use; RFC 9051 9: "*:4" and "4:*" are the same, and a
 * range past the last number still holds it). */
static void
resolve_set(struct imap_search_key *k, uint32_t star, struct arena *a)
{
	size_t i, n = 0;

	k->ranges = arena_alloc(a, (k->set.count + 1) * sizeof(*k->ranges));
	for (i = 0; i < k->set.count; i++) {
		uint32_t lo = k->set.ranges[i].lo, hi = k->set.ranges[i].hi;

		if (lo == IMAP_SEQ_STAR)
			lo = star;
		if (hi == IMAP_SEQ_STAR)
			hi = star;
		if (lo > hi) {
			uint32_t t = lo;
			lo = hi;
			hi = t;
		}
		k->ranges[n].lo = lo;
		k->ranges[n].hi = hi;
		n++;
	}
	qsort(k->ranges, n, sizeof(*k->ranges), cmp_range);
	k->n_ranges = 0;
	for (i = 0; i < n; i++) {
		struct imap_search_range *last = k->n_ranges > 0 ? &k->ranges[k->n_ranges - 1] : NULL;

		if (last != NULL && (uint64_t)k->ranges[i].lo <= (uint64_t)last->hi + 1) {
			if (k->ranges[i].hi > last->hi)
				last->hi = k->ranges[i].hi;
		} else {
			k->ranges[k->n_ranges++] = k->ranges[i];
		}
	}
}

static void
prepare(struct imap_search_key *k, const struct imap_view *v, struct arena *a)
{
	struct imap_search_key *c;

	if (k->op == ISK_SEQSET)
		resolve_set(k, (uint32_t)v->count, a);
	else if (k->op == ISK_UIDSET)
		resolve_set(k, v->count > 0 ? v->uids[v->count - 1] : 0, a);
	for (c = k->child; c != NULL; c = c->next)
		prepare(c, v, a);
}

static void
release(struct imap_search_key *k)
{
	struct imap_search_key *c;

	free(k->fts_uids);
	k->fts_uids = NULL;
	k->fts_done = false;
	for (c = k->child; c != NULL; c = c->next)
		release(c);
}

static bool
in_ranges(const struct imap_search_range *r, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x < r[mid].lo)
			hi = mid;
		else if (x > r[mid].hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static bool
in_uids(const uint32_t *u, size_t n, uint32_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (x < u[mid])
			hi = mid;
		else if (x > u[mid])
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

/* A set key on (uid, seq) alone: for narrowing before the store is read. */
static bool
set_match(const struct eval *e, const struct imap_search_key *k, uint32_t uid, uint32_t seq)
{
	switch (k->op) {
	case ISK_SEQSET:
		return in_ranges(k->ranges, k->n_ranges, seq);
	case ISK_UIDSET:
		return in_ranges(k->ranges, k->n_ranges, uid);
	case ISK_SAVED:
		return in_uids(e->saved, e->n_saved, uid);
	default:
		return true;
	}
}

static bool
has_keyword(const char *list, const char *kw, size_t len)
{
	const char *p = list;

	while (p != NULL && *p != '\0') {
		size_t n;

		while (*p == ' ')
			p++;
		n = strcspn(p, " ");
		if (n == len && n > 0 && strncasecmp(p, kw, len) == 0)
			return true;
		p += n;
	}
	return false;
}

static int64_t
day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

static bool
date_cmp(enum imap_search_op op, int64_t t, int64_t day)
{
	int64_t d = day_of(t);

	switch (op) {
	case ISK_BEFORE:
	case ISK_SENTBEFORE:
	case ISK_SAVEDBEFORE:
		return d < day;
	case ISK_ON:
	case ISK_SENTON:
	case ISK_SAVEDON:
		return d == day;
	default:
		return d >= day;
	}
}

static bool
load_cached(struct eval *e)
{
	struct store_msg_cached c;
	const char *error;
	int r;

	if (e->cached)
		return true;
	if (e->gone)
		return false;
	r = store_msg_cached(e->ctx->st, e->ctx->view->mailbox, e->m->uid, &c, &error);
	if (r == STORE_IMAP_NONEXISTENT) {
		e->gone = true;
		return false;
	}
	if (r != STORE_OK) {
		store_fail(e, error);
		return false;
	}
	e->cached = true;
	e->header_size = c.header_size;
	e->sent_date = c.sent_date;
	e->sent_zone = c.sent_zone;
	return true;
}

/* Reads the message's header (at most IMAP_SEARCH_HEADER_MAX octets);
 * never the body. */
static bool
load_header(struct eval *e)
{
	struct store_msg sm;
	const char *error;
	size_t want, got = 0;
	int fd;

	if (e->header_read)
		return e->hdr != NULL;
	e->header_read = true;
	if (!load_cached(e))
		return false;
	memset(&sm, 0, sizeof(sm));
	sm.uid = e->m->uid;
	sm.flags = e->m->flags;
	sm.modseq = e->m->modseq;
	sm.size = e->m->size;
	sm.internal_date = e->m->internal_date;
	memcpy(sm.file, e->m->file, sizeof(sm.file));
	fd = store_msg_open(e->ctx->st, &sm, &error);
	if (fd == -1) {
		/* unlinked by an expunge since store_imap_get: gone */
		if (errno == ENOENT)
			e->gone = true;
		else
			store_fail(e, error);
		return false;
	}
	want = e->header_size < IMAP_SEARCH_HEADER_MAX ? (size_t)e->header_size : IMAP_SEARCH_HEADER_MAX;
	buf_reset(&e->hbuf);
	buf_reserve(&e->hbuf, want + 1);
	while (got < want) {
		ssize_t r = pread(fd, e->hbuf.data + got, want - got, (off_t)got);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	e->hbuf.len = got;
	e->hbuf.data[got] = '\0';
	e->hdr = imap_search_header_split(e->hbuf.data, got, e->msg_arena);
	return true;
}

static bool
fts_match(struct eval *e, struct imap_search_key *k)
{
	const char *error;

	if (k->needle_len == 0)
		return true;  /* every text holds the empty string */
	if (!k->fts_done) {
		if (store_fts_search(e->ctx->st, e->ctx->view->mailbox, k->needle, k->op == ISK_BODY,
		                     &k->fts_uids, &k->fts_n, &error) == -1) {
			store_fail(e, error);
			return false;
		}
		k->fts_done = true;
	}
	return in_uids(k->fts_uids, k->fts_n, e->m->uid);
}

static bool
match(struct eval *e, struct imap_search_key *k)
{
	const struct store_imap_msg *m = e->m;
	struct imap_search_key *c;

	if (e->failed || e->gone)
		return false;
	switch (k->op) {
	case ISK_AND:
		for (c = k->child; c != NULL; c = c->next)
			if (!match(e, c))
				return false;
		return true;
	case ISK_OR:
		return match(e, k->child) || match(e, k->child->next);
	case ISK_NOT:
		return !match(e, k->child);
	case ISK_ALL:
		return true;
	case ISK_FLAG:
		return ((m->flags & k->flag) != 0) == k->want;
	case ISK_RECENT:
		/* RFC 3501 6.4.4: RECENT, OLD = NOT RECENT, NEW = RECENT UNSEEN */
		if (k->flag != 0 && (m->flags & k->flag) != 0)
			return false;
		return imap_view_recent(e->ctx->view, m->uid) == k->want;
	case ISK_KEYWORD:
		return has_keyword(m->keywords, k->str, k->len) == k->want;
	case ISK_EMAILID: {
		char id[STORE_EMAILID_MAX + 1];

		store_imap_emailid(m, id);
		return strlen(id) == k->len && memcmp(id, k->str, k->len) == 0;
	}
	case ISK_THREADID:
		return false;
	case ISK_LARGER:
		return m->size > k->num;
	case ISK_SMALLER:
		return m->size < k->num;
	case ISK_BEFORE:
	case ISK_ON:
	case ISK_SINCE:
		return date_cmp(k->op, m->internal_date, k->day);
	case ISK_SAVEDBEFORE:
	case ISK_SAVEDON:
	case ISK_SAVEDSINCE:
		/* the day in UTC, as for the internal date; messages saved
		 * before Tern kept save dates use their internal date */
		return date_cmp(k->op, m->save_date != 0 ? m->save_date : m->internal_date, k->day);
	case ISK_OLDER:
		/* RFC 5032 3: OLDER is older than the interval, YOUNGER
		 * within it; each is the other's complement */
		return e->now - m->internal_date > (int64_t)k->num;
	case ISK_YOUNGER:
		return e->now - m->internal_date <= (int64_t)k->num;
	case ISK_SENTBEFORE:
	case ISK_SENTON:
	case ISK_SENTSINCE:
		if (!load_cached(e))
			return false;
		/* the wall-clock time as written: the instant plus its zone */
		return date_cmp(k->op, e->sent_date != 0 ? e->sent_date + e->sent_zone : m->internal_date, k->day);
	case ISK_SEQSET:
	case ISK_UIDSET:
	case ISK_SAVED:
		return set_match(e, k, m->uid, e->seq);
	case ISK_MODSEQ:
		return m->modseq >= k->num;
	case ISK_HEADER:
		if (!load_header(e))
			return false;
		return imap_search_header_match(e->hdr, k->str, k->len, k->needle, k->needle_len, e->msg_arena) ||
		       (k->address &&
		        imap_search_address_match(e->hdr, k->str, k->len, k->needle, k->needle_len, e->msg_arena));
	case ISK_BODY:
	case ISK_TEXT:
		return fts_match(e, k);
	}
	return false;
}

/* The view's UIDs that the top-level sets allow, in ascending order. */
static uint32_t *
candidates(struct eval *e, const struct imap_search_key *root, size_t *n_out)
{
	const struct imap_view *v = e->ctx->view;
	const struct imap_search_key *c, **sets;
	uint32_t *out = xmalloc((v->count + 1) * sizeof(*out));
	size_t i, k, n = 0, n_sets = 0;

	for (c = root->child; c != NULL; c = c->next)
		if (c->op == ISK_SEQSET || c->op == ISK_UIDSET || c->op == ISK_SAVED)
			n_sets++;
	sets = arena_alloc(e->ctx->arena, (n_sets + 1) * sizeof(*sets));
	n_sets = 0;
	for (c = root->child; c != NULL; c = c->next)
		if (c->op == ISK_SEQSET || c->op == ISK_UIDSET || c->op == ISK_SAVED)
			sets[n_sets++] = c;
	for (i = 0; i < v->count; i++) {
		if (e->only != NULL && !in_uids(e->only, e->n_only, v->uids[i]))
			continue;
		for (k = 0; k < n_sets; k++)
			if (!set_match(e, sets[k], v->uids[i], (uint32_t)(i + 1)))
				break;
		if (k == n_sets)
			out[n++] = v->uids[i];
	}
	*n_out = n;
	return out;
}

static void
add_match(struct imap_search_match *out, const struct store_imap_msg *m, uint32_t seq)
{
	out->uids[out->n] = m->uid;
	out->seqs[out->n] = seq;
	out->modseqs[out->n] = m->modseq;
	out->n++;
}

static int
eval(struct imap_ctx *ctx, struct imap_search_program *prog, const uint32_t *only, size_t n_only,
     struct imap_search_match *out, struct imap_result *res)
{
	const struct imap_view *v = ctx->view;
	struct eval e;
	struct store_imap_msg *msgs = NULL;
	uint32_t *cand;
	size_t n_cand, n_msgs = 0, i, j = 0;
	const char *error;
	int r;

	memset(out, 0, sizeof(*out));
	memset(&e, 0, sizeof(e));
	e.ctx = ctx;
	e.res = res;
	e.now = (int64_t)time(NULL);
	e.only = only;
	e.n_only = n_only;
	if (ctx->saved != NULL && ctx->saved_count != NULL && *ctx->saved != NULL) {
		e.saved = *ctx->saved;
		e.n_saved = *ctx->saved_count;
	}
	prepare(prog->root, v, ctx->arena);
	cand = candidates(&e, prog->root, &n_cand);
	if (n_cand > 0) {
		r = store_imap_get(ctx->st, v->mailbox, cand, n_cand, &msgs, &n_msgs, &error);
		if (r != STORE_OK) {
			free(cand);
			res->status = IMAP_NO;
			str_lcpy(res->code, r == STORE_IMAP_NONEXISTENT ? "NONEXISTENT" : "UNAVAILABLE",
			         sizeof(res->code));
			str_lcpy(res->text, error != NULL ? error : "Search failed", sizeof(res->text));
			return -1;
		}
	}
	free(cand);
	out->uids = xmalloc((n_msgs + 1) * sizeof(*out->uids));
	out->seqs = xmalloc((n_msgs + 1) * sizeof(*out->seqs));
	out->modseqs = xmalloc((n_msgs + 1) * sizeof(*out->modseqs));
	e.msg_arena = arena_new(16384, false);
	for (i = 0; i < n_msgs && !e.failed; i++) {
		/* the view and msgs are both in UID order */
		while (j < v->count && v->uids[j] < msgs[i].uid)
			j++;
		if (j == v->count || v->uids[j] != msgs[i].uid)
			continue;  /* not in the view: the client does not know it */
		e.m = &msgs[i];
		e.seq = (uint32_t)(j + 1);
		e.gone = e.cached = e.header_read = false;
		e.hdr = NULL;
		if (match(&e, prog->root) && !e.gone && !e.failed)
			add_match(out, &msgs[i], e.seq);
		arena_reset(e.msg_arena);
	}
	arena_free(&e.msg_arena);
	buf_free(&e.hbuf);
	release(prog->root);
	if (msgs != NULL)
		store_imap_msgs_free(msgs, n_msgs);
	if (e.failed) {
		imap_search_match_free(out);
		return -1;
	}
	return 0;
}

int
imap_search_eval(struct imap_ctx *ctx, struct imap_search_program *prog, struct imap_search_match *out,
                 struct imap_result *res)
{
	return eval(ctx, prog, NULL, 0, out, res);
}

int
imap_search_eval_some(struct imap_ctx *ctx, struct imap_search_program *prog, const uint32_t *only,
                      size_t n_only, struct imap_search_match *out, struct imap_result *res)
{
	static const uint32_t none[1];

	return eval(ctx, prog, only != NULL ? only : none, n_only, out, res);
}

void
imap_search_match_free(struct imap_search_match *m)
{
	free(m->uids);
	free(m->seqs);
	free(m->modseqs);
	memset(m, 0, sizeof(*m));
}
