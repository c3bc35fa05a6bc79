/* Brute-force and spraying defence: delays, blocks, spraying from one
 * address and from a network, the real user never locked out, the allow
 * list, expiry, the sliding window, restarts, unblocking from a second
 * handle (as the CLI does), bounded memory under a flood, and threads.
 * Real SQLite files in a mkdtemp() directory; time is passed in.  Then
 * two servers sharing blocks through PostgreSQL (the test runs itself
 * again under tests/e2e/pgserver.py, which starts one), in real time. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/penalty.h"
#include "lib/log.h"
#include "test.h"

/* The start of a window period, plus a little: the sliding-window tests
 * know where the period boundary is. */
#define T0 ((time_t)1700000000 - (1700000000 % 3600) + 10)

static char dir[64];
static int db_counter;

static void
cfg_for(struct penalty_config *cfg, char *path, size_t pathsize)
{
	penalty_config_default(cfg);
	snprintf(path, pathsize, "%s/penalty-%d.db", dir, ++db_counter);
	cfg->state_path = path;
}

static struct penalty *
open_cfg(const struct penalty_config *cfg)
{
	const char *error = NULL;
	struct penalty *p = penalty_new(cfg, &error);

	if (p == NULL) {
		printf("# penalty_new: %s\n", error);
		exit(1);
	}
	return p;
}

static bool
blocked(struct penalty *p, const char *addr, time_t now)
{
	return penalty_check(p, addr, now, NULL, NULL) == 1;
}

struct list_acc {
	char text[4096];
	int n;
};

static void
list_cb(const char *source, time_t until, const char *why, void *arg)
{
	struct list_acc *acc = arg;
	size_t len = strlen(acc->text);

	snprintf(acc->text + len, sizeof(acc->text) - len, "%s|%s\n", source, why);
	acc->n++;
}

static bool
listed(struct penalty *p, time_t now, const char *source)
{
	struct list_acc acc = { .n = 0 };
	char want[128];

	acc.text[0] = '\0';
	penalty_list_blocked(p, now, list_cb, &acc);
	/* Whole lines: "\nSOURCE|" anywhere in "\n" + text. */
	snprintf(want, sizeof(want), "\n%s|", source);
	memmove(acc.text + 1, acc.text, sizeof(acc.text) - 1);
	acc.text[0] = '\n';
	acc.text[sizeof(acc.text) - 1] = '\0';
	return strstr(acc.text, want) != NULL;
}

static void
test_parse(void)
{
	unsigned char a[16], b[16];
	unsigned pa, pb;

	test_begin("penalty: addresses and CIDRs");
	test_assert(penalty_parse_cidr("192.0.2.7", a, &pa) == 0);
	test_assert_inteq(pa, 128);
	test_assert(penalty_parse_cidr("::ffff:192.0.2.7", b, &pb) == 0);
	test_assert_inteq(pb, 128);
	test_assert(memcmp(a, b, 16) == 0);
	test_assert(penalty_parse_cidr("192.0.2.77/24", a, &pa) == 0);
	test_assert_inteq(pa, 120);
	test_assert(a[15] == 0 && a[14] == 2);
	test_assert(penalty_parse_cidr("2001:db8::1/32", a, &pa) == 0);
	test_assert_inteq(pa, 32);
	test_assert(a[15] == 0);
	test_assert(penalty_parse_cidr("10.0.0.0/33", a, &pa) == -1);
	test_assert(penalty_parse_cidr("10.0.0.0/", a, &pa) == -1);
	test_assert(penalty_parse_cidr("10.0.0.0/-1", a, &pa) == -1);
	test_assert(penalty_parse_cidr("2001:db8::/129", a, &pa) == -1);
	test_assert(penalty_parse_cidr("host.example", a, &pa) == -1);
	test_assert(penalty_parse_cidr("", a, &pa) == -1);
	test_end();
}

