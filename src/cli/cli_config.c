/* tern config check */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/str.h"
#include "lib/tls.h"

static const char config_usage[] =
	"usage: tern config check [--config FILE]\n"
	"\n"
	"Loads and checks the configuration, then prints the effective\n"
	"configuration (every key, defaults included) in the file's own syntax.\n"
	"On an error, prints \"file:line: message\" and exits 1.\n"
	"\n"
	"Beyond the syntax it checks what tern serve would refuse at start: the\n"
	"[tls] certificates and keys are read and each key must match its\n"
	"certificate, data_dir must exist or be creatable, and [server] user\n"
	"must exist.  It warns (on standard error, exit status 0) when run as\n"
	"root with no [server] user: the server would then keep running as root.\n";

/* The same certificates serve loads (server.c tls_start), loaded once. */
static int
check_tls(const struct tern_config *cfg)
{
	char *error = NULL;
	struct tls_server *ts;

	if (cfg->tls_cert[0] == '\0')
		return 0;
	ts = config_tls_server_new(cfg, &error);
	if (ts == NULL) {
		cli_error("[tls]: %s%s", error != NULL ? error : "cannot load the certificate and key",
		          error != NULL && strstr(error, "mismatch") != NULL ? " (the key does not match its certificate)"
		                                                             : "");
		free(error);
		return -1;
	}
	tls_server_free(&ts);
	return 0;
}

/* data_dir exists as a directory, or its nearest existing parent is a
 * directory this user may create entries in (serve makes it as root). */
static int
check_data_dir(const struct tern_config *cfg)
{
	char path[PATH_MAX];
	struct stat sb;
	char *slash;

	if (str_lcpy(path, cfg->data_dir, sizeof(path)) >= sizeof(path)) {
		cli_error("data_dir %s: path too long", cfg->data_dir);
		return -1;
	}
	if (stat(path, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			cli_error("data_dir %s is not a directory", cfg->data_dir);
			return -1;
		}
		return 0;
	}
	for (;;) {
		if (errno != ENOENT) {
			cli_error("data_dir %s cannot be created: %s: %s", cfg->data_dir, path, strerror(errno));
			return -1;
		}
		slash = strrchr(path, '/');
		if (slash == NULL)
			str_lcpy(path, ".", sizeof(path));
		else if (slash == path)
			path[1] = '\0';
		else
			*slash = '\0';
		if (stat(path, &sb) == 0)
			break;
	}
	if (!S_ISDIR(sb.st_mode)) {
		cli_error("data_dir %s cannot be created: %s is not a directory", cfg->data_dir, path);
		return -1;
	}
	if (access(path, W_OK | X_OK) != 0) {
		cli_error("data_dir %s cannot be created: %s: %s", cfg->data_dir, path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
check_user(const struct tern_config *cfg)
{
	struct passwd *pw;

	if (cfg->user[0] == '\0') {
		if (geteuid() == 0)
			fprintf(stderr, "tern: warning: [server] user is not set: tern serve started as root would "
			                "keep running as root; set it to an unprivileged user (such as tern)\n");
		return 0;
	}
	pw = getpwnam(cfg->user);
	if (pw == NULL) {
		cli_error("[server] user %s: no such user", cfg->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		cli_error("[server] user %s is root: choose an unprivileged user", cfg->user);
		return -1;
	}
	return 0;
}

static int
config_check(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	int r, bad = 0;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, config_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_load_config(ctx, &cfg) != 0)
		return CLI_EXIT_ERROR;
	bad |= check_tls(&cfg) != 0;
	bad |= check_data_dir(&cfg) != 0;
	bad |= check_user(&cfg) != 0;
	if (bad)
		return CLI_EXIT_ERROR;
	config_print(&cfg, stdout);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

int
cli_config(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "check", config_check },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, config_usage);
}
