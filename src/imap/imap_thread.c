/* THREAD and UID THREAD (RFC 5256 3 and 4): ORDEREDSUBJECT and
 * REFERENCES over the messages the search criteria select, from the
 * cached keys (store_sort.h: base subject, sent date, Message-ID and
 * References).  Step numbers below are those of RFC 5256's REFERENCES.
 *
 * Choices the RFC leaves open, as Dovecot makes them: messages are linked
 * in sequence order (the first of two with one Message-ID keeps it, the
 * other gets a unique one); a message without references keeps a parent
 * its ID was given by an earlier message's References; step 1.B breaks
 * the old link even when the new one is then refused as a loop. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_sort.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "mime/mime_subject.h"
#include "store/store_sort.h"

#define NONE UINT32_MAX

/* One node of the tree: a message, or a dummy (msg NULL) for an ID that
 * was only referenced or for merged subjects (step 5.C). */
struct node {
	const struct imap_sort_item *item;
	const char *id;                /* Message-ID, NULL for unique/dummy-by-merge */
	uint32_t parent, first, last, next;
	/* step 6: the sort position (its own, or its first child's for a dummy) */
	int64_t date;
	uint32_t seq;
};

struct tree {
	struct node *n;
	size_t count, cap;
	uint32_t *slots;               /* hash of ids (or subjects): node index + 1, 0 empty */
	size_t n_slots;
};

static uint32_t
node_new(struct tree *t, const struct imap_sort_item *item, const char *id)
{
	struct node *x;

	if (t->count == t->cap) {
		t->cap = t->cap > 0 ? t->cap * 2 : 64;
		t->n = xrealloc(t->n, t->cap * sizeof(*t->n));
	}
	x = &t->n[t->count];
	memset(x, 0, sizeof(*x));
	x->item = item;
	x->id = id;
	x->parent = x->first = x->last = x->next = NONE;
	return (uint32_t)t->count++;
}

/* --- a string-keyed table of node indices (open addressing) --- */

static uint64_t
hash(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s != '\0'; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	}
	return h;
}

static void
table_init(struct tree *t, size_t want)
{
	size_t n = 16;

	while (n < want * 2)
		n *= 2;
	free(t->slots);
	t->slots = xcalloc(n, sizeof(*t->slots));
	t->n_slots = n;
}

/* The slot for key: holding a node whose key() equals it, or empty. */
static uint32_t *
table_slot(struct tree *t, const char *key, const char *(*key_of)(const struct tree *, uint32_t))
{
	size_t i = (size_t)hash(key) & (t->n_slots - 1);

	for (;; i = (i + 1) & (t->n_slots - 1)) {
		uint32_t *s = &t->slots[i];

		if (*s == 0)
			return s;
		if (strcmp(key_of(t, *s - 1), key) == 0)
			return s;
	}
}

static const char *id_of(const struct tree *t, uint32_t i);

/* Keeps the id table at most half full before one more insertion. */
static void
id_room(struct tree *t)
{
	if ((t->count + 1) * 2 <= t->n_slots)
		return;
	table_init(t, t->count + 1);
	for (uint32_t j = 0; j < t->count; j++)
		if (t->n[j].id != NULL)
			*table_slot(t, t->n[j].id, id_of) = j + 1;
}

/* --- links --- */

static bool
is_ancestor(const struct tree *t, uint32_t a, uint32_t x)
{
	for (; x != NONE; x = t->n[x].parent)
		if (x == a)
			return true;
	return false;
}

static void
unlink_node(struct tree *t, uint32_t c)
{
	uint32_t p = t->n[c].parent, *pp, prev = NONE;

	if (p == NONE)
		return;
	for (pp = &t->n[p].first; *pp != c; pp = &t->n[*pp].next)
		prev = *pp;
	*pp = t->n[c].next;
	if (t->n[p].last == c)
		t->n[p].last = prev;
	t->n[c].parent = t->n[c].next = NONE;
}

