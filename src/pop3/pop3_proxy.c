/* POP3 on a proxy ([server] role = proxy): the login was checked here
 * (pop3_cmd_auth.c) and the mailbox is on a back end, so src/proxy makes
 * the hop (XCLIENT with the client's address, then AUTH PLAIN as the
 * proxy); the client's PASS or AUTH gets "+OK" or, when the back end
 * cannot be reached, "-ERR [SYS/TEMP]" (RFC 3206).  Then every byte is
 * relayed.  On a back end, XCLIENT from a trusted proxy names the client
 * for logs and penalties, as Dovecot's POP3 proxy does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "pop3/pop3_session.h"
#include "proxy/proxy.h"

static void
hop_ready(void *arg, const char *caps)
{
	struct pop3_session *s = arg;

	s->proxied = true;
	s->state = POP3_STATE_TRANSACTION;
	conn_set_authenticated(s->c);
	conn_set_timeout(s->c, POP3_TIMEOUT_SEC);
	conn_puts(s->c, "+OK Logged in.\r\n");
	proxy_relay(s->proxy);
	pop3_unbusy(s);
}

static void
hop_failed(void *arg, const char *why)
{
	struct pop3_session *s = arg;

	proxy_free(&s->proxy);
	name_count_release(&pop3_userip_count, &s->userip_slot);
	free(s->mailbox_user);
	s->mailbox_user = NULL;
	pop3_unbusy(s);
	pop3_err(s, "[SYS/TEMP] Your mailbox server cannot be reached now, try again later.");
}

static const struct proxy_callbacks hop_callbacks = {
	.ready = hop_ready,
	.failed = hop_failed,
};

void
pop3_proxy_start(struct pop3_session *s, const char *user, const struct proxy_target *target)
{
	struct proxy_params p;

	proxy_params_init(&p, PROXY_POP3, s->cfg, s->c, user, target);

	free(s->mailbox_user);
	s->mailbox_user = xstrdup(user);
	pop3_busy(s);
	s->proxy = proxy_start(s->c, &p, &hop_callbacks, s);
	if (s->proxy == NULL)
		hop_failed(s, "no socket");
}

void
pop3_proxy_input(struct pop3_session *s)
{
	proxy_client_input(s->proxy);
}

void
pop3_proxy_drained(struct pop3_session *s)
{
	proxy_client_drained(s->proxy);
}

void
pop3_cmd_xclient(struct pop3_session *s, const struct pop3_command *cmd)
{
	char addr[sizeof(s->orig_addr)], args[256];
	unsigned port;

	if (!auth_proxy_trusted(conn_peer_addr(s->c))) {
		pop3_client_error(s, "You are not allowed to use XCLIENT.");
		return;
	}
	if (cmd->args_len >= sizeof(args)) {
		pop3_client_error(s, "XCLIENT line too long.");
		return;
	}
	memcpy(args, cmd->args, cmd->args_len);
	args[cmd->args_len] = '\0';
	if (proxy_xclient_parse(args, addr, sizeof(addr), &port) != 0) {
		pop3_client_error(s, "XCLIENT takes ADDR=address [PORT=port].");
		return;
	}
	snprintf(s->orig_addr, sizeof(s->orig_addr), "%s", addr);
	s->orig_port = port;
	pop3_ok(s, "Client address noted.");
}

const char *
pop3_client_addr(const struct pop3_session *s)
{
	return s->orig_addr[0] != '\0' ? s->orig_addr : conn_peer_addr(s->c);
}
