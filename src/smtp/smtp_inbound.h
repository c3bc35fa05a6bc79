/* The inbound checks' step of port-25 delivery (smtp_inbound.c). */
#ifndef TERN_SMTP_INBOUND_H
#define TERN_SMTP_INBOUND_H

#include <stdbool.h>

#include "lib/limits.h"
#include "store/store.h"

struct smtp_inbound {
	/* input, owned by the session (busy while the job runs) */
	const char *log_id;
	const char *authserv_id;       /* [server] hostname */
	const char *peer_ip;
	const char *helo;
	const char *mail_from;         /* "" for the null sender */
	bool enforce;                  /* [inbound] dmarc_enforce */
	/* output */
	bool reject;                   /* DMARC fail with effective p=reject */
	char reject_domain[DOMAIN_MAX + 1];
};

/* Runs SPF, DKIM and DMARC on the complete spool file and, unless the
 * message is to be rejected, replaces the spool file with one that
 * starts with Authentication-Results (forged ones claiming our hostname
 * dropped).  From the delivery worker job, before store_spool_commit().
 * Returns 0 (also when the checks could not run: the message goes on
 * unchecked, logged), or -1 with *err_out if the spool could not be
 * rewritten. */
int smtp_inbound_check(const char *data_dir, struct store_spool *sp, struct smtp_inbound *in,
                       enum store_error *err_out);

#endif
