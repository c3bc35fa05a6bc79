/* Unit tests for src/dns against a real server: tests/e2e/dnsserver.py on
 * 127.0.0.1 (python3-dnslib), started with a temporary JSON zone, and
 * libunbound forwarding to it without DNSSEC.  MX order and shuffle, null
 * MX, NODATA, NXDOMAIN, CNAME chains, TXT joining, TLSA, SERVFAIL, a
 * dropped query ending at the timeout, four threads at once, async
 * lookups on a loop; then the rdata parsers on hand-made input. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dns/dns.h"
#include "dns/dns_rdata.h"
#include "lib/evloop.h"
#include "test.h"

#define TIMEOUT_MS 1500

static char dir[] = "/tmp/tern-test-dns-XXXXXX";
static char zone_path[256];
static pid_t server_pid;
static int server_port;

/* The zone every test starts from; {{LONG}} becomes a 600-byte TXT. */
static const char *zone_json =
	"{\"example.net\": {\"MX\": [[20, \"c.example.net\"], [10, \"A.Example.NET.\"],"
	"                          [30, \"d.example.net\"], [10, \"b.example.net\"]],"
	"                   \"TXT\": [[\"v=spf1 \", \"ip4:192.0.2.1 -all\"]]},"
	" \"equal.example.net\": {\"MX\": [[10, \"m1.example.net\"], [10, \"m2.example.net\"],"
	"                      [10, \"m3.example.net\"], [10, \"m4.example.net\"], [10, \"m5.example.net\"]]},"
	" \"null.example.net\": {\"MX\": [[0, \".\"]]},"
	" \"mx1.example.net\": {\"A\": [\"192.0.2.1\"], \"AAAA\": [\"2001:db8::1\"]},"
	" \"v4only.example.net\": {\"A\": [\"192.0.2.4\"]},"
	" \"www.example.net\": {\"CNAME\": \"alias.example.net\"},"
	" \"alias.example.net\": {\"CNAME\": \"mx1.example.net\"},"
	" \"long.example.net\": {\"TXT\": [\"{{LONG}}\"]},"
	" \"_25._tcp.mx1.example.net\": {\"TLSA\": [[3, 1, 1,"
	"     \"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\"]]},"
	" \"sf.example.net\": {\"fault\": \"servfail\"},"
	" \"drop.example.net\": {\"fault\": \"drop\"}}";

static char long_txt[601];

static void
write_zone(const char *json)
{
	char tmp[300];
	const char *mark = strstr(json, "{{LONG}}");
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", zone_path);
	f = fopen(tmp, "w");
	if (mark != NULL)
		fprintf(f, "%.*s%s%s", (int)(mark - json), json, long_txt, mark + 8);
	else
		fputs(json, f);
	fclose(f);
	rename(tmp, zone_path);
}

