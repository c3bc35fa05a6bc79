/* Tests for app passwords and the per-user reject_mail switch
 * (src/directory/directory_apppw.c, schema version 2 in directory.c): real
 * SQLite files in a mkdtemp() directory, real yescrypt hashes. */
#include <crypt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/password.h"
#include "directory/directory.h"
#include "directory/directory_private.h"
#include "test.h"

static char tmpdir[64];
static struct rcpt_resolution res;   /* ~40 KiB: off the stack */

/* The version-1 schema exactly as tern 0.1 wrote it (directory.c before
 * schema version 2), to build an old database to upgrade. */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS domains ("
	"  name TEXT PRIMARY KEY NOT NULL"
	");"
	"CREATE TABLE IF NOT EXISTS users ("
	"  address TEXT PRIMARY KEY NOT NULL,"
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  password_hash TEXT NOT NULL,"
	"  role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),"
	"  pop3 INTEGER NOT NULL DEFAULT 1,"
	"  imap INTEGER NOT NULL DEFAULT 1,"
	"  submission INTEGER NOT NULL DEFAULT 1,"
	"  disabled INTEGER NOT NULL DEFAULT 0,"
	"  quota_bytes INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE INDEX IF NOT EXISTS users_domain ON users(domain);"
	"CREATE TABLE IF NOT EXISTS aliases ("
	"  alias TEXT NOT NULL,"
	"  target TEXT NOT NULL,"
	"  domain TEXT NOT NULL REFERENCES domains(name),"
	"  PRIMARY KEY (alias, target)"
	");"
	"CREATE INDEX IF NOT EXISTS aliases_domain ON aliases(domain);";

static const char OLD_HASH[] = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$/5A2b1gNjtSB9rIj0DPEmxAWSWkwMbr9wz2/wJ/mEV6";

/* A cheap hash (SHA512-CRYPT at its fewest rounds) of password, for the
 * decoys of the limit test: 32 yescrypt hashes would be slow under ASan. */
static void
cheap_hash(const char *password, int salt, char *out, size_t outsize)
{
	struct crypt_data data;
	char setting[64];

	snprintf(setting, sizeof(setting), "$6$rounds=1000$salt%d$", salt);
	memset(&data, 0, sizeof(data));
	snprintf(out, outsize, "%s", crypt_r(password, setting, &data));
}

static void
mkdata(const char *name, char *out, size_t outsize)
{
	snprintf(out, outsize, "%s/%s", tmpdir, name);
}

/* A directory with example.com and alice, bob. */
static struct directory *
open_fresh(const char *name)
{
	struct directory *d = NULL;
	const char *error = NULL;
	char dir[256];

	mkdata(name, dir, sizeof(dir));
	if (directory_open(dir, &d, &error) != 0) {
		printf("# open %s: %s\n", dir, error);
		return NULL;
	}
	if (directory_domain_add(d, "example.com", &error) != 0 ||
	    directory_user_add(d, "alice@example.com", OLD_HASH, ROLE_USER, &error) != 0 ||
	    directory_user_add(d, "bob@example.com", OLD_HASH, ROLE_USER, &error) != 0) {
		printf("# setup: %s\n", error);
		directory_close(&d);
	}
	return d;
}

static bool
is_lower_letters(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 'a' || s[i] > 'z')
			return false;
	}
	return true;
}