static void
test_delays(void)
{
	struct penalty_config cfg;
	char path[128];
	struct penalty *p;
	static const unsigned want[] = { 0, 0, 0, 1000, 2000, 4000, 8000, 15000, 15000, 15000 };

	test_begin("penalty: delays grow and cap; success is not delayed and clears the source");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		test_assert_inteq(penalty_record(p, "192.0.2.1", "alice@example.org", false, T0 + (time_t)i), want[i]);
	test_assert(!blocked(p, "192.0.2.1", T0 + 20));
	test_assert_inteq(penalty_record(p, "192.0.2.1", "bob@example.org", true, T0 + 20), 0);
	/* The source count is cleared; alice's count from here is not (5 > 5? no: 11th
	 * failure for the pair is over account_slow_after). */
	test_assert_inteq(penalty_record(p, "192.0.2.1", "carol@example.org", false, T0 + 21), 0);
	test_assert(penalty_record(p, "192.0.2.1", "alice@example.org", false, T0 + 22) == 15000);
	penalty_free(&p);
	test_assert(p == NULL);
	penalty_free(&p);
	test_end();
}

static void
test_brute_force(void)
{
	struct penalty_config cfg;
	char path[128];
	struct penalty *p;
	int tried = 0, refused = 0;
	time_t until = 0;
	const char *why = NULL;

	test_begin("penalty: 1,000 wrong passwords from one address end blocked");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	for (int i = 0; i < 1000; i++) {
		time_t now = T0 + i;

		if (blocked(p, "203.0.113.9", now)) {
			refused++;
			continue;
		}
		tried++;
		penalty_record(p, "203.0.113.9", "alice@example.org", false, now);
	}
	test_assert_inteq(tried, 20);
	test_assert_inteq(refused, 980);
	test_assert(penalty_check(p, "203.0.113.9", T0 + 1000, &until, &why) == 1);
	test_assert_streq(why, "too many failed logins");
	test_assert_inteq(until, T0 + 19 + 3600);
	test_assert(listed(p, T0 + 1000, "203.0.113.9"));
	/* Its neighbour is not blocked: 20 failures are not a network's 100. */
	test_assert(!blocked(p, "203.0.113.10", T0 + 1000));
	penalty_free(&p);
	test_end();
}

static void
test_spray_one_address(void)
{
	struct penalty_config cfg;
	char path[128], acct[64];
	struct penalty *p;
	int tried = 0;
	const char *why = NULL;

	test_begin("penalty: a spray of 1 password over 200 accounts from one address ends blocked");
	cfg_for(&cfg, path, sizeof(path));
	cfg.delay_after = 0;
	p = open_cfg(&cfg);
	for (int i = 0; i < 200; i++) {
		if (blocked(p, "198.18.0.5", T0 + i))
			continue;
		tried++;
		snprintf(acct, sizeof(acct), "user%d@example.org", i);
		test_assert_inteq(penalty_record(p, "198.18.0.5", acct, false, T0 + i), 0);
	}
	test_assert_inteq(tried, 10);
	test_assert(penalty_check(p, "198.18.0.5", T0 + 300, NULL, &why) == 1);
	test_assert_streq(why, "password spraying (failed logins for many accounts)");
	penalty_free(&p);
	test_end();
}

