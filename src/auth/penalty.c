/* Penalty tracking in memory: a bounded hash table of entries with two
 * LRU lists, the rules of penalty.h, and the public functions.  Disk work
 * is in penalty_db.c and is never done under p->lock. */
#include "auth/penalty.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "auth/penalty_private.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

void
penalty_config_default(struct penalty_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->delay_after = 3;
	cfg->delay_max_ms = 15000;
	cfg->block_after = 20;
	cfg->block_subnet_after = 100;
	cfg->spray_accounts = 10;
	cfg->spray_subnet_accounts = 30;
	cfg->account_slow_after = 5;
	cfg->account_slow_total = 50;
	cfg->window_sec = 3600;
	cfg->block_sec = 3600;
	cfg->good_sec = 30 * 86400;
	cfg->max_tracked = 100000;
	cfg->allow_networks = "";
	cfg->state_path = NULL;
}

/* --- the table --------------------------------------------------------- */

#define IDX(p, e) ((uint32_t)((e) - (p)->e) + 1)
#define ENT(p, i) (&(p)->e[(i) - 1])

static uint32_t
key_bucket(const struct penalty *p, const struct pen_key *k)
{
	uint8_t buf[16 + 8 + 2];

	memcpy(buf, k->addr, 16);
	memcpy(buf + 16, &k->acct, 8);
	buf[24] = k->kind;
	buf[25] = k->prefix;
	return (uint32_t)pen_siphash(p->hkey, buf, sizeof(buf)) & (p->nbuckets - 1);
}

static bool
key_eq(const struct pen_key *a, const struct pen_key *b)
{
	return a->kind == b->kind && a->prefix == b->prefix && a->acct == b->acct &&
	       memcmp(a->addr, b->addr, 16) == 0;
}

static void
list_unlink(struct penalty *p, struct pen_entry *e)
{
	if (e->lprev != 0)
		ENT(p, e->lprev)->lnext = e->lnext;
	else
		p->head[e->list] = e->lnext;
	if (e->lnext != 0)
		ENT(p, e->lnext)->lprev = e->lprev;
	else
		p->tail[e->list] = e->lprev;
	e->lprev = e->lnext = 0;
}

static void
list_push(struct penalty *p, struct pen_entry *e, uint8_t list)
{
	uint32_t i = IDX(p, e);

	e->list = list;
	e->lprev = 0;
	e->lnext = p->head[list];
	if (p->head[list] != 0)
		ENT(p, p->head[list])->lprev = i;
	else
		p->tail[list] = i;
	p->head[list] = i;
}

static bool
wants_keep(const struct penalty *p, const struct pen_entry *e)
{
	switch (e->k.kind) {
	case PEN_SOURCE:
	case PEN_NET:
	case PEN_GOOD:
	case PEN_GOOD_SRC:
		return e->until > p->now_hint;
	default:
		return false;
	}
}

void
pen_classify(struct penalty *p, struct pen_entry *e)
{
	uint8_t want = wants_keep(p, e) ? LIST_KEEP : LIST_PLAIN;

	if (e->list == want)
		return;
	list_unlink(p, e);
	if (e->list == LIST_KEEP)
		p->n_keep--;
	if (want == LIST_KEEP)
		p->n_keep++;
	list_push(p, e, want);
}

static void
entry_remove(struct penalty *p, struct pen_entry *e)
{
	uint32_t i = IDX(p, e), *pp = &p->buckets[key_bucket(p, &e->k)];

	while (*pp != i) {
		if (*pp == 0)
			panic("penalty: entry not in its bucket");
		pp = &ENT(p, *pp)->hnext;
	}
	*pp = e->hnext;
	list_unlink(p, e);
	if (e->list == LIST_KEEP)
		p->n_keep--;
	if (e->dirty)
		p->n_dirty--;
	p->n_live--;
	memset(e, 0, sizeof(*e));
	e->hnext = p->free_head;
	p->free_head = i;
}

/* Makes room for one entry: the least recently used plain counter, or a
 * block or known-good mark when those hold three quarters of the table
 * (then an expired one near the tail if there is one). */
