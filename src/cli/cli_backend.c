/* tern backend add|del|list (issue 11) */
#include "cli/cli.h"

#include <stdio.h>

#include "directory/directory.h"

static const char backend_usage[] =
	"usage: tern backend add NAME HOST\n"
	"       tern backend del NAME\n"
	"       tern backend list\n"
	"\n"
	"Manages the back ends: the servers that hold mailboxes behind a proxy\n"
	"([server] role = proxy).  HOST is a DNS name or an IP address; the\n"
	"proxy connects to it on the ports of its [proxy] section.  A user is put\n"
	"on a back end with tern user set USER --backend NAME (or tern user add\n"
	"--backend NAME); a back end that still holds users cannot be deleted.\n"
	"list prints NAME HOST USERS, one back end a line.\n";

static int
backend_add(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[2], *error;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, pos, 2, 2, NULL, backend_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_backend_add(dir, pos[0], pos[1], &error);
	if (r != 0)
		cli_error("%s", error);
	else
		printf("back end %s added (%s)\n", pos[0], pos[1]);
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int
backend_del(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[1], *error;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, pos, 1, 1, NULL, backend_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_backend_del(dir, pos[0], &error);
	if (r != 0)
		cli_error("%s", error);
	else
		printf("back end %s deleted\n", pos[0]);
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static void
print_backend(const struct dir_backend *b, void *arg)
{
	printf("%s %s %lld\n", b->name, b->host, b->users);
}

static int
backend_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *error;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, backend_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_backend_list(dir, print_backend, NULL, &error);
	if (r != 0)
		cli_error("%s", error);
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

int
cli_backend(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add", backend_add },
		{ "del", backend_del },
		{ "list", backend_list },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, backend_usage);
}
