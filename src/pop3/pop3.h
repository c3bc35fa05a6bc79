/* POP3 sessions (110 with STLS, 995 implicit TLS). */
#ifndef TERN_POP3_H
#define TERN_POP3_H

#include "lib/conn.h"

/* listener_arg is a struct listener_ctx (server/listener.h). */
extern const struct conn_handler pop3_conn_handler;

#endif
