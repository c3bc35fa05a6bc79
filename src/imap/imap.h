/* IMAP sessions (143 with STARTTLS, 993 implicit TLS): RFC 9051 and RFC
 * 3501 with the extensions listed in imap_capabilities(). */
#ifndef TERN_IMAP_H
#define TERN_IMAP_H

#include <stddef.h>

#include "lib/conn.h"

/* listener_arg is a struct listener_ctx (server/listener.h). */
extern const struct conn_handler imap_conn_handler;

/* BURL's reader (RFC 4468, imap_urlauth.c), which the server hands to the
 * submission server (smtp_set_burl_fetch in smtp.h, same signature): on a
 * worker thread, reads what the absolute IMAP URL url (len octets) names
 * in user's own mailboxes and gives it to sink.  The URL is a URLAUTH URL
 * that admits the submission server acting for user (submit+user,
 * user+user, authuser) with a valid token, or a plain URL of user's own
 * mailbox.  Returns 0, 1 (refused or names nothing; *error_out static) or
 * -1 (the store cannot be read now). */
int imap_burl_fetch(const char *data_dir, const char *user, const char *url, size_t len,
                    int (*sink)(void *arg, const char *data, size_t len), void *arg, const char **error_out);

#endif