static void
evict_one(struct penalty *p)
{
	struct pen_entry *victim;

	if (p->head[LIST_PLAIN] != 0 && p->n_keep <= p->cfg.max_tracked / 4 * 3) {
		victim = ENT(p, p->tail[LIST_PLAIN]);
	} else {
		uint32_t i = p->tail[LIST_KEEP];

		victim = ENT(p, i);
		for (int n = 0; n < 16 && i != 0; n++, i = ENT(p, i)->lprev) {
			if (ENT(p, i)->until <= p->now_hint) {
				victim = ENT(p, i);
				break;
			}
		}
		if ((victim->k.kind == PEN_SOURCE || victim->k.kind == PEN_NET) && victim->until > p->now_hint)
			p->resync_blocks = true;
	}
	entry_remove(p, victim);
}

/* Finds an entry and marks it recently used; NULL if absent. */
struct pen_entry *
pen_lookup(struct penalty *p, const struct pen_key *k)
{
	uint32_t i = p->buckets[key_bucket(p, k)];

	while (i != 0) {
		struct pen_entry *e = ENT(p, i);

		if (key_eq(&e->k, k)) {
			if (p->head[e->list] != i) {
				uint8_t list = e->list;

				list_unlink(p, e);
				list_push(p, e, list);
			}
			return e;
		}
		i = e->hnext;
	}
	return NULL;
}

/* Finds or creates an entry (evicting one when the table is full). */
struct pen_entry *
pen_get(struct penalty *p, const struct pen_key *k)
{
	struct pen_entry *e = pen_lookup(p, k);
	uint32_t i, b;

	if (e != NULL)
		return e;
	if (p->n_live >= p->cfg.max_tracked)
		evict_one(p);
	if (p->free_head != 0) {
		i = p->free_head;
		p->free_head = ENT(p, i)->hnext;
	} else {
		if (p->used >= p->cfg.max_tracked)
			panic("penalty: table full after eviction");
		i = ++p->used;
	}
	e = ENT(p, i);
	memset(e, 0, sizeof(*e));
	e->k = *k;
	b = key_bucket(p, k);
	e->hnext = p->buckets[b];
	p->buckets[b] = i;
	p->n_live++;
	list_push(p, e, LIST_PLAIN);
	return e;
}

static void
mark_dirty(struct penalty *p, struct pen_entry *e)
{
	if (!e->dirty) {
		e->dirty = 1;
		p->n_dirty++;
	}
}

/* --- counting ---------------------------------------------------------- */

/* Moves cur into prev when a new period has begun.  A clock that goes back
 * keeps counting into the current period. */
static void
roll(const struct penalty *p, struct pen_entry *e, int64_t now)
{
	int64_t per = now / (int64_t)p->cfg.window_sec;

	if (per <= e->period)
		return;
	if (per == e->period + 1) {
		e->prev = e->cur;
		e->dprev = e->dcur;
	} else {
		e->prev = e->dprev = 0;
	}
	e->cur = e->dcur = 0;
	e->period = per;
}

/* cur + prev weighted by the part of the previous period still inside the
 * window ending at now. */
static uint32_t
estimate(const struct penalty *p, const struct pen_entry *e, int64_t now, bool distinct)
{
	int64_t w = p->cfg.window_sec, into = now - e->period * w;
	uint64_t cur = distinct ? e->dcur : e->cur, prev = distinct ? e->dprev : e->prev;

	if (into < 0)
		into = 0;
	if (into > w)
		into = w;
	cur += prev * (uint64_t)(w - into) / (uint64_t)w;
	return cur > UINT32_MAX ? UINT32_MAX : (uint32_t)cur;
}

static void
count_failure(const struct penalty *p, struct pen_entry *e, int64_t now)
{
	roll(p, e, now);
	if (e->cur < UINT32_MAX)
		e->cur++;
	e->last = now;
}

static void
count_distinct(const struct penalty *p, struct pen_entry *e, int64_t now)
{
	roll(p, e, now);
	if (e->dcur < UINT32_MAX)
		e->dcur++;
}

/* The delay for being over a threshold by over: 1 s, 2 s, 4 s ... */
static unsigned
grow(const struct penalty *p, uint32_t over)
{
	uint64_t ms;

	if (over == 0)
		return 0;
	ms = over > 20 ? UINT64_MAX : (uint64_t)PENALTY_DELAY_BASE_MS << (over - 1);
	return ms > p->cfg.delay_max_ms ? p->cfg.delay_max_ms : (unsigned)ms;
}

