/* App passwords: extra, generated passwords of one user, each named and
 * limited to some protocols (issue 4).  Table app_passwords, schema
 * version 2 (directory.c).
 *
 * Why 16 lower-case letters in groups of four (as Google does) and not a
 * mix of cases, digits and symbols: the password is typed once, often on
 * a phone, and lower-case letters need no shift or symbol layer; with no
 * digits or capitals nothing looks like anything else (0/O, 1/l/I); the
 * groups make it easy to read off and check.  26^16 is about 2^75: far
 * beyond online guessing, and the hash is yescrypt besides.  Knowing the
 * exact shape also lets a check skip hashing for passwords that cannot be
 * app passwords, which bounds what a password guesser costs us. */
#include "directory/directory.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <time.h>

#include "auth/password.h"
#include "directory/directory_addr.h"
#include "directory/directory_private.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define APW_COLUMNS "name, hash, protocols, created, last_used, last_addr"

bool
directory_app_password_name_valid(const char *name)
{
	size_t len = strlen(name), i;

	if (len == 0 || len > DIRECTORY_APP_PASSWORD_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(c < 0x80 && (isalnum(c) || c == '.' || c == '_' || c == '-')))
			return false;
	}
	return true;
}

/* Random bytes from OpenSSL's CSPRNG (seeded from getrandom). */
static int
apw_random(void *buf, size_t len)
{
	return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

int
directory_app_password_generate(char *out, size_t outsize)
{
	/* 234 = 9 * 26: bytes at or above it are dropped so that every letter
	 * is equally likely. */
	const unsigned limit = 9 * 26;
	unsigned char buf[64];
	size_t n = 0, j, o = 0;

	if (outsize < DIRECTORY_APP_PASSWORD_SHOWN_LEN + 1)
		return -1;
	while (n < DIRECTORY_APP_PASSWORD_LEN) {
		if (apw_random(buf, sizeof(buf)) != 0) {
			str_wipe(buf, sizeof(buf));
			str_wipe(out, outsize);
			return -1;
		}
		for (j = 0; j < sizeof(buf) && n < DIRECTORY_APP_PASSWORD_LEN; j++) {
			if (buf[j] >= limit)
				continue;
			if (n > 0 && n % 4 == 0)
				out[o++] = ' ';
			out[o++] = (char)('a' + buf[j] % 26);
			n++;
		}
	}
	out[o] = '\0';
	str_wipe(buf, sizeof(buf));
	return 0;
}

int
directory_app_password_normalise(const char *in, char *out, size_t outsize)
{
	size_t n = 0;
	const char *p;

	if (in == NULL || outsize < DIRECTORY_APP_PASSWORD_LEN + 1)
		return -1;
	for (p = in; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == ' ')
			continue;
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		if (c < 'a' || c > 'z' || n >= DIRECTORY_APP_PASSWORD_LEN) {
			str_wipe(out, outsize);
			return -1;
		}
		out[n++] = (char)c;
	}
	if (n != DIRECTORY_APP_PASSWORD_LEN) {
		str_wipe(out, outsize);
		return -1;
	}
	out[n] = '\0';
	return 0;
}

/* Parses and checks the user: 1 exists (a filled), 0 not (error set),
 * -1 error. */
static int
apw_user(struct directory *d, const char *address, struct dir_addr *a, const char **error_out)
{
	int r;

	if (dir_addr_parse(address, a) != 0) {
		dir_fail(d, error_out, "invalid address \"%s\"", address);
		return 0;
	}
	r = dir_is_user(d, a->address, error_out);
	if (r == 0)
		dir_fail(d, error_out, "no such user: %s", a->address);
	return r;
}

