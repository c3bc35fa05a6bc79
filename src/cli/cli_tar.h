/* The ustar archive format (POSIX.1-2008, pax, "ustar Interchange
 * Format"), the small part tern user export/import need: regular files
 * and directories, names up to 255 bytes (prefix and name), sizes up to
 * 8 GiB (11 octal digits).  Written and read here rather than through
 * libarchive (not a dependency of Tern): the format is a 512-byte header
 * per file, the data padded to 512 bytes, and two zero blocks at the end,
 * and GNU tar, bsdtar and busybox read what this writes. */
#ifndef TERN_CLI_TAR_H
#define TERN_CLI_TAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TAR_BLOCK 512
#define TAR_NAME_MAX 255
#define TAR_SIZE_MAX 077777777777ULL

struct tar_entry {
	char name[TAR_NAME_MAX + 1];   /* prefix "/" name, without a trailing '/' */
	bool dir;
	uint64_t size;
	uint32_t mode;
	int64_t mtime;
};

/* Fills a header block for e.  0, or -1 when the name or size does not
 * fit (a name over 100 bytes must split at a '/' into <= 155 + 100). */
int tar_header_make(const struct tar_entry *e, unsigned char h[TAR_BLOCK]);

/* Reads a header block: 1 an entry (e filled; its name checked: relative,
 * no "." or ".." part, no empty part), 0 the end (a zero block), -1 a bad
 * block (*error_out static): wrong checksum, a type other than a regular
 * file or a directory, a number that is not octal. */
int tar_header_parse(const unsigned char h[TAR_BLOCK], struct tar_entry *e, const char **error_out);

/* Writes a header and len bytes of data padded to a block to f.  0 or -1. */
int tar_write_file(FILE *f, const char *name, const void *data, size_t len, uint32_t mode, int64_t mtime);

#endif
