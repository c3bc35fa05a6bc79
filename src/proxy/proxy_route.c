/* Where a user's mailbox is: its back end in the directory, resolved to
 * an address.  Runs in the login job (a worker): getaddrinfo blocks. */
#include <netdb.h>
#include <stdio.h>
#include <string.h>

#include "lib/str.h"
#include "proxy/proxy.h"

int
proxy_route(struct directory *d, const char *user, unsigned port, struct proxy_target *out,
            const char **error_out)
{
	static __thread char why[DIRECTORY_BACKEND_HOST_MAX + 128];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	struct dir_backend b;
	struct dir_user u;
	char service[8];
	int r;

	memset(out, 0, sizeof(*out));
	r = directory_user_get(d, user, &u, error_out);
	str_wipe(u.password_hash, sizeof(u.password_hash));
	if (r <= 0) {
		if (r == 0)
			*error_out = "no such user";
		return -1;
	}
	if (u.backend[0] == '\0')
		return 0;
	r = directory_backend_get(d, u.backend, &b, error_out);
	if (r <= 0) {
		if (r == 0)
			*error_out = "the user's back end is not in the directory";
		return -1;
	}
	snprintf(service, sizeof(service), "%u", port);
	r = getaddrinfo(b.host, service, &hints, &res);
	if (r != 0 || res == NULL || res->ai_addrlen > sizeof(out->addr)) {
		snprintf(why, sizeof(why), "cannot resolve %s: %s", b.host, r != 0 ? gai_strerror(r) : "no address");
		*error_out = why;
		if (res != NULL)
			freeaddrinfo(res);
		return -1;
	}
	memcpy(&out->addr, res->ai_addr, res->ai_addrlen);
	out->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	str_lcpy(out->backend, b.name, sizeof(out->backend));
	str_lcpy(out->host, b.host, sizeof(out->host));
	return 1;
}
