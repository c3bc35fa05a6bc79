/* Mail addresses as the directory keeps them: a dot-atom local part
 * (RFC 5321 4.1.2, at most LOCALPART_MAX) "@" a domain of LDH labels
 * (RFC 1035 2.3.1, at most DOMAIN_MAX), all in lower case.  Pure
 * functions, used by the directory, the CLI and auth. */
#ifndef TERN_DIRECTORY_ADDR_H
#define TERN_DIRECTORY_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/limits.h"

struct dir_addr {
	char address[ADDRESS_MAX + 1];  /* local@domain, lower case */
	char local[LOCALPART_MAX + 1];
	char domain[DOMAIN_MAX + 1];
};

/* Checks and lower-cases in (split at its last '@').  Returns 0, or -1 if
 * it is not an address the directory can hold. */
int dir_addr_parse(const char *in, struct dir_addr *out);
/* Checks and lower-cases a domain name into out (outsize bytes).  0 or -1. */
int dir_addr_domain(const char *in, char *out, size_t outsize);
/* true if s is a dot-atom local part (any case), within LOCALPART_MAX. */
bool dir_addr_local_valid(const char *s, size_t len);
/* Sub-addressing: "user+tag@domain" -> "user@domain" in out.  Returns 0,
 * or -1 when a has no "+tag" or nothing valid is left without it. */
int dir_addr_strip_tag(const struct dir_addr *a, struct dir_addr *out);

#endif