static void
add_child(struct tree *t, uint32_t p, uint32_t c)
{
	t->n[c].parent = p;
	t->n[c].next = NONE;
	if (t->n[p].last == NONE)
		t->n[p].first = c;
	else
		t->n[t->n[p].last].next = c;
	t->n[p].last = c;
}

/* Makes c a child of p unless that would make a loop. */
static void
link_if_no_loop(struct tree *t, uint32_t p, uint32_t c)
{
	if (p != c && !is_ancestor(t, c, p))
		add_child(t, p, c);
}

static const char *
id_of(const struct tree *t, uint32_t i)
{
	return t->n[i].id;
}

/* The node of a referenced ID, made (a dummy) when new. */
static uint32_t
node_for_id(struct tree *t, const char *id)
{
	uint32_t *s;

	id_room(t);
	s = table_slot(t, id, id_of);

	if (*s == 0)
		*s = node_new(t, NULL, id) + 1;
	return *s - 1;
}

/* Step 1 for one message. */
static void
link_message(struct tree *t, const struct imap_sort_item *it, struct arena *a)
{
	const struct store_sort_keys *k = &it->msg->k;
	uint32_t self = NONE, prev = NONE, *s;
	char *refs, *id, *save;

	id_room(t);
	if (k->message_id[0] != '\0') {
		s = table_slot(t, k->message_id, id_of);
		if (*s == 0)
			*s = node_new(t, it, k->message_id) + 1;
		else if (t->n[*s - 1].item == NULL)
			t->n[*s - 1].item = it;   /* referenced before: now it is here */
		else
			s = NULL;                 /* a duplicate: a unique ID below */
		if (s != NULL)
			self = *s - 1;
	}
	if (self == NONE)
		self = node_new(t, it, NULL);
	/* 1.A: the references, each the parent of the next */
	refs = arena_strdup(a, k->references);
	for (id = strtok_r(refs, " ", &save); id != NULL; id = strtok_r(NULL, " ", &save)) {
		uint32_t r = node_for_id(t, id);

		if (prev != NONE && t->n[r].parent == NONE)
			link_if_no_loop(t, prev, r);
		prev = r;
	}
	/* 1.B: the last reference is the parent */
	if (prev != NONE) {
		unlink_node(t, self);
		link_if_no_loop(t, prev, self);
	}
}

/* Every node under root (root first), each before its descendants
 * (breadth first): walking it backwards visits children before parents
 * without recursion, whose depth a long thread would set.  malloc'd. */
static uint32_t *
below(const struct tree *t, uint32_t root, size_t *n_out)
{
	uint32_t *v = xmalloc((t->count + 1) * sizeof(*v));
	size_t n = 0;

	v[n++] = root;
	for (size_t i = 0; i < n; i++)
		for (uint32_t c = t->n[v[i]].first; c != NONE; c = t->n[c].next)
			v[n++] = c;
	*n_out = n;
	return v;
}

/* Step 4 on the children of p: dummies without children go, dummies with
 * children give them to p, except at the top (p the root) with more than
 * one.  Their own children are pruned already. */
static void
prune_children(struct tree *t, uint32_t p, bool top)
{
	uint32_t *pp = &t->n[p].first, prev = NONE;

	t->n[p].last = NONE;
	while (*pp != NONE) {
		uint32_t c = *pp, next = t->n[c].next;

		if (t->n[c].item == NULL && (t->n[c].first == NONE || !top || t->n[t->n[c].first].next == NONE)) {
			/* splice c's children in where c is; they are looked
			 * at next (their own children are pruned already, and
			 * they are no dummies unless at the top) */
			uint32_t g, last = NONE;

			for (g = t->n[c].first; g != NONE; g = t->n[g].next) {
				t->n[g].parent = p;
				last = g;
			}
			if (last != NONE) {
				*pp = t->n[c].first;
				t->n[last].next = next;
			} else {
				*pp = next;
			}
			t->n[c].parent = t->n[c].first = t->n[c].last = t->n[c].next = NONE;
			continue;
		}
		prev = c;
		pp = &t->n[c].next;
	}
	t->n[p].last = prev;
}

