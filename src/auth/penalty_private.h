/* Inside the penalty module: the entry table (penalty.c), addresses and
 * hashing (penalty_addr.c) and the database state (penalty_db.c). */
#ifndef TERN_PENALTY_PRIVATE_H
#define TERN_PENALTY_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/penalty.h"

/* What an entry counts.  The numbers are stored in the database. */
enum pen_kind {
	PEN_SOURCE = 1,    /* an IPv4 /32, an IPv6 /64, or unparseable (PEN_PREFIX_BAD) */
	PEN_NET = 2,       /* an IPv4 /24 or an IPv6 /48 */
	PEN_PAIR = 3,      /* (account, source) failures */
	PEN_PAIR_NET = 4,  /* (account, network): distinct accounts per network */
	PEN_ACCOUNT = 5,   /* account failures from everywhere (addr all zero) */
	PEN_GOOD = 6,      /* (account, source) that logged in: until = known good until */
	PEN_GOOD_SRC = 7,  /* source that logged in for some account */
};

enum pen_why {
	WHY_NONE,
	WHY_FAILURES,
	WHY_ACCOUNT,
	WHY_SPRAY,
	WHY_NET_FAILURES,
	WHY_NET_SPRAY,
	WHY_OTHER,
	WHY_COUNT
};

enum pen_list { LIST_FREE = 0, LIST_PLAIN = 1, LIST_KEEP = 2 };

/* A source or network key: 16 bytes, IPv4 as ::ffff:a.b.c.d; prefix in
 * that form; PEN_PREFIX_BAD with all-zero bytes is the unparseable bucket. */
#define PEN_PREFIX_BAD 255
struct pen_key {
	uint8_t addr[16];
	uint64_t acct;      /* account hash, 0 for none */
	uint8_t kind;
	uint8_t prefix;
};

struct pen_entry {
	struct pen_key k;
	uint8_t list;       /* enum pen_list */
	uint8_t why;        /* enum pen_why, for a block */
	uint8_t dirty;
	uint32_t hnext;     /* hash chain: index + 1, 0 ends */
	uint32_t lprev, lnext; /* LRU list: index + 1, 0 ends; head is most recent */
	uint32_t cur, prev; /* failures in this period and the one before */
	uint32_t dcur, dprev; /* distinct accounts, the same way */
	int64_t period;     /* now / window_sec when cur was counted */
	int64_t last;       /* last failure (pairs: to count an account once per window) */
	int64_t until;      /* block end (SOURCE, NET) or known-good end (GOOD*) */
};

struct pen_cidr {
	uint8_t addr[16];
	uint8_t prefix;
};

struct penalty {
	struct penalty_config cfg;
	char *allow_text, *path;
	struct pen_cidr *allow;
	size_t n_allow;

	pthread_mutex_t lock;      /* everything below up to the database part */
	struct pen_entry *e;       /* max_tracked entries, calloc'ed (pages come lazily) */
	uint32_t *buckets;         /* index + 1 */
	uint32_t nbuckets;         /* power of two */
	uint32_t used;             /* entries handed out so far (the high-water mark) */
	uint32_t free_head;        /* index + 1 of a freed entry, chained through hnext */
	uint32_t n_live, n_keep, n_dirty;
	uint32_t head[3], tail[3]; /* LRU lists by enum pen_list */
	int64_t now_hint;          /* latest now seen */
	int64_t next_flush;
	bool resync_blocks;        /* a live block was evicted: prune its row at flush */
	uint64_t hkey[2];          /* SipHash key: from the database, so hashes persist */

	/* Database (directory/dirdb.h): db (writes) under db_lock; poll_db
	 * (reads of unblocks and shared blocks) under poll_lock.  Lock order:
	 * db_lock or poll_lock before lock, never the other way round. */
	pthread_mutex_t db_lock, poll_lock;
	struct dirdb *db, *poll_db;
	bool poll_on_loop;         /* SQLite: penalty_check may poll (it never waits) */
	pthread_t poller;          /* PostgreSQL: polls every PENALTY_POLL_SEC */
	bool poller_started;
	bool poller_stop;          /* under poller_lock */
	pthread_mutex_t poller_lock;
	pthread_cond_t poller_cond;
	bool shared_blocks;        /* PostgreSQL: other servers' blocks are read too */
	int64_t next_poll;         /* atomic */
	int64_t last_unblock_id;   /* under poll_lock */
	int64_t last_block_since;  /* under poll_lock: shared blocks read up to this */
	int64_t db_rows;           /* counters rows, roughly: trimmed past 2 * max_tracked */
	bool db_failing;           /* the last write failed (full disk): logged once, under db_lock */
};

/* penalty_addr.c */
uint64_t pen_siphash(const uint64_t key[2], const void *data, size_t len);
/* Parses a client address into its source (out, *prefix_out) and the full
 * address (full_out, for the allow list).  Never fails: an unparseable one
 * becomes the shared bucket (zeros, PEN_PREFIX_BAD); returns false then. */
bool pen_source_of(const char *addr, uint8_t out[16], uint8_t *prefix_out, uint8_t full_out[16]);
/* The network of a source, false for the unparseable bucket. */
bool pen_net_of(const uint8_t src[16], uint8_t src_prefix, uint8_t out[16], uint8_t *prefix_out);
bool pen_in_cidr(const uint8_t addr[16], const uint8_t net[16], unsigned prefix);
/* Whether two prefixes overlap (one contains the other). */
bool pen_overlap(const uint8_t a[16], unsigned pa, const uint8_t b[16], unsigned pb);
/* "192.0.2.7", "192.0.2.0/24", "2001:db8::/64", "unparseable" into out. */
void pen_format(const uint8_t addr[16], unsigned prefix, char *out, size_t outsize);
/* Parses pen_format's output (and any CIDR or address; "unparseable"). */
int pen_parse_source(const char *s, uint8_t addr_out[16], unsigned *prefix_out);
uint64_t pen_account_hash(const struct penalty *p, const char *account);
const char *pen_why_text(unsigned why);
unsigned pen_why_parse(const char *s);

/* penalty.c, under p->lock */
struct pen_entry *pen_lookup(struct penalty *p, const struct pen_key *k);
struct pen_entry *pen_get(struct penalty *p, const struct pen_key *k);
void pen_classify(struct penalty *p, struct pen_entry *e);

/* penalty_db.c */
int pen_db_open(struct penalty *p, const char **error_out);
void pen_db_close(struct penalty *p);
/* Writes one block through (under db_lock); logs failures. */
void pen_db_write_block(struct penalty *p, const uint8_t addr[16], unsigned prefix, int64_t until, unsigned why,
                        int64_t now);
int pen_db_flush(struct penalty *p, int64_t now);
void pen_db_poll(struct penalty *p, int64_t now);
int pen_db_unblock(struct penalty *p, const uint8_t addr[16], unsigned prefix, const char *text, int64_t now,
                   const char **error_out);
/* Clears memory for an unblock (under p->lock): lifts the blocks of and
 * zeroes the counters of every source, network and pair overlapping
 * addr/prefix.  mark_dirty: have the next flush write them (the handle
 * that ran the unblock deleted the rows itself).  Returns blocks lifted. */
int pen_forget(struct penalty *p, const uint8_t addr[16], unsigned prefix, int64_t now, bool mark_dirty);

#endif
