/* SRS in the SMTP server (srs.h, docs/OPERATIONS.md "SRS"): the envelope
 * sender of port-25 mail forwarded to alias targets elsewhere is
 * rewritten, and bounces to the rewritten addresses are taken apart and
 * sent on to the original sender. */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "directory/directory.h"
#include "lib/log.h"
#include "smtp/smtp_session.h"
#include "srs/srs.h"

int
smtp_srs_rcpt(struct smtp_session *s, const char *addr, char out[ADDRESS_MAX + 1])
{
	const char *at = strrchr(addr, '@');
	enum srs_result r;
	char a[80];

	if (!s->cfg->delivery.srs || at == NULL || !srs_is_srs(addr) ||
	    strcasecmp(at + 1, config_srs_domain(s->cfg)) != 0)
		return 0;
	if (srs_key() == NULL) {
		/* the key could not be read at start-up (logged then) */
		smtp_reply(s, 451, "4.3.0", "<%s>: Temporary local problem, try again later", addr);
		return -1;
	}
	r = srs_reverse(srs_key(), addr, (size_t)(at - addr), (int64_t)time(NULL), SRS_MAX_AGE_DAYS, out,
	                ADDRESS_MAX + 1);
	if (r != SRS_OK) {
		/* refused here, so that no bounce of a bounce goes anywhere */
		log_info("smtp %s srs rcpt=<%s> refused reason=\"%s\"", conn_id(s->c), smtp_log_safe(addr, a, sizeof(a)),
		         srs_result_str(r));
		smtp_error(s, 550, "5.1.1", "<%s>: Recipient address rejected: %s", addr,
		           r == SRS_EXPIRED ? "SRS address expired" : "Invalid SRS address");
		return -1;
	}
	log_debug("smtp %s srs rcpt=<%s> reversed", conn_id(s->c), smtp_log_safe(addr, a, sizeof(a)));
	return 1;
}

const char *
smtp_srs_sender(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	const char *at = strrchr(tx->mail_from, '@'), *error, *srs_domain = config_srs_domain(s->cfg);
	char out[ADDRESS_MAX + 1], f[80];
	struct directory *d;
	enum srs_result r;
	int local;

	/* submission senders are local; the null sender stays null */
	if (s->service != SERVICE_SMTP || !s->cfg->delivery.srs || srs_key() == NULL || tx->remote.n == 0 ||
	    tx->mail_from[0] == '\0' || at == NULL || strcasecmp(at + 1, srs_domain) == 0)
		return NULL;
	d = directory_for_thread(s->cfg->data_dir);
	local = d == NULL ? -1 : directory_domain_is_local(d, at + 1, &error);
	if (local != 0) {
		if (local < 0)
			log_warnx("smtp %s srs: domain lookup failed, sender kept: %s", conn_id(s->c),
			          d == NULL ? "no directory" : error);
		return NULL;
	}
	r = srs_forward(srs_key(), tx->mail_from, srs_domain, (int64_t)time(NULL), out, sizeof(out));
	if (r != SRS_OK) {
		log_warnx("smtp %s srs from=<%s> not rewritten: %s", conn_id(s->c),
		          smtp_log_safe(tx->mail_from, f, sizeof(f)), srs_result_str(r));
		return NULL;
	}
	return arena_strdup(tx->arena, out);
}