static void
test_spray_network(void)
{
	struct penalty_config cfg;
	char path[128], acct[64], addr[64];
	struct penalty *p;
	int tried = 0;
	const char *why = NULL;

	test_begin("penalty: the same spray from 200 addresses of one /24 blocks the /24");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	for (int i = 0; i < 200; i++) {
		snprintf(addr, sizeof(addr), "10.1.2.%d", i + 1);
		if (blocked(p, addr, T0 + i))
			continue;
		tried++;
		snprintf(acct, sizeof(acct), "user%d@example.org", i);
		test_assert_inteq(penalty_record(p, addr, acct, false, T0 + i), 0);
	}
	test_assert_inteq(tried, 30);
	test_assert(penalty_check(p, "10.1.2.250", T0 + 300, NULL, &why) == 1);
	test_assert_streq(why, "password spraying from the network");
	test_assert(listed(p, T0 + 300, "10.1.2.0/24"));
	test_assert(!blocked(p, "10.1.3.1", T0 + 300));
	test_end();

	test_begin("penalty: IPv6: one /64 is one source, a spray over a /48 blocks the /48");
	tried = 0;
	for (int i = 0; i < 200; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:1:2::%x", i + 1);
		if (blocked(p, addr, T0 + i))
			continue;
		tried++;
		snprintf(acct, sizeof(acct), "user%d@example.org", i);
		penalty_record(p, addr, acct, false, T0 + i);
	}
	test_assert_inteq(tried, 10);
	test_assert(listed(p, T0 + 300, "2001:db8:1:2::/64"));
	test_assert(blocked(p, "2001:db8:1:2:ffff::1", T0 + 300));
	test_assert(!blocked(p, "2001:db8:1:3::1", T0 + 300));
	tried = 0;
	for (int i = 0; i < 200; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:7:%x::1", i + 1);
		if (blocked(p, addr, T0 + i))
			continue;
		tried++;
		snprintf(acct, sizeof(acct), "user%d@example.org", i);
		penalty_record(p, addr, acct, false, T0 + i);
	}
	test_assert_inteq(tried, 30);
	test_assert(listed(p, T0 + 300, "2001:db8:7::/48"));
	test_assert(!blocked(p, "2001:db8:8::1", T0 + 300));
	penalty_free(&p);
	test_end();
}

static void
test_real_user(void)
{
	struct penalty_config cfg;
	char path[128], addr[64];
	struct penalty *p;

	test_begin("penalty: the real user from another address is never blocked nor delayed");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	/* One attacker hammers alice, a botnet tries her from 300 networks. */
	for (int i = 0; i < 1000; i++) {
		if (!blocked(p, "203.0.113.9", T0 + i))
			penalty_record(p, "203.0.113.9", "alice@example.org", false, T0 + i);
	}
	for (int i = 0; i < 300; i++) {
		snprintf(addr, sizeof(addr), "100.%d.%d.1", 64 + i / 200, i % 200);
		penalty_record(p, addr, "Alice@Example.org", false, T0 + 1000 + i);
	}
	test_assert(blocked(p, "203.0.113.9", T0 + 1400));
	/* alice, never seen before, from home: in, at once. */
	test_assert(!blocked(p, "198.51.100.7", T0 + 1400));
	test_assert_inteq(penalty_record(p, "198.51.100.7", "alice@example.org", true, T0 + 1400), 0);
	/* A typo from a new place is slowed (the account is under attack) but
	 * never blocked; from her known-good address it is not even slowed. */
	test_assert(penalty_record(p, "192.0.2.200", "alice@example.org", false, T0 + 1401) > 0);
	test_assert(!blocked(p, "192.0.2.200", T0 + 1402));
	test_assert_inteq(penalty_record(p, "198.51.100.7", "alice@example.org", false, T0 + 1403), 0);
	test_assert_inteq(penalty_record(p, "198.51.100.7", "alice@example.org", true, T0 + 1404), 0);
	test_assert(!blocked(p, "198.51.100.7", T0 + 1405));
	penalty_free(&p);
	test_end();
}

