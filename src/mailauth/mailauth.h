/* The checks of mail arriving on port 25: SPF (spf.h), DKIM (dkim.h) and
 * DMARC (dmarc.h), recorded in an Authentication-Results header field
 * (RFC 8601) put at the top of the stored message.
 *
 * One struct dns serves every check in the process (dns.h: its *_sync
 * lookups are made for worker threads); it asks [delivery] resolver when
 * set, with [delivery] dnssec_trust_anchor, like the queue runner's own. */
#ifndef TERN_MAILAUTH_MAILAUTH_H
#define TERN_MAILAUTH_MAILAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "mailauth/dkim.h"
#include "mailauth/dmarc.h"
#include "mailauth/spf.h"

/* Creates the process-wide resolver and loads the Public Suffix List
 * (dmarc.h), when [inbound] checks is on.  Before the loops start.
 * 0, or -1 with a malloc'd *error_out (caller frees; the checks are then
 * skipped and mail is stored without the header). */
int mailauth_start(const struct tern_config *cfg, char **error_out);
/* After the loops and workers are done. */
void mailauth_stop(void);
/* true if mailauth_start() set up the checks. */
bool mailauth_enabled(void);

struct mailauth_msg {
	const char *authserv_id;     /* our hostname, the A-R authserv-id */
	const char *peer_ip;         /* "192.0.2.1" / "2001:db8::1" */
	const char *helo;
	const char *mail_from;       /* "" for the null sender */
	int fd;                      /* the message file, readable (pread only) */
	uint64_t size;
};

struct mailauth_result {
	enum spf_result spf;
	const char *spf_reason;
	char spf_domain[DOMAIN_MAX + 1];
	size_t n_dkim;
	struct dkim_verdict dkim[DKIM_SIGS_MAX];
	struct dmarc_verdict dmarc;
	/* The new start of the message: "Authentication-Results: ...\r\n",
	 * then -- only if the message carried A-R fields claiming our
	 * authserv-id (RFC 8601 5), which are dropped -- its header section
	 * without them.  malloc'd; the file's bytes from skip on follow it. */
	char *head;
	size_t head_len;
	uint64_t skip;
	unsigned forged;             /* A-R fields dropped */
};

/* Runs the three checks on the message (blocks on DNS: worker threads
 * only) and builds *out (free with mailauth_result_free).  0, or -1 with
 * a static message if the message could not be read. */
int mailauth_check(const struct mailauth_msg *m, struct mailauth_result *out, const char **error_out);
void mailauth_result_free(struct mailauth_result *r);

/* The Authentication-Results field (RFC 8601) for r, with CRLF, folded
 * one method per line.  malloc'd, caller frees. */
char *mailauth_header(const struct mailauth_msg *m, const struct mailauth_result *r);

#endif
