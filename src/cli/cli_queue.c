/* tern queue list|show|flush|retry|delete|hold|release
 *
 * Holds and plain deletes act on the queue files themselves; flush,
 * retry and delete-with-bounce are requests to the running server's
 * delivery agent (queue_request), which sees them at once. */
#include "cli/cli.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "queue/queue.h"

static const char queue_usage[] =
	"usage: tern queue list\n"
	"       tern queue show ID\n"
	"       tern queue flush [ID | --domain DOMAIN]\n"
	"       tern queue retry ID\n"
	"       tern queue delete [--no-bounce] ID\n"
	"       tern queue hold ID\n"
	"       tern queue release ID\n"
	"\n"
	"list     the messages waiting for delivery, oldest first: id, size, age,\n"
	"         next attempt, sender, and each recipient with its state and the\n"
	"         last reply about it\n"
	"show     one message: envelope, history, and its header\n"
	"flush    try now: every message, one, or those for one domain\n"
	"retry    release a held message and try it now\n"
	"delete   take a message out of the queue; its sender gets a bounce for\n"
	"         the recipients not yet delivered, unless --no-bounce\n"
	"hold     keep a message in the queue without trying it; release undoes\n"
	"\n"
	"The running server acts on flush, retry and delete at once; the ID is\n"
	"the one the client saw in \"250 ... queued as ID\".\n";

struct listed {
	struct queue_entry e;
	char **rcpts, **replies;
	unsigned char *states;
	char *from;
};

static const char *
state_name(unsigned char st)
{
	return st == QUEUE_RCPT_DONE ? "sent" : st == QUEUE_RCPT_FAILED ? "bounced" : "pending";
}

static void
when(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "-");
}

static void
print_entry(const struct queue_entry *e, bool long_form)
{
	char queued[32], next[32], last[32];
	int64_t now = (int64_t)time(NULL);

	when(e->queued_at, queued, sizeof(queued));
	when(e->next_attempt, next, sizeof(next));
	when(e->last_attempt, last, sizeof(last));
	printf("%s size=%llu queued=%s age=%llds attempts=%u next=%s%s from=<%s>\n", e->id,
	       (unsigned long long)e->size, queued, (long long)(now - e->queued_at), e->attempts,
	       e->held ? "held" : e->next_attempt <= now ? "now" : next, e->held ? " (held)" : "", e->mail_from);
	for (size_t i = 0; i < e->n_rcpts; i++)
		printf("  to=<%s> %s%s%s\n", e->rcpts[i], state_name(e->rcpt_state[i]),
		       e->rcpt_reply[i] != NULL ? ": " : "", e->rcpt_reply[i] != NULL ? e->rcpt_reply[i] : "");
	if (long_form) {
		printf("  last attempt=%s", last);
		if (e->warned_at != 0) {
			when(e->warned_at, last, sizeof(last));
			printf(" delay warning sent=%s", last);
		}
		putchar('\n');
	}
}

static void
list_one(const struct queue_entry *e, void *arg)
{
	unsigned *count = arg;

	print_entry(e, false);
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
	if (queue_list(cfg.data_dir, list_one, &count, &error) != 0) {
		cli_error("%s", error);
		return CLI_EXIT_ERROR;
	}
	if (count == 0)
		printf("queue is empty\n");
	else
		printf("%u message%s\n", count, count == 1 ? "" : "s");
	return CLI_EXIT_OK;
}

static void
show_one(const struct queue_entry *e, void *arg)
{
	print_entry(e, true);
}

/* The message's header, as it will be sent. */
static void
print_header(const char *data_dir, const char *id)
{
	char path[PATH_MAX + 64], buf[65536];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/queue/%s.eml", data_dir, id);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *p = buf; *p != '\0';) {
		char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		printf("  | %.*s\n", (int)len, p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
}

static int
load_id(struct cli_ctx *ctx, int argc, char **argv, const struct cli_opt *opts, struct tern_config *cfg,
        const char **id_out, size_t pos_min)
{
	const char *pos[1] = { NULL };
	int r;

	r = cli_parse(ctx, argc, argv, opts, pos, pos_min, 1, NULL, queue_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_load_config(ctx, cfg) != 0)
		return CLI_EXIT_ERROR;
	*id_out = pos[0];
	return CLI_CONTINUE;
}

static int
queue_show_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	const char *id, *error;
	int r;

	if ((r = load_id(ctx, argc, argv, NULL, &cfg, &id, 1)) != CLI_CONTINUE)
		return r;
	r = queue_get(cfg.data_dir, id, show_one, NULL, &error);
	if (r == -1) {
		cli_error("%s", error);
		return CLI_EXIT_ERROR;
	}
	if (r == 0) {
		cli_error("%s: no such message in the queue", id);
		return CLI_EXIT_ERROR;
	}
	print_header(cfg.data_dir, id);
	return CLI_EXIT_OK;
}