static void
test_generate(void)
{
	char shown[DIRECTORY_APP_PASSWORD_SHOWN_LEN + 1], other[sizeof(shown)], norm[DIRECTORY_APP_PASSWORD_LEN + 1];
	char small[DIRECTORY_APP_PASSWORD_SHOWN_LEN];
	int seen[26] = { 0 }, distinct = 0;

	test_begin("apppw: generated form and normalisation");
	test_assert_inteq(DIRECTORY_APP_PASSWORD_SHOWN_LEN, 19);
	test_assert_inteq(directory_app_password_generate(shown, sizeof(shown)), 0);
	test_assert_inteq(strlen(shown), 19);
	test_assert(shown[4] == ' ' && shown[9] == ' ' && shown[14] == ' ');
	test_assert(is_lower_letters(shown, 4) && is_lower_letters(shown + 5, 4) && is_lower_letters(shown + 10, 4) &&
	            is_lower_letters(shown + 15, 4));
	test_assert_inteq(directory_app_password_generate(other, sizeof(other)), 0);
	test_assert(strcmp(shown, other) != 0);
	test_assert_inteq(directory_app_password_generate(small, sizeof(small)), -1);
	/* every letter can come out */
	for (int i = 0; i < 200; i++) {
		test_assert_inteq(directory_app_password_generate(other, sizeof(other)), 0);
		for (const char *p = other; *p != '\0'; p++) {
			if (*p != ' ' && !seen[*p - 'a']++)
				distinct++;
		}
	}
	test_assert_inteq(distinct, 26);

	test_assert_inteq(directory_app_password_normalise(shown, norm, sizeof(norm)), 0);
	test_assert_inteq(strlen(norm), 16);
	test_assert(memcmp(norm, shown, 4) == 0 && memcmp(norm + 12, shown + 15, 4) == 0);
	test_assert_inteq(directory_app_password_normalise("ABCD efgh IjKl mnop", norm, sizeof(norm)), 0);
	test_assert_streq(norm, "abcdefghijklmnop");
	test_assert_inteq(directory_app_password_normalise("abcdefghijklmnop", norm, sizeof(norm)), 0);
	test_assert_inteq(directory_app_password_normalise("  abcdefgh  ijklmnop ", norm, sizeof(norm)), 0);
	test_assert_streq(norm, "abcdefghijklmnop");
	test_assert_inteq(directory_app_password_normalise("abcd-efgh-ijkl-mnop", norm, sizeof(norm)), -1);
	test_assert_inteq(directory_app_password_normalise("abcdefghijklmno", norm, sizeof(norm)), -1);
	test_assert_inteq(directory_app_password_normalise("abcdefghijklmnopq", norm, sizeof(norm)), -1);
	test_assert_inteq(directory_app_password_normalise("abcdefghijklmno1", norm, sizeof(norm)), -1);
	test_assert_inteq(directory_app_password_normalise("abcdefghijklmno\xc3\xa9", norm, sizeof(norm)), -1);
	test_assert_inteq(directory_app_password_normalise("", norm, sizeof(norm)), -1);
	test_assert_inteq(directory_app_password_normalise(NULL, norm, sizeof(norm)), -1);
	test_assert_inteq(directory_app_password_normalise("abcdefghijklmnop", norm, 16), -1);
	test_end();

	test_begin("apppw: names");
	test_assert(directory_app_password_name_valid("iPhone"));
	test_assert(directory_app_password_name_valid("thunderbird-2.work_laptop"));
	test_assert(directory_app_password_name_valid("0"));
	test_assert(directory_app_password_name_valid("abcdefghijklmnopqrstuvwxyz012345"));   /* 32 */
	test_assert(!directory_app_password_name_valid("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
	test_assert(!directory_app_password_name_valid(""));
	test_assert(!directory_app_password_name_valid("-x"));
	test_assert(!directory_app_password_name_valid(".x"));
	test_assert(!directory_app_password_name_valid("my phone"));
	test_assert(!directory_app_password_name_valid("a/b"));
	test_assert(!directory_app_password_name_valid("caf\xc3\xa9"));
	test_assert(!directory_app_password_name_valid("a\nb"));
	test_end();
}

struct listed {
	char names[1024];
	int n;
	struct dir_app_password last;
};

static void
collect(const struct dir_app_password *p, void *arg)
{
	struct listed *l = arg;

	strcat(l->names, p->name);
	strcat(l->names, ",");
	l->n++;
	l->last = *p;
}

static int
list(struct directory *d, const char *address, struct listed *l)
{
	const char *error;

	memset(l, 0, sizeof(*l));
	return directory_app_password_list(d, address, collect, l, &error);
}

static void
test_add_list_revoke(void)
{
	struct directory *d = open_fresh("alr");
	const char *error = NULL;
	char hash[PASSWORD_HASH_MAX + 1], name[16];
	struct listed l;
	time_t before = time(NULL);

	test_begin("apppw: add, list, revoke");
	test_assert(d != NULL);
	if (d == NULL) {
		test_end();
		return;
	}
	cheap_hash("abcdefghijklmnop", 1, hash, sizeof(hash));
	test_assert_inteq(directory_app_password_add(d, "Alice@Example.com", "phone", hash, DIR_PROTO_IMAP, &error), 0);
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "laptop", hash, DIR_PROTO_ALL, &error), 0);
	test_assert_inteq(list(d, "alice@example.com", &l), 0);
	test_assert_streq(l.names, "phone,laptop,");
	test_assert_streq(l.last.name, "laptop");
	test_assert_streq(l.last.hash, hash);
	test_assert_inteq(l.last.protocols, DIR_PROTO_ALL);
	test_assert(l.last.created >= before && l.last.created <= time(NULL));
	test_assert_inteq(l.last.last_used, 0);
	test_assert_streq(l.last.last_addr, "");
	test_assert_inteq(directory_app_password_count(d, "ALICE@example.com", &error), 2);
	test_assert_inteq(directory_app_password_count(d, "bob@example.com", &error), 0);
	test_assert_inteq(directory_app_password_count(d, "nobody@example.com", &error), 0);
	test_assert_inteq(list(d, "bob@example.com", &l), 0);
	test_assert_inteq(l.n, 0);

	/* names: unique per user whatever the case; another user may reuse one */
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "PHONE", hash, DIR_PROTO_POP3, &error), -1);
	test_assert(error != NULL && strstr(error, "already has an app password") != NULL);
	test_assert_inteq(directory_app_password_add(d, "bob@example.com", "phone", hash, DIR_PROTO_POP3, &error), 0);
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "my phone", hash, 1, &error), -1);
	test_assert(error != NULL && strstr(error, "invalid app password name") != NULL);
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "", hash, 1, &error), -1);

	/* protocols, hash, user */
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "x", hash, 0, &error), -1);
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "x", hash, 8, &error), -1);
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "x", "", 1, &error), -1);
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "x", "has space", 1, &error), -1);
	test_assert_inteq(directory_app_password_add(d, "nobody@example.com", "x", hash, 1, &error), -1);
	test_assert(error != NULL && strstr(error, "no such user") != NULL);
	test_assert_inteq(directory_app_password_add(d, "not an address", "x", hash, 1, &error), -1);
	test_assert(error != NULL && strstr(error, "invalid address") != NULL);
	test_assert_inteq(list(d, "nobody@example.com", &l), -1);
	test_assert_inteq(directory_app_password_count(d, "alice@example.com", &error), 2);

	/* revoke: by name in any case; the other stays, other users untouched */
	test_assert_inteq(directory_app_password_revoke(d, "alice@example.com", "Phone", &error), 0);
	test_assert_inteq(list(d, "alice@example.com", &l), 0);
	test_assert_streq(l.names, "laptop,");
	test_assert_inteq(directory_app_password_revoke(d, "alice@example.com", "phone", &error), -1);
	test_assert(error != NULL && strstr(error, "no app password called") != NULL);
	test_assert_inteq(directory_app_password_revoke(d, "nobody@example.com", "phone", &error), -1);
	test_assert(error != NULL && strstr(error, "no such user") != NULL);
	test_assert_inteq(list(d, "bob@example.com", &l), 0);
	test_assert_streq(l.names, "phone,");
	test_end();

	test_begin("apppw: at most 32 per user");
	for (int i = 1; i < DIRECTORY_APP_PASSWORDS_MAX; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		test_assert_inteq(directory_app_password_add(d, "alice@example.com", name, hash, DIR_PROTO_ALL, &error),
		                  0);
	}
	test_assert_inteq(directory_app_password_count(d, "alice@example.com", &error), DIRECTORY_APP_PASSWORDS_MAX);
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "onemore", hash, DIR_PROTO_ALL, &error),
	                  -1);
	test_assert(error != NULL && strstr(error, "the most allowed") != NULL);
	/* the limit is per user */
	test_assert_inteq(directory_app_password_add(d, "bob@example.com", "onemore", hash, DIR_PROTO_ALL, &error), 0);
	test_assert_inteq(directory_app_password_revoke(d, "alice@example.com", "n7", &error), 0);
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "onemore", hash, DIR_PROTO_ALL, &error),
	                  0);
	test_end();

	test_begin("apppw: deleting a user deletes its app passwords");
	test_assert_inteq(directory_user_del(d, "alice@example.com", &error), 0);
	test_assert_inteq(directory_app_password_count(d, "alice@example.com", &error), 0);
	test_assert_inteq(directory_user_add(d, "alice@example.com", OLD_HASH, ROLE_USER, &error), 0);
	test_assert_inteq(list(d, "alice@example.com", &l), 0);
	test_assert_inteq(l.n, 0);
	test_assert_inteq(directory_app_password_count(d, "bob@example.com", &error), 2);
	test_end();
	directory_close(&d);
}

