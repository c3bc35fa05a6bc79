/* tern user app-password add|list|revoke: a user's app passwords (see
 * directory_apppw.c for their form and why). */
#include "cli/cli_user_apppw.h"

#include <string.h>
#include <time.h>

#include "directory/directory.h"
#include "directory/directory_addr.h"
#include "lib/limits.h"
#include "lib/str.h"

static const char apppw_usage[] =
	"usage: tern user app-password add ADDRESS NAME [--protocols LIST]\n"
	"       tern user app-password list ADDRESS\n"
	"       tern user app-password revoke ADDRESS NAME\n"
	"\n"
	"App passwords let a user give each mail client its own password, limited\n"
	"to some protocols, and revoke it alone.  add prints the new password once:\n"
	"tern keeps only a hash.  It is 16 letters in four groups; spaces and case\n"
	"do not matter when it is typed.  LIST is imap, pop3, submission (also\n"
	"spelt smtp) separated by commas, or all (the default): the names of\n"
	"tern user set --imap/--pop3/--submission.  NAME is 1 to 32 letters,\n"
	"digits, '.', '_' or '-'; a user has at most 32 app passwords.\n";

/* The first three are the single bits, in display order. */
static const struct {
	const char *name;
	unsigned bit;
} protocol_names[] = {
	{ "imap", DIR_PROTO_IMAP },
	{ "pop3", DIR_PROTO_POP3 },
	{ "submission", DIR_PROTO_SMTP },
	{ "smtp", DIR_PROTO_SMTP },          /* accepted, never printed */
	{ "all", DIR_PROTO_ALL },
};