static void
found(const struct queue_entry *e, void *arg)
{
}

/* 0 and a message when id is not queued. */
static int
exists(const char *data_dir, const char *id)
{
	const char *error;
	int r = queue_get(data_dir, id, found, NULL, &error);

	if (r == -1)
		cli_error("%s", error);
	else if (r == 0)
		cli_error("%s: no such message in the queue", id);
	return r;
}

static int
request(const char *data_dir, const char *line)
{
	char name[PATH_MAX + 64];
	const char *error;

	if (queue_request(data_dir, line, name, sizeof(name), &error) == -1) {
		cli_error("%s", error);
		return CLI_EXIT_ERROR;
	}
	/* The server takes the request within milliseconds; if it is left,
	 * no server is running, and it is done at the next start. */
	for (int i = 0; i < 40; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (access(name, F_OK) == -1)
			return CLI_EXIT_OK;
		nanosleep(&ts, NULL);
	}
	printf("the server is not running: done when it starts\n");
	return CLI_EXIT_OK;
}

static int
queue_flush_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	const char *domain = NULL, *id;
	const struct cli_opt opts[] = { { "--domain", &domain, NULL }, { NULL, NULL, NULL } };
	char line[512];
	int r;

	if ((r = load_id(ctx, argc, argv, opts, &cfg, &id, 0)) != CLI_CONTINUE)
		return r;
	if (id != NULL && domain != NULL)
		return cli_usage_error(queue_usage, "give an ID or --domain, not both");
	if (id != NULL) {
		if (exists(cfg.data_dir, id) != 1)
			return CLI_EXIT_ERROR;
		snprintf(line, sizeof(line), "flush id %s", id);
	} else if (domain != NULL) {
		if (strlen(domain) > 253 || strpbrk(domain, " \r\n") != NULL)
			return cli_usage_error(queue_usage, "bad domain");
		snprintf(line, sizeof(line), "flush domain %s", domain);
	} else {
		snprintf(line, sizeof(line), "flush all");
	}
	return request(cfg.data_dir, line);
}

static int
hold_cmd(struct cli_ctx *ctx, int argc, char **argv, bool hold, bool then_flush)
{
	static struct tern_config cfg;
	const char *id, *error;
	char line[128];
	int r;

	if ((r = load_id(ctx, argc, argv, NULL, &cfg, &id, 1)) != CLI_CONTINUE)
		return r;
	if (queue_hold(cfg.data_dir, id, hold, &error) == -1) {
		cli_error("%s: %s", id, error);
		return CLI_EXIT_ERROR;
	}
	if (!then_flush)
		return CLI_EXIT_OK;
	snprintf(line, sizeof(line), "flush id %s", id);
	return request(cfg.data_dir, line);
}

static int
queue_hold_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	return hold_cmd(ctx, argc, argv, true, false);
}

static int
queue_release_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	return hold_cmd(ctx, argc, argv, false, false);
}

static int
queue_retry_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	return hold_cmd(ctx, argc, argv, false, true);
}

static int
queue_delete_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct tern_config cfg;
	bool no_bounce = false;
	const struct cli_opt opts[] = { { "--no-bounce", NULL, &no_bounce }, { NULL, NULL, NULL } };
	const char *id, *error;
	char line[128];
	int r;

	if ((r = load_id(ctx, argc, argv, opts, &cfg, &id, 1)) != CLI_CONTINUE)
		return r;
	if (exists(cfg.data_dir, id) != 1)
		return CLI_EXIT_ERROR;
	if (no_bounce) {
		if (queue_remove(cfg.data_dir, id, &error) == -1) {
			cli_error("%s: %s", id, error);
			return CLI_EXIT_ERROR;
		}
		return CLI_EXIT_OK;
	}
	snprintf(line, sizeof(line), "bounce %s", id);
	return request(cfg.data_dir, line);
}

int
cli_queue(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "list", queue_list_cmd },
		{ "show", queue_show_cmd },
		{ "flush", queue_flush_cmd },
		{ "retry", queue_retry_cmd },
		{ "delete", queue_delete_cmd },
		{ "hold", queue_hold_cmd },
		{ "release", queue_release_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, queue_usage);
}
