/* Return-Path and Received header fields (see smtp_received.h). */
#include <stdio.h>
#include <string.h>

#include "smtp/smtp_received.h"

const char *
smtp_with_keyword(bool esmtp, bool tls, bool auth, bool utf8)
{
	static const char *const esmtp_names[4] = { "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA" };
	static const char *const utf8_names[4] = { "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA", "UTF8SMTPSA" };
	unsigned i = (tls ? 1u : 0u) | (auth ? 2u : 0u);

	if (!esmtp)
		return "SMTP";   /* HELO: no extensions, so neither AUTH nor SMTPUTF8 */
	return utf8 ? utf8_names[i] : esmtp_names[i];
}

void
smtp_rfc5322_date(time_t t, char out[SMTP_DATE_MAX])
{
	static const char *const days[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;
	char sign = '+';

	if (localtime_r(&t, &tm) == NULL) {
		time_t zero = 0;

		gmtime_r(&zero, &tm);
	}
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	snprintf(out, SMTP_DATE_MAX, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", days[tm.tm_wday % 7],
	         tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
	         (off / 60) % 100, off % 60);
}

void
smtp_received_build(struct buf *out, const struct smtp_trace *t)
{
	char date[SMTP_DATE_MAX];
	bool v6 = strchr(t->peer_addr, ':') != NULL;

	if (t->return_path != NULL)
		buf_printf(out, "Return-Path: <%s>\r\n", t->return_path);
	/* "from" Extended-Domain: the HELO name, then the address as a
	 * TCP-info comment (no reverse DNS is looked up). */
	buf_printf(out, "Received: from %s ([%s%s])\r\n", t->helo, v6 ? "IPv6:" : "", t->peer_addr);
	if (t->tls != NULL)
		buf_printf(out, "\t(using %s)\r\n", t->tls);
	buf_printf(out, "\tby %s (Tern) with %s id %s", t->hostname, t->with, t->id);
	if (t->for_rcpt != NULL)
		buf_printf(out, "\r\n\tfor <%s>", t->for_rcpt);
	smtp_rfc5322_date(t->when, date);
	buf_printf(out, ";\r\n\t%s\r\n", date);
}
