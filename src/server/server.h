/* tern serve: binds the listeners, starts one event loop per thread and the
 * worker pool, and runs until SIGTERM/SIGINT (in-flight transactions
 * finish, then exit 0).  SIGHUP reloads the TLS certificate and key. */
#ifndef TERN_SERVER_H
#define TERN_SERVER_H

#include "config/config.h"

/* Returns the process exit status. */
int server_run(const struct tern_config *cfg);

#endif
