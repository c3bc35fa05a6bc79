/* Tests for src/directory: a real SQLite file in a mkdtemp() directory,
 * then the same operations on a real PostgreSQL (the test runs itself
 * again under tests/e2e/pgserver.py, which starts one). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "directory/directory.h"
#include "directory/directory_addr.h"
#include "test.h"

static const char HASH[] = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$/5A2b1gNjtSB9rIj0DPEmxAWSWkwMbr9wz2/wJ/mEV6";

static char tmpdir[64];
static char datadir[128];
static struct rcpt_resolution res;   /* ~40 KiB: off the stack */

static void
collect_domain(const char *domain, void *arg)
{
	char *out = arg;

	strcat(out, domain);
	strcat(out, ",");
}

static void
collect_user(const struct dir_user *u, void *arg)
{
	char *out = arg;

	strcat(out, u->address);
	strcat(out, ",");
}

static void
collect_alias(const char *alias, const char *target, void *arg)
{
	char *out = arg;

	strcat(out, alias);
	strcat(out, ">");
	strcat(out, target);
	strcat(out, ",");
}

static bool
res_has_local(const char *addr)
{
	for (unsigned i = 0; i < res.n_local; i++) {
		if (strcmp(res.local[i], addr) == 0)
			return true;
	}
	return false;
}

static bool
res_has_remote(const char *addr)
{
	for (unsigned i = 0; i < res.n_remote; i++) {
		if (strcmp(res.remote[i], addr) == 0)
			return true;
	}
	return false;
}

static void
test_addr(void)
{
	struct dir_addr a, b;
	char dom[DOMAIN_MAX + 1];
	char long_local[LOCALPART_MAX + 20];
	char buf[600];

	test_begin("directory: address syntax and lower-casing");
	test_assert_inteq(dir_addr_parse("Alice.Smith@Example.COM", &a), 0);
	test_assert_streq(a.address, "alice.smith@example.com");
	test_assert_streq(a.local, "alice.smith");
	test_assert_streq(a.domain, "example.com");
	test_assert_inteq(dir_addr_parse("o'neil+x_y=z!#$%&*/?^`{|}~-@mx-1.example", &a), 0);
	test_assert_inteq(dir_addr_parse("a@localhost", &a), 0);
	test_assert_inteq(dir_addr_parse("", &a), -1);
	test_assert_inteq(dir_addr_parse("noat", &a), -1);
	test_assert_inteq(dir_addr_parse("@example.com", &a), -1);
	test_assert_inteq(dir_addr_parse("a@", &a), -1);
	test_assert_inteq(dir_addr_parse(".a@example.com", &a), -1);
	test_assert_inteq(dir_addr_parse("a.@example.com", &a), -1);
	test_assert_inteq(dir_addr_parse("a..b@example.com", &a), -1);
	test_assert_inteq(dir_addr_parse("a b@example.com", &a), -1);
	test_assert_inteq(dir_addr_parse("\"a\"@example.com", &a), -1);
	test_assert_inteq(dir_addr_parse("a@b@example.com", &a), -1);
	test_assert_inteq(dir_addr_parse("a@-example.com", &a), -1);
	test_assert_inteq(dir_addr_parse("a@example-.com", &a), -1);
	test_assert_inteq(dir_addr_parse("a@example..com", &a), -1);
	test_assert_inteq(dir_addr_parse("a@example.com.", &a), -1);
	test_assert_inteq(dir_addr_parse("a@exa_mple.com", &a), -1);
	test_assert_inteq(dir_addr_parse("a@[127.0.0.1]", &a), -1);
	test_assert_inteq(dir_addr_parse("\xc3\xa9@example.com", &a), -1);
	/* Length bounds: 64 octets of local part, 63 per label, 255 in all. */
	memset(long_local, 'x', LOCALPART_MAX);
	strcpy(long_local + LOCALPART_MAX, "@example.com");
	test_assert_inteq(dir_addr_parse(long_local, &a), 0);
	memset(long_local, 'x', LOCALPART_MAX + 1);
	strcpy(long_local + LOCALPART_MAX + 1, "@example.com");
	test_assert_inteq(dir_addr_parse(long_local, &a), -1);
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "a@");
	memset(buf + 2, 'l', 63);
	strcat(buf, ".com");
	test_assert_inteq(dir_addr_parse(buf, &a), 0);
	memset(buf + 2, 'l', 64);
	strcpy(buf + 66, ".com");
	test_assert_inteq(dir_addr_parse(buf, &a), -1);
	/* 4 labels of 63 + 3 dots = 255: the most allowed; one more is too many. */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "a@");
	for (int i = 0; i < 4; i++) {
		memset(buf + strlen(buf), 'd', 63);
		if (i < 3)
			strcat(buf, ".");
	}
	test_assert_inteq(dir_addr_parse(buf, &a), 0);
	strcat(buf, "d");
	test_assert_inteq(dir_addr_parse(buf, &a), -1);
	strcat(buf, ".x");
	test_assert_inteq(dir_addr_domain(buf + 2, dom, sizeof(dom)), -1);
	test_assert_inteq(dir_addr_domain("Example.ORG", dom, sizeof(dom)), 0);
	test_assert_streq(dom, "example.org");
	test_assert_inteq(dir_addr_domain("", dom, sizeof(dom)), -1);
	test_assert_inteq(dir_addr_domain("exa mple.org", dom, sizeof(dom)), -1);

	test_assert_inteq(dir_addr_parse("bob+lists@example.com", &a), 0);
	test_assert_inteq(dir_addr_strip_tag(&a, &b), 0);
	test_assert_streq(b.address, "bob@example.com");
	test_assert_inteq(dir_addr_parse("bob+a+b@example.com", &a), 0);
	test_assert_inteq(dir_addr_strip_tag(&a, &b), 0);
	test_assert_streq(b.address, "bob@example.com");
	test_assert_inteq(dir_addr_parse("+tag@example.com", &a), 0);
	test_assert_inteq(dir_addr_strip_tag(&a, &b), -1);
	test_assert_inteq(dir_addr_parse("bob@example.com", &a), 0);
	test_assert_inteq(dir_addr_strip_tag(&a, &b), -1);
	test_end();
}