static unsigned
over(unsigned threshold, uint32_t count)
{
	return threshold != 0 && count > threshold ? count - threshold : 0;
}

static bool
reached(unsigned threshold, uint32_t count)
{
	return threshold != 0 && count >= threshold;
}

static bool
allowed(const struct penalty *p, const uint8_t full[16], bool parsed)
{
	if (!parsed)
		return false;
	for (size_t i = 0; i < p->n_allow; i++) {
		if (pen_in_cidr(full, p->allow[i].addr, p->allow[i].prefix))
			return true;
	}
	return false;
}

static struct pen_key
make_key(uint8_t kind, const uint8_t addr[16], uint8_t prefix, uint64_t acct)
{
	struct pen_key k;

	memset(&k, 0, sizeof(k));
	k.kind = kind;
	if (addr != NULL)
		memcpy(k.addr, addr, 16);
	k.prefix = prefix;
	k.acct = acct;
	return k;
}

struct new_block {
	uint8_t addr[16];
	unsigned prefix;
	int64_t until;
	unsigned why;
};

static void
block(struct penalty *p, struct pen_entry *e, unsigned why, int64_t now, struct new_block *nb, int *nnb)
{
	e->until = now + (int64_t)p->cfg.block_sec;
	e->why = (uint8_t)why;
	mark_dirty(p, e);
	pen_classify(p, e);
	memcpy(nb[*nnb].addr, e->k.addr, 16);
	nb[*nnb].prefix = e->k.prefix;
	nb[*nnb].until = e->until;
	nb[*nnb].why = why;
	(*nnb)++;
}

/* A failure: counts it everywhere and decides delay and blocks. */
static unsigned
record_failure(struct penalty *p, const uint8_t src[16], uint8_t sp, const uint8_t net[16], uint8_t np,
               bool has_net, uint64_t acct, int64_t now, struct new_block *nb, int *nnb)
{
	struct pen_key k;
	struct pen_entry *s, *n = NULL, *pair, *e;
	uint32_t fs, fn = 0, fp, fa = 0, ds, dn = 0;
	bool good = false;
	unsigned d;

	k = make_key(PEN_SOURCE, src, sp, 0);
	s = pen_get(p, &k);
	count_failure(p, s, now);
	mark_dirty(p, s);

	k = make_key(PEN_PAIR, src, sp, acct);
	pair = pen_get(p, &k);
	if (pair->last == 0 || now - pair->last >= (int64_t)p->cfg.window_sec)
		count_distinct(p, s, now);
	count_failure(p, pair, now);
	mark_dirty(p, pair);
	fp = estimate(p, pair, now, false);

	if (has_net) {
		k = make_key(PEN_NET, net, np, 0);
		n = pen_get(p, &k);
		count_failure(p, n, now);
		mark_dirty(p, n);
		k = make_key(PEN_PAIR_NET, net, np, acct);
		e = pen_get(p, &k);
		if (e->last == 0 || now - e->last >= (int64_t)p->cfg.window_sec)
			count_distinct(p, n, now);
		count_failure(p, e, now);
		mark_dirty(p, e);
		fn = estimate(p, n, now, false);
		dn = estimate(p, n, now, true);
	}
	if (acct != 0) {
		k = make_key(PEN_ACCOUNT, NULL, 0, acct);
		e = pen_get(p, &k);
		count_failure(p, e, now);
		mark_dirty(p, e);
		fa = estimate(p, e, now, false);
		k = make_key(PEN_GOOD, src, sp, acct);
		e = pen_lookup(p, &k);
		good = e != NULL && e->until > now;
	}
	fs = estimate(p, s, now, false);
	ds = estimate(p, s, now, true);

	d = grow(p, over(p->cfg.delay_after, fs));
	if (grow(p, over(p->cfg.account_slow_after, fp)) > d)
		d = grow(p, over(p->cfg.account_slow_after, fp));
	if (!good && grow(p, over(p->cfg.account_slow_total, fa)) > d)
		d = grow(p, over(p->cfg.account_slow_total, fa));

	if (s->until <= now) {
		if (reached(p->cfg.block_after, fs))
			block(p, s, WHY_FAILURES, now, nb, nnb);
		else if (reached(p->cfg.block_after, fp))
			block(p, s, WHY_ACCOUNT, now, nb, nnb);
		else if (reached(p->cfg.spray_accounts, ds))
			block(p, s, WHY_SPRAY, now, nb, nnb);
	}
	if (n != NULL && n->until <= now) {
		if (reached(p->cfg.block_subnet_after, fn))
			block(p, n, WHY_NET_FAILURES, now, nb, nnb);
		else if (reached(p->cfg.spray_subnet_accounts, dn))
			block(p, n, WHY_NET_SPRAY, now, nb, nnb);
	}
	return d;
}

