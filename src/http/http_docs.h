/* The documents clients fetch, built from the configuration alone (no
 * socket, no store): the settings of the services that really listen,
 * with their ports.  Every value is escaped for its format. */
#ifndef TERN_HTTP_DOCS_H
#define TERN_HTTP_DOCS_H

#include <stddef.h>

#include "config/config.h"
#include "lib/buf.h"

/* Appends s to out with & < > " ' escaped. */
void http_xml_escape(struct buf *out, const char *s);
/* Appends s to out as JSON string contents (no quotes). */
void http_json_escape(struct buf *out, const char *s);
/* A plausible address local@domain (printable ASCII, no blanks, one '@',
 * at most ADDRESS_MAX): the one thing taken from the client. */
bool http_address_ok(const char *addr);

/* Mozilla autoconfig, clientConfig v1.1
 * (https://wiki.mozilla.org/Thunderbird:Autoconfiguration:ConfigFileFormat).
 * address: the emailaddress parameter, or NULL. */
void http_autoconfig(const struct tern_config *cfg, const char *address, struct buf *out);

/* Microsoft Autodiscover POX: the request body's EMailAddress into
 * address_out (0), or -1 (an error document is due). */
int http_autodiscover_request(const char *body, size_t len, char *address_out, size_t size);
/* The outlook/responseschema/2006a response; address may be NULL (a GET
 * probe): no LoginName then. */
void http_autodiscover(const struct tern_config *cfg, const char *address, struct buf *out);
/* The error response (ErrorCode 600, Invalid Request). */
void http_autodiscover_error(struct buf *out);

/* Whether the documents offer service s to clients: it listens, and a
 * STARTTLS port only with a certificate (without one Tern offers no
 * STARTTLS, and no client should be told to send passwords in clear). */
bool http_service_offered(const struct tern_config *cfg, enum service s);

/* "https://host[:port]" of the https listener (":port" unless 443), or
 * false when https does not listen. */
bool http_https_base(const struct tern_config *cfg, char *out, size_t size);

/* Apple configuration profile (a .mobileconfig plist with one
 * com.apple.mail.managed payload) for address (http_address_ok), with
 * the IMAP and submission ports autoconfig would offer first; unsigned.
 * Returns 0, or -1 (nothing appended) when no IMAP or no submission port
 * can be offered. */
int http_mobileconfig(const struct tern_config *cfg, const char *address, struct buf *out);

/* Whether peer (an address as text) may read /metrics with the given
 * Authorization header (or NULL): 200, 401 (a token is configured and
 * was not given, or not this one) or 403 (no token configured and peer
 * not in [http] metrics_allow). */
int http_metrics_access(const struct tern_config *cfg, const char *peer, const char *authorization);
/* The Prometheus text (format 0.0.4) of lib/metrics.h. */
void http_metrics(struct buf *out);

#endif
