/* Delivery status notifications (RFC 3464): the bounce a sender gets when
 * a message could not be delivered, or is still being retried, and how
 * such a message the server writes itself is handed on (to a local
 * mailbox, or into the queue). */
#ifndef TERN_QUEUE_DSN_H
#define TERN_QUEUE_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/queue.h"

/* Most of the original header that a DSN quotes (text/rfc822-headers). */
#define QUEUE_DSN_HEADERS_MAX (64 * 1024)

struct queue_dsn_rcpt {
	const char *rcpt;
	const char *reply;        /* "550 5.1.1 <x>: User unknown", or our own words */
	const char *remote_mta;   /* host that answered, or NULL */
	const char *orcpt;        /* ORCPT= "type;xtext" (RFC 3461 4.2), or NULL */
};

/* What the notice says happened (RFC 3464 2.3.3); one kind per notice. */
enum queue_dsn_action {
	QUEUE_DSN_FAILED,         /* a bounce */
	QUEUE_DSN_DELAYED,        /* still being tried */
	QUEUE_DSN_DELIVERED,      /* NOTIFY=SUCCESS, delivered here */
	QUEUE_DSN_RELAYED,        /* NOTIFY=SUCCESS, handed to a server without DSN */
};

struct queue_dsn {
	const char *hostname;     /* Reporting-MTA, MAILER-DAEMON@hostname */
	const char *orig_id;
	const char *orig_sender;  /* envelope sender: the DSN's recipient */
	int64_t arrival;
	enum queue_dsn_action action;
	int64_t retry_until;      /* with DELAYED */
	const char *envid;        /* ENVID= (RFC 3461 4.4), or NULL */
	bool full;                /* RET=FULL: the whole message, not only its header */
	const struct queue_dsn_rcpt *rcpts;
	size_t n_rcpts;
	int orig_fd;              /* the original message; -1: none */
	uint64_t orig_size;
};

/* Writes the DSN message (CRLF lines) into a new spool file, commits it
 * and delivers it with the null sender to dsn->orig_sender: to the user's
 * INBOX when the address is local, else through the queue.  Never called
 * for a null sender.  Returns 0, or -1 with *error_out. */
int queue_dsn_send(const char *data_dir, const struct queue_dsn *dsn, const char **error_out);

/* The RFC 3463 status in a reply ("5.1.1"), or one made from its code
 * ("5.0.0", "4.0.0") into out (at least 16 bytes). */
const char *queue_dsn_status(const char *reply, char *out, size_t size);

#endif
