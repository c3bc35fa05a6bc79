/* tern domain add|del|list */
#include "cli/cli.h"

#include "directory/directory.h"

static const char domain_usage[] =
	"usage: tern domain add DOMAIN\n"
	"       tern domain del DOMAIN\n"
	"       tern domain list\n"
	"\n"
	"Manages the domains this server receives mail for.  A domain that still\n"
	"has users or aliases cannot be deleted.\n";

static int
domain_add_del(struct cli_ctx *ctx, int argc, char **argv, bool add)
{
	struct directory *dir = NULL;
	const char *pos[1], *error;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, pos, 1, 1, NULL, domain_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = add ? directory_domain_add(dir, pos[0], &error) : directory_domain_del(dir, pos[0], &error);
	if (r != 0)
		cli_error("%s", error);
	else
		printf("domain %s %s\n", pos[0], add ? "added" : "deleted");
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

static int
domain_add(struct cli_ctx *ctx, int argc, char **argv)
{
	return domain_add_del(ctx, argc, argv, true);
}

static int
domain_del(struct cli_ctx *ctx, int argc, char **argv)
{
	return domain_add_del(ctx, argc, argv, false);
}

static void
print_domain(const char *domain, void *arg)
{
	printf("%s\n", domain);
}

static int
domain_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *error;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, domain_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_domain_list(dir, print_domain, NULL, &error);
	if (r != 0)
		cli_error("%s", error);
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

int
cli_domain(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add", domain_add },
		{ "del", domain_del },
		{ "list", domain_list },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, domain_usage);
}
