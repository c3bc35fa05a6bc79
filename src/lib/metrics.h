/* Process-wide figures for Prometheus (GET /metrics on the https
 * listener): fixed names, atomic counters and gauges, one histogram with
 * fixed buckets.  Every update is one relaxed atomic operation (two for
 * the histogram): no lock, no allocation, callable from any thread.
 *
 * Services are small indexes (the callers' enum service, below
 * METRICS_SERVICES_MAX); their names are given only when rendering, so
 * this file needs no configuration.  The list of metrics and what each
 * one counts is in docs/OPERATIONS.md, "Metrics". */
#ifndef TERN_METRICS_H
#define TERN_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"

#define METRICS_SERVICES_MAX 16

/* Which protocol a login was for (labels of tern_logins_total). */
enum metrics_proto {
	METRICS_PROTO_IMAP,
	METRICS_PROTO_POP3,
	METRICS_PROTO_SUBMISSION,
	METRICS_PROTO_SETTINGS,     /* the users' settings page (src/http/http_settings.c) */
};
#define METRICS_PROTO_COUNT 4

/* Which protocol a command was in (labels of tern_commands_total). */
enum metrics_cmd {
	METRICS_CMD_IMAP,
	METRICS_CMD_POP3,
	METRICS_CMD_SMTP,           /* port 25 and submission */
	METRICS_CMD_HTTP,           /* a request */
};
#define METRICS_CMD_COUNT 4

enum metrics_delivery {
	METRICS_DELIVERY_SENT,
	METRICS_DELIVERY_DEFERRED,
	METRICS_DELIVERY_BOUNCED,
};
#define METRICS_DELIVERY_COUNT 3

/* A connection was accepted on / closed from a listener of service. */
void metrics_conn_open(unsigned service);
void metrics_conn_close(unsigned service);
/* A login attempt ended: ok, or any refusal (bad password, blocked...). */
void metrics_login(enum metrics_proto proto, bool ok);
/* A client's command was dispatched (a known verb, about to run). */
void metrics_command(enum metrics_cmd proto);
/* An SMTP message ended: accepted (stored or queued) or rejected.
 * submission: it came in on a submission port (else port 25). */
void metrics_smtp_message(bool submission, bool accepted);
/* One recipient's delivery attempt by the queue runner ended. */
void metrics_delivery(enum metrics_delivery result);
/* The queue runner's entries, and the queued_at (Unix seconds) of the
 * oldest one (0: the queue is empty). */
void metrics_queue_set(uint64_t entries, int64_t oldest_queued_at);
/* A server-side TLS handshake ended. */
void metrics_tls_handshake(bool ok);
/* The brute-force defence blocked a source. */
void metrics_penalty_block(void);
/* A store delivery's COMMIT took usec microseconds. */
void metrics_store_commit(uint64_t usec);

/* Appends every metric to out in the text exposition format 0.0.4;
 * service_names[i] labels service i (i < nservices, at most
 * METRICS_SERVICES_MAX).  now: Unix seconds, for the queue's age. */
void metrics_render(struct buf *out, const char *const *service_names, unsigned nservices, int64_t now);

#endif
