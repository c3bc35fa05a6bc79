/* Brute-force and password-spraying defence (issue 4): counts failed
 * logins per source, per network, per (account, source) pair and per
 * account; slows failing sources down, then blocks them for a while.
 *
 * Sources.  An IPv4 source is one address; its network is the /24.  An
 * IPv6 source is its /64 and its network the /48: one host (or one home
 * LAN) owns a whole /64 and rotates addresses inside it (RFC 8981), so
 * counting /128s would give an attacker 2^64 fresh starts, and a user's
 * laptop would stop being "known good" every day.  IPv4-mapped IPv6
 * (::ffff:a.b.c.d) is IPv4.  An address inet_pton cannot parse (after
 * stripping [brackets] and a %zone) counts in one shared "unparseable"
 * bucket, which has no network.
 *
 * Rules, on each failure (every threshold 0 = that rule is off):
 *  - the source's failures in the window > delay_after: the failure reply
 *    waits 1 s, 2 s, 4 s ... up to delay_max_ms;
 *  - failures for one account from one source > account_slow_after: the
 *    same growing delay (a success for another account clears the
 *    source's count, not this one, so the attacker cannot reset it);
 *  - failures for one account from everywhere > account_slow_total: the
 *    same growing delay, except for a known-good (account, source) pair.
 *    Account-wide limits only ever slow down, never block: an attacker
 *    must not be able to lock the real user out;
 *  - source failures >= block_after, or failures for one account from it
 *    >= block_after, or distinct accounts failed from it >= spray_accounts:
 *    the source is blocked for block_sec;
 *  - network failures >= block_subnet_after, or distinct accounts failed
 *    from it >= spray_subnet_accounts: the network is blocked for
 *    block_sec.  The network's spray threshold is its own (default 30, not
 *    spray_accounts) because one NATed office /24 holds many real users.
 * A success clears the source's failure count (not its distinct-account
 * count, nor the account's count from other sources) and remembers the
 * (account, source) pair and the source as known good for good_sec.  A
 * known-good source is never refused because its network is blocked: a
 * block on the network comes from failures elsewhere.  A source's own
 * block applies to everyone behind it (that is the attacker's address).
 *
 * "In the window" is a sliding window of window_sec, approximated the way
 * rate limiters usually do it: the count of the current fixed period plus
 * the previous period's count weighted by how much of it still overlaps.
 * Distinct accounts count an (account, source) pair once per window.
 *
 * Memory: at most max_tracked entries (sources, networks, pairs, accounts,
 * known-good marks) of 88 bytes (8.8 MB at the default), touched lazily;
 * one failure creates at most 5.  When full, the least recently used plain
 * counter goes first; blocks and known-good marks go only when they fill
 * three quarters of the table.
 *
 * State: SQLite (WAL) at state_path, or PostgreSQL when state_path is a
 * postgresql:// dsn (penalty_db.c: then shared by every server on it).  Blocks are written through at once
 * by penalty_record; counters at most every PENALTY_FLUSH_SEC (and by
 * penalty_flush / penalty_free), so that restarting the server does not
 * reset an attack.  `tern auth unblock` (another handle on the same file)
 * deletes the block rows and appends to an unblocks table, which every
 * handle polls at most every PENALTY_POLL_SEC from penalty_check and
 * penalty_record, on a separate connection that never waits for a lock.
 *
 * Thread safety: every function may be called from any thread.  A mutex
 * guards the in-memory state and is held only for memory work;
 * penalty_check never waits on disk.
 *
 * How a session uses it: penalty_check at connect (blocked: the protocol's
 * temporary refusal, then close) and again before checking credentials;
 * after auth_check_password, in the same worker job, penalty_record with
 * success = the password was right (AUTH_OK, and also the "right password
 * but refused" statuses: they are not guessing) and nothing for
 * AUTH_TEMPFAIL or a malformed/cancelled SASL exchange.  Wait the returned
 * delay with a loop timer, not by sleeping in the worker: 16 attackers
 * must not be able to occupy every worker. */
#ifndef TERN_PENALTY_H
#define TERN_PENALTY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define PENALTY_DELAY_BASE_MS   1000  /* first delay; doubles per further failure */
#define PENALTY_FLUSH_SEC       10    /* counters written at most this often */
#define PENALTY_POLL_SEC        2     /* unblocks from the CLI noticed within this */
#define PENALTY_TRACKED_MIN     64    /* a smaller max_tracked is raised to this */
#define PENALTY_SOURCE_MAX      64    /* longest source text ("ffff:...:ffff/128") */
#define PENALTY_DB_NAME         "penalty.db"