static void
test_domains(struct directory *d)
{
	char list[512] = "";
	const char *error = NULL;

	test_begin("directory: domains");
	test_assert_inteq(directory_domain_add(d, "Example.COM", &error), 0);
	test_assert_inteq(directory_domain_add(d, "example.org", &error), 0);
	test_assert_inteq(directory_domain_add(d, "gone.example", &error), 0);
	test_assert_inteq(directory_domain_add(d, "example.com", &error), -1);
	test_assert(error != NULL && strstr(error, "already exists") != NULL);
	test_assert_inteq(directory_domain_add(d, "bad domain", &error), -1);
	test_assert(error != NULL && strstr(error, "invalid domain") != NULL);
	test_assert_inteq(directory_domain_is_local(d, "EXAMPLE.com", &error), 1);
	test_assert_inteq(directory_domain_is_local(d, "example.net", &error), 0);
	test_assert_inteq(directory_domain_is_local(d, "not a domain", &error), 0);
	test_assert_inteq(directory_domain_del(d, "gone.example", &error), 0);
	test_assert_inteq(directory_domain_del(d, "gone.example", &error), -1);
	test_assert(error != NULL && strstr(error, "no such domain") != NULL);
	test_assert_inteq(directory_domain_list(d, collect_domain, list, &error), 0);
	test_assert_streq(list, "example.com,example.org,");
	test_end();
}

