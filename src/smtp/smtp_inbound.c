/* The checks of mail arriving on port 25 (mailauth.h), run in the
 * delivery worker job once the message is complete: SPF, DKIM, DMARC,
 * the Authentication-Results field put on top of the spool file, and the
 * DMARC reject decision. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "mailauth/mailauth.h"
#include "smtp/smtp_inbound.h"

int
smtp_inbound_check(const char *data_dir, struct store_spool *sp, struct smtp_inbound *in, enum store_error *err_out)
{
	struct mailauth_msg m = {
		.authserv_id = in->authserv_id,
		.peer_ip = in->peer_ip,
		.helo = in->helo,
		.mail_from = in->mail_from,
	};
	struct mailauth_result *r;
	const char *error = NULL;
	struct stat sb;
	int ret = 0;

	in->reject = false;
	if (!mailauth_enabled())
		return 0;
	/* the spool fd is write-only: read the file through its own fd */
	m.fd = open(sp->path, O_RDONLY | O_CLOEXEC);
	if (m.fd == -1 || fstat(m.fd, &sb) == -1) {
		log_warn("smtp %s inbound checks: cannot read %s", in->log_id, sp->path);
		if (m.fd != -1)
			close(m.fd);
		*err_out = STORE_ERR_TEMP;
		return -1;
	}
	m.size = (uint64_t)sb.st_size;
	r = calloc(1, sizeof(*r));
	if (r == NULL || mailauth_check(&m, r, &error) == -1) {
		/* unreadable header (too large): stored unchecked, as before */
		log_warnx("smtp %s inbound checks skipped: %s", in->log_id, error != NULL ? error : "out of memory");
		close(m.fd);
		free(r);
		return 0;
	}
	close(m.fd);
	log_info("smtp %s inbound spf=%s dkim=%s dmarc=%s policy=%s disposition=%s from_domain=%s forged_ar=%u",
	         in->log_id, spf_result_name(r->spf),
	         r->n_dkim == 0 ? "none" : dkim_result_name(r->dkim[0].result), dmarc_result_name(r->dmarc.result),
	         dmarc_policy_name(r->dmarc.policy), dmarc_policy_name(r->dmarc.disposition),
	         r->dmarc.from_domain[0] != '\0' ? r->dmarc.from_domain : "-", r->forged);
	/* RFC 7489 6.6.4 / 10.3: reject only on a real fail, never on temperror */
	if (in->enforce && r->dmarc.result == DMARC_RESULT_FAIL && r->dmarc.disposition == DMARC_POLICY_REJECT) {
		in->reject = true;
		snprintf(in->reject_domain, sizeof(in->reject_domain), "%s", r->dmarc.from_domain);
	} else if (store_spool_prepend(data_dir, sp, r->head, r->head_len, r->skip, err_out, &error) == -1) {
		log_warnx("smtp %s inbound: %s", in->log_id, error);
		ret = -1;
	}
	mailauth_result_free(r);
	free(r);
	return ret;
}