struct penalty_config {
	unsigned delay_after;           /* source failures before replies are delayed (3) */
	unsigned delay_max_ms;          /* cap of the growing delay (15000) */
	unsigned block_after;           /* source failures in the window -> blocked (20) */
	unsigned block_subnet_after;    /* network failures in the window -> network blocked (100) */
	unsigned spray_accounts;        /* distinct accounts failed from one source -> blocked (10) */
	unsigned spray_subnet_accounts; /* distinct accounts failed from one network -> blocked (30) */
	unsigned account_slow_after;    /* failures for one account from one source -> slower (5) */
	unsigned account_slow_total;    /* failures for one account from anywhere -> slower (50) */
	unsigned window_sec;            /* counting window (3600) */
	unsigned block_sec;             /* how long a block lasts (3600) */
	unsigned good_sec;              /* how long a successful (account, source) stays known good (30 days) */
	unsigned max_tracked;           /* entries kept in memory (100000) */
	const char *allow_networks;     /* comma/space-separated CIDRs or addresses exempt from
	                                 * everything; "" by default (loopback is NOT exempt) */
	const char *state_path;         /* SQLite file, normally data_dir/penalty.db, or the
	                                 * directory's postgresql:// dsn; NULL or "" = memory only */
};

struct penalty;

/* Fills *cfg with the defaults above (allow_networks "", state_path NULL). */
void penalty_config_default(struct penalty_config *cfg);

/* Creates the tracker and, with a state_path, opens (creating if needed)
 * the SQLite file and loads its blocks and counters (the most recent ones
 * first, at most max_tracked).  The config is copied.  Returns NULL with a
 * static or thread-local message in *error_out (bad allow_networks entry,
 * window_sec or block_sec 0, database error). */
struct penalty *penalty_new(const struct penalty_config *cfg, const char **error_out);
/* Writes pending counters and frees; accepts NULL, leaves NULL behind. */
void penalty_free(struct penalty **p);

/* At connect and before checking credentials.  Returns 0 if addr may go on,
 * 1 if it is blocked: *until_out gets the end of the block and *why_out a
 * static reason ("too many failed logins", ...); both may be NULL.  No
 * disk I/O, except a non-waiting read of the unblocks table at most every
 * PENALTY_POLL_SEC: safe on an event-loop thread. */
int penalty_check(struct penalty *p, const char *addr, time_t now, time_t *until_out, const char **why_out);

/* After an authentication attempt by addr for account (as given; compared
 * case-insensitively; NULL or "" is one "no account" bucket).  Returns the
 * milliseconds to wait before sending the failure reply (0 on success, 0
 * for allowed networks), at most delay_max_ms.  May write to the database
 * (a new block at once; counters every PENALTY_FLUSH_SEC): call it from a
 * worker, not a loop thread.  Call penalty_check again to learn whether
 * this failure blocked the source. */
unsigned penalty_record(struct penalty *p, const char *addr, const char *account, bool success, time_t now);

/* Calls fn for each source or network blocked at now, sorted by source
 * (addresses before networks), outside the lock.  source is text such as
 * "192.0.2.7", "192.0.2.0/24", "2001:db8:1:2::/64" or "unparseable"; why is
 * static.  Returns the number of blocked sources. */
int penalty_list_blocked(struct penalty *p, time_t now,
                         void (*fn)(const char *source, time_t until, const char *why, void *arg), void *arg);

/* Lifts every block whose source overlaps source_addr_or_cidr (contains it
 * or is inside it: "unblock 192.0.2.7" also lifts 192.0.2.0/24) and forgets
 * the failure counts of the sources and networks inside it, in memory and
 * in the database; other handles on the same file (the running server)
 * notice within PENALTY_POLL_SEC.  "unparseable" names that bucket.
 * Returns the number of blocks lifted (active at now), or -1 with a static
 * message in *error_out (not an address or CIDR, database error). */
int penalty_unblock(struct penalty *p, const char *source_addr_or_cidr, time_t now, const char **error_out);

/* Writes changed counters now (normally done by penalty_record every
 * PENALTY_FLUSH_SEC).  For a timer in a worker, and for shutdown.  0 or -1
 * (logged). */
int penalty_flush(struct penalty *p, time_t now);

/* Entries in memory now: for tests and metrics; never above max_tracked. */
size_t penalty_tracked(struct penalty *p);

/* Parses "192.0.2.7", "192.0.2.0/24", "2001:db8::/32", "::ffff:192.0.2.7"
 * into a 16-byte IPv6 form (IPv4 mapped) and a prefix length in that form
 * (IPv4 /24 is 120).  Host bits are cleared.  Returns 0 or -1. */
int penalty_parse_cidr(const char *s, unsigned char addr_out[16], unsigned *prefix_out);
/* Whether addr (an address as text) lies in one of the networks of list
 * ("127.0.0.1/8, ::1", separated by commas or blanks; entries that do not
 * parse are skipped).  [http] metrics_allow, [backend] trusted_proxies. */
bool penalty_addr_in_list(const char *list, const char *addr);

#endif
