/* Fuzzes the ustar header reader (src/cli/cli_tar.c) that tern user
 * import runs on an archive from elsewhere: any block parses or is
 * refused, a name it accepts is relative with no "." or ".." part, and
 * an entry it accepts survives being written and read again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char h[TAR_BLOCK] = { 0 }, again[TAR_BLOCK];
	struct tar_entry e, f;
	const char *error;

	memcpy(h, data, size < TAR_BLOCK ? size : TAR_BLOCK);
	if (tar_header_parse(h, &e, &error) != 1)
		return 0;
	if (e.name[0] == '/' || strstr(e.name, "//") != NULL || strcmp(e.name, "..") == 0 ||
	    strncmp(e.name, "../", 3) == 0 || strstr(e.name, "/../") != NULL ||
	    (strlen(e.name) >= 3 && strcmp(e.name + strlen(e.name) - 3, "/..") == 0) || e.size > TAR_SIZE_MAX)
		abort();
	if (tar_header_make(&e, again) == 0) {
		if (tar_header_parse(again, &f, &error) != 1 || strcmp(e.name, f.name) != 0 || e.size != f.size ||
		    e.dir != f.dir)
			abort();
	}
	return 0;
}
