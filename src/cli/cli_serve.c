/* tern serve */
#include "cli/cli.h"

#include "lib/log.h"
#include "server/server.h"

static const char serve_usage[] =
	"usage: tern serve [--config FILE]\n"
	"\n"
	"Runs the server with the given configuration until SIGTERM or SIGINT.\n"
	"SIGHUP reloads the TLS certificate and key.\n";

int
cli_serve(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, serve_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_load_config(ctx, &cfg) != 0)
		return CLI_EXIT_ERROR;
	log_set_level((enum log_level)cfg.log_level);
	return server_run(&cfg);
}
