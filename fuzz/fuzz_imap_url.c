/* Fuzzes the IMAP URL parser (src/imap/imap_url.c).
 *
 * Checked: the verifier's rump never passes the input's end and ends just
 * before the ":" of the mechanism; a token is hex of at least 32 digits;
 * a section or partial comes with a UID; and the owner check of an
 * accepted URL runs on what was parsed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_url.h"
#include "lib/arena.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096, false);
	struct imap_url u;
	const char *error = NULL;
	const char *s = (const char *)data;

	if (imap_url_parse(s, size, a, &u, &error) == 0) {
		if (u.rump_len > size)
			abort();
		if (u.mechanism != NULL) {
			if (u.rump_len >= size || s[u.rump_len] != ':' || strlen(u.token) < 32 ||
			    strspn(u.token, "0123456789abcdefABCDEF") != strlen(u.token))
				abort();
		} else if (u.rump_len != size) {
			abort();
		}
		if ((u.section != NULL || u.has_partial) && u.uid == 0)
			abort();
		if (u.absolute != (u.host != NULL))
			abort();
		(void)imap_url_owner_is(&u, "fred@example.com");
		(void)imap_url_access_user_is(&u, "fred@example.com");
	} else if (error == NULL) {
		abort();
	}
	arena_free(&a);
	return 0;
}