int
directory_app_password_add(struct directory *d, const char *address, const char *name, const char *hash,
                           unsigned protocols, const char **error_out)
{
	struct dir_addr a;
	struct dirdb_stmt *st;
	long long n;
	int r;

	if (!directory_app_password_name_valid(name))
		return dir_fail(d, error_out,
		                "invalid app password name \"%.*s\": 1 to %d letters, digits, '.', '_' or '-', "
		                "starting with a letter or digit",
		                DIRECTORY_APP_PASSWORD_NAME_MAX + 8, name, DIRECTORY_APP_PASSWORD_NAME_MAX);
	if (!dir_valid_hash(hash))
		return dir_fail(d, error_out, "invalid password hash");
	if (protocols == 0 || (protocols & ~DIR_PROTO_ALL) != 0)
		return dir_fail(d, error_out, "invalid protocol set");
	if (dir_begin(d, error_out) != 0)
		return -1;
	r = apw_user(d, address, &a, error_out);
	if (r <= 0)
		goto fail;
	n = dir_query_int(d, dir_prepare(d, error_out, "SELECT count(*) FROM app_passwords WHERE address = ?",
	                                 a.address, NULL),
	                  error_out, "count app passwords");
	if (n < 0)
		goto fail;
	if (n >= DIRECTORY_APP_PASSWORDS_MAX) {
		dir_fail(d, error_out, "%s already has %d app passwords, the most allowed: revoke one first",
		         a.address, DIRECTORY_APP_PASSWORDS_MAX);
		goto fail;
	}
	n = dir_query_int(d, dir_prepare(d, error_out,
	                                 "SELECT count(*) FROM app_passwords WHERE address = ? AND lower(name) = lower(?)",
	                                 a.address, name, NULL),
	                  error_out, "app password lookup");
	if (n < 0)
		goto fail;
	if (n > 0) {
		dir_fail(d, error_out, "%s already has an app password called \"%s\"", a.address, name);
		goto fail;
	}
	st = dir_prepare(d, error_out,
	                 "INSERT INTO app_passwords(address, name, hash, protocols, created) VALUES (?, ?, ?, ?, ?)",
	                 a.address, name, hash, NULL);
	if (st == NULL)
		goto fail;
	dirdb_bind_int(st, 4, protocols);
	dirdb_bind_int(st, 5, (int64_t)time(NULL));
	if (dir_step_done(d, st, error_out, "app password add") < 0)
		goto fail;
	return dir_commit(d, error_out);
fail:
	dir_rollback(d);
	return -1;
}

int
directory_app_password_create(struct directory *d, const char *address, const char *name, unsigned protocols,
                              char *shown_out, size_t shown_size, const char **error_out)
{
	char plain[DIRECTORY_APP_PASSWORD_LEN + 1], hash[PASSWORD_HASH_MAX + 1];
	int r = -1;

	if (shown_size < DIRECTORY_APP_PASSWORD_SHOWN_LEN + 1)
		return dir_fail(d, error_out, "app password create: buffer too small");
	if (directory_app_password_generate(shown_out, shown_size) != 0 ||
	    directory_app_password_normalise(shown_out, plain, sizeof(plain)) != 0) {
		dir_fail(d, error_out, "cannot generate a password");
		goto out;
	}
	if (password_hash(plain, hash, sizeof(hash)) != 0) {
		dir_fail(d, error_out, "cannot hash the password");
		goto out;
	}
	r = directory_app_password_add(d, address, name, hash, protocols, error_out);
out:
	str_wipe(plain, sizeof(plain));
	str_wipe(hash, sizeof(hash));
	if (r != 0)
		str_wipe(shown_out, shown_size);
	return r;
}

static void
apw_row(struct dirdb_stmt *st, struct dir_app_password *p)
{
	const char *s;
	int protocols;

	memset(p, 0, sizeof(*p));
	s = dirdb_col_text(st, 0);
	str_lcpy(p->name, s != NULL ? s : "", sizeof(p->name));
	s = dirdb_col_text(st, 1);
	str_lcpy(p->hash, s != NULL ? s : "", sizeof(p->hash));
	protocols = dirdb_col_int(st, 2);
	p->protocols = (unsigned)protocols & DIR_PROTO_ALL;
	p->created = dirdb_col_int(st, 3);
	p->last_used = dirdb_col_int(st, 4);
	s = dirdb_col_text(st, 5);
	str_lcpy(p->last_addr, s != NULL ? s : "", sizeof(p->last_addr));
}

int
directory_app_password_list(struct directory *d, const char *address,
                            void (*fn)(const struct dir_app_password *p, void *arg), void *arg,
                            const char **error_out)
{
	struct dir_app_password p;
	struct dir_addr a;
	struct dirdb_stmt *st;
	int rc;

	rc = apw_user(d, address, &a, error_out);
	if (rc <= 0)
		return -1;
	st = dir_prepare(d, error_out,
	                 "SELECT " APW_COLUMNS " FROM app_passwords WHERE address = ? ORDER BY created, rowid",
	                 a.address, NULL);
	if (st == NULL)
		return -1;
	while ((rc = dirdb_step(st)) == 1) {
		apw_row(st, &p);
		fn(&p, arg);
	}
	str_wipe(&p, sizeof(p));
	if (rc < 0) {
		dir_sql_fail(d, error_out, "app password list");
		dirdb_finish(&st);
		return -1;
	}
	dirdb_finish(&st);
	return 0;
}

int
directory_app_password_count(struct directory *d, const char *address, const char **error_out)
{
	struct dir_addr a;

	if (dir_addr_parse(address, &a) != 0)
		return 0;
	return (int)dir_query_int(d, dir_prepare(d, error_out, "SELECT count(*) FROM app_passwords WHERE address = ?",
	                                         a.address, NULL),
	                          error_out, "count app passwords");
}

