/* tern config check */
#include "cli/cli.h"

static const char config_usage[] =
	"usage: tern config check [--config FILE]\n"
	"\n"
	"Loads and checks the configuration, then prints the effective\n"
	"configuration (every key, defaults included) in the file's own syntax.\n"
	"On an error, prints \"file:line: message\" and exits 1.\n";

static int
config_check(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, config_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_load_config(ctx, &cfg) != 0)
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
