/* SMTP: inbound (port 25) and submission (587, 465) sessions. */
#ifndef TERN_SMTP_H
#define TERN_SMTP_H

#include "lib/conn.h"

/* listener_arg is a struct listener_ctx (server/listener.h). */
extern const struct conn_handler smtp_conn_handler;

#endif
