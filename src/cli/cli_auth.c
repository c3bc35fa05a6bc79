/* tern auth blocked | tern auth unblock ADDRESS|CIDR: the brute-force and
 * spraying defence's block list (src/auth/penalty.h), in the penalty.db
 * file of the data directory.  Works while the server runs: SQLite WAL lets
 * both use the file, and the server notices an unblock within
 * PENALTY_POLL_SEC. */
#include "cli/cli_auth.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "auth/penalty.h"

static const char auth_usage[] =
	"usage: tern auth blocked\n"
	"       tern auth unblock ADDRESS|CIDR\n"
	"\n"
	"Shows and lifts the blocks that the brute-force and password-spraying\n"
	"defence puts on client addresses and networks (an IPv4 address or /24,\n"
	"an IPv6 /64 or /48).\n"
	"\n"
	"  blocked            list blocked sources: source, blocked until (UTC), reason\n"
	"  unblock SOURCE     lift every block on SOURCE or overlapping it (unblocking\n"
	"                     an address also lifts a block on its network) and forget\n"
	"                     its failed logins; \"unparseable\" names the bucket of\n"
	"                     addresses that could not be parsed.  A running server\n"
	"                     notices within a few seconds.\n";

static const char blocked_usage[] =
	"usage: tern auth blocked\n"
	"\n"
	"Lists the blocked client addresses and networks with the time their block\n"
	"ends (UTC) and why; prints \"nothing is blocked\" when the list is empty.\n";

static const char unblock_usage[] =
	"usage: tern auth unblock ADDRESS|CIDR\n"
	"\n"
	"Lifts every block on ADDRESS|CIDR or overlapping it, and forgets its failed\n"
	"logins.  Examples: 192.0.2.7, 192.0.2.0/24, 2001:db8:1:2::/64, unparseable.\n";

/* The state (auth_penalty_state): 1 there, 0 when the file in data_dir
 * does not exist yet (nothing was ever blocked: do not create it, and so
 * not as the wrong user), -1 on error.  PostgreSQL is always there. */
static int
state_path(struct cli_ctx *ctx, char *path, size_t size)
{
	static struct tern_config cfg;
	struct stat st;

	if (cli_load_config(ctx, &cfg) != 0)
		return -1;
	if (auth_penalty_state(&cfg, path, size) != 0) {
		cli_error("data_dir is too long");
		return -1;
	}
	if (cfg.directory.postgresql)
		return 1;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		cli_error("%s: %s", path, strerror(errno));
		return -1;
	}
	return 1;
}

/* Run as root, SQLite may create the -wal and -shm files owned by root,
 * which the server (an unprivileged user) could then not open: give them to
 * the database file's owner. */
static void
fix_owner(const char *path)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	struct stat st;
	char side[PATH_MAX + 8];

	if (geteuid() != 0 || stat(path, &st) != 0 || st.st_uid == 0)
		return;
	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(side, sizeof(side), "%s%s", path, suffix[i]);
		if (chown(side, st.st_uid, st.st_gid) != 0 && errno != ENOENT)
			cli_error("warning: cannot give %s to uid %u: %s", side, (unsigned)st.st_uid, strerror(errno));
	}
}

static struct penalty *
open_state(const char *path)
{
	struct penalty_config cfg;
	struct penalty *p;
	const char *error = NULL;

	penalty_config_default(&cfg);
	cfg.state_path = path;
	if ((p = penalty_new(&cfg, &error)) == NULL) {
		cli_error("%s", error);
		return NULL;
	}
	fix_owner(path);
	return p;
}

static void
print_block(const char *source, time_t until, const char *why, void *arg)
{
	char date[32];
	struct tm tm;

	if (gmtime_r(&until, &tm) == NULL || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(date, sizeof(date), "%lld", (long long)until);
	printf("%-24s %s  %s\n", source, date, why);
}

static int
auth_blocked_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	char path[PATH_MAX];
	struct penalty *p;
	int r, n;

	r = cli_parse(ctx, argc, argv, NULL, NULL, 0, 0, NULL, blocked_usage);
	if (r != CLI_CONTINUE)
		return r;
	if ((r = state_path(ctx, path, sizeof(path))) < 0)
		return CLI_EXIT_ERROR;
	if (r == 0) {
		printf("nothing is blocked\n");
		return CLI_EXIT_OK;
	}
	if ((p = open_state(path)) == NULL)
		return CLI_EXIT_ERROR;
	n = penalty_list_blocked(p, time(NULL), print_block, NULL);
	if (n == 0)
		printf("nothing is blocked\n");
	penalty_free(&p);
	return CLI_EXIT_OK;
}

static int
auth_unblock_cmd(struct cli_ctx *ctx, int argc, char **argv)
{
	char path[PATH_MAX];
	const char *pos[1], *error = NULL;
	unsigned char addr[16];
	unsigned prefix;
	struct penalty *p;
	int r, n;

	r = cli_parse(ctx, argc, argv, NULL, pos, 1, 1, NULL, unblock_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (strcmp(pos[0], "unparseable") != 0 && penalty_parse_cidr(pos[0], addr, &prefix) != 0)
		return cli_usage_error(unblock_usage, "\"%s\" is not an IP address or CIDR network", pos[0]);
	if ((r = state_path(ctx, path, sizeof(path))) < 0)
		return CLI_EXIT_ERROR;
	if (r == 0) {
		printf("nothing blocked matches %s\n", pos[0]);
		return CLI_EXIT_OK;
	}
	if ((p = open_state(path)) == NULL)
		return CLI_EXIT_ERROR;
	n = penalty_unblock(p, pos[0], time(NULL), &error);
	penalty_free(&p);
	if (n < 0) {
		cli_error("%s", error);
		return CLI_EXIT_ERROR;
	}
	if (n == 0)
		printf("nothing blocked matches %s (its failed logins are forgotten)\n", pos[0]);
	else
		printf("unblocked %d source%s matching %s\n", n, n == 1 ? "" : "s", pos[0]);
	return CLI_EXIT_OK;
}

int
cli_auth(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "blocked", auth_blocked_cmd },
		{ "unblock", auth_unblock_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, auth_usage);
}
