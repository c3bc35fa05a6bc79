/* tern user app-password add|list|revoke (cli_user_apppw.c).  Kept out of
 * cli.h only because that header belongs to another helper at the moment;
 * it can move there. */
#ifndef TERN_CLI_USER_APPPW_H
#define TERN_CLI_USER_APPPW_H

#include "cli/cli.h"

/* argv[0] is "app-password"; returns the exit status. */
int cli_user_apppw(struct cli_ctx *ctx, int argc, char **argv);

#endif