/* A success: clears the source's failures and the pair's, and remembers the
 * pair and the source as known good. */
static void
record_success(struct penalty *p, const uint8_t src[16], uint8_t sp, uint64_t acct, int64_t now)
{
	struct pen_key k;
	struct pen_entry *e;

	k = make_key(PEN_SOURCE, src, sp, 0);
	if ((e = pen_lookup(p, &k)) != NULL && (e->cur != 0 || e->prev != 0)) {
		roll(p, e, now);
		e->cur = e->prev = 0;
		mark_dirty(p, e);
	}
	k = make_key(PEN_PAIR, src, sp, acct);
	if ((e = pen_lookup(p, &k)) != NULL && (e->cur != 0 || e->prev != 0)) {
		e->cur = e->prev = 0;
		mark_dirty(p, e);
	}
	if (p->cfg.good_sec == 0 || sp == PEN_PREFIX_BAD)
		return;
	k = make_key(PEN_GOOD, src, sp, acct);
	e = pen_get(p, &k);
	e->until = now + (int64_t)p->cfg.good_sec;
	e->last = now;
	mark_dirty(p, e);
	pen_classify(p, e);
	k = make_key(PEN_GOOD_SRC, src, sp, 0);
	e = pen_get(p, &k);
	e->until = now + (int64_t)p->cfg.good_sec;
	e->last = now;
	mark_dirty(p, e);
	pen_classify(p, e);
}

/* --- public ------------------------------------------------------------ */

static void
maybe_poll(struct penalty *p, int64_t now)
{
	int64_t next = __atomic_load_n(&p->next_poll, __ATOMIC_RELAXED);

	if (p->poll_db == NULL || now < next)
		return;
	__atomic_store_n(&p->next_poll, now + PENALTY_POLL_SEC, __ATOMIC_RELAXED);
	pen_db_poll(p, now);
}

int
penalty_check(struct penalty *p, const char *addr, time_t now, time_t *until_out, const char **why_out)
{
	uint8_t src[16], full[16], net[16], sp, np;
	bool parsed = pen_source_of(addr, src, &sp, full), has_net;
	struct pen_key k;
	struct pen_entry *e;
	int blocked = 0;

	if (allowed(p, full, parsed))
		return 0;
	if (p->poll_on_loop)
		maybe_poll(p, now);
	has_net = pen_net_of(src, sp, net, &np);
	pthread_mutex_lock(&p->lock);
	if (now > p->now_hint)
		p->now_hint = now;
	k = make_key(PEN_SOURCE, src, sp, 0);
	if ((e = pen_lookup(p, &k)) != NULL && e->until > now)
		blocked = 1;
	if (!blocked && has_net) {
		k = make_key(PEN_NET, net, np, 0);
		if ((e = pen_lookup(p, &k)) != NULL && e->until > now) {
			struct pen_key g = make_key(PEN_GOOD_SRC, src, sp, 0);
			struct pen_entry *ge = pen_lookup(p, &g);

			/* A known-good source is not punished for its neighbours. */
			blocked = ge == NULL || ge->until <= now;
		}
	}
	if (blocked) {
		if (until_out != NULL)
			*until_out = (time_t)e->until;
		if (why_out != NULL)
			*why_out = pen_why_text(e->why);
	}
	pthread_mutex_unlock(&p->lock);
	return blocked;
}

