/* tern alias add|del|list */
#include "cli/cli.h"

#include "directory/directory.h"

static const char alias_usage[] =
	"usage: tern alias add ALIAS TARGET\n"
	"       tern alias del ALIAS [TARGET]\n"
	"       tern alias list\n"
	"\n"
	"Mail to ALIAS (an address in a local domain) is delivered to TARGET, a\n"
	"local user or an address elsewhere.  Add several targets to fan out.\n"
	"Without TARGET, del removes every target of ALIAS.\n";

static int
alias_add(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[2], *error;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, pos, 2, 2, NULL, alias_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_alias_add(dir, pos[0], pos[1], &error);
	if (r != 0)
		cli_error("%s", error);
	else
		printf("alias %s -> %s added\n", pos[0], pos[1]);
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int
alias_del(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[2] = { NULL, NULL }, *error;
	size_t npos;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, pos, 1, 2, &npos, alias_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_alias_del(dir, pos[0], npos > 1 ? pos[1] : NULL, &error);
	if (r != 0)
		cli_error("%s", error);
	else if (npos > 1)
		printf("alias %s -> %s deleted\n", pos[0], pos[1]);
	else
		printf("alias %s deleted\n", pos[0]);
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static void
print_alias(const char *alias, const char *target, void *arg)
{
	printf("%s -> %s\n", alias, target);
}

static int
alias_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *error;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, alias_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_alias_list(dir, print_alias, NULL, &error);
	if (r != 0)
		cli_error("%s", error);
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

int
cli_alias(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add", alias_add },
		{ "del", alias_del },
		{ "list", alias_list },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, alias_usage);
}
