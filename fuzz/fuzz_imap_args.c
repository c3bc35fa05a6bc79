/* Fuzzes the session's argument readers: one IMAP command parsed, then
 * every list and atom run through imap_flags_parse (STORE and APPEND
 * forms) and every quoted string through imap_datetime_parse.  Checks
 * the documented bounds on what they return. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_session.h"
#include "lib/arena.h"
#include "store/store_imap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
walk(const struct imap_arg *a, struct arena *ar, int depth)
{
	for (; a != NULL && depth <= IMAP_PARSE_DEPTH_MAX; a = a->next) {
		uint32_t flags;
		const char *kw, *err;
		int64_t t;

		if (a->type == IMAP_ARG_LIST || a->type == IMAP_ARG_ATOM) {
			for (int list_only = 0; list_only < 2; list_only++) {
				if (imap_flags_parse(a, list_only, ar, &flags, &kw, &err) == 0) {
					size_t words = 0;

					if ((flags & ~(uint32_t)0x1f) != 0)
						abort();
					for (const char *p = kw; *p != '\0'; p++)
						if (*p == ' ')
							words++;
					if (kw[0] != '\0' && words + 1 > STORE_KEYWORDS_MAX)
						abort();
				} else if (err == NULL) {
					abort();
				}
			}
		}
		if (a->type == IMAP_ARG_QUOTED)
			(void)imap_datetime_parse(a->str, a->len, &t);
		if (a->type == IMAP_ARG_LIST)
			walk(a->list, ar, depth + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *ar = arena_new(4096, false);
	struct imap_parse_limits lim = { .literal_max = 4096 };
	struct imap_parser *p = imap_parser_new(ar, &lim);
	struct imap_command cmd;
	struct imap_parse_error err;
	size_t used = 0;

	if (imap_parser_feed(p, (const char *)data, size, &used, &cmd, &err) == 1)
		walk(cmd.args, ar, 0);
	imap_parser_free(&p);
	arena_free(&ar);
	return 0;
}
