/* tern: global options, then one command group (src/cli/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_auth.h"
#include "store/store.h"

const char cli_main_usage[] =
	"usage: tern [--config FILE] COMMAND [ARGS...]\n"
	"\n"
	"Tern, a mail server: IMAP, POP3 and SMTP.\n"
	"\n"
	"Commands:\n"
	"  init                       write a configuration and data for a new domain\n"
	"  serve                      run the server\n"
	"  domain add|del|list        manage local mail domains\n"
	"  user add|del|show|list|passwd|set|import-passwd|export|import\n"
	"                             manage users\n"
	"  user app-password add|list|revoke\n"
	"                             a user's per-client passwords, each limited to\n"
	"                             some protocols (imap, pop3, submission)\n"
	"  alias add|del|list         manage aliases\n"
	"  backend add|del|list       the back ends that hold mailboxes behind proxies\n"
	"  import maildir USER PATH   a Dovecot Maildir, keeping UIDs and POP3 UIDLs\n"
	"  import mbox USER FILE|DIR  mbox files (Gmail Takeout, Thunderbird, Outlook)\n"
	"  export maildir|mbox USER PATH\n"
	"                             a user's mail as a Dovecot Maildir (UIDs kept)\n"
	"                             or as mbox files\n"
	"  config check               check the configuration and print it in full\n"
	"  queue list                 show the outbound queue\n"
	"  auth blocked|unblock       show or lift blocks on failing client addresses\n"
	"  dkim generate|list|sign|verify\n"
	"                             DKIM signing keys (sign, verify: for testing)\n"
	"  dns records DOMAIN         the DNS records a domain needs, ready to paste\n"
	"  backup DEST [--user ADDRESS]\n"
	"                             copy data_dir while the server runs (online,\n"
	"                             consistent)\n"
	"  restore SRC [--user ADDRESS] [--force]\n"
	"                             put a backup back (whole: server stopped)\n"
	"  help [COMMAND]             show this help, or a command's\n"
	"\n"
	"Options:\n"
	"  --config FILE              configuration file (default: $TERN_CONFIG,\n"
	"                             else " CLI_DEFAULT_CONFIG ")\n"
	"  -h, --help                 show this help\n"
	"  --version                  show the version\n"
	"\n"
	"Every command takes --help.\n";

static const struct cli_cmd commands[] = {
	{ "init", cli_init },
	{ "serve", cli_serve },
	{ "domain", cli_domain },
	{ "user", cli_user },
	{ "backend", cli_backend },
	{ "alias", cli_alias },
	{ "config", cli_config },
	{ "queue", cli_queue },
	{ "auth", cli_auth },
	{ "dkim", cli_dkim },
	{ "dns", cli_dns },
	{ "import", cli_import },
	{ "export", cli_export },
	{ "backup", cli_backup },
	{ "restore", cli_restore },
	{ NULL, NULL },
};

int
main(int argc, char **argv)
{
	struct cli_ctx ctx;
	const char *env = getenv("TERN_CONFIG");
	const struct cli_cmd *c;
	int i = 1;

	store_sqlite_setup();
	ctx.config_path = env != NULL && env[0] != '\0' ? env : CLI_DEFAULT_CONFIG;
	while (i < argc && argv[i][0] == '-') {
		const char *arg = argv[i];

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(cli_main_usage, stdout);
			return CLI_EXIT_OK;
		}
		if (strcmp(arg, "--version") == 0) {
			printf("tern %s\n", TERN_VERSION);
			return CLI_EXIT_OK;
		}
		if (strcmp(arg, "--config") == 0) {
			if (i + 1 >= argc)
				return cli_usage_error(cli_main_usage, "--config needs a file name");
			ctx.config_path = argv[i + 1];
			i += 2;
			continue;
		}
		if (strncmp(arg, "--config=", 9) == 0) {
			ctx.config_path = arg + 9;
			i++;
			continue;
		}
		return cli_usage_error(cli_main_usage, "unknown option \"%s\"", arg);
	}
	if (i >= argc)
		return cli_usage_error(cli_main_usage, "missing command");
	if (strcmp(argv[i], "help") == 0) {
		/* "tern help user" is "tern user --help". */
		if (i + 1 < argc) {
			char *hargv[] = { argv[i + 1], (char *)"--help", NULL };

			for (c = commands; c->name != NULL; c++) {
				if (strcmp(c->name, argv[i + 1]) == 0)
					return c->run(&ctx, 2, hargv);
			}
			return cli_usage_error(cli_main_usage, "unknown command \"%s\"", argv[i + 1]);
		}
		fputs(cli_main_usage, stdout);
		return CLI_EXIT_OK;
	}
	for (c = commands; c->name != NULL; c++) {
		if (strcmp(c->name, argv[i]) == 0)
			return c->run(&ctx, argc - i, argv + i);
	}
	return cli_usage_error(cli_main_usage, "unknown command \"%s\"", argv[i]);
}
