/* What submission (ports 587 and 465, authenticated) does to a message,
 * RFC 6409 8: missing Date and Message-ID fields are added while it
 * streams to the spool (smtp_submit_header.c), and at the end its From
 * addresses must be ones the login may send as -- the same rule as the
 * envelope sender in MAIL (directory_sender_allowed), so a user cannot
 * show another user's address to the recipient.  Port 25 never comes
 * here: a relay must not change the header (RFC 5321 leaves it to
 * submission). */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#include "directory/directory.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "smtp/smtp_from.h"
#include "smtp/smtp_received.h"
#include "smtp/smtp_session.h"
#include "smtp/smtp_submit_header.h"

void
smtp_submit_begin(struct smtp_session *s, smtp_body_sink_fn **sink, void **arg)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_submit_header *h;
	char date[SMTP_DATE_MAX], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	/* 8.2: the server's time zone, as in Received */
	smtp_rfc5322_date(now, date);
	/* 8.3: unique by the random transaction id; the time in front is
	 * Postfix's form and helps a reader place it */
	if (gmtime_r(&now, &tm) == NULL || strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%" PRId64, (int64_t)now);
	h = arena_alloc(tx->arena, sizeof(*h));
	smtp_submit_header_init(h, arena_printf(tx->arena, "Date: %s\r\n", date),
	                        arena_printf(tx->arena, "Message-ID: <%s.%s@%s>\r\n", stamp, tx->id, s->cfg->hostname),
	                        *sink, *arg);
	tx->submit = h;
	*sink = smtp_submit_header_sink;
	*arg = h;
}

int
smtp_submit_finish(struct smtp_session *s)
{
	return s->tx->submit == NULL ? 0 : smtp_submit_header_finish(s->tx->submit);
}

/* Logs the refusal, replies, and ends the transaction (the spool file
 * goes with it: nothing is stored or queued).  Returns -1. */
static int
refuse(struct smtp_session *s, const char *reason, int code, const char *enh, const char *text)
{
	struct smtp_tx *tx = s->tx;
	char from[64], user[64];

	metrics_smtp_message(s->service != SERVICE_SMTP, false);
	log_info("smtp %s message id=%s from=<%s> user=%s nrcpt=%u size=%" PRIu64
	         " result=rejected reason=\"%s\"",
	         conn_id(s->c), tx->id, smtp_log_safe(tx->mail_from, from, sizeof(from)),
	         smtp_log_safe(s->auth_user, user, sizeof(user)), tx->n_rcpt, tx->body.size, reason);
	smtp_error(s, code, enh, "%s", text);
	smtp_tx_free(s);
	return -1;
}

/* Every From address must be the login's to send as. */
static int
check_owned(struct smtp_session *s, const struct smtp_from_list *list)
{
	struct directory *d = directory_for_thread(s->cfg->data_dir);
	const char *error = "no directory";
	char addr[ADDRESS_MAX + 1], user[ADDRESS_MAX + 1], text[2 * ADDRESS_MAX + 64];
	size_t i;

	for (i = 0; i < list->n; i++) {
		int r = d == NULL ? -1 : directory_sender_allowed(d, s->auth_user, list->addr[i], &error);

		if (r < 0) {
			log_warnx("smtp %s From lookup failed: %s", conn_id(s->c), error);
			return refuse(s, "From lookup failed", 451, "4.3.0", "Temporary lookup failure");
		}
		if (r == 0) {
			/* the address is the peer's text: printable ASCII only */
			snprintf(text, sizeof(text), "<%s>: From header not owned by user %s",
			         smtp_log_safe(list->addr[i], addr, sizeof(addr)),
			         smtp_log_safe(s->auth_user, user, sizeof(user)));
			return refuse(s, "From not owned", 550, "5.7.1", text);
		}
	}
	return 0;
}

int
smtp_submit_check(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_submit_header *h = tx->submit;
	struct smtp_from_list list;
	const char *error;

	if (h == NULL)
		return 0;
	/* a From past the limit could not be seen: refuse, not guess */
	if (h->header_overflow)
		return refuse(s, "header too long", 552, "5.3.4", "Message header too long");
	/* RFC 5322 3.6: exactly one From (Gmail refuses none as 5.6.0 too) */
	if (h->n_from == 0)
		return refuse(s, "no From", 550, "5.6.0", "Message has no From header");
	if (h->n_from > 1)
		return refuse(s, "several From", 550, "5.6.0", "Message has more than one From header");
	if (h->from_overflow)
		return refuse(s, "From too long", 550, "5.6.0", "From header too long");
	if (smtp_from_parse(h->from, h->from_len, tx->arena, &list, &error) == -1)
		return refuse(s, error, 550, "5.6.0", error);
	return check_owned(s, &list);
}
