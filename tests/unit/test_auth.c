/* Tests for src/auth/auth.c against a real directory in a temp dir:
 * every auth_status, the input bounds, and login by full address in any
 * case. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/password.h"
#include "directory/directory.h"
#include "test.h"

static char tmpdir[64];
static struct directory *dir;

static enum auth_status
check(enum auth_protocol proto, const char *user, const char *pass, struct auth_result *r)
{
	struct auth_request req = { .proto = proto, .basic = BASIC_ON, .peer = "192.0.2.1",
	                            .username = user, .password = pass };

	auth_check_password(dir, &req, r);
	return r->status;
}

static void
add_user(const char *addr, const char *pw, enum user_role role)
{
	char hash[PASSWORD_HASH_MAX + 1];
	const char *error;

	if (password_hash(pw, hash, sizeof(hash)) != 0 || directory_user_add(dir, addr, hash, role, &error) != 0)
		printf("# cannot add %s\n", addr);
}

static void
set_user(const char *addr, int pop3, int imap, int submission, int disabled)
{
	struct dir_user u;
	const char *error;

	if (directory_user_get(dir, addr, &u, &error) != 1)
		return;
	u.pop3 = pop3;
	u.imap = imap;
	u.submission = submission;
	u.disabled = disabled;
	directory_user_update(dir, &u, &error);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_ok(void)
{
	struct auth_result r;

	test_begin("auth: right password on every protocol");
	test_assert_inteq(check(AUTH_PROTO_SMTP, "alice@example.com", "alice pw", &r), AUTH_OK);
	test_assert_streq(r.user, "alice@example.com");
	test_assert(r.reason != NULL);
	test_assert_inteq(check(AUTH_PROTO_POP3, "alice@example.com", "alice pw", &r), AUTH_OK);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice@example.com", "alice pw", &r), AUTH_OK);
	test_end();

	test_begin("auth: the full address in any case");
	test_assert_inteq(check(AUTH_PROTO_IMAP, "ALICE@Example.COM", "alice pw", &r), AUTH_OK);
	test_assert_streq(r.user, "alice@example.com");
	test_end();
}

static void
test_failed(void)
{
	static char long_user[AUTH_USER_MAX + 2], long_pass[AUTH_PASS_MAX + 2];
	struct auth_result r;
	double t0, t_unknown;

	test_begin("auth: wrong password, unknown user: one answer");
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice@example.com", "alice pW", &r), AUTH_FAILED);
	test_assert_streq(r.user, "");
	test_assert(r.reason != NULL);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice@example.com", "alice pw ", &r), AUTH_FAILED);
	t0 = now();
	test_assert_inteq(check(AUTH_PROTO_IMAP, "nobody@example.com", "alice pw", &r), AUTH_FAILED);
	t_unknown = now() - t0;
	test_assert_streq(r.user, "");
	/* The dummy verification runs: printed, not asserted (no timing tests). */
	printf("# unknown user took %.1f ms\n", t_unknown * 1e3);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "nobody@elsewhere.example", "x", &r), AUTH_FAILED);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "not an address@", "x", &r), AUTH_FAILED);
	test_end();

	test_begin("auth: anonymous, guest and bare names never succeed");
	test_assert_inteq(check(AUTH_PROTO_IMAP, "anonymous", "x@y", &r), AUTH_FAILED);
	test_assert_inteq(check(AUTH_PROTO_POP3, "Anonymous", "guest", &r), AUTH_FAILED);
	test_assert_inteq(check(AUTH_PROTO_SMTP, "guest", "guest", &r), AUTH_FAILED);
	test_assert_inteq(check(AUTH_PROTO_SMTP, "GUEST", "guest", &r), AUTH_FAILED);
	/* even when such a user exists in the directory */
	test_assert_inteq(check(AUTH_PROTO_IMAP, "anonymous@example.com", "anon pw", &r), AUTH_FAILED);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "guest@example.com", "guest pw", &r), AUTH_FAILED);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice", "alice pw", &r), AUTH_FAILED);
	test_end();

	test_begin("auth: empty and over-long input");
	test_assert_inteq(check(AUTH_PROTO_IMAP, "", "alice pw", &r), AUTH_FAILED);
	test_assert_inteq(check(AUTH_PROTO_IMAP, NULL, "alice pw", &r), AUTH_FAILED);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice@example.com", "", &r), AUTH_FAILED);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice@example.com", NULL, &r), AUTH_FAILED);
	memset(long_user, 'a', AUTH_USER_MAX + 1);
	long_user[AUTH_USER_MAX - 12] = '@';
	test_assert_inteq(check(AUTH_PROTO_IMAP, long_user, "alice pw", &r), AUTH_FAILED);
	memset(long_pass, 'p', AUTH_PASS_MAX + 1);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice@example.com", long_pass, &r), AUTH_FAILED);
	long_pass[AUTH_PASS_MAX] = '\0';
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice@example.com", long_pass, &r), AUTH_FAILED);
	long_pass[PASSWORD_LEN_MAX + 1] = '\0';
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice@example.com", long_pass, &r), AUTH_FAILED);
	test_end();

	test_begin("auth: an unsupported stored hash never matches");
	test_assert_inteq(check(AUTH_PROTO_IMAP, "md5@example.com", "x", &r), AUTH_FAILED);
	test_end();
}

