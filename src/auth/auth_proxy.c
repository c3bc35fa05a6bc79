/* Logins that a proxy makes for its users on a back end (issue 11; the
 * trust between the tiers is in docs/SECURITY.md).
 *
 * A proxy that has checked a user's credentials logs in to the user's back
 * end with SASL PLAIN: authzid the user, authcid AUTH_PROXY_IDENTITY,
 * password the secret of [proxy] secret_file.  The back end accepts such a
 * login only when it runs with [server] role = backend, the connection
 * comes from an address in [backend] trusted_proxies and the secret is
 * its own (compared in constant time); the user's own switches (disabled,
 * the protocol, admin) still apply.  Anything else is a failed login,
 * counted against the connecting address like a wrong password. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "auth/auth_private.h"
#include "auth/penalty.h"
#include "directory/directory.h"
#include "lib/str.h"
#include "lib/xalloc.h"

/* Set once at start (auth_proxy_start), read by any thread after. */
static char proxy_secret[AUTH_PROXY_SECRET_MAX + 1];
static size_t proxy_secret_len;
static char trusted[sizeof(((struct tern_config *)0)->backend.trusted_proxies)];
static bool backend_role;

int
auth_proxy_read_secret(const char *path, char *out, size_t size, size_t *len_out, char **error_out)
{
	char why[PATH_MAX + 128];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;
	size_t len;

	if (fd == -1) {
		snprintf(why, sizeof(why), "cannot open %s: %s", path, strerror(errno));
		*error_out = xstrdup(why);
		return -1;
	}
	n = read(fd, out, size - 1);
	close(fd);
	if (n < 0) {
		snprintf(why, sizeof(why), "cannot read %s: %s", path, strerror(errno));
		*error_out = xstrdup(why);
		return -1;
	}
	len = (size_t)n;
	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r'))
		len--;
	out[len] = '\0';
	if (len < AUTH_PROXY_SECRET_MIN || len > AUTH_PROXY_SECRET_MAX || (size_t)n == size - 1) {
		snprintf(why, sizeof(why), "%s: the secret must be one line of %d to %d bytes", path,
		         AUTH_PROXY_SECRET_MIN, AUTH_PROXY_SECRET_MAX);
		*error_out = xstrdup(why);
		str_wipe(out, size);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)out[i] <= 0x20 || (unsigned char)out[i] >= 0x7f) {
			snprintf(why, sizeof(why), "%s: the secret must be printable ASCII without spaces", path);
			*error_out = xstrdup(why);
			str_wipe(out, size);
			return -1;
		}
	}
	*len_out = len;
	return 0;
}

int
auth_proxy_start(const struct tern_config *cfg, char **error_out)
{
	backend_role = cfg->role == SERVER_ROLE_BACKEND;
	str_lcpy(trusted, cfg->backend.trusted_proxies, sizeof(trusted));
	if (cfg->role == SERVER_ROLE_STANDALONE)
		return 0;
	return auth_proxy_read_secret(cfg->proxy.secret_file, proxy_secret, sizeof(proxy_secret), &proxy_secret_len,
	                              error_out);
}

const char *
auth_proxy_secret(void)
{
	return proxy_secret_len > 0 ? proxy_secret : NULL;
}

bool
auth_proxy_trusted(const char *peer)
{
	return backend_role && peer != NULL && penalty_addr_in_list(trusted, peer);
}

void
auth_check_proxied(struct directory *d, const struct auth_login *login, struct auth_result *out)
{
	size_t plen = login->password != NULL ? strlen(login->password) : 0;
	struct dir_user u;
	const char *error;
	int r;

	out->status = AUTH_FAILED;
	if (!auth_proxy_trusted(login->peer)) {
		out->reason = backend_role ? "proxied login from an address not in trusted_proxies"
		                           : "proxied login on a server that is not a back end";
		return;
	}
	if (strcmp(login->username, AUTH_PROXY_IDENTITY) != 0) {
		out->reason = "proxied login with an unknown proxy identity";
		return;
	}
	if (plen != proxy_secret_len || CRYPTO_memcmp(login->password, proxy_secret, plen) != 0) {
		out->reason = "proxied login with a wrong secret";
		return;
	}
	r = directory_user_get(d, login->proxy_for, &u, &error);
	if (r < 0) {
		out->status = AUTH_TEMPFAIL;
		out->reason = "directory unavailable";
		return;
	}
	if (r == 0) {
		out->reason = "proxied login for an unknown user";
		return;
	}
	auth_apply_policy(&u, login->proto, out);
	if (out->status == AUTH_OK)
		out->reason = "ok (proxied)";
	str_wipe(&u, sizeof(u));
}