static void
test_users(struct directory *d)
{
	struct dir_user u;
	const char *error = NULL;
	char list[1024] = "";

	test_begin("directory: users");
	test_assert_inteq(directory_user_add(d, "Alice@Example.com", HASH, ROLE_USER, &error), 0);
	test_assert_inteq(directory_user_add(d, "bob@example.com", HASH, ROLE_USER, &error), 0);
	test_assert_inteq(directory_user_add(d, "carol@example.org", HASH, ROLE_USER, &error), 0);
	test_assert_inteq(directory_user_add(d, "root@example.org", HASH, ROLE_ADMIN, &error), 0);
	test_assert_inteq(directory_user_add(d, "alice@example.com", HASH, ROLE_USER, &error), -1);
	test_assert(error != NULL && strstr(error, "already exists") != NULL);
	test_assert_inteq(directory_user_add(d, "dave@example.net", HASH, ROLE_USER, &error), -1);
	test_assert(error != NULL && strstr(error, "domain example.net does not exist") != NULL);
	test_assert_inteq(directory_user_add(d, "bad..addr@example.com", HASH, ROLE_USER, &error), -1);
	test_assert(error != NULL && strstr(error, "invalid address") != NULL);
	test_assert_inteq(directory_user_add(d, "eve@example.com", "", ROLE_USER, &error), -1);
	test_assert_inteq(directory_user_add(d, "eve@example.com", "has space", ROLE_USER, &error), -1);
	test_assert_inteq(directory_user_add(d, "eve@example.com", "a:b", ROLE_USER, &error), -1);

	test_assert_inteq(directory_user_get(d, "ALICE@example.COM", &u, &error), 1);
	test_assert_streq(u.address, "alice@example.com");
	test_assert_streq(u.password_hash, HASH);
	test_assert_inteq(u.role, ROLE_USER);
	test_assert(u.pop3 && u.imap && u.submission && !u.disabled);
	test_assert_inteq(u.quota_bytes, 0);
	test_assert(u.created > 1600000000);
	test_assert_inteq(directory_user_get(d, "nobody@example.com", &u, &error), 0);
	test_assert_inteq(directory_user_get(d, "not an address", &u, &error), 0);
	test_assert_inteq(directory_user_get(d, "root@example.org", &u, &error), 1);
	test_assert_inteq(u.role, ROLE_ADMIN);

	/* update writes every field but created */
	test_assert_inteq(directory_user_get(d, "bob@example.com", &u, &error), 1);
	u.pop3 = false;
	u.imap = false;
	u.disabled = true;
	u.quota_bytes = 1ULL << 40;
	u.role = ROLE_ADMIN;
	u.created = 5;
	strcpy(u.password_hash, "$6$x$y");
	test_assert_inteq(directory_user_update(d, &u, &error), 0);
	memset(&u, 0, sizeof(u));
	test_assert_inteq(directory_user_get(d, "bob@example.com", &u, &error), 1);
	test_assert(!u.pop3 && !u.imap && u.submission && u.disabled);
	test_assert_inteq(u.quota_bytes, 1ULL << 40);
	test_assert_inteq(u.role, ROLE_ADMIN);
	test_assert(u.created != 5);
	test_assert_streq(u.password_hash, "$6$x$y");
	strcpy(u.address, "ghost@example.com");
	test_assert_inteq(directory_user_update(d, &u, &error), -1);
	test_assert(error != NULL && strstr(error, "no such user") != NULL);

	test_assert_inteq(directory_user_set_password(d, "Bob@example.com", HASH, &error), 0);
	test_assert_inteq(directory_user_get(d, "bob@example.com", &u, &error), 1);
	test_assert_streq(u.password_hash, HASH);
	test_assert_inteq(directory_user_set_password(d, "ghost@example.com", HASH, &error), -1);

	test_assert_inteq(directory_user_list(d, NULL, collect_user, list, &error), 0);
	test_assert_streq(list, "alice@example.com,bob@example.com,carol@example.org,root@example.org,");
	list[0] = '\0';
	test_assert_inteq(directory_user_list(d, "EXAMPLE.ORG", collect_user, list, &error), 0);
	test_assert_streq(list, "carol@example.org,root@example.org,");
	test_assert_inteq(directory_user_list(d, "example.net", collect_user, list, &error), -1);

	/* a domain with users cannot go */
	test_assert_inteq(directory_domain_del(d, "example.org", &error), -1);
	test_assert(error != NULL && strstr(error, "still has 2 users") != NULL);
	test_assert_inteq(directory_domain_is_local(d, "example.org", &error), 1);

	test_assert_inteq(directory_user_add(d, "temp@example.org", HASH, ROLE_USER, &error), 0);
	test_assert_inteq(directory_user_del(d, "TEMP@example.org", &error), 0);
	test_assert_inteq(directory_user_del(d, "temp@example.org", &error), -1);
	test_assert(error != NULL && strstr(error, "no such user") != NULL);
	test_end();
}

