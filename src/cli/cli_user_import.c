/* tern user import-passwd: users from a Dovecot passwd-file, one per line:
 *   user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
 * (https://doc.dovecot.org/configuration_manual/authentication/passwd_file/).
 * Only the user and password fields are used.  A bad line is reported as
 * FILE:LINE and skipped; the rest are still imported. */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/password.h"
#include "directory/directory.h"
#include "directory/directory_addr.h"
#include "lib/limits.h"
#include "lib/str.h"

static const char import_usage[] =
	"usage: tern user import-passwd FILE [--domain DOMAIN] [--create-domains]\n"
	"\n"
	"Imports users from a Dovecot passwd-file (\"-\" reads standard input).\n"
	"Each line is user:{SCHEME}hash:uid:gid:gecos:home:shell:extra; only the\n"
	"user and password are used.  Accepted: {SHA512-CRYPT} ($6$),\n"
	"{SHA256-CRYPT} ($5$), {BLF-CRYPT} ($2y$, $2b$, $2a$), {YESCRYPT} ($y$),\n"
	"{CRYPT} and bare crypt strings of those kinds, and {PLAIN}/{CLEAR}\n"
	"passwords, which are hashed with yescrypt on the way in.\n"
	"\n"
	"  --domain DOMAIN    domain for user names without one\n"
	"  --create-domains   add missing domains instead of failing those lines\n"
	"\n"
	"Users that exist already are skipped (their password is left alone)\n"
	"and counted, so the same file can be imported again.  Bad lines are\n"
	"reported as FILE:LINE and skipped; the exit status is 1 if any line\n"
	"failed.\n";

struct import_opts {
	const char *domain;
	bool create_domains;
};

/* Finds the crypt hash for a password field; plain passwords are hashed
 * into hash.  Returns 0, or -1 with a message in *msg. */
static int
import_password(char *field, char *hash, size_t hashsize, const char **msg)
{
	const char *scheme = NULL, *value = field;
	char *close;

	if (field[0] == '{') {
		close = strchr(field, '}');
		if (close == NULL) {
			*msg = "password scheme without closing '}'";
			return -1;
		}
		*close = '\0';
		scheme = field + 1;
		value = close + 1;
	}
	if (scheme != NULL && (strcasecmp(scheme, "PLAIN") == 0 || strcasecmp(scheme, "CLEAR") == 0)) {
		if (value[0] == '\0' || strlen(value) > PASSWORD_LEN_MAX) {
			*msg = "empty or over-long plain password";
			return -1;
		}
		if (password_hash(value, hash, hashsize) != 0) {
			*msg = "cannot hash the password";
			return -1;
		}
		return 0;
	}
	if (value[0] == '\0') {
		*msg = "empty password field";
		return -1;
	}
	if (scheme != NULL) {
		bool ok;

		if (strcasecmp(scheme, "SHA512-CRYPT") == 0)
			ok = strncmp(value, "$6$", 3) == 0;
		else if (strcasecmp(scheme, "SHA256-CRYPT") == 0)
			ok = strncmp(value, "$5$", 3) == 0;
		else if (strcasecmp(scheme, "BLF-CRYPT") == 0)
			ok = strncmp(value, "$2y$", 4) == 0 || strncmp(value, "$2b$", 4) == 0 ||
			     strncmp(value, "$2a$", 4) == 0;
		else if (strcasecmp(scheme, "YESCRYPT") == 0)
			ok = strncmp(value, "$y$", 3) == 0;
		else if (strcasecmp(scheme, "CRYPT") == 0)
			ok = true;
		else {
			*msg = "unsupported password scheme";
			return -1;
		}
		if (!ok) {
			*msg = "hash does not match its {SCHEME}";
			return -1;
		}
	}
	if (!password_hash_supported(value)) {
		*msg = "unsupported or malformed password hash (need $y$, $7$, $6$, $5$ or $2y$/$2b$/$2a$)";
		return -1;
	}
	if (str_lcpy(hash, value, hashsize) >= hashsize) {
		*msg = "password hash too long";
		return -1;
	}
	return 0;
}

/* Imports one non-comment line.  Returns 0, 1 when the user exists
 * already (skipped: a second run of the same file adds nothing), or -1
 * with *msg set (static text or the directory's message). */