static void
test_check(void)
{
	struct directory *d = open_fresh("check");
	const char *error = NULL;
	char shown[DIRECTORY_APP_PASSWORD_SHOWN_LEN + 1], plain[DIRECTORY_APP_PASSWORD_LEN + 1];
	char hash[PASSWORD_HASH_MAX + 1], name[DIRECTORY_APP_PASSWORD_NAME_MAX + 1], tiny[3];
	char cheap[PASSWORD_HASH_MAX + 1], decoy[32];
	struct listed l;
	time_t before;

	test_begin("apppw: check, protocol bits, last use");
	test_assert(d != NULL);
	if (d == NULL) {
		test_end();
		return;
	}
	test_assert_inteq(directory_app_password_generate(shown, sizeof(shown)), 0);
	test_assert_inteq(directory_app_password_normalise(shown, plain, sizeof(plain)), 0);
	test_assert_inteq(password_hash(plain, hash, sizeof(hash)), 0);
	test_assert_inteq(directory_app_password_add(d, "alice@example.com", "mua", hash,
	                                             DIR_PROTO_IMAP | DIR_PROTO_SMTP, &error),
	                  0);

	/* the shown form, the bare form, upper case: all the same password */
	before = time(NULL);
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, DIR_PROTO_IMAP, "192.0.2.7", name,
	                                               sizeof(name), &error),
	                  1);
	test_assert_streq(name, "mua");
	test_assert_inteq(list(d, "alice@example.com", &l), 0);
	test_assert(l.last.last_used >= before && l.last.last_used <= time(NULL));
	test_assert_streq(l.last.last_addr, "192.0.2.7");
	for (char *p = plain; *p != '\0'; p++)
		*p = (char)(*p - 'a' + 'A');
	test_assert_inteq(directory_app_password_check(d, "ALICE@example.com", plain, DIR_PROTO_SMTP, "2001:db8::1",
	                                               name, sizeof(name), &error),
	                  1);
	test_assert_inteq(list(d, "alice@example.com", &l), 0);
	test_assert_streq(l.last.last_addr, "2001:db8::1");
	/* a peer that is not an IP address is not stored; NULL name_out */
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, DIR_PROTO_IMAP,
	                                               "bad'addr; DROP TABLE users", NULL, 0, &error),
	                  1);
	test_assert_inteq(list(d, "alice@example.com", &l), 0);
	test_assert_streq(l.last.last_addr, "");
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, DIR_PROTO_IMAP, NULL, tiny,
	                                               sizeof(tiny), &error),
	                  1);
	test_assert_streq(tiny, "mu");

	/* not for POP3; not for another user; not a wrong password */
	strcpy(name, "unchanged");
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, DIR_PROTO_POP3, "192.0.2.8", name,
	                                               sizeof(name), &error),
	                  0);
	test_assert_streq(name, "");
	test_assert_inteq(directory_app_password_check(d, "bob@example.com", shown, DIR_PROTO_IMAP, "192.0.2.8", name,
	                                               sizeof(name), &error),
	                  0);
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", "aaaa bbbb cccc dddd", DIR_PROTO_IMAP,
	                                               "192.0.2.8", name, sizeof(name), &error),
	                  0);
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", "correct horse battery", DIR_PROTO_IMAP,
	                                               "192.0.2.8", name, sizeof(name), &error),
	                  0);
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", "", DIR_PROTO_IMAP, NULL, name,
	                                               sizeof(name), &error),
	                  0);
	test_assert_inteq(directory_app_password_check(d, "nobody@example.com", shown, DIR_PROTO_IMAP, NULL, name,
	                                               sizeof(name), &error),
	                  0);
	test_assert_inteq(directory_app_password_check(d, "not an address", shown, DIR_PROTO_IMAP, NULL, name,
	                                               sizeof(name), &error),
	                  0);
	/* failures record nothing */
	test_assert_inteq(list(d, "alice@example.com", &l), 0);
	test_assert_streq(l.last.last_addr, "");
	/* a set of bits: valid for any of them (the settings page asks for
	 * DIR_PROTO_ALL); an empty set or unknown bits are a caller's bug */
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, DIR_PROTO_ALL, NULL, name,
	                                               sizeof(name), &error),
	                  1);
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, DIR_PROTO_POP3 | DIR_PROTO_SMTP,
	                                               NULL, name, sizeof(name), &error),
	                  1);
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, 0, NULL, name, sizeof(name),
	                                               &error),
	                  -1);
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, 8, NULL, name, sizeof(name),
	                                               &error),
	                  -1);

	/* revoked: no longer works */
	test_assert_inteq(directory_app_password_revoke(d, "alice@example.com", "MUA", &error), 0);
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, DIR_PROTO_IMAP, NULL, name,
	                                               sizeof(name), &error),
	                  0);
	test_end();

	test_begin("apppw: check finds the right one among the most allowed");
	for (int i = 0; i < DIRECTORY_APP_PASSWORDS_MAX; i++) {
		snprintf(decoy, sizeof(decoy), "%016d", i);
		for (char *p = decoy; *p != '\0'; p++)
			*p = (char)('a' + (*p - '0'));
		cheap_hash(i == DIRECTORY_APP_PASSWORDS_MAX - 1 ? "qrstqrstqrstqrst" : decoy, i, cheap, sizeof(cheap));
		snprintf(name, sizeof(name), "k%02d", i);
		test_assert_inteq(directory_app_password_add(d, "bob@example.com", name, cheap,
		                                             i % 2 == 0 ? DIR_PROTO_POP3 : DIR_PROTO_ALL, &error),
		                  0);
	}
	test_assert_inteq(directory_app_password_check(d, "bob@example.com", "qrst qrst qrst qrst", DIR_PROTO_POP3,
	                                               "198.51.100.1", name, sizeof(name), &error),
	                  1);
	test_assert_streq(name, "k31");
	test_assert_inteq(directory_app_password_check(d, "bob@example.com", "aaaaaaaaaaaaaaac", DIR_PROTO_POP3,
	                                               NULL, name, sizeof(name), &error),
	                  1);
	test_assert_streq(name, "k02");
	/* k02 is POP3 only */
	test_assert_inteq(directory_app_password_check(d, "bob@example.com", "aaaaaaaaaaaaaaac", DIR_PROTO_IMAP,
	                                               NULL, name, sizeof(name), &error),
	                  0);
	test_assert_inteq(directory_app_password_check(d, "bob@example.com", "aaaaaaaaaaaaaaad", DIR_PROTO_IMAP,
	                                               NULL, name, sizeof(name), &error),
	                  1);
	test_assert_streq(name, "k03");
	test_end();
	directory_close(&d);
}