static void
test_known_good(void)
{
	struct penalty_config cfg;
	char path[128], addr[64], acct[64];
	struct penalty *p;

	test_begin("penalty: a known-good address gets in while its network and account are attacked");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	test_assert_inteq(penalty_record(p, "192.0.2.10", "alice@example.org", true, T0), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", 11 + i % 200);
		snprintf(acct, sizeof(acct), i % 2 ? "alice@example.org" : "user%d@example.org", i);
		if (!blocked(p, addr, T0 + 1 + i))
			penalty_record(p, addr, acct, false, T0 + 1 + i);
	}
	test_assert(listed(p, T0 + 300, "192.0.2.0/24"));
	test_assert(blocked(p, "192.0.2.11", T0 + 300));
	test_assert(!blocked(p, "192.0.2.10", T0 + 300));
	test_assert_inteq(penalty_record(p, "192.0.2.10", "alice@example.org", true, T0 + 301), 0);
	test_end();

	test_begin("penalty: known-good survives a restart");
	penalty_free(&p);
	p = open_cfg(&cfg);
	test_assert(blocked(p, "192.0.2.11", T0 + 400));
	test_assert(!blocked(p, "192.0.2.10", T0 + 400));
	penalty_free(&p);
	test_end();
}

static void
test_allow_list(void)
{
	struct penalty_config cfg;
	char path[128];
	struct penalty *p;
	const char *error = NULL;

	test_begin("penalty: the allow list exempts; loopback is not exempt by default");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	for (int i = 0; i < 25; i++)
		penalty_record(p, "127.0.1.11", "alice@example.org", false, T0 + i);
	test_assert(blocked(p, "127.0.1.11", T0 + 30));
	test_assert(!blocked(p, "127.0.2.12", T0 + 30));
	penalty_free(&p);

	cfg_for(&cfg, path, sizeof(path));
	cfg.allow_networks = "10.9.0.0/16, 2001:db8:aa::/48 192.0.2.99";
	p = open_cfg(&cfg);
	for (int i = 0; i < 1000; i++) {
		test_assert_inteq(penalty_record(p, "10.9.3.4", "u@example.org", false, T0 + i), 0);
		test_assert_inteq(penalty_record(p, "::ffff:192.0.2.99", "v@example.org", false, T0 + i), 0);
		test_assert_inteq(penalty_record(p, "2001:db8:aa:1::5", "w@example.org", false, T0 + i), 0);
	}
	test_assert(!blocked(p, "10.9.3.4", T0 + 1000));
	test_assert(!blocked(p, "192.0.2.99", T0 + 1000));
	test_assert(!blocked(p, "2001:db8:aa:1::5", T0 + 1000));
	test_assert_inteq(penalty_list_blocked(p, T0 + 1000, NULL, NULL), 0);
	penalty_free(&p);

	cfg.allow_networks = "10.0.0.0/8, nonsense";
	test_assert(penalty_new(&cfg, &error) == NULL);
	test_assert(error != NULL && strstr(error, "nonsense") != NULL);
	test_end();
}

static void
test_expiry_and_window(void)
{
	struct penalty_config cfg;
	char path[128];
	struct penalty *p;
	time_t until = 0;

	test_begin("penalty: a block expires after block_sec");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	for (int i = 0; i < 20; i++)
		penalty_record(p, "192.0.2.44", "alice@example.org", false, T0);
	test_assert(penalty_check(p, "192.0.2.44", T0, &until, NULL) == 1);
	test_assert_inteq(until, T0 + 3600);
	test_assert(blocked(p, "192.0.2.44", T0 + 3599));
	test_assert(!blocked(p, "192.0.2.44", T0 + 3600));
	test_assert_inteq(penalty_list_blocked(p, T0 + 3600, NULL, NULL), 0);
	penalty_free(&p);
	test_end();

	test_begin("penalty: the window slides");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	/* 15 failures, then 15 more two windows later: never 20 in one window. */
	for (int i = 0; i < 15; i++)
		penalty_record(p, "192.0.2.45", "a@example.org", false, T0);
	for (int i = 0; i < 15; i++)
		penalty_record(p, "192.0.2.45", "a@example.org", false, T0 + 7200);
	test_assert(!blocked(p, "192.0.2.45", T0 + 7200));
	/* 15 at the end of a period and 6 just after its end: 21 in 40 s,
	 * which a fixed window would have missed. */
	for (int i = 0; i < 15; i++)
		penalty_record(p, "192.0.2.46", "a@example.org", false, T0 + 3580);
	for (int i = 0; i < 5; i++)
		penalty_record(p, "192.0.2.46", "a@example.org", false, T0 + 3600);
	penalty_record(p, "192.0.2.46", "a@example.org", false, T0 + 3610);
	test_assert(blocked(p, "192.0.2.46", T0 + 3610));
	penalty_free(&p);
	test_end();
}

