/* The command-line front end: `tern [--config FILE] COMMAND ...`.  One file
 * per command group; each group's entry point gets argv starting at its own
 * name and returns the process exit status. */
#ifndef TERN_CLI_H
#define TERN_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"

#ifndef TERN_VERSION
#define TERN_VERSION "0.1.0"
#endif

#define CLI_DEFAULT_CONFIG "/etc/tern/tern.conf"

/* Exit statuses. */
#define CLI_EXIT_OK    0
#define CLI_EXIT_ERROR 1   /* the command failed */
#define CLI_EXIT_USAGE 2   /* unknown command or option, missing argument */

/* What the global options set. */
struct cli_ctx {
	const char *config_path;   /* --config, else $TERN_CONFIG, else CLI_DEFAULT_CONFIG */
};

/* One option a command accepts.  An option with an argument stores it in
 * *value (the last one given wins); a flag sets *flag to true. */
struct cli_opt {
	const char *name;          /* "--role" */
	const char **value;        /* NULL for a flag */
	bool *flag;                /* NULL for an option with a value */
};

/* Parses argv[1..argc-1] (argv[0] is the command's own name): the options
 * in opts (NULL-terminated by name), "--config FILE" (stored in ctx),
 * "-h"/"--help", "--", and positional arguments, which land in pos (at most
 * pos_max; at least pos_min are required).  usage is the command's help
 * text.  Returns -1 to go on, or an exit status: CLI_EXIT_OK when help was
 * printed to stdout, CLI_EXIT_USAGE after a message and the usage on
 * stderr. */
int cli_parse(struct cli_ctx *ctx, int argc, char **argv, const struct cli_opt *opts, const char **pos,
              size_t pos_min, size_t pos_max, size_t *npos_out, const char *usage);
#define CLI_CONTINUE (-1)

/* Prints "tern: <message>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints a usage error and usage to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Loads ctx->config_path into *cfg; prints the error and returns -1. */
int cli_load_config(struct cli_ctx *ctx, struct tern_config *cfg);
struct directory;
/* Loads the config and opens the directory in its data_dir (created mode
 * 0700 if missing).  Prints the error and returns -1 on failure. */
int cli_open_directory(struct cli_ctx *ctx, struct directory **dir_out);

/* The configuration cli_open_directory loaded (valid after it succeeded). */
const struct tern_config *cli_config_loaded(void);
/* Data-file ownership: the server runs as [server] user, so a file a
 * command run as root creates in data_dir must belong to that user.
 * Gives path (if it exists) to that user when running as root and sets
 * its mode (0600 for files, 0700 for directories).  0, or -1 printed. */
int cli_own_path(const struct tern_config *cfg, const char *path);
/* cli_own_path of path and, for a directory, of everything in it (when
 * run as root with a [server] user; else nothing).  0, or -1 printed. */
int cli_own_tree(const struct tern_config *cfg, const char *path);
/* cli_own_tree of a user's mail folder (after an import wrote to it as
 * root), and cli_own_path of mail/DOMAIN and mail/.  0, or -1 printed. */
int cli_own_user_store(const struct tern_config *cfg, const char *address);
/* cli_own_path of directory.db and its -wal and -shm files. */
int cli_own_directory_files(const struct tern_config *cfg);
/* rm -r of path (symbolic links removed, not followed); what cannot be
 * removed is printed.  0 or -1. */
int cli_remove_tree(const char *path);
/* Asks a yes/no question on the terminal (stdin and stderr); true only
 * for "y" or "yes".  Call only when stdin is a terminal. */
bool cli_confirm(const char *question);

/* Reads one line of password from stdin into out (outsize bytes), without
 * its line end.  Refuses an empty or over-long password.  0 or -1 (printed). */
int cli_read_password(char *out, size_t outsize);
/* Parses "on"/"off" (also yes/no, true/false, 1/0).  0 or -1. */
int cli_parse_onoff(const char *s, bool *out);
/* Parses a quota: a size with K/M/G suffix, "0" or "unlimited".  0 or -1. */
int cli_parse_quota(const char *s, uint64_t *out);
/* Formats a size as "50M" (largest exact unit) or bytes. */
void cli_format_size(uint64_t v, char *out, size_t outsize);

/* Command groups: argv[0] is the group name ("user"). */
int cli_serve(struct cli_ctx *ctx, int argc, char **argv);
int cli_domain(struct cli_ctx *ctx, int argc, char **argv);
int cli_backend(struct cli_ctx *ctx, int argc, char **argv);
int cli_user(struct cli_ctx *ctx, int argc, char **argv);
int cli_alias(struct cli_ctx *ctx, int argc, char **argv);
int cli_config(struct cli_ctx *ctx, int argc, char **argv);
int cli_queue(struct cli_ctx *ctx, int argc, char **argv);
int cli_dkim(struct cli_ctx *ctx, int argc, char **argv);
int cli_dns(struct cli_ctx *ctx, int argc, char **argv);
int cli_init(struct cli_ctx *ctx, int argc, char **argv);
int cli_import(struct cli_ctx *ctx, int argc, char **argv);
int cli_export(struct cli_ctx *ctx, int argc, char **argv);
int cli_backup(struct cli_ctx *ctx, int argc, char **argv);
int cli_restore(struct cli_ctx *ctx, int argc, char **argv);
/* import mbox, from cli_import. */
int cli_import_mbox(struct cli_ctx *ctx, int argc, char **argv);
/* user export / user import, from cli_user (cli_user_move.c). */
int cli_user_export(struct cli_ctx *ctx, int argc, char **argv);
int cli_user_move_import(struct cli_ctx *ctx, int argc, char **argv);
/* user import-passwd, from cli_user. */
int cli_user_import(struct cli_ctx *ctx, int argc, char **argv);

/* A group's subcommand table and dispatch: finds argv[1] among cmds and
 * calls it with argv + 1; handles -h/--help and unknown names. */
struct cli_cmd {
	const char *name;
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
};
int cli_dispatch(struct cli_ctx *ctx, int argc, char **argv, const struct cli_cmd *cmds, const char *usage);

/* The top-level usage text. */
extern const char cli_main_usage[];

#endif
