/* tern auth blocked|unblock (cli_auth.c).  Kept out of cli.h only because
 * the existing headers are not this helper's to change; it can move there. */
#ifndef TERN_CLI_AUTH_H
#define TERN_CLI_AUTH_H

#include "cli/cli.h"

/* argv[0] is "auth"; returns the exit status. */
int cli_auth(struct cli_ctx *ctx, int argc, char **argv);

#endif
