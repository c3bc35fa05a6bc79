/* IMAP sessions (143 with STARTTLS, 993 implicit TLS): RFC 9051 and RFC
 * 3501 with the extensions listed in imap_capabilities(). */
#ifndef TERN_IMAP_H
#define TERN_IMAP_H

#include "lib/conn.h"

/* listener_arg is a struct listener_ctx (server/listener.h). */
extern const struct conn_handler imap_conn_handler;

#endif