static void
prune(struct tree *t, uint32_t root)
{
	size_t n;
	uint32_t *v = below(t, root, &n);

	while (n-- > 0)
		prune_children(t, v[n], v[n] == root);
	free(v);
}

/* The thread subject of a top-level node (5.B.a): its own, or its first
 * child's for a dummy; NULL when empty. */
static const char *
thread_subject(const struct tree *t, uint32_t c)
{
	const struct imap_sort_item *it = t->n[c].item;

	if (it == NULL && t->n[c].first != NONE)
		it = t->n[t->n[c].first].item;
	if (it == NULL || it->msg->k.subject[0] == '\0')
		return NULL;
	return it->msg->k.subject;
}

static const char *
subject_of(const struct tree *t, uint32_t i)
{
	const char *s = thread_subject(t, i);

	return s != NULL ? s : "";
}

static bool
is_reply(const struct tree *t, uint32_t c)
{
	return t->n[c].item != NULL && t->n[c].item->msg->k.reply;
}

/* Step 5: threads with the same subject gathered under root. */
static void
merge_subjects(struct tree *t, uint32_t root)
{
	uint32_t c, *s, *top;
	size_t n = 0, i, added = 0;

	for (c = t->n[root].first; c != NONE; c = t->n[c].next)
		n++;
	table_init(t, n);
	/* 5.B: one node per subject, a dummy or a non-reply preferred */
	for (c = t->n[root].first; c != NONE; c = t->n[c].next) {
		const char *subj = thread_subject(t, c);

		if (subj == NULL)
			continue;
		s = table_slot(t, subj, subject_of);
		if (*s == 0)
			*s = c + 1;
		else if (t->n[*s - 1].item != NULL && (t->n[c].item == NULL || (is_reply(t, *s - 1) && !is_reply(t, c))))
			*s = c + 1;
	}
	/* 5.C: merge the others into it.  The top level is walked as an
	 * array and rebuilt at the end: a node merged away is only marked
	 * (parent no longer root), since unlinking each from a list of
	 * 100,000 would cost a walk of the list every time. */
	top = xmalloc((2 * n + 1) * sizeof(*top));
	for (i = 0, c = t->n[root].first; c != NONE; c = t->n[c].next)
		top[i++] = c;
	for (i = 0; i < n; i++) {
		const char *subj;
		uint32_t o;

		c = top[i];
		if (t->n[c].parent != root || (subj = thread_subject(t, c)) == NULL)
			continue;
		s = table_slot(t, subj, subject_of);
		o = *s - 1;
		if (o == c)
			continue;
		t->n[c].parent = NONE;
		if (t->n[o].item == NULL && t->n[c].item == NULL) {
			uint32_t g, gn;

			for (g = t->n[c].first; g != NONE; g = gn) {
				gn = t->n[g].next;
				add_child(t, o, g);
			}
			t->n[c].first = t->n[c].last = NONE;
		} else if (t->n[o].item == NULL || (is_reply(t, c) && !is_reply(t, o))) {
			add_child(t, o, c);
		} else {
			uint32_t d = node_new(t, NULL, NULL);

			add_child(t, d, o);   /* o leaves the top level */
			add_child(t, d, c);
			t->n[d].parent = root;
			top[n + added++] = d;
			*s = d + 1;
		}
	}
	t->n[root].first = t->n[root].last = NONE;
	for (i = 0; i < n + added; i++) {
		c = top[i];
		if (t->n[c].parent == root)
			add_child(t, root, c);
	}
	free(top);
}