static void
test_aliases(struct directory *d)
{
	static char list[16384];
	const char *error = NULL;
	char addr[64];

	test_begin("directory: aliases");
	test_assert_inteq(directory_alias_add(d, "Info@example.com", "alice@example.com", &error), 0);
	test_assert_inteq(directory_alias_add(d, "team@example.com", "alice@example.com", &error), 0);
	test_assert_inteq(directory_alias_add(d, "team@example.com", "bob@example.com", &error), 0);
	test_assert_inteq(directory_alias_add(d, "team@example.com", "partner@remote.example", &error), 0);
	test_assert_inteq(directory_alias_add(d, "all@example.com", "team@example.com", &error), 0);
	test_assert_inteq(directory_alias_add(d, "all@example.com", "carol@example.org", &error), 0);
	test_assert_inteq(directory_alias_add(d, "all@example.com", "bob@example.com", &error), 0);
	test_assert_inteq(directory_alias_add(d, "deep@example.com", "all@example.com", &error), 0);
	test_assert_inteq(directory_alias_add(d, "dangling@example.com", "nobody@example.com", &error), 0);
	test_assert_inteq(directory_alias_add(d, "tagged@example.com", "carol+from-alias@example.org", &error), 0);
	/* an exact alias that looks like a tagged user address */
	test_assert_inteq(directory_alias_add(d, "bob+sales@example.com", "carol@example.org", &error), 0);
	test_assert_inteq(directory_alias_add(d, "team@example.com", "bob@example.com", &error), -1);
	test_assert(error != NULL && strstr(error, "already exists") != NULL);
	test_assert_inteq(directory_alias_add(d, "alice@example.com", "bob@example.com", &error), -1);
	test_assert(error != NULL && strstr(error, "is a user") != NULL);
	test_assert_inteq(directory_alias_add(d, "x@example.net", "bob@example.com", &error), -1);
	test_assert(error != NULL && strstr(error, "does not exist") != NULL);
	test_assert_inteq(directory_alias_add(d, "self@example.com", "self@example.com", &error), -1);
	test_assert_inteq(directory_alias_add(d, "x@example.com", "bad target", &error), -1);
	/* a user cannot take an alias's address */
	test_assert_inteq(directory_user_add(d, "info@example.com", HASH, ROLE_USER, &error), -1);
	test_assert(error != NULL && strstr(error, "is an alias") != NULL);
	/* the number of targets of one alias is bounded */
	for (int i = 0; i < DIRECTORY_ALIAS_TARGETS_MAX; i++) {
		snprintf(addr, sizeof(addr), "r%d@remote.example", i);
		test_assert_inteq(directory_alias_add(d, "big@example.com", addr, &error), 0);
	}
	test_assert_inteq(directory_alias_add(d, "big@example.com", "one-more@remote.example", &error), -1);
	test_assert(error != NULL && strstr(error, "most allowed") != NULL);

	test_assert_inteq(directory_alias_add(d, "tmp@example.com", "a@remote.example", &error), 0);
	test_assert_inteq(directory_alias_add(d, "tmp@example.com", "b@remote.example", &error), 0);
	test_assert_inteq(directory_alias_add(d, "tmp2@example.com", "b@remote.example", &error), 0);
	test_assert_inteq(directory_alias_del(d, "tmp@example.com", "a@remote.example", &error), 0);
	test_assert_inteq(directory_alias_del(d, "tmp@example.com", "a@remote.example", &error), -1);
	test_assert_inteq(directory_alias_del(d, "tmp@example.com", NULL, &error), 0);
	test_assert_inteq(directory_alias_del(d, "tmp@example.com", NULL, &error), -1);
	test_assert(error != NULL && strstr(error, "no such alias") != NULL);
	/* an alias keeps its domain alive */
	test_assert_inteq(directory_domain_add(d, "aliasonly.example", &error), 0);
	test_assert_inteq(directory_alias_add(d, "a@aliasonly.example", "b@remote.example", &error), 0);
	test_assert_inteq(directory_domain_del(d, "aliasonly.example", &error), -1);
	test_assert(error != NULL && strstr(error, "alias") != NULL);
	test_assert_inteq(directory_alias_del(d, "a@aliasonly.example", NULL, &error), 0);
	test_assert_inteq(directory_domain_del(d, "aliasonly.example", &error), 0);

	test_assert_inteq(directory_alias_list(d, collect_alias, list, &error), 0);
	test_assert(strstr(list, "info@example.com>alice@example.com,") != NULL);
	test_assert(strstr(list, "team@example.com>alice@example.com,team@example.com>bob@example.com,"
	                         "team@example.com>partner@remote.example,") != NULL);
	test_assert(strstr(list, "tmp2@example.com>b@remote.example,") != NULL);
	test_assert(strstr(list, "tmp@") == NULL);
	test_end();
}

