/* The pure readers of METADATA's arguments (see imap_metadata.h). */
#include <string.h>
#include <strings.h>

#include "imap/imap_metadata.h"
#include "imap/imap_parse.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "store/store_metadata.h"

char *
imap_metadata_entry(const char *s, size_t len, bool for_set, struct arena *a, const char **error_out)
{
	size_t root;
	char *name;

	if (len == 0 || s[0] != '/') {
		*error_out = "Entry names begin with /private or /shared";
		return NULL;
	}
	if (len > STORE_METADATA_NAME_MAX) {
		*error_out = "Entry name too long";
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '*' || c == '%') {
			*error_out = "Entry names may not hold control characters, * or %";
			return NULL;
		}
		if (c == '/' && (i + 1 == len || s[i + 1] == '/')) {
			*error_out = "Entry names have no empty part and no trailing /";
			return NULL;
		}
	}
	if (len >= 8 && strncasecmp(s, "/private", 8) == 0)
		root = 8;
	else if (len >= 7 && strncasecmp(s, "/shared", 7) == 0)
		root = 7;
	else
		root = 0;
	if (root == 0 || (len > root && s[root] != '/')) {
		*error_out = "Entry names begin with /private or /shared";
		return NULL;
	}
	if (for_set && len == root) {
		*error_out = "An entry is below /private or /shared";
		return NULL;
	}
	/* Valid UTF-8 (RFC 5464 3.2): the mailbox decoder checks it. */
	if ((name = imap_mailbox_decode(s, len, true, a)) == NULL || strlen(name) != len) {
		*error_out = "Entry names are UTF-8";
		return NULL;
	}
	for (char *p = name; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return name;
}

void
imap_metadata_entry_write(struct buf *out, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		/* ATOM-CHAR: no CTL, SP, 8-bit or atom-specials. */
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL) {
			imap_write_nstring(out, name, len);
			return;
		}
	}
	buf_append(out, name, len);
}

int
imap_metadata_options(const struct imap_arg *list, uint32_t *maxsize_out, int *depth_out, const char **error_out)
{
	bool have_max = false, have_depth = false;

	*maxsize_out = UINT32_MAX;
	*depth_out = 0;
	if (list == NULL || list->type != IMAP_ARG_LIST || list->count == 0) {
		*error_out = "Options are a list: (MAXSIZE n DEPTH 0|1|infinity)";
		return -1;
	}
	for (const struct imap_arg *o = list->list; o != NULL; o = o->next->next) {
		uint64_t n;

		if (o->next == NULL) {
			*error_out = "Each option takes a value";
			return -1;
		}
		if (imap_arg_atom_is(o, "MAXSIZE") && !have_max) {
			if (!imap_arg_number(o->next, &n) || n > UINT32_MAX) {
				*error_out = "MAXSIZE takes a number";
				return -1;
			}
			*maxsize_out = (uint32_t)n;
			have_max = true;
		} else if (imap_arg_atom_is(o, "DEPTH") && !have_depth) {
			if (imap_arg_atom_is(o->next, "0"))
				*depth_out = 0;
			else if (imap_arg_atom_is(o->next, "1"))
				*depth_out = 1;
			else if (imap_arg_atom_is(o->next, "INFINITY"))
				*depth_out = -1;
			else {
				*error_out = "DEPTH is 0, 1 or infinity";
				return -1;
			}
			have_depth = true;
		} else {
			*error_out = "Unknown or repeated GETMETADATA option";
			return -1;
		}
	}
	return 0;
}
