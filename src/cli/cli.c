/* Helpers shared by the command groups: option parsing, dispatch, loading
 * the config and the directory, reading passwords. */
#include "cli/cli.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "directory/directory.h"
#include "store/store.h"
#include "lib/limits.h"
#include "lib/str.h"

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("tern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* The synopsis only (up to the first blank line); --help has the rest. */
	if (usage != NULL) {
		const char *end = strstr(usage, "\n\n");

		fwrite(usage, 1, end != NULL ? (size_t)(end - usage) + 1 : strlen(usage), stderr);
		if (end != NULL)
			fputs("(--help for more)\n", stderr);
	}
	return CLI_EXIT_USAGE;
}

static bool
is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* Matches "--name" or "--name=value" against the option name.  Returns
 * NULL if it does not match, else a pointer to "" or "=value". */
static const char *
match_opt(const char *arg, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return NULL;
	if (arg[n] == '\0' || arg[n] == '=')
		return arg + n;
	return NULL;
}

int
cli_parse(struct cli_ctx *ctx, int argc, char **argv, const struct cli_opt *opts, const char **pos,
          size_t pos_min, size_t pos_max, size_t *npos_out, const char *usage)
{
	size_t npos = 0;
	bool options_done = false;
	int i;

	/* Help wins over everything else on the line. */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (is_help(argv[i])) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
	}
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *rest;
		const struct cli_opt *o;

		if (options_done || arg[0] != '-' || arg[1] == '\0') {
			if (npos >= pos_max)
				return cli_usage_error(usage, "unexpected argument \"%s\"", arg);
			pos[npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		if ((rest = match_opt(arg, "--config")) != NULL) {
			if (*rest == '=')
				ctx->config_path = rest + 1;
			else if (i + 1 < argc)
				ctx->config_path = argv[++i];
			else
				return cli_usage_error(usage, "--config needs a file name");
			continue;
		}
		for (o = opts; o != NULL && o->name != NULL; o++) {
			if ((rest = match_opt(arg, o->name)) != NULL)
				break;
		}
		if (o == NULL || o->name == NULL)
			return cli_usage_error(usage, "unknown option \"%s\"", arg);
		if (o->flag != NULL) {
			if (*rest == '=')
				return cli_usage_error(usage, "%s takes no value", o->name);
			*o->flag = true;
		} else if (*rest == '=') {
			*o->value = rest + 1;
		} else if (i + 1 < argc) {
			*o->value = argv[++i];
		} else {
			return cli_usage_error(usage, "%s needs a value", o->name);
		}
	}
	if (npos < pos_min)
		return cli_usage_error(usage, "missing argument");
	if (npos_out != NULL)
		*npos_out = npos;
	return CLI_CONTINUE;
}

int
cli_dispatch(struct cli_ctx *ctx, int argc, char **argv, const struct cli_cmd *cmds, const char *usage)
{
	const struct cli_cmd *c;
	int i = 1;

	/* "tern user --config FILE list" */
	while (i < argc) {
		const char *rest = match_opt(argv[i], "--config");

		if (rest == NULL)
			break;
		if (*rest == '=') {
			ctx->config_path = rest + 1;
			i++;
		} else if (i + 1 < argc) {
			ctx->config_path = argv[i + 1];
			i += 2;
		} else {
			return cli_usage_error(usage, "--config needs a file name");
		}
	}
	if (i >= argc)
		return cli_usage_error(usage, "%s: missing subcommand", argv[0]);
	if (is_help(argv[i])) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	for (c = cmds; c->name != NULL; c++) {
		if (strcmp(c->name, argv[i]) == 0)
			return c->run(ctx, argc - i, argv + i);
	}
	if (argv[i][0] == '-')
		return cli_usage_error(usage, "unknown option \"%s\"", argv[i]);
	return cli_usage_error(usage, "unknown command \"%s %s\"", argv[0], argv[i]);
}

int
cli_load_config(struct cli_ctx *ctx, struct tern_config *cfg)
{
	char *error = NULL;

	if (config_load(ctx->config_path, cfg, &error) != 0) {
		fprintf(stderr, "%s\n", error != NULL ? error : "cannot load the configuration");
		free(error);
		return -1;
	}
	/* Every command (and the server) opens the directory through this. */
	directory_configure(cfg->directory.postgresql ? DIRECTORY_POSTGRESQL : DIRECTORY_SQLITE, cfg->directory.dsn);
	return 0;
}

static struct tern_config cli_cfg;

const struct tern_config *
cli_config_loaded(void)
{
	return &cli_cfg;
}