static void
test_restart_and_unblock(void)
{
	struct penalty_config cfg;
	char path[128];
	struct penalty *p, *cli;
	const char *error = NULL;
	int tried = 0;

	test_begin("penalty: a restart keeps blocks and counters");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	for (int i = 0; i < 25; i++)
		penalty_record(p, "192.0.2.50", "alice@example.org", false, T0 + i);
	for (int i = 0; i < 15; i++)
		penalty_record(p, "192.0.2.51", "alice@example.org", false, T0 + i);
	/* The block is on disk at once: a second handle (the CLI) sees it. */
	cli = open_cfg(&cfg);
	test_assert(listed(cli, T0 + 30, "192.0.2.50"));
	test_assert(!listed(cli, T0 + 30, "192.0.2.51"));
	penalty_free(&cli);
	penalty_free(&p);
	p = open_cfg(&cfg);
	test_assert(blocked(p, "192.0.2.50", T0 + 40));
	test_assert(!blocked(p, "192.0.2.51", T0 + 40));
	for (int i = 0; i < 10; i++) {
		if (blocked(p, "192.0.2.51", T0 + 40 + i))
			break;
		tried++;
		penalty_record(p, "192.0.2.51", "alice@example.org", false, T0 + 40 + i);
	}
	test_assert_inteq(tried, 5);
	test_end();

	test_begin("penalty: counters reach the disk within PENALTY_FLUSH_SEC, without a clean stop");
	for (int i = 0; i < 15; i++)
		penalty_record(p, "192.0.2.52", "bob@example.org", false, T0 + 50);
	penalty_record(p, "192.0.2.52", "bob@example.org", false, T0 + 50 + PENALTY_FLUSH_SEC);
	cli = open_cfg(&cfg);   /* as after a kill -9 of the first */
	tried = 0;
	for (int i = 0; i < 10; i++) {
		if (blocked(cli, "192.0.2.52", T0 + 70))
			break;
		tried++;
		penalty_record(cli, "192.0.2.52", "bob@example.org", false, T0 + 70);
	}
	test_assert_inteq(tried, 4);
	penalty_free(&cli);
	test_end();

	test_begin("penalty: unblock from a second handle reaches the running one");
	cli = open_cfg(&cfg);
	test_assert_inteq(penalty_unblock(cli, "192.0.2.50", T0 + 60, &error), 1);
	test_assert(!listed(cli, T0 + 60, "192.0.2.50"));
	test_assert_inteq(penalty_unblock(cli, "not-an-address", T0 + 60, &error), -1);
	test_assert(error != NULL);
	test_assert_inteq(penalty_unblock(cli, "203.0.113.0/24", T0 + 60, &error), 0);
	penalty_free(&cli);
	test_assert(!blocked(p, "192.0.2.50", T0 + 60 + PENALTY_POLL_SEC + 1));
	/* Its counters are gone too: a few failures do not block it again. */
	for (int i = 0; i < 5; i++)
		penalty_record(p, "192.0.2.50", "alice@example.org", false, T0 + 70);
	test_assert(!blocked(p, "192.0.2.50", T0 + 71));
	test_end();

	test_begin("penalty: unblocking an address lifts its network's block; restart agrees");
	for (int i = 0; i < 100; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "198.51.100.%d", i + 1);
		penalty_record(p, addr, "alice@example.org", false, T0 + 80);
	}
	test_assert(blocked(p, "198.51.100.200", T0 + 81));
	test_assert_inteq(penalty_unblock(p, "198.51.100.200", T0 + 82, &error), 1);
	test_assert(!blocked(p, "198.51.100.200", T0 + 82));
	test_assert(!blocked(p, "192.0.2.50", T0 + 82));
	test_assert(blocked(p, "192.0.2.51", T0 + 82));
	penalty_free(&p);
	p = open_cfg(&cfg);
	test_assert(!blocked(p, "198.51.100.200", T0 + 90));
	test_assert(!blocked(p, "192.0.2.50", T0 + 90));
	test_assert(blocked(p, "192.0.2.51", T0 + 90));
	penalty_free(&p);
	test_end();
}

