/* ustar headers (see cli_tar.h). */
#include "cli/cli_tar.h"

#include <string.h>

/* The header's fields: offset and length (POSIX pax, ustar header). */
#define H_NAME 0, 100
#define H_MODE 100, 8
#define H_UID 108, 8
#define H_GID 116, 8
#define H_SIZE 124, 12
#define H_MTIME 136, 12
#define H_CHKSUM 148, 8
#define H_TYPE 156
#define H_MAGIC 257, 6
#define H_VERSION 263, 2
#define H_PREFIX 345, 155

static void
octal(unsigned char *h, size_t off, size_t len, uint64_t v)
{
	/* len - 1 digits and a NUL */
	h[off + len - 1] = '\0';
	for (size_t i = len - 1; i-- > 0;) {
		h[off + i] = (unsigned char)('0' + (v & 7));
		v >>= 3;
	}
}

static unsigned
checksum(const unsigned char *h)
{
	unsigned sum = 0;

	for (size_t i = 0; i < TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : h[i];
	return sum;
}

int
tar_header_make(const struct tar_entry *e, unsigned char h[TAR_BLOCK])
{
	size_t len = strlen(e->name), split = 0;

	memset(h, 0, TAR_BLOCK);
	if (len == 0 || len > TAR_NAME_MAX || e->size > TAR_SIZE_MAX)
		return -1;
	if (len > 100) {
		/* the last '/' that leaves at most 100 bytes after it */
		for (size_t i = len - 100; i < len && i <= 155; i++) {
			if (e->name[i - 1] == '/' && i - 1 <= 155) {
				split = i;
				break;
			}
		}
		if (split == 0)
			return -1;
		memcpy(h + 345, e->name, split - 1);
	}
	memcpy(h, e->name + split, len - split);
	octal(h, H_MODE, e->mode & 07777);
	octal(h, H_UID, 0);
	octal(h, H_GID, 0);
	octal(h, H_SIZE, e->dir ? 0 : e->size);
	octal(h, H_MTIME, e->mtime > 0 ? (uint64_t)e->mtime : 0);
	h[H_TYPE] = e->dir ? '5' : '0';
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	/* six digits, NUL, space: as GNU tar writes it */
	octal(h, 148, 7, checksum(h));
	h[155] = ' ';
	return 0;
}

/* An octal field: digits, then NUL or spaces. */
static int
parse_octal(const unsigned char *h, size_t off, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0, digits = 0;

	while (i < len && h[off + i] == ' ')
		i++;
	for (; i < len && h[off + i] >= '0' && h[off + i] <= '7'; i++, digits++) {
		if (v > (UINT64_MAX >> 3))
			return -1;
		v = v * 8 + (uint64_t)(h[off + i] - '0');
	}
	for (; i < len; i++) {
		if (h[off + i] != ' ' && h[off + i] != '\0')
			return -1;
	}
	if (digits == 0)
		return -1;
	*out = v;
	return 0;
}

static bool
name_ok(const char *n)
{
	if (n[0] == '\0' || n[0] == '/' || n[strlen(n) - 1] == '/')
		return false;
	for (const char *p = n; *p != '\0';) {
		size_t l = strcspn(p, "/");

		if (l == 0 || (l == 1 && p[0] == '.') || (l == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += l;
		if (*p == '/')
			p++;
	}
	return true;
}

int
tar_header_parse(const unsigned char h[TAR_BLOCK], struct tar_entry *e, const char **error_out)
{
	uint64_t sum, v;
	size_t plen = 0, nlen = 0;

	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i < TAR_BLOCK; i++) {
		if (h[i] != 0)
			break;
		if (i == TAR_BLOCK - 1)
			return 0;
	}
	if (parse_octal(h, H_CHKSUM, &sum) != 0 || sum != checksum(h)) {
		*error_out = "bad header checksum";
		return -1;
	}
	if (memcmp(h + 257, "ustar", 5) != 0) {
		*error_out = "not a ustar header";
		return -1;
	}
	while (plen < 155 && h[345 + plen] != '\0')
		plen++;
	while (nlen < 100 && h[nlen] != '\0')
		nlen++;
	if (plen > 0) {
		memcpy(e->name, h + 345, plen);
		e->name[plen] = '/';
		plen++;
	}
	memcpy(e->name + plen, h, nlen);
	e->name[plen + nlen] = '\0';
	if (plen + nlen > 0 && e->name[plen + nlen - 1] == '/')
		e->name[plen + nlen - 1] = '\0';
	if (memchr(e->name, '\0', plen + nlen > 0 ? plen + nlen - 1 : 0) != NULL || !name_ok(e->name)) {
		*error_out = "a file name that is not relative and plain";
		return -1;
	}
	switch (h[H_TYPE]) {
	case '0':
	case '\0':
		e->dir = false;
		break;
	case '5':
		e->dir = true;
		break;
	default:
		*error_out = "an entry that is neither a file nor a directory";
		return -1;
	}
	if (parse_octal(h, H_SIZE, &e->size) != 0 || e->size > TAR_SIZE_MAX || parse_octal(h, H_MODE, &v) != 0 ||
	    parse_octal(h, H_MTIME, &v) != 0) {
		*error_out = "a bad number in a header";
		return -1;
	}
	parse_octal(h, H_MODE, &v);
	e->mode = (uint32_t)(v & 07777);
	parse_octal(h, H_MTIME, &v);
	e->mtime = (int64_t)(v & 077777777777ULL);
	if (e->dir)
		e->size = 0;
	return 1;
}

int
tar_write_file(FILE *f, const char *name, const void *data, size_t len, uint32_t mode, int64_t mtime)
{
	unsigned char h[TAR_BLOCK], zero[TAR_BLOCK] = { 0 };
	struct tar_entry e = { .size = len, .mode = mode, .mtime = mtime };

	if (strlen(name) > TAR_NAME_MAX)
		return -1;
	memcpy(e.name, name, strlen(name) + 1);
	if (tar_header_make(&e, h) != 0 || fwrite(h, 1, TAR_BLOCK, f) != TAR_BLOCK ||
	    (len > 0 && fwrite(data, 1, len, f) != len))
		return -1;
	if (len % TAR_BLOCK != 0 && fwrite(zero, 1, TAR_BLOCK - len % TAR_BLOCK, f) != TAR_BLOCK - len % TAR_BLOCK)
		return -1;
	return 0;
}
