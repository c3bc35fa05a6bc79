/* tern user add|del|show|list|passwd|set (import-passwd: cli_user_import.c,
 * app-password: cli_user_apppw.c) */
#include "cli/cli.h"
#include "cli/cli_user_apppw.h"

#define _XOPEN_SOURCE_EXTENDED 1
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/password.h"
#include "directory/directory.h"
#include "directory/directory_addr.h"
#include "lib/limits.h"
#include "lib/str.h"
#include "store/store.h"

/* Length of a generated password: 16 of 62 characters is over 95 bits. */
#define CLI_PASSWORD_GEN_LEN 16

static const char user_usage[] =
	"usage: tern user add ADDRESS [--password-stdin] [--role user|admin] [--quota SIZE]\n"
	"                     [--backend NAME]\n"
	"       tern user del ADDRESS [--yes | --keep-mail]\n"
	"       tern user show ADDRESS\n"
	"       tern user list [DOMAIN]\n"
	"       tern user passwd ADDRESS [--password-stdin]\n"
	"       tern user set ADDRESS [--imap on|off] [--pop3 on|off] [--submission on|off]\n"
	"                     [--disabled|--enabled] [--reject-mail on|off]\n"
	"                     [--role user|admin] [--quota SIZE] [--backend NAME|none]\n"
	"       tern user import-passwd FILE [--domain DOMAIN] [--create-domains]\n"
	"       tern user app-password add|list|revoke ...   (tern user app-password --help)\n"
	"       tern user export ADDRESS FILE [--no-app-passwords]\n"
	"       tern user import FILE [ADDRESS] [--no-app-passwords]\n"
	"\n"
	"Manages users.  A user's address must be in a local domain.  Without\n"
	"--password-stdin, add and passwd generate a password and print it once.\n"
	"SIZE takes a K, M or G suffix; 0 or \"unlimited\" means no quota.\n"
	"Administrators cannot open their mailbox over IMAP or POP3.\n"
	"A disabled user cannot log in but still receives mail, unless\n"
	"--reject-mail is on: then mail to it is refused (550 5.2.1).\n"
	"import-passwd reads a Dovecot passwd-file (user:{SCHEME}hash:...); users\n"
	"that exist already are skipped and counted.\n"
	"export writes a user's account (directory entry, app passwords, mail) into\n"
	"one tar file; import adds it on another Tern (tern user export --help).\n"
	"\n"
	"del removes the user, its app passwords and its mail folder\n"
	"(data_dir/mail/DOMAIN/LOCAL).  It asks first on a terminal; elsewhere it\n"
	"needs --yes (remove the mail) or --keep-mail (move the folder to\n"
	"data_dir/deleted/ADDRESS.TIME and print where).  Aliases that still point\n"
	"at the user are listed with the command that removes them.  Sessions the\n"
	"user has open keep working on the old files until they log out; mail to\n"
	"the address is refused (550 5.1.1) from then on.  add gives a new user an\n"
	"empty mailbox: a folder left at its path is moved to data_dir/deleted/.\n"
	"\n"
	"--backend puts the user on a back end (tern backend add); a proxy sends\n"
	"its logins there.  none (the default) serves it on the server it logs\n"
	"in to.  Moving the mail is not done by this: copy the folder first.\n"
	"\n"
	"--smtp is accepted as another name for --submission, as in\n"
	"app-password --protocols: the protocol is called submission everywhere.\n";

static int
parse_role(const char *s, enum user_role *out)
{
	if (strcmp(s, "user") == 0)
		*out = ROLE_USER;
	else if (strcmp(s, "admin") == 0)
		*out = ROLE_ADMIN;
	else
		return -1;
	return 0;
}

/* Gets the new password (stdin or generated) and hashes it into hash.
 * *generated is set when the caller must print the password. */
static int
new_password_hash(bool from_stdin, char *hash, size_t hashsize, char *plain, size_t plainsize)
{
	if (from_stdin) {
		if (cli_read_password(plain, plainsize) != 0)
			return -1;
	} else if (password_generate(plain, CLI_PASSWORD_GEN_LEN) != 0) {
		cli_error("cannot generate a password");
		return -1;
	}
	if (password_hash(plain, hash, hashsize) != 0) {
		cli_error("cannot hash the password");
		return -1;
	}
	return 0;
}


