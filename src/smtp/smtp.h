/* SMTP: inbound (port 25) and submission (587, 465) sessions. */
#ifndef TERN_SMTP_H
#define TERN_SMTP_H

#include <stddef.h>

#include "lib/conn.h"

/* listener_arg is a struct listener_ctx (server/listener.h). */
extern const struct conn_handler smtp_conn_handler;

/* BURL (RFC 4468) on submission takes message data from an IMAP URL of
 * the logged-in user's own mailboxes.  src/smtp cannot read IMAP URLs
 * (protocol folders do not include each other): the server hands it the
 * IMAP module's reader, and BURL is offered ("BURL imap" after AUTH) only
 * once it has one.  The reader runs on a worker thread: it gives what url
 * (len octets) names to sink (which returns 0, or -1 to stop) and returns
 * 0, 1 when the URL is refused or names nothing (*error_out, static), or
 * -1 when the store cannot be read now. */
typedef int smtp_burl_sink_fn(void *arg, const char *data, size_t len);
typedef int smtp_burl_fetch_fn(const char *data_dir, const char *user, const char *url, size_t len,
                               smtp_burl_sink_fn *sink, void *arg, const char **error_out);
void smtp_set_burl_fetch(smtp_burl_fetch_fn *fn);

#endif