static void
test_resolve(struct directory *d)
{
	const char *error = NULL;

	test_begin("directory: resolve recipients");
	test_assert_inteq(directory_resolve_rcpt(d, "Alice@EXAMPLE.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 1);
	test_assert_streq(res.local[0], "alice@example.com");
	test_assert_inteq(res.n_remote, 0);

	/* +tag */
	test_assert_inteq(directory_resolve_rcpt(d, "alice+news@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 1);
	test_assert_streq(res.local[0], "alice@example.com");
	test_assert_inteq(directory_resolve_rcpt(d, "team+x@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 2);
	/* the exact address wins over the one without +tag */
	test_assert_inteq(directory_resolve_rcpt(d, "bob+sales@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 1);
	test_assert_streq(res.local[0], "carol@example.org");
	test_assert_inteq(directory_resolve_rcpt(d, "bob+other@example.com", &res, &error), 0);
	test_assert_inteq(res.n_local, 1);
	test_assert_streq(res.local[0], "bob@example.com");
	test_assert_inteq(directory_resolve_rcpt(d, "nobody+x@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_UNKNOWN_USER);

	/* unknown */
	test_assert_inteq(directory_resolve_rcpt(d, "nobody@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_UNKNOWN_USER);
	test_assert_inteq(directory_resolve_rcpt(d, "\"quoted\"@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_UNKNOWN_USER);
	test_assert_inteq(directory_resolve_rcpt(d, "postmaster", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_UNKNOWN_USER);
	/* remote */
	test_assert_inteq(directory_resolve_rcpt(d, "someone@elsewhere.example", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_REMOTE);
	test_assert_inteq(directory_resolve_rcpt(d, "someone@[192.0.2.1]", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_REMOTE);

	/* alias fan-out: users and a remote address */
	test_assert_inteq(directory_resolve_rcpt(d, "TEAM@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 2);
	test_assert(res_has_local("alice@example.com"));
	test_assert(res_has_local("bob@example.com"));
	test_assert_inteq(res.n_remote, 1);
	test_assert(res_has_remote("partner@remote.example"));

	/* one level of nesting is followed, and duplicates are removed */
	test_assert_inteq(directory_resolve_rcpt(d, "all@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 3);
	test_assert(res_has_local("alice@example.com"));
	test_assert(res_has_local("bob@example.com"));
	test_assert(res_has_local("carol@example.org"));
	test_assert_inteq(res.n_remote, 1);

	/* two levels are not: deep -> all -> team stops at all's own targets */
	test_assert_inteq(directory_resolve_rcpt(d, "deep@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 2);
	test_assert(res_has_local("bob@example.com"));
	test_assert(res_has_local("carol@example.org"));
	test_assert(!res_has_local("alice@example.com"));
	test_assert_inteq(res.n_remote, 0);

	/* a dangling target delivers nowhere: unknown user */
	test_assert_inteq(directory_resolve_rcpt(d, "dangling@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_UNKNOWN_USER);
	/* a tagged target reaches its user */
	test_assert_inteq(directory_resolve_rcpt(d, "tagged@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 1);
	test_assert_streq(res.local[0], "carol@example.org");
	/* the bound */
	test_assert_inteq(directory_resolve_rcpt(d, "big@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_remote, DIRECTORY_ALIAS_TARGETS_MAX);
	test_assert_inteq(res.n_local, 0);
	test_end();
}

static void
test_sender(struct directory *d)
{
	const char *error = NULL;

	test_begin("directory: sender_allowed");
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "alice@example.com", &error), 1);
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "Alice@Example.COM", &error), 1);
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "alice+tag@example.com", &error), 1);
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "info@example.com", &error), 1);
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "team@example.com", &error), 1);
	test_assert_inteq(directory_sender_allowed(d, "bob@example.com", "team@example.com", &error), 1);
	test_assert_inteq(directory_sender_allowed(d, "bob@example.com", "info@example.com", &error), 0);
	test_assert_inteq(directory_sender_allowed(d, "bob@example.com", "alice@example.com", &error), 0);
	test_assert_inteq(directory_sender_allowed(d, "bob@example.com", "alice+bob@example.com", &error), 0);
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "x@elsewhere.example", &error), 0);
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "", &error), 0);
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "nobody@example.com", &error), 0);
	test_end();
}

static void
count_backend(const struct dir_backend *b, void *arg)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s=%s/%lld;", b->name, b->host, b->users);
}

/* Back ends (issue 11): names, hosts, a user's back end, deletion. */
static void
test_backends(struct directory *d)
{
	struct dir_backend b;
	struct dir_user u;
	const char *error = NULL;
	char list[256] = "";

	test_begin("directory: back ends");
	test_assert_inteq(directory_backend_add(d, "Mbox1", "192.0.2.11", &error), 0);
	test_assert_inteq(directory_backend_add(d, "mbox2", "Mbox2.Internal.Example", &error), 0);
	test_assert_inteq(directory_backend_add(d, "mbox3", "2001:db8::3", &error), 0);
	test_assert_inteq(directory_backend_add(d, "MBOX1", "192.0.2.12", &error), -1);
	test_assert(error != NULL && strstr(error, "already exists") != NULL);
	test_assert_inteq(directory_backend_add(d, "none", "192.0.2.1", &error), -1);
	test_assert_inteq(directory_backend_add(d, "-x", "192.0.2.1", &error), -1);
	test_assert_inteq(directory_backend_add(d, "a b", "192.0.2.1", &error), -1);
	test_assert_inteq(directory_backend_add(d, "x", "host:143", &error), -1);
	test_assert_inteq(directory_backend_add(d, "x", "", &error), -1);
	test_assert_inteq(directory_backend_get(d, "MBOX2", &b, &error), 1);
	test_assert_streq(b.name, "mbox2");
	test_assert_streq(b.host, "mbox2.internal.example");
	test_assert_inteq(directory_backend_get(d, "nope", &b, &error), 0);

	/* a new user is on no back end; one that names a missing one is refused */
	test_assert_inteq(directory_user_get(d, "bob@example.com", &u, &error), 1);
	test_assert_streq(u.backend, "");
	snprintf(u.backend, sizeof(u.backend), "%s", "nope");
	test_assert_inteq(directory_user_update(d, &u, &error), -1);
	test_assert(error != NULL && strstr(error, "no such back end") != NULL);
	snprintf(u.backend, sizeof(u.backend), "%s", "MBOX1");
	test_assert_inteq(directory_user_update(d, &u, &error), 0);
	test_assert_inteq(directory_user_get(d, "bob@example.com", &u, &error), 1);
	test_assert_streq(u.backend, "mbox1");
	test_assert_inteq(directory_backend_list(d, count_backend, list, &error), 0);
	test_assert_streq(list, "mbox1=192.0.2.11/1;mbox2=mbox2.internal.example/0;mbox3=2001:db8::3/0;");
	test_assert_inteq(directory_backend_del(d, "mbox1", &error), -1);
	test_assert(error != NULL && strstr(error, "still holds 1 user") != NULL);
	u.backend[0] = '\0';
	test_assert_inteq(directory_user_update(d, &u, &error), 0);
	test_assert_inteq(directory_user_get(d, "bob@example.com", &u, &error), 1);
	test_assert_streq(u.backend, "");
	test_assert_inteq(directory_backend_del(d, "mbox1", &error), 0);
	test_assert_inteq(directory_backend_del(d, "mbox1", &error), -1);
	test_assert(error != NULL && strstr(error, "no such back end") != NULL);
	test_end();
}

static void
test_postmaster(void)
{
	struct rcpt_resolution *pm = calloc(1, sizeof(*pm));
	struct directory *d = NULL;
	const char *error = NULL;
	char dir[300];

	test_begin("directory: postmaster falls back to admins, then the oldest user of the domain");
	snprintf(dir, sizeof(dir), "%s/pm", tmpdir);
	test_assert_inteq(directory_open(dir, &d, &error), 0);
	test_assert_inteq(directory_domain_add(d, "pm.example", &error), 0);
	test_assert_inteq(directory_domain_add(d, "other.example", &error), 0);
	/* No user at all: unknown, 550 is all that can be said. */
	test_assert_inteq(directory_resolve_rcpt(d, "postmaster@pm.example", pm, &error), 0);
	test_assert_inteq(pm->kind, RCPT_UNKNOWN_USER);
	test_assert_inteq(directory_user_add(d, "first@pm.example", "$y$x", ROLE_USER, &error), 0);
	test_assert_inteq(directory_user_add(d, "second@pm.example", "$y$x", ROLE_USER, &error), 0);
	test_assert_inteq(directory_resolve_rcpt(d, "Postmaster@PM.example", pm, &error), 0);
	test_assert_inteq(pm->kind, RCPT_LOCAL);
	test_assert_inteq(pm->n_local, 1);
	test_assert_streq(pm->local[0], "first@pm.example");
	test_assert_inteq(directory_user_add(d, "boss@other.example", "$y$x", ROLE_ADMIN, &error), 0);
	test_assert_inteq(directory_resolve_rcpt(d, "postmaster@pm.example", pm, &error), 0);
	test_assert_inteq(pm->n_local, 1);
	test_assert_streq(pm->local[0], "boss@other.example");
	/* An explicit alias wins. */
	test_assert_inteq(directory_alias_add(d, "postmaster@pm.example", "second@pm.example", &error), 0);
	test_assert_inteq(directory_resolve_rcpt(d, "postmaster@pm.example", pm, &error), 0);
	test_assert_inteq(pm->n_local, 1);
	test_assert_streq(pm->local[0], "second@pm.example");
	directory_close(&d);
	free(pm);
	test_end();
}

static void
test_persistence(void)
{
	struct directory *d = NULL;
	struct dir_user u;
	const char *error = NULL;
	char path[256];
	struct stat st;

	test_begin("directory: data survives close and reopen");
	test_assert_inteq(directory_open(datadir, &d, &error), 0);
	test_assert_inteq(directory_user_get(d, "bob@example.com", &u, &error), 1);
	test_assert(u.disabled);
	test_assert_inteq(u.quota_bytes, 1ULL << 40);
	test_assert_inteq(directory_domain_is_local(d, "example.org", &error), 1);
	test_assert_inteq(directory_resolve_rcpt(d, "team@example.com", &res, &error), 0);
	test_assert_inteq(res.n_local, 2);
	directory_close(&d);
	test_assert(d == NULL);
	directory_close(&d);
	snprintf(path, sizeof(path), "%s/directory.db", datadir);
	test_assert_inteq(stat(path, &st), 0);
	test_assert_inteq(stat(datadir, &st), 0);
	test_assert_inteq(st.st_mode & 0777, 0700);
	test_end();
}

static void
test_newer_schema(void)
{
	struct directory *d = NULL;
	const char *error = NULL;
	char dir2[256], cmd[600];

	test_begin("directory: a newer schema is refused");
	snprintf(dir2, sizeof(dir2), "%s/newer", tmpdir);
	test_assert_inteq(directory_open(dir2, &d, &error), 0);
	directory_close(&d);
	snprintf(cmd, sizeof(cmd), "sqlite3 %s/directory.db 'PRAGMA user_version = 99' 2>/dev/null", dir2);
	if (system(cmd) == 0) {
		test_assert_inteq(directory_open(dir2, &d, &error), -1);
		test_assert(error != NULL && strstr(error, "newer") != NULL);
	} else {
		printf("# sqlite3 shell not found: schema version check skipped\n");
	}
	snprintf(dir2, sizeof(dir2), "%s/a/file", tmpdir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/a && touch %s/a/file", tmpdir, tmpdir);
	test_assert_inteq(system(cmd), 0);
	test_assert_inteq(directory_open(dir2, &d, &error), -1);
	test_assert(error != NULL);
	test_end();
}

struct thread_arg {
	struct directory *first, *second;
	int found;
};

static void *
thread_main(void *p)
{
	struct thread_arg *a = p;
	struct dir_user u;
	const char *error;

	a->first = directory_for_thread(datadir);
	a->second = directory_for_thread(datadir);
	if (a->first != NULL)
		a->found = directory_user_get(a->first, "alice@example.com", &u, &error);
	return NULL;
}

static void
test_for_thread(void)
{
	struct thread_arg a = { 0 }, b = { 0 };
	pthread_t t1, t2;
	struct directory *mine;

	test_begin("directory: one handle per thread");
	mine = directory_for_thread(datadir);
	test_assert(mine != NULL);
	test_assert(directory_for_thread(datadir) == mine);
	pthread_create(&t1, NULL, thread_main, &a);
	pthread_join(t1, NULL);
	pthread_create(&t2, NULL, thread_main, &b);
	pthread_join(t2, NULL);
	test_assert(a.first != NULL && a.first == a.second);
	test_assert(b.first != NULL && b.first == b.second);
	test_assert(a.first != mine && b.first != mine);
	test_assert_inteq(a.found, 1);
	test_assert_inteq(b.found, 1);
	test_end();
}

/* The operations again on PostgreSQL (TERN_TEST_PG_DSN: an empty database). */
static void
test_on_pg(const char *dsn)
{
	struct directory *d = NULL;
	const char *error = NULL;

	printf("# the same operations on PostgreSQL\n");
	directory_configure(DIRECTORY_POSTGRESQL, dsn);
	test_begin("directory postgresql: open creates the schema");
	test_assert_inteq(directory_open(datadir, &d, &error), 0);
	test_end();
	if (d == NULL) {
		printf("# %s\n", error);
		return;
	}
	test_domains(d);
	test_users(d);
	test_aliases(d);
	test_resolve(d);
	test_sender(d);
	test_backends(d);
	directory_close(&d);
	directory_configure(DIRECTORY_SQLITE, NULL);
}

int
main(int argc, char **argv)
{
	struct directory *d = NULL;
	const char *error = NULL;
	char cmd[128];
	const char *dsn = test_pg_dsn(argv[0]);

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tern-test-dir-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	/* directory_open creates the data directory and its parents */
	snprintf(datadir, sizeof(datadir), "%s/data/dir", tmpdir);

	test_addr();
	test_begin("directory: open creates data_dir and the schema");
	test_assert_inteq(directory_open(datadir, &d, &error), 0);
	if (d == NULL) {
		printf("# %s\n", error);
		test_end();
		return test_done();
	}
	test_end();
	test_domains(d);
	test_users(d);
	test_aliases(d);
	test_resolve(d);
	test_sender(d);
	test_backends(d);
	directory_close(&d);
	test_postmaster();
	test_persistence();
	test_newer_schema();
	test_for_thread();
	if (dsn != NULL)
		test_on_pg(dsn);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return test_done();
}
