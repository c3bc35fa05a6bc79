/* Submission on a proxy ([server] role = proxy): AUTH was checked here
 * (smtp_cmd_auth.c) and the user's mailbox is on a back end, so src/proxy
 * makes the hop (XCLIENT with the client's address, EHLO, AUTH PLAIN as
 * the proxy) and the client's AUTH gets 235, or 454 4.7.0 (RFC 4954 6)
 * when the back end cannot be reached.  Then every byte is relayed: the
 * client's MAIL, RCPT and DATA go to the back end, which submits the
 * message as the user.  On a back end, XCLIENT from a trusted proxy names
 * the client for logs and penalties (Postfix's XCLIENT: a 220 greeting
 * answers it and the session starts again, EHLO first). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "proxy/proxy.h"
#include "smtp/smtp_session.h"

static void
hop_ready(void *arg, const char *caps)
{
	struct smtp_session *s = arg;

	s->proxied = true;
	conn_set_authenticated(s->c);
	conn_set_timeout(s->c, SMTP_TIMEOUT_SEC);
	smtp_reply(s, 235, "2.7.0", "Authentication successful");
	proxy_relay(s->proxy);
	conn_resume(s->c);
}

static void
hop_failed(void *arg, const char *why)
{
	struct smtp_session *s = arg;

	proxy_free(&s->proxy);
	free(s->auth_user);
	s->auth_user = NULL;
	conn_resume(s->c);
	smtp_reply(s, 454, "4.7.0", "Your mailbox server cannot be reached now, try again later");
}

static const struct proxy_callbacks hop_callbacks = {
	.ready = hop_ready,
	.failed = hop_failed,
};

void
smtp_proxy_start(struct smtp_session *s, const char *user, const struct proxy_target *target)
{
	struct proxy_params p;

	proxy_params_init(&p, PROXY_SUBMISSION, s->cfg, s->c, user, target);

	free(s->auth_user);
	s->auth_user = xstrdup(user);
	conn_pause(s->c);           /* nothing is read until the hop is made */
	s->proxy = proxy_start(s->c, &p, &hop_callbacks, s);
	if (s->proxy == NULL)
		hop_failed(s, "no socket");
}

void
smtp_proxy_input(struct smtp_session *s)
{
	proxy_client_input(s->proxy);
}

void
smtp_proxy_drained(struct smtp_session *s)
{
	proxy_client_drained(s->proxy);
}

int
smtp_cmd_xclient(struct smtp_session *s, const char *args)
{
	char addr[sizeof(s->orig_addr)];
	unsigned port;

	if (!smtp_is_submission(s) || !auth_proxy_trusted(conn_peer_addr(s->c)))
		return smtp_error(s, 550, "5.7.0", "Error: insufficient authorization");
	if (s->tx != NULL || s->auth_user != NULL)
		return smtp_error(s, 503, "5.5.1", "Error: XCLIENT not allowed now");
	if (proxy_xclient_parse(args, addr, sizeof(addr), &port) != 0)
		return smtp_error(s, 501, "5.5.4", "Syntax: XCLIENT ADDR=address [PORT=port]");
	str_lcpy(s->orig_addr, addr, sizeof(s->orig_addr));
	s->orig_port = port;
	free(s->helo);
	s->helo = NULL;
	s->greeted = false;
	s->esmtp = false;
	conn_printf(s->c, "220 %s ESMTP Tern\r\n", s->cfg->hostname);
	return 0;
}

const char *
smtp_client_addr(const struct smtp_session *s)
{
	return s->orig_addr[0] != '\0' ? s->orig_addr : conn_peer_addr(s->c);
}