unsigned
penalty_record(struct penalty *p, const char *addr, const char *account, bool success, time_t now)
{
	uint8_t src[16], full[16], net[16], sp, np;
	bool parsed = pen_source_of(addr, src, &sp, full), has_net, flush = false;
	uint64_t acct;
	struct new_block nb[2];
	int nnb = 0;
	unsigned delay = 0;

	if (allowed(p, full, parsed))
		return 0;
	has_net = pen_net_of(src, sp, net, &np);
	pthread_mutex_lock(&p->lock);
	if (now > p->now_hint)
		p->now_hint = now;
	acct = pen_account_hash(p, account);
	if (success)
		record_success(p, src, sp, acct, now);
	else
		delay = record_failure(p, src, sp, net, np, has_net, acct, now, nb, &nnb);
	if (p->db != NULL) {
		if (p->next_flush == 0)
			p->next_flush = now + PENALTY_FLUSH_SEC;
		else if (now >= p->next_flush && p->n_dirty > 0) {
			p->next_flush = now + PENALTY_FLUSH_SEC;
			flush = true;
		}
	}
	pthread_mutex_unlock(&p->lock);

	for (int i = 0; i < nnb; i++) {
		char text[PENALTY_SOURCE_MAX];

		pen_format(nb[i].addr, nb[i].prefix, text, sizeof(text));
		metrics_penalty_block();
		log_warnx("penalty blocked source=%s until=%lld reason=\"%s\"", text, (long long)nb[i].until,
		          pen_why_text(nb[i].why));
		if (p->db != NULL)
			pen_db_write_block(p, nb[i].addr, nb[i].prefix, nb[i].until, nb[i].why, now);
	}
	if (flush)
		pen_db_flush(p, now);
	if (p->poll_on_loop)
		maybe_poll(p, now);
	return delay;
}

int
pen_forget(struct penalty *p, const uint8_t addr[16], unsigned prefix, int64_t now, bool dirty)
{
	int lifted = 0;

	for (uint32_t i = 1; i <= p->used; i++) {
		struct pen_entry *e = ENT(p, i);

		if (e->list == LIST_FREE)
			continue;
		switch (e->k.kind) {
		case PEN_SOURCE:
		case PEN_NET:
			if (!pen_overlap(e->k.addr, e->k.prefix, addr, prefix))
				continue;
			if (e->until > now)
				lifted++;
			e->until = 0;
			e->why = WHY_NONE;
			break;
		case PEN_PAIR:
		case PEN_PAIR_NET:
			if (!pen_overlap(e->k.addr, e->k.prefix, addr, prefix))
				continue;
			e->last = 0;
			break;
		default:
			continue;
		}
		e->cur = e->prev = e->dcur = e->dprev = 0;
		if (dirty)
			mark_dirty(p, e);
		pen_classify(p, e);
	}
	return lifted;
}

int
penalty_unblock(struct penalty *p, const char *source, time_t now, const char **error_out)
{
	uint8_t addr[16];
	unsigned prefix;
	int lifted, lifted_db;

	if (source == NULL || pen_parse_source(source, addr, &prefix) != 0) {
		*error_out = "not an IP address or CIDR network";
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	lifted = pen_forget(p, addr, prefix, now, p->db == NULL);
	pthread_mutex_unlock(&p->lock);
	if (p->db != NULL) {
		char text[PENALTY_SOURCE_MAX];

		pen_format(addr, prefix, text, sizeof(text));
		lifted_db = pen_db_unblock(p, addr, prefix, text, now, error_out);
		if (lifted_db < 0)
			return -1;
		if (lifted_db > lifted)
			lifted = lifted_db;
	}
	return lifted;
}

struct blocked_item {
	uint8_t addr[16];
	uint8_t prefix, why, kind;
	int64_t until;
};

static int
blocked_cmp(const void *a, const void *b)
{
	const struct blocked_item *x = a, *y = b;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if ((c = memcmp(x->addr, y->addr, 16)) != 0)
		return c;
	return (int)x->prefix - (int)y->prefix;
}

int
penalty_list_blocked(struct penalty *p, time_t now,
                     void (*fn)(const char *source, time_t until, const char *why, void *arg), void *arg)
{
	struct blocked_item *items = NULL;
	size_t n = 0, cap = 0;

	pthread_mutex_lock(&p->lock);
	for (uint32_t i = 1; i <= p->used; i++) {
		struct pen_entry *e = ENT(p, i);

		if (e->list == LIST_FREE || (e->k.kind != PEN_SOURCE && e->k.kind != PEN_NET) || e->until <= now)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			items = xrealloc(items, cap * sizeof(*items));
		}
		memcpy(items[n].addr, e->k.addr, 16);
		items[n].prefix = e->k.prefix;
		items[n].why = e->why;
		items[n].kind = e->k.kind;
		items[n].until = e->until;
		n++;
	}
	pthread_mutex_unlock(&p->lock);
	if (n > 1)
		qsort(items, n, sizeof(*items), blocked_cmp);
	for (size_t i = 0; i < n && fn != NULL; i++) {
		char text[PENALTY_SOURCE_MAX];

		pen_format(items[i].addr, items[i].prefix, text, sizeof(text));
		fn(text, (time_t)items[i].until, pen_why_text(items[i].why), arg);
	}
	free(items);
	return (int)n;
}

