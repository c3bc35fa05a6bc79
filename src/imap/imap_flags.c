/* Flag lists as FETCH, STORE and the session's updates send them
 * (RFC 9051 7.5.2 FLAGS, flag-list in section 9). */
#include <stdbool.h>
#include <string.h>

#include "imap/imap_fetch.h"
#include "lib/buf.h"
#include "store/store.h"

void
imap_flags_write(struct buf *out, uint32_t flags, const char *keywords)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} system[] = {
		{ STORE_FLAG_ANSWERED, "\\Answered" },
		{ STORE_FLAG_FLAGGED, "\\Flagged" },
		{ STORE_FLAG_DELETED, "\\Deleted" },
		{ STORE_FLAG_SEEN, "\\Seen" },
		{ STORE_FLAG_DRAFT, "\\Draft" },
	};
	bool first = true;
	size_t i;

	buf_append(out, "(", 1);
	for (i = 0; i < sizeof(system) / sizeof(system[0]); i++) {
		if ((flags & system[i].bit) == 0)
			continue;
		if (!first)
			buf_append(out, " ", 1);
		buf_puts(out, system[i].name);
		first = false;
	}
	/* keywords: space-separated atoms; stray spaces are not repeated */
	while (keywords != NULL && *keywords != '\0') {
		size_t n = strcspn(keywords, " ");

		if (n > 0) {
			if (!first)
				buf_append(out, " ", 1);
			buf_append(out, keywords, n);
			first = false;
		}
		keywords += n;
		keywords += strspn(keywords, " ");
	}
	buf_append(out, ")", 1);
}
