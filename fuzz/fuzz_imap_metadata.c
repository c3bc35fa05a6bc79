/* Fuzzes METADATA's argument readers: one command line through the real
 * IMAP parser, then every astring of it through imap_metadata_entry (for
 * GETMETADATA and for SETMETADATA) and every list through
 * imap_metadata_options.  Checks what they promise: an accepted name is
 * lowercase, begins with /private or /shared, has no empty part, no
 * control character, "*" or "%", and fits STORE_METADATA_NAME_MAX; a
 * refusal has its text; options are in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_metadata.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "store/store_metadata.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_name(const char *n, bool for_set)
{
	size_t len = strlen(n);

	if (len == 0 || len > STORE_METADATA_NAME_MAX || n[len - 1] == '/' || strstr(n, "//") != NULL)
		abort();
	if (strncmp(n, "/private", 8) != 0 && strncmp(n, "/shared", 7) != 0)
		abort();
	if (for_set && (strcmp(n, "/private") == 0 || strcmp(n, "/shared") == 0))
		abort();
	for (const char *p = n; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '*' || *p == '%' || (*p >= 'A' && *p <= 'Z'))
			abort();
}

static void
walk(const struct imap_arg *a, struct arena *ar, int depth)
{
	for (; a != NULL && depth <= IMAP_PARSE_DEPTH_MAX; a = a->next) {
		const char *s, *error;
		size_t len;

		if (imap_arg_astring(a, &s, &len)) {
			for (int set = 0; set < 2; set++) {
				char *n;

				error = NULL;
				n = imap_metadata_entry(s, len, set, ar, &error);
				if (n != NULL)
					check_name(n, set);
				else if (error == NULL)
					abort();
			}
		}
		if (a->type == IMAP_ARG_LIST) {
			uint32_t maxsize;
			int depth_opt;

			error = NULL;
			if (imap_metadata_options(a, &maxsize, &depth_opt, &error) == 0) {
				if (depth_opt < -1 || depth_opt > 1)
					abort();
			} else if (error == NULL) {
				abort();
			}
			walk(a->list, ar, depth + 1);
		}
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
