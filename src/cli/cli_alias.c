/* tern alias add|del|list */
#include "cli/cli.h"

#include <stdlib.h>

#include "directory/directory.h"
#include "lib/xalloc.h"

static const char alias_usage[] =
	"usage: tern alias add ALIAS TARGET\n"
	"       tern alias del ALIAS [TARGET]\n"
	"       tern alias list\n"
	"\n"
	"Mail to ALIAS (an address in a local domain) is delivered to TARGET, a\n"
	"local user or an address elsewhere.  Add several targets to fan out.\n"
	"Without TARGET, del removes every target of ALIAS.\n"
	"list marks a target in a local domain that is neither a user nor an\n"
	"alias (a deleted user, say) with \"(dangling: no such user)\": mail to the\n"
	"alias bounces for it.  Remove it with tern alias del ALIAS TARGET.\n";

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

/* A row to print after the list query: the dangling check queries too. */
struct alias_row {
	char *alias, *target;
};

struct alias_rows {
	struct alias_row *v;
	size_t n, cap;
};

static void
collect_alias(const char *alias, const char *target, void *arg)
{
	struct alias_rows *rows = arg;

	if (rows->n == rows->cap) {
		rows->cap = rows->cap != 0 ? rows->cap * 2 : 64;
		rows->v = xrealloc(rows->v, rows->cap * sizeof(*rows->v));
	}
	rows->v[rows->n].alias = xstrdup(alias);
	rows->v[rows->n].target = xstrdup(target);
	rows->n++;
}

static int
alias_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	struct alias_rows rows = { NULL, 0, 0 };
	const char *error;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, alias_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_alias_list(dir, collect_alias, &rows, &error);
	for (size_t i = 0; i < rows.n; i++) {
		int dangling = r == 0 ? directory_alias_target_dangling(dir, rows.v[i].target, &error) : 0;

		if (dangling < 0)
			r = -1;
		else
			printf("%s -> %s%s\n", rows.v[i].alias, rows.v[i].target,
			       dangling > 0 ? "   (dangling: no such user)" : "");
		free(rows.v[i].alias);
		free(rows.v[i].target);
	}
	free(rows.v);
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