static void
test_policy(void)
{
	struct auth_result r;

	test_begin("auth: disabled account");
	test_assert_inteq(check(AUTH_PROTO_IMAP, "dis@example.com", "dis pw", &r), AUTH_ACCOUNT_DISABLED);
	test_assert_inteq(check(AUTH_PROTO_SMTP, "dis@example.com", "dis pw", &r), AUTH_ACCOUNT_DISABLED);
	/* a wrong password tells nothing about the account */
	test_assert_inteq(check(AUTH_PROTO_IMAP, "dis@example.com", "wrong", &r), AUTH_FAILED);
	test_end();

	test_begin("auth: administrators are refused on POP3 and IMAP");
	test_assert_inteq(check(AUTH_PROTO_IMAP, "root@example.com", "root pw", &r), AUTH_ADMIN_REFUSED);
	test_assert_inteq(check(AUTH_PROTO_POP3, "root@example.com", "root pw", &r), AUTH_ADMIN_REFUSED);
	test_assert_inteq(check(AUTH_PROTO_SMTP, "root@example.com", "root pw", &r), AUTH_OK);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "root@example.com", "wrong", &r), AUTH_FAILED);
	test_end();

	test_begin("auth: per-protocol switches");
	test_assert_inteq(check(AUTH_PROTO_POP3, "nopop@example.com", "np pw", &r), AUTH_PROTOCOL_DISABLED);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "nopop@example.com", "np pw", &r), AUTH_OK);
	test_assert_inteq(check(AUTH_PROTO_SMTP, "nopop@example.com", "np pw", &r), AUTH_OK);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "nosub@example.com", "ns pw", &r), AUTH_PROTOCOL_DISABLED);
	test_assert_inteq(check(AUTH_PROTO_SMTP, "nosub@example.com", "ns pw", &r), AUTH_PROTOCOL_DISABLED);
	test_assert_inteq(check(AUTH_PROTO_POP3, "nosub@example.com", "ns pw", &r), AUTH_OK);
	test_assert_inteq(check(AUTH_PROTO_POP3, "nopop@example.com", "wrong", &r), AUTH_FAILED);
	test_end();

	test_begin("auth: the settings page (AUTH_PROTO_WEB) has no protocol switch");
	test_assert_inteq(check(AUTH_PROTO_WEB, "nosub@example.com", "ns pw", &r), AUTH_OK);
	test_assert_inteq(check(AUTH_PROTO_WEB, "nopop@example.com", "np pw", &r), AUTH_OK);
	test_assert_inteq(check(AUTH_PROTO_WEB, "root@example.com", "root pw", &r), AUTH_OK);
	test_assert_inteq(check(AUTH_PROTO_WEB, "dis@example.com", "dis pw", &r), AUTH_ACCOUNT_DISABLED);
	test_assert_inteq(check(AUTH_PROTO_WEB, "alice@example.com", "wrong", &r), AUTH_FAILED);
	test_end();
}

static void
test_tempfail(void)
{
	struct auth_result r;
	char path[128];
	sqlite3 *db;

	test_begin("auth: directory failure is a temporary failure");
	/* Break the directory under the handle: the users table goes away. */
	snprintf(path, sizeof(path), "%s/directory.db", tmpdir);
	test_assert_inteq(sqlite3_open(path, &db), SQLITE_OK);
	test_assert_inteq(sqlite3_exec(db, "ALTER TABLE users RENAME TO users_gone", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	test_assert_inteq(check(AUTH_PROTO_IMAP, "alice@example.com", "alice pw", &r), AUTH_TEMPFAIL);
	test_assert(r.reason != NULL);
	test_end();
}

int
main(void)
{
	const char *error;
	char cmd[128];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tern-test-auth-XXXXXX");
	if (mkdtemp(tmpdir) == NULL || directory_open(tmpdir, &dir, &error) != 0)
		return 1;
	directory_domain_add(dir, "example.com", &error);
	add_user("alice@example.com", "alice pw", ROLE_USER);
	add_user("anonymous@example.com", "anon pw", ROLE_USER);
	add_user("guest@example.com", "guest pw", ROLE_USER);
	add_user("dis@example.com", "dis pw", ROLE_USER);
	add_user("root@example.com", "root pw", ROLE_ADMIN);
	add_user("nopop@example.com", "np pw", ROLE_USER);
	add_user("nosub@example.com", "ns pw", ROLE_USER);
	directory_user_add(dir, "md5@example.com", "$1$abcdefgh$0123456789abcdefghijkl", ROLE_USER, &error);
	set_user("dis@example.com", 1, 1, 1, 1);
	set_user("nopop@example.com", 0, 1, 1, 0);
	set_user("nosub@example.com", 1, 0, 0, 0);

	test_begin("auth: protocol names");
	test_assert_streq(auth_protocol_name(AUTH_PROTO_SMTP), "smtp");
	test_assert_streq(auth_protocol_name(AUTH_PROTO_POP3), "pop3");
	test_assert_streq(auth_protocol_name(AUTH_PROTO_IMAP), "imap");
	test_end();
	test_ok();
	test_failed();
	test_policy();
	test_tempfail();

	directory_close(&dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return test_done();
}