int
cli_own_path(const struct tern_config *cfg, const char *path)
{
	struct passwd *pw;
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? 0 : (cli_error("%s: %s", path, strerror(errno)), -1);
	if (S_ISLNK(sb.st_mode))
		return 0;
	if (geteuid() == 0 && cfg->user[0] != '\0') {
		pw = getpwnam(cfg->user);
		if (pw == NULL) {
			cli_error("[server] user %s: no such user: cannot give %s to it", cfg->user, path);
			return -1;
		}
		if ((sb.st_uid != pw->pw_uid || sb.st_gid != pw->pw_gid) &&
		    chown(path, pw->pw_uid, pw->pw_gid) != 0) {
			cli_error("chown %s %s: %s", cfg->user, path, strerror(errno));
			return -1;
		}
	}
	if ((sb.st_mode & 07777) != (S_ISDIR(sb.st_mode) ? 0700 : 0600) &&
	    chmod(path, S_ISDIR(sb.st_mode) ? 0700 : 0600) != 0) {
		cli_error("chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
cli_own_tree(const struct tern_config *cfg, const char *path)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat sb;
	DIR *dir;
	int ret;

	if (geteuid() != 0 || cfg->user[0] == '\0')
		return 0;
	if (cli_own_path(cfg, path) != 0)
		return -1;
	if (lstat(path, &sb) == -1 || !S_ISDIR(sb.st_mode) || (dir = opendir(path)) == NULL)
		return 0;
	ret = 0;
	while (ret == 0 && (de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", path, de->d_name) >= sizeof(p)) {
			cli_error("%s/%s: path too long", path, de->d_name);
			ret = -1;
		} else {
			ret = cli_own_tree(cfg, p);
		}
	}
	closedir(dir);
	return ret;
}

int
cli_own_user_store(const struct tern_config *cfg, const char *address)
{
	char dir[PATH_MAX], *slash;

	if (geteuid() != 0 || cfg->user[0] == '\0')
		return 0;
	if (store_user_dir(cfg->data_dir, address, dir, sizeof(dir)) != 0) {
		cli_error("%s: no mail folder path", address);
		return -1;
	}
	if (cli_own_tree(cfg, dir) != 0)
		return -1;
	/* mail/DOMAIN and mail/, which store_open may have made */
	for (int i = 0; i < 2 && (slash = strrchr(dir, '/')) != NULL; i++) {
		*slash = '\0';
		if (cli_own_path(cfg, dir) != 0)
			return -1;
	}
	/* and spool/, where the messages were written first */
	if ((size_t)snprintf(dir, sizeof(dir), "%s/spool", cfg->data_dir) >= sizeof(dir))
		return -1;
	return cli_own_path(cfg, dir);
}

static int
remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (remove(path) != 0 && errno != ENOENT) {
		cli_error("cannot remove %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int
cli_remove_tree(const char *path)
{
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 ? -1 : 0;
}

int
cli_own_directory_files(const struct tern_config *cfg)
{
	static const char *const names[] = { "directory.db", "directory.db-wal", "directory.db-shm" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, names[i]) >= sizeof(path)) {
			cli_error("data_dir path too long");
			return -1;
		}
		if (cli_own_path(cfg, path) != 0)
			return -1;
	}
	return 0;
}

/* data_dir itself: made by directory_open when missing; given to the
 * server's user as long as root owns it (a data_dir is tern's own). */
static int
own_data_dir(const struct tern_config *cfg)
{
	struct stat sb;

	if (geteuid() != 0 || cfg->user[0] == '\0' || stat(cfg->data_dir, &sb) != 0 || sb.st_uid != 0)
		return 0;
	return cli_own_path(cfg, cfg->data_dir);
}

int
cli_open_directory(struct cli_ctx *ctx, struct directory **dir_out)
{
	struct tern_config *cfg = &cli_cfg;
	const char *error;

	if (cli_load_config(ctx, cfg) != 0)
		return -1;
	/* Password hashes inside: new files are the owner's only. */
	umask(077);
	if (directory_open(cfg->data_dir, dir_out, &error) != 0) {
		cli_error("%s", error);
		return -1;
	}
	/* directory.db, -wal and -shm exist now (the schema check wrote
	 * them): the server's user must be able to write all three.  (On
	 * PostgreSQL there are no files, but data_dir is still the server's.) */
	if (own_data_dir(cfg) != 0 || (!cfg->directory.postgresql && cli_own_directory_files(cfg) != 0)) {
		directory_close(dir_out);
		return -1;
	}
	return 0;
}

bool
cli_confirm(const char *question)
{
	char line[32];

	fprintf(stderr, "%s [y/N] ", question);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return strcasecmp(line, "y") == 0 || strcasecmp(line, "yes") == 0;
}

int
cli_read_password(char *out, size_t outsize)
{
	struct termios old, noecho;
	bool tty = isatty(STDIN_FILENO) == 1;
	size_t len;
	int ret = -1;

	if (tty) {
		fputs("Password: ", stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
		} else {
			tty = false;
		}
	}
	if (fgets(out, (int)outsize, stdin) == NULL) {
		cli_error("no password on standard input");
		goto out;
	}
	len = strlen(out);
	if (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	else if (!feof(stdin)) {
		cli_error("password too long (at most %zu bytes)", outsize - 2);
		goto out;
	}
	if (len > 0 && out[len - 1] == '\r')
		out[--len] = '\0';
	if (len == 0) {
		cli_error("empty password");
		goto out;
	}
	ret = 0;
out:
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (ret != 0)
		str_wipe(out, outsize);
	return ret;
}

int
cli_parse_onoff(const char *s, bool *out)
{
	if (strcmp(s, "on") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcmp(s, "off") == 0 || strcmp(s, "no") == 0 || strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

int
cli_parse_quota(const char *s, uint64_t *out)
{
	if (strcmp(s, "unlimited") == 0 || strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (str_parse_size(s, out) != 0 || *out > (uint64_t)INT64_MAX)
		return -1;
	return 0;
}

void
cli_format_size(uint64_t v, char *out, size_t outsize)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v != 0 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, outsize, "%llu", (unsigned long long)v);
	else
		snprintf(out, outsize, "%llu%c", (unsigned long long)v, units[u]);
}