int
directory_app_password_revoke(struct directory *d, const char *address, const char *name,
                              const char **error_out)
{
	struct dir_addr a;
	int n;

	if (dir_begin(d, error_out) != 0)
		return -1;
	n = apw_user(d, address, &a, error_out);
	if (n <= 0)
		goto fail;
	n = dir_step_done(d,
	                  dir_prepare(d, error_out, "DELETE FROM app_passwords WHERE address = ? AND lower(name) = lower(?)",
	                              a.address, name, NULL),
	                  error_out, "app password revoke");
	if (n < 0)
		goto fail;
	if (n == 0) {
		dir_fail(d, error_out, "%s has no app password called \"%.*s\"", a.address,
		         DIRECTORY_APP_PASSWORD_NAME_MAX + 8, name);
		goto fail;
	}
	return dir_commit(d, error_out);
fail:
	dir_rollback(d);
	return -1;
}

/* peer_addr if it is an IPv4 or IPv6 address in text, else "". */
static const char *
apw_peer(const char *peer_addr)
{
	unsigned char bin[sizeof(struct in6_addr)];

	if (peer_addr == NULL || strlen(peer_addr) > DIRECTORY_PEER_ADDR_MAX)
		return "";
	if (inet_pton(AF_INET, peer_addr, bin) == 1 || inet_pton(AF_INET6, peer_addr, bin) == 1)
		return peer_addr;
	return "";
}

/* Records a successful use.  Logged on failure: the login itself stands. */
static void
apw_record_use(struct directory *d, const char *address, const char *name, const char *peer_addr)
{
	const char *error;
	struct dirdb_stmt *st;

	st = dir_prepare(d, &error,
	                 "UPDATE app_passwords SET last_used = ?, last_addr = ? WHERE address = ? AND name = ?",
	                 NULL);
	if (st == NULL)
		goto fail;
	dirdb_bind_int(st, 1, (int64_t)time(NULL));
	dirdb_bind_text(st, 2, apw_peer(peer_addr));
	dirdb_bind_text(st, 3, address);
	dirdb_bind_text(st, 4, name);
	if (dir_step_done(d, st, &error, "app password last use") >= 0)
		return;
fail:
	log_warnx("directory app password last use not recorded user=%s name=%s error=\"%s\"", address, name,
	          error);
}

/* The candidates of one check, read before any hashing so that no SQLite
 * statement (and no read transaction) stays open while yescrypt runs. */
struct apw_candidate {
	char name[DIRECTORY_APP_PASSWORD_NAME_MAX + 1];
	char hash[PASSWORD_HASH_MAX + 1];
};

int
directory_app_password_check(struct directory *d, const char *address, const char *password,
                             unsigned protocol_bits, const char *peer_addr, char *name_out, size_t name_size,
                             const char **error_out)
{
	char plain[DIRECTORY_APP_PASSWORD_LEN + 1];
	struct apw_candidate *c = NULL;
	struct dir_app_password p;
	struct dir_addr a;
	struct dirdb_stmt *st;
	int rc, n = 0, i, ret = 0;

	if (name_out != NULL && name_size > 0)
		name_out[0] = '\0';
	if (protocol_bits == 0 || (protocol_bits & ~DIR_PROTO_ALL) != 0)
		return dir_fail(d, error_out, "app password check: invalid protocol set %u", protocol_bits);
	if (dir_addr_parse(address, &a) != 0 || directory_app_password_normalise(password, plain, sizeof(plain)) != 0)
		return 0;
	st = dir_prepare(d, error_out,
	                 "SELECT " APW_COLUMNS " FROM app_passwords WHERE address = ? AND (protocols & ?) != 0 "
	                 "ORDER BY created, rowid LIMIT ?",
	                 a.address, NULL);
	if (st == NULL) {
		ret = -1;
		goto out;
	}
	dirdb_bind_int(st, 2, protocol_bits);
	dirdb_bind_int(st, 3, DIRECTORY_APP_PASSWORDS_MAX);
	c = xmalloc(DIRECTORY_APP_PASSWORDS_MAX * sizeof(*c));
	while ((rc = dirdb_step(st)) == 1 && n < DIRECTORY_APP_PASSWORDS_MAX) {
		apw_row(st, &p);
		memcpy(c[n].name, p.name, sizeof(c[n].name));
		memcpy(c[n].hash, p.hash, sizeof(c[n].hash));
		n++;
	}
	str_wipe(&p, sizeof(p));
	if (rc < 0) {
		dir_sql_fail(d, error_out, "app password check");
		dirdb_finish(&st);
		ret = -1;
		goto out;
	}
	dirdb_finish(&st);
	for (i = 0; i < n && ret == 0; i++) {
		if (!password_verify(plain, c[i].hash))
			continue;
		ret = 1;
		apw_record_use(d, a.address, c[i].name, peer_addr);
		if (name_out != NULL && name_size > 0)
			str_lcpy(name_out, c[i].name, name_size);
	}
out:
	str_wipe(plain, sizeof(plain));
	if (c != NULL) {
		str_wipe(c, DIRECTORY_APP_PASSWORDS_MAX * sizeof(*c));
		free(c);
	}
	return ret;
}