static void
test_unparseable(void)
{
	struct penalty_config cfg;
	char path[128];
	struct penalty *p;
	const char *error;
	static const char *const bad[] = { "garbage", "", "999.1.1.1", "[zz", "unix:/run/x", NULL };

	test_begin("penalty: unparseable addresses share one bucket; IPv4-mapped is IPv4");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	for (int i = 0; i < 20; i++)
		penalty_record(p, bad[i % 6], "alice@example.org", false, T0);
	test_assert(blocked(p, "garbage", T0 + 1));
	test_assert(blocked(p, NULL, T0 + 1));
	test_assert(!blocked(p, "192.0.2.1", T0 + 1));
	test_assert(listed(p, T0 + 1, "unparseable"));
	test_assert_inteq(penalty_unblock(p, "unparseable", T0 + 2, &error), 1);
	test_assert(!blocked(p, "garbage", T0 + 2));
	for (int i = 0; i < 20; i++)
		penalty_record(p, i % 2 ? "::ffff:192.0.2.60" : "192.0.2.60", "a@example.org", false, T0 + 3);
	test_assert(blocked(p, "192.0.2.60", T0 + 4));
	test_assert(blocked(p, "::FFFF:192.0.2.60", T0 + 4));
	test_assert(blocked(p, "[::ffff:192.0.2.60]", T0 + 4));
	test_assert(listed(p, T0 + 4, "192.0.2.60"));
	penalty_free(&p);
	test_end();
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
test_flood(void)
{
	struct penalty_config cfg;
	char path[128], addr[64], acct[32];
	struct penalty *p;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	size_t most = 0;

	test_begin("penalty: 1,000,000 distinct addresses stay within max_tracked");
	cfg_for(&cfg, path, sizeof(path));
	cfg.max_tracked = 1000;
	p = open_cfg(&cfg);
	penalty_record(p, "192.0.2.10", "alice@example.org", true, T0);
	for (int i = 0; i < 20; i++)
		penalty_record(p, "203.0.113.9", "alice@example.org", false, T0);
	for (int i = 0; i < 1000000; i++) {
		uint64_t r = xorshift(&seed);
		time_t now = T0 + i / 1000;

		if (i % 2)
			snprintf(addr, sizeof(addr), "%u.%u.%u.%u", (unsigned)(r >> 24 & 0xff), (unsigned)(r >> 16 & 0xff),
			         (unsigned)(r >> 8 & 0xff), (unsigned)(r & 0xff));
		else
			snprintf(addr, sizeof(addr), "2001:%x:%x:%x::1", (unsigned)(r >> 32 & 0xffff),
			         (unsigned)(r >> 16 & 0xffff), (unsigned)(r & 0xffff));
		snprintf(acct, sizeof(acct), "u%u", (unsigned)(r >> 40) % 5000);
		if (!blocked(p, addr, now))
			penalty_record(p, addr, acct, false, now);
		if (i % 1000 == 0 && penalty_tracked(p) > most)
			most = penalty_tracked(p);
	}
	test_assert(most <= 1000);
	test_assert(penalty_tracked(p) <= 1000);
	/* Blocks and known-good marks outlive a flood of plain counters. */
	test_assert(blocked(p, "203.0.113.9", T0 + 1001));
	for (int i = 0; i < 200; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", 11 + i % 200);
		snprintf(acct, sizeof(acct), "s%d", i);
		if (!blocked(p, addr, T0 + 1001))
			penalty_record(p, addr, acct, false, T0 + 1001);
	}
	test_assert(blocked(p, "192.0.2.250", T0 + 1001));
	test_assert(!blocked(p, "192.0.2.10", T0 + 1001));
	penalty_free(&p);
	p = open_cfg(&cfg);
	test_assert(penalty_tracked(p) <= 1000);
	test_assert(blocked(p, "203.0.113.9", T0 + 1001));
	penalty_free(&p);
	test_end();
}

struct hammer {
	struct penalty *p;
	int id;
};

static void *
hammer_run(void *arg)
{
	struct hammer *h = arg;
	char addr[64], acct[32];
	uint64_t seed = 0x1234567ULL * (uint64_t)(h->id + 1);
	const char *error;

	for (int i = 0; i < 50000; i++) {
		uint64_t r = xorshift(&seed);
		time_t now = T0 + i / 100;

		snprintf(addr, sizeof(addr), "10.%u.%u.%u", (unsigned)(r & 3), (unsigned)(r >> 8 & 7),
		         (unsigned)(r >> 16 & 63));
		snprintf(acct, sizeof(acct), "u%u", (unsigned)(r >> 24 & 31));
		switch (r >> 40 & 15) {
		case 0:
			penalty_record(h->p, addr, acct, true, now);
			break;
		case 1:
			if ((r >> 44 & 63) == 0)
				penalty_unblock(h->p, "10.0.0.0/8", now, &error);
			else
				penalty_list_blocked(h->p, now, NULL, NULL);
			break;
		case 2:
			if ((r >> 44 & 63) == 0)
				penalty_flush(h->p, now);
			else
				penalty_record(h->p, addr, acct, false, now);
			break;
		default:
			if (penalty_check(h->p, addr, now, NULL, NULL) == 0)
				penalty_record(h->p, addr, acct, false, now);
		}
	}
	return NULL;
}

static void
test_threads(void)
{
	struct penalty_config cfg;
	char path[128];
	struct hammer h[4];
	pthread_t t[4];

	test_begin("penalty: 4 threads hammering one tracker");
	cfg_for(&cfg, path, sizeof(path));
	cfg.max_tracked = 500;
	h[0].p = open_cfg(&cfg);
	for (int i = 0; i < 4; i++) {
		h[i].p = h[0].p;
		h[i].id = i;
		test_assert(pthread_create(&t[i], NULL, hammer_run, &h[i]) == 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	test_assert(penalty_tracked(h[0].p) <= 500);
	penalty_free(&h[0].p);
	test_end();
}

static void
test_memory_only(void)
{
	struct penalty_config cfg;
	struct penalty *p;

	test_begin("penalty: without a state file");
	penalty_config_default(&cfg);
	p = open_cfg(&cfg);
	for (int i = 0; i < 20; i++)
		penalty_record(p, "192.0.2.70", "x", false, T0);
	test_assert(blocked(p, "192.0.2.70", T0));
	test_assert_inteq(penalty_unblock(p, "192.0.2.0/24", T0, &(const char *){ NULL }), 1);
	test_assert(!blocked(p, "192.0.2.70", T0));
	test_assert_inteq(penalty_flush(p, T0), 0);
	penalty_free(&p);
	test_end();
}

static void
cleanup(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
}

/* A full disk: every write of the state fails (RLIMIT_FSIZE makes writes
 * to regular files fail with EFBIG, as ENOSPC would; nothing is printed
 * while it holds). */
static void
test_full_disk(void)
{
	struct penalty_config cfg;
	char path[128];
	struct penalty *p;
	struct rlimit old, none;
	bool held_in_memory, flush_failed;
	int flushed;

	test_begin("penalty: a full disk keeps blocking from memory, and the state is written when space is back");
	cfg_for(&cfg, path, sizeof(path));
	p = open_cfg(&cfg);
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	none = old;
	none.rlim_cur = 0;
	setrlimit(RLIMIT_FSIZE, &none);
	for (int i = 0; i < 25; i++)
		penalty_record(p, "192.0.2.60", "carol@example.org", false, T0 + i);
	held_in_memory = blocked(p, "192.0.2.60", T0 + 30);
	flush_failed = penalty_flush(p, T0 + 30) == -1;
	setrlimit(RLIMIT_FSIZE, &old);
	test_assert(held_in_memory);
	test_assert(flush_failed);
	test_assert(blocked(p, "192.0.2.60", T0 + 31));
	test_assert(!blocked(p, "192.0.2.61", T0 + 31));        /* not a fail-closed for everyone */
	flushed = penalty_flush(p, T0 + 32);
	test_assert_inteq(flushed, 0);
	penalty_free(&p);
	p = open_cfg(&cfg);                                   /* the block reached the disk after all */
	test_assert(blocked(p, "192.0.2.60", T0 + 40));
	penalty_free(&p);
	test_end();
}

/* Waits up to 8 s (the poller reads every PENALTY_POLL_SEC) for
 * blocked(p, addr) to become want. */
static bool
becomes_blocked(struct penalty *p, const char *addr, bool want)
{
	for (int i = 0; i < 80; i++) {
		if (blocked(p, addr, time(NULL)) == want)
			return true;
		usleep(100000);
	}
	return false;
}

static void
test_shared_on_pg(const char *dsn)
{
	struct penalty_config cfg;
	struct penalty *a, *b, *c;
	const char *error = NULL;
	time_t now = time(NULL);

	penalty_config_default(&cfg);
	cfg.state_path = dsn;
	test_begin("penalty postgresql: a block made by one server is refused by the other");
	a = open_cfg(&cfg);
	b = open_cfg(&cfg);
	for (int i = 0; i < 25; i++)
		penalty_record(a, "192.0.2.80", "alice@example.org", false, now);
	test_assert(blocked(a, "192.0.2.80", now));
	test_assert(becomes_blocked(b, "192.0.2.80", true));
	test_assert(listed(b, time(NULL), "192.0.2.80"));
	/* A third, started now, loads it. */
	c = open_cfg(&cfg);
	test_assert(blocked(c, "192.0.2.80", time(NULL)));
	penalty_free(&c);
	test_end();

	test_begin("penalty postgresql: unblocked on one server, lifted on the other, and stays lifted");
	test_assert_inteq(penalty_unblock(b, "192.0.2.80", time(NULL), &error), 1);
	test_assert(!blocked(b, "192.0.2.80", time(NULL)));
	/* A flushes its dirty entries now: it must not write the block back. */
	penalty_flush(a, time(NULL));
	test_assert(becomes_blocked(a, "192.0.2.80", false));
	c = open_cfg(&cfg);
	test_assert(!blocked(c, "192.0.2.80", time(NULL)));
	test_assert(!listed(c, time(NULL), "192.0.2.80"));
	penalty_free(&c);
	penalty_free(&b);
	penalty_free(&a);
	test_end();
}

int
main(int argc, char **argv)
{
	const char *dsn = test_pg_dsn(argv[0]);

	snprintf(dir, sizeof(dir), "/tmp/tern-penalty-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	log_set_level(LOG_ERROR);
	test_parse();
	test_delays();
	test_brute_force();
	test_spray_one_address();
	test_spray_network();
	test_real_user();
	test_known_good();
	test_allow_list();
	test_expiry_and_window();
	test_restart_and_unblock();
	test_unparseable();
	test_memory_only();
	test_threads();
	test_flood();
	test_full_disk();
	if (dsn != NULL)
		test_shared_on_pg(dsn);
	cleanup();
	return test_done();
}
