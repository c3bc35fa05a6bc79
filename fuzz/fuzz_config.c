/* Fuzzes the typed config (and the ini parser beneath it):
 * config_parse_text on the input; a config that parses must print and
 * parse back to the same values. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tern_config cfg, again;
	char *error = NULL, *printed = NULL;
	size_t printed_len = 0;
	FILE *f;

	if (config_parse_text("fuzz.conf", (const char *)data, size, &cfg, &error) != 0) {
		if (error == NULL || strncmp(error, "fuzz.conf:", 10) != 0)
			abort();
		free(error);
		return 0;
	}
	if (error != NULL)
		abort();
	f = open_memstream(&printed, &printed_len);
	if (f == NULL)
		return 0;
	config_print(&cfg, f);
	fclose(f);
	if (config_parse_text("fuzz.conf", printed, printed_len, &again, &error) != 0)
		abort();
	/* A dsn's password is printed as ******** (never shown). */
	if (strstr(again.directory.dsn, "********") != NULL)
		memcpy(again.directory.dsn, cfg.directory.dsn, sizeof(cfg.directory.dsn));
	if (memcmp(&cfg, &again, sizeof(cfg)) != 0)
		abort();
	free(printed);
	return 0;
}
