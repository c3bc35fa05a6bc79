/* Session commands: HELO, EHLO, RSET, NOOP, QUIT, VRFY, EXPN, HELP,
 * STARTTLS (RFC 5321 4.1.1, RFC 3207). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "auth/auth.h"
#include "smtp/smtp_session.h"

static void
set_helo(struct smtp_session *s, const char *args, bool esmtp)
{
	/* RFC 5321 4.1.4: HELO/EHLO in mid-session resets the transaction */
	smtp_tx_free(s);
	free(s->helo);
	s->helo = xstrdup(args);
	s->greeted = true;
	s->esmtp = esmtp;
}

/* HELO SP Domain   RFC 5321 4.1.1.1 */
int
smtp_cmd_helo(struct smtp_session *s, const char *args)
{
	if (smtp_parse_helo(args) != SMTP_PARSE_OK)
		return smtp_error(s, 501, "5.5.4", "Syntax: HELO hostname");
	set_helo(s, args, false);
	conn_printf(s->c, "250 %s\r\n", s->cfg->hostname);
	return 0;
}

/* EHLO SP ( Domain / address-literal )   RFC 5321 4.1.1.1 */
int
smtp_cmd_ehlo(struct smtp_session *s, const char *args)
{
	const char *ext[16];
	size_t n = 0, i;
	char size[32];

	if (smtp_parse_helo(args) != SMTP_PARSE_OK)
		return smtp_error(s, 501, "5.5.4", "Syntax: EHLO hostname");
	set_helo(s, args, true);

	snprintf(size, sizeof(size), "SIZE %" PRIu64, s->cfg->max_message_size);
	ext[n++] = "PIPELINING";            /* RFC 2920 */
	ext[n++] = size;                    /* RFC 1870 */
	ext[n++] = "8BITMIME";              /* RFC 6152 */
	ext[n++] = "ENHANCEDSTATUSCODES";   /* RFC 2034 */
	ext[n++] = "SMTPUTF8";              /* RFC 6531 */
	ext[n++] = "CHUNKING";              /* RFC 3030 */
	ext[n++] = "DSN";                   /* RFC 3461 */
	if (conn_tls_available(s->c) && !conn_tls_active(s->c))
		ext[n++] = "STARTTLS";      /* RFC 3207 */
	if (smtp_is_submission(s) && smtp_auth_allowed_here(s)) {
		/* RFC 4954; OAUTHBEARER is RFC 7628, XOAUTH2 what Outlook,
		 * Thunderbird and Gmail's clients send. */
		bool passwords = s->cfg->basic != BASIC_OFF, tokens = auth_oauth_enabled();

		if (passwords && tokens)
			ext[n++] = "AUTH PLAIN LOGIN OAUTHBEARER XOAUTH2";
		else if (passwords)
			ext[n++] = "AUTH PLAIN LOGIN";
		else if (tokens)
			ext[n++] = "AUTH OAUTHBEARER XOAUTH2";
	}
	if (smtp_burl_offered(s))
		ext[n++] = "BURL imap";             /* RFC 4468: URLs of this server's IMAP */

	conn_printf(s->c, "250-%s\r\n", s->cfg->hostname);
	for (i = 0; i < n; i++)
		conn_printf(s->c, "250%c%s\r\n", i + 1 < n ? '-' : ' ', ext[i]);
	return 0;
}

/* RSET   RFC 5321 4.1.1.5 */
int
smtp_cmd_rset(struct smtp_session *s, const char *args)
{
	if (args[0] != '\0')
		return smtp_error(s, 501, "5.5.4", "Syntax: RSET");
	smtp_tx_free(s);
	return smtp_reply(s, 250, "2.0.0", "Ok");
}

/* NOOP [ SP String ]   RFC 5321 4.1.1.9 */
int
smtp_cmd_noop(struct smtp_session *s, const char *args)
{
	return smtp_reply(s, 250, "2.0.0", "Ok");
}

/* QUIT   RFC 5321 4.1.1.10 */
int
smtp_cmd_quit(struct smtp_session *s, const char *args)
{
	smtp_reply(s, 221, "2.0.0", "Bye");
	conn_close(s->c);
	return 0;
}

/* VRFY SP String   RFC 5321 4.1.1.6, 7.3: 252 so that nobody learns
 * which users exist. */
int
smtp_cmd_vrfy(struct smtp_session *s, const char *args)
{
	if (args[0] == '\0')
		return smtp_error(s, 501, "5.5.4", "Syntax: VRFY address");
	return smtp_reply(s, 252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
}

/* EXPN   RFC 5321 7.3: lists are not disclosed. */
int
smtp_cmd_expn(struct smtp_session *s, const char *args)
{
	return smtp_error(s, 502, "5.5.1", "EXPN not available");
}

/* HELP [ SP String ]   RFC 5321 4.1.1.8 */
int
smtp_cmd_help(struct smtp_session *s, const char *args)
{
	return smtp_reply(s, 214, "2.0.0",
	                  "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
}

/* STARTTLS   RFC 3207 4 */
int
smtp_cmd_starttls(struct smtp_session *s, const char *args)
{
	if (args[0] != '\0')
		return smtp_error(s, 501, "5.5.4", "Syntax: STARTTLS");
	if (conn_tls_active(s->c))
		return smtp_error(s, 503, "5.5.1", "TLS already active");
	if (!conn_tls_available(s->c))
		return smtp_error(s, 502, "5.5.1", "STARTTLS not available");
	if (s->tx != NULL)
		return smtp_error(s, 503, "5.5.1", "Mail transaction in progress");
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	if (conn_starttls(s->c) == -1) {
		/* cannot happen: TLS was available a moment ago */
		log_warnx("smtp %s starttls failed", conn_id(s->c));
		conn_close(s->c);
		return 0;
	}
	/* RFC 3207 4.2: forget everything learnt before TLS.  The pipelined
	 * input was thrown away by conn_starttls (CVE-2011-0411). */
	free(s->helo);
	s->helo = NULL;
	free(s->auth_user);
	s->auth_user = NULL;
	s->greeted = false;
	s->esmtp = false;
	/* conn turns the idle timer off for the handshake: set it again on
	 * the first input over TLS */
	s->rearm_timeout = true;
	return 0;
}
