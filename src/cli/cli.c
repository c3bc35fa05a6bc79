/* Helpers shared by the command groups: option parsing, dispatch, loading
 * the config and the directory, reading passwords. */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "directory/directory.h"
#include "lib/limits.h"
#include "lib/str.h"

void
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("tern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;

	fputs("tern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* The synopsis only (up to the first blank line); --help has the rest. */
	if (usage != NULL) {
		const char *end = strstr(usage, "\n\n");

		fwrite(usage, 1, end != NULL ? (size_t)(end - usage) + 1 : strlen(usage), stderr);
		if (end != NULL)
			fputs("(--help for more)\n", stderr);
	}
	return CLI_EXIT_USAGE;
}

static bool
is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* Matches "--name" or "--name=value" against the option name.  Returns
 * NULL if it does not match, else a pointer to "" or "=value". */
static const char *
match_opt(const char *arg, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(arg, name, n) != 0)
		return NULL;
	if (arg[n] == '\0' || arg[n] == '=')
		return arg + n;
	return NULL;
}

int
cli_parse(struct cli_ctx *ctx, int argc, char **argv, const struct cli_opt *opts, const char **pos,
          size_t pos_min, size_t pos_max, size_t *npos_out, const char *usage)
{
	size_t npos = 0;
	bool options_done = false;
	int i;

	/* Help wins over everything else on the line. */
	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (is_help(argv[i])) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
	}
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *rest;
		const struct cli_opt *o;

		if (options_done || arg[0] != '-' || arg[1] == '\0') {
			if (npos >= pos_max)
				return cli_usage_error(usage, "unexpected argument \"%s\"", arg);
			pos[npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		if ((rest = match_opt(arg, "--config")) != NULL) {
			if (*rest == '=')
				ctx->config_path = rest + 1;
			else if (i + 1 < argc)
				ctx->config_path = argv[++i];
			else
				return cli_usage_error(usage, "--config needs a file name");
			continue;
		}
		for (o = opts; o != NULL && o->name != NULL; o++) {
			if ((rest = match_opt(arg, o->name)) != NULL)
				break;
		}
		if (o == NULL || o->name == NULL)
			return cli_usage_error(usage, "unknown option \"%s\"", arg);
		if (o->flag != NULL) {
			if (*rest == '=')
				return cli_usage_error(usage, "%s takes no value", o->name);
			*o->flag = true;
		} else if (*rest == '=') {
			*o->value = rest + 1;
		} else if (i + 1 < argc) {
			*o->value = argv[++i];
		} else {
			return cli_usage_error(usage, "%s needs a value", o->name);
		}
	}
	if (npos < pos_min)
		return cli_usage_error(usage, "missing argument");
	if (npos_out != NULL)
		*npos_out = npos;
	return CLI_CONTINUE;
}

int
cli_dispatch(struct cli_ctx *ctx, int argc, char **argv, const struct cli_cmd *cmds, const char *usage)
{
	const struct cli_cmd *c;
	int i = 1;

	/* "tern user --config FILE list" */
	while (i < argc) {
		const char *rest = match_opt(argv[i], "--config");

		if (rest == NULL)
			break;
		if (*rest == '=') {
			ctx->config_path = rest + 1;
			i++;
		} else if (i + 1 < argc) {
			ctx->config_path = argv[i + 1];
			i += 2;
		} else {
			return cli_usage_error(usage, "--config needs a file name");
		}
	}
	if (i >= argc)
		return cli_usage_error(usage, "%s: missing subcommand", argv[0]);
	if (is_help(argv[i])) {
		fputs(usage, stdout);
		return CLI_EXIT_OK;
	}
	for (c = cmds; c->name != NULL; c++) {
		if (strcmp(c->name, argv[i]) == 0)
			return c->run(ctx, argc - i, argv + i);
	}
	if (argv[i][0] == '-')
		return cli_usage_error(usage, "unknown option \"%s\"", argv[i]);
	return cli_usage_error(usage, "unknown command \"%s %s\"", argv[0], argv[i]);
}

int
cli_load_config(struct cli_ctx *ctx, struct tern_config *cfg)
{
	char *error = NULL;

	if (config_load(ctx->config_path, cfg, &error) != 0) {
		fprintf(stderr, "%s\n", error != NULL ? error : "cannot load the configuration");
		free(error);
		return -1;
	}
	return 0;
}

int
cli_open_directory(struct cli_ctx *ctx, struct directory **dir_out)
{
	static struct tern_config cfg;
	const char *error;

	if (cli_load_config(ctx, &cfg) != 0)
		return -1;
	if (directory_open(cfg.data_dir, dir_out, &error) != 0) {
		cli_error("%s", error);
		return -1;
	}
	return 0;
}

int
cli_read_password(char *out, size_t outsize)
{
	struct termios old, noecho;
	bool tty = isatty(STDIN_FILENO) == 1;
	size_t len;
	int ret = -1;

	if (tty) {
		fputs("Password: ", stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			noecho = old;
			noecho.c_lflag &= ~(tcflag_t)ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
		} else {
			tty = false;
		}
	}
	if (fgets(out, (int)outsize, stdin) == NULL) {
		cli_error("no password on standard input");
		goto out;
	}
	len = strlen(out);
	if (len > 0 && out[len - 1] == '\n')
		out[--len] = '\0';
	else if (!feof(stdin)) {
		cli_error("password too long (at most %zu bytes)", outsize - 2);
		goto out;
	}
	if (len > 0 && out[len - 1] == '\r')
		out[--len] = '\0';
	if (len == 0) {
		cli_error("empty password");
		goto out;
	}
	ret = 0;
out:
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (ret != 0)
		str_wipe(out, outsize);
	return ret;
}

int
cli_parse_onoff(const char *s, bool *out)
{
	if (strcmp(s, "on") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
		*out = true;
	else if (strcmp(s, "off") == 0 || strcmp(s, "no") == 0 || strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

int
cli_parse_quota(const char *s, uint64_t *out)
{
	if (strcmp(s, "unlimited") == 0 || strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (str_parse_size(s, out) != 0 || *out > (uint64_t)INT64_MAX)
		return -1;
	return 0;
}

void
cli_format_size(uint64_t v, char *out, size_t outsize)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (u < 3 && v != 0 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(out, outsize, "%llu", (unsigned long long)v);
	else
		snprintf(out, outsize, "%llu%c", (unsigned long long)v, units[u]);
}
