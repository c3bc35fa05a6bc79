/* Shared by the files of src/auth (auth.c, auth_proxy.c); not an interface
 * for other modules. */
#ifndef TERN_AUTH_PRIVATE_H
#define TERN_AUTH_PRIVATE_H

#include "auth/auth.h"
#include "directory/directory.h"

/* The account's own switches (disabled, admin, the protocol), once the
 * credentials are known right: fills out->status, reason and user. */
void auth_apply_policy(const struct dir_user *u, enum auth_protocol proto, struct auth_result *out);
/* A proxy's login for login->proxy_for (auth_proxy.c): out is cleared;
 * no penalty is consulted or recorded here (auth_check_login does). */
void auth_check_proxied(struct directory *d, const struct auth_login *login, struct auth_result *out);

#endif
