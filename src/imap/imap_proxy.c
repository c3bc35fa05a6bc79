/* The IMAP session on a proxy ([server] role = proxy): the login was
 * checked here (imap_cmd_auth.c) and the user's mailbox is on a back end,
 * so src/proxy makes the hop; the client's LOGIN or AUTHENTICATE gets the
 * back end's post-login capabilities in its OK (RFC 9051 6.2.2), or
 * NO [UNAVAILABLE] (RFC 5530) when the back end cannot be reached.  Then
 * every byte is relayed, and this session only passes its connection's
 * events on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "imap/imap_session.h"
#include "lib/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "proxy/proxy.h"

static void
hop_ready(void *arg, const char *caps)
{
	struct imap_session *s = arg;
	char *code = NULL;

	s->proxied = true;
	s->state = IMAP_STATE_AUTH;
	conn_set_authenticated(s->c);
	conn_set_timeout(s->c, IMAP_TIMEOUT_SEC);
	if (caps[0] != '\0') {
		size_t n = strlen(caps) + sizeof("CAPABILITY ");

		code = xmalloc(n);
		snprintf(code, n, "CAPABILITY %s", caps);
	}
	imap_complete(s, IMAP_OK, code, "Logged in");
	free(code);
	proxy_relay(s->proxy);
	imap_unbusy(s);
}

static void
hop_failed(void *arg, const char *why)
{
	struct imap_session *s = arg;

	proxy_free(&s->proxy);
	/* Not logged in after all: the client may try again. */
	name_count_release(&imap_userip_count, &s->userip_slot);
	free(s->user);
	s->user = NULL;
	imap_unbusy(s);
	imap_complete(s, IMAP_NO, "UNAVAILABLE", "Your mailbox server cannot be reached now, try again later.");
}

static const struct proxy_callbacks hop_callbacks = {
	.ready = hop_ready,
	.failed = hop_failed,
};

void
imap_proxy_start(struct imap_session *s, const char *user, const struct proxy_target *target)
{
	struct proxy_params p;

	proxy_params_init(&p, PROXY_IMAP, s->cfg, s->c, user, target);

	free(s->user);
	s->user = xstrdup(user);
	imap_busy(s);
	s->proxy = proxy_start(s->c, &p, &hop_callbacks, s);
	if (s->proxy == NULL)
		hop_failed(s, "no socket");
}

void
imap_proxy_input(struct imap_session *s)
{
	proxy_client_input(s->proxy);
}

void
imap_proxy_drained(struct imap_session *s)
{
	proxy_client_drained(s->proxy);
}