/* Parses "imap,pop3" into DIR_PROTO_* bits.  0 or -1. */
static int
parse_protocols(const char *s, unsigned *out)
{
	const char *p = s, *end;
	size_t i, len;

	*out = 0;
	for (;;) {
		end = strchr(p, ',');
		len = end != NULL ? (size_t)(end - p) : strlen(p);
		for (i = 0; i < sizeof(protocol_names) / sizeof(protocol_names[0]); i++) {
			if (strlen(protocol_names[i].name) == len && strncasecmp(p, protocol_names[i].name, len) == 0)
				break;
		}
		if (i == sizeof(protocol_names) / sizeof(protocol_names[0]))
			return -1;
		*out |= protocol_names[i].bit;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/* "imap,pop3,smtp" for a set of bits. */
static void
format_protocols(unsigned bits, char *out, size_t outsize)
{
	size_t i, len = 0;

	out[0] = '\0';
	for (i = 0; i < 3; i++) {
		if ((bits & protocol_names[i].bit) != 0 && len < outsize)
			len += (size_t)snprintf(out + len, outsize - len, "%s%s", len > 0 ? "," : "",
			                        protocol_names[i].name);
	}
	if (out[0] == '\0')
		str_lcpy(out, "none", outsize);
}

static void
format_time(int64_t v, char *out, size_t outsize)
{
	time_t t = (time_t)v;
	struct tm tm;

	if (v == 0)
		str_lcpy(out, "never", outsize);
	else if (gmtime_r(&t, &tm) == NULL || strftime(out, outsize, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outsize, "%lld", (long long)v);
}

static int
apppw_add(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[2], *protocols_s = NULL, *error;
	char shown[DIRECTORY_APP_PASSWORD_SHOWN_LEN + 1], protos[32];
	unsigned protocols = DIR_PROTO_ALL;
	struct dir_addr a;
	int r, ret = CLI_EXIT_ERROR;
	const struct cli_opt opts[] = {
		{ "--protocols", &protocols_s, NULL },
		{ NULL, NULL, NULL },
	};

	r = cli_parse(ctx, argc, argv, opts, pos, 2, 2, NULL, apppw_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (protocols_s != NULL && parse_protocols(protocols_s, &protocols) != 0)
		return cli_usage_error(apppw_usage, "bad --protocols \"%s\": use imap, pop3, submission or all", protocols_s);
	if (!directory_app_password_name_valid(pos[1]))
		return cli_usage_error(apppw_usage,
		                       "bad name \"%s\": 1 to %d letters, digits, '.', '_' or '-', "
		                       "starting with a letter or digit",
		                       pos[1], DIRECTORY_APP_PASSWORD_NAME_MAX);
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	if (directory_app_password_create(dir, pos[0], pos[1], protocols, shown, sizeof(shown), &error) != 0) {
		cli_error("%s", error);
		goto out;
	}
	format_protocols(protocols, protos, sizeof(protos));
	printf("app password \"%s\" added for %s (%s)\n", pos[1], dir_addr_parse(pos[0], &a) == 0 ? a.address : pos[0],
	       protos);
	printf("password: %s\n", shown);
	printf("It is shown only now.  Spaces and case do not matter when it is typed.\n");
	ret = CLI_EXIT_OK;
out:
	str_wipe(shown, sizeof(shown));
	directory_close(&dir);
	return ret;
}

/* A row of the list, without the hash. */
struct apppw_row {
	char name[DIRECTORY_APP_PASSWORD_NAME_MAX + 1];
	char protocols[32];
	char created[32];
	char last_used[32];
	char last_addr[DIRECTORY_PEER_ADDR_MAX + 1];
};

struct apppw_rows {
	struct apppw_row row[DIRECTORY_APP_PASSWORDS_MAX];
	size_t n;
	size_t dropped;   /* past DIRECTORY_APP_PASSWORDS_MAX: cannot happen through add */
};

static void
collect_row(const struct dir_app_password *p, void *arg)
{
	struct apppw_rows *rows = arg;
	struct apppw_row *r;

	if (rows->n >= DIRECTORY_APP_PASSWORDS_MAX) {
		rows->dropped++;
		return;
	}
	r = &rows->row[rows->n++];
	str_lcpy(r->name, p->name, sizeof(r->name));
	format_protocols(p->protocols, r->protocols, sizeof(r->protocols));
	format_time(p->created, r->created, sizeof(r->created));
	format_time(p->last_used, r->last_used, sizeof(r->last_used));
	str_lcpy(r->last_addr, p->last_addr[0] != '\0' ? p->last_addr : "-", sizeof(r->last_addr));
}

static int
apppw_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static struct apppw_rows rows;
	struct directory *dir = NULL;
	const char *pos[1], *error;
	struct dir_addr a;
	int r, w = 4;
	size_t i;

	r = cli_parse(ctx, argc, argv, NULL, pos, 1, 1, NULL, apppw_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	rows.n = rows.dropped = 0;
	r = directory_app_password_list(dir, pos[0], collect_row, &rows, &error);
	if (r != 0)
		cli_error("%s", error);
	directory_close(&dir);
	if (r != 0)
		return CLI_EXIT_ERROR;
	if (rows.n == 0) {
		printf("no app passwords for %s\n", dir_addr_parse(pos[0], &a) == 0 ? a.address : pos[0]);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < rows.n; i++) {
		if ((int)strlen(rows.row[i].name) > w)
			w = (int)strlen(rows.row[i].name);
	}
	printf("%-*s  %-14s  %-20s  %-20s  %s\n", w, "NAME", "PROTOCOLS", "CREATED", "LAST USED", "LAST ADDRESS");
	for (i = 0; i < rows.n; i++) {
		const struct apppw_row *row = &rows.row[i];

		printf("%-*s  %-14s  %-20s  %-20s  %s\n", w, row->name, row->protocols, row->created, row->last_used,
		       row->last_addr);
	}
	if (rows.dropped > 0)
		printf("(%zu more not shown)\n", rows.dropped);
	return CLI_EXIT_OK;
}

static int
apppw_revoke(struct cli_ctx *ctx, int argc, char **argv)
{
	struct directory *dir = NULL;
	const char *pos[2], *error;
	struct dir_addr a;
	int r;

	r = cli_parse(ctx, argc, argv, NULL, pos, 2, 2, NULL, apppw_usage);
	if (r != CLI_CONTINUE)
		return r;
	if (cli_open_directory(ctx, &dir) != 0)
		return CLI_EXIT_ERROR;
	r = directory_app_password_revoke(dir, pos[0], pos[1], &error);
	if (r != 0)
		cli_error("%s", error);
	else
		printf("app password \"%s\" of %s revoked\n", pos[1],
		       dir_addr_parse(pos[0], &a) == 0 ? a.address : pos[0]);
	directory_close(&dir);
	return r == 0 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

int
cli_user_apppw(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct cli_cmd cmds[] = {
		{ "add", apppw_add },
		{ "list", apppw_list },
		{ "revoke", apppw_revoke },
		{ NULL, NULL },
	};

	return cli_dispatch(ctx, argc, argv, cmds, apppw_usage);
}