static void
test_reject_mail(void)
{
	struct directory *d = open_fresh("reject");
	const char *error = NULL;
	struct dir_user u;

	test_begin("apppw: reject_mail switch and recipient resolution");
	test_assert(d != NULL);
	if (d == NULL) {
		test_end();
		return;
	}
	test_assert_inteq(directory_user_add(d, "carol@example.com", OLD_HASH, ROLE_USER, &error), 0);
	test_assert_inteq(directory_alias_add(d, "team@example.com", "alice@example.com", &error), 0);
	test_assert_inteq(directory_alias_add(d, "team@example.com", "bob@example.com", &error), 0);
	test_assert_inteq(directory_alias_add(d, "solo@example.com", "alice@example.com", &error), 0);
	test_assert_inteq(directory_user_get(d, "alice@example.com", &u, &error), 1);
	test_assert(!u.reject_mail);

	/* disabled alone still receives */
	u.disabled = true;
	test_assert_inteq(directory_user_update(d, &u, &error), 0);
	test_assert_inteq(directory_resolve_rcpt(d, "alice@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert(!res.rejected);

	u.reject_mail = true;
	test_assert_inteq(directory_user_update(d, &u, &error), 0);
	memset(&u, 0, sizeof(u));
	test_assert_inteq(directory_user_get(d, "alice@example.com", &u, &error), 1);
	test_assert(u.reject_mail && u.disabled);

	test_assert_inteq(directory_resolve_rcpt(d, "Alice@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_UNKNOWN_USER);
	test_assert(res.rejected);
	test_assert_inteq(res.n_local, 0);
	test_assert_inteq(directory_resolve_rcpt(d, "alice+tag@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_UNKNOWN_USER);
	test_assert(res.rejected);
	/* an alias delivers to the others; one with nobody else is rejected */
	test_assert_inteq(directory_resolve_rcpt(d, "team@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert(!res.rejected);
	test_assert_inteq(res.n_local, 1);
	test_assert_streq(res.local[0], "bob@example.com");
	test_assert_inteq(directory_resolve_rcpt(d, "solo@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_UNKNOWN_USER);
	test_assert(res.rejected);
	/* unknown is not "rejected" */
	test_assert_inteq(directory_resolve_rcpt(d, "ghost@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_UNKNOWN_USER);
	test_assert(!res.rejected);
	test_assert_inteq(directory_resolve_rcpt(d, "x@remote.example", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_REMOTE);
	test_assert(!res.rejected);
	/* a user refusing mail may still send as itself and its aliases */
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "alice@example.com", &error), 1);
	test_assert_inteq(directory_sender_allowed(d, "alice@example.com", "solo@example.com", &error), 1);
	test_assert_inteq(directory_sender_allowed(d, "bob@example.com", "alice@example.com", &error), 0);
	/* postmaster falls back past users refusing mail: alice is the
	 * oldest user of the domain, so bob gets it */
	test_assert_inteq(directory_resolve_rcpt(d, "postmaster@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 1);
	test_assert_streq(res.local[0], "bob@example.com");

	/* and back on */
	u.reject_mail = false;
	test_assert_inteq(directory_user_update(d, &u, &error), 0);
	test_assert_inteq(directory_resolve_rcpt(d, "alice@example.com", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert(!res.rejected);
	test_end();
	directory_close(&d);
}

/* Builds a version-1 database in data_dir/directory.db with the old schema
 * text and some data.  extra_sql runs after it (NULL for none). */
static int
make_v1(const char *data_dir, const char *extra_sql)
{
	char path[300], cmd[400];
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd), "mkdir -p %s", data_dir);
	if (system(cmd) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/directory.db", data_dir);
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	rc = sqlite3_exec(db,
	                  "PRAGMA journal_mode=WAL; BEGIN;"
	                  "PRAGMA user_version = 1;",
	                  NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, schema_v1, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db,
		                  "INSERT INTO domains VALUES ('old.example');"
		                  "INSERT INTO users(address, domain, password_hash, role, pop3, disabled, quota_bytes, "
		                  "  created) VALUES ('dave@old.example', 'old.example', "
		                  "  '$y$j9T$F5Jx5fExrKuPp53xLKQ..1$/5A2b1gNjtSB9rIj0DPEmxAWSWkwMbr9wz2/wJ/mEV6', "
		                  "  'admin', 0, 1, 1048576, 1500000000);"
		                  "INSERT INTO users(address, domain, password_hash, created) "
		                  "  VALUES ('erin@old.example', 'old.example', '$6$x$y', 1500000001);"
		                  "INSERT INTO aliases VALUES ('all@old.example', 'dave@old.example', 'old.example');"
		                  "INSERT INTO aliases VALUES ('all@old.example', 'erin@old.example', 'old.example');",
		                  NULL, NULL, &msg);
	if (rc == SQLITE_OK && extra_sql != NULL)
		rc = sqlite3_exec(db, extra_sql, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		printf("# make_v1: %s\n", msg != NULL ? msg : "?");
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc == SQLITE_OK ? 0 : -1;
}

/* PRAGMA user_version of data_dir/directory.db, read with SQLite alone. */
static int
file_version(const char *data_dir)
{
	char path[300];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;

	snprintf(path, sizeof(path), "%s/directory.db", data_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
test_migration(void)
{
	struct directory *d = NULL;
	const char *error = NULL;
	char dir[256], hash[PASSWORD_HASH_MAX + 1];
	struct dir_user u;
	struct listed l;

	test_begin("apppw: a version-1 database is upgraded and keeps its data");
	mkdata("v1", dir, sizeof(dir));
	test_assert_inteq(make_v1(dir, NULL), 0);
	test_assert_inteq(file_version(dir), 1);
	test_assert_inteq(directory_open(dir, &d, &error), 0);
	if (d == NULL) {
		printf("# %s\n", error);
		test_end();
		return;
	}
	test_assert_inteq(file_version(dir), DIRECTORY_SCHEMA_VERSION);
	test_assert_inteq(directory_user_get(d, "dave@old.example", &u, &error), 1);
	test_assert_streq(u.password_hash, OLD_HASH);
	test_assert_inteq(u.role, ROLE_ADMIN);
	test_assert(!u.pop3 && u.imap && u.submission && u.disabled && !u.reject_mail);
	test_assert_inteq(u.quota_bytes, 1048576);
	test_assert_inteq(u.created, 1500000000);
	test_assert_inteq(directory_resolve_rcpt(d, "all@old.example", &res, &error), 0);
	test_assert_inteq(res.kind, RCPT_LOCAL);
	test_assert_inteq(res.n_local, 2);
	/* the new parts work on the upgraded file */
	cheap_hash("abcdefghijklmnop", 9, hash, sizeof(hash));
	test_assert_inteq(directory_app_password_add(d, "erin@old.example", "phone", hash, DIR_PROTO_ALL, &error), 0);
	test_assert_inteq(directory_app_password_check(d, "erin@old.example", "abcd efgh ijkl mnop", DIR_PROTO_POP3,
	                                               "127.0.0.1", NULL, 0, &error),
	                  1);
	u.reject_mail = true;
	test_assert_inteq(directory_user_update(d, &u, &error), 0);
	test_assert_inteq(directory_resolve_rcpt(d, "dave@old.example", &res, &error), 0);
	test_assert(res.kind == RCPT_UNKNOWN_USER && res.rejected);
	test_assert_inteq(directory_user_del(d, "erin@old.example", &error), 0);
	test_assert_inteq(directory_app_password_count(d, "erin@old.example", &error), 0);
	directory_close(&d);
	/* opening again changes nothing */
	test_assert_inteq(directory_open(dir, &d, &error), 0);
	test_assert_inteq(file_version(dir), DIRECTORY_SCHEMA_VERSION);
	test_assert_inteq(directory_user_get(d, "dave@old.example", &u, &error), 1);
	test_assert(u.reject_mail);
	test_assert_inteq(list(d, "dave@old.example", &l), 0);
	test_assert_inteq(l.n, 0);
	directory_close(&d);
	test_end();

	test_begin("apppw: a failed upgrade leaves the version-1 file as it was");
	mkdata("v1bad", dir, sizeof(dir));
	/* a table in the way makes the migration fail half-way */
	test_assert_inteq(make_v1(dir, "CREATE TABLE app_passwords (x);"), 0);
	test_assert_inteq(directory_open(dir, &d, &error), -1);
	test_assert(d == NULL);
	test_assert(error != NULL && strstr(error, "upgrading the schema to version 2") != NULL);
	test_assert_inteq(file_version(dir), 1);
	{
		/* the ALTER TABLE before the failure was rolled back too */
		char path[300];
		sqlite3 *db = NULL;
		int rc;

		snprintf(path, sizeof(path), "%s/directory.db", dir);
		test_assert_inteq(sqlite3_open(path, &db), SQLITE_OK);
		rc = sqlite3_exec(db, "SELECT reject_mail FROM users", NULL, NULL, NULL);
		test_assert(rc != SQLITE_OK);
		rc = sqlite3_exec(db, "SELECT address FROM users", NULL, NULL, NULL);
		test_assert_inteq(rc, SQLITE_OK);
		sqlite3_close(db);
	}
	test_end();

	test_begin("apppw: a new database gets the same schema as an upgraded one");
	mkdata("fresh", dir, sizeof(dir));
	test_assert_inteq(directory_open(dir, &d, &error), 0);
	directory_close(&d);
	test_assert_inteq(file_version(dir), DIRECTORY_SCHEMA_VERSION);
	{
		char path_a[300], path_b[300], cmd[800];

		snprintf(path_a, sizeof(path_a), "%s/fresh/directory.db", tmpdir);
		snprintf(path_b, sizeof(path_b), "%s/v1/directory.db", tmpdir);
		snprintf(cmd, sizeof(cmd),
		         "test \"$(sqlite3 %s .schema 2>/dev/null)\" = \"$(sqlite3 %s .schema 2>/dev/null)\"", path_a,
		         path_b);
		if (system("command -v sqlite3 >/dev/null 2>&1") == 0)
			test_assert_inteq(system(cmd), 0);
		else
			printf("# sqlite3 shell not found: schema comparison skipped\n");
	}
	test_end();
}

/* directory_app_password_create: the one way the CLI and the settings
 * page make a password; the shown one is what the check accepts. */
static void
test_create(void)
{
	struct directory *d = open_fresh("create");
	char shown[DIRECTORY_APP_PASSWORD_SHOWN_LEN + 1], tiny[8], name[DIRECTORY_APP_PASSWORD_NAME_MAX + 1];
	const char *error = NULL;

	test_begin("apppw: create generates, hashes and adds");
	test_assert(d != NULL);
	if (d == NULL) {
		test_end();
		return;
	}
	test_assert_inteq(directory_app_password_create(d, "alice@example.com", "phone", DIR_PROTO_IMAP, shown,
	                                                sizeof(shown), &error),
	                  0);
	test_assert_inteq((int)strlen(shown), DIRECTORY_APP_PASSWORD_SHOWN_LEN);
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, DIR_PROTO_IMAP, NULL, name,
	                                               sizeof(name), &error),
	                  1);
	test_assert_streq(name, "phone");
	test_assert_inteq(directory_app_password_check(d, "alice@example.com", shown, DIR_PROTO_SMTP, NULL, name,
	                                               sizeof(name), &error),
	                  0);
	/* a taken name, an unknown user, a short buffer: nothing shown */
	test_assert_inteq(directory_app_password_create(d, "alice@example.com", "PHONE", DIR_PROTO_ALL, shown,
	                                                sizeof(shown), &error),
	                  -1);
	test_assert_streq(shown, "");
	test_assert_inteq(directory_app_password_create(d, "nobody@example.com", "x", DIR_PROTO_ALL, shown,
	                                                sizeof(shown), &error),
	                  -1);
	test_assert_inteq(directory_app_password_create(d, "alice@example.com", "y", DIR_PROTO_ALL, tiny,
	                                                sizeof(tiny), &error),
	                  -1);
	test_assert_inteq(directory_app_password_count(d, "alice@example.com", &error), 1);
	directory_close(&d);
	test_end();
}

int
main(void)
{
	char cmd[128];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/tern-test-apppw-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	test_generate();
	test_add_list_revoke();
	test_check();
	test_create();
	test_reject_mail();
	test_migration();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return test_done();
}