int
penalty_flush(struct penalty *p, time_t now)
{
	if (p->db == NULL)
		return 0;
	return pen_db_flush(p, now);
}

size_t
penalty_tracked(struct penalty *p)
{
	size_t n;

	pthread_mutex_lock(&p->lock);
	n = p->n_live;
	pthread_mutex_unlock(&p->lock);
	return n;
}

/* --- lifecycle --------------------------------------------------------- */

static __thread char new_error[256];

static int
parse_allow(struct penalty *p, const char **error_out)
{
	char *save = NULL, *tok, *s = xstrdup(p->allow_text);

	for (tok = strtok_r(s, ", \t\n", &save); tok != NULL; tok = strtok_r(NULL, ", \t\n", &save)) {
		uint8_t addr[16];
		unsigned prefix;

		if (penalty_parse_cidr(tok, addr, &prefix) != 0) {
			snprintf(new_error, sizeof(new_error), "penalty: allow_networks: \"%.64s\" is not an address or CIDR",
			         tok);
			*error_out = new_error;
			free(s);
			return -1;
		}
		p->allow = xrealloc(p->allow, (p->n_allow + 1) * sizeof(*p->allow));
		memcpy(p->allow[p->n_allow].addr, addr, 16);
		p->allow[p->n_allow].prefix = (uint8_t)prefix;
		p->n_allow++;
	}
	free(s);
	return 0;
}

struct penalty *
penalty_new(const struct penalty_config *cfg, const char **error_out)
{
	struct penalty *p;

	if (cfg->window_sec == 0 || cfg->block_sec == 0) {
		*error_out = "penalty: window_sec and block_sec must be at least 1";
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->cfg = *cfg;
	p->allow_text = xstrdup(cfg->allow_networks != NULL ? cfg->allow_networks : "");
	p->cfg.allow_networks = p->allow_text;
	if (cfg->state_path != NULL && cfg->state_path[0] != '\0') {
		p->path = xstrdup(cfg->state_path);
		p->cfg.state_path = p->path;
	} else {
		p->cfg.state_path = NULL;
	}
	if (p->cfg.max_tracked < PENALTY_TRACKED_MIN)
		p->cfg.max_tracked = PENALTY_TRACKED_MIN;
	if (p->cfg.max_tracked > (1U << 30))
		p->cfg.max_tracked = 1U << 30;
	for (p->nbuckets = 64; p->nbuckets < p->cfg.max_tracked; p->nbuckets *= 2)
		;
	/* calloc of a large block maps zero pages: memory is used as entries are. */
	p->e = xcalloc(p->cfg.max_tracked, sizeof(*p->e));
	p->buckets = xcalloc(p->nbuckets, sizeof(*p->buckets));
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->db_lock, NULL);
	pthread_mutex_init(&p->poll_lock, NULL);
	if (parse_allow(p, error_out) != 0)
		goto fail;
	if (p->cfg.state_path != NULL) {
		if (pen_db_open(p, error_out) != 0)
			goto fail;
	} else if (getrandom(p->hkey, sizeof(p->hkey), 0) != (ssize_t)sizeof(p->hkey)) {
		snprintf(new_error, sizeof(new_error), "penalty: getrandom: %s", strerror(errno));
		*error_out = new_error;
		goto fail;
	}
	return p;
fail:
	penalty_free(&p);
	return NULL;
}

void
penalty_free(struct penalty **pp)
{
	struct penalty *p;

	if (pp == NULL || *pp == NULL)
		return;
	p = *pp;
	if (p->db != NULL && p->n_dirty > 0 && p->now_hint > 0)
		pen_db_flush(p, p->now_hint);
	pen_db_close(p);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->db_lock);
	pthread_mutex_destroy(&p->poll_lock);
	free(p->e);
	free(p->buckets);
	free(p->allow);
	free(p->allow_text);
	free(p->path);
	free(p);
	*pp = NULL;
}
