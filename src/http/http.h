/* HTTP and HTTPS: what mail clients fetch to configure themselves
 * (Mozilla autoconfig, Microsoft Autodiscover) and /healthz. */
#ifndef TERN_HTTP_H
#define TERN_HTTP_H

#include "lib/conn.h"

/* listener_arg is a struct listener_ctx (server/listener.h). */
extern const struct conn_handler http_conn_handler;

#endif