/* data_dir/deleted/ADDRESS.YYYYmmddTHHMMSSZ (-N when taken): where
 * folders of deleted users go.  0, or -1 printed. */
static int
aside_path(const struct tern_config *cfg, const char *address, char *out, size_t outsize)
{
	char dir[PATH_MAX], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/deleted", cfg->data_dir) >= sizeof(dir)) {
		cli_error("data_dir path too long");
		return -1;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		cli_error("cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (cli_own_path(cfg, dir) != 0)
		return -1;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int n = 0; n < 100; n++) {
		int r = n == 0 ? snprintf(out, outsize, "%s/%s.%s", dir, address, stamp)
		               : snprintf(out, outsize, "%s/%s.%s-%d", dir, address, stamp, n);

		if (r < 0 || (size_t)r >= outsize) {
			cli_error("path too long under %s", dir);
			return -1;
		}
		if (access(out, F_OK) != 0)
			return 0;
	}
	cli_error("too many deleted folders of %s in %s", address, dir);
	return -1;
}

/* Moves the folder at path aside (aside_path) and writes where into
 * moved (movedsize bytes).  1 moved, 0 nothing there, -1 printed. */
static int
move_aside(const struct tern_config *cfg, const char *address, const char *path, char *moved, size_t movedsize)
{
	char name[PATH_MAX];
	const char *local, *domain_end;
	struct stat sb;

	if (lstat(path, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	/* The folder's own escaped names (store_user_dir: .../DOMAIN/LOCAL)
	 * make the new name, so that no address can reach outside deleted/. */
	local = strrchr(path, '/');
	for (domain_end = local; local != NULL && domain_end > path && domain_end[-1] != '/';)
		domain_end--;
	if (local == NULL || domain_end == local ||
	    (size_t)snprintf(name, sizeof(name), "%s@%.*s", local + 1, (int)(local - domain_end), domain_end) >=
	        sizeof(name)) {
		cli_error("unexpected mail folder path %s for %s", path, address);
		return -1;
	}
	if (aside_path(cfg, name, moved, movedsize) != 0)
		return -1;
	if (rename(path, moved) != 0) {
		cli_error("cannot move %s to %s: %s", path, moved, strerror(errno));
		return -1;
	}
	/* mail/ and mail/DOMAIN stay for the server: make sure it owns them
	 * (a folder made by hand as root, say). */
	if ((size_t)snprintf(name, sizeof(name), "%.*s", (int)(local - path), path) < sizeof(name) &&
	    cli_own_path(cfg, name) == 0 && (local = strrchr(name, '/')) != NULL) {
		name[local - name] = '\0';
		cli_own_path(cfg, name);
	}
	return 1;
}

/* The user's mail folder: data_dir/mail/DOMAIN/LOCAL. */
static int
mail_folder(const struct tern_config *cfg, const char *address, char *out, size_t outsize)
{
	if (store_user_dir(cfg->data_dir, address, out, outsize) != 0) {
		cli_error("no mail folder path for %s", address);
		return -1;
	}
	return 0;
}

static void
print_dangling(const char *alias, void *arg)
{
	const char *address = arg;

	printf("alias %s -> %s now points at no user: tern alias del %s %s\n", alias, address, alias, address);
}

static int
user_add(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[1], *role_s = NULL, *quota_s = NULL, *backend_s = NULL, *error;
	char hash[PASSWORD_HASH_MAX + 1], plain[PASSWORD_LEN_MAX + 2];
	bool from_stdin = false;
	enum user_role role = ROLE_USER;
	uint64_t quota = 0;
	struct dir_user u;
	int r, ret = CLI_EXIT_ERROR;
	const struct cli_opt opts[] = {
		{ "--password-stdin", NULL, &from_stdin },
		{ "--role", &role_s, NULL },
		{ "--quota", &quota_s, NULL },
		{ "--backend", &backend_s, NULL },
		{ NULL, NULL, NULL },
	};

	r = cli_parse(ctx, argc, argv, opts, pos, 1, 1, NULL, user_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (role_s != NULL && parse_role(role_s, &role) != 0)
		return cli_usage_error(user_usage, "--role must be user or admin");
	if (quota_s != NULL && cli_parse_quota(quota_s, &quota) != 0)
		return cli_usage_error(user_usage, "bad --quota \"%s\"", quota_s);
	if (backend_s != NULL && strcmp(backend_s, "none") == 0)
		backend_s = NULL;
	if (backend_s != NULL && !directory_backend_name_valid(backend_s))
		return cli_usage_error(user_usage, "bad --backend \"%s\"", backend_s);
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	if (backend_s != NULL && (r = directory_backend_get(dir, backend_s, NULL, &error)) <= 0) {
		if (r < 0)
			cli_error("%s", error);
		else
			cli_error("no such back end: %s (tern backend add)", backend_s);
		goto out;
	}
	if (new_password_hash(from_stdin, hash, sizeof(hash), plain, sizeof(plain)) != 0)
		goto out;
	/* A new account starts empty, whatever an earlier deletion (or an
	 * older tern, which kept the files) left at its folder's path. */
	{
		struct dir_addr a;
		char folder[PATH_MAX], moved[PATH_MAX];

		if (dir_addr_parse(pos[0], &a) == 0 && directory_user_get(dir, a.address, NULL, &error) == 0) {
			if (mail_folder(cli_config_loaded(), a.address, folder, sizeof(folder)) != 0)
				goto out;
			r = move_aside(cli_config_loaded(), a.address, folder, moved, sizeof(moved));
			if (r < 0)
				goto out;
			if (r > 0)
				printf("an old mail folder of %s was moved to %s: the new account starts empty\n",
				       a.address, moved);
		}
	}
	if (directory_user_add(dir, pos[0], hash, role, &error) != 0) {
		cli_error("%s", error);
		goto out;
	}
	if (quota != 0 || backend_s != NULL) {
		if (directory_user_get(dir, pos[0], &u, &error) != 1) {
			cli_error("user %s vanished while setting its quota", pos[0]);
			goto out;
		}
		u.quota_bytes = quota;
		if (backend_s != NULL)
			str_lcpy(u.backend, backend_s, sizeof(u.backend));
		if (directory_user_update(dir, &u, &error) != 0) {
			cli_error("%s", error);
			goto out;
		}
	}
	{
		struct dir_addr a;

		printf("user %s added\n", dir_addr_parse(pos[0], &a) == 0 ? a.address : pos[0]);
	}
	if (!from_stdin)
		printf("password: %s\n", plain);
	ret = CLI_EXIT_OK;
out:
	str_wipe(plain, sizeof(plain));
	directory_close(&dir);
	return ret;
}

static int
user_del(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const struct tern_config *cfg;
	const char *pos[1], *error;
	char folder[PATH_MAX], moved[PATH_MAX], question[PATH_MAX + ADDRESS_MAX + 64];
	bool yes = false, keep = false;
	struct dir_addr a;
	struct stat sb;
	int r, ret = CLI_EXIT_ERROR;
	const struct cli_opt opts[] = {
		{ "--yes", NULL, &yes },
		{ "--keep-mail", NULL, &keep },
		{ NULL, NULL, NULL },
	};

	r = cli_parse(ctx, argc, argv, opts, pos, 1, 1, NULL, user_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (dir_addr_parse(pos[0], &a) != 0) {
		cli_error("invalid address \"%s\"", pos[0]);
		return CLI_EXIT_ERROR;
	}
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	cfg = cli_config_loaded();
	r = directory_user_get(dir, a.address, NULL, &error);
	if (r <= 0) {
		if (r < 0)
			cli_error("%s", error);
		else
			cli_error("no such user: %s", a.address);
		goto out;
	}
	if (mail_folder(cfg, a.address, folder, sizeof(folder)) != 0)
		goto out;
	if (!yes && !keep) {
		if (isatty(STDIN_FILENO) != 1) {
			cli_error("user del %s removes its mail (%s): give --yes to remove it, or --keep-mail to "
			          "keep it apart (no terminal to ask)",
			          a.address, folder);
			goto out;
		}
		snprintf(question, sizeof(question), "Delete user %s and remove its mail in %s?", a.address, folder);
		if (!cli_confirm(question)) {
			cli_error("nothing deleted");
			goto out;
		}
	}
	if (directory_user_del(dir, a.address, &error) != 0) {
		cli_error("%s", error);
		goto out;
	}
	printf("user %s deleted\n", a.address);
	/* Moved aside first in both cases: the folder leaves its path at
	 * once, so a new account of that address never sees a half-removed
	 * one. */
	r = move_aside(cfg, a.address, folder, moved, sizeof(moved));
	if (r < 0)
		goto out;
	if (r == 0)
		printf("it had no mail folder\n");
	else if (keep)
		printf("its mail was kept in %s\n", moved);
	else if (cli_remove_tree(moved) != 0)
		cli_error("its mail was moved to %s, but not all of it could be removed", moved);
	else
		printf("its mail was removed\n");
	if (r != 0 && stat(folder, &sb) == 0)
		cli_error("%s appeared again (a session still open on the server?): it will be moved aside when "
		          "the address is added again", folder);
	if (directory_alias_targeting(dir, a.address, print_dangling, a.address, &error) != 0)
		cli_error("%s", error);
	ret = r < 0 || (r > 0 && !keep && access(moved, F_OK) == 0) ? CLI_EXIT_ERROR : CLI_EXIT_OK;
out:
	directory_close(&dir);
	return ret;
}

static const char *
onoff(bool b)
{
	return b ? "on" : "off";
}

static int
user_show(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[1], *error;
	char quota[32], created[32];
	struct dir_user u;
	time_t t;
	struct tm tm;
	int r, napw = 0;

	r = cli_parse(ctx, argc, argv, NULL, pos, 1, 1, NULL, user_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_user_get(dir, pos[0], &u, &error);
	if (r > 0 && (napw = directory_app_password_count(dir, u.address, &error)) < 0)
		r = -1;
	directory_close(&dir);
	if (r < 0) {
		cli_error("%s", error);
		return CLI_EXIT_ERROR;
	}
	if (r == 0) {
		cli_error("no such user: %s", pos[0]);
		return CLI_EXIT_ERROR;
	}
	if (u.quota_bytes == 0)
		str_lcpy(quota, "unlimited", sizeof(quota));
	else
		cli_format_size(u.quota_bytes, quota, sizeof(quota));
	t = (time_t)u.created;
	if (gmtime_r(&t, &tm) == NULL || strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(created, sizeof(created), "%lld", (long long)u.created);
	printf("address: %s\n", u.address);
	printf("role: %s\n", u.role == ROLE_ADMIN ? "admin" : "user");
	printf("imap: %s\n", onoff(u.imap));
	printf("pop3: %s\n", onoff(u.pop3));
	printf("submission: %s\n", onoff(u.submission));
	printf("disabled: %s\n", u.disabled ? "yes" : "no");
	printf("reject-mail: %s\n", onoff(u.reject_mail));
	printf("app-passwords: %d\n", napw);
	printf("quota: %s\n", quota);
	printf("backend: %s\n", u.backend[0] != '\0' ? u.backend : "none");
	printf("created: %s\n", created);
	str_wipe(&u, sizeof(u));
	return CLI_EXIT_OK;
}

static void
print_user(const struct dir_user *u, void *arg)
{
	printf("%s%s%s%s\n", u->address, u->role == ROLE_ADMIN ? " admin" : "", u->disabled ? " disabled" : "",
	       u->reject_mail ? " reject-mail" : "");
}

static int
user_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[1] = { NULL }, *error;
	size_t npos;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, pos, 0, 1, &npos, user_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_user_list(dir, npos > 0 ? pos[0] : NULL, print_user, NULL, &error);
	if (r != 0)
		cli_error("%s", error);
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int
user_passwd(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[1], *error;
	char hash[PASSWORD_HASH_MAX + 1], plain[PASSWORD_LEN_MAX + 2];
	bool from_stdin = false;
	int r, ret = CLI_EXIT_ERROR;
	const struct cli_opt opts[] = {
		{ "--password-stdin", NULL, &from_stdin },
		{ NULL, NULL, NULL },
	};

	r = cli_parse(ctx, argc, argv, opts, pos, 1, 1, NULL, user_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	/* Check first, so a generated password is not printed for nobody. */
	r = directory_user_get(dir, pos[0], NULL, &error);
	if (r <= 0) {
		if (r < 0)
			cli_error("%s", error);
		else
			cli_error("no such user: %s", pos[0]);
		goto out;
	}
	if (new_password_hash(from_stdin, hash, sizeof(hash), plain, sizeof(plain)) != 0)
		goto out;
	if (directory_user_set_password(dir, pos[0], hash, &error) != 0) {
		cli_error("%s", error);
		goto out;
	}
	printf("password of %s changed\n", pos[0]);
	if (!from_stdin)
		printf("password: %s\n", plain);
	ret = CLI_EXIT_OK;
out:
	str_wipe(plain, sizeof(plain));
	directory_close(&dir);
	return ret;
}

static int
user_set(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[1], *error;
	const char *imap_s = NULL, *pop3_s = NULL, *sub_s = NULL, *role_s = NULL, *quota_s = NULL;
	const char *reject_s = NULL, *backend_s = NULL;
	bool disabled = false, enabled = false, imap = false, pop3 = false, sub = false, reject = false;
	enum user_role role = ROLE_USER;
	uint64_t quota = 0;
	struct dir_user u;
	int r, ret = CLI_EXIT_ERROR;
	const struct cli_opt opts[] = {
		{ "--imap", &imap_s, NULL },
		{ "--pop3", &pop3_s, NULL },
		{ "--submission", &sub_s, NULL },
		{ "--smtp", &sub_s, NULL },
		{ "--disabled", NULL, &disabled },
		{ "--enabled", NULL, &enabled },
		{ "--reject-mail", &reject_s, NULL },
		{ "--role", &role_s, NULL },
		{ "--quota", &quota_s, NULL },
		{ "--backend", &backend_s, NULL },
		{ NULL, NULL, NULL },
	};

	r = cli_parse(ctx, argc, argv, opts, pos, 1, 1, NULL, user_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (backend_s != NULL && strcmp(backend_s, "none") != 0 && !directory_backend_name_valid(backend_s))
		return cli_usage_error(user_usage, "bad --backend \"%s\"", backend_s);
	if (disabled && enabled)
		return cli_usage_error(user_usage, "--disabled and --enabled contradict each other");
	if (imap_s != NULL && cli_parse_onoff(imap_s, &imap) != 0)
		return cli_usage_error(user_usage, "--imap must be on or off");
	if (pop3_s != NULL && cli_parse_onoff(pop3_s, &pop3) != 0)
		return cli_usage_error(user_usage, "--pop3 must be on or off");
	if (sub_s != NULL && cli_parse_onoff(sub_s, &sub) != 0)
		return cli_usage_error(user_usage, "--submission must be on or off");
	if (reject_s != NULL && cli_parse_onoff(reject_s, &reject) != 0)
		return cli_usage_error(user_usage, "--reject-mail must be on or off");
	if (role_s != NULL && parse_role(role_s, &role) != 0)
		return cli_usage_error(user_usage, "--role must be user or admin");
	if (quota_s != NULL && cli_parse_quota(quota_s, &quota) != 0)
		return cli_usage_error(user_usage, "bad --quota \"%s\"", quota_s);
	if (imap_s == NULL && pop3_s == NULL && sub_s == NULL && role_s == NULL && quota_s == NULL &&
	    reject_s == NULL && backend_s == NULL && !disabled && !enabled)
		return cli_usage_error(user_usage, "user set: nothing to change");
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_user_get(dir, pos[0], &u, &error);
	if (r <= 0) {
		if (r < 0)
			cli_error("%s", error);
		else
			cli_error("no such user: %s", pos[0]);
		goto out;
	}
	if (imap_s != NULL)
		u.imap = imap;
	if (pop3_s != NULL)
		u.pop3 = pop3;
	if (sub_s != NULL)
		u.submission = sub;
	if (disabled || enabled)
		u.disabled = disabled;
	if (reject_s != NULL)
		u.reject_mail = reject;
	if (role_s != NULL)
		u.role = role;
	if (quota_s != NULL)
		u.quota_bytes = quota;
	if (backend_s != NULL)
		str_lcpy(u.backend, strcmp(backend_s, "none") == 0 ? "" : backend_s, sizeof(u.backend));
	if (directory_user_update(dir, &u, &error) != 0) {
		cli_error("%s", error);
		goto out;
	}
	printf("user %s updated\n", u.address);
	ret = CLI_EXIT_OK;
out:
	str_wipe(&u, sizeof(u));
	directory_close(&dir);
	return ret;
}

int
cli_user(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add", user_add },
		{ "del", user_del },
		{ "show", user_show },
		{ "list", user_list },
		{ "passwd", user_passwd },
		{ "set", user_set },
		{ "import-passwd", cli_user_import },
		{ "export", cli_user_export },
		{ "import", cli_user_move_import },
		{ "app-password", cli_user_apppw },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, user_usage);
}