static int
server_start(void)
{
	const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
	char port_path[300];

	for (size_t i = 0; i < 600; i++)
		long_txt[i] = (char)('a' + i % 26);
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(zone_path, sizeof(zone_path), "%s/zone.json", dir);
	snprintf(port_path, sizeof(port_path), "%s/port", dir);
	write_zone(zone_json);
	if ((server_pid = fork()) == 0) {
		freopen("/dev/null", "w", stdout);   /* its "port N" line is not TAP */
		execlp(py, py, "tests/e2e/dnsserver.py", "--port-file", port_path, zone_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {   /* up to 10 s for python to start */
		FILE *f = fopen(port_path, "r");

		if (f != NULL) {
			int ok = fscanf(f, "%d", &server_port) == 1;

			fclose(f);
			if (ok)
				return 0;
		}
		usleep(100 * 1000);
	}
	return -1;
}

static void
server_stop(void)
{
	char path[300];

	if (server_pid > 0) {
		kill(server_pid, SIGTERM);
		waitpid(server_pid, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/port", dir);
	unlink(path);
	unlink(zone_path);
	rmdir(dir);
}

static struct dns *
new_dns(void)
{
	struct dns_settings set = { .trust_anchor_file = "none", .timeout_ms = TIMEOUT_MS };
	char resolver[32];
	char *error = NULL;
	struct dns *d;

	snprintf(resolver, sizeof(resolver), "127.0.0.1:%d", server_port);
	set.resolver = resolver;
	d = dns_new(&set, &error);
	if (d == NULL) {
		printf("# dns_new: %s\n", error);
		free(error);
	}
	return d;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *
addr_str(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	if (ss->ss_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)size);
	return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)size);
}

static void
test_settings(void)
{
	struct dns_settings set = { .trust_anchor_file = "none" };
	const char *bad[] = { "bogus", "127.0.0.1:0", "127.0.0.1:99999", "[::1", "[::1]x", "1.2.3.4:", NULL };
	const char *good[] = { "127.0.0.1", "127.0.0.1:5353", "::1", "[::1]:5353", "[::1]", NULL };
	char *error;
	struct dns *d;

	test_begin("dns: resolver addresses");
	for (size_t i = 0; bad[i] != NULL; i++) {
		set.resolver = bad[i];
		error = NULL;
		d = dns_new(&set, &error);
		test_assert(d == NULL);
		test_assert(error != NULL && strstr(error, bad[i]) != NULL);
		free(error);
		dns_free(&d);
	}
	for (size_t i = 0; good[i] != NULL; i++) {
		set.resolver = good[i];
		error = NULL;
		d = dns_new(&set, &error);
		test_assert(d != NULL);
		if (d == NULL)
			printf("# %s: %s\n", good[i], error);
		free(error);
		dns_free(&d);
		test_assert(d == NULL);
	}
	set.resolver = "127.0.0.1";
	set.trust_anchor_file = "/nonexistent/root.key";
	error = NULL;
	d = dns_new(&set, &error);
	test_assert(d == NULL);
	test_assert(error != NULL && strstr(error, "/nonexistent/root.key") != NULL);
	free(error);
	test_end();
}

static void
test_mx(struct dns *d)
{
	struct dns_mx_list l;

	test_begin("dns: MX by preference, lower-case, no trailing dot");
	test_assert(dns_mx_sync(d, "example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_OK);
	test_assert(!l.null_mx && !l.secure);
	test_assert_inteq(l.n, 4);
	test_assert_inteq(l.mx[0].pref, 10);
	test_assert_inteq(l.mx[1].pref, 10);
	test_assert(strcmp(l.mx[0].host, "a.example.net") == 0 || strcmp(l.mx[1].host, "a.example.net") == 0);
	test_assert(strcmp(l.mx[0].host, "b.example.net") == 0 || strcmp(l.mx[1].host, "b.example.net") == 0);
	test_assert_streq(l.mx[2].host, "c.example.net");
	test_assert_inteq(l.mx[2].pref, 20);
	test_assert_streq(l.mx[3].host, "d.example.net");
	/* the trailing dot of the question is allowed */
	test_assert(dns_mx_sync(d, "example.net.", &l) == 0);
	test_assert_inteq(l.n, 4);
	test_end();

	test_begin("dns: MX shuffled among equals, none lost");
	{
		unsigned firsts = 0;

		for (int round = 0; round < 20; round++) {
			unsigned seen = 0;

			test_assert(dns_mx_sync(d, "equal.example.net", &l) == 0);
			test_assert_inteq(l.n, 5);
			for (size_t i = 0; i < l.n; i++)
				if (strncmp(l.mx[i].host, "m", 1) == 0 && l.mx[i].host[1] >= '1' && l.mx[i].host[1] <= '5')
					seen |= 1u << (l.mx[i].host[1] - '1');
			test_assert_inteq(seen, 0x1f);
			firsts |= 1u << (l.mx[0].host[1] - '1');
		}
		/* 20 rounds with one first host: 5^-19 */
		test_assert(firsts != 1 && firsts != 2 && firsts != 4 && firsts != 8 && firsts != 16);
	}
	test_end();

	test_begin("dns: null MX");
	test_assert(dns_mx_sync(d, "null.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_OK);
	test_assert(l.null_mx);
	test_assert_inteq(l.n, 0);
	test_end();

	test_begin("dns: MX NODATA and NXDOMAIN");
	test_assert(dns_mx_sync(d, "mx1.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_NODATA);
	test_assert(dns_mx_sync(d, "nope.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_NXDOMAIN);
	test_assert(dns_mx_sync(d, "", &l) == -1);
	test_assert(dns_mx_sync(d, "a..b", &l) == -1);
	test_assert(dns_mx_sync(d, "a b.example", &l) == -1);
	test_end();
}

static void
test_addr(struct dns *d)
{
	struct dns_addr_list l;
	char buf[INET6_ADDRSTRLEN];

	test_begin("dns: addresses, IPv6 first");
	test_assert(dns_addr_sync(d, "mx1.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_OK);
	test_assert_inteq(l.n, 2);
	test_assert_streq(addr_str(&l.addr[0], buf, sizeof(buf)), "2001:db8::1");
	test_assert_streq(addr_str(&l.addr[1], buf, sizeof(buf)), "192.0.2.1");
	test_assert_streq(l.canonical, "mx1.example.net");
	test_end();

	test_begin("dns: addresses of one family are enough");
	test_assert(dns_addr_sync(d, "v4only.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_OK);
	test_assert_inteq(l.n, 1);
	test_assert_streq(addr_str(&l.addr[0], buf, sizeof(buf)), "192.0.2.4");
	test_end();

	test_begin("dns: CNAME chain to A and AAAA, canonical name");
	test_assert(dns_addr_sync(d, "WWW.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_OK);
	test_assert_inteq(l.n, 2);
	test_assert_streq(l.canonical, "mx1.example.net");
	test_end();

	test_begin("dns: addresses NXDOMAIN and NODATA");
	test_assert(dns_addr_sync(d, "nope.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_NXDOMAIN);
	test_assert(dns_addr_sync(d, "example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_NODATA);
	test_end();
}

static void
test_txt_tlsa(struct dns *d)
{
	static struct dns_txt_list t;
	struct dns_tlsa_list l;

	test_begin("dns: TXT strings joined");
	test_assert(dns_txt_sync(d, "example.net", &t) == 0);
	test_assert_inteq(t.status, DNS_OK);
	test_assert_inteq(t.n, 1);
	test_assert_streq(t.txt[0], "v=spf1 ip4:192.0.2.1 -all");
	test_assert(dns_txt_sync(d, "long.example.net", &t) == 0);
	test_assert_inteq(t.status, DNS_OK);
	test_assert_inteq(t.n, 1);
	test_assert_streq(t.txt[0], long_txt);
	test_assert(dns_txt_sync(d, "mx1.example.net", &t) == 0);
	test_assert_inteq(t.status, DNS_NODATA);
	test_end();

	test_begin("dns: TLSA");
	test_assert(dns_tlsa_sync(d, "_25._tcp.mx1.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_OK);
	test_assert_inteq(l.n, 1);
	test_assert(l.tlsa[0].usage == 3 && l.tlsa[0].selector == 1 && l.tlsa[0].mtype == 1);
	test_assert_inteq(l.tlsa[0].len, 32);
	test_assert(l.tlsa[0].data[0] == 0 && l.tlsa[0].data[31] == 0x1f);
	test_assert(dns_tlsa_sync(d, "_25._tcp.nope.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_NXDOMAIN);
	test_end();
}

static void
test_faults(struct dns *d)
{
	struct dns_mx_list l;
	struct dns_addr_list a;
	uint64_t t0;

	test_begin("dns: SERVFAIL is TEMPFAIL");
	test_assert(dns_mx_sync(d, "sf.example.net", &l) == 0);
	test_assert_inteq(l.status, DNS_TEMPFAIL);
	test_end();

	test_begin("dns: a dropped query is TEMPFAIL at the timeout");
	t0 = now_ms();
	test_assert(dns_addr_sync(d, "drop.example.net", &a) == 0);
	test_assert_inteq(a.status, DNS_TEMPFAIL);
	test_assert(now_ms() - t0 >= TIMEOUT_MS - 50);
	test_assert(now_ms() - t0 < TIMEOUT_MS + 1000);
	test_end();
}

static void
test_change(struct dns *d)
{
	struct dns_addr_list a;
	char buf[INET6_ADDRSTRLEN];

	test_begin("dns: a changed record is seen at once (TTL 0)");
	test_assert(dns_addr_sync(d, "v4only.example.net", &a) == 0);
	test_assert_streq(addr_str(&a.addr[0], buf, sizeof(buf)), "192.0.2.4");
	usleep(20 * 1000);   /* a new mtime */
	write_zone("{\"v4only.example.net\": {\"A\": [\"192.0.2.99\"]}}");
	test_assert(dns_addr_sync(d, "v4only.example.net", &a) == 0);
	test_assert_inteq(a.n, 1);
	test_assert_streq(addr_str(&a.addr[0], buf, sizeof(buf)), "192.0.2.99");
	usleep(20 * 1000);
	write_zone(zone_json);
	test_end();
}

/* Four threads at once */

struct worker {
	pthread_t tid;
	struct dns *d;
	int failures;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 15; i++) {
		struct dns_mx_list m;
		struct dns_addr_list a;
		struct dns_tlsa_list t;

		if (dns_mx_sync(w->d, "example.net", &m) != 0 || m.status != DNS_OK || m.n != 4)
			w->failures++;
		if (dns_addr_sync(w->d, "www.example.net", &a) != 0 || a.status != DNS_OK || a.n != 2 ||
		    strcmp(a.canonical, "mx1.example.net") != 0)
			w->failures++;
		if (dns_tlsa_sync(w->d, "_25._tcp.mx1.example.net", &t) != 0 || t.n != 1)
			w->failures++;
		if (dns_mx_sync(w->d, "nope.example.net", &m) != 0 || m.status != DNS_NXDOMAIN)
			w->failures++;
	}
	return NULL;
}

static void
test_threads(struct dns *d)
{
	struct worker w[4];

	test_begin("dns: sync lookups from 4 threads at once");
	for (int i = 0; i < 4; i++) {
		w[i].d = d;
		w[i].failures = 0;
		pthread_create(&w[i].tid, NULL, worker_run, &w[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(w[i].tid, NULL);
		test_assert_inteq(w[i].failures, 0);
	}
	test_end();
}

/* Async on a loop */

static struct evloop *loop;
static int async_left;
static bool async_returned;
static struct dns_mx_list async_mx;
static struct dns_addr_list async_addr, async_drop, async_bad;
static struct dns_tlsa_list async_tlsa;
static int async_calls;
static uint64_t async_drop_ms, async_t0;

static void
async_done(void)
{
	async_calls++;
	if (--async_left == 0)
		evloop_stop(loop);
}

static void
on_mx(void *arg, const struct dns_mx_list *res)
{
	async_mx = *res;
	async_done();
}

static void
on_addr(void *arg, const struct dns_addr_list *res)
{
	*(struct dns_addr_list *)arg = *res;
	if (arg == &async_drop)
		async_drop_ms = now_ms() - async_t0;
	if (arg == &async_bad && !async_returned)
		async_bad.status = (enum dns_status)-1;   /* called too early */
	async_done();
}

static void
on_tlsa(void *arg, const struct dns_tlsa_list *res)
{
	async_tlsa = *res;
	async_done();
}

static void
on_never(void *arg, const struct dns_addr_list *res)
{
	async_calls += 1000;
}

static void
on_mx_detach(void *arg, const struct dns_mx_list *res)
{
	async_calls++;
	dns_detach_loop(arg);
	evloop_stop(loop);
}

static void
on_guard(void *arg)
{
	printf("# async lookups still pending after 10 s\n");
	evloop_stop(loop);
}

static void
test_async(struct dns *d)
{
	struct evloop_timer *guard;
	char *error = NULL;

	test_begin("dns: async lookups on a loop");
	loop = evloop_new();
	test_assert(dns_attach_loop(d, loop, &error) == 0);
	test_assert(dns_attach_loop(d, loop, &error) == -1);
	free(error);
	async_t0 = now_ms();
	async_left = 5;
	async_returned = false;
	dns_mx_async(d, "example.net", on_mx, NULL);
	dns_addr_async(d, "www.example.net", on_addr, &async_addr);
	dns_tlsa_async(d, "_25._tcp.mx1.example.net", on_tlsa, NULL);
	dns_addr_async(d, "drop.example.net", on_addr, &async_drop);
	dns_addr_async(d, "bad..name", on_addr, &async_bad);
	async_returned = true;
	guard = evloop_timer_add(loop, 10000, on_guard, NULL);
	evloop_run(loop);
	evloop_timer_cancel(loop, &guard);
	test_assert_inteq(async_calls, 5);
	test_assert_inteq(async_mx.status, DNS_OK);
	test_assert_inteq(async_mx.n, 4);
	test_assert_inteq(async_mx.mx[0].pref, 10);
	test_assert_inteq(async_addr.status, DNS_OK);
	test_assert_inteq(async_addr.n, 2);
	test_assert_streq(async_addr.canonical, "mx1.example.net");
	test_assert_inteq(async_tlsa.status, DNS_OK);
	test_assert_inteq(async_tlsa.n, 1);
	test_assert_inteq(async_drop.status, DNS_TEMPFAIL);
	test_assert(async_drop_ms >= TIMEOUT_MS - 50 && async_drop_ms < TIMEOUT_MS + 1000);
	test_assert_inteq(async_bad.status, DNS_PERMFAIL);
	test_end();

	test_begin("dns: detach cancels pending lookups without callbacks");
	async_calls = 0;
	dns_addr_async(d, "drop.example.net", on_never, NULL);
	dns_addr_async(d, "mx1.example.net", on_never, NULL);
	dns_detach_loop(d);
	dns_detach_loop(d);
	test_assert_inteq(async_calls, 0);
	test_end();

	test_begin("dns: a callback may detach the loop");
	async_calls = 0;
	test_assert(dns_attach_loop(d, loop, &error) == 0);
	dns_addr_async(d, "drop.example.net", on_never, NULL);
	dns_mx_async(d, "example.net", on_mx_detach, d);
	guard = evloop_timer_add(loop, 10000, on_guard, NULL);
	evloop_run(loop);
	evloop_timer_cancel(loop, &guard);
	test_assert_inteq(async_calls, 1);
	evloop_free(&loop);
	test_end();
}

/* The parsers on hand-made rdata */

static void
test_rdata(void)
{
	static char txt[DNS_TXT_LEN_MAX + 1];
	static uint8_t big[17 * 256];   /* 17 full strings: past DNS_TXT_LEN_MAX */
	struct dns_mx mx;
	struct dns_tlsa tlsa;
	struct sockaddr_storage ss;
	struct dns_mx_list l;
	char name[DNS_NAME_MAX + 1];
	uint8_t wire[300];
	size_t used;

	test_begin("dns_rdata: names");
	test_assert(dns_rdata_name((const uint8_t *)"\x03MX1\x07" "example\x03net\x00", 17, name, &used) == 0);
	test_assert_streq(name, "mx1.example.net");
	test_assert_inteq(used, 17);
	test_assert(dns_rdata_name((const uint8_t *)"\x00", 1, name, &used) == 0);
	test_assert_streq(name, "");
	test_assert(dns_rdata_name((const uint8_t *)"\x03mx1", 4, name, &used) == -1);     /* no end */
	test_assert(dns_rdata_name((const uint8_t *)"\x05mx1", 4, name, &used) == -1);     /* past len */
	test_assert(dns_rdata_name((const uint8_t *)"\xc0\x0c", 2, name, &used) == -1);    /* pointer */
	test_assert(dns_rdata_name((const uint8_t *)"\x03m.x\x00", 5, name, &used) == -1); /* a dot */
	test_assert(dns_rdata_name((const uint8_t *)"", 0, name, &used) == -1);
	/* 4 labels of 63: 255 bytes of presentation, over DNS_NAME_MAX */
	for (int i = 0; i < 4; i++) {
		wire[i * 64] = 63;
		memset(wire + i * 64 + 1, 'a', 63);
	}
	wire[256] = 0;
	test_assert(dns_rdata_name(wire, 257, name, &used) == -1);
	wire[192] = 61;   /* 63.63.63.61 = 253 */
	wire[192 + 62] = 0;
	test_assert(dns_rdata_name(wire, 255, name, &used) == 0);
	test_assert_inteq(strlen(name), 253);
	test_end();

	test_begin("dns_rdata: MX, TXT, TLSA, addresses");
	test_assert(dns_rdata_mx((const uint8_t *)"\x00\x0a\x02mx\x00", 6, &mx) == 0);
	test_assert_inteq(mx.pref, 10);
	test_assert_streq(mx.host, "mx");
	test_assert(dns_rdata_mx((const uint8_t *)"\x00\x0a\x02mx\x00x", 7, &mx) == -1);   /* trailing byte */
	test_assert(dns_rdata_mx((const uint8_t *)"\x00\x0a", 2, &mx) == -1);
	test_assert(dns_rdata_txt((const uint8_t *)"\x02" "ab\x00\x01" "c", 6, txt) == 0);
	test_assert_streq(txt, "abc");
	test_assert(dns_rdata_txt((const uint8_t *)"\x03" "ab", 3, txt) == -1);
	test_assert(dns_rdata_txt((const uint8_t *)"\x02" "a\0", 3, txt) == -1);
	test_assert(dns_rdata_txt((const uint8_t *)"", 0, txt) == -1);
	for (size_t i = 0; i + 256 <= sizeof(big); i += 256) {
		big[i] = 255;
		memset(big + i + 1, 'x', 255);
	}
	test_assert(dns_rdata_txt(big, 16 * 256, txt) == 0);   /* 4080 bytes */
	test_assert_inteq(strlen(txt), 4080);
	test_assert(dns_rdata_txt(big, 17 * 256, txt) == -1);  /* 4335 > DNS_TXT_LEN_MAX */
	test_assert(dns_rdata_tlsa((const uint8_t *)"\x03\x01\x01\xaa", 4, &tlsa) == 0);
	test_assert(tlsa.len == 1 && tlsa.data[0] == 0xaa);
	test_assert(dns_rdata_tlsa((const uint8_t *)"\x03\x01\x01", 3, &tlsa) == -1);
	test_assert(dns_rdata_tlsa(big, 3 + DNS_TLSA_DATA_MAX + 1, &tlsa) == -1);
	test_assert(dns_rdata_addr(AF_INET, (const uint8_t *)"\x7f\0\0\x01", 4, &ss) == 0);
	test_assert(dns_rdata_addr(AF_INET, (const uint8_t *)"\x7f\0\0\x01", 5, &ss) == -1);
	test_assert(dns_rdata_addr(AF_INET6, (const uint8_t *)"\x7f\0\0\x01", 4, &ss) == -1);
	test_end();

	test_begin("dns_rdata: MX list keeps the most preferred");
	memset(&l, 0, sizeof(l));
	for (unsigned i = 0; i < DNS_MX_MAX + 10; i++) {
		struct dns_mx m = { .pref = 100 - i };

		snprintf(m.host, sizeof(m.host), "h%u", i);
		dns_mx_list_add(&l, &m);
	}
	dns_mx_list_finish(&l);
	test_assert_inteq(l.n, DNS_MX_MAX);
	test_assert_inteq(l.mx[0].pref, 100 - (DNS_MX_MAX + 9));
	test_assert_inteq(l.mx[DNS_MX_MAX - 1].pref, 100 - 10);
	/* "." among others names no host and is dropped */
	memset(&l, 0, sizeof(l));
	mx.pref = 0;
	mx.host[0] = '\0';
	dns_mx_list_add(&l, &mx);
	strcpy(mx.host, "real");
	dns_mx_list_add(&l, &mx);
	dns_mx_list_finish(&l);
	test_assert(!l.null_mx && l.n == 1);
	test_end();
}

int
main(void)
{
	struct dns *d, *d2;

	signal(SIGPIPE, SIG_IGN);
	test_rdata();
	test_settings();
	if (server_start() == -1) {
		printf("not ok dns: cannot start tests/e2e/dnsserver.py (python3-dnslib installed?)\n");
		server_stop();
		return 1;
	}
	d = new_dns();
	if (d == NULL) {
		server_stop();
		return 1;
	}
	test_mx(d);
	test_addr(d);
	test_txt_tlsa(d);
	test_change(d);
	test_threads(d);
	test_faults(d);
	/* a second resolver: the first has seen queries time out, and
	 * libunbound remembers a server's timeouts */
	d2 = new_dns();
	test_async(d2);
	dns_free(&d2);
	dns_free(&d);
	server_stop();
	return test_done();
}