static int
import_line(struct directory *dir, const struct import_opts *o, char *line, const char **msg)
{
	char address[ADDRESS_MAX + 1], hash[PASSWORD_HASH_MAX + 1];
	struct dir_addr a;
	char *user, *pass, *colon;
	int r, ret = -1;

	user = line;
	colon = strchr(line, ':');
	if (colon == NULL) {
		*msg = "expected user:password:...";
		return -1;
	}
	*colon = '\0';
	pass = colon + 1;
	colon = strchr(pass, ':');
	if (colon != NULL)
		*colon = '\0';
	if (user[0] == '\0') {
		*msg = "empty user name";
		return -1;
	}
	if (strchr(user, '@') != NULL) {
		if (str_lcpy(address, user, sizeof(address)) >= sizeof(address)) {
			*msg = "address too long";
			return -1;
		}
	} else if (o->domain == NULL) {
		*msg = "user name without a domain (give --domain)";
		return -1;
	} else if ((size_t)snprintf(address, sizeof(address), "%s@%s", user, o->domain) >= sizeof(address)) {
		*msg = "address too long";
		return -1;
	}
	if (dir_addr_parse(address, &a) != 0) {
		*msg = "invalid address";
		return -1;
	}
	r = directory_user_get(dir, a.address, NULL, msg);
	if (r < 0)
		return -1;
	if (r > 0)
		return 1;
	if (import_password(pass, hash, sizeof(hash), msg) != 0)
		goto out;
	r = directory_domain_is_local(dir, a.domain, msg);
	if (r < 0)
		goto out;
	if (r == 0) {
		if (!o->create_domains) {
			*msg = "domain does not exist (add it, or give --create-domains)";
			goto out;
		}
		if (directory_domain_add(dir, a.domain, msg) != 0)
			goto out;
		printf("domain %s added\n", a.domain);
	}
	if (directory_user_add(dir, a.address, hash, ROLE_USER, msg) != 0)
		goto out;
	ret = 0;
out:
	str_wipe(hash, sizeof(hash));
	return ret;
}

static bool
blank_or_comment(const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	return *line == '\0' || *line == '#';
}

int
cli_user_import(struct cli_ctx *ctx, int argc, char **argv)
{
	struct import_opts o = { NULL, false };
	struct directory *dir = NULL;
	const char *pos[1], *msg;
	char *line = NULL;
	size_t cap = 0, len;
	ssize_t n;
	unsigned lineno = 0, imported = 0, skipped = 0, failed = 0;
	FILE *f;
	int r;
	const struct cli_opt opts[] = {
		{ "--domain", &o.domain, NULL },
		{ "--create-domains", NULL, &o.create_domains },
		{ NULL, NULL, NULL },
	};

	r = cli_parse(ctx, argc, argv, opts, pos, 1, 1, NULL, import_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (o.domain != NULL) {
		char dom[DOMAIN_MAX + 1];

		if (dir_addr_domain(o.domain, dom, sizeof(dom)) != 0)
			return cli_usage_error(import_usage, "invalid --domain \"%s\"", o.domain);
	}
	f = strcmp(pos[0], "-") == 0 ? stdin : fopen(pos[0], "r");
	if (f == NULL) {
		cli_error("%s: %s", pos[0], strerror(errno));
		return CLI_EXIT_ERROR;
	}
	if (cli_open_directory(ctx, &dir) != 0) {
		if (f != stdin)
			fclose(f);
		return CLI_EXIT_ERROR;
	}
	while ((n = getline(&line, &cap, f)) != -1) {
		lineno++;
		len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len > IMPORT_LINE_MAX) {
			fprintf(stderr, "%s:%u: line too long (more than %d bytes)\n", pos[0], lineno,
			        IMPORT_LINE_MAX);
			failed++;
			continue;
		}
		if (memchr(line, '\0', len) != NULL) {
			fprintf(stderr, "%s:%u: NUL byte in line\n", pos[0], lineno);
			failed++;
			continue;
		}
		if (blank_or_comment(line))
			continue;
		r = import_line(dir, &o, line, &msg);
		if (r < 0) {
			fprintf(stderr, "%s:%u: %s\n", pos[0], lineno, msg);
			failed++;
		} else if (r > 0) {
			skipped++;
		} else {
			imported++;
		}
		str_wipe(line, len);
	}
	if (ferror(f)) {
		fprintf(stderr, "%s:%u: read error: %s\n", pos[0], lineno, strerror(errno));
		failed++;
	}
	if (line != NULL)
		str_wipe(line, cap);
	free(line);
	if (f != stdin)
		fclose(f);
	directory_close(&dir);
	printf("%u user%s imported, %u skipped (already there), %u line%s failed\n", imported,
	       imported == 1 ? "" : "s", skipped, failed, failed == 1 ? "" : "s");
	return failed == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}