static int
cmp_nodes(const void *a, const void *b, void *arg)
{
	const struct tree *t = arg;
	const struct node *x = &t->n[*(const uint32_t *)a], *y = &t->n[*(const uint32_t *)b];

	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Orders p's children by their date and seq. */
static void
sort_level(struct tree *t, uint32_t p, size_t n, uint32_t **buf, size_t *cap)
{
	uint32_t c, *v;
	size_t i;

	if (n < 2)
		return;
	if (n > *cap) {
		*cap = n;
		*buf = xrealloc(*buf, n * sizeof(**buf));
	}
	v = *buf;
	for (i = 0, c = t->n[p].first; c != NONE; c = t->n[c].next)
		v[i++] = c;
	qsort_r(v, n, sizeof(*v), cmp_nodes, t);
	t->n[p].first = v[0];
	for (i = 0; i + 1 < n; i++)
		t->n[v[i]].next = v[i + 1];
	t->n[v[n - 1]].next = NONE;
	t->n[p].last = v[n - 1];
}

/* Step 6: every set of siblings by sent date (a dummy: its first child's,
 * after its children are sorted), then sequence number; children before
 * parents (below()). */
static void
sort_all(struct tree *t, uint32_t root)
{
	uint32_t *buf = NULL, *v;
	size_t cap = 0, n;

	v = below(t, root, &n);
	while (n-- > 0) {
		uint32_t x = v[n], c;
		size_t k = 0;

		for (c = t->n[x].first; c != NONE; c = t->n[c].next)
			k++;
		sort_level(t, x, k, &buf, &cap);
		if (t->n[x].item != NULL) {
			t->n[x].date = imap_sort_sent_date(t->n[x].item->msg);
			t->n[x].seq = t->n[x].item->seq;
		} else if (t->n[x].first != NONE) {
			t->n[x].date = t->n[t->n[x].first].date;
			t->n[x].seq = t->n[t->n[x].first].seq;
		}
	}
	free(v);
	free(buf);
}

/* Writes x's numbers down its chain of only children; returns the node
 * where the chain branches (its children to be written as a
 * thread-nested), or NONE at a leaf. */
static uint32_t
write_chain(const struct tree *t, uint32_t x, bool uid, struct buf *out)
{
	for (;;) {
		const struct node *n = &t->n[x];

		if (n->item != NULL)
			buf_printf(out, "%" PRIu32, uid ? n->item->msg->uid : n->item->seq);
		if (n->first == NONE)
			return NONE;
		if (n->item != NULL)
			buf_puts(out, " ");
		if (t->n[n->first].next != NONE)
			return x;
		x = n->first;   /* one child: on the same level */
	}
}

/* "(" thread-members / thread-nested ")" of the thread under x (RFC 5256
 * 4, "thread-list"), with a stack of the branches being written instead
 * of recursion.  stack: room for t->count entries. */
static void
write_thread(const struct tree *t, uint32_t x, bool uid, struct buf *out, uint32_t *stack)
{
	size_t depth = 0;

	buf_puts(out, "(");
	for (;;) {
		uint32_t b = write_chain(t, x, uid, out);

		if (b != NONE) {
			x = stack[depth++] = t->n[b].first;
			buf_puts(out, "(");
			continue;
		}
		/* a leaf: close branches until one has a next sibling */
		while (depth > 0) {
			uint32_t next = t->n[stack[depth - 1]].next;

			buf_puts(out, ")");
			if (next != NONE)
				break;
			depth--;
		}
		if (depth == 0)
			break;
		x = stack[depth - 1] = t->n[stack[depth - 1]].next;
		buf_puts(out, "(");
	}
	buf_puts(out, ")");
}

static void
write_threads(const struct tree *t, uint32_t root, bool uid, struct buf *out)
{
	uint32_t *stack = xmalloc((t->count + 1) * sizeof(*stack));

	buf_puts(out, "* THREAD ");
	for (uint32_t c = t->n[root].first; c != NONE; c = t->n[c].next)
		write_thread(t, c, uid, out, stack);
	buf_puts(out, "\r\n");
	free(stack);
}

static void
references(struct tree *t, struct imap_sort_item *items, size_t n, struct arena *a, uint32_t *root_out)
{
	uint32_t root, i;
	size_t count;

	table_init(t, n * 2 + 16);
	for (i = 0; i < n; i++)
		link_message(t, &items[i], a);
	/* 2: the nodes without a parent under one root */
	count = t->count;
	root = node_new(t, NULL, NULL);
	for (i = 0; i < count; i++)
		if (t->n[i].parent == NONE)
			add_child(t, root, i);
	prune(t, root);               /* 4 */
	merge_subjects(t, root);      /* 5 */
	sort_all(t, root);            /* 6 */
	*root_out = root;
}

/* ORDEREDSUBJECT (RFC 5256 3): by base subject and sent date; each
 * subject's first message is the parent of the others; threads by the
 * sent date of their first message. */
static void
ordered_subject(struct tree *t, struct imap_sort_item *items, size_t n, uint32_t *root_out)
{
	static const struct imap_sort_criterion by[] = { { IMAP_SORT_SUBJECT, false }, { IMAP_SORT_DATE, false } };
	uint32_t root, parent = NONE, c, *buf = NULL;
	size_t cap = 0, i, k = 0;

	imap_sort_items(items, n, by, 2);
	root = node_new(t, NULL, NULL);
	for (i = 0; i < n; i++) {
		uint32_t x = node_new(t, &items[i], NULL);

		if (parent != NONE && strcmp(items[i].msg->k.subject, t->n[parent].item->msg->k.subject) == 0) {
			add_child(t, parent, x);
		} else {
			add_child(t, root, x);
			parent = x;
		}
	}
	/* only the top level needs sorting: children are in date order */
	for (c = t->n[root].first; c != NONE; c = t->n[c].next, k++) {
		t->n[c].date = imap_sort_sent_date(t->n[c].item->msg);
		t->n[c].seq = t->n[c].item->seq;
	}
	sort_level(t, root, k, &buf, &cap);
	free(buf);
	*root_out = root;
}

void
imap_thread_write(struct imap_sort_item *items, size_t n, enum imap_thread_algorithm algo, bool uid,
                  struct arena *a, struct buf *out)
{
	struct tree t;
	uint32_t root;

	memset(&t, 0, sizeof(t));
	if (algo == IMAP_THREAD_REFERENCES)
		references(&t, items, n, a, &root);
	else
		ordered_subject(&t, items, n, &root);
	write_threads(&t, root, uid, out);
	free(t.n);
	free(t.slots);
}

void
imap_thread_run(struct imap_ctx *ctx, const struct imap_arg *args, struct buf *out, struct imap_result *res)
{
	enum imap_thread_algorithm algo;
	struct imap_search_program prog;
	struct store_sort_list list;
	struct imap_sort_item *items;
	size_t n;

	res->status = IMAP_OK;
	res->code[0] = '\0';
	res->text[0] = '\0';
	if (ctx->view == NULL) {
		res->status = IMAP_BAD;
		str_lcpy(res->text, "No mailbox selected", sizeof(res->text));
		return;
	}
	if (args != NULL && imap_sort_charset_refused(ctx, args->next)) {
		res->status = IMAP_BAD;
		str_lcpy(res->text, "Only UTF-8 after ENABLE UTF8=ACCEPT (RFC 6855)", sizeof(res->text));
		return;
	}
	if (imap_thread_parse(args, ctx->arena, &algo, &prog, res) == -1)
		return;
	if (prog.modseq)
		ctx->condstore_used = true;  /* RFC 7162 3.1 */
	if (imap_sort_matches(ctx, &prog,
	                      STORE_SORT_SUBJECT | (algo == IMAP_THREAD_REFERENCES ? STORE_SORT_IDS : 0), &list,
	                      &items, &n, res) == -1)
		return;
	imap_thread_write(items, n, algo, ctx->uid, ctx->arena, out);
	free(items);
	store_sort_list_free(&list);
}
