/* Back ends (issue 11): the servers that hold mailboxes behind a proxy,
 * each a name and a host.  A user's backend column names one of them or
 * is NULL; the foreign key keeps a user from naming one that does not
 * exist, and directory_backend_del says who still uses it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "directory/directory_addr.h"
#include "directory/directory_private.h"
#include "lib/str.h"

bool
directory_backend_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > DIRECTORY_BACKEND_NAME_MAX || !isalnum((unsigned char)name[0]) ||
	    strcasecmp(name, "none") == 0)
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_' && *p != '-')
			return false;
	return true;
}

/* Lower-cases a valid name into out (DIRECTORY_BACKEND_NAME_MAX + 1). */
static int
backend_name(const char *in, char *out)
{
	size_t i;

	if (!directory_backend_name_valid(in))
		return -1;
	for (i = 0; in[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)in[i]);
	out[i] = '\0';
	return 0;
}

/* A host the proxy can connect to: an IPv4 or IPv6 address, or a DNS
 * name (lower-cased into out, DIRECTORY_BACKEND_HOST_MAX + 1 bytes). */
static int
backend_host(const char *in, char *out)
{
	unsigned char a[sizeof(struct in6_addr)];

	if (strlen(in) > DIRECTORY_BACKEND_HOST_MAX)
		return -1;
	if (inet_pton(AF_INET, in, a) == 1 || inet_pton(AF_INET6, in, a) == 1) {
		str_lcpy(out, in, DIRECTORY_BACKEND_HOST_MAX + 1);
		return 0;
	}
	return dir_addr_domain(in, out, DIRECTORY_BACKEND_HOST_MAX + 1);
}

int
directory_backend_add(struct directory *d, const char *name, const char *host, const char **error_out)
{
	char n[DIRECTORY_BACKEND_NAME_MAX + 1], h[DIRECTORY_BACKEND_HOST_MAX + 1];
	int changed;

	if (backend_name(name, n) != 0)
		return dir_fail(d, error_out, "invalid back-end name \"%s\" (letters, digits, . _ -; not \"none\")",
		                name);
	if (backend_host(host, h) != 0)
		return dir_fail(d, error_out, "invalid host \"%s\" (a DNS name or an IP address, no port)", host);
	changed = dir_step_done(d,
	                        dir_prepare(d, error_out,
	                                    "INSERT INTO backends(name, host) VALUES (?, ?) ON CONFLICT DO NOTHING",
	                                    n, h, NULL),
	                        error_out, "backend add");
	if (changed < 0)
		return -1;
	if (changed == 0)
		return dir_fail(d, error_out, "back end %s already exists", n);
	return 0;
}

int
directory_backend_del(struct directory *d, const char *name, const char **error_out)
{
	char n[DIRECTORY_BACKEND_NAME_MAX + 1];
	long long users;
	int changed;

	if (backend_name(name, n) != 0)
		return dir_fail(d, error_out, "invalid back-end name \"%s\"", name);
	if (dir_begin(d, error_out) != 0)
		return -1;
	users = dir_query_int(d, dir_prepare(d, error_out, "SELECT count(*) FROM users WHERE backend = ?", n, NULL),
	                      error_out, "count users");
	if (users < 0)
		goto fail;
	if (users > 0) {
		dir_fail(d, error_out,
		         "back end %s still holds %lld user%s: move them first (tern user set USER --backend ...)", n,
		         users, users == 1 ? "" : "s");
		goto fail;
	}
	changed = dir_step_done(d, dir_prepare(d, error_out, "DELETE FROM backends WHERE name = ?", n, NULL),
	                        error_out, "backend del");
	if (changed < 0)
		goto fail;
	if (changed == 0) {
		dir_fail(d, error_out, "no such back end: %s", n);
		goto fail;
	}
	return dir_commit(d, error_out);
fail:
	dir_rollback(d);
	return -1;
}

int
directory_backend_get(struct directory *d, const char *name, struct dir_backend *b_out, const char **error_out)
{
	char n[DIRECTORY_BACKEND_NAME_MAX + 1];
	struct dirdb_stmt *st;
	int rc;

	if (backend_name(name, n) != 0)
		return 0;
	st = dir_prepare(d, error_out, "SELECT name, host FROM backends WHERE name = ?", n, NULL);
	if (st == NULL)
		return -1;
	rc = dirdb_step(st);
	if (rc == 1 && b_out != NULL) {
		memset(b_out, 0, sizeof(*b_out));
		str_lcpy(b_out->name, dirdb_col_text(st, 0), sizeof(b_out->name));
		str_lcpy(b_out->host, dirdb_col_text(st, 1), sizeof(b_out->host));
	}
	if (rc < 0)
		dir_sql_fail(d, error_out, "backend lookup");
	dirdb_finish(&st);
	return rc;
}

int
directory_backend_list(struct directory *d, void (*fn)(const struct dir_backend *b, void *arg), void *arg,
                       const char **error_out)
{
	struct dirdb_stmt *st = dir_prepare(d, error_out,
	                                    "SELECT b.name, b.host, (SELECT count(*) FROM users u WHERE u.backend = "
	                                    "b.name) FROM backends b ORDER BY b.name",
	                                    NULL);
	struct dir_backend b;
	int rc;

	if (st == NULL)
		return -1;
	while ((rc = dirdb_step(st)) == 1) {
		str_lcpy(b.name, dirdb_col_text(st, 0), sizeof(b.name));
		str_lcpy(b.host, dirdb_col_text(st, 1), sizeof(b.host));
		b.users = dirdb_col_int(st, 2);
		fn(&b, arg);
	}
	if (rc < 0)
		dir_sql_fail(d, error_out, "backend list");
	dirdb_finish(&st);
	return rc < 0 ? -1 : 0;
}
