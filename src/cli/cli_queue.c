/* tern queue list */
#include "cli/cli.h"

#include <time.h>

#include "queue/queue.h"

static const char queue_usage[] =
	"usage: tern queue list\n"
	"\n"
	"Lists the messages waiting in the outbound queue, oldest first: id, size,\n"
	"date queued (UTC), sender and recipients.\n";

static void
print_entry(const struct queue_entry *e, void *arg)
{
	unsigned *count = arg;
	char date[32], size[32];
	time_t t = (time_t)e->queued_at;
	struct tm tm;
	size_t i;

	if (gmtime_r(&t, &tm) == NULL || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(date, sizeof(date), "%lld", (long long)e->queued_at);
	snprintf(size, sizeof(size), "%llu", (unsigned long long)e->size);
	printf("%s %s %s <%s>", e->id, size, date, e->mail_from != NULL ? e->mail_from : "");
	for (i = 0; i < e->n_rcpts; i++)
		printf("%s<%s>", i == 0 ? " " : ",", e->rcpts[i]);
	putchar('\n');
	(*count)++;
}

static int
queue_list_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	const char *error;
	unsigned count = 0;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, queue_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_load_config(ctx, &cfg) != 0)
		return CLI_EXIT_ERROR;
	if (queue_list(cfg.data_dir, print_entry, &count, &error) != 0) {
		cli_error("%s", error);
		return CLI_EXIT_ERROR;
	}
	if (count == 0)
		printf("queue is empty\n");
	return CLI_EXIT_OK;
}

int
cli_queue(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "list", queue_list_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, queue_usage);
}
